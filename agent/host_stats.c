/*
 * host_stats.c - /proc/stat and /proc/meminfo read for the host gauges
 * (host_stats.h).
 */
#include "host_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bm_host_parse_cpu(const char *text, bm_cpu_times *out)
{
    const char *p = text;
    while (p && strncmp(p, "cpu ", 4)) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return -1;
    p += 4;
    /* user nice system idle iowait irq softirq steal (guest is inside user) */
    uint64_t f[8] = {0};
    int n = 0;
    for (; n < 8; n++) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) break;
        f[n] = v;
        p = end;
    }
    if (n < 4) return -1;
    out->busy_jiffies = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    out->total_jiffies = out->busy_jiffies + f[3] + f[4];
    return 0;
}

double bm_host_cpu_percent(const bm_cpu_times *before, const bm_cpu_times *after)
{
    if (after->total_jiffies <= before->total_jiffies || after->busy_jiffies < before->busy_jiffies)
        return -1;
    double total = (double)(after->total_jiffies - before->total_jiffies);
    double busy = (double)(after->busy_jiffies - before->busy_jiffies);
    double pct = 100.0 * busy / total;
    return pct > 100 ? 100 : pct;
}

/* The kB value of "Key:   123 kB", or -1. */
static long long meminfo_kb(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, n) || p[n] != ':') continue;
        char *end;
        long long v = strtoll(p + n + 1, &end, 10);
        return end == p + n + 1 || v < 0 ? -1 : v;
    }
    return -1;
}

int bm_host_parse_memory_percent(const char *text, double *percent)
{
    long long total = meminfo_kb(text, "MemTotal");
    if (total <= 0) return -1;
    long long avail = meminfo_kb(text, "MemAvailable");
    if (avail < 0) {
        long long fr = meminfo_kb(text, "MemFree"), bu = meminfo_kb(text, "Buffers"),
                  ca = meminfo_kb(text, "Cached");
        if (fr < 0) return -1;
        avail = fr + (bu > 0 ? bu : 0) + (ca > 0 ? ca : 0);
    }
    if (avail > total) avail = total;
    *percent = 100.0 * (double)(total - avail) / (double)total;
    return 0;
}

/* Read a small file whole into buf (NUL-terminated). @return 0 or -1. */
static int read_small(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return got ? 0 : -1;
}

void bm_host_sample(const char *stat_path, const char *meminfo_path, bm_cpu_times *cpu, int *cpu_ok,
                    double *mem_percent)
{
    char buf[8192]; /* the cpu line is first; meminfo's keys are in its first lines */
    *cpu_ok = read_small(stat_path ? stat_path : "/proc/stat", buf, sizeof buf) == 0 &&
              bm_host_parse_cpu(buf, cpu) == 0;
    if (read_small(meminfo_path ? meminfo_path : "/proc/meminfo", buf, sizeof buf) ||
        bm_host_parse_memory_percent(buf, mem_percent))
        *mem_percent = -1;
}
