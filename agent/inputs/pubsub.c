/*
 * pubsub.c - the secondary input: events a framework PUBLISHes on Redis
 * pub/sub channels (the MultiAgents Framework's `multiagent:command.<worker>`,
 * `result.<worker>`, `status.workflow`, `compensation.<name>`), read with
 * PSUBSCRIBE on a connection of their own in the agent's loop.
 *
 * Each message is decoded with the channel's help (proto: bm_decode_pubsub,
 * the configured bm_channel_scheme) and applied exactly as a stream entry
 * is; an event seen on both inputs has the same id in the same trace and is
 * kept once. What pub/sub cannot give: nothing is kept while busmon is not
 * subscribed (down, reconnecting), and there is nothing to ack.
 *
 * Not here: the stream input and the writes (ingest.c).
 */
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/core/log.h"

#define SUB_RECONNECT_MAX_MS 30000

static void sub_connect(bm_agent *a);

static void on_message(redisAsyncContext *c, void *reply, void *arg)
{
    (void)c;
    bm_agent *a = arg;
    redisReply *r = reply;
    if (!r || a->stopping) return;
    if (r->type == REDIS_REPLY_ERROR) {
        bm_error("pub/sub: PSUBSCRIBE refused: %s", r->str);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (!strcmp(r->element[0]->str, "psubscribe")) {
        bm_debug("pub/sub: subscribed to %s", r->element[1]->str ? r->element[1]->str : "?");
        return;
    }
    if (strcmp(r->element[0]->str, "pmessage") || r->elements != 4) return;
    redisReply *ch = r->element[2], *body = r->element[3];
    if (ch->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING) return;
    a->stats.pubsub_messages++;
    int64_t now = bm_now_us();
    if (a->first_entry_us == 0) a->first_entry_us = now;
    a->last_entry_us = now;
    bm_event ev;
    bm_decode_status st = bm_decode_pubsub(a->dec, &a->scheme, ch->str, (size_t)ch->len, body->str,
                                           (size_t)body->len, &ev);
    if (st != BM_DECODE_OK) {
        a->stats.decode_errors[st]++;
        a->stats.pubsub_bad++;
        bm_agent_deadletter_message(a, ch->str, (size_t)ch->len, body->str, (size_t)body->len,
                                    bm_decode_status_name(st), bm_agent_decode_detail(st));
        return;
    }
    char id[48];
    if (!ev.id[0]) { /* no id to dedup on: unique per agent run */
        snprintf(id, sizeof id, "pubsub-%lld-%llu", (long long)a->started_us,
                 (unsigned long long)++a->pubsub_seq);
        ev.id = id;
    }
    if (!ev.ts_us) ev.ts_us = now;
    if (!ev.tx[0]) {
        a->stats.untraced++;
        return;
    }
    bm_agent_apply(a, &ev, now, 0); /* NOMEM is counted there; a message cannot be re-read */
    bm_agent_flush_soon(a);
}

static void on_sub_connect(const redisAsyncContext *c, int status)
{
    bm_agent *a = c->data;
    if (c != a->subscriber) return;
    if (status != REDIS_OK) {
        bm_error("pub/sub: cannot connect to Redis at %s: %s", a->url.display, c->errstr);
        a->subscriber = NULL; /* hiredis frees it */
        sub_connect(a);
        return;
    }
    a->subscriber_up = 1;
    a->sub_reconnect_delay_ms = 0;
    bm_info("pub/sub: subscribed to %zu pattern(s) on %s", a->cfg->n_pubsub_patterns,
            a->url.display);
}

static void on_sub_disconnect(const redisAsyncContext *c, int status)
{
    bm_agent *a = c->data;
    if (c != a->subscriber) return; /* let go of on purpose */
    a->subscriber = NULL;
    a->subscriber_up = 0;
    if (a->stopping) return;
    bm_error("pub/sub: lost the connection to %s (%s); messages published until it is back "
             "are not seen (pub/sub keeps nothing)",
             a->url.display, status == REDIS_OK ? "closed" : c->errstr);
    sub_connect(a);
}

static void on_sub_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    if (a->stopping || a->subscriber) return;
    a->stats.reconnects++;
    redisAsyncContext *c = a->url.path[0] ? redisAsyncConnectUnix(a->url.path)
                                          : redisAsyncConnect(a->url.host, a->url.port);
    if (!c || c->err) {
        bm_error("pub/sub: cannot connect to Redis at %s: %s", a->url.display,
                 c ? c->errstr : "out of memory");
        if (c) redisAsyncFree(c);
        sub_connect(a);
        return;
    }
    c->data = a;
    a->subscriber = c;
    redisLibeventAttach(c, a->base);
    redisAsyncSetConnectCallback(c, on_sub_connect);
    redisAsyncSetDisconnectCallback(c, on_sub_disconnect);
    if (a->url.password[0]) {
        if (a->url.user[0])
            redisAsyncCommand(c, NULL, NULL, "AUTH %s %s", a->url.user, a->url.password);
        else
            redisAsyncCommand(c, NULL, NULL, "AUTH %s", a->url.password);
    }
    const char *argv[1 + BM_MAX_STREAMS];
    size_t lens[1 + BM_MAX_STREAMS];
    int argc = 0;
    argv[argc] = "PSUBSCRIBE", lens[argc++] = 10;
    for (size_t i = 0; i < a->cfg->n_pubsub_patterns; i++)
        argv[argc] = a->cfg->pubsub_patterns[i], lens[argc] = strlen(argv[argc]), argc++;
    redisAsyncCommandArgv(c, on_message, a, argc, argv, lens);
}

/* (Re)connect after a delay that grows while Redis stays away; at once the first time. */
static void sub_connect(bm_agent *a)
{
    if (a->stopping || evtimer_pending(a->ev_sub_reconnect, NULL)) return;
    int ms = a->sub_reconnect_delay_ms;
    a->sub_reconnect_delay_ms = ms ? ms * 2 : 250;
    if (a->sub_reconnect_delay_ms > SUB_RECONNECT_MAX_MS)
        a->sub_reconnect_delay_ms = SUB_RECONNECT_MAX_MS;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(a->ev_sub_reconnect, &tv);
}

int bm_pubsub_start(bm_agent *a)
{
    if (!a->cfg->pubsub_enabled || a->cfg->n_pubsub_patterns == 0) return 0;
    bm_channel_scheme_default(&a->scheme);
    a->scheme.prefix = a->cfg->channel_prefix;
    a->scheme.separator = a->cfg->channel_separator;
    a->scheme.command = a->cfg->channel_words[0];
    a->scheme.result = a->cfg->channel_words[1];
    a->scheme.error = a->cfg->channel_words[2];
    a->scheme.status = a->cfg->channel_words[3];
    a->scheme.compensation = a->cfg->channel_words[4];
    a->ev_sub_reconnect = evtimer_new(a->base, on_sub_reconnect, a);
    if (!a->ev_sub_reconnect) {
        bm_error("out of memory at start");
        return -1;
    }
    sub_connect(a);
    return 0;
}

/* Outside the subscriber's own callbacks (a timer or the stop path). */
void bm_pubsub_stop(bm_agent *a)
{
    if (a->subscriber) {
        redisAsyncContext *c = a->subscriber;
        a->subscriber = NULL;
        a->subscriber_up = 0;
        redisAsyncFree(c);
    }
    if (a->ev_sub_reconnect) {
        event_free(a->ev_sub_reconnect);
        a->ev_sub_reconnect = NULL;
    }
}
