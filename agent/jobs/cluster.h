/*
 * cluster.h - several agents on one consumer group, one monitor.
 *
 * Each agent's state is a partial: its checkpoint (busmon:state:<consumer>,
 * state/persist.h), which outlives the agent while its periods are in the
 * window. This module makes the agents one:
 *
 *   registry   every second HSET busmon:agents <me> {heartbeat}; HGETALL it:
 *              live agents (heartbeat within cluster.stale), and every agent
 *              whose partial still counts (within the largest window)
 *   partials   every refresh, each other agent's checkpoint is read and its
 *              monitor merged into `others` (counts add, sketches merge
 *              bucket by bucket, min/max combine, last seen the latest)
 *   view       others + my own live monitor, with the judge's health: what
 *              the publisher, alerting and the HTTP API read (state/view.h)
 *   leader     one judge: SET busmon:leader <me> NX PX lease, renewed by a
 *              one-key script every lease/3; the holder judges health,
 *              evaluates alerts and publishes the merged rollups; another
 *              agent takes over within two lease periods, with the alert
 *              instances and the health verdicts of the last leader's partial
 *   ownership  a transaction belongs to one live agent (rendezvous hashing of
 *              its id over the live agents' names): an event read by another
 *              agent is handed to the owner through busmon:handoff:<owner>,
 *              so a command and its answer always meet (durations, in-flight
 *              counts, timeouts); a pub/sub event is applied by its owner only,
 *              the owner at the message's time: a joining or stopping agent's
 *              share changes hands at an instant it names ahead in the registry,
 *              on Redis's clock (TIME), so hosts' wall clocks may differ
 *   janitor    the leader moves what waits in a gone agent's hand-off stream
 *              (after what its checkpoint holds) to the transactions' owners
 *
 * Alone (no other agent in the registry) every shortcut applies: the view is
 * the own monitor, everything is owned, nothing is read from Redis.
 */
#ifndef BM_JOBS_CLUSTER_H
#define BM_JOBS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state/view.h"
#include "lib/checkpoint.h"
#include "lib/monitor.h"
#include "proto/event.h"

struct bm_loop;
struct bm_writer;
struct alerts;
struct json_t;

#define BM_CLUSTER_AGENTS_MAX 64

typedef struct {
    const char *agent;          /* me: the consumer name (borrowed) */
    const char *group;          /* the consumer group (hand-off streams too) */
    const char *registry_key;   /* "busmon:agents" */
    const char *leader_key;     /* "busmon:leader" */
    const char *state_prefix;   /* "busmon:state:" */
    const char *handoff_prefix; /* "busmon:handoff:" */
    int64_t heartbeat_us;       /* 1 s */
    int64_t stale_us;           /* not live after this without a heartbeat: 5 s */
    int64_t forget_us;          /* a partial counts this long after its last heartbeat */
    int64_t lease_us;           /* the leader's lease: 10 s */
    int64_t refresh_us;         /* partials read again this often */
    worker_stats_config wcfg;   /* to make monitors like the own one */
    size_t max_patterns;
    custom_metrics_config mcfg; /* the business metrics table's (lib/custom_metrics.h) */
    bm_checkpoint_limits checkpoint_limits; /* the others' checkpoints: what an agent of this
                                               configuration writes (bm_checkpoint_limits_for) */
    bm_decode_limits decode_limits; /* the agent's entry limits: the janitor finds an entry's
                                       owner with them */
} bm_cluster_opts;

typedef struct {
    uint64_t heartbeats;        /* registry writes */
    uint64_t refreshes;         /* rounds of partials read */
    uint64_t partials_read;     /* other agents' checkpoints merged */
    uint64_t partials_refused;  /* ... that did not decode (another version, corrupt) */
    uint64_t leader_terms;      /* times this agent became the leader */
    uint64_t handoff_moved;     /* entries the janitor moved from gone agents' hand-off streams */
    uint64_t agents_live;       /* gauge */
    uint64_t agents_counted;    /* gauge: agents whose partial is in the view (me included) */
    uint64_t agents_left_out;   /* gauge: registry entries past BM_CLUSTER_AGENTS_MAX, not read */
    uint64_t is_leader;         /* gauge */
} bm_cluster_stats;

typedef struct bm_cluster bm_cluster;

/* On loop, through w, with the own monitor `own` and the alert engine
 * `engine` (may be NULL), all borrowed. @return or NULL (out of memory). */
bm_cluster *bm_cluster_new(const bm_cluster_opts *o, struct bm_loop *loop, struct bm_writer *w,
                           bm_monitor *own, struct alerts *engine);
/* The alert engine, once alerting is made (it reads the view). */
void bm_cluster_set_engine(bm_cluster *c, struct alerts *engine);
/* Free after the writer's connection is gone (replies name it). */
void bm_cluster_free(bm_cluster *c);
int bm_cluster_start(bm_cluster *c);

/* The view of state/view.h over this cluster. */
bm_view bm_cluster_view(bm_cluster *c);

/* Call fn(arg) once the registry has been read (at once if it has been, or
 * when Redis refused it): until then this agent knows no other and would take
 * every transaction for its own. Asks for it now when it has not yet. */
void bm_cluster_when_known(bm_cluster *c, void (*fn)(void *), void *arg);

/* The live agent that owns transaction tx, or NULL when it is this one. */
const char *bm_cluster_owner(const bm_cluster *c, const char *tx);

/* The entries the other agents dead-lettered, summed as their checkpoints
 * show them grow (this agent's own are not in it): with this agent's own,
 * the cluster's deadletter_rate. */
uint64_t bm_cluster_others_deadlettered(const bm_cluster *c);

/* The current lease holder ("" unknown), and whether it is this agent. */
/* Is consumer `agent` an agent of this cluster whose heartbeat went stale
 * (killed, or cut off), and watched that long by this agent (its wall-clock
 * age at first sight is not believed)? 0 when it is live, not in the
 * registry, or the registry is not read yet (c NULL: 0). Reclaim takes such
 * an owner for dead whatever its checkpoint says. */
int bm_cluster_gone(const bm_cluster *c, const char *agent);

const char *bm_cluster_leader(const bm_cluster *c);
int bm_cluster_is_leader(const bm_cluster *c);

/* The live agent that owns the pub/sub messages of key (a transaction, a
 * channel, a metric name) of time t_us (the message's time, µs, as its
 * producer sent it; 0: none, taken as now), or NULL when it is this one.
 * The instants, and the "now" a time is held to (at most now, at least a
 * heartbeat before), are Redis's clock (TIME, read once per heartbeat), so
 * agents whose wall clocks differ agree. Every agent hears every message: the share of an
 * agent that joins or stops changes hands at an instant it names in its
 * registry entry, read by the others before it comes, so every agent takes
 * the same owner for a message and it is counted once. */
const char *bm_cluster_pubsub_owner(const bm_cluster *c, const char *key, int64_t t_us);

/* The stop: give up the lease and say so in the registry (others stop
 * handing transactions to this agent at once). @return how long (µs) this
 * agent must still count its share of pub/sub messages, named in its
 * registry entry (0: no other agent is live, nobody takes it). */
int64_t bm_cluster_leave(bm_cluster *c);

/* [{"name", "heartbeat", "age_s", "live", "leader", "me"}] for the rollup
 * and /api/stats. @return a new array, or NULL. */
struct json_t *bm_cluster_agents_json(const bm_cluster *c);

void bm_cluster_get_stats(const bm_cluster *c, bm_cluster_stats *out);

#endif
