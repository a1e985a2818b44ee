/*
 * session.c - the reader and writer connections, reset together
 * (session.h has the picture).
 */
#include "agent/core/session.h"

#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/conn.h"
#include "agent/core/log.h"

#define BACKOFF_MIN_US (250 * 1000LL)
#define BACKOFF_MAX_US (30 * 1000000LL)
/* The backoff starts over only after the connections stayed up this long: a
 * failure that comes back at once (a read refused, WRONGTYPE) would
 * otherwise reconnect four times a second for good. */
#define STABLE_US (10 * 1000000LL)

struct bm_session {
    struct event_base *base;
    const bm_redis_url *url;
    bm_writer *writer;
    bm_conn *reader_conn, *writer_conn;
    bm_session_hooks hooks;
    void *hooks_arg;
    struct event *ev_reset, *ev_deadline;
    bm_backoff backoff;
    uint64_t reconnects;
    int ever_up;      /* both connections were up once */
    int64_t up_since; /* mono µs both came up (0: not up) */
    int told_waiting; /* "waiting for Redis" said */
    int stopping;
    void (*done)(void *, int);
    void *done_arg;
};

static void schedule_reset(bm_session *s)
{
    if (s->stopping || evtimer_pending(s->ev_reset, NULL)) return;
    if (s->up_since && bm_mono_us() - s->up_since >= STABLE_US) bm_backoff_reset(&s->backoff);
    s->up_since = 0;
    int64_t delay = bm_backoff_next(&s->backoff);
    bm_warn("reconnecting to %s in %lld ms", s->url->display, (long long)(delay / 1000));
    struct timeval tv = bm_tv_from_us(delay);
    evtimer_add(s->ev_reset, &tv);
}

static void finish(bm_session *s, int rc)
{
    if (!s->done) return;
    void (*done)(void *, int) = s->done;
    s->done = NULL;
    if (s->ev_deadline) evtimer_del(s->ev_deadline);
    done(s->done_arg, rc);
}

static void on_conn_state(bm_conn *c, int up, void *arg)
{
    bm_session *s = arg;
    int is_writer = c == s->writer_conn;
    if (is_writer) bm_writer_attach(s->writer, up ? bm_conn_ctx(c) : NULL);
    if (s->stopping) {
        if (is_writer && !up) finish(s, 0);
        return;
    }
    if (!up) {
        if (!s->ever_up && !s->told_waiting) {
            bm_warn("Redis at %s is not reachable yet: waiting for it, retrying with backoff "
                    "(/health answers, /ready says why it is not ready)",
                    s->url->display);
            s->told_waiting = 1;
        }
        schedule_reset(s);
        return;
    }
    if (bm_conn_is_up(s->reader_conn) && bm_conn_is_up(s->writer_conn)) {
        s->ever_up = 1;
        s->up_since = bm_mono_us();
        if (s->hooks.on_up) s->hooks.on_up(s->hooks_arg);
    }
}

static void open_both(bm_session *s)
{
    if (bm_conn_open(s->reader_conn) || bm_conn_open(s->writer_conn)) schedule_reset(s);
}

/* Outside any hiredis callback: drop both connections, then open them again. */
static void on_reset_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_session *s = arg;
    if (s->stopping) return;
    bm_writer_attach(s->writer, NULL);
    bm_conn_drop(s->reader_conn);
    bm_conn_drop(s->writer_conn);
    s->reconnects++;
    if (s->hooks.on_reset) s->hooks.on_reset(s->hooks_arg);
    open_both(s);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_session *s = arg;
    bm_error("gave up waiting for %ld Redis write(s); their entries stay pending and are read "
             "again at the next start",
             bm_writer_pending(s->writer));
    bm_writer_attach(s->writer, NULL);
    bm_conn_drop(s->writer_conn);
    finish(s, -1);
}

bm_session *bm_session_new(struct event_base *base, const bm_redis_url *url, bm_writer *w)
{
    bm_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->url = url;
    s->writer = w;
    s->reader_conn = bm_conn_new(base, url, "reader", on_conn_state, s);
    s->writer_conn = bm_conn_new(base, url, "writer", on_conn_state, s);
    s->ev_reset = evtimer_new(base, on_reset_timer, s);
    s->ev_deadline = evtimer_new(base, on_deadline, s);
    bm_backoff_init(&s->backoff, BACKOFF_MIN_US, BACKOFF_MAX_US,
                    (uint64_t)bm_mono_us() ^ ((uint64_t)getpid() << 32));
    if (!s->reader_conn || !s->writer_conn || !s->ev_reset || !s->ev_deadline) {
        bm_session_free(s);
        return NULL;
    }
    return s;
}

void bm_session_free(bm_session *s)
{
    if (!s) return;
    s->stopping = 1;
    s->done = NULL;
    if (s->writer) bm_writer_attach(s->writer, NULL);
    bm_conn_free(s->reader_conn);
    bm_conn_free(s->writer_conn);
    if (s->ev_reset) event_free(s->ev_reset);
    if (s->ev_deadline) event_free(s->ev_deadline);
    free(s);
}

void bm_session_set_hooks(bm_session *s, const bm_session_hooks *hooks, void *arg)
{
    s->hooks = *hooks;
    s->hooks_arg = arg;
}

int bm_session_start(bm_session *s)
{
    open_both(s);
    return 0;
}

redisAsyncContext *bm_session_reader(const bm_session *s)
{
    return bm_conn_is_up(s->writer_conn) ? bm_conn_ctx(s->reader_conn) : NULL;
}

int bm_session_reader_up(const bm_session *s)
{
    return bm_conn_is_up(s->reader_conn);
}

int bm_session_writer_up(const bm_session *s)
{
    return bm_conn_is_up(s->writer_conn);
}

void bm_session_fail(bm_session *s)
{
    schedule_reset(s);
}

static void close_writer_when_idle(void *arg)
{
    bm_session *s = arg;
    if (!s->stopping || bm_writer_pending(s->writer) > 0) return;
    if (bm_conn_is_up(s->writer_conn))
        bm_conn_close_when_idle(s->writer_conn); /* then on_conn_state(0) finishes */
    else
        finish(s, 0);
}

void bm_session_stop(bm_session *s, int64_t deadline_ms, void (*done)(void *arg, int rc),
                     void *arg)
{
    if (s->done) return;
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    evtimer_del(s->ev_reset);
    bm_conn_drop(s->reader_conn); /* an in-flight read stays pending: read again next start */
    if (!bm_conn_is_up(s->writer_conn)) {
        bm_writer_attach(s->writer, NULL);
        bm_conn_drop(s->writer_conn); /* never connected: nothing to flush */
        finish(s, 0);
        return;
    }
    struct timeval tv = bm_tv_from_us(deadline_ms * 1000);
    evtimer_add(s->ev_deadline, &tv);
    bm_writer_set_drain_cb(s->writer, close_writer_when_idle, s);
    close_writer_when_idle(s);
}

void bm_session_drop_reader(bm_session *s)
{
    s->stopping = 1; /* its loss is not a reason to reset */
    evtimer_del(s->ev_reset);
    bm_conn_drop(s->reader_conn);
}

uint64_t bm_session_reconnects(const bm_session *s)
{
    return s->reconnects;
}

uint64_t bm_session_resolve_failures(const bm_session *s)
{
    return bm_conn_resolve_failures(s->reader_conn) + bm_conn_resolve_failures(s->writer_conn);
}
