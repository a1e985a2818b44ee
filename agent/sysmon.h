/*
 * sysmon.h - host system metrics sampled from /proc on a timer in the
 * agent's loop (host CPU %, memory %, load averages), for /metrics.
 * Parsing is lib/sysstat.c's; this file only reads the files and keeps the
 * latest sample. Not here: Redis or stream figures, history over windows.
 */
#ifndef BM_AGENT_SYSMON_H
#define BM_AGENT_SYSMON_H

#include <stdint.h>

struct event_base;

typedef struct bm_sysmon_sample_s {
    double cpu_percent;    /* host CPU busy over the last interval; -1 before two samples */
    double memory_percent; /* (MemTotal - MemAvailable) / MemTotal; -1 unknown */
    uint64_t memory_total_bytes;
    double load[3]; /* 1, 5, 15 min; -1 unknown */
    uint64_t samples;
} bm_sysmon_sample;

typedef struct bm_sysmon bm_sysmon;

/* Sample now and then every interval_ms on base. @return the sampler, or NULL (out of memory). */
bm_sysmon *bm_sysmon_new(struct event_base *base, int64_t interval_ms);
void bm_sysmon_free(bm_sysmon *s);

/* The latest sample (all -1 when s is NULL). */
void bm_sysmon_get(const bm_sysmon *s, bm_sysmon_sample *out);

#endif
