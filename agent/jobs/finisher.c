/*
 * finisher.c - transactions judged over once: tail sampling of the stored
 * trace and OTLP spans (finisher.h has the picture).
 *
 * Each transaction followed is one entry, in a hash table by id and in one
 * of three lists, each ordered by the time it entered it:
 *
 *   open     (by last activity) ──settle passed, status final──▶ finish ──▶ done
 *      │                         └─settle passed, running───▶ idle
 *      ◀──────── any new event ───────────────────────────────────┘
 *      ◀──────── a new event of a sampled-out one (decided again) ── done
 *   idle     (by last activity) ──idle_flush passed──▶ finish ──▶ done
 *   done     (by finish time)   ──the table full, or forget_us and its
 *                                  trace gone from memory──▶ forgotten
 *
 * So a tick looks only at list heads: bounded work per wake-up.
 */
#include "agent/jobs/finisher.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/writer.h"
#include "agent/outputs/outputs.h"
#include "lib/otlp.h"
#include "lib/trace_store.h"
#include "lib/worker_stats.h"

#define TICK_US        (250 * 1000LL)
#define FINISH_PER_TICK 5000 /* bounded work per wake-up */
#define P99_CACHE      256  /* workers whose p99 is remembered for a second */
#define P99_TTL_US     (1000 * 1000LL)
#define P99_MIN_EXECUTIONS 20 /* fewer in the 5 min window: no p99 to compare with */

enum { LIST_OPEN = 0, LIST_IDLE, LIST_DONE, LIST__COUNT };
enum { DONE_KEPT = 1, DONE_DROPPED = 2 };

typedef struct entry entry;
struct entry {
    entry *chain;       /* hash chain */
    entry *prev, *next; /* in its list */
    int list;
    int done;           /* 0 open, DONE_KEPT, DONE_DROPPED */
    uint8_t exported;   /* its spans went out: never again */
    uint8_t reopened;   /* sampled out, then a new event: its stored trace is the marker */
    int64_t since_us;   /* last activity (open, idle), finish time or last forget check (done) */
    uint64_t hash;
    char tx[];
};

typedef struct {
    entry *head, *tail;
    size_t n;
} entry_list;

typedef struct {
    char worker[BM_NAME_MAX];
    double p99_us;
    int64_t at_us;
} p99_slot;

struct bm_finisher {
    bm_finisher_opts o;
    char *trace_prefix;
    bm_loop *loop;
    struct event *tick;
    const trace_store *store;
    const bm_monitor *mon; /* its workers read at each use (swapped on restore) */
    bm_writer *w;
    bm_outputs *outputs;
    entry **table;
    size_t n_buckets; /* a power of two */
    entry_list lists[LIST__COUNT];
    bm_finisher_stats stats;
    bm_otlp_buf spans;
    p99_slot p99[P99_CACHE];
    int64_t now_us; /* of the decision being made */
    int warned_markers;
    int warned_restores;
    bm_persist *persist;
    int flushed; /* the open group of records went out this tick (before a marker) */
};

/* ---- the table --------------------------------------------------------------- */

static uint64_t hash_tx(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static entry *find(const bm_finisher *f, const char *tx, uint64_t h)
{
    for (entry *e = f->table[h & (f->n_buckets - 1)]; e; e = e->chain)
        if (e->hash == h && !strcmp(e->tx, tx)) return e;
    return NULL;
}

static void list_push(bm_finisher *f, entry *e, int list)
{
    entry_list *l = &f->lists[list];
    e->list = list;
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

static void list_remove(bm_finisher *f, entry *e)
{
    entry_list *l = &f->lists[e->list];
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->n--;
}

static void forget(bm_finisher *f, entry *e)
{
    list_remove(f, e);
    entry **pp = &f->table[e->hash & (f->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    free(e);
}

/* ---- the p99 rule -------------------------------------------------------------- */

static double worker_p99(const char *worker, void *arg)
{
    bm_finisher *f = arg;
    if (!f->mon) return 0;
    p99_slot *s = &f->p99[hash_tx(worker) % P99_CACHE];
    if (strcmp(s->worker, worker) || f->now_us - s->at_us > P99_TTL_US) {
        bm_worker_snapshot snap;
        snprintf(s->worker, sizeof s->worker, "%s", worker);
        s->at_us = f->now_us;
        s->p99_us = 0;
        if (!worker_stats_snapshot_one(f->mon->workers, worker, f->now_us, &snap) &&
            snap.win[1].executions >= P99_MIN_EXECUTIONS)
            s->p99_us = snap.win[1].p99_us;
    }
    return s->p99_us;
}

/* ---- finishing ------------------------------------------------------------------ */

typedef struct {
    const char *data;
    size_t len;
    uint32_t n;
} spans_body;

static int build_spans(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg)
{
    (void)sink;
    (void)topic;
    const spans_body *b = arg;
    out->data = b->data;
    out->len = b->len;
    out->n_items = b->n;
    out->content_type = "application/json";
    return 0;
}

/*
 * Replace t's stored trace with n records: DEL, RPUSH, EXPIRE (one
 * connection, in order). Records of it may wait in persist's open group
 * (traces.flush_interval): out first, once a tick, so these replace them,
 * not the reverse. @return 0, or -1 (Redis not connected).
 */
static int replace_stored(bm_finisher *f, const trace *t, size_t n, const char *const *v,
                          const size_t *vl)
{
    char key[600];
    int kl = snprintf(key, sizeof key, "%s%s", f->trace_prefix, trace_tx(t));
    if (kl < 0 || (size_t)kl >= sizeof key) return -1;
    if (!f->flushed) bm_persist_flush(f->persist);
    f->flushed = 1;
    int rc = bm_writer_del(f->w, BM_WRITE_TRACE, key, NULL, NULL);
    if (!rc)
        rc = bm_writer_rpush_expire(f->w, BM_WRITE_TRACE, key, (size_t)kl, n, v, vl,
                                    f->o.trace_ttl_s, NULL, NULL);
    return rc;
}

/* Replace the stored trace with the marker. */
static void write_marker(bm_finisher *f, const trace *t)
{
    bm_sampling_marker m = {f->o.sampling.rate, trace_count(t), f->now_us};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = bm_sampling_marker_encode(&m, &sb);
    const char *v[1] = {sb.data};
    size_t vl[1] = {sb.size};
    if (!rc) rc = replace_stored(f, t, 1, v, vl);
    msgpack_sbuffer_destroy(&sb);
    if (rc) {
        f->stats.markers_failed++;
        if (!f->warned_markers++)
            bm_warn("sampling: the stored trace of a sampled-out transaction could not be "
                    "replaced (Redis not connected); it stays whole (counted in "
                    "sampling_markers_failed; not logged again)");
        return;
    }
    f->stats.markers++;
}

static void restore_failed(bm_finisher *f)
{
    f->stats.restores_failed++;
    if (!f->warned_restores++)
        bm_warn("sampling: a sampled-out transaction kept when decided again could not have its "
                "stored trace written back (Redis not connected or refusing, or out of memory); it "
                "stays the marker (counted in sampling_restores_failed; not logged again)");
}

/*
 * A sampled-out transaction kept when decided again (a later step failed):
 * its stored trace, the marker and the records written after it, replaced
 * by the records of its trace in memory.
 */
static void restore_trace(bm_finisher *f, const trace *t)
{
    size_t n = trace_count(t);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t *off = malloc((n + 1) * sizeof *off);
    const char **v = malloc((n ? n : 1) * sizeof *v);
    size_t *vl = malloc((n ? n : 1) * sizeof *vl);
    int rc = !off || !v || !vl || !n;
    trace_event view;
    for (size_t i = 0; !rc && i < n; i++) {
        const trace_event *te = trace_get(t, i, &view);
        off[i] = sb.size;
        rc = bm_event_encode_msgpack(&te->ev, te->duration_us, &sb);
    }
    if (!rc) {
        off[n] = sb.size;
        for (size_t i = 0; i < n; i++) { /* sb.data moved while it grew: pointers now */
            v[i] = sb.data + off[i];
            vl[i] = off[i + 1] - off[i];
        }
        rc = replace_stored(f, t, n, v, vl);
    }
    msgpack_sbuffer_destroy(&sb);
    free(off);
    free(v);
    free(vl);
    if (rc) {
        restore_failed(f);
        return;
    }
    f->stats.restored++;
}

/*
 * The marker at the head of key, taken out (LPOP) when it is one: the
 * records after it stay. In one EVAL, so a stored trace that does not begin
 * with a marker is never touched.
 */
static const char take_out_marker_script[] =
    "local f = redis.call('LINDEX', KEYS[1], 0) "
    "if f and string.sub(f, 1, #ARGV[1]) == ARGV[1] then redis.call('LPOP', KEYS[1]) return 1 end "
    "return 0";

static void on_marker_taken_out(const redisReply *r, void *arg)
{
    bm_finisher *f = arg;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        if (r->integer == 1) f->stats.restored++;
    } else {
        restore_failed(f); /* an error reply is logged by the writer (a denial: by the ACL) */
    }
}

/*
 * t kept for a cause (it failed, timed out, compensated, ran slow) at its
 * first decision here, though the rate rule drops it: a decision this agent
 * does not remember (made before a restart, by the transaction's previous
 * owner, or forgotten: the table of finished ones full) may have replaced
 * its stored trace with the marker, and the records written since follow
 * it. The marker is taken out, so the failure is read (busmon trace, busmon
 * traces --status failed); what it stood for is gone either way.
 */
static void take_out_marker(bm_finisher *f, const trace *t)
{
    char key[600];
    int kl = snprintf(key, sizeof key, "%s%s", f->trace_prefix, trace_tx(t));
    const char *prefix = BM_SAMPLING_MARKER_PREFIX;
    if (kl < 0 || (size_t)kl >= sizeof key ||
        bm_writer_eval1(f->w, BM_WRITE_TRACE, take_out_marker_script, key, 1, &prefix,
                        on_marker_taken_out, f))
        restore_failed(f);
}

static void finish(bm_finisher *f, entry *e, int why_idle)
{
    const trace *t = trace_store_get(f->store, e->tx);
    list_remove(f, e);
    if (!e->reopened) { /* transactions, not decisions: a reopened one was counted */
        f->stats.finished++;
        if (why_idle) f->stats.finished_idle++;
    }
    e->done = DONE_KEPT;
    if (!t) {
        f->stats.not_in_memory++;
    } else {
        bm_sample_reason r = bm_sampling_decide(&f->o.sampling, t, worker_p99, f);
        int kept = r != BM_SAMPLE_SAMPLED_OUT;
        f->stats.sampled[r]++;
        if (!kept && f->o.sample_stored) {
            e->done = DONE_DROPPED;
            write_marker(f, t);
        } else if (e->reopened) {
            restore_trace(f, t); /* the marker replaced: a failure is kept whole */
        } else if (f->o.sample_stored && r != BM_SAMPLE_RATE &&
                   !bm_sampling_rate_keeps(trace_tx(t), f->o.sampling.rate)) {
            take_out_marker(f, t); /* sampled out by a decision not remembered here */
        }
        e->reopened = 0;
        if (bm_outputs_wants(f->outputs, BM_TOPIC_SPANS) && (kept || !f->o.sample_export) &&
            !e->exported) {
            e->exported = 1;
            bm_otlp_span_count c = {0, 0};
            bm_otlp_buf_reset(&f->spans);
            int rc = bm_otlp_trace_spans(t, bm_sample_reason_name(r), &f->spans, &c);
            spans_body b = {f->spans.data, f->spans.len, (uint32_t)c.spans};
            bm_emit_result er = {0, 0, 0, 0};
            if (!rc) er = bm_outputs_emit(f->outputs, BM_TOPIC_SPANS, build_spans, NULL, &b);
            f->stats.exported++;
            f->stats.spans += c.spans;
            if (rc || er.refused) f->stats.spans_dropped += c.spans;
        }
    }
    e->since_us = f->now_us;
    list_push(f, e, LIST_DONE);
}

/*
 * Forget finished transactions: the oldest beyond `keep`, and those finished
 * more than forget_us ago whose trace has left memory. One whose trace is
 * still there is remembered another forget_us: a late event would find that
 * trace, and, forgotten, be exported and decided again as a new transaction.
 */
static void forget_done(bm_finisher *f, size_t keep)
{
    entry_list *d = &f->lists[LIST_DONE];
    size_t looked = 0;
    entry *e;
    while ((e = d->head) && d->n > keep)
        forget(f, e);
    while ((e = d->head) && f->now_us - e->since_us > f->o.forget_us &&
           looked++ < FINISH_PER_TICK) {
        if (!trace_store_get(f->store, e->tx)) {
            forget(f, e);
            continue;
        }
        list_remove(f, e);
        e->since_us = f->now_us;
        list_push(f, e, LIST_DONE);
    }
}

static void on_tick(void *arg)
{
    bm_finisher *f = arg;
    f->now_us = bm_now_us();
    f->flushed = 0;
    size_t work = 0;
    entry *e;
    while ((e = f->lists[LIST_OPEN].head) && work < FINISH_PER_TICK &&
           f->now_us - e->since_us >= f->o.settle_us) {
        work++;
        const trace *t = trace_store_get(f->store, e->tx);
        if (!t || trace_get_status(t) != TRACE_RUNNING ||
            f->now_us - e->since_us >= f->o.idle_flush_us) {
            finish(f, e, t && trace_get_status(t) == TRACE_RUNNING);
        } else {
            list_remove(f, e);
            list_push(f, e, LIST_IDLE); /* in order of last activity still */
        }
    }
    while ((e = f->lists[LIST_IDLE].head) && work < FINISH_PER_TICK &&
           f->now_us - e->since_us >= f->o.idle_flush_us) {
        work++;
        finish(f, e, 1);
    }
    forget_done(f, f->o.max_open);
    f->stats.open = f->lists[LIST_OPEN].n + f->lists[LIST_IDLE].n;
    f->stats.remembered = f->lists[LIST_DONE].n;
}

/* ---- following records ------------------------------------------------------------- */

static int grow_table(bm_finisher *f)
{
    size_t n = f->n_buckets * 2;
    entry **t = calloc(n, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < f->n_buckets; i++)
        for (entry *e = f->table[i], *next; e; e = next) {
            next = e->chain;
            e->chain = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(f->table);
    f->table = t;
    f->n_buckets = n;
    return 0;
}

static int on_record(const bm_event *ev, int64_t duration_us, int again, void *arg)
{
    bm_finisher *f = arg;
    if (f->o.also) f->o.also(ev, duration_us, again, f->o.also_arg);
    if (!ev->tx || !ev->tx[0]) return 0;
    uint64_t h = hash_tx(ev->tx);
    entry *e = find(f, ev->tx, h);
    int64_t now = bm_now_us();
    if (e && e->done == DONE_KEPT) {
        f->stats.late_events++;
        return 0;
    }
    /* sampled out, then a new event (the next step, after a completed one
     * settled): open again, written after the marker, decided again when it
     * settles (kept: the marker replaced by its trace, restore_trace) */
    int reopen = e && e->done == DONE_DROPPED;
    if (e) list_remove(f, e);
    if (reopen) {
        e->done = 0;
        e->reopened = 1;
        f->stats.reopened++;
    }
    if (!e || reopen) {
        size_t open = f->lists[LIST_OPEN].n + f->lists[LIST_IDLE].n;
        if (open >= f->o.max_open) {
            /* full: the quietest goes now, as it is */
            entry *q = f->lists[LIST_IDLE].head ? f->lists[LIST_IDLE].head
                                                : f->lists[LIST_OPEN].head;
            f->now_us = now;
            f->stats.finished_early++;
            finish(f, q, 0);
            forget_done(f, f->o.max_open);
        }
    }
    if (!e) {
        size_t n = f->lists[LIST_OPEN].n + f->lists[LIST_IDLE].n + f->lists[LIST_DONE].n;
        if (n + 1 > f->n_buckets) grow_table(f);
        size_t len = strlen(ev->tx);
        e = calloc(1, sizeof *e + len + 1);
        if (!e) return 0; /* not followed: stored, never exported */
        memcpy(e->tx, ev->tx, len + 1);
        e->hash = h;
        e->chain = f->table[h & (f->n_buckets - 1)];
        f->table[h & (f->n_buckets - 1)] = e;
    }
    e->since_us = now;
    list_push(f, e, LIST_OPEN);
    return 0;
}

/* ---- life ---------------------------------------------------------------------------- */

bm_finisher *bm_finisher_new(const bm_finisher_opts *o, bm_loop *loop, bm_persist *p,
                             const trace_store *store, const bm_monitor *mon, bm_writer *w,
                             bm_outputs *outputs)
{
    bm_finisher *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->o = *o;
    if (!f->o.max_open) f->o.max_open = 100000;
    if (f->o.forget_us <= 0) f->o.forget_us = 3600 * 1000000LL;
    f->trace_prefix = strdup(o->trace_prefix ? o->trace_prefix : "busmon:trace:");
    f->o.trace_prefix = f->trace_prefix;
    f->loop = loop;
    f->store = store;
    f->mon = mon;
    f->w = w;
    f->outputs = outputs;
    f->persist = p;
    f->n_buckets = 1024;
    f->table = calloc(f->n_buckets, sizeof *f->table);
    bm_otlp_buf_init(&f->spans);
    if (!f->trace_prefix || !f->table || !(f->tick = bm_loop_every(loop, TICK_US, on_tick, f))) {
        bm_finisher_free(f);
        return NULL;
    }
    bm_persist_set_observer(p, on_record, f);
    return f;
}

void bm_finisher_final(bm_finisher *f)
{
    if (!f) return;
    f->now_us = bm_now_us();
    f->flushed = 0;
    /* what has ended goes out now, settled or not; running ones stay running */
    for (int l = LIST_OPEN; l <= LIST_IDLE; l++) {
        entry *e = f->lists[l].head;
        while (e) {
            entry *next = e->next;
            const trace *t = trace_store_get(f->store, e->tx);
            if (t && trace_get_status(t) != TRACE_RUNNING) finish(f, e, 0);
            e = next;
        }
    }
}

void bm_finisher_free(bm_finisher *f)
{
    if (!f) return;
    if (f->tick) bm_loop_timer_del(f->tick);
    for (size_t i = 0; f->table && i < f->n_buckets; i++)
        for (entry *e = f->table[i], *next; e; e = next) {
            next = e->chain;
            free(e);
        }
    free(f->table);
    bm_otlp_buf_deinit(&f->spans);
    free(f->trace_prefix);
    free(f);
}

void bm_finisher_get_stats(const bm_finisher *f, bm_finisher_stats *out)
{
    if (!f) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = f->stats;
    out->open = f->lists[LIST_OPEN].n + f->lists[LIST_IDLE].n;
    out->remembered = f->lists[LIST_DONE].n;
}
