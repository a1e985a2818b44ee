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
 * answer is paired when it arrives. A paired answer's duration is the
 * reported `duration_us` when the worker gave one, else answer.ts - command.ts.
 * An answer without a worker takes the worker of the command it answers.
 */
#ifndef BM_LIB_TRACE_H
#define BM_LIB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/event.h"

typedef enum { TRACE_RUNNING = 0, TRACE_COMPLETED, TRACE_FAILED } trace_status;

/* "running", "completed", "failed". */
const char *trace_status_name(trace_status st);

/* One event kept in a trace. `ev`'s strings are owned by the trace. */
typedef struct {
    bm_event ev;
    int64_t duration_us; /* answers: step duration once paired (or reported); -1 unknown */
    int32_t paired;      /* index in the trace of the command / answer it pairs with; -1 */
} trace_event;

typedef enum {
    TRACE_ADD_OK = 0,
    TRACE_ADD_DUPLICATE, /* an event with the same id is already there: nothing changed */
    TRACE_ADD_FULL,      /* the trace holds max_events already: event not kept */
    TRACE_ADD_NOMEM
} trace_add_result;

typedef struct trace trace;

/* @return an empty trace for transaction `tx` (copied), or NULL (out of memory). */
trace *trace_new(const char *tx);
void trace_free(trace *t);

const char *trace_tx(const trace *t);

/*
 * Add one event (copied). ev->id must be non-empty and ev->ts_us set (the
 * caller fills them from the stream entry when the producer did not).
 * Events are kept ordered by ts_us (ties keep arrival order). Index
 * positions change on insertion: use *added_out immediately, not later.
 * @param added_out  when not NULL and the result is TRACE_ADD_OK, set to the
 *                   kept event (with its pairing and duration as of now).
 * @return TRACE_ADD_OK, _DUPLICATE (same id seen), _FULL, or _NOMEM.
 */
trace_add_result trace_add(trace *t, const bm_event *ev, size_t max_events,
                           const trace_event **added_out);

size_t trace_count(const trace *t);
/* Borrowed; valid until the next trace_add or trace_free. */
const trace_event *trace_at(const trace *t, size_t i);

/*
 * The status: `failed` when a status event said failed, or when a step's
 * latest outcome is a failure (error, result with ok=0, timeout) not followed
 * by a success of the same step and worker; `completed` when a status event
 * said completed, or every command is answered and none failed; else
 * `running`.
 */
trace_status trace_get_status(const trace *t);

/* Last event time - first event time, µs; 0 for fewer than two events. */
int64_t trace_duration_us(const trace *t);
int64_t trace_first_ts_us(const trace *t);
int64_t trace_last_ts_us(const trace *t);

/*
 * The lifecycle stage of one event, for people:  command "dispatched", a timeout (error type "timeout") "timed_out",
 * result "completed", failed result / error "failed", status events their
 * status text, compensation "compensating", custom "custom".
 */
const char *trace_event_stage(const trace_event *e);

/* Approximate heap bytes held by the trace (for the memory figures). */
size_t trace_heap_bytes(const trace *t);

#endif
