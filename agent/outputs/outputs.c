/*
 * outputs.c - the set of sinks and emission by topic (outputs.h).
 */
#include "agent/outputs/outputs.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/log.h"
#include "proto/alert.h"

#define SINKS_MAX BM_OUTPUTS_MAX

struct bm_outputs {
    bm_sink_env env;
    bm_sink *sinks[SINKS_MAX];
    size_t n;
    int flushing;
    int64_t flush_timeout_ms;
    size_t flushes_left;
    uint64_t abandoned;
};

bm_outputs *bm_outputs_new(const bm_sink_env *env)
{
    bm_outputs *o = calloc(1, sizeof *o);
    if (o) o->env = *env;
    return o;
}

void bm_outputs_free(bm_outputs *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++)
        bm_sink_free(o->sinks[i]);
    free(o);
}

int bm_outputs_add(bm_outputs *o, const bm_sink_kv *kv, size_t n_kv, char *err, size_t errlen)
{
    if (o->n == SINKS_MAX) {
        bm_set_error(err, errlen, "too many sinks (at most %d)", SINKS_MAX);
        return -1;
    }
    bm_sink *s = bm_sink_new(&o->env, kv, n_kv, err, errlen);
    if (!s) return -1;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(bm_sink_name(o->sinks[i]), bm_sink_name(s))) {
            bm_set_error(err, errlen,
                         "sink '%s': the name is taken by another output (name them apart)",
                         bm_sink_name(s));
            bm_sink_free(s);
            return -1;
        }
    o->sinks[o->n++] = s;
    return 0;
}

int bm_outputs_wants(const bm_outputs *o, bm_topic t)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (bm_sink_takes(o->sinks[i], t)) return 1;
    return 0;
}

bm_emit_result bm_outputs_emit(bm_outputs *o, bm_topic topic, bm_sink_build_cb build,
                               bm_sink_release_cb release, void *arg)
{
    bm_emit_result r = {0, 0, 0, 0};
    for (size_t i = 0; o && i < o->n; i++) {
        bm_sink *s = o->sinks[i];
        if (!bm_sink_takes(s, topic)) continue;
        int is_redis = !strncmp(bm_sink_type_name(s), "redis_", 6);
        r.offered++;
        r.redis_offered += is_redis;
        if (bm_sink_emit_built(s, topic, build, release, arg) != BM_SINK_QUEUED) {
            r.refused++;
            r.redis_refused += is_redis;
        }
    }
    return r;
}

size_t bm_outputs_count(const bm_outputs *o)
{
    return o ? o->n : 0;
}

const bm_sink *bm_outputs_at(const bm_outputs *o, size_t i)
{
    return i < o->n ? o->sinks[i] : NULL;
}

static void on_flushed(void *sink, uint64_t abandoned, void *arg)
{
    (void)sink;
    bm_outputs *o = arg;
    o->abandoned += abandoned;
    if (o->flushes_left) o->flushes_left--;
}

void bm_outputs_flush(bm_outputs *o, int64_t timeout_ms)
{
    if (!o || o->flushing) return;
    o->flushing = 1;
    o->flush_timeout_ms = timeout_ms;
    for (size_t i = 0; i < o->n; i++) {
        o->flushes_left++;
        bm_sink_flush(o->sinks[i], timeout_ms, on_flushed, o);
    }
}

void bm_outputs_finish(bm_outputs *o)
{
    if (!o) return;
    bm_outputs_flush(o, 5000);
    /* each flush ends by its deadline at the latest: its timer keeps the loop busy */
    while (o->flushes_left > 0)
        if (event_base_loop(o->env.base, EVLOOP_ONCE) != 0) break;
    if (o->abandoned)
        bm_warn("outputs: %llu message(s) not delivered by the %lld ms stop deadline",
                (unsigned long long)o->abandoned, (long long)o->flush_timeout_ms);
    for (size_t i = 0; i < o->n; i++) {
        bm_sink_stats s;
        bm_sink_get_stats(o->sinks[i], &s);
        bm_info("  sink %s (%s): %llu sent, %llu failed, %llu retried, %llu dropped",
                bm_sink_name(o->sinks[i]), bm_sink_type_name(o->sinks[i]),
                (unsigned long long)s.sent, (unsigned long long)s.failed,
                (unsigned long long)s.retried, (unsigned long long)s.dropped);
    }
}

int bm_record_build(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg)
{
    (void)topic;
    const bm_record *b = arg;
    if (strcmp(bm_sink_format(sink), bm_alert_body_format_name(BM_ALERT_BODY_JSON))) return -1;
    out->data = b->json;
    out->len = b->json_len;
    out->mp = b->mp;
    out->mp_len = b->mp_len;
    out->fields = b->fields;
    out->n_fields = b->n_fields;
    out->partial = b->partial;
    out->content_type = "application/json";
    return 0;
}
