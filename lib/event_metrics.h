/*
 * event_metrics.h - event counts, rates, latency and throughput over the
 * three windows (the EventMonitor's metrics of the Python monitoring guides).
 *
 * Per window (1 min, 5 min, performance window - the same periods as
 * lib/worker_stats.h): total events; per type (command, result, error,
 * other) count, share, success and error counts (errors are failures and
 * timeouts; the timeouts are also counted apart); success / error rate over
 * answers; average and p95 command -> answer latency; throughput per minute
 * and peak throughput (the busiest period, scaled to a minute). A late
 * answer (EVENT_METRICS_LATE) is in the totals only: its command's outcome
 * was counted already.
 *
 * State (event_metrics_save / _load / _merge): the windows of each class
 * (lib/window.h's layout) and the totals since start, per event type:
 *
 *   { "windows": { "command" | "result" | "error" | "other" | "all":
 *                    [window 1m, window 5m, window perf] },
 *     "totals":  { "<event type name>": [total, failed, timeouts, late], ... },
 *     "since": µs }   the first time watched (absent in older saves: 0)
 *
 * (A checkpoint written before timeouts and late answers were apart has
 * [total, failed]: its timeouts are among the failed and its late are 0.)
 *
 * Merging adds the totals and merges the windows period by period, so the
 * merged metrics are those of one table fed both streams of events (the
 * peak period too: the "all" windows merge like the others), watched since
 * the earlier of the two times (of those set).
 *
 * Pure: time comes in as now_us. Memory does not grow with the number of events.
 */
#ifndef BM_LIB_EVENT_METRICS_H
#define BM_LIB_EVENT_METRICS_H

#include <stdint.h>

#include "../proto/event.h"
#include "../proto/rollup.h"
#include "window.h"

typedef struct event_metrics event_metrics;

/* @return the metrics, or NULL. perf_window_us: the third window (default 60 min). */
event_metrics *event_metrics_new(int64_t perf_window_us);
void event_metrics_free(event_metrics *m);

/* An answer that is not an outcome (came after busmon called its command
 * timed out): counted in the totals only, as "late". */
#define EVENT_METRICS_LATE (-1)

/*
 * Count one event at now_us (watched from then on: event_metrics_watch).
 * `outcome`, for results and errors: a bm_outcome (lib/window.h: 0
 * success, 1 failure, 2 timeout; an error is a failure unless it says
 * timeout), or EVENT_METRICS_LATE; ignored for the other types.
 * `latency_us` >= 0 when the event is an answer paired with its command
 * (its duration), else -1.
 */
void event_metrics_add(event_metrics *m, bm_event_type type, int outcome, int64_t latency_us,
                       int64_t now_us);

/* The metrics are told of now_us, with or without an event (a rollup at
 * that time): their windows count from the first such time on, so a
 * window's rates divide by the part of it watched since then when that is
 * longer than the part holding data (bm_window_watched_us). One event after
 * a quiet hour is 1 a minute over the last minute, not 60. */
void event_metrics_watch(event_metrics *m, int64_t now_us);

/* The latency of an answer counted earlier without one (read before its
 * command): into its type's latency figures at now_us; nothing is counted
 * again. Ignored for types that are not answers, and for latency_us < 0. */
void event_metrics_add_latency(event_metrics *m, bm_event_type type, int64_t latency_us,
                               int64_t now_us);

/* Fill the three windows at now_us. */
void event_metrics_snapshot(const event_metrics *m, int64_t now_us, bm_event_window out[BM_WINDOWS]);

/* Counts since start (for Prometheus counters). */
uint64_t event_metrics_total(const event_metrics *m, bm_event_type type);
/* ... of which failures (results with ok=0, errors), timeouts apart, since start. */
uint64_t event_metrics_total_failed(const event_metrics *m, bm_event_type type);
/* ... of which timeouts (error type "timeout"), since start. */
uint64_t event_metrics_total_timeouts(const event_metrics *m, bm_event_type type);
/* ... of which late answers (EVENT_METRICS_LATE), since start. */
uint64_t event_metrics_total_late(const event_metrics *m, bm_event_type type);

struct msgpack_packer;
struct msgpack_object;

/* Write the metrics (layout above). @return 0, or -1 (the packer's writer failed). */
int event_metrics_save(const event_metrics *m, struct msgpack_packer *pk);

/*
 * Replace the metrics with those saved in o (made with the same performance
 * window, else BM_LOAD_MISMATCH). A type name this build does not know is
 * left out. @return 0, or a bm_load_status (lib/state_codec.h) with the
 * reason in err; m is unchanged then.
 */
int event_metrics_load(event_metrics *m, const struct msgpack_object *o, char *err, size_t errlen);

/* dst += src (dst != src). @return 0, or -1 (out of memory or windows of
 * another shape: dst holds part of src). */
int event_metrics_merge(event_metrics *dst, const event_metrics *src);

#endif
