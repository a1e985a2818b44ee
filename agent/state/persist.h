/*
 * persist.h - the ingest path's write-back: what one batch writes to Redis,
 * in order, through the agent's writer (core/writer.h):
 *
 *   RPUSH <trace_prefix><tx> rec1 rec2 ...   one per transaction touched,
 *   EXPIRE <trace_prefix><tx> <retention>    records in arrival order
 *   XADD <deadletter> MAXLEN ~ N * ...       (sent at once, as they happen)
 *   XACK <stream> <group> id1 id2 ...        one per stream, after the rest
 *
 * all on one connection and pipelined, so Redis applies the trace writes
 * before the acks: a crash between the two re-delivers the entries, and the
 * trace dedup (and the CLI's dedup on read) keeps them counted once.
 *
 * The batch buffers are reused: no allocation per event once warmed up.
 * Not here: decoding (proto/), trace state (lib/, state/state.h), which
 * entries to ack (inputs/).
 */
#ifndef BM_STATE_PERSIST_H
#define BM_STATE_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/writer.h"
#include "proto/event.h"

struct event_base;
typedef struct bm_persist bm_persist;

typedef struct {
    const char *trace_prefix;
    int64_t trace_ttl_s;
    const char *deadletter_stream;
    size_t deadletter_maxlen;
    const char *group;
    const char *const *streams; /* borrowed, n_streams names */
    size_t n_streams;
} bm_persist_opts;

typedef struct {
    uint64_t acked;             /* entries acknowledged (XACK replies, summed) */
    uint64_t deadletter;        /* copies sent to the dead-letter stream */
    uint64_t deadletter_failed; /* ... that could not even be sent (the entry is still acked) */
    uint64_t records;           /* trace records sent */
    uint64_t batches;           /* flushes that sent something */
} bm_persist_stats;

/* @return a persister (caller frees), or NULL. opts' strings and w are
 * borrowed for its life; base runs bm_persist_flush_soon. */
bm_persist *bm_persist_new(const bm_persist_opts *opts, bm_writer *w, struct event_base *base);
void bm_persist_free(bm_persist *p);

/* Queue one trace record for `ev` (encoded now; ev may be freed after). @return 0 / -1 nomem. */
int bm_persist_record(bm_persist *p, const bm_event *ev, int64_t duration_us);

/* Queue the ack of entry `id` of stream number `stream_idx`. @return 0 / -1. */
int bm_persist_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len);

/*
 * Send a dead-letter copy now: reason, source stream and id (a pub/sub
 * message: its channel and "pubsub"), a human detail, and each original field as f.<name>
 * (names cut to 250 bytes, values to 64 KiB, at most 64 fields). Counted in
 * deadletter or deadletter_failed.
 */
void bm_persist_deadletter(bm_persist *p, const char *stream, const char *id, const char *reason,
                           const char *detail, size_t n, const char *const *fields,
                           const size_t *field_lens, const char *const *values,
                           const size_t *value_lens);

/* Send everything queued (records grouped by transaction, then the acks).
 * @return the number of commands sent, or -1 when some were refused (the
 * entries not acked are delivered again). */
long bm_persist_flush(bm_persist *p);

/* Flush after the callbacks now running (coalesced): for inputs without batches. */
void bm_persist_flush_soon(bm_persist *p);

/* Drop what is queued (after a lost connection: the entries are re-delivered). */
void bm_persist_reset(bm_persist *p);

void bm_persist_get_stats(const bm_persist *p, bm_persist_stats *out);

/* Wall-clock µs of the last ack reply (0: none yet). */
int64_t bm_persist_last_ack_us(const bm_persist *p);

/* Heap bytes held by the batch buffers. */
size_t bm_persist_heap_bytes(const bm_persist *p);

#endif
