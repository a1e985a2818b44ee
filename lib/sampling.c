/*
 * sampling.c - the tail sampling decision and its marker (sampling.h).
 */
#include "sampling.h"

#include <msgpack.h>
#include <string.h>
#include <strings.h>

#include "otlp.h"
#include "state_codec.h"

static const char *const reason_names[BM_SAMPLE__COUNT] = {
    "all", "timeout", "failed", "compensated", "slow", "rate", "sampled_out"};

const char *bm_sample_reason_name(bm_sample_reason r)
{
    return (unsigned)r < BM_SAMPLE__COUNT ? reason_names[r] : "?";
}

int bm_sampling_active(const bm_sampling_policy *p)
{
    return p && p->rate < 1.0;
}

int bm_sampling_rate_keeps(const char *tx, double rate)
{
    if (rate >= 1.0) return 1;
    if (rate <= 0.0) return 0;
    uint8_t id[16];
    bm_otlp_trace_id(tx, id);
    uint64_t r = 0;
    for (int i = 9; i < 16; i++) /* the low 56 bits */
        r = r << 8 | id[i];
    uint64_t threshold = (uint64_t)((1.0 - rate) * 72057594037927936.0 + 0.5); /* 2^56 */
    return r >= threshold;
}

bm_sample_reason bm_sampling_decide(const bm_sampling_policy *p, const trace *t,
                                    bm_sampling_p99_cb p99, void *arg)
{
    if (!bm_sampling_active(p)) return BM_SAMPLE_ALL;
    size_t n = trace_count(t);
    /* failed: the transaction failed or was cancelled (the failed group;
     * compensated has a reason of its own), or a step failed and was not
     * retried into a success (lib/trace.h), so a step retried into a
     * success does not count; a timed-out step does, as `timeout`,
     * retried or not */
    int timeout = 0, compensated = 0, slow = 0;
    trace_status st = trace_get_status(t);
    int failed = st == TRACE_FAILED || st == TRACE_CANCELLED || trace_step_failed(t);
    if (p->slow_us > 0 && trace_duration_us(t) > p->slow_us) slow = 1;
    trace_event view;
    for (size_t i = 0; i < n; i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        /* outcomes and status words as lib/trace.c reads them (any case) */
        if (trace_event_outcome(e) == BM_OUTCOME_TIMEOUT) timeout = 1;
        if (e->type == BM_EV_COMPENSATION ||
            (e->type == BM_EV_STATUS && !strcasecmp(e->status, "compensated")))
            compensated = 1;
        if (!slow && (e->type == BM_EV_RESULT || e->type == BM_EV_ERROR) && te->duration_us > 0) {
            if (p->slow_us > 0 && te->duration_us > p->slow_us) slow = 1;
            if (p->slow_p99 && p99 && e->worker[0]) {
                double q = p99(e->worker, arg);
                if (q > 0 && (double)te->duration_us > q) slow = 1;
            }
        }
    }
    if (timeout) return BM_SAMPLE_TIMEOUT;
    if (failed) return BM_SAMPLE_FAILED;
    if (compensated) return BM_SAMPLE_COMPENSATED;
    if (slow) return BM_SAMPLE_SLOW;
    return bm_sampling_rate_keeps(trace_tx(t), p->rate) ? BM_SAMPLE_RATE : BM_SAMPLE_SAMPLED_OUT;
}

#define MARKER_KEY         "busmon_sampled_out"
#define MARKER_DEPTH_MAX   2  /* a map of scalars (nested values are skipped, not refused) */
#define MARKER_OBJECTS_MAX 64 /* its 4 pairs, with room for fields added later */

int bm_sampling_marker_encode(const bm_sampling_marker *m, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 4);
    rc |= msgpack_pack_str_with_body(&pk, MARKER_KEY, sizeof MARKER_KEY - 1);
    rc |= msgpack_pack_true(&pk);
    rc |= msgpack_pack_str_with_body(&pk, "rate", 4);
    rc |= msgpack_pack_double(&pk, m->rate);
    rc |= msgpack_pack_str_with_body(&pk, "events", 6);
    rc |= msgpack_pack_uint64(&pk, m->events);
    rc |= msgpack_pack_str_with_body(&pk, "at", 2);
    rc |= msgpack_pack_int64(&pk, m->at_us);
    return rc ? -1 : 0;
}

static int key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, s, n);
}

int bm_sampling_marker_parse(const char *data, size_t len, bm_sampling_marker *m)
{
    /* cheap refusal first: a marker's first key is MARKER_KEY */
    if (len < 2 + sizeof MARKER_KEY || !memmem(data, len < 32 ? len : 32, MARKER_KEY, sizeof MARKER_KEY - 1))
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int is = 0;
    /* its few objects checked before msgpack-c allocates what a header announces */
    if (bm_sc_scan(data, len, MARKER_DEPTH_MAX, MARKER_OBJECTS_MAX, NULL) == BM_SC_SCAN_OK &&
        msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        memset(m, 0, sizeof *m);
        const msgpack_object_map *map = &u.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
            if (key_is(k, MARKER_KEY) && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean)
                is = 1;
            else if (key_is(k, "rate") && v->type == MSGPACK_OBJECT_FLOAT64)
                m->rate = v->via.f64;
            else if (key_is(k, "events") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                m->events = v->via.u64;
            else if (key_is(k, "at") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                m->at_us = (int64_t)v->via.u64;
        }
    }
    msgpack_unpacked_destroy(&u);
    return is;
}
