/*
 * pubsub.c - PSUBSCRIBE, decode with the channel's help, apply
 * (pubsub.h has the picture).
 */
#include "agent/inputs/pubsub.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/acl.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/conn.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/writer.h"
#include "agent/state/persist.h"
#include "agent/state/state.h"

#define RECONNECT_MIN_US (250 * 1000LL)
#define RECONNECT_MAX_US (30 * 1000000LL)
#define PATTERNS_MAX     64

struct bm_pubsub_input {
    bm_pubsub_input_opts o;
    struct bm_loop *loop;
    const bm_redis_url *url;
    bm_state *state;
    bm_persist *persist;
    bm_decoder *dec;
    bm_conn *conn;
    struct event *ev_reconnect;
    bm_backoff backoff;
    int stopped;
    int subscribed; /* PSUBSCRIBE confirmed on the current connection */
    int shedding;   /* dropping messages: Redis refuses our writes (said once) */
    int64_t started_us, first_us, last_us;
    uint64_t seq;      /* ids for messages that carry none */
    uint64_t attempts; /* connections tried */
    /* the message last heard (a hash of its channel and body) and the patterns
     * it came through: patterns that overlap deliver it once per pattern */
    uint64_t last_hash;
    uint64_t last_patterns; /* bit i: in->o.patterns[i] */
    int told_overlap;       /* the first repeat logged */
    int told_own;           /* the first of busmon's own messages logged */
    bm_pubsub_input_stats stats;
};

static void schedule_connect(bm_pubsub_input *in, int at_once);

/* The bit of the subscribed pattern a pmessage names (0: none of ours). */
static uint64_t pattern_bit(const bm_pubsub_input *in, const redisReply *pat)
{
    size_t n = in->o.n_patterns < PATTERNS_MAX ? in->o.n_patterns : PATTERNS_MAX;
    for (size_t i = 0; pat->type == REDIS_REPLY_STRING && i < n; i++)
        if (!strcmp(in->o.patterns[i], pat->str)) return 1ULL << i;
    return 0;
}

/* FNV-1a of bytes, continuing from h. */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

/*
 * A message is delivered once per subscribed pattern that matches its
 * channel, one copy right after the other (Redis writes them in the one
 * PUBLISH). A copy of the message just heard, through a pattern it has not
 * come through yet, is that message again; through a pattern it already came
 * through, it is a new message with the same bytes (published twice).
 * @return 1 when this pmessage repeats the last one.
 */
static int heard_already(bm_pubsub_input *in, const redisReply *pat, const redisReply *ch,
                         const redisReply *body)
{
    if (in->o.n_patterns < 2) return 0;
    uint64_t bit = pattern_bit(in, pat);
    uint64_t h = hash_bytes(0xcbf29ce484222325ULL, ch->str, (size_t)ch->len);
    h = hash_bytes(h ^ (uint64_t)ch->len, body->str, (size_t)body->len) ^ (uint64_t)body->len;
    if (bit && h == in->last_hash && !(in->last_patterns & bit)) {
        in->last_patterns |= bit;
        return 1;
    }
    in->last_hash = h;
    in->last_patterns = bit;
    return 0;
}

/* Is ch one busmon PUBLISHes on itself (its rollups, health, alerts), or
 * another group's busmon does? Not an event: not read. The first is said. */
static int own_channel(bm_pubsub_input *in, const redisReply *ch, const redisReply *pat)
{
    size_t n = in->o.n_own_channels + in->o.n_others_prefixes;
    for (size_t i = 0; i < n; i++) {
        int whole = i < in->o.n_own_channels;
        const char *own =
            whole ? in->o.own_channels[i] : in->o.others_prefixes[i - in->o.n_own_channels];
        size_t len = strlen(own);
        if ((whole ? len != (size_t)ch->len : len > (size_t)ch->len) || memcmp(own, ch->str, len))
            continue;
        if (!in->told_own) {
            in->told_own = 1;
            bm_info("pub/sub: pattern %s matches %s, a channel busmon publishes on itself: "
                    "busmon's own messages are not read as events",
                    pat->type == REDIS_REPLY_STRING ? pat->str : "?", own);
        }
        return 1;
    }
    return 0;
}

/* Several agents: is `key` (a channel, for a message that names no
 * transaction) another agent's? Counted as not owned: that agent counts it. */
static int elsewhere(bm_pubsub_input *in, const char *key, int64_t t_us)
{
    if (!in->o.route || !in->o.route(in->o.route_arg, key, t_us)) return 0;
    in->stats.not_owned++;
    return 1;
}

static void on_message(redisAsyncContext *c, void *reply, void *arg)
{
    (void)c;
    bm_pubsub_input *in = arg;
    redisReply *r = reply;
    if (!r || in->stopped) return;
    if (r->type == REDIS_REPLY_ERROR) { /* hiredis 0.14 closes instead: on_conn_state */
        if (bm_acl_is_denial(r->str)) /* said once, counted, on /ready (core/acl.h) */
            bm_acl_denied(in->o.acl, BM_ACL_PSUBSCRIBE, r->str);
        else
            bm_error("pub/sub: PSUBSCRIBE refused: %s", r->str);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (!strcmp(r->element[0]->str, "psubscribe")) {
        bm_debug("pub/sub: subscribed to %s", r->element[1]->str ? r->element[1]->str : "?");
        if (in->subscribed) return;
        in->subscribed = 1;
        /* the backoff starts over only now: a Redis that takes the connection
         * and closes it (maxclients) is retried ever more slowly, not four
         * times a second for good */
        bm_backoff_reset(&in->backoff);
        bm_info("pub/sub: subscribed to %zu pattern(s) on %s", in->o.n_patterns, in->url->display);
        return;
    }
    if (strcmp(r->element[0]->str, "pmessage") || r->elements != 4) return;
    redisReply *ch = r->element[2], *body = r->element[3];
    if (ch->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING) return;
    if (own_channel(in, ch, r->element[1])) return;
    if (heard_already(in, r->element[1], ch, body)) {
        in->stats.overlapped++;
        if (!in->told_overlap) {
            in->told_overlap = 1;
            bm_warn("pub/sub: a message on %s came again through pattern %s: the patterns "
                    "overlap, so Redis sends such messages once per pattern; busmon uses each "
                    "once (busmon_pubsub_overlapped_total)",
                    ch->str, r->element[1]->str);
        }
        return;
    }
    in->stats.messages++;
    /* Redis refuses our writes and they pile up: a message cannot wait (no
     * pending list), so it is dropped and counted rather than kept in memory */
    if (bm_persist_backlogged(in->persist)) {
        in->stats.shed++;
        char why[256] = "";
        if (!in->shedding && bm_persist_failing(in->persist, why, sizeof why))
            bm_error("pub/sub: Redis refuses busmon's writes (%s): dropping messages until it "
                     "takes them again (busmon_pubsub_shed_total)",
                     why);
        in->shedding = 1;
        return;
    }
    if (in->shedding) {
        in->shedding = 0;
        bm_info("pub/sub: Redis takes busmon's writes again; %llu message(s) dropped so far",
                (unsigned long long)in->stats.shed);
    }
    int64_t now = bm_now_us();
    if (in->first_us == 0) in->first_us = now;
    in->last_us = now;
    bm_event ev;
    bm_decode_status st = bm_decode_pubsub(in->dec, &in->o.scheme, ch->str, (size_t)ch->len,
                                           body->str, (size_t)body->len, &ev);
    if (st != BM_DECODE_OK) {
        if (elsewhere(in, ch->str, 0))
            return; /* one dead-letter in the cluster, not one per agent */
        in->stats.decode_errors[st]++;
        in->stats.bad++;
        char chan[512];
        snprintf(chan, sizeof chan, "%.*s",
                 (int)((size_t)ch->len < sizeof chan ? (size_t)ch->len : sizeof chan - 1), ch->str);
        const char *f[2] = {"channel", "body"}, *v[2] = {chan, body->str};
        size_t fl[2] = {7, 4}, vl[2] = {strlen(chan), (size_t)body->len};
        bm_persist_deadletter(in->persist, chan, "pubsub", bm_decode_status_name(st),
                              bm_decoder_detail(in->dec, st), 2, f, fl, v, vl);
        bm_persist_flush_soon(in->persist);
        return;
    }
    char id[48];
    if (!ev.id[0]) { /* no id to dedup on: unique per agent run */
        snprintf(id, sizeof id, "pubsub-%lld-%llu", (long long)in->started_us,
                 (unsigned long long)++in->seq);
        ev.id = id;
    }
    /* its owner goes by its own time as sent (0: none, when it came), held
     * to the cluster's clock there, not this host's */
    int64_t sent_us = ev.ts_us;
    if (!ev.ts_us) ev.ts_us = now;
    if (bm_time_clamp(&ev.ts_us, now, now, in->o.max_clock_skew_us)) in->stats.clock_skew++;
    if (ev.metric_name[0]) { /* every agent hears it: only one that owns no routing counts it */
        if (!in->o.route || in->o.route(in->o.route_arg, ev.metric_name, sent_us) == NULL)
            (void)bm_state_metric(in->state, &ev, now); /* out of memory: counted, gone */
        else
            in->stats.not_owned++;
        return;
    }
    if (!ev.tx[0]) {
        if (!elsewhere(in, ch->str, sent_us)) bm_state_untraced(in->state);
        return;
    }
    if (in->o.route && in->o.route(in->o.route_arg, ev.tx, sent_us)) {
        in->stats.not_owned++; /* its owner got it too */
        return;
    }
    /* a message cannot be read again: out of memory is counted and it is gone */
    if (bm_state_apply(in->state, &ev, now, 0)) in->stats.decode_errors[BM_DECODE_NOMEM]++;
    bm_persist_flush_soon(in->persist);
}

static void on_conn_state(bm_conn *c, int up, void *arg)
{
    bm_pubsub_input *in = arg;
    if (in->stopped) return;
    if (up) {
        bm_writer_psubscribe_on(bm_conn_ctx(c), on_message, in,
                                in->o.n_patterns < PATTERNS_MAX ? in->o.n_patterns : PATTERNS_MAX,
                                in->o.patterns);
        return;
    }
    /* a refused PSUBSCRIBE closes the connection (hiredis has no callback
     * for a subscriber's error reply): said once, counted, on /ready */
    const char *why = bm_conn_lost_reason(c);
    if (bm_acl_is_denial(why)) bm_acl_denied(in->o.acl, BM_ACL_PSUBSCRIBE, why);
    if (in->subscribed) {
        in->subscribed = 0;
        in->stats.disconnects++;
        bm_error("pub/sub: lost the subscription on %s (%llu so far); messages published until "
                 "it is back are not seen (pub/sub keeps nothing). When Redis closed it, the "
                 "usual cause is client-output-buffer-limit pubsub: busmon fell behind the "
                 "publishers (raise the limit, or see the README's performance figures)",
                 in->url->display, (unsigned long long)in->stats.disconnects);
    }
    schedule_connect(in, 0);
}

/* Outside the subscriber's callbacks: drop what is left, connect again. */
static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_pubsub_input *in = arg;
    if (in->stopped) return;
    if (in->attempts++) in->stats.reconnects++;
    bm_conn_drop(in->conn);
    if (bm_conn_open(in->conn)) schedule_connect(in, 0);
}

static void schedule_connect(bm_pubsub_input *in, int at_once)
{
    if (in->stopped || evtimer_pending(in->ev_reconnect, NULL)) return;
    struct timeval tv = bm_tv_from_us(at_once ? 0 : bm_backoff_next(&in->backoff));
    evtimer_add(in->ev_reconnect, &tv);
}

bm_pubsub_input *bm_pubsub_input_new(const bm_pubsub_input_opts *o, struct bm_loop *loop,
                                     const bm_redis_url *url, bm_state *state, bm_persist *persist)
{
    bm_pubsub_input *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->o = *o;
    in->loop = loop;
    in->url = url;
    in->state = state;
    in->persist = persist;
    in->started_us = bm_now_us();
    bm_decode_limits dl = {o->max_entry_bytes, 0, 0, o->max_id_bytes};
    in->dec = bm_decoder_new(&dl);
    in->conn = bm_conn_new(bm_loop_base(loop), url, "pub/sub", on_conn_state, in);
    in->ev_reconnect = evtimer_new(bm_loop_base(loop), on_reconnect, in);
    bm_backoff_init(&in->backoff, RECONNECT_MIN_US, RECONNECT_MAX_US,
                    (uint64_t)bm_mono_us() ^ (uint64_t)getpid());
    if (!in->dec || !in->conn || !in->ev_reconnect) {
        bm_pubsub_input_free(in);
        return NULL;
    }
    schedule_connect(in, 1);
    return in;
}

void bm_pubsub_input_stop(bm_pubsub_input *in)
{
    if (!in) return;
    in->stopped = 1;
    if (in->ev_reconnect) evtimer_del(in->ev_reconnect);
    bm_conn_drop(in->conn);
}

void bm_pubsub_input_free(bm_pubsub_input *in)
{
    if (!in) return;
    in->stopped = 1;
    bm_conn_free(in->conn);
    if (in->ev_reconnect) event_free(in->ev_reconnect);
    bm_decoder_free(in->dec);
    free(in);
}

int bm_pubsub_input_up(const bm_pubsub_input *in)
{
    return in && bm_conn_is_up(in->conn);
}

void bm_pubsub_input_get_stats(const bm_pubsub_input *in, bm_pubsub_input_stats *out)
{
    if (in) {
        *out = in->stats;
        out->resolve_failures = bm_conn_resolve_failures(in->conn);
    } else
        memset(out, 0, sizeof *out);
}

int64_t bm_pubsub_input_first_us(const bm_pubsub_input *in)
{
    return in ? in->first_us : 0;
}

int64_t bm_pubsub_input_last_us(const bm_pubsub_input *in)
{
    return in ? in->last_us : 0;
}
