/*
 * test_event_metrics_throughput.c - lib/event_metrics: the throughput per
 * minute over each window divides by the time the metrics watched, not only
 * by the time since the window's first event. One event after hours of
 * quiet reads 1 a minute over the last minute, not 30 or 60, and so does
 * the first event after a quiet spell since the start, when rollups were
 * taken meanwhile (the agent was watching). In the first minute the rate
 * still divides by the seconds there are. (The time watched survives a
 * save, a load and a merge, and older saves load: test_event_metrics.c.)
 *
 * Time is driven by hand from T0, a whole hour; nothing reads a clock.
 */
#include "lib/event_metrics.h"
#include "lib/monitor.h"
#include "monitor_fixture.h"

#include <criterion/criterion.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define T0   (480000LL * HOUR)

TestSuite(event_metrics_throughput);

static void command(event_metrics *m, int64_t at)
{
    event_metrics_add(m, BM_EV_COMMAND, 0, -1, at);
}

/* One event in each window, read at `at` after the metrics watched for
 * hours: the rate of one event over (nearly) the whole window. */
static void assert_one_over_each_window(const event_metrics *m, int64_t at)
{
    bm_event_window w[BM_WINDOWS];
    event_metrics_snapshot(m, at, w);
    for (int k = 0; k < BM_WINDOWS; k++) {
        cr_assert_eq(w[k].total_events, 1, "window %s", w[k].label);
        /* the live periods but the oldest, at least: 50 s of 60, 270 s of 300, 55 min of 60 */
        int64_t at_least = w[k].window_us - w[k].window_us / (k == 0 ? 6 : k == 1 ? 10 : 12);
        cr_assert_geq(w[k].covered_us, at_least, "window %s covers %lld us", w[k].label,
                      (long long)w[k].covered_us);
        cr_assert_leq(w[k].covered_us, w[k].window_us, "window %s", w[k].label);
        cr_assert_float_eq(w[k].throughput_per_min, (double)MIN / (double)w[k].covered_us, 1e-9,
                           "window %s: %.2f a minute", w[k].label, w[k].throughput_per_min);
    }
}

Test(event_metrics_throughput, one_event_after_a_quiet_spell_is_not_a_burst)
{
    event_metrics *m = event_metrics_new(0);
    for (int i = 0; i < 60; i++) /* one a minute for an hour */
        command(m, T0 + i * MIN);
    int64_t t = T0 + 3 * HOUR; /* then two hours of quiet */
    command(m, t + 1 * SEC);
    assert_one_over_each_window(m, t + 2 * SEC);
    event_metrics_free(m);
}

Test(event_metrics_throughput, the_first_minute_still_divides_by_its_seconds)
{
    event_metrics *m = event_metrics_new(0);
    for (int i = 0; i < 20; i++)
        command(m, T0 + 1 * SEC + i * SEC);
    bm_event_window w[BM_WINDOWS];
    event_metrics_snapshot(m, T0 + 20 * SEC, w);
    for (int k = 0; k < 2; k++) { /* (1h floors at a tenth of its 5 min period) */
        cr_assert_eq(w[k].covered_us, 20 * SEC, "window %s", w[k].label);
        cr_assert_float_eq(w[k].throughput_per_min, 60.0, 1e-9, "window %s", w[k].label);
        /* the peak is never below the average it is shown beside */
        cr_assert_float_eq(w[k].peak_throughput_per_min, 60.0, 1e-9, "window %s: peak %.2f",
                           w[k].label, w[k].peak_throughput_per_min);
    }
    event_metrics_free(m);
}

/* Quiet from the start, with rollups every 10 s: the first event is not a burst. */
Test(event_metrics_throughput, the_first_event_after_rollups_of_nothing_is_not_a_burst)
{
    bm_monitor mon;
    cr_assert_eq(fixture_quiet_monitor(&mon, T0, T0 + 2 * HOUR), 0);
    bm_rollup r;
    command(mon.events, T0 + 2 * HOUR + 1 * SEC);
    cr_assert_eq(bm_monitor_rollup(&mon, T0 + 2 * HOUR + 2 * SEC, 10 * SEC, "x", &r), 0);
    cr_assert_eq(r.events[0].total_events, 1);
    cr_assert_geq(r.events[0].covered_us, 50 * SEC, "1m covers %lld us",
                  (long long)r.events[0].covered_us);
    cr_assert_leq(r.events[0].throughput_per_min, 1.2, "1m: %.1f a minute for one event",
                  r.events[0].throughput_per_min);
    assert_one_over_each_window(mon.events, T0 + 2 * HOUR + 2 * SEC);
    bm_monitor_deinit(&mon);
}
