/*
 * away.c - a checkpoint held while this agent checks that nothing it applied
 * since its last one was claimed away (away.h has the picture).
 */
#include "agent/inputs/away.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/writer.h"
#include "agent/inputs/streams_internal.h"
#include "agent/state/persist.h"

#define PAGE 1000 /* pending entries per XPENDING */

/* An entry applied since the confirmed checkpoint: it must still be pending
 * for us (ours, or our claims' consumer's). */
typedef struct {
    size_t stream;
    int claimed;
    char id[BM_STREAM_ID_MAX];
} applied;

struct bm_away {
    bm_away_opts o;
    bm_writer *w;
    bm_persist *p;
    bm_stream_input *in;
    char claimer[256]; /* <consumer>.claimed */
    char mark_key[600]; /* where a claim of ours leaves its mark (reclaim.c) */
    char *mark;         /* ... what it held when the check began (NULL: none) */
    size_t mark_len;
    int64_t set_delay_ms; /* tests: the first SET after a check of an absence at least this
                             long waits this long */
    /* the check under way */
    int checking;
    int collect_failed;
    int64_t away_us; /* since the last confirmed checkpoint was sent */
    applied *items;
    size_t n, cap;
    size_t at, seg_start, seg_end; /* the next item to find; its (stream, consumer)'s items */
    int in_stream; /* ... looked for in the stream itself, not the pending list (hand-offs) */
    char cursor[BM_STREAM_ID_MAX + 1]; /* the page's start: "(<last id seen>", or the first item */
    int said_refused;
};

static void collect(size_t stream, const char *id, int claimed, void *arg)
{
    bm_away *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        applied *p = realloc(a->items, cap * sizeof *p);
        if (!p) {
            a->collect_failed = 1;
            return;
        }
        a->items = p;
        a->cap = cap;
    }
    applied *it = &a->items[a->n++];
    it->stream = stream;
    it->claimed = claimed;
    snprintf(it->id, sizeof it->id, "%s", id);
}

static int cmp_applied(const void *x, const void *y)
{
    const applied *a = x, *b = y;
    if (a->stream != b->stream) return a->stream < b->stream ? -1 : 1;
    if (a->claimed != b->claimed) return a->claimed - b->claimed;
    return bm_stream_id_cmp(a->id, b->id);
}

/* Sorted by stream, consumer and id, each once. */
static void sort_items(bm_away *a)
{
    qsort(a->items, a->n, sizeof *a->items, cmp_applied);
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!k || cmp_applied(&a->items[k - 1], &a->items[i])) a->items[k++] = a->items[i];
    a->n = k;
}

static void on_set_delayed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_away *a = arg;
    a->checking = 0;
    bm_persist_gate_done_fenced(a->p, a->mark_key, a->mark ? a->mark : "", a->mark_len);
}

/* The checkpoint goes (ok: while no claim marked us since the check began)
 * or is dropped; the check is over. */
static void done(bm_away *a, int ok)
{
    a->n = 0;
    if (!ok) {
        a->checking = 0;
        bm_persist_gate_done(a->p, 0);
    } else if (a->set_delay_ms > 0 && a->o.base && a->away_us >= a->set_delay_ms * 1000) {
        /* tests: the first check of an absence that long holds its SET (and
         * the gate, still checking) that long; a claim may come meanwhile */
        struct timeval tv = {a->set_delay_ms / 1000, (a->set_delay_ms % 1000) * 1000};
        a->set_delay_ms = 0;
        bm_info("test: the checkpoint's SET after the away check waits %ld.%03ld s",
                (long)tv.tv_sec, (long)tv.tv_usec / 1000);
        if (event_base_once(a->o.base, -1, EV_TIMEOUT, on_set_delayed, a, &tv))
            on_set_delayed(-1, 0, a);
    } else {
        on_set_delayed(-1, 0, a);
    }
}

/* The mark as the check begins: a claim after this changes it (away.h). */
static void on_mark(const redisReply *r, void *arg)
{
    bm_away *a = arg;
    free(a->mark);
    a->mark = NULL;
    a->mark_len = 0;
    if (r && r->type == REDIS_REPLY_STRING && (a->mark = malloc((size_t)r->len + 1))) {
        memcpy(a->mark, r->str, (size_t)r->len);
        a->mark[r->len] = '\0';
        a->mark_len = (size_t)r->len;
    }
    /* none, or not a string (the SET's script reads that as none too); lost:
     * the pages after it are lost too, and the check ends with them */
}

/* Item at was taken away: the state in memory counts it twice. */
static void claimed_away(bm_away *a)
{
    const applied *it = &a->items[a->at];
    bm_stream_input_stats_of(a->in)->away_resets++;
    bm_warn("this agent was away (paused or cut off from Redis) for %.1f s, longer than another "
            "agent waits before it claims its entries: entry %s of %s, applied here since the "
            "last checkpoint, is no longer %s %s (claimed, or moved by the janitor, and applied "
            "elsewhere); starting again from that checkpoint so that it is not counted twice",
            (double)a->away_us / 1e6, it->id, a->o.streams[it->stream],
            a->in_stream ? "in the stream for" : "pending for",
            it->claimed ? a->claimer : a->o.consumer);
    a->o.reset(a->o.reset_arg, a->away_us);
    done(a, 0); /* not started again (the stop): this checkpoint is not written */
}

static void on_page(const redisReply *r, void *arg);

/*
 * The next page of the current (stream, consumer), or the next one's first.
 * Our hand-off stream is read by us alone, and the janitor moves a gone
 * agent's entries by deleting them (XDEL leaves them in our pending list):
 * there, once pending, each must also still be in the stream.
 */
static void ask(bm_away *a)
{
    const applied *seg = &a->items[a->seg_start];
    if (a->at == a->seg_end && !a->in_stream && a->seg_end > a->seg_start &&
        (long)seg->stream == a->o.handoff_idx && !seg->claimed) {
        a->in_stream = 1;
        a->at = a->seg_start;
        snprintf(a->cursor, sizeof a->cursor, "%s", seg->id);
    } else if (a->at == a->seg_end) {
        if (a->at == a->n) {
            done(a, 1); /* every entry still ours: nothing was taken */
            return;
        }
        a->in_stream = 0;
        a->seg_start = a->at;
        seg = &a->items[a->seg_start];
        while (a->seg_end < a->n && a->items[a->seg_end].stream == seg->stream &&
               a->items[a->seg_end].claimed == seg->claimed)
            a->seg_end++;
        snprintf(a->cursor, sizeof a->cursor, "%s", seg->id);
    }
    const char *stream = a->o.streams[seg->stream], *last = a->items[a->seg_end - 1].id;
    int rc =
        a->in_stream
            ? bm_writer_xrange(a->w, BM_WRITE_RECLAIM, stream, a->cursor, last, PAGE, on_page, a)
            : bm_writer_xpending_of(a->w, stream, a->o.group, a->cursor, last, PAGE,
                                    seg->claimed ? a->claimer : a->o.consumer, on_page, a);
    if (rc) done(a, 0); /* not sent (the writer is down): neither would the SET be */
}

static void on_page(const redisReply *r, void *arg)
{
    bm_away *a = arg;
    if (!a->checking) return;
    if (!r) { /* the connection is gone: the checkpoint with it; the next one checks again */
        done(a, 0);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOGROUP", 7)) {
        claimed_away(a); /* the stream or the group is gone, our pending list with it */
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        if (!a->said_refused++)
            bm_warn("cannot check that no entry applied here was claimed by another agent "
                    "while this one was away (XPENDING: %s): the checkpoint goes unchecked; "
                    "said once",
                    r->type == REDIS_REPLY_ERROR ? r->str : "not a list");
        done(a, 1);
        return;
    }
    /* [[id, consumer, idle_ms, deliveries], ...] or [[id, fields], ...], oldest first */
    const char *last = NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        last = e->element[0]->str;
        while (a->at < a->seg_end && bm_stream_id_cmp(a->items[a->at].id, last) < 0) {
            claimed_away(a); /* passed over: not pending for us */
            return;
        }
        if (a->at < a->seg_end && !bm_stream_id_cmp(a->items[a->at].id, last)) a->at++;
    }
    if (a->at < a->seg_end) {
        if (r->elements < PAGE || !last || strlen(last) >= BM_STREAM_ID_MAX) {
            claimed_away(a); /* the range holds no more of ours */
            return;
        }
        snprintf(a->cursor, sizeof a->cursor, "(%s", last);
    }
    ask(a);
}

/* persist's gate: the SET goes at once unless this agent may have looked dead. */
static int gate(bm_persist *p, void *arg)
{
    bm_away *a = arg;
    if (a->checking) return 1;
    int64_t since = bm_mono_us() - bm_persist_confirmed_sent_us(p);
    if (since < a->o.judge_us / 4 * 3) return 0; /* well within what the others wait */
    a->n = 0;
    a->collect_failed = 0;
    bm_persist_applied_since(p, collect, a);
    if (a->collect_failed) {
        /* cannot tell (out of memory): as a refused SET, tried again next interval */
        a->n = 0;
        bm_persist_gate_done(p, 0);
        return 1;
    }
    if (!a->n) return 0; /* nothing applied since: nothing to count twice */
    sort_items(a);
    bm_stream_input_stats_of(a->in)->away_checks++;
    a->checking = 1;
    a->away_us = since;
    a->at = a->seg_start = a->seg_end = 0;
    a->in_stream = 0;
    /* before the pages, on the same connection: a claim that their replies
     * miss changes it, and the SET's fence sees that */
    if (bm_writer_get(a->w, BM_WRITE_RECLAIM, a->mark_key, on_mark, a)) {
        done(a, 0);
        return 1;
    }
    ask(a);
    return 1; /* the SET waits for the check (done) */
}

bm_away *bm_away_new(const bm_away_opts *o, bm_writer *w, bm_persist *p, bm_stream_input *in)
{
    bm_away *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->o = *o;
    a->w = w;
    a->p = p;
    a->in = in;
    snprintf(a->claimer, sizeof a->claimer, "%s.claimed", o->consumer);
    snprintf(a->mark_key, sizeof a->mark_key, "%s%s.claimed", o->state_prefix, o->consumer);
    const char *delay = getenv("BUSMON_TEST_AWAY_SET_DELAY_MS");
    a->set_delay_ms = delay ? atoll(delay) : 0;
    bm_stream_input_stats_of(in)->away_resets = o->resets_before;
    bm_persist_set_gate(p, gate, a);
    /* the hand-offs sent meanwhile: only of entries still ours (persist.h) */
    bm_persist_set_handoff_guard(p, o->judge_us / 4 * 3, o->min_idle_us / 4 * 3, o->consumer,
                                 a->claimer);
    return a;
}

void bm_away_free(bm_away *a)
{
    if (!a) return;
    free(a->mark);
    free(a->items);
    free(a);
}
