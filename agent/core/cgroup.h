/*
 * cgroup.h - the cgroup v2 limits this process is held to (a container's
 * memory and CPU), read for the system gauges (jobs/sysmon.c).
 *
 * A container sees its host's /proc/meminfo and every CPU of /proc/stat;
 * what it may use is in its cgroup's files: memory.max (bytes, or "max"),
 * cpu.max ("QUOTA PERIOD" in µs, or "max PERIOD"), and memory.current
 * what it uses now. The process's cgroup is the "0::PATH" line of
 * /proc/self/cgroup, below the root (/sys/fs/cgroup). A limit may be set
 * on an ancestor (a systemd slice, a pod), so every directory from the own
 * cgroup up to the root is read and the tightest limit kept; the memory
 * use is that cgroup's. A file that is not there is no limit (no cgroup
 * v2, a controller not enabled, the root); one that is there but cannot be
 * read or says something else is flagged, never taken for a figure.
 *
 *   /sys/fs/cgroup/system.slice/busmon.service/memory.max   "max"
 *   /sys/fs/cgroup/system.slice/memory.max                  "536870912"  <- kept
 *   /sys/fs/cgroup/memory.max                               (none at the root)
 *
 * Not here: cgroup v1 (a hybrid host's v1 controllers: no limit is read),
 * what the figures mean to an alert.
 */
#ifndef BM_AGENT_CGROUP_H
#define BM_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define BM_CGROUP_PATH_MAX 512 /* a file's path below the root; a longer one is not read */

typedef enum {
    BM_CGROUP_MEMORY_MAX,
    BM_CGROUP_MEMORY_CURRENT,
    BM_CGROUP_CPU_MAX,
    BM_CGROUP__FILES
} bm_cgroup_file;

typedef struct {
    uint64_t memory_limit_bytes;   /* the tightest memory.max; 0: no limit */
    uint64_t memory_usage_bytes;   /* memory.current of that cgroup; 0: no limit, or unread */
    uint64_t cpu_limit_millicores; /* the tightest cpu.max in thousandths of a CPU; 0: no limit */
    /* each kind's first file that is there but unreadable or not understood ("": none) */
    char bad_path[BM_CGROUP__FILES][BM_CGROUP_PATH_MAX];
} bm_cgroup_limits;

/*
 * The process's cgroup v2 path from the text of /proc/self/cgroup: the
 * PATH of its "0::PATH" line, into out (n bytes).
 * @return 0, or -1: no such line or too long (out is then "/").
 */
int bm_cgroup_own_path(const char *proc_self_cgroup, char *out, size_t n);

/*
 * Read the limits of the cgroup `own` (a path as bm_cgroup_own_path gives)
 * and of its ancestors, below `root` (NULL: /sys/fs/cgroup), into *out.
 * A few small reads per directory; nothing logged (out->bad_path says what failed).
 */
void bm_cgroup_read(const char *root, const char *own, bm_cgroup_limits *out);

#endif
