/*
 * cgroup.h - the cgroup limits this process is held to (a container's
 * memory and CPU), v2 and v1, read for the system gauges (jobs/sysmon.c)
 * and the cpu_percent and memory_percent alert gauges (jobs/alerting.c).
 *
 * A container sees its host's /proc/meminfo and every CPU of /proc/stat;
 * what it may use is in its cgroup's files. cgroup v2: memory.max (bytes,
 * or "max"), cpu.max ("QUOTA PERIOD" in µs, or "max PERIOD"),
 * memory.current what it uses now (page cache included: memory.stat's
 * inactive_file of it is what the kernel reclaims first, so the working set
 * is memory.current - inactive_file, as the kubelet and docker stats count
 * it), cpu.stat's usage_usec the CPU time it used, cpuset.cpus.effective
 * the CPUs it may run on ("0-3,8,10-11"); the process's cgroup is the "0::PATH" line of
 * /proc/self/cgroup, below the root (/sys/fs/cgroup). A limit may be set on an ancestor (a systemd
 * slice, a pod), so every directory from the own cgroup up to the root is read and the tightest
 * limit kept; the use read is that of the cgroup holding it. A file that is not there is no limit
 * (no cgroup v2, a controller not enabled, the root); one that is there but cannot be read or says
 * something else is flagged, never taken for a figure.
 *
 *   /sys/fs/cgroup/system.slice/busmon.service/memory.max   "max"
 *   /sys/fs/cgroup/system.slice/memory.max                  "536870912"  <- kept
 *   /sys/fs/cgroup/memory.max                               (none at the root)
 *
 * cgroup v1 (a host still on it, or a hybrid one's v1 controllers): each
 * controller is a hierarchy of its own below the root, named as the
 * controllers of its /proc/self/cgroup line ("4:memory:/docker/abc" ->
 * memory/docker/abc; "3:cpu,cpuacct:/docker/abc" -> cpu,cpuacct/..., or
 * cpu/... where only that is there): memory.limit_in_bytes and
 * memory.usage_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us ("-1": no
 * limit) and cpuacct.usage (ns) at the same path below the cpuacct
 * hierarchy, cpuset.effective_cpus (older kernels: cpuset.cpus) below the
 * cpuset one. v1's "no limit" is a huge number (9223372036854771712).
 * A container's mount is often its own cgroup (v1 without a cgroup
 * namespace shows the host's path), so a path not there below a hierarchy
 * reads the hierarchy's top. The tightest limit of v2 and
 * v1 is kept (a controller is in one of them).
 *
 * The CPU limit is the least of the quota (quota / period CPUs) and the
 * CPUs of the cpuset, when that is fewer than the host's (a cpuset of
 * every CPU, as the root's, is no limit); the CPU time read is that of the
 * cgroup holding the one kept.
 */
#ifndef BM_AGENT_CGROUP_H
#define BM_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define BM_CGROUP_PATH_MAX 512 /* a file's path below the root; a longer one is not read */

/* What is read, for the flags (v2 file / v1 file). */
typedef enum {
    BM_CGROUP_MEMORY_MAX,     /* memory.max / memory.limit_in_bytes */
    BM_CGROUP_MEMORY_CURRENT, /* memory.current / memory.usage_in_bytes */
    BM_CGROUP_CPU_MAX,        /* cpu.max / cpu.cfs_quota_us and cpu.cfs_period_us */
    BM_CGROUP_CPU_USAGE,      /* cpu.stat usage_usec / cpuacct.usage */
    BM_CGROUP_MEMORY_STAT,    /* memory.stat inactive_file / total_inactive_file */
    BM_CGROUP_CPUSET,         /* cpuset.cpus.effective / cpuset.effective_cpus, cpuset.cpus */
    BM_CGROUP__FILES
} bm_cgroup_file;

/* One CPU limit and the CPU time of the cgroup holding it. */
typedef struct {
    uint64_t millicores; /* thousandths of a CPU; 0: none */
    uint64_t usage_usec;
    int usage_known;
} bm_cgroup_cpu;

typedef struct {
    uint64_t memory_limit_bytes;   /* the tightest memory limit; 0: no limit */
    uint64_t memory_usage_bytes;   /* the use of that cgroup; 0: no limit, or unread */
    /* the use less its inactive page cache, floored at 0; the use itself when
     * memory.stat fails (flagged); meaningful when memory_usage_bytes is not 0 */
    uint64_t memory_working_set_bytes;
    /* the tightest CPU limit in thousandths of a CPU, the least of the quota and
     * the cpuset's CPUs (fewer than the host's); 0: no limit */
    uint64_t cpu_limit_millicores;
    uint64_t cpu_usage_usec; /* CPU time the cgroup of that limit used, when known */
    int cpu_usage_known;     /* 1: cpu_usage_usec was read (a limit is set) */
    /* each CPU limit alone, with the CPU time of the cgroup holding it; a
     * cpuset's millicores are its CPUs x 1000 */
    bm_cgroup_cpu quota, cpuset;
    /* each kind's first file that is there but unreadable or not understood ("": none) */
    char bad_path[BM_CGROUP__FILES][BM_CGROUP_PATH_MAX];
} bm_cgroup_limits;

/* Where this process is: its cgroup v2 path and the v1 hierarchies of
 * the memory, cpu and cpuacct controllers (path "" when not listed). */
typedef struct {
    char path[BM_CGROUP_PATH_MAX];
    char controllers[64]; /* the hierarchy's controllers as listed: "cpu,cpuacct" */
} bm_cgroup_place;

typedef struct {
    char v2[BM_CGROUP_PATH_MAX]; /* "/" when there is no "0::" line */
    bm_cgroup_place memory, cpu, cpuacct, cpuset;
} bm_cgroup_own;

/*
 * The process's cgroup v2 path from the text of /proc/self/cgroup: the
 * PATH of its "0::PATH" line, into out (n bytes).
 * @return 0, or -1: no such line or too long (out is then "/").
 */
int bm_cgroup_own_path(const char *proc_self_cgroup, char *out, size_t n);

/* Every place of the text of /proc/self/cgroup into *out (a path outside
 * the cgroup namespace's root, "/..", is left out: the v2 one is "/"). */
void bm_cgroup_own_parse(const char *proc_self_cgroup, bm_cgroup_own *out);

/* The same from the file `path` (NULL: /proc/self/cgroup); none when it
 * cannot be read. One small read. */
void bm_cgroup_own_read(const char *path, bm_cgroup_own *out);

/*
 * Read the cgroup v2 limits of the cgroup `own` (a path as
 * bm_cgroup_own_path gives) and of its ancestors, below `root` (NULL:
 * /sys/fs/cgroup), into *out. A few small reads per directory; nothing
 * logged (out->bad_path says what failed).
 */
void bm_cgroup_read(const char *root, const char *own, bm_cgroup_limits *out);

/* The same for v2 and every v1 hierarchy of `own`, the tightest of each
 * kind; host_cpus: the host's online CPUs (a cpuset of as many or more is
 * no limit; 0: unknown, every cpuset is one). */
void bm_cgroup_read_all(const char *root, const bm_cgroup_own *own, unsigned host_cpus,
                        bm_cgroup_limits *out);

/*
 * A CPU list as the kernel writes it ("0-3,8,10-11", then at most a
 * newline): how many CPUs it names. @return 0 and *cpus (at least 1), or
 * -1: empty, not a list, a range backwards, a CPU past 65535.
 */
int bm_cgroup_parse_cpu_list(const char *text, unsigned *cpus);

/*
 * The "KEY N" line of a flat keyed file (memory.stat), KEY whole at a
 * line's start. @return 0 and *v, or -1: no such line, or not a whole number.
 */
int bm_cgroup_parse_stat_field(const char *text, const char *key, uint64_t *v);

#endif
