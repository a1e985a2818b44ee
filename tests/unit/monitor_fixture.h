/*
 * monitor_fixture.h - a monitor of the default configuration that watched
 * a quiet system: a rollup every 10 s and no event, for the unit tests of
 * rates after a quiet start (test_event_metrics_throughput.c,
 * test_custom_metrics_rate.c).
 */
#ifndef BM_TESTS_UNIT_MONITOR_FIXTURE_H
#define BM_TESTS_UNIT_MONITOR_FIXTURE_H

#include "lib/monitor.h"

/* Init mon and take a rollup every 10 s from from_us up to to_us.
 * @return 0, or -1 (out of memory: mon is not initialised). */
static inline int fixture_quiet_monitor(bm_monitor *mon, int64_t from_us, int64_t to_us)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    if (bm_monitor_init(mon, &cfg, 0)) return -1;
    bm_rollup r;
    for (int64_t t = from_us; t < to_us; t += 10 * 1000000LL)
        if (bm_monitor_rollup(mon, t, 10 * 1000000LL, "x", &r)) {
            bm_monitor_deinit(mon);
            return -1;
        }
    return 0;
}

#endif
