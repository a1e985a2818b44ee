/*
 * guide_alerting.c - the `alerting:` section in the Python monitoring
 * guides' terms, read as busmon alert rules and sinks. The guides define
 * AlertRule(name, condition, severity, description, cooldown_minutes) in
 * code, with Slack, PagerDuty, webhook and e-mail handlers; someone moving
 * to busmon writes the same in YAML:
 *
 *   alerting:
 *     rules:
 *       - name: high_error_rate
 *         condition: error_rate > 0.1        # <metric> <op> <number>
 *         severity: warning                  # info | warning | error | critical
 *         description: "Error rate is above 10 %"
 *         cooldown_minutes: 15               # default 15
 *         enabled: true
 *       - name: worker_failure
 *         condition: worker_health == failed
 *     channels:
 *       - type: slack                        # webhook | slack | pagerduty | email
 *         webhook_url: https://hooks.slack.com/services/...
 *       - type: pagerduty
 *         routing_key: R0UT1NG               # or integration_key
 *       - type: webhook
 *         url: https://example.org/hook
 *
 * A rule becomes an alert_rule of the same name (replacing a built-in of
 * that name whole: the guide's condition is the one meant), its metric
 * mapped by guide_metrics[] below; a channel becomes a webhook sink of the
 * matching format taking the topic `alert`; `email` an e-mail sink
 * (read_email: the guides' smtp_host, smtp_port, from_email, to_emails,
 * use_tls, username, password). Not here: busmon's own `alerts:`
 * section (alert_rules.c, alerting.c), which says the same in more words.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/config/alerting.h"
#include "agent/config/keys.h"
#include "agent/core/parse.h"
#include "lib/alerts.h"

/* The guides' metric names and what busmon evaluates for each. */
static const struct {
    const char *guide, *metric;
    alert_scope scope;
} guide_metrics[] = {
    {"error_rate", "error_rate", ALERT_SCOPE_GLOBAL},
    {"success_rate", "success_rate", ALERT_SCOPE_GLOBAL},
    {"avg_latency_ms", "avg_latency_ms", ALERT_SCOPE_GLOBAL},
    {"p95_latency_ms", "p95_latency_ms", ALERT_SCOPE_GLOBAL},
    {"p99_latency_ms", "p99_latency_ms", ALERT_SCOPE_GLOBAL},
    {"throughput_per_min", "throughput_per_min", ALERT_SCOPE_GLOBAL},
    {"error_count", "error_count", ALERT_SCOPE_GLOBAL},
    {"cpu_usage_percent", "cpu_percent", ALERT_SCOPE_GLOBAL},
    {"memory_usage_percent", "memory_percent", ALERT_SCOPE_GLOBAL},
    {"worker_failure_rate", "error_rate", ALERT_SCOPE_EACH_WORKER},
    {"worker_error_rate", "error_rate", ALERT_SCOPE_EACH_WORKER},
    {"worker_avg_latency_ms", "avg_latency_ms", ALERT_SCOPE_EACH_WORKER},
    {"worker_p95_latency_ms", "p95_latency_ms", ALERT_SCOPE_EACH_WORKER},
    {"worker_health", "health", ALERT_SCOPE_EACH_WORKER},
    {"worker_health[*].status", "health", ALERT_SCOPE_EACH_WORKER},
    {"consumer_lag", "consumer_lag", ALERT_SCOPE_EACH_STREAM},
};
#define N_GUIDE_METRICS (sizeof guide_metrics / sizeof *guide_metrics)

static void known_metrics(char *buf, size_t len)
{
    size_t at = 0;
    for (size_t i = 0; i < N_GUIDE_METRICS && at < len; i++) {
        int n = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", guide_metrics[i].guide);
        if (n < 0) break;
        at += (size_t)n;
    }
}

/*
 * "error_rate > 0.1", "worker_health == failed" into r's metric, scope, op,
 * threshold and window. A busmon metric name works too (its default scope).
 * @return 0, or -1 with the reason in why.
 */
static int parse_condition(const char *cond, alert_rule *r, char *why, size_t whylen)
{
    char metric[64], op[4], value[64];
    const char *p = cond;
    size_t n = 0;
    while (isspace((unsigned char)*p))
        p++;
    while (*p && !isspace((unsigned char)*p) && !strchr("<>=!", *p) && n + 1 < sizeof metric)
        metric[n++] = *p++;
    metric[n] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    n = 0;
    while (*p && strchr("<>=!", *p) && n + 1 < sizeof op)
        op[n++] = *p++;
    op[n] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    n = 0;
    while (*p && n + 1 < sizeof value)
        value[n++] = *p++;
    while (n && isspace((unsigned char)value[n - 1]))
        n--;
    value[n] = '\0';
    if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
        memmove(value, value + 1, n - 2);
        value[n - 2] = '\0';
    }
    if (!metric[0] || !op[0] || !value[0]) {
        snprintf(why, whylen, "condition must be '<metric> <op> <value>' (error_rate > 0.1), not '%s'",
                 cond);
        return -1;
    }
    int m = -1;
    r->scope = ALERT_SCOPE_GLOBAL;
    for (size_t i = 0; i < N_GUIDE_METRICS; i++)
        if (!strcmp(metric, guide_metrics[i].guide)) {
            m = alerts_metric_parse(guide_metrics[i].metric);
            r->scope = guide_metrics[i].scope;
        }
    if (m < 0 && (m = alerts_metric_parse(metric)) >= 0)
        r->scope = alerts_metric_default_scope((alert_metric)m);
    if (m < 0) {
        char known[512];
        known_metrics(known, sizeof known);
        snprintf(why, whylen, "unknown metric '%s' in condition (known: %s, and busmon's own)",
                 metric, known);
        return -1;
    }
    r->metric = (alert_metric)m;
    r->target[0] = '\0';
    int o = alerts_op_parse(op);
    if (o < 0) {
        snprintf(why, whylen, "unknown comparator '%s' in condition (use >, >=, <, <=, ==, !=)",
                 op);
        return -1;
    }
    r->op = (alert_op)o;
    if (r->metric == ALERT_METRIC_HEALTH) {
        if (!strcasecmp(value, "failed"))
            r->threshold = ALERT_HEALTH_FAILED;
        else if (!strcasecmp(value, "degraded"))
            r->threshold = ALERT_HEALTH_DEGRADED;
        else if (!strcasecmp(value, "healthy") || !strcasecmp(value, "ok"))
            r->threshold = ALERT_HEALTH_OTHER;
        else {
            snprintf(why, whylen, "worker_health compares with failed, degraded or healthy, not '%s'",
                     value);
            return -1;
        }
    } else if (bm_parse_decimal(value, &r->threshold)) {
        snprintf(why, whylen, "condition must compare with a number, not '%s'", value);
        return -1;
    }
    r->window = alerts_metric_windowed(r->metric) ? 1 : -1; /* 5m */
    return 0;
}

/* k is one of list[0..n). */
static int known_key(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; k && i < n; i++)
        if (!strcmp(k, list[i])) return 1;
    return 0;
}

/* "; did you mean 'X'?" for the unknown k, X the closest of list[0..n), into buf ("" when none
 * is close). @return buf. */
static const char *suggestion(const char *k, const char *const *list, size_t n, char *buf,
                              size_t len)
{
    const char *near = k ? bm_names_suggest(list, n, k) : NULL;
    if (near)
        snprintf(buf, len, "; did you mean '%s'?", near);
    else if (len)
        buf[0] = '\0';
    return buf;
}

/* The rule keys of the guides' AlertRule. */
static const char *const rule_keys[] = {"name",     "condition",        "severity",
                                        "description", "cooldown_minutes", "enabled"};

static int read_rule(bm_walk *w, yaml_node_t *map, int index)
{
    bm_alert_config *c = &((bm_alerting_config *)w->base[BM_BASE_ALERTING])->rules;
    if (!map || map->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, map, "alerting.rules #%d: must be a mapping (name:, condition:, ...)",
                            index);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *k = bm_yaml_scalar(bm_walk_node(w, pr->key));
        size_t n_keys = sizeof rule_keys / sizeof *rule_keys;
        char near[96];
        if (!known_key(k, rule_keys, n_keys))
            return bm_walk_fail(w, bm_walk_node(w, pr->key),
                                "alerting.rules #%d: unknown key '%s' (known: name, condition, "
                                "severity, description, cooldown_minutes, enabled)%s",
                                index, k ? k : "?",
                                suggestion(k, rule_keys, n_keys, near, sizeof near));
    }
    const char *name = bm_yaml_scalar(bm_yaml_get(w->doc, map, "name", NULL));
    yaml_node_t *cn = bm_yaml_get(w->doc, map, "condition", NULL);
    const char *cond = bm_yaml_scalar(cn);
    if (!name || !*name) return bm_walk_fail(w, map, "alerting.rules #%d: missing name", index);
    if (strlen(name) >= BM_ALERT_NAME_MAX)
        return bm_walk_fail(w, map, "alerting rule '%.60s': name is too long", name);
    if (!cond) return bm_walk_fail(w, map, "alerting rule '%s': missing condition", name);

    alert_rule r;
    alerts_rule_init(&r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.cooldown_us = 15 * 60 * BM_US_PER_S; /* the guides' default */
    char why[768];
    if (parse_condition(cond, &r, why, sizeof why))
        return bm_walk_fail(w, cn, "alerting rule '%s': %s", name, why);
    yaml_node_t *vn = bm_yaml_get(w->doc, map, "severity", NULL);
    if (vn) {
        int s = bm_severity_parse(bm_yaml_scalar(vn));
        if (s < 0)
            return bm_walk_fail(w, vn,
                                "alerting rule '%s': unknown severity '%s' (use info, warning, "
                                "error, critical)",
                                name, bm_yaml_scalar(vn) ? bm_yaml_scalar(vn) : "?");
        r.severity = (bm_severity)s;
    }
    if ((vn = bm_yaml_get(w->doc, map, "description", NULL))) {
        const char *d = bm_yaml_scalar(vn);
        if (!d || strlen(d) >= sizeof r.description)
            return bm_walk_fail(w, vn, "alerting rule '%s': description must be text of < %zu bytes",
                                name, sizeof r.description);
        snprintf(r.description, sizeof r.description, "%s", d);
    }
    if ((vn = bm_yaml_get(w->doc, map, "cooldown_minutes", NULL))) {
        int64_t us;
        if (bm_parse_duration_us(bm_yaml_scalar(vn), 60 * BM_US_PER_S, &us) != BM_PARSE_OK)
            return bm_walk_fail(w, vn, "alerting rule '%s': cooldown_minutes must be minutes (15)",
                                name);
        r.cooldown_us = us;
    }
    if ((vn = bm_yaml_get(w->doc, map, "enabled", NULL)) &&
        bm_parse_bool(bm_yaml_scalar(vn), &r.enabled))
        return bm_walk_fail(w, vn, "alerting rule '%s': enabled must be true or false", name);
    if (alerts_rule_check(&r, why, sizeof why))
        return bm_walk_fail(w, map, "alerting rule '%s': %s", name, why);

    /* the same name: replaced whole (a built-in's, or one of alerts.rules) */
    for (size_t i = 0; i < c->n_rules; i++)
        if (!strcmp(c->rules[i].name, name)) {
            c->rules[i] = r;
            return 0;
        }
    if (c->n_rules == BM_ALERT_RULES_MAX)
        return bm_walk_fail(w, map, "too many rules (at most %d)", BM_ALERT_RULES_MAX);
    alert_rule *grown = realloc(c->rules, (c->n_rules + 1) * sizeof *grown);
    if (!grown) return bm_walk_fail(w, map, "out of memory");
    c->rules = grown;
    c->rules[c->n_rules++] = r;
    return 0;
}

/* The value of the first of two keys a channel may use. */
static const char *either(bm_walk *w, yaml_node_t *map, const char *a, const char *b)
{
    const char *v = bm_yaml_scalar(bm_yaml_get(w->doc, map, a, NULL));
    return v ? v : bm_yaml_scalar(bm_yaml_get(w->doc, map, b, NULL));
}

/* Warn about each key of a channel that is not in used[] (`takes` says what is). */
static void warn_unused(bm_walk *w, yaml_node_t *map, const char *const *used, size_t n_used,
                        const char *name, const char *takes)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *k = bm_yaml_scalar(bm_walk_node(w, pr->key));
        char near[96];
        if (!known_key(k, used, n_used))
            bm_walk_warn(w, bm_walk_node(w, pr->key),
                         "alerting.channels: '%s' of channel '%s' is not used (ignored): %s%s",
                         k ? k : "?", name, takes, suggestion(k, used, n_used, near, sizeof near));
    }
}

/* A scalar, or a sequence of scalars joined with ", " into buf (*cut: it did not fit).
 * @return NULL when absent. */
static const char *scalar_or_list(bm_walk *w, yaml_node_t *map, const char *a, const char *b,
                                  char *buf, size_t len, int *cut)
{
    *cut = 0;
    yaml_node_t *n = bm_yaml_get(w->doc, map, a, NULL);
    if (!n) n = bm_yaml_get(w->doc, map, b, NULL);
    if (!n || n->type != YAML_SEQUENCE_NODE) return n ? bm_yaml_scalar(n) : NULL;
    size_t at = 0;
    buf[0] = '\0';
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const char *s = bm_yaml_scalar(bm_walk_node(w, *it));
        if (s && at < len)
            at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "", s);
    }
    *cut = at >= len;
    return buf;
}

/*
 * An e-mail channel in the guides' EmailAlertHandler terms -- smtp_host,
 * smtp_port (587; 465 is smtps), username, password (or password_file),
 * from_email, to_emails (a list), use_tls (true: STARTTLS required) -- or
 * busmon's own (url, from, to, tls, ...): an e-mail sink (outputs/email.c).
 */
static int read_email(bm_walk *w, yaml_node_t *map, const char *name, int index)
{
    bm_alerting_config *c = w->base[BM_BASE_ALERTING];
    static const char *const used[] = {
        "type",          "name",     "enabled",    "url",       "smtp_host",
        "smtp_port",     "username", "password",   "password_file", "from",
        "from_email",    "to",       "to_emails",  "use_tls",   "tls",
        "dashboard_url", "rate_limit"};
    warn_unused(w, map, used, sizeof used / sizeof *used, name,
                "an e-mail channel takes smtp_host, smtp_port, username, password(_file), "
                "from_email, to_emails, use_tls; more options under alerts.sinks (type: email)");
    char url[512], to[32 * 258]; /* the sink's 32 recipients of up to 256 bytes, ", " apart */
    int cut;
    const char *u = bm_yaml_scalar(bm_yaml_get(w->doc, map, "url", NULL));
    const char *host = bm_yaml_scalar(bm_yaml_get(w->doc, map, "smtp_host", NULL));
    const char *port = bm_yaml_scalar(bm_yaml_get(w->doc, map, "smtp_port", NULL));
    if (!u && host) {
        snprintf(url, sizeof url, "%s://%s:%s", port && !strcmp(port, "465") ? "smtps" : "smtp",
                 host, port ? port : "587");
        u = url;
    }
    bm_sink_kv kv[16];
    size_t n = 0;
    kv[n++] = (bm_sink_kv){"name", name};
    kv[n++] = (bm_sink_kv){"type", "email"};
    if (u) kv[n++] = (bm_sink_kv){"url", u};
    const char *v;
    if ((v = either(w, map, "from_email", "from"))) kv[n++] = (bm_sink_kv){"from", v};
    if ((v = scalar_or_list(w, map, "to_emails", "to", to, sizeof to, &cut)))
        kv[n++] = (bm_sink_kv){"to", v};
    if (v && cut)
        return bm_walk_fail(w, map, "alerting.channels #%d: to_emails is longer than %zu bytes",
                            index, sizeof to - 1);
    static const char *const same[] = {"username", "password", "password_file", "tls",
                                       "dashboard_url", "rate_limit"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if ((v = bm_yaml_scalar(bm_yaml_get(w->doc, map, same[i], NULL))))
            kv[n++] = (bm_sink_kv){same[i], v};
    int tls_on = 0;
    const char *ut = bm_yaml_scalar(bm_yaml_get(w->doc, map, "use_tls", NULL));
    if (ut && bm_parse_bool(ut, &tls_on))
        return bm_walk_fail(w, map, "alerting.channels #%d: use_tls must be true or false", index);
    if (ut && !bm_yaml_get(w->doc, map, "tls", NULL))
        kv[n++] = (bm_sink_kv){"tls", tls_on ? "required" : "try"};
    char why[512];
    if (bm_alerting_add_sink(c, kv, n, bm_yaml_line(map), why, sizeof why))
        return bm_walk_fail(w, map, "alerting.channels: e-mail channel '%s': %s", name, why);
    return 0;
}

/* One channel; `type` from its key when the channels are a mapping. */
static int read_channel(bm_walk *w, yaml_node_t *map, const char *type, int index, yaml_node_t *at)
{
    bm_alerting_config *c = w->base[BM_BASE_ALERTING];
    if (!map || map->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, map ? map : at, "alerting.channels #%d: must be a mapping (type:, url:)",
                            index);
    if (!type) type = bm_yaml_scalar(bm_yaml_get(w->doc, map, "type", NULL));
    if (!type) return bm_walk_fail(w, map, "alerting.channels #%d: missing type", index);
    const char *en = bm_yaml_scalar(bm_yaml_get(w->doc, map, "enabled", NULL));
    int on = 1;
    if (en && bm_parse_bool(en, &on))
        return bm_walk_fail(w, map, "alerting.channels #%d: enabled must be true or false", index);
    if (!on) return 0;
    const char *name = bm_yaml_scalar(bm_yaml_get(w->doc, map, "name", NULL));
    char made[64];
    if (!name) {
        snprintf(made, sizeof made, "%s", type);
        for (int n = 2;; n++) {
            size_t i = 0;
            while (i < c->n_sinks && strcmp(bm_alerting_sink_get(c, i, "name"), made))
                i++;
            if (i == c->n_sinks) break;
            snprintf(made, sizeof made, "%.40s-%d", type, n);
        }
        name = made;
    }
    if (!strcmp(type, "email")) return read_email(w, map, name, index);
    bm_sink_kv kv[6];
    size_t n = 0;
    kv[n++] = (bm_sink_kv){"name", name};
    kv[n++] = (bm_sink_kv){"type", "webhook"};
    const char *url = either(w, map, "url", "webhook_url");
    if (!strcmp(type, "webhook")) {
        kv[n++] = (bm_sink_kv){"format", "generic"};
    } else if (!strcmp(type, "slack")) {
        kv[n++] = (bm_sink_kv){"format", "slack"};
    } else if (!strcmp(type, "pagerduty")) {
        kv[n++] = (bm_sink_kv){"format", "pagerduty"};
        const char *key = either(w, map, "routing_key", "integration_key");
        if (key) kv[n++] = (bm_sink_kv){"routing_key", key};
        if (!url) url = "https://events.pagerduty.com/v2/enqueue";
    } else {
        static const char *const types[] = {"webhook", "slack", "pagerduty", "email"};
        char near[96];
        suggestion(type, types, sizeof types / sizeof *types, near, sizeof near);
        return bm_walk_fail(w, map,
                            "alerting.channels #%d: unknown type '%s' (webhook, slack, pagerduty, "
                            "email)%s",
                            index, type, near);
    }
    if (url) kv[n++] = (bm_sink_kv){"url", url};
    static const char *const used[] = {"type",        "name",        "enabled",        "url",
                                       "webhook_url", "routing_key", "integration_key"};
    warn_unused(w, map, used, sizeof used / sizeof *used, name,
                "a channel takes url (webhook_url), routing_key (integration_key); more options "
                "under alerts.webhooks");
    char why[512];
    if (bm_alerting_add_sink(c, kv, n, bm_yaml_line(map), why, sizeof why))
        return bm_walk_fail(w, map, "alerting.channels: channel '%s': %s", name, why);
    return 0;
}

/* A rule of the list named as one before it: which should be kept? (A rule of another
 * list, or a built-in, is replaced by name on purpose.) @return 0, or -1 with err set. */
static int named_before(bm_walk *w, yaml_node_t *list, yaml_node_item_t *it)
{
    yaml_node_t *nn = bm_yaml_get(w->doc, bm_walk_node(w, *it), "name", NULL);
    const char *name = bm_yaml_scalar(nn);
    for (yaml_node_item_t *q = list->data.sequence.items.start; name && q < it; q++) {
        yaml_node_t *other = bm_walk_node(w, *q);
        const char *on = bm_yaml_scalar(bm_yaml_get(w->doc, other, "name", NULL));
        if (on && !strcmp(on, name))
            return bm_walk_fail(w, nn, "alerting rule '%s': defined twice (first at line %zu)",
                                name, bm_yaml_line(other));
    }
    return 0;
}

int bm_guide_alerting_yaml(bm_walk *w, const bm_walk_pair *p)
{
    yaml_node_t *sec = p->value;
    if (bm_yaml_is_null(sec)) return 0;
    if (sec->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, sec, "'alerting' must be a mapping (rules:, channels:), not %s",
                            bm_yaml_kind(sec));
    for (yaml_node_pair_t *pr = sec->data.mapping.pairs.start; pr < sec->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = bm_walk_node(w, pr->key), *vn = bm_walk_node(w, pr->value);
        const char *k = bm_yaml_scalar(kn);
        int rules = k && !strcmp(k, "rules"), channels = k && !strcmp(k, "channels");
        if (!rules && !channels) {
            static const char *const sections[] = {"rules", "channels"};
            const char *near = k ? bm_names_suggest(sections, 2, k) : NULL;
            if (near)
                bm_walk_warn(w, kn,
                             "unknown key 'alerting.%s' (ignored; alerting takes rules and "
                             "channels); did you mean 'alerting.%s'?",
                             k, near);
            else
                bm_walk_warn(w, kn,
                             "unknown key 'alerting.%s' (ignored; alerting takes rules and "
                             "channels)",
                             k ? k : "?");
            continue;
        }
        if (bm_yaml_is_null(vn)) continue;
        int index = 0;
        if (vn->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = vn->data.sequence.items.start;
                 it < vn->data.sequence.items.top; it++) {
                yaml_node_t *item = bm_walk_node(w, *it);
                if (rules && named_before(w, vn, it)) return -1;
                if (rules ? read_rule(w, item, ++index)
                          : read_channel(w, item, NULL, ++index, vn))
                    return -1;
            }
        } else if (channels && vn->type == YAML_MAPPING_NODE) { /* slack: {webhook_url: ...} */
            for (yaml_node_pair_t *c = vn->data.mapping.pairs.start;
                 c < vn->data.mapping.pairs.top; c++)
                if (read_channel(w, bm_walk_node(w, c->value),
                                 bm_yaml_scalar(bm_walk_node(w, c->key)), ++index, vn))
                    return -1;
        } else {
            return bm_walk_fail(w, vn, "'alerting.%s' must be a list, not %s", k,
                                bm_yaml_kind(vn));
        }
    }
    return 0;
}
