/*
 * test_rollup.c - proto/rollup: health and trend names, the rollup and
 * worker JSON (every key, its order and its value; nulls for times that
 * never happened; windows keyed by label), the msgpack twin compared with
 * the JSON tree node by node, the empty rollup, text escaping and UTF-8
 * repair, non-finite numbers, and the refusals.
 *
 * The fixture is a hand-made rollup at T0 = 2026-11-22T10:00:00.123456Z with
 * two workers (one busy, one never seen doing anything) and two error
 * patterns (one increasing, one decreasing).
 */
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define SEC    1000000LL
#define MIN    (60 * SEC)
#define T0     1795341600123456LL /* 2026-11-22T10:00:00.123456Z */
#define T0_ISO "2026-11-22T10:00:00.123Z"

static bm_worker_snapshot workers[2];
static bm_error_pattern patterns[2];
static bm_rollup roll;
static json_t *j;

static void fill_window(bm_window_stats *w, const char *label, int64_t window_us, uint64_t scale)
{
    snprintf(w->label, sizeof w->label, "%s", label);
    w->window_us = window_us;
    w->covered_us = window_us / 2;
    w->executions = 10 * scale;
    w->successes = 8 * scale;
    w->failures = 2 * scale;
    w->timeouts = scale;
    w->success_rate = 0.8;
    w->error_rate = 0.2;
    w->min_us = 1500;
    w->max_us = 250000;
    w->avg_us = 12500.0;
    w->p50_us = 10000.0;
    w->p95_us = 200000.0;
    w->p99_us = 245000.0;
    w->throughput_per_min = 2.5 * (double)scale;
}

static void fill_events(bm_event_window *e, const char *label, int64_t window_us, uint64_t n)
{
    snprintf(e->label, sizeof e->label, "%s", label);
    e->window_us = window_us;
    e->covered_us = window_us / 2;
    e->total_events = n;
    e->success_rate = 0.75;
    e->error_rate = 0.25;
    e->avg_latency_us = 3250.0;
    e->p95_latency_us = 9000.0;
    e->throughput_per_min = 42.5;
    e->peak_throughput_per_min = 120.0;
    for (unsigned t = 0; t < 4; t++) {
        e->by_type[t].count = n / 4 + t;
        e->by_type[t].success = t == 1 ? 3 : 0;
        e->by_type[t].error = t == 2 ? 1 : 0;
        e->by_type[t].timeouts = t == 2 ? 1 : 0;
        e->by_type[t].share = 0.25;
    }
}

static void setup(void)
{
    memset(workers, 0, sizeof workers);
    memset(patterns, 0, sizeof patterns);
    memset(&roll, 0, sizeof roll);
    j = NULL;

    bm_worker_snapshot *w = &workers[0];
    snprintf(w->name, sizeof w->name, "research");
    w->health = BM_HEALTH_DEGRADED;
    w->health_since_us = T0 - 5 * MIN;
    w->n_issues = 2;
    snprintf(w->issues[0], BM_ISSUE_LEN, "error rate 20 %% over 5m > 10 %%");
    snprintf(w->issues[1], BM_ISSUE_LEN, "slow: p95 200 ms");
    w->in_flight = 3;
    w->last_seen_us = T0 - SEC;
    w->last_execution_us = T0 - 2 * SEC;
    w->last_error_us = T0 - 30 * SEC;
    snprintf(w->last_error, sizeof w->last_error, "NetworkError: Connection timeout");
    fill_window(&w->win[0], "1m", MIN, 1);
    fill_window(&w->win[1], "5m", 5 * MIN, 5);
    fill_window(&w->win[2], "1h", 60 * MIN, 60);

    w = &workers[1]; /* known by name only: every time is "never" */
    snprintf(w->name, sizeof w->name, "idle");
    w->health = BM_HEALTH_UNKNOWN;
    snprintf(w->win[0].label, sizeof w->win[0].label, "1m");
    snprintf(w->win[1].label, sizeof w->win[1].label, "5m");
    snprintf(w->win[2].label, sizeof w->win[2].label, "1h");
    w->win[0].window_us = MIN;
    w->win[1].window_us = 5 * MIN;
    w->win[2].window_us = 60 * MIN;

    bm_error_pattern *p = &patterns[0];
    snprintf(p->type, sizeof p->type, "NetworkError");
    p->count[0] = 2;
    p->count[1] = 7;
    p->count[2] = 30;
    p->total = 41;
    p->first_seen_us = T0 - 90 * MIN;
    p->last_seen_us = T0 - 30 * SEC;
    snprintf(p->example, sizeof p->example, "Connection timeout");
    p->n_workers = 2;
    snprintf(p->workers[0], BM_NAME_MAX, "research");
    snprintf(p->workers[1], BM_NAME_MAX, "fetcher");
    p->workers_more = 4;
    p->trend = BM_TREND_INCREASING;

    p = &patterns[1];
    snprintf(p->type, sizeof p->type, "ValueError");
    p->count[2] = 1;
    p->total = 1;
    p->first_seen_us = T0 - 50 * MIN;
    p->last_seen_us = T0 - 50 * MIN;
    snprintf(p->example, sizeof p->example, "bad input");
    p->n_workers = 1;
    snprintf(p->workers[0], BM_NAME_MAX, "analysis");
    p->trend = BM_TREND_DECREASING;

    roll.ts_us = T0;
    roll.agent = "busmon-1";
    roll.interval_us = 10 * SEC;
    fill_events(&roll.events[0], "1m", MIN, 100);
    fill_events(&roll.events[1], "5m", 5 * MIN, 400);
    fill_events(&roll.events[2], "1h", 60 * MIN, 4000);
    roll.workers = workers;
    roll.n_workers = 2;
    roll.patterns = patterns;
    roll.n_patterns = 2;
    roll.total_commands = 600;
    roll.avg_success_rate = 0.9;
    roll.avg_duration_us = 12500.0;
    roll.workers_refused = 1;
    roll.patterns_refused = 2;
}

static void teardown(void)
{
    json_decref(j);
}

TestSuite(rollup, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------- */

static json_t *get(const json_t *o, const char *key)
{
    cr_assert(json_is_object(o), "not an object when looking up %s", key);
    json_t *v = json_object_get(o, key);
    cr_assert_not_null(v, "no key %s", key);
    return v;
}

/* The object's keys are exactly `keys` (NULL-terminated), in that order. */
static void keys_are(const json_t *o, const char *const *keys)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)o, k, v)
    {
        cr_assert_not_null(keys[i], "unexpected extra key %s", k);
        cr_assert_str_eq(k, keys[i], "key %zu", i);
        i++;
    }
    cr_assert_null(keys[i], "missing key %s", keys[i]);
}

static void int_is(const json_t *o, const char *key, json_int_t want)
{
    json_t *v = get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    cr_assert_eq(json_integer_value(v), want, "%s = %lld, want %lld", key,
                 (long long)json_integer_value(v), (long long)want);
}

static void real_is(const json_t *o, const char *key, double want)
{
    json_t *v = get(o, key);
    cr_assert(json_is_real(v), "%s is not a real", key);
    cr_assert_float_eq(json_real_value(v), want, 1e-9, "%s = %g, want %g", key, json_real_value(v),
                       want);
}

static void str_is(const json_t *o, const char *key, const char *want)
{
    json_t *v = get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    cr_assert_str_eq(json_string_value(v), want, "%s", key);
}

static void null_is(const json_t *o, const char *key)
{
    cr_assert(json_is_null(get(o, key)), "%s is not null", key);
}

static json_t *build(void)
{
    j = bm_rollup_to_json(&roll);
    cr_assert_not_null(j);
    return j;
}

static const char *const worker_keys[] = {
    "name",           "health",     "health_since",  "issues",  "in_flight", "last_seen",
    "last_execution", "last_error", "last_error_at", "windows", NULL};
static const char *const worker_window_keys[] = {"window_s",   "covered_s", "executions",
                                                 "successes",  "failures",
                                                 "timeouts",   "success_rate",
                                                 "error_rate", "min_ms",
                                                 "max_ms",     "avg_ms",
                                                 "p50_ms",     "p95_ms",
                                                 "p99_ms",     "throughput_per_min",
                                                 NULL};
static const char *const labels[] = {"1m", "5m", "1h", NULL};

/* ---- names ------------------------------------------------------------- */

Test(rollup, health_names_round_trip)
{
    static const char *const names[] = {"unknown", "healthy", "degraded", "failed", "inactive"};
    for (int h = 0; h < BM_HEALTH__COUNT; h++) {
        cr_assert_str_eq(bm_health_name((bm_health)h), names[h]);
        cr_assert_eq(bm_health_parse(names[h]), h, "%s", names[h]);
        cr_assert_eq(bm_health_parse(bm_health_name((bm_health)h)), h);
    }
    cr_assert_eq(bm_health_parse("Healthy"), BM_HEALTH_HEALTHY, "case-insensitive");
    cr_assert_eq(bm_health_parse("sick"), -1);
    cr_assert_eq(bm_health_parse(""), -1);
    cr_assert_eq(bm_health_parse("healthy "), -1);
    cr_assert_eq(bm_health_parse(NULL), -1);
    cr_assert_str_eq(bm_health_name(BM_HEALTH__COUNT), "unknown");
    cr_assert_str_eq(bm_health_name((bm_health)-1), "unknown");
}

Test(rollup, trend_names)
{
    cr_assert_str_eq(bm_trend_name(BM_TREND_STABLE), "stable");
    cr_assert_str_eq(bm_trend_name(BM_TREND_INCREASING), "increasing");
    cr_assert_str_eq(bm_trend_name(BM_TREND_DECREASING), "decreasing");
    cr_assert_str_eq(bm_trend_name((bm_trend)7), "stable");
}

/* ---- the JSON tree ----------------------------------------------------- */

Test(rollup, top_level_and_summary)
{
    build();
    static const char *const top[] = {"v",      "kind",       "ts",          "ts_us",
                                      "agent",  "interval_s", "perf_window", "summary",
                                      "events", "workers",    "errors",      NULL};
    keys_are(j, top);
    str_is(j, "perf_window", "1h");
    int_is(j, "v", 1);
    str_is(j, "kind", "rollup");
    str_is(j, "ts", T0_ISO);
    int_is(j, "ts_us", T0);
    str_is(j, "agent", "busmon-1");
    real_is(j, "interval_s", 10.0);

    json_t *s = get(j, "summary");
    static const char *const sk[] = {"total_workers",
                                     "total_commands",
                                     "avg_success_rate",
                                     "avg_duration_ms",
                                     "workers_refused",
                                     "patterns_refused",
                                     NULL};
    keys_are(s, sk);
    int_is(s, "total_workers", 2);
    int_is(s, "total_commands", 600);
    real_is(s, "avg_success_rate", 0.9);
    real_is(s, "avg_duration_ms", 12.5);
    int_is(s, "workers_refused", 1);
    int_is(s, "patterns_refused", 2);

    cr_assert_eq(json_array_size(get(j, "workers")), 2);
    cr_assert_eq(json_array_size(get(j, "errors")), 2);
}

Test(rollup, events_keyed_by_label)
{
    build();
    json_t *ev = get(j, "events");
    keys_are(ev, labels);
    static const char *const ek[] = {"window_s",
                                     "covered_s",
                                     "total_events",
                                     "success_rate",
                                     "error_rate",
                                     "avg_latency_ms",
                                     "p95_latency_ms",
                                     "throughput_per_min",
                                     "peak_throughput_per_min",
                                     "by_type",
                                     NULL};
    static const char *const types[] = {"command", "result", "error", "other", NULL};
    static const char *const tk[] = {"count", "share", "success", "error", "timeouts", NULL};
    const double window_s[] = {60, 300, 3600};
    const json_int_t totals[] = {100, 400, 4000};
    for (int i = 0; i < 3; i++) {
        json_t *w = get(ev, labels[i]);
        keys_are(w, ek);
        real_is(w, "window_s", window_s[i]);
        real_is(w, "covered_s", window_s[i] / 2);
        int_is(w, "total_events", totals[i]);
        real_is(w, "success_rate", 0.75);
        real_is(w, "error_rate", 0.25);
        real_is(w, "avg_latency_ms", 3.25);
        real_is(w, "p95_latency_ms", 9.0);
        real_is(w, "throughput_per_min", 42.5);
        real_is(w, "peak_throughput_per_min", 120.0);
        json_t *bt = get(w, "by_type");
        keys_are(bt, types);
        for (int t = 0; t < 4; t++) {
            json_t *o = get(bt, types[t]);
            keys_are(o, tk);
            int_is(o, "count", totals[i] / 4 + t);
            real_is(o, "share", 0.25);
            int_is(o, "success", t == 1 ? 3 : 0);
            int_is(o, "error", t == 2 ? 1 : 0);
            int_is(o, "timeouts", t == 2 ? 1 : 0);
        }
    }
}

Test(rollup, busy_worker_every_key)
{
    build();
    json_t *w = json_array_get(get(j, "workers"), 0);
    keys_are(w, worker_keys);
    str_is(w, "name", "research");
    str_is(w, "health", "degraded");
    str_is(w, "health_since", "2026-11-22T09:55:00.123Z");
    json_t *issues = get(w, "issues");
    cr_assert_eq(json_array_size(issues), 2);
    cr_assert_str_eq(json_string_value(json_array_get(issues, 0)),
                     "error rate 20 % over 5m > 10 %");
    cr_assert_str_eq(json_string_value(json_array_get(issues, 1)), "slow: p95 200 ms");
    int_is(w, "in_flight", 3);
    str_is(w, "last_seen", "2026-11-22T09:59:59.123Z");
    str_is(w, "last_execution", "2026-11-22T09:59:58.123Z");
    str_is(w, "last_error", "NetworkError: Connection timeout");
    str_is(w, "last_error_at", "2026-11-22T09:59:30.123Z");

    json_t *wins = get(w, "windows");
    keys_are(wins, labels);
    const double window_s[] = {60, 300, 3600};
    const json_int_t scale[] = {1, 5, 60};
    for (int i = 0; i < 3; i++) {
        json_t *x = get(wins, labels[i]);
        keys_are(x, worker_window_keys);
        real_is(x, "window_s", window_s[i]);
        int_is(x, "executions", 10 * scale[i]);
        int_is(x, "successes", 8 * scale[i]);
        int_is(x, "failures", 2 * scale[i]);
        int_is(x, "timeouts", scale[i]);
        real_is(x, "success_rate", 0.8);
        real_is(x, "error_rate", 0.2);
        real_is(x, "min_ms", 1.5);
        real_is(x, "max_ms", 250.0);
        real_is(x, "avg_ms", 12.5);
        real_is(x, "p50_ms", 10.0);
        real_is(x, "p95_ms", 200.0);
        real_is(x, "p99_ms", 245.0);
        real_is(x, "throughput_per_min", 2.5 * (double)scale[i]);
    }
}

Test(rollup, never_seen_worker_has_nulls)
{
    build();
    json_t *w = json_array_get(get(j, "workers"), 1);
    keys_are(w, worker_keys);
    str_is(w, "name", "idle");
    str_is(w, "health", "unknown");
    null_is(w, "health_since");
    cr_assert(json_is_array(get(w, "issues")));
    cr_assert_eq(json_array_size(get(w, "issues")), 0);
    int_is(w, "in_flight", 0);
    null_is(w, "last_seen");
    null_is(w, "last_execution");
    str_is(w, "last_error", "");
    null_is(w, "last_error_at");
    json_t *x = get(get(w, "windows"), "5m");
    int_is(x, "executions", 0);
    real_is(x, "success_rate", 0.0);
    real_is(x, "min_ms", 0.0);
    real_is(x, "p99_ms", 0.0);
}

Test(rollup, worker_to_json_is_the_array_element)
{
    build();
    for (size_t i = 0; i < 2; i++) {
        json_t *alone = bm_worker_to_json(&workers[i]);
        cr_assert_not_null(alone);
        cr_assert(json_equal(alone, json_array_get(get(j, "workers"), i)), "worker %zu", i);
        json_decref(alone);
    }
    cr_assert_null(bm_worker_to_json(NULL));
}

Test(rollup, error_patterns_every_key)
{
    build();
    static const char *const pk[] = {"type",      "count",   "total",   "first_seen",
                                     "last_seen", "example", "workers", "workers_more",
                                     "trend",     NULL};
    json_t *errors = get(j, "errors");

    json_t *p = json_array_get(errors, 0);
    keys_are(p, pk);
    str_is(p, "type", "NetworkError");
    json_t *c = get(p, "count");
    keys_are(c, labels);
    int_is(c, "1m", 2);
    int_is(c, "5m", 7);
    int_is(c, "1h", 30);
    int_is(p, "total", 41);
    str_is(p, "first_seen", "2026-11-22T08:30:00.123Z");
    str_is(p, "last_seen", "2026-11-22T09:59:30.123Z");
    str_is(p, "example", "Connection timeout");
    json_t *ws = get(p, "workers");
    cr_assert_eq(json_array_size(ws), 2);
    cr_assert_str_eq(json_string_value(json_array_get(ws, 0)), "research");
    cr_assert_str_eq(json_string_value(json_array_get(ws, 1)), "fetcher");
    int_is(p, "workers_more", 4);
    str_is(p, "trend", "increasing");

    p = json_array_get(errors, 1);
    keys_are(p, pk);
    str_is(p, "type", "ValueError");
    c = get(p, "count");
    int_is(c, "1m", 0);
    int_is(c, "5m", 0);
    int_is(c, "1h", 1);
    str_is(p, "first_seen", "2026-11-22T09:10:00.123Z");
    cr_assert_eq(json_array_size(get(p, "workers")), 1);
    int_is(p, "workers_more", 0);
    str_is(p, "trend", "decreasing");

    patterns[1].trend = BM_TREND_STABLE;
    json_decref(j);
    build();
    str_is(json_array_get(get(j, "errors"), 1), "trend", "stable");
}

Test(rollup, empty_rollup_has_empty_arrays)
{
    bm_rollup empty;
    memset(&empty, 0, sizeof empty);
    j = bm_rollup_to_json(&empty);
    cr_assert_not_null(j);
    null_is(j, "ts");
    int_is(j, "ts_us", 0);
    str_is(j, "agent", "");
    real_is(j, "interval_s", 0.0);
    int_is(get(j, "summary"), "total_workers", 0);
    json_t *ws = get(j, "workers"), *es = get(j, "errors");
    cr_assert(json_is_array(ws) && json_array_size(ws) == 0);
    cr_assert(json_is_array(es) && json_array_size(es) == 0);
    keys_are(get(j, "events"), labels); /* empty labels take their slot's default */

    char *text = json_dumps(j, JSON_COMPACT);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "\"workers\":[],\"errors\":[]}"), "%s", text);
    free(text);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_rollup_encode_msgpack(&empty, &sb), 0);
    cr_assert_gt(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- times, numbers, labels -------------------------------------------- */

Test(rollup, times_truncate_to_ms_and_unwritable_is_null)
{
    workers[0].last_seen_us = T0 + 999; /* .123456 + 999 µs = .124455: still .124 */
    workers[0].last_execution_us = -5;
    workers[0].last_error_us = 253402300800000000LL; /* year 10000 */
    workers[0].health_since_us = 1;                  /* 1970-01-01T00:00:00.000001Z */
    build();
    json_t *w = json_array_get(get(j, "workers"), 0);
    str_is(w, "last_seen", "2026-11-22T10:00:00.124Z");
    null_is(w, "last_execution");
    null_is(w, "last_error_at");
    str_is(w, "health_since", "1970-01-01T00:00:00.000Z");
}

Test(rollup, non_finite_numbers_are_zero)
{
    roll.avg_success_rate = NAN;
    roll.avg_duration_us = INFINITY;
    roll.events[0].p95_latency_us = -INFINITY;
    workers[0].win[1].p99_us = NAN;
    build();
    real_is(get(j, "summary"), "avg_success_rate", 0.0);
    real_is(get(j, "summary"), "avg_duration_ms", 0.0);
    real_is(get(get(j, "events"), "1m"), "p95_latency_ms", 0.0);
    json_t *w = json_array_get(get(j, "workers"), 0);
    real_is(get(get(w, "windows"), "5m"), "p99_ms", 0.0);
    char *text = json_dumps(j, JSON_COMPACT);
    cr_assert_not_null(text);
    json_t *back = json_loads(text, 0, NULL);
    cr_assert_not_null(back, "dump is valid JSON");
    json_decref(back);
    free(text);
}

Test(rollup, huge_counters_clamp_to_int64_max)
{
    roll.total_commands = UINT64_MAX;
    workers[0].win[0].executions = (uint64_t)INT64_MAX + 1;
    build();
    int_is(get(j, "summary"), "total_commands", INT64_MAX);
    json_t *w = json_array_get(get(j, "workers"), 0);
    int_is(get(get(w, "windows"), "1m"), "executions", INT64_MAX);
}

Test(rollup, configured_labels_and_repeats)
{
    /* a performance window of 30 minutes, and one configured to 5m (whose
     * label is window [1]'s: it is keyed "perf", neither skipped nor
     * overwriting the 5 minutes) */
    snprintf(roll.events[2].label, sizeof roll.events[2].label, "30m");
    snprintf(workers[0].win[2].label, sizeof workers[0].win[2].label, "5m");
    workers[0].win[2].executions = 999;
    build();
    str_is(j, "perf_window", "30m");
    static const char *const ev_labels[] = {"1m", "5m", "30m", NULL};
    keys_are(get(j, "events"), ev_labels);
    keys_are(get(json_array_get(get(j, "errors"), 0), "count"), ev_labels);
    int_is(get(json_array_get(get(j, "errors"), 0), "count"), "30m", 30);
    static const char *const perf[] = {"1m", "5m", "perf", NULL};
    json_t *wins = get(json_array_get(get(j, "workers"), 0), "windows");
    keys_are(wins, perf);
    int_is(get(wins, "5m"), "executions", 50);
    int_is(get(wins, "perf"), "executions", 999);
    cr_assert_eq(bm_rollup_pick_window(wins, "1h"), get(wins, "perf"), "1h is the perf window");
}

Test(rollup, perf_window_of_a_fixed_length_has_its_own_key)
{
    /* performance_window_minutes 1: every per-window object holds three
     * windows, the third under "perf", which "perf_window" names */
    snprintf(roll.events[2].label, sizeof roll.events[2].label, "1m");
    for (int i = 0; i < 2; i++)
        snprintf(workers[i].win[2].label, sizeof workers[i].win[2].label, "1m");
    build();
    str_is(j, "perf_window", "perf");
    static const char *const keys[] = {"1m", "5m", "perf", NULL};
    keys_are(get(j, "events"), keys);
    json_t *e = json_array_get(get(j, "errors"), 0);
    keys_are(get(e, "count"), keys);
    int_is(get(e, "count"), "perf", 30);
    cr_assert_eq(bm_rollup_pick_window(get(e, "count"), "1h"), get(get(e, "count"), "perf"));
    json_t *wins = get(json_array_get(get(j, "workers"), 0), "windows");
    keys_are(wins, keys);
    int_is(get(wins, "perf"), "executions", 600);
    cr_assert_eq(bm_rollup_pick_window(get(j, "events"), "1h"), get(get(j, "events"), "perf"));

    char buf[16];
    cr_expect_str_eq(bm_rollup_window_key(0, "1m", 8, buf), "1m");
    cr_expect_str_eq(bm_rollup_window_key(1, "", 8, buf), "5m");
    cr_expect_str_eq(bm_rollup_window_key(2, NULL, 8, buf), "1h");
    cr_expect_str_eq(bm_rollup_window_key(2, "5m", 8, buf), "perf");
    cr_expect_str_eq(bm_rollup_window_key(2, "2h", 8, buf), "2h");
}

/* ---- text -------------------------------------------------------------- */

Test(rollup, strings_are_escaped)
{
    snprintf(workers[0].name, sizeof workers[0].name, "say \"hi\"\\ok");
    snprintf(workers[0].last_error, sizeof workers[0].last_error,
             "KeyError: line1\nline2\ttab\x01");
    snprintf(patterns[0].example, sizeof patterns[0].example, "café 日本 🙂");
    roll.agent = "agent/\"q\"";
    build();
    json_t *w = json_array_get(get(j, "workers"), 0);
    str_is(w, "name", "say \"hi\"\\ok");
    str_is(w, "last_error", "KeyError: line1\nline2\ttab\x01");

    char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII); /* jansson: \uXXXX upper case */
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "\"name\":\"say \\\"hi\\\"\\\\ok\""), "%s", text);
    cr_assert_not_null(strstr(text, "\"last_error\":\"KeyError: line1\\nline2\\ttab\\u0001\""));
    cr_assert_not_null(strstr(text, "\"example\":\"caf\\u00E9 \\u65E5\\u672C \\uD83D\\uDE42\""),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\"agent\":\"agent/\\\"q\\\"\""));
    json_t *back = json_loads(text, 0, NULL);
    cr_assert_not_null(back);
    cr_assert(json_equal(back, j), "the dump reads back as the same tree");
    json_decref(back);
    free(text);

    text = json_dumps(j, JSON_COMPACT); /* UTF-8 kept as is */
    cr_assert_not_null(strstr(text, "\"example\":\"café 日本 🙂\""));
    free(text);
}

Test(rollup, invalid_utf8_is_repaired)
{
    /* a name cut inside "é" by a fixed array, a stray continuation byte, an
     * overlong '/', a surrogate, and a name filling its array with no NUL */
    snprintf(workers[0].name, sizeof workers[0].name, "caf\xc3");
    snprintf(workers[0].issues[0], BM_ISSUE_LEN, "a\x80z \xc0\xaf \xed\xa0\x80!");
    memset(workers[1].name, 'x', sizeof workers[1].name);
    build();
    json_t *ws = get(j, "workers");
    str_is(json_array_get(ws, 0), "name", "caf\xef\xbf\xbd");
    cr_assert_str_eq(
        json_string_value(json_array_get(get(json_array_get(ws, 0), "issues"), 0)),
        "a\xef\xbf\xbdz \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
    const char *full = json_string_value(get(json_array_get(ws, 1), "name"));
    cr_assert_eq(strlen(full), BM_NAME_MAX);
}

/* ---- msgpack ----------------------------------------------------------- */

/* The msgpack object is the JSON node: same type, same keys in the same
 * order, same values (reals bit for bit). */
static void same(const msgpack_object *m, const json_t *v, const char *path)
{
    char sub[512];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        cr_assert_eq(m->type, MSGPACK_OBJECT_MAP, "%s: not a map", path);
        cr_assert_eq(m->via.map.size, json_object_size(v), "%s: size", path);
        const char *k;
        json_t *x;
        uint32_t i = 0;
        json_object_foreach((json_t *)v, k, x)
        {
            const msgpack_object_kv *kv = &m->via.map.ptr[i++];
            cr_assert_eq(kv->key.type, MSGPACK_OBJECT_STR, "%s: key type", path);
            cr_assert_eq(kv->key.via.str.size, strlen(k), "%s: key %s", path, k);
            cr_assert(memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0, "%s: key %s", path, k);
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            same(&kv->val, x, sub);
        }
        break;
    }
    case JSON_ARRAY:
        cr_assert_eq(m->type, MSGPACK_OBJECT_ARRAY, "%s: not an array", path);
        cr_assert_eq(m->via.array.size, json_array_size(v), "%s: size", path);
        for (uint32_t i = 0; i < m->via.array.size; i++) {
            snprintf(sub, sizeof sub, "%s[%u]", path, i);
            same(&m->via.array.ptr[i], json_array_get(v, i), sub);
        }
        break;
    case JSON_STRING:
        cr_assert_eq(m->type, MSGPACK_OBJECT_STR, "%s: not a str", path);
        cr_assert_eq(m->via.str.size, json_string_length(v), "%s: length", path);
        cr_assert(memcmp(m->via.str.ptr, json_string_value(v), m->via.str.size) == 0, "%s", path);
        break;
    case JSON_INTEGER:
        if (m->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            cr_assert_geq(json_integer_value(v), 0, "%s", path);
            cr_assert_eq(m->via.u64, (uint64_t)json_integer_value(v), "%s", path);
        } else {
            cr_assert_eq(m->type, MSGPACK_OBJECT_NEGATIVE_INTEGER, "%s: not an int", path);
            cr_assert_eq(m->via.i64, json_integer_value(v), "%s", path);
        }
        break;
    case JSON_REAL:
        cr_assert_eq(m->type, MSGPACK_OBJECT_FLOAT64, "%s: not a float64", path);
        cr_assert(memcmp(&m->via.f64, &(double){json_real_value(v)}, sizeof(double)) == 0,
                  "%s: %g vs %g", path, m->via.f64, json_real_value(v));
        break;
    case JSON_NULL:
        cr_assert_eq(m->type, MSGPACK_OBJECT_NIL, "%s: not nil", path);
        break;
    default:
        cr_assert_fail("%s: unexpected JSON type", path);
    }
}

/* Encode `r` after `prefix` bytes already in the buffer, unpack exactly one
 * object from there, and compare it with bm_rollup_to_json(r). */
static void round_trip(const bm_rollup *r, size_t prefix)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < prefix; i++)
        msgpack_sbuffer_write(&sb, "\xc0", 1);
    cr_assert_eq(bm_rollup_encode_msgpack(r, &sb), 0);
    cr_assert_gt(sb.size, prefix);
    cr_assert(memcmp(sb.data, "\xc0\xc0\xc0", prefix) == 0, "prefix kept");

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = prefix;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size, "exactly one object");

    json_t *tree = bm_rollup_to_json(r);
    cr_assert_not_null(tree);
    same(&up.data, tree, "$");
    json_decref(tree);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(rollup, msgpack_is_the_json_tree)
{
    round_trip(&roll, 0);
}

Test(rollup, msgpack_appends)
{
    round_trip(&roll, 3);
}

Test(rollup, msgpack_of_empty_and_of_odd_text)
{
    bm_rollup empty;
    memset(&empty, 0, sizeof empty);
    round_trip(&empty, 0);
    snprintf(workers[0].name, sizeof workers[0].name, "q\"\n\xc3 日本");
    round_trip(&roll, 0);
}

Test(rollup, msgpack_spot_values)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_rollup_encode_msgpack(&roll, &sb), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *m = &up.data;
    cr_assert_eq(m->type, MSGPACK_OBJECT_MAP);
    /* "v": 1 first, "ts_us": int, "interval_s": float64 */
    cr_assert_eq(m->via.map.ptr[0].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(m->via.map.ptr[0].val.via.u64, 1);
    cr_assert_eq(m->via.map.ptr[3].val.via.u64, (uint64_t)T0);
    cr_assert_eq(m->via.map.ptr[5].val.type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_float_eq(m->via.map.ptr[5].val.via.f64, 10.0, 1e-12);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- refusals ---------------------------------------------------------- */

Test(rollup, refusals_leave_the_buffer_alone)
{
    cr_assert_null(bm_rollup_to_json(NULL));
    roll.workers = NULL; /* a count with no array */
    cr_assert_null(bm_rollup_to_json(&roll));

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "ab", 2);
    cr_assert_eq(bm_rollup_encode_msgpack(&roll, &sb), -1);
    cr_assert_eq(bm_rollup_encode_msgpack(NULL, &sb), -1);
    cr_assert_eq(sb.size, 2);
    msgpack_sbuffer_destroy(&sb);
}
