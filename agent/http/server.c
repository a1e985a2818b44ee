/*
 * server.c - the agent's HTTP routes, on httpd.c's connections in the
 * agent's loop: the route table, the bearer token and the JSON API.
 * /metrics is rendered by metrics.c.
 *
 * Routes (GET and HEAD only; anything else is 405):
 *   /, /index.html         the dashboard (agent/dashboard.html, embedded):
 *                          one self-contained page polling the API below
 *   /metrics               Prometheus text
 *   /health                200 {"status":"ok"} while the loop runs
 *   /ready                 200 when the Redis reader and writer are connected,
 *                          our group exists on every stream, no stream's
 *                          consumer lag is above http.ready_max_lag (as the
 *                          last system sample saw them) and Redis's ACL has
 *                          denied no command (core/acl.h), else 503 with the
 *                          reasons
 *   /api/alerts            as `busmon alerts --json`, from the engine's memory
 *   /api/baseline          as `busmon baseline --json`, 404 when baselines are off
 *   /api/metrics           ?name=&tag=K=V(repeats)&window=&limit=: business metric
 *                          series from memory (lib/custom_metrics_json.c)
 *   /api/system            ?window=10m|1h|24h.. (default 1h): system metrics,
 *                          latest sample, avg and peak, series (sysmon.c)
 *   /api/stats             ?window=1m|5m|1h (default 5m), as `busmon stats --json`,
 *                          with the agent's counters (http/counters.h)
 *   /api/workers           as `busmon workers --json`
 *   /api/workers/NAME      as `busmon worker --json NAME`, 404 if unknown
 *   /api/errors            as `busmon errors --json`
 *   /api/traces            ?status=&worker=&min_duration=&since=&error_type=&limit=
 *                          the transactions held in memory that lib/trace_index.c's
 *                          filter keeps (the one `busmon traces` applies to the
 *                          index in Redis), newest first, at most limit (1..1000,
 *                          default 50); 400 with the reason on a bad parameter
 *   /api/traces/TX         the trace held in memory (`busmon trace --json`
 *                          shape), 404 when it is not in memory (evicted,
 *                          expired, or read by another agent: the CLI reads
 *                          Redis and still finds it)
 * Errors are JSON {"error": "..."}: 404 unknown path, 400 bad parameter
 * (one given twice, one /api/traces or /api/metrics does not know, a %00
 * in it or in the path's NAME / TX) or over-long URI, 405 wrong method,
 * 401 without the bearer token when http.token_file is set (every route
 * but /health and the dashboard's page, which holds no data: it asks for the
 * token and sends it with its requests). Connections (httpd.c): at most http.max_connections, a
 * request's head (16 KiB) and body (4 KiB) within http.header_timeout, the
 * answer written within 10 s; URI 2 KiB.
 */
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/acl.h"
#include "agent/core/clock.h"
#include "agent/core/parse.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/secret_file.h"
#include "agent/core/writer.h"
#include "agent/core/session.h"
#include "agent/http/counters.h"
#include "agent/http/httpd.h"
#include "agent/http/metrics.h"
#include "agent/http/server.h"
#include "agent/inputs/streams.h"
#include "agent/jobs/alerting.h"
#include "agent/jobs/cluster.h"
#include "agent/jobs/sysmon.h"
#include "agent/parts.h"
#include "agent/state/persist.h"
#include "agent/state/state.h"
#include "lib/baseline.h"
#include "lib/custom_metrics_json.h"
#include "lib/trace_index.h"
#include "lib/trace_json.h"

#define HTTP_MAX_HEADERS_BYTES 16384
#define HTTP_MAX_BODY_BYTES    4096
#define HTTP_MAX_URI_BYTES     2048
#define HTTP_WRITE_TIMEOUT_US  (10 * 1000000LL)
#define ALERTS_HISTORY         20 /* transitions on /api/alerts, as `busmon alerts` */
#define TRACES_LIMIT_DEFAULT   50 /* /api/traces without ?limit= */
#define TRACES_LIMIT_MAX       1000

struct bm_http {
    const bm_parts *p;
    bm_http_opts o;
    bm_httpd *httpd;
    char token[BM_HTTP_TOKEN_MAX];      /* "" : none required */
    uint64_t unauthorized;              /* requests refused for want of the token */
    uint64_t requests[BM_HTTP_CLASSES]; /* every answer by class (httpd.c counts) */
};

/* What a handler gets: the request, the path's tail after a prefix route
 * (decoded), and the query's window. */
typedef struct {
    bm_http_req *req;
    const char *tail;
    const char *query;      /* the raw query string, or NULL */
    const char *window;     /* 1m | 5m | 1h */
    const char *sys_window; /* /api/system: as given, default 1h */
    int64_t sys_window_us;
} request;

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return code < 400 ? "OK" : code < 500 ? "Client Error" : "Internal Server Error";
    }
}

static void send_json(bm_http *h, bm_http_req *req, int code, json_t *j)
{
    (void)h;
    struct evbuffer *b = evbuffer_new();
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    if (!b || !s) {
        if (b) evbuffer_free(b);
        free(s);
        bm_http_reply(req, 500, "out of memory", NULL);
        return;
    }
    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\n", 1);
    free(s);
    bm_http_req_add_header(req, "Content-Type", "application/json");
    bm_http_reply(req, code, reason_of(code), b);
    evbuffer_free(b);
}

static void send_error(bm_http *h, bm_http_req *req, int code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", code);
    if (code == 405) bm_http_req_add_header(req, "Allow", "GET, HEAD");
    if (code == 401) bm_http_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"busmon\"");
    send_json(h, req, code, j);
    json_decref(j);
}

/* A fresh rollup of the monitor as JSON, or NULL. */
static json_t *fresh_rollup(bm_http *h)
{
    const bm_view *v = &h->p->view;
    bm_monitor *mon = v->acquire(v->arg); /* every agent's figures, when there are several */
    bm_rollup r;
    json_t *j = mon && bm_monitor_rollup(mon, bm_now_us(), h->o.rollup_interval_us, h->p->agent,
                                         &r) == 0
                    ? bm_rollup_to_json(&r)
                    : NULL;
    v->release(v->arg, mon);
    return j;
}

/* The counter table's values now, this server's own counters with them. */
static void collect(const bm_http *h, bm_counter_snapshot *snap)
{
    bm_http_stats own;
    bm_http_get_stats(h, &own);
    bm_counters_collect(h->p, &own, snap);
}

static json_t *api_stats(bm_http *h, json_t *roll, const char *window)
{
    json_t *win = bm_rollup_pick_window(json_object_get(roll, "events"), window);
    json_t *out = win ? json_deep_copy(win) : json_object();
    json_object_set_new(out, "window", json_string(window));
    json_object_set(out, "ts", json_object_get(roll, "ts"));
    json_object_set_new(out, "agents", h->p->cluster ? bm_cluster_agents_json(h->p->cluster)
                                                     : json_array());
    bm_counter_snapshot snap;
    collect(h, &snap);
    json_t *counters = json_object();
    if (counters && bm_counters_to_json(&snap, counters) == 0)
        json_object_set_new(out, "counters", counters);
    else
        json_decref(counters);
    return out;
}

static json_t *api_worker(json_t *roll, const char *window, const char *name)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(roll, "workers"), i, w)
    {
        const char *n = json_string_value(json_object_get(w, "name"));
        if (!n || strcmp(n, name)) continue;
        json_t *out = json_deep_copy(w);
        json_t *win = bm_rollup_pick_window(json_object_get(out, "windows"), window);
        json_object_set_new(out, "window", json_string(window));
        if (win) json_object_set(out, "stats", win);
        return out;
    }
    return NULL;
}

static json_t *api_errors(json_t *roll, const char *window)
{
    json_t *out = json_object();
    json_object_set_new(out, "window", json_string(window));
    /* the counts' window's length (the performance window's is configured) */
    json_t *ev = bm_rollup_pick_window(json_object_get(roll, "events"), window);
    json_object_set(out, "window_s", json_object_get(ev, "window_s"));
    json_object_set(out, "ts", json_object_get(roll, "ts"));
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(roll, "errors"), i, e)
    {
        json_t *x = json_deep_copy(e);
        json_t *c = bm_rollup_pick_window(json_object_get(e, "count"), window);
        json_object_set_new(x, "counts", json_deep_copy(json_object_get(e, "count")));
        json_object_set_new(x, "count", c ? json_copy(c) : json_integer(0));
        json_array_append_new(arr, x);
    }
    json_object_set_new(out, "errors", arr);
    return out;
}

static void serve_metrics(bm_http *h, const request *rq)
{
    bm_http_req *req = rq->req;
    if (h->o.metrics_off) {
        send_error(h, req, 404,
                   "/metrics is off (metrics_collection.export_prometheus or .enabled: false)");
        return;
    }
    bm_counter_snapshot snap;
    collect(h, &snap);
    struct evbuffer *b = evbuffer_new();
    if (!b || bm_metrics_render(h->p, &snap, b)) {
        if (b) evbuffer_free(b);
        send_error(h, req, 500, "out of memory");
        return;
    }
    bm_http_req_add_header(req, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    bm_http_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void serve_ready(bm_http *h, const request *rq)
{
    bm_http_req *req = rq->req;
    const bm_parts *p = h->p;
    int reader_up = bm_session_reader_up(p->session), writer_up = bm_session_writer_up(p->session);
    json_t *reasons = json_array();
    char why[512];
    if (bm_loop_stopping(p->loop)) json_array_append_new(reasons, json_string("agent is stopping"));
    if (!reader_up) json_array_append_new(reasons, json_string("redis reader not connected"));
    if (!writer_up) json_array_append_new(reasons, json_string("redis writer not connected"));
    char denials[BM_ACL__COUNT][256];
    size_t nd = bm_acl_reasons(bm_writer_acl(p->writer), denials, BM_ACL__COUNT);
    for (size_t i = 0; i < nd; i++) /* a denied command: something does not work */
        json_array_append_new(reasons, json_string(denials[i]));
    char failing[256];
    if (bm_persist_failing(p->persist, failing, sizeof failing)) {
        snprintf(why, sizeof why, "redis refuses writes, entries are not acked: %s", failing);
        json_array_append_new(reasons, json_string(why));
    }
    const char *unreadable[8];
    size_t nu = p->streams ? bm_stream_input_unreadable(p->streams, unreadable, 8) : 0;
    for (size_t i = 0; i < nu && i < 8; i++) {
        snprintf(why, sizeof why, "stream '%s' is a key of another type: not read", unreadable[i]);
        json_array_append_new(reasons, json_string(why));
    }
    if (nu > 8) {
        snprintf(why, sizeof why, "%zu more streams are keys of another type", nu - 8);
        json_array_append_new(reasons, json_string(why));
    }
    /* the group and the lag as the last system sample saw them (unknown: no verdict) */
    const bm_sys_sample *sys = bm_sysmon_latest(p->sysmon);
    json_t *streams = json_array();
    for (size_t i = 0; sys && i < sys->n_streams; i++) {
        const bm_sys_stream *st = &sys->streams[i];
        if (st->group == 0) {
            snprintf(why, sizeof why, "consumer group '%s' missing on stream '%s'", p->group,
                     st->name);
            json_array_append_new(reasons, json_string(why));
        }
        if (h->o.ready_max_lag > 0 && st->lag > h->o.ready_max_lag) {
            snprintf(why, sizeof why, "consumer lag %lld on stream '%s' > ready_max_lag %d",
                     (long long)st->lag, st->name, h->o.ready_max_lag);
            json_array_append_new(reasons, json_string(why));
        }
        json_array_append_new(streams,
                              json_pack("{s:s, s:o, s:o}", "name", st->name, "group",
                                        st->group < 0 ? json_null() : json_boolean(st->group),
                                        "lag", st->lag < 0 ? json_null() : json_integer(st->lag)));
    }
    int ready = json_array_size(reasons) == 0;
    json_t *j = json_pack("{s:s, s:b, s:b, s:i, s:o, s:o}", "status", ready ? "ready" : "not ready",
                          "reader", reader_up, "writer", writer_up, "max_lag",
                          h->o.ready_max_lag, "streams", streams, "reasons", reasons);
    send_json(h, req, ready ? 200 : 503, j);
    json_decref(j);
}

/* build/dashboard_html.c, made from agent/dashboard.html by cmake/embed.cmake */
extern const unsigned char bm_dashboard_html[];
extern const size_t bm_dashboard_html_len;

static void serve_dashboard(bm_http *h, const request *rq)
{
    bm_http_req *req = rq->req;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        send_error(h, req, 500, "out of memory");
        return;
    }
    evbuffer_add_reference(b, bm_dashboard_html, bm_dashboard_html_len, NULL, NULL);
    bm_http_req_add_header(req, "Content-Type", "text/html; charset=utf-8");
    /* nothing but this origin: the page is self-contained */
    bm_http_req_add_header(req, "Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; style-src "
                           "'unsafe-inline'; connect-src 'self'; img-src 'self'");
    bm_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
    bm_http_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void serve_health(bm_http *h, const request *rq)
{
    json_t *j = json_pack("{s:s}", "status", "ok");
    send_json(h, rq->req, 200, j);
    json_decref(j);
}

/* Send j (a new reference, NULL: out of memory) with 200, or 500. */
static void send_made(bm_http *h, bm_http_req *req, json_t *j)
{
    if (j)
        send_json(h, req, 200, j);
    else
        send_error(h, req, 500, "out of memory");
    json_decref(j);
}

/* The query's parameters into *q (the caller clears it): each name at most
 * once but `repeatable` (NULL: none), and with `known` (NULL-ended; NULL:
 * any name) none but those. A %00 is refused: the decoded value would end
 * there, and a cut value reads as another (a worker "fa%00st" as "fa").
 * @return 0, or -1 with the 400 sent and *q empty. */
static int read_query(bm_http *h, bm_http_req *req, const char *query, const char *const *known,
                      const char *repeatable, struct evkeyvalq *q)
{
    char why[160];
    TAILQ_INIT(q);
    if (!query) return 0;
    if (strstr(query, "%00")) {
        send_error(h, req, 400, "a query parameter holds a NUL byte (%00)");
        return -1;
    }
    if (evhttp_parse_query_str(query, q)) {
        send_error(h, req, 400, "malformed query string");
        return -1;
    }
    struct evkeyval *kv, *seen;
    TAILQ_FOREACH(kv, q, next)
    {
        size_t i = 0;
        while (known && known[i] && strcmp(known[i], kv->key))
            i++;
        if (known && !known[i]) {
            int at = snprintf(why, sizeof why, "unknown parameter '%.40s' (", kv->key);
            for (i = 0; known[i] && at > 0 && (size_t)at < sizeof why; i++)
                at += snprintf(why + at, sizeof why - (size_t)at, "%s%s", i ? ", " : "", known[i]);
            if (at > 0 && (size_t)at < sizeof why - 1) strcat(why, ")");
            break;
        }
        for (seen = TAILQ_FIRST(q); seen != kv; seen = TAILQ_NEXT(seen, next))
            if (!strcmp(seen->key, kv->key) && (!repeatable || strcmp(kv->key, repeatable))) break;
        if (seen != kv) {
            snprintf(why, sizeof why, "parameter '%.40s' is given more than once", kv->key);
            break;
        }
    }
    if (!kv) return 0;
    evhttp_clear_headers(q);
    send_error(h, req, 400, why);
    return -1;
}

static void serve_alerts(bm_http *h, const request *rq)
{
    send_made(h, rq->req, bm_alerting_api_json(h->p->alerting, ALERTS_HISTORY));
}

/* /api/baseline: every learned baseline beside the worker's last minute, in
 * the shape of `busmon baseline --json` (lib/baseline.h baseline_view_json). */
static void serve_baseline(bm_http *h, const request *rq)
{
    const baselines *b = h->p->baselines;
    if (!b) {
        send_error(h, rq->req, 404, "no baselines (baselines.enabled: false)");
        return;
    }
    int64_t now = bm_now_us();
    json_t *out = json_object(), *arr = json_array();
    const bm_view *v = &h->p->view;
    bm_monitor *mon = v->acquire(v->arg);
    for (size_t i = 0; out && arr && i < baselines_count(b); i++) {
        baseline_view bv;
        if (baselines_get(b, baselines_key_at(b, i), now, &bv)) continue;
        double x[BASELINE__SERIES] = {NAN, NAN, NAN, NAN};
        bm_worker_snapshot w;
        if (mon && !worker_stats_snapshot_one(mon->workers, bv.key, now, &w) &&
            w.win[0].executions) {
            const bm_window_stats *m = &w.win[0];
            if (m->max_us > 0) x[BASELINE_P50] = m->p50_us, x[BASELINE_P95] = m->p95_us;
            x[BASELINE_ERROR_RATE] = m->error_rate;
            x[BASELINE_THROUGHPUT] = m->throughput_per_min;
        }
        json_array_append_new(arr, baseline_view_json(&bv, x));
    }
    v->release(v->arg, mon);
    char t[48];
    bm_format_time_ms(now, t, sizeof t);
    json_object_set_new(out, "agent", json_string(h->p->agent));
    json_object_set_new(out, "ts", json_string(t));
    json_object_set_new(out, "slots", json_string(baseline_slots_name(baselines_config(b)->slots)));
    json_object_set_new(out, "window", json_string("1m"));
    json_object_set_new(out, "workers", arr);
    send_made(h, rq->req, out);
}

static void serve_system(bm_http *h, const request *rq)
{
    send_made(h, rq->req,
              h->p->sysmon ? bm_sysmon_window_json(h->p->sysmon, rq->sys_window, rq->sys_window_us)
                           : NULL);
}

static void serve_trace(bm_http *h, const request *rq)
{
    const trace *t = trace_store_get(bm_state_traces(h->p->state), rq->tail);
    if (!t) {
        send_error(h, rq->req, 404, "no such transaction in memory (try `busmon trace TX`)");
        return;
    }
    send_made(h, rq->req, bm_trace_json(t));
}

/* /api/traces: one match, kept by start time (newest first) until the
 * limit is applied. The trace is borrowed: the store does not change while
 * a handler runs (the loop is single-threaded). */
typedef struct {
    int64_t start_us;
    const trace *t;
} trace_hit;

typedef struct {
    const trace_filter *f;
    trace_hit *hits;
    size_t n, cap;
    size_t scanned;
    int nomem;
} trace_search;

/* Whether t can match f, from the figures a summary copies as they are
 * (status, start, duration): most traces are left out without building a
 * summary, which walks every event. Exact, never a wrong "no": the full
 * filter on the summary still decides what passes. */
static int may_match(const trace *t, const trace_filter *f)
{
    if (f->status && strcmp(f->status, "timed_out") &&
        !trace_status_matches(trace_get_status(t), f->status))
        return 0;
    if (f->since_us > 0 && trace_first_ts_us(t) < f->since_us) return 0;
    if (f->min_duration_us > 0 && trace_duration_us(t) < f->min_duration_us) return 0;
    return 1;
}

/* Summarize each trace as state.c does for the index, and keep it when the
 * filter (the CLI's) accepts the summary. */
static void collect_trace(const trace *t, void *arg)
{
    trace_search *s = arg;
    trace_summary sum;
    s->scanned++;
    if (!may_match(t, s->f)) return;
    trace_index_summarize(t, &sum);
    if (s->nomem || !trace_index_matches_trace(t, &sum, s->f)) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        trace_hit *h = realloc(s->hits, cap * sizeof *h);
        if (!h) {
            s->nomem = 1;
            return;
        }
        s->hits = h, s->cap = cap;
    }
    s->hits[s->n++] = (trace_hit){sum.start_us, t};
}

/* Newest first, in the index's order (ZREVRANGEBYSCORE of busmon:traces):
 * the start's millisecond, the score's resolution, then the transaction
 * id, both descending. Microseconds would order two starts of one
 * millisecond by time where `busmon traces` orders them by id. */
static int hit_newest_first(const void *a, const void *b)
{
    const trace_hit *x = a, *y = b;
    int64_t xm = x->start_us / 1000, ym = y->start_us / 1000;
    if (xm != ym) return xm < ym ? 1 : -1;
    return -strcmp(trace_tx(x->t), trace_tx(y->t));
}

/* A match as `busmon traces --json` lists it: its summary, the error
 * message whole (the summary holds its first TRACE_INDEX_TEXT_MAX bytes)
 * and the workers after the summary's first TRACE_INDEX_WORKERS_MAX,
 * counted (names: TRACE_INDEX_MORE_COUNTED of room). @return NULL: no
 * memory. */
static json_t *trace_listed_json(const trace *t, char (*names)[TRACE_INDEX_TEXT_MAX + 1])
{
    trace_summary sum;
    trace_index_summarize(t, &sum);
    json_t *one = trace_index_json(&sum);
    json_t *error = trace_index_text_json(trace_index_error_whole(t, &sum));
    size_t more = trace_index_more_workers(t, &sum, names, TRACE_INDEX_MORE_COUNTED);
    if (!one || json_object_set_new(one, "error", error) ||
        json_object_set_new(one, "workers_more", json_integer((json_int_t)more))) {
        json_decref(one);
        return NULL;
    }
    return one;
}

/* The parameters of /api/traces into f and *limit, durations as the CLI
 * reads them (a bare number is seconds). @return NULL, or the reason for
 * a 400. */
static const char *read_trace_filter(const struct evkeyvalq *q, trace_filter *f, size_t *limit,
                                     int64_t now_us)
{
    const char *v;
    memset(f, 0, sizeof *f);
    *limit = TRACES_LIMIT_DEFAULT;
    if (evhttp_find_header(q, "window")) /* the rollups' word: here it would be ignored */
        return "/api/traces has no window: since=DURATION (15m, 1h, 2d) says how far back";
    if ((v = evhttp_find_header(q, "status")) && *v) {
        if (!trace_index_status_valid(v))
            return "status must be running, completed, failed, compensated, cancelled or "
                   "timed_out";
        f->status = v;
    }
    if ((v = evhttp_find_header(q, "worker")) && *v) {
        if (strlen(v) > TRACE_INDEX_TEXT_MAX) return "worker is too long";
        f->worker = v;
    }
    if ((v = evhttp_find_header(q, "error_type")) && *v) {
        if (strlen(v) > TRACE_INDEX_TEXT_MAX) return "error_type is too long";
        f->error_type = v;
    }
    if ((v = evhttp_find_header(q, "min_duration")) && *v &&
        bm_parse_duration_us(v, BM_US_PER_S, &f->min_duration_us) != BM_PARSE_OK)
        return "min_duration must be a duration like 500ms, 2s or 1m";
    int64_t since_us = 0;
    if ((v = evhttp_find_header(q, "since")) && *v) {
        if (bm_parse_duration_us(v, BM_US_PER_S, &since_us) != BM_PARSE_OK || since_us <= 0)
            return "since must be a duration like 15m, 1h or 2d";
        f->since_us = now_us - since_us;
    }
    if ((v = evhttp_find_header(q, "limit")) && *v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (*end || end == v || n < 1 || n > TRACES_LIMIT_MAX)
            return "limit must be a whole number from 1 to 1000";
        *limit = (size_t)n;
    }
    return NULL;
}

static void serve_traces(bm_http *h, const request *rq)
{
    static const char *const known[] = {"status",     "worker", "min_duration", "since",
                                        "error_type", "limit",  "window",       NULL};
    struct evkeyvalq q;
    if (read_query(h, rq->req, rq->query, known, NULL, &q)) return;
    trace_filter f;
    size_t limit;
    const char *bad = read_trace_filter(&q, &f, &limit, bm_now_us());
    if (bad) {
        send_error(h, rq->req, 400, bad);
        evhttp_clear_headers(&q);
        return;
    }
    trace_search s = {&f, NULL, 0, 0, 0, 0};
    char(*names)[TRACE_INDEX_TEXT_MAX + 1] = NULL; /* room to count the workers_more in */
    trace_store_foreach(bm_state_traces(h->p->state), collect_trace, &s);
    json_t *arr = s.nomem ? NULL : json_array();
    if (arr) {
        if (s.n) qsort(s.hits, s.n, sizeof *s.hits, hit_newest_first); /* no match: hits NULL */
        names = s.n ? malloc(TRACE_INDEX_MORE_COUNTED * sizeof *names) : NULL;
        for (size_t i = 0; i < s.n && i < limit; i++) {
            json_t *one = names ? trace_listed_json(s.hits[i].t, names) : NULL;
            if (!one || json_array_append_new(arr, one)) {
                json_decref(arr); /* no memory: a 500, never a list short of a match */
                arr = NULL;
                break;
            }
        }
    }
    free(names);
    free(s.hits);
    evhttp_clear_headers(&q);
    send_made(h, rq->req,
              arr ? json_pack("{s:o, s:I, s:I, s:I, s:b, s:s}", "traces", arr, "count",
                              (json_int_t)json_array_size(arr), "matched", (json_int_t)s.n,
                              "scanned", (json_int_t)s.scanned, "limited", s.n > limit,
                              "source", "memory")
                  : NULL);
}

/*
 * /api/metrics?name=N&tag=k=v&tag=...&window=1m|5m|1h&limit=L: business
 * metric series over the window (custom_metrics_json.h), every agent's
 * figures merged when there are several.
 */
static void serve_metrics_api(bm_http *h, const request *rq)
{
    static const char *const known[] = {"name", "tag", "window", "limit", NULL};
    struct evkeyvalq q;
    if (read_query(h, rq->req, rq->query, known, "tag", &q)) return;
    custom_metrics_filter f = {.name = evhttp_find_header(&q, "name")};
    size_t limit = 0;
    const char *bad = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &q, next)
    {
        if (!strcmp(kv->key, "tag")) {
            char *eq = strchr(kv->value, '=');
            if (!eq || eq == kv->value || f.n_tags >= CUSTOM_METRICS_TAGS_MAX) {
                bad = "tag must be KEY=VALUE (16 at most)";
                break;
            }
            *eq = '\0';
            f.tags[f.n_tags++] = (custom_metrics_tag){kv->value, eq + 1};
        } else if (!strcmp(kv->key, "limit")) {
            char *end;
            long long n = strtoll(kv->value, &end, 10);
            if (*end || end == kv->value || n < 1 || n > 100000) {
                bad = "limit must be a whole number from 1 to 100000";
                break;
            }
            limit = (size_t)n;
        }
    }
    if (bad) {
        send_error(h, rq->req, 400, bad);
        evhttp_clear_headers(&q);
        return;
    }
    const bm_view *v = &h->p->view;
    bm_monitor *mon = v->acquire(v->arg);
    json_t *out = NULL;
    if (mon) {
        int w = custom_metrics_window_index(mon->metrics, rq->window);
        if (w < 0) w = CUSTOM_METRICS_WINDOWS - 1; /* "1h": the performance window, any length */
        out = custom_metrics_json(mon->metrics, w, &f, bm_now_us(), limit);
        /* the window as asked, as the other routes and `busmon metrics --json` say it (its
         * label would be "1m" for a performance window of one minute), and its length */
        if (out && (json_object_set_new(out, "window", json_string(rq->window)) ||
                    json_object_set_new(
                        out, "window_s",
                        json_real((double)custom_metrics_window_us(mon->metrics, w) / 1e6)))) {
            json_decref(out);
            out = NULL;
        }
    }
    v->release(v->arg, mon);
    evhttp_clear_headers(&q);
    if (out) json_object_set_new(out, "source", json_string("memory"));
    send_made(h, rq->req, out);
}

/* The rollup routes: /api/stats, /api/workers, /api/workers/NAME, /api/errors. */
static void serve_rollup(bm_http *h, const request *rq, int which)
{
    json_t *roll = fresh_rollup(h);
    if (!roll) {
        send_error(h, rq->req, 500, "out of memory");
        return;
    }
    json_t *out = which == 0   ? api_stats(h, roll, rq->window)
                  : which == 1 ? bm_rollup_workers_view(roll, rq->window)
                  : which == 2 ? api_worker(roll, rq->window, rq->tail)
                               : api_errors(roll, rq->window);
    if (out)
        send_json(h, rq->req, 200, out);
    else
        send_error(h, rq->req, 404, "no such worker");
    json_decref(out);
    json_decref(roll);
}

static void serve_stats(bm_http *h, const request *rq) { serve_rollup(h, rq, 0); }
static void serve_workers(bm_http *h, const request *rq) { serve_rollup(h, rq, 1); }
static void serve_worker(bm_http *h, const request *rq) { serve_rollup(h, rq, 2); }
static void serve_errors(bm_http *h, const request *rq) { serve_rollup(h, rq, 3); }

/* The routes: a path, or a prefix whose one remaining path segment is the
 * handler's tail (decoded). Adding a route is one row and its handler. */
/* Which ?window= a route reads; a route that reads none never parses the query
 * (its own parameters aside), so /health?probe is as good as /health. */
typedef enum { WINDOW_NONE, WINDOW_ROLLUP, WINDOW_SYSTEM } window_kind;

static const struct route {
    const char *path;
    const char *tail; /* NULL: the path exactly; else a prefix, and what its tail names */
    window_kind window;
    void (*serve)(bm_http *h, const request *rq);
} routes[] = {
    {"/", NULL, WINDOW_NONE, serve_dashboard},
    {"/index.html", NULL, WINDOW_NONE, serve_dashboard},
    {"/metrics", NULL, WINDOW_NONE, serve_metrics},
    {"/health", NULL, WINDOW_NONE, serve_health},
    {"/ready", NULL, WINDOW_NONE, serve_ready},
    {"/api/alerts", NULL, WINDOW_NONE, serve_alerts},
    {"/api/baseline", NULL, WINDOW_NONE, serve_baseline},
    {"/api/system", NULL, WINDOW_SYSTEM, serve_system},
    {"/api/stats", NULL, WINDOW_ROLLUP, serve_stats},
    {"/api/workers", NULL, WINDOW_ROLLUP, serve_workers},
    {"/api/workers/", "NAME", WINDOW_ROLLUP, serve_worker},
    {"/api/errors", NULL, WINDOW_ROLLUP, serve_errors},
    {"/api/metrics", NULL, WINDOW_ROLLUP, serve_metrics_api},
    {"/api/traces", NULL, WINDOW_NONE, serve_traces},
    {"/api/traces/", "TX", WINDOW_NONE, serve_trace},
};

/* The route for path, with its decoded tail in *tail (caller frees) and its
 * length in *tail_len (more than strlen: it holds a %00), or NULL. */
static const struct route *find_route(const char *path, char **tail, size_t *tail_len)
{
    *tail = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (!r->tail) {
            if (!strcmp(path, r->path)) return r;
            continue;
        }
        size_t n = strlen(r->path);
        if (strncmp(path, r->path, n) || !path[n] || strchr(path + n, '/')) continue;
        *tail = evhttp_uridecode(path + n, 0, tail_len);
        return *tail ? r : NULL;
    }
    return NULL;
}

/* A 404 that names the paths there are ("/api/workers/NAME" for a prefix route),
 * so a typo is answered with the right spelling. */
static void send_not_found(bm_http *h, bm_http_req *req)
{
    char msg[640];
    size_t at = (size_t)snprintf(msg, sizeof msg, "no such path; the paths:");
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && at < sizeof msg; i++) {
        at += (size_t)snprintf(msg + at, sizeof msg - at, "%s %s%s", i ? "," : "", routes[i].path,
                               routes[i].tail ? routes[i].tail : "");
    }
    send_error(h, req, 404, msg);
}

/* ?window= of a route that reads one (others are ignored); 1m|5m|1h for the
 * rollup routes, any "<n>s|m|h|d" from 10 s to 7 d for /api/system.
 * @return 0, or -1 with the 400 sent. */
static int read_window(bm_http *h, bm_http_req *req, const struct evhttp_uri *uri, window_kind kind,
                       request *rq, char *sys_buf, size_t sys_len)
{
    rq->window = "5m";
    rq->sys_window = "1h";
    rq->sys_window_us = 3600LL * 1000000;
    if (kind == WINDOW_NONE) return 0;
    struct evkeyvalq q; /* any parameter: /api/metrics reads its own too */
    if (read_query(h, req, evhttp_uri_get_query(uri), NULL, "tag", &q)) return -1;
    const char *wv = evhttp_find_header(&q, "window");
    int rc = 0;
    if (kind == WINDOW_SYSTEM) {
        if (wv && (strlen(wv) >= sys_len || bm_sys_parse_window(wv, &rq->sys_window_us))) {
            send_error(h, req, 400, "window must be a duration like 10m, 1h or 24h (10s to 7d)");
            rc = -1;
        } else if (wv) {
            snprintf(sys_buf, sys_len, "%s", wv);
            rq->sys_window = sys_buf;
        }
    } else if (wv) {
        static const char *const labels[] = {"1m", "5m", "1h"};
        rq->window = NULL;
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(wv, labels[i])) rq->window = labels[i];
        if (!rq->window) {
            send_error(h, req, 400, "window must be 1m, 5m or 1h");
            rc = -1;
        }
    }
    evhttp_clear_headers(&q);
    return rc;
}

/* The routes served without the token: /health (liveness probes) and the
 * dashboard's page (no data in it; its requests carry the token). */
static int open_path(const char *path)
{
    return !strcmp(path, "/health") || !strcmp(path, "/") || !strcmp(path, "/index.html");
}

/* Does the request carry "Authorization: Bearer <token>"? Compared in
 * time independent of where the first difference is. */
static int authorized(const bm_http *h, bm_http_req *req)
{
    if (!h->token[0]) return 1;
    const char *a = bm_http_req_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7)) return 0;
    a += 7;
    while (*a == ' ')
        a++;
    size_t n = strlen(a), m = strlen(h->token);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)h->token[i] ^ (unsigned char)(i < n ? a[i] : 0);
    return diff == 0;
}

static void on_request(bm_http_req *req, void *arg)
{
    bm_http *h = arg;
    const char *method = bm_http_req_method(req);
    const char *uri_s = bm_http_req_target(req);
    if (!uri_s || strlen(uri_s) > HTTP_MAX_URI_BYTES) {
        send_error(h, req, 400, "request URI too long");
        return;
    }
    struct evhttp_uri *uri = evhttp_uri_parse(uri_s);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path) {
        send_error(h, req, 400, "malformed request URI");
        if (uri) evhttp_uri_free(uri); /* libevent 2.1's free takes no NULL */
        return;
    }
    if (!open_path(path) && !authorized(h, req)) {
        h->unauthorized++;
        send_error(h, req, 401, "a bearer token is required (Authorization: Bearer ...)");
        evhttp_uri_free(uri);
        return;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        send_error(h, req, 405, "method not allowed: use GET or HEAD");
        evhttp_uri_free(uri);
        return;
    }
    request rq = {req, NULL, evhttp_uri_get_query(uri), NULL, NULL, 0};
    char sys_buf[16];
    char *tail = NULL;
    size_t tail_len = 0;
    const struct route *r = find_route(path, &tail, &tail_len); /* first: unknown is a 404 */
    if (!r) {
        send_not_found(h, req);
    } else if (tail && strlen(tail) != tail_len) { /* "fast%00x" is not the worker "fast" */
        send_error(h, req, 400, "a path segment holds a NUL byte (%00)");
    } else if (read_window(h, req, uri, r->window, &rq, sys_buf, sizeof sys_buf) == 0) {
        rq.tail = tail;
        r->serve(h, &rq);
    }
    free(tail);
    evhttp_uri_free(uri);
}

/* Split "host:port" / "[v6]:port". @return 0 or -1. */
static int split_listen(const char *listen, char *host, size_t hostlen, unsigned short *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) return -1;
    const char *hs = listen, *he = colon;
    if (*hs == '[') {
        if (he[-1] != ']') return -1;
        hs++;
        he--;
    }
    if ((size_t)(he - hs) >= hostlen || he == hs) return -1;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535) return -1;
    *port = (unsigned short)p;
    return 0;
}

/* Can a client send it? A header value loses its outer blanks (authorized()
 * skips them too) and carries no control character. */
static int token_sendable(const char *t)
{
    size_t n = strlen(t);
    if (t[0] == ' ' || t[0] == '\t' || t[n - 1] == ' ' || t[n - 1] == '\t') return 0;
    for (; *t; t++)
        if (((unsigned char)*t < 0x20 && *t != '\t') || *t == 0x7f) return 0;
    return 1;
}

int bm_http_token_read(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
    if (bm_secret_file_read(path, "the HTTP bearer token (http.token_file)", buf, len, err, errlen))
        return -1;
    if (token_sendable(buf)) return 0;
    snprintf(err, errlen,
             "the HTTP bearer token in %s begins or ends with a space or holds a control "
             "character: no Authorization header can carry it, so every request would be 401",
             path);
    memset(buf, 0, len);
    return -1;
}

bm_http *bm_http_new(struct event_base *base, const char *listen, const bm_parts *parts,
                     const bm_http_opts *o, int *bad_config, char *err, size_t errlen)
{
    char host[256], port_s[8];
    unsigned short port;
    *bad_config = 1; /* until the configuration is read: what fails later may pass on a restart */
    if (split_listen(listen, host, sizeof host, &port)) {
        snprintf(err, errlen, "http.listen must be host:port like 127.0.0.1:9464, not '%s'",
                 listen);
        return NULL;
    }
    bm_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->p = parts;
    h->o = *o;
    if (o->token_file && *o->token_file &&
        bm_http_token_read(o->token_file, h->token, sizeof h->token, err, errlen)) {
        bm_http_free(h);
        return NULL;
    }
    *bad_config = 0;
    snprintf(port_s, sizeof port_s, "%u", port);
    bm_httpd_opts ho = {
        .max_connections = o->max_connections,
        .header_timeout_us = o->header_timeout_us,
        .write_timeout_us = HTTP_WRITE_TIMEOUT_US,
        .max_head_bytes = HTTP_MAX_HEADERS_BYTES,
        .max_body_bytes = HTTP_MAX_BODY_BYTES,
        .replies = h->requests, /* ours: bm_http_get_stats reports them */
    };
    char why[512];
    h->httpd = bm_httpd_new(base, host, port_s, &ho, on_request, h, why, sizeof why);
    if (!h->httpd) {
        /* "cannot listen for HTTP on HOST:PORT: reason": the address as written in
         * http.listen ([v6]:port), the reason after httpd's first ": " (an address
         * holds no space) */
        const char *reason = strstr(why, ": ");
        snprintf(err, errlen, "cannot listen for HTTP on %s: %s", listen,
                 reason ? reason + 2 : why);
        bm_http_free(h);
        return NULL;
    }
    bm_info("HTTP on http://%s/ (/metrics, /health, /ready, /api/...)%s", listen,
            h->token[0] ? "; a bearer token is required but on /health and the dashboard's page"
                        : "");
    return h;
}

void bm_http_free(bm_http *h)
{
    if (!h) return;
    bm_httpd_free(h->httpd);
    memset(h->token, 0, sizeof h->token);
    free(h);
}

void bm_http_get_stats(const bm_http *h, bm_http_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!h) return;
    bm_httpd_get_stats(h->httpd, &out->conn);
    out->unauthorized = h->unauthorized;
    memcpy(out->requests, h->requests, sizeof out->requests);
}
