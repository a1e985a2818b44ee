/*
 * test_alerts.c - the alert engine with injected time: rule checks,
 * built-ins, every lifecycle edge (for, cooldown repeats, resolve, flapping,
 * per-worker instances, a worker leaving the rollup), the instance bound,
 * the history ring and the firing list. Rollups are built by hand. Saved
 * and loaded: a pending alert fires after its `for`, a firing one repeats
 * after its cooldown and resolves, history and counters carry on; instances
 * of rules not held are left out, the bound holds, corrupt saves change
 * nothing. `for` and the cooldown on a monotonic clock: a step of the wall
 * clock neither fires, repeats nor holds back; a restart ages on the wall clock.
 */
#include "lib/alerts.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define S  1000000LL
#define M  (60 * S)
#define T0 (1705314600LL * S)

/* ---- fixture: an engine and a recorder of notifications ------------------ */

#define MAX_SEEN 64
static alerts *eng;
static bm_alert seen[MAX_SEEN];
static size_t n_seen;

static void record(alerts *a, const bm_alert *al, void *arg)
{
    cr_assert_eq(a, eng);
    cr_assert_eq(arg, &n_seen);
    cr_assert_lt(n_seen, MAX_SEEN);
    seen[n_seen++] = *al;
}

static void setup(void)
{
    eng = alerts_new(NULL);
    cr_assert_not_null(eng);
    n_seen = 0;
}

static void teardown(void)
{
    alerts_free(eng);
}

TestSuite(alerts, .init = setup, .fini = teardown);

/* ---- rollup builders ----------------------------------------------------- */

#define MAX_W 8
static bm_worker_snapshot workers[MAX_W];
static bm_rollup ro;

static void rollup_reset(void)
{
    memset(workers, 0, sizeof workers);
    memset(&ro, 0, sizeof ro);
    ro.workers = workers;
    static const char *const labels[BM_WINDOWS] = {"1m", "5m", "1h"};
    for (int w = 0; w < BM_WINDOWS; w++)
        strcpy(ro.events[w].label, labels[w]);
}

/* Worker i named `name` with `execs` executions and `failures` failures in every window. */
static bm_worker_snapshot *worker(size_t i, const char *name, uint64_t execs, uint64_t failures)
{
    static const char *const labels[BM_WINDOWS] = {"1m", "5m", "1h"};
    bm_worker_snapshot *w = &workers[i];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->health = BM_HEALTH_HEALTHY;
    for (int k = 0; k < BM_WINDOWS; k++) {
        bm_window_stats *ws = &w->win[k];
        strcpy(ws->label, labels[k]);
        ws->executions = execs;
        ws->failures = failures;
        ws->successes = execs - failures;
        ws->error_rate = execs ? (double)failures / (double)execs : 0;
        ws->success_rate = execs ? 1 - ws->error_rate : 0;
        ws->avg_us = 100000; /* 100 ms */
        ws->p95_us = 200000;
        ws->p99_us = 300000;
        ws->throughput_per_min = (double)execs;
    }
    if (ro.n_workers < i + 1) ro.n_workers = i + 1;
    return w;
}

static alert_rule rate_rule(const char *name, int64_t for_us, int64_t cooldown_us)
{
    alert_rule r;
    alerts_rule_init(&r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.metric = ALERT_METRIC_ERROR_RATE;
    r.scope = ALERT_SCOPE_EACH_WORKER;
    r.op = ALERT_OP_GT;
    r.threshold = 0.1;
    r.window = 1;
    r.for_us = for_us;
    r.cooldown_us = cooldown_us;
    return r;
}

static void eval(int64_t now)
{
    alerts_evaluate(eng, &ro, NULL, now, record, &n_seen);
}

static alerts_stats stats(void)
{
    alerts_stats st;
    alerts_get_stats(eng, &st);
    return st;
}

/* ---- names, checks, built-ins -------------------------------------------- */

Test(alerts, names_round_trip)
{
    for (int m = 0; m < ALERT_METRIC__COUNT; m++)
        cr_assert_eq(alerts_metric_parse(alerts_metric_name(m)), m);
    for (int s = 0; s < ALERT_SCOPE__COUNT; s++)
        cr_assert_eq(alerts_scope_parse(alerts_scope_name(s)), s);
    for (int o = 0; o < ALERT_OP__COUNT; o++)
        cr_assert_eq(alerts_op_parse(alerts_op_name(o)), o);
    cr_assert_eq(alerts_op_parse("="), ALERT_OP_EQ);
    cr_assert_eq(alerts_op_parse("=>"), -1);
    cr_assert_eq(alerts_metric_parse("latency"), -1);
    cr_assert_eq(alerts_window_parse("5m"), 1);
    cr_assert_eq(alerts_window_parse("1h"), 2);
    cr_assert_eq(alerts_window_parse("10m"), -1);
    cr_assert_eq(bm_severity_parse("CRITICAL"), BM_SEVERITY_CRITICAL);
    cr_assert_eq(bm_severity_parse("fatal"), -1);
    cr_assert_eq(alerts_metric_default_scope(ALERT_METRIC_HEALTH), ALERT_SCOPE_EACH_WORKER);
    cr_assert_eq(alerts_metric_default_scope(ALERT_METRIC_CONSUMER_LAG), ALERT_SCOPE_EACH_STREAM);
    cr_assert_eq(alerts_metric_default_scope(ALERT_METRIC_ERROR_RATE), ALERT_SCOPE_GLOBAL);
}

Test(alerts, builtins_are_valid_and_as_documented)
{
    const alert_rule *b;
    size_t n = alerts_builtin_rules(&b);
    cr_assert_eq(n, 9);
    char why[256];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(alerts_rule_check(&b[i], why, sizeof why), 0, "%s: %s", b[i].name, why);

    const alert_rule *r = alerts_builtin_find("high_error_rate");
    cr_assert_eq(r->metric, ALERT_METRIC_ERROR_RATE);
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_WORKER);
    cr_assert_eq(r->window, 1);
    cr_assert_eq(r->threshold, 0.1);
    cr_assert_eq(r->severity, BM_SEVERITY_WARNING);
    cr_assert_eq(r->cooldown_us, 15 * M);
    r = alerts_builtin_find("worker_failed");
    cr_assert_eq(r->metric, ALERT_METRIC_HEALTH);
    cr_assert_eq(r->op, ALERT_OP_EQ);
    cr_assert_eq(r->threshold, ALERT_HEALTH_FAILED);
    cr_assert_eq(r->severity, BM_SEVERITY_CRITICAL);
    cr_assert_eq(alerts_builtin_find("error_spike")->severity, BM_SEVERITY_ERROR);
    cr_assert_eq(alerts_builtin_find("consumer_lag")->scope, ALERT_SCOPE_EACH_STREAM);
    cr_assert_eq(alerts_builtin_find("critical_cpu")->threshold, 90);
    cr_assert_eq(alerts_builtin_find("high_latency")->threshold, 5000);
    cr_assert_eq(alerts_builtin_find("worker_degraded")->threshold, ALERT_HEALTH_DEGRADED);
    cr_assert_null(alerts_builtin_find("nope"));

    cr_assert_eq(alerts_add_builtins(eng), 0);
    cr_assert_eq(alerts_rule_count(eng), 9);
    cr_assert_eq(alerts_add_builtins(eng), 0); /* idempotent */
    cr_assert_eq(alerts_rule_count(eng), 9);
}

static void expect_bad(const alert_rule *r, const char *fragment)
{
    char why[512] = "";
    cr_assert_eq(alerts_rule_check(r, why, sizeof why), -1, "accepted, expected '%s'", fragment);
    cr_assert(strstr(why, fragment), "reason '%s' lacks '%s'", why, fragment);
}

Test(alerts, rule_check_refusals)
{
    alert_rule r = rate_rule("x", 0, 0);
    char why[256];
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), 0, "%s", why);

    alert_rule b = r;
    b.name[0] = '\0';
    expect_bad(&b, "missing name");
    b = r;
    strcpy(b.name, "has space");
    expect_bad(&b, "may only hold");
    b = r;
    b.metric = ALERT_METRIC_HEALTH;
    b.scope = ALERT_SCOPE_GLOBAL;
    b.window = -1;
    expect_bad(&b,
               "metric health cannot be used with scope global (it allows: each_worker, worker)");
    b = r;
    b.metric = ALERT_METRIC_P99_LATENCY_MS;
    b.scope = ALERT_SCOPE_GLOBAL;
    expect_bad(&b, "cannot be used with scope global");
    b = r;
    b.scope = ALERT_SCOPE_WORKER;
    expect_bad(&b, "needs a name");
    b = r;
    strcpy(b.target, "w1");
    expect_bad(&b, "takes no name");
    b = r;
    b.window = -1;
    expect_bad(&b, "needs a window");
    b = r;
    b.metric = ALERT_METRIC_IN_FLIGHT;
    expect_bad(&b, "has no window");
    b = r;
    b.for_us = -1;
    expect_bad(&b, "'for' must not be negative");
    b = r;
    b.cooldown_us = -5;
    expect_bad(&b, "cooldown must not be negative");
    b = r;
    b.threshold = 1.0 / 0.0;
    expect_bad(&b, "finite");
    b = r;
    b.n_labels = 1;
    strcpy(b.labels[0].key, "9team");
    strcpy(b.labels[0].value, "x");
    expect_bad(&b, "label '9team'");
    strcpy(b.labels[0].key, "severity");
    expect_bad(&b, "reserved");
    strcpy(b.labels[0].key, "team");
    b.labels[0].value[0] = '\0';
    expect_bad(&b, "value must have");
    strcpy(b.labels[0].value, "x");
    b.n_labels = 2;
    b.labels[1] = b.labels[0];
    expect_bad(&b, "given twice");
    b = r;
    strcpy(b.description, "value {valeu}");
    expect_bad(&b, "unknown placeholder {valeu}");
    strcpy(b.description, "value {value");
    expect_bad(&b, "without '}'");
    strcpy(b.description, "team {labels.team}");
    expect_bad(&b, "unknown placeholder {labels.team}");
    b.n_labels = 1;
    strcpy(b.labels[0].key, "team");
    strcpy(b.labels[0].value, "search");
    cr_assert_eq(alerts_rule_check(&b, why, sizeof why), 0, "%s", why);
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    r.window = 7;
    cr_assert_eq(alerts_set_rule(eng, &r), -1);
}

Test(alerts, description_rendering)
{
    alert_rule r = rate_rule("high", 0, 0);
    r.n_labels = 1;
    strcpy(r.labels[0].key, "team");
    strcpy(r.labels[0].value, "search");
    strcpy(r.description, "{rule} {severity}: {worker}{stream} {metric} {window} {value} {op} "
                          "{threshold} team={labels.team} {{literal}");
    char out[256];
    alerts_render_description(&r, "w1", "5m", 0.34, out, sizeof out);
    cr_assert_str_eq(out, "high warning: w1 error_rate 5m 0.34 > 0.1 team=search {literal}");

    r.description[0] = '\0'; /* the default */
    alerts_render_description(&r, "w1", "5m", 0.25, out, sizeof out);
    cr_assert_str_eq(out, "error_rate over 5m is 0.25 (> 0.1) for worker w1");

    const alert_rule *f = alerts_builtin_find("worker_failed");
    alerts_render_description(f, "w9", "", 2, out, sizeof out);
    cr_assert_str_eq(out, "Worker w9 has failed");
    alert_rule h = *f;
    strcpy(h.description, "{value} {op} {threshold}");
    alerts_render_description(&h, "w9", "", 1, out, sizeof out);
    cr_assert_str_eq(out, "degraded == failed");

    alerts_render_description(alerts_builtin_find("high_latency"), "w2", "5m", 5123.45, out, 24);
    cr_assert_eq(strlen(out), 23); /* cut to the buffer */
}

/* A description cut to its buffer ends on a whole UTF-8 character (a cut
 * inside one made the alert record's msgpack text invalid UTF-8), and
 * nothing shorter is appended after the cut. */
Test(alerts, a_cut_description_ends_on_a_whole_character)
{
    alert_rule r = rate_rule("high", 0, 0);
    strcpy(r.description, "{worker}");
    for (int i = 0; i < 251; i++) /* "é" is 2 bytes: 8 + 502 = 510 of 511 */
        strcat(r.description, "\xc3\xa9");
    char out[BM_ALERT_DESC_MAX];
    alerts_render_description(&r, "abcdefghijkl", "5m", 1, out, sizeof out); /* 12 + 502 > 511 */
    size_t n = strlen(out);
    cr_assert_eq(n, 12 + 498, "cut after 249 whole characters, got %zu bytes", n);
    cr_assert_eq((unsigned char)out[n - 1], 0xa9);

    strcpy(r.description, "{worker}");
    for (int i = 0; i < 250; i++)
        strcat(r.description, "\xc3\xa9");
    strcat(r.description, "{op}"); /* after a cut, the short ">" is not appended */
    alerts_render_description(&r, "abcdefghijkl", "5m", 1, out, sizeof out);
    cr_assert_eq(strlen(out), 12 + 498);
    cr_assert_eq((unsigned char)out[strlen(out) - 1], 0xa9);
}

/* ---- lifecycle ----------------------------------------------------------- */

Test(alerts, for_duration_then_firing)
{
    alert_rule r = rate_rule("high", 60 * S, 15 * M);
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    rollup_reset();
    worker(0, "w1", 10, 5);

    eval(T0);
    cr_assert_eq(n_seen, 0);
    cr_assert_eq(stats().pending, 1);
    eval(T0 + 59 * S);
    cr_assert_eq(n_seen, 0);
    eval(T0 + 60 * S);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(stats().pending, 0);
    cr_assert_eq(stats().firing, 1);

    const bm_alert *a = &seen[0];
    cr_assert_str_eq(a->rule, "high");
    cr_assert_eq(a->state, BM_ALERT_FIRING);
    cr_assert_eq(a->severity, BM_SEVERITY_WARNING);
    cr_assert_eq(a->n_labels, 1);
    cr_assert_str_eq(a->labels[0].key, "worker");
    cr_assert_str_eq(a->labels[0].value, "w1");
    cr_assert_str_eq(a->metric, "error_rate");
    cr_assert_str_eq(a->op, ">");
    cr_assert_str_eq(a->window, "5m");
    cr_assert_float_eq(a->value, 0.5, 1e-12);
    cr_assert_eq(a->threshold, 0.1);
    cr_assert_eq(a->starts_at_us, T0 + 60 * S);
    cr_assert_eq(a->ends_at_us, 0);
    cr_assert_eq(a->ts_us, T0 + 60 * S);
    cr_assert_eq(a->fingerprint, bm_alert_fingerprint("high", a->labels, 1));
    cr_assert_str_eq(a->description, "error_rate over 5m is 0.5 (> 0.1) for worker w1");

    eval(T0 + 2 * M); /* still firing, inside the cooldown: silent */
    cr_assert_eq(n_seen, 1);
}

Test(alerts, for_zero_fires_at_once)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 2);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].state, BM_ALERT_FIRING);
}

Test(alerts, threshold_is_strict_for_gt_and_inclusive_for_ge)
{
    alert_rule gt = rate_rule("gt", 0, 0), ge = rate_rule("ge", 0, 0);
    ge.op = ALERT_OP_GE;
    alerts_set_rule(eng, &gt);
    alerts_set_rule(eng, &ge);
    rollup_reset();
    worker(0, "w1", 10, 1); /* exactly 0.1 */
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_str_eq(seen[0].rule, "ge");
}

Test(alerts, pending_that_clears_goes_back_silently_and_restarts_for)
{
    alert_rule r = rate_rule("high", 60 * S, 15 * M);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(stats().pending, 1);

    worker(0, "w1", 10, 0); /* clears before `for` */
    eval(T0 + 30 * S);
    cr_assert_eq(n_seen, 0);
    cr_assert_eq(stats().pending, 0);

    worker(0, "w1", 10, 5); /* flaps back: `for` starts again */
    eval(T0 + 45 * S);
    eval(T0 + 90 * S); /* 60 s after T0, only 45 s after the restart */
    cr_assert_eq(n_seen, 0);
    eval(T0 + 105 * S);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].state, BM_ALERT_FIRING);
    cr_assert_eq(seen[0].starts_at_us, T0 + 105 * S);
    cr_assert_eq(stats().transitions, 1);
}

Test(alerts, cooldown_repeats_while_firing)
{
    alert_rule r = rate_rule("high", 0, 5 * M);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    eval(T0 + 4 * M);
    cr_assert_eq(n_seen, 1);
    worker(0, "w1", 10, 7);
    eval(T0 + 5 * M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_REPEAT);
    cr_assert_eq(seen[1].starts_at_us, T0); /* the same alert, still from T0 */
    cr_assert_float_eq(seen[1].value, 0.7, 1e-12);
    cr_assert_eq(seen[1].fingerprint, seen[0].fingerprint);
    eval(T0 + 9 * M);
    cr_assert_eq(n_seen, 2);
    eval(T0 + 10 * M); /* measured from the last notification */
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[2].state, BM_ALERT_REPEAT);
    cr_assert_eq(stats().notifications, 3);
    cr_assert_eq(stats().transitions, 1); /* repeats are not transitions */
}

Test(alerts, cooldown_zero_never_repeats)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    for (int i = 0; i < 10; i++)
        eval(T0 + i * M * 60);
    cr_assert_eq(n_seen, 1);
}

Test(alerts, resolve_then_flap_needs_for_again)
{
    alert_rule r = rate_rule("high", 60 * S, 15 * M);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    eval(T0 + M);
    cr_assert_eq(n_seen, 1);

    worker(0, "w1", 20, 1); /* 0.05: resolved */
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 2);
    const bm_alert *a = &seen[1];
    cr_assert_eq(a->state, BM_ALERT_RESOLVED);
    cr_assert_eq(a->starts_at_us, T0 + M);
    cr_assert_eq(a->ends_at_us, T0 + 2 * M);
    cr_assert_float_eq(a->value, 0.05, 1e-12); /* the value that ended it */
    cr_assert_eq(a->fingerprint, seen[0].fingerprint);
    cr_assert_eq(stats().firing, 0);

    worker(0, "w1", 10, 5); /* back: pending, not firing at once */
    eval(T0 + 3 * M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(stats().pending, 1);
    eval(T0 + 4 * M);
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[2].state, BM_ALERT_FIRING);
    cr_assert_eq(seen[2].starts_at_us, T0 + 4 * M);

    bm_alert h[8];
    cr_assert_eq(alerts_history(eng, h, 8), 3);
    cr_assert_eq(h[0].state, BM_ALERT_FIRING); /* newest first */
    cr_assert_eq(h[0].ts_us, T0 + 4 * M);
    cr_assert_eq(h[1].state, BM_ALERT_RESOLVED);
    cr_assert_eq(h[2].state, BM_ALERT_FIRING);
    cr_assert_eq(h[2].ts_us, T0 + M);
}

Test(alerts, each_worker_has_its_own_alert)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "fast", 100, 0);
    worker(1, "flaky", 100, 40);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_str_eq(bm_alert_label_get(&seen[0], "worker"), "flaky");

    worker(0, "fast", 100, 30);
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(bm_alert_label_get(&seen[1], "worker"), "fast");
    cr_assert_eq(seen[1].state, BM_ALERT_FIRING);
    cr_assert_neq(seen[1].fingerprint, seen[0].fingerprint);
    cr_assert_eq(stats().firing, 2);

    worker(1, "flaky", 100, 0); /* flaky recovers, fast does not */
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_str_eq(bm_alert_label_get(&seen[2], "worker"), "flaky");
    cr_assert_eq(stats().firing, 1);
}

Test(alerts, rule_labels_join_the_scope_label_sorted)
{
    alert_rule r = rate_rule("high", 0, 0);
    r.n_labels = 2;
    strcpy(r.labels[0].key, "zone");
    strcpy(r.labels[0].value, "eu");
    strcpy(r.labels[1].key, "team");
    strcpy(r.labels[1].value, "search");
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].n_labels, 3);
    cr_assert_str_eq(seen[0].labels[0].key, "team");
    cr_assert_str_eq(seen[0].labels[1].key, "worker");
    cr_assert_str_eq(seen[0].labels[2].key, "zone");
}

Test(alerts, worker_leaving_the_rollup_resolves_its_alerts)
{
    alert_rule r = rate_rule("high", 0, 0), p = rate_rule("slow", 10 * M, 0);
    alerts_set_rule(eng, &r);
    alerts_set_rule(eng, &p);
    rollup_reset();
    worker(0, "w1", 10, 5);
    worker(1, "w2", 10, 0);
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(stats().pending, 1); /* slow, w1 */

    rollup_reset();
    worker(0, "w2", 10, 0); /* w1 is gone */
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_RESOLVED);
    cr_assert_str_eq(bm_alert_label_get(&seen[1], "worker"), "w1");
    cr_assert_float_eq(seen[1].value, 0.5, 1e-12); /* last known */
    cr_assert_eq(stats().pending, 0);              /* its pending alert went silently */
    cr_assert_eq(stats().firing, 0);

    alerts_evaluate(eng, NULL, NULL, T0 + 2 * M, record, &n_seen); /* no rollup at all */
    cr_assert_eq(n_seen, 2);
}

Test(alerts, no_data_is_not_a_true_condition)
{
    alert_rule r = rate_rule("low_success", 0, 0);
    r.metric = ALERT_METRIC_SUCCESS_RATE;
    r.op = ALERT_OP_LT;
    r.threshold = 0.9;
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "idle", 0, 0); /* rates are 0 with no executions */
    eval(T0);
    cr_assert_eq(n_seen, 0);
    worker(0, "idle", 10, 5);
    eval(T0 + M);
    cr_assert_eq(n_seen, 1);
    worker(0, "idle", 0, 0); /* idle again: no data resolves */
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_RESOLVED);
}

Test(alerts, instance_bound_counts_refusals)
{
    alerts_free(eng);
    alerts_limits lim = {.max_instances = 2, .history = 10};
    eng = alerts_new(&lim);
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "a", 10, 5);
    worker(1, "b", 10, 5);
    worker(2, "c", 10, 5);
    eval(T0);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(stats().firing, 2);
    cr_assert_eq(stats().refused, 1);

    worker(0, "a", 10, 0); /* a resolves: room for c */
    eval(T0 + M);
    cr_assert_eq(n_seen, 4);
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_str_eq(bm_alert_label_get(&seen[2], "worker"), "a");
    cr_assert_eq(seen[3].state, BM_ALERT_FIRING);
    cr_assert_str_eq(bm_alert_label_get(&seen[3], "worker"), "c");
    cr_assert_eq(stats().refused, 1);
}

Test(alerts, many_instances_grow_the_table)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    static bm_worker_snapshot many[300];
    memset(many, 0, sizeof many);
    rollup_reset();
    ro.workers = many;
    ro.n_workers = 300;
    for (int i = 0; i < 300; i++) {
        snprintf(many[i].name, sizeof many[i].name, "w%03d", i);
        many[i].win[1].executions = 10;
        many[i].win[1].error_rate = 0.5;
    }
    alerts_evaluate(eng, &ro, NULL, T0, NULL, NULL);
    cr_assert_eq(stats().firing, 300);
    alerts_evaluate(eng, &ro, NULL, T0 + M, NULL, NULL); /* all found again: no new ones */
    cr_assert_eq(stats().firing, 300);
    cr_assert_eq(stats().transitions, 300);
    static bm_alert out[300];
    cr_assert_eq(alerts_firing(eng, out, 300), 300);
    cr_assert_str_eq(bm_alert_label_get(&out[0], "worker"), "w000");
    cr_assert_str_eq(bm_alert_label_get(&out[299], "worker"), "w299");
    ro.n_workers = 0;
    alerts_evaluate(eng, &ro, NULL, T0 + 2 * M, NULL, NULL);
    cr_assert_eq(stats().firing, 0);
    cr_assert_eq(stats().transitions, 600);
}

Test(alerts, history_ring_keeps_the_newest)
{
    alerts_free(eng);
    alerts_limits lim = {.history = 3};
    eng = alerts_new(&lim);
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    for (int i = 0; i < 5; i++) { /* firing, resolved, firing, resolved, firing */
        worker(0, "w1", 10, i % 2 ? 0 : 5);
        eval(T0 + i * M);
    }
    cr_assert_eq(n_seen, 5);
    bm_alert h[8];
    cr_assert_eq(alerts_history(eng, h, 8), 3);
    cr_assert_eq(h[0].ts_us, T0 + 4 * M);
    cr_assert_eq(h[0].state, BM_ALERT_FIRING);
    cr_assert_eq(h[1].ts_us, T0 + 3 * M);
    cr_assert_eq(h[1].state, BM_ALERT_RESOLVED);
    cr_assert_eq(h[2].ts_us, T0 + 2 * M);
    cr_assert_eq(alerts_history(eng, h, 1), 1);
    cr_assert_eq(h[0].ts_us, T0 + 4 * M);
    cr_assert_eq(stats().transitions, 5);
    cr_assert_eq(stats().history_evicted, 2);
}

Test(alerts, firing_list_sorted_by_severity_then_rule)
{
    alert_rule warn = rate_rule("b_warn", 0, 0), crit = rate_rule("z_crit", 0, 0),
               warn2 = rate_rule("a_warn", 0, 0);
    crit.severity = BM_SEVERITY_CRITICAL;
    alerts_set_rule(eng, &warn);
    alerts_set_rule(eng, &crit);
    alerts_set_rule(eng, &warn2);
    rollup_reset();
    worker(0, "w2", 10, 5);
    worker(1, "w1", 10, 5);
    eval(T0);
    worker(0, "w2", 10, 6);
    eval(T0 + M); /* no notifications (no cooldown), values updated */
    bm_alert f[8];
    size_t n = alerts_firing(eng, f, 8);
    cr_assert_eq(n, 6);
    cr_assert_str_eq(f[0].rule, "z_crit");
    cr_assert_str_eq(bm_alert_label_get(&f[0], "worker"), "w1");
    cr_assert_str_eq(f[1].rule, "z_crit");
    cr_assert_str_eq(bm_alert_label_get(&f[1], "worker"), "w2");
    cr_assert_float_eq(f[1].value, 0.6, 1e-12);
    cr_assert_eq(f[1].ts_us, T0 + M);
    cr_assert_eq(f[1].starts_at_us, T0);
    cr_assert_str_eq(f[2].rule, "a_warn");
    cr_assert_str_eq(f[4].rule, "b_warn");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(f[i].state, BM_ALERT_FIRING);
    cr_assert_eq(alerts_firing(eng, f, 2), 2);
    cr_assert_str_eq(f[1].rule, "z_crit");
}

Test(alerts, replacing_a_rule_forgets_its_instances)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(stats().firing, 1);
    r.threshold = 0.6;
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    cr_assert_eq(alerts_rule_count(eng), 1);
    cr_assert_eq(alerts_rule_find(eng, "high")->threshold, 0.6);
    cr_assert_eq(stats().firing, 0);
    eval(T0 + M);
    cr_assert_eq(n_seen, 1); /* no resolve for a forgotten alert, no new firing */

    cr_assert_eq(alerts_remove_rule(eng, "high"), 0);
    cr_assert_eq(alerts_remove_rule(eng, "high"), -1);
    cr_assert_eq(alerts_rule_count(eng), 0);
}

Test(alerts, disabled_rule_is_kept_but_not_evaluated)
{
    alert_rule r = rate_rule("high", 0, 0);
    r.enabled = 0;
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(n_seen, 0);
    cr_assert_eq(alerts_rule_count(eng), 1);
}

/* ---- built-ins against rollups and gauges ------------------------------- */

Test(alerts, builtin_health_rules)
{
    alerts_add_builtins(eng);
    rollup_reset();
    bm_worker_snapshot *w = worker(0, "w1", 0, 0);
    w->health = BM_HEALTH_FAILED;
    bm_worker_snapshot *d = worker(1, "w2", 0, 0);
    d->health = BM_HEALTH_DEGRADED;
    eval(T0);
    cr_assert_eq(n_seen, 1); /* failed at once; degraded waits 1 min */
    cr_assert_str_eq(seen[0].rule, "worker_failed");
    cr_assert_eq(seen[0].severity, BM_SEVERITY_CRITICAL);
    cr_assert_eq(seen[0].value, ALERT_HEALTH_FAILED);
    cr_assert_str_eq(seen[0].window, "");
    cr_assert_str_eq(seen[0].description, "Worker w1 has failed");
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(seen[1].rule, "worker_degraded");
    cr_assert_str_eq(bm_alert_label_get(&seen[1], "worker"), "w2");

    w->health = BM_HEALTH_HEALTHY;
    d->health = BM_HEALTH_INACTIVE;
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 4);
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_eq(seen[3].state, BM_ALERT_RESOLVED);
}

Test(alerts, builtin_error_rate_and_latency)
{
    alerts_add_builtins(eng);
    rollup_reset();
    bm_worker_snapshot *w = worker(0, "flaky", 50, 17);
    w->win[1].avg_us = 6000000; /* 6 s */
    eval(T0);
    cr_assert_eq(n_seen, 0);
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(seen[0].rule, "high_error_rate");
    cr_assert_str_eq(seen[0].description, "Worker flaky: error rate 0.34 over 5m (threshold 0.1)");
    cr_assert_str_eq(seen[1].rule, "high_latency");
    cr_assert_float_eq(seen[1].value, 6000, 1e-9);
    cr_assert_str_eq(seen[1].description,
                     "Worker flaky: average latency 6000 ms over 5m (threshold 5000 ms)");
}

Test(alerts, builtin_error_spike_counts_global_errors)
{
    alerts_add_builtins(eng);
    rollup_reset();
    ro.events[1].by_type[1].count = 20;
    ro.events[1].by_type[1].error = 6; /* failed results */
    ro.events[1].by_type[2].count = 5;
    ro.events[1].by_type[2].error = 5; /* error events */
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_str_eq(seen[0].rule, "error_spike");
    cr_assert_eq(seen[0].n_labels, 0);
    cr_assert_eq(seen[0].value, 11);
    cr_assert_eq(seen[0].severity, BM_SEVERITY_ERROR);
    cr_assert_str_eq(seen[0].description, "11 errors in the last 5m (threshold 10)");
}

Test(alerts, builtin_gauge_rules)
{
    alerts_add_builtins(eng);
    rollup_reset();
    alert_stream_gauge streams[2] = {{"bus", 20000, 5}, {"other", 10, 0}};
    alert_gauges g;
    alerts_gauges_init(&g);
    g.streams = streams;
    g.n_streams = 2;
    g.cpu_percent = 95;
    alerts_evaluate(eng, &ro, &g, T0, record, &n_seen);
    cr_assert_eq(n_seen, 0);
    alerts_evaluate(eng, &ro, &g, T0 + 2 * M, record, &n_seen);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(seen[0].rule, "consumer_lag");
    cr_assert_str_eq(bm_alert_label_get(&seen[0], "stream"), "bus");
    cr_assert_str_eq(seen[0].description,
                     "Stream bus: consumer lag 20000 entries (threshold 10000)");
    cr_assert_str_eq(seen[1].rule, "critical_cpu");
    cr_assert_str_eq(seen[1].description, "CPU at 95 % (threshold 90 %)");

    g.cpu_percent = -1; /* could not be measured: no data resolves */
    alerts_evaluate(eng, &ro, &g, T0 + 3 * M, record, &n_seen);
    cr_assert_eq(n_seen, 3);
    cr_assert_str_eq(seen[2].rule, "critical_cpu");
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    alerts_evaluate(eng, &ro, NULL, T0 + 4 * M, record, &n_seen); /* no gauges: stream gone */
    cr_assert_eq(n_seen, 4);
    cr_assert_str_eq(seen[3].rule, "consumer_lag");
    cr_assert_eq(seen[3].state, BM_ALERT_RESOLVED);
}

Test(alerts, global_sums_and_named_scopes)
{
    alert_rule lag;
    alerts_rule_init(&lag);
    strcpy(lag.name, "total_lag");
    lag.metric = ALERT_METRIC_CONSUMER_LAG;
    lag.threshold = 100;
    alert_rule one = lag;
    strcpy(one.name, "bus_pending");
    one.metric = ALERT_METRIC_PENDING;
    one.scope = ALERT_SCOPE_STREAM;
    strcpy(one.target, "bus");
    one.threshold = 0;
    alert_rule inflight;
    alerts_rule_init(&inflight);
    strcpy(inflight.name, "inflight");
    inflight.metric = ALERT_METRIC_IN_FLIGHT;
    inflight.op = ALERT_OP_GE;
    inflight.threshold = 7;
    cr_assert_eq(alerts_set_rule(eng, &lag), 0);
    cr_assert_eq(alerts_set_rule(eng, &one), 0);
    cr_assert_eq(alerts_set_rule(eng, &inflight), 0);

    rollup_reset();
    worker(0, "a", 1, 0)->in_flight = 3;
    worker(1, "b", 1, 0)->in_flight = 4;
    alert_stream_gauge streams[3] = {{"bus", 60, 2}, {"x", 50, 0}, {"y", -1, -1}};
    alert_gauges g;
    alerts_gauges_init(&g);
    g.streams = streams;
    g.n_streams = 3;
    alerts_evaluate(eng, &ro, &g, T0, record, &n_seen);
    cr_assert_eq(n_seen, 3);
    cr_assert_str_eq(seen[0].rule, "total_lag");
    cr_assert_eq(seen[0].value, 110);
    cr_assert_eq(seen[0].n_labels, 0);
    cr_assert_str_eq(seen[1].rule, "bus_pending");
    cr_assert_str_eq(bm_alert_label_get(&seen[1], "stream"), "bus");
    cr_assert_str_eq(seen[2].rule, "inflight");
    cr_assert_eq(seen[2].value, 7);
}

Test(alerts, error_type_scopes)
{
    alert_rule each;
    alerts_rule_init(&each);
    strcpy(each.name, "per_type");
    each.metric = ALERT_METRIC_ERROR_COUNT;
    each.scope = ALERT_SCOPE_EACH_ERROR_TYPE;
    each.window = 0;
    each.threshold = 3;
    alert_rule quiet = each;
    strcpy(quiet.name, "no_timeouts");
    quiet.scope = ALERT_SCOPE_ERROR_TYPE;
    strcpy(quiet.target, "TimeoutError");
    quiet.op = ALERT_OP_LT;
    quiet.threshold = 1; /* fires while there are none */
    cr_assert_eq(alerts_set_rule(eng, &each), 0);
    cr_assert_eq(alerts_set_rule(eng, &quiet), 0);

    rollup_reset();
    bm_error_pattern pats[2];
    memset(pats, 0, sizeof pats);
    strcpy(pats[0].type, "NetworkError");
    pats[0].count[0] = 5;
    strcpy(pats[1].type, "ValueError");
    pats[1].count[0] = 1;
    ro.patterns = pats;
    ro.n_patterns = 2;
    eval(T0);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(seen[0].rule, "per_type");
    cr_assert_str_eq(bm_alert_label_get(&seen[0], "error_type"), "NetworkError");
    cr_assert_str_eq(seen[0].window, "1m");
    cr_assert_str_eq(seen[1].rule, "no_timeouts");
    cr_assert_str_eq(bm_alert_label_get(&seen[1], "error_type"), "TimeoutError");
    cr_assert_eq(seen[1].value, 0);

    strcpy(pats[1].type, "TimeoutError");
    pats[1].count[0] = 2;
    eval(T0 + M);
    cr_assert_eq(n_seen, 3);
    cr_assert_str_eq(seen[2].rule, "no_timeouts");
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_eq(seen[2].value, 2);
}

Test(alerts, named_worker_scope_and_window_labels)
{
    alert_rule r;
    alerts_rule_init(&r);
    strcpy(r.name, "research_p99");
    r.metric = ALERT_METRIC_P99_LATENCY_MS;
    r.scope = ALERT_SCOPE_WORKER;
    strcpy(r.target, "research");
    r.window = 2;
    r.threshold = 250;
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    rollup_reset();
    worker(0, "other", 10, 0);
    bm_worker_snapshot *w = worker(1, "research", 10, 0);
    strcpy(w->win[2].label, "30m"); /* a configured performance window */
    eval(T0);
    cr_assert_eq(n_seen, 1);
    cr_assert_str_eq(bm_alert_label_get(&seen[0], "worker"), "research");
    cr_assert_str_eq(seen[0].window, "30m");
    cr_assert_eq(seen[0].value, 300);
}

/* ---- save / load --------------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

static const msgpack_object *save(const alerts *x)
{
    msgpack_packer pk;
    size_t off = 0;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(alerts_save(x, &pk), 0);
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

/* eng replaced by an engine with `rules` and `history` records kept (0: the
 * default) loaded from eng's save (a restart). */
static void restart_keeping(const alert_rule *rules, size_t n, size_t history)
{
    alerts_limits lim = {.history = history};
    alerts *back = alerts_new(&lim);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(alerts_set_rule(back, &rules[i]), 0);
    char err[256] = "";
    cr_assert_eq(alerts_load(back, save(eng), err, sizeof err), BM_LOAD_OK, "%s", err);
    saved_done();
    alerts_free(eng);
    eng = back;
}

/* eng replaced by an engine with `rules` loaded from eng's save (a restart
 * with the same configuration). */
static void restart(const alert_rule *rules, size_t n)
{
    restart_keeping(rules, n, 0);
}

Test(alerts, a_restart_keeps_pending_for_since_and_the_cooldown)
{
    alert_rule r = rate_rule("high", 60 * S, 5 * M);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(stats().pending, 1);
    restart(&r, 1);
    cr_assert_eq(stats().pending, 1);
    eval(T0 + 59 * S);
    cr_assert_eq(n_seen, 0);
    eval(T0 + 60 * S); /* pending since T0, not since the restart */
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].state, BM_ALERT_FIRING);
    cr_assert_eq(seen[0].starts_at_us, T0 + 60 * S);

    restart(&r, 1);
    alerts_stats st = stats();
    cr_assert_eq(st.firing, 1);
    cr_assert_eq(st.notifications, 1);
    cr_assert_eq(st.transitions, 1);
    cr_assert_eq(st.evaluations, 3);
    bm_alert f[2];
    cr_assert_eq(alerts_firing(eng, f, 2), 1);
    cr_assert_eq(f[0].fingerprint, seen[0].fingerprint);
    cr_assert_eq(f[0].value, 0.5);
    cr_assert_str_eq(f[0].window, "5m");
    cr_assert_eq(f[0].ts_us, T0 + 60 * S);
    eval(T0 + 5 * M + 59 * S);
    cr_assert_eq(n_seen, 1, "inside the cooldown: silent, not FIRING again");
    eval(T0 + 6 * M); /* cooldown from the last notification, before the restart */
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_REPEAT);
    cr_assert_eq(seen[1].starts_at_us, T0 + 60 * S);

    restart(&r, 1);
    worker(0, "w1", 10, 0);
    eval(T0 + 7 * M);
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_eq(seen[2].starts_at_us, T0 + 60 * S);
    cr_assert_eq(seen[2].ends_at_us, T0 + 7 * M);

    restart(&r, 1);
    bm_alert h[4];
    cr_assert_eq(alerts_history(eng, h, 4), 2);
    cr_assert_eq(h[0].state, BM_ALERT_RESOLVED);
    cr_assert_eq(h[1].state, BM_ALERT_FIRING);
    cr_assert_eq(h[1].ts_us, T0 + 60 * S);
    cr_assert_eq(stats().transitions, 2);
    cr_assert_eq(stats().notifications, 3);
}

Test(alerts, a_restart_that_lost_a_vanished_worker_resolves_it)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    restart(&r, 1);
    rollup_reset(); /* the worker is gone after the restart */
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_RESOLVED);
    cr_assert_eq(stats().firing, 0);
}

Test(alerts, load_leaves_out_rules_not_held_and_keeps_the_bound)
{
    alert_rule a = rate_rule("a", 0, 0), b = rate_rule("b", 0, 0);
    alerts_set_rule(eng, &a);
    alerts_set_rule(eng, &b);
    rollup_reset();
    worker(0, "w1", 10, 5);
    worker(1, "w2", 10, 5);
    worker(2, "w3", 10, 5);
    eval(T0);
    cr_assert_eq(stats().firing, 6);
    restart(&b, 1); /* rule a removed from the configuration */
    cr_assert_eq(stats().firing, 3);
    cr_assert_eq(stats().rules, 1);

    alerts_limits lim = {.max_instances = 2, .history = 2};
    alerts *small = alerts_new(&lim);
    alerts_set_rule(small, &b);
    cr_assert_eq(alerts_load(small, save(eng), NULL, 0), BM_LOAD_OK);
    saved_done();
    alerts_stats st;
    alerts_get_stats(small, &st);
    cr_assert_eq(st.firing, 2);
    cr_assert_eq(st.refused, 1);
    bm_alert h[8];
    cr_assert_eq(alerts_history(small, h, 8), 2, "the newest of 6");
    alerts_free(small);
}

/* Rule r held by eng and firing for worker w1 (half its executions failed) at T0. */
static void firing_for_w1(const alert_rule *r)
{
    alerts_set_rule(eng, r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    eval(T0);
    cr_assert_eq(stats().firing, 1);
}

Test(alerts, a_rule_removed_across_a_restart_resolves_its_firing_alerts)
{
    alert_rule a = rate_rule("a", 0, 0), b = rate_rule("b", 0, 0);
    a.labels[0] = (bm_alert_label){"team", "pay"};
    a.n_labels = 1;
    firing_for_w1(&a);
    alerts_set_rule(eng, &b);
    worker(1, "w2", 10, 5);
    eval(T0); /* a for w2, b for w1 and w2 */
    cr_assert_eq(n_seen, 4);
    bm_alert fired_a[2] = {seen[0], seen[1]};
    cr_assert_str_eq(fired_a[0].rule, "a");
    cr_assert_str_eq(fired_a[1].rule, "a");
    restart(&b, 1); /* rule a removed from the configuration */
    cr_assert_eq(stats().firing, 2);
    const char *rule, *target;
    cr_assert_eq(alerts_load_unresolved(eng, 0, &rule, &target), -1);
    restart(&b, 1); /* and again before any evaluation: still to resolve */
    worker(0, "w1", 10, 3);
    eval(T0 + M);
    cr_assert_eq(n_seen, 6, "one resolve per alert of the removed rule");
    for (size_t i = 0; i < 2; i++) {
        const bm_alert *r = &seen[4 + i], *f = &fired_a[i];
        cr_assert_eq(r->state, BM_ALERT_RESOLVED);
        cr_assert_str_eq(r->rule, "a");
        cr_assert_eq(r->fingerprint, f->fingerprint);
        cr_assert_eq(r->n_labels, 2);
        cr_assert_str_eq(r->labels[0].key, "team");
        cr_assert_str_eq(r->labels[1].value, f->labels[1].value);
        cr_assert_eq(r->starts_at_us, T0);
        cr_assert_eq(r->ends_at_us, T0 + M);
        cr_assert_eq(r->ts_us, T0 + M);
        cr_assert_eq(r->value, 0.5);
        cr_assert(strstr(r->description, "rule removed from the configuration"), "%s",
                  r->description);
        cr_assert(strstr(r->description, f->description), "%s", r->description);
    }
    cr_assert_eq(stats().firing, 2, "rule b's");
    bm_alert h[8];
    cr_assert_eq(alerts_history(eng, h, 8), 6);
    cr_assert_eq(h[0].state, BM_ALERT_RESOLVED);
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 6, "resolved once");
    restart(&b, 1);
    eval(T0 + 3 * M);
    cr_assert_eq(n_seen, 6, "and not again after another restart");
}

Test(alerts, a_rule_relabeled_across_a_restart_resolves_the_old_fingerprint)
{
    alert_rule r = rate_rule("high", 0, 0);
    firing_for_w1(&r);
    uint64_t old_fp = seen[0].fingerprint;

    alert_rule sev = r; /* the severity is not in the fingerprint: the alert goes on */
    sev.severity = BM_SEVERITY_CRITICAL;
    restart(&sev, 1);
    cr_assert_eq(stats().firing, 1);
    eval(T0 + M);
    cr_assert_eq(n_seen, 1, "same alert, nothing to say");

    alert_rule lab = sev;
    lab.labels[0] = (bm_alert_label){"team", "pay"};
    lab.n_labels = 1;
    restart(&lab, 1);
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 3);
    cr_assert_eq(seen[1].state, BM_ALERT_RESOLVED);
    cr_assert_eq(seen[1].fingerprint, old_fp);
    cr_assert_eq(seen[1].n_labels, 1);
    cr_assert(strstr(seen[1].description, "labels changed"), "%s", seen[1].description);
    cr_assert_eq(seen[2].state, BM_ALERT_FIRING, "the new alert starts its own lifecycle");
    cr_assert_neq(seen[2].fingerprint, old_fp);
    cr_assert_eq(seen[2].n_labels, 2);
    cr_assert_eq(seen[2].starts_at_us, T0 + 2 * M);
    cr_assert_eq(stats().firing, 1);
}

/* The save of eng with every instance's own firing record taken out: a
 * checkpoint of a busmon that kept it only in the history ("record" is the
 * last key of a firing instance). */
static const msgpack_object *save_without_records(const alerts *x)
{
    const msgpack_object *o = save(x);
    const msgpack_object *insts = bm_sc_get(o, "instances");
    cr_assert(insts && insts->type == MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < insts->via.array.size; i++) {
        msgpack_object_map *m = (msgpack_object_map *)&insts->via.array.ptr[i].via.map;
        const msgpack_object *k = &m->ptr[m->size - 1].key;
        if (k->via.str.size == 6 && !memcmp(k->via.str.ptr, "record", 6)) m->size--;
    }
    cr_assert_null(bm_sc_get(&insts->via.array.ptr[0], "record"));
    return o;
}

/* eng: rule a firing for w1 since T0, then rule b too, b's firing record the
 * newest (an engine keeping one record of history has only b's). */
static void a_then_b_firing(const alert_rule *a, const alert_rule *b)
{
    firing_for_w1(a);
    alerts_set_rule(eng, b);
    eval(T0 + M);
    cr_assert_eq(n_seen, 2);
    cr_assert_str_eq(seen[1].rule, b->name);
}

Test(alerts, a_removed_rule_whose_history_record_is_gone_still_resolves)
{
    alert_rule a = rate_rule("a", 0, 0), b = rate_rule("b", 0, 0);
    a.labels[0] = (bm_alert_label){"team", "pay"};
    a.n_labels = 1;
    a_then_b_firing(&a, &b);
    bm_alert fired = seen[0];
    restart_keeping(&b, 1, 1); /* rule a removed */
    bm_alert h[2];
    cr_assert_eq(alerts_history(eng, h, 2), 1);
    cr_assert_str_eq(h[0].rule, "b", "a's firing record is not in the history");
    const char *rule = NULL, *target = NULL;
    cr_assert_eq(alerts_load_unresolved(eng, 0, &rule, &target), -1, "nothing unresolved");
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 3, "the resolve of a's alert");
    const bm_alert *r = &seen[2];
    cr_assert_eq(r->state, BM_ALERT_RESOLVED);
    cr_assert_str_eq(r->rule, "a");
    cr_assert_eq(r->fingerprint, fired.fingerprint);
    cr_assert_eq(r->n_labels, 2);
    cr_assert_str_eq(bm_alert_label_get(r, "team"), "pay");
    cr_assert_str_eq(bm_alert_label_get(r, "worker"), "w1");
    cr_assert_eq(r->severity, fired.severity);
    cr_assert_eq(r->starts_at_us, T0);
    cr_assert_eq(r->ends_at_us, T0 + 2 * M);
    cr_assert(strstr(r->description, "rule removed from the configuration"), "%s", r->description);
    alerts_stats st;
    alerts_get_stats(eng, &st);
    cr_assert_eq(st.firing, 1, "b's");
    eval(T0 + 3 * M);
    cr_assert_eq(n_seen, 3, "resolved once");
}

Test(alerts, a_relabeled_rule_whose_history_record_is_gone_resolves_the_old_fingerprint)
{
    alert_rule a = rate_rule("a", 0, 0), b = rate_rule("b", 0, 0);
    a_then_b_firing(&a, &b);
    uint64_t old_fp = seen[0].fingerprint;
    alert_rule lab = a;
    lab.labels[0] = (bm_alert_label){"team", "ops"};
    lab.n_labels = 1;
    const alert_rule held[] = {lab, b};
    restart_keeping(held, 2, 1);
    eval(T0 + 2 * M);
    cr_assert_eq(n_seen, 4, "the old alert's resolve, the new one's firing");
    cr_assert_eq(seen[2].state, BM_ALERT_RESOLVED);
    cr_assert_eq(seen[2].fingerprint, old_fp);
    cr_assert(strstr(seen[2].description, "labels changed"), "%s", seen[2].description);
    cr_assert_eq(seen[3].state, BM_ALERT_FIRING);
    cr_assert_neq(seen[3].fingerprint, old_fp);
    cr_assert_str_eq(bm_alert_label_get(&seen[3], "team"), "ops");
}

Test(alerts, a_saved_firing_instance_carries_its_firing_record)
{
    alert_rule a = rate_rule("a", 0, 0);
    a.cooldown_us = 0;
    firing_for_w1(&a);
    bm_alert fired = seen[0];
    worker(0, "w1", 10, 6);
    eval(T0 + M); /* still firing, another value */
    const msgpack_object *insts = bm_sc_get(save(eng), "instances");
    const msgpack_object *r = bm_sc_get(&insts->via.array.ptr[0], "record");
    cr_assert_not_null(r);
    bm_alert rec;
    char err[128];
    cr_assert_eq(bm_alert_decode_msgpack(r, &rec, err, sizeof err), 0, "%s", err);
    saved_done();
    cr_assert_eq(rec.state, BM_ALERT_FIRING);
    cr_assert_eq(rec.fingerprint, fired.fingerprint);
    cr_assert_eq(rec.starts_at_us, T0);
    cr_assert_eq(rec.ts_us, T0);
}

Test(alerts, an_old_checkpoint_without_the_record_lists_the_alert_unresolved)
{
    alert_rule a = rate_rule("a", 0, 0), b = rate_rule("b", 0, 0);
    a_then_b_firing(&a, &b);
    alerts_limits lim = {.history = 1};
    alerts *small = alerts_new(&lim);
    alerts_set_rule(small, &b);
    cr_assert_eq(alerts_load(small, save_without_records(eng), NULL, 0), BM_LOAD_OK);
    saved_done();
    const char *rule = NULL, *target = NULL;
    cr_assert_eq(alerts_load_unresolved(small, 0, &rule, &target), 0);
    cr_assert_str_eq(rule, "a");
    cr_assert_str_eq(target, "w1");
    cr_assert_eq(alerts_load_unresolved(small, 1, &rule, &target), -1);
    size_t before = n_seen;
    alerts_evaluate(small, &ro, NULL, T0 + 2 * M, NULL, NULL);
    cr_assert_eq(n_seen, before);
    cr_assert_eq(alerts_load_unresolved(small, 0, &rule, &target), -1, "said until then");
    alerts_free(small);
}

Test(alerts, load_refuses_a_record_of_another_instance)
{
    alert_rule a = rate_rule("a", 0, 0);
    firing_for_w1(&a);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    bm_alert other = seen[0];
    other.starts_at_us = T0 - M; /* not when this instance began firing */
    cr_assert_eq(bm_alert_encode_msgpack(&other, NULL, &sb), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *insts = bm_sc_get(save(eng), "instances");
    msgpack_object_map *m = (msgpack_object_map *)&insts->via.array.ptr[0].via.map;
    m->ptr[m->size - 1].val = u.data;
    alerts *back = alerts_new(NULL);
    alerts_set_rule(back, &a);
    char err[256] = "";
    cr_assert_eq(alerts_load(back, &saved_obj.data, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "record"), "%s", err);
    saved_done();
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    alerts_free(back);
}

Test(alerts, load_refuses_corrupt_saves_and_changes_nothing)
{
    alert_rule r = rate_rule("high", 0, 0);
    alerts_set_rule(eng, &r);
    rollup_reset();
    worker(0, "w1", 10, 5);
    worker(1, "w2", 10, 5);
    eval(T0);
    const msgpack_object *o = save(eng);
    const msgpack_object *insts = bm_sc_get(o, "instances");
    cr_assert_eq(insts->via.array.size, 2);
    msgpack_object_kv top[4];
    char err[256];

    /* one instance twice */
    msgpack_object twice[2] = {insts->via.array.ptr[0], insts->via.array.ptr[0]};
    memcpy(top, o->via.map.ptr, o->via.map.size * sizeof *top);
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (&o->via.map.ptr[i].val == insts) top[i].val.via.array.ptr = twice;
    msgpack_object bad = *o;
    bad.via.map.ptr = top;
    alerts *other = alerts_new(NULL);
    alerts_set_rule(other, &r);
    cr_assert_eq(alerts_load(other, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "saved twice"), "%s", err);

    /* a state that is neither pending nor firing */
    msgpack_object_kv ik[16];
    const msgpack_object *i0 = &insts->via.array.ptr[0];
    memcpy(ik, i0->via.map.ptr, i0->via.map.size * sizeof *ik);
    for (uint32_t i = 0; i < i0->via.map.size; i++)
        if (ik[i].key.via.str.size == 5 && !memcmp(ik[i].key.via.str.ptr, "state", 5))
            ik[i].val.via.str = (msgpack_object_str){7, "resting"};
    twice[0] = *i0;
    twice[0].via.map.ptr = ik;
    cr_assert_eq(alerts_load(other, &bad, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert(strstr(err, "alerts: instances[0]: 'state' is 'resting'"), "%s", err);
    saved_done();

    alerts_stats st;
    alerts_get_stats(other, &st);
    cr_assert_eq(st.firing + st.pending + st.evaluations, 0, "unchanged");
    alerts_free(other);
}

/* ---- anomaly rules against learned baselines -------------------------------- */

static void eval_with(const baselines *b, int64_t now)
{
    alert_gauges g;
    alerts_gauges_init(&g);
    g.baselines = b;
    alerts_evaluate(eng, &ro, &g, now, record, &n_seen);
}

Test(alerts, latency_anomaly_quiet_until_ready_then_pending_firing_resolved)
{
    baseline_config bc;
    baseline_config_defaults(&bc);
    bc.min_samples = 5;
    bc.min_learning_us = 5 * M;
    baselines *b = baselines_new(&bc);
    const alert_rule *builtin = alerts_builtin_find("latency_anomaly");
    cr_assert_not_null(builtin);
    alert_rule r = *builtin;
    r.for_us = 20 * S;
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    rollup_reset();
    bm_worker_snapshot *w = worker(0, "w1", 10, 0);
    double v[BASELINE__SERIES] = {40000, 50000, 0, 10};
    for (int i = 0; i < 5; i++)
        baselines_observe(b, "w1", v, T0 + i * S);
    /* 400 ms now, the baseline not ready (5 s of the 5 min learned): no data */
    w->win[0].p95_us = 400000;
    eval_with(b, T0 + 10 * S);
    cr_assert_eq(stats().pending, 0);
    eval_with(NULL, T0 + 6 * M);
    cr_assert_eq(stats().pending, 0, "no baselines given: no data");
    /* ready: pending, then firing after `for` */
    eval_with(b, T0 + 6 * M);
    cr_assert_eq(stats().pending, 1);
    eval_with(b, T0 + 6 * M + 20 * S);
    cr_assert_eq(stats().firing, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].state, BM_ALERT_FIRING);
    cr_assert_float_eq(seen[0].value, 8.0, 1e-9);
    cr_assert_str_eq(seen[0].description,
                     "Worker w1: p95 400 ms is 8.0 \xc3\x97 its baseline 50 ms over 1m "
                     "(threshold 5)");
    /* back to 50 ms: resolved */
    w->win[0].p95_us = 50000;
    eval_with(b, T0 + 7 * M);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[1].state, BM_ALERT_RESOLVED);
    cr_assert_eq(stats().firing, 0);
    baselines_free(b);
}

Test(alerts, error_rate_anomaly_in_standard_deviations)
{
    baseline_config bc;
    baseline_config_defaults(&bc);
    bc.min_samples = 1;
    bc.min_learning_us = 0;
    baselines *b = baselines_new(&bc);
    alert_rule r = *alerts_builtin_find("error_rate_anomaly");
    r.baseline_mode = BASELINE_MODE_STDDEV;
    r.threshold = 3;
    r.for_us = 0;
    cr_assert_eq(alerts_set_rule(eng, &r), 0);
    rollup_reset();
    worker(0, "w1", 10, 5); /* 50 % */
    double v[BASELINE__SERIES] = {40000, 50000, 0.10, 10};
    baselines_observe(b, "w1", v, T0);
    alert_gauges g;
    alerts_gauges_init(&g);
    g.baselines = b;
    g.anomaly_min_executions = 11; /* 10 executions: too few to judge a rate */
    alerts_evaluate(eng, &ro, &g, T0 + S, record, &n_seen);
    cr_assert_eq(stats().firing, 0);
    eval_with(b, T0 + S);
    cr_assert_eq(stats().firing, 1);
    /* (0.5 - 0.1) / max(0, 10 % of 0.1) = 40 standard deviations */
    cr_assert_float_eq(seen[0].value, 40.0, 1e-9);
    baselines_free(b);
}

/* ---- `for` and the cooldown on the monotonic clock (alerts_evaluate_mono) ---- */

#define MONO0 (42 * S) /* the monotonic clock at the start */

/* held (for 30 s) and repeats (cooldown 30 s): memory_percent >= 0, always true */
static alert_rule clock_rules[2];

static void add_clock_rules(void)
{
    for (int i = 0; i < 2; i++) {
        alert_rule *r = &clock_rules[i];
        alerts_rule_init(r);
        snprintf(r->name, sizeof r->name, "%s", i ? "repeats" : "held");
        r->metric = ALERT_METRIC_MEMORY_PERCENT;
        r->op = ALERT_OP_GE;
        r->for_us = i ? 0 : 30 * S;
        r->cooldown_us = i ? 30 * S : 0;
        cr_assert_eq(alerts_set_rule(eng, r), 0);
    }
}

static void eval_mono(int64_t wall, int64_t mono)
{
    alert_gauges g;
    alerts_gauges_init(&g);
    g.memory_percent = 50;
    alerts_evaluate_mono(eng, NULL, &g, wall, mono, record, &n_seen);
}

/* notifications of `rule` in `state` so far */
static size_t sent(const char *rule, bm_alert_state state)
{
    size_t n = 0;
    for (size_t i = 0; i < n_seen; i++)
        n += !strcmp(seen[i].rule, rule) && seen[i].state == state;
    return n;
}

Test(alerts, a_wall_clock_step_ahead_neither_fires_nor_repeats)
{
    add_clock_rules();
    eval_mono(T0, MONO0);
    cr_assert_eq(sent("repeats", BM_ALERT_FIRING), 1);
    eval_mono(T0 + 3610 * S, MONO0 + 10 * S); /* the wall clock an hour ahead, 10 s on */
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 0, "held fired 10 s into its 30 s");
    cr_assert_eq(sent("repeats", BM_ALERT_REPEAT), 0, "repeated 10 s into its 30 s");
    eval_mono(T0 + 3630 * S, MONO0 + 30 * S);
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 1);
    cr_assert_eq(sent("repeats", BM_ALERT_REPEAT), 1);
    cr_assert_eq(seen[n_seen - 1].ts_us, T0 + 3630 * S, "records keep the wall clock");
}

Test(alerts, a_wall_clock_step_back_holds_nothing_back)
{
    add_clock_rules();
    eval_mono(T0, MONO0);
    eval_mono(T0 - 3590 * S, MONO0 + 10 * S); /* the wall clock an hour back, 10 s on */
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 0);
    eval_mono(T0 - 3570 * S, MONO0 + 30 * S);
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 1, "held waits for the wall clock's hour");
    cr_assert_eq(sent("repeats", BM_ALERT_REPEAT), 1, "repeats waits for the wall clock's hour");
}

Test(alerts, a_restart_ages_on_the_wall_clock_with_another_monotonic_clock)
{
    add_clock_rules();
    eval_mono(T0, MONO0);
    eval_mono(T0 + 10 * S, MONO0 + 10 * S);
    restart(clock_rules, 2); /* 5 s later; the new process's monotonic clock starts near 0 */
    eval_mono(T0 + 15 * S, 1 * S);
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 0, "held fired 15 s into its 30 s");
    cr_assert_eq(sent("repeats", BM_ALERT_REPEAT), 0);
    eval_mono(T0 + 29 * S, 15 * S);
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 0);
    eval_mono(T0 + 30 * S, 16 * S);
    cr_assert_eq(sent("held", BM_ALERT_FIRING), 1, "held's 30 s counted across the restart");
    cr_assert_eq(sent("repeats", BM_ALERT_REPEAT), 1);
    cr_assert_eq(sent("repeats", BM_ALERT_FIRING), 1, "not fired again after the restart");
}
