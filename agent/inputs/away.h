/*
 * away.h - an agent that was away (paused: SIGSTOP, a frozen VM; or cut off
 * from Redis) long enough for another agent of its group to judge it dead
 * must not write a checkpoint that counts entries the other claimed.
 *
 *   each checkpoint, once its groups are stored (persist's gate):
 *     its last confirmed checkpoint sent less than 3/4 of judge_us ago ──▶ SET
 *     else: every entry applied since that checkpoint (persist's acks queued)
 *       XPENDING <stream> <group> <first> <last> 1000 <consumer>   (and
 *       <consumer>.claimed for claims), paged, compared with them; our
 *       hand-off stream's also XRANGE'd (the janitor deletes what it moves)
 *         all still pending for us ──▶ SET, fenced (nothing was claimed: slow only)
 *         one is not ──▶ reset(): the state in memory counts it twice;
 *                        start again from the confirmed checkpoint
 *
 * Only what a claim can take is looked at: an entry is claimed from a
 * consumer's pending list, and one acked by us without effects in memory
 * (persist's bm_persist_ack_unapplied) counts nothing twice.
 *
 * The check and the SET are two steps, so each is fenced against a claim
 * coming between them (both scripts, so nothing comes between check and
 * write inside them):
 *   GET <state prefix><consumer>.claimed   before the pages: the claims mark
 *   SET behind it (persist's FENCED_SET_SCRIPT): only while the mark is
 *     unchanged; else held (checkpoints_fenced) and the gate asked again:
 *     the new check sees the claim's entries gone
 *   the claim (reclaim.c) sets the mark, and takes an owner's entries only
 *     while the first BM_CLAIM_FENCE_BYTES of its checkpoint (its ts_us in
 *     them) are those it read: our SET after its read stops it
 * The mark's key is the checkpoint key of consumer "<consumer>.claimed",
 * our claims' consumer, which never writes one.
 *
 * Not here: what starting again is (main.c), the claims (reclaim.c).
 */
#ifndef BM_INPUTS_AWAY_H
#define BM_INPUTS_AWAY_H

#include <stddef.h>
#include <stdint.h>

struct bm_writer;
struct bm_persist;
struct bm_stream_input;

typedef struct {
    const char *const *streams; /* borrowed, as the stream input's */
    size_t n_streams;
    const char *group, *consumer;
    long handoff_idx; /* our hand-off stream in streams (-1: none) */
    /* another agent judges this one dead once no checkpoint of it was
     * confirmed for this long: twice state.checkpoint_interval, or less
     * under cluster.stale */
    int64_t judge_us;
    uint64_t resets_before; /* away_resets counted by the images before this one */
    /* an entry applied here was claimed away: start again from the confirmed
     * checkpoint. Returns only when it did not (at the stop): the checkpoint
     * waiting is then dropped. */
    void (*reset)(void *arg, int64_t away_us);
    void *reset_arg;
    int64_t min_idle_us; /* reclaim.min_idle: an entry read more recently is nobody else's */
    const char *state_prefix; /* checkpoints' (<prefix><consumer>): our claims mark beside it */
    struct event_base *base;  /* tests only (BUSMON_TEST_AWAY_SET_DELAY_MS) */
} bm_away_opts;

typedef struct bm_away bm_away;

/* Gate persist's checkpoints (all borrowed; counted in the stream input's
 * stats: away_checks, away_resets). @return or NULL. */
bm_away *bm_away_new(const bm_away_opts *o, struct bm_writer *w, struct bm_persist *p,
                     struct bm_stream_input *in);
/* Free after the writer's connection is gone (a check's replies name it). */
void bm_away_free(bm_away *a);

#endif
