/*
 * test_worker_health_words.c - lib/worker_stats: a slow p95 just above the
 * slow threshold is said with the decimals that make it read above it
 * ("p95 1.02 s > slow threshold 1 s"), never as the threshold's own words
 * ("p95 1 s > slow threshold 1 s" contradicts itself), in every unit.
 *
 * Every execution of a case has one duration, so the p95 is exact (the
 * histogram's min and max bound it).
 */
#include "lib/worker_stats.h"

#include <criterion/criterion.h>
#include <stdio.h>

#define SEC    1000000LL
#define MINUTE (60 * SEC)
#define T0     (1699999800LL * SEC) /* a multiple of 5 min */

/* The first issue of a worker whose 20 executions took duration_us each,
 * judged against slow_us. */
static void p95_issue(int64_t slow_us, int64_t duration_us, char *out, size_t len)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    cfg.slow_threshold_us = slow_us;
    worker_stats *ws = worker_stats_new(&cfg);
    cr_assert_not_null(ws);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(worker_stats_answer(ws, "w", BM_OUTCOME_SUCCESS, duration_us, "", "", 0, T0),
                     0);
    worker_stats_evaluate(ws, T0 + SEC, NULL, NULL);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(ws, "w", T0 + SEC, &s), 0);
    cr_assert_eq(s.health, BM_HEALTH_DEGRADED, "p95 %lld us over %lld us", (long long)duration_us,
                 (long long)slow_us);
    cr_assert_geq(s.n_issues, 1);
    snprintf(out, len, "%s", s.issues[0]);
    worker_stats_free(ws);
}

Test(worker_health_words, a_p95_just_above_the_threshold_reads_above_it)
{
    static const struct {
        int64_t slow_us, duration_us;
        const char *issue;
    } cases[] = {
        {1 * SEC, 1020 * 1000, "p95 1.02 s > slow threshold 1 s"},
        {5 * SEC, 5004 * 1000, "p95 5.004 s > slow threshold 5 s"},
        {200 * 1000, 200400, "p95 200.4 ms > slow threshold 200 ms"},
        {2 * 1000, 2001, "p95 2.001 ms > slow threshold 2 ms"},
        {90 * SEC, 90 * SEC + 300 * 1000, "p95 90.3 s > slow threshold 90 s"},
        {5 * MINUTE, 5 * MINUTE + 20 * SEC, "p95 5.3 min > slow threshold 5 min"},
        /* plainly above: as before */
        {1 * SEC, 2100 * 1000, "p95 2.1 s > slow threshold 1 s"},
        {500 * 1000, 850 * 1000, "p95 850 ms > slow threshold 500 ms"},
        {999 * 1000, 1000400, "p95 1 s > slow threshold 999 ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char issue[BM_ISSUE_LEN];
        p95_issue(cases[i].slow_us, cases[i].duration_us, issue, sizeof issue);
        cr_expect_str_eq(issue, cases[i].issue, "case %zu: \"%s\"", i, issue);
    }
}
