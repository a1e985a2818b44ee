/*
 * monitor.h - the agent's monitoring state beside the traces: worker
 * performance and health, event metrics, error patterns (lib/), fed from
 * each event the trace store kept, and turned into a rollup (proto/rollup.h)
 * on the rollup timer. No I/O here: publishing is ingest.c's job.
 */
#ifndef BM_AGENT_MONITOR_H
#define BM_AGENT_MONITOR_H

#include <stdint.h>

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
    /* rollup buffers, reused */
    bm_worker_snapshot *snap_workers;
    size_t cap_workers;
    bm_error_pattern *snap_patterns;
    size_t cap_patterns;
    uint64_t workers_refused_events; /* events whose worker was refused (bound) */
} bm_monitor;

/* @return 0, or -1 (out of memory). cfg copied. max_patterns 0 = default. */
int bm_monitor_init(bm_monitor *m, const worker_stats_config *cfg, size_t max_patterns);
void bm_monitor_deinit(bm_monitor *m);

/* An event the trace store kept (APPLIED), with its pairing as of now. */
void bm_monitor_on_event(bm_monitor *m, const trace_event *te, int64_t now_us);

/* A trace leaves memory (evicted or expired): its unanswered commands will
 * never be answered here, so they stop counting in flight. */
void bm_monitor_on_trace_dropped(bm_monitor *m, const trace *t);

/* Build a rollup at now_us into *r (arrays borrowed from m until the next call).
 * @return 0, or -1 (out of memory). */
int bm_monitor_rollup(bm_monitor *m, int64_t now_us, int64_t interval_us, const char *agent,
                      bm_rollup *r);

#endif
