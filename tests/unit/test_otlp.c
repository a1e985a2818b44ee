/*
 * test_otlp.c - lib/otlp.c: trace ids, and the mapping of busmon's sketch
 * onto OTLP's ExponentialHistogram, with its error proved value by value:
 * every value counted in OTLP bucket k lies in (base^k / (1+a), base^(k+1) / (1-a)],
 * and the bucket's midpoint is within bm_otlp_exphist_error(scale) of it.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/otlp.h"

#include "event_fixture.h"

Test(otlp, trace_id_of_a_uuid_is_its_hex_and_others_are_stable)
{
    uint8_t a[16], b[16];
    char hex[33];
    bm_otlp_trace_id("6f9619ff-8b86-d011-b42d-00c04fc964ff", a);
    bm_otlp_hex(a, 16, hex);
    cr_assert_str_eq(hex, "6f9619ff8b86d011b42d00c04fc964ff");
    bm_otlp_trace_id("tx-1", a);
    bm_otlp_trace_id("tx-1", b);
    cr_assert(!memcmp(a, b, 16));
    bm_otlp_trace_id("tx-2", b);
    cr_assert(memcmp(a, b, 16));
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* values from lo to hi µs, log-uniform; checks every rank against its OTLP bucket */
static void check_mapping(int64_t lo, int64_t hi, uint32_t max_buckets, int32_t want_scale)
{
    enum { N = 20000 };
    int64_t *v = malloc(N * sizeof *v);
    bm_hist h;
    bm_hist_init(&h);
    srand(16);
    for (int i = 0; i < N; i++) {
        double u = (double)rand() / RAND_MAX;
        v[i] = (int64_t)llround(exp(log((double)lo) + u * (log((double)hi) - log((double)lo))));
        bm_hist_add(&h, v[i], 1);
    }
    qsort(v, N, sizeof *v, cmp_i64);
    bm_otlp_exphist e;
    cr_assert_eq(bm_otlp_exphist_from(&h, 1e6, max_buckets, &e), 0);
    cr_assert_eq(e.scale, want_scale, "scale %d, expected %d", e.scale, want_scale);
    cr_assert(e.n <= max_buckets);
    uint64_t total = 0;
    for (uint32_t k = 0; k < e.n; k++)
        total += e.counts[k];
    cr_assert_eq(total, (uint64_t)N);
    cr_assert_eq(e.count, (uint64_t)N);
    double base = pow(2.0, ldexp(1.0, -e.scale)), a = BM_HIST_RELATIVE_ERROR;
    double bound = bm_otlp_exphist_error(e.scale), worst = 0;
    /* the i-th smallest value sits, rank by rank, in the bucket holding rank i */
    uint32_t k = 0;
    uint64_t below = 0;
    for (int i = 0; i < N; i++) {
        while (below + e.counts[k] <= (uint64_t)i)
            below += e.counts[k++];
        int32_t idx = e.offset + (int32_t)k;
        double lower = pow(base, idx), upper = pow(base, idx + 1), x = (double)v[i] / 1e6;
        cr_assert(x > lower / (1 + a) * (1 - 1e-12) && x <= upper / (1 - a) * (1 + 1e-12),
                  "value %g s outside bucket %d (%g, %g] widened by 1 %%", x, idx, lower, upper);
        double mid = 2 * upper / (base + 1), err = fabs(mid - x) / x;
        if (err > worst) worst = err;
    }
    cr_assert(worst <= bound + 1e-12, "worst %g > bound %g at scale %d", worst, bound, e.scale);
    cr_log_info("scale %d: %u buckets, worst midpoint error %.3f %% (bound %.3f %%)", e.scale, e.n,
                worst * 100, bound * 100);
    bm_otlp_exphist_deinit(&e);
    bm_hist_deinit(&h);
    free(v);
}

Test(otlp, exphist_narrow_range_keeps_the_finest_scale)
{
    /* 10 ms .. 50 ms: log2(5) * 64 = 149 buckets at scale 6 */
    check_mapping(10000, 50000, 160, 6);
}

Test(otlp, exphist_wide_range_scales_down)
{
    /* 1 µs .. 1 h: 31.7 doublings; 160 buckets hold them at scale 2 */
    check_mapping(1, 3600LL * 1000000, 160, 2);
}

Test(otlp, exphist_error_bounds)
{
    cr_assert(fabs(bm_otlp_exphist_error(6) - 0.0155) < 0.001);
    cr_assert(bm_otlp_exphist_error(2) < 0.1);
}

Test(otlp, zero_durations_are_the_zero_count_not_a_positive_bucket)
{
    /* OTLP's data model: a value of exactly 0 is counted in zero_count;
     * positive buckets hold values above 0 only */
    bm_hist h;
    bm_hist_init(&h);
    bm_hist_add(&h, 1500, 1);
    bm_otlp_worker_point w = {.worker = "w", .successes = 3, .duration = &h, .zero_durations = 2};
    bm_otlp_buf b;
    bm_otlp_buf_init(&b);
    cr_assert_eq(bm_otlp_metrics_fragment(&w, 1, 1, 2, &b), 0);
    bm_otlp_buf_add(&b, "", 1);
    cr_assert(strstr(b.data, "\"count\":\"3\",\"sum\":0.0015,"), "%s", b.data);
    cr_assert(strstr(b.data, "\"zeroCount\":\"2\""), "%s", b.data);
    cr_assert(strstr(b.data, "\"bucketCounts\":[\"1\"]}"), "%s", b.data);
    cr_assert(strstr(b.data, "\"min\":0,\"max\":0.0015"), "%s", b.data);
    /* only zeros: a point with no positive bucket */
    bm_hist_reset(&h);
    bm_otlp_buf_reset(&b);
    w.zero_durations = 1;
    cr_assert_eq(bm_otlp_metrics_fragment(&w, 1, 1, 2, &b), 0);
    bm_otlp_buf_add(&b, "", 1);
    cr_assert(strstr(b.data, "\"count\":\"1\",\"sum\":0,"), "%s", b.data);
    cr_assert(strstr(b.data, "\"zeroCount\":\"1\",\"positive\":{\"offset\":0,\"bucketCounts\":[]}"),
              "%s", b.data);
    cr_assert(strstr(b.data, "\"min\":0,\"max\":0}"), "%s", b.data);
    bm_otlp_buf_deinit(&b);
    bm_hist_deinit(&h);
}

Test(otlp, exphist_index_boundaries)
{
    /* (base^k, base^(k+1)]: 1 is the top of bucket -1, 2 the top of bucket 2^s - 1 */
    cr_assert_eq(bm_otlp_exphist_index(1.0, 3), -1);
    cr_assert_eq(bm_otlp_exphist_index(2.0, 3), 7);
    cr_assert_eq(bm_otlp_exphist_index(2.0001, 3), 8);
}

/* ---- spans of a trace ----------------------------------------------------------- */

static bm_event ev_of(bm_event_type type, const char *id, int64_t ts_us)
{
    return fixture_event(type, "tx-otlp", id, ts_us, "payments", "charge");
}

/* The spans of t as one JSON text (caller frees). */
static char *spans_of(const trace *t, bm_otlp_span_count *c)
{
    bm_otlp_buf b;
    bm_otlp_buf_init(&b);
    cr_assert_eq(bm_otlp_trace_spans(t, NULL, &b, c), 0);
    char *s = strndup(b.data, b.len);
    bm_otlp_buf_deinit(&b);
    return s;
}

Test(otlp, a_compensations_answer_is_a_root_event)
{
    /* the README: span events for "answers that match no command"; an
     * answer to a compensation matches none (it pairs with the compensation,
     * which is a root event itself, not a span) */
    trace *t = trace_new("tx-otlp");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event e1 = ev_of(BM_EV_ERROR, "e1", 2000);
    e1.cmd = "c1";
    e1.error_type = "CardDeclined";
    bm_event k1 = ev_of(BM_EV_COMPENSATION, "k1", 3000);
    k1.step = "refund";
    bm_event kr = ev_of(BM_EV_RESULT, "kr1", 4000);
    kr.cmd = "k1";
    kr.ok = 0;
    kr.error_type = "RefundFailed";
    bm_event *all[] = {&c1, &e1, &k1, &kr};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(trace_add(t, all[i], 512, NULL), TRACE_ADD_OK);
    trace_event v;
    cr_assert(trace_get(t, 3, &v)->answers_compensation, "kr1 answers the compensation");
    bm_otlp_span_count c;
    char *json = spans_of(t, &c);
    cr_assert_eq(c.spans, 2, "the step and the root");
    cr_assert_not_null(strstr(json, "\"kr1\""), "the compensation's answer is exported: %s", json);
    cr_assert_not_null(strstr(json, "RefundFailed"), "with its failure: %s", json);
    cr_assert_eq(c.events, 3, "root: the compensation, its answer; the step: its exception");
    free(json);
    trace_free(t);
}

Test(otlp, outcome_and_status_words_read_as_the_trace_reads_them)
{
    /* lib/trace.h: a "timeout" error type in any case is a timeout (also on
     * a result that gave no ok), status words are case-insensitive */
    trace *t = trace_new("tx-otlp");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    bm_event r1 = ev_of(BM_EV_RESULT, "r1", 2000);
    r1.cmd = "c1";
    r1.error_type = "TIMEOUT";
    bm_event s = ev_of(BM_EV_STATUS, "s1", 3000);
    s.status = "Compensated";
    bm_event *all[] = {&c1, &r1, &s};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(trace_add(t, all[i], 512, NULL), TRACE_ADD_OK);
    trace_event v;
    cr_assert_str_eq(trace_event_stage(trace_get(t, 1, &v)), "timed_out");
    char *json = spans_of(t, NULL);
    cr_assert_not_null(strstr(json, "\"busmon.outcome\",\"value\":{\"stringValue\":\"timeout\"}"),
                       "the step timed out: %s", json);
    cr_assert_not_null(strstr(json, "\"name\":\"timeout\""), "its span event: %s", json);
    cr_assert_not_null(strstr(json, "\"busmon.compensated\",\"value\":{\"boolValue\":true}"),
                       "the transaction was compensated: %s", json);
    free(json);
    trace_free(t);
}

Test(otlp, a_compensated_or_cancelled_transaction_is_an_error_not_unset)
{
    /* the README: root status OK (completed), ERROR (failed), UNSET (still
     * running); compensated and cancelled are unsuccessful ends (the failed
     * group, trace_status_group), not "still running" */
    static const char *const words[] = {"compensated", "cancelled"};
    for (size_t w = 0; w < 2; w++) {
        trace *t = trace_new("tx-otlp");
        bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
        bm_event r1 = ev_of(BM_EV_RESULT, "r1", 2000);
        r1.cmd = "c1";
        r1.ok = 1;
        bm_event s = ev_of(BM_EV_STATUS, "s1", 3000);
        s.status = words[w];
        bm_event *all[] = {&c1, &r1, &s};
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(trace_add(t, all[i], 512, NULL), TRACE_ADD_OK);
        char *json = spans_of(t, NULL);
        const char *root = strstr(json, "\"name\":\"transaction\"");
        cr_assert_not_null(root);
        cr_assert_not_null(strstr(root, "\"code\":2}"), "%s: root status ERROR: %s", words[w],
                           root);
        free(json);
        trace_free(t);
    }
}

Test(otlp, the_roots_message_is_the_failure_that_made_the_transaction_fail)
{
    /* ship failed for good; charge failed later but was retried into a
     * success: the transaction failed because of ship, not of the last
     * failure in time */
    trace *t = trace_new("tx-otlp");
    bm_event c1 = ev_of(BM_EV_COMMAND, "c1", 1000);
    c1.step = "ship";
    bm_event e1 = ev_of(BM_EV_ERROR, "e1", 2000);
    e1.step = "ship", e1.cmd = "c1", e1.error_type = "ShipFailed";
    bm_event c2 = ev_of(BM_EV_COMMAND, "c2", 3000);
    bm_event e2 = ev_of(BM_EV_ERROR, "e2", 4000);
    e2.cmd = "c2", e2.error_type = "CardDeclined";
    bm_event c3 = ev_of(BM_EV_COMMAND, "c3", 5000);
    bm_event r3 = ev_of(BM_EV_RESULT, "r3", 6000);
    r3.cmd = "c3", r3.ok = 1;
    bm_event *all[] = {&c1, &e1, &c2, &e2, &c3, &r3};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(trace_add(t, all[i], 512, NULL), TRACE_ADD_OK);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
    cr_assert(trace_failure_stands(t, 1), "ship's failure stands");
    cr_assert_not(trace_failure_stands(t, 3), "charge's was retried into a success");
    char *json = spans_of(t, NULL);
    const char *root = strstr(json, "\"name\":\"transaction\"");
    cr_assert_not_null(root);
    const char *status = strstr(root, "\"status\":");
    cr_assert_not_null(status);
    cr_assert_not_null(strstr(status, "ShipFailed"), "the root's message: %s", status);
    cr_assert_null(strstr(status, "CardDeclined"), "not the retried failure: %s", status);
    free(json);
    trace_free(t);
}
