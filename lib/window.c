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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_codec.h"

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

int bm_window_add_duration(bm_window *w, int64_t now_us, int64_t duration_us)
{
    if (duration_us < 0) return 0;
    return bm_hist_add(&current(w, now_us)->hist, duration_us, 1);
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

int64_t bm_window_covered_us(const bm_window *w, int64_t now_us)
{
    int64_t now_start = period_start(w, now_us), oldest = 0;
    for (unsigned i = 0; i < w->n_periods; i++) {
        const bm_period *p = &w->periods[i];
        if (!is_live(w, p, now_start)) continue;
        if (!p->counts.executions && !p->counts.events) continue;
        if (!oldest || p->start_us < oldest) oldest = p->start_us;
    }
    if (!oldest) return 0;
    int64_t covered = now_us - oldest, len = bm_window_length_us(w);
    if (covered > len) covered = len;
    return covered < w->period_us / 10 ? w->period_us / 10 : covered; /* never a tiny divisor */
}

int64_t bm_window_watched_us(const bm_window *w, int64_t now_us, int64_t since_us)
{
    if (since_us == 0 || since_us > now_us) return 0;
    int64_t from = period_start(w, since_us);
    int64_t oldest_live = period_start(w, now_us) - (int64_t)(w->n_periods - 1) * w->period_us;
    if (from < oldest_live) from = oldest_live;
    return now_us - from;
}

void bm_window_label(int64_t window_us, char *label, size_t cap)
{
    const int64_t minute_us = 60 * 1000000LL, hour_us = 60 * minute_us;
    if (window_us % hour_us == 0)
        snprintf(label, cap, "%lldh", (long long)(window_us / hour_us));
    else if (window_us % minute_us == 0)
        snprintf(label, cap, "%lldm", (long long)(window_us / minute_us));
    else
        snprintf(label, cap, "%llds", (long long)(window_us / 1000000));
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

/* ---- state ------------------------------------------------------------- */

static int has_data(const bm_period *p)
{
    return p->counts.executions || p->counts.events || p->hist.count;
}

int bm_window_save(const bm_window *w, msgpack_packer *pk)
{
    unsigned used = 0;
    for (unsigned i = 0; i < w->n_periods; i++)
        used += has_data(&w->periods[i]) != 0;
    int e = msgpack_pack_array(pk, 3);
    e |= msgpack_pack_int64(pk, w->period_us);
    e |= msgpack_pack_uint32(pk, w->n_periods);
    e |= msgpack_pack_array(pk, used);
    for (unsigned i = 0; i < w->n_periods && !e; i++) {
        const bm_period *p = &w->periods[i];
        if (!has_data(p)) continue;
        e |= msgpack_pack_array(pk, 7);
        e |= msgpack_pack_int64(pk, p->start_us);
        e |= msgpack_pack_uint64(pk, p->counts.executions);
        e |= msgpack_pack_uint64(pk, p->counts.successes);
        e |= msgpack_pack_uint64(pk, p->counts.failures);
        e |= msgpack_pack_uint64(pk, p->counts.timeouts);
        e |= msgpack_pack_uint64(pk, p->counts.events);
        e |= bm_hist_save(&p->hist, pk);
    }
    return e ? -1 : 0;
}

/* One saved period into tmp (a window of w's shape), keeping the newer of
 * two in one slot. `filled` marks the slots taken. */
static int load_period(bm_window *tmp, unsigned char *filled, const msgpack_object *o, char *err,
                       size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 7)
        return bm_sc_fail(err, errlen, "not an array of 7");
    const msgpack_object *a = o->via.array.ptr;
    int64_t start;
    bm_counts c;
    if (bm_sc_as_time(&a[0], &start))
        return bm_sc_fail(err, errlen, "start is not a time in µs (|t| <= 2^61)");
    if (period_start(tmp, start) != start)
        return bm_sc_fail(err, errlen, "start %lld is not aligned to the period (%lld µs)",
                          (long long)start, (long long)tmp->period_us);
    if (bm_sc_as_u64(&a[1], &c.executions) || bm_sc_as_u64(&a[2], &c.successes) ||
        bm_sc_as_u64(&a[3], &c.failures) || bm_sc_as_u64(&a[4], &c.timeouts) ||
        bm_sc_as_u64(&a[5], &c.events))
        return bm_sc_fail(err, errlen, "a count is not an integer >= 0");
    unsigned slot = slot_of(tmp, start);
    bm_period *p = &tmp->periods[slot];
    if (filled[slot]) {
        if (p->start_us == start)
            return bm_sc_fail(err, errlen, "two periods start at %lld", (long long)start);
        if (p->start_us > start) return BM_LOAD_OK; /* out of the newer one's window */
    }
    int rc = bm_hist_load(&p->hist, &a[6], err, errlen);
    if (rc != BM_LOAD_OK) return rc;
    p->start_us = start;
    p->counts = c;
    filled[slot] = 1;
    return BM_LOAD_OK;
}

int bm_window_load(bm_window *w, const msgpack_object *o, char *err, size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3)
        return bm_sc_fail(err, errlen, "window is not an array of 3");
    const msgpack_object *a = o->via.array.ptr;
    int64_t period_us;
    uint32_t n_periods;
    if (bm_sc_as_i64(&a[0], &period_us) || bm_sc_as_u32(&a[1], &n_periods) ||
        a[2].type != MSGPACK_OBJECT_ARRAY)
        return bm_sc_fail(err, errlen, "window: [period_us, n_periods, periods] expected");
    if (period_us != w->period_us || n_periods != w->n_periods) {
        bm_sc_fail(err, errlen, "window of %u x %lld µs saved, this one is %u x %lld µs",
                   (unsigned)n_periods, (long long)period_us, w->n_periods,
                   (long long)w->period_us);
        return BM_LOAD_MISMATCH;
    }
    const msgpack_object *ps = &a[2];
    bm_window tmp;
    unsigned char *filled = calloc(w->n_periods, 1);
    if (!filled || bm_window_init(&tmp, w->period_us, w->n_periods) != 0) {
        free(filled);
        bm_sc_fail(err, errlen, "window: out of memory");
        return BM_LOAD_NOMEM;
    }
    bm_window_set_max_buckets(&tmp, w->periods[0].hist.max_buckets);
    int rc = BM_LOAD_OK;
    for (uint32_t i = 0; i < ps->via.array.size && rc == BM_LOAD_OK; i++) {
        rc = load_period(&tmp, filled, &ps->via.array.ptr[i], err, errlen);
        if (rc != BM_LOAD_OK) bm_sc_wrap(err, errlen, "period %u", (unsigned)i);
    }
    free(filled);
    if (rc == BM_LOAD_OK) {
        bm_period *old = w->periods;
        w->periods = tmp.periods;
        tmp.periods = old;
    }
    bm_window_deinit(&tmp);
    return rc;
}

int bm_window_merge(bm_window *dst, const bm_window *src)
{
    if (dst == src || dst->period_us != src->period_us || dst->n_periods != src->n_periods)
        return -1;
    int rc = 0;
    for (unsigned i = 0; i < src->n_periods; i++) {
        const bm_period *s = &src->periods[i];
        if (!has_data(s)) continue;
        bm_period *d = &dst->periods[slot_of(dst, s->start_us)];
        if (has_data(d) && d->start_us > s->start_us) continue;
        if (!has_data(d) || d->start_us < s->start_us) clear_period(d, s->start_us);
        d->counts.executions += s->counts.executions;
        d->counts.successes += s->counts.successes;
        d->counts.failures += s->counts.failures;
        d->counts.timeouts += s->counts.timeouts;
        d->counts.events += s->counts.events;
        if (bm_hist_merge(&d->hist, &s->hist) != 0) rc = -1;
    }
    return rc;
}
