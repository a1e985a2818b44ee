/*
 * finisher.h - when a transaction is over, and what happens then: tail
 * sampling of its stored trace (lib/sampling.h) and its OTLP spans (topic
 * spans, lib/otlp.h). Each transaction is finished and exported once, but
 * a sampled-out one that gets a new event is finished again (below).
 *
 *   persist record (every kept event) ──observe──▶ open: last activity now
 *   every 250 ms, oldest activity first:
 *     quiet >= settle and completed or failed ──▶ finish
 *     quiet >= idle_flush (still running)     ──▶ finish (busmon.status running)
 *   finish: sampling decision ──dropped──▶ DEL <trace key>; RPUSH the marker; EXPIRE
 *                              └──────────▶ spans on topic spans (all, or the kept
 *                                           ones with otlp.sampled)
 *   an event of a finished transaction: kept ──▶ written, not exported again;
 *     sampled out ──▶ written after the marker, open again, and at its next
 *     finish decided again: dropped ──▶ the marker again; kept (a later step
 *     failed) ──▶ DEL; RPUSH the records of its trace in memory; EXPIRE; its
 *     spans exported if they were not (otlp.sampled)
 *   kept for a cause at a first decision here, though the rate rule drops it
 *     (sampled out by a decision not remembered: a restart, another owner)
 *     ──▶ EVAL: the marker at the head of its stored trace, if one, LPOPed
 *
 * `settle` lets the events that follow a completion or a failure (a
 * compensation, a final status) join the transaction before it is judged.
 * Open and finished transactions are bounded (max_open each): a full open
 * table finishes its quietest transaction early; finished ones are
 * forgotten oldest first, or after forget_us once their trace has left the
 * store (until then a late event would find the whole trace, and a
 * forgotten transaction is finished again: exported and decided again). A
 * late event of one forgotten because the table was full, or whose trace
 * left memory, starts a new trace, finished (exported, decided) again.
 *
 * A transaction whose commands are all answered is completed (lib/trace.h),
 * so one between two steps is finished once `settle` passes; the next step
 * is then a late event, which is why a sampled-out one is decided again.
 *
 * Not here: how a trace is built (lib/trace.c, state/), the span and
 * sampling rules (lib/), delivery (outputs/otlp.c).
 */
#ifndef BM_JOBS_FINISHER_H
#define BM_JOBS_FINISHER_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state/persist.h"
#include "lib/monitor.h"
#include "lib/sampling.h"

struct bm_loop;
struct bm_writer;
struct bm_outputs;
struct trace_store;

typedef struct {
    int64_t settle_us;        /* quiet after a completion or failure before it is finished */
    int64_t idle_flush_us;    /* quiet with no end before it is finished anyway */
    int64_t forget_us;        /* a finished one is remembered this long (and while in the store) */
    size_t max_open;          /* transactions followed at once (and finished ones remembered) */
    bm_sampling_policy sampling;
    int sample_stored;        /* the policy applies to stored traces */
    int sample_export;        /* ... and to what is exported (otlp.sampled) */
    const char *trace_prefix; /* busmon:trace: */
    int64_t trace_ttl_s;      /* the marker's TTL */
    bm_persist_observe_cb also; /* told of every record too (the OTLP metrics); may be NULL */
    void *also_arg;
} bm_finisher_opts;

typedef struct {
    uint64_t finished;       /* transactions judged over */
    uint64_t finished_idle;  /* ... after idle_flush, still running */
    uint64_t finished_early; /* ... early, to make room in the table */
    uint64_t not_in_memory;  /* ... whose trace had left memory: nothing to judge or export */
    uint64_t late_events;    /* events of a finished, kept transaction (written, not exported) */
    uint64_t reopened;       /* sampled-out transactions opened again by a new event */
    uint64_t sampled[BM_SAMPLE__COUNT]; /* decisions by reason (sampled_out: dropped) */
    uint64_t markers;        /* stored traces replaced by the sampled-out marker */
    uint64_t markers_failed; /* ... whose writes were refused (no connection) */
    uint64_t restored;       /* reopened ones kept: the marker replaced by the trace in memory;
                                and markers taken out of a kept one's head (take_out_marker) */
    uint64_t restores_failed; /* ... whose writes were refused (no connection, no memory) */
    uint64_t exported;       /* transactions whose spans went to the OTLP sinks */
    uint64_t spans;          /* spans offered */
    uint64_t spans_dropped;  /* spans refused (a sink's queue full, out of memory) */
    uint64_t open;           /* gauge: transactions followed now */
    uint64_t remembered;     /* gauge: finished transactions remembered */
} bm_finisher_stats;

typedef struct bm_finisher bm_finisher;

/*
 * A finisher reading traces from `store` (borrowed), worker p99s from
 * `mon->workers` (mon borrowed, its workers read at each use: a checkpoint
 * restore swaps them; NULL: no p99 rule), writing markers through w, spans through
 * outputs. Registers itself as p's record observer. @return it, or NULL.
 */
bm_finisher *bm_finisher_new(const bm_finisher_opts *o, struct bm_loop *loop, bm_persist *p,
                             const struct trace_store *store, const bm_monitor *mon,
                             struct bm_writer *w, struct bm_outputs *outputs);
void bm_finisher_free(bm_finisher *f);

/* Finish every open transaction now (the stop: what is known goes out). */
void bm_finisher_final(bm_finisher *f);

void bm_finisher_get_stats(const bm_finisher *f, bm_finisher_stats *out);

#endif
