/*
 * sysstat.h - parsers for the host figures busmon samples from /proc (the
 * MetricsCollector's system metrics): CPU busy percentage between two
 * samples of /proc/stat, memory used percentage from /proc/meminfo, load
 * averages from /proc/loadavg, the process's own CPU time and RSS from
 * /proc/self/stat, numeric fields of Redis INFO text, and the cgroup limit
 * and usage files a container is held to (v2 memory.max, memory.current,
 * cpu.max, cpu.stat; v1 memory.limit_in_bytes, cpu.cfs_quota_us).
 *
 * Pure: the caller reads the files and passes their text; nothing here
 * opens a file or reads a clock (the sampling lives in agent/jobs/sysmon.c).
 */
#ifndef BM_LIB_SYSSTAT_H
#define BM_LIB_SYSSTAT_H

#include <stdint.h>

typedef struct {
    uint64_t total_ticks; /* all fields of the "cpu " line */
    uint64_t idle_ticks;  /* idle + iowait */
} sysstat_cpu;

/* The aggregate "cpu " line of /proc/stat. @return 0, or -1 when absent/malformed. */
int sysstat_parse_cpu(const char *proc_stat, sysstat_cpu *out);

/* Busy percentage (0..100) between two samples; -1 when no time passed. */
double sysstat_cpu_percent(const sysstat_cpu *prev, const sysstat_cpu *cur);

/* MemTotal and MemAvailable of /proc/meminfo, in kB. @return 0, or -1. */
int sysstat_parse_meminfo(const char *meminfo, uint64_t *total_kb, uint64_t *available_kb);

/* The three load averages of /proc/loadavg. @return 0, or -1. */
int sysstat_parse_loadavg(const char *loadavg, double load[3]);

/*
 * utime + stime (clock ticks) and RSS (pages) from the text of
 * /proc/self/stat (or /proc/PID/stat). @return 0, or -1 when malformed.
 */
int sysstat_parse_proc_self(const char *proc_pid_stat, uint64_t *cpu_ticks, uint64_t *rss_pages);

/*
 * One cgroup v2 value file (memory.max, memory.current): a whole number of
 * bytes, or "max", then at most a newline.
 * @return 0 and *out; 1: "max" (no limit); -1: anything else (empty, a
 * sign, a fraction, trailing text, out of range).
 */
int sysstat_parse_cgroup_value(const char *text, uint64_t *out);

/*
 * cgroup v2 cpu.max, "QUOTA PERIOD" (µs of CPU time per period) or "max
 * PERIOD": the quota as thousandths of a CPU, quota x 1000 / period (at
 * least 1). @return 0 and *millicores; 1: "max"; -1: anything else (a
 * zero period or quota included).
 */
int sysstat_parse_cgroup_cpu_max(const char *text, uint64_t *millicores);

/*
 * cgroup v2 cpu.stat: its "usage_usec N" line, the CPU time the cgroup and
 * its children used, in µs. @return 0 and *usec, or -1: no such line or
 * not a whole number.
 */
int sysstat_parse_cgroup_cpu_usage(const char *cpu_stat, uint64_t *usec);

/* cgroup v1 says "no limit" with the largest page count in bytes
 * (9223372036854771712 with 4 KiB pages, less with larger pages): any
 * limit from 2^62 bytes up is that. */
#define SYSSTAT_CGROUP_V1_UNLIMITED (UINT64_C(1) << 62)

/*
 * cgroup v1 memory.limit_in_bytes: a whole number of bytes.
 * @return 0 and *out; 1: SYSSTAT_CGROUP_V1_UNLIMITED or more (no limit);
 * -1: anything else.
 */
int sysstat_parse_cgroup_v1_limit(const char *text, uint64_t *out);

/*
 * cgroup v1 cpu.cfs_quota_us ("-1" or µs) and cpu.cfs_period_us (µs): the
 * quota as thousandths of a CPU, at least 1. @return 0 and *millicores;
 * 1: "-1" (no limit); -1: anything else (a zero quota or period included).
 */
int sysstat_parse_cgroup_v1_cpu(const char *quota, const char *period, uint64_t *millicores);

/*
 * CPU use against a quota between two readings of a cgroup's usage (µs of
 * CPU time) elapsed_us apart: 100 = the whole quota, capped at 100 (a
 * period's boundary can let a little more through).
 * @return it, or -1 when no time passed, no quota, or the usage went back.
 */
double sysstat_cgroup_cpu_percent(uint64_t prev_usec, uint64_t cur_usec, int64_t elapsed_us,
                                  uint64_t millicores);

/*
 * A numeric "key:value" line of Redis INFO text (e.g. "connected_clients",
 * "used_memory"). @return 0 and *out, or -1 when absent or not a number.
 */
int sysstat_info_field(const char *info, const char *key, double *out);

#endif
