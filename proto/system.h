/*
 * system.h - the system metrics sample (the MetricsCollector of the
 * monitoring guides) as busmon writes it to the `busmon:system` stream and
 * serves it at /api/system, and the window summary (avg and peak over the
 * samples of a window) that `busmon system --json` and /api/system share.
 *
 * A sample is a flat set of named figures (bm_sys_field; NAN = unknown,
 * JSON null) plus, for the latest sample only, one line per stream. The
 * history kept in memory holds only the flat figures (bm_sys_point), so an
 * hour of samples costs ~50 KB whatever the number of streams.
 *
 *   stream record   XADD busmon:system MAXLEN ~ N * m <msgpack> json <json>
 *   json            {"t": 1763800000.25, "agent": "a1", "interval_seconds": 10,
 *                    "data_path": "/var/lib/redis",
 *                    "cpu_percent": 12.5, ..., "stream_length": 1200,
 *                    "streams": [{"name": "busmon:events", "length": 1200,
 *                                 "lag": 0, "pending": 3, "group": true}]}
 *
 * Pure: no I/O. JSON via jansson, msgpack via msgpack-c (the same tree).
 */
#ifndef BM_PROTO_SYSTEM_H
#define BM_PROTO_SYSTEM_H

#include <limits.h> /* PATH_MAX */
#include <stddef.h>
#include <stdint.h>

#include "rollup.h" /* BM_NAME_MAX */

typedef enum {
    BM_SYS_CPU = 0,        /* "cpu_percent": host CPU busy, 0..100 */
    BM_SYS_MEMORY,         /* "memory_percent": host memory in use */
    BM_SYS_DISK,           /* "disk_percent": the data path's file system, used */
    BM_SYS_LOAD1,          /* "load1" */
    BM_SYS_LOAD5,          /* "load5" */
    BM_SYS_LOAD15,         /* "load15" */
    BM_SYS_AGENT_CPU,      /* "agent_cpu_percent": busmon-agent, of one core */
    BM_SYS_AGENT_RSS,      /* "agent_rss_bytes" */
    BM_SYS_EVENTS_PER_SEC, /* "events_per_sec": entries + messages read, over the interval */
    BM_SYS_P95_LATENCY_MS, /* "p95_latency_ms": command -> answer, last minute */
    BM_SYS_SUCCESS_RATE,   /* "success_rate": answers that succeeded, last minute, 0..1 */
    BM_SYS_REDIS_CLIENTS,  /* "redis_connected_clients" */
    BM_SYS_REDIS_MEMORY,   /* "redis_used_memory_bytes" */
    BM_SYS_REDIS_RTT_MS,   /* "redis_rtt_ms": PING on the write connection */
    BM_SYS_CONSUMER_LAG,   /* "consumer_lag": summed over the streams that know it */
    BM_SYS_PENDING,        /* "pending": delivered, not yet acked, summed */
    BM_SYS_STREAM_LENGTH,  /* "stream_length": XLEN, summed */
    /* the agent's cgroup (a container's), unknown when no limit is set:
     * "cgroup_memory_limit_bytes", the tightest memory limit;
     * "cgroup_memory_usage_bytes", the use of the cgroup holding it;
     * "cgroup_memory_working_set_bytes", that use less its inactive page
     * cache (what memory_percent judges);
     * "cgroup_cpu_limit_cores", the tightest CPU limit in CPUs (quota or cpuset) */
    BM_SYS_CGROUP_MEMORY_LIMIT,
    BM_SYS_CGROUP_MEMORY_USAGE,
    BM_SYS_CGROUP_MEMORY_WORKING_SET,
    BM_SYS_CGROUP_CPU_LIMIT,
    BM_SYS__COUNT
} bm_sys_field;

/* The JSON key of a field ("cpu_percent", ...). */
const char *bm_sys_field_name(bm_sys_field f);

#define BM_SYS_STREAMS_MAX 64
#define BM_SYS_SERIES_MAX  360 /* points in a window summary's series, at most */
#define BM_SYS_INTERVAL_MAX_S 31536000.0 /* a sample's interval_seconds, at most (a year) */

typedef struct {
    int64_t ts_us;
    double v[BM_SYS__COUNT]; /* NAN: unknown */
} bm_sys_point;

typedef struct {
    char name[BM_NAME_MAX];       /* a stream name is up to 256 bytes: never cut */
    int64_t length, lag, pending; /* -1: unknown */
    int group;                    /* 1 our group is on the stream, 0 it is not, -1 unknown */
} bm_sys_stream;

typedef struct {
    bm_sys_point p;
    int64_t interval_us;
    char agent[BM_NAME_MAX]; /* the consumer name, up to 256 bytes */
    char data_path[PATH_MAX]; /* whole: the agent takes none longer (sysmon.c) */
    size_t n_streams;
    bm_sys_stream streams[BM_SYS_STREAMS_MAX];
} bm_sys_sample;

/* Set every figure unknown and the rest empty. */
void bm_sys_sample_clear(bm_sys_sample *s);

/* @return a new JSON object (caller json_decref's), or NULL (out of memory). */
struct json_t *bm_sys_sample_to_json(const bm_sys_sample *s);

/*
 * Read a sample back from its JSON (the `json` field of a stream record).
 * Unknown keys are ignored, missing figures are NAN; names longer than
 * their room are cut between UTF-8 characters.
 * @return 0, or -1 when j is not an object with a numeric "t", or its
 * interval_seconds is not a number of seconds from 0 to BM_SYS_INTERVAL_MAX_S.
 */
int bm_sys_sample_from_json(const struct json_t *j, bm_sys_sample *out);

struct msgpack_sbuffer;
/* The msgpack twin of bm_sys_sample_to_json. @return 0, or -1 (out of memory). */
int bm_sys_sample_encode_msgpack(const bm_sys_sample *s, struct msgpack_sbuffer *out);

/* Average and peak of each figure over the points added (unknown figures skipped). */
typedef struct {
    size_t samples;
    int64_t from_us, to_us;
    double sum[BM_SYS__COUNT], peak[BM_SYS__COUNT];
    size_t known[BM_SYS__COUNT];
} bm_sys_agg;

void bm_sys_agg_init(bm_sys_agg *a);
void bm_sys_agg_add(bm_sys_agg *a, const bm_sys_point *p);
/* @return the average of field f, or NAN when no point knew it. */
double bm_sys_agg_avg(const bm_sys_agg *a, bm_sys_field f);
/* @return the largest value of field f, or NAN. */
double bm_sys_agg_peak(const bm_sys_agg *a, bm_sys_field f);

/*
 * The window summary (/api/system, `busmon system --json`):
 *   {"window": label, "window_seconds", "interval_seconds", "samples",
 *    "from", "to" (unix seconds or null), "latest": sample (null when none),
 *    "avg": {field: value}, "peak": {field: value},
 *    "series": [{"t", field: value, ...}]  oldest first, at most
 *              BM_SYS_SERIES_MAX points (consecutive points averaged)}
 * `points` (oldest first) are the window's points; `latest` may be NULL.
 * @return a new JSON object, or NULL (out of memory).
 */
struct json_t *bm_sys_window_json(const char *label, int64_t window_us, int64_t interval_us,
                                  const bm_sys_point *points, size_t n_points,
                                  const bm_sys_sample *latest);

/*
 * A window length: "<n>s", "<n>m", "<n>h" or "<n>d", from 10 s to 7 days.
 * @return 0 and *out_us, or -1.
 */
int bm_sys_parse_window(const char *s, int64_t *out_us);

#endif
