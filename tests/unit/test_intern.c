/*
 * test_intern.c - lib/intern.c: names kept once per process, bounded.
 * (Criterion runs each test in its own process: each starts empty.)
 */
#include "lib/intern.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(intern, same_name_same_id)
{
    uint32_t a = bm_intern("worker-1");
    uint32_t b = bm_intern("worker-2");
    char again[16];
    snprintf(again, sizeof again, "worker-%d", 1);
    cr_assert_neq(a, 0);
    cr_assert_neq(b, 0);
    cr_assert_neq(a, b);
    cr_assert_eq(bm_intern(again), a, "equal text, same id, whatever the pointer");
    cr_assert_str_eq(bm_intern_name(a), "worker-1");
    cr_assert_str_eq(bm_intern_name(b), "worker-2");
    cr_assert_neq(bm_intern_name(a), again, "the table keeps its own copy");
    bm_intern_stats st;
    bm_intern_get_stats(&st);
    cr_assert_eq(st.names, 2);
    cr_assert_eq(st.refused, 0);
    cr_assert_gt(st.heap_bytes, 0);
}

Test(intern, empty_unknown_and_too_long)
{
    cr_assert_eq(bm_intern(""), 0);
    cr_assert_eq(bm_intern(NULL), 0);
    cr_assert_str_eq(bm_intern_name(0), "");
    cr_assert_str_eq(bm_intern_name(12345), "");
    char long_name[BM_INTERN_MAX_LEN + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(bm_intern(long_name), 0, "longer than BM_INTERN_MAX_LEN: not interned");
    long_name[BM_INTERN_MAX_LEN] = '\0';
    cr_assert_neq(bm_intern(long_name), 0, "exactly BM_INTERN_MAX_LEN: interned");
    bm_intern_stats st;
    bm_intern_get_stats(&st);
    cr_assert_eq(st.refused, 1);
}

Test(intern, bounded_and_stable_when_full)
{
    char name[32];
    uint32_t first = bm_intern("first");
    for (uint32_t i = 1; i < BM_INTERN_MAX_NAMES; i++) {
        snprintf(name, sizeof name, "n%u", i);
        cr_assert_neq(bm_intern(name), 0, "name %u fits", i);
    }
    bm_intern_stats st;
    bm_intern_get_stats(&st);
    cr_assert_eq(st.names, BM_INTERN_MAX_NAMES);
    cr_assert_eq(bm_intern("one-too-many"), 0, "full: not interned");
    cr_assert_eq(bm_intern("one-too-many"), 0);
    bm_intern_get_stats(&st);
    cr_assert_eq(st.refused, 2);
    cr_assert_eq(bm_intern("first"), first, "names interned before stay found");
    snprintf(name, sizeof name, "n%u", BM_INTERN_MAX_NAMES - 1);
    cr_assert_str_eq(bm_intern_name(bm_intern(name)), name);
    cr_assert_lt(st.heap_bytes, BM_INTERN_MAX_BYTES + (4u << 20), "bounded: %zu", st.heap_bytes);
}
