/*
 * reclaim.h - claiming the entries a dead consumer left pending in the
 * group: every reclaim.interval, entries idle longer than reclaim.min_idle
 * for another consumer are claimed (XCLAIM) and applied here, unless their
 * owner's checkpoint already holds them (then only acked), or they were
 * delivered more than reclaim.max_deliveries times: those are poison,
 * copied to the dead-letter stream with reason "poison", the delivery count
 * and the last consumer, and acked, never applied.
 */
#ifndef BM_INPUTS_RECLAIM_H
#define BM_INPUTS_RECLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/checkpoint.h"

struct bm_loop;
struct bm_writer;
struct bm_persist;
struct bm_stream_input;

typedef struct {
    const char *const *streams; /* borrowed */
    size_t n_streams;
    const char *group, *consumer; /* ours: never claimed from */
    const char *state_prefix;     /* owners' checkpoints: <prefix><owner> */
    int64_t interval_ms;          /* 0: never */
    int64_t min_idle_ms;
    int64_t checkpoint_interval_ms; /* state.checkpoint_interval (0: none): an owner whose
                                       checkpoint changed within twice its interval (this
                                       for an older agent's), on our clock, is alive, its
                                       entries not claimed but those it covers */
    size_t max_deliveries;
    size_t max_entry_bytes; /* larger entries are dead-lettered by their size, not loaded */
    bm_checkpoint_limits checkpoint_limits; /* an owner's checkpoint: what one of this
                                               configuration writes (bm_checkpoint_limits_for) */
    /* several agents: is this owner's registry heartbeat stale? Then it is
     * dead whatever its checkpoint's age (NULL: the checkpoint judges alone) */
    int (*gone)(void *arg, const char *owner);
    void *gone_arg;
} bm_reclaim_opts;

typedef struct bm_reclaim bm_reclaim;

/* Claim on loop's timer through w, applying through the stream input `in`
 * and acking through persist (all borrowed). @return or NULL. */
bm_reclaim *bm_reclaim_new(const bm_reclaim_opts *o, struct bm_loop *loop, struct bm_writer *w,
                           struct bm_persist *persist, struct bm_stream_input *in);
/* Free after the writer's connection is gone (a round's replies name it). */
void bm_reclaim_free(bm_reclaim *r);

#endif
