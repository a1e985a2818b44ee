/*
 * window.c - a rolling window kept as a ring of fixed periods
 * (lib/window.h).
 *
 * Not here: what is counted (the callers: worker_stats, event_metrics), and
 * no clock: every call gets now_us.
 *
 * Layout. A period's start is aligned to period_us (floor division, so a
 * negative time aligns too) and the period lives in slot
 * (start / period_us) mod n_periods. Two starts that share a slot are a
 * multiple of the window apart, so a slot whose start is not the current
 * period's start holds a stale period:
 *
 *   now_us -> start = now_us - now_us mod period_us
 *   slot   =  (start / period_us) mod n_periods
 *   live   <=> now_start - (n_periods - 1) * period_us <= start <= now_start
 *
 * Rolling forward happens in the add calls, once per new period: the slot
 * of the new period is reset, and so is every other stale slot (their
 * memory kept), so the ring never holds data older than the window. Unused
 * slots have start 0 and nothing in them; when a period really starts at 0
 * it is told apart by being live, and an empty slot adds nothing anyway.
 * An add whose time went back by more than a window lands in the slot's
 * newer period rather than wiping it: the newest data wins.
 */
#include "window.h"

#include <stdlib.h>
#include <string.h>

static int64_t period_start(const bm_window *w, int64_t now_us)
{
    int64_t r = now_us % w->period_us;
    if (r < 0) r += w->period_us;
    return now_us - r;
}

static unsigned slot_of(const bm_window *w, int64_t start_us)
{
    int64_t k = start_us / w->period_us; /* exact: start is aligned */
    int64_t s = k % (int64_t)w->n_periods;
    if (s < 0) s += w->n_periods;
    return (unsigned)s;
}

static int is_live(const bm_window *w, const bm_period *p, int64_t now_start)
{
    return p->start_us <= now_start &&
           p->start_us > now_start - (int64_t)w->n_periods * w->period_us;
}

static void clear_period(bm_period *p, int64_t start_us)
{
    p->start_us = start_us;
    memset(&p->counts, 0, sizeof p->counts);
    bm_hist_reset(&p->hist);
}

int bm_window_init(bm_window *w, int64_t period_us, unsigned n_periods)
{
    memset(w, 0, sizeof *w);
    if (period_us <= 0 || n_periods == 0) return -1;
    w->periods = calloc(n_periods, sizeof *w->periods);
    if (!w->periods) return -1;
    w->period_us = period_us;
    w->n_periods = n_periods;
    for (unsigned i = 0; i < n_periods; i++)
        bm_hist_init(&w->periods[i].hist);
    return 0;
}

void bm_window_deinit(bm_window *w)
{
    if (!w) return;
    for (unsigned i = 0; w->periods && i < w->n_periods; i++)
        bm_hist_deinit(&w->periods[i].hist);
    free(w->periods);
    memset(w, 0, sizeof *w);
}

void bm_window_set_max_buckets(bm_window *w, uint32_t max_buckets)
{
    for (unsigned i = 0; i < w->n_periods; i++)
        bm_hist_set_max_buckets(&w->periods[i].hist, max_buckets);
}

int64_t bm_window_length_us(const bm_window *w)
{
    return w->period_us * (int64_t)w->n_periods;
}

/* The period to count into at now_us, rolling the ring forward. */
static bm_period *current(bm_window *w, int64_t now_us)
{
    int64_t start = period_start(w, now_us);
    bm_period *p = &w->periods[slot_of(w, start)];
    if (p->start_us == start) return p;
    if (p->start_us > start && (p->counts.executions || p->counts.events)) return p;
    /* A new period: clear its slot and whatever else went stale (but not a
     * newer period, when the clock stepped back a little). */
    clear_period(p, start);
    int64_t stale_before = start - bm_window_length_us(w);
    for (unsigned i = 0; i < w->n_periods; i++) {
        bm_period *o = &w->periods[i];
        if (o != p && o->start_us <= stale_before) clear_period(o, 0);
    }
    return p;
}

int bm_window_add_execution(bm_window *w, int64_t now_us, bm_outcome outcome, int64_t duration_us)
{
    bm_period *p = current(w, now_us);
    p->counts.executions++;
    switch (outcome) {
    case BM_OUTCOME_SUCCESS:
        p->counts.successes++;
        break;
    case BM_OUTCOME_FAILURE:
        p->counts.failures++;
        break;
    case BM_OUTCOME_TIMEOUT:
        p->counts.timeouts++;
        break;
    }
    if (duration_us < 0) return 0;
    return bm_hist_add(&p->hist, duration_us, 1);
}

void bm_window_add_event(bm_window *w, int64_t now_us, uint64_t n)
{
    current(w, now_us)->counts.events += n;
}

int bm_window_collect(const bm_window *w, int64_t now_us, bm_counts *counts, bm_hist *hist_out)
{
    int64_t now_start = period_start(w, now_us);
    int rc = 0;
    memset(counts, 0, sizeof *counts);
    if (hist_out) bm_hist_reset(hist_out);
    for (unsigned i = 0; i < w->n_periods; i++) {
        const bm_period *p = &w->periods[i];
        if (!is_live(w, p, now_start)) continue;
        counts->executions += p->counts.executions;
        counts->successes += p->counts.successes;
        counts->failures += p->counts.failures;
        counts->timeouts += p->counts.timeouts;
        counts->events += p->counts.events;
        if (hist_out && bm_hist_merge(hist_out, &p->hist) != 0) rc = -1;
    }
    return rc;
}

uint64_t bm_window_peak_period(const bm_window *w, int64_t now_us)
{
    int64_t now_start = period_start(w, now_us);
    uint64_t peak = 0;
    for (unsigned i = 0; i < w->n_periods; i++) {
        const bm_period *p = &w->periods[i];
        if (!is_live(w, p, now_start)) continue;
        uint64_t n = p->counts.executions + p->counts.events;
        if (n > peak) peak = n;
    }
    return peak;
}

size_t bm_window_heap_bytes(const bm_window *w)
{
    size_t bytes = (size_t)w->n_periods * sizeof *w->periods;
    for (unsigned i = 0; i < w->n_periods; i++)
        bytes += bm_hist_heap_bytes(&w->periods[i].hist);
    return bytes;
}
