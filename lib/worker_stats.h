/*
 * worker_stats.h - every worker's performance and health, from the event
 * stream alone (the WorkerMonitor of the Python monitoring guides).
 *
 * Per worker: three rolling windows (lib/window.h) of executions by outcome
 * and duration histogram - 1 min (6 x 10 s), 5 min (10 x 30 s) and the
 * performance window (12 periods, default 60 min) -, commands in flight,
 * last seen / last execution / last error, and a health state with the
 * issues that put it there.
 *
 * Health (evaluated by worker_stats_evaluate, every health interval):
 *   unknown   fewer than min_executions in the 5 min window and never judged;
 *   failed    error rate over 5 min >= failure_rate_threshold with at least
 *             min_executions, or commands pending and no answer for
 *             pending_failed_intervals health intervals;
 *   degraded  error rate over 5 min > error_rate_threshold, or p95 over
 *             5 min > slow_threshold, or commands pending with no answer for
 *             longer than the slow threshold;
 *   (hook)    whatever the configuration's judge_hook says of the last
 *             minute (degraded at k x a learned baseline: lib/baseline.h);
 *   inactive  no activity for inactive_intervals health intervals and
 *             nothing pending;
 *   healthy   otherwise.
 * A worker gets worse at once, but gets better only after the better state
 * has held for `recovery_evaluations` evaluations in a row (no flapping).
 * Every change is reported through the transition callback.
 *
 * Bounds: at most max_workers workers; per-worker memory is bounded by the
 * windows (sparse histograms). A full table makes room for a new worker by
 * evicting the one seen least recently of those with no command in flight
 * when it has been idle for max_idle_us (counted in evicted), so a worker
 * kept waiting for answers keeps its pending health while another can go;
 * when every idle worker waits for answers, the one seen least recently
 * goes (junk names must not lock real workers out). When none is idle, the
 * new one is refused
 * (counted in refused, its name kept as the last refused). Loads and merges
 * never evict: they refuse what does not fit.
 *
 * State (worker_stats_save / _load / _merge): everything a restart would
 * lose, workers sorted by name:
 *
 *   { "refused": uint,
 *     "workers": [ { "name": str, "in_flight": uint, "busy_since": µs (0 idle),
 *                    "last_seen", "last_execution", "last_error_at": µs (0 never),
 *                    "last_error": str,
 *                    "health": { "state": "healthy"|..., "since": µs, "judged": bool,
 *                                "issues": [[rank, text], ...],
 *                                "streak": uint,        evaluations in a row that wanted better
 *                                "streak_worst": { "state", "issues" } },  the worst of those
 *                    "totals": { "successes", "failures", "timeouts": uint,
 *                                "duration_buckets": [n + 1 x uint], "duration_count": uint,
 *                                "duration_sum_us": number },
 *                    "windows": [window 1m, window 5m, window perf] } ],   (lib/window.h)
 *     "evicted": uint,   (absent in saves made before eviction: 0)
 *     "duration_bounds_us": [n x int],    the totals' bucket bounds (absent in saves made
 *                                         before they were configurable: the 14 bounds
 *                                         5 ms .. 60 s of those builds)
 *     "since": µs }      the first time the table was told of (absent in older saves: 0)
 *
 * Rates. A window's rates per minute divide by the part of it that holds
 * data (bm_window_covered_us), or by the part the table has been watching
 * since `since` when that is longer: one execution after an hour of quiet
 * is 1 a minute over the last minute, not 60 (it was no worker's first
 * minute: the table was watching, and there was nothing to count).
 *
 * A save whose duration bounds differ from the table's is loaded with every
 * worker's duration histogram (buckets, count, sum) at zero: its counts
 * cannot be re-binned, and Prometheus reads the zeros as a counter reset.
 *
 * Merging two tables (one per agent, each fed part of the events) adds
 * refused and evicted, counts, sums, in flight and totals, takes the earlier since
 * (of those set), merges windows period by period
 * (lib/window.h), takes the latest last seen / execution / error (with the
 * error's text), and the earlier busy-since of two busy workers. Health is
 * a judgement, not a sum: the merged worker holds the worse of the two
 * states (by rank, its issues and since; the same state keeps the earlier
 * since), has been judged if either was, and restarts its recovery streak;
 * the next worker_stats_evaluate judges the merged figures.
 *
 * Pure: time comes in as now_us; no I/O.
 */
#ifndef BM_LIB_WORKER_STATS_H
#define BM_LIB_WORKER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/rollup.h"
#include "window.h"

/*
 * The lifetime duration histogram's bounds are configurable, up to this
 * many. The default is the Renard series R10 (ten per decade: 1, 1.25, 1.6,
 * 2, 2.5, 3.15, 4, 5, 6.3, 8) from 1 ms to 100 s, 51 bounds: a quantile read
 * by linear interpolation inside one bucket (Prometheus's
 * histogram_quantile) is off by at most a bucket's width, 26 %, and by far
 * less where the distribution is smooth across the bucket.
 */
#define WORKER_DURATION_BOUNDS_MAX 64
#define WORKER_DURATION_DEFAULT_BOUNDS 51

/*
 * An extra judgement after the built-in ones (the learned baselines:
 * baselines_health_hook, lib/baseline.h): given the worker's last-minute
 * figures, @return the state they ask for (BM_HEALTH_DEGRADED or
 * BM_HEALTH_FAILED) with its issue written into `issue`, or
 * BM_HEALTH_UNKNOWN for nothing to say. `arg` is the config's judge_arg.
 */
typedef bm_health (*worker_judge_hook)(const char *worker, const bm_window_stats *last_minute,
                                       int64_t now_us, char *issue, size_t issue_len,
                                       const void *arg);

typedef struct {
    size_t max_workers;              /* default 1000 */
    int64_t perf_window_us;          /* default 60 min (worker_monitoring.performance_window_minutes) */
    double error_rate_threshold;     /* default 0.10 */
    double failure_rate_threshold;   /* default 0.50 */
    int64_t slow_threshold_us;       /* default 5000 ms (slow_execution_threshold_ms) */
    int64_t health_interval_us;      /* default 30 s (health_check_interval_seconds) */
    uint32_t min_executions;         /* default 5: fewer in 5 min -> no rate judgement */
    uint32_t pending_failed_intervals; /* default 3 */
    uint32_t inactive_intervals;     /* default 3 */
    uint32_t recovery_evaluations;   /* default 2 */
    int64_t max_idle_us;             /* default 1 h: a full table evicts a worker idle this
                                        long (none in flight) for a new one; 0: never evict */
    /* upper bounds (µs, strictly ascending) of the lifetime duration histogram
     * (worker_totals); default: WORKER_DURATION_DEFAULT_BOUNDS, 1 ms .. 100 s */
    int64_t duration_bounds_us[WORKER_DURATION_BOUNDS_MAX];
    size_t n_duration_bounds;     /* 1..WORKER_DURATION_BOUNDS_MAX; 0 takes the default */
    worker_judge_hook judge_hook; /* NULL: none (the default) */
    const void *judge_arg;        /* borrowed; outlives every table made with this config */
} worker_stats_config;

/* Fill the defaults above. */
void worker_stats_config_defaults(worker_stats_config *c);

/* Called on every health change; `snap` is borrowed for the call. */
typedef void (*worker_transition_cb)(const bm_worker_snapshot *snap, bm_health from, void *arg);

typedef struct worker_stats worker_stats;

/* @return the table, or NULL. cfg is copied. */
worker_stats *worker_stats_new(const worker_stats_config *cfg);
void worker_stats_free(worker_stats *ws);

/* A command was sent to `worker` at event time ts_us (agent clock now_us).
 * `pending` is 1 when it is not answered yet (counts in flight).
 * @return 0, or -1 when the worker was refused (max_workers). */
int worker_stats_command(worker_stats *ws, const char *worker, int pending, int64_t now_us);

/*
 * An answer: outcome, duration (-1 unknown), error text ("" none),
 * `was_pending` = 1 when it answers a command counted in flight (in flight
 * goes down by one). @return 0 or -1 (refused).
 */
int worker_stats_answer(worker_stats *ws, const char *worker, bm_outcome outcome,
                        int64_t duration_us, const char *error_type, const char *error_message,
                        int was_pending, int64_t now_us);

/*
 * The duration of an execution of `worker` counted earlier with none (its
 * answer was read before its command): into the windows' histograms at
 * now_us and the totals' duration buckets; no execution, and nothing for a
 * worker not in the table (evicted since).
 */
void worker_stats_duration(worker_stats *ws, const char *worker, int64_t duration_us,
                           int64_t now_us);

/* A command counted in flight will never be answered here (its trace was
 * evicted or expired): in flight goes down by one. */
void worker_stats_forget_pending(worker_stats *ws, const char *worker);

/* Any other event naming the worker (updates last seen).
 * @return 0, or -1 when the worker was refused (max_workers). */
int worker_stats_seen(worker_stats *ws, const char *worker, int64_t now_us);

/* Judge every worker's health at now_us; calls cb for each change. */
void worker_stats_evaluate(worker_stats *ws, int64_t now_us, worker_transition_cb cb, void *arg);

size_t worker_stats_count(const worker_stats *ws);
/* Workers refused because of max_workers (events naming them: each is counted). */
uint64_t worker_stats_refused(const worker_stats *ws);
/* Idle workers (none in flight) evicted to make room for new ones. */
uint64_t worker_stats_evicted(const worker_stats *ws);
/* The name last refused ("" none), borrowed until the next refusal. */
const char *worker_stats_last_refused(const worker_stats *ws);

/*
 * Snapshot of every worker (sorted by name) into out[0..max): windows
 * computed at now_us. @return the number written (<= max).
 */
size_t worker_stats_snapshot(const worker_stats *ws, int64_t now_us, bm_worker_snapshot *out,
                             size_t max);

/* Snapshot of one worker. @return 0, or -1 when unknown. */
int worker_stats_snapshot_one(const worker_stats *ws, const char *worker, int64_t now_us,
                              bm_worker_snapshot *out);

/*
 * Lifetime totals of one worker, for Prometheus counters and histograms
 * (monotonic, unlike the windows). Duration buckets are the table's
 * (worker_stats_duration_bounds_us, n of them): bucket i counts durations
 * in (bound[i-1], bound[i]], bucket n the durations above the largest
 * bound. Only executions with a known duration are in the buckets,
 * duration_count and duration_sum_us.
 */
typedef struct {
    char name[BM_NAME_MAX];
    uint64_t successes, failures, timeouts;
    uint64_t duration_buckets[WORKER_DURATION_BOUNDS_MAX + 1];
    uint64_t duration_count;
    double duration_sum_us;
} worker_totals;

/* The upper bounds (µs, ascending) of the table's duration buckets, borrowed
 * for the table's life; *n their number. */
const int64_t *worker_stats_duration_bounds_us(const worker_stats *ws, size_t *n);

/* The default bounds (R10, 1 ms .. 100 s) into out[WORKER_DURATION_BOUNDS_MAX].
 * @return their number, WORKER_DURATION_DEFAULT_BOUNDS. */
size_t worker_stats_default_duration_bounds(int64_t *out);

/* Totals of every worker (sorted by name) into out[0..max). @return number written. */
size_t worker_stats_totals(const worker_stats *ws, worker_totals *out, size_t max);

/* Heap bytes held by one worker's state (-1 unknown), and by the whole table. */
long worker_stats_worker_bytes(const worker_stats *ws, const char *worker);
size_t worker_stats_heap_bytes(const worker_stats *ws);

struct msgpack_packer;
struct msgpack_object;

/* Write the table (layout above). @return 0, or -1 (the packer's writer failed). */
int worker_stats_save(const worker_stats *ws, struct msgpack_packer *pk);

/*
 * Replace every worker with those saved in o. ws must be made with the
 * configuration of the table that saved them (the windows' shapes, else
 * BM_LOAD_MISMATCH). Workers past max_workers are refused and counted.
 * @return 0, or a bm_load_status (lib/state_codec.h) with the reason in
 * err; ws is unchanged then.
 */
int worker_stats_load(worker_stats *ws, const struct msgpack_object *o, char *err, size_t errlen);

/*
 * dst += src (rules above; dst != src, same configuration). A worker that
 * max_workers refuses is counted once in dst's refused, which also gets
 * src's. @return 0, or -1 (out of memory or windows of another shape: dst
 * holds part of src).
 */
int worker_stats_merge(worker_stats *dst, const worker_stats *src);

/*
 * The judge's health into dst: every worker of src takes, in dst, src's
 * health state, issues, since-time and recovery bookkeeping (made in dst,
 * with no figures but src's last-seen time, when dst lacks it, within
 * max_workers), so a merged table
 * shows, and goes on judging from, the verdict of the one agent that judges.
 * Workers src lacks keep theirs. dst != src.
 */
void worker_stats_adopt_health(worker_stats *dst, const worker_stats *src);

#endif
