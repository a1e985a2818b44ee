/*
 * publisher.c - rollups and health transitions to the outputs
 * (publisher.h has the picture).
 */
#include "agent/jobs/publisher.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/outputs/outputs.h"
#include "lib/custom_metrics_json.h"
#include "lib/trace_json.h"

#define ROLLUP_METRICS_MAX 50 /* business metric series in one rollup (all: /api/metrics) */

struct bm_publisher {
    bm_publisher_opts o;
    struct bm_loop *loop;
    bm_view view;
    bm_outputs *outputs;
    bm_publisher_stats stats;
    char **written; /* names given to topic workers since the last rollup, sorted */
    size_t n_written, cap_written;
};

/* ---- the names in the workers hash -------------------------------------------- */

/* Remember that `name` was written (sorted insert, once). */
static void note_written(bm_publisher *p, const char *name)
{
    size_t lo = 0, hi = p->n_written;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->written[mid], name);
        if (!c) return;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (p->n_written == p->cap_written) {
        size_t cap = p->cap_written ? 2 * p->cap_written : 64;
        char **w = realloc(p->written, cap * sizeof *w);
        if (!w) return; /* not remembered: stays in the hash (an evicted worker's last state) */
        p->written = w;
        p->cap_written = cap;
    }
    char *copy = strdup(name);
    if (!copy) return;
    memmove(&p->written[lo + 1], &p->written[lo], (p->n_written - lo) * sizeof *p->written);
    p->written[lo] = copy;
    p->n_written++;
}

static void forget_written(bm_publisher *p)
{
    for (size_t i = 0; i < p->n_written; i++)
        free(p->written[i]);
    p->n_written = 0;
}

/* ---- bodies ----------------------------------------------------------------- */

/*
 * topic workers: <name> <json> ... _updated <now>, for the given workers.
 * `whole`: w is every worker (sorted by name), so a name written since the
 * last whole set and missing from it is gone (evicted): it goes out without
 * a value, which a merge-mode hash removes (HDEL). The hash thus holds the
 * workers the agent tracks, however many names came and went. Not whole
 * (one worker's health change): the body is marked partial, so a
 * replace-mode hash merges it rather than becoming that one worker.
 */
static void emit_workers(bm_publisher *p, const bm_worker_snapshot *w, size_t n, int64_t now_us,
                         int whole)
{
    if ((n == 0 && !whole) || !bm_outputs_wants(p->outputs, BM_TOPIC_WORKERS)) return;
    size_t gone_max = whole ? p->n_written : 0;
    bm_sink_field *f = calloc(n + gone_max + 1, sizeof *f);
    char **texts = calloc(n + 1, sizeof *texts);
    char when[48];
    bm_format_time_us(now_us, 'T', when, sizeof when);
    size_t k = 0;
    if (!f || !texts) goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *j = bm_worker_to_json(&w[i]);
        texts[i] = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!texts[i]) continue;
        f[k++] = (bm_sink_field){w[i].name, strlen(w[i].name), texts[i], strlen(texts[i])};
    }
    for (size_t i = 0, j = 0; i < gone_max; i++) { /* both sorted: one merge pass */
        while (j < n && strcmp(w[j].name, p->written[i]) < 0)
            j++;
        if (j < n && !strcmp(w[j].name, p->written[i])) continue;
        f[k++] = (bm_sink_field){p->written[i], strlen(p->written[i]), NULL, 0};
    }
    f[k++] = (bm_sink_field){"_updated", 8, when, strlen(when)};
    bm_record b = {NULL, 0, NULL, 0, f, k, !whole};
    bm_emit_result res = bm_outputs_emit(p->outputs, BM_TOPIC_WORKERS, bm_record_build, NULL, &b);
    /* the names this set deletes are forgotten once every Redis sink took it:
     * a set refused (Redis not connected) leaves them for the next one */
    if (whole && !res.redis_refused) forget_written(p);
    for (size_t i = 0; i < n; i++)
        note_written(p, w[i].name);
out:
    if (texts)
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
    free(f);
}

/* ---- rollups ----------------------------------------------------------------- */

static void rollup(bm_publisher *p)
{
    if (!p->view.judge(p->view.arg)) return; /* another agent publishes the merged rollups */
    int64_t now = bm_now_us();
    bm_rollup r;
    bm_monitor *mon = p->view.acquire(p->view.arg);
    if (!mon || bm_monitor_rollup(mon, now, p->o.rollup_interval_us, p->o.agent, &r)) {
        bm_warn("rollup skipped: out of memory");
        p->stats.rollups_skipped++;
        p->view.release(p->view.arg, mon);
        return;
    }
    json_t *j = bm_rollup_to_json(&r);
    /* business metrics: the first ROLLUP_METRICS_MAX series (all of them: /api/metrics) */
    json_t *metrics = j ? custom_metrics_rollup_json(mon->metrics, now, ROLLUP_METRICS_MAX) : NULL;
    if (metrics) json_object_set_new(j, "metrics", metrics);
    json_t *counters = p->o.counters ? p->o.counters(p->o.counters_arg) : NULL;
    if (j && counters) json_object_set(j, "counters", counters);
    json_decref(counters);
    json_t *agents = p->o.agents ? p->o.agents(p->o.agents_arg) : NULL;
    if (j && agents) json_object_set(j, "agents", agents);
    json_decref(agents);
    if (j && p->o.rollup_max_bytes && bm_rollup_fit(j, p->o.rollup_max_bytes))
        bm_warn("rollup: could not cut it to outputs.rollup_max_bytes (out of memory)");
    char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int mp_ok = j && bm_json_encode_msgpack(j, &sb) == 0; /* m and json from one tree */
    json_decref(j);
    if (js) {
        bm_record b = {js, strlen(js), mp_ok ? sb.data : NULL, mp_ok ? sb.size : 0, NULL, 0, 0};
        bm_emit_result er = bm_outputs_emit(p->outputs, BM_TOPIC_ROLLUP, bm_record_build, NULL, &b);
        if (er.refused < er.offered)
            p->stats.rollups_published++;
        else
            p->stats.rollups_skipped++;
        emit_workers(p, r.workers, r.n_workers, now, 1);
    } else {
        p->stats.rollups_skipped++;
    }
    msgpack_sbuffer_destroy(&sb);
    free(js);
    p->view.release(p->view.arg, mon); /* r's arrays are the view's: released after use */
}

static void on_rollup(void *arg)
{
    bm_publisher *p = arg;
    if (!bm_loop_stopping(p->loop)) rollup(p);
}

/* ---- health ------------------------------------------------------------------- */

static void on_transition(const bm_worker_snapshot *w, bm_health from, void *arg)
{
    bm_publisher *p = arg;
    p->stats.health_transitions++;
    char issues[BM_ISSUES_MAX * (BM_ISSUE_LEN + 2) + 8] = "";
    for (unsigned i = 0; i < w->n_issues; i++) {
        if (i) strcat(issues, "; ");
        strcat(issues, w->issues[i]);
    }
    bm_log(w->health == BM_HEALTH_FAILED || w->health == BM_HEALTH_DEGRADED ? BM_LOG_WARN
                                                                            : BM_LOG_INFO,
           "worker %s: %s -> %s%s%s", w->name, bm_health_name(from), bm_health_name(w->health),
           w->n_issues ? ": " : "", issues);
    json_t *j = json_object();
    char when[48];
    bm_format_time_us(w->health_since_us, 'T', when, sizeof when);
    json_object_set_new(j, "worker", json_string(w->name));
    json_object_set_new(j, "from", json_string(bm_health_name(from)));
    json_object_set_new(j, "to", json_string(bm_health_name(w->health)));
    json_object_set_new(j, "ts", json_string(when));
    json_t *iss = json_array();
    for (unsigned i = 0; i < w->n_issues; i++)
        json_array_append_new(iss, json_string(w->issues[i]));
    json_object_set_new(j, "issues", iss);
    json_object_set_new(j, "agent", json_string(p->o.agent));
    char *js = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (js) {
        bm_record b = {js, strlen(js), NULL, 0, NULL, 0, 0};
        bm_outputs_emit(p->outputs, BM_TOPIC_HEALTH, bm_record_build, NULL, &b);
    }
    free(js);
    emit_workers(p, w, 1, bm_now_us(), 0);
}

static void judge(bm_publisher *p)
{
    if (!p->view.judge(p->view.arg)) return; /* one judge */
    bm_monitor *mon = p->view.acquire(p->view.arg);
    if (!mon) return;
    worker_stats_evaluate(mon->workers, bm_now_us(), on_transition, p);
    if (p->view.judged) p->view.judged(p->view.arg, mon);
    p->view.release(p->view.arg, mon);
}

static void on_health(void *arg)
{
    bm_publisher *p = arg;
    if (!bm_loop_stopping(p->loop)) judge(p);
}

/* ---- life --------------------------------------------------------------------- */

bm_publisher *bm_publisher_new(const bm_publisher_opts *o, struct bm_loop *loop,
                               const bm_view *view, bm_outputs *outputs)
{
    bm_publisher *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->o = *o;
    p->loop = loop;
    p->view = *view;
    p->outputs = outputs;
    return p;
}

void bm_publisher_free(bm_publisher *p)
{
    if (!p) return;
    forget_written(p);
    free(p->written);
    free(p);
}

int bm_publisher_start(bm_publisher *p)
{
    if (!bm_loop_every(p->loop, p->o.rollup_interval_us, on_rollup, p) ||
        !bm_loop_every(p->loop, p->o.health_interval_us, on_health, p))
        return -1;
    return 0;
}

void bm_publisher_final(bm_publisher *p)
{
    judge(p);
    rollup(p);
}

void bm_publisher_get_stats(const bm_publisher *p, bm_publisher_stats *out)
{
    *out = p->stats;
}
