/*
 * sysmon.h - the system metrics collector (the monitoring guides'
 * MetricsCollector), fed by the shared sampler (core/sampler.h).
 *
 * Every system.interval_seconds (10 s) one sample (proto/system.h):
 *   /proc      host CPU %, memory %, load; the agent's CPU % and RSS;
 *   cgroup     the memory and CPU limits a container is held to (v2 or v1),
 *              and its memory use (core/cgroup.h), beside the host's figures;
 *   statvfs    disk % of the data path (system.data_path; by default Redis's
 *              `dir` when that directory exists on this host, else /);
 *   the agent  events read per second over the interval; p95 latency and
 *              success rate over the last minute (lib/event_metrics);
 *   Redis      the sampler's round: PING round trip, connected_clients,
 *              used_memory, per stream XLEN, our group's lag and pending.
 * The sample goes to the history (lib/syshist: system.history_hours, 24 h,
 * in memory) and to topic system of the outputs (busmon:system), which
 * `busmon system --window 1h` reads.
 * Not here: alert evaluation, HTTP.
 */
#ifndef BM_JOBS_SYSMON_H
#define BM_JOBS_SYSMON_H

#include <stdint.h>

#include "lib/monitor.h"
#include "proto/system.h"

struct bm_loop;
struct bm_sampler;
struct bm_outputs;
struct json_t;

typedef struct bm_sysmon bm_sysmon;

/* What a sample reads that can fail: a failure is counted (read_errors),
 * said once in the log, and the figures from it are unknown (absent). A
 * cgroup file that is not there is no failure: no limit. */
typedef enum {
    BM_SYSMON_PROC_STAT,
    BM_SYSMON_PROC_MEMINFO,
    BM_SYSMON_PROC_LOADAVG,
    BM_SYSMON_PROC_SELF_STAT,
    BM_SYSMON_CGROUP_MEMORY_MAX,
    BM_SYSMON_CGROUP_MEMORY_CURRENT,
    BM_SYSMON_CGROUP_CPU_MAX,
    BM_SYSMON_CGROUP_CPU_USAGE,
    BM_SYSMON_CGROUP_MEMORY_STAT,
    BM_SYSMON_CGROUP_CPUSET,
    BM_SYSMON_DATA_PATH, /* the disk's path (configured, or Redis's dir) longer than a path
                          * may be (PATH_MAX): never cut, its disk unknown */
    BM_SYSMON__SOURCES
} bm_sysmon_source;

/* "proc_meminfo", "cgroup_memory_max", ... (a label value). */
const char *bm_sysmon_source_name(bm_sysmon_source src);

typedef struct {
    uint64_t samples;             /* samples completed */
    uint64_t late;                /* ... completed before every Redis reply was in */
    uint64_t published;           /* samples taken by an output */
    uint64_t not_published;       /* ... taken by none (no Redis, out of memory) */
    uint64_t history_overwritten; /* points the history ring dropped (oldest) */
    uint64_t memory_total_bytes;  /* host MemTotal of the last sample; 0: unknown */
    /* the cgroup limits of the last sample (core/cgroup.h); 0: no limit */
    uint64_t cgroup_memory_limit_bytes;
    uint64_t cgroup_memory_usage_bytes;
    uint64_t cgroup_memory_working_set_bytes;
    uint64_t cgroup_cpu_limit_millicores;
    uint64_t read_errors[BM_SYSMON__SOURCES]; /* reads that failed, by source */
} bm_sysmon_stats;

typedef struct {
    int64_t interval_us;
    int64_t history_us;
    const char *data_path; /* NULL or "": Redis's dir when local, else /; PATH_MAX - 1
                            * bytes at most (config refuses longer), else flagged */
    const char *agent;     /* the consumer name (borrowed) */
    /* entries and messages read so far (for events per second) */
    uint64_t (*ingested)(void *arg);
    void *ingested_arg;
    /* other files, for tests (NULL: /proc/meminfo, /sys/fs/cgroup,
     * /proc/self/cgroup, /proc/stat) (borrowed) */
    const char *proc_meminfo;
    const char *cgroup_root;
    const char *proc_self_cgroup;
    const char *proc_stat;
} bm_sysmon_opts;

/*
 * A collector subscribed to `sampler` (start the sampler after), reading
 * the monitor's event metrics (mon borrowed: its parts may be swapped by a
 * checkpoint restore, so they are looked up each time), publishing to
 * `outputs`.
 * @return the collector, or NULL (out of memory).
 */
bm_sysmon *bm_sysmon_new(const bm_sysmon_opts *o, struct bm_sampler *sampler,
                         const bm_monitor *mon, struct bm_outputs *outputs);
void bm_sysmon_free(bm_sysmon *s);

/* The latest complete sample, or NULL before the first (or when s is NULL). */
const bm_sys_sample *bm_sysmon_latest(const bm_sysmon *s);

void bm_sysmon_get_stats(const bm_sysmon *s, bm_sysmon_stats *out);

/*
 * The window summary of the last window_us (proto/system.h
 * bm_sys_window_json) from the history in memory.
 * @return a new JSON object, or NULL (out of memory).
 */
struct json_t *bm_sysmon_window_json(bm_sysmon *s, const char *label, int64_t window_us);

#endif
