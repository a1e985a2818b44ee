/*
 * test_rollup_fit_digits.c - an entry stays within its budget whatever the
 * digits of "omitted" (proto/rollup_fit.c): with large counts (executions,
 * failures, in flight, error counts in the billions), the sums of what was
 * cut are longer than the zeros they replace; measured over many budgets,
 * not one that happens to leave room.
 */
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "rollup_fit_fixture.h"

#define NW 300
#define NE 100

static bm_worker_snapshot w[NW];
static bm_error_pattern e[NE];

Test(rollup_fit_digits, large_counts_in_omitted_stay_within_the_budget)
{
    static const char *const labels[3] = {"1m", "5m", "1h"};
    bm_rollup r = {.ts_us = 1700000000000000LL, .agent = "a", .interval_us = 10000000};
    for (int k = 0; k < 3; k++)
        snprintf(r.events[k].label, sizeof r.events[k].label, "%s", labels[k]);
    for (int i = 0; i < NW; i++) {
        snprintf(w[i].name, sizeof w[i].name, "w%d", i);
        w[i].health = (bm_health)(i % BM_HEALTH__COUNT);
        w[i].in_flight = 4000000000u;
        for (int k = 0; k < 3; k++) {
            snprintf(w[i].win[k].label, sizeof w[i].win[k].label, "%s", labels[k]);
            w[i].win[k].executions = 6000000000000000ULL + (uint64_t)i;
            w[i].win[k].failures = 6000000000000000ULL;
        }
    }
    for (int i = 0; i < NE; i++) {
        snprintf(e[i].type, sizeof e[i].type, "E%d", i);
        for (int k = 0; k < 3; k++)
            e[i].count[k] = 6000000000000000ULL;
    }
    r.workers = w;
    r.n_workers = NW;
    r.patterns = e;
    r.n_patterns = NE;
    size_t over = 0, worst = 0;
    for (size_t budget = 16384; budget < 16384 + 1500; budget += 5) {
        json_t *j = bm_rollup_to_json(&r);
        cr_assert_eq(bm_rollup_fit(j, budget), 0);
        size_t n = entry_bytes(j);
        if (n > budget) {
            over++;
            if (n - budget > worst) worst = n - budget;
        }
        json_decref(j);
    }
    cr_expect_eq(over, 0, "%zu budgets exceeded, by up to %zu bytes", over, worst);
}
