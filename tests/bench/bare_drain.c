/*
 * bare_drain.c - bench-bare-drain: the fastest a plain client reads a stream.
 *
 * The yardstick of the ingest benchmark (tests/bench/run.sh): a minimal but
 * not naive hiredis client that drains a stream through its own consumer
 * group with XREADGROUP COUNT n + XACK and does nothing with the entries. What
 * it measures is what Redis and one connection can deliver on this machine;
 * busmon-agent is judged against it.
 *
 * One round trip carries the XACK of batch k and the XREADGROUP of batch k+1:
 *
 *   client                           redis
 *   XREADGROUP ... >          ---->            (batch 1)
 *                             <----  entries 1
 *   XACK ids(1); XREADGROUP > ---->            (pipelined)
 *                             <----  ack count, entries 2
 *   ...
 *   XACK ids(k); XREADGROUP > ---->
 *                             <----  ack count, nil / empty   -> done
 *
 * The clock (CLOCK_MONOTONIC) runs from sending the first read to receiving
 * the last ack reply.
 *
 * Not here: decoding entries (that is the agent's work being measured), or
 * blocking reads: the stream is filled before this starts, so an empty read
 * means the end.
 *
 * --write-traces DB adds the Redis half of busmon-agent's trace persistence,
 * still without decoding: each entry's transaction id is found by a byte
 * search for "tx-" + 16 hex digits (bench-fill's ids), the batch's entries are
 * grouped by it, and each group is written as the agent writes a trace,
 * `RPUSH busmon:trace:<tx> v... ; EXPIRE key 3600`, into database DB (so the
 * agent's run later starts from the same key space), pipelined before the
 * batch's XACK. It measures the ceiling that storing one key per transaction
 * puts on any client of this Redis.
 *
 * --layout picks what --write-traces writes per batch, to compare storage
 * layouts with everything else equal (tests/bench/redis_floor.sh, "ceiling"):
 *   keys     RPUSH busmon:trace:<tx> v... + EXPIRE, per transaction (above)
 *   bucket   one HSET busmon:trace:bucket:<unix s / 300> tx v tx v ... (a
 *            transaction's values of the batch concatenated in one field), and
 *            EXPIRE on a bucket the first time this run writes it: one hash
 *            field per transaction, no key of its own
 *   segment  one SET busmon:trace:seg:<n> <every value of the batch> EX 3600:
 *            the bytes only, no item per transaction (nothing could find a
 *            transaction in it; the least any layout storing the records costs)
 * The values are written as read, so a transaction split over two batches
 * has two fields in bucket (the second overwrites): the cost, not a store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define BARE_DEFAULT_URL      "redis://127.0.0.1:6379"
#define BARE_DEFAULT_STREAM   "busmon:bench"
#define BARE_DEFAULT_GROUP    "bare"
#define BARE_DEFAULT_CONSUMER "c1"
#define BARE_DEFAULT_COUNT    1000

typedef enum { BARE_LAYOUT_KEYS, BARE_LAYOUT_BUCKET, BARE_LAYOUT_SEGMENT } bare_layout;
static const char *const bare_layout_names[] = {"keys", "bucket", "segment"};

typedef struct {
    char host[256];
    int port;
    char path[256]; /* unix socket, empty for TCP */
    char password[256];
    int db;
} bare_url;

typedef struct {
    const char *url;
    const char *stream;
    const char *group;
    const char *consumer;
    int count;
    int write_db; /* --write-traces DB; -1: off */
    bare_layout layout;
} bare_opts;

static void bare_usage(FILE *f)
{
    fprintf(f,
            "usage: bench-bare-drain [--redis URL] [--stream S] [--group G] [--consumer C]\n"
            "                        [--count N]\n"
            "\n"
            "Create consumer group G on stream S at the start (XGROUP CREATE S G 0), then\n"
            "read everything with XREADGROUP COUNT N and XACK each batch (pipelined with\n"
            "the next read), doing nothing with the entries, until a read comes back empty.\n"
            "Prints `bare: N events in S s = R ev/s`.\n"
            "\n"
            "options:\n"
            "  --redis URL     redis://[:password@]host[:port][/db] or unix:///path.sock\n"
            "                  (default $BUSMON_REDIS_URL, else %s)\n"
            "  --stream S      stream to drain (default %s)\n"
            "  --group G       consumer group to create; must not exist yet (default %s)\n"
            "  --consumer C    consumer name (default %s)\n"
            "  --count N       entries per XREADGROUP, 1-100000 (default %d)\n"
            "  --write-traces DB\n"
            "                  also write each batch's transactions as busmon-agent does\n"
            "                  (RPUSH busmon:trace:<tx> + EXPIRE) into database DB, undecoded\n"
            "  --layout L      what --write-traces writes per batch: keys (default; as\n"
            "                  above), bucket (one HSET of a field per transaction into a\n"
            "                  5-minute hash) or segment (one SET EX of the batch's values)\n"
            "  -h, --help      this help\n"
            "\n"
            "exit codes: 0 drained, 2 usage error, 3 Redis error\n",
            BARE_DEFAULT_URL, BARE_DEFAULT_STREAM, BARE_DEFAULT_GROUP, BARE_DEFAULT_CONSUMER,
            BARE_DEFAULT_COUNT);
}

/* @return 0, or -1 with a reason in err. Same URL forms as busmon (agent/core/redis_url.h). */
static int bare_url_parse(const char *s, bare_url *u, char *err, size_t errlen)
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
static redisContext *bare_connect(const char *url)
{
    bare_url u;
    char err[512];
    if (bare_url_parse(url, &u, err, sizeof err)) {
        fprintf(stderr, "bench-bare-drain: %s\n", err);
        return NULL;
    }
    struct timeval tv = {5, 0};
    redisContext *c = u.path[0] ? redisConnectUnixWithTimeout(u.path, tv)
                                : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        fprintf(stderr, "bench-bare-drain: cannot connect to %s: %s\n", url,
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
    fprintf(stderr, "bench-bare-drain: %s refused the connection set-up: %s\n", url,
            r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return NULL;
}

static int bare_parse_args(int argc, char **argv, bare_opts *o)
{
    o->url = NULL;
    o->stream = BARE_DEFAULT_STREAM;
    o->group = BARE_DEFAULT_GROUP;
    o->consumer = BARE_DEFAULT_CONSUMER;
    o->count = BARE_DEFAULT_COUNT;
    o->write_db = -1;
    o->layout = BARE_LAYOUT_KEYS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bare_usage(stdout);
            exit(0);
        }
        const char **slot = !strcmp(a, "--redis")      ? &o->url
                            : !strcmp(a, "--stream")   ? &o->stream
                            : !strcmp(a, "--group")    ? &o->group
                            : !strcmp(a, "--consumer") ? &o->consumer
                                                       : NULL;
        if (!slot && strcmp(a, "--count") && strcmp(a, "--write-traces") && strcmp(a, "--layout")) {
            fprintf(stderr, "bench-bare-drain: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "bench-bare-drain: %s needs a non-empty value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (slot) {
            *slot = v;
            continue;
        }
        if (!strcmp(a, "--layout")) {
            size_t k = 0;
            while (k < 3 && strcmp(v, bare_layout_names[k]))
                k++;
            if (k == 3) {
                fprintf(stderr,
                        "bench-bare-drain: --layout must be keys, bucket or segment, not '%s'\n",
                        v);
                return -1;
            }
            o->layout = (bare_layout)k;
            continue;
        }
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!strcmp(a, "--write-traces")) {
            if (errno || *end || n < 0 || n > 15) {
                fprintf(stderr, "bench-bare-drain: --write-traces must be a database 0-15, not '%s'\n", v);
                return -1;
            }
            o->write_db = (int)n;
            continue;
        }
        if (errno || *end || n < 1 || n > 100000) {
            fprintf(stderr, "bench-bare-drain: --count must be 1-100000, not '%s'\n", v);
            return -1;
        }
        o->count = (int)n;
    }
    if (o->layout != BARE_LAYOUT_KEYS && o->write_db < 0) {
        fprintf(stderr, "bench-bare-drain: --layout needs --write-traces DB\n");
        return -1;
    }
    if (!o->url) o->url = getenv("BUSMON_REDIS_URL");
    if (!o->url || !*o->url) o->url = BARE_DEFAULT_URL;
    return 0;
}

static double bare_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The entries of an XREADGROUP reply for one stream:
 * [[stream, [[id, [f, v, ...]], ...]]], or nil when nothing is new.
 * @return the entry array (borrowed from r), NULL for nil/empty, or sets *bad.
 */
static redisReply *bare_entries(redisReply *r, int *bad)
{
    *bad = 0;
    if (r->type == REDIS_REPLY_NIL) return NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        *bad = 1;
        return NULL;
    }
    if (r->elements == 0) return NULL;
    redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
        s->element[1]->type != REDIS_REPLY_ARRAY) {
        *bad = 1;
        return NULL;
    }
    return s->element[1]->elements ? s->element[1] : NULL;
}

/* Queue XREADGROUP GROUP g c COUNT n STREAMS s >. @return 0 or -1. */
static int bare_append_read(redisContext *c, const bare_opts *o, const char *count)
{
    const char *argv[] = {"XREADGROUP", "GROUP",   o->group,  o->consumer, "COUNT",
                          count,        "STREAMS", o->stream, ">"};
    return redisAppendCommandArgv(c, 9, argv, NULL) == REDIS_OK ? 0 : -1;
}

/* One entry of a batch, for --write-traces: its transaction id and its bytes. */
typedef struct {
    const char *tx; /* "tx-" + 16 hex, inside the reply; NULL when not found */
    const char *val;
    size_t len;
} bare_item;

static int bare_item_cmp(const void *a, const void *b)
{
    const bare_item *x = a, *y = b;
    if (!x->tx || !y->tx) return (x->tx == NULL) - (y->tx == NULL);
    return memcmp(x->tx, y->tx, 19);
}

static const char *bare_find_tx(const char *s, size_t n)
{
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), "tx-", 3)) != NULL; p++) {
        if ((size_t)(s + n - p) < 19) return NULL;
        size_t k = 3;
        while (k < 19 && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f'))) k++;
        if (k == 19) return p;
    }
    return NULL;
}

/* The batch's values joined, for --layout bucket and segment. */
typedef struct {
    char *buf;
    size_t len, cap;
    long bucket;        /* the last bucket written; -1: none yet */
    unsigned long segs; /* segments written */
} bare_join;

/*
 * Queue SELECT db, the batch's writes in the layout, SELECT back.
 * @return the number of replies to read, or -1 (connection lost, out of memory).
 */
static long bare_append_writes(redisContext *c, const bare_opts *o, int back_db,
                               redisReply *entries, bare_item *items, const char **argv,
                               size_t *lens, bare_join *join, unsigned long long *written)
{
    int db = o->write_db;
    size_t n = entries->elements, m = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *fv = entries->element[i]->element[1];
        if (fv->type != REDIS_REPLY_ARRAY || fv->elements < 2) continue;
        redisReply *v = fv->element[1];
        items[m].val = v->str;
        items[m].len = v->len;
        items[m].tx = bare_find_tx(v->str, v->len);
        if (items[m].tx) m++;
    }
    qsort(items, m, sizeof *items, bare_item_cmp);
    long replies = 0;
    char sel[16];
    snprintf(sel, sizeof sel, "SELECT %d", db);
    if (redisAppendCommand(c, sel) != REDIS_OK) return -1;
    replies++;
    if (o->layout != BARE_LAYOUT_KEYS && m) {
        size_t need = 0;
        for (size_t i = 0; i < m; i++)
            need += items[i].len;
        if (need > join->cap) {
            char *b = realloc(join->buf, need);
            if (!b) return -1;
            join->buf = b;
            join->cap = need;
        }
        join->len = 0;
        char key[64];
        size_t k = 2;
        for (size_t i = 0; i < m;) { /* one field per transaction: its values joined */
            size_t j = i;
            const char *v = join->buf + join->len;
            while (j < m && !memcmp(items[j].tx, items[i].tx, 19)) {
                memcpy(join->buf + join->len, items[j].val, items[j].len); /* room reserved above */
                join->len += items[j].len;
                j++;
            }
            argv[k] = items[i].tx;
            lens[k++] = 19;
            argv[k] = v;
            lens[k++] = (size_t)(join->buf + join->len - v);
            (*written)++;
            i = j;
        }
        if (o->layout == BARE_LAYOUT_BUCKET) {
            long bucket = (long)(time(NULL) / 300);
            snprintf(key, sizeof key, "busmon:trace:bucket:%ld", bucket);
            argv[0] = "HSET";
            lens[0] = 4;
        } else {
            snprintf(key, sizeof key, "busmon:trace:seg:%lu", join->segs++);
            argv[0] = "SET";
            lens[0] = 3;
            argv[2] = join->buf;
            lens[2] = join->len;
            argv[3] = "EX";
            lens[3] = 2;
            argv[4] = "3600";
            lens[4] = 4;
            k = 5;
        }
        argv[1] = key;
        lens[1] = strlen(key);
        if (redisAppendCommandArgv(c, (int)k, argv, lens) != REDIS_OK) return -1;
        replies++;
        if (o->layout == BARE_LAYOUT_BUCKET && join->bucket != (long)(time(NULL) / 300)) {
            join->bucket = (long)(time(NULL) / 300);
            if (redisAppendCommand(c, "EXPIRE %s 3600", key) != REDIS_OK) return -1;
            replies++;
        }
    }
    for (size_t i = 0; o->layout == BARE_LAYOUT_KEYS && i < m;) {
        size_t j = i;
        char key[64];
        snprintf(key, sizeof key, "busmon:trace:%.19s", items[i].tx);
        argv[0] = "RPUSH";
        lens[0] = 5;
        argv[1] = key;
        lens[1] = strlen(key);
        size_t k = 2;
        while (j < m && !memcmp(items[j].tx, items[i].tx, 19)) {
            argv[k] = items[j].val;
            lens[k++] = items[j].len;
            j++;
        }
        if (redisAppendCommandArgv(c, (int)k, argv, lens) != REDIS_OK ||
            redisAppendCommand(c, "EXPIRE %s 3600", key) != REDIS_OK)
            return -1;
        replies += 2;
        (*written)++;
        i = j;
    }
    snprintf(sel, sizeof sel, "SELECT %d", back_db);
    if (redisAppendCommand(c, sel) != REDIS_OK) return -1;
    return replies + 1;
}

int main(int argc, char **argv)
{
    bare_opts o;
    if (bare_parse_args(argc, argv, &o)) return 2;
    redisContext *c = bare_connect(o.url);
    if (!c) return 3;

    redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0", o.stream, o.group);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        const char *why = r ? r->str : c->errstr;
        fprintf(stderr, "bench-bare-drain: XGROUP CREATE %s %s 0 failed: %s%s\n", o.stream, o.group,
                why,
                r && !strncmp(why, "BUSYGROUP", 9) ? " (pick another --group)"
                : r && strstr(why, "MKSTREAM")     ? " (the stream does not exist: fill it first)"
                                                   : "");
        freeReplyObject(r);
        redisFree(c);
        return 3;
    }
    freeReplyObject(r);

    char count[16];
    snprintf(count, sizeof count, "%d", o.count);
    /* XACK stream group id...: the argv is rebuilt per batch, pointing into the reply. */
    /* XACK argv, then room for one write's argv (RPUSH key v..., HSET key tx v...) */
    size_t ack_cap = 3 * (size_t)o.count + 5;
    const char **ack_argv = malloc(ack_cap * sizeof *ack_argv);
    size_t *ack_lens = malloc(ack_cap * sizeof *ack_lens);
    if (!ack_argv || !ack_lens) {
        fprintf(stderr, "bench-bare-drain: out of memory\n");
        return 3;
    }
    ack_argv[0] = "XACK";
    ack_lens[0] = 4;
    ack_argv[1] = o.stream;
    ack_lens[1] = strlen(o.stream);
    ack_argv[2] = o.group;
    ack_lens[2] = strlen(o.group);
    bare_item *items = NULL;
    int url_db = 0;
    if (o.write_db >= 0) {
        items = malloc((size_t)o.count * sizeof *items);
        bare_url u;
        char err[8];
        if (!items) {
            fprintf(stderr, "bench-bare-drain: out of memory\n");
            return 3;
        }
        if (!bare_url_parse(o.url, &u, err, sizeof err)) url_db = u.db;
    }
    unsigned long long writes = 0;
    long write_replies = 0;
    bare_join join = {NULL, 0, 0, -1, 0};

    unsigned long long events = 0, acked = 0, batches = 0;
    size_t last_batch = 0;
    int rc = 0;
    double t0 = bare_now_s();
    if (bare_append_read(c, &o, count)) goto lost;
    for (;;) {
        for (; write_replies > 0; write_replies--) {
            redisReply *w = NULL;
            if (redisGetReply(c, (void **)&w) != REDIS_OK) goto lost;
            if (w->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "bench-bare-drain: trace write failed: %s\n", w->str);
                freeReplyObject(w);
                rc = 3;
                goto done;
            }
            freeReplyObject(w);
        }
        if (last_batch) {
            redisReply *ack = NULL;
            if (redisGetReply(c, (void **)&ack) != REDIS_OK) goto lost;
            if (ack->type != REDIS_REPLY_INTEGER) {
                fprintf(stderr, "bench-bare-drain: XACK failed: %s\n",
                        ack->type == REDIS_REPLY_ERROR ? ack->str : "unexpected reply");
                freeReplyObject(ack);
                rc = 3;
                break;
            }
            acked += (unsigned long long)ack->integer;
            freeReplyObject(ack);
        }
        if (redisGetReply(c, (void **)&r) != REDIS_OK) goto lost;
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "bench-bare-drain: XREADGROUP failed: %s\n", r->str);
            freeReplyObject(r);
            rc = 3;
            break;
        }
        int bad;
        redisReply *entries = bare_entries(r, &bad);
        if (bad) {
            fprintf(stderr, "bench-bare-drain: XREADGROUP returned an unexpected shape\n");
            freeReplyObject(r);
            rc = 3;
            break;
        }
        if (!entries) { /* the end: the last XACK's reply is already in */
            freeReplyObject(r);
            break;
        }
        size_t n = entries->elements;
        for (size_t i = 0; i < n; i++) {
            redisReply *id = entries->element[i]->element[0];
            ack_argv[3 + i] = id->str;
            ack_lens[3 + i] = id->len;
        }
        if (items) {
            write_replies = bare_append_writes(c, &o, url_db, entries, items, ack_argv + n + 3,
                                               ack_lens + n + 3, &join, &writes);
            if (write_replies < 0) {
                freeReplyObject(r);
                goto lost;
            }
        }
        /* hiredis formats the command into its output buffer now, so the reply
         * the ids point into can go right after. */
        if (redisAppendCommandArgv(c, (int)(3 + n), ack_argv, ack_lens) != REDIS_OK ||
            bare_append_read(c, &o, count)) {
            freeReplyObject(r);
            goto lost;
        }
        freeReplyObject(r);
        events += n;
        batches++;
        last_batch = n;
    }
done:;
    double secs = bare_now_s() - t0;
    free(items);
    free(ack_argv);
    free(ack_lens);
    free(join.buf);
    redisFree(c);
    if (rc) return rc;
    if (acked != events) {
        fprintf(stderr, "bench-bare-drain: read %llu entries but Redis acknowledged %llu\n", events,
                acked);
        return 3;
    }
    printf("bare: %llu batches of up to %d, %llu acked\n", batches, o.count, acked);
    if (items)
        printf("bare: %llu transactions written (layout %s: %s) into db %d\n", writes,
               bare_layout_names[o.layout],
               o.layout == BARE_LAYOUT_KEYS     ? "RPUSH + EXPIRE per transaction"
               : o.layout == BARE_LAYOUT_BUCKET ? "one HSET field per transaction"
                                                : "one SET EX per batch",
               o.write_db);
    printf("bare: %llu events in %.3f s = %.0f ev/s\n", events, secs,
           secs > 0 ? (double)events / secs : 0.0);
    return 0;

lost:
    fprintf(stderr, "bench-bare-drain: lost the connection to %s: %s\n", o.url,
            c->errstr[0] ? c->errstr : "unknown error");
    free(items);
    free(ack_argv);
    free(ack_lens);
    free(join.buf);
    redisFree(c);
    return 3;
}
