/*
 * test_baseline.c - lib/baseline: the EWMA mean and variance (a plain mean
 * and variance for the first samples), readiness by samples and by time,
 * hour-of-week slots used once they hold enough samples (the global figure
 * before), outliers not learned once ready, freeze pins and stops learning,
 * clear forgets, the bound (refuse, evict idle), the deviation in both
 * modes with its floors, the issue text, and a save / load roundtrip
 * (slots included; a save of another slot count keeps its global figures).
 *
 * Time is driven by hand.
 */
#include "lib/baseline.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
/* 2023-11-13 00:00:00 UTC, a Monday */
#define MONDAY (1699833600LL * SEC)

static baseline_config cfg;

static void setup(void)
{
    baseline_config_defaults(&cfg);
}

TestSuite(baseline, .init = setup);

static void sample(baselines *b, const char *key, double p95_ms, double err, int64_t t)
{
    double v[BASELINE__SERIES] = {p95_ms * 500.0, p95_ms * 1000.0, err, 60.0};
    cr_assert_eq(baselines_observe(b, key, v, t), 0);
}

Test(baseline, ewma_starts_as_plain_mean_and_variance)
{
    cfg.slots = BASELINE_SLOTS_NONE;
    cfg.alpha = 0.01; /* 1/n > alpha for the first 100: a plain running mean */
    baselines *b = baselines_new(&cfg);
    double xs[] = {40, 50, 60};
    for (int i = 0; i < 3; i++)
        sample(b, "w", xs[i], 0, MONDAY + i * 30 * SEC);
    baseline_view v;
    cr_assert_eq(baselines_get(b, "w", MONDAY + 2 * MIN, &v), 0);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 50000.0, 1e-6);
    /* population variance of 40, 50, 60 ms: 66.7 ms^2, in µs^2 */
    cr_assert_float_eq(v.fig[BASELINE_P95].stddev, sqrt(200.0 / 3.0) * 1000.0, 1e-3);
    cr_assert_eq(v.fig[BASELINE_P95].n, 3);
    cr_assert_eq(v.samples, 3);
    cr_assert_eq(v.slot, -1);
    baselines_free(b);
}

Test(baseline, ewma_weights_recent_samples)
{
    cfg.slots = BASELINE_SLOTS_NONE;
    cfg.alpha = 0.5;
    cfg.outlier_factor = 0;
    baselines *b = baselines_new(&cfg);
    sample(b, "w", 10, 0, MONDAY);
    sample(b, "w", 30, 0, MONDAY + SEC);      /* a = 1/2: mean 20 */
    sample(b, "w", 100, 0, MONDAY + 2 * SEC); /* a = 1/2: mean 60 */
    baseline_view v;
    baselines_get(b, "w", MONDAY, &v);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 60000.0, 1e-6);
    baselines_free(b);
}

Test(baseline, ready_after_samples_and_time)
{
    cfg.min_samples = 5;
    cfg.min_learning_us = 10 * MIN;
    baselines *b = baselines_new(&cfg);
    baseline_view v;
    cr_assert_eq(baselines_get(b, "w", MONDAY, &v), -1, "unknown key");
    for (int i = 0; i < 5; i++)
        sample(b, "w", 50, 0, MONDAY + i * SEC);
    baselines_get(b, "w", MONDAY + 5 * SEC, &v);
    cr_assert_not(v.ready, "enough samples, not enough time");
    baselines_get(b, "w", MONDAY + 10 * MIN, &v);
    cr_assert(v.ready);
    /* enough time, too few samples */
    sample(b, "x", 50, 0, MONDAY);
    baselines_get(b, "x", MONDAY + HOUR, &v);
    cr_assert_not(v.ready);
    baselines_free(b);
}

Test(baseline, nan_values_are_not_learned)
{
    baselines *b = baselines_new(&cfg);
    double v1[BASELINE__SERIES] = {NAN, NAN, 0.0, 0.0};
    baselines_observe(b, "w", v1, MONDAY);
    baseline_view v;
    baselines_get(b, "w", MONDAY, &v);
    cr_assert_eq(v.fig[BASELINE_P95].n, 0);
    cr_assert_eq(v.fig[BASELINE_ERROR_RATE].n, 1);
    cr_assert(isnan(baseline_deviation(&v.fig[BASELINE_P95], BASELINE_P95, 1000, 0)));
    baselines_free(b);
}

Test(baseline, hour_of_week_slot_used_once_thick)
{
    cfg.slot_min_samples = 3;
    cfg.min_samples = 1;
    cfg.min_learning_us = 0;
    cfg.outlier_factor = 0;
    baselines *b = baselines_new(&cfg);
    /* Mondays 09:00 are slow (200 ms), the rest of the week 50 ms */
    for (int i = 0; i < 20; i++)
        sample(b, "w", 50, 0, MONDAY + 2 * 24 * HOUR + i * MIN); /* Wednesday 00:xx */
    for (int i = 0; i < 2; i++)
        sample(b, "w", 200, 0, MONDAY + 9 * HOUR + i * MIN);
    baseline_view v;
    baselines_get(b, "w", MONDAY + 9 * HOUR + 30 * MIN, &v);
    cr_assert_eq(v.slot, 9);
    cr_assert_not(v.fig[BASELINE_P95].from_slot, "2 samples: the slot is still thin");
    sample(b, "w", 200, 0, MONDAY + 9 * HOUR + 2 * MIN);
    baselines_get(b, "w", MONDAY + 9 * HOUR + 30 * MIN, &v);
    cr_assert(v.fig[BASELINE_P95].from_slot);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 200000.0, 1e-6);
    /* a week later, same hour: the same slot */
    baselines_get(b, "w", MONDAY + 7 * 24 * HOUR + 9 * HOUR, &v);
    cr_assert_eq(v.slot, 9);
    cr_assert(v.fig[BASELINE_P95].from_slot);
    /* Tuesday 09:00: another slot, empty: the global figure */
    baselines_get(b, "w", MONDAY + 24 * HOUR + 9 * HOUR, &v);
    cr_assert_eq(v.slot, 33);
    cr_assert_not(v.fig[BASELINE_P95].from_slot);
    cr_assert_lt(v.fig[BASELINE_P95].mean, 200000.0);
    baselines_free(b);
}

Test(baseline, hour_of_day_slots)
{
    cfg.slots = BASELINE_SLOTS_HOUR_OF_DAY;
    baselines *b = baselines_new(&cfg);
    sample(b, "w", 50, 0, MONDAY + 2 * 24 * HOUR + 13 * HOUR);
    baseline_view v;
    baselines_get(b, "w", MONDAY + 13 * HOUR, &v);
    cr_assert_eq(v.slot, 13);
    baselines_free(b);
}

Test(baseline, outliers_not_learned_once_ready)
{
    cfg.min_samples = 3;
    cfg.min_learning_us = 0;
    cfg.slots = BASELINE_SLOTS_NONE;
    baselines *b = baselines_new(&cfg);
    for (int i = 0; i < 3; i++)
        sample(b, "w", 50, 0, MONDAY + i * SEC);
    sample(b, "w", 400, 0, MONDAY + 10 * SEC);
    baseline_view v;
    baselines_get(b, "w", MONDAY + 10 * SEC, &v);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 50000.0, 1e-6);
    cr_assert_eq(v.outliers, 1);
    cr_assert_eq(v.fig[BASELINE_THROUGHPUT].n, 4, "throughput learns every sample");
    baselines_free(b);
}

Test(baseline, freeze_pins_and_clear_forgets)
{
    cfg.slots = BASELINE_SLOTS_NONE;
    cfg.outlier_factor = 0;
    cfg.min_samples = 100;
    baselines *b = baselines_new(&cfg);
    cr_assert_eq(baselines_freeze(b, "w", MONDAY), -1);
    sample(b, "w", 50, 0, MONDAY);
    cr_assert_eq(baselines_freeze(b, "w", MONDAY + SEC), 0);
    sample(b, "w", 500, 0.5, MONDAY + 2 * SEC);
    baseline_view v;
    baselines_get(b, "w", MONDAY + 3 * SEC, &v);
    cr_assert(v.frozen);
    cr_assert(v.ready, "a frozen baseline is used");
    cr_assert_eq(v.frozen_us, MONDAY + SEC);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 50000.0, 1e-6);
    cr_assert_eq(v.samples, 1);
    cr_assert_eq(baselines_clear(b, "w"), 0);
    cr_assert_eq(baselines_get(b, "w", MONDAY, &v), -1);
    cr_assert_eq(baselines_clear(b, "w"), -1);
    sample(b, "w", 500, 0, MONDAY + 4 * SEC);
    baselines_get(b, "w", MONDAY + 4 * SEC, &v);
    cr_assert_not(v.frozen);
    cr_assert_float_eq(v.fig[BASELINE_P95].mean, 500000.0, 1e-6);
    baselines_free(b);
}

Test(baseline, bounded_refuse_then_evict_idle)
{
    cfg.max_keys = 2;
    cfg.max_idle_us = HOUR;
    baselines *b = baselines_new(&cfg);
    sample(b, "b", 50, 0, MONDAY);
    sample(b, "a", 50, 0, MONDAY + MIN);
    double v[BASELINE__SERIES] = {1, 1, 0, 1};
    cr_assert_eq(baselines_observe(b, "c", v, MONDAY + 2 * MIN), -1);
    cr_assert_eq(baselines_refused(b), 1);
    cr_assert_eq(baselines_observe(b, "c", v, MONDAY + HOUR), 0, "b idle an hour: evicted");
    cr_assert_eq(baselines_evicted(b), 1);
    cr_assert_str_eq(baselines_key_at(b, 0), "a");
    cr_assert_str_eq(baselines_key_at(b, 1), "c");
    cr_assert_null(baselines_key_at(b, 2));
    baselines_free(b);
}

Test(baseline, deviation_modes_and_floors)
{
    baseline_figure f = {50000.0, 2000.0, 10, 0, 0};
    cr_assert_float_eq(baseline_deviation(&f, BASELINE_P95, 410000.0, BASELINE_MODE_RATIO), 8.2,
                       1e-9);
    /* stddev 2 ms is under 10 % of the mean: 5 ms is used */
    cr_assert_float_eq(baseline_deviation(&f, BASELINE_P95, 410000.0, BASELINE_MODE_STDDEV), 72.0,
                       1e-9);
    baseline_figure zero = {0.0, 0.0, 10, 0, 0};
    cr_assert_float_eq(baseline_deviation(&zero, BASELINE_ERROR_RATE, 0.05, BASELINE_MODE_RATIO),
                       5.0, 1e-9, "1 %% floor");
    char text[160];
    baseline_describe(&f, BASELINE_P95, 410000.0, BASELINE_MODE_RATIO, text, sizeof text);
    cr_assert_str_eq(text, "p95 410 ms is 8.2 \xc3\x97 its baseline 50 ms");
    baseline_figure er = {0.05, 0.01, 10, 0, 0};
    baseline_describe(&er, BASELINE_ERROR_RATE, 0.34, BASELINE_MODE_RATIO, text, sizeof text);
    cr_assert_str_eq(text, "error rate 34 % is 6.8 \xc3\x97 its baseline 5.0 %");
    baseline_describe(&f, BASELINE_P95, 410000.0, BASELINE_MODE_STDDEV, text, sizeof text);
    cr_assert_str_eq(text, "p95 410 ms is 72.0 \xcf\x83 above its baseline 50 ms \xc2\xb1 2.0 ms");
}

Test(baseline, names)
{
    cr_assert_eq(baseline_slots_parse("hour_of_week"), BASELINE_SLOTS_HOUR_OF_WEEK);
    cr_assert_eq(baseline_slots_parse("weekly"), -1);
    cr_assert_eq(baseline_mode_parse("stddev"), BASELINE_MODE_STDDEV);
    cr_assert_str_eq(baseline_series_name(BASELINE_ERROR_RATE), "error_rate");
}

/* b saved into buf and unpacked into u (both destroyed by the caller). */
static void save_unpack(baselines *b, msgpack_sbuffer *buf, msgpack_unpacked *u)
{
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    cr_assert_eq(baselines_save(b, &pk), 0);
    msgpack_unpacked_init(u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(u, buf->data, buf->size, &off), MSGPACK_UNPACK_SUCCESS);
}

static void roundtrip(baselines *from, baselines *to, int expect_rc)
{
    msgpack_sbuffer buf;
    msgpack_unpacked u;
    save_unpack(from, &buf, &u);
    char err[256] = "";
    cr_assert_eq(baselines_load(to, &u.data, err, sizeof err), expect_rc, "%s", err);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

Test(baseline, save_load_roundtrip)
{
    cfg.slot_min_samples = 1;
    cfg.outlier_factor = 0;
    baselines *b = baselines_new(&cfg);
    for (int i = 0; i < 30; i++)
        sample(b, "w", 40 + i % 3 * 10, 0.01 * (i % 2), MONDAY + i * MIN);
    sample(b, "frozen", 70, 0, MONDAY);
    baselines_freeze(b, "frozen", MONDAY + MIN);
    baselines_set_ctl_seq(b, 42);
    baselines *c = baselines_new(&cfg);
    sample(c, "other", 1, 0, MONDAY);
    roundtrip(b, c, 0);
    cr_assert_eq(baselines_count(c), 2);
    cr_assert_eq(baselines_ctl_seq(c), 42);
    for (int s = 0; s < 2; s++) {
        const char *key = s ? "frozen" : "w";
        baseline_view x, y;
        baselines_get(b, key, MONDAY + 10 * MIN, &x);
        baselines_get(c, key, MONDAY + 10 * MIN, &y);
        cr_assert_eq(memcmp(&x, &y, sizeof x), 0, "%s", key);
    }
    /* another slot count: the global figures only */
    baseline_config other = cfg;
    other.slots = BASELINE_SLOTS_HOUR_OF_DAY;
    baselines *d = baselines_new(&other);
    roundtrip(b, d, 0);
    baseline_view x, y;
    baselines_get(b, "w", MONDAY + 200 * HOUR, &x);
    baselines_get(d, "w", MONDAY + 200 * HOUR, &y);
    cr_assert_float_eq(x.fig[BASELINE_P95].mean, y.fig[BASELINE_P95].mean, 1e-9);
    baselines_free(b);
    baselines_free(c);
    baselines_free(d);
}

Test(baseline, load_refuses_a_corrupt_save)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    bm_sc_key_u64(&pk, "slots", 168);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_next(&u, buf.data, buf.size, &off);
    baselines *b = baselines_new(&cfg);
    sample(b, "w", 50, 0, MONDAY);
    char err[256] = "";
    cr_assert_eq(baselines_load(b, &u.data, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert_eq(baselines_count(b), 1, "unchanged");
    baselines_free(b);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

Test(baseline, health_hook_degrades_at_k_times_a_ready_baseline)
{
    cfg.min_samples = 2;
    cfg.min_learning_us = 0;
    baselines *b = baselines_new(&cfg);
    baseline_health h = {b, 5.0, 5};
    bm_window_stats w;
    memset(&w, 0, sizeof w);
    w.executions = 10;
    w.max_us = 500000;
    w.p95_us = 410000;
    char text[160] = "";
    cr_assert_eq(baselines_health_hook("w", &w, MONDAY, text, sizeof text, &h), BM_HEALTH_UNKNOWN,
                 "no baseline");
    sample(b, "w", 50, 0, MONDAY);
    cr_assert_eq(baselines_health_hook("w", &w, MONDAY, text, sizeof text, &h), BM_HEALTH_UNKNOWN,
                 "not ready");
    sample(b, "w", 50, 0, MONDAY + SEC);
    cr_assert_eq(baselines_health_hook("w", &w, MONDAY, text, sizeof text, &h), BM_HEALTH_DEGRADED);
    cr_assert_str_eq(text, "p95 410 ms is 8.2 \xc3\x97 its baseline 50 ms");
    w.p95_us = 200000; /* 4 x: under the ratio */
    cr_assert_eq(baselines_health_hook("w", &w, MONDAY, text, sizeof text, &h), BM_HEALTH_UNKNOWN);
    w.executions = 4; /* too few to judge */
    w.p95_us = 410000;
    cr_assert_eq(baselines_health_hook("w", &w, MONDAY, text, sizeof text, &h), BM_HEALTH_UNKNOWN);
    baselines_free(b);
}

Test(baseline, from_save_takes_the_saved_configuration)
{
    cfg.slots = BASELINE_SLOTS_HOUR_OF_DAY;
    cfg.min_samples = 2;
    cfg.min_learning_us = HOUR;
    baselines *b = baselines_new(&cfg);
    sample(b, "w", 50, 0, MONDAY);
    sample(b, "w", 50, 0, MONDAY + MIN);
    msgpack_sbuffer buf;
    msgpack_unpacked u;
    save_unpack(b, &buf, &u);
    char err[128];
    baselines *c = baselines_from_save(&u.data, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(baselines_config(c)->slots, BASELINE_SLOTS_HOUR_OF_DAY);
    baseline_view v;
    baselines_get(c, "w", MONDAY + 30 * MIN, &v);
    cr_assert_not(v.ready, "the saved min_learning: an hour");
    baselines_get(c, "w", MONDAY + HOUR, &v);
    cr_assert(v.ready);
    baselines_free(b);
    baselines_free(c);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

Test(baseline, control_requests_round_trip)
{
    char v[64];
    baseline_request_format(BASELINE_REQUEST_CLEAR, 12, MONDAY, v, sizeof v);
    cr_assert_str_eq(v, "clear 12 1699833600000000");
    baseline_request_op op;
    uint64_t seq;
    int64_t at;
    cr_assert_eq(baseline_request_parse(v, &op, &seq, &at), 0);
    cr_assert_eq(op, BASELINE_REQUEST_CLEAR);
    cr_assert_eq(seq, 12);
    cr_assert_eq(at, MONDAY);
    cr_assert_eq(baseline_request_parse("thaw 1 2", &op, &seq, &at), -1);
    cr_assert_eq(baseline_request_parse("freeze x", &op, &seq, &at), -1);
}

Test(baseline, only_slots_with_samples_are_saved)
{
    baselines *b = baselines_new(&cfg);
    sample(b, "w", 50, 0, MONDAY + 9 * HOUR); /* one slot, four series */
    msgpack_sbuffer buf;
    msgpack_unpacked u;
    save_unpack(b, &buf, &u);
    const msgpack_object *keys = bm_sc_get(&u.data, "keys");
    const msgpack_object *slots = bm_sc_get(&keys->via.array.ptr[0], "slots");
    cr_assert_eq(slots->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq(slots->via.bin.size, 4 * 22, "4 records of 22 bytes");
    /* records out of order are refused */
    char *p = (char *)slots->via.bin.ptr;
    char first[22];
    memcpy(first, p, 22);
    memcpy(p, p + 22, 22);
    memcpy(p + 22, first, 22);
    char err[160] = "";
    cr_assert_eq(baselines_load(b, &u.data, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "out of order"), "%s", err);
    baselines_free(b);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

/* A business metric's baseline ("metric:NAME") is in the metric's own unit:
 * its p50 and p95 are not µs, so the latency floor (1 ms = 1000 µs) does not
 * apply; an order value of 480 against a baseline of 60 is 8 x, not 0.48 x. */
Test(baseline, a_metric_baseline_is_in_its_own_unit)
{
    cfg.min_samples = 3;
    cfg.min_learning_us = 0;
    cfg.slots = BASELINE_SLOTS_NONE;
    baselines *b = baselines_new(&cfg);
    double v[BASELINE__SERIES] = {50.0, 60.0, NAN, 120.0};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(baselines_observe(b, "metric:order_value", v, MONDAY + i * MIN), 0);
    double high[BASELINE__SERIES] = {400.0, 480.0, NAN, 120.0};
    cr_assert_eq(baselines_observe(b, "metric:order_value", high, MONDAY + 5 * MIN), 0);
    baseline_view bv;
    cr_assert_eq(baselines_get(b, "metric:order_value", MONDAY + 5 * MIN, &bv), 0);
    cr_assert_eq(bv.outliers, 1, "480 is above 3 x 60: not learned");
    const baseline_figure *f = &bv.fig[BASELINE_P95];
    cr_assert_float_eq(f->mean, 60.0, 1e-9);
    cr_assert_float_eq(baseline_deviation(f, BASELINE_P95, 480.0, BASELINE_MODE_RATIO), 8.0, 1e-9);
    /* stddev 0: 10 % of the mean, 6 */
    cr_assert_float_eq(baseline_deviation(f, BASELINE_P95, 480.0, BASELINE_MODE_STDDEV), 70.0,
                       1e-9);
    char text[160];
    baseline_describe(f, BASELINE_P95, 480.0, BASELINE_MODE_RATIO, text, sizeof text);
    cr_assert_str_eq(text, "p95 480 is 8.0 \xc3\x97 its baseline 60");
    /* a baseline of 0 or below gives no ratio (rather than an infinite one) */
    baseline_figure zero = *f;
    zero.mean = 0;
    cr_assert(isnan(baseline_deviation(&zero, BASELINE_P95, 5.0, BASELINE_MODE_RATIO)));
    cr_assert(isnan(baseline_deviation(&zero, BASELINE_P95, 5.0, BASELINE_MODE_STDDEV)));
    baselines_free(b);
}
