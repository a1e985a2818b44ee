/*
 * test_host_stats.c - the host gauges' parsers: /proc/stat's cpu line and
 * the busy share between two samples, /proc/meminfo with and without
 * MemAvailable, and text they must refuse.
 */
#include "agent/core/host_stats.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Test(host_stats, cpu_line_sums_busy_and_idle)
{
    bm_cpu_times t;
    cr_assert_eq(bm_host_parse_cpu("cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 1 2 3 4\n", &t), 0);
    cr_assert_eq(t.busy_jiffies, 100 + 5 + 50 + 3 + 2 + 1);
    cr_assert_eq(t.total_jiffies, t.busy_jiffies + 800 + 20);
}

Test(host_stats, cpu_line_not_first_and_short_kernels)
{
    bm_cpu_times t;
    /* old kernels: only user nice system idle */
    cr_assert_eq(bm_host_parse_cpu("intr 1 2\ncpu 10 0 10 80\n", &t), 0);
    cr_assert_eq(t.busy_jiffies, 20);
    cr_assert_eq(t.total_jiffies, 100);
    cr_assert_eq(bm_host_parse_cpu("cpu0 1 2 3 4\n", &t), -1); /* per-CPU lines only */
    cr_assert_eq(bm_host_parse_cpu("cpu 1 2\n", &t), -1);
    cr_assert_eq(bm_host_parse_cpu("", &t), -1);
}

Test(host_stats, cpu_percent_between_samples)
{
    bm_cpu_times a = {100, 1000}, b = {175, 1100};
    cr_assert_float_eq(bm_host_cpu_percent(&a, &b), 75.0, 1e-9);
    cr_assert_eq(bm_host_cpu_percent(&a, &a), -1); /* no time passed */
    cr_assert_eq(bm_host_cpu_percent(&b, &a), -1); /* went back */
}

Test(host_stats, memory_from_mem_available)
{
    double pct;
    cr_assert_eq(bm_host_parse_memory_percent("MemTotal:       16000000 kB\n"
                                              "MemFree:         1000000 kB\n"
                                              "MemAvailable:    4000000 kB\n",
                                              &pct),
                 0);
    cr_assert_float_eq(pct, 75.0, 1e-9);
}

Test(host_stats, memory_without_mem_available)
{
    double pct;
    cr_assert_eq(bm_host_parse_memory_percent("MemTotal: 1000 kB\nMemFree: 100 kB\n"
                                              "Buffers: 100 kB\nCached: 300 kB\n",
                                              &pct),
                 0);
    cr_assert_float_eq(pct, 50.0, 1e-9);
    cr_assert_eq(bm_host_parse_memory_percent("MemFree: 100 kB\n", &pct), -1);
    cr_assert_eq(bm_host_parse_memory_percent("MemTotal: 0 kB\n", &pct), -1);
}

Test(host_stats, sample_reads_files)
{
    char dir[] = "/tmp/bm-host-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char stat[64], mem[64];
    snprintf(stat, sizeof stat, "%s/stat", dir);
    snprintf(mem, sizeof mem, "%s/meminfo", dir);
    FILE *f = fopen(stat, "w");
    fputs("cpu  1 2 3 4 5 6 7 8 0 0\n", f);
    fclose(f);
    f = fopen(mem, "w");
    fputs("MemTotal: 200 kB\nMemAvailable: 50 kB\n", f);
    fclose(f);
    bm_cpu_times t;
    int ok = 0;
    double pct = 0;
    uint64_t total = 0;
    bm_host_sample(stat, mem, &t, &ok, &pct, &total);
    cr_assert_eq(ok, 1);
    cr_assert_eq(t.total_jiffies, 36);
    cr_assert_float_eq(pct, 75.0, 1e-9);
    cr_assert_eq(total, 200 * 1024);
    remove(stat);
    remove(mem);
    bm_host_sample(stat, mem, &t, &ok, &pct, &total); /* gone: unknown */
    cr_assert_eq(ok, 0);
    cr_assert_eq(pct, -1);
    cr_assert_eq(total, 0, "unknown");
    remove(dir);
}

Test(host_stats, this_host)
{
    bm_cpu_times t;
    int ok = 0;
    double pct = -1;
    uint64_t total = 0;
    bm_host_sample(NULL, NULL, &t, &ok, &pct, &total);
    cr_assert_eq(ok, 1);
    cr_assert(pct >= 0 && pct <= 100);
}

Test(host_stats, cpu_count)
{
    char path[] = "/tmp/bm-host-cpus-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu1 1 2 3 4\ncpu63 1 2 3 4\nintr 5\ncpufreq 1\n", f);
    fclose(f);
    cr_assert_eq(bm_host_cpu_count(path), 3, "the cpuN lines");
    long here = sysconf(_SC_NPROCESSORS_ONLN);
    f = fopen(path, "w");
    fputs("cpu  1 2 3 4\n", f); /* no per-CPU lines: this host's count */
    fclose(f);
    cr_assert_eq(bm_host_cpu_count(path), (unsigned)here);
    remove(path);
    cr_assert_eq(bm_host_cpu_count(path), (unsigned)here, "not there");
    cr_assert_eq(bm_host_cpu_count(NULL), (unsigned)here);
}
