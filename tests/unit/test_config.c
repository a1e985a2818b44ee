/*
 * test_config.c - the key table (agent/config/keys.h) and every source it
 * drives: each key set from the config file, from its environment variable
 * (and its older short name) and from its flag gives the same value; a
 * value out of bounds is refused by every source with the same reason;
 * unknown keys are warned about with their line and a suggestion; the
 * monitoring guides' keys are accepted silently; deploy/busmon.yaml loads
 * with no warning, sets only keys of the table and shows every key of it
 * (set or commented; uncommented it loads too); --help names every flag;
 * precedence, actions, the finishing step, and the value parsers.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/config/keys.h"
#include "agent/core/group_keys.h"
#include "agent/core/parse.h"
#include "agent/outputs/sink.h"

extern char **environ;

/* ---- helpers ---------------------------------------------------------------- */

#define MAX_WARNINGS 16
static char warnings[MAX_WARNINGS][512];
static size_t n_warnings;
static char yaml_path[64];

static void collect(const char *message, void *arg)
{
    cr_assert_eq(arg, &n_warnings);
    if (n_warnings < MAX_WARNINGS)
        snprintf(warnings[n_warnings], sizeof warnings[0], "%s", message);
    n_warnings++;
}

/* Every BUSMON_* variable unset: the tests' own environment must not leak in. */
static void clear_env(void)
{
    char names[64][128];
    size_t n = 0;
    for (char **e = environ; *e && n < 64; e++)
        if (!strncmp(*e, "BUSMON_", 7)) {
            size_t len = strcspn(*e, "=");
            snprintf(names[n++], sizeof names[0], "%.*s", (int)len, *e);
        }
    for (size_t i = 0; i < n; i++)
        unsetenv(names[i]);
}

static void setup(void)
{
    clear_env();
    n_warnings = 0;
    snprintf(yaml_path, sizeof yaml_path, "/tmp/bm_test_config_%d.yaml", (int)getpid());
}

static void teardown(void)
{
    unlink(yaml_path);
}

TestSuite(config, .init = setup, .fini = teardown);

static void fresh(bm_config *c)
{
    cr_assert_eq(bm_config_init(c), 0);
    c->warn = collect;
    c->warn_arg = &n_warnings;
}

static void write_yaml(const char *text)
{
    FILE *f = fopen(yaml_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load YAML text over a fresh c. @return bm_config_load_file's. */
static int load(bm_config *c, const char *text, char *err, size_t errlen)
{
    fresh(c);
    write_yaml(text);
    return bm_config_load_file(c, yaml_path, err, errlen);
}

/* "a:\n  b:\n    c: \"v\"\n" for path a.b.c */
static void nested(const char *path, const char *value, char *out, size_t len)
{
    size_t at = 0, depth = 0;
    const char *p = path;
    while (*p) {
        size_t seg = strcspn(p, ".");
        int last = p[seg] == '\0';
        at += (size_t)snprintf(out + at, len - at, "%*s%.*s:%s", (int)(2 * depth), "", (int)seg, p,
                               last ? "" : "\n");
        if (last) at += (size_t)snprintf(out + at, len - at, " \"%s\"\n", value);
        p += seg + !last;
        depth++;
    }
}

/* bm_config_from_args over a fresh c with argv "busmon-agent" + the given words. */
static int from_args(bm_config *c, bm_config_action *action, char *err, size_t errlen, ...)
{
    char *argv[16] = {"busmon-agent"};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a; argc < 15 && (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    fresh(c);
    return bm_config_from_args(c, argc, argv, action, err, errlen);
}

static void value_of(const bm_config *c, const char *path, char *buf, size_t len)
{
    cr_assert_eq(bm_config_get(c, path, buf, len), 0, "no value for %s", path);
}

/* A row every source sets (a setting with a value, in the file, not an alias). */
static int is_setting(const bm_config_key *k)
{
    return !k->alias_of && !(k->flags & (BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL)) &&
           k->type != BM_KEY_YAML && k->type != BM_KEY_SECTION && k->type != BM_KEY_GUIDE &&
           k->type != BM_KEY_ACTION;
}

/* A good value of k other than its default. */
static const char *sample(const bm_config_key *k, const bm_config *c)
{
    char def[128];
    switch (k->type) {
    case BM_KEY_STRING: /* a row of words (baselines.slots): one of them */
        return k->valid && k->valid("none") ? "none" : "sample-text";
    case BM_KEY_NAME:
        return "sample:name";
    case BM_KEY_LISTEN:
        return "127.0.0.1:1234";
    case BM_KEY_SIZE:
    case BM_KEY_COUNT: {
        static char buf[32]; /* the lowest bound when 7 is below it */
        snprintf(buf, sizeof buf, "%lld", k->lo > 7 ? (long long)k->lo : 7LL);
        return buf;
    }
    case BM_KEY_BOOL:
        value_of(c, k->path, def, sizeof def);
        return strcmp(def, "true") ? "true" : "false";
    case BM_KEY_FRACTION:
        return "0.25";
    case BM_KEY_MEGABYTES:
        return "2.5";
    case BM_KEY_DURATION: /* within the key's bounds (hi in µs, 0: none) */
        return k->hi > 0 && k->hi < 90e6 ? "250ms" : "90s";
    case BM_KEY_LOGLEVEL:
        return "warn";
    case BM_KEY_STREAMS:
        return "s1";
    case BM_KEY_DURATIONS:
        return "1s,2s";
    case BM_KEY_PATTERNS:
        return "p1:*";
    default:
        return NULL;
    }
}

/* ---- one value, three sources ------------------------------------------------ */

Test(config, every_key_is_the_same_from_file_environment_and_flag)
{
    size_t n, checked = 0;
    const bm_config_key *keys = bm_config_keys(&n);
    char err[512], yaml[512], env[128];
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        if (!is_setting(k)) continue;
        bm_config c;
        fresh(&c);
        const char *v = sample(k, &c);
        cr_assert_not_null(v, "no sample for %s", k->path);
        char dflt[256], from_file[256], from_env[256], from_flag[256];
        value_of(&c, k->path, dflt, sizeof dflt);
        bm_config_deinit(&c);

        nested(k->path, v, yaml, sizeof yaml);
        cr_assert_eq(load(&c, yaml, err, sizeof err), 0, "%s: %s", k->path, err);
        value_of(&c, k->path, from_file, sizeof from_file);
        bm_config_deinit(&c);
        cr_expect_str_neq(from_file, dflt, "%s: the sample is the default", k->path);

        int has_env = !bm_config_key_env(k, env, sizeof env);
        cr_assert(has_env || (k->flags & BM_KEY_F_NO_ENV), "%s has no variable", k->path);
        const char *names[2] = {has_env ? env : NULL, k->env_alias};
        for (size_t j = 0; j < 2 && names[j]; j++) {
            setenv(names[j], v, 1);
            fresh(&c);
            cr_assert_eq(bm_config_load_env(&c, err, sizeof err), 0, "%s: %s", names[j], err);
            value_of(&c, k->path, from_env, sizeof from_env);
            bm_config_deinit(&c);
            unsetenv(names[j]);
            cr_expect_str_eq(from_env, from_file, "%s from %s", k->path, names[j]);
        }

        if (k->flag && k->metavar) {
            char flag[80];
            snprintf(flag, sizeof flag, "--%s", k->flag);
            bm_config_action action;
            cr_assert_eq(from_args(&c, &action, err, sizeof err, flag, v, NULL), 0, "%s: %s", flag,
                         err);
            value_of(&c, k->path, from_flag, sizeof from_flag);
            bm_config_deinit(&c);
            cr_expect_str_eq(from_flag, from_file, "%s from %s", k->path, flag);
        }
        checked++;
    }
    cr_assert_geq(checked, 50, "only %zu keys checked", checked);
}

/* The reason after the subject: "f.yaml:2: 'a.b' R", "BUSMON_A_B R", "--a R" -> "R". */
static const char *reason_after(const char *message, const char *subject)
{
    const char *at = strstr(message, subject);
    cr_assert_not_null(at, "'%s' does not name %s", message, subject);
    return at + strlen(subject);
}

/* A value of k outside its bounds, or NULL when k has none worth testing. */
static const char *out_of_bounds(const bm_config_key *k, char *buf, size_t len)
{
    switch (k->type) {
    case BM_KEY_SIZE:
    case BM_KEY_COUNT:
        if (k->hi > 0)
            snprintf(buf, len, "%.0f", k->hi + 1);
        else if (k->lo >= 1)
            snprintf(buf, len, "0");
        else
            return NULL;
        return buf;
    case BM_KEY_DURATION:
        if (k->lo > 0) return bm_format_duration_us((int64_t)(k->lo / 2), buf, len);
        return k->hi > 0 ? bm_format_duration_us((int64_t)(k->hi * 2), buf, len) : NULL;
    case BM_KEY_FRACTION:
        return "1.5";
    case BM_KEY_MEGABYTES:
        return "-1";
    default:
        return NULL;
    }
}

Test(config, bounds_are_refused_alike_by_every_source)
{
    size_t n, checked = 0;
    const bm_config_key *keys = bm_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        char buf[64], yaml[512], file_err[512], env_err[512], flag_err[512], env[128], subj[160];
        const char *bad = is_setting(k) ? out_of_bounds(k, buf, sizeof buf) : NULL;
        if (!bad) continue;
        bm_config c;
        nested(k->path, bad, yaml, sizeof yaml);
        cr_assert_eq(load(&c, yaml, file_err, sizeof file_err), -1, "%s: '%s' accepted", k->path,
                     bad);
        bm_config_deinit(&c);
        snprintf(subj, sizeof subj, "'%s'", k->path);
        const char *want = reason_after(file_err, subj);
        cr_expect(strstr(file_err, yaml_path) == file_err, "%s", file_err);

        if (bm_config_key_env(k, env, sizeof env)) continue;
        setenv(env, bad, 1);
        fresh(&c);
        cr_assert_eq(bm_config_load_env(&c, env_err, sizeof env_err), -1, "%s accepted", env);
        bm_config_deinit(&c);
        unsetenv(env);
        cr_expect_str_eq(reason_after(env_err, env), want, "%s", env);

        if (k->flag && k->metavar) {
            snprintf(subj, sizeof subj, "--%s", k->flag);
            bm_config_action action;
            cr_assert_eq(from_args(&c, &action, flag_err, sizeof flag_err, subj, bad, NULL), -1,
                         "%s %s accepted", subj, bad);
            bm_config_deinit(&c);
            cr_expect_str_eq(reason_after(flag_err, subj), want, "%s", subj);
        }
        checked++;
    }
    cr_assert_geq(checked, 25, "only %zu keys checked", checked);
}

Test(config, messages_keep_their_shapes)
{
    bm_config c;
    bm_config_action action;
    char err[512], want[512];
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--batch", "0", NULL), -1);
    cr_expect_str_eq(err, "--batch must be 1-100000, not '0'");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--alert-interval", "50ms", NULL), -1);
    cr_expect_str_eq(err, "--alert-interval must be a duration of at least 100ms (30s, 1m), not "
                          "'50ms'");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--system-interval", "99ms", NULL), -1);
    cr_expect_str_eq(err, "--system-interval must be a duration of at least 100ms (30s, 1m), not "
                          "'99ms'");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--rollup-interval", "2d", NULL), -1);
    cr_expect_str_eq(err, "--rollup-interval is longer than 1d ('2d')");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--health-interval", "soon", NULL), -1);
    cr_expect_str_eq(err, "--health-interval must be a duration like 30s, 5m, 1h or seconds, not "
                          "'soon'");
    bm_config_deinit(&c);

    cr_assert_eq(load(&c, "streams:\n  batch: lots\n", err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: 'streams.batch' must be a positive number, not 'lots'",
             yaml_path);
    cr_expect_str_eq(err, want);
    bm_config_deinit(&c);
    cr_assert_eq(load(&c, "pubsub:\n  enabled: maybe\n", err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: 'pubsub.enabled' must be true or false", yaml_path);
    cr_expect_str_eq(err, want);
    bm_config_deinit(&c);
    cr_assert_eq(load(&c, "streams:\n  group: {a: 1}\n", err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: 'streams.group' must be a single value, not 'a mapping'",
             yaml_path);
    cr_expect_str_eq(err, want);
    bm_config_deinit(&c);
    cr_assert_eq(load(&c, "streams:\n  batch: 1\n  batch: 2\n", err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: 'streams.batch' is given twice", yaml_path);
    cr_expect_str_eq(err, want);
    bm_config_deinit(&c);
    cr_assert_eq(load(&c, "redis: localhost\n", err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:1: 'redis' is a section (redis.KEY: value), not a value",
             yaml_path);
    cr_expect_str_eq(err, want);
    bm_config_deinit(&c);

    setenv("BUSMON_LOG_LEVEL", "loud", 1);
    fresh(&c);
    cr_assert_eq(bm_config_load_env(&c, err, sizeof err), -1);
    cr_expect_str_eq(err, "BUSMON_LOG_LEVEL must be debug, info, warn or error, not 'loud'");
    bm_config_deinit(&c);
}

/* ---- unknown keys and the guides' keys --------------------------------------------- */

Test(config, unknown_keys_are_warned_with_line_and_suggestion)
{
    bm_config c;
    char err[512];
    cr_assert_eq(load(&c,
                      "worker_monitoring:\n"
                      "  error_rate_treshold: 0.2\n"
                      "logging:\n"
                      "  levle: debug\n"
                      "http:\n"
                      "  lisen: 0.0.0.0:1\n"
                      "streams:\n"
                      "  block: 5\n"
                      "  retention_hours: 3\n"
                      "unknown_section:\n"
                      "  whatever: 1\n"
                      "alerts:\n"
                      "  intervall: 5s\n"
                      "  evaluation: 1\n"
                      "metrics:\n"
                      "  retention_hour: 1\n",
                      err, sizeof err),
                 0, "%s", err);
    static const char *const want[] = {
        "%s:2: unknown key 'worker_monitoring.error_rate_treshold' (ignored); did you mean "
        "'worker_monitoring.error_rate_threshold'?",
        "%s:4: unknown key 'logging.levle' (ignored); did you mean 'logging.level'?",
        "%s:6: unknown key 'http.lisen' (ignored); did you mean 'http.listen'?",
        "%s:8: unknown key 'streams.block' (ignored); did you mean 'streams.block_ms'?",
        "%s:9: unknown key 'streams.retention_hours' (ignored); did you mean "
        "'traces.retention_hours'?",
        "%s:11: unknown key 'unknown_section.whatever' (ignored)",
        "%s:13: unknown key 'alerts.intervall' (ignored); did you mean 'alerts.interval'?",
        "%s:14: unknown key 'alerts.evaluation' (ignored)",
        "%s:16: unknown key 'metrics.retention_hour' (ignored); did you mean "
        "'metrics_collection.retention_hours'?",
    };
    size_t n = sizeof want / sizeof *want;
    cr_assert_eq(n_warnings, n, "%zu warnings, first: %s", n_warnings, warnings[0]);
    for (size_t i = 0; i < n; i++) {
        char line[512];
        snprintf(line, sizeof line, want[i], yaml_path);
        cr_expect_str_eq(warnings[i], line);
    }
    /* known keys beside them were read */
    cr_expect_eq(c.alerting->rules.interval_us, 10000000);
    bm_config_deinit(&c);

    /* unknown keys inside a rule stay fatal, with the suggestion */
    cr_assert_eq(load(&c, "alerts:\n  rules:\n    - name: high_error_rate\n      treshold: 0.2\n",
                      err, sizeof err),
                 -1);
    cr_expect(strstr(err, ":4: rule 'high_error_rate': unknown key 'treshold' (known: name, "
                          "metric, scope, op, threshold,"),
              "%s", err);
    cr_expect(strstr(err, "); did you mean 'threshold'?"), "%s", err);
    bm_config_deinit(&c);
}

/* The lists of their own (rules, sinks, the guides' alerting:) suggest a close key too,
 * at the line of the rule's key, of the sink, of the guides' key. */
Test(config, unknown_keys_of_rules_sinks_and_guide_alerting_get_a_suggestion)
{
    bm_config c;
    char err[1024], want[512];
    static const struct {
        const char *yaml, *line, *suggestion;
    } fatal[] = {
        {"alerts:\n  rules:\n    - name: x\n      metric: error_rate\n      threshold: 1\n"
         "      comparater: \">\"\n",
         ":6: rule 'x': unknown key 'comparater' (known: ", "; did you mean 'comparator'?"},
        {"outputs:\n  sinks:\n    - name: copy\n      type: redis_stream\n      streem: s\n",
         ":3: outputs.sinks: sink 'copy': unknown key 'streem' (redis_stream takes ",
         "; did you mean 'stream'?"},
        {"alerts:\n  webhooks:\n    - url: http://127.0.0.1:1/\n      topic: alert\n",
         ":3: alerts.webhooks: sink 'generic': unknown key 'topic' (webhook takes ",
         "; did you mean 'topics'?"},
        {"alerting:\n  rules:\n    - name: g\n      conditon: error_rate > 0.1\n",
         ":4: alerting.rules #1: unknown key 'conditon' (known: name, condition, ",
         "; did you mean 'condition'?"},
    };
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        cr_assert_eq(load(&c, fatal[i].yaml, err, sizeof err), -1, "%s", fatal[i].yaml);
        snprintf(want, sizeof want, "%s%s", yaml_path, fatal[i].line);
        cr_expect(strstr(err, want) == err, "%s\nwanted: %s", err, want);
        size_t el = strlen(err), sl = strlen(fatal[i].suggestion);
        cr_expect(el > sl && !strcmp(err + el - sl, fatal[i].suggestion), "%s", err);
        bm_config_deinit(&c);
    }
    /* a key no sink takes and nothing close: no suggestion */
    cr_assert_eq(load(&c,
                      "outputs:\n  sinks:\n    - type: redis_hash\n      key: k\n"
                      "      zzzzzz: 1\n",
                      err, sizeof err),
                 -1);
    cr_expect(strstr(err, "unknown key 'zzzzzz'") && !strstr(err, "did you mean"), "%s", err);
    bm_config_deinit(&c);

    /* the guides' alerting: its sections and a channel's keys are warned about */
    cr_assert_eq(load(&c,
                      "alerting:\n  rule:\n    - name: g\n  channels:\n    - type: slack\n"
                      "      url: http://127.0.0.1:1/\n      webhok_url: http://127.0.0.1:2/\n",
                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n_warnings, 2, "%zu warnings: %s", n_warnings, warnings[0]);
    snprintf(want, sizeof want,
             "%s:2: unknown key 'alerting.rule' (ignored; alerting takes rules and channels); did "
             "you mean 'alerting.rules'?",
             yaml_path);
    cr_expect_str_eq(warnings[0], want);
    snprintf(want, sizeof want,
             "%s:7: alerting.channels: 'webhok_url' of channel 'slack' is not used", yaml_path);
    cr_expect(strstr(warnings[1], want) == warnings[1], "%s", warnings[1]);
    cr_expect(strstr(warnings[1], "; did you mean 'webhook_url'?"), "%s", warnings[1]);
    bm_config_deinit(&c);
}

/* The guides' monitoring.yaml, as the guides print it (written here, not copied). */
static const char guide_yaml[] = "# monitoring.yaml\n"
                                 "logging:\n"
                                 "  default_logger: \"composite\"\n"
                                 "  level: \"INFO\"\n"
                                 "  file_path: \"./logs/multiagents.log\"\n"
                                 "  max_file_size_mb: 100\n"
                                 "  backup_count: 5\n"
                                 "  json_format: true\n"
                                 "  include_caller_info: true\n"
                                 "\n"
                                 "event_monitoring:\n"
                                 "  enabled: true\n"
                                 "  trace_retention_hours: 24\n"
                                 "  cleanup_interval_minutes: 60\n"
                                 "  track_payload_size: true\n"
                                 "  detailed_timing: true\n"
                                 "  max_traces_per_transaction: 1000\n"
                                 "\n"
                                 "worker_monitoring:\n"
                                 "  enabled: true\n"
                                 "  health_check_interval_seconds: 30\n"
                                 "  performance_window_minutes: 60\n"
                                 "  alert_on_high_error_rate: true\n"
                                 "  error_rate_threshold: 0.1\n"
                                 "  slow_execution_threshold_ms: 5000\n"
                                 "  track_resource_usage: true\n"
                                 "\n"
                                 "metrics_collection:\n"
                                 "  enabled: true\n"
                                 "  collection_interval_seconds: 60\n"
                                 "  retention_hours: 168  # 7 days\n"
                                 "  include_system_metrics: true\n"
                                 "  custom_metrics_enabled: true\n"
                                 "  export_prometheus: true\n"
                                 "  export_port: 9090\n";

/* Every key of the guides' file is honoured, or warned about once with the
 * reason: exactly these four are not used. */
Test(config, the_guides_monitoring_yaml_is_honoured_or_warned_about_once)
{
    bm_config c;
    char err[512];
    cr_assert_eq(load(&c, guide_yaml, err, sizeof err), 0, "%s", err);
    static const char *const unused[] = {
        ":3: 'logging.default_logger: composite' is not used (ignored): busmon-agent has one",
        ":9: 'logging.include_caller_info: true' is not used (ignored): busmon's lines name",
        ":14: 'event_monitoring.cleanup_interval_minutes: 60' is not used (ignored): traces "
        "expire",
        ":15: 'event_monitoring.track_payload_size: true' is not used (ignored): payload sizes"};
    cr_assert_eq(n_warnings, 4, "%zu warnings: %s", n_warnings, warnings[0]);
    for (int i = 0; i < 4; i++)
        cr_expect(strstr(warnings[i], unused[i]), "%s", warnings[i]);
    cr_expect_eq(c.metrics_export, 1);
    cr_expect_eq(c.metrics_collection_enabled, 1);
    cr_expect_eq(c.metrics_export_port, 9090);
    cr_assert_eq(bm_config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.http_listen, "127.0.0.1:9090", "export_port moves HTTP");
    cr_expect_eq(c.log_level, 1);
    cr_expect_str_eq(c.log_file_path, "./logs/multiagents.log");
    cr_expect_float_eq(c.log_max_file_size_mb, 100, 1e-9);
    cr_expect_eq(c.log_json_format, 1);
    cr_expect_eq(c.trace_retention_s, 24 * 3600);
    cr_expect_eq(c.health_interval_ms, 30000);
    cr_expect_eq(c.perf_window_s, 3600);
    cr_expect_float_eq(c.error_rate_threshold, 0.1, 1e-9);
    cr_expect_eq(c.slow_threshold_ms, 5000);
    cr_expect_eq(c.system_interval_ms, 60000);
    cr_expect_eq(c.system_history_s, 168 * 3600);
    cr_expect_eq(c.max_events_per_trace, 1000, "max_traces_per_transaction is traces.max_events");
    bm_config_deinit(&c);

    /* the names the guides' code reads */
    n_warnings = 0;
    cr_assert_eq(load(&c,
                      "metrics:\n  collection_interval_seconds: 5\n  export_port: 1\n"
                      "logging:\n  max_size_mb: 0.5\n"
                      "event_monitoring:\n  max_trace_history: 42\n",
                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n_warnings, 0, "%s", warnings[0]);
    cr_expect_eq(c.system_interval_ms, 5000);
    cr_expect_float_eq(c.log_max_file_size_mb, 0.5, 1e-9);
    cr_expect_eq(c.max_transactions, 42);
    bm_config_deinit(&c);

    /* every guide key is a row that says why it is ignored */
    size_t n, guides = 0;
    const bm_config_key *keys = bm_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type != BM_KEY_GUIDE) continue;
        guides++;
        cr_expect(!strncmp(keys[i].help, "guide key, accepted and ignored: ", 33), "%s",
                  keys[i].path);
        cr_expect_gt(strlen(keys[i].help), 40, "%s: no reason", keys[i].path);
    }
    cr_expect_geq(guides, 10); /* the rest are read: aliases and rows of their own */
}

/* ---- deploy/busmon.yaml ------------------------------------------------------------ */

/*
 * The paths under `prefix` into out[0..max): with `leaves`, what the document
 * sets (scalars and lists; `alerts` taken whole), else every mapping key
 * (sections too; nothing inside lists).
 */
static void paths(yaml_document_t *doc, yaml_node_t *map, const char *prefix, int leaves,
                  char (*out)[128], size_t *n, size_t max)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "",
                 (const char *)kn->data.scalar.value);
        int descend = vn->type == YAML_MAPPING_NODE && !(leaves && !strcmp(path, "alerts"));
        if ((!leaves || !descend) && *n < max) snprintf(out[(*n)++], 128, "%s", path);
        if (descend) paths(doc, vn, path, leaves, out, n, max);
    }
}

/* YAML text into *doc (the caller yaml_document_delete's it). */
static void parse_doc(const char *text, yaml_document_t *doc)
{
    yaml_parser_t parser;
    cr_assert(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    cr_assert(yaml_parser_load(&parser, doc));
    yaml_parser_delete(&parser);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

Test(config, the_example_config_loads_clean_and_uses_only_table_keys)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/deploy/busmon.yaml", BM_SOURCE_DIR);
    bm_config c;
    fresh(&c);
    cr_assert_eq(bm_config_load_file(&c, path, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n_warnings, 0, "%s", warnings[0]);
    bm_config_deinit(&c);

    char *text = read_file(path);
    yaml_document_t doc;
    parse_doc(text, &doc);
    static char found[128][128];
    size_t n = 0;
    paths(&doc, yaml_document_get_root_node(&doc), "", 1, found, &n, 128);
    cr_expect_geq(n, 30);
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = bm_config_key_find(found[i]);
        cr_expect_not_null(k, "deploy/busmon.yaml sets %s, which is not in the table", found[i]);
        cr_expect(!k || k->type != BM_KEY_GUIDE, "%s is an ignored guide key", found[i]);
    }
    yaml_document_delete(&doc);

    /* the commented-out alerts example, uncommented, loads too */
    static char uncommented[65536];
    size_t at = 0;
    int in_alerts = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "# alerts:", 9)) in_alerts = 1;
        if (in_alerts && strncmp(line, "#", 1)) in_alerts = 0;
        if (in_alerts)
            at += (size_t)snprintf(uncommented + at, sizeof uncommented - at, "%s\n",
                                   line + (line[1] == ' ' ? 2 : 1));
    }
    cr_assert_gt(at, 200, "no commented alerts example found");
    cr_assert_eq(load(&c, uncommented, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n_warnings, 0, "%s", warnings[0]);
    cr_expect_eq(c.alerting->n_sinks, 4);
    cr_expect_eq(c.alerting->rules.n_rules, 10);
    bm_config_deinit(&c);
}

/* A line whose comment is a key ("# key: value", "  # - name: x"): the key, uncommented. */
static int commented_key(const char *line, char *out, size_t len)
{
    size_t indent = strspn(line, " ");
    if (line[indent] != '#') return 0;
    const char *rest = line + indent + 1;
    if (*rest == ' ') rest++;
    const char *key = rest + strspn(rest, " ");
    if (!strncmp(key, "- ", 2)) key += 2;
    size_t name = strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (!name || key[name] != ':' || (key[name + 1] != ' ' && key[name + 1] != '\0')) return 0;
    snprintf(out, len, "%*s%s", (int)indent, "", rest);
    return 1;
}

/* text with every commented key uncommented (prose stays a comment). Static. */
static const char *uncomment_keys(const char *text)
{
    static char out[65536];
    size_t at = 0;
    for (const char *line = text; *line && at < sizeof out;) {
        size_t len = strcspn(line, "\n");
        char one[512], key[512];
        snprintf(one, sizeof one, "%.*s", (int)len, line);
        at += (size_t)snprintf(out + at, sizeof out - at, "%s\n",
                               commented_key(one, key, sizeof key) ? key : one);
        line += len + (line[len] == '\n');
    }
    cr_assert_lt(at, sizeof out);
    return out;
}

/* --help says deploy/busmon.yaml shows every key: each row of the table that is a key of the
 * file is there, set or commented. Not looked for: other names of a key (alias_of: the
 * guides' names, metrics:), the guides' ignored keys (BM_KEY_GUIDE), flag-only and internal
 * rows (BM_KEY_F_NO_YAML, BM_KEY_F_INTERNAL). Uncommented, the file loads with no warning. */
Test(config, the_example_config_shows_every_key)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/deploy/busmon.yaml", BM_SOURCE_DIR);
    const char *text = uncomment_keys(read_file(path));
    bm_config c;
    cr_assert_eq(load(&c, text, err, sizeof err), 0, "uncommented: %s", err);
    cr_expect_eq(n_warnings, 0, "uncommented: %s", warnings[0]);
    bm_config_deinit(&c);

    yaml_document_t doc;
    parse_doc(text, &doc);
    static char found[512][128];
    size_t n_found = 0, n, checked = 0;
    paths(&doc, yaml_document_get_root_node(&doc), "", 0, found, &n_found, 512);
    cr_assert_lt(n_found, 512);
    const bm_config_key *keys = bm_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        if (k->alias_of || k->type == BM_KEY_GUIDE || k->type == BM_KEY_ACTION ||
            (k->flags & (BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL)))
            continue;
        size_t j = 0;
        while (j < n_found && strcmp(found[j], k->path))
            j++;
        cr_expect_lt(j, n_found, "deploy/busmon.yaml does not show %s", k->path);
        checked++;
    }
    cr_expect_geq(checked, 120, "only %zu keys", checked);
    yaml_document_delete(&doc);
}

/* ---- --help ---------------------------------------------------------------------------- */

Test(config, help_names_every_flag_with_its_default_and_variables)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    bm_config_usage(f);
    fclose(f);
    size_t n, flags = 0;
    const bm_config_key *keys = bm_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        if (!k->flag) continue;
        char want[160];
        snprintf(want, sizeof want, "--%s%s%s", k->flag, k->metavar ? " " : "",
                 k->metavar ? k->metavar : "");
        cr_expect_not_null(strstr(text, want), "--help lacks %s", want);
        if (k->def && k->type != BM_KEY_ACTION) {
            snprintf(want, sizeof want, "default %s", k->def);
            cr_expect_not_null(strstr(text, want), "--help lacks %s's %s", k->flag, want);
        }
        if (!bm_config_key_env(k, want, sizeof want))
            cr_expect_not_null(strstr(text, want), "--help lacks %s", want);
        if (k->env_alias) cr_expect_not_null(strstr(text, k->env_alias));
        flags++;
    }
    /* every flag the agent had before the table */
    static const char *const old[] = {"--redis",          "--stream",          "--group",
                                      "--consumer",       "--config",          "--batch",
                                      "--block-ms",       "--trace-retention", "--max-transactions",
                                      "--psubscribe",     "--rollup-interval", "--health-interval",
                                      "--alert-interval", "--system-interval", "--http",
                                      "--no-http",        "--log-level",       "--drain",
                                      "--summary",        "--check-config",    "-h, --help",
                                      "--version",        "--offline"};
    for (size_t i = 0; i < sizeof old / sizeof *old; i++)
        cr_expect_not_null(strstr(text, old[i]), "--help lacks %s", old[i]);
    cr_expect_geq(flags, 23);
    free(text);
}

/* ---- precedence, actions, finishing ----------------------------------------------------- */

Test(config, defaults_then_file_then_environment_then_flags)
{
    bm_config c;
    bm_config_action action;
    char err[512];
    write_yaml("streams:\n  batch: 10\n  group: from-file\n  names: [f1, f2]\n");
    setenv("BUSMON_CONFIG", yaml_path, 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.batch, 10);
    cr_expect_str_eq(c.group, "from-file");
    cr_expect_eq(c.n_streams, 2);
    bm_config_deinit(&c);

    setenv("BUSMON_STREAMS_BATCH", "20", 1);
    setenv("BUSMON_GROUP", "from-short-env", 1);
    setenv("BUSMON_STREAMS", "e1", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.batch, 20);
    cr_expect_str_eq(c.group, "from-short-env");
    cr_expect_eq(c.n_streams, 1);
    bm_config_deinit(&c);

    setenv("BUSMON_STREAMS_GROUP", "from-env", 1); /* the key's own name wins over the short one */
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--batch", "30", "--stream", "a",
                           "--stream", "b", "--stream", "c", NULL),
                 0, "%s", err);
    cr_expect_eq(c.batch, 30);
    cr_expect_str_eq(c.group, "from-env");
    char v[256];
    value_of(&c, "streams.names", v, sizeof v);
    cr_expect_str_eq(v, "a,b,c");
    cr_expect_str_eq(c.config_file, yaml_path);
    bm_config_deinit(&c);

    /* --config beats BUSMON_CONFIG */
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", "/nonexistent/x.yaml", NULL),
                 -1);
    cr_expect(strstr(err, "cannot read config /nonexistent/x.yaml"), "%s", err);
    bm_config_deinit(&c);
}

Test(config, actions_and_usage_errors)
{
    bm_config c;
    bm_config_action action;
    char err[512];
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0);
    cr_expect_eq(action, BM_CONFIG_RUN);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--batch", "x", "--help", NULL), 0);
    cr_expect_eq(action, BM_CONFIG_HELP, "--help wins before values are read");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "-h", NULL), 0);
    cr_expect_eq(action, BM_CONFIG_HELP);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--version", NULL), 0);
    cr_expect_eq(action, BM_CONFIG_VERSION);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--check-config", NULL), 0);
    cr_expect_eq(action, BM_CONFIG_CHECK);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--offline", "--check-config", NULL), 0);
    cr_expect_eq(action, BM_CONFIG_CHECK_OFFLINE);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--offline", NULL), -1);
    cr_expect_str_eq(err, "--offline goes with --check-config");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--frobnicate", NULL), -1);
    cr_expect_str_eq(err, "unknown or incomplete option '--frobnicate' (see --help)");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--batch", NULL), -1);
    cr_expect_str_eq(err, "unknown or incomplete option '--batch' (see --help)");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "stray", NULL), -1);
    cr_expect_str_eq(err, "unexpected argument 'stray' (see --help)");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--drain", "--summary", "/tmp/s.json",
                           "--no-http", NULL),
                 0, "%s", err);
    cr_expect_eq(c.drain, 1);
    cr_expect_str_eq(c.summary_file, "/tmp/s.json");
    cr_expect_eq(c.http_enabled, 0);
    bm_config_deinit(&c);
}

Test(config, the_finishing_step)
{
    bm_config c;
    bm_config_action action;
    char err[512];
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.n_streams, 1);
    cr_expect_str_eq(c.streams[0], "busmon:events");
    cr_expect_eq(c.pubsub_enabled, 0);
    cr_expect_eq(c.n_pubsub_patterns, 0);
    cr_expect_eq(c.http_enabled, 1);
    cr_expect_str_eq(c.alerting->channel, "busmon:alerts");
    cr_expect_str_eq(c.alerting->firing_hash, "busmon:alerts:firing");
    bm_config_deinit(&c);

    /* pub/sub on in the file: "<prefix>*"; patterns alone in the file do not turn it on */
    write_yaml("pubsub:\n  enabled: true\n  prefix: \"shop:\"\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0, "%s",
                 err);
    cr_expect_eq(c.n_pubsub_patterns, 1);
    cr_expect_str_eq(c.pubsub_patterns[0], "shop:*");
    bm_config_deinit(&c);
    /* a prefix's glob characters are the prefix's, not a glob */
    write_yaml("pubsub:\n  enabled: true\n  prefix: \"shop[eu]*?\\\\:\"\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0, "%s",
                 err);
    cr_expect_str_eq(c.pubsub_patterns[0], "shop\\[eu\\]\\*\\?\\\\:*");
    bm_config_deinit(&c);
    write_yaml("pubsub:\n  patterns: [\"a:*\"]\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0, "%s",
                 err);
    cr_expect_eq(c.pubsub_enabled, 0);
    bm_config_deinit(&c);
    /* ... a flag or the environment does */
    cr_assert_eq(
        from_args(&c, &action, err, sizeof err, "--psubscribe", "m:*", "--psubscribe", "n:*", NULL),
        0, "%s", err);
    cr_expect_eq(c.pubsub_enabled, 1);
    cr_expect_eq(c.n_pubsub_patterns, 2);
    bm_config_deinit(&c);
    setenv("BUSMON_PSUBSCRIBE", "x:*,y:*", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.pubsub_enabled, 1);
    cr_expect_eq(c.n_pubsub_patterns, 2);
    bm_config_deinit(&c);
    unsetenv("BUSMON_PSUBSCRIBE");

    /* HTTP: off from the environment; an address from a flag turns it back on */
    setenv("BUSMON_HTTP", "off", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.http_enabled, 0);
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--http", "127.0.0.1:1", NULL), 0);
    cr_expect_eq(c.http_enabled, 1);
    cr_expect_str_eq(c.http_listen, "127.0.0.1:1");
    bm_config_deinit(&c);
    unsetenv("BUSMON_HTTP");
    write_yaml("http:\n  enabled: false\n  listen: 0.0.0.0:9\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0);
    cr_expect_eq(c.http_enabled, 0, "an address in the file does not turn HTTP on");
    bm_config_deinit(&c);

    /* an address turns HTTP on, unless http.enabled is given itself, from any source */
    setenv("BUSMON_HTTP_ENABLED", "false", 1);
    setenv("BUSMON_HTTP_LISTEN", "127.0.0.1:9485", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.http_enabled, 0, "BUSMON_HTTP_ENABLED=false beats BUSMON_HTTP_LISTEN");
    bm_config_deinit(&c);
    unsetenv("BUSMON_HTTP_ENABLED");
    setenv("BUSMON_HTTP", "127.0.0.1:9486", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--no-http", NULL), 0, "%s", err);
    cr_expect_eq(c.http_enabled, 0, "--no-http beats an address in the environment");
    bm_config_deinit(&c);
    cr_assert_eq(
        from_args(&c, &action, err, sizeof err, "--no-http", "--http", "127.0.0.1:1", NULL), 0,
        "%s", err);
    cr_expect_eq(c.http_enabled, 0, "--no-http beats a later --http");
    bm_config_deinit(&c);
    write_yaml("http:\n  enabled: false\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0, "%s",
                 err);
    cr_expect_eq(c.http_enabled, 0, "http.enabled: false in the file beats BUSMON_HTTP_LISTEN");
    bm_config_deinit(&c);
    unsetenv("BUSMON_HTTP");
    unsetenv("BUSMON_HTTP_LISTEN");
    setenv("BUSMON_PUBSUB_ENABLED", "false", 1);
    setenv("BUSMON_PUBSUB_PATTERNS", "x:*", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_eq(c.pubsub_enabled, 0, "BUSMON_PUBSUB_ENABLED=false beats the patterns");
    bm_config_deinit(&c);
    unsetenv("BUSMON_PUBSUB_ENABLED");
    unsetenv("BUSMON_PUBSUB_PATTERNS");

    /* the alerts channel and hash follow the stream, from any source, unless given */
    setenv("BUSMON_ALERTS_STREAM", "ops:alerts", 1);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_str_eq(c.alerting->channel, "ops:alerts");
    cr_expect_str_eq(c.alerting->firing_hash, "ops:alerts:firing");
    bm_config_deinit(&c);
    write_yaml("alerts:\n  channel: chan\n");
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), 0);
    cr_expect_str_eq(c.alerting->channel, "chan");
    cr_expect_str_eq(c.alerting->firing_hash, "ops:alerts:firing");
    bm_config_deinit(&c);
}

/* Two groups (independent monitors) on one Redis share no key of the cluster or the
 * checkpoint: another group than busmon has its own, a key set is used as given. */
Test(config, keys_follow_the_group_unless_set)
{
    bm_config c;
    bm_config_action action;
    char err[512];
    cr_assert_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    cr_expect_str_eq(c.state_prefix, "busmon:state:");
    cr_expect_str_eq(c.cluster_handoff_prefix, "busmon:handoff:");
    cr_expect_str_eq(c.cluster_registry, "busmon:agents");
    cr_expect_str_eq(c.cluster_leader_key, "busmon:leader");
    cr_expect_str_eq(c.baselines_control_key, "busmon:baseline:ctl");
    cr_expect_str_eq(c.rollups_stream, "busmon:rollups");
    cr_expect_str_eq(c.trace_prefix, "busmon:trace:");
    cr_expect_str_eq(c.alerting->firing_hash, "busmon:alerts:firing");
    bm_config_deinit(&c);
    cr_assert_eq(from_args(&c, &action, err, sizeof err, "--group", "gb", NULL), 0, "%s", err);
    cr_expect_str_eq(c.state_prefix, "busmon:state:gb:");
    cr_expect_str_eq(c.cluster_handoff_prefix, "busmon:handoff:gb:");
    cr_expect_str_eq(c.cluster_registry, "busmon:agents:gb");
    cr_expect_str_eq(c.cluster_leader_key, "busmon:leader:gb");
    cr_expect_str_eq(c.baselines_control_key, "busmon:baseline:ctl:gb");
    /* what the group publishes: its own outputs */
    const struct {
        const char *got, *want;
    } outputs[] = {{c.rollups_stream, "busmon:rollups:gb"},
                   {c.workers_hash, "busmon:workers:gb"},
                   {c.health_stream, "busmon:health:gb"},
                   {c.system_stream, "busmon:system:gb"},
                   {c.deadletter_stream, "busmon:deadletter:gb"},
                   {c.trace_prefix, "busmon:trace:gb:"},
                   {c.trace_index_key, "busmon:traces:gb"},
                   {c.alerting->stream, "busmon:alerts:gb"},
                   {c.alerting->channel, "busmon:alerts:gb"},
                   {c.alerting->firing_hash, "busmon:alerts:gb:firing"}};
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs; i++)
        cr_expect_str_eq(outputs[i].got, outputs[i].want);
    bm_config_deinit(&c);
    write_yaml("state:\n  key_prefix: \"busmon:state:\"\ncluster:\n  registry: reg\n"
               "  handoff_prefix: \"ho:\"\noutputs:\n  rollups: busmon:rollups\n"
               "alerts:\n  stream: al\n");
    cr_assert_eq(
        from_args(&c, &action, err, sizeof err, "--config", yaml_path, "--group", "gb", NULL), 0,
        "%s", err);
    cr_expect_str_eq(c.state_prefix, "busmon:state:");
    cr_expect_str_eq(c.cluster_handoff_prefix, "ho:");
    cr_expect_str_eq(c.cluster_registry, "reg");
    cr_expect_str_eq(c.cluster_leader_key, "busmon:leader:gb");
    cr_expect_str_eq(c.rollups_stream, "busmon:rollups");
    cr_expect_str_eq(c.workers_hash, "busmon:workers:gb");
    cr_expect_str_eq(c.alerting->stream, "al");
    cr_expect_str_eq(c.alerting->firing_hash, "al:firing");
    bm_config_deinit(&c);
}

/* A group's name is the part of its keys after the default group's and ':'. A
 * name the default group's keys already have there, or one holding ':', would
 * write keys that are not its own: refused, from every source, the keys named
 * (group firing's alerts stream busmon:alerts:firing is the default group's
 * firing hash: a stream on a hash, Redis refuses one of them). */
Test(config, group_names_whose_keys_are_taken_are_refused)
{
    bm_config c;
    bm_config_action action;
    char err[512];
    static const struct {
        const char *group, *says[2];
    } taken[] = {
        {"firing", {"its alerts stream busmon:alerts:firing", "firing hash busmon:alerts:firing"}},
        {"failed",
         {"its trace index busmon:traces:failed", "failed transactions busmon:traces:failed"}},
        {"w", {"its trace index busmon:traces:w ", "transactions busmon:traces:w:<worker>"}},
        {"tx", {"its trace index busmon:traces:tx ", "busmon:traces:tx:<tx>"}},
        {"gb:failed", {"holds ':'", "group 'gb''s"}},
        {"a:b",
         {"holds ':'", "busmon:state:a:b:<consumer> is the checkpoint of group 'a''s "
                       "consumer 'b:<consumer>'"}},
    };
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        char head[64];
        snprintf(head, sizeof head, "streams.group '%s'", taken[i].group);
        cr_expect_eq(from_args(&c, &action, err, sizeof err, "--group", taken[i].group, NULL), -1,
                     "--group %s was taken", taken[i].group);
        cr_expect(strstr(err, head) && strstr(err, taken[i].says[0]) &&
                      strstr(err, taken[i].says[1]),
                  "--group %s: %s", taken[i].group, err);
        bm_config_deinit(&c);
        setenv("BUSMON_GROUP", taken[i].group, 1);
        cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), -1, "BUSMON_GROUP=%s was taken",
                     taken[i].group);
        bm_config_deinit(&c);
        unsetenv("BUSMON_GROUP");
        char yaml[128];
        snprintf(yaml, sizeof yaml, "streams:\n  group: \"%s\"\n", taken[i].group);
        write_yaml(yaml);
        cr_expect_eq(from_args(&c, &action, err, sizeof err, "--config", yaml_path, NULL), -1,
                     "group: %s in a file was taken", taken[i].group);
        bm_config_deinit(&c);
    }
    /* no key of the default group's has these after its base: ctl is busmon:baseline:ctl's
     * last part, not one after it (group ctl: busmon:baseline:ctl:ctl) */
    static const char *const fine[] = {"busmon", "gb",          "ctl",   "firing2",
                                       "w-1",    "failed_jobs", "agents"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        cr_expect_eq(from_args(&c, &action, err, sizeof err, "--group", fine[i], NULL), 0,
                     "--group %s: %s", fine[i], err);
        bm_config_deinit(&c);
    }
}

/* core/group_keys.c's rows are the settings' keys, for the default group and another:
 * the pub/sub input and the CLI name them from those rows (a setting renamed, or its
 * default, would leave them on another key); the firing hash is the sub-key the table
 * refuses as a group name. */
Test(config, the_group_keys_table_names_the_settings_keys)
{
    static const char *const groups[] = {"busmon", "gb"};
    for (size_t g = 0; g < 2; g++) {
        bm_config c;
        bm_config_action action;
        char err[512], got[256], want[256];
        cr_assert_eq(from_args(&c, &action, err, sizeof err, "--group", groups[g], NULL), 0, "%s",
                     err);
        size_t n;
        const bm_group_key *rows = bm_group_keys(&n);
        for (size_t i = 0; i < n; i++) {
            value_of(&c, rows[i].setting, got, sizeof got);
            bm_group_key_name(&rows[i], groups[g], want, sizeof want);
            cr_expect_str_eq(got, want, "%s of group %s", rows[i].setting, groups[g]);
        }
        const bm_group_key *alerts = bm_group_key_find("alerts.stream");
        cr_assert(alerts && alerts->channel && alerts->sub[0].name);
        snprintf(want, sizeof want, "%s:%s", c.alerting->stream, alerts->sub[0].name);
        cr_expect_str_eq(c.alerting->firing_hash, want);
        cr_expect_str_eq(c.alerting->channel, c.alerting->stream);
        bm_config_deinit(&c);
    }
}

Test(config, bare_numbers_are_in_the_keys_unit)
{
    bm_config c;
    char err[512];
    cr_assert_eq(load(&c,
                      "streams:\n  block_ms: 250\n"
                      "outputs:\n  rollup_interval_seconds: 2\n"
                      "worker_monitoring:\n  performance_window_minutes: 2\n"
                      "  slow_execution_threshold_ms: 1.5s\n"
                      "traces:\n  retention_hours: 2\n"
                      "system:\n  interval_seconds: 1.5\n  history_hours: 0.5\n"
                      "alerts:\n  interval: 2\n",
                      err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(c.block_ms, 250);
    cr_expect_eq(c.rollup_interval_ms, 2000);
    cr_expect_eq(c.perf_window_s, 120);
    cr_expect_eq(c.slow_threshold_ms, 1500);
    cr_expect_eq(c.trace_retention_s, 7200);
    cr_expect_eq(c.system_interval_ms, 1500);
    cr_expect_eq(c.system_history_s, 1800);
    cr_expect_eq(c.alerting->rules.interval_us, 2000000);
    bm_config_deinit(&c);
    cr_assert_eq(load(&c, "traces:\n  retention: 90\n", err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.trace_retention_s, 90);
    bm_config_deinit(&c);
}

/* ---- the value parsers ---------------------------------------------------------------- */

Test(parse, durations)
{
    static const struct {
        const char *text;
        int64_t bare, want;
    } good[] = {
        {"250ms", BM_US_PER_S, 250000},     {"5s", BM_US_PER_S, 5000000},
        {"1.5s", BM_US_PER_S, 1500000},     {"2m", BM_US_PER_S, 120000000},
        {"2min", BM_US_PER_S, 120000000},   {"1h", BM_US_PER_S, 3600000000LL},
        {"1d", BM_US_PER_S, 86400000000LL}, {"10", BM_US_PER_S, 10000000},
        {"10", BM_US_PER_MS, 10000},        {"3", BM_US_PER_MIN, 180000000},
        {"0.5", BM_US_PER_H, 1800000000LL}, {"0", BM_US_PER_S, 0},
        {"1e3ms", BM_US_PER_S, 1000000},    {"7us", BM_US_PER_S, 7},
        {"2seconds", BM_US_PER_S, 2000000},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t v = -1;
        cr_expect_eq(bm_parse_duration_us(good[i].text, good[i].bare, &v), BM_PARSE_OK, "%s",
                     good[i].text);
        cr_expect_eq(v, good[i].want, "%s: %lld", good[i].text, (long long)v);
    }
    static const char *const bad[] = {"",    "s",    "5x", "5 s", " 5s", "1M",       "nan",
                                      "inf", "0x10", "5e", "--1", "1s2", "1000000d", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t v;
        cr_expect_eq(bm_parse_duration_us(bad[i], BM_US_PER_S, &v), BM_PARSE_BAD, "%s",
                     bad[i] ? bad[i] : "NULL");
    }
    int64_t v;
    cr_expect_eq(bm_parse_duration_us("-5m", BM_US_PER_S, &v), BM_PARSE_NEGATIVE);
    cr_expect_eq(bm_parse_duration_s("90m", &v), 0);
    cr_expect_eq(v, 5400);

    char buf[32];
    cr_expect_str_eq(bm_format_duration_us(250000, buf, sizeof buf), "250ms");
    cr_expect_str_eq(bm_format_duration_us(1500000, buf, sizeof buf), "1500ms");
    cr_expect_str_eq(bm_format_duration_us(86400000000LL, buf, sizeof buf), "1d");
    cr_expect_str_eq(bm_format_duration_us(0, buf, sizeof buf), "0s");
    cr_expect_str_eq(bm_format_duration_us(7, buf, sizeof buf), "7us");
    cr_expect_eq(bm_duration_unit_us("minutes"), BM_US_PER_MIN);
    cr_expect_eq(bm_duration_unit_us("y"), 0);
    cr_expect_str_eq(bm_duration_unit_name(BM_US_PER_MS), "milliseconds");
}

Test(parse, sizes_booleans_numbers_names)
{
    size_t n;
    cr_expect_eq(bm_parse_size("1000", &n), 0);
    cr_expect_eq(n, 1000);
    cr_expect_eq(bm_parse_size("10k", &n), 0);
    cr_expect_eq(n, 10000);
    cr_expect_eq(bm_parse_size("2M", &n), 0);
    cr_expect_eq(n, 2000000);
    static const char *const bad_sizes[] = {
        "", "-1", "+1", " 1", "1.5", "1m", "1e3", "k", "99999999999999999999999", NULL};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++)
        cr_expect_eq(bm_parse_size(bad_sizes[i], &n), -1, "%s",
                     bad_sizes[i] ? bad_sizes[i] : "NULL");

    int b;
    static const char *const yes[] = {"true", "Yes", "ON", "1"}, *const no[] = {"false", "NO",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        cr_expect(bm_parse_bool(yes[i], &b) == 0 && b == 1, "%s", yes[i]);
        cr_expect(bm_parse_bool(no[i], &b) == 0 && b == 0, "%s", no[i]);
    }
    cr_expect_eq(bm_parse_bool("maybe", &b), -1);

    double d;
    cr_expect(bm_parse_decimal("0.1", &d) == 0 && d == 0.1);
    cr_expect(bm_parse_decimal("1e5", &d) == 0 && d == 1e5);
    cr_expect(bm_parse_decimal("-3", &d) == 0 && d == -3);
    cr_expect_eq(bm_parse_decimal("nan", &d), -1);
    cr_expect_eq(bm_parse_decimal("0x1p3", &d), -1);
    cr_expect_eq(bm_parse_decimal("1 ", &d), -1);

    cr_expect(bm_is_key_name("busmon:events"));
    cr_expect(!bm_is_key_name("a b"));
    cr_expect(!bm_is_key_name(""));
}

Test(config, output_sinks_survive_an_alerts_section_after_them)
{
    /* outputs.sinks and alerts: live in one struct; alerts: is read whole and
     * swapped in, which once dropped the sinks written before it */
    const char *orders[] = {
        "outputs:\n  sinks:\n    - name: copy\n      type: redis_hash\n      key: k\n"
        "alerts:\n  interval: 2s\n",
        "alerts:\n  interval: 2s\n"
        "outputs:\n  sinks:\n    - name: copy\n      type: redis_hash\n      key: k\n",
    };
    for (size_t i = 0; i < 2; i++) {
        bm_config c;
        char err[256] = "";
        cr_assert_eq(load(&c, orders[i], err, sizeof err), 0, "%s", err);
        cr_assert_eq(c.alerting->n_output_sinks, 1, "order %zu", i);
        cr_assert_eq(c.alerting->rules.interval_us, 2000000, "order %zu", i);
        bm_config_deinit(&c);
    }
}

/* ---- a second YAML document -------------------------------------------------- */

Test(config, a_second_yaml_document_is_refused_with_its_line)
{
    bm_config c;
    char err[512];
    /* the batch of the second document was dropped, and the file called good */
    cr_expect_eq(load(&c, "streams:\n  batch: 5\n---\nstreams:\n  batch: 0\n", err, sizeof err), -1,
                 "a file of two documents was read as its first");
    cr_expect(strstr(err, ":3: ") != NULL, "the '---' line is named: %s", err);
    cr_expect(strstr(err, "document") != NULL, "the reason says why: %s", err);
    bm_config_deinit(&c);

    /* a second document that is not even valid YAML was not looked at */
    cr_expect_eq(load(&c, "streams:\n  batch: 5\n---\nstreams: [\n", err, sizeof err), -1);
    cr_expect(strstr(err, "invalid YAML") != NULL, "%s", err);
    bm_config_deinit(&c);

    /* the `alerts:` section read on its own (busmon alerts --check) sees the same */
    bm_alerting_config al;
    cr_assert_eq(bm_alerting_config_init(&al), 0);
    const char *two = "alerts:\n  interval: 5s\n---\nalerts:\n  interval: 1s\n";
    cr_expect_eq(bm_alerting_config_parse_string(&al, two, strlen(two), "a.yaml", err, sizeof err,
                                                 NULL, NULL),
                 -1, "the alerts section of a two-document file was read as its first");
    bm_alerting_config_deinit(&al);
}

Test(config, one_document_markers_and_empty_files_still_load)
{
    bm_config c;
    char err[512];
    static const char *const fine[] = {
        "---\nstreams:\n  batch: 7\n",      /* a leading marker */
        "streams:\n  batch: 7\n...\n",      /* an end marker */
        "---\nstreams:\n  batch: 7\n...\n", /* both */
        "streams:\n  batch: 7\n---\n",      /* a trailing marker: an empty document */
        "streams:\n  batch: 7\n---\n# only a comment\n",
    };
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        cr_expect_eq(load(&c, fine[i], err, sizeof err), 0, "case %zu: %s", i, err);
        cr_expect_eq(c.batch, 7, "case %zu", i);
        bm_config_deinit(&c);
    }
    cr_expect_eq(load(&c, "", err, sizeof err), 0, "an empty file: the defaults (%s)", err);
    bm_config_deinit(&c);
    cr_expect_eq(load(&c, "# nothing but a comment\n", err, sizeof err), 0, "%s", err);
    bm_config_deinit(&c);
}

/* ---- the built-in outputs' MAXLEN keys ---------------------------------------- */

Test(config, a_maxlen_key_takes_only_what_its_stream_output_takes)
{
    /* the rollups and system streams are redis_stream outputs made at start: a MAXLEN
     * their sink refuses passed every source and --check-config, then stopped the agent
     * with "sink 'rollups': 'maxlen' must be ..." naming no key */
    static const char *const keys[] = {"outputs.rollups_maxlen", "outputs.system_maxlen",
                                       "alerts.maxlen"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const bm_config_key *k = bm_config_key_find(keys[i]);
        cr_assert_not_null(k, "%s", keys[i]);
        cr_expect(k->hi > 0, "%s has no upper bound", keys[i]);
        char hi[32], err[512];
        snprintf(hi, sizeof hi, "%.0f", k->hi > 0 ? k->hi : 1e19);
        const bm_sink_kv kv[] = {{"name", "s"},
                                 {"type", "redis_stream"},
                                 {"topics", "rollup"},
                                 {"stream", "s"},
                                 {"maxlen", hi}};
        cr_expect_eq(bm_sink_check(kv, sizeof kv / sizeof *kv, err, sizeof err), 0,
                     "%s accepts %s, its output does not: %s", keys[i], hi, err);
    }
    bm_config c;
    bm_config_action action;
    char err[512];
    setenv("BUSMON_OUTPUTS_ROLLUPS_MAXLEN", "2000000000", 1);
    cr_expect_eq(from_args(&c, &action, err, sizeof err, "--check-config", "--offline", NULL), -1);
    cr_expect(strstr(err, "BUSMON_OUTPUTS_ROLLUPS_MAXLEN must be 1-1000000000") != NULL, "%s", err);
    bm_config_deinit(&c);
    unsetenv("BUSMON_OUTPUTS_ROLLUPS_MAXLEN");
}

/* ---- one setting under two names ------------------------------------------------ */

Test(config, one_setting_under_two_names_with_two_values_is_refused)
{
    bm_config c;
    char err[512];
    /* the guides' name and busmon's, in one file: the later one won without a word */
    cr_expect_eq(load(&c,
                      "traces:\n  retention: 7d\n"
                      "event_monitoring:\n  trace_retention_hours: 24\n",
                      err, sizeof err),
                 -1, "two values of traces.retention were taken, the last one winning");
    cr_expect(strstr(err, ":4: ") != NULL, "the second one's line: %s", err);
    cr_expect(strstr(err, "'event_monitoring.trace_retention_hours'") != NULL, "%s", err);
    cr_expect(strstr(err, "'traces.retention'") != NULL, "%s", err);
    cr_expect(strstr(err, "line 2") != NULL, "the first one's line: %s", err);
    bm_config_deinit(&c);

    /* a section alias: metrics: is metrics_collection: */
    cr_expect_eq(load(&c, "metrics_collection:\n  max_series: 5\nmetrics:\n  max_series: 6\n", err,
                      sizeof err),
                 -1);
    cr_expect(strstr(err, ":4: ") != NULL, "%s", err);
    bm_config_deinit(&c);

    /* in one section: logging.max_size_mb is max_file_size_mb */
    cr_expect_eq(
        load(&c, "logging:\n  max_file_size_mb: 100\n  max_size_mb: 50\n", err, sizeof err), -1);
    bm_config_deinit(&c);

    /* the same value under both names: nothing to choose between */
    static const char *const same[] = {
        "traces:\n  retention: 24h\nevent_monitoring:\n  trace_retention_hours: 24\n",
        "logging:\n  max_file_size_mb: 100\n  max_size_mb: 100\n",
        "system:\n  interval_seconds: 1m\nmetrics:\n  collection_interval_seconds: 60\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        cr_expect_eq(load(&c, same[i], err, sizeof err), 0, "case %zu: %s", i, err);
        bm_config_deinit(&c);
    }
    /* each rule is its own: their keys are not one setting */
    cr_expect_eq(load(&c,
                      "alerts:\n  rules:\n"
                      "    - {name: a, metric: error_count, threshold: 1, for: 1s, cooldown: 1m}\n"
                      "    - {name: b, metric: error_count, threshold: 2, for: 2s, cooldown: 2m}\n",
                      err, sizeof err),
                 0, "%s", err);
    bm_config_deinit(&c);
}

/* ---- a NUL inside a YAML value ------------------------------------------------- */

Test(config, a_nul_written_into_a_value_is_refused_not_cut_short)
{
    bm_config c;
    char err[512];
    /* "\0" is a YAML escape: the scalar holds 3 bytes, C read "a" and went on */
    static const char *const files[] = {
        "streams:\n  group: \"a\\0b\"\n",
        "streams:\n  names: [\"s1\", \"x\\0y\"]\n",
        "alerts:\n  webhooks:\n    - url: \"https://example.org/a\\0b\"\n",
        "alerting:\n  rules:\n    - name: r\n      condition: \"error_rate > 0.1\\0 and more\"\n",
        "\"streams\\0x\":\n  batch: 5\n",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        cr_expect_eq(load(&c, files[i], err, sizeof err), -1, "case %zu was read cut at the NUL",
                     i);
        cr_expect(strstr(err, "NUL") != NULL, "case %zu: %s", i, err);
        bm_config_deinit(&c);
    }
}

/* ---- a duration that would round to 0 ------------------------------------------ */

Test(config, a_duration_that_rounds_to_zero_is_refused_where_zero_means_off)
{
    /* reclaim.interval is kept in ms, and 0 is "never": 400us was taken as never */
    bm_config c;
    bm_config_action action;
    char err[512], v[64];
    static const char *const envs[] = {
        "BUSMON_RECLAIM_INTERVAL", "BUSMON_STATE_CHECKPOINT_INTERVAL",
        "BUSMON_TRACES_FLUSH_INTERVAL", "BUSMON_LIMITS_MAX_CLOCK_SKEW"};
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) {
        setenv(envs[i], "400us", 1);
        cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), -1, "%s=400us was taken as 0",
                     envs[i]);
        cr_expect(strstr(err, envs[i]) && strstr(err, "0 or at least 1ms"), "%s", err);
        bm_config_deinit(&c);
        setenv(envs[i], "0", 1);
        cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
        bm_config_deinit(&c);
        setenv(envs[i], "0.6ms", 1); /* rounds up: 1ms */
        cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
        bm_config_deinit(&c);
        unsetenv(envs[i]);
    }
    cr_expect_eq(load(&c, "reclaim:\n  interval: 0.1ms\n", err, sizeof err), -1);
    cr_expect(strstr(err, ":2: 'reclaim.interval' must be 0 or at least 1ms") != NULL, "%s", err);
    bm_config_deinit(&c);
    cr_expect_eq(load(&c, "reclaim:\n  interval: 2ms\n", err, sizeof err), 0, "%s", err);
    value_of(&c, "reclaim.interval", v, sizeof v);
    cr_expect_str_eq(v, "2ms");
    bm_config_deinit(&c);
}

/* ---- the guides' alerting: rules -------------------------------------------------- */

Test(config, a_guides_rule_name_given_twice_is_refused_like_under_alerts_rules)
{
    /* the second 'slow' replaced the first without a word (alerts.rules refuses it) */
    bm_config c;
    char err[512];
    cr_expect_eq(load(&c,
                      "alerting:\n  rules:\n"
                      "    - name: slow\n      condition: avg_latency_ms > 5000\n"
                      "    - name: slow\n      condition: error_rate > 0.5\n",
                      err, sizeof err),
                 -1, "the first rule 'slow' was dropped");
    cr_expect(strstr(err, ":5: ") && strstr(err, "'slow'") && strstr(err, "line 3"), "%s", err);
    bm_config_deinit(&c);
    /* a guides rule still replaces a built-in, or a rule of alerts.rules, of its name */
    cr_expect_eq(load(&c,
                      "alerts:\n  rules:\n    - {name: mine, metric: error_count, threshold: 1}\n"
                      "alerting:\n  rules:\n"
                      "    - name: mine\n      condition: error_count > 7\n"
                      "    - name: high_latency\n      condition: avg_latency_ms > 100\n",
                      err, sizeof err),
                 0, "%s", err);
    const alert_rule *r = bm_alert_config_find(&c.alerting->rules, "mine");
    cr_assert_not_null(r);
    cr_expect_eq(r->threshold, 7);
    cr_assert_not_null(r = bm_alert_config_find(&c.alerting->rules, "high_latency"));
    cr_expect_eq(r->threshold, 100);
    bm_config_deinit(&c);
}

/* ---- baselines.slots ------------------------------------------------------------- */

Test(config, an_unknown_baselines_slots_is_refused_with_its_line)
{
    /* checked only by the finishing step, it was refused without the file's line */
    bm_config c;
    char err[512];
    cr_expect_eq(load(&c, "streams:\n  batch: 5\nbaselines:\n  slots: weekly\n", err, sizeof err),
                 -1, "baselines.slots: weekly was taken by the file");
    cr_expect(strstr(err, ":4: 'baselines.slots'") != NULL, "the line and the key: %s", err);
    cr_expect(strstr(err, "hour_of_week") != NULL, "what it may be: %s", err);
    bm_config_deinit(&c);
    cr_expect_eq(load(&c, "baselines:\n  slots: hour_of_day\n", err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.baselines_slots, "hour_of_day");
    bm_config_deinit(&c);
    /* from the environment: named as written */
    bm_config_action action;
    setenv("BUSMON_BASELINES_SLOTS", "weekly", 1);
    cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), -1);
    cr_expect(strstr(err, "BUSMON_BASELINES_SLOTS") != NULL, "%s", err);
    bm_config_deinit(&c);
    unsetenv("BUSMON_BASELINES_SLOTS");
}

/* ---- --config "" ------------------------------------------------------------------- */

Test(config, an_empty_config_flag_is_refused_not_run_on_the_defaults)
{
    /* `--config "$CFG"` with CFG unset ran on the defaults, the file never named */
    bm_config c;
    bm_config_action action;
    char err[512] = "";
    cr_expect_eq(from_args(&c, &action, err, sizeof err, "--config", "", NULL), -1,
                 "--config '' read no file and went on");
    cr_expect(strstr(err, "--config") != NULL, "%s", err);
    bm_config_deinit(&c);
    cr_expect_eq(from_args(&c, &action, err, sizeof err, "--config=", NULL), -1);
    bm_config_deinit(&c);
    /* an empty BUSMON_CONFIG still counts as unset, as every empty variable */
    setenv("BUSMON_CONFIG", "", 1);
    cr_expect_eq(from_args(&c, &action, err, sizeof err, NULL), 0, "%s", err);
    bm_config_deinit(&c);
    unsetenv("BUSMON_CONFIG");
}

/* ---- an output read back as input ------------------------------------------------ */

Test(config, a_stream_busmon_writes_is_refused_as_an_input)
{
    /* read back, each entry busmon wrote is not an event: dead-lettered, so written
     * again, read again... for ever (busmon:deadletter grew by itself) */
    bm_config c;
    bm_config_action action;
    char err[512];
    static const char *const own[][2] = {
        {"busmon:deadletter", "outputs.deadletter"}, {"busmon:rollups", "outputs.rollups"},
        {"busmon:health", "outputs.health"},         {"busmon:system", "outputs.system"},
        {"busmon:alerts", "alerts.stream"},
    };
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        cr_expect_eq(from_args(&c, &action, err, sizeof err, "--stream", "app:events", "--stream",
                               own[i][0], NULL),
                     -1, "%s was read as an input", own[i][0]);
        cr_expect(strstr(err, own[i][0]) && strstr(err, own[i][1]), "%s", err);
        bm_config_deinit(&c);
    }
    /* a Redis sink's stream too */
    cr_expect_eq(
        load(&c,
             "streams:\n  names: [app:events]\n"
             "outputs:\n  sinks:\n"
             "    - {name: copy, type: redis_stream, stream: app:events, topics: rollup}\n",
             err, sizeof err),
        0, "%s", err);
    cr_expect_eq(bm_config_finish(&c, err, sizeof err), -1, "a sink's stream was read back");
    cr_expect(strstr(err, "app:events") && strstr(err, "'copy'"), "%s", err);
    bm_config_deinit(&c);
    /* other names: fine */
    cr_expect_eq(from_args(&c, &action, err, sizeof err, "--stream", "app:events", NULL), 0, "%s",
                 err);
    bm_config_deinit(&c);
}

/* ---- the guides' e-mail channel: to_emails --------------------------------------- */

Test(config, a_long_to_emails_list_is_kept_whole)
{
    /* joined into 2048 bytes, the addresses past them were dropped or cut without a word */
    char yaml[8192], err[512];
    size_t at = (size_t)snprintf(yaml, sizeof yaml,
                                 "alerting:\n  channels:\n    - type: email\n"
                                 "      smtp_host: 127.0.0.1\n      from_email: a@example.org\n"
                                 "      to_emails:\n");
    char domain[200];
    snprintf(domain, sizeof domain, "%s.%s.%s.org", "d0123456789012345678901234567890123456789",
             "d0123456789012345678901234567890123456789",
             "d0123456789012345678901234567890123456789");
    for (int i = 0; i < 16; i++)
        at += (size_t)snprintf(yaml + at, sizeof yaml - at,
                               "        - user%02d.with.a.long.name.of.sixty.characters.xx@%s\n", i,
                               domain);
    bm_config c;
    cr_assert_eq(load(&c, yaml, err, sizeof err), 0, "%s", err);
    const char *to = bm_alerting_sink_get(c.alerting, 0, "to");
    cr_assert_not_null(to);
    char last[300];
    snprintf(last, sizeof last, "user15.with.a.long.name.of.sixty.characters.xx@%s", domain);
    size_t n = strlen(to), ln = strlen(last);
    cr_expect(n >= ln && !strcmp(to + n - ln, last), "the last recipient is lost: ...%s",
              n > 60 ? to + n - 60 : to);
    bm_config_deinit(&c);
    /* past what any sink takes (32 recipients): refused, not cut */
    char more[16384];
    at = (size_t)snprintf(more, sizeof more, "%s", yaml);
    for (int i = 16; i < 48; i++)
        at += (size_t)snprintf(more + at, sizeof more - at,
                               "        - user%02d.with.a.long.name.of.sixty.characters.xx@%s\n", i,
                               domain);
    cr_expect_eq(load(&c, more, err, sizeof err), -1);
    cr_expect(strstr(err, "to_emails is longer than") != NULL, "%s", err);
    bm_config_deinit(&c);
}
