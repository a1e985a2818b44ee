/*
 * counter_event.h - a business metric event (counter 1) built by hand, for
 * tests/bench/metrics_flood.c and the unit test of the same table
 * (tests/unit/test_custom_metrics_flood.c). Here, not in tests/unit, since
 * the image's build (deploy/Dockerfile) has tests/bench and no tests/unit.
 */
#ifndef BM_TESTS_BENCH_COUNTER_EVENT_H
#define BM_TESTS_BENCH_COUNTER_EVENT_H

#include <string.h>

#include "proto/event.h"

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
