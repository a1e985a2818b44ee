/*
 * window.h - a rolling time window of outcome counters and a duration
 * histogram, kept as a ring of fixed periods.
 *
 *   period_us = 10 s, n_periods = 6  ->  "the last minute", to 10 s
 *
 *   ring: [p0][p1][p2][p3][p4][p5]      each period: start, counters, hist
 *                   ^ head = the period now is in
 *
 * Adding at time `now` first rolls the ring forward: periods whose start is
 * older than now - n_periods * period_us are cleared (their memory kept).
 * Collecting merges the live periods, so the window's edge moves in steps of
 * one period. Histograms merge exactly (lib/histogram.h).
 *
 * State: a window is saved with its shape and the periods holding counts,
 * each with its absolute start, so a window loaded later (or merged) puts
 * every period back in the slot of its start: a period older than the
 * window is not live, and the next add rolls it out (it never lands in the
 * current period).
 *
 *   [period_us, n_periods, [period, ...]]      periods in slot order
 *   period = [start_us, executions, successes, failures, timeouts, events, hist]
 *   hist   = lib/histogram.h's layout
 *
 * Pure: time comes in as `now_us`.
 */
#ifndef BM_LIB_WINDOW_H
#define BM_LIB_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

typedef enum { BM_OUTCOME_SUCCESS = 0, BM_OUTCOME_FAILURE, BM_OUTCOME_TIMEOUT } bm_outcome;

typedef struct {
    uint64_t executions; /* successes + failures + timeouts */
    uint64_t successes, failures, timeouts;
    uint64_t events;     /* other things counted in the window (commands sent, errors seen...) */
} bm_counts;

typedef struct {
    int64_t start_us; /* period start (aligned to period_us); 0 = unused */
    bm_counts counts;
    bm_hist hist;     /* durations of executions with a known duration */
} bm_period;

typedef struct {
    int64_t period_us;
    unsigned n_periods;
    bm_period *periods; /* ring of n_periods */
} bm_window;

/* @return 0, or -1 (out of memory). */
int bm_window_init(bm_window *w, int64_t period_us, unsigned n_periods);
void bm_window_deinit(bm_window *w);

/* Bound every period's histogram to max_buckets (bm_hist_set_max_buckets). */
void bm_window_set_max_buckets(bm_window *w, uint32_t max_buckets);

/* The window's length: period_us * n_periods. */
int64_t bm_window_length_us(const bm_window *w);

/*
 * Count one execution at time now_us with its outcome and duration
 * (duration_us < 0: unknown, counted but not in the histogram).
 * @return 0, or -1 when the histogram could not grow (the count is kept).
 */
int bm_window_add_execution(bm_window *w, int64_t now_us, bm_outcome outcome, int64_t duration_us);

/*
 * The duration of an execution counted earlier with none (an answer read
 * before its command): into the histogram of the period of now_us; no
 * execution is counted. @return 0, or -1 when the histogram could not grow.
 */
int bm_window_add_duration(bm_window *w, int64_t now_us, int64_t duration_us);

/* Count one other event (counts.events) at now_us. */
void bm_window_add_event(bm_window *w, int64_t now_us, uint64_t n);

/*
 * Sum of the live periods at now_us into *counts, and (when hist_out is not
 * NULL) their histograms merged into *hist_out (which the caller inits, and
 * which is reset first). @return 0 or -1 (out of memory while merging).
 */
int bm_window_collect(const bm_window *w, int64_t now_us, bm_counts *counts, bm_hist *hist_out);

/*
 * The part of the window that holds data at now_us: from the start of the
 * oldest live period that counted anything, to now_us; at most the
 * window's length, 0 when nothing is live. Rates divide by this, not by the
 * length, so a window younger than its length (the first minute after a
 * start) does not read low. */
int64_t bm_window_covered_us(const bm_window *w, int64_t now_us);

/*
 * The part of the window the caller has fed since since_us (the time it
 * began counting; 0 or after now_us: unknown, 0 returned): from the start
 * of since_us's period, or of the oldest live period when that is later,
 * to now_us. Beside bm_window_covered_us, whose data may start later than
 * the counting did (nothing to count in the window's first periods), so a
 * single add after a quiet spell is not rated over its own seconds.
 */
int64_t bm_window_watched_us(const bm_window *w, int64_t now_us, int64_t since_us);

/*
 * A window's label: its length in the largest whole unit, "1h", "90m",
 * "100s" (seconds cut down), cut to fit cap bytes with the NUL. Every table
 * labels its performance window by the configured length with this, so a
 * rollup's events, workers and business metrics name it alike (twelve
 * periods of a length such as 100 s are 99.999996 s: "100s" all the same).
 */
void bm_window_label(int64_t window_us, char *label, size_t cap);

/* Largest sum of counts.executions + counts.events in any single live period
 * (peak throughput per period). */
uint64_t bm_window_peak_period(const bm_window *w, int64_t now_us);

size_t bm_window_heap_bytes(const bm_window *w);

struct msgpack_packer;
struct msgpack_object;

/* Write w (layout above). @return 0, or -1 (the packer's writer failed). */
int bm_window_save(const bm_window *w, struct msgpack_packer *pk);

/*
 * Replace w's periods with those saved in o. The saved shape must be w's
 * (else BM_LOAD_MISMATCH); periods keep their histogram bound. Two saved
 * periods of one slot: the newer is kept. A start not aligned to the period,
 * or two periods with one start, is BM_LOAD_CORRUPT.
 * @return 0, or a bm_load_status (lib/state_codec.h) with the reason in
 * err; w is unchanged then.
 */
int bm_window_load(bm_window *w, const struct msgpack_object *o, char *err, size_t errlen);

/*
 * dst += src, period by period, aligned by absolute start: counts add,
 * histograms merge (exactly, unless a bound folds). A src period whose slot
 * in dst holds an older period replaces it (the older one is out of the
 * window of the newer); one older than dst's period in that slot is out of
 * dst's window and left out. For adds in time order, the result collects,
 * at any time from the newest add of either on, what one window fed both
 * streams of adds collects. dst != src.
 * @return 0, or -1: the shapes differ (nothing changed), or out of memory
 * (dst holds part of src).
 */
int bm_window_merge(bm_window *dst, const bm_window *src);

#endif
