/*
 * test_trace_index.c - lib/trace_index: a trace's summary (status, steps,
 * events, errors, the first error, workers: first seen, deduplicated,
 * capped, cut), the failed set (failed group or a timed-out step), the JSON
 * and its parse (round trip, RFC 3339 times, what is not a summary), the
 * status words, and the filter on each field with its bounds (the same
 * filter for `busmon traces` and /api/traces), and what of a summary the
 * index still needs written (trace_index_plan with the trace's mark).
 *
 * Traces are built by hand (every string set, time set by hand, no clock).
 */
#include "lib/trace_index.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1796008280960000LL /* 2026-11-30T03:11:20.960Z */

static trace *t;

static void setup(void)
{
    t = trace_new("tx1");
    cr_assert_not_null(t);
}

static void teardown(void)
{
    trace_free(t);
}

TestSuite(trace_index, .init = setup, .fini = teardown);

static bm_event mk(bm_event_type type, const char *id, int64_t ts_us, const char *worker,
                   const char *step)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.id = id;
    e.tx = "tx1";
    e.corr = e.cmd = e.source = "";
    e.status = e.message = e.error_type = e.error_message = "";
    e.worker = worker;
    e.step = step;
    e.ts_us = ts_us;
    e.duration_us = -1;
    e.ok = type == BM_EV_RESULT ? 1 : -1;
    e.attempt = -1;
    e.priority = -1;
    e.progress = -1;
    return e;
}

static void add(bm_event e)
{
    cr_assert_eq(trace_add(t, &e, 512, NULL), TRACE_ADD_OK, "adding %s", e.id);
}

static trace_summary summarize(void)
{
    trace_summary s;
    trace_index_summarize(t, &s);
    return s;
}

/* The plan for the trace as it is now, with its JSON hashed as the agent does. */
static size_t workers_from;

static unsigned plan(void)
{
    trace_summary s = summarize();
    json_t *j = trace_index_json(&s);
    char *js = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    unsigned w = trace_index_plan(trace_index_mark_of(t), &s, trace_index_hash(js, strlen(js)),
                                  &workers_from);
    free(js);
    json_decref(j);
    return w;
}

/* ---- the summary ------------------------------------------------------------ */

Test(trace_index, summary_of_a_completed_trace)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "fetcher", "fetch"));
    add(mk(BM_EV_RESULT, "r1", T0 + 100000, "fetcher", "fetch"));
    add(mk(BM_EV_COMMAND, "c2", T0 + 110000, "writer", "write"));
    add(mk(BM_EV_RESULT, "r2", T0 + 350000, "writer", "write"));
    trace_summary s = summarize();
    cr_assert_str_eq(s.tx, "tx1");
    cr_assert_eq(s.status, TRACE_COMPLETED);
    cr_assert_eq(s.timed_out, 0);
    cr_assert_eq(s.start_us, T0);
    cr_assert_eq(s.end_us, T0 + 350000);
    cr_assert_eq(s.duration_us, 350000);
    cr_assert_eq(s.steps, 2);
    cr_assert_eq(s.events, 4);
    cr_assert_eq(s.errors, 0);
    cr_assert_eq(s.n_workers, 2);
    cr_assert_str_eq(s.workers[0], "fetcher");
    cr_assert_str_eq(s.workers[1], "writer");
    cr_assert_str_eq(s.error_type, "");
    cr_assert_str_eq(s.error, "");
    cr_assert_not(trace_index_is_failed(&s));
}

Test(trace_index, summary_keeps_the_first_error)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    bm_event e1 = mk(BM_EV_ERROR, "e1", T0 + 10, "a", "one");
    e1.error_type = "ValueError";
    e1.error_message = "bad input";
    add(e1);
    add(mk(BM_EV_COMMAND, "c2", T0 + 20, "b", "two"));
    bm_event e2 = mk(BM_EV_ERROR, "e2", T0 + 30, "b", "two");
    e2.error_type = "KeyError";
    add(e2);
    trace_summary s = summarize();
    cr_assert_eq(trace_status_group(s.status), TRACE_FAILED);
    cr_assert_eq(s.errors, 2);
    cr_assert_str_eq(s.error_type, "ValueError");
    cr_assert_str_eq(s.error, "bad input");
    cr_assert_eq(s.timed_out, 0);
    cr_assert(trace_index_is_failed(&s));
}

Test(trace_index, a_failed_result_counts_as_an_error)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    bm_event r = mk(BM_EV_RESULT, "r1", T0 + 10, "a", "one");
    r.ok = 0;
    add(r);
    trace_summary s = summarize();
    cr_assert_eq(s.errors, 1);
    cr_assert_str_eq(s.error_type, "");
    cr_assert(trace_index_is_failed(&s));
}

Test(trace_index, a_timeout_is_timed_out_and_named)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "slow", "wait"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1000000, "slow", "wait");
    e.error_type = "timeout";
    e.error_message = "no answer within 1 s";
    add(e);
    trace_summary s = summarize();
    cr_assert_eq(s.timed_out, 1);
    cr_assert_eq(s.errors, 1);
    cr_assert_str_eq(s.error_type, "timeout");
    cr_assert(trace_index_is_failed(&s));
}

Test(trace_index, compensations_are_steps_status_events_are_not)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    add(mk(BM_EV_COMPENSATION, "k1", T0 + 5, "undo_one", "one"));
    add(mk(BM_EV_STATUS, "s1", T0 + 6, "", ""));
    add(mk(BM_EV_CUSTOM, "x1", T0 + 7, "other", ""));
    trace_summary s = summarize();
    cr_assert_eq(s.steps, 2);
    cr_assert_eq(s.events, 4);
    /* workers come from commands and answers only */
    cr_assert_eq(s.n_workers, 1);
    cr_assert_str_eq(s.workers[0], "a");
}

Test(trace_index, workers_first_seen_deduplicated_capped_and_cut)
{
    char ids[12][8], names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(ids[i], sizeof ids[i], "c%d", i);
        snprintf(names[i], sizeof names[i], "w%d", i % 10); /* w0, w1 again at the end */
        add(mk(BM_EV_COMMAND, ids[i], T0 + i, names[i], "s"));
    }
    trace_summary s = summarize();
    cr_assert_eq(s.n_workers, TRACE_INDEX_WORKERS_MAX);
    for (int i = 0; i < TRACE_INDEX_WORKERS_MAX; i++) {
        char want[8];
        snprintf(want, sizeof want, "w%d", i);
        cr_assert_str_eq(s.workers[i], want);
    }

    trace_free(t);
    t = trace_new("tx1");
    char longname[TRACE_INDEX_TEXT_MAX + 50];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    add(mk(BM_EV_COMMAND, "c1", T0, longname, "s"));
    s = summarize();
    cr_assert_eq(strlen(s.workers[0]), TRACE_INDEX_TEXT_MAX);
}

Test(trace_index, empty_worker_names_are_not_workers)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "", "s"));
    trace_summary s = summarize();
    cr_assert_eq(s.n_workers, 0);
}

/* ---- JSON ----------------------------------------------------------------- */

Test(trace_index, format_ms_is_rfc3339_utc_with_ms)
{
    char buf[40];
    trace_index_format_ms(T0 + 999, buf, sizeof buf); /* µs below the ms: cut */
    cr_assert_str_eq(buf, "2026-11-30T03:11:20.960Z");
    trace_index_format_ms(-5, buf, sizeof buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}

Test(trace_index, json_round_trip)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1234000, "b", "one");
    e.error_type = "timeout";
    e.error_message = "quote \" and é";
    add(e);
    trace_summary s = summarize(), back;
    json_t *j = trace_index_json(&s);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "start")), "2026-11-30T03:11:20.960Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "end")), "2026-11-30T03:11:22.194Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "start_unix_ms")), T0 / 1000);
    cr_assert_float_eq(json_number_value(json_object_get(j, "duration_ms")), 1234.0, 1e-9);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_eq(trace_index_parse(txt, strlen(txt), &back), 0);
    free(txt);
    cr_assert_str_eq(back.tx, s.tx);
    cr_assert_eq(back.status, s.status);
    cr_assert_eq(back.timed_out, 1);
    cr_assert_eq(back.start_us, T0);
    cr_assert_eq(back.end_us, T0 + 1234000);
    cr_assert_eq(back.duration_us, 1234000);
    cr_assert_eq(back.steps, s.steps);
    cr_assert_eq(back.events, s.events);
    cr_assert_eq(back.errors, 1);
    cr_assert_eq(back.n_workers, 2);
    cr_assert_str_eq(back.workers[1], "b");
    cr_assert_str_eq(back.error_type, "timeout");
    cr_assert_str_eq(back.error, "quote \" and é");
}

Test(trace_index, every_status_round_trips)
{
    for (int st = TRACE_RUNNING; st <= TRACE_CANCELLED; st++) {
        trace_summary s, back;
        memset(&s, 0, sizeof s);
        snprintf(s.tx, sizeof s.tx, "t%d", st);
        s.status = (trace_status)st;
        json_t *j = trace_index_json(&s);
        char *txt = json_dumps(j, 0);
        cr_assert_eq(trace_index_parse(txt, strlen(txt), &back), 0);
        cr_assert_eq(back.status, s.status, "%s", trace_status_name(s.status));
        free(txt);
        json_decref(j);
    }
}

Test(trace_index, parse_refuses_what_is_not_a_summary)
{
    trace_summary s;
    const char *bad[] = {"",
                         "not json",
                         "[1,2]",
                         "\"tx\"",
                         "{}",
                         "{\"tx\": \"a\"}",
                         "{\"status\": \"failed\"}",
                         "{\"tx\": 1, \"status\": \"failed\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(trace_index_parse(bad[i], strlen(bad[i]), &s), -1, "%s", bad[i]);
    const char *minimal = "{\"tx\": \"a\", \"status\": \"completed\"}";
    cr_assert_eq(trace_index_parse(minimal, strlen(minimal), &s), 0);
    cr_assert_eq(s.status, TRACE_COMPLETED);
    cr_assert_eq(s.n_workers, 0);
}

/* ---- the filter ------------------------------------------------------------- */

static trace_summary made(trace_status st, int timed_out, int64_t start_us, int64_t dur_us,
                          const char *w1, const char *w2, const char *etype)
{
    trace_summary s;
    memset(&s, 0, sizeof s);
    snprintf(s.tx, sizeof s.tx, "tx");
    s.status = st;
    s.timed_out = timed_out;
    s.start_us = start_us;
    s.end_us = start_us + dur_us;
    s.duration_us = dur_us;
    if (w1) snprintf(s.workers[s.n_workers++], sizeof s.workers[0], "%s", w1);
    if (w2) snprintf(s.workers[s.n_workers++], sizeof s.workers[0], "%s", w2);
    snprintf(s.error_type, sizeof s.error_type, "%s", etype);
    return s;
}

Test(trace_index, status_words)
{
    const char *ok[] = {"running", "completed", "failed", "compensated", "cancelled", "timed_out"};
    for (size_t i = 0; i < 6; i++)
        cr_assert(trace_index_status_valid(ok[i]), "%s", ok[i]);
    const char *bad[] = {"", "Failed", "timeout", "timed-out", "bogus", "failed "};
    for (size_t i = 0; i < 6; i++)
        cr_assert_not(trace_index_status_valid(bad[i]), "'%s'", bad[i]);
}

Test(trace_index, empty_filter_matches_everything)
{
    trace_filter f = {0};
    trace_summary s = made(TRACE_RUNNING, 0, 0, 0, NULL, NULL, "");
    cr_assert(trace_index_matches(&s, &f));
    trace_filter empty = {"", "", 0, 0, ""};
    cr_assert(trace_index_matches(&s, &empty));
}

Test(trace_index, status_failed_is_the_group)
{
    trace_filter f = {.status = "failed"};
    trace_summary fail = made(TRACE_FAILED, 0, 0, 0, NULL, NULL, "");
    cr_assert(trace_index_matches(&fail, &f));
    trace_summary comp = made(TRACE_COMPENSATED, 0, 0, 0, NULL, NULL, "");
    trace_summary canc = made(TRACE_CANCELLED, 0, 0, 0, NULL, NULL, "");
    trace_summary done = made(TRACE_COMPLETED, 0, 0, 0, NULL, NULL, "");
    trace_summary run = made(TRACE_RUNNING, 0, 0, 0, NULL, NULL, "");
    cr_assert(trace_index_matches(&comp, &f));
    cr_assert(trace_index_matches(&canc, &f));
    cr_assert_not(trace_index_matches(&done, &f));
    cr_assert_not(trace_index_matches(&run, &f));
    /* any other word: its own status only */
    trace_filter fc = {.status = "compensated"};
    cr_assert(trace_index_matches(&comp, &fc));
    cr_assert_not(trace_index_matches(&canc, &fc));
    trace_filter fd = {.status = "completed"};
    cr_assert(trace_index_matches(&done, &fd));
    cr_assert_not(trace_index_matches(&comp, &fd));
    trace_filter fr = {.status = "running"};
    cr_assert(trace_index_matches(&run, &fr));
    cr_assert_not(trace_index_matches(&done, &fr));
}

Test(trace_index, status_timed_out_is_the_flag_whatever_the_status)
{
    trace_filter f = {.status = "timed_out"};
    trace_summary failed_to = made(TRACE_COMPENSATED, 1, 0, 0, NULL, NULL, "timeout");
    trace_summary failed = made(TRACE_FAILED, 0, 0, 0, NULL, NULL, "ValueError");
    trace_summary done_to = made(TRACE_COMPLETED, 1, 0, 0, NULL, NULL, "timeout");
    cr_assert(trace_index_matches(&failed_to, &f));
    cr_assert(trace_index_matches(&done_to, &f));
    cr_assert_not(trace_index_matches(&failed, &f));
    /* and in the failed set, even completed (a retry succeeded after a timeout) */
    cr_assert(trace_index_is_failed(&done_to));
}

Test(trace_index, worker_is_any_of_the_workers_exactly)
{
    trace_summary s = made(TRACE_COMPLETED, 0, 0, 0, "fast", "slow", "");
    trace_filter f = {.worker = "slow"};
    cr_assert(trace_index_matches(&s, &f));
    f.worker = "fast";
    cr_assert(trace_index_matches(&s, &f));
    f.worker = "slo";
    cr_assert_not(trace_index_matches(&s, &f));
    f.worker = "slower";
    cr_assert_not(trace_index_matches(&s, &f));
    f.worker = "Slow";
    cr_assert_not(trace_index_matches(&s, &f));
    trace_summary none = made(TRACE_COMPLETED, 0, 0, 0, NULL, NULL, "");
    f.worker = "fast";
    cr_assert_not(trace_index_matches(&none, &f));
}

Test(trace_index, min_duration_is_inclusive)
{
    trace_summary s = made(TRACE_COMPLETED, 0, T0, 1500000, NULL, NULL, "");
    trace_filter f = {.min_duration_us = 1500000};
    cr_assert(trace_index_matches(&s, &f));
    f.min_duration_us = 1500001;
    cr_assert_not(trace_index_matches(&s, &f));
    f.min_duration_us = 1;
    cr_assert(trace_index_matches(&s, &f));
    trace_summary zero = made(TRACE_COMPLETED, 0, T0, 0, NULL, NULL, "");
    f.min_duration_us = 0; /* no bound */
    cr_assert(trace_index_matches(&zero, &f));
    f.min_duration_us = 1;
    cr_assert_not(trace_index_matches(&zero, &f));
}

Test(trace_index, since_bounds_the_start_inclusive)
{
    trace_summary s = made(TRACE_COMPLETED, 0, T0, 5000000, NULL, NULL, "");
    trace_filter f = {.since_us = T0};
    cr_assert(trace_index_matches(&s, &f));
    f.since_us = T0 + 1; /* started before: out, even though it ended after */
    cr_assert_not(trace_index_matches(&s, &f));
    f.since_us = T0 - 3600000000LL;
    cr_assert(trace_index_matches(&s, &f));
}

Test(trace_index, error_type_is_exact_and_case_sensitive)
{
    trace_summary s = made(TRACE_FAILED, 0, 0, 0, NULL, NULL, "WorkerException");
    trace_filter f = {.error_type = "WorkerException"};
    cr_assert(trace_index_matches(&s, &f));
    f.error_type = "workerexception";
    cr_assert_not(trace_index_matches(&s, &f));
    f.error_type = "Worker";
    cr_assert_not(trace_index_matches(&s, &f));
    trace_summary none = made(TRACE_COMPLETED, 0, 0, 0, NULL, NULL, "");
    f.error_type = "WorkerException";
    cr_assert_not(trace_index_matches(&none, &f));
}

Test(trace_index, every_filter_must_hold)
{
    trace_summary s = made(TRACE_CANCELLED, 0, T0, 2000000, "flaky", NULL, "RateLimitError");
    trace_filter f = {"failed", "flaky", 2000000, T0, "RateLimitError"};
    cr_assert(trace_index_matches(&s, &f));
    trace_filter wrong[] = {
        {"completed", "flaky", 2000000, T0, "RateLimitError"},
        {"failed", "fast", 2000000, T0, "RateLimitError"},
        {"failed", "flaky", 2000001, T0, "RateLimitError"},
        {"failed", "flaky", 2000000, T0 + 1, "RateLimitError"},
        {"failed", "flaky", 2000000, T0, "ValueError"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        cr_assert_not(trace_index_matches(&s, &wrong[i]), "filter %zu", i);
}

/* The filter on a summary read back from its JSON decides as on the summary
 * itself: the CLI (Redis) and /api/traces (memory) agree. */
Test(trace_index, parsed_summary_filters_as_the_original)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "flaky", "one"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1500000, "flaky", "one");
    e.error_type = "RateLimitError";
    add(e);
    trace_summary s = summarize(), back;
    json_t *j = trace_index_json(&s);
    char *txt = json_dumps(j, 0);
    cr_assert_eq(trace_index_parse(txt, strlen(txt), &back), 0);
    free(txt);
    json_decref(j);
    trace_filter fs[] = {
        {"failed", NULL, 0, 0, NULL},     {"completed", NULL, 0, 0, NULL},
        {NULL, "flaky", 0, 0, NULL},      {NULL, NULL, 1500000, 0, NULL},
        {NULL, NULL, 1500001, 0, NULL},   {NULL, NULL, 0, T0, NULL},
        {NULL, NULL, 0, T0 + 1000, NULL}, {NULL, NULL, 0, 0, "RateLimitError"},
        {"timed_out", NULL, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        cr_assert_eq(trace_index_matches(&back, &fs[i]), trace_index_matches(&s, &fs[i]),
                     "filter %zu", i);
}

/* ---- what the index still needs --------------------------------------------- */

Test(trace_index, plan_adds_once_then_only_what_changed)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY | TRACE_INDEX_W_SET | TRACE_INDEX_W_WORKERS,
                 "first: summary, the set, the worker's set");
    cr_assert_eq(plan(), 0, "nothing changed: nothing written");
    add(mk(BM_EV_RESULT, "r1", T0 + 10, "a", "one"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY, "same start, same worker: the summary only");
    add(mk(BM_EV_COMMAND, "c2", T0 + 20, "b", "two"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY | TRACE_INDEX_W_WORKERS, "a new worker");
    cr_assert_eq(workers_from, 1, "only the new one");
    bm_event e = mk(BM_EV_ERROR, "e2", T0 + 30, "b", "two");
    e.error_type = "KeyError";
    add(e);
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY | TRACE_INDEX_W_FAILED, "became failed");
    add(mk(BM_EV_COMMAND, "c3", T0 + 40, "b", "three"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY, "still failed: not added again");
    add(mk(BM_EV_COMMAND, "c0", T0 - 1000, "a", "zero"));
    cr_assert_eq(plan(),
                 TRACE_INDEX_W_SUMMARY | TRACE_INDEX_W_SET | TRACE_INDEX_W_FAILED |
                     TRACE_INDEX_W_WORKERS,
                 "an earlier event came late: every set again, under the new start");
    cr_assert_eq(workers_from, 0);
}

Test(trace_index, plan_adds_every_worker_when_their_order_changed)
{
    add(mk(BM_EV_COMMAND, "c1", T0 + 10, "a", "one"));
    plan();
    add(mk(BM_EV_RESULT, "r1", T0 + 20, "a", "one"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY, "same workers");
    /* a worker before "a", same start (the same ms): "b" first now */
    add(mk(BM_EV_COMMAND, "c0", T0 + 5, "b", "zero"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SUMMARY | TRACE_INDEX_W_WORKERS);
    cr_assert_eq(workers_from, 0, "not the usual append: every worker");
    cr_assert_neq(trace_index_hash("a", 1), trace_index_hash("b", 1));
}

/* ---- the hand-written JSON is jansson's, byte for byte ------------------------ */

static void same_as_jansson(const trace_summary *s)
{
    json_t *j = trace_index_json(s);
    cr_assert_not_null(j, "jansson takes the summary (valid UTF-8)");
    char *want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    static char got[TRACE_INDEX_DUMP_MAX];
    size_t n = trace_index_dump(s, got, sizeof got);
    cr_assert_eq(n, strlen(want), "length %zu vs jansson's %zu:\n%s\n%s", n, strlen(want), got,
                 want);
    cr_assert_str_eq(got, want);
    /* too small a buffer: cut, terminated, the full length said */
    char tiny[16];
    cr_assert_eq(trace_index_dump(s, tiny, sizeof tiny), n);
    cr_assert_eq(strlen(tiny), sizeof tiny - 1);
    cr_assert_eq(memcmp(tiny, want, sizeof tiny - 1), 0);
    free(want);
}

Test(trace_index, dump_is_jansson_byte_for_byte)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "fetcher", "fetch"));
    add(mk(BM_EV_RESULT, "r1", T0 + 100000, "fetcher", "fetch"));
    add(mk(BM_EV_COMMAND, "c2", T0 + 110000, "writer", "write"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1234567, "writer", "write");
    e.error_type = "Quote\"Back\\slash";
    e.error_message = "tab\there, nl\nthere, bell\a, del\x7f, é ü 中文, slash /";
    add(e);
    trace_summary s = summarize();
    same_as_jansson(&s);

    trace_summary z;
    memset(&z, 0, sizeof z);
    snprintf(z.tx, sizeof z.tx, "%s", "zero");
    same_as_jansson(&z); /* no workers, empty texts, 0.0 ms */
    double durations_ms[] = {0.001, 12.345, 1234.0, 1e15, 123456789012.5, 3e18};
    for (size_t i = 0; i < sizeof durations_ms / sizeof durations_ms[0]; i++) {
        z.duration_us = (int64_t)(durations_ms[i] * 1000.0);
        z.timed_out = (int)(i % 2);
        z.status = (trace_status)(i % (TRACE_CANCELLED + 1));
        z.start_us = T0 + (int64_t)i * 1001;
        z.end_us = z.start_us + z.duration_us;
        same_as_jansson(&z);
    }
    /* the longest summary: every text full of characters that escape */
    trace_summary big;
    memset(&big, 0, sizeof big);
    memset(big.tx, '"', sizeof big.tx - 1);
    for (size_t i = 0; i < TRACE_INDEX_WORKERS_MAX; i++)
        memset(big.workers[i], '\x01', TRACE_INDEX_TEXT_MAX);
    big.n_workers = TRACE_INDEX_WORKERS_MAX;
    memset(big.error_type, '\x1f', TRACE_INDEX_TEXT_MAX);
    memset(big.error, '\\', TRACE_INDEX_TEXT_MAX);
    big.duration_us = INT64_MAX;
    same_as_jansson(&big);
    cr_assert_lt(trace_index_dump(&big, NULL, 0), (size_t)TRACE_INDEX_DUMP_MAX);
}

Test(trace_index, a_long_text_is_cut_between_utf8_characters)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "w", "one"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1000, "w", "one");
    char msg[TRACE_INDEX_TEXT_MAX + 10];
    memset(msg, 'a', TRACE_INDEX_TEXT_MAX - 1);
    strcpy(msg + TRACE_INDEX_TEXT_MAX - 1, "\xe4\xb8\xad\xe6\x96\x87"); /* 中 starts at byte 199 */
    e.error_type = "E";
    e.error_message = msg;
    add(e);
    trace_summary s = summarize();
    cr_assert_eq(strlen(s.error), TRACE_INDEX_TEXT_MAX - 1, "the cut 中 is dropped whole");
    same_as_jansson(&s); /* jansson refuses invalid UTF-8: it would be NULL */
}
