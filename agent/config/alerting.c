/*
 * alerting.c - the `alerts:` section (alerting.h): the rules through
 * alert_rules.c, the outputs (stream, channel, maxlen, firing hash) as rows
 * of the key table, and the sinks (webhooks:, sinks:), each sink checked by
 * making it once on a throw-away event base.
 *
 * Everything is read into a fresh configuration and swapped in only when
 * all of it is good. The defaults come from the walk's table: what names
 * the agent's table (bm_alerting_config_init, the parse entry points) is
 * alerting_load.c, above the table.
 */
#include "agent/config/alerting.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/keys.h"
#include "agent/core/group_keys.h"

#define FIRING_SUFFIX ":" BM_GROUP_SUB_FIRING

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

int bm_alerting_config_init_from(bm_alerting_config *c, const bm_config_key *keys, size_t n)
{
    memset(c, 0, sizeof *c);
    char why[256];
    void *base[BM_BASE__COUNT] = {[BM_BASE_ALERTING] = c};
    if (bm_alert_config_init_from(&c->rules, keys, n) ||
        bm_keys_defaults(keys, n, base, why, sizeof why) || bm_alerting_config_finish(c)) {
        bm_alerting_config_deinit(c);
        return -1;
    }
    return 0;
}

int bm_alerting_config_finish(bm_alerting_config *c)
{
    if (!c->channel_set && bm_config_set_str(&c->channel, c->stream)) return -1;
    if (c->firing_set) return 0;
    char *h = malloc(strlen(c->stream) + sizeof FIRING_SUFFIX);
    if (!h) return -1;
    strcpy(h, c->stream);
    strcat(h, FIRING_SUFFIX);
    free(c->firing_hash);
    c->firing_hash = h;
    return 0;
}

void bm_alerting_config_deinit(bm_alerting_config *c)
{
    bm_alert_config_deinit(&c->rules);
    free(c->stream);
    free(c->channel);
    free(c->firing_hash);
    free_sinks(c->sinks, c->n_sinks);
    free_sinks(c->output_sinks, c->n_output_sinks);
    memset(c, 0, sizeof *c);
}

const char *bm_alerting_sink_get(const bm_alerting_config *c, size_t i, const char *key)
{
    if (i >= c->n_sinks) return NULL;
    for (size_t k = 0; k < c->sinks[i].n_kv; k++)
        if (!strcmp(c->sinks[i].kv[k].key, key)) return c->sinks[i].kv[k].value;
    return NULL;
}

/* ---- sinks --------------------------------------------------------------- */

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

/* `topics:` written as a YAML list ([rollup, health] or one "- rollup" a
 * line): its names joined into the comma list the sink reads. */
static int topics_joined(bm_walk *w, const char *list, int index, yaml_node_t *seq,
                         bm_alerting_sink_config *out, size_t *cap)
{
    char joined[512] = "";
    size_t len = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *item = bm_walk_node(w, *it);
        const char *t = bm_yaml_scalar(item);
        if (!t)
            return bm_walk_fail(w, item ? item : seq,
                                "%s #%d: 'topics' must list topic names, not %s", list, index,
                                bm_yaml_kind(item));
        int n = snprintf(joined + len, sizeof joined - len, "%s%s", len ? ", " : "", t);
        if (n < 0 || (size_t)n >= sizeof joined - len)
            return bm_walk_fail(w, seq, "%s #%d: 'topics' is too long", list, index);
        len += (size_t)n;
    }
    if (push_kv(out, cap, "topics", joined)) return bm_walk_fail(w, seq, "out of memory");
    return 0;
}

/*
 * One sink mapping into *out: scalars as they are, `topics:` as a comma
 * list or a YAML list, `headers:` (a mapping)
 * as header.NAME pairs, `header_files:` as header_file.NAME pairs (the
 * values read from those files by the sink, outputs/sink.c). Every sink gets a name: without one,
 * its format
 * ("slack"), made unique with "-2", "-3", ... among the sinks before it.
 * `list` is the key as written (alerts.webhooks), for messages.
 */
static int parse_sink(bm_walk *w, const char *list, yaml_node_t *map, int index,
                      const bm_alerting_sink_config *before, size_t n_before,
                      bm_alerting_sink_config *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    out->line = bm_yaml_line(map);
    if (!map || map->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, map, "%s #%d: must be a mapping (url: ..., format: ...), not %s",
                            list, index, bm_yaml_kind(map));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = bm_walk_node(w, pr->key), *vn = bm_walk_node(w, pr->value);
        const char *k = bm_yaml_scalar(kn);
        if (!k || !vn) return bm_walk_fail(w, kn, "%s #%d: keys must be plain names", list, index);
        int files = !strcmp(k, "header_files"); /* NAME: PATH of the value's file */
        if ((files || !strcmp(k, "headers")) && vn->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *h = vn->data.mapping.pairs.start; h < vn->data.mapping.pairs.top;
                 h++) {
                const char *hk = bm_yaml_scalar(bm_walk_node(w, h->key));
                yaml_node_t *hvn = bm_walk_node(w, h->value);
                const char *hv = bm_yaml_scalar(hvn);
                if (!hk || !hv)
                    return bm_walk_fail(w, hvn ? hvn : vn,
                                        "%s #%d: headers must map names to values", list, index);
                char name[300];
                snprintf(name, sizeof name, "%s.%s", files ? "header_file" : "header", hk);
                if (push_kv(out, &cap, name, hv)) return bm_walk_fail(w, vn, "out of memory");
            }
            continue;
        }
        if (!strcmp(k, "topics") && vn->type == YAML_SEQUENCE_NODE) {
            if (topics_joined(w, list, index, vn, out, &cap)) return -1;
            continue;
        }
        const char *v = bm_yaml_scalar(vn);
        if (!v)
            return bm_walk_fail(w, vn, "%s #%d: '%s' must be a single value, not %s", list, index,
                                k, bm_yaml_kind(vn));
        if (push_kv(out, &cap, k, v)) return bm_walk_fail(w, vn, "out of memory");
    }
    const char *name = kv_find(out, "name");
    if (name) {
        for (size_t i = 0; i < n_before; i++) {
            const char *other = kv_find(&before[i], "name");
            if (other && !strcmp(other, name))
                return bm_walk_fail(w, map, "%s: sink '%s' is defined twice (first at line %zu)",
                                    list, name, before[i].line);
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
    if (push_kv(out, &cap, "name", made)) return bm_walk_fail(w, map, "out of memory");
    return 0;
}

/*
 * "; did you mean 'X'?" into buf when the sink's reason `why` is an unknown
 * key ("unknown key 'K'", outputs/sink.c) and X, one of the keys its type
 * takes (the common ones and its own), is close to K; else "". The sink
 * judges which keys it takes; only the suggestion is made here, where the
 * key table's measure is (outputs/ sits below config/ and cannot call it).
 */
static void sink_suggestion(const bm_alerting_sink_config *s, const char *why, char *buf,
                            size_t len)
{
    static const char marker[] = "unknown key '";
    const char *at = strstr(why, marker), *type = kv_find(s, "type");
    const bm_sink_type *t = bm_sink_type_find(type ? type : "webhook");
    buf[0] = '\0';
    if (!at || !t) return;
    char key[128];
    at += sizeof marker - 1;
    size_t klen = strcspn(at, "'");
    if (!at[klen] || klen >= sizeof key) return;
    memcpy(key, at, klen);
    key[klen] = '\0';
    const char *names[64];
    size_t n = 0;
    const bm_sink_key *tables[] = {bm_sink_common_keys, t->keys};
    for (size_t i = 0; i < 2; i++)
        for (const bm_sink_key *k = tables[i]; k->name && n < 64; k++)
            if (k->name[strlen(k->name) - 1] != '.') names[n++] = k->name; /* header.: a prefix */
    const char *near = bm_names_suggest(names, n, key);
    if (near) snprintf(buf, len, "; did you mean '%s'?", near);
}

/* Check the sink as bm_sink_new would make it, to hear what is wrong with it. */
static int check_sink(bm_walk *w, const char *list, yaml_node_t *map,
                      const bm_alerting_sink_config *s)
{
    char why[512] = "", near[160];
    if (!bm_sink_check(s->kv, s->n_kv, why, sizeof why)) return 0;
    sink_suggestion(s, why, near, sizeof near);
    return bm_walk_fail(w, map, "%s: %s%s", list, why, near);
}

/* A list of sinks into *list (grown; refused ones are kept to be freed). */
static int read_sinks(bm_walk *w, const bm_walk_pair *p, bm_alerting_sink_config **list,
                      size_t *n_list)
{
    int rc = bm_walk_list(w, p, "sinks (- url: ...)");
    if (rc <= 0) return rc;
    int index = 0;
    rc = 0;
    for (yaml_node_item_t *it = p->value->data.sequence.items.start;
         !rc && it < p->value->data.sequence.items.top; it++) {
        yaml_node_t *map = bm_walk_node(w, *it);
        index++;
        if (*n_list == BM_ALERTING_SINKS_MAX) {
            rc = bm_walk_fail(w, map, "too many sinks (at most %d)", BM_ALERTING_SINKS_MAX);
            break;
        }
        bm_alerting_sink_config *grown = realloc(*list, (*n_list + 1) * sizeof *grown);
        if (!grown) {
            rc = bm_walk_fail(w, map, "out of memory");
            break;
        }
        *list = grown;
        bm_alerting_sink_config *s = &grown[*n_list];
        rc = parse_sink(w, p->path, map, index, grown, *n_list, s);
        (*n_list)++; /* even when refused: freed with the rest */
        if (!rc) rc = check_sink(w, p->path, map, s);
    }
    return rc;
}

int bm_alerting_yaml_sinks(bm_walk *w, const bm_walk_pair *p)
{
    bm_alerting_config *c = w->base[BM_BASE_ALERTING];
    return read_sinks(w, p, &c->sinks, &c->n_sinks);
}

int bm_outputs_yaml_sinks(bm_walk *w, const bm_walk_pair *p)
{
    bm_alerting_config *c = w->base[BM_BASE_ALERTING];
    return read_sinks(w, p, &c->output_sinks, &c->n_output_sinks);
}

int bm_alerting_add_sink(bm_alerting_config *c, const bm_sink_kv *kv, size_t n, size_t line,
                         char *why, size_t whylen)
{
    if (bm_sink_check(kv, n, why, whylen)) return -1;
    const char *name = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, "name")) name = kv[i].value;
    for (size_t i = 0; name && i < c->n_sinks; i++) {
        const char *other = kv_find(&c->sinks[i], "name");
        if (other && !strcmp(other, name)) {
            snprintf(why, whylen, "sink '%s' is defined twice", name);
            return -1;
        }
    }
    if (c->n_sinks == BM_ALERTING_SINKS_MAX) {
        snprintf(why, whylen, "too many sinks (at most %d)", BM_ALERTING_SINKS_MAX);
        return -1;
    }
    bm_alerting_sink_config *grown = realloc(c->sinks, (c->n_sinks + 1) * sizeof *grown);
    if (!grown) return snprintf(why, whylen, "out of memory"), -1;
    c->sinks = grown;
    bm_alerting_sink_config *s = &grown[c->n_sinks++];
    memset(s, 0, sizeof *s);
    s->line = line;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        if (push_kv(s, &cap, kv[i].key, kv[i].value)) return snprintf(why, whylen, "out of memory"), -1;
    return 0;
}

/* ---- the section ------------------------------------------------------------- */

int bm_alerting_read_section(const bm_walk *w, bm_alerting_config *all, bm_alert_config *rules,
                             yaml_node_t *node)
{
    bm_alerting_config fresh;
    if (bm_alerting_config_init_from(&fresh, w->keys, w->n_keys)) {
        snprintf(w->err, w->errlen, "out of memory");
        return -1;
    }
    bm_walk sw = *w; /* the agent's table, its document, file and warnings */
    sw.context = "";
    sw.strict = sw.by_table = 0;
    memset(sw.base, 0, sizeof sw.base);
    sw.base[BM_BASE_ALERTING] = all ? &fresh : NULL;
    sw.base[BM_BASE_RULES] = &fresh.rules;
    int rc = bm_alert_rules_walk_section(&sw, node);
    if (!rc && bm_alerting_config_finish(&fresh))
        rc = -1, snprintf(w->err, w->errlen, "out of memory");
    if (rc) {
        bm_alerting_config_deinit(&fresh);
        return -1;
    }
    if (all) {
        /* outputs.sinks is not the alerts: section's own: it stays, whichever of the
         * two the file writes first (it was lost when outputs: came before alerts:) */
        bm_alerting_sink_config *os = fresh.output_sinks;
        size_t nos = fresh.n_output_sinks;
        fresh.output_sinks = all->output_sinks;
        fresh.n_output_sinks = all->n_output_sinks;
        all->output_sinks = os;
        all->n_output_sinks = nos;
        bm_alerting_config_deinit(all);
        *all = fresh;
        return 0;
    }
    bm_alert_config_deinit(rules);
    *rules = fresh.rules;
    memset(&fresh.rules, 0, sizeof fresh.rules);
    bm_alerting_config_deinit(&fresh);
    return 0;
}

int bm_alerting_yaml_section(bm_walk *w, const bm_walk_pair *p)
{
    return bm_alerting_read_section(w, w->base[BM_BASE_ALERTING], NULL, p->value);
}
