/*
 * monitor.h - the agent's monitoring state beside the traces: worker
 * performance and health, event metrics, error patterns (lib/), fed from
 * each event the trace store kept, and turned into a rollup (proto/rollup.h)
 * on the rollup timer. No I/O here: publishing is ingest.c's job.
 *
 * State (bm_monitor_save / _load / _merge): the three parts and the
 * monitor's own counter, each part in its module's layout:
 *
 *   { "workers": lib/worker_stats.h, "events": lib/event_metrics.h,
 *     "errors": lib/error_patterns.h, "refused_events": uint,
 *     "metrics": lib/custom_metrics.h }   (absent in saves made before
 *                                          metric events: none)
 *
 * A merge of monitors each fed part of the events (whole transactions on
 * one side: pairing is per transaction) gives the figures of one monitor
 * fed every event: counts and sums add, sketches merge bucket by bucket,
 * min / max combine, last seen is the latest. Health is judged again by the
 * next worker_stats_evaluate (lib/worker_stats.h has the rule).
 */
#ifndef BM_AGENT_MONITOR_H
#define BM_AGENT_MONITOR_H

#include <stdint.h>

#include "lib/custom_metrics.h"
#include "lib/error_patterns.h"
#include "lib/event_metrics.h"
#include "lib/trace.h"
#include "lib/worker_stats.h"
#include "proto/rollup.h"

typedef struct {
    worker_stats_config wcfg;
    worker_stats *workers;
    event_metrics *events;
    error_patterns *errors;
    custom_metrics *metrics;    /* business metrics (metric events) */
    custom_metrics_config mcfg; /* its configuration */
    /* rollup buffers, reused */
    bm_worker_snapshot *snap_workers;
    size_t cap_workers;
    bm_error_pattern *snap_patterns;
    size_t cap_patterns;
    uint64_t workers_refused_events; /* events whose worker was refused (bound) */
    size_t max_patterns;             /* as given to bm_monitor_init (0 = default) */
} bm_monitor;

/* @return 0, or -1 (out of memory). cfg copied; its max_idle_us bounds the
 * error patterns' idleness too. max_patterns 0 = default. The metrics
 * table has the defaults of lib/custom_metrics.h with cfg's performance
 * window, until bm_monitor_set_metrics. */
int bm_monitor_init(bm_monitor *m, const worker_stats_config *cfg, size_t max_patterns);

/* Configure the business metrics table (before anything is counted: what
 * it held is dropped). mc's perf_window_us is the workers'. @return 0 / -1. */
int bm_monitor_set_metrics(bm_monitor *m, const custom_metrics_config *mc);

/* A metric event (ev->metric_name not ""): counted in the metrics table at
 * now_us. @return what the table did with it. */
custom_metrics_result bm_monitor_on_metric(bm_monitor *m, const bm_event *ev, int64_t now_us);
void bm_monitor_deinit(bm_monitor *m);

/*
 * An event the trace store kept (APPLIED) in trace t, with its pairing as
 * of now (busmon's own timeouts too: they are error events of t). What it
 * counts:
 *   command       in flight for its worker while unanswered, unless t is
 *                 closed (trace_closed_by: nothing of a closed trace is
 *                 awaited); one that takes an answer read before it
 *                 (te->answered_early) adds that answer's duration, now
 *                 known, to the event metrics' latency and its worker's
 *                 figures (none when the worker
 *                 reported one: counted with the answer), or, when the
 *                 answer named no worker and so counted for none, counts
 *                 the execution for the worker it takes from the command;
 *   result/error  one execution of its outcome (trace_event_outcome: the
 *                 framework's and busmon's timeouts are timeouts, not
 *                 failures) for its worker, the event metrics, and the
 *                 error patterns (failures and timeouts); in flight goes
 *                 down when it answers a command counted there. A late
 *                 answer (te->late: first outcome wins) is no execution:
 *                 it counts in the event totals as late and as seen for
 *                 its worker. An answer to a compensation is an execution
 *                 of its worker, never one it had in flight;
 *   compensation  nothing for any worker (its name is the undoing action,
 *                 and no answer is awaited), but an answer read before it
 *                 is completed as a command's is;
 *   status        seen for its worker; the one that closes t (the first
 *                 final status) takes t's unanswered commands out of
 *                 flight.
 * t may be NULL (an event counted outside any trace: nothing is closed).
 */
void bm_monitor_on_event(bm_monitor *m, const trace *t, const trace_event *te, int64_t now_us);

/* A trace leaves memory (evicted or expired): its unanswered commands will
 * never be answered here, so they stop counting in flight (those of a
 * closed trace stopped when it closed). */
void bm_monitor_on_trace_dropped(bm_monitor *m, const trace *t);

/* Command `cmd` (counted in flight) was answered at another agent, which
 * counted the answer: it stops counting in flight here, and nothing else. */
void bm_monitor_answered_elsewhere(bm_monitor *m, const char *worker);

struct msgpack_packer;
struct msgpack_object;

/* Write the state (layout above). @return 0, or -1 (the packer's writer failed). */
int bm_monitor_save(const bm_monitor *m, struct msgpack_packer *pk);

/*
 * Replace m's state with the one saved in o. m must be made with the
 * configuration of the monitor that saved it (the windows' shapes, else
 * BM_LOAD_MISMATCH); the bounds are m's (what they refuse is counted).
 * @return 0, or a bm_load_status (lib/state_codec.h) with the reason in
 * err; m is unchanged then.
 */
int bm_monitor_load(bm_monitor *m, const struct msgpack_object *o, char *err, size_t errlen);

/* dst += src (dst != src, same configuration; rules above).
 * @return 0, or -1 (out of memory: dst holds part of src). */
int bm_monitor_merge(bm_monitor *dst, const bm_monitor *src);

/* Workers' health from the judge's monitor (worker_stats_adopt_health). */
void bm_monitor_adopt_health(bm_monitor *dst, const bm_monitor *src);

/* Exchange the states (workers, events, errors, counters) of two monitors
 * made with the same configuration; each keeps its rollup buffers. */
void bm_monitor_swap(bm_monitor *a, bm_monitor *b);

/* The event and business metrics are watched from now_us on, if not before
 * (event_metrics_watch, custom_metrics_watch): a rate after a quiet spell is
 * taken over the time watched. An agent in a cluster rolls up a merged copy,
 * so it watches its own monitor with this whenever it makes one. */
void bm_monitor_watch(bm_monitor *m, int64_t now_us);

/* Build a rollup at now_us into *r (arrays borrowed from m until the next call).
 * m is watched from the first rollup on (bm_monitor_watch).
 * @return 0, or -1 (out of memory). */
int bm_monitor_rollup(bm_monitor *m, int64_t now_us, int64_t interval_us, const char *agent,
                      bm_rollup *r);

#endif
