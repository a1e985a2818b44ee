/*
 * cluster.c - several agents, one monitor (cluster.h has the picture).
 *
 * Everything here runs on the writer connection from two timers:
 *
 *   heartbeat (1 s)  TIME -> our offset to Redis's clock (the pub/sub instants);
 *                    HSET registry me {...}; HGETALL registry -> agents[];
 *                    EVAL lease script -> the holder (me: judge)
 *   refresh          GET <state prefix><agent> for every other counted agent
 *                    -> decode its monitor (and, from the leader's partial,
 *                    its alert instances while this agent does not judge)
 *                    -> merged into a fresh `others` once every reply is in;
 *                    the leader also runs one janitor round
 *
 * Replies carry tokens freed in their callbacks; a round whose replies come
 * back NULL (the connection went) is simply dropped: the next tick retries.
 */
#include "agent/jobs/cluster.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/writer.h"
#include "agent/state/persist.h"
#include "lib/checkpoint.h"
#include "lib/trace_json.h"
#include "proto/event.h"

#define JANITOR_BATCH 500

/* The lease: take it when free, renew it when ours; the reply is the holder. */
static const char *const LEASE_SCRIPT =
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1] end "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return v";
/* Give it up when ours. */
static const char *const LEAVE_SCRIPT =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

typedef struct {
    char name[128];
    int64_t heartbeat_us; /* as it wrote it: Redis's clock as it read it (older: its wall) */
    int64_t seen_us;      /* our monotonic clock when its heartbeat last changed */
    int64_t first_us;     /* ... when we first saw it */
    int64_t every_us;     /* its heartbeat period as it wrote it (0: not said, older agent) */
    /* pub/sub: it owns its share of the messages of times in [owns_from, owns_until),
     * as it wrote them (Redis's clock: every agent compares the same numbers);
     * 0: not said (an older agent: from when it is live, until it stops) */
    int64_t owns_from_us, owns_until_us;
    int stopped;
} agent_entry;

/* the longest heartbeat period another agent's entry is believed (cluster.heartbeat's
 * own bound): a wrong value cannot keep a dead agent live for longer than 3 h */
#define EVERY_MAX_US (3600LL * 1000000)

#define LEASE_SENT_MAX 8 /* lease requests awaiting their reply, oldest first */
#define TIME_SENT_MAX  8 /* TIME requests awaiting their reply, oldest first */
#define CLOCK_SAMPLES  4 /* the last readings of Redis's clock, the most precise used */
/* two readings further apart than their round trips allow (plus this for
 * the clocks' rates): one clock stepped */
#define CLOCK_SLACK_US 2000

typedef struct refresh refresh;

struct bm_cluster {
    bm_cluster_opts o;
    struct bm_loop *loop;
    bm_writer *w;
    bm_monitor *own;
    struct alerts *engine;
    char leader[128];
    int is_leader;
    int said_refused;                   /* a partial not merged: warned once, then debug */
    int64_t lease_until;                /* mono µs: our lease surely held until then */
    int64_t lease_sent[LEASE_SENT_MAX]; /* when each request in flight was sent (mono) */
    size_t n_lease_sent;
    agent_entry agents[BM_CLUSTER_AGENTS_MAX];
    size_t n_agents;
    int have_registry;
    int64_t registry_since_us; /* mono: the first registry read (an agent seen after it is new) */
    void (*known_fn)(void *); /* bm_cluster_when_known: waits for the registry */
    void *known_arg;
    bm_monitor others; /* every other counted agent's partial, merged */
    int have_others;
    size_t n_others;
    bm_monitor leader_mon; /* the leader's partial alone (when it is another agent) */
    int have_leader_mon;
    refresh *busy;
    int left;
    /* pub/sub: this agent owns its share of the messages of times in
     * [owns_from_us, owns_until_us) (Redis's clock, µs; until: 0 while it runs) */
    int64_t owns_from_us, owns_until_us;
    /* Redis's clock as read with TIME once per heartbeat: each reading is
     * Redis's time less our monotonic clock halfway through its round trip,
     * good to half that round trip; the one of the shortest is used */
    struct {
        int64_t offset_us, rtt_us;
    } clock[CLOCK_SAMPLES];
    size_t n_clock;
    int64_t clock_offset_us;          /* the shortest one's: Redis's now is our mono + this */
    int clock_known;                  /* a reading (or TIME refused: our wall clock) */
    int time_refused;                 /* TIME answered an error: not asked again */
    int64_t time_sent[TIME_SENT_MAX]; /* mono, when each TIME in flight was sent */
    size_t n_time_sent;
    /* the others' dead-letter counts as last read, and their growth summed:
     * the judge's deadletter_rate counts every agent's */
    struct {
        char name[128];
        uint64_t count;
    } dl_seen[BM_CLUSTER_AGENTS_MAX];
    size_t n_dl_seen, dl_next_slot;
    uint64_t others_deadlettered;
    /* the janitor: one gone agent at a time, taken in turn (jan_from) */
    size_t jan_from;
    char jan_agent[128];
    char jan_next[80]; /* XRANGE from here (exclusive) */
    int64_t jan_heartbeat_us; /* its registry heartbeat when judged gone: the move's fence */
    int jan_busy;
    bm_cluster_stats stats;
};

/* ---- registry ---------------------------------------------------------------- */

static int64_t now_us(void)
{
    return bm_now_us();
}

/* Now on Redis's clock, the one every agent reads: the instants a joining
 * or stopping agent names, and the "now" a message's time is held to, so
 * agents whose own wall clocks differ still agree. Before a reading (TIME
 * refused: an ACL line from before it) our wall clock. */
static int64_t redis_now_us(const bm_cluster *c)
{
    return c->n_clock ? bm_mono_us() + c->clock_offset_us : now_us();
}

static int64_t gap_us(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

/* A reading of Redis's clock (sent: our monotonic clock when TIME went):
 * the readings it contradicts (a clock stepped since) are dropped, the
 * oldest when all are kept; the offset of the shortest round trip kept is
 * the one used (once per heartbeat, nothing per message). */
static void clock_reading(bm_cluster *c, int64_t redis_us, int64_t sent)
{
    int64_t rtt = bm_mono_us() - sent;
    int64_t offset = redis_us - (sent + rtt / 2);
    size_t n = 0;
    for (size_t i = 0; i < c->n_clock; i++)
        if (gap_us(c->clock[i].offset_us, offset) <=
            (c->clock[i].rtt_us + rtt) / 2 + CLOCK_SLACK_US)
            c->clock[n++] = c->clock[i];
    if (n == CLOCK_SAMPLES) memmove(c->clock, c->clock + 1, --n * sizeof *c->clock);
    c->clock[n].offset_us = offset;
    c->clock[n].rtt_us = rtt;
    c->n_clock = n + 1;
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (c->clock[i].rtt_us < c->clock[best].rtt_us) best = i;
    c->clock_offset_us = c->clock[best].offset_us;
}

/* How long since its heartbeat last changed, on our monotonic clock: another
 * host's wall clock (or ours jumping) never makes a live agent look gone. */
static int64_t age_us(const agent_entry *a)
{
    return bm_mono_us() - a->seen_us;
}

/* Counted: its partial is in the view (not forgotten); live: it reads now. */
static int counted(const bm_cluster *c, const agent_entry *a)
{
    return age_us(a) <= c->o.forget_us;
}

/* How long agent a's heartbeat may stay unchanged before it is stale: our
 * cluster.stale, or three of its own beats if it beats slower (agents with
 * other settings, as during a rolling change of cluster.heartbeat). */
static int64_t stale_for(const bm_cluster *c, const agent_entry *a)
{
    return a->every_us > c->o.stale_us / 3 ? 3 * a->every_us : c->o.stale_us;
}

static int live(const bm_cluster *c, const agent_entry *a)
{
    return !a->stopped && age_us(a) <= stale_for(c, a);
}

/* When we last saw agent a change its heartbeat: now if it changed (or it
 * is us); the last time if not; at first sight, what its age on Redis's
 * clock says (a gone agent is not new at our start; an older agent's wall
 * clock may be off), and first_us is now. */
static void seen_at(const bm_cluster *c, agent_entry *a, int64_t mono)
{
    a->first_us = a->seen_us = mono;
    if (!strcmp(a->name, c->o.agent)) return;
    for (size_t i = 0; i < c->n_agents; i++)
        if (!strcmp(c->agents[i].name, a->name)) {
            a->first_us = c->agents[i].first_us;
            if (c->agents[i].heartbeat_us == a->heartbeat_us) a->seen_us = c->agents[i].seen_us;
            return;
        }
    int64_t age = redis_now_us(c) - a->heartbeat_us;
    a->seen_us = mono - (age > 0 ? age : 0);
}

/* Gone for sure: not live, and watched on our own clock long enough to know
 * (its wall-clock age at first sight may be another host's skew). Only then
 * are its hand-off stream moved and its registry entry forgotten. */
static int surely_gone(const bm_cluster *c, const agent_entry *a)
{
    return !live(c, a) && bm_mono_us() - a->first_us >= stale_for(c, a);
}

/* Registry entry i of an HGETALL reply read into a (seen_at done): 0, or -1
 * when it is not a name and a value, or an agent of another group. */
static int registry_entry(const bm_cluster *c, const redisReply *r, size_t i, int64_t mono,
                          agent_entry *a)
{
    const redisReply *k = r->element[i], *v = r->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return -1;
    json_t *j = json_loadb(v->str, (size_t)v->len, 0, NULL);
    /* an agent of another consumer group reads every entry itself: not one
     * of ours (no owner, no hand-off, not ours to forget); absent: an older
     * agent, taken as ours */
    const char *group = json_string_value(json_object_get(j, "group"));
    if (group && strcmp(group, c->o.group)) {
        json_decref(j);
        return -1;
    }
    snprintf(a->name, sizeof a->name, "%s", k->str);
    a->heartbeat_us = (int64_t)json_integer_value(json_object_get(j, "heartbeat_us"));
    a->stopped = json_is_true(json_object_get(j, "stopped"));
    json_int_t every = json_integer_value(json_object_get(j, "every_us"));
    a->every_us = every > 0 && every <= EVERY_MAX_US ? (int64_t)every : 0;
    a->owns_from_us = (int64_t)json_integer_value(json_object_get(j, "owns_from_us"));
    a->owns_until_us = (int64_t)json_integer_value(json_object_get(j, "owns_until_us"));
    json_decref(j);
    seen_at(c, a, mono);
    return 0;
}

/* The registry, at most BM_CLUSTER_AGENTS_MAX agents of it: this one and
 * the live ones first, whatever order HGETALL gives (gone agents renamed at
 * each restart can fill the registry within the forget time), then the
 * others while there is room; every entry is looked at for forgetting. */
static void registry_known(bm_cluster *c)
{
    void (*fn)(void *) = c->known_fn;
    c->known_fn = NULL;
    if (fn) fn(c->known_arg);
}

static void on_registry(const redisReply *r, void *arg)
{
    bm_cluster *c = arg;
    if (!r) return;
    if (r->type != REDIS_REPLY_ARRAY) { /* refused: the inputs go on, as a lone agent */
        registry_known(c);
        return;
    }
    size_t n = 0;
    int64_t mono = bm_mono_us();
    uint64_t n_live = 0, n_counted = 0, n_left_out = 0;
    agent_entry fresh[BM_CLUSTER_AGENTS_MAX]; /* 64 x 160 bytes */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            agent_entry spare; /* full: only forgetting is left */
            agent_entry *a = n < BM_CLUSTER_AGENTS_MAX ? &fresh[n] : &spare;
            if (registry_entry(c, r, i, mono, a)) continue;
            int first = live(c, a) || !strcmp(a->name, c->o.agent);
            if (first != (pass == 0)) continue; /* taken in the other pass */
            /* one whose periods have left every window is forgotten by the
             * janitor, once its hand-off stream is moved (MOVE_SCRIPT) */
            if (a == &spare) {
                n_left_out++;
                continue;
            }
            n_live += live(c, a);
            n_counted += counted(c, a);
            n++;
        }
    memcpy(c->agents, fresh, n * sizeof *fresh);
    c->n_agents = n;
    if (!c->have_registry) c->registry_since_us = mono;
    c->have_registry = 1;
    c->stats.agents_live = n_live;
    c->stats.agents_counted = n_counted;
    c->stats.agents_left_out = n_left_out;
    registry_known(c);
}

/* Our lease is surely ours until lease_until (counted from when the request
 * that renewed it was sent, less a margin for the clocks' rates): past it,
 * with no renewal heard (Redis unreachable, this process paused), we stop
 * judging, as the agent that takes the lease then starts. */
static void check_lease(bm_cluster *c)
{
    if (!c->is_leader || bm_mono_us() < c->lease_until) return;
    c->is_leader = 0;
    c->stats.is_leader = 0;
    c->leader[0] = '\0'; /* unknown until a reply says */
    bm_warn("leader: the lease ran out without a renewal from Redis; %s",
            c->stats.agents_live > 1 ? "not judging until it is back"
                                     : "judging its own figures, as a lone agent");
}

/* When the oldest request in flight of a queue (sent, *n) went: its reply
 * is the one come (replies come in order); 0 when none was noted. */
static int64_t sent_first(int64_t *sent, size_t *n)
{
    if (!*n) return 0;
    int64_t t = sent[0];
    memmove(sent, sent + 1, --*n * sizeof *sent);
    return t;
}

static void on_lease(const redisReply *r, void *arg)
{
    bm_cluster *c = arg;
    int64_t sent = sent_first(c->lease_sent, &c->n_lease_sent);
    if (!r) return;
    int was = c->is_leader;
    if (r->type == REDIS_REPLY_STRING)
        snprintf(c->leader, sizeof c->leader, "%s", r->str);
    else if (r->type == REDIS_REPLY_ERROR)
        bm_warn("leader lease: %s", r->str);
    if (r->type == REDIS_REPLY_STRING && sent && !strcmp(c->leader, c->o.agent))
        c->lease_until = sent + c->o.lease_us - c->o.lease_us / 10;
    c->is_leader = !c->left && !strcmp(c->leader, c->o.agent);
    int late = c->is_leader && bm_mono_us() >= c->lease_until; /* renewed, but too late */
    if (late) c->is_leader = 0;
    c->stats.is_leader = (uint64_t)c->is_leader;
    if (c->is_leader && !was) {
        c->stats.leader_terms++;
        /* carry on from the last judge: its verdicts (its alert instances are
         * in the engine already, read with its partial) */
        if (c->have_leader_mon) bm_monitor_adopt_health(c->own, &c->leader_mon);
        bm_info("leader: %s judges health and alerts and publishes rollups now", c->o.agent);
    } else if (!c->is_leader && was && late) {
        bm_warn("leader: the lease's renewal came after its end (this process paused?); not "
                "judging until the next one");
    } else if (!c->is_leader && was) {
        bm_warn("leader: lost the lease to %s", c->leader[0] ? c->leader : "nobody");
    }
}

/* The heartbeat's period: the lease is renewed with it, at least three times per lease. */
static int64_t heartbeat_every_us(const bm_cluster_opts *o)
{
    return o->heartbeat_us < o->lease_us / 3 ? o->heartbeat_us : o->lease_us / 3;
}

/* How far ahead an agent names the instant its share of pub/sub changes
 * hands: every other agent reads the registry once per heartbeat, so two of
 * them pass before it comes. */
static int64_t switch_ahead_us(const bm_cluster_opts *o)
{
    return 2 * heartbeat_every_us(o);
}

/* This agent's registry value (caller frees; NULL: out of memory). The first
 * one names when it starts to own its share of pub/sub messages: ahead, so
 * the agents that count that share now have read it by then. */
static char *registry_value(bm_cluster *c, int stopped)
{
    if (!c->owns_from_us) c->owns_from_us = redis_now_us(c) + switch_ahead_us(&c->o);
    json_t *j = json_pack("{s:I, s:I, s:b, s:s, s:I}", "heartbeat_us", (json_int_t)redis_now_us(c),
                          "every_us", (json_int_t)(stopped ? 0 : heartbeat_every_us(&c->o)),
                          "stopped", stopped, "group", c->o.group ? c->o.group : "", "owns_from_us",
                          (json_int_t)c->owns_from_us);
    if (j && c->owns_until_us)
        json_object_set_new(j, "owns_until_us", json_integer((json_int_t)c->owns_until_us));
    char *v = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return v;
}

/* The heartbeat's writes and reads once Redis's clock is known. */
static void beat(bm_cluster *c)
{
    char *v = registry_value(c, 0);
    const char *f[1] = {c->o.agent}, *vv[1] = {v};
    if (v) bm_writer_hset(c->w, BM_WRITE_CLUSTER, c->o.registry_key, 1, f, NULL, vv, NULL, NULL, NULL);
    free(v);
    c->stats.heartbeats++;
    bm_writer_hgetall(c->w, BM_WRITE_CLUSTER, c->o.registry_key, on_registry, c);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(c->o.lease_us / 1000));
    const char *args[2] = {c->o.agent, ttl};
    if (c->n_lease_sent == LEASE_SENT_MAX) return; /* replies overdue: wait for them */
    int64_t t = bm_mono_us();
    if (bm_writer_eval1(c->w, BM_WRITE_CLUSTER, LEASE_SCRIPT, c->o.leader_key, 2, args, on_lease,
                        c) == 0)
        c->lease_sent[c->n_lease_sent++] = t;
}

static void on_time(const redisReply *r, void *arg)
{
    bm_cluster *c = arg;
    int64_t sent = sent_first(c->time_sent, &c->n_time_sent);
    if (!r) return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        sent)
        clock_reading(c,
                      strtoll(r->element[0]->str, NULL, 10) * 1000000 +
                          strtoll(r->element[1]->str, NULL, 10),
                      sent);
    else if (!c->time_refused++) /* refused (a denial: the writer told the ACL tracker) */
        bm_warn("cluster: Redis's clock could not be read (TIME: %s): pub/sub hands over at "
                "instants of this host's wall clock, exact only while the agents' clocks agree",
                r->type == REDIS_REPLY_ERROR ? r->str : "not two numbers");
    if (c->clock_known || c->left || !bm_writer_up(c->w)) return;
    c->clock_known = 1; /* the first heartbeat waited for it: registered now */
    beat(c);
}

static void on_heartbeat(void *arg)
{
    bm_cluster *c = arg;
    check_lease(c);
    if (c->left || !bm_writer_up(c->w)) return;
    int64_t t = bm_mono_us();
    if (!c->time_refused && c->n_time_sent < TIME_SENT_MAX &&
        bm_writer_time(c->w, BM_WRITE_CLUSTER, on_time, c) == 0)
        c->time_sent[c->n_time_sent++] = t;
    /* the first registry entry names an instant on Redis's clock: it waits
     * for the first reading (on_time) */
    if (c->clock_known) beat(c);
}

void bm_cluster_when_known(bm_cluster *c, void (*fn)(void *), void *arg)
{
    if (c->have_registry) {
        fn(arg);
        return;
    }
    c->known_fn = fn;
    c->known_arg = arg;
    on_heartbeat(c); /* registered and read now, not a heartbeat later */
}

/* ---- partials ------------------------------------------------------------------- */

struct refresh {
    bm_cluster *c;
    size_t out;
    int lost;
    bm_monitor merged;
    bm_monitor leader_mon;
    int have_leader_mon;
    size_t n;
};

typedef struct {
    refresh *rf;
    char name[128];
} partial_req;

static int monitor_like(const bm_cluster *c, bm_monitor *m)
{
    if (bm_monitor_init(m, &c->o.wcfg, c->o.max_patterns)) return -1;
    if (bm_monitor_set_metrics(m, &c->o.mcfg)) {
        bm_monitor_deinit(m);
        return -1;
    }
    return 0;
}

static void refresh_done(refresh *rf)
{
    bm_cluster *c = rf->c;
    c->busy = NULL;
    if (!rf->lost) {
        if (c->have_others) bm_monitor_deinit(&c->others);
        c->others = rf->merged;
        c->have_others = 1;
        c->n_others = rf->n;
        if (c->have_leader_mon) bm_monitor_deinit(&c->leader_mon);
        c->have_leader_mon = rf->have_leader_mon;
        if (rf->have_leader_mon) c->leader_mon = rf->leader_mon;
        c->stats.refreshes++;
    } else {
        bm_monitor_deinit(&rf->merged);
        if (rf->have_leader_mon) bm_monitor_deinit(&rf->leader_mon);
    }
    free(rf);
}

/* Did agent `name` come into the registry after this agent first read it?
 * Then it started since, and all it counts is recent. */
/* Agent `name` as the registry was last read, or NULL. */
static const agent_entry *registered(const bm_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->n_agents; i++)
        if (!strcmp(c->agents[i].name, name)) return &c->agents[i];
    return NULL;
}

/* Agent `name`'s checkpoint says it dead-lettered `count` since it started:
 * what it adds since its last one is summed (a count that went down is a
 * restart: all of it is new). An agent seen for the first time adds
 * nothing, its past is not the last minute's, unless it came into the
 * registry after this agent first read it: it started since, so all of it
 * is new (a burst before its first checkpoint read here would be left out). */
static void note_deadlettered(bm_cluster *c, const char *name, uint64_t count)
{
    for (size_t i = 0; i < c->n_dl_seen; i++) {
        if (strcmp(c->dl_seen[i].name, name)) continue;
        c->others_deadlettered +=
            count >= c->dl_seen[i].count ? count - c->dl_seen[i].count : count;
        c->dl_seen[i].count = count;
        return;
    }
    size_t i = c->n_dl_seen;
    if (i < BM_CLUSTER_AGENTS_MAX) {
        c->n_dl_seen++;
    } else { /* full: an agent no longer registered gives its place, else in turn */
        i = c->dl_next_slot++ % BM_CLUSTER_AGENTS_MAX;
        for (size_t k = 0; k < BM_CLUSTER_AGENTS_MAX; k++)
            if (!registered(c, c->dl_seen[k].name)) {
                i = k;
                break;
            }
    }
    snprintf(c->dl_seen[i].name, sizeof c->dl_seen[i].name, "%s", name);
    c->dl_seen[i].count = count;
    const agent_entry *a = registered(c, name);
    if (a && a->first_us > c->registry_since_us) c->others_deadlettered += count;
}

uint64_t bm_cluster_others_deadlettered(const bm_cluster *c)
{
    return c ? c->others_deadlettered : 0;
}

static void on_partial(const redisReply *r, void *arg)
{
    partial_req q = *(partial_req *)arg;
    free(arg);
    refresh *rf = q.rf;
    bm_cluster *c = rf->c;
    if (!r) {
        rf->lost = 1;
    } else if (r->type == REDIS_REPLY_STRING) {
        int is_leader_partial = !strcmp(q.name, c->leader);
        bm_monitor tmp;
        bm_checkpoint *ck = calloc(1, sizeof *ck);
        char err[160];
        if (ck && monitor_like(c, &tmp) == 0) {
            ck->monitor = &tmp;
            /* the judge's alert instances, for /api/alerts and a takeover */
            ck->alerts = is_leader_partial && !c->is_leader ? c->engine : NULL;
            if (bm_checkpoint_decode(r->str, (size_t)r->len, &c->o.checkpoint_limits, ck, err,
                                     sizeof err) == BM_CHECKPOINT_OK) {
                bm_monitor_merge(&rf->merged, &tmp);
                note_deadlettered(c, q.name, ck->deadlettered);
                c->stats.partials_read++;
                rf->n++;
                if (is_leader_partial && !rf->have_leader_mon) {
                    rf->leader_mon = tmp;
                    rf->have_leader_mon = 1;
                } else {
                    bm_monitor_deinit(&tmp);
                }
            } else {
                c->stats.partials_refused++;
                if (!c->said_refused++)
                    bm_warn("partial of %s not merged: %s; the cluster's figures miss that agent "
                            "while it is refused (counted in cluster.partials_refused; its "
                            "worker_monitoring.max_workers, baselines.max_keys and windows should "
                            "be this agent's); said once",
                            q.name, err);
                else
                    bm_debug("partial of %s not merged: %s", q.name, err);
                bm_monitor_deinit(&tmp);
            }
        }
        free(ck);
    }
    if (--rf->out == 0) refresh_done(rf);
}

/* ---- the janitor ------------------------------------------------------------------- */

static const char *owner_of(const bm_cluster *c, const char *tx);

/* A batch of a gone agent's hand-off stream moves in one script, fenced: only
 * while the agent's registry heartbeat is still the one it was judged gone
 * with. An agent writes its heartbeat before it reads its hand-off stream
 * (bm_cluster_when_known), so either the whole batch is copied and deleted
 * before it can read, or nothing is: no entry is applied by it and by the
 * agent given the copy. KEYS: the registry, the gone agent's stream, the
 * targets; ARGV: its name, that heartbeat, then per entry its id and the
 * index in KEYS of its target (0: copied already, only deleted). No entry:
 * the stream, all moved, is deleted. Reply: -1 when the agent came back,
 * else how many entries moved. An entry absent from the registry (forgotten)
 * is gone: only coming back writes it. The last call, with no entry, may
 * give a third ARGV, 1: the agent is forgotten (its registry entry deleted)
 * with its stream, so no agent is forgotten before its stream is moved (an
 * agent forgotten first was never moved: its entries stranded). */
static const char *const MOVE_SCRIPT =
    "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if v and (string.match(v, '\"heartbeat_us\":%s*(%-?%d+)') or '0') ~= ARGV[2] then "
    "return -1 end "
    "if #ARGV <= 3 then redis.call('DEL', KEYS[2]) "
    "if ARGV[3] == '1' then redis.call('HDEL', KEYS[1], ARGV[1]) end return 0 end "
    "local moved = 0 "
    "for i = 3, #ARGV, 2 do "
    "local e = redis.call('XRANGE', KEYS[2], ARGV[i], ARGV[i])[1] "
    "local k = tonumber(ARGV[i + 1]) "
    "if e and k > 0 then "
    "local f = e[2] "
    "local a = {'XADD', KEYS[k], 'MAXLEN', '~', '1000000', '*'} "
    "if f[1] ~= '" BM_HANDOFF_ID_FIELD "' then a[7] = '" BM_HANDOFF_ID_FIELD "' a[8] = ARGV[i] end "
    "for j = 1, #f do a[#a + 1] = f[j] end "
    "redis.call(unpack(a)) "
    "end "
    "if e then redis.call('XDEL', KEYS[2], ARGV[i]) moved = moved + 1 end "
    "end "
    "return moved";

/* An entry of more fields than a script passes on (Lua's stack holds about
 * 8,000 values) is copied by XADD ahead of the script, which deletes it:
 * that entry alone is copied unfenced. */
#define JANITOR_SCRIPT_FIELDS 3000
#define JANITOR_TARGETS       (BM_CLUSTER_AGENTS_MAX + 1) /* every owner, and this agent */

typedef struct {
    bm_cluster *c;
    char agent[128];
    char last[64]; /* the batch's last id ("": the stream's deletion) */
} jan_batch;

static void on_moved(const redisReply *r, void *arg)
{
    jan_batch *b = arg;
    bm_cluster *c = b->c;
    int same = !strcmp(c->jan_agent, b->agent);
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        if (same) {
            bm_info("janitor: %s came back; its hand-off stream is its own again", b->agent);
            c->jan_agent[0] = '\0';
        }
    } else if (r && r->type == REDIS_REPLY_INTEGER) {
        c->stats.handoff_moved += (uint64_t)r->integer;
        if (same && b->last[0])
            snprintf(c->jan_next, sizeof c->jan_next, "(%s", b->last);
        else if (same)
            c->jan_agent[0] = '\0'; /* all moved, the stream deleted */
    } /* else refused or the connection gone: the batch is taken again */
    c->jan_busy = 0;
    free(b);
}

static void on_gone_stream(const redisReply *r, void *arg);

/* What its checkpoint holds was applied by it: move what is after. */
static void on_gone_state(const redisReply *r, void *arg)
{
    bm_cluster *c = arg;
    char stream[512];
    snprintf(stream, sizeof stream, "%s%s", c->o.handoff_prefix, c->jan_agent);
    snprintf(c->jan_next, sizeof c->jan_next, "-");
    if (!r) {
        c->jan_busy = 0;
        return;
    }
    if (r->type == REDIS_REPLY_STRING) {
        bm_checkpoint *ck = calloc(1, sizeof *ck);
        char err[128];
        if (ck && bm_checkpoint_decode(r->str, (size_t)r->len, &c->o.checkpoint_limits, ck, err,
                                       sizeof err) == BM_CHECKPOINT_OK)
            for (size_t i = 0; i < ck->n_streams; i++)
                if (!strcmp(ck->streams[i].name, stream) && ck->streams[i].last_id[0])
                    snprintf(c->jan_next, sizeof c->jan_next, "(%s", ck->streams[i].last_id);
        free(ck);
    }
    if (bm_writer_xrange(c->w, BM_WRITE_CLUSTER, stream, c->jan_next, "+", JANITOR_BATCH,
                         on_gone_stream, c))
        c->jan_busy = 0;
}

/* The gone agent `name`'s periods have left every window (or it has left
 * the registry): its entry goes with its moved stream. */
static int forgettable(const bm_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->n_agents; i++)
        if (!strcmp(c->agents[i].name, name))
            return age_us(&c->agents[i]) > c->o.forget_us && surely_gone(c, &c->agents[i]);
    return 1;
}

static void on_gone_stream(const redisReply *r, void *arg)
{
    bm_cluster *c = arg;
    char stream[512];
    snprintf(stream, sizeof stream, "%s%s", c->o.handoff_prefix, c->jan_agent);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        c->jan_busy = 0;
        return;
    }
    jan_batch *b = calloc(1, sizeof *b);
    bm_decoder *d = bm_decoder_new(&c->o.decode_limits); /* as the agent's own reads */
    const char **args = malloc((3 + 2 * r->elements) * sizeof *args);
    char(*index)[24] = malloc((r->elements + 1) * sizeof *index);
    char(*targets)[512] = malloc(JANITOR_TARGETS * sizeof *targets);
    const char *keys[2 + JANITOR_TARGETS];
    char heartbeat[24];
    size_t n_args = 2, n_targets = 0;
    int failed = !b || !d || !args || !index || !targets;
    if (!failed) {
        b->c = c;
        snprintf(b->agent, sizeof b->agent, "%s", c->jan_agent);
        snprintf(heartbeat, sizeof heartbeat, "%lld", (long long)c->jan_heartbeat_us);
        keys[0] = c->o.registry_key;
        keys[1] = stream;
        args[0] = c->jan_agent;
        args[1] = heartbeat;
        if (r->elements == 0) args[n_args++] = forgettable(c, c->jan_agent) ? "1" : "0";
    }
    for (size_t i = 0; !failed && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        snprintf(b->last, sizeof b->last, "%s", e->element[0]->str);
        const redisReply *fv = e->element[1];
        size_t n = fv->elements / 2;
        if (n == 0) continue; /* a stream entry has a field: not one */
        /* every field, however many: the entry moves whole, after the id
         * of the entry it carries (this one's, when it says none) */
        const char **f = malloc(2 * (n + 1) * sizeof *f);
        size_t *fl = malloc(2 * (n + 1) * sizeof *fl);
        if (!f || !fl) {
            free(f);
            free(fl);
            failed = 1; /* out of memory: the batch is taken again */
            break;
        }
        const char **v = f + n + 1;
        size_t *vl = fl + n + 1;
        f[0] = BM_HANDOFF_ID_FIELD, fl[0] = strlen(BM_HANDOFF_ID_FIELD);
        v[0] = e->element[0]->str, vl[0] = (size_t)e->element[0]->len;
        size_t from = fv->element[0]->len == fl[0] &&
                      !memcmp(fv->element[0]->str, BM_HANDOFF_ID_FIELD, fl[0]);
        for (size_t k = from; k < n; k++) {
            f[k + 1 - from] = fv->element[2 * k]->str;
            fl[k + 1 - from] = (size_t)fv->element[2 * k]->len;
            v[k + 1 - from] = fv->element[2 * k + 1]->str;
            vl[k + 1 - from] = (size_t)fv->element[2 * k + 1]->len;
        }
        if (from) v[0] = fv->element[1]->str, vl[0] = (size_t)fv->element[1]->len;
        /* an entry that does not decode here (an agent of other limits
         * forwarded it) goes to this agent's own stream, whose reader
         * dead-letters it with its reason: moved, never dropped */
        bm_event ev;
        const char *owner =
            bm_decode_entry(d, n - from, f + 1, fl + 1, v + 1, vl + 1, &ev) == BM_DECODE_OK
                ? owner_of(c, ev.tx)
                : NULL;
        char target[512];
        snprintf(target, sizeof target, "%s%s", c->o.handoff_prefix, owner ? owner : c->o.agent);
        size_t t = 0;
        while (t < n_targets && strcmp(targets[t], target))
            t++;
        if (t == n_targets) memcpy(targets[n_targets++], target, sizeof target);
        keys[2 + t] = targets[t];
        size_t k = 3 + t; /* its target in KEYS (from 1) */
        if (n > JANITOR_SCRIPT_FIELDS) {
            k = 0;
            failed = bm_writer_xadd(c->w, BM_WRITE_CLUSTER, target, 1000000, n + 1 - from, f, fl, v,
                                    vl, NULL, NULL) != 0;
        }
        free(f);
        free(fl);
        snprintf(index[i], sizeof index[i], "%zu", k);
        args[n_args++] = e->element[0]->str;
        args[n_args++] = index[i];
    }
    /* the writer copies the arguments: they are freed once it is sent */
    if (failed || bm_writer_eval(c->w, BM_WRITE_CLUSTER, MOVE_SCRIPT, 2 + n_targets, keys, n_args,
                                 args, on_moved, b)) {
        free(b);
        c->jan_busy = 0;
    }
    bm_decoder_free(d);
    free(args);
    free(index);
    free(targets);
}

/* One round: the first gone agent with a hand-off stream, one batch. */
static void janitor(bm_cluster *c)
{
    if (c->jan_busy) return;
    for (size_t i = 0; c->jan_agent[0] && i < c->n_agents; i++)
        if (!strcmp(c->agents[i].name, c->jan_agent) && live(c, &c->agents[i]))
            c->jan_agent[0] = '\0'; /* it came back: its stream is its own again */
    if (!c->jan_agent[0]) {         /* the next gone agent after the last one taken */
        for (size_t k = 0; k < c->n_agents; k++) {
            size_t i = (c->jan_from + k) % c->n_agents;
            if (surely_gone(c, &c->agents[i]) && strcmp(c->agents[i].name, c->o.agent)) {
                snprintf(c->jan_agent, sizeof c->jan_agent, "%s", c->agents[i].name);
                c->jan_heartbeat_us = c->agents[i].heartbeat_us; /* the fence */
                c->jan_next[0] = '\0';
                c->jan_from = i + 1;
                break;
            }
        }
        if (!c->jan_agent[0]) return;
    }
    c->jan_busy = 1;
    if (!c->jan_next[0]) { /* first: where its checkpoint stops */
        char key[512];
        snprintf(key, sizeof key, "%s%s", c->o.state_prefix, c->jan_agent);
        if (bm_writer_get(c->w, BM_WRITE_CLUSTER, key, on_gone_state, c)) c->jan_busy = 0;
        return;
    }
    char stream[512];
    snprintf(stream, sizeof stream, "%s%s", c->o.handoff_prefix, c->jan_agent);
    if (bm_writer_xrange(c->w, BM_WRITE_CLUSTER, stream, c->jan_next, "+", JANITOR_BATCH,
                         on_gone_stream, c))
        c->jan_busy = 0;
}

static void on_refresh(void *arg)
{
    bm_cluster *c = arg;
    check_lease(c);
    if (c->left || c->busy || !bm_writer_up(c->w) || !c->have_registry) return;
    if (c->is_leader) janitor(c);
    size_t others = 0;
    for (size_t i = 0; i < c->n_agents; i++)
        others += strcmp(c->agents[i].name, c->o.agent) && counted(c, &c->agents[i]);
    if (!others) {
        if (c->have_others) bm_monitor_deinit(&c->others);
        if (c->have_leader_mon) bm_monitor_deinit(&c->leader_mon);
        c->have_others = c->have_leader_mon = 0;
        c->n_others = 0;
        return;
    }
    refresh *rf = calloc(1, sizeof *rf);
    if (!rf) return;
    rf->c = c;
    if (monitor_like(c, &rf->merged)) {
        free(rf);
        return;
    }
    c->busy = rf;
    rf->out = 1;
    for (size_t i = 0; i < c->n_agents; i++) {
        const agent_entry *a = &c->agents[i];
        if (!strcmp(a->name, c->o.agent) || !counted(c, a)) continue;
        partial_req *q = malloc(sizeof *q);
        char key[512];
        snprintf(key, sizeof key, "%s%s", c->o.state_prefix, a->name);
        if (!q) continue;
        q->rf = rf;
        snprintf(q->name, sizeof q->name, "%s", a->name);
        if (bm_writer_get(c->w, BM_WRITE_CLUSTER, key, on_partial, q) == 0)
            rf->out++;
        else
            free(q);
    }
    if (--rf->out == 0) refresh_done(rf);
}

/* ---- ownership ---------------------------------------------------------------------- */

/* FNV-1a over the agent's name, a NUL and the transaction id. */
static uint64_t weight(const char *agent, const char *tx)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)agent;; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
        if (!*p) break;
    }
    for (const unsigned char *p = (const unsigned char *)tx; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static const char *owner_of(const bm_cluster *c, const char *tx)
{
    const char *best = c->o.agent;
    uint64_t best_w = weight(c->o.agent, tx);
    for (size_t i = 0; i < c->n_agents; i++) {
        const agent_entry *a = &c->agents[i];
        if (!strcmp(a->name, c->o.agent) || !live(c, a)) continue;
        uint64_t wgt = weight(a->name, tx);
        if (wgt > best_w || (wgt == best_w && strcmp(a->name, best) < 0)) {
            best = a->name;
            best_w = wgt;
        }
    }
    return best == c->o.agent ? NULL : best;
}

int bm_cluster_gone(const bm_cluster *c, const char *agent)
{
    if (!c || !c->have_registry) return 0;
    /* stale, and watched that long on our clock: at first sight its age is
     * its wall clock against ours, and a host behind ours is not dead */
    for (size_t i = 0; i < c->n_agents; i++) {
        const agent_entry *a = &c->agents[i];
        if (!strcmp(a->name, agent))
            return age_us(a) > stale_for(c, a) && bm_mono_us() - a->first_us >= stale_for(c, a);
    }
    return 0;
}

const char *bm_cluster_owner(const bm_cluster *c, const char *tx)
{
    return c && !c->left ? owner_of(c, tx) : NULL;
}

/* Does agent a own a share of the pub/sub messages of time t? A joining one
 * from the instant it named, a stopping one until the instant it named (while
 * not stale: a value never rewritten is not believed for ever). */
static int owns_pubsub_at(const bm_cluster *c, const agent_entry *a, int64_t t)
{
    if (a->owns_from_us > t) return 0;
    if (!a->stopped) return live(c, a);
    return a->owns_until_us > t && age_us(a) <= stale_for(c, a);
}

const char *bm_cluster_pubsub_owner(const bm_cluster *c, const char *key, int64_t t_us)
{
    if (!c) return NULL;
    /* the message's instant: its own time, so that every agent takes the same
     * one, but not after now (every switch up to now is known here) nor long
     * before (a stopped agent counts the times before its end for a while
     * only); "now" is Redis's clock, as the instants, so agents whose wall
     * clocks differ agree; a message without a time: when it came */
    int64_t now = redis_now_us(c), lag = heartbeat_every_us(&c->o);
    int64_t t = t_us <= 0 || t_us > now ? now : t_us < now - lag ? now - lag : t_us;
    const char *best = NULL;
    uint64_t best_w = 0;
    if (c->owns_from_us <= t && (!c->left || c->owns_until_us > t)) {
        best = c->o.agent;
        best_w = weight(c->o.agent, key);
    }
    for (size_t i = 0; i < c->n_agents; i++) {
        const agent_entry *a = &c->agents[i];
        if (!strcmp(a->name, c->o.agent) || !owns_pubsub_at(c, a, t)) continue;
        uint64_t wgt = weight(a->name, key);
        if (!best || wgt > best_w || (wgt == best_w && strcmp(a->name, best) < 0)) {
            best = a->name;
            best_w = wgt;
        }
    }
    if (!best) return c->left ? NULL : owner_of(c, key); /* nobody yet (all just started) */
    return best == c->o.agent ? NULL : best;
}

/* ---- the view ------------------------------------------------------------------------ */

static bm_monitor *view_acquire(void *arg)
{
    bm_cluster *c = arg;
    if (!c->have_others) return c->own; /* alone: the own monitor as it is */
    /* the view is rolled up, not the own monitor: watch that from now, or a
     * quiet start would not count towards its rates (bm_monitor_watch) */
    bm_monitor_watch(c->own, now_us());
    bm_monitor *t = malloc(sizeof *t);
    if (!t || monitor_like(c, t)) {
        free(t);
        return NULL;
    }
    bm_monitor_merge(t, &c->others);
    bm_monitor_merge(t, c->own);
    /* the health the judge gave: mine when I judge, else the leader's partial's */
    if (c->is_leader)
        bm_monitor_adopt_health(t, c->own);
    else if (c->have_leader_mon)
        bm_monitor_adopt_health(t, &c->leader_mon);
    return t;
}

static void view_release(void *arg, bm_monitor *m)
{
    bm_cluster *c = arg;
    if (!m || m == c->own) return;
    bm_monitor_deinit(m);
    free(m);
}

/* The lease holder judges. With no holder known (no Redis yet, or our lease
 * ran out unrenewed) an agent that saw no other live one judges its own
 * figures as a lone agent would; one that saw others does not: the one
 * that holds the lease now judges, and two judges would notify twice. */
static int view_judge(void *arg)
{
    bm_cluster *c = arg;
    check_lease(c);
    return !c->left && (c->is_leader || (!c->leader[0] && c->stats.agents_live <= 1));
}

static void view_judged(void *arg, bm_monitor *m)
{
    bm_cluster *c = arg;
    if (m && m != c->own) bm_monitor_adopt_health(c->own, m); /* kept in my checkpoint */
}

bm_view bm_cluster_view(bm_cluster *c)
{
    bm_view v = {view_acquire, view_release, view_judge, view_judged, c};
    return v;
}

/* ---- life ----------------------------------------------------------------------------- */

bm_cluster *bm_cluster_new(const bm_cluster_opts *o, struct bm_loop *loop, bm_writer *w,
                           bm_monitor *own, struct alerts *engine)
{
    bm_cluster *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->o = *o;
    c->loop = loop;
    c->w = w;
    c->own = own;
    c->engine = engine;
    /* a heartbeat is seen to change once per beat of the writer and one of the
     * reader: stale within three beats, a live agent would be taken for gone */
    int64_t beat = heartbeat_every_us(o);
    if (c->o.stale_us < 3 * beat) {
        c->o.stale_us = 3 * beat;
        bm_warn("cluster.stale (%lld ms) is shorter than three heartbeats (%lld ms each): an "
                "agent is taken as stale after %lld ms",
                (long long)(o->stale_us / 1000), (long long)(beat / 1000),
                (long long)(c->o.stale_us / 1000));
    }
    return c;
}

void bm_cluster_set_engine(bm_cluster *c, struct alerts *engine)
{
    c->engine = engine;
}

int bm_cluster_start(bm_cluster *c)
{
    if (!bm_loop_every(c->loop, heartbeat_every_us(&c->o), on_heartbeat, c) ||
        !bm_loop_every(c->loop, c->o.refresh_us, on_refresh, c))
        return -1;
    return 0;
}

void bm_cluster_free(bm_cluster *c)
{
    if (!c) return;
    if (c->have_others) bm_monitor_deinit(&c->others);
    if (c->have_leader_mon) bm_monitor_deinit(&c->leader_mon);
    free(c);
}

int64_t bm_cluster_leave(bm_cluster *c)
{
    if (!c || c->left) return 0;
    c->left = 1;
    c->is_leader = 0;
    c->stats.is_leader = 0;
    if (!bm_writer_up(c->w)) return 0;
    /* others live: they take this agent's share of pub/sub at an instant
     * named ahead, and it counts that share until then (and a heartbeat
     * more, for messages of times before it that come late) */
    int64_t linger = 0;
    if (c->stats.agents_live > 1) {
        c->owns_until_us = redis_now_us(c) + switch_ahead_us(&c->o);
        linger = switch_ahead_us(&c->o) + heartbeat_every_us(&c->o);
    }
    char *v = registry_value(c, 1);
    const char *f[1] = {c->o.agent}, *vv[1] = {v};
    if (v) bm_writer_hset(c->w, BM_WRITE_CLUSTER, c->o.registry_key, 1, f, NULL, vv, NULL, NULL, NULL);
    free(v);
    const char *args[1] = {c->o.agent};
    bm_writer_eval1(c->w, BM_WRITE_CLUSTER, LEAVE_SCRIPT, c->o.leader_key, 1, args, NULL, NULL);
    return linger;
}

const char *bm_cluster_leader(const bm_cluster *c)
{
    return c ? c->leader : "";
}

int bm_cluster_is_leader(const bm_cluster *c)
{
    return c && c->is_leader && bm_mono_us() < c->lease_until;
}

json_t *bm_cluster_agents_json(const bm_cluster *c)
{
    json_t *arr = json_array();
    int me_listed = 0;
    for (size_t i = 0; c && arr && i < c->n_agents; i++) {
        const agent_entry *a = &c->agents[i];
        if (!counted(c, a)) continue;
        char when[48];
        bm_format_time_us(a->heartbeat_us, 'T', when, sizeof when);
        int me = !strcmp(a->name, c->o.agent);
        me_listed |= me;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:b, s:b, s:b}", "name", a->name,
                                             "heartbeat", when, "age_s", (double)age_us(a) / 1e6,
                                             "live", live(c, a), "leader",
                                             !strcmp(a->name, c->leader), "me", me));
    }
    if (c && arr && !me_listed)
        json_array_append_new(arr, json_pack("{s:s, s:n, s:f, s:b, s:b, s:b}", "name", c->o.agent,
                                             "heartbeat", "age_s", 0.0, "live", 1, "leader",
                                             c->is_leader, "me", 1));
    return arr;
}

void bm_cluster_get_stats(const bm_cluster *c, bm_cluster_stats *out)
{
    *out = c->stats;
}
