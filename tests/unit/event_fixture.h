/*
 * event_fixture.h - a decoded event built by hand for the unit tests of
 * lib/ modules that read traces (sampling, otlp): every string set (""),
 * every number at its "absent" value, the worker and step given; and a
 * business metric event (counter 1) for lib/custom_metrics (also used by
 * tests/bench/metrics_flood.c).
 */
#ifndef BM_TESTS_UNIT_EVENT_FIXTURE_H
#define BM_TESTS_UNIT_EVENT_FIXTURE_H

#include <string.h>

#include "proto/event.h"

static inline bm_event fixture_event(bm_event_type type, const char *tx, const char *id,
                                     int64_t ts_us, const char *worker, const char *step)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.id = id;
    e.tx = tx;
    e.worker = worker;
    e.step = step;
    e.corr = e.cmd = e.source = e.status = e.message = e.error_type = e.error_message = "";
    e.ts_us = ts_us;
    e.duration_us = -1;
    e.ok = -1;
    e.attempt = -1;
    e.priority = -1;
    e.progress = -1;
    return e;
}

/* A counter metric event: name += 1 at ts_us. */
static inline bm_event fixture_counter(const char *name, int64_t ts_us)
{
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = name;
    ev.metric_value = 1;
    ev.metric_kind = BM_METRIC_COUNTER;
    ev.ts_us = ts_us;
    return ev;
}

#endif
