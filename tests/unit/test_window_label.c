/*
 * test_window_label.c - the performance window has one label in a rollup:
 * the events', the workers' and the business metrics' windows (and
 * /api/metrics' ?window=) all name it by the configured length in its
 * largest whole unit, "100s" for 100 s (not "99s", twelve periods of
 * 8.333333 s cut down to whole seconds), "1s" for 1 s (not "0s"), "90m",
 * "1h".
 */
#include "lib/custom_metrics.h"
#include "lib/monitor.h"

#include <criterion/criterion.h>

#define SEC (1000000LL)
#define T0  (1700000000LL * SEC)

TestSuite(window_label);

static void assert_labels(int64_t perf_window_us, const char *want)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    cfg.perf_window_us = perf_window_us;
    bm_monitor mon;
    cr_assert_eq(bm_monitor_init(&mon, &cfg, 0), 0);
    cr_assert_eq(worker_stats_answer(mon.workers, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0), 0);
    bm_rollup r;
    cr_assert_eq(bm_monitor_rollup(&mon, T0 + SEC, 10 * SEC, "x", &r), 0);
    cr_assert_eq(r.n_workers, 1);
    cr_assert_str_eq(r.events[BM_WINDOWS - 1].label, want, "events");
    cr_assert_str_eq(r.workers[0].win[BM_WINDOWS - 1].label, want, "workers");
    cr_assert_str_eq(custom_metrics_window_label(mon.metrics, CUSTOM_METRICS_WINDOWS - 1), want,
                     "business metrics");
    cr_assert_eq(custom_metrics_window_index(mon.metrics, want), CUSTOM_METRICS_WINDOWS - 1);
    bm_monitor_deinit(&mon);
}

Test(window_label, the_performance_window_has_one_label)
{
    assert_labels(3600 * SEC, "1h");
    assert_labels(90 * 60 * SEC, "90m");
    assert_labels(100 * SEC, "100s");
    assert_labels(1 * SEC, "1s");
    assert_labels(7 * SEC, "7s");
}
