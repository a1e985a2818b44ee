/*
 * alerting_config.c - the `alerts:` section (alerting_config.h): the rules
 * through alert_config.c, then the outputs (stream, channel, maxlen, firing
 * hash) and the sinks (webhooks:, sinks:), each sink checked by making it
 * once on a throw-away event base.
 *
 * Everything is read into a fresh configuration and swapped in only when
 * all of it is good.
 */
#include "agent/config/alerting.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STREAM "busmon:alerts"
#define DEFAULT_MAXLEN 10000
#define FIRING_SUFFIX  ":firing"

static int set_str(char **field, const char *value)
{
    char *copy = strdup(value);
    if (!copy) return -1;
    free(*field);
    *field = copy;
    return 0;
}

static void free_sinks(bm_alerting_sink_config *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < s[i].n_kv; k++) {
            free((char *)s[i].kv[k].key);
            free((char *)s[i].kv[k].value);
        }
        free(s[i].kv);
    }
    free(s);
}

int bm_alerting_config_init(bm_alerting_config *c)
{
    memset(c, 0, sizeof *c);
    c->maxlen = DEFAULT_MAXLEN;
    if (bm_alert_config_init(&c->rules) || set_str(&c->stream, DEFAULT_STREAM) ||
        set_str(&c->channel, DEFAULT_STREAM) ||
        set_str(&c->firing_hash, DEFAULT_STREAM FIRING_SUFFIX)) {
        bm_alerting_config_deinit(c);
        return -1;
    }
    return 0;
}

void bm_alerting_config_deinit(bm_alerting_config *c)
{
    bm_alert_config_deinit(&c->rules);
    free(c->stream);
    free(c->channel);
    free(c->firing_hash);
    free_sinks(c->sinks, c->n_sinks);
    memset(c, 0, sizeof *c);
}

const char *bm_alerting_sink_get(const bm_alerting_config *c, size_t i, const char *key)
{
    if (i >= c->n_sinks) return NULL;
    for (size_t k = 0; k < c->sinks[i].n_kv; k++)
        if (!strcmp(c->sinks[i].kv[k].key, key)) return c->sinks[i].kv[k].value;
    return NULL;
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    struct event_base *check_base; /* made on the first sink, for checking sinks */
} pctx;

static size_t line_of(const yaml_node_t *n)
{
    return n ? n->start_mark.line + 1 : 0;
}

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

static int is_null(const yaml_node_t *n)
{
    const char *s = scalar(n);
    return !n || (s && (!*s || !strcmp(s, "~") || !strcmp(s, "null")));
}

static const char *kind_name(const yaml_node_t *n)
{
    return !n                              ? "nothing"
           : n->type == YAML_MAPPING_NODE  ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a value";
}

/* A Redis key name: 1-256 bytes, no spaces or control characters. */
static int parse_key_name(pctx *p, yaml_node_t *vn, const char *what, char **out)
{
    const char *s = scalar(vn);
    int ok = s && *s && strlen(s) <= 256;
    for (const char *q = s; ok && *q; q++)
        if ((unsigned char)*q <= ' ') ok = 0;
    if (!ok)
        return failf(p, vn,
                     "'alerts.%s' must be a key name (1-256 characters, no spaces), not '%s'", what,
                     s ? s : kind_name(vn));
    if (set_str(out, s)) return failf(p, vn, "out of memory");
    return 0;
}

static int push_kv(bm_alerting_sink_config *s, size_t *cap, const char *key, const char *value)
{
    if (s->n_kv == *cap) {
        size_t n = *cap ? *cap * 2 : 8;
        bm_sink_kv *kv = realloc(s->kv, n * sizeof *kv);
        if (!kv) return -1;
        s->kv = kv;
        *cap = n;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    s->kv[s->n_kv].key = k;
    s->kv[s->n_kv].value = v;
    s->n_kv++;
    return 0;
}

static const char *kv_find(const bm_alerting_sink_config *s, const char *key)
{
    for (size_t k = 0; k < s->n_kv; k++)
        if (!strcmp(s->kv[k].key, key)) return s->kv[k].value;
    return NULL;
}

/*
 * One sink mapping into *out: scalars as they are, `headers:` (a mapping)
 * as header.NAME pairs. Every sink gets a name: without one, its format
 * ("slack"), made unique with "-2", "-3", ... among the sinks before it.
 */
static int parse_sink(pctx *p, yaml_node_t *map, int index, const bm_alerting_sink_config *before,
                      size_t n_before, bm_alerting_sink_config *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    out->line = line_of(map);
    if (!map || map->type != YAML_MAPPING_NODE)
        return failf(p, map,
                     "alerts.webhooks #%d: must be a mapping (url: ..., format: ...), not %s",
                     index, kind_name(map));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = scalar(kn);
        if (!k || !vn) return failf(p, kn, "alerts.webhooks #%d: keys must be plain names", index);
        if (!strcmp(k, "headers") && vn->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *h = vn->data.mapping.pairs.start; h < vn->data.mapping.pairs.top;
                 h++) {
                const char *hk = scalar(yaml_document_get_node(p->doc, h->key));
                yaml_node_t *hvn = yaml_document_get_node(p->doc, h->value);
                const char *hv = scalar(hvn);
                if (!hk || !hv)
                    return failf(p, hvn ? hvn : vn,
                                 "alerts.webhooks #%d: headers must map names to values", index);
                char name[300];
                snprintf(name, sizeof name, "header.%s", hk);
                if (push_kv(out, &cap, name, hv)) return failf(p, vn, "out of memory");
            }
            continue;
        }
        const char *v = scalar(vn);
        if (!v)
            return failf(p, vn, "alerts.webhooks #%d: '%s' must be a single value, not %s", index,
                         k, kind_name(vn));
        if (push_kv(out, &cap, k, v)) return failf(p, vn, "out of memory");
    }
    const char *name = kv_find(out, "name");
    if (name) {
        for (size_t i = 0; i < n_before; i++) {
            const char *other = kv_find(&before[i], "name");
            if (other && !strcmp(other, name))
                return failf(p, map,
                             "alerts.webhooks: sink '%s' is defined twice (first at line %zu)",
                             name, before[i].line);
        }
        return 0;
    }
    const char *format = kv_find(out, "format");
    const char *base = format && *format ? format : "generic";
    if (!strcmp(base, "json")) base = "generic";
    char made[128];
    snprintf(made, sizeof made, "%.100s", base);
    for (int n = 2;; n++) {
        size_t i = 0;
        while (i < n_before && strcmp(kv_find(&before[i], "name"), made))
            i++;
        if (i == n_before) break;
        snprintf(made, sizeof made, "%.100s-%d", base, n);
    }
    if (push_kv(out, &cap, "name", made)) return failf(p, map, "out of memory");
    return 0;
}

/* Make the sink once, on a throw-away base, to hear what is wrong with it. */
static int check_sink(pctx *p, yaml_node_t *map, const bm_alerting_sink_config *s)
{
    char why[512] = "";
    if (bm_sink_check(s->kv, s->n_kv, why, sizeof why))
        return failf(p, map, "alerts.webhooks: %s", why);
    return 0;
}

static int parse_sinks(pctx *p, bm_alerting_config *c, yaml_node_t *seq, const char *key)
{
    if (is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return failf(p, seq, "'alerts.%s' must be a list of sinks (- url: ...), not %s", key,
                     kind_name(seq));
    int index = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *map = yaml_document_get_node(p->doc, *it);
        index++;
        if (c->n_sinks == BM_ALERTING_SINKS_MAX)
            return failf(p, map, "too many sinks (at most %d)", BM_ALERTING_SINKS_MAX);
        bm_alerting_sink_config *grown = realloc(c->sinks, (c->n_sinks + 1) * sizeof *grown);
        if (!grown) return failf(p, map, "out of memory");
        c->sinks = grown;
        bm_alerting_sink_config *s = &c->sinks[c->n_sinks];
        int rc = parse_sink(p, map, index, c->sinks, c->n_sinks, s);
        c->n_sinks++; /* even when refused: freed with the rest */
        if (rc || check_sink(p, map, s)) return -1;
    }
    return 0;
}

static int parse_outputs(pctx *p, bm_alerting_config *c, yaml_node_t *sec)
{
    yaml_node_t *channel = NULL, *firing = NULL;
    for (yaml_node_pair_t *pr = sec->data.mapping.pairs.start; pr < sec->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = scalar(kn);
        if (!k || !vn) continue; /* alert_config.c has refused it already */
        if (!strcmp(k, "stream")) {
            if (parse_key_name(p, vn, k, &c->stream)) return -1;
        } else if (!strcmp(k, "channel")) {
            channel = vn;
        } else if (!strcmp(k, "firing")) {
            firing = vn;
        } else if (!strcmp(k, "maxlen")) {
            const char *s = scalar(vn);
            char *end = NULL;
            errno = 0;
            unsigned long long v = s && *s != '-' ? strtoull(s, &end, 10) : 0;
            if (!s || end == s || *end || errno || v < 1 || v > 100000000)
                return failf(p, vn, "'alerts.maxlen' must be a number 1-100000000, not '%s'",
                             s ? s : kind_name(vn));
            c->maxlen = (size_t)v;
        } else if (!strcmp(k, "webhooks") || !strcmp(k, "sinks")) {
            if (parse_sinks(p, c, vn, k)) return -1;
        }
    }
    /* channel and firing hash follow the stream's name unless given */
    if (channel ? parse_key_name(p, channel, "channel", &c->channel)
                : set_str(&c->channel, c->stream))
        return channel ? -1 : failf(p, sec, "out of memory");
    if (firing) return parse_key_name(p, firing, "firing", &c->firing_hash);
    char *h = malloc(strlen(c->stream) + sizeof FIRING_SUFFIX);
    if (!h) return failf(p, sec, "out of memory");
    strcpy(h, c->stream);
    strcat(h, FIRING_SUFFIX);
    free(c->firing_hash);
    c->firing_hash = h;
    return 0;
}

int bm_alerting_config_parse(bm_alerting_config *c, yaml_document_t *doc, yaml_node_t *node,
                             const char *file, char *err, size_t errlen,
                             bm_alert_config_warn_cb warn, void *warn_arg)
{
    pctx p = {doc, file ? file : "config", err, errlen, NULL};
    bm_alerting_config fresh;
    if (bm_alerting_config_init(&fresh)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = bm_alert_config_parse(&fresh.rules, doc, node, p.file, err, errlen, warn, warn_arg);
    if (!rc && node && node->type == YAML_MAPPING_NODE) rc = parse_outputs(&p, &fresh, node);
    if (p.check_base) event_base_free(p.check_base);
    if (rc) {
        bm_alerting_config_deinit(&fresh);
        return -1;
    }
    bm_alerting_config_deinit(c);
    *c = fresh;
    return 0;
}

int bm_alerting_config_parse_string(bm_alerting_config *c, const char *yaml, size_t len,
                                    const char *file, char *err, size_t errlen,
                                    bm_alert_config_warn_cb warn, void *warn_arg)
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
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *sec = NULL;
    if (root && root->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
            const char *k = scalar(yaml_document_get_node(&doc, pr->key));
            if (k && !strcmp(k, "alerts")) sec = yaml_document_get_node(&doc, pr->value);
        }
    int rc = bm_alerting_config_parse(c, &doc, sec, file, err, errlen, warn, warn_arg);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}
