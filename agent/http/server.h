/*
 * server.h - busmon-agent's HTTP surface (connections: httpd.h), in the
 * agent's own loop: the dashboard page at / (http/dashboard.html, embedded
 * at build time), /metrics (Prometheus text, http/metrics.c), /health,
 * /ready and the JSON API (/api/stats, /api/workers, /api/workers/NAME,
 * /api/errors, /api/alerts, /api/system, /api/traces/TX) in the shapes of
 * the CLI's --json. The routes are one table in server.c.
 *
 * Everything is answered from memory in the callback (a fresh rollup of
 * the monitor, the in-memory trace store, the alert engine's firing set and
 * history, the latest system sample and its history, the counter table):
 * no Redis round trip, so a scrape costs one rollup and never waits.
 */
#ifndef BM_HTTP_SERVER_H
#define BM_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "agent/http/httpd.h"

struct bm_parts_tag;
struct event_base;
typedef struct bm_http bm_http;

typedef struct {
    int64_t rollup_interval_us; /* the rollups' interval, shown in /api answers */
    int ready_max_lag;          /* /ready is 503 above this consumer lag (0: no bound) */
    int max_connections;        /* http.max_connections (httpd.h) */
    int64_t header_timeout_us;  /* http.header_timeout */
    const char *token_file;     /* http.token_file: the bearer token's file (NULL: none) */
    int metrics_off;            /* the guides' metrics_collection.export_prometheus (or
                                   .enabled) false: /metrics answers 404 */
} bm_http_opts;

#define BM_HTTP_TOKEN_MAX 1024 /* http.token_file's first line, its NUL included */
#define BM_HTTP_CLASSES 3 /* answers by class: 2xx (and 3xx), 4xx, 5xx */

/* The HTTP surface's counters (the counter table shows them). */
typedef struct {
    bm_httpd_stats conn;                /* connections: accepted, bound, evicted, timeouts, ... */
    uint64_t unauthorized;              /* requests without the bearer token (401) */
    uint64_t requests[BM_HTTP_CLASSES]; /* every answer by class, those httpd.c refused
                                           before routing included */
} bm_http_stats;

/*
 * Bind `listen` ("host:port", "[v6]:port") on base and serve what `parts`
 * (borrowed, read only; filled in by the caller before the loop runs)
 * shows; every answer is counted in the server's own stats. With
 * o->token_file, its first line is the bearer token every route but
 * /health requires.
 * @return the server (free with bm_http_free), or NULL with the reason in
 * err (a port that cannot be bound, an unreadable token file, a token no
 * client can send) and *bad_config set when the configuration is at fault
 * (the listen address, the token file), so a restart would not help.
 */
/*
 * The bearer token of http.token_file (its first line) into buf, checked
 * that a client can send it (no space at either end, no control character).
 * @return 0, or -1 with the reason in err (buf wiped).
 */
int bm_http_token_read(const char *path, char *buf, size_t len, char *err, size_t errlen);

bm_http *bm_http_new(struct event_base *base, const char *listen, const struct bm_parts_tag *parts,
                     const bm_http_opts *o, int *bad_config, char *err, size_t errlen);
void bm_http_free(bm_http *h);

/* Fill *out (zeros when h is NULL: HTTP off). */
void bm_http_get_stats(const bm_http *h, bm_http_stats *out);

#endif
