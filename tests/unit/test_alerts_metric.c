/*
 * test_alerts_metric.c - alert rules on business metrics (metric:NAME):
 * the engine (lib/alerts.c) fires one instance per value of an each_tag
 * key, labelled KEY=value, and a global rule over every series of NAME; no
 * series is no data; the rule check; and the same rules read from YAML
 * (agent/config/alert_rules.c: metric: metric:NAME, stat:, each_tag:).
 */
#include "agent/config/alert_rules.h"
#include "lib/alerts.h"
#include "lib/custom_metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

static custom_metrics *cm;
static bm_alert got[16];
static size_t n_got;

static void on_notify(alerts *a, const bm_alert *al, void *arg)
{
    (void)a;
    (void)arg;
    if (n_got < 16) got[n_got++] = *al;
}

static void add_in(const char *tier, const char *region, double v)
{
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = "order_value";
    ev.metric_value = v;
    ev.ts_us = T0;
    ev.tags[0] = (bm_attr){"customer_tier", tier};
    ev.tags[1] = (bm_attr){"region", region};
    ev.n_tags = 2;
    cr_assert_eq(custom_metrics_add(cm, &ev, T0), CUSTOM_METRICS_ADDED);
}

static void add(const char *tier, double v)
{
    add_in(tier, "eu", v);
}

static void setup(void)
{
    cm = custom_metrics_new(NULL);
    n_got = 0;
    for (int i = 1; i <= 100; i++) {
        add("premium", 300 + i); /* p95 396 */
        add("basic", i);         /* p95 95 */
    }
}

static void teardown(void)
{
    custom_metrics_free(cm);
}

TestSuite(alerts_metric, .init = setup, .fini = teardown);

static alert_rule metric_rule(const char *name, alert_metric_stat stat, const char *each_tag,
                              double threshold)
{
    alert_rule r;
    alerts_rule_init(&r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.metric = ALERT_METRIC_CUSTOM;
    snprintf(r.metric_name, sizeof r.metric_name, "order_value");
    r.stat = stat;
    r.window = 1;
    r.threshold = threshold;
    if (each_tag) {
        r.scope = ALERT_SCOPE_EACH_TAG;
        snprintf(r.target, sizeof r.target, "%s", each_tag);
    }
    return r;
}

static const char *label(const bm_alert *a, const char *key)
{
    for (unsigned i = 0; i < a->n_labels; i++)
        if (!strcmp(a->labels[i].key, key)) return a->labels[i].value;
    return NULL;
}

Test(alerts_metric, each_tag_fires_per_tag_value)
{
    alerts *a = alerts_new(NULL);
    alert_rule r = metric_rule("big_orders", ALERT_STAT_P95, "customer_tier", 200);
    char why[256];
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), 0, "%s", why);
    cr_assert_eq(alerts_set_rule(a, &r), 0);
    alert_gauges g;
    alerts_gauges_init(&g);
    g.metrics = cm;
    alerts_evaluate(a, NULL, &g, T0 + S_US, on_notify, NULL);
    cr_assert_eq(n_got, 1, "premium only");
    cr_assert_eq(got[0].state, BM_ALERT_FIRING);
    cr_assert_str_eq(label(&got[0], "customer_tier"), "premium");
    cr_assert(got[0].value > 390 && got[0].value < 400, "p95 %g", got[0].value);
    cr_assert(strstr(got[0].metric, "metric:order_value p95"), "%s", got[0].metric);
    cr_assert(strstr(got[0].description, "customer_tier premium"), "%s", got[0].description);

    /* a lower threshold: basic fires too, premium goes on firing */
    alerts_free(a);
    a = alerts_new(NULL);
    r.threshold = 50;
    alerts_set_rule(a, &r);
    n_got = 0;
    alerts_evaluate(a, NULL, &g, T0 + S_US, on_notify, NULL);
    cr_assert_eq(n_got, 2);
    /* past the window: no data, both resolve */
    n_got = 0;
    alerts_evaluate(a, NULL, &g, T0 + 10 * 60 * S_US, on_notify, NULL);
    cr_assert_eq(n_got, 2);
    cr_assert_eq(got[0].state, BM_ALERT_RESOLVED);
    alerts_free(a);
}

Test(alerts_metric, global_over_every_series_and_no_metrics_is_no_data)
{
    alerts *a = alerts_new(NULL);
    alert_rule r = metric_rule("orders", ALERT_STAT_COUNT, NULL, 199);
    cr_assert_eq(alerts_set_rule(a, &r), 0);
    alert_gauges g;
    alerts_gauges_init(&g);
    alerts_evaluate(a, NULL, &g, T0 + S_US, on_notify, NULL);
    cr_assert_eq(n_got, 0, "no metrics table: no data");
    g.metrics = cm;
    alerts_evaluate(a, NULL, &g, T0 + S_US, on_notify, NULL);
    cr_assert_eq(n_got, 1);
    cr_assert_float_eq(got[0].value, 200, 0, "both tiers counted");
    cr_assert_eq(got[0].n_labels, 0);
    alerts_free(a);
}

Test(alerts_metric, rule_check)
{
    char why[256];
    alert_rule r = metric_rule("x", ALERT_STAT_AVG, "worker", 1);
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), -1);
    cr_assert(strstr(why, "each_tag 'worker'"), "%s", why);
    r = metric_rule("x", ALERT_STAT_AVG, NULL, 1);
    r.metric_name[0] = '\0';
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), -1);
    r = metric_rule("x", ALERT_STAT_AVG, NULL, 1);
    r.window = -1;
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), -1, "a window is needed");
    alerts_rule_init(&r);
    snprintf(r.name, sizeof r.name, "y");
    r.window = 1;
    r.scope = ALERT_SCOPE_EACH_TAG;
    snprintf(r.target, sizeof r.target, "tier");
    cr_assert_eq(alerts_rule_check(&r, why, sizeof why), -1, "each_tag is for metric:NAME only");
}

Test(alerts_metric, from_yaml)
{
    bm_alert_config c;
    cr_assert_eq(bm_alert_config_init(&c), 0);
    char err[512] = "";
    const char *yaml = "alerts:\n"
                       "  rules:\n"
                       "    - name: big_orders\n"
                       "      metric: metric:order_value\n"
                       "      stat: p95\n"
                       "      each_tag: customer_tier\n"
                       "      op: '>'\n"
                       "      threshold: 200\n"
                       "      window: 5m\n"
                       "    - name: few_logins\n"
                       "      metric: metric:logins\n"
                       "      stat: rate\n"
                       "      op: '<'\n"
                       "      threshold: 0.5\n";
    cr_assert_eq(bm_alert_config_parse_string(&c, yaml, strlen(yaml), "busmon.yaml", err,
                                              sizeof err, NULL, NULL),
                 0, "%s", err);
    const alert_rule *r = bm_alert_config_find(&c, "big_orders");
    cr_assert_not_null(r);
    cr_assert_eq(r->metric, ALERT_METRIC_CUSTOM);
    cr_assert_str_eq(r->metric_name, "order_value");
    cr_assert_eq(r->stat, ALERT_STAT_P95);
    cr_assert_eq(r->scope, ALERT_SCOPE_EACH_TAG);
    cr_assert_str_eq(r->target, "customer_tier");
    cr_assert_eq(r->window, 1);
    r = bm_alert_config_find(&c, "few_logins");
    cr_assert_eq(r->scope, ALERT_SCOPE_GLOBAL);
    cr_assert_eq(r->window, 1, "the default window");
    const char *bad = "alerts:\n  rules:\n    - name: b\n      metric: metric:x\n"
                      "      stat: median\n      threshold: 1\n";
    cr_assert_eq(bm_alert_config_parse_string(&c, bad, strlen(bad), "busmon.yaml", err, sizeof err,
                                              NULL, NULL),
                 -1);
    cr_assert(strstr(err, "unknown stat 'median'"), "%s", err);
    bm_alert_config_deinit(&c);
}

/* stat: on a metric that is not metric:NAME would be ignored, the rule
 * comparing something else than its author wrote: refused at its line. */
Test(alerts_metric, stat_on_another_metric_is_refused)
{
    static const char *const bad[] = {
        "alerts:\n  rules:\n    - name: slow\n      metric: avg_latency_ms\n"
        "      stat: p95\n      threshold: 100\n",
        "alerts:\n  rules:\n    - name: high_latency\n      stat: p99\n", /* a built-in's */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bm_alert_config c;
        cr_assert_eq(bm_alert_config_init(&c), 0);
        char err[512] = "";
        cr_assert_eq(bm_alert_config_parse_string(&c, bad[i], strlen(bad[i]), "busmon.yaml", err,
                                                  sizeof err, NULL, NULL),
                     -1, "accepted: %s", bad[i]);
        cr_assert(strstr(err, "busmon.yaml:3:"), "%s", err);
        cr_assert(strstr(err, "stat is for metric:NAME rules"), "%s", err);
        bm_alert_config_deinit(&c);
    }
}

/* An each_tag rule looks at ALERTS_TAG_VALUES_MAX values of its tag; the
 * others are counted (each value once, whatever its series), and the rule
 * that left them out is named. */
Test(alerts_metric, each_tag_values_past_the_bound_are_counted)
{
    for (int i = 0; i < ALERTS_TAG_VALUES_MAX + 2; i++) {
        char tier[16];
        snprintf(tier, sizeof tier, "t%04d", i);
        add_in(tier, "eu", 1); /* two series per value */
        add_in(tier, "us", 1);
    }
    alerts *a = alerts_new(NULL);
    alert_rule r = metric_rule("orders_by_tier", ALERT_STAT_COUNT, "customer_tier", 0);
    cr_assert_eq(alerts_set_rule(a, &r), 0);
    alert_gauges g;
    alerts_gauges_init(&g);
    g.metrics = cm;
    alerts_stats st;
    alerts_get_stats(a, &st);
    cr_assert_eq(st.tag_values_dropped, 0);
    cr_assert_str_eq(alerts_tag_values_dropped_rule(a), "");

    alerts_evaluate(a, NULL, &g, T0 + S_US, NULL, NULL);
    alerts_get_stats(a, &st);
    cr_assert_eq(st.firing, ALERTS_TAG_VALUES_MAX, "the first values alert");
    cr_assert_eq(st.tag_values_dropped, 4, "basic and premium sort first: t0998..t1001 left out");
    cr_assert_str_eq(alerts_tag_values_dropped_rule(a), "orders_by_tier");
    alerts_evaluate(a, NULL, &g, T0 + 2 * S_US, NULL, NULL);
    alerts_get_stats(a, &st);
    cr_assert_eq(st.tag_values_dropped, 8, "counted again at every evaluation");
    alerts_free(a);
}
