/*
 * test_cgroup.c - the cgroup v2 limits (agent/core/cgroup.h, the parsers in
 * lib/sysstat.h): memory.max and cpu.max limited, "max", missing and
 * garbage; the own cgroup's path from /proc/self/cgroup; the tightest
 * limit of the own cgroup and its parents, the memory use and working set
 * beside it; the CPU limit the least of the quota and the cpuset; a file
 * there that cannot be understood flagged, never a figure.
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
    put("", "memory.stat", "anon 1\ninactive_file 0\n");
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
    put("/system.slice/busmon.service", "memory.stat", "inactive_file 0\n");
    put("/system.slice/busmon.service", "cpu.max", "50000 100000\n");
    put("/system.slice", "memory.max", "4000000\n");
    put("/system.slice", "memory.current", "3000000\n");
    put("/system.slice", "memory.stat", "inactive_file 0\n");
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
    bm_cgroup_read_all(root, &o, 64, l); /* a host of 64 CPUs */
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
            {"/memory/docker/abc", "memory.stat", "inactive_file 9\ntotal_inactive_file 0\n"},
            {"/cpu,cpuacct", "cpu.cfs_quota_us", "-1\n"},
            {"/cpu,cpuacct", "cpu.cfs_period_us", "100000\n"},
            {"/cpu,cpuacct", "cpuacct.usage", "900000000000\n"},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", quota},
            {"/cpu,cpuacct/docker/abc", "cpu.cfs_period_us", "100000\n"},
        },
        10);
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
            {"/memory/docker", "memory.stat", "total_inactive_file 0\n"},
            {"/cpu,cpuacct/docker", "cpu.cfs_quota_us", "200000\n"},
            {"/cpu,cpuacct/docker", "cpu.cfs_period_us", "100000\n"},
            {"/cpu,cpuacct/docker", "cpuacct.usage", "7000\n"},
        },
        6);
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
            {"/memory", "memory.stat", "total_inactive_file 0\n"},
            {"/cpu", "cpu.cfs_quota_us", "25000\n"},
            {"/cpu", "cpu.cfs_period_us", "100000\n"},
            {"/cpuacct", "cpuacct.usage", "3000000\n"},
        },
        6);
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

/* ---- the working set, the cpuset ------------------------------------------------ */

Test(cgroup, stat_field)
{
    const char *stat = "anon 100\nfile 900\ninactive_anon 0\ninactive_file 800\n"
                       "total_inactive_file 5\n";
    uint64_t v = 7;
    cr_assert_eq(bm_cgroup_parse_stat_field(stat, "inactive_file", &v), 0);
    cr_assert_eq(v, 800, "the whole key at a line's start, not inactive_anon nor total_*");
    cr_assert_eq(bm_cgroup_parse_stat_field(stat, "total_inactive_file", &v), 0);
    cr_assert_eq(v, 5);
    cr_assert_eq(bm_cgroup_parse_stat_field("inactive_file 12", "inactive_file", &v), 0);
    cr_assert_eq(v, 12, "the last line without its newline");
    cr_assert_eq(bm_cgroup_parse_stat_field(stat, "active_file", &v), -1, "no such line");
    cr_assert_eq(bm_cgroup_parse_stat_field("inactive_file x\n", "inactive_file", &v), -1);
    cr_assert_eq(bm_cgroup_parse_stat_field("inactive_file -1\n", "inactive_file", &v), -1);
    cr_assert_eq(bm_cgroup_parse_stat_field("inactive_file 1 2\n", "inactive_file", &v), -1);
    cr_assert_eq(
        bm_cgroup_parse_stat_field("inactive_file 99999999999999999999\n", "inactive_file", &v), -1,
        "out of range");
    cr_assert_eq(bm_cgroup_parse_stat_field("", "inactive_file", &v), -1);
}

Test(cgroup, cpu_list)
{
    static const struct {
        const char *text;
        unsigned cpus;
    } good[] = {{"0-3,8,10-11\n", 7}, {"0\n", 1},       {"5", 1},     {"0-63\n", 64},
                {"2-3\n", 2},         {"0,2,4,6\n", 4}, {"7-7\n", 1}, {"0-65535", 65536}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        unsigned n = 0;
        cr_assert_eq(bm_cgroup_parse_cpu_list(good[i].text, &n), 0, "[%s]", good[i].text);
        cr_assert_eq(n, good[i].cpus, "[%s]", good[i].text);
    }
    static const char *const bad[] = {"",      "\n",   "3-1\n",   "a\n",  "0-\n",
                                      "-1\n",  "0,,1", "0-3 \n",  "1,\n", "65536\n",
                                      "0-7:2", " 0-3", "0-3\n\n", "+1\n", "0-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unsigned n = 7;
        cr_assert_eq(bm_cgroup_parse_cpu_list(bad[i], &n), -1, "[%s]", bad[i]);
        cr_assert_eq(n, 7, "[%s] left alone", bad[i]);
    }
}

/* A v2 container: 500 MiB used of a 512 MiB limit, `inactive` of it page
 * cache not used lately (memory.stat's text). */
static void v2_memory(const char *stat)
{
    put("/ctr", "memory.max", "536870912\n");
    put("/ctr", "memory.current", "524288000\n");
    if (stat) put("/ctr", "memory.stat", stat);
}

Test(cgroup_read, v2_working_set)
{
    bm_cgroup_limits l;
    v2_memory("anon 104857600\nfile 419430400\ninactive_anon 0\nactive_file 0\n"
              "inactive_file 419430400\n");
    read_self("0::/ctr\n", &l);
    assert_figures(&l, 536870912, 524288000, 0);
    cr_assert_eq(l.memory_working_set_bytes, 104857600, "the use less its inactive page cache");
    assert_none_bad(&l);
    /* more inactive than in use (read at other instants): 0, not a wrap */
    put("/ctr", "memory.stat", "inactive_file 600000000\n");
    read_self("0::/ctr\n", &l);
    cr_assert_eq(l.memory_working_set_bytes, 0);
    assert_none_bad(&l);
}

Test(cgroup_read, working_set_unreadable_is_the_use_flagged)
{
    bm_cgroup_limits l;
    char want[128];
    /* without the line (v1's total_* name on v2 is not it), not a number, not there */
    static const char *const stats[] = {"anon 5\ntotal_inactive_file 400\n", "inactive_file lots\n",
                                        NULL};
    for (size_t i = 0; i < 3; i++) {
        drop_root();
        make_root();
        v2_memory(stats[i]);
        snprintf(want, sizeof want, "%s/ctr/memory.stat", root);
        read_self("0::/ctr\n", &l);
        cr_assert_eq(l.memory_usage_bytes, 524288000);
        cr_assert_eq(l.memory_working_set_bytes, 524288000, "case %zu: the use, never 0", i);
        cr_assert_str_eq(l.bad_path[BM_CGROUP_MEMORY_STAT], want, "case %zu", i);
    }
}

Test(cgroup_read, v1_working_set)
{
    v1_tree("536870912\n", "-1\n");
    put("/memory/docker/abc", "memory.stat",
        "cache 400000000\ninactive_file 1\ntotal_cache 400000000\ntotal_inactive_file 419430400\n");
    bm_cgroup_limits l;
    read_self(v1_self, &l);
    cr_assert_eq(l.memory_usage_bytes, 524288000);
    cr_assert_eq(l.memory_working_set_bytes, 104857600, "total_inactive_file, not inactive_file");
    assert_none_bad(&l);
}

/* A v2 host of 64 CPUs: the root's cpuset every CPU, a pod's two of them. */
static void v2_cpuset(const char *pod_cpus)
{
    put_rows(
        (const char *const[][3]){
            {"", "cpuset.cpus.effective", "0-63\n"},
            {"", "cpu.stat", "usage_usec 900000000\n"},
            {"/pod", "cpuset.cpus.effective", pod_cpus},
            {"/pod", "cpu.stat", "usage_usec 4000\n"},
            {"/pod/c", "cpuset.cpus.effective", pod_cpus},
            {"/pod/c", "cpu.stat", "usage_usec 1000\n"},
        },
        6);
}

Test(cgroup_read, v2_cpuset_is_a_cpu_limit)
{
    bm_cgroup_limits l;
    v2_cpuset("8,40\n");
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 2000, "2 of 64 CPUs, no quota");
    cr_assert_eq(l.cpuset.millicores, 2000);
    cr_assert_eq(l.quota.millicores, 0);
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 1000, "the own cgroup's: the deepest with those CPUs");
    assert_none_bad(&l);
    /* a quota tighter than the cpuset wins, with its holder's CPU time */
    put("/pod", "cpu.max", "150000 100000\n");
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 1500);
    cr_assert_eq(l.cpu_usage_usec, 4000);
    /* a looser one does not */
    put("/pod", "cpu.max", "400000 100000\n");
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 2000);
    cr_assert_eq(l.quota.millicores, 4000);
    cr_assert_eq(l.cpu_usage_usec, 1000);
}

Test(cgroup_read, cpuset_of_every_cpu_is_no_limit)
{
    bm_cgroup_limits l;
    v2_cpuset("0-63\n");
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 0, "the host's 64");
    cr_assert(!l.cpu_usage_known);
    assert_none_bad(&l);
    /* 2 CPUs of a host of 2: none either */
    v2_cpuset("0-1\n");
    bm_cgroup_own o;
    bm_cgroup_own_parse("0::/pod/c\n", &o);
    bm_cgroup_read_all(root, &o, 2, &l);
    cr_assert_eq(l.cpu_limit_millicores, 0);
    bm_cgroup_read_all(root, &o, 0, &l);
    cr_assert_eq(l.cpu_limit_millicores, 2000, "the host's CPUs unknown: any cpuset is one");
}

Test(cgroup_read, cpuset_garbage_is_flagged_not_a_limit)
{
    bm_cgroup_limits l;
    v2_cpuset("0-3:2\n");
    put("/pod", "cpuset.cpus.effective", "3-1\n");
    put("/pod", "cpu.max", "300000 100000\n");
    read_self("0::/pod/c\n", &l);
    cr_assert_eq(l.cpu_limit_millicores, 3000, "the quota alone");
    cr_assert_eq(l.cpuset.millicores, 0);
    char want[128];
    snprintf(want, sizeof want, "%s/pod/c/cpuset.cpus.effective", root);
    cr_assert_str_eq(l.bad_path[BM_CGROUP_CPUSET], want, "the first one failing");
    cr_assert_str_empty(l.bad_path[BM_CGROUP_CPU_MAX]);
}

Test(cgroup_read, v1_cpuset)
{
    v1_tree("9223372036854771712\n", "-1\n");
    put_rows(
        (const char *const[][3]){
            {"/cpuset", "cpuset.effective_cpus", "0-63\n"},
            {"/cpuset", "cpuset.cpus", "0-63\n"},
            {"/cpuset/docker/abc", "cpuset.effective_cpus", "2-3\n"},
            {"/cpuset/docker/abc", "cpuset.cpus", "2-5\n"},
        },
        4);
    static const char self[] = "11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"
                               "3:cpuset:/docker/abc\n";
    bm_cgroup_limits l;
    read_self(self, &l);
    cr_assert_eq(l.cpu_limit_millicores, 2000, "cpuset.effective_cpus");
    cr_assert(l.cpu_usage_known);
    cr_assert_eq(l.cpu_usage_usec, 2500000, "cpuacct.usage of the same cgroup");
    assert_none_bad(&l);
    /* an older kernel: cpuset.cpus only */
    char path[160];
    snprintf(path, sizeof path, "%s/cpuset/docker/abc/cpuset.effective_cpus", root);
    cr_assert_eq(unlink(path), 0);
    read_self(self, &l);
    cr_assert_eq(l.cpu_limit_millicores, 4000, "cpuset.cpus");
    /* a quota below it wins */
    put("/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", "50000\n");
    read_self(self, &l);
    cr_assert_eq(l.cpu_limit_millicores, 500);
    put("/cpuset/docker/abc", "cpuset.cpus", "lots\n");
    put("/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", "-1\n");
    read_self(self, &l);
    cr_assert_eq(l.cpu_limit_millicores, 0);
    cr_assert_str_not_empty(l.bad_path[BM_CGROUP_CPUSET]);
}
