/*
 * alerting.c - alert evaluation on the sampler's rounds, notifications to
 * the outputs (alerting.h has the picture).
 *
 * Everything an evaluation sends is built and handed over before it
 * returns: the writer copies commands when they are queued, sinks copy
 * bodies.
 */
#include "agent/jobs/alerting.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cgroup.h"
#include "agent/core/clock.h"
#include "agent/core/host_stats.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/sampler.h"
#include "agent/outputs/outputs.h"
#include "lib/alerts.h"
#include "lib/sysstat.h"
#include "lib/trace_json.h"

#define DEADLETTER_SPAN_US  (60 * 1000000LL) /* deadletter_rate: over the last minute */
#define DEADLETTER_RING_MAX 1024
#define AM_VALID_MIN_US     (30 * 1000000LL)
#define BODY_TEXT_FLAGS     (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define GAUGE_STALE_ROUNDS  3 /* a stream gauge unanswered this many evaluations is unknown */
#define GONE_MAX            1024 /* resolved alerts a merge-mode hash is still to delete */

typedef struct {
    int64_t t_us;
    uint64_t count;
} dl_sample;

struct bm_alerting {
    bm_alerting_opts o;
    struct bm_loop *loop;
    bm_view view;
    bm_outputs *outputs;
    alerts *engine; /* NULL: alerting disabled */
    int64_t interval_us;
    int stopping;

    /* gauges, across evaluations */
    alert_stream_gauge streams[BM_SAMPLER_STREAMS_MAX];
    unsigned rounds_missed[BM_SAMPLER_STREAMS_MAX];
    size_t n_streams;
    bm_cpu_times cpu_prev;
    int cpu_prev_ok;
    bm_cgroup_own cgroup_own;      /* this process's cgroups, read at start */
    uint64_t cgroup_cpu_prev_usec; /* the CPU time of the cgroup holding the quota */
    int64_t cgroup_cpu_prev_mono_us;
    int cgroup_cpu_prev_ok;
    dl_sample *dl_ring; /* deadletter counter samples, oldest first from dl_head */
    size_t dl_cap, dl_head, dl_len;

    /* per evaluation */
    bm_alert *resolved; /* resolved this evaluation, for alerts_firing */
    size_t n_resolved, cap_resolved;
    bm_alert *firing; /* buffer for alerts_firing */
    size_t cap_firing;
    /* fingerprints a merge-mode hash is to delete: resolved, and not written
     * yet by every Redis sink (one refused the set: Redis not connected) */
    uint64_t gone[GONE_MAX];
    size_t n_gone;

    bm_alerting_stats stats;
    int64_t last_eval_us; /* the last evaluation (0 none) */
    int tag_bound_logged; /* an each_tag rule left values out: said once */
};

/* ---- bodies --------------------------------------------------------------- */

/* What one emission is about: one alert (topic alert) or a set (alerts_firing). */
typedef struct {
    bm_alerting *al;
    const bm_alert *alerts;
    size_t n;
    int64_t now_us;
    /* made once, for every sink in format generic */
    char *record;
    size_t record_len;
    msgpack_sbuffer mp;
    int mp_ok;
    /* alerts_firing as hash fields */
    bm_sink_field *fields;
    char **texts;
    char (*fps)[17];
    size_t n_fields;
    char when[48];
    char every[32]; /* alerts.interval in seconds: readers tell a stale hash by it */
} emission;

static void emission_free(emission *e)
{
    free(e->record);
    msgpack_sbuffer_destroy(&e->mp);
    if (e->texts)
        for (size_t i = 0; i < e->n; i++)
            free(e->texts[i]);
    free(e->texts);
    free(e->fps);
    free(e->fields);
}

/* alerts_firing as fields: <fingerprint> <record> ... _updated <now> _agent <name>
 * _every <alerts.interval in s>, and
 * each resolved alert of al->gone as <fingerprint> without a value, so a merge-mode
 * hash deletes it (a replace-mode one has no use for it). */
static int firing_fields(emission *e)
{
    if (e->fields) return 0;
    size_t n = e->n, n_gone = e->al->n_gone;
    e->fields = calloc(n + n_gone + 3, sizeof *e->fields);
    e->texts = calloc(n ? n : 1, sizeof *e->texts);
    e->fps = calloc(n + n_gone + 1, sizeof *e->fps);
    if (!e->fields || !e->texts || !e->fps) return -1;
    const char *agent = e->al->o.agent;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (e->alerts[i].state == BM_ALERT_RESOLVED) continue; /* in al->gone */
        size_t len = 0;
        e->texts[i] = bm_alert_record_text(&e->alerts[i], agent, &len);
        if (!e->texts[i]) continue;
        bm_alert_fingerprint_hex(e->alerts[i].fingerprint, e->fps[i]);
        e->fields[k++] = (bm_sink_field){e->fps[i], 16, e->texts[i], len};
    }
    for (size_t i = 0; i < n_gone; i++) {
        bm_alert_fingerprint_hex(e->al->gone[i], e->fps[n + i]);
        e->fields[k++] = (bm_sink_field){e->fps[n + i], 16, NULL, 0};
    }
    bm_format_time_us(e->now_us, 'T', e->when, sizeof e->when);
    e->fields[k++] = (bm_sink_field){"_updated", 8, e->when, strlen(e->when)};
    e->fields[k++] = (bm_sink_field){"_agent", 6, agent, strlen(agent)};
    snprintf(e->every, sizeof e->every, "%g", (double)e->al->interval_us / 1e6);
    e->fields[k++] = (bm_sink_field){"_every", 6, e->every, strlen(e->every)};
    e->n_fields = k;
    return 0;
}

static int build_body(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg)
{
    emission *e = arg;
    bm_alerting *al = e->al;
    int f = bm_alert_body_format_parse(bm_sink_format(sink));
    out->content_type = "application/json";
    if (topic == BM_TOPIC_ALERTS_FIRING && f == BM_ALERT_BODY_JSON) {
        /* the firing set as a hash */
        if (firing_fields(e)) goto fail;
        out->fields = e->fields;
        out->n_fields = e->n_fields;
        return 0;
    }
    if (topic == BM_TOPIC_ALERT && f == BM_ALERT_BODY_JSON) {
        if (!e->record) {
            e->record = bm_alert_record_text(&e->alerts[0], al->o.agent, &e->record_len);
            e->mp_ok = bm_alert_encode_msgpack(&e->alerts[0], al->o.agent, &e->mp) == 0;
        }
        if (!e->record) goto fail;
        out->data = e->record;
        out->len = e->record_len;
        out->mp = e->mp_ok ? e->mp.data : NULL;
        out->mp_len = e->mp_ok ? e->mp.size : 0;
        return 0;
    }
    bm_alert_body_opts o = {0};
    o.agent = al->o.agent;
    o.routing_key = bm_sink_option(sink, "routing_key");
    o.generator_url = bm_sink_option(sink, "dashboard_url"); /* a webhook's key */
    int64_t valid = 4 * al->interval_us;
    o.firing_valid_us = valid > AM_VALID_MIN_US ? valid : AM_VALID_MIN_US;
    char *text = NULL;
    size_t len = 0;
    if (f == BM_ALERT_BODY_ALERTMANAGER) {
        if (e->n == 0) return 1; /* nothing firing, nothing resolved: nothing to post */
        json_t *j = bm_alert_alertmanager_json(e->alerts, e->n, &o);
        text = j ? json_dumps(j, BODY_TEXT_FLAGS) : NULL;
        json_decref(j);
        if (text) len = strlen(text);
    } else if (f >= 0 && topic == BM_TOPIC_ALERT) {
        text = bm_alert_body((bm_alert_body_format)f, &e->alerts[0], &o, &len);
    }
    if (!text) goto fail;
    out->data = text;
    out->len = len;
    return 0;
fail:
    al->stats.sink_build_errors++;
    return -1;
}

static void release_body(bm_sink_body *body, void *arg)
{
    emission *e = arg;
    /* only the per-sink bodies (Slack, PagerDuty, Alertmanager) are owned here */
    if (body->data && body->data != e->record) free((char *)body->data);
    body->data = NULL;
}

/* ---- one evaluation ------------------------------------------------------- */

static void on_notify(alerts *engine, const bm_alert *alert, void *arg)
{
    (void)engine;
    bm_alerting *al = arg;
    al->stats.notifications++;
    char summary[256];
    bm_alert_summary(alert, summary, sizeof summary);
    char value[32];
    bm_alert_format_value(alert->value, value);
    bm_log(alert->state == BM_ALERT_RESOLVED ? BM_LOG_INFO : BM_LOG_WARN,
           "alert %s (%s, value %s): %s", summary, bm_severity_name(alert->severity), value,
           alert->description);
    emission e;
    memset(&e, 0, sizeof e);
    e.al = al;
    e.alerts = alert;
    e.n = 1;
    e.now_us = bm_now_us();
    msgpack_sbuffer_init(&e.mp);
    bm_emit_result r = bm_outputs_emit(al->outputs, BM_TOPIC_ALERT, build_body, release_body, &e);
    emission_free(&e);
    if (r.redis_refused)
        al->stats.redis_skipped++;
    else if (r.redis_offered)
        al->stats.published++;
    if (alert->state == BM_ALERT_RESOLVED) {
        if (al->n_resolved == al->cap_resolved) {
            size_t cap = al->cap_resolved ? al->cap_resolved * 2 : 16;
            bm_alert *p = realloc(al->resolved, cap * sizeof *p);
            if (!p) return; /* Alertmanager resolves it by itself at its endsAt */
            al->resolved = p;
            al->cap_resolved = cap;
        }
        al->resolved[al->n_resolved++] = *alert;
    }
}

/* al->gone: less what fires again (n_firing alerts firing now), plus what this
 * evaluation resolved; the oldest forgotten past GONE_MAX. */
static void note_gone(bm_alerting *al, const bm_alert *firing, size_t n_firing)
{
    size_t k = 0;
    for (size_t i = 0; i < al->n_gone; i++) {
        size_t j = 0;
        while (j < n_firing && firing[j].fingerprint != al->gone[i])
            j++;
        if (j == n_firing) al->gone[k++] = al->gone[i];
    }
    al->n_gone = k;
    for (size_t i = 0; i < al->n_resolved; i++) {
        if (al->n_gone == GONE_MAX) { /* the oldest is forgotten: counted */
            memmove(al->gone, al->gone + 1, --al->n_gone * sizeof *al->gone);
            al->stats.gone_forgotten++;
        }
        al->gone[al->n_gone++] = al->resolved[i].fingerprint;
    }
}

/* Dead-lettered entries per minute over the last minute (since start at first);
 * now_us is the monotonic clock, so a step of the wall clock neither hides the
 * minute's dead-letters nor leaves the rate unknown until the step ages out. */
static double deadletter_rate(bm_alerting *al, int64_t now_us)
{
    uint64_t count = al->o.deadletters ? al->o.deadletters(al->o.deadletters_arg) : 0;
    if (al->dl_len == al->dl_cap) { /* full: forget the oldest */
        al->dl_head = (al->dl_head + 1) % al->dl_cap;
        al->dl_len--;
    }
    al->dl_ring[(al->dl_head + al->dl_len) % al->dl_cap] = (dl_sample){now_us, count};
    al->dl_len++;
    /* keep one sample at or before now - span as the base, drop older ones */
    while (al->dl_len > 2 &&
           al->dl_ring[(al->dl_head + 1) % al->dl_cap].t_us <= now_us - DEADLETTER_SPAN_US) {
        al->dl_head = (al->dl_head + 1) % al->dl_cap;
        al->dl_len--;
    }
    const dl_sample *base = &al->dl_ring[al->dl_head];
    if (now_us <= base->t_us || count < base->count) return -1;
    return (double)(count - base->count) * 60e6 / (double)(now_us - base->t_us);
}

/* The round's stream figures into the gauges; a stream whose XINFO is late
 * (a long write backlog) keeps its last value for a few evaluations rather
 * than flapping its alerts. */
static void take_streams(bm_alerting *al, const bm_redis_figures *f)
{
    size_t n = f->n_streams;
    for (size_t i = 0; i < n; i++) {
        const bm_sampled_stream *in = &f->streams[i];
        alert_stream_gauge *g = &al->streams[i];
        if (i >= al->n_streams || strcmp(g->name, in->name)) { /* new */
            snprintf(g->name, sizeof g->name, "%s", in->name);
            g->consumer_lag = g->pending = -1;
            al->rounds_missed[i] = 0;
        }
        if (in->answered) {
            g->consumer_lag = in->lag;
            g->pending = in->pending;
            al->rounds_missed[i] = 0;
            if (in->group == 0) al->stats.gauge_errors++;
        } else if (++al->rounds_missed[i] >= GAUGE_STALE_ROUNDS) {
            g->consumer_lag = g->pending = -1;
        }
    }
    al->n_streams = n;
    if (!f->complete) al->stats.gauge_late++;
}

/*
 * In a cgroup with a limit (a container's, a systemd unit's), cpu_percent
 * and memory_percent are of that limit, not of the host: memory, the
 * working set (the use less its inactive page cache, which the kernel
 * reclaims before it kills) of the cgroup holding the tightest memory limit
 * over that limit; CPU, the CPU time the cgroup holding the tightest CPU
 * limit (the least of the quota and the cpuset's CPUs) used since the last
 * evaluation over that limit's share of that time (capped at 100). With no
 * limit ("max", v1's huge number, no cgroup), or one the host is tighter than
 * (a memory limit of MemTotal or more, a CPU limit of as many CPUs as are
 * online or more), the host's figures stay. A limit whose use cannot be read is
 * unknown, never the host's figure (sysmon says which file fails). A few
 * small reads, once an evaluation.
 */
static void against_cgroup_limits(bm_alerting *al, int64_t mono, uint64_t host_memory_bytes,
                                  double *cpu_percent, double *memory_percent)
{
    bm_cgroup_limits lim;
    unsigned cpus = bm_host_cpu_count(al->o.proc_stat);
    bm_cgroup_read_all(al->o.cgroup_root, &al->cgroup_own, cpus, &lim);
    if (host_memory_bytes && lim.memory_limit_bytes >= host_memory_bytes)
        lim.memory_limit_bytes = 0; /* no tighter than the host */
    if (lim.cpu_limit_millicores >= (uint64_t)cpus * 1000) lim.cpu_limit_millicores = 0;
    if (lim.memory_limit_bytes)
        *memory_percent = lim.memory_usage_bytes ? 100.0 * (double)lim.memory_working_set_bytes /
                                                       (double)lim.memory_limit_bytes
                                                 : -1;
    if (lim.cpu_limit_millicores)
        *cpu_percent = lim.cpu_usage_known && al->cgroup_cpu_prev_ok
                           ? sysstat_cgroup_cpu_percent(
                                 al->cgroup_cpu_prev_usec, lim.cpu_usage_usec,
                                 mono - al->cgroup_cpu_prev_mono_us, lim.cpu_limit_millicores)
                           : -1;
    al->cgroup_cpu_prev_usec = lim.cpu_usage_usec;
    al->cgroup_cpu_prev_mono_us = mono;
    al->cgroup_cpu_prev_ok = lim.cpu_usage_known;
}

static void evaluate(const bm_redis_figures *f, void *arg)
{
    bm_alerting *al = arg;
    if (al->stopping || bm_loop_stopping(al->loop)) return;
    int64_t now = bm_now_us(), mono = bm_mono_us();
    take_streams(al, f);
    /* The rate gauges' baselines are kept on every agent, judge or not, so
     * an agent that becomes the judge measures its first cpu_percent over
     * one interval and deadletter_rate over the last minute, not over the
     * time since it last judged. Two small /proc reads, the cgroup's few
     * small files and a ring slot. */
    double deadletter_per_min = deadletter_rate(al, mono);
    bm_cpu_times cpu;
    int cpu_ok = 0;
    double memory_percent = -1, cpu_percent = -1;
    uint64_t memory_total_bytes;
    bm_host_sample(al->o.proc_stat, al->o.proc_meminfo, &cpu, &cpu_ok, &memory_percent,
                   &memory_total_bytes);
    if (cpu_ok && al->cpu_prev_ok) cpu_percent = bm_host_cpu_percent(&al->cpu_prev, &cpu);
    al->cpu_prev = cpu;
    al->cpu_prev_ok = cpu_ok;
    against_cgroup_limits(al, mono, memory_total_bytes, &cpu_percent, &memory_percent);
    if (!al->view.judge(al->view.arg)) return; /* one judge evaluates, on the merged figures */
    al->last_eval_us = now;
    bm_rollup r;
    bm_monitor *mon = al->view.acquire(al->view.arg);
    if (!mon || bm_monitor_rollup(mon, now, al->interval_us, al->o.agent, &r)) {
        bm_warn("alert evaluation skipped: out of memory");
        al->view.release(al->view.arg, mon);
        return;
    }
    uint64_t notified_before = al->stats.notifications;
    alert_gauges g;
    alerts_gauges_init(&g);
    g.streams = al->streams;
    g.n_streams = al->n_streams;
    g.deadletter_per_min = deadletter_per_min;
    g.baselines = al->o.baselines;
    g.anomaly_min_executions = mon->wcfg.min_executions; /* as health judges rates */
    g.metrics = mon->metrics; /* metric:NAME rules */
    g.cpu_percent = cpu_percent;
    g.memory_percent = memory_percent;

    al->n_resolved = 0;
    alerts_evaluate_mono(al->engine, &r, &g, now, mono, on_notify, al); /* `for`, cooldowns */
    al->stats.evaluations++;
    al->view.release(al->view.arg, mon);
    if (al->stats.notifications != notified_before && al->o.notified)
        al->o.notified(al->o.notified_arg);

    /* alerts_firing: every alert firing now, then those that just resolved */
    alerts_stats st;
    alerts_get_stats(al->engine, &st);
    al->stats.tag_values_dropped = st.tag_values_dropped;
    if (st.tag_values_dropped && !al->tag_bound_logged) {
        const char *name = alerts_tag_values_dropped_rule(al->engine);
        const alert_rule *rule = alerts_rule_find(al->engine, name);
        bm_warn("alerts: rule %s (each_tag %s) has more than %d values of its tag; only the "
                "first %d (in series order) are evaluated, the others never alert "
                "(busmon_alert_tag_values_dropped_total counts them; said once)",
                name, rule ? rule->target : "?", ALERTS_TAG_VALUES_MAX, ALERTS_TAG_VALUES_MAX);
        al->tag_bound_logged = 1;
    }
    size_t want = st.firing + al->n_resolved;
    if (want > al->cap_firing) {
        bm_alert *p = realloc(al->firing, want * sizeof *p);
        if (p) {
            al->firing = p;
            al->cap_firing = want;
        }
    }
    size_t n = alerts_firing(al->engine, al->firing, al->cap_firing);
    note_gone(al, al->firing, n);
    for (size_t i = 0; i < al->n_resolved && n < al->cap_firing; i++)
        al->firing[n++] = al->resolved[i];
    emission e;
    memset(&e, 0, sizeof e);
    e.al = al;
    e.alerts = al->firing;
    e.n = n;
    e.now_us = now;
    msgpack_sbuffer_init(&e.mp);
    bm_emit_result sent =
        bm_outputs_emit(al->outputs, BM_TOPIC_ALERTS_FIRING, build_body, release_body, &e);
    emission_free(&e);
    /* a hash that refused the set (Redis not connected) deletes them with the next one */
    if (!sent.redis_refused) al->n_gone = 0;
}

/* ---- life ------------------------------------------------------------------- */

bm_alerting *bm_alerting_new(const bm_alerting_opts *o, struct bm_loop *loop,
                             struct bm_sampler *sampler, const bm_view *view,
                             bm_outputs *outputs)
{
    bm_alerting *al = calloc(1, sizeof *al);
    if (!al) {
        bm_error("out of memory at start (alerting)");
        return NULL;
    }
    al->o = *o;
    al->loop = loop;
    al->view = *view;
    al->outputs = outputs;
    al->interval_us = o->rules->interval_us;
    bm_cgroup_own_read(o->proc_self_cgroup, &al->cgroup_own);
    if (!o->rules->enabled) {
        bm_info("alerts: disabled (alerts.enabled: false)");
        return al;
    }
    al->engine = bm_alert_config_new_engine(o->rules);
    int64_t ring = DEADLETTER_SPAN_US / (al->interval_us > 0 ? al->interval_us : 1) + 2;
    al->dl_cap = ring < DEADLETTER_RING_MAX ? (size_t)ring : DEADLETTER_RING_MAX;
    al->dl_ring = calloc(al->dl_cap, sizeof *al->dl_ring);
    if (!al->engine || !al->dl_ring ||
        bm_sampler_subscribe(sampler, al->interval_us, evaluate, al)) {
        bm_error("out of memory at start (alerting)");
        bm_alerting_free(al);
        return NULL;
    }
    /* the start is the deadletter rate's first base */
    al->dl_ring[0] = (dl_sample){bm_mono_us(), 0};
    al->dl_len = 1;
    size_t enabled = 0;
    for (size_t i = 0; i < o->rules->n_rules; i++)
        enabled += o->rules->rules[i].enabled != 0;
    size_t n_sinks = 0;
    for (size_t i = 0; i < bm_outputs_count(outputs); i++) {
        const bm_sink *s = bm_outputs_at(outputs, i);
        n_sinks += bm_sink_takes(s, BM_TOPIC_ALERT) || bm_sink_takes(s, BM_TOPIC_ALERTS_FIRING);
    }
    bm_info("alerts: %zu rule(s) (%zu enabled) every %.3g s; %zu output(s)", o->rules->n_rules,
            enabled, (double)al->interval_us / 1e6, n_sinks);
    for (size_t i = 0; i < bm_outputs_count(outputs); i++) {
        const bm_sink *s = bm_outputs_at(outputs, i);
        if (bm_sink_takes(s, BM_TOPIC_ALERT) || bm_sink_takes(s, BM_TOPIC_ALERTS_FIRING))
            bm_info("  sink %s (%s, %s)", bm_sink_name(s), bm_sink_type_name(s),
                    bm_sink_format(s));
    }
    return al;
}

void bm_alerting_stop(bm_alerting *al)
{
    if (al) al->stopping = 1;
}

void bm_alerting_free(bm_alerting *al)
{
    if (!al) return;
    alerts_free(al->engine);
    free(al->dl_ring);
    free(al->resolved);
    free(al->firing);
    free(al);
}

void bm_alerting_get_stats(const bm_alerting *al, bm_alerting_stats *out)
{
    *out = al->stats;
}

void bm_alerting_get_counts(const bm_alerting *al, uint64_t *pending, uint64_t *firing,
                            uint64_t *refused)
{
    *pending = *firing = *refused = 0;
    if (!al || !al->engine) return;
    alerts_stats st;
    alerts_get_stats(al->engine, &st);
    *pending = st.pending;
    *firing = st.firing;
    *refused = st.refused;
}

struct alerts *bm_alerting_engine(bm_alerting *al)
{
    return al ? al->engine : NULL;
}

int bm_alerting_enabled(const bm_alerting *al)
{
    return al && al->engine;
}

/* The alerts of `list` as records in a new array (NULL: out of memory). */
static json_t *records(const bm_alerting *al, const bm_alert *list, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *rec = bm_alert_to_json(&list[i], al->o.agent);
        if (!rec || json_array_append_new(arr, rec)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *bm_alerting_api_json(const bm_alerting *al, size_t history_max)
{
    json_t *j = json_object();
    if (!j) return NULL;
    bm_alert *buf = NULL;
    json_t *firing = NULL, *history = NULL;
    size_t n_firing = 0, n_history = 0;
    if (al && al->engine) {
        alerts_stats st;
        alerts_get_stats(al->engine, &st);
        size_t cap = st.firing > history_max ? st.firing : history_max;
        buf = calloc(cap ? cap : 1, sizeof *buf);
        if (!buf) goto fail;
        n_firing = alerts_firing(al->engine, buf, st.firing);
        firing = records(al, buf, n_firing);
        n_history = alerts_history(al->engine, buf, history_max);
        history = records(al, buf, n_history);
    } else {
        firing = json_array();
        history = json_array();
    }
    if (!firing || !history) goto fail;
    char when[48];
    json_t *updated = json_null();
    if (al && al->last_eval_us) {
        bm_format_time_us(al->last_eval_us, 'T', when, sizeof when);
        updated = json_string(when);
    }
    int err = json_object_set(j, "firing", firing) | json_object_set_new(j, "updated", updated) |
              json_object_set_new(j, "agent", json_string(al ? al->o.agent : "")) |
              json_object_set(j, "history", history) |
              json_object_set_new(j, "enabled", json_boolean(al && al->engine));
    json_decref(firing);
    json_decref(history);
    firing = history = NULL;
    if (err) goto fail;
    free(buf);
    return j;
fail:
    json_decref(firing);
    json_decref(history);
    json_decref(j);
    free(buf);
    return NULL;
}
