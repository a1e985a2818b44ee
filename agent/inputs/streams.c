/*
 * ingest.c - the agent's loop: connections, XREADGROUP batches, decode ->
 * apply -> persist -> ack, reconnects, the orderly stop.
 *
 *            reader (may block)                    writer (never blocks)
 *   XREADGROUP ... STREAMS s.. >  ──batch──▶ decode ─▶ trace_store_apply
 *        ▲                                      │
 *        │ next read at once (pipelined with    ▼
 *        │ the writes), held back while more   RPUSH/EXPIRE per tx, XADD
 *        └─ than writes_high_water replies ◀── deadletter, XACK per stream
 *           are outstanding
 *
 * At-least-once: acks go out after the trace writes on the same connection.
 * After any connection loss both connections are dropped and re-made, and
 * the reader first re-reads this consumer's own pending entries (id 0):
 * whatever was read but not acked comes back, and dedup in the trace store
 * keeps it counted once (while recovering, duplicates are re-persisted,
 * since their first write may be what was lost; readers dedup by id).
 */
#include <hiredis/adapters/libevent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <msgpack.h>

#include "agent/core/agent.h"
#include "agent/jobs/alerting.h"
#include "agent/jobs/sysmon.h"
#include "agent/core/log.h"
#include "lib/trace_json.h"

#define RECONNECT_MAX_MS    30000
#define SWEEP_INTERVAL_S    60
#define SWEEP_MAX_DROP      20000
#define STOP_TIMEOUT_S      10
#define READS_IN_FLIGHT_MAX 2     /* one being applied, one being served */
#define TIMEOUTS_PER_WAKE   10000 /* bounded work per wake-up of the timeout check */

static void issue_read(bm_agent *a);
static void schedule_reset(bm_agent *a);
static void maybe_finish_stop(bm_agent *a);

int64_t bm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A person-readable detail for each decode failure (the `error` field of a dead-letter). */
const char *bm_agent_decode_detail(bm_decode_status st)
{
    switch (st) {
    case BM_DECODE_EMPTY:
        return "the entry has no fields";
    case BM_DECODE_OVERSIZED:
        return "the entry is larger than streams.max_entry_bytes";
    case BM_DECODE_NOT_MSGPACK:
        return "field m is not one complete msgpack object";
    case BM_DECODE_NOT_MAP:
        return "field m is msgpack but not a map";
    case BM_DECODE_NOT_JSON:
        return "the JSON field does not parse";
    case BM_DECODE_JSON_NOT_OBJECT:
        return "the JSON field is not an object";
    case BM_DECODE_MISSING_TYPE:
        return "no event type (type / event_type)";
    case BM_DECODE_UNKNOWN_TYPE:
        return "the event type is not command, result, error, status, compensation or custom";
    case BM_DECODE_MISSING_TX:
        return "no transaction id (tx / transaction_id / metadata.transaction_id)";
    case BM_DECODE_MISSING_WORKER:
        return "no worker (worker / worker_name / worker_type)";
    case BM_DECODE_BAD_FIELD:
        return "a known key has an unusable value (time, flag or an over-long id)";
    case BM_DECODE_NOMEM:
        return "out of memory while decoding";
    default:
        return "unusable entry";
    }
}

/* ---- writer replies ------------------------------------------------------ */

static void on_write_reply(bm_write_kind kind, redisReply *reply, void *arg)
{
    bm_agent *a = arg;
    a->writes_pending--;
    if (!reply) {
        a->stats.writes_lost++;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        a->stats.write_errors[kind]++;
        a->write_errors_since_log++;
        int64_t now = bm_now_us();
        if (now - (int64_t)a->last_write_error_log_us > 10 * 1000000) {
            bm_error("redis write failed (%llu errors since the last report): %s",
                     (unsigned long long)a->write_errors_since_log, reply->str);
            a->last_write_error_log_us = (uint64_t)now;
            a->write_errors_since_log = 0;
        }
    } else if (kind == BM_WRITE_ACK && reply->type == REDIS_REPLY_INTEGER) {
        a->stats.acked += (uint64_t)reply->integer;
        a->last_entry_us = bm_now_us();
    }
    if (a->stopping)
        maybe_finish_stop(a);
    else if (!a->reads_in_flight && a->writes_pending <= a->writes_high_water / 2)
        issue_read(a);
}

/* ---- applying an event (both inputs) ----------------------------------- */

int bm_agent_apply(bm_agent *a, const bm_event *ev, int64_t now_us, int redelivered)
{
    const trace_event *added = NULL;
    trace_store_result r = trace_store_apply(a->store, ev, now_us, &added, NULL);
    switch (r) {
    case TRACE_STORE_APPLIED:
        a->stats.events_applied++;
        bm_monitor_on_event(&a->mon, added, now_us);
        if (added->ev.type == BM_EV_COMMAND && added->ev.timeout_s > 0 && added->paired < 0) {
            /* from when the agent saw it, so a backlog read late does not time out
             * before its answer further down the stream is read */
            int64_t timeout_us = (int64_t)(added->ev.timeout_s * 1e6);
            deadlines_add(a->deadlines, added->ev.tx, added->ev.id, now_us + timeout_us,
                          timeout_us);
        }
        if (bm_persist_record(a->persist, &added->ev, added->duration_us)) return -1;
        break;
    case TRACE_STORE_DUPLICATE:
        a->stats.duplicates++;
        if (redelivered && bm_persist_record(a->persist, ev, ev->duration_us)) return -1;
        break;
    case TRACE_STORE_TRUNCATED:
        a->stats.truncated++;
        break;
    case TRACE_STORE_NOMEM:
        a->stats.decode_errors[BM_DECODE_NOMEM]++;
        return -1;
    }
    return 0;
}

static void flush_writes(bm_agent *a)
{
    if (!a->writer) {
        bm_persist_reset(a->persist);
        return;
    }
    long sent = bm_persist_flush(a->persist, a->writer);
    if (sent > 0) {
        a->writes_pending += sent;
        redisAsyncHandleWrite(a->writer);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_writes(arg);
}

void bm_agent_flush_soon(bm_agent *a)
{
    if (a->ev_flush && !event_pending(a->ev_flush, EV_TIMEOUT, NULL))
        event_active(a->ev_flush, EV_TIMEOUT, 0);
}

void bm_agent_deadletter_message(bm_agent *a, const char *channel, size_t channel_len,
                                 const char *body, size_t body_len, const char *reason,
                                 const char *detail)
{
    char ch[512];
    snprintf(ch, sizeof ch, "%.*s", (int)(channel_len < sizeof ch ? channel_len : sizeof ch - 1),
             channel);
    const char *f[2] = {"channel", "body"};
    size_t fl[2] = {7, 4};
    const char *v[2] = {ch, body};
    size_t vl[2] = {strlen(ch), body_len};
    if (a->writer && bm_persist_deadletter(a->persist, a->writer, ch, "pubsub", reason, detail, 2,
                                           f, fl, v, vl) == 0) {
        a->writes_pending++;
        a->stats.deadletter++;
    } else {
        a->stats.deadletter_failed++;
    }
}

/*
 * A command whose timeout_seconds passed with no answer: an `error` event
 * with error type "timeout" is added to its trace (so `busmon trace` shows
 * the step timed out), and the worker is charged a timeout, not a failure.
 */
static void time_out(bm_agent *a, const deadline *d, int64_t now_us)
{
    const trace *t = trace_store_get(a->store, d->tx);
    if (!t) return; /* evicted: nothing to mark (its in-flight count was forgotten) */
    const trace_event *cmd = NULL;
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_at(t, i);
        if (te->ev.type == BM_EV_COMMAND && !strcmp(te->ev.id, d->cmd)) cmd = te;
    }
    if (!cmd || cmd->paired >= 0) return; /* answered in time */
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
    ev.ok = 0;
    ev.attempt = ev.priority = -1;
    ev.progress = -1;
    const trace_event *added = NULL;
    if (trace_store_apply(a->store, &ev, now_us, &added, NULL) != TRACE_STORE_APPLIED) return;
    a->stats.timeouts++;
    if (worker[0])
        worker_stats_answer(a->mon.workers, worker, BM_OUTCOME_TIMEOUT, d->timeout_us, "timeout",
                            msg, 1, now_us);
    bm_debug("command %s of %s (worker %s) timed out after %g s", d->cmd, d->tx,
             worker[0] ? worker : "?", (double)d->timeout_us / 1e6);
    bm_persist_record(a->persist, &added->ev, added->duration_us);
}

static void on_timeouts(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    if (a->stopping) return;
    int64_t now = bm_now_us();
    deadline d;
    for (int n = 0; n < TIMEOUTS_PER_WAKE && deadlines_pop_due(a->deadlines, now, &d); n++)
        time_out(a, &d, now);
    flush_writes(a);
}

/* ---- one entry ----------------------------------------------------------- */

static int64_t entry_id_us(const char *id)
{
    int64_t ms = 0;
    for (; *id >= '0' && *id <= '9'; id++)
        ms = ms * 10 + (*id - '0');
    return ms * 1000;
}

static void deadletter(bm_agent *a, size_t sidx, redisReply *id, const char *reason,
                       const char *detail, size_t n)
{
    const char *stream = a->cfg->streams[sidx];
    if (a->writer &&
        bm_persist_deadletter(a->persist, a->writer, stream, id->str, reason, detail, n, a->fv_ptr,
                              a->fv_len, a->fv_ptr + n, a->fv_len + n) == 0) {
        a->writes_pending++;
        a->stats.deadletter++;
    } else {
        a->stats.deadletter_failed++;
    }
}

static void process_entry(bm_agent *a, size_t sidx, redisReply *entry, int64_t now_us)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return; /* not an entry: nothing to ack either */
    redisReply *id = entry->element[0];
    redisReply *fv = entry->element[1];
    a->stats.entries_read++;
    if (a->first_entry_us == 0) a->first_entry_us = now_us;

    if (fv->type != REDIS_REPLY_ARRAY) {
        /* a pending entry whose content was trimmed from the stream */
        a->stats.deleted_entries++;
        bm_persist_ack(a->persist, sidx, id->str, (size_t)id->len);
        return;
    }
    size_t n = fv->elements / 2;
    if (2 * n > a->fv_cap) {
        size_t cap = a->fv_cap ? a->fv_cap : 64;
        while (cap < 2 * n)
            cap *= 2;
        const char **p = realloc(a->fv_ptr, cap * sizeof *p);
        if (p) a->fv_ptr = p;
        size_t *l = realloc(a->fv_len, cap * sizeof *l);
        if (l) a->fv_len = l;
        if (!p || !l) {
            a->stats.decode_errors[BM_DECODE_NOMEM]++;
            return; /* not acked: delivered again later */
        }
        a->fv_cap = cap;
    }
    /* fields first, then values: [f0..fn-1, v0..vn-1] */
    for (size_t i = 0; i < n; i++) {
        redisReply *f = fv->element[2 * i], *v = fv->element[2 * i + 1];
        a->fv_ptr[i] = f->type == REDIS_REPLY_STRING ? f->str : "";
        a->fv_len[i] = f->type == REDIS_REPLY_STRING ? (size_t)f->len : 0;
        a->fv_ptr[n + i] = v->type == REDIS_REPLY_STRING ? v->str : "";
        a->fv_len[n + i] = v->type == REDIS_REPLY_STRING ? (size_t)v->len : 0;
    }
    bm_event ev;
    bm_decode_status st =
        bm_decode_entry(a->dec, n, a->fv_ptr, a->fv_len, a->fv_ptr + n, a->fv_len + n, &ev);
    if (st != BM_DECODE_OK) {
        a->stats.decode_errors[st]++;
        deadletter(a, sidx, id, bm_decode_status_name(st), bm_agent_decode_detail(st), n);
        bm_persist_ack(a->persist, sidx, id->str, (size_t)id->len);
        return;
    }
    if (!ev.id[0]) ev.id = id->str;
    if (!ev.ts_us) ev.ts_us = entry_id_us(id->str);
    if (!ev.tx[0]) {
        a->stats.untraced++;
        bm_persist_ack(a->persist, sidx, id->str, (size_t)id->len);
        return;
    }
    if (bm_agent_apply(a, &ev, now_us, a->recovering)) return; /* not acked: read again */
    bm_persist_ack(a->persist, sidx, id->str, (size_t)id->len);
}

static long stream_index(bm_agent *a, redisReply *name)
{
    for (size_t i = 0; i < a->cfg->n_streams; i++)
        if (strlen(a->cfg->streams[i]) == (size_t)name->len &&
            !memcmp(a->cfg->streams[i], name->str, (size_t)name->len))
            return (long)i;
    return -1;
}

/* ---- reads ----------------------------------------------------------------- */

static void on_group_created(redisAsyncContext *c, void *reply, void *arg)
{
    (void)c;
    bm_agent *a = arg;
    a->writes_pending--;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))
        bm_error("cannot create consumer group '%s': %s", a->cfg->group, r->str);
    if (a->stopping)
        maybe_finish_stop(a);
    else
        issue_read(a);
}

const unsigned bm_batch_bounds[BM_BATCH_BUCKETS] = {1, 10, 100, 1000, 10000};

static void create_groups(bm_agent *a)
{
    if (!a->writer) return;
    for (size_t i = 0; i < a->cfg->n_streams; i++) {
        if (redisAsyncCommand(a->writer, on_group_created, a, "XGROUP CREATE %s %s 0 MKSTREAM",
                              a->cfg->streams[i], a->cfg->group) == REDIS_OK)
            a->writes_pending++;
    }
}

static void on_read(redisAsyncContext *c, void *reply, void *arg)
{
    (void)c;
    bm_agent *a = arg;
    redisReply *r = reply;
    if (a->reads_in_flight > 0) a->reads_in_flight--;
    if (!r) return; /* connection gone: the reset path takes over */
    a->stats.reads++;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOGROUP", 7)) {
            bm_warn("consumer group '%s' is missing (stream deleted?): creating it", a->cfg->group);
            create_groups(a);
            return;
        }
        bm_error("XREADGROUP failed: %s; retrying", r->str);
        schedule_reset(a);
        return;
    }
    /* A full batch means more is waiting: ask for the next one now, so Redis
     * serves it while this one is decoded and applied (reads overlap work).
     * Not while recovering: the next pending read starts after this one's
     * last id. */
    if (!a->recovering && r->type == REDIS_REPLY_ARRAY) {
        size_t got = 0;
        for (size_t s = 0; s < r->elements; s++) {
            redisReply *sr = r->element[s];
            if (sr->type == REDIS_REPLY_ARRAY && sr->elements == 2 &&
                sr->element[1]->type == REDIS_REPLY_ARRAY)
                got += sr->element[1]->elements;
        }
        if (got >= a->cfg->batch) {
            issue_read(a);
            /* hiredis would send it on the next loop turn, after this batch:
             * push it onto the socket now so the overlap is real */
            if (a->reader) redisAsyncHandleWrite(a->reader);
        }
    }
    int64_t now = bm_now_us();
    size_t total = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < r->elements; s++) {
            redisReply *sr = r->element[s];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2) continue;
            long sidx = stream_index(a, sr->element[0]);
            redisReply *entries = sr->element[1];
            if (sidx < 0 || entries->type != REDIS_REPLY_ARRAY) continue;
            for (size_t e = 0; e < entries->elements; e++) {
                redisReply *entry = entries->element[e];
                process_entry(a, (size_t)sidx, entry, now);
                total++;
                if (a->recovering && entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
                    entry->element[0]->type == REDIS_REPLY_STRING)
                    snprintf(a->pel_cursor[sidx], sizeof a->pel_cursor[sidx], "%s",
                             entry->element[0]->str);
            }
        }
    }
    flush_writes(a); /* out now, while the next batch is read */
    if (total) bm_agent_count_batch(&a->stats, total);
    if (a->recovering && total == 0) {
        a->recovering = 0;
        bm_info("caught up with this consumer's pending entries; reading new entries");
    } else if (!a->recovering && total == 0 && a->cfg->drain) {
        bm_agent_stop(a, "streams drained");
        return;
    }
    issue_read(a);
}

static void issue_read(bm_agent *a)
{
    if (a->stopping || !a->reader_up || !a->writer_up || a->reads_in_flight >= READS_IN_FLIGHT_MAX)
        return;
    if (a->writes_pending > a->writes_high_water) {
        a->stats.paused_reads++;
        return; /* on_write_reply resumes */
    }
    size_t ns = a->cfg->n_streams;
    const char *argv[12 + 2 * BM_MAX_STREAMS];
    size_t lens[12 + 2 * BM_MAX_STREAMS];
    char count[24], block[24];
    snprintf(count, sizeof count, "%zu", a->cfg->batch);
    snprintf(block, sizeof block, "%d", a->cfg->block_ms);
    int argc = 0;
#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
    ARG("XREADGROUP");
    ARG("GROUP");
    ARG(a->cfg->group);
    ARG(a->cfg->consumer);
    ARG("COUNT");
    ARG(count);
    if (!a->recovering && !a->cfg->drain && a->cfg->block_ms > 0) {
        ARG("BLOCK");
        ARG(block);
    }
    ARG("STREAMS");
    for (size_t i = 0; i < ns; i++)
        ARG(a->cfg->streams[i]);
    for (size_t i = 0; i < ns; i++)
        ARG(a->recovering ? a->pel_cursor[i] : ">");
#undef ARG
    if (redisAsyncCommandArgv(a->reader, on_read, a, argc, argv, lens) == REDIS_OK)
        a->reads_in_flight++;
}

/* ---- connections ----------------------------------------------------------- */

static void on_setup_reply(redisAsyncContext *c, void *reply, void *arg)
{
    bm_agent *a = arg;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        bm_error("redis %s refused the connection set-up: %s", a->url.display, r->str);
        (void)c;
        schedule_reset(a);
    }
}

static void on_connect(const redisAsyncContext *c, int status)
{
    bm_agent *a = c->data;
    int is_reader = c == a->reader;
    if (!is_reader && c != a->writer) return; /* already let go of */
    if (status != REDIS_OK) {
        bm_error("cannot connect to Redis at %s: %s", a->url.display, c->errstr);
        if (is_reader)
            a->reader = NULL;
        else
            a->writer = NULL;
        schedule_reset(a);
        return;
    }
    if (is_reader)
        a->reader_up = 1;
    else
        a->writer_up = 1;
    if (a->reader_up && a->writer_up) {
        a->reconnect_delay_ms = 0;
        bm_info("connected to %s; reading %zu stream(s) as %s/%s", a->url.display,
                a->cfg->n_streams, a->cfg->group, a->cfg->consumer);
        issue_read(a);
    }
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
    bm_agent *a = c->data;
    if (c == a->reader) {
        a->reader = NULL;
        a->reader_up = 0;
        a->reads_in_flight = 0;
    } else if (c == a->writer) {
        a->writer = NULL;
        a->writer_up = 0;
    } else {
        return; /* let go of on purpose (reset or stop) */
    }
    if (a->stopping) {
        if (!a->writer) event_base_loopexit(a->base, NULL);
        return;
    }
    if (status != REDIS_OK)
        bm_error("lost the connection to Redis at %s: %s", a->url.display, c->errstr);
    schedule_reset(a);
}

static redisAsyncContext *connect_one(bm_agent *a)
{
    redisAsyncContext *c = a->url.path[0] ? redisAsyncConnectUnix(a->url.path)
                                          : redisAsyncConnect(a->url.host, a->url.port);
    if (!c) return NULL;
    if (c->err) {
        bm_error("cannot connect to Redis at %s: %s", a->url.display, c->errstr);
        redisAsyncFree(c);
        return NULL;
    }
    c->data = a;
    redisLibeventAttach(c, a->base);
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    if (a->url.password[0]) {
        if (a->url.user[0])
            redisAsyncCommand(c, on_setup_reply, a, "AUTH %s %s", a->url.user, a->url.password);
        else
            redisAsyncCommand(c, on_setup_reply, a, "AUTH %s", a->url.password);
    }
    if (a->url.db) redisAsyncCommand(c, on_setup_reply, a, "SELECT %d", a->url.db);
    return c;
}

static void connect_both(bm_agent *a)
{
    a->recovering = 1;
    for (size_t i = 0; i < a->cfg->n_streams; i++)
        strcpy(a->pel_cursor[i], "0");
    a->writes_pending = 0;
    bm_persist_reset(a->persist);
    a->reader = connect_one(a);
    a->writer = a->reader ? connect_one(a) : NULL;
    if (!a->reader || !a->writer) schedule_reset(a);
}

/* Outside any hiredis callback: drop what is left of both connections, then
 * reconnect after a growing delay. */
static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    if (a->stopping) return;
    if (a->reader) {
        redisAsyncContext *c = a->reader;
        a->reader = NULL;
        a->reader_up = 0;
        redisAsyncFree(c);
    }
    if (a->writer) {
        redisAsyncContext *c = a->writer;
        a->writer = NULL;
        a->writer_up = 0;
        redisAsyncFree(c);
    }
    a->reads_in_flight = 0;
    a->stats.reconnects++;
    connect_both(a);
}

static void schedule_reset(bm_agent *a)
{
    if (a->stopping || evtimer_pending(a->ev_reconnect, NULL)) return;
    a->reconnect_delay_ms = a->reconnect_delay_ms ? a->reconnect_delay_ms * 2 : 250;
    if (a->reconnect_delay_ms > RECONNECT_MAX_MS) a->reconnect_delay_ms = RECONNECT_MAX_MS;
    struct timeval tv = {a->reconnect_delay_ms / 1000, (a->reconnect_delay_ms % 1000) * 1000};
    bm_warn("reconnecting to %s in %d ms", a->url.display, a->reconnect_delay_ms);
    evtimer_add(a->ev_reconnect, &tv);
}

/* ---- timers, signals, stop ------------------------------------------------- */

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    size_t dropped = trace_store_sweep(a->store, bm_now_us(), SWEEP_MAX_DROP);
    if (dropped) bm_debug("retention: dropped %zu traces from memory", dropped);
}

/* Send one command on the writer, counted like the trace writes. */
static void send_other(bm_agent *a, int argc, const char **argv, const size_t *lens)
{
    if (!a->writer_up || !a->writer) return;
    if (bm_persist_send(a->persist, a->writer, BM_WRITE_OTHER, argc, argv, lens) == 0)
        a->writes_pending++;
}

/* HSET <workers hash> <name> <json> ... _updated <now>, for the given workers. */
static void publish_workers(bm_agent *a, const bm_worker_snapshot *w, size_t n, int64_t now_us)
{
    if (n == 0) return;
    const char **argv = calloc(2 * n + 4, sizeof *argv);
    size_t *lens = calloc(2 * n + 4, sizeof *lens);
    char **texts = calloc(n, sizeof *texts);
    char when[48];
    bm_format_time_us(now_us, 'T', when, sizeof when);
    int argc = 0;
    if (!argv || !lens || !texts) goto out;
    argv[argc] = "HSET", lens[argc++] = 4;
    argv[argc] = a->cfg->workers_hash, lens[argc] = strlen(argv[argc]), argc++;
    for (size_t i = 0; i < n; i++) {
        json_t *j = bm_worker_to_json(&w[i]);
        texts[i] = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!texts[i]) continue;
        argv[argc] = w[i].name, lens[argc] = strlen(w[i].name), argc++;
        argv[argc] = texts[i], lens[argc] = strlen(texts[i]), argc++;
    }
    argv[argc] = "_updated", lens[argc++] = 8;
    argv[argc] = when, lens[argc] = strlen(when), argc++;
    send_other(a, argc, argv, lens);
out:
    if (texts)
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
    free(argv);
    free(lens);
}

/* XADD <stream> MAXLEN ~ <maxlen> * [m <msgpack>] json <json>, then PUBLISH <stream> <json>. */
static void publish_stream_and_channel(bm_agent *a, const char *stream, size_t maxlen,
                                       const char *mp, size_t mp_len, const char *js)
{
    char ml[24];
    snprintf(ml, sizeof ml, "%zu", maxlen);
    const char *argv[10] = {"XADD", stream, "MAXLEN", "~", ml, "*"};
    size_t lens[10] = {4, strlen(stream), 6, 1, strlen(ml), 1};
    int argc = 6;
    if (mp) argv[argc] = "m", lens[argc++] = 1, argv[argc] = mp, lens[argc++] = mp_len;
    argv[argc] = "json", lens[argc++] = 4;
    argv[argc] = js, lens[argc++] = strlen(js);
    send_other(a, argc, argv, lens);
    const char *pargv[3] = {"PUBLISH", stream, js};
    size_t plens[3] = {7, strlen(stream), strlen(js)};
    send_other(a, 3, pargv, plens);
}

static void on_rollup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    if (a->stopping || !a->writer_up) return;
    int64_t now = bm_now_us();
    bm_rollup r;
    if (bm_monitor_rollup(&a->mon, now, a->cfg->rollup_interval_ms * 1000, a->cfg->consumer, &r)) {
        bm_warn("rollup skipped: out of memory");
        return;
    }
    json_t *j = bm_rollup_to_json(&r);
    char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int mp_ok = bm_rollup_encode_msgpack(&r, &sb) == 0;
    if (js) {
        publish_stream_and_channel(a, a->cfg->rollups_stream, a->cfg->rollups_maxlen,
                                   mp_ok ? sb.data : NULL, sb.size, js);
        publish_workers(a, r.workers, r.n_workers, now);
        a->rollups_published++;
    }
    msgpack_sbuffer_destroy(&sb);
    free(js);
    if (a->writer) redisAsyncHandleWrite(a->writer);
}

static void on_transition(const bm_worker_snapshot *w, bm_health from, void *arg)
{
    bm_agent *a = arg;
    a->health_transitions++;
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
    json_object_set_new(j, "agent", json_string(a->cfg->consumer));
    char *js = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (js) publish_stream_and_channel(a, a->cfg->health_stream, 10000, NULL, 0, js);
    free(js);
    publish_workers(a, w, 1, bm_now_us());
}

/* A trace leaves memory: its unanswered commands stop counting in flight. */
static void on_trace_dropped(const trace *t, void *arg)
{
    bm_agent *a = arg;
    bm_monitor_on_trace_dropped(&a->mon, t);
}

static void on_health(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    if (a->stopping) return;
    worker_stats_evaluate(a->mon.workers, bm_now_us(), on_transition, a);
    if (a->writer) redisAsyncHandleWrite(a->writer);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    bm_agent_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void maybe_finish_stop(bm_agent *a)
{
    if (a->writes_pending > 0) return;
    if (a->writer) {
        redisAsyncDisconnect(a->writer); /* graceful: on_disconnect leaves the loop */
    } else {
        event_base_loopexit(a->base, NULL);
    }
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    bm_error("gave up waiting for %ld Redis write(s); their entries stay pending and are read "
             "again at the next start",
             a->writes_pending);
    a->exit_code = 1;
    event_base_loopexit(a->base, NULL);
}

static void on_stop_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_agent *a = arg;
    bm_pubsub_stop(a);
    flush_writes(a); /* what pub/sub or the timeout check queued since */
    if (a->reader) {
        redisAsyncContext *c = a->reader;
        a->reader = NULL;
        a->reader_up = 0;
        redisAsyncFree(c); /* an in-flight read stays in our pending list: re-read at next start */
    }
    struct timeval tv = {STOP_TIMEOUT_S, 0};
    evtimer_add(a->ev_stop_timeout, &tv);
    maybe_finish_stop(a);
}

void bm_agent_stop(bm_agent *a, const char *why)
{
    if (a->stopping) return;
    /* a last health judgement and rollup, so what readers see is current */
    on_health(-1, 0, a);
    on_rollup(-1, 0, a);
    a->stopping = 1;
    bm_alerting_stop(a->alerting); /* sinks begin delivering what they hold */
    bm_info("stopping (%s): flushing %ld pending write(s)", why, a->writes_pending);
    evtimer_del(a->ev_reconnect);
    if (!a->writer_up && a->writer) {
        /* never connected: nothing to flush */
        redisAsyncContext *c = a->writer;
        a->writer = NULL;
        redisAsyncFree(c);
    }
    struct timeval now = {0, 0};
    event_base_once(a->base, -1, EV_TIMEOUT, on_stop_now, a, &now);
}

int bm_agent_start(bm_agent *a)
{
    a->writes_high_water = 50000;
    a->started_us = bm_now_us();
    a->pel_cursor = calloc(a->cfg->n_streams, sizeof *a->pel_cursor);
    trace_store_limits lim = {a->cfg->max_transactions, a->cfg->max_events_per_trace,
                              a->cfg->trace_retention_s * 1000000};
    bm_decode_limits dl = {a->cfg->max_entry_bytes, 0, 0};
    a->store = trace_store_new(&lim);
    a->dec = bm_decoder_new(&dl);
    bm_persist_opts po = {a->cfg->trace_prefix,
                          a->cfg->trace_retention_s,
                          a->cfg->deadletter_stream,
                          a->cfg->deadletter_maxlen,
                          a->cfg->group,
                          (const char *const *)a->cfg->streams,
                          a->cfg->n_streams,
                          on_write_reply,
                          a};
    a->persist = bm_persist_new(&po);
    a->ev_sigint = evsignal_new(a->base, SIGINT, on_signal, a);
    a->ev_sigterm = evsignal_new(a->base, SIGTERM, on_signal, a);
    a->ev_sweep = event_new(a->base, -1, EV_PERSIST, on_sweep, a);
    a->ev_reconnect = evtimer_new(a->base, on_reconnect_timer, a);
    a->ev_stop_timeout = evtimer_new(a->base, on_stop_timeout, a);
    a->ev_rollup = event_new(a->base, -1, EV_PERSIST, on_rollup, a);
    a->ev_health = event_new(a->base, -1, EV_PERSIST, on_health, a);
    a->ev_timeouts = event_new(a->base, -1, EV_PERSIST, on_timeouts, a);
    a->ev_flush = event_new(a->base, -1, 0, on_flush, a);
    a->deadlines = deadlines_new(a->cfg->max_timeouts);
    worker_stats_config wcfg;
    worker_stats_config_defaults(&wcfg);
    wcfg.max_workers = a->cfg->max_workers;
    wcfg.perf_window_us = a->cfg->perf_window_s * 1000000;
    wcfg.error_rate_threshold = a->cfg->error_rate_threshold;
    wcfg.failure_rate_threshold = a->cfg->failure_rate_threshold;
    wcfg.slow_threshold_us = a->cfg->slow_threshold_ms * 1000;
    wcfg.health_interval_us = a->cfg->health_interval_ms * 1000;
    wcfg.min_executions = (uint32_t)a->cfg->min_executions;
    if (bm_monitor_init(&a->mon, &wcfg, a->cfg->max_error_types)) {
        bm_error("out of memory at start");
        return -1;
    }
    if (!a->ev_timeouts || !a->ev_flush || !a->deadlines || !a->ev_rollup || !a->ev_health ||
        !a->pel_cursor || !a->store || !a->dec || !a->persist || !a->ev_sigint || !a->ev_sigterm ||
        !a->ev_sweep || !a->ev_reconnect || !a->ev_stop_timeout) {
        bm_error("out of memory at start");
        return -1;
    }
    a->alerting = bm_alerting_new(a);
    if (!a->alerting) return -1;
    a->sysmon = bm_sysmon_new(a);
    if (!a->sysmon) {
        bm_error("out of memory at start (system metrics)");
        return -1;
    }
    trace_store_set_drop_cb(a->store, on_trace_dropped, a);
    evsignal_add(a->ev_sigint, NULL);
    evsignal_add(a->ev_sigterm, NULL);
    struct timeval sweep = {SWEEP_INTERVAL_S, 0};
    evtimer_add(a->ev_sweep, &sweep);
    struct timeval roll = {a->cfg->rollup_interval_ms / 1000,
                           (a->cfg->rollup_interval_ms % 1000) * 1000};
    evtimer_add(a->ev_rollup, &roll);
    struct timeval health = {a->cfg->health_interval_ms / 1000,
                             (a->cfg->health_interval_ms % 1000) * 1000};
    evtimer_add(a->ev_health, &health);
    struct timeval tick = {0, 250000};
    evtimer_add(a->ev_timeouts, &tick);
    connect_both(a);
    if (bm_pubsub_start(a)) return -1;
    return 0;
}

void bm_agent_cleanup(bm_agent *a)
{
    redisAsyncContext *r = a->reader, *w = a->writer;
    a->reader = a->writer = NULL; /* callbacks run by the frees see nothing left to use */
    a->stopping = 1;
    if (r) redisAsyncFree(r);
    if (w) redisAsyncFree(w);
    if (a->ev_sigint) event_free(a->ev_sigint);
    if (a->ev_sigterm) event_free(a->ev_sigterm);
    if (a->ev_sweep) event_free(a->ev_sweep);
    if (a->ev_reconnect) event_free(a->ev_reconnect);
    if (a->ev_stop_timeout) event_free(a->ev_stop_timeout);
    if (a->ev_rollup) event_free(a->ev_rollup);
    if (a->ev_health) event_free(a->ev_health);
    bm_pubsub_stop(a);
    if (a->ev_timeouts) event_free(a->ev_timeouts);
    if (a->ev_flush) event_free(a->ev_flush);
    deadlines_free(a->deadlines);
    bm_alerting_free(a->alerting); /* after the connections: their callbacks may name it */
    a->alerting = NULL;
    bm_sysmon_free(a->sysmon); /* likewise */
    a->sysmon = NULL;
    bm_monitor_deinit(&a->mon);
    bm_persist_free(a->persist);
    bm_decoder_free(a->dec);
    trace_store_free(a->store);
    free(a->pel_cursor);
    free(a->fv_ptr);
    free(a->fv_len);
}
