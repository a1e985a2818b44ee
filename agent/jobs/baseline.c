/*
 * baseline.c - learning the baselines and applying the CLI's requests
 * (baseline.h has the picture).
 */
#include "agent/jobs/baseline.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/parse.h"
#include "agent/core/writer.h"
#include "lib/custom_metrics.h"
#include "proto/rollup.h"

#define METRIC_NAMES_MAX 256 /* business metrics baselined per tick (the first names) */

struct bm_baseline_job {
    bm_baseline_job_opts o;
    struct bm_loop *loop;
    bm_writer *w;
    bm_view view;
    baselines *table;
    bm_worker_snapshot *snap;
    size_t cap;
    int primed;  /* the control hash has been read once */
    int polling; /* an HGETALL is out */
    int learned; /* this process gave the table a sample */
    int fresh;   /* until primed: the table had no life before this process (no key
                  * restored, no request applied), as seen before it learned */
    bm_baseline_job_stats stats;
};

/* ---- learning -------------------------------------------------------------- */

/* The distinct metric names of the last minute (series come in name order). */
typedef struct {
    char names[METRIC_NAMES_MAX][BM_NAME_MAX];
    size_t n;
} metric_names;

static void note_name(const custom_metrics_stat *st, void *arg)
{
    metric_names *mn = arg;
    if (mn->n && !strcmp(mn->names[mn->n - 1], st->name)) return;
    if (mn->n < METRIC_NAMES_MAX) snprintf(mn->names[mn->n++], BM_NAME_MAX, "%s", st->name);
}

/*
 * Each business metric's last minute, all its tag sets together, is a
 * sample of the baseline "metric:NAME": a histogram's p50 and p95 and its
 * values per minute; a counter's sum per minute as its throughput; a
 * gauge's average and maximum in the p50 and p95 places. (No error rate: a
 * metric has none.)
 */
static void learn_metrics(bm_baseline_job *j, const custom_metrics *cm, int64_t now)
{
    static metric_names mn; /* large; ticks never nest */
    mn.n = 0;
    if (custom_metrics_foreach(cm, 0, NULL, now, note_name, &mn) <= 0) return;
    for (size_t i = 0; i < mn.n; i++) {
        custom_metrics_filter f = {.name = mn.names[i]};
        custom_metrics_stat st;
        if (custom_metrics_aggregate(cm, 0, &f, now, &st) <= 0 || !st.count) continue;
        double v[BASELINE__SERIES] = {NAN, NAN, NAN, st.rate_per_s * 60.0};
        if (st.kind == BM_METRIC_HISTOGRAM)
            v[BASELINE_P50] = st.p50, v[BASELINE_P95] = st.p95;
        else if (st.kind == BM_METRIC_GAUGE)
            v[BASELINE_P50] = st.avg, v[BASELINE_P95] = st.max, v[BASELINE_THROUGHPUT] = NAN;
        char key[BM_NAME_MAX + 8];
        snprintf(key, sizeof key, "metric:%s", mn.names[i]);
        j->stats.samples++;
        baselines_observe(j->table, key, v, now); /* refusals: the table counts */
    }
}

static void learn(bm_baseline_job *j, int64_t now)
{
    bm_monitor *mon = j->view.acquire(j->view.arg);
    if (!mon) return;
    size_t n = worker_stats_count(mon->workers);
    if (n > j->cap) {
        bm_worker_snapshot *p = realloc(j->snap, n * sizeof *p);
        if (p) {
            j->snap = p;
            j->cap = n;
        }
    }
    n = worker_stats_snapshot(mon->workers, now, j->snap, j->cap);
    if (mon->metrics) learn_metrics(j, mon->metrics, now);
    j->view.release(j->view.arg, mon);
    for (size_t i = 0; i < n; i++) {
        const bm_window_stats *m = &j->snap[i].win[0]; /* the last minute */
        if (!m->executions) continue;
        int durations = m->max_us > 0;
        double v[BASELINE__SERIES] = {durations ? m->p50_us : NAN, durations ? m->p95_us : NAN,
                                      m->error_rate, m->throughput_per_min};
        j->stats.samples++;
        baselines_observe(j->table, j->snap[i].name, v, now); /* refusals: the table counts */
    }
}

/* ---- requests ---------------------------------------------------------------- */

typedef struct {
    uint64_t seq;
    baseline_request_op op;
    const char *worker;
} request;

static int by_seq(const void *a, const void *b)
{
    const request *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void on_control(const redisReply *r, void *arg)
{
    bm_baseline_job *j = arg;
    j->polling = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    /* as many as the reply holds (one field per worker asked about) */
    request *req = calloc(r->elements / 2 + 1, sizeof *req);
    if (!req) return;
    size_t n = 0;
    uint64_t last = baselines_ctl_seq(j->table), top = last;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(f->str, "_seq")) continue;
        baseline_request_op op;
        uint64_t seq;
        int64_t at;
        if (baseline_request_parse(v->str, &op, &seq, &at)) continue; /* not ours */
        if (seq > top) top = seq;
        if (seq > last) req[n++] = (request){seq, op, f->str};
    }
    if (!j->primed && j->fresh) {
        /* a table without history: what is there was asked of an earlier one
         * (a table restored from a checkpoint applies what is newer than its
         * ctl_seq, 0 included: a request made while the agent was down) */
        if (top) bm_info("baselines: %zu earlier request(s) in the control hash taken as done", n);
        baselines_set_ctl_seq(j->table, top);
        j->primed = 1;
        free(req);
        return;
    }
    j->primed = 1;
    qsort(req, n, sizeof *req, by_seq);
    int64_t now = bm_now_us();
    for (size_t i = 0; i < n; i++) {
        int rc = req[i].op == BASELINE_REQUEST_FREEZE
                     ? baselines_freeze(j->table, req[i].worker, now)
                     : baselines_clear(j->table, req[i].worker);
        if (rc) { /* no such key: nothing frozen, nothing cleared */
            j->stats.unknown++;
            bm_warn("baselines: %s %s (request %" PRIu64 "): no baseline learned yet",
                    baseline_request_name(req[i].op), req[i].worker, req[i].seq);
        } else {
            j->stats.requests++;
            bm_info("baselines: %s %s (request %" PRIu64 ")",
                    req[i].op == BASELINE_REQUEST_FREEZE ? "froze" : "cleared", req[i].worker,
                    req[i].seq);
        }
        baselines_set_ctl_seq(j->table, req[i].seq);
    }
    free(req);
}

static void tick(void *arg)
{
    bm_baseline_job *j = arg;
    if (bm_loop_stopping(j->loop)) return;
    if (!j->primed && !j->learned) /* what the checkpoint restored, if anything */
        j->fresh = baselines_count(j->table) == 0 && baselines_ctl_seq(j->table) == 0;
    uint64_t samples = j->stats.samples;
    learn(j, bm_now_us());
    if (j->stats.samples != samples) j->learned = 1;
    if (!j->polling && bm_writer_up(j->w) &&
        bm_writer_hgetall(j->w, BM_WRITE_QUERY, j->o.control_key, on_control, j) == 0)
        j->polling = 1;
}

/* ---- life ----------------------------------------------------------------------- */

bm_baseline_job *bm_baseline_job_new(const bm_baseline_job_opts *o, struct bm_loop *loop,
                                     bm_writer *w, const bm_view *view, baselines *table)
{
    bm_baseline_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->o = *o;
    j->loop = loop;
    j->w = w;
    j->view = *view;
    j->table = table;
    if (!bm_loop_every(loop, o->interval_us, tick, j)) {
        free(j);
        return NULL;
    }
    const baseline_config *c = baselines_config(table);
    char every[32], learning[32]; /* "1h", not "3.6e+03 s" */
    bm_info("baselines: learning every %s, %s slots, ready after %u sample(s) and %s; "
            "requests from %s",
            bm_format_duration_us(o->interval_us, every, sizeof every),
            baseline_slots_name(c->slots), c->min_samples,
            bm_format_duration_us(c->min_learning_us, learning, sizeof learning), o->control_key);
    return j;
}

void bm_baseline_job_free(bm_baseline_job *j)
{
    if (!j) return;
    free(j->snap);
    free(j);
}

void bm_baseline_job_get_stats(const bm_baseline_job *j, bm_baseline_job_stats *out)
{
    if (j)
        *out = j->stats;
    else
        memset(out, 0, sizeof *out);
}
