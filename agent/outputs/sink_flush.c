/*
 * sink_flush.c - the flush of a queueing sink (sink_flush.h).
 */
#include "agent/outputs/sink_flush.h"

#include <event2/event.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"

static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* The deadline (or "nothing left"): give up what is held, then tell the caller. */
static void on_flush_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_sink_flusher *f = arg;
    int64_t left_ms = f->deadline_ms - bm_mono_us() / 1000;
    if (f->held(f->sink) && left_ms > 0) {
        /* it was "nothing left", but messages came in since: wait for them too */
        struct timeval tv = ms_tv(left_ms);
        evtimer_add(f->ev, &tv);
        return;
    }
    uint64_t abandoned = f->abandon(f->sink);
    if (abandoned)
        bm_warn("%s '%s': %llu %s not delivered before the flush deadline", f->kind, f->name,
                (unsigned long long)abandoned, f->noun);
    bm_sink_flush_cb cb = f->cb;
    void *cb_arg = f->cb_arg;
    f->cb = NULL;
    if (cb) cb(f->sink, abandoned, cb_arg); /* last: the sink may be gone after this */
}

void bm_sink_flusher_check(bm_sink_flusher *f)
{
    if (f->cb && f->ev && f->held(f->sink) == 0) {
        struct timeval now = {0, 0};
        evtimer_add(f->ev, &now);
    }
}

void bm_sink_flusher_start(bm_sink_flusher *f, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    f->cb = cb;
    f->cb_arg = arg;
    if (!f->ev) f->ev = evtimer_new(f->base, on_flush_due, f);
    if (!f->ev) {
        /* out of memory: give up now rather than never answer */
        f->cb = NULL;
        uint64_t abandoned = f->abandon(f->sink);
        if (cb) cb(f->sink, abandoned, arg);
        return;
    }
    if (timeout_ms < 0) timeout_ms = 0;
    f->deadline_ms = bm_mono_us() / 1000 + timeout_ms;
    struct timeval tv = ms_tv(timeout_ms);
    evtimer_add(f->ev, &tv);
    bm_sink_flusher_check(f);
}

void bm_sink_flusher_deinit(bm_sink_flusher *f)
{
    if (f->ev) event_free(f->ev);
    f->ev = NULL;
}
