/*
 * sink.c - the sink table and the configured sink (sink.h): common keys,
 * topics, formats, option lookup, the build-emit-release helper.
 */
#include "agent/outputs/sink.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/log.h"
#include "agent/core/secret_file.h"
#include "proto/alert.h"

const bm_sink_key bm_sink_common_keys[] = {
    {"type", "webhook", "the sink type: webhook, email, redis_stream, redis_hash, otlp"},
    {"name", NULL, "the sink's name in logs and counters (default: the type)"},
    {"format", "generic", "body format: generic | slack | pagerduty | alertmanager"},
    {"routing_key", NULL, "PagerDuty integration key (required for format pagerduty)"},
    {"routing_key_file", NULL,
     "the routing key from a file's first line (also url_file, header_file.NAME: any secret "
     "key of a sink can be K_file: PATH)"},
    {"topics", NULL,
     "what it takes, a comma list or a YAML list: alert, alerts_firing, rollup, workers, health, "
     "system, "
     "spans, metrics, of those its type and format carry (default alert; alerts_firing for "
     "format alertmanager and type redis_hash; spans,metrics for type otlp)"},
    {NULL, NULL, NULL},
};

/* ---- what a sink can carry ---------------------------------------------------
 *
 * A topic's producer builds each sink's body in the sink's format, and what
 * it builds is one of four shapes (read from the builders: build_body in
 * jobs/alerting.c for alert and alerts_firing, bm_record_build in
 * outputs.c for rollup, workers, health and system, build_spans in
 * jobs/finisher.c and build in jobs/otlp_metrics.c; "-": the builder fails):
 *
 *   topic          generic        slack, pagerduty   alertmanager
 *   alert          alert record   document           document
 *   alerts_firing  hash fields    -                  document
 *   rollup         document       -                  -
 *   workers        hash fields    -                  -
 *   health         document       -                  -
 *   system         document       -                  -
 *   spans          OTLP fragment, whatever the format (span objects, commas between)
 *   metrics        OTLP fragment, whatever the format (Metric objects, commas between)
 *
 * and each sink type writes some shapes (sink_types[] below): a webhook
 * POSTs a document, a redis_stream XADDs one, a redis_hash HSETs fields, an
 * e-mail is made from an alert record, otlp wraps fragments into a request.
 * So a type takes, by format:
 *
 *   webhook, redis_stream  generic: alert, rollup, health, system
 *                          slack, pagerduty: alert
 *                          alertmanager: alert, alerts_firing
 *   redis_hash             generic: workers, alerts_firing
 *   email                  generic: alert
 *   otlp                   spans, metrics
 *
 * Anything else would be "sent" as an empty POST, an empty hash write, a
 * fragment that is no JSON, or nothing: configure() refuses it, and
 * bm_sink_emit_built drops (and counts) what a sink cannot carry.
 */
enum {
    SHAPE_DOC = 1u << 0,    /* one JSON document in data (msgpack beside it for some) */
    SHAPE_ALERT = 1u << 1,  /* busmon's alert record: a document e-mail can read */
    SHAPE_FIELDS = 1u << 2, /* hash fields only, no data */
    SHAPE_OTLP = 1u << 3,   /* OTLP objects separated by commas: no document alone */
};

_Static_assert(BM_ALERT_BODY__COUNT == 4, "topic_shape: a column per format, rows written out");
static const unsigned char topic_shape[BM_TOPIC__COUNT][BM_ALERT_BODY__COUNT] = {
    [BM_TOPIC_ALERT] = {SHAPE_ALERT, SHAPE_DOC, SHAPE_DOC, SHAPE_DOC},
    [BM_TOPIC_ALERTS_FIRING] =
        {[BM_ALERT_BODY_JSON] = SHAPE_FIELDS, [BM_ALERT_BODY_ALERTMANAGER] = SHAPE_DOC},
    [BM_TOPIC_ROLLUP] = {[BM_ALERT_BODY_JSON] = SHAPE_DOC},
    [BM_TOPIC_WORKERS] = {[BM_ALERT_BODY_JSON] = SHAPE_FIELDS},
    [BM_TOPIC_HEALTH] = {[BM_ALERT_BODY_JSON] = SHAPE_DOC},
    [BM_TOPIC_SYSTEM] = {[BM_ALERT_BODY_JSON] = SHAPE_DOC},
    [BM_TOPIC_SPANS] = {SHAPE_OTLP, SHAPE_OTLP, SHAPE_OTLP, SHAPE_OTLP},
    [BM_TOPIC_METRICS] = {SHAPE_OTLP, SHAPE_OTLP, SHAPE_OTLP, SHAPE_OTLP},
};

typedef struct {
    const bm_sink_type *type;
    unsigned shapes; /* SHAPE_* it writes */
} sink_type_row;

static const sink_type_row sink_types[] = {
    {&bm_sink_webhook, SHAPE_DOC | SHAPE_ALERT},
    {&bm_sink_email, SHAPE_ALERT},
    {&bm_sink_redis_stream, SHAPE_DOC | SHAPE_ALERT},
    {&bm_sink_redis_hash, SHAPE_FIELDS},
    {&bm_sink_otlp, SHAPE_OTLP},
};

static const char *const topic_names[BM_TOPIC__COUNT] = {
    "alert", "alerts_firing", "rollup", "workers", "health", "system", "spans", "metrics"};

const char *bm_topic_name(bm_topic t)
{
    return (unsigned)t < BM_TOPIC__COUNT ? topic_names[t] : "?";
}

int bm_topic_parse(const char *s)
{
    for (int i = 0; i < BM_TOPIC__COUNT; i++)
        if (!strcmp(s, topic_names[i])) return i;
    return -1;
}

static const sink_type_row *type_row(const char *name)
{
    for (size_t i = 0; i < sizeof sink_types / sizeof sink_types[0]; i++)
        if (!strcmp(sink_types[i].type->name, name)) return &sink_types[i];
    return NULL;
}

const bm_sink_type *bm_sink_type_find(const char *name)
{
    const sink_type_row *r = type_row(name);
    return r ? r->type : NULL;
}

/* The topics (1 << bm_topic) a type writes something for in format fmt. */
static unsigned carried_topics(const sink_type_row *r, int fmt)
{
    unsigned mask = 0;
    for (int t = 0; t < BM_TOPIC__COUNT; t++)
        if (topic_shape[t][fmt] & r->shapes) mask |= 1u << t;
    return mask;
}

/* "workers, alerts_firing" (or "no topic") into buf. */
static void topic_list(unsigned mask, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int t = 0; t < BM_TOPIC__COUNT && k < len; t++)
        if ((mask >> t) & 1u)
            k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", topic_names[t]);
    if (!mask) snprintf(buf, len, "no topic");
}

/*
 * The topics of a sink whose configuration names none: alert, or
 * alerts_firing for format alertmanager and for a type that carries only
 * the firing set (redis_hash); a type that carries neither takes what it
 * carries (otlp: spans, metrics). What it cannot carry is refused by the
 * caller, with the reason.
 */
static unsigned default_topics(unsigned carries, int fmt)
{
    unsigned alert = 1u << BM_TOPIC_ALERT, firing = 1u << BM_TOPIC_ALERTS_FIRING;
    if (carries && !(carries & (alert | firing))) return carries;
    if (fmt == BM_ALERT_BODY_ALERTMANAGER) return firing;
    return !carries || (carries & alert) ? alert : firing;
}

/* A topic in `mask` that the sink cannot carry is refused: @return 0, or -1
 * with the sink, its type (and format), the topic and what it takes in err. */
static int check_carried(const char *label, const sink_type_row *r, int fmt, unsigned mask,
                         char *err, size_t errlen)
{
    unsigned carries = carried_topics(r, fmt), cannot = mask & ~carries;
    if (!cannot) return 0;
    int bad = 0;
    while (!((cannot >> bad) & 1u))
        bad++;
    char with[64] = "", takes[160], generic[160];
    if (fmt != BM_ALERT_BODY_JSON)
        snprintf(with, sizeof with, " with format %s",
                 bm_alert_body_format_name((bm_alert_body_format)fmt));
    topic_list(carries, takes, sizeof takes);
    topic_list(carried_topics(r, BM_ALERT_BODY_JSON), generic, sizeof generic);
    if (carries || fmt == BM_ALERT_BODY_JSON)
        bm_set_error(err, errlen, "sink '%s': type %s%s cannot carry topic '%s'; %s%s takes %s",
                     label, r->type->name, with, topic_names[bad], r->type->name, with, takes);
    else
        bm_set_error(err, errlen,
                     "sink '%s': type %s%s cannot carry topic '%s'; %s takes no topic%s (with "
                     "format generic: %s)",
                     label, r->type->name, with, topic_names[bad], r->type->name, with, generic);
    return -1;
}

struct bm_sink {
    const bm_sink_type *type;
    void *self;
    char *name;
    int format;        /* bm_alert_body_format */
    unsigned topics;   /* 1 << bm_topic */
    bm_sink_kv *kv;    /* every key as configured (owned copies) */
    size_t n_kv;
    uint64_t build_failed; /* bodies the builder could not make (added to `dropped`) */
    unsigned carries;      /* the topics its type writes something for in its format */
    uint64_t not_carried;  /* messages on a topic it cannot carry (added to `dropped`) */
    bm_sink_flush_cb flush_cb;
    void *flush_arg;
};

static int is_common_key(const char *k)
{
    for (const bm_sink_key *c = bm_sink_common_keys; c->name; c++)
        if (!strcmp(c->name, k)) return 1;
    return 0;
}

static int type_has_key(const bm_sink_type *t, const char *k)
{
    for (const bm_sink_key *c = t->keys; c->name; c++) {
        size_t n = strlen(c->name);
        if (n && c->name[n - 1] == '.' ? !strncmp(c->name, k, n) && k[n] : !strcmp(c->name, k))
            return 1;
    }
    return 0;
}

static const char *kv_get(const bm_sink_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, key)) return kv[i].value;
    return NULL;
}

/* Does an http(s) URL have a path beyond "/"? */
static int url_has_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?#");
    return *p == '/' && p[1] && p[1] != '?' && p[1] != '#';
}

/* "alert, rollup" -> a topic mask. @return 0, or -1 with the bad word in err. */
static int parse_topics(const char *label, const char *list, unsigned *mask, char *err,
                        size_t errlen)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    *mask = 0;
    char *save = NULL;
    for (char *w = strtok_r(buf, ", []", &save); w; w = strtok_r(NULL, ", []", &save)) {
        int t = bm_topic_parse(w);
        if (t < 0) {
            bm_set_error(err, errlen,
                         "sink '%s': unknown topic '%s' (alert, alerts_firing, rollup, workers, "
                         "health, system, spans, metrics)",
                         label, w);
            return -1;
        }
        *mask |= 1u << t;
    }
    if (!*mask) {
        bm_set_error(err, errlen, "sink '%s': 'topics' names no topic", label);
        return -1;
    }
    return 0;
}

/* ---- secrets from files ------------------------------------------------------ */

#define SECRET_MAX 4096

/*
 * The key a "_file" key stands for: routing_key_file -> routing_key,
 * url_file -> url, header_file.NAME -> header.NAME (into buf). @return buf,
 * or NULL when `key` is not one.
 */
static const char *file_key_target(const char *key, char *buf, size_t len)
{
    size_t n = strlen(key);
    if (!strncmp(key, "header_file.", 12) && key[12]) {
        snprintf(buf, len, "header.%s", key + 12);
        return buf;
    }
    if (n > 5 && !strcmp(key + n - 5, "_file")) {
        snprintf(buf, len, "%.*s", (int)(n - 5), key);
        return buf;
    }
    return NULL;
}

/*
 * kv with every "K_file: PATH" (and "header_file.NAME: PATH") replaced by
 * "K: <the file's first line>" (agent/core/secret_file.h), so the secret is
 * checked and used as if written in place, and the configuration holds a
 * path only. *out and its strings are the caller's (free_kv).
 * @return 0, or -1 with err set.
 */
static int resolve_files(const bm_sink_kv *kv, size_t n_kv, bm_sink_kv **out, const char *label,
                         char *err, size_t errlen)
{
    *out = calloc(n_kv ? n_kv : 1, sizeof **out);
    if (!*out) return bm_set_error(err, errlen, "sink '%s': out of memory", label), -1;
    for (size_t i = 0; i < n_kv; i++) {
        char target[256], what[300];
        const char *k = file_key_target(kv[i].key, target, sizeof target);
        char *value = NULL;
        if (k) {
            char secret[SECRET_MAX];
            snprintf(what, sizeof what, "sink '%s': '%s'", label, k);
            if (bm_secret_file_read(kv[i].value, what, secret, sizeof secret, err, errlen))
                return -1;
            value = strdup(secret);
            memset(secret, 0, sizeof secret);
        } else {
            value = strdup(kv[i].value);
        }
        (*out)[i].key = strdup(k ? k : kv[i].key);
        (*out)[i].value = value;
        if (!(*out)[i].key || !value)
            return bm_set_error(err, errlen, "sink '%s': out of memory", label), -1;
    }
    return 0;
}

/*
 * msg with every value read from a file (kv[i] where given[i] was "K_file")
 * replaced by "(from K_file)": a check that refuses a value may quote it, and
 * such a value is a secret. Values under 4 bytes are left alone (they would
 * mangle the message, and hide nothing).
 */
static void hide_file_secrets(char *msg, size_t len, const bm_sink_kv *given, const bm_sink_kv *kv,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!given[i].key || !kv[i].value || !strcmp(given[i].key, kv[i].key) ||
            strlen(kv[i].value) < 4)
            continue;
        char *from = msg, *at;
        while ((at = strstr(from, kv[i].value))) {
            char rest[1024];
            snprintf(rest, sizeof rest, "%s", at + strlen(kv[i].value));
            int put = snprintf(at, len - (size_t)(at - msg), "(from %s)", given[i].key);
            size_t room = strlen(at);
            from = at + ((size_t)put < room ? (size_t)put : room); /* never search the note */
            snprintf(from, len - (size_t)(from - msg), "%s", rest);
            memset(rest, 0, sizeof rest);
        }
    }
}

static void free_kv(bm_sink_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free((char *)kv[i].key);
        if (kv[i].value) memset((char *)kv[i].value, 0, strlen(kv[i].value));
        free((char *)kv[i].value);
    }
    free(kv);
}

/* Everything but the type's own init. @return the sink with its own keys in
 * *own (n_own of them; borrowed from the sink), or NULL with err set. */
static bm_sink *configure(const bm_sink_kv *kv, size_t n_kv, bm_sink_kv **own, size_t *n_own,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < n_kv; i++)
        if (!kv[i].key || !kv[i].value) {
            bm_set_error(err, errlen, "sink: a key without a value");
            return NULL;
        }
    const char *type_name = kv_get(kv, n_kv, "type");
    const char *name = kv_get(kv, n_kv, "name");
    const char *format = kv_get(kv, n_kv, "format");
    const char *topics = kv_get(kv, n_kv, "topics");
    if (!type_name) type_name = "webhook";
    const char *label = name ? name : type_name;
    char why[256];

    const sink_type_row *row = type_row(type_name);
    const bm_sink_type *t = row ? row->type : NULL;
    if (!t) {
        bm_set_error(err, errlen,
                     "sink '%s': unknown type '%s' (known: webhook, email, redis_stream, redis_hash, "
                     "otlp)",
                     label, type_name);
        return NULL;
    }
    if (name && !*name) {
        bm_set_error(err, errlen, "sink '%s': 'name' is empty", label);
        return NULL;
    }
    int fmt = format ? bm_alert_body_format_parse(format) : BM_ALERT_BODY_JSON;
    if (fmt < 0) {
        bm_set_error(err, errlen,
                     "sink '%s': 'format' must be generic, slack, pagerduty or alertmanager, not "
                     "'%s'",
                     label, format);
        return NULL;
    }
    if (t == &bm_sink_email && fmt != BM_ALERT_BODY_JSON) {
        bm_set_error(err, errlen, "sink '%s': an e-mail sink makes its mail from format generic, "
                     "not '%s'", label, format);
        return NULL;
    }
    const char *rk = kv_get(kv, n_kv, "routing_key");
    if (fmt == BM_ALERT_BODY_PAGERDUTY && (!rk || !*rk)) {
        bm_set_error(err, errlen, "sink '%s': format pagerduty needs a 'routing_key'", label);
        return NULL;
    }
    unsigned mask = default_topics(carried_topics(row, fmt), fmt);
    if (topics && parse_topics(label, topics, &mask, err, errlen)) return NULL;
    for (size_t i = 0; i < n_kv; i++) {
        if (kv_get(kv, i, kv[i].key)) {
            bm_set_error(err, errlen, "sink '%s': '%s' is given twice", label, kv[i].key);
            return NULL;
        }
        if (!is_common_key(kv[i].key) && !type_has_key(t, kv[i].key)) {
            size_t k = 0;
            why[0] = '\0';
            for (const bm_sink_key *c = t->keys; c->name && k + 1 < sizeof why; c++)
                k += (size_t)snprintf(why + k, sizeof why - k, "%s%s%s", k ? ", " : "", c->name,
                                      c->name[strlen(c->name) - 1] == '.' ? "NAME" : "");
            /* config/alerting.c finds "unknown key 'K'" here to suggest a close key */
            bm_set_error(err, errlen,
                         "sink '%s': unknown key '%s' (%s takes type, name, format, "
                         "routing_key, topics, %s)",
                         label, kv[i].key, t->name, why);
            return NULL;
        }
    }
    if (check_carried(label, row, fmt, mask, err, errlen)) return NULL;

    bm_sink *s = calloc(1, sizeof *s);
    *own = calloc(n_kv ? n_kv : 1, sizeof **own);
    if (!s || !*own) goto nomem;
    s->type = t;
    s->format = fmt;
    s->topics = mask;
    s->carries = carried_topics(row, fmt);
    s->name = strdup(label);
    s->kv = calloc(n_kv ? n_kv : 1, sizeof *s->kv);
    if (!s->name || !s->kv) goto nomem;
    *n_own = 0;
    for (size_t i = 0; i < n_kv; i++) {
        char *value = NULL;
        if (!strcmp(kv[i].key, "url") && fmt == BM_ALERT_BODY_ALERTMANAGER &&
            !url_has_path(kv[i].value)) {
            /* the path goes before a query or fragment, which stay as they were */
            const char *v = kv[i].value, *host = strstr(v, "://");
            host = host ? host + 3 : v;
            size_t end = (size_t)(host - v) + strcspn(host, "?#"), n = end;
            while (n && v[n - 1] == '/')
                n--;
            if (asprintf(&value, "%.*s/api/v2/alerts%s", (int)n, v, v + end) < 0) value = NULL;
        } else {
            value = strdup(kv[i].value);
        }
        s->kv[s->n_kv].key = strdup(kv[i].key);
        s->kv[s->n_kv].value = value;
        s->n_kv++;
        if (!s->kv[i].key || !value) goto nomem;
        if (!is_common_key(kv[i].key)) (*own)[(*n_own)++] = s->kv[i];
    }
    return s;
nomem:
    bm_set_error(err, errlen, "sink '%s': out of memory", label);
    free(*own);
    *own = NULL;
    bm_sink_free(s);
    return NULL;
}

bm_sink *bm_sink_new(const bm_sink_env *env, const bm_sink_kv *given, size_t n_kv, char *err,
                     size_t errlen)
{
    bm_sink_kv *own = NULL, *kv = NULL;
    size_t n_own = 0;
    const char *label = kv_get(given, n_kv, "name");
    if (!label) label = kv_get(given, n_kv, "type");
    if (resolve_files(given, n_kv, &kv, label ? label : "webhook", err, errlen)) {
        free_kv(kv, n_kv);
        return NULL;
    }
    bm_sink *s = configure(kv, n_kv, &own, &n_own, err, errlen);
    if (!s) {
        hide_file_secrets(err, errlen, given, kv, n_kv);
        free_kv(kv, n_kv);
        return NULL;
    }
    char why[256] = "";
    s->self = s->type->init(env, s->name, own, n_own, why, sizeof why);
    free(own);
    if (!s->self) {
        bm_set_error(err, errlen, "sink '%s': %s", s->name, why);
        memset(why, 0, sizeof why);
        hide_file_secrets(err, errlen, given, kv, n_kv);
        free_kv(kv, n_kv);
        bm_sink_free(s);
        return NULL;
    }
    free_kv(kv, n_kv);
    return s;
}

int bm_sink_check(const bm_sink_kv *kv, size_t n_kv, char *err, size_t errlen)
{
    struct event_base *base = event_base_new();
    if (!base) {
        bm_set_error(err, errlen, "out of memory");
        return -1;
    }
    bm_sink_env env = {base, NULL};
    bm_sink *s = bm_sink_new(&env, kv, n_kv, err, errlen);
    bm_sink_free(s);
    event_base_free(base);
    return s ? 0 : -1;
}

void bm_sink_free(bm_sink *s)
{
    if (!s) return;
    if (s->self) s->type->free(s->self);
    for (size_t i = 0; i < s->n_kv; i++) {
        free((char *)s->kv[i].key);
        free((char *)s->kv[i].value);
    }
    free(s->kv);
    free(s->name);
    free(s);
}

const char *bm_sink_name(const bm_sink *s)
{
    return s->name;
}

const char *bm_sink_type_name(const bm_sink *s)
{
    return s->type->name;
}

const char *bm_sink_format(const bm_sink *s)
{
    return bm_alert_body_format_name((bm_alert_body_format)s->format);
}

const char *bm_sink_option(const bm_sink *s, const char *key)
{
    return kv_get(s->kv, s->n_kv, key);
}

int bm_sink_takes(const bm_sink *s, bm_topic t)
{
    return (s->topics >> t) & 1u;
}

bm_sink_result bm_sink_emit_built(bm_sink *s, bm_topic topic, bm_sink_build_cb build,
                                  bm_sink_release_cb release, void *arg)
{
    if ((unsigned)topic >= BM_TOPIC__COUNT || !((s->carries >> topic) & 1u)) {
        /* configure() refuses such a sink: this is a producer on a topic it never
         * took, and nothing it could write is made for it */
        if (!s->not_carried++)
            bm_warn("output %s (%s, format %s): a message on topic %s, which it cannot carry: "
                    "dropped (counted; not logged again)",
                    s->name, s->type->name, bm_sink_format(s), bm_topic_name(topic));
        return BM_SINK_ERROR;
    }
    bm_sink_body body;
    memset(&body, 0, sizeof body);
    int rc = build(s, topic, &body, arg);
    if (rc != 0) {
        if (release) release(&body, arg);
        if (rc > 0) return BM_SINK_QUEUED; /* nothing for this sink */
        s->build_failed++;
        return BM_SINK_ERROR;
    }
    bm_sink_result r = s->type->emit(s->self, topic, &body);
    if (release) release(&body, arg);
    return r;
}

static void sink_flush_done(void *self, uint64_t abandoned, void *arg)
{
    (void)self;
    bm_sink *s = arg;
    bm_sink_flush_cb cb = s->flush_cb;
    void *cb_arg = s->flush_arg;
    s->flush_cb = NULL;
    if (cb) cb(s, abandoned, cb_arg);
}

void bm_sink_flush(bm_sink *s, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    s->flush_cb = cb;
    s->flush_arg = arg;
    s->type->flush(s->self, timeout_ms, sink_flush_done, s);
}

void bm_sink_get_stats(const bm_sink *s, bm_sink_stats *out)
{
    s->type->stats(s->self, out);
    out->emitted += s->build_failed + s->not_carried;
    out->dropped += s->build_failed + s->not_carried;
}
