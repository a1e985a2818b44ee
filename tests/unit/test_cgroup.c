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
