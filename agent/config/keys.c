/*
 * keys.c - the agent's settings, one row each (keys.h), and what takes the
 * agent's table by name: bm_config_keys, bm_config_key_find, the agent's
 * bm_config_key_set and defaults, environment names.
 *
 * The table names the YAML readers of its rows (alerts:, alerting:,
 * otlp.headers, ...), so this file sits above them: the readers, the walker
 * (walk.c), the values (value.c) and the look-ups (key_lookup.c) are given
 * a table, they never ask for this one, and calls within config/ go one way.
 *
 * Order matters twice: --help lists flags in the order of their rows within
 * each group, and when two rows could apply (a key and its alias in one
 * file) the walker applies them in file order.
 */
#include "agent/config/keys.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/core/group_keys.h"
#include "agent/core/parse.h"
#include "agent/core/redis_url.h"
#include "lib/baseline.h"

#define CFG(f) .base = BM_BASE_CONFIG, .offset = offsetof(bm_config, f)
#define ALR(f) .base = BM_BASE_ALERTING, .offset = offsetof(bm_alerting_config, f)
#define RUL(f) .base = BM_BASE_RULES, .offset = offsetof(bm_alert_config, f)
#define MS     BM_US_PER_MS
#define SEC    BM_US_PER_S
#define HOUR   BM_US_PER_H
#define DAY    BM_US_PER_DAY

/* baselines.slots: one of lib/baseline.h's names. @return 1 or 0. */
static int baseline_slots_known(const char *text)
{
    return baseline_slots_parse(text) >= 0;
}

/* system.data_path: short enough for statvfs (PATH_MAX with its NUL):
 * a longer one would be cut, and the disk of a cut path is another's. */
static int data_path_fits(const char *text)
{
    return strlen(text) < PATH_MAX;
}

/* pubsub.prefix, .separator, .channels.*: a part of the channel names, never
 * "off". Every mapping is on and the prefix is never empty, so a YAML null or
 * a word meaning "off" is refused rather than taken as the word itself
 * ("null*" subscribed to, an "off" channel mapped). @return 1 or 0. */
static int channel_part_ok(const char *text)
{
    static const char *const off[] = {"null", "~", "none", "off", "false", "no"};
    for (size_t i = 0; i < sizeof off / sizeof *off; i++)
        if (!strcasecmp(text, off[i])) return 0;
    return 1;
}
#define CHANNEL_PART                                                                               \
    .valid = channel_part_ok,                                                                      \
    .valid_words = "a part of the channel names (a mapping cannot be turned off, nor the prefix "  \
                   "left out: null, ~, none, off, false and no are refused)"

/* clang-format off */
/* A key of the Python monitoring guides that busmon accepts and ignores: a
 * value other than `quiet` (what busmon does anyway; NULL: any value) is
 * warned about once, with the reason. */
#define GUIDE(p, quiet, why)                                                                       \
    {.path = p, .type = BM_KEY_GUIDE, .quiet_if = quiet,                                           \
     .help = "guide key, accepted and ignored: " why}

/* --help groups */
#define G_INPUT    "Redis and streams"
#define G_PUBSUB   "Pub/sub input"
#define G_TRACES   "Traces"
#define G_INTERVAL "Intervals (durations: 500ms, 10s, 1m; a bare number is seconds)"
#define G_HTTP     "HTTP"
#define G_LOG      "Logging"
#define G_RUN      "Running"

/* a row takes as few lines as it needs */
static const bm_config_key agent_keys[] = {
    /* redis, streams */
    {.path = "redis.url", .type = BM_KEY_STRING, .def = BM_DEFAULT_REDIS_URL,
     .flags = BM_KEY_F_COMPUTED, CFG(redis_url), .flag = "redis", .metavar = "URL",
     .group = G_INPUT,
     .help = "Redis to read and write: redis://[[user]:password@]host[:port][/db] or "
             "unix:///path"},
    {.path = "redis.password_file", .type = BM_KEY_STRING, CFG(redis_password_file),
     .flag = "redis-password-file", .metavar = "FILE", .group = G_INPUT,
     .help = "read the Redis password from FILE (its first line), never from argv; "
             "BUSMON_REDIS_PASSWORD also works (read, then cleared from the environment)"},
    {.path = "redis.username", .type = BM_KEY_STRING, CFG(redis_username),
     .flag = "redis-username", .metavar = "NAME", .group = G_INPUT,
     .help = "the Redis ACL user to AUTH as (with the password from the file or the "
             "environment)"},
    {.path = "streams", .alias_of = "streams.names"},
    {.path = "streams.names", .type = BM_KEY_STREAMS, .def = BM_STREAM_DEFAULT,
     .flags = BM_KEY_F_COMPUTED, CFG(streams), .env_alias = "BUSMON_STREAMS", .flag = "stream",
     .metavar = "NAME", .group = G_INPUT, .help = "the streams read through the consumer group"},
    {.path = "streams.group", .type = BM_KEY_STRING, .def = BM_GROUP_DEFAULT, CFG(group),
     .flags = BM_KEY_F_IDENTITY, .env_alias = "BUSMON_GROUP", .flag = "group", .metavar = "NAME",
     .group = G_INPUT, .help = "consumer group, created when missing (at most 200 bytes)"},
    {.path = "streams.consumer", .type = BM_KEY_STRING, .def = "busmon-<hostname>",
     .flags = BM_KEY_F_COMPUTED | BM_KEY_F_IDENTITY, CFG(consumer), .env_alias = "BUSMON_CONSUMER",
     .flag = "consumer", .metavar = "NAME", .group = G_INPUT,
     .help = "consumer name, stable across restarts (at most 200 bytes)"},
    {.path = "streams.batch", .type = BM_KEY_SIZE, .def = "1000", .lo = 1, .hi = 100000, CFG(batch),
     .flag = "batch", .metavar = "N", .group = G_INPUT, .help = "entries per XREADGROUP"},
    {.path = "streams.block_ms", .type = BM_KEY_DURATION, .def = "1000", .lo = MS, .hi = HOUR,
     .unit_us = MS, .flags = BM_KEY_F_INT, CFG(block_ms), .flag = "block-ms", .metavar = "MS",
     .group = G_INPUT,
     .help = "how long one read waits for new entries (at least 1ms: without a wait an idle "
             "stream is read again and again)"},
    {.path = "streams.read_linger_ms", .type = BM_KEY_DURATION, .def = "10", .lo = 0, .hi = 1000 * MS,
     .unit_us = MS, .flags = BM_KEY_F_INT, CFG(read_linger_ms), .flag = "read-linger-ms",
     .metavar = "MS", .group = G_INPUT,
     .help = "after a read that was not full, wait this long before the next, so entries "
             "arriving one by one are read together (0: read again at once)"},
    {.path = "streams.max_entry_bytes", .type = BM_KEY_SIZE, .def = "1048576", .lo = 1,
     CFG(max_entry_bytes), .help = "larger entries are dead-lettered"},
    {.path = "streams.max_read_bytes", .type = BM_KEY_SIZE, .def = "16M", .lo = 65536,
     .hi = 1024000000, CFG(max_read_bytes),
     .help = "one read's reply at most about this: COUNT shrinks after large entries"},

    /* what hostile input may cost */
    {.path = "limits.max_id_bytes", .type = BM_KEY_COUNT, .def = "256", .lo = 1, .hi = 256,
     CFG(max_id_bytes),
     .help = "ids and names (tx, worker, step, type, id, error type, pub/sub channel) longer "
             "than this are dead-lettered (bad_id), as are those holding NUL, a control "
             "character or invalid UTF-8"},
    {.path = "limits.max_clock_skew", .type = BM_KEY_DURATION, .def = "24h", .lo = 0,
     .hi = 3650.0 * DAY, .unit_us = MS, CFG(max_clock_skew_ms),
     .help = "an event time further than this from the agent's clock becomes its entry id's "
             "time (pub/sub: the receive time), counted; 0: believe every time"},
    {.path = "limits.max_idle", .type = BM_KEY_DURATION, .def = "1h", .lo = SEC,
     .hi = 365.0 * DAY, .unit_us = MS, CFG(max_idle_ms),
     .help = "workers and error types idle this long are evicted when their table is full "
             "and a new one arrives"},

    /* durable state and reclaim */
    {.path = "state.checkpoint_interval", .type = BM_KEY_DURATION, .def = "1s", .lo = 0,
     .hi = HOUR, .unit_us = BM_US_PER_MS, CFG(checkpoint_interval_ms),
     .flag = "checkpoint-interval", .metavar = "D", .group = G_INTERVAL,
     .help = "how often the state is checkpointed to Redis (busmon:state:<consumer>); entries "
             "are acked after it; 0: no checkpoint, ack once stored"},
    {.path = "state.key_prefix", .type = BM_KEY_NAME,
     .def = "busmon:state: (another streams.group: busmon:state:<group>:)",
     .flags = BM_KEY_F_COMPUTED, CFG(state_prefix), .also_sets = "state.key_prefix_set",
     .help = "the checkpoint key is this prefix and the consumer name"},
    {.path = "state.key_prefix_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(state_prefix_set)},
    /* several agents */
    {.path = "cluster.enabled", .type = BM_KEY_BOOL, .def = "true", CFG(cluster_enabled),
     .help = "several agents on one group make one monitor (registry, leader, hand-off)"},
    {.path = "cluster.registry", .type = BM_KEY_NAME,
     .def = "busmon:agents (another streams.group: busmon:agents:<group>)",
     .flags = BM_KEY_F_COMPUTED, CFG(cluster_registry), .also_sets = "cluster.registry_set",
     .help = "hash of the agents and their heartbeats, one per consumer group"},
    {.path = "cluster.registry_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(cluster_registry_set)},
    {.path = "cluster.leader_key", .type = BM_KEY_NAME,
     .def = "busmon:leader (another streams.group: busmon:leader:<group>)",
     .flags = BM_KEY_F_COMPUTED, CFG(cluster_leader_key), .also_sets = "cluster.leader_key_set",
     .help = "the leader's lease (SET NX PX), one per consumer group"},
    {.path = "cluster.leader_key_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(cluster_leader_key_set)},
    {.path = "cluster.handoff_prefix", .type = BM_KEY_NAME,
     .def = "busmon:handoff: (another streams.group: busmon:handoff:<group>:)",
     .flags = BM_KEY_F_COMPUTED, CFG(cluster_handoff_prefix),
     .also_sets = "cluster.handoff_prefix_set",
     .help = "each agent's hand-off stream: this and its name"},
    {.path = "cluster.handoff_prefix_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(cluster_handoff_prefix_set)},
    {.path = "cluster.heartbeat", .type = BM_KEY_DURATION, .def = "1s", .lo = 100 * MS,
     .hi = HOUR, .unit_us = BM_US_PER_MS, CFG(cluster_heartbeat_ms),
     .help = "how often an agent says it is there (and renews the lease)"},
    {.path = "cluster.stale", .type = BM_KEY_DURATION, .def = "5s", .lo = 300 * MS, .hi = DAY,
     .unit_us = BM_US_PER_MS, CFG(cluster_stale_ms),
     .help = "an agent silent this long owns no transactions (its figures still count)"},
    {.path = "cluster.lease", .type = BM_KEY_DURATION, .def = "10s", .lo = 100 * MS, .hi = DAY,
     .unit_us = BM_US_PER_MS, CFG(cluster_lease_ms), .flag = "leader-lease", .metavar = "D",
     .group = G_INTERVAL,
     .help = "the leader's lease; another agent takes over within two of them"},
    {.path = "cluster.refresh", .type = BM_KEY_DURATION, .def = "2s", .lo = 100 * MS, .hi = HOUR,
     .unit_us = BM_US_PER_MS, CFG(cluster_refresh_ms),
     .help = "how often the other agents' partials are read and merged"},
    {.path = "reclaim.interval", .type = BM_KEY_DURATION, .def = "30s", .lo = 0, .hi = DAY,
     .unit_us = BM_US_PER_MS, CFG(reclaim_interval_ms), .group = G_INTERVAL,
     .help = "how often entries idle in the group are claimed from other consumers (0: never)"},
    {.path = "reclaim.min_idle", .type = BM_KEY_DURATION, .def = "60s", .lo = 100 * MS,
     .hi = 7 * DAY, .unit_us = BM_US_PER_MS, CFG(reclaim_min_idle_ms),
     .help = "an entry pending this long for another consumer is claimed"},
    {.path = "reclaim.max_deliveries", .type = BM_KEY_COUNT, .def = "5", .lo = 1, .hi = 1000,
     CFG(reclaim_max_deliveries),
     .help = "an entry delivered more often is dead-lettered as poison, not applied"},

    /* traces */
    {.path = "traces.retention", .type = BM_KEY_DURATION, .def = "24h", .lo = SEC,
     .hi = 3650.0 * DAY, .unit_us = SEC, CFG(trace_retention_s), .flag = "trace-retention",
     .metavar = "D", .group = G_TRACES,
     .help = "how long traces are kept (TTL of busmon:trace:<tx>, and in memory), e.g. 24h, 90m"},
    {.path = "traces.retention_hours", .alias_of = "traces.retention"},
    {.path = "event_monitoring.trace_retention_hours", .alias_of = "traces.retention",
     .help = "guide key, read as traces.retention"},
    {.path = "traces.max_transactions", .type = BM_KEY_SIZE, .def = "100000", .lo = 1,
     CFG(max_transactions), .flag = "max-transactions", .metavar = "N", .group = G_TRACES,
     .help = "traces kept in memory; the oldest are evicted"},
    {.path = "event_monitoring.max_trace_history", .alias_of = "traces.max_transactions",
     .help = "the guides' code's name of traces.max_transactions"},
    {.path = "traces.max_events", .type = BM_KEY_SIZE, .def = "512", .lo = 1, .hi = 5000,
     CFG(max_events_per_trace),
     .help = "events kept per trace (at most 5000, what busmon trace reads); later ones are "
             "counted"},
    {.path = "traces.index_key", .type = BM_KEY_NAME, .def = "busmon:traces",
     CFG(trace_index_key), .also_sets = "traces.index_key_set",
     .help = "the trace search index: sorted sets <key>, <key>:failed and <key>:w:<worker> "
             "(busmon traces summarizes each candidate from its stored trace); another "
             "streams.group's: busmon:traces:<group>"},
    {.path = "traces.index_key_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(trace_index_key_set)},
    {.path = "traces.index_max", .type = BM_KEY_SIZE, .def = "100000", .lo = 0, .hi = 10000000,
     CFG(trace_index_max),
     .help = "transactions kept in each index set (the oldest dropped, counted); 0: no index"},
    {.path = "traces.flush_interval", .type = BM_KEY_DURATION, .def = "1s", .lo = 0,
     .hi = HOUR, .unit_us = BM_US_PER_MS, CFG(trace_flush_interval_ms),
     .flag = "trace-flush-interval", .metavar = "D", .group = G_TRACES,
     .help = "trace records and index members are written at most this long after "
             "their event is read (one write per transaction per interval; a checkpoint writes "
             "them sooner); the entries are acked after; 0: with every batch"},
    {.path = "traces.index_trim_interval", .type = BM_KEY_DURATION, .def = "1s", .lo = 0,
     .hi = HOUR, .unit_us = BM_US_PER_MS, CFG(trace_index_trim_interval_ms),
     .help = "an index set written is trimmed (retention, index_max) and its TTL renewed at "
             "most this often; 0: with every batch"},

    {.path = "traces.sampling.rate", .type = BM_KEY_FRACTION, .def = "1", CFG(sampling_rate),
     .flag = "sampling-rate", .metavar = "R", .group = G_TRACES,
     .help = "tail sampling: the share of ordinary transactions whose stored trace is kept "
             "(failed, timed-out, compensated and slow ones always are); 1 keeps all"},
    {.path = "traces.sampling.slow_threshold", .type = BM_KEY_DURATION, .def = "0", .lo = 0,
     .hi = DAY, .unit_us = MS, CFG(sampling_slow_ms),
     .help = "tail sampling: a transaction or step longer than this is kept (0: no threshold)"},
    {.path = "traces.sampling.slow_p99", .type = BM_KEY_BOOL, .def = "false",
     CFG(sampling_slow_p99),
     .help = "tail sampling: a step longer than its worker's current p99 (5 min) is kept"},

    /* OpenTelemetry */
    {.path = "otlp.endpoint", .type = BM_KEY_STRING, CFG(otlp_endpoint), .flag = "otlp-endpoint",
     .metavar = "URL", .group = G_TRACES,
     .help = "OTLP/HTTP base URL (http://collector:4318): export transactions as traces and "
             "workers as metrics (unset: no export)"},
    {.path = "otlp.encoding", .type = BM_KEY_STRING, .def = "json", CFG(otlp_encoding),
     .help = "json (OTLP/HTTP JSON); protobuf is not built in"},
    {.path = "otlp.headers", .type = BM_KEY_YAML, .yaml = bm_otlp_yaml_headers,
     .help = "request headers, NAME: VALUE (values are secrets: never logged)"},
    {.path = "otlp.header_files", .type = BM_KEY_YAML, .yaml = bm_otlp_yaml_headers,
     .help = "request headers, NAME: FILE whose first line is the value"},
    {.path = "otlp.service_name", .type = BM_KEY_STRING, .def = "busmon", CFG(otlp_service_name),
     .flags = BM_KEY_F_IDENTITY,
     .help = "the resource's service.name (service.instance.id is the consumer name)"},
    {.path = "otlp.timeout", .type = BM_KEY_DURATION, .def = "10s", .lo = 1 * MS, .hi = 10 * 60 * SEC,
     .unit_us = MS, .flags = BM_KEY_F_INT, CFG(otlp_timeout_ms),
     .help = "the longest one request may take, connecting included"},
    {.path = "otlp.max_attempts", .type = BM_KEY_COUNT, .def = "5", .lo = 1, .hi = 100,
     CFG(otlp_max_attempts), .help = "attempts per request (429, 5xx, connection errors retry)"},
    {.path = "otlp.backoff", .type = BM_KEY_DURATION, .def = "1s", .lo = 1 * MS, .hi = HOUR,
     .unit_us = MS, .flags = BM_KEY_F_INT, CFG(otlp_backoff_ms),
     .help = "wait before the first retry, doubled before each further one"},
    {.path = "otlp.backoff_max", .type = BM_KEY_DURATION, .def = "30s", .lo = 1 * MS, .hi = HOUR,
     .unit_us = MS, .flags = BM_KEY_F_INT, CFG(otlp_backoff_max_ms),
     .help = "the longest wait between two attempts (also caps Retry-After)"},
    {.path = "otlp.batch_size", .type = BM_KEY_COUNT, .def = "512", .lo = 1, .hi = 100000,
     CFG(otlp_batch_size), .help = "spans per request at most"},
    {.path = "otlp.flush_interval", .type = BM_KEY_DURATION, .def = "1s", .lo = 10 * MS,
     .hi = HOUR, .unit_us = MS, .flags = BM_KEY_F_INT, CFG(otlp_flush_interval_ms),
     .help = "an open batch of spans is sent at least this often"},
    {.path = "otlp.queue", .type = BM_KEY_COUNT, .def = "64", .lo = 1, .hi = 100000,
     CFG(otlp_queue),
     .help = "requests held at most; spans that come when it is full are dropped and counted"},
    {.path = "otlp.traces", .type = BM_KEY_BOOL, .def = "true", CFG(otlp_traces),
     .help = "export transactions as traces"},
    {.path = "otlp.metrics", .type = BM_KEY_BOOL, .def = "true", CFG(otlp_metrics),
     .help = "export the workers' metrics"},
    {.path = "otlp.metrics_interval", .type = BM_KEY_DURATION, .def = "30s", .lo = 100 * MS,
     .hi = DAY, .unit_us = MS, CFG(otlp_metrics_interval_ms),
     .help = "how often the workers' metrics are exported"},
    {.path = "otlp.idle_flush", .type = BM_KEY_DURATION, .def = "5m", .lo = 100 * MS, .hi = DAY,
     .unit_us = MS, CFG(otlp_idle_flush_ms),
     .help = "a transaction quiet this long without an end is finished anyway (exported running)"},
    {.path = "otlp.settle", .type = BM_KEY_DURATION, .def = "2s", .lo = 0, .hi = HOUR,
     .unit_us = MS, CFG(otlp_settle_ms),
     .help = "quiet after a completion or failure before a transaction is finished (and "
             "sampled): room for its compensations and final status"},
    {.path = "otlp.sampled", .type = BM_KEY_BOOL, .def = "false", CFG(otlp_sampled),
     .help = "export only the transactions traces.sampling keeps"},

    /* outputs */
    {.path = "outputs.trace_prefix", .type = BM_KEY_NAME, .def = "busmon:trace:", CFG(trace_prefix),
     .also_sets = "outputs.trace_prefix_set",
     .help = "one key per transaction: <prefix><tx>; another streams.group's: "
             "busmon:trace:<group>:"},
    {.path = "outputs.trace_prefix_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(trace_prefix_set)},
    {.path = "outputs.deadletter", .type = BM_KEY_NAME, .def = "busmon:deadletter",
     CFG(deadletter_stream), .also_sets = "outputs.deadletter_set",
     .help = "stream of the entries that could not be used; another streams.group's: "
             "busmon:deadletter:<group>"},
    {.path = "outputs.deadletter_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(deadletter_stream_set)},
    {.path = "outputs.deadletter_maxlen", .type = BM_KEY_SIZE, .def = "100000", .lo = 1,
     CFG(deadletter_maxlen), .help = "XADD MAXLEN ~ of the dead-letter stream"},
    {.path = "outputs.rollup_interval_seconds", .type = BM_KEY_DURATION, .def = "10s",
     .lo = 10 * MS, .hi = DAY, .unit_us = MS, CFG(rollup_interval_ms), .flag = "rollup-interval",
     .metavar = "D", .group = G_INTERVAL, .help = "how often rollups are published"},
    {.path = "outputs.rollups", .type = BM_KEY_NAME, .def = "busmon:rollups", CFG(rollups_stream),
     .also_sets = "outputs.rollups_set",
     .help = "stream and channel of the rollups; another streams.group's: "
             "busmon:rollups:<group>"},
    {.path = "outputs.rollups_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(rollups_stream_set)},
    {.path = "outputs.rollups_maxlen", .type = BM_KEY_SIZE, .def = "360", .lo = 1,
     .hi = 1000000000, CFG(rollups_maxlen), .help = "XADD MAXLEN ~ of the rollups stream"},
    {.path = "outputs.rollup_max_bytes", .type = BM_KEY_SIZE, .def = "128k", .lo = 16384,
     .hi = 67108864, CFG(rollup_max_bytes),
     .help = "a rollup entry (m + json) at most this big: the most active workers and error "
             "types that fit, the rest summarised"},
    {.path = "outputs.workers", .type = BM_KEY_NAME, .def = "busmon:workers", CFG(workers_hash),
     .also_sets = "outputs.workers_set",
     .help = "hash: worker -> its current state; another streams.group's: "
             "busmon:workers:<group>"},
    {.path = "outputs.workers_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(workers_hash_set)},
    {.path = "outputs.health", .type = BM_KEY_NAME, .def = "busmon:health", CFG(health_stream),
     .also_sets = "outputs.health_set",
     .help = "stream and channel of health transitions; another streams.group's: "
             "busmon:health:<group>"},
    {.path = "outputs.health_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(health_stream_set)},
    {.path = "outputs.system", .type = BM_KEY_NAME, .def = "busmon:system", CFG(system_stream),
     .also_sets = "outputs.system_set",
     .help = "stream of the system samples; another streams.group's: busmon:system:<group>"},
    {.path = "outputs.system_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(system_stream_set)},
    {.path = "outputs.system_maxlen", .type = BM_KEY_SIZE, .def = "8640", .lo = 1,
     .hi = 1000000000, CFG(system_maxlen), .help = "XADD MAXLEN ~ of the system stream"},

    /* logging */
    {.path = "logging.level", .type = BM_KEY_LOGLEVEL, .def = "info", CFG(log_level),
     .env_alias = "BUSMON_LOG_LEVEL", .flag = "log-level", .metavar = "LEVEL", .group = G_LOG,
     .help = "debug, info, warn or error"},
    {.path = "logging.json_format", .type = BM_KEY_BOOL, .def = "auto", .flags = BM_KEY_F_AUTO,
     CFG(log_json_format), .help = "JSON lines; auto: unless stderr is a terminal"},
    {.path = "logging.file_path", .type = BM_KEY_STRING, CFG(log_file_path),
     .help = "log to this file instead of stderr"},
    {.path = "logging.max_file_size_mb", .type = BM_KEY_MEGABYTES, .def = "10", .lo = 0, .hi = 1e6,
     CFG(log_max_file_size_mb), .help = "rotate the log file at this size; 0: never"},
    {.path = "logging.max_size_mb", .alias_of = "logging.max_file_size_mb",
     .help = "the guides' code's name of logging.max_file_size_mb"},
    {.path = "logging.backup_count", .type = BM_KEY_COUNT, .def = "5", .lo = 0, .hi = 1000,
     CFG(log_backup_count), .help = "rotated log files kept"},
    GUIDE("logging.default_logger", NULL, "busmon-agent has one logger (logging.file_path, else stderr)"),
    GUIDE("logging.include_caller_info", "false", "busmon's lines name the program, not a source line"),

    /* worker monitoring: the guides' keys, read as they are */
    {.path = "worker_monitoring.error_rate_threshold", .type = BM_KEY_FRACTION, .def = "0.1",
     CFG(error_rate_threshold), .help = "a worker is degraded above this error rate (5 min)"},
    {.path = "worker_monitoring.failure_rate_threshold", .type = BM_KEY_FRACTION, .def = "0.5",
     CFG(failure_rate_threshold), .help = "a worker has failed at or above this failure rate"},
    {.path = "worker_monitoring.slow_execution_threshold_ms", .type = BM_KEY_DURATION,
     .def = "5000", .lo = MS, .hi = DAY, .unit_us = MS, CFG(slow_threshold_ms),
     .help = "a worker is degraded when its p95 duration is above this"},
    {.path = "worker_monitoring.health_check_interval_seconds", .type = BM_KEY_DURATION,
     .def = "30s", .lo = 10 * MS, .hi = DAY, .unit_us = MS, CFG(health_interval_ms),
     .flag = "health-interval", .metavar = "D", .group = G_INTERVAL,
     .help = "how often worker health is judged"},
    {.path = "worker_monitoring.timeout_grace", .type = BM_KEY_DURATION, .def = "1s", .lo = 0,
     .hi = HOUR, .unit_us = MS, CFG(timeout_grace_ms),
     .help = "busmon calls a command timed out this long after its timeout_seconds with no "
             "answer (the framework's own timeout answer comes at timeout_seconds)"},
    {.path = "worker_monitoring.performance_window_minutes", .type = BM_KEY_DURATION, .def = "60",
     .lo = SEC, .hi = 30.0 * DAY, .unit_us = SEC, CFG(perf_window_s),
     .help = "window of the per-worker performance figures"},
    {.path = "worker_monitoring.min_executions", .type = BM_KEY_SIZE, .def = "5", .lo = 1,
     .hi = 1e9, CFG(min_executions), .help = "executions needed before a worker's health is judged"},
    {.path = "worker_monitoring.max_workers", .type = BM_KEY_SIZE, .def = "1000", .lo = 1,
     CFG(max_workers), .help = "workers tracked; more are refused and counted"},
    GUIDE("worker_monitoring.enabled", "true", "workers are always monitored (health drives alerts and /ready)"),
    GUIDE("worker_monitoring.alert_on_high_error_rate", "true",
          "the alert rule high_error_rate decides: alerts.disable: [high_error_rate]"),
    GUIDE("worker_monitoring.track_resource_usage", "true", "system metrics are always sampled (system:)"),

    /* learned baselines */
    {.path = "baselines.enabled", .type = BM_KEY_BOOL, .def = "true", CFG(baselines_enabled),
     .help = "learn each worker's normal p50, p95, error rate and throughput (the anomaly "
             "rules and health compare with them)"},
    {.path = "baselines.slots", .type = BM_KEY_STRING, .def = "hour_of_week",
     CFG(baselines_slots), .valid = baseline_slots_known,
     .valid_words = "none, hour_of_day or hour_of_week",
     .help = "a baseline per hour of the week, per hour of the day, or none (one for all "
             "times): none, hour_of_day or hour_of_week"},
    {.path = "baselines.alpha", .type = BM_KEY_FRACTION, .def = "0.05", CFG(baselines_alpha),
     .help = "weight of a new sample in the moving mean and variance (0: the default)"},
    {.path = "baselines.min_samples", .type = BM_KEY_SIZE, .def = "20", .lo = 1, .hi = 1e9,
     CFG(baselines_min_samples),
     .help = "samples (one per health interval with executions) before a baseline is used"},
    {.path = "baselines.min_learning", .type = BM_KEY_DURATION, .def = "1h", .lo = 0,
     .hi = 30.0 * DAY, .unit_us = MS, CFG(baselines_min_learning_ms),
     .help = "time since a worker's first sample before its baseline is used"},
    {.path = "baselines.slot_min_samples", .type = BM_KEY_SIZE, .def = "10", .lo = 1, .hi = 1e9,
     CFG(baselines_slot_min_samples),
     .help = "samples an hour slot needs before it is used instead of the overall baseline"},
    {.path = "baselines.outlier_factor", .type = BM_KEY_COUNT, .def = "3", .lo = 0, .hi = 1000,
     CFG(baselines_outlier_factor),
     .help = "a sample over this many times a ready baseline is not learned; 0: learn all"},
    {.path = "baselines.degrade_ratio", .type = BM_KEY_COUNT, .def = "5", .lo = 0, .hi = 1000,
     CFG(baselines_degrade_ratio),
     .help = "a worker is degraded at this many times its baseline p95 or error rate "
             "(1m window); 0: health ignores baselines"},
    {.path = "baselines.max_keys", .type = BM_KEY_SIZE, .def = "1000", .lo = 1, .hi = 1e6,
     CFG(baselines_max_keys),
     .help = "baselines kept (their table is allocated at start); an idle one makes room, "
             "else refused"},
    {.path = "baselines.control_key", .type = BM_KEY_NAME,
     .def = "busmon:baseline:ctl (another streams.group: busmon:baseline:ctl:<group>)",
     .flags = BM_KEY_F_COMPUTED, CFG(baselines_control_key),
     .also_sets = "baselines.control_key_set",
     .help = "hash the CLI writes freeze / clear requests to (busmon baseline freeze W)"},
    {.path = "baselines.control_key_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(baselines_control_key_set)},

    /* event monitoring */
    {.path = "event_monitoring.max_error_types", .type = BM_KEY_SIZE, .def = "200", .lo = 1,
     CFG(max_error_types), .help = "error types tracked"},
    GUIDE("event_monitoring.enabled", "true", "events are always monitored: busmon is an event monitor"),
    GUIDE("event_monitoring.cleanup_interval_minutes", NULL,
          "traces expire by themselves (traces.retention: a TTL in Redis, a sweep in memory)"),
    GUIDE("event_monitoring.track_payload_size", "false",
          "payload sizes are not tracked (entries are bounded by streams.max_entry_bytes)"),
    GUIDE("event_monitoring.detailed_timing", "true", "timings are always kept"),
    {.path = "event_monitoring.max_traces_per_transaction", .alias_of = "traces.max_events",
     .help = "guide key, read as traces.max_events (trace entries kept per transaction)"},

    /* pub/sub input */
    {.path = "pubsub.enabled", .type = BM_KEY_BOOL, .def = "false", CFG(pubsub_enabled),
     .also_sets = "pubsub.enabled_set", .help = "also read events published on Redis pub/sub"},
    {.path = "pubsub.enabled_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(pubsub_enabled_set)},
    {.path = "pubsub.patterns", .type = BM_KEY_PATTERNS, .def = "<pubsub.prefix>*",
     .flags = BM_KEY_F_COMPUTED | BM_KEY_F_ARGS_SETS, CFG(pubsub_patterns),
     .env_alias = "BUSMON_PSUBSCRIBE", .flag = "psubscribe", .metavar = "PAT", .group = G_PUBSUB,
     .also_sets = "pubsub.enabled",
     .help = "channel patterns to PSUBSCRIBE (the channel names type and worker: "
             "multiagent:command.<worker>, result.<worker>, status.*); from a flag or the "
             "environment they turn the pub/sub input on"},
    {.path = "pubsub.prefix", .type = BM_KEY_STRING, CHANNEL_PART, .def = "multiagent:",
     CFG(channel_prefix), .flags = BM_KEY_F_IDENTITY,
     .help = "channel names: <prefix><word><separator><worker>"},
    {.path = "pubsub.separator", .type = BM_KEY_STRING, CHANNEL_PART, .def = ".",
     CFG(channel_separator), .flags = BM_KEY_F_IDENTITY,
     .help = "between the word and the worker in channel names"},
    {.path = "pubsub.channels.command", .type = BM_KEY_STRING, CHANNEL_PART, .def = "command",
     .flags = BM_KEY_F_IDENTITY, CFG(channel_words[0]), .help = "the word of command channels"},
    {.path = "pubsub.channels.result", .type = BM_KEY_STRING, CHANNEL_PART, .def = "result",
     .flags = BM_KEY_F_IDENTITY, CFG(channel_words[1]), .help = "the word of result channels"},
    {.path = "pubsub.channels.error", .type = BM_KEY_STRING, CHANNEL_PART, .def = "error",
     .flags = BM_KEY_F_IDENTITY, CFG(channel_words[2]), .help = "the word of error channels"},
    {.path = "pubsub.channels.status", .type = BM_KEY_STRING, CHANNEL_PART, .def = "status",
     .flags = BM_KEY_F_IDENTITY, CFG(channel_words[3]), .help = "the word of status channels"},
    {.path = "pubsub.channels.compensation", .type = BM_KEY_STRING, CHANNEL_PART,
     .def = "compensation", .flags = BM_KEY_F_IDENTITY, CFG(channel_words[4]),
     .help = "the word of compensation channels"},
    {.path = "pubsub.max_timeouts", .type = BM_KEY_SIZE, .def = "100000", .lo = 1,
     CFG(max_timeouts), .help = "commands with a timeout awaiting their answer (more: counted)"},

    /* HTTP */
    {.path = "http.enabled", .type = BM_KEY_BOOL, .def = "true", CFG(http_enabled),
     .also_sets = "http.enabled_set", .help = "serve /metrics, /health, /ready and /api"},
    {.path = "http.enabled_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     CFG(http_enabled_set)},
    {.path = "http.listen", .type = BM_KEY_LISTEN, .def = "127.0.0.1:9464",
     .flags = BM_KEY_F_ARGS_SETS, CFG(http_listen), .env_alias = "BUSMON_HTTP", .flag = "http",
     .metavar = "ADDR", .group = G_HTTP, .also_sets = "http.enabled",
     .help = "serve /metrics, /health, /ready and /api on host:port; off: do not serve"},
    {.path = "http.enabled", .type = BM_KEY_BOOL, .fixed = "false",
     .flags = BM_KEY_F_NO_YAML | BM_KEY_F_NO_ENV, CFG(http_enabled), .flag = "no-http",
     .also_sets = "http.enabled_set", .group = G_HTTP, .help = "do not serve HTTP (http.enabled: false)"},
    {.path = "http.duration_buckets", .type = BM_KEY_DURATIONS,
     .def = "ten per decade, 1ms..100s",
     .flags = BM_KEY_F_COMPUTED, .lo = 1, .hi = DAY, CFG(duration_buckets_us),
     .help = "le bounds of busmon_worker_duration_seconds, ascending, at most 64 (0.005 or "
             "5ms); default: ten per decade (R10) from 1ms to 100s, 51 bounds; a change "
             "restarts the histogram (counts cannot be re-binned)"},
    {.path = "http.ready_max_lag", .type = BM_KEY_COUNT, .def = "100000", .lo = 0, .hi = 3600000,
     .flags = BM_KEY_F_INT, CFG(ready_max_lag),
     .help = "/ready answers 503 above this consumer lag; 0: no bound"},
    {.path = "http.max_connections", .type = BM_KEY_COUNT, .def = "256", .lo = 1, .hi = 65536,
     .flags = BM_KEY_F_INT, CFG(http_max_connections),
     .help = "HTTP connections at once (fewer when the fd limit is lower); at the bound the "
             "oldest one still sending its request is closed for a new one"},
    {.path = "http.header_timeout", .type = BM_KEY_DURATION, .def = "5s", .lo = 100 * MS,
     .hi = HOUR, .unit_us = MS, .flags = BM_KEY_F_INT, CFG(http_header_timeout_ms),
     .help = "a request's headers and body must arrive within this, from the connection"},
    {.path = "http.token_file", .type = BM_KEY_STRING, CFG(http_token_file),
     .help = "a bearer token (the file's first line) every route but /health requires"},

    /* system metrics */
    {.path = "system.interval_seconds", .type = BM_KEY_DURATION, .def = "10s", .lo = 100 * MS,
     .hi = DAY, .unit_us = MS, CFG(system_interval_ms), .flag = "system-interval", .metavar = "D",
     .group = G_INTERVAL, .help = "how often system metrics are sampled"},
    {.path = "system.history_hours", .type = BM_KEY_DURATION, .def = "24", .lo = SEC,
     .hi = 3650.0 * DAY, .unit_us = SEC, CFG(system_history_s),
     .help = "system samples kept in memory for /api/system"},
    {.path = "system.data_path", .type = BM_KEY_STRING, CFG(system_data_path),
     .valid = data_path_fits, .valid_words = "a path of at most 4095 bytes (PATH_MAX)",
     .help = "disk use of this path; default: Redis's dir when local, else /"},
    {.path = "metrics_collection.collection_interval_seconds",
     .alias_of = "system.interval_seconds", .help = "guide key, read as system.interval_seconds"},
    {.path = "metrics_collection.retention_hours", .alias_of = "system.history_hours",
     .help = "guide key, read as system.history_hours"},
    {.path = "metrics_collection.enabled", .type = BM_KEY_BOOL, .def = "true",
     CFG(metrics_collection_enabled),
     .help = "guide key; false: /metrics is not served (404), like export_prometheus: false; "
             "system samples are still taken (alerts, /api/system)"},
    GUIDE("metrics_collection.include_system_metrics", "true", "system metrics are always sampled (alerts and /api/system use them)"),
    {.path = "metrics_collection.custom_metrics_enabled", .type = BM_KEY_BOOL, .def = "true",
     CFG(custom_metrics_enabled), .env_alias = "BUSMON_METRICS_ENABLED",
     .help = "metric events (proto/README.md 5.1) aggregated for busmon metrics, /api/metrics and "
             "/metrics; false: they are counted as untraced, nothing more"},
    {.path = "metrics_collection.max_series", .type = BM_KEY_SIZE, .def = "10000", .lo = 1,
     CFG(metrics_max_series), .env_alias = "BUSMON_METRICS_MAX_SERIES",
     .help = "business metric series (name + tag set) kept; past it, one idle for the "
             "performance window is evicted, else the event is refused and counted"},
    {.path = "metrics_collection.max_tags_per_series", .type = BM_KEY_COUNT, .def = "8", .lo = 1,
     .hi = 16, CFG(metrics_max_tags), .env_alias = "BUSMON_METRICS_MAX_TAGS_PER_SERIES",
     .help = "tags a series keeps (the first in key order; the rest dropped and counted)"},
    {.path = "metrics_collection.tag_allow", .type = BM_KEY_STRING, CFG(metrics_tag_allow),
     .env_alias = "BUSMON_METRICS_TAG_ALLOW",
     .help = "tag keys kept, separated by ',' or ' ' (default: all but tag_deny's)"},
    {.path = "metrics_collection.tag_deny", .type = BM_KEY_STRING, CFG(metrics_tag_deny),
     .env_alias = "BUSMON_METRICS_TAG_DENY",
     .help = "tag keys dropped (a user id: one series per user otherwise), separated by ',' or ' '"},
    {.path = "metrics_collection.export_prometheus", .type = BM_KEY_BOOL, .def = "true",
     CFG(metrics_export),
     .help = "guide key; false: /metrics is not served (404); the rest of HTTP is"},
    {.path = "metrics_collection.export_port", .type = BM_KEY_COUNT, .def = "0", .lo = 0,
     .hi = 65535, .flags = BM_KEY_F_INT, CFG(metrics_export_port),
     .help = "guide key; the port HTTP (/metrics and the rest) listens on, on http.listen's "
             "host, unless http.listen names another address; 0: http.listen's port"},
    {.path = "metrics", .type = BM_KEY_SECTION, .alias_of = "metrics_collection",
     .help = "the guides' code reads metrics_collection under this name"},

    /* alerts: the rules (alert_rules.c), the outputs and sinks (alerting.c) */
    {.path = "alerts", .type = BM_KEY_YAML, .yaml = bm_alerting_yaml_section,
     .base = BM_BASE_ALERTING, .help = "alert rules and where notifications go"},
    {.path = "alerting", .type = BM_KEY_YAML, .yaml = bm_guide_alerting_yaml,
     .base = BM_BASE_ALERTING, .phase = 1,
     .help = "the guides' alerting: rules (name, condition: <metric> <op> <value>, severity, "
             "description, cooldown_minutes) and channels (webhook, slack, pagerduty), read as "
             "busmon rules and sinks"},
    {.path = "alerts.enabled", .type = BM_KEY_BOOL, .def = "true", RUL(enabled),
     .help = "evaluate the alert rules"},
    {.path = "alerts.interval", .type = BM_KEY_DURATION, .def = "10s", .lo = 100 * MS, .hi = DAY,
     .unit_us = 1, .bare_us = SEC, RUL(interval_us), .flag = "alert-interval", .metavar = "D",
     .group = G_INTERVAL, .help = "how often alert rules are evaluated"},
    {.path = "alerts.history", .type = BM_KEY_COUNT, .def = "100", .lo = 1, .hi = 10000,
     RUL(history), .help = "alert transitions kept in memory"},
    {.path = "alerts.max_alerts", .type = BM_KEY_COUNT, .def = "10000", .lo = 1, .hi = 1000000,
     RUL(max_alerts), .help = "pending and firing alerts at once"},
    {.path = "alerts.builtins", .type = BM_KEY_BOOL, .def = "true", RUL(builtins), .phase = -1,
     .flags = BM_KEY_F_NO_ENV, .yaml = bm_alert_rules_yaml_builtins,
     .help = "start from the seven built-in rules"},
    {.path = "alerts.rules", .type = BM_KEY_YAML, .yaml = bm_alert_rules_yaml_rules,
     .base = BM_BASE_RULES, .help = "rules: built-ins changed, or new ones"},
    {.path = "alerts.disable", .type = BM_KEY_YAML, .yaml = bm_alert_rules_yaml_disable,
     .base = BM_BASE_RULES, .phase = 1, .help = "rules kept but not evaluated"},
    {.path = "alerts.stream", .type = BM_KEY_NAME, .def = "busmon:alerts", ALR(stream),
     .also_sets = "alerts.stream_set",
     .help = "stream of every notification; another streams.group's: busmon:alerts:<group>"},
    {.path = "alerts.stream_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     ALR(stream_set)},
    {.path = "alerts.channel", .type = BM_KEY_NAME, .def = "<alerts.stream>",
     .flags = BM_KEY_F_COMPUTED, ALR(channel), .also_sets = "alerts.channel_set",
     .help = "channel every notification is published on"},
    {.path = "alerts.channel_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL,
     ALR(channel_set)},
    {.path = "alerts.maxlen", .type = BM_KEY_COUNT, .def = "10000", .lo = 1, .hi = 100000000,
     ALR(maxlen), .help = "XADD MAXLEN ~ of the alerts stream"},
    {.path = "alerts.firing", .type = BM_KEY_NAME, .def = "<alerts.stream>:firing",
     .flags = BM_KEY_F_COMPUTED, ALR(firing_hash), .also_sets = "alerts.firing_set",
     .help = "hash of the alerts firing now"},
    {.path = "alerts.firing_set", .type = BM_KEY_BOOL, .flags = BM_KEY_F_INTERNAL, ALR(firing_set)},
    {.path = "alerts.webhooks", .type = BM_KEY_YAML, .yaml = bm_alerting_yaml_sinks,
     .base = BM_BASE_ALERTING, .help = "notification sinks, one mapping each"},
    {.path = "alerts.sinks", .type = BM_KEY_YAML, .yaml = bm_alerting_yaml_sinks,
     .base = BM_BASE_ALERTING, .help = "more sinks, read as alerts.webhooks"},
    {.path = "outputs.sinks", .type = BM_KEY_YAML, .yaml = bm_outputs_yaml_sinks,
     .base = BM_BASE_ALERTING,
     .help = "sinks of any topic (type, topics: rollup, health, system, ...), one mapping each"},

    /* flags that are not config file keys */
    {.path = "config", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML, .env = "BUSMON_CONFIG",
     .flag = "config", .metavar = "FILE", .group = G_RUN,
     .help = "YAML configuration (see deploy/busmon.yaml)"},
    {.path = "drain", .type = BM_KEY_BOOL, .fixed = "true",
     .flags = BM_KEY_F_NO_YAML | BM_KEY_F_NO_ENV, CFG(drain), .flag = "drain", .group = G_RUN,
     .help = "exit 0 once every stream is read to its end (batch jobs, benchmarks); exit 3 "
             "when a stream's key holds another type and was not read"},
    {.path = "summary", .type = BM_KEY_STRING, .flags = BM_KEY_F_NO_YAML | BM_KEY_F_NO_ENV,
     CFG(summary_file), .flag = "summary", .metavar = "FILE", .group = G_RUN,
     .help = "write a JSON summary of the run to FILE at exit"},
    {.path = "check-config", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML,
     .flag = "check-config", .group = G_RUN,
     .help = "check the configuration, and Redis (exit 3 when unreachable), then exit"},
    {.path = "print-acl", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML, .flag = "print-acl",
     .group = G_RUN,
     .help = "print the Redis ACL SETUSER lines this configuration needs (the agent's: "
             "exactly the commands it sends; the CLI's: read-only), then exit"},
    {.path = "print-config", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML,
     .flag = "print-config", .group = G_RUN,
     .help = "print the settings in effect (defaults, file, environment, flags) as a config "
             "file it reads back, defaults marked, a password in redis.url left out; then exit"},
    {.path = "offline", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML, .flag = "offline",
     .group = G_RUN, .help = "with --check-config: check the configuration only, not Redis"},
    {.path = "help", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML, .flag = "help",
     .short_flag = 'h', .group = G_RUN, .help = "this help"},
    {.path = "version", .type = BM_KEY_ACTION, .flags = BM_KEY_F_NO_YAML, .flag = "version",
     .group = G_RUN, .help = "print the version"},
};
/* clang-format on */

const bm_config_key *bm_config_keys(size_t *n)
{
    if (n) *n = sizeof agent_keys / sizeof *agent_keys;
    return agent_keys;
}

const bm_config_key *bm_config_key_find(const char *path)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    return bm_keys_find(keys, n, path);
}

int bm_config_key_env(const bm_config_key *k, char *buf, size_t len)
{
    if (k->env) {
        snprintf(buf, len, "%s", k->env);
        return 0;
    }
    if (k->alias_of || (k->flags & (BM_KEY_F_NO_ENV | BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL)) ||
        k->type == BM_KEY_YAML || k->type == BM_KEY_SECTION || k->type == BM_KEY_GUIDE ||
        k->type == BM_KEY_ACTION)
        return -1;
    int n = snprintf(buf, len, "BUSMON_%s", k->path);
    if (n < 0 || (size_t)n >= len) return -1;
    for (char *p = buf; *p; p++)
        *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    return 0;
}

int bm_config_key_set(const bm_config_key *k, void *const base[BM_BASE__COUNT], const char *text,
                      const char *subject, int how, char *why, size_t whylen)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    return bm_keys_set(keys, n, k, base, text, subject, how, why, whylen);
}

int bm_config_keys_defaults(void *const base[BM_BASE__COUNT], char *why, size_t whylen)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    return bm_keys_defaults(keys, n, base, why, whylen);
}
