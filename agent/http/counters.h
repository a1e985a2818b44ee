/*
 * counters.h - the agent's own counters and gauges as one table of rows
 * {name, type, help, label, summary key, where the value is}. The table
 * renders three surfaces, so a new counter is one row and none can be
 * forgotten by one of them:
 *
 *   /metrics          # HELP / # TYPE and one sample per row (or per label)
 *   --summary FILE    the JSON summary at exit ({"entries_read": ..., "alerts": {...}})
 *   /api/stats        its "counters" object (the same keys as the summary)
 *
 * Values come from a snapshot (bm_counter_snapshot) filled in one go from
 * the components' own stats structs (snapshot.c), so the rendering here is
 * pure and testable with a hand-filled snapshot. Each output (sink) is
 * labelled: its rows have one sample per sink, {output="NAME",type="TYPE"}
 * on /metrics, outputs.sinks.NAME.KEY in the JSON. What is not a counter of
 * the agent (workers, error types, events by type, system figures) is
 * rendered next to the table by http/metrics.c.
 */
#ifndef BM_HTTP_COUNTERS_H
#define BM_HTTP_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/acl.h"
#include "agent/core/sampler.h"
#include "agent/core/writer.h"
#include "agent/http/server.h"
#include "agent/inputs/pubsub.h"
#include "agent/inputs/streams.h"
#include "agent/jobs/alerting.h"
#include "agent/jobs/baseline.h"
#include "agent/jobs/cluster.h"
#include "agent/jobs/finisher.h"
#include "agent/jobs/otlp_metrics.h"
#include "agent/jobs/publisher.h"
#include "agent/jobs/sysmon.h"
#include "agent/outputs/outputs.h"
#include "agent/state/persist.h"
#include "agent/state/state.h"
#include "lib/otlp_reply.h"
#include "lib/trace_store.h"

struct evbuffer;
struct json_t;
struct bm_parts_tag;

#define BM_CONNECTIONS   3  /* reader, writer, pub/sub */
#define BM_COUNTER_SINKS BM_OUTPUTS_MAX /* every output is shown */

/* One output's (sink's) counters: outputs/sink.h's bm_sink_stats as values. */
typedef struct {
    uint64_t emitted, sent, failed, retried, dropped, attempt_errors, queue_bytes_dropped;
    uint64_t queued; /* gauge */
} bm_counter_sink;

/* What labels an output's samples, borrowed from the sink (valid while the
 * outputs are): its name and type; in the JSON its format too. */
typedef struct {
    const char *name, *type, *format;
} bm_counter_sink_label;

/* Every value the table reads, taken at one moment. */
typedef struct {
    bm_stream_input_stats in;
    bm_pubsub_input_stats ps;
    bm_state_stats st;
    bm_persist_stats persist;
    bm_writer_stats writer;
    bm_publisher_stats pub;
    bm_alerting_stats al;
    bm_sysmon_stats sys;
    bm_sampler_stats sampler;
    bm_cluster_stats cluster;
    bm_http_stats http;
    bm_finisher_stats fin;
    bm_otlp_metrics_stats om;
    bm_baseline_job_stats bl;
    /* derived or read from several places */
    uint64_t decode_errors[BM_DECODE__COUNT]; /* both inputs */
    uint64_t writes_pending;
    uint64_t reconnects; /* the session and the pub/sub input */
    uint64_t resolve_failures; /* likewise */
    uint64_t clock_skew; /* both inputs */
    uint64_t connected[BM_CONNECTIONS];
    uint64_t traces_in_memory, trace_events_in_memory, traces_evicted, traces_expired;
    uint64_t trace_store_bytes;
    uint64_t trace_names, trace_names_refused; /* lib/intern.h */
    uint64_t workers, workers_refused, error_types_refused;
    uint64_t workers_evicted, error_types_evicted;
    uint64_t metric_series, metric_series_refused, metric_series_evicted; /* lib/custom_metrics */
    uint64_t metric_tags_dropped, metric_kind_conflicts;
    uint64_t alerts_enabled, alerts_pending, alerts_firing, alerts_refused;
    uint64_t baselines, baselines_refused, baselines_evicted;
    uint64_t outputs_rate_limited; /* every sink's rate_limited (e-mail) */
    uint64_t otlp_rejected[BM_OTLP__SIGNALS]; /* every sink's otlp_rejected_spans, _points */
    uint64_t otlp_unread[BM_OTLP__SIGNALS];   /* every sink's otlp_unread_traces, _metrics */
    uint64_t redis_denied[BM_ACL__COUNT]; /* NOPERM replies by command (core/acl.h) */
    bm_counter_sink sinks[BM_COUNTER_SINKS]; /* the outputs in order; the first n_sinks shown */
    /* not values (BM_COUNTER_VALUES_BYTES ends before): the outputs' labels */
    size_t n_sinks;
    bm_counter_sink_label sink_labels[BM_COUNTER_SINKS];
} bm_counter_snapshot;

/* The snapshot's values (uint64_t, every one shown by a row): its bytes up to here. */
#define BM_COUNTER_VALUES_BYTES offsetof(bm_counter_snapshot, n_sinks)

typedef enum { BM_COUNTER_TOTAL, BM_COUNTER_GAUGE } bm_counter_type;

/* One row: a scalar, or (label_of != NULL) an array of n_labels values, or
 * (per_sink) one value per output: sinks[i]'s at offset + i * sizeof(bm_counter_sink). */
typedef struct {
    const char *name; /* Prometheus family name */
    bm_counter_type type;
    const char *help;
    const char *summary;      /* key in the summary and /api/stats "counters"; dotted = nested */
    size_t offset;            /* of the uint64_t (or the array's first) in the snapshot */
    const char *label;                /* the label's name for an array row, else NULL */
    const char *(*label_of)(size_t i); /* the label value of slot i (NULL: not shown) */
    size_t n_labels;
    double scale; /* /metrics shows value x scale (µs as seconds: 1e-6); 0: the integer */
    int per_sink; /* labelled {output, type}; summary "outputs.sinks.*.KEY", * the sink's name */
    int zero_unknown; /* a gauge whose 0 means unknown: no family on /metrics, null in the JSON */
    /* 0, or 1 + the offset of the snapshot value whose 0 says this gauge is
     * unknown (no family, null), its own 0 then a value: a figure that may be
     * 0 flagged by the one its source sets (the working set by the use) */
    size_t known_while;
} bm_counter_row;

/* Fill *s from every component in p (agent/parts.h) and the HTTP surface's
 * own counters (http: its server passes them in; zeros when HTTP is off), at
 * once (snapshot.c). Sink labels are borrowed from p's outputs. */
void bm_counters_collect(const struct bm_parts_tag *p, const bm_http_stats *http,
                         bm_counter_snapshot *s);

/* Snapshot fields shown only folded into another row (both inputs' decode
 * errors into decode_errors, the pub/sub input's reconnects into
 * reconnects): {offset, count of uint64_t}, ending with {0, 0}. */
typedef struct {
    size_t offset, n;
} bm_counter_folded;
extern const bm_counter_folded bm_counters_folded[];

/* The table. @return its rows; *n gets the count. */
const bm_counter_row *bm_counter_table(size_t *n);

/* Append every row as Prometheus text (format 0.0.4). @return 0 or -1. */
int bm_counters_render(const bm_counter_snapshot *s, struct evbuffer *out);

/* Set every row into obj by its summary key (nested objects for dotted
 * keys; array rows as {label: value}). @return 0 or -1 (out of memory). */
int bm_counters_to_json(const bm_counter_snapshot *s, struct json_t *obj);

/* Append v as a Prometheus label value: backslash, double quote and newline escaped. */
void bm_counters_put_label(struct evbuffer *out, const char *v);

/* The read batch histogram (streams), rendered beside the table. */
void bm_counters_render_batches(const bm_counter_snapshot *s, struct evbuffer *out);

#endif
