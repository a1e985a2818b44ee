/*
 * test_deadlines_postpone.c - lib/deadlines: deadlines_postpone moves every
 * due time on by the same delta (a restart: the time the agent was down
 * does not count), keeps their order, does nothing for a delta <= 0, and
 * holds a due time at 2^61 µs, which a checkpoint still loads.
 */
#include "lib/deadlines.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>

#define SEC 1000000LL

Test(deadlines_postpone, moves_every_due_time_in_order)
{
    deadlines *d = deadlines_new(0);
    cr_assert_not_null(d);
    cr_assert_eq(deadlines_add(d, "tx", "b", 20 * SEC, 19 * SEC), 0);
    cr_assert_eq(deadlines_add(d, "tx", "a", 10 * SEC, 9 * SEC), 0);
    deadlines_postpone(d, 0);
    deadlines_postpone(d, -5 * SEC);
    deadline out;
    cr_expect_eq(deadlines_pop_due(d, 10 * SEC, &out), 1, "a delta <= 0 moves nothing");
    cr_expect_str_eq(out.cmd, "a");
    cr_assert_eq(deadlines_add(d, "tx", "a", 10 * SEC, 9 * SEC), 0);
    deadlines_postpone(d, 100 * SEC);
    cr_expect_eq(deadlines_pop_due(d, 109 * SEC, &out), 0, "nothing due before 110 s");
    cr_assert_eq(deadlines_pop_due(d, 110 * SEC, &out), 1);
    cr_expect_str_eq(out.cmd, "a");
    cr_expect_eq(out.due_us, 110 * SEC);
    cr_expect_eq(out.timeout_us, 9 * SEC, "the timeout itself is unchanged");
    cr_assert_eq(deadlines_pop_due(d, 120 * SEC, &out), 1);
    cr_expect_str_eq(out.cmd, "b");
    cr_expect_eq(deadlines_count(d), 0);
    deadlines_free(d);
}

Test(deadlines_postpone, held_at_the_limit_a_checkpoint_loads)
{
    deadlines *d = deadlines_new(0);
    cr_assert_not_null(d);
    cr_assert_eq(deadlines_add(d, "tx", "far", BM_SC_TIME_LIMIT - SEC, 1000 * SEC), 0);
    deadlines_postpone(d, INT64_MAX);
    deadline out;
    cr_expect_eq(deadlines_pop_due(d, BM_SC_TIME_LIMIT - 1, &out), 0);
    cr_assert_eq(deadlines_pop_due(d, BM_SC_TIME_LIMIT, &out), 1);
    cr_expect_eq(out.due_us, BM_SC_TIME_LIMIT, "at the limit a load takes, not past it");
    deadlines_free(d);
}
