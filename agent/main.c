/*
 * main.c - `busmon-agent`, as a table of contents: read the configuration,
 * check Redis, build the parts (agent/parts.h) and wire them, run the loop,
 * stop in order, write the summary.
 *
 *   config ─▶ loop, writer, session ─▶ persist, state ─▶ inputs (streams,
 *   pub/sub) ─▶ outputs (sinks) ─▶ jobs (publisher, sampler: sysmon,
 *   alerting) ─▶ http ─▶ run ─▶ stop hooks ─▶ outputs finish ─▶ summary
 */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/core/acl.h"
#include "agent/core/clock.h"
#include "agent/core/group_keys.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/redis_url.h"
#include "agent/core/sampler.h"
#include "agent/core/session.h"
#include "agent/core/writer.h"
#include "agent/http/counters.h"
#include "agent/http/server.h"
#include "agent/inputs/away.h"
#include "agent/inputs/pubsub.h"
#include "agent/inputs/reclaim.h"
#include "agent/inputs/streams.h"
#include "agent/jobs/alerting.h"
#include "agent/jobs/baseline.h"
#include "agent/jobs/cluster.h"
#include "agent/jobs/finisher.h"
#include "agent/jobs/otlp_metrics.h"
#include "agent/jobs/publisher.h"
#include "agent/jobs/sysmon.h"
#include "agent/outputs/outputs.h"
#include "agent/parts.h"
#include "agent/state/persist.h"
#include "agent/state/state.h"
#include "lib/checkpoint.h"
#include "lib/redact.h"
#include "lib/trace_json.h"

#ifndef BUSMON_VERSION
#define BUSMON_VERSION "0.1.0"
#endif

enum { EXIT_USAGE = 2, EXIT_REDIS = 3, EXIT_AWAY = 75 /* could not start again */ };

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

#define WRITES_HIGH_WATER 50000 /* pending writes above which reading pauses */
#define STOP_DEADLINE_MS  10000 /* the writer's flush at stop */
#define FLUSH_DEADLINE_MS 5000  /* the sinks' delivery at stop */
#define STOP_HARD_LIMIT_S 20    /* the whole stop, whatever hangs */
/* the most a stop keeps reading pub/sub for the other agents to take over */
#define PUBSUB_LINGER_MAX_US (5 * 1000000LL)

/* What starting this process again takes (main.c away_reset): argv as given
 * (copied before a password in it is hidden), where the password came from. */
typedef struct {
    char **argv;
    int pw_from_env; /* $BUSMON_REDIS_PASSWORD: wiped at start, set again for the new image */
} restart_args;

#define AWAY_RESETS_ENV "BUSMON_AGENT_AWAY_RESETS" /* away resets before this image */

/* Everything main builds, so teardown can free it in the right order. */
typedef struct {
    bm_config *cfg;
    bm_redis_url url;
    bm_parts p;
    bm_channel_scheme scheme;
    int stop_rc;
    int config_error;    /* build failed on the configuration (a sink, the HTTP token): exit 2 */
    char state_key[512]; /* busmon:state:<consumer> */
    bm_pubsub_input_opts pubsub_opts;
    const char **own_channels; /* the channels busmon PUBLISHes on (the config's strings) */
    char **other_channels;     /* another group's: core/group_keys.c's channel rows, base + ':' */
    size_t n_other_channels;
    bm_reclaim *reclaim;
    bm_away *away;
    restart_args *restart;
    long handoff_idx; /* this agent's hand-off stream in cfg->streams (-1: none) */
    bm_acl *acl; /* what Redis's ACL denied (core/acl.h) */
    baseline_health baseline_health; /* the worker table's judge hook reads it */
} agent;

/* ---- outputs: the defaults every agent writes, then the configured sinks ---- */

/* The `otlp:` section as one sink of type otlp (outputs/otlp.c), named "otlp". */
static int add_otlp(bm_outputs *o, const bm_config *c, char *err, size_t errlen)
{
    if (!c->otlp_endpoint || (!c->otlp_traces && !c->otlp_metrics)) return 0;
    char timeout[24], attempts[24], backoff[24], backoff_max[24], batch[24], interval[24],
        queue[24], hname[16][160];
    snprintf(timeout, sizeof timeout, "%dms", c->otlp_timeout_ms);
    snprintf(attempts, sizeof attempts, "%zu", c->otlp_max_attempts);
    snprintf(backoff, sizeof backoff, "%dms", c->otlp_backoff_ms);
    snprintf(backoff_max, sizeof backoff_max, "%dms", c->otlp_backoff_max_ms);
    snprintf(batch, sizeof batch, "%zu", c->otlp_batch_size);
    snprintf(interval, sizeof interval, "%dms", c->otlp_flush_interval_ms);
    snprintf(queue, sizeof queue, "%zu", c->otlp_queue);
    bm_sink_kv kv[16 + 16];
    size_t n = 0;
    kv[n++] = (bm_sink_kv){"type", "otlp"};
    kv[n++] = (bm_sink_kv){"name", "otlp"};
    kv[n++] = (bm_sink_kv){"topics", c->otlp_traces && c->otlp_metrics ? "spans,metrics"
                                     : c->otlp_traces                 ? "spans"
                                                                      : "metrics"};
    kv[n++] = (bm_sink_kv){"endpoint", c->otlp_endpoint};
    kv[n++] = (bm_sink_kv){"encoding", c->otlp_encoding ? c->otlp_encoding : "json"};
    kv[n++] = (bm_sink_kv){"service_name", c->otlp_service_name ? c->otlp_service_name : "busmon"};
    kv[n++] = (bm_sink_kv){"service_instance_id", c->consumer};
    kv[n++] = (bm_sink_kv){"timeout", timeout};
    kv[n++] = (bm_sink_kv){"max_attempts", attempts};
    kv[n++] = (bm_sink_kv){"backoff", backoff};
    kv[n++] = (bm_sink_kv){"backoff_max", backoff_max};
    kv[n++] = (bm_sink_kv){"batch_size", batch};
    kv[n++] = (bm_sink_kv){"flush_interval", interval};
    kv[n++] = (bm_sink_kv){"queue", queue};
    for (size_t i = 0; i < c->n_otlp_headers && i < 16; i++) {
        snprintf(hname[i], sizeof hname[i], "%s.%s",
                 c->otlp_headers[i].is_file ? "header_file" : "header", c->otlp_headers[i].name);
        kv[n++] = (bm_sink_kv){hname[i], c->otlp_headers[i].value};
    }
    return bm_outputs_add(o, kv, n, err, errlen);
}

/*
 * Each built-in output is one sink row (outputs/sink.h), named by its config
 * keys; `alerts.webhooks` / `alerts.sinks` (when alerting is on) and
 * `outputs.sinks` add theirs after these.
 */
static int add_outputs(bm_outputs *o, const bm_config *c, char *err, size_t errlen)
{
    const bm_alerting_config *al = c->alerting;
    char rollups_maxlen[24], system_maxlen[24], alerts_maxlen[24];
    snprintf(rollups_maxlen, sizeof rollups_maxlen, "%zu", c->rollups_maxlen);
    snprintf(system_maxlen, sizeof system_maxlen, "%zu", c->system_maxlen);
    snprintf(alerts_maxlen, sizeof alerts_maxlen, "%zu", al->maxlen);
    const bm_sink_kv rows[][6] = {
        {{"name", "rollups"},
         {"type", "redis_stream"},
         {"topics", "rollup"},
         {"stream", c->rollups_stream},
         {"maxlen", rollups_maxlen},
         {"channel", c->rollups_stream}},
        {{"name", "workers"},
         {"type", "redis_hash"},
         {"topics", "workers"},
         {"key", c->workers_hash},
         {"mode", "replace"}},
        {{"name", "health"},
         {"type", "redis_stream"},
         {"topics", "health"},
         {"stream", c->health_stream},
         {"maxlen", "10000"},
         {"channel", c->health_stream}},
        {{"name", "system"},
         {"type", "redis_stream"},
         {"topics", "system"},
         {"stream", c->system_stream},
         {"maxlen", system_maxlen}},
        {{"name", "alerts"},
         {"type", "redis_stream"},
         {"topics", "alert"},
         {"stream", al->stream},
         {"maxlen", alerts_maxlen},
         {"channel", al->channel}},
        {{"name", "alerts_firing"},
         {"type", "redis_hash"},
         {"topics", "alerts_firing"},
         {"key", al->firing_hash},
         {"mode", "replace"}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = 0;
        while (n < 6 && rows[i][n].key)
            n++;
        if (!al->rules.enabled && (i == 4 || i == 5)) continue; /* no alerts, no alert outputs */
        if (bm_outputs_add(o, rows[i], n, err, errlen)) return -1;
    }
    for (size_t i = 0; al->rules.enabled && i < al->n_sinks; i++)
        if (bm_outputs_add(o, al->sinks[i].kv, al->sinks[i].n_kv, err, errlen)) return -1;
    for (size_t i = 0; i < al->n_output_sinks; i++)
        if (bm_outputs_add(o, al->output_sinks[i].kv, al->output_sinks[i].n_kv, err, errlen))
            return -1;
    return add_otlp(o, c, err, errlen);
}

/*
 * --check-config: the outputs made as at start, on a throw-away event base and
 * without Redis, so what would stop the agent there (the otlp: section, a header
 * file, a sink's name taken by a built-in output) stops the check too.
 * @return 0, or -1 with the reason in err.
 */
static int check_outputs(const bm_config *c, char *err, size_t errlen)
{
    struct event_base *base = event_base_new();
    bm_sink_env env = {base, NULL};
    bm_outputs *o = base ? bm_outputs_new(&env) : NULL;
    int rc = o ? add_outputs(o, c, err, errlen) : (snprintf(err, errlen, "out of memory"), -1);
    bm_outputs_free(o);
    if (base) event_base_free(base);
    return rc;
}

/*
 * http.token_file read as the HTTP server reads it at start, then wiped: a
 * missing, empty or too long one, or one no client can send, is a bad
 * configuration (exit 2, which a restart does not fix, and --check-config
 * says so), not a failed start.
 * @return 0, or -1 with the reason in err.
 */
static int check_token_file(const bm_config *c, char *err, size_t errlen)
{
    if (!c->http_enabled || !c->http_token_file || !*c->http_token_file) return 0;
    char token[BM_HTTP_TOKEN_MAX];
    int rc = bm_http_token_read(c->http_token_file, token, sizeof token, err, errlen);
    volatile char *v = token;
    for (size_t i = 0; i < sizeof token; i++)
        v[i] = 0;
    return rc;
}

/* The configuration's ACL line, whole however long its names make it (caller frees).
 * @return it, or NULL (out of memory). */
static char *acl_line(const bm_config *c, const char *user, int readonly)
{
    size_t n = bm_config_acl_line(c, user, readonly, NULL, 0) + 1;
    char *line = malloc(n);
    if (line) bm_config_acl_line(c, user, readonly, line, n);
    return line;
}

/* ---- the parts ---------------------------------------------------------------- */

static uint64_t ingested(void *arg)
{
    agent *a = arg;
    bm_stream_input_stats in;
    bm_pubsub_input_stats ps;
    bm_stream_input_get_stats(a->p.streams, &in);
    bm_pubsub_input_get_stats(a->p.pubsub, &ps);
    return in.entries_read + ps.messages;
}

static uint64_t deadletters(void *arg)
{
    agent *a = arg;
    bm_persist_stats s;
    bm_persist_get_stats(a->p.persist, &s);
    /* several agents: every agent's, so the rate is the cluster's */
    return s.deadletter + bm_cluster_others_deadlettered(a->p.cluster);
}

/* The counter table's values now, the HTTP server's counters with them. */
static void collect_counters(const agent *a, bm_counter_snapshot *s)
{
    bm_http_stats http;
    bm_http_get_stats(a->p.http, &http);
    bm_counters_collect(&a->p, &http, s);
}

static json_t *counters_json(void *arg)
{
    agent *a = arg;
    bm_counter_snapshot s;
    collect_counters(a, &s);
    json_t *j = json_object();
    if (j && bm_counters_to_json(&s, j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* persist's checkpoint: the state and the alert engine, covering ids. */
static int encode_checkpoint(const char (*ids)[BM_STREAM_ID_MAX], size_t n,
                             struct msgpack_sbuffer *out, void *arg)
{
    agent *a = arg;
    return bm_state_encode_checkpoint(
        a->p.state, a->cfg->consumer, bm_alerting_engine(a->p.alerting), a->p.baselines,
        (const char *const *)a->cfg->streams, ids, n, bm_now_us(), out);
}

static int start_pubsub(agent *a);
static int own_channels(agent *a, bm_pubsub_input_opts *po);

/* The checkpoint came back (or did not): load it, then let reading start. */
typedef struct {
    agent *a;
    struct bm_stream_input *in;
    void (*done)(struct bm_stream_input *in, int ok);
} restore_ctx;

static void inputs_go(void *arg)
{
    restore_ctx ctx = *(restore_ctx *)arg;
    free(arg);
    if (!ctx.a->p.pubsub && start_pubsub(ctx.a))
        bm_error("pub/sub input not started (out of memory)");
    if (bm_persist_start(ctx.a->p.persist))
        bm_error("checkpoint timer not started (out of memory)");
    ctx.done(ctx.in, 1);
}

/* The state restored: the inputs start, in a cluster once the registry is
 * read (knowing no other agent, this one would keep every pub/sub message,
 * counted twice with its owner's copy, and apply every entry itself, the
 * commands of other agents' transactions left to time out here). */
static void inputs_start(agent *a, struct bm_stream_input *in,
                         void (*done)(struct bm_stream_input *in, int ok))
{
    restore_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        done(in, 0);
        return;
    }
    *ctx = (restore_ctx){a, in, done};
    if (a->p.cluster)
        bm_cluster_when_known(a->p.cluster, inputs_go, ctx);
    else
        inputs_go(ctx);
}

static void on_checkpoint_read(const redisReply *r, void *arg)
{
    restore_ctx ctx = *(restore_ctx *)arg;
    free(arg);
    agent *a = ctx.a;
    if (!r) { /* the connection went: again at the next one */
        ctx.done(ctx.in, 0);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && !bm_acl_is_denial(r->str) && !strstr(r->str, "WRONGTYPE")) {
        /* LOADING (a restarted Redis reading its data), BUSY, MASTERDOWN...:
         * the checkpoint is there but unreadable now. Started empty, the next
         * checkpoint would overwrite it: asked again after a reconnection */
        bm_warn("checkpoint %s could not be read (%s): reading waits, asked again after a "
                "reconnection",
                a->state_key, r->str);
        ctx.done(ctx.in, 0);
        bm_session_fail(a->p.session);
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {
        bm_info("no checkpoint at %s: starting with an empty state", a->state_key);
    } else if (r->type != REDIS_REPLY_STRING) {
        bm_warn("checkpoint %s could not be read (%s): starting with an empty state",
                a->state_key, r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
    } else {
        char err[256] = "", who[128] = "";
        int64_t ts = 0;
        char(*ids)[BM_STREAM_ID_MAX] = calloc(a->cfg->n_streams + 1, sizeof *ids);
        if (ids && bm_state_load_checkpoint(
                       a->p.state, bm_alerting_engine(a->p.alerting), a->p.baselines, r->str,
                       (size_t)r->len, (const char *const *)a->cfg->streams, ids, a->cfg->n_streams,
                       who, sizeof who, &ts, err, sizeof err) == 0) {
            bm_persist_restore_ids(a->p.persist, (const char(*)[BM_STREAM_ID_MAX])ids,
                                   a->cfg->n_streams);
            char when[48];
            bm_format_time_us(ts, 'T', when, sizeof when);
            bm_info("restored the state from %s (%lld bytes, written %s by %s)", a->state_key,
                    (long long)r->len, when, who);
        } else {
            bm_warn("checkpoint %s not restored: %s; starting with an empty state (its entries "
                    "still pending are applied again)",
                    a->state_key, ids ? err : "out of memory");
        }
        free(ids);
    }
    inputs_start(a, ctx.in, ctx.done);
}

static void restore_checkpoint(void *arg, struct bm_stream_input *in,
                               void (*done)(struct bm_stream_input *in, int ok))
{
    agent *a = arg;
    restore_ctx *ctx = malloc(sizeof *ctx);
    if (!a->cfg->checkpoint_interval_ms) { /* no checkpoints: nothing to restore */
        free(ctx);
        inputs_start(a, in, done);
        return;
    }
    if (!ctx) {
        done(in, 0);
        return;
    }
    *ctx = (restore_ctx){a, in, done};
    if (bm_writer_get(a->p.writer, BM_WRITE_STATE, a->state_key, on_checkpoint_read, ctx)) {
        free(ctx);
        done(in, 0);
    }
}

/* How long a partial counts after its agent's last heartbeat: the largest
 * window (the performance window, at least the 1 h rollup window) and a margin. */
static int64_t forget_us(const bm_config *c)
{
    int64_t w = c->perf_window_s * 1000000;
    if (w < 3600LL * 1000000) w = 3600LL * 1000000;
    return w + 600LL * 1000000;
}

/* Without the cluster: the own monitor, and this agent judges. */
static bm_monitor *own_acquire(void *arg)
{
    agent *a = arg;
    return bm_state_monitor(a->p.state);
}
static void own_release(void *arg, bm_monitor *m)
{
    (void)arg;
    (void)m;
}
static int own_judge(void *arg)
{
    (void)arg;
    return 1;
}
static bm_view own_view(agent *a)
{
    bm_view v = {own_acquire, own_release, own_judge, NULL, a};
    return v;
}

static const char *route_tx(void *arg, const char *tx)
{
    agent *a = arg;
    return bm_cluster_owner(a->p.cluster, tx);
}

static int owner_gone(void *arg, const char *owner)
{
    agent *a = arg;
    return bm_cluster_gone(a->p.cluster, owner);
}

static const char *route_pubsub(void *arg, const char *key, int64_t t_us)
{
    agent *a = arg;
    return bm_cluster_pubsub_owner(a->p.cluster, key, t_us);
}

static void checkpoint_soon(void *arg)
{
    agent *a = arg;
    bm_persist_checkpoint_soon(a->p.persist);
}

static json_t *agents_json(void *arg)
{
    agent *a = arg;
    return a->p.cluster ? bm_cluster_agents_json(a->p.cluster) : json_array();
}

static int build_state(agent *a)
{
    bm_config *c = a->cfg;
    bm_persist_opts po;
    memset(&po, 0, sizeof po);
    po.trace_prefix = c->trace_prefix;
    po.trace_ttl_s = c->trace_retention_s;
    po.deadletter_stream = c->deadletter_stream;
    po.deadletter_maxlen = c->deadletter_maxlen;
    po.group = c->group;
    po.streams = (const char *const *)c->streams;
    po.n_streams = c->n_streams;
    snprintf(a->state_key, sizeof a->state_key, "%s%s", c->state_prefix, c->consumer);
    po.state_key = c->checkpoint_interval_ms ? a->state_key : NULL;
    po.checkpoint_interval_us = c->checkpoint_interval_ms * 1000;
    po.encode = encode_checkpoint;
    po.encode_arg = a;
    po.index_key = c->trace_index_max ? c->trace_index_key : NULL;
    po.index_max = c->trace_index_max;
    po.index_trim_interval_us = c->trace_index_trim_interval_ms * 1000;
    po.flush_interval_us = c->trace_flush_interval_ms * 1000;
    po.state_ttl_ms = forget_us(c) / 1000; /* a gone agent's figures count until they age out */
    /* a claim whose ack was lost is pending again after min_idle, and found by
     * a round of its stream (one stream per reclaim.interval) */
    po.claims_keep_us =
        (c->reclaim_min_idle_ms + (int64_t)(c->n_streams + 2) * c->reclaim_interval_ms +
         2 * c->checkpoint_interval_ms + 60000) *
        1000;
    a->p.persist = bm_persist_new(&po, a->p.writer, bm_loop_base(a->p.loop));
    if (!a->p.persist) return -1; /* started once the state is restored */
    bm_state_opts so;
    memset(&so, 0, sizeof so);
    so.traces = (trace_store_limits){c->max_transactions, c->max_events_per_trace,
                                     c->trace_retention_s * 1000000};
    worker_stats_config_defaults(&so.workers);
    so.workers.max_workers = c->max_workers;
    so.workers.perf_window_us = c->perf_window_s * 1000000;
    so.workers.error_rate_threshold = c->error_rate_threshold;
    so.workers.failure_rate_threshold = c->failure_rate_threshold;
    so.workers.slow_threshold_us = c->slow_threshold_ms * 1000;
    so.workers.health_interval_us = c->health_interval_ms * 1000;
    so.workers.min_executions = (uint32_t)c->min_executions;
    so.workers.max_idle_us = c->max_idle_ms * 1000;
    _Static_assert(BM_MAX_DURATION_BUCKETS == WORKER_DURATION_BOUNDS_MAX, "duration buckets");
    if (c->n_duration_buckets) { /* else the default the table fills in */
        so.workers.n_duration_bounds = c->n_duration_buckets;
        memcpy(so.workers.duration_bounds_us, c->duration_buckets_us,
               c->n_duration_buckets * sizeof *c->duration_buckets_us);
    }
    if (c->baselines_enabled) { /* learned baselines: health (the hook) and alerts read them */
        baseline_config bc;
        baseline_config_defaults(&bc);
        bc.max_keys = c->baselines_max_keys;
        bc.alpha = c->baselines_alpha;
        bc.min_samples = (uint32_t)c->baselines_min_samples;
        bc.min_learning_us = c->baselines_min_learning_ms * 1000;
        bc.slots = (baseline_slots)baseline_slots_parse(c->baselines_slots);
        bc.slot_min_samples = (uint32_t)c->baselines_slot_min_samples;
        bc.outlier_factor = (double)c->baselines_outlier_factor;
        if (!(a->p.baselines = baselines_new(&bc))) return -1;
        a->baseline_health = (baseline_health){a->p.baselines, (double)c->baselines_degrade_ratio,
                                               (uint32_t)c->min_executions};
        so.workers.judge_hook = baselines_health_hook;
        so.workers.judge_arg = &a->baseline_health;
    }
    so.max_error_types = c->max_error_types;
    so.max_timeouts = c->max_timeouts;
    so.timeout_grace_us = c->timeout_grace_ms * 1000;
    so.metrics_enabled = c->custom_metrics_enabled;
    custom_metrics_config_defaults(&so.metrics);
    so.metrics.max_series = c->metrics_max_series;
    so.metrics.max_tags_per_series = (unsigned)c->metrics_max_tags;
    char why[160];
    if (custom_metrics_config_list(&so.metrics, 0, c->metrics_tag_allow, why, sizeof why) ||
        custom_metrics_config_list(&so.metrics, 1, c->metrics_tag_deny, why, sizeof why)) {
        bm_error("metrics.tag_allow / tag_deny: %s", why);
        return -1;
    }
    a->p.state = a->p.persist ? bm_state_new(&so, a->p.persist) : NULL;
    if (!a->p.state || bm_state_start(a->p.state, a->p.loop)) return -1;
    /* several agents, one monitor: the cluster gives the view every reader reads */
    bm_cluster_opts co = {c->consumer,
                          c->group,
                          c->cluster_registry,
                          c->cluster_leader_key,
                          c->state_prefix,
                          c->cluster_handoff_prefix,
                          c->cluster_heartbeat_ms * 1000,
                          c->cluster_stale_ms * 1000,
                          forget_us(c),
                          c->cluster_lease_ms * 1000,
                          c->cluster_refresh_ms * 1000,
                          so.workers,
                          so.max_error_types,
                          so.metrics,
                          bm_checkpoint_limits_for(c->max_workers, c->baselines_max_keys),
                          {c->max_entry_bytes, 0, 0, c->max_id_bytes}};
    if (c->cluster_enabled) {
        a->p.cluster = bm_cluster_new(&co, a->p.loop, a->p.writer, bm_state_monitor(a->p.state),
                                      NULL);
        if (!a->p.cluster || bm_cluster_start(a->p.cluster)) return -1;
        a->p.view = bm_cluster_view(a->p.cluster);
        /* a command's answer may go to another owner: read before a timeout */
        bm_decode_limits dl = {c->max_entry_bytes, 0, 0, c->max_id_bytes};
        bm_state_check_stored_answers(a->p.state, a->p.writer, c->trace_prefix, &dl);
    } else {
        a->p.view = own_view(a);
    }
    return 0;
}

/*
 * An entry applied here since the last checkpoint was claimed by another
 * agent while this one was away (inputs/away.c): start again as a restart
 * does, from that checkpoint, by executing this program again with the same
 * arguments (same pid; every descriptor but stdin/out/err closed on exec).
 * Not in this process: every component holding effects of the entries
 * applied since (the state and its traces, deadlines, the finisher, persist's
 * groups and writes in flight, alerting, baselines) would need a reset of
 * its own; the start is the one path that builds them from the checkpoint.
 * At the stop: nothing (the checkpoint is dropped, the entries stay pending).
 */
static void away_reset(void *arg, int64_t away_us)
{
    agent *a = arg;
    (void)away_us;
    if (bm_loop_stopping(a->p.loop) || !a->restart || !a->restart->argv) return;
    bm_stream_input_stats st;
    bm_stream_input_get_stats(a->p.streams, &st);
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)st.away_resets);
    setenv(AWAY_RESETS_ENV, n, 1);
    if (a->restart->pw_from_env) setenv("BUSMON_REDIS_PASSWORD", a->url.password, 1);
    fflush(stdout);
    fflush(stderr);
    /* the HTTP listener, Redis and the log file must not outlive this image,
     * nor a signal blocked now (the mask is inherited) */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", a->restart->argv);
    bm_error("cannot start again (%s): exiting without a checkpoint, as a crash would",
             strerror(errno));
    _exit(EXIT_AWAY);
}

static int build_away(agent *a)
{
    const bm_config *c = a->cfg;
    /* another agent's reclaim: twice our checkpoint interval without a new
     * checkpoint, or our registry heartbeat older than cluster.stale (our
     * last heartbeat may be one interval older than our last checkpoint) */
    int64_t judge_us = 2 * c->checkpoint_interval_ms * 1000;
    int64_t stale_us = (c->cluster_stale_ms - c->cluster_heartbeat_ms) * 1000;
    if (a->p.cluster && stale_us > 0 && stale_us < judge_us) judge_us = stale_us;
    /* counted across the images: the count before this one from the last */
    unsigned long long before = 0;
    const char *env = getenv(AWAY_RESETS_ENV);
    if (env) {
        char *end;
        before = strtoull(env, &end, 10);
        if (!*env || *end) before = 0;
        unsetenv(AWAY_RESETS_ENV);
    }
    bm_away_opts ao = {(const char *const *)c->streams,
                       c->n_streams,
                       c->group,
                       c->consumer,
                       a->handoff_idx,
                       judge_us,
                       before,
                       away_reset,
                       a,
                       c->reclaim_min_idle_ms * 1000,
                       c->state_prefix,
                       bm_loop_base(a->p.loop)};
    if (!(a->away = bm_away_new(&ao, a->p.writer, a->p.persist, a->p.streams))) return -1;
    return 0;
}

static int build_inputs(agent *a)
{
    bm_config *c = a->cfg;
    bm_stream_input_opts io = {(const char *const *)c->streams,
                               c->n_streams,
                               c->group,
                               c->consumer,
                               c->batch,
                               c->block_ms,
                               c->drain,
                               c->max_entry_bytes,
                               c->max_read_bytes,
                               restore_checkpoint,
                               a,
                               a->p.cluster ? route_tx : NULL,
                               a,
                               c->cluster_handoff_prefix,
                               a->handoff_idx,
                               c->max_id_bytes,
                               c->max_clock_skew_ms * 1000,
                               c->reclaim_max_deliveries,
                               c->read_linger_ms};
    a->p.streams = bm_stream_input_new(&io, a->p.loop, a->p.session, a->p.writer, a->p.state,
                                       a->p.persist);
    if (!a->p.streams) return -1;
    bm_reclaim_opts ro = {(const char *const *)c->streams,
                          c->n_streams,
                          c->group,
                          c->consumer,
                          c->state_prefix,
                          c->reclaim_interval_ms,
                          c->reclaim_min_idle_ms,
                          c->checkpoint_interval_ms,
                          c->reclaim_max_deliveries,
                          c->max_entry_bytes,
                          bm_checkpoint_limits_for(c->max_workers, c->baselines_max_keys),
                          a->p.cluster ? owner_gone : NULL,
                          a};
    if (!(a->reclaim = bm_reclaim_new(&ro, a->p.loop, a->p.writer, a->p.persist, a->p.streams)))
        return -1;
    if (c->checkpoint_interval_ms && build_away(a)) return -1;
    if (!c->pubsub_enabled || !c->n_pubsub_patterns) return 0;
    bm_channel_scheme_default(&a->scheme);
    a->scheme.prefix = c->channel_prefix;
    a->scheme.separator = c->channel_separator;
    a->scheme.command = c->channel_words[0];
    a->scheme.result = c->channel_words[1];
    a->scheme.error = c->channel_words[2];
    a->scheme.status = c->channel_words[3];
    a->scheme.compensation = c->channel_words[4];
    bm_pubsub_input_opts po = {(const char *const *)c->pubsub_patterns,
                               c->n_pubsub_patterns,
                               a->scheme,
                               c->max_entry_bytes,
                               a->p.cluster ? route_pubsub : NULL,
                               a,
                               c->max_id_bytes,
                               c->max_clock_skew_ms * 1000,
                               a->acl,
                               NULL,
                               0,
                               NULL,
                               0};
    if (own_channels(a, &po)) return -1;
    a->pubsub_opts = po; /* started once the state is restored: nothing applied before */
    return 0;
}

/* The channels the default outputs and the configured sinks PUBLISH on: a
 * pattern that matches one (`*`, `busmon:*`) must not read busmon's own
 * rollups, health and alerts back as bad events. @return 0, or -1 (no memory). */
static int own_channels(agent *a, bm_pubsub_input_opts *po)
{
    const bm_config *c = a->cfg;
    const bm_alerting_config *al = c->alerting;
    const bm_alerting_sink_config *sinks[2] = {al->sinks, al->output_sinks};
    size_t n_sinks[2] = {al->n_sinks, al->n_output_sinks}, n = 0;
    if (!(a->own_channels = malloc((3 + n_sinks[0] + n_sinks[1]) * sizeof *a->own_channels)))
        return -1;
    const char *fixed[3] = {c->rollups_stream, c->health_stream, al->channel};
    for (size_t i = 0; i < 3; i++)
        if (fixed[i]) a->own_channels[n++] = fixed[i];
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < n_sinks[t]; i++) {
            const char *type = NULL, *channel = NULL; /* a redis_stream sink's channel */
            for (size_t k = 0; k < sinks[t][i].n_kv; k++) {
                const bm_sink_kv *kv = &sinks[t][i].kv[k];
                if (!strcmp(kv->key, "type")) type = kv->value;
                if (!strcmp(kv->key, "channel")) channel = kv->value;
            }
            if (type && !strcmp(type, "redis_stream") && channel && *channel)
                a->own_channels[n++] = channel;
        }
    po->own_channels = a->own_channels;
    po->n_own_channels = n;
    /* another consumer group's busmon publishes on <default>:<group>, the keys of
     * core/group_keys.c's channel rows (config.c names this group's from them) */
    size_t n_rows;
    const bm_group_key *rows = bm_group_keys(&n_rows);
    if (!(a->other_channels = calloc(n_rows, sizeof *a->other_channels))) return -1;
    for (size_t i = 0; i < n_rows; i++) {
        if (!rows[i].channel) continue;
        char *prefix = malloc(strlen(rows[i].base) + 2);
        if (!prefix) return -1;
        sprintf(prefix, "%s:", rows[i].base);
        a->other_channels[a->n_other_channels++] = prefix;
    }
    po->others_prefixes = (const char *const *)a->other_channels;
    po->n_others_prefixes = a->n_other_channels;
    return 0;
}

static int start_pubsub(agent *a)
{
    if (!a->cfg->pubsub_enabled || !a->cfg->n_pubsub_patterns || bm_loop_stopping(a->p.loop))
        return 0;
    a->p.pubsub =
        bm_pubsub_input_new(&a->pubsub_opts, a->p.loop, &a->url, a->p.state, a->p.persist);
    if (!a->p.pubsub) return -1;
    for (size_t i = 0; i < a->cfg->n_pubsub_patterns; i++)
        bm_info("  pub/sub pattern %s", a->cfg->pubsub_patterns[i]);
    return 0;
}

/* Transactions judged over (sampling, OTLP spans) and the OTLP metrics, when asked for. */
static int build_finisher(agent *a, char *err, size_t errlen)
{
    bm_config *c = a->cfg;
    bm_monitor *mon = bm_state_monitor(a->p.state);
    if (bm_outputs_wants(a->p.outputs, BM_TOPIC_METRICS)) {
        a->p.otlp_metrics = bm_otlp_metrics_new(c->otlp_metrics_interval_ms * 1000, c->max_workers,
                                                c->max_idle_ms * 1000, a->p.loop, mon,
                                                bm_state_traces(a->p.state), a->p.outputs);
        if (!a->p.otlp_metrics) return snprintf(err, errlen, "out of memory"), -1;
    }
    bm_finisher_opts fo = {
        .settle_us = c->otlp_settle_ms * 1000,
        .idle_flush_us = c->otlp_idle_flush_ms * 1000,
        .max_open = c->max_transactions,
        .sampling = {c->sampling_rate, c->sampling_slow_ms * 1000, c->sampling_slow_p99},
        .sample_stored = 1,
        .sample_export = c->otlp_sampled,
        .trace_prefix = c->trace_prefix,
        .trace_ttl_s = c->trace_retention_s,
        .also = a->p.otlp_metrics ? bm_otlp_metrics_observe : NULL,
        .also_arg = a->p.otlp_metrics,
    };
    if (!bm_sampling_active(&fo.sampling) && !bm_outputs_wants(a->p.outputs, BM_TOPIC_SPANS) &&
        !a->p.otlp_metrics)
        return 0; /* nothing to do at a transaction's end */
    a->p.finisher = bm_finisher_new(&fo, a->p.loop, a->p.persist, bm_state_traces(a->p.state),
                                    mon, a->p.writer, a->p.outputs);
    if (!a->p.finisher) return snprintf(err, errlen, "out of memory"), -1;
    if (bm_sampling_active(&fo.sampling))
        bm_info("tail sampling of stored traces: rate %g (failed, timed-out, compensated%s kept)",
                c->sampling_rate,
                c->sampling_slow_ms || c->sampling_slow_p99 ? ", slow" : "");
    return 0;
}

static int build_jobs(agent *a, char *err, size_t errlen)
{
    bm_config *c = a->cfg;
    bm_sink_env env = {bm_loop_base(a->p.loop), a->p.writer};
    a->p.outputs = bm_outputs_new(&env);
    if (!a->p.outputs) return snprintf(err, errlen, "out of memory"), -1;
    if (add_outputs(a->p.outputs, c, err, errlen)) return a->config_error = 1, -1;
    bm_monitor *mon = bm_state_monitor(a->p.state);
    bm_publisher_opts pb = {c->rollup_interval_ms * 1000, c->health_interval_ms * 1000,
                            c->consumer, counters_json, a, agents_json, a, c->rollup_max_bytes};
    a->p.publisher = bm_publisher_new(&pb, a->p.loop, &a->p.view, a->p.outputs);
    a->p.sampler = bm_sampler_new(a->p.loop, a->p.writer, c->group, (const char *const *)c->streams,
                                  c->n_streams);
    if (!a->p.publisher || !a->p.sampler || bm_publisher_start(a->p.publisher))
        return snprintf(err, errlen, "out of memory"), -1;
    /* tests give the memory and CPU figures and the cgroup limits as files of their own */
    bm_sysmon_opts so = {c->system_interval_ms * 1000,
                         c->system_history_s * 1000000,
                         c->system_data_path,
                         c->consumer,
                         ingested,
                         a,
                         getenv("BUSMON_TEST_PROC_MEMINFO"),
                         getenv("BUSMON_TEST_CGROUP_ROOT"),
                         getenv("BUSMON_TEST_PROC_SELF_CGROUP"),
                         getenv("BUSMON_TEST_PROC_STAT")};
    a->p.sysmon = bm_sysmon_new(&so, a->p.sampler, mon, a->p.outputs);
    if (a->p.baselines) {
        bm_baseline_job_opts bo = {c->health_interval_ms * 1000, c->baselines_control_key};
        a->p.baseline_job =
            bm_baseline_job_new(&bo, a->p.loop, a->p.writer, &a->p.view, a->p.baselines);
        if (!a->p.baseline_job) return snprintf(err, errlen, "out of memory"), -1;
    }
    bm_alerting_opts ao = {.rules = &c->alerting->rules,
                           .agent = c->consumer,
                           .deadletters = deadletters,
                           .deadletters_arg = a,
                           .notified = checkpoint_soon,
                           .notified_arg = a,
                           .baselines = a->p.baselines,
                           /* tests give the CPU counters, memory figures and cgroups as files */
                           .proc_stat = getenv("BUSMON_TEST_PROC_STAT"),
                           .proc_meminfo = getenv("BUSMON_TEST_PROC_MEMINFO"),
                           .cgroup_root = getenv("BUSMON_TEST_CGROUP_ROOT"),
                           .proc_self_cgroup = getenv("BUSMON_TEST_PROC_SELF_CGROUP")};
    a->p.alerting = bm_alerting_new(&ao, a->p.loop, a->p.sampler, &a->p.view, a->p.outputs);
    if (!a->p.sysmon || !a->p.alerting || bm_sampler_start(a->p.sampler))
        return snprintf(err, errlen, "out of memory"), -1;
    if (a->p.cluster) bm_cluster_set_engine(a->p.cluster, bm_alerting_engine(a->p.alerting));
    return build_finisher(a, err, errlen);
}

/* ---- the orderly stop ------------------------------------------------------------ */

static void on_session_stopped(void *arg, int rc)
{
    agent *a = arg;
    bm_loop_exit(a->p.loop, rc || a->stop_rc ? 1 : 0);
}

/* The last checkpoint and its acks are in (or could not be): flush the writer. */
static void on_persist_finished(void *arg, int rc)
{
    agent *a = arg;
    if (rc) { /* nothing is lost, but the stop is not clean: exit 1, as at the hard limit */
        bm_warn("stopping: the last writes or checkpoint were not confirmed; their entries stay "
                "pending and are read again at the next start");
        a->stop_rc = 1;
    }
    bm_info("stopping: flushing %ld pending write(s)", bm_writer_pending(a->p.writer));
    bm_session_stop(a->p.session, STOP_DEADLINE_MS, on_session_stopped, a);
}

static void on_stop_limit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent *a = arg;
    bm_error("the stop took more than %d s; leaving with writes unconfirmed (their entries stay "
             "pending and are read again at the next start)",
             STOP_HARD_LIMIT_S);
    bm_loop_exit(a->p.loop, 1);
}

/* The stop, once no input is read any more: the last figures out, then
 * stored, checkpointed and acked. */
static void stop_when_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent *a = arg;
    bm_pubsub_input_stop(a->p.pubsub);
    bm_finisher_final(a->p.finisher);    /* ended transactions: sampled, exported */
    if (a->p.otlp_metrics) bm_otlp_metrics_export(a->p.otlp_metrics);
    bm_outputs_flush(a->p.outputs, FLUSH_DEADLINE_MS); /* sinks deliver what they hold */
    bm_info("stopping: %ld pending write(s), last checkpoint and acks next",
            bm_writer_pending(a->p.writer));
    bm_persist_finish(a->p.persist, on_persist_finished, a); /* stored, checkpoint, acks */
}

/* Stop hook: the order of a stop, first to last. */
static void stop_in_order(void *arg, const char *why)
{
    agent *a = arg;
    struct timeval limit = {STOP_HARD_LIMIT_S, 0};
    event_base_once(bm_loop_base(a->p.loop), -1, EV_TIMEOUT, on_stop_limit, a, &limit);
    bm_publisher_final(a->p.publisher); /* what readers see is current */
    bm_alerting_stop(a->p.alerting);    /* no more evaluations */
    /* lease given up, no more hand-offs to us; the other agents take our share
     * of pub/sub at an instant named ahead: counted here until then */
    int64_t linger_us = bm_cluster_leave(a->p.cluster);
    bm_stream_input_stop(a->p.streams);   /* no more reads */
    bm_session_drop_reader(a->p.session); /* a read in flight stays pending: read next start */
    if (!a->p.pubsub || linger_us <= 0) {
        bm_info("stopping (%s)", why);
        stop_when_read(-1, 0, a);
        return;
    }
    if (linger_us > PUBSUB_LINGER_MAX_US) linger_us = PUBSUB_LINGER_MAX_US;
    bm_info("stopping (%s): pub/sub read %lld ms more, until the other agents take this one's "
            "share",
            why, (long long)(linger_us / 1000));
    struct timeval tv = bm_tv_from_us(linger_us);
    event_base_once(bm_loop_base(a->p.loop), -1, EV_TIMEOUT, stop_when_read, a, &tv);
}

static int build(agent *a, char *err, size_t errlen)
{
    bm_config *c = a->cfg;
    a->p.agent = c->consumer;
    a->p.group = c->group;
    a->p.started_us = bm_now_us();
    a->p.loop = bm_loop_new();
    a->p.writer = bm_writer_new(WRITES_HIGH_WATER);
    char *line = acl_line(c, a->url.user[0] ? a->url.user : "busmon", 0);
    a->acl = line ? bm_acl_new(a->url.user[0] ? a->url.user : "default", line) : NULL;
    free(line);
    if (!a->p.loop || !a->p.writer || !a->acl) return snprintf(err, errlen, "out of memory"), -1;
    bm_writer_set_acl(a->p.writer, a->acl);
    if (check_token_file(c, err, errlen)) return a->config_error = 1, -1;
    /* HTTP first: a port in use is the one line the operator sees */
    bm_http_opts ho = {c->rollup_interval_ms * 1000, c->ready_max_lag, c->http_max_connections,
                       c->http_header_timeout_ms * 1000LL, c->http_token_file,
                       !c->metrics_export || !c->metrics_collection_enabled};
    if (c->http_enabled && !(a->p.http = bm_http_new(bm_loop_base(a->p.loop), c->http_listen, &a->p,
                                                     &ho, &a->config_error, err, errlen)))
        return -1;
    a->handoff_idx = -1;
    if (c->cluster_enabled) { /* this agent's hand-off stream is read like the others */
        char handoff[512];
        snprintf(handoff, sizeof handoff, "%s%s", c->cluster_handoff_prefix, c->consumer);
        if (bm_config_add_stream(c, handoff, err, errlen)) return -1;
        for (size_t i = 0; i < c->n_streams; i++)
            if (!strcmp(c->streams[i], handoff)) a->handoff_idx = (long)i;
    }
    a->p.session = bm_session_new(bm_loop_base(a->p.loop), &a->url, a->p.writer);
    if (!a->p.session || build_state(a) || build_inputs(a))
        return snprintf(err, errlen, "cannot start (out of memory?)"), -1;
    if (build_jobs(a, err, errlen)) return -1;
    if (bm_loop_on_stop(a->p.loop, stop_in_order, a)) return snprintf(err, errlen, "no hooks"), -1;
    bm_session_start(a->p.session);
    return 0;
}

/* Free in the reverse order: connections (their callbacks name the rest) first. */
static void teardown(agent *a)
{
    bm_http_free(a->p.http);
    bm_pubsub_input_free(a->p.pubsub);
    free(a->own_channels);
    for (size_t i = 0; i < a->n_other_channels; i++)
        free(a->other_channels[i]);
    free(a->other_channels);
    bm_session_free(a->p.session);
    bm_reclaim_free(a->reclaim);
    bm_away_free(a->away);
    bm_stream_input_free(a->p.streams);
    bm_alerting_free(a->p.alerting);
    bm_sysmon_free(a->p.sysmon);
    bm_sampler_free(a->p.sampler);
    bm_publisher_free(a->p.publisher);
    bm_finisher_free(a->p.finisher);
    bm_otlp_metrics_free(a->p.otlp_metrics);
    bm_outputs_free(a->p.outputs);
    bm_baseline_job_free(a->p.baseline_job);
    bm_cluster_free(a->p.cluster);
    bm_state_free(a->p.state);
    baselines_free(a->p.baselines);
    bm_persist_free(a->p.persist);
    bm_writer_free(a->p.writer);
    bm_acl_free(a->acl);
    bm_loop_free(a->p.loop);
}

/* ---- the summary ------------------------------------------------------------------- */

static long peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L;
}

/* The summary's alerts.sinks: of the counter table's outputs.sinks (every
 * output), those that take alerts, the same objects. */
static json_t *alert_sinks_json(const bm_outputs *o, json_t *every)
{
    json_t *sinks = json_object();
    for (size_t i = 0; sinks && i < bm_outputs_count(o); i++) {
        const bm_sink *s = bm_outputs_at(o, i);
        if (bm_sink_takes(s, BM_TOPIC_ALERT) || bm_sink_takes(s, BM_TOPIC_ALERTS_FIRING))
            json_object_set(sinks, bm_sink_name(s), json_object_get(every, bm_sink_name(s)));
    }
    return sinks;
}

static void write_summary(const agent *a)
{
    bm_counter_snapshot s;
    collect_counters(a, &s);
    int64_t first = bm_stream_input_first_entry_us(a->p.streams);
    int64_t ps_first = bm_pubsub_input_first_us(a->p.pubsub);
    if (ps_first && (!first || ps_first < first)) first = ps_first;
    int64_t last = bm_persist_last_ack_us(a->p.persist);
    if (bm_pubsub_input_last_us(a->p.pubsub) > last) last = bm_pubsub_input_last_us(a->p.pubsub);
    double secs = first && last > first ? (double)(last - first) / 1e6 : 0.0;
    uint64_t read = s.in.entries_read + s.ps.messages;
    double rate = secs > 0 ? (double)s.in.entries_read / secs : 0.0;
    json_t *j = json_object();
    bm_counters_to_json(&s, j);
    json_t *sinks = json_object_get(json_object_get(j, "outputs"), "sinks");
    json_object_set_new(json_object_get(j, "alerts"), "sinks",
                        alert_sinks_json(a->p.outputs, sinks));
    json_object_set_new(j, "seconds", json_real(secs));
    json_object_set_new(j, "events_per_s", json_real(rate));
    json_object_set_new(j, "peak_rss_bytes", json_integer(peak_rss_bytes()));
    json_object_set_new(j, "bytes_per_transaction",
                        json_real(s.traces_in_memory ? (double)s.trace_store_bytes /
                                                           (double)s.traces_in_memory
                                                     : 0.0));
    bm_info("summary: %llu entries in %.3f s (%.0f ev/s), %llu applied, %llu duplicates, %llu "
            "dead-lettered, %llu acked, peak RSS %ld KiB",
            (unsigned long long)read, secs, rate, (unsigned long long)s.st.events_applied,
            (unsigned long long)s.st.duplicates, (unsigned long long)s.persist.deadletter,
            (unsigned long long)s.persist.acked, peak_rss_bytes() / 1024);
    if (a->cfg->summary_file && json_dump_file(j, a->cfg->summary_file, JSON_INDENT(2)))
        bm_error("cannot write the summary to %s", a->cfg->summary_file);
    json_decref(j);
}

/* ---- main ---------------------------------------------------------------------------- */

/* Start-up check on a plain connection: reachable, authenticated, groups exist.
 * @return 0, or an exit code with the line printed. */
static int check_redis(const bm_config *cfg, const bm_redis_url *url)
{
    char err[1024];
    redisContext *sc = bm_redis_connect_sync(url, 3000, err, sizeof err);
    if (!sc) return fail(EXIT_REDIS, "%s", err);
    int rc = bm_writer_ensure_groups_sync(sc, (const char *const *)cfg->streams, cfg->n_streams,
                                          cfg->group, err, sizeof err);
    redisFree(sc);
    return rc ? fail(EXIT_REDIS, "%s", err) : 0;
}

static int run(bm_config *cfg, bm_config_action action, restart_args *restart)
{
    agent a;
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    a.restart = restart;
    char err[1024];
    const char *url = bm_redis_url_choose(cfg->redis_url);
    bm_redis_password_from pw_from;
    if (bm_redis_url_parse(url, &a.url, err, sizeof err) ||
        bm_redis_url_credentials(&a.url, cfg->redis_username, cfg->redis_password_file, &pw_from,
                                 err, sizeof err))
        return fail(EXIT_USAGE, "%s", err);
    restart->pw_from_env = pw_from == BM_REDIS_PASSWORD_ENV;
    char exposed[256];
    if (bm_config_http_exposed(cfg, exposed, sizeof exposed) && action == BM_CONFIG_RUN)
        bm_warn("%s", exposed);
    if (action == BM_CONFIG_PRINT_CONFIG)
        return bm_config_print(stdout, cfg) ? fail(1, "%s", "cannot print the settings") : 0;
    if (action == BM_CONFIG_PRINT_ACL) {
        char *agent_line = acl_line(cfg, a.url.user[0] ? a.url.user : "busmon", 0);
        char *cli_line = acl_line(cfg, "busmon-cli", 1);
        int ok = agent_line && cli_line;
        if (ok)
            printf("# busmon-agent: exactly the commands it sends, on its keys and channels\n%s\n"
                   "# the busmon CLI: read-only\n%s\n",
                   agent_line, cli_line);
        free(agent_line);
        free(cli_line);
        return ok ? 0 : fail(1, "%s", "out of memory");
    }
    if ((action == BM_CONFIG_CHECK_OFFLINE || action == BM_CONFIG_CHECK) &&
        (check_outputs(cfg, err, sizeof err) || check_token_file(cfg, err, sizeof err)))
        return fail(EXIT_USAGE, "%s", err);
    if (action == BM_CONFIG_CHECK_OFFLINE) {
        bm_config_print_summary(stdout, cfg, a.url.display, 0);
        printf("redis password: %s\n", bm_redis_password_from_name(pw_from));
        return 0;
    }
    int rc;
    if (action == BM_CONFIG_CHECK) {
        if ((rc = check_redis(cfg, &a.url))) return rc;
        bm_config_print_summary(stdout, cfg, a.url.display, 1);
        printf("redis password: %s\n", bm_redis_password_from_name(pw_from));
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (build(&a, err, sizeof err)) {
        rc = fail(a.config_error ? EXIT_USAGE : 1, "%s", err);
        teardown(&a);
        return rc;
    }
    bm_info("busmon-agent %s started: %s, streams:", BUSMON_VERSION, a.url.display);
    for (size_t i = 0; i < cfg->n_streams; i++)
        bm_info("  stream %s", cfg->streams[i]);
    rc = bm_loop_run(a.p.loop);
    const char *left_out[1];
    size_t n_left =
        cfg->drain && a.p.streams ? bm_stream_input_unreadable(a.p.streams, left_out, 1) : 0;
    if (n_left && rc == 0) { /* a batch job must not take a stream it never read for drained */
        bm_error("%zu stream(s) not drained: their keys hold another type (first: '%s')", n_left,
                 left_out[0]);
        rc = EXIT_REDIS;
    }
    bm_outputs_finish(a.p.outputs); /* sinks deliver what they hold, within the deadline */
    write_summary(&a);
    teardown(&a);
    return rc;
}

/* mkdir -p of the directory holding `path` (0755). @return 0, or -1 with why. */
static int make_parent_dirs(const char *path, char *why, size_t whylen)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return snprintf(why, whylen, "path too long"), -1;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0; /* the working directory, or / */
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p && *p != '/') continue;
        char keep = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(dir, 0755) && errno != EEXIST)
            return snprintf(why, whylen, "cannot create directory %.300s: %s", dir, strerror(errno)),
                   -1;
        if (stat(dir, &st) || !S_ISDIR(st.st_mode))
            return snprintf(why, whylen, "%.300s is not a directory", dir), -1;
        if (!keep) break;
        *p = keep;
    }
    return 0;
}

/*
 * The logger as configured: level, JSON or text, the file with its
 * rotation. The guides write file_path: ./logs/x.log with no logs/ yet: it
 * is made; a directory that cannot be made (or a file that cannot be
 * opened) is a bad configuration, exit 2, not a quiet fall back to stderr.
 * @return 0, or the exit code with the line printed.
 */
static int setup_logging(const bm_config *cfg)
{
    char err[1024], why[1024];
    bm_log_init("busmon-agent", (bm_log_level)cfg->log_level);
    if (cfg->log_file_path && make_parent_dirs(cfg->log_file_path, err, sizeof err)) {
        snprintf(why, sizeof why, "logging.file_path %.300s: %.400s", cfg->log_file_path, err);
        return fail(EXIT_USAGE, "%s", why);
    }
    if (bm_log_configure(cfg->log_json_format, cfg->log_file_path,
                         (long)(cfg->log_max_file_size_mb * 1024 * 1024),
                         (int)cfg->log_backup_count)) {
        snprintf(why, sizeof why, "logging.file_path %.300s: cannot open it for appending: %s",
                 cfg->log_file_path, strerror(errno));
        return fail(EXIT_USAGE, "%s", why);
    }
    return 0;
}

/* Said once the logger is set: busmon hid the password, but only now. */
static void warn_password_in_argv(void)
{
    bm_warn("the Redis password was given in a URL on the command line, where every local user "
            "can read it (ps, /proc/PID/cmdline) until busmon hides it at start; give it with "
            "--redis-password-file FILE (redis.password_file) or BUSMON_REDIS_PASSWORD instead");
}

static void log_config(const bm_config *cfg)
{
    bm_debug("config: batch %zu, block %d ms, trace retention %lld s, max %zu transactions, "
             "http %s, system sample every %lld ms, log file %s (rotate at %g MB, %zu backups)",
             cfg->batch, cfg->block_ms, (long long)cfg->trace_retention_s, cfg->max_transactions,
             cfg->http_enabled ? cfg->http_listen : "off", (long long)cfg->system_interval_ms,
             cfg->log_file_path ? cfg->log_file_path : "-", cfg->log_max_file_size_mb,
             cfg->log_backup_count);
}

int main(int argc, char **argv)
{
    bm_config cfg;
    char err[1024];
    if (bm_config_init(&cfg)) return fail(1, "%s", "out of memory");
    bm_log_init("busmon-agent", BM_LOG_INFO);
    /* tests move the agent's wall clock through a file (core/clock.h) */
    if (getenv("BUSMON_TEST_CLOCK_FILE"))
        bm_clock_set_offset_file(getenv("BUSMON_TEST_CLOCK_FILE"));
    bm_config_action action;
    int rc = 0;
    /* argv as given, before a password in it is hidden: a start again
     * (away_reset) takes the same (NULL: out of memory, never started again) */
    restart_args restart = {calloc((size_t)argc + 1, sizeof(char *)), 0};
    for (int i = 0; restart.argv && i < argc; i++)
        if (!(restart.argv[i] = strdup(argv[i]))) {
            for (int k = 0; k < i; k++)
                free(restart.argv[k]);
            free(restart.argv);
            restart.argv = NULL;
        }
    if (bm_config_from_args(&cfg, argc, argv, &action, err, sizeof err)) {
        rc = fail(EXIT_USAGE, "%s", err);
    } else if (action == BM_CONFIG_HELP) {
        bm_config_usage(stdout);
    } else if (action == BM_CONFIG_VERSION) {
        printf("busmon-agent %s\n", BUSMON_VERSION);
    } else {
        int hidden = bm_argv_hide_passwords(argc, argv); /* copied: ps shows it no longer */
        rc = setup_logging(&cfg);
        if (!rc && hidden) warn_password_in_argv();
        if (!rc) {
            log_config(&cfg);
            rc = run(&cfg, action, &restart);
        }
    }
    bm_config_deinit(&cfg);
    for (int i = 0; restart.argv && i < argc; i++)
        free(restart.argv[i]);
    free(restart.argv);
    return rc;
}
