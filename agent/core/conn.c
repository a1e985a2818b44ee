/*
 * conn.c - one asynchronous Redis connection and its life (conn.h).
 *
 * A host name is looked up with libevent's evdns, never by hiredis: its
 * redisAsyncConnect calls getaddrinfo inside the call, which would hold the
 * whole loop (HTTP, timers) for as long as the resolver takes. hiredis gets
 * the numeric addresses, one after the other.
 */
#include "agent/core/conn.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/core/acl.h"
#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/writer.h"

#define ADDRS_MAX 8
#define ADDR_LEN  64 /* an IPv6 address as text, with room */

/* One evdns look-up. Heap-held until evdns calls back, which it does even
 * after a cancel (deferred), so the conn may have let go of it by then. */
typedef struct lookup {
    bm_conn *c;
    int cancelled; /* the conn no longer wants the answer */
    struct lookup *next;
} lookup;

struct bm_conn {
    struct event_base *base;
    const bm_redis_url *url;
    const char *role;
    bm_conn_state_cb on_state;
    void *arg;
    redisAsyncContext *ctx; /* NULL: none */
    int up;
    int reported_down; /* on_state(0) told for this ctx */
    /* the host name's look-up (none for a Unix socket or a numeric host) */
    struct evdns_base *dns;                /* made at the first look-up */
    lookup *lookups;                       /* every look-up evdns has not called back for yet */
    lookup *current;                       /* the one wanted (in lookups), NULL: none */
    struct evdns_getaddrinfo_request *gai; /* current's request, NULL: answered */
    struct event *ev_dns_timeout, *ev_step;
    int resolving;   /* between open and the answer (or its failure) */
    int resolve_err; /* the answer's error (EVUTIL_EAI_*), or -1: timed out */
    char addrs[ADDRS_MAX][ADDR_LEN];
    int n_addrs, next_addr; /* the answer's addresses; the next one to try */
    uint64_t resolve_failures;
    char lost_why[128]; /* hiredis' error when the last connection was lost ("": none) */
};

static void report_down(bm_conn *c)
{
    if (c->reported_down) return;
    c->reported_down = 1;
    c->up = 0;
    if (c->on_state) c->on_state(c, 0, c->arg);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    (void)ac;
    bm_conn *c = arg;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        bm_error("redis %s refused the %s connection's set-up: %s", c->url->display, c->role,
                 r->str);
        report_down(c); /* the owner resets it, outside this callback */
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    bm_conn *c = ac->data;
    if (!c || ac != c->ctx) return; /* let go of on purpose */
    if (status != REDIS_OK) {
        c->ctx = NULL; /* hiredis frees it after this callback */
        if (c->next_addr > 0 && c->next_addr < c->n_addrs) {
            bm_warn("cannot connect to Redis at %s (%s) on %s: %s; trying %s", c->url->display,
                    c->role, c->addrs[c->next_addr - 1], ac->errstr, c->addrs[c->next_addr]);
            event_active(c->ev_step, 0, 0); /* the next address, outside this callback */
            return;
        }
        bm_error("cannot connect to Redis at %s (%s): %s", c->url->display, c->role, ac->errstr);
        report_down(c);
        return;
    }
    c->up = 1;
    /* a peer gone without a reset (a host down, a cable pulled) is noticed
     * by the kernel's probes within a minute, not when the writer's unacked
     * data times out, or never for a reader blocked in XREADGROUP */
    if (!c->url->path[0]) redisEnableKeepAlive((redisContext *)&ac->c);
    if (c->on_state) c->on_state(c, 1, c->arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bm_conn *c = ac->data;
    if (!c || ac != c->ctx) return; /* let go of on purpose */
    c->ctx = NULL; /* hiredis frees it after this callback */
    snprintf(c->lost_why, sizeof c->lost_why, "%s", status != REDIS_OK ? ac->errstr : "");
    /* hiredis closes a subscriber whose PSUBSCRIBE Redis refuses: a denial is
     * the owner's to tell (the ACL tracker says it once, with its fix) */
    if (status != REDIS_OK && !bm_acl_is_denial(ac->errstr))
        bm_error("lost the %s connection to Redis at %s: %s", c->role, c->url->display,
                 ac->errstr);
    report_down(c);
}

/* Start a hiredis connection to `host` (numeric, or empty for the URL's
 * socket): hiredis looks nothing up. @return 0, or -1 (logged). */
static int connect_to(bm_conn *c, const char *host)
{
    const bm_redis_url *u = c->url;
    redisAsyncContext *ac =
        u->path[0] ? redisAsyncConnectUnix(u->path) : redisAsyncConnect(host, u->port);
    if (!ac || ac->err) {
        bm_error("cannot connect to Redis at %s (%s)%s%s: %s", u->display, c->role,
                 c->n_addrs ? " on " : "", c->n_addrs ? host : "",
                 ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return -1;
    }
    ac->data = c;
    c->ctx = ac;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    bm_writer_handshake(ac, on_setup_reply, c, u->user, u->password, u->db);
    return 0;
}

/* 1 when the URL's host needs no look-up: a Unix socket or a numeric address. */
static int host_is_numeric(const bm_redis_url *u)
{
    struct in6_addr a6;
    struct in_addr a4;
    return u->path[0] || evutil_inet_pton(AF_INET, u->host, &a4) == 1 ||
           evutil_inet_pton(AF_INET6, u->host, &a6) == 1;
}

/* After a look-up's answer, or a connect refused with addresses left:
 * connect to the next address, or say the look-up failed and report down
 * (the owner backs off and opens again, which looks the name up again). */
static void on_step(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_conn *c = arg;
    if (c->ctx || c->reported_down) return;
    if (c->resolving) {
        c->resolving = 0;
        if (!c->n_addrs) {
            c->resolve_failures++;
            if (c->resolve_err == -1)
                bm_error("cannot resolve the Redis host %s (%s): no answer within %d ms; "
                         "retrying with backoff",
                         c->url->host, c->role, BM_CONN_RESOLVE_TIMEOUT_MS);
            else
                bm_error("cannot resolve the Redis host %s (%s): %s; retrying with backoff",
                         c->url->host, c->role, evutil_gai_strerror(c->resolve_err));
            report_down(c);
            return;
        }
    }
    while (c->next_addr < c->n_addrs) {
        if (!connect_to(c, c->addrs[c->next_addr++])) return;
    }
    report_down(c);
}

static void lookup_unlink(bm_conn *c, lookup *l)
{
    for (lookup **p = &c->lookups; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            return;
        }
}

/* evdns' answer (possibly from inside evdns_getaddrinfo, for a name in the
 * hosts file; deferred after a cancel). The next step runs from ev_step. */
static void on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
    lookup *l = arg;
    bm_conn *c = l->c;
    if (c) lookup_unlink(c, l);
    if (c && !l->cancelled && l == c->current) {
        c->current = NULL;
        c->gai = NULL;
        evtimer_del(c->ev_dns_timeout);
        c->resolve_err = err;
        c->n_addrs = c->next_addr = 0;
        for (struct evutil_addrinfo *ai = err ? NULL : res; ai && c->n_addrs < ADDRS_MAX;
             ai = ai->ai_next) {
            const void *a = ai->ai_family == AF_INET6
                                ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
            if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                evutil_inet_ntop(ai->ai_family, a, c->addrs[c->n_addrs], ADDR_LEN))
                c->n_addrs++;
        }
        if (!err && !c->n_addrs) c->resolve_err = EVUTIL_EAI_NODATA;
        event_active(c->ev_step, 0, 0);
    }
    if (res) evutil_freeaddrinfo(res);
    free(l);
}

/* Let go of the wanted look-up: evdns calls back later, to nobody. */
static void cancel_lookup(bm_conn *c)
{
    lookup *l = c->current;
    if (!l) return;
    c->current = NULL;
    l->cancelled = 1;
    struct evdns_getaddrinfo_request *req = c->gai;
    c->gai = NULL;
    if (req) evdns_getaddrinfo_cancel(req);
}

static void on_dns_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_conn *c = arg;
    if (!c->current) return;
    cancel_lookup(c);
    c->resolve_err = -1;
    c->n_addrs = c->next_addr = 0;
    event_active(c->ev_step, 0, 0);
}

/* The resolver: the system's resolv.conf and hosts file (as glibc reads
 * them: nameservers, search, options timeout/attempts/ndots), or, without a
 * resolv.conf, a name server on 127.0.0.1 as glibc assumes. Tests name
 * other files (BUSMON_TEST_RESOLV_CONF, BUSMON_TEST_HOSTS). */
static struct evdns_base *make_resolver(struct event_base *base)
{
    struct evdns_base *dns = evdns_base_new(base, 0);
    if (!dns) return NULL;
    const char *conf = getenv("BUSMON_TEST_RESOLV_CONF");
    if (!conf || !*conf) conf = "/etc/resolv.conf";
    int rc = evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL, conf);
    if (!evdns_base_count_nameservers(dns)) /* unreadable: evdns would wait for ever */
        evdns_base_nameserver_ip_add(dns, "127.0.0.1");
    if (rc)
        bm_debug("%s: missing, unreadable or without a name server (%d): asking 127.0.0.1", conf,
                 rc);
    /* one of A and AAAA answered: wait for the other past its first resend
     * (5 s), not evdns' 3 s, so one lost query does not fail the look-up */
    evdns_base_set_option(dns, "getaddrinfo-allow-skew:", "6");
    /* queries in the name's own case: evdns mixes it by default (0x20), and
     * servers that match names by case (podman's aardvark-dns) answer such a
     * query NXDOMAIN, so 'redis' in compose was never found */
    evdns_base_set_option(dns, "randomize-case:", "0");
    const char *hosts = getenv("BUSMON_TEST_HOSTS");
    if (hosts && *hosts) evdns_base_load_hosts(dns, hosts);
    return dns;
}

/* Look the URL's host up. @return 0 (the answer comes through ev_step), or -1 (logged). */
static int start_lookup(bm_conn *c)
{
    if (!c->dns && !(c->dns = make_resolver(c->base))) {
        bm_error("cannot resolve the Redis host %s (%s): no resolver (out of memory?)",
                 c->url->host, c->role);
        return -1;
    }
    lookup *l = calloc(1, sizeof *l);
    if (!l) return -1;
    l->c = c;
    l->next = c->lookups;
    c->lookups = l;
    c->current = l;
    c->resolving = 1;
    c->n_addrs = c->next_addr = 0;
    struct timeval tv = bm_tv_from_us(BM_CONN_RESOLVE_TIMEOUT_MS * 1000LL);
    evtimer_add(c->ev_dns_timeout, &tv);
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(c->dns, c->url->host, NULL, &hints, on_resolved, l);
    if (c->current == l) c->gai = req; /* else answered already (hosts file) */
    return 0;
}

bm_conn *bm_conn_new(struct event_base *base, const bm_redis_url *url, const char *role,
                     bm_conn_state_cb on_state, void *arg)
{
    bm_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base = base;
    c->url = url;
    c->role = role;
    c->on_state = on_state;
    c->arg = arg;
    c->ev_dns_timeout = evtimer_new(base, on_dns_timeout, c);
    c->ev_step = event_new(base, -1, 0, on_step, c);
    if (!c->ev_dns_timeout || !c->ev_step) {
        bm_conn_free(c);
        return NULL;
    }
    return c;
}

void bm_conn_free(bm_conn *c)
{
    if (!c) return;
    bm_conn_drop(c);
    /* evdns calls a cancelled look-up back from the loop (deferred): let it,
     * so nothing of it is left when the loop's base goes */
    for (int pass = 0; c->lookups && pass < 4; pass++)
        event_base_loop(c->base, EVLOOP_NONBLOCK);
    for (lookup *l = c->lookups; l; l = l->next)
        l->c = NULL; /* not called back still: never touches this conn */
    if (c->dns) evdns_base_free(c->dns, 0);
    if (c->ev_dns_timeout) event_free(c->ev_dns_timeout);
    if (c->ev_step) event_free(c->ev_step);
    free(c);
}

int bm_conn_open(bm_conn *c)
{
    if (c->ctx || c->resolving) return 0;
    c->up = 0;
    c->reported_down = 0;
    c->lost_why[0] = '\0';
    c->n_addrs = c->next_addr = 0;
    if (host_is_numeric(c->url)) return connect_to(c, c->url->host);
    return start_lookup(c);
}

void bm_conn_drop(bm_conn *c)
{
    if (!c) return;
    cancel_lookup(c);
    c->resolving = 0;
    if (c->ev_dns_timeout) evtimer_del(c->ev_dns_timeout);
    if (c->ev_step) event_del(c->ev_step);
    c->up = 0;
    c->reported_down = 1;
    if (!c->ctx) return;
    redisAsyncContext *ac = c->ctx;
    c->ctx = NULL; /* its callbacks, run by the free, see nothing left to use */
    ac->data = NULL;
    redisAsyncFree(ac);
}

void bm_conn_close_when_idle(bm_conn *c)
{
    if (c->ctx) redisAsyncDisconnect(c->ctx);
}

redisAsyncContext *bm_conn_ctx(const bm_conn *c)
{
    return c && c->up ? c->ctx : NULL;
}

int bm_conn_is_up(const bm_conn *c)
{
    return c && c->up && c->ctx;
}

uint64_t bm_conn_resolve_failures(const bm_conn *c)
{
    return c ? c->resolve_failures : 0;
}

const char *bm_conn_lost_reason(const bm_conn *c)
{
    return c ? c->lost_why : "";
}
