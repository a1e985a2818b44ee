/*
 * alerting.h - the agent's alerting: the alert engine (lib/alerts.h) run
 * on its own timer, and every notification carried out of the agent.
 *
 *   every alerts.interval (default 10 s; never on the ingest path):
 *
 *     XINFO GROUPS <stream>   ─┐ (async, on the writer; one per stream)
 *     ...                      ├─ all answered ─▶ evaluate:
 *     /proc/stat, /proc/meminfo┘                    bm_monitor_rollup (fresh) + gauges
 *                                                   ─▶ alerts_evaluate ─▶ per notification:
 *       log (warn firing / repeat, info resolve)
 *       XADD busmon:alerts MAXLEN ~ N * m <msgpack> json <json>; PUBLISH busmon:alerts <json>
 *       each generic / slack / pagerduty sink: one body
 *     then, once per evaluation:
 *       MULTI; DEL busmon:alerts:firing; HSET ... <fingerprint> <json> ... _updated _agent; EXEC
 *       each alertmanager sink: one POST of every alert firing now (+ those just resolved),
 *       endsAt = now + max(4 x interval, 30 s), so Alertmanager keeps them while busmon
 *       re-sends them and resolves them by itself if busmon goes away
 *
 * Gauges: per stream, the consumer group's `lag` (Redis >= 7) and `pending`
 * from XINFO GROUPS; dead-lettered entries per minute (the agent's counter,
 * over the last minute); the host's cpu_percent and memory_percent
 * (agent/host_stats.h). A gauge that could not be read is unknown, and a
 * rule on an unknown gauge is not true (lib/alerts.h). A round of XINFO
 * still unanswered at the next tick is evaluated with what came back.
 *
 * Redis writes go on the agent's writer connection and count in its
 * writes_pending, so the orderly stop flushes them too. Sinks never block
 * the loop (agent/notify.h); a dead receiver costs retries and a bounded
 * queue, never ingest time.
 *
 * Not here: parsing the section (alerting_config.h), rule logic
 * (lib/alerts.c), bodies (proto/alert.c), transports (notify.c).
 */
#ifndef BM_AGENT_ALERTING_H
#define BM_AGENT_ALERTING_H

#include <stddef.h>
#include <stdint.h>

struct bm_agent;
struct json_t;

typedef struct bm_alerting bm_alerting;

/* Counters, totals since start. */
typedef struct {
    uint64_t evaluations;
    uint64_t notifications;     /* firing + repeat + resolved */
    uint64_t published;         /* notifications written to the stream (and channel) */
    uint64_t redis_skipped;     /* notifications and firing-hash updates not written: no writer */
    uint64_t gauge_late;        /* evaluations made before every XINFO answer was in */
    uint64_t gauge_errors;      /* XINFO answers that were errors (no stream, no group) */
    uint64_t sink_build_errors; /* bodies that could not be made */
} bm_alerting_stats;

/*
 * Make the engine from the agent's configuration (a->cfg->alerting), the
 * sinks on the agent's base, and start the evaluation timer. With
 * alerts.enabled false, an object that does nothing.
 * @return the alerting (caller bm_alerting_free's), or NULL with the reason logged.
 */
bm_alerting *bm_alerting_new(struct bm_agent *a);

/*
 * The agent is stopping: no more evaluations; begin delivering what the
 * sinks hold, within a deadline (5 s). Idempotent.
 */
void bm_alerting_stop(bm_alerting *al);

/*
 * After the agent's loop has ended: run the loop until every sink has
 * delivered or given up (bounded by the deadline set at stop), then log
 * the sinks' counters once. Calls bm_alerting_stop first if it was not.
 */
void bm_alerting_finish(bm_alerting *al);

/* Release everything; anything still queued in sinks is lost. NULL is a no-op.
 * Call after the agent's Redis connections are freed (their callbacks may
 * still name it until then). */
void bm_alerting_free(bm_alerting *al);

void bm_alerting_get_stats(const bm_alerting *al, bm_alerting_stats *out);

/*
 * /api/alerts, in the shape of `busmon alerts --json`: {"firing": [records,
 * severity first], "updated": time of the last evaluation or null, "agent",
 * "history": [the last history_max transitions, newest first; repeats are
 * not kept in memory], "enabled"}. Records are proto/alert.c's. al may be
 * NULL (nothing firing). @return a new object, or NULL (out of memory).
 */
struct json_t *bm_alerting_api_json(const bm_alerting *al, size_t history_max);

/* Add "alerts": {counters, firing, sinks: {name: {sent, failed, ...}}} to a
 * JSON summary object. */
void bm_alerting_summary(const bm_alerting *al, struct json_t *summary);

#endif
