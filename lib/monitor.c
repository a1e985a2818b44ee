/*
 * monitor.c - feed lib/'s worker stats, event metrics and error patterns
 * from kept trace events, and assemble rollups.
 *
 * Which worker an answer belongs to is the trace's business (an answer
 * without a worker takes its command's), and so is its duration (reported,
 * else answer - command), its outcome, whether it is late and whether the
 * trace is closed. An answer paired when it arrives answers a command that
 * was counted in flight (unless the trace closed since: closing took its
 * commands out of flight); an answer that arrives before its command is
 * counted when it arrives, and its command then is not counted in flight.
 * Such an answer had no duration yet (unless reported) and, naming no
 * worker, no worker: its command's arrival (trace_event.answered_early)
 * adds the duration to the event metrics' latency and the worker's
 * figures, or counts the whole execution for the command's worker, once.
 * A guess that gave the answer a duration is its pairing: the answer's own
 * command arriving later counts nothing more.
 */
#include "lib/monitor.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_codec.h"

int bm_monitor_init(bm_monitor *m, const worker_stats_config *cfg, size_t max_patterns)
{
    memset(m, 0, sizeof *m);
    m->wcfg = *cfg;
    m->max_patterns = max_patterns;
    m->workers = worker_stats_new(cfg);
    m->events = event_metrics_new(cfg->perf_window_us);
    m->errors = error_patterns_new(max_patterns, cfg->perf_window_us);
    custom_metrics_config_defaults(&m->mcfg);
    m->mcfg.perf_window_us = cfg->perf_window_us;
    m->metrics = custom_metrics_new(&m->mcfg);
    if (!m->workers || !m->events || !m->errors || !m->metrics) {
        bm_monitor_deinit(m);
        return -1;
    }
    error_patterns_set_max_idle(m->errors, cfg->max_idle_us); /* the workers' bound, too */
    return 0;
}

void bm_monitor_deinit(bm_monitor *m)
{
    worker_stats_free(m->workers);
    event_metrics_free(m->events);
    error_patterns_free(m->errors);
    custom_metrics_free(m->metrics);
    free(m->snap_workers);
    free(m->snap_patterns);
    memset(m, 0, sizeof *m);
}

int bm_monitor_set_metrics(bm_monitor *m, const custom_metrics_config *mc)
{
    custom_metrics_config c = *mc;
    c.perf_window_us = m->wcfg.perf_window_us;
    custom_metrics *t = custom_metrics_new(&c);
    if (!t) return -1;
    custom_metrics_free(m->metrics);
    m->metrics = t;
    m->mcfg = c;
    return 0;
}

custom_metrics_result bm_monitor_on_metric(bm_monitor *m, const bm_event *ev, int64_t now_us)
{
    return custom_metrics_add(m->metrics, ev, now_us);
}

/* t's unanswered commands stop counting in flight (t closed or dropped). */
static void forget_pending(bm_monitor *m, const trace *t)
{
    trace_event view;
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        if (te->ev.type == BM_EV_COMMAND && te->paired < 0 && te->ev.worker[0])
            worker_stats_forget_pending(m->workers, te->ev.worker);
    }
}

/* Request `req` just took an answer read before it (answered_early): what
 * that answer could not count when it came is counted now. */
static void count_early_answer(bm_monitor *m, const trace *t, const trace_event *req,
                               int64_t now_us)
{
    trace_event view;
    const trace_event *a = trace_get(t, (size_t)req->paired, &view);
    if (!a) return;
    int outcome = trace_event_outcome(&a->ev);
    if (outcome < 0) return;
    int reported = a->ev.duration_us >= 0; /* counted with the answer */
    if (!reported) event_metrics_add_latency(m->events, a->ev.type, a->duration_us, now_us);
    if (!a->ev.worker[0]) return;
    if (a->worker_filled) {
        /* nobody's execution when it came (error patterns had it then) */
        if (worker_stats_answer(m->workers, a->ev.worker, (bm_outcome)outcome, a->duration_us,
                                a->ev.error_type, a->ev.error_message, 0, now_us))
            m->workers_refused_events++;
    } else if (!reported) {
        /* an execution of its worker with no duration: its duration now */
        worker_stats_duration(m->workers, a->ev.worker, a->duration_us, now_us);
    }
}

void bm_monitor_on_event(bm_monitor *m, const trace *t, const trace_event *te, int64_t now_us)
{
    const bm_event *e = &te->ev;
    trace_event closer_view;
    const trace_event *closer = trace_closed_by(t, &closer_view);
    int outcome = trace_event_outcome(e); /* -1: not an answer */
    if (outcome >= 0 && te->late) {
        event_metrics_add(m->events, e->type, EVENT_METRICS_LATE, -1, now_us);
        if (e->worker[0] && worker_stats_seen(m->workers, e->worker, now_us))
            m->workers_refused_events++;
        return;
    }
    event_metrics_add(m->events, e->type, outcome, outcome >= 0 ? te->duration_us : -1, now_us);
    if (t && te->answered_early && te->paired >= 0) count_early_answer(m, t, te, now_us);
    if (e->type == BM_EV_COMMAND) {
        int pending = te->paired < 0 && !closer;
        if (e->worker[0] && worker_stats_command(m->workers, e->worker, pending, now_us))
            m->workers_refused_events++;
    } else if (outcome >= 0) {
        /* the command it answers was counted in flight when it arrived
         * unanswered in an open trace, and the trace is open still */
        int was_pending = te->paired >= 0 && !te->answers_compensation && !closer;
        if (e->worker[0] &&
            worker_stats_answer(m->workers, e->worker, (bm_outcome)outcome, te->duration_us,
                                e->error_type, e->error_message, was_pending, now_us))
            m->workers_refused_events++;
        if (outcome != BM_OUTCOME_SUCCESS)
            error_patterns_add(m->errors, e->error_type, e->error_message, e->worker, now_us);
    } else if (e->type != BM_EV_COMPENSATION) {
        /* a compensation names the compensating action, not a worker that
         * executes commands: it belongs to the trace, not to worker stats */
        if (e->worker[0] && worker_stats_seen(m->workers, e->worker, now_us))
            m->workers_refused_events++;
        /* te closed it: ids are unique in a trace */
        if (closer && !strcmp(closer->ev.id, e->id)) forget_pending(m, t);
    }
}

void bm_monitor_on_trace_dropped(bm_monitor *m, const trace *t)
{
    if (!trace_is_closed(t)) forget_pending(m, t);
}

void bm_monitor_answered_elsewhere(bm_monitor *m, const char *worker)
{
    if (worker[0]) worker_stats_forget_pending(m->workers, worker);
}

void bm_monitor_watch(bm_monitor *m, int64_t now_us)
{
    event_metrics_watch(m->events, now_us);
    custom_metrics_watch(m->metrics, now_us);
}

int bm_monitor_rollup(bm_monitor *m, int64_t now_us, int64_t interval_us, const char *agent,
                      bm_rollup *r)
{
    memset(r, 0, sizeof *r);
    size_t nw = worker_stats_count(m->workers);
    if (nw > m->cap_workers) {
        bm_worker_snapshot *p = realloc(m->snap_workers, nw * sizeof *p);
        if (!p) return -1;
        m->snap_workers = p;
        m->cap_workers = nw;
    }
    size_t np = error_patterns_count(m->errors);
    if (np > m->cap_patterns) {
        bm_error_pattern *p = realloc(m->snap_patterns, np * sizeof *p);
        if (!p) return -1;
        m->snap_patterns = p;
        m->cap_patterns = np;
    }
    r->ts_us = now_us;
    r->agent = agent;
    r->interval_us = interval_us;
    bm_monitor_watch(m, now_us); /* quiet since the first rollup: watched */
    event_metrics_snapshot(m->events, now_us, r->events);
    r->n_workers = nw ? worker_stats_snapshot(m->workers, now_us, m->snap_workers, nw) : 0;
    r->workers = m->snap_workers;
    r->n_patterns = np ? error_patterns_snapshot(m->errors, now_us, m->snap_patterns, np) : 0;
    r->patterns = m->snap_patterns;
    /* summary over the performance window: the success rate averaged over the
     * workers with executions, the duration over those with a known one (a
     * worker whose answers carry none would count as 0 ms) */
    double sum_rate = 0, sum_avg = 0;
    size_t with_exec = 0, with_time = 0;
    for (size_t i = 0; i < r->n_workers; i++) {
        const bm_window_stats *w = &r->workers[i].win[BM_WINDOWS - 1];
        if (!w->executions) continue;
        sum_rate += w->success_rate;
        with_exec++;
        if (!w->timed) continue;
        sum_avg += w->avg_us;
        with_time++;
    }
    r->total_commands = r->events[BM_WINDOWS - 1].by_type[0].count;
    r->avg_success_rate = with_exec ? sum_rate / (double)with_exec : 0.0;
    r->avg_duration_us = with_time ? sum_avg / (double)with_time : 0.0;
    r->workers_refused = worker_stats_refused(m->workers);
    r->patterns_refused = error_patterns_refused(m->errors);
    return 0;
}

/* ---- state ------------------------------------------------------------- */

int bm_monitor_save(const bm_monitor *m, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 5);
    e |= bm_sc_key(pk, "workers");
    e |= worker_stats_save(m->workers, pk);
    e |= bm_sc_key(pk, "events");
    e |= event_metrics_save(m->events, pk);
    e |= bm_sc_key(pk, "errors");
    e |= error_patterns_save(m->errors, pk);
    e |= bm_sc_key_u64(pk, "refused_events", m->workers_refused_events);
    e |= bm_sc_key(pk, "metrics");
    e |= custom_metrics_save(m->metrics, pk);
    return e ? -1 : 0;
}

void bm_monitor_swap(bm_monitor *a, bm_monitor *b)
{
    worker_stats *w = a->workers;
    event_metrics *e = a->events;
    error_patterns *p = a->errors;
    uint64_t r = a->workers_refused_events;
    custom_metrics_swap(a->metrics, b->metrics);
    a->workers = b->workers;
    a->events = b->events;
    a->errors = b->errors;
    a->workers_refused_events = b->workers_refused_events;
    b->workers = w;
    b->events = e;
    b->errors = p;
    b->workers_refused_events = r;
}

int bm_monitor_load(bm_monitor *m, const msgpack_object *o, char *err, size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "monitor: not a map");
    uint64_t refused;
    int rc = bm_sc_need_u64(o, "refused_events", &refused, err, errlen);
    if (rc) {
        bm_sc_wrap(err, errlen, "monitor");
        return rc;
    }
    bm_monitor tmp;
    if (bm_monitor_init(&tmp, &m->wcfg, m->max_patterns) != 0 ||
        bm_monitor_set_metrics(&tmp, &m->mcfg) != 0) {
        bm_monitor_deinit(&tmp);
        bm_sc_fail(err, errlen, "monitor: out of memory");
        return BM_LOAD_NOMEM;
    }
    rc = worker_stats_load(tmp.workers, bm_sc_get(o, "workers"), err, errlen);
    if (!rc) rc = event_metrics_load(tmp.events, bm_sc_get(o, "events"), err, errlen);
    if (!rc) rc = error_patterns_load(tmp.errors, bm_sc_get(o, "errors"), err, errlen);
    const msgpack_object *metrics = bm_sc_get(o, "metrics");
    if (!rc && metrics) rc = custom_metrics_load(tmp.metrics, metrics, err, errlen);
    if (!rc) {
        tmp.workers_refused_events = refused;
        bm_monitor_swap(m, &tmp);
    } else {
        bm_sc_wrap(err, errlen, "monitor");
    }
    bm_monitor_deinit(&tmp);
    return rc;
}

int bm_monitor_merge(bm_monitor *dst, const bm_monitor *src)
{
    if (!dst || !src || dst == src) return -1;
    int rc = worker_stats_merge(dst->workers, src->workers);
    rc |= event_metrics_merge(dst->events, src->events);
    rc |= error_patterns_merge(dst->errors, src->errors);
    rc |= custom_metrics_merge(dst->metrics, src->metrics);
    dst->workers_refused_events += src->workers_refused_events;
    return rc ? -1 : 0;
}

void bm_monitor_adopt_health(bm_monitor *dst, const bm_monitor *src)
{
    if (dst && src && dst != src) worker_stats_adopt_health(dst->workers, src->workers);
}
