/*
 * conn.h - one asynchronous Redis connection (hiredis on the agent's
 * libevent base) and its life: connect, AUTH and SELECT as the URL says,
 * then tell the owner it is up; tell the owner once when it is lost.
 *
 *   bm_conn_open ──▶ connecting ──AUTH/SELECT queued──▶ up ──▶ (commands)
 *        ▲                │ refused / lost                  │ lost, or a
 *        │                ▼                                 ▼ set-up error
 *        └── owner ◀── on_state(c, 0): the owner decides when to open again
 *
 * A host name is looked up first, in the loop (libevent's evdns: the
 * system's resolv.conf and /etc/hosts), never by hiredis, whose own look-up
 * would block the loop; its addresses are tried in order, the next one when
 * a connect is refused. A look-up that fails or takes longer than
 * BM_CONN_RESOLVE_TIMEOUT_MS is logged, counted and reported as a loss.
 * Unix sockets and numeric addresses are used as they are. Tests point the
 * resolver at other files: $BUSMON_TEST_RESOLV_CONF, $BUSMON_TEST_HOSTS.
 *
 * Reconnecting is the owner's business (a reader and a writer are reset
 * together; the pub/sub input alone): this module only reports. Following
 * hiredis' rule, a connection is never freed from inside its own
 * callbacks: owners drop it from a timer or from the stop path.
 */
#ifndef BM_CORE_CONN_H
#define BM_CORE_CONN_H

#include <hiredis/async.h>
#include <stdint.h>

#include "agent/core/redis_url.h"

/* How long a host name's look-up may take before the connect is given up
 * (and tried again after the owner's backoff): glibc's own worst case with
 * its defaults (timeout:5 attempts:2), so one lost query (sent again after
 * 5 s) is not taken for a failed look-up. */
#define BM_CONN_RESOLVE_TIMEOUT_MS 10000

struct event_base;
typedef struct bm_conn bm_conn;

/* Told when the connection comes up (up = 1) or is lost (up = 0, once per open). */
typedef void (*bm_conn_state_cb)(bm_conn *c, int up, void *arg);

/*
 * A connection object for `url` (borrowed for its life) on `base`. `role`
 * ("reader", "writer", "pub/sub") names it in log lines. Nothing is opened.
 * @return the object (caller bm_conn_free's), or NULL (out of memory).
 */
bm_conn *bm_conn_new(struct event_base *base, const bm_redis_url *url, const char *role,
                     bm_conn_state_cb on_state, void *arg);

/* Drop the connection if any (see bm_conn_drop), then free. NULL is a no-op.
 * A cancelled look-up evdns has not called back yet is let finish first
 * (one pass of the loop, not from inside a loop callback). */
void bm_conn_free(bm_conn *c);

/*
 * Start connecting, or looking the host up (a no-op while a connection or
 * a look-up exists). The outcome comes through on_state. @return 0, or -1
 * when not even the socket (or the resolver) could be made (logged;
 * on_state is not called).
 */
int bm_conn_open(bm_conn *c);

/*
 * Close now (a look-up under way is cancelled): replies still due are delivered as NULL to their
 * callbacks; on_state is not called. Not from inside this connection's own callbacks.
 */
void bm_conn_drop(bm_conn *c);

/* Close once every reply due has arrived; then on_state(c, 0). */
void bm_conn_close_when_idle(bm_conn *c);

/* The hiredis context while connected (commands may be sent), else NULL. */
redisAsyncContext *bm_conn_ctx(const bm_conn *c);

/* 1 while connected and set up. */
int bm_conn_is_up(const bm_conn *c);

/* Why the last connection was lost: hiredis' error ("NOPERM ..." when Redis
 * refused a subscriber's PSUBSCRIBE), "" when it closed cleanly or since
 * bm_conn_open. Borrowed until the next open. */
const char *bm_conn_lost_reason(const bm_conn *c);
/* Look-ups of the host name that failed or timed out, since bm_conn_new. */
uint64_t bm_conn_resolve_failures(const bm_conn *c);

#endif
