/*
 * deadlines.c - a binary min-heap of command deadlines (see deadlines.h).
 * Entries are fixed-size so the heap is one array, grown by doubling up to
 * its bound.
 */
#include "deadlines.h"

#include <stdlib.h>
#include <string.h>

#include "state_codec.h"

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

size_t deadlines_max(const deadlines *d)
{
    return d->max;
}

void deadlines_swap(deadlines *a, deadlines *b)
{
    deadlines t = *a;
    *a = *b;
    *b = t;
}

int deadlines_save(const deadlines *d, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 2);
    e |= bm_sc_key_u64(pk, "refused", d->refused);
    e |= bm_sc_key(pk, "entries");
    e |= msgpack_pack_array(pk, d->n);
    for (size_t i = 0; i < d->n && !e; i++) {
        const deadline *x = &d->heap[i];
        e |= msgpack_pack_array(pk, 4);
        e |= msgpack_pack_int64(pk, x->due_us);
        e |= msgpack_pack_int64(pk, x->timeout_us);
        e |= bm_sc_str(pk, x->tx);
        e |= bm_sc_str(pk, x->cmd);
    }
    return e ? -1 : 0;
}

int deadlines_load(deadlines *d, const msgpack_object *o, char *err, size_t errlen)
{
    uint64_t refused;
    if (!d || !o || o->type != MSGPACK_OBJECT_MAP)
        return bm_sc_fail(err, errlen, "deadlines: not a map");
    int rc = bm_sc_need_u64(o, "refused", &refused, err, errlen);
    const msgpack_object *list =
        rc ? NULL : bm_sc_need(o, "entries", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!list) {
        bm_sc_wrap(err, errlen, "deadlines");
        return BM_LOAD_CORRUPT;
    }
    deadlines *tmp = deadlines_new(d->max);
    if (!tmp) {
        bm_sc_fail(err, errlen, "deadlines: out of memory");
        return BM_LOAD_NOMEM;
    }
    for (uint32_t i = 0; i < list->via.array.size && rc == BM_LOAD_OK; i++) {
        const msgpack_object *e = &list->via.array.ptr[i];
        int64_t due, timeout;
        char tx[DEADLINE_ID_MAX], cmd[DEADLINE_ID_MAX];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 4 ||
            bm_sc_as_time(&e->via.array.ptr[0], &due) ||
            bm_sc_as_time(&e->via.array.ptr[1], &timeout) || timeout < 0 ||
            bm_sc_as_str(&e->via.array.ptr[2], tx, sizeof tx) ||
            bm_sc_as_str(&e->via.array.ptr[3], cmd, sizeof cmd)) {
            rc = bm_sc_fail(err, errlen,
                            "deadlines: entry %u is not [due_us, timeout_us >= 0, tx, cmd] "
                            "with ids of < %d bytes",
                            (unsigned)i, DEADLINE_ID_MAX);
            break;
        }
        if (tmp->n >= tmp->max) {
            tmp->refused++;
            continue;
        }
        if (deadlines_add(tmp, tx, cmd, due, timeout) != 0) {
            rc = BM_LOAD_NOMEM;
            bm_sc_fail(err, errlen, "deadlines: out of memory");
        }
    }
    if (rc == BM_LOAD_OK) {
        tmp->refused += refused;
        deadlines_swap(d, tmp);
    }
    deadlines_free(tmp);
    return rc;
}
