/*
 * host_stats.h - reading /proc for the agent (bm_host_read), and the host's
 * CPU and memory use as the cpu_percent and memory_percent alert gauges
 * read them: parsers for the text of
 * /proc/stat and /proc/meminfo (pure, so tests feed them strings) and a
 * reader that samples both files.
 *
 * CPU use is a rate: two samples are needed, and the percentage is the
 * busy share of the jiffies that passed between them (all CPUs together,
 * 0..100). Memory use is 100 x (MemTotal - MemAvailable) / MemTotal: what
 * the kernel says could not be handed out without swapping.
 *
 * Not here: cgroup limits (a container sees its host's numbers here; its
 * limits are core/cgroup.h's), the agent's own usage.
 */
#ifndef BM_AGENT_HOST_STATS_H
#define BM_AGENT_HOST_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Cumulative CPU time of all CPUs, in jiffies. */
typedef struct {
    uint64_t busy_jiffies;  /* user + nice + system + irq + softirq + steal */
    uint64_t total_jiffies; /* busy + idle + iowait */
} bm_cpu_times;

/* From the text of /proc/stat (its first "cpu " line). @return 0, or -1: no such line. */
int bm_host_parse_cpu(const char *proc_stat, bm_cpu_times *out);

/* Busy share between two samples, 0..100. @return it, or -1 when no time passed
 * (or the counters went back). */
double bm_host_cpu_percent(const bm_cpu_times *before, const bm_cpu_times *after);

/* From the text of /proc/meminfo (MemAvailable, else MemFree + Buffers + Cached).
 * @return 0 and *percent (0..100), or -1: no MemTotal. */
int bm_host_parse_memory_percent(const char *proc_meminfo, double *percent);

/* The host's online CPUs: sysconf's, or with stat_path (a test's
 * /proc/stat) the cpuN lines of that file when it has any. @return >= 1. */
unsigned bm_host_cpu_count(const char *stat_path);

/* Read a small file (a /proc file) into buf, NUL-terminated.
 * @return 0, or -1 when it cannot be read or is empty. */
int bm_host_read(const char *path, char *buf, size_t n);

/*
 * Sample both files (paths: NULL for /proc/stat and /proc/meminfo): *cpu
 * and *cpu_ok = 1, or *cpu_ok = 0 when it could not be read; *mem_percent,
 * or -1, and *mem_total_bytes (MemTotal), or 0. Reads two small /proc
 * files, nothing more.
 */
void bm_host_sample(const char *stat_path, const char *meminfo_path, bm_cpu_times *cpu, int *cpu_ok,
                    double *mem_percent, uint64_t *mem_total_bytes);

#endif
