/*
 * checkpoint.h - the state checkpoint: one msgpack map holding what a
 * restart of the agent would otherwise lose (worker figures and health,
 * event metrics, error patterns, commands awaiting an answer, alert
 * instances), the envelope that versions it, and its bounded decoder.
 * The agent writes it to Redis (`busmon:state:<consumer>`) and loads it at
 * start; a reader may decode several agents' checkpoints and merge their
 * monitors (bm_monitor_merge). proto/README.md ("State checkpoint") is the
 * spec for other languages.
 *
 *   { "v": 1, "kind": "busmon-state",
 *     "agent":   str,                     the consumer name that wrote it
 *     "ts_us":   int,                     when (agent clock, µs)
 *     "streams": { name: "ms-seq", ... }, the last entry id applied, per stream
 *     "monitor": {                                                 lib/monitor.h
 *         "workers": { "refused", "workers": [worker, ...] },      lib/worker_stats.h
 *         "events":  { "windows": {...}, "totals": {...} },        lib/event_metrics.h
 *         "errors":  { "refused", "started_us", "rings_us",        lib/error_patterns.h
 *                      "patterns": [...] },
 *         "refused_events": int }                       | nil,
 *     "deadlines": { "refused", "entries": [[due_us, timeout_us, tx, cmd], ...] }
 *                                                       | nil,     lib/deadlines.h
 *     "alerts":  { "instances": [...], "history": [alert record, ...],
 *                  "counters": {...} }                  | nil,     lib/alerts.h
 *     "baselines": { "slots", "refused", "evicted", "ctl_seq",
 *                    "keys": [...] }                    (absent)   lib/baseline.h
 *   }
 *
 *   worker = { "name", "in_flight", "busy_since", "last_seen", "last_execution",
 *              "last_error_at", "last_error", "health": {...}, "totals": {...},
 *              "windows": [window 1m, window 5m, window perf] }
 *   window = [period_us, n_periods, [period, ...]]                 lib/window.h
 *   period = [start_us, executions, successes, failures, timeouts, events, hist]
 *   hist   = [count, clamped, min_us, max_us, sum_us, folded, bin] lib/histogram.h
 *
 * nil: that part was not written (alerting off, say); loading leaves the
 * target as it is. "baselines" came later, in the same version: a
 * checkpoint without it (written before, or by an agent that learns none)
 * leaves the target as it is. Readers skip map keys they do not know and array
 * elements past the ones they read, so a key or a trailing field can be
 * added without a new version; anything else changes "v".
 *
 * Why lib/ and not proto/: the body is lib/'s state, which each module
 * saves and loads itself (its layout lives beside its fields); proto/ is
 * the floor below lib/ and cannot name a monitor. The envelope is small
 * enough to live with them.
 *
 * Decoding is bounded before anything is allocated for the input: at most
 * max_bytes, at most max_objects msgpack objects (each costs msgpack-c 24
 * bytes unpacked), nesting at most BM_CHECKPOINT_DEPTH_MAX deep, at most
 * BM_CHECKPOINT_STREAMS_MAX streams; workers, error patterns, deadlines and
 * alert instances are bounded by the targets' own configuration (what they
 * refuse is counted), histograms by their bucket range. The default limits
 * hold 1,000 workers with full windows (7-12 MiB, ~0.6 M objects:
 * tests/bench/checkpoint.c) five times over; past 1,000 workers or baseline
 * keys they grow with worker_monitoring.max_workers and baselines.max_keys
 * (bm_checkpoint_limits_for), so what an agent writes, an agent of the same
 * configuration reads back.
 *
 * Pure: no I/O, no clock (ts_us is given).
 */
#ifndef BM_LIB_CHECKPOINT_H
#define BM_LIB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/alerts.h"
#include "lib/baseline.h"
#include "lib/deadlines.h"
#include "lib/monitor.h"
#include "lib/trace_store.h"

#define BM_CHECKPOINT_VERSION         1
#define BM_CHECKPOINT_KIND            "busmon-state"
#define BM_CHECKPOINT_STREAMS_MAX     64
#define BM_CHECKPOINT_STREAM_NAME_MAX 257 /* bytes with the NUL: a stream name is 1-256 */
#define BM_CHECKPOINT_ENTRY_ID_MAX    48  /* "<ms>-<seq>": 41 characters at most */
#define BM_CHECKPOINT_DEPTH_MAX       16
#define BM_CHECKPOINT_CLAIMED_MAX     32768 /* ids in "claimed", all streams together */

typedef struct {
    char name[BM_CHECKPOINT_STREAM_NAME_MAX];
    char last_id[BM_CHECKPOINT_ENTRY_ID_MAX]; /* the last entry applied: "1700000000000-3" */
} bm_checkpoint_stream;

/* An entry claimed from another consumer (agent/inputs/reclaim.c): its
 * effects are in this state, its ack may not have reached Redis. Whoever
 * finds it pending acks it and does not apply it again. */
typedef struct {
    unsigned stream; /* index in claimed_streams */
    char id[BM_CHECKPOINT_ENTRY_ID_MAX];
} bm_checkpoint_claim;

/*
 * One checkpoint. bm_checkpoint_encode reads it; bm_checkpoint_decode fills
 * the envelope and loads the parts into the targets. The state pointers
 * are borrowed: NULL = not written (encode) / not loaded (decode).
 */
typedef struct {
    char agent[BM_NAME_MAX];
    int64_t ts_us;
    size_t n_streams;
    bm_checkpoint_stream streams[BM_CHECKPOINT_STREAMS_MAX];
    bm_monitor *monitor;
    deadlines *deadlines;
    alerts *alerts;
    baselines *baselines;  /* learned baselines (lib/baseline.h); encode: written when set */
    trace_store *traces;   /* encode: its commands awaiting an answer go in "pending";
                              decode: they are put back in it (for pairing and timeouts) */
    int64_t every_us;      /* the writer's checkpoint interval (other agents' reclaim judges
                              it alive by it; decode: 0 when absent, as from agents before it) */
    uint64_t deadlettered; /* entries the writer dead-lettered since it started: with several
                              agents, the judge's deadletter_rate counts every agent's
                              (decode: 0 when absent, as from agents before it) */
    /* "claimed" (optional: absent when none, and in older checkpoints).
     * encode: borrowed; decode: checked always, kept only with keep_claimed
     * (claimed then malloc'd, or NULL when none: the caller frees it) */
    size_t n_claimed_streams;
    char claimed_streams[BM_CHECKPOINT_STREAMS_MAX][BM_CHECKPOINT_STREAM_NAME_MAX];
    bm_checkpoint_claim *claimed;
    size_t n_claimed;
    int keep_claimed;
    int64_t now_us;        /* decode: the time given to the trace store for them */
    size_t pending;        /* decode: how many such commands were put back */
    int monitor_optional;  /* decode: a monitor of other window shapes (MISMATCH) is left
                              out and the rest loaded, rather than nothing */
    int monitor_skipped;   /* decode: ... it was (err says why; the monitor is unchanged) */
} bm_checkpoint;

/* Bounds of what decode accepts. Zero fields take the defaults. */
typedef struct {
    size_t max_bytes;   /* default 64 MiB */
    size_t max_objects; /* default 4 Mi (about 96 MiB unpacked) */
} bm_checkpoint_limits;

/* The room of one worker with full windows, every histogram at its bucket
 * bound: about 12-14 KiB and 550-650 objects (tests/bench/checkpoint.c
 * --spread 2.5); of one learned baseline key with every hour-of-week slot:
 * 9.4 KiB in a few dozen objects. More than that, so the estimate is never
 * short. */
#define BM_CHECKPOINT_WORKER_BYTES         (32u << 10)
#define BM_CHECKPOINT_WORKER_OBJECTS       1024u
#define BM_CHECKPOINT_BASELINE_KEY_BYTES   (16u << 10)
#define BM_CHECKPOINT_BASELINE_KEY_OBJECTS 64u
#define BM_CHECKPOINT_HELD                 1000u /* workers and baseline keys the defaults are sized for */

/*
 * The limits for a configuration of max_workers workers and
 * max_baseline_keys learned baseline keys: the defaults, and for each one
 * past BM_CHECKPOINT_HELD the room of a worker with full windows or a key
 * with every slot (saturating). decode takes these when given no limits
 * (with its targets' configurations), and the agent checks what it is about
 * to write against them. A reader takes its own configuration's: agents
 * that share worker_monitoring.max_workers and baselines.max_keys read each
 * other's checkpoints; one configured for fewer may refuse a larger one
 * (TOO_BIG).
 */
bm_checkpoint_limits bm_checkpoint_limits_for(size_t max_workers, size_t max_baseline_keys);

typedef enum {
    BM_CHECKPOINT_OK = 0,
    BM_CHECKPOINT_TRUNCATED,     /* the bytes end inside the map (a cut value) */
    BM_CHECKPOINT_CORRUPT,       /* not one msgpack map, or a part not in its layout */
    BM_CHECKPOINT_WRONG_KIND,    /* "kind" is not "busmon-state" */
    BM_CHECKPOINT_WRONG_VERSION, /* "v" is another version */
    BM_CHECKPOINT_TOO_BIG,       /* past a bound of bm_checkpoint_limits, or too many streams */
    BM_CHECKPOINT_MISMATCH,      /* written with another configuration (window shapes) */
    BM_CHECKPOINT_NOMEM,
    BM_CHECKPOINT__COUNT
} bm_checkpoint_status;

/* "ok", "truncated", "corrupt", "wrong_kind", "wrong_version", "too_big", "mismatch",
 * "nomem". */
const char *bm_checkpoint_status_name(bm_checkpoint_status st);

struct msgpack_sbuffer;

/*
 * Append c as one checkpoint (layout above) to out: the envelope, the first
 * BM_CHECKPOINT_STREAMS_MAX streams (the caller cuts names and ids to their
 * fields; a decoder refuses ids that are not "<ms>-<seq>"), and each part
 * whose pointer is set (nil for the others). Reads the parts, changes
 * nothing. @return 0, or -1 (out of memory; out is as it was).
 */
int bm_checkpoint_encode(const bm_checkpoint *c, struct msgpack_sbuffer *out);

/*
 * The bounds decode checks before anything is unpacked (layout above):
 * data[0..len) is one complete msgpack value within lim's bytes, objects
 * and BM_CHECKPOINT_DEPTH_MAX (lim NULL = defaults). A reader that unpacks
 * a checkpoint itself (busmon baseline) calls it first: msgpack-c
 * allocates what a container's header announces. *objects (when not NULL)
 * gets the count. @return OK, or TRUNCATED / CORRUPT / TOO_BIG with err
 * saying why. Silent.
 */
bm_checkpoint_status bm_checkpoint_check(const void *data, size_t len,
                                         const bm_checkpoint_limits *lim, size_t *objects,
                                         char *err, size_t errlen);

/*
 * Decode data[0..len) (borrowed for the call) into c: the envelope's
 * fields, and each part present into c's targets that are not NULL, which
 * must be made with the configuration of the agent that wrote it
 * (MISMATCH otherwise; with monitor_optional, a monitor of other window
 * shapes is left out, monitor_skipped set, and the rest loaded: OK, err
 * saying what was left out). All or nothing: on any status but OK, c and its
 * targets are unchanged, and err says why (for a version: "format version
 * 2, this build reads 1"). lim NULL = bm_checkpoint_limits_for the target
 * monitor's max_workers and baselines' max_keys (0 for a target not given).
 * Silent.
 */
bm_checkpoint_status bm_checkpoint_decode(const void *data, size_t len,
                                          const bm_checkpoint_limits *lim, bm_checkpoint *c,
                                          char *err, size_t errlen);

#endif
