/*
 * trace_store.c - the agent's in-memory working set of traces
 * (lib/trace_store.h): a hash table from tx to trace, bounded in
 * transactions (LRU eviction) and in events per trace, with retention.
 *
 * Not here: what a trace knows (lib/trace.c), and no I/O or clock.
 *
 * Layout. Entries live in one array and link to each other by 32-bit index,
 * so a transaction costs no allocation of its own beyond its trace, and the
 * array may be reallocated when it grows (doubling, capped at
 * max_transactions):
 *
 *   buckets[hash & mask] --> entries[i] --chain_next--> entries[j] --> NIL
 *
 *   lru_head (most recently updated) <-> ... <-> lru_tail (least recently)
 *
 *   entries[i] = { trace *, updated_us, hash, lru_prev, lru_next, chain_next }
 *
 * Free entries are chained through chain_next. The bucket count is a power
 * of two at least the entry capacity, so chains stay about one long. The
 * hash is a word-at-a-time multiply-xorshift over the tx (tx ids are uuids
 * or similar, 20-40 bytes), finished by a 64-bit avalanche.
 */
#include "trace_store.h"
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#define MALLOC_OVERHEAD_BYTES        16
#define DEFAULT_MAX_TRANSACTIONS     100000
#define DEFAULT_MAX_EVENTS_PER_TRACE 512
#define DEFAULT_RETENTION_US         (24LL * 3600 * 1000000)
#define NIL                          UINT32_MAX
#define MIN_ENTRIES                  16
#define ROOM_STEP                    8
#define ROOM_BUCKETS                 (TRACE_ROOM_MAX / ROOM_STEP)
#define ROOM_SAMPLES                 1024
#define ROOM_FIRST                   88 /* trace_new's */

typedef struct {
    trace *t; /* NULL when the entry is free */
    int64_t updated_us;
    uint32_t hash;
    uint32_t lru_prev, lru_next;
    uint32_t chain_next; /* bucket chain, or free list */
} store_entry;

struct trace_store {
    trace_store_limits lim;
    store_entry *entries;
    uint32_t entries_cap;  /* allocated */
    uint32_t entries_used; /* high-water mark: entries below it were handed out once */
    uint32_t free_head;
    uint32_t *buckets;
    uint32_t bucket_mask; /* bucket count - 1 */
    uint32_t lru_head, lru_tail;
    size_t traces_heap_bytes;
    trace_store_stats st;
    trace_store_drop_cb on_drop;
    void *on_drop_arg;
    /* the room a new trace gets for its records (trace_new_sized), learnt
     * from the last ROOM_SAMPLES traces of two events */
    uint32_t room;
    uint32_t room_samples;
    uint32_t room_hist[ROOM_BUCKETS + 1]; /* [b]: records of (b-1)*8 .. b*8 bytes; last: more */
};

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t tx_hash(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    for (; len >= 8; len -= 8, p += 8) {
        h ^= load64(p);
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h ^= tail;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

trace_store *trace_store_new(const trace_store_limits *limits)
{
    trace_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (limits) s->lim = *limits;
    if (!s->lim.max_transactions) s->lim.max_transactions = DEFAULT_MAX_TRANSACTIONS;
    if (s->lim.max_transactions > NIL - 1) s->lim.max_transactions = NIL - 1;
    if (!s->lim.max_events_per_trace) s->lim.max_events_per_trace = DEFAULT_MAX_EVENTS_PER_TRACE;
    if (s->lim.retention_us <= 0) s->lim.retention_us = DEFAULT_RETENTION_US;
    s->free_head = s->lru_head = s->lru_tail = NIL;
    s->buckets = malloc(MIN_ENTRIES * sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    memset(s->buckets, 0xff, MIN_ENTRIES * sizeof *s->buckets);
    s->bucket_mask = MIN_ENTRIES - 1;
    return s;
}

void trace_store_free(trace_store *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->entries_used; i++)
        trace_free(s->entries[i].t);
    free(s->entries);
    free(s->buckets);
    free(s);
}

static uint32_t find(const trace_store *s, const char *tx, uint32_t h)
{
    for (uint32_t i = s->buckets[h & s->bucket_mask]; i != NIL; i = s->entries[i].chain_next) {
        const store_entry *e = &s->entries[i];
        if (e->hash == h && strcmp(trace_tx(e->t), tx) == 0) return i;
    }
    return NIL;
}

static void lru_unlink(trace_store *s, uint32_t i)
{
    store_entry *e = &s->entries[i];
    if (e->lru_prev != NIL)
        s->entries[e->lru_prev].lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next != NIL)
        s->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
}

static void lru_push_head(trace_store *s, uint32_t i)
{
    store_entry *e = &s->entries[i];
    e->lru_prev = NIL;
    e->lru_next = s->lru_head;
    if (s->lru_head != NIL) s->entries[s->lru_head].lru_prev = i;
    s->lru_head = i;
    if (s->lru_tail == NIL) s->lru_tail = i;
}

/* Forget entry `i`: out of its chain, out of the LRU list, trace freed. */
static void drop_entry(trace_store *s, uint32_t i)
{
    store_entry *e = &s->entries[i];
    uint32_t *link = &s->buckets[e->hash & s->bucket_mask];
    while (*link != i)
        link = &s->entries[*link].chain_next;
    *link = e->chain_next;
    lru_unlink(s, i);
    if (s->on_drop) s->on_drop(e->t, s->on_drop_arg);
    s->st.events -= trace_count(e->t);
    s->traces_heap_bytes -= trace_heap_bytes(e->t);
    trace_free(e->t);
    e->t = NULL;
    e->chain_next = s->free_head;
    s->free_head = i;
    s->st.transactions--;
}

void trace_store_set_drop_cb(trace_store *s, trace_store_drop_cb cb, void *arg)
{
    s->on_drop = cb;
    s->on_drop_arg = arg;
}

/* Grow the entry array (and the buckets with it). @return 0 or -1. */
static int grow(trace_store *s)
{
    size_t cap = s->entries_cap ? (size_t)s->entries_cap * 2 : MIN_ENTRIES;
    if (cap > s->lim.max_transactions) cap = s->lim.max_transactions;
    if (cap <= s->entries_cap) return -1;
    store_entry *entries = realloc(s->entries, cap * sizeof *entries);
    if (!entries) return -1;
    s->entries = entries;
    s->entries_cap = (uint32_t)cap;

    size_t nb = (size_t)s->bucket_mask + 1;
    if (nb >= cap) return 0;
    while (nb < cap)
        nb *= 2;
    uint32_t *buckets = malloc(nb * sizeof *buckets);
    if (!buckets) return 0; /* longer chains, still correct */
    memset(buckets, 0xff, nb * sizeof *buckets);
    for (uint32_t i = 0; i < s->entries_used; i++) {
        store_entry *e = &s->entries[i];
        if (!e->t) continue;
        uint32_t b = e->hash & (uint32_t)(nb - 1);
        e->chain_next = buckets[b];
        buckets[b] = i;
    }
    free(s->buckets);
    s->buckets = buckets;
    s->bucket_mask = (uint32_t)(nb - 1);
    return 0;
}

/* A new entry for `tx`, evicting the least recently updated when full. */
static uint32_t create(trace_store *s, const char *tx, uint32_t h)
{
    if (s->st.transactions >= s->lim.max_transactions && s->lru_tail != NIL) {
        drop_entry(s, s->lru_tail);
        s->st.evicted++;
    }
    trace *t = trace_new_sized(tx, s->room ? s->room : ROOM_FIRST);
    if (!t) return NIL;
    uint32_t i;
    if (s->free_head != NIL) {
        i = s->free_head;
        s->free_head = s->entries[i].chain_next;
    } else {
        if (s->entries_used == s->entries_cap && grow(s)) {
            trace_free(t);
            return NIL;
        }
        i = s->entries_used++;
    }
    store_entry *e = &s->entries[i];
    e->t = t;
    e->hash = h;
    e->updated_us = 0;
    uint32_t *b = &s->buckets[h & s->bucket_mask];
    e->chain_next = *b;
    *b = i;
    lru_push_head(s, i);
    s->st.transactions++;
    s->traces_heap_bytes += trace_heap_bytes(t);
    return i;
}

/*
 * A trace just reached two events with `bytes` of records: after
 * ROOM_SAMPLES of them, new traces get the room that makes the expected
 * bytes per trace least: the room itself, plus, for the traces that do not
 * fit it, their records in an allocation of their own.
 */
static void room_learn(trace_store *s, size_t bytes)
{
    size_t b = (bytes + ROOM_STEP - 1) / ROOM_STEP;
    s->room_hist[b < ROOM_BUCKETS ? b : ROOM_BUCKETS]++;
    if (++s->room_samples < ROOM_SAMPLES) return;
    uint64_t best_cost = UINT64_MAX, over = 0;
    size_t best = 1;
    for (size_t r = ROOM_BUCKETS; r >= 1; r--) {
        /* over: what the traces above room r*8 cost outside it */
        if (r < ROOM_BUCKETS) over += (uint64_t)s->room_hist[r + 1] * ((r + 1) * ROOM_STEP + 16);
        uint64_t cost = (uint64_t)s->room_samples * r * ROOM_STEP + over;
        if (cost <= best_cost) {
            best_cost = cost;
            best = r;
        }
    }
    s->room = (uint32_t)(best * ROOM_STEP);
    s->room_samples = 0;
    memset(s->room_hist, 0, sizeof s->room_hist);
}

/* Entry i was updated at now_us: the most recent, for eviction and retention. */
static void touch(trace_store *s, uint32_t i, int64_t now_us)
{
    s->entries[i].updated_us = now_us;
    if (s->lru_head != i) {
        lru_unlink(s, i);
        lru_push_head(s, i);
    }
}

trace_store_result trace_store_apply(trace_store *s, const bm_event *ev, int64_t now_us,
                                     trace_event *added_out, const trace **trace_out)
{
    if (trace_out) *trace_out = NULL;
    const char *tx = ev->tx ? ev->tx : "";
    uint32_t h = tx_hash(tx);
    uint32_t i = find(s, tx, h);
    int created = 0;
    if (i == NIL) {
        i = create(s, tx, h);
        if (i == NIL) {
            s->st.nomem++;
            return TRACE_STORE_NOMEM;
        }
        created = 1;
    }
    store_entry *e = &s->entries[i];
    size_t before = trace_heap_bytes(e->t);
    trace_add_result r = trace_add(e->t, ev, s->lim.max_events_per_trace, added_out);
    s->traces_heap_bytes += trace_heap_bytes(e->t) - before;
    switch (r) {
    case TRACE_ADD_OK:
        s->st.applied++;
        s->st.events++;
        touch(s, i, now_us);
        if (trace_count(e->t) == 2) room_learn(s, trace_pool_bytes(e->t));
        if (trace_out) *trace_out = e->t;
        return TRACE_STORE_APPLIED;
    case TRACE_ADD_DUPLICATE:
        s->st.duplicates++;
        if (trace_out) *trace_out = e->t;
        return TRACE_STORE_DUPLICATE;
    case TRACE_ADD_FULL:
        /* refused, but the transaction is busy: not idle for eviction or
         * retention (a duplicate is a redelivery, not news: no touch) */
        s->st.truncated++;
        touch(s, i, now_us);
        if (trace_out) *trace_out = e->t;
        return TRACE_STORE_TRUNCATED;
    case TRACE_ADD_NOMEM:
        break;
    }
    if (created) drop_entry(s, i);
    s->st.nomem++;
    return TRACE_STORE_NOMEM;
}

const trace *trace_store_get(const trace_store *s, const char *tx)
{
    if (!tx) return NULL;
    uint32_t i = find(s, tx, tx_hash(tx));
    return i == NIL ? NULL : s->entries[i].t;
}

size_t trace_store_sweep(trace_store *s, int64_t now_us, size_t max_drop)
{
    int64_t cutoff =
        now_us < INT64_MIN + s->lim.retention_us ? INT64_MIN : now_us - s->lim.retention_us;
    size_t dropped = 0;
    while (s->lru_tail != NIL && (!max_drop || dropped < max_drop) &&
           s->entries[s->lru_tail].updated_us < cutoff) {
        drop_entry(s, s->lru_tail);
        s->st.expired++;
        dropped++;
    }
    return dropped;
}

void trace_store_get_stats(const trace_store *s, trace_store_stats *out)
{
    *out = s->st;
}

size_t trace_store_heap_bytes(const trace_store *s)
{
    size_t bytes = sizeof *s + MALLOC_OVERHEAD_BYTES;
    bytes += ((size_t)s->bucket_mask + 1) * sizeof *s->buckets + MALLOC_OVERHEAD_BYTES;
    if (s->entries_cap)
        bytes += (size_t)s->entries_cap * sizeof *s->entries + MALLOC_OVERHEAD_BYTES;
    bm_intern_stats in; /* the names traces share (lib/intern.h): the agent has one store */
    bm_intern_get_stats(&in);
    return bytes + s->traces_heap_bytes + in.heap_bytes;
}

void trace_store_foreach(const trace_store *s, void (*cb)(const trace *t, void *arg), void *arg)
{
    for (uint32_t i = s->lru_tail; i != NIL; i = s->entries[i].lru_prev)
        if (s->entries[i].t) cb(s->entries[i].t, arg);
}
