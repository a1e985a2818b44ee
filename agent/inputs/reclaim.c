/*
 * reclaim.c - entries stranded in the group's pending list by a consumer
 * that went away are claimed and applied here (reclaim.h).
 *
 *   every reclaim.interval, per stream, on the writer connection:
 *     XPENDING <stream> <group> IDLE <min_idle> - + 500  (not our own consumer's)
 *     ──▶ GET <state prefix><owner> for each owner: what its checkpoint covers,
 *         and whether it is alive: its checkpoint changed (its stamp) within
 *         twice its state.checkpoint_interval (written in it; ours for an
 *         older agent's) on OUR monotonic clock, unless its registry
 *         heartbeat is stale (several agents) (X.claimed: X's checkpoint);
 *         an entry delivered to a live owner since that checkpoint is left
 *         to it (applied there, acked after its next checkpoint)
 *     ──▶ XCLAIM <stream> <group> <us>.claimed <min_idle> id...  (they
 *         become our claims' consumer's; in a script that gives an entry
 *         above max_entry_bytes as its size, and, per owner, claims only
 *         while its checkpoint's first bytes are those read (a checkpoint
 *         written since: alive, counted in reclaim_fenced) and sets its
 *         claims mark, which the owner's late checkpoint checks: away.h)
 *     ──▶ each claimed entry:
 *           at or below its owner's checkpoint,  ack (its effects are in the
 *           or listed in X's "claimed" (X.claimed's)  owner's state)
 *           delivered more than max_deliveries   dead-letter "poison", ack
 *           (this claim counted)
 *           above max_entry_bytes                dead-letter "oversized", ack
 *           else                                 apply, ack (as a read does)
 *
 * Claimed entries go to a consumer of their own, "<consumer>.claimed", not
 * to ours: our pending list then holds only what we read, in order, so
 * "at or below our checkpoint's id" still means "applied before it" after
 * a restart (a claimed entry's id says nothing of that). The claims'
 * consumer has no checkpoint of its own: what stays pending there (a claim
 * whose reply was lost, the agent killed before the checkpoint) is claimed
 * again after min_idle, by us or any agent, and applied in full. Not what
 * was applied: we skip those of ours whose ack is queued (waiting for the
 * checkpoint), ack again those whose ack we sent lately (lost or refused;
 * or listed by the checkpoint restored at start: killed between checkpoint
 * and XACK), and another agent acks those X's checkpoint lists in
 * "claimed" (state/persist.h). Rounds stop while
 * BM_PERSIST_CLAIMS_QUEUED_MAX claims wait for their acks (each is listed
 * in every checkpoint).
 *
 * Never the owner's wall-clock stamp against ours: hosts' clocks differ, and
 * an owner 10 s behind would look dead while it applies its entries (claimed
 * and applied twice), one ahead younger than it is. So this agent remembers,
 * per owner, the stamp it last read and, on its monotonic clock, when it first
 * read it and when it last read the one before: the checkpoint was written
 * between the two. An owner read for the first time is alive for twice its
 * interval (no history: a dead one waits that long, and its stream is looked
 * at again then, not an interval later), and while nothing says when its
 * checkpoint was written, none of its entries is claimed.
 *
 * One stream's round is at most 500 entries of at most 16 owners (bounded
 * work per wake-up: an entry of a 17th owner, whose checkpoint is not read,
 * waits for a later round rather than be applied as if nothing covered it); a
 * full round is followed at once by the next, so a dead consumer's whole
 * backlog is claimed within min_idle + interval. XCLAIM's own min-idle makes a race with a live
 * owner harmless: an entry it touched meanwhile is not claimed.
 */
#include "agent/inputs/reclaim.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/writer.h"
#include "agent/inputs/streams_internal.h"
#include "agent/state/persist.h"
#include "lib/checkpoint.h"

#define ROUND_MAX  500 /* entries per stream per round; a full round goes on at once */
#define OWNERS_MAX 16  /* distinct owners looked up per round */
#define ACKS_WAIT_US 250000 /* claims queued at their bound: looked at again after this */
#define WATCHED_MAX  64 /* owners whose checkpoint stamps are remembered (least read first out) */
#define MARK_TTL_MS  3600000 /* an owner's claims mark: read by its next checkpoint, seconds later \
                              */

typedef struct {
    char id[BM_STREAM_ID_MAX];
    char owner[256];
    long long deliveries;
    int64_t idle_us;   /* since its last delivery */
    int held_by_owner; /* X.claimed's: X's checkpoint lists it as applied ("claimed") */
} candidate;

typedef struct {
    char name[256];
    char covered[BM_STREAM_ID_MAX]; /* its checkpoint's last id for this stream ("" none) */
    int64_t alive_since_us;         /* a live owner: at least its checkpoint's age (INT64_MAX: not
                                       known yet), else -1 */
    int64_t dead_in_us; /* a live owner: dead after this unless its checkpoint changes */
    int read;           /* its checkpoint was read (or found not there): the claim's fence */
    size_t seen_len;
    char seen[BM_CLAIM_FENCE_BYTES]; /* ... its first bytes, as read */
} owner;

/* An owner's checkpoint as this agent read it. The stamp is the writer's wall
 * clock, compared only with itself (did it change?); the times are ours,
 * monotonic. */
typedef struct {
    char name[256];     /* X (X.claimed's too: X's checkpoint) */
    int64_t stamp_us;   /* its checkpoint's ts_us, last read */
    int64_t changed_us; /* the reply that first gave this stamp: written before it */
    int64_t before_us;  /* the request of the last read that gave the stamp before it:
                           written after it (0: none, first read) */
    int64_t asked_us;   /* the request of the last read */
} watched;

typedef struct round round;

struct bm_reclaim {
    bm_reclaim_opts o;
    struct bm_loop *loop;
    bm_writer *w;
    bm_persist *persist;
    bm_stream_input *in;
    round *busy; /* the stream's round in flight (one at a time) */
    size_t next_stream;
    char claimer[256]; /* <consumer>.claimed: where claims go */
    int waiting_acks;  /* claims queued at the bound: a look again is due (on_acks_waited) */
    watched seen[WATCHED_MAX];
    size_t n_seen;
    struct event *ev_recheck; /* a live owner's span ends before the next interval */
    size_t recheck_stream;
    uint64_t claims_sent;   /* makes each claim's mark a value never written before */
    int said_blind;         /* claims without the fence (GETRANGE denied) were reported */
    int64_t claim_delay_ms; /* tests: the first claim from an owner judged dead waits this long */
    struct event *ev_delay; /* ... on this timer (owned: freed with its round at a stop) */
    round *delayed;         /* the round it holds */
};

struct round {
    bm_reclaim *r;
    size_t sidx;
    candidate c[ROUND_MAX];
    size_t n;
    owner owners[OWNERS_MAX];
    size_t n_owners, owners_out;
    int more;    /* entries of owners beyond OWNERS_MAX left for the next round */
    int full;    /* XPENDING gave ROUND_MAX entries: more may wait behind them */
    int claimed; /* XCLAIM answered */
    int64_t asked_us;   /* mono: the owners' checkpoints asked for */
    int64_t recheck_us; /* > 0: a live owner's entries were left, and it is dead after this
                           unless its checkpoint changes: look again then */
};

static void on_tick(void *arg);

static void on_again(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    on_tick(arg);
}

static void on_acks_waited(evutil_socket_t fd, short what, void *arg)
{
    bm_reclaim *r = arg;
    r->waiting_acks = 0;
    on_again(fd, what, arg);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
    bm_reclaim *r = arg;
    r->next_stream = r->recheck_stream;
    on_again(fd, what, arg);
}

static void finish_round(round *rd)
{
    bm_reclaim *r = rd->r;
    r->busy = NULL;
    /* one look again at a time: a later one is left to the intervals */
    if (rd->recheck_us > 0 && rd->recheck_us < r->o.interval_ms * 1000 &&
        !evtimer_pending(r->ev_recheck, NULL)) {
        struct timeval tv = bm_tv_from_us(rd->recheck_us);
        r->recheck_stream = rd->sidx;
        evtimer_add(r->ev_recheck, &tv);
    }
    if ((rd->full || rd->more) && rd->claimed) { /* more waiting: the same stream again */
        r->next_stream = rd->sidx;
        struct timeval now = {0, 0};
        event_base_once(bm_loop_base(r->loop), -1, EV_TIMEOUT, on_again, r, &now);
    }
    free(rd);
}

/* The length of X when name is another agent's claims' consumer "X.claimed", else 0. */
static size_t claims_of(const bm_reclaim *r, const char *name)
{
    size_t n = strlen(name), k = sizeof ".claimed" - 1;
    if (n <= k || strcmp(name + n - k, ".claimed") || !strcmp(name, r->claimer)) return 0;
    return n - k;
}

static const candidate *find(const round *rd, const char *id)
{
    for (size_t i = 0; i < rd->n; i++)
        if (!strcmp(rd->c[i].id, id)) return &rd->c[i];
    return NULL;
}

static const owner *owner_of(const round *rd, const char *name)
{
    for (size_t i = 0; i < rd->n_owners; i++)
        if (!strcmp(rd->owners[i].name, name)) return &rd->owners[i];
    return NULL;
}

/* The entries claimed: poison, covered or applied, then flushed. */
static void on_claimed(const redisReply *r, void *arg)
{
    round *rd = arg;
    bm_reclaim *rc = rd->r;
    bm_stream_input_stats *st = bm_stream_input_stats_of(rc->in);
    /* [entries, ids left: their owner wrote a checkpoint since we read it] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || !bm_stream_input_reading(rc->in)) {
        finish_round(rd);
        return;
    }
    if (r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer > 0)
        st->reclaim_fenced += (uint64_t)r->element[1]->integer;
    if (r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer > 0 &&
        !rc->said_blind++)
        bm_warn("claims are made without checking that the owner wrote no checkpoint since it "
                "was judged dead: Redis refuses GETRANGE to this user (in the claim script); "
                "add +getrange to its ACL (busmon-agent --print-acl). Said once");
    rd->claimed = 1;
    int64_t now = bm_now_us();
    r = r->element[0];
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        const candidate *c = find(rd, id);
        const owner *ow = c ? owner_of(rd, c->owner) : NULL;
        if ((ow && ow->covered[0] && bm_stream_id_cmp(id, ow->covered) <= 0) ||
            (c && c->held_by_owner)) {
            /* applied by its owner, however often delivered: not poison */
            bm_persist_ack_unapplied(rc->persist, rd->sidx, id, strlen(id), 1);
            st->reclaimed_covered++;
        } else if (c && c->deliveries + 1 > (long long)rc->o.max_deliveries &&
                   e->element[1]->type != REDIS_REPLY_INTEGER) {
            /* XCLAIM counted this delivery too, as a read of our own pending entry does */
            if (bm_stream_input_poison(rc->in, rd->sidx, e, c->deliveries + 1, c->owner)) break;
        } else if (bm_stream_input_process(rc->in, rd->sidx, e, now, BM_ENTRY_CLAIMED) == 0) {
            st->reclaimed++;
        } else {
            break; /* out of memory: the rest stays ours and pending; read at our next reset */
        }
    }
    bm_persist_flush(rc->persist);
    bm_persist_poke(rc->persist);
    finish_round(rd);
}

/* The key of owner `name`'s checkpoint (X.claimed: X's) into key; its claims
 * mark, when mark: the key a consumer "X.claimed" would checkpoint to, and
 * X.claimed is X's claims' consumer, which never does (away.h). */
static void owner_key(const bm_reclaim *r, const char *name, int mark, char *key, size_t n)
{
    size_t base = claims_of(r, name);
    snprintf(key, n, "%s%.*s%s", r->o.state_prefix, base ? (int)base : (int)strlen(name), name,
             mark ? ".claimed" : "");
}

static void claim(round *rd)
{
    bm_reclaim *r = rd->r;
    const char *ids[ROUND_MAX];
    size_t kept = 0;
    for (size_t i = 0; i < rd->n; i++) {
        const owner *ow = owner_of(rd, rd->c[i].owner);
        /* delivered to a live owner since its checkpoint: applied there, its ack
         * waits for that owner's next checkpoint (or it is read again at the
         * owner's next reset); claimed, it would be counted twice */
        if (ow && ow->alive_since_us >= 0 && rd->c[i].idle_us < ow->alive_since_us) {
            if (!rd->recheck_us || ow->dead_in_us < rd->recheck_us) rd->recheck_us = ow->dead_in_us;
            continue;
        }
        rd->c[kept++] = rd->c[i];
    }
    rd->n = kept;
    /*
     * Per owner, behind two fences (one script, so nothing comes between):
     * its checkpoint is still the one read (one written since says it is
     * alive, and covers what we would apply), and a claim sets its mark,
     * which its next checkpoint's SET checks (away.h).
     */
    bm_claim_owner cl[OWNERS_MAX + 1];
    char keys[OWNERS_MAX + 1][2][600];
    size_t n_cl = 0, at = 0;
    for (size_t k = 0; k <= rd->n_owners; k++) {
        const owner *ow = k < rd->n_owners ? &rd->owners[k] : NULL; /* NULL: names too long */
        const char *name = ow ? ow->name : "";
        bm_claim_owner *o = &cl[n_cl];
        *o = (bm_claim_owner){"", NULL, "", 0, 0};
        for (size_t i = 0; i < rd->n; i++)
            if (!strcmp(rd->c[i].owner, name)) ids[at + o->n++] = rd->c[i].id;
        if (!o->n) continue;
        at += o->n;
        if (ow) {
            owner_key(r, name, 1, keys[n_cl][1], sizeof keys[n_cl][1]);
            o->mark = keys[n_cl][1];
        }
        if (ow && ow->read) { /* not read (no reply): claimed as before the fence */
            owner_key(r, name, 0, keys[n_cl][0], sizeof keys[n_cl][0]);
            o->key = keys[n_cl][0];
            o->seen = ow->seen;
            o->seen_len = ow->seen_len;
        }
        n_cl++;
    }
    char token[320];
    snprintf(token, sizeof token, "%s %lld %llu", r->claimer, (long long)bm_now_us(),
             (unsigned long long)++r->claims_sent);
    if (!at ||
        bm_writer_xclaim(r->w, r->o.streams[rd->sidx], r->o.group, r->claimer, r->o.min_idle_ms,
                         r->o.max_entry_bytes, token, MARK_TTL_MS, n_cl, cl, ids, on_claimed, rd))
        finish_round(rd);
}

static void on_claim_delayed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_reclaim *r = arg;
    round *rd = r->delayed;
    r->delayed = NULL;
    claim(rd);
}

/* claim(), at once but in tests (BUSMON_TEST_CLAIM_DELAY_MS): there, the
 * first round with an owner judged dead waits, so that the owner can write
 * a checkpoint between our read of it and the claim. */
static void claim_soon(round *rd)
{
    bm_reclaim *r = rd->r;
    int dead = 0;
    for (size_t k = 0; k < rd->n_owners; k++)
        dead |= rd->owners[k].read && rd->owners[k].alive_since_us < 0;
    if (r->claim_delay_ms > 0 && dead) {
        struct timeval tv = {r->claim_delay_ms / 1000, (r->claim_delay_ms % 1000) * 1000};
        r->claim_delay_ms = 0;
        bm_info("test: the claim from an owner judged dead waits %ld.%03ld s", (long)tv.tv_sec,
                (long)tv.tv_usec / 1000);
        if (!r->ev_delay) r->ev_delay = evtimer_new(bm_loop_base(r->loop), on_claim_delayed, r);
        if (r->ev_delay && !evtimer_add(r->ev_delay, &tv)) {
            r->delayed = rd;
            return;
        }
    }
    claim(rd);
}

/* Owner `base`'s checkpoint stamped stamp_us, asked for at asked_us and
 * answered at now_us (mono): its watch, updated (a new one in the place of the
 * least lately read when the table is full). */
static const watched *watch(bm_reclaim *r, const char *base, int64_t stamp_us, int64_t asked_us,
                            int64_t now_us)
{
    watched *w = NULL;
    for (size_t i = 0; i < r->n_seen && !w; i++)
        if (!strcmp(r->seen[i].name, base)) w = &r->seen[i];
    if (w && w->stamp_us != stamp_us) {
        w->before_us = w->asked_us;
        w->changed_us = now_us;
    } else if (!w) {
        if (r->n_seen < WATCHED_MAX) {
            w = &r->seen[r->n_seen++];
        } else {
            w = &r->seen[0];
            for (size_t i = 1; i < WATCHED_MAX; i++)
                if (r->seen[i].asked_us < w->asked_us) w = &r->seen[i];
        }
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%s", base);
        w->changed_us = now_us; /* no history: as if it changed now */
    }
    w->stamp_us = stamp_us;
    w->asked_us = asked_us;
    return w;
}

/* One owner's checkpoint: only its envelope (the stream ids) is read. */
typedef struct {
    round *rd;
    size_t k;
} owner_req;

static void on_owner_state(const redisReply *r, void *arg)
{
    owner_req q = *(owner_req *)arg;
    free(arg);
    round *rd = q.rd;
    owner *ow = &rd->owners[q.k];
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
        ow->read = 1; /* the claim's fence: this, unchanged (GETRANGE of none is "") */
        size_t len = r->type == REDIS_REPLY_STRING ? (size_t)r->len : 0;
        ow->seen_len = len < sizeof ow->seen ? len : sizeof ow->seen;
        if (ow->seen_len) memcpy(ow->seen, r->str, ow->seen_len);
    }
    if (r && r->type == REDIS_REPLY_STRING) {
        bm_checkpoint *c = calloc(1, sizeof *c);
        char err[128];
        /* only the envelope is read, but the whole checkpoint is checked */
        /* X.claimed's entries: those X's checkpoint lists were applied by X */
        if (c) c->keep_claimed = claims_of(rd->r, ow->name) != 0;
        if (c && bm_checkpoint_decode(r->str, (size_t)r->len, &rd->r->o.checkpoint_limits, c, err,
                                      sizeof err) == BM_CHECKPOINT_OK) {
            const char *stream = rd->r->o.streams[rd->sidx];
            for (size_t i = 0; i < c->n_claimed; i++) {
                if (strcmp(c->claimed_streams[c->claimed[i].stream], stream)) continue;
                for (size_t k = 0; k < rd->n; k++)
                    if (!strcmp(rd->c[k].owner, ow->name) && !strcmp(rd->c[k].id, c->claimed[i].id))
                        rd->c[k].held_by_owner = 1;
            }
            for (size_t i = 0; i < c->n_streams && !claims_of(rd->r, ow->name); i++)
                if (!strcmp(c->streams[i].name, stream))
                    snprintf(ow->covered, sizeof ow->covered, "%s", c->streams[i].last_id);
            /* by the owner's own interval (ours for an older agent's checkpoint),
             * timed on our clock from when we saw its checkpoint change */
            int64_t every_us =
                c->every_us > 0 ? c->every_us : rd->r->o.checkpoint_interval_ms * 1000;
            char base[sizeof ow->name];
            size_t n = claims_of(rd->r, ow->name);
            snprintf(base, sizeof base, "%.*s", n ? (int)n : (int)strlen(ow->name), ow->name);
            int64_t now = bm_mono_us();
            const watched *w = watch(rd->r, base, c->ts_us, rd->asked_us, now);
            const bm_reclaim_opts *o = &rd->r->o;
            if (now - w->changed_us < 2 * every_us && !(o->gone && o->gone(o->gone_arg, base))) {
                /* written after our read before this stamp: at most that old */
                ow->alive_since_us = w->before_us ? now - w->before_us : INT64_MAX;
                ow->dead_in_us = w->changed_us + 2 * every_us - now;
            }
        }
        if (c) free(c->claimed);
        free(c);
    }
    if (--rd->owners_out == 0) claim_soon(rd);
}

static void on_pending(const redisReply *r, void *arg)
{
    round *rd = arg;
    bm_reclaim *rc = rd->r;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        finish_round(rd);
        return;
    }
    /* [[id, consumer, idle_ms, deliveries], ...] */
    size_t acked_again = 0;
    for (size_t i = 0; i < r->elements && rd->n < ROUND_MAX; i++) {
        const redisReply *p = r->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements < 4 ||
            p->element[0]->type != REDIS_REPLY_STRING ||
            p->element[1]->type != REDIS_REPLY_STRING ||
            p->element[3]->type != REDIS_REPLY_INTEGER ||
            !strcmp(p->element[1]->str, rc->o.consumer))
            continue; /* ours are read again at our resets */
        if (!strcmp(p->element[1]->str, rc->claimer) &&
            bm_persist_claim_queued(rc->persist, rd->sidx, p->element[0]->str))
            continue; /* claimed and applied by us, its ack waits for the checkpoint */
        if (!strcmp(p->element[1]->str, rc->claimer) &&
            bm_persist_claim_acked(rc->persist, rd->sidx, p->element[0]->str)) {
            acked_again++; /* applied by us, its ack lost (or we stopped first): acked again */
            continue;
        }
        /* a name too long to look up: no checkpoint is taken as covering its entries */
        const char *name =
            (size_t)p->element[1]->len < sizeof rd->c[0].owner ? p->element[1]->str : "";
        if (name[0] && !owner_of(rd, name)) {
            if (rd->n_owners == OWNERS_MAX) { /* its checkpoint unread: not claimed this round */
                rd->more = 1;
                continue;
            }
            rd->owners[rd->n_owners].alive_since_us = -1;
            snprintf(rd->owners[rd->n_owners++].name, sizeof rd->owners[0].name, "%s", name);
        }
        candidate *c = &rd->c[rd->n++];
        snprintf(c->id, sizeof c->id, "%s", p->element[0]->str);
        snprintf(c->owner, sizeof c->owner, "%s", name);
        c->deliveries = p->element[3]->integer;
        c->idle_us = p->element[2]->type == REDIS_REPLY_INTEGER ? p->element[2]->integer * 1000 : 0;
    }
    if (acked_again) {
        bm_persist_flush(rc->persist);
        bm_persist_poke(rc->persist);
    }
    if (!rd->n) {
        finish_round(rd);
        return;
    }
    rd->full = rd->n == ROUND_MAX;
    bm_stream_input_stats_of(rc->in)->reclaim_rounds++;
    rd->owners_out = rd->n_owners;
    rd->asked_us = bm_mono_us();
    for (size_t k = 0; k < rd->n_owners; k++) {
        owner_req *q = malloc(sizeof *q);
        char key[600];
        /* X.claimed has no checkpoint: X's tells whether X is alive */
        owner_key(rc, rd->owners[k].name, 0, key, sizeof key);
        if (q) *q = (owner_req){rd, k};
        if (!q || bm_writer_get(rc->w, BM_WRITE_RECLAIM, key, on_owner_state, q)) {
            free(q);
            rd->owners_out--;
        }
    }
    if (rd->owners_out == 0) claim_soon(rd);
}

static void on_tick(void *arg)
{
    bm_reclaim *r = arg;
    if (r->busy || bm_loop_stopping(r->loop) || !bm_writer_up(r->w) ||
        !bm_stream_input_reading(r->in) || !r->o.n_streams)
        return;
    /* each claim applied is listed in every checkpoint until acked: bounded.
     * The next checkpoint acks them: looked at again soon, not an interval later */
    if (bm_persist_claims_queued(r->persist) >= BM_PERSIST_CLAIMS_QUEUED_MAX) {
        if (!r->waiting_acks) {
            struct timeval soon = {0, ACKS_WAIT_US};
            r->waiting_acks = 1;
            event_base_once(bm_loop_base(r->loop), -1, EV_TIMEOUT, on_acks_waited, r, &soon);
        }
        return;
    }
    size_t sidx = r->next_stream++ % r->o.n_streams;
    if (bm_stream_input_left_out(r->in, sidx)) return; /* a key of another type: nothing to claim */
    round *rd = calloc(1, sizeof *rd);
    if (!rd) return;
    rd->r = r;
    rd->sidx = sidx;
    r->busy = rd;
    if (bm_writer_xpending_idle(r->w, r->o.streams[rd->sidx], r->o.group, r->o.min_idle_ms,
                                ROUND_MAX, on_pending, rd))
        finish_round(rd);
}

bm_reclaim *bm_reclaim_new(const bm_reclaim_opts *o, struct bm_loop *loop, bm_writer *w,
                           bm_persist *persist, bm_stream_input *in)
{
    bm_reclaim *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->o = *o;
    r->loop = loop;
    r->w = w;
    r->persist = persist;
    r->in = in;
    snprintf(r->claimer, sizeof r->claimer, "%s.claimed", o->consumer);
    const char *delay = getenv("BUSMON_TEST_CLAIM_DELAY_MS");
    r->claim_delay_ms = delay ? atoll(delay) : 0;
    if (!(r->ev_recheck = evtimer_new(bm_loop_base(loop), on_recheck, r))) {
        free(r);
        return NULL;
    }
    if (o->interval_ms > 0 && o->n_streams) {
        /* each tick takes one stream, so every stream comes round once an interval */
        int64_t every_us = o->interval_ms * 1000 / (int64_t)o->n_streams;
        if (!bm_loop_every(loop, every_us > 1000 ? every_us : 1000, on_tick, r)) {
            event_free(r->ev_recheck);
            free(r);
            return NULL;
        }
    }
    return r;
}

void bm_reclaim_free(bm_reclaim *r)
{
    if (r) {
        event_free(r->ev_recheck);
        if (r->ev_delay) event_free(r->ev_delay);
        free(r->delayed); /* held by the test hook: no callback of its is due */
    }
    free(r); /* a round in flight belongs to its callbacks: freed when they run (NULL replies) */
}
