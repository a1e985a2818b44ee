/*
 * sysstat.c - parsers of /proc/stat, /proc/meminfo and /proc/loadavg text
 * (see sysstat.h). Silent: they return -1 and let the caller decide.
 */
#include "sysstat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sysstat_parse_cpu(const char *text, sysstat_cpu *out)
{
    const char *p = text;
    while (p && strncmp(p, "cpu ", 4)) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return -1;
    p += 4;
    /* user nice system idle iowait irq softirq steal (guest fields are in user/nice) */
    uint64_t v[8] = {0};
    int n = 0;
    for (; n < 8; n++) {
        char *end;
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9') break;
        v[n] = strtoull(p, &end, 10);
        p = end;
    }
    if (n < 4) return -1;
    out->total_ticks = 0;
    for (int i = 0; i < n; i++)
        out->total_ticks += v[i];
    out->idle_ticks = v[3] + (n > 4 ? v[4] : 0);
    return 0;
}

double sysstat_cpu_percent(const sysstat_cpu *prev, const sysstat_cpu *cur)
{
    if (cur->total_ticks <= prev->total_ticks) return -1;
    double total = (double)(cur->total_ticks - prev->total_ticks);
    double idle =
        cur->idle_ticks >= prev->idle_ticks ? (double)(cur->idle_ticks - prev->idle_ticks) : 0.0;
    double busy = 100.0 * (total - idle) / total;
    return busy < 0 ? 0 : busy > 100 ? 100 : busy;
}

static int field_kb(const char *text, const char *key, uint64_t *out)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, key, n) && p[n] == ':') {
            unsigned long long v;
            if (sscanf(p + n + 1, " %llu", &v) != 1) return -1;
            *out = v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

int sysstat_parse_meminfo(const char *text, uint64_t *total_kb, uint64_t *available_kb)
{
    if (field_kb(text, "MemTotal", total_kb) || *total_kb == 0) return -1;
    if (field_kb(text, "MemAvailable", available_kb)) {
        /* kernels before 3.14: free + buffers + cached */
        uint64_t f, b = 0, c = 0;
        if (field_kb(text, "MemFree", &f)) return -1;
        (void)field_kb(text, "Buffers", &b);
        (void)field_kb(text, "Cached", &c);
        *available_kb = f + b + c;
    }
    if (*available_kb > *total_kb) *available_kb = *total_kb;
    return 0;
}

int sysstat_parse_loadavg(const char *text, double load[3])
{
    return sscanf(text, "%lf %lf %lf", &load[0], &load[1], &load[2]) == 3 ? 0 : -1;
}

int sysstat_parse_proc_self(const char *text, uint64_t *cpu_ticks, uint64_t *rss_pages)
{
    const char *p = strrchr(text, ')'); /* the command name may hold spaces and ')' */
    if (!p || p[1] != ' ') return -1;
    unsigned long long utime = 0, stime = 0;
    long long rss = 0;
    /* fields after ')': 3 state ... 14 utime 15 stime ... 24 rss */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u "
               "%*u %lld",
               &utime, &stime, &rss) != 3 ||
        rss < 0)
        return -1;
    *cpu_ticks = utime + stime;
    *rss_pages = (uint64_t)rss;
    return 0;
}

/* A whole number at *p, digits only (no sign, no blanks before). @return 0
 * and *out, *p past it; or -1. */
static int whole_number(const char **p, uint64_t *out)
{
    if (**p < '0' || **p > '9') return -1;
    uint64_t v = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Nothing after p but one optional newline. */
static int at_end(const char *p)
{
    return !*p || !strcmp(p, "\n");
}

int sysstat_parse_cgroup_value(const char *text, uint64_t *out)
{
    if (!strncmp(text, "max", 3) && at_end(text + 3)) return 1;
    const char *p = text;
    if (whole_number(&p, out) || !at_end(p)) return -1;
    return 0;
}

int sysstat_parse_cgroup_cpu_max(const char *text, uint64_t *millicores)
{
    const char *p = text;
    uint64_t quota = 0, period;
    int unlimited = !strncmp(p, "max", 3);
    if (unlimited)
        p += 3;
    else if (whole_number(&p, &quota) || quota == 0)
        return -1;
    if (*p++ != ' ' || whole_number(&p, &period) || period == 0 || !at_end(p)) return -1;
    if (unlimited) return 1;
    uint64_t m = quota > UINT64_MAX / 1000 ? UINT64_MAX / period : quota * 1000 / period;
    *millicores = m ? m : 1;
    return 0;
}

int sysstat_parse_cgroup_cpu_usage(const char *text, uint64_t *usec)
{
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, "usage_usec ", 11)) {
            const char *q = p + 11;
            if (whole_number(&q, usec) || (*q && *q != '\n')) return -1;
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

int sysstat_parse_cgroup_v1_limit(const char *text, uint64_t *out)
{
    int rc = sysstat_parse_cgroup_value(text, out);
    if (rc == 1) return -1; /* v1 never says "max" */
    return rc == 0 && *out >= SYSSTAT_CGROUP_V1_UNLIMITED ? 1 : rc;
}

int sysstat_parse_cgroup_v1_cpu(const char *quota, const char *period, uint64_t *millicores)
{
    if (!strcmp(quota, "-1") || !strcmp(quota, "-1\n")) return 1;
    const char *q = quota, *p = period;
    uint64_t us, per;
    if (whole_number(&q, &us) || !at_end(q) || us == 0) return -1;
    if (whole_number(&p, &per) || !at_end(p) || per == 0) return -1;
    uint64_t m = us > UINT64_MAX / 1000 ? UINT64_MAX / per : us * 1000 / per;
    *millicores = m ? m : 1;
    return 0;
}

double sysstat_cgroup_cpu_percent(uint64_t prev_usec, uint64_t cur_usec, int64_t elapsed_us,
                                  uint64_t millicores)
{
    if (elapsed_us <= 0 || !millicores || cur_usec < prev_usec) return -1;
    double p =
        100.0 * (double)(cur_usec - prev_usec) / ((double)elapsed_us * (double)millicores / 1000.0);
    return p > 100 ? 100 : p;
}

int sysstat_info_field(const char *info, const char *key, double *out)
{
    size_t klen = strlen(key);
    for (const char *p = info; p && *p;) {
        if (!strncmp(p, key, klen) && p[klen] == ':') {
            char *end;
            double v = strtod(p + klen + 1, &end);
            if (end == p + klen + 1 || (*end && *end != '\r' && *end != '\n')) return -1;
            *out = v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}
