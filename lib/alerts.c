/*
 * alerts.c - the alert engine (lib/alerts.h): rule checks, built-in rules,
 * metric extraction from a rollup and gauges, the instance lifecycle,
 * notifications and the history ring.
 *
 * Instances live in a chained hash table keyed by (rule id, target):
 *
 *   buckets[hash & mask] -> instance -> instance -> NULL
 *   instance: rule_id, target ("" global, else worker/stream/error type),
 *             state (pending | firing), pending/firing/notified times,
 *             `seen` = the evaluation number its condition was last true
 *
 * An instance exists only while pending or firing. Each evaluation bumps
 * the evaluation number; a rule's sources (the rollup's workers, the
 * gauges' streams, the patterns) mark the instances whose condition is
 * true; an instance whose source is present and false is resolved (or
 * dropped, when pending) at once, and a final sweep does the same for
 * instances whose source was not seen at all (a worker gone from the
 * rollup). Rule ids, not indexes, tie instances to rules, so replacing a
 * rule orphans nothing.
 *
 * History is a ring of bm_alert records (firing and resolved), newest
 * overwriting oldest.
 */
#include "lib/alerts.h"

#include <ctype.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_codec.h"

#define DEFAULT_MAX_INSTANCES 10000
#define DEFAULT_HISTORY       100
#define MIN_US                60000000LL
#define DEFAULT_COOLDOWN_US   (15 * MIN_US)

/* ---- names --------------------------------------------------------------- */

enum { S_GLOBAL = 1, S_WORKER = 2, S_STREAM = 4, S_ERRTYPE = 8, S_TAG = 16 };

static const struct {
    const char *name;
    int windowed;
    unsigned scopes; /* S_* */
} metric_info[ALERT_METRIC__COUNT] = {
    [ALERT_METRIC_ERROR_RATE] = {"error_rate", 1, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_SUCCESS_RATE] = {"success_rate", 1, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_AVG_LATENCY_MS] = {"avg_latency_ms", 1, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_P95_LATENCY_MS] = {"p95_latency_ms", 1, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_P99_LATENCY_MS] = {"p99_latency_ms", 1, S_WORKER},
    [ALERT_METRIC_THROUGHPUT_PER_MIN] = {"throughput_per_min", 1, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_ERROR_COUNT] = {"error_count", 1, S_GLOBAL | S_WORKER | S_ERRTYPE},
    [ALERT_METRIC_IN_FLIGHT] = {"in_flight", 0, S_GLOBAL | S_WORKER},
    [ALERT_METRIC_HEALTH] = {"health", 0, S_WORKER},
    [ALERT_METRIC_CONSUMER_LAG] = {"consumer_lag", 0, S_GLOBAL | S_STREAM},
    [ALERT_METRIC_PENDING] = {"pending", 0, S_GLOBAL | S_STREAM},
    [ALERT_METRIC_DEADLETTER_RATE] = {"deadletter_rate", 0, S_GLOBAL},
    [ALERT_METRIC_CPU_PERCENT] = {"cpu_percent", 0, S_GLOBAL},
    [ALERT_METRIC_MEMORY_PERCENT] = {"memory_percent", 0, S_GLOBAL},
    [ALERT_METRIC_LATENCY_ANOMALY] = {"latency_anomaly", 1, S_WORKER},
    [ALERT_METRIC_ERROR_RATE_ANOMALY] = {"error_rate_anomaly", 1, S_WORKER},
    [ALERT_METRIC_CUSTOM] = {"metric", 1, S_GLOBAL | S_TAG},
};

static const struct {
    const char *name;
    unsigned kind;     /* S_* */
    int named;         /* needs a target */
    const char *label; /* the instance's label key, NULL for global */
} scope_info[ALERT_SCOPE__COUNT] = {
    [ALERT_SCOPE_GLOBAL] = {"global", S_GLOBAL, 0, NULL},
    [ALERT_SCOPE_EACH_WORKER] = {"each_worker", S_WORKER, 0, "worker"},
    [ALERT_SCOPE_WORKER] = {"worker", S_WORKER, 1, "worker"},
    [ALERT_SCOPE_EACH_STREAM] = {"each_stream", S_STREAM, 0, "stream"},
    [ALERT_SCOPE_STREAM] = {"stream", S_STREAM, 1, "stream"},
    [ALERT_SCOPE_EACH_ERROR_TYPE] = {"each_error_type", S_ERRTYPE, 0, "error_type"},
    [ALERT_SCOPE_ERROR_TYPE] = {"error_type", S_ERRTYPE, 1, "error_type"},
    [ALERT_SCOPE_EACH_TAG] = {"each_tag", S_TAG, 1, NULL}, /* label: the tag key (target) */
};

static const char *const stat_names[ALERT_STAT__COUNT] = {
    "avg", "count", "sum", "min", "max", "p50", "p95", "p99", "rate", "last",
};

const char *alerts_stat_name(alert_metric_stat st)
{
    return (unsigned)st < ALERT_STAT__COUNT ? stat_names[st] : "unknown";
}

int alerts_stat_parse(const char *s)
{
    for (int i = 0; s && i < ALERT_STAT__COUNT; i++)
        if (!strcmp(s, stat_names[i])) return i;
    return -1;
}

/* What a rule compares, for people: "error_rate", "metric:order_value p95". */
static void metric_text(const alert_rule *r, char *buf, size_t n)
{
    if (r->metric == ALERT_METRIC_CUSTOM)
        snprintf(buf, n, "metric:%s %s", r->metric_name, alerts_stat_name(r->stat));
    else
        snprintf(buf, n, "%s", alerts_metric_name(r->metric));
}

/* The instance's label key of a rule: the scope's, or an each_tag rule's tag key. */
static const char *label_of(const alert_rule *r)
{
    if (r->scope == ALERT_SCOPE_EACH_TAG) return r->target;
    return scope_info[(unsigned)r->scope < ALERT_SCOPE__COUNT ? r->scope : 0].label;
}

static const char *const op_names[ALERT_OP__COUNT] = {">", ">=", "<", "<=", "==", "!="};
static const char *const window_names[BM_WINDOWS] = {"1m", "5m", "1h"};

const char *alerts_metric_name(alert_metric m)
{
    return (unsigned)m < ALERT_METRIC__COUNT ? metric_info[m].name : "unknown";
}

int alerts_metric_parse(const char *s)
{
    for (int i = 0; s && i < ALERT_METRIC__COUNT; i++)
        if (!strcmp(s, metric_info[i].name)) return i;
    return -1;
}

const char *alerts_scope_name(alert_scope s)
{
    return (unsigned)s < ALERT_SCOPE__COUNT ? scope_info[s].name : "unknown";
}

int alerts_scope_parse(const char *s)
{
    for (int i = 0; s && i < ALERT_SCOPE__COUNT; i++)
        if (!strcmp(s, scope_info[i].name)) return i;
    return -1;
}

const char *alerts_op_name(alert_op op)
{
    return (unsigned)op < ALERT_OP__COUNT ? op_names[op] : "?";
}

int alerts_op_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "=")) return ALERT_OP_EQ;
    for (int i = 0; i < ALERT_OP__COUNT; i++)
        if (!strcmp(s, op_names[i])) return i;
    return -1;
}

const char *alerts_window_name(int window)
{
    return window >= 0 && window < BM_WINDOWS ? window_names[window] : "";
}

int alerts_window_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < BM_WINDOWS; i++)
        if (!strcmp(s, window_names[i])) return i;
    if (!strcmp(s, "60m") || !strcmp(s, "perf") || !strcmp(s, "performance")) return 2;
    return -1;
}

int alerts_metric_windowed(alert_metric m)
{
    return (unsigned)m < ALERT_METRIC__COUNT && metric_info[m].windowed;
}

alert_scope alerts_metric_default_scope(alert_metric m)
{
    if ((unsigned)m >= ALERT_METRIC__COUNT) return ALERT_SCOPE_GLOBAL;
    if (!(metric_info[m].scopes & S_GLOBAL))
        return metric_info[m].scopes & S_STREAM ? ALERT_SCOPE_EACH_STREAM : ALERT_SCOPE_EACH_WORKER;
    if (m == ALERT_METRIC_CONSUMER_LAG || m == ALERT_METRIC_PENDING) return ALERT_SCOPE_EACH_STREAM;
    return ALERT_SCOPE_GLOBAL;
}

int alerts_metric_allows_scope(alert_metric m, alert_scope s)
{
    if ((unsigned)m >= ALERT_METRIC__COUNT || (unsigned)s >= ALERT_SCOPE__COUNT) return 0;
    return (metric_info[m].scopes & scope_info[s].kind) != 0;
}

/* ---- rules --------------------------------------------------------------- */

void alerts_rule_init(alert_rule *r)
{
    memset(r, 0, sizeof *r);
    r->enabled = 1;
    r->metric = ALERT_METRIC_ERROR_RATE;
    r->scope = ALERT_SCOPE_GLOBAL;
    r->op = ALERT_OP_GT;
    r->window = -1;
    r->severity = BM_SEVERITY_WARNING;
    r->cooldown_us = DEFAULT_COOLDOWN_US;
}

static int bounded_len(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static int valid_label_key(const char *k)
{
    if (!bounded_len(k, BM_ALERT_LABEL_KEY_MAX) || !k[0]) return 0;
    if (!(isalpha((unsigned char)k[0]) || k[0] == '_')) return 0;
    if (k[0] == '_' && k[1] == '_') return 0; /* reserved by Prometheus */
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_')) return 0;
    return 1;
}

static int reserved_label(const char *k)
{
    static const char *const reserved[] = {"alertname", "severity", "worker", "stream",
                                           "error_type"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp(k, reserved[i])) return 1;
    return 0;
}

static int fail(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
    if (why && n) snprintf(why, n, fmt, a, b);
    return -1;
}

/* Placeholders that need no label: the name between the braces. */
static int known_placeholder(const alert_rule *r, const char *name, size_t len)
{
    static const char *const names[] = {"value",  "threshold",  "op",       "metric",
                                        "window", "rule",       "severity", "worker",
                                        "stream", "error_type", "target",   "detail"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], name, len)) return 1;
    if (len > 7 && !memcmp(name, "labels.", 7)) {
        for (unsigned i = 0; i < r->n_labels && i < ALERT_RULE_LABELS_MAX; i++)
            if (strlen(r->labels[i].key) == len - 7 && !memcmp(r->labels[i].key, name + 7, len - 7))
                return 1;
    }
    return 0;
}

static int check_description(const alert_rule *r, char *why, size_t n)
{
    const char *d = r->description;
    if (!bounded_len(d, sizeof r->description))
        return fail(why, n, "description is longer than %s bytes%s", "511", "");
    for (const char *p = d; *p; p++) {
        if (*p != '{') continue;
        if (p[1] == '{') {
            p++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) return fail(why, n, "description: '{' without '}'%s%s", "", "");
        if (!known_placeholder(r, p + 1, (size_t)(end - p - 1))) {
            char name[80];
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
            return fail(why, n,
                        "description: unknown placeholder {%s} (known: {value} {threshold} {op} "
                        "{metric} {window} {rule} {severity} {worker} {stream} {error_type} "
                        "{target} {detail} {labels.KEY}%s)",
                        name, "");
        }
        p = end;
    }
    return 0;
}

int alerts_rule_check(const alert_rule *r, char *why, size_t n)
{
    if (!bounded_len(r->name, sizeof r->name))
        return fail(why, n, "name is longer than %s characters%s", "63", "");
    if (!r->name[0]) return fail(why, n, "missing name%s%s", "", "");
    for (const char *p = r->name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
            return fail(why, n, "name '%s' may only hold letters, digits, '_', '-' and '.'%s",
                        r->name, "");
    if ((unsigned)r->metric >= ALERT_METRIC__COUNT)
        return fail(why, n, "unknown metric%s%s", "", "");
    if ((unsigned)r->scope >= ALERT_SCOPE__COUNT) return fail(why, n, "unknown scope%s%s", "", "");
    if ((unsigned)r->op >= ALERT_OP__COUNT) return fail(why, n, "unknown comparator%s%s", "", "");
    if ((unsigned)r->severity >= BM_SEVERITY__COUNT)
        return fail(why, n, "unknown severity%s%s", "", "");
    if (!alerts_metric_allows_scope(r->metric, r->scope)) {
        char scopes[128] = "";
        for (int s = 0; s < ALERT_SCOPE__COUNT; s++) {
            if (!alerts_metric_allows_scope(r->metric, (alert_scope)s)) continue;
            size_t at = strlen(scopes);
            snprintf(scopes + at, sizeof scopes - at, "%s%s", at ? ", " : "", scope_info[s].name);
        }
        char what[200];
        snprintf(what, sizeof what, "metric %s cannot be used with scope %s (it allows: %s)",
                 metric_info[r->metric].name, scope_info[r->scope].name, scopes);
        return fail(why, n, "%s%s", what, "");
    }
    if (!bounded_len(r->target, sizeof r->target))
        return fail(why, n, "scope name is longer than %s bytes%s", "127", "");
    if (scope_info[r->scope].named && !r->target[0])
        return fail(why, n, "scope %s needs a name (%s: NAME)", scope_info[r->scope].name,
                    scope_info[r->scope].name);
    if (!scope_info[r->scope].named && r->target[0])
        return fail(why, n, "scope %s takes no name ('%s')", scope_info[r->scope].name, r->target);
    if (metric_info[r->metric].windowed && (r->window < 0 || r->window >= BM_WINDOWS))
        return fail(why, n, "metric %s needs a window: 1m, 5m or 1h%s", metric_info[r->metric].name,
                    "");
    if (!metric_info[r->metric].windowed && r->window != -1)
        return fail(why, n, "metric %s has no window (it is a current value)%s",
                    metric_info[r->metric].name, "");
    if (r->metric == ALERT_METRIC_CUSTOM) {
        if (!bounded_len(r->metric_name, sizeof r->metric_name) || !r->metric_name[0])
            return fail(why, n, "metric:NAME needs a name (metric:order_value)%s%s", "", "");
        if ((unsigned)r->stat >= ALERT_STAT__COUNT) return fail(why, n, "unknown stat%s%s", "", "");
        if (r->scope == ALERT_SCOPE_EACH_TAG &&
            (!valid_label_key(r->target) || reserved_label(r->target)))
            return fail(why, n,
                        "each_tag '%s': a tag key usable as a label (letters, digits, '_'; not "
                        "alertname, severity, worker, stream, error_type)%s",
                        r->target, "");
    }
    if (!isfinite(r->threshold))
        return fail(why, n, "threshold must be a finite number%s%s", "", "");
    /* health is 0, 1 or 2: a threshold beyond them is always or never met */
    if (r->metric == ALERT_METRIC_HEALTH && (r->threshold < 0 || r->threshold > 2))
        return fail(why, n, "threshold must be failed, degraded, ok or 0-2 for metric health%s%s",
                    "", "");
    if (r->for_us < 0) return fail(why, n, "'for' must not be negative%s%s", "", "");
    if (r->cooldown_us < 0) return fail(why, n, "cooldown must not be negative%s%s", "", "");
    if (r->n_labels > ALERT_RULE_LABELS_MAX)
        return fail(why, n, "too many labels (at most %s)%s", "7", "");
    for (unsigned i = 0; i < r->n_labels; i++) {
        const bm_alert_label *l = &r->labels[i];
        if (!valid_label_key(l->key))
            return fail(why, n,
                        "label '%s': keys are letters, digits and '_', not starting with a digit "
                        "or '__', at most 63%s",
                        bounded_len(l->key, sizeof l->key) ? l->key : "?", "");
        if (reserved_label(l->key))
            return fail(why, n, "label '%s' is reserved (busmon sets it)%s", l->key, "");
        if (!bounded_len(l->value, sizeof l->value) || !l->value[0])
            return fail(why, n, "label '%s': the value must have 1-127 bytes%s", l->key, "");
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(r->labels[j].key, l->key))
                return fail(why, n, "label '%s' is given twice%s", l->key, "");
    }
    return check_description(r, why, n);
}

/* ---- built-in rules ------------------------------------------------------ */

#define BUILTIN(nm, met, sc, o, thr, win, forus, sev, desc)                                        \
    {                                                                                              \
        .name = nm, .enabled = 1, .metric = met, .scope = sc, .op = o, .threshold = thr,           \
        .window = win, .for_us = forus, .severity = sev, .cooldown_us = DEFAULT_COOLDOWN_US,       \
        .description = desc                                                                        \
    }

static const alert_rule builtins[] = {
    BUILTIN("high_error_rate", ALERT_METRIC_ERROR_RATE, ALERT_SCOPE_EACH_WORKER, ALERT_OP_GT, 0.1,
            1, MIN_US, BM_SEVERITY_WARNING,
            "Worker {worker}: error rate {value} over {window} (threshold {threshold})"),
    BUILTIN("high_latency", ALERT_METRIC_AVG_LATENCY_MS, ALERT_SCOPE_EACH_WORKER, ALERT_OP_GT, 5000,
            1, MIN_US, BM_SEVERITY_WARNING,
            "Worker {worker}: average latency {value} ms over {window} (threshold {threshold} ms)"),
    BUILTIN("worker_failed", ALERT_METRIC_HEALTH, ALERT_SCOPE_EACH_WORKER, ALERT_OP_EQ,
            ALERT_HEALTH_FAILED, -1, 0, BM_SEVERITY_CRITICAL, "Worker {worker} has failed"),
    BUILTIN("worker_degraded", ALERT_METRIC_HEALTH, ALERT_SCOPE_EACH_WORKER, ALERT_OP_EQ,
            ALERT_HEALTH_DEGRADED, -1, MIN_US, BM_SEVERITY_WARNING, "Worker {worker} is degraded"),
    BUILTIN("error_spike", ALERT_METRIC_ERROR_COUNT, ALERT_SCOPE_GLOBAL, ALERT_OP_GT, 10, 1, 0,
            BM_SEVERITY_ERROR, "{value} errors in the last {window} (threshold {threshold})"),
    BUILTIN("consumer_lag", ALERT_METRIC_CONSUMER_LAG, ALERT_SCOPE_EACH_STREAM, ALERT_OP_GT, 10000,
            -1, 2 * MIN_US, BM_SEVERITY_WARNING,
            "Stream {stream}: consumer lag {value} entries (threshold {threshold})"),
    BUILTIN("critical_cpu", ALERT_METRIC_CPU_PERCENT, ALERT_SCOPE_GLOBAL, ALERT_OP_GT, 90, -1,
            2 * MIN_US, BM_SEVERITY_CRITICAL, "CPU at {value} % (threshold {threshold} %)"),
    BUILTIN("latency_anomaly", ALERT_METRIC_LATENCY_ANOMALY, ALERT_SCOPE_EACH_WORKER, ALERT_OP_GT,
            5, 0, 2 * MIN_US, BM_SEVERITY_WARNING,
            "Worker {worker}: {detail} over {window} (threshold {threshold})"),
    BUILTIN("error_rate_anomaly", ALERT_METRIC_ERROR_RATE_ANOMALY, ALERT_SCOPE_EACH_WORKER,
            ALERT_OP_GT, 5, 0, 2 * MIN_US, BM_SEVERITY_WARNING,
            "Worker {worker}: {detail} over {window} (threshold {threshold})"),
};

size_t alerts_builtin_rules(const alert_rule **out)
{
    if (out) *out = builtins;
    return sizeof builtins / sizeof *builtins;
}

const alert_rule *alerts_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (!strcmp(builtins[i].name, name)) return &builtins[i];
    return NULL;
}

void alerts_gauges_init(alert_gauges *g)
{
    memset(g, 0, sizeof *g);
    g->deadletter_per_min = -1;
    g->cpu_percent = -1;
    g->memory_percent = -1;
}

/* ---- description --------------------------------------------------------- */

typedef struct {
    char *out;
    size_t n, len;
    int cut; /* something did not fit: nothing more is appended */
} sbuf;

/* Appends s, or what fits of it ending on a whole UTF-8 character. */
static void put(sbuf *b, const char *s, size_t len)
{
    if (b->cut || b->len + 1 >= b->n) return;
    size_t room = b->n - 1 - b->len;
    if (len > room) {
        len = room;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) /* inside a character */
            len--;
        b->cut = 1;
    }
    memcpy(b->out + b->len, s, len);
    b->len += len;
    b->out[b->len] = '\0';
}

static void put_s(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_value(sbuf *b, const alert_rule *r, double v)
{
    char num[32];
    if (r->metric == ALERT_METRIC_HEALTH && v == floor(v) && v >= 0 && v <= 2) {
        static const char *const health_words[] = {"ok", "degraded", "failed"};
        put_s(b, health_words[(int)v]);
        return;
    }
    bm_alert_format_value(v, num);
    put_s(b, num);
}

/* Used when a rule has no template:
 * "error_rate over {window} is {value} (> {threshold}) for worker {target}". */
static void default_template(const alert_rule *r, char *out, size_t n)
{
    const char *lbl = label_of(r);
    char what[BM_NAME_MAX + 32];
    metric_text(r, what, sizeof what);
    snprintf(out, n, "%.200s%s is {value} (%s {threshold})%s%.63s%s", what,
             r->window >= 0 ? " over {window}" : "", op_names[r->op], lbl ? " for " : "",
             lbl ? lbl : "", lbl ? " {target}" : "");
}

static void render(const alert_rule *r, const char *target, const char *window_label, double value,
                   const char *detail, char *out, size_t n);

void alerts_render_description(const alert_rule *r, const char *target, const char *window_label,
                               double value, char *out, size_t n)
{
    render(r, target, window_label, value, "", out, n);
}

static void render(const alert_rule *r, const char *target, const char *window_label, double value,
                   const char *detail, char *out, size_t n)
{
    if (!n) return;
    out[0] = '\0';
    char deflt[BM_ALERT_DESC_MAX];
    const char *t = r->description;
    if (!t[0]) {
        default_template(r, deflt, sizeof deflt);
        t = deflt;
    }
    sbuf b = {out, n, 0, 0};
    const char *lbl = label_of(r);
    for (const char *p = t; *p;) {
        const char *brace = strchr(p, '{');
        if (!brace) {
            put_s(&b, p);
            break;
        }
        put(&b, p, (size_t)(brace - p));
        if (brace[1] == '{') {
            put(&b, "{", 1);
            p = brace + 2;
            continue;
        }
        const char *end = strchr(brace, '}');
        if (!end) {
            put_s(&b, brace);
            break;
        }
        const char *name = brace + 1;
        size_t len = (size_t)(end - name);
#define IS(lit) (len == sizeof(lit) - 1 && !memcmp(name, lit, len))
        if (IS("value")) {
            put_value(&b, r, value);
        } else if (IS("threshold")) {
            put_value(&b, r, r->threshold);
        } else if (IS("op")) {
            put_s(&b, alerts_op_name(r->op));
        } else if (IS("metric")) {
            char what[BM_NAME_MAX + 32];
            metric_text(r, what, sizeof what);
            put_s(&b, what);
        } else if (IS("window")) {
            put_s(&b,
                  window_label && window_label[0] ? window_label : alerts_window_name(r->window));
        } else if (IS("rule")) {
            put_s(&b, r->name);
        } else if (IS("severity")) {
            put_s(&b, bm_severity_name(r->severity));
        } else if (IS("target")) {
            put_s(&b, target ? target : "");
        } else if (IS("detail")) {
            put_s(&b, detail ? detail : "");
        } else if (IS("worker") || IS("stream") || IS("error_type")) {
            if (lbl && len == strlen(lbl) && !memcmp(name, lbl, len))
                put_s(&b, target ? target : "");
        } else if (len > 7 && !memcmp(name, "labels.", 7)) {
            for (unsigned i = 0; i < r->n_labels && i < ALERT_RULE_LABELS_MAX; i++)
                if (strlen(r->labels[i].key) == len - 7 &&
                    !memcmp(r->labels[i].key, name + 7, len - 7))
                    put_s(&b, r->labels[i].value);
        } else {
            put(&b, brace, len + 2); /* unknown: as written */
        }
#undef IS
        p = end + 1;
    }
}

/* ---- engine -------------------------------------------------------------- */

typedef enum { INST_PENDING = 1, INST_FIRING } inst_state;

typedef struct instance {
    struct instance *next; /* hash chain */
    uint32_t rule_id;
    inst_state state;
    uint64_t seen; /* evaluation number when its condition was last true */
    int64_t pending_since_us, firing_since_us, notified_us, evaluated_us; /* wall clock */
    /* the same moments on the caller's monotonic clock, which `for` and the
     * cooldown are measured on (not saved: made from the wall ones' ages at
     * the first evaluation after alerts_load) */
    int64_t pending_mono_us, notified_mono_us;
    double value; /* last known */
    char window_label[8];
    char target[BM_NAME_MAX];
    char detail[BM_ISSUE_LEN]; /* anomaly metrics: the deviation in words (not saved) */
} instance;

typedef struct {
    alert_rule rule;
    uint32_t id;
} rule_slot;

/*
 * A firing instance loaded from a checkpoint whose alert the configuration no
 * longer makes (its rule removed, or its labels changed: another fingerprint):
 * resolved at the next evaluation from its last firing record.
 */
typedef struct {
    instance in; /* as saved (rule_id unused) */
    char rule[BM_ALERT_NAME_MAX];
    int have_record; /* 0: the history no longer holds it, no resolve can be made */
    int relabeled;   /* its rule is held, with other labels */
    bm_alert record; /* its last firing record */
} orphan;

struct alerts {
    alerts_limits lim;
    rule_slot *rules;
    size_t n_rules, cap_rules;
    uint32_t next_rule_id;

    instance **buckets; /* n_buckets, a power of two */
    size_t n_buckets;
    size_t n_instances, n_pending, n_firing;
    uint64_t epoch;

    bm_alert *history; /* ring of lim.history */
    size_t hist_next, hist_len;

    alerts_stats counters;
    const char **tag_set; /* each_tag rules' value set (eval_each_tag), reused */
    size_t tag_set_cap;
    char tag_dropped_rule[BM_ALERT_NAME_MAX]; /* the rule that last left tag values out */
    orphan *orphans; /* from the last alerts_load, until the next evaluation */
    size_t n_orphans;
    int mono_unset; /* instances loaded: their monotonic times are made at the next evaluation */
};

alerts *alerts_new(const alerts_limits *limits)
{
    alerts *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->lim.max_instances =
        limits && limits->max_instances ? limits->max_instances : DEFAULT_MAX_INSTANCES;
    a->lim.history = limits && limits->history ? limits->history : DEFAULT_HISTORY;
    a->next_rule_id = 1;
    a->n_buckets = 64;
    a->buckets = calloc(a->n_buckets, sizeof *a->buckets);
    a->history = calloc(a->lim.history, sizeof *a->history);
    if (!a->buckets || !a->history) {
        alerts_free(a);
        return NULL;
    }
    return a;
}

static void drop_all_instances(alerts *a)
{
    for (size_t i = 0; i < a->n_buckets; i++) {
        for (instance *in = a->buckets[i], *next; in; in = next) {
            next = in->next;
            free(in);
        }
        a->buckets[i] = NULL;
    }
    a->n_instances = a->n_pending = a->n_firing = 0;
}

void alerts_free(alerts *a)
{
    if (!a) return;
    if (a->buckets) drop_all_instances(a);
    free(a->buckets);
    free(a->history);
    free(a->rules);
    free(a->tag_set);
    free(a->orphans);
    free(a);
}

static uint64_t instance_hash(uint32_t rule_id, const char *target)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)rule_id * 0x9e3779b97f4a7c15ULL);
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static instance *find_instance(const alerts *a, uint32_t rule_id, const char *target)
{
    instance *in = a->buckets[instance_hash(rule_id, target) & (a->n_buckets - 1)];
    for (; in; in = in->next)
        if (in->rule_id == rule_id && !strcmp(in->target, target)) return in;
    return NULL;
}

/* Double the table when it is fuller than one instance per bucket (best effort). */
static void maybe_grow(alerts *a)
{
    if (a->n_instances < a->n_buckets) return;
    size_t nb = a->n_buckets * 2;
    instance **b = calloc(nb, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < a->n_buckets; i++) {
        for (instance *in = a->buckets[i], *next; in; in = next) {
            next = in->next;
            size_t k = instance_hash(in->rule_id, in->target) & (nb - 1);
            in->next = b[k];
            b[k] = in;
        }
    }
    free(a->buckets);
    a->buckets = b;
    a->n_buckets = nb;
}

static instance *add_instance(alerts *a, uint32_t rule_id, const char *target)
{
    if (a->n_instances >= a->lim.max_instances) return NULL;
    instance *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->rule_id = rule_id;
    snprintf(in->target, sizeof in->target, "%s", target);
    size_t k = instance_hash(rule_id, in->target) & (a->n_buckets - 1);
    in->next = a->buckets[k];
    a->buckets[k] = in;
    a->n_instances++;
    maybe_grow(a);
    return in;
}

static void remove_instance(alerts *a, instance *victim)
{
    instance **pp =
        &a->buckets[instance_hash(victim->rule_id, victim->target) & (a->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if (*pp != victim) continue;
        *pp = victim->next;
        if (victim->state == INST_FIRING)
            a->n_firing--;
        else
            a->n_pending--;
        a->n_instances--;
        free(victim);
        return;
    }
}

static void drop_rule_instances(alerts *a, uint32_t rule_id)
{
    for (size_t i = 0; i < a->n_buckets; i++) {
        for (instance *in = a->buckets[i], *next; in; in = next) {
            next = in->next;
            if (in->rule_id == rule_id) remove_instance(a, in);
        }
    }
}

static rule_slot *slot_by_name(const alerts *a, const char *name)
{
    for (size_t i = 0; i < a->n_rules; i++)
        if (!strcmp(a->rules[i].rule.name, name)) return &a->rules[i];
    return NULL;
}

static const rule_slot *slot_by_id(const alerts *a, uint32_t id)
{
    for (size_t i = 0; i < a->n_rules; i++)
        if (a->rules[i].id == id) return &a->rules[i];
    return NULL;
}

int alerts_set_rule(alerts *a, const alert_rule *r)
{
    if (alerts_rule_check(r, NULL, 0)) return -1;
    rule_slot *s = slot_by_name(a, r->name);
    if (s) {
        drop_rule_instances(a, s->id);
    } else {
        if (a->n_rules == a->cap_rules) {
            size_t cap = a->cap_rules ? a->cap_rules * 2 : 16;
            rule_slot *grown = realloc(a->rules, cap * sizeof *grown);
            if (!grown) return -1;
            a->rules = grown;
            a->cap_rules = cap;
        }
        s = &a->rules[a->n_rules++];
    }
    s->rule = *r;
    s->id = a->next_rule_id++;
    return 0;
}

int alerts_remove_rule(alerts *a, const char *name)
{
    rule_slot *s = slot_by_name(a, name);
    if (!s) return -1;
    drop_rule_instances(a, s->id);
    size_t i = (size_t)(s - a->rules);
    memmove(&a->rules[i], &a->rules[i + 1], (a->n_rules - i - 1) * sizeof *a->rules);
    a->n_rules--;
    return 0;
}

int alerts_add_builtins(alerts *a)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (!slot_by_name(a, builtins[i].name) && alerts_set_rule(a, &builtins[i])) return -1;
    return 0;
}

size_t alerts_rule_count(const alerts *a)
{
    return a->n_rules;
}

const alert_rule *alerts_rule_at(const alerts *a, size_t i)
{
    return i < a->n_rules ? &a->rules[i].rule : NULL;
}

const alert_rule *alerts_rule_find(const alerts *a, const char *name)
{
    const rule_slot *s = slot_by_name(a, name);
    return s ? &s->rule : NULL;
}

/* ---- metric values ------------------------------------------------------- */

enum { T_COMMAND = 0, T_RESULT = 1, T_ERROR = 2 };

/* @return 1 and *v, or 0: no data. */
static int global_value(const alert_rule *r, const bm_rollup *ro, const alert_gauges *g, double *v)
{
    const bm_event_window *ew = r->window >= 0 ? &ro->events[r->window] : NULL;
    uint64_t answers = ew ? ew->by_type[T_RESULT].count + ew->by_type[T_ERROR].count : 0;
    switch (r->metric) {
    case ALERT_METRIC_ERROR_RATE:
        *v = ew->error_rate;
        return answers > 0;
    case ALERT_METRIC_SUCCESS_RATE:
        *v = ew->success_rate;
        return answers > 0;
    case ALERT_METRIC_AVG_LATENCY_MS:
        *v = ew->avg_latency_us / 1000.0;
        return answers > 0;
    case ALERT_METRIC_P95_LATENCY_MS:
        *v = ew->p95_latency_us / 1000.0;
        return answers > 0;
    case ALERT_METRIC_THROUGHPUT_PER_MIN:
        *v = ew->throughput_per_min;
        return 1;
    case ALERT_METRIC_ERROR_COUNT: {
        uint64_t errors = 0;
        for (int t = 0; t < 4; t++)
            errors += ew->by_type[t].error;
        *v = (double)errors;
        return 1;
    }
    case ALERT_METRIC_IN_FLIGHT: {
        uint64_t sum = 0;
        for (size_t i = 0; i < ro->n_workers; i++)
            sum += ro->workers[i].in_flight;
        *v = (double)sum;
        return 1;
    }
    case ALERT_METRIC_CONSUMER_LAG:
    case ALERT_METRIC_PENDING: {
        int have = 0;
        double sum = 0;
        for (size_t i = 0; g && i < g->n_streams; i++) {
            int64_t x = r->metric == ALERT_METRIC_PENDING ? g->streams[i].pending
                                                          : g->streams[i].consumer_lag;
            if (x >= 0) sum += (double)x, have = 1;
        }
        *v = sum;
        return have;
    }
    case ALERT_METRIC_DEADLETTER_RATE:
        *v = g ? g->deadletter_per_min : -1;
        return *v >= 0;
    case ALERT_METRIC_CPU_PERCENT:
        *v = g ? g->cpu_percent : -1;
        return *v >= 0;
    case ALERT_METRIC_MEMORY_PERCENT:
        *v = g ? g->memory_percent : -1;
        return *v >= 0;
    default:
        return 0;
    }
}

static int worker_value(const alert_rule *r, const bm_worker_snapshot *w, double *v)
{
    const bm_window_stats *ws = r->window >= 0 ? &w->win[r->window] : NULL;
    switch (r->metric) {
    case ALERT_METRIC_ERROR_RATE:
        *v = ws->error_rate;
        return ws->executions > 0;
    case ALERT_METRIC_SUCCESS_RATE:
        *v = ws->success_rate;
        return ws->executions > 0;
    case ALERT_METRIC_AVG_LATENCY_MS:
        *v = ws->avg_us / 1000.0;
        return ws->executions > 0;
    case ALERT_METRIC_P95_LATENCY_MS:
        *v = ws->p95_us / 1000.0;
        return ws->executions > 0;
    case ALERT_METRIC_P99_LATENCY_MS:
        *v = ws->p99_us / 1000.0;
        return ws->executions > 0;
    case ALERT_METRIC_THROUGHPUT_PER_MIN:
        *v = ws->throughput_per_min;
        return 1;
    case ALERT_METRIC_ERROR_COUNT:
        *v = (double)(ws->failures + ws->timeouts);
        return 1;
    case ALERT_METRIC_IN_FLIGHT:
        *v = w->in_flight;
        return 1;
    case ALERT_METRIC_HEALTH:
        *v = w->health == BM_HEALTH_FAILED     ? ALERT_HEALTH_FAILED
             : w->health == BM_HEALTH_DEGRADED ? ALERT_HEALTH_DEGRADED
                                               : ALERT_HEALTH_OTHER;
        return 1;
    default:
        return 0;
    }
}

static int stream_value(const alert_rule *r, const alert_stream_gauge *s, double *v)
{
    int64_t x = r->metric == ALERT_METRIC_PENDING ? s->pending : s->consumer_lag;
    *v = (double)x;
    return x >= 0;
}

static int compare(alert_op op, double v, double t)
{
    switch (op) {
    case ALERT_OP_GT:
        return v > t;
    case ALERT_OP_GE:
        return v >= t;
    case ALERT_OP_LT:
        return v < t;
    case ALERT_OP_LE:
        return v <= t;
    case ALERT_OP_EQ:
        return v == t;
    case ALERT_OP_NE:
        return v != t;
    default:
        return 0;
    }
}

/* ---- notifications ------------------------------------------------------- */

static int label_cmp(const void *x, const void *y)
{
    return strcmp(((const bm_alert_label *)x)->key, ((const bm_alert_label *)y)->key);
}

static void make_alert(const rule_slot *s, const instance *in, bm_alert_state st, int64_t ts_us,
                       bm_alert *out)
{
    const alert_rule *r = &s->rule;
    memset(out, 0, sizeof *out);
    snprintf(out->rule, sizeof out->rule, "%s", r->name);
    out->state = st;
    out->severity = r->severity;
    const char *lbl = label_of(r);
    if (lbl) {
        snprintf(out->labels[0].key, sizeof out->labels[0].key, "%.*s",
                 (int)sizeof out->labels[0].key - 1, lbl); /* a label key: checked to fit */
        snprintf(out->labels[0].value, sizeof out->labels[0].value, "%s", in->target);
        out->n_labels = 1;
    }
    for (unsigned i = 0; i < r->n_labels && out->n_labels < BM_ALERT_LABELS_MAX; i++)
        out->labels[out->n_labels++] = r->labels[i];
    qsort(out->labels, out->n_labels, sizeof *out->labels, label_cmp);
    metric_text(r, out->metric, sizeof out->metric);
    snprintf(out->op, sizeof out->op, "%s", alerts_op_name(r->op));
    snprintf(out->window, sizeof out->window, "%s",
             r->window < 0         ? ""
             : in->window_label[0] ? in->window_label
                                   : alerts_window_name(r->window));
    out->value = in->value;
    out->threshold = r->threshold;
    render(r, in->target, out->window, in->value, in->detail, out->description,
           sizeof out->description);
    out->starts_at_us = in->firing_since_us;
    out->ends_at_us = st == BM_ALERT_RESOLVED ? ts_us : 0;
    out->ts_us = ts_us;
    out->fingerprint = bm_alert_fingerprint(out->rule, out->labels, out->n_labels);
}

static void remember(alerts *a, const bm_alert *al)
{
    a->counters.transitions++;
    if (!a->lim.history) return;
    if (a->hist_len == a->lim.history) a->counters.history_evicted++;
    a->history[a->hist_next] = *al;
    a->hist_next = (a->hist_next + 1) % a->lim.history;
    if (a->hist_len < a->lim.history) a->hist_len++;
}

typedef struct {
    alerts *a;
    int64_t now_us;  /* wall clock: the records' times */
    int64_t mono_us; /* monotonic: `for` and the cooldown */
    alerts_notify_cb cb;
    void *arg;
    char detail[BM_ISSUE_LEN]; /* the value's words for step(), "" none */
} eval_ctx;

static void notify(eval_ctx *e, const rule_slot *s, const instance *in, bm_alert_state st)
{
    bm_alert al;
    make_alert(s, in, st, e->now_us, &al);
    e->a->counters.notifications++;
    if (st != BM_ALERT_REPEAT) remember(e->a, &al);
    if (e->cb) e->cb(e->a, &al, e->arg);
}

/* A firing instance ends; a pending one is forgotten silently. */
static void end_instance(eval_ctx *e, const rule_slot *s, instance *in)
{
    if (in->state == INST_FIRING && s) notify(e, s, in, BM_ALERT_RESOLVED);
    remove_instance(e->a, in);
}

/*
 * One source of one rule: `have` = the metric has a value. Moves the
 * instance (rule, target) one step.
 */
static void step(eval_ctx *e, const rule_slot *s, const char *target, int have, double value,
                 const char *window_label)
{
    alerts *a = e->a;
    const alert_rule *r = &s->rule;
    int cond = have && compare(r->op, value, r->threshold);
    instance *in = find_instance(a, s->id, target);
    if (!cond) {
        if (!in) return;
        if (have) { /* the resolve tells the value that ended it */
            in->value = value;
            snprintf(in->detail, sizeof in->detail, "%s", e->detail);
        }
        in->evaluated_us = e->now_us;
        end_instance(e, s, in);
        return;
    }
    if (!in) {
        in = add_instance(a, s->id, target);
        if (!in) {
            a->counters.refused++;
            return;
        }
        in->state = INST_PENDING;
        in->pending_since_us = e->now_us;
        in->pending_mono_us = e->mono_us;
        a->n_pending++;
    }
    in->seen = a->epoch;
    in->value = value;
    snprintf(in->detail, sizeof in->detail, "%s", e->detail);
    in->evaluated_us = e->now_us;
    snprintf(in->window_label, sizeof in->window_label, "%s", window_label ? window_label : "");
    if (in->state == INST_PENDING) {
        if (e->mono_us - in->pending_mono_us < r->for_us) return;
        in->state = INST_FIRING;
        in->firing_since_us = in->notified_us = e->now_us;
        in->notified_mono_us = e->mono_us;
        a->n_pending--;
        a->n_firing++;
        notify(e, s, in, BM_ALERT_FIRING);
    } else if (r->cooldown_us > 0 && e->mono_us - in->notified_mono_us >= r->cooldown_us) {
        in->notified_us = e->now_us;
        in->notified_mono_us = e->mono_us;
        notify(e, s, in, BM_ALERT_REPEAT);
    }
}

static const char *label_or(const char *label, int window)
{
    return label && label[0] ? label : alerts_window_name(window);
}

static int anomaly_metric(alert_metric m)
{
    return m == ALERT_METRIC_LATENCY_ANOMALY || m == ALERT_METRIC_ERROR_RATE_ANOMALY;
}

/* The deviation of the worker's window figure from its learned baseline, its
 * words into e->detail. @return 1 when there is one (a ready baseline, a
 * window with executions). */
static int anomaly_value(eval_ctx *e, const alert_rule *r, const bm_worker_snapshot *w,
                         const alert_gauges *g, double *v)
{
    const bm_window_stats *ws = &w->win[r->window];
    baseline_view bv;
    if (!g || !g->baselines || ws->executions == 0 || ws->executions < g->anomaly_min_executions ||
        baselines_get(g->baselines, w->name, e->now_us, &bv) || !bv.ready)
        return 0;
    baseline_series s =
        r->metric == ALERT_METRIC_LATENCY_ANOMALY ? BASELINE_P95 : BASELINE_ERROR_RATE;
    double now = s == BASELINE_P95 ? ws->p95_us : ws->error_rate;
    *v = baseline_deviation(&bv.fig[s], s, now, r->baseline_mode);
    if (isnan(*v)) return 0;
    baseline_describe(&bv.fig[s], s, now, r->baseline_mode, e->detail, sizeof e->detail);
    return 1;
}

/* A metric:NAME rule's stat of what f matches. @return 1 and *v, or 0: no data. */
static int custom_value(const alert_rule *r, const alert_gauges *g, const custom_metrics_filter *f,
                        int64_t now_us, double *v)
{
    custom_metrics_stat st;
    if (!g || !g->metrics || custom_metrics_aggregate(g->metrics, r->window, f, now_us, &st) <= 0)
        return 0;
    const double by_stat[ALERT_STAT__COUNT] = {
        [ALERT_STAT_AVG] = st.avg,         [ALERT_STAT_COUNT] = (double)st.count,
        [ALERT_STAT_SUM] = st.sum,         [ALERT_STAT_MIN] = st.min,
        [ALERT_STAT_MAX] = st.max,         [ALERT_STAT_P50] = st.p50,
        [ALERT_STAT_P95] = st.p95,         [ALERT_STAT_P99] = st.p99,
        [ALERT_STAT_RATE] = st.rate_per_s, [ALERT_STAT_LAST] = st.last,
    };
    *v = by_stat[r->stat];
    return 1;
}

/*
 * The distinct values of an each_tag rule's tag, in the order first met
 * (series come in key order: a value may repeat). The first
 * ALERTS_TAG_VALUES_MAX are kept; the others are counted once each in
 * `dropped`, told from values met before by `set` (open addressing over
 * the borrowed value strings, more than twice as many slots as the table
 * has series, so never full). Without a set (out of memory) the kept
 * values are found by a scan and every series of a value left out counts.
 */
typedef struct {
    const char *key;
    const char *values[ALERTS_TAG_VALUES_MAX];
    size_t n;
    const char **set; /* NULL: none */
    size_t set_mask;
    uint64_t dropped;
} tag_values;

/* @return 1 when v was met before this evaluation, else 0 (and it is noted). */
static int tag_value_seen(tag_values *tv, const char *v)
{
    if (!tv->set) {
        for (size_t k = 0; k < tv->n; k++)
            if (!strcmp(tv->values[k], v)) return 1;
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    for (size_t i = (size_t)h & tv->set_mask;; i = (i + 1) & tv->set_mask) {
        if (!tv->set[i]) {
            tv->set[i] = v;
            return 0;
        }
        if (!strcmp(tv->set[i], v)) return 1;
    }
}

/* Collect the distinct values of tag `key`. */
static void note_tag_value(const custom_metrics_stat *st, void *arg)
{
    tag_values *tv = arg;
    for (unsigned i = 0; i < st->n_tags; i++) {
        if (strcmp(st->tags[i].key, tv->key)) continue;
        if (tag_value_seen(tv, st->tags[i].value)) return;
        if (tv->n < ALERTS_TAG_VALUES_MAX)
            tv->values[tv->n++] = st->tags[i].value;
        else
            tv->dropped++;
    }
}

/* The engine's value set, emptied, with more than twice `series` slots;
 * NULL when it cannot grow. */
static const char **tag_set(alerts *a, size_t series, size_t *mask)
{
    size_t cap = 64;
    while (cap < 2 * series + 2)
        cap *= 2;
    if (cap > a->tag_set_cap) {
        const char **p = realloc(a->tag_set, cap * sizeof *p);
        if (!p) return NULL;
        a->tag_set = p;
        a->tag_set_cap = cap;
    }
    memset(a->tag_set, 0, cap * sizeof *a->tag_set);
    *mask = cap - 1;
    return a->tag_set;
}

/* metric:NAME each_tag KEY: one instance per value of KEY among NAME's
 * series, for the first ALERTS_TAG_VALUES_MAX values. */
static void eval_each_tag(eval_ctx *e, const rule_slot *s, const alert_gauges *g, int w)
{
    const alert_rule *r = &s->rule;
    if (!g || !g->metrics) return;
    static tag_values tv; /* large; evaluations never nest */
    tv.key = r->target;
    tv.n = 0;
    tv.dropped = 0;
    custom_metrics_stats cs;
    custom_metrics_get_stats(g->metrics, &cs);
    tv.set = tag_set(e->a, cs.series, &tv.set_mask);
    custom_metrics_filter all = {.name = r->metric_name};
    custom_metrics_foreach(g->metrics, w, &all, e->now_us, note_tag_value, &tv);
    if (tv.dropped) {
        e->a->counters.tag_values_dropped += tv.dropped;
        snprintf(e->a->tag_dropped_rule, sizeof e->a->tag_dropped_rule, "%s", r->name);
    }
    for (size_t i = 0; i < tv.n; i++) {
        custom_metrics_filter f = {.name = r->metric_name, .n_tags = 1};
        f.tags[0] = (custom_metrics_tag){r->target, tv.values[i]};
        double v = 0;
        int have = custom_value(r, g, &f, e->now_us, &v);
        step(e, s, tv.values[i], have, v, alerts_window_name(w));
    }
}

static void eval_rule(eval_ctx *e, const rule_slot *s, const bm_rollup *ro, const alert_gauges *g)
{
    const alert_rule *r = &s->rule;
    double v = 0;
    int w = r->window;
    switch (r->scope) {
    case ALERT_SCOPE_GLOBAL: {
        custom_metrics_filter all = {.name = r->metric_name};
        int have = r->metric == ALERT_METRIC_CUSTOM ? custom_value(r, g, &all, e->now_us, &v)
                                                    : global_value(r, ro, g, &v);
        step(e, s, "", have, v, w >= 0 ? label_or(ro->events[w].label, w) : "");
        break;
    }
    case ALERT_SCOPE_EACH_WORKER:
    case ALERT_SCOPE_WORKER:
        for (size_t i = 0; i < ro->n_workers; i++) {
            const bm_worker_snapshot *ws = &ro->workers[i];
            if (r->scope == ALERT_SCOPE_WORKER && strcmp(ws->name, r->target)) continue;
            int have = anomaly_metric(r->metric) ? anomaly_value(e, r, ws, g, &v)
                                                 : worker_value(r, ws, &v);
            step(e, s, ws->name, have, v, w >= 0 ? label_or(ws->win[w].label, w) : "");
            e->detail[0] = '\0';
        }
        break;
    case ALERT_SCOPE_EACH_STREAM:
    case ALERT_SCOPE_STREAM:
        for (size_t i = 0; g && i < g->n_streams; i++) {
            const alert_stream_gauge *sg = &g->streams[i];
            if (r->scope == ALERT_SCOPE_STREAM && strcmp(sg->name, r->target)) continue;
            int have = stream_value(r, sg, &v);
            step(e, s, sg->name, have, v, "");
        }
        break;
    case ALERT_SCOPE_EACH_ERROR_TYPE:
    case ALERT_SCOPE_ERROR_TYPE: {
        int found = 0;
        for (size_t i = 0; i < ro->n_patterns; i++) {
            const bm_error_pattern *p = &ro->patterns[i];
            if (r->scope == ALERT_SCOPE_ERROR_TYPE && strcmp(p->type, r->target)) continue;
            found = 1;
            step(e, s, p->type, 1, (double)p->count[w], label_or(ro->events[w].label, w));
        }
        /* a named type with no pattern has had no errors: a count of 0 */
        if (r->scope == ALERT_SCOPE_ERROR_TYPE && !found)
            step(e, s, r->target, 1, 0, label_or(ro->events[w].label, w));
        break;
    }
    case ALERT_SCOPE_EACH_TAG:
        eval_each_tag(e, s, g, w);
        break;
    default:
        break;
    }
}

/* The loaded alerts the configuration no longer makes, resolved from their
 * last firing record (same fingerprint, labels and starts_at), then forgotten. */
static void resolve_orphans(eval_ctx *e)
{
    alerts *a = e->a;
    for (size_t i = 0; i < a->n_orphans; i++) {
        const orphan *o = &a->orphans[i];
        if (!o->have_record) continue;
        bm_alert al = o->record;
        al.state = BM_ALERT_RESOLVED;
        al.value = o->in.value;
        al.ends_at_us = al.ts_us = e->now_us;
        int room = (int)sizeof al.description - 80; /* the reason and " (was: )" fit before */
        snprintf(al.description, sizeof al.description, "%s (was: %.*s)",
                 o->relabeled ? "Resolved: the rule's labels changed in the configuration"
                              : "Resolved: rule removed from the configuration",
                 room, o->record.description);
        a->counters.notifications++;
        remember(a, &al);
        if (e->cb) e->cb(a, &al, e->arg);
    }
    free(a->orphans);
    a->orphans = NULL;
    a->n_orphans = 0;
}

/* Loaded instances: their monotonic times from their wall times' ages now
 * (across a restart the wall clock is all there is; a time ahead of it: age 0). */
static void set_loaded_mono(alerts *a, int64_t now_us, int64_t mono_us)
{
    a->mono_unset = 0;
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (instance *in = a->buckets[b]; in; in = in->next) {
            int64_t pending_age = now_us - in->pending_since_us;
            int64_t notified_age = now_us - in->notified_us;
            in->pending_mono_us = mono_us - (pending_age > 0 ? pending_age : 0);
            in->notified_mono_us = mono_us - (notified_age > 0 ? notified_age : 0);
        }
    }
}

void alerts_evaluate(alerts *a, const bm_rollup *r, const alert_gauges *g, int64_t now_us,
                     alerts_notify_cb cb, void *arg)
{
    alerts_evaluate_mono(a, r, g, now_us, now_us, cb, arg);
}

void alerts_evaluate_mono(alerts *a, const bm_rollup *r, const alert_gauges *g, int64_t now_us,
                          int64_t mono_us, alerts_notify_cb cb, void *arg)
{
    static const bm_rollup empty;
    if (!r) r = &empty;
    eval_ctx e = {a, now_us, mono_us, cb, arg, ""};
    if (a->mono_unset) set_loaded_mono(a, now_us, mono_us);
    a->epoch++;
    a->counters.evaluations++;
    resolve_orphans(&e);
    for (size_t i = 0; i < a->n_rules; i++)
        if (a->rules[i].rule.enabled) eval_rule(&e, &a->rules[i], r, g);

    /* instances whose worker / stream / pattern did not appear: gone */
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (instance *in = a->buckets[b], *next; in; in = next) {
            next = in->next;
            if (in->seen == a->epoch) continue;
            end_instance(&e, slot_by_id(a, in->rule_id), in);
        }
    }
}

/* ---- queries ------------------------------------------------------------- */

typedef struct {
    const instance *in;
    const rule_slot *s;
} firing_ref;

static int firing_cmp(const void *x, const void *y)
{
    const firing_ref *p = x, *q = y;
    if (p->s->rule.severity != q->s->rule.severity)
        return p->s->rule.severity > q->s->rule.severity ? -1 : 1;
    int c = strcmp(p->s->rule.name, q->s->rule.name);
    return c ? c : strcmp(p->in->target, q->in->target);
}

size_t alerts_firing(const alerts *a, bm_alert *out, size_t max)
{
    if (!a->n_firing || !max) return 0;
    firing_ref *refs = malloc(a->n_firing * sizeof *refs);
    size_t n = 0;
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (const instance *in = a->buckets[b]; in; in = in->next) {
            if (in->state != INST_FIRING) continue;
            const rule_slot *s = slot_by_id(a, in->rule_id);
            if (!s) continue;
            if (refs) {
                refs[n++] = (firing_ref){in, s};
            } else if (n < max) { /* no memory to sort: unsorted */
                make_alert(s, in, BM_ALERT_FIRING, in->evaluated_us, &out[n++]);
            }
        }
    }
    if (!refs) return n;
    qsort(refs, n, sizeof *refs, firing_cmp);
    if (n > max) n = max;
    for (size_t i = 0; i < n; i++)
        make_alert(refs[i].s, refs[i].in, BM_ALERT_FIRING, refs[i].in->evaluated_us, &out[i]);
    free(refs);
    return n;
}

size_t alerts_history(const alerts *a, bm_alert *out, size_t max)
{
    size_t n = a->hist_len < max ? a->hist_len : max;
    for (size_t i = 0; i < n; i++) {
        size_t k = (a->hist_next + a->lim.history - 1 - i) % a->lim.history;
        out[i] = a->history[k];
    }
    return n;
}

void alerts_get_stats(const alerts *a, alerts_stats *out)
{
    *out = a->counters;
    out->rules = a->n_rules;
    out->pending = a->n_pending;
    out->firing = a->n_firing;
}

const char *alerts_tag_values_dropped_rule(const alerts *a)
{
    return a->tag_dropped_rule;
}

/* ---- state --------------------------------------------------------------- */

typedef struct {
    const instance *in;
    const char *rule;
    const rule_slot *s;       /* a held instance's rule, else NULL */
    const bm_alert *resolves; /* an orphan's firing record, else NULL */
} saved_ref;

static int saved_cmp(const void *x, const void *y)
{
    const saved_ref *p = x, *q = y;
    int c = strcmp(p->rule, q->rule);
    return c ? c : strcmp(p->in->target, q->in->target);
}

/* Raw bytes of one complete msgpack object into the packer's stream. */
static int put_raw(msgpack_packer *pk, const char *buf, size_t len)
{
    return pk->callback(pk->data, buf, len) ? -1 : 0;
}

int alerts_save(const alerts *a, msgpack_packer *pk)
{
    size_t cap = a->n_instances + a->n_orphans;
    saved_ref *refs = malloc((cap ? cap : 1) * sizeof *refs);
    if (!refs) return -1;
    size_t n = 0;
    for (size_t b = 0; b < a->n_buckets; b++)
        for (const instance *in = a->buckets[b]; in; in = in->next) {
            const rule_slot *s = slot_by_id(a, in->rule_id);
            if (s && n < a->n_instances) refs[n++] = (saved_ref){in, s->rule.name, s, NULL};
        }
    /* not resolved yet: saved as they were loaded, so the next load finds them again */
    for (size_t i = 0; i < a->n_orphans; i++)
        if (a->orphans[i].have_record)
            refs[n++] =
                (saved_ref){&a->orphans[i].in, a->orphans[i].rule, NULL, &a->orphans[i].record};
    qsort(refs, n, sizeof *refs, saved_cmp);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int e = msgpack_pack_map(pk, 3);
    e |= bm_sc_key(pk, "instances");
    e |= msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && !e; i++) {
        const instance *in = refs[i].in;
        int firing = in->state == INST_FIRING;
        e |= msgpack_pack_map(pk, firing ? 10 : 9);
        e |= bm_sc_key_str(pk, "rule", refs[i].rule);
        e |= bm_sc_key_str(pk, "target", in->target);
        e |= bm_sc_key_str(pk, "state", in->state == INST_FIRING ? "firing" : "pending");
        e |= bm_sc_key_i64(pk, "pending_since", in->pending_since_us);
        e |= bm_sc_key_i64(pk, "firing_since", in->firing_since_us);
        e |= bm_sc_key_i64(pk, "notified", in->notified_us);
        e |= bm_sc_key_i64(pk, "evaluated", in->evaluated_us);
        e |= bm_sc_key(pk, "value");
        e |= msgpack_pack_double(pk, in->value);
        e |= bm_sc_key_str(pk, "window", in->window_label);
        if (!firing) continue;
        /* its firing record, so its resolve never depends on the history still holding it */
        bm_alert rec;
        if (refs[i].resolves)
            rec = *refs[i].resolves;
        else
            make_alert(refs[i].s, in, BM_ALERT_FIRING, in->firing_since_us, &rec);
        sb.size = 0;
        e |= bm_sc_key(pk, "record");
        e |= bm_alert_encode_msgpack(&rec, NULL, &sb);
        if (!e) e |= put_raw(pk, sb.data, sb.size);
    }
    free(refs);

    e |= bm_sc_key(pk, "history");
    e |= msgpack_pack_array(pk, a->hist_len);
    for (size_t i = a->hist_len; i-- > 0 && !e;) { /* oldest first */
        size_t k = (a->hist_next + a->lim.history - 1 - i) % a->lim.history;
        sb.size = 0;
        e |= bm_alert_encode_msgpack(&a->history[k], NULL, &sb);
        if (!e) e |= put_raw(pk, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);

    e |= bm_sc_key(pk, "counters");
    e |= msgpack_pack_map(pk, 5);
    e |= bm_sc_key_u64(pk, "evaluations", a->counters.evaluations);
    e |= bm_sc_key_u64(pk, "notifications", a->counters.notifications);
    e |= bm_sc_key_u64(pk, "refused", a->counters.refused);
    e |= bm_sc_key_u64(pk, "transitions", a->counters.transitions);
    e |= bm_sc_key_u64(pk, "history_evicted", a->counters.history_evicted);
    return e ? -1 : 0;
}

/* An instance's value: any float (a metric may have been NaN), or an integer. */
static int as_value(const msgpack_object *o, double *v)
{
    if (o && (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)) {
        *v = o->via.f64;
        return 0;
    }
    return bm_sc_as_f64(o, v);
}

/* A firing instance's own firing record (saved since it was added: absent in
 * older checkpoints) into *rec. @return 0 none, 1 read, or BM_LOAD_CORRUPT. */
static int parse_record(const msgpack_object *o, const char *rule, const instance *in,
                        bm_alert *rec, char *err, size_t errlen)
{
    const msgpack_object *r = bm_sc_get(o, "record");
    if (!r || in->state != INST_FIRING) return 0;
    if (bm_alert_decode_msgpack(r, rec, err, errlen)) {
        bm_sc_wrap(err, errlen, "record");
        return BM_LOAD_CORRUPT;
    }
    if (rec->state != BM_ALERT_FIRING || strcmp(rec->rule, rule) ||
        rec->starts_at_us != in->firing_since_us)
        return bm_sc_fail(err, errlen, "'record' is not the firing record of this instance");
    return 1;
}

/* One saved instance into *in (rule_id set from the held rule), its rule's
 * name into rule and its firing record, when saved, into *rec (*have_rec 1).
 * @return 0, 1 when its rule is not held, or BM_LOAD_CORRUPT. */
static int parse_instance(const alerts *a, const msgpack_object *o, instance *in,
                          char rule[BM_ALERT_NAME_MAX], bm_alert *rec, int *have_rec, char *err,
                          size_t errlen)
{
    char state[16];
    memset(in, 0, sizeof *in);
    *have_rec = 0;
    if (o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "not a map");
    int rc = bm_sc_need_str(o, "rule", rule, BM_ALERT_NAME_MAX, err, errlen);
    if (!rc) rc = bm_sc_need_str(o, "target", in->target, sizeof in->target, err, errlen);
    if (!rc) rc = bm_sc_need_str(o, "state", state, sizeof state, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "pending_since", &in->pending_since_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "firing_since", &in->firing_since_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "notified", &in->notified_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "evaluated", &in->evaluated_us, err, errlen);
    if (!rc)
        rc = bm_sc_need_str(o, "window", in->window_label, sizeof in->window_label, err, errlen);
    if (rc) return rc;
    if (as_value(bm_sc_get(o, "value"), &in->value))
        return bm_sc_fail(err, errlen, "'value' is not a number");
    if (!strcmp(state, "pending"))
        in->state = INST_PENDING;
    else if (!strcmp(state, "firing"))
        in->state = INST_FIRING;
    else
        return bm_sc_fail(err, errlen, "'state' is '%s', not pending or firing", state);
    rc = parse_record(o, rule, in, rec, err, errlen);
    if (rc < 0 || rc > 1) return rc;
    *have_rec = rc;
    const rule_slot *s = slot_by_name(a, rule);
    if (!s) return 1;
    in->rule_id = s->id;
    return 0;
}

static int instance_cmp(const void *x, const void *y)
{
    const instance *p = *(const instance *const *)x, *q = *(const instance *const *)y;
    if (p->rule_id != q->rule_id) return p->rule_id < q->rule_id ? -1 : 1;
    return strcmp(p->target, q->target);
}

static int load_counters(const msgpack_object *o, alerts_stats *c, char *err, size_t errlen)
{
    const msgpack_object *m = bm_sc_need(o, "counters", MSGPACK_OBJECT_MAP, err, errlen);
    if (!m) return BM_LOAD_CORRUPT;
    int rc = bm_sc_need_u64(m, "evaluations", &c->evaluations, err, errlen);
    if (!rc) rc = bm_sc_need_u64(m, "notifications", &c->notifications, err, errlen);
    if (!rc) rc = bm_sc_need_u64(m, "refused", &c->refused, err, errlen);
    if (!rc) rc = bm_sc_need_u64(m, "transitions", &c->transitions, err, errlen);
    if (!rc) rc = bm_sc_need_u64(m, "history_evicted", &c->history_evicted, err, errlen);
    return rc;
}

/* The newest firing record in hist of `rule` that began when `in` began firing
 * and names in's target among its labels (a global rule's: any), or NULL. */
static const bm_alert *last_firing_record(const bm_alert *hist, size_t n_hist, const char *rule,
                                          const instance *in)
{
    for (size_t i = n_hist; i-- > 0;) {
        const bm_alert *h = &hist[i];
        if (h->state != BM_ALERT_FIRING || strcmp(h->rule, rule) ||
            h->starts_at_us != in->firing_since_us)
            continue;
        if (!in->target[0]) return h;
        for (unsigned k = 0; k < h->n_labels; k++)
            if (!strcmp(h->labels[k].value, in->target)) return h;
    }
    return NULL;
}

/*
 * Is the firing instance `in` of `rule` (its slot s, NULL when not held) an
 * alert the configuration no longer makes? Its rule is gone, or makes it with
 * other labels than its firing record (another fingerprint: the old one
 * must be resolved, the new alert starts its own lifecycle). That record is
 * `own`, saved with the instance, else the last one in the history (a
 * checkpoint of an older busmon). @return 1 and *out filled, or 0 (go on
 * with it).
 */
static int orphaned(const rule_slot *s, const char *rule, const instance *in, const bm_alert *own,
                    const bm_alert *hist, size_t n_hist, orphan *out)
{
    const bm_alert *rec = own ? own : last_firing_record(hist, n_hist, rule, in);
    if (s) {
        bm_alert now;
        if (!rec) return 0; /* nothing to compare with: the alert goes on */
        make_alert(s, in, BM_ALERT_FIRING, in->evaluated_us, &now);
        if (now.fingerprint == rec->fingerprint) return 0;
    }
    memset(out, 0, sizeof *out);
    out->in = *in;
    out->in.next = NULL;
    snprintf(out->rule, sizeof out->rule, "%s", rule);
    out->relabeled = s != NULL;
    out->have_record = rec != NULL;
    if (rec) out->record = *rec;
    return 1;
}

static int load_history(alerts *a, const msgpack_object *o, bm_alert *hist, size_t *n_hist,
                        char *err, size_t errlen)
{
    const msgpack_object *h = bm_sc_need(o, "history", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!h) return BM_LOAD_CORRUPT;
    size_t total = h->via.array.size, from = total > a->lim.history ? total - a->lim.history : 0;
    for (size_t i = from; i < total; i++) {
        if (bm_alert_decode_msgpack(&h->via.array.ptr[i], &hist[*n_hist], err, errlen)) {
            bm_sc_wrap(err, errlen, "history[%zu]", i);
            return BM_LOAD_CORRUPT;
        }
        (*n_hist)++;
    }
    return BM_LOAD_OK;
}

static int load_parts(alerts *a, const msgpack_object *o, instance **nodes, size_t *n_nodes,
                      orphan *orph, size_t *n_orph, bm_alert *hist, size_t *n_hist, alerts_stats *c,
                      char *err, size_t errlen)
{
    int rc = load_counters(o, c, err, errlen);
    if (rc) return rc;
    const msgpack_object *insts = bm_sc_need(o, "instances", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!insts) return BM_LOAD_CORRUPT;
    rc = load_history(a, o, hist, n_hist, err, errlen);
    if (rc) return rc;
    bm_alert rec[1]; /* an instance's own firing record */
    for (uint32_t i = 0; i < insts->via.array.size; i++) {
        instance in;
        char rule[BM_ALERT_NAME_MAX];
        int have_rec;
        rc = parse_instance(a, &insts->via.array.ptr[i], &in, rule, rec, &have_rec, err, errlen);
        if (rc && rc != 1) {
            bm_sc_wrap(err, errlen, "instances[%u]", (unsigned)i);
            return rc;
        }
        const rule_slot *s = rc ? NULL : slot_by_id(a, in.rule_id);
        if (in.state == INST_FIRING &&
            orphaned(s, rule, &in, have_rec ? rec : NULL, hist, *n_hist, &orph[*n_orph])) {
            (*n_orph)++;
            continue;
        }
        if (!s) continue; /* pending, of a rule no longer held */
        if (*n_nodes >= a->lim.max_instances) {
            c->refused++;
            continue;
        }
        instance *node = malloc(sizeof *node);
        if (!node) {
            bm_sc_fail(err, errlen, "out of memory");
            return BM_LOAD_NOMEM;
        }
        *node = in;
        nodes[(*n_nodes)++] = node;
    }
    qsort(nodes, *n_nodes, sizeof *nodes, instance_cmp);
    for (size_t i = 1; i < *n_nodes; i++)
        if (!instance_cmp(&nodes[i - 1], &nodes[i]))
            return bm_sc_fail(err, errlen, "instances: one of '%s' saved twice", nodes[i]->target);
    return BM_LOAD_OK;
}

int alerts_load(alerts *a, const msgpack_object *o, char *err, size_t errlen)
{
    if (!a || !o || o->type != MSGPACK_OBJECT_MAP)
        return bm_sc_fail(err, errlen, "alerts: not a map");
    const msgpack_object *insts = bm_sc_get(o, "instances");
    size_t cap = insts && insts->type == MSGPACK_OBJECT_ARRAY ? insts->via.array.size : 0;
    instance **nodes = calloc(cap ? cap : 1, sizeof *nodes);
    orphan *orph = calloc(cap ? cap : 1, sizeof *orph);
    bm_alert *hist = calloc(a->lim.history, sizeof *hist);
    size_t n_nodes = 0, n_hist = 0, n_orph = 0;
    alerts_stats c = a->counters;
    int rc = (!nodes || !orph || !hist)
                 ? BM_LOAD_NOMEM
                 : load_parts(a, o, nodes, &n_nodes, orph, &n_orph, hist, &n_hist, &c, err, errlen);
    if (rc == BM_LOAD_NOMEM && (!nodes || !orph || !hist)) bm_sc_fail(err, errlen, "out of memory");
    if (rc == BM_LOAD_OK) {
        drop_all_instances(a);
        free(a->orphans);
        a->orphans = n_orph ? orph : NULL;
        a->n_orphans = n_orph;
        if (n_orph) orph = NULL; /* the engine's now */
        for (size_t i = 0; i < n_nodes; i++) {
            instance *in = nodes[i];
            size_t k = instance_hash(in->rule_id, in->target) & (a->n_buckets - 1);
            in->next = a->buckets[k];
            in->seen = a->epoch;
            a->buckets[k] = in;
            a->n_instances++;
            if (in->state == INST_FIRING)
                a->n_firing++;
            else
                a->n_pending++;
            maybe_grow(a);
        }
        n_nodes = 0; /* owned by the table now */
        a->mono_unset = 1;
        memcpy(a->history, hist, n_hist * sizeof *hist);
        a->hist_len = n_hist;
        a->hist_next = n_hist % a->lim.history;
        a->counters = c;
    } else {
        bm_sc_wrap(err, errlen, "alerts");
    }
    for (size_t i = 0; i < n_nodes; i++)
        free(nodes[i]);
    free(nodes);
    free(orph);
    free(hist);
    return rc;
}

int alerts_load_unresolved(const alerts *a, size_t i, const char **rule, const char **target)
{
    for (size_t k = 0; k < a->n_orphans; k++) {
        if (a->orphans[k].have_record || i--) continue;
        *rule = a->orphans[k].rule;
        *target = a->orphans[k].in.target;
        return 0;
    }
    return -1;
}
