/*
 * test_sysstat.c - lib/sysstat: the /proc parsers on real-shaped text,
 * CPU percentage between samples, old kernels without MemAvailable, and
 * malformed input.
 */
#include "lib/sysstat.h"

#include <criterion/criterion.h>

Test(sysstat, cpu_percent_between_two_samples)
{
    sysstat_cpu a, b;
    cr_assert_eq(sysstat_parse_cpu("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n", &a), 0);
    cr_assert_eq(a.total_ticks, 1000);
    cr_assert_eq(a.idle_ticks, 800);
    cr_assert_eq(sysstat_parse_cpu("intr 5\ncpu  200 0 200 1300 100 0 0 0\n", &b), 0);
    /* +800 ticks, +600 idle: 25 % busy */
    cr_assert_float_eq(sysstat_cpu_percent(&a, &b), 25.0, 1e-9);
    cr_assert_float_eq(sysstat_cpu_percent(&a, &a), -1.0, 1e-9);
}

Test(sysstat, cpu_malformed)
{
    sysstat_cpu a;
    cr_assert_eq(sysstat_parse_cpu("cpu0 1 2 3 4\n", &a), -1);
    cr_assert_eq(sysstat_parse_cpu("cpu  1 2\n", &a), -1);
    cr_assert_eq(sysstat_parse_cpu("", &a), -1);
}

Test(sysstat, meminfo)
{
    uint64_t t, av;
    cr_assert_eq(sysstat_parse_meminfo("MemTotal:       16000 kB\nMemFree:  1000 kB\n"
                                       "MemAvailable:    4000 kB\n",
                                       &t, &av),
                 0);
    cr_assert_eq(t, 16000);
    cr_assert_eq(av, 4000);
    cr_assert_eq(sysstat_parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\n"
                                       "Cached: 250 kB\n",
                                       &t, &av),
                 0);
    cr_assert_eq(av, 400);
    cr_assert_eq(sysstat_parse_meminfo("MemFree: 100 kB\n", &t, &av), -1);
    cr_assert_eq(sysstat_parse_meminfo("MemTotal: x kB\n", &t, &av), -1);
}

Test(sysstat, loadavg)
{
    double l[3];
    cr_assert_eq(sysstat_parse_loadavg("0.52 1.10 2.00 1/234 5678\n", l), 0);
    cr_assert_float_eq(l[0], 0.52, 1e-9);
    cr_assert_float_eq(l[2], 2.0, 1e-9);
    cr_assert_eq(sysstat_parse_loadavg("nope", l), -1);
}

Test(sysstat, proc_self_stat)
{
    uint64_t ticks, rss;
    /* a command name with spaces and ')' in it: fields are read after the last ')' */
    const char *stat = "4242 (busmon agent) x) S 1 4242 4242 0 -1 4194304 500 0 0 0 "
                       "120 30 0 0 20 0 3 0 100 250000000 2048 18446744073709551615";
    cr_assert_eq(sysstat_parse_proc_self(stat, &ticks, &rss), 0);
    cr_assert_eq(ticks, 150);
    cr_assert_eq(rss, 2048);
    cr_assert_eq(sysstat_parse_proc_self("4242 (x) S 1 2", &ticks, &rss), -1);
    cr_assert_eq(sysstat_parse_proc_self("no parenthesis", &ticks, &rss), -1);
    cr_assert_eq(sysstat_parse_proc_self("", &ticks, &rss), -1);
}

Test(sysstat, redis_info_fields)
{
    const char *info = "# Clients\r\nconnected_clients:7\r\ncluster_connections:0\r\n"
                       "# Memory\r\nused_memory:1508264\r\nused_memory_human:1.44M\r\n"
                       "used_memory_rss:9000000\r\n";
    double v;
    cr_assert_eq(sysstat_info_field(info, "connected_clients", &v), 0);
    cr_assert_float_eq(v, 7, 1e-9);
    /* "used_memory" is not "used_memory_human" nor "used_memory_rss" */
    cr_assert_eq(sysstat_info_field(info, "used_memory", &v), 0);
    cr_assert_float_eq(v, 1508264, 1e-9);
    cr_assert_eq(sysstat_info_field(info, "used_memory_human", &v), -1); /* "1.44M" */
    cr_assert_eq(sysstat_info_field(info, "blocked_clients", &v), -1);
    cr_assert_eq(sysstat_info_field("", "connected_clients", &v), -1);
    cr_assert_eq(sysstat_info_field("connected_clients:\r\n", "connected_clients", &v), -1);
}
