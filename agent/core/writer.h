/*
 * writer.h - the one place Redis write commands are built and sent.
 *
 * Everything busmon writes goes out on one connection, pipelined: trace
 * records, dead-letters and acks of the ingest path, and the outputs
 * (alert, rollup, health and system streams and channels, the workers and
 * firing hashes). Redis applies a connection's commands in order, which is
 * what makes "records before their acks" hold. The writer also carries the
 * small read queries of the sampler (PING, INFO, XLEN, XINFO GROUPS), so
 * their round trip measures what the writes see.
 *
 *   caller ──bm_writer_xadd/hset/rpush/xack/...──▶ pending ──▶ Redis
 *      ▲                                                      │ reply
 *      └────────── cb(reply, arg) (NULL: lost) ◀── counted by kind, errors
 *                                                  logged once per burst
 *
 * Pending commands are counted; above `high_water` the writer is
 * congested and the stream input stops reading until the replies catch up
 * (bm_writer_set_drain_cb tells it). Commands sent while no connection is
 * attached are refused (-1) and the caller counts them.
 *
 * Not here: which connection (core/session.h attaches and detaches it),
 * what the records mean (state/, outputs/).
 */
#ifndef BM_CORE_WRITER_H
#define BM_CORE_WRITER_H

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

struct bm_acl;

typedef enum {
    BM_WRITE_TRACE = 0,  /* RPUSH / EXPIRE of trace records */
    BM_WRITE_ACK,        /* XACK */
    BM_WRITE_DEADLETTER, /* XADD to the dead-letter stream */
    BM_WRITE_OUTPUT,     /* outputs: streams, channels, hashes */
    BM_WRITE_QUERY,      /* the sampler's PING / INFO / XLEN / XINFO / CONFIG GET */
    BM_WRITE_SETUP,      /* XGROUP CREATE */
    BM_WRITE_STATE,      /* the checkpoint: SET / GET busmon:state:<consumer> */
    BM_WRITE_RECLAIM,    /* XPENDING / XCLAIM of entries idle for other consumers */
    BM_WRITE_CLUSTER,    /* several agents: registry, leader lease, partials, janitor */
    BM_WRITE_HANDOFF,    /* an entry handed to the agent that owns its transaction */
    BM_WRITE_INDEX,      /* the trace search index: ZADD, trims */
    BM_WRITE__COUNT
} bm_write_kind;

/* "trace", "ack", "deadletter", "output", "query", "setup", "state", "reclaim", "cluster", "handoff", "index". */
const char *bm_write_kind_name(bm_write_kind k);

/* A reply to one command: borrowed for the call; NULL when the connection went first. */
typedef void (*bm_write_cb)(const redisReply *reply, void *arg);

typedef struct {
    uint64_t sent[BM_WRITE__COUNT];   /* commands handed to the connection */
    uint64_t errors[BM_WRITE__COUNT]; /* error replies */
    uint64_t lost;                    /* commands whose connection went before the reply */
    uint64_t refused;                 /* commands not sent: no connection (or out of memory) */
} bm_writer_stats;

typedef struct bm_writer bm_writer;

/* @return a writer with no connection (caller bm_writer_free's), or NULL. */
bm_writer *bm_writer_new(long high_water);
void bm_writer_free(bm_writer *w);

/* Use `ac` (borrowed; the session owns it) from now on; NULL detaches. Replies
 * due on a detached connection arrive as NULL (counted lost). */
void bm_writer_attach(bm_writer *w, redisAsyncContext *ac);
/* A connection is attached. */
int bm_writer_up(const bm_writer *w);

/* Commands sent whose reply is not in yet. */
long bm_writer_pending(const bm_writer *w);
/* More than high_water commands are pending: readers should wait. */
int bm_writer_congested(const bm_writer *w);

/* Told after each reply once pending is at or below high_water / 2 (and when
 * nothing is pending): where a paused reader resumes and a stop finishes. */
void bm_writer_set_drain_cb(bm_writer *w, void (*cb)(void *arg), void *arg);

/* Put what is queued on the socket now rather than at the loop's next turn
 * (inside one of the connection's reply callbacks: at the loop's next turn,
 * as a failed write would free the connection under the callback). */
void bm_writer_push(bm_writer *w);

/* bm_writer_push when 64 KiB or more were queued since the last push and
 * what that one pushed has gone; for a long run of writes, between them.
 * A lost connection runs the replies due (NULL) before it returns: call it
 * only where those callbacks find their writes' bookkeeping done. */
void bm_writer_push_some(bm_writer *w);

void bm_writer_get_stats(const bm_writer *w, bm_writer_stats *out);

/* Tell `acl` (borrowed; core/acl.h) of every NOPERM reply: counted by
 * command and logged once each, instead of the writer's error line. */
void bm_writer_set_acl(bm_writer *w, struct bm_acl *acl);
/* The tracker set, or NULL (for the connections beside the writer's). */
struct bm_acl *bm_writer_acl(const bm_writer *w);

/*
 * The commands. Each returns 0 when sent (its cb, if any, will be called
 * exactly once), or -1 when it was not (no connection, out of memory;
 * counted in `refused`; cb is not called). Strings are copied by hiredis
 * before the call returns. A field/value list is n pairs: f[i], v[i].
 */

/* XADD stream [MAXLEN ~ maxlen] * f1 v1 ... (maxlen 0: no trimming). */
int bm_writer_xadd(bm_writer *w, bm_write_kind kind, const char *stream, size_t maxlen, size_t n,
                   const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
                   bm_write_cb cb, void *arg);
/* MULTI, and the EXEC that ends it (cb gets EXEC's reply: an array of
 * the queued commands' replies, in order; an error or nil when the whole
 * was not run). The commands between them are sent with no cb (their
 * replies are QUEUED). Every MULTI sent must be followed by its EXEC, even
 * after a command between them was refused: what was queued then runs. */
int bm_writer_multi(bm_writer *w, bm_write_kind kind);
int bm_writer_exec(bm_writer *w, bm_write_kind kind, bm_write_cb cb, void *arg);
/* PUBLISH channel data. */
int bm_writer_publish(bm_writer *w, bm_write_kind kind, const char *channel, const char *data,
                      size_t len, bm_write_cb cb, void *arg);
/* HSET key f1 v1 ... (merge into the hash). */
int bm_writer_hset(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                   const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
                   bm_write_cb cb, void *arg);
/* HDEL key f1 ... (fields that left the hash's set). */
int bm_writer_hdel(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                   const char *const *f, const size_t *fl, bm_write_cb cb, void *arg);
/* MULTI; DEL key; HSET key f1 v1 ...; EXEC: the hash replaced whole, never
 * seen half done. cb gets EXEC's reply. */
int bm_writer_hash_replace(bm_writer *w, bm_write_kind kind, const char *key, size_t n,
                           const char *const *f, const size_t *fl, const char *const *v,
                           const size_t *vl, bm_write_cb cb, void *arg);
/* RPUSH key v1 ... then EXPIRE key ttl_s (two commands; cb gets each reply);
 * ttl_s <= 0: RPUSH only (the key was given its TTL when first written). */
int bm_writer_rpush_expire(bm_writer *w, bm_write_kind kind, const char *key, size_t klen,
                           size_t n, const char *const *v, const size_t *vl, int64_t ttl_s,
                           bm_write_cb cb, void *arg);
/* XACK stream group id1 ... */
int bm_writer_xack(bm_writer *w, const char *stream, const char *group, size_t n,
                   const char *const *ids, const size_t *id_lens, bm_write_cb cb, void *arg);
/* XGROUP CREATE stream group id MKSTREAM (id NULL or "": 0, the whole stream;
 * BUSYGROUP is not an error to count). */
int bm_writer_xgroup_create(bm_writer *w, const char *stream, const char *group, const char *id,
                            bm_write_cb cb, void *arg);

/* SET key value [PX px_ms] (the checkpoint; px_ms 0: no expiry). */
int bm_writer_set(bm_writer *w, bm_write_kind kind, const char *key, const char *value,
                  size_t len, int64_t px_ms, bm_write_cb cb, void *arg);
/* ZADD key [NX] score1 member1 ... (the trace search index: every member a
 * group adds to one set in one command; nx: members already there keep
 * their score). n 0: nothing sent. */
int bm_writer_zadd(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, int nx, size_t n,
                   const int64_t *scores, const char *const *members, const size_t *mlens,
                   bm_write_cb cb, void *arg);
/* ZREMRANGEBYSCORE key -inf (below; ZREMRANGEBYRANK key 0 -(keep+1); EXPIRE key ttl_s:
 * a sorted set cut to what is recent and to `keep` members (three commands;
 * cb gets each reply, in that order). */
int bm_writer_ztrim(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, int64_t below,
                    size_t keep, int64_t ttl_s, bm_write_cb cb, void *arg);
/* HGETALL key. */
int bm_writer_hgetall(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb,
                      void *arg);
/* TIME: Redis's clock, [seconds, microseconds] (several agents agree on it). */
int bm_writer_time(bm_writer *w, bm_write_kind kind, bm_write_cb cb, void *arg);
/* DEL key. */
int bm_writer_del(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb, void *arg);
/* EVAL script 1 key arg... (one key: a script never spans keys). */
int bm_writer_eval1(bm_writer *w, bm_write_kind kind, const char *script, const char *key,
                    size_t n, const char *const *args, bm_write_cb cb, void *arg);
/* EVAL script n_keys key... arg...: a script whose keys must be read and
 * written in one step (the janitor's fenced move of a gone agent's batch). */
int bm_writer_eval(bm_writer *w, bm_write_kind kind, const char *script, size_t n_keys,
                   const char *const *keys, size_t n, const char *const *args, bm_write_cb cb,
                   void *arg);
/* The same with each argument's length (binary arguments: a stream entry's values). */
int bm_writer_evaln(bm_writer *w, bm_write_kind kind, const char *script, size_t n_keys,
                    const char *const *keys, size_t n, const char *const *args, const size_t *lens,
                    bm_write_cb cb, void *arg);
/* XRANGE stream start end COUNT count. */
int bm_writer_xrange(bm_writer *w, bm_write_kind kind, const char *stream, const char *start,
                     const char *end, size_t count, bm_write_cb cb, void *arg);
/* XREADGROUP GROUP group consumer COUNT count STREAMS stream id (no BLOCK). */
int bm_writer_xreadgroup(bm_writer *w, bm_write_kind kind, const char *group,
                         const char *consumer, size_t count, const char *stream, const char *id,
                         bm_write_cb cb, void *arg);
/* GET key (restoring the checkpoint). */
int bm_writer_get(bm_writer *w, bm_write_kind kind, const char *key, bm_write_cb cb, void *arg);
/* LRANGE key start stop (a stored trace's records). */
int bm_writer_lrange(bm_writer *w, bm_write_kind kind, const char *key, size_t klen, long start,
                     long stop, bm_write_cb cb, void *arg);

/* XPENDING stream group IDLE min_idle_ms - + count: entries idle that long. */
int bm_writer_xpending_idle(bm_writer *w, const char *stream, const char *group,
                            int64_t min_idle_ms, size_t count, bm_write_cb cb, void *arg);
/* XPENDING stream group start end count consumer: consumer's pending entries
 * in [start, end] ("(id" excludes it), oldest first (inputs/away.c). */
int bm_writer_xpending_of(bm_writer *w, const char *stream, const char *group, const char *start,
                          const char *end, size_t count, const char *consumer, bm_write_cb cb,
                          void *arg);
/*
 * The ids of one owner in a claim, and its fences (inputs/reclaim.c):
 *   key   the owner's checkpoint; its first BM_CLAIM_FENCE_BYTES must still
 *         be `seen` (what the claimer judged it dead by), else its ids are
 *         not claimed: it wrote a checkpoint since, it is alive ("" no check)
 *   mark  set to `token` when one of its ids is claimed, so that the owner's
 *         next checkpoint sees the claim (inputs/away.c; "" none)
 */
#define BM_CLAIM_FENCE_BYTES 1024
typedef struct {
    const char *key, *seen, *mark;
    size_t seen_len, n; /* n: its ids, next in the claim's list */
} bm_claim_owner;
/*
 * XCLAIM stream group consumer min_idle_ms id... (in an EVAL), per owner
 * behind its fence: they become consumer's, with their content; an entry
 * above max_bytes comes back as its size (an integer reply) in place of its
 * fields, not loaded. Reply: [entries, ids left for an owner alive, owners
 * claimed without the fence: their checkpoint unreadable (GETRANGE denied)].
 */
int bm_writer_xclaim(bm_writer *w, const char *stream, const char *group, const char *consumer,
                     int64_t min_idle_ms, size_t max_bytes, const char *token, int64_t mark_ttl_ms,
                     size_t n_owners, const bm_claim_owner *owners, const char *const *ids,
                     bm_write_cb cb, void *arg);

/* The sampler's queries: PING, INFO, XLEN stream, XINFO GROUPS stream, CONFIG GET name. */
typedef enum { BM_QUERY_PING, BM_QUERY_INFO, BM_QUERY_XLEN, BM_QUERY_XINFO_GROUPS, BM_QUERY_CONFIG_GET } bm_query;
int bm_writer_query(bm_writer *w, bm_query q, const char *operand, bm_write_cb cb, void *arg);

/* ---- the commands of the other connections -------------------------------------------
 *
 * The reader's, the pub/sub connection's and the handshake's commands are
 * built here too, so this file is the one place that spells a Redis command
 * the agent sends (the CLI and the demo producer, separate programs, have
 * their own in agent/cli/ and core/redis_url.c). These take the connection
 * itself, not the writer: their replies are not the writer's pending writes.
 */
struct redisContext;

/* AUTH [user] password (when password is set) and SELECT db (when db > 0). */
void bm_writer_handshake(redisAsyncContext *ac, redisCallbackFn *cb, void *arg, const char *user,
                         const char *password, int db);

typedef struct {
    const char *group, *consumer;
    size_t count;
    int block_ms; /* BLOCK (<= 0: none) */
    /*
     * > 0: read through a script that measures each entry in Redis: one
     * above measure_max bytes (fields and values) comes back as its size
     * (an integer) in place of its fields, and every entry gets its
     * delivery count (XPENDING, this delivery included) as a third element.
     * For ids other than ">" (the pending list); no BLOCK.
     */
    size_t measure_max;
    size_t n;
    const char *const *streams, *const *ids;
} bm_writer_read;

/* XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS s... id... (or its measured script). */
int bm_writer_read_on(redisAsyncContext *ac, redisCallbackFn *cb, void *arg,
                      const bm_writer_read *r);

/* PSUBSCRIBE pattern... */
int bm_writer_psubscribe_on(redisAsyncContext *ac, redisCallbackFn *cb, void *arg, size_t n,
                            const char *const *patterns);

/*
 * Create `group` on each stream (XGROUP CREATE ... 0 MKSTREAM; an existing
 * group is fine), on a sync connection: the agent's start-up check.
 * @return 0, or -1 with one line in err.
 */
int bm_writer_ensure_groups_sync(struct redisContext *c, const char *const *streams, size_t n,
                                 const char *group, char *err, size_t errlen);

#endif
