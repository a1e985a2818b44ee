/*
 * test_worker_adopt.c - lib/worker_stats: worker_stats_adopt_health, the
 * judge's verdicts taken into another table (the cluster's own partial). A
 * worker the table lacked comes with the judge's last-seen time, so once it
 * falls silent it is "silent for 10 min", not silent since 1970; a worker
 * the table had keeps its own figures and last seen.
 *
 * Time is driven by hand from T0.
 */
#include "lib/worker_stats.h"

#include <criterion/criterion.h>

#define SEC    1000000LL
#define MINUTE (60 * SEC)
#define T0     (1699999800LL * SEC)

Test(worker_adopt, an_adopted_worker_is_silent_since_the_judge_last_saw_it)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    worker_stats *judge = worker_stats_new(&cfg), *own = worker_stats_new(&cfg);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(worker_stats_answer(judge, "w", BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0), 0);
    cr_assert_eq(worker_stats_answer(own, "mine", BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0 + SEC),
                 0);
    cr_assert_eq(worker_stats_answer(judge, "mine", BM_OUTCOME_SUCCESS, 1000, "", "", 0, T0), 0);
    worker_stats_evaluate(judge, T0 + 30 * SEC, NULL, NULL);

    worker_stats_adopt_health(own, judge);
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(own, "w", T0 + 30 * SEC, &s), 0);
    cr_assert_eq(s.health, BM_HEALTH_HEALTHY);
    cr_assert_eq(s.last_seen_us, T0, "the judge's last seen");
    cr_assert_eq(s.win[1].executions, 0, "no figures");
    cr_assert_eq(worker_stats_snapshot_one(own, "mine", T0 + 30 * SEC, &s), 0);
    cr_assert_eq(s.last_seen_us, T0 + SEC, "a worker the table had keeps its own");
    cr_assert_eq(s.win[1].executions, 1);

    worker_stats_evaluate(own, T0 + 10 * MINUTE, NULL, NULL);
    cr_assert_eq(worker_stats_snapshot_one(own, "w", T0 + 10 * MINUTE, &s), 0);
    cr_assert_eq(s.health, BM_HEALTH_INACTIVE);
    cr_assert_str_eq(s.issues[0], "silent for 10 min");
    worker_stats_free(judge);
    worker_stats_free(own);
}
