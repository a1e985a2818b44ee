/*
 * syshist.c - the ring behind syshist.h:
 *
 *   points[cap]:  [ 5 ][ 6 ][ 7 ][ 2 ][ 3 ][ 4 ]
 *                              ^head (oldest)     len = 6 = cap: the next push
 *                                                 overwrites 2 and moves head
 */
#include "syshist.h"

#include <stdlib.h>

struct syshist {
    bm_sys_point *points;
    size_t cap, head, len;
    uint64_t overwritten;
};

syshist *syshist_new(size_t capacity)
{
    if (capacity == 0) capacity = 1;
    syshist *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->points = calloc(capacity, sizeof *h->points);
    if (!h->points) {
        free(h);
        return NULL;
    }
    h->cap = capacity;
    return h;
}

void syshist_free(syshist *h)
{
    if (!h) return;
    free(h->points);
    free(h);
}

void syshist_push(syshist *h, const bm_sys_point *p)
{
    if (h->len == h->cap) {
        h->points[h->head] = *p;
        h->head = (h->head + 1) % h->cap;
        h->overwritten++;
        return;
    }
    h->points[(h->head + h->len) % h->cap] = *p;
    h->len++;
}

size_t syshist_len(const syshist *h)
{
    return h->len;
}

size_t syshist_capacity(const syshist *h)
{
    return h->cap;
}

uint64_t syshist_overwritten(const syshist *h)
{
    return h->overwritten;
}

size_t syshist_since(const syshist *h, int64_t from_us, bm_sys_point *out, size_t max)
{
    /* points are pushed in time order: find the first one in the window */
    size_t first = h->len;
    for (size_t i = 0; i < h->len; i++) {
        if (h->points[(h->head + i) % h->cap].ts_us >= from_us) {
            first = i;
            break;
        }
    }
    size_t n = h->len - first;
    if (n > max) {
        first += n - max;
        n = max;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = h->points[(h->head + first + i) % h->cap];
    return n;
}
