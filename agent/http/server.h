/*
 * http.h - busmon-agent's HTTP surface on libevent's evhttp, in the agent's
 * own loop: the dashboard page at / (agent/dashboard.html, embedded at build
 * time), /metrics (Prometheus text, agent/metrics_text.c), /health, /ready
 * and the JSON API (/api/stats, /api/workers, /api/workers/NAME, /api/errors,
 * /api/alerts, /api/system, /api/traces/TX) in the shapes of the CLI's --json.
 *
 * Everything is answered from memory in the callback (a fresh rollup of
 * the monitor, the in-memory trace store, the alert engine's firing set and
 * history, the latest system sample and history of sysmon.c): no Redis round
 * trip, so a scrape costs one rollup and never waits.
 */
#ifndef BM_AGENT_HTTP_H
#define BM_AGENT_HTTP_H

#include <stddef.h>

struct bm_agent;
struct evbuffer;
typedef struct bm_http bm_http;

/*
 * Bind `listen` ("host:port", "[v6]:port") on the agent's event base and
 * serve. `a` is borrowed for the server's life.
 * @return the server (free with bm_http_free), or NULL with the reason in err.
 */
bm_http *bm_http_new(struct bm_agent *a, const char *listen, char *err, size_t errlen);
void bm_http_free(bm_http *h);

/* Requests answered, by class (for /metrics). */
typedef struct {
    unsigned long long ok, client_errors, server_errors;
} bm_http_stats;
void bm_http_get_stats(const bm_http *h, bm_http_stats *out);

/*
 * metrics_text.c: append the whole /metrics page (Prometheus text format
 * 0.0.4) for agent `a` (with the latest system sample of a->sysmon) to out.
 * @return 0, or -1 (out of memory).
 */
int bm_metrics_render(struct bm_agent *a, struct evbuffer *out);

#endif
