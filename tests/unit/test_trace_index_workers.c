/*
 * test_trace_index_workers.c - lib/trace_index: a transaction with steps on
 * more workers than its summary names (the first TRACE_INDEX_WORKERS_MAX):
 * the filter on a worker finds every one of them in the trace
 * (trace_index_matches_trace), and trace_index_more_workers lists the rest,
 * deduplicated, bounded, for the agent's worker sets.
 */
#include "lib/trace_index.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define T0 1796008280960000LL

static char ids[400][16];
static char names[200][16];

/* A trace with steps on workers w1..wN (each a command and its result),
 * then w1 again. */
static trace *with_workers(size_t n)
{
    trace *t = trace_new("tx1");
    cr_assert_not_null(t);
    for (size_t i = 0; i <= n; i++) {
        size_t w = i < n ? i : 0;
        snprintf(names[w], sizeof names[w], "w%zu", w + 1);
        for (int r = 0; r < 2; r++) {
            bm_event e;
            memset(&e, 0, sizeof e);
            snprintf(ids[2 * i + r], sizeof ids[0], "%s%zu", r ? "r" : "c", i);
            e.type = r ? BM_EV_RESULT : BM_EV_COMMAND;
            e.id = ids[2 * i + r];
            e.tx = "tx1";
            e.cmd = r ? ids[2 * i] : "";
            e.corr = e.source = e.status = e.message = e.error_type = e.error_message = "";
            e.worker = names[w];
            e.step = names[w];
            e.ts_us = T0 + (int64_t)i * 1000 + r * 500;
            e.duration_us = -1;
            e.ok = r ? 1 : -1;
            e.attempt = e.priority = -1;
            e.progress = -1;
            cr_assert_eq(trace_add(t, &e, 512, NULL), TRACE_ADD_OK);
        }
    }
    return t;
}

Test(trace_index_workers, a_worker_after_the_named_ones_matches)
{
    trace *t = with_workers(12);
    trace_summary s;
    trace_index_summarize(t, &s);
    cr_assert_eq(s.n_workers, TRACE_INDEX_WORKERS_MAX);
    const char *yes[] = {"w1", "w8", "w9", "w12"}, *no[] = {"w13", "w", "w1 "};
    for (size_t i = 0; i < 4; i++) {
        trace_filter f = {.worker = yes[i]};
        cr_assert(trace_index_matches_trace(t, &s, &f), "worker %s", yes[i]);
        f.status = "failed"; /* the other filters still hold */
        cr_assert_not(trace_index_matches_trace(t, &s, &f), "worker %s, failed", yes[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        trace_filter f = {.worker = no[i]};
        cr_assert_not(trace_index_matches_trace(t, &s, &f), "worker %s", no[i]);
    }
    char more[TRACE_INDEX_MORE_WORKERS_MAX][TRACE_INDEX_TEXT_MAX + 1];
    cr_assert_eq(trace_index_more_workers(t, &s, more, TRACE_INDEX_MORE_WORKERS_MAX), 4);
    cr_assert_str_eq(more[0], "w9");
    cr_assert_str_eq(more[3], "w12");
    cr_assert_eq(trace_index_more_workers(t, &s, more, 2), 2, "bounded by max");
    trace_free(t);
}

Test(trace_index_workers, none_more_when_the_summary_names_them_all)
{
    trace *t = with_workers(8);
    trace_summary s;
    trace_index_summarize(t, &s);
    char more[4][TRACE_INDEX_TEXT_MAX + 1];
    cr_assert_eq(trace_index_more_workers(t, &s, more, 4), 0);
    trace_filter f = {.worker = "w9"};
    cr_assert_not(trace_index_matches_trace(t, &s, &f));
    f.worker = "w8";
    cr_assert(trace_index_matches_trace(t, &s, &f));
    trace_free(t);
}

Test(trace_index_workers, more_workers_than_the_index_holds)
{
    trace *t = with_workers(100);
    trace_summary s;
    trace_index_summarize(t, &s);
    char more[TRACE_INDEX_MORE_WORKERS_MAX][TRACE_INDEX_TEXT_MAX + 1];
    cr_assert_eq(trace_index_more_workers(t, &s, more, TRACE_INDEX_MORE_WORKERS_MAX),
                 TRACE_INDEX_MORE_WORKERS_MAX);
    trace_filter f = {.worker = "w100"}; /* the filter is exact whatever the index holds */
    cr_assert(trace_index_matches_trace(t, &s, &f));
    trace_free(t);
}
