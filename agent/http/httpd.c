/*
 * httpd.c - HTTP connections from accept to close (httpd.h has the picture
 * and why evhttp is not used for this).
 *
 * A connection lives in one list in accept order, so "the oldest one still
 * reading its request" is the first such in the list. Its states:
 *
 *   READING ──head+body in──▶ WRITING ──written──▶ LINGER ──EOF / 1 s──▶ closed
 *      │ deadline: 408           │ deadline: closed
 *      └─ bad / too large: the error answer, then WRITING
 *
 * A request with "Expect: 100-continue" goes to WRITING without its body
 * (its client waits for the answer before sending it; no route reads one).
 *
 * LINGER: after the answer the socket is shut for writing and what the
 * client still sends is read and dropped until it closes (at most a
 * second), so a client whose request was refused before its body was read
 * still gets the answer rather than a reset.
 *
 * Each connection has one timer: the header deadline while reading, the
 * write deadline while writing, the linger while lingering. Accept errors
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM: nothing to accept with) pause the
 * listener for a back-off (50 ms doubling to 2 s) rather than letting a
 * level-triggered listener spin; the first error of a burst is logged, and
 * the first accept two seconds or more after its last error ends it, saying
 * how many there were (accepts in between, on descriptors an eviction gave
 * back, do not end it: one burst, two lines).
 */
#include "agent/http/httpd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/http/request.h"

#define LINGER_US       (1000 * 1000LL)
#define PAUSE_MIN_US    (50 * 1000LL)
#define PAUSE_MAX_US    (2000 * 1000LL)
#define BURST_QUIET_US  (2000 * 1000LL) /* a burst ends with an accept this long after its last error */
#define REQ_HEADERS_MAX 16 /* header copies a handler may ask for */
#define BACKLOG         1024 /* connections the kernel holds before accept (capped by somaxconn) */

typedef enum { C_READING, C_WRITING, C_LINGER } conn_state;

typedef struct conn {
    bm_httpd *h;
    struct bufferevent *bev;
    struct event *timer;
    conn_state state;
    struct conn *prev, *next;
} conn;

struct bm_httpd {
    struct event_base *base;
    bm_httpd_opts o;
    bm_httpd_handler handler;
    void *arg;
    struct evconnlistener *lev;
    struct event *resume;
    int64_t pause_us;
    int burst_open;         /* a burst of accept errors was logged, its end not yet */
    uint64_t burst_errors;  /* accept errors in it */
    int64_t last_error_us;  /* the last one (monotonic) */
    conn *first, *last;
    bm_httpd_stats stats;
};

struct bm_http_req {
    conn *c;
    const bm_http_head *head;
    char method[17];
    char *target;
    char *copies[REQ_HEADERS_MAX];
    size_t n_copies;
    struct evbuffer *headers; /* the answer's, "Name: value\r\n" each */
    int answered;
};

/* ---- connections ---------------------------------------------------------------- */

static void conn_free(conn *c)
{
    bm_httpd *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->last = c->prev;
    if (c->timer) event_free(c->timer);
    if (c->bev) {
        /* libevent defers a freed bufferevent's close to the end of the loop's turn:
         * a burst of evictions in one accept loop would hold every socket until
         * then (EMFILE). The socket is closed here, now. */
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        bufferevent_setfd(c->bev, -1);
        if (fd >= 0) evutil_closesocket(fd);
        bufferevent_free(c->bev);
    }
    h->stats.open--;
    free(c);
}

static void arm(conn *c, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_del(c->timer);
    evtimer_add(c->timer, &tv);
}

static void count_reply(bm_httpd *h, int code)
{
    if (h->o.replies) h->o.replies[code < 400 ? 0 : code < 500 ? 1 : 2]++;
}

/* The answer is on its way: bound its writing. */
static void start_writing(conn *c)
{
    c->state = C_WRITING;
    bufferevent_disable(c->bev, EV_READ);
    arm(c, c->h->o.write_timeout_us);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) bufferevent_trigger(c->bev, EV_WRITE, 0);
}

/* A JSON error answer from the connection layer itself (before routing). */
static void answer_error(conn *c, int code, const char *reason, const char *msg)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\": \"%s\", \"status\": %d}\n", msg, code);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                        code, reason, n, body);
    count_reply(c->h, code);
    start_writing(c);
}

static void dispatch(conn *c, const bm_http_head *head, size_t used)
{
    bm_httpd *h = c->h;
    bm_http_req r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.head = head;
    snprintf(r.method, sizeof r.method, "%.*s", (int)head->method_len, head->method);
    r.target = strndup(head->target, head->target_len);
    r.headers = evbuffer_new();
    c->state = C_WRITING; /* whatever the handler does, nothing more is read */
    bufferevent_disable(c->bev, EV_READ);
    if (!r.target || !r.headers)
        bm_http_reply(&r, 500, "Internal Server Error", NULL);
    else
        h->handler(&r, h->arg);
    if (!r.answered) bm_http_reply(&r, 500, "Internal Server Error", NULL);
    evbuffer_drain(bufferevent_get_input(c->bev), used);
    free(r.target);
    for (size_t i = 0; i < r.n_copies; i++)
        free(r.copies[i]);
    if (r.headers) evbuffer_free(r.headers);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    bm_httpd *h = c->h;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (c->state != C_READING) {
        evbuffer_drain(in, len); /* lingering: what still comes is dropped */
        return;
    }
    size_t look = len < h->o.max_head_bytes ? len : h->o.max_head_bytes;
    const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
    bm_http_head head;
    switch (bm_http_head_parse(data, look, h->o.max_head_bytes, &head)) {
    case BM_HTTP_HEAD_MORE: return;
    case BM_HTTP_HEAD_BAD:
        h->stats.bad_requests++;
        answer_error(c, 400, "Bad Request", "malformed request");
        return;
    case BM_HTTP_HEAD_TOO_LARGE:
        h->stats.bad_requests++;
        answer_error(c, 431, "Request Header Fields Too Large", "request head too large");
        return;
    case BM_HTTP_HEAD_VERSION:
        h->stats.bad_requests++;
        answer_error(c, 505, "HTTP Version Not Supported", "HTTP/1.0 or HTTP/1.1 only");
        return;
    case BM_HTTP_HEAD_OK: break;
    }
    if (head.chunked) {
        h->stats.bad_requests++;
        answer_error(c, 411, "Length Required", "a body needs a Content-Length");
        return;
    }
    if (head.content_length > (int64_t)h->o.max_body_bytes) {
        h->stats.bad_requests++;
        answer_error(c, 413, "Payload Too Large", "request body too large");
        return;
    }
    size_t need = head.head_len + (size_t)(head.content_length > 0 ? head.content_length : 0);
    if (len < need) {
        /* The body is on its way (the deadline holds). But a client that sent
         * "Expect: 100-continue" waits for a 100 or the answer before sending
         * it: no route reads a body, so it gets the answer now (its body is
         * dropped while lingering), not a 408 at the deadline. */
        size_t n;
        const char *expect = bm_http_head_get(&head, "Expect", &n);
        if (!expect || n != 12 || strncasecmp(expect, "100-continue", 12)) return;
        need = len;
    }
    dispatch(c, &head, need);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->state != C_WRITING || evbuffer_get_length(bufferevent_get_output(bev))) return;
    c->state = C_LINGER;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    bufferevent_enable(bev, EV_READ);
    arm(c, LINGER_US);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) conn_free(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    switch (c->state) {
    case C_READING:
        c->h->stats.timeouts++;
        answer_error(c, 408, "Request Timeout", "request not received within http.header_timeout");
        return;
    case C_WRITING: c->h->stats.write_timeouts++; /* fall through */
    case C_LINGER: conn_free(c); return;
    }
}

/* ---- accepting -------------------------------------------------------------------- */

/* The oldest connection still reading its request, or NULL. */
static conn *oldest_reading(const bm_httpd *h)
{
    for (conn *c = h->first; c; c = c->next)
        if (c->state == C_READING) return c;
    return NULL;
}

static void refuse(bm_httpd *h, evutil_socket_t fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                               "application/json\r\nContent-Length: 60\r\nConnection: close\r\n\r\n"
                               "{\"error\": \"too many connections, try again\", \"status\": 503}";
    ssize_t n = send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n; /* best effort: the socket closes either way */
    evutil_closesocket(fd);
    h->stats.refused++;
    count_reply(h, 503);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)lev;
    (void)sa;
    (void)len;
    bm_httpd *h = arg;
    if (h->burst_open && bm_mono_us() - h->last_error_us >= BURST_QUIET_US) {
        bm_info("HTTP: accepting connections again (%llu accept error(s) in the burst)",
                (unsigned long long)h->burst_errors);
        h->burst_open = 0;
        h->pause_us = PAUSE_MIN_US;
    }
    if (h->stats.open >= h->stats.bound) {
        conn *old = oldest_reading(h);
        if (!old) {
            refuse(h, fd);
            return;
        }
        h->stats.evicted++;
        conn_free(old); /* a slow sender makes way for a new request */
    }
    conn *c = calloc(1, sizeof *c);
    if (c) {
        c->h = h;
        c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
        c->timer = c->bev ? evtimer_new(h->base, on_timer, c) : NULL;
    }
    if (!c || !c->bev || !c->timer) {
        if (c && c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c && c->timer) event_free(c->timer);
        free(c);
        h->stats.refused++;
        return;
    }
    c->state = C_READING;
    c->prev = h->last;
    if (h->last)
        h->last->next = c;
    else
        h->first = c;
    h->last = c;
    h->stats.open++;
    h->stats.accepted++;
    /* reading stops at the bound (on_read then refuses the request as too large) */
    bufferevent_setwatermark(c->bev, EV_READ, 0, h->o.max_head_bytes + h->o.max_body_bytes + 1);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ);
    arm(c, h->o.header_timeout_us);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_httpd *h = arg;
    evconnlistener_enable(h->lev);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    bm_httpd *h = arg;
    int err = EVUTIL_SOCKET_ERROR();
    h->stats.accept_errors++;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) return; /* transient */
    h->last_error_us = bm_mono_us();
    if (!h->burst_open) {
        bm_warn("HTTP: cannot accept connections: %s (%llu HTTP connection(s) open, bound %llu); "
                "accepting paused, retried with a back-off up to %lld ms; said once per burst",
                strerror(err), (unsigned long long)h->stats.open,
                (unsigned long long)h->stats.bound, (long long)(PAUSE_MAX_US / 1000));
        h->burst_open = 1;
        h->burst_errors = 0;
    }
    h->burst_errors++;
    h->stats.accept_pauses++;
    /* out of descriptors: the oldest slow sender gives its own back */
    conn *old = oldest_reading(h);
    if (old) {
        h->stats.evicted++;
        conn_free(old);
    }
    evconnlistener_disable(lev);
    struct timeval tv = {(time_t)(h->pause_us / 1000000), (suseconds_t)(h->pause_us % 1000000)};
    evtimer_add(h->resume, &tv);
    h->pause_us = h->pause_us * 2 < PAUSE_MAX_US ? h->pause_us * 2 : PAUSE_MAX_US;
}

/* The bound in force: max_connections, or less under a lower fd limit. */
static uint64_t connection_bound(int max_connections)
{
    uint64_t bound = max_connections > 0 ? (uint64_t)max_connections : 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t room = rl.rlim_cur > 2 * BM_HTTPD_FD_RESERVE ? rl.rlim_cur - BM_HTTPD_FD_RESERVE
                                                              : rl.rlim_cur / 2;
        if (room < 1) room = 1;
        if (room < bound) {
            bm_warn("HTTP: at most %llu connections, not http.max_connections %d: the fd limit is "
                    "%llu and %d are kept for Redis, logs and webhooks",
                    (unsigned long long)room, max_connections, (unsigned long long)rl.rlim_cur,
                    BM_HTTPD_FD_RESERVE);
            bound = room;
        }
    }
    return bound;
}

bm_httpd *bm_httpd_new(struct event_base *base, const char *host, const char *port,
                       const bm_httpd_opts *o, bm_httpd_handler handler, void *arg, char *err,
                       size_t errlen)
{
    bm_httpd *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), NULL;
    h->base = base;
    h->o = *o;
    h->handler = handler;
    h->arg = arg;
    h->pause_us = PAUSE_MIN_US;
    h->resume = evtimer_new(base, on_resume, h);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%s: %s", host, port,
                 gai_strerror(gai));
        bm_httpd_free(h);
        return NULL;
    }
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai && !h->lev; ai = ai->ai_next) {
        errno = 0;
        h->lev = evconnlistener_new_bind(base, on_accept, h,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                             LEV_OPT_CLOSE_ON_EXEC,
                                         BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
        if (!h->lev) last_errno = errno;
    }
    freeaddrinfo(res);
    if (!h->lev || !h->resume) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%s: %s", host, port,
                 last_errno ? strerror(last_errno) : "out of memory");
        bm_httpd_free(h);
        return NULL;
    }
    evconnlistener_set_error_cb(h->lev, on_accept_error);
    h->stats.bound = connection_bound(o->max_connections);
    return h;
}

void bm_httpd_free(bm_httpd *h)
{
    if (!h) return;
    while (h->first)
        conn_free(h->first);
    if (h->lev) evconnlistener_free(h->lev);
    if (h->resume) event_free(h->resume);
    free(h);
}

void bm_httpd_get_stats(const bm_httpd *h, bm_httpd_stats *out)
{
    if (h)
        *out = h->stats;
    else
        memset(out, 0, sizeof *out);
}

/* ---- the request ---------------------------------------------------------------- */

const char *bm_http_req_method(const bm_http_req *r)
{
    return r->method;
}

const char *bm_http_req_target(const bm_http_req *r)
{
    return r->target;
}

const char *bm_http_req_header(const bm_http_req *r, const char *name)
{
    size_t len;
    const char *v = bm_http_head_get(r->head, name, &len);
    if (!v || r->n_copies == REQ_HEADERS_MAX) return NULL;
    char *copy = strndup(v, len);
    if (!copy) return NULL;
    ((bm_http_req *)r)->copies[((bm_http_req *)r)->n_copies++] = copy;
    return copy;
}

int bm_http_req_add_header(bm_http_req *r, const char *name, const char *value)
{
    if (!r->headers || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return -1;
    return evbuffer_add_printf(r->headers, "%s: %s\r\n", name, value) < 0 ? -1 : 0;
}

void bm_http_reply(bm_http_req *r, int code, const char *reason, struct evbuffer *body)
{
    if (r->answered) return;
    r->answered = 1;
    conn *c = r->c;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t n = body ? evbuffer_get_length(body) : 0;
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", code, reason ? reason : (code < 400 ? "OK" : "Error"));
    if (r->headers) evbuffer_add_buffer(out, r->headers);
    evbuffer_add_printf(out, "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
    if (body && strcmp(r->method, "HEAD"))
        evbuffer_add_buffer(out, body);
    else if (body)
        evbuffer_drain(body, n);
    count_reply(c->h, code);
    start_writing(c);
}
