/*
 * webhook_receiver.c - a tiny HTTP receiver for the webhook tests: listens
 * on 127.0.0.1 only, and appends each request it gets as one JSON line
 *
 *   {"n":1,"t_ms":12,"method":"POST","path":"/hook","content_type":"application/json",
 *    "headers":{...},"body":"...","status":200}
 *
 * to --out (n counts from 1, t_ms since start, status = what it answers).
 * Modes: answer 200; answer --fail-status (500) to the first --fail-first N
 * requests (with Retry-After: S when --retry-after S, S sent as given: seconds, an
 * HTTP-date or any text; with Location: URL when --location URL); answer only after --delay-ms D;
 * with --body-mode cut: the answer (200, or the failure's status) announcing
 * 100 bytes, then 2 and the connection closed; --body-mode stuck: announcing
 * 1e9 bytes, 200 sent, then silence; --body-mode trickle: no length
 * (chunked), 200 bytes, then silence (a body that never arrives whole); --reply-file F: every
 * answer's body is F's bytes (read at start), of type --reply-type (application/json) (an OTLP
 * collector's partial success, or its reason for a failure). It exits by itself after
 * --max-seconds (default 30), or on SIGTERM / SIGINT, so a test can never
 * leave it behind. Not a general server: no TLS, no keep-alive tuning.
 *
 *   bm-webhook-receiver --out FILE [--port P | --port 0] [--port-file F]
 *                       [--fail-first N] [--fail-status CODE] [--retry-after S] [--location URL]
 *                       [--delay-ms D]
 *                       [--body-mode cut|stuck|trickle] [--reply-file F [--reply-type CT]]
 *                       [--max-seconds S]
 *
 * With --port 0 (the default) the kernel picks a free port; it is printed
 * on stdout (and written to --port-file) once the socket listens.
 */
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct pending pending;

typedef struct {
    struct event_base *base;
    FILE *out;
    long fail_first;
    int fail_status;
    const char *retry_after; /* set: a failure answer carries Retry-After: this, verbatim */
    const char *location;    /* set: a failure answer carries Location: this (a 3xx's) */
    long delay_ms;
    const char *body_mode; /* NULL, "cut" or "stuck": a 2xx whose body is not whole */
    char *reply;           /* --reply-file's bytes: a 2xx answer's body (NULL: "ok\n") */
    size_t reply_len;
    const char *reply_type;
    long n_requests;
    struct timespec started;
    pending *pending; /* delayed answers not yet sent */
    /* answers never ended (stuck, trickle): ended at exit. libevent 2.1 leaves
     * such a request to us when its client hangs up (it frees it at
     * evhttp_send_reply_end), and frees it with its connection otherwise */
    struct evhttp_request **open;
    size_t n_open, cap_open;
} receiver;

struct pending {
    pending *prev, *next;
    receiver *r;
    struct evhttp_request *req;
    struct event *ev;
    int status;
};

static long since_start_ms(const receiver *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - r->started.tv_sec) * 1000 +
                  (now.tv_nsec - r->started.tv_nsec) / 1000000);
}

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

/* The connection of a "cut" answer, closed once its first bytes are out. */
static void on_cut_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evhttp_connection_free(arg);
}

/* An answer whose body never arrives whole (--body-mode). */
static void answer_partial(receiver *r, struct evhttp_request *req, int status)
{
    int cut = !strcmp(r->body_mode, "cut");
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain");
    if (strcmp(r->body_mode, "trickle"))
        evhttp_add_header(h, "Content-Length", cut ? "100" : "1000000000");
    evhttp_send_reply_start(req, status, status / 100 == 2 ? "OK" : "Test Failure");
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    if (cut)
        evbuffer_add(b, "ok", 2);
    else
        for (int i = 0; i < 20; i++)
            evbuffer_add(b, "0123456789", 10);
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
    if (cut) {
        event_base_once(r->base, -1, EV_TIMEOUT, on_cut_due, evhttp_request_get_connection(req),
                        &(struct timeval){0, 100000});
        return;
    }
    if (r->n_open == r->cap_open) {
        size_t cap = r->cap_open ? 2 * r->cap_open : 16;
        struct evhttp_request **more = realloc(r->open, cap * sizeof *more);
        if (!more) return; /* then only LeakSanitizer minds */
        r->open = more;
        r->cap_open = cap;
    }
    r->open[r->n_open++] = req;
}

static void answer(receiver *r, struct evhttp_request *req, int status)
{
    if (r->body_mode) {
        answer_partial(r, req, status);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    int own = r->reply != NULL;
    if (b && own)
        evbuffer_add(b, r->reply, r->reply_len);
    else if (b)
        evbuffer_add_printf(b, "%s\n", status / 100 == 2 ? "ok" : "failing on purpose");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      own ? r->reply_type : "text/plain");
    if (status / 100 != 2 && r->retry_after)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", r->retry_after);
    if (status / 100 != 2 && r->location)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", r->location);
    evhttp_send_reply(req, status, status / 100 == 2 ? "OK" : "Test Failure", b);
    if (b) evbuffer_free(b);
}

static void pending_unlink(pending *p)
{
    receiver *r = p->r;
    if (p->prev)
        p->prev->next = p->next;
    else
        r->pending = p->next;
    if (p->next) p->next->prev = p->prev;
}

static void on_delay_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pending *p = arg;
    pending_unlink(p);
    /* a client that gave up meanwhile is fine: libevent frees the request then */
    answer(p->r, p->req, p->status);
    event_free(p->ev);
    free(p);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    receiver *r = arg;
    r->n_requests++;
    int status = r->n_requests <= r->fail_first ? r->fail_status : 200;

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    const char *uri = evhttp_request_get_uri(req);

    json_t *line = json_object();
    json_object_set_new(line, "n", json_integer(r->n_requests));
    json_object_set_new(line, "t_ms", json_integer(since_start_ms(r)));
    json_object_set_new(line, "method", json_string(method_name(evhttp_request_get_command(req))));
    json_object_set_new(line, "path", json_string(uri ? uri : ""));
    json_object_set_new(line, "content_type", ct ? json_string(ct) : json_null());
    json_t *headers = json_object();
    struct evkeyvalq *hq = evhttp_request_get_input_headers(req);
    for (struct evkeyval *h = hq->tqh_first; h; h = h->next.tqe_next)
        json_object_set_new(headers, h->key, json_string(h->value));
    json_object_set_new(line, "headers", headers);
    json_t *b = json_stringn(body, len);
    if (b) {
        json_object_set_new(line, "body", b);
    } else {
        json_object_set_new(line, "body_invalid_utf8", json_true());
        json_object_set_new(line, "body_len", json_integer((json_int_t)len));
    }
    json_object_set_new(line, "status", json_integer(status));
    char *text = json_dumps(line, JSON_COMPACT);
    if (text) {
        fprintf(r->out, "%s\n", text);
        fflush(r->out);
        free(text);
    }
    json_decref(line);

    if (r->delay_ms <= 0) {
        answer(r, req, status);
        return;
    }
    pending *p = calloc(1, sizeof *p);
    if (p) p->ev = evtimer_new(r->base, on_delay_over, p);
    if (!p || !p->ev) {
        free(p);
        answer(r, req, 503);
        return;
    }
    p->r = r;
    p->req = req;
    p->status = status;
    p->next = r->pending;
    if (r->pending) r->pending->prev = p;
    r->pending = p;
    struct timeval tv = {r->delay_ms / 1000, (r->delay_ms % 1000) * 1000};
    evtimer_add(p->ev, &tv);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void usage(void)
{
    fprintf(stderr, "usage: bm-webhook-receiver --out FILE [--port P] [--port-file F] "
                    "[--fail-first N] [--fail-status CODE] [--retry-after S] [--location URL] "
                    "[--delay-ms D] "
                    "[--body-mode cut|stuck|trickle] [--reply-file F [--reply-type CT]] "
                    "[--max-seconds S]\n");
}

int main(int argc, char **argv)
{
    receiver r = {.fail_status = 500, .reply_type = "application/json"};
    const char *out_path = NULL, *port_file = NULL, *reply_file = NULL;
    long port = 0, max_seconds = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--out"))
            out_path = v;
        else if (!strcmp(a, "--port-file"))
            port_file = v;
        else if (!strcmp(a, "--port"))
            port = atol(v);
        else if (!strcmp(a, "--fail-first"))
            r.fail_first = atol(v);
        else if (!strcmp(a, "--fail-status"))
            r.fail_status = atoi(v);
        else if (!strcmp(a, "--retry-after"))
            r.retry_after = v;
        else if (!strcmp(a, "--location"))
            r.location = v;
        else if (!strcmp(a, "--delay-ms"))
            r.delay_ms = atol(v);
        else if (!strcmp(a, "--body-mode"))
            r.body_mode = v;
        else if (!strcmp(a, "--reply-file"))
            reply_file = v;
        else if (!strcmp(a, "--reply-type"))
            r.reply_type = v;
        else if (!strcmp(a, "--max-seconds"))
            max_seconds = atol(v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!out_path || port < 0 || port > 65535 || max_seconds <= 0 || r.fail_status < 100 ||
        r.fail_status > 599 ||
        (r.body_mode && strcmp(r.body_mode, "cut") && strcmp(r.body_mode, "stuck") &&
         strcmp(r.body_mode, "trickle"))) {
        usage();
        return 2;
    }
    if (reply_file) {
        FILE *f = fopen(reply_file, "rb");
        static char buf[1 << 20];
        r.reply_len = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (!f || ferror(f)) {
            perror(reply_file);
            return 1;
        }
        fclose(f);
        r.reply = buf;
    }
    signal(SIGPIPE, SIG_IGN);
    clock_gettime(CLOCK_MONOTONIC, &r.started);
    r.out = fopen(out_path, "a");
    if (!r.out) {
        perror(out_path);
        return 1;
    }
    r.base = event_base_new();
    struct evhttp *http = r.base ? evhttp_new(r.base) : NULL;
    if (!http) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    evhttp_set_max_body_size(http, 4 << 20);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    evhttp_set_gencb(http, on_request, &r);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (!bound) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl);
    int real_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

    struct event *ev_max = evtimer_new(r.base, on_stop, r.base);
    struct event *ev_term = evsignal_new(r.base, SIGTERM, on_stop, r.base);
    struct event *ev_int = evsignal_new(r.base, SIGINT, on_stop, r.base);
    struct timeval tv = {max_seconds, 0};
    evtimer_add(ev_max, &tv);
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);

    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", real_port) < 0 || fclose(f) || rename(tmp, port_file)) {
            perror(port_file);
            return 1;
        }
    }
    printf("%d\n", real_port);
    fflush(stdout);

    event_base_dispatch(r.base);

    while (r.pending) {
        pending *p = r.pending;
        pending_unlink(p);
        answer(p->r, p->req, 503);
        event_free(p->ev);
        free(p);
    }
    for (size_t i = 0; i < r.n_open; i++)
        evhttp_send_reply_end(r.open[i]);
    free(r.open);
    evhttp_free(http);
    event_free(ev_max);
    event_free(ev_term);
    event_free(ev_int);
    event_base_free(r.base);
    fclose(r.out);
    return 0;
}
