/*
 * alerts.h - the alert engine: rules evaluated against each rollup, one
 * alert instance per rule and label set, a lifecycle with `for` and
 * cooldown, notifications through a callback, a bounded history.
 *
 * A rule says: metric (scope, window) op threshold, held for `for_us`.
 * Each evaluation (alerts_evaluate, on the agent's alert timer, never on
 * the ingest path) takes a rollup and the gauges the rollup does not carry,
 * and moves every instance:
 *
 *               cond true                 cond true for >= for_us
 *   inactive ─────────────> pending ───────────────────────────> firing ──┐
 *      ^                       │ cond false (silent)      notify FIRING   │ cond still true and
 *      └───────────────────────┘                                          │ now - last notification
 *      ^                                                                  │ >= cooldown_us:
 *      │            cond false, or its worker/stream is gone              │ notify REPEAT
 *      └─────────────────────────── resolved <────────────────────────────┘
 *                                  notify RESOLVED
 *
 * An instance is (rule, scope target): a global rule has one, an each_worker
 * rule one per worker ("worker" label), an each_stream rule one per stream.
 * Only pending and firing instances take memory; their number is bounded
 * (max_instances, refusals counted). A condition with no data (a worker
 * with no executions in the window for a rate or a latency, a gauge the
 * agent could not measure, a worker or stream that is gone) counts as
 * false. `for_us` = 0 fires at the first evaluation where the condition is
 * true; `cooldown_us` = 0 never repeats.
 *
 * Metrics and the scopes they allow (W = needs a window 1m / 5m / 1h, the
 * third being the rollup's performance window):
 *
 *   metric              scopes                         value
 *   error_rate       W  global, worker                 0..1 (global: over answers)
 *   success_rate     W  global, worker                 0..1
 *   avg_latency_ms   W  global, worker                 ms
 *   p95_latency_ms   W  global, worker                 ms
 *   p99_latency_ms   W  worker                         ms
 *   throughput_per_min W global, worker                executions (global: events) per minute
 *   error_count      W  global, worker, error type     failed answers (global: sum of the
 *                                                      types' error counts; error type: its
 *                                                      pattern's count, 0 when absent)
 *   in_flight           global, worker                 commands not answered (global: sum)
 *   health              worker                         2 failed, 1 degraded, 0 otherwise
 *   consumer_lag        global, stream                 entries (global: sum over streams)
 *   pending             global, stream                 entries in the group's PEL
 *   deadletter_rate     global                         dead-lettered entries per minute
 *   cpu_percent         global                         0..100, of the agent's cgroup quota
 *                                                      when set, else of its host
 *   memory_percent      global                         0..100, of the agent's cgroup memory
 *                                                      limit when set, else of its host
 *   latency_anomaly  W  worker                         the window's p95 against the worker's
 *                                                      learned p95 (lib/baseline.h): a ratio
 *                                                      (x baseline) or standard deviations
 *                                                      above it (the rule's baseline_mode)
 *   error_rate_anomaly W worker                        the same for the error rate
 *   metric:NAME      W  global, each_tag KEY           the business metric NAME's `stat`
 *                                                      (count, sum, min, max, avg, p50, p95,
 *                                                      p99, rate, last; default avg) over the
 *                                                      window: global over every series of
 *                                                      NAME, each_tag one instance per value
 *                                                      of tag KEY (label KEY=value) over the
 *                                                      series holding it; no series: no data
 *                                                      (at most ALERTS_TAG_VALUES_MAX values,
 *                                                      the rest counted in tag_values_dropped)
 *
 * The two anomaly metrics have no data while the worker's baseline is not
 * ready (too few samples, too little time) or while no baselines are given
 * (alert_gauges.baselines NULL), nor in a window with fewer than
 * alert_gauges.anomaly_min_executions executions (one error in two is not
 * an error rate to compare); their
 * {detail} placeholder reads "p95 410 ms is 8.2 × its baseline 50 ms".
 *
 * ("worker" = each_worker or worker NAME, "stream" = each_stream or stream
 * NAME, "error type" = each_error_type or error_type NAME.) For health,
 * {value} and {threshold} in descriptions read "failed", "degraded", "ok".
 *
 * State (alerts_save / alerts_load): what the lifecycle needs to go on
 * after a restart, not the rules (they come from the configuration):
 *
 *   { "instances": [ { "rule": str, "target": str ("" global),
 *                      "state": "pending" | "firing",
 *                      "pending_since", "firing_since",      µs (0 while pending)
 *                      "notified",                           µs, the last notification (cooldown)
 *                      "evaluated": µs, "value": number,     as of the last evaluation
 *                      "window": str,                        the window's label ("" none)
 *                      "record": record } ... ],             firing only: its firing record
 *                                                            (proto/alert.h's `m`; what its
 *                                                            resolve is made from)
 *     "history":  [ record, ... ],       oldest first; proto/alert.h's record (`m`)
 *     "counters": { "evaluations", "notifications", "refused", "transitions",
 *                   "history_evicted": uint } }
 *
 * Instances are keyed by rule name, sorted by rule and target.
 *
 * Pure: time comes in as now_us; no I/O.
 */
#ifndef BM_LIB_ALERTS_H
#define BM_LIB_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/alert.h"
#include "../proto/rollup.h"
#include "baseline.h"
#include "custom_metrics.h"

typedef enum {
    ALERT_METRIC_ERROR_RATE = 0,
    ALERT_METRIC_SUCCESS_RATE,
    ALERT_METRIC_AVG_LATENCY_MS,
    ALERT_METRIC_P95_LATENCY_MS,
    ALERT_METRIC_P99_LATENCY_MS,
    ALERT_METRIC_THROUGHPUT_PER_MIN,
    ALERT_METRIC_ERROR_COUNT,
    ALERT_METRIC_IN_FLIGHT,
    ALERT_METRIC_HEALTH,
    ALERT_METRIC_CONSUMER_LAG,
    ALERT_METRIC_PENDING,
    ALERT_METRIC_DEADLETTER_RATE,
    ALERT_METRIC_CPU_PERCENT,
    ALERT_METRIC_MEMORY_PERCENT,
    ALERT_METRIC_LATENCY_ANOMALY,    /* p95 against its learned baseline (lib/baseline.h) */
    ALERT_METRIC_ERROR_RATE_ANOMALY, /* error rate against its learned baseline */
    ALERT_METRIC_CUSTOM, /* metric:NAME - a business metric's stat (lib/custom_metrics.h) */
    ALERT_METRIC__COUNT
} alert_metric;

typedef enum {
    ALERT_SCOPE_GLOBAL = 0,
    ALERT_SCOPE_EACH_WORKER,
    ALERT_SCOPE_WORKER, /* target = the worker's name */
    ALERT_SCOPE_EACH_STREAM,
    ALERT_SCOPE_STREAM, /* target = the stream's name */
    ALERT_SCOPE_EACH_ERROR_TYPE,
    ALERT_SCOPE_ERROR_TYPE, /* target = the error type */
    ALERT_SCOPE_EACH_TAG,   /* metric:NAME, one instance per value of the tag `target` */
    ALERT_SCOPE__COUNT
} alert_scope;

typedef enum {
    ALERT_OP_GT = 0, /* > */
    ALERT_OP_GE,     /* >= */
    ALERT_OP_LT,     /* < */
    ALERT_OP_LE,     /* <= */
    ALERT_OP_EQ,     /* == */
    ALERT_OP_NE,     /* != */
    ALERT_OP__COUNT
} alert_op;

/* What a metric:NAME rule compares. */
typedef enum {
    ALERT_STAT_AVG = 0,
    ALERT_STAT_COUNT,
    ALERT_STAT_SUM,
    ALERT_STAT_MIN,
    ALERT_STAT_MAX,
    ALERT_STAT_P50,
    ALERT_STAT_P95,
    ALERT_STAT_P99,
    ALERT_STAT_RATE,
    ALERT_STAT_LAST,
    ALERT_STAT__COUNT
} alert_metric_stat;

const char *alerts_stat_name(alert_metric_stat s);
int alerts_stat_parse(const char *s); /* @return the stat or -1 */

/* Values of the health metric (thresholds "failed", "degraded" in config). */
#define ALERT_HEALTH_FAILED   2
#define ALERT_HEALTH_DEGRADED 1
#define ALERT_HEALTH_OTHER    0

/* A rule's own labels: one place is kept for the scope's label. */
#define ALERT_RULE_LABELS_MAX (BM_ALERT_LABELS_MAX - 1)

/*
 * One rule. Plain data: fill it (alerts_rule_init gives the defaults), check
 * it (alerts_rule_check), hand it to the engine (copied).
 */
typedef struct {
    char name[BM_ALERT_NAME_MAX];
    int enabled; /* 0: kept (listed) but never evaluated */
    alert_metric metric;
    alert_scope scope;
    char target[BM_NAME_MAX]; /* worker / stream / error type of the named scopes */
    alert_op op;
    double threshold;
    int window;     /* 0 "1m", 1 "5m", 2 "1h" (the performance window); -1 none */
    int64_t for_us; /* how long the condition must hold before firing */
    bm_severity severity;
    int64_t cooldown_us;         /* least time between notifications while firing; 0 never repeat */
    baseline_mode baseline_mode; /* anomaly metrics: value = ratio (default) or stddevs */
    unsigned n_labels;
    bm_alert_label labels[ALERT_RULE_LABELS_MAX];
    /*
     * Template of the notification's description; "" = a default built from
     * the rule. Placeholders: {value} {threshold} {op} {metric} {window}
     * {rule} {severity} {worker} {stream} {error_type} {target} (the scope's
     * name, "" for global), {detail} (the anomaly metrics' deviation in
     * words, "" for the others) and {labels.KEY}; "{{" is a literal "{".
     */
    char description[BM_ALERT_DESC_MAX];
    /* metric:NAME rules (ALERT_METRIC_CUSTOM) */
    char metric_name[BM_NAME_MAX];
    alert_metric_stat stat;
} alert_rule;

/* Defaults: enabled, global, ">", threshold 0, no window, for 0, warning,
 * cooldown 15 min, no labels, default description. */
void alerts_rule_init(alert_rule *r);

/*
 * Is this rule usable? Checks the name ([A-Za-z0-9_.-], not empty), the
 * metric / scope pairing, the target of a named scope, the window (required
 * and 0..2 for windowed metrics, -1 otherwise), finite threshold (0..2 for
 * health), durations >= 0, severity, labels (Prometheus names; not
 * alertname, severity, worker, stream, error_type; no duplicates; values
 * not empty) and the description's placeholders.
 * @return 0, or -1 with the reason (no rule name, no position) in why.
 */
int alerts_rule_check(const alert_rule *r, char *why, size_t whylen);

/* Names: "error_rate", ...; "global", "each_worker", "worker", ...; ">", ... */
const char *alerts_metric_name(alert_metric m);
int alerts_metric_parse(const char *s); /* @return the metric or -1 */
const char *alerts_scope_name(alert_scope s);
int alerts_scope_parse(const char *s); /* the bare scope word; @return the scope or -1 */
const char *alerts_op_name(alert_op op);
int alerts_op_parse(const char *s);         /* also "=" for "=="; @return the op or -1 */
const char *alerts_window_name(int window); /* "1m", "5m", "1h"; "" for -1 */
int alerts_window_parse(const char *s);     /* "1m", "5m", "1h" (or "perf"); @return 0..2 or -1 */
/* 1 when the metric needs a window; its default scope (worker metrics:
 * each_worker, stream metrics: each_stream, else global). */
int alerts_metric_windowed(alert_metric m);
alert_scope alerts_metric_default_scope(alert_metric m);
/* 1 when metric m may be used with scope s. */
int alerts_metric_allows_scope(alert_metric m, alert_scope s);

/*
 * The built-in rules (issue 5; overridable by name):
 *
 *   name             scope        condition                    for   severity
 *   high_error_rate  each_worker  error_rate 5m > 0.1          1m    warning
 *   high_latency     each_worker  avg_latency_ms 5m > 5000     1m    warning
 *   worker_failed    each_worker  health == 2 (failed)         0     critical
 *   worker_degraded  each_worker  health == 1 (degraded)       1m    warning
 *   error_spike      global       error_count 5m > 10          0     error
 *   consumer_lag     each_stream  consumer_lag > 10000         2m    warning
 *   critical_cpu     global       cpu_percent > 90             2m    critical
 *   latency_anomaly  each_worker  latency_anomaly 1m > 5       2m    warning
 *   error_rate_anomaly each_worker error_rate_anomaly 1m > 5   2m    warning
 *
 * (the anomaly rules: 5 x the learned baseline, the 1 minute window being
 * what the baselines learn from; quiet until a worker's baseline is ready)
 *
 * Every one with cooldown 15 min. worker_failed fires at once because
 * worker health already has its own hysteresis; error_spike because it
 * counts over 5 minutes already.
 * @return the number of built-ins; *out points at a static table.
 */
size_t alerts_builtin_rules(const alert_rule **out);
/* The built-in called `name`, or NULL. */
const alert_rule *alerts_builtin_find(const char *name);

/* What the rollup does not carry, sampled by the agent (lib/ reads no /proc and no Redis). */
typedef struct {
    char name[BM_NAME_MAX];
    int64_t consumer_lag; /* XINFO GROUPS lag; < 0 unknown */
    int64_t pending;      /* entries in the group's pending list; < 0 unknown */
} alert_stream_gauge;

typedef struct {
    const alert_stream_gauge *streams; /* borrowed for the call */
    size_t n_streams;
    double deadletter_per_min;       /* < 0 unknown */
    double cpu_percent;              /* < 0 unknown */
    double memory_percent;           /* < 0 unknown */
    const baselines *baselines;      /* the learned baselines (borrowed); NULL: none, the anomaly
                                        metrics have no data */
    uint32_t anomaly_min_executions; /* fewer in the rule's window: no data (0 takes 1) */
    const custom_metrics *metrics; /* business metrics for metric:NAME rules; NULL: none */
} alert_gauges;

/* All unknown (negative), no streams. */
void alerts_gauges_init(alert_gauges *g);

typedef struct {
    size_t max_instances; /* pending + firing alerts at once; default 10000 */
    size_t history;       /* transitions kept (firing, resolved); default 100 */
} alerts_limits;

typedef struct {
    size_t rules; /* rules held (enabled or not) */
    size_t pending, firing;
    uint64_t evaluations;
    uint64_t notifications; /* firing + repeat + resolved */
    uint64_t refused; /* conditions true that found no room for their instance (per evaluation) */
    uint64_t
        transitions; /* firing + resolved, ever; history_evicted = transitions - history kept */
    uint64_t history_evicted;
    /* values of an each_tag rule's tag past ALERTS_TAG_VALUES_MAX, not evaluated (counted per
     * rule and evaluation; not saved) */
    uint64_t tag_values_dropped;
} alerts_stats;

/*
 * An each_tag rule evaluates at most this many values of its tag (the first
 * ones in the series' key order); the others are left out, never alert, and
 * are counted in alerts_stats.tag_values_dropped.
 */
#define ALERTS_TAG_VALUES_MAX 1000

typedef struct alerts alerts;

/* @param limits NULL or zero fields = defaults. @return the engine (no rules), or NULL. */
alerts *alerts_new(const alerts_limits *limits);
void alerts_free(alerts *a);

/*
 * Add a rule, or replace the rule of the same name (copied). Replacing
 * forgets that rule's instances without notifying (meant for start-up).
 * @return 0, or -1: the rule fails alerts_rule_check, or out of memory.
 */
int alerts_set_rule(alerts *a, const alert_rule *r);
/* Remove the rule called `name` and its instances (silently). @return 0, or -1 unknown. */
int alerts_remove_rule(alerts *a, const char *name);
/* Add every built-in rule not already held. @return 0 or -1. */
int alerts_add_builtins(alerts *a);
size_t alerts_rule_count(const alerts *a);
/* The i-th rule (in the order added), or NULL. Borrowed until the rules change. */
const alert_rule *alerts_rule_at(const alerts *a, size_t i);
const alert_rule *alerts_rule_find(const alerts *a, const char *name);

/*
 * Called for every notification; `alert` is borrowed for the call. The
 * callback must not change the engine's rules or free it (set a flag, act
 * after alerts_evaluate returns).
 */
typedef void (*alerts_notify_cb)(alerts *a, const bm_alert *alert, void *arg);

/*
 * Evaluate every enabled rule against `r` (and `g`, NULL = no gauges) at
 * now_us, moving each instance along the lifecycle above and calling cb
 * (may be NULL) for FIRING, REPEAT and RESOLVED, in rule order, resolves of
 * vanished instances last (those of alerts_load's alerts no longer
 * configured first). Bounded work: rules x (workers + streams +
 * patterns) + instances.
 */
void alerts_evaluate(alerts *a, const bm_rollup *r, const alert_gauges *g, int64_t now_us,
                     alerts_notify_cb cb, void *arg);

/*
 * alerts_evaluate with `for` and the cooldown measured on mono_us, a
 * monotonic clock (the agent's), and now_us (the wall clock) used for the
 * records' times and the windows only: a step of the wall clock neither
 * fires a pending alert early nor holds it back (nor a repeat). An instance
 * loaded by alerts_load takes its age on the wall clock (pending_since,
 * notified) at its first evaluation. alerts_evaluate is this with
 * mono_us = now_us.
 */
void alerts_evaluate_mono(alerts *a, const bm_rollup *r, const alert_gauges *g, int64_t now_us,
                          int64_t mono_us, alerts_notify_cb cb, void *arg);

/*
 * The alerts firing now (state BM_ALERT_FIRING, value and description as of
 * the last evaluation, ts = that evaluation), sorted by severity (critical
 * first), then rule, then labels. @return the number written (<= max);
 * alerts_stats().firing tells how many there are.
 */
size_t alerts_firing(const alerts *a, bm_alert *out, size_t max);

/* The last transitions (firing and resolved; not repeats), newest first.
 * @return the number written (<= max). */
size_t alerts_history(const alerts *a, bm_alert *out, size_t max);

void alerts_get_stats(const alerts *a, alerts_stats *out);

/* The rule that last left tag values out (ALERTS_TAG_VALUES_MAX), "" none.
 * Borrowed until the next evaluation. */
const char *alerts_tag_values_dropped_rule(const alerts *a);

struct msgpack_packer;
struct msgpack_object;

/* Write the instances, history and counters (layout above).
 * @return 0, or -1 (out of memory, or the packer's writer failed). */
int alerts_save(const alerts *a, struct msgpack_packer *pk);

/*
 * Replace the instances, history and counters with those saved in o; the
 * rules stay as they are. A pending instance of a rule not held (removed
 * from the configuration) is left out; instances past max_instances are
 * refused and counted; only the newest `history` records are kept. Nothing
 * is notified here: a firing alert loaded goes on firing (its next
 * notification is a repeat after the cooldown, or its resolve).
 *
 * A firing alert the configuration no longer makes (its rule not held, or
 * held with other labels: another fingerprint) is resolved at the next
 * alerts_evaluate, before the rules, from its firing record saved with it
 * (its rule, labels, fingerprint, starts_at; value the last known, the
 * description saying why); a relabeled rule's alert then starts its own
 * lifecycle under the new labels. Until then alerts_save keeps it. A save
 * of an older busmon has no record with its instances: the last one in the
 * history is used, and one whose record the history no longer holds
 * cannot be resolved: it is dropped and listed by alerts_load_unresolved.
 * @return 0, or a bm_load_status (lib/state_codec.h) with the
 * reason in err; a is unchanged then.
 */
int alerts_load(alerts *a, const struct msgpack_object *o, char *err, size_t errlen);

/*
 * After alerts_load, until the next evaluation: the i-th firing alert
 * loaded that the configuration no longer makes and whose resolve cannot be
 * sent (no firing record of it left in the history). *rule and *target
 * ("" global) are borrowed until then. @return 0, or -1 past the last.
 */
int alerts_load_unresolved(const alerts *a, size_t i, const char **rule, const char **target);

/*
 * Fill rule r's description template for one instance into out (used by
 * the engine; exposed for tests and the CLI). `target` is the scope's name
 * ("" global), `window_label` the rollup's label for the rule's window.
 */
void alerts_render_description(const alert_rule *r, const char *target, const char *window_label,
                               double value, char *out, size_t n);

#endif
