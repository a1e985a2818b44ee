/*
 * pubsub.h - the secondary input: events a framework PUBLISHes on Redis
 * pub/sub channels (the MultiAgents Framework's `multiagent:command.<worker>`,
 * `result.<worker>`, `status.workflow`, `compensation.<name>`), read with
 * PSUBSCRIBE on a connection of its own in the agent's loop.
 *
 * Each message is decoded with the channel's help (proto: bm_decode_pubsub,
 * the configured bm_channel_scheme) and applied exactly as a stream entry
 * is; an event seen on both inputs has the same id in the same trace and is
 * kept once. What pub/sub cannot give: nothing is kept while busmon is not
 * subscribed (down, reconnecting), and there is nothing to ack.
 */
#ifndef BM_INPUTS_PUBSUB_H
#define BM_INPUTS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/redis_url.h"
#include "proto/event.h"

struct bm_acl;
struct bm_loop;
struct bm_state;
struct bm_persist;

typedef struct {
    uint64_t messages;    /* pub/sub messages received */
    uint64_t overlapped;  /* ... received again through another pattern: not used again */
    uint64_t bad;         /* ... that could not be used (dead-lettered) */
    uint64_t reconnects;  /* subscriber connections re-made */
    uint64_t disconnects; /* subscriber connections lost while subscribed (Redis closed it, e.g.
                             past client-output-buffer-limit pubsub: messages were lost) */
    uint64_t not_owned;   /* messages left to the agent that owns their transaction (or channel) */
    uint64_t shed;        /* messages dropped while Redis refused writes (persist backlogged) */
    uint64_t decode_errors[BM_DECODE__COUNT];
    uint64_t clock_skew; /* event times further than max_clock_skew from the clock: set to it */
    uint64_t resolve_failures; /* look-ups of Redis's host name failed or timed out */
} bm_pubsub_input_stats;

typedef struct {
    const char *const *patterns; /* borrowed for the input's life */
    size_t n_patterns;
    bm_channel_scheme scheme; /* its strings borrowed */
    size_t max_entry_bytes;
    /* Several agents: every agent gets every message; only the owner of its
     * transaction applies it (route returns NULL for this agent); one that
     * names none, or is bad, goes by its channel (a metric by its name).
     * t_us: the message's time as sent (its event time; 0: none, when it
     * came), for an owner every agent agrees on while agents join or stop. */
    const char *(*route)(void *arg, const char *key, int64_t t_us);
    void *route_arg;
    size_t max_id_bytes;       /* longer ids and channels are dead-lettered (0: 256) */
    int64_t max_clock_skew_us; /* event times further from the clock become the receive
                                  time (0: none) */
    struct bm_acl *acl;        /* told of a PSUBSCRIBE denied (borrowed; NULL: not told) */
    /* the channels busmon itself PUBLISHes on (rollups, health, alerts, sinks):
     * a pattern matching one does not read them back (borrowed) */
    const char *const *own_channels;
    size_t n_own_channels;
    /* channels beginning with one of these are another busmon's, of another
     * consumer group (its rollups, health, alerts: "busmon:rollups:<group>"),
     * not read either (borrowed) */
    const char *const *others_prefixes;
    size_t n_others_prefixes;
} bm_pubsub_input_opts;

typedef struct bm_pubsub_input bm_pubsub_input;

/*
 * Subscribe on `loop` to url (borrowed), applying to `state`, dead-letters
 * and trace records through `persist`. Reconnects by itself with a capped
 * backoff. @return the input, or NULL (out of memory).
 */
bm_pubsub_input *bm_pubsub_input_new(const bm_pubsub_input_opts *o, struct bm_loop *loop,
                                     const bm_redis_url *url, struct bm_state *state,
                                     struct bm_persist *persist);
/* Unsubscribe and free (outside the input's own callbacks). NULL is a no-op. */
void bm_pubsub_input_free(bm_pubsub_input *in);

/* Stop: drop the connection, no more messages. */
void bm_pubsub_input_stop(bm_pubsub_input *in);

int bm_pubsub_input_up(const bm_pubsub_input *in);
void bm_pubsub_input_get_stats(const bm_pubsub_input *in, bm_pubsub_input_stats *out);
/* Wall-clock µs of the first and the last message (0: none yet). */
int64_t bm_pubsub_input_first_us(const bm_pubsub_input *in);
int64_t bm_pubsub_input_last_us(const bm_pubsub_input *in);

#endif
