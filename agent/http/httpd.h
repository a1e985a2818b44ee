/*
 * httpd.h - the agent's HTTP connections, in its loop: accept, read a
 * request's head and body within a deadline, hand the request to one
 * handler (server.c's route table), write the answer, close.
 *
 *   listen ──accept──▶ at the connection bound? close the oldest connection
 *     ▲  │ EMFILE...     still reading its request (else refuse: 503, close)
 *     │  └─▶ pause accepting (back-off), one log line per burst
 *     │
 *   read head (≤ max_head_bytes) + body (≤ max_body_bytes) ── by the deadline
 *     │ bad: 400 / 413 / 431 / 505        late: 408, closed
 *     ▼
 *   handler(req) ──▶ bm_http_reply ──▶ write (by the write deadline) ──▶ close
 *
 * Why not evhttp. libevent 2.1 (Debian 12's) gives evhttp no connection
 * bound (evhttp_set_max_connections is 2.2), no hook at accept or at close
 * (evhttp_set_newreqcb is 2.2; the bufferevent callback of
 * evhttp_set_bevcb sees neither the socket nor its end), a timeout that is
 * per read (so a client sending a byte every few seconds never times out),
 * and an accept loop that logs every EMFILE and spins: with 400 slow
 * connections and a 256-fd limit it wrote 227 MB of log in 70 s and starved
 * the Redis connections of descriptors. Requests here are small GETs
 * answered from memory, so the whole of HTTP busmon needs is a request
 * head, a bounded body and a response with Connection: close; owning the
 * socket from accept to close makes every bound above exact. libevent's
 * evconnlistener, bufferevents and URI helpers are still used.
 *
 * The connection bound is the smaller of max_connections and the process's
 * file-descriptor limit less a reserve for Redis, the log and webhooks.
 */
#ifndef BM_HTTP_HTTPD_H
#define BM_HTTP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
typedef struct bm_httpd bm_httpd;
typedef struct bm_http_req bm_http_req;

#define BM_HTTPD_FD_RESERVE 64 /* descriptors kept for everything but HTTP */

typedef struct {
    int max_connections;       /* open at once, at most (lowered to the fd limit - reserve) */
    int64_t header_timeout_us; /* head and body must have arrived within this, from accept */
    int64_t write_timeout_us;  /* the answer must be written within this */
    size_t max_head_bytes;     /* request line and header fields */
    size_t max_body_bytes;     /* a Content-Length above it is 413 */
    uint64_t *replies;         /* [3]: every answer counted by class 2xx/3xx, 4xx, 5xx (borrowed) */
} bm_httpd_opts;

typedef struct {
    uint64_t accepted;        /* connections accepted */
    uint64_t open;            /* gauge: open now */
    uint64_t bound;           /* gauge: the connection bound in force */
    uint64_t evicted;         /* closed for a newer one at the bound (still sending their request) */
    uint64_t refused;         /* refused at the bound (503): every one was being answered */
    uint64_t timeouts;        /* request not in by header_timeout (408) */
    uint64_t write_timeouts;  /* answer not taken by write_timeout: closed */
    uint64_t bad_requests;    /* refused before routing: 400, 413, 431, 505 */
    uint64_t accept_errors;   /* accept() failures (EMFILE, ENFILE, ENOBUFS, ...) */
    uint64_t accept_pauses;   /* times accepting was paused after such failures */
} bm_httpd_stats;

/* Called once per request; it must answer with bm_http_reply before it returns. */
typedef void (*bm_httpd_handler)(bm_http_req *req, void *arg);

/*
 * Listen on host:port (a name or an address; the first that binds) in base
 * and serve requests with handler(req, arg). @return the server (free with
 * bm_httpd_free), or NULL with "cannot listen for HTTP on ADDR: reason" in
 * err.
 */
bm_httpd *bm_httpd_new(struct event_base *base, const char *host, const char *port,
                       const bm_httpd_opts *o, bm_httpd_handler handler, void *arg, char *err,
                       size_t errlen);
/* Close every connection and the listener. NULL is a no-op. */
void bm_httpd_free(bm_httpd *h);

void bm_httpd_get_stats(const bm_httpd *h, bm_httpd_stats *out);

/* ---- the request a handler gets (borrowed for the call) ---------------------- */

/* "GET", "HEAD", ... */
const char *bm_http_req_method(const bm_http_req *r);
/* The request target as sent ("/api/workers?window=5m"), NUL-terminated. */
const char *bm_http_req_target(const bm_http_req *r);
/* A header's value, NUL-terminated (case-insensitive name), or NULL. */
const char *bm_http_req_header(const bm_http_req *r, const char *name);

/* Add a header to the answer (before bm_http_reply). @return 0 or -1. */
int bm_http_req_add_header(bm_http_req *r, const char *name, const char *value);

/*
 * Answer: status line, the headers added, Content-Length, Connection: close,
 * then the body (none to a HEAD request; its length still said). body may
 * be NULL (empty); it is drained. Only the first call answers.
 */
void bm_http_reply(bm_http_req *r, int code, const char *reason, struct evbuffer *body);

#endif
