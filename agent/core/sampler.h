/*
 * sampler.h - one round of Redis figures per interval, shared by whoever
 * needs them (the system metrics collector and the alert gauges), instead
 * of a round each.
 *
 *   tick (the shortest interval asked for) ──▶ close the previous round if
 *   replies are still out (late) ──▶ round n on the writer, pipelined:
 *     PING (its round trip), INFO (clients, used memory), CONFIG GET dir
 *     (until it has answered once), per stream XLEN and XINFO GROUPS
 *   ──▶ the last reply (or the next tick) completes it ──▶ each subscriber
 *   whose own interval has come round gets the figures.
 *
 * A figure that did not come back is unknown (NAN, or -1 for counts). The
 * round trip goes over the write connection on purpose: it includes the
 * writes queued ahead, which is the latency the agent's writes see.
 * Not here: reading /proc (the subscribers do), what the figures mean.
 */
#ifndef BM_CORE_SAMPLER_H
#define BM_CORE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/writer.h"
#include "proto/rollup.h" /* BM_NAME_MAX */

struct bm_loop;
struct redisReply;

#define BM_SAMPLER_STREAMS_MAX 64

typedef struct {
    char name[BM_NAME_MAX]; /* a stream name of up to 256 bytes, whole */
    int64_t length;  /* XLEN; -1 unknown */
    int64_t lag;     /* our group's lag (Redis >= 7); -1 unknown */
    int64_t pending; /* our group's pending entries; -1 unknown */
    int group;       /* 1 our group exists, 0 it does not, -1 unknown */
    int answered;    /* XINFO GROUPS came back this round */
} bm_sampled_stream;

typedef struct {
    int64_t ts_us;             /* when the round started (wall clock) */
    double rtt_ms;             /* PING round trip; NAN unknown */
    double redis_clients;      /* INFO connected_clients; NAN unknown */
    double redis_used_memory;  /* INFO used_memory, bytes; NAN unknown */
    const char *redis_dir;     /* CONFIG GET dir as Redis answered it, whole, or NULL */
    int complete;              /* every reply came back */
    size_t n_streams;
    bm_sampled_stream streams[BM_SAMPLER_STREAMS_MAX];
} bm_redis_figures;

typedef struct {
    uint64_t rounds;       /* rounds completed */
    uint64_t late;         /* ... closed before every reply was in */
    uint64_t redis_errors; /* error replies (no such stream, unknown command) */
} bm_sampler_stats;

/* Told the figures of a completed round (borrowed for the call). */
typedef void (*bm_sampler_cb)(const bm_redis_figures *f, void *arg);

typedef struct bm_sampler bm_sampler;

/* For `group` on `streams` (copied), queries on `w` (borrowed). @return or NULL. */
bm_sampler *bm_sampler_new(struct bm_loop *loop, bm_writer *w, const char *group,
                           const char *const *streams, size_t n_streams);
/* Free; call after the writer's connection is gone (replies name the sampler). */
void bm_sampler_free(bm_sampler *s);

/* Deliver figures to cb every interval_us (first after one interval). Before
 * bm_sampler_start. @return 0, or -1 (at most 8 subscribers). */
int bm_sampler_subscribe(bm_sampler *s, int64_t interval_us, bm_sampler_cb cb, void *arg);

/* Start ticking at the shortest interval subscribed. @return 0 or -1. */
int bm_sampler_start(bm_sampler *s);

void bm_sampler_get_stats(const bm_sampler *s, bm_sampler_stats *out);

/*
 * Our group's pending and lag in an XINFO GROUPS reply (RESP2: an array of
 * flat key/value arrays). Lag is -1 when Redis does not know it (nil after
 * deletions, or Redis < 7).
 * @return 1 when the group is there, 0 when it is not (pending, lag -1).
 */
int bm_xinfo_group(const struct redisReply *r, const char *group, int64_t *pending, int64_t *lag);

#endif
