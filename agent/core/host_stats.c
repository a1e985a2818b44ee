/*
 * host_stats.c - /proc/stat and /proc/meminfo read for the host gauges
 * (host_stats.h).
 */
#include "agent/core/host_stats.h"

#include "lib/sysstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parsing is lib/sysstat's (shared with /metrics' host figures); these
 * keep the alert gauges' busy/total view of it. */
int bm_host_parse_cpu(const char *text, bm_cpu_times *out)
{
    sysstat_cpu c;
    if (sysstat_parse_cpu(text, &c)) return -1;
    out->total_jiffies = c.total_ticks;
    out->busy_jiffies = c.total_ticks - c.idle_ticks;
    return 0;
}

double bm_host_cpu_percent(const bm_cpu_times *before, const bm_cpu_times *after)
{
    sysstat_cpu a = {before->total_jiffies, before->total_jiffies - before->busy_jiffies};
    sysstat_cpu b = {after->total_jiffies, after->total_jiffies - after->busy_jiffies};
    return sysstat_cpu_percent(&a, &b);
}

int bm_host_parse_memory_percent(const char *text, double *percent)
{
    uint64_t total_kb, available_kb;
    if (sysstat_parse_meminfo(text, &total_kb, &available_kb)) return -1;
    *percent = 100.0 * (double)(total_kb - available_kb) / (double)total_kb;
    return 0;
}

int bm_host_read(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return got ? 0 : -1;
}

unsigned bm_host_cpu_count(const char *stat_path)
{
    enum { TEXT_MAX = 65536 }; /* a /proc/stat of many CPUs; only tests read one here */
    char *text = stat_path ? malloc(TEXT_MAX) : NULL;
    unsigned n = 0;
    if (text && bm_host_read(stat_path, text, TEXT_MAX) == 0)
        for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if (!strncmp(p, "cpu", 3) && p[3] >= '0' && p[3] <= '9') n++;
    free(text);
    if (n) return n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)cpus : 1;
}

void bm_host_sample(const char *stat_path, const char *meminfo_path, bm_cpu_times *cpu, int *cpu_ok,
                    double *mem_percent, uint64_t *mem_total_bytes)
{
    char buf[8192]; /* the cpu line is first; meminfo's keys are in its first lines */
    *cpu_ok = bm_host_read(stat_path ? stat_path : "/proc/stat", buf, sizeof buf) == 0 &&
              bm_host_parse_cpu(buf, cpu) == 0;
    uint64_t total_kb, available_kb;
    if (bm_host_read(meminfo_path ? meminfo_path : "/proc/meminfo", buf, sizeof buf) ||
        sysstat_parse_meminfo(buf, &total_kb, &available_kb)) {
        *mem_percent = -1;
        *mem_total_bytes = 0;
        return;
    }
    *mem_percent = 100.0 * (double)(total_kb - available_kb) / (double)total_kb;
    *mem_total_bytes = total_kb * 1024;
}
