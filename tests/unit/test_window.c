/*
 * test_window.c - lib/window: roll-over at period edges, partial expiry,
 * a gap longer than the window, the peak period, histograms merged over the
 * live periods, memory kept across roll-overs, a clock that steps back;
 * saved and loaded with absolute period starts (a window loaded later ages
 * its periods out), shapes checked, and merged period by period into the
 * window of both streams of adds.
 *
 * Time is driven by hand: a 6 x 10 s window ("the last minute").
 */
#include "lib/window.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#define SEC     1000000LL
#define PERIOD  (10 * SEC)
#define PERIODS 6
#define T0      (1700000000LL * SEC) /* aligned to 10 s */

static bm_window w;
static bm_hist out;

static void setup(void)
{
    cr_assert_eq(bm_window_init(&w, PERIOD, PERIODS), 0);
    bm_hist_init(&out);
}

static void teardown(void)
{
    bm_window_deinit(&w);
    bm_hist_deinit(&out);
}

TestSuite(window, .init = setup, .fini = teardown);

static bm_counts collect(int64_t now_us)
{
    bm_counts c;
    cr_assert_eq(bm_window_collect(&w, now_us, &c, &out), 0);
    return c;
}

Test(window, init_rejects_bad_shapes)
{
    bm_window bad;
    cr_assert_eq(bm_window_init(&bad, 0, 6), -1);
    cr_assert_eq(bm_window_init(&bad, PERIOD, 0), -1);
    bm_window_deinit(&bad); /* zeroed by the failed init: harmless */
    bm_window_deinit(NULL);
    cr_assert_eq(bm_window_length_us(&w), 60 * SEC);
}

Test(window, empty)
{
    bm_counts c = collect(T0);
    cr_assert_eq(c.executions, 0);
    cr_assert_eq(c.events, 0);
    cr_assert_eq(out.count, 0);
    cr_assert_eq(bm_window_peak_period(&w, T0), 0);
}

Test(window, counts_outcomes_and_durations)
{
    cr_assert_eq(bm_window_add_execution(&w, T0, BM_OUTCOME_SUCCESS, 1000), 0);
    cr_assert_eq(bm_window_add_execution(&w, T0 + 1, BM_OUTCOME_FAILURE, 3000), 0);
    cr_assert_eq(bm_window_add_execution(&w, T0 + 2, BM_OUTCOME_TIMEOUT, -1), 0);
    bm_window_add_event(&w, T0 + 3, 4);
    bm_counts c = collect(T0 + 5 * SEC);
    cr_assert_eq(c.executions, 3);
    cr_assert_eq(c.successes, 1);
    cr_assert_eq(c.failures, 1);
    cr_assert_eq(c.timeouts, 1);
    cr_assert_eq(c.events, 4);
    cr_assert_eq(out.count, 2, "an unknown duration is counted, not in the histogram");
    cr_assert_eq(out.min_us, 1000);
    cr_assert_eq(out.max_us, 3000);
}

Test(window, roll_over_at_period_edges)
{
    /* one execution in each of the six periods, at the last µs of each */
    for (int i = 0; i < PERIODS; i++)
        bm_window_add_execution(&w, T0 + (i + 1) * PERIOD - 1, BM_OUTCOME_SUCCESS, 100 * (i + 1));
    int64_t last = T0 + PERIODS * PERIOD - 1;
    cr_assert_eq(collect(last).executions, 6);
    /* the first µs of the next period drops the oldest one */
    cr_assert_eq(collect(last + 1).executions, 5);
    cr_assert_eq(out.min_us, 200, "the 100 µs one left with its period");
    /* and adding there reuses the oldest slot */
    bm_window_add_execution(&w, last + 1, BM_OUTCOME_FAILURE, 50);
    bm_counts c = collect(last + 1);
    cr_assert_eq(c.executions, 6);
    cr_assert_eq(c.failures, 1);
    cr_assert_eq(out.min_us, 50);
    cr_assert_eq(out.count, 6);
}

Test(window, collect_after_partial_expiry)
{
    for (int i = 0; i < PERIODS; i++) {
        for (int k = 0; k <= i; k++) /* period i holds i + 1 executions */
            bm_window_add_execution(&w, T0 + i * PERIOD + k, BM_OUTCOME_SUCCESS, 1000 * (i + 1));
    }
    cr_assert_eq(collect(T0 + PERIODS * PERIOD - 1).executions, 21);
    /* 25 s later: periods 0, 1 and 2 are gone (the edge moves by whole periods) */
    int64_t later = T0 + PERIODS * PERIOD - 1 + 25 * SEC;
    bm_counts c = collect(later);
    cr_assert_eq(c.executions, 4 + 5 + 6);
    cr_assert_eq(out.count, 15);
    cr_assert_eq(out.min_us, 4000);
    cr_assert_eq(out.max_us, 6000);
    cr_assert_eq(bm_window_peak_period(&w, later), 6);
    /* collecting does not change the ring: an earlier time still sees it all */
    cr_assert_eq(collect(T0 + PERIODS * PERIOD - 1).executions, 21);
}

Test(window, gap_longer_than_the_window_clears_everything)
{
    for (int i = 0; i < 100; i++)
        bm_window_add_execution(&w, T0 + i * SEC / 2, BM_OUTCOME_FAILURE, 100 + i);
    cr_assert_eq(collect(T0 + 49 * SEC).executions, 100);
    int64_t later = T0 + 60 * SEC + 49 * SEC + PERIOD; /* more than a window after the last */
    bm_counts c = collect(later);
    cr_assert_eq(c.executions, 0);
    cr_assert_eq(c.failures, 0);
    cr_assert_eq(out.count, 0);
    cr_assert_eq(bm_window_peak_period(&w, later), 0);

    /* adding after the gap starts afresh, and no stale period survives */
    bm_window_add_event(&w, later, 1);
    c = collect(later);
    cr_assert_eq(c.events, 1);
    cr_assert_eq(c.executions, 0);
    for (unsigned i = 0; i < PERIODS; i++)
        if (w.periods[i].start_us != later - later % PERIOD)
            cr_assert_eq(w.periods[i].counts.executions, 0, "slot %u cleared", i);
}

Test(window, peak_period)
{
    for (int i = 0; i < 3; i++)
        bm_window_add_event(&w, T0 + 1, 1);
    for (int i = 0; i < 7; i++)
        bm_window_add_execution(&w, T0 + 2 * PERIOD + i, BM_OUTCOME_SUCCESS, 10);
    bm_window_add_event(&w, T0 + 2 * PERIOD, 2);
    bm_window_add_event(&w, T0 + 4 * PERIOD, 5);
    cr_assert_eq(bm_window_peak_period(&w, T0 + 5 * PERIOD), 9, "executions + events");
    /* when the busy period leaves the window, the next busiest is the peak */
    cr_assert_eq(bm_window_peak_period(&w, T0 + 8 * PERIOD), 5);
    cr_assert_eq(bm_window_peak_period(&w, T0 + 10 * PERIOD), 0);
}

Test(window, memory_is_kept_across_roll_overs)
{
    for (int i = 0; i < PERIODS; i++)
        for (int64_t d = 1; d < 1000000; d *= 3)
            bm_window_add_execution(&w, T0 + i * PERIOD, BM_OUTCOME_SUCCESS, d + i);
    size_t bytes = bm_window_heap_bytes(&w);
    cr_assert_gt(bytes, PERIODS * sizeof(bm_period));
    /* a whole window later, the same load: no growth */
    for (int i = 0; i < PERIODS; i++)
        for (int64_t d = 1; d < 1000000; d *= 3)
            bm_window_add_execution(&w, T0 + (PERIODS + i) * PERIOD, BM_OUTCOME_SUCCESS, d + i);
    cr_assert_eq(bm_window_heap_bytes(&w), bytes);
    cr_assert_eq(collect(T0 + (2 * PERIODS - 1) * PERIOD).executions, 6 * 13);
}

Test(window, clock_stepping_back_keeps_newer_data)
{
    bm_window_add_execution(&w, T0 + 3 * PERIOD, BM_OUTCOME_SUCCESS, 10);
    /* a little back (within the window): its own period, the newer one kept */
    bm_window_add_execution(&w, T0 + PERIOD, BM_OUTCOME_FAILURE, 20);
    bm_counts c = collect(T0 + 3 * PERIOD);
    cr_assert_eq(c.executions, 2);
    cr_assert_eq(c.failures, 1);
    /* far back (more than a window): counted, and still nothing lost */
    bm_window_add_execution(&w, T0 + 3 * PERIOD - PERIODS * PERIOD, BM_OUTCOME_SUCCESS, 30);
    c = collect(T0 + 3 * PERIOD);
    cr_assert_eq(c.executions, 3);
}

Test(window, period_starting_at_zero_and_negative_times)
{
    bm_window_add_execution(&w, 0, BM_OUTCOME_SUCCESS, 5);
    bm_window_add_execution(&w, 5 * SEC, BM_OUTCOME_SUCCESS, 6);
    cr_assert_eq(collect(9 * SEC).executions, 2, "a period may really start at 0");
    bm_window_add_execution(&w, -1, BM_OUTCOME_FAILURE, 7); /* period [-10 s, 0) */
    cr_assert_eq(collect(9 * SEC).executions, 3);
    cr_assert_eq(collect(-1).executions, 1);
    cr_assert_eq(collect(60 * SEC - 1).executions, 2, "[-10 s, 0) left at 50 s");
    cr_assert_eq(collect(60 * SEC).executions, 0);
}

Test(window, bucket_bound_applies_to_every_period)
{
    bm_window_set_max_buckets(&w, 16);
    for (int i = 0; i < PERIODS; i++)
        for (int64_t d = 1; d < 1000000000; d = d * 11 / 10 + 1)
            bm_window_add_execution(&w, T0 + i * PERIOD, BM_OUTCOME_SUCCESS, d);
    for (unsigned i = 0; i < PERIODS; i++)
        cr_assert_leq(w.periods[i].hist.n_buckets, 16);
    cr_assert_leq(bm_window_heap_bytes(&w),
                  PERIODS * (sizeof(bm_period) + 16 * sizeof(bm_hist_bucket)));
    bm_counts c = collect(T0 + PERIODS * PERIOD - 1);
    cr_assert_gt(c.executions, PERIODS * 100);
    cr_assert_eq(out.count, c.executions);
    cr_assert_eq(out.max_us, w.periods[0].hist.max_us);
}

/* ---- save / load / merge ------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const bm_window *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(bm_window_save(x, &pk), 0);
    msgpack_unpacked_init(&saved_obj);
    cr_assert_eq(msgpack_unpack_next(&saved_obj, saved_buf.data, saved_buf.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    return &saved_obj.data;
}

static void saved_done(void)
{
    msgpack_unpacked_destroy(&saved_obj);
    msgpack_sbuffer_destroy(&saved_buf);
}

/* Everything a window shows at now_us: counts, the merged histogram, the peak. */
static void assert_same_view(const bm_window *a, const bm_window *b, int64_t now_us)
{
    bm_counts ca, cb;
    bm_hist ha, hb;
    bm_hist_init(&ha);
    bm_hist_init(&hb);
    cr_assert_eq(bm_window_collect(a, now_us, &ca, &ha), 0);
    cr_assert_eq(bm_window_collect(b, now_us, &cb, &hb), 0);
    cr_assert_eq(memcmp(&ca, &cb, sizeof ca), 0, "counts at %lld", (long long)(now_us - T0));
    cr_assert_eq(ha.count, hb.count);
    cr_assert_eq(ha.sum_us, hb.sum_us);
    cr_assert_eq(ha.min_us, hb.min_us);
    cr_assert_eq(ha.max_us, hb.max_us);
    cr_assert_eq(ha.n_buckets, hb.n_buckets);
    for (double q = 0.05; q < 1.0; q += 0.05)
        cr_assert_eq(bm_hist_quantile(&ha, q), bm_hist_quantile(&hb, q));
    cr_assert_eq(bm_window_peak_period(a, now_us), bm_window_peak_period(b, now_us));
    bm_hist_deinit(&ha);
    bm_hist_deinit(&hb);
}

/* Adds i = 0..n-1 at T0 + i * step, sent to a (i even) or b (odd); b may be a. */
static void feed(bm_window *a, bm_window *b, int n, int64_t step)
{
    for (int i = 0; i < n; i++) {
        bm_window *x = i % 2 ? b : a;
        int64_t t = T0 + i * step;
        if (i % 7 == 3)
            bm_window_add_event(x, t, 2);
        else
            bm_window_add_execution(x, t, i % 5 == 0 ? BM_OUTCOME_FAILURE : BM_OUTCOME_SUCCESS,
                                    1000 + (i * 7919) % 250000);
    }
}

Test(window, save_load_round_trip)
{
    feed(&w, &w, 400, SEC / 4); /* 100 s: more than the window, so some periods rolled */
    bm_window back;
    cr_assert_eq(bm_window_init(&back, PERIOD, PERIODS), 0);
    bm_window_add_execution(&back, T0, BM_OUTCOME_SUCCESS, 5); /* replaced */
    char err[256] = "";
    cr_assert_eq(bm_window_load(&back, save(&w), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    for (int64_t t = T0 + 90 * SEC; t < T0 + 200 * SEC; t += 3 * SEC)
        assert_same_view(&w, &back, t);
    /* and both go on the same */
    for (int i = 0; i < 30; i++) {
        int64_t t = T0 + 105 * SEC + i * 3 * SEC;
        bm_window_add_execution(&w, t, BM_OUTCOME_TIMEOUT, 5000 + i);
        bm_window_add_execution(&back, t, BM_OUTCOME_TIMEOUT, 5000 + i);
        assert_same_view(&w, &back, t);
    }
    bm_window_deinit(&back);
}

Test(window, a_window_loaded_later_ages_its_periods_out)
{
    for (int i = 0; i < PERIODS; i++)
        bm_window_add_execution(&w, T0 + i * PERIOD, BM_OUTCOME_SUCCESS, 100);
    bm_window back;
    cr_assert_eq(bm_window_init(&back, PERIOD, PERIODS), 0);
    cr_assert_eq(bm_window_load(&back, save(&w), NULL, 0), BM_LOAD_OK);
    saved_done();
    /* loaded 25 s after the last add: the two oldest periods are out */
    bm_counts c;
    const int64_t later = T0 + (PERIODS - 1) * PERIOD + 25 * SEC;
    cr_assert_eq(bm_window_collect(&back, later, &c, NULL), 0);
    cr_assert_eq(c.executions, PERIODS - 2);
    /* an add after a gap longer than the window rolls everything old out:
     * nothing saved lands in the current period */
    const int64_t much_later = T0 + 20 * PERIOD + 1;
    bm_window_add_execution(&back, much_later, BM_OUTCOME_FAILURE, 7);
    cr_assert_eq(bm_window_collect(&back, much_later, &c, &out), 0);
    cr_assert_eq(c.executions, 1);
    cr_assert_eq(c.failures, 1);
    cr_assert_eq(out.count, 1);
    for (unsigned i = 0; i < PERIODS; i++)
        cr_assert(back.periods[i].start_us == 0 || back.periods[i].start_us == T0 + 20 * PERIOD,
                  "slot %u still holds a saved period", i);
    bm_window_deinit(&back);
}

Test(window, load_checks_the_shape_and_the_periods)
{
    bm_window_add_execution(&w, T0, BM_OUTCOME_SUCCESS, 100);
    char err[256] = "";
    bm_window other;
    cr_assert_eq(bm_window_init(&other, 30 * SEC, 10), 0);
    cr_assert_eq(bm_window_load(&other, save(&w), err, sizeof err), BM_LOAD_MISMATCH);
    saved_done();
    cr_assert(strstr(err, "6 x 10000000 µs saved, this one is 10 x 30000000 µs"), "%s", err);
    bm_window_deinit(&other);

    /* forged periods: an unaligned start, then one start twice */
    const int64_t starts[][2] = {{T0 + 1, T0 + 1}, {T0, T0}};
    const char *says[] = {"not aligned", "two periods start"};
    for (int k = 0; k < 2; k++) {
        msgpack_packer pk;
        size_t off = 0;
        msgpack_sbuffer_init(&saved_buf);
        msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int64(&pk, PERIOD);
        msgpack_pack_uint32(&pk, PERIODS);
        msgpack_pack_array(&pk, 2);
        for (int i = 0; i < 2; i++) {
            msgpack_pack_array(&pk, 7);
            msgpack_pack_int64(&pk, starts[k][i]);
            for (int j = 0; j < 5; j++)
                msgpack_pack_uint64(&pk, 1);
            bm_hist empty;
            bm_hist_init(&empty);
            bm_hist_save(&empty, &pk);
        }
        msgpack_unpacked_init(&saved_obj);
        msgpack_unpack_next(&saved_obj, saved_buf.data, saved_buf.size, &off);
        cr_assert_eq(bm_window_load(&w, &saved_obj.data, err, sizeof err), BM_LOAD_CORRUPT);
        cr_assert(strstr(err, says[k]), "%s", err);
        saved_done();
        cr_assert_eq(collect(T0).executions, 1, "unchanged");
    }
}

Test(window, merge_equals_one_window_fed_both)
{
    bm_window a, b;
    cr_assert_eq(bm_window_init(&a, PERIOD, PERIODS), 0);
    cr_assert_eq(bm_window_init(&b, PERIOD, PERIODS), 0);
    feed(&w, &w, 500, SEC / 5 + 7);
    feed(&a, &b, 500, SEC / 5 + 7);
    cr_assert_eq(bm_window_merge(&a, &b), 0);
    for (int64_t t = T0 + 100 * SEC; t < T0 + 180 * SEC; t += 5 * SEC)
        assert_same_view(&w, &a, t);
    bm_window_deinit(&a);
    bm_window_deinit(&b);
}

Test(window, merge_keeps_the_newer_period_of_a_slot)
{
    bm_window old;
    cr_assert_eq(bm_window_init(&old, PERIOD, PERIODS), 0);
    bm_window_add_execution(&old, T0, BM_OUTCOME_SUCCESS, 1);                 /* slot of T0 */
    bm_window_add_execution(&w, T0 + PERIODS * PERIOD, BM_OUTCOME_FAILURE, 2); /* same slot */
    cr_assert_eq(bm_window_merge(&w, &old), 0);
    bm_counts c = collect(T0 + PERIODS * PERIOD);
    cr_assert_eq(c.executions, 1);
    cr_assert_eq(c.failures, 1);
    /* and the other way round: the newer replaces the older */
    cr_assert_eq(bm_window_merge(&old, &w), 0);
    cr_assert_eq(bm_window_collect(&old, T0 + PERIODS * PERIOD, &c, NULL), 0);
    cr_assert_eq(c.executions, 1);
    cr_assert_eq(c.failures, 1);
    cr_assert_eq(bm_window_merge(&old, &old), -1, "dst == src");
    bm_window_deinit(&old);
    cr_assert_eq(bm_window_init(&old, PERIOD, PERIODS + 1), 0);
    cr_assert_eq(bm_window_merge(&old, &w), -1, "another shape");
    bm_window_deinit(&old);
}

/* A duration learned after its execution: in the histogram, no execution. */
Test(window, a_duration_alone_counts_no_execution)
{
    bm_window w;
    cr_assert_eq(bm_window_init(&w, 10 * 1000000LL, 6), 0);
    cr_assert_eq(bm_window_add_execution(&w, 1000000, BM_OUTCOME_SUCCESS, -1), 0);
    cr_assert_eq(bm_window_add_duration(&w, 2000000, 5000), 0);
    cr_assert_eq(bm_window_add_duration(&w, 2000000, -1), 0);
    bm_counts c;
    bm_hist h;
    bm_hist_init(&h);
    cr_assert_eq(bm_window_collect(&w, 3000000, &c, &h), 0);
    cr_assert_eq(c.executions, 1);
    cr_assert_eq(h.count, 1);
    bm_hist_deinit(&h);
    bm_window_deinit(&w);
}
