/*
 * agent_main.c - `busmon-agent`: flags, configuration, start-up checks (one
 * clear line and a non-zero exit for a bad URL, an unreachable Redis or a bad
 * config file), the loop, and the exit summary.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/core/agent.h"
#include "agent/jobs/alerting.h"
#include "agent/config/alerting.h"
#include "agent/http/server.h"
#include "lib/redact.h"
#include "agent/core/log.h"

#ifndef BUSMON_VERSION
#define BUSMON_VERSION "0.1.0"
#endif

enum { EXIT_USAGE = 2, EXIT_REDIS = 3 };

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: busmon-agent [OPTIONS]\n"
        "\n"
        "Read multi-agent events from Redis Streams through a consumer group, rebuild\n"
        "every transaction's trace and store it in Redis (busmon:trace:<tx>) for the\n"
        "`busmon` CLI. Entries that cannot be used go to busmon:deadletter.\n"
        "\n"
        "options (flags override environment variables, which override the config file):\n"
        "  --redis URL          Redis to read and write; env BUSMON_REDIS_URL\n"
        "                       (default %s; redis://[:pw@]host:port[/db], unix:///path)\n"
        "  --stream NAME        a stream to read; repeatable; env BUSMON_STREAMS=a,b\n"
        "                       (default busmon:events)\n"
        "  --group NAME         consumer group, created if missing (default busmon); env "
        "BUSMON_GROUP\n"
        "  --consumer NAME      consumer name, stable across restarts (default "
        "busmon-<hostname>);\n"
        "                       env BUSMON_CONSUMER\n"
        "  --config FILE        YAML configuration (see deploy/busmon.yaml); env BUSMON_CONFIG\n"
        "  --batch N            entries per XREADGROUP (default 1000)\n"
        "  --block-ms MS        how long a read waits for new entries (default 1000)\n"
        "  --trace-retention D  how long traces are kept, e.g. 24h, 90m (default 24h)\n"
        "  --max-transactions N traces kept in memory (default 100000)\n"
        "  --psubscribe PAT     also read events published on Redis pub/sub channels\n"
        "                       matching PAT (repeatable; env BUSMON_PSUBSCRIBE=a,b); the\n"
        "                       channel names type and worker (multiagent:command.<worker>,\n"
        "                       result.<worker>, status.*, compensation.*); see pubsub: in\n"
        "                       deploy/busmon.yaml\n"
        "  --rollup-interval D  how often rollups are published, e.g. 10s, 500ms (default 10s)\n"
        "  --health-interval D  how often worker health is judged (default 30s)\n"
        "  --alert-interval D   how often alert rules are evaluated (default 10s)\n"
        "  --system-interval D  how often system metrics are sampled (default 10s, at least\n"
        "                       100ms; config system.interval_seconds)\n"
        "  --http ADDR          serve /metrics, /health, /ready and /api on ADDR (host:port,\n"
        "                       default 127.0.0.1:9464; config http.listen; env BUSMON_HTTP,\n"
        "                       which also takes \"off\")\n"
        "  --no-http            do not serve HTTP (config http.enabled: false)\n"
        "  --log-level LEVEL    debug, info, warn, error (default info); env BUSMON_LOG_LEVEL\n"
        "  --drain              exit 0 once every stream is read to its end (batch jobs, "
        "benchmarks)\n"
        "  --summary FILE       write a JSON summary of the run to FILE at exit\n"
        "  --check-config       validate the configuration and Redis, then exit\n"
        "  -h, --help           this help\n"
        "  --version            print the version\n"
        "\n"
        "SIGINT / SIGTERM: stop reading, flush trace writes and acks, exit 0.\n",
        BM_DEFAULT_REDIS_URL);
}

/* One error line on stderr (secrets redacted, as in the log). */
static int fail(int code, const char *fmt, const char *a)
{
    char raw[2048], clean[2048];
    int n = snprintf(raw, sizeof raw, fmt, a);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof raw) n = (int)sizeof raw - 1;
    bm_redact(raw, (size_t)n, clean, sizeof clean);
    fprintf(stderr, "busmon-agent: %s\n", clean);
    return code;
}

enum {
    OPT_REDIS = 256,
    OPT_STREAM,
    OPT_GROUP,
    OPT_CONSUMER,
    OPT_CONFIG,
    OPT_BATCH,
    OPT_BLOCK,
    OPT_RETENTION,
    OPT_MAXTX,
    OPT_LOGLEVEL,
    OPT_DRAIN,
    OPT_SUMMARY,
    OPT_CHECK,
    OPT_VERSION,
    OPT_ROLLUP,
    OPT_HEALTH,
    OPT_SYSTEM_INTERVAL,
    OPT_PSUBSCRIBE,
    OPT_ALERT_INTERVAL,
    OPT_HTTP,
    OPT_NO_HTTP
};

static const struct option long_opts[] = {
    {"redis", required_argument, 0, OPT_REDIS},
    {"stream", required_argument, 0, OPT_STREAM},
    {"group", required_argument, 0, OPT_GROUP},
    {"consumer", required_argument, 0, OPT_CONSUMER},
    {"config", required_argument, 0, OPT_CONFIG},
    {"batch", required_argument, 0, OPT_BATCH},
    {"block-ms", required_argument, 0, OPT_BLOCK},
    {"trace-retention", required_argument, 0, OPT_RETENTION},
    {"max-transactions", required_argument, 0, OPT_MAXTX},
    {"log-level", required_argument, 0, OPT_LOGLEVEL},
    {"drain", no_argument, 0, OPT_DRAIN},
    {"summary", required_argument, 0, OPT_SUMMARY},
    {"check-config", no_argument, 0, OPT_CHECK},
    {"rollup-interval", required_argument, 0, OPT_ROLLUP},
    {"health-interval", required_argument, 0, OPT_HEALTH},
    {"system-interval", required_argument, 0, OPT_SYSTEM_INTERVAL},
    {"psubscribe", required_argument, 0, OPT_PSUBSCRIBE},
    {"alert-interval", required_argument, 0, OPT_ALERT_INTERVAL},
    {"http", required_argument, 0, OPT_HTTP},
    {"no-http", no_argument, 0, OPT_NO_HTTP},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, OPT_VERSION},
    {0, 0, 0, 0},
};

static long peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L;
}

static void write_summary(bm_agent *a)
{
    trace_store_stats ts;
    trace_store_get_stats(a->store, &ts);
    double secs = a->first_entry_us && a->last_entry_us > a->first_entry_us
                      ? (double)(a->last_entry_us - a->first_entry_us) / 1e6
                      : 0.0;
    double rate = secs > 0 ? (double)a->stats.entries_read / secs : 0.0;
    size_t heap = trace_store_heap_bytes(a->store);
    json_t *j = json_object();
    json_object_set_new(j, "entries_read", json_integer((json_int_t)a->stats.entries_read));
    json_object_set_new(j, "events_applied", json_integer((json_int_t)a->stats.events_applied));
    json_object_set_new(j, "duplicates", json_integer((json_int_t)a->stats.duplicates));
    json_object_set_new(j, "truncated", json_integer((json_int_t)a->stats.truncated));
    json_object_set_new(j, "untraced", json_integer((json_int_t)a->stats.untraced));
    json_object_set_new(j, "deadletter", json_integer((json_int_t)a->stats.deadletter));
    json_object_set_new(j, "deadletter_failed",
                        json_integer((json_int_t)a->stats.deadletter_failed));
    json_object_set_new(j, "acked", json_integer((json_int_t)a->stats.acked));
    json_object_set_new(j, "writes_lost", json_integer((json_int_t)a->stats.writes_lost));
    uint64_t werr = 0;
    for (int k = 0; k < BM_WRITE__COUNT; k++)
        werr += a->stats.write_errors[k];
    json_object_set_new(j, "write_errors", json_integer((json_int_t)werr));
    json_object_set_new(j, "reconnects", json_integer((json_int_t)a->stats.reconnects));
    json_object_set_new(j, "pubsub_messages", json_integer((json_int_t)a->stats.pubsub_messages));
    json_object_set_new(j, "timeouts", json_integer((json_int_t)a->stats.timeouts));
    json_t *de = json_object();
    for (int s = 1; s < BM_DECODE__COUNT; s++)
        if (a->stats.decode_errors[s])
            json_object_set_new(de, bm_decode_status_name((bm_decode_status)s),
                                json_integer((json_int_t)a->stats.decode_errors[s]));
    json_object_set_new(j, "decode_errors", de);
    json_object_set_new(j, "seconds", json_real(secs));
    json_object_set_new(j, "events_per_s", json_real(rate));
    json_object_set_new(j, "peak_rss_bytes", json_integer(peak_rss_bytes()));
    json_object_set_new(j, "transactions_in_memory", json_integer((json_int_t)ts.transactions));
    json_object_set_new(j, "events_in_memory", json_integer((json_int_t)ts.events));
    json_object_set_new(j, "evicted", json_integer((json_int_t)ts.evicted));
    json_object_set_new(j, "trace_store_bytes", json_integer((json_int_t)heap));
    json_object_set_new(j, "bytes_per_transaction",
                        json_real(ts.transactions ? (double)heap / (double)ts.transactions : 0.0));
    bm_alerting_summary(a->alerting, j);
    bm_info("summary: %llu entries in %.3f s (%.0f ev/s), %llu applied, %llu duplicates, %llu "
            "dead-lettered, %llu acked, peak RSS %ld KiB",
            (unsigned long long)a->stats.entries_read, secs, rate,
            (unsigned long long)a->stats.events_applied, (unsigned long long)a->stats.duplicates,
            (unsigned long long)a->stats.deadletter, (unsigned long long)a->stats.acked,
            peak_rss_bytes() / 1024);
    if (a->cfg->summary_file && json_dump_file(j, a->cfg->summary_file, JSON_INDENT(2)))
        bm_error("cannot write the summary to %s", a->cfg->summary_file);
    json_decref(j);
}

int main(int argc, char **argv)
{
    bm_config cfg;
    char err[1024];
    if (bm_config_init(&cfg)) return fail(1, "%s", "out of memory");
    bm_log_init("busmon-agent", BM_LOG_INFO);

    /* pass 1: --help, --version, --config (the file is read before other flags apply) */
    const char *config_path = getenv("BUSMON_CONFIG");
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            bm_config_deinit(&cfg);
            return 0;
        }
        if (c == OPT_VERSION) {
            printf("busmon-agent %s\n", BUSMON_VERSION);
            bm_config_deinit(&cfg);
            return 0;
        }
        if (c == OPT_CONFIG) config_path = optarg;
        if (c == '?') {
            fprintf(stderr, "busmon-agent: unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            bm_config_deinit(&cfg);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "busmon-agent: unexpected argument '%s' (see --help)\n", argv[optind]);
        bm_config_deinit(&cfg);
        return EXIT_USAGE;
    }
    int rc = 0;
    if (config_path && *config_path && bm_config_load_file(&cfg, config_path, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    if (bm_config_load_env(&cfg, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    /* pass 2: the other flags */
    int streams_from_flags = 0, check_only = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        size_t n;
        int64_t d;
        bm_log_level lv;
        switch (c) {
        case OPT_REDIS:
            bm_config_set_str(&cfg.redis_url, optarg);
            break;
        case OPT_STREAM:
            if (!streams_from_flags) {
                for (size_t i = 0; i < cfg.n_streams; i++)
                    free(cfg.streams[i]);
                cfg.n_streams = 0;
                streams_from_flags = 1;
            }
            if (bm_config_add_stream(&cfg, optarg, err, sizeof err)) {
                rc = fail(EXIT_USAGE, "%s", err);
                goto out;
            }
            break;
        case OPT_PSUBSCRIBE:
            if (bm_config_add_pattern(&cfg, optarg, err, sizeof err)) {
                rc = fail(EXIT_USAGE, "%s", err);
                goto out;
            }
            break;
        case OPT_GROUP:
            bm_config_set_str(&cfg.group, optarg);
            break;
        case OPT_CONSUMER:
            bm_config_set_str(&cfg.consumer, optarg);
            break;
        case OPT_BATCH:
            if (bm_parse_size(optarg, &n) || n == 0 || n > 100000) {
                rc = fail(EXIT_USAGE, "--batch must be 1-100000, not '%s'", optarg);
                goto out;
            }
            cfg.batch = n;
            break;
        case OPT_BLOCK:
            if (bm_parse_size(optarg, &n) || n > 3600000) {
                rc = fail(EXIT_USAGE, "--block-ms must be 0-3600000, not '%s'", optarg);
                goto out;
            }
            cfg.block_ms = (int)n;
            break;
        case OPT_RETENTION:
            if (bm_parse_duration_s(optarg, &d) || d <= 0) {
                rc = fail(EXIT_USAGE,
                          "--trace-retention must be a duration like 24h or 90m, not '%s'", optarg);
                goto out;
            }
            cfg.trace_retention_s = d;
            break;
        case OPT_MAXTX:
            if (bm_parse_size(optarg, &n) || n == 0) {
                rc = fail(EXIT_USAGE, "--max-transactions must be a positive number, not '%s'",
                          optarg);
                goto out;
            }
            cfg.max_transactions = n;
            break;
        case OPT_LOGLEVEL:
            if (bm_log_level_parse(optarg, &lv)) {
                rc = fail(EXIT_USAGE, "--log-level must be debug, info, warn or error, not '%s'",
                          optarg);
                goto out;
            }
            cfg.log_level = (int)lv;
            break;
        case OPT_ROLLUP:
        case OPT_HEALTH:
        case OPT_SYSTEM_INTERVAL:
        case OPT_ALERT_INTERVAL: {
            double ms;
            char *end;
            ms = strtod(optarg, &end);
            if (end == optarg || ms <= 0) goto bad_interval;
            if (!strcmp(end, "ms"))
                ms *= 1;
            else if (!strcmp(end, "s") || !*end)
                ms *= 1000;
            else if (!strcmp(end, "m"))
                ms *= 60000;
            else
                goto bad_interval;
            if (ms < 10 || ms > 86400000) goto bad_interval;
            if ((c == OPT_ALERT_INTERVAL || c == OPT_SYSTEM_INTERVAL) && ms < 100) {
                rc = fail(EXIT_USAGE,
                          c == OPT_ALERT_INTERVAL
                              ? "--alert-interval must be at least 100ms, not '%s'"
                              : "--system-interval must be at least 100ms, not '%s'",
                          optarg);
                goto out;
            }
            if (c == OPT_ALERT_INTERVAL)
                cfg.alerting->rules.interval_us = (int64_t)(ms * 1000);
            else if (c == OPT_ROLLUP)
                cfg.rollup_interval_ms = (int64_t)ms;
            else if (c == OPT_SYSTEM_INTERVAL)
                cfg.system_interval_ms = (int64_t)ms;
            else
                cfg.health_interval_ms = (int64_t)ms;
            break;
        bad_interval:
            rc = fail(EXIT_USAGE,
                      "intervals are durations from 10ms to 24h like 10s or 500ms, not '%s'",
                      optarg);
            goto out;
        }
        case OPT_DRAIN:
            cfg.drain = 1;
            break;
        case OPT_SUMMARY:
            bm_config_set_str(&cfg.summary_file, optarg);
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        case OPT_HTTP:
            bm_config_set_str(&cfg.http_listen, optarg);
            cfg.http_enabled = 1;
            break;
        case OPT_NO_HTTP:
            cfg.http_enabled = 0;
            break;
        default:
            break;
        }
    }
    bm_log_init("busmon-agent", (bm_log_level)cfg.log_level);
    if (bm_log_configure(cfg.log_json_format, cfg.log_file_path,
                         (long)(cfg.log_max_file_size_mb * 1024 * 1024), (int)cfg.log_backup_count))
        bm_warn("cannot open logging.file_path %s; logging to stderr", cfg.log_file_path);
    bm_debug("config: batch %zu, block %d ms, trace retention %lld s, max %zu transactions, "
             "http %s, system sample every %lld ms, log file %s (rotate at %g MB, %zu backups)",
             cfg.batch, cfg.block_ms, (long long)cfg.trace_retention_s, cfg.max_transactions,
             cfg.http_enabled ? cfg.http_listen : "off", (long long)cfg.system_interval_ms,
             cfg.log_file_path ? cfg.log_file_path : "-", cfg.log_max_file_size_mb,
             cfg.log_backup_count);
    if (cfg.n_streams == 0 && bm_config_add_stream(&cfg, "busmon:events", err, sizeof err)) {
        rc = fail(1, "%s", err);
        goto out;
    }

    if (cfg.pubsub_enabled && cfg.n_pubsub_patterns == 0) {
        char def[300];
        snprintf(def, sizeof def, "%s*", cfg.channel_prefix);
        if (bm_config_add_pattern(&cfg, def, err, sizeof err)) {
            rc = fail(EXIT_USAGE, "%s", err);
            goto out;
        }
    }

    bm_agent a;
    memset(&a, 0, sizeof a);
    a.cfg = &cfg;
    const char *url = bm_redis_url_choose(cfg.redis_url);
    if (bm_redis_url_parse(url, &a.url, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    /* Start-up check on a plain connection: reachable, authenticated, groups exist. */
    redisContext *sc = bm_redis_connect_sync(&a.url, 3000, err, sizeof err);
    if (!sc) {
        rc = fail(EXIT_REDIS, "%s", err);
        goto out;
    }
    for (size_t i = 0; i < cfg.n_streams; i++) {
        redisReply *r =
            redisCommand(sc, "XGROUP CREATE %s %s 0 MKSTREAM", cfg.streams[i], cfg.group);
        if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))) {
            snprintf(err, sizeof err, "cannot create consumer group '%s' on stream '%s': %s",
                     cfg.group, cfg.streams[i], r ? r->str : sc->errstr);
            if (r) freeReplyObject(r);
            redisFree(sc);
            rc = fail(EXIT_REDIS, "%s", err);
            goto out;
        }
        freeReplyObject(r);
    }
    redisFree(sc);
    if (check_only) {
        printf("configuration ok: %s, %zu stream(s), group %s, consumer %s\n", a.url.display,
               cfg.n_streams, cfg.group, cfg.consumer);
        printf("alerts: %s, %zu rule(s) every %.3g s, %zu sink(s)\n",
               cfg.alerting->rules.enabled ? "enabled" : "disabled", cfg.alerting->rules.n_rules,
               (double)cfg.alerting->rules.interval_us / 1e6, cfg.alerting->n_sinks);
        goto out;
    }

    signal(SIGPIPE, SIG_IGN);
    a.base = event_base_new();
    /* HTTP first: a port in use is the one line the operator sees, before
     * anything else starts and logs */
    if (a.base && cfg.http_enabled &&
        !(a.http = bm_http_new(&a, cfg.http_listen, err, sizeof err))) {
        rc = fail(1, "%s", err);
        event_base_free(a.base);
        goto out;
    }
    if (!a.base || bm_agent_start(&a)) {
        rc = fail(1, "%s", "cannot start (out of memory?)");
        bm_http_free(a.http);
        bm_agent_cleanup(&a);
        if (a.base) event_base_free(a.base);
        goto out;
    }
    bm_info("busmon-agent %s started: %s, streams:", BUSMON_VERSION, a.url.display);
    for (size_t i = 0; i < cfg.n_streams; i++)
        bm_info("  stream %s", cfg.streams[i]);
    if (cfg.pubsub_enabled)
        for (size_t i = 0; i < cfg.n_pubsub_patterns; i++)
            bm_info("  pub/sub pattern %s", cfg.pubsub_patterns[i]);
    event_base_dispatch(a.base);
    bm_alerting_finish(a.alerting); /* sinks deliver what they hold, within a deadline */
    write_summary(&a);
    rc = a.exit_code;
    bm_http_free(a.http);
    bm_agent_cleanup(&a);
    event_base_free(a.base);
out:
    bm_config_deinit(&cfg);
    return rc;
}
