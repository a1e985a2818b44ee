/*
 * baseline.h - learned performance baselines: what is normal for a key (a
 * worker's name; any string: a custom metric can be one, "metric:NAME"),
 * so that a worker normally at 50 ms and now at 400 ms is seen as 8 x
 * slower even when both are far under a fixed threshold.
 *
 * Per key and per series (p50, p95, error rate, throughput), the samples
 * the caller gives (one per evaluation interval, the worker's 1 minute
 * window) are learned as an exponentially weighted mean and variance
 * (West's incremental form, weight `alpha`; the first 1/alpha samples are a
 * plain running mean and variance, so the first ones do not drag on a zero
 * start):
 *
 *     diff = x - mean;  mean += a * diff;  var = (1 - a) * (var + a * diff^2)
 *     a = max(alpha, 1 / n)
 *
 * twice: once in a global accumulator, once in the slot of the sample's
 * time (hour of week, 168 slots, Monday 00:00 UTC first; or hour of day;
 * or none), so a worker that is slow every Monday at 09:00 is compared
 * with Mondays at 09:00. The expected figure of a series at time t is its
 * slot's when that slot holds at least slot_min_samples samples, else the
 * global one (while the slots are still thin: the first week).
 *
 *   key ──▶ global[series]            {n, mean, var}
 *       └─▶ slots[slot][series]       {n, mean, var}   slot = hour of week/day (UTC)
 *       └─▶ pinned[series]            {mean, stddev}   frozen: stop learning, keep these
 *
 * Readiness: a key's baseline is used (ready) once it holds min_samples
 * samples and its first sample is min_learning_us old. Until then nothing
 * may be judged against it (the anomaly rules and health issues see "no
 * data").
 *
 * Outliers: once ready, a p50, p95 or error-rate sample above
 * outlier_factor x its expected value is not learned (counted in the
 * key's outliers), so an incident does not become the new normal while it
 * is being alerted on. A lasting change (a deploy that is slower for good)
 * is taken in with clear (learning starts again) or freeze (pin now).
 *
 * Frozen (freeze): learning stops and the expected figures are pinned to
 * those of the moment of the freeze ("establish a baseline" after a
 * deploy); clear forgets the key, frozen or not.
 *
 * Deviation of a value from an expected figure, two modes:
 *   ratio   value / max(mean, floor)                  "p95 410 ms is 8.2 x its baseline 50 ms"
 *   stddev  (value - mean) / max(stddev, 0.1 x max(mean, floor))
 * floors: 1 ms for latencies, 1 % for error rates, 1 per minute for
 * throughput, so a baseline of zero errors does not make one error an
 * infinite deviation, and a perfectly steady worker is not judged by a
 * standard deviation of zero. A business metric's p50 and p95 are in its
 * own unit (an order value, a queue length), where no floor means
 * anything: none applies, and a baseline of 0 or below gives no deviation
 * (NAN), rather than an infinite one.
 *
 * Bounds: at most max_keys keys (a key of a name up to BM_NAME_MAX - 1
 * bytes); a full table evicts the key sampled least recently when it has
 * been idle max_idle_us, else refuses the new key (counted). Memory: one
 * key is ~0.2 KB plus 168 x 4 x 24 bytes (16 KB) of hour-of-week slots.
 *
 * State (baselines_save / _load): every key, sorted by key:
 *
 *   { "slots": uint (0, 24 or 168), "refused": uint, "evicted": uint,
 *     "min_samples", "slot_min_samples": uint, "min_learning_us": µs,   (readers: the CLI)
 *     "ctl_seq": uint,              the last control request applied (agent)
 *     "keys": [ { "key": str, "first_us", "last_us": µs, "samples", "outliers": uint,
 *                 "frozen_us": µs (0 not frozen),
 *                 "pinned": [[mean, stddev] x 4],     (frozen only; else nil)
 *                 "global": [[n, mean, var] x 4],
 *                 "slots": bin: records (u16 slot x 4 + series, u32 n, f64 mean,
 *                          f64 var), little endian, ascending, only those with
 *                          samples; or nil } ... ] }
 *
 * A save made with another slot count loads its global figures only.
 * Not merged across agents: each agent learns from the view it reads (the
 * cluster's merged figures), so every agent holds the group's baseline
 * and a new leader judges with its own; adding two agents' baselines would
 * count the same figures twice.
 *
 * Pure: time comes in as now_us; no I/O.
 */
#ifndef BM_LIB_BASELINE_H
#define BM_LIB_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/rollup.h"

typedef enum {
    BASELINE_P50 = 0,
    BASELINE_P95,
    BASELINE_ERROR_RATE,
    BASELINE_THROUGHPUT,
    BASELINE__SERIES
} baseline_series;

typedef enum {
    BASELINE_SLOTS_NONE = 0,
    BASELINE_SLOTS_HOUR_OF_DAY,
    BASELINE_SLOTS_HOUR_OF_WEEK,
} baseline_slots;

typedef enum { BASELINE_MODE_RATIO = 0, BASELINE_MODE_STDDEV } baseline_mode;

typedef struct {
    size_t max_keys;           /* default 1000 */
    double alpha;              /* EWMA weight of a new sample, (0, 1]; default 0.05 */
    uint32_t min_samples;      /* default 20 */
    int64_t min_learning_us;   /* default 1 h */
    baseline_slots slots;      /* default hour of week */
    uint32_t slot_min_samples; /* a slot is used from this many samples; default 10 */
    double outlier_factor;     /* default 3; 0 learns every sample */
    int64_t max_idle_us;       /* default 7 days; 0 never evict */
} baseline_config;

void baseline_config_defaults(baseline_config *c);

/* "p50", "p95", "error_rate", "throughput"; "none", "hour_of_day", "hour_of_week";
 * "ratio", "stddev". Parsers @return the value or -1. */
const char *baseline_series_name(baseline_series s);
const char *baseline_slots_name(baseline_slots s);
int baseline_slots_parse(const char *s);
const char *baseline_mode_name(baseline_mode m);
int baseline_mode_parse(const char *s);

/* One expected figure. */
typedef struct {
    double mean, stddev; /* the series' unit: µs, 0..1, per minute */
    uint32_t n;          /* samples behind it (0: none; no figure) */
    int from_slot;       /* 1: the time slot's, 0: the global one (or pinned) */
    int own_unit;        /* 1: a business metric's ("metric:NAME") p50 / p95, in the metric's
                            own unit: no floor, words without a unit */
} baseline_figure;

/* A key's baseline as of a time. */
typedef struct {
    char key[BM_NAME_MAX];
    int ready;  /* enough samples and time; frozen keys are ready */
    int frozen; /* pinned figures */
    int64_t first_us, last_us, frozen_us;
    uint64_t samples, outliers;
    int slot; /* the slot of the time asked (-1 no slots) */
    baseline_figure fig[BASELINE__SERIES];
} baseline_view;

typedef struct baselines baselines;

/* @return the table, or NULL. cfg copied (a zero alpha or max_keys takes the default). */
baselines *baselines_new(const baseline_config *cfg);
void baselines_free(baselines *b);
/* Exchange the contents of a and b (both made with the same configuration). */
void baselines_swap(baselines *a, baselines *b);
const baseline_config *baselines_config(const baselines *b);

/*
 * Learn one sample of `key` at now_us: values[series], NAN where the
 * series has no value this time (no executions: no latency). A frozen key
 * learns nothing. @return 0, or -1 (key refused: table full; or out of memory).
 */
int baselines_observe(baselines *b, const char *key, const double values[BASELINE__SERIES],
                      int64_t now_us);

/* The baseline of key at now_us into out. @return 0, or -1 unknown key. */
int baselines_get(const baselines *b, const char *key, int64_t now_us, baseline_view *out);

/* Pin key's figures as of now_us and stop learning. @return 0, or -1 unknown key. */
int baselines_freeze(baselines *b, const char *key, int64_t now_us);
/* Forget key (learning starts again from nothing). @return 0, or -1 unknown key. */
int baselines_clear(baselines *b, const char *key);

size_t baselines_count(const baselines *b);
/* The i-th key in name order, or NULL. Borrowed until the table changes. */
const char *baselines_key_at(const baselines *b, size_t i);
uint64_t baselines_refused(const baselines *b);
uint64_t baselines_evicted(const baselines *b);

/* The control sequence the agent applied last (kept in the state). */
uint64_t baselines_ctl_seq(const baselines *b);
void baselines_set_ctl_seq(baselines *b, uint64_t seq);

/*
 * The deviation of value from figure f of series s (modes above).
 * @return it, or NAN when f has no samples or value is NAN.
 */
double baseline_deviation(const baseline_figure *f, baseline_series s, double value,
                          baseline_mode mode);

/*
 * "p95 410 ms is 8.2 × its baseline 50 ms" (ratio) or "p95 410 ms is 12 σ
 * above its baseline 50 ms ± 4 ms" (stddev) into out.
 */
void baseline_describe(const baseline_figure *f, baseline_series s, double value,
                       baseline_mode mode, char *out, size_t n);

/* A value of series s in words: "410 ms", "34 %", "12 /min". */
void baseline_format_value(baseline_series s, double value, char *out, size_t n);

/*
 * Worker health from the baselines (a worker_judge_hook of
 * lib/worker_stats.h; arg: a baseline_health). With a ready baseline and
 * at least min_executions in the last minute: degraded when its p95 or its
 * error rate is at least degrade_ratio x the baseline (ratio mode, the
 * floors above), the issue naming the deviation ("p95 410 ms is 8.2 × its
 * baseline 50 ms"). Otherwise nothing (BM_HEALTH_UNKNOWN).
 */
typedef struct {
    const baselines *table; /* borrowed; NULL: nothing */
    double degrade_ratio;   /* 0: nothing */
    uint32_t min_executions;
} baseline_health;

bm_health baselines_health_hook(const char *worker, const bm_window_stats *last_minute,
                                int64_t now_us, char *issue, size_t issue_len, const void *arg);

/*
 * A freeze / clear request as the CLI leaves it in the agent's control hash
 * (agent/jobs/baseline.h), field = the key: "<op> <seq> <unix µs>".
 */
typedef enum { BASELINE_REQUEST_FREEZE = 0, BASELINE_REQUEST_CLEAR } baseline_request_op;
/* "freeze" / "clear"; parse @return the op or -1. */
const char *baseline_request_name(baseline_request_op op);
/* The value into out. */
void baseline_request_format(baseline_request_op op, uint64_t seq, int64_t at_us, char *out,
                             size_t n);
/* @return 0 and the parts, or -1 (not such a value). */
int baseline_request_parse(const char *value, baseline_request_op *op, uint64_t *seq,
                           int64_t *at_us);

struct json_t;
/*
 * A key's baseline beside its values now (series units, NAN: none), the
 * shape of `busmon baseline --json` and /api/baseline's workers:
 *   { "name", "ready", "frozen", "frozen_at", "learning_since" (RFC 3339, or null),
 *     "samples", "outliers", "slot" (null: none),
 *     "p50_ms" | "p95_ms" | "error_rate" | "throughput_per_min":
 *         { "now", "baseline", "stddev" (null: none), "samples", "from_slot",
 *           "ratio", "stddevs" (null: no value now) },
 *     "deviations": ["p95 410 ms is 8.2 × its baseline 50 ms", ...] }   p95, error rate
 * @return a new object (caller json_decref's), or NULL.
 */
struct json_t *baseline_view_json(const baseline_view *v, const double now[BASELINE__SERIES]);

struct msgpack_packer;
struct msgpack_object;

/*
 * A table as saved, with the saved configuration's slots and readiness
 * (for readers of a checkpoint, the CLI): every key the save holds.
 * @return it (caller frees), or NULL with the reason in err.
 */
baselines *baselines_from_save(const struct msgpack_object *o, char *err, size_t errlen);

/* Write the table (layout above). @return 0, or -1 (the packer's writer failed). */
int baselines_save(const baselines *b, struct msgpack_packer *pk);

/*
 * Replace every key with those saved in o (past max_keys: refused and
 * counted). @return 0, or a bm_load_status (lib/state_codec.h) with the
 * reason in err; b is unchanged then.
 */
int baselines_load(baselines *b, const struct msgpack_object *o, char *err, size_t errlen);

#endif
