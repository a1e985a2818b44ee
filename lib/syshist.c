/*
 * syshist.c - the ring behind syshist.h:
 *
 *   points[cap]:  [ 5 ][ 6 ][ 7 ][ 2 ][ 3 ][ 4 ]
 *                              ^head (oldest)     len = 6 = cap: the next push
 *                                                 overwrites 2 and moves head
 *
 * The points are in time order from head on, whatever order they came in
 * (after the wall clock steps back, a new point goes before those stamped
 * later than it), so a window is one run of them.
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

/* Slot of the i-th point, oldest first. */
static bm_sys_point *at(const syshist *h, size_t i)
{
    return &h->points[(h->head + i) % h->cap];
}

void syshist_push(syshist *h, const bm_sys_point *p)
{
    /* where it goes in time order: after the last point not newer than it
     * (the end, unless the wall clock stepped back since that point) */
    size_t pos = h->len;
    while (pos > 0 && at(h, pos - 1)->ts_us > p->ts_us)
        pos--;
    if (h->len == h->cap) { /* full: the oldest goes (the new point, when it is older) */
        h->overwritten++;
        if (pos == 0) return;
        h->head = (h->head + 1) % h->cap;
        h->len--;
        pos--;
    }
    for (size_t i = h->len; i > pos; i--)
        *at(h, i) = *at(h, i - 1);
    *at(h, pos) = *p;
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

size_t syshist_since(const syshist *h, int64_t from_us, int64_t to_us, bm_sys_point *out,
                     size_t max)
{
    /* points are kept in time order: the window is one run of them */
    size_t first = 0, end = h->len;
    while (first < end && at(h, first)->ts_us < from_us)
        first++;
    while (end > first && at(h, end - 1)->ts_us > to_us)
        end--;
    size_t n = end - first;
    if (n > max) {
        first += n - max;
        n = max;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = *at(h, first + i);
    return n;
}
