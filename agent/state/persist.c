/*
 * persist.c - groups of writes, their confirmation, checkpoints and acks
 * (persist.h has the order and why).
 *
 * A group is the writes of the batches of one flush interval (persist.h).
 * Its buffers are grow-only and groups are recycled, so a warmed-up agent
 * allocates nothing per batch:
 *
 *   keys  "busmon:trace:tx-1\0busmon:trace:tx-2\0..."   one key per record
 *   recs  msgpack bytes of each record, back to back
 *   items [{key_off,key_len,rec_off,rec_len,seq}...]   sorted at close by
 *         (key, seq) so one RPUSH carries a transaction's records in order
 *   txs   [{first item, n items, pending, failed}...]  one RPUSH each (+ EXPIRE
 *         when one of its records is the key's first)
 *   dls   dead-letter copies: their field/value bytes in `dlbytes`
 *   ix    index writes [{tx, workers, what to write}...] in `ixbytes`: one
 *         write of the group's ZADDs (one command per set, every member);
 *         then maybe the index trims, of the sets written since the last
 *         trim (their names copied to `ixbytes`)
 *   ids   "1700000000000-0\0..." with acks[{stream,off,len}]
 *
 *   open ──close──▶ sent ──every write OK──▶ stored ──checkpoint OK──▶ acked, recycled
 *                    │  ▲ error / lost: sent again by the retry timer
 *                    └──┘
 */
#include "agent/state/persist.h"

#include <errno.h>
#include <event2/event.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/acl.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/group_keys.h"
#include "agent/core/log.h"

#define DEADLETTER_VALUE_MAX  (64 * 1024)
#define DEADLETTER_FIELDS_MAX 64
#define DEADLETTER_NAME_MAX   250 /* of a field's name, without the "f." */
#define ACK_IDS_PER_COMMAND   10000
#define RETRY_MIN_US          (250 * 1000LL)
#define RETRY_MAX_US          (30 * 1000000LL)
#define IDLE_CHECKPOINTS      10 /* with nothing new, checkpoint every 10 intervals */
#define TOO_LONG_RETRY_US     (60 * 1000000LL) /* a checkpoint Redis refused as too long */
#define LEAST_MAX_VALUE_BYTES (1024 * 1024)    /* the least proto-max-bulk-len Redis takes */
#define FREE_GROUPS_MAX       8  /* recycled groups kept (their buffers warm) */
#define HANDOFF_MAXLEN        1000000
#define HANDOFF_BATCH_MAX     512 /* hand-offs in one MULTI ... EXEC */
#define GUARD_FIELDS_MAX      3000 /* an entry's fields a guarded hand-off passes (Lua's stack) */
#define INDEX_TRIM_KEYS_MAX   64 /* worker sets waiting for a trim: trimmed now, whatever the interval */
#define INDEX_KEY_MAX         (TRACE_INDEX_TEXT_MAX + 300)
#define GROUP_BYTES_MAX       (1u << 20) /* records + index bytes: an open group is written */
#define GROUP_ACKS_MAX        200000     /* entries waiting in an open group, at most */
#define SPARE_SETS            2          /* stored groups' record buffers kept for new groups */
#define CLAIMS_ACKED_MAX                                                                           \
    16000 /* acked claims remembered (their acks may be lost); with the                            \
             queued ones (BM_PERSIST_CLAIMS_QUEUED_MAX and a round) under                          \
             BM_CHECKPOINT_CLAIMED_MAX */
#define CLAIMS_KEEP_US        (600 * 1000000LL)

typedef struct {
    char *data;
    size_t len, cap;
} growbuf;

typedef struct {
    size_t key_off, key_len, rec_off, rec_len, seq;
    int first; /* the key may not exist yet: EXPIRE it */
} rec_item;

typedef struct {
    size_t stream, off, len;
    unsigned char own; /* read by this consumer (not claimed): raises the stream's marks */
    unsigned char unapplied; /* acked without effects in memory (bm_persist_ack_unapplied) */
} ack_item;

/* A claimed entry applied: its ack queued in group `seq` (bm_persist_claim_queued),
 * or sent at acked_us (mono; bm_persist_claim_acked). */
typedef struct {
    size_t stream;
    uint64_t seq;
    int64_t acked_us;
    char id[BM_STREAM_ID_MAX];
} claim_item;

/* What the search index lacks of one transaction: tx and workers are
 * NUL-terminated strings in the group's ixbytes; `writes` the
 * TRACE_INDEX_W_* bits of what the index lacks (trace_index_plan), the
 * workers' sets from workers[w_from]. */
typedef struct {
    size_t tx_off, tx_len, w_off, n_workers, w_from, seq;
    int64_t score_ms;
    unsigned writes;
    int superseded;
} ix_item;

typedef struct group group;

/* One write of a group: a transaction's RPUSH + EXPIRE, or one dead-letter XADD. */
typedef struct {
    group *g;
    size_t first, n;      /* items (RPUSH) or pairs (XADD) */
    unsigned pending;     /* replies due */
    unsigned char failed; /* an error reply or a lost reply: send again */
    unsigned char is_dl;  /* 0 records; 1 a dead-letter XADD; 2 a hand-off XADD (its first
                              pair names the stream); 4 the index trims of the group;
                              5 the group's ZADDs */
    unsigned sent_cmds;  /* commands sent by the last send (index writes) */
    unsigned char expire; /* records: EXPIRE after the RPUSH (the key's first write) */
    size_t from;          /* a hand-off: the stream its entry was read from, + 1 */
    size_t lead;          /* a hand-off: its batch's first write (index + 1; send_handoffs) */
    unsigned char acked;  /* a hand-off whose XADD was refused where its entry was acked all
                             the same (an EXEC; the guard script for WRONGTYPE) */
    int64_t read_us;      /* a hand-off: when its entry was read (mono) */
} wr;

typedef struct {
    size_t f_off, f_len, v_off, v_len;
} dl_pair;

struct group {
    group *next;
    bm_persist *p;
    uint64_t seq;
    growbuf keys, ids, dlbytes;
    msgpack_sbuffer recs;
    rec_item *items;
    size_t n_items, cap_items;
    wr *wrs;
    size_t n_wrs, cap_wrs;
    dl_pair *pairs;
    size_t n_pairs, cap_pairs;
    ack_item *acks;
    size_t n_acks, cap_acks;
    growbuf ixbytes;
    ix_item *ix;
    size_t n_ix, cap_ix;
    size_t trim_off, n_trim_names; /* the trims' worker names in ixbytes */
    unsigned char trim_set, trim_failed; /* ... and whether the index / :failed set */
    size_t outstanding; /* writes with replies due */
    size_t failed;      /* writes to send again */
    int64_t opened_us;  /* when its first write or ack came (mono) */
    unsigned char has_handoff; /* a hand-off in it: written at the batch's end */
};

struct bm_persist {
    bm_persist_opts o;
    void (*before_close)(void *); /* bm_persist_set_before_close */
    int ck_again; /* checkpoint_soon asked while one was under way: another after it */
    void *before_close_arg;
    bm_writer *w;
    struct event_base *base;
    struct event *ev_flush, *ev_retry, *ev_checkpoint, *ev_ready, *ev_due;
    bm_backoff retry_backoff;
    bm_persist_reader reader;
    void *reader_arg;
    bm_persist_observe_cb observe; /* jobs/finisher.c: follows transactions (writes every record) */
    void *observe_arg;
    bm_persist_stats stats;
    int64_t last_ack_us;
    char last_error[256];

    group *open;               /* filling */
    group *sent, *sent_tail;   /* closed, oldest first */
    group *free_groups;
    group spare[SPARE_SETS]; /* only their record buffers: stored groups', for the next ones */
    uint64_t next_seq;

    char (*applied)[BM_STREAM_ID_MAX];   /* per stream: last id of ours applied */
    char (*confirmed)[BM_STREAM_ID_MAX]; /* per stream: last id of ours the confirmed checkpoint
                                            covers, or acked (no checkpoint) */
    claim_item *claims; /* claimed entries whose acks are queued, oldest group first */
    size_t n_claims, cap_claims;
    claim_item *acked_claims; /* ... whose acks were sent, oldest first (CLAIMS_ACKED_MAX) */
    size_t n_acked_claims, cap_acked_claims;
    char (*ck_ids)[BM_STREAM_ID_MAX];    /* per stream: what the checkpoint in flight covers */
    uint64_t closed_since_checkpoint;
    unsigned idle_ticks;

    int barrier;         /* a checkpoint waits: no new reads */
    int in_checkpoint;   /* one is encoded: its SET waits for its groups, or is out */
    int ck_waiting;      /* ... its SET waits for the groups up to ck_seq to be stored */
    uint64_t ck_seq;     /* the groups it covers: seq <= ck_seq */
    int64_t ck_started_us;
    msgpack_sbuffer ck_buf;
    size_t too_long_bytes;  /* the shortest checkpoint Redis refused as too long (0: none) */
    int64_t too_long_at_us; /* ... when (mono): a shorter one is tried a minute after */
    size_t max_value_bytes; /* Redis's proto-max-bulk-len, when CONFIG GET told (0: not known) */
    int ask_max_value;      /* a checkpoint was too long: CONFIG GET it again at the next tick */
    int said_too_long;
    int ck_unreadable; /* the encoded one is past what a start decodes: not sent */
    int said_unreadable;
    int said_handoff_dl; /* a hand-off dead-lettered (handoff_to_deadletter) was logged */
    int lost_long_sets; /* checkpoints longer than LEAST_MAX_VALUE_BYTES lost with the connection */
    int finishing;
    int started; /* the state is restored (bm_persist_start): checkpoints may be written */
    bm_persist_gate_cb gate; /* asked before each checkpoint's SET (bm_persist_set_gate) */
    void *gate_arg;
    int gate_passed;           /* ... and it let the one waiting go */
    char *fence_mark, *fence_seen; /* ... behind this fence (bm_persist_gate_done_fenced) */
    size_t fence_len;
    int64_t ck_sent_us;        /* mono: the checkpoint's SET sent */
    int64_t confirmed_sent_us; /* ... the last confirmed one's (the start's time before one) */
    int64_t guard_us, guard_idle_us; /* bm_persist_set_handoff_guard */
    char guard_consumer[256], guard_claimer[256];
    void (*done)(void *, int);
    void *done_arg;

    const char **argv;
    size_t *argvlen;
    size_t cap_argv;

    /* the index sets written since their last trim: trimmed together, with
     * their EXPIRE, at most every index_trim_interval_us (trim_due) */
    unsigned char trim_set, trim_failed;
    growbuf trim_names; /* worker names, NUL-terminated, back to back */
    size_t n_trim_names;
    int64_t last_trim_us;
};

static void try_checkpoint(bm_persist *p);
static int handoff_to_deadletter(bm_persist *p, group *g, wr *x, const char *err);
static int send_wr(bm_persist *p, group *g, wr *x);
static void send_checkpoint(bm_persist *p);
static void ack_upto(bm_persist *p, uint64_t upto);

/* ---- buffers ------------------------------------------------------------ */

static int grow_append(growbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\0';
    return 0;
}

static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *a = realloc(*arr, c * elem);
    if (!a) return -1;
    *arr = a;
    *cap = c;
    return 0;
}

static int reserve_argv(bm_persist *p, size_t need)
{
    if (need <= p->cap_argv) return 0;
    size_t c = p->cap_argv ? p->cap_argv : 256;
    while (c < need)
        c *= 2;
    const char **a = realloc(p->argv, c * sizeof *a);
    if (!a) return -1;
    p->argv = a;
    size_t *l = realloc(p->argvlen, c * sizeof *l);
    if (!l) return -1;
    p->argvlen = l;
    p->cap_argv = c;
    return 0;
}

/* ---- stream ids ------------------------------------------------------------- */

/* Up to 19 digits at *s as a number, *s moved past them. @return 0, or -1
 * when there are none or more (strtoull's rules are then the ones). */
static int id_digits(const char **s, unsigned long long *v)
{
    const char *p = *s;
    unsigned long long n = 0;
    for (; *p >= '0' && *p <= '9' && p - *s < 19; p++)
        n = n * 10 + (unsigned)(*p - '0');
    if (p == *s || (*p >= '0' && *p <= '9')) return -1;
    *s = p, *v = n;
    return 0;
}

/* "ms-seq" into its two numbers (a bare "ms" has seq 0). Redis's ids
 * (digits '-' digits) are read by hand, once per entry acked; anything
 * else as strtoull reads it. */
static void id_parts(const char *id, unsigned long long *ms, unsigned long long *seq)
{
    const char *p = id;
    unsigned long long a, b = 0;
    if (!id_digits(&p, &a) && (!*p || (*p == '-' && (p++, !id_digits(&p, &b)) && !*p))) {
        *ms = a, *seq = b;
        return;
    }
    char *end;
    *ms = strtoull(id, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

int bm_stream_id_cmp(const char *a, const char *b)
{
    if (!*a || !*b) return *a ? 1 : *b ? -1 : 0; /* "" is below everything */
    unsigned long long am, as, bmv, bs;
    id_parts(a, &am, &as);
    id_parts(b, &bmv, &bs);
    if (am != bmv) return am < bmv ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* ---- groups ---------------------------------------------------------------------- */

#define SPARE_RECS_MAX (8u << 20) /* record buffers of more bytes are freed, not kept */

/* The record buffers of `from` to `to` (whose own are none), `from` left
 * with none. */
static void move_records(group *to, group *from)
{
    to->keys = from->keys, to->dlbytes = from->dlbytes, to->recs = from->recs;
    to->ixbytes = from->ixbytes;
    to->items = from->items, to->cap_items = from->cap_items;
    to->wrs = from->wrs, to->cap_wrs = from->cap_wrs;
    to->pairs = from->pairs, to->cap_pairs = from->cap_pairs;
    to->ix = from->ix, to->cap_ix = from->cap_ix;
    from->keys = from->dlbytes = from->ixbytes = (growbuf){0};
    msgpack_sbuffer_init(&from->recs);
    from->items = NULL, from->wrs = NULL, from->pairs = NULL, from->ix = NULL;
    from->cap_items = from->cap_wrs = from->cap_pairs = from->cap_ix = 0;
}

static group *group_get(bm_persist *p)
{
    group *g = p->free_groups;
    if (g) {
        p->free_groups = g->next;
    } else {
        g = calloc(1, sizeof *g);
        if (!g) return NULL;
        msgpack_sbuffer_init(&g->recs);
        g->p = p;
    }
    for (int i = 0; i < SPARE_SETS && !g->recs.data; i++)
        if (p->spare[i].recs.data) move_records(g, &p->spare[i]);
    g->next = NULL;
    g->seq = ++p->next_seq;
    g->keys.len = g->ids.len = g->dlbytes.len = 0;
    g->recs.size = 0;
    g->n_items = g->n_wrs = g->n_pairs = g->n_acks = g->n_ix = 0;
    g->ixbytes.len = 0;
    g->n_trim_names = 0;
    g->trim_set = g->trim_failed = 0;
    g->outstanding = g->failed = 0;
    g->has_handoff = 0;
    g->opened_us = bm_mono_us();
    return g;
}

static void group_free(group *g)
{
    free(g->keys.data);
    free(g->ids.data);
    free(g->dlbytes.data);
    msgpack_sbuffer_destroy(&g->recs);
    free(g->items);
    free(g->wrs);
    free(g->pairs);
    free(g->acks);
    free(g->ixbytes.data);
    free(g->ix);
    free(g);
}

static group *open_group(bm_persist *p)
{
    if (!p->open && (p->open = group_get(p)) && p->ev_due && p->o.flush_interval_us > 0) {
        /* written when the interval passes, whatever the batches */
        struct timeval tv = bm_tv_from_us(p->o.flush_interval_us);
        evtimer_add(p->ev_due, &tv);
    }
    return p->open;
}

static int group_stored(const group *g)
{
    return g->outstanding == 0 && g->failed == 0;
}

/* The record buffers of g freed, g left with none. */
static void group_free_records(group *g)
{
    group none = {0};
    free(g->keys.data);
    free(g->dlbytes.data);
    msgpack_sbuffer_destroy(&g->recs);
    free(g->items);
    free(g->wrs);
    free(g->pairs);
    free(g->ixbytes.data);
    free(g->ix);
    move_records(g, &none);
    g->n_items = g->n_wrs = g->n_pairs = g->n_ix = 0;
}

/* A stored group waits for its checkpoint with its ack ids only: the
 * records' buffers go (they can be large; hiredis had its own copy). Up
 * to SPARE_SETS sets of them, of SPARE_RECS_MAX bytes at most each, are
 * kept for the next groups (several groups are written at once):
 * regrown from nothing, each group's buffers cost their reallocations'
 * copies and fresh pages' faults again (several per cent of the agent's CPU
 * on the ingest path). */
static void group_drop_records(group *g)
{
    bm_persist *p = g->p;
    g->n_items = g->n_wrs = g->n_pairs = g->n_ix = 0;
    size_t bytes = g->recs.alloc + g->keys.cap + g->dlbytes.cap + g->ixbytes.cap +
                   g->cap_items * sizeof *g->items + g->cap_wrs * sizeof *g->wrs +
                   g->cap_pairs * sizeof *g->pairs + g->cap_ix * sizeof *g->ix;
    for (int i = 0; i < SPARE_SETS && g->recs.data && bytes <= SPARE_RECS_MAX; i++)
        if (!p->spare[i].recs.data) move_records(&p->spare[i], g);
    group_free_records(g); /* not kept: freed */
}

/* Back to the free list, or freed when the list is full. */
static void group_recycle(bm_persist *p, group *g)
{
    size_t n = 0;
    for (group *f = p->free_groups; f; f = f->next)
        n++;
    if (n >= FREE_GROUPS_MAX) {
        group_free(g);
        return;
    }
    g->next = p->free_groups;
    p->free_groups = g;
}

static uint64_t count_unacked(const bm_persist *p)
{
    uint64_t n = p->open ? p->open->n_acks : 0;
    for (const group *g = p->sent; g; g = g->next)
        n += g->n_acks;
    return n;
}

/* What a group's writes hold: records, index members, dead-letter copies. */
static size_t group_bytes(const group *g)
{
    return g->recs.size + g->ixbytes.len + g->dlbytes.len;
}

static size_t count_unstored(const bm_persist *p)
{
    size_t n = 0;
    for (const group *g = p->sent; g; g = g->next)
        n += !group_stored(g);
    return n;
}

/* ---- replies ---------------------------------------------------------------------- */

static void note_failure(bm_persist *p, const redisReply *r)
{
    snprintf(p->last_error, sizeof p->last_error, "%s",
             r ? r->str : "the connection to Redis was lost");
    if (!evtimer_pending(p->ev_retry, NULL)) {
        struct timeval tv = bm_tv_from_us(bm_backoff_next(&p->retry_backoff));
        evtimer_add(p->ev_retry, &tv);
    }
}

/* A write of x refused: noted as note_failure does, and a dead-letter or
 * hand-off XADD names its stream there (/ready reads it) and in one line
 * per burst: a key of another type there holds every ack until it is
 * fixed, and Redis's answer alone ("WRONGTYPE ...") does not say where. */
static void note_write_failure(bm_persist *p, const redisReply *r, const wr *x)
{
    int burst = !p->last_error[0];
    note_failure(p, r);
    if (!r || (x->is_dl != 1 && x->is_dl != 2)) return;
    const char *stream =
        x->is_dl == 1 ? p->o.deadletter_stream : x->g->dlbytes.data + x->g->pairs[x->first].f_off;
    snprintf(p->last_error, sizeof p->last_error, "%.160s (XADD %s)", r->str, stream);
    if (burst)
        bm_warn("%s not written to %s: %.160s; entries are not acked until it is (sent again)",
                x->is_dl == 1 ? "dead-letter" : "hand-off", stream, r->str);
}

/* An ACL denial (NOPERM) is not retried: it lasts until someone changes the
 * ACL, and retrying would stop ingest for good. The writer counts and logs
 * it (core/acl.h); what it refused is given up and the batch goes on. */
static int denied(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && bm_acl_is_denial(r->str);
}

/* The reply r of one command of x: an error (or none: the connection was
 * lost) marks x to be sent again. @return 1 when it was x's last reply. */
static int wr_replied(wr *x, const redisReply *r)
{
    group *g = x->g;
    bm_persist *p = g->p;
    if (x->is_dl == 4 && r && r->type == REDIS_REPLY_INTEGER) {
        unsigned at = x->sent_cmds - x->pending; /* replies come in order: which command */
        if (at % 3 == 0) p->stats.index_expired += (uint64_t)r->integer;
        if (at % 3 == 1) p->stats.index_dropped += (uint64_t)r->integer;
    }
    if ((!r || r->type == REDIS_REPLY_ERROR || (x->is_dl == 2 && r->type == REDIS_REPLY_NIL)) &&
        !denied(r)) {
        if (!x->failed) g->failed++;
        x->failed = 1;
        note_write_failure(p, r, x);
    }
    if (--x->pending) return 0;
    g->outstanding--;
    return 1;
}

/* Every write of g confirmed: its records dropped, the checkpoint and the
 * reads let go on. */
static void group_settled(group *g)
{
    bm_persist *p = g->p;
    if (!group_stored(g)) return;
    group_drop_records(g);
    bm_backoff_reset(&p->retry_backoff);
    p->last_error[0] = '\0';
    if (!p->o.encode || !p->o.state_key) ack_upto(p, UINT64_MAX); /* no checkpoint */
    send_checkpoint(p);
    try_checkpoint(p);
    if (p->reader.resume && bm_persist_reads_allowed(p)) p->reader.resume(p->reader_arg);
}

static void on_write(const redisReply *r, void *arg)
{
    wr *x = arg;
    if (wr_replied(x, r)) group_settled(x->g);
}

/* The reply r to a batch of hand-offs (send_handoffs), arg its first write:
 * exec 1, its EXEC's (the XADDs' replies in the order of their writes, then
 * the XACKs'); exec 0, the guard script's (one element per write, in order:
 * on_guarded). The batch is the writes of the group that name it as their
 * lead and wait for a reply (one sent again since is in a batch of its own).
 * An XADD refused with WRONGTYPE had its entry acked either way (the EXEC
 * runs its XACK; the script acks such an entry): dead-lettered in place. */
static void handoffs_replied(const redisReply *r, wr *lead, int exec)
{
    group *g = lead->g;
    size_t at = (size_t)(lead - g->wrs), k = 0, n = g->n_wrs;
    int all = r && r->type == REDIS_REPLY_ARRAY, last = 0;
    for (size_t i = at; i < n; i++) {
        wr *x = &g->wrs[i];
        if (x->lead != at + 1 || !x->pending) continue;
        const redisReply *e = !all ? r : k < r->elements ? r->element[k] : NULL;
        k++;
        /* EXEC ran the XACK all the same, and the script acks a WRONGTYPE one:
         * no longer pending, sent again as ours; a key of another type will
         * not pass: dead-lettered (handoff_to_deadletter). The script's other
         * errors left their entry pending: sent again through it. */
        int refused = all && e && e->type == REDIS_REPLY_ERROR;
        int wrongtype = refused && !strncmp(e->str, "WRONGTYPE", 9);
        if ((exec && refused) || wrongtype) {
            x->acked = 1;
            if (wrongtype && !handoff_to_deadletter(g->p, g, x, e->str)) {
                x->pending = 0;
                g->outstanding--;
                if (send_wr(g->p, g, x)) note_failure(g->p, NULL); /* sent again, a dead-letter */
                bm_writer_push(g->p->w);
                continue;
            }
        }
        last |= wr_replied(x, e);
    }
    if (last) group_settled(g);
}

static void on_handoffs(const redisReply *r, void *arg)
{
    handoffs_replied(r, arg, 1);
}

static void on_acked(const redisReply *r, void *arg)
{
    bm_persist *p = arg;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        p->stats.acked += (uint64_t)r->integer;
        p->last_ack_us = bm_now_us();
    }
}

/* ---- sending ----------------------------------------------------------------------- */

/* "<index><suffix><name>" into buf, cut at INDEX_KEY_MAX - 1 bytes (one
 * per set written: by hand, not snprintf). @return its length. */
static size_t index_key(const bm_persist *p, const char *suffix, const char *name, char *buf)
{
    const char *part[3] = {p->o.index_key, suffix, name};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(part[i]);
        if (l > INDEX_KEY_MAX - 1 - n) l = INDEX_KEY_MAX - 1 - n;
        memcpy(buf + n, part[i], l);
        n += l;
    }
    buf[n] = '\0';
    return n;
}

/* One (worker name, member) pair of the group's ZADDs to the workers' sets. */
typedef struct {
    const char *worker, *tx;
    size_t tx_len;
    int64_t score_ms;
    int nx; /* added where missing (ZADD NX), else its score replaced */
} worker_member;

static int cmp_worker_member(const void *a, const void *b)
{
    const worker_member *x = a, *y = b;
    int c = strcmp(x->worker, y->worker);
    return c ? c : x->nx - y->nx;
}

/* The group's index members (is_dl 5): for the index set, :failed and each
 * worker's set, one ZADD NX of the members added where missing and one
 * ZADD of those whose start moved (TRACE_INDEX_W_MOVED; rare), every member
 * of the group in them (a superseded summary's sets are its successor's,
 * plan_index). *sent counts the commands sent. @return 0 or -1 (refused:
 * nothing more sent). */
static int send_zadds(bm_persist *p, group *g, const wr *x, unsigned *sent)
{
    size_t n = 0, n_w = 0;
    for (size_t i = x->first; i < x->first + x->n; i++) {
        const ix_item *it = &g->ix[i];
        if (it->superseded) continue;
        n++;
        p->stats.index_writes++;
        if (it->writes & TRACE_INDEX_W_WORKERS) n_w += it->n_workers - it->w_from;
    }
    int64_t *scores = malloc((n + n_w + 1) * sizeof *scores);
    const char **members = malloc((n + n_w + 1) * sizeof *members);
    size_t *lens = malloc((n + n_w + 1) * sizeof *lens);
    worker_member *wm = malloc((n_w + 1) * sizeof *wm);
    int rc = !scores || !members || !lens || !wm ? -1 : 0;
    const char *b = g->ixbytes.data;
    char key[INDEX_KEY_MAX];
    size_t klen;
    for (int set = 0; !rc && set < 4; set++) { /* the index, then :failed; NX, then moved */
        unsigned bit = set % 2 == 0 ? TRACE_INDEX_W_SET : TRACE_INDEX_W_FAILED;
        int nx = set < 2;
        size_t k = 0;
        for (size_t i = x->first; i < x->first + x->n; i++) {
            const ix_item *it = &g->ix[i];
            int it_nx = (it->writes & TRACE_INDEX_W_MOVED) == 0;
            if (it->superseded || !(it->writes & bit) || it_nx != nx) continue;
            scores[k] = it->score_ms, members[k] = b + it->tx_off, lens[k++] = it->tx_len;
        }
        if (!k) continue;
        klen = index_key(p, set % 2 == 0 ? "" : ":" BM_GROUP_SUB_FAILED, "", key);
        rc = bm_writer_zadd(p->w, BM_WRITE_INDEX, key, klen, nx, k, scores, members, lens, on_write,
                            (void *)x);
        *sent += rc == 0;
    }
    size_t k = 0;
    for (size_t i = x->first; !rc && i < x->first + x->n; i++) {
        const ix_item *it = &g->ix[i];
        if (it->superseded || !(it->writes & TRACE_INDEX_W_WORKERS)) continue;
        const char *wk = b + it->w_off;
        for (size_t w = 0; w < it->n_workers; w++, wk += strlen(wk) + 1)
            if (w >= it->w_from)
                wm[k++] = (worker_member){wk, b + it->tx_off, it->tx_len, it->score_ms,
                                          !(it->writes & TRACE_INDEX_W_MOVED)};
    }
    if (!rc && k) qsort(wm, k, sizeof *wm, cmp_worker_member);
    for (size_t i = 0; !rc && i < k;) {
        size_t j = i, m = 0;
        for (; j < k && !cmp_worker_member(&wm[j], &wm[i]); j++)
            scores[m] = wm[j].score_ms, members[m] = wm[j].tx, lens[m++] = wm[j].tx_len;
        klen = index_key(p, ":" BM_GROUP_SUB_WORKER ":", wm[i].worker, key);
        rc = bm_writer_zadd(p->w, BM_WRITE_INDEX, key, klen, wm[i].nx, m, scores, members, lens,
                            on_write, (void *)x);
        *sent += rc == 0;
        i = j;
    }
    free(scores);
    free(members);
    free(lens);
    free(wm);
    return rc;
}

/* The group's ZADDs (is_dl 5) or its trims (is_dl 4).
 * x->pending is the number of commands sent. @return 0, or -1 (none sent). */
static int send_index(bm_persist *p, group *g, wr *x)
{
    char key[INDEX_KEY_MAX];
    size_t klen;
    unsigned sent = 0;
    int rc = 0;
    int64_t ttl_s = p->o.trace_ttl_s;
    if (x->is_dl == 5) {
        rc = send_zadds(p, g, x, &sent);
    } else {
        /* the sets written since the last trim: the index, failed, each worker's */
        int64_t below_ms = bm_now_us() / 1000 - ttl_s * 1000;
        const char *name = g->ixbytes.data + g->trim_off;
        for (size_t k = 0; !rc && k < g->n_trim_names + 2; k++) {
            if (k == 0 && !g->trim_set) continue;
            if (k == 1 && !g->trim_failed) continue;
            if (k >= 2) {
                klen = index_key(p, ":" BM_GROUP_SUB_WORKER ":", name, key);
                name += strlen(name) + 1;
            } else {
                klen = index_key(p, k == 0 ? "" : ":" BM_GROUP_SUB_FAILED, "", key);
            }
            rc = bm_writer_ztrim(p->w, BM_WRITE_INDEX, key, klen, below_ms, p->o.index_max, ttl_s,
                                 on_write, x);
            sent += rc == 0 ? 3 : 0;
        }
    }
    /* some commands may be out when a later one was refused: their replies
     * still come; the write is failed and sent again whole (idempotent) */
    x->pending = sent;
    x->sent_cmds = sent;
    if (rc && sent) {
        if (!x->failed) g->failed++;
        x->failed = 1;
        g->outstanding++;
        return 1;
    }
    return rc;
}

/* The fields of dead-letter or hand-off x into p->argv and p->argvlen:
 * *n names, then *n values (a hand-off has as many as its entry; its first
 * pair names the stream). @return the stream, or NULL (out of memory). */
static const char *xadd_fields(bm_persist *p, group *g, const wr *x, size_t *n, size_t *maxlen)
{
    size_t first = x->first;
    const char *stream = p->o.deadletter_stream;
    *n = x->n;
    *maxlen = p->o.deadletter_maxlen;
    if (x->is_dl == 2) {
        stream = g->dlbytes.data + g->pairs[first].f_off;
        *maxlen = HANDOFF_MAXLEN;
        first++, (*n)--;
    }
    if (reserve_argv(p, 2 * *n)) return NULL;
    for (size_t i = 0; i < *n; i++) {
        const dl_pair *d = &g->pairs[first + i];
        p->argv[i] = g->dlbytes.data + d->f_off, p->argvlen[i] = d->f_len;
        p->argv[*n + i] = g->dlbytes.data + d->v_off, p->argvlen[*n + i] = d->v_len;
    }
    return stream;
}

/* x refused: to be sent again. */
static void wr_refused(group *g, wr *x)
{
    x->pending = 0;
    if (!x->failed) g->failed++;
    x->failed = 1;
}

/* x sent: `pending` replies due. */
static void wr_out(group *g, wr *x, unsigned pending)
{
    x->pending = pending;
    if (x->failed) {
        x->failed = 0;
        g->failed--;
    }
    g->outstanding++;
}

/* Send one write of g (not a hand-off: send_handoffs). @return 0, or -1
 * (refused: marked failed). */
static int send_wr(bm_persist *p, group *g, wr *x)
{
    int rc;
    unsigned pending = 1;
    if (x->is_dl >= 3) {
        rc = send_index(p, g, x);
        if (rc == 1) return -1; /* partly sent: failed, its replies due (send_index) */
        pending = x->pending;
    } else if (x->is_dl) {
        size_t n, maxlen;
        const char *stream = xadd_fields(p, g, x, &n, &maxlen); /* out of memory: sent again */
        rc = !stream ? -1
                     : bm_writer_xadd(p->w, BM_WRITE_DEADLETTER, stream, maxlen, n, p->argv,
                                      p->argvlen, p->argv + n, p->argvlen + n, on_write, x);
    } else {
        rc = reserve_argv(p, x->n); /* out of memory: sent again */
        for (size_t j = 0; !rc && j < x->n; j++) {
            const rec_item *it = &g->items[x->first + j];
            p->argv[j] = g->recs.data + it->rec_off;
            p->argvlen[j] = it->rec_len;
        }
        const rec_item *it = &g->items[x->first];
        if (!rc)
            rc = bm_writer_rpush_expire(p->w, BM_WRITE_TRACE, g->keys.data + it->key_off,
                                        it->key_len, x->n, p->argv, p->argvlen,
                                        x->expire ? p->o.trace_ttl_s : 0, on_write, x);
        pending = 1u + x->expire;
        if (rc == 0) p->stats.records += x->n;
    }
    if (rc) {
        wr_refused(g, x);
        return -1;
    }
    wr_out(g, x, pending);
    return 0;
}

/* The hand-offs idx[0..nb) of g (ascending) in one MULTI ... EXEC: their
 * XADDs, then one XACK per stream they were read from, of their entries'
 * ids. Each entry is handed on and acked at once: an agent killed before
 * its checkpoint acked it would hand it on again at its restart, and the
 * owner would apply it twice (tests/integration/test_cluster_handoff_once.sh).
 * One EXEC and one XACK for the batch, not one per entry: Redis's work per
 * hand-off is its XADD. An XADD refused inside is acked all the same (EXEC
 * runs the rest): refused for a key of another type, it is dead-lettered
 * (handoff_to_deadletter: tests/integration/test_cluster_handoff_wrongtype.sh),
 * else sent again until it lands, holding the group's checkpoint meanwhile
 * (tests/integration/test_cluster_handoff_batch.sh). @return 0, or -1 (some
 * refused: marked failed). */
static int send_handoffs_exec(bm_persist *p, group *g, const size_t *idx, size_t nb)
{
    size_t queued = 0;
    int multi = bm_writer_multi(p->w, BM_WRITE_HANDOFF) == 0, rc = !multi;
    while (!rc && queued < nb) {
        wr *x = &g->wrs[idx[queued]];
        size_t n, maxlen;
        const char *stream = xadd_fields(p, g, x, &n, &maxlen);
        rc = !stream ? -1
                     : bm_writer_xadd(p->w, BM_WRITE_HANDOFF, stream, maxlen, n, p->argv,
                                      p->argvlen, p->argv + n, p->argvlen + n, NULL, NULL);
        queued += rc == 0;
    }
    /* out of memory for the ids: the XADDs run alone, acked at the checkpoint */
    int ids = queued && reserve_argv(p, queued) == 0;
    for (size_t s = 0; ids && s < p->o.n_streams; s++) {
        size_t k = 0;
        for (size_t i = 0; i < queued; i++) {
            const wr *x = &g->wrs[idx[i]];
            const dl_pair *id = &g->pairs[x->first + 1]; /* BM_HANDOFF_ID_FIELD's value */
            if (x->from != s + 1) continue;
            p->argv[k] = g->dlbytes.data + id->v_off;
            p->argvlen[k++] = id->v_len;
        }
        bm_writer_xack(p->w, p->o.streams[s], p->o.group, k, p->argv, p->argvlen, NULL, NULL);
    }
    /* a MULTI sent ends with its EXEC, whatever was queued (writer.h) */
    int exec = multi && bm_writer_exec(p->w, BM_WRITE_HANDOFF, on_handoffs, &g->wrs[idx[0]]) == 0;
    for (size_t i = 0; i < nb; i++) {
        wr *x = &g->wrs[idx[i]];
        if (exec && i < queued) {
            x->lead = idx[0] + 1;
            wr_out(g, x, 1);
        } else {
            wr_refused(g, x);
        }
    }
    return exec && queued == nb ? 0 : -1;
}

/* A guarded batch's reply (send_handoffs_guarded), arg its first write: per
 * hand-off 1 (handed on and acked), 0 (no longer ours: skipped) or an error
 * (WRONGTYPE: acked, dead-lettered; any other: not acked, sent again). */
static void on_guarded(const redisReply *r, void *arg)
{
    wr *lead = arg;
    group *g = lead->g;
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            g->p->stats.handoffs_skipped +=
                r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 0;
    handoffs_replied(r, lead, 0);
}

/*
 * The guarded form of a batch (bm_persist_set_handoff_guard): per entry,
 * XPENDING of its id in the stream it was read from; pending for this
 * consumer or its claims' consumer, XADD to the owner's stream and XACK;
 * else 0: another agent claimed it while this one looked dead and hands it
 * on itself (sent now, it would be handed on twice and counted twice by
 * the owner: tests/integration/test_cluster_handoff_guard.sh). An XADD
 * refused is that entry's reply, the error. Refused with WRONGTYPE (the
 * owner's key holds another type, which does not mend itself) the entry is
 * acked as well, as the EXEC form acks it, and dead-lettered on the reply
 * (handoffs_replied; tests/integration/test_cluster_handoff_wrongtype.sh,
 * its second case); any other refusal leaves it pending, sent again.
 * KEYS: the streams read (KEYS[from]), then the owners' hand-off streams;
 * ARGV: group, consumer, claimer, then per entry: its stream's and its
 * target's KEYS index, its id, its field count, its fields and values.
 */
static const char *const GUARD_SCRIPT =
    "local group, me, claimer = ARGV[1], ARGV[2], ARGV[3] "
    "local out = {} "
    "local i = 4 "
    "while i <= #ARGV do "
    "local src, dst, id, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2], "
    "tonumber(ARGV[i + 3]) "
    "local p = redis.call('XPENDING', KEYS[src], group, id, id, 1)[1] "
    "if p and (p[2] == me or p[2] == claimer) then "
    "local a = {'XADD', KEYS[dst], 'MAXLEN', '~', '1000000', '*'} "
    "for j = 1, 2 * n do a[6 + j] = ARGV[i + 3 + j] end "
    "local r = redis.pcall(unpack(a)) "
    "if type(r) == 'table' and r.err then "
    "if string.sub(r.err, 1, 9) == 'WRONGTYPE' then redis.call('XACK', KEYS[src], group, id) end "
    "out[#out + 1] = r "
    "else redis.call('XACK', KEYS[src], group, id) out[#out + 1] = 1 end "
    "else out[#out + 1] = 0 end "
    "i = i + 4 + 2 * n "
    "end "
    "return out";

static int send_handoffs_guarded(bm_persist *p, group *g, const size_t *idx, size_t nb)
{
    size_t n_args = 3, ns = p->o.n_streams, n_targets = 0;
    for (size_t i = 0; i < nb; i++)
        n_args += 4 + 2 * (g->wrs[idx[i]].n - 1);
    const char **keys = malloc((ns + nb) * sizeof *keys);
    const char **args = malloc(n_args * sizeof *args);
    size_t *lens = malloc(n_args * sizeof *lens);
    char(*nums)[3][24] = malloc(nb * sizeof *nums);
    int rc = !keys || !args || !lens || !nums ? -1 : 0;
    size_t a = 0;
    if (!rc) {
        for (size_t s = 0; s < ns; s++)
            keys[s] = p->o.streams[s];
        const char *head[3] = {p->o.group, p->guard_consumer, p->guard_claimer};
        for (; a < 3; a++)
            args[a] = head[a], lens[a] = strlen(head[a]);
    }
    for (size_t i = 0; !rc && i < nb; i++) {
        const wr *x = &g->wrs[idx[i]];
        const dl_pair *d = &g->pairs[x->first];
        const char *target = g->dlbytes.data + d->f_off;
        size_t t = 0;
        while (t < n_targets && strcmp(keys[ns + t], target))
            t++;
        if (t == n_targets) keys[ns + n_targets++] = target;
        int l0 = snprintf(nums[i][0], sizeof nums[i][0], "%zu", x->from);
        int l1 = snprintf(nums[i][1], sizeof nums[i][1], "%zu", ns + t + 1);
        int l2 = snprintf(nums[i][2], sizeof nums[i][2], "%zu", x->n - 1);
        const dl_pair *id = &g->pairs[x->first + 1]; /* BM_HANDOFF_ID_FIELD's value */
        args[a] = nums[i][0], lens[a++] = (size_t)l0;
        args[a] = nums[i][1], lens[a++] = (size_t)l1;
        args[a] = g->dlbytes.data + id->v_off, lens[a++] = id->v_len;
        args[a] = nums[i][2], lens[a++] = (size_t)l2;
        for (size_t k = 1; k < x->n; k++) {
            d = &g->pairs[x->first + k];
            args[a] = g->dlbytes.data + d->f_off, lens[a++] = d->f_len;
            args[a] = g->dlbytes.data + d->v_off, lens[a++] = d->v_len;
        }
    }
    /* the writer copies the arguments before it returns */
    if (!rc)
        rc = bm_writer_evaln(p->w, BM_WRITE_HANDOFF, GUARD_SCRIPT, ns + n_targets, keys, a, args,
                             lens, on_guarded, &g->wrs[idx[0]]);
    free(keys);
    free(args);
    free(lens);
    free(nums);
    for (size_t i = 0; i < nb; i++) {
        wr *x = &g->wrs[idx[i]];
        if (rc) {
            wr_refused(g, x);
        } else {
            x->lead = idx[0] + 1;
            wr_out(g, x, 1);
        }
    }
    return rc ? -1 : 0;
}

/* Hand-offs idx[0..nb) of g: one MULTI ... EXEC (send_handoffs_exec); the
 * guarded script for entries read longer ago than a claim's idle time while
 * this agent may look dead (a wide entry, past what
 * the script passes, and one whose entry was acked though its XADD was
 * refused (an EXEC, or the script for WRONGTYPE; no longer pending, yet
 * ours), as before). @return 0, or -1 (some refused). */
static int send_handoffs(bm_persist *p, group *g, const size_t *idx, size_t nb)
{
    int64_t now = bm_mono_us();
    if (!p->guard_us || now - p->confirmed_sent_us <= p->guard_us)
        return send_handoffs_exec(p, g, idx, nb);
    size_t plain[HANDOFF_BATCH_MAX], narrow[HANDOFF_BATCH_MAX], n_plain = 0, k = 0;
    for (size_t i = 0; i < nb; i++) {
        const wr *x = &g->wrs[idx[i]];
        /* read more recently than a claim's min_idle: nobody else can have it */
        if (now - x->read_us <= p->guard_idle_us || x->n > GUARD_FIELDS_MAX || x->acked)
            plain[n_plain++] = idx[i];
        else
            narrow[k++] = idx[i];
    }
    int rc = n_plain ? send_handoffs_exec(p, g, plain, n_plain) : 0;
    if (k) rc |= send_handoffs_guarded(p, g, narrow, k);
    return rc ? -1 : 0;
}

/* The writes of g: every one, or (retry) those failed with no reply due.
 * Hand-offs go in batches of HANDOFF_BATCH_MAX (send_handoffs). @return 0,
 * or -1 (some refused: marked failed, sent again). */
static int send_wrs(bm_persist *p, group *g, int retry)
{
    size_t batch[HANDOFF_BATCH_MAX], nb = 0;
    int failed = 0;
    for (size_t i = 0; i < g->n_wrs; i++) {
        wr *x = &g->wrs[i];
        if (retry && (!x->failed || x->pending)) continue;
        if (retry) p->stats.retried++;
        if (x->is_dl == 2) {
            batch[nb++] = i;
        } else {
            failed |= send_wr(p, g, x) != 0;
            bm_writer_push_some(p->w); /* the group's writes go out as they are made */
        }
        if (nb == HANDOFF_BATCH_MAX) {
            failed |= send_handoffs(p, g, batch, nb) != 0;
            nb = 0;
            bm_writer_push_some(p->w);
        }
    }
    if (nb) failed |= send_handoffs(p, g, batch, nb) != 0;
    return failed ? -1 : 0;
}

static int cmp_items(const void *a, const void *b, void *keys)
{
    const rec_item *x = a, *y = b;
    const char *sort_keys = keys;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(sort_keys + x->key_off, sort_keys + y->key_off, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Group the records by transaction: one write each. @return 0 or -1. */
static int plan_records(group *g)
{
    if (!g->n_items) return 0;
    qsort_r(g->items, g->n_items, sizeof *g->items, cmp_items, g->keys.data);
    size_t i = 0;
    while (i < g->n_items) {
        const char *key = g->keys.data + g->items[i].key_off;
        size_t klen = g->items[i].key_len, j = i;
        while (j < g->n_items && g->items[j].key_len == klen &&
               !memcmp(g->keys.data + g->items[j].key_off, key, klen))
            j++;
        if (reserve((void **)&g->wrs, &g->cap_wrs, g->n_wrs + 1, sizeof *g->wrs)) return -1;
        unsigned char expire = 0;
        for (size_t k = i; k < j; k++)
            expire |= g->items[k].first != 0;
        g->wrs[g->n_wrs++] = (wr){g, i, j - i, 0, 0, 0, 0, expire, 0, 0, 0, 0};
        i = j;
    }
    return 0;
}

static int cmp_ix(const void *a, const void *b, void *bytes)
{
    const ix_item *x = a, *y = b;
    int c = strcmp((const char *)bytes + x->tx_off, (const char *)bytes + y->tx_off);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One index entry per transaction: its last summary's, with what the
 * earlier ones of the group needed written (a set they were to be added
 * to); the sets' members in one write of the group (ZADD per set). @return 0 or -1. */
static int plan_index(group *g)
{
    if (!g->n_ix) return 0;
    unsigned zadds = 0;
    qsort_r(g->ix, g->n_ix, sizeof *g->ix, cmp_ix, g->ixbytes.data);
    for (size_t i = 0; i < g->n_ix; i++) {
        ix_item *it = &g->ix[i];
        it->superseded = i + 1 < g->n_ix && !strcmp(g->ixbytes.data + it->tx_off,
                                                     g->ixbytes.data + g->ix[i + 1].tx_off);
        if (it->superseded) {
            ix_item *next = &g->ix[i + 1];
            /* the workers a superseded one was to add: from the same
             * position of the next one's list, unless that list is not
             * the same up to there (then every worker) */
            if ((it->writes & TRACE_INDEX_W_WORKERS) &&
                (!(next->writes & TRACE_INDEX_W_WORKERS) || it->w_from < next->w_from))
                next->w_from = next->n_workers >= it->n_workers ? it->w_from : 0;
            next->writes |= it->writes;
            continue;
        }
        zadds |= it->writes;
    }
    if (zadds) {
        if (reserve((void **)&g->wrs, &g->cap_wrs, g->n_wrs + 1, sizeof *g->wrs)) return -1;
        g->wrs[g->n_wrs++] = (wr){g, 0, g->n_ix, 0, 0, 5, 0, 0, 0, 0, 0, 0};
    }
    return 0;
}

/* Whether the index sets written since the last trim are to be trimmed now:
 * the interval passed, the worker names waiting fill their table, or the
 * agent finishes (so every set written has its EXPIRE). */
static int trim_due(const bm_persist *p, int64_t now_us)
{
    if (!p->trim_set && !p->trim_failed && !p->n_trim_names) return 0;
    return p->finishing || p->n_trim_names >= INDEX_TRIM_KEYS_MAX ||
           now_us - p->last_trim_us >= p->o.index_trim_interval_us;
}

/* The trims of the sets written since the last ones, as a write of g (its
 * names copied to g). @return 0 or -1 (nomem: they wait for a later group). */
static int plan_trims(bm_persist *p, group *g)
{
    if (reserve((void **)&g->wrs, &g->cap_wrs, g->n_wrs + 1, sizeof *g->wrs)) return -1;
    size_t off = g->ixbytes.len;
    if (p->trim_names.len) {
        /* the names are NUL-terminated back to back: append them whole */
        if (grow_append(&g->ixbytes, p->trim_names.data, p->trim_names.len - 1)) return -1;
    }
    g->trim_off = off;
    g->n_trim_names = p->n_trim_names;
    g->trim_set = p->trim_set;
    g->trim_failed = p->trim_failed;
    g->wrs[g->n_wrs++] = (wr){g, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0};
    p->trim_set = p->trim_failed = 0;
    p->trim_names.len = 0;
    p->n_trim_names = 0;
    p->last_trim_us = bm_mono_us();
    return 0;
}

/* A worker's set written: to be trimmed (once, whatever the writes). @return 0 or -1. */
static int trim_later(bm_persist *p, const char *worker)
{
    const char *n = p->trim_names.data;
    for (size_t i = 0; i < p->n_trim_names; i++, n += strlen(n) + 1)
        if (!strcmp(n, worker)) return 0;
    if (grow_append(&p->trim_names, worker, strlen(worker))) return -1;
    p->n_trim_names++;
    return 0;
}

/* ---- acks and checkpoints ------------------------------------------------------------ */

static void send_acks(bm_persist *p, group *g)
{
    for (size_t s = 0; s < p->o.n_streams; s++) {
        size_t n = 0;
        for (size_t a = 0; a <= g->n_acks; a++) {
            if (a < g->n_acks && g->acks[a].stream == s) {
                if (reserve_argv(p, n + 1)) return;
                const ack_item *it = &g->acks[a];
                p->argv[n] = g->ids.data + it->off;
                p->argvlen[n++] = it->len;
                /* acked (a lost XACK leaves it pending): read again, it is acked only */
                if (it->own && it->len < BM_STREAM_ID_MAX &&
                    bm_stream_id_cmp(p->argv[n - 1], p->confirmed[s]) > 0) {
                    memcpy(p->confirmed[s], p->argv[n - 1], it->len);
                    p->confirmed[s][it->len] = '\0';
                }
            }
            if (n && (n == ACK_IDS_PER_COMMAND || a == g->n_acks)) {
                bm_writer_xack(p->w, p->o.streams[s], p->o.group, n, p->argv, p->argvlen,
                               on_acked, p);
                n = 0;
            }
        }
    }
}

/* Acked claims older than claims_keep_us, or past the bound, are let go. */
static void prune_acked_claims(bm_persist *p, int64_t now_us)
{
    int64_t keep = p->o.claims_keep_us > 0 ? p->o.claims_keep_us : CLAIMS_KEEP_US;
    size_t k = 0;
    while (k < p->n_acked_claims && (p->n_acked_claims - k > CLAIMS_ACKED_MAX ||
                                     now_us - p->acked_claims[k].acked_us > keep)) {
        if (now_us - p->acked_claims[k].acked_us <= keep) p->stats.claims_forgotten++;
        k++;
    }
    if (!k) return;
    memmove(p->acked_claims, p->acked_claims + k, (p->n_acked_claims - k) * sizeof *p->claims);
    p->n_acked_claims -= k;
}

/* Remember claimed entries as acked at now_us (an ack can be lost: the
 * XACK refused, or the connection gone before it was read). */
static void remember_acked(bm_persist *p, const claim_item *c, size_t n, int64_t now_us)
{
    if (reserve((void **)&p->acked_claims, &p->cap_acked_claims, p->n_acked_claims + n,
                sizeof *p->acked_claims)) {
        p->stats.claims_forgotten += n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        p->acked_claims[p->n_acked_claims] = c[i];
        p->acked_claims[p->n_acked_claims++].acked_us = now_us;
    }
    prune_acked_claims(p, now_us);
}

/* The claimed entries of groups up to seq are acked: no longer queued, remembered as sent. */
static void forget_claims(bm_persist *p, uint64_t seq)
{
    size_t k = 0;
    while (k < p->n_claims && p->claims[k].seq <= seq)
        k++;
    if (!k) return;
    remember_acked(p, p->claims, k, bm_mono_us());
    memmove(p->claims, p->claims + k, (p->n_claims - k) * sizeof *p->claims);
    p->n_claims -= k;
}

/* Ack and recycle every stored group with seq <= upto, oldest first. */
static void ack_upto(bm_persist *p, uint64_t upto)
{
    while (p->sent && p->sent->seq <= upto && group_stored(p->sent)) {
        group *g = p->sent;
        p->sent = g->next;
        if (!p->sent) p->sent_tail = NULL;
        send_acks(p, g);
        forget_claims(p, g->seq);
        group_recycle(p, g);
    }
    bm_writer_push(p->w);
}

static void finish_done(bm_persist *p, int rc)
{
    if (!p->done) return;
    void (*done)(void *, int) = p->done;
    p->done = NULL;
    done(p->done_arg, rc);
}

/* Redis refuses a value longer than its proto-max-bulk-len with a protocol
 * error, and closes the connection. */
static int too_long(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "invalid bulk length");
}

/*
 * The checkpoint is longer than Redis takes in one value (`refused`: Redis
 * said so, else would_be_refused did): none as long is sent again (each
 * would cost the connection, every interval), and the entries of the next
 * ones are acked once stored, as without checkpoints, rather than never.
 * Not those of the one Redis refused (`ack` 0: Redis is
 * closing the connection, and hiredis must not be given commands in a
 * reply callback then): the next checkpoint acks them, or, at the stop,
 * they stay pending and the next start reads them again.
 */
static void checkpoint_too_long(bm_persist *p, int refused, int ack)
{
    p->stats.checkpoint_failed++;
    p->stats.checkpoint_too_big++;
    p->ask_max_value = 1; /* raised since? */
    if (!p->said_too_long++)
        bm_error("checkpoint not written to %s: its %zu bytes are more than Redis takes in one "
                 "value (proto-max-bulk-len, %s). Checkpoints that long are not sent (counted in "
                 "checkpoints_too_big): entries are acknowledged once stored, and a restart "
                 "restores the last checkpoint written, not this run's state; raise "
                 "proto-max-bulk-len (CONFIG SET proto-max-bulk-len); said once",
                 p->o.state_key, p->ck_buf.size,
                 p->max_value_bytes ? "as CONFIG GET reads it" : "Redis refused it");
    if (refused) { /* by Redis, not by us: the bound until CONFIG GET tells */
        if (!p->too_long_bytes || p->ck_buf.size < p->too_long_bytes)
            p->too_long_bytes = p->ck_buf.size;
        p->too_long_at_us = bm_mono_us();
    }
    if (p->finishing)
        bm_warn("stopping: the last checkpoint (%zu bytes) was not written: longer than Redis's "
                "proto-max-bulk-len",
                p->ck_buf.size);
    else if (ack)
        ack_upto(p, p->ck_seq);
}

static void on_max_value(const redisReply *r, void *arg)
{
    bm_persist *p = arg;
    char *end;
    unsigned long long v;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return; /* CONFIG refused (a managed Redis): the refusals tell */
    errno = 0;
    v = strtoull(r->element[1]->str, &end, 10);
    if (errno || *end || !v) return;
    p->max_value_bytes = (size_t)v;
    p->too_long_bytes = 0; /* what Redis says now is the bound */
}

/* Redis's proto-max-bulk-len, so no checkpoint longer is sent (Redis would
 * drop the connection). */
static void ask_max_value(bm_persist *p)
{
    p->ask_max_value = 0;
    if (p->o.encode && p->o.state_key)
        bm_writer_query(p->w, BM_QUERY_CONFIG_GET, "proto-max-bulk-len", on_max_value, p);
}

/* A checkpoint's end (ok: Redis confirmed it): the stop's next step, or
 * the one asked for meanwhile. */
static void checkpoint_after(bm_persist *p, int ok)
{
    if (p->finishing && ok && (p->sent || (p->open && p->open->n_acks))) {
        /* read while this one waited for its groups: the last one covers them */
        p->barrier = 1;
        try_checkpoint(p);
        return;
    }
    if (p->finishing) {
        finish_done(p, ok ? 0 : -1);
        return;
    }
    if (p->ck_again) {
        p->ck_again = 0;
        bm_persist_checkpoint_soon(p);
    }
}

/*
 * Redis may close the connection before its refusal of a long SET is read
 * (the agent is still sending it): the reply is then lost with the
 * connection. Two such checkpoints in a row, each longer than the least
 * proto-max-bulk-len Redis allows (1 MB), while the bound is not known, are
 * taken as refused for their length: a passing network fault rarely ends
 * two checkpoints running.
 */
static int lost_as_too_long(bm_persist *p, const redisReply *r)
{
    if (r || p->max_value_bytes || p->ck_buf.size <= LEAST_MAX_VALUE_BYTES) return 0;
    return ++p->lost_long_sets >= 2;
}

static void on_checkpoint_set(const redisReply *r, void *arg)
{
    bm_persist *p = arg;
    if (r && r->type == REDIS_REPLY_INTEGER) { /* fenced: a claim since the gate looked */
        p->stats.checkpoint_fenced++;
        p->ck_waiting = 1; /* the same checkpoint, the gate asked again */
        send_checkpoint(p);
        return;
    }
    p->in_checkpoint = 0;
    if (denied(r)) { /* SET denied: ack as without checkpoints rather than never */
        p->stats.checkpoint_failed++;
        ack_upto(p, p->ck_seq);
    } else if (too_long(r) || lost_as_too_long(p, r)) {
        checkpoint_too_long(p, 1, 0);
    } else if (r && r->type != REDIS_REPLY_ERROR) {
        p->lost_long_sets = 0;
        p->stats.checkpoints++;
        p->stats.checkpoint_us = (uint64_t)(bm_mono_us() - p->ck_started_us);
        memcpy(p->confirmed, p->ck_ids, p->o.n_streams * sizeof *p->confirmed);
        p->confirmed_sent_us = p->ck_sent_us;
        ack_upto(p, p->ck_seq);
        if (!count_unstored(p)) { /* a refusal that was the checkpoint's own is over */
            bm_backoff_reset(&p->retry_backoff);
            p->last_error[0] = '\0';
        }
    } else {
        p->stats.checkpoint_failed++;
        note_failure(p, r);
        bm_warn("checkpoint not written to %s: %s; entries stay pending until the next one",
                p->o.state_key, r ? r->str : "the connection to Redis was lost");
    }
    checkpoint_after(p, r && r->type != REDIS_REPLY_ERROR);
}

/* Is the encoded checkpoint longer than Redis takes? Not known (CONFIG
 * refused): as long as one it refused, or shorter within a minute of that
 * refusal (each try costs the connection). */
static int would_be_refused(const bm_persist *p)
{
    if (p->max_value_bytes) return p->ck_buf.size > p->max_value_bytes;
    return p->too_long_bytes && (p->ck_buf.size >= p->too_long_bytes ||
                                 bm_mono_us() - p->too_long_at_us < TOO_LONG_RETRY_US);
}

/*
 * The checkpoint is larger than a start of this configuration decodes (its
 * encoder said so): sent, it would replace the last readable one, and every
 * restart would begin empty. Not sent; as with one too long for Redis, the
 * entries are acked once stored.
 */
static void checkpoint_unreadable(bm_persist *p)
{
    p->stats.checkpoint_failed++;
    p->stats.checkpoint_too_big++;
    if (!p->said_unreadable++)
        bm_error("checkpoint not written to %s: its %zu bytes hold more than a start of this "
                 "configuration reads back (the limits grow with worker_monitoring.max_workers; "
                 "the rest is the commands awaiting an answer, series, baselines). Checkpoints "
                 "that big are not sent (counted in checkpoints_too_big): entries are "
                 "acknowledged once stored, and a restart restores the last checkpoint written, "
                 "not this run's state; said once",
                 p->o.state_key, p->ck_buf.size);
    if (p->finishing)
        bm_warn("stopping: the last checkpoint (%zu bytes) was not written: larger than a start "
                "reads back",
                p->ck_buf.size);
    else
        ack_upto(p, p->ck_seq);
}

static void clear_fence(bm_persist *p)
{
    free(p->fence_mark);
    free(p->fence_seen);
    p->fence_mark = p->fence_seen = NULL;
}

/* KEYS: the checkpoint, the mark; ARGV: the checkpoint, the mark seen, px (0: none).
 * A mark of another type reads as none, as the gate's GET of it did. */
static const char FENCED_SET_SCRIPT[] =
    "local m = redis.pcall('GET', KEYS[2])\n"
    "if type(m) ~= 'string' then m = '' end\n"
    "if m ~= ARGV[2] then return 0 end\n"
    "if ARGV[3] ~= '0' then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end\n"
    "return redis.call('SET', KEYS[1], ARGV[1])\n";

/* The checkpoint's SET behind the gate's fence (consumed). @return as bm_writer_set. */
static int set_fenced(bm_persist *p)
{
    char px[24];
    snprintf(px, sizeof px, "%lld", (long long)(p->o.state_ttl_ms > 0 ? p->o.state_ttl_ms : 0));
    const char *keys[2] = {p->o.state_key, p->fence_mark};
    const char *args[3] = {p->ck_buf.data, p->fence_seen, px};
    size_t lens[3] = {p->ck_buf.size, p->fence_len, strlen(px)};
    int rc = bm_writer_evaln(p->w, BM_WRITE_STATE, FENCED_SET_SCRIPT, 2, keys, 3, args, lens,
                             on_checkpoint_set, p);
    clear_fence(p);
    return rc;
}

/* The encoded checkpoint's SET, once every group it covers is stored. */
static void send_checkpoint(bm_persist *p)
{
    if (!p->ck_waiting) return;
    for (const group *g = p->sent; g && g->seq <= p->ck_seq; g = g->next)
        if (!group_stored(g)) return;
    if (p->gate && !p->gate_passed && !p->ck_unreadable && p->gate(p, p->gate_arg))
        return; /* held: bm_persist_gate_done */
    p->gate_passed = 0;
    p->ck_waiting = 0;
    if (p->ck_unreadable || would_be_refused(p)) clear_fence(p); /* not sent */
    if (p->ck_unreadable) {
        p->in_checkpoint = 0;
        checkpoint_unreadable(p);
        checkpoint_after(p, 0);
        return;
    }
    if (would_be_refused(p)) {
        p->in_checkpoint = 0;
        checkpoint_too_long(p, 0, 1);
        checkpoint_after(p, 0);
        return;
    }
    p->ck_sent_us = bm_mono_us();
    if (p->fence_mark ? set_fenced(p)
                      : bm_writer_set(p->w, BM_WRITE_STATE, p->o.state_key, p->ck_buf.data,
                                      p->ck_buf.size, p->o.state_ttl_ms, on_checkpoint_set, p)) {
        p->in_checkpoint = 0;
        p->stats.checkpoint_failed++;
        if (p->finishing) finish_done(p, -1);
        return;
    }
    bm_writer_push(p->w);
}

/*
 * No read in flight: close the open group, encode the state as of now (the
 * effects of the groups up to ck_seq) and let reads go on into a new group;
 * the SET goes once those groups are stored (send_checkpoint), so reading
 * does not wait for a flush interval's writes. At the finish, and without a
 * checkpoint, every group is stored first.
 */
static void try_checkpoint(bm_persist *p)
{
    if (!p->barrier || p->in_checkpoint) return;
    if (p->reader.reads_in_flight && p->reader.reads_in_flight(p->reader_arg) && !p->finishing)
        return;
    if ((p->open && (p->open->n_wrs || p->open->n_items || p->open->n_acks || p->open->n_pairs ||
                     p->open->n_ix)) ||
        trim_due(p, bm_mono_us()))
        bm_persist_flush(p);
    if (p->finishing || !p->o.encode || !p->o.state_key)
        for (group *g = p->sent; g; g = g->next)
            if (!group_stored(g)) return;
    p->barrier = 0;
    p->ck_seq = p->next_seq;
    p->closed_since_checkpoint = 0;
    if (!p->o.encode || !p->o.state_key) { /* no checkpoint: stored is enough */
        ack_upto(p, p->ck_seq);
        if (p->finishing) finish_done(p, 0);
        goto resume;
    }
    p->ck_started_us = bm_mono_us();
    p->ck_buf.size = 0;
    memcpy(p->ck_ids, p->applied, p->o.n_streams * sizeof *p->ck_ids);
    int encoded = p->o.encode(p->applied, p->o.n_streams, &p->ck_buf, p->o.encode_arg);
    p->ck_unreadable = encoded > 0;
    if (encoded < 0) {
        p->stats.checkpoint_failed++;
        if (p->finishing) finish_done(p, -1);
        goto resume;
    }
    p->stats.checkpoint_bytes = p->ck_buf.size;
    p->in_checkpoint = 1;
    p->ck_waiting = 1;
    send_checkpoint(p);
resume:
    if (p->reader.resume && bm_persist_reads_allowed(p)) p->reader.resume(p->reader_arg);
}

static void on_checkpoint_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_persist *p = arg;
    /* index sets written and no group since to trim them: one of their own */
    if (!p->finishing && trim_due(p, bm_mono_us()) && bm_writer_up(p->w)) bm_persist_flush(p);
    if (p->ask_max_value && bm_writer_up(p->w)) ask_max_value(p);
    if (p->finishing || p->barrier || p->in_checkpoint) return;
    int nothing_new = !p->closed_since_checkpoint && !(p->open && p->open->n_acks);
    if (nothing_new && ++p->idle_ticks < IDLE_CHECKPOINTS) return;
    p->idle_ticks = 0;
    if (!bm_writer_up(p->w)) return;
    p->barrier = 1;
    try_checkpoint(p);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_persist *p = arg;
    if (!bm_writer_up(p->w)) {
        note_failure(p, NULL); /* again later */
        return;
    }
    for (group *g = p->sent; g; g = g->next)
        if (g->failed && send_wrs(p, g, 1)) note_failure(p, NULL);
    bm_writer_push(p->w);
}

static void on_flush_soon(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_persist_batch_end(arg);
}

/* The open group's flush interval passed: written, whatever the batches. */
static void on_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_persist *p = arg;
    if (p->open && !p->finishing && bm_writer_up(p->w)) bm_persist_flush(p);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_checkpoint(arg);
}

/* ---- the public side ---------------------------------------------------------------- */

bm_persist *bm_persist_new(const bm_persist_opts *opts, bm_writer *w, struct event_base *base)
{
    bm_persist *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->o = *opts;
    if (p->o.trace_ttl_s <= 0) p->o.trace_ttl_s = 86400;
    if (!p->o.deadletter_maxlen) p->o.deadletter_maxlen = 100000;
    if (!p->o.max_unstored) p->o.max_unstored = 16;
    p->w = w;
    p->base = base;
    msgpack_sbuffer_init(&p->ck_buf);
    bm_backoff_init(&p->retry_backoff, RETRY_MIN_US, RETRY_MAX_US, (uint64_t)bm_mono_us());
    size_t ns = p->o.n_streams ? p->o.n_streams : 1;
    p->applied = calloc(ns, sizeof *p->applied);
    p->confirmed = calloc(ns, sizeof *p->confirmed);
    p->ck_ids = calloc(ns, sizeof *p->ck_ids);
    if (!p->applied || !p->confirmed || !p->ck_ids) goto fail;
    if (base) {
        p->ev_flush = event_new(base, -1, 0, on_flush_soon, p);
        p->ev_retry = evtimer_new(base, on_retry, p);
        p->ev_checkpoint = event_new(base, -1, EV_PERSIST, on_checkpoint_tick, p);
        p->ev_ready = event_new(base, -1, 0, on_ready, p);
        p->ev_due = evtimer_new(base, on_due, p);
        if (!p->ev_flush || !p->ev_retry || !p->ev_checkpoint || !p->ev_ready || !p->ev_due)
            goto fail;
    }
    return p;
fail:
    bm_persist_free(p);
    return NULL;
}

void bm_persist_free(bm_persist *p)
{
    if (!p) return;
    clear_fence(p);
    for (int i = 0; i < SPARE_SETS; i++)
        group_free_records(&p->spare[i]);
    group *lists[3] = {p->open, p->sent, p->free_groups};
    for (int k = 0; k < 3; k++)
        for (group *g = lists[k]; g;) {
            group *next = k == 0 ? NULL : g->next;
            group_free(g);
            g = next;
        }
    if (p->ev_flush) event_free(p->ev_flush);
    if (p->ev_retry) event_free(p->ev_retry);
    if (p->ev_checkpoint) event_free(p->ev_checkpoint);
    if (p->ev_ready) event_free(p->ev_ready);
    if (p->ev_due) event_free(p->ev_due);
    msgpack_sbuffer_destroy(&p->ck_buf);
    free(p->applied);
    free(p->confirmed);
    free(p->claims);
    free(p->acked_claims);
    free(p->ck_ids);
    free(p->argv);
    free(p->argvlen);
    free(p->trim_names.data);
    free(p);
}

void bm_persist_set_reader(bm_persist *p, const bm_persist_reader *r, void *arg)
{
    p->reader = *r;
    p->reader_arg = arg;
}

int bm_persist_start(bm_persist *p)
{
    if (p->started) return 0;
    if (!p->ev_checkpoint) return -1;
    int64_t every = p->o.checkpoint_interval_us > 0 ? p->o.checkpoint_interval_us : 1000000;
    struct timeval tv = bm_tv_from_us(every);
    if (evtimer_add(p->ev_checkpoint, &tv)) return -1;
    p->started = 1;
    p->confirmed_sent_us = bm_mono_us(); /* judged from now by the other agents */
    ask_max_value(p);
    /* one checkpoint at once, not an interval later: its time tells the other
     * agents' reclaim that this consumer is alive, so they do not claim the
     * pending entries it reads again now (reclaim.c) */
    if (p->o.encode && p->o.state_key && bm_writer_up(p->w)) {
        p->barrier = 1;
        try_checkpoint(p);
    }
    return 0;
}

void bm_persist_set_observer(bm_persist *p, bm_persist_observe_cb cb, void *arg)
{
    p->observe = cb;
    p->observe_arg = arg;
}

static int record(bm_persist *p, const bm_event *ev, int64_t duration_us, int first, int again)
{
    if (p->observe && p->observe(ev, duration_us, again, p->observe_arg)) {
        p->stats.records_skipped++;
        return 0; /* the observer asked for it not to be written (the finisher never does) */
    }
    group *g = open_group(p);
    if (!g || reserve((void **)&g->items, &g->cap_items, g->n_items + 1, sizeof(rec_item)))
        return -1;
    rec_item *it = &g->items[g->n_items];
    it->key_off = g->keys.len;
    size_t plen = strlen(p->o.trace_prefix), tlen = strlen(ev->tx);
    /* key = prefix + tx, written in two pieces then NUL */
    if (grow_append(&g->keys, p->o.trace_prefix, plen)) return -1;
    g->keys.len--; /* drop the NUL, append tx */
    if (grow_append(&g->keys, ev->tx, tlen)) return -1;
    it->key_len = plen + tlen;
    it->rec_off = g->recs.size;
    if (bm_event_encode_msgpack(ev, duration_us, &g->recs)) return -1;
    it->rec_len = g->recs.size - it->rec_off;
    it->seq = g->n_items;
    it->first = first;
    g->n_items++;
    return 0;
}

int bm_persist_record(bm_persist *p, const bm_event *ev, int64_t duration_us, int first)
{
    return record(p, ev, duration_us, first, 0);
}

int bm_persist_record_again(bm_persist *p, const bm_event *ev)
{
    return record(p, ev, ev->duration_us, 1, 1);
}

int bm_persist_index(bm_persist *p, const trace_summary *s,
                     const char (*more)[TRACE_INDEX_TEXT_MAX + 1], size_t n_more,
                     trace_index_mark *mark)
{
    if (!p->o.index_key || !*p->o.index_key || !s->tx[0]) return 0;
    trace_index_mark before = *mark;
    size_t w_from = 0;
    unsigned writes = trace_index_plan(mark, s, &w_from);
    if (n_more && !(writes & TRACE_INDEX_W_WORKERS)) {
        writes |= TRACE_INDEX_W_WORKERS; /* the mark knows only the summary's */
        w_from = s->n_workers;
    }
    if (!writes) return 0; /* the index has it all */
    group *g = open_group(p);
    if (!g || reserve((void **)&g->ix, &g->cap_ix, g->n_ix + 1, sizeof *g->ix)) goto nomem;
    ix_item *it = &g->ix[g->n_ix];
    memset(it, 0, sizeof *it);
    it->tx_off = g->ixbytes.len;
    it->tx_len = strlen(s->tx);
    int bad = grow_append(&g->ixbytes, s->tx, it->tx_len);
    it->w_off = g->ixbytes.len;
    size_t n_workers = s->n_workers + n_more;
    for (size_t i = 0; i < n_workers; i++) {
        const char *w = i < s->n_workers ? s->workers[i] : more[i - s->n_workers];
        bad |= grow_append(&g->ixbytes, w, strlen(w));
        if ((writes & TRACE_INDEX_W_WORKERS) && i >= w_from) bad |= trim_later(p, w);
    }
    if (bad) goto nomem;
    it->n_workers = n_workers;
    it->score_ms = s->start_us / 1000;
    it->writes = writes;
    it->w_from = w_from;
    it->seq = g->n_ix++;
    p->trim_set |= (writes & TRACE_INDEX_W_SET) != 0;
    p->trim_failed |= (writes & TRACE_INDEX_W_FAILED) != 0;
    return 0;
nomem:
    *mark = before; /* not queued: still lacking */
    return -1;
}

static int queue_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len, int own,
                     int unapplied)
{
    group *g = open_group(p);
    if (!g || id_len >= BM_STREAM_ID_MAX ||
        reserve((void **)&g->acks, &g->cap_acks, g->n_acks + 1, sizeof(ack_item)))
        return -1;
    if (!own) {
        if (reserve((void **)&p->claims, &p->cap_claims, p->n_claims + 1, sizeof *p->claims))
            return -1;
        claim_item *c = &p->claims[p->n_claims];
        c->stream = stream_idx;
        c->seq = g->seq;
        c->acked_us = 0;
        memcpy(c->id, id, id_len);
        c->id[id_len] = '\0';
    }
    ack_item *a = &g->acks[g->n_acks];
    a->stream = stream_idx;
    a->off = g->ids.len;
    a->len = id_len;
    a->own = (unsigned char)own;
    a->unapplied = (unsigned char)unapplied;
    if (grow_append(&g->ids, id, id_len)) return -1;
    g->n_acks++;
    p->n_claims += !own;
    if (own && stream_idx < p->o.n_streams && bm_stream_id_cmp(id, p->applied[stream_idx]) > 0)
        memcpy(p->applied[stream_idx], id, id_len + 1);
    return 0;
}

int bm_persist_ack(bm_persist *p, size_t stream_idx, const char *id, size_t id_len)
{
    return queue_ack(p, stream_idx, id, id_len, 1, 0);
}

int bm_persist_ack_claimed(bm_persist *p, size_t stream_idx, const char *id, size_t id_len)
{
    return queue_ack(p, stream_idx, id, id_len, 0, 0);
}

int bm_persist_ack_unapplied(bm_persist *p, size_t stream_idx, const char *id, size_t id_len,
                             int claimed)
{
    return queue_ack(p, stream_idx, id, id_len, !claimed, 1);
}

/* A dead-letter copy's pairs appended to g's (reason, stream, id, error,
 * group, what was cut, then each field as "f.<name>"). @return the index
 * of its first pair and *n_pairs their count, or -1 (out of memory: g's
 * pairs as they were). */
static long add_deadletter_pairs(bm_persist *p, group *g, const char *stream, const char *id,
                                 const char *reason, const char *detail, size_t n,
                                 const char *const *fields, const size_t *field_lens,
                                 const char *const *values, const size_t *value_lens,
                                 size_t *n_pairs)
{
    if (reserve((void **)&g->pairs, &g->cap_pairs,
                g->n_pairs + (n > DEADLETTER_FIELDS_MAX ? DEADLETTER_FIELDS_MAX : n) + 6,
                sizeof(dl_pair)))
        return -1;
    size_t first = g->n_pairs;
    int bad = 0;
#define PAIR(a, al, b, bl)                                                                         \
    do {                                                                                           \
        dl_pair *d = &g->pairs[g->n_pairs];                                                        \
        d->f_off = g->dlbytes.len, d->f_len = (al);                                                \
        bad |= grow_append(&g->dlbytes, (a), (al));                                                \
        d->v_off = g->dlbytes.len, d->v_len = (bl);                                                \
        bad |= grow_append(&g->dlbytes, (b), (bl));                                                \
        g->n_pairs++;                                                                              \
    } while (0)
    PAIR("reason", 6, reason, strlen(reason));
    PAIR("stream", 6, stream, strlen(stream));
    PAIR("id", 2, id, strlen(id));
    PAIR("error", 5, detail, strlen(detail));
    /* the consumer group that refused it: two groups reading one stream both copy
     * an entry neither can use (a replay puts back the f. fields only) */
    if (p->o.group) PAIR("group", 5, p->o.group, strlen(p->o.group));
    /* what did not fit is said, so no one takes the copy for the whole entry
     * (`busmon deadletters replay` refuses such a copy) */
    size_t values_cut = 0, names_cut = 0,
           copied = n > DEADLETTER_FIELDS_MAX ? DEADLETTER_FIELDS_MAX : n;
    for (size_t i = 0; i < copied; i++) {
        values_cut += value_lens[i] > DEADLETTER_VALUE_MAX;
        names_cut += field_lens[i] > DEADLETTER_NAME_MAX;
    }
    if (copied < n || values_cut || names_cut) {
        char cut[200];
        int k = snprintf(cut, sizeof cut, "%zu of %zu fields copied", copied, n);
        if (values_cut)
            k += snprintf(cut + k, sizeof cut - (size_t)k, "; %zu value(s) cut to %d bytes",
                          values_cut, DEADLETTER_VALUE_MAX);
        if (names_cut)
            snprintf(cut + k, sizeof cut - (size_t)k, "; %zu field name(s) cut to %d bytes",
                     names_cut, DEADLETTER_NAME_MAX);
        PAIR("cut", 3, cut, strlen(cut));
    }
    n = copied;
    for (size_t i = 0; i < n; i++) {
        char name[260];
        size_t nl = field_lens[i] > DEADLETTER_NAME_MAX ? DEADLETTER_NAME_MAX : field_lens[i];
        memcpy(name, "f.", 2);
        memcpy(name + 2, fields[i], nl);
        PAIR(name, nl + 2, values[i],
             value_lens[i] > DEADLETTER_VALUE_MAX ? DEADLETTER_VALUE_MAX : value_lens[i]);
    }
#undef PAIR
    if (bad) {
        g->n_pairs = first;
        return -1;
    }
    *n_pairs = g->n_pairs - first;
    return (long)first;
}

void bm_persist_deadletter(bm_persist *p, const char *stream, const char *id, const char *reason,
                           const char *detail, size_t n, const char *const *fields,
                           const size_t *field_lens, const char *const *values,
                           const size_t *value_lens)
{
    group *g = open_group(p);
    size_t n_pairs = 0;
    long first = !g || reserve((void **)&g->wrs, &g->cap_wrs, g->n_wrs + 1, sizeof *g->wrs)
                     ? -1
                     : add_deadletter_pairs(p, g, stream, id, reason, detail, n, fields, field_lens,
                                            values, value_lens, &n_pairs);
    if (first < 0) {
        p->stats.deadletter_failed++;
        return;
    }
    g->wrs[g->n_wrs++] = (wr){g, (size_t)first, n_pairs, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    p->stats.deadletter++;
}

/* s[0..len) copied to *at with a NUL, *at moved past it. @return the copy. */
static const char *copy_out(char **at, const char *s, size_t len)
{
    char *d = *at;
    memcpy(d, s, len);
    d[len] = '\0';
    *at += len + 1;
    return d;
}

/* Hand-off x, whose XADD was refused because the owner's hand-off key
 * holds another type (WRONGTYPE) while its entry was acked all the same
 * (by the same EXEC's XACK, or by the guard script, which acks such an
 * entry: handoffs_replied), made a write of its dead-letter copy in place
 * (reason handoff_wrongtype, the key named in `error`, the entry's fields; a replay
 * puts it back on the stream it was read from). A key of another type
 * does not mend itself: sent again, the hand-off would live only in this
 * agent's memory and hold every checkpoint back as long. Counted in
 * deadletter and handoffs_deadlettered, once (x is no longer a hand-off);
 * the first one logged. @return 0, or -1 (out of memory: x left as it was,
 * a hand-off sent again). */
static int handoff_to_deadletter(bm_persist *p, group *g, wr *x, const char *err)
{
    /* the hand-off's pairs: the key, the entry's id, then its fields; copied
     * out first, as the copy's pairs are appended to the same buffers */
    size_t n = x->n - 2, bytes = 0;
    for (size_t i = 0; i < x->n; i++)
        bytes += g->pairs[x->first + i].f_len + g->pairs[x->first + i].v_len + 2;
    char *buf = malloc(bytes);
    const char **text = malloc((2 * n + 2) * sizeof *text);
    size_t *lens = malloc((2 * n + 2) * sizeof *lens);
    int rc = -1;
    if (buf && text && lens) {
        /* text: the key, the id, the n names, the n values */
        char *at = buf;
        for (size_t i = 0; i < x->n; i++) {
            const dl_pair *d = &g->pairs[x->first + i];
            const char *name = g->dlbytes.data + d->f_off, *value = g->dlbytes.data + d->v_off;
            if (i != 1) text[i] = copy_out(&at, name, lens[i] = d->f_len);
            if (i == 1) text[1] = copy_out(&at, value, lens[1] = d->v_len);
            if (i >= 2) text[n + i] = copy_out(&at, value, lens[n + i] = d->v_len);
        }
        const char *key = text[0], *id = text[1];
        char detail[512];
        snprintf(detail, sizeof detail, "%.200s holds another type: %.250s", key, err);
        size_t n_pairs = 0;
        long first =
            add_deadletter_pairs(p, g, p->o.streams[x->from - 1], id, "handoff_wrongtype", detail,
                                 n, text + 2, lens + 2, text + 2 + n, lens + 2 + n, &n_pairs);
        if (first >= 0) {
            if (!p->said_handoff_dl)
                bm_warn("hand-off to %s refused (%.160s): its entry %s, acked all the same, "
                        "dead-lettered as handoff_wrongtype to %s (counted in "
                        "busmon_handoffs_deadlettered_total; said once)",
                        key, err, id, p->o.deadletter_stream);
            p->said_handoff_dl = 1;
            x->is_dl = 1, x->first = (size_t)first, x->n = n_pairs, x->lead = 0;
            p->stats.deadletter++;
            p->stats.handoffs_deadlettered++;
            rc = 0;
        }
    }
    free(buf);
    free(text);
    free(lens);
    return rc;
}

int bm_persist_forward(bm_persist *p, size_t from, const char *stream, const char *entry_id,
                       size_t n, const char *const *fields, const size_t *field_lens,
                       const char *const *values, const size_t *value_lens)
{
    group *g = open_group(p);
    /* every field: the owner decodes the entry from its hand-off (the entry's
     * size, and so its fields, are bounded by streams.max_entry_bytes) */
    if (!g || reserve((void **)&g->pairs, &g->cap_pairs, g->n_pairs + n + 2, sizeof(dl_pair)) ||
        reserve((void **)&g->wrs, &g->cap_wrs, g->n_wrs + 1, sizeof *g->wrs))
        return -1;
    size_t first = g->n_pairs;
    int bad = 0;
    dl_pair *d = &g->pairs[g->n_pairs++];
    d->f_off = g->dlbytes.len, d->f_len = strlen(stream);
    bad |= grow_append(&g->dlbytes, stream, d->f_len);
    d->v_off = g->dlbytes.len, d->v_len = 0;
    bad |= grow_append(&g->dlbytes, "", 0);
    d = &g->pairs[g->n_pairs++];
    d->f_off = g->dlbytes.len, d->f_len = strlen(BM_HANDOFF_ID_FIELD);
    bad |= grow_append(&g->dlbytes, BM_HANDOFF_ID_FIELD, d->f_len);
    d->v_off = g->dlbytes.len, d->v_len = strlen(entry_id);
    bad |= grow_append(&g->dlbytes, entry_id, d->v_len);
    for (size_t i = 0; i < n; i++) {
        d = &g->pairs[g->n_pairs++];
        d->f_off = g->dlbytes.len, d->f_len = field_lens[i];
        bad |= grow_append(&g->dlbytes, fields[i], field_lens[i]);
        d->v_off = g->dlbytes.len, d->v_len = value_lens[i];
        bad |= grow_append(&g->dlbytes, values[i], value_lens[i]);
    }
    if (bad) {
        g->n_pairs = first;
        return -1;
    }
    g->wrs[g->n_wrs++] =
        (wr){g, first, g->n_pairs - first, 0, 0, 2, 0, 0, from + 1, 0, 0, bm_mono_us()};
    g->has_handoff = 1;
    p->stats.forwarded++;
    return 0;
}

void bm_persist_set_before_close(bm_persist *p, void (*fn)(void *), void *arg)
{
    p->before_close = fn;
    p->before_close_arg = arg;
}

int bm_persist_flush(bm_persist *p)
{
    if (p->before_close) p->before_close(p->before_close_arg); /* may add to the open group */
    group *g = p->open;
    int trims = trim_due(p, bm_mono_us());
    if (!trims && (!g || (!g->n_items && !g->n_wrs && !g->n_acks && !g->n_ix))) return 0;
    if (!g && !(g = open_group(p))) return -1;
    p->open = NULL;
    size_t n_dl = g->n_wrs; /* dead-letters so far; records are planned after them */
    if (plan_records(g) || plan_index(g)) {
        /* out of memory: the records cannot be grouped; the entries are not
         * acked (this group is dropped) and are read again */
        g->n_acks = 0;
        g->n_wrs = n_dl;
    } else if (trims) {
        plan_trims(p, g); /* out of memory: by a later group */
    }
    if (p->sent_tail)
        p->sent_tail->next = g;
    else
        p->sent = g;
    p->sent_tail = g;
    p->stats.batches++;
    p->closed_since_checkpoint++;
    int failed = send_wrs(p, g, 0) != 0;
    if (failed) note_failure(p, NULL);
    bm_writer_push(p->w);
    if (group_stored(g)) { /* nothing to write: stored already */
        group_drop_records(g);
        if (p->barrier)
            event_active(p->ev_ready, EV_TIMEOUT, 0);
        else if (!p->o.encode || !p->o.state_key)
            ack_upto(p, g->seq);
    }
    return failed ? -1 : 0;
}

int bm_persist_batch_end(bm_persist *p)
{
    group *g = p->open;
    if (g && p->o.flush_interval_us > 0 && !g->has_handoff && !p->finishing &&
        bm_mono_us() - g->opened_us < p->o.flush_interval_us && group_bytes(g) < GROUP_BYTES_MAX &&
        g->n_acks < GROUP_ACKS_MAX)
        return 0; /* takes the next batch too */
    return bm_persist_flush(p);
}

void bm_persist_flush_soon(bm_persist *p)
{
    if (p->ev_flush && !event_pending(p->ev_flush, EV_TIMEOUT, NULL))
        event_active(p->ev_flush, EV_TIMEOUT, 0);
}

int bm_persist_reads_allowed(bm_persist *p)
{
    if (p->barrier || p->finishing) return 0;
    return count_unstored(p) <= p->o.max_unstored;
}

void bm_persist_poke(bm_persist *p)
{
    if (p->barrier) try_checkpoint(p);
}

bm_persist_seen bm_persist_seen_before(bm_persist *p, size_t stream_idx, const char *id)
{
    if (stream_idx >= p->o.n_streams) return BM_SEEN_NOT;
    if (p->confirmed[stream_idx][0] && bm_stream_id_cmp(id, p->confirmed[stream_idx]) <= 0) {
        p->stats.covered++;
        return BM_SEEN_COVERED;
    }
    if (p->applied[stream_idx][0] && bm_stream_id_cmp(id, p->applied[stream_idx]) <= 0) {
        p->stats.already_queued++;
        return BM_SEEN_QUEUED;
    }
    return BM_SEEN_NOT;
}

int bm_persist_claim_queued(const bm_persist *p, size_t stream_idx, const char *id)
{
    for (size_t i = 0; i < p->n_claims; i++)
        if (p->claims[i].stream == stream_idx && !strcmp(p->claims[i].id, id)) return 1;
    return 0;
}

int64_t bm_persist_checkpoint_interval_us(const bm_persist *p)
{
    return p->o.checkpoint_interval_us;
}

size_t bm_persist_claims_queued(const bm_persist *p)
{
    return p->n_claims;
}

int bm_persist_claim_acked(bm_persist *p, size_t stream_idx, const char *id)
{
    prune_acked_claims(p, bm_mono_us());
    for (size_t i = 0; i < p->n_acked_claims; i++) {
        if (p->acked_claims[i].stream != stream_idx || strcmp(p->acked_claims[i].id, id)) continue;
        if (queue_ack(p, stream_idx, id, strlen(id), 0, 1)) return 1; /* next round */
        memmove(p->acked_claims + i, p->acked_claims + i + 1,
                (p->n_acked_claims - i - 1) * sizeof *p->acked_claims);
        p->n_acked_claims--;
        p->stats.claims_acked_again++;
        return 1;
    }
    return 0;
}

int bm_persist_claims_fill(const bm_persist *p, bm_checkpoint *c)
{
    size_t n = p->n_claims + p->n_acked_claims;
    c->claimed = NULL;
    c->n_claimed = 0;
    c->n_claimed_streams = 0;
    if (!n) return 0;
    if (n > BM_CHECKPOINT_CLAIMED_MAX) n = BM_CHECKPOINT_CLAIMED_MAX; /* the queued ones first */
    if (!(c->claimed = malloc(n * sizeof *c->claimed))) return -1;
    size_t ns =
        p->o.n_streams < BM_CHECKPOINT_STREAMS_MAX ? p->o.n_streams : BM_CHECKPOINT_STREAMS_MAX;
    for (size_t s = 0; s < ns; s++)
        snprintf(c->claimed_streams[s], sizeof c->claimed_streams[s], "%s", p->o.streams[s]);
    c->n_claimed_streams = ns;
    for (size_t i = 0; i < p->n_claims + p->n_acked_claims && c->n_claimed < n; i++) {
        const claim_item *it = i < p->n_claims ? &p->claims[i] : &p->acked_claims[i - p->n_claims];
        if (it->stream >= ns) continue;
        c->claimed[c->n_claimed].stream = (unsigned)it->stream;
        snprintf(c->claimed[c->n_claimed++].id, sizeof c->claimed[0].id, "%s", it->id);
    }
    return 0;
}

void bm_persist_restore_claims(bm_persist *p, const bm_checkpoint *c)
{
    int64_t now = bm_mono_us();
    for (size_t i = 0; i < c->n_claimed; i++) {
        const char *name = c->claimed_streams[c->claimed[i].stream];
        for (size_t s = 0; s < p->o.n_streams; s++) {
            if (strcmp(p->o.streams[s], name)) continue;
            claim_item it = {.stream = s};
            snprintf(it.id, sizeof it.id, "%s", c->claimed[i].id);
            remember_acked(p, &it, 1, now);
            break;
        }
    }
}

const char *bm_persist_applied_id(const bm_persist *p, size_t stream_idx)
{
    return stream_idx < p->o.n_streams ? p->applied[stream_idx] : "";
}

void bm_persist_restore_ids(bm_persist *p, const char (*last_ids)[BM_STREAM_ID_MAX], size_t n)
{
    for (size_t i = 0; i < n && i < p->o.n_streams; i++) {
        memcpy(p->confirmed[i], last_ids[i], BM_STREAM_ID_MAX);
        p->confirmed[i][BM_STREAM_ID_MAX - 1] = '\0';
        memcpy(p->applied[i], p->confirmed[i], BM_STREAM_ID_MAX);
    }
}

void bm_persist_finish(bm_persist *p, void (*done)(void *arg, int rc), void *arg)
{
    if (p->finishing) return;
    p->finishing = 1;
    p->done = done;
    p->done_arg = arg;
    evtimer_del(p->ev_checkpoint);
    if (!p->started) { /* nothing read yet, and no checkpoint may replace the unread one */
        finish_done(p, 0);
        return;
    }
    if (!bm_writer_up(p->w)) {
        finish_done(p, -1);
        return;
    }
    if (p->in_checkpoint) return; /* its reply finishes */
    p->barrier = 1;
    try_checkpoint(p);
}

void bm_persist_checkpoint_soon(bm_persist *p)
{
    if (p->in_checkpoint && !p->finishing) {
        /* the one under way was encoded before what is asked for (its SET
         * waits for its groups): another follows it at once */
        p->ck_again = 1;
        return;
    }
    if (!p->started || p->finishing || p->barrier || p->in_checkpoint || !bm_writer_up(p->w) ||
        !p->o.encode || !p->o.state_key)
        return;
    p->idle_ticks = 0;
    p->barrier = 1;
    event_active(p->ev_ready, EV_TIMEOUT, 0);
}

int bm_persist_backlogged(const bm_persist *p)
{
    if (!p->last_error[0]) return 0;
    size_t n = 0, bytes = p->open ? group_bytes(p->open) : 0;
    for (const group *g = p->sent; g; g = g->next)
        if (!group_stored(g)) n++, bytes += group_bytes(g);
    return n > p->o.max_unstored || bytes > p->o.max_unstored * (size_t)GROUP_BYTES_MAX;
}

int bm_persist_failing(const bm_persist *p, char *buf, size_t n)
{
    if (!p->last_error[0]) return 0;
    snprintf(buf, n, "%s", p->last_error);
    return 1;
}

void bm_persist_get_stats(const bm_persist *p, bm_persist_stats *out)
{
    *out = p->stats;
    out->unstored = count_unstored(p);
    out->unacked = count_unacked(p);
}

int64_t bm_persist_last_ack_us(const bm_persist *p)
{
    return p->last_ack_us;
}

void bm_persist_set_gate(bm_persist *p, bm_persist_gate_cb cb, void *arg)
{
    p->gate = cb;
    p->gate_arg = arg;
}

void bm_persist_gate_done_fenced(bm_persist *p, const char *mark, const char *seen, size_t len)
{
    if (!p->ck_waiting) return;
    clear_fence(p);
    if ((p->fence_mark = strdup(mark)) && (p->fence_seen = malloc(len + 1))) {
        memcpy(p->fence_seen, seen, len);
        p->fence_seen[len] = '\0';
        p->fence_len = len;
    } else {
        clear_fence(p); /* out of memory: as a refused SET, tried again next interval */
        bm_persist_gate_done(p, 0);
        return;
    }
    bm_persist_gate_done(p, 1);
}

void bm_persist_gate_done(bm_persist *p, int ok)
{
    if (!p->ck_waiting) return;
    if (ok) {
        p->gate_passed = 1;
        send_checkpoint(p);
        return;
    }
    clear_fence(p);
    p->ck_waiting = 0; /* as a SET refused: the next checkpoint covers its entries */
    p->in_checkpoint = 0;
    p->stats.checkpoint_failed++;
    checkpoint_after(p, 0);
}

void bm_persist_set_handoff_guard(bm_persist *p, int64_t guard_us, int64_t idle_us,
                                  const char *consumer, const char *claimer)
{
    p->guard_us = guard_us;
    p->guard_idle_us = idle_us;
    snprintf(p->guard_consumer, sizeof p->guard_consumer, "%s", consumer);
    snprintf(p->guard_claimer, sizeof p->guard_claimer, "%s", claimer);
}

int64_t bm_persist_confirmed_sent_us(const bm_persist *p)
{
    return p->confirmed_sent_us;
}

static void applied_in(const bm_persist *p, const group *g, bm_persist_applied_cb cb, void *arg)
{
    for (size_t i = 0; i < g->n_acks; i++) {
        const ack_item *a = &g->acks[i];
        char id[BM_STREAM_ID_MAX];
        if (a->unapplied || a->stream >= p->o.n_streams || a->len >= sizeof id) continue;
        memcpy(id, g->ids.data + a->off, a->len);
        id[a->len] = '\0';
        if (a->own && p->confirmed[a->stream][0] &&
            bm_stream_id_cmp(id, p->confirmed[a->stream]) <= 0)
            continue; /* the confirmed checkpoint holds it */
        cb(a->stream, id, !a->own, arg);
    }
}

void bm_persist_applied_since(const bm_persist *p, bm_persist_applied_cb cb, void *arg)
{
    for (const group *g = p->sent; g; g = g->next)
        applied_in(p, g, cb, arg);
    if (p->open) applied_in(p, p->open, cb, arg);
}
