/*
 * test_syshist.c - lib/syshist: the system metrics history ring: order,
 * overwrite of the oldest with its counter, window queries.
 */
#include "lib/syshist.h"

#include <criterion/criterion.h>
#include <math.h>

static bm_sys_point at(int64_t t_us, double cpu)
{
    bm_sys_point p;
    p.ts_us = t_us;
    for (int f = 0; f < BM_SYS__COUNT; f++)
        p.v[f] = NAN;
    p.v[BM_SYS_CPU] = cpu;
    return p;
}

Test(syshist, keeps_order_and_overwrites_the_oldest)
{
    syshist *h = syshist_new(4);
    cr_assert_not_null(h);
    for (int i = 1; i <= 6; i++) {
        bm_sys_point p = at(i * 1000, i);
        syshist_push(h, &p);
    }
    cr_assert_eq(syshist_len(h), 4);
    cr_assert_eq(syshist_overwritten(h), 2);
    bm_sys_point out[8];
    size_t n = syshist_since(h, 0, INT64_MAX, out, 8);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].ts_us, (int64_t)(i + 3) * 1000);
        cr_assert_float_eq(out[i].v[BM_SYS_CPU], (double)(i + 3), 1e-12);
        cr_assert(isnan(out[i].v[BM_SYS_MEMORY]));
    }
    syshist_free(h);
}

Test(syshist, since_cuts_the_window_and_keeps_the_newest_when_capped)
{
    syshist *h = syshist_new(100);
    for (int i = 0; i < 50; i++) {
        bm_sys_point p = at(i * 10, i);
        syshist_push(h, &p);
    }
    bm_sys_point out[100];
    size_t n = syshist_since(h, 300, INT64_MAX, out, 100);
    cr_assert_eq(n, 20);
    cr_assert_eq(out[0].ts_us, 300);
    cr_assert_eq(out[19].ts_us, 490);
    n = syshist_since(h, 300, INT64_MAX, out, 5); /* at most 5: the 5 newest */
    cr_assert_eq(n, 5);
    cr_assert_eq(out[0].ts_us, 450);
    cr_assert_eq(syshist_since(h, 10000, INT64_MAX, out, 100), 0);
    syshist_free(h);
    syshist_free(NULL);
}

Test(syshist, capacity_zero_is_one)
{
    syshist *h = syshist_new(0);
    bm_sys_point a = at(1, 1), b = at(2, 2), out[2];
    syshist_push(h, &a);
    syshist_push(h, &b);
    cr_assert_eq(syshist_capacity(h), 1);
    cr_assert_eq(syshist_since(h, 0, INT64_MAX, out, 2), 1);
    cr_assert_eq(out[0].ts_us, 2);
    syshist_free(h);
}
