/*
 * persist.h - what one ingest batch writes back to Redis, in order:
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
 * Not here: decoding (proto/) and trace state (lib/).
 */
#ifndef BM_AGENT_PERSIST_H
#define BM_AGENT_PERSIST_H

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"

typedef enum {
    BM_WRITE_TRACE = 0, /* RPUSH / EXPIRE of trace records */
    BM_WRITE_ACK,
    BM_WRITE_DEADLETTER,
    BM_WRITE_OTHER,
    BM_WRITE__COUNT
} bm_write_kind;

/* Called for each reply on the write connection (reply NULL: connection lost). */
typedef void (*bm_write_reply_cb)(bm_write_kind kind, redisReply *reply, void *arg);

typedef struct bm_persist bm_persist;

typedef struct {
    const char *trace_prefix;
    int64_t trace_ttl_s;
    const char *deadletter_stream;
    size_t deadletter_maxlen;
    const char *group;
    const char *const *streams; /* borrowed, n_streams names */
    size_t n_streams;
    bm_write_reply_cb on_reply;
    void *arg;
} bm_persist_opts;

/* @return a persister (caller frees), or NULL. opts' strings are borrowed for its life. */
bm_persist *bm_persist_new(const bm_persist_opts *opts);
void bm_persist_free(bm_persist *p);

/* Queue one trace record for `ev` (encoded now; ev may be freed after). @return 0 / -1 nomem. */
int bm_persist_record(bm_persist *p, const bm_event *ev, int64_t duration_us);

/* Queue the ack of entry `id` of stream number `stream_idx`. @return 0 / -1. */
int bm_persist_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len);

/*
 * Send a dead-letter copy now: reason, source stream and id, a human
 * detail, and each original field as f.<name> (values cut to 64 KiB).
 * @return 0, or -1 when it could not be queued (counted by the caller).
 */
int bm_persist_deadletter(bm_persist *p, redisAsyncContext *ac, const char *stream, const char *id,
                          const char *reason, const char *detail, size_t n,
                          const char *const *fields, const size_t *field_lens,
                          const char *const *values, const size_t *value_lens);

/* Send one command now on `ac` (argv borrowed for the call); its reply goes to
 * on_reply with `kind`. @return 0, or -1 when the connection refused it. */
int bm_persist_send(bm_persist *p, redisAsyncContext *ac, bm_write_kind kind, int argc,
                    const char **argv, const size_t *lens);

/* Send everything queued (records grouped by transaction, then the acks).
 * @return the number of commands sent, or -1 when the connection refused them. */
long bm_persist_flush(bm_persist *p, redisAsyncContext *ac);

/* Drop what is queued (after a lost connection: the entries are re-delivered). */
void bm_persist_reset(bm_persist *p);

/* Heap bytes held by the batch buffers. */
size_t bm_persist_heap_bytes(const bm_persist *p);

#endif
