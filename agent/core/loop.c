/*
 * loop.c - the event loop, signals, timers and the orderly stop (loop.h).
 */
#include "agent/core/loop.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"

#define HOOKS_MAX  16
#define TIMERS_MAX 32

typedef struct {
    void (*fn)(void *arg);
    void *arg;
} timer_cb;

typedef struct {
    void (*fn)(void *arg, const char *why);
    void *arg;
} stop_hook;

struct bm_loop {
    struct event_base *base;
    struct event *ev_sigint, *ev_sigterm;
    struct event *timers[TIMERS_MAX];
    timer_cb timer_cbs[TIMERS_MAX];
    size_t n_timers;
    stop_hook hooks[HOOKS_MAX];
    size_t n_hooks;
    int stopping;
    const char *why;
    int exited;
    int exit_code;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    bm_loop_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

bm_loop *bm_loop_new(void)
{
    bm_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base = event_base_new();
    if (l->base) {
        l->ev_sigint = evsignal_new(l->base, SIGINT, on_signal, l);
        l->ev_sigterm = evsignal_new(l->base, SIGTERM, on_signal, l);
    }
    if (!l->base || !l->ev_sigint || !l->ev_sigterm) {
        bm_loop_free(l);
        return NULL;
    }
    evsignal_add(l->ev_sigint, NULL);
    evsignal_add(l->ev_sigterm, NULL);
    return l;
}

void bm_loop_free(bm_loop *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n_timers; i++)
        event_free(l->timers[i]);
    if (l->ev_sigint) event_free(l->ev_sigint);
    if (l->ev_sigterm) event_free(l->ev_sigterm);
    if (l->base) event_base_free(l->base);
    free(l);
}

struct event_base *bm_loop_base(bm_loop *l)
{
    return l->base;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    timer_cb *t = arg;
    t->fn(t->arg);
}

struct event *bm_loop_every(bm_loop *l, int64_t interval_us, void (*fn)(void *arg), void *arg)
{
    if (l->n_timers == TIMERS_MAX) return NULL;
    timer_cb *t = &l->timer_cbs[l->n_timers];
    *t = (timer_cb){fn, arg};
    struct event *ev = event_new(l->base, -1, EV_PERSIST, on_timer, t);
    if (!ev) return NULL;
    struct timeval tv = bm_tv_from_us(interval_us);
    evtimer_add(ev, &tv);
    l->timers[l->n_timers++] = ev;
    return ev;
}

void bm_loop_timer_del(struct event *ev)
{
    if (ev) evtimer_del(ev);
}

int bm_loop_on_stop(bm_loop *l, void (*fn)(void *arg, const char *why), void *arg)
{
    if (l->n_hooks == HOOKS_MAX) return -1;
    l->hooks[l->n_hooks++] = (stop_hook){fn, arg};
    return 0;
}

static void run_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_loop *l = arg;
    for (size_t i = 0; i < l->n_timers; i++)
        evtimer_del(l->timers[i]);
    for (size_t i = 0; i < l->n_hooks; i++)
        l->hooks[i].fn(l->hooks[i].arg, l->why);
}

void bm_loop_stop(bm_loop *l, const char *why)
{
    if (l->stopping) return;
    l->stopping = 1;
    l->why = why;
    struct timeval now = {0, 0};
    if (event_base_once(l->base, -1, EV_TIMEOUT, run_stop, l, &now)) run_stop(-1, 0, l);
}

int bm_loop_stopping(const bm_loop *l)
{
    return l->stopping;
}

void bm_loop_exit(bm_loop *l, int code)
{
    if (l->exited) return;
    l->exited = 1;
    l->exit_code = code;
    event_base_loopexit(l->base, NULL);
}

int bm_loop_run(bm_loop *l)
{
    event_base_dispatch(l->base);
    return l->exit_code;
}
