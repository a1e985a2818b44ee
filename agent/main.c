/*
 * agent_main.c - `busmon-agent`: flags, configuration, start-up checks (one
 * clear line and a non-zero exit for a bad URL, an unreachable Redis or a bad
 * config file), the loop, and the exit summary.
 */
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

    bm_config_action action;
    int rc = 0;
    if (bm_config_from_args(&cfg, argc, argv, &action, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    if (action == BM_CONFIG_HELP || action == BM_CONFIG_VERSION) {
        if (action == BM_CONFIG_HELP)
            bm_config_usage(stdout);
        else
            printf("busmon-agent %s\n", BUSMON_VERSION);
        goto out;
    }
    int check_only = action == BM_CONFIG_CHECK;
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
    bm_agent a;
    memset(&a, 0, sizeof a);
    a.cfg = &cfg;
    const char *url = bm_redis_url_choose(cfg.redis_url);
    if (bm_redis_url_parse(url, &a.url, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    if (action == BM_CONFIG_CHECK_OFFLINE) {
        bm_config_print_summary(stdout, &cfg, a.url.display, 0);
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
        bm_config_print_summary(stdout, &cfg, a.url.display, 1);
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
