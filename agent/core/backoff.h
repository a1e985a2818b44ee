/*
 * backoff.h - capped exponential backoff with jitter, for reconnects.
 *
 * Each failure doubles the delay from `min_us` up to `max_us`; the delay
 * handed out is that value minus up to a fifth, at random, so agents that
 * lost the same Redis at the same moment do not all come back in step.
 * A success resets it. The random state lives in the struct: no globals.
 */
#ifndef BM_CORE_BACKOFF_H
#define BM_CORE_BACKOFF_H

#include <stdint.h>

typedef struct {
    int64_t min_us, max_us;
    int64_t base_us; /* the un-jittered delay of the next failure (0: min_us) */
    uint64_t rng;    /* xorshift state */
} bm_backoff;

/* Set bounds and seed (any value; 0 is replaced). */
void bm_backoff_init(bm_backoff *b, int64_t min_us, int64_t max_us, uint64_t seed);

/* The delay before the next attempt, growing with each call. @return µs > 0. */
int64_t bm_backoff_next(bm_backoff *b);

/* A success: the next failure waits min_us again. */
void bm_backoff_reset(bm_backoff *b);

#endif
