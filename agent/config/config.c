/*
 * config.c - the configuration as a whole: defaults from the key table, the
 * config file (read by the walker, walk.c),
 * the finishing step after every source, and the summary --check-config
 * prints. The environment is env.c, the flags args.c, --help usage.c.
 */
#include "agent/config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "agent/config/alerting.h"
#include "agent/config/keys.h"
#include "agent/config/walk.h"
#include "agent/core/group_keys.h"
#include "agent/core/log.h"
#include "agent/core/parse.h"
#include "lib/baseline.h"
#include "lib/redact.h"

int bm_config_init(bm_config *c)
{
    memset(c, 0, sizeof *c);
    c->warn = bm_config_log_warning;
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char consumer[160], why[256];
    snprintf(consumer, sizeof consumer, "busmon-%s", host);
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = c};
    c->alerting = malloc(sizeof *c->alerting);
    if (!c->alerting || bm_alerting_config_init(c->alerting)) {
        free(c->alerting);
        c->alerting = NULL;
        return -1;
    }
    if (bm_config_keys_defaults(base, why, sizeof why) || bm_config_set_str(&c->consumer, consumer))
        return -1;
    return 0;
}

void bm_config_deinit(bm_config *c)
{
    free(c->redis_url);
    free(c->redis_password_file);
    free(c->redis_username);
    free(c->http_token_file);
    for (size_t i = 0; i < c->n_streams; i++)
        free(c->streams[i]);
    free(c->group);
    free(c->consumer);
    free(c->trace_prefix);
    free(c->baselines_slots);
    free(c->baselines_control_key);
    free(c->otlp_endpoint);
    free(c->otlp_encoding);
    free(c->otlp_service_name);
    for (size_t i = 0; i < c->n_otlp_headers; i++) {
        free(c->otlp_headers[i].name);
        if (c->otlp_headers[i].value)
            memset(c->otlp_headers[i].value, 0, strlen(c->otlp_headers[i].value));
        free(c->otlp_headers[i].value);
    }
    free(c->trace_index_key);
    free(c->state_prefix);
    free(c->cluster_registry);
    free(c->cluster_leader_key);
    free(c->cluster_handoff_prefix);
    free(c->deadletter_stream);
    free(c->summary_file);
    free(c->log_file_path);
    free(c->rollups_stream);
    free(c->workers_hash);
    free(c->health_stream);
    free(c->http_listen);
    free(c->system_data_path);
    free(c->metrics_tag_allow);
    free(c->metrics_tag_deny);
    free(c->system_stream);
    free(c->config_file);
    for (size_t i = 0; i < c->n_pubsub_patterns; i++)
        free(c->pubsub_patterns[i]);
    free(c->channel_prefix);
    free(c->channel_separator);
    for (size_t i = 0; i < 5; i++)
        free(c->channel_words[i]);
    if (c->alerting) bm_alerting_config_deinit(c->alerting);
    free(c->alerting);
    memset(c, 0, sizeof *c);
}

int bm_config_set_streams_csv(bm_config *c, const char *csv, char *err, size_t errlen)
{
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = c};
    return bm_config_key_set(bm_config_key_find("streams.names"), base, csv, "'streams'",
                             BM_SET_FROM_FILE, err, errlen);
}

/* ---- the config file ---------------------------------------------------- */

void bm_config_log_warning(const char *message, void *arg)
{
    (void)arg;
    bm_warn("config %s", message);
}

int bm_config_load_file(bm_config *c, const char *path, char *err, size_t errlen)
{
    yaml_document_t doc;
    if (bm_yaml_load(&doc, path, NULL, 0, err, errlen)) return -1;
    bm_walk w = bm_walk_of_doc(&doc, path, c->warn, c->warn_arg, err, errlen);
    w.keys = bm_config_keys(&w.n_keys);
    w.base[BM_BASE_CONFIG] = c;
    w.base[BM_BASE_ALERTING] = c->alerting; /* `alerts:` is read whole, then swapped in */
    w.max_settings = w.n_keys;
    if (!(w.settings = calloc(w.max_settings, sizeof *w.settings))) {
        yaml_document_delete(&doc);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || bm_yaml_is_null(root)) {
        /* an empty file: defaults */
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = bm_walk_fail(&w, root,
                          "the top level must be a mapping of sections (redis:, streams:, ...)");
    } else {
        rc = bm_walk_mapping(&w, root, "", "");
    }
    yaml_document_delete(&doc);
    free(w.settings);
    if (rc == 0 && bm_config_set_str(&c->config_file, path)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return rc;
}

/* ---- after every source ---------------------------------------------------- */

/* The stream a Redis stream sink of `sinks` writes that is `name` (with `hashes`, or the
 * key a Redis hash sink writes), its sink's name in *sink. @return the key, or NULL. */
static const char *sink_writing(const bm_alerting_sink_config *sinks, size_t n, const char *name,
                                int hashes, const char **sink)
{
    for (size_t i = 0; i < n; i++) {
        const char *type = NULL, *stream = NULL, *key = NULL;
        *sink = "?";
        for (size_t k = 0; k < sinks[i].n_kv; k++) {
            const bm_sink_kv *kv = &sinks[i].kv[k];
            if (!strcmp(kv->key, "type")) type = kv->value;
            if (!strcmp(kv->key, "stream")) stream = kv->value;
            if (!strcmp(kv->key, "key")) key = kv->value;
            if (!strcmp(kv->key, "name")) *sink = kv->value;
        }
        if (type && !strcmp(type, "redis_stream") && stream && !strcmp(stream, name)) return stream;
        if (hashes && type && !strcmp(type, "redis_hash") && key && !strcmp(key, name)) return key;
    }
    return NULL;
}

/* The keys of the built-in outputs (NULL: not written, alerting off), in *out.
 * @return how many. */
typedef struct {
    const char *key, *name;
} own_output;

static size_t own_outputs(const bm_config *c, own_output out[7])
{
    const bm_alerting_config *al = c->alerting;
    const own_output own[] = {{"outputs.deadletter", c->deadletter_stream},
                              {"outputs.rollups", c->rollups_stream},
                              {"outputs.health", c->health_stream},
                              {"outputs.system", c->system_stream},
                              {"alerts.stream", al->rules.enabled ? al->stream : NULL},
                              {"outputs.workers", c->workers_hash},
                              {"alerts.firing", al->rules.enabled ? al->firing_hash : NULL}};
    memcpy(out, own, sizeof own);
    return sizeof own / sizeof *own;
}

#define OWN_STREAMS 5 /* the first ones of own_outputs are streams */

/* Who writes `name`: one of own[from, to) (its key), else a Redis sink (its streams;
 * with `hashes` its hash keys too) as "the sink 'x'" in as. @return it, or NULL. */
static const char *writer_of(const bm_config *c, const own_output *own, size_t from, size_t to,
                             const char *name, int hashes, char *as, size_t aslen)
{
    const bm_alerting_config *al = c->alerting;
    const char *sink;
    for (size_t j = from; j < to; j++)
        if (own[j].name && !strcmp(own[j].name, name)) return own[j].key;
    if ((al->rules.enabled && sink_writing(al->sinks, al->n_sinks, name, hashes, &sink)) ||
        sink_writing(al->output_sinks, al->n_output_sinks, name, hashes, &sink)) {
        snprintf(as, aslen, "the sink '%.100s'", sink);
        return as;
    }
    return NULL;
}

/* An input stream busmon writes itself: read back, each entry it wrote is no event, so
 * it is dead-lettered, written again, read again, for ever. @return 0, or -1 with err. */
static int refuse_own_output(const bm_config *c, char *err, size_t errlen)
{
    own_output own[7];
    own_outputs(c, own);
    for (size_t i = 0; i < c->n_streams; i++) {
        const char *s = c->streams[i];
        char as[160];
        const char *why = writer_of(c, own, 0, OWN_STREAMS, s, 0, as, sizeof as);
        if (!why) continue;
        snprintf(err, errlen,
                 "streams.names: busmon writes '%.200s' itself (%s): read back, each entry it "
                 "wrote would be dead-lettered and written again, for ever",
                 s, why);
        return -1;
    }
    return 0;
}

/*
 * One key, one output: a stream and a hash on one key fight (Redis refuses
 * one of them, for ever), and two streams mix their entries (busmon's
 * readers would take a health transition for a rollup). The built-in
 * outputs' keys differ, and no sink writes one of them. Sinks of one's own
 * may share a key of their own (one stream of several topics). @return 0,
 * or -1 with err.
 */
static int refuse_shared_output(const bm_config *c, char *err, size_t errlen)
{
    own_output own[7];
    const size_t n_own = own_outputs(c, own);
    for (size_t i = 0; i < n_own; i++) {
        const char *name = own[i].name;
        char as[160];
        const char *other = name ? writer_of(c, own, i + 1, n_own, name, 1, as, sizeof as) : NULL;
        if (!other) continue;
        snprintf(err, errlen,
                 "%s and %s both write '%.200s': one key holds one output (a stream and a hash "
                 "on one key: Redis refuses one of them; two streams: their entries mix); "
                 "name them apart",
                 own[i].key, other, name);
        return -1;
    }
    return 0;
}

/* In a cluster the agent reads its hand-off stream too, one of the
 * BM_MAX_STREAMS: refused here, not at start after --check-config said yes. */
static int refuse_no_room_for_handoff(const bm_config *c, char *err, size_t errlen)
{
    if (!c->cluster_enabled || c->n_streams < BM_MAX_STREAMS) return 0;
    char handoff[512];
    snprintf(handoff, sizeof handoff, "%s%s", c->cluster_handoff_prefix, c->consumer);
    for (size_t i = 0; i < c->n_streams; i++)
        if (!strcmp(c->streams[i], handoff)) return 0;
    snprintf(err, errlen,
             "%zu streams and cluster.enabled: the agent also reads its hand-off stream "
             "'%.200s', and reads at most %d; name at most %d streams (or set cluster.enabled: "
             "false)",
             c->n_streams, handoff, BM_MAX_STREAMS, BM_MAX_STREAMS - 1);
    return -1;
}

/* A key of this group's own when its setting is not given (README "Several
 * agents, one monitor"): the row's base for the default group, as it always
 * was, base:<group> for another, then its tail (":" for a prefix), so that
 * independent monitors (other groups) on one Redis share no lease, registry,
 * checkpoint, hand-off stream, baseline requests or outputs (rollups,
 * workers, health, system, dead letters, traces and their index, alerts: the
 * alerts' channel and firing hash follow their stream in
 * bm_alerting_config_finish). The rows: core/group_keys.c, which the CLI and
 * the pub/sub input read too. @return 0, or -1 (no memory). */
static int group_key(bm_config *c, const bm_group_key *gk)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n), *k = bm_config_key_find(gk->setting),
                        *set = NULL; /* its internal row, whether it was given */
    for (size_t i = 0; k && k->also_sets && !set && i < n; i++)
        if (!strcmp(keys[i].path, k->also_sets)) set = &keys[i];
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = c, [BM_BASE_ALERTING] = c->alerting};
    if (!k || !set || !base[k->base] || !base[set->base]) return -1; /* a row renamed */
    if (*(int *)((char *)base[set->base] + set->offset)) return 0;   /* given: as given */
    char **field = (char **)((char *)base[k->base] + k->offset);
    int len = bm_group_key_name(gk, c->group, NULL, 0);
    char *key = len < 0 ? NULL : malloc((size_t)len + 1);
    if (!key) return -1;
    bm_group_key_name(gk, c->group, key, (size_t)len + 1);
    free(*field);
    *field = key;
    return 0;
}

static int group_keys(bm_config *c)
{
    size_t n;
    const bm_group_key *gk = bm_group_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (group_key(c, &gk[i])) return -1;
    return 0;
}

int bm_config_finish(bm_config *c, char *err, size_t errlen)
{
    char why[512];
    if (bm_group_name_check(c->group, "streams.group", why, sizeof why)) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (group_keys(c)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->n_streams == 0 && bm_config_add_stream(c, BM_STREAM_DEFAULT, err, errlen)) return -1;
    if (refuse_no_room_for_handoff(c, err, errlen)) return -1;
    if (refuse_own_output(c, err, errlen)) return -1;
    if (c->pubsub_enabled && c->n_pubsub_patterns == 0) {
        /* "<prefix>*", the prefix's glob characters escaped: "shop[eu]:" must
         * not match "shope:..." and miss "shop[eu]:..." */
        const char *p = c->channel_prefix;
        char *def = malloc(2 * strlen(p) + 2), *at = def;
        if (!def) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (; *p; *at++ = *p++)
            if (strchr("*?[]\\", *p)) *at++ = '\\';
        strcpy(at, "*");
        int rc = bm_config_add_pattern(c, def, err, errlen);
        free(def);
        if (rc) return -1;
    }
    /* the guides' export_port moves HTTP (and /metrics with it) when http.listen is
     * the default address; an http.listen of its own wins */
    if (c->metrics_export_port > 0 && c->http_listen && !strcmp(c->http_listen, "127.0.0.1:9464")) {
        char listen[32];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", c->metrics_export_port);
        if (bm_config_set_str(&c->http_listen, listen)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (bm_alerting_config_finish(c->alerting)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return refuse_shared_output(c, err, errlen);
}

int bm_config_get(const bm_config *c, const char *path, char *buf, size_t len)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n), *k = bm_keys_find(keys, n, path);
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = (void *)c,
                                  [BM_BASE_ALERTING] = c->alerting,
                                  [BM_BASE_RULES] = c->alerting ? &c->alerting->rules : NULL};
    return k ? bm_keys_format(keys, n, k, base, buf, len) : -1;
}

/* Is `host` ("127.0.0.1", "::1", "localhost") a loopback address? */
static int is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(host, "localhost")) return 1;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int bm_config_http_exposed(const bm_config *c, char *buf, size_t len)
{
    if (!c->http_enabled || !c->http_listen || (c->http_token_file && *c->http_token_file))
        return 0;
    char host[256];
    const char *colon = strrchr(c->http_listen, ':');
    size_t n = colon ? (size_t)(colon - c->http_listen) : strlen(c->http_listen);
    const char *h = c->http_listen;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') h++, n -= 2;
    snprintf(host, sizeof host, "%.*s", (int)(n < sizeof host ? n : sizeof host - 1), h);
    if (is_loopback(host)) return 0;
    /* no "token: " in it: the logger's redaction would take what follows for the token */
    snprintf(buf, len,
             "HTTP listens on %s, beyond this host, without a token, so /metrics and /api are "
             "open to the network; set http.token_file (a bearer token) or listen on 127.0.0.1",
             c->http_listen);
    return 1;
}

void bm_config_print_summary(FILE *f, const bm_config *c, const char *redis_display,
                             int redis_checked)
{
    fprintf(f, "configuration ok: %s, %zu stream(s), group %s, consumer %s\n", redis_display,
            c->n_streams, c->group, c->consumer);
    char exposed[256], dur[32]; /* durations as written ("1h", not "3.6e+03 s") */
    if (c->http_enabled)
        fprintf(f, "http: %s, at most %d connection(s), headers within %s, %s\n", c->http_listen,
                c->http_max_connections,
                bm_format_duration_us((int64_t)c->http_header_timeout_ms * 1000, dur, sizeof dur),
                c->http_token_file ? "a bearer token required (http.token_file)" : "no token");
    if (bm_config_http_exposed(c, exposed, sizeof exposed)) fprintf(f, "warning: %s\n", exposed);
    fprintf(f, "metrics: %s\n",
            c->metrics_export && c->metrics_collection_enabled
                ? (c->http_enabled ? "/metrics served with HTTP" : "HTTP off: no /metrics")
                : "/metrics off (metrics_collection.export_prometheus or .enabled: false)");
    const bm_alert_config *ac = &c->alerting->rules;
    fprintf(f, "alerts: %s, %zu rule(s) every %s, %zu sink(s)\n",
            ac->enabled ? "enabled" : "disabled", ac->n_rules,
            bm_format_duration_us(ac->interval_us, dur, sizeof dur), c->alerting->n_sinks);
    /* the effective rules and sinks, one line each */
    for (size_t i = 0; i < ac->n_rules; i++) {
        const alert_rule *r = &ac->rules[i];
        char forb[32], cool[32], thr[32], metric[sizeof r->metric_name + 32];
        if (r->metric == ALERT_METRIC_CUSTOM) /* as written: metric:NAME and its stat */
            snprintf(metric, sizeof metric, "metric:%s %s", r->metric_name,
                     alerts_stat_name(r->stat));
        else
            snprintf(metric, sizeof metric, "%s", alerts_metric_name(r->metric));
        if (r->metric == ALERT_METRIC_HEALTH)
            snprintf(thr, sizeof thr, "%s",
                     r->threshold >= ALERT_HEALTH_FAILED     ? "failed"
                     : r->threshold >= ALERT_HEALTH_DEGRADED ? "degraded"
                                                             : "ok");
        else
            snprintf(thr, sizeof thr, "%g", r->threshold);
        fprintf(f, "  rule %s: %s%s%s%s %s %s, scope %s%s%s, for %s, %s, cooldown %s%s\n", r->name,
                metric, r->window >= 0 ? " over " : "", alerts_window_name(r->window), "",
                alerts_op_name(r->op), thr, alerts_scope_name(r->scope), r->target[0] ? ":" : "",
                r->target, bm_format_duration_us(r->for_us, forb, sizeof forb),
                bm_severity_name(r->severity),
                bm_format_duration_us(r->cooldown_us, cool, sizeof cool),
                r->enabled ? "" : " (disabled)");
    }
    for (size_t i = 0; i < c->alerting->n_sinks; i++) {
        const char *url = bm_alerting_sink_get(c->alerting, i, "url");
        const char *format = bm_alerting_sink_get(c->alerting, i, "format");
        const char *type = bm_alerting_sink_get(c->alerting, i, "type");
        char shown[512] = "";
        if (url) bm_redact(url, strlen(url), shown, sizeof shown); /* a webhook's secret path */
        fprintf(f, "  sink %s: %s%s%s%s%s\n", bm_alerting_sink_get(c->alerting, i, "name"),
                type ? type : "webhook", format ? " " : "", format ? format : "",
                url ? " " : "", shown);
    }
    fprintf(f, "%s\n",
            redis_checked ? "redis: checked (reachable; consumer groups exist or were created)"
                          : "redis: not checked (--offline)");
}
