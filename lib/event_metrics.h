/*
 * event_metrics.h - event counts, rates, latency and throughput over the
 * three windows (the EventMonitor's metrics of the Python monitoring guides).
 *
 * Per window (1 min, 5 min, performance window - the same periods as
 * lib/worker_stats.h): total events; per type (command, result, error,
 * other) count, share, success and error counts; success / error rate over
 * answers; average and p95 command -> answer latency; throughput per minute
 * and peak throughput (the busiest period, scaled to a minute).
 * Pure: time comes in as now_us. Memory does not grow with the number of events.
 */
#ifndef BM_LIB_EVENT_METRICS_H
#define BM_LIB_EVENT_METRICS_H

#include <stdint.h>

#include "../proto/event.h"
#include "../proto/rollup.h"

typedef struct event_metrics event_metrics;

/* @return the metrics, or NULL. perf_window_us: the third window (default 60 min). */
event_metrics *event_metrics_new(int64_t perf_window_us);
void event_metrics_free(event_metrics *m);

/*
 * Count one event at now_us. `failed`: for results, 1 when ok=0; errors are
 * failed by type. `latency_us` >= 0 when the event is an answer paired with
 * its command (its duration), else -1.
 */
void event_metrics_add(event_metrics *m, bm_event_type type, int failed, int64_t latency_us,
                       int64_t now_us);

/* Fill the three windows at now_us. */
void event_metrics_snapshot(const event_metrics *m, int64_t now_us, bm_event_window out[BM_WINDOWS]);

/* Counts since start (for Prometheus counters later). */
uint64_t event_metrics_total(const event_metrics *m, bm_event_type type);
/* ... of which failed (results with ok=0, errors), since start. */
uint64_t event_metrics_total_failed(const event_metrics *m, bm_event_type type);

#endif
