/*
 * event_fixture.h - a decoded event built by hand for the unit tests of
 * lib/ modules that read traces (sampling, otlp): every string set (""),
 * every number at its "absent" value, the worker and step given.
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

#endif
