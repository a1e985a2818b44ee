/*
 * test_custom_metrics_flood.c - lib/custom_metrics.c: a full series table
 * refuses a flood of new series (a tag per order id, a name per user) at
 * O(1) each until a series can be evicted, not at a pass over every series
 * each (143 µs an event at 10,000 series: an agent of some 7,000 events a
 * second); the eviction still comes once the oldest series is idle for the
 * performance window, also after a merge or a load brought older ones in.
 * What is checked here is the behaviour; the cost is measured by
 * tests/bench/metrics_flood.c (refusals against events of kept series, in
 * one run).
 */
#include "lib/custom_metrics.h"
#include "tests/bench/counter_event.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S_US    1000000LL
#define T0      (1700000000LL * S_US)
#define SERIES  10000
#define FLOOD   50000
#define HOUR_US (3600 * S_US)

static custom_metrics_result add(custom_metrics *cm, const char *name, int64_t now_us)
{
    bm_event ev = fixture_counter(name, now_us);
    return custom_metrics_add(cm, &ev, now_us);
}

static uint64_t evicted(const custom_metrics *cm)
{
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    return st.evicted;
}

static custom_metrics *full_table(int64_t now_us)
{
    custom_metrics *cm = custom_metrics_new(NULL); /* 10,000 series, 1 h window */
    cr_assert_not_null(cm);
    char name[32];
    for (int i = 0; i < SERIES; i++) {
        snprintf(name, sizeof name, "m%05d", i);
        cr_assert_eq(add(cm, name, now_us + i), CUSTOM_METRICS_ADDED);
    }
    return cm;
}

Test(custom_metrics_flood, a_full_table_refuses_every_new_series)
{
    custom_metrics *cm = full_table(T0);
    char name[32];
    for (int i = 0; i < FLOOD; i++) {
        snprintf(name, sizeof name, "order_%06d", i);
        cr_assert_eq(add(cm, name, T0 + SERIES + i), CUSTOM_METRICS_REFUSED);
    }
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    cr_expect_eq(st.refused, FLOOD);
    cr_expect_eq(st.series, SERIES);
    custom_metrics_free(cm);
}

Test(custom_metrics_flood, eviction_comes_when_the_oldest_is_idle)
{
    custom_metrics *cm = full_table(T0);
    cr_expect_eq(add(cm, "new", T0 + HOUR_US - 1), CUSTOM_METRICS_REFUSED, "m00000 not idle yet");
    cr_expect_eq(add(cm, "new", T0 + HOUR_US), CUSTOM_METRICS_ADDED, "m00000 idle for the window");
    cr_expect_eq(add(cm, "new2", T0 + HOUR_US), CUSTOM_METRICS_REFUSED, "m00001 not idle yet");
    cr_expect_eq(add(cm, "new2", T0 + HOUR_US + 1), CUSTOM_METRICS_ADDED);
    cr_expect_eq(evicted(cm), 2);
    custom_metrics_free(cm);
}

Test(custom_metrics_flood, a_state_swapped_in_is_judged_anew)
{
    custom_metrics_config cfg;
    custom_metrics_config_defaults(&cfg);
    cfg.max_series = 2;
    custom_metrics *cm = custom_metrics_new(&cfg), *restored = custom_metrics_new(&cfg);
    cr_assert(cm && restored);
    cr_assert_eq(add(cm, "a", T0 + 10 * HOUR_US), CUSTOM_METRICS_ADDED);
    cr_assert_eq(add(cm, "b", T0 + 10 * HOUR_US), CUSTOM_METRICS_ADDED);
    cr_expect_eq(add(cm, "c", T0 + 10 * HOUR_US), CUSTOM_METRICS_REFUSED, "none idle until 11 h");
    /* a state seen long ago comes in (a checkpoint's load swaps it in) */
    cr_assert_eq(add(restored, "old", T0), CUSTOM_METRICS_ADDED);
    cr_assert_eq(add(restored, "b", T0 + 10 * HOUR_US), CUSTOM_METRICS_ADDED);
    custom_metrics_swap(cm, restored);
    cr_expect_eq(add(cm, "c", T0 + 10 * HOUR_US), CUSTOM_METRICS_ADDED, "'old' is idle: it goes");
    cr_expect_eq(evicted(cm), 1);
    custom_metrics_free(cm);
    custom_metrics_free(restored);
}
