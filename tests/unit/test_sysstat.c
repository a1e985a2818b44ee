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
