/*
 * alerting.h - the agent's alerting: the alert engine (lib/alerts.h) run
 * on the shared sampler's rounds (core/sampler.h), never on the ingest
 * path, and every notification handed to the outputs.
 *
 *   every alerts.interval (10 s), with the round's Redis figures:
 *     gauges: per stream our group's lag and pending; dead-lettered entries
 *     per minute; cpu_percent and memory_percent, of the tightest cgroup
 *     limit when one is set (a container's), else of the host (their
 *     baselines, the last CPU samples and the dead-letter history, are
 *     kept on every agent; what follows runs on the judge only)
 *     ──▶ bm_monitor_rollup (fresh) + gauges ──▶ alerts_evaluate
 *     ──▶ per notification: log (warn firing / repeat, info resolve) and
 *         topic alert (busmon:alerts stream and channel, webhooks)
 *     ──▶ once per evaluation: topic alerts_firing, every alert firing now
 *         plus those just resolved (the busmon:alerts:firing hash, replaced
 *         whole; Alertmanager sinks, endsAt = now + max(4 x interval, 30 s),
 *         so Alertmanager keeps them while busmon re-sends them and resolves
 *         them by itself if busmon goes away)
 *
 * A gauge that could not be read is unknown, and a rule on an unknown gauge
 * is not true (lib/alerts.h). A stream whose XINFO did not come back keeps
 * its last value for 3 evaluations, then is unknown.
 *
 * Not here: parsing the section (agent/config/), rule logic (lib/alerts.c),
 * bodies (proto/alert.c), transports (agent/outputs/).
 */
#ifndef BM_JOBS_ALERTING_H
#define BM_JOBS_ALERTING_H

#include <stddef.h>
#include <stdint.h>

#include "agent/config/alert_rules.h"
#include "agent/state/view.h"
#include "lib/monitor.h"

struct bm_loop;
struct bm_sampler;
struct bm_outputs;
struct json_t;
struct baselines;

typedef struct bm_alerting bm_alerting;

/* Counters, totals since start. */
typedef struct {
    uint64_t evaluations;
    uint64_t notifications;     /* firing + repeat + resolved */
    uint64_t published;         /* notifications every Redis output took */
    uint64_t redis_skipped;     /* notifications a Redis output refused (not connected) */
    uint64_t gauge_late;        /* evaluations made before every XINFO answer was in */
    uint64_t gauge_errors;      /* XINFO answers that were errors (no stream, no group) */
    uint64_t sink_build_errors; /* bodies that could not be made */
    uint64_t tag_values_dropped; /* each_tag values past the rule's bound, not evaluated
                                    (lib/alerts.h ALERTS_TAG_VALUES_MAX) */
    uint64_t gone_forgotten;     /* resolved alerts a merge-mode hash was still to delete,
                                    forgotten past GONE_MAX (alerting.c) */
} bm_alerting_stats;

typedef struct {
    const bm_alert_config *rules; /* enabled, interval, history, bounds, the rule set (borrowed) */
    const char *agent;            /* the consumer name (borrowed) */
    /* dead-lettered entries so far (the deadletter_rate gauge) */
    uint64_t (*deadletters)(void *arg);
    void *deadletters_arg;
    /* told after an evaluation that notified (a checkpoint soon keeps a
     * successor from notifying it again); may be NULL */
    void (*notified)(void *arg);
    void *notified_arg;
    /* the learned baselines, for the anomaly rules (borrowed; NULL: none) */
    const struct baselines *baselines;
    /* the host's CPU counters (cpu_percent), memory figures (memory_percent),
     * the cgroup root and the process's cgroups: NULL reads /proc/stat,
     * /proc/meminfo, /sys/fs/cgroup and /proc/self/cgroup; tests name files of
     * their own (BUSMON_TEST_PROC_STAT, ..., main.c) (borrowed) */
    const char *proc_stat;
    const char *proc_meminfo;
    const char *cgroup_root;
    const char *proc_self_cgroup;
} bm_alerting_opts;

/*
 * The engine from the rules, subscribed to `sampler` (start it after),
 * reading the view (state/view.h; only the judge evaluates), notifying
 * through `outputs` (all borrowed). With
 * rules->enabled false, an object that does nothing.
 * @return the alerting (caller frees), or NULL with the reason logged.
 */
bm_alerting *bm_alerting_new(const bm_alerting_opts *o, struct bm_loop *loop,
                             struct bm_sampler *sampler, const bm_view *view,
                             struct bm_outputs *outputs);
void bm_alerting_free(bm_alerting *al);

/* No more evaluations (the stop path). */
void bm_alerting_stop(bm_alerting *al);

void bm_alerting_get_stats(const bm_alerting *al, bm_alerting_stats *out);
/* Alerts pending and firing now, and instances refused by the bound. */
void bm_alerting_get_counts(const bm_alerting *al, uint64_t *pending, uint64_t *firing,
                            uint64_t *refused);
int bm_alerting_enabled(const bm_alerting *al);

/* The engine, for the checkpoint (NULL when alerting is off). Borrowed. */
struct alerts *bm_alerting_engine(bm_alerting *al);

/*
 * /api/alerts, in the shape of `busmon alerts --json`: {"firing": [records,
 * severity first], "updated": time of the last evaluation or null, "agent",
 * "history": [the last history_max transitions, newest first; repeats are
 * not kept in memory], "enabled"}. al may be NULL (nothing firing).
 * @return a new object, or NULL (out of memory).
 */
struct json_t *bm_alerting_api_json(const bm_alerting *al, size_t history_max);

#endif
