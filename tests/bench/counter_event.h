/*
 * counter_event.h - a business metric event (counter 1, or any) built by
 * hand, for tests/bench/metrics_flood.c and the unit tests of the same table
 * (tests/unit/test_custom_metrics_*.c). Here, not in tests/unit, since
 * the image's build (deploy/Dockerfile) has tests/bench and no tests/unit.
 */
#ifndef BM_TESTS_BENCH_COUNTER_EVENT_H
#define BM_TESTS_BENCH_COUNTER_EVENT_H

#include <string.h>

#include "proto/event.h"

/* A metric event of that kind and value at ts_us, no tags. */
static inline bm_event fixture_metric(const char *name, double value, bm_metric_kind kind,
                                      int64_t ts_us)
{
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = name;
    ev.metric_value = value;
    ev.metric_kind = kind;
    ev.ts_us = ts_us;
    return ev;
}

/* A counter metric event: name += 1 at ts_us. */
static inline bm_event fixture_counter(const char *name, int64_t ts_us)
{
    return fixture_metric(name, 1, BM_METRIC_COUNTER, ts_us);
}

#endif
