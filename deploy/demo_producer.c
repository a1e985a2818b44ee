/*
 * demo_producer.c - a simulated orchestrator and its workers, writing events
 * to a Redis stream so busmon has something real to watch.
 *
 * Each transaction (`tx-<8 hex>`) runs 1-3 steps (fetch, analyze, summarize)
 * one after the other. For each step the orchestrator sends a command to one
 * of four workers; the worker answers after a simulated duration:
 *
 *   fast       10-50 ms
 *   slow       0.5-2 s
 *   flaky      20-400 ms, fails about 30 % (NetworkError, ValidationError, ...)
 *   cpu_heavy  200-800 ms
 *
 * Nothing sleeps per command: answers wait in a min-heap ordered by due time,
 * and the main loop wakes for whichever comes first, the next due answer or
 * the next transaction start (paced to --rate events/s). Everything emitted in
 * one wake-up goes out as one pipeline (redisAppendCommandArgv, then the
 * replies). A failed step ends its transaction.
 *
 * Every event is written in one of the three encodings busmon reads (proto/README.md
 * §3), chosen per event: ~60 % msgpack field `m` (busmon's native keys),
 * ~25 % JSON field `json` (the MultiAgents Framework's shape), ~15 % flat
 * fields. So one transaction usually mixes encodings, as a real system in
 * migration would.
 *
 * With --pubsub it is instead a MultiAgents Framework (0.1.x) deployment: it
 * PUBLISHes every event as that framework's RedisEventBus does, on its own
 * channels and byte for byte in its JSON (json.dumps of the pydantic event:
 * model key order, ", " and ": " separators, naive ISO times):
 *
 *   <prefix>status.workflow          status: at the start ("running",
 *                                    "Workflow started"), after each step,
 *                                    and a final one ("completed" or
 *                                    "compensated")
 *   <prefix>command.<worker>         command, with worker_type, timeout_seconds
 *   <prefix>result.<worker>          result: success true, or false with
 *                                    error_details.error_type = the exception's
 *                                    class ("WorkerException") or "timeout"
 *   <prefix>compensation.<name>      after a failure, one per completed step
 *                                    that has a compensation, latest first;
 *                                    nobody answers them (the framework's
 *                                    worker manager does not subscribe)
 *
 * Some commands are never answered (a worker that died): their transaction
 * stops there, so a monitor has to notice the timeout itself. Some
 * transactions are cancelled while a command is out (Orchestrator.
 * cancel_workflow): the completed steps are compensated, then two status
 * events say "compensated" ("Workflow compensated", then "Workflow
 * cancelled": the saga's state is compensated by then), and the command out
 * is never answered: the transaction has ended, nothing waits for it. The
 * framework's orchestrator writes `progress: null`; this one writes the
 * fraction of steps done, which the model allows (Optional[float]).
 *
 * Not here: anything busmon itself does. This program only talks to Redis
 * through hiredis and msgpack-c, on purpose: it is what a producer in another
 * codebase would look like. It finds Redis as busmon's programs do
 * (agent/core/redis_url.c: the URL, a password file or BUSMON_REDIS_PASSWORD,
 * a username), and its messages hide secrets (lib/redact.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "agent/core/redis_url.h"
#include "lib/redact.h"

#define DEFAULT_URL         "redis://127.0.0.1:6379"
#define DEFAULT_STREAM      "busmon:events"
#define DEFAULT_PREFIX      "multiagent:"
#define DEFAULT_TIMEOUT_S   2
#define DEFAULT_HANG_RATE   0.05
#define DEFAULT_CANCEL_RATE 0.05
#define WORKFLOW_ID         "demo_workflow" /* metadata.source of the orchestrator's events */
#define MAX_PIPELINE        1000            /* commands appended before the replies are read */
#define MAX_WAKE_START      5000            /* transactions started per wake-up, at most */

/* ---- workers, steps, errors ---------------------------------------------- */

typedef struct {
    const char *name;
    int min_ms, max_ms;
    double fail_rate;
    double overrun_rate; /* --pubsub: runs past its timeout_seconds (worker-side timeout) */
} worker_def;

static const worker_def WORKERS[] = {
    {"fast", 10, 50, 0.0, 0.0},
    {"slow", 500, 2000, 0.0, 0.10},
    {"flaky", 20, 400, 0.30, 0.0},
    {"cpu_heavy", 200, 800, 0.0, 0.0},
};
#define N_WORKERS (sizeof(WORKERS) / sizeof(WORKERS[0]))

static const char *const STEPS[] = {"fetch", "analyze", "summarize"};
#define MAX_STEPS 3

/* --pubsub: each step's compensation (WorkflowStep.compensation), or none */
static const char *const STEP_COMPENSATIONS[MAX_STEPS] = {"undo_fetch", "undo_analyze", NULL};

typedef struct {
    const char *type;
    const char *message;
} error_def;

static const error_def ERRORS[] = {
    {"NetworkError", "Connection timeout"},
    {"ValidationError", "Invalid input format"},
    {"TimeoutError", "Upstream did not answer"},
    {"NetworkError", "Connection reset by peer"},
};
#define N_ERRORS (sizeof(ERRORS) / sizeof(ERRORS[0]))

/* ---- options --------------------------------------------------------------- */

typedef struct {
    const char *url;
    const char *password_file; /* --redis-password-file, else $BUSMON_REDIS_PASSWORD_FILE */
    const char *username;      /* --redis-username, else $BUSMON_REDIS_USERNAME */
    const char *stream;
    double rate_eps;   /* events per second, approximate */
    long count_tx;     /* transactions to start; <0 = unlimited */
    double duration_s; /* stop starting transactions after this; <=0 = unlimited */
    uint64_t seed;
    bool seed_given;
    const char *ground_truth_path;
    bool print_tx;
    long maxlen; /* XADD MAXLEN ~ N; 0 = none */
    /* --pubsub: the MultiAgents Framework's channels instead of a stream */
    bool pubsub;
    const char *channel_prefix;
    int timeout_s;      /* every command's timeout_seconds */
    double hang_rate;   /* share of commands never answered */
    double cancel_rate; /* share of commands during which the workflow is cancelled */
} options;

/* ---- random ---------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* splitmix64: small, fast, good enough for a simulation */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static int rng_range(int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1));
}

static void hex_random(char *out, size_t n_hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n_hex; i++)
        out[i] = digits[rng_next() & 15];
    out[n_hex] = '\0';
}

/* A uuid-shaped random id: 8-4-4-4-12 hex digits. */
static void uuid_random(char out[37])
{
    hex_random(out, 36);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[14] = '4';                    /* version 4: random */
    out[19] = "89ab"[rng_next() & 3]; /* RFC 4122 variant */
}

/* ---- time ------------------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* "2026-11-22T10:30:00.123456", UTC, no zone (as the MultiAgents Framework writes it). */
static void iso_time(int64_t ts_us, char out[32])
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06d", (int)(ts_us % 1000000));
}

/* ---- transactions and the answer schedule -------------------------------- */

/* --pubsub: what becomes of a command */
typedef enum {
    ANSWER_OK,
    ANSWER_FAIL,           /* the worker raised: success false, error_type = class name */
    ANSWER_WORKER_TIMEOUT, /* the worker manager's wait_for fired: error_type "timeout" */
    ANSWER_NONE,           /* never answered (the worker died) */
    ANSWER_CANCELLED,      /* the workflow is cancelled while it is out; never answered */
} answer_kind;

typedef struct {
    char id[40]; /* tx-xxxxxxxx, or a uuid with --pubsub (as the framework) */
    int n_steps;
    int cur_step;
    /* the command in flight */
    char cmd_id[37];
    int worker;
    int duration_ms;
    bool ok;
    int error;
    int64_t due_mono_us;
    /* --pubsub only */
    answer_kind answer;
    int max_items;                    /* the workflow's initial context */
    int step_items[MAX_STEPS];        /* each completed step's result */
    char step_cmd_ids[MAX_STEPS][37]; /* for compensations' original_command_id */
    unsigned events;                  /* published for this transaction */
    uint64_t planned;                 /* events budgeted for it at its start */
} tx_state;

/* Min-heap of in-flight transactions by due time: each has one command out. */
typedef struct {
    tx_state **items;
    size_t len, cap;
} due_heap;

static int heap_push(due_heap *h, tx_state *tx)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        tx_state **items = realloc(h->items, cap * sizeof(*items));
        if (!items) return -1;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->due_mono_us <= tx->due_mono_us) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = tx;
    return 0;
}

static tx_state *heap_pop(due_heap *h)
{
    tx_state *top = h->items[0];
    tx_state *last = h->items[--h->len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) break;
        if (child + 1 < h->len && h->items[child + 1]->due_mono_us < h->items[child]->due_mono_us)
            child++;
        if (last->due_mono_us <= h->items[child]->due_mono_us) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->len) h->items[i] = last;
    return top;
}

/* ---- the producer ---------------------------------------------------------- */

typedef enum { ENC_MSGPACK, ENC_JSON, ENC_FLAT } encoding;

typedef enum { EV_COMMAND, EV_RESULT, EV_ERROR } event_kind;

typedef struct {
    options opt;
    redisContext *redis;
    FILE *ground_truth;
    due_heap heap;
    size_t pipelined; /* replies still to read */
    long tx_started;
    uint64_t events_budgeted; /* events planned by started transactions */
    uint64_t events_sent;
    uint64_t errors_sent;
    uint64_t unanswered;    /* --pubsub */
    uint64_t compensations; /* --pubsub */
    uint64_t cancelled;     /* --pubsub */
    msgpack_sbuffer sbuf;
    char json[4096];
} producer;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* One line on stderr, secrets redacted (a URL's password, a token), then exit 1. */
static void die(const char *fmt, ...)
{
    char raw[1024], clean[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof raw) n = (int)sizeof raw - 1;
    bm_redact(raw, (size_t)n, clean, sizeof clean);
    fprintf(stderr, "busmon-demo-producer: %s\n", clean);
    exit(1);
}

/* Wait until the socket is ready for `events`, 100 ms at a time. A stop asked
 * while Redis does not answer (paused, stopped, a partition) ends the wait: a
 * blocking read in hiredis retries EINTR, so SIGINT would never get through.
 * @return true when ready (or an error for hiredis to see), false on a stop. */
static bool wait_socket(int fd, short events)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, 100);
        if (n > 0 || (n < 0 && errno != EINTR)) return true;
        if (stop_requested) return false;
    }
}

/* Read every reply still due on the pipeline. @return 0 (or 1: a stop was asked
 * while Redis did not answer; p->pipelined replies are left unread), or -1
 * (message printed). */
static int pipeline_flush(producer *p)
{
    redisContext *c = p->redis;
    int written = 0;
    while (!written) {
        if (!wait_socket(c->fd, POLLOUT)) return 1;
        if (redisBufferWrite(c, &written) != REDIS_OK) {
            fprintf(stderr, "busmon-demo-producer: redis: %s\n", c->errstr);
            return -1;
        }
    }
    while (p->pipelined > 0) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            fprintf(stderr, "busmon-demo-producer: redis: %s\n", c->errstr);
            return -1;
        }
        if (!reply) {
            if (!wait_socket(c->fd, POLLIN)) return 1;
            if (redisBufferRead(c) != REDIS_OK) {
                fprintf(stderr, "busmon-demo-producer: redis: %s\n", c->errstr);
                return -1;
            }
            continue;
        }
        p->pipelined--;
        redisReply *r = reply;
        if (r && r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "busmon-demo-producer: %s failed: %s\n",
                    p->opt.pubsub ? "PUBLISH" : "XADD", r->str);
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* XADD <stream> [MAXLEN ~ N] * f1 v1 ... : appended to the pipeline. */
static int xadd(producer *p, size_t n_pairs, const char **fields, const size_t *field_lens,
                const char **values, const size_t *value_lens)
{
    const char *argv[5 + 2 * 16];
    size_t lens[5 + 2 * 16];
    char maxlen[24];
    size_t argc = 0;
    argv[argc] = "XADD", lens[argc++] = 4;
    argv[argc] = p->opt.stream, lens[argc++] = strlen(p->opt.stream);
    if (p->opt.maxlen > 0) {
        snprintf(maxlen, sizeof(maxlen), "%ld", p->opt.maxlen);
        argv[argc] = "MAXLEN", lens[argc++] = 6;
        argv[argc] = "~", lens[argc++] = 1;
        argv[argc] = maxlen, lens[argc++] = strlen(maxlen);
    }
    argv[argc] = "*", lens[argc++] = 1;
    for (size_t i = 0; i < n_pairs && i < 16; i++) {
        argv[argc] = fields[i], lens[argc++] = field_lens[i];
        argv[argc] = values[i], lens[argc++] = value_lens[i];
    }
    if (redisAppendCommandArgv(p->redis, (int)argc, argv, lens) != REDIS_OK) {
        fprintf(stderr, "busmon-demo-producer: redis: %s\n", p->redis->errstr);
        return -1;
    }
    p->pipelined++;
    p->events_sent++;
    if (p->pipelined >= MAX_PIPELINE) return pipeline_flush(p);
    return 0;
}

/* --- msgpack: busmon's native keys --- */

static void mp_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void mp_kv(msgpack_packer *pk, const char *k, const char *v)
{
    mp_str(pk, k);
    mp_str(pk, v);
}

static int emit_msgpack(producer *p, const tx_state *tx, event_kind kind, const char *ev_id,
                        int64_t ts_us)
{
    const char *step = STEPS[tx->cur_step];
    const worker_def *w = &WORKERS[tx->worker];
    char corr[64];
    snprintf(corr, sizeof(corr), "%s.%s", tx->id, step);

    msgpack_sbuffer_clear(&p->sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p->sbuf, msgpack_sbuffer_write);

    if (kind == EV_COMMAND) {
        msgpack_pack_map(&pk, 10);
        mp_kv(&pk, "type", "command");
        mp_kv(&pk, "id", ev_id);
        mp_kv(&pk, "tx", tx->id);
        mp_kv(&pk, "corr", corr);
        mp_kv(&pk, "worker", w->name);
        mp_kv(&pk, "step", step);
        mp_str(&pk, "ts");
        msgpack_pack_int64(&pk, ts_us);
        mp_kv(&pk, "source", "orchestrator");
        mp_str(&pk, "attempt");
        msgpack_pack_int(&pk, 1);
        mp_str(&pk, "payload");
        msgpack_pack_map(&pk, 2);
        mp_kv(&pk, "query", "quarterly report");
        mp_str(&pk, "max_items");
        msgpack_pack_int(&pk, rng_range(10, 100));
    } else {
        bool failed = !tx->ok;
        msgpack_pack_map(&pk, failed ? 12 : 11);
        mp_kv(&pk, "type", kind == EV_ERROR ? "error" : "result");
        mp_kv(&pk, "id", ev_id);
        mp_kv(&pk, "tx", tx->id);
        mp_kv(&pk, "corr", corr);
        mp_kv(&pk, "cmd", tx->cmd_id);
        mp_kv(&pk, "worker", w->name);
        mp_kv(&pk, "step", step);
        mp_str(&pk, "ts");
        msgpack_pack_int64(&pk, ts_us);
        mp_str(&pk, "duration_ms");
        msgpack_pack_int(&pk, tx->duration_ms);
        mp_str(&pk, "ok");
        if (tx->ok)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        if (failed) {
            mp_str(&pk, "error");
            msgpack_pack_map(&pk, 2);
            mp_kv(&pk, "type", ERRORS[tx->error].type);
            mp_kv(&pk, "message", ERRORS[tx->error].message);
        }
        mp_str(&pk, "payload");
        msgpack_pack_map(&pk, 1);
        mp_str(&pk, "items");
        msgpack_pack_int(&pk, failed ? 0 : rng_range(1, 50));
    }
    const char *f[] = {"m"};
    size_t fl[] = {1};
    const char *v[] = {p->sbuf.data};
    size_t vl[] = {p->sbuf.size};
    return xadd(p, 1, f, fl, v, vl);
}

/* --- JSON: the MultiAgents Framework's wire shape --- */

/* Every string this program writes is plain ASCII without quotes or
 * backslashes, so no escaping is needed; keep it that way. */
static int emit_json(producer *p, const tx_state *tx, event_kind kind, const char *ev_id,
                     int64_t ts_us)
{
    const char *step = STEPS[tx->cur_step];
    const worker_def *w = &WORKERS[tx->worker];
    char iso[32];
    iso_time(ts_us, iso);
    int n;
    if (kind == EV_COMMAND) {
        n = snprintf(
            p->json, sizeof(p->json),
            "{\"id\":\"%s\",\"type\":\"command\","
            "\"metadata\":{\"transaction_id\":\"%s\",\"correlation_id\":\"%s.%s\","
            "\"timestamp\":\"%s\",\"source\":\"orchestrator\"},"
            "\"step\":\"%s\",\"payload\":{\"query\":\"quarterly report\",\"max_items\":%d},"
            "\"worker_type\":\"%s\",\"timeout_seconds\":30.0}",
            ev_id, tx->id, tx->id, step, iso, step, rng_range(10, 100), w->name);
    } else if (tx->ok) {
        n = snprintf(p->json, sizeof(p->json),
                     "{\"id\":\"%s\",\"type\":\"result\","
                     "\"metadata\":{\"transaction_id\":\"%s\",\"correlation_id\":\"%s.%s\","
                     "\"timestamp\":\"%s\",\"source\":\"%s\"},"
                     "\"command_id\":\"%s\",\"step\":\"%s\",\"success\":true,"
                     "\"duration_ms\":%d,\"payload\":{\"items\":%d}}",
                     ev_id, tx->id, tx->id, step, iso, w->name, tx->cmd_id, step, tx->duration_ms,
                     rng_range(1, 50));
    } else {
        n = snprintf(p->json, sizeof(p->json),
                     "{\"id\":\"%s\",\"type\":\"result\","
                     "\"metadata\":{\"transaction_id\":\"%s\",\"correlation_id\":\"%s.%s\","
                     "\"timestamp\":\"%s\",\"source\":\"%s\"},"
                     "\"command_id\":\"%s\",\"step\":\"%s\",\"success\":false,"
                     "\"error_message\":\"%s\",\"error_details\":{\"error_type\":\"%s\"},"
                     "\"duration_ms\":%d,\"payload\":{}}",
                     ev_id, tx->id, tx->id, step, iso, w->name, tx->cmd_id, step,
                     ERRORS[tx->error].message, ERRORS[tx->error].type, tx->duration_ms);
    }
    if (n < 0 || (size_t)n >= sizeof(p->json)) die("internal error: JSON event too long");
    const char *f[] = {"json"};
    size_t fl[] = {4};
    const char *v[] = {p->json};
    size_t vl[] = {(size_t)n};
    return xadd(p, 1, f, fl, v, vl);
}

/* --- flat fields, as a person would type them with redis-cli XADD --- */

static int emit_flat(producer *p, const tx_state *tx, event_kind kind, const char *ev_id,
                     int64_t ts_us)
{
    const char *step = STEPS[tx->cur_step];
    const worker_def *w = &WORKERS[tx->worker];
    char ts[24], corr[64], dur[16], err[128];
    snprintf(ts, sizeof(ts), "%" PRId64, ts_us);
    snprintf(corr, sizeof(corr), "%s.%s", tx->id, step);
    snprintf(dur, sizeof(dur), "%d", tx->duration_ms);

    const char *f[16], *v[16];
    size_t n = 0;
    f[n] = "type", v[n++] = kind == EV_COMMAND ? "command" : kind == EV_ERROR ? "error" : "result";
    f[n] = "id", v[n++] = ev_id;
    f[n] = "tx", v[n++] = tx->id;
    f[n] = "corr", v[n++] = corr;
    f[n] = "worker", v[n++] = w->name;
    f[n] = "step", v[n++] = step;
    f[n] = "ts", v[n++] = ts;
    if (kind == EV_COMMAND) {
        f[n] = "source", v[n++] = "orchestrator";
    } else {
        f[n] = "cmd", v[n++] = tx->cmd_id;
        f[n] = "duration_ms", v[n++] = dur;
        f[n] = "ok", v[n++] = tx->ok ? "true" : "false";
        if (!tx->ok) {
            snprintf(err, sizeof(err), "%s: %s", ERRORS[tx->error].type, ERRORS[tx->error].message);
            f[n] = "error", v[n++] = err;
        }
    }
    size_t fl[16], vl[16];
    for (size_t i = 0; i < n; i++) {
        fl[i] = strlen(f[i]);
        vl[i] = strlen(v[i]);
    }
    return xadd(p, n, f, fl, v, vl);
}

static encoding pick_encoding(void)
{
    double r = rng_unit();
    return r < 0.60 ? ENC_MSGPACK : r < 0.85 ? ENC_JSON : ENC_FLAT;
}

static int emit_event(producer *p, const tx_state *tx, event_kind kind, const char *ev_id)
{
    int64_t ts_us = now_us();
    switch (pick_encoding()) {
    case ENC_MSGPACK:
        return emit_msgpack(p, tx, kind, ev_id, ts_us);
    case ENC_JSON:
        if (kind == EV_ERROR) /* the framework reports a failure as a failed result */
            kind = EV_RESULT;
        return emit_json(p, tx, kind, ev_id, ts_us);
    default:
        return emit_flat(p, tx, kind, ev_id, ts_us);
    }
}

/* When the answer to a command just sent is due: duration_ms after the
 * command's own timestamp, not after `mono` (when this round of the loop
 * began), so a command sent late in a busy round never gets an answer whose
 * timestamps are closer than the duration_ms it reports. */
static int64_t due_after(int64_t mono, int duration_ms)
{
    int64_t now = mono_us();
    return (now > mono ? now : mono) + (int64_t)duration_ms * 1000;
}

/* Send the command for tx->cur_step and schedule its answer. */
static int send_command(producer *p, tx_state *tx, int64_t mono)
{
    const worker_def *w;
    tx->worker = rng_range(0, (int)N_WORKERS - 1);
    w = &WORKERS[tx->worker];
    tx->duration_ms = rng_range(w->min_ms, w->max_ms);
    tx->ok = rng_unit() >= w->fail_rate;
    tx->error = tx->ok ? 0 : rng_range(0, (int)N_ERRORS - 1);
    uuid_random(tx->cmd_id);
    if (emit_event(p, tx, EV_COMMAND, tx->cmd_id) < 0) return -1;
    tx->due_mono_us = due_after(mono, tx->duration_ms);
    if (heap_push(&p->heap, tx) < 0) die("out of memory");
    return 0;
}

static int start_tx(producer *p, int64_t mono)
{
    tx_state *tx = calloc(1, sizeof(*tx));
    if (!tx) die("out of memory");
    memcpy(tx->id, "tx-", 3);
    hex_random(tx->id + 3, 8);
    tx->n_steps = rng_range(1, MAX_STEPS);
    p->tx_started++;
    p->events_budgeted += 2 * (uint64_t)tx->n_steps;
    if (p->opt.print_tx) printf("%s\n", tx->id);
    return send_command(p, tx, mono);
}

/* The answer to tx's command is due: send it, then the next step or finish. */
static int answer(producer *p, tx_state *tx, int64_t mono)
{
    char ev_id[37];
    uuid_random(ev_id);
    /* Failures mostly travel as `error` events; some as a result with ok=false. */
    event_kind kind = tx->ok ? EV_RESULT : (rng_unit() < 0.8 ? EV_ERROR : EV_RESULT);
    if (emit_event(p, tx, kind, ev_id) < 0) return -1;
    if (!tx->ok) p->errors_sent++;
    if (p->ground_truth)
        fprintf(p->ground_truth, "%s\t%s\t%d\n", WORKERS[tx->worker].name, tx->ok ? "ok" : "fail",
                tx->duration_ms);
    if (tx->ok && tx->cur_step + 1 < tx->n_steps) {
        tx->cur_step++;
        return send_command(p, tx, mono);
    }
    /* a failed step ends the transaction: its later steps are never sent */
    p->events_budgeted -= 2 * (uint64_t)(tx->n_steps - tx->cur_step - 1);
    free(tx);
    return 0;
}

/* ---- --pubsub: the MultiAgents Framework on its own channels ---------------- */

/* datetime.isoformat() of a naive UTC datetime: "2026-11-22T10:30:00.123456",
 * and no fraction at all when the microseconds are 0. */
static void iso_time_py(int64_t ts_us, char out[32])
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts_us % 1000000) snprintf(out + n, 32 - n, ".%06d", (int)(ts_us % 1000000));
}

/* repr() of a Python float as json.dumps writes it: the shortest text that
 * reads back the same, with ".0" on whole numbers (0.5, 1.0, 0.3333333333333333). */
static void py_float(double v, char out[32])
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
    if (!strpbrk(out, ".eEn")) strcat(out, ".0");
}

/* PUBLISH <prefix><kind>.<name> <body>: appended to the pipeline. */
static int publish(producer *p, tx_state *tx, const char *kind, const char *name, const char *body,
                   size_t body_len)
{
    char channel[256];
    int n = snprintf(channel, sizeof(channel), "%s%s.%s", p->opt.channel_prefix, kind, name);
    if (n < 0 || (size_t)n >= sizeof(channel)) die("channel prefix too long");
    const char *argv[3] = {"PUBLISH", channel, body};
    size_t lens[3] = {7, (size_t)n, body_len};
    if (redisAppendCommandArgv(p->redis, 3, argv, lens) != REDIS_OK) {
        fprintf(stderr, "busmon-demo-producer: redis: %s\n", p->redis->errstr);
        return -1;
    }
    p->pipelined++;
    p->events_sent++;
    tx->events++;
    if (p->pipelined >= MAX_PIPELINE) return pipeline_flush(p);
    return 0;
}

/* The workflow's context.data: the initial context, updated with each result. */
static int context_json(const tx_state *tx, int steps_done, char *out, size_t cap)
{
    int n =
        snprintf(out, cap, "{\"query\": \"quarterly report\", \"max_items\": %d", tx->max_items);
    if (steps_done > 0)
        n += snprintf(out + n, cap - (size_t)n, ", \"items\": %d", tx->step_items[steps_done - 1]);
    n += snprintf(out + n, cap - (size_t)n, "}");
    return n;
}

/* EventMetadata, as the framework nests it. */
static void metadata_json(const tx_state *tx, const char *corr, const char *source, char *out,
                          size_t cap)
{
    char iso[32];
    iso_time_py(now_us(), iso);
    snprintf(out, cap,
             "{\"transaction_id\": \"%s\", \"correlation_id\": \"%s\", \"timestamp\": \"%s\", "
             "\"source\": \"%s\", \"version\": \"1.0\"}",
             tx->id, corr, iso, source);
}

/* Every string this mode writes is plain ASCII without quotes or
 * backslashes, so no escaping is needed; keep it that way. */
#define JSON_FITS(n, p)                                                                            \
    do {                                                                                           \
        if ((n) < 0 || (size_t)(n) >= sizeof((p)->json)) die("internal error: event too long");    \
    } while (0)

/* StatusEvent on status.workflow (Orchestrator._publish_status_event). */
static int ps_status(producer *p, tx_state *tx, const char *status, int steps_done,
                     const char *current_step, const char *message)
{
    char id[37], md[512], progress[32], results[512];
    uuid_random(id);
    metadata_json(tx, tx->id, WORKFLOW_ID, md, sizeof(md));
    py_float((double)steps_done / tx->n_steps, progress);
    int n = snprintf(results, sizeof(results), "{");
    for (int i = 0; i < steps_done; i++)
        n += snprintf(results + n, sizeof(results) - (size_t)n, "%s\"%s\": {\"items\": %d}",
                      i ? ", " : "", STEPS[i], tx->step_items[i]);
    snprintf(results + n, sizeof(results) - (size_t)n, "}");
    char step[64];
    if (current_step)
        snprintf(step, sizeof(step), "\"%s\"", current_step);
    else
        strcpy(step, "null");
    n = snprintf(p->json, sizeof(p->json),
                 "{\"id\": \"%s\", \"type\": \"status\", \"metadata\": %s, "
                 "\"payload\": {\"workflow_id\": \"" WORKFLOW_ID "\", \"current_step\": %s, "
                 "\"step_results\": %s}, \"status\": \"%s\", \"progress\": %s, "
                 "\"message\": \"%s\"}",
                 id, md, step, results, status, progress, message);
    JSON_FITS(n, p);
    return publish(p, tx, "status", "workflow", p->json, (size_t)n);
}

/* CommandEvent on command.<worker_type> (Orchestrator._execute_step). */
static int ps_command(producer *p, tx_state *tx)
{
    const char *step = STEPS[tx->cur_step];
    char corr[64], md[512], ctx[256];
    snprintf(corr, sizeof(corr), "%s.%s", tx->id, step);
    metadata_json(tx, corr, WORKFLOW_ID, md, sizeof(md));
    context_json(tx, tx->cur_step, ctx, sizeof(ctx));
    int n = snprintf(p->json, sizeof(p->json),
                     "{\"id\": \"%s\", \"type\": \"command\", \"metadata\": %s, \"payload\": %s, "
                     "\"worker_type\": \"%s\", \"timeout_seconds\": %d, \"retry_policy\": null}",
                     tx->cmd_id, md, ctx, WORKERS[tx->worker].name, p->opt.timeout_s);
    JSON_FITS(n, p);
    return publish(p, tx, "command", WORKERS[tx->worker].name, p->json, (size_t)n);
}

/* ResultEvent on result.<worker_type> (WorkerManager._execute_worker_with_timeout). */
static int ps_result(producer *p, tx_state *tx, int items)
{
    const worker_def *w = &WORKERS[tx->worker];
    char id[37], corr[64], md[512], payload[64], err_msg[160], err_details[96];
    uuid_random(id);
    snprintf(corr, sizeof(corr), "%s.%s", tx->id, STEPS[tx->cur_step]);
    metadata_json(tx, corr, w->name, md, sizeof(md));
    bool ok = tx->answer == ANSWER_OK;
    if (ok) {
        snprintf(payload, sizeof(payload), "{\"items\": %d}", items);
        strcpy(err_msg, "null");
        strcpy(err_details, "null");
    } else if (tx->answer == ANSWER_WORKER_TIMEOUT) {
        strcpy(payload, "{}");
        snprintf(err_msg, sizeof(err_msg), "\"Worker timeout after %ds\"", p->opt.timeout_s);
        strcpy(err_details, "{\"error_type\": \"timeout\"}");
    } else { /* BaseWorker.process wraps whatever the worker raised */
        strcpy(payload, "{}");
        snprintf(err_msg, sizeof(err_msg), "\"Worker %s failed: %s\"", w->name,
                 ERRORS[tx->error].message);
        strcpy(err_details, "{\"error_type\": \"WorkerException\"}");
    }
    int n = snprintf(p->json, sizeof(p->json),
                     "{\"id\": \"%s\", \"type\": \"result\", \"metadata\": %s, \"payload\": %s, "
                     "\"command_id\": \"%s\", \"success\": %s, \"error_message\": %s, "
                     "\"error_details\": %s}",
                     id, md, payload, tx->cmd_id, ok ? "true" : "false", err_msg, err_details);
    JSON_FITS(n, p);
    return publish(p, tx, "result", w->name, p->json, (size_t)n);
}

/* CompensationEvent on compensation.<name> (Orchestrator._trigger_compensations). */
static int ps_compensation(producer *p, tx_state *tx, int step)
{
    const char *name = STEP_COMPENSATIONS[step];
    char id[37], corr[96], md[512], ctx[256];
    uuid_random(id);
    snprintf(corr, sizeof(corr), "%s.comp.%s", tx->id, STEPS[step]);
    metadata_json(tx, corr, WORKFLOW_ID, md, sizeof(md));
    context_json(tx, tx->cur_step, ctx, sizeof(ctx));
    int n = snprintf(p->json, sizeof(p->json),
                     "{\"id\": \"%s\", \"type\": \"compensation\", \"metadata\": %s, "
                     "\"payload\": %s, \"original_command_id\": \"%s\", "
                     "\"compensation_type\": \"%s\"}",
                     id, md, ctx, tx->step_cmd_ids[step], name);
    JSON_FITS(n, p);
    if (p->ground_truth)
        fprintf(p->ground_truth, "compensation\t%s\t%s\t%s\n", tx->id, name,
                tx->step_cmd_ids[step]);
    p->compensations++;
    return publish(p, tx, "compensation", name, p->json, (size_t)n);
}

/* Orchestrator._trigger_compensations: the completed steps that have a
 * compensation, latest first, then the status "compensated". */
static int ps_compensate(producer *p, tx_state *tx, const char *step)
{
    for (int i = tx->cur_step - 1; i >= 0; i--)
        if (STEP_COMPENSATIONS[i] && ps_compensation(p, tx, i) < 0) return -1;
    return ps_status(p, tx, "compensated", tx->cur_step, step, "Workflow compensated");
}

/* Send the command for tx->cur_step and schedule what becomes of it. */
static int ps_send_command(producer *p, tx_state *tx, int64_t mono)
{
    tx->worker = rng_range(0, (int)N_WORKERS - 1);
    const worker_def *w = &WORKERS[tx->worker];
    tx->duration_ms = rng_range(w->min_ms, w->max_ms);
    tx->error = 0;
    const int timeout_ms = p->opt.timeout_s * 1000;
    if (rng_unit() < p->opt.hang_rate) {
        tx->answer = ANSWER_NONE;
        tx->duration_ms = timeout_ms; /* when the monitor should have noticed */
    } else if (rng_unit() < p->opt.cancel_rate) {
        tx->answer = ANSWER_CANCELLED; /* the cancel comes before the timeout */
        tx->duration_ms = rng_range(timeout_ms / 10, timeout_ms / 2);
    } else if (rng_unit() < w->fail_rate) {
        tx->answer = ANSWER_FAIL;
        tx->error = rng_range(0, (int)N_ERRORS - 1);
    } else if (tx->duration_ms >= timeout_ms || rng_unit() < w->overrun_rate) {
        tx->answer = ANSWER_WORKER_TIMEOUT;
        tx->duration_ms = timeout_ms;
    } else {
        tx->answer = ANSWER_OK;
    }
    tx->ok = tx->answer == ANSWER_OK;
    uuid_random(tx->cmd_id);
    memcpy(tx->step_cmd_ids[tx->cur_step], tx->cmd_id, sizeof(tx->cmd_id));
    if (p->ground_truth)
        fprintf(p->ground_truth, "step\t%s\t%s\t%s\t%s\n", tx->id, tx->cmd_id, STEPS[tx->cur_step],
                w->name);
    if (ps_command(p, tx) < 0) return -1;
    /* from the round's start, not after the command (due_after): a worker's
     * own timeout answer (duration_ms = timeout_ms) must stay ahead of the
     * deadline busmon counts from the command's timestamp */
    tx->due_mono_us = mono + (int64_t)tx->duration_ms * 1000;
    if (heap_push(&p->heap, tx) < 0) die("out of memory");
    return 0;
}

/* Events a transaction publishes when every step succeeds: a status at the
 * start and after each step, a command and a result per step. */
static uint64_t ps_planned(int n_steps)
{
    return 1 + 3 * (uint64_t)n_steps;
}

static int ps_start_tx(producer *p, int64_t mono)
{
    tx_state *tx = calloc(1, sizeof(*tx));
    if (!tx) die("out of memory");
    uuid_random(tx->id);
    tx->n_steps = rng_range(1, MAX_STEPS);
    tx->max_items = rng_range(10, 100);
    tx->planned = ps_planned(tx->n_steps);
    p->tx_started++;
    p->events_budgeted += tx->planned;
    if (p->opt.print_tx) printf("%s\n", tx->id);
    if (ps_status(p, tx, "running", 0, NULL, "Workflow started") < 0) return -1;
    return ps_send_command(p, tx, mono);
}

/* The transaction is over: its ground-truth line, its budget settled, freed. */
static void ps_finish_tx(producer *p, tx_state *tx, const char *final_status)
{
    if (p->ground_truth)
        fprintf(p->ground_truth, "tx\t%s\t%s\t%u\n", tx->id, final_status, tx->events);
    p->events_budgeted = p->events_budgeted - tx->planned + tx->events;
    free(tx);
}

/* tx's command is due: its result (or, for a lost one, the moment its
 * timeout passed), then the next step, or the end of the transaction. */
static int ps_answer(producer *p, tx_state *tx, int64_t mono)
{
    const char *worker = WORKERS[tx->worker].name;
    if (tx->answer == ANSWER_NONE) {
        /* nothing is published: the orchestrator waits forever */
        p->unanswered++;
        if (p->ground_truth) {
            fprintf(p->ground_truth, "%s\ttimeout\t%d\n", worker, tx->duration_ms);
            fprintf(p->ground_truth, "unanswered\t%s\t%s\t%s\n", tx->id, worker, tx->cmd_id);
        }
        ps_finish_tx(p, tx, "running");
        return 0;
    }
    const char *step = STEPS[tx->cur_step];
    if (tx->answer == ANSWER_CANCELLED) {
        /* cancel_workflow: compensations and "compensated", then its own
         * status, still "compensated"; the command out stays unanswered */
        p->cancelled++;
        if (p->ground_truth)
            fprintf(p->ground_truth, "cancelled\t%s\t%s\t%s\n", tx->id, worker, tx->cmd_id);
        if (ps_compensate(p, tx, step) < 0 ||
            ps_status(p, tx, "compensated", tx->cur_step, step, "Workflow cancelled") < 0)
            return -1;
        ps_finish_tx(p, tx, "compensated");
        return 0;
    }
    int items = tx->answer == ANSWER_OK ? rng_range(1, 50) : 0;
    if (ps_result(p, tx, items) < 0) return -1;
    if (p->ground_truth) /* the worker manager's timeout is a timeout, not a failure */
        fprintf(p->ground_truth, "%s\t%s\t%d\n", worker,
                tx->ok                                ? "ok"
                : tx->answer == ANSWER_WORKER_TIMEOUT ? "timeout"
                                                      : "fail",
                tx->duration_ms);
    if (!tx->ok) {
        p->errors_sent++;
        if (ps_compensate(p, tx, step) < 0) return -1;
        ps_finish_tx(p, tx, "compensated");
        return 0;
    }
    tx->step_items[tx->cur_step] = items;
    if (tx->cur_step + 1 == tx->n_steps) {
        if (ps_status(p, tx, "completed", tx->n_steps, step, "Workflow completed") < 0) return -1;
        ps_finish_tx(p, tx, "completed");
        return 0;
    }
    char message[64];
    snprintf(message, sizeof(message), "Step %s completed", step);
    if (ps_status(p, tx, "running", tx->cur_step + 1, step, message) < 0) return -1;
    tx->cur_step++;
    return ps_send_command(p, tx, mono);
}

/* ---- Redis -------------------------------------------------------------------- */

/* Connect as busmon's programs do: the URL, then a password file or
 * BUSMON_REDIS_PASSWORD, and a username (agent/core/redis_url.h). */
static redisContext *connect_redis(const options *o)
{
    bm_redis_url u;
    char err[1024];
    if (bm_redis_url_parse(o->url, &u, err, sizeof err) ||
        bm_redis_url_credentials(&u, o->username, o->password_file, NULL, err, sizeof err))
        die("%s", err);
    redisContext *c = bm_redis_connect_sync(&u, 5000, err, sizeof err);
    if (!c) die("%s", err);
    return c;
}

/* ---- main loop --------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: busmon-demo-producer [options]\n"
            "\n"
            "A simulated orchestrator and four workers (fast 10-50 ms, slow 0.5-2 s,\n"
            "flaky failing ~30 %%, cpu_heavy 200-800 ms) writing command, result and error\n"
            "events to a Redis stream in busmon's three encodings (msgpack, JSON, flat);\n"
            "with --pubsub, publishing them on Redis pub/sub as the MultiAgents Framework does.\n"
            "\n"
            "  --redis URL          redis://[[user]:password@]host:port[/db] or unix:///path\n"
            "                       (default: $BUSMON_REDIS_URL, else " DEFAULT_URL ")\n"
            "  --redis-password-file FILE\n"
            "                       the Redis password, from FILE's first line (also\n"
            "                       $BUSMON_REDIS_PASSWORD_FILE, or $BUSMON_REDIS_PASSWORD):\n"
            "                       not on the command line, which every local user can read\n"
            "  --redis-username NAME the ACL user (also $BUSMON_REDIS_USERNAME)\n"
            "  --stream NAME        stream to write to (default " DEFAULT_STREAM ")\n"
            "  --rate N             about N events per second (default 50)\n"
            "  --count N            start N transactions, finish them, then exit\n"
            "  --duration S         start transactions for S seconds, finish them, then exit\n"
            "  --seed N             random seed (default: from the clock)\n"
            "  --maxlen N           cap the stream with XADD MAXLEN ~ N (default: no cap)\n"
            "  --ground-truth FILE  append one tab-separated line per fact (below)\n"
            "  --print-tx           print each transaction id on stdout as it starts\n"
            "  -h, --help           this text\n"
            "\n"
            "Pub/sub mode (the MultiAgents Framework 0.1.x wire shape; --stream and --maxlen\n"
            "are not used):\n"
            "  --pubsub             PUBLISH each event as JSON, byte for byte as the framework's\n"
            "                       RedisEventBus does, on <prefix>command.<worker>,\n"
            "                       <prefix>result.<worker>, <prefix>status.workflow and\n"
            "                       <prefix>compensation.<name>. Transaction ids are uuids.\n"
            "                       Per transaction: a status at the start (running, progress\n"
            "                       0.0), after each step and at the end (completed, or\n"
            "                       compensated after a failure); failures are results with\n"
            "                       success false and error_details.error_type WorkerException\n"
            "                       (flaky) or timeout (slow overruns ~10 %%, and any answer\n"
            "                       that would take timeout_seconds or more); a failure\n"
            "                       compensates the steps already done that have one\n"
            "                       (fetch: undo_fetch, analyze: undo_analyze), latest first;\n"
            "                       nobody answers a compensation; some commands are never\n"
            "                       answered and their transaction stops there; some\n"
            "                       workflows are cancelled while a command is out\n"
            "                       (compensations, then status compensated twice: \"Workflow\n"
            "                       compensated\", \"Workflow cancelled\"; the command is never\n"
            "                       answered). --count, --duration, --rate, --seed and\n"
            "                       --print-tx work as in stream mode\n"
            "  --channel-prefix P   channel prefix (default " DEFAULT_PREFIX ")\n"
            "  --timeout-seconds N  every command's timeout_seconds (default %d)\n"
            "  --hang-rate P        share of commands never answered (default %.2f)\n"
            "  --cancel-rate P      share of commands during which the workflow is cancelled\n"
            "                       (default %.2f)\n"
            "\n"
            "Ground truth lines (tab-separated), appended as things happen:\n"
            "  <worker> ok|fail <duration_ms>   one per result (both modes)\n"
            "  --pubsub only:\n"
            "  <worker> timeout <timeout_ms>    a result that says timeout (the worker manager's:\n"
            "                                   success false, error_type timeout), or a command\n"
            "                                   never answered (written when its timeout has\n"
            "                                   passed: a monitor must notice it)\n"
            "  unanswered <tx> <worker> <command_id>   the command never answered\n"
            "  cancelled <tx> <worker> <command_id>    the command out when its workflow was\n"
            "                                   cancelled: never answered, not awaited (no\n"
            "                                   success, failure or timeout)\n"
            "  step <tx> <command_id> <step> <worker>  one per command sent (its step is the\n"
            "                                   correlation id's suffix, <tx>.<step>)\n"
            "  compensation <tx> <name> <original_command_id>   one per compensation sent\n"
            "                                   (correlation id <tx>.comp.<step of the original>)\n"
            "  tx <tx> <status> <events>        one per transaction when it ends: its last\n"
            "                                   status (completed, compensated - after a failure\n"
            "                                   or a cancel -, or running when a command was\n"
            "                                   never answered) and the number of events\n"
            "                                   published for it\n"
            "Worker names are never 'tx', 'unanswered', 'cancelled', 'step' or 'compensation'.\n"
            "\n"
            "SIGINT / SIGTERM stop it (exit 0).\n",
            DEFAULT_TIMEOUT_S, DEFAULT_HANG_RATE, DEFAULT_CANCEL_RATE);
}

static double parse_number(const char *flag, const char *s, double min)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || *e || errno || v < min) die("bad value for %s: '%s'", flag, s);
    return v;
}

/* A whole number in [min, max]: a count, a length, a seed (no 2.5, no 1e30
 * cast to whatever a long makes of it). */
static double parse_whole(const char *flag, const char *s, double min, double max)
{
    double v = parse_number(flag, s, min);
    if (v != floor(v) || v > max)
        die("bad value for %s: '%s' (a whole number, %.0f..%.0f)", flag, s, min, max);
    return v;
}

static void parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'},
        {"redis-password-file", required_argument, NULL, 'F'},
        {"redis-username", required_argument, NULL, 'U'},
        {"stream", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'R'},
        {"count", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'},
        {"maxlen", required_argument, NULL, 'm'},
        {"ground-truth", required_argument, NULL, 'g'},
        {"print-tx", no_argument, NULL, 'p'},
        {"pubsub", no_argument, NULL, 'P'},
        {"channel-prefix", required_argument, NULL, 'C'},
        {"timeout-seconds", required_argument, NULL, 'T'},
        {"hang-rate", required_argument, NULL, 'H'},
        {"cancel-rate", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("BUSMON_REDIS_URL");
    o->url = env && *env ? env : DEFAULT_URL;
    env = getenv("BUSMON_REDIS_PASSWORD_FILE");
    o->password_file = env && *env ? env : NULL;
    env = getenv("BUSMON_REDIS_USERNAME");
    o->username = env && *env ? env : NULL;
    o->stream = DEFAULT_STREAM;
    o->rate_eps = 50;
    o->count_tx = -1;
    o->channel_prefix = DEFAULT_PREFIX;
    o->timeout_s = DEFAULT_TIMEOUT_S;
    o->hang_rate = DEFAULT_HANG_RATE;
    o->cancel_rate = DEFAULT_CANCEL_RATE;
    bool pubsub_option = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->url = optarg;
            break;
        case 'F':
            o->password_file = optarg;
            break;
        case 'U':
            o->username = optarg;
            break;
        case 's':
            if (!*optarg) die("--stream needs a name");
            o->stream = optarg;
            break;
        case 'R':
            o->rate_eps = parse_number("--rate", optarg, 0.001);
            break;
        case 'c':
            o->count_tx = (long)parse_whole("--count", optarg, 0, 1e15);
            break;
        case 'd':
            o->duration_s = parse_number("--duration", optarg, 0.001);
            break;
        case 'S':
            o->seed = (uint64_t)parse_whole("--seed", optarg, 0, 1.8e19);
            o->seed_given = true;
            break;
        case 'm':
            o->maxlen = (long)parse_whole("--maxlen", optarg, 0, 1e15);
            break;
        case 'g':
            o->ground_truth_path = optarg;
            break;
        case 'p':
            o->print_tx = true;
            break;
        case 'P':
            o->pubsub = true;
            break;
        case 'C':
            if (strlen(optarg) > 128 || strpbrk(optarg, "\"\\"))
                die("--channel-prefix: at most 128 bytes, no quotes or backslashes");
            o->channel_prefix = optarg;
            pubsub_option = true;
            break;
        case 'T': {
            double t = parse_number("--timeout-seconds", optarg, 1);
            if (t != (int)t || t > 86400) die("--timeout-seconds: a whole number, 1..86400");
            o->timeout_s = (int)t;
            pubsub_option = true;
            break;
        }
        case 'H':
            o->hang_rate = parse_number("--hang-rate", optarg, 0);
            if (o->hang_rate > 1) die("--hang-rate: between 0 and 1");
            pubsub_option = true;
            break;
        case 'X':
            o->cancel_rate = parse_number("--cancel-rate", optarg, 0);
            if (o->cancel_rate > 1) die("--cancel-rate: between 0 and 1");
            pubsub_option = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fputs("busmon-demo-producer: try --help\n", stderr);
            exit(1);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (try --help)", argv[optind]);
    if (pubsub_option && !o->pubsub)
        die("--channel-prefix, --timeout-seconds, --hang-rate and --cancel-rate need --pubsub");
}

int main(int argc, char **argv)
{
    producer p;
    memset(&p, 0, sizeof(p));
    parse_options(argc, argv, &p.opt);

    rng_state = p.opt.seed_given ? p.opt.seed : (uint64_t)now_us() ^ ((uint64_t)getpid() << 32);

    if (p.opt.ground_truth_path) {
        p.ground_truth = fopen(p.opt.ground_truth_path, "a");
        if (!p.ground_truth) die("cannot open %s: %s", p.opt.ground_truth_path, strerror(errno));
    }
    if (p.opt.print_tx) setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    p.redis = connect_redis(&p.opt);
    if (bm_argv_hide_passwords(argc, argv)) /* connected: ps shows it no longer */
        fprintf(stderr, "busmon-demo-producer: warning: the Redis password in --redis is visible "
                        "to every local user (ps) while it starts; use --redis-password-file FILE "
                        "or BUSMON_REDIS_PASSWORD\n");
    msgpack_sbuffer_init(&p.sbuf);

    const int64_t start = mono_us();
    const int64_t end = p.opt.duration_s > 0 ? start + (int64_t)(p.opt.duration_s * 1e6) : -1;
    int rc = 0;

    while (!stop_requested) {
        int64_t mono = mono_us();
        bool starting =
            (p.opt.count_tx < 0 || p.tx_started < p.opt.count_tx) && (end < 0 || mono < end);
        if (!starting && p.heap.len == 0) break;

        /* answers that are due */
        while (p.heap.len && p.heap.items[0]->due_mono_us <= mono) {
            tx_state *tx = heap_pop(&p.heap);
            if ((p.opt.pubsub ? ps_answer(&p, tx, mono) : answer(&p, tx, mono)) < 0) {
                rc = 1;
                goto out;
            }
        }
        /* new transactions, paced so that planned events track rate x elapsed */
        int64_t next_start = -1;
        if (starting) {
            double allowed = p.opt.rate_eps * (double)(mono - start) / 1e6 + 1;
            int started_now = 0;
            while ((double)p.events_budgeted < allowed && started_now < MAX_WAKE_START &&
                   (p.opt.count_tx < 0 || p.tx_started < p.opt.count_tx)) {
                if ((p.opt.pubsub ? ps_start_tx(&p, mono) : start_tx(&p, mono)) < 0) {
                    rc = 1;
                    goto out;
                }
                started_now++;
            }
            /* when rate x elapsed catches up with what is already planned */
            double behind = (double)p.events_budgeted - allowed;
            next_start = mono + (int64_t)(behind / p.opt.rate_eps * 1e6);
            if (next_start <= mono) next_start = mono + 1000;
        }
        if (pipeline_flush(&p) < 0) {
            rc = 1;
            goto out;
        }

        /* sleep until the next due answer or the next start, at most 100 ms */
        int64_t wake = mono + 100000;
        if (p.heap.len && p.heap.items[0]->due_mono_us < wake) wake = p.heap.items[0]->due_mono_us;
        if (next_start >= 0 && next_start < wake) wake = next_start;
        if (end >= 0 && starting && end < wake) wake = end;
        int64_t sleep_us = wake - mono_us();
        if (sleep_us > 0) {
            struct timespec ts = {(time_t)(sleep_us / 1000000), (long)(sleep_us % 1000000) * 1000};
            nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
        }
    }
    if (pipeline_flush(&p) < 0) rc = 1;

out:
    if (p.pipelined > 0 && stop_requested)
        fprintf(stderr,
                "busmon-demo-producer: stopped while Redis did not answer: %zu write(s) not "
                "confirmed\n",
                p.pipelined);
    if (p.opt.pubsub)
        fprintf(stderr,
                "busmon-demo-producer: %ld transactions, %" PRIu64 " events (%" PRIu64
                " failures, %" PRIu64 " unanswered, %" PRIu64 " cancelled, %" PRIu64
                " compensations) on %s*\n",
                p.tx_started, p.events_sent, p.errors_sent, p.unanswered, p.cancelled,
                p.compensations, p.opt.channel_prefix);
    else
        fprintf(stderr,
                "busmon-demo-producer: %ld transactions, %" PRIu64 " events (%" PRIu64
                " failures) to %s\n",
                p.tx_started, p.events_sent, p.errors_sent, p.opt.stream);
    if (p.ground_truth && fclose(p.ground_truth) != 0) {
        fprintf(stderr, "busmon-demo-producer: writing %s: %s\n", p.opt.ground_truth_path,
                strerror(errno));
        rc = 1;
    }
    while (p.heap.len)
        free(heap_pop(&p.heap));
    free(p.heap.items);
    msgpack_sbuffer_destroy(&p.sbuf);
    redisFree(p.redis);
    return rc;
}
