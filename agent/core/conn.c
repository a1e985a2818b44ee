/*
 * conn.c - one asynchronous Redis connection and its life (conn.h).
 */
#include "agent/core/conn.h"

#include <hiredis/adapters/libevent.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/log.h"
#include "agent/core/writer.h"

struct bm_conn {
    struct event_base *base;
    const bm_redis_url *url;
    const char *role;
    bm_conn_state_cb on_state;
    void *arg;
    redisAsyncContext *ctx; /* NULL: none */
    int up;
    int reported_down; /* on_state(0) told for this ctx */
};

static void report_down(bm_conn *c)
{
    if (c->reported_down) return;
    c->reported_down = 1;
    c->up = 0;
    if (c->on_state) c->on_state(c, 0, c->arg);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    (void)ac;
    bm_conn *c = arg;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        bm_error("redis %s refused the %s connection's set-up: %s", c->url->display, c->role,
                 r->str);
        report_down(c); /* the owner resets it, outside this callback */
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    bm_conn *c = ac->data;
    if (!c || ac != c->ctx) return; /* let go of on purpose */
    if (status != REDIS_OK) {
        bm_error("cannot connect to Redis at %s (%s): %s", c->url->display, c->role, ac->errstr);
        c->ctx = NULL; /* hiredis frees it after this callback */
        report_down(c);
        return;
    }
    c->up = 1;
    /* a peer gone without a reset (a host down, a cable pulled) is noticed
     * by the kernel's probes within a minute, not when the writer's unacked
     * data times out, or never for a reader blocked in XREADGROUP */
    if (!c->url->path[0]) redisEnableKeepAlive((redisContext *)&ac->c);
    if (c->on_state) c->on_state(c, 1, c->arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bm_conn *c = ac->data;
    if (!c || ac != c->ctx) return; /* let go of on purpose */
    c->ctx = NULL; /* hiredis frees it after this callback */
    if (status != REDIS_OK)
        bm_error("lost the %s connection to Redis at %s: %s", c->role, c->url->display,
                 ac->errstr);
    report_down(c);
}

bm_conn *bm_conn_new(struct event_base *base, const bm_redis_url *url, const char *role,
                     bm_conn_state_cb on_state, void *arg)
{
    bm_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base = base;
    c->url = url;
    c->role = role;
    c->on_state = on_state;
    c->arg = arg;
    return c;
}

void bm_conn_free(bm_conn *c)
{
    if (!c) return;
    bm_conn_drop(c);
    free(c);
}

int bm_conn_open(bm_conn *c)
{
    if (c->ctx) return 0;
    const bm_redis_url *u = c->url;
    redisAsyncContext *ac =
        u->path[0] ? redisAsyncConnectUnix(u->path) : redisAsyncConnect(u->host, u->port);
    if (!ac || ac->err) {
        bm_error("cannot connect to Redis at %s (%s): %s", u->display, c->role,
                 ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return -1;
    }
    ac->data = c;
    c->ctx = ac;
    c->up = 0;
    c->reported_down = 0;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    bm_writer_handshake(ac, on_setup_reply, c, u->user, u->password, u->db);
    return 0;
}

void bm_conn_drop(bm_conn *c)
{
    if (!c || !c->ctx) return;
    redisAsyncContext *ac = c->ctx;
    c->ctx = NULL; /* its callbacks, run by the free, see nothing left to use */
    c->up = 0;
    c->reported_down = 1;
    ac->data = NULL;
    redisAsyncFree(ac);
}

void bm_conn_close_when_idle(bm_conn *c)
{
    if (c->ctx) redisAsyncDisconnect(c->ctx);
}

redisAsyncContext *bm_conn_ctx(const bm_conn *c)
{
    return c && c->up ? c->ctx : NULL;
}

int bm_conn_is_up(const bm_conn *c)
{
    return c && c->up && c->ctx;
}
