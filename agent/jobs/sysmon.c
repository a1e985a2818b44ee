/*
 * sysmon.c - the system metrics collector (sysmon.h has the picture).
 *
 *   sampler round (every interval) ──▶ /proc + cgroup v2 + statvfs + the agent's
 *   counters + the round's Redis figures ──▶ sums over streams ──▶ history ──▶ topic system
 *
 * Nothing is logged per sample: what fails is counted (bm_sysmon_stats
 * read_errors), said once per source, and shows as unknown.
 */
#include "agent/jobs/sysmon.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/core/cgroup.h"
#include "agent/core/clock.h"
#include "agent/core/host_stats.h"
#include "agent/core/log.h"
#include "agent/core/sampler.h"
#include "agent/outputs/outputs.h"
#include "lib/syshist.h"
#include "lib/sysstat.h"

#define HISTORY_MAX_POINTS 100000
#define MIN_INTERVAL_US    100000

struct bm_sysmon {
    bm_sysmon_opts o;
    const bm_monitor *mon;
    bm_outputs *outputs;
    syshist *hist;
    bm_sys_point *window_buf; /* scratch for window queries, history-sized */

    /* the previous readings rates are made from */
    sysstat_cpu prev_cpu;
    int have_prev_cpu;
    uint64_t prev_proc_ticks;
    int64_t prev_proc_us; /* monotonic, as every time a rate divides by */
    int have_prev_proc;
    uint64_t prev_ingested;
    int64_t prev_ingest_us; /* monotonic */
    int have_prev_ingest;

    char data_path[PATH_MAX];   /* whole; "": too long (data_path_bytes), the disk unknown */
    size_t data_path_bytes;     /* the length of the one refused as too long */
    const char *data_path_from; /* "system.data_path" or "Redis's dir" */
    int data_path_fixed;        /* configured, or settled from Redis's dir */
    bm_cgroup_own cgroup_own; /* this process's cgroups (/proc/self/cgroup), read at start */
    unsigned said;        /* sources whose failure was logged, a bit each */

    bm_sys_sample latest;
    int have_latest;
    bm_sysmon_stats stats;
};

/* a sample carries the data path whole: the same room */
_Static_assert(sizeof((bm_sys_sample *)0)->data_path == sizeof((bm_sysmon *)0)->data_path,
               "the sample's data_path holds the collector's");

/* ---- local figures ------------------------------------------------------------ */

const char *bm_sysmon_source_name(bm_sysmon_source src)
{
    static const char *const names[BM_SYSMON__SOURCES] = {
        "proc_stat",          "proc_meminfo",          "proc_loadavg",   "proc_self_stat",
        "cgroup_memory_max",  "cgroup_memory_current", "cgroup_cpu_max", "cgroup_cpu_usage",
        "cgroup_memory_stat", "cgroup_cpuset",         "data_path",
    };
    return (unsigned)src < BM_SYSMON__SOURCES ? names[src] : "?";
}

/* A source that could not be read or understood: counted each time, said once. */
static void read_failed(bm_sysmon *s, bm_sysmon_source src, const char *path)
{
    s->stats.read_errors[src]++;
    if (s->said & 1u << src) return;
    s->said |= 1u << src;
    bm_warn("system metrics: %s cannot be read or is not understood; the figures from it are "
            "left out (unknown) while it stays so, busmon_system_read_errors_total{source=\"%s\"} "
            "counts each sample (said once)",
            path, bm_sysmon_source_name(src));
}

/* The cgroup limits (core/cgroup.h) into the stats and the sample; a file
 * there that fails is a read error, its figure no limit. */
static void sample_cgroup(bm_sysmon *s, double *v)
{
    static const bm_sysmon_source source[BM_CGROUP__FILES] = {
        [BM_CGROUP_MEMORY_MAX] = BM_SYSMON_CGROUP_MEMORY_MAX,
        [BM_CGROUP_MEMORY_CURRENT] = BM_SYSMON_CGROUP_MEMORY_CURRENT,
        [BM_CGROUP_CPU_MAX] = BM_SYSMON_CGROUP_CPU_MAX,
        [BM_CGROUP_CPU_USAGE] = BM_SYSMON_CGROUP_CPU_USAGE,
        [BM_CGROUP_MEMORY_STAT] = BM_SYSMON_CGROUP_MEMORY_STAT,
        [BM_CGROUP_CPUSET] = BM_SYSMON_CGROUP_CPUSET,
    };
    bm_cgroup_limits lim;
    bm_cgroup_read_all(s->o.cgroup_root, &s->cgroup_own, bm_host_cpu_count(s->o.proc_stat), &lim);
    s->stats.cgroup_memory_limit_bytes = lim.memory_limit_bytes;
    s->stats.cgroup_memory_usage_bytes = lim.memory_usage_bytes;
    s->stats.cgroup_memory_working_set_bytes = lim.memory_working_set_bytes;
    s->stats.cgroup_cpu_limit_millicores = lim.cpu_limit_millicores;
    /* no limit, or a use not read: unknown (null), never 0; a working set
     * may be 0 (all of the use inactive page cache) */
    if (lim.memory_limit_bytes) v[BM_SYS_CGROUP_MEMORY_LIMIT] = (double)lim.memory_limit_bytes;
    if (lim.memory_usage_bytes) {
        v[BM_SYS_CGROUP_MEMORY_USAGE] = (double)lim.memory_usage_bytes;
        v[BM_SYS_CGROUP_MEMORY_WORKING_SET] = (double)lim.memory_working_set_bytes;
    }
    if (lim.cpu_limit_millicores)
        v[BM_SYS_CGROUP_CPU_LIMIT] = (double)lim.cpu_limit_millicores / 1000.0;
    for (int f = 0; f < BM_CGROUP__FILES; f++)
        if (lim.bad_path[f][0]) read_failed(s, source[f], lim.bad_path[f]);
}

/* now_us: the monotonic clock (bm_mono_us), so that a step of the wall
 * clock (NTP, a resumed VM) does not stretch or reverse an interval. */
static void sample_local(bm_sysmon *s, bm_sys_sample *x, int64_t now_us)
{
    double *v = x->p.v;
    char buf[8192];
    sysstat_cpu cpu;
    const char *proc_stat = s->o.proc_stat ? s->o.proc_stat : "/proc/stat";
    if (bm_host_read(proc_stat, buf, sizeof buf) == 0 && sysstat_parse_cpu(buf, &cpu) == 0) {
        if (s->have_prev_cpu) {
            double p = sysstat_cpu_percent(&s->prev_cpu, &cpu);
            if (p >= 0) v[BM_SYS_CPU] = p;
        }
        s->prev_cpu = cpu;
        s->have_prev_cpu = 1;
    } else {
        read_failed(s, BM_SYSMON_PROC_STAT, proc_stat);
    }
    uint64_t total_kb, avail_kb;
    const char *meminfo = s->o.proc_meminfo ? s->o.proc_meminfo : "/proc/meminfo";
    if (bm_host_read(meminfo, buf, sizeof buf) == 0 &&
        sysstat_parse_meminfo(buf, &total_kb, &avail_kb) == 0 && total_kb > 0) {
        s->stats.memory_total_bytes = total_kb * 1024;
        v[BM_SYS_MEMORY] = 100.0 * (double)(total_kb - avail_kb) / (double)total_kb;
    } else {
        s->stats.memory_total_bytes = 0; /* unknown: no sample on /metrics, null in JSON */
        read_failed(s, BM_SYSMON_PROC_MEMINFO, meminfo);
    }
    sample_cgroup(s, v);
    double load[3];
    if (bm_host_read("/proc/loadavg", buf, sizeof buf) == 0 &&
        sysstat_parse_loadavg(buf, load) == 0) {
        v[BM_SYS_LOAD1] = load[0];
        v[BM_SYS_LOAD5] = load[1];
        v[BM_SYS_LOAD15] = load[2];
    } else {
        read_failed(s, BM_SYSMON_PROC_LOADAVG, "/proc/loadavg");
    }
    struct statvfs fs;
    if (!s->data_path[0]) {
        char what[96];
        snprintf(what, sizeof what, "%s (%zu bytes: longer than a path may be, %d)",
                 s->data_path_from, s->data_path_bytes, PATH_MAX - 1);
        read_failed(s, BM_SYSMON_DATA_PATH, what);
    } else if (statvfs(s->data_path, &fs) == 0 && fs.f_blocks > 0) {
        /* as df: used / (used + available to unprivileged users) */
        double used = (double)(fs.f_blocks - fs.f_bfree);
        double avail = (double)fs.f_bavail;
        if (used + avail > 0) v[BM_SYS_DISK] = 100.0 * used / (used + avail);
    }
    uint64_t ticks, rss_pages;
    if (bm_host_read("/proc/self/stat", buf, sizeof buf) == 0 &&
        sysstat_parse_proc_self(buf, &ticks, &rss_pages) == 0) {
        long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
        v[BM_SYS_AGENT_RSS] = (double)rss_pages * (double)(page > 0 ? page : 4096);
        if (s->have_prev_proc && now_us > s->prev_proc_us && ticks >= s->prev_proc_ticks)
            v[BM_SYS_AGENT_CPU] = 100.0 * (double)(ticks - s->prev_proc_ticks) /
                                  (double)(hz > 0 ? hz : 100) /
                                  ((double)(now_us - s->prev_proc_us) / 1e6);
        s->prev_proc_ticks = ticks;
        s->prev_proc_us = now_us;
        s->have_prev_proc = 1;
    } else {
        read_failed(s, BM_SYSMON_PROC_SELF_STAT, "/proc/self/stat");
    }
    uint64_t ingested = s->o.ingested ? s->o.ingested(s->o.ingested_arg) : 0;
    if (s->have_prev_ingest && now_us > s->prev_ingest_us && ingested >= s->prev_ingested)
        v[BM_SYS_EVENTS_PER_SEC] =
            (double)(ingested - s->prev_ingested) / ((double)(now_us - s->prev_ingest_us) / 1e6);
    s->prev_ingested = ingested;
    s->prev_ingest_us = now_us;
    s->have_prev_ingest = 1;
    if (s->mon && s->mon->events) {
        bm_event_window w[BM_WINDOWS];
        event_metrics_snapshot(s->mon->events, bm_now_us(), w); /* its windows: wall time */
        uint64_t answers = w[0].by_type[BM_EV_RESULT].count + w[0].by_type[BM_EV_ERROR].count;
        if (answers) {
            v[BM_SYS_SUCCESS_RATE] = w[0].success_rate;
            if (w[0].p95_latency_us > 0) v[BM_SYS_P95_LATENCY_MS] = w[0].p95_latency_us / 1000.0;
        }
    }
}

/* ---- publishing ------------------------------------------------------------------ */

static void publish(bm_sysmon *s)
{
    if (!bm_outputs_wants(s->outputs, BM_TOPIC_SYSTEM)) return;
    json_t *j = bm_sys_sample_to_json(&s->latest);
    char *js = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (!js || bm_sys_sample_encode_msgpack(&s->latest, &sb)) {
        s->stats.not_published++;
    } else {
        bm_record b = {js, strlen(js), sb.data, sb.size, NULL, 0, 0};
        bm_emit_result r = bm_outputs_emit(s->outputs, BM_TOPIC_SYSTEM, bm_record_build, NULL, &b);
        if (r.refused < r.offered)
            s->stats.published++;
        else
            s->stats.not_published++;
    }
    free(js);
    msgpack_sbuffer_destroy(&sb);
}

/* Sum a per-stream figure over the streams that know it (NAN when none does). */
static double stream_sum(const bm_sys_sample *x, size_t off)
{
    double sum = 0;
    int known = 0;
    for (size_t i = 0; i < x->n_streams; i++) {
        int64_t v = *(const int64_t *)((const char *)&x->streams[i] + off);
        if (v < 0) continue;
        sum += (double)v;
        known = 1;
    }
    return known ? sum : NAN;
}

/* path, named by `from`, as the data path, whole: one too long for
 * statvfs (PATH_MAX) is never cut (the disk of a cut path is another
 * directory's, or none): "", counted and said by each sample. */
static void set_data_path(bm_sysmon *s, const char *path, const char *from)
{
    size_t n = strlen(path);
    s->data_path_from = from;
    if (n >= sizeof s->data_path) {
        s->data_path[0] = '\0';
        s->data_path_bytes = n;
        return;
    }
    memcpy(s->data_path, path, n + 1);
}

/* Redis's dir, when it names a directory here, is the data path (once);
 * one too long to be a path here (stat: ENAMETOOLONG) is flagged, never
 * taken for a remote Redis's. */
static void settle_data_path(bm_sysmon *s, const char *dir)
{
    struct stat st;
    if (s->data_path_fixed || !dir) return;
    s->data_path_fixed = 1;
    if (strlen(dir) >= sizeof s->data_path || (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
        set_data_path(s, dir, "Redis's dir");
}

static void on_figures(const bm_redis_figures *f, void *arg)
{
    bm_sysmon *s = arg;
    settle_data_path(s, f->redis_dir);
    bm_sys_sample x;
    bm_sys_sample_clear(&x);
    x.p.ts_us = f->ts_us;
    x.interval_us = s->o.interval_us;
    snprintf(x.agent, sizeof x.agent, "%s", s->o.agent);
    memcpy(x.data_path, s->data_path, sizeof x.data_path); /* the same room: whole */
    x.p.v[BM_SYS_REDIS_RTT_MS] = f->rtt_ms;
    x.p.v[BM_SYS_REDIS_CLIENTS] = f->redis_clients;
    x.p.v[BM_SYS_REDIS_MEMORY] = f->redis_used_memory;
    x.n_streams = f->n_streams < BM_SYS_STREAMS_MAX ? f->n_streams : BM_SYS_STREAMS_MAX;
    for (size_t i = 0; i < x.n_streams; i++) {
        const bm_sampled_stream *in = &f->streams[i];
        bm_sys_stream *out = &x.streams[i];
        snprintf(out->name, sizeof out->name, "%s", in->name);
        out->length = in->length;
        out->lag = in->lag;
        out->pending = in->pending;
        out->group = in->group;
    }
    sample_local(s, &x, bm_mono_us());
    x.p.v[BM_SYS_CONSUMER_LAG] = stream_sum(&x, offsetof(bm_sys_stream, lag));
    x.p.v[BM_SYS_PENDING] = stream_sum(&x, offsetof(bm_sys_stream, pending));
    x.p.v[BM_SYS_STREAM_LENGTH] = stream_sum(&x, offsetof(bm_sys_stream, length));
    if (!f->complete) s->stats.late++;
    uint64_t before = syshist_overwritten(s->hist);
    syshist_push(s->hist, &x.p);
    s->stats.history_overwritten += syshist_overwritten(s->hist) - before;
    s->latest = x;
    s->have_latest = 1;
    s->stats.samples++;
    publish(s);
}

/* ---- life ------------------------------------------------------------------------- */

bm_sysmon *bm_sysmon_new(const bm_sysmon_opts *o, struct bm_sampler *sampler,
                         const bm_monitor *mon, bm_outputs *outputs)
{
    bm_sysmon *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = *o;
    s->mon = mon;
    s->outputs = outputs;
    if (s->o.interval_us < MIN_INTERVAL_US) s->o.interval_us = MIN_INTERVAL_US;
    int64_t points = s->o.history_us / s->o.interval_us;
    if (points < 2) points = 2;
    if (points > HISTORY_MAX_POINTS) points = HISTORY_MAX_POINTS;
    s->hist = syshist_new((size_t)points);
    s->window_buf = calloc((size_t)points, sizeof *s->window_buf);
    if (!s->hist || !s->window_buf ||
        bm_sampler_subscribe(sampler, s->o.interval_us, on_figures, s)) {
        bm_sysmon_free(s);
        return NULL;
    }
    if (o->data_path && *o->data_path) {
        set_data_path(s, o->data_path, "system.data_path");
        s->data_path_fixed = 1;
    } else {
        set_data_path(s, "/", "/");
    }
    bm_cgroup_own_read(s->o.proc_self_cgroup, &s->cgroup_own);
    bm_sys_sample scratch;
    bm_sys_sample_clear(&scratch);
    sample_local(s, &scratch, bm_mono_us()); /* the first readings rates are made from */
    return s;
}

void bm_sysmon_free(bm_sysmon *s)
{
    if (!s) return;
    syshist_free(s->hist);
    free(s->window_buf);
    free(s);
}

const bm_sys_sample *bm_sysmon_latest(const bm_sysmon *s)
{
    return s && s->have_latest ? &s->latest : NULL;
}

void bm_sysmon_get_stats(const bm_sysmon *s, bm_sysmon_stats *out)
{
    if (s)
        *out = s->stats;
    else
        memset(out, 0, sizeof *out);
}

json_t *bm_sysmon_window_json(bm_sysmon *s, const char *label, int64_t window_us)
{
    size_t cap = syshist_capacity(s->hist);
    int64_t now_us = bm_now_us();
    size_t n = syshist_since(s->hist, now_us - window_us, now_us, s->window_buf, cap);
    return bm_sys_window_json(label, window_us, s->o.interval_us, s->window_buf, n,
                              bm_sysmon_latest(s));
}
