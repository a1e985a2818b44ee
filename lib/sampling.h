/*
 * sampling.h - tail sampling of transactions: once a transaction is over,
 * keep it or not, and why.
 *
 * Kept, whatever the rate, in this order of reasons: a timed-out step
 * (`timeout`), a failure (`failed`: the transaction's status is failed or
 * cancelled, trace_get_status, or a step failed and was not retried into a
 * success of the same step and worker, trace_step_failed; a step retried
 * into a success is not a failure), a compensation (`compensated`),
 * a slow one (`slow`: the whole transaction or one step longer than the
 * fixed threshold, or one step longer than its worker's current p99). Of
 * the rest, a fraction `rate` (`rate`), chosen by the trace id
 * (lib/otlp.h), so every agent makes the same choice, the same one an
 * OpenTelemetry ratio sampler makes: the trace id's low 56 bits R are kept
 * when R >= (1 - rate) * 2^56. The others are dropped (`sampled_out`).
 * rate 1 (the default) keeps everything (`all`).
 *
 * A dropped transaction's stored trace is replaced by a marker record (a
 * msgpack map, below), so `busmon trace` can say it was sampled out:
 *
 *   { "busmon_sampled_out": true, "rate": float, "events": uint, "at": µs }
 *
 * Its first bytes are always BM_SAMPLING_MARKER_PREFIX (a map of 4, the key,
 * true), so Redis can tell a marker at the head of a stored trace (an EVAL
 * compares them: agent/jobs/finisher.c).
 *
 * Pure: no I/O, no clock.
 */
#ifndef BM_LIB_SAMPLING_H
#define BM_LIB_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

typedef enum {
    BM_SAMPLE_ALL = 0,     /* sampling off: kept */
    BM_SAMPLE_TIMEOUT,     /* kept: a step timed out */
    BM_SAMPLE_FAILED,      /* kept: failed */
    BM_SAMPLE_COMPENSATED, /* kept: compensated */
    BM_SAMPLE_SLOW,        /* kept: slower than the threshold */
    BM_SAMPLE_RATE,        /* kept: in the fraction */
    BM_SAMPLE_SAMPLED_OUT, /* dropped */
    BM_SAMPLE__COUNT
} bm_sample_reason;

/* "all", "timeout", "failed", "compensated", "slow", "rate", "sampled_out". */
const char *bm_sample_reason_name(bm_sample_reason r);

typedef struct {
    double rate;      /* 0..1; 1 keeps everything */
    int64_t slow_us;  /* a transaction or step longer than this is kept; 0: no fixed threshold */
    int slow_p99;     /* a step longer than its worker's current p99 is kept */
} bm_sampling_policy;

/* The current p99 of a worker, µs; <= 0 when not known. */
typedef double (*bm_sampling_p99_cb)(const char *worker, void *arg);

/* Is sampling on at all (rate < 1)? */
int bm_sampling_active(const bm_sampling_policy *p);

/* The rate rule alone, for a transaction id. @return 1 keep, 0 drop. */
int bm_sampling_rate_keeps(const char *tx, double rate);

/* Why t is kept, or BM_SAMPLE_SAMPLED_OUT. p99 may be NULL. */
bm_sample_reason bm_sampling_decide(const bm_sampling_policy *p, const trace *t,
                                    bm_sampling_p99_cb p99, void *arg);

/* ---- the marker ------------------------------------------------------------- */

typedef struct {
    double rate;
    uint64_t events;
    int64_t at_us;
} bm_sampling_marker;

/* The first bytes of every marker bm_sampling_marker_encode writes: fixmap 4,
 * fixstr 18 "busmon_sampled_out", true. */
#define BM_SAMPLING_MARKER_PREFIX                                                                  \
    "\x84\xb2"                                                                                     \
    "busmon_sampled_out"                                                                           \
    "\xc3"

struct msgpack_sbuffer;
/* Append the marker's msgpack map to out. @return 0 or -1. */
int bm_sampling_marker_encode(const bm_sampling_marker *m, struct msgpack_sbuffer *out);
/* @return 1 when data is a marker (filled into *m), 0 otherwise. */
int bm_sampling_marker_parse(const char *data, size_t len, bm_sampling_marker *m);

#endif
