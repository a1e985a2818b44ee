/*
 * test_deadlines.c - lib/deadlines: pops in due order, only when due, ties,
 * the bound and long ids refused and counted, reuse after emptying; saved
 * and loaded (same pops, refused kept), the bound on a load, corrupt saves
 * refused with the heap unchanged, swap; an answered command cancelled at
 * once (found by its ids among thousands, the rest still popping in order,
 * its slot reused, the bound freed).
 */
#include "lib/deadlines.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <msgpack.h>
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

Test(deadlines, cancel_takes_out_exactly_that_command)
{
    deadlines *d = deadlines_new(0);
    cr_assert_eq(deadlines_add(d, "tx1", "c1", 100, 1), 0);
    cr_assert_eq(deadlines_add(d, "tx1", "c2", 200, 1), 0);
    cr_assert_eq(deadlines_add(d, "tx2", "c1", 300, 1), 0);
    cr_assert_eq(deadlines_cancel(d, "tx1", "c3"), 0, "not there");
    cr_assert_eq(deadlines_cancel(d, "tx3", "c1"), 0, "same cmd, other tx");
    cr_assert_eq(deadlines_cancel(d, "tx1c", "1"), 0, "the ids are not one string");
    cr_assert_eq(deadlines_cancel(d, "tx1", "c1"), 1);
    cr_assert_eq(deadlines_cancel(d, "tx1", "c1"), 0, "already gone");
    cr_assert_eq(deadlines_count(d), 2);
    deadline e;
    cr_assert_eq(deadlines_pop_due(d, 1000, &e), 1);
    cr_assert_str_eq(e.cmd, "c2");
    cr_assert_eq(deadlines_pop_due(d, 1000, &e), 1);
    cr_assert_str_eq(e.tx, "tx2");
    cr_assert_eq(deadlines_pop_due(d, 1000, &e), 0);
    cr_assert_eq(deadlines_cancel(d, "tx2", "c1"), 0, "popped is gone");
    deadlines_free(d);
}

Test(deadlines, cancel_among_thousands_keeps_the_order_and_frees_the_bound)
{
    enum { N = 3000 };
    deadlines *d = deadlines_new(N);
    static int64_t due[N];
    static char alive[N];
    srand(11);
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "c%d", i);
        due[i] = rand() % 100000;
        alive[i] = 1;
        cr_assert_eq(deadlines_add(d, "tx", id, due[i], 1), 0);
    }
    cr_assert_eq(deadlines_add(d, "tx", "one-more", 1, 1), -1, "full");
    for (int i = 0; i < N; i += 3) { /* cancel every third, in add order */
        snprintf(id, sizeof id, "c%d", i);
        cr_assert_eq(deadlines_cancel(d, "tx", id), 1, "%s", id);
        alive[i] = 0;
    }
    cr_assert_eq(deadlines_count(d), N - (N + 2) / 3);
    /* the freed room takes new commands (slots reused) */
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, "n%d", i);
        cr_assert_eq(deadlines_add(d, "tx2", id, 50000, 1), 0, "%s", id);
    }
    cr_assert_eq(deadlines_count(d), N);
    deadline e;
    int64_t last = -1;
    size_t n_old = 0, n_new = 0;
    while (deadlines_pop_due(d, 1000000, &e)) {
        cr_assert_geq(e.due_us, last, "in due order");
        last = e.due_us;
        if (!strcmp(e.tx, "tx2")) {
            n_new++;
            continue;
        }
        int i = atoi(e.cmd + 1);
        cr_assert(alive[i], "c%d was cancelled but popped", i);
        cr_assert_eq(e.due_us, due[i]);
        alive[i] = 0;
        n_old++;
    }
    cr_assert_eq(n_old, N - (N + 2) / 3);
    cr_assert_eq(n_new, (N + 2) / 3);
    cr_assert_eq(deadlines_refused(d), 1);
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

/* ---- save / load ------------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const deadlines *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(deadlines_save(x, &pk), 0);
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

Test(deadlines, save_load_round_trip_pops_the_same)
{
    deadlines *d = deadlines_new(10), *back = deadlines_new(10);
    char tx[32], cmd[DEADLINE_ID_MAX];
    srand(11);
    for (int i = 0; i < 12; i++) { /* two refused */
        snprintf(tx, sizeof tx, "tx-%d", i);
        snprintf(cmd, sizeof cmd, "cmd-%d", rand() % 1000);
        deadlines_add(d, tx, cmd, 1000 + rand() % 100, 30 + i);
    }
    cr_assert_eq(deadlines_add(back, "tx", "old", 5, 5), 0); /* replaced by the load */
    char err[256] = "";
    cr_assert_eq(deadlines_load(back, save(d), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    cr_assert_eq(deadlines_count(back), 10);
    cr_assert_eq(deadlines_refused(back), 2);
    deadline x, y;
    cr_assert_eq(deadlines_pop_due(back, 999, &y), 0, "'old' is gone");
    while (deadlines_pop_due(d, 2000, &x)) {
        cr_assert_eq(deadlines_pop_due(back, 2000, &y), 1);
        cr_assert_eq(x.due_us, y.due_us);
        cr_assert_eq(x.timeout_us, y.timeout_us);
        cr_assert_str_eq(x.tx, y.tx);
        cr_assert_str_eq(x.cmd, y.cmd);
    }
    cr_assert_eq(deadlines_count(back), 0);
    deadlines_free(d);
    deadlines_free(back);
}

Test(deadlines, load_keeps_the_bound_and_refuses_corrupt_entries)
{
    deadlines *d = deadlines_new(0), *small = deadlines_new(2);
    for (int i = 0; i < 5; i++)
        deadlines_add(d, "tx", "c", 100 - i, 1);
    cr_assert_eq(deadlines_max(small), 2);
    cr_assert_eq(deadlines_load(small, save(d), NULL, 0), BM_LOAD_OK);
    saved_done();
    cr_assert_eq(deadlines_count(small), 2);
    cr_assert_eq(deadlines_refused(small), 3);

    /* an entry with a negative timeout, one with an id too long, one not an array */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    const char *says = "entry 0 is not [due_us, timeout_us >= 0, tx, cmd]";
    for (int k = 0; k < 3; k++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        bm_sc_key_u64(&pk, "refused", 0);
        bm_sc_key(&pk, "entries");
        msgpack_pack_array(&pk, 1);
        if (k == 2) {
            msgpack_pack_nil(&pk);
        } else {
            char id[DEADLINE_ID_MAX + 1];
            memset(id, 'x', sizeof id - 1);
            id[k == 1 ? sizeof id - 1 : 3] = '\0';
            msgpack_pack_array(&pk, 4);
            msgpack_pack_int64(&pk, 10);
            msgpack_pack_int64(&pk, k == 0 ? -1 : 1);
            bm_sc_str(&pk, "tx");
            bm_sc_str(&pk, id);
        }
        msgpack_unpacked u;
        size_t off = 0;
        msgpack_unpacked_init(&u);
        msgpack_unpack_next(&u, sb.data, sb.size, &off);
        char err[256];
        cr_assert_eq(deadlines_load(small, &u.data, err, sizeof err), BM_LOAD_CORRUPT);
        cr_assert(strstr(err, says), "%s", err);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        cr_assert_eq(deadlines_count(small), 2, "unchanged");
        cr_assert_eq(deadlines_refused(small), 3);
    }
    deadlines_swap(d, small);
    cr_assert_eq(deadlines_count(d), 2);
    cr_assert_eq(deadlines_max(d), 2);
    cr_assert_eq(deadlines_count(small), 5);
    deadlines_free(d);
    deadlines_free(small);
}
