/*
 * sink_flush.h - the flush of a sink that delivers from a queue (sink.h's
 * `flush` contract), shared by webhook.c and email.c: a deadline timer,
 * moved to "now" as soon as nothing is held; at the deadline what is still
 * held is given up (counted by the sink's own abandon), one warning line,
 * then the caller's callback, last (the sink may be freed in it).
 */
#ifndef BM_OUTPUTS_SINK_FLUSH_H
#define BM_OUTPUTS_SINK_FLUSH_H

#include <stdint.h>

#include "agent/outputs/sink.h"

struct event;
struct event_base;

typedef struct {
    void *sink;                      /* handed to held, abandon and the callback */
    uint32_t (*held)(void *sink);    /* messages still held */
    uint64_t (*abandon)(void *sink); /* give them all up, counted failed; @return how many */
    const char *kind, *name, *noun;  /* the warning: "<kind> '<name>': N <noun> not delivered" */
    struct event_base *base;
    struct event *ev;
    int64_t deadline_ms; /* monotonic */
    bm_sink_flush_cb cb;
    void *cb_arg;
} bm_sink_flusher;

/* Begin: cb(sink, abandoned, arg) once, when nothing is held or at timeout_ms. */
void bm_sink_flusher_start(bm_sink_flusher *f, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg);
/* Tell it the sink may hold nothing now (after a delivery or a give-up). */
void bm_sink_flusher_check(bm_sink_flusher *f);
/* Release its timer (the callback is not called). */
void bm_sink_flusher_deinit(bm_sink_flusher *f);

#endif
