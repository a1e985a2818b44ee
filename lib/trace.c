/*
 * trace.c - one transaction's trace (lib/trace.h): events in time order,
 * dedup by event id, answers paired with commands, status and stage.
 *
 * Not here: which traces are kept and for how long (lib/trace_store.c), and
 * no proto/ code is called, so this file links on its own.
 *
 * Memory layout. Each kept event is ONE allocation: the node (a little
 * private state, then the public trace_event, whose bm_event is last and
 * cut after its n_attrs attributes: an event without attributes does not
 * carry the 8 empty slots) followed by the bytes of the strings it does not
 * share:
 *
 *   +---------------------------+------------------------------------+
 *   | trace_node                | "id\0" "corr\0" "worker\0" ...     |
 *   |  te.ev.id ----------------+--^                                  |
 *   |  te.ev.tx -------> trace->tx (shared, equal to the trace's tx)   |
 *   |  te.ev.cmd ------> the previous event's id when equal            |
 *   |  te.ev.step/worker/corr/source -> the previous event's copy      |
 *   +---------------------------+------------------------------------+
 *
 * Events are never removed from a trace, only freed with it, so a string
 * kept by one event may be pointed at by a later one; an absent value points
 * at one static "". The trace itself is one allocation (header + tx) with
 * room for two event pointers inline: a command + its result costs three
 * allocations in all.
 *
 * Pairing is a one-to-one matching between requests (commands and
 * compensations) and answers (result or error). Each pair remembers the
 * rule that made it (1 cmd == id, 2 corr, 3 step + worker; a compensation
 * by 1 and 2 only). A new event may take a partner that is already paired by
 * a weaker rule (an exact `cmd` beats a step + worker guess made before the
 * real command arrived); the partner it displaces looks again. Every such
 * move makes the matching strictly stronger, so the loop ends; it is also
 * capped. `paired` is an index and is fixed up when an insertion shifts
 * positions.
 *
 * Two flags follow the pairing: `late` (an unpaired answer whose command
 * holds busmon's own timeout: first outcome wins) is decided when the
 * answer is added and cleared if it pairs later; `answers_compensation` is
 * set and cleared with the link. `closed_by` is the first final status
 * event added, and stays.
 */
#include "trace.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MALLOC_OVERHEAD_BYTES 16 /* per allocation, an estimate for heap figures */
#define INLINE_ITEMS          2
#define N_STR_FIELDS          11
#define MAX_STRS              (N_STR_FIELDS + 2 * BM_EVENT_MAX_ATTRS)
#define MAX_INDEX             ((size_t)INT32_MAX - 1)

static const char empty_str[] = "";

typedef struct {
    uint32_t id_hash;      /* fast reject for the dedup scan */
    uint8_t pair_rule;     /* 1, 2, 3: the rule of the current pairing; 0 unpaired */
    uint8_t worker_filled; /* answer's worker borrowed from its command */
    trace_event te;        /* last: its ev.attrs cut to ev.n_attrs (node_size) */
} trace_node;

/* A node's bytes up to its strings: the attributes it has, aligned for the strings after. */
static size_t node_size(unsigned n_attrs)
{
    size_t n = offsetof(trace_node, te.ev.attrs) + n_attrs * sizeof(bm_attr);
    return (n + 7) & ~(size_t)7;
}

struct trace {
    trace_node **items; /* ordered by ts_us; points at inline_items while small */
    uint32_t n, cap;
    const trace_node *last_added; /* the event added last: its strings are shared */
    const trace_node *closed_by;  /* the first final status event added; NULL while open */
    size_t heap_bytes;
    trace_index_mark index_mark; /* the agent's memo (trace.h) */
    trace_node *inline_items[INLINE_ITEMS];
    char tx[]; /* NUL-terminated */
};

const char *trace_status_name(trace_status st)
{
    switch (st) {
    case TRACE_RUNNING:
        return "running";
    case TRACE_COMPLETED:
        return "completed";
    case TRACE_FAILED:
        return "failed";
    case TRACE_COMPENSATED:
        return "compensated";
    case TRACE_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

trace_status trace_status_group(trace_status st)
{
    return st == TRACE_COMPENSATED || st == TRACE_CANCELLED ? TRACE_FAILED : st;
}

int trace_status_matches(trace_status st, const char *want)
{
    if (!want) return 0;
    if (!strcmp(want, "failed")) return trace_status_group(st) == TRACE_FAILED;
    return !strcmp(want, trace_status_name(st));
}

/*
 * Word-at-a-time multiply-xorshift over the id (ids are uuids, ~36 bytes:
 * a byte-at-a-time FNV costs more than the rest of an add). It only filters
 * the dedup and id scans; equal strings are still compared.
 */
static uint32_t id_hash(const char *s)
{
    size_t len = strlen(s);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len, w;
    for (; len >= 8; len -= 8, s += 8) {
        memcpy(&w, s, sizeof w);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 32;
    return (uint32_t)h;
}

static int streq(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

static const char *nz(const char *s)
{
    return s ? s : empty_str;
}

static int is_answer(const trace_node *n)
{
    return n->te.ev.type == BM_EV_RESULT || n->te.ev.type == BM_EV_ERROR;
}

static int is_command(const trace_node *n)
{
    return n->te.ev.type == BM_EV_COMMAND;
}

/* What an answer pairs with: a command, or a compensation. */
static int is_request(const trace_node *n)
{
    return n->te.ev.type == BM_EV_COMMAND || n->te.ev.type == BM_EV_COMPENSATION;
}

int trace_event_outcome(const bm_event *e)
{
    if (e->type != BM_EV_RESULT && e->type != BM_EV_ERROR) return -1;
    if (e->type == BM_EV_RESULT && e->ok > 0) return BM_OUTCOME_SUCCESS; /* it said so */
    if (e->error_type && !strcasecmp(e->error_type, "timeout")) return BM_OUTCOME_TIMEOUT;
    if (e->type == BM_EV_ERROR || e->ok == 0) return BM_OUTCOME_FAILURE;
    return BM_OUTCOME_SUCCESS;
}

int trace_event_is_busmon_timeout(const bm_event *e)
{
    return e->type == BM_EV_ERROR && e->source && !strcmp(e->source, "busmon") &&
           trace_event_outcome(e) == BM_OUTCOME_TIMEOUT;
}

/* An unsuccessful outcome: a failure or a timeout. */
static int is_failure(const bm_event *e)
{
    int o = trace_event_outcome(e);
    return o == BM_OUTCOME_FAILURE || o == BM_OUTCOME_TIMEOUT;
}

/* The string fields of an event, in a fixed order (see event_str_fields). */
enum { F_ID = 0, F_TX, F_CORR, F_CMD, F_WORKER, F_STEP };

static void event_str_fields(bm_event *e, const char **out[N_STR_FIELDS])
{
    out[0] = &e->id;
    out[1] = &e->tx;
    out[2] = &e->corr;
    out[3] = &e->cmd;
    out[4] = &e->worker;
    out[5] = &e->step;
    out[6] = &e->source;
    out[7] = &e->status;
    out[8] = &e->message;
    out[9] = &e->error_type;
    out[10] = &e->error_message;
}

trace *trace_new(const char *tx)
{
    tx = nz(tx);
    size_t len = strlen(tx);
    trace *t = malloc(sizeof *t + len + 1);
    if (!t) return NULL;
    t->items = t->inline_items;
    t->n = 0;
    t->cap = INLINE_ITEMS;
    t->last_added = NULL;
    t->closed_by = NULL;
    memset(&t->index_mark, 0, sizeof t->index_mark);
    t->heap_bytes = sizeof *t + len + 1 + MALLOC_OVERHEAD_BYTES;
    memcpy(t->tx, tx, len + 1);
    return t;
}

void trace_free(trace *t)
{
    if (!t) return;
    for (uint32_t i = 0; i < t->n; i++)
        free(t->items[i]);
    if (t->items != t->inline_items) free(t->items);
    free(t);
}

trace_index_mark *trace_index_mark_of(const trace *t)
{
    return (trace_index_mark *)&t->index_mark; /* a memo beside the trace (trace.h) */
}

const char *trace_tx(const trace *t)
{
    return t->tx;
}

size_t trace_count(const trace *t)
{
    return t->n;
}

/* A reader's copy of node x (trace.h: a view). */
static const trace_event *view_of(const trace_node *x, trace_event *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out, &x->te, offsetof(trace_event, ev) + offsetof(bm_event, attrs));
    memcpy(out->ev.attrs, x->te.ev.attrs, x->te.ev.n_attrs * sizeof *out->ev.attrs);
    out->ev.metric_name = empty_str;
    return out;
}

const trace_event *trace_get(const trace *t, size_t i, trace_event *out)
{
    return t && i < t->n ? view_of(t->items[i], out) : NULL;
}

size_t trace_heap_bytes(const trace *t)
{
    return t ? t->heap_bytes : 0;
}

int64_t trace_first_ts_us(const trace *t)
{
    return t->n ? t->items[0]->te.ev.ts_us : 0;
}

int64_t trace_last_ts_us(const trace *t)
{
    return t->n ? t->items[t->n - 1]->te.ev.ts_us : 0;
}

int64_t trace_duration_us(const trace *t)
{
    return t->n < 2 ? 0 : trace_last_ts_us(t) - trace_first_ts_us(t);
}

/* ---- one event, one allocation ------------------------------------------- */

/*
 * Copy `ev` into a new node. A string equal to the trace's tx, or to the same
 * field of the event added last (or, for `cmd`, to its id), is shared rather
 * than copied: the command + result of one step usually agree on worker,
 * step, corr, and the result's cmd is the command's id.
 */
static trace_node *node_new(trace *t, const bm_event *ev, uint32_t ev_id_hash)
{
    const char *src[MAX_STRS];
    const char *use[MAX_STRS];
    size_t len[MAX_STRS];
    const char **prev[N_STR_FIELDS];
    const trace_node *last = t->last_added;
    unsigned n_attrs = ev->n_attrs < BM_EVENT_MAX_ATTRS ? ev->n_attrs : BM_EVENT_MAX_ATTRS;
    size_t n_strs = N_STR_FIELDS + 2 * (size_t)n_attrs;

    bm_event tmp = *ev;
    const char **cur[N_STR_FIELDS];
    event_str_fields(&tmp, cur);
    if (last) event_str_fields((bm_event *)&last->te.ev, prev);
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        src[i] = nz(*cur[i]);
    for (unsigned a = 0; a < n_attrs; a++) {
        src[N_STR_FIELDS + 2 * a] = nz(ev->attrs[a].key);
        src[N_STR_FIELDS + 2 * a + 1] = nz(ev->attrs[a].value);
    }

    size_t total = 0;
    for (size_t i = 0; i < n_strs; i++) {
        len[i] = 0;
        use[i] = NULL;
        if (!src[i][0]) {
            use[i] = empty_str;
        } else if (i == F_TX && streq(src[i], t->tx)) {
            use[i] = t->tx;
        } else if (last && i != F_ID && i < N_STR_FIELDS && streq(src[i], *prev[i])) {
            use[i] = *prev[i];
        } else if (last && i == F_CMD && streq(src[i], last->te.ev.id)) {
            use[i] = last->te.ev.id;
        } else if (last && i >= N_STR_FIELDS && (i - N_STR_FIELDS) / 2 < last->te.ev.n_attrs) {
            const bm_attr *la = &last->te.ev.attrs[(i - N_STR_FIELDS) / 2];
            const char *cand = (i - N_STR_FIELDS) % 2 ? la->value : la->key;
            if (cand && streq(src[i], cand)) use[i] = cand;
        }
        if (!use[i]) {
            len[i] = strlen(src[i]) + 1;
            total += len[i];
        }
    }

    size_t head = node_size(n_attrs);
    trace_node *n = malloc(head + total);
    if (!n) return NULL;
    t->heap_bytes += head + total + MALLOC_OVERHEAD_BYTES;
    memcpy(&n->te.ev, ev, offsetof(bm_event, attrs)); /* the attributes: below */
    n->te.ev.n_attrs = n_attrs;
    char *p = (char *)n + head;
    for (size_t i = 0; i < n_strs; i++) {
        if (!use[i]) {
            memcpy(p, src[i], len[i]);
            use[i] = p;
            p += len[i];
        }
    }
    event_str_fields(&n->te.ev, cur);
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        *cur[i] = use[i];
    for (unsigned a = 0; a < n_attrs; a++) {
        n->te.ev.attrs[a].key = use[N_STR_FIELDS + 2 * a];
        n->te.ev.attrs[a].value = use[N_STR_FIELDS + 2 * a + 1];
    }
    n->te.duration_us = ev->duration_us >= 0 ? ev->duration_us : -1;
    n->te.paired = -1;
    n->te.late = 0;
    n->te.answers_compensation = 0;
    n->id_hash = ev_id_hash;
    n->pair_rule = 0;
    n->worker_filled = 0;
    return n;
}

/* ---- pairing -------------------------------------------------------------- */

/* The answer's own worker: "" when it only borrowed its command's. */
static const char *own_worker(const trace_node *a)
{
    return a->worker_filled ? empty_str : a->te.ev.worker;
}

/* The request (command or compensation) whose id is `id`, or -1. */
static int32_t find_command_by_id(const trace *t, const char *id)
{
    uint32_t h = id_hash(id);
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = t->items[i];
        if (c->id_hash == h && is_request(c) && streq(c->te.ev.id, id)) return (int32_t)i;
    }
    return -1;
}

/*
 * The rule by which answer `a` may pair with request `c` (1, 2, 3), or 0.
 * An answer that names a request present in the trace answers that one
 * only (`named_present`). A compensation pairs by id or corr only.
 */
static int match_rule(const trace_node *a, const trace_node *c, int named_present)
{
    const bm_event *ae = &a->te.ev, *ce = &c->te.ev;
    if (ae->cmd[0] && streq(ae->cmd, ce->id)) return 1;
    if (named_present) return 0;
    if (ae->corr[0] && streq(ae->corr, ce->corr)) return 2;
    if (ce->type == BM_EV_COMPENSATION) return 0;
    const char *w = own_worker(a);
    if (streq(ae->step, ce->step) && (!w[0] || streq(w, ce->worker))) return 3;
    return 0;
}

/*
 * A candidate partner under `rule` is free, or paired by a strictly weaker
 * rule (then taking it displaces its partner).
 */
static int can_take(const trace_node *x, int rule)
{
    return x->te.paired < 0 || x->pair_rule > rule;
}

/* The best command for answer `ai`: strongest rule, then free, then earliest. */
static int32_t best_command_for(const trace *t, uint32_t ai, int *rule_out)
{
    const trace_node *a = t->items[ai];
    if (a->te.ev.cmd[0]) {
        int32_t ci = find_command_by_id(t, a->te.ev.cmd);
        if (ci >= 0) {
            *rule_out = 1;
            return can_take(t->items[ci], 1) ? ci : -1;
        }
    }
    int32_t best = -1;
    int best_rule = 4, best_free = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = t->items[i];
        if (!is_request(c)) continue;
        int r = match_rule(a, c, 0);
        if (!r || !can_take(c, r)) continue;
        int is_free = c->te.paired < 0;
        if (r < best_rule || (r == best_rule && is_free && !best_free)) {
            best = (int32_t)i;
            best_rule = r;
            best_free = is_free;
            if (r == 2 && is_free) break; /* nothing beats it further on */
        }
    }
    *rule_out = best_rule;
    return best;
}

/* The best answer for request `ci`, same preferences. */
static int32_t best_answer_for(const trace *t, uint32_t ci, int *rule_out)
{
    const trace_node *c = t->items[ci];
    int32_t best = -1;
    int best_rule = 4, best_free = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *a = t->items[i];
        if (!is_answer(a)) continue;
        int r = match_rule(a, c, 0);
        if (!r || !can_take(a, r)) continue;
        /* Only an answer that could move pays for this O(n) look-up: one
         * that names another command present in the trace answers that one. */
        if (r > 1 && a->te.ev.cmd[0] && find_command_by_id(t, a->te.ev.cmd) >= 0) continue;
        int is_free = a->te.paired < 0;
        if (r < best_rule || (r == best_rule && is_free && !best_free)) {
            best = (int32_t)i;
            best_rule = r;
            best_free = is_free;
            if (r == 1 && is_free) break;
        }
    }
    *rule_out = best_rule;
    return best;
}

static void unlink_node(trace_node *x)
{
    x->te.paired = -1;
    x->pair_rule = 0;
    x->te.answers_compensation = 0;
    if (is_answer(x)) {
        if (x->worker_filled) {
            x->te.ev.worker = empty_str;
            x->worker_filled = 0;
        }
        x->te.duration_us = x->te.ev.duration_us >= 0 ? x->te.ev.duration_us : -1;
    }
}

static void link_nodes(trace *t, uint32_t ai, uint32_t ci, int rule)
{
    trace_node *a = t->items[ai], *c = t->items[ci];
    a->te.paired = (int32_t)ci;
    c->te.paired = (int32_t)ai;
    a->pair_rule = c->pair_rule = (uint8_t)rule;
    a->te.late = 0;
    a->te.answers_compensation = c->te.ev.type == BM_EV_COMPENSATION;
    if (!a->te.ev.worker[0] && c->te.ev.worker[0]) {
        a->te.ev.worker = c->te.ev.worker;
        a->worker_filled = 1;
    }
    a->te.duration_us =
        a->te.ev.duration_us >= 0 ? a->te.ev.duration_us : a->te.ev.ts_us - c->te.ev.ts_us;
}

/* Pair the event at `start`, and re-pair whatever it displaces. */
static void pair_from(trace *t, uint32_t start)
{
    int32_t pending = (int32_t)start;
    for (uint32_t guard = 0; pending >= 0 && guard <= 2 * t->n + 8; guard++) {
        trace_node *p = t->items[pending];
        int rule = 0;
        int32_t other;
        if (is_answer(p))
            other = best_command_for(t, (uint32_t)pending, &rule);
        else if (is_request(p))
            other = best_answer_for(t, (uint32_t)pending, &rule);
        else
            return;
        if (other < 0) return;
        int32_t displaced = t->items[other]->te.paired;
        if (displaced >= 0) unlink_node(t->items[displaced]);
        if (is_answer(p))
            link_nodes(t, (uint32_t)pending, (uint32_t)other, rule);
        else
            link_nodes(t, (uint32_t)other, (uint32_t)pending, rule);
        pending = displaced;
    }
}

/*
 * Whether unpaired answer `a` answers a command whose outcome busmon already
 * called: the command it names (rule 1), else one with its correlation id
 * (rule 2), holds busmon's own timeout. A step + worker guess (rule 3) is
 * not enough to call an answer late.
 */
static int answers_timed_out(const trace *t, const trace_node *a)
{
    const bm_event *ae = &a->te.ev;
    int32_t named = ae->cmd[0] ? find_command_by_id(t, ae->cmd) : -1;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = t->items[i];
        if (!is_command(c) || c->te.paired < 0) continue;
        if (named >= 0 ? (int32_t)i != named : !(ae->corr[0] && streq(ae->corr, c->te.ev.corr)))
            continue;
        if (trace_event_is_busmon_timeout(&t->items[c->te.paired]->te.ev)) return 1;
    }
    return 0;
}

/* ---- add ------------------------------------------------------------------ */

static int status_is_final(const char *s);

static int grow_items(trace *t)
{
    if (t->cap >= MAX_INDEX) return -1;
    size_t cap = t->cap < 8 ? 8 : (size_t)t->cap * 2;
    if (cap > MAX_INDEX) cap = MAX_INDEX;
    trace_node **items;
    if (t->items == t->inline_items) {
        items = malloc(cap * sizeof *items);
        if (!items) return -1;
        memcpy(items, t->inline_items, t->n * sizeof *items);
        t->heap_bytes += cap * sizeof *items + MALLOC_OVERHEAD_BYTES;
    } else {
        items = realloc(t->items, cap * sizeof *items);
        if (!items) return -1;
        t->heap_bytes += (cap - t->cap) * sizeof *items;
    }
    t->items = items;
    t->cap = (uint32_t)cap;
    return 0;
}

/*
 * max_events 0 means no bound of our own (the index type still bounds it).
 * A duplicate is reported before FULL: an entry delivered again to a full
 * trace was seen, not lost.
 */
trace_add_result trace_add(trace *t, const bm_event *ev, size_t max_events, trace_event *added_out)
{
    if (!t || !ev) return TRACE_ADD_NOMEM;
    const char *id = nz(ev->id);
    uint32_t h = id_hash(id);
    if (id[0]) {
        for (uint32_t i = t->n; i-- > 0;)
            if (t->items[i]->id_hash == h && streq(t->items[i]->te.ev.id, id))
                return TRACE_ADD_DUPLICATE;
    }
    if ((max_events && t->n >= max_events) || t->n >= MAX_INDEX) return TRACE_ADD_FULL;
    if (t->n == t->cap && grow_items(t)) return TRACE_ADD_NOMEM;
    trace_node *node = node_new(t, ev, h);
    if (!node) return TRACE_ADD_NOMEM;

    uint32_t pos = t->n;
    while (pos > 0 && t->items[pos - 1]->te.ev.ts_us > ev->ts_us)
        pos--;
    if (pos < t->n) {
        for (uint32_t i = 0; i < t->n; i++)
            if (t->items[i]->te.paired >= (int32_t)pos) t->items[i]->te.paired++;
        memmove(t->items + pos + 1, t->items + pos, (t->n - pos) * sizeof *t->items);
    }
    t->items[pos] = node;
    t->n++;
    t->last_added = node;
    if (is_answer(node) || is_request(node)) pair_from(t, pos);
    if (is_answer(node) && node->te.paired < 0 && answers_timed_out(t, node)) node->te.late = 1;
    if (!t->closed_by && node->te.ev.type == BM_EV_STATUS && status_is_final(node->te.ev.status))
        t->closed_by = node;
    if (added_out) view_of(node, added_out);
    return TRACE_ADD_OK;
}

const trace_event *trace_closed_by(const trace *t, trace_event *out)
{
    return t && t->closed_by ? view_of(t->closed_by, out) : NULL;
}

int trace_is_closed(const trace *t)
{
    return t && t->closed_by;
}

/* ---- status and stage ----------------------------------------------------- */

/* What a status event's word says about the end of the transaction. */
typedef enum {
    SAYS_NOTHING = 0,
    SAYS_COMPLETED,
    SAYS_FAILED,
    SAYS_COMPENSATED,
    SAYS_CANCELLED
} says;

static says status_says(const char *s)
{
    static const struct {
        const char *word;
        says what;
    } words[] = {
        {"completed", SAYS_COMPLETED},
        {"success", SAYS_COMPLETED},
        {"done", SAYS_COMPLETED},
        {"failed", SAYS_FAILED},
        {"error", SAYS_FAILED},
        {"timeout", SAYS_FAILED},
        {"compensated", SAYS_COMPENSATED},
        {"cancelled", SAYS_CANCELLED},
        {"canceled", SAYS_CANCELLED},
    };
    if (!s) return SAYS_NOTHING;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strcasecmp(s, words[i].word)) return words[i].what;
    return SAYS_NOTHING;
}

static int status_is_final(const char *s)
{
    return status_says(s) != SAYS_NOTHING;
}

static int same_worker(const char *a, const char *b)
{
    return !a[0] || !b[0] || streq(a, b);
}

/* An answer that is a step's outcome: not late, not a compensation's. */
static int is_step_outcome(const trace_node *n)
{
    return is_answer(n) && !n->te.late && !n->te.answers_compensation;
}

/* A failure at `i` not followed by a success of the same step and worker. */
static int failure_stands(const trace *t, uint32_t i)
{
    const bm_event *f = &t->items[i]->te.ev;
    for (uint32_t j = i + 1; j < t->n; j++) {
        const bm_event *s = &t->items[j]->te.ev;
        if (is_step_outcome(t->items[j]) && trace_event_outcome(s) == BM_OUTCOME_SUCCESS &&
            streq(s->step, f->step) && same_worker(s->worker, f->worker))
            return 0;
    }
    return 1;
}

trace_status trace_get_status(const trace *t)
{
    int said[SAYS_CANCELLED + 1] = {0};
    int failure = 0;
    size_t commands = 0, answered = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *n = t->items[i];
        const bm_event *e = &n->te.ev;
        if (e->type == BM_EV_STATUS) {
            said[status_says(e->status)] = 1;
        } else if (is_command(n)) {
            commands++;
            if (n->te.paired >= 0) answered++;
        } else if (!failure && is_step_outcome(n) && is_failure(e) && failure_stands(t, i)) {
            failure = 1;
        }
    }
    if (said[SAYS_CANCELLED]) return TRACE_CANCELLED;
    if (said[SAYS_COMPENSATED]) return TRACE_COMPENSATED;
    if (said[SAYS_FAILED] || failure) return TRACE_FAILED;
    if (said[SAYS_COMPLETED] || (commands && answered == commands)) return TRACE_COMPLETED;
    return TRACE_RUNNING;
}

const char *trace_event_stage(const trace_event *e)
{
    switch (e->ev.type) {
    case BM_EV_COMMAND:
        return "dispatched";
    case BM_EV_RESULT:
    case BM_EV_ERROR: {
        int o = trace_event_outcome(&e->ev);
        if (e->late) return "late";
        if (e->answers_compensation)
            return o == BM_OUTCOME_SUCCESS ? "compensated" : "compensation_failed";
        return o == BM_OUTCOME_SUCCESS   ? "completed"
               : o == BM_OUTCOME_TIMEOUT ? "timed_out"
                                         : "failed";
    }
    case BM_EV_STATUS:
        return e->ev.status && e->ev.status[0] ? e->ev.status : "status";
    case BM_EV_COMPENSATION:
        return "requested";
    case BM_EV_CUSTOM:
        return "custom";
    case BM_EV__COUNT:
        break;
    }
    return "unknown";
}
