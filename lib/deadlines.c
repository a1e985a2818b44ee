/*
 * deadlines.c - a binary min-heap of command deadlines (see deadlines.h).
 * Entries are fixed-size so the heap is one array, grown by doubling up to
 * its bound.
 */
#include "deadlines.h"

#include <stdlib.h>
#include <string.h>

struct deadlines {
    deadline *heap;
    size_t n, cap, max;
    uint64_t refused;
};

deadlines *deadlines_new(size_t max_entries)
{
    deadlines *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->max = max_entries ? max_entries : 100000;
    return d;
}

void deadlines_free(deadlines *d)
{
    if (!d) return;
    free(d->heap);
    free(d);
}

static void swap(deadline *a, deadline *b)
{
    deadline t = *a;
    *a = *b;
    *b = t;
}

int deadlines_add(deadlines *d, const char *tx, const char *cmd, int64_t due_us, int64_t timeout_us)
{
    size_t tl = strlen(tx), cl = strlen(cmd);
    if (tl >= DEADLINE_ID_MAX || cl >= DEADLINE_ID_MAX || d->n >= d->max) {
        d->refused++;
        return -1;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        if (cap > d->max) cap = d->max;
        deadline *h = realloc(d->heap, cap * sizeof *h);
        if (!h) {
            d->refused++;
            return -1;
        }
        d->heap = h;
        d->cap = cap;
    }
    size_t i = d->n++;
    deadline *e = &d->heap[i];
    e->due_us = due_us;
    e->timeout_us = timeout_us;
    memcpy(e->tx, tx, tl + 1);
    memcpy(e->cmd, cmd, cl + 1);
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (d->heap[parent].due_us <= d->heap[i].due_us) break;
        swap(&d->heap[parent], &d->heap[i]);
        i = parent;
    }
    return 0;
}

int deadlines_pop_due(deadlines *d, int64_t now_us, deadline *out)
{
    if (d->n == 0 || d->heap[0].due_us > now_us) return 0;
    *out = d->heap[0];
    d->heap[0] = d->heap[--d->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < d->n && d->heap[l].due_us < d->heap[m].due_us) m = l;
        if (r < d->n && d->heap[r].due_us < d->heap[m].due_us) m = r;
        if (m == i) break;
        swap(&d->heap[i], &d->heap[m]);
        i = m;
    }
    return 1;
}

size_t deadlines_count(const deadlines *d)
{
    return d->n;
}

uint64_t deadlines_refused(const deadlines *d)
{
    return d->refused;
}
