/*
 * state.h - the agent's monitoring state and how an event enters it:
 * the trace store (lib/trace_store.h), the monitor beside it (worker
 * stats, event metrics, error patterns: lib/monitor.h) and the commands
 * waiting for an answer within their timeout_seconds (lib/deadlines.h).
 *
 *   input ──bm_state_apply(ev)──▶ trace_store_apply ──kept──▶ monitor
 *                                        │                 └▶ deadline (commands)
 *                                        └──▶ persist: its trace record
 *   every 250 ms: commands past their deadline (unless their transaction
 *   closed) get a "timeout" error event in their trace (stage timed_out),
 *   fed to the monitor like any answer
 *   every 60 s: traces past retention leave memory
 *
 * Both inputs (streams, pub/sub) apply events here; readers (HTTP, the
 * publisher, alerting) borrow the store and the monitor. No I/O here but
 * the records handed to persist.
 */
#ifndef BM_STATE_STATE_H
#define BM_STATE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state/persist.h"
#include "lib/monitor.h"
#include "lib/trace_store.h"
#include "proto/event.h"

struct bm_loop;
struct alerts;
struct baselines;
struct msgpack_sbuffer;
typedef struct bm_state bm_state;

typedef struct {
    trace_store_limits traces;
    worker_stats_config workers;
    size_t max_error_types; /* 0: default */
    size_t max_timeouts;    /* commands awaiting an answer */
    int64_t timeout_grace_us; /* a timeout is called this long after timeout_seconds */
    int metrics_enabled;      /* metric events aggregated (else untraced only) */
    custom_metrics_config metrics;
} bm_state_opts;

typedef struct {
    uint64_t events_applied; /* kept in a trace */
    uint64_t duplicates;     /* already seen (same id in the trace) */
    uint64_t truncated;      /* trace full */
    uint64_t untraced;       /* valid events with no transaction (custom) */
    uint64_t timeouts;         /* answers that are timeouts: the framework's and busmon's own */
    uint64_t timeouts_noticed; /* of which busmon called (no answer within timeout_seconds + grace) */
    uint64_t late_answers;     /* answers after busmon called their command timed out */
    uint64_t timeouts_awaited; /* commands with timeout_seconds awaiting their answer (gauge) */
    uint64_t timeouts_refused; /* ... not awaited: past pubsub.max_timeouts (never timed out) */
    uint64_t timeout_checks;   /* several agents: stored traces read before a timeout */
    uint64_t answered_elsewhere; /* ... that held the answer (another owner's): no timeout */
    uint64_t nomem;          /* events not kept for lack of memory (read again) */
    uint64_t metric_events;  /* metric events counted in a series */
    uint64_t metric_refused; /* ... refused: series bound, or a kind other than its series' */
} bm_state_stats;

/* @return the state (caller frees), or NULL (out of memory). p is borrowed. */
bm_state *bm_state_new(const bm_state_opts *o, bm_persist *p);
void bm_state_free(bm_state *st);

/*
 * Several agents: a command's answer may have gone to another owner (ours
 * was gone past cluster.stale, or the membership changed while it waited),
 * which applied and counted it there. Before busmon calls a timeout, the
 * command's stored trace (trace_prefix + tx, LRANGE on w) is read: an
 * answer paired with it there ends it without a timeout (out of flight, in
 * its trace in memory, not counted again). Without this, a timeout is
 * called when due. w and trace_prefix are borrowed.
 */
struct bm_writer;
void bm_state_check_stored_answers(bm_state *st, struct bm_writer *w, const char *trace_prefix,
                                   const bm_decode_limits *limits);

/* Start the timeout check (250 ms) and the retention sweep (60 s) on loop. @return 0 / -1. */
int bm_state_start(bm_state *st, struct bm_loop *loop);

/*
 * Apply one decoded event (ts, id and tx already filled): keep it in its
 * trace, feed the monitor, queue its trace record, track its timeout.
 * `redelivered`: the entry may have been applied before (own pending list),
 * so a duplicate's record is written again (its first write may be what
 * was lost; readers drop duplicate ids).
 * @return 0 when done with it (kept, duplicate or truncated), -1 when it
 *         could not be kept for lack of memory (do not ack: read it again).
 */
int bm_state_apply(bm_state *st, const bm_event *ev, int64_t now_us, int redelivered);

/* Count a valid event that names no transaction. */
void bm_state_untraced(bm_state *st);

/*
 * A metric event (ev->metric_name not "", ts filled): into the business
 * metrics table at now_us (when enabled; untraced otherwise). A refused
 * one is counted and logged once per burst.
 * @return 0, or -1 out of memory (not kept: read it again).
 */
int bm_state_metric(bm_state *st, const bm_event *ev, int64_t now_us);

/* Borrowed views for readers. */
const trace_store *bm_state_traces(const bm_state *st);
bm_monitor *bm_state_monitor(bm_state *st);

void bm_state_get_stats(const bm_state *st, bm_state_stats *out);

/*
 * The checkpoint (lib/checkpoint.h) of the state as of now_us: worker
 * figures and health, event metrics, error patterns, the commands awaiting
 * an answer (their trace records, for pairing and timeouts), and the alert
 * engine `al` (may be NULL), covering streams[i] up to ids[i], appended to
 * out. @return 0, -1 (out of memory), or 1: appended, but past the limits
 * an agent of this configuration decodes (bm_checkpoint_limits_for its
 * max_workers and bl's max_keys): the next start would refuse it.
 */
int bm_state_encode_checkpoint(bm_state *st, const char *agent, struct alerts *al,
                               struct baselines *bl, const char *const *streams,
                               const char (*ids)[BM_STREAM_ID_MAX], size_t n, int64_t now_us,
                               struct msgpack_sbuffer *out);

/*
 * Load a checkpoint into the state (and `al`, may be NULL), all or nothing;
 * ids_out[i] gets the last entry id of streams[i] it covers ("" for a
 * stream it does not name). *agent_out and *ts_out say who wrote it, when.
 * @return 0, or -1 with the reason in err (the state is unchanged).
 */
int bm_state_load_checkpoint(bm_state *st, struct alerts *al, struct baselines *bl,
                             const void *data, size_t len, const char *const *streams,
                             char (*ids_out)[BM_STREAM_ID_MAX], size_t n, char *agent_out,
                             size_t agent_len, int64_t *ts_out, char *err, size_t errlen);

#endif
