/*
 * sysmon.c - reads /proc/stat, /proc/meminfo and /proc/loadavg every
 * interval and keeps the latest figures (see sysmon.h). A file that cannot
 * be read leaves its figure at -1; nothing is logged per sample.
 */
#include "sysmon.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sysstat.h"

struct bm_sysmon {
    struct event *ev;
    sysstat_cpu prev_cpu;
    int have_prev_cpu;
    bm_sysmon_sample last;
};

/* Read a small /proc file into buf. @return 0 or -1. */
static int slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return got ? 0 : -1;
}

static void sample(bm_sysmon *s)
{
    char buf[8192];
    sysstat_cpu cpu;
    if (slurp("/proc/stat", buf, sizeof buf) == 0 && sysstat_parse_cpu(buf, &cpu) == 0) {
        if (s->have_prev_cpu) {
            double p = sysstat_cpu_percent(&s->prev_cpu, &cpu);
            if (p >= 0) s->last.cpu_percent = p;
        }
        s->prev_cpu = cpu;
        s->have_prev_cpu = 1;
    }
    uint64_t total_kb, avail_kb;
    if (slurp("/proc/meminfo", buf, sizeof buf) == 0 &&
        sysstat_parse_meminfo(buf, &total_kb, &avail_kb) == 0) {
        s->last.memory_total_bytes = total_kb * 1024;
        s->last.memory_percent = 100.0 * (double)(total_kb - avail_kb) / (double)total_kb;
    }
    double load[3];
    if (slurp("/proc/loadavg", buf, sizeof buf) == 0 && sysstat_parse_loadavg(buf, load) == 0)
        memcpy(s->last.load, load, sizeof load);
    s->last.samples++;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sample(arg);
}

bm_sysmon *bm_sysmon_new(struct event_base *base, int64_t interval_ms)
{
    bm_sysmon *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->last.cpu_percent = s->last.memory_percent = -1;
    s->last.load[0] = s->last.load[1] = s->last.load[2] = -1;
    s->ev = event_new(base, -1, EV_PERSIST, on_timer, s);
    if (!s->ev) {
        free(s);
        return NULL;
    }
    if (interval_ms < 100) interval_ms = 100;
    struct timeval tv = {(time_t)(interval_ms / 1000), (suseconds_t)((interval_ms % 1000) * 1000)};
    evtimer_add(s->ev, &tv);
    sample(s);
    return s;
}

void bm_sysmon_free(bm_sysmon *s)
{
    if (!s) return;
    event_free(s->ev);
    free(s);
}

void bm_sysmon_get(const bm_sysmon *s, bm_sysmon_sample *out)
{
    if (s) {
        *out = s->last;
        return;
    }
    memset(out, 0, sizeof *out);
    out->cpu_percent = out->memory_percent = -1;
    out->load[0] = out->load[1] = out->load[2] = -1;
}
