/*
 * sysmon.h - the system metrics collector (the monitoring guides'
 * MetricsCollector), on its own timer in the agent's loop.
 *
 * Every system.interval_seconds (10 s) one sample (proto/system.h):
 *   /proc      host CPU %, memory %, load; the agent's CPU % and RSS;
 *   statvfs    disk % of the data path (system.data_path; by default Redis's
 *              `dir` when that directory exists on this host, else /);
 *   the agent  events read per second over the interval; p95 latency and
 *              success rate over the last minute (lib/event_metrics);
 *   Redis      on the write connection, pipelined: PING (its round trip is
 *              redis_rtt_ms, which includes any write backlog ahead of it:
 *              the latency the agent's writes see), INFO (connected_clients,
 *              used_memory), and per stream XLEN and XINFO GROUPS (our
 *              group's lag and pending, and whether the group exists).
 * The sample is complete when every reply is in, or at the next tick
 * (counted late; missing figures unknown). It is then pushed to the history
 * (lib/syshist: system.history_hours, 24 h, in memory) and written to the
 * `busmon:system` stream (MAXLEN ~ outputs.system_maxlen, m + json), which
 * `busmon system --window 1h` reads.
 *
 * Not here: alert evaluation (alerting.c keeps its own XINFO round, timed
 * to its evaluation), HTTP.
 */
#ifndef BM_AGENT_SYSMON_H
#define BM_AGENT_SYSMON_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "proto/system.h"

struct bm_agent;
struct json_t;

typedef struct bm_sysmon bm_sysmon;

typedef struct {
    uint64_t samples;             /* samples completed */
    uint64_t late;                /* ... completed before every Redis reply was in */
    uint64_t redis_errors;        /* error replies (unknown command, no such stream) */
    uint64_t published;           /* samples written to the stream */
    uint64_t not_published;       /* ... not written: no Redis writer, or out of memory */
    uint64_t history_overwritten; /* points the history ring dropped (oldest) */
    uint64_t memory_total_bytes;  /* host MemTotal */
} bm_sysmon_stats;

/*
 * Start sampling on a's loop: the /proc figures at once, the first full
 * sample after one interval. `a` is borrowed for the collector's life; free
 * the collector after a's Redis connections (their callbacks name it).
 * @return the collector, or NULL (out of memory).
 */
bm_sysmon *bm_sysmon_new(struct bm_agent *a);
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

/*
 * Our group's pending and lag in an XINFO GROUPS reply (RESP2: an array of
 * flat key/value arrays). Lag is -1 when Redis does not know it (nil after
 * deletions, or Redis < 7).
 * @return 1 when the group is there, 0 when it is not (pending, lag -1).
 */
int bm_xinfo_group(const redisReply *r, const char *group, int64_t *pending, int64_t *lag);

#endif
