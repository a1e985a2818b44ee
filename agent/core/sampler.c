/*
 * sampler.c - the shared round of Redis figures (sampler.h).
 *
 * One query in flight carries a token (round, kind, stream) freed in its
 * callback; hiredis calls back exactly once per command, with NULL when the
 * connection goes. Replies of a round already closed are ignored.
 */
#include "agent/core/sampler.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/loop.h"
#include "lib/sysstat.h"

#define SUBSCRIBERS_MAX 8

typedef struct {
    bm_sampler_cb cb;
    void *arg;
    int64_t interval_us;
    int64_t next_due_us; /* monotonic */
} subscriber;

typedef struct {
    struct bm_sampler *s;
    uint64_t round;
    bm_query kind;
    size_t stream;
    int64_t sent_us;
} token;

struct bm_sampler {
    struct bm_loop *loop;
    bm_writer *w;
    char *group;
    char **streams;
    size_t n_streams;
    subscriber subs[SUBSCRIBERS_MAX];
    size_t n_subs;
    int64_t tick_us;

    bm_redis_figures cur;
    uint64_t round;
    size_t outstanding;
    int closed;
    char *dir; /* CONFIG GET dir's answer, whole */
    int have_dir;
    bm_sampler_stats stats;
};

static void close_round(bm_sampler *s);

static int64_t reply_int(const redisReply *v)
{
    if (!v) return -1;
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    if (v->type == REDIS_REPLY_STRING) return strtoll(v->str, NULL, 10);
    return -1; /* nil: Redis does not know */
}

int bm_xinfo_group(const redisReply *r, const char *group, int64_t *pending, int64_t *lag)
{
    *pending = *lag = -1;
    if (!r || r->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *grp = r->element[i];
        if (grp->type != REDIS_REPLY_ARRAY) continue;
        const redisReply *name = NULL, *pend = NULL, *lg = NULL;
        for (size_t k = 0; k + 1 < grp->elements; k += 2) {
            const redisReply *key = grp->element[k], *val = grp->element[k + 1];
            if (key->type != REDIS_REPLY_STRING && key->type != REDIS_REPLY_STATUS) continue;
            if (!strcmp(key->str, "name"))
                name = val;
            else if (!strcmp(key->str, "pending"))
                pend = val;
            else if (!strcmp(key->str, "lag"))
                lg = val;
        }
        if (!name || name->type != REDIS_REPLY_STRING || strcmp(name->str, group)) continue;
        *pending = reply_int(pend);
        *lag = reply_int(lg);
        return 1;
    }
    return 0;
}

static void on_reply(const redisReply *r, void *arg)
{
    token tok = *(token *)arg;
    free(arg);
    bm_sampler *s = tok.s;
    if (tok.kind == BM_QUERY_CONFIG_GET) {
        /* ["dir", "/var/lib/redis"]; asked again next round when it did not answer */
        const redisReply *d = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                                      r->element[1]->type == REDIS_REPLY_STRING
                                  ? r->element[1]
                                  : NULL;
        if (d && !memchr(d->str, '\0', d->len)) { /* whole, never cut: sysmon judges it */
            free(s->dir);
            s->dir = malloc(d->len + 1);
            if (!s->dir) return; /* asked again next round */
            memcpy(s->dir, d->str, d->len + 1);
            s->have_dir = 1;
        } else if (r) {
            s->have_dir = -1; /* refused (ACL), not a string, or not a path: do not ask again */
        }
        return;
    }
    if (tok.round != s->round || s->closed) return; /* a round already closed */
    if (r && r->type == REDIS_REPLY_ERROR) s->stats.redis_errors++;
    bm_redis_figures *f = &s->cur;
    if (r) {
        bm_sampled_stream *st = tok.stream < f->n_streams ? &f->streams[tok.stream] : NULL;
        double x;
        switch (tok.kind) {
        case BM_QUERY_PING:
            if (r->type != REDIS_REPLY_ERROR)
                f->rtt_ms = (double)(bm_mono_us() - tok.sent_us) / 1000.0;
            break;
        case BM_QUERY_INFO:
            if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
                if (sysstat_info_field(r->str, "connected_clients", &x) == 0) f->redis_clients = x;
                if (sysstat_info_field(r->str, "used_memory", &x) == 0) f->redis_used_memory = x;
            }
            break;
        case BM_QUERY_XLEN:
            if (st && r->type == REDIS_REPLY_INTEGER) st->length = r->integer;
            break;
        case BM_QUERY_XINFO_GROUPS:
            if (!st) break;
            st->answered = 1;
            if (r->type == REDIS_REPLY_ARRAY)
                st->group = bm_xinfo_group(r, s->group, &st->pending, &st->lag);
            else if (r->type == REDIS_REPLY_ERROR)
                /* no such key: no stream, so no group either; a key of
                 * another type: unknown (the stream input says why) */
                st->group = strstr(r->str, "WRONGTYPE") ? -1 : 0;
            break;
        case BM_QUERY_CONFIG_GET: break;
        }
    }
    if (s->outstanding > 0) s->outstanding--;
    if (s->outstanding == 0) close_round(s);
}

static void query(bm_sampler *s, bm_query kind, const char *operand, size_t stream)
{
    token *tok = malloc(sizeof *tok);
    if (!tok) return;
    *tok = (token){s, s->round, kind, stream, bm_mono_us()};
    if (bm_writer_query(s->w, kind, operand, on_reply, tok)) {
        free(tok);
        return;
    }
    if (kind != BM_QUERY_CONFIG_GET) s->outstanding++;
}

static void close_round(bm_sampler *s)
{
    if (s->closed || !s->round) return;
    s->closed = 1;
    bm_redis_figures *f = &s->cur;
    f->complete = s->outstanding == 0;
    if (!f->complete) s->stats.late++;
    f->redis_dir = s->have_dir == 1 ? s->dir : NULL;
    s->stats.rounds++;
    int64_t now = bm_mono_us();
    int64_t slack = s->tick_us / 2;
    for (size_t i = 0; i < s->n_subs; i++) {
        subscriber *sub = &s->subs[i];
        if (now + slack < sub->next_due_us) continue;
        while (sub->next_due_us <= now + slack)
            sub->next_due_us += sub->interval_us;
        sub->cb(f, sub->arg);
    }
}

static void start_round(bm_sampler *s)
{
    s->round++;
    s->closed = 0;
    s->outstanding = 0;
    bm_redis_figures *f = &s->cur;
    f->ts_us = bm_now_us();
    f->rtt_ms = f->redis_clients = f->redis_used_memory = NAN;
    f->redis_dir = NULL;
    f->complete = 0;
    f->n_streams = s->n_streams;
    for (size_t i = 0; i < s->n_streams; i++) {
        bm_sampled_stream *st = &f->streams[i];
        snprintf(st->name, sizeof st->name, "%s", s->streams[i]);
        st->length = st->lag = st->pending = -1;
        st->group = -1;
        st->answered = 0;
    }
    if (bm_writer_up(s->w)) {
        if (!s->have_dir) query(s, BM_QUERY_CONFIG_GET, "dir", 0);
        query(s, BM_QUERY_PING, NULL, 0);
        query(s, BM_QUERY_INFO, NULL, 0);
        for (size_t i = 0; i < s->n_streams; i++) {
            query(s, BM_QUERY_XLEN, s->streams[i], i);
            query(s, BM_QUERY_XINFO_GROUPS, s->streams[i], i);
        }
    }
    if (s->outstanding == 0)
        close_round(s);
    else
        bm_writer_push(s->w);
}

static void on_tick(void *arg)
{
    bm_sampler *s = arg;
    if (bm_loop_stopping(s->loop)) return;
    close_round(s); /* replies still out: the round goes with what came back */
    start_round(s);
}

bm_sampler *bm_sampler_new(struct bm_loop *loop, bm_writer *w, const char *group,
                           const char *const *streams, size_t n_streams)
{
    bm_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->loop = loop;
    s->w = w;
    if (n_streams > BM_SAMPLER_STREAMS_MAX) n_streams = BM_SAMPLER_STREAMS_MAX;
    s->group = strdup(group);
    s->streams = calloc(n_streams ? n_streams : 1, sizeof *s->streams);
    if (!s->group || !s->streams) goto fail;
    for (size_t i = 0; i < n_streams; i++) {
        if (!(s->streams[i] = strdup(streams[i]))) goto fail;
        s->n_streams++;
    }
    return s;
fail:
    bm_sampler_free(s);
    return NULL;
}

void bm_sampler_free(bm_sampler *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_streams; i++)
        free(s->streams[i]);
    free(s->streams);
    free(s->group);
    free(s->dir);
    free(s);
}

int bm_sampler_subscribe(bm_sampler *s, int64_t interval_us, bm_sampler_cb cb, void *arg)
{
    if (s->n_subs == SUBSCRIBERS_MAX || interval_us <= 0) return -1;
    s->subs[s->n_subs++] = (subscriber){cb, arg, interval_us, bm_mono_us() + interval_us};
    return 0;
}

int bm_sampler_start(bm_sampler *s)
{
    if (!s->n_subs) return 0;
    s->tick_us = s->subs[0].interval_us;
    for (size_t i = 1; i < s->n_subs; i++)
        if (s->subs[i].interval_us < s->tick_us) s->tick_us = s->subs[i].interval_us;
    return bm_loop_every(s->loop, s->tick_us, on_tick, s) ? 0 : -1;
}

void bm_sampler_get_stats(const bm_sampler *s, bm_sampler_stats *out)
{
    *out = s->stats;
}
