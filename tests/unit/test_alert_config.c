/*
 * test_alert_config.c - the `alerts:` section from YAML text: defaults, a
 * good configuration, built-in overrides and disabling, and each kind of
 * bad rule refused with its line and reason.
 */
#include "agent/config/alert_rules.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static bm_alert_config cfg;
static char err[1024];
static char warnings[4][512];
static size_t n_warnings;

static void on_warn(const char *msg, void *arg)
{
    cr_assert_eq(arg, &n_warnings);
    if (n_warnings < 4) snprintf(warnings[n_warnings], sizeof warnings[0], "%s", msg);
    n_warnings++;
}

static void setup(void)
{
    cr_assert_eq(bm_alert_config_init(&cfg), 0);
    err[0] = '\0';
    n_warnings = 0;
}

static void teardown(void)
{
    bm_alert_config_deinit(&cfg);
}

TestSuite(alert_config, .init = setup, .fini = teardown);

static int parse(const char *yaml)
{
    return bm_alert_config_parse_string(&cfg, yaml, strlen(yaml), "busmon.yaml", err, sizeof err,
                                        on_warn, &n_warnings);
}

static void expect_error(const char *yaml, const char *message)
{
    size_t before = cfg.n_rules;
    cr_assert_eq(parse(yaml), -1, "accepted; expected: %s", message);
    cr_assert_str_eq(err, message);
    cr_assert_eq(cfg.n_rules, before); /* left as it was */
}

Test(alert_config, defaults_hold_the_builtins)
{
    cr_assert_eq(cfg.enabled, 1);
    cr_assert_eq(cfg.interval_us, 10000000);
    cr_assert_eq(cfg.history, 100);
    cr_assert_eq(cfg.max_alerts, 10000);
    cr_assert_eq(cfg.n_rules, 9);
    cr_assert_not_null(bm_alert_config_find(&cfg, "high_error_rate"));
    cr_assert_not_null(bm_alert_config_find(&cfg, "critical_cpu"));

    cr_assert_eq(parse("redis:\n  url: redis://x\n"), 0, "%s", err); /* no alerts: section */
    cr_assert_eq(cfg.n_rules, 9);
    cr_assert_eq(parse("alerts:\n"), 0, "%s", err);
    cr_assert_eq(cfg.n_rules, 9);
    cr_assert_eq(parse("alerts: false\n"), 0, "%s", err);
    cr_assert_eq(cfg.enabled, 0);
    cr_assert_eq(parse(""), 0, "%s", err);
    cr_assert_eq(cfg.enabled, 1);
}

Test(alert_config, good_configuration)
{
    const char *yaml =
        "redis:\n"
        "  url: redis://127.0.0.1:6379\n"
        "alerts:\n"
        "  enabled: yes\n"
        "  interval: 15s\n"
        "  history: 500\n"
        "  max_alerts: 2000\n"
        "  webhooks: []\n" /* the outputs' key: no warning */
        "  rules:\n"
        "    - name: research_slow\n"
        "      metric: p95_latency_ms\n"
        "      scope: worker:research\n"
        "      op: \">=\"\n"
        "      threshold: 2000\n"
        "      window: 1h\n"
        "      for: 90\n"
        "      severity: ERROR\n"
        "      cooldown: 1h\n"
        "      labels: {team: search, tier: \"1\"}\n"
        "      description: \"research p95 {value} ms over {window} ({labels.team})\"\n"
        "    - name: bus_pending\n"
        "      metric: pending\n"
        "      stream: bus\n"
        "      comparator: \">\"\n"
        "      threshold: 500\n"
        "      for: 250ms\n"
        "    - name: lag\n"
        "      metric: consumer_lag\n"
        "      threshold: 1e5\n"
        "    - name: timeouts\n"
        "      metric: error_count\n"
        "      scope: {error_type: TimeoutError}\n"
        "      threshold: 3\n"
        "    - name: any_failed\n"
        "      metric: health\n"
        "      op: ==\n"
        "      threshold: failed\n"
        "      enabled: false\n";
    cr_assert_eq(parse(yaml), 0, "%s", err);
    cr_assert_eq(n_warnings, 0, "%s", warnings[0]);
    cr_assert_eq(cfg.interval_us, 15000000);
    cr_assert_eq(cfg.history, 500);
    cr_assert_eq(cfg.max_alerts, 2000);
    cr_assert_eq(cfg.n_rules, 14);

    const alert_rule *r = bm_alert_config_find(&cfg, "research_slow");
    cr_assert_not_null(r);
    cr_assert_eq(r, &cfg.rules[9]); /* after the built-ins, in file order */
    cr_assert_eq(r->metric, ALERT_METRIC_P95_LATENCY_MS);
    cr_assert_eq(r->scope, ALERT_SCOPE_WORKER);
    cr_assert_str_eq(r->target, "research");
    cr_assert_eq(r->op, ALERT_OP_GE);
    cr_assert_eq(r->threshold, 2000);
    cr_assert_eq(r->window, 2);
    cr_assert_eq(r->for_us, 90000000);
    cr_assert_eq(r->severity, BM_SEVERITY_ERROR);
    cr_assert_eq(r->cooldown_us, 3600000000LL);
    cr_assert_eq(r->n_labels, 2);
    cr_assert_str_eq(r->labels[0].key, "team");
    cr_assert_str_eq(r->labels[0].value, "search");
    cr_assert_str_eq(r->labels[1].key, "tier");
    cr_assert_str_eq(r->labels[1].value, "1");
    cr_assert_str_eq(r->description, "research p95 {value} ms over {window} ({labels.team})");
    cr_assert_eq(r->enabled, 1);

    r = bm_alert_config_find(&cfg, "bus_pending");
    cr_assert_eq(r->scope, ALERT_SCOPE_STREAM);
    cr_assert_str_eq(r->target, "bus");
    cr_assert_eq(r->op, ALERT_OP_GT);
    cr_assert_eq(r->window, -1);
    cr_assert_eq(r->for_us, 250000);
    cr_assert_eq(r->severity, BM_SEVERITY_WARNING); /* defaults */
    cr_assert_eq(r->cooldown_us, 15 * 60000000LL);

    r = bm_alert_config_find(&cfg, "lag");
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_STREAM); /* the metric's default scope */
    cr_assert_eq(r->threshold, 100000);

    r = bm_alert_config_find(&cfg, "timeouts");
    cr_assert_eq(r->scope, ALERT_SCOPE_ERROR_TYPE);
    cr_assert_str_eq(r->target, "TimeoutError");
    cr_assert_eq(r->window, 1); /* 5m by default */

    r = bm_alert_config_find(&cfg, "any_failed");
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_WORKER);
    cr_assert_eq(r->threshold, ALERT_HEALTH_FAILED);
    cr_assert_eq(r->enabled, 0);

    alerts *eng = bm_alert_config_new_engine(&cfg);
    cr_assert_not_null(eng);
    cr_assert_eq(alerts_rule_count(eng), 14);
    alerts_free(eng);
}

Test(alert_config, overriding_and_disabling_builtins)
{
    const char *yaml = "alerts:\n"
                       "  disable: [critical_cpu, my_rule]\n"
                       "  rules:\n"
                       "    - name: high_error_rate\n"
                       "      threshold: 0.25\n"
                       "      for: 5m\n"
                       "      labels: {team: core}\n"
                       "    - name: high_latency\n"
                       "      metric: p99_latency_ms\n"
                       "    - name: worker_degraded\n"
                       "      enabled: off\n"
                       "    - name: my_rule\n"
                       "      metric: cpu_percent\n"
                       "      threshold: 50\n";
    cr_assert_eq(parse(yaml), 0, "%s", err);
    cr_assert_eq(cfg.n_rules, 10);

    const alert_rule *r = bm_alert_config_find(&cfg, "high_error_rate");
    cr_assert_eq(r, &cfg.rules[0]); /* in place */
    cr_assert_eq(r->threshold, 0.25);
    cr_assert_eq(r->for_us, 300000000);
    cr_assert_eq(r->metric, ALERT_METRIC_ERROR_RATE); /* the rest from the built-in */
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_WORKER);
    cr_assert_eq(r->window, 1);
    cr_assert_eq(r->severity, BM_SEVERITY_WARNING);
    cr_assert_str_eq(r->description, alerts_builtin_find("high_error_rate")->description);
    cr_assert_eq(r->n_labels, 1);

    r = bm_alert_config_find(&cfg, "high_latency");
    cr_assert_eq(r->metric, ALERT_METRIC_P99_LATENCY_MS);
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_WORKER);
    cr_assert_eq(r->threshold, 5000);
    cr_assert_eq(r->window, 1);

    cr_assert_eq(bm_alert_config_find(&cfg, "worker_degraded")->enabled, 0);
    cr_assert_eq(bm_alert_config_find(&cfg, "critical_cpu")->enabled, 0);
    cr_assert_eq(bm_alert_config_find(&cfg, "my_rule")->enabled, 0);
    cr_assert_eq(bm_alert_config_find(&cfg, "worker_failed")->enabled, 1);
}

Test(alert_config, builtins_off)
{
    cr_assert_eq(parse("alerts:\n"
                       "  rules:\n"
                       "    - {name: cpu, metric: cpu_percent, threshold: 80, severity: info}\n"
                       "  builtins: false\n"),
                 0, "%s", err);
    cr_assert_eq(cfg.builtins, 0);
    cr_assert_eq(cfg.n_rules, 1);
    cr_assert_str_eq(cfg.rules[0].name, "cpu");
    /* without the built-ins, a built-in's name is a new rule: metric required */
    expect_error("alerts:\n"
                 "  builtins: false\n"
                 "  rules:\n"
                 "    - name: high_error_rate\n"
                 "      threshold: 0.2\n",
                 "busmon.yaml:4: rule 'high_error_rate': missing metric");
}

Test(alert_config, unknown_keys_under_alerts_warn)
{
    cr_assert_eq(parse("alerts:\n  evaluation: 30s\n  stream: busmon:alerts\n"), 0, "%s", err);
    cr_assert_eq(n_warnings, 1);
    cr_assert_str_eq(warnings[0], "busmon.yaml:2: unknown key 'alerts.evaluation' (ignored)");
}

Test(alert_config, bad_rules_with_line_and_reason)
{
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - metric: error_rate\n"
                 "      threshold: 1\n",
                 "busmon.yaml:3: rule #1: missing name");
    expect_error(
        "alerts:\n"
        "  rules:\n"
        "    - name: a\n"
        "      metric: cpu_percent\n"
        "      threshold: 1\n"
        "    - name: b\n"
        "      metric: latency\n"
        "      threshold: 1\n",
        "busmon.yaml:7: rule 'b': unknown metric 'latency' (known: error_rate, "
        "success_rate, avg_latency_ms, p95_latency_ms, p99_latency_ms, "
        "throughput_per_min, error_count, in_flight, health, consumer_lag, pending, "
        "deadletter_rate, cpu_percent, memory_percent, latency_anomaly, error_rate_anomaly)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      op: \"=>\"\n"
                 "      threshold: 0.1\n",
                 "busmon.yaml:5: rule 'x': unknown comparator '=>' (use >, >=, <, <=, ==, !=)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      for: -5m\n",
                 "busmon.yaml:6: rule 'x': 'for' must not be negative ('-5m')");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      cooldown: soon\n",
                 "busmon.yaml:6: rule 'x': 'cooldown' must be a duration like 30s, 5m, 1h or "
                 "seconds, not 'soon'");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      severity: fatal\n",
                 "busmon.yaml:6: rule 'x': unknown severity 'fatal' (use info, warning, error, "
                 "critical)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: cpu_percent\n"
                 "      scope: each_worker\n"
                 "      threshold: 90\n",
                 "busmon.yaml:3: rule 'x': metric cpu_percent cannot be used with scope "
                 "each_worker (it allows: global)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: health\n"
                 "      worker: w1\n"
                 "      threshold: sick\n",
                 "busmon.yaml:6: rule 'x': threshold must be failed, degraded, ok or 0-2, not "
                 "'sick'");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: health\n"
                 "      op: \">=\"\n"
                 "      threshold: 3\n",
                 "busmon.yaml:3: rule 'x': threshold must be failed, degraded, ok or 0-2 for "
                 "metric health");
    expect_error("alerts:\n" /* a built-in's threshold (5000 ms) kept with another metric */
                 "  rules:\n"
                 "    - name: high_latency\n"
                 "      metric: health\n",
                 "busmon.yaml:3: rule 'high_latency': threshold must be failed, degraded, ok or "
                 "0-2 for metric health");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n",
                 "busmon.yaml:3: rule 'x': missing threshold");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      treshold: 0.1\n",
                 "busmon.yaml:5: rule 'x': unknown key 'treshold' (known: name, metric, scope, "
                 "op, threshold, window, for, severity, cooldown, baseline, labels, description, "
                 "enabled); did you mean 'threshold'?");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      window: 10m\n",
                 "busmon.yaml:6: rule 'x': unknown window '10m' (use 1m, 5m or 1h)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: in_flight\n"
                 "      threshold: 10\n"
                 "      window: 5m\n",
                 "busmon.yaml:3: rule 'x': metric in_flight has no window (it is a current "
                 "value)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      scope: planet:mars\n"
                 "      threshold: 0.1\n",
                 "busmon.yaml:5: rule 'x': unknown scope 'planet:mars' (use global, "
                 "each_worker, worker:NAME, each_stream, stream:NAME, each_error_type, "
                 "error_type:NAME)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      scope: worker\n"
                 "      threshold: 0.1\n",
                 "busmon.yaml:3: rule 'x': scope worker needs a name (worker: NAME)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: lots\n",
                 "busmon.yaml:5: rule 'x': threshold must be a number, not 'lots'");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      labels: {severity: high}\n",
                 "busmon.yaml:3: rule 'x': label 'severity' is reserved (busmon sets it)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      description: \"{value} vs {limit}\"\n",
                 "busmon.yaml:3: rule 'x': description: unknown placeholder {limit} (known: "
                 "{value} {threshold} {op} {metric} {window} {rule} {severity} {worker} "
                 "{stream} {error_type} {target} {detail} {labels.KEY})");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: bad name\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n",
                 "busmon.yaml:3: rule 'bad name': name 'bad name' may only hold letters, "
                 "digits, '_', '-' and '.'");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: cpu_percent\n"
                 "      threshold: 1\n"
                 "    - name: x\n"
                 "      metric: cpu_percent\n"
                 "      threshold: 2\n",
                 "busmon.yaml:6: rule 'x': defined twice (first at line 3)");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - just a string\n",
                 "busmon.yaml:3: rule #1: must be a mapping (name: ..., metric: ...), not a "
                 "value");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      worker: a\n"
                 "      scope: global\n",
                 "busmon.yaml:6: rule 'x': give either scope or worker, not both");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: x\n"
                 "      metric: error_rate\n"
                 "      threshold: 0.1\n"
                 "      threshold: 0.2\n",
                 "busmon.yaml:6: rule 'x': 'threshold' is given twice");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: high_error_rate\n"
                 "      for: 2x\n",
                 "busmon.yaml:4: rule 'high_error_rate': 'for' must be a duration like 30s, "
                 "5m, 1h or seconds, not '2x'");
    expect_error("alerts:\n"
                 "  rules:\n"
                 "    - name: worker_failed\n"
                 "      metric: cpu_percent\n"
                 "      scope: each_worker\n",
                 "busmon.yaml:3: rule 'worker_failed': metric cpu_percent cannot be used with "
                 "scope each_worker (it allows: global)");
}

/* baseline: on a metric that is not an anomaly metric was ignored: the rule
 * compared the raw figure with its threshold, not a deviation. */
Test(alert_config, baseline_on_another_metric_is_refused)
{
    expect_error(
        "alerts:\n"
        "  rules:\n"
        "    - name: slow\n"
        "      metric: p95_latency_ms\n"
        "      window: 1m\n"
        "      baseline: stddev\n"
        "      threshold: 3\n",
        "busmon.yaml:3: rule 'slow': baseline is for latency_anomaly and "
        "error_rate_anomaly rules; p95_latency_ms is compared with the threshold as it is");
    expect_error(
        "alerts:\n"
        "  rules:\n"
        "    - name: high_latency\n" /* a built-in's */
        "      baseline: ratio\n",
        "busmon.yaml:3: rule 'high_latency': baseline is for latency_anomaly and "
        "error_rate_anomaly rules; avg_latency_ms is compared with the threshold as it is");
    const char *ok = "alerts:\n"
                     "  rules:\n"
                     "    - name: latency_anomaly\n"
                     "      baseline: stddev\n";
    cr_assert_eq(parse(ok), 0, "%s", err);
}

Test(alert_config, bad_section_values)
{
    expect_error("alerts:\n  history: 0\n",
                 "busmon.yaml:2: 'alerts.history' must be a number 1-10000, not '0'");
    expect_error("alerts:\n  max_alerts: many\n",
                 "busmon.yaml:2: 'alerts.max_alerts' must be a number 1-1000000, not 'many'");
    expect_error("alerts:\n  interval: 1ms\n",
                 "busmon.yaml:2: 'alerts.interval' must be a duration of at least 100ms (30s, "
                 "1m), not '1ms'");
    expect_error("alerts:\n  enabled: maybe\n",
                 "busmon.yaml:2: 'alerts.enabled' must be true or false");
    expect_error("alerts:\n  disable: [nope]\n", "busmon.yaml:2: alerts.disable: no rule 'nope'");
    expect_error("alerts:\n  rules: {name: x}\n",
                 "busmon.yaml:2: 'alerts.rules' must be a list of rules (- name: ...), not a "
                 "mapping");
    expect_error("alerts: [1, 2]\n",
                 "busmon.yaml:1: 'alerts' must be a mapping (rules:, ...), not a list");
    expect_error("alerts:\n  rules:\n    - name: [x\n",
                 "busmon.yaml:4: invalid YAML: did not find expected ',' or ']'");
}

Test(alert_config, a_refused_file_leaves_the_rules_as_they_were)
{
    cr_assert_eq(parse("alerts:\n  history: 7\n  rules:\n    - {name: high_latency, "
                       "threshold: 100}\n"),
                 0, "%s", err);
    cr_assert_eq(parse("alerts:\n  history: 9\n  rules:\n    - {name: high_latency, "
                       "threshold: x}\n"),
                 -1);
    cr_assert_eq(cfg.history, 7);
    cr_assert_eq(bm_alert_config_find(&cfg, "high_latency")->threshold, 100);
}

Test(alert_config, node_api_on_a_loaded_document)
{
    const char *yaml = "alerts:\n  rules:\n    - {name: q, metric: memory_percent, threshold: 95, "
                       "severity: critical}\n";
    yaml_parser_t parser;
    yaml_document_t doc;
    cr_assert(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    cr_assert(yaml_parser_load(&parser, &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *sec = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
    cr_assert_eq(bm_alert_config_parse(&cfg, &doc, sec, "f.yaml", err, sizeof err, NULL, NULL), 0,
                 "%s", err);
    cr_assert_eq(cfg.n_rules, 10);
    cr_assert_eq(bm_alert_config_find(&cfg, "q")->severity, BM_SEVERITY_CRITICAL);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
}
