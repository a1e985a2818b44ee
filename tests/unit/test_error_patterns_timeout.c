/*
 * test_error_patterns_timeout.c - lib/error_patterns: every timeout is the
 * one pattern "timeout", whatever the case of its type (an error type of
 * "timeout" in any case is a timeout, lib/trace.c; busmon's own timeouts
 * say "timeout"), while a type that only contains the word (TimeoutError,
 * an exception's class name: a failure) keeps its own pattern.
 */
#include "lib/error_patterns.h"

#include <criterion/criterion.h>
#include <string.h>

#define T0 (480000LL * 3600 * 1000000)

Test(error_patterns_timeout, key_of_any_case_is_timeout)
{
    char buf[BM_NAME_MAX];
    const char *types[] = {"timeout", "Timeout", "TIMEOUT", " TimeOut "};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        error_patterns_key(types[i], "no answer", buf, sizeof buf);
        cr_expect_str_eq(buf, "timeout", "type '%s'", types[i]);
    }
    error_patterns_key("TimeoutError", "upstream took 30s", buf, sizeof buf);
    cr_expect_str_eq(buf, "TimeoutError");
    error_patterns_key("", "Timeout: upstream", buf, sizeof buf); /* the message's text: kept */
    cr_expect_str_eq(buf, "Timeout");
}

Test(error_patterns_timeout, framework_and_busmon_timeouts_are_one_pattern)
{
    error_patterns *ep = error_patterns_new(0, 0);
    cr_assert_not_null(ep);
    cr_assert_eq(error_patterns_add(ep, "TIMEOUT", "worker manager gave up", "w1", T0), 0);
    cr_assert_eq(error_patterns_add(ep, "Timeout", "gave up", "w2", T0 + 1), 0);
    cr_assert_eq(error_patterns_add(ep, "timeout", "no answer within 30 s", "w1", T0 + 2), 0);
    cr_expect_eq(error_patterns_count(ep), 1);
    bm_error_pattern snap[4];
    cr_assert_eq(error_patterns_snapshot(ep, T0 + 3, snap, 4), 1);
    cr_expect_str_eq(snap[0].type, "timeout");
    cr_expect_eq(snap[0].total, 3);
    cr_expect_eq(snap[0].n_workers, 2);
    error_patterns_free(ep);
}
