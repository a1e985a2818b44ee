/*
 * cgroup.c - the cgroup v2 limits of this process (cgroup.h has the picture).
 */
#include "agent/core/cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/sysstat.h"

#define DEFAULT_ROOT "/sys/fs/cgroup"

static const char *const file_names[BM_CGROUP__FILES] = {"memory.max", "memory.current", "cpu.max"};

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

/* One file of dir. @return 0 and *v (a figure); 1: none (not there, "max");
 * -1: there but unreadable or not understood (flagged in out). */
static int value_in(bm_cgroup_limits *out, const char *dir, bm_cgroup_file which, uint64_t *v)
{
    char path[BM_CGROUP_PATH_MAX], buf[128];
    int n = snprintf(path, sizeof path, "%s/%s", dir, file_names[which]);
    if (n < 0 || (size_t)n >= sizeof path) return 1; /* longer than any cgroup path */
    int rc;
    switch (read_small(path, buf, sizeof buf)) {
    case FILE_MISSING:
        return 1;
    case FILE_BAD:
        rc = -1;
        break;
    default:
        rc = which == BM_CGROUP_CPU_MAX ? sysstat_parse_cgroup_cpu_max(buf, v)
                                        : sysstat_parse_cgroup_value(buf, v);
        if (rc == 1 && which == BM_CGROUP_MEMORY_CURRENT) rc = -1; /* a use is never "max" */
        break;
    }
    if (rc < 0 && !out->bad_path[which][0]) snprintf(out->bad_path[which], sizeof path, "%s", path);
    return rc;
}

void bm_cgroup_read(const char *root, const char *own, bm_cgroup_limits *out)
{
    memset(out, 0, sizeof *out);
    char dir[BM_CGROUP_PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s", root ? root : DEFAULT_ROOT);
    if (n < 0 || (size_t)n >= sizeof dir) return;
    while (n > 0 && dir[n - 1] == '/')
        dir[--n] = '\0';
    size_t root_len = (size_t)n;
    if (own && *own == '/' && !strstr(own, "/..")) {
        n = snprintf(dir + root_len, sizeof dir - root_len, "%s", own);
        if (n < 0 || (size_t)n >= sizeof dir - root_len) return;
        for (size_t len = strlen(dir); len > root_len && dir[len - 1] == '/';)
            dir[--len] = '\0';
    }
    /* from the own cgroup up to the root: the tightest limit of each kind */
    for (;;) {
        uint64_t v, used;
        if (value_in(out, dir, BM_CGROUP_MEMORY_MAX, &v) == 0 && v > 0 &&
            (!out->memory_limit_bytes || v < out->memory_limit_bytes)) {
            out->memory_limit_bytes = v;
            out->memory_usage_bytes =
                value_in(out, dir, BM_CGROUP_MEMORY_CURRENT, &used) == 0 ? used : 0;
        }
        if (value_in(out, dir, BM_CGROUP_CPU_MAX, &v) == 0 &&
            (!out->cpu_limit_millicores || v < out->cpu_limit_millicores))
            out->cpu_limit_millicores = v;
        char *slash = strlen(dir) > root_len ? strrchr(dir + root_len, '/') : NULL;
        if (!slash) break;
        *slash = '\0';
    }
}
