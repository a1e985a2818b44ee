/*
 * config.c - defaults, YAML file (libyaml document API), environment.
 *
 * The file is read into a libyaml document and walked against a table of
 * known keys; each known key has a kind (string, size, duration, list) and a
 * setter. Sections that later features read (worker_monitoring, alerts, ...)
 * are accepted without warnings; anything else unknown is warned about.
 */
#include "agent/config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "agent/config/alerting.h"
#include "agent/core/log.h"

int bm_config_set_str(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy) return -1;
    free(*field);
    *field = copy;
    return 0;
}

int bm_config_init(bm_config *c)
{
    memset(c, 0, sizeof *c);
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char consumer[160];
    snprintf(consumer, sizeof consumer, "busmon-%s", host);
    c->batch = 1000;
    c->block_ms = 1000;
    c->trace_retention_s = 24 * 3600;
    c->max_transactions = 100000;
    c->max_events_per_trace = 512;
    c->max_entry_bytes = 1024 * 1024;
    c->deadletter_maxlen = 100000;
    c->log_level = 1; /* info */
    c->log_json_format = -1;
    c->log_max_file_size_mb = 10;
    c->log_backup_count = 5;
    c->error_rate_threshold = 0.1;
    c->failure_rate_threshold = 0.5;
    c->slow_threshold_ms = 5000;
    c->health_interval_ms = 30000;
    c->perf_window_s = 3600;
    c->min_executions = 5;
    c->max_workers = 1000;
    c->max_error_types = 200;
    c->rollup_interval_ms = 10000;
    c->rollups_maxlen = 360;
    c->max_timeouts = 100000;
    c->alerting = malloc(sizeof *c->alerting);
    if (!c->alerting || bm_alerting_config_init(c->alerting)) {
        free(c->alerting);
        c->alerting = NULL;
        return -1;
    }
    c->http_enabled = 1;
    c->ready_max_lag = 100000;
    c->system_interval_ms = 10000;
    c->system_history_s = 24 * 3600;
    c->system_maxlen = 8640;
    if (bm_config_set_str(&c->group, "busmon") || bm_config_set_str(&c->consumer, consumer) ||
        bm_config_set_str(&c->trace_prefix, "busmon:trace:") ||
        bm_config_set_str(&c->deadletter_stream, "busmon:deadletter") ||
        bm_config_set_str(&c->rollups_stream, "busmon:rollups") ||
        bm_config_set_str(&c->workers_hash, "busmon:workers") ||
        bm_config_set_str(&c->health_stream, "busmon:health") ||
        bm_config_set_str(&c->http_listen, "127.0.0.1:9464") ||
        bm_config_set_str(&c->system_stream, "busmon:system") ||
        bm_config_set_str(&c->channel_prefix, "multiagent:") ||
        bm_config_set_str(&c->channel_separator, ".") ||
        bm_config_set_str(&c->channel_words[0], "command") ||
        bm_config_set_str(&c->channel_words[1], "result") ||
        bm_config_set_str(&c->channel_words[2], "error") ||
        bm_config_set_str(&c->channel_words[3], "status") ||
        bm_config_set_str(&c->channel_words[4], "compensation"))
        return -1;
    return 0;
}

void bm_config_deinit(bm_config *c)
{
    free(c->redis_url);
    for (size_t i = 0; i < c->n_streams; i++)
        free(c->streams[i]);
    free(c->group);
    free(c->consumer);
    free(c->trace_prefix);
    free(c->deadletter_stream);
    free(c->summary_file);
    free(c->log_file_path);
    free(c->rollups_stream);
    free(c->workers_hash);
    free(c->health_stream);
    free(c->http_listen);
    free(c->system_data_path);
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

int bm_parse_size(const char *s, size_t *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    if (*end) return -1;
    if (v > (unsigned long long)SIZE_MAX / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int bm_parse_duration_s(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mul = 1;
    if (!strcmp(end, "ms"))
        mul = 0.001;
    else if (!strcmp(end, "s") || !*end)
        mul = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else
        return -1;
    double r = v * mul;
    if (r > 1e12) return -1;
    *out = (int64_t)(r + 0.5);
    return 0;
}

static int valid_key_name(const char *name)
{
    if (!*name || strlen(name) > 256) return 0;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p <= ' ') return 0;
    return 1;
}

int bm_config_add_stream(bm_config *c, const char *name, char *err, size_t errlen)
{
    if (!valid_key_name(name)) {
        snprintf(err, errlen, "bad stream name '%s': 1-256 characters, no spaces", name);
        return -1;
    }
    for (size_t i = 0; i < c->n_streams; i++)
        if (!strcmp(c->streams[i], name)) return 0;
    if (c->n_streams == BM_MAX_STREAMS) {
        snprintf(err, errlen, "too many streams (at most %d)", BM_MAX_STREAMS);
        return -1;
    }
    c->streams[c->n_streams] = strdup(name);
    if (!c->streams[c->n_streams]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->n_streams++;
    return 0;
}

int bm_config_add_pattern(bm_config *c, const char *pattern, char *err, size_t errlen)
{
    if (!valid_key_name(pattern)) {
        snprintf(err, errlen, "bad pub/sub pattern '%.200s' (no spaces, 1-256 bytes)", pattern);
        return -1;
    }
    for (size_t i = 0; i < c->n_pubsub_patterns; i++)
        if (!strcmp(c->pubsub_patterns[i], pattern)) return 0;
    if (c->n_pubsub_patterns >= BM_MAX_STREAMS) {
        snprintf(err, errlen, "too many pub/sub patterns (at most %d)", BM_MAX_STREAMS);
        return -1;
    }
    c->pubsub_patterns[c->n_pubsub_patterns] = strdup(pattern);
    if (!c->pubsub_patterns[c->n_pubsub_patterns]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->n_pubsub_patterns++;
    c->pubsub_enabled = 1;
    return 0;
}

int bm_config_set_streams_csv(bm_config *c, const char *csv, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n_streams; i++)
        free(c->streams[i]);
    c->n_streams = 0;
    char buf[4096];
    if (strlen(csv) >= sizeof buf) {
        snprintf(err, errlen, "stream list too long");
        return -1;
    }
    strcpy(buf, csv);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (bm_config_add_stream(c, tok, err, errlen)) return -1;
    return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

typedef enum {
    K_STR,
    K_SIZE,
    K_DURATION_S,
    K_HOURS,
    K_INT,
    K_STREAMS,
    K_LOGLEVEL,
    K_RATE,     /* a fraction 0..1 (double) */
    K_MB,       /* megabytes, fractions allowed, 0 = none (double) */
    K_COUNT,    /* a count 0-1000 (size_t) */
    K_MS,       /* a number of milliseconds (int64) */
    K_S_AS_MS,  /* a number of seconds, stored in ms (int64) */
    K_MIN_AS_S, /* a number of minutes, stored in s (int64) */
    K_BOOL,     /* true/false/yes/no/on/off/1/0 (int) */
    K_PATTERNS, /* pub/sub patterns: a list, or one comma-separated string */
} key_kind;

typedef struct {
    const char *path; /* dotted */
    key_kind kind;
    size_t offset; /* into bm_config */
} known_key;

#define OFF(f) offsetof(bm_config, f)
static const known_key known_keys[] = {
    {"redis.url", K_STR, OFF(redis_url)},
    {"streams", K_STREAMS, 0},
    {"streams.names", K_STREAMS, 0},
    {"streams.group", K_STR, OFF(group)},
    {"streams.consumer", K_STR, OFF(consumer)},
    {"streams.batch", K_SIZE, OFF(batch)},
    {"streams.block_ms", K_INT, OFF(block_ms)},
    {"streams.max_entry_bytes", K_SIZE, OFF(max_entry_bytes)},
    {"traces.retention", K_DURATION_S, OFF(trace_retention_s)},
    {"traces.retention_hours", K_HOURS, OFF(trace_retention_s)},
    {"traces.max_transactions", K_SIZE, OFF(max_transactions)},
    {"traces.max_events", K_SIZE, OFF(max_events_per_trace)},
    {"event_monitoring.trace_retention_hours", K_HOURS, OFF(trace_retention_s)},
    {"event_monitoring.max_trace_history", K_SIZE, OFF(max_transactions)},
    {"outputs.trace_prefix", K_STR, OFF(trace_prefix)},
    {"outputs.deadletter", K_STR, OFF(deadletter_stream)},
    {"outputs.deadletter_maxlen", K_SIZE, OFF(deadletter_maxlen)},
    {"logging.level", K_LOGLEVEL, OFF(log_level)},
    {"logging.json_format", K_BOOL, OFF(log_json_format)},
    {"logging.file_path", K_STR, OFF(log_file_path)},
    {"logging.max_file_size_mb", K_MB, OFF(log_max_file_size_mb)},
    {"logging.max_size_mb", K_MB, OFF(log_max_file_size_mb)},
    {"logging.backup_count", K_COUNT, OFF(log_backup_count)},
    {"worker_monitoring.error_rate_threshold", K_RATE, OFF(error_rate_threshold)},
    {"worker_monitoring.failure_rate_threshold", K_RATE, OFF(failure_rate_threshold)},
    {"worker_monitoring.slow_execution_threshold_ms", K_MS, OFF(slow_threshold_ms)},
    {"worker_monitoring.health_check_interval_seconds", K_S_AS_MS, OFF(health_interval_ms)},
    {"worker_monitoring.performance_window_minutes", K_MIN_AS_S, OFF(perf_window_s)},
    {"worker_monitoring.min_executions", K_SIZE, OFF(min_executions)},
    {"worker_monitoring.max_workers", K_SIZE, OFF(max_workers)},
    {"event_monitoring.max_error_types", K_SIZE, OFF(max_error_types)},
    {"outputs.rollup_interval_seconds", K_S_AS_MS, OFF(rollup_interval_ms)},
    {"outputs.rollups", K_STR, OFF(rollups_stream)},
    {"outputs.rollups_maxlen", K_SIZE, OFF(rollups_maxlen)},
    {"outputs.workers", K_STR, OFF(workers_hash)},
    {"outputs.health", K_STR, OFF(health_stream)},
    {"pubsub.enabled", K_BOOL, OFF(pubsub_enabled)},
    {"pubsub.patterns", K_PATTERNS, 0},
    {"pubsub.prefix", K_STR, OFF(channel_prefix)},
    {"pubsub.separator", K_STR, OFF(channel_separator)},
    {"pubsub.channels.command", K_STR, OFF(channel_words[0])},
    {"pubsub.channels.result", K_STR, OFF(channel_words[1])},
    {"pubsub.channels.error", K_STR, OFF(channel_words[2])},
    {"pubsub.channels.status", K_STR, OFF(channel_words[3])},
    {"pubsub.channels.compensation", K_STR, OFF(channel_words[4])},
    {"pubsub.max_timeouts", K_SIZE, OFF(max_timeouts)},
    {"http.enabled", K_BOOL, OFF(http_enabled)},
    {"http.listen", K_STR, OFF(http_listen)},
    {"http.ready_max_lag", K_INT, OFF(ready_max_lag)},
    {"system.interval_seconds", K_S_AS_MS, OFF(system_interval_ms)},
    {"metrics_collection.collection_interval_seconds", K_S_AS_MS, OFF(system_interval_ms)},
    {"metrics.collection_interval_seconds", K_S_AS_MS, OFF(system_interval_ms)},
    {"system.history_hours", K_HOURS, OFF(system_history_s)},
    {"metrics_collection.retention_hours", K_HOURS, OFF(system_history_s)},
    {"metrics.retention_hours", K_HOURS, OFF(system_history_s)},
    {"system.data_path", K_STR, OFF(system_data_path)},
    {"outputs.system", K_STR, OFF(system_stream)},
    {"outputs.system_maxlen", K_SIZE, OFF(system_maxlen)},
};

/* Sections read by features that come later, or keys of the Python monitors'
 * files busmon accepts as they are: no warning for what is under them. */
static const char *const quiet_prefixes[] = {
    "event_monitoring.",
    "worker_monitoring.",
    "metrics_collection.",
    "metrics.",
    "alerts.",
    "http.",
    "logging.",
    "outputs.",
    "system.",
    "health.",
};

static int is_quiet(const char *path)
{
    for (size_t i = 0; i < sizeof quiet_prefixes / sizeof *quiet_prefixes; i++)
        if (!strncmp(path, quiet_prefixes[i], strlen(quiet_prefixes[i]))) return 1;
    return 0;
}

typedef struct {
    bm_config *c;
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
} walk_ctx;

static int fail_at(walk_ctx *w, yaml_node_t *n, const char *fmt, const char *a, const char *b)
{
    char what[2048];
    snprintf(what, sizeof what, fmt, a, b);
    snprintf(w->err, w->errlen, "%s:%zu: %s", w->file, n ? n->start_mark.line + 1 : 0, what);
    return -1;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int set_known(walk_ctx *w, const known_key *k, const char *path, yaml_node_t *n)
{
    char *base = (char *)w->c;
    if (k->kind == K_STREAMS) {
        for (size_t i = 0; i < w->c->n_streams; i++)
            free(w->c->streams[i]);
        w->c->n_streams = 0;
        if (n->type == YAML_SCALAR_NODE)
            return bm_config_set_streams_csv(w->c, scalar(n), w->err, w->errlen)
                       ? fail_at(w, n, "%s%s", w->err, "")
                       : 0;
        if (n->type != YAML_SEQUENCE_NODE)
            return fail_at(w, n, "'%s' must be a list of stream names%s", path, "");
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            const char *s = scalar(yaml_document_get_node(w->doc, *it));
            if (!s) return fail_at(w, n, "'%s' must be a list of stream names%s", path, "");
            char e[300];
            if (bm_config_add_stream(w->c, s, e, sizeof e)) return fail_at(w, n, "%s%s", e, "");
        }
        return 0;
    }
    if (k->kind == K_PATTERNS) {
        int enabled = w->c->pubsub_enabled;
        char e[300];
        if (n->type == YAML_SCALAR_NODE) {
            char buf[4096];
            snprintf(buf, sizeof buf, "%s", scalar(n));
            char *save = NULL;
            for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
                if (bm_config_add_pattern(w->c, tok, e, sizeof e))
                    return fail_at(w, n, "%s%s", e, "");
        } else if (n->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = n->data.sequence.items.start;
                 it < n->data.sequence.items.top; it++) {
                const char *s = scalar(yaml_document_get_node(w->doc, *it));
                if (!s) return fail_at(w, n, "'%s' must be a list of channel patterns%s", path, "");
                if (bm_config_add_pattern(w->c, s, e, sizeof e))
                    return fail_at(w, n, "%s%s", e, "");
            }
        } else {
            return fail_at(w, n, "'%s' must be a list of channel patterns%s", path, "");
        }
        w->c->pubsub_enabled = enabled; /* patterns alone do not turn the input on */
        return 0;
    }
    const char *s = scalar(n);
    if (!s)
        return fail_at(w, n, "'%s' must be a single value, not a %s", path,
                       n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    switch (k->kind) {
    case K_STR:
        if (!*s) return fail_at(w, n, "'%s' must not be empty%s", path, "");
        if (bm_config_set_str((char **)(base + k->offset), s))
            return fail_at(w, n, "out of memory%s%s", "", "");
        return 0;
    case K_SIZE: {
        size_t v;
        if (bm_parse_size(s, &v) || v == 0)
            return fail_at(w, n, "'%s' must be a positive number, not '%s'", path, s);
        *(size_t *)(base + k->offset) = v;
        return 0;
    }
    case K_INT: {
        size_t v;
        if (bm_parse_size(s, &v) || v > 3600000)
            return fail_at(w, n, "'%s' must be a number 0-3600000, not '%s'", path, s);
        *(int *)(base + k->offset) = (int)v;
        return 0;
    }
    case K_DURATION_S: {
        int64_t v;
        if (bm_parse_duration_s(s, &v) || v <= 0)
            return fail_at(w, n, "'%s' must be a duration like 30s, 15m, 24h, not '%s'", path, s);
        *(int64_t *)(base + k->offset) = v;
        return 0;
    }
    case K_HOURS: {
        char *end;
        double h = strtod(s, &end);
        if (end == s || *end || h <= 0 || h > 24 * 365 * 10)
            return fail_at(w, n, "'%s' must be a positive number of hours, not '%s'", path, s);
        *(int64_t *)(base + k->offset) = (int64_t)(h * 3600 + 0.5);
        return 0;
    }
    case K_MB: {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || !(v >= 0) || v > 1e6)
            return fail_at(w, n, "'%s' must be a number of megabytes (0.5, 10; 0: no limit), not '%s'",
                           path, s);
        *(double *)(base + k->offset) = v;
        return 0;
    }
    case K_COUNT: {
        size_t v;
        if (bm_parse_size(s, &v) || v > 1000)
            return fail_at(w, n, "'%s' must be a number 0-1000, not '%s'", path, s);
        *(size_t *)(base + k->offset) = v;
        return 0;
    }
    case K_RATE: {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || v < 0 || v > 1)
            return fail_at(w, n, "'%s' must be a fraction 0-1 (0.1 = 10 %%), not '%s'", path, s);
        *(double *)(base + k->offset) = v;
        return 0;
    }
    case K_MS:
    case K_S_AS_MS:
    case K_MIN_AS_S: {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || v <= 0 || v > 1e9)
            return fail_at(w, n, "'%s' must be a positive number, not '%s'", path, s);
        double mul = k->kind == K_S_AS_MS ? 1000.0 : k->kind == K_MIN_AS_S ? 60.0 : 1.0;
        *(int64_t *)(base + k->offset) = (int64_t)(v * mul + 0.5);
        return 0;
    }
    case K_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                    "off", "0"};
        for (size_t i = 0; i < 4; i++) {
            if (!strcasecmp(s, yes[i])) return *(int *)(base + k->offset) = 1, 0;
            if (!strcasecmp(s, no[i])) return *(int *)(base + k->offset) = 0, 0;
        }
        return fail_at(w, n, "'%s' must be true or false, not '%s'", path, s);
    }
    case K_LOGLEVEL: {
        bm_log_level lv;
        if (bm_log_level_parse(s, &lv))
            return fail_at(w, n, "'%s' must be debug, info, warn or error, not '%s'", path, s);
        *(int *)(base + k->offset) = (int)lv;
        return 0;
    }
    default:
        return 0;
    }
}

static void alerts_warn(const char *message, void *arg)
{
    (void)arg;
    bm_warn("config %s", message);
}

static int walk(walk_ctx *w, yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *key = scalar(kn);
        if (!key || !vn) return fail_at(w, kn, "keys must be plain names%s%s", "", "");
        if (!*prefix && !strcmp(key, "alerts")) { /* rules and sinks: alerting_config.c */
            if (bm_alerting_config_parse(w->c->alerting, w->doc, vn, w->file, w->err, w->errlen,
                                         alerts_warn, NULL))
                return -1;
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const known_key *k = NULL;
        for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys; i++)
            if (!strcmp(known_keys[i].path, path)) k = &known_keys[i];
        if (k && !(k->kind == K_STREAMS && vn->type == YAML_MAPPING_NODE)) {
            if (set_known(w, k, path, vn)) return -1;
        } else if (vn->type == YAML_MAPPING_NODE) {
            if (walk(w, vn, path)) return -1;
        } else if (vn->type == YAML_SCALAR_NODE && !*scalar(vn) && !*prefix) {
            /* an empty top-level section ("alerts:") is fine */
        } else if (!is_quiet(path)) {
            bm_warn("config %s:%zu: unknown key '%s' (ignored)", w->file, kn->start_mark.line + 1,
                    path);
        }
    }
    return 0;
}

int bm_config_load_file(bm_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: invalid YAML: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    walk_ctx w = {c, &doc, path, err, errlen};
    if (!root) {
        /* an empty file: defaults */
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = fail_at(&w, root,
                     "the top level must be a mapping of sections (redis:, streams:, ...)%s%s", "",
                     "");
    } else {
        rc = walk(&w, root, "");
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc == 0 && bm_config_set_str(&c->config_file, path)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return rc;
}

int bm_config_load_env(bm_config *c, char *err, size_t errlen)
{
    const char *v;
    if ((v = getenv("BUSMON_REDIS_URL")) && *v && bm_config_set_str(&c->redis_url, v)) goto nomem;
    if ((v = getenv("BUSMON_STREAMS")) && *v && bm_config_set_streams_csv(c, v, err, errlen))
        return -1;
    if ((v = getenv("BUSMON_GROUP")) && *v && bm_config_set_str(&c->group, v)) goto nomem;
    if ((v = getenv("BUSMON_CONSUMER")) && *v && bm_config_set_str(&c->consumer, v)) goto nomem;
    if ((v = getenv("BUSMON_PSUBSCRIBE")) && *v) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", v);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
            if (bm_config_add_pattern(c, tok, err, errlen)) return -1;
    }
    if ((v = getenv("BUSMON_LOG_LEVEL")) && *v) {
        bm_log_level lv;
        if (bm_log_level_parse(v, &lv)) {
            snprintf(err, errlen, "BUSMON_LOG_LEVEL must be debug, info, warn or error, not '%s'",
                     v);
            return -1;
        }
        c->log_level = (int)lv;
    }
    /* BUSMON_HTTP: host:port, or "off" (tests run several agents at once) */
    if ((v = getenv("BUSMON_HTTP")) && *v) {
        if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false"))
            c->http_enabled = 0;
        else if (bm_config_set_str(&c->http_listen, v))
            goto nomem;
        else
            c->http_enabled = 1;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}
