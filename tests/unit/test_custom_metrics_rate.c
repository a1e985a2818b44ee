/*
 * test_custom_metrics_rate.c - lib/custom_metrics: a series' rate_per_s
 * divides by the time the table watched, not only by the time since the
 * series' own first period. A new series, or one quiet for an hour that
 * gets one event, reads one event over (nearly) the whole window, not a
 * burst over its own second; with rollups taken meanwhile (the agent was
 * watching) the first event after a quiet start too. The time watched
 * survives a save, a load and a merge (the earlier kept); a save without it
 * loads and reads as before. A read a moment after a period began never
 * divides by a millisecond.
 *
 * Time is driven by hand from T0, a whole hour; nothing reads a clock.
 */
#include "lib/custom_metrics.h"
#include "lib/monitor.h"
#include "lib/state_codec.h"
#include "monitor_fixture.h"
#include "tests/bench/counter_event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define T0   (480000LL * HOUR)

TestSuite(custom_metrics_rate);

static void add(custom_metrics *cm, const char *name, bm_metric_kind kind, double v, int64_t at)
{
    bm_event ev = fixture_metric(name, v, kind, at);
    cr_assert_eq(custom_metrics_add(cm, &ev, at), CUSTOM_METRICS_ADDED);
}

static custom_metrics_stat one(const custom_metrics *cm, const char *name, int window, int64_t at)
{
    custom_metrics_filter f = {.name = name};
    custom_metrics_stat st;
    cr_assert_eq(custom_metrics_aggregate(cm, window, &f, at, &st), 1, "%s in window %d", name,
                 window);
    return st;
}

/* One observation (or an increment of 1) in each window, read at `at` after
 * the table watched for hours: about one over the whole window. */
static void assert_one_over_each_window(const custom_metrics *cm, const char *name, int64_t at)
{
    static const int64_t len_us[CUSTOM_METRICS_WINDOWS] = {MIN, 5 * MIN, HOUR};
    static const int64_t period_us[CUSTOM_METRICS_WINDOWS] = {10 * SEC, 30 * SEC, 5 * MIN};
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++) {
        custom_metrics_stat st = one(cm, name, w, at);
        cr_assert_eq(st.count, 1, "%s window %d", name, w);
        /* the live periods but the oldest, at least */
        cr_assert_geq(st.covered_us, len_us[w] - period_us[w], "%s window %d covers %lld us", name,
                      w, (long long)st.covered_us);
        cr_assert_leq(st.covered_us, len_us[w], "%s window %d", name, w);
        cr_assert_float_eq(st.rate_per_s, (double)SEC / (double)st.covered_us, 1e-12,
                           "%s window %d: %g/s for one event", name, w, st.rate_per_s);
    }
}

Test(custom_metrics_rate, one_event_after_a_quiet_hour_is_not_a_burst)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    for (int i = 0; i < 60; i++) /* one a minute for an hour */
        add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0 + i * MIN);
    int64_t t = T0 + 3 * HOUR; /* then two hours of quiet */
    add(cm, "orders", BM_METRIC_HISTOGRAM, 10, t + 1 * SEC);
    assert_one_over_each_window(cm, "orders", t + 2 * SEC);
    custom_metrics_free(cm);
}

Test(custom_metrics_rate, a_new_series_is_not_a_burst)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    for (int i = 0; i < 60; i++) /* another series kept the table watching */
        add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0 + i * MIN);
    int64_t t = T0 + 2 * HOUR;
    add(cm, "logins", BM_METRIC_COUNTER, 1, t + 1 * SEC);
    assert_one_over_each_window(cm, "logins", t + 2 * SEC);
    custom_metrics_free(cm);
}

Test(custom_metrics_rate, the_first_minute_still_divides_by_its_seconds)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    for (int i = 0; i < 20; i++)
        add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0 + 1 * SEC + i * SEC);
    for (int w = 0; w < 2; w++) { /* (1h floors at a tenth of its 5 min period) */
        custom_metrics_stat st = one(cm, "orders", w, T0 + 20 * SEC);
        cr_assert_eq(st.covered_us, 20 * SEC, "window %d", w);
        cr_assert_float_eq(st.rate_per_s, 1.0, 1e-12, "window %d", w);
    }
    custom_metrics_free(cm);
}

/* A read a millisecond into the first period: a tenth of the period, as
 * the workers' windows, never a millisecond (1000 a second for one event). */
Test(custom_metrics_rate, never_a_tiny_divisor)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0);
    custom_metrics_stat st = one(cm, "orders", 0, T0 + 1000);
    cr_assert_eq(st.covered_us, 1 * SEC);
    cr_assert_float_eq(st.rate_per_s, 1.0, 1e-12);
    custom_metrics_free(cm);
}

/* Quiet from the start, with rollups every 10 s: the first event is not a burst. */
Test(custom_metrics_rate, the_first_event_after_rollups_of_nothing_is_not_a_burst)
{
    bm_monitor mon;
    cr_assert_eq(fixture_quiet_monitor(&mon, T0, T0 + 2 * HOUR), 0);
    add(mon.metrics, "orders", BM_METRIC_HISTOGRAM, 10, T0 + 2 * HOUR + 1 * SEC);
    assert_one_over_each_window(mon.metrics, "orders", T0 + 2 * HOUR + 2 * SEC);
    bm_monitor_deinit(&mon);
}

static void save(const custom_metrics *cm, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    cr_assert_eq(custom_metrics_save(cm, &pk), 0);
}

static void load(custom_metrics *cm, const msgpack_sbuffer *sb)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    char err[200] = "";
    cr_assert_eq(custom_metrics_load(cm, &u.data, err, sizeof err), 0, "%s", err);
    msgpack_unpacked_destroy(&u);
}

Test(custom_metrics_rate, the_time_watched_survives_a_save_and_a_load)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    custom_metrics_watch(cm, T0);
    add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0 + 2 * HOUR + 1 * SEC);
    msgpack_sbuffer sb;
    save(cm, &sb);
    custom_metrics *back = custom_metrics_new(NULL);
    load(back, &sb);
    assert_one_over_each_window(back, "orders", T0 + 2 * HOUR + 2 * SEC);
    msgpack_sbuffer_destroy(&sb);
    custom_metrics_free(back);
    custom_metrics_free(cm);
}

/* A save made before the time watched was kept: it loads, and reads as
 * before (over the series' own covered time) until the table is told of
 * something again. */
Test(custom_metrics_rate, a_save_without_the_time_watched_loads)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    add(cm, "orders", BM_METRIC_HISTOGRAM, 10, T0 + 1 * SEC);
    msgpack_sbuffer sb;
    save(cm, &sb);
    /* the same map without "since": its key and value are the last two objects */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    msgpack_object_map *m = &u.data.via.map;
    int found = 0;
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type == MSGPACK_OBJECT_STR && m->ptr[i].key.via.str.size == 5 &&
            !memcmp(m->ptr[i].key.via.str.ptr, "since", 5)) {
            m->ptr[i] = m->ptr[m->size - 1];
            m->size--;
            found = 1;
            break;
        }
    cr_assert(found, "the save holds 'since'");
    custom_metrics *back = custom_metrics_new(NULL);
    char err[200] = "";
    cr_assert_eq(custom_metrics_load(back, &u.data, err, sizeof err), 0, "%s", err);
    custom_metrics_stat st = one(back, "orders", 0, T0 + 2 * SEC);
    cr_assert_eq(st.covered_us, 2 * SEC);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    custom_metrics_free(back);
    custom_metrics_free(cm);
}

Test(custom_metrics_rate, a_merge_keeps_the_earlier_time_watched)
{
    custom_metrics *a = custom_metrics_new(NULL), *b = custom_metrics_new(NULL),
                   *none = custom_metrics_new(NULL);
    custom_metrics_watch(b, T0);
    add(a, "orders", BM_METRIC_HISTOGRAM, 10, T0 + 2 * HOUR + 1 * SEC);
    cr_assert_eq(custom_metrics_merge(a, none), 0); /* unknown: changes nothing */
    cr_assert_eq(custom_metrics_merge(a, b), 0);
    assert_one_over_each_window(a, "orders", T0 + 2 * HOUR + 2 * SEC);
    custom_metrics_free(a);
    custom_metrics_free(b);
    custom_metrics_free(none);
}
