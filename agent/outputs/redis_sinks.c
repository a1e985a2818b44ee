/*
 * redis_sinks.c - the two Redis sink types (sink.h), writing through the
 * agent's one writer (core/writer.h), so their commands are pipelined with
 * everything else and counted in its pending writes:
 *
 *   redis_stream   XADD <stream> [MAXLEN ~ <maxlen>] * [m <msgpack>] json <json>
 *                  then PUBLISH <channel> <json> when a channel is set
 *   redis_hash     mode merge:   HSET <key> f1 v1 ...; HDEL <key> g1 ... (fields given
 *                                without a value: gone from the set, e.g. evicted workers)
 *                  mode replace: MULTI; DEL <key>; HSET <key> f1 v1 ...; EXEC
 *                  (a reader never sees it half done; stale fields go away);
 *                  a partial body (one worker's update between two whole
 *                  sets) is merged: HSET only
 *                  merge, topic workers or alerts_firing, a whole set: then
 *                  HGETALL <key> and HDEL of the records of that topic not in
 *                  the set (a worker's {"name":...,"windows":...}; an alert's
 *                  {"rule":...,"fingerprint":"<its field>"...}): those an
 *                  earlier process or a former leader wrote, or an alert
 *                  whose resolve was lost (its rule removed with the
 *                  checkpoint gone, a refused write), which this one never
 *                  knew to remove; the hash's other fields are left alone
 *
 * While Redis is not connected a body is refused (dropped, counted) and
 * that is logged once per burst, with one line when writing works again:
 * Redis keeps no queue here, the next message carries the current state.
 * The same holds while Redis does not answer (connected, but stalled: a
 * long script, a paused server, a network that lost it): a sink keeps at
 * most `max_pending` bytes of writes unanswered (one write always goes),
 * else hiredis' output buffer would take every rollup and whole workers
 * set until the connection breaks. A write Redis refuses (a key of another
 * type, NOPERM, OOM) is counted failed and logged once per burst with the
 * sink, its key and Redis's answer; a write that succeeds ends the burst.
 * Flushing is the writer's business (the session drains it at stop), so
 * flush reports done at once.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/log.h"
#include "agent/core/parse.h"
#include "agent/core/writer.h"
#include "agent/outputs/sink.h"
#include "proto/rollup.h"

typedef struct {
    struct event_base *base;
    bm_writer *w;
    char *name;
    char *target;  /* stream or key */
    char *channel; /* redis_stream: NULL none */
    size_t maxlen; /* redis_stream: 0 none */
    int replace;   /* redis_hash: mode replace */
    int is_hash;
    size_t max_pending_bytes; /* unanswered writes held at most (0: no bound) */
    size_t pending_bytes;     /* written, not answered yet */
    bm_sink_stats stats;
    int down_logged;
    int full_logged;    /* the burst of bodies refused for max_pending_bytes is said */
    int refused_logged; /* the burst of writes Redis refused is said */
    uint64_t refused_in_burst;
    bm_sink_flush_cb flush_cb;
    void *flush_arg;
    struct event *flush_ev;
} redis_sink;

static const bm_sink_key stream_keys[] = {
    {"stream", NULL, "the stream written (XADD), required"},
    {"maxlen", "10000", "XADD MAXLEN ~ (0: no trimming)"},
    {"channel", NULL, "also PUBLISH the JSON on this channel (default: none)"},
    {"max_pending", "32M",
     "bytes of writes Redis has not answered yet, at most; more are dropped (counted)"},
    {NULL, NULL, NULL},
};

static const bm_sink_key hash_keys[] = {
    {"key", NULL, "the hash written, required"},
    {"mode", "merge",
     "merge (HSET the fields; topics workers and alerts_firing: the worker or alert records a "
     "whole set does not hold are taken out, other fields kept) | replace (the hash becomes "
     "exactly the fields of each whole set; an update of one worker in between is merged)"},
    {"max_pending", "32M",
     "bytes of writes Redis has not answered yet, at most; more are dropped (counted)"},
    {NULL, NULL, NULL},
};

static void rs_free(void *self)
{
    redis_sink *s = self;
    if (!s) return;
    if (s->flush_ev) event_free(s->flush_ev);
    free(s->name);
    free(s->target);
    free(s->channel);
    free(s);
}

static int set_str(char **field, const char *v, char *err, size_t errlen, const char *key)
{
    if (!*v) {
        bm_set_error(err, errlen, "'%s' must not be empty", key);
        return -1;
    }
    free(*field);
    if (!(*field = strdup(v))) {
        bm_set_error(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void *rs_init_common(const bm_sink_env *env, const char *name, const bm_sink_kv *kv,
                            size_t n_kv, int is_hash, char *err, size_t errlen)
{
    redis_sink *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        bm_set_error(err, errlen, "out of memory");
        rs_free(s);
        return NULL;
    }
    s->base = env->base;
    s->w = env->writer;
    s->is_hash = is_hash;
    s->maxlen = 10000;
    s->max_pending_bytes = 32000000;
    for (size_t i = 0; i < n_kv; i++) {
        const char *k = kv[i].key, *v = kv[i].value;
        if (!strcmp(k, "stream") || !strcmp(k, "key")) {
            if (set_str(&s->target, v, err, errlen, k)) goto fail;
        } else if (!strcmp(k, "channel")) {
            if (*v && set_str(&s->channel, v, err, errlen, k)) goto fail;
        } else if (!strcmp(k, "maxlen")) {
            char *end;
            unsigned long long n = strtoull(v, &end, 10);
            if (end == v || *end || *v == '-' || n > 1000000000ULL) {
                bm_set_error(err, errlen, "'maxlen' must be a number 0-1000000000, not '%s'", v);
                goto fail;
            }
            s->maxlen = (size_t)n;
        } else if (!strcmp(k, "max_pending")) {
            if (bm_parse_size(v, &s->max_pending_bytes)) {
                bm_set_error(err, errlen,
                             "'max_pending' must be a size in bytes (k, M; 0: no bound), not '%s'",
                             v);
                goto fail;
            }
        } else if (!strcmp(k, "mode")) {
            if (strcmp(v, "merge") && strcmp(v, "replace")) {
                bm_set_error(err, errlen, "'mode' must be merge or replace, not '%s'", v);
                goto fail;
            }
            s->replace = !strcmp(v, "replace");
        }
    }
    if (!s->target) {
        bm_set_error(err, errlen, "'%s' is required", is_hash ? "key" : "stream");
        goto fail;
    }
    return s;
fail:
    rs_free(s);
    return NULL;
}

static void *stream_init(const bm_sink_env *env, const char *name, const bm_sink_kv *kv,
                         size_t n_kv, char *err, size_t errlen)
{
    return rs_init_common(env, name, kv, n_kv, 0, err, errlen);
}

static void *hash_init(const bm_sink_env *env, const char *name, const bm_sink_kv *kv,
                       size_t n_kv, char *err, size_t errlen)
{
    return rs_init_common(env, name, kv, n_kv, 1, err, errlen);
}

/* One write on the wire: its sink and its bytes (the arg of its reply). */
typedef struct {
    redis_sink *s;
    size_t bytes;
} rs_write;

static void on_written(const redisReply *r, void *arg)
{
    rs_write *wr = arg;
    redis_sink *s = wr->s;
    s->pending_bytes -= wr->bytes < s->pending_bytes ? wr->bytes : s->pending_bytes;
    free(wr);
    if (s->stats.in_flight) s->stats.in_flight--;
    if (r && r->type != REDIS_REPLY_ERROR) {
        s->stats.sent++;
        if (s->refused_logged)
            bm_info("output %s: Redis takes the writes to %s again (%llu refused)", s->name,
                    s->target, (unsigned long long)s->refused_in_burst);
        s->refused_logged = 0;
        s->refused_in_burst = 0;
        return;
    }
    s->stats.failed++;
    if (!r) return; /* the connection went: said by the session */
    s->refused_in_burst++;
    if (!s->refused_logged)
        bm_warn("output %s: Redis refused the write to %s: %.*s (counted as failed; not logged "
                "again until a write succeeds)",
                s->name, s->target, (int)(r->len < 200 ? r->len : 200), r->str);
    s->refused_logged = 1;
}

/* ---- merge mode, topics workers and alerts_firing: the records a whole set does not hold */

typedef struct {
    const char *p;
    size_t len;
} name_ref;

/* The names of a whole set just written, owned (one block), sorted, until
 * the hash is read back. */
typedef struct {
    redis_sink *s;
    bm_topic topic;
    size_t n;
    name_ref names[];
} rs_sweep;

static int by_name(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A value busmon wrote for a worker (proto/README.md §8.4): an object that
 * begins with its name and has its windows. Anything else is not ours. */
static int is_worker_record(const char *v, size_t len)
{
    static const char head[] = "{\"name\":", windows[] = "\"windows\":{";
    if (len < sizeof head - 1 || memcmp(v, head, sizeof head - 1)) return 0;
    for (size_t i = 0; i + sizeof windows - 1 <= len; i++)
        if (v[i] == '"' && !memcmp(v + i, windows, sizeof windows - 1)) return 1;
    return 0;
}

/* A value busmon wrote for an alert firing (proto/README.md §9): its record,
 * which begins with its rule and holds its fingerprint, the field's name. */
static int is_alert_record(const char *field, size_t field_len, const char *v, size_t len)
{
    static const char head[] = "{\"rule\":", fp[] = "\"fingerprint\":\"";
    if (field_len != 16 || len < sizeof head - 1 || memcmp(v, head, sizeof head - 1)) return 0;
    for (size_t i = 0; i + sizeof fp - 1 + 17 <= len; i++)
        if (v[i] == '"' && !memcmp(v + i, fp, sizeof fp - 1) &&
            !memcmp(v + i + sizeof fp - 1, field, 16) && v[i + sizeof fp - 1 + 16] == '"')
            return 1;
    return 0;
}

static void on_hash_read(const redisReply *r, void *arg)
{
    rs_sweep *sw = arg;
    redis_sink *s = sw->s;
    size_t n = r && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0, n_stale = 0;
    const char **g = n ? calloc(n, sizeof *g) : NULL;
    size_t *gl = n ? calloc(n, sizeof *gl) : NULL;
    for (size_t i = 0; g && gl && i < n; i++) {
        const redisReply *f = r->element[2 * i], *v = r->element[2 * i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        name_ref key = {f->str, f->len};
        int ours = sw->topic == BM_TOPIC_WORKERS ? is_worker_record(v->str, v->len)
                                                 : is_alert_record(f->str, f->len, v->str, v->len);
        if (!ours || bsearch(&key, sw->names, sw->n, sizeof key, by_name)) continue;
        g[n_stale] = f->str, gl[n_stale++] = f->len;
    }
    if (n_stale) {
        bm_info("output %s: %zu %s taken out of %s (written by an earlier process or another "
                "agent, or resolved while its write failed)",
                s->name, n_stale,
                sw->topic == BM_TOPIC_WORKERS ? "worker(s) no longer tracked"
                                              : "alert(s) no longer firing",
                s->target);
        bm_writer_hdel(s->w, BM_WRITE_OUTPUT, s->target, n_stale, g, gl, NULL, NULL);
    }
    free(g);
    free(gl);
    free(sw);
}

/* After a whole set of n fields (f, fl) of topic went out: read the hash back (HGETALL)
 * and take out the records of that topic it does not hold. Best effort: out of memory,
 * none. */
static void sweep_after(redis_sink *s, bm_topic topic, size_t n, const char *const *f,
                        const size_t *fl)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += fl[i];
    rs_sweep *sw = malloc(sizeof *sw + n * sizeof(name_ref) + bytes + 1);
    if (!sw) return;
    char *at = (char *)&sw->names[n];
    sw->s = s;
    sw->topic = topic;
    sw->n = n;
    for (size_t i = 0; i < n; i++) {
        memcpy(at, f[i], fl[i]);
        sw->names[i] = (name_ref){at, fl[i]};
        at += fl[i];
    }
    qsort(sw->names, n, sizeof *sw->names, by_name);
    if (bm_writer_hgetall(s->w, BM_WRITE_OUTPUT, s->target, on_hash_read, sw)) free(sw);
}

/* Writer state changes, logged once per burst. @return 1 when it can be written. */
static int writable(redis_sink *s)
{
    if (s->w && bm_writer_up(s->w)) {
        if (s->down_logged)
            bm_info("output %s: writing to %s again", s->name, s->target);
        s->down_logged = 0;
        return 1;
    }
    if (!s->down_logged)
        bm_warn("output %s: Redis is not connected: messages are not written to %s (counted "
                "as dropped)",
                s->name, s->target);
    s->down_logged = 1;
    return 0;
}

/*
 * Room for a write of `bytes` beside what Redis has not answered yet (one
 * write always goes): @return its reply's arg (caller sends, or frees it),
 * or NULL, refused, the burst logged once.
 */
static rs_write *take_pending(redis_sink *s, size_t bytes)
{
    if (s->max_pending_bytes && s->pending_bytes &&
        s->pending_bytes + bytes > s->max_pending_bytes) {
        if (!s->full_logged)
            bm_warn("output %s: Redis has not answered %zu bytes of writes to %s "
                    "(max_pending %zu): messages are dropped until it does (counted)",
                    s->name, s->pending_bytes, s->target, s->max_pending_bytes);
        s->full_logged = 1;
        return NULL;
    }
    rs_write *wr = malloc(sizeof *wr);
    if (!wr) return NULL;
    if (s->full_logged)
        bm_info("output %s: Redis answers again: writing to %s", s->name, s->target);
    s->full_logged = 0;
    *wr = (rs_write){s, bytes};
    return wr;
}

/* A write sent with wr as its reply's arg: held until answered. */
static void sent_pending(redis_sink *s, rs_write *wr)
{
    s->pending_bytes += wr->bytes;
    s->stats.in_flight++;
}

static bm_sink_result stream_emit(void *self, bm_topic topic, const bm_sink_body *b)
{
    (void)topic;
    redis_sink *s = self;
    s->stats.emitted++;
    if (!b->data || !writable(s)) {
        s->stats.dropped++;
        return b->data ? BM_SINK_DROPPED : BM_SINK_ERROR;
    }
    const char *f[2], *v[2];
    size_t fl[2], vl[2], n = 0;
    if (b->mp)
        f[n] = BM_RECORD_FIELD_MSGPACK, fl[n] = strlen(f[n]), v[n] = b->mp, vl[n] = b->mp_len, n++;
    f[n] = BM_RECORD_FIELD_JSON, fl[n] = strlen(f[n]), v[n] = b->data, vl[n] = b->len, n++;
    rs_write *wr = take_pending(s, b->mp_len + b->len + (s->channel ? b->len : 0));
    if (!wr || bm_writer_xadd(s->w, BM_WRITE_OUTPUT, s->target, s->maxlen, n, f, fl, v, vl,
                              on_written, wr)) {
        free(wr);
        s->stats.dropped++;
        return BM_SINK_DROPPED;
    }
    sent_pending(s, wr);
    if (s->channel) bm_writer_publish(s->w, BM_WRITE_OUTPUT, s->channel, b->data, b->len, NULL, NULL);
    return BM_SINK_QUEUED;
}

static bm_sink_result hash_emit(void *self, bm_topic topic, const bm_sink_body *b)
{
    redis_sink *s = self;
    s->stats.emitted++;
    if (!b->n_fields) { /* a body without fields (not a set): nothing to write */
        s->stats.dropped++;
        return BM_SINK_ERROR;
    }
    if (!writable(s)) {
        s->stats.dropped++;
        return BM_SINK_DROPPED;
    }
    size_t total = b->n_fields, n = 0, n_gone = 0;
    size_t cap = total ? total : 1;
    const char **f = calloc(cap, sizeof *f), **v = calloc(cap, sizeof *v);
    size_t *fl = calloc(cap, sizeof *fl), *vl = calloc(cap, sizeof *vl);
    const char **g = calloc(cap, sizeof *g);
    size_t *gl = calloc(cap, sizeof *gl);
    size_t bytes = 0;
    for (size_t i = 0; i < total; i++)
        bytes += b->fields[i].field_len + b->fields[i].value_len;
    rs_write *wr = take_pending(s, bytes);
    int rc = -1;
    if (wr && f && v && fl && vl && g && gl) {
        for (size_t i = 0; i < total; i++) {
            const bm_sink_field *x = &b->fields[i];
            if (!x->value) { /* gone from the set */
                g[n_gone] = x->field, gl[n_gone++] = x->field_len;
                continue;
            }
            f[n] = x->field, fl[n] = x->field_len;
            v[n] = x->value, vl[n++] = x->value_len;
        }
        /* a partial body replacing the hash would drop every other field */
        int replace = s->replace && !b->partial;
        rc = replace ? bm_writer_hash_replace(s->w, BM_WRITE_OUTPUT, s->target, n, f, fl, v, vl,
                                              on_written, wr)
             : n ? bm_writer_hset(s->w, BM_WRITE_OUTPUT, s->target, n, f, fl, v, vl, on_written, wr)
                 : 1;
        if (rc >= 0 && !replace && n_gone)
            bm_writer_hdel(s->w, BM_WRITE_OUTPUT, s->target, n_gone, g, gl, NULL, NULL);
        if (rc == 0 && !s->replace && !b->partial &&
            (topic == BM_TOPIC_WORKERS || topic == BM_TOPIC_ALERTS_FIRING))
            sweep_after(s, topic, n, f, fl);
    }
    free(g);
    free(gl);
    free(f);
    free(v);
    free(fl);
    free(vl);
    if (rc != 0) free(wr); /* not sent, or nothing to merge */
    if (rc < 0) {
        s->stats.dropped++;
        return BM_SINK_DROPPED;
    }
    if (rc == 0)
        sent_pending(s, wr);
    else
        s->stats.sent++; /* nothing to merge */
    return BM_SINK_QUEUED;
}

static void on_flush_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redis_sink *s = arg;
    bm_sink_flush_cb cb = s->flush_cb;
    s->flush_cb = NULL;
    if (cb) cb(s, 0, s->flush_arg);
}

static void rs_flush(void *self, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    (void)timeout_ms;
    redis_sink *s = self;
    s->flush_cb = cb;
    s->flush_arg = arg;
    if (!s->flush_ev) s->flush_ev = evtimer_new(s->base, on_flush_now, s);
    struct timeval now = {0, 0};
    if (s->flush_ev)
        evtimer_add(s->flush_ev, &now);
    else
        on_flush_now(-1, 0, s); /* out of memory: the contract bends rather than hangs */
}

static void rs_stats(const void *self, bm_sink_stats *out)
{
    const redis_sink *s = self;
    *out = s->stats;
    out->queued = out->in_flight;
}

const bm_sink_type bm_sink_redis_stream = {
    "redis_stream", stream_keys, stream_init, stream_emit, rs_flush, rs_stats, rs_free,
};

const bm_sink_type bm_sink_redis_hash = {
    "redis_hash", hash_keys, hash_init, hash_emit, rs_flush, rs_stats, rs_free,
};
