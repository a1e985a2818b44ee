/*
 * baseline.h - the learned baselines' job: every health interval, each
 * worker's last minute (p50, p95, error rate, throughput) from the view is
 * one sample of its baseline (lib/baseline.h), and the requests the CLI
 * left in the control hash (freeze, clear) are applied.
 *
 *   every health interval
 *     view ──▶ worker_stats_snapshot ──▶ per worker with executions in
 *              the last minute: baselines_observe(name, [p50, p95, error
 *              rate, throughput], now)
 *     HGETALL <baselines.control_key> ──▶ requests newer than the last
 *              applied (ctl_seq, kept in the checkpoint), in order:
 *              freeze / clear <worker>
 *
 * The control hash (written by `busmon baseline freeze|clear`):
 *
 *   _seq       the last request number (HINCRBY by the CLI)
 *   <worker>   "<op> <seq> <unix µs>"   op: freeze | clear; the newest request per worker
 *
 * Every agent reads it and applies what is newer than its own ctl_seq, so
 * with several agents each one's table follows the same requests. An agent
 * that starts with no baselines of its own (no checkpoint, or one holding no
 * key and ctl_seq 0) takes the requests already there as history: it adopts
 * their highest number without applying them (a freeze made for an earlier
 * life of the table would pin nothing learned). One that restored keys
 * applies every request newer than its ctl_seq, 0 included (a freeze asked
 * while the agent was down).
 *
 * Every agent learns, from the view it reads (with several agents the
 * merged figures), so a new leader judges with a baseline of its own.
 * Not here: the model (lib/baseline.c), alerting on it (lib/alerts.c),
 * health from it (lib/worker_stats.c's hook).
 */
#ifndef BM_JOBS_BASELINE_H
#define BM_JOBS_BASELINE_H

#include <stdint.h>

#include "agent/state/view.h"
#include "lib/baseline.h"

struct bm_loop;
struct bm_writer;

typedef struct {
    int64_t interval_us;     /* the health interval */
    const char *control_key; /* borrowed */
} bm_baseline_job_opts;

typedef struct {
    uint64_t samples;  /* worker samples given to the table */
    uint64_t requests; /* control requests applied */
    uint64_t unknown;  /* freezes and clears of a worker without a baseline (nothing done) */
} bm_baseline_job_stats;

typedef struct bm_baseline_job bm_baseline_job;

/* Learn into `table` from `view`, read the control hash on `w` (all
 * borrowed). @return the job (started), or NULL. */
bm_baseline_job *bm_baseline_job_new(const bm_baseline_job_opts *o, struct bm_loop *loop,
                                     struct bm_writer *w, const bm_view *view, baselines *table);
void bm_baseline_job_free(bm_baseline_job *j);
void bm_baseline_job_get_stats(const bm_baseline_job *j, bm_baseline_job_stats *out);

#endif
