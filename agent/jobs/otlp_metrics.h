/*
 * otlp_metrics.h - the workers' figures as OTLP metrics (lib/otlp.h), on
 * topic metrics every otlp.metrics_interval:
 *
 *   executions by worker and outcome   Sum, monotonic, cumulative
 *   duration by worker                 ExponentialHistogram, cumulative
 *   in flight, health by worker        Gauge
 *
 * Executions and durations are counted here from the trace records
 * (persist's observer, through jobs/finisher.c), since this agent started,
 * by the outcome lib/trace.c reads (trace_event_outcome; an answer that
 * came after busmon timed its command out is late, not an execution; the
 * record of a redelivered entry already applied, written again, is no
 * second one): that is the start time of every cumulative point, and the histogram's
 * count is the executions with a known duration. In flight and health are
 * the monitor's (lib/worker_stats.h). Each agent exports its own share, as
 * its own service.instance.id; a backend adds them up.
 *
 * Bounded: at most max_workers workers; a full table evicts the worker
 * whose last answer is max_idle_us old (limits.max_idle, as the monitor
 * does), else refuses the new one (both counted). A worker added after an
 * eviction starts its cumulative points when it was added (the name may be
 * one evicted before, whose counts start again from zero).
 */
#ifndef BM_JOBS_OTLP_METRICS_H
#define BM_JOBS_OTLP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/monitor.h"
#include "lib/trace_store.h"
#include "proto/event.h"

struct bm_loop;
struct bm_outputs;

typedef struct {
    uint64_t exports;         /* metrics bodies offered to the OTLP sinks */
    uint64_t exports_refused; /* ... refused by one (queue full) */
    uint64_t workers_refused; /* answers of workers past max_workers, not counted */
    uint64_t workers_evicted; /* workers idle max_idle_us dropped for a new one */
    uint64_t workers;         /* gauge: workers exported */
    uint64_t early_forgotten; /* answers read before their command, no longer awaited (4096
                                 wait at most): one whose command still comes is not counted,
                                 or counted without its duration */
} bm_otlp_metrics_stats;

typedef struct bm_otlp_metrics bm_otlp_metrics;

/* @return the job (caller frees), or NULL. mon, traces and outputs are borrowed
 * (traces: the state's store, where a record tells whether its answer is late); in-flight
 * and health come from mon->workers, read at each export: a checkpoint restore
 * swaps a new worker_stats into the monitor (bm_monitor_swap) and frees the old. */
bm_otlp_metrics *bm_otlp_metrics_new(int64_t interval_us, size_t max_workers, int64_t max_idle_us,
                                     struct bm_loop *loop, const bm_monitor *mon,
                                     const trace_store *traces, struct bm_outputs *outputs);
void bm_otlp_metrics_free(bm_otlp_metrics *m);

/* A trace record (a persist observer: bm_persist_observe_cb; one written
 * again, `again`, counts nothing). @return 0. */
int bm_otlp_metrics_observe(const bm_event *ev, int64_t duration_us, int again, void *arg);

/* Export now (the stop). */
void bm_otlp_metrics_export(bm_otlp_metrics *m);

void bm_otlp_metrics_get_stats(const bm_otlp_metrics *m, bm_otlp_metrics_stats *out);

#endif
