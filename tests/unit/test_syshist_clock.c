/*
 * test_syshist_clock.c - lib/syshist when the wall clock steps back (NTP,
 * date -s): the samples taken before the step are stamped later than those
 * after it. A window is still the points stamped inside it, oldest first:
 * the ring used to cut at the first point of the window and return every
 * point pushed after it, so a 10-minute window after a 2-hour step held the
 * 2 hours before the step, out of time order (the dashboard's charts, drawn
 * from the first point's time to the last's, went blank).
 */
#include "lib/syshist.h"

#include <criterion/criterion.h>
#include <math.h>

#define S 1000000LL

static void push(syshist *h, int64_t t_s)
{
    bm_sys_point p;
    p.ts_us = t_s * S;
    for (int f = 0; f < BM_SYS__COUNT; f++)
        p.v[f] = NAN;
    p.v[BM_SYS_CPU] = (double)t_s;
    syshist_push(h, &p);
}

/* 10 s samples from 10000 s to 17200 s, then the clock 2 h back: 10000 + 10 s ... */
static void step_back(syshist *h, int after)
{
    for (int64_t t = 10000; t <= 17200; t += 10)
        push(h, t);
    for (int i = 1; i <= after; i++)
        push(h, 10000 + 10 * i);
}

Test(syshist_clock, a_window_after_a_step_back_holds_only_its_own_points_in_order)
{
    syshist *h = syshist_new(10000);
    step_back(h, 30); /* now 10300 s: 5 minutes after the step */
    static bm_sys_point out[10000];
    size_t n = syshist_since(h, 10300 * S - 60 * S, 10300 * S, out, 10000);
    /* 10240..10300 s: 7 points before the step, 7 after it */
    cr_assert_eq(n, 14, "a 1-minute window holds %zu points", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(out[i].ts_us, 10240 * S);
        cr_assert_leq(out[i].ts_us, 10300 * S);
        if (i) cr_assert_geq(out[i].ts_us, out[i - 1].ts_us, "point %zu goes back in time", i);
    }
    /* the whole history: every point, in time order */
    n = syshist_since(h, 0, INT64_MAX, out, 10000);
    cr_assert_eq(n, 721 + 30);
    for (size_t i = 1; i < n; i++)
        cr_assert_geq(out[i].ts_us, out[i - 1].ts_us);
    cr_assert_float_eq(out[n - 1].v[BM_SYS_CPU], 17200.0, 1e-9);
    syshist_free(h);
}

Test(syshist_clock, a_full_ring_drops_the_oldest_point_by_time)
{
    syshist *h = syshist_new(4);
    push(h, 100);
    push(h, 200);
    push(h, 300);
    push(h, 400);
    push(h, 250); /* after a step back: 100 goes */
    bm_sys_point out[4];
    cr_assert_eq(syshist_since(h, 0, INT64_MAX, out, 4), 4);
    cr_assert_eq(out[0].ts_us, 200 * S);
    cr_assert_eq(out[1].ts_us, 250 * S);
    cr_assert_eq(out[3].ts_us, 400 * S);
    push(h, 50); /* older than every point kept: it is the one dropped */
    cr_assert_eq(syshist_overwritten(h), 2);
    cr_assert_eq(syshist_since(h, 0, INT64_MAX, out, 4), 4);
    cr_assert_eq(out[0].ts_us, 200 * S);
    /* capped: the newest by time */
    cr_assert_eq(syshist_since(h, 0, INT64_MAX, out, 2), 2);
    cr_assert_eq(out[0].ts_us, 300 * S);
    cr_assert_eq(out[1].ts_us, 400 * S);
    syshist_free(h);
}
