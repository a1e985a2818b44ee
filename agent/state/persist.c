/*
 * persist.c - batch the trace records, acks and dead-letters of one ingest
 * batch into pipelined Redis commands (see persist.h for the order and why).
 *
 * Layout of the batch buffers (all grow-only, reused across batches):
 *
 *   keys  "busmon:trace:tx-1\0busmon:trace:tx-2\0..."   one key per record
 *   recs  msgpack bytes of each record, back to back
 *   items [{key_off,key_len,rec_off,rec_len,seq}...]   sorted at flush by
 *         (key, seq) so one RPUSH carries a transaction's records in order
 *   ids   "1700000000000-0\0..." with acks[{stream,off,len}]
 */
#include "agent/state/persist.h"

#include <event2/event.h>
#include "agent/core/clock.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLETTER_VALUE_MAX  (64 * 1024)
#define DEADLETTER_FIELDS_MAX 64

typedef struct {
    size_t key_off, key_len, rec_off, rec_len, seq;
} rec_item;

typedef struct {
    size_t stream, off, len;
} ack_item;

typedef struct {
    char *data;
    size_t len, cap;
} growbuf;

struct bm_persist {
    bm_persist_opts o;
    bm_writer *w;
    struct event *ev_flush;
    bm_persist_stats stats;
    int64_t last_ack_us;
    growbuf keys, ids;
    msgpack_sbuffer recs;
    rec_item *items;
    size_t n_items, cap_items;
    ack_item *acks;
    size_t n_acks, cap_acks;
    const char **argv;
    size_t *argvlen;
    size_t cap_argv;
};

static int grow_append(growbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\0';
    return 0;
}

static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *a = realloc(*arr, c * elem);
    if (!a) return -1;
    *arr = a;
    *cap = c;
    return 0;
}

static int reserve_argv(bm_persist *p, size_t need)
{
    if (need <= p->cap_argv) return 0;
    size_t c = p->cap_argv ? p->cap_argv : 256;
    while (c < need)
        c *= 2;
    const char **a = realloc(p->argv, c * sizeof *a);
    if (!a) return -1;
    p->argv = a;
    size_t *l = realloc(p->argvlen, c * sizeof *l);
    if (!l) return -1;
    p->argvlen = l;
    p->cap_argv = c;
    return 0;
}

static void on_flush_soon(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_persist_flush(arg);
}

bm_persist *bm_persist_new(const bm_persist_opts *opts, bm_writer *w, struct event_base *base)
{
    bm_persist *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->o = *opts;
    if (p->o.trace_ttl_s <= 0) p->o.trace_ttl_s = 86400;
    if (!p->o.deadletter_maxlen) p->o.deadletter_maxlen = 100000;
    p->w = w;
    msgpack_sbuffer_init(&p->recs);
    if (base && !(p->ev_flush = event_new(base, -1, 0, on_flush_soon, p))) {
        bm_persist_free(p);
        return NULL;
    }
    return p;
}

void bm_persist_free(bm_persist *p)
{
    if (!p) return;
    free(p->keys.data);
    free(p->ids.data);
    msgpack_sbuffer_destroy(&p->recs);
    free(p->items);
    free(p->acks);
    free(p->argv);
    free(p->argvlen);
    if (p->ev_flush) event_free(p->ev_flush);
    free(p);
}

void bm_persist_reset(bm_persist *p)
{
    p->keys.len = 0;
    p->ids.len = 0;
    p->recs.size = 0;
    p->n_items = 0;
    p->n_acks = 0;
}

size_t bm_persist_heap_bytes(const bm_persist *p)
{
    return sizeof *p + p->keys.cap + p->ids.cap + p->recs.alloc + p->cap_items * sizeof(rec_item) +
           p->cap_acks * sizeof(ack_item) + p->cap_argv * (sizeof(char *) + sizeof(size_t));
}

int bm_persist_record(bm_persist *p, const bm_event *ev, int64_t duration_us)
{
    if (reserve((void **)&p->items, &p->cap_items, p->n_items + 1, sizeof(rec_item))) return -1;
    rec_item *it = &p->items[p->n_items];
    it->key_off = p->keys.len;
    size_t plen = strlen(p->o.trace_prefix), tlen = strlen(ev->tx);
    /* key = prefix + tx, written in two pieces then NUL */
    if (grow_append(&p->keys, p->o.trace_prefix, plen)) return -1;
    p->keys.len--; /* drop the NUL, append tx */
    if (grow_append(&p->keys, ev->tx, tlen)) return -1;
    it->key_len = plen + tlen;
    it->rec_off = p->recs.size;
    if (bm_event_encode_msgpack(ev, duration_us, &p->recs)) return -1;
    it->rec_len = p->recs.size - it->rec_off;
    it->seq = p->n_items;
    p->n_items++;
    return 0;
}

int bm_persist_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len)
{
    if (reserve((void **)&p->acks, &p->cap_acks, p->n_acks + 1, sizeof(ack_item))) return -1;
    ack_item *a = &p->acks[p->n_acks];
    a->stream = stream_idx;
    a->off = p->ids.len;
    a->len = id_len;
    if (grow_append(&p->ids, id, id_len)) return -1;
    p->n_acks++;
    return 0;
}

void bm_persist_deadletter(bm_persist *p, const char *stream, const char *id, const char *reason,
                           const char *detail, size_t n, const char *const *fields,
                           const size_t *field_lens, const char *const *values,
                           const size_t *value_lens)
{
    if (n > DEADLETTER_FIELDS_MAX) n = DEADLETTER_FIELDS_MAX;
    const char *f[4 + DEADLETTER_FIELDS_MAX], *v[4 + DEADLETTER_FIELDS_MAX];
    size_t fl[4 + DEADLETTER_FIELDS_MAX], vl[4 + DEADLETTER_FIELDS_MAX];
    char names[DEADLETTER_FIELDS_MAX][260];
    size_t k = 0;
#define PAIR(a, al, b, bl) (f[k] = (a), fl[k] = (al), v[k] = (b), vl[k] = (bl), k++)
    PAIR("reason", 6, reason, strlen(reason));
    PAIR("stream", 6, stream, strlen(stream));
    PAIR("id", 2, id, strlen(id));
    PAIR("error", 5, detail, strlen(detail));
    for (size_t i = 0; i < n; i++) {
        size_t nl = field_lens[i] > 250 ? 250 : field_lens[i];
        memcpy(names[i], "f.", 2);
        memcpy(names[i] + 2, fields[i], nl);
        PAIR(names[i], nl + 2, values[i],
             value_lens[i] > DEADLETTER_VALUE_MAX ? DEADLETTER_VALUE_MAX : value_lens[i]);
    }
#undef PAIR
    if (bm_writer_xadd(p->w, BM_WRITE_DEADLETTER, p->o.deadletter_stream, p->o.deadletter_maxlen,
                       k, f, fl, v, vl, NULL, NULL) == 0)
        p->stats.deadletter++;
    else
        p->stats.deadletter_failed++;
}

static void on_acked(const redisReply *r, void *arg)
{
    bm_persist *p = arg;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        p->stats.acked += (uint64_t)r->integer;
        p->last_ack_us = bm_now_us();
    }
}

static int cmp_items(const void *a, const void *b, void *keys)
{
    const rec_item *x = a, *y = b;
    const char *sort_keys = keys;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(sort_keys + x->key_off, sort_keys + y->key_off, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

long bm_persist_flush(bm_persist *p)
{
    long sent = 0;
    int failed = 0;
    if (p->n_items) {
        qsort_r(p->items, p->n_items, sizeof *p->items, cmp_items, p->keys.data);
        if (reserve_argv(p, p->n_items)) failed = 1;
        size_t i = 0;
        while (!failed && i < p->n_items) {
            const char *key = p->keys.data + p->items[i].key_off;
            size_t klen = p->items[i].key_len;
            size_t n = 0, j = i;
            for (; j < p->n_items && p->items[j].key_len == klen &&
                   !memcmp(p->keys.data + p->items[j].key_off, key, klen);
                 j++, n++) {
                p->argv[n] = p->recs.data + p->items[j].rec_off;
                p->argvlen[n] = p->items[j].rec_len;
            }
            if (bm_writer_rpush_expire(p->w, BM_WRITE_TRACE, key, klen, n, p->argv, p->argvlen,
                                       p->o.trace_ttl_s, NULL, NULL))
                failed = 1;
            else
                sent += 2, p->stats.records += n;
            i = j;
        }
    }
    for (size_t s = 0; !failed && p->n_acks && s < p->o.n_streams; s++) {
        if (reserve_argv(p, p->n_acks)) {
            failed = 1;
            break;
        }
        size_t n = 0;
        for (size_t a = 0; a < p->n_acks; a++) {
            if (p->acks[a].stream != s) continue;
            p->argv[n] = p->ids.data + p->acks[a].off;
            p->argvlen[n++] = p->acks[a].len;
        }
        if (!n) continue;
        if (bm_writer_xack(p->w, p->o.streams[s], p->o.group, n, p->argv, p->argvlen, on_acked, p))
            failed = 1;
        else
            sent++;
    }
    bm_persist_reset(p);
    if (sent > 0) {
        p->stats.batches++;
        bm_writer_push(p->w);
    }
    return failed ? -1 : sent;
}

void bm_persist_flush_soon(bm_persist *p)
{
    if (p->ev_flush && !event_pending(p->ev_flush, EV_TIMEOUT, NULL))
        event_active(p->ev_flush, EV_TIMEOUT, 0);
}

void bm_persist_get_stats(const bm_persist *p, bm_persist_stats *out)
{
    *out = p->stats;
}

int64_t bm_persist_last_ack_us(const bm_persist *p)
{
    return p->last_ack_us;
}
