/*
 * test_trace_index.c - lib/trace_index: a trace's summary (status, steps,
 * events, errors, the first error, workers: first seen, deduplicated,
 * capped, cut), the failed set (failed group or a timed-out step), the JSON
 * (RFC 3339 times, every status's name), the summary made again from the
 * stored records as `busmon traces` makes it (the same summary as from
 * memory), the status words, the filter on each field with its bounds (the
 * same filter for `busmon traces` and /api/traces), and what the index
 * still needs written (trace_index_plan with the trace's mark).
 *
 * Traces are built by hand (every string set, time set by hand, no clock).
 */
#include "lib/trace_index.h"

#include <criterion/criterion.h>
#include <msgpack.h>
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

/* The plan for the trace as it is now, as the agent makes it. */
static size_t workers_from;

static unsigned plan(void)
{
    trace_summary s = summarize();
    return trace_index_plan(trace_index_mark_of(t), &s, &workers_from);
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
    trace_event view; /* the answer named, whose message a reader shows whole */
    cr_assert_str_eq(trace_get(t, s.error_event, &view)->ev.id, "e1");
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

/* One failed answer of a step and what came after it: a step's error is
 * named (and found by --error-type) only when its failure stands, as
 * trace_get_status, `busmon trace` and the OTLP spans judge it. */
static void answer(const char *id, int64_t dt, const char *worker, const char *step,
                   const char *error_type)
{
    char cid[16];
    snprintf(cid, sizeof cid, "c-%s", id);
    add(mk(BM_EV_COMMAND, cid, T0 + dt, worker, step)); /* copied by trace_add */
    bm_event a = mk(error_type ? BM_EV_ERROR : BM_EV_RESULT, id, T0 + dt + 5, worker, step);
    if (error_type) a.error_type = error_type;
    add(a);
}

static int found_by_error_type(const char *etype)
{
    trace_summary s = summarize();
    trace_filter f = {.error_type = etype};
    return trace_index_matches_trace(t, &s, &f);
}

Test(trace_index, a_failure_retried_into_a_success_names_no_error)
{
    answer("e1", 0, "w", "charge", "WorkerException");
    answer("r2", 10, "w", "charge", NULL);
    trace_summary s = summarize();
    cr_assert_eq(s.status, TRACE_COMPLETED, "busmon trace says completed");
    cr_assert_eq(s.errors, 1, "the failed answer is still an error answer");
    cr_assert_str_eq(s.error_type, "", "no step's outcome is a failure");
    cr_assert_not(found_by_error_type("WorkerException"), "a failure retried is not found");
}

Test(trace_index, the_error_named_is_the_first_that_stands)
{
    answer("e1", 0, "w", "charge", "Transient");
    answer("r2", 10, "w", "charge", NULL);
    answer("e3", 20, "v", "ship", "KeyError");
    answer("e4", 30, "v", "ship", "Fatal");
    answer("e5", 40, "u", "pack", "Healed"); /* a success on another worker heals nothing */
    answer("r6", 50, "other", "pack", NULL);
    trace_summary s = summarize();
    cr_assert_eq(trace_status_group(s.status), TRACE_FAILED);
    cr_assert_eq(s.errors, 4);
    cr_assert_str_eq(s.error_type, "KeyError", "the first failed step whose failure stands");
    cr_assert(found_by_error_type("KeyError"));
    cr_assert_not(found_by_error_type("Transient"));
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

/* Names name the index's sets and are what the filter compares: the longest
 * the decoder accepts (BM_ID_MAX bytes, here ending in a 2- or 3-byte
 * character) are kept whole, or `busmon traces` reads a key that does not
 * exist and --worker / --error-type find nothing. */
Test(trace_index, the_longest_names_are_kept_whole)
{
    char tx[BM_ID_MAX + 1], worker[BM_ID_MAX + 1], etype[BM_ID_MAX + 1];
    memset(tx, 't', BM_ID_MAX - 2);
    strcpy(tx + BM_ID_MAX - 2, "\xc3\xa9"); /* é */
    memset(worker, 'w', BM_ID_MAX - 3);
    strcpy(worker + BM_ID_MAX - 3, "\xe4\xb8\xad"); /* 中 */
    memset(etype, 'E', BM_ID_MAX - 3);
    strcpy(etype + BM_ID_MAX - 3, "\xe4\xb8\xad");
    trace_free(t);
    t = trace_new(tx);
    cr_assert_not_null(t);
    bm_event c = mk(BM_EV_COMMAND, "c1", T0, worker, "s");
    c.tx = tx;
    add(c);
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1000, worker, "s");
    e.tx = tx;
    e.error_type = etype;
    e.error_message = "boom";
    add(e);
    trace_summary s = summarize();
    cr_assert_str_eq(s.tx, tx);
    cr_assert_str_eq(s.workers[0], worker);
    cr_assert_str_eq(s.error_type, etype);
    trace_filter f = {.worker = worker, .error_type = etype};
    cr_assert(trace_index_matches(&s, &f), "--worker and --error-type with the whole names");
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

Test(trace_index, json_of_a_summary)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    bm_event e = mk(BM_EV_ERROR, "e1", T0 + 1234000, "b", "one");
    e.error_type = "timeout";
    e.error_message = "quote \" and é";
    add(e);
    trace_summary s = summarize();
    json_t *j = trace_index_json(&s);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "tx")), "tx1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "start")), "2026-11-30T03:11:20.960Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "end")), "2026-11-30T03:11:22.194Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "start_unix_ms")), T0 / 1000);
    cr_assert_eq(json_integer_value(json_object_get(j, "end_unix_ms")), (T0 + 1234000) / 1000);
    cr_assert_float_eq(json_number_value(json_object_get(j, "duration_ms")), 1234.0, 1e-9);
    cr_assert(json_is_true(json_object_get(j, "timed_out")));
    cr_assert_eq(json_integer_value(json_object_get(j, "steps")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "events")), 2);
    cr_assert_eq(json_integer_value(json_object_get(j, "errors")), 1);
    json_t *w = json_object_get(j, "workers");
    cr_assert_eq(json_array_size(w), 2);
    cr_assert_str_eq(json_string_value(json_array_get(w, 1)), "b");
    cr_assert_str_eq(json_string_value(json_object_get(j, "error_type")), "timeout");
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "quote \" and é");
    json_decref(j);
}

Test(trace_index, every_status_has_its_name_in_json)
{
    for (int st = TRACE_RUNNING; st <= TRACE_CANCELLED; st++) {
        trace_summary s;
        memset(&s, 0, sizeof s);
        snprintf(s.tx, sizeof s.tx, "t%d", st);
        s.status = (trace_status)st;
        json_t *j = trace_index_json(&s);
        cr_assert_not_null(j);
        cr_assert_str_eq(json_string_value(json_object_get(j, "status")),
                         trace_status_name(s.status));
        json_decref(j);
    }
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

/* `busmon traces` summarizes a candidate from its stored records (each
 * event encoded as the agent stores it, decoded, replayed into a new trace
 * in arrival order, a redelivered one among them): the same summary as the
 * agent's from memory, so the CLI (Redis) and /api/traces (memory) agree. */
Test(trace_index, summary_from_stored_records_is_the_one_from_memory)
{
    bm_event ev[6] = {
        mk(BM_EV_COMMAND, "c1", T0, "flaky", "one"),
        mk(BM_EV_ERROR, "e1", T0 + 1500000, "flaky", "one"),
        mk(BM_EV_COMMAND, "c2", T0 + 1600000, "other", "two"),
        mk(BM_EV_RESULT, "r2", T0 + 1700000, "other", "two"),
        mk(BM_EV_COMMAND, "c3", T0 + 1800000, "slow", "three"),
        mk(BM_EV_ERROR, "e3", T0 + 2500000, "slow", "three"),
    };
    ev[1].error_type = "RateLimitError";
    ev[1].error_message = "429 from upstream";
    ev[1].cmd = "c1";
    ev[5].error_type = "timeout";
    ev[5].cmd = "c3";
    ev[3].cmd = "c2";
    ev[3].duration_us = 99000;
    msgpack_sbuffer recs[7];
    /* stored in arrival order: the answer to c2 before c2, e1 twice */
    const int order[7] = {0, 3, 2, 1, 4, 1, 5};
    for (int i = 0; i < 7; i++) {
        msgpack_sbuffer_init(&recs[i]);
        cr_assert_eq(bm_event_encode_msgpack(&ev[order[i]], ev[order[i]].duration_us, &recs[i]), 0);
        if (i != 5) add(ev[order[i]]);
    }
    trace_summary mem = summarize();

    bm_decoder *d = bm_decoder_new(NULL);
    trace *back = trace_new("tx1");
    cr_assert(d && back);
    for (int i = 0; i < 7; i++) {
        bm_event e;
        cr_assert_eq(bm_decode_msgpack(d, recs[i].data, recs[i].size, &e), BM_DECODE_OK);
        cr_assert_eq(trace_add(back, &e, 512, NULL), i == 5 ? TRACE_ADD_DUPLICATE : TRACE_ADD_OK,
                     "record %d", i);
        msgpack_sbuffer_destroy(&recs[i]);
    }
    trace_summary got;
    trace_index_summarize(back, &got);
    trace_free(back);
    bm_decoder_free(d);

    cr_assert_str_eq(got.tx, mem.tx);
    cr_assert_eq(got.status, mem.status);
    cr_assert_eq(got.status, TRACE_FAILED);
    cr_assert_eq(got.timed_out, 1);
    cr_assert_eq(got.start_us, T0);
    cr_assert_eq(got.end_us, mem.end_us);
    cr_assert_eq(got.duration_us, mem.duration_us);
    cr_assert_eq(got.steps, 3);
    cr_assert_eq(got.events, 6, "the redelivered record counts once");
    cr_assert_eq(got.errors, mem.errors);
    cr_assert_eq(got.n_workers, 3);
    for (size_t i = 0; i < got.n_workers; i++)
        cr_assert_str_eq(got.workers[i], mem.workers[i]);
    cr_assert_str_eq(got.workers[0], "flaky");
    cr_assert_str_eq(got.error_type, "RateLimitError");
    cr_assert_str_eq(got.error, "429 from upstream");
    trace_filter fs[] = {
        {"failed", NULL, 0, 0, NULL},     {"completed", NULL, 0, 0, NULL},
        {NULL, "flaky", 0, 0, NULL},      {NULL, NULL, 2500000, 0, NULL},
        {NULL, NULL, 2500001, 0, NULL},   {NULL, NULL, 0, T0, NULL},
        {NULL, NULL, 0, T0 + 1000, NULL}, {NULL, NULL, 0, 0, "RateLimitError"},
        {"timed_out", NULL, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        cr_assert_eq(trace_index_matches(&got, &fs[i]), trace_index_matches(&mem, &fs[i]),
                     "filter %zu", i);
}

/* ---- what the index still needs --------------------------------------------- */

Test(trace_index, plan_adds_once_then_only_what_changed)
{
    add(mk(BM_EV_COMMAND, "c1", T0, "a", "one"));
    cr_assert_eq(plan(), TRACE_INDEX_W_SET | TRACE_INDEX_W_WORKERS,
                 "first: the set, the worker's set");
    cr_assert_eq(plan(), 0, "nothing changed: nothing written");
    add(mk(BM_EV_RESULT, "r1", T0 + 10, "a", "one"));
    cr_assert_eq(plan(), 0, "same start, same worker: nothing (the summary is not stored)");
    add(mk(BM_EV_COMMAND, "c2", T0 + 20, "b", "two"));
    cr_assert_eq(plan(), TRACE_INDEX_W_WORKERS, "a new worker");
    cr_assert_eq(workers_from, 1, "only the new one");
    bm_event e = mk(BM_EV_ERROR, "e2", T0 + 30, "b", "two");
    e.error_type = "KeyError";
    add(e);
    cr_assert_eq(plan(), TRACE_INDEX_W_FAILED, "became failed");
    add(mk(BM_EV_COMMAND, "c3", T0 + 40, "b", "three"));
    cr_assert_eq(plan(), 0, "still failed: not added again");
    add(mk(BM_EV_COMMAND, "c0", T0 - 1000, "a", "zero"));
    cr_assert_eq(plan(),
                 TRACE_INDEX_W_SET | TRACE_INDEX_W_FAILED | TRACE_INDEX_W_WORKERS |
                     TRACE_INDEX_W_MOVED,
                 "an earlier event came late: every set again, the new start replacing the old");
    cr_assert_eq(workers_from, 0);
}

Test(trace_index, plan_adds_every_worker_when_their_order_changed)
{
    add(mk(BM_EV_COMMAND, "c1", T0 + 10, "a", "one"));
    plan();
    add(mk(BM_EV_RESULT, "r1", T0 + 20, "a", "one"));
    cr_assert_eq(plan(), 0, "same workers");
    /* a worker before "a", same start (the same ms): "b" first now */
    add(mk(BM_EV_COMMAND, "c0", T0 + 5, "b", "zero"));
    cr_assert_eq(plan(), TRACE_INDEX_W_WORKERS);
    cr_assert_eq(workers_from, 0, "not the usual append: every worker");
    cr_assert_neq(trace_index_hash("a", 1), trace_index_hash("b", 1));
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
    json_t *j = trace_index_json(&s);
    cr_assert_not_null(j, "jansson takes it: valid UTF-8 (a cut character would make it NULL)");
    json_decref(j);
}

/* A listing's message as JSON: text that is not UTF-8 (a message built by
 * hand, or bytes the decoder did not see) never fails the answer: each byte
 * of a bad sequence is '?', the rest kept. */
Test(trace_index, text_json_is_json_for_any_bytes)
{
    json_t *ok = trace_index_text_json("caf\xc3\xa9");
    json_t *bad = trace_index_text_json("a\xff"
                                        "b\xc3(c\xe2\x82");
    cr_assert_not_null(ok);
    cr_assert_not_null(bad);
    cr_assert_str_eq(json_string_value(ok), "caf\xc3\xa9");
    cr_assert_str_eq(json_string_value(bad), "a?b?(c??");
    json_decref(ok);
    json_decref(bad);
}
