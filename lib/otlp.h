/*
 * otlp.h - busmon's transactions and worker figures in OpenTelemetry's
 * OTLP/HTTP JSON encoding (the protobuf messages of opentelemetry-proto,
 * written with OTLP's JSON mapping: ids as lowercase hex, enums as
 * integers, 64-bit integers as decimal strings, field names lowerCamelCase).
 *
 * One transaction is one OTel trace:
 *
 *   traceId  = the transaction id itself when it is 32 hex digits (with or
 *              without a UUID's dashes), else FNV-1a 128 of its bytes, each
 *              half mixed by a 64-bit finaliser: the same on every agent
 *              and every re-export
 *   root     spanId = id(traceId, its first event's id): one transaction
 *            exported again with only what came since (its trace left memory,
 *            another agent took it over) has a root of its own, never a
 *            second span of the same id (Tempo keeps one, Jaeger flags both);
 *            name "transaction", kind INTERNAL,
 *            first event .. last event, status from the transaction
 *            (completed OK; failed, compensated, cancelled ERROR; running
 *            UNSET), events: status,
 *            compensation, answers without a command (unpaired, late, or
 *            a compensation's: busmon.paired true), errors of no step
 *   step     spanId = id(traceId, command id), parent = root, one per
 *            command; name "<worker>/<step>", kind CONSUMER, command time ..
 *            answer time (unanswered: .. the transaction's last event, and
 *            busmon.answered false), status OK, or ERROR with the error
 *            type and message; a timeout is also a span event "timeout"
 *
 * Worker figures are OTLP metrics (bm_otlp_metrics_fragment), the duration
 * an ExponentialHistogram mapped from busmon's log-bucket sketch
 * (lib/histogram.h) by bm_otlp_exphist_from, which says how the scale is
 * chosen and how far off a value can be.
 *
 * Pure: no I/O, no clock; the caller's buffer grows, nothing else is kept.
 */
#ifndef BM_LIB_OTLP_H
#define BM_LIB_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "trace.h"

/* A growing text buffer; `failed` once an allocation failed (then len stops growing). */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} bm_otlp_buf;

void bm_otlp_buf_init(bm_otlp_buf *b);
void bm_otlp_buf_deinit(bm_otlp_buf *b);
void bm_otlp_buf_reset(bm_otlp_buf *b);
void bm_otlp_buf_add(bm_otlp_buf *b, const char *s, size_t n);
/* Append s as a JSON string (quoted; control characters escaped, invalid UTF-8 as U+FFFD). */
void bm_otlp_buf_str(bm_otlp_buf *b, const char *s);

/* ---- ids ------------------------------------------------------------------ */

/* The trace id of a transaction (above). */
void bm_otlp_trace_id(const char *tx, uint8_t out[16]);
/* A step's span id in a trace, from its command id. Never all zero. */
void bm_otlp_span_id(const uint8_t trace_id[16], const char *key, uint8_t out[8]);
/* The root's, from the id of the first event exported with it (above). Never all zero. */
void bm_otlp_root_span_id(const uint8_t trace_id[16], const char *first_event_id, uint8_t out[8]);
/* n bytes as 2n lowercase hex digits and a NUL into out. */
void bm_otlp_hex(const uint8_t *b, size_t n, char *out);

/* ---- traces --------------------------------------------------------------- */

/* What the spans of one transaction came to. */
typedef struct {
    size_t spans;  /* root + one per command */
    size_t events; /* span events */
} bm_otlp_span_count;

/*
 * Append the spans of t as JSON objects, separated by commas (no brackets),
 * with a comma before the first when out is not empty. `sampled_by` (may be
 * NULL) becomes the root's busmon.sampling.reason.
 * @return 0, or -1 out of memory (out->failed).
 */
int bm_otlp_trace_spans(const trace *t, const char *sampled_by, bm_otlp_buf *out,
                        bm_otlp_span_count *count);

/* The resource every request names. */
typedef struct {
    const char *service_name;        /* service.name */
    const char *service_instance_id; /* service.instance.id: the agent's consumer name */
    const char *service_version;     /* service.version, or NULL */
} bm_otlp_resource;

/*
 * A whole ExportTraceServiceRequest around `spans` (objects separated by
 * commas, as bm_otlp_trace_spans writes them), into out (reset first).
 * @return 0 or -1 (out of memory).
 */
int bm_otlp_traces_request(const bm_otlp_resource *r, const char *spans, size_t len,
                           bm_otlp_buf *out);

/* ---- the exponential histogram ---------------------------------------------- */

/*
 * busmon's sketch puts a value v (µs) in bucket i with g^(i-1) < v <= g^i,
 * g = (1+a)/(1-a), a = 1 %, and represents it by r_i = 2 g^i / (g+1),
 * within a of v. OTLP's ExponentialHistogram at scale s has buckets
 * (base^k, base^(k+1)], base = 2^(2^-s). The mapping puts all of busmon's
 * bucket i in the OTLP bucket holding r_i (converted to `unit_us`: 1e6 for
 * seconds). So a value counted in OTLP bucket k lies in
 *   ( base^k / (1+a),  base^(k+1) / (1-a) ]
 * its bucket widened by the sketch's 1 %; a reader estimating it by the
 * bucket's midpoint 2 base^(k+1) / (base+1) is off by at most
 *   (1 + (base-1)/(base+1)) (1+a) / (1-a)... bounded by bm_otlp_exphist_error(s).
 * Scale: the finest s <= BM_OTLP_MAX_SCALE whose index range holds every
 * used bucket within max_buckets (the OTel SDKs' default 160); scale 6
 * (base 1.0109) is already finer than the sketch (g = 1.0202), so a finer
 * one would only add empty buckets. Going down a scale halves the index
 * (k >> 1), as OTel's own downscaling does: 1 µs .. 1 h in 160 buckets is
 * scale 2 (base 1.19).
 */
#define BM_OTLP_MAX_SCALE   6
#define BM_OTLP_MAX_BUCKETS 160

typedef struct {
    int32_t scale;
    int32_t offset;       /* index of counts[0] */
    uint64_t *counts;     /* n, owned (free with bm_otlp_exphist_deinit) */
    uint32_t n;
    uint64_t count;       /* values, = sum of counts */
    double sum, min, max; /* in the unit */
} bm_otlp_exphist;

/* @return 0, or -1 out of memory. An empty h gives n 0, scale BM_OTLP_MAX_SCALE. */
int bm_otlp_exphist_from(const bm_hist *h, double unit_us, uint32_t max_buckets,
                         bm_otlp_exphist *out);
void bm_otlp_exphist_deinit(bm_otlp_exphist *e);
/* The OTLP bucket index of a value (in the unit) at a scale. */
int32_t bm_otlp_exphist_index(double v, int32_t scale);
/* The most a midpoint estimate of a value is off, relative, at scale s (above). */
double bm_otlp_exphist_error(int32_t scale);

/* ---- metrics ---------------------------------------------------------------- */

/* One worker's figures for one export. */
typedef struct {
    const char *worker;
    int64_t start_us; /* its cumulative points' start; 0: the call's start_us */
    uint64_t successes, failures, timeouts; /* since its start */
    uint32_t in_flight;
    int health;             /* bm_health: 0 unknown, 1 healthy, 2 degraded, 3 failed, 4 inactive */
    const bm_hist *duration; /* answers' durations above 0 since start_us (µs); may be NULL */
    uint64_t zero_durations; /* ... and those of 0: the histogram's zeroCount */
} bm_otlp_worker_point;

/*
 * The metrics of n workers as JSON Metric objects separated by commas:
 *   busmon.worker.executions  Sum, monotonic, cumulative, {executions}, by worker and status
 *                             (success, failure, timeout)
 *   busmon.worker.duration    ExponentialHistogram, cumulative, s, by worker; durations
 *                             of 0 in zeroCount (zero_threshold 0), the others in positive
 *   busmon.worker.in_flight   Gauge, {commands}, by worker
 *   busmon.worker.health      Gauge, the health code above, by worker
 * Cumulative points start at their worker's start_us, else at start_us;
 * every point is at now_us.
 * @return 0, or -1 out of memory.
 */
int bm_otlp_metrics_fragment(const bm_otlp_worker_point *w, size_t n, int64_t start_us,
                             int64_t now_us, bm_otlp_buf *out);

/* A whole ExportMetricsServiceRequest around `metrics`, into out (reset first). */
int bm_otlp_metrics_request(const bm_otlp_resource *r, const char *metrics, size_t len,
                            bm_otlp_buf *out);

#endif
