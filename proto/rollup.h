/*
 * rollup.h - what busmon publishes every rollup interval (proto/README.md §8):
 * the global event metrics, each worker's performance and health, and the
 * error patterns, over three windows ("1m", "5m" and the performance window,
 * "1h" by default). Plain data filled by lib/, encoded here as msgpack (field
 * `m`) and JSON (field `json`); proto/README.md is the human spec.
 *
 * Pure: no I/O. JSON via jansson, msgpack via msgpack-c.
 */
#ifndef BM_PROTO_ROLLUP_H
#define BM_PROTO_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

/* The two fields of every record busmon writes to a stream (rollups,
 * health, system samples, alerts): the same record as msgpack and as JSON. */
#define BM_RECORD_FIELD_MSGPACK "m"
#define BM_RECORD_FIELD_JSON    "json"

#define BM_WINDOWS 3 /* [0] 1 minute, [1] 5 minutes, [2] the performance window */
#define BM_NAME_MAX 257 /* a name of BM_ID_MAX (256) bytes and its NUL: names are never cut */
#define BM_ISSUES_MAX 4
#define BM_ISSUE_LEN 160
#define BM_PATTERN_WORKERS_MAX 8

typedef enum {
    BM_HEALTH_UNKNOWN = 0,
    BM_HEALTH_HEALTHY,
    BM_HEALTH_DEGRADED,
    BM_HEALTH_FAILED,
    BM_HEALTH_INACTIVE,
    BM_HEALTH__COUNT
} bm_health;

/* "unknown", "healthy", "degraded", "failed", "inactive". */
const char *bm_health_name(bm_health h);
/* @return the state, or -1 for an unknown name. */
int bm_health_parse(const char *s);

/* One window of one worker (or of all events). Rates are 0..1; 0 when no executions. */
typedef struct {
    char label[8];          /* "1m", "5m", "1h" */
    int64_t window_us;
    int64_t covered_us; /* the part of the window holding data, or watched since the
                           agent's first event when that is longer (rates divide by it) */
    uint64_t executions, successes, failures, timeouts;
    uint64_t timed; /* executions with a known duration (those the durations are of) */
    double success_rate, error_rate;
    int64_t min_us, max_us; /* 0 when no durations */
    double avg_us, p50_us, p95_us, p99_us;
    double throughput_per_min;
} bm_window_stats;

typedef struct {
    char name[BM_NAME_MAX];
    bm_health health;
    int64_t health_since_us;
    unsigned n_issues;
    char issues[BM_ISSUES_MAX][BM_ISSUE_LEN]; /* plain words: "error rate 34 % over 5m > 10 %" */
    uint32_t in_flight;           /* commands sent, not answered */
    int64_t last_seen_us;         /* any event naming this worker; 0 never */
    int64_t last_execution_us;    /* last answer; 0 never */
    int64_t last_error_us;        /* 0 never */
    char last_error[256];         /* "Type: message" */
    bm_window_stats win[BM_WINDOWS];
} bm_worker_snapshot;

/* Per event type over one window. */
typedef struct {
    uint64_t count, success, error;
    uint64_t timeouts; /* of the errors, those that timed out */
    double share;      /* of all events in the window, 0..1 */
} bm_type_stats;

typedef struct {
    char label[8];
    int64_t window_us;
    int64_t covered_us; /* holding data, or watched (event_metrics.h) */
    uint64_t total_events;
    double success_rate, error_rate; /* over answers (results + errors) */
    double avg_latency_us, p95_latency_us; /* command -> answer */
    double throughput_per_min;       /* events per minute over the window */
    double peak_throughput_per_min;  /* busiest period, scaled to a minute */
    bm_type_stats by_type[4];        /* command, result, error, other */
} bm_event_window;

typedef enum { BM_TREND_STABLE = 0, BM_TREND_INCREASING, BM_TREND_DECREASING } bm_trend;
const char *bm_trend_name(bm_trend t);

typedef struct {
    char type[BM_NAME_MAX];    /* error.type, else the text before the first ':' */
    uint64_t count[BM_WINDOWS];
    uint64_t total;            /* since first seen */
    int64_t first_seen_us, last_seen_us;
    char example[256];         /* one message */
    unsigned n_workers;
    char workers[BM_PATTERN_WORKERS_MAX][BM_NAME_MAX];
    unsigned workers_more;     /* workers hit beyond the ones listed */
    bm_trend trend;
} bm_error_pattern;

/* A whole rollup: borrowed arrays, filled by the agent from lib/. */
typedef struct {
    int64_t ts_us;               /* when it was made (agent clock) */
    const char *agent;           /* consumer name of the agent that made it */
    int64_t interval_us;         /* rollup interval */
    bm_event_window events[BM_WINDOWS];
    const bm_worker_snapshot *workers;
    size_t n_workers;
    const bm_error_pattern *patterns;
    size_t n_patterns;
    /* summary across workers (performance window) */
    uint64_t total_commands;
    double avg_success_rate, avg_duration_us;
    /* counters of what the bounds refused */
    uint64_t workers_refused, patterns_refused;
} bm_rollup;

struct json_t;
struct msgpack_sbuffer;

/* @return a new JSON object (caller json_decref's), or NULL. */
struct json_t *bm_rollup_to_json(const bm_rollup *r);
/* One worker alone (the value of the busmon:workers hash). */
struct json_t *bm_worker_to_json(const bm_worker_snapshot *w);
/* @return 0, or -1 (out of memory). Appends to out. */
int bm_rollup_encode_msgpack(const bm_rollup *r, struct msgpack_sbuffer *out);

/* The key of the performance window when its label is a fixed window's. */
#define BM_ROLLUP_PERF_KEY "perf"

/*
 * The key of window `slot` (0 1m, 1 5m, 2 the performance window) in a
 * rollup's per-window objects ("events", a worker's "windows", an error's
 * "count", a business metric's "windows"), from its label (at most
 * label_cap bytes; NULL or empty: the slot's default "1m", "5m", "1h"):
 * the label, but for a performance window labelled as a fixed window ("1m",
 * "5m": performance_window_minutes 1 or 5) BM_ROLLUP_PERF_KEY, so the
 * three windows never share a key. @return buf.
 */
const char *bm_rollup_window_key(unsigned slot, const char *label, size_t label_cap, char buf[16]);

/*
 * In a rollup's JSON, the member of a per-window object ("windows",
 * "events", "count") for label: by name, or for "1h" the performance
 * window whatever its key ("30m", "perf": the key that is not "1m" or
 * "5m"). @return it (borrowed), or NULL.
 */
struct json_t *bm_rollup_pick_window(struct json_t *windows, const char *label);

/* A worker of a rollup (its JSON) cut to one window: its own keys, minus
 * "windows", plus the window's stats at top level and "window": label.
 * The shape of `busmon workers --json` and /api/workers. @return a new
 * object (caller json_decref's). */
struct json_t *bm_rollup_worker_in_window(struct json_t *w, const char *label);

/* `busmon workers --json` and /api/workers from a rollup's JSON: {"window",
 * "ts", "agent", "summary", "omitted" (a rollup cut to its budget), "workers":
 * [each cut to the window]}.
 * @return a new object. */
struct json_t *bm_rollup_workers_view(struct json_t *roll, const char *label);

/* The value under `key` (a str key) of a msgpack map, or NULL (not a map,
 * no such key). Borrowed from o. */
struct msgpack_object;
const struct msgpack_object *bm_msgpack_map_get(const struct msgpack_object *o, const char *key);

/* Any JSON tree as msgpack, appended to out (cut back on failure). @return 0, or -1. */
int bm_json_encode_msgpack(const struct json_t *j, struct msgpack_sbuffer *out);

/* A JSON string of at most `cap` bytes of s (a fixed array may lack its
 * NUL; NULL is ""), each byte that does not start a valid UTF-8 sequence
 * written U+FFFD: jansson refuses text that is not UTF-8, and a name cut
 * inside a character must not lose the record holding it. @return a new
 * string, or NULL (out of memory). */
struct json_t *bm_json_text(const char *s, size_t cap);

/* The size bm_json_encode_msgpack would write for j, without writing it. @return bytes. */
size_t bm_json_msgpack_size(const struct json_t *j);

/*
 * Bound a rollup entry (rollup_fit.c): cut the "workers" and "errors" arrays
 * of `roll` (a rollup's JSON, whatever else the caller added), and the
 * "agents" array and "counters.outputs.sinks" members the publisher adds
 * (this agent and the leader kept first; "counters" left out whole when
 * even its table without the outputs does not fit) so that its
 * compact JSON and its msgpack (bm_json_encode_msgpack) together take at
 * most max_bytes. The most active are kept (workers by executions over the
 * performance window, then in flight, then last seen; errors by their
 * count there, the snapshot's order), in their original order; what is cut
 * is summarised in an "omitted" object (always present, zeros when nothing
 * was cut):
 *
 *   "omitted": { "workers": int, "errors": int,
 *                "workers_health": { "unknown", "healthy", ...: int },
 *                "workers_executions": { "<label>": int } x3, "workers_failures": {...},
 *                "workers_in_flight": int, "errors_count": { "<label>": int } x3,
 *                "agents": int, "outputs": int, "counters": 0 | 1 }
 *
 * When even an entry with no worker and no error is larger, it keeps none.
 * @return 0, or -1 (out of memory: roll is left as it was, or without its
 * arrays' elements).
 */
int bm_rollup_fit(struct json_t *roll, size_t max_bytes);

#endif
