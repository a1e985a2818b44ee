/*
 * trace_store.h - the agent's in-memory working set of transaction traces.
 *
 * A hash table from transaction id to trace (lib/trace.h), with:
 *   - a bound on transactions: adding one more evicts the least recently
 *     updated trace (counted in `evicted`);
 *   - a bound on events per trace: events past it are not kept (counted in
 *     `truncated`), but each one refused is an update of its trace (a full
 *     trace that is busy is not the least recently updated, nor expired);
 *   - dedup by event id within a trace (counted in `duplicates`), so an entry
 *     delivered twice (at-least-once) is applied once;
 *   - retention: trace_store_sweep() drops traces not updated for
 *     `retention_us` (counted in `expired`).
 *
 * The store is the agent's memory, not the record: every kept event is also
 * appended to `busmon:trace:<tx>` in Redis by the agent, and the CLI rebuilds
 * the trace from there. Eviction only forgets pairing and dedup state early.
 *
 * Pure: time comes in as `now_us`; no I/O.
 */
#ifndef BM_LIB_TRACE_STORE_H
#define BM_LIB_TRACE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

typedef struct {
    size_t max_transactions;     /* default 100000 */
    size_t max_events_per_trace; /* default 512 */
    int64_t retention_us;        /* default 24 h */
} trace_store_limits;

typedef struct {
    uint64_t applied;    /* events kept */
    uint64_t duplicates; /* events dropped as already seen (same id, same tx) */
    uint64_t truncated;  /* events dropped because their trace was full */
    uint64_t evicted;    /* traces dropped to respect max_transactions */
    uint64_t expired;    /* traces dropped by retention */
    uint64_t nomem;      /* events dropped for lack of memory */
    size_t transactions; /* traces in memory now */
    size_t events;       /* events in memory now */
} trace_store_stats;

typedef enum {
    TRACE_STORE_APPLIED = 0,
    TRACE_STORE_DUPLICATE,
    TRACE_STORE_TRUNCATED,
    TRACE_STORE_NOMEM
} trace_store_result;

typedef struct trace_store trace_store;

/* @param limits  NULL or zero fields = defaults. @return the store, or NULL. */
trace_store *trace_store_new(const trace_store_limits *limits);
void trace_store_free(trace_store *s);

/*
 * Apply one decoded event (copied): find or create its transaction's trace
 * and add the event. ev->tx, ev->id non-empty and ev->ts_us set by the caller.
 * @param added_out  when not NULL and APPLIED: filled with the kept event (its
 *                   strings borrowed until the next call on the store).
 * @param trace_out  when not NULL: the event's trace (borrowed, same rule),
 *                   or NULL on NOMEM.
 * @return APPLIED, DUPLICATE, TRUNCATED or NOMEM (each counted).
 */
trace_store_result trace_store_apply(trace_store *s, const bm_event *ev, int64_t now_us,
                                     trace_event *added_out, const trace **trace_out);

/* The trace of `tx`, or NULL. Borrowed until the next call that changes the store. */
const trace *trace_store_get(const trace_store *s, const char *tx);

/*
 * Drop traces whose last update is older than now_us - retention_us; at most
 * `max_drop` per call (bounded work per wake-up; 0 = no limit).
 * @return how many were dropped.
 */
size_t trace_store_sweep(trace_store *s, int64_t now_us, size_t max_drop);

/*
 * Called with each trace the store drops (evicted or expired), just before it
 * is freed: `t` is borrowed for the call, and the callback must not call
 * back into the store.
 */
typedef void (*trace_store_drop_cb)(const trace *t, void *arg);

/* Set (or clear, with NULL) the drop callback. */
void trace_store_set_drop_cb(trace_store *s, trace_store_drop_cb cb, void *arg);

void trace_store_get_stats(const trace_store *s, trace_store_stats *out);

/* Call cb for every trace, least recently updated first (cb must not change
 * the store). */
void trace_store_foreach(const trace_store *s, void (*cb)(const trace *t, void *arg), void *arg);

/* Approximate heap bytes held by the store (table + traces). */
size_t trace_store_heap_bytes(const trace_store *s);

#endif
