/*
 * test_rollup_fit_metrics.c - the business metrics a rollup carries
 * ("metrics": series, omitted, items; up to 50 items, jobs/publisher.c) are
 * within outputs.rollup_max_bytes too: an entry with 50 tagged series is
 * ~70 KB, so a budget of 16 KiB (the smallest allowed) was exceeded four
 * times over. Items are kept in their order while they fit, the rest
 * counted in metrics.omitted; a rollup that fits is kept whole.
 */
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define NW 20
#define NM 50

static bm_worker_snapshot w[NW];
static bm_rollup r;

/* A rollup of NW workers with the publisher's "metrics" member of NM items
 * (series NM + 7: the rollup's own cut already left 7 out). */
static json_t *rollup_with_metrics(void)
{
    static const char *const labels[3] = {"1m", "5m", "1h"};
    memset(&r, 0, sizeof r);
    memset(w, 0, sizeof w);
    r.ts_us = 1700000000000000LL;
    r.agent = "a";
    r.interval_us = 10000000;
    for (int k = 0; k < 3; k++)
        snprintf(r.events[k].label, sizeof r.events[k].label, "%s", labels[k]);
    for (int i = 0; i < NW; i++) {
        snprintf(w[i].name, sizeof w[i].name, "worker-%02d", i);
        for (int k = 0; k < 3; k++) {
            snprintf(w[i].win[k].label, sizeof w[i].win[k].label, "%s", labels[k]);
            w[i].win[k].executions = (uint64_t)(i + 1);
        }
    }
    r.workers = w;
    r.n_workers = NW;
    json_t *j = bm_rollup_to_json(&r), *items = json_array();
    for (int i = 0; i < NM; i++) {
        char region[32], service[48];
        snprintf(region, sizeof region, "region-%d", i);
        snprintf(service, sizeof service, "checkout-service-%d", i);
        json_t *wins = json_object();
        for (int k = 0; k < 3; k++)
            json_object_set_new(wins, labels[k],
                                json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "count",
                                          100 + i, "sum", 1234.5, "min", 0.5, "max", 99.5, "avg",
                                          12.3, "p50", 10.1, "p95", 80.2, "p99", 97.7));
        json_array_append_new(items, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "name",
                                               "checkout_latency_ms", "kind", "histogram", "tags",
                                               "region", region, "service", service, "tier",
                                               "premium", "windows", wins));
    }
    json_object_set_new(
        j, "metrics", json_pack("{s:i, s:i, s:o}", "series", NM + 7, "omitted", 7, "items", items));
    return j;
}

static size_t entry_bytes(json_t *j)
{
    return json_dumpb(j, NULL, 0, JSON_COMPACT) + bm_json_msgpack_size(j);
}

static json_t *metrics(json_t *j)
{
    return json_object_get(j, "metrics");
}

Test(rollup_fit_metrics, fifty_series_fit_the_smallest_budget)
{
    json_t *j = rollup_with_metrics();
    cr_assert_gt(entry_bytes(j), 30000, "50 series: %zu bytes", entry_bytes(j));
    const size_t budget = 16384;
    cr_assert_eq(bm_rollup_fit(j, budget), 0);
    cr_assert_leq(entry_bytes(j), budget, "%zu bytes for a budget of %zu", entry_bytes(j), budget);
    size_t kept = json_array_size(json_object_get(metrics(j), "items"));
    cr_assert_lt(kept, NM, "some series were cut");
    cr_assert_gt(kept, 0, "the budget holds some");
    cr_assert_eq(json_integer_value(json_object_get(metrics(j), "omitted")), NM + 7 - (int)kept,
                 "metrics.omitted counts the cut ones too");
    cr_assert_eq(json_integer_value(json_object_get(metrics(j), "series")), NM + 7);
    /* kept in their order: the first ones */
    json_t *first = json_array_get(json_object_get(metrics(j), "items"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(first, "tags"), "region")),
                     "region-0");
    json_decref(j);
}

Test(rollup_fit_metrics, a_rollup_that_fits_keeps_every_series)
{
    json_t *j = rollup_with_metrics();
    cr_assert_eq(bm_rollup_fit(j, 128 * 1024), 0);
    cr_assert_eq(json_array_size(json_object_get(metrics(j), "items")), NM);
    cr_assert_eq(json_integer_value(json_object_get(metrics(j), "omitted")), 7);
    cr_assert_eq(json_array_size(json_object_get(j, "workers")), NW);
    json_decref(j);
}
