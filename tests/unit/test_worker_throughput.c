/*
 * test_worker_throughput.c - lib/worker_stats: a worker's throughput per
 * minute over each window divides by the time the table watched, not only by
 * the time since the worker's first data in the window. A worker quiet for
 * hours that answers once reads 1 a minute over the last minute, not 30 or
 * 60; a worker first seen long after the table started, likewise. In the
 * first minute after a start the rate still divides by the seconds there
 * are (no window reads low), and a merged view watched since the earlier
 * of its tables; a clock gone back, an empty window are harmless. (The time
 * watched survives a checkpoint: test_worker_stats.c.)
 *
 * Time is driven by hand from T0, which is aligned to every period used.
 */
#include "lib/worker_stats.h"

#include <criterion/criterion.h>

#define SEC    1000000LL
#define MINUTE (60 * SEC)
#define HOUR   (60 * MINUTE)
#define T0     (1699999800LL * SEC) /* a multiple of 5 min */

static worker_stats_config cfg;

static void setup(void)
{
    worker_stats_config_defaults(&cfg);
}

TestSuite(worker_throughput, .init = setup);

static void ok(worker_stats *ws, const char *w, int64_t at)
{
    cr_assert_eq(worker_stats_answer(ws, w, BM_OUTCOME_SUCCESS, 1000, "", "", 0, at), 0);
}

static bm_worker_snapshot snap(const worker_stats *ws, const char *w, int64_t at)
{
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, w, at, &s), 0, "no worker %s", w);
    return s;
}

/* One execution in each window at `at` - 1 s, read at `at`, after the table
 * watched for hours: the rate of one execution over (nearly) the whole
 * window, and the rate agrees with covered. */
static void assert_one_over_each_window(const bm_worker_snapshot *s)
{
    for (int k = 0; k < BM_WINDOWS; k++) {
        const bm_window_stats *w = &s->win[k];
        cr_assert_eq(w->executions, 1, "window %s", w->label);
        /* the live periods but the oldest, at least: 50 s of 60, 270 s of 300, 55 min of 60 */
        int64_t at_least = w->window_us - w->window_us / (k == 0 ? 6 : k == 1 ? 10 : 12);
        cr_assert_geq(w->covered_us, at_least, "window %s covers %lld us", w->label,
                      (long long)w->covered_us);
        cr_assert_leq(w->covered_us, w->window_us, "window %s", w->label);
        cr_assert_float_eq(w->throughput_per_min, (double)MINUTE / (double)w->covered_us, 1e-9,
                           "window %s: %.2f a minute", w->label, w->throughput_per_min);
    }
}

static void assert_one_of(const worker_stats *ws, const char *w, int64_t at)
{
    bm_worker_snapshot s = snap(ws, w, at);
    assert_one_over_each_window(&s);
}

Test(worker_throughput, one_execution_after_a_quiet_spell_is_not_a_burst)
{
    worker_stats *ws = worker_stats_new(&cfg);
    for (int m = 0; m < 60; m++) /* one a minute for an hour */
        ok(ws, "w", T0 + m * MINUTE);
    int64_t t = T0 + 3 * HOUR; /* then two hours of quiet */
    ok(ws, "w", t + 1 * SEC);
    bm_worker_snapshot s = snap(ws, "w", t + 2 * SEC);
    cr_assert_leq(s.win[0].throughput_per_min, 1.2, "1m: %.1f a minute for one execution",
                  s.win[0].throughput_per_min);
    assert_one_over_each_window(&s);
    worker_stats_free(ws);
}

Test(worker_throughput, a_new_worker_long_after_the_start_is_rated_over_the_window)
{
    worker_stats *ws = worker_stats_new(&cfg);
    ok(ws, "early", T0);
    ok(ws, "new", T0 + 2 * HOUR + 1 * SEC);
    assert_one_of(ws, "new", T0 + 2 * HOUR + 2 * SEC);
    worker_stats_free(ws);
}

Test(worker_throughput, the_first_minute_after_a_start_divides_by_its_seconds)
{
    worker_stats *ws = worker_stats_new(&cfg);
    for (int i = 0; i < 20; i++)
        ok(ws, "w", T0 + i * SEC);
    bm_worker_snapshot s = snap(ws, "w", T0 + 20 * SEC);
    for (int k = 0; k < BM_WINDOWS; k++) {
        const bm_window_stats *w = &s.win[k];
        cr_assert_eq(w->executions, 20);
        if (k < 2) /* the 1 h window's periods (5 min) floor it at 30 s */
            cr_assert_eq(w->covered_us, 20 * SEC, "window %s", w->label);
        cr_assert_float_eq(w->throughput_per_min, 20.0 * MINUTE / (double)w->covered_us, 1e-9);
    }
    /* an empty window covers nothing and rates nothing */
    s = snap(ws, "w", T0 + 3 * MINUTE);
    cr_assert_eq(s.win[0].executions, 0);
    cr_assert_eq(s.win[0].covered_us, 0);
    cr_assert_eq(s.win[0].throughput_per_min, 0.0);
    worker_stats_free(ws);
}

/* A merged view (the cluster's) watched since the earlier of its tables; a
 * table that started late divides by its own seconds, as in the first
 * minute after any start. */
Test(worker_throughput, a_merge_keeps_the_earlier_time_watched)
{
    worker_stats *early = worker_stats_new(&cfg), *late = worker_stats_new(&cfg);
    ok(early, "early", T0);
    ok(late, "w", T0 + 2 * HOUR + 1 * SEC);
    bm_worker_snapshot s = snap(late, "w", T0 + 2 * HOUR + 2 * SEC);
    cr_assert_eq(s.win[0].covered_us, 2 * SEC);
    cr_assert_float_eq(s.win[0].throughput_per_min, 30.0, 1e-9);
    worker_stats *merged = worker_stats_new(&cfg);
    cr_assert_eq(worker_stats_merge(merged, late), 0);
    cr_assert_eq(worker_stats_merge(merged, early), 0);
    assert_one_of(merged, "w", T0 + 2 * HOUR + 2 * SEC);
    worker_stats_free(merged);
    worker_stats_free(late);
    worker_stats_free(early);
}

Test(worker_throughput, a_clock_gone_back_rates_over_the_data)
{
    worker_stats *ws = worker_stats_new(&cfg);
    ok(ws, "w", T0 + HOUR);
    ok(ws, "w", T0 + 10 * SEC); /* the clock went back an hour */
    bm_worker_snapshot s = snap(ws, "w", T0 + 20 * SEC);
    cr_assert_eq(s.win[0].executions, 1);
    cr_assert_eq(s.win[0].covered_us, 10 * SEC, "from its period's start");
    cr_assert_float_eq(s.win[0].throughput_per_min, 6.0, 1e-9);
    worker_stats_free(ws);
}
