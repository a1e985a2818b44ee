/*
 * persist.h - the ingest path's write-back and its commit order: nothing is
 * acked before Redis has confirmed the writes that carry its effects and
 * the checkpoint that covers it.
 *
 *   one group = the batches of a flush interval Redis (writer connection, pipelined)
 *   ───────────────────────                     ───────────────────────────────────
 *   records: RPUSH <prefix><tx> r.. [; EXPIRE]  ──▶ every reply OK: the group is stored;
 *   dead-letters: XADD <deadletter> MAXLEN ~ N      an error reply or a lost connection:
 *   acks: ids per stream, kept                      the write is sent again after a
 *                                                   backoff (250 ms .. 30 s), until OK
 *   every checkpoint interval (1 s):
 *     reads pause; once no read is in flight the open group is closed, the
 *     state is encoded (the caller's encoder, with the last entry id of each
 *     stream applied so far) and reads go on; once every group it covers is
 *     stored, SET <state key> (at the stop: every group stored first)
 *     SET OK ──▶ XACK the ids of every group it covers (10,000 per command)
 *
 * A group stays open across batches (bm_persist_batch_end) until it is
 * flush_interval old, holds GROUP_BYTES_MAX (1 MiB) of writes or GROUP_ACKS_MAX
 * entries, carries a hand-off, or a checkpoint needs it closed: a
 * transaction's records of that time go out as one RPUSH, the index's new
 * members as one ZADD per set (no summary is stored: readers make it from
 * the records). EXPIRE goes with a
 * trace key's first write only (the record of the transaction's first event
 * in memory, or a redelivered one). The entries of an open group are not
 * acked (they are not stored): the delay of a trace write is the delay of
 * its entries' acks, and a checkpoint closes the open group before it
 * encodes the state, so what it covers is stored (nothing is held in the
 * checkpoint itself).
 *
 * With no checkpoint (interval 0) a group's ids are acked once it is stored.
 * Reading also pauses while more than max_unstored groups are not stored
 * (Redis refusing writes: OOM, a read-only replica), so memory stays bounded
 * and nothing is acked that is not stored.
 *
 * After a crash the entries read but not acked come back: those at or below
 * the confirmed checkpoint's id of their stream are covered by it and are
 * acked without being applied again (bm_persist_seen_before); the others are
 * applied (their trace records may be written twice; readers drop
 * duplicate event ids). After a reset in the same process, those applied
 * since (at or below the stream's mark, their acks queued) are skipped.
 * The mark only counts entries this consumer read: claimed ones live in
 * the claims' consumer (inputs/reclaim.c), and the checkpoint lists those
 * it holds whose acks may be lost ("claimed"), so they are acked, not
 * applied, when found pending again.
 *
 * Not here: decoding (proto/), what the state is (state/state.h, the
 * encoder), which entries to read (inputs/).
 */
#ifndef BM_STATE_PERSIST_H
#define BM_STATE_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/writer.h"
#include "lib/checkpoint.h"
#include "lib/trace_index.h"
#include "proto/event.h"

struct event_base;
struct msgpack_sbuffer;
typedef struct bm_persist bm_persist;

#define BM_STREAM_ID_MAX 48 /* "18446744073709551615-18446744073709551615" fits */

/* Encode the state as of now into out; last_ids[i] is stream i's last entry
 * id whose effects it holds ("" none). @return 0, -1 (not written), or 1:
 * encoded, but larger than a start would decode (not sent, counted as too
 * big, its entries acked once stored). */
typedef int (*bm_persist_encode_cb)(const char (*last_ids)[BM_STREAM_ID_MAX], size_t n_streams,
                                    struct msgpack_sbuffer *out, void *arg);

typedef struct {
    const char *trace_prefix;
    int64_t trace_ttl_s;
    const char *deadletter_stream;
    size_t deadletter_maxlen;
    const char *group;
    const char *const *streams; /* borrowed, n_streams names */
    size_t n_streams;
    const char *state_key;          /* where the checkpoint goes (NULL: no checkpoint) */
    int64_t checkpoint_interval_us; /* 0: no checkpoint, ack once stored */
    int64_t flush_interval_us;      /* a group takes batches this long at most before it is
                                       written (0: each batch is written at its end) */
    size_t max_unstored;            /* groups not yet stored above which reading pauses */
    int64_t state_ttl_ms;           /* the checkpoint key expires after this (0: never); it
                                       outlives the agent while its periods are in the window */
    bm_persist_encode_cb encode;
    void *encode_arg;
    const char *index_key; /* the trace search index's sorted set (NULL: no index) */
    size_t index_max;      /* members kept per index set; the oldest are dropped */
    int64_t index_trim_interval_us; /* a written index set is trimmed at most this often
                                       (0: with every group) */
    int64_t claims_keep_us; /* a claimed entry whose ack was sent is remembered this long, in
                               case the ack was lost (0: 10 min); see bm_persist_claim_acked */
} bm_persist_opts;

/* What the stream input tells persist, and is told. */
typedef struct {
    int (*reads_in_flight)(void *arg); /* reads sent whose reply is not applied yet */
    void (*resume)(void *arg);         /* reading may go on */
} bm_persist_reader;

typedef struct {
    uint64_t acked;             /* entries acknowledged (XACK replies, summed) */
    uint64_t deadletter;        /* copies sent to the dead-letter stream */
    uint64_t deadletter_failed; /* ... that could not be queued (out of memory) */
    uint64_t records;           /* trace records sent (again on retries) */
    uint64_t records_skipped;   /* records the observer left unwritten (none since the finisher
                                   reopens sampled-out transactions) */
    uint64_t batches;           /* groups closed */
    uint64_t retried;           /* writes sent again after a failure */
    uint64_t checkpoints;       /* checkpoints Redis confirmed */
    uint64_t checkpoint_failed; /* ... refused (the next one tries again) */
    uint64_t
        checkpoint_fenced; /* ... held back: a claim came after the gate's check (asked again) */
    uint64_t checkpoint_too_big; /* ... of them longer than Redis takes in one value
                                    (proto-max-bulk-len): refused, or not sent; or larger
                                    than a start decodes: not sent */
    uint64_t checkpoint_bytes;  /* gauge: the last checkpoint's size */
    uint64_t checkpoint_us;     /* gauge: the last one's encode + round trip, µs */
    uint64_t unstored;          /* gauge: groups not yet stored */
    uint64_t unacked;           /* gauge: entries applied, not yet acked */
    uint64_t covered;           /* entries redelivered that a checkpoint covered (acked only) */
    uint64_t already_queued;    /* ... applied since, their acks queued (nothing done) */
    uint64_t forwarded;         /* entries handed to the agent that owns their transaction */
    uint64_t handoffs_skipped;  /* ... not handed on: no longer ours (claimed elsewhere) when
                                   the guarded hand-off ran (bm_persist_set_handoff_guard) */
    uint64_t handoffs_deadlettered; /* hand-offs refused, the owner's key of another type
                                       (WRONGTYPE), their entry acked all the same (by the EXEC
                                       or the guard script): dead-lettered as
                                       handoff_wrongtype (also in deadletter) */
    uint64_t index_writes;      /* transactions whose index sets were written (each send) */
    uint64_t index_dropped;     /* index entries dropped by the cap (index_max) */
    uint64_t index_expired;     /* index entries dropped for being older than the retention */
    uint64_t claims_acked_again; /* claimed entries found pending again after their ack was
                                    sent (lost, or the agent stopped first): acked only */
    uint64_t claims_forgotten;   /* acked claims dropped from memory by its bound before
                                    claims_keep_us (found pending again, they would be applied) */
} bm_persist_stats;

/* @return a persister (caller frees), or NULL. opts' strings and w are
 * borrowed for its life; its timers run on base. */
bm_persist *bm_persist_new(const bm_persist_opts *opts, bm_writer *w, struct event_base *base);
void bm_persist_free(bm_persist *p);

/* The stream input's hooks (borrowed arg). */
void bm_persist_set_reader(bm_persist *p, const bm_persist_reader *r, void *arg);

/*
 * Told of every trace record before it is queued (ev borrowed for the call):
 * jobs/finisher.c follows transactions this way. `again`: the record of an
 * event already applied, written again (bm_persist_record_again): nothing
 * new happened. @return 1 to leave the record unwritten (its transaction
 * was sampled out; counted in records_skipped), 0 to write it.
 */
typedef int (*bm_persist_observe_cb)(const bm_event *ev, int64_t duration_us, int again, void *arg);
void bm_persist_set_observer(bm_persist *p, bm_persist_observe_cb cb, void *arg);

/* Queue one trace record for `ev` (encoded now; ev may be freed after);
 * first: its trace key may not exist yet (the key's EXPIRE goes with it).
 * @return 0 / -1 nomem. */
int bm_persist_record(bm_persist *p, const bm_event *ev, int64_t duration_us, int first);
/* The record of a redelivered entry whose event is already applied (in
 * memory), written again: its first write may be what was lost. It carries
 * the key's EXPIRE; the observer is told it is one seen before. */
int bm_persist_record_again(bm_persist *p, const bm_event *ev);

/*
 * Queue what the trace search index lacks of transaction s->tx, from its
 * summary (the parts needed are copied), as far as `mark` (its trace's,
 * trace_index_mark_of; used during the call only, and updated) says this
 * agent queued before (trace_index_plan): ZADD <index> <start ms> <tx> when
 * it is not there yet or its start moved; ZADD <index>:failed when it
 * became failed; ZADD <index>:w:<worker> for every worker when its workers
 * changed, and for each of `more` (the workers after the summary's,
 * trace_index_more_workers: ZADD NX again with every summary, as the mark
 * does not remember them). The last summary of a transaction in a group is the one
 * planned from, with what every earlier one of the group needed. Part of the group: acked only once
 * stored. The sets written are trimmed (retention, index_max) and given
 * their EXPIRE at most every index_trim_interval_us, by the group flushed
 * then (or by the checkpoint timer's, or at the finish). No-op without
 * index_key. @return 0 / -1 nomem.
 */
int bm_persist_index(bm_persist *p, const trace_summary *s,
                     const char (*more)[TRACE_INDEX_TEXT_MAX + 1], size_t n_more,
                     trace_index_mark *mark);

/* Entry `id` of stream `stream_idx`, read by this consumer, is applied (its
 * effects are queued): ack it once its group is stored and a checkpoint
 * covers it. It raises the stream's mark, which the checkpoint records.
 * @return 0 / -1. */
int bm_persist_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len);

/* The same for an entry claimed from another consumer: it is held in the
 * claims' own consumer (inputs/reclaim.c), so it does not raise the mark
 * (its id says nothing of what came before it); until acked it is listed
 * for bm_persist_claim_queued. */
int bm_persist_ack_claimed(bm_persist *p, size_t stream_idx, const char *id, size_t id_len);

/*
 * Queue a dead-letter copy: reason, source stream and id (a pub/sub
 * message: its channel and "pubsub"), a human detail, and each original
 * field as f.<name> (names cut to 250 bytes, values to 64 KiB, at most 64
 * fields). Counted in deadletter or deadletter_failed.
 */
void bm_persist_deadletter(bm_persist *p, const char *stream, const char *id, const char *reason,
                           const char *detail, size_t n, const char *const *fields,
                           const size_t *field_lens, const char *const *values,
                           const size_t *value_lens);

/* A hand-off entry's first field: the id of the entry it carries, which
 * stands in for a missing `id` and `ts` as the entry's own id would (not
 * the hand-off's: a new one at each hand-off). */
#define BM_HANDOFF_ID_FIELD "busmon.entry_id"

/*
 * Queue a hand-off: XADD <stream> MAXLEN ~ 1000000 * with BM_HANDOFF_ID_FIELD
 * (entry_id: the entry's id in stream `from`), then the entry's own fields
 * (names and values copied), part of the current group; the XADD goes with
 * the XACK of the entry it came from in one MULTI...EXEC, so an agent killed
 * before its next checkpoint never reads that entry again and hands it on a
 * second time (to an owner that no longer remembers it, or another one).
 * @return 0, or -1 (out of memory).
 */
int bm_persist_forward(bm_persist *p, size_t from, const char *stream, const char *entry_id,
                       size_t n, const char *const *fields, const size_t *field_lens,
                       const char *const *values, const size_t *value_lens);

/* Call fn(arg) whenever a group is about to close (before its writes are
 * sent): the state adds the index summaries it deferred. NULL: none. */
void bm_persist_set_before_close(bm_persist *p, void (*fn)(void *), void *arg);

/* Close the current group and send its writes. @return 0, or -1 when the
 * writer refused them (they are sent again by the retry timer). */
int bm_persist_flush(bm_persist *p);

/* A batch ended: close the current group when it is due (flush_interval old,
 * full, a hand-off in it); otherwise it takes the next batch, and a timer
 * closes it when the interval passes with no batch. @return as flush. */
int bm_persist_batch_end(bm_persist *p);

/* bm_persist_batch_end after the callbacks now running (coalesced): for inputs without batches. */
void bm_persist_flush_soon(bm_persist *p);

/* Reading may go on (no checkpoint waiting for reads, unstored groups under the bound). */
int bm_persist_reads_allowed(bm_persist *p);

/* A read's reply was applied: a waiting checkpoint may go now. */
void bm_persist_poke(bm_persist *p);

typedef enum {
    BM_SEEN_NOT,     /* not applied: apply it */
    BM_SEEN_COVERED, /* the confirmed checkpoint holds it (or it was acked): ack it only */
    BM_SEEN_QUEUED,  /* applied by this process, its ack queued: nothing to do */
} bm_persist_seen;

/* Entry `id` of stream i read again: one of our own pending entries after a
 * reset or a restart, or one Redis serves again as new at or below what
 * this consumer applied (Redis restarted from an older snapshot: the group
 * set back). Was it applied? Counted in `covered` or `already_queued`. */
bm_persist_seen bm_persist_seen_before(bm_persist *p, size_t stream_idx, const char *id);

/* Is claimed entry `id` of stream i applied, its ack queued (not yet sent)? */
int bm_persist_claim_queued(const bm_persist *p, size_t stream_idx, const char *id);

/* Claimed entries applied, their acks queued: the reclaim claims no more
 * above BM_PERSIST_CLAIMS_QUEUED_MAX (each is listed in every checkpoint). */
#define BM_PERSIST_CLAIMS_QUEUED_MAX 16000
size_t bm_persist_claims_queued(const bm_persist *p);

/*
 * Claimed entry `id` of stream i is pending in our claims' consumer again:
 * was it applied here, its ack sent since (and lost: a dropped connection,
 * a refused XACK), or does the checkpoint restored at start list it (the
 * agent stopped between its checkpoint and the XACK)? Then its ack is
 * queued again, it is counted in claims_acked_again and 1 is returned: it
 * must not be applied again. Else 0.
 */
int bm_persist_claim_acked(bm_persist *p, size_t stream_idx, const char *id);

/* The checkpoint's "claimed" into c: the claimed entries whose effects the
 * state holds and whose acks may not have reached Redis (queued, or sent
 * within claims_keep_us). c->claimed is malloc'd (the caller frees it).
 * @return 0 or -1 (out of memory: c has none). */
int bm_persist_claims_fill(const bm_persist *p, bm_checkpoint *c);

/* opts.checkpoint_interval_us: written in the checkpoint, by which other
 * agents' reclaim judges this one alive. */
int64_t bm_persist_checkpoint_interval_us(const bm_persist *p);

/* The restored checkpoint's "claimed" (at start): remembered as sent. */
void bm_persist_restore_claims(bm_persist *p, const bm_checkpoint *c);

/* The last id of stream i this consumer applied ("" none). */
const char *bm_persist_applied_id(const bm_persist *p, size_t stream_idx);

/* A restored checkpoint covers these ids (at start). */
void bm_persist_restore_ids(bm_persist *p, const char (*last_ids)[BM_STREAM_ID_MAX], size_t n);

/* Start the checkpoint timer, once the state is restored (or no checkpoint
 * was found): before, no checkpoint is written (it would replace the one not
 * read yet with an empty state), not even at the stop. Again: nothing.
 * @return 0 or -1. */
int bm_persist_start(bm_persist *p);

/*
 * The stop: close the current group, then a last checkpoint once every
 * group is stored (reads must have stopped), its acks, then done(arg, 0);
 * done(arg, -1) when the writer is gone. Calls done at most once.
 */
void bm_persist_finish(bm_persist *p, void (*done)(void *arg, int rc), void *arg);

/* Write a checkpoint now rather than at the next interval (the leader, after
 * notifications: a successor must not notify them again). */
void bm_persist_checkpoint_soon(bm_persist *p);

/* Writes are failing now: why (the last error reply) into buf. @return 1, or 0. */
int bm_persist_failing(const bm_persist *p, char *buf, size_t n);

/* Redis refuses writes and more than max_unstored groups, or their bytes
 * (max_unstored MiB), wait: an input that cannot pause (pub/sub) drops what
 * it hears rather than grow. */
int bm_persist_backlogged(const bm_persist *p);

void bm_persist_get_stats(const bm_persist *p, bm_persist_stats *out);

/* Wall-clock µs of the last ack reply (0: none yet). */
int64_t bm_persist_last_ack_us(const bm_persist *p);

/* The same for an entry acked without effects in this process's memory:
 * one a confirmed checkpoint covers, handed to its owner, dead-lettered as
 * poison, a claim its owner had applied (claimed: held in the claims'
 * consumer). Left out of bm_persist_applied_since. */
int bm_persist_ack_unapplied(bm_persist *p, size_t stream_idx, const char *id, size_t id_len,
                             int claimed);

/*
 * The checkpoint's gate (inputs/away.c): asked, once every group a
 * checkpoint covers is stored, whether its SET may go. @return 0 to send it
 * now, 1 to hold it until bm_persist_gate_done(p, ok): ok sends it (the
 * gate is not asked again for it), !ok drops it as a refused SET would be
 * (its entries wait for the next checkpoint; at the stop, the finish ends
 * with -1). NULL: none.
 */
typedef int (*bm_persist_gate_cb)(bm_persist *p, void *arg);
void bm_persist_set_gate(bm_persist *p, bm_persist_gate_cb cb, void *arg);
void bm_persist_gate_done(bm_persist *p, int ok);
/*
 * As bm_persist_gate_done(p, 1), the SET behind a fence: it goes only while
 * `mark` still holds `seen` (len bytes; 0: the key not there), in one script
 * with the check. Another value there means a claim came after the gate
 * looked: the SET is not made (checkpoint_fenced) and the gate is asked again
 * for the same checkpoint. Both copied.
 */
void bm_persist_gate_done_fenced(bm_persist *p, const char *mark, const char *seen, size_t len);

/* Mono µs the last checkpoint Redis confirmed was sent (before one: when
 * bm_persist_start ran); another agent's reclaim times this one from it. */
int64_t bm_persist_confirmed_sent_us(const bm_persist *p);

/* Hand-offs sent while the last confirmed checkpoint was sent more than
 * guard_us ago (this agent may look dead), of entries read more than
 * idle_us ago (idle long enough to be claimed), go through a script that
 * hands on and acks only an entry still pending for `consumer` or
 * `claimer` (XPENDING), and skips the rest (another agent claimed it).
 * guard_us 0: never. Names copied. */
void bm_persist_set_handoff_guard(bm_persist *p, int64_t guard_us, int64_t idle_us,
                                  const char *consumer, const char *claimer);

/* Every entry whose effects this process applied since its confirmed
 * checkpoint (its ack queued): stream, id (borrowed for the call) and
 * whether it was claimed (held in the claims' consumer, else in ours). */
typedef void (*bm_persist_applied_cb)(size_t stream_idx, const char *id, int claimed, void *arg);
void bm_persist_applied_since(const bm_persist *p, bm_persist_applied_cb cb, void *arg);

/* Compare two stream entry ids ("ms-seq"): <0, 0, >0. */
int bm_stream_id_cmp(const char *a, const char *b);

#endif
