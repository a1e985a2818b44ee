/*
 * sysmon.c - the system metrics collector (sysmon.h has the picture).
 *
 *   tick ──▶ close round n-1 if replies are still out (late) ──▶ round n:
 *            /proc + statvfs + the agent's counters into `cur` at once;
 *            PING, INFO, XLEN and XINFO GROUPS per stream on the writer,
 *            tokens tagged with n ──▶ the last reply of n closes it:
 *            sums over streams, history push, XADD busmon:system
 *
 * Replies tagged with another round are ignored; hiredis calls back once
 * per command, with NULL when the connection goes. Nothing is logged per
 * sample: what fails is counted (bm_sysmon_stats) and shows as unknown.
 */
#include "agent/jobs/sysmon.h"

#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/core/agent.h"
#include "lib/event_metrics.h"
#include "lib/syshist.h"
#include "lib/sysstat.h"
#include "agent/core/log.h"

#define HISTORY_MAX_POINTS 100000
#define MIN_INTERVAL_US    100000

typedef enum { Q_PING = 0, Q_INFO, Q_XLEN, Q_XINFO, Q_DIR } query_kind;

/* One command in flight (its callback's privdata, freed there). */
typedef struct {
    bm_sysmon *s;
    uint64_t round;
    query_kind kind;
    size_t stream;
    int64_t sent_us;
} query_token;

struct bm_sysmon {
    bm_agent *a;
    struct event *ev;
    int64_t interval_us;
    syshist *hist;
    bm_sys_point *window_buf; /* scratch for window queries, history-sized */

    /* the previous readings rates are made from */
    sysstat_cpu prev_cpu;
    int have_prev_cpu;
    uint64_t prev_proc_ticks;
    int64_t prev_proc_us;
    int have_prev_proc;
    uint64_t prev_ingested;
    int64_t prev_ingest_us;
    int have_prev_ingest;

    char data_path[256];
    int data_path_fixed; /* configured, or settled from Redis's dir */

    bm_sys_sample cur; /* the round in progress */
    uint64_t round;
    size_t outstanding;
    int closed;
    bm_sys_sample latest;
    int have_latest;
    bm_sysmon_stats stats;
};

/* ---- local figures ------------------------------------------------------------ */

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

static void sample_local(bm_sysmon *s, int64_t now_us)
{
    double *v = s->cur.p.v;
    char buf[8192];
    sysstat_cpu cpu;
    if (slurp("/proc/stat", buf, sizeof buf) == 0 && sysstat_parse_cpu(buf, &cpu) == 0) {
        if (s->have_prev_cpu) {
            double p = sysstat_cpu_percent(&s->prev_cpu, &cpu);
            if (p >= 0) v[BM_SYS_CPU] = p;
        }
        s->prev_cpu = cpu;
        s->have_prev_cpu = 1;
    }
    uint64_t total_kb, avail_kb;
    if (slurp("/proc/meminfo", buf, sizeof buf) == 0 &&
        sysstat_parse_meminfo(buf, &total_kb, &avail_kb) == 0 && total_kb > 0) {
        s->stats.memory_total_bytes = total_kb * 1024;
        v[BM_SYS_MEMORY] = 100.0 * (double)(total_kb - avail_kb) / (double)total_kb;
    }
    double load[3];
    if (slurp("/proc/loadavg", buf, sizeof buf) == 0 && sysstat_parse_loadavg(buf, load) == 0) {
        v[BM_SYS_LOAD1] = load[0];
        v[BM_SYS_LOAD5] = load[1];
        v[BM_SYS_LOAD15] = load[2];
    }
    struct statvfs fs;
    if (statvfs(s->data_path, &fs) == 0 && fs.f_blocks > 0) {
        /* as df: used / (used + available to unprivileged users) */
        double used = (double)(fs.f_blocks - fs.f_bfree);
        double avail = (double)fs.f_bavail;
        if (used + avail > 0) v[BM_SYS_DISK] = 100.0 * used / (used + avail);
    }
    uint64_t ticks, rss_pages;
    if (slurp("/proc/self/stat", buf, sizeof buf) == 0 &&
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
    }
    bm_agent *a = s->a;
    uint64_t ingested = a->stats.entries_read + a->stats.pubsub_messages;
    if (s->have_prev_ingest && now_us > s->prev_ingest_us && ingested >= s->prev_ingested)
        v[BM_SYS_EVENTS_PER_SEC] =
            (double)(ingested - s->prev_ingested) / ((double)(now_us - s->prev_ingest_us) / 1e6);
    s->prev_ingested = ingested;
    s->prev_ingest_us = now_us;
    s->have_prev_ingest = 1;
    if (a->mon.events) {
        bm_event_window w[BM_WINDOWS];
        event_metrics_snapshot(a->mon.events, now_us, w);
        uint64_t answers = w[0].by_type[BM_EV_RESULT].count + w[0].by_type[BM_EV_ERROR].count;
        if (answers) {
            v[BM_SYS_SUCCESS_RATE] = w[0].success_rate;
            if (w[0].p95_latency_us > 0) v[BM_SYS_P95_LATENCY_MS] = w[0].p95_latency_us / 1000.0;
        }
    }
}

/* ---- Redis replies -------------------------------------------------------------- */

static int64_t reply_int(const redisReply *v)
{
    if (!v) return -1;
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    if (v->type == REDIS_REPLY_STRING) return strtoll(v->str, NULL, 10);
    return -1; /* nil: Redis does not know */
}

int bm_xinfo_group(const redisReply *r, const char *group, int64_t *pending, int64_t *lag)
{
    *pending = *lag = -1;
    if (!r || r->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *grp = r->element[i];
        if (grp->type != REDIS_REPLY_ARRAY) continue;
        const redisReply *name = NULL, *pend = NULL, *lg = NULL;
        for (size_t k = 0; k + 1 < grp->elements; k += 2) {
            const redisReply *key = grp->element[k], *val = grp->element[k + 1];
            if (key->type != REDIS_REPLY_STRING && key->type != REDIS_REPLY_STATUS) continue;
            if (!strcmp(key->str, "name"))
                name = val;
            else if (!strcmp(key->str, "pending"))
                pend = val;
            else if (!strcmp(key->str, "lag"))
                lg = val;
        }
        if (!name || name->type != REDIS_REPLY_STRING || strcmp(name->str, group)) continue;
        *pending = reply_int(pend);
        *lag = reply_int(lg);
        return 1;
    }
    return 0;
}

static void close_round(bm_sysmon *s);

static void use_dir(bm_sysmon *s, const redisReply *r)
{
    s->data_path_fixed = 1;
    /* CONFIG GET dir: ["dir", "/var/lib/redis"]; used only when it is a directory here */
    struct stat st;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING && stat(r->element[1]->str, &st) == 0 &&
        S_ISDIR(st.st_mode))
        snprintf(s->data_path, sizeof s->data_path, "%s", r->element[1]->str);
}

static void on_reply(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    query_token tok = *(query_token *)privdata;
    free(privdata);
    bm_sysmon *s = tok.s;
    redisReply *r = reply;
    if (tok.kind == Q_DIR) {
        if (r)
            use_dir(s, r);
        else
            s->data_path_fixed = 0; /* connection gone: ask again next round */
        return;
    }
    if (tok.round != s->round || s->closed) return; /* a round already closed */
    if (r && r->type == REDIS_REPLY_ERROR) s->stats.redis_errors++;
    double *v = s->cur.p.v;
    if (r) {
        switch (tok.kind) {
        case Q_PING:
            if (r->type != REDIS_REPLY_ERROR)
                v[BM_SYS_REDIS_RTT_MS] = (double)(bm_now_us() - tok.sent_us) / 1000.0;
            break;
        case Q_INFO: {
            double x;
            if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
                if (sysstat_info_field(r->str, "connected_clients", &x) == 0)
                    v[BM_SYS_REDIS_CLIENTS] = x;
                if (sysstat_info_field(r->str, "used_memory", &x) == 0) v[BM_SYS_REDIS_MEMORY] = x;
            }
            break;
        }
        case Q_XLEN:
            if (r->type == REDIS_REPLY_INTEGER) s->cur.streams[tok.stream].length = r->integer;
            break;
        case Q_XINFO: {
            bm_sys_stream *st = &s->cur.streams[tok.stream];
            if (r->type == REDIS_REPLY_ARRAY)
                st->group = bm_xinfo_group(r, s->a->cfg->group, &st->pending, &st->lag);
            else if (r->type == REDIS_REPLY_ERROR)
                st->group = 0; /* no such key: no stream, so no group either */
            break;
        }
        case Q_DIR: break;
        }
    }
    if (s->outstanding > 0) s->outstanding--;
    if (s->outstanding == 0) close_round(s);
}

/* Send one query on the writer. @return 0, or -1 not sent. */
static int query(bm_sysmon *s, query_kind kind, size_t stream, int argc, const char **argv)
{
    bm_agent *a = s->a;
    query_token *tok = malloc(sizeof *tok);
    if (!tok) return -1;
    *tok = (query_token){s, s->round, kind, stream, bm_now_us()};
    if (redisAsyncCommandArgv(a->writer, on_reply, tok, argc, argv, NULL) != REDIS_OK) {
        free(tok);
        return -1;
    }
    if (kind != Q_DIR) s->outstanding++;
    return 0;
}

/* ---- rounds ----------------------------------------------------------------------- */

static void publish(bm_sysmon *s)
{
    bm_agent *a = s->a;
    if (!a->writer_up || !a->writer || a->stopping) {
        s->stats.not_published++;
        return;
    }
    json_t *j = bm_sys_sample_to_json(&s->latest);
    char *js = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (!js || bm_sys_sample_encode_msgpack(&s->latest, &sb)) {
        free(js);
        msgpack_sbuffer_destroy(&sb);
        s->stats.not_published++;
        return;
    }
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%zu", a->cfg->system_maxlen);
    const char *argv[10] = {"XADD", a->cfg->system_stream, "MAXLEN", "~", maxlen, "*",
                            "m",    sb.data,               "json",   js};
    size_t lens[10] = {4, strlen(a->cfg->system_stream), 6, 1, strlen(maxlen), 1, 1, sb.size,
                       4, strlen(js)};
    if (bm_persist_send(a->persist, a->writer, BM_WRITE_OTHER, 10, argv, lens) == 0) {
        a->writes_pending++;
        s->stats.published++;
    } else {
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

static void close_round(bm_sysmon *s)
{
    if (s->closed || !s->round) return;
    s->closed = 1;
    if (s->outstanding) s->stats.late++;
    bm_sys_sample *x = &s->cur;
    x->p.v[BM_SYS_CONSUMER_LAG] = stream_sum(x, offsetof(bm_sys_stream, lag));
    x->p.v[BM_SYS_PENDING] = stream_sum(x, offsetof(bm_sys_stream, pending));
    x->p.v[BM_SYS_STREAM_LENGTH] = stream_sum(x, offsetof(bm_sys_stream, length));
    uint64_t before = syshist_overwritten(s->hist);
    syshist_push(s->hist, &x->p);
    s->stats.history_overwritten += syshist_overwritten(s->hist) - before;
    s->latest = *x;
    s->have_latest = 1;
    s->stats.samples++;
    publish(s);
}

static void start_round(bm_sysmon *s)
{
    bm_agent *a = s->a;
    int64_t now = bm_now_us();
    s->round++;
    s->closed = 0;
    s->outstanding = 0;
    bm_sys_sample *x = &s->cur;
    bm_sys_sample_clear(x);
    x->p.ts_us = now;
    x->interval_us = s->interval_us;
    snprintf(x->agent, sizeof x->agent, "%s", a->cfg->consumer);
    size_t n = a->cfg->n_streams < BM_SYS_STREAMS_MAX ? a->cfg->n_streams : BM_SYS_STREAMS_MAX;
    for (size_t i = 0; i < n; i++) {
        snprintf(x->streams[i].name, sizeof x->streams[i].name, "%s", a->cfg->streams[i]);
        x->streams[i].length = x->streams[i].lag = x->streams[i].pending = -1;
        x->streams[i].group = -1;
    }
    x->n_streams = n;
    if (a->writer_up && a->writer && !a->stopping) {
        if (!s->data_path_fixed) {
            const char *dir[3] = {"CONFIG", "GET", "dir"};
            s->data_path_fixed = query(s, Q_DIR, 0, 3, dir) == 0;
        }
        const char *ping[1] = {"PING"}, *info[1] = {"INFO"};
        query(s, Q_PING, 0, 1, ping);
        query(s, Q_INFO, 0, 1, info);
        for (size_t i = 0; i < n; i++) {
            const char *xlen[2] = {"XLEN", a->cfg->streams[i]};
            const char *xinfo[3] = {"XINFO", "GROUPS", a->cfg->streams[i]};
            query(s, Q_XLEN, i, 2, xlen);
            query(s, Q_XINFO, i, 3, xinfo);
        }
    }
    snprintf(x->data_path, sizeof x->data_path, "%s", s->data_path);
    sample_local(s, now);
    if (s->outstanding == 0)
        close_round(s);
    else
        redisAsyncHandleWrite(a->writer);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_sysmon *s = arg;
    if (s->a->stopping) return;
    close_round(s); /* replies still out: the sample goes with what came back */
    start_round(s);
}

/* ---- life ------------------------------------------------------------------------- */

bm_sysmon *bm_sysmon_new(bm_agent *a)
{
    bm_sysmon *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->a = a;
    s->interval_us = a->cfg->system_interval_ms * 1000;
    if (s->interval_us < MIN_INTERVAL_US) s->interval_us = MIN_INTERVAL_US;
    int64_t points = a->cfg->system_history_s * 1000000 / s->interval_us;
    if (points < 2) points = 2;
    if (points > HISTORY_MAX_POINTS) points = HISTORY_MAX_POINTS;
    s->hist = syshist_new((size_t)points);
    s->window_buf = calloc((size_t)points, sizeof *s->window_buf);
    s->ev = event_new(a->base, -1, EV_PERSIST, on_tick, s);
    if (!s->hist || !s->window_buf || !s->ev) {
        bm_sysmon_free(s);
        return NULL;
    }
    if (a->cfg->system_data_path && *a->cfg->system_data_path) {
        snprintf(s->data_path, sizeof s->data_path, "%s", a->cfg->system_data_path);
        s->data_path_fixed = 1;
    } else {
        snprintf(s->data_path, sizeof s->data_path, "/");
    }
    bm_sys_sample_clear(&s->cur);
    sample_local(s, bm_now_us()); /* the first readings rates are made from */
    struct timeval tv = {(time_t)(s->interval_us / 1000000), (suseconds_t)(s->interval_us % 1000000)};
    evtimer_add(s->ev, &tv);
    return s;
}

void bm_sysmon_free(bm_sysmon *s)
{
    if (!s) return;
    if (s->ev) event_free(s->ev);
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
    size_t n = syshist_since(s->hist, bm_now_us() - window_us, s->window_buf, cap);
    return bm_sys_window_json(label, window_us, s->interval_us, s->window_buf, n,
                              bm_sysmon_latest(s));
}
