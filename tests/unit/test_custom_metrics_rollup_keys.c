/*
 * test_custom_metrics_rollup_keys.c - lib/custom_metrics_json.c: a
 * rollup's business metrics hold the performance window under the rollup's
 * key for it (proto/rollup.h bm_rollup_window_key): its label, or "perf"
 * when it is 1 or 5 minutes long, never over the fixed window of that label.
 */
#include "lib/custom_metrics.h"
#include "lib/custom_metrics_json.h"
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

/* The windows of the only item of the rollup's metrics of a table with a
 * performance window of perf_s seconds, after one value of 2 at T0 and one
 * of 5 at T0 + 90 s (out of the 1 minute, in 5 minutes). *roll and *cm to
 * free. */
static json_t *windows_of(int64_t perf_s, custom_metrics **cm, json_t **roll)
{
    custom_metrics_config cfg;
    custom_metrics_config_defaults(&cfg);
    cfg.perf_window_us = perf_s * S_US;
    *cm = custom_metrics_new(&cfg);
    cr_assert_not_null(*cm);
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = "logins";
    ev.metric_kind = BM_METRIC_COUNTER;
    for (int i = 0; i < 2; i++) {
        ev.metric_value = i ? 5 : 2;
        ev.ts_us = T0 + i * 90 * S_US;
        cr_assert_eq(custom_metrics_add(*cm, &ev, ev.ts_us), CUSTOM_METRICS_ADDED);
    }
    *roll = custom_metrics_rollup_json(*cm, T0 + 91 * S_US, 50);
    cr_assert_not_null(*roll);
    json_t *item = json_array_get(json_object_get(*roll, "items"), 0);
    cr_assert_not_null(item);
    return json_object_get(item, "windows");
}

/* The count of window `key` of wins; -1 when there is no such window. */
static double count_in(json_t *wins, const char *key)
{
    json_t *w = json_object_get(wins, key);
    return w ? json_number_value(json_object_get(w, "count")) : -1;
}

Test(custom_metrics_rollup_keys, a_perf_window_of_1m_or_5m_is_perf_not_over_the_fixed_one)
{
    static const struct {
        int64_t perf_s;
        double perf_count;
    } cases[] = {{300, 2}, {60, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        custom_metrics *cm;
        json_t *roll;
        json_t *wins = windows_of(cases[i].perf_s, &cm, &roll);
        cr_expect_eq(json_object_size(wins), 3, "%llds: 1m, 5m and perf",
                     (long long)cases[i].perf_s);
        cr_expect_eq(count_in(wins, "1m"), 1, "%llds", (long long)cases[i].perf_s);
        cr_expect_eq(count_in(wins, "5m"), 2, "%llds", (long long)cases[i].perf_s);
        cr_expect_eq(count_in(wins, "perf"), cases[i].perf_count, "%llds",
                     (long long)cases[i].perf_s);
        cr_expect_eq(bm_rollup_pick_window(wins, "1h"), json_object_get(wins, "perf"));
        json_decref(roll);
        custom_metrics_free(cm);
    }
}

Test(custom_metrics_rollup_keys, the_usual_labels_stay)
{
    custom_metrics *cm;
    json_t *roll;
    json_t *wins = windows_of(3600, &cm, &roll);
    cr_expect_eq(count_in(wins, "1h"), 2);
    cr_expect_eq(count_in(wins, "perf"), -1);
    json_decref(roll);
    custom_metrics_free(cm);
}

/* A performance window shorter than 5 minutes: a series with values only
 * in the 5 minutes is still an item, with its "5m" window (the rollup made
 * items from the performance window alone: `busmon metrics --window 5m`
 * lost what /api/metrics?window=5m showed). */
Test(custom_metrics_rollup_keys, a_short_perf_window_keeps_the_5m_series)
{
    custom_metrics_config cfg;
    custom_metrics_config_defaults(&cfg);
    cfg.perf_window_us = 60 * S_US;
    custom_metrics *cm = custom_metrics_new(&cfg);
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = "logins";
    ev.metric_kind = BM_METRIC_COUNTER;
    ev.metric_value = 3;
    ev.ts_us = T0;
    cr_assert_eq(custom_metrics_add(cm, &ev, T0), CUSTOM_METRICS_ADDED);
    json_t *roll = custom_metrics_rollup_json(cm, T0 + 120 * S_US, 50);
    cr_assert_not_null(roll);
    json_t *items = json_object_get(roll, "items");
    cr_assert_eq(json_array_size(items), 1, "the series of the last 5 minutes");
    json_t *wins = json_object_get(json_array_get(items, 0), "windows");
    cr_expect_eq(count_in(wins, "5m"), 1);
    cr_expect_eq(count_in(wins, "1m"), -1);
    cr_expect_eq(count_in(wins, "perf"), -1);
    json_decref(roll);
    custom_metrics_free(cm);
}
