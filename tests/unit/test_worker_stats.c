/*
 * test_worker_stats.c - lib/worker_stats: health from unknown through
 * healthy, degraded and failed and back with the issues in words, no
 * flapping, recovery to the worst state of the streak, inactivity, the
 * pending rules, in flight, the max_workers bound and the eviction of idle
 * workers (junk names cannot lock real ones out), snapshots (order,
 * windows, figures) and the per-worker memory bound; saved and loaded
 * mid-recovery and mid-wait, merged (health: the worse, then judged again;
 * busy since the earlier; refusals counted), corrupt saves refused.
 *
 * Time is driven by hand from T0, which is aligned to every period used.
 */
#include "lib/worker_stats.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define SEC    1000000LL
#define MINUTE (60 * SEC)
#define T0     (1699999800LL * SEC) /* a multiple of 5 min */

static worker_stats *ws;
static worker_stats_config cfg;

/* Transitions seen by the callback. */
#define MAX_SEEN 64
typedef struct {
    char name[BM_NAME_MAX];
    bm_health from, to;
    int64_t since_us;
    unsigned n_issues;
    char issue0[BM_ISSUE_LEN];
} transition;
static transition seen[MAX_SEEN];
static int n_seen;

static void on_transition(const bm_worker_snapshot *snap, bm_health from, void *arg)
{
    cr_assert_eq(arg, &n_seen);
    cr_assert_lt(n_seen, MAX_SEEN);
    transition *t = &seen[n_seen++];
    snprintf(t->name, sizeof t->name, "%s", snap->name);
    t->from = from;
    t->to = snap->health;
    t->since_us = snap->health_since_us;
    t->n_issues = snap->n_issues;
    snprintf(t->issue0, sizeof t->issue0, "%s", snap->n_issues ? snap->issues[0] : "");
}

static void start(void)
{
    if (ws) worker_stats_free(ws);
    ws = worker_stats_new(&cfg);
    cr_assert_not_null(ws);
    n_seen = 0;
}

static void setup(void)
{
    worker_stats_config_defaults(&cfg);
    ws = NULL;
    start();
}

static void teardown(void)
{
    worker_stats_free(ws);
    ws = NULL;
}

TestSuite(worker_stats, .init = setup, .fini = teardown);

static void ok(const char *w, int n, int64_t at, int64_t duration_us)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(worker_stats_answer(ws, w, BM_OUTCOME_SUCCESS, duration_us, "", "", 0, at), 0);
}

static void fail(const char *w, int n, int64_t at)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(
            worker_stats_answer(ws, w, BM_OUTCOME_FAILURE, 2000, "ValueError", "bad input", 0, at),
            0);
}

static void eval(int64_t at)
{
    worker_stats_evaluate(ws, at, on_transition, &n_seen);
}

static bm_worker_snapshot snap(const char *w, int64_t at)
{
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, w, at, &s), 0, "no worker %s", w);
    return s;
}

static void assert_transition(int i, bm_health from, bm_health to, const char *issue0)
{
    cr_assert_gt(n_seen, i, "transition %d missing", i);
    cr_assert_eq(seen[i].from, from, "transition %d from %s", i, bm_health_name(seen[i].from));
    cr_assert_eq(seen[i].to, to, "transition %d to %s", i, bm_health_name(seen[i].to));
    if (issue0)
        cr_assert_str_eq(seen[i].issue0, issue0, "transition %d: \"%s\"", i, seen[i].issue0);
}

/* ---- health ------------------------------------------------------------- */

Test(worker_stats, defaults)
{
    cr_assert_eq(cfg.max_workers, 1000);
    cr_assert_eq(cfg.perf_window_us, 60 * MINUTE);
    cr_assert_float_eq(cfg.error_rate_threshold, 0.10, 1e-12);
    cr_assert_float_eq(cfg.failure_rate_threshold, 0.50, 1e-12);
    cr_assert_eq(cfg.slow_threshold_us, 5 * SEC);
    cr_assert_eq(cfg.health_interval_us, 30 * SEC);
    cr_assert_eq(cfg.min_executions, 5);
    cr_assert_eq(cfg.pending_failed_intervals, 3);
    cr_assert_eq(cfg.inactive_intervals, 3);
    cr_assert_eq(cfg.recovery_evaluations, 2);
}

Test(worker_stats, unknown_until_min_executions)
{
    ok("w", 4, T0, 1000);
    eval(T0 + SEC);
    cr_assert_eq(n_seen, 0);
    bm_worker_snapshot s = snap("w", T0 + SEC);
    cr_assert_eq(s.health, BM_HEALTH_UNKNOWN);
    cr_assert_eq(s.health_since_us, T0, "since the worker was first seen");
    cr_assert_eq(s.n_issues, 0);

    ok("w", 1, T0 + 2 * SEC, 1000);
    eval(T0 + 3 * SEC);
    cr_assert_eq(n_seen, 1);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_HEALTHY, "");
    cr_assert_eq(seen[0].since_us, T0 + 3 * SEC);
    cr_assert_str_eq(seen[0].name, "w");

    /* judged once, a quiet 5 minutes is healthy, not unknown again */
    ok("w", 1, T0 + 7 * MINUTE, 1000);
    eval(T0 + 7 * MINUTE);
    cr_assert_eq(snap("w", T0 + 7 * MINUTE).health, BM_HEALTH_HEALTHY);
    cr_assert_eq(n_seen, 1);
}

Test(worker_stats, healthy_degraded_failed_healthy)
{
    ok("w", 33, T0, 1000);
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_HEALTHY, "");

    fail("w", 17, T0 + 2 * SEC); /* 17 / 50 */
    eval(T0 + 3 * SEC);
    cr_assert_eq(n_seen, 2);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_DEGRADED, "error rate 34 % over 5m > 10 %");

    fail("w", 45, T0 + 4 * SEC); /* 62 / 100 */
    ok("w", 5, T0 + 4 * SEC, 1000);
    eval(T0 + 5 * SEC);
    cr_assert_eq(n_seen, 3);
    assert_transition(2, BM_HEALTH_DEGRADED, BM_HEALTH_FAILED,
                      "error rate 62 % over 5m >= failure threshold 50 %");
    bm_worker_snapshot s = snap("w", T0 + 5 * SEC);
    cr_assert_eq(s.health, BM_HEALTH_FAILED);
    cr_assert_eq(s.n_issues, 1);
    cr_assert_eq(s.health_since_us, T0 + 5 * SEC);
    cr_assert_str_eq(s.last_error, "ValueError: bad input");

    /* six minutes on, only successes in the 5 min window: better, but only
     * after two evaluations in a row */
    ok("w", 10, T0 + 6 * MINUTE, 1000);
    eval(T0 + 6 * MINUTE + SEC);
    cr_assert_eq(n_seen, 3, "one better evaluation is not enough");
    s = snap("w", T0 + 6 * MINUTE + SEC);
    cr_assert_eq(s.health, BM_HEALTH_FAILED);
    cr_assert_str_eq(s.issues[0], "error rate 62 % over 5m >= failure threshold 50 %",
                     "the held state keeps its issues");
    eval(T0 + 6 * MINUTE + 2 * SEC);
    cr_assert_eq(n_seen, 4);
    assert_transition(3, BM_HEALTH_FAILED, BM_HEALTH_HEALTHY, "");
    cr_assert_eq(seen[3].n_issues, 0);
}

Test(worker_stats, worse_at_once_skipping_degraded)
{
    ok("w", 10, T0, 1000);
    eval(T0);
    fail("w", 10, T0 + SEC);
    eval(T0 + 2 * SEC);
    cr_assert_eq(n_seen, 2);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_FAILED,
                      "error rate 50 % over 5m >= failure threshold 50 %");
}

Test(worker_stats, error_rate_just_above_the_threshold_shows_a_decimal)
{
    ok("w", 112, T0, 1000);
    fail("w", 13, T0); /* 13 / 125 = 10.4 % */
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_DEGRADED, "error rate 10.4 % over 5m > 10 %");
    /* exactly at the threshold is not above it */
    start();
    ok("w", 9, T0, 1000);
    fail("w", 1, T0);
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, slow_p95)
{
    cfg.slow_threshold_us = 1 * SEC;
    start();
    ok("w", 20, T0, 2100 * 1000); /* 2.1 s */
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_DEGRADED, "p95 2.1 s > slow threshold 1 s");

    cfg.slow_threshold_us = 500 * 1000;
    start();
    ok("w", 20, T0, 850 * 1000);
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_DEGRADED,
                      "p95 850 ms > slow threshold 500 ms");

    /* fewer durations than min_executions: no p95 judgement */
    start();
    ok("w", 4, T0, 850 * 1000);
    eval(T0 + SEC);
    cr_assert_eq(n_seen, 0);
}

static bm_health hook_over_100ms(const char *worker, const bm_window_stats *last_minute,
                                 int64_t now_us, char *issue, size_t len, const void *arg)
{
    (void)now_us;
    cr_assert_str_eq(worker, "w");
    cr_assert_str_eq(arg, "arg");
    cr_assert_str_eq(last_minute->label, "1m");
    if (last_minute->p95_us <= 100000) return BM_HEALTH_UNKNOWN;
    snprintf(issue, len, "p95 over its baseline");
    return BM_HEALTH_DEGRADED;
}

Test(worker_stats, the_judge_hook_adds_its_issue)
{
    cfg.judge_hook = hook_over_100ms;
    cfg.judge_arg = "arg";
    start();
    ok("w", 20, T0, 50 * 1000);
    eval(T0 + SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_HEALTHY, NULL);
    ok("w", 20, T0 + 2 * SEC, 400 * 1000);
    eval(T0 + 3 * SEC);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_DEGRADED, "p95 over its baseline");
}

Test(worker_stats, several_issues_worst_first)
{
    cfg.slow_threshold_us = 1 * SEC;
    start();
    ok("w", 5, T0, 3 * SEC);
    fail("w", 5, T0);
    cr_assert_eq(worker_stats_command(ws, "w", 1, T0), 0);
    eval(T0 + 100 * SEC);
    bm_worker_snapshot s = snap("w", T0 + 100 * SEC);
    cr_assert_eq(s.health, BM_HEALTH_FAILED);
    cr_assert_eq(s.n_issues, 3);
    cr_assert_str_eq(s.issues[0], "error rate 50 % over 5m >= failure threshold 50 %");
    cr_assert_str_eq(s.issues[1], "no answer for 100 s with 1 command pending");
    cr_assert_str_eq(s.issues[2], "p95 3 s > slow threshold 1 s");

    /* a failure found after a slowness still reads first */
    start();
    ok("w", 10, T0, 3 * SEC);
    cr_assert_eq(worker_stats_command(ws, "w", 1, T0), 0);
    eval(T0 + 100 * SEC);
    s = snap("w", T0 + 100 * SEC);
    cr_assert_eq(s.health, BM_HEALTH_FAILED);
    cr_assert_eq(s.n_issues, 2);
    cr_assert_str_eq(s.issues[0], "no answer for 100 s with 1 command pending");
    cr_assert_str_eq(s.issues[1], "p95 3 s > slow threshold 1 s");
}

Test(worker_stats, no_flapping)
{
    ok("w", 10, T0, 1000);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    /* Every other evaluation a command waits 20 s (> the 5 s slow
     * threshold: degraded); in between it has been answered (healthy). */
    for (int k = 1; k <= 10; k++) {
        int64_t t = T0 + k * 30 * SEC;
        if (k % 2)
            worker_stats_command(ws, "w", 1, t - 20 * SEC);
        else
            worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 1, t - 10 * SEC);
        eval(t);
        cr_assert_eq(snap("w", t).health, BM_HEALTH_DEGRADED, "evaluation %d", k);
    }
    cr_assert_eq(n_seen, 2, "one change, not ten");
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_DEGRADED,
                      "no answer for 20 s with 1 command pending");
    /* a second healthy evaluation in a row: better */
    eval(T0 + 310 * SEC);
    cr_assert_eq(n_seen, 3);
    assert_transition(2, BM_HEALTH_DEGRADED, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, recovery_goes_to_the_worst_state_of_the_streak)
{
    ok("w", 10, T0, 1000);
    eval(T0);
    worker_stats_command(ws, "w", 1, T0 + SEC);
    eval(T0 + 100 * SEC);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_FAILED,
                      "no answer for 99 s with 1 command pending");
    /* answered; a new command waits 10 s: degraded wanted */
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 1, T0 + 100 * SEC);
    worker_stats_command(ws, "w", 1, T0 + 100 * SEC);
    eval(T0 + 110 * SEC);
    cr_assert_eq(n_seen, 2);
    /* answered: healthy wanted; two better in a row, the worst was degraded */
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 1, T0 + 111 * SEC);
    eval(T0 + 112 * SEC);
    cr_assert_eq(n_seen, 3);
    assert_transition(2, BM_HEALTH_FAILED, BM_HEALTH_DEGRADED,
                      "no answer for 10 s with 1 command pending");
    eval(T0 + 113 * SEC);
    cr_assert_eq(n_seen, 3);
    eval(T0 + 114 * SEC);
    assert_transition(3, BM_HEALTH_DEGRADED, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, recovery_evaluations_of_one_recovers_at_once)
{
    cfg.recovery_evaluations = 1;
    start();
    ok("w", 10, T0, 1000);
    worker_stats_command(ws, "w", 1, T0);
    eval(T0 + 10 * SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_DEGRADED, NULL);
    worker_stats_forget_pending(ws, "w");
    eval(T0 + 11 * SEC);
    assert_transition(1, BM_HEALTH_DEGRADED, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, inactive_after_silence)
{
    ok("w", 10, T0, 1000);
    eval(T0 + 30 * SEC);
    eval(T0 + 89 * SEC);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(snap("w", T0 + 89 * SEC).health, BM_HEALTH_HEALTHY);
    eval(T0 + 90 * SEC); /* three health intervals */
    cr_assert_eq(n_seen, 2);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_INACTIVE, "silent for 90 s");
    eval(T0 + 10 * MINUTE + 30 * SEC);
    cr_assert_eq(n_seen, 2, "still inactive");
    bm_worker_snapshot s = snap("w", T0 + 10 * MINUTE + 30 * SEC);
    cr_assert_eq(s.health, BM_HEALTH_INACTIVE);
    cr_assert_eq(s.health_since_us, T0 + 90 * SEC);
    cr_assert_str_eq(s.issues[0], "silent for 10 min");
    eval(T0 + 3 * 3600 * SEC);
    cr_assert_str_eq(snap("w", T0 + 3 * 3600 * SEC).issues[0], "silent for 3 h");
    /* any event naming it: active again at once */
    worker_stats_seen(ws, "w", T0 + 3 * 3600 * SEC);
    eval(T0 + 3 * 3600 * SEC + SEC);
    cr_assert_eq(n_seen, 3);
    assert_transition(2, BM_HEALTH_INACTIVE, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, a_silent_unknown_worker_is_inactive)
{
    worker_stats_seen(ws, "w", T0);
    eval(T0 + 30 * SEC);
    cr_assert_eq(n_seen, 0);
    eval(T0 + 120 * SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_INACTIVE, "silent for 2 min");
}

/* ---- pending ------------------------------------------------------------ */

Test(worker_stats, pending_never_answered)
{
    cr_assert_eq(worker_stats_command(ws, "w", 1, T0), 0);
    eval(T0 + 5 * SEC);
    cr_assert_eq(n_seen, 0, "5 s is not longer than the 5 s slow threshold");
    eval(T0 + 6 * SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_DEGRADED,
                      "no answer for 6 s with 1 command pending");
    worker_stats_command(ws, "w", 1, T0 + 10 * SEC);
    worker_stats_command(ws, "w", 1, T0 + 10 * SEC);
    eval(T0 + 95 * SEC);
    assert_transition(1, BM_HEALTH_DEGRADED, BM_HEALTH_FAILED,
                      "no answer for 95 s with 3 commands pending");
    /* silent for long, but with commands pending: failed, not inactive */
    eval(T0 + 20 * MINUTE);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(snap("w", T0 + 20 * MINUTE).issues[0],
                     "no answer for 20 min with 3 commands pending");
}

Test(worker_stats, pending_counts_from_the_last_answer)
{
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(ws, "w", 1, T0);
    eval(T0 + 95 * SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_FAILED, NULL);
    /* one answer: the clock starts again, two still pending */
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 100 * 1000, "", "", 1, T0 + 100 * SEC);
    eval(T0 + 101 * SEC);
    eval(T0 + 102 * SEC);
    cr_assert_eq(n_seen, 2);
    assert_transition(1, BM_HEALTH_FAILED, BM_HEALTH_HEALTHY, "");
    eval(T0 + 108 * SEC);
    assert_transition(2, BM_HEALTH_HEALTHY, BM_HEALTH_DEGRADED,
                      "no answer for 8 s with 2 commands pending");
    /* their traces are dropped: nothing pending any more */
    worker_stats_forget_pending(ws, "w");
    worker_stats_forget_pending(ws, "w");
    cr_assert_eq(snap("w", T0 + 109 * SEC).in_flight, 0);
    eval(T0 + 110 * SEC);
    eval(T0 + 111 * SEC);
    assert_transition(3, BM_HEALTH_DEGRADED, BM_HEALTH_HEALTHY, "");
}

Test(worker_stats, an_idle_worker_sent_a_command_is_not_late_at_once)
{
    ok("w", 10, T0, 1000);
    eval(T0 + SEC);
    worker_stats_command(ws, "w", 1, T0 + 80 * SEC);
    eval(T0 + 81 * SEC);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(snap("w", T0 + 81 * SEC).health, BM_HEALTH_HEALTHY);
    eval(T0 + 87 * SEC);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_DEGRADED,
                      "no answer for 7 s with 1 command pending");
}

Test(worker_stats, in_flight_up_and_down)
{
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(ws, "w", 0, T0); /* answered before it arrived */
    cr_assert_eq(snap("w", T0).in_flight, 3);
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 10, "", "", 1, T0);
    cr_assert_eq(snap("w", T0).in_flight, 2);
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 10, "", "", 0, T0);
    cr_assert_eq(snap("w", T0).in_flight, 2, "an answer to a command not counted");
    worker_stats_forget_pending(ws, "w");
    cr_assert_eq(snap("w", T0).in_flight, 1);
    worker_stats_forget_pending(ws, "w");
    worker_stats_forget_pending(ws, "w");
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 10, "", "", 1, T0);
    cr_assert_eq(snap("w", T0).in_flight, 0, "never below zero");
    worker_stats_forget_pending(ws, "nobody");
    worker_stats_forget_pending(ws, NULL);
    cr_assert_eq(worker_stats_count(ws), 1, "forgetting creates no worker");
}

/* ---- the table ---------------------------------------------------------- */

Test(worker_stats, max_workers_refused)
{
    cfg.max_workers = 3;
    start();
    cr_assert_eq(worker_stats_command(ws, "a", 1, T0), 0);
    cr_assert_eq(worker_stats_answer(ws, "b", BM_OUTCOME_SUCCESS, 5, "", "", 0, T0), 0);
    worker_stats_seen(ws, "c", T0);
    cr_assert_eq(worker_stats_count(ws), 3);
    cr_assert_eq(worker_stats_refused(ws), 0);
    cr_assert_eq(worker_stats_command(ws, "d", 1, T0), -1);
    cr_assert_eq(worker_stats_answer(ws, "e", BM_OUTCOME_FAILURE, 5, "X", "y", 0, T0), -1);
    worker_stats_seen(ws, "f", T0);
    cr_assert_eq(worker_stats_refused(ws), 3);
    cr_assert_eq(worker_stats_count(ws), 3);
    cr_assert_eq(worker_stats_command(ws, "a", 1, T0), 0, "known workers still count");
    cr_assert_eq(worker_stats_worker_bytes(ws, "d"), -1);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "d", T0, &s), -1);
    cr_assert_eq(worker_stats_command(ws, "", 1, T0), -1, "no name, no worker");
    cr_assert_eq(worker_stats_refused(ws), 3);
}

Test(worker_stats, many_workers_and_lookups)
{
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "worker-%04d", (i * 7919) % 1000);
        cr_assert_eq(worker_stats_command(ws, name, 1, T0 + i), 0);
    }
    cr_assert_eq(worker_stats_count(ws), 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "worker-%04d", i);
        cr_assert_eq(snap(name, T0 + 2000).in_flight, 1, "%s", name);
    }
    cr_assert_eq(worker_stats_command(ws, "one-too-many", 1, T0), -1);
    cr_assert_eq(worker_stats_refused(ws), 1);
    cr_assert_gt(worker_stats_heap_bytes(ws), 1000 * sizeof(bm_window));
}

Test(worker_stats, a_full_table_evicts_the_longest_idle_worker)
{
    cfg.max_workers = 3;
    cfg.max_idle_us = 60 * MINUTE;
    start();
    worker_stats_seen(ws, "a", T0);
    worker_stats_seen(ws, "b", T0 + 10 * SEC);
    worker_stats_seen(ws, "c", T0 + 20 * SEC);
    cr_assert_eq(worker_stats_command(ws, "d", 1, T0 + 59 * MINUTE), -1, "nobody idle 1 h yet");
    cr_assert_str_eq(worker_stats_last_refused(ws), "d");
    cr_assert_eq(worker_stats_command(ws, "d", 1, T0 + 60 * MINUTE), 0, "a idle 1 h: evicted");
    cr_assert_eq(worker_stats_evicted(ws), 1);
    cr_assert_eq(worker_stats_count(ws), 3);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "a", T0 + 60 * MINUTE, &s), -1, "a is gone");
    cr_assert_eq(worker_stats_snapshot_one(ws, "b", T0 + 60 * MINUTE, &s), 0);
    cr_assert_eq(worker_stats_snapshot_one(ws, "d", T0 + 60 * MINUTE, &s), 0);
    worker_stats_seen(ws, "b", T0 + 60 * MINUTE); /* b busy again: c is the idlest */
    cr_assert_eq(worker_stats_command(ws, "e", 1, T0 + 61 * MINUTE), 0);
    cr_assert_eq(worker_stats_snapshot_one(ws, "c", T0 + 61 * MINUTE, &s), -1);
    cr_assert_eq(worker_stats_snapshot_one(ws, "b", T0 + 61 * MINUTE, &s), 0);
    cr_assert_eq(worker_stats_refused(ws), 1);
    cr_assert_eq(worker_stats_evicted(ws), 2);

    cfg.max_idle_us = 0; /* never */
    start();
    worker_stats_seen(ws, "a", T0);
    worker_stats_seen(ws, "b", T0);
    worker_stats_seen(ws, "c", T0);
    cr_assert_eq(worker_stats_command(ws, "d", 1, T0 + 365LL * 24 * 60 * MINUTE), -1);
}

Test(worker_stats, a_worker_with_commands_in_flight_is_not_evicted)
{
    /* quiet is not idle while commands wait for an answer: the stuck worker
     * keeps its failed health (and the alert on it); an idle worker without
     * commands in flight goes instead, even one seen more recently */
    cfg.max_workers = 2;
    cfg.max_idle_us = 60 * MINUTE;
    start();
    cr_assert_eq(worker_stats_command(ws, "stuck", 1, T0), 0);
    worker_stats_seen(ws, "quiet", T0 + 10 * SEC);
    eval(T0 + 2 * MINUTE);
    cr_assert_eq(snap("stuck", T0 + 2 * MINUTE).health, BM_HEALTH_FAILED);

    cr_assert_eq(worker_stats_command(ws, "new", 1, T0 + 61 * MINUTE), 0, "quiet idle 1 h");
    cr_assert_eq(worker_stats_evicted(ws), 1, "counted as before");
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "quiet", T0 + 61 * MINUTE, &s), -1,
                 "quiet went, not the stuck worker seen earlier");
    s = snap("stuck", T0 + 61 * MINUTE);
    cr_assert_eq(s.in_flight, 1);
    cr_assert_eq(s.health, BM_HEALTH_FAILED);
    eval(T0 + 61 * MINUTE);
    cr_assert_str_eq(snap("stuck", T0 + 61 * MINUTE).issues[0],
                     "no answer for 61 min with 1 command pending");

    /* every idle worker waits for answers: as a last resort the one seen
     * least recently goes (names whose commands are never answered must not
     * lock real workers out) */
    cr_assert_eq(worker_stats_command(ws, "newer", 1, T0 + 62 * MINUTE), 0);
    cr_assert_eq(worker_stats_evicted(ws), 2);
    cr_assert_eq(worker_stats_refused(ws), 0);
    cr_assert_eq(worker_stats_snapshot_one(ws, "stuck", T0 + 62 * MINUTE, &s), -1);

    /* the two left were seen within max_idle: the next newcomer is refused */
    cr_assert_eq(worker_stats_command(ws, "newest", 1, T0 + 63 * MINUTE), -1);
    cr_assert_eq(worker_stats_refused(ws), 1);
    cr_assert_eq(worker_stats_evicted(ws), 2);
    cr_assert_eq(worker_stats_count(ws), 2);
}

Test(worker_stats, junk_names_with_unanswered_commands_cannot_lock_real_workers_out)
{
    /* junk names whose commands are never answered fill the table; once they
     * are quiet for max_idle, a real worker still gets in */
    cfg.max_workers = 4;
    cfg.max_idle_us = 60 * MINUTE;
    start();
    char name[32];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "junk-%d", i);
        cr_assert_eq(worker_stats_command(ws, name, 1, T0 + i * SEC), 0);
    }
    cr_assert_eq(worker_stats_command(ws, "real", 1, T0 + 30 * MINUTE), -1, "none idle yet");
    cr_assert_eq(worker_stats_command(ws, "real", 1, T0 + 61 * MINUTE), 0);
    cr_assert_eq(worker_stats_evicted(ws), 1);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "junk-0", T0 + 61 * MINUTE, &s), -1,
                 "the one seen least recently went");
    cr_assert_eq(worker_stats_snapshot_one(ws, "real", T0 + 61 * MINUTE, &s), 0);
}

Test(worker_stats, junk_names_cannot_lock_real_workers_out)
{
    /* the issue's case: 100,000 junk names fill the 1,000-worker table; once
     * they are quiet for max_idle, real workers get in and are tracked */
    cfg.max_idle_us = 60 * MINUTE;
    start();
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "junk-%d", i);
        worker_stats_seen(ws, name, T0 + i);
    }
    cr_assert_eq(worker_stats_count(ws), 1000);
    cr_assert_eq(worker_stats_refused(ws), 99000);
    for (int i = 0; i < 4; i++) { /* while the junk is fresh: refused, in O(1) */
        snprintf(name, sizeof name, "real-%d", i);
        cr_assert_eq(worker_stats_command(ws, name, 1, T0 + 30 * MINUTE), -1);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "real-%d", i);
        cr_assert_eq(worker_stats_command(ws, name, 1, T0 + 61 * MINUTE), 0, "%s", name);
        ok(name, 5, T0 + 61 * MINUTE, 1000);
    }
    cr_assert_eq(worker_stats_evicted(ws), 4);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "real-%d", i);
        bm_worker_snapshot s = snap(name, T0 + 61 * MINUTE);
        cr_assert_eq(s.win[0].executions, 5, "%s is tracked", name);
    }
    /* the table kept the first 1000 names (the rest were refused while it was
     * full and fresh); every one left is still found after the removals */
    size_t found = 0;
    bm_worker_snapshot s;
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "junk-%d", i);
        found += worker_stats_snapshot_one(ws, name, T0 + 61 * MINUTE, &s) == 0;
    }
    cr_assert_eq(found, 996, "the 4 least recent went");
}

Test(worker_stats, evictions_keep_the_hash_table_whole)
{
    /* many removals in a crowded table: every worker left is found, none twice */
    cfg.max_workers = 64;
    cfg.max_idle_us = SEC;
    start();
    char name[32];
    int64_t t = T0;
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < 64; i++) {
            snprintf(name, sizeof name, "w%d-%d", round, (i * 37) % 64);
            worker_stats_seen(ws, name, t);
            t += 2 * SEC / 64 + 1;
        }
    cr_assert_eq(worker_stats_count(ws), 64);
    bm_worker_snapshot s;
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "w49-%d", i);
        cr_assert_eq(worker_stats_snapshot_one(ws, name, t, &s), 0, "%s", name);
        worker_stats_seen(ws, name, t); /* no new worker: the same one */
    }
    cr_assert_eq(worker_stats_count(ws), 64);
    cr_assert_eq(worker_stats_evicted(ws), 49 * 64);
}

Test(worker_stats, snapshot_sorted_by_name)
{
    const char *names[] = {"zeta", "alpha", "Mid", "beta", "alpha-2"};
    for (int i = 0; i < 5; i++)
        worker_stats_seen(ws, names[i], T0);
    bm_worker_snapshot out[8];
    cr_assert_eq(worker_stats_snapshot(ws, T0, out, 8), 5);
    const char *want[] = {"Mid", "alpha", "alpha-2", "beta", "zeta"};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(out[i].name, want[i]);
    cr_assert_eq(worker_stats_snapshot(ws, T0, out, 2), 2, "at most max");
    cr_assert_str_eq(out[1].name, "alpha");
    cr_assert_eq(worker_stats_snapshot(ws, T0, out, 0), 0);
}

Test(worker_stats, long_names_are_cut_on_a_character_boundary)
{
    /* the decoder refuses ids above BM_ID_MAX (bad_id); below it a longer name is cut */
    char name[300];
    memset(name, 'x', sizeof name);
    memcpy(name + 253, "\xc3\xa9\xc3\xa9", 4); /* the second é straddles the cut */
    name[299] = '\0';
    cr_assert_eq(worker_stats_command(ws, name, 1, T0), 0);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot(ws, T0, &s, 1), 1);
    cr_assert_eq(strlen(s.name), 255);
    cr_assert_eq(memcmp(s.name + 253, "\xc3\xa9", 2), 0);
    cr_assert_eq(worker_stats_command(ws, name, 1, T0), 0);
    cr_assert_eq(worker_stats_count(ws), 1, "the same name finds the same worker");
    cr_assert_eq(snap(name, T0).in_flight, 2);
}

/* ---- snapshot figures --------------------------------------------------- */

Test(worker_stats, snapshot_windows_and_figures)
{
    cfg.perf_window_us = 30 * MINUTE;
    start();
    /* one answer a second for a minute, 1 ms .. 60 ms; every tenth fails */
    for (int i = 0; i < 60; i++) {
        int64_t at = T0 + i * SEC;
        if (i % 10 == 0)
            worker_stats_answer(ws, "w", BM_OUTCOME_FAILURE, (i + 1) * 1000, "KeyError",
                                "missing id", 0, at);
        else
            worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, (i + 1) * 1000, "", "", 0, at);
    }
    worker_stats_seen(ws, "w", T0 + 59 * SEC + 500000);
    bm_worker_snapshot s = snap("w", T0 + 59 * SEC + 999999);
    cr_assert_str_eq(s.name, "w");
    cr_assert_eq(s.last_seen_us, T0 + 59 * SEC + 500000);
    cr_assert_eq(s.last_execution_us, T0 + 59 * SEC);
    cr_assert_eq(s.last_error_us, T0 + 50 * SEC);
    cr_assert_str_eq(s.last_error, "KeyError: missing id");
    cr_assert_str_eq(s.win[0].label, "1m");
    cr_assert_str_eq(s.win[1].label, "5m");
    cr_assert_str_eq(s.win[2].label, "30m");
    cr_assert_eq(s.win[0].window_us, MINUTE);
    cr_assert_eq(s.win[1].window_us, 5 * MINUTE);
    cr_assert_eq(s.win[2].window_us, 30 * MINUTE);
    for (int k = 0; k < 3; k++) {
        const bm_window_stats *w = &s.win[k];
        cr_assert_eq(w->executions, 60, "window %d", k);
        cr_assert_eq(w->successes, 54);
        cr_assert_eq(w->failures, 6);
        cr_assert_eq(w->timeouts, 0);
        cr_assert_float_eq(w->success_rate, 0.9, 1e-12);
        cr_assert_float_eq(w->error_rate, 0.1, 1e-12);
        cr_assert_eq(w->min_us, 1000);
        cr_assert_eq(w->max_us, 60000);
        cr_assert_float_eq(w->avg_us, 30500.0, 1e-9);
        cr_assert_leq(fabs(w->p50_us - 30000.0) / 30000.0, 0.01 + 1e-9);
        cr_assert_leq(fabs(w->p95_us - 57000.0) / 57000.0, 0.01 + 1e-9);
        cr_assert_leq(fabs(w->p99_us - 60000.0) / 60000.0, 0.01 + 1e-9);
        /* over the time the window covers (one minute of data), not its length */
        cr_assert(w->covered_us >= 59 * SEC && w->covered_us <= w->window_us, "window %d", k);
        cr_assert_float_eq(w->throughput_per_min, 60.0 * MINUTE / (double)w->covered_us, 1e-9,
                           "window %d", k);
    }
    /* two minutes on: the 1 min window is empty, the others are not */
    s = snap("w", T0 + 3 * MINUTE);
    cr_assert_eq(s.win[0].executions, 0);
    cr_assert_eq(s.win[0].success_rate, 0.0);
    cr_assert_eq(s.win[0].min_us, 0);
    cr_assert_eq(s.win[0].p95_us, 0.0);
    cr_assert_eq(s.win[1].executions, 60);
    /* the default performance window is labelled 1h */
    cfg.perf_window_us = 60 * MINUTE;
    start();
    worker_stats_seen(ws, "w", T0);
    cr_assert_str_eq(snap("w", T0).win[2].label, "1h");
}

Test(worker_stats, error_text_forms)
{
    worker_stats_answer(ws, "w", BM_OUTCOME_FAILURE, -1, "OnlyType", "", 0, T0);
    cr_assert_str_eq(snap("w", T0).last_error, "OnlyType");
    worker_stats_answer(ws, "w", BM_OUTCOME_FAILURE, -1, NULL, "only a message", 0, T0 + 1);
    cr_assert_str_eq(snap("w", T0 + 1).last_error, "only a message");
    worker_stats_answer(ws, "w", BM_OUTCOME_TIMEOUT, -1, "", "", 0, T0 + 2);
    bm_worker_snapshot s = snap("w", T0 + 2);
    cr_assert_str_eq(s.last_error, "timeout");
    cr_assert_eq(s.win[0].timeouts, 1);
    cr_assert_eq(s.win[0].min_us, 0, "unknown durations are not in the histogram");
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 5, "Ignored", "on success", 0, T0 + 3);
    cr_assert_str_eq(snap("w", T0 + 3).last_error, "timeout");
}

/* ---- memory ------------------------------------------------------------- */

Test(worker_stats, per_worker_memory_is_bounded)
{
    /* 100 answers a second for 70 minutes, durations spread evenly on a log
     * scale from 1 µs to 1 h: every period of every window is full */
    uint64_t x = 88172645463325252ULL;
    for (int64_t t = 0; t < 70 * MINUTE; t += 10000) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        int64_t d = (int64_t)exp(u * 22.0);
        worker_stats_answer(ws, "w", (x & 7) ? BM_OUTCOME_SUCCESS : BM_OUTCOME_FAILURE, d, "E", "m",
                            0, T0 + t);
    }
    long bytes = worker_stats_worker_bytes(ws, "w");
    fprintf(stderr, "per-worker bytes after 420000 answers spread over 1 us .. 1 h: %ld\n", bytes);
    cr_assert_gt(bytes, 0);
    cr_assert_leq(bytes, 64 * 1024);
    cr_assert_geq(worker_stats_heap_bytes(ws), (size_t)bytes);
    /* figures still sound: p99 of a log-uniform spread is near the top */
    bm_worker_snapshot s = snap("w", T0 + 70 * MINUTE - 1);
    cr_assert_gt(s.win[2].p99_us, 1e9);
    cr_assert_eq(s.win[0].executions, 6000);
    /* and it does not grow with more of the same */
    for (int64_t t = 70 * MINUTE; t < 80 * MINUTE; t += 10000)
        worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1 + t % 3600000000LL, "", "", 0, T0 + t);
    cr_assert_leq(worker_stats_worker_bytes(ws, "w"), 64 * 1024);
}

Test(worker_stats, null_and_empty_are_harmless)
{
    worker_stats_free(NULL);
    cr_assert_eq(worker_stats_count(NULL), 0);
    cr_assert_eq(worker_stats_refused(NULL), 0);
    cr_assert_eq(worker_stats_worker_bytes(ws, "nobody"), -1);
    bm_worker_snapshot out[1];
    cr_assert_eq(worker_stats_snapshot(ws, T0, out, 1), 0);
    eval(T0);
    cr_assert_eq(n_seen, 0);
    worker_stats_evaluate(ws, T0, NULL, NULL);
}

/* The default duration bounds: R10 from 1 ms to 100 s, ascending. */
Test(worker_stats, default_duration_bounds_are_r10_from_1ms_to_100s)
{
    start();
    size_t n;
    const int64_t *b = worker_stats_duration_bounds_us(ws, &n);
    cr_assert_eq(n, WORKER_DURATION_DEFAULT_BOUNDS);
    cr_assert_eq(b[0], 1000);
    cr_assert_eq(b[1], 1250);
    cr_assert_eq(b[5], 3150);
    cr_assert_eq(b[10], 10000);
    cr_assert_eq(b[n - 1], 100 * SEC);
    for (size_t i = 1; i < n; i++)
        cr_assert_gt(b[i], b[i - 1]);
}

/* Lifetime totals (Prometheus counters): monotonic past the windows, the
 * configured duration buckets with the boundary in the lower bucket, unknown
 * durations counted as executions only. */
Test(worker_stats, lifetime_totals_outlive_the_windows)
{
    cfg.n_duration_bounds = 3;
    cfg.duration_bounds_us[0] = 5000;
    cfg.duration_bounds_us[1] = 10000;
    cfg.duration_bounds_us[2] = 60 * SEC;
    start();
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 5000, "", "", 0, T0);     /* le 5 ms */
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 5001, "", "", 0, T0);     /* le 10 ms */
    worker_stats_answer(ws, "w", BM_OUTCOME_FAILURE, -1, "E", "x", 0, T0);     /* no duration */
    worker_stats_answer(ws, "w", BM_OUTCOME_TIMEOUT, 90 * SEC, "", "", 0, T0); /* above 60 s */
    worker_stats_answer(ws, "a", BM_OUTCOME_SUCCESS, 1, "", "", 0, T0 + 3 * 60 * MINUTE);
    worker_totals t[4];
    cr_assert_eq(worker_stats_totals(ws, t, 4), 2);
    cr_assert_str_eq(t[0].name, "a");
    cr_assert_str_eq(t[1].name, "w");
    cr_assert_eq(t[1].successes, 2);
    cr_assert_eq(t[1].failures, 1);
    cr_assert_eq(t[1].timeouts, 1);
    cr_assert_eq(t[1].duration_count, 3);
    cr_assert_eq(t[1].duration_buckets[0], 1);
    cr_assert_eq(t[1].duration_buckets[1], 1);
    cr_assert_eq(t[1].duration_buckets[3], 1);
    cr_assert_float_eq(t[1].duration_sum_us, 5000.0 + 5001.0 + 90e6, 1e-3);
    /* three hours later the windows are empty, the totals are not */
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "w", T0 + 3 * 60 * MINUTE, &s), 0);
    cr_assert_eq(s.win[2].executions, 0);
    cr_assert_eq(t[0].successes, 1);
    cr_assert_eq(worker_stats_totals(ws, t, 1), 1);
}

/* ---- save / load / merge ----------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const worker_stats *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(worker_stats_save(x, &pk), 0);
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

/* ws replaced by a table loaded from its save (transitions from here on are
 * the loaded table's). */
static void reload(void)
{
    worker_stats *back = worker_stats_new(&cfg);
    char err[256] = "";
    cr_assert_eq(worker_stats_load(back, save(ws), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    worker_stats_free(ws);
    ws = back;
}

/* What the table watched since survives a reload and a merge: one execution
 * of a worker first seen two hours after the table started is one over the
 * last minute, not one over its own seconds (test_worker_throughput.c). */
Test(worker_stats, the_time_watched_survives_a_reload_and_a_merge)
{
    ok("early", 1, T0, 1000);
    worker_stats *first = ws;
    ws = worker_stats_new(&cfg);
    cr_assert_eq(worker_stats_merge(ws, first), 0);
    reload();
    ok("w", 1, T0 + 120 * MINUTE + SEC, 1000);
    worker_stats *merged = worker_stats_new(&cfg);
    cr_assert_eq(worker_stats_merge(merged, ws), 0);
    const worker_stats *tables[2] = {ws, merged};
    for (int i = 0; i < 2; i++) {
        bm_worker_snapshot s;
        cr_assert_eq(worker_stats_snapshot_one(tables[i], "w", T0 + 120 * MINUTE + 2 * SEC, &s), 0);
        cr_assert_geq(s.win[0].covered_us, 50 * SEC, "table %d: 1m covers %lld us", i,
                      (long long)s.win[0].covered_us);
        cr_assert_leq(s.win[0].throughput_per_min, 1.2, "table %d: %.1f a minute", i,
                      s.win[0].throughput_per_min);
    }
    worker_stats_free(merged);
    worker_stats_free(first);
}

Test(worker_stats, a_reload_mid_recovery_keeps_the_streak_and_the_wait)
{
    /* recovery_goes_to_the_worst_state_of_the_streak, reloaded at every step */
    ok("w", 10, T0, 1000);
    eval(T0);
    worker_stats_command(ws, "w", 1, T0 + SEC);
    reload();
    eval(T0 + 100 * SEC);
    assert_transition(1, BM_HEALTH_HEALTHY, BM_HEALTH_FAILED,
                      "no answer for 99 s with 1 command pending");
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 1, T0 + 100 * SEC);
    worker_stats_command(ws, "w", 1, T0 + 100 * SEC);
    reload();
    eval(T0 + 110 * SEC);
    cr_assert_eq(n_seen, 2);
    worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 1, T0 + 111 * SEC);
    reload();
    eval(T0 + 112 * SEC);
    assert_transition(2, BM_HEALTH_FAILED, BM_HEALTH_DEGRADED,
                      "no answer for 10 s with 1 command pending");
    eval(T0 + 113 * SEC); /* one better evaluation of the two needed */
    cr_assert_eq(n_seen, 3);
    reload();
    eval(T0 + 114 * SEC);
    cr_assert_eq(n_seen, 4, "the streak survived the reload");
    assert_transition(3, BM_HEALTH_DEGRADED, BM_HEALTH_HEALTHY, "");
    bm_worker_snapshot s = snap("w", T0 + 114 * SEC);
    cr_assert_eq(s.health_since_us, T0 + 114 * SEC);
    cr_assert_eq(s.win[0].executions, 2);
    cr_assert_eq(s.win[1].executions, 12);
    cr_assert_eq(s.last_execution_us, T0 + 111 * SEC);
}

/* A save made with other duration bounds (or with none: the fixed ones of
 * older builds) loads with every worker's duration histogram at zero and the
 * rest kept; with the same bounds, exactly. */
Test(worker_stats, a_reload_with_other_duration_bounds_restarts_the_histogram)
{
    static const int64_t legacy[] = {5000,    10000,   25000,    50000,    100000,
                                     250000,  500000,  1000000,  2500000,  5000000,
                                     10000000, 20000000, 30000000, 60000000};
    cfg.n_duration_bounds = 14;
    memcpy(cfg.duration_bounds_us, legacy, sizeof legacy);
    start();
    ok("a", 3, T0, 7000);
    /* a save of an older build: the same, without its last keys "duration_bounds_us"
     * and "since" */
    msgpack_object old = *save(ws);
    cr_assert_eq(old.via.map.size, 5);
    cr_assert(bm_sc_str_is(&old.via.map.ptr[3].key, "duration_bounds_us"));
    old.via.map.size = 3;
    char err[256] = "";
    worker_stats *same = worker_stats_new(&cfg);
    cr_assert_eq(worker_stats_load(same, &old, err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    worker_stats_config dflt;
    worker_stats_config_defaults(&dflt);
    dflt.max_workers = cfg.max_workers;
    worker_stats *other = worker_stats_new(&dflt);
    cr_assert_eq(worker_stats_load(other, save(ws), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    worker_totals t;
    cr_assert_eq(worker_stats_totals(same, &t, 1), 1);
    cr_assert_eq(t.duration_count, 3);
    cr_assert_eq(t.duration_buckets[1], 3); /* 7 ms: (5, 10] */
    cr_assert_eq(worker_stats_totals(other, &t, 1), 1);
    cr_assert_eq(t.successes, 3);
    cr_assert_eq(t.duration_count, 0);
    cr_assert_eq(t.duration_sum_us, 0);
    for (int i = 0; i <= WORKER_DURATION_BOUNDS_MAX; i++)
        cr_assert_eq(t.duration_buckets[i], 0);
    worker_stats_free(same);
    worker_stats_free(other);
}

Test(worker_stats, a_reload_keeps_totals_errors_and_refusals)
{
    cfg.max_workers = 2;
    start();
    ok("a", 3, T0, 7000);
    fail("a", 2, T0 + SEC);
    worker_stats_answer(ws, "b", BM_OUTCOME_TIMEOUT, 30 * SEC, "timeout", "no answer", 0, T0);
    worker_stats_seen(ws, "c", T0); /* refused */
    reload();
    cr_assert_eq(worker_stats_refused(ws), 1);
    worker_totals t[2];
    cr_assert_eq(worker_stats_totals(ws, t, 2), 2);
    cr_assert_eq(t[0].successes, 3);
    cr_assert_eq(t[0].failures, 2);
    cr_assert_eq(t[0].duration_buckets[9], 3); /* 7 ms: (6.3, 8] */
    cr_assert_eq(t[0].duration_count, 5);
    cr_assert_eq(t[0].duration_sum_us, 3 * 7000 + 2 * 2000);
    cr_assert_eq(t[1].timeouts, 1);
    bm_worker_snapshot s = snap("a", T0 + SEC);
    cr_assert_str_eq(s.last_error, "ValueError: bad input");
    cr_assert_eq(s.last_error_us, T0 + SEC);
    worker_stats_seen(ws, "d", T0);
    cr_assert_eq(worker_stats_refused(ws), 2, "still bounded after a load");
}

Test(worker_stats, evictions_survive_a_reload_and_a_merge_never_evicts)
{
    cfg.max_workers = 2;
    cfg.max_idle_us = MINUTE;
    start();
    worker_stats_seen(ws, "a", T0);
    worker_stats_seen(ws, "b", T0);
    worker_stats_seen(ws, "c", T0 + 2 * MINUTE); /* evicts a */
    cr_assert_eq(worker_stats_evicted(ws), 1);
    reload();
    cr_assert_eq(worker_stats_evicted(ws), 1, "saved and loaded");
    worker_stats_seen(ws, "d", T0 + 4 * MINUTE); /* still evicts after a load: b */
    cr_assert_eq(worker_stats_evicted(ws), 2);

    worker_stats *other = worker_stats_new(&cfg);
    worker_stats_seen(other, "x", T0);
    worker_stats_seen(other, "y", T0);
    cr_assert_eq(worker_stats_merge(ws, other), 0);
    cr_assert_eq(worker_stats_count(ws), 2, "a merge refuses, never evicts");
    cr_assert_eq(worker_stats_refused(ws), 2);
    cr_assert_eq(worker_stats_evicted(ws), 2);
    worker_stats_free(other);

    /* a save made before eviction existed has no "evicted": it loads as 0 */
    const msgpack_object *o = save(ws);
    msgpack_object old = *o;
    cr_assert(bm_sc_str_is(&o->via.map.ptr[2].key, "evicted"));
    msgpack_object_kv without[3] = {o->via.map.ptr[0], o->via.map.ptr[1], o->via.map.ptr[3]};
    old.via.map.ptr = without; /* "refused", "workers", "duration_bounds_us" */
    old.via.map.size = 3;
    worker_stats *back = worker_stats_new(&cfg);
    char err[256] = "";
    cr_assert_eq(worker_stats_load(back, &old, err, sizeof err), BM_LOAD_OK, "%s", err);
    cr_assert_eq(worker_stats_evicted(back), 0);
    cr_assert_eq(worker_stats_count(back), 2);
    worker_stats_free(back);
    saved_done();
}

Test(worker_stats, merge_health_is_the_worse_then_judged_again)
{
    worker_stats *other = worker_stats_new(&cfg);
    ok("w", 10, T0, 1000); /* healthy here */
    eval(T0);
    for (int i = 0; i < 10; i++) /* degraded there: 30 % errors */
        worker_stats_answer(other, "w", i < 3 ? BM_OUTCOME_FAILURE : BM_OUTCOME_SUCCESS, 1000, "E",
                            "x", 0, T0 + SEC);
    worker_stats_evaluate(other, T0 + 2 * SEC, NULL, NULL);
    cr_assert_eq(worker_stats_merge(ws, other), 0);
    bm_worker_snapshot s = snap("w", T0 + 2 * SEC);
    cr_assert_eq(s.health, BM_HEALTH_DEGRADED);
    cr_assert_eq(s.health_since_us, T0 + 2 * SEC);
    /* the state is the worse one, the issue says today's figures: those of the windows */
    cr_assert_str_eq(s.issues[0], "error rate 15 % over 5m > 10 %");
    cr_assert_eq(s.win[1].executions, 20);
    /* judged again on the merged figures: 15 % errors */
    eval(T0 + 3 * SEC);
    cr_assert_str_eq(snap("w", T0 + 3 * SEC).issues[0], "error rate 15 % over 5m > 10 %");
    worker_stats_free(other);

    /* the same state on both sides keeps the earlier since */
    other = worker_stats_new(&cfg);
    worker_stats_answer(other, "w", BM_OUTCOME_FAILURE, 1000, "E", "x", 0, T0 + 4 * SEC);
    for (int i = 0; i < 9; i++)
        worker_stats_answer(other, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0 + 4 * SEC);
    worker_stats_evaluate(other, T0 + 5 * SEC, NULL, NULL);
    cr_assert_eq(worker_stats_snapshot_one(other, "w", T0 + 5 * SEC, &s), 0);
    cr_assert_eq(s.health, BM_HEALTH_HEALTHY);
    cr_assert_eq(worker_stats_merge(other, ws), 0); /* healthy (T0 + 5 s) += degraded (T0 + 2 s) */
    cr_assert_eq(worker_stats_snapshot_one(other, "w", T0 + 5 * SEC, &s), 0);
    cr_assert_eq(s.health, BM_HEALTH_DEGRADED);
    cr_assert_eq(s.health_since_us, T0 + 2 * SEC);
    cr_assert_str_eq(s.last_error, "E: x");
    cr_assert_eq(s.last_error_us, T0 + 4 * SEC, "the latest error");
    worker_stats_free(other);
}

Test(worker_stats, merge_busy_since_is_the_earlier_of_two_busy_workers)
{
    worker_stats *other = worker_stats_new(&cfg);
    worker_stats_command(ws, "w", 1, T0);
    worker_stats_command(other, "w", 1, T0 + 50 * SEC);
    worker_stats_command(other, "idle", 0, T0 + 50 * SEC);
    cr_assert_eq(worker_stats_merge(ws, other), 0);
    eval(T0 + 95 * SEC);
    assert_transition(0, BM_HEALTH_UNKNOWN, BM_HEALTH_FAILED,
                      "no answer for 95 s with 2 commands pending");
    cr_assert_eq(snap("idle", T0 + 95 * SEC).in_flight, 0);
    cr_assert_eq(snap("idle", T0 + 95 * SEC).last_seen_us, T0 + 50 * SEC);
    worker_stats_free(other);
}

Test(worker_stats, merge_bound_counts_each_refused_worker_once)
{
    cfg.max_workers = 3;
    start();
    worker_stats_config big = cfg;
    big.max_workers = 10;
    worker_stats *other = worker_stats_new(&big);
    char name[8];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "w%d", i);
        cr_assert_eq(worker_stats_answer(ws, name, BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0),
                     i < 3 ? 0 : -1);
        for (int k = 0; k < 5; k++)
            worker_stats_answer(other, name, BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0);
    }
    cr_assert_eq(worker_stats_refused(ws), 3 * 1);
    cr_assert_eq(worker_stats_merge(ws, other), 0);
    cr_assert_eq(worker_stats_count(ws), 3);
    cr_assert_eq(worker_stats_refused(ws), 3 + 3);
    cr_assert_eq(snap("w0", T0).win[0].executions, 6);
    cr_assert_eq(worker_stats_merge(ws, ws), -1);
    worker_stats_free(other);
}

/* o's map with key `key` given `val` instead (pointers into o and val). */
static msgpack_object with_key(const msgpack_object *o, msgpack_object_kv *kv, size_t cap,
                               const char *key, msgpack_object val)
{
    msgpack_object m = *o;
    cr_assert_leq(o->via.map.size, cap, "with_key: %u keys, room for %zu", o->via.map.size, cap);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        kv[i] = o->via.map.ptr[i];
        if (kv[i].key.via.str.size == strlen(key) &&
            !memcmp(kv[i].key.via.str.ptr, key, strlen(key)))
            kv[i].val = val;
    }
    m.via.map.ptr = kv;
    return m;
}

Test(worker_stats, load_refuses_corrupt_saves_and_changes_nothing)
{
    ok("a", 3, T0, 1000);
    ok("b", 3, T0, 1000);
    const msgpack_object *o = save(ws);
    const msgpack_object *list = &o->via.map.ptr[1].val; /* "workers" */
    cr_assert_eq(list->type, MSGPACK_OBJECT_ARRAY);
    msgpack_object_kv top[16], wk[16];
    char err[256];

    /* the same worker twice */
    msgpack_object twice[2] = {list->via.array.ptr[0], list->via.array.ptr[0]};
    msgpack_object arr = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {2, twice}};
    msgpack_object bad = with_key(o, top, sizeof top / sizeof *top, "workers", arr);
    cr_assert_eq(worker_stats_load(ws, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "'a' saved twice"), "%s", err);

    /* a bad health state, an in-flight count past 32 bits */
    const msgpack_object *w0 = &list->via.array.ptr[0];
    msgpack_object health = *bm_sc_get(w0, "health");
    msgpack_object_kv hk[8];
    msgpack_object word = {.type = MSGPACK_OBJECT_STR, .via.str = {4, "sick"}};
    msgpack_object bad_health = with_key(&health, hk, sizeof hk / sizeof *hk, "state", word);
    msgpack_object one[1] = {with_key(w0, wk, sizeof wk / sizeof *wk, "health", bad_health)};
    arr.via.array = (msgpack_object_array){1, one};
    bad = with_key(o, top, sizeof top / sizeof *top, "workers", arr);
    cr_assert_eq(worker_stats_load(ws, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert_str_eq(err, "workers[0]: health: unknown health state 'sick'");

    msgpack_object big = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1ULL << 32};
    one[0] = with_key(w0, wk, sizeof wk / sizeof *wk, "in_flight", big);
    bad = with_key(o, top, sizeof top / sizeof *top, "workers", arr);
    cr_assert_eq(worker_stats_load(ws, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "'in_flight' is not an integer 0..2^32-1"), "%s", err);

    msgpack_object far = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1ULL << 62};
    one[0] = with_key(w0, wk, sizeof wk / sizeof *wk, "last_seen", far);
    bad = with_key(o, top, sizeof top / sizeof *top, "workers", arr);
    cr_assert_eq(worker_stats_load(ws, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "'last_seen' is not a time"), "%s", err);

    cr_assert_eq(worker_stats_count(ws), 2, "unchanged");
    cr_assert_eq(snap("a", T0).win[0].executions, 3);
    saved_done();

    /* another performance window */
    worker_stats_config other = cfg;
    other.perf_window_us = 2 * 60 * MINUTE;
    worker_stats *o2 = worker_stats_new(&other);
    cr_assert_eq(worker_stats_load(o2, save(ws), err, sizeof err), BM_LOAD_MISMATCH);
    saved_done();
    cr_assert(strstr(err, "workers[0]: windows[2]: window of 12 x"), "%s", err);
    cr_assert_eq(worker_stats_count(o2), 0);
    worker_stats_free(o2);
}

/* A duration learned after its execution was counted (its answer was read
 * before its command): into the histograms and the totals' buckets, no
 * second execution; a worker the table lacks gets nothing. */
Test(worker_stats, a_late_known_duration_is_no_execution)
{
    ok("w", 1, T0, -1);
    worker_stats_duration(ws, "w", 300000, T0 + SEC);
    worker_stats_duration(ws, "nobody", 300000, T0 + SEC);
    worker_stats_duration(ws, "w", -1, T0 + SEC);
    bm_worker_snapshot s = snap("w", T0 + 2 * SEC);
    cr_assert_eq(s.win[0].executions, 1);
    cr_assert_float_eq(s.win[0].avg_us, 300000.0, 3000.0);
    worker_totals t[2];
    cr_assert_eq(worker_stats_totals(ws, t, 2), 1, "no worker made");
    cr_assert_eq(t[0].successes, 1);
    cr_assert_eq(t[0].duration_count, 1);
    cr_assert_float_eq(t[0].duration_sum_us, 300000.0, 0.5);
}
