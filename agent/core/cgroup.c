/*
 * cgroup.c - the cgroup v2 and v1 limits of this process (cgroup.h has the picture).
 */
#include "agent/core/cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/core/host_stats.h"
#include "lib/sysstat.h"

#define DEFAULT_ROOT "/sys/fs/cgroup"

int bm_cgroup_own_path(const char *text, char *out, size_t n)
{
    snprintf(out, n, "/");
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 3 && !strncmp(p, "0::", 3)) {
            if (len - 3 >= n || p[3] != '/') return -1;
            snprintf(out, n, "%.*s", (int)(len - 3), p + 3);
            /* outside the cgroup namespace's root the kernel writes "/../..": not below root */
            if (!strstr(out, "/..")) return 0;
            snprintf(out, n, "/");
            return -1;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

/* Whether the comma-separated list (len bytes) names the controller. */
static int lists(const char *list, size_t len, const char *controller)
{
    size_t n = strlen(controller);
    for (const char *p = list, *end = list + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (l == n && !strncmp(p, controller, n)) return 1;
        p += l + 1;
    }
    return 0;
}

/* A v1 line "ID:LIST:PATH" into the places of the controllers it lists. */
static void take_v1_line(const char *line, size_t len, bm_cgroup_own *out)
{
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (!c2) return;
    size_t list_len = (size_t)(c2 - c1 - 1), path_len = len - (size_t)(c2 + 1 - line);
    const char *path = c2 + 1;
    if (!list_len || list_len >= sizeof out->memory.controllers ||
        path_len >= sizeof out->memory.path || *path != '/')
        return;
    bm_cgroup_place *places[] = {&out->memory, &out->cpu, &out->cpuacct, &out->cpuset};
    static const char *const names[] = {"memory", "cpu", "cpuacct", "cpuset"};
    for (size_t i = 0; i < 4; i++) {
        if (!lists(c1 + 1, list_len, names[i])) continue;
        snprintf(places[i]->controllers, sizeof places[i]->controllers, "%.*s", (int)list_len,
                 c1 + 1);
        snprintf(places[i]->path, sizeof places[i]->path, "%.*s", (int)path_len, path);
        if (strstr(places[i]->path, "/..")) places[i]->path[0] = '\0'; /* not below the root */
    }
}

void bm_cgroup_own_parse(const char *text, bm_cgroup_own *out)
{
    memset(out, 0, sizeof *out);
    bm_cgroup_own_path(text, out->v2, sizeof out->v2);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, "0::", 3)) take_v1_line(p, len, out);
        p = end ? end + 1 : NULL;
    }
}

void bm_cgroup_own_read(const char *path, bm_cgroup_own *out)
{
    char text[4096];
    if (bm_host_read(path ? path : "/proc/self/cgroup", text, sizeof text)) text[0] = '\0';
    bm_cgroup_own_parse(text, out);
}

/* Nothing after p but one optional newline. */
static int at_line_end(const char *p)
{
    return !*p || !strcmp(p, "\n");
}

typedef enum { FILE_MISSING, FILE_BAD, FILE_READ } file_read;

/* A small file into buf, NUL-terminated: not there (no cgroup v2, no such
 * controller), there but unreadable or empty, or read. */
static file_read read_small(const char *path, char *buf, size_t n)
{
    errno = 0;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT || errno == ENOTDIR ? FILE_MISSING : FILE_BAD;
    size_t got = fread(buf, 1, n - 1, f);
    int failed = ferror(f);
    fclose(f);
    buf[got] = '\0';
    return failed || !got ? FILE_BAD : FILE_READ;
}

int bm_cgroup_parse_cpu_list(const char *text, unsigned *cpus)
{
    const char *p = text;
    unsigned n = 0;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9') return -1;
        unsigned long first = strtoul(p, &end, 10), last = first;
        p = end;
        if (*p == '-') {
            if (p[1] < '0' || p[1] > '9') return -1;
            last = strtoul(p + 1, &end, 10);
            p = end;
        }
        if (last < first || last > 65535) return -1;
        n += (unsigned)(last - first + 1);
        if (*p != ',') break;
        p++;
    }
    if (!at_line_end(p)) return -1;
    *cpus = n;
    return 0;
}

int bm_cgroup_parse_stat_field(const char *text, const char *key, uint64_t *v)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, key, klen) && p[klen] == ' ') {
            const char *q = p + klen + 1;
            char *end;
            if (*q < '0' || *q > '9') return -1;
            errno = 0;
            unsigned long long n = strtoull(q, &end, 10);
            if (errno || (*end && *end != '\n')) return -1;
            *v = (uint64_t)n;
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

/* A use is a figure, never "max". */
static int parse_use(const char *text, uint64_t *v)
{
    int rc = sysstat_parse_cgroup_value(text, v);
    return rc == 1 ? -1 : rc;
}

/* v1 cpuacct.usage: nanoseconds, as µs. */
static int parse_v1_cpu_usage(const char *text, uint64_t *v)
{
    int rc = parse_use(text, v);
    if (rc == 0) *v /= 1000;
    return rc;
}

/* One file `name` of dir into buf. @return 0 read; 1: not there; -1: there
 * but unreadable (flagged in out as `kind`). */
static int read_in(bm_cgroup_limits *out, const char *dir, const char *name, bm_cgroup_file kind,
                   char *buf, size_t n)
{
    char path[BM_CGROUP_PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path) return 1; /* longer than any cgroup path */
    file_read r = read_small(path, buf, n);
    if (r == FILE_MISSING) return 1;
    if (r == FILE_READ) return 0;
    if (!out->bad_path[kind][0]) snprintf(out->bad_path[kind], sizeof path, "%s", path);
    return -1;
}

/* The first failure of a kind: its path, flagged. */
static void flag(bm_cgroup_limits *out, const char *dir, const char *name, bm_cgroup_file kind)
{
    if (!out->bad_path[kind][0])
        snprintf(out->bad_path[kind], sizeof out->bad_path[kind], "%s/%s", dir, name);
}

/* One value file of dir. @return 0 and *v (a figure); 1: none (not there, no
 * limit); -1: there but unreadable or not understood (flagged in out). */
static int value_in(bm_cgroup_limits *out, const char *dir, const char *name, bm_cgroup_file kind,
                    int (*parse)(const char *, uint64_t *), uint64_t *v)
{
    char buf[128];
    int rc = read_in(out, dir, name, kind, buf, sizeof buf);
    if (rc) return rc;
    rc = parse(buf, v);
    if (rc < 0) flag(out, dir, name, kind);
    return rc;
}

/* v1's quota is two files: cpu.cfs_quota_us ("-1": none) and cpu.cfs_period_us. */
static int v1_cpu_limit(bm_cgroup_limits *out, const char *dir, uint64_t *millicores)
{
    char quota[64], period[64];
    int rc = read_in(out, dir, "cpu.cfs_quota_us", BM_CGROUP_CPU_MAX, quota, sizeof quota);
    if (rc) return rc;
    if (read_in(out, dir, "cpu.cfs_period_us", BM_CGROUP_CPU_MAX, period, sizeof period))
        period[0] = '\0'; /* a quota without its period is not understood */
    rc = sysstat_parse_cgroup_v1_cpu(quota, period, millicores);
    if (rc < 0) flag(out, dir, "cpu.cfs_quota_us", BM_CGROUP_CPU_MAX);
    return rc;
}

/* The files of one hierarchy: v2 (all kinds), v1 memory, v1 cpu, v1 cpuset. */
typedef enum { HIER_V2, HIER_V1_MEMORY, HIER_V1_CPU, HIER_V1_CPUSET } hierarchy;

/*
 * The working set of the cgroup dir using `used` bytes: less the inactive
 * page cache of its memory.stat (the kernel drops that before it kills),
 * floored at 0. memory.stat not there, unreadable or without the line:
 * flagged, and the use itself (never 0, never a guess below it).
 */
static uint64_t working_set(bm_cgroup_limits *out, const char *dir, int v1, uint64_t used)
{
    static const char name[] = "memory.stat";
    const char *key = v1 ? "total_inactive_file" : "inactive_file";
    char text[16384];
    uint64_t inactive;
    if (read_in(out, dir, name, BM_CGROUP_MEMORY_STAT, text, sizeof text) == 0) {
        size_t len = strlen(text);
        char *last = len == sizeof text - 1 ? strrchr(text, '\n') : NULL;
        if (last) last[1] = '\0'; /* a file longer than the room: its whole lines only */
        if (bm_cgroup_parse_stat_field(text, key, &inactive) == 0)
            return inactive < used ? used - inactive : 0;
    }
    flag(out, dir, name, BM_CGROUP_MEMORY_STAT);
    return used;
}

/* dir's memory limit, kept with the use and working set beside it when
 * tighter than the one kept. */
static void take_memory(bm_cgroup_limits *out, const char *dir, int v1)
{
    uint64_t v, used;
    if (value_in(out, dir, v1 ? "memory.limit_in_bytes" : "memory.max", BM_CGROUP_MEMORY_MAX,
                 v1 ? sysstat_parse_cgroup_v1_limit : sysstat_parse_cgroup_value, &v) ||
        !v || (out->memory_limit_bytes && v >= out->memory_limit_bytes))
        return;
    out->memory_limit_bytes = v;
    out->memory_usage_bytes = value_in(out, dir, v1 ? "memory.usage_in_bytes" : "memory.current",
                                       BM_CGROUP_MEMORY_CURRENT, parse_use, &used)
                                  ? 0
                                  : used;
    out->memory_working_set_bytes =
        out->memory_usage_bytes ? working_set(out, dir, v1, out->memory_usage_bytes) : 0;
}

/* m millicores held by a cgroup: kept in *keep with the CPU time of
 * usage_dir (v1: the cpuacct hierarchy's same cgroup) when tighter than
 * the one kept. */
static void keep_cpu(bm_cgroup_limits *out, bm_cgroup_cpu *keep, uint64_t m, const char *usage_dir,
                     int v1)
{
    uint64_t used;
    if (keep->millicores && m >= keep->millicores) return;
    keep->millicores = m;
    keep->usage_known =
        value_in(out, usage_dir, v1 ? "cpuacct.usage" : "cpu.stat", BM_CGROUP_CPU_USAGE,
                 v1 ? parse_v1_cpu_usage : sysstat_parse_cgroup_cpu_usage, &used) == 0;
    keep->usage_usec = keep->usage_known ? used : 0;
}

/* dir's CPU quota. */
static void take_cpu(bm_cgroup_limits *out, const char *dir, const char *usage_dir, int v1)
{
    uint64_t m;
    if (!(v1 ? v1_cpu_limit(out, dir, &m)
             : value_in(out, dir, "cpu.max", BM_CGROUP_CPU_MAX, sysstat_parse_cgroup_cpu_max, &m)))
        keep_cpu(out, &out->quota, m, usage_dir, v1);
}

static int parse_cpu_list_millicores(const char *text, uint64_t *millicores)
{
    unsigned cpus;
    if (bm_cgroup_parse_cpu_list(text, &cpus)) return -1;
    *millicores = (uint64_t)cpus * 1000;
    return 0;
}

/* dir's cpuset: v2 cpuset.cpus.effective; v1 cpuset.effective_cpus, or
 * cpuset.cpus where a kernel has no effective one. A list not understood
 * is flagged, no limit. */
static void take_cpuset(bm_cgroup_limits *out, const char *dir, const char *usage_dir, int v1)
{
    uint64_t m;
    int rc = value_in(out, dir, v1 ? "cpuset.effective_cpus" : "cpuset.cpus.effective",
                      BM_CGROUP_CPUSET, parse_cpu_list_millicores, &m);
    if (rc == 1 && v1)
        rc = value_in(out, dir, "cpuset.cpus", BM_CGROUP_CPUSET, parse_cpu_list_millicores, &m);
    if (rc == 0) keep_cpu(out, &out->cpuset, m, usage_dir, v1);
}

/* The CPU limit: the least of the quota and a cpuset of fewer CPUs than
 * the host has (0: unknown), with the CPU time of the cgroup holding it. */
static void settle_cpu(bm_cgroup_limits *out, unsigned host_cpus)
{
    if (host_cpus && out->cpuset.millicores >= (uint64_t)host_cpus * 1000)
        memset(&out->cpuset, 0, sizeof out->cpuset); /* every CPU: the root's, no limit */
    const bm_cgroup_cpu *kept = &out->quota;
    if (out->cpuset.millicores && (!kept->millicores || out->cpuset.millicores < kept->millicores))
        kept = &out->cpuset;
    out->cpu_limit_millicores = kept->millicores;
    out->cpu_usage_usec = kept->usage_usec;
    out->cpu_usage_known = kept->millicores && kept->usage_known;
}

/*
 * base/own into dir (n bytes), no trailing slash; base alone when own is
 * no path below it or no directory there (a container's mount is often its
 * own cgroup). @return the length of base in dir, or -1 (too long).
 */
static int cgroup_dir(const char *base, const char *own, char *dir, size_t n)
{
    int len = snprintf(dir, n, "%s", base);
    if (len < 0 || (size_t)len >= n) return -1;
    while (len > 0 && dir[len - 1] == '/')
        dir[--len] = '\0';
    size_t base_len = (size_t)len;
    if (!own || *own != '/' || strstr(own, "/..")) return len;
    len = snprintf(dir + base_len, n - base_len, "%s", own);
    if (len < 0 || (size_t)len >= n - base_len) return -1;
    for (size_t l = strlen(dir); l > base_len && dir[l - 1] == '/';)
        dir[--l] = '\0';
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) dir[base_len] = '\0';
    return (int)base_len;
}

/* From the cgroup `own` below base up to base: the tightest limits of the hierarchy's kinds.
 * usage_base: v1 cpu, the cpuacct hierarchy (the CPU time at the same path below it). */
static void walk(bm_cgroup_limits *out, const char *base, const char *own, hierarchy h,
                 const char *usage_base)
{
    char dir[BM_CGROUP_PATH_MAX], usage_dir[BM_CGROUP_PATH_MAX];
    int base_len = cgroup_dir(base, own, dir, sizeof dir);
    if (base_len < 0) return;
    for (;;) {
        if (h == HIER_V2 || h == HIER_V1_MEMORY) take_memory(out, dir, h == HIER_V1_MEMORY);
        if (h == HIER_V2) {
            take_cpu(out, dir, dir, 0);
            take_cpuset(out, dir, dir, 0);
        } else if (h == HIER_V1_CPU || h == HIER_V1_CPUSET) {
            int n = snprintf(usage_dir, sizeof usage_dir, "%s%s", usage_base, dir + base_len);
            if (n > 0 && (size_t)n < sizeof usage_dir)
                (h == HIER_V1_CPU ? take_cpu : take_cpuset)(out, dir, usage_dir, 1);
        }
        char *slash = strlen(dir) > (size_t)base_len ? strrchr(dir + base_len, '/') : NULL;
        if (!slash) break;
        *slash = '\0';
    }
}

void bm_cgroup_read(const char *root, const char *own, bm_cgroup_limits *out)
{
    memset(out, 0, sizeof *out);
    walk(out, root ? root : DEFAULT_ROOT, own, HIER_V2, NULL);
    settle_cpu(out, 0);
}

/* A v1 hierarchy's top, into base: root/<its controllers as listed>, else
 * root/<controller> (the name a co-mount's link has). @return 0, or -1: none there. */
static int v1_base(const char *root, const bm_cgroup_place *pl, const char *controller, char *base,
                   size_t n)
{
    if (!pl->path[0]) return -1;
    const char *names[] = {pl->controllers, controller};
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        int len = snprintf(base, n, "%s/%s", root, names[i]);
        if (len > 0 && (size_t)len < n && !stat(base, &st) && S_ISDIR(st.st_mode)) return 0;
    }
    return -1;
}

void bm_cgroup_read_all(const char *root, const bm_cgroup_own *own, unsigned host_cpus,
                        bm_cgroup_limits *out)
{
    if (!root) root = DEFAULT_ROOT;
    memset(out, 0, sizeof *out);
    walk(out, root, own->v2, HIER_V2, NULL);
    char base[BM_CGROUP_PATH_MAX], usage_base[BM_CGROUP_PATH_MAX];
    if (!v1_base(root, &own->memory, "memory", base, sizeof base))
        walk(out, base, own->memory.path, HIER_V1_MEMORY, NULL);
    /* the CPU time: the cpuacct hierarchy (the same one as cpu when co-mounted) */
    int have_cpuacct = !v1_base(root, &own->cpuacct, "cpuacct", usage_base, sizeof usage_base);
    if (!v1_base(root, &own->cpu, "cpu", base, sizeof base)) {
        if (!have_cpuacct) snprintf(usage_base, sizeof usage_base, "%s", base);
        walk(out, base, own->cpu.path, HIER_V1_CPU, usage_base);
    }
    if (have_cpuacct && !v1_base(root, &own->cpuset, "cpuset", base, sizeof base))
        walk(out, base, own->cpuset.path, HIER_V1_CPUSET, usage_base);
    settle_cpu(out, host_cpus);
}
