/*
 * streams.h - the main input: Redis Streams read through a consumer group.
 *
 *            reader (may block)                    writer (never blocks)
 *   XREADGROUP ... STREAMS s.. >  ──batch──▶ decode ─▶ bm_state_apply
 *        ▲                                      │
 *        │ next read at once (pipelined with    ▼
 *        │ the writes), held back while the    persist: RPUSH/EXPIRE per tx,
 *        └─ writer is congested  ◀──────────── XADD deadletter, XACK per stream
 *
 * At-least-once: acks go out after the trace writes on the same connection.
 * After any connection loss the session (core/session.h) re-makes both
 * connections, and this input first re-reads this consumer's own pending
 * entries (id 0): whatever was read but not acked comes back, and dedup in
 * the trace store keeps it counted once. An entry that cannot be decoded
 * is copied to the dead-letter stream with the reason, and acked.
 *
 * At the first connection (Redis may come up after the agent: the session
 * waits for it) the consumer groups are made (XGROUP CREATE ... MKSTREAM)
 * and the checkpoint is restored, then reading starts.
 *
 * With `drain`, the loop is asked to stop once every stream is read to its end.
 */
#ifndef BM_INPUTS_STREAMS_H
#define BM_INPUTS_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"

struct bm_loop;
struct bm_session;
struct bm_writer;
struct bm_state;
struct bm_persist;

#define BM_BATCH_BUCKETS 5

/* The upper bounds of the read batch histogram: 1, 10, 100, 1000, 10000. */
extern const unsigned bm_batch_bounds[BM_BATCH_BUCKETS];

typedef struct {
    uint64_t entries_read;    /* stream entries received */
    uint64_t deleted_entries; /* pending entries whose content was trimmed away (acked) */
    uint64_t reads;           /* XREADGROUP calls answered */
    uint64_t paused_reads;    /* reads held back because writes were behind */
    uint64_t lingered;        /* reads put off by linger_ms after a read that was not full */
    uint64_t decode_errors[BM_DECODE__COUNT]; /* entries not decoded, by reason */
    /* entries per non-empty XREADGROUP reply: cumulative counts for le 1, 10, 100, 1000, 10000 */
    uint64_t batch_le[BM_BATCH_BUCKETS];
    uint64_t batches, batch_entries;
    uint64_t largest_read_bytes; /* gauge: the largest reply read so far (fields and values) */
    uint64_t reclaim_rounds;     /* reclaim rounds run */
    uint64_t reclaimed;          /* entries claimed from other consumers, applied */
    uint64_t reclaimed_covered;  /* ... their owner's checkpoint had them: acked, not applied */
    uint64_t poison;             /* entries delivered too often: dead-lettered, not applied */
    uint64_t reclaim_fenced;     /* ... not claimed: their owner wrote a checkpoint after we
                                    read it (alive; what it covers is its own) */
    uint64_t away_checks;        /* checkpoints held to check nothing applied was claimed away
                                    (this agent away long enough to look dead: inputs/away.c) */
    uint64_t away_resets;        /* ... that found a claimed one: started again from the checkpoint
                                    (counted across the restarts: the environment carries it) */
    uint64_t clock_skew; /* event times further than max_clock_skew from the clock: the entry's */
    uint64_t unreadable; /* gauge: streams left out of the reads, their key of another type */
    uint64_t wrong_type; /* times a stream's key was found to hold another type */
} bm_stream_input_stats;

struct bm_stream_input;

typedef struct {
    const char *const *streams; /* borrowed for the input's life */
    size_t n_streams;
    const char *group, *consumer;
    size_t batch;           /* XREADGROUP COUNT */
    int block_ms;           /* XREADGROUP BLOCK (0: none) */
    int drain;              /* stop the loop once the streams are read to their end */
    size_t max_entry_bytes;   /* larger entries are dead-lettered */
    size_t read_budget_bytes; /* one read's reply at most about this (0: 16 MiB) */
    /*
     * Before the first read (after the consumer groups are made): restore
     * what a checkpoint holds, then call done(in, 1); done(in, 0) when the
     * connection went meanwhile (tried again at the next connection).
     * NULL: nothing to restore.
     */
    void (*restore)(void *arg, struct bm_stream_input *in,
                    void (*done)(struct bm_stream_input *in, int ok));
    void *restore_arg;
    /*
     * Several agents (jobs/cluster.h): the agent that owns transaction tx,
     * or NULL when it is this one. An entry of another's transaction is
     * handed to <handoff_prefix><owner> (and acked once that is stored),
     * except entries of stream handoff_idx (this agent's own hand-off
     * stream: always applied here). route NULL: everything is applied here.
     */
    const char *(*route)(void *arg, const char *tx);
    void *route_arg;
    const char *handoff_prefix;
    long handoff_idx; /* -1: none */
    size_t max_id_bytes;       /* longer ids and names are dead-lettered (0: 256) */
    int64_t max_clock_skew_us; /* event times further from the clock become the entry id's
                                  time (0: none) */
    size_t max_deliveries; /* an own pending entry delivered more often is poison (0: no check) */
    int linger_ms; /* after a read that was not full, wait this long before the next (0: read
                    * again at once); not while draining or recovering: fewer, larger reads
                    * when entries trickle in */
} bm_stream_input_opts;

typedef struct bm_stream_input bm_stream_input;

/*
 * The input on `session` (it sets the session's hooks), applying to `state`
 * and acking through `persist`. Everything is borrowed for its life.
 * @return the input (caller frees after the session), or NULL (out of memory).
 */
bm_stream_input *bm_stream_input_new(const bm_stream_input_opts *o, struct bm_loop *loop,
                                     struct bm_session *session, struct bm_writer *writer,
                                     struct bm_state *state, struct bm_persist *persist);
void bm_stream_input_free(bm_stream_input *in);

/* No more reads (the stop path). */
void bm_stream_input_stop(bm_stream_input *in);

void bm_stream_input_get_stats(const bm_stream_input *in, bm_stream_input_stats *out);

/* The streams left out of the reads, their key of another type: up to max
 * names into names. @return how many there are. */
size_t bm_stream_input_unreadable(const bm_stream_input *in, const char **names, size_t max);

/* Wall-clock µs of the first entry read (0: none yet). */
int64_t bm_stream_input_first_entry_us(const bm_stream_input *in);

#endif
