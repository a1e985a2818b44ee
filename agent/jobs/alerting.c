/*
 * alerting.c - the alert timer, its gauges, and the notification outputs
 * (alerting.h has the picture).
 *
 * One evaluation is a small state machine driven by the loop:
 *
 *   tick ──▶ round n: XINFO GROUPS per stream (tokens tagged with n) ──▶ replies fill gauges
 *     │          no writer / no streams: evaluate at once            │ the last one: evaluate
 *     └─ next tick while round n is still out: evaluate it with what came back (gauge_late);
 *        replies tagged with an older round are ignored; a stream unanswered keeps its
 *        last value for GAUGE_STALE_ROUNDS evaluations, then is unknown
 *
 * Everything an evaluation sends is built and handed over before it
 * returns: hiredis copies a command when it is queued, sinks copy bodies.
 */
#include "agent/jobs/alerting.h"

#include <event2/event.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/config/alerting.h"
#include "agent/core/host_stats.h"
#include "lib/alerts.h"
#include "agent/core/log.h"
#include "agent/outputs/sink.h"
#include "agent/jobs/sysmon.h"
#include "lib/trace_json.h"

#define FLUSH_TIMEOUT_MS    5000
#define DEADLETTER_SPAN_US  (60 * 1000000LL) /* deadletter_rate: over the last minute */
#define DEADLETTER_RING_MAX 1024
#define AM_VALID_MIN_US     (30 * 1000000LL)
#define BODY_TEXT_FLAGS     (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define GAUGE_STALE_ROUNDS  3 /* a stream gauge unanswered this many evaluations is unknown */

/* One XINFO GROUPS in flight (its callback's privdata, freed there): which
 * stream, for which round. hiredis calls back exactly once per command,
 * with NULL when the connection goes. */
typedef struct {
    bm_alerting *al;
    size_t stream;
    uint64_t round;
} xinfo_token;

/* Per stream, across rounds. */
typedef struct {
    int answered;           /* this round's answer is in */
    unsigned rounds_missed; /* evaluations in a row without an answer */
} gauge_state;

typedef struct {
    int64_t t_us;
    uint64_t count;
} dl_sample;

struct bm_alerting {
    bm_agent *agent;
    const bm_alerting_config *cfg;
    alerts *engine; /* NULL: alerting disabled */
    struct event *ev_tick;
    int64_t interval_us;
    int stopping;

    bm_notify_sink **sinks;
    size_t n_sinks;
    size_t flushes_left;
    uint64_t flush_abandoned;

    /* gauges of the current round */
    alert_stream_gauge streams[BM_MAX_STREAMS];
    gauge_state gstate[BM_MAX_STREAMS];
    size_t n_streams;
    uint64_t round;
    size_t outstanding; /* XINFO replies of `round` not yet in */
    int evaluated;      /* `round` has been evaluated */
    bm_cpu_times cpu_prev;
    int cpu_prev_ok;
    dl_sample *dl_ring; /* deadletter counter samples, oldest first from dl_head */
    size_t dl_cap, dl_head, dl_len;

    /* per evaluation */
    bm_alert *resolved; /* resolved this evaluation, for the Alertmanager sinks */
    size_t n_resolved, cap_resolved;
    bm_alert *firing; /* buffer for alerts_firing */
    size_t cap_firing;

    bm_alerting_stats stats;
    int redis_down_logged; /* once per burst of notifications not written */
    int64_t last_eval_us;  /* the last evaluation (0 none) */
};

/* ---- Redis ---------------------------------------------------------------- */

/* One command on the writer, counted with the agent's writes (its replies go
 * to ingest's reply handler, like the rollup's). @return 0, or -1 not sent. */
static int send_cmd(bm_alerting *al, int argc, const char **argv, const size_t *lens)
{
    bm_agent *a = al->agent;
    if (!a->writer_up || !a->writer) return -1;
    if (bm_persist_send(a->persist, a->writer, BM_WRITE_OTHER, argc, argv, lens)) return -1;
    a->writes_pending++;
    return 0;
}

/* XADD <stream> MAXLEN ~ N * m <msgpack> json <json>; PUBLISH <channel> <json>. */
static void publish(bm_alerting *al, const bm_alert *alert)
{
    const char *agent = al->agent->cfg->consumer;
    size_t js_len = 0;
    char *js = bm_alert_record_text(alert, agent, &js_len);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int mp_ok = bm_alert_encode_msgpack(alert, agent, &sb) == 0;
    if (!js) {
        al->stats.redis_skipped++;
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%zu", al->cfg->maxlen);
    const char *argv[10] = {"XADD", al->cfg->stream, "MAXLEN", "~", maxlen, "*"};
    size_t lens[10] = {4, strlen(al->cfg->stream), 6, 1, strlen(maxlen), 1};
    int argc = 6;
    if (mp_ok) argv[argc] = "m", lens[argc++] = 1, argv[argc] = sb.data, lens[argc++] = sb.size;
    argv[argc] = "json", lens[argc++] = 4;
    argv[argc] = js, lens[argc++] = js_len;
    const char *pargv[3] = {"PUBLISH", al->cfg->channel, js};
    size_t plens[3] = {7, strlen(al->cfg->channel), js_len};
    if (send_cmd(al, argc, argv, lens) == 0) {
        send_cmd(al, 3, pargv, plens);
        al->stats.published++;
        if (al->redis_down_logged)
            bm_info("alerts: writing notifications to %s again", al->cfg->stream);
        al->redis_down_logged = 0;
    } else {
        al->stats.redis_skipped++;
        if (!al->redis_down_logged)
            bm_warn("alerts: Redis is not connected: notifications are not written to %s "
                    "(sinks still get them; counted in redis_skipped)",
                    al->cfg->stream);
        al->redis_down_logged = 1;
    }
    msgpack_sbuffer_destroy(&sb);
    free(js);
}

/*
 * The firing hash, rewritten whole in one transaction so a reader never
 * sees it half done and stale entries (from a previous run) go away:
 * MULTI; DEL h; HSET h fp1 json1 ... _updated ISO _agent NAME; EXEC.
 */
static void write_firing_hash(bm_alerting *al, const bm_alert *firing, size_t n, int64_t now_us)
{
    const char *hash = al->cfg->firing_hash;
    const char *agent = al->agent->cfg->consumer;
    size_t argc_max = 2 * n + 6;
    const char **argv = calloc(argc_max, sizeof *argv);
    size_t *lens = calloc(argc_max, sizeof *lens);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    char(*fps)[17] = calloc(n ? n : 1, sizeof *fps);
    char when[48];
    bm_format_time_us(now_us, 'T', when, sizeof when);
    if (!argv || !lens || !texts || !fps) {
        al->stats.redis_skipped++;
        goto out;
    }
    int argc = 0;
    argv[argc] = "HSET", lens[argc++] = 4;
    argv[argc] = hash, lens[argc++] = strlen(hash);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        texts[i] = bm_alert_record_text(&firing[i], agent, &len);
        if (!texts[i]) continue;
        bm_alert_fingerprint_hex(firing[i].fingerprint, fps[i]);
        argv[argc] = fps[i], lens[argc++] = 16;
        argv[argc] = texts[i], lens[argc++] = len;
    }
    argv[argc] = "_updated", lens[argc++] = 8;
    argv[argc] = when, lens[argc++] = strlen(when);
    argv[argc] = "_agent", lens[argc++] = 6;
    argv[argc] = agent, lens[argc++] = strlen(agent);
    const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    size_t multi_len[1] = {5}, exec_len[1] = {4};
    const char *del[2] = {"DEL", hash};
    size_t del_len[2] = {3, strlen(hash)};
    if (send_cmd(al, 1, multi, multi_len) == 0) {
        send_cmd(al, 2, del, del_len);
        send_cmd(al, argc, argv, lens);
        send_cmd(al, 1, exec, exec_len);
    } else {
        al->stats.redis_skipped++;
    }
out:
    if (texts)
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
    free(fps);
    free(argv);
    free(lens);
}

/* ---- sinks ---------------------------------------------------------------- */

typedef struct {
    bm_alerting *al;
    const bm_alert *alerts;
    size_t n;
} body_arg;

static int build_body(const bm_notify_sink *sink, bm_notify_body *out, void *arg)
{
    body_arg *b = arg;
    int f = bm_alert_body_format_parse(bm_notify_sink_format(sink));
    bm_alert_body_opts o = {0};
    o.agent = b->al->agent->cfg->consumer;
    o.routing_key = bm_notify_sink_option(sink, "routing_key");
    int64_t valid = 4 * b->al->interval_us;
    o.firing_valid_us = valid > AM_VALID_MIN_US ? valid : AM_VALID_MIN_US;
    char *text = NULL;
    size_t len = 0;
    if (f == BM_ALERT_BODY_ALERTMANAGER) {
        json_t *j = bm_alert_alertmanager_json(b->alerts, b->n, &o);
        text = j ? json_dumps(j, BODY_TEXT_FLAGS) : NULL;
        json_decref(j);
        if (text) len = strlen(text);
    } else if (f >= 0) {
        text = bm_alert_body((bm_alert_body_format)f, &b->alerts[0], &o, &len);
    }
    if (!text) {
        b->al->stats.sink_build_errors++;
        return -1;
    }
    out->data = text;
    out->len = len;
    out->content_type = "application/json";
    return 0;
}

static void release_body(bm_notify_body *body, void *arg)
{
    (void)arg;
    free((char *)body->data);
    body->data = NULL;
}

static int is_alertmanager(const bm_notify_sink *s)
{
    return !strcmp(bm_notify_sink_format(s), "alertmanager");
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
    publish(al, alert);
    body_arg b = {al, alert, 1};
    for (size_t i = 0; i < al->n_sinks; i++)
        if (!is_alertmanager(al->sinks[i]))
            bm_notify_sink_emit_built(al->sinks[i], build_body, release_body, &b);
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

/* Dead-lettered entries per minute over the last minute (since start at first). */
static double deadletter_rate(bm_alerting *al, int64_t now_us)
{
    uint64_t count = al->agent->stats.deadletter;
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

static void evaluate(bm_alerting *al)
{
    bm_agent *a = al->agent;
    al->evaluated = 1;
    int64_t now = bm_now_us();
    al->last_eval_us = now;
    bm_rollup r;
    if (bm_monitor_rollup(&a->mon, now, al->interval_us, a->cfg->consumer, &r)) {
        bm_warn("alert evaluation skipped: out of memory");
        return;
    }
    /* A stream whose XINFO is late (a long write backlog) keeps its last
     * value for a few evaluations rather than flapping its alerts. */
    for (size_t i = 0; i < al->n_streams; i++) {
        gauge_state *sl = &al->gstate[i];
        if (sl->answered) continue;
        if (++sl->rounds_missed >= GAUGE_STALE_ROUNDS)
            al->streams[i].consumer_lag = al->streams[i].pending = -1;
    }
    alert_gauges g;
    alerts_gauges_init(&g);
    g.streams = al->streams;
    g.n_streams = al->n_streams;
    g.deadletter_per_min = deadletter_rate(al, now);
    bm_cpu_times cpu;
    int cpu_ok = 0;
    bm_host_sample(NULL, NULL, &cpu, &cpu_ok, &g.memory_percent);
    if (cpu_ok && al->cpu_prev_ok) g.cpu_percent = bm_host_cpu_percent(&al->cpu_prev, &cpu);
    al->cpu_prev = cpu;
    al->cpu_prev_ok = cpu_ok;

    al->n_resolved = 0;
    alerts_evaluate(al->engine, &r, &g, now, on_notify, al);
    al->stats.evaluations++;

    alerts_stats st;
    alerts_get_stats(al->engine, &st);
    size_t want = st.firing + al->n_resolved;
    if (want > al->cap_firing) {
        bm_alert *p = realloc(al->firing, want * sizeof *p);
        if (p) {
            al->firing = p;
            al->cap_firing = want;
        }
    }
    size_t n_firing = alerts_firing(al->engine, al->firing, al->cap_firing);
    write_firing_hash(al, al->firing, n_firing, now);
    /* Alertmanager: every alert firing now, then those that just resolved */
    size_t n_am = n_firing;
    for (size_t i = 0; i < al->n_resolved && n_am < al->cap_firing; i++)
        al->firing[n_am++] = al->resolved[i];
    if (n_am) {
        body_arg b = {al, al->firing, n_am};
        for (size_t i = 0; i < al->n_sinks; i++)
            if (is_alertmanager(al->sinks[i]))
                bm_notify_sink_emit_built(al->sinks[i], build_body, release_body, &b);
    }
    /* the writes leave on the loop's next turn (the adapter watches the socket) */
}

/* ---- gauges: XINFO GROUPS ---------------------------------------------------- */

static void on_xinfo(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    xinfo_token tok = *(xinfo_token *)privdata;
    free(privdata);
    bm_alerting *al = tok.al;
    if (tok.round != al->round || al->evaluated) return; /* an older round */
    redisReply *r = reply;
    alert_stream_gauge *g = &al->streams[tok.stream];
    gauge_state *slot = &al->gstate[tok.stream];
    if (r) {
        /* an answer without our group, or an error (no such stream): unknown */
        g->consumer_lag = g->pending = -1;
        if (r->type == REDIS_REPLY_ARRAY)
            bm_xinfo_group(r, al->agent->cfg->group, &g->pending, &g->consumer_lag);
        if (r->type == REDIS_REPLY_ERROR) al->stats.gauge_errors++;
        slot->answered = 1;
        slot->rounds_missed = 0;
    }
    if (al->outstanding > 0) al->outstanding--;
    if (al->outstanding == 0 && !al->stopping) evaluate(al);
}

static void start_round(bm_alerting *al)
{
    bm_agent *a = al->agent;
    al->round++;
    al->evaluated = 0;
    al->outstanding = 0;
    size_t n = a->cfg->n_streams < BM_MAX_STREAMS ? a->cfg->n_streams : BM_MAX_STREAMS;
    for (size_t i = 0; i < n; i++) {
        alert_stream_gauge *g = &al->streams[i];
        gauge_state *sl = &al->gstate[i];
        if (i >= al->n_streams || strcmp(g->name, a->cfg->streams[i])) { /* new */
            snprintf(g->name, sizeof g->name, "%s", a->cfg->streams[i]);
            g->consumer_lag = g->pending = -1;
            sl->rounds_missed = 0;
        }
        sl->answered = 0;
        if (!a->writer_up || !a->writer) continue;
        xinfo_token *tok = malloc(sizeof *tok);
        if (!tok) continue;
        *tok = (xinfo_token){al, i, al->round};
        if (redisAsyncCommand(a->writer, on_xinfo, tok, "XINFO GROUPS %s", a->cfg->streams[i]) ==
            REDIS_OK)
            al->outstanding++;
        else
            free(tok);
    }
    al->n_streams = n;
    if (al->outstanding == 0)
        evaluate(al);
    else
        redisAsyncHandleWrite(a->writer);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_alerting *al = arg;
    if (al->stopping || al->agent->stopping) return;
    if (al->round && !al->evaluated) {
        al->stats.gauge_late++;
        bm_debug("alerts: %zu XINFO answer(s) still out; evaluating without them", al->outstanding);
        evaluate(al);
    }
    start_round(al);
}

/* ---- life ------------------------------------------------------------------- */

bm_alerting *bm_alerting_new(bm_agent *a)
{
    bm_alerting *al = calloc(1, sizeof *al);
    if (!al) {
        bm_error("out of memory at start (alerting)");
        return NULL;
    }
    al->agent = a;
    al->cfg = a->cfg->alerting;
    al->interval_us = al->cfg->rules.interval_us;
    if (!al->cfg->rules.enabled) {
        bm_info("alerts: disabled (alerts.enabled: false)");
        return al;
    }
    al->engine = bm_alert_config_new_engine(&al->cfg->rules);
    int64_t ring = DEADLETTER_SPAN_US / (al->interval_us > 0 ? al->interval_us : 1) + 2;
    al->dl_cap = ring < DEADLETTER_RING_MAX ? (size_t)ring : DEADLETTER_RING_MAX;
    al->dl_ring = calloc(al->dl_cap, sizeof *al->dl_ring);
    al->sinks = calloc(al->cfg->n_sinks ? al->cfg->n_sinks : 1, sizeof *al->sinks);
    al->ev_tick = event_new(a->base, -1, EV_PERSIST, on_tick, al);
    if (!al->engine || !al->dl_ring || !al->sinks || !al->ev_tick) {
        bm_error("out of memory at start (alerting)");
        bm_alerting_free(al);
        return NULL;
    }
    /* the agent's start is the deadletter rate's first base */
    al->dl_ring[0] = (dl_sample){a->started_us ? a->started_us : bm_now_us(), 0};
    al->dl_len = 1;
    for (size_t i = 0; i < al->cfg->n_sinks; i++) {
        char err[512];
        const bm_alerting_sink_config *sc = &al->cfg->sinks[i];
        al->sinks[i] = bm_notify_sink_new(a->base, sc->kv, sc->n_kv, err, sizeof err);
        if (!al->sinks[i]) {
            bm_error("alerts: %s", err);
            bm_alerting_free(al);
            return NULL;
        }
        al->n_sinks++;
    }
    struct timeval tv = {(time_t)(al->interval_us / 1000000),
                         (suseconds_t)(al->interval_us % 1000000)};
    evtimer_add(al->ev_tick, &tv);
    size_t enabled = 0;
    for (size_t i = 0; i < al->cfg->rules.n_rules; i++)
        enabled += al->cfg->rules.rules[i].enabled != 0;
    bm_info("alerts: %zu rule(s) (%zu enabled) every %.3g s to %s; %zu sink(s)",
            al->cfg->rules.n_rules, enabled, (double)al->interval_us / 1e6, al->cfg->stream,
            al->n_sinks);
    for (size_t i = 0; i < al->n_sinks; i++)
        bm_info("  sink %s (%s)", bm_notify_sink_name(al->sinks[i]),
                bm_notify_sink_format(al->sinks[i]));
    return al;
}

static void on_flushed(void *sink, uint64_t abandoned, void *arg)
{
    (void)sink;
    bm_alerting *al = arg;
    al->flush_abandoned += abandoned;
    if (al->flushes_left) al->flushes_left--;
}

void bm_alerting_stop(bm_alerting *al)
{
    if (!al || al->stopping) return;
    al->stopping = 1;
    if (al->ev_tick) evtimer_del(al->ev_tick);
    for (size_t i = 0; i < al->n_sinks; i++) {
        al->flushes_left++;
        bm_notify_sink_flush(al->sinks[i], FLUSH_TIMEOUT_MS, on_flushed, al);
    }
}

void bm_alerting_finish(bm_alerting *al)
{
    if (!al) return;
    bm_alerting_stop(al);
    /* each flush ends by its deadline at the latest: its timer keeps the loop busy */
    while (al->flushes_left > 0)
        if (event_base_loop(al->agent->base, EVLOOP_ONCE) != 0) break;
    if (al->flush_abandoned)
        bm_warn("alerts: %llu notification(s) not delivered by the %d ms stop deadline",
                (unsigned long long)al->flush_abandoned, FLUSH_TIMEOUT_MS);
    if (!al->engine) return;
    bm_info("alerts: %llu evaluation(s), %llu notification(s), %llu written to %s",
            (unsigned long long)al->stats.evaluations, (unsigned long long)al->stats.notifications,
            (unsigned long long)al->stats.published, al->cfg->stream);
    for (size_t i = 0; i < al->n_sinks; i++) {
        bm_notify_stats s;
        bm_notify_sink_stats(al->sinks[i], &s);
        bm_info("  sink %s: %llu sent, %llu failed, %llu retried, %llu dropped",
                bm_notify_sink_name(al->sinks[i]), (unsigned long long)s.sent,
                (unsigned long long)s.failed, (unsigned long long)s.retried,
                (unsigned long long)s.dropped);
    }
}

void bm_alerting_free(bm_alerting *al)
{
    if (!al) return;
    for (size_t i = 0; i < al->n_sinks; i++)
        bm_notify_sink_free(al->sinks[i]);
    free(al->sinks);
    if (al->ev_tick) event_free(al->ev_tick);
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

void bm_alerting_summary(const bm_alerting *al, json_t *summary)
{
    if (!al || !summary) return;
    json_t *j = json_object();
    json_object_set_new(j, "enabled", json_boolean(al->engine != NULL));
    json_object_set_new(j, "evaluations", json_integer((json_int_t)al->stats.evaluations));
    json_object_set_new(j, "notifications", json_integer((json_int_t)al->stats.notifications));
    json_object_set_new(j, "published", json_integer((json_int_t)al->stats.published));
    json_object_set_new(j, "redis_skipped", json_integer((json_int_t)al->stats.redis_skipped));
    json_object_set_new(j, "gauge_late", json_integer((json_int_t)al->stats.gauge_late));
    json_object_set_new(j, "gauge_errors", json_integer((json_int_t)al->stats.gauge_errors));
    if (al->engine) {
        alerts_stats st;
        alerts_get_stats(al->engine, &st);
        json_object_set_new(j, "firing", json_integer((json_int_t)st.firing));
        json_object_set_new(j, "pending", json_integer((json_int_t)st.pending));
        json_object_set_new(j, "refused", json_integer((json_int_t)st.refused));
    }
    json_t *sinks = json_object();
    for (size_t i = 0; i < al->n_sinks; i++) {
        bm_notify_stats s;
        bm_notify_sink_stats(al->sinks[i], &s);
        json_t *o = json_object();
        json_object_set_new(o, "format", json_string(bm_notify_sink_format(al->sinks[i])));
        json_object_set_new(o, "emitted", json_integer((json_int_t)s.emitted));
        json_object_set_new(o, "sent", json_integer((json_int_t)s.sent));
        json_object_set_new(o, "failed", json_integer((json_int_t)s.failed));
        json_object_set_new(o, "retried", json_integer((json_int_t)s.retried));
        json_object_set_new(o, "dropped", json_integer((json_int_t)s.dropped));
        json_object_set_new(o, "attempt_errors", json_integer((json_int_t)s.attempt_errors));
        json_object_set_new(sinks, bm_notify_sink_name(al->sinks[i]), o);
    }
    json_object_set_new(j, "sinks", sinks);
    json_object_set_new(summary, "alerts", j);
}

/* The alerts of `list` as records in a new array (NULL: out of memory). */
static json_t *records(const bm_alerting *al, const bm_alert *list, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *rec = bm_alert_to_json(&list[i], al->agent->cfg->consumer);
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
              json_object_set_new(j, "agent", json_string(al ? al->agent->cfg->consumer : "")) |
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
