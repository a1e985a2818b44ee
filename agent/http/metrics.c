/*
 * metrics.c - the /metrics page: the agent's state in the Prometheus
 * text exposition format 0.0.4, every family with # HELP and # TYPE. The
 * agent's own counters, the outputs' among them, come from the counter
 * table (counters.h); what is rendered here is state: events by type,
 * workers, error types, the system sample, the process.
 *
 * Counters are lifetime totals (monotonic since the agent started), never
 * window values, so rate() works across scrapes. The worker duration
 * histogram has the configured buckets (http.duration_buckets; default R10,
 * 1 ms .. 100 s, lib/worker_stats.h) counted at each execution, so its
 * cumulative counts are exact and +Inf = _count.
 *
 * Conventions: base units (seconds, bytes, ratios 0..1); the *_percent
 * gauges of earlier releases are rendered beside their *_ratio for one more
 * release, "DEPRECATED" in their help; no label value is a file system path
 * (the data path's disk is mount="data"); busmon_build_info says the
 * version and git revision.
 *
 * Series are bounded: per-worker families have one series per worker (and
 * state / status / bucket), at most worker_monitoring.max_workers workers
 * (default 1000; further workers are refused and counted in
 * busmon_workers_refused_total); error types at most
 * event_monitoring.max_error_types (default 200).
 * Not here: the HTTP plumbing (server.c).
 */
#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/clock.h"
#include "agent/core/host_stats.h"
#include "agent/http/counters.h"
#include "agent/http/metrics.h"
#include "agent/jobs/sysmon.h"
#include "agent/parts.h"
#include "agent/state/state.h"
#include "lib/sysstat.h"

#ifndef BUSMON_VERSION /* CMakeLists.txt sets both, from main.c and git */
#define BUSMON_VERSION "unknown"
#endif
#ifndef BUSMON_REVISION
#define BUSMON_REVISION "unknown"
#endif

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- business metrics ----------------------------------------------------- */

/* A Prometheus name from text: [a-zA-Z0-9_] kept, anything else '_'. */
static void prom_name(char *dst, size_t n, const char *prefix, const char *src)
{
    size_t at = (size_t)snprintf(dst, n, "%s", prefix);
    for (; *src && at + 1 < n; src++)
        dst[at++] = ((*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z') ||
                     (*src >= '0' && *src <= '9') || *src == '_')
                        ? *src
                        : '_';
    dst[at] = '\0';
}

typedef struct {
    struct evbuffer *out;
    json_t *families; /* family name -> the metric name and kind that took it */
} custom_ctx;

/* {k="v",...} with a tag's key made a label name (tag_ in front of one that,
 * once made of [a-zA-Z0-9_], starts with a digit or "__", or is "quantile"),
 * as Prometheus reserves "__" names; a second tag of the same
 * label name is left out. `extra` (NULL: none) goes last. */
/* " <value>\n" as the exposition format spells it: a sum that overflowed is
 * +Inf / -Inf, not C's "inf". */
static void prom_value(struct evbuffer *out, double v)
{
    if (isnan(v))
        evbuffer_add_printf(out, " NaN\n");
    else if (isinf(v))
        evbuffer_add_printf(out, " %sInf\n", v > 0 ? "+" : "-");
    else
        evbuffer_add_printf(out, " %.17g\n", v);
}

static void custom_labels(struct evbuffer *out, const custom_metrics_stat *s, const char *extra)
{
    char names[CUSTOM_METRICS_TAGS_MAX][BM_ID_MAX + 8];
    unsigned n = 0;
    if (!s->n_tags && !extra) return; /* no labels: no braces */
    evbuffer_add(out, "{", 1);
    for (unsigned i = 0; i < s->n_tags; i++) {
        char plain[sizeof names[0] - 4]; /* judged as written: "é" and ".." are "__" too */
        prom_name(plain, sizeof plain, "", s->tags[i].key);
        int prefix = (plain[0] >= '0' && plain[0] <= '9') || !strncmp(plain, "__", 2) ||
                     !strcmp(plain, "quantile");
        snprintf(names[n], sizeof names[n], "%s%s", prefix ? "tag_" : "", plain);
        int dup = 0;
        for (unsigned j = 0; j < n && !dup; j++)
            dup = !strcmp(names[j], names[n]);
        if (dup) continue;
        evbuffer_add_printf(out, "%s%s=\"", n ? "," : "", names[n]);
        bm_counters_put_label(out, s->tags[i].value);
        evbuffer_add(out, "\"", 1);
        n++;
    }
    if (extra) evbuffer_add_printf(out, "%s%s", n ? "," : "", extra);
    evbuffer_add(out, "}", 1);
}

static void custom_series(const custom_metrics_stat *s, void *arg)
{
    custom_ctx *c = arg;
    char fam[BM_ID_MAX + 32];
    prom_name(fam, sizeof fam, "busmon_custom_", s->name);
    if (s->kind == BM_METRIC_COUNTER) strcat(fam, "_total");
    /* one family, one metric of one kind: a name that sanitises to another's, or a kind
     * other than the first series', is left out (it stays on /api/metrics). A summary
     * also writes FAM_sum and FAM_count: they are its names too, so neither a family
     * named so before it nor one after it can write the same series. */
    static const char *const summary_names[] = {"", "_sum", "_count"};
    size_t n_names = s->kind == BM_METRIC_HISTOGRAM ? 3 : 1;
    char owner[BM_ID_MAX + 16], name[sizeof fam + 8];
    snprintf(owner, sizeof owner, "%s/%s", s->name, bm_metric_kind_name(s->kind));
    const char *took = json_string_value(json_object_get(c->families, fam));
    if (took && strcmp(took, owner)) return;
    if (!took) {
        for (size_t i = 0; i < n_names; i++) {
            snprintf(name, sizeof name, "%s%s", fam, summary_names[i]);
            const char *other = json_string_value(json_object_get(c->families, name));
            if (other && strcmp(other, owner)) return;
        }
        for (size_t i = 0; i < n_names; i++) {
            snprintf(name, sizeof name, "%s%s", fam, summary_names[i]);
            json_object_set_new(c->families, name, json_string(owner));
        }
        static const char *const type[BM_METRIC__COUNT] = {
            [BM_METRIC_HISTOGRAM] = "summary",
            [BM_METRIC_COUNTER] = "counter",
            [BM_METRIC_GAUGE] = "gauge",
        };
        char plain[BM_ID_MAX + 1]; /* HELP escapes only \\ and newline: say it sanitised */
        prom_name(plain, sizeof plain, "", s->name);
        evbuffer_add_printf(c->out, "# HELP %s Business metric %s", fam, plain);
        evbuffer_add_printf(c->out,
                            " (%s; quantiles and gauges over 5m, sums and counts since "
                            "the series began).\n# TYPE %s %s\n",
                            bm_metric_kind_name(s->kind), fam, type[s->kind]);
    }
    switch (s->kind) {
    case BM_METRIC_HISTOGRAM: {
        const double q[3] = {s->p50, s->p95, s->p99};
        static const char *const ql[3] = {"quantile=\"0.5\"", "quantile=\"0.95\"",
                                          "quantile=\"0.99\""};
        for (int i = 0; i < 3; i++) {
            evbuffer_add(c->out, fam, strlen(fam));
            custom_labels(c->out, s, ql[i]);
            prom_value(c->out, q[i]);
        }
        evbuffer_add_printf(c->out, "%s_sum", fam);
        custom_labels(c->out, s, NULL);
        prom_value(c->out, s->total_sum);
        evbuffer_add_printf(c->out, "%s_count", fam);
        custom_labels(c->out, s, NULL);
        evbuffer_add_printf(c->out, " %" PRIu64 "\n", s->total_count);
        break;
    }
    case BM_METRIC_COUNTER:
        evbuffer_add(c->out, fam, strlen(fam));
        custom_labels(c->out, s, NULL);
        prom_value(c->out, s->total_sum);
        break;
    default:
        evbuffer_add(c->out, fam, strlen(fam));
        custom_labels(c->out, s, NULL);
        prom_value(c->out, s->last);
        break;
    }
}

/* busmon_custom_<name>: every series seen over 5m (at most metrics.max_series). */
static void custom_families(bm_monitor *mon, struct evbuffer *out, int64_t now_us)
{
    custom_ctx c = {out, json_object()};
    if (!c.families) return;
    custom_metrics_foreach(mon->metrics, 1, NULL, now_us, custom_series, &c);
    json_decref(c.families);
}

/* utime + stime in seconds and RSS in bytes from /proc/self/stat. @return 0 / -1. */
static int proc_self(double *cpu_s, double *rss_bytes)
{
    char buf[1024];
    uint64_t ticks, rss_pages;
    if (bm_host_read("/proc/self/stat", buf, sizeof buf) ||
        sysstat_parse_proc_self(buf, &ticks, &rss_pages))
        return -1;
    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    *cpu_s = (double)ticks / (double)(tick > 0 ? tick : 100);
    *rss_bytes = (double)rss_pages * (double)(page > 0 ? page : 4096);
    return 0;
}

/* A bound in µs as an le value, exact: "0.00125", "1.234567", "100" (%g's six
 * digits made 1.234567 and 1.234568 s the one bucket "1.23457"). */
static void put_le(struct evbuffer *out, int64_t us)
{
    char frac[8];
    snprintf(frac, sizeof frac, "%06lld", (long long)(us % 1000000));
    for (int i = 5; i >= 0 && frac[i] == '0'; i--)
        frac[i] = '\0';
    evbuffer_add_printf(out, "%lld%s%s", (long long)(us / 1000000), frac[0] ? "." : "", frac);
}

static void workers_families(bm_monitor *mon, struct evbuffer *out, int64_t now_us)
{
    size_t n = worker_stats_count(mon->workers);
    worker_totals *t = n ? calloc(n, sizeof *t) : NULL;
    bm_worker_snapshot *snap = n ? calloc(n, sizeof *snap) : NULL;
    if (n && (!t || !snap)) n = 0;
    n = worker_stats_totals(mon->workers, t, n);
    size_t ns = worker_stats_snapshot(mon->workers, now_us, snap, n);

    family(out, "busmon_worker_executions_total", "counter",
           "Commands answered, by worker and outcome (success, failure, timeout), since start.");
    for (size_t i = 0; i < n; i++) {
        const char *st[3] = {"success", "failure", "timeout"};
        uint64_t v[3] = {t[i].successes, t[i].failures, t[i].timeouts};
        for (int k = 0; k < 3; k++) {
            evbuffer_add_printf(out, "busmon_worker_executions_total{worker=\"");
            bm_counters_put_label(out, t[i].name);
            evbuffer_add_printf(out, "\",status=\"%s\"} %" PRIu64 "\n", st[k], v[k]);
        }
    }

    family(out, "busmon_worker_duration_seconds", "histogram",
           "Execution time of answered commands with a known duration, by worker.");
    size_t n_bounds;
    const int64_t *bounds = worker_stats_duration_bounds_us(mon->workers, &n_bounds);
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (size_t b = 0; b < n_bounds; b++) {
            cum += t[i].duration_buckets[b];
            evbuffer_add_printf(out, "busmon_worker_duration_seconds_bucket{worker=\"");
            bm_counters_put_label(out, t[i].name);
            evbuffer_add_printf(out, "\",le=\"");
            put_le(out, bounds[b]);
            evbuffer_add_printf(out, "\"} %" PRIu64 "\n", cum);
        }
        evbuffer_add_printf(out, "busmon_worker_duration_seconds_bucket{worker=\"");
        bm_counters_put_label(out, t[i].name);
        evbuffer_add_printf(out, "\",le=\"+Inf\"} %" PRIu64 "\n", t[i].duration_count);
        evbuffer_add_printf(out, "busmon_worker_duration_seconds_sum{worker=\"");
        bm_counters_put_label(out, t[i].name);
        evbuffer_add_printf(out, "\"} %.6f\n", t[i].duration_sum_us / 1e6);
        evbuffer_add_printf(out, "busmon_worker_duration_seconds_count{worker=\"");
        bm_counters_put_label(out, t[i].name);
        evbuffer_add_printf(out, "\"} %" PRIu64 "\n", t[i].duration_count);
    }

    family(out, "busmon_worker_health", "gauge",
           "1 for the worker's current health state, 0 for the others.");
    for (size_t i = 0; i < ns; i++)
        for (int h = 0; h < BM_HEALTH__COUNT; h++) {
            evbuffer_add_printf(out, "busmon_worker_health{worker=\"");
            bm_counters_put_label(out, snap[i].name);
            evbuffer_add_printf(out, "\",state=\"%s\"} %d\n", bm_health_name((bm_health)h),
                                snap[i].health == (bm_health)h);
        }
    family(out, "busmon_worker_in_flight", "gauge",
           "Commands sent to the worker, not answered yet.");
    for (size_t i = 0; i < ns; i++) {
        evbuffer_add_printf(out, "busmon_worker_in_flight{worker=\"");
        bm_counters_put_label(out, snap[i].name);
        evbuffer_add_printf(out, "\"} %u\n", snap[i].in_flight);
    }
    free(t);
    free(snap);
}

static void errors_family(bm_monitor *mon, struct evbuffer *out, int64_t now_us)
{
    size_t n = error_patterns_count(mon->errors);
    bm_error_pattern *p = n ? calloc(n, sizeof *p) : NULL;
    if (!p) n = 0;
    n = error_patterns_snapshot(mon->errors, now_us, p, n);
    family(out, "busmon_errors_total", "counter",
           "Errors by type (error.type, else the message before ':'), since start.");
    for (size_t i = 0; i < n; i++) {
        evbuffer_add_printf(out, "busmon_errors_total{type=\"");
        bm_counters_put_label(out, p[i].type);
        evbuffer_add_printf(out, "\"} %" PRIu64 "\n", p[i].total);
    }
    free(p);
}

/* One gauge from the system sample, when known. */
static void sys_gauge(struct evbuffer *out, const bm_sys_sample *sys, bm_sys_field f,
                      const char *name, const char *help, double scale)
{
    double v = sys->p.v[f];
    if (isnan(v)) return;
    family(out, name, "gauge", help);
    evbuffer_add_printf(out, "%s %.15g\n", name, v * scale);
}

/* A percent gauge of an earlier release, kept one more release beside its ratio. */
static void deprecated_percent(struct evbuffer *out, const bm_sys_sample *sys, bm_sys_field f,
                               const char *name, const char *ratio_name)
{
    double v = sys->p.v[f];
    if (isnan(v)) return;
    evbuffer_add_printf(out,
                        "# HELP %s DEPRECATED: %s x 100; use %s, this name goes in the next "
                        "release.\n# TYPE %s gauge\n%s %.15g\n",
                        name, ratio_name, ratio_name, name, name, v);
}

/* The system sample's families (jobs/sysmon.c, every system.interval_seconds). */
static void system_families(const bm_parts *pt, struct evbuffer *out)
{
    const bm_sys_sample *sys = bm_sysmon_latest(pt->sysmon);
    if (!sys) return;
    sys_gauge(out, sys, BM_SYS_CPU, "busmon_host_cpu_ratio",
              "Host CPU busy share over the last sample interval, 0..1 (/proc/stat).", 0.01);
    sys_gauge(out, sys, BM_SYS_MEMORY, "busmon_host_memory_ratio",
              "Host memory in use, (MemTotal - MemAvailable) / MemTotal, 0..1 (/proc/meminfo).",
              0.01);
    if (!isnan(sys->p.v[BM_SYS_DISK])) {
        /* the path itself is in /api/system and `busmon system`, not a label value */
        family(out, "busmon_host_disk_ratio", "gauge",
               "Used share, 0..1, of the file system holding the data path (system.data_path; "
               "default Redis's dir): mount=\"data\".");
        evbuffer_add_printf(out, "busmon_host_disk_ratio{mount=\"data\"} %.4f\n",
                            sys->p.v[BM_SYS_DISK] / 100);
    }
    sys_gauge(out, sys, BM_SYS_AGENT_CPU, "busmon_agent_cpu_ratio",
              "busmon-agent CPU use over the last sample interval, share of one core.", 0.01);
    deprecated_percent(out, sys, BM_SYS_CPU, "busmon_host_cpu_percent", "busmon_host_cpu_ratio");
    deprecated_percent(out, sys, BM_SYS_MEMORY, "busmon_host_memory_percent",
                       "busmon_host_memory_ratio");
    if (!isnan(sys->p.v[BM_SYS_DISK]))
        evbuffer_add_printf(out,
                            "# HELP busmon_host_disk_percent DEPRECATED: busmon_host_disk_ratio x "
                            "100; use busmon_host_disk_ratio, this name goes in the next release "
                            "(its label is mount=\"data\" now, no longer the path).\n"
                            "# TYPE busmon_host_disk_percent gauge\n"
                            "busmon_host_disk_percent{mount=\"data\"} %.2f\n",
                            sys->p.v[BM_SYS_DISK]);
    deprecated_percent(out, sys, BM_SYS_AGENT_CPU, "busmon_agent_cpu_percent",
                       "busmon_agent_cpu_ratio");
    if (!isnan(sys->p.v[BM_SYS_LOAD1])) {
        family(out, "busmon_host_load_average", "gauge", "Host load average (/proc/loadavg).");
        const char *period[3] = {"1m", "5m", "15m"};
        for (int i = 0; i < 3; i++)
            evbuffer_add_printf(out, "busmon_host_load_average{period=\"%s\"} %.2f\n", period[i],
                                sys->p.v[BM_SYS_LOAD1 + i]);
    }
    sys_gauge(out, sys, BM_SYS_EVENTS_PER_SEC, "busmon_ingest_events_per_second",
              "Entries and messages read per second over the last sample interval.", 1);
    sys_gauge(out, sys, BM_SYS_REDIS_RTT_MS, "busmon_redis_rtt_seconds",
              "Round trip of a PING on the write connection (includes writes queued ahead).",
              1e-3);
    sys_gauge(out, sys, BM_SYS_REDIS_CLIENTS, "busmon_redis_connected_clients",
              "Redis INFO connected_clients.", 1);
    sys_gauge(out, sys, BM_SYS_REDIS_MEMORY, "busmon_redis_used_memory_bytes",
              "Redis INFO used_memory.", 1);
    const struct {
        size_t off;
        const char *name, *help;
    } per_stream[] = {
        {offsetof(bm_sys_stream, length), "busmon_stream_length", "Entries in the stream (XLEN)."},
        {offsetof(bm_sys_stream, lag), "busmon_consumer_lag",
         "Entries not yet delivered to the consumer group (XINFO GROUPS lag)."},
        {offsetof(bm_sys_stream, pending), "busmon_consumer_pending",
         "Entries delivered to the group and not acknowledged (XINFO GROUPS pending)."},
    };
    for (size_t k = 0; k < sizeof per_stream / sizeof *per_stream; k++) {
        family(out, per_stream[k].name, "gauge", per_stream[k].help);
        for (size_t i = 0; i < sys->n_streams; i++) {
            int64_t v = *(const int64_t *)((const char *)&sys->streams[i] + per_stream[k].off);
            if (v < 0) continue;
            evbuffer_add_printf(out, "%s{stream=\"", per_stream[k].name);
            bm_counters_put_label(out, sys->streams[i].name);
            if (k > 0) {
                evbuffer_add_printf(out, "\",group=\"");
                bm_counters_put_label(out, pt->group);
            }
            evbuffer_add_printf(out, "\"} %lld\n", (long long)v);
        }
    }
    family(out, "busmon_consumer_group_present", "gauge",
           "1 when the consumer group exists on the stream (XINFO GROUPS).");
    for (size_t i = 0; i < sys->n_streams; i++) {
        if (sys->streams[i].group < 0) continue;
        evbuffer_add_printf(out, "busmon_consumer_group_present{stream=\"");
        bm_counters_put_label(out, sys->streams[i].name);
        evbuffer_add_printf(out, "\",group=\"");
        bm_counters_put_label(out, pt->group);
        evbuffer_add_printf(out, "\"} %d\n", sys->streams[i].group);
    }
}

int bm_metrics_render(const bm_parts *pt, const bm_counter_snapshot *snap, struct evbuffer *out)
{
    int64_t now_us = bm_now_us();
    bm_monitor *mon = bm_state_monitor(pt->state);

    family(out, "busmon_build_info", "gauge",
           "Always 1: the version of busmon-agent and the git revision it was built from "
           "(unknown outside git).");
    evbuffer_add_printf(out, "busmon_build_info{version=\"%s\",revision=\"%s\"} 1\n",
                        BUSMON_VERSION, BUSMON_REVISION);

    family(out, "busmon_events_total", "counter",
           "Events kept, by type and status (failed: results with ok=false and errors; timeout: "
           "those whose error type is timeout, the framework's and busmon's own; late: answers "
           "after busmon called their command timed out).");
    for (int t = 0; t < BM_EV__COUNT; t++) {
        static const char *const status[4] = {"ok", "failed", "timeout", "late"};
        uint64_t v[4];
        v[1] = event_metrics_total_failed(mon->events, (bm_event_type)t);
        v[2] = event_metrics_total_timeouts(mon->events, (bm_event_type)t);
        v[3] = event_metrics_total_late(mon->events, (bm_event_type)t);
        v[0] = event_metrics_total(mon->events, (bm_event_type)t) - v[1] - v[2] - v[3];
        for (int k = 0; k < 4; k++)
            evbuffer_add_printf(out, "busmon_events_total{type=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                                bm_event_type_name((bm_event_type)t), status[k], v[k]);
    }
    workers_families(mon, out, now_us);
    errors_family(mon, out, now_us);
    custom_families(mon, out, now_us);

    if (bm_counters_render(snap, out)) return -1;
    bm_counters_render_batches(snap, out);

    double cpu_s, rss;
    if (proc_self(&cpu_s, &rss) == 0) {
        family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
        evbuffer_add_printf(out, "process_cpu_seconds_total %.2f\n", cpu_s);
        family(out, "process_resident_memory_bytes", "gauge", "Resident memory size.");
        evbuffer_add_printf(out, "process_resident_memory_bytes %.0f\n", rss);
    }
    family(out, "process_start_time_seconds", "gauge", "Start time of the process since epoch.");
    evbuffer_add_printf(out, "process_start_time_seconds %.3f\n", (double)pt->started_us / 1e6);
    system_families(pt, out);
    return 0;
}
