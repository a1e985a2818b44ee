/*
 * test_rollup_fit_agents.c - what the publisher adds to a rollup counts in
 * outputs.rollup_max_bytes too (proto/rollup_fit.c): 64 agents with long
 * names and the counters of 64 outputs are cut to the budget, this agent
 * and the leader kept first, what was cut counted in "omitted"; a rollup
 * that fits keeps them all.
 */
#include "proto/rollup.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "rollup_fit_fixture.h"

#define NA 64 /* BM_CLUSTER_AGENTS_MAX */
#define NS 64 /* BM_OUTPUTS_MAX */

static bm_rollup r;

/* A rollup of no worker (the cut of workers is test_rollup_fit.c's) with the
 * publisher's "counters" (n_counters of its own, then NS outputs) and NA agents. */
static json_t *rollup_with(int n_counters)
{
    static const char *const labels[3] = {"1m", "5m", "1h"};
    r = (bm_rollup){.ts_us = 1700000000000000LL, .agent = "me", .interval_us = 10000000};
    for (int k = 0; k < 3; k++)
        snprintf(r.events[k].label, sizeof r.events[k].label, "%s", labels[k]);
    json_t *j = bm_rollup_to_json(&r);
    cr_assert_not_null(j);
    /* the counters as the agent writes them: a fixed table, then one object per output */
    json_t *c = json_object(), *sinks = json_object();
    char name[128];
    for (int i = 0; i < n_counters; i++) {
        snprintf(name, sizeof name, "counter_%03d", i);
        json_object_set_new(c, name, json_integer(123456789012LL));
    }
    for (int i = 0; i < NS; i++) {
        snprintf(name, sizeof name, "output-%02d-with-a-name-as-long-as-people-write-them", i);
        json_object_set_new(sinks, name,
                            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "type",
                                      "webhook", "format", "generic", "emitted", 123456789012LL,
                                      "sent", 123456789012LL, "failed", 12LL, "retried", 12LL,
                                      "dropped", 0LL, "attempt_errors", 0LL, "queued", 0LL));
    }
    json_object_set_new(c, "outputs", json_pack("{s:o}", "sinks", sinks));
    json_object_set_new(j, "counters", c);
    /* the agents: this one and the leader last, so keeping them is a choice */
    json_t *agents = json_array();
    for (int i = 0; i < NA; i++) {
        if (i < NA - 2)
            snprintf(name, sizeof name, "agent-%02d-%0100d", i, i);
        else
            snprintf(name, sizeof name, "%s", i == NA - 1 ? "me" : "the-leader");
        json_array_append_new(agents,
                              json_pack("{s:s, s:s, s:f, s:b, s:b, s:b}", "name", name, "heartbeat",
                                        "2026-11-22T10:00:00.123456Z", "age_s", 1.5, "live", 1,
                                        "leader", i == NA - 2, "me", i == NA - 1));
    }
    json_object_set_new(j, "agents", agents);
    return j;
}

static json_t *rollup_with_agents_and_outputs(void)
{
    return rollup_with(40);
}

static size_t n_sinks(json_t *j)
{
    return json_object_size(
        json_object_get(json_object_get(json_object_get(j, "counters"), "outputs"), "sinks"));
}

static json_int_t omitted(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(j, "omitted"), k));
}

Test(rollup_fit_agents, agents_and_outputs_are_cut_to_the_smallest_budgets)
{
    static const size_t budgets[] = {16384, 32768, 49152};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        json_t *j = rollup_with_agents_and_outputs();
        size_t whole = entry_bytes(j);
        cr_assert_gt(whole, budgets[b], "the whole entry: %zu bytes", whole);
        cr_assert_eq(bm_rollup_fit(j, budgets[b]), 0);
        size_t fitted = entry_bytes(j);
        cr_expect_leq(fitted, budgets[b], "%zu bytes in a budget of %zu", fitted, budgets[b]);
        json_t *agents = json_object_get(j, "agents");
        cr_log_info("budget %zu: %zu bytes, %zu agents, %zu outputs, counters %s", budgets[b],
                    fitted, json_array_size(agents), n_sinks(j),
                    json_object_get(j, "counters") ? "kept" : "left out");
        size_t na = json_array_size(agents);
        cr_expect_eq(na + (size_t)omitted(j, "agents"), NA, "budget %zu: %zu kept + %lld cut",
                     budgets[b], na, (long long)omitted(j, "agents"));
        int me = 0, leader = 0;
        size_t i;
        json_t *a;
        json_array_foreach(agents, i, a)
        {
            me |= json_is_true(json_object_get(a, "me"));
            leader |= json_is_true(json_object_get(a, "leader"));
        }
        cr_expect(me && leader, "budget %zu: this agent (%d) and the leader (%d) are kept",
                  budgets[b], me, leader);
        if (json_object_get(j, "counters"))
            cr_expect_eq(n_sinks(j) + (size_t)omitted(j, "outputs"), NS,
                         "budget %zu: %zu outputs kept + %lld cut", budgets[b], n_sinks(j),
                         (long long)omitted(j, "outputs"));
        else
            cr_expect_eq(omitted(j, "counters"), 1, "budget %zu: the counters left out are said",
                         budgets[b]);
        json_decref(j);
    }
}

Test(rollup_fit_agents, a_rollup_that_fits_keeps_every_agent_and_output)
{
    json_t *j = rollup_with_agents_and_outputs();
    cr_assert_eq(bm_rollup_fit(j, 128 * 1024), 0);
    cr_expect_eq(json_array_size(json_object_get(j, "agents")), NA);
    cr_expect_eq(n_sinks(j), NS);
    cr_expect_eq(omitted(j, "agents"), 0);
    cr_expect_eq(omitted(j, "outputs"), 0);
    cr_expect_eq(omitted(j, "counters"), 0);
    json_decref(j);
}

Test(rollup_fit_agents, counters_that_do_not_fit_at_all_are_left_out_and_said)
{
    json_t *j = rollup_with(600); /* a table of counters larger than the budget */
    cr_assert_eq(bm_rollup_fit(j, 16384), 0);
    cr_expect_null(json_object_get(j, "counters"));
    cr_expect_eq(omitted(j, "counters"), 1);
    cr_expect_leq(entry_bytes(j), 16384);
    cr_expect_gt(json_array_size(json_object_get(j, "agents")), 0, "the room is used");
    json_decref(j);
}
