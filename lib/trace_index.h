/*
 * trace_index.h - a transaction's summary, what the trace search index is
 * planned from (proto/README.md §7.2), and the one filter every reader
 * applies to it.
 *
 * A summary is made from a trace (trace_index_summarize): the agent makes
 * one from its memory each time a batch changed the transaction, to know
 * which of the index's sorted sets the transaction must join
 * (trace_index_plan); `busmon traces` makes one from the stored records of
 * each candidate the sets propose, /api/traces from the agent's memory. The
 * summary is not stored: both keep what trace_index_matches accepts, so a
 * filter means the same wherever it is applied. The sorted sets only
 * propose candidates: the summary decides.
 *
 * Pure: no I/O, no clock.
 */
#ifndef BM_LIB_TRACE_INDEX_H
#define BM_LIB_TRACE_INDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#define TRACE_INDEX_WORKERS_MAX 8 /* workers named in a summary (the first seen) */
/* workers after those the index's worker sets also hold a transaction
 * under (trace_index_more_workers): 64 in all */
#define TRACE_INDEX_MORE_WORKERS_MAX 56
/* The tx, workers and error type are kept whole: they name the index's sets
 * and are what --worker / --error-type compare, and the decoder accepts none
 * longer than BM_ID_MAX bytes. The error message (free text) is cut to this,
 * between UTF-8 characters. */
#define TRACE_INDEX_TEXT_MAX BM_ID_MAX

typedef struct {
    char tx[BM_ID_MAX + 1];
    trace_status status;
    int timed_out;      /* a step's outcome was a timeout */
    int64_t start_us;   /* first event time */
    int64_t end_us;     /* last event time */
    int64_t duration_us;
    size_t steps;       /* commands (forward steps and compensations) */
    size_t events;
    size_t errors;      /* answers whose outcome is a failure or a timeout */
    size_t n_workers;
    char workers[TRACE_INDEX_WORKERS_MAX][TRACE_INDEX_TEXT_MAX + 1];
    char error_type[TRACE_INDEX_TEXT_MAX + 1]; /* the first failed step's whose failure
                                                * stands (trace_failure_stands), "" none */
    char error[TRACE_INDEX_TEXT_MAX + 1];      /* its message (its start, when longer) */
    size_t error_event; /* that step's answer: trace_get(t, error_event) (when error_type or
                         * error is not ""), whose error_message is the whole message */
} trace_summary;

/* The summary of t as of now. */
void trace_index_summarize(const trace *t, trace_summary *out);

/* Whether the summary is in the "failed" set of the index (its status is in
 * the failed group, or a step timed out). */
int trace_index_is_failed(const trace_summary *s);

/* The summary as a JSON object (caller json_decref's), or NULL (no memory).
 * Times are RFC 3339 with milliseconds and Z, with *_unix_ms beside them. */
json_t *trace_index_json(const trace_summary *s);

/*
 * What a summary's index writes must carry, given what was queued for the
 * transaction before (its mark, trace_index_mark_of): bits of
 *   TRACE_INDEX_W_SET      not in the index set yet, or its start time moved
 *   TRACE_INDEX_W_FAILED   newly failed (or its start moved): ZADD :failed
 *   TRACE_INDEX_W_WORKERS  its workers changed (or its start moved): ZADD
 *                          :w:<worker> for workers[*workers_from..] (from
 *                          0 unless the names before are the ones added
 *                          before, in the same order: the usual append)
 *   TRACE_INDEX_W_MOVED    the start the sets have it under moved (a late,
 *                          earlier event): the writes replace its score.
 *                          Without it they only add where it is missing
 *                          (ZADD NX): a trace new in memory may be a
 *                          transaction seen again after it left memory (or
 *                          after a restart), whose start is earlier than
 *                          the events held, and the index keeps that one.
 * 0: nothing to write. The mark is updated to s as if the writes were done
 * (they are queued with the batch and sent again until stored).
 */
enum {
    TRACE_INDEX_W_SET = 1,
    TRACE_INDEX_W_FAILED = 2,
    TRACE_INDEX_W_WORKERS = 4,
    TRACE_INDEX_W_MOVED = 8,
};
unsigned trace_index_plan(trace_index_mark *mark, const trace_summary *s, size_t *workers_from);

/* A 64-bit hash of n bytes (the workers' names for trace_index_plan; in
 * memory only, so it may change between versions). */
uint64_t trace_index_hash(const void *data, size_t n);

/* Status filter words: the statuses of trace_status_matches, and
 * "timed_out" (a step timed out). @return 1 when the word is one. */
int trace_index_status_valid(const char *want);

typedef struct {
    const char *status;      /* NULL: any */
    const char *worker;      /* NULL: any; else one of the summary's workers */
    int64_t min_duration_us; /* 0: any */
    int64_t since_us;        /* 0: any; else started at or after */
    const char *error_type;  /* NULL: any; exact, case-sensitive */
} trace_filter;

int trace_index_matches(const trace_summary *s, const trace_filter *f);

/* trace_index_matches of s, the summary of t, except that --worker also
 * finds a worker the summary does not name (one after its first
 * TRACE_INDEX_WORKERS_MAX): "a step on the worker", whatever its rank. */
int trace_index_matches_trace(const trace *t, const trace_summary *s, const trace_filter *f);

/* The workers of t after the ones s (its summary) names, in the order first
 * seen, at most max, copied into more: only when s names
 * TRACE_INDEX_WORKERS_MAX (else there are none). The agent adds the
 * transaction to their sets too, so --worker reads it from the worker's set.
 * @return how many. */
size_t trace_index_more_workers(const trace *t, const trace_summary *s,
                                char (*more)[TRACE_INDEX_TEXT_MAX + 1], size_t max);

/* How many workers after a summary's first TRACE_INDEX_WORKERS_MAX a
 * listing counts ("workers_more": `busmon traces --json`, /api/traces). */
#define TRACE_INDEX_MORE_COUNTED 1000

/* The error message of s, the summary of t, whole: s->error holds its first
 * TRACE_INDEX_TEXT_MAX bytes only. @return a string borrowed from t ("":
 * s names no error). */
const char *trace_index_error_whole(const trace *t, const trace_summary *s);

/* text as a JSON string, each byte of an invalid UTF-8 sequence as '?'
 * (jansson refuses text that is not UTF-8: a listing's message must never
 * make its answer fail or fall back to the cut one). @return a new
 * reference, or NULL (no memory). */
json_t *trace_index_text_json(const char *text);

/* "2026-11-30T03:11:20.960Z" (ms, UTC). */
void trace_index_format_ms(int64_t ts_us, char *buf, size_t n);

#endif
