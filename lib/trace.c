/*
 * trace.c - one transaction's trace (lib/trace.h): events in time order,
 * dedup by event id, answers paired with commands, status and stage.
 *
 * Not here: which traces are kept and for how long (lib/trace_store.c), and
 * no proto/ code is called, so this file links on its own.
 *
 * Memory layout. A kept event is a compact record, not a copy of the
 * decoded bm_event (~570 bytes): readers get a view filled from it
 * (trace_get). A trace is its header (with the tx, room for two nodes and
 * room for the pool: trace_new_sized, sized by the store to what a trace of
 * two events needed lately), the nodes in time order, and one pool (moved
 * out of the header for good when it outgrows the room):
 *
 *   node (20 bytes): ts_us (two halves), the pairing (paired, rule), type,
 *                    ok, flags, and `rec`: where its record is (an answer's
 *                    duration is derived: reported, else the time since its
 *                    request)
 *   pool: records and the strings they do not share; no alignment (every
 *         read is a memcpy)
 *     record: u16 mask (which fields it has), u8 n_attrs, u8 flags,
 *             a ref for each string field present (id, corr, cmd, worker,
 *                 step, source, status, message, error_type, error_message),
 *             the numbers present (duration_us i64 or i32, attempt i32,
 *                 priority i32, timeout_s f64, progress f64, payload_bytes
 *                 u32 or u16),
 *             a key ref + a value ref per attribute
 *           refs are 2 bytes when all of the record's fit (flag REC_WIDE
 *           off), else 4; the narrow number forms are flags too
 *     ref: offset << 2 of a NUL-terminated string in the pool, or REF_TX
 *          (the trace's tx); 0 = absent (no string starts at 0: a record
 *          head does). A string equal to the tx, or to the same field of the
 *          latest event (or, for `cmd`, to its id) is not copied again: its
 *          ref is reused. Worker, step, source, status and error type names
 *          are interned once per process (id << 2 | 1, lib/intern.h) when
 *          the table has room. Packed forms: an id or cmd that is a
 *          canonical uuid (36 characters, lower-case hex) is kept as its 16
 *          bytes (offset << 2 | REF_UUID), a corr equal to "<tx>.<step>"
 *          (the MultiAgents Framework's) as a record flag, no ref (read back
 *          as REF_CORR_DEFAULT); a view prints them back into its own text_
 *          buffer.
 *
 * The pool only grows (events are never removed from a trace, only freed
 * with it), so a ref stays valid; the pool may move on an add, which is why
 * a view's strings are borrowed only until the next trace_add.
 *
 * Pairing is a one-to-one matching between requests (commands and
 * compensations) and answers (result or error). Each pair remembers the
 * rule that made it (1 cmd == id, 2 corr, 3 step + worker; a compensation
 * by 1 and 2 only). A new event may take a partner that is already paired by
 * a weaker rule (an exact `cmd` beats a step + worker guess made before the
 * real command arrived); the partner it displaces looks again. Every such
 * move makes the matching strictly stronger, so the loop ends; it is also
 * capped. `paired` is an index and is fixed up when an insertion shifts
 * positions. An answer remembers whether its cmd names a request present
 * (NF_NAMES_PRESENT, set when the later of the two arrives), so adding an
 * event is O(n) in the trace's events, not O(n^2). An answer without a
 * worker shows its command's (flag WORKER_FILLED: read through the
 * pairing, not stored).
 *
 * Two flags follow the pairing: `late` (an unpaired answer whose command
 * holds busmon's own timeout: first outcome wins) is decided when the
 * answer is added and cleared if it pairs later; `answers_compensation` is
 * set and cleared with the link. An answer remembers that it has been
 * paired once (NF_EVER_PAIRED), so the add of a request can tell whether
 * the answer it takes was waiting unpaired for it until then
 * (`answered_early`: the first pairing of an answer read before its
 * request, and not late then). The trace is closed by the first final
 * status event added (its node's NF_CLOSER), and stays closed.
 */
#include "trace.h"

#include "intern.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MALLOC_OVERHEAD_BYTES 16 /* per allocation, an estimate for heap figures */
#define INLINE_ITEMS          2
#define INLINE_POOL           88 /* trace_new's room: a command + its result (uuid ids, interned names) */
#define MAX_INDEX             ((size_t)INT32_MAX - 1)
#define NO_REC                UINT32_MAX
#define MAX_POOL              ((size_t)UINT32_MAX >> 2) /* refs hold offset << 2 */

static const char empty_str[] = "";

/* Fields of a record, in mask bit order: the strings, then the numbers. */
enum {
    F_ID = 0,
    F_CORR,
    F_CMD,
    F_WORKER,
    F_STEP,
    F_SOURCE,
    F_STATUS,
    F_MESSAGE,
    F_ERROR_TYPE,
    F_ERROR_MESSAGE,
    N_STR_FIELDS, /* 10 */
    F_DURATION = N_STR_FIELDS,
    F_ATTEMPT,
    F_PRIORITY,
    F_TIMEOUT,
    F_PROGRESS,
    F_PAYLOAD,
    N_FIELDS
};
#define STR_MASK ((1u << N_STR_FIELDS) - 1)
#define REC_HEAD 4
/* record head byte 3, flags */
#define REC_CORR_DEFAULT 1   /* corr is "<tx>.<step>" (no ref stored) */
#define REC_WIDE         2   /* refs are 4 bytes (else 2: every ref of the record < 65536) */
#define REC_DUR32        4   /* duration_us in 4 bytes (0 .. INT32_MAX) */
#define REC_PAY16        8   /* payload_bytes in 2 bytes */
#define REF_TX           1u  /* the trace's tx; id << 2 | 1: an interned name (lib/intern.h) */
#define REF_UUID         2u  /* tag: offset << 2 | 2, a uuid's 16 bytes (id, cmd) */
#define REF_CORR_DEFAULT 3u  /* corr "<tx>.<step>" of the record's own step */
#define TEXT_MAX         128 /* a packed corr is at most this long, NUL included */
#define UUID_TEXT        37

/* Bytes of each number field, F_DURATION .. F_PAYLOAD, at their widest. */
static const uint8_t num_size[N_FIELDS - N_STR_FIELDS] = {8, 4, 4, 8, 8, 4};

/* Bytes of number field g in a record with head flags `fl`. */
static size_t num_bytes(unsigned fl, unsigned g)
{
    if (g == F_DURATION && (fl & REC_DUR32)) return 4;
    if (g == F_PAYLOAD && (fl & REC_PAY16)) return 2;
    return num_size[g - N_STR_FIELDS];
}

static unsigned ref_width(unsigned fl)
{
    return fl & REC_WIDE ? 4 : 2;
}

static uint32_t get_ref(const char *p, unsigned width)
{
    if (width == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void put_ref(char *p, uint32_t ref, unsigned width)
{
    if (width == 4) {
        memcpy(p, &ref, 4);
    } else {
        uint16_t v = (uint16_t)ref;
        memcpy(p, &v, 2);
    }
}

enum {
    NF_WORKER_FILLED = 1,
    NF_LATE = 2,
    NF_ANSWERS_COMP = 4,
    NF_CLOSER = 8,         /* closed the trace */
    NF_NAMES_PRESENT = 16, /* an answer whose cmd names a request in the trace
                            * (set when either arrives: requests stay) */
    NF_EVER_PAIRED = 32,   /* an answer that has been paired (stays when unlinked) */
    NF_FIRST_LINK = 64     /* an answer, within one trace_add: paired for the first
                            * time, having been neither paired nor late before */
};

typedef struct {
    uint32_t ts_lo, ts_hi; /* ts_us in two halves: 4-byte alignment, a 20-byte node */
    int32_t paired;        /* index of its partner; -1 */
    uint32_t rec;          /* its record's offset in the pool */
    uint8_t type;          /* bm_event_type */
    int8_t ok;           /* 1, 0, -1 */
    uint8_t pair_rule;   /* 1, 2, 3: the rule of the current pairing; 0 unpaired */
    uint8_t flags;       /* NF_* */
} trace_node;

struct trace {
    trace_node *items;           /* ordered by ts_us; inline_items while small */
    char *pool;                  /* records and strings (see above) */
    trace_index_mark index_mark; /* the agent's memo (trace.h) */
    uint32_t n;                  /* events; the nodes' capacity follows from it (items_cap) */
    uint32_t pool_len, pool_cap;
    uint32_t room; /* bytes of pool room after tx; the pool is there while it fits */
    trace_node inline_items[INLINE_ITEMS];
    char tx[]; /* NUL-terminated, then the room */
};

/* The nodes' capacity: the inline two, then 8, 16, 32, ... as grow_items
 * makes them (so it is not stored). */
static uint32_t items_cap(const trace *t)
{
    if (t->items == t->inline_items) return INLINE_ITEMS;
    uint32_t cap = 8;
    while (cap < t->n && cap < MAX_INDEX / 2)
        cap *= 2;
    return cap;
}

static int64_t ts_of(const trace_node *x)
{
    return (int64_t)((uint64_t)x->ts_hi << 32 | x->ts_lo);
}

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

static int streq(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

static const char *nz(const char *s)
{
    return s ? s : empty_str;
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

/* ---- records -------------------------------------------------------------- */

/* Bits set in a 16-bit mask (a table: no popcnt instruction assumed). */
static unsigned popcount16(unsigned m)
{
    static const uint8_t bits[256] = {
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
        B6(0), B6(1), B6(1), B6(2)
#undef B2
#undef B4
#undef B6
    };
    return bits[m & 255] + bits[(m >> 8) & 255];
}

static uint16_t rec_mask(const trace *t, uint32_t rec)
{
    uint16_t m;
    memcpy(&m, t->pool + rec, sizeof m);
    return m;
}

static const char *ref_str(const trace *t, uint32_t ref)
{
    if (!ref) return empty_str;
    if (ref == REF_TX) return t->tx;
    if ((ref & 3) == REF_TX) return bm_intern_name(ref >> 2);
    return t->pool + (ref >> 2);
}

/* Fields whose values are names that repeat across transactions. */
static int internable(size_t f)
{
    return f == F_WORKER || f == F_STEP || f == F_SOURCE || f == F_STATUS || f == F_ERROR_TYPE;
}

/* A canonical uuid (8-4-4-4-12 lower-case hex) into its 16 bytes. @return 1, or 0 if s is not one.
 */
static int uuid_parse(const char *s, uint8_t out[16])
{
    static const int8_t hex[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
        ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
        ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    };
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
            continue;
        }
        if (!hex[c]) return 0;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)((hex[c] - 1) << 4);
        else
            out[k / 2] |= (uint8_t)(hex[c] - 1);
        k++;
    }
    return s[36] == '\0';
}

static void uuid_format(const uint8_t in[16], char out[UUID_TEXT])
{
    /* two digits per byte from one table (views print ids often: ~7 views
     * per event in the agent) */
    static char pairs[512];
    static int ready;
    static const uint8_t at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    if (!ready) {
        static const char digits[] = "0123456789abcdef";
        for (int v = 0; v < 256; v++) {
            pairs[2 * v] = digits[v >> 4];
            pairs[2 * v + 1] = digits[v & 15];
        }
        ready = 1;
    }
    for (size_t k = 0; k < 16; k++)
        memcpy(out + at[k], pairs + 2 * in[k], 2);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}

/* Whether corr is "<tx>.<step>" and short enough to be packed. */
static int is_default_corr(const char *tx, const char *step, const char *corr)
{
    size_t tl = strlen(tx), sl = strlen(step);
    return sl && tl + 1 + sl < TEXT_MAX && !strncmp(corr, tx, tl) && corr[tl] == '.' &&
           !strcmp(corr + tl + 1, step);
}

/* The ref of string field f of record rec; 0 when it has none. */
static uint32_t rec_ref(const trace *t, uint32_t rec, unsigned f)
{
    uint16_t m = rec_mask(t, rec);
    if (!(m & (1u << f)))
        return f == F_CORR && (t->pool[rec + 3] & REC_CORR_DEFAULT) ? REF_CORR_DEFAULT : 0;
    unsigned w = ref_width((uint8_t)t->pool[rec + 3]);
    unsigned k = (unsigned)popcount16(m & ((1u << f) - 1));
    return get_ref(t->pool + rec + REC_HEAD + w * k, w);
}

static const char *rec_str(const trace *t, uint32_t rec, unsigned f)
{
    return ref_str(t, rec_ref(t, rec, f));
}

static int is_uuid_ref(uint32_t ref)
{
    return ref && ref != REF_TX && ref != REF_CORR_DEFAULT && (ref & 3) == REF_UUID;
}

/* Any ref as text: packed ones printed into buf (TEXT_MAX bytes). */
static const char *ref_text(const trace *t, uint32_t rec, uint32_t ref, char *buf)
{
    if (ref == REF_CORR_DEFAULT) {
        const char *step = rec_str(t, rec, F_STEP);
        size_t tl = strlen(t->tx), sl = strlen(step);
        memcpy(buf, t->tx, tl);
        buf[tl] = '.';
        memcpy(buf + tl + 1, step, sl + 1);
        return buf;
    }
    if (ref && ref != REF_TX && (ref & 3) == REF_UUID) {
        uuid_format((const uint8_t *)t->pool + (ref >> 2), buf);
        return buf;
    }
    return ref_str(t, ref);
}

/* The record's attributes: n_attrs, then where their refs are (after the
 * numbers) and their width. */
static unsigned rec_attrs(const trace *t, uint32_t rec, const char **refs_at, unsigned *width)
{
    uint16_t m = rec_mask(t, rec);
    unsigned fl = (uint8_t)t->pool[rec + 3];
    *width = ref_width(fl);
    size_t off = REC_HEAD + *width * (size_t)popcount16(m & STR_MASK);
    for (unsigned g = N_STR_FIELDS; g < N_FIELDS; g++)
        if (m & (1u << g)) off += num_bytes(fl, g);
    *refs_at = t->pool + rec + off;
    return (unsigned)(uint8_t)t->pool[rec + 2];
}

/* A node's string field that is never packed (not id, cmd, corr). */
static const char *nstr(const trace *t, const trace_node *x, unsigned f)
{
    return rec_str(t, x->rec, f);
}

static int is_answer(const trace_node *n)
{
    return n->type == BM_EV_RESULT || n->type == BM_EV_ERROR;
}

static int is_command(const trace_node *n)
{
    return n->type == BM_EV_COMMAND;
}

/* What an answer pairs with: a command, or a compensation. */
static int is_request(const trace_node *n)
{
    return n->type == BM_EV_COMMAND || n->type == BM_EV_COMPENSATION;
}

/* trace_event_outcome of a node (the same rules). */
static int node_outcome(const trace *t, const trace_node *x)
{
    if (!is_answer(x)) return -1;
    if (x->type == BM_EV_RESULT && x->ok > 0) return BM_OUTCOME_SUCCESS;
    if (!strcasecmp(nstr(t, x, F_ERROR_TYPE), "timeout")) return BM_OUTCOME_TIMEOUT;
    if (x->type == BM_EV_ERROR || x->ok == 0) return BM_OUTCOME_FAILURE;
    return BM_OUTCOME_SUCCESS;
}

/* trace_event_is_busmon_timeout of a node. */
static int node_is_busmon_timeout(const trace *t, const trace_node *x)
{
    return x->type == BM_EV_ERROR && !strcmp(nstr(t, x, F_SOURCE), "busmon") &&
           node_outcome(t, x) == BM_OUTCOME_TIMEOUT;
}

/* An unsuccessful outcome: a failure or a timeout. */
static int node_is_failure(const trace *t, const trace_node *x)
{
    int o = node_outcome(t, x);
    return o == BM_OUTCOME_FAILURE || o == BM_OUTCOME_TIMEOUT;
}

static char *inline_pool(const trace *t)
{
    return (char *)t->tx + strlen(t->tx) + 1;
}

static int pool_is_inline(const trace *t)
{
    return t->room && t->pool == inline_pool(t);
}

/* Make room for `more` bytes at the pool's end. @return 0 or -1. */
static int pool_reserve(trace *t, size_t more)
{
    size_t need = (size_t)t->pool_len + more;
    if (need <= t->pool_cap) return 0;
    if (need > MAX_POOL) return -1;
    size_t cap = t->pool_cap + t->pool_cap / 2;
    if (cap < need) cap = need;
    cap = (cap + 7) & ~(size_t)7;
    if (cap > MAX_POOL) cap = MAX_POOL;
    char *p;
    if (pool_is_inline(t)) { /* out of the header's room for good */
        p = malloc(cap);
        if (p) memcpy(p, t->pool, t->pool_len);
    } else {
        p = realloc(t->pool, cap);
    }
    if (!p) return -1;
    t->pool = p;
    t->pool_cap = (uint32_t)cap;
    return 0;
}

/* The string fields of an event, in record order. */
static void event_strs(const bm_event *e, const char *out[N_STR_FIELDS])
{
    out[F_ID] = nz(e->id);
    out[F_CORR] = nz(e->corr);
    out[F_CMD] = nz(e->cmd);
    out[F_WORKER] = nz(e->worker);
    out[F_STEP] = nz(e->step);
    out[F_SOURCE] = nz(e->source);
    out[F_STATUS] = nz(e->status);
    out[F_MESSAGE] = nz(e->message);
    out[F_ERROR_TYPE] = nz(e->error_type);
    out[F_ERROR_MESSAGE] = nz(e->error_message);
}

/*
 * Append ev's record (and the strings it does not share) to the pool.
 * @return the record's offset, or NO_REC (out of memory, pool full).
 */
static uint32_t rec_add(trace *t, const bm_event *ev)
{
    enum { MAX_STRS = N_STR_FIELDS + 2 * BM_EVENT_MAX_ATTRS };
    const char *src[MAX_STRS];
    uint32_t ref[MAX_STRS];
    size_t len[MAX_STRS];
    uint8_t uuid[2][16]; /* F_ID, F_CMD when packed */
    int packed[2] = {0, 0}, corr_default = 0;
    char buf[TEXT_MAX];
    unsigned n_attrs = ev->n_attrs < BM_EVENT_MAX_ATTRS ? ev->n_attrs : BM_EVENT_MAX_ATTRS;
    /* strings are shared with the latest event (in time: usually the one
     * added last, e.g. the command a result answers) */
    uint32_t last_rec = t->n ? t->items[t->n - 1].rec : NO_REC;
    const char *last_attrs = NULL;
    unsigned last_w = 4;
    unsigned last_n_attrs = last_rec != NO_REC ? rec_attrs(t, last_rec, &last_attrs, &last_w) : 0;

    event_strs(ev, src);
    for (unsigned a = 0; a < n_attrs; a++) {
        src[N_STR_FIELDS + 2 * a] = nz(ev->attrs[a].key);
        src[N_STR_FIELDS + 2 * a + 1] = nz(ev->attrs[a].value);
    }
    size_t n_strs = N_STR_FIELDS + 2 * (size_t)n_attrs;

    uint16_t mask = 0;
    size_t n_refs = 0, text = 0;
    for (size_t i = 0; i < n_strs; i++) {
        ref[i] = 0;
        len[i] = 0;
        if (!src[i][0]) continue; /* ref 0: "" */
        if (i == F_CORR && is_default_corr(t->tx, src[F_STEP], src[i])) {
            corr_default = 1; /* before sharing: a flag costs no ref */
            continue;
        }
        if (i < N_STR_FIELDS) {
            mask |= (uint16_t)(1u << i);
            n_refs++;
        }
        uint32_t cand = 0;
        if (streq(src[i], t->tx)) {
            ref[i] = REF_TX;
            continue;
        }
        if (internable(i) && (cand = bm_intern(src[i])) != 0) {
            ref[i] = cand << 2 | REF_TX;
            continue;
        }
        if (last_rec != NO_REC) {
            if (i < N_STR_FIELDS)
                cand = rec_ref(t, last_rec, (unsigned)i);
            else if ((i - N_STR_FIELDS) / 2 < last_n_attrs)
                cand = get_ref(last_attrs + last_w * (i - N_STR_FIELDS), last_w);
            /* a packed corr means "<tx>.<its own step>": not shared as such */
            if (cand && cand != REF_CORR_DEFAULT &&
                streq(src[i], ref_text(t, last_rec, cand, buf))) {
                ref[i] = cand;
                continue;
            }
            if (i == F_CMD) {
                cand = rec_ref(t, last_rec, F_ID);
                if (cand && streq(src[i], ref_text(t, last_rec, cand, buf))) {
                    ref[i] = cand;
                    continue;
                }
            }
        }
        if ((i == F_ID || i == F_CMD) && uuid_parse(src[i], uuid[i == F_CMD])) {
            packed[i == F_CMD] = 1;
            text += 16;
            continue;
        }
        len[i] = strlen(src[i]) + 1;
        text += len[i];
    }

    int64_t duration = ev->duration_us;
    int32_t attempt = ev->attempt, priority = ev->priority;
    double timeout = ev->timeout_s, progress = ev->progress;
    uint32_t payload = ev->payload_bytes;
    if (duration != -1) mask |= 1u << F_DURATION;
    if (attempt != -1) mask |= 1u << F_ATTEMPT;
    if (priority != -1) mask |= 1u << F_PRIORITY;
    if (timeout != 0) mask |= 1u << F_TIMEOUT;
    if (progress != -1) mask |= 1u << F_PROGRESS;
    if (payload) mask |= 1u << F_PAYLOAD;
    unsigned fl = corr_default ? REC_CORR_DEFAULT : 0;
    if (duration >= 0 && duration <= INT32_MAX) fl |= REC_DUR32;
    if (payload <= UINT16_MAX) fl |= REC_PAY16;
    size_t nums = 0;
    for (unsigned g = N_STR_FIELDS; g < N_FIELDS; g++)
        if (mask & (1u << g)) nums += num_bytes(fl, g);
    /* 2-byte refs when every ref of the record fits: the known ones, and
     * the new strings' offsets (below pool_len + the widest record + text) */
    int narrow = (size_t)t->pool_len + REC_HEAD + 4 * (n_refs + 2 * (size_t)n_attrs) + nums + text <
                 (UINT16_MAX >> 2);
    for (size_t i = 0; narrow && i < n_strs; i++)
        if (ref[i] > UINT16_MAX) narrow = 0;
    if (!narrow) fl |= REC_WIDE;
    unsigned w = ref_width(fl);

    /* a string read from this trace (a view's) must survive the pool moving */
    size_t in_pool[MAX_STRS];
    for (size_t i = 0; i < n_strs; i++) {
        in_pool[i] = SIZE_MAX;
        if (len[i] && t->pool && src[i] >= t->pool && src[i] < t->pool + t->pool_cap)
            in_pool[i] = (size_t)(src[i] - t->pool);
    }
    size_t rec_bytes =
        REC_HEAD + w * n_refs + nums + 2 * w * (size_t)n_attrs; /* read with memcpy: unaligned */
    if (pool_reserve(t, rec_bytes + text)) return NO_REC;
    for (size_t i = 0; i < n_strs; i++)
        if (in_pool[i] != SIZE_MAX) src[i] = t->pool + in_pool[i];
    uint32_t rec = t->pool_len;
    char *r = t->pool + rec;
    memset(r, 0, rec_bytes);
    memcpy(r, &mask, sizeof mask);
    r[2] = (char)n_attrs;
    r[3] = (char)fl;
    size_t at = rec + rec_bytes;
    for (int k = 0; k < 2; k++) {
        if (!packed[k]) continue;
        memcpy(t->pool + at, uuid[k], 16);
        ref[k ? F_CMD : F_ID] = (uint32_t)(at << 2) | REF_UUID;
        at += 16;
    }
    for (size_t i = 0; i < n_strs; i++) {
        if (!len[i]) continue;
        memcpy(t->pool + at, src[i], len[i]);
        ref[i] = (uint32_t)(at << 2);
        at += len[i];
    }
    t->pool_len = (uint32_t)at;

    char *o = r + REC_HEAD;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        if (!(mask & (1u << i))) continue;
        put_ref(o, ref[i], w);
        o += w;
    }
    if (mask & (1u << F_DURATION)) {
        if (fl & REC_DUR32) {
            int32_t d = (int32_t)duration;
            memcpy(o, &d, 4), o += 4;
        } else {
            memcpy(o, &duration, 8), o += 8;
        }
    }
    if (mask & (1u << F_ATTEMPT)) memcpy(o, &attempt, 4), o += 4;
    if (mask & (1u << F_PRIORITY)) memcpy(o, &priority, 4), o += 4;
    if (mask & (1u << F_TIMEOUT)) memcpy(o, &timeout, 8), o += 8;
    if (mask & (1u << F_PROGRESS)) memcpy(o, &progress, 8), o += 8;
    if (mask & (1u << F_PAYLOAD)) {
        if (fl & REC_PAY16) {
            uint16_t v = (uint16_t)payload;
            memcpy(o, &v, 2), o += 2;
        } else {
            memcpy(o, &payload, 4), o += 4;
        }
    }
    for (size_t i = N_STR_FIELDS; i < n_strs; i++) {
        put_ref(o, ref[i], w);
        o += w;
    }
    return rec;
}

/* A reader's view of node x (trace.h). */
static const trace_event *view_of(const trace *t, const trace_node *x, trace_event *out)
{
    bm_event *e = &out->ev;
    memset(out, 0, offsetof(trace_event, ev) + offsetof(bm_event, attrs));
    out->paired = x->paired;
    out->late = (x->flags & NF_LATE) != 0;
    out->answers_compensation = (x->flags & NF_ANSWERS_COMP) != 0;
    out->worker_filled = (x->flags & NF_WORKER_FILLED) && x->paired >= 0;
    e->type = (bm_event_type)x->type;
    e->tx = t->tx;
    e->ts_us = ts_of(x);
    e->ok = x->ok;
    /* the record in one pass: its refs in field order, then its numbers */
    const char *r = t->pool + x->rec, *p = r + REC_HEAD;
    uint16_t m = rec_mask(t, x->rec);
    unsigned fl = (uint8_t)r[3], w = ref_width(fl);
    uint32_t ref[N_STR_FIELDS];
    for (unsigned f = 0; f < N_STR_FIELDS; f++) {
        ref[f] = 0;
        if (m & (1u << f)) {
            ref[f] = get_ref(p, w);
            p += w;
        }
    }
    if (!ref[F_CORR] && (r[3] & REC_CORR_DEFAULT)) ref[F_CORR] = REF_CORR_DEFAULT;
    char *text = out->text_;
    e->id = is_uuid_ref(ref[F_ID]) ? ref_text(t, x->rec, ref[F_ID], text) : ref_str(t, ref[F_ID]);
    e->cmd = is_uuid_ref(ref[F_CMD]) ? ref_text(t, x->rec, ref[F_CMD], text + 40)
                                     : ref_str(t, ref[F_CMD]);
    e->corr = ref[F_CORR] == REF_CORR_DEFAULT ? ref_text(t, x->rec, ref[F_CORR], text + 80)
                                              : ref_str(t, ref[F_CORR]);
    e->worker = (x->flags & NF_WORKER_FILLED) && x->paired >= 0
                    ? nstr(t, &t->items[x->paired], F_WORKER)
                    : ref_str(t, ref[F_WORKER]);
    e->step = ref_str(t, ref[F_STEP]);
    e->source = ref_str(t, ref[F_SOURCE]);
    e->status = ref_str(t, ref[F_STATUS]);
    e->message = ref_str(t, ref[F_MESSAGE]);
    e->error_type = ref_str(t, ref[F_ERROR_TYPE]);
    e->error_message = ref_str(t, ref[F_ERROR_MESSAGE]);
    int64_t duration = -1;
    int32_t attempt = -1, priority = -1;
    double timeout = 0, progress = -1;
    uint32_t payload = 0;
    if ((m & (1u << F_DURATION)) && (fl & REC_DUR32)) {
        int32_t d;
        memcpy(&d, p, 4), p += 4;
        duration = d;
    } else if (m & (1u << F_DURATION)) {
        memcpy(&duration, p, 8), p += 8;
    }
    if (m & (1u << F_ATTEMPT)) memcpy(&attempt, p, 4), p += 4;
    if (m & (1u << F_PRIORITY)) memcpy(&priority, p, 4), p += 4;
    if (m & (1u << F_TIMEOUT)) memcpy(&timeout, p, 8), p += 8;
    if (m & (1u << F_PROGRESS)) memcpy(&progress, p, 8), p += 8;
    if ((m & (1u << F_PAYLOAD)) && (fl & REC_PAY16)) {
        uint16_t v;
        memcpy(&v, p, 2), p += 2;
        payload = v;
    } else if (m & (1u << F_PAYLOAD)) {
        memcpy(&payload, p, 4), p += 4;
    }
    e->duration_us = duration;
    e->attempt = attempt;
    e->priority = priority;
    e->timeout_s = timeout;
    e->progress = progress;
    e->payload_bytes = payload;
    out->duration_us = duration >= 0                    ? duration
                       : is_answer(x) && x->paired >= 0 ? ts_of(x) - ts_of(&t->items[x->paired])
                                                        : -1;
    const char *refs = p;
    e->n_attrs = (unsigned)(uint8_t)r[2];
    for (unsigned a = 0; a < e->n_attrs; a++) {
        e->attrs[a].key = ref_str(t, get_ref(refs + 2 * w * a, w));
        e->attrs[a].value = ref_str(t, get_ref(refs + 2 * w * a + w, w));
    }
    e->metric_name = empty_str;
    e->metric_value = 0;
    e->metric_kind = 0;
    e->n_tags = 0;
    e->tags_dropped = 0;
    return out;
}

trace *trace_new_sized(const char *tx, size_t room)
{
    tx = nz(tx);
    size_t len = strlen(tx);
    if (room < 8) room = 8;
    if (room > TRACE_ROOM_MAX) room = TRACE_ROOM_MAX;
    trace *t = malloc(offsetof(trace, tx) + len + 1 + room);
    if (!t) return NULL;
    memcpy(t->tx, tx, len + 1);
    t->room = (uint32_t)room;
    t->items = t->inline_items;
    t->pool = inline_pool(t);
    t->n = 0;
    t->pool_len = 0; /* a string is never at 0 (a record head comes first): ref 0 = absent */
    t->pool_cap = (uint32_t)room;
    memset(&t->index_mark, 0, sizeof t->index_mark);
    return t;
}

trace *trace_new(const char *tx)
{
    return trace_new_sized(tx, INLINE_POOL);
}

size_t trace_pool_bytes(const trace *t)
{
    return t ? t->pool_len : 0;
}

void trace_free(trace *t)
{
    if (!t) return;
    if (t->items != t->inline_items) free(t->items);
    if (!pool_is_inline(t)) free(t->pool);
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

const trace_event *trace_get(const trace *t, size_t i, trace_event *out)
{
    return t && i < t->n ? view_of(t, &t->items[i], out) : NULL;
}

size_t trace_heap_bytes(const trace *t)
{
    if (!t) return 0;
    size_t bytes = offsetof(trace, tx) + strlen(t->tx) + 1 + t->room + MALLOC_OVERHEAD_BYTES;
    if (t->items != t->inline_items)
        bytes += items_cap(t) * sizeof *t->items + MALLOC_OVERHEAD_BYTES;
    if (!pool_is_inline(t)) bytes += t->pool_cap + MALLOC_OVERHEAD_BYTES;
    return bytes;
}

int64_t trace_first_ts_us(const trace *t)
{
    return t->n ? ts_of(&t->items[0]) : 0;
}

int64_t trace_last_ts_us(const trace *t)
{
    return t->n ? ts_of(&t->items[t->n - 1]) : 0;
}

int64_t trace_duration_us(const trace *t)
{
    return t->n < 2 ? 0 : trace_last_ts_us(t) - trace_first_ts_us(t);
}

/* ---- pairing -------------------------------------------------------------- */

/* The answer's own worker: "" when it only borrowed its command's. */
static const char *own_worker(const trace *t, const trace_node *a)
{
    return a->flags & NF_WORKER_FILLED ? empty_str : nstr(t, a, F_WORKER);
}

/* The worker a node shows (an answer's may be its command's). */
static const char *shown_worker(const trace *t, const trace_node *x)
{
    if ((x->flags & NF_WORKER_FILLED) && x->paired >= 0)
        return nstr(t, &t->items[x->paired], F_WORKER);
    return nstr(t, x, F_WORKER);
}

/* Whether field fa of node a and field fb of node b say the same text. */
static int fields_eq(const trace *t, const trace_node *a, unsigned fa, const trace_node *b,
                     unsigned fb)
{
    uint32_t ra = rec_ref(t, a->rec, fa), rb = rec_ref(t, b->rec, fb);
    if (!ra || !rb) return !ra && !rb;
    if (is_uuid_ref(ra) && is_uuid_ref(rb))
        return !memcmp(t->pool + (ra >> 2), t->pool + (rb >> 2), 16);
    if (ra == rb && ra != REF_CORR_DEFAULT) return 1;
    char ba[TEXT_MAX], bb[TEXT_MAX];
    return !strcmp(ref_text(t, a->rec, ra, ba), ref_text(t, b->rec, rb, bb));
}

static int has_field(const trace *t, const trace_node *x, unsigned f)
{
    return rec_ref(t, x->rec, f) != 0;
}

/* The request (command or compensation) answer `a` names by its cmd, or -1. */
static int32_t find_command_by_id(const trace *t, const trace_node *a)
{
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = &t->items[i];
        if (is_request(c) && fields_eq(t, c, F_ID, a, F_CMD)) return (int32_t)i;
    }
    return -1;
}

/*
 * Whether an event with this id is kept. A uuid is compared as its 16 bytes
 * with the packed ids (it is kept packed, or as the tx); any other id as
 * text with the ids kept as text.
 */
static int has_id(const trace *t, const char *id)
{
    uint8_t u[16];
    int is_uuid = uuid_parse(id, u);
    if (streq(id, t->tx)) {
        for (uint32_t i = 0; i < t->n; i++)
            if (rec_ref(t, t->items[i].rec, F_ID) == REF_TX) return 1;
        return 0;
    }
    for (uint32_t i = t->n; i-- > 0;) {
        uint32_t ref = rec_ref(t, t->items[i].rec, F_ID);
        if (is_uuid_ref(ref) ? is_uuid && !memcmp(t->pool + (ref >> 2), u, 16)
                             : !is_uuid && ref != REF_TX && streq(ref_str(t, ref), id))
            return 1;
    }
    return 0;
}

/*
 * The rule by which answer `a` may pair with request `c` (1, 2, 3), or 0.
 * An answer that names a request present in the trace answers that one
 * only (`named_present`). A compensation pairs by id or corr only.
 */
static int match_rule(const trace *t, const trace_node *a, const trace_node *c, int named_present)
{
    if (has_field(t, a, F_CMD) && fields_eq(t, a, F_CMD, c, F_ID)) return 1;
    if (named_present) return 0;
    if (has_field(t, a, F_CORR) && fields_eq(t, a, F_CORR, c, F_CORR)) return 2;
    if (c->type == BM_EV_COMPENSATION) return 0;
    const char *w = own_worker(t, a);
    if (streq(nstr(t, a, F_STEP), nstr(t, c, F_STEP)) && (!w[0] || streq(w, nstr(t, c, F_WORKER))))
        return 3;
    return 0;
}

/*
 * A candidate partner under `rule` is free, or paired by a strictly weaker
 * rule (then taking it displaces its partner).
 */
static int can_take(const trace_node *x, int rule)
{
    return x->paired < 0 || x->pair_rule > rule;
}

/* The best command for answer `ai`: strongest rule, then free, then earliest. */
static int32_t best_command_for(const trace *t, uint32_t ai, int *rule_out)
{
    const trace_node *a = &t->items[ai];
    if (has_field(t, a, F_CMD)) {
        int32_t ci = find_command_by_id(t, a);
        if (ci >= 0) {
            *rule_out = 1;
            return can_take(&t->items[ci], 1) ? ci : -1;
        }
    }
    int32_t best = -1;
    int best_rule = 4, best_free = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = &t->items[i];
        if (!is_request(c)) continue;
        int r = match_rule(t, a, c, 0);
        if (!r || !can_take(c, r)) continue;
        int is_free = c->paired < 0;
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
    const trace_node *c = &t->items[ci];
    int32_t best = -1;
    int best_rule = 4, best_free = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *a = &t->items[i];
        if (!is_answer(a)) continue;
        int r = match_rule(t, a, c, 0);
        if (!r || !can_take(a, r)) continue;
        /* One that names another request present in the trace answers
         * that one (the flag: no O(n) look-up per answer, which made adding
         * a command O(n^2)). */
        if (r > 1 && (a->flags & NF_NAMES_PRESENT)) continue;
        int is_free = a->paired < 0;
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
    x->paired = -1;
    x->pair_rule = 0;
    x->flags &= (uint8_t) ~(NF_ANSWERS_COMP | NF_WORKER_FILLED);
}

static void link_nodes(trace *t, uint32_t ai, uint32_t ci, int rule)
{
    trace_node *a = &t->items[ai], *c = &t->items[ci];
    a->paired = (int32_t)ci;
    c->paired = (int32_t)ai;
    a->pair_rule = c->pair_rule = (uint8_t)rule;
    if (!(a->flags & (NF_EVER_PAIRED | NF_LATE))) a->flags |= NF_FIRST_LINK;
    a->flags |= NF_EVER_PAIRED;
    a->flags &= (uint8_t) ~(NF_LATE | NF_ANSWERS_COMP | NF_WORKER_FILLED);
    if (c->type == BM_EV_COMPENSATION) a->flags |= NF_ANSWERS_COMP;
    if (!nstr(t, a, F_WORKER)[0] && nstr(t, c, F_WORKER)[0]) a->flags |= NF_WORKER_FILLED;
}

/* Pair the event at `start`, and re-pair whatever it displaces. */
static void pair_from(trace *t, uint32_t start)
{
    int32_t pending = (int32_t)start;
    for (uint32_t guard = 0; pending >= 0 && guard <= 2 * t->n + 8; guard++) {
        const trace_node *p = &t->items[pending];
        int rule = 0;
        int32_t other;
        if (is_answer(p))
            other = best_command_for(t, (uint32_t)pending, &rule);
        else if (is_request(p))
            other = best_answer_for(t, (uint32_t)pending, &rule);
        else
            return;
        if (other < 0) return;
        int32_t displaced = t->items[other].paired;
        if (displaced >= 0) unlink_node(&t->items[displaced]);
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
    int32_t named = has_field(t, a, F_CMD) ? find_command_by_id(t, a) : -1;
    int has_corr = has_field(t, a, F_CORR);
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *c = &t->items[i];
        if (!is_command(c) || c->paired < 0) continue;
        if (named >= 0 ? (int32_t)i != named : !(has_corr && fields_eq(t, a, F_CORR, c, F_CORR)))
            continue;
        if (node_is_busmon_timeout(t, &t->items[c->paired])) return 1;
    }
    return 0;
}

/* ---- add ------------------------------------------------------------------ */

/* NF_NAMES_PRESENT for the node just added at `pos`: an answer naming a
 * request already here, or the answers here that name a new request. */
static void mark_names_present(trace *t, uint32_t pos)
{
    trace_node *x = &t->items[pos];
    if (is_answer(x) && has_field(t, x, F_CMD) && find_command_by_id(t, x) >= 0) {
        x->flags |= NF_NAMES_PRESENT;
    } else if (is_request(x)) {
        for (uint32_t i = 0; i < t->n; i++) {
            trace_node *a = &t->items[i];
            if (is_answer(a) && !(a->flags & NF_NAMES_PRESENT) && has_field(t, a, F_CMD) &&
                fields_eq(t, a, F_CMD, x, F_ID))
                a->flags |= NF_NAMES_PRESENT;
        }
    }
}

/*
 * Request `ri` just arrived: an answer that names it, paired with another
 * request by corr or step + worker (a guess made before `ri` was here),
 * answers `ri` only from now on (trace.h). pair_from gave `ri` one of them;
 * the others leave their guess, and the request each leaves looks again.
 */
static void leave_guesses_for(trace *t, uint32_t ri)
{
    for (uint32_t i = 0; i < t->n; i++) {
        trace_node *a = &t->items[i];
        if (!is_answer(a) || !(a->flags & NF_NAMES_PRESENT) || a->paired < 0 ||
            a->paired == (int32_t)ri || a->pair_rule == 1 ||
            !fields_eq(t, a, F_CMD, &t->items[ri], F_ID))
            continue;
        int32_t left = a->paired;
        unlink_node(&t->items[left]);
        unlink_node(a);
        if (answers_timed_out(t, a)) a->flags |= NF_LATE;
        pair_from(t, (uint32_t)left);
    }
}

static int status_is_final(const char *s);

static int grow_items(trace *t)
{
    uint32_t old = items_cap(t);
    if (old >= MAX_INDEX / 2) return -1;
    size_t cap = t->items == t->inline_items ? 8 : (size_t)old * 2;
    trace_node *items;
    if (t->items == t->inline_items) {
        items = malloc(cap * sizeof *items);
        if (!items) return -1;
        memcpy(items, t->inline_items, t->n * sizeof *items);
    } else {
        items = realloc(t->items, cap * sizeof *items);
        if (!items) return -1;
    }
    t->items = items;
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
    if (id[0] && has_id(t, id)) return TRACE_ADD_DUPLICATE;
    if ((max_events && t->n >= max_events) || t->n >= MAX_INDEX) return TRACE_ADD_FULL;
    if (t->n == items_cap(t) && grow_items(t)) return TRACE_ADD_NOMEM;
    uint32_t rec = rec_add(t, ev);
    if (rec == NO_REC) return TRACE_ADD_NOMEM;

    uint32_t pos = t->n;
    while (pos > 0 && ts_of(&t->items[pos - 1]) > ev->ts_us)
        pos--;
    if (pos < t->n) {
        for (uint32_t i = 0; i < t->n; i++)
            if (t->items[i].paired >= (int32_t)pos) t->items[i].paired++;
        memmove(t->items + pos + 1, t->items + pos, (t->n - pos) * sizeof *t->items);
    }
    trace_node *node = &t->items[pos];
    node->ts_lo = (uint32_t)(uint64_t)ev->ts_us;
    node->ts_hi = (uint32_t)((uint64_t)ev->ts_us >> 32);
    node->paired = -1;
    node->rec = rec;
    node->type = (uint8_t)ev->type;
    node->ok = (int8_t)(ev->ok > 0 ? 1 : ev->ok == 0 ? 0 : -1);
    node->pair_rule = 0;
    node->flags = 0;
    t->n++;
    mark_names_present(t, pos);
    if (is_answer(node) || is_request(node)) pair_from(t, pos);
    if (is_request(node)) leave_guesses_for(t, pos);
    if (is_answer(node) && node->paired < 0 && answers_timed_out(t, node)) node->flags |= NF_LATE;
    /* a request that gave an answer read before it its first partner */
    int answered_early =
        is_request(node) && node->paired >= 0 && (t->items[node->paired].flags & NF_FIRST_LINK);
    for (uint32_t i = 0; i < t->n; i++)
        t->items[i].flags &= (uint8_t)~NF_FIRST_LINK;
    if (node->type == BM_EV_STATUS && !trace_is_closed(t) &&
        status_is_final(nstr(t, node, F_STATUS)))
        node->flags |= NF_CLOSER;
    if (added_out) {
        view_of(t, node, added_out);
        added_out->answered_early = (uint8_t)answered_early;
    }
    return TRACE_ADD_OK;
}

const trace_event *trace_closed_by(const trace *t, trace_event *out)
{
    if (!t) return NULL;
    for (uint32_t i = 0; i < t->n; i++)
        if (t->items[i].flags & NF_CLOSER) return view_of(t, &t->items[i], out);
    return NULL;
}

int trace_is_closed(const trace *t)
{
    if (!t) return 0;
    for (uint32_t i = 0; i < t->n; i++)
        if (t->items[i].flags & NF_CLOSER) return 1;
    return 0;
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
    return is_answer(n) && !(n->flags & (NF_LATE | NF_ANSWERS_COMP));
}

/* A failure at `i` not followed by a success of the same step and worker. */
static int failure_stands(const trace *t, uint32_t i)
{
    const trace_node *f = &t->items[i];
    const char *f_step = nstr(t, f, F_STEP), *f_worker = shown_worker(t, f);
    for (uint32_t j = i + 1; j < t->n; j++) {
        const trace_node *s = &t->items[j];
        if (is_step_outcome(s) && node_outcome(t, s) == BM_OUTCOME_SUCCESS &&
            streq(nstr(t, s, F_STEP), f_step) && same_worker(shown_worker(t, s), f_worker))
            return 0;
    }
    return 1;
}

int trace_failure_stands(const trace *t, size_t i)
{
    if (!t || i >= t->n) return 0;
    const trace_node *n = &t->items[i];
    return is_step_outcome(n) && node_is_failure(t, n) && failure_stands(t, (uint32_t)i);
}

int trace_step_failed(const trace *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (trace_failure_stands(t, i)) return 1;
    return 0;
}

trace_status trace_get_status(const trace *t)
{
    int said[SAYS_CANCELLED + 1] = {0};
    size_t commands = 0, answered = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const trace_node *n = &t->items[i];
        if (n->type == BM_EV_STATUS) {
            said[status_says(nstr(t, n, F_STATUS))] = 1;
        } else if (is_command(n)) {
            commands++;
            if (n->paired >= 0) answered++;
        }
    }
    if (said[SAYS_CANCELLED]) return TRACE_CANCELLED;
    if (said[SAYS_COMPENSATED]) return TRACE_COMPENSATED;
    if (said[SAYS_FAILED] || trace_step_failed(t)) return TRACE_FAILED;
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
