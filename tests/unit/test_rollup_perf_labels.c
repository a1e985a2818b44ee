/*
 * test_rollup_perf_labels.c - lib/monitor.c's rollup: the performance
 * window carries one label in the event metrics, every worker and the
 * business metrics, whatever its configured length, so a rollup's
 * "perf_window" key (proto/rollup.h) finds it in every per-window object.
 * A length that is not a whole number of its 12 periods in µs (100 s: 12 x
 * 8333333 µs) was "100s" in the events and error counts but "99s" in the
 * workers and the business metrics.
 */
#include "lib/monitor.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

Test(rollup_perf_labels, one_label_for_every_length)
{
    static const int64_t perf_s[] = {100, 61, 7, 90, 3600, 1800, 60, 300, 86400 + 1};
    for (size_t i = 0; i < sizeof perf_s / sizeof perf_s[0]; i++) {
        worker_stats_config cfg;
        worker_stats_config_defaults(&cfg);
        cfg.perf_window_us = perf_s[i] * S_US;
        bm_monitor m;
        cr_assert_eq(bm_monitor_init(&m, &cfg, 0), 0);
        cr_assert_geq(worker_stats_seen(m.workers, "a", T0), 0);
        bm_rollup r;
        cr_assert_eq(bm_monitor_rollup(&m, T0, 10 * S_US, "t", &r), 0);
        cr_assert_eq(r.n_workers, 1);
        const char *ev = r.events[BM_WINDOWS - 1].label;
        cr_expect_str_eq(r.workers[0].win[BM_WINDOWS - 1].label, ev, "%llds: worker vs events",
                         (long long)perf_s[i]);
        cr_expect_str_eq(custom_metrics_window_label(m.metrics, BM_WINDOWS - 1), ev,
                         "%llds: business metrics vs events", (long long)perf_s[i]);
        json_t *j = bm_rollup_to_json(&r);
        cr_assert_not_null(j);
        const char *key = json_string_value(json_object_get(j, "perf_window"));
        json_t *w = json_object_get(json_array_get(json_object_get(j, "workers"), 0), "windows");
        cr_expect_not_null(json_object_get(w, key), "%llds: the worker has window %s",
                           (long long)perf_s[i], key);
        json_decref(j);
        bm_monitor_deinit(&m);
    }
}
