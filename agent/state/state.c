/*
 * state.c - events into the monitoring state, timeouts, retention
 * (state.h has the picture).
 */
#include "agent/state/state.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/writer.h"
#include "lib/alerts.h"
#include "lib/checkpoint.h"
#include "lib/deadlines.h"
#include "lib/trace_index.h"

#define TIMEOUT_CHECK_US  (250 * 1000LL)
#define SWEEP_INTERVAL_US (60 * 1000000LL)
#define SWEEP_MAX_DROP    20000
#define TIMEOUTS_PER_WAKE 10000            /* bounded work per wake-up of the timeout check */
#define REFUSALS_LOG_US   (60 * 1000000LL) /* a burst of refusals: one line a minute at most */
#define CHECKS_MAX        1000 /* stored traces read at once before timeouts (answer_checks) */
#define CHECK_AGAIN_US    (2 * 1000000LL) /* a check with no reply by then: sent again */
#define CHECK_RECORDS_MAX 4999            /* a stored trace's records read by a check, at most */

/* A command due to time out whose stored trace is being read (several
 * agents; bm_state_check_stored_answers). Its deadline is back in the heap,
 * CHECK_AGAIN_US later: a lost reply is a check sent again, a reply that
 * finds it gone (answered here meanwhile, or decided by an earlier reply)
 * does nothing. */
typedef struct answer_check {
    struct bm_state *st; /* NULL: the state was freed (the reply only frees this) */
    struct answer_check *prev, *next;
    deadline d;
} answer_check;

struct bm_state {
    trace_store *store;
    bm_monitor mon;
    int mon_ready;
    deadlines *deadlines;
    bm_persist *persist;
    int64_t timeout_grace_us; /* past timeout_seconds before a timeout is called */
    int64_t expire_again_us;  /* its key's EXPIRE queued this long ago: queued again */
    struct bm_loop *loop;
    bm_state_stats stats;
    uint64_t told[2];   /* refusals already logged: workers, error types */
    int64_t told_us[2]; /* when the last line of each was */
    int metrics_enabled;
    int64_t metrics_told_us;   /* the last line about a refused metric */
    int64_t deadlines_told_us; /* the last line about a command not awaited (bound) */
    /* transactions changed since their index summary was last made: one
     * summary each when the write group closes, not one per event */
    char (*index_due)[BM_ID_MAX + 1];
    size_t n_index_due;
    /* several agents: a stored trace read before a timeout is called */
    bm_writer *check_w;
    const char *trace_prefix;
    bm_decoder *check_dec;
    answer_check *checks; /* replies due */
    size_t n_checks;
};

#define INDEX_DUE_MAX 4096 /* a full list makes its summaries at once */

static void index_due_now(void *arg);

/* A full table refuses: one line per burst (a minute at most) of each table,
 * naming the last one refused and how many since the last line. */
static void tell_refusals(bm_state *st, int64_t now_us)
{
    const bm_monitor *m = &st->mon;
    const uint64_t n[2] = {m->workers_refused_events, error_patterns_refused(m->errors)};
    for (int i = 0; i < 2; i++) {
        if (n[i] == st->told[i] || now_us - st->told_us[i] < REFUSALS_LOG_US) continue;
        if (i == 0)
            bm_warn("worker table full: %zu; refused '%s' (%llu event(s) refused since the last "
                    "report; workers idle longer than limits.max_idle are evicted to make room)",
                    worker_stats_count(m->workers), worker_stats_last_refused(m->workers),
                    (unsigned long long)(n[i] - st->told[i]));
        else
            bm_warn("error type table full: %zu; refused '%s' (%llu error(s) refused since the "
                    "last report; types idle longer than limits.max_idle are evicted to make "
                    "room)",
                    error_patterns_count(m->errors), error_patterns_last_refused(m->errors),
                    (unsigned long long)(n[i] - st->told[i]));
        st->told[i] = n[i];
        st->told_us[i] = now_us;
    }
}

/* t's commands are no longer awaited (it ended, or it leaves memory): their
 * deadlines go now, not when they fall due, so they take no room under
 * pubsub.max_timeouts from commands still awaited (at their due time they
 * would time nothing out: time_out skips an ended or forgotten trace). */
static void forget_deadlines(bm_state *st, const trace *t)
{
    trace_event view;
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        if (te->ev.type == BM_EV_COMMAND && te->ev.timeout_s > 0 && te->paired < 0)
            deadlines_cancel(st->deadlines, te->ev.tx, te->ev.id);
    }
}

static int index_now(bm_state *st, const trace *t);

/* A trace leaves memory: its unanswered commands stop counting in flight
 * (and are no longer awaited), and a change its summary was still due for (the write group is open)
 * is planned now, while the trace is there to summarize: a transaction created and evicted in one
 * group would never be indexed, one that failed in the group that evicted it never in the failed
 * set. */
static void on_trace_dropped(const trace *t, void *arg)
{
    bm_state *st = arg;
    trace_index_mark *m = trace_index_mark_of(t);
    if (m->queued) {
        m->queued = 0;
        if (index_now(st, t)) st->stats.nomem++;
    }
    bm_monitor_on_trace_dropped(&st->mon, t);
    if (!trace_is_closed(t)) forget_deadlines(st, t); /* a closed one's went at its end */
}

bm_state *bm_state_new(const bm_state_opts *o, bm_persist *p)
{
    bm_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->persist = p;
    if (p) bm_persist_set_before_close(p, index_due_now, st);
    st->timeout_grace_us = o->timeout_grace_us;
    st->expire_again_us = (o->traces.retention_us > 0 ? o->traces.retention_us : 86400000000LL) / 2;
    st->store = trace_store_new(&o->traces);
    st->deadlines = deadlines_new(o->max_timeouts);
    if (!st->store || !st->deadlines ||
        bm_monitor_init(&st->mon, &o->workers, o->max_error_types)) {
        bm_state_free(st);
        return NULL;
    }
    if (bm_monitor_set_metrics(&st->mon, &o->metrics)) {
        bm_state_free(st);
        return NULL;
    }
    st->metrics_enabled = o->metrics_enabled;
    st->mon_ready = 1;
    trace_store_set_drop_cb(st->store, on_trace_dropped, st);
    return st;
}

void bm_state_free(bm_state *st)
{
    if (!st) return;
    if (st->persist) bm_persist_set_before_close(st->persist, NULL, NULL);
    for (answer_check *c = st->checks; c; c = c->next)
        c->st = NULL; /* their replies come with the writer's end */
    bm_decoder_free(st->check_dec);
    free(st->index_due);
    deadlines_free(st->deadlines);
    trace_store_free(st->store); /* before the monitor: its drop callback names it */
    if (st->mon_ready) bm_monitor_deinit(&st->mon);
    free(st);
}

/* What an applied event adds to the state's own counts. */
static void count_outcome(bm_state *st, const trace_event *te)
{
    if (te->late)
        st->stats.late_answers++;
    else if (trace_event_outcome(&te->ev) == BM_OUTCOME_TIMEOUT)
        st->stats.timeouts++;
}

/* Whether t's record now may be its key's first write, so it carries the
 * key's EXPIRE: its first event in memory (a trace evicted and starting
 * again sets it again: harmless); or the last EXPIRE queued for it more
 * than half the retention ago on this agent's clock (its key's TTL runs out
 * while it still takes events: set it again rather than let a later RPUSH
 * make a key without one). Timed by when the EXPIRE went, not by the
 * events' own times: a producer's clock ahead, a restored command answered
 * late, or a retention raised across a restart cannot skip it. */
static int key_first(const bm_state *st, const trace *t, int64_t now_us)
{
    trace_index_mark *m = trace_index_mark_of(t);
    int64_t now_s = now_us / 1000000, age_us = (now_s - (int64_t)m->expire_s) * 1000000;
    int due = trace_count(t) <= 1 || !m->expire_s || age_us < 0 || age_us > st->expire_again_us;
    if (due) m->expire_s = now_s > 0 ? (uint32_t)now_s : 1;
    return due;
}

/* The transaction changed: its summary for the trace search index (what
 * the index lacks of the last one of a batch is written, with the batch;
 * the trace's mark remembers what was). */
static int index_now(bm_state *st, const trace *t)
{
    trace_summary s;
    char more[TRACE_INDEX_MORE_WORKERS_MAX][TRACE_INDEX_TEXT_MAX + 1];
    trace_index_summarize(t, &s);
    size_t n_more = trace_index_more_workers(t, &s, more, TRACE_INDEX_MORE_WORKERS_MAX);
    return bm_persist_index(st->persist, &s, more, n_more, trace_index_mark_of(t));
}

/* The summaries of the transactions changed since the last ones (called as
 * the write group closes, and when the list is full), each planned into
 * the index writes it lacks. One whose trace left memory meanwhile (evicted,
 * counted there) had its summary made as it left (on_trace_dropped). */
static void index_due_now(void *arg)
{
    bm_state *st = arg;
    size_t n = st->n_index_due;
    st->n_index_due = 0;
    for (size_t i = 0; i < n; i++) {
        const trace *t = trace_store_get(st->store, st->index_due[i]);
        if (!t) continue;
        trace_index_mark_of(t)->queued = 0;
        if (index_now(st, t)) st->stats.nomem++;
    }
}

/* The transaction changed: its summary for the trace search index, made
 * once per write group (a transaction's events in one group make one
 * summary; the trace's mark remembers what the index has). */
static int index_trace(bm_state *st, const trace *t)
{
    trace_index_mark *m = trace_index_mark_of(t);
    if (m->queued) return 0;
    if (!st->index_due && !(st->index_due = malloc(INDEX_DUE_MAX * sizeof *st->index_due)))
        return index_now(st, t);
    if (st->n_index_due == INDEX_DUE_MAX) index_due_now(st);
    const char *tx = trace_tx(t); /* cut at BM_ID_MAX bytes, as "%s" would */
    size_t len = strnlen(tx, BM_ID_MAX);
    memcpy(st->index_due[st->n_index_due], tx, len);
    st->index_due[st->n_index_due++][len] = '\0';
    m->queued = 1;
    return 0;
}

int bm_state_apply(bm_state *st, const bm_event *ev, int64_t now_us, int redelivered)
{
    trace_event added_view, paired_view;
    const trace_event *added = &added_view;
    const trace *t = NULL;
    switch (trace_store_apply(st->store, ev, now_us, &added_view, &t)) {
    case TRACE_STORE_APPLIED:
        st->stats.events_applied++;
        bm_monitor_on_event(&st->mon, t, added, now_us);
        count_outcome(st, added);
        tell_refusals(st, now_us);
        if (added->ev.type == BM_EV_COMMAND && added->ev.timeout_s > 0 && added->paired < 0 &&
            !trace_is_closed(t)) {
            /* from when the agent saw it, so a backlog read late does not time out
             * before its answer further down the stream is read; and a grace
             * later, because the framework's own timeout answer is sent at
             * timeout_seconds and must win the race against ours */
            int64_t timeout_us = (int64_t)(added->ev.timeout_s * 1e6);
            if (deadlines_add(st->deadlines, added->ev.tx, added->ev.id,
                              now_us + timeout_us + st->timeout_grace_us, timeout_us) &&
                now_us - st->deadlines_told_us >= REFUSALS_LOG_US) {
                bm_warn("command %s of %s will not be timed out by busmon: %zu commands await "
                        "their answer (pubsub.max_timeouts); %llu refused so far",
                        added->ev.id, added->ev.tx, deadlines_count(st->deadlines),
                        (unsigned long long)deadlines_refused(st->deadlines));
                st->deadlines_told_us = now_us;
            }
        }
        if ((added->ev.type == BM_EV_RESULT || added->ev.type == BM_EV_ERROR) &&
            added->paired >= 0 && !added->answers_compensation)
            /* answered: its deadline goes now, not when it falls due */
            deadlines_cancel(st->deadlines, added->ev.tx,
                             trace_get(t, (size_t)added->paired, &paired_view)->ev.id);
        const trace_event *closer =
            added->ev.type == BM_EV_STATUS ? trace_closed_by(t, &paired_view) : NULL;
        if (closer && !strcmp(closer->ev.id, added->ev.id))
            forget_deadlines(st, t); /* it ended the transaction */
        if (bm_persist_record(st->persist, &added->ev, added->duration_us,
                              key_first(st, t, now_us)))
            return -1;
        if (index_trace(st, t)) return -1;
        break;
    case TRACE_STORE_DUPLICATE:
        st->stats.duplicates++;
        if (redelivered && bm_persist_record_again(st->persist, ev)) return -1;
        break;
    case TRACE_STORE_TRUNCATED:
        st->stats.truncated++;
        break;
    case TRACE_STORE_NOMEM:
        st->stats.nomem++;
        return -1;
    }
    return 0;
}

void bm_state_untraced(bm_state *st)
{
    st->stats.untraced++;
}

int bm_state_metric(bm_state *st, const bm_event *ev, int64_t now_us)
{
    if (!st->metrics_enabled) {
        st->stats.untraced++;
        return 0;
    }
    custom_metrics_result r = bm_monitor_on_metric(&st->mon, ev, now_us);
    switch (r) {
    case CUSTOM_METRICS_ADDED:
        st->stats.metric_events++;
        break;
    case CUSTOM_METRICS_NOMEM:
        st->stats.nomem++;
        return -1;
    default:
        st->stats.metric_refused++;
        if (now_us - st->metrics_told_us >= REFUSALS_LOG_US) {
            custom_metrics_stats ms;
            custom_metrics_get_stats(st->mon.metrics, &ms);
            /* the reason of this refusal, then the counts of both so far */
            bm_warn("business metrics: '%s' refused: %s (%zu series; %llu refused for "
                    "metrics.max_series, %llu of another kind than their series, so far)",
                    ev->metric_name,
                    r == CUSTOM_METRICS_KIND_CONFLICT
                        ? "its series (name and tags) is of another kind"
                        : "metrics.max_series reached, no series idle for the performance window",
                    ms.series, (unsigned long long)ms.refused,
                    (unsigned long long)ms.kind_conflicts);
            st->metrics_told_us = now_us;
        }
        break;
    }
    return 0;
}

/*
 * A command whose timeout_seconds passed with no answer: an `error` event
 * with error type "timeout" and source "busmon" is added to its trace (so
 * `busmon trace` shows the step timed out) and goes through the monitor
 * like any answer: a timeout for its worker, the event metrics and the
 * error patterns (so `busmon errors` and error_spike see it). A command of
 * a closed transaction (its final status came) is no longer awaited: no
 * timeout. An answer that still comes later is late (first outcome wins).
 */
/* The command d awaits, still unanswered in its trace in memory (*t):
 * filled into *out, or NULL (evicted, ended, answered). The last command of
 * that id is read again into *out: a view is never copied (its id, cmd and
 * corr may point into its own text, trace.h). */
static const trace_event *awaited(bm_state *st, const deadline *d, const trace **t,
                                  trace_event *out)
{
    *t = trace_store_get(st->store, d->tx);
    if (!*t || trace_is_closed(*t)) return NULL; /* evicted, or ended: not awaited */
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < trace_count(*t); i++) {
        const trace_event *te = trace_get(*t, i, out);
        if (te->ev.type == BM_EV_COMMAND && !strcmp(te->ev.id, d->cmd)) found = i;
    }
    if (found == SIZE_MAX) return NULL;
    const trace_event *cmd = trace_get(*t, found, out);
    return cmd->paired < 0 ? cmd : NULL;
}

static void time_out(bm_state *st, const deadline *d, int64_t now_us)
{
    const trace *t;
    trace_event cmd_view;
    const trace_event *cmd = awaited(st, d, &t, &cmd_view);
    if (!cmd) return;
    char id[DEADLINE_ID_MAX + 16], corr[256], worker[256], step[256], msg[128];
    snprintf(id, sizeof id, "%s:timeout", d->cmd);
    snprintf(corr, sizeof corr, "%s", cmd->ev.corr);
    snprintf(worker, sizeof worker, "%s", cmd->ev.worker);
    snprintf(step, sizeof step, "%s", cmd->ev.step);
    snprintf(msg, sizeof msg, "no answer within %g s (timeout_seconds; noticed by busmon)",
             (double)d->timeout_us / 1e6);
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_ERROR;
    ev.id = id;
    ev.tx = d->tx;
    ev.corr = corr;
    ev.cmd = d->cmd;
    ev.worker = worker;
    ev.step = step;
    ev.source = "busmon";
    ev.status = ev.message = "";
    ev.error_type = "timeout";
    ev.error_message = msg;
    ev.ts_us = cmd->ev.ts_us + d->timeout_us;
    ev.duration_us = d->timeout_us;
    ev.ok = -1; /* an error event says no "ok" (the decoder drops it): as its record reads back */
    ev.attempt = ev.priority = -1;
    ev.progress = -1;
    trace_event added_view;
    const trace_event *added = &added_view;
    if (trace_store_apply(st->store, &ev, now_us, &added_view, &t) != TRACE_STORE_APPLIED) return;
    st->stats.timeouts_noticed++;
    bm_monitor_on_event(&st->mon, t, added, now_us);
    count_outcome(st, added);
    bm_debug("command %s of %s (worker %s) timed out after %g s", d->cmd, d->tx,
             worker[0] ? worker : "?", (double)d->timeout_us / 1e6);
    bm_persist_record(st->persist, &added->ev, added->duration_us, key_first(st, t, now_us));
    index_trace(st, t);
}

/* The answer to command d in its stored trace r (LRANGE's reply), read
 * as `busmon trace` reads it: another agent's record paired with our
 * command's. Found: kept in our trace too (no timeout, no late answer;
 * not counted: that agent counted it) and the command out of flight.
 * @return 1 when found. */
static int answered_elsewhere(bm_state *st, const deadline *d, const redisReply *r, int64_t now_us)
{
    trace *stored = trace_new(d->tx);
    if (!stored) return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *el = r->element[i];
        bm_event ev;
        if (el->type == REDIS_REPLY_STRING &&
            bm_decode_msgpack(st->check_dec, el->str, (size_t)el->len, &ev) == BM_DECODE_OK &&
            ev.id[0])
            trace_add(stored, &ev, CHECK_RECORDS_MAX + 1, NULL);
    }
    int found = 0;
    trace_event view, answer;
    for (size_t i = 0; !found && i < trace_count(stored); i++) {
        const trace_event *te = trace_get(stored, i, &view);
        found = te->ev.type == BM_EV_COMMAND && !strcmp(te->ev.id, d->cmd) && te->paired >= 0 &&
                trace_get(stored, (size_t)te->paired, &answer) &&
                !trace_event_is_busmon_timeout(&answer.ev);
    }
    const trace *t;
    trace_event cmd_view, added;
    const trace_event *cmd = found ? awaited(st, d, &t, &cmd_view) : NULL;
    if (cmd) {
        char worker[256];
        snprintf(worker, sizeof worker, "%s", cmd->ev.worker);
        if (trace_store_apply(st->store, &answer.ev, now_us, &added, &t) == TRACE_STORE_APPLIED &&
            added.paired >= 0)
            bm_monitor_answered_elsewhere(&st->mon, worker);
        st->stats.answered_elsewhere++;
        bm_debug("command %s of %s was answered at another agent (its stored trace): no timeout",
                 d->cmd, d->tx);
    }
    trace_free(stored);
    return found;
}

static void on_stored_trace(const redisReply *r, void *arg)
{
    answer_check *c = arg;
    bm_state *st = c->st;
    if (st) {
        if (c->prev)
            c->prev->next = c->next;
        else
            st->checks = c->next;
        if (c->next) c->next->prev = c->prev;
        st->n_checks--;
    }
    /* none (the connection lost): the deadline, back in the heap, reads it
     * again; gone from the heap: answered here meanwhile, or decided */
    if (st && r && deadlines_cancel(st->deadlines, c->d.tx, c->d.cmd)) {
        int64_t now = bm_now_us();
        /* an error (an ACL without LRANGE: counted and told once by the
         * writer) or no answer there: busmon's timeout, as a lone agent's */
        if (r->type != REDIS_REPLY_ARRAY || !answered_elsewhere(st, &c->d, r, now))
            time_out(st, &c->d, now);
        bm_persist_batch_end(st->persist);
    }
    free(c);
}

/* Command d is due. Several agents (check_w): its answer may have gone to
 * another owner (ours was gone past cluster.stale, or the membership
 * changed), so its stored trace is read first; the deadline waits in the
 * heap meanwhile. A lone agent times it out now. */
static void due(bm_state *st, const deadline *d, int64_t now_us)
{
    const trace *t;
    trace_event view;
    if (!st->check_w || !awaited(st, d, &t, &view)) {
        time_out(st, d, now_us);
        return;
    }
    if (deadlines_add(st->deadlines, d->tx, d->cmd, now_us + CHECK_AGAIN_US, d->timeout_us)) {
        time_out(st, d, now_us); /* not kept (out of memory): decided unchecked */
        return;
    }
    if (st->n_checks >= CHECKS_MAX || !bm_writer_up(st->check_w)) return; /* read later */
    answer_check *c = calloc(1, sizeof *c);
    char key[DEADLINE_ID_MAX + 512];
    int klen = snprintf(key, sizeof key, "%s%s", st->trace_prefix, d->tx);
    if (!c || klen < 0 || (size_t)klen >= sizeof key ||
        bm_writer_lrange(st->check_w, BM_WRITE_CLUSTER, key, (size_t)klen, 0, CHECK_RECORDS_MAX,
                         on_stored_trace, c)) {
        free(c); /* read later */
        return;
    }
    c->st = st;
    c->d = *d;
    c->next = st->checks;
    if (st->checks) st->checks->prev = c;
    st->checks = c;
    st->n_checks++;
    st->stats.timeout_checks++;
}

void bm_state_check_stored_answers(bm_state *st, bm_writer *w, const char *trace_prefix,
                                   const bm_decode_limits *limits)
{
    if (!st->check_dec && !(st->check_dec = bm_decoder_new(limits))) return;
    st->check_w = w;
    st->trace_prefix = trace_prefix;
}

static void on_timeouts(void *arg)
{
    bm_state *st = arg;
    if (bm_loop_stopping(st->loop)) return;
    int64_t now = bm_now_us();
    deadline d;
    size_t n = 0;
    for (; n < TIMEOUTS_PER_WAKE && deadlines_pop_due(st->deadlines, now, &d); n++)
        due(st, &d, now);
    if (n) bm_persist_batch_end(st->persist);
}

static void on_sweep(void *arg)
{
    bm_state *st = arg;
    size_t dropped = trace_store_sweep(st->store, bm_now_us(), SWEEP_MAX_DROP);
    if (dropped) bm_debug("retention: dropped %zu traces from memory", dropped);
}

int bm_state_start(bm_state *st, struct bm_loop *loop)
{
    st->loop = loop;
    if (!bm_loop_every(loop, TIMEOUT_CHECK_US, on_timeouts, st) ||
        !bm_loop_every(loop, SWEEP_INTERVAL_US, on_sweep, st))
        return -1;
    return 0;
}

const trace_store *bm_state_traces(const bm_state *st)
{
    return st->store;
}

bm_monitor *bm_state_monitor(bm_state *st)
{
    return &st->mon;
}

void bm_state_get_stats(const bm_state *st, bm_state_stats *out)
{
    *out = st->stats;
    out->timeouts_awaited = deadlines_count(st->deadlines);
    out->timeouts_refused = deadlines_refused(st->deadlines);
}

int bm_state_encode_checkpoint(bm_state *st, const char *agent, struct alerts *al,
                               struct baselines *bl, const char *const *streams,
                               const char (*ids)[BM_STREAM_ID_MAX], size_t n, int64_t now_us,
                               struct msgpack_sbuffer *out)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    if (!c) return -1;
    snprintf(c->agent, sizeof c->agent, "%s", agent);
    c->ts_us = now_us;
    if (st->persist) { /* the judge of several agents sums them (deadletter_rate) */
        bm_persist_stats ps;
        bm_persist_get_stats(st->persist, &ps);
        c->deadlettered = ps.deadletter;
        c->every_us = bm_persist_checkpoint_interval_us(st->persist);
        /* claims this state holds whose acks may not have reached Redis: not
         * applied again when found pending (persist.h) */
        if (bm_persist_claims_fill(st->persist, c)) {
            free(c);
            return -1;
        }
    }
    for (size_t i = 0; i < n && c->n_streams < BM_CHECKPOINT_STREAMS_MAX; i++) {
        if (!ids[i][0]) continue; /* nothing applied from it yet */
        bm_checkpoint_stream *cs = &c->streams[c->n_streams++];
        snprintf(cs->name, sizeof cs->name, "%s", streams[i]);
        snprintf(cs->last_id, sizeof cs->last_id, "%s", ids[i]);
    }
    c->monitor = &st->mon;
    c->deadlines = st->deadlines;
    c->alerts = al;
    c->baselines = bl;
    c->traces = st->store;
    size_t start = out->size;
    int rc = bm_checkpoint_encode(c, out);
    free(c->claimed);
    free(c);
    if (rc) return rc;
    /* what the next start (or another agent of this configuration) decodes:
     * a checkpoint past it would be written every interval and refused at
     * every start. Objects are at least a byte each: only a checkpoint of
     * more bytes than max_objects needs counting them */
    bm_checkpoint_limits lim =
        bm_checkpoint_limits_for(st->mon.wcfg.max_workers, bl ? baselines_config(bl)->max_keys : 0);
    size_t len = out->size - start;
    if (len > lim.max_bytes ||
        (len > lim.max_objects &&
         bm_checkpoint_check(out->data + start, len, &lim, NULL, NULL, 0) != BM_CHECKPOINT_OK))
        return 1;
    return 0;
}

int bm_state_load_checkpoint(bm_state *st, struct alerts *al, struct baselines *bl,
                             const void *data, size_t len, const char *const *streams,
                             char (*ids_out)[BM_STREAM_ID_MAX], size_t n, char *agent_out,
                             size_t agent_len, int64_t *ts_out, char *err, size_t errlen)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    if (!c) return snprintf(err, errlen, "out of memory"), -1;
    c->monitor = &st->mon;
    c->deadlines = st->deadlines;
    c->alerts = al;
    c->baselines = bl;
    c->traces = st->store;
    c->now_us = bm_now_us();
    c->monitor_optional = 1; /* a window setting changed: the rest is still worth having */
    c->keep_claimed = st->persist != NULL;
    bm_checkpoint_status rc = bm_checkpoint_decode(data, len, NULL, c, err, errlen);
    if (rc == BM_CHECKPOINT_OK) {
        if (st->persist) bm_persist_restore_claims(st->persist, c);
        if (c->monitor_skipped)
            bm_warn("checkpoint: the worker figures, event metrics, error patterns and business "
                    "metrics were not restored: %s (a window setting changed since it was "
                    "written); the rest was",
                    err);
        for (size_t i = 0; i < n; i++) {
            ids_out[i][0] = '\0';
            for (size_t k = 0; k < c->n_streams; k++)
                if (!strcmp(c->streams[k].name, streams[i]))
                    snprintf(ids_out[i], BM_STREAM_ID_MAX, "%s", c->streams[k].last_id);
        }
        snprintf(agent_out, agent_len, "%s", c->agent);
        *ts_out = c->ts_us;
        /* the time the agent was down does not count against a timeout (it
         * runs from when the agent saw its command): answers that came
         * meanwhile are in the backlog it reads now, and must not be late */
        deadlines_postpone(st->deadlines, c->now_us - c->ts_us);
        bm_debug("checkpoint: %zu command(s) awaiting an answer put back", c->pending);
        const char *rule, *target;
        for (size_t i = 0; al && !alerts_load_unresolved(al, i, &rule, &target); i++)
            bm_warn("checkpoint: alert %s%s%s was firing and its rule is no longer configured "
                    "as it was; its last firing record is not in the alert history, so no "
                    "resolve can be sent (delete it by hand where it is still open)",
                    rule, target[0] ? " " : "", target);
    } else if (err && !err[0]) {
        snprintf(err, errlen, "%s", bm_checkpoint_status_name(rc));
    }
    free(c->claimed);
    free(c);
    return rc == BM_CHECKPOINT_OK ? 0 : -1;
}
