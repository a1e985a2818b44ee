/*
 * http.c - the agent's HTTP server (evhttp, in the agent's loop): routing,
 * limits and the JSON API. /metrics is rendered by metrics_text.c.
 *
 * Routes (GET and HEAD only; anything else is 405):
 *   /, /index.html         the dashboard (agent/dashboard.html, embedded):
 *                          one self-contained page polling the API below
 *   /metrics               Prometheus text
 *   /health                200 {"status":"ok"} while the loop runs
 *   /ready                 200 when the Redis reader and writer are connected,
 *                          our group exists on every stream and no stream's
 *                          consumer lag is above http.ready_max_lag (as the
 *                          last system sample saw them), else 503 with the
 *                          reasons
 *   /api/alerts            as `busmon alerts --json`, from the engine's memory
 *   /api/system            ?window=10m|1h|24h.. (default 1h): system metrics,
 *                          latest sample, avg and peak, series (sysmon.c)
 *   /api/stats             ?window=1m|5m|1h (default 5m), as `busmon stats --json`
 *   /api/workers           as `busmon workers --json`
 *   /api/workers/NAME      as `busmon worker --json NAME`, 404 if unknown
 *   /api/errors            as `busmon errors --json`
 *   /api/traces/TX         the trace held in memory (`busmon trace --json`
 *                          shape), 404 when it is not in memory (evicted,
 *                          expired, or read by another agent: the CLI reads
 *                          Redis and still finds it)
 * Errors are JSON {"error": "..."}: 404 unknown path, 400 bad parameter or
 * over-long URI, 405 wrong method. Limits: request headers 16 KiB, body
 * 4 KiB, URI 2 KiB, 10 s timeout per connection.
 */
#include <errno.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/jobs/alerting.h"
#include "agent/http/server.h"
#include "agent/core/log.h"
#include "agent/jobs/sysmon.h"
#include "lib/trace_json.h"

#define HTTP_MAX_HEADERS_BYTES 16384
#define HTTP_MAX_BODY_BYTES    4096
#define HTTP_MAX_URI_BYTES     2048
#define HTTP_TIMEOUT_S         10
#define ALERTS_HISTORY         20 /* transitions on /api/alerts, as `busmon alerts` */

struct bm_http {
    bm_agent *a;
    struct evhttp *http;
    bm_http_stats stats;
};

static void count(bm_http *h, int code)
{
    if (code < 400)
        h->stats.ok++;
    else if (code < 500)
        h->stats.client_errors++;
    else
        h->stats.server_errors++;
}

static void send_json(bm_http *h, struct evhttp_request *req, int code, json_t *j)
{
    struct evbuffer *b = evbuffer_new();
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    if (!b || !s) {
        if (b) evbuffer_free(b);
        free(s);
        count(h, 500);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\n", 1);
    free(s);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    count(h, code);
    evhttp_send_reply(req, code, code == 200 ? "OK" : NULL, b);
    evbuffer_free(b);
}

static void send_error(bm_http *h, struct evhttp_request *req, int code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", code);
    if (code == 405)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    send_json(h, req, code, j);
    json_decref(j);
}

/* A worker's JSON cut to one window (as cli_stats.c). */
static json_t *worker_in_window(json_t *w, const char *label)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v) if (strcmp(k, "windows")) json_object_set(o, k, v);
    json_t *win = bm_rollup_pick_window(json_object_get(w, "windows"), label);
    if (win) json_object_update(o, win);
    json_object_set_new(o, "window", json_string(label));
    return o;
}

/* A fresh rollup of the monitor as JSON, or NULL. */
static json_t *fresh_rollup(bm_agent *a)
{
    bm_rollup r;
    if (bm_monitor_rollup(&a->mon, bm_now_us(), a->cfg->rollup_interval_ms * 1000, a->cfg->consumer,
                          &r))
        return NULL;
    return bm_rollup_to_json(&r);
}

static json_t *api_stats(json_t *roll, const char *window)
{
    json_t *win = bm_rollup_pick_window(json_object_get(roll, "events"), window);
    json_t *out = win ? json_deep_copy(win) : json_object();
    json_object_set_new(out, "window", json_string(window));
    json_object_set(out, "ts", json_object_get(roll, "ts"));
    return out;
}

static json_t *api_workers(json_t *roll, const char *window)
{
    json_t *out = json_object();
    json_object_set_new(out, "window", json_string(window));
    json_object_set(out, "ts", json_object_get(roll, "ts"));
    json_object_set(out, "agent", json_object_get(roll, "agent"));
    json_object_set(out, "summary", json_object_get(roll, "summary"));
    json_t *arr = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(roll, "workers"), i, w)
        json_array_append_new(arr, worker_in_window(w, window));
    json_object_set_new(out, "workers", arr);
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

static void serve_metrics(bm_http *h, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b || bm_metrics_render(h->a, b)) {
        if (b) evbuffer_free(b);
        send_error(h, req, 500, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    count(h, 200);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void serve_ready(bm_http *h, struct evhttp_request *req)
{
    bm_agent *a = h->a;
    json_t *reasons = json_array();
    char why[512];
    if (a->stopping) json_array_append_new(reasons, json_string("agent is stopping"));
    if (!a->reader_up) json_array_append_new(reasons, json_string("redis reader not connected"));
    if (!a->writer_up) json_array_append_new(reasons, json_string("redis writer not connected"));
    /* the group and the lag as the last system sample saw them (unknown: no verdict) */
    const bm_sys_sample *sys = bm_sysmon_latest(a->sysmon);
    json_t *streams = json_array();
    for (size_t i = 0; sys && i < sys->n_streams; i++) {
        const bm_sys_stream *st = &sys->streams[i];
        if (st->group == 0) {
            snprintf(why, sizeof why, "consumer group '%s' missing on stream '%s'", a->cfg->group,
                     st->name);
            json_array_append_new(reasons, json_string(why));
        }
        if (a->cfg->ready_max_lag > 0 && st->lag > a->cfg->ready_max_lag) {
            snprintf(why, sizeof why, "consumer lag %lld on stream '%s' > ready_max_lag %d",
                     (long long)st->lag, st->name, a->cfg->ready_max_lag);
            json_array_append_new(reasons, json_string(why));
        }
        json_array_append_new(streams,
                              json_pack("{s:s, s:o, s:o}", "name", st->name, "group",
                                        st->group < 0 ? json_null() : json_boolean(st->group),
                                        "lag", st->lag < 0 ? json_null() : json_integer(st->lag)));
    }
    int ready = json_array_size(reasons) == 0;
    json_t *j = json_pack("{s:s, s:b, s:b, s:i, s:o, s:o}", "status", ready ? "ready" : "not ready",
                          "reader", a->reader_up, "writer", a->writer_up, "max_lag",
                          a->cfg->ready_max_lag, "streams", streams, "reasons", reasons);
    send_json(h, req, ready ? 200 : 503, j);
    json_decref(j);
}

/* build/dashboard_html.c, made from agent/dashboard.html by cmake/embed.cmake */
extern const unsigned char bm_dashboard_html[];
extern const size_t bm_dashboard_html_len;

static void serve_dashboard(bm_http *h, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        send_error(h, req, 500, "out of memory");
        return;
    }
    evbuffer_add_reference(b, bm_dashboard_html, bm_dashboard_html_len, NULL, NULL);
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Content-Type", "text/html; charset=utf-8");
    /* nothing but this origin: the page is self-contained */
    evhttp_add_header(hd, "Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                      "connect-src 'self'; img-src 'self'");
    evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
    count(h, 200);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* The decoded path component after `prefix`, or NULL (caller frees). */
static char *path_tail(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/')) return NULL;
    return evhttp_uridecode(path + n, 0, NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    bm_http *h = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *uri_s = evhttp_request_get_uri(req);
    if (!uri_s || strlen(uri_s) > HTTP_MAX_URI_BYTES) {
        send_error(h, req, 400, "request URI too long");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path) {
        send_error(h, req, 400, "malformed request URI");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        send_error(h, req, 405, "method not allowed: use GET or HEAD");
        return;
    }
    /* ?window=: the only parameter (others are ignored); 1m|5m|1h for the
     * rollup routes, any "<n>s|m|h|d" from 10 s to 7 d for /api/system */
    const char *window = "5m";
    char window_buf[16] = "1h";
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    const char *query = evhttp_uri_get_query(uri);
    if (query && evhttp_parse_query_str(query, &q)) {
        send_error(h, req, 400, "malformed query string");
        return;
    }
    const char *wv = evhttp_find_header(&q, "window");
    int64_t sys_window_us = 3600LL * 1000000;
    if (!strcmp(path, "/api/system")) {
        if (wv && (strlen(wv) >= sizeof window_buf || bm_sys_parse_window(wv, &sys_window_us))) {
            evhttp_clear_headers(&q);
            send_error(h, req, 400, "window must be a duration like 10m, 1h or 24h (10s to 7d)");
            return;
        }
        if (wv) snprintf(window_buf, sizeof window_buf, "%s", wv);
    } else if (wv) {
        if (!strcmp(wv, "1m") || !strcmp(wv, "5m") || !strcmp(wv, "1h")) {
            window = !strcmp(wv, "1m") ? "1m" : !strcmp(wv, "5m") ? "5m" : "1h";
        } else {
            evhttp_clear_headers(&q);
            send_error(h, req, 400, "window must be 1m, 5m or 1h");
            return;
        }
    }
    evhttp_clear_headers(&q);

    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        serve_dashboard(h, req);
        return;
    }
    if (!strcmp(path, "/api/alerts") || !strcmp(path, "/api/system")) {
        json_t *j = !strcmp(path, "/api/alerts")
                        ? bm_alerting_api_json(h->a->alerting, ALERTS_HISTORY)
                    : h->a->sysmon ? bm_sysmon_window_json(h->a->sysmon, window_buf, sys_window_us)
                                   : NULL;
        if (j)
            send_json(h, req, 200, j);
        else
            send_error(h, req, 500, "out of memory");
        json_decref(j);
        return;
    }
    if (!strcmp(path, "/metrics")) {
        serve_metrics(h, req);
        return;
    }
    if (!strcmp(path, "/health")) {
        json_t *j = json_pack("{s:s}", "status", "ok");
        send_json(h, req, 200, j);
        json_decref(j);
        return;
    }
    if (!strcmp(path, "/ready")) {
        serve_ready(h, req);
        return;
    }
    char *tx = path_tail(path, "/api/traces/");
    if (tx) {
        const trace *t = trace_store_get(h->a->store, tx);
        json_t *j = t ? bm_trace_json(t) : NULL;
        if (t && j)
            send_json(h, req, 200, j);
        else if (t)
            send_error(h, req, 500, "out of memory");
        else
            send_error(h, req, 404, "no such transaction in memory (try `busmon trace TX`)");
        json_decref(j);
        free(tx);
        return;
    }
    char *name = path_tail(path, "/api/workers/");
    int is_api = !strcmp(path, "/api/stats") || !strcmp(path, "/api/workers") ||
                 !strcmp(path, "/api/errors") || name;
    if (!is_api) {
        send_error(h, req, 404, "no such path");
        return;
    }
    json_t *roll = fresh_rollup(h->a);
    if (!roll) {
        free(name);
        send_error(h, req, 500, "out of memory");
        return;
    }
    json_t *out;
    if (name)
        out = api_worker(roll, window, name);
    else if (!strcmp(path, "/api/stats"))
        out = api_stats(roll, window);
    else if (!strcmp(path, "/api/workers"))
        out = api_workers(roll, window);
    else
        out = api_errors(roll, window);
    if (out)
        send_json(h, req, 200, out);
    else
        send_error(h, req, 404, "no such worker");
    json_decref(out);
    json_decref(roll);
    free(name);
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

bm_http *bm_http_new(bm_agent *a, const char *listen, char *err, size_t errlen)
{
    char host[256];
    unsigned short port;
    if (split_listen(listen, host, sizeof host, &port)) {
        snprintf(err, errlen, "http.listen must be host:port like 127.0.0.1:9464, not '%s'",
                 listen);
        return NULL;
    }
    bm_http *h = calloc(1, sizeof *h);
    if (!h || !(h->http = evhttp_new(a->base))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->a = a;
    evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(h->http, HTTP_MAX_BODY_BYTES);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    /* every method reaches on_request, which answers 405 as JSON */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    errno = 0;
    if (!evhttp_bind_socket_with_handle(h->http, host, port)) {
        snprintf(err, errlen, "cannot listen for HTTP on %s: %s", listen,
                 errno ? strerror(errno) : "bad address");
        bm_http_free(h);
        return NULL;
    }
    bm_info("HTTP on http://%s/ (/metrics, /health, /ready, /api/...)", listen);
    return h;
}

void bm_http_free(bm_http *h)
{
    if (!h) return;
    if (h->http) evhttp_free(h->http);
    free(h);
}

void bm_http_get_stats(const bm_http *h, bm_http_stats *out)
{
    if (h)
        *out = h->stats;
    else
        memset(out, 0, sizeof *out);
}
