/*
 * outputs.h - the set of configured sinks (sink.h) and the one way the
 * agent's producers send anything out: emit a message on a topic, and
 * every sink that takes the topic gets a body built in its format.
 *
 *   jobs/publisher.c  rollup, workers, health ─┐
 *   jobs/alerting.c   alert, alerts_firing     ├─▶ bm_outputs_emit ─▶ each sink taking
 *   jobs/sysmon.c     system                  ─┘    the topic: build(sink) ─▶ emit
 *
 * At stop, bm_outputs_flush gives every sink until a deadline to deliver
 * what it holds, and bm_outputs_finish runs the loop until they are done.
 */
#ifndef BM_OUTPUTS_OUTPUTS_H
#define BM_OUTPUTS_OUTPUTS_H

#include <stddef.h>

#include "agent/outputs/sink.h"

#define BM_OUTPUTS_MAX 64 /* sinks configured, at most */

typedef struct bm_outputs bm_outputs;

/* @return an empty set (caller frees), or NULL. env is copied. */
bm_outputs *bm_outputs_new(const bm_sink_env *env);
/* Free every sink (what they hold is lost). NULL is a no-op. */
void bm_outputs_free(bm_outputs *o);

/* Make a sink from its configuration (sink.h bm_sink_new) and add it.
 * @return 0, or -1 with the reason in err. */
int bm_outputs_add(bm_outputs *o, const bm_sink_kv *kv, size_t n_kv, char *err, size_t errlen);

/* Some sink takes topic t (so a producer can skip building). */
int bm_outputs_wants(const bm_outputs *o, bm_topic t);

/* What happened to one message. */
typedef struct {
    unsigned offered;       /* sinks that take the topic */
    unsigned refused;       /* ... that refused it (dropped, or no body) */
    unsigned redis_offered; /* of which Redis sinks */
    unsigned redis_refused;
} bm_emit_result;

/* Offer one message on `topic` to every sink that takes it, building its
 * body with build(sink) and releasing it after each emit. */
bm_emit_result bm_outputs_emit(bm_outputs *o, bm_topic topic, bm_sink_build_cb build,
                               bm_sink_release_cb release, void *arg);

/*
 * A message made once for every sink in format generic (busmon's own
 * record): its JSON text, its msgpack form (may be NULL), its hash fields
 * (for a redis_hash). Emit it with bm_record_build as the builder: a sink in
 * another format (Slack, PagerDuty, Alertmanager are for alerts) gets
 * nothing it could use, and that is counted.
 */
typedef struct {
    const char *json;
    size_t json_len;
    const char *mp;
    size_t mp_len;
    const bm_sink_field *fields;
    size_t n_fields;
    int partial; /* fields: an update of some of the set, not all of it (bm_sink_body) */
} bm_record;
int bm_record_build(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg);

size_t bm_outputs_count(const bm_outputs *o);
const bm_sink *bm_outputs_at(const bm_outputs *o, size_t i);

/* Begin delivering what the sinks hold, within timeout_ms. Idempotent. */
void bm_outputs_flush(bm_outputs *o, int64_t timeout_ms);

/* After the agent's loop ended: run it until every flush is done (bounded by
 * the flush deadline), then log what was not delivered and each sink's
 * counters once. */
void bm_outputs_finish(bm_outputs *o);

#endif
