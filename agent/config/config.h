/*
 * config.h - busmon-agent's configuration: defaults, then a YAML file, then
 * environment variables, then command-line flags (each overriding the last).
 *
 * Every setting is one row of the key table (keys.h), which all four
 * sources and --help read, so a value means the same and is checked the
 * same wherever it is written. The configuration is passed explicitly:
 * nothing here is global. Unknown YAML keys are warned about, with a
 * suggestion when a known key is close, not fatal (a monitoring.yaml written
 * for the Python monitors can sit in the same file); a key busmon knows
 * with an unusable value is fatal, with the line and the reason.
 */
#ifndef BM_AGENT_CONFIG_H
#define BM_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/core/parse.h"

#define BM_MAX_STREAMS 64
#define BM_MAX_DURATION_BUCKETS 64 /* WORKER_DURATION_BOUNDS_MAX (lib/worker_stats.h) */

struct bm_alerting_config; /* alerting.h */

/* Told about each ignorable problem, one line ("FILE:LINE: unknown key 'x' (ignored)"). */
typedef void (*bm_config_warn_cb)(const char *message, void *arg);

typedef struct {
    char *redis_url;               /* NULL: BUSMON_REDIS_URL, else the default */
    char *redis_password_file;     /* redis.password_file: the password's file (NULL: none) */
    char *redis_username;          /* redis.username: the ACL user (NULL: the URL's, if any) */
    char *streams[BM_MAX_STREAMS]; /* streams read through the consumer group */
    size_t n_streams;
    char *group;    /* consumer group, default "busmon" */
    char *consumer; /* consumer name, default "busmon-<hostname>" (stable across restarts) */
    size_t batch;   /* XREADGROUP COUNT, default 1000 */
    int block_ms;   /* XREADGROUP BLOCK, default 1000 */
    int read_linger_ms; /* streams.read_linger_ms: pause after a read that was not full, 10 */

    int64_t trace_retention_s;   /* TTL of busmon:trace:<tx> and in-memory retention; 24 h */
    size_t max_transactions;     /* traces in memory, default 100000 */
    size_t max_events_per_trace; /* default 512 */
    size_t max_entry_bytes;      /* larger entries are dead-lettered; default 1 MiB */
    size_t max_read_bytes;       /* streams.max_read_bytes: one read's reply at most about this */
    size_t max_id_bytes;            /* limits.max_id_bytes, 256: longer ids are dead-lettered */
    int64_t max_clock_skew_ms;      /* limits.max_clock_skew, 24 h; 0: none */
    int64_t max_idle_ms;            /* limits.max_idle, 1 h: evictable when the table is full */
    int64_t checkpoint_interval_ms; /* state.checkpoint_interval, 1 s; 0: none */
    char *state_prefix;             /* state.key_prefix, "busmon:state:"; another group's:
                                       "busmon:state:<group>:" */
    int state_prefix_set;           /* state.key_prefix given: it does not follow the group */
    int64_t reclaim_interval_ms;    /* reclaim.interval, 30 s; 0: never */
    int64_t reclaim_min_idle_ms;    /* reclaim.min_idle, 60 s */
    size_t reclaim_max_deliveries;  /* reclaim.max_deliveries, 5 */
    int cluster_enabled;            /* cluster.enabled */
    char *cluster_registry;         /* "busmon:agents"; another group's: "busmon:agents:<group>" */
    int cluster_registry_set;       /* cluster.registry given: it does not follow the group */
    char *cluster_leader_key;       /* "busmon:leader"; another group's: "busmon:leader:<group>" */
    int cluster_leader_key_set;     /* cluster.leader_key given: it does not follow the group */
    char *cluster_handoff_prefix;   /* "busmon:handoff:"; another group's: ...:<group>: */
    int cluster_handoff_prefix_set; /* cluster.handoff_prefix given: it does not follow the group */
    int64_t cluster_heartbeat_ms, cluster_stale_ms, cluster_lease_ms, cluster_refresh_ms;

    char *trace_prefix;       /* "busmon:trace:"; another group's: "busmon:trace:<group>:" */
    int trace_prefix_set;     /* outputs.trace_prefix given: it does not follow the group */
    char *trace_index_key;    /* traces.index_key, "busmon:traces" (the search index); another
                                 group's: "busmon:traces:<group>" */
    int trace_index_key_set;  /* traces.index_key given */
    size_t trace_index_max;   /* traces.index_max, 100000; 0: no index */
    int64_t trace_index_trim_interval_ms; /* traces.index_trim_interval, 1 s */
    int64_t trace_flush_interval_ms;      /* traces.flush_interval, 1 s */
    char *deadletter_stream;              /* "busmon:deadletter"; another group's: ...:<group> */
    int deadletter_stream_set;            /* outputs.deadletter given */
    size_t deadletter_maxlen; /* MAXLEN ~, default 100000 */

    /* worker performance and health (issue 3); the monitoring guides' keys */
    double error_rate_threshold;   /* worker_monitoring.error_rate_threshold, 0.1 */
    double failure_rate_threshold; /* worker_monitoring.failure_rate_threshold, 0.5 */
    int64_t slow_threshold_ms;     /* worker_monitoring.slow_execution_threshold_ms, 5000 */
    int64_t health_interval_ms;    /* worker_monitoring.health_check_interval_seconds, 30 s */
    int64_t perf_window_s;         /* worker_monitoring.performance_window_minutes, 60 min */
    int64_t timeout_grace_ms;      /* worker_monitoring.timeout_grace, 1 s past timeout_seconds */
    size_t min_executions;         /* worker_monitoring.min_executions, 5 */
    size_t max_workers;            /* worker_monitoring.max_workers, 1000 */
    size_t max_error_types;        /* event_monitoring.max_error_types, 200 */

    /* learned baselines (lib/baseline.h, jobs/baseline.h) */
    int baselines_enabled;             /* baselines.enabled, true */
    char *baselines_slots;             /* baselines.slots, "hour_of_week" */
    double baselines_alpha;            /* baselines.alpha, 0.05 */
    size_t baselines_min_samples;      /* baselines.min_samples, 20 */
    int64_t baselines_min_learning_ms; /* baselines.min_learning, 1 h */
    size_t baselines_slot_min_samples; /* baselines.slot_min_samples, 10 */
    size_t baselines_outlier_factor;   /* baselines.outlier_factor, 3; 0: learn everything */
    size_t baselines_degrade_ratio;    /* baselines.degrade_ratio, 5; 0: health ignores them */
    size_t baselines_max_keys;         /* baselines.max_keys, 1000 */
    char *baselines_control_key;       /* baselines.control_key, "busmon:baseline:ctl" (another
                                          group's: "busmon:baseline:ctl:<group>") */
    int baselines_control_key_set;     /* baselines.control_key given: not the group's */
    /* business metrics (metric events); YAML `metrics:` is metrics_collection: */
    int custom_metrics_enabled; /* metrics_collection.custom_metrics_enabled, true */
    size_t metrics_max_series;  /* metrics_collection.max_series, 10000 */
    size_t metrics_max_tags;    /* metrics_collection.max_tags_per_series, 8 */
    char *metrics_tag_allow;    /* metrics_collection.tag_allow: keys, ',' or ' ' separated */
    char *metrics_tag_deny;     /* metrics_collection.tag_deny */

    /* rollups */
    int64_t rollup_interval_ms; /* outputs.rollup_interval_seconds, 10 s */
    char *rollups_stream;       /* outputs.rollups: stream and channel, "busmon:rollups";
                                   another group's: "busmon:rollups:<group>", and so the rest */
    int rollups_stream_set;     /* outputs.rollups given: it does not follow the group */
    size_t rollups_maxlen;      /* outputs.rollups_maxlen, 360 (1 h at 10 s) */
    size_t rollup_max_bytes;    /* outputs.rollup_max_bytes, 128 KiB per entry */
    char *workers_hash;         /* outputs.workers: "busmon:workers" */
    int workers_hash_set;       /* outputs.workers given */
    char *health_stream; /* outputs.health: transitions, stream and channel, "busmon:health" */
    int health_stream_set; /* outputs.health given */

    /* pub/sub input (issue 4): frameworks that publish instead of XADD */
    int pubsub_enabled;                    /* pubsub.enabled, or any --psubscribe */
    int pubsub_enabled_set;                /* pubsub.enabled given: patterns do not turn it on */
    char *pubsub_patterns[BM_MAX_STREAMS]; /* pubsub.patterns; none: "<prefix>*" */
    size_t n_pubsub_patterns;
    char *channel_prefix;    /* pubsub.prefix, "multiagent:" */
    char *channel_separator; /* pubsub.separator, "." */
    char *channel_words[5];  /* pubsub.channels.{command,result,error,status,compensation} */
    size_t max_timeouts;     /* commands with a timeout waiting for their answer, 100000 */
    struct bm_alerting_config *alerting; /* the `alerts:` section (owned; never NULL after init) */

    /* OpenTelemetry export (issue 16, jobs/finisher.c, outputs/otlp.c) */
    char *otlp_endpoint;      /* otlp.endpoint: NULL, no OTLP export */
    char *otlp_encoding;      /* "json" */
    char *otlp_service_name;  /* "busmon" */
    int otlp_timeout_ms, otlp_flush_interval_ms, otlp_backoff_ms, otlp_backoff_max_ms;
    size_t otlp_batch_size, otlp_queue, otlp_max_attempts;
    int64_t otlp_idle_flush_ms, otlp_settle_ms, otlp_metrics_interval_ms;
    int otlp_traces, otlp_metrics, otlp_sampled;
    size_t n_otlp_headers;
    struct {
        char *name, *value; /* value: the header's value, or (is_file) its file */
        int is_file;
    } otlp_headers[16];
    /* tail sampling of stored traces (traces.sampling) */
    double sampling_rate;         /* 1: keep everything */
    int64_t sampling_slow_ms;     /* 0: no fixed threshold */
    int sampling_slow_p99;

    /* HTTP (issue 6): /metrics, /health, /ready, /api (agent/http.c) */
    int http_enabled;     /* http.enabled, default 1; --no-http */
    int http_enabled_set; /* http.enabled given: an address does not turn HTTP on */
    char *http_listen; /* http.listen "host:port", default "127.0.0.1:9464"; --http */
    /* http.duration_buckets: le bounds (µs, ascending) of busmon_worker_duration_seconds;
       none: the default (lib/worker_stats.h, R10 1 ms .. 100 s) */
    int64_t duration_buckets_us[BM_MAX_DURATION_BUCKETS];
    size_t n_duration_buckets;
    /* the guides' metrics_collection: export_prometheus and enabled (either false: no
       /metrics), export_port (the HTTP port unless http.listen is another address; 0 none) */
    int metrics_export, metrics_collection_enabled, metrics_export_port;
    int ready_max_lag; /* http.ready_max_lag: /ready is 503 above this consumer lag; 0 no bound */
    int http_max_connections;   /* http.max_connections, 256 */
    int http_header_timeout_ms; /* http.header_timeout, 5 s */
    char *http_token_file;      /* http.token_file: bearer token required (NULL: none) */

    /* system metrics (issue 6, agent/sysmon.c): the guides' metrics_collection */
    int64_t system_interval_ms; /* system.interval_seconds
                                   (metrics_collection.collection_interval_seconds), 10 s */
    int64_t system_history_s; /* system.history_hours (metrics_collection.retention_hours), 24 h in
                                 memory */
    char *system_data_path;   /* system.data_path: disk % of this path; NULL: Redis's dir if local,
                                 else / */
    char *system_stream;      /* outputs.system: "busmon:system" */
    int system_stream_set;    /* outputs.system given */
    size_t system_maxlen;     /* outputs.system_maxlen, 8640 (24 h at 10 s) */

    int log_level;               /* bm_log_level */
    int log_json_format;         /* logging.json_format; -1: JSON unless stderr is a tty */
    char *log_file_path;         /* logging.file_path; NULL: stderr */
    double log_max_file_size_mb; /* logging.max_file_size_mb (fractions allowed); 0: never rotate */
    size_t log_backup_count;     /* logging.backup_count */
    int drain;                   /* exit 0 once the streams are drained (batch jobs, benchmarks) */
    char *summary_file;          /* write a JSON summary here at exit */
    char *config_file;           /* the file that was read, if any */

    bm_config_warn_cb warn; /* warnings of the config file; default: the logger (bm_warn) */
    void *warn_arg;
} bm_config;

/* What bm_config_from_args asks the caller to do. */
typedef enum {
    BM_CONFIG_RUN,
    BM_CONFIG_HELP,          /* -h, --help: print bm_config_usage, exit 0 */
    BM_CONFIG_VERSION,       /* --version */
    BM_CONFIG_CHECK,         /* --check-config: the configuration is good; check Redis, exit */
    BM_CONFIG_CHECK_OFFLINE, /* --check-config --offline: the configuration is good; exit */
    BM_CONFIG_PRINT_ACL,     /* --print-acl: print the Redis ACL lines it needs; exit */
    BM_CONFIG_PRINT_CONFIG   /* --print-config: print the settings in effect; exit */
} bm_config_action;

/* Fill the defaults of the key table (owned strings). @return 0 or -1 (out of memory). */
int bm_config_init(bm_config *c);
void bm_config_deinit(bm_config *c);

/*
 * Defaults are already in c (bm_config_init). Reads --config FILE (or
 * BUSMON_CONFIG), then the environment, then the flags, then finishes
 * (bm_config_finish). Warnings go to c->warn.
 * @return 0 with *action, or -1 with one line in err (usage and config
 * errors: the caller exits 2).
 */
int bm_config_from_args(bm_config *c, int argc, char **argv, bm_config_action *action, char *err,
                        size_t errlen);

/* Print the --help text, made from the key table's flags, to f (no return value). */
void bm_config_usage(FILE *f);

/*
 * What follows from the settings once every source is read: the stream
 * busmon:events when none is given, the pub/sub pattern "<prefix>*" when
 * pub/sub is on with none, the alerts channel and firing hash named after
 * the alerts stream unless given.
 * @return 0 or -1 with the reason in err.
 */
int bm_config_finish(bm_config *c, char *err, size_t errlen);

/*
 * Print the effective configuration to f, as --check-config does: Redis,
 * streams, group and consumer; alerts; and whether Redis was checked (no
 * return value).
 */
void bm_config_print_summary(FILE *f, const bm_config *c, const char *redis_display,
                             int redis_checked);

/*
 * Write the settings in effect to f as a config file busmon-agent reads
 * back to the same settings (print.c): every key of the table with a value,
 * sorted by path, "# default" beside those not changed; redis.url without a
 * password; the alert rules and sinks only counted.
 * @return 0, or -1 (out of memory, a write error).
 */
int bm_config_print(FILE *f, const bm_config *c);

/*
 * The value of the key at `path` (a YAML path of the key table) as it
 * would be written ("10s", "a,b"). @return 0, or -1 (no such key or value).
 */
int bm_config_get(const bm_config *c, const char *path, char *buf, size_t len);

/*
 * Is HTTP served beyond this host without a token? http.enabled, an
 * http.listen host that is not a loopback address (127.0.0.0/8, ::1,
 * localhost), and no http.token_file. @return 1 with the warning in buf,
 * else 0.
 */
int bm_config_http_exposed(const bm_config *c, char *buf, size_t len);

/*
 * The Redis ACL line this configuration needs (config/acl.c, core/acl.h):
 * ACL SETUSER <user> on >PASSWORD, its keys and channels, -@all and exactly
 * the commands busmon-agent sends; with `readonly`, the `busmon` CLI's line
 * (read-only keys, its few read commands). Into buf (len bytes).
 * @return the length (as snprintf: >= len means cut).
 */
size_t bm_config_acl_line(const bm_config *c, const char *user, int readonly, char *buf,
                          size_t len);

/* The default warning callback: the line to the logger as a warning (no return value). */
void bm_config_log_warning(const char *message, void *arg);

/*
 * Read a YAML config file over the current values.
 * @return 0, or -1 with one line "FILE:LINE: reason" in err.
 * Warnings for unknown keys go to c->warn.
 */
int bm_config_load_file(bm_config *c, const char *path, char *err, size_t errlen);

/*
 * Apply the BUSMON_* environment variables of the key table (each key's
 * own name, and its older short name). @return 0 or -1 with reason in err.
 */
int bm_config_load_env(bm_config *c, char *err, size_t errlen);

/* The stream and pattern lists and owned strings (value.c, below everything that sets a
 * value). */

/* Replace the stream list with a comma-separated list. @return 0 or -1. */
int bm_config_set_streams_csv(bm_config *c, const char *csv, char *err, size_t errlen);
/* Add one stream (flags are repeatable). @return 0 or -1. */
int bm_config_add_stream(bm_config *c, const char *name, char *err, size_t errlen);

/* Add one pub/sub pattern (and enable the input). @return 0 or -1 with reason in err. */
int bm_config_add_pattern(bm_config *c, const char *pattern, char *err, size_t errlen);

/* Replace an owned string field. @return 0 or -1 (out of memory). */
int bm_config_set_str(char **field, const char *value);

#endif
