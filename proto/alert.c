/*
 * alert.c - the encodings of one alert notification: the `busmon:alerts`
 * record (msgpack and JSON) and the webhook bodies (generic JSON, Slack,
 * PagerDuty Events v2, Alertmanager v2). proto/README.md "Alerts" is the
 * spec; every layout below is the one written there.
 *
 * Record (msgpack map = JSON object, same keys, same order):
 *
 *   { "rule": str, "state": "firing"|"resolved"|"repeat",
 *     "severity": "info"|"warning"|"error"|"critical",
 *     "fingerprint": str (16 hex), "labels": { str: str, ... },
 *     "metric": str, "op": str, "window": str          (when set),
 *     "value": float64, "threshold": float64, "description": str,
 *     "starts_at": int µs, "ends_at": int µs            (resolved only),
 *     "ts": int µs, "agent": str                        (when known) }
 *
 * Not here: which alerts exist (lib/alerts.c) and sending (agent/).
 */
#include "proto/alert.h"
#include "proto/rollup.h"
#include "proto/time_internal.h"

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const severity_names[BM_SEVERITY__COUNT] = {"info", "warning", "error",
                                                               "critical"};

const char *bm_severity_name(bm_severity s)
{
    return (unsigned)s < BM_SEVERITY__COUNT ? severity_names[s] : "unknown";
}

int bm_severity_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < BM_SEVERITY__COUNT; i++)
        if (!strcasecmp(s, severity_names[i])) return i;
    return -1;
}

const char *bm_alert_state_name(bm_alert_state s)
{
    switch (s) {
    case BM_ALERT_FIRING:
        return "firing";
    case BM_ALERT_RESOLVED:
        return "resolved";
    case BM_ALERT_REPEAT:
        return "repeat";
    }
    return "unknown";
}

static const char *const format_names[BM_ALERT_BODY__COUNT] = {"generic", "slack", "pagerduty",
                                                               "alertmanager"};

const char *bm_alert_body_format_name(bm_alert_body_format f)
{
    return (unsigned)f < BM_ALERT_BODY__COUNT ? format_names[f] : "unknown";
}

int bm_alert_body_format_parse(const char *s)
{
    if (!s) return -1;
    if (!strcasecmp(s, "json") || !strcasecmp(s, "record")) return BM_ALERT_BODY_JSON;
    for (int i = 0; i < BM_ALERT_BODY__COUNT; i++)
        if (!strcasecmp(s, format_names[i])) return i;
    return -1;
}

/* ---- fingerprint --------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

/* FNV-1a over s and its terminating NUL (so "ab","c" differs from "a","bc"). */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s;; p++) {
        h = (h ^ *p) * FNV_PRIME;
        if (!*p) break;
    }
    return h;
}

uint64_t bm_alert_fingerprint(const char *rule, const bm_alert_label *labels, unsigned n_labels)
{
    if (n_labels > BM_ALERT_LABELS_MAX) n_labels = BM_ALERT_LABELS_MAX;
    /* labels sorted by key (then value) without moving the caller's array */
    unsigned order[BM_ALERT_LABELS_MAX];
    for (unsigned i = 0; i < n_labels; i++) {
        unsigned j = i;
        while (j > 0) {
            const bm_alert_label *a = &labels[order[j - 1]], *b = &labels[i];
            int c = strcmp(a->key, b->key);
            if (c < 0 || (c == 0 && strcmp(a->value, b->value) <= 0)) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    uint64_t h = fnv_str(FNV_OFFSET, rule ? rule : "");
    for (unsigned i = 0; i < n_labels; i++) {
        h = fnv_str(h, labels[order[i]].key);
        h = fnv_str(h, labels[order[i]].value);
    }
    return h;
}

void bm_alert_fingerprint_hex(uint64_t fp, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)fp);
}

const char *bm_alert_label_get(const bm_alert *a, const char *key)
{
    unsigned n = a->n_labels > BM_ALERT_LABELS_MAX ? BM_ALERT_LABELS_MAX : a->n_labels;
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(a->labels[i].key, key)) return a->labels[i].value;
    return NULL;
}

int bm_alert_format_value(double v, char out[32])
{
    if (!isfinite(v)) return snprintf(out, 32, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15) return snprintf(out, 32, "%.0f", v);
    if (fabs(v) >= 100) return snprintf(out, 32, "%.1f", v);
    return snprintf(out, 32, "%.4g", v);
}

static unsigned n_labels_of(const bm_alert *a)
{
    return a->n_labels > BM_ALERT_LABELS_MAX ? BM_ALERT_LABELS_MAX : a->n_labels;
}

int bm_alert_summary(const bm_alert *a, char *buf, size_t n)
{
    static const char *const tags[] = {"FIRING", "RESOLVED", "STILL FIRING"};
    const char *tag = (unsigned)a->state <= BM_ALERT_REPEAT ? tags[a->state] : "UNKNOWN";
    int len = snprintf(buf, n, "[%s] %s", tag, a->rule);
    for (unsigned i = 0; i < n_labels_of(a); i++) {
        size_t at = len < 0 ? 0 : (size_t)len;
        len += snprintf(at < n ? buf + at : NULL, at < n ? n - at : 0, " %s=%s", a->labels[i].key,
                        a->labels[i].value);
    }
    return len;
}

/* ---- JSON helpers -------------------------------------------------------- */

/*
 * jansson refuses text that is not UTF-8, and names come from producers:
 * invalid bytes are replaced by '?' rather than losing the whole alert.
 */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j || !s) return j;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok) {
            json_t *probe = json_stringn(s + i, len); /* overlongs, surrogates */
            ok = probe != NULL;
            json_decref(probe);
        }
        if (ok) {
            memcpy(copy + o, s + i, len);
            o += len;
            i += len;
        } else {
            copy[o++] = '?';
            i++;
        }
    }
    j = json_stringn(copy, o);
    free(copy);
    return j;
}

/* A JSON number, or null when not finite (JSON has no NaN). */
static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jiso(int64_t ts_us)
{
    char iso[32];
    if (bm_format_time_iso(ts_us, iso) < 0) return json_null();
    return json_string(iso);
}

/* Set and count failures: err != 0 after a build means out of memory. */
typedef struct {
    int err;
} jb;

static void jset(jb *b, json_t *obj, const char *key, json_t *v)
{
    if (!obj || !v || json_object_set_new(obj, key, v)) b->err = 1;
}

static void jpush(jb *b, json_t *arr, json_t *v)
{
    if (!arr || !v || json_array_append_new(arr, v)) b->err = 1;
}

static json_t *labels_json(jb *b, const bm_alert *a)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < n_labels_of(a); i++)
        jset(b, o, a->labels[i].key, jstr(a->labels[i].value));
    if (!o) b->err = 1;
    return o;
}

static json_t *finish(jb *b, json_t *v)
{
    if (b->err || !v) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- the record ---------------------------------------------------------- */

json_t *bm_alert_to_json(const bm_alert *a, const char *agent)
{
    jb b = {0};
    json_t *o = json_object();
    char fp[17];
    bm_alert_fingerprint_hex(a->fingerprint, fp);
    jset(&b, o, "rule", jstr(a->rule));
    jset(&b, o, "state", json_string(bm_alert_state_name(a->state)));
    jset(&b, o, "severity", json_string(bm_severity_name(a->severity)));
    jset(&b, o, "fingerprint", json_string(fp));
    jset(&b, o, "labels", labels_json(&b, a));
    jset(&b, o, "metric", jstr(a->metric));
    jset(&b, o, "op", jstr(a->op));
    if (a->window[0]) jset(&b, o, "window", jstr(a->window));
    jset(&b, o, "value", jreal(a->value));
    jset(&b, o, "threshold", jreal(a->threshold));
    jset(&b, o, "description", jstr(a->description));
    jset(&b, o, "starts_at", json_integer(a->starts_at_us));
    if (a->state == BM_ALERT_RESOLVED) jset(&b, o, "ends_at", json_integer(a->ends_at_us));
    jset(&b, o, "ts", json_integer(a->ts_us));
    if (agent) jset(&b, o, "agent", jstr(agent));
    return finish(&b, o);
}

typedef struct {
    msgpack_packer pk;
    int err;
} enc;

static void put_str(enc *e, const char *s)
{
    size_t n = strlen(s);
    e->err |= msgpack_pack_str(&e->pk, n);
    e->err |= msgpack_pack_str_body(&e->pk, s, n);
}

static void put_kv(enc *e, const char *k, const char *v)
{
    put_str(e, k);
    put_str(e, v);
}

int bm_alert_encode_msgpack(const bm_alert *a, const char *agent, msgpack_sbuffer *out)
{
    enc e = {.err = 0};
    msgpack_packer_init(&e.pk, out, msgpack_sbuffer_write);
    int resolved = a->state == BM_ALERT_RESOLVED;
    size_t n = 12 + (a->window[0] != 0) + (size_t)resolved + (agent != NULL);
    char fp[17];
    bm_alert_fingerprint_hex(a->fingerprint, fp);

    e.err |= msgpack_pack_map(&e.pk, n);
    put_kv(&e, "rule", a->rule);
    put_kv(&e, "state", bm_alert_state_name(a->state));
    put_kv(&e, "severity", bm_severity_name(a->severity));
    put_kv(&e, "fingerprint", fp);
    put_str(&e, "labels");
    e.err |= msgpack_pack_map(&e.pk, n_labels_of(a));
    for (unsigned i = 0; i < n_labels_of(a); i++)
        put_kv(&e, a->labels[i].key, a->labels[i].value);
    put_kv(&e, "metric", a->metric);
    put_kv(&e, "op", a->op);
    if (a->window[0]) put_kv(&e, "window", a->window);
    put_str(&e, "value");
    e.err |= msgpack_pack_double(&e.pk, a->value);
    put_str(&e, "threshold");
    e.err |= msgpack_pack_double(&e.pk, a->threshold);
    put_kv(&e, "description", a->description);
    put_str(&e, "starts_at");
    e.err |= msgpack_pack_int64(&e.pk, a->starts_at_us);
    if (resolved) {
        put_str(&e, "ends_at");
        e.err |= msgpack_pack_int64(&e.pk, a->ends_at_us);
    }
    put_str(&e, "ts");
    e.err |= msgpack_pack_int64(&e.pk, a->ts_us);
    if (agent) put_kv(&e, "agent", agent);
    return e.err ? -1 : 0;
}

/* ---- reading the record back --------------------------------------------- */

/* A str without NUL that fits cap with its NUL. @return 0 or -1. */
static int mp_str(const msgpack_object *v, char *buf, size_t cap)
{
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap ||
        (v->via.str.size && memchr(v->via.str.ptr, '\0', v->via.str.size)))
        return -1;
    if (v->via.str.size) memcpy(buf, v->via.str.ptr, v->via.str.size);
    buf[v->via.str.size] = '\0';
    return 0;
}

static int mp_i64(const msgpack_object *v, int64_t *out)
{
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return 0;
    }
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return 0;
    }
    return -1;
}

static int mp_f64(const msgpack_object *v, double *out)
{
    int64_t i;
    if (v && (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32)) {
        *out = v->via.f64;
        return 0;
    }
    if (mp_i64(v, &i) != 0) return -1;
    *out = (double)i;
    return 0;
}

static int refuse(char *err, size_t errlen, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "alert record: %s", what);
    return -1;
}

static int label_key_cmp(const void *x, const void *y)
{
    return strcmp(((const bm_alert_label *)x)->key, ((const bm_alert_label *)y)->key);
}

int bm_alert_decode_msgpack(const msgpack_object *o, bm_alert *out, char *err, size_t errlen)
{
    char word[16], fp[17];
    memset(out, 0, sizeof *out);
    if (!o || o->type != MSGPACK_OBJECT_MAP) return refuse(err, errlen, "not a map");
    if (mp_str(bm_msgpack_map_get(o, "rule"), out->rule, sizeof out->rule))
        return refuse(err, errlen, "'rule' missing or too long");
    if (mp_str(bm_msgpack_map_get(o, "state"), word, sizeof word)) return refuse(err, errlen, "no 'state'");
    if (!strcmp(word, "firing"))
        out->state = BM_ALERT_FIRING;
    else if (!strcmp(word, "resolved"))
        out->state = BM_ALERT_RESOLVED;
    else if (!strcmp(word, "repeat"))
        out->state = BM_ALERT_REPEAT;
    else
        return refuse(err, errlen, "unknown 'state'");
    int sev = mp_str(bm_msgpack_map_get(o, "severity"), word, sizeof word) ? -1 : bm_severity_parse(word);
    if (sev < 0) return refuse(err, errlen, "unknown 'severity'");
    out->severity = (bm_severity)sev;
    const msgpack_object *labels = bm_msgpack_map_get(o, "labels");
    if (!labels || labels->type != MSGPACK_OBJECT_MAP || labels->via.map.size > BM_ALERT_LABELS_MAX)
        return refuse(err, errlen, "'labels' is not a map of at most 8");
    for (uint32_t i = 0; i < labels->via.map.size; i++) {
        bm_alert_label *l = &out->labels[i];
        if (mp_str(&labels->via.map.ptr[i].key, l->key, sizeof l->key) ||
            mp_str(&labels->via.map.ptr[i].val, l->value, sizeof l->value))
            return refuse(err, errlen, "a label is not a short string pair");
    }
    out->n_labels = labels->via.map.size;
    qsort(out->labels, out->n_labels, sizeof *out->labels, label_key_cmp);
    if (mp_str(bm_msgpack_map_get(o, "metric"), out->metric, sizeof out->metric) ||
        mp_str(bm_msgpack_map_get(o, "op"), out->op, sizeof out->op) ||
        mp_str(bm_msgpack_map_get(o, "description"), out->description, sizeof out->description))
        return refuse(err, errlen, "'metric', 'op' or 'description' missing or too long");
    const msgpack_object *window = bm_msgpack_map_get(o, "window");
    if (window && mp_str(window, out->window, sizeof out->window))
        return refuse(err, errlen, "'window' too long");
    if (mp_f64(bm_msgpack_map_get(o, "value"), &out->value) || mp_f64(bm_msgpack_map_get(o, "threshold"), &out->threshold))
        return refuse(err, errlen, "'value' or 'threshold' is not a number");
    if (mp_i64(bm_msgpack_map_get(o, "starts_at"), &out->starts_at_us) || mp_i64(bm_msgpack_map_get(o, "ts"), &out->ts_us))
        return refuse(err, errlen, "'starts_at' or 'ts' is not an integer");
    const msgpack_object *ends = bm_msgpack_map_get(o, "ends_at");
    if (ends && mp_i64(ends, &out->ends_at_us))
        return refuse(err, errlen, "'ends_at' is not an integer");
    out->fingerprint = bm_alert_fingerprint(out->rule, out->labels, out->n_labels);
    bm_alert_fingerprint_hex(out->fingerprint, fp);
    char given[17];
    if (mp_str(bm_msgpack_map_get(o, "fingerprint"), given, sizeof given) || strcmp(given, fp))
        return refuse(err, errlen, "'fingerprint' is not the one of its rule and labels");
    return 0;
}

/* ---- Slack --------------------------------------------------------------- */

/*
 * Slack incoming webhook, legacy attachments (still honoured, and read by
 * Mattermost and Rocket.Chat as they are):
 *
 *   { "text": "[FIRING] high_error_rate worker=flaky",
 *     "attachments": [ { "color": "#daa038", "fallback": text,
 *         "title": text, "title_link": generator_url   (when set),
 *         "text": description,
 *         "fields": [ {"title": "Severity", "value": "warning", "short": true},
 *                     {"title": "Value", "value": "0.34", "short": true},
 *                     {"title": "Condition", "value": "error_rate 5m > 0.1", "short": true},
 *                     {"title": <label key>, "value": <label value>, "short": true}, ... ],
 *         "footer": "busmon <agent>", "ts": int seconds } ] }
 *
 * Colour: resolved green, else by severity (info blue, warning amber, error
 * orange, critical red).
 */
static const char *slack_colour(const bm_alert *a)
{
    static const char *const by_severity[BM_SEVERITY__COUNT] = {"#439fe0", "#daa038", "#e8590c",
                                                                "#a30200"};
    if (a->state == BM_ALERT_RESOLVED) return "#2eb886";
    return (unsigned)a->severity < BM_SEVERITY__COUNT ? by_severity[a->severity] : "#a30200";
}

static json_t *slack_field(jb *b, const char *title, const char *value)
{
    json_t *f = json_object();
    jset(b, f, "title", jstr(title));
    jset(b, f, "value", jstr(value));
    jset(b, f, "short", json_true());
    if (!f) b->err = 1;
    return f;
}

static json_t *slack_json(const bm_alert *a, const bm_alert_body_opts *o)
{
    jb b = {0};
    char summary[1024], value[32], threshold[32], cond[128], footer[256];
    bm_alert_summary(a, summary, sizeof summary);
    bm_alert_format_value(a->value, value);
    bm_alert_format_value(a->threshold, threshold);
    snprintf(cond, sizeof cond, "%s%s%s %s %s", a->metric, a->window[0] ? " " : "", a->window,
             a->op, threshold);
    snprintf(footer, sizeof footer, "busmon%s%s", o->agent ? " " : "", o->agent ? o->agent : "");

    json_t *body = json_object(), *atts = json_array(), *att = json_object(),
           *fields = json_array();
    jset(&b, body, "text", jstr(summary));
    jset(&b, att, "color", json_string(slack_colour(a)));
    jset(&b, att, "fallback", jstr(summary));
    jset(&b, att, "title", jstr(summary));
    if (o->generator_url) jset(&b, att, "title_link", jstr(o->generator_url));
    jset(&b, att, "text", jstr(a->description));
    jpush(&b, fields, slack_field(&b, "Severity", bm_severity_name(a->severity)));
    jpush(&b, fields, slack_field(&b, "Value", value));
    jpush(&b, fields, slack_field(&b, "Condition", cond));
    for (unsigned i = 0; i < n_labels_of(a); i++)
        jpush(&b, fields, slack_field(&b, a->labels[i].key, a->labels[i].value));
    jset(&b, att, "fields", fields);
    jset(&b, att, "footer", jstr(footer));
    jset(&b, att, "ts", json_integer(a->ts_us / 1000000));
    jpush(&b, atts, att);
    jset(&b, body, "attachments", atts);
    return finish(&b, body);
}

/* ---- PagerDuty ----------------------------------------------------------- */

/*
 * PagerDuty Events API v2 (POST https://events.pagerduty.com/v2/enqueue).
 * firing and repeat (PagerDuty folds repeats into the open incident by
 * dedup_key):
 *
 *   { "routing_key": str, "event_action": "trigger",
 *     "dedup_key": "busmon-<fingerprint>",
 *     "payload": { "summary": "[FIRING] rule labels: description" (<= 1024 bytes),
 *                  "source": agent | "busmon", "severity": severity,
 *                  "timestamp": ISO-8601 of ts, "component": the scope's label value
 *                  (when any), "group": rule, "class": metric,
 *                  "custom_details": { "description", "value", "threshold",
 *                                      "op", "window", "labels": {...} } },
 *     "client": "busmon", "client_url": generator_url (when set) }
 *
 * resolved:  { "routing_key": str, "event_action": "resolve", "dedup_key": ... }
 */
#define PD_SUMMARY_MAX 1024

/* Cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return n;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    return cut;
}

static const char *scope_value(const bm_alert *a)
{
    static const char *const keys[] = {"worker", "stream", "error_type"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *v = bm_alert_label_get(a, keys[i]);
        if (v) return v;
    }
    return NULL;
}

static json_t *pagerduty_json(const bm_alert *a, const bm_alert_body_opts *o)
{
    if (!o->routing_key || !o->routing_key[0]) return NULL;
    jb b = {0};
    char fp[17], dedup[32];
    bm_alert_fingerprint_hex(a->fingerprint, fp);
    snprintf(dedup, sizeof dedup, "busmon-%s", fp);
    json_t *body = json_object();
    jset(&b, body, "routing_key", jstr(o->routing_key));
    jset(&b, body, "event_action",
         json_string(a->state == BM_ALERT_RESOLVED ? "resolve" : "trigger"));
    jset(&b, body, "dedup_key", json_string(dedup));
    if (a->state == BM_ALERT_RESOLVED) return finish(&b, body);

    char head[1024], summary[sizeof head + BM_ALERT_DESC_MAX + 2];
    bm_alert_summary(a, head, sizeof head);
    snprintf(summary, sizeof summary, "%s: %s", head, a->description);
    summary[utf8_cut(summary, PD_SUMMARY_MAX)] = '\0';

    json_t *payload = json_object(), *details = json_object();
    jset(&b, payload, "summary", jstr(summary));
    jset(&b, payload, "source", jstr(o->agent ? o->agent : "busmon"));
    jset(&b, payload, "severity", json_string(bm_severity_name(a->severity)));
    jset(&b, payload, "timestamp", jiso(a->ts_us));
    const char *component = scope_value(a);
    if (component) jset(&b, payload, "component", jstr(component));
    jset(&b, payload, "group", jstr(a->rule));
    jset(&b, payload, "class", jstr(a->metric));
    jset(&b, details, "description", jstr(a->description));
    jset(&b, details, "value", jreal(a->value));
    jset(&b, details, "threshold", jreal(a->threshold));
    jset(&b, details, "op", jstr(a->op));
    if (a->window[0]) jset(&b, details, "window", jstr(a->window));
    jset(&b, details, "labels", labels_json(&b, a));
    jset(&b, payload, "custom_details", details);
    jset(&b, body, "payload", payload);
    jset(&b, body, "client", json_string("busmon"));
    if (o->generator_url) jset(&b, body, "client_url", jstr(o->generator_url));
    return finish(&b, body);
}

/* ---- Alertmanager -------------------------------------------------------- */

/*
 * Prometheus Alertmanager API v2, POST /api/v2/alerts, body = array of
 *
 *   { "labels": { "alertname": rule, "severity": severity, <labels>... },
 *     "annotations": { "summary": "[FIRING] rule labels", "description": str,
 *                      "value": "0.34", "threshold": "0.1" },
 *     "startsAt": ISO-8601, "endsAt": ISO-8601 (resolved: ends_at; firing:
 *     ts + firing_valid_us when > 0, else absent), "generatorURL": url (when set) }
 *
 * Alertmanager identifies an alert by its label set, so a resolve matches
 * its firing; a repeat is sent as firing again (it refreshes endsAt).
 */
static json_t *alertmanager_one(jb *b, const bm_alert *a, const bm_alert_body_opts *o)
{
    json_t *al = json_object(), *labels = json_object(), *ann = json_object();
    jset(b, labels, "alertname", jstr(a->rule));
    jset(b, labels, "severity", json_string(bm_severity_name(a->severity)));
    for (unsigned i = 0; i < n_labels_of(a); i++)
        jset(b, labels, a->labels[i].key, jstr(a->labels[i].value));
    jset(b, al, "labels", labels);

    char summary[1024], value[32], threshold[32];
    bm_alert_summary(a, summary, sizeof summary);
    bm_alert_format_value(a->value, value);
    bm_alert_format_value(a->threshold, threshold);
    jset(b, ann, "summary", jstr(summary));
    jset(b, ann, "description", jstr(a->description));
    jset(b, ann, "value", json_string(value));
    jset(b, ann, "threshold", json_string(threshold));
    jset(b, al, "annotations", ann);

    jset(b, al, "startsAt", jiso(a->starts_at_us));
    if (a->state == BM_ALERT_RESOLVED)
        jset(b, al, "endsAt", jiso(a->ends_at_us));
    else if (o->firing_valid_us > 0)
        jset(b, al, "endsAt", jiso(a->ts_us + o->firing_valid_us));
    if (o->generator_url) jset(b, al, "generatorURL", jstr(o->generator_url));
    if (!al) b->err = 1;
    return al;
}

static const bm_alert_body_opts no_opts;

json_t *bm_alert_alertmanager_json(const bm_alert *alerts, size_t n, const bm_alert_body_opts *o)
{
    if (!o) o = &no_opts;
    jb b = {0};
    json_t *arr = json_array();
    for (size_t i = 0; i < n && !b.err; i++)
        jpush(&b, arr, alertmanager_one(&b, &alerts[i], o));
    return finish(&b, arr);
}

/* ---- dispatch ------------------------------------------------------------ */

json_t *bm_alert_body_json(bm_alert_body_format f, const bm_alert *a, const bm_alert_body_opts *o)
{
    if (!o) o = &no_opts;
    switch (f) {
    case BM_ALERT_BODY_JSON:
        return bm_alert_to_json(a, o->agent);
    case BM_ALERT_BODY_SLACK:
        return slack_json(a, o);
    case BM_ALERT_BODY_PAGERDUTY:
        return pagerduty_json(a, o);
    case BM_ALERT_BODY_ALERTMANAGER:
        return bm_alert_alertmanager_json(a, 1, o);
    default:
        return NULL;
    }
}

/* Compact, and 15 significant digits: 0.34 reads back as 0.34 to a person,
 * where the default 17 would write 0.34000000000000002. */
#define TEXT_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static char *dump(json_t *j, size_t *len)
{
    if (!j) return NULL;
    char *s = json_dumps(j, TEXT_FLAGS);
    json_decref(j);
    if (s && len) *len = strlen(s);
    return s;
}

char *bm_alert_record_text(const bm_alert *a, const char *agent, size_t *len)
{
    return dump(bm_alert_to_json(a, agent), len);
}

char *bm_alert_body(bm_alert_body_format f, const bm_alert *a, const bm_alert_body_opts *o,
                    size_t *len)
{
    return dump(bm_alert_body_json(f, a, o), len);
}
