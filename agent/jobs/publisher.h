/*
 * publisher.h - the rollup and health timers: what the monitor knows,
 * published through the outputs (outputs/outputs.h) for the CLI, the
 * dashboard and anything else that reads Redis.
 *
 *   every rollup interval (10 s)   rollup  ──▶ topic rollup  (busmon:rollups), cut
 *                                              to rollup_max_bytes (proto: bm_rollup_fit)
 *                                  workers ──▶ topic workers (busmon:workers): every
 *                                              worker, and the names gone since (evicted)
 *                                              as fields without a value (HDEL)
 *   every health interval (30 s)   judge every worker; each change of health
 *                                  is logged and goes to topic health
 *                                  (busmon:health) and topic workers
 *
 * With several agents only the judge (the leader) publishes, from the
 * merged view. At stop, one last judgement and rollup (bm_publisher_final),
 * so what readers see is current.
 */
#ifndef BM_JOBS_PUBLISHER_H
#define BM_JOBS_PUBLISHER_H

#include <stdint.h>

#include "agent/state/view.h"
#include "lib/monitor.h"

struct bm_loop;
struct bm_outputs;
struct json_t;

typedef struct {
    int64_t rollup_interval_us;
    int64_t health_interval_us;
    const char *agent; /* the consumer name, in every record (borrowed) */
    /* the agent's counters, added to each rollup as "counters" (may be NULL) */
    struct json_t *(*counters)(void *arg);
    void *counters_arg;
    /* the agents whose partials are in the rollup, added as "agents" (may be NULL) */
    struct json_t *(*agents)(void *arg);
    void *agents_arg;
    size_t rollup_max_bytes; /* one rollup entry (m + json) at most this (0: no bound) */
} bm_publisher_opts;

typedef struct {
    uint64_t rollups_published;  /* rollups taken by at least one output */
    uint64_t rollups_skipped;    /* rollups not made (out of memory) or taken by no output */
    uint64_t health_transitions; /* worker health changes */
} bm_publisher_stats;

typedef struct bm_publisher bm_publisher;

/* On loop, reading the view (state/view.h: the merged monitor; only the
 * judge publishes), writing to outputs (all borrowed). @return or NULL. */
bm_publisher *bm_publisher_new(const bm_publisher_opts *o, struct bm_loop *loop,
                               const bm_view *view, struct bm_outputs *outputs);
void bm_publisher_free(bm_publisher *p);

/* Start both timers. @return 0 or -1. */
int bm_publisher_start(bm_publisher *p);

/* A last health judgement and rollup (the stop path). */
void bm_publisher_final(bm_publisher *p);

void bm_publisher_get_stats(const bm_publisher *p, bm_publisher_stats *out);

#endif
