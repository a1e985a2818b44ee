/*
 * checkpoint.c - the state checkpoint's envelope (lib/checkpoint.h has the
 * layout): encode the parts each module saves, decode within bounds and
 * load all parts or none.
 *
 * Not here: any part's layout (each module's *_save), Redis (agent/).
 *
 * Decoding, in order, so nothing is allocated for a hostile input before it
 * is known to be small enough and well formed:
 *
 *   len <= max_bytes ─▶ bm_sc_scan (one complete object, depth, object
 *   count) ─▶ msgpack_unpack_next ─▶ kind ─▶ v ─▶ envelope ─▶ monitor and
 *   deadlines into fresh objects of the targets' configuration ─▶ alerts
 *   (loaded in place, all or nothing) ─▶ swap the fresh objects in.
 *
 * The swap cannot fail, so a decode that fails anywhere leaves the
 * targets as they were.
 */
#include "lib/checkpoint.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_codec.h"

#define DEFAULT_MAX_BYTES   (64u << 20)
#define DEFAULT_MAX_OBJECTS (4u << 20)

const char *bm_checkpoint_status_name(bm_checkpoint_status st)
{
    static const char *const names[BM_CHECKPOINT__COUNT] = {
        "ok",      "truncated", "corrupt", "wrong_kind", "wrong_version",
        "too_big", "mismatch",  "nomem"};
    return (unsigned)st < BM_CHECKPOINT__COUNT ? names[st] : "unknown";
}

/* ---- encoding ------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer buf; /* the records, back to back */
    size_t *ends;        /* where each one ends */
    size_t n, cap;
    int failed;
} pending_acc;

/* Every command of t not answered yet, as its trace record; none of a
 * closed trace (its commands are no longer awaited). */
static void collect_pending(const trace *t, void *arg)
{
    pending_acc *acc = arg;
    if (trace_is_closed(t)) return;
    trace_event view;
    for (size_t i = 0; !acc->failed && i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        if (te->ev.type != BM_EV_COMMAND || te->paired >= 0) continue;
        if (acc->n == acc->cap) {
            size_t cap = acc->cap ? acc->cap * 2 : 64;
            size_t *p = realloc(acc->ends, cap * sizeof *p);
            if (!p) {
                acc->failed = 1;
                return;
            }
            acc->ends = p;
            acc->cap = cap;
        }
        if (bm_event_encode_msgpack(&te->ev, te->duration_us, &acc->buf)) {
            acc->failed = 1;
            return;
        }
        acc->ends[acc->n++] = acc->buf.size;
    }
}

/* "pending": [bin record, ...]. @return 0 or -1. */
static int pack_pending(const trace_store *s, msgpack_packer *pk, size_t *n_out)
{
    pending_acc acc = {0};
    msgpack_sbuffer_init(&acc.buf);
    trace_store_foreach(s, collect_pending, &acc);
    int e = acc.failed;
    e |= bm_sc_key(pk, "pending");
    e |= msgpack_pack_array(pk, acc.n);
    for (size_t i = 0; !e && i < acc.n; i++) {
        size_t from = i ? acc.ends[i - 1] : 0;
        e |= msgpack_pack_bin(pk, acc.ends[i] - from);
        e |= msgpack_pack_bin_body(pk, acc.buf.data + from, acc.ends[i] - from);
    }
    *n_out = acc.n;
    msgpack_sbuffer_destroy(&acc.buf);
    free(acc.ends);
    return e ? -1 : 0;
}

/* "claimed": map { stream: [id, ...] }, the claims grouped by stream, at
 * most BM_CHECKPOINT_CLAIMED_MAX (the first ones: what a reader takes). */
static int pack_claimed(const bm_checkpoint *c, msgpack_packer *pk)
{
    size_t n = c->n_claimed < BM_CHECKPOINT_CLAIMED_MAX ? c->n_claimed : BM_CHECKPOINT_CLAIMED_MAX;
    size_t n_streams = c->n_claimed_streams < BM_CHECKPOINT_STREAMS_MAX ? c->n_claimed_streams
                                                                        : BM_CHECKPOINT_STREAMS_MAX;
    size_t used = 0; /* streams that have claims */
    for (size_t s = 0; s < n_streams; s++)
        for (size_t i = 0; i < n; i++)
            if (c->claimed[i].stream == s) {
                used++;
                break;
            }
    int e = bm_sc_key(pk, "claimed");
    e |= msgpack_pack_map(pk, used);
    for (size_t s = 0; s < n_streams; s++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += c->claimed[i].stream == s;
        if (!k) continue;
        const char *name = c->claimed_streams[s];
        size_t nl = strnlen(name, BM_CHECKPOINT_STREAM_NAME_MAX);
        e |= msgpack_pack_str(pk, nl);
        e |= msgpack_pack_str_body(pk, name, nl);
        e |= msgpack_pack_array(pk, k);
        for (size_t i = 0; i < n; i++) {
            if (c->claimed[i].stream != s) continue;
            size_t il = strnlen(c->claimed[i].id, sizeof c->claimed[i].id);
            e |= msgpack_pack_str(pk, il);
            e |= msgpack_pack_str_body(pk, c->claimed[i].id, il);
        }
    }
    return e;
}

int bm_checkpoint_encode(const bm_checkpoint *c, msgpack_sbuffer *out)
{
    size_t start = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    size_t n_streams =
        c->n_streams < BM_CHECKPOINT_STREAMS_MAX ? c->n_streams : BM_CHECKPOINT_STREAMS_MAX;
    int claims = c->claimed && c->n_claimed > 0;
    int e = msgpack_pack_map(&pk, (c->traces ? 11 : 10) + (c->baselines ? 1 : 0) + claims);
    e |= bm_sc_key_i64(&pk, "v", BM_CHECKPOINT_VERSION);
    e |= bm_sc_key_str(&pk, "kind", BM_CHECKPOINT_KIND);
    e |= bm_sc_key(&pk, "agent");
    e |= msgpack_pack_str(&pk, strnlen(c->agent, sizeof c->agent));
    e |= msgpack_pack_str_body(&pk, c->agent, strnlen(c->agent, sizeof c->agent));
    e |= bm_sc_key_i64(&pk, "ts_us", c->ts_us);
    e |= bm_sc_key_i64(&pk, "every_us", c->every_us);
    e |= bm_sc_key(&pk, "deadlettered");
    e |= msgpack_pack_uint64(&pk, c->deadlettered);
    e |= bm_sc_key(&pk, "streams");
    e |= msgpack_pack_map(&pk, n_streams);
    for (size_t i = 0; i < n_streams; i++) {
        const bm_checkpoint_stream *s = &c->streams[i];
        size_t nl = strnlen(s->name, sizeof s->name), il = strnlen(s->last_id, sizeof s->last_id);
        e |= msgpack_pack_str(&pk, nl);
        e |= msgpack_pack_str_body(&pk, s->name, nl);
        e |= msgpack_pack_str(&pk, il);
        e |= msgpack_pack_str_body(&pk, s->last_id, il);
    }
    if (claims) e |= pack_claimed(c, &pk); /* absent when none: older readers skip it anyway */
    e |= bm_sc_key(&pk, "monitor");
    e |= c->monitor ? bm_monitor_save(c->monitor, &pk) : msgpack_pack_nil(&pk);
    e |= bm_sc_key(&pk, "deadlines");
    e |= c->deadlines ? deadlines_save(c->deadlines, &pk) : msgpack_pack_nil(&pk);
    e |= bm_sc_key(&pk, "alerts");
    e |= c->alerts ? alerts_save(c->alerts, &pk) : msgpack_pack_nil(&pk);
    if (c->baselines) { /* absent rather than nil: older readers skip it either way */
        e |= bm_sc_key(&pk, "baselines");
        e |= baselines_save(c->baselines, &pk);
    }
    size_t pending = 0;
    if (c->traces) e |= pack_pending(c->traces, &pk, &pending);
    if (e) {
        out->size = start;
        return -1;
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------- */

static bm_checkpoint_status say(bm_checkpoint_status st, char *err, size_t errlen, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));

static bm_checkpoint_status say(bm_checkpoint_status st, char *err, size_t errlen, const char *fmt,
                                ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static bm_checkpoint_status of_load(int rc)
{
    switch (rc) {
    case BM_LOAD_OK:
        return BM_CHECKPOINT_OK;
    case BM_LOAD_MISMATCH:
        return BM_CHECKPOINT_MISMATCH;
    case BM_LOAD_NOMEM:
        return BM_CHECKPOINT_NOMEM;
    default:
        return BM_CHECKPOINT_CORRUPT;
    }
}

/* "<digits>-<digits>", as Redis writes stream entry ids. */
static int is_entry_id(const char *s)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s || *p != '-') return 0;
    const char *q = ++p;
    while (*p >= '0' && *p <= '9')
        p++;
    return p != q && *p == '\0';
}

/* The envelope's own fields into env (agent, ts_us, streams). */
static bm_checkpoint_status read_envelope(const msgpack_object *root, bm_checkpoint *env, char *err,
                                          size_t errlen)
{
    if (bm_sc_need_str(root, "agent", env->agent, sizeof env->agent, err, errlen) ||
        bm_sc_need_i64(root, "ts_us", &env->ts_us, err, errlen))
        return BM_CHECKPOINT_CORRUPT;
    const msgpack_object *ev = bm_sc_get(root, "every_us"); /* optional: added in v1 */
    if (ev && (bm_sc_as_i64(ev, &env->every_us) || env->every_us < 0))
        return say(BM_CHECKPOINT_CORRUPT, err, errlen, "'every_us' is not a duration");
    const msgpack_object *dl = bm_sc_get(root, "deadlettered"); /* optional: added in v1 */
    if (dl && bm_sc_as_u64(dl, &env->deadlettered))
        return say(BM_CHECKPOINT_CORRUPT, err, errlen, "'deadlettered' is not a count");
    const msgpack_object *st = bm_sc_need(root, "streams", MSGPACK_OBJECT_MAP, err, errlen);
    if (!st) return BM_CHECKPOINT_CORRUPT;
    if (st->via.map.size > BM_CHECKPOINT_STREAMS_MAX)
        return say(BM_CHECKPOINT_TOO_BIG, err, errlen, "%u streams, at most %d are read",
                   (unsigned)st->via.map.size, BM_CHECKPOINT_STREAMS_MAX);
    for (uint32_t i = 0; i < st->via.map.size; i++) {
        bm_checkpoint_stream *s = &env->streams[i];
        if (bm_sc_as_str(&st->via.map.ptr[i].key, s->name, sizeof s->name) || !s->name[0])
            return say(BM_CHECKPOINT_CORRUPT, err, errlen,
                       "streams: name %u is not a string of 1..%d bytes", (unsigned)i,
                       BM_CHECKPOINT_STREAM_NAME_MAX - 1);
        if (bm_sc_as_str(&st->via.map.ptr[i].val, s->last_id, sizeof s->last_id) ||
            !is_entry_id(s->last_id))
            return say(BM_CHECKPOINT_CORRUPT, err, errlen,
                       "streams: '%s': the last id is not \"<ms>-<seq>\"", s->name);
    }
    env->n_streams = st->via.map.size;
    return BM_CHECKPOINT_OK;
}

/* "claimed" (optional) checked; into env's claimed_* when keep. */
static bm_checkpoint_status read_claimed(const msgpack_object *root, bm_checkpoint *env, int keep,
                                         char *err, size_t errlen)
{
    const msgpack_object *cl = bm_sc_get(root, "claimed");
    if (!cl || cl->type == MSGPACK_OBJECT_NIL) return BM_CHECKPOINT_OK;
    if (cl->type != MSGPACK_OBJECT_MAP)
        return say(BM_CHECKPOINT_CORRUPT, err, errlen, "'claimed' is not a map");
    if (cl->via.map.size > BM_CHECKPOINT_STREAMS_MAX)
        return say(BM_CHECKPOINT_TOO_BIG, err, errlen, "claimed: %u streams, at most %d are read",
                   (unsigned)cl->via.map.size, BM_CHECKPOINT_STREAMS_MAX);
    size_t total = 0;
    for (uint32_t s = 0; s < cl->via.map.size; s++) {
        const msgpack_object *ids = &cl->via.map.ptr[s].val;
        char *name = env->claimed_streams[s];
        if (bm_sc_as_str(&cl->via.map.ptr[s].key, name, BM_CHECKPOINT_STREAM_NAME_MAX) || !name[0])
            return say(BM_CHECKPOINT_CORRUPT, err, errlen,
                       "claimed: name %u is not a string of 1..%d bytes", (unsigned)s,
                       BM_CHECKPOINT_STREAM_NAME_MAX - 1);
        if (ids->type != MSGPACK_OBJECT_ARRAY)
            return say(BM_CHECKPOINT_CORRUPT, err, errlen, "claimed: '%s' is not a list", name);
        total += ids->via.array.size;
    }
    if (total > BM_CHECKPOINT_CLAIMED_MAX)
        return say(BM_CHECKPOINT_TOO_BIG, err, errlen, "claimed: %zu ids, at most %d are read",
                   total, BM_CHECKPOINT_CLAIMED_MAX);
    if (keep && total && !(env->claimed = malloc(total * sizeof *env->claimed)))
        return say(BM_CHECKPOINT_NOMEM, err, errlen, "out of memory");
    bm_checkpoint_claim one;
    for (uint32_t s = 0; s < cl->via.map.size; s++) {
        const msgpack_object *ids = &cl->via.map.ptr[s].val;
        for (uint32_t i = 0; i < ids->via.array.size; i++) {
            bm_checkpoint_claim *k = keep ? &env->claimed[env->n_claimed] : &one;
            if (bm_sc_as_str(&ids->via.array.ptr[i], k->id, sizeof k->id) || !is_entry_id(k->id))
                return say(BM_CHECKPOINT_CORRUPT, err, errlen,
                           "claimed: '%s': id %u is not \"<ms>-<seq>\"", env->claimed_streams[s],
                           (unsigned)i);
            k->stream = s;
            env->n_claimed += keep;
        }
    }
    env->n_claimed_streams = cl->via.map.size;
    return BM_CHECKPOINT_OK;
}

/* A part of the root: NULL when nil (not written), else it (any type: the
 * loader checks it). Missing is corrupt: every writer writes every key. */
static int part(const msgpack_object *root, const char *key, const msgpack_object **out, char *err,
                size_t errlen)
{
    const msgpack_object *v = bm_sc_get(root, key);
    if (!v) return bm_sc_fail(err, errlen, "'%s' missing", key);
    *out = v->type == MSGPACK_OBJECT_NIL ? NULL : v;
    return 0;
}

/* The pending commands back into the trace store (a record that does not
 * decode, or a trace store that refuses it, is skipped). @return how many. */
static size_t unpack_pending(trace_store *s, const msgpack_object *arr, int64_t now_us)
{
    bm_decoder *d = bm_decoder_new(NULL);
    size_t n = 0;
    for (uint32_t i = 0; d && i < arr->via.array.size; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_BIN && o->type != MSGPACK_OBJECT_STR) continue;
        bm_event ev;
        if (bm_decode_msgpack(d, o->via.bin.ptr, o->via.bin.size, &ev) != BM_DECODE_OK) continue;
        if (ev.type != BM_EV_COMMAND || !ev.tx[0]) continue;
        if (trace_store_apply(s, &ev, now_us, NULL, NULL) == TRACE_STORE_APPLIED) n++;
    }
    bm_decoder_free(d);
    return n;
}

/* Everything after the root is known to be a busmon-state map of this version. */
static bm_checkpoint_status load_all(const msgpack_object *root, bm_checkpoint *c,
                                     bm_checkpoint *env, char *err, size_t errlen)
{
    bm_checkpoint_status st = read_envelope(root, env, err, errlen);
    if (st != BM_CHECKPOINT_OK) return st;
    const msgpack_object *mon = NULL, *dl = NULL, *al = NULL;
    if (part(root, "monitor", &mon, err, errlen) || part(root, "deadlines", &dl, err, errlen) ||
        part(root, "alerts", &al, err, errlen))
        return BM_CHECKPOINT_CORRUPT;

    bm_monitor tmp_mon;
    int have_mon = 0, skipped = 0;
    deadlines *tmp_dl = NULL;
    int rc = BM_LOAD_OK;
    if (c->monitor && mon) {
        if (bm_monitor_init(&tmp_mon, &c->monitor->wcfg, c->monitor->max_patterns) != 0)
            return say(BM_CHECKPOINT_NOMEM, err, errlen, "out of memory");
        if (bm_monitor_set_metrics(&tmp_mon, &c->monitor->mcfg) != 0) {
            bm_monitor_deinit(&tmp_mon);
            return say(BM_CHECKPOINT_NOMEM, err, errlen, "out of memory");
        }
        have_mon = 1;
        rc = bm_monitor_load(&tmp_mon, mon, err, errlen);
        if (rc == BM_LOAD_MISMATCH && c->monitor_optional) {
            /* the windows changed shape: their figures cannot be read into
             * these, but the rest (commands awaited, alerts, baselines) can */
            bm_monitor_deinit(&tmp_mon);
            have_mon = 0;
            rc = BM_LOAD_OK;
            skipped = 1;
        }
    }
    if (rc == BM_LOAD_OK && c->deadlines && dl) {
        tmp_dl = deadlines_new(deadlines_max(c->deadlines));
        rc = tmp_dl ? deadlines_load(tmp_dl, dl, err, errlen)
                    : (bm_sc_fail(err, errlen, "out of memory"), BM_LOAD_NOMEM);
    }
    /* baselines: optional (checkpoints written before them have none; the
     * table is left as it is) */
    const msgpack_object *bl = bm_sc_get(root, "baselines");
    baselines *tmp_bl = NULL;
    if (rc == BM_LOAD_OK && c->baselines && bl && bl->type != MSGPACK_OBJECT_NIL) {
        tmp_bl = baselines_new(baselines_config(c->baselines));
        rc = tmp_bl ? baselines_load(tmp_bl, bl, err, errlen)
                    : (bm_sc_fail(err, errlen, "out of memory"), BM_LOAD_NOMEM);
    }
    const msgpack_object *pend = bm_sc_get(root, "pending");
    if (rc == BM_LOAD_OK && pend && pend->type != MSGPACK_OBJECT_ARRAY &&
        pend->type != MSGPACK_OBJECT_NIL)
        rc = (bm_sc_fail(err, errlen, "'pending' is not a list"), BM_LOAD_CORRUPT);
    /* last of all: the alerts load in place, so nothing may refuse after them */
    if (rc == BM_LOAD_OK && c->alerts && al) rc = alerts_load(c->alerts, al, err, errlen);
    if (rc == BM_LOAD_OK) {
        /* commit: nothing below can fail */
        if (have_mon) bm_monitor_swap(c->monitor, &tmp_mon);
        c->monitor_skipped = skipped;
        if (tmp_dl) deadlines_swap(c->deadlines, tmp_dl);
        if (tmp_bl) baselines_swap(c->baselines, tmp_bl);
        c->pending = 0;
        if (c->traces && pend && pend->type == MSGPACK_OBJECT_ARRAY)
            c->pending = unpack_pending(c->traces, pend, c->now_us);
    }
    if (have_mon) bm_monitor_deinit(&tmp_mon);
    deadlines_free(tmp_dl);
    baselines_free(tmp_bl);
    return of_load(rc);
}

/* *bound += (n past BM_CHECKPOINT_HELD) * each, saturating: a bound past
 * memory is no bound, never a wrapped small one. */
static void grow(size_t *bound, size_t n, size_t each)
{
    size_t more = n > BM_CHECKPOINT_HELD ? n - BM_CHECKPOINT_HELD : 0;
    *bound = more > (SIZE_MAX - *bound) / each ? SIZE_MAX : *bound + more * each;
}

bm_checkpoint_limits bm_checkpoint_limits_for(size_t max_workers, size_t max_baseline_keys)
{
    bm_checkpoint_limits lim = {DEFAULT_MAX_BYTES, DEFAULT_MAX_OBJECTS};
    grow(&lim.max_bytes, max_workers, BM_CHECKPOINT_WORKER_BYTES);
    grow(&lim.max_objects, max_workers, BM_CHECKPOINT_WORKER_OBJECTS);
    grow(&lim.max_bytes, max_baseline_keys, BM_CHECKPOINT_BASELINE_KEY_BYTES);
    grow(&lim.max_objects, max_baseline_keys, BM_CHECKPOINT_BASELINE_KEY_OBJECTS);
    return lim;
}

bm_checkpoint_status bm_checkpoint_check(const void *data, size_t len,
                                         const bm_checkpoint_limits *lim, size_t *objects_out,
                                         char *err, size_t errlen)
{
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_BYTES;
    size_t max_objects = lim && lim->max_objects ? lim->max_objects : DEFAULT_MAX_OBJECTS;
    if (err && errlen) err[0] = '\0';
    if (!data || !len) return say(BM_CHECKPOINT_TRUNCATED, err, errlen, "empty");
    if (len > max_bytes)
        return say(BM_CHECKPOINT_TOO_BIG, err, errlen, "%zu bytes, at most %zu are read", len,
                   max_bytes);
    size_t objects = 0;
    switch (bm_sc_scan(data, len, BM_CHECKPOINT_DEPTH_MAX, max_objects, &objects)) {
    case BM_SC_SCAN_OK:
        break;
    case BM_SC_SCAN_TRUNCATED:
        return say(BM_CHECKPOINT_TRUNCATED, err, errlen, "truncated: %zu bytes end inside a value",
                   len);
    case BM_SC_SCAN_TOO_DEEP:
        return say(BM_CHECKPOINT_CORRUPT, err, errlen, "nested deeper than %d",
                   BM_CHECKPOINT_DEPTH_MAX);
    case BM_SC_SCAN_TOO_MANY:
        return say(BM_CHECKPOINT_TOO_BIG, err, errlen, "more than %zu msgpack objects",
                   max_objects);
    default:
        return say(BM_CHECKPOINT_CORRUPT, err, errlen, "not one msgpack value");
    }
    if (objects_out) *objects_out = objects;
    return BM_CHECKPOINT_OK;
}

bm_checkpoint_status bm_checkpoint_decode(const void *data, size_t len,
                                          const bm_checkpoint_limits *lim, bm_checkpoint *c,
                                          char *err, size_t errlen)
{
    bm_checkpoint_limits own;
    if (!lim) { /* what an agent of the targets' configuration writes */
        own = bm_checkpoint_limits_for(c->monitor ? c->monitor->wcfg.max_workers : 0,
                                       c->baselines ? baselines_config(c->baselines)->max_keys : 0);
        lim = &own;
    }
    if (c->keep_claimed) { /* an output: set below once everything is read */
        c->claimed = NULL;
        c->n_claimed = c->n_claimed_streams = 0;
    }
    size_t objects = 0;
    bm_checkpoint_status checked = bm_checkpoint_check(data, len, lim, &objects, err, errlen);
    if (checked != BM_CHECKPOINT_OK) return checked;

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, data, len, &off);
    bm_checkpoint_status st;
    const msgpack_object *root = &u.data;
    bm_checkpoint *env = NULL;
    int64_t v;
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        st = say(BM_CHECKPOINT_NOMEM, err, errlen, "out of memory unpacking %zu objects", objects);
    } else if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        st = say(BM_CHECKPOINT_CORRUPT, err, errlen, "not one msgpack value");
    } else if (root->type != MSGPACK_OBJECT_MAP) {
        st = say(BM_CHECKPOINT_CORRUPT, err, errlen, "not a map");
    } else if (!bm_sc_str_is(bm_sc_get(root, "kind"), BM_CHECKPOINT_KIND)) {
        st = say(BM_CHECKPOINT_WRONG_KIND, err, errlen,
                 "not a busmon state checkpoint (kind is not \"%s\")", BM_CHECKPOINT_KIND);
    } else if (bm_sc_as_i64(bm_sc_get(root, "v"), &v)) {
        st = say(BM_CHECKPOINT_CORRUPT, err, errlen, "no format version ('v')");
    } else if (v != BM_CHECKPOINT_VERSION) {
        st = say(BM_CHECKPOINT_WRONG_VERSION, err, errlen,
                 "format version %lld, this build reads %d", (long long)v, BM_CHECKPOINT_VERSION);
    } else if (!(env = calloc(1, sizeof *env))) {
        st = say(BM_CHECKPOINT_NOMEM, err, errlen, "out of memory");
    } else {
        st = read_claimed(root, env, c->keep_claimed, err, errlen);
        if (st == BM_CHECKPOINT_OK) st = load_all(root, c, env, err, errlen);
        if (st == BM_CHECKPOINT_OK && c->keep_claimed) {
            c->n_claimed_streams = env->n_claimed_streams;
            memcpy(c->claimed_streams, env->claimed_streams,
                   env->n_claimed_streams * sizeof *env->claimed_streams);
            c->claimed = env->claimed;
            c->n_claimed = env->n_claimed;
            env->claimed = NULL;
        }
        if (st == BM_CHECKPOINT_OK) {
            memcpy(c->agent, env->agent, sizeof c->agent);
            c->ts_us = env->ts_us;
            c->deadlettered = env->deadlettered;
            c->every_us = env->every_us;
            c->n_streams = env->n_streams;
            memcpy(c->streams, env->streams, env->n_streams * sizeof *env->streams);
        }
    }
    if (env) free(env->claimed);
    free(env);
    msgpack_unpacked_destroy(&u);
    return st;
}
