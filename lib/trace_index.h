/*
 * trace_index.h - a transaction's summary, as the trace search index keeps
 * it (proto/README.md §7.2), and the one filter every reader applies to it.
 *
 * The agent builds a summary from its trace each time a batch changed the
 * transaction (trace_index_summarize, trace_index_json) and stores the JSON
 * beside the index's sorted sets; `busmon traces` and /api/traces parse it
 * back (trace_index_parse) and keep what trace_index_matches accepts, so a
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

#define TRACE_INDEX_WORKERS_MAX 8   /* workers named in a summary (the first seen) */
#define TRACE_INDEX_TEXT_MAX    200 /* worker, error type and message cut to this */

typedef struct {
    char tx[256];
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
    char error_type[TRACE_INDEX_TEXT_MAX + 1]; /* the first failed step's, "" none */
    char error[TRACE_INDEX_TEXT_MAX + 1];      /* its message */
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
 * The same JSON as json_dumps(trace_index_json(s), JSON_COMPACT |
 * JSON_PRESERVE_ORDER), byte for byte, written into buf without allocating
 * (the agent writes one per changed transaction). @return its length; when
 * that is >= cap the text was cut (buf holds cap - 1 bytes and a NUL), so
 * call again with more room. TRACE_INDEX_DUMP_MAX always suffices.
 */
size_t trace_index_dump(const trace_summary *s, char *buf, size_t cap);
#define TRACE_INDEX_DUMP_MAX                                                                       \
    (6 * (256 + (TRACE_INDEX_WORKERS_MAX + 2) * (TRACE_INDEX_TEXT_MAX + 1)) + 512)

/*
 * What a summary's index writes must carry, given what was queued for the
 * transaction before (its mark, trace_index_mark_of): bits of
 *   TRACE_INDEX_W_SUMMARY  the summary changed (its JSON's hash): SET it
 *   TRACE_INDEX_W_SET      not in the index set yet, or its start time moved
 *   TRACE_INDEX_W_FAILED   newly failed (or its start moved): ZADD :failed
 *   TRACE_INDEX_W_WORKERS  its workers changed (or its start moved): ZADD
 *                          :w:<worker> for workers[*workers_from..] (from
 *                          0 unless the names before are the ones added
 *                          before, in the same order: the usual append)
 * 0: nothing to write. The mark is updated to s as if the writes were done
 * (they are queued with the batch and sent again until stored).
 */
enum {
    TRACE_INDEX_W_SUMMARY = 1,
    TRACE_INDEX_W_SET = 2,
    TRACE_INDEX_W_FAILED = 4,
    TRACE_INDEX_W_WORKERS = 8,
};
unsigned trace_index_plan(trace_index_mark *mark, const trace_summary *s, uint64_t json_hash,
                          size_t *workers_from);

/* A 64-bit hash of n bytes (the summary JSON's hash for trace_index_plan; in
 * memory only, so it may change between versions). */
uint64_t trace_index_hash(const void *data, size_t n);

/* Parse what trace_index_json wrote. @return 0, or -1 (not a summary). */
int trace_index_parse(const char *json, size_t len, trace_summary *out);

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

/* "2026-11-30T03:11:20.960Z" (ms, UTC). */
void trace_index_format_ms(int64_t ts_us, char *buf, size_t n);

#endif
