/*
 * test_alerting_config.c - the outputs and sinks of the `alerts:` section:
 * defaults, names that follow the stream, webhooks (names made unique,
 * headers), and each refusal with its line, the configuration unchanged.
 */
#include "agent/config/alerting.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static bm_alerting_config cfg;
static char err[1024];
static int n_warnings;

static void on_warn(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
    n_warnings++;
}

static void setup(void)
{
    cr_assert_eq(bm_alerting_config_init(&cfg), 0);
    err[0] = '\0';
    n_warnings = 0;
}

static void teardown(void)
{
    bm_alerting_config_deinit(&cfg);
}

TestSuite(alerting_config, .init = setup, .fini = teardown);

static int parse(const char *yaml)
{
    return bm_alerting_config_parse_string(&cfg, yaml, strlen(yaml), "busmon.yaml", err, sizeof err,
                                           on_warn, NULL);
}

static void expect_error(const char *yaml, const char *message)
{
    size_t sinks = cfg.n_sinks;
    cr_assert_eq(parse(yaml), -1, "accepted; expected: %s", message);
    cr_assert_str_eq(err, message);
    cr_assert_eq(cfg.n_sinks, sinks);
    cr_assert_str_eq(cfg.stream, "busmon:alerts");
}

Test(alerting_config, defaults)
{
    cr_assert_str_eq(cfg.stream, "busmon:alerts");
    cr_assert_str_eq(cfg.channel, "busmon:alerts");
    cr_assert_str_eq(cfg.firing_hash, "busmon:alerts:firing");
    cr_assert_eq(cfg.maxlen, 10000);
    cr_assert_eq(cfg.n_sinks, 0);
    cr_assert_eq(cfg.rules.interval_us, 10000000);
    cr_assert_eq(cfg.rules.n_rules, 9);
    cr_assert_eq(parse("redis: {url: redis://x}\n"), 0, "%s", err);
    cr_assert_str_eq(cfg.stream, "busmon:alerts");
}

Test(alerting_config, channel_and_hash_follow_the_stream)
{
    cr_assert_eq(parse("alerts:\n  stream: ops:alerts\n  maxlen: 500\n"), 0, "%s", err);
    cr_assert_str_eq(cfg.stream, "ops:alerts");
    cr_assert_str_eq(cfg.channel, "ops:alerts");
    cr_assert_str_eq(cfg.firing_hash, "ops:alerts:firing");
    cr_assert_eq(cfg.maxlen, 500);
    cr_assert_eq(parse("alerts:\n  stream: a\n  channel: b\n  firing: c\n"), 0, "%s", err);
    cr_assert_str_eq(cfg.channel, "b");
    cr_assert_str_eq(cfg.firing_hash, "c");
    cr_assert_eq(n_warnings, 0);
}

Test(alerting_config, webhooks_with_names_and_headers)
{
    cr_assert_eq(parse("alerts:\n"
                       "  interval: 2s\n"
                       "  webhooks:\n"
                       "    - url: http://127.0.0.1:9/a\n"
                       "      format: slack\n"
                       "    - url: http://127.0.0.1:9/b\n"
                       "      format: slack\n"
                       "      headers: {Authorization: Bearer x, X-Team: ops}\n"
                       "    - url: http://127.0.0.1:9/\n"
                       "      name: oncall\n"
                       "      format: pagerduty\n"
                       "      routing_key: R0UT1NG\n"
                       "  sinks:\n"
                       "    - url: http://127.0.0.1:9093\n"
                       "      format: alertmanager\n"
                       "      timeout: 2s\n"),
                 0, "%s", err);
    cr_assert_eq(cfg.rules.interval_us, 2000000);
    cr_assert_eq(cfg.n_sinks, 4);
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 0, "name"), "slack");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 1, "name"), "slack-2");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 1, "header.Authorization"), "Bearer x");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 1, "header.X-Team"), "ops");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 2, "name"), "oncall");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 2, "routing_key"), "R0UT1NG");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 3, "name"), "alertmanager");
    cr_assert_str_eq(bm_alerting_sink_get(&cfg, 3, "timeout"), "2s");
    cr_assert_null(bm_alerting_sink_get(&cfg, 3, "nope"));
    cr_assert_null(bm_alerting_sink_get(&cfg, 9, "name"));
    cr_assert_eq(cfg.sinks[0].line, 4);
}

Test(alerting_config, bad_sinks_are_refused_with_their_line)
{
    cr_assert_eq(parse("alerts:\n  webhooks:\n    - url: http://127.0.0.1:9/\n"), 0, "%s", err);
    expect_error("alerts:\n  webhooks:\n    - format: slack\n",
                 "busmon.yaml:3: alerts.webhooks: sink 'slack': 'url' is required");
    expect_error("alerts:\n  webhooks:\n    - url: http://x/\n    - url: ftp://x/\n",
                 "busmon.yaml:4: alerts.webhooks: sink 'generic-2': 'url' must start with "
                 "http:// or https://, not 'ftp://'");
    expect_error("alerts:\n  webhooks:\n    - url: http://x/\n      format: pagerduty\n",
                 "busmon.yaml:3: alerts.webhooks: sink 'pagerduty': format pagerduty needs a "
                 "'routing_key'");
    expect_error("alerts:\n  webhooks:\n    - url: http://x/\n      name: a\n"
                 "    - url: http://y/\n      name: a\n",
                 "busmon.yaml:5: alerts.webhooks: sink 'a' is defined twice (first at line 3)");
    expect_error("alerts:\n  webhooks: http://x/\n",
                 "busmon.yaml:2: 'alerts.webhooks' must be a list of sinks (- url: ...), not a "
                 "value");
    expect_error("alerts:\n  webhooks:\n    - http://x/\n",
                 "busmon.yaml:3: alerts.webhooks #1: must be a mapping (url: ..., format: ...), "
                 "not a value");
    expect_error("alerts:\n  webhooks:\n    - url: [a, b]\n",
                 "busmon.yaml:3: alerts.webhooks #1: 'url' must be a single value, not a list");
    cr_assert_eq(cfg.n_sinks, 1);
}

Test(alerting_config, bad_outputs_and_rules)
{
    expect_error("alerts:\n  maxlen: 0\n",
                 "busmon.yaml:2: 'alerts.maxlen' must be a number 1-100000000, not '0'");
    expect_error("alerts:\n  stream: a b\n",
                 "busmon.yaml:2: 'alerts.stream' must be a key name (1-256 characters, no "
                 "spaces), not 'a b'");
    expect_error("alerts:\n  channel: {a: 1}\n",
                 "busmon.yaml:2: 'alerts.channel' must be a key name (1-256 characters, no "
                 "spaces), not 'a mapping'");
    /* a bad rule is reported by the rules' parser, the outputs untouched */
    expect_error(
        "alerts:\n  stream: x\n  rules:\n    - name: r\n      metric: nope\n"
        "      threshold: 1\n",
        "busmon.yaml:5: rule 'r': unknown metric 'nope' (known: error_rate, "
        "success_rate, avg_latency_ms, p95_latency_ms, p99_latency_ms, "
        "throughput_per_min, error_count, in_flight, health, consumer_lag, pending, "
        "deadletter_rate, cpu_percent, memory_percent, latency_anomaly, error_rate_anomaly)");
}
