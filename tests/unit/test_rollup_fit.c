/*
 * test_rollup_fit.c - a rollup entry within its byte budget
 * (proto/rollup_fit.c): 1,000 workers with 256-byte names and 200 error
 * patterns fit 128 KiB (m + json measured, not estimated), the most active
 * are the ones kept, in name order, and the rest is summarised exactly; a
 * small rollup is kept whole with zeros in "omitted".
 */
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define NW 1000
#define NE 200

static bm_worker_snapshot *w;
static bm_error_pattern *e;
static bm_rollup r;

static void setup(void)
{
    w = calloc(NW, sizeof *w);
    e = calloc(NE, sizeof *e);
    static const char *const labels[3] = {"1m", "5m", "1h"};
    memset(&r, 0, sizeof r);
    r.ts_us = 1700000000000000LL;
    r.agent = "a";
    r.interval_us = 10000000;
    for (int k = 0; k < 3; k++) snprintf(r.events[k].label, sizeof r.events[k].label, "%s", labels[k]);
    for (int i = 0; i < NW; i++) {
        /* 256-byte names: the largest an identity can be */
        memset(w[i].name, 'n', BM_NAME_MAX - 1);
        snprintf(w[i].name, 12, "w%04d-", i);
        w[i].name[11] = 'n';
        w[i].health = (bm_health)(i % BM_HEALTH__COUNT);
        w[i].in_flight = (uint32_t)(i % 3);
        w[i].last_seen_us = r.ts_us - i;
        snprintf(w[i].last_error, sizeof w[i].last_error, "%0255d", i);
        for (int k = 0; k < 3; k++) {
            snprintf(w[i].win[k].label, sizeof w[i].win[k].label, "%s", labels[k]);
            /* activity: worker i has (i * 7) % 1000 executions in the perf window */
            w[i].win[k].executions = (uint64_t)((i * 7) % NW);
            w[i].win[k].failures = 1;
        }
    }
    for (int i = 0; i < NE; i++) {
        snprintf(e[i].type, sizeof e[i].type, "Error%03d", i);
        for (int k = 0; k < 3; k++) e[i].count[k] = (uint64_t)(NE - i); /* snapshot order */
        snprintf(e[i].example, sizeof e[i].example, "%0200d", i);
    }
    r.workers = w;
    r.n_workers = NW;
    r.patterns = e;
    r.n_patterns = NE;
}

static void teardown(void)
{
    free(w);
    free(e);
}

TestSuite(rollup_fit, .init = setup, .fini = teardown);

static size_t entry_bytes(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_json_encode_msgpack(j, &sb), 0);
    cr_assert_eq(sb.size, bm_json_msgpack_size(j), "the size is the encoding's");
    size_t n = strlen(s) + sb.size;
    msgpack_sbuffer_destroy(&sb);
    free(s);
    return n;
}

static json_int_t at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    return json_integer_value(v);
}

Test(rollup_fit, a_thousand_workers_fit_the_budget)
{
    json_t *j = bm_rollup_to_json(&r);
    size_t whole = entry_bytes(j);
    cr_assert_gt(whole, 1000000, "the whole rollup: %zu bytes", whole);
    const size_t budget = 128 * 1024;
    cr_assert_eq(bm_rollup_fit(j, budget), 0);
    size_t fitted = entry_bytes(j);
    cr_assert_leq(fitted, budget, "%zu bytes", fitted);
    cr_assert_gt(fitted, budget * 3 / 4, "the budget is used: %zu", fitted);
    json_t *kept = json_object_get(j, "workers"), *errs = json_object_get(j, "errors");
    size_t nk = json_array_size(kept), ne = json_array_size(errs);
    cr_assert_gt(nk, 10);
    json_t *om = json_object_get(j, "omitted");
    cr_assert_eq((size_t)at(om, "workers", NULL), NW - nk);
    cr_assert_eq((size_t)at(om, "errors", NULL), NE - ne);
    cr_assert_eq(at(j, "summary", "total_workers"), NW, "the summary still counts them all");

    /* the most active kept, in name order; the summary adds up */
    json_int_t least_kept = NW, execs = 0;
    const char *prev = "";
    size_t i;
    json_t *x;
    json_array_foreach(kept, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        cr_assert_gt(strcmp(name, prev), 0, "name order");
        prev = name;
        json_int_t n = at(json_object_get(x, "windows"), "1h", "executions");
        if (n < least_kept) least_kept = n;
        execs += n;
    }
    cr_assert_geq(least_kept, (json_int_t)(NW - nk), "only the least active were cut");
    json_int_t all = 0;
    for (int k = 0; k < NW; k++) all += (json_int_t)((k * 7) % NW);
    cr_assert_eq(at(om, "workers_executions", "1h") + execs, all);
    cr_assert_eq(at(om, "workers_failures", "1m"), (json_int_t)(NW - nk));
    json_int_t health = 0;
    const char *k;
    json_object_foreach(json_object_get(om, "workers_health"), k, x) health += json_integer_value(x);
    cr_assert_eq(health, (json_int_t)(NW - nk));
    json_array_foreach(errs, i, x)
        cr_assert_eq(at(x, "count", "1h"), NE - (json_int_t)i, "the most counted errors, in order");
    json_decref(j);
}

Test(rollup_fit, a_small_rollup_is_kept_whole)
{
    r.n_workers = 5;
    r.n_patterns = 3;
    json_t *j = bm_rollup_to_json(&r);
    cr_assert_eq(bm_rollup_fit(j, 128 * 1024), 0);
    cr_assert_eq(json_array_size(json_object_get(j, "workers")), 5);
    cr_assert_eq(json_array_size(json_object_get(j, "errors")), 3);
    json_t *om = json_object_get(j, "omitted");
    cr_assert_eq(at(om, "workers", NULL), 0);
    cr_assert_eq(at(om, "errors", NULL), 0);
    cr_assert_eq(at(om, "workers_executions", "5m"), 0);
    json_decref(j);
}

Test(rollup_fit, a_budget_below_the_base_keeps_none)
{
    json_t *j = bm_rollup_to_json(&r);
    cr_assert_eq(bm_rollup_fit(j, 100), 0);
    cr_assert_eq(json_array_size(json_object_get(j, "workers")), 0);
    cr_assert_eq(at(json_object_get(j, "omitted"), "workers", NULL), NW);
    json_decref(j);
}
