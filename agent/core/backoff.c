/*
 * backoff.c - capped exponential backoff with jitter (backoff.h).
 */
#include "agent/core/backoff.h"

void bm_backoff_init(bm_backoff *b, int64_t min_us, int64_t max_us, uint64_t seed)
{
    b->min_us = min_us > 0 ? min_us : 1;
    b->max_us = max_us >= b->min_us ? max_us : b->min_us;
    b->base_us = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int64_t bm_backoff_next(bm_backoff *b)
{
    int64_t base = b->base_us ? b->base_us : b->min_us;
    b->base_us = base >= b->max_us / 2 ? b->max_us : base * 2;
    int64_t cut = base / 5;
    int64_t delay = base - (cut > 0 ? (int64_t)(xorshift(&b->rng) % (uint64_t)cut) : 0);
    return delay > 0 ? delay : 1;
}

void bm_backoff_reset(bm_backoff *b)
{
    b->base_us = 0;
}
