/*
 * test_error_patterns.c - lib/error_patterns: the group key (type, message
 * prefix, "unknown"), the example message, the workers list and its
 * overflow counter, the bound on patterns, per-window counts rolling out,
 * the snapshot's order, and the hourly trend; saved and loaded (windows
 * and trend age on after a load), merged (counts, first / last seen, the
 * first example, the union of workers counted exactly past the list), the
 * bound on a load and a merge, corrupt and mismatched saves refused.
 *
 * Time is driven by hand from T0, a whole hour (so also a whole 10 s, 30 s
 * and minute); nothing reads a clock.
 */
#include "lib/error_patterns.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define T0   (480000LL * HOUR)

static error_patterns *ep;
static bm_error_pattern snap[16];

static void setup(void)
{
    ep = error_patterns_new(0, 0);
    cr_assert_not_null(ep);
}

static void teardown(void)
{
    error_patterns_free(ep);
}

TestSuite(error_patterns, .init = setup, .fini = teardown);

static const msgpack_object *save(const error_patterns *x);
static void saved_done(void);

static void add_ok(const char *type, const char *msg, const char *worker, int64_t now_us)
{
    cr_assert_eq(error_patterns_add(ep, type, msg, worker, now_us), 0, "adding %s / %s", type, msg);
}

/* The snapshot entry of pattern `type` at now_us (asserts it is there). */
static const bm_error_pattern *get(const char *type, int64_t now_us)
{
    size_t n = error_patterns_snapshot(ep, now_us, snap, 16);
    for (size_t i = 0; i < n; i++)
        if (strcmp(snap[i].type, type) == 0) return &snap[i];
    cr_assert_fail("no pattern %s", type);
    return NULL;
}

static void key_is(const char *type, const char *msg, const char *want)
{
    char buf[BM_NAME_MAX];
    error_patterns_key(type, msg, buf, sizeof buf);
    cr_assert_str_eq(buf, want, "key of (%s, %s)", type ? type : "NULL", msg ? msg : "NULL");
}

Test(error_patterns, key_type_then_message_prefix_then_unknown)
{
    key_is("NetworkError", "whatever: else", "NetworkError");
    key_is("  NetworkError\t", NULL, "NetworkError");
    key_is("", "NetworkError: Connection timeout", "NetworkError");
    key_is(NULL, "  ValueError  : bad input: 3", "ValueError");
    key_is("   ", "TimeoutError:", "TimeoutError");
    key_is("", "disk full", "disk full"); /* no ':' -> all of it */
    key_is("", "", "unknown");
    key_is(NULL, NULL, "unknown");
    key_is("", "  : no prefix", "unknown");
    key_is(" ", " \t ", "unknown");
}

Test(error_patterns, key_cut_to_buffer_on_utf8_boundary)
{
    char buf[6];
    error_patterns_key("abcdefgh", "", buf, sizeof buf);
    cr_assert_str_eq(buf, "abcde");
    /* "abcd" + "é" (2 bytes): the 'é' does not fit whole in 5 bytes */
    error_patterns_key("abcd\xc3\xa9xyz", "", buf, sizeof buf);
    cr_assert_str_eq(buf, "abcd");
    error_patterns_key("abc\xc3\xa9xyz", "", buf, sizeof buf);
    cr_assert_str_eq(buf, "abc\xc3\xa9");
    char one[1] = {'x'};
    error_patterns_key("abc", "", one, sizeof one);
    cr_assert_eq(one[0], '\0');
}

Test(error_patterns, groups_by_type_before_message)
{
    add_ok("NetworkError", "Connection timeout", "w1", T0);
    add_ok("NetworkError", "Connection refused", "w1", T0 + SEC);
    add_ok("", "NetworkError: DNS failure", "w2", T0 + 2 * SEC);
    add_ok("", "ValueError: bad input", "w1", T0 + 3 * SEC);
    add_ok("", "", "w3", T0 + 4 * SEC);
    add_ok(NULL, NULL, NULL, T0 + 5 * SEC);
    cr_assert_eq(error_patterns_count(ep), 3);
    cr_assert_eq(error_patterns_refused(ep), 0);

    const bm_error_pattern *ne = get("NetworkError", T0 + 10 * SEC);
    cr_assert_eq(ne->total, 3);
    cr_assert_eq(ne->first_seen_us, T0);
    cr_assert_eq(ne->last_seen_us, T0 + 2 * SEC);
    cr_assert_eq(get("ValueError", T0 + 10 * SEC)->total, 1);
    const bm_error_pattern *un = get("unknown", T0 + 10 * SEC);
    cr_assert_eq(un->total, 2);
    cr_assert_eq(un->n_workers, 1); /* NULL worker is not a worker */
    cr_assert_str_eq(un->workers[0], "w3");
    cr_assert_str_eq(un->example, "", "no message, no example");
}

Test(error_patterns, example_is_first_non_empty_message)
{
    add_ok("E", "", "w", T0);
    add_ok("E", "first message", "w", T0 + SEC);
    add_ok("E", "second message", "w", T0 + 2 * SEC);
    cr_assert_str_eq(get("E", T0 + 3 * SEC)->example, "first message");

    char longmsg[600];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    add_ok("Long", longmsg, "w", T0);
    const bm_error_pattern *l = get("Long", T0);
    cr_assert_eq(strlen(l->example), sizeof l->example - 1);
}

Test(error_patterns, workers_listed_then_counted)
{
    char name[32];
    /* 12 distinct workers, each hitting the pattern three times */
    for (int round = 0; round < 3; round++)
        for (int w = 0; w < 12; w++) {
            snprintf(name, sizeof name, "worker-%02d", w);
            add_ok("Boom", "Boom: x", name, T0 + round * SEC);
        }
    add_ok("Boom", "Boom: x", "", T0 + 5 * SEC); /* no worker */
    const bm_error_pattern *b = get("Boom", T0 + 10 * SEC);
    cr_assert_eq(b->total, 37);
    cr_assert_eq(b->n_workers, BM_PATTERN_WORKERS_MAX);
    for (unsigned i = 0; i < b->n_workers; i++) {
        snprintf(name, sizeof name, "worker-%02u", i);
        cr_assert_str_eq(b->workers[i], name, "listed in order of first hit");
    }
    cr_assert_eq(b->workers_more, 12 - BM_PATTERN_WORKERS_MAX);
}

Test(error_patterns, workers_more_counts_many_distinct)
{
    char name[32];
    for (int w = 0; w < 500; w++) {
        snprintf(name, sizeof name, "w%d", w);
        add_ok("Many", "", name, T0);
        add_ok("Many", "", name, T0 + SEC);
    }
    cr_assert_eq(get("Many", T0 + SEC)->workers_more, 500 - BM_PATTERN_WORKERS_MAX);
}

Test(error_patterns, long_worker_name_cut)
{
    char name[300];
    memset(name, 'w', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    add_ok("E", "", name, T0);
    add_ok("E", "", name, T0 + SEC);
    const bm_error_pattern *e = get("E", T0 + SEC);
    cr_assert_eq(e->n_workers, 1);
    cr_assert_eq(strlen(e->workers[0]), BM_NAME_MAX - 1);
}

Test(error_patterns, refuses_new_patterns_at_bound)
{
    error_patterns *small = error_patterns_new(3, 0);
    cr_assert_not_null(small);
    cr_assert_eq(error_patterns_add(small, "A", "", "w", T0), 0);
    cr_assert_eq(error_patterns_add(small, "B", "", "w", T0), 0);
    cr_assert_eq(error_patterns_add(small, "C", "", "w", T0), 0);
    cr_assert_eq(error_patterns_add(small, "D", "", "w", T0), -1);
    cr_assert_eq(error_patterns_add(small, "", "E: x", "w", T0), -1);
    cr_assert_eq(error_patterns_add(small, "A", "", "w", T0 + SEC), 0,
                 "known pattern still counts");
    cr_assert_eq(error_patterns_count(small), 3);
    cr_assert_eq(error_patterns_refused(small), 2);
    bm_error_pattern out[4];
    cr_assert_eq(error_patterns_snapshot(small, T0 + SEC, out, 4), 3);
    cr_assert_str_eq(out[0].type, "A");
    cr_assert_eq(out[0].total, 2);
    error_patterns_free(small);
}

Test(error_patterns, a_full_table_evicts_the_longest_idle_pattern)
{
    error_patterns *small = error_patterns_new(3, 0);
    error_patterns_set_max_idle(small, HOUR);
    cr_assert_eq(error_patterns_add(small, "A", "", "w", T0), 0);
    cr_assert_eq(error_patterns_add(small, "B", "", "w", T0 + MIN), 0);
    cr_assert_eq(error_patterns_add(small, "C", "", "w", T0 + 2 * MIN), 0);
    cr_assert_eq(error_patterns_add(small, "D", "", "w", T0 + 59 * MIN), -1);
    cr_assert_str_eq(error_patterns_last_refused(small), "D");
    cr_assert_eq(error_patterns_add(small, "D", "", "w", T0 + HOUR), 0, "A idle 1 h: evicted");
    cr_assert_eq(error_patterns_evicted(small), 1);
    cr_assert_eq(error_patterns_add(small, "B", "", "w", T0 + HOUR), 0, "B still there");
    cr_assert_eq(error_patterns_count(small), 3);
    cr_assert_eq(error_patterns_add(small, "E", "", "w", T0 + HOUR + 3 * MIN), 0, "C went");
    bm_error_pattern out[4];
    size_t n = error_patterns_snapshot(small, T0 + HOUR + 3 * MIN, out, 4);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_neq(out[i].type, "A");
        cr_assert_str_neq(out[i].type, "C");
    }
    cr_assert_eq(error_patterns_evicted(small), 2);
    cr_assert_eq(error_patterns_refused(small), 1);

    /* saved and loaded with its counter; a merge refuses, never evicts */
    const msgpack_object *o = save(small);
    error_patterns *back = error_patterns_new(3, 0);
    char err[256] = "";
    cr_assert_eq(error_patterns_load(back, o, err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    cr_assert_eq(error_patterns_evicted(back), 2);
    error_patterns *other = error_patterns_new(3, 0);
    error_patterns_add(other, "Z", "", "w", T0);
    cr_assert_eq(error_patterns_merge(back, other), 0);
    cr_assert_eq(error_patterns_count(back), 3);
    cr_assert_eq(error_patterns_refused(back), 2);
    error_patterns_free(other);
    error_patterns_free(back);
    error_patterns_free(small);
}

Test(error_patterns, default_bound_is_200)
{
    char type[32];
    for (int i = 0; i < 250; i++) {
        snprintf(type, sizeof type, "Type%d", i);
        int rc = error_patterns_add(ep, type, "", "w", T0);
        cr_assert_eq(rc, i < 200 ? 0 : -1, "pattern %d", i);
    }
    cr_assert_eq(error_patterns_count(ep), 200);
    cr_assert_eq(error_patterns_refused(ep), 50);
    /* every kept pattern is found again (index growth kept them all) */
    for (int i = 0; i < 200; i++) {
        snprintf(type, sizeof type, "Type%d", i);
        cr_assert_eq(error_patterns_add(ep, type, "", "w", T0 + SEC), 0);
    }
    cr_assert_eq(error_patterns_count(ep), 200);
    cr_assert_eq(error_patterns_refused(ep), 50);
}

Test(error_patterns, window_counts_roll_out)
{
    add_ok("E", "", "w", T0);            /* period [T0, T0+10s) of 1m */
    add_ok("E", "", "w", T0 + 25 * SEC); /* 30 s period 0 of 5m */
    add_ok("E", "", "w", T0 + 35 * SEC); /* 30 s period 1 */

    const bm_error_pattern *e = get("E", T0 + 59 * SEC);
    cr_assert_eq(e->count[0], 3);
    cr_assert_eq(e->count[1], 3);
    cr_assert_eq(e->count[2], 3);

    /* at T0+60s the 1m window is [T0+10s, T0+70s): the first error left */
    e = get("E", T0 + 60 * SEC);
    cr_assert_eq(e->count[0], 2);
    e = get("E", T0 + 80 * SEC); /* [T0+30s, T0+90s) */
    cr_assert_eq(e->count[0], 1);
    add_ok("E", "", "w", T0 + 4 * MIN);
    e = get("E", T0 + 4 * MIN);
    cr_assert_eq(e->count[0], 1);
    cr_assert_eq(e->count[1], 4);

    /* 5m window at T0+5min is [T0+30s, T0+5m30s): the first two left */
    e = get("E", T0 + 5 * MIN);
    cr_assert_eq(e->count[0], 0);
    cr_assert_eq(e->count[1], 2);
    cr_assert_eq(e->count[2], 4);
    cr_assert_eq(e->total, 4);

    /* the perf window (60 min, 12 x 5 min) keeps them until T0+60min */
    e = get("E", T0 + 59 * MIN);
    cr_assert_eq(e->count[1], 0);
    cr_assert_eq(e->count[2], 4);
    e = get("E", T0 + 60 * MIN); /* all four sat in the period [T0, T0+5min) */
    cr_assert_eq(e->count[2], 0);
    cr_assert_eq(e->total, 4);

    /* a slot reused by a later period restarts its count */
    add_ok("E", "", "w", T0 + 120 * MIN);
    e = get("E", T0 + 120 * MIN);
    cr_assert_eq(e->count[0], 1);
    cr_assert_eq(e->count[1], 1);
    cr_assert_eq(e->count[2], 1);
    cr_assert_eq(e->total, 5);
}

Test(error_patterns, custom_perf_window)
{
    error_patterns *p = error_patterns_new(0, 12 * MIN); /* 12 x 1 min */
    cr_assert_not_null(p);
    bm_error_pattern out[1];
    for (int m = 0; m < 12; m++)
        cr_assert_eq(error_patterns_add(p, "E", "", "w", T0 + m * MIN), 0);
    cr_assert_eq(error_patterns_snapshot(p, T0 + 11 * MIN, out, 1), 1);
    cr_assert_eq(out[0].count[2], 12);
    cr_assert_eq(error_patterns_snapshot(p, T0 + 12 * MIN, out, 1), 1);
    cr_assert_eq(out[0].count[2], 11);
    cr_assert_eq(error_patterns_snapshot(p, T0 + 20 * MIN, out, 1), 1);
    cr_assert_eq(out[0].count[2], 3);
    error_patterns_free(p);
}

Test(error_patterns, old_time_is_out_of_the_windows)
{
    add_ok("E", "", "w", T0 + 10 * MIN);
    add_ok("E", "", "w", T0); /* older than the 1m and 5m rings reach */
    const bm_error_pattern *e = get("E", T0 + 10 * MIN);
    cr_assert_eq(e->count[0], 1);
    cr_assert_eq(e->count[1], 1);
    cr_assert_eq(e->count[2], 2);
    cr_assert_eq(e->total, 2);
    cr_assert_eq(e->first_seen_us, T0);
    cr_assert_eq(e->last_seen_us, T0 + 10 * MIN);
}

Test(error_patterns, snapshot_sorted_by_perf_count_then_name)
{
    for (int i = 0; i < 3; i++)
        add_ok("Mid", "", "w", T0);
    for (int i = 0; i < 5; i++)
        add_ok("Top", "", "w", T0);
    for (int i = 0; i < 3; i++)
        add_ok("Aaa", "", "w", T0);
    add_ok("Low", "", "w", T0);
    /* many old errors, out of the perf window by now */
    for (int i = 0; i < 9; i++)
        add_ok("Old", "", "w", T0 - 2 * HOUR);

    size_t n = error_patterns_snapshot(ep, T0 + SEC, snap, 16);
    cr_assert_eq(n, 5);
    const char *want[] = {"Top", "Aaa", "Mid", "Low", "Old"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(snap[i].type, want[i], "rank %zu", i);
    cr_assert_eq(snap[4].total, 9);
    cr_assert_eq(snap[4].count[2], 0);

    /* fewer slots than patterns: the top ones */
    n = error_patterns_snapshot(ep, T0 + SEC, snap, 2);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(snap[0].type, "Top");
    cr_assert_str_eq(snap[1].type, "Aaa");
    cr_assert_eq(error_patterns_snapshot(ep, T0, snap, 0), 0);
}

/* `per_hour[h]` errors spread evenly through hour h after T0. */
static void hours(const char *type, const unsigned *per_hour, unsigned n_hours)
{
    for (unsigned h = 0; h < n_hours; h++)
        for (unsigned i = 0; i < per_hour[h]; i++)
            add_ok(type, "", "w", T0 + h * HOUR + (int64_t)i * HOUR / per_hour[h]);
}

Test(error_patterns, trend_stable_with_steady_rate)
{
    unsigned steady[11] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 0};
    hours("Steady", steady, 10);
    /* hour 10 half gone, 5 errors in it: recent 15 / 1.5 h = 10 per hour */
    for (int i = 0; i < 5; i++)
        add_ok("Steady", "", "w", T0 + 10 * HOUR + i * 6 * MIN);
    cr_assert_eq(get("Steady", T0 + 10 * HOUR + 30 * MIN)->trend, BM_TREND_STABLE);
}

Test(error_patterns, trend_increasing)
{
    unsigned rising[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 20};
    hours("Rising", rising, 10);
    /* at the start of hour 10: recent = hour 9 (20/h) vs 2/h before */
    const bm_error_pattern *r = get("Rising", T0 + 10 * HOUR);
    cr_assert_eq(r->trend, BM_TREND_INCREASING);
    cr_assert_eq(r->total, 38);
}

Test(error_patterns, trend_increasing_for_a_new_pattern_after_quiet_hours)
{
    add_ok("Other", "", "w", T0); /* the table has been watching since T0 */
    for (int i = 0; i < 4; i++)
        add_ok("Fresh", "", "w", T0 + 5 * HOUR + i * MIN);
    cr_assert_eq(get("Fresh", T0 + 5 * HOUR + 10 * MIN)->trend, BM_TREND_INCREASING);
}

Test(error_patterns, trend_needs_three_recent_errors_to_increase)
{
    add_ok("Other", "", "w", T0);
    for (int i = 0; i < 2; i++)
        add_ok("Two", "", "w", T0 + 5 * HOUR + i * MIN);
    cr_assert_eq(get("Two", T0 + 5 * HOUR + 10 * MIN)->trend, BM_TREND_STABLE);
}

Test(error_patterns, trend_decreasing)
{
    unsigned falling[10] = {20, 20, 20, 20, 20, 20, 20, 20, 20, 2};
    hours("Falling", falling, 10);
    cr_assert_eq(get("Falling", T0 + 10 * HOUR)->trend, BM_TREND_DECREASING);
    /* and still, pro rata, 30 minutes into an empty hour 10 */
    cr_assert_eq(get("Falling", T0 + 10 * HOUR + 30 * MIN)->trend, BM_TREND_DECREASING);
    /* once it is gone for the whole 24 hours there is nothing to compare */
    cr_assert_eq(get("Falling", T0 + 40 * HOUR)->trend, BM_TREND_STABLE);
}

Test(error_patterns, trend_pro_rata_current_hour)
{
    unsigned steady[10] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    hours("P", steady, 10);
    /* 14 errors in the first 9 minutes of hour 10. At 10 min:
     * (10 + 14) / (1 + 1/6) h = 20.6/h > 1.5 x 10/h */
    for (int i = 0; i < 14; i++)
        add_ok("P", "", "w", T0 + 10 * HOUR + i * 40 * SEC);
    cr_assert_eq(get("P", T0 + 10 * HOUR + 10 * MIN)->trend, BM_TREND_INCREASING);
    /* the same 24 spread over 1 h 50 min: 13.1/h, within [5, 15] */
    cr_assert_eq(get("P", T0 + 10 * HOUR + 50 * MIN)->trend, BM_TREND_STABLE);
}

Test(error_patterns, trend_stable_with_too_little_history)
{
    for (int i = 0; i < 30; i++)
        add_ok("Burst", "", "w", T0 + i * MIN);
    cr_assert_eq(get("Burst", T0 + 50 * MIN)->trend, BM_TREND_STABLE);
    cr_assert_eq(get("Burst", T0 + HOUR + 50 * MIN)->trend, BM_TREND_STABLE);
    /* two hours in, hour 0 is history: 30 then nothing */
    cr_assert_eq(get("Burst", T0 + 2 * HOUR + 50 * MIN)->trend, BM_TREND_DECREASING);
}

Test(error_patterns, trend_history_starts_mid_hour)
{
    /* the table starts at T0 + 30 min: hour 0 is half observed, so its
     * 10 errors are a rate of 20 per hour */
    for (int i = 0; i < 10; i++)
        add_ok("H", "", "w", T0 + 30 * MIN + i * MIN);
    for (int i = 0; i < 10; i++)
        add_ok("H", "", "w", T0 + HOUR + i * MIN);
    for (int i = 0; i < 18; i++)
        add_ok("H", "", "w", T0 + 2 * HOUR + i * MIN);
    /* at T0 + 3h: recent = hour 2 (18/h); previous = hours 0..1 observed
     * 1.5 h with 20 errors = 13.3/h, and 18 is not > 20: stable (counting
     * hour 0 as a whole hour, 10/h, would have said increasing). */
    cr_assert_eq(get("H", T0 + 3 * HOUR)->trend, BM_TREND_STABLE);
}

Test(error_patterns, null_table_is_harmless)
{
    error_patterns_free(NULL);
    cr_assert_eq(error_patterns_count(NULL), 0);
    cr_assert_eq(error_patterns_refused(NULL), 0);
    cr_assert_eq(error_patterns_add(NULL, "E", "", "w", T0), -1);
    cr_assert_eq(error_patterns_snapshot(NULL, T0, snap, 16), 0);
}

/* ---- save / load / merge ------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const error_patterns *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(error_patterns_save(x, &pk), 0);
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

static void same_snapshots(error_patterns *a, error_patterns *b, int64_t now_us)
{
    static bm_error_pattern x[16], y[16];
    size_t n = error_patterns_snapshot(a, now_us, x, 16);
    cr_assert_eq(error_patterns_snapshot(b, now_us, y, 16), n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(x[i].type, y[i].type);
        cr_assert_eq(memcmp(x[i].count, y[i].count, sizeof x[i].count), 0, "%s", x[i].type);
        cr_assert_eq(x[i].total, y[i].total);
        cr_assert_eq(x[i].first_seen_us, y[i].first_seen_us);
        cr_assert_eq(x[i].last_seen_us, y[i].last_seen_us);
        cr_assert_str_eq(x[i].example, y[i].example);
        cr_assert_eq(x[i].n_workers, y[i].n_workers);
        for (unsigned k = 0; k < x[i].n_workers; k++)
            cr_assert_str_eq(x[i].workers[k], y[i].workers[k]);
        cr_assert_eq(x[i].workers_more, y[i].workers_more);
        cr_assert_eq(x[i].trend, y[i].trend, "%s trend at %lld", x[i].type,
                     (long long)(now_us - T0));
    }
}

/* Errors over `hours` hours from T0: a steady one, one growing, and one
 * with many workers. */
static void history(error_patterns *p, int hours)
{
    char name[32];
    for (int h = 0; h < hours; h++)
        for (int i = 0; i < 6 + (h > hours - 3 ? 20 : 0); i++) {
            int64_t t = T0 + h * HOUR + i * 97 * SEC;
            snprintf(name, sizeof name, "worker-%d", (h * 7 + i) % 30);
            cr_assert_eq(error_patterns_add(p, "Steady", "Steady: tick", "w", t), 0);
            if (h > hours - 3)
                cr_assert_eq(error_patterns_add(p, "", "Growing: more", name, t + SEC), 0);
        }
}

Test(error_patterns, save_load_round_trip_ages_on_the_same)
{
    history(ep, 6);
    error_patterns *back = error_patterns_new(0, 0);
    char err[256] = "";
    cr_assert_eq(error_patterns_load(back, save(ep), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    cr_assert_eq(get("Growing", T0 + 6 * HOUR)->trend, BM_TREND_INCREASING);
    for (int64_t t = T0 + 5 * HOUR; t < T0 + 30 * HOUR; t += 47 * MIN)
        same_snapshots(ep, back, t);
    cr_assert_eq(error_patterns_add(back, "Steady", "", "w", T0 + 7 * HOUR), 0);
    cr_assert_eq(error_patterns_add(ep, "Steady", "", "w", T0 + 7 * HOUR), 0);
    same_snapshots(ep, back, T0 + 7 * HOUR);
    error_patterns_free(back);
}

Test(error_patterns, merge_equals_one_table_fed_both)
{
    error_patterns *a = error_patterns_new(0, 0), *b = error_patterns_new(0, 0);
    char name[32];
    /* the same errors, alternately to a and b; 20 workers hit "Boom" */
    for (int i = 0; i < 400; i++) {
        int64_t t = T0 + 2 * HOUR + i * 37 * SEC;
        snprintf(name, sizeof name, "worker-%02d", i % 20);
        char msg[32];
        snprintf(msg, sizeof msg, "Boom: number %d", i);
        const char *type = i % 3 ? "Boom" : "Bang";
        cr_assert_eq(error_patterns_add(ep, type, msg, name, t), 0);
        cr_assert_eq(error_patterns_add(i % 2 ? b : a, type, msg, name, t), 0);
    }
    cr_assert_eq(error_patterns_merge(b, a), 0); /* b saw the first error second */
    const int64_t end = T0 + 2 * HOUR + 400 * 37 * SEC;
    static bm_error_pattern x[4], y[4];
    for (int64_t t = end; t < end + 26 * HOUR; t += 29 * MIN) {
        size_t n = error_patterns_snapshot(ep, t, x, 4);
        cr_assert_eq(error_patterns_snapshot(b, t, y, 4), n);
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_eq(x[i].type, y[i].type);
            cr_assert_eq(memcmp(x[i].count, y[i].count, sizeof x[i].count), 0);
            cr_assert_eq(x[i].total, y[i].total);
            cr_assert_eq(x[i].first_seen_us, y[i].first_seen_us);
            cr_assert_eq(x[i].last_seen_us, y[i].last_seen_us);
            cr_assert_str_eq(x[i].example, y[i].example, "the first example overall");
            cr_assert_eq(x[i].n_workers, BM_PATTERN_WORKERS_MAX);
            cr_assert_eq(y[i].n_workers, BM_PATTERN_WORKERS_MAX);
            cr_assert_eq(x[i].workers_more, y[i].workers_more, "%s", x[i].type);
            cr_assert_eq(x[i].trend, y[i].trend);
        }
    }
    cr_assert_eq(get("Boom", end)->workers_more, 20 - BM_PATTERN_WORKERS_MAX);
    cr_assert_eq(error_patterns_merge(b, b), -1);
    error_patterns_free(a);
    error_patterns_free(b);
}

Test(error_patterns, merge_and_load_keep_the_bound_and_count_refused_errors)
{
    error_patterns *small = error_patterns_new(2, 0);
    add_ok("A", "", "w", T0);
    add_ok("B", "", "w", T0);
    add_ok("C", "", "w", T0);
    add_ok("C", "", "w", T0 + SEC);
    cr_assert_eq(error_patterns_add(small, "Z", "", "w", T0), 0);
    cr_assert_eq(error_patterns_merge(small, ep), 0);
    cr_assert_eq(error_patterns_count(small), 2);
    cr_assert_eq(error_patterns_refused(small), 1 + 2, "B's error and C's two");

    error_patterns *loaded = error_patterns_new(1, 0);
    cr_assert_eq(error_patterns_load(loaded, save(ep), NULL, 0), BM_LOAD_OK);
    saved_done();
    cr_assert_eq(error_patterns_count(loaded), 1);
    cr_assert_eq(error_patterns_refused(loaded), 3);
    error_patterns_free(small);
    error_patterns_free(loaded);
}

Test(error_patterns, load_refuses_other_rings_and_corrupt_saves)
{
    add_ok("A", "A: x", "w", T0);
    error_patterns *other = error_patterns_new(0, 2 * HOUR);
    char err[256];
    cr_assert_eq(error_patterns_load(other, save(ep), err, sizeof err), BM_LOAD_MISMATCH);
    saved_done();
    cr_assert(strstr(err, "rings of other periods"), "%s", err);
    cr_assert_eq(error_patterns_count(other), 0);
    error_patterns_free(other);

    /* a pattern saved twice, a "more" that is not whole hashes */
    const msgpack_object *o = save(ep);
    const msgpack_object *list = bm_sc_get(o, "patterns");
    msgpack_object twice[2] = {list->via.array.ptr[0], list->via.array.ptr[0]};
    msgpack_object_kv kv[8];
    memcpy(kv, o->via.map.ptr, o->via.map.size * sizeof *kv);
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (kv[i].val.type == MSGPACK_OBJECT_ARRAY && &o->via.map.ptr[i].val == list)
            kv[i].val.via.array = (msgpack_object_array){2, twice};
    msgpack_object bad = *o;
    bad.via.map.ptr = kv;
    error_patterns *back = error_patterns_new(0, 0);
    cr_assert_eq(error_patterns_load(back, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "'A' saved twice"), "%s", err);
    msgpack_object_kv pk[8];
    const msgpack_object *p0 = &list->via.array.ptr[0];
    memcpy(pk, p0->via.map.ptr, p0->via.map.size * sizeof *pk);
    for (uint32_t i = 0; i < p0->via.map.size; i++)
        if (pk[i].val.type == MSGPACK_OBJECT_BIN) pk[i].val.via.bin.size = 5;
    twice[0] = *p0;
    twice[0].via.map.ptr = pk;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (&o->via.map.ptr[i].val == list) kv[i].val.via.array.size = 1;
    cr_assert_eq(error_patterns_load(back, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "'more' is not a list of 8-byte hashes"), "%s", err);
    saved_done();
    cr_assert_eq(error_patterns_count(back), 0);
    error_patterns_free(back);
}
