/*
 * trace.h - one transaction's trace: its events in time order, each answer
 * paired with the command it answers, per-step durations and a status.
 *
 * The same code builds the agent's in-memory traces (one event at a time, as
 * they arrive) and the CLI's view of a stored trace (the records read back
 * from `busmon:trace:<tx>`), so both agree on pairing, stage and status.
 *
 * Pure: no I/O, no clock; a trace owns copies of everything it keeps.
 *
 * Pairing of a result / error (or a failed result) with its command, first
 * match wins:
 *   1. exactly by the command id the answer names (`cmd` == command `id`);
 *   2. by correlation id (`corr` equal and non-empty);
 *   3. by step + worker: the earliest unanswered command with the same step
 *      and worker (an empty worker on the answer matches any worker).
 * Pairing works in both arrival orders: a command that arrives after its
 * answer is paired when it arrives (its view from trace_add says so,
 * `answered_early`, when that answer had never been paired before). An
 * answer that names a request present in the trace answers that one
 * only: a guess (rule 2 or 3) it made before that request arrived is left
 * when it arrives, and the request it leaves looks for an answer again. A
 * paired answer's duration is the reported `duration_us` when the worker
 * gave one, else answer.ts - command.ts. An answer without a worker takes
 * the worker of the command it answers.
 *
 * A compensation is a request too: an answer pairs with it by rules 1 and 2
 * only (its step is the step it undoes, so a step + worker guess would
 * take the forward step's answers). Nobody has to answer a compensation:
 * unanswered, it is a request (stage "requested"), never awaited.
 *
 * First outcome wins: an answer to a command whose outcome busmon already
 * called (its own "timeout" error event, source "busmon") pairs with
 * nothing and is marked `late` (rules 1 and 2 decide which command it
 * answers): it is shown, but it is not the command's outcome.
 *
 * A trace is closed by its first status event with a final status
 * (completed, failed, compensated, cancelled and their synonyms, see
 * trace_get_status): from then on none of its commands is awaited.
 */
#ifndef BM_LIB_TRACE_H
#define BM_LIB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/event.h"
#include "window.h"

typedef enum {
    TRACE_RUNNING = 0,
    TRACE_COMPLETED,
    TRACE_FAILED,
    TRACE_COMPENSATED,
    TRACE_CANCELLED
} trace_status;

/* "running", "completed", "failed", "compensated", "cancelled". */
const char *trace_status_name(trace_status st);

/*
 * The group a status belongs to, for filters and colours: TRACE_FAILED for
 * every unsuccessful end (failed, compensated, cancelled), else st itself.
 * A filter on "failed" matches the whole group (trace_status_matches).
 */
trace_status trace_status_group(trace_status st);

/* Whether st matches the filter word `want` ("running", "completed",
 * "failed", "compensated", "cancelled"): "failed" matches the failed
 * group, any other word its own status only; an unknown word nothing. */
int trace_status_matches(trace_status st, const char *want);

/*
 * One kept event as a reader sees it: a copy the trace fills in (trace_get,
 * trace_add, trace_closed_by), not the trace's own record, which is compact.
 * Its strings are borrowed from the trace: valid until the next trace_add
 * or trace_free. A view is large (~600 bytes): keep it on the stack, one or
 * two at a time. Never copy one (`a = b`): its ev.id, ev.cmd and ev.corr may
 * point into its own text_, so the copy's would still point into the
 * original's (gone once that one's function returns); fill the view you keep
 * with trace_get.
 */
typedef struct {
    int64_t duration_us; /* answers: step duration once paired (or reported); -1 unknown */
    int32_t paired;      /* index in the trace of the command / answer it pairs with; -1 */
    uint8_t late;        /* answers: came after busmon called its command timed out */
    uint8_t answers_compensation; /* answers: paired with a compensation, not a command */
    uint8_t worker_filled;        /* answers: ev.worker is its request's (it names none) */
    uint8_t answered_early;       /* requests, in trace_add's added_out only: the answer it
                                   * took was read before it and never paired (nor late)
                                   * until now: that answer's duration (unless reported),
                                   * and its worker when it names none, are known from now */
    bm_event ev;                  /* ev.tx is the trace's tx; ev.attrs holds ev.n_attrs entries;
                                   * the metric fields are empty */
    char text_[2 * 40 + 128];     /* private: ev.id, ev.cmd, ev.corr when the trace keeps
                                   * them packed (a uuid's 16 bytes, "<tx>.<step>") */
} trace_event;

/*
 * The outcome an event reports, for every count of outcomes (worker stats,
 * event metrics, error patterns, status): a result with ok=1 is
 * BM_OUTCOME_SUCCESS; else a result or error whose error type is "timeout"
 * (any case; the MultiAgents Framework's own timeout, and busmon's) is
 * BM_OUTCOME_TIMEOUT; any other error, or a result with ok=0,
 * BM_OUTCOME_FAILURE; any other result BM_OUTCOME_SUCCESS. -1 for events
 * that are not answers. ("TimeoutError" is an exception's class: a failure.)
 */
int trace_event_outcome(const bm_event *e);

/* Whether e is busmon's own timeout: the error event it adds to a trace
 * when a command's timeout_seconds passed with no answer (source "busmon",
 * error type "timeout"). */
int trace_event_is_busmon_timeout(const bm_event *e);

typedef enum {
    TRACE_ADD_OK = 0,
    TRACE_ADD_DUPLICATE, /* an event with the same id is already there: nothing changed */
    TRACE_ADD_FULL,      /* the trace holds max_events already: event not kept */
    TRACE_ADD_NOMEM
} trace_add_result;

typedef struct trace trace;

/* @return an empty trace for transaction `tx` (copied), or NULL (out of memory). */
trace *trace_new(const char *tx);

/* The same with `room` bytes (8 .. TRACE_ROOM_MAX) in the trace's own
 * allocation for its kept records: while they fit, a trace is one
 * allocation; trace_new's room fits a command and its result. */
#define TRACE_ROOM_MAX 1024
trace *trace_new_sized(const char *tx, size_t room);

/* Bytes of kept records the trace holds (what its room should fit). */
size_t trace_pool_bytes(const trace *t);
void trace_free(trace *t);

const char *trace_tx(const trace *t);

/*
 * Add one event (copied). ev->id must be non-empty and ev->ts_us set (the
 * caller fills them from the stream entry when the producer did not).
 * Events are kept ordered by ts_us (ties keep arrival order). Index
 * positions change on insertion: use *added_out immediately, not later.
 * @param added_out  when not NULL and the result is TRACE_ADD_OK, filled with
 *                   the kept event (with its pairing and duration as of now).
 * @return TRACE_ADD_OK, _DUPLICATE (same id seen), _FULL, or _NOMEM.
 */
trace_add_result trace_add(trace *t, const bm_event *ev, size_t max_events, trace_event *added_out);

size_t trace_count(const trace *t);
/* Fill *out with event i (in time order). @return out, or NULL when i >= trace_count. */
const trace_event *trace_get(const trace *t, size_t i, trace_event *out);

/*
 * The status, the first rule that applies:
 *   cancelled    a status event said cancelled (or canceled);
 *   compensated  a status event said compensated;
 *   failed       a status event said failed (error, timeout), or a step's
 *                outcome is a failure or a timeout not followed by a
 *                success of the same step and worker (late answers and
 *                answers to compensations are not a step's outcome);
 *   completed    a status event said completed (success, done), or every
 *                command is answered;
 *   running      otherwise.
 * Status words are case-insensitive. The order makes the status the same
 * whatever order the events arrived in.
 */
trace_status trace_get_status(const trace *t);

/*
 * Whether a step's outcome is a failure or a timeout not followed by a
 * success of the same step and worker (late answers and answers to
 * compensations are not a step's outcome): the "failed" of
 * trace_get_status that needs no status event. A failed step that was
 * retried into a success is not one.
 */
int trace_step_failed(const trace *t);

/* Event i (trace_get's order) is such a failure: a step's outcome, failed or
 * timed out, not followed by a success of the same step and worker. */
int trace_failure_stands(const trace *t, size_t i);

/*
 * The event that closed the trace: the first status event kept whose status
 * is final (any of the words above), or NULL while it is open. Commands of a
 * closed trace are no longer awaited (no timeout, not in flight). Filled
 * into *out like trace_get; it stays the same event once set.
 */
const trace_event *trace_closed_by(const trace *t, trace_event *out);

/* Whether the trace is closed: trace_closed_by would find an event. */
int trace_is_closed(const trace *t);

/* Last event time - first event time, µs; 0 for fewer than two events. */
int64_t trace_duration_us(const trace *t);
int64_t trace_first_ts_us(const trace *t);
int64_t trace_last_ts_us(const trace *t);

/*
 * The lifecycle stage of one event, for people: command "dispatched";
 * an answer "completed", "failed" or "timed_out" by its outcome, "late"
 * when it came after busmon called its command timed out, and
 * "compensated" / "compensation_failed" when it answers a compensation;
 * status events their status text; compensation "requested" (no answer is
 * expected: the MultiAgents Framework's workers never answer one); custom
 * "custom".
 */
const char *trace_event_stage(const trace_event *e);

/*
 * What the agent last queued of this trace for the trace search index
 * (lib/trace_index.c decides with it, agent/state/persist.c keeps it up to
 * date): a memo kept with the trace so it is bounded by the store and gone
 * with the trace. It is not part of what the trace says, so it is writable
 * through a const trace; zeroed by trace_new.
 */
typedef struct {
    uint64_t workers_hash; /* of the first n_workers names of the summary, in order */
    uint32_t score_lo;     /* the start time (ms) the sets have it under, its low 32
                            * bits: enough to see it move (by less than 49 days) */
    uint8_t n_workers;     /* the summary's workers added to their sets */
    uint8_t indexed;       /* in the index set */
    uint8_t failed;        /* the summary was in the failed group */
    uint8_t queued;        /* changed since its summary was last made (the agent's list) */
    uint32_t expire_s;     /* when its key's EXPIRE was last queued (the agent's wall
                            * clock, s; 0: not yet): agent/state/state.c key_first */
} trace_index_mark;

trace_index_mark *trace_index_mark_of(const trace *t);

/* Approximate heap bytes held by the trace (for the memory figures). */
size_t trace_heap_bytes(const trace *t);

#endif
