/*
 * fill.c - bench-fill: put N realistic busmon events into a Redis stream.
 *
 * The ingest benchmark (tests/bench/run.sh) needs a stream that looks like
 * what a MultiAgents orchestrator writes: transactions of one command followed
 * at once by its answer (a result, or an error about 10 % of the time), each
 * entry one field `m` holding a msgpack map in busmon's native key names
 * (proto/README.md §3.1), about 200 bytes as stored. Entries are written with XADD in
 * pipelined chunks so that a million of them take seconds, not minutes.
 *
 * One entry, as stored (field `m`, value a msgpack map):
 *
 *   command: {type:"command", id:<uuid>, tx:"tx-<16 hex>", corr:"<tx>.<step>",
 *             worker, step, ts:<µs>, payload:{table, rows, batch}}
 *   result:  {type:"result", id, tx, corr, cmd:<command id>, worker, step, ts,
 *             duration_ms:<float>, payload_bytes}
 *   error:   {type:"error", id, tx, corr, cmd, worker, step, ts, duration_ms,
 *             error:{type, message}}
 *
 * --shape multiagents writes the same transactions as the MultiAgents
 * Framework's JSON events instead (ma_shape.c), one field `json` each:
 * commands with timeout_seconds, results with command_id and success, the
 * ~10 % failures as results with success false and error_details.
 *
 * The content is deterministic for a given --seed. It encodes with msgpack-c
 * directly rather than through proto/ so the benchmark's input does not move
 * when the encoder does.
 *
 * What the agent must find, per worker, is printed as the ground truth:
 *
 *   truth: <worker> executions N failures F p95_us P
 *
 * (executions: answers; p95: the duration of rank ceil(0.95 N), exact).
 *
 * Not here: reading the stream back (bare_drain.c, busmon-agent), timing the
 * agent, or any check of what the agent made of the events (run.sh).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "ma_shape.h"

#define FILL_DEFAULT_URL    "redis://127.0.0.1:6379"
#define FILL_DEFAULT_STREAM "busmon:bench"
#define FILL_DEFAULT_EVENTS 1000000L
#define FILL_DEFAULT_CHUNK  1000

static const char *const fill_workers[] = {
    "fast-worker-1", "fast-worker-2", "slow-worker-1",  "slow-worker-2",
    "flaky-worker",  "cpu-heavy-1",   "io-bound-store", "enrich-worker",
};
static const char *const fill_steps[] = {"extract", "validate", "enrich", "score", "store"};
static const char *const fill_tables[] = {"orders", "customers", "invoices", "events"};
static const char *const fill_error_types[] = {"TimeoutError", "ValueError", "ConnectionError"};
static const char *const fill_error_messages[] = {
    "worker did not answer within 30s",
    "field 'amount' must be a positive number",
    "upstream connection reset by peer",
};

#define FILL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Where Redis is: the subset of busmon's URL forms a benchmark needs. */
typedef struct {
    char host[256];
    int port;
    char path[256]; /* unix socket, empty for TCP */
    char password[256];
    int db;
} fill_url;

typedef struct {
    const char *url;
    const char *stream;
    long events;
    int chunk;
    uint64_t seed;
    int multiagents; /* --shape multiagents: JSON in field `json` */
} fill_opts;

static void fill_usage(FILE *f)
{
    fprintf(f,
            "usage: bench-fill [--redis URL] [--stream S] [--events N] [--chunk N] [--seed N]\n"
            "                  [--shape native|multiagents]\n"
            "\n"
            "Append N realistic busmon events (command + result/error pairs, ~10 %% errors,\n"
            "~200 bytes each, one msgpack field `m`) to stream S with pipelined XADDs, then\n"
            "print the average stored entry size. The stream is appended to, not cleared.\n"
            "\n"
            "options:\n"
            "  --redis URL   redis://[:password@]host[:port][/db] or unix:///path.sock\n"
            "                (default $BUSMON_REDIS_URL, else %s)\n"
            "  --stream S    stream to fill (default %s)\n"
            "  --events N    number of entries, >= 1 (default %ld)\n"
            "  --chunk N     XADDs per pipeline round trip, 1-100000 (default %d)\n"
            "  --seed N      seed of the deterministic content (default 1)\n"
            "  --shape S     native: msgpack maps in field m (default); multiagents: the\n"
            "                MultiAgents Framework's JSON events in field json (~420 bytes)\n"
            "  -h, --help    this help\n"
            "\n"
            "output: one line per figure; `sample_tx: <tx>` names the first transaction;\n"
            "`truth: <worker> executions N failures F p95_us P` per worker.\n",
            FILL_DEFAULT_URL, FILL_DEFAULT_STREAM, FILL_DEFAULT_EVENTS, FILL_DEFAULT_CHUNK);
}

/* @return 0, or -1 with a reason in err. */
static int fill_url_parse(const char *s, fill_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!strncmp(s, "unix://", 7)) {
        const char *p = s + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n >= sizeof u->path || p[0] != '/') {
            snprintf(err, errlen, "bad unix URL '%s' (want unix:///path/to/redis.sock)", s);
            return -1;
        }
        memcpy(u->path, p, n);
        if (q && !strncmp(q, "?db=", 4)) u->db = atoi(q + 4);
        return 0;
    }
    const char *p = s;
    if (!strncmp(p, "redis://", 8)) {
        p += 8;
    } else if (strstr(p, "://")) {
        snprintf(err, errlen, "unsupported URL scheme in '%s' (want redis:// or unix://)", s);
        return -1;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof u->password) {
            snprintf(err, errlen, "password too long in the Redis URL");
            return -1;
        }
        memcpy(u->password, pw, n);
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') { /* [::1]:6379 */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "bad IPv6 host in '%s'", s);
            return -1;
        }
        if (rb + 1 < end && rb[1] == ':') colon = rb + 1;
        size_t n = (size_t)(rb - p - 1);
        if (n >= sizeof u->host) n = sizeof u->host - 1;
        memcpy(u->host, p + 1, n);
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t n = (size_t)((colon ? colon : end) - p);
        if (n >= sizeof u->host) {
            snprintf(err, errlen, "host name too long in '%s'", s);
            return -1;
        }
        memcpy(u->host, p, n);
    }
    if (!u->host[0]) snprintf(u->host, sizeof u->host, "127.0.0.1");
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535) {
            snprintf(err, errlen, "bad port in '%s' (want 1-65535)", s);
            return -1;
        }
        u->port = (int)port;
    }
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0) {
            snprintf(err, errlen, "bad database number in '%s'", s);
            return -1;
        }
        u->db = (int)db;
    }
    return 0;
}

/* Connect, AUTH and SELECT as the URL says. @return a context or NULL (reason printed). */
static redisContext *fill_connect(const char *url)
{
    fill_url u;
    char err[512];
    if (fill_url_parse(url, &u, err, sizeof err)) {
        fprintf(stderr, "bench-fill: %s\n", err);
        return NULL;
    }
    struct timeval tv = {5, 0};
    redisContext *c = u.path[0] ? redisConnectUnixWithTimeout(u.path, tv)
                                : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        fprintf(stderr, "bench-fill: cannot connect to %s: %s\n", url,
                c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisReply *r = NULL;
    if (u.password[0]) {
        r = redisCommand(c, "AUTH %s", u.password);
        if (!r || r->type == REDIS_REPLY_ERROR) goto refused;
        freeReplyObject(r);
    }
    if (u.db) {
        r = redisCommand(c, "SELECT %d", u.db);
        if (!r || r->type == REDIS_REPLY_ERROR) goto refused;
        freeReplyObject(r);
    }
    return c;
refused:
    fprintf(stderr, "bench-fill: %s refused the connection set-up: %s\n", url,
            r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return NULL;
}

/* xorshift64*: fast, deterministic, good enough for fake ids. */
static uint64_t fill_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A 36-character uuid-looking id (8-4-4-4-12 lower-case hex) into out[37]. */
static void fill_uuid(uint64_t *rng, char *out)
{
    uint64_t a = fill_rand(rng), b = fill_rand(rng);
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
             a >> 32, (a >> 16) & 0xffff, a & 0xfff, (b >> 48) & 0xfff,
             b & (uint64_t)0xffffffffffff);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
    pack_str(pk, k);
    pack_str(pk, v);
}

/* What one transaction shares between its command and its answer. */
typedef struct {
    char tx[24];
    char corr[40];
    char cmd_id[37];
    const char *worker;
    const char *step;
    size_t worker_idx;
    int64_t ts_us;
} fill_tx;

static void fill_encode_command(const fill_tx *t, uint64_t *rng, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 8);
    pack_kv(pk, "type", "command");
    pack_kv(pk, "id", t->cmd_id);
    pack_kv(pk, "tx", t->tx);
    pack_kv(pk, "corr", t->corr);
    pack_kv(pk, "worker", t->worker);
    pack_kv(pk, "step", t->step);
    pack_str(pk, "ts");
    msgpack_pack_int64(pk, t->ts_us);
    pack_str(pk, "payload");
    msgpack_pack_map(pk, 3);
    pack_kv(pk, "table", fill_tables[fill_rand(rng) % FILL_COUNT(fill_tables)]);
    pack_str(pk, "rows");
    msgpack_pack_uint32(pk, (uint32_t)(fill_rand(rng) % 5000));
    pack_str(pk, "batch");
    msgpack_pack_uint32(pk, (uint32_t)(fill_rand(rng) % 100000));
}

/* A result, or an error when is_error, into pk. @return its duration in µs, as
 * the agent will read it. */
static int64_t fill_encode_answer(const fill_tx *t, int is_error, uint64_t *rng, msgpack_packer *pk)
{
    char id[37];
    fill_uuid(rng, id);
    double duration_ms = (double)(fill_rand(rng) % 250000) / 1000.0 + 0.5;
    msgpack_pack_map(pk, 10);
    pack_kv(pk, "type", is_error ? "error" : "result");
    pack_kv(pk, "id", id);
    pack_kv(pk, "tx", t->tx);
    pack_kv(pk, "corr", t->corr);
    pack_kv(pk, "cmd", t->cmd_id);
    pack_kv(pk, "worker", t->worker);
    pack_kv(pk, "step", t->step);
    pack_str(pk, "ts");
    msgpack_pack_int64(pk, t->ts_us + (int64_t)(duration_ms * 1000.0) + 50);
    pack_str(pk, "duration_ms");
    msgpack_pack_double(pk, duration_ms);
    if (is_error) {
        size_t k = fill_rand(rng) % FILL_COUNT(fill_error_types);
        pack_str(pk, "error");
        msgpack_pack_map(pk, 2);
        pack_kv(pk, "type", fill_error_types[k]);
        pack_kv(pk, "message", fill_error_messages[k]);
    } else {
        pack_str(pk, "payload_bytes");
        msgpack_pack_uint32(pk, (uint32_t)(fill_rand(rng) % 20000));
    }
    return llround(duration_ms * 1000.0);
}

/* The same transaction as the MultiAgents Framework's JSON (ma_shape.c).
 * @return the text's length (0: it did not fit); the answer's duration
 * (µs) in *duration_us. */
static size_t fill_multiagents(const fill_tx *t, int answer, int is_error, uint64_t *rng, char *buf,
                               size_t cap, int64_t *duration_us)
{
    ma_tx m = {t->tx, t->step, t->worker, t->cmd_id, t->ts_us};
    uint64_t salt = fill_rand(rng);
    if (!answer) return ma_command_json(buf, cap, &m, 30.0 + (double)(salt % 5) * 15.0, salt);
    char id[37];
    fill_uuid(rng, id);
    *duration_us = (int64_t)(fill_rand(rng) % 250000) + 500;
    return ma_answer_json(buf, cap, &m, id, (double)*duration_us / 1000.0,
                          is_error ? (int)(salt % 3) : -1, salt);
}

/* ---- the ground truth: what the agent must find per worker ----------------- */

typedef struct {
    long executions, failures;
    int64_t *durations_us; /* every answer's */
} fill_truth;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void fill_truth_print(fill_truth *truth)
{
    for (size_t w = 0; w < FILL_COUNT(fill_workers); w++) {
        fill_truth *t = &truth[w];
        int64_t p95 = 0;
        if (t->executions > 0) {
            qsort(t->durations_us, (size_t)t->executions, sizeof(int64_t), cmp_i64);
            long rank = (long)ceil(0.95 * (double)t->executions);
            p95 = t->durations_us[rank > 0 ? rank - 1 : 0];
        }
        printf("truth: %s executions %ld failures %ld p95_us %" PRId64 "\n", fill_workers[w],
               t->executions, t->failures, p95);
        free(t->durations_us);
    }
}

/* Read `n` XADD replies. @return 0, or -1 (reason printed). */
static int fill_read_replies(redisContext *c, int n)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "bench-fill: lost the connection: %s\n", c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "bench-fill: XADD refused: %s\n", r->str);
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

static int fill_parse_args(int argc, char **argv, fill_opts *o)
{
    o->url = NULL;
    o->stream = FILL_DEFAULT_STREAM;
    o->events = FILL_DEFAULT_EVENTS;
    o->chunk = FILL_DEFAULT_CHUNK;
    o->seed = 1;
    o->multiagents = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fill_usage(stdout);
            exit(0);
        }
        int known = !strcmp(a, "--redis") || !strcmp(a, "--stream") || !strcmp(a, "--events") ||
                    !strcmp(a, "--chunk") || !strcmp(a, "--seed") || !strcmp(a, "--shape");
        if (!known) {
            fprintf(stderr, "bench-fill: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench-fill: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (!strcmp(a, "--redis")) {
            o->url = v;
        } else if (!strcmp(a, "--stream")) {
            if (!*v) {
                fprintf(stderr, "bench-fill: --stream must not be empty\n");
                return -1;
            }
            o->stream = v;
        } else if (!strcmp(a, "--events")) {
            o->events = strtol(v, &end, 10);
            if (errno || *end || end == v || o->events < 1) {
                fprintf(stderr, "bench-fill: --events must be a number >= 1, not '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--chunk")) {
            long n = strtol(v, &end, 10);
            if (errno || *end || end == v || n < 1 || n > 100000) {
                fprintf(stderr, "bench-fill: --chunk must be 1-100000, not '%s'\n", v);
                return -1;
            }
            o->chunk = (int)n;
        } else if (!strcmp(a, "--shape")) {
            if (strcmp(v, "native") && strcmp(v, "multiagents")) {
                fprintf(stderr, "bench-fill: --shape is native or multiagents, not '%s'\n", v);
                return -1;
            }
            o->multiagents = !strcmp(v, "multiagents");
        } else {
            o->seed = strtoull(v, &end, 10);
            if (errno || *end || end == v) {
                fprintf(stderr, "bench-fill: --seed must be a number, not '%s'\n", v);
                return -1;
            }
        }
    }
    if (!o->url) o->url = getenv("BUSMON_REDIS_URL");
    if (!o->url || !*o->url) o->url = FILL_DEFAULT_URL;
    return 0;
}

static double fill_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    fill_opts o;
    if (fill_parse_args(argc, argv, &o)) return 2;
    redisContext *c = fill_connect(o.url);
    if (!c) return 3;

    uint64_t rng = o.seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
    if (!rng) rng = 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* Events are spread back over the last N × 100 µs so they look recent. */
    int64_t ts_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - o.events * 100;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    const char *argv_xadd[5] = {"XADD", o.stream, "*", o.multiagents ? "json" : "m", NULL};
    size_t argl_xadd[5] = {4, strlen(o.stream), 1, o.multiagents ? 4 : 1, 0};
    char json[1024];
    fill_truth truth[FILL_COUNT(fill_workers)];
    for (size_t w = 0; w < FILL_COUNT(fill_workers); w++) {
        truth[w].executions = truth[w].failures = 0;
        truth[w].durations_us = malloc(sizeof(int64_t) * (size_t)(o.events / 2 + 1));
        if (!truth[w].durations_us) {
            fprintf(stderr, "bench-fill: out of memory\n");
            return 3;
        }
    }
    fill_tx t;
    char sample_tx[24] = "";
    long errors = 0, pending = 0;
    unsigned long long stored_bytes = 0;
    int rc = 0;
    double t0 = fill_now_s();
    for (long i = 0; i < o.events; i++) {
        msgpack_sbuffer_clear(&sb);
        if (i % 2 == 0) {
            snprintf(t.tx, sizeof t.tx, "tx-%016" PRIx64, fill_rand(&rng));
            t.step = fill_steps[fill_rand(&rng) % FILL_COUNT(fill_steps)];
            t.worker_idx = fill_rand(&rng) % FILL_COUNT(fill_workers);
            t.worker = fill_workers[t.worker_idx];
            snprintf(t.corr, sizeof t.corr, "%s.%s", t.tx, t.step);
            fill_uuid(&rng, t.cmd_id);
            t.ts_us = ts_us + i * 100;
            if (!sample_tx[0]) memcpy(sample_tx, t.tx, sizeof sample_tx);
            if (o.multiagents)
                argl_xadd[4] = fill_multiagents(&t, 0, 0, &rng, json, sizeof json, NULL);
            else
                fill_encode_command(&t, &rng, &pk);
        } else {
            int is_error = fill_rand(&rng) % 10 == 0;
            errors += is_error;
            int64_t us;
            if (o.multiagents)
                argl_xadd[4] = fill_multiagents(&t, 1, is_error, &rng, json, sizeof json, &us);
            else
                us = fill_encode_answer(&t, is_error, &rng, &pk);
            fill_truth *tr = &truth[t.worker_idx];
            tr->durations_us[tr->executions++] = us;
            tr->failures += is_error;
        }
        if (o.multiagents) {
            argv_xadd[4] = json;
        } else {
            argv_xadd[4] = sb.data;
            argl_xadd[4] = sb.size;
        }
        stored_bytes += argl_xadd[3] + argl_xadd[4];
        if (redisAppendCommandArgv(c, 5, argv_xadd, argl_xadd) != REDIS_OK) {
            fprintf(stderr, "bench-fill: cannot queue XADD: %s\n", c->errstr);
            rc = 3;
            break;
        }
        if (++pending == o.chunk) {
            if (fill_read_replies(c, (int)pending)) {
                rc = 3;
                break;
            }
            pending = 0;
        }
    }
    if (!rc && pending && fill_read_replies(c, (int)pending)) rc = 3;
    double secs = fill_now_s() - t0;
    msgpack_sbuffer_destroy(&sb);
    redisFree(c);
    if (rc) {
        for (size_t w = 0; w < FILL_COUNT(fill_workers); w++)
            free(truth[w].durations_us);
        return rc;
    }

    printf("fill: %ld events (%ld transactions, %ld errors) into %s in %.2f s (%.0f ev/s)\n",
           o.events, (o.events + 1) / 2, errors, o.stream, secs,
           secs > 0 ? (double)o.events / secs : 0.0);
    printf("fill: average stored entry %.1f bytes (field + value)\n",
           (double)stored_bytes / (double)o.events);
    printf("sample_tx: %s\n", sample_tx);
    fill_truth_print(truth);
    return 0;
}
