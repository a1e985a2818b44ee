/*
 * session.h - the agent's Redis session: a reader connection (which may
 * block in XREADGROUP) and a writer connection (trace records, acks,
 * dead-letters, outputs; core/writer.h), which live and die together.
 *
 * Why together: the acks of a batch travel behind its trace records on the
 * writer. When either connection goes, whatever was read but not acked may
 * or may not have been written, so both are dropped and re-made, and the
 * stream input starts again from this consumer's own pending entries
 * (on_reset). Re-made after a capped exponential backoff with jitter
 * (250 ms doubling to 30 s), logged once per attempt.
 *
 *   start ──▶ both connecting ──both up──▶ on_up ──▶ ...
 *     ▲            │ either lost / bm_session_fail
 *     │            ▼
 *     └── backoff ◀── drop both, on_reset
 *
 * Stopping: the reader is dropped at once (an in-flight read's entries stay
 * pending and come back at the next start), the writer is closed once every
 * reply is in, then `done` is called (or at the deadline, with an error).
 */
#ifndef BM_CORE_SESSION_H
#define BM_CORE_SESSION_H

#include <hiredis/async.h>
#include <stdint.h>

#include "agent/core/redis_url.h"
#include "agent/core/writer.h"

struct event_base;
typedef struct bm_session bm_session;

typedef struct {
    void (*on_up)(void *arg);    /* both connections are up: read */
    void (*on_reset)(void *arg); /* both were dropped: in-flight reads are gone */
} bm_session_hooks;

/*
 * A session on `base` for `url` (borrowed), writing through `w` (borrowed;
 * the session attaches and detaches its connection). Nothing is opened.
 * @return the session (caller frees), or NULL (out of memory).
 */
bm_session *bm_session_new(struct event_base *base, const bm_redis_url *url, bm_writer *w);
/* Drop both connections (replies due arrive as NULL) and free. NULL is a no-op. */
void bm_session_free(bm_session *s);

void bm_session_set_hooks(bm_session *s, const bm_session_hooks *hooks, void *arg);

/* Open both connections. @return 0, or -1 when not even a socket could be made
 * (a reconnect is scheduled anyway). */
int bm_session_start(bm_session *s);

/* The reader's context while both are up, else NULL. */
redisAsyncContext *bm_session_reader(const bm_session *s);
int bm_session_reader_up(const bm_session *s);
int bm_session_writer_up(const bm_session *s);

/* Something went wrong on the session (an XREADGROUP error): reset it after
 * the backoff. Safe from inside a reply callback. */
void bm_session_fail(bm_session *s);

/*
 * Stop: drop the reader now, close the writer once nothing is pending, then
 * call done(arg, 0); after deadline_ms with writes still out, log them,
 * drop the writer and call done(arg, -1). Idempotent.
 */
void bm_session_stop(bm_session *s, int64_t deadline_ms, void (*done)(void *arg, int rc),
                     void *arg);

/* Drop the reader now (the stop path, outside the reader's callbacks): a
 * read in flight stays in the group's pending list. No reset follows. */
void bm_session_drop_reader(bm_session *s);

/* Connection resets since start. */
uint64_t bm_session_reconnects(const bm_session *s);

/* Look-ups of Redis's host name that failed or timed out (both connections). */
uint64_t bm_session_resolve_failures(const bm_session *s);

#endif
