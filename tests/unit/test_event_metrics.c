/*
 * test_event_metrics.c - lib/event_metrics: per-type counts and shares,
 * success / error rates over answers, command -> answer latency (average
 * and p95, merged over results and errors), throughput and peak, labels,
 * windows rolling over, and the counts since start; saved and loaded, and
 * merged into the metrics of both streams of events (peak included), the
 * time watched with them.
 *
 * Time is driven by hand from T0, a whole hour; nothing reads a clock.
 */
#include "lib/event_metrics.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define T0   (480000LL * HOUR)

static event_metrics *em;
static bm_event_window win[BM_WINDOWS];

static void setup(void)
{
    em = event_metrics_new(0);
    cr_assert_not_null(em);
}

static void teardown(void)
{
    event_metrics_free(em);
}

TestSuite(event_metrics, .init = setup, .fini = teardown);

enum { T_COMMAND = 0, T_RESULT, T_ERROR, T_OTHER };

static void add_n(int n, bm_event_type type, int failed, int64_t latency_us, int64_t now_us)
{
    for (int i = 0; i < n; i++)
        event_metrics_add(em, type, failed, latency_us, now_us);
}

static void snap(int64_t now_us)
{
    memset(win, 0xAB, sizeof win); /* every field must be written */
    event_metrics_snapshot(em, now_us, win);
}

static void near(double got, double want, double rel, const char *what)
{
    cr_assert(fabs(got - want) <= rel * fabs(want) + 1e-9, "%s: got %f, want %f", what, got, want);
}

Test(event_metrics, counts_shares_and_rates_per_type)
{
    add_n(9, BM_EV_COMMAND, 0, -1, T0 + 1 * SEC);
    add_n(5, BM_EV_RESULT, 0, -1, T0 + 2 * SEC);
    add_n(1, BM_EV_RESULT, 1, -1, T0 + 2 * SEC);
    add_n(2, BM_EV_ERROR, 0, -1, T0 + 3 * SEC); /* an error is failed whatever `failed` says */
    add_n(1, BM_EV_STATUS, 0, -1, T0 + 4 * SEC);
    add_n(1, BM_EV_COMPENSATION, 0, -1, T0 + 4 * SEC);
    add_n(1, BM_EV_CUSTOM, 0, -1, T0 + 4 * SEC);
    snap(T0 + 5 * SEC);
    for (int w = 0; w < BM_WINDOWS; w++) {
        const bm_event_window *e = &win[w];
        cr_assert_eq(e->total_events, 20, "window %d", w);
        cr_assert_eq(e->by_type[T_COMMAND].count, 9);
        cr_assert_eq(e->by_type[T_COMMAND].success, 0);
        cr_assert_eq(e->by_type[T_COMMAND].error, 0);
        cr_assert_eq(e->by_type[T_RESULT].count, 6);
        cr_assert_eq(e->by_type[T_RESULT].success, 5);
        cr_assert_eq(e->by_type[T_RESULT].error, 1);
        cr_assert_eq(e->by_type[T_ERROR].count, 2);
        cr_assert_eq(e->by_type[T_ERROR].success, 0);
        cr_assert_eq(e->by_type[T_ERROR].error, 2);
        cr_assert_eq(e->by_type[T_OTHER].count, 3);
        near(e->by_type[T_COMMAND].share, 0.45, 1e-9, "command share");
        near(e->by_type[T_RESULT].share, 0.30, 1e-9, "result share");
        near(e->by_type[T_ERROR].share, 0.10, 1e-9, "error share");
        near(e->by_type[T_OTHER].share, 0.15, 1e-9, "other share");
        near(e->success_rate, 5.0 / 8, 1e-9, "success rate");
        near(e->error_rate, 3.0 / 8, 1e-9, "error rate");
        cr_assert_eq(e->avg_latency_us, 0.0, "no latency given");
        cr_assert_eq(e->p95_latency_us, 0.0);
    }
    cr_assert_eq(event_metrics_total(em, BM_EV_COMMAND), 9);
    cr_assert_eq(event_metrics_total(em, BM_EV_RESULT), 6);
    cr_assert_eq(event_metrics_total(em, BM_EV_ERROR), 2);
    cr_assert_eq(event_metrics_total(em, BM_EV_STATUS), 1);
    cr_assert_eq(event_metrics_total(em, BM_EV_COMPENSATION), 1);
    cr_assert_eq(event_metrics_total(em, BM_EV_CUSTOM), 1);
    cr_assert_eq(event_metrics_total(em, BM_EV__COUNT), 0);
}

Test(event_metrics, rates_zero_without_answers)
{
    add_n(4, BM_EV_COMMAND, 0, -1, T0);
    add_n(2, BM_EV_STATUS, 0, -1, T0);
    snap(T0);
    cr_assert_eq(win[0].total_events, 6);
    cr_assert_eq(win[0].success_rate, 0.0);
    cr_assert_eq(win[0].error_rate, 0.0);
}

Test(event_metrics, empty_windows)
{
    snap(T0);
    for (int w = 0; w < BM_WINDOWS; w++) {
        cr_assert_eq(win[w].total_events, 0);
        for (int t = 0; t < 4; t++) {
            cr_assert_eq(win[w].by_type[t].count, 0);
            cr_assert_eq(win[w].by_type[t].share, 0.0);
        }
        cr_assert_eq(win[w].success_rate, 0.0);
        cr_assert_eq(win[w].error_rate, 0.0);
        cr_assert_eq(win[w].avg_latency_us, 0.0);
        cr_assert_eq(win[w].p95_latency_us, 0.0);
        cr_assert_eq(win[w].throughput_per_min, 0.0);
        cr_assert_eq(win[w].peak_throughput_per_min, 0.0);
    }
}

Test(event_metrics, latency_avg_and_p95_over_results_and_errors)
{
    /* answers with latencies 1..100 ms: results 1..80, errors 81..100 */
    for (int i = 1; i <= 80; i++)
        event_metrics_add(em, BM_EV_RESULT, i % 2, i * 1000LL, T0);
    for (int i = 81; i <= 100; i++)
        event_metrics_add(em, BM_EV_ERROR, 1, i * 1000LL, T0);
    /* not latencies: unpaired answers, and durations given with other types */
    add_n(7, BM_EV_RESULT, 0, -1, T0);
    add_n(3, BM_EV_ERROR, 1, -1, T0);
    add_n(5, BM_EV_COMMAND, 0, 9000000, T0);
    add_n(5, BM_EV_STATUS, 0, 9000000, T0);
    snap(T0 + SEC);
    for (int w = 0; w < BM_WINDOWS; w++) {
        near(win[w].avg_latency_us, 50500.0, 0.01, "avg latency");
        near(win[w].p95_latency_us, 95000.0, 0.01, "p95 latency");
        cr_assert_eq(win[w].by_type[T_RESULT].count, 87);
        cr_assert_eq(win[w].by_type[T_ERROR].count, 23);
    }
}

Test(event_metrics, latency_zero_counts)
{
    event_metrics_add(em, BM_EV_RESULT, 0, 0, T0);
    event_metrics_add(em, BM_EV_RESULT, 0, 2000, T0);
    snap(T0);
    near(win[0].avg_latency_us, 1000.0, 0.01, "avg with a zero latency");
}

Test(event_metrics, latency_p95_skewed)
{
    /* 960 fast answers (2 ms) and 40 slow ones (400 ms): rank 950 is fast */
    add_n(960, BM_EV_RESULT, 0, 2000, T0);
    add_n(40, BM_EV_RESULT, 0, 400000, T0);
    snap(T0);
    near(win[0].p95_latency_us, 2000.0, 0.01, "p95");
    near(win[0].avg_latency_us, (960 * 2000.0 + 40 * 400000.0) / 1000, 0.01, "avg");
    /* 11 more slow ones (errors this time): 1011 answers, rank 961 is slow */
    add_n(11, BM_EV_ERROR, 1, 400000, T0);
    snap(T0);
    near(win[0].p95_latency_us, 400000.0, 0.01, "p95 after more slow answers");
}

Test(event_metrics, throughput_and_peak)
{
    add_n(12, BM_EV_COMMAND, 0, -1, T0 + 1 * SEC);      /* 10 s period [T0, T0+10s) */
    add_n(3, BM_EV_RESULT, 0, 1000, T0 + 12 * SEC);     /* [T0+10s, T0+20s) */
    add_n(3, BM_EV_STATUS, 0, -1, T0 + 15 * SEC);       /* same */
    add_n(2, BM_EV_ERROR, 1, 1000, T0 + 31 * SEC);      /* [T0+30s, T0+40s) */
    add_n(1, BM_EV_COMPENSATION, 0, -1, T0 + 39 * SEC); /* same */
    snap(T0 + 39 * SEC);

    /* 1m: 21 events over the 39 s it covers (not 60); busiest 10 s period 12 -> 72/min */
    cr_assert_eq(win[0].total_events, 21);
    cr_assert_eq(win[0].covered_us, 39 * SEC);
    near(win[0].throughput_per_min, 21.0 * 60 / 39, 1e-9, "1m throughput");
    near(win[0].peak_throughput_per_min, 72.0, 1e-9, "1m peak");
    /* 5m: 21 over 5 min; busiest 30 s period [T0, T0+30s) holds 18 -> 36/min */
    near(win[1].throughput_per_min, 21.0 * 60 / 39, 1e-9, "5m throughput: the same 39 s");
    near(win[1].peak_throughput_per_min, 36.0, 1e-9, "5m peak");
    /* perf: 21 over 60 min; its busiest 5 min period holds 21 (4.2/min), but
     * that period is 39 s old: the peak is never below the average beside it */
    near(win[2].throughput_per_min, 21.0 * 60 / 39, 1e-9, "perf throughput: the same 39 s");
    near(win[2].peak_throughput_per_min, 21.0 * 60 / 39, 1e-9, "perf peak: the average");

    /* the peak is of all types together: 6 in [T0+10s, T0+20s) is not 3 + 3 apart */
    snap(T0 + 65 * SEC); /* 1m = [T0+10s, T0+70s) */
    cr_assert_eq(win[0].total_events, 9);
    near(win[0].peak_throughput_per_min, 36.0, 1e-9, "1m peak, mixed types");
}

Test(event_metrics, windows_roll_over)
{
    add_n(4, BM_EV_COMMAND, 0, -1, T0);
    snap(T0 + 59 * SEC);
    cr_assert_eq(win[0].total_events, 4);
    snap(T0 + 60 * SEC);
    cr_assert_eq(win[0].total_events, 0);
    cr_assert_eq(win[0].throughput_per_min, 0.0);
    cr_assert_eq(win[0].peak_throughput_per_min, 0.0);
    cr_assert_eq(win[1].total_events, 4);
    cr_assert_eq(win[2].total_events, 4);

    add_n(2, BM_EV_RESULT, 0, 5000, T0 + 60 * SEC);
    snap(T0 + 60 * SEC);
    cr_assert_eq(win[0].total_events, 2);
    near(win[0].avg_latency_us, 5000.0, 0.01, "1m latency");
    cr_assert_eq(win[1].total_events, 6);

    /* 5m at T0+5min is [T0+30s, T0+5m30s): the commands left, the results stay */
    snap(T0 + 5 * MIN);
    cr_assert_eq(win[0].total_events, 0);
    cr_assert_eq(win[0].avg_latency_us, 0.0, "no answer in the last minute");
    cr_assert_eq(win[1].total_events, 2);
    cr_assert_eq(win[1].by_type[T_COMMAND].count, 0);
    near(win[1].by_type[T_RESULT].share, 1.0, 1e-9, "result share");
    cr_assert_eq(win[2].total_events, 6);

    /* perf (12 x 5 min) at T0+60min is [T0+5min, T0+65min): all gone */
    snap(T0 + 60 * MIN);
    cr_assert_eq(win[2].total_events, 0);
    cr_assert_eq(win[2].avg_latency_us, 0.0);

    /* since start, nothing rolls out */
    cr_assert_eq(event_metrics_total(em, BM_EV_COMMAND), 4);
    cr_assert_eq(event_metrics_total(em, BM_EV_RESULT), 2);

    /* a reused period starts from zero */
    add_n(1, BM_EV_ERROR, 1, 7000, T0 + 120 * MIN);
    snap(T0 + 120 * MIN);
    for (int w = 0; w < BM_WINDOWS; w++) {
        cr_assert_eq(win[w].total_events, 1, "window %d", w);
        near(win[w].error_rate, 1.0, 1e-9, "error rate");
        near(win[w].avg_latency_us, 7000.0, 0.01, "latency");
    }
}

Test(event_metrics, labels_and_lengths)
{
    snap(T0);
    cr_assert_str_eq(win[0].label, "1m");
    cr_assert_str_eq(win[1].label, "5m");
    cr_assert_str_eq(win[2].label, "1h");
    cr_assert_eq(win[0].window_us, MIN);
    cr_assert_eq(win[1].window_us, 5 * MIN);
    cr_assert_eq(win[2].window_us, HOUR);

    struct {
        int64_t perf_us;
        const char *label;
    } cases[] = {{30 * MIN, "30m"}, {2 * HOUR, "2h"}, {90 * SEC, "90s"}, {90 * MIN, "90m"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event_metrics *m = event_metrics_new(cases[i].perf_us);
        cr_assert_not_null(m);
        event_metrics_add(m, BM_EV_COMMAND, 0, -1, T0);
        event_metrics_snapshot(m, T0, win);
        cr_assert_str_eq(win[2].label, cases[i].label);
        cr_assert_eq(win[2].window_us, cases[i].perf_us);
        /* one event, no time covered yet: over a tenth of a period, not the window */
        cr_assert_gt(win[2].covered_us, 0);
        cr_assert_leq(win[2].covered_us, cases[i].perf_us);
        near(win[2].throughput_per_min, 1.0 / ((double)win[2].covered_us / MIN), 1e-9,
             "perf throughput");
        event_metrics_free(m);
    }
}

Test(event_metrics, perf_window_of_30_minutes_rolls_in_150_s_periods)
{
    event_metrics *m = event_metrics_new(30 * MIN);
    cr_assert_not_null(m);
    event_metrics_add(m, BM_EV_COMMAND, 0, -1, T0);
    event_metrics_add(m, BM_EV_COMMAND, 0, -1, T0 + 150 * SEC);
    event_metrics_snapshot(m, T0 + 30 * MIN - 1, win);
    cr_assert_eq(win[2].total_events, 2);
    near(win[2].peak_throughput_per_min, 1.0 / 2.5, 1e-9, "peak per 150 s period");
    event_metrics_snapshot(m, T0 + 30 * MIN, win);
    cr_assert_eq(win[2].total_events, 1);
    event_metrics_free(m);
}

Test(event_metrics, null_is_harmless)
{
    event_metrics_free(NULL);
    event_metrics_add(NULL, BM_EV_COMMAND, 0, -1, T0);
    cr_assert_eq(event_metrics_total(NULL, BM_EV_COMMAND), 0);
    event_metrics_snapshot(NULL, T0, win);
    cr_assert_eq(win[0].total_events, 0);
}

Test(event_metrics, lifetime_totals_by_status)
{
    add_n(3, BM_EV_RESULT, 0, 1000, 1000000);
    add_n(2, BM_EV_RESULT, 1, 1000, 1000000);
    add_n(4, BM_EV_ERROR, 1, -1, 1000000);
    add_n(1, BM_EV_COMMAND, 0, -1, 1000000);
    cr_assert_eq(event_metrics_total(em, BM_EV_RESULT), 5);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV_RESULT), 2);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV_ERROR), 4);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV_COMMAND), 0);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV__COUNT), 0);
}

/* The framework's timeout answers (and busmon's own, error events) are
 * timeouts: counted apart from failures, and among the window's errors. A
 * late answer is in the totals only. */
Test(event_metrics, timeouts_and_late_answers)
{
    add_n(3, BM_EV_RESULT, BM_OUTCOME_SUCCESS, 1000, T0 + SEC);
    add_n(2, BM_EV_RESULT, BM_OUTCOME_FAILURE, 1000, T0 + SEC);
    add_n(4, BM_EV_RESULT, BM_OUTCOME_TIMEOUT, 1000000, T0 + SEC);
    add_n(5, BM_EV_ERROR, BM_OUTCOME_TIMEOUT, 1000000, T0 + SEC);
    add_n(1, BM_EV_ERROR, BM_OUTCOME_FAILURE, -1, T0 + SEC);
    add_n(6, BM_EV_RESULT, EVENT_METRICS_LATE, -1, T0 + SEC);
    add_n(1, BM_EV_ERROR, EVENT_METRICS_LATE, -1, T0 + SEC);
    cr_assert_eq(event_metrics_total(em, BM_EV_RESULT), 15);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV_RESULT), 2);
    cr_assert_eq(event_metrics_total_timeouts(em, BM_EV_RESULT), 4);
    cr_assert_eq(event_metrics_total_late(em, BM_EV_RESULT), 6);
    cr_assert_eq(event_metrics_total(em, BM_EV_ERROR), 7);
    cr_assert_eq(event_metrics_total_failed(em, BM_EV_ERROR), 1);
    cr_assert_eq(event_metrics_total_timeouts(em, BM_EV_ERROR), 5);
    cr_assert_eq(event_metrics_total_late(em, BM_EV_ERROR), 1);
    cr_assert_eq(event_metrics_total_timeouts(em, BM_EV__COUNT), 0);
    snap(T0 + SEC);
    cr_assert_eq(win[0].by_type[T_RESULT].count, 9, "late answers are no executions");
    cr_assert_eq(win[0].by_type[T_RESULT].success, 3);
    cr_assert_eq(win[0].by_type[T_RESULT].error, 6);
    cr_assert_eq(win[0].by_type[T_RESULT].timeouts, 4);
    cr_assert_eq(win[0].by_type[T_ERROR].count, 6);
    cr_assert_eq(win[0].by_type[T_ERROR].error, 6);
    cr_assert_eq(win[0].by_type[T_ERROR].timeouts, 5);
    cr_assert_eq(win[0].by_type[T_COMMAND].timeouts, 0);
    cr_assert_eq(win[0].total_events, 15);
    near(win[0].error_rate, 12.0 / 15.0, 1e-12, "error rate counts timeouts");
}

/* ---- save / load / merge ------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const event_metrics *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(event_metrics_save(x, &pk), 0);
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

static void same(const event_metrics *a, const event_metrics *b, int64_t now_us)
{
    bm_event_window x[BM_WINDOWS], y[BM_WINDOWS];
    event_metrics_snapshot(a, now_us, x);
    event_metrics_snapshot(b, now_us, y);
    /* every field is written from the same arithmetic: equal to the bit */
    cr_assert_eq(memcmp(x, y, sizeof x), 0, "windows at T0 + %lld s",
                 (long long)((now_us - T0) / SEC));
    for (int t = 0; t < BM_EV__COUNT; t++) {
        cr_assert_eq(event_metrics_total(a, t), event_metrics_total(b, t));
        cr_assert_eq(event_metrics_total_failed(a, t), event_metrics_total_failed(b, t));
        cr_assert_eq(event_metrics_total_timeouts(a, t), event_metrics_total_timeouts(b, t));
        cr_assert_eq(event_metrics_total_late(a, t), event_metrics_total_late(b, t));
    }
}

/* Event i of a mixed stream, at T0 + i * 1.3 s, into m. */
static void event_i(event_metrics *m, int i)
{
    static const bm_event_type types[] = {BM_EV_COMMAND, BM_EV_RESULT, BM_EV_COMMAND,
                                          BM_EV_ERROR,   BM_EV_STATUS, BM_EV_CUSTOM};
    bm_event_type t = types[i % 6];
    int answer = t == BM_EV_RESULT || t == BM_EV_ERROR;
    int outcome = t == BM_EV_ERROR || (t == BM_EV_RESULT && i % 4 == 1);
    if (answer && i % 5 == 2) outcome = BM_OUTCOME_TIMEOUT;
    if (answer && i % 17 == 3) outcome = EVENT_METRICS_LATE;
    event_metrics_add(m, t, outcome, answer ? 1000 + (i * 7919) % 900000 : -1, T0 + i * 1300000LL);
}

Test(event_metrics, save_load_round_trip)
{
    for (int i = 0; i < 3000; i++)
        event_i(em, i);
    event_metrics *back = event_metrics_new(0);
    char err[256] = "";
    cr_assert_eq(event_metrics_load(back, save(em), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    for (int64_t t = T0 + 3900 * SEC; t < T0 + 2 * HOUR; t += 7 * MIN + 3)
        same(em, back, t);
    event_metrics_free(back);

    event_metrics *other = event_metrics_new(30 * MIN);
    cr_assert_eq(event_metrics_load(other, save(em), err, sizeof err), BM_LOAD_MISMATCH);
    saved_done();
    cr_assert(strstr(err, "events: windows: command[2]: window of 12 x"), "%s", err);
    cr_assert_eq(event_metrics_total(other, BM_EV_COMMAND), 0);
    event_metrics_free(other);
}

/* A checkpoint written before timeouts and late answers were apart has
 * [total, failed] per type: it loads, with no timeouts and no late. */
Test(event_metrics, loads_totals_of_two)
{
    for (int i = 0; i < 300; i++)
        event_i(em, i);
    cr_assert_gt(event_metrics_total_timeouts(em, BM_EV_RESULT), 0);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    cr_assert_eq(event_metrics_save(em, &pk), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, buf.data, buf.size, &off), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *tot = bm_sc_get(&u.data, "totals");
    cr_assert_not_null(tot);
    for (uint32_t k = 0; k < tot->via.map.size; k++) {
        msgpack_object *v = &tot->via.map.ptr[k].val;
        cr_assert_eq(v->via.array.size, 4);
        v->via.array.size = 2; /* as the older writer wrote them */
    }
    event_metrics *back = event_metrics_new(0);
    char err[256] = "";
    cr_assert_eq(event_metrics_load(back, &u.data, err, sizeof err), BM_LOAD_OK, "%s", err);
    for (int t = 0; t < BM_EV__COUNT; t++) {
        cr_assert_eq(event_metrics_total(back, t), event_metrics_total(em, t));
        cr_assert_eq(event_metrics_total_failed(back, t), event_metrics_total_failed(em, t));
        cr_assert_eq(event_metrics_total_timeouts(back, t), 0);
        cr_assert_eq(event_metrics_total_late(back, t), 0);
    }
    event_metrics_free(back);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

Test(event_metrics, merge_equals_the_metrics_of_both_streams)
{
    event_metrics *a = event_metrics_new(0), *b = event_metrics_new(0);
    for (int i = 0; i < 3000; i++) {
        event_i(em, i);
        event_i(i % 3 ? a : b, i);
    }
    cr_assert_eq(event_metrics_merge(a, b), 0);
    for (int64_t t = T0 + 3900 * SEC; t < T0 + 2 * HOUR; t += 5 * MIN + 1)
        same(em, a, t);
    snap(T0 + 3900 * SEC);
    cr_assert_gt(win[0].peak_throughput_per_min, 0);
    cr_assert_eq(event_metrics_merge(a, a), -1);
    event_metrics_free(a);
    event_metrics_free(b);
}

/* One event at `at` - 1 s, read at `at`, after the metrics watched for
 * hours: 1 a minute over the last minute, not 30 (test_event_metrics_throughput.c). */
static void one_a_minute(const event_metrics *m, int64_t at)
{
    bm_event_window w[BM_WINDOWS];
    event_metrics_snapshot(m, at, w);
    cr_assert_eq(w[0].total_events, 1);
    cr_assert_geq(w[0].covered_us, 50 * SEC, "1m covers %lld us", (long long)w[0].covered_us);
    cr_assert_leq(w[0].throughput_per_min, 1.2, "1m: %.1f a minute", w[0].throughput_per_min);
}

Test(event_metrics, the_time_watched_survives_a_reload_and_a_merge)
{
    add_n(1, BM_EV_COMMAND, 0, -1, T0);
    event_metrics *back = event_metrics_new(0);
    char err[256] = "";
    cr_assert_eq(event_metrics_load(back, save(em), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    /* merged into metrics that began later: the earlier time is kept */
    event_metrics *merged = event_metrics_new(0);
    event_metrics_add(merged, BM_EV_COMMAND, 0, -1, T0 + 2 * HOUR + 1 * SEC);
    cr_assert_eq(event_metrics_merge(merged, back), 0);
    event_metrics_add(back, BM_EV_COMMAND, 0, -1, T0 + 2 * HOUR + 1 * SEC);
    one_a_minute(back, T0 + 2 * HOUR + 2 * SEC);
    one_a_minute(merged, T0 + 2 * HOUR + 2 * SEC);
    event_metrics_free(merged);
    event_metrics_free(back);
}

/* A save made before the time watched was kept loads, and reads as before
 * (over the data's own seconds) until it is fed: watched from then on. */
Test(event_metrics, a_save_without_the_time_watched_loads)
{
    add_n(1, BM_EV_COMMAND, 0, -1, T0);
    save(em);
    msgpack_object *o = &saved_obj.data;
    uint32_t n = o->via.map.size;
    for (uint32_t k = 0; k < n; k++)
        if (bm_sc_str_is(&o->via.map.ptr[k].key, "since")) {
            o->via.map.ptr[k] = o->via.map.ptr[n - 1];
            o->via.map.size = n - 1;
            break;
        }
    cr_assert_eq(o->via.map.size, 2, "the save keeps the time watched");
    event_metrics *back = event_metrics_new(0);
    char err[256] = "";
    cr_assert_eq(event_metrics_load(back, o, err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    bm_event_window w[BM_WINDOWS];
    event_metrics_snapshot(back, T0 + 30 * SEC, w);
    cr_assert_eq(w[0].total_events, 1);
    cr_assert_eq(w[0].covered_us, 30 * SEC);
    event_metrics_add(back, BM_EV_COMMAND, 0, -1, T0 + 2 * HOUR);
    event_metrics_add(back, BM_EV_COMMAND, 0, -1, T0 + 3 * HOUR + 1 * SEC);
    one_a_minute(back, T0 + 3 * HOUR + 2 * SEC);
    event_metrics_free(back);
}
