/*
 * otlp_metrics.c - the workers' figures on topic metrics (otlp_metrics.h).
 */
#include "agent/jobs/otlp_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/loop.h"
#include "agent/outputs/outputs.h"
#include "lib/histogram.h"
#include "lib/otlp.h"
#include "lib/trace.h"
#include "lib/trace_store.h"
#include "lib/worker_stats.h"

typedef struct {
    char *name;
    int64_t start_us; /* its cumulative points' start */
    int64_t last_us;  /* its last answer counted (monotonic: a wall-clock step idles no one) */
    uint64_t successes, failures, timeouts;
    bm_hist duration; /* durations above 0 */
    uint64_t
        zero_durations; /* OTLP's zero bucket: not in the sketch, whose lowest bucket is ~1 µs */
} worker_fig;

/* Answers read before their command, awaiting it (a ring, the oldest
 * forgotten when full): one naming no worker was not counted (nobody's
 * execution yet), one naming no duration had none. Its command's arrival
 * counts what is missing, as the monitor does (lib/monitor.c). */
#define EARLY_MAX       4096
#define EARLY_NO_WORKER 1u /* the low bit of a key: not counted at all */

struct bm_otlp_metrics {
    bm_loop *loop;
    struct event *tick;
    const bm_monitor *mon; /* its workers, read at each export (swapped on restore) */
    const trace_store *traces; /* where an answer's record says whether it came late */
    bm_outputs *outputs;
    int64_t started_us;
    int64_t max_idle_us; /* a full table evicts a worker idle this long (0: never) */
    int evicted;         /* a worker was: a worker added since starts its own points */
    worker_fig *w;       /* sorted by name */
    size_t n, max;
    bm_otlp_metrics_stats stats;
    bm_otlp_buf body;
    uint64_t early[EARLY_MAX]; /* hash of tx and answer id, low bit EARLY_NO_WORKER; 0 free */
    size_t early_next;         /* where the next one goes */
};

/* A full table: the worker whose last answer is oldest goes, when it is
 * max_idle_us old (its series ends; back later, it starts a new one).
 * @return 0 when one went. */
static int evict_idle(bm_otlp_metrics *m, int64_t mono_us)
{
    if (!m->max_idle_us || !m->n) return -1;
    size_t oldest = 0;
    for (size_t i = 1; i < m->n; i++)
        if (m->w[i].last_us < m->w[oldest].last_us) oldest = i;
    if (mono_us - m->w[oldest].last_us < m->max_idle_us) return -1;
    free(m->w[oldest].name);
    bm_hist_deinit(&m->w[oldest].duration);
    memmove(&m->w[oldest], &m->w[oldest + 1], (m->n - oldest - 1) * sizeof *m->w);
    m->n--;
    m->evicted = 1;
    m->stats.workers_evicted++;
    return 0;
}

/* The worker's figures, added in order when new (a full table evicts an
 * idle worker first). @return them, or NULL (full, out of memory). */
static worker_fig *fig_of(bm_otlp_metrics *m, const char *name, int64_t now_us, int64_t mono_us)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, m->w[mid].name);
        if (!c) return &m->w[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (m->n >= m->max) {
        if (evict_idle(m, mono_us)) return NULL;
        return fig_of(m, name, now_us, mono_us); /* its place moved */
    }
    worker_fig *grown = realloc(m->w, (m->n + 1) * sizeof *m->w);
    if (!grown) return NULL;
    m->w = grown;
    char *copy = strdup(name);
    if (!copy) return NULL;
    memmove(&m->w[lo + 1], &m->w[lo], (m->n - lo) * sizeof *m->w);
    memset(&m->w[lo], 0, sizeof m->w[lo]);
    m->w[lo].name = copy;
    /* a name evicted earlier may come back: its new series must not start
     * when the old one did (a cumulative count going down) */
    m->w[lo].start_us = m->evicted ? now_us : m->started_us;
    bm_hist_init(&m->w[lo].duration);
    m->n++;
    return &m->w[lo];
}

/* ev's own record in its trace (into view), looked for from the end,
 * where a record just added usually is. @return it, or NULL. */
static const trace_event *record_of(const bm_otlp_metrics *m, const bm_event *ev, trace_event *view)
{
    const trace *t = m->traces ? trace_store_get(m->traces, ev->tx) : NULL;
    if (!t || !ev->id[0]) return NULL;
    for (size_t i = trace_count(t); i-- > 0;) {
        const trace_event *te = trace_get(t, i, view);
        if (te && !strcmp(te->ev.id, ev->id)) return te;
    }
    return NULL;
}

/* An answer's key in the ring: FNV-1a 64 of tx, NUL, id; never 0. */
static uint64_t early_key(const char *tx, const char *id, unsigned no_worker)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = tx; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    h *= 1099511628211ULL; /* the NUL between them */
    for (const char *s = id; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    h = (h & ~(uint64_t)EARLY_NO_WORKER) | no_worker;
    return h > EARLY_NO_WORKER ? h : 2 | no_worker;
}

static void early_remember(bm_otlp_metrics *m, const bm_event *ev, unsigned no_worker)
{
    if (m->early[m->early_next]) m->stats.early_forgotten++;
    m->early[m->early_next] = early_key(ev->tx, ev->id, no_worker);
    m->early_next = (m->early_next + 1) % EARLY_MAX;
}

static void add_duration(worker_fig *w, int64_t duration_us)
{
    if (duration_us == 0)
        w->zero_durations++;
    else if (duration_us > 0)
        bm_hist_add(&w->duration, duration_us, 1);
}

static void count(worker_fig *w, int outcome, int64_t duration_us, int64_t mono_us)
{
    w->last_us = mono_us;
    if (outcome == BM_OUTCOME_SUCCESS)
        w->successes++;
    else if (outcome == BM_OUTCOME_TIMEOUT)
        w->timeouts++;
    else
        w->failures++;
    add_duration(w, duration_us);
}

/* Request ev just came: the answer it took, when that answer was read
 * before it and is remembered, is counted now (it was not counted at
 * all, or without its duration). */
static void count_early_answer(bm_otlp_metrics *m, const bm_event *ev)
{
    trace_event req_view, view;
    const trace_event *req = record_of(m, ev, &req_view);
    const trace_event *a = req && req->paired >= 0 ? trace_get(trace_store_get(m->traces, ev->tx),
                                                               (size_t)req->paired, &view)
                                                   : NULL;
    if (!a || a->late) return;
    uint64_t key = early_key(ev->tx, a->ev.id, 0);
    size_t i = 0;
    while (i < EARLY_MAX && (m->early[i] & ~(uint64_t)EARLY_NO_WORKER) != key)
        i++;
    if (i == EARLY_MAX) return;
    int no_worker = m->early[i] & EARLY_NO_WORKER;
    m->early[i] = 0;
    int outcome = trace_event_outcome(&a->ev);
    if (outcome < 0 || !a->ev.worker[0]) return;
    int64_t mono = bm_mono_us();
    worker_fig *w = fig_of(m, a->ev.worker, bm_now_us(), mono);
    if (!w) {
        m->stats.workers_refused++;
    } else if (no_worker) {
        count(w, outcome, a->duration_us, mono);
    } else {
        add_duration(w, a->duration_us);
    }
}

int bm_otlp_metrics_observe(const bm_event *ev, int64_t duration_us, int again, void *arg)
{
    bm_otlp_metrics *m = arg;
    if (again) return 0; /* a redelivered duplicate: counted when it was applied */
    /* the outcome as every other count of busmon reads it (lib/trace.c); a
     * late answer is not an execution: its command's timeout was */
    int outcome = trace_event_outcome(ev);
    if (ev->type == BM_EV_COMMAND || ev->type == BM_EV_COMPENSATION) {
        count_early_answer(m, ev);
        return 0;
    }
    if (outcome < 0) return 0;
    /* its own record says whether it is late (its command already timed
     * out: first outcome wins, not an execution) or not paired yet */
    trace_event view;
    const trace_event *te = record_of(m, ev, &view);
    if (te && te->late) return 0;
    if (te && te->paired < 0 && (!ev->worker[0] || ev->duration_us < 0))
        early_remember(m, ev, !ev->worker[0]); /* no worker, or no duration yet */
    if (!ev->worker[0]) return 0;
    int64_t mono = bm_mono_us();
    worker_fig *w = fig_of(m, ev->worker, bm_now_us(), mono);
    if (!w) {
        m->stats.workers_refused++;
        return 0;
    }
    count(w, outcome, duration_us, mono);
    return 0;
}

typedef struct {
    const char *data;
    size_t len;
} metrics_body;

static int build(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg)
{
    (void)sink;
    (void)topic;
    const metrics_body *b = arg;
    out->data = b->data;
    out->len = b->len;
    out->content_type = "application/json";
    return 0;
}

void bm_otlp_metrics_export(bm_otlp_metrics *m)
{
    if (!m->n || !bm_outputs_wants(m->outputs, BM_TOPIC_METRICS)) return;
    int64_t now = bm_now_us();
    bm_otlp_worker_point *pts = calloc(m->n, sizeof *pts);
    if (!pts) return;
    for (size_t i = 0; i < m->n; i++) {
        bm_worker_snapshot snap;
        pts[i].worker = m->w[i].name;
        pts[i].start_us = m->w[i].start_us;
        pts[i].successes = m->w[i].successes;
        pts[i].failures = m->w[i].failures;
        pts[i].timeouts = m->w[i].timeouts;
        pts[i].duration = &m->w[i].duration;
        pts[i].zero_durations = m->w[i].zero_durations;
        if (m->mon && !worker_stats_snapshot_one(m->mon->workers, m->w[i].name, now, &snap)) {
            pts[i].in_flight = snap.in_flight;
            pts[i].health = (int)snap.health;
        }
    }
    bm_otlp_buf_reset(&m->body);
    int rc = bm_otlp_metrics_fragment(pts, m->n, m->started_us, now, &m->body);
    free(pts);
    m->stats.exports++;
    m->stats.workers = m->n;
    metrics_body b = {m->body.data, m->body.len};
    if (rc || bm_outputs_emit(m->outputs, BM_TOPIC_METRICS, build, NULL, &b).refused)
        m->stats.exports_refused++;
}

static void on_tick(void *arg)
{
    bm_otlp_metrics_export(arg);
}

bm_otlp_metrics *bm_otlp_metrics_new(int64_t interval_us, size_t max_workers, int64_t max_idle_us,
                                     bm_loop *loop, const bm_monitor *mon,
                                     const trace_store *traces, bm_outputs *outputs)
{
    bm_otlp_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->loop = loop;
    m->mon = mon;
    m->traces = traces;
    m->outputs = outputs;
    m->max = max_workers ? max_workers : 1000;
    m->max_idle_us = max_idle_us;
    m->started_us = bm_now_us();
    bm_otlp_buf_init(&m->body);
    if (!(m->tick = bm_loop_every(loop, interval_us, on_tick, m))) {
        bm_otlp_metrics_free(m);
        return NULL;
    }
    return m;
}

void bm_otlp_metrics_free(bm_otlp_metrics *m)
{
    if (!m) return;
    if (m->tick) bm_loop_timer_del(m->tick);
    for (size_t i = 0; i < m->n; i++) {
        free(m->w[i].name);
        bm_hist_deinit(&m->w[i].duration);
    }
    free(m->w);
    bm_otlp_buf_deinit(&m->body);
    free(m);
}

void bm_otlp_metrics_get_stats(const bm_otlp_metrics *m, bm_otlp_metrics_stats *out)
{
    if (!m) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = m->stats;
}
