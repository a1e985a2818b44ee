/*
 * curl_loop.c - libcurl's multi interface on the loop (curl_loop.h). DNS is
 * curl's asynchronous resolver (AsynchDNS in Debian's libcurl).
 */
#include "agent/outputs/curl_loop.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct cl_sock {
    struct cl_sock *prev, *next;
    curl_socket_t fd;
    struct event *ev;
} cl_sock;

/* A socket curl opened and has not closed: its connection cache may keep it
 * past the transfer (an SMTP connection waits there for the next mail). */
typedef struct cl_open_fd {
    struct cl_open_fd *next;
    curl_socket_t fd;
} cl_open_fd;

struct bm_curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;  /* curl's single timeout */
    cl_sock *socks;       /* every socket event made */
    cl_open_fd *open_fds; /* every socket curl opened and has not closed */
    int curl_global;      /* curl_global_init succeeded (balanced in free) */
    bm_curl_done_cb done;
    bm_curl_round_cb round;
    void *arg;
};

static void sock_free(bm_curl_loop *l, cl_sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        l->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    if (s->ev) event_free(s->ev);
    free(s);
}

/* Hand every finished transfer over, then one round. */
static void collect(bm_curl_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURLcode rc = m->data.result; /* m is invalid once the handle is removed */
        l->done(m->easy_handle, rc, l->arg);
    }
    if (l->round) l->round(l->arg);
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
    bm_curl_loop *l = arg;
    int flags = 0, running;
    if (what & EV_READ) flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(l->multi, fd, flags, &running);
    collect(l);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for `what`, or stop watching it. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    bm_curl_loop *l = userp;
    cl_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) sock_free(l, s);
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return -1;
        s->fd = fd;
        s->next = l->socks;
        if (l->socks) l->socks->prev = s;
        l->socks = s;
        curl_multi_assign(l->multi, fd, s);
    }
    short kind = EV_PERSIST;
    if (what & CURL_POLL_IN) kind |= EV_READ;
    if (what & CURL_POLL_OUT) kind |= EV_WRITE;
    if (s->ev) event_free(s->ev);
    s->ev = event_new(l->base, fd, kind, on_socket_ready, l);
    if (!s->ev || event_add(s->ev, NULL) < 0) return -1;
    return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_curl_loop *l = arg;
    int running;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(l);
}

/* CURLMOPT_TIMERFUNCTION: wake it in timeout_ms (-1: never). */
static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    bm_curl_loop *l = userp;
    if (timeout_ms < 0) {
        evtimer_del(l->timer);
        return 0;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    return evtimer_add(l->timer, &tv) < 0 ? -1 : 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: open the socket as curl would, and remember it. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *address)
{
    (void)purpose;
    bm_curl_loop *l = clientp;
    cl_open_fd *o = malloc(sizeof *o);
    if (!o) return CURL_SOCKET_BAD;
    curl_socket_t fd = socket(address->family, address->socktype, address->protocol);
    if (fd == CURL_SOCKET_BAD) {
        free(o);
        return CURL_SOCKET_BAD;
    }
    o->fd = fd;
    o->next = l->open_fds;
    l->open_fds = o;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: forget it, then close it. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    bm_curl_loop *l = clientp;
    for (cl_open_fd **p = &l->open_fds; *p; p = &(*p)->next) {
        if ((*p)->fd != fd) continue;
        cl_open_fd *o = *p;
        *p = o->next;
        free(o);
        break;
    }
    return close(fd);
}

bm_curl_loop *bm_curl_loop_new(struct event_base *base, bm_curl_done_cb done,
                               bm_curl_round_cb round, void *arg)
{
    bm_curl_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base = base;
    l->done = done;
    l->round = round;
    l->arg = arg;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) goto fail;
    l->curl_global = 1;
    l->multi = curl_multi_init();
    l->timer = evtimer_new(base, on_timer, l);
    if (!l->multi || !l->timer) goto fail;
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    return l;
fail:
    bm_curl_loop_free(l);
    return NULL;
}

int bm_curl_loop_add(bm_curl_loop *l, CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, l);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, l);
    return curl_multi_add_handle(l->multi, easy) == CURLM_OK ? 0 : -1;
}

void bm_curl_loop_remove(bm_curl_loop *l, CURL *easy)
{
    curl_multi_remove_handle(l->multi, easy);
}

void bm_curl_loop_free(bm_curl_loop *l)
{
    if (!l) return;
    /* curl_multi_cleanup says goodbye on every cached connection and waits
     * for the answer without the loop (SMTP QUIT: up to 120 s, a server that
     * never answers holds the stop that long). Shut them down first: the
     * goodbye fails at once; curl still closes each (on_close_socket). */
    for (cl_open_fd *o = l->open_fds; o; o = o->next)
        shutdown(o->fd, SHUT_RDWR);
    if (l->multi) curl_multi_cleanup(l->multi); /* may still report sockets it closes */
    /* none expected: cleanup closed them all */
    while (l->open_fds) {
        cl_open_fd *o = l->open_fds;
        l->open_fds = o->next;
        free(o);
    }
    while (l->socks)
        sock_free(l, l->socks);
    if (l->timer) event_free(l->timer);
    if (l->curl_global) curl_global_cleanup();
    free(l);
}
