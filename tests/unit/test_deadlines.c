/*
 * test_deadlines.c - lib/deadlines: pops in due order, only when due, ties,
 * the bound and long ids refused and counted, reuse after emptying.
 */
#include "lib/deadlines.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(deadlines, pops_in_due_order_only_when_due)
{
    deadlines *d = deadlines_new(0);
    cr_assert_not_null(d);
    cr_assert_eq(deadlines_add(d, "tx1", "c1", 300, 30), 0);
    cr_assert_eq(deadlines_add(d, "tx2", "c2", 100, 10), 0);
    cr_assert_eq(deadlines_add(d, "tx3", "c3", 200, 20), 0);
    deadline e;
    cr_assert_eq(deadlines_pop_due(d, 99, &e), 0, "nothing due before 100");
    cr_assert_eq(deadlines_pop_due(d, 250, &e), 1);
    cr_assert_str_eq(e.cmd, "c2");
    cr_assert_eq(e.timeout_us, 10);
    cr_assert_eq(deadlines_pop_due(d, 250, &e), 1);
    cr_assert_str_eq(e.tx, "tx3");
    cr_assert_eq(deadlines_pop_due(d, 250, &e), 0, "c1 is due at 300");
    cr_assert_eq(deadlines_count(d), 1);
    cr_assert_eq(deadlines_pop_due(d, 300, &e), 1, "due at exactly now");
    cr_assert_str_eq(e.cmd, "c1");
    cr_assert_eq(deadlines_count(d), 0);
    deadlines_free(d);
}

Test(deadlines, random_order_comes_out_sorted)
{
    deadlines *d = deadlines_new(0);
    srand(7);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "c%d", i);
        cr_assert_eq(deadlines_add(d, "tx", id, rand() % 100000, 1), 0);
    }
    deadline e;
    int64_t last = -1;
    size_t n = 0;
    while (deadlines_pop_due(d, 1000000, &e)) {
        cr_assert_geq(e.due_us, last);
        last = e.due_us;
        n++;
    }
    cr_assert_eq(n, 5000);
    deadlines_free(d);
}

Test(deadlines, bound_and_long_ids_are_refused_and_counted)
{
    deadlines *d = deadlines_new(3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(deadlines_add(d, "tx", "c", i, 1), 0);
    cr_assert_eq(deadlines_add(d, "tx", "c", 9, 1), -1);
    char long_id[DEADLINE_ID_MAX + 1];
    memset(long_id, 'x', DEADLINE_ID_MAX);
    long_id[DEADLINE_ID_MAX] = '\0';
    deadline e;
    cr_assert_eq(deadlines_pop_due(d, 0, &e), 1);
    cr_assert_eq(deadlines_add(d, long_id, "c", 1, 1), -1, "a too long tx is refused");
    cr_assert_eq(deadlines_refused(d), 2);
    cr_assert_eq(deadlines_add(d, "tx", "c", 1, 1), 0, "room again after a pop");
    while (deadlines_pop_due(d, 100, &e)) {
    }
    cr_assert_eq(deadlines_count(d), 0);
    cr_assert_eq(deadlines_add(d, "tx", "again", 5, 1), 0, "works after emptying");
    deadlines_free(d);
}

Test(deadlines, free_null_is_a_no_op)
{
    deadlines_free(NULL);
}
