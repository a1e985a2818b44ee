/*
 * alert_config.c - the `alerts:` section (alert_config.h) read from a
 * libyaml document into alert rules.
 *
 * The section is parsed into a fresh bm_alert_config and swapped in only
 * when all of it is good, so a refused file leaves the caller's rules as
 * they were. Keys are read in a fixed order, whatever their order in the
 * file: `builtins` (which decides the starting set), the scalars, `rules`,
 * then `disable` (which may name rules defined under `rules`). Each rule is
 * built from the built-in of its name (or the defaults), its keys applied
 * with `metric` first (scope and window defaults follow from it), then
 * judged by alerts_rule_check(), whose reason is reported at the rule's line.
 */
#include "agent/config/alert_rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_INTERVAL_US (10 * 1000000LL)
#define DEFAULT_HISTORY     100
#define DEFAULT_MAX_ALERTS  10000
#define MAX_DURATION_S      (366.0 * 86400) /* a year: longer is a typo */

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

int bm_alert_config_init(bm_alert_config *c)
{
    memset(c, 0, sizeof *c);
    c->enabled = 1;
    c->interval_us = DEFAULT_INTERVAL_US;
    c->history = DEFAULT_HISTORY;
    c->max_alerts = DEFAULT_MAX_ALERTS;
    c->builtins = 1;
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

/* ---- parsing helpers ----------------------------------------------------- */

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    bm_alert_config_warn_cb warn;
    void *warn_arg;
} pctx;

static size_t line_of(const yaml_node_t *n)
{
    return n ? n->start_mark.line + 1 : 0;
}

/* "FILE:LINE: what" into err. @return -1. */
static int failf(pctx *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%zu: %s", p->file, line_of(n), what);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(pctx *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

static const char *kind_name(const yaml_node_t *n)
{
    return !n                              ? "nothing"
           : n->type == YAML_MAPPING_NODE  ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a value";
}

/* YAML 1.1 booleans. @return 0/1, or -1. */
static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (!s) return -1;
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return 1;
        if (!strcasecmp(s, no[i])) return 0;
    }
    return -1;
}

/* An empty YAML value: "", "~" or "null". */
static int is_null(const yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*s || !strcmp(s, "~") || !strcasecmp(s, "null"));
}

/* A number (the whole text). @return 0 or -1. */
static int parse_number(const char *s, double *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

typedef enum { DUR_OK = 0, DUR_BAD, DUR_NEGATIVE, DUR_TOO_LONG } dur_result;

/* "250ms", "30s", "5m", "1h", "1d", or a number of seconds, into µs. */
static dur_result parse_duration_us(const char *s, int64_t *out)
{
    if (!s || !*s) return DUR_BAD;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v)) return DUR_BAD;
    double mul;
    if (!strcmp(end, "ms"))
        mul = 0.001;
    else if (!*end || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else
        return DUR_BAD;
    if (v < 0) return DUR_NEGATIVE;
    if (v * mul > MAX_DURATION_S) return DUR_TOO_LONG;
    *out = (int64_t)(v * mul * 1e6 + 0.5);
    return DUR_OK;
}

/* A whole number in [lo, hi]. @return 0 or -1. */
static int parse_count(const char *s, size_t lo, size_t hi, size_t *out)
{
    double v;
    if (parse_number(s, &v) || v != floor(v) || v < (double)lo || v > (double)hi) return -1;
    *out = (size_t)v;
    return 0;
}

/* ---- one rule ------------------------------------------------------------ */

/* The rule's name as messages show it. */
typedef struct {
    char shown[80]; /* "rule 'x'" or "rule #3" */
} rule_tag;

static const char *const scope_help =
    "global, each_worker, worker:NAME, each_stream, stream:NAME, each_error_type, "
    "error_type:NAME";

/*
 * scope text: a bare word, or "worker:NAME" / "worker NAME". For a named
 * scope the name goes to r->target.
 */
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

static int set_target(pctx *p, const rule_tag *t, yaml_node_t *vn, const char *key,
                      alert_scope scope, alert_rule *r)
{
    const char *s = scalar(vn);
    if (!s || !*s) return failf(p, vn, "%s: '%s' must be a name", t->shown, key);
    if (strlen(s) >= sizeof r->target)
        return failf(p, vn, "%s: '%s' is longer than %zu bytes", t->shown, key,
                     sizeof r->target - 1);
    r->scope = scope;
    snprintf(r->target, sizeof r->target, "%s", s);
    return 0;
}

static int parse_labels(pctx *p, const rule_tag *t, yaml_node_t *vn, alert_rule *r)
{
    if (vn->type != YAML_MAPPING_NODE)
        return failf(p, vn, "%s: labels must be a mapping (key: value), not %s", t->shown,
                     kind_name(vn));
    r->n_labels = 0;
    for (yaml_node_pair_t *pr = vn->data.mapping.pairs.start; pr < vn->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = node(p, pr->key), *ln = node(p, pr->value);
        const char *k = scalar(kn), *v = scalar(ln);
        if (!k || !v) return failf(p, kn, "%s: labels must map names to plain values", t->shown);
        if (r->n_labels == ALERT_RULE_LABELS_MAX)
            return failf(p, kn, "%s: too many labels (at most %d)", t->shown,
                         ALERT_RULE_LABELS_MAX);
        bm_alert_label *l = &r->labels[r->n_labels++];
        if (strlen(k) >= sizeof l->key)
            return failf(p, kn, "%s: label key '%.40s...' is too long (at most %zu)", t->shown, k,
                         sizeof l->key - 1);
        if (strlen(v) >= sizeof l->value)
            return failf(p, ln, "%s: label '%s': the value is longer than %zu bytes", t->shown, k,
                         sizeof l->value - 1);
        snprintf(l->key, sizeof l->key, "%s", k);
        snprintf(l->value, sizeof l->value, "%s", v);
    }
    return 0;
}

static int parse_duration_key(pctx *p, const rule_tag *t, yaml_node_t *vn, const char *key,
                              int64_t *out)
{
    const char *s = scalar(vn);
    switch (parse_duration_us(s, out)) {
    case DUR_OK:
        return 0;
    case DUR_NEGATIVE:
        return failf(p, vn, "%s: '%s' must not be negative ('%s')", t->shown, key, s);
    case DUR_TOO_LONG:
        return failf(p, vn, "%s: '%s' is longer than a year ('%s')", t->shown, key, s);
    default:
        return failf(p, vn, "%s: '%s' must be a duration like 30s, 5m, 1h or seconds, not '%s'",
                     t->shown, key, s ? s : kind_name(vn));
    }
}

static int parse_threshold(pctx *p, const rule_tag *t, yaml_node_t *vn, alert_rule *r)
{
    const char *s = scalar(vn);
    if (!s) return failf(p, vn, "%s: threshold must be a number, not %s", t->shown, kind_name(vn));
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
        if (parse_number(s, &r->threshold))
            return failf(p, vn, "%s: threshold must be failed, degraded, ok or 0-2, not '%s'",
                         t->shown, s);
        return 0;
    }
    if (parse_number(s, &r->threshold))
        return failf(p, vn, "%s: threshold must be a number, not '%s'", t->shown, s);
    return 0;
}

/* The keys a rule may have. */
static const char *const rule_keys[] = {
    "name",       "enabled",  "metric",     "scope",       "worker", "stream",
    "error_type", "op",       "comparator", "threshold",   "window", "for",
    "severity",   "cooldown", "labels",     "description",
};

static yaml_node_t *rule_get(pctx *p, yaml_node_t *map, const char *key, yaml_node_t **key_node)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *k = scalar(node(p, pr->key));
        if (k && !strcmp(k, key)) {
            if (key_node) *key_node = node(p, pr->key);
            return node(p, pr->value);
        }
    }
    return NULL;
}

/*
 * Apply the keys of one rule mapping to *r (already holding its starting
 * values). `is_new`: not a built-in, so metric and threshold are required.
 */
static int apply_rule(pctx *p, const rule_tag *t, yaml_node_t *map, alert_rule *r, int is_new)
{
    /* unknown or repeated keys first: a typo must not pass */
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = node(p, pr->key);
        const char *k = scalar(kn);
        if (!k) return failf(p, kn, "%s: keys must be plain names", t->shown);
        size_t i = 0;
        while (i < sizeof rule_keys / sizeof *rule_keys && strcmp(rule_keys[i], k))
            i++;
        if (i == sizeof rule_keys / sizeof *rule_keys)
            return failf(p, kn,
                         "%s: unknown key '%s' (known: name, metric, scope, op, threshold, "
                         "window, for, severity, cooldown, labels, description, enabled)",
                         t->shown, k);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++)
            if (!strcmp(scalar(node(p, q->key)), k))
                return failf(p, kn, "%s: '%s' is given twice", t->shown, k);
    }
    yaml_node_t *vn, *kn = NULL;
    int metric_given = 0, scope_given = 0, window_given = 0;

    if ((vn = rule_get(p, map, "metric", NULL))) {
        int m = alerts_metric_parse(scalar(vn));
        if (m < 0) {
            char known[400] = "";
            for (int i = 0; i < ALERT_METRIC__COUNT; i++) {
                size_t at = strlen(known);
                snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                         alerts_metric_name((alert_metric)i));
            }
            return failf(p, vn, "%s: unknown metric '%s' (known: %s)", t->shown,
                         scalar(vn) ? scalar(vn) : kind_name(vn), known);
        }
        r->metric = (alert_metric)m;
        metric_given = 1;
    } else if (is_new) {
        return failf(p, map, "%s: missing metric", t->shown);
    }

    if ((vn = rule_get(p, map, "scope", NULL))) {
        const char *s = scalar(vn);
        if (vn->type == YAML_MAPPING_NODE &&
            vn->data.mapping.pairs.top - vn->data.mapping.pairs.start ==
                1) { /* scope: {worker: NAME} */
            yaml_node_pair_t *pr = vn->data.mapping.pairs.start;
            const char *k = scalar(node(p, pr->key));
            int sc = k ? alerts_scope_parse(k) : -1;
            if (sc != ALERT_SCOPE_WORKER && sc != ALERT_SCOPE_STREAM &&
                sc != ALERT_SCOPE_ERROR_TYPE)
                return failf(p, vn, "%s: unknown scope (use %s)", t->shown, scope_help);
            if (set_target(p, t, node(p, pr->value), k, (alert_scope)sc, r)) return -1;
        } else if (!s || parse_scope(s, r)) {
            return failf(p, vn, "%s: unknown scope '%s' (use %s)", t->shown, s ? s : kind_name(vn),
                         scope_help);
        }
        scope_given = 1;
    }
    static const struct {
        const char *key;
        alert_scope scope;
    } shorthands[] = {{"worker", ALERT_SCOPE_WORKER},
                      {"stream", ALERT_SCOPE_STREAM},
                      {"error_type", ALERT_SCOPE_ERROR_TYPE}};
    for (size_t i = 0; i < sizeof shorthands / sizeof *shorthands; i++) {
        if (!(vn = rule_get(p, map, shorthands[i].key, &kn))) continue;
        if (scope_given)
            return failf(p, kn, "%s: give either scope or %s, not both", t->shown,
                         shorthands[i].key);
        if (set_target(p, t, vn, shorthands[i].key, shorthands[i].scope, r)) return -1;
        scope_given = 1;
    }
    if (!scope_given && metric_given &&
        (is_new || !alerts_metric_allows_scope(r->metric, r->scope))) {
        r->scope = alerts_metric_default_scope(r->metric); /* new rule, or a changed metric */
        r->target[0] = '\0';
    }

    yaml_node_t *op = rule_get(p, map, "op", NULL), *cmp = rule_get(p, map, "comparator", &kn);
    if (op && cmp) return failf(p, kn, "%s: give either op or comparator, not both", t->shown);
    if ((vn = op ? op : cmp)) {
        int o = alerts_op_parse(scalar(vn));
        if (o < 0)
            return failf(p, vn, "%s: unknown comparator '%s' (use >, >=, <, <=, ==, !=)", t->shown,
                         scalar(vn) ? scalar(vn) : kind_name(vn));
        r->op = (alert_op)o;
    }

    if ((vn = rule_get(p, map, "threshold", NULL))) {
        if (parse_threshold(p, t, vn, r)) return -1;
    } else if (is_new) {
        return failf(p, map, "%s: missing threshold", t->shown);
    }

    if ((vn = rule_get(p, map, "window", NULL))) {
        int w = alerts_window_parse(scalar(vn));
        if (w < 0)
            return failf(p, vn, "%s: unknown window '%s' (use 1m, 5m or 1h)", t->shown,
                         scalar(vn) ? scalar(vn) : kind_name(vn));
        r->window = w;
        window_given = 1;
    }
    if (!window_given && metric_given)
        r->window = alerts_metric_windowed(r->metric) ? (r->window >= 0 ? r->window : 1) : -1;

    if ((vn = rule_get(p, map, "for", NULL)) && parse_duration_key(p, t, vn, "for", &r->for_us))
        return -1;
    if ((vn = rule_get(p, map, "cooldown", NULL)) &&
        parse_duration_key(p, t, vn, "cooldown", &r->cooldown_us))
        return -1;

    if ((vn = rule_get(p, map, "severity", NULL))) {
        int s = bm_severity_parse(scalar(vn));
        if (s < 0)
            return failf(p, vn, "%s: unknown severity '%s' (use info, warning, error, critical)",
                         t->shown, scalar(vn) ? scalar(vn) : kind_name(vn));
        r->severity = (bm_severity)s;
    }
    if ((vn = rule_get(p, map, "labels", NULL)) && parse_labels(p, t, vn, r)) return -1;
    if ((vn = rule_get(p, map, "description", NULL))) {
        const char *s = scalar(vn);
        if (!s)
            return failf(p, vn, "%s: description must be text, not %s", t->shown, kind_name(vn));
        if (strlen(s) >= sizeof r->description)
            return failf(p, vn, "%s: description is longer than %zu bytes", t->shown,
                         sizeof r->description - 1);
        snprintf(r->description, sizeof r->description, "%s", s);
    }
    if ((vn = rule_get(p, map, "enabled", NULL))) {
        int b = parse_bool(scalar(vn));
        if (b < 0)
            return failf(p, vn, "%s: enabled must be true or false, not '%s'", t->shown,
                         scalar(vn) ? scalar(vn) : kind_name(vn));
        r->enabled = b;
    }

    char why[512];
    if (alerts_rule_check(r, why, sizeof why)) return failf(p, map, "%s: %s", t->shown, why);
    return 0;
}

/* ---- the section --------------------------------------------------------- */

/* Keys under `alerts:` read by the notification outputs, not here. */
static const char *const others_keys[] = {"webhooks", "sinks",  "stream",
                                          "channel",  "maxlen", "firing"};

static int parse_rules(pctx *p, bm_alert_config *c, yaml_node_t *seq)
{
    if (is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return failf(p, seq, "'alerts.rules' must be a list of rules (- name: ...), not %s",
                     kind_name(seq));
    size_t n_builtins = c->n_rules;
    int index = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *map = node(p, *it);
        rule_tag t;
        snprintf(t.shown, sizeof t.shown, "rule #%d", ++index);
        if (!map || map->type != YAML_MAPPING_NODE)
            return failf(p, map, "%s: must be a mapping (name: ..., metric: ...), not %s", t.shown,
                         kind_name(map));
        yaml_node_t *nn = rule_get(p, map, "name", NULL);
        const char *name = scalar(nn);
        if (!nn || is_null(nn)) return failf(p, map, "%s: missing name", t.shown);
        if (!name) return failf(p, nn, "%s: name must be text, not %s", t.shown, kind_name(nn));
        snprintf(t.shown, sizeof t.shown, "rule '%.60s'", name);
        if (strlen(name) >= BM_ALERT_NAME_MAX)
            return failf(p, nn, "%s: name is longer than %d characters", t.shown,
                         BM_ALERT_NAME_MAX - 1);

        /* the same name twice under rules: is a mistake (which one wins?) */
        for (yaml_node_item_t *q = seq->data.sequence.items.start; q < it; q++) {
            yaml_node_t *other = node(p, *q);
            const char *on = scalar(rule_get(p, other, "name", NULL));
            if (on && !strcmp(on, name))
                return failf(p, nn, "%s: defined twice (first at line %zu)", t.shown,
                             line_of(other));
        }
        alert_rule *r = NULL;
        for (size_t i = 0; i < n_builtins; i++)
            if (!strcmp(c->rules[i].name, name)) r = &c->rules[i];
        int is_new = r == NULL;
        alert_rule fresh;
        if (is_new) {
            if (c->n_rules == BM_ALERT_RULES_MAX)
                return failf(p, map, "%s: too many rules (at most %d)", t.shown,
                             BM_ALERT_RULES_MAX);
            alerts_rule_init(&fresh);
            snprintf(fresh.name, sizeof fresh.name, "%s", name);
            r = &fresh;
        }
        alert_rule work = *r;
        if (apply_rule(p, &t, map, &work, is_new)) return -1;
        if (!is_new) {
            *r = work;
            continue;
        }
        alert_rule *grown = realloc(c->rules, (c->n_rules + 1) * sizeof *grown);
        if (!grown) return failf(p, map, "out of memory");
        c->rules = grown;
        c->rules[c->n_rules++] = work;
    }
    return 0;
}

static int parse_disable(pctx *p, bm_alert_config *c, yaml_node_t *vn)
{
    if (is_null(vn)) return 0;
    yaml_node_item_t one = 0;
    yaml_node_item_t *start = &one, *top = &one;
    if (vn->type == YAML_SEQUENCE_NODE) {
        start = vn->data.sequence.items.start;
        top = vn->data.sequence.items.top;
    } else if (vn->type == YAML_SCALAR_NODE) {
        top = start + 1;
    } else {
        return failf(p, vn, "'alerts.disable' must be a list of rule names, not %s", kind_name(vn));
    }
    for (yaml_node_item_t *it = start; it < top; it++) {
        yaml_node_t *nn = vn->type == YAML_SEQUENCE_NODE ? node(p, *it) : vn;
        const char *name = scalar(nn);
        if (!name) return failf(p, nn, "'alerts.disable' must be a list of rule names");
        alert_rule *r = (alert_rule *)bm_alert_config_find(c, name);
        if (!r) return failf(p, nn, "alerts.disable: no rule '%s'", name);
        r->enabled = 0;
    }
    return 0;
}

static void warnf(pctx *p, const yaml_node_t *n, const char *key)
{
    if (!p->warn) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%zu: unknown key 'alerts.%s' (ignored)", p->file, line_of(n),
             key);
    p->warn(msg, p->warn_arg);
}

static int parse_section(pctx *p, bm_alert_config *c, yaml_node_t *sec)
{
    enum { K_ENABLED, K_INTERVAL, K_HISTORY, K_MAX, K_BUILTINS, K_DISABLE, K_RULES, K__COUNT };
    static const char *const names[K__COUNT] = {"enabled",  "interval", "history", "max_alerts",
                                                "builtins", "disable",  "rules"};
    yaml_node_t *val[K__COUNT] = {0};
    for (yaml_node_pair_t *pr = sec->data.mapping.pairs.start; pr < sec->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
        const char *k = scalar(kn);
        if (!k || !vn) return failf(p, kn, "'alerts' keys must be plain names");
        int i = 0;
        while (i < K__COUNT && strcmp(names[i], k))
            i++;
        if (i < K__COUNT) {
            if (val[i]) return failf(p, kn, "'alerts.%s' is given twice", k);
            val[i] = vn;
            continue;
        }
        size_t j = 0;
        while (j < sizeof others_keys / sizeof *others_keys && strcmp(others_keys[j], k))
            j++;
        if (j == sizeof others_keys / sizeof *others_keys) warnf(p, kn, k);
    }

    yaml_node_t *vn;
    if ((vn = val[K_BUILTINS])) {
        int b = parse_bool(scalar(vn));
        if (b < 0) return failf(p, vn, "'alerts.builtins' must be true or false");
        c->builtins = b;
        if (!b) c->n_rules = 0;
    }
    if ((vn = val[K_ENABLED])) {
        int b = parse_bool(scalar(vn));
        if (b < 0) return failf(p, vn, "'alerts.enabled' must be true or false");
        c->enabled = b;
    }
    if ((vn = val[K_INTERVAL])) {
        const char *s = scalar(vn);
        if (parse_duration_us(s, &c->interval_us) != DUR_OK || c->interval_us < 100000)
            return failf(p, vn,
                         "'alerts.interval' must be a duration of at least 100ms (30s, "
                         "1m), not '%s'",
                         s ? s : kind_name(vn));
    }
    if ((vn = val[K_HISTORY]) && parse_count(scalar(vn), 1, 10000, &c->history))
        return failf(p, vn, "'alerts.history' must be a number 1-10000, not '%s'",
                     scalar(vn) ? scalar(vn) : kind_name(vn));
    if ((vn = val[K_MAX]) && parse_count(scalar(vn), 1, 1000000, &c->max_alerts))
        return failf(p, vn, "'alerts.max_alerts' must be a number 1-1000000, not '%s'",
                     scalar(vn) ? scalar(vn) : kind_name(vn));
    if ((vn = val[K_RULES]) && parse_rules(p, c, vn)) return -1;
    if ((vn = val[K_DISABLE]) && parse_disable(p, c, vn)) return -1;
    return 0;
}

int bm_alert_config_parse(bm_alert_config *c, yaml_document_t *doc, yaml_node_t *sec,
                          const char *file, char *err, size_t errlen, bm_alert_config_warn_cb warn,
                          void *warn_arg)
{
    pctx p = {doc, file ? file : "config", err, errlen, warn, warn_arg};
    bm_alert_config fresh;
    if (bm_alert_config_init(&fresh)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (!sec || is_null(sec)) {
        /* `alerts:` with nothing under it: the defaults */
    } else if (sec->type == YAML_SCALAR_NODE) {
        int b = parse_bool(scalar(sec));
        if (b < 0)
            rc = failf(&p, sec, "'alerts' must be a mapping (rules:, ...) or true / false");
        else
            fresh.enabled = b;
    } else if (sec->type != YAML_MAPPING_NODE) {
        rc = failf(&p, sec, "'alerts' must be a mapping (rules:, ...), not %s", kind_name(sec));
    } else {
        rc = parse_section(&p, &fresh, sec);
    }
    if (rc) {
        bm_alert_config_deinit(&fresh);
        return -1;
    }
    bm_alert_config_deinit(c);
    *c = fresh;
    return 0;
}

int bm_alert_config_parse_string(bm_alert_config *c, const char *yaml, size_t len, const char *file,
                                 char *err, size_t errlen, bm_alert_config_warn_cb warn,
                                 void *warn_arg)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!file) file = "config";
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: invalid YAML: %s", file, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *sec = NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
            if (kn && kn->type == YAML_SCALAR_NODE &&
                !strcmp((const char *)kn->data.scalar.value, "alerts"))
                sec = yaml_document_get_node(&doc, pr->value);
        }
    } else if (root && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length)) {
        snprintf(err, errlen, "%s:%zu: the top level must be a mapping of sections", file,
                 root->start_mark.line + 1);
        rc = -1;
    }
    if (!rc) rc = bm_alert_config_parse(c, &doc, sec, file, err, errlen, warn, warn_arg);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}
