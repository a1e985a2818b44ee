/*
 * test_sampling.c - lib/sampling: the sampled-out marker read back (what
 * `busmon trace` and `busmon traces` check each trace's first record
 * against), and hostile first records refused before msgpack-c allocates
 * what their headers announce.
 */
#include "lib/sampling.h"

#include "event_fixture.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

Test(sampling, a_marker_reads_back)
{
    bm_sampling_marker m = {.rate = 0.25, .events = 7, .at_us = 1796008280960000LL}, back;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_sampling_marker_encode(&m, &sb), 0);
    cr_assert_eq(bm_sampling_marker_parse(sb.data, sb.size, &back), 1);
    cr_assert_float_eq(back.rate, 0.25, 1e-12);
    cr_assert_eq(back.events, 7);
    cr_assert_eq(back.at_us, m.at_us);
    /* the bytes Redis compares to find a marker at a stored trace's head */
    cr_assert_geq(sb.size, sizeof BM_SAMPLING_MARKER_PREFIX - 1);
    cr_assert_eq(memcmp(sb.data, BM_SAMPLING_MARKER_PREFIX, sizeof BM_SAMPLING_MARKER_PREFIX - 1),
                 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(sampling, hostile_first_records_are_not_markers)
{
    /* {"busmon_sampled_out": [2^32 - 1 elements]} and the same with a map:
     * 25 bytes claiming ~100 GB unpacked (an ASan build aborts on the
     * allocation if it is tried); a cut one; an event record */
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x81\xb2"
         "busmon_sampled_out\xdd\xff\xff\xff\xff",
         25},
        {"\x81\xb2"
         "busmon_sampled_out\xdf\xff\xff\xff\xff",
         25},
        {"\x81\xb2"
         "busmon_sampled_out",
         20},
        {"\x81\xa4type\xa7"
         "command",
         14},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bm_sampling_marker m;
        cr_assert_eq(bm_sampling_marker_parse(cases[i].bytes, cases[i].len, &m), 0, "case %zu", i);
    }
}

/* ---- the decision ----------------------------------------------------------- */

static bm_event ev_of(bm_event_type type, const char *id, int64_t ts_us)
{
    return fixture_event(type, "tx-sampling", id, ts_us, "w", "charge");
}

/* rate 0: whatever is not kept for a reason is dropped, so the reason shows */
static const bm_sampling_policy drop_the_rest = {.rate = 0.0, .slow_us = 0, .slow_p99 = 0};

static void add(trace *t, const bm_event *e)
{
    cr_assert_eq(trace_add(t, e, 512, NULL), TRACE_ADD_OK, "adding %s", e->id);
}

Test(sampling, a_step_retried_into_a_success_is_not_failed)
{
    /* the README: every failed transaction is kept; one whose failed step
     * was retried into a success completed (trace_get_status), so it is
     * one of "the rest" */
    trace *t = trace_new("tx-sampling");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event e1 = ev_of(BM_EV_ERROR, "e1", 2000);
    e1.cmd = "c1";
    e1.error_type = "NetworkError";
    bm_event c2 = ev_of(BM_EV_COMMAND, "c2", 3000);
    c2.attempt = 2;
    bm_event r2 = ev_of(BM_EV_RESULT, "r2", 4000);
    r2.cmd = "c2";
    r2.ok = 1;
    add(t, &c1);
    add(t, &e1);
    add(t, &c2);
    add(t, &r2);
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_SAMPLED_OUT);
    trace_free(t);
}

Test(sampling, a_failed_step_not_retried_is_failed)
{
    trace *t = trace_new("tx-sampling");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event r1 = ev_of(BM_EV_RESULT, "r1", 2000);
    r1.cmd = "c1";
    r1.ok = 0;
    r1.error_type = "ValueError";
    add(t, &c1);
    add(t, &r1);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_FAILED);
    trace_free(t);
}

Test(sampling, a_failed_step_keeps_its_reason_under_a_compensated_status)
{
    /* the step failed and was not retried: `failed` (sampling.h), even
     * though the status the trace shows is the compensation's */
    trace *t = trace_new("tx-sampling");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event e1 = ev_of(BM_EV_ERROR, "e1", 2000);
    e1.cmd = "c1";
    e1.error_type = "CardDeclined";
    bm_event s = ev_of(BM_EV_STATUS, "s1", 3000);
    s.status = "compensated";
    add(t, &c1);
    add(t, &e1);
    add(t, &s);
    cr_assert_eq(trace_get_status(t), TRACE_COMPENSATED);
    cr_assert(trace_step_failed(t));
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_FAILED);
    trace_free(t);
}

Test(sampling, outcome_and_status_words_read_as_the_trace_reads_them)
{
    /* lib/trace.h: a "timeout" error type in any case is a timeout, status
     * words are case-insensitive */
    trace *t = trace_new("tx-sampling");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event e1 = ev_of(BM_EV_ERROR, "e1", 2000);
    e1.cmd = "c1";
    e1.error_type = "Timeout";
    add(t, &c1);
    add(t, &e1);
    trace_event v;
    cr_assert_str_eq(trace_event_stage(trace_get(t, 1, &v)), "timed_out");
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_TIMEOUT);
    trace_free(t);

    t = trace_new("tx-sampling");
    bm_event s = ev_of(BM_EV_STATUS, "s1", 1000);
    s.status = "Compensated";
    add(t, &s);
    cr_assert_eq(trace_get_status(t), TRACE_COMPENSATED);
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_COMPENSATED);
    trace_free(t);
}

Test(sampling, a_cancelled_transaction_is_kept_as_failed)
{
    /* the README: every failed transaction is kept, and "failed" matches
     * compensated and cancelled "as everywhere" (trace_status_group, the
     * `busmon traces --status failed` filter); compensated has a reason
     * of its own, cancelled goes with failed */
    trace *t = trace_new("tx-sampling");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event s = ev_of(BM_EV_STATUS, "s1", 2000);
    s.status = "cancelled";
    add(t, &c1);
    add(t, &s);
    cr_assert_eq(trace_get_status(t), TRACE_CANCELLED);
    cr_assert_eq(bm_sampling_decide(&drop_the_rest, t, NULL, NULL), BM_SAMPLE_FAILED);
    trace_free(t);
}
