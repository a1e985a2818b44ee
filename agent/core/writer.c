/*
 * writer.c - the Redis write path (writer.h).
 *
 * Each command carries a small tag (kind, callback, argument) as hiredis
 * privdata. Tags come from a free list, so a warmed-up writer allocates
 * nothing per command; argv arrays are grow-only scratch space. A command
 * is written in RESP by the writer and handed over formatted (hiredis
 * copies it into its output buffer): hiredis' own formatting allocated,
 * measured and printf-formatted each command anew, a fifth of the agent's
 * CPU on the ingest path. Up to CMD_BUF_MAX bytes it goes into a buffer the
 * writer keeps; a larger one (a group's ZADD, a checkpoint) into one of its
 * own size, freed once hiredis has it, so the kept buffer stays small. The
 * bytes on the wire are the ones hiredis would have written.
 */
#include "agent/core/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/acl.h"
#include "agent/core/clock.h"
#include "agent/core/log.h"

#define ERROR_LOG_EVERY_US (10 * 1000000LL)
#define CMD_BUF_MAX        (64 * 1024) /* the kept formatting buffer; larger: their own */
#define PUSH_BYTES         (64 * 1024) /* queued since the last push: written to the socket */

typedef struct wtag {
    struct wtag *next; /* in the free list */
    bm_writer *w;
    bm_write_kind kind;
    const char *command; /* argv[0], a literal: which command a denial was for */
    bm_write_cb cb;
    void *arg;
} wtag;

struct bm_writer {
    redisAsyncContext *ac;
    long pending;
    long high_water;
    bm_writer_stats stats;
    void (*drain_cb)(void *);
    void *drain_arg;
    wtag *free_tags;
    const char **argv;
    size_t *lens;
    size_t cap;
    char *cmd; /* RESP of the command being sent, CMD_BUF_MAX bytes (lazily) */
    size_t unpushed; /* bytes queued in hiredis' output buffer since the last push */
    int64_t last_error_log_us;
    uint64_t errors_since_log;
    bm_acl *acl; /* ACL denials (NULL: not tracked) */
};

static const char *const kind_names[BM_WRITE__COUNT] = {
    "trace", "ack", "deadletter", "output", "query", "setup", "state", "reclaim", "cluster",
    "handoff", "index"};

const char *bm_write_kind_name(bm_write_kind k)
{
    return k < BM_WRITE__COUNT ? kind_names[k] : "?";
}

bm_writer *bm_writer_new(long high_water)
{
    bm_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->high_water = high_water > 0 ? high_water : 50000;
    return w;
}

void bm_writer_free(bm_writer *w)
{
    if (!w) return;
    while (w->free_tags) {
        wtag *t = w->free_tags;
        w->free_tags = t->next;
        free(t);
    }
    free(w->argv);
    free(w->lens);
    free(w->cmd);
    free(w);
}

void bm_writer_attach(bm_writer *w, redisAsyncContext *ac)
{
    w->ac = ac;
    w->unpushed = 0;
}

int bm_writer_up(const bm_writer *w)
{
    return w->ac != NULL;
}

long bm_writer_pending(const bm_writer *w)
{
    return w->pending;
}

int bm_writer_congested(const bm_writer *w)
{
    return w->pending > w->high_water;
}

void bm_writer_set_drain_cb(bm_writer *w, void (*cb)(void *arg), void *arg)
{
    w->drain_cb = cb;
    w->drain_arg = arg;
}

/* Not inside one of this connection's own callbacks: hiredis 0.14 frees the
 * connection at once when the write fails (a Redis gone), under the
 * callback still running (a use after free ASan caught from
 * on_checkpoint_set's acks). There the write event hiredis armed with each
 * command writes them once the callbacks return. */
void bm_writer_push(bm_writer *w)
{
    w->unpushed = 0;
    if (w->ac && !(w->ac->c.flags & REDIS_IN_CALLBACK)) redisAsyncHandleWrite(w->ac);
}

/*
 * Pushing every PUSH_BYTES rather than once at the end: a group's writes
 * (megabytes) would otherwise pile up in hiredis' output buffer, grown by
 * reallocation into fresh pages and freed once written, each time (its
 * copies and page faults were a tenth of the agent's CPU on the ingest
 * path). Only when what was pushed before has gone (else the loop writes as
 * before: pushing again would only move the rest down), and never inside
 * one of this connection's own callbacks (a failed write frees it at once).
 */
void bm_writer_push_some(bm_writer *w)
{
    if (w->unpushed < PUSH_BYTES || !w->ac) return;
    redisAsyncContext *ac = w->ac;
    int idle = sdslen(ac->c.obuf) <= w->unpushed && !(ac->c.flags & REDIS_IN_CALLBACK);
    w->unpushed = 0;
    if (idle) redisAsyncHandleWrite(ac);
}

void bm_writer_get_stats(const bm_writer *w, bm_writer_stats *out)
{
    *out = w->stats;
}

void bm_writer_set_acl(bm_writer *w, bm_acl *acl)
{
    w->acl = acl;
}

bm_acl *bm_writer_acl(const bm_writer *w)
{
    return w ? w->acl : NULL;
}

/*
 * Refusals that are not failures, each handled (and counted) by its caller:
 *   - XGROUP CREATE: the group is there already (BUSYGROUP), or the key holds
 *     another type (WRONGTYPE: the stream input leaves it out, counts it in
 *     stream_wrong_type and says which key);
 *   - a reclaim round (XPENDING, then the claim script) on a stream whose key
 *     was just deleted or made another type (a race: rounds skip the keys the
 *     input left out). The input learns it from its next read and leaves the
 *     key out or makes the group again; the round is skipped, nothing is lost.
 */
static int is_expected_error(const wtag *t, const redisReply *r)
{
    if (t->kind == BM_WRITE_SETUP)
        return !strncmp(r->str, "BUSYGROUP", 9) || !strncmp(r->str, "WRONGTYPE", 9);
    if (t->kind == BM_WRITE_RECLAIM &&
        (!strcmp(t->command, "XPENDING") || !strcmp(t->command, "EVAL")))
        return !strncmp(r->str, "WRONGTYPE", 9) || !strncmp(r->str, "NOGROUP", 7);
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    wtag *t = privdata;
    bm_writer *w = t->w;
    const redisReply *r = reply;
    w->pending--;
    if (!r) {
        w->stats.lost++;
    } else if (r->type == REDIS_REPLY_ERROR && bm_acl_is_denial(r->str)) {
        w->stats.errors[t->kind]++; /* logged once per command by the ACL tracker */
        bm_acl_denied(w->acl, bm_acl_command_of(t->command, NULL), r->str);
    } else if (r->type == REDIS_REPLY_ERROR && !is_expected_error(t, r)) {
        w->stats.errors[t->kind]++;
        w->errors_since_log++;
        int64_t now = bm_mono_us();
        if (!w->last_error_log_us || now - w->last_error_log_us > ERROR_LOG_EVERY_US) {
            bm_error("redis write failed (%llu errors since the last report): %s",
                     (unsigned long long)w->errors_since_log, r->str);
            w->last_error_log_us = now;
            w->errors_since_log = 0;
        }
    }
    bm_write_cb cb = t->cb;
    void *arg = t->arg;
    t->next = w->free_tags;
    w->free_tags = t;
    if (cb) cb(r, arg);
    if (w->drain_cb && w->pending <= w->high_water / 2) w->drain_cb(w->drain_arg);
}

/* v in decimal at p. @return its length. */
static size_t put_decimal(char *p, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

static size_t decimal_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* v in decimal at p (a '-' first when negative), as "%lld" writes it; the
 * hot commands' numbers (RPUSH's EXPIRE, SET's PX, ZADD's scores) go
 * through here rather than snprintf. @return its length (at most 20). */
static size_t put_int64(char *p, int64_t v)
{
    if (v >= 0) return put_decimal(p, (uint64_t)v);
    *p = '-';
    return 1 + put_decimal(p + 1, 0 - (uint64_t)v);
}

/* The RESP of argv ("*<argc>\r\n" then "$<len>\r\n<arg>\r\n" each), as
 * hiredis formats it: into w->cmd when it fits CMD_BUF_MAX bytes, else into
 * *out allocated for it (caller frees *out when it is not w->cmd).
 * @return its length, or 0 (out of memory). */
static size_t format_argv(bm_writer *w, int argc, const char **argv, const size_t *lens, char **out)
{
    size_t total = 1 + decimal_len((uint64_t)argc) + 2;
    for (int i = 0; i < argc; i++)
        total += 1 + decimal_len(lens[i]) + 2 + lens[i] + 2;
    /* zeroed once: hiredis compares a command's name with "subscribe\r\n"
     * and the like, and glibc's vectorised compare reads on past a short
     * name into bytes no command wrote yet (memcheck: a jump on them) */
    if (!w->cmd && !(w->cmd = calloc(1, CMD_BUF_MAX))) return 0;
    char *p = *out = total <= CMD_BUF_MAX ? w->cmd : malloc(total);
    if (!p) return 0;
    *p++ = '*';
    p += put_decimal(p, (uint64_t)argc);
    *p++ = '\r', *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p += put_decimal(p, lens[i]);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r', *p++ = '\n';
    }
    return (size_t)(p - *out);
}

static int send_argv(bm_writer *w, bm_write_kind kind, int argc, const char **argv,
                     const size_t *lens, bm_write_cb cb, void *arg)
{
    if (!w->ac) {
        w->stats.refused++;
        return -1;
    }
    wtag *t = w->free_tags;
    if (t)
        w->free_tags = t->next;
    else if (!(t = malloc(sizeof *t))) {
        w->stats.refused++;
        return -1;
    }
    *t = (wtag){NULL, w, kind, argv[0], cb, arg};
    char *cmd = NULL;
    size_t len = format_argv(w, argc, argv, lens, &cmd);
    int rc = len ? redisAsyncFormattedCommand(w->ac, on_reply, t, cmd, len) : REDIS_ERR;
    if (cmd != w->cmd) free(cmd);
    if (rc != REDIS_OK) {
        t->next = w->free_tags;
        w->free_tags = t;
        w->stats.refused++;
        return -1;
    }
    w->pending++;
    w->stats.sent[kind]++;
    w->unpushed += len;
    return 0;
}

/* Scratch argv for `need` arguments. @return 0 or -1 (out of memory). */
static int reserve(bm_writer *w, size_t need)
{
    if (need <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap *= 2;
    const char **a = realloc(w->argv, cap * sizeof *a);
    if (!a) return -1;
    w->argv = a;
    size_t *l = realloc(w->lens, cap * sizeof *l);
    if (!l) return -1;
    w->lens = l;
    w->cap = cap;
    return 0;
}

#define ARG(p, n) (w->argv[argc] = (p), w->lens[argc] = (n), argc++)
#define ARGS(s)   ARG((s), strlen(s))

/* Append n field/value pairs. */
static int put_pairs(bm_writer *w, int argc, size_t n, const char *const *f, const size_t *fl,
                     const char *const *v, const size_t *vl)
{
    for (size_t i = 0; i < n; i++) {
        ARG(f[i], fl ? fl[i] : strlen(f[i]));
        ARG(v[i], vl ? vl[i] : strlen(v[i]));
    }
    return argc;
}

int bm_writer_xadd(bm_writer *w, bm_write_kind kind, const char *stream, size_t maxlen, size_t n,
                   const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
                   bm_write_cb cb, void *arg)
{
    if (reserve(w, 2 * n + 8)) return w->stats.refused++, -1;
    char ml[24];
    int argc = 0;
    ARG("XADD", 4);
    ARGS(stream);
    if (maxlen) {
        snprintf(ml, sizeof ml, "%zu", maxlen);
        ARG("MAXLEN", 6);
        ARG("~", 1);
        ARGS(ml);
    }
    ARG("*", 1);
    argc = put_pairs(w, argc, n, f, fl, v, vl);
    return send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_multi(bm_writer *w, bm_write_kind kind)
{
    const char *multi[1] = {"MULTI"};
    size_t multi_len[1] = {5};
    return send_argv(w, kind, 1, multi, multi_len, NULL, NULL);
}

int bm_writer_exec(bm_writer *w, bm_write_kind kind, bm_write_cb cb, void *arg)
{
    const char *exec[1] = {"EXEC"};
    size_t exec_len[1] = {4};
    return send_argv(w, kind, 1, exec, exec_len, cb, arg);
}

int bm_writer_publish(bm_writer *w, bm_write_kind kind, const char *channel, const char *data,
                      size_t len, bm_write_cb cb, void *arg)
{
    const char *argv[3] = {"PUBLISH", channel, data};
    size_t lens[3] = {7, strlen(channel), len};
    return send_argv(w, kind, 3, argv, lens, cb, arg);
}

int bm_writer_hset(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                   const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
                   bm_write_cb cb, void *arg)
{
    if (n == 0) return 0;
    if (reserve(w, 2 * n + 2)) return w->stats.refused++, -1;
    int argc = 0;
    ARG("HSET", 4);
    ARGS(key);
    argc = put_pairs(w, argc, n, f, fl, v, vl);
    return send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_hdel(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                   const char *const *f, const size_t *fl, bm_write_cb cb, void *arg)
{
    if (n == 0) return 0;
    if (reserve(w, n + 2)) return w->stats.refused++, -1;
    int argc = 0;
    ARG("HDEL", 4);
    ARGS(key);
    for (size_t i = 0; i < n; i++)
        ARG(f[i], fl ? fl[i] : strlen(f[i]));
    return send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_hash_replace(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                           const char *const *f, const size_t *fl, const char *const *v,
                           const size_t *vl, bm_write_cb cb, void *arg)
{
    const char *del[2] = {"DEL", key};
    size_t del_len[2] = {3, strlen(key)};
    if (bm_writer_multi(w, kind)) return -1;
    send_argv(w, kind, 2, del, del_len, NULL, NULL);
    if (n) bm_writer_hset(w, kind, key, n, f, fl, v, vl, NULL, NULL);
    return bm_writer_exec(w, kind, cb, arg);
}

int bm_writer_rpush_expire(bm_writer *w, bm_write_kind kind, const char *key, size_t klen,
                           size_t n, const char *const *v, const size_t *vl, int64_t ttl_s,
                           bm_write_cb cb, void *arg)
{
    if (reserve(w, n + 2)) return w->stats.refused++, -1;
    int argc = 0;
    ARG("RPUSH", 5);
    ARG(key, klen);
    for (size_t i = 0; i < n; i++)
        ARG(v[i], vl[i]);
    if (send_argv(w, kind, argc, w->argv, w->lens, cb, arg)) return -1;
    if (ttl_s <= 0) return 0;
    char ttl[24];
    const char *exp[3] = {"EXPIRE", key, ttl};
    size_t exp_len[3] = {6, klen, put_int64(ttl, ttl_s)};
    return send_argv(w, kind, 3, exp, exp_len, cb, arg);
}

int bm_writer_xack(bm_writer *w, const char *stream, const char *group, size_t n,
                   const char *const *ids, const size_t *id_lens, bm_write_cb cb, void *arg)
{
    if (n == 0) return 0;
    if (reserve(w, n + 3)) return w->stats.refused++, -1;
    int argc = 0;
    ARG("XACK", 4);
    ARGS(stream);
    ARGS(group);
    for (size_t i = 0; i < n; i++)
        ARG(ids[i], id_lens[i]);
    return send_argv(w, BM_WRITE_ACK, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_xgroup_create(bm_writer *w, const char *stream, const char *group, const char *id,
                            bm_write_cb cb, void *arg)
{
    if (!id || !*id) id = "0";
    const char *argv[6] = {"XGROUP", "CREATE", stream, group, id, "MKSTREAM"};
    size_t lens[6] = {6, 6, strlen(stream), strlen(group), strlen(id), 8};
    return send_argv(w, BM_WRITE_SETUP, 6, argv, lens, cb, arg);
}

int bm_writer_set(bm_writer *w, bm_write_kind kind, const char *key, const char *value,
                  size_t len, int64_t px_ms, bm_write_cb cb, void *arg)
{
    char px[24];
    const char *argv[5] = {"SET", key, value, "PX", px};
    size_t lens[5] = {3, strlen(key), len, 2, put_int64(px, px_ms)};
    return send_argv(w, kind, px_ms > 0 ? 5 : 3, argv, lens, cb, arg);
}

int bm_writer_zadd(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, int nx, size_t n,
                   const int64_t *scores, const char *const *members, const size_t *mlens,
                   bm_write_cb cb, void *arg)
{
    if (n == 0) return 0;
    /* the scores' text: hiredis copies the command when it is queued */
    char *sc = malloc(n * 24);
    if (!sc || reserve(w, 2 * n + 3)) {
        free(sc);
        return w->stats.refused++, -1;
    }
    int argc = 0;
    ARG("ZADD", 4);
    ARG(key, klen);
    if (nx) ARG("NX", 2);
    for (size_t i = 0; i < n; i++) {
        ARG(sc + 24 * i, put_int64(sc + 24 * i, scores[i]));
        ARG(members[i], mlens[i]);
    }
    int rc = send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
    free(sc);
    return rc;
}

int bm_writer_ztrim(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, int64_t below,
                    size_t keep, int64_t ttl_s, bm_write_cb cb, void *arg)
{
    char max[32], stop[32], ttl[24];
    snprintf(max, sizeof max, "(%lld", (long long)below);
    snprintf(stop, sizeof stop, "-%llu", (unsigned long long)keep + 1);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_s);
    const char *by_score[4] = {"ZREMRANGEBYSCORE", key, "-inf", max};
    size_t by_score_len[4] = {16, klen, 4, strlen(max)};
    const char *by_rank[4] = {"ZREMRANGEBYRANK", key, "0", stop};
    size_t by_rank_len[4] = {15, klen, 1, strlen(stop)};
    const char *exp[3] = {"EXPIRE", key, ttl};
    size_t exp_len[3] = {6, klen, strlen(ttl)};
    if (send_argv(w, kind, 4, by_score, by_score_len, cb, arg)) return -1;
    if (send_argv(w, kind, 4, by_rank, by_rank_len, cb, arg)) return -1;
    return send_argv(w, kind, 3, exp, exp_len, cb, arg);
}

int bm_writer_hgetall(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb,
                      void *arg)
{
    const char *argv[2] = {"HGETALL", key};
    size_t lens[2] = {7, strlen(key)};
    return send_argv(w, kind, 2, argv, lens, cb, arg);
}

int bm_writer_time(bm_writer *w, bm_write_kind kind, bm_write_cb cb, void *arg)
{
    const char *argv[1] = {"TIME"};
    size_t lens[1] = {4};
    return send_argv(w, kind, 1, argv, lens, cb, arg);
}

int bm_writer_del(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb, void *arg)
{
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, strlen(key)};
    return send_argv(w, kind, 2, argv, lens, cb, arg);
}

int bm_writer_eval1(bm_writer *w, bm_write_kind kind, const char *script, const char *key,
                    size_t n, const char *const *args, bm_write_cb cb, void *arg)
{
    if (reserve(w, n + 4)) return w->stats.refused++, -1;
    int argc = 0;
    ARG("EVAL", 4);
    ARGS(script);
    ARG("1", 1);
    ARGS(key);
    for (size_t i = 0; i < n; i++)
        ARGS(args[i]);
    return send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_evaln(bm_writer *w, bm_write_kind kind, const char *script, size_t n_keys,
                    const char *const *keys, size_t n, const char *const *args, const size_t *lens,
                    bm_write_cb cb, void *arg)
{
    if (reserve(w, n_keys + n + 3)) return w->stats.refused++, -1;
    char nk[24];
    snprintf(nk, sizeof nk, "%zu", n_keys);
    int argc = 0;
    ARG("EVAL", 4);
    ARGS(script);
    ARGS(nk);
    for (size_t i = 0; i < n_keys; i++)
        ARGS(keys[i]);
    for (size_t i = 0; i < n; i++)
        ARG(args[i], lens ? lens[i] : strlen(args[i]));
    return send_argv(w, kind, argc, w->argv, w->lens, cb, arg);
}

int bm_writer_eval(bm_writer *w, bm_write_kind kind, const char *script, size_t n_keys,
                   const char *const *keys, size_t n, const char *const *args, bm_write_cb cb,
                   void *arg)
{
    return bm_writer_evaln(w, kind, script, n_keys, keys, n, args, NULL, cb, arg);
}

int bm_writer_xrange(bm_writer *w, bm_write_kind kind, const char *stream, const char *start,
                     const char *end, size_t count, bm_write_cb cb, void *arg)
{
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", count);
    const char *argv[6] = {"XRANGE", stream, start, end, "COUNT", cnt};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    return send_argv(w, kind, 6, argv, lens, cb, arg);
}

int bm_writer_xreadgroup(bm_writer *w, bm_write_kind kind, const char *group,
                         const char *consumer, size_t count, const char *stream, const char *id,
                         bm_write_cb cb, void *arg)
{
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", count);
    const char *argv[9] = {"XREADGROUP", "GROUP", group, consumer, "COUNT", cnt, "STREAMS",
                           stream,       id};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    return send_argv(w, kind, 9, argv, lens, cb, arg);
}

int bm_writer_get(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb, void *arg)
{
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    return send_argv(w, kind, 2, argv, lens, cb, arg);
}

int bm_writer_lrange(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, long start,
                     long stop, bm_write_cb cb, void *arg)
{
    char from[24], to[24];
    const char *argv[4] = {"LRANGE", key, from, to};
    size_t lens[4] = {6, klen, (size_t)snprintf(from, sizeof from, "%ld", start),
                      (size_t)snprintf(to, sizeof to, "%ld", stop)};
    return send_argv(w, kind, 4, argv, lens, cb, arg);
}

int bm_writer_xpending_idle(bm_writer *w, const char *stream, const char *group,
                            int64_t min_idle_ms, size_t count, bm_write_cb cb, void *arg)
{
    char idle[24], cnt[24];
    snprintf(idle, sizeof idle, "%lld", (long long)min_idle_ms);
    snprintf(cnt, sizeof cnt, "%zu", count);
    const char *argv[8] = {"XPENDING", stream, group, "IDLE", idle, "-", "+", cnt};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    return send_argv(w, BM_WRITE_RECLAIM, 8, argv, lens, cb, arg);
}

int bm_writer_xpending_of(bm_writer *w, const char *stream, const char *group, const char *start,
                          const char *end, size_t count, const char *consumer, bm_write_cb cb,
                          void *arg)
{
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", count);
    const char *argv[7] = {"XPENDING", stream, group, start, end, cnt, consumer};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    return send_argv(w, BM_WRITE_RECLAIM, 7, argv, lens, cb, arg);
}

/*
 * XCLAIM inside a script that measures each claimed entry in Redis: one
 * above max_bytes (fields and values) comes back as its size (an integer)
 * in place of its fields, so a huge entry a dead consumer left is never
 * loaded here. The entries' delivery counts go up as with a plain XCLAIM.
 */
/* Lua: an entry {id, fields} above max bytes gets its size in place of its fields. */
#define LUA_MEASURE                                                                                \
    "local function measure(e, max)\n"                                                             \
    "  local f = e[2]\n"                                                                           \
    "  if not f then return end\n"                                                                 \
    "  local size = 0\n"                                                                           \
    "  for i = 1, #f do size = size + #f[i] end\n"                                                 \
    "  if size > max then e[2] = size end\n"                                                       \
    "end\n"

/* KEYS[1] the stream; ARGV: max, group, consumer, min_idle, token, mark_ttl_ms,
 * fence bytes, owners, then per owner key, seen, mark, n, its n ids. A
 * GETRANGE refused (an ACL of an older busmon without it) claims as before
 * the fence, counted in the reply's third element. */
static const char CLAIM_SCRIPT[] = LUA_MEASURE
    "local max, fence = tonumber(ARGV[1]), tonumber(ARGV[7])\n"
    "local out, left, blind, i = {}, 0, 0, 9\n"
    "for _ = 1, tonumber(ARGV[8]) do\n"
    "  local key, seen, mark, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])\n"
    "  i = i + 4\n"
    "  local now = key ~= '' and redis.pcall('GETRANGE', key, 0, fence - 1) or seen\n"
    "  if type(now) == 'table' then now, blind = seen, blind + 1 end\n"
    "  if now == seen then\n"
    "    local r = redis.call('XCLAIM', KEYS[1], ARGV[2], ARGV[3], ARGV[4],\n"
    "                         unpack(ARGV, i, i + n - 1))\n"
    "    if #r > 0 and mark ~= '' then\n"
    "      if ARGV[6] ~= '0' then redis.call('SET', mark, ARGV[5], 'PX', ARGV[6])\n"
    "      else redis.call('SET', mark, ARGV[5]) end\n"
    "    end\n"
    "    for _, e in ipairs(r) do measure(e, max); out[#out + 1] = e end\n"
    "  else\n"
    "    left = left + n\n"
    "  end\n"
    "  i = i + n\n"
    "end\n"
    "return {out, left, blind}\n";

int bm_writer_xclaim(bm_writer *w, const char *stream, const char *group, const char *consumer,
                     int64_t min_idle_ms, size_t max_bytes, const char *token, int64_t mark_ttl_ms,
                     size_t n_owners, const bm_claim_owner *owners, const char *const *ids,
                     bm_write_cb cb, void *arg)
{
    size_t n = 0;
    for (size_t k = 0; k < n_owners; k++)
        n += owners[k].n;
    /* the owners' numbers' text: hiredis copies the command when it is queued */
    char *num = malloc((n_owners + 1) * 24);
    if (n == 0 || !num || reserve(w, n + 4 * n_owners + 12)) {
        free(num);
        return w->stats.refused++, -1;
    }
    char idle[24], max[24], ttl[24], fence[24], no[24];
    snprintf(idle, sizeof idle, "%lld", (long long)min_idle_ms);
    snprintf(max, sizeof max, "%zu", max_bytes);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(mark_ttl_ms > 0 ? mark_ttl_ms : 0));
    snprintf(fence, sizeof fence, "%d", BM_CLAIM_FENCE_BYTES);
    snprintf(no, sizeof no, "%zu", n_owners);
    int argc = 0;
    ARG("EVAL", 4);
    ARG(CLAIM_SCRIPT, sizeof CLAIM_SCRIPT - 1);
    ARG("1", 1);
    ARGS(stream);
    ARGS(max);
    ARGS(group);
    ARGS(consumer);
    ARGS(idle);
    ARGS(token);
    ARGS(ttl);
    ARGS(fence);
    ARGS(no);
    for (size_t k = 0, at = 0; k < n_owners; k++) {
        const bm_claim_owner *o = &owners[k];
        char *nk = num + 24 * k;
        snprintf(nk, 24, "%zu", o->n);
        ARGS(o->key ? o->key : "");
        ARG(o->seen ? o->seen : "", o->seen ? o->seen_len : 0);
        ARGS(o->mark ? o->mark : "");
        ARGS(nk);
        for (size_t i = 0; i < o->n; i++, at++)
            ARGS(ids[at]); /* ARGS names its argument twice */
    }
    int rc = send_argv(w, BM_WRITE_RECLAIM, argc, w->argv, w->lens, cb, arg);
    free(num);
    return rc;
}

int bm_writer_query(bm_writer *w, bm_query q, const char *operand, bm_write_cb cb, void *arg)
{
    const char *argv[3];
    size_t lens[3];
    int argc = 0;
    switch (q) {
    case BM_QUERY_PING: argv[argc++] = "PING"; break;
    case BM_QUERY_INFO: argv[argc++] = "INFO"; break;
    case BM_QUERY_XLEN: argv[argc++] = "XLEN"; break;
    case BM_QUERY_XINFO_GROUPS:
        argv[argc++] = "XINFO";
        argv[argc++] = "GROUPS";
        break;
    case BM_QUERY_CONFIG_GET:
        argv[argc++] = "CONFIG";
        argv[argc++] = "GET";
        break;
    }
    if (q == BM_QUERY_XLEN || q == BM_QUERY_XINFO_GROUPS || q == BM_QUERY_CONFIG_GET) {
        if (!operand) return w->stats.refused++, -1;
        argv[argc++] = operand;
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return send_argv(w, BM_WRITE_QUERY, argc, argv, lens, cb, arg);
}

/* ---- the commands of the other connections ------------------------------------------------ */

void bm_writer_handshake(redisAsyncContext *ac, redisCallbackFn *cb, void *arg, const char *user,
                         const char *password, int db)
{
    if (password && password[0]) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0;
        argv[argc] = "AUTH", lens[argc++] = 4;
        if (user && user[0]) argv[argc] = user, lens[argc++] = strlen(user);
        argv[argc] = password, lens[argc++] = strlen(password);
        redisAsyncCommandArgv(ac, cb, arg, argc, argv, lens);
    }
    if (db > 0) {
        char n[24];
        snprintf(n, sizeof n, "%d", db);
        redisAsyncCommandArgv(ac, cb, arg, 2, (const char *[]){"SELECT", n},
                              (size_t[]){6, strlen(n)});
    }
}

/*
 * The measured read (the stream input reads its own pending entries so
 * after a reset): the XREADGROUP of their ids, each entry's fields and
 * values measured in Redis — one above the bound comes back as its size in
 * place of its fields, never loaded here — and its delivery count
 * (XPENDING, this delivery included) as a third element. So an entry that
 * could not be loaded, or that keeps failing us, ends as a dead-letter
 * (oversized, poison) instead of a loop of resets. New entries (">") are
 * read with plain XREADGROUP, which can block.
 * KEYS: the streams; ARGV: group, consumer, count, max bytes, then an id per
 * stream.
 */
static const char MEASURED_READ_SCRIPT[] = LUA_MEASURE
    "local n = #KEYS\n"
    "local a = {'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS'}\n"
    "for i = 1, n do a[#a + 1] = KEYS[i] end\n"
    "for i = 1, n do a[#a + 1] = ARGV[4 + i] end\n"
    "local r = redis.call(unpack(a))\n"
    "if not r then return r end\n"
    "local max = tonumber(ARGV[4])\n"
    "for _, s in ipairs(r) do\n"
    "  local es = s[2]\n"
    "  local d = {}\n"
    "  if #es > 0 then\n"
    "    local p = redis.call('XPENDING', s[1], ARGV[1], es[1][1], es[#es][1], #es, ARGV[2])\n"
    "    for _, x in ipairs(p) do d[x[1]] = x[4] end\n"
    "  end\n"
    "  for _, e in ipairs(es) do\n"
    "    measure(e, max)\n"
    "    e[3] = d[e[1]] or 0\n"
    "  end\n"
    "end\n"
    "return r\n";

#define CMD_STREAMS_MAX 64

int bm_writer_read_on(redisAsyncContext *ac, redisCallbackFn *cb, void *arg,
                      const bm_writer_read *r)
{
    if (r->n == 0 || r->n > CMD_STREAMS_MAX) return -1;
    const char *argv[12 + 2 * CMD_STREAMS_MAX];
    size_t lens[12 + 2 * CMD_STREAMS_MAX];
    char count[24], block[24], nkeys[24], max[24];
    snprintf(count, sizeof count, "%zu", r->count);
    int argc = 0;
#define CARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
    if (r->measure_max) {
        snprintf(nkeys, sizeof nkeys, "%zu", r->n);
        snprintf(max, sizeof max, "%zu", r->measure_max);
        CARG("EVAL");
        argv[argc] = MEASURED_READ_SCRIPT, lens[argc++] = sizeof MEASURED_READ_SCRIPT - 1;
        CARG(nkeys);
        for (size_t i = 0; i < r->n; i++)
            CARG(r->streams[i]);
        CARG(r->group);
        CARG(r->consumer);
        CARG(count);
        CARG(max);
    } else {
        CARG("XREADGROUP");
        CARG("GROUP");
        CARG(r->group);
        CARG(r->consumer);
        CARG("COUNT");
        CARG(count);
        if (r->block_ms > 0) {
            snprintf(block, sizeof block, "%d", r->block_ms);
            CARG("BLOCK");
            CARG(block);
        }
        CARG("STREAMS");
        for (size_t i = 0; i < r->n; i++)
            CARG(r->streams[i]);
    }
    for (size_t i = 0; i < r->n; i++)
        CARG(r->ids[i]);
#undef CARG
    return redisAsyncCommandArgv(ac, cb, arg, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

int bm_writer_psubscribe_on(redisAsyncContext *ac, redisCallbackFn *cb, void *arg, size_t n,
                            const char *const *patterns)
{
    const char **argv = malloc((n + 1) * sizeof *argv);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        argv[0] = "PSUBSCRIBE", lens[0] = 10;
        for (size_t i = 0; i < n; i++)
            argv[i + 1] = patterns[i], lens[i + 1] = strlen(patterns[i]);
        rc = redisAsyncCommandArgv(ac, cb, arg, (int)n + 1, argv, lens) == REDIS_OK ? 0 : -1;
    }
    free(argv);
    free(lens);
    return rc;
}

int bm_writer_ensure_groups_sync(redisContext *c, const char *const *streams, size_t n,
                                 const char *group, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *argv[6] = {"XGROUP", "CREATE", streams[i], group, "0", "MKSTREAM"};
        size_t lens[6];
        for (int k = 0; k < 6; k++)
            lens[k] = strlen(argv[k]);
        redisReply *r = redisCommandArgv(c, 6, argv, lens);
        if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))) {
            int noperm = r && !strncmp(r->str, "NOPERM", 6);
            snprintf(err, errlen, "cannot create consumer group '%s' on stream '%s': %s%s", group,
                     streams[i], r ? r->str : c->errstr,
                     noperm ? " (busmon-agent --print-acl prints the ACL line busmon needs)" : "");
            if (r) freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}
