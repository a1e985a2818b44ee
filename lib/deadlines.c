/*
 * deadlines.c - a binary min-heap of command deadlines (see deadlines.h),
 * indexed by (tx, cmd) so an answered command leaves at once.
 *
 * Entries live in a slab (stable indices, a free list); the heap is an array
 * of slab indices and each entry knows its heap position; a chained hash
 * table over the slab finds an entry by its ids. An entry is ~48 bytes plus
 * its two ids (one allocation), instead of two fixed 257-byte arrays.
 */
#include "deadlines.h"

#include <stdlib.h>
#include <string.h>

#include "state_codec.h"

#define NONE UINT32_MAX

typedef struct {
    int64_t due_us;
    int64_t timeout_us;
    char *ids; /* "tx\0cmd\0" (one allocation); NULL = free slot */
    uint32_t hash;
    uint32_t pos;  /* index in the heap */
    uint32_t next; /* next in its bucket's chain, or in the free list */
    uint16_t tx_len;
} entry;

struct deadlines {
    entry *slab;
    uint32_t *heap; /* slab indices, a min-heap on due_us */
    uint32_t *bucket;
    size_t n, cap, max, n_buckets;
    uint32_t free_head;
    uint64_t refused;
};

static uint32_t hash_ids(const char *tx, size_t tl, const char *cmd, size_t cl)
{
    uint32_t h = 2166136261u; /* FNV-1a over tx, a separator, cmd */
    for (size_t i = 0; i < tl; i++)
        h = (h ^ (uint8_t)tx[i]) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (size_t i = 0; i < cl; i++)
        h = (h ^ (uint8_t)cmd[i]) * 16777619u;
    return h;
}

deadlines *deadlines_new(size_t max_entries)
{
    deadlines *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->max = max_entries ? max_entries : 100000;
    if (d->max > NONE - 1) d->max = NONE - 1;
    d->free_head = NONE;
    return d;
}

void deadlines_free(deadlines *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++)
        free(d->slab[d->heap[i]].ids);
    free(d->slab);
    free(d->heap);
    free(d->bucket);
    free(d);
}

static const char *entry_cmd(const entry *e)
{
    return e->ids + e->tx_len + 1;
}

static void heap_set(deadlines *d, size_t i, uint32_t k)
{
    d->heap[i] = k;
    d->slab[k].pos = (uint32_t)i;
}

static int64_t due_at(const deadlines *d, size_t i)
{
    return d->slab[d->heap[i]].due_us;
}

static void sift_up(deadlines *d, size_t i)
{
    uint32_t k = d->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (due_at(d, parent) <= d->slab[k].due_us) break;
        heap_set(d, i, d->heap[parent]);
        i = parent;
    }
    heap_set(d, i, k);
}

static void sift_down(deadlines *d, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < d->n && due_at(d, l) < due_at(d, m)) m = l;
        if (r < d->n && due_at(d, r) < due_at(d, m)) m = r;
        if (m == i) return;
        uint32_t k = d->heap[i];
        heap_set(d, i, d->heap[m]);
        heap_set(d, m, k);
        i = m;
    }
}

/* Room for one more entry: slab, heap and buckets grow by doubling up to the bound. */
static int reserve(deadlines *d)
{
    if (d->n < d->cap) return 0;
    size_t cap = d->cap ? d->cap * 2 : 64;
    if (cap > d->max) cap = d->max;
    entry *slab = realloc(d->slab, cap * sizeof *slab);
    if (!slab) return -1;
    d->slab = slab;
    uint32_t *heap = realloc(d->heap, cap * sizeof *heap);
    if (!heap) return -1;
    d->heap = heap;
    size_t nb = 64;
    while (nb < cap) /* about one entry per bucket when full */
        nb *= 2;
    uint32_t *bucket = malloc(nb * sizeof *bucket);
    if (!bucket) return -1;
    for (size_t i = 0; i < nb; i++)
        bucket[i] = NONE;
    for (size_t i = 0; i < d->n; i++) { /* rehash the live entries */
        uint32_t k = d->heap[i];
        size_t b = d->slab[k].hash & (nb - 1);
        d->slab[k].next = bucket[b];
        bucket[b] = k;
    }
    for (size_t k = d->cap; k < cap; k++) { /* the new slots join the free list */
        d->slab[k].ids = NULL;
        d->slab[k].next = k + 1 < cap ? (uint32_t)(k + 1) : d->free_head;
    }
    if (cap > d->cap) d->free_head = (uint32_t)d->cap;
    free(d->bucket);
    d->bucket = bucket;
    d->n_buckets = nb;
    d->cap = cap;
    return 0;
}

int deadlines_add(deadlines *d, const char *tx, const char *cmd, int64_t due_us, int64_t timeout_us)
{
    size_t tl = strlen(tx), cl = strlen(cmd);
    if (tl >= DEADLINE_ID_MAX || cl >= DEADLINE_ID_MAX || d->n >= d->max || reserve(d)) {
        d->refused++;
        return -1;
    }
    char *ids = malloc(tl + cl + 2);
    if (!ids) {
        d->refused++;
        return -1;
    }
    memcpy(ids, tx, tl + 1);
    memcpy(ids + tl + 1, cmd, cl + 1);
    uint32_t k = d->free_head;
    entry *e = &d->slab[k];
    d->free_head = e->next;
    e->due_us = due_us;
    e->timeout_us = timeout_us;
    e->ids = ids;
    e->tx_len = (uint16_t)tl;
    e->hash = hash_ids(tx, tl, cmd, cl);
    size_t b = e->hash & (d->n_buckets - 1);
    e->next = d->bucket[b];
    d->bucket[b] = k;
    d->heap[d->n] = k;
    e->pos = (uint32_t)d->n++;
    sift_up(d, e->pos);
    return 0;
}

/* Take entry k out of the heap, its bucket and the slab. */
static void remove_entry(deadlines *d, uint32_t k)
{
    entry *e = &d->slab[k];
    uint32_t *link = &d->bucket[e->hash & (d->n_buckets - 1)];
    while (*link != k)
        link = &d->slab[*link].next;
    *link = e->next;
    size_t i = e->pos, last = --d->n;
    if (i != last) {
        heap_set(d, i, d->heap[last]);
        if (i > 0 && due_at(d, (i - 1) / 2) > due_at(d, i))
            sift_up(d, i);
        else
            sift_down(d, i);
    }
    free(e->ids);
    e->ids = NULL;
    e->next = d->free_head;
    d->free_head = k;
}

int deadlines_cancel(deadlines *d, const char *tx, const char *cmd)
{
    if (!d->n) return 0;
    size_t tl = strlen(tx), cl = strlen(cmd);
    uint32_t h = hash_ids(tx, tl, cmd, cl);
    for (uint32_t k = d->bucket[h & (d->n_buckets - 1)]; k != NONE; k = d->slab[k].next) {
        const entry *e = &d->slab[k];
        if (e->hash == h && e->tx_len == tl && !memcmp(e->ids, tx, tl) &&
            !strcmp(entry_cmd(e), cmd)) {
            remove_entry(d, k);
            return 1;
        }
    }
    return 0;
}

int deadlines_pop_due(deadlines *d, int64_t now_us, deadline *out)
{
    if (d->n == 0 || due_at(d, 0) > now_us) return 0;
    uint32_t k = d->heap[0];
    const entry *e = &d->slab[k];
    out->due_us = e->due_us;
    out->timeout_us = e->timeout_us;
    memcpy(out->tx, e->ids, e->tx_len + 1u);
    strcpy(out->cmd, entry_cmd(e)); /* shorter than DEADLINE_ID_MAX: checked at add */
    remove_entry(d, k);
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

void deadlines_postpone(deadlines *d, int64_t delta_us)
{
    const int64_t max_us = BM_SC_TIME_LIMIT; /* what a load takes back */
    if (!d || delta_us <= 0) return;
    for (size_t i = 0; i < d->n; i++) { /* the same shift for all, or max_us: order kept */
        entry *e = &d->slab[d->heap[i]];
        e->due_us = e->due_us > max_us - delta_us ? max_us : e->due_us + delta_us;
    }
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
        const entry *x = &d->slab[d->heap[i]];
        e |= msgpack_pack_array(pk, 4);
        e |= msgpack_pack_int64(pk, x->due_us);
        e |= msgpack_pack_int64(pk, x->timeout_us);
        e |= bm_sc_str(pk, x->ids);
        e |= bm_sc_str(pk, entry_cmd(x));
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
