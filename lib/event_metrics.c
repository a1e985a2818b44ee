/*
 * event_metrics.c - counts, rates, latency and throughput of all events over
 * the three windows (lib/event_metrics.h).
 *
 * Not here: anything per worker (lib/worker_stats.c) or per error pattern
 * (lib/error_patterns.c), and no I/O or clock.
 *
 * Layout. One rolling window (lib/window.h) per event class and window size,
 * plus one per size over all events:
 *
 *              1m (6 x 10 s)   5m (10 x 30 s)   perf (12 x perf/12)
 *   command    events          events           events
 *   result     executions      executions       executions     success / failure + latency
 *   error      executions      executions       executions     failure + latency
 *   other      events          events           events         status, compensation, custom
 *   all        events          events           events         only for the peak period
 *
 * The "all" row exists because the peak is the busiest period of the sum of
 * the classes, which the classes' own peaks cannot give, and summing their
 * periods by hand would read the ring's layout, which is window.c's business.
 * An answer's latency goes into its window's histogram; the result and error
 * histograms merge exactly into the window's latency figures. Memory is the
 * 15 windows: bounded by their sparse histograms, not by the event count.
 */
#include "event_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_codec.h"
#include "window.h"

#define DEFAULT_PERF_WINDOW_US (60LL * 60 * 1000000)
#define MINUTE_US              (60LL * 1000000)
#define PERF_PERIODS           12
#define P95                    0.95

/* Rows of the table above; the first four are bm_event_window.by_type's order. */
enum { ROW_COMMAND = 0, ROW_RESULT, ROW_ERROR, ROW_OTHER, ROW_ALL, ROW__COUNT };

struct event_metrics {
    bm_window win[ROW__COUNT][BM_WINDOWS];
    uint64_t total[BM_EV__COUNT];
    uint64_t total_failed[BM_EV__COUNT]; /* failures, timeouts apart */
    uint64_t total_timeouts[BM_EV__COUNT];
    uint64_t total_late[BM_EV__COUNT];
    int64_t since_us; /* first time told of (an event, a rollup): the windows count from then on;
                         0 not yet */
    char perf_label[8];
};

static int row_of(bm_event_type type)
{
    switch (type) {
    case BM_EV_COMMAND:
        return ROW_COMMAND;
    case BM_EV_RESULT:
        return ROW_RESULT;
    case BM_EV_ERROR:
        return ROW_ERROR;
    default:
        return ROW_OTHER;
    }
}

event_metrics *event_metrics_new(int64_t perf_window_us)
{
    event_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (perf_window_us <= 0) perf_window_us = DEFAULT_PERF_WINDOW_US;
    int64_t perf_period_us = perf_window_us / PERF_PERIODS;
    if (perf_period_us < 1) perf_period_us = 1;
    const int64_t period_us[BM_WINDOWS] = {10 * 1000000LL, 30 * 1000000LL, perf_period_us};
    const unsigned n_periods[BM_WINDOWS] = {6, 10, PERF_PERIODS};
    for (int r = 0; r < ROW__COUNT; r++)
        for (int w = 0; w < BM_WINDOWS; w++)
            if (bm_window_init(&m->win[r][w], period_us[w], n_periods[w]) != 0) {
                /* free the windows initialised before this one */
                for (int i = r * BM_WINDOWS + w - 1; i >= 0; i--)
                    bm_window_deinit(&m->win[i / BM_WINDOWS][i % BM_WINDOWS]);
                free(m);
                return NULL;
            }
    bm_window_label(perf_window_us, m->perf_label, sizeof m->perf_label);
    return m;
}

void event_metrics_free(event_metrics *m)
{
    if (!m) return;
    for (int r = 0; r < ROW__COUNT; r++)
        for (int w = 0; w < BM_WINDOWS; w++)
            bm_window_deinit(&m->win[r][w]);
    free(m);
}

void event_metrics_watch(event_metrics *m, int64_t now_us)
{
    if (m && !m->since_us) m->since_us = now_us;
}

/*
 * Results count as executions of their outcome; errors as failed
 * executions unless they say timeout. Commands and other events count as
 * events; a latency given with them is not a command -> answer latency and
 * is ignored. A late answer counts in the totals only. A latency that could
 * not enter a histogram (out of memory) leaves the counts right and the
 * latency figures short of one value.
 */
void event_metrics_add(event_metrics *m, bm_event_type type, int outcome, int64_t latency_us,
                       int64_t now_us)
{
    if (!m) return;
    event_metrics_watch(m, now_us);
    int row = row_of(type);
    int answer = row == ROW_RESULT || row == ROW_ERROR;
    bm_outcome oc = BM_OUTCOME_SUCCESS;
    if (answer) {
        if (outcome == BM_OUTCOME_TIMEOUT)
            oc = BM_OUTCOME_TIMEOUT;
        else if (outcome == BM_OUTCOME_FAILURE || row == ROW_ERROR)
            oc = BM_OUTCOME_FAILURE;
    }
    if ((unsigned)type < BM_EV__COUNT) {
        m->total[type]++;
        if (answer && outcome == EVENT_METRICS_LATE)
            m->total_late[type]++;
        else if (answer && oc == BM_OUTCOME_FAILURE)
            m->total_failed[type]++;
        else if (answer && oc == BM_OUTCOME_TIMEOUT)
            m->total_timeouts[type]++;
    }
    if (answer && outcome == EVENT_METRICS_LATE) return;
    int64_t duration_us = latency_us >= 0 ? latency_us : -1;
    for (int w = 0; w < BM_WINDOWS; w++) {
        bm_window *win = &m->win[row][w];
        if (answer)
            (void)bm_window_add_execution(win, now_us, oc, duration_us);
        else
            bm_window_add_event(win, now_us, 1);
        bm_window_add_event(&m->win[ROW_ALL][w], now_us, 1);
    }
}

void event_metrics_add_latency(event_metrics *m, bm_event_type type, int64_t latency_us,
                               int64_t now_us)
{
    int row = row_of(type);
    if (!m || latency_us < 0 || (row != ROW_RESULT && row != ROW_ERROR)) return;
    for (int w = 0; w < BM_WINDOWS; w++)
        (void)bm_window_add_duration(&m->win[row][w], now_us, latency_us);
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

static void fill_window(const event_metrics *m, int w, int64_t now_us, bm_event_window *out)
{
    bm_counts c[ROW_OTHER + 1];
    bm_hist lat, err_lat;
    bm_hist_init(&lat);
    bm_hist_init(&err_lat);
    for (int r = ROW_COMMAND; r <= ROW_OTHER; r++) {
        bm_hist *h = r == ROW_RESULT ? &lat : r == ROW_ERROR ? &err_lat : NULL;
        memset(&c[r], 0, sizeof c[r]);
        (void)bm_window_collect(&m->win[r][w], now_us, &c[r], h);
    }
    (void)bm_hist_merge(&lat, &err_lat);

    const bm_window *all = &m->win[ROW_ALL][w];
    memset(out, 0, sizeof *out);
    if (w == 0)
        memcpy(out->label, "1m", 3);
    else if (w == 1)
        memcpy(out->label, "5m", 3);
    else
        memcpy(out->label, m->perf_label, sizeof out->label);
    out->window_us = bm_window_length_us(all);

    bm_type_stats *t = out->by_type;
    t[ROW_COMMAND].count = c[ROW_COMMAND].events;
    t[ROW_RESULT].count = c[ROW_RESULT].executions;
    t[ROW_RESULT].success = c[ROW_RESULT].successes;
    t[ROW_RESULT].error = c[ROW_RESULT].failures + c[ROW_RESULT].timeouts;
    t[ROW_RESULT].timeouts = c[ROW_RESULT].timeouts;
    t[ROW_ERROR].count = c[ROW_ERROR].executions;
    t[ROW_ERROR].error = c[ROW_ERROR].executions;
    t[ROW_ERROR].timeouts = c[ROW_ERROR].timeouts;
    t[ROW_OTHER].count = c[ROW_OTHER].events;
    for (int r = ROW_COMMAND; r <= ROW_OTHER; r++)
        out->total_events += t[r].count;
    for (int r = ROW_COMMAND; r <= ROW_OTHER; r++)
        t[r].share = ratio(t[r].count, out->total_events);

    uint64_t answers = t[ROW_RESULT].count + t[ROW_ERROR].count;
    out->success_rate = ratio(t[ROW_RESULT].success, answers);
    out->error_rate = ratio(t[ROW_RESULT].error + t[ROW_ERROR].error, answers);
    out->avg_latency_us = bm_hist_mean(&lat);
    out->p95_latency_us = bm_hist_quantile(&lat, P95);

    /* rates divide by the time the window holds data, or longer: by the time
     * watched, when it was quiet before its data began */
    out->covered_us = bm_window_covered_us(all, now_us);
    int64_t watched_us = bm_window_watched_us(all, now_us, m->since_us);
    if (out->covered_us && watched_us > out->covered_us) out->covered_us = watched_us;
    double window_min = (double)out->covered_us / (double)MINUTE_US;
    double period_min = (double)all->period_us / (double)MINUTE_US;
    out->throughput_per_min = window_min > 0 ? (double)out->total_events / window_min : 0.0;
    out->peak_throughput_per_min =
        period_min > 0 ? (double)bm_window_peak_period(all, now_us) / period_min : 0.0;
    /* a window younger than one period divides its average by fewer seconds
     * than a period's: the busiest period was at least that fast (20 events
     * in the first 20 s: 60 a minute, not a peak of 40 over a 30 s period) */
    if (out->peak_throughput_per_min < out->throughput_per_min)
        out->peak_throughput_per_min = out->throughput_per_min;

    bm_hist_deinit(&lat);
    bm_hist_deinit(&err_lat);
}

/* Figures of each window as of now_us (a window's edge moves in steps of
 * one period: see lib/window.h). Rates and shares are 0 when there is
 * nothing to divide by; latency figures are 0 without a paired answer. */
void event_metrics_snapshot(const event_metrics *m, int64_t now_us, bm_event_window out[BM_WINDOWS])
{
    if (!out) return;
    if (!m) {
        memset(out, 0, BM_WINDOWS * sizeof *out);
        return;
    }
    for (int w = 0; w < BM_WINDOWS; w++)
        fill_window(m, w, now_us, &out[w]);
}

uint64_t event_metrics_total(const event_metrics *m, bm_event_type type)
{
    if (!m || (unsigned)type >= BM_EV__COUNT) return 0;
    return m->total[type];
}

uint64_t event_metrics_total_failed(const event_metrics *m, bm_event_type type)
{
    if (!m || (unsigned)type >= BM_EV__COUNT) return 0;
    return m->total_failed[type];
}

uint64_t event_metrics_total_timeouts(const event_metrics *m, bm_event_type type)
{
    if (!m || (unsigned)type >= BM_EV__COUNT) return 0;
    return m->total_timeouts[type];
}

uint64_t event_metrics_total_late(const event_metrics *m, bm_event_type type)
{
    if (!m || (unsigned)type >= BM_EV__COUNT) return 0;
    return m->total_late[type];
}

/* ---- state ------------------------------------------------------------- */

static const char *const row_names[ROW__COUNT] = {"command", "result", "error", "other", "all"};

int event_metrics_save(const event_metrics *m, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 3);
    e |= bm_sc_key(pk, "windows");
    e |= msgpack_pack_map(pk, ROW__COUNT);
    for (int r = 0; r < ROW__COUNT && !e; r++) {
        e |= bm_sc_key(pk, row_names[r]);
        e |= msgpack_pack_array(pk, BM_WINDOWS);
        for (int w = 0; w < BM_WINDOWS && !e; w++)
            e |= bm_window_save(&m->win[r][w], pk);
    }
    e |= bm_sc_key(pk, "totals");
    e |= msgpack_pack_map(pk, BM_EV__COUNT);
    for (int t = 0; t < BM_EV__COUNT; t++) {
        e |= bm_sc_key(pk, bm_event_type_name((bm_event_type)t));
        e |= msgpack_pack_array(pk, 4);
        e |= msgpack_pack_uint64(pk, m->total[t]);
        e |= msgpack_pack_uint64(pk, m->total_failed[t]);
        e |= msgpack_pack_uint64(pk, m->total_timeouts[t]);
        e |= msgpack_pack_uint64(pk, m->total_late[t]);
    }
    e |= bm_sc_key_i64(pk, "since", m->since_us);
    return e ? -1 : 0;
}

static int load_into(event_metrics *tmp, const msgpack_object *o, char *err, size_t errlen)
{
    const msgpack_object *wins = bm_sc_need(o, "windows", MSGPACK_OBJECT_MAP, err, errlen);
    if (!wins) return BM_LOAD_CORRUPT;
    for (int r = 0; r < ROW__COUNT; r++) {
        const msgpack_object *row = bm_sc_get(wins, row_names[r]);
        if (!row || row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != BM_WINDOWS)
            return bm_sc_fail(err, errlen, "windows: '%s' is not an array of %d windows",
                              row_names[r], BM_WINDOWS);
        for (int w = 0; w < BM_WINDOWS; w++) {
            int rc = bm_window_load(&tmp->win[r][w], &row->via.array.ptr[w], err, errlen);
            if (rc) {
                bm_sc_wrap(err, errlen, "windows: %s[%d]", row_names[r], w);
                return rc;
            }
        }
    }
    const msgpack_object *tot = bm_sc_need(o, "totals", MSGPACK_OBJECT_MAP, err, errlen);
    if (!tot) return BM_LOAD_CORRUPT;
    for (int t = 0; t < BM_EV__COUNT; t++) {
        const char *name = bm_event_type_name((bm_event_type)t);
        const msgpack_object *v = bm_sc_get(tot, name);
        if (!v) continue; /* a type the saving build did not have: 0 */
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size < 2 ||
            bm_sc_as_u64(&v->via.array.ptr[0], &tmp->total[t]) ||
            bm_sc_as_u64(&v->via.array.ptr[1], &tmp->total_failed[t]) ||
            (v->via.array.size > 2 &&
             bm_sc_as_u64(&v->via.array.ptr[2], &tmp->total_timeouts[t])) ||
            (v->via.array.size > 3 && bm_sc_as_u64(&v->via.array.ptr[3], &tmp->total_late[t])))
            return bm_sc_fail(err, errlen, "totals: '%s' is not [total, failed, timeouts, late]",
                              name);
    }
    const msgpack_object *since = bm_sc_get(o, "since"); /* absent before it was kept: 0 */
    if (since && bm_sc_as_time(since, &tmp->since_us))
        return bm_sc_fail(err, errlen, "'since' is not a time in µs");
    return BM_LOAD_OK;
}

int event_metrics_load(event_metrics *m, const msgpack_object *o, char *err, size_t errlen)
{
    if (!m || !o || o->type != MSGPACK_OBJECT_MAP)
        return bm_sc_fail(err, errlen, "events: not a map");
    event_metrics *tmp =
        event_metrics_new(m->win[ROW_ALL][BM_WINDOWS - 1].period_us * PERF_PERIODS);
    if (!tmp) {
        bm_sc_fail(err, errlen, "events: out of memory");
        return BM_LOAD_NOMEM;
    }
    int rc = load_into(tmp, o, err, errlen);
    if (rc == BM_LOAD_OK) {
        /* swap the state, keep m's label */
        for (int r = 0; r < ROW__COUNT; r++)
            for (int w = 0; w < BM_WINDOWS; w++) {
                bm_window t = m->win[r][w];
                m->win[r][w] = tmp->win[r][w];
                tmp->win[r][w] = t;
            }
        memcpy(m->total, tmp->total, sizeof m->total);
        memcpy(m->total_failed, tmp->total_failed, sizeof m->total_failed);
        memcpy(m->total_timeouts, tmp->total_timeouts, sizeof m->total_timeouts);
        memcpy(m->total_late, tmp->total_late, sizeof m->total_late);
        m->since_us = tmp->since_us;
    } else {
        bm_sc_wrap(err, errlen, "events");
    }
    event_metrics_free(tmp);
    return rc;
}

int event_metrics_merge(event_metrics *dst, const event_metrics *src)
{
    if (!dst || !src || dst == src) return -1;
    int rc = 0;
    for (int r = 0; r < ROW__COUNT; r++)
        for (int w = 0; w < BM_WINDOWS; w++)
            if (bm_window_merge(&dst->win[r][w], &src->win[r][w]) != 0) rc = -1;
    if (src->since_us && (!dst->since_us || src->since_us < dst->since_us))
        dst->since_us = src->since_us;
    for (int t = 0; t < BM_EV__COUNT; t++) {
        dst->total[t] += src->total[t];
        dst->total_failed[t] += src->total_failed[t];
        dst->total_timeouts[t] += src->total_timeouts[t];
        dst->total_late[t] += src->total_late[t];
    }
    return rc;
}
