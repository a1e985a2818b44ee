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
#include "lib/trace_json.h"

struct bm_publisher {
    bm_publisher_opts o;
    struct bm_loop *loop;
    bm_view view;
    bm_outputs *outputs;
    bm_publisher_stats stats;
};

/* ---- bodies ----------------------------------------------------------------- */

/* topic workers: <name> <json> ... _updated <now>, for the given workers. */
static void emit_workers(bm_publisher *p, const bm_worker_snapshot *w, size_t n, int64_t now_us)
{
    if (n == 0 || !bm_outputs_wants(p->outputs, BM_TOPIC_WORKERS)) return;
    bm_sink_field *f = calloc(n + 1, sizeof *f);
    char **texts = calloc(n, sizeof *texts);
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
    f[k++] = (bm_sink_field){"_updated", 8, when, strlen(when)};
    bm_record b = {NULL, 0, NULL, 0, f, k};
    bm_outputs_emit(p->outputs, BM_TOPIC_WORKERS, bm_record_build, NULL, &b);
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
    json_t *counters = p->o.counters ? p->o.counters(p->o.counters_arg) : NULL;
    if (j && counters) json_object_set(j, "counters", counters);
    json_decref(counters);
    json_t *agents = p->o.agents ? p->o.agents(p->o.agents_arg) : NULL;
    if (j && agents) json_object_set(j, "agents", agents);
    json_decref(agents);
    char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int mp_ok = j && bm_json_encode_msgpack(j, &sb) == 0; /* m and json from one tree */
    json_decref(j);
    if (js) {
        bm_record b = {js, strlen(js), mp_ok ? sb.data : NULL, mp_ok ? sb.size : 0, NULL, 0};
        bm_emit_result er = bm_outputs_emit(p->outputs, BM_TOPIC_ROLLUP, bm_record_build, NULL, &b);
        if (er.refused < er.offered)
            p->stats.rollups_published++;
        else
            p->stats.rollups_skipped++;
        emit_workers(p, r.workers, r.n_workers, now);
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
        bm_record b = {js, strlen(js), NULL, 0, NULL, 0};
        bm_outputs_emit(p->outputs, BM_TOPIC_HEALTH, bm_record_build, NULL, &b);
    }
    free(js);
    emit_workers(p, w, 1, bm_now_us());
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
