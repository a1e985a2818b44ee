/*
 * alert_rules.c - the rules side of the `alerts:` section (alert_rules.h):
 * the engine's bounds are rows of the key table (keys.c), read by the
 * config walker (walk.c); alerts.builtins, alerts.rules and alerts.disable
 * are read here, as the rows' own readers.
 *
 * alerts.builtins (which decides the starting set) is read first,
 * alerts.disable (which may name rules defined under `rules`) last. The
 * section as a whole is read, into a fresh configuration swapped in only
 * when all of it is good, by alerting.c (bm_alert_config_parse and
 * bm_alert_config_init, which name the agent's table, by alerting_load.c).
 *
 * A rule is a mapping read against rule_keys, a table of the same rows
 * walked strictly (an unknown key is refused) and in table order: `metric`
 * before what depends on it. Each rule starts from the built-in of its name
 * (or the defaults), and is judged at the end by alerts_rule_check(), whose
 * reason is reported at the rule's line.
 */
#include "agent/config/alert_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/config/keys.h"
#include "agent/core/parse.h"

static int load_builtins(bm_alert_config *c)
{
    const alert_rule *b;
    size_t n = alerts_builtin_rules(&b);
    alert_rule *rules = malloc(n * sizeof *rules);
    if (!rules) return -1;
    memcpy(rules, b, n * sizeof *rules);
    free(c->rules);
    c->rules = rules;
    c->n_rules = n;
    return 0;
}

int bm_alert_config_init_from(bm_alert_config *c, const bm_config_key *keys, size_t n)
{
    memset(c, 0, sizeof *c);
    char why[256];
    void *base[BM_BASE__COUNT] = {[BM_BASE_RULES] = c};
    if (bm_keys_defaults(keys, n, base, why, sizeof why)) return -1;
    return load_builtins(c);
}

void bm_alert_config_deinit(bm_alert_config *c)
{
    free(c->rules);
    memset(c, 0, sizeof *c);
}

const alert_rule *bm_alert_config_find(const bm_alert_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_rules; i++)
        if (!strcmp(c->rules[i].name, name)) return &c->rules[i];
    return NULL;
}

alerts *bm_alert_config_new_engine(const bm_alert_config *c)
{
    alerts_limits lim = {.max_instances = c->max_alerts, .history = c->history};
    alerts *a = alerts_new(&lim);
    if (!a) return NULL;
    for (size_t i = 0; i < c->n_rules; i++) {
        if (alerts_set_rule(a, &c->rules[i])) {
            alerts_free(a);
            return NULL;
        }
    }
    return a;
}

/* ---- one rule's keys ------------------------------------------------------ */

/* What the readers of one rule share (BM_BASE_RULE_STATE). */
typedef struct {
    alert_rule *r;
    int is_new; /* not a built-in: metric and threshold are required */
    int metric_given, scope_given, window_given, op_given, stat_given, baseline_given;
} rule_state;

static rule_state *state_of(bm_walk *w)
{
    return w->base[BM_BASE_RULE_STATE];
}

/* A value's text for a message: the scalar, else what the node is. */
static const char *shown(const yaml_node_t *n)
{
    return bm_yaml_scalar(n) ? bm_yaml_scalar(n) : bm_yaml_kind(n);
}

static int rule_metric(bm_walk *w, const bm_walk_pair *p)
{
    rule_state *st = state_of(w);
    const char *text = bm_yaml_scalar(p->value);
    if (text && !strncmp(text, "metric:", 7)) { /* a business metric: metric:NAME */
        if (!text[7] || strlen(text + 7) >= sizeof st->r->metric_name)
            return bm_walk_fail(w, p->value, "metric:NAME needs a name of 1-%zu bytes",
                                sizeof st->r->metric_name - 1);
        st->r->metric = ALERT_METRIC_CUSTOM;
        snprintf(st->r->metric_name, sizeof st->r->metric_name, "%s", text + 7);
        st->metric_given = 1;
        return 0;
    }
    int m = alerts_metric_parse(text);
    if (m < 0 || m == ALERT_METRIC_CUSTOM) {
        char known[400] = "";
        for (int i = 0; i < ALERT_METRIC__COUNT; i++) {
            if (i == ALERT_METRIC_CUSTOM) continue; /* metric:NAME, said in the help */
            size_t at = strlen(known);
            snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                     alerts_metric_name((alert_metric)i));
        }
        return bm_walk_fail(w, p->value, "unknown metric '%s' (known: %s)", shown(p->value), known);
    }
    st->r->metric = (alert_metric)m;
    st->metric_given = 1;
    return 0;
}

static const char *const scope_help =
    "global, each_worker, worker:NAME, each_stream, stream:NAME, each_error_type, "
    "error_type:NAME";

/* A bare word, or "worker:NAME" / "worker NAME" (the name to r->target). @return 0 or -1. */
static int parse_scope(const char *s, alert_rule *r)
{
    char word[32];
    size_t len = strcspn(s, ": ");
    if (len >= sizeof word) return -1;
    memcpy(word, s, len);
    word[len] = '\0';
    int scope = alerts_scope_parse(word);
    if (scope < 0) return -1;
    const char *name = s + len;
    while (*name == ':' || *name == ' ')
        name++;
    if (!*name && s[len]) return -1; /* "worker:" */
    if (strlen(name) >= sizeof r->target) return -1;
    r->scope = (alert_scope)scope;
    snprintf(r->target, sizeof r->target, "%s", name);
    return 0;
}

/* A named scope: `key` (worker, stream, error_type) with its name in vn. */
static int set_target(bm_walk *w, yaml_node_t *vn, const char *key, alert_rule *r)
{
    const char *s = bm_yaml_scalar(vn);
    if (!s || !*s) return bm_walk_fail(w, vn, "'%s' must be a name", key);
    if (strlen(s) >= sizeof r->target)
        return bm_walk_fail(w, vn, "'%s' is longer than %zu bytes", key, sizeof r->target - 1);
    r->scope = (alert_scope)alerts_scope_parse(key);
    snprintf(r->target, sizeof r->target, "%s", s);
    return 0;
}

static int rule_scope(bm_walk *w, const bm_walk_pair *p)
{
    rule_state *st = state_of(w);
    const char *s = bm_yaml_scalar(p->value);
    if (p->value->type == YAML_MAPPING_NODE &&
        p->value->data.mapping.pairs.top - p->value->data.mapping.pairs.start ==
            1) { /* {worker: NAME} */
        yaml_node_pair_t *pr = p->value->data.mapping.pairs.start;
        const char *key = bm_yaml_scalar(bm_walk_node(w, pr->key));
        int sc = key ? alerts_scope_parse(key) : -1;
        if (sc != ALERT_SCOPE_WORKER && sc != ALERT_SCOPE_STREAM && sc != ALERT_SCOPE_ERROR_TYPE &&
            sc != ALERT_SCOPE_EACH_TAG)
            return bm_walk_fail(w, p->value, "unknown scope (use %s)", scope_help);
        if (set_target(w, bm_walk_node(w, pr->value), key, st->r)) return -1;
    } else if (!s || parse_scope(s, st->r)) {
        return bm_walk_fail(w, p->value, "unknown scope '%s' (use %s)", shown(p->value),
                            scope_help);
    }
    st->scope_given = 1;
    return 0;
}

/* worker: NAME, stream: NAME, error_type: NAME - short for the named scope. */
static int rule_shorthand(bm_walk *w, const bm_walk_pair *p)
{
    rule_state *st = state_of(w);
    if (st->scope_given)
        return bm_walk_fail(w, p->key, "give either scope or %s, not both", p->path);
    st->scope_given = 1;
    return set_target(w, p->value, p->path, st->r);
}

/* op: or comparator: */
static int rule_op(bm_walk *w, const bm_walk_pair *p)
{
    rule_state *st = state_of(w);
    if (st->op_given) return bm_walk_fail(w, p->key, "give either op or comparator, not both");
    int o = alerts_op_parse(bm_yaml_scalar(p->value));
    if (o < 0)
        return bm_walk_fail(w, p->value, "unknown comparator '%s' (use >, >=, <, <=, ==, !=)",
                            shown(p->value));
    st->r->op = (alert_op)o;
    st->op_given = 1;
    return 0;
}

/* stat: what a metric:NAME rule compares */
static int rule_stat(bm_walk *w, const bm_walk_pair *p)
{
    int st = alerts_stat_parse(bm_yaml_scalar(p->value));
    if (st < 0)
        return bm_walk_fail(w, p->value,
                            "unknown stat '%s' (use avg, count, sum, min, max, p50, p95, p99, "
                            "rate or last)",
                            shown(p->value));
    state_of(w)->r->stat = (alert_metric_stat)st;
    state_of(w)->stat_given = 1;
    return 0;
}

static int rule_threshold(bm_walk *w, const bm_walk_pair *p)
{
    alert_rule *r = state_of(w)->r;
    const char *s = bm_yaml_scalar(p->value);
    if (!s)
        return bm_walk_fail(w, p->value, "threshold must be a number, not %s",
                            bm_yaml_kind(p->value));
    if (r->metric == ALERT_METRIC_HEALTH) {
        static const struct {
            const char *name;
            int value;
        } states[] = {{"failed", ALERT_HEALTH_FAILED},
                      {"degraded", ALERT_HEALTH_DEGRADED},
                      {"ok", ALERT_HEALTH_OTHER},
                      {"healthy", ALERT_HEALTH_OTHER}};
        for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
            if (!strcasecmp(s, states[i].name)) {
                r->threshold = states[i].value;
                return 0;
            }
        }
        if (bm_parse_decimal(s, &r->threshold))
            return bm_walk_fail(w, p->value,
                                "threshold must be failed, degraded, ok or 0-2, not '%s'", s);
        return 0;
    }
    if (bm_parse_decimal(s, &r->threshold))
        return bm_walk_fail(w, p->value, "threshold must be a number, not '%s'", s);
    return 0;
}

static int rule_window(bm_walk *w, const bm_walk_pair *p)
{
    rule_state *st = state_of(w);
    int win = alerts_window_parse(bm_yaml_scalar(p->value));
    if (win < 0)
        return bm_walk_fail(w, p->value, "unknown window '%s' (use 1m, 5m or 1h)", shown(p->value));
    st->r->window = win;
    st->window_given = 1;
    return 0;
}

static int rule_severity(bm_walk *w, const bm_walk_pair *p)
{
    int s = bm_severity_parse(bm_yaml_scalar(p->value));
    if (s < 0)
        return bm_walk_fail(w, p->value,
                            "unknown severity '%s' (use info, warning, error, critical)",
                            shown(p->value));
    state_of(w)->r->severity = (bm_severity)s;
    return 0;
}

static int rule_baseline(bm_walk *w, const bm_walk_pair *p)
{
    int m = baseline_mode_parse(bm_yaml_scalar(p->value));
    if (m < 0)
        return bm_walk_fail(w, p->value, "unknown baseline mode '%s' (use ratio or stddev)",
                            shown(p->value));
    state_of(w)->r->baseline_mode = (baseline_mode)m;
    state_of(w)->baseline_given = 1;
    return 0;
}

static int rule_labels(bm_walk *w, const bm_walk_pair *p)
{
    alert_rule *r = state_of(w)->r;
    if (p->value->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, p->value, "labels must be a mapping (key: value), not %s",
                            bm_yaml_kind(p->value));
    r->n_labels = 0;
    for (yaml_node_pair_t *pr = p->value->data.mapping.pairs.start;
         pr < p->value->data.mapping.pairs.top; pr++) {
        yaml_node_t *lk = bm_walk_node(w, pr->key), *lv = bm_walk_node(w, pr->value);
        const char *key = bm_yaml_scalar(lk), *value = bm_yaml_scalar(lv);
        if (!key || !value) return bm_walk_fail(w, lk, "labels must map names to plain values");
        if (r->n_labels == ALERT_RULE_LABELS_MAX)
            return bm_walk_fail(w, lk, "too many labels (at most %d)", ALERT_RULE_LABELS_MAX);
        bm_alert_label *l = &r->labels[r->n_labels++];
        if (strlen(key) >= sizeof l->key)
            return bm_walk_fail(w, lk, "label key '%.40s...' is too long (at most %zu)", key,
                                sizeof l->key - 1);
        if (strlen(value) >= sizeof l->value)
            return bm_walk_fail(w, lv, "label '%s': the value is longer than %zu bytes", key,
                                sizeof l->value - 1);
        snprintf(l->key, sizeof l->key, "%s", key);
        snprintf(l->value, sizeof l->value, "%s", value);
    }
    return 0;
}

static int rule_description(bm_walk *w, const bm_walk_pair *p)
{
    alert_rule *r = state_of(w)->r;
    const char *s = bm_yaml_scalar(p->value);
    if (!s)
        return bm_walk_fail(w, p->value, "description must be text, not %s",
                            bm_yaml_kind(p->value));
    if (strlen(s) >= sizeof r->description)
        return bm_walk_fail(w, p->value, "description is longer than %zu bytes",
                            sizeof r->description - 1);
    snprintf(r->description, sizeof r->description, "%s", s);
    return 0;
}

/* clang-format off */
#define RULE_YAML(p, fn, h)                                                                        \
    {                                                                                              \
        .path = p, .type = BM_KEY_YAML, .base = BM_BASE_RULE, .yaml = fn, .help = h                \
    }
#define RULE_SHORT(p, fn, h)                                                                       \
    {                                                                                              \
        .path = p, .type = BM_KEY_YAML, .base = BM_BASE_RULE, .yaml = fn,                          \
        .flags = BM_KEY_F_UNLISTED, .help = h                                                      \
    }
#define RULE_DURATION(p, f, h)                                                                     \
    {                                                                                              \
        .path = p, .type = BM_KEY_DURATION, .lo = 0, .hi = 366.0 * BM_US_PER_DAY, .unit_us = 1,    \
        .bare_us = BM_US_PER_S, .base = BM_BASE_RULE, .offset = offsetof(alert_rule, f), .help = h \
    }

/* A rule's keys, in the order they are read and listed ("known: ..."). */
static const bm_config_key rule_keys[] = {
    RULE_YAML("name", NULL, "a built-in's name changes it; another name is a new rule"),
    RULE_YAML("metric", rule_metric, "what is compared (error_rate, p95_latency_ms, ..., metric:NAME)"),
    RULE_YAML("scope", rule_scope, "global, each_worker, worker:NAME, each_stream, ..."),
    RULE_YAML("op", rule_op, ">, >=, <, <=, == or !="),
    RULE_YAML("threshold", rule_threshold, "a number; for health: failed, degraded or ok"),
    RULE_YAML("window", rule_window, "1m, 5m or 1h, for windowed metrics"),
    RULE_DURATION("for", for_us, "how long the condition holds before the alert fires"),
    RULE_YAML("severity", rule_severity, "info, warning, error or critical"),
    RULE_DURATION("cooldown", cooldown_us, "least time between notifications; 0: once"),
    RULE_YAML("baseline", rule_baseline,
              "anomaly metrics: ratio (x the baseline) or stddev (standard deviations above)"),
    RULE_YAML("labels", rule_labels, "labels added to the notification"),
    RULE_YAML("description", rule_description, "the notification's text, with {placeholders}"),
    {.path = "enabled",
     .type = BM_KEY_BOOL,
     .base = BM_BASE_RULE,
     .offset = offsetof(alert_rule, enabled),
     .help = "false: kept, not evaluated"},
    RULE_SHORT("worker", rule_shorthand, "short for scope: worker:NAME"),
    RULE_SHORT("stream", rule_shorthand, "short for scope: stream:NAME"),
    RULE_SHORT("error_type", rule_shorthand, "short for scope: error_type:NAME"),
    RULE_SHORT("stat", rule_stat, "metric:NAME rules: avg (default), count, sum, min, max, p50, p95, p99, rate, last"),
    RULE_SHORT("each_tag", rule_shorthand, "metric:NAME rules: short for scope: each_tag:KEY"),
    RULE_SHORT("comparator", rule_op, "another name of op"),
};
/* clang-format on */

/*
 * Read rule mapping `map` into *r (already holding its starting values).
 * `tag` is how messages name it ("rule 'x'").
 */
static int read_rule(bm_walk *w, const char *tag, yaml_node_t *map, alert_rule *r, int is_new)
{
    char context[96];
    snprintf(context, sizeof context, "%s: ", tag);
    rule_state st = {.r = r, .is_new = is_new};
    bm_walk rw = *w;
    rw.context = context;
    rw.keys = rule_keys;
    rw.n_keys = sizeof rule_keys / sizeof *rule_keys;
    rw.strict = 1;
    rw.by_table = 1;
    rw.settings = NULL; /* each rule's keys are its own */
    memset(rw.base, 0, sizeof rw.base);
    rw.base[BM_BASE_RULE] = r;
    rw.base[BM_BASE_RULE_STATE] = &st;
    /* unknown or repeated keys first: a typo must not pass */
    if (bm_walk_check_keys(&rw, map)) return -1;
    if (is_new && !bm_yaml_get(w->doc, map, "metric", NULL))
        return bm_walk_fail(&rw, map, "missing metric");
    if (is_new && !bm_yaml_get(w->doc, map, "threshold", NULL))
        return bm_walk_fail(&rw, map, "missing threshold");
    if (bm_walk_mapping(&rw, map, "", "")) return -1;
    if (!st.scope_given && st.metric_given &&
        (is_new || !alerts_metric_allows_scope(r->metric, r->scope))) {
        r->scope = alerts_metric_default_scope(r->metric); /* new rule, or a changed metric */
        r->target[0] = '\0';
    }
    if (!st.window_given && st.metric_given)
        r->window = alerts_metric_windowed(r->metric) ? (r->window >= 0 ? r->window : 1) : -1;
    /* left unused it would pass for what the rule compares (avg_latency_ms with stat: p95) */
    if (st.stat_given && r->metric != ALERT_METRIC_CUSTOM)
        return bm_walk_fail(&rw, map, "stat is for metric:NAME rules; %s is compared as it is",
                            alerts_metric_name(r->metric));
    if (st.baseline_given && r->metric != ALERT_METRIC_LATENCY_ANOMALY &&
        r->metric != ALERT_METRIC_ERROR_RATE_ANOMALY)
        return bm_walk_fail(&rw, map,
                            "baseline is for latency_anomaly and error_rate_anomaly rules; %s is "
                            "compared with the threshold as it is",
                            alerts_metric_name(r->metric));
    char why[512];
    if (alerts_rule_check(r, why, sizeof why)) return bm_walk_fail(&rw, map, "%s", why);
    return 0;
}

/* ---- the section's own readers -------------------------------------------- */

int bm_alert_rules_yaml_builtins(bm_walk *w, const bm_walk_pair *p)
{
    bm_alert_config *c = w->base[BM_BASE_RULES];
    if (bm_walk_set(w, p->k, p->path, p->value)) return -1;
    if (!c->builtins) c->n_rules = 0;
    return 0;
}

int bm_alert_rules_yaml_rules(bm_walk *w, const bm_walk_pair *p)
{
    bm_alert_config *c = w->base[BM_BASE_RULES];
    int rc = bm_walk_list(w, p, "rules (- name: ...)");
    if (rc <= 0) return rc;
    size_t n_builtins = c->n_rules;
    int index = 0;
    for (yaml_node_item_t *it = p->value->data.sequence.items.start;
         it < p->value->data.sequence.items.top; it++) {
        yaml_node_t *map = bm_walk_node(w, *it);
        char tag[80];
        snprintf(tag, sizeof tag, "rule #%d", ++index);
        if (!map || map->type != YAML_MAPPING_NODE)
            return bm_walk_fail(w, map, "%s: must be a mapping (name: ..., metric: ...), not %s",
                                tag, bm_yaml_kind(map));
        yaml_node_t *nn = bm_yaml_get(w->doc, map, "name", NULL);
        const char *name = bm_yaml_scalar(nn);
        if (!nn || bm_yaml_is_null(nn)) return bm_walk_fail(w, map, "%s: missing name", tag);
        if (!name)
            return bm_walk_fail(w, nn, "%s: name must be text, not %s", tag, bm_yaml_kind(nn));
        snprintf(tag, sizeof tag, "rule '%.60s'", name);
        if (strlen(name) >= BM_ALERT_NAME_MAX)
            return bm_walk_fail(w, nn, "%s: name is longer than %d characters", tag,
                                BM_ALERT_NAME_MAX - 1);

        /* the same name twice under rules: is a mistake (which one wins?) */
        for (yaml_node_item_t *q = p->value->data.sequence.items.start; q < it; q++) {
            yaml_node_t *other = bm_walk_node(w, *q);
            const char *on = bm_yaml_scalar(bm_yaml_get(w->doc, other, "name", NULL));
            if (on && !strcmp(on, name))
                return bm_walk_fail(w, nn, "%s: defined twice (first at line %zu)", tag,
                                    bm_yaml_line(other));
        }
        alert_rule *r = NULL;
        for (size_t i = 0; i < n_builtins; i++)
            if (!strcmp(c->rules[i].name, name)) r = &c->rules[i];
        int is_new = r == NULL;
        alert_rule fresh;
        if (is_new) {
            if (c->n_rules == BM_ALERT_RULES_MAX)
                return bm_walk_fail(w, map, "%s: too many rules (at most %d)", tag,
                                    BM_ALERT_RULES_MAX);
            alerts_rule_init(&fresh);
            snprintf(fresh.name, sizeof fresh.name, "%s", name);
            r = &fresh;
        }
        alert_rule work = *r;
        if (read_rule(w, tag, map, &work, is_new)) return -1;
        if (!is_new) {
            *r = work;
            continue;
        }
        alert_rule *grown = realloc(c->rules, (c->n_rules + 1) * sizeof *grown);
        if (!grown) return bm_walk_fail(w, map, "out of memory");
        c->rules = grown;
        c->rules[c->n_rules++] = work;
    }
    return 0;
}

int bm_alert_rules_yaml_disable(bm_walk *w, const bm_walk_pair *p)
{
    bm_alert_config *c = w->base[BM_BASE_RULES];
    if (bm_yaml_is_null(p->value)) return 0;
    yaml_node_item_t one = 0;
    yaml_node_item_t *start = &one, *top = &one;
    if (p->value->type == YAML_SEQUENCE_NODE) {
        start = p->value->data.sequence.items.start;
        top = p->value->data.sequence.items.top;
    } else if (p->value->type == YAML_SCALAR_NODE) {
        top = start + 1;
    } else {
        return bm_walk_fail(w, p->value, "'%s' must be a list of rule names, not %s", p->path,
                            bm_yaml_kind(p->value));
    }
    for (yaml_node_item_t *it = start; it < top; it++) {
        yaml_node_t *nn = p->value->type == YAML_SEQUENCE_NODE ? bm_walk_node(w, *it) : p->value;
        const char *name = bm_yaml_scalar(nn);
        if (!name) return bm_walk_fail(w, nn, "'%s' must be a list of rule names", p->path);
        alert_rule *r = (alert_rule *)bm_alert_config_find(c, name);
        if (!r) return bm_walk_fail(w, nn, "%s: no rule '%s'", p->path, name);
        r->enabled = 0;
    }
    return 0;
}

/* ---- the section ------------------------------------------------------------- */

int bm_alert_rules_walk_section(bm_walk *w, yaml_node_t *sec)
{
    bm_alert_config *c = w->base[BM_BASE_RULES];
    if (bm_yaml_is_null(sec)) return 0; /* `alerts:` with nothing under it: the defaults */
    if (sec->type == YAML_SCALAR_NODE) {
        if (bm_parse_bool(bm_yaml_scalar(sec), &c->enabled))
            return bm_walk_fail(w, sec, "'alerts' must be a mapping (rules:, ...) or true / false");
        return 0;
    }
    if (sec->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, sec, "'alerts' must be a mapping (rules:, ...), not %s",
                            bm_yaml_kind(sec));
    return bm_walk_mapping(w, sec, "alerts", "alerts");
}
