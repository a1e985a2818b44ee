/*
 * test_cgroup.c - the cgroup v2 limits (agent/core/cgroup.h, the parsers in
 * lib/sysstat.h): memory.max and cpu.max limited, "max", missing and
 * garbage; the own cgroup's path from /proc/self/cgroup; the tightest
 * limit of the own cgroup and its parents, the memory use beside it; a
 * file there that cannot be understood flagged, never a figure.
 */
#include "agent/core/cgroup.h"
#include "lib/sysstat.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* parse(text) answers rc and, when 0, the figure want. */
static void expect(int (*parse)(const char *, uint64_t *), const char *text, int rc, uint64_t want)
{
    uint64_t v = 7;
    cr_assert_eq(parse(text, &v), rc, "[%s]", text);
    if (rc == 0) cr_assert_eq(v, want, "[%s]", text);
}

Test(cgroup, value_file)
{
    expect(sysstat_parse_cgroup_value, "536870912\n", 0, 536870912);
    expect(sysstat_parse_cgroup_value, "0", 0, 0);
    expect(sysstat_parse_cgroup_value, "18446744073709551615\n", 0, UINT64_MAX);
    expect(sysstat_parse_cgroup_value, "max\n", 1, 0);
    static const char *const bad[] = {"",
                                      "\n",
                                      "lots\n",
                                      "-1\n",
                                      "12.5\n",
                                      "12 k",
                                      "12\n3",
                                      " 12\n",
                                      "maximum\n",
                                      "max max\n",
                                      "18446744073709551616\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect(sysstat_parse_cgroup_value, bad[i], -1, 0);
}

Test(cgroup, cpu_max_file)
{
    expect(sysstat_parse_cgroup_cpu_max, "150000 100000\n", 0, 1500);
    expect(sysstat_parse_cgroup_cpu_max, "50000 100000", 0, 500);
    /* a tiny quota is at least one thousandth, never 0 (no limit) */
    expect(sysstat_parse_cgroup_cpu_max, "1 1000000\n", 0, 1);
    expect(sysstat_parse_cgroup_cpu_max, "max 100000\n", 1, 0);
    static const char *const bad[] = {"",         "max\n",          "50000\n",
                                      "0 100000", "50000 0\n",      "50000  100000\n",
                                      "x 100000", "50000 100000 9", "max 100000 x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect(sysstat_parse_cgroup_cpu_max, bad[i], -1, 0);
}

Test(cgroup, own_path)
{
    char p[64];
    cr_assert_eq(bm_cgroup_own_path("12:memory:/x\n0::/system.slice/busmon.service\n", p, sizeof p),
                 0);
    cr_assert_str_eq(p, "/system.slice/busmon.service");
    cr_assert_eq(bm_cgroup_own_path("0::/\n", p, sizeof p), 0);
    cr_assert_str_eq(p, "/");
    cr_assert_eq(bm_cgroup_own_path("4:memory:/a\n1:cpu:/\n", p, sizeof p), -1, "v1 only");
    cr_assert_str_eq(p, "/");
    cr_assert_eq(bm_cgroup_own_path("0::/../../other\n", p, sizeof p), -1, "outside the root");
    cr_assert_str_eq(p, "/");
}

/* A fake cgroup tree in a directory of our own. */
static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/bm-cgroup-test.XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void drop_root(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

/* root/dir/name holding text (dir made as needed). */
static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s", root, dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s%s/%s", root, dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* The root's three files, then the limits read from it. */
static void read_root(const char *memory_max, const char *memory_current, const char *cpu_max,
                      bm_cgroup_limits *l)
{
    put("", "memory.max", memory_max);
    put("", "memory.current", memory_current);
    put("", "cpu.max", cpu_max);
    bm_cgroup_read(root, "/", l);
}

static void assert_none_bad(const bm_cgroup_limits *l)
{
    for (int f = 0; f < BM_CGROUP__FILES; f++)
        cr_assert_str_empty(l->bad_path[f], "file %d flagged: %s", f, l->bad_path[f]);
}

static void assert_figures(const bm_cgroup_limits *l, uint64_t limit, uint64_t use,
                           uint64_t millicores)
{
    cr_assert_eq(l->memory_limit_bytes, limit);
    cr_assert_eq(l->memory_usage_bytes, use);
    cr_assert_eq(l->cpu_limit_millicores, millicores);
}

TestSuite(cgroup_read, .init = make_root, .fini = drop_root);

Test(cgroup_read, limited)
{
    bm_cgroup_limits l;
    read_root("536870912\n", "123456789\n", "150000 100000\n", &l);
    assert_figures(&l, 536870912, 123456789, 1500);
    assert_none_bad(&l);
}

Test(cgroup_read, max_is_no_limit)
{
    bm_cgroup_limits l;
    read_root("max\n", "123456789\n", "max 100000\n", &l);
    assert_figures(&l, 0, 0, 0); /* no limit: no use beside it either */
    assert_none_bad(&l);
}

Test(cgroup_read, missing_is_no_limit_and_no_error)
{
    bm_cgroup_limits l;
    bm_cgroup_read(root, "/no/such/cgroup", &l);
    assert_figures(&l, 0, 0, 0);
    assert_none_bad(&l);
}

Test(cgroup_read, garbage_is_flagged_never_a_figure)
{
    bm_cgroup_limits l;
    read_root("lots\n", "12\n", "50000\n", &l);
    assert_figures(&l, 0, 0, 0);
    char want[128];
    snprintf(want, sizeof want, "%s/memory.max", root);
    cr_assert_str_eq(l.bad_path[BM_CGROUP_MEMORY_MAX], want);
    snprintf(want, sizeof want, "%s/cpu.max", root);
    cr_assert_str_eq(l.bad_path[BM_CGROUP_CPU_MAX], want);
    cr_assert_str_empty(l.bad_path[BM_CGROUP_MEMORY_CURRENT], "not read: no limit beside it");
    /* an empty file, and a use that is not a number beside a limit */
    read_root("1000000\n", "max\n", "", &l);
    assert_figures(&l, 1000000, 0, 0);
    cr_assert_str_not_empty(l.bad_path[BM_CGROUP_MEMORY_CURRENT]);
    cr_assert_str_not_empty(l.bad_path[BM_CGROUP_CPU_MAX]);
}

Test(cgroup_read, tightest_of_the_own_cgroup_and_its_parents)
{
    /* the service says max, its slice holds the limit; the CPU quota is on the service */
    put("/system.slice/busmon.service", "memory.max", "max\n");
    put("/system.slice/busmon.service", "memory.current", "1000\n");
    put("/system.slice/busmon.service", "cpu.max", "50000 100000\n");
    put("/system.slice", "memory.max", "4000000\n");
    put("/system.slice", "memory.current", "3000000\n");
    put("/system.slice", "cpu.max", "200000 100000\n");
    bm_cgroup_limits l;
    bm_cgroup_read(root, "/system.slice/busmon.service/", &l);
    assert_figures(&l, 4000000, 3000000, 500); /* the use of the cgroup that holds the limit */
    /* a tighter limit below wins, with its own use */
    put("/system.slice/busmon.service", "memory.max", "2000000\n");
    bm_cgroup_read(root, "/system.slice/busmon.service", &l);
    assert_figures(&l, 2000000, 1000, 500);
    /* a root with a trailing slash, a path outside it ignored (read from the root) */
    char r2[80];
    snprintf(r2, sizeof r2, "%s/", root);
    bm_cgroup_read(r2, "/../system.slice", &l);
    cr_assert_eq(l.memory_limit_bytes, 0, "nothing at the root; never a file above it");
}

/* ---- the CPU time, cgroup v1, the gauges against a limit ---------------------- */

/* root/dir/name holding text, for each {dir, name, text} of rows. */
static void put_rows(const char *const rows[][3], size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(rows[i][0], rows[i][1], rows[i][2]);
}

/* The limits below root of the process whose /proc/self/cgroup is self. */
static void read_self(const char *self, bm_cgroup_limits *l)
{
    bm_cgroup_own o;
    bm_cgroup_own_parse(self, &o);
    bm_cgroup_read_all(root, &o, l);
}

Test(cgroup, cpu_usage_and_v1_files)
{
    expect(sysstat_parse_cgroup_cpu_usage, "usage_usec 123456\nuser_usec 100000\n", 0, 123456);
    expect(sysstat_parse_cgroup_cpu_usage, "nr_periods 5\nusage_usec 7", 0, 7);
    expect(sysstat_parse_cgroup_cpu_usage, "user_usec 100000\n", -1, 0);
    expect(sysstat_parse_cgroup_cpu_usage, "usage_usec x\n", -1, 0);
    expect(sysstat_parse_cgroup_v1_limit, "536870912\n", 0, 536870912);
    /* v1's "no limit": the largest page count in bytes (4 KiB and 64 KiB pages) */
    expect(sysstat_parse_cgroup_v1_limit, "9223372036854771712\n", 1, 0);
    expect(sysstat_parse_cgroup_v1_limit, "9223372036854710272\n", 1, 0);
    expect(sysstat_parse_cgroup_v1_limit, "max\n", -1, 0);
    expect(sysstat_parse_cgroup_v1_limit, "-1\n", -1, 0);
    uint64_t m = 7;
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("150000\n", "100000\n", &m), 0);
    cr_assert_eq(m, 1500);
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("-1\n", "100000\n", &m), 1);
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("-1", "", &m), 1, "no period needed for none");
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("50000\n", "", &m), -1);
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("0\n", "100000\n", &m), -1);
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("-2\n", "100000\n", &m), -1);
    cr_assert_eq(sysstat_parse_cgroup_v1_cpu("50000\n", "0\n", &m), -1);
}

Test(cgroup, cpu_percent_of_the_quota)
{
    /* half a CPU used over 1 s against a 1.5-CPU quota: a third of it */
    cr_assert_float_eq(sysstat_cgroup_cpu_percent(1000000, 1500000, 1000000, 1500), 100.0 / 3,
                       1e-9);
    cr_assert_float_eq(sysstat_cgroup_cpu_percent(0, 250000, 1000000, 500), 50.0, 1e-9);
    cr_assert_eq(sysstat_cgroup_cpu_percent(0, 5000000, 1000000, 1000), 100.0, "capped");
    cr_assert_eq(sysstat_cgroup_cpu_percent(5, 4, 1000000, 1000), -1, "went back");
    cr_assert_eq(sysstat_cgroup_cpu_percent(0, 4, 0, 1000), -1, "no time passed");
    cr_assert_eq(sysstat_cgroup_cpu_percent(0, 4, 1000000, 0), -1, "no quota");
}

Test(cgroup, own_places_v1_and_v2)
{
    bm_cgroup_own o;
    bm_cgroup_own_parse("12:pids:/docker/abc\n"
                        "4:memory:/docker/abc\n"
                        "3:cpu,cpuacct:/docker/abc\n"
                        "1:name=systemd:/docker/abc\n"
                        "0::/\n",
                        &o);
    cr_assert_str_eq(o.v2, "/");
    cr_assert_str_eq(o.memory.path, "/docker/abc");
    cr_assert_str_eq(o.memory.controllers, "memory");
    cr_assert_str_eq(o.cpu.path, "/docker/abc");
    cr_assert_str_eq(o.cpu.controllers, "cpu,cpuacct");
    cr_assert_str_eq(o.cpuacct.controllers, "cpu,cpuacct");
    /* separate hierarchies, no v2 line, a path outside the namespace left out */
    bm_cgroup_own_parse("2:cpuacct:/a\n1:cpu:/b\n5:memory:/../x\n", &o);
    cr_assert_str_eq(o.v2, "/");
    cr_assert_str_eq(o.cpu.path, "/b");
    cr_assert_str_eq(o.cpu.controllers, "cpu");
    cr_assert_str_eq(o.cpuacct.path, "/a");
    cr_assert_str_empty(o.memory.path);
    /* v2 only: no v1 place; "cpuset" is not "cpu" */
    bm_cgroup_own_parse("3:cpuset:/c\n0::/system.slice/x\n", &o);
    cr_assert_str_eq(o.v2, "/system.slice/x");
    cr_assert_str_empty(o.cpu.path);
    cr_assert_str_empty(o.memory.path);
}

Test(cgroup_read, v2_cpu_usage_of_the_quota_holder)
{
    put_rows(
        (const char *const[][3]){
            {"/pod", "cpu.max", "100000 100000\n"},
            {"/pod", "cpu.stat", "usage_usec 4000\nuser_usec 3000\n"},
            {"/pod/c", "cpu.max", "max 100000\n"},
            {"/pod/c", "cpu.stat", "usage_usec 1000\n"},
        },
        4);
    bm_cgroup_limits l;
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 1000);
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 4000, "the pod's, which holds the quota");
    assert_none_bad(&l);
    put("/pod", "cpu.stat", "nr_periods 3\n");
    read_self("0::/pod/c\n", &l);
    cr_assert(!l.cpu_usage_known, "a cpu.stat without usage_usec is not a figure");
    cr_assert_str_not_empty(l.bad_path[BM_CGROUP_CPU_USAGE]);
}

/* A v1 host: memory and cpu,cpuacct hierarchies below the root, the own
 * cgroup /docker/abc in each, the limits on it. */
static void v1_tree(const char *mem_limit, const char *quota)
{
    put_rows(
        (const char *const[][3]){
            {"/memory", "memory.limit_in_bytes", "9223372036854771712\n"},
            {"/memory", "memory.usage_in_bytes", "90000000000\n"},
            {"/memory/docker/abc", "memory.limit_in_bytes", mem_limit},
            {"/memory/docker/abc", "memory.usage_in_bytes", "524288000\n"},
            {"/cpu,cpuacct", "cpu.cfs_quota_us", "-1\n"},
            {"/cpu,cpuacct", "cpu.cfs_period_us", "100000\n"},
            {"/cpu,cpuacct", "cpuacct.usage", "900000000000\n"},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", quota},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_period_us", "100000\n"},
        },
        9);
    put("/cpu,cpuacct/docker/abc", "cpuacct.usage", "2500000000\n"); /* ns */
}

static const char v1_self[] = "11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"
                              "1:name=systemd:/docker/abc\n";

Test(cgroup_read, v1_limits)
{
    v1_tree("536870912\n", "50000\n");
    bm_cgroup_limits l;
    read_self(v1_self, &l);
    assert_figures(&l, 536870912, 524288000, 500);
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 2500000, "cpuacct.usage is in ns");
    assert_none_bad(&l);
}

Test(cgroup_read, v1_no_limit)
{
    v1_tree("9223372036854771712\n", "-1\n");
    bm_cgroup_limits l;
    read_self(v1_self, &l);
    assert_figures(&l, 0, 0, 0);
    cr_assert(!l.cpu_usage_known);
    assert_none_bad(&l);
}

Test(cgroup_read, v1_tightest_of_parents_and_garbage_flagged)
{
    v1_tree("9223372036854771712\n", "-1\n");
    put_rows(
        (const char *const[][3]){
            {"/memory/docker", "memory.limit_in_bytes", "1073741824\n"},
            {"/memory/docker", "memory.usage_in_bytes", "700000000\n"},
            {"/cpu,cpuacct/docker", "cpu.cfs_quota_us", "200000\n"},
            {"/cpu,cpuacct/docker", "cpu.cfs_period_us", "100000\n"},
            {"/cpu,cpuacct/docker", "cpuacct.usage", "7000\n"},
        },
        5);
    bm_cgroup_limits l;
    read_self(v1_self, &l);
    assert_figures(&l, 1073741824, 700000000, 2000);
    cr_assert_eq(l.cpu_usage_usec, 7);
    assert_none_bad(&l);
    put_rows(
        (const char *const[][3]){
            {"/memory/docker/abc", "memory.limit_in_bytes", "lots\n"},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", "50000\n"},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_period_us", "0\n"},
        },
        3);
    read_self(v1_self, &l);
    assert_figures(&l, 1073741824, 700000000, 2000);
    char want[160];
    snprintf(want, sizeof want, "%s/memory/docker/abc/memory.limit_in_bytes", root);
    cr_assert_str_eq(l.bad_path[BM_CGROUP_MEMORY_MAX], want);
    snprintf(want, sizeof want, "%s/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", root);
    cr_assert_str_eq(l.bad_path[BM_CGROUP_CPU_MAX], want);
}

Test(cgroup_read, v1_mount_is_the_own_cgroup)
{
    /* a container on a v1 host: /proc/self/cgroup names the host's path, the
     * mount shows the container's own cgroup at its top; cpu a link name */
    put_rows(
        (const char *const[][3]){
            {"/memory", "memory.limit_in_bytes", "268435456\n"},
            {"/memory", "memory.usage_in_bytes", "1000000\n"},
            {"/cpu", "cpu.cfs_quota_us", "25000\n"},
            {"/cpu", "cpu.cfs_period_us", "100000\n"},
            {"/cpuacct", "cpuacct.usage", "3000000\n"},
        },
        5);
    bm_cgroup_limits l;
    read_self("9:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n", &l);
    assert_figures(&l, 268435456, 1000000, 250);
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 3000);
    assert_none_bad(&l);
}

Test(cgroup_read, v1_separate_cpuacct)
{
    put_rows(
        (const char *const[][3]){
            {"/cpu/k/p", "cpu.cfs_quota_us", "300000\n"},
            {"/cpu/k/p", "cpu.cfs_period_us", "100000\n"},
            {"/cpuacct/k/p", "cpuacct.usage", "5000000\n"},
        },
        3);
    bm_cgroup_limits l;
    read_self("2:cpuacct:/k/p\n1:cpu:/k/p\n", &l);
    assert_figures(&l, 0, 0, 3000);
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 5000);
}
