/*
 * error_patterns.c - errors grouped into patterns (lib/error_patterns.h):
 * per pattern, counts over the three rolling windows, 24 hourly buckets for
 * the trend, first / last seen, one example message and the workers hit.
 *
 * Not here: where errors come from (the agent calls error_patterns_add for
 * every error event and failed result), and no I/O or clock.
 *
 * Layout. Patterns live in one array (doubling, capped at max_patterns),
 * found by key through an open-addressing index of array positions + 1
 * (0 = empty slot; no tombstones: a removal rebuilds the index):
 *
 *   index[hash(key) & mask] --> patterns[i] = { key, counts, workers, slots }
 *
 * Each pattern's counts are four rings of (period number, count) slots kept
 * in one array; the ring shapes are the table's, shared by every pattern:
 *
 *   slots: [ 1m: 6 x 10 s ][ 5m: 10 x 30 s ][ perf: 12 x perf/12 ][ hours: 24 x 1 h ]
 *
 * A slot belongs to period number floor(t / period_us); at time now the live
 * periods of a ring of n are the n up to and including now's, so a window's
 * edge moves in steps of one period, as in lib/window.h. A slot is reused
 * (its count restarted) when a later period maps onto it. That is 52 slots,
 * 832 bytes, per pattern: counts only, no histograms, so lib/window.h's
 * bm_window (a histogram per period) would be heavier than needed here.
 *
 * The example message is the first non-empty one seen: it never changes, so
 * a rollup reader sees the same example from one interval to the next.
 *
 * Eviction. A full table makes room for a new pattern by evicting the one
 * seen least recently, when it has been idle for max_idle_us (the last one
 * moves into its place; the index is rebuilt: at most max_patterns entries,
 * and only when the table is full). When none is idle, the earliest time
 * one can be is kept, so refusals cost O(1) until then. Loads and merges
 * never evict.
 *
 * Workers: the first BM_PATTERN_WORKERS_MAX distinct names are listed; the
 * others are counted exactly (workers_more) through a small set of 64-bit
 * name hashes, allocated on first overflow and bounded at
 * MORE_WORKERS_TRACKED_MAX names, where workers_more stops growing.
 */
#include "error_patterns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "state_codec.h"

#define DEFAULT_MAX_PATTERNS     200
#define DEFAULT_PERF_WINDOW_US   (60LL * 60 * 1000000)
#define SECOND_US                1000000LL
#define HOUR_US                  (3600LL * SECOND_US)
#define EXAMPLE_MAX              sizeof(((bm_error_pattern *)0)->example)
#define MIN_PATTERNS_CAP         16
#define MORE_WORKERS_TRACKED_MAX 1024
#define MORE_SET_MIN_CAP         16
#define TIMEOUT_KEY              "timeout" /* the pattern of every timeout, whatever its case */

/* Trend rule (see the header). */
#define TREND_UP_FACTOR         1.5
#define TREND_DOWN_FACTOR       0.5
#define TREND_MIN_ERRORS        3   /* in the recent hours (up), in the previous hours (down) */
#define TREND_MIN_HISTORY_HOURS 1.0 /* observed time before the last full hour */
#define TREND_HOURS             24

enum { RING_1M = 0, RING_5M, RING_PERF, RING_HOURS, RING__COUNT };

#define SLOTS_TOTAL (6 + 10 + 12 + TREND_HOURS)

typedef struct {
    int64_t period_us;
    unsigned n;
    unsigned offset; /* first slot of this ring in pattern.slots */
} ring_spec;

typedef struct {
    int64_t period_no; /* floor(t / period_us); INT64_MIN = never used */
    uint64_t count;
} ring_slot;

typedef struct {
    uint64_t key_hash;
    char key[BM_NAME_MAX];
    uint64_t total;
    int64_t first_seen_us, last_seen_us;
    char example[EXAMPLE_MAX];
    unsigned n_workers;
    uint64_t worker_hash[BM_PATTERN_WORKERS_MAX];
    char workers[BM_PATTERN_WORKERS_MAX][BM_NAME_MAX];
    uint64_t *more_set; /* open addressing of name hashes (0 = empty); NULL until needed */
    uint32_t more_cap, more_n;
    ring_slot slots[SLOTS_TOTAL];
} pattern;

struct error_patterns {
    size_t max_patterns;
    ring_spec ring[RING__COUNT];
    pattern *patterns;
    size_t n_patterns, cap_patterns;
    uint32_t *index; /* position + 1, 0 = empty */
    size_t index_mask;
    uint64_t refused;
    int64_t started_us; /* time of the first add: where the trend's history begins */
    int started;
    int64_t max_idle_us;    /* evictable when idle this long (0: never) */
    int64_t evict_after_us; /* no pattern is evictable before this (0: unknown) */
    uint64_t evicted;
    char last_refused[BM_NAME_MAX];
};

/* FNV-1a, 64 bits: keys and worker names are short and this is not a hot path
 * next to the decoding of the event that carried the error. */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1; /* 0 marks an empty slot of a worker set */
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static unsigned ring_pos(const ring_spec *rs, int64_t period_no)
{
    int64_t m = period_no % (int64_t)rs->n;
    if (m < 0) m += rs->n;
    return rs->offset + (unsigned)m;
}

static void ring_add(const ring_spec *rs, ring_slot *slots, int64_t now_us)
{
    int64_t pn = floor_div(now_us, rs->period_us);
    ring_slot *s = &slots[ring_pos(rs, pn)];
    if (s->period_no == pn) {
        s->count++;
    } else if (s->period_no < pn) {
        s->period_no = pn;
        s->count = 1;
    }
    /* else the slot holds a later period: this time is older than the ring
     * reaches, so it is out of every window (it still counts in total). */
}

/* Count of one period, 0 when its slot holds another. */
static uint64_t ring_get(const ring_spec *rs, const ring_slot *slots, int64_t period_no)
{
    const ring_slot *s = &slots[ring_pos(rs, period_no)];
    return s->period_no == period_no ? s->count : 0;
}

/* Sum over the live periods at now_us: the n up to and including now's. */
static uint64_t ring_sum(const ring_spec *rs, const ring_slot *slots, int64_t now_us)
{
    int64_t cur = floor_div(now_us, rs->period_us);
    uint64_t sum = 0;
    for (unsigned i = 0; i < rs->n; i++) {
        const ring_slot *s = &slots[rs->offset + i];
        if (s->period_no <= cur && s->period_no > cur - (int64_t)rs->n) sum += s->count;
    }
    return sum;
}

/* ---- keys ------------------------------------------------------------- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trim [*s, *s + *len) of white space on both sides. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_space((unsigned char)(*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* Copy len bytes of src into dst (size n >= 1), cut to fit without splitting
 * a UTF-8 sequence, and terminate. */
static void copy_cut(char *dst, size_t n, const char *src, size_t len)
{
    if (len > n - 1) {
        len = n - 1;
        /* src[len] is the first byte left out: if it continues a sequence,
         * leave out the whole sequence. */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/*
 * The group key: the type when it has more than white space, else the
 * message up to its first ':' (all of it when it has none, as Python's
 * message.split(':')[0] would give), trimmed, else "unknown". Cut to n - 1
 * bytes on a UTF-8 boundary. A type that is "timeout" in any case is
 * "timeout": that is what makes the error a timeout (lib/trace.c), and
 * busmon's own timeouts say "timeout", so one pattern holds them all.
 */
void error_patterns_key(const char *error_type, const char *message, char *buf, size_t n)
{
    if (!buf || n == 0) return;
    const char *s = error_type ? error_type : "";
    size_t len = strlen(s);
    trim(&s, &len);
    if (len == strlen(TIMEOUT_KEY) && !strncasecmp(s, TIMEOUT_KEY, len)) s = TIMEOUT_KEY;
    if (len == 0) {
        s = message ? message : "";
        const char *colon = strchr(s, ':');
        len = colon ? (size_t)(colon - s) : strlen(s);
        trim(&s, &len);
    }
    if (len == 0) {
        s = "unknown";
        len = strlen(s);
    }
    copy_cut(buf, n, s, len);
}

/* ---- table ------------------------------------------------------------ */

error_patterns *error_patterns_new(size_t max_patterns, int64_t perf_window_us)
{
    error_patterns *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (max_patterns == 0) max_patterns = DEFAULT_MAX_PATTERNS;
    if (max_patterns > UINT32_MAX / 4) max_patterns = UINT32_MAX / 4; /* index holds uint32 */
    if (perf_window_us <= 0) perf_window_us = DEFAULT_PERF_WINDOW_US;
    int64_t perf_period_us = perf_window_us / 12;
    if (perf_period_us < 1) perf_period_us = 1;
    p->max_patterns = max_patterns;
    p->max_idle_us = HOUR_US;
    p->ring[RING_1M] = (ring_spec){10 * SECOND_US, 6, 0};
    p->ring[RING_5M] = (ring_spec){30 * SECOND_US, 10, 6};
    p->ring[RING_PERF] = (ring_spec){perf_period_us, 12, 16};
    p->ring[RING_HOURS] = (ring_spec){HOUR_US, TREND_HOURS, 28};
    return p;
}

void error_patterns_free(error_patterns *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_patterns; i++)
        free(p->patterns[i].more_set);
    free(p->patterns);
    free(p->index);
    free(p);
}

size_t error_patterns_count(const error_patterns *p)
{
    return p ? p->n_patterns : 0;
}

uint64_t error_patterns_refused(const error_patterns *p)
{
    return p ? p->refused : 0;
}

uint64_t error_patterns_evicted(const error_patterns *p)
{
    return p ? p->evicted : 0;
}

const char *error_patterns_last_refused(const error_patterns *p)
{
    return p ? p->last_refused : "";
}

void error_patterns_set_max_idle(error_patterns *p, int64_t max_idle_us)
{
    if (p) p->max_idle_us = max_idle_us > 0 ? max_idle_us : 0;
}

static pattern *find(const error_patterns *p, const char *key, uint64_t h)
{
    if (!p->index) return NULL;
    for (size_t i = h & p->index_mask;; i = (i + 1) & p->index_mask) {
        uint32_t v = p->index[i];
        if (v == 0) return NULL;
        pattern *pt = &p->patterns[v - 1];
        if (pt->key_hash == h && strcmp(pt->key, key) == 0) return pt;
    }
}

static void index_put(uint32_t *index, size_t mask, uint64_t h, uint32_t value)
{
    size_t i = h & mask;
    while (index[i] != 0)
        i = (i + 1) & mask;
    index[i] = value;
}

/* Make room for one more pattern: the array and an index at most half full.
 * @return 0 or -1 (out of memory; nothing changed). */
static int reserve_one(error_patterns *p)
{
    if (p->n_patterns == p->cap_patterns) {
        size_t cap = p->cap_patterns ? p->cap_patterns * 2 : MIN_PATTERNS_CAP;
        if (cap > p->max_patterns) cap = p->max_patterns;
        pattern *np = realloc(p->patterns, cap * sizeof *np);
        if (!np) return -1;
        p->patterns = np;
        p->cap_patterns = cap;
    }
    size_t index_cap = p->index ? p->index_mask + 1 : 0;
    if ((p->n_patterns + 1) * 2 > index_cap) {
        size_t ncap = index_cap ? index_cap * 2 : MIN_PATTERNS_CAP * 2;
        while ((p->n_patterns + 1) * 2 > ncap)
            ncap *= 2;
        uint32_t *ni = calloc(ncap, sizeof *ni);
        if (!ni) return -1;
        for (size_t i = 0; i < p->n_patterns; i++)
            index_put(ni, ncap - 1, p->patterns[i].key_hash, (uint32_t)(i + 1));
        free(p->index);
        p->index = ni;
        p->index_mask = ncap - 1;
    }
    return 0;
}

/* Add a name hash to a pattern's set of unlisted workers.
 * @return 1 when it was new, 0 when known or when the set is full / could not grow. */
static int more_add(pattern *pt, uint64_t h)
{
    if (pt->more_set) {
        for (size_t i = h & (pt->more_cap - 1);; i = (i + 1) & (pt->more_cap - 1)) {
            if (pt->more_set[i] == h) return 0;
            if (pt->more_set[i] == 0) break;
        }
    }
    if (pt->more_n >= MORE_WORKERS_TRACKED_MAX) return 0;
    if ((pt->more_n + 1) * 2 > pt->more_cap) {
        uint32_t ncap = pt->more_cap ? pt->more_cap * 2 : MORE_SET_MIN_CAP;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) return 0;
        for (uint32_t i = 0; i < pt->more_cap; i++) {
            uint64_t v = pt->more_set[i];
            if (!v) continue;
            size_t j = v & (ncap - 1);
            while (ns[j] != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = v;
        }
        free(pt->more_set);
        pt->more_set = ns;
        pt->more_cap = ncap;
    }
    size_t i = h & (pt->more_cap - 1);
    while (pt->more_set[i] != 0)
        i = (i + 1) & (pt->more_cap - 1);
    pt->more_set[i] = h;
    pt->more_n++;
    return 1;
}

static void note_worker(pattern *pt, const char *worker)
{
    size_t len = strlen(worker);
    if (len == 0) return;
    uint64_t h = hash_bytes(worker, len);
    for (unsigned i = 0; i < pt->n_workers; i++)
        if (pt->worker_hash[i] == h) return;
    if (pt->n_workers < BM_PATTERN_WORKERS_MAX) {
        pt->worker_hash[pt->n_workers] = h;
        copy_cut(pt->workers[pt->n_workers], BM_NAME_MAX, worker, len);
        pt->n_workers++;
        return;
    }
    more_add(pt, h);
}

/* Remove the pattern seen least recently when it has been idle for
 * max_idle at now_us. @return 1 when one was evicted, else 0. */
static int evict_idle(error_patterns *p, int64_t now_us)
{
    if (p->max_idle_us <= 0 || p->n_patterns == 0 || now_us < p->evict_after_us) return 0;
    size_t victim = 0;
    for (size_t i = 1; i < p->n_patterns; i++)
        if (p->patterns[i].last_seen_us < p->patterns[victim].last_seen_us) victim = i;
    pattern *pt = &p->patterns[victim];
    if (now_us - pt->last_seen_us < p->max_idle_us) {
        p->evict_after_us = pt->last_seen_us + p->max_idle_us;
        return 0;
    }
    free(pt->more_set);
    p->n_patterns--;
    if (victim != p->n_patterns) *pt = p->patterns[p->n_patterns];
    memset(p->index, 0, (p->index_mask + 1) * sizeof *p->index);
    for (size_t i = 0; i < p->n_patterns; i++)
        index_put(p->index, p->index_mask, p->patterns[i].key_hash, (uint32_t)(i + 1));
    p->evicted++;
    return 1;
}

/* A new, empty pattern for key (hash h; not in the table), first and last
 * seen at now_us; a full table evicts an idle one first when `may_evict`.
 * @return it, or NULL (the bound, or out of memory). */
static pattern *new_pattern(error_patterns *p, const char *key, uint64_t h, int64_t now_us,
                            int may_evict)
{
    if (p->n_patterns >= p->max_patterns && !(may_evict && evict_idle(p, now_us))) return NULL;
    if (reserve_one(p) != 0) return NULL;
    pattern *pt = &p->patterns[p->n_patterns];
    memset(pt, 0, sizeof *pt);
    pt->key_hash = h;
    copy_cut(pt->key, sizeof pt->key, key, strlen(key));
    pt->first_seen_us = pt->last_seen_us = now_us;
    for (unsigned i = 0; i < SLOTS_TOTAL; i++)
        pt->slots[i].period_no = INT64_MIN;
    index_put(p->index, p->index_mask, h, (uint32_t)(p->n_patterns + 1));
    p->n_patterns++;
    return pt;
}

int error_patterns_add(error_patterns *p, const char *error_type, const char *message,
                       const char *worker, int64_t now_us)
{
    if (!p) return -1;
    if (!p->started || now_us < p->started_us) p->started_us = now_us;
    p->started = 1;

    char key[BM_NAME_MAX];
    error_patterns_key(error_type, message, key, sizeof key);
    uint64_t h = hash_bytes(key, strlen(key));
    pattern *pt = find(p, key, h);
    if (!pt) {
        pt = new_pattern(p, key, h, now_us, 1);
        if (!pt) {
            p->refused++;
            snprintf(p->last_refused, sizeof p->last_refused, "%s", key);
            return -1;
        }
    }

    pt->total++;
    if (now_us < pt->first_seen_us) pt->first_seen_us = now_us;
    if (now_us > pt->last_seen_us) pt->last_seen_us = now_us;
    for (unsigned r = 0; r < RING__COUNT; r++)
        ring_add(&p->ring[r], pt->slots, now_us);
    if (pt->example[0] == '\0' && message && message[0])
        copy_cut(pt->example, sizeof pt->example, message, strlen(message));
    if (worker) note_worker(pt, worker);
    return 0;
}

/* ---- trend ------------------------------------------------------------ */

/*
 * Recent = the last full hour and the current one, as a rate per hour over
 * the time they cover (1 h + the part of the current hour gone by). Previous
 * = the 22 hours before the last full one, but only from when the table saw
 * its first error (hours before that were not observed, so they are not
 * zeros): their count divided by the hours observed. Fewer than
 * TREND_MIN_HISTORY_HOURS observed, or too few errors on the side that
 * would make the call, is "stable".
 */
static bm_trend trend_of(const error_patterns *p, const pattern *pt, int64_t now_us)
{
    const ring_spec *rs = &p->ring[RING_HOURS];
    int64_t hour = floor_div(now_us, HOUR_US);
    double gone = (double)(now_us - hour * HOUR_US) / (double)HOUR_US;
    uint64_t recent = ring_get(rs, pt->slots, hour) + ring_get(rs, pt->slots, hour - 1);
    double recent_rate = (double)recent / (1.0 + gone);

    int64_t from_us = (hour - (TREND_HOURS - 1)) * HOUR_US;
    if (p->started_us > from_us) from_us = p->started_us;
    int64_t to_us = (hour - 1) * HOUR_US;
    double observed_hours = (double)(to_us - from_us) / (double)HOUR_US;
    if (observed_hours < TREND_MIN_HISTORY_HOURS) return BM_TREND_STABLE;

    uint64_t previous = 0;
    for (int64_t h = hour - (TREND_HOURS - 1); h <= hour - 2; h++)
        previous += ring_get(rs, pt->slots, h);
    double previous_rate = (double)previous / observed_hours;

    if (recent >= TREND_MIN_ERRORS && recent_rate > TREND_UP_FACTOR * previous_rate)
        return BM_TREND_INCREASING;
    if (previous >= TREND_MIN_ERRORS && recent_rate < TREND_DOWN_FACTOR * previous_rate)
        return BM_TREND_DECREASING;
    return BM_TREND_STABLE;
}

/* ---- snapshot --------------------------------------------------------- */

typedef struct {
    uint64_t perf_count;
    const char *key;
    size_t pos;
} rank_entry;

static int rank_cmp(const void *a, const void *b)
{
    const rank_entry *x = a, *y = b;
    if (x->perf_count != y->perf_count) return x->perf_count > y->perf_count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void fill(const error_patterns *p, const pattern *pt, int64_t now_us, bm_error_pattern *o)
{
    memset(o, 0, sizeof *o);
    memcpy(o->type, pt->key, sizeof o->type);
    o->count[0] = ring_sum(&p->ring[RING_1M], pt->slots, now_us);
    o->count[1] = ring_sum(&p->ring[RING_5M], pt->slots, now_us);
    o->count[2] = ring_sum(&p->ring[RING_PERF], pt->slots, now_us);
    o->total = pt->total;
    o->first_seen_us = pt->first_seen_us;
    o->last_seen_us = pt->last_seen_us;
    memcpy(o->example, pt->example, sizeof o->example);
    o->n_workers = pt->n_workers;
    memcpy(o->workers, pt->workers, sizeof o->workers);
    o->workers_more = pt->more_n;
    o->trend = trend_of(p, pt, now_us);
}

/*
 * Rank every pattern by its count over the performance window (descending,
 * ties by key) and fill the first `max`. Needs a temporary array of one
 * small entry per pattern: @return 0 when it cannot be allocated.
 */
size_t error_patterns_snapshot(const error_patterns *p, int64_t now_us, bm_error_pattern *out,
                               size_t max)
{
    if (!p || !out || max == 0 || p->n_patterns == 0) return 0;
    rank_entry *rank = malloc(p->n_patterns * sizeof *rank);
    if (!rank) return 0;
    for (size_t i = 0; i < p->n_patterns; i++) {
        rank[i].perf_count = ring_sum(&p->ring[RING_PERF], p->patterns[i].slots, now_us);
        rank[i].key = p->patterns[i].key;
        rank[i].pos = i;
    }
    qsort(rank, p->n_patterns, sizeof *rank, rank_cmp);
    size_t n = p->n_patterns < max ? p->n_patterns : max;
    for (size_t i = 0; i < n; i++)
        fill(p, &p->patterns[rank[i].pos], now_us, &out[i]);
    free(rank);
    return n;
}

/* ---- state ------------------------------------------------------------- */

#define HASH_BYTES 8

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int save_pattern(msgpack_packer *pk, const error_patterns *p, const pattern *pt)
{
    int e = msgpack_pack_map(pk, 8);
    e |= bm_sc_key_str(pk, "key", pt->key);
    e |= bm_sc_key_u64(pk, "total", pt->total);
    e |= bm_sc_key_i64(pk, "first_seen", pt->first_seen_us);
    e |= bm_sc_key_i64(pk, "last_seen", pt->last_seen_us);
    e |= bm_sc_key_str(pk, "example", pt->example);
    e |= bm_sc_key(pk, "workers");
    e |= msgpack_pack_array(pk, pt->n_workers);
    for (unsigned i = 0; i < pt->n_workers; i++)
        e |= bm_sc_str(pk, pt->workers[i]);

    /* sorted, so a state saves to the same bytes whatever its set's layout */
    uint64_t hashes[MORE_WORKERS_TRACKED_MAX];
    uint8_t more[MORE_WORKERS_TRACKED_MAX * HASH_BYTES];
    size_t nh = 0, n = 0;
    for (uint32_t i = 0; pt->more_set && i < pt->more_cap; i++)
        if (pt->more_set[i] && nh < MORE_WORKERS_TRACKED_MAX) hashes[nh++] = pt->more_set[i];
    qsort(hashes, nh, sizeof *hashes, cmp_u64);
    for (size_t i = 0; i < nh; i++)
        for (int b = HASH_BYTES - 1; b >= 0; b--)
            more[n++] = (uint8_t)(hashes[i] >> (8 * b));
    e |= bm_sc_key(pk, "more");
    e |= msgpack_pack_bin(pk, n);
    e |= msgpack_pack_bin_body(pk, more, n);

    e |= bm_sc_key(pk, "rings");
    e |= msgpack_pack_array(pk, RING__COUNT);
    for (unsigned r = 0; r < RING__COUNT; r++) {
        const ring_spec *rs = &p->ring[r];
        unsigned used = 0;
        for (unsigned i = 0; i < rs->n; i++)
            used += pt->slots[rs->offset + i].period_no != INT64_MIN;
        e |= msgpack_pack_array(pk, 2 * used);
        for (unsigned i = 0; i < rs->n; i++) {
            const ring_slot *sl = &pt->slots[rs->offset + i];
            if (sl->period_no == INT64_MIN) continue;
            e |= msgpack_pack_int64(pk, sl->period_no);
            e |= msgpack_pack_uint64(pk, sl->count);
        }
    }
    return e;
}

int error_patterns_save(const error_patterns *p, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 5);
    e |= bm_sc_key_u64(pk, "refused", p->refused);
    e |= bm_sc_key(pk, "started_us");
    e |= p->started ? msgpack_pack_int64(pk, p->started_us) : msgpack_pack_nil(pk);
    e |= bm_sc_key(pk, "rings_us");
    e |= msgpack_pack_array(pk, RING__COUNT);
    for (unsigned r = 0; r < RING__COUNT; r++)
        e |= msgpack_pack_int64(pk, p->ring[r].period_us);
    e |= bm_sc_key(pk, "patterns");
    e |= msgpack_pack_array(pk, p->n_patterns);
    for (size_t i = 0; i < p->n_patterns && !e; i++)
        e |= save_pattern(pk, p, &p->patterns[i]);
    e |= bm_sc_key_u64(pk, "evicted", p->evicted);
    return e ? -1 : 0;
}

/* Count `count` in period pn of ring rs: equal periods add, the newer
 * period of a slot wins. @return -1 when `dup` and the period is there. */
static int ring_put(const ring_spec *rs, ring_slot *slots, int64_t pn, uint64_t count, int dup)
{
    ring_slot *s = &slots[ring_pos(rs, pn)];
    if (s->period_no == pn) {
        if (dup) return -1;
        s->count += count;
    } else if (s->period_no == INT64_MIN || s->period_no < pn) {
        s->period_no = pn;
        s->count = count;
    }
    return 0;
}

static int load_rings(const error_patterns *p, pattern *pt, const msgpack_object *o, char *err,
                      size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != RING__COUNT)
        return bm_sc_fail(err, errlen, "'rings' is not an array of %d", RING__COUNT);
    for (unsigned r = 0; r < RING__COUNT; r++) {
        const msgpack_object *ring = &o->via.array.ptr[r];
        if (ring->type != MSGPACK_OBJECT_ARRAY || ring->via.array.size % 2)
            return bm_sc_fail(err, errlen, "ring %u is not [period_no, count, ...]", r);
        for (uint32_t i = 0; i < ring->via.array.size; i += 2) {
            int64_t pn;
            uint64_t count;
            if (bm_sc_as_time(&ring->via.array.ptr[i], &pn) ||
                bm_sc_as_u64(&ring->via.array.ptr[i + 1], &count))
                return bm_sc_fail(err, errlen, "ring %u: slot %u is not [period_no, count]", r,
                                  (unsigned)i / 2);
            if (ring_put(&p->ring[r], pt->slots, pn, count, 1))
                return bm_sc_fail(err, errlen, "ring %u: period %lld saved twice", r,
                                  (long long)pn);
        }
    }
    return BM_LOAD_OK;
}

static void add_more_hash(pattern *pt, uint64_t h)
{
    for (unsigned i = 0; i < pt->n_workers; i++)
        if (pt->worker_hash[i] == h) return;
    more_add(pt, h);
}

static int load_pattern(error_patterns *p, const msgpack_object *o, char *err, size_t errlen)
{
    char key[BM_NAME_MAX];
    if (o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "not a map");
    int rc = bm_sc_need_str(o, "key", key, sizeof key, err, errlen);
    if (rc) return rc;
    if (!key[0]) return bm_sc_fail(err, errlen, "empty key");
    uint64_t h = hash_bytes(key, strlen(key));
    if (find(p, key, h)) return bm_sc_fail(err, errlen, "'%s' saved twice", key);
    uint64_t total;
    int64_t first, last;
    char example[EXAMPLE_MAX];
    rc = bm_sc_need_u64(o, "total", &total, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "first_seen", &first, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "last_seen", &last, err, errlen);
    if (!rc) rc = bm_sc_need_str(o, "example", example, sizeof example, err, errlen);
    if (rc) return rc;
    const msgpack_object *workers = bm_sc_need(o, "workers", MSGPACK_OBJECT_ARRAY, err, errlen);
    const msgpack_object *more =
        workers ? bm_sc_need(o, "more", MSGPACK_OBJECT_BIN, err, errlen) : NULL;
    if (!more) return BM_LOAD_CORRUPT;
    if (more->via.bin.size % HASH_BYTES)
        return bm_sc_fail(err, errlen, "'more' is not a list of 8-byte hashes");

    if (p->n_patterns >= p->max_patterns) {
        p->refused += total;
        return BM_LOAD_OK;
    }
    pattern *pt = new_pattern(p, key, h, first, 0);
    if (!pt) {
        bm_sc_fail(err, errlen, "out of memory");
        return BM_LOAD_NOMEM;
    }
    pt->total = total;
    pt->last_seen_us = last;
    memcpy(pt->example, example, sizeof pt->example);
    for (uint32_t i = 0; i < workers->via.array.size; i++) {
        char name[BM_NAME_MAX];
        if (bm_sc_as_str(&workers->via.array.ptr[i], name, sizeof name) || !name[0])
            return bm_sc_fail(err, errlen, "worker %u is not a name of 1..%d bytes", (unsigned)i,
                              BM_NAME_MAX - 1);
        note_worker(pt, name);
    }
    const uint8_t *b = (const uint8_t *)more->via.bin.ptr;
    for (uint32_t i = 0; i + HASH_BYTES <= more->via.bin.size; i += HASH_BYTES) {
        uint64_t v = 0;
        for (int k = 0; k < HASH_BYTES; k++)
            v = v << 8 | b[i + k];
        if (v) add_more_hash(pt, v);
    }
    return load_rings(p, pt, bm_sc_get(o, "rings"), err, errlen);
}

static int load_into(error_patterns *tmp, const msgpack_object *o, char *err, size_t errlen)
{
    uint64_t refused;
    int rc = bm_sc_need_u64(o, "refused", &refused, err, errlen);
    if (rc) return rc;
    tmp->refused = refused;
    const msgpack_object *ev = bm_sc_get(o, "evicted"); /* absent before eviction existed */
    if (ev && bm_sc_as_u64(ev, &tmp->evicted))
        return bm_sc_fail(err, errlen, "'evicted' is not an integer >= 0");
    const msgpack_object *st = bm_sc_get(o, "started_us");
    if (st && st->type != MSGPACK_OBJECT_NIL) {
        if (bm_sc_as_time(st, &tmp->started_us))
            return bm_sc_fail(err, errlen, "'started_us' is not a time or nil");
        tmp->started = 1;
    }
    const msgpack_object *rings = bm_sc_need(o, "rings_us", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!rings) return BM_LOAD_CORRUPT;
    int same = rings->via.array.size == RING__COUNT;
    for (unsigned r = 0; same && r < RING__COUNT; r++) {
        int64_t us;
        same = bm_sc_as_i64(&rings->via.array.ptr[r], &us) == 0 && us == tmp->ring[r].period_us;
    }
    if (!same) {
        bm_sc_fail(err, errlen, "rings of other periods (another performance window)");
        return BM_LOAD_MISMATCH;
    }
    const msgpack_object *list = bm_sc_need(o, "patterns", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!list) return BM_LOAD_CORRUPT;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        rc = load_pattern(tmp, &list->via.array.ptr[i], err, errlen);
        if (rc) {
            bm_sc_wrap(err, errlen, "patterns[%u]", (unsigned)i);
            return rc;
        }
    }
    return BM_LOAD_OK;
}

int error_patterns_load(error_patterns *p, const msgpack_object *o, char *err, size_t errlen)
{
    if (!p || !o || o->type != MSGPACK_OBJECT_MAP)
        return bm_sc_fail(err, errlen, "errors: not a map");
    error_patterns *tmp = error_patterns_new(p->max_patterns, p->ring[RING_PERF].period_us * 12);
    if (!tmp) {
        bm_sc_fail(err, errlen, "errors: out of memory");
        return BM_LOAD_NOMEM;
    }
    tmp->max_idle_us = p->max_idle_us;
    int rc = load_into(tmp, o, err, errlen);
    if (rc == BM_LOAD_OK) {
        error_patterns swap = *p;
        *p = *tmp;
        *tmp = swap;
    } else {
        bm_sc_wrap(err, errlen, "errors");
    }
    error_patterns_free(tmp);
    return rc;
}

int error_patterns_merge(error_patterns *dst, const error_patterns *src)
{
    if (!dst || !src || dst == src) return -1;
    for (unsigned r = 0; r < RING__COUNT; r++)
        if (dst->ring[r].period_us != src->ring[r].period_us) return -1;
    dst->refused += src->refused;
    dst->evicted += src->evicted;
    dst->evict_after_us = 0; /* older last-seen times may have come in */
    if (src->started && (!dst->started || src->started_us < dst->started_us)) {
        dst->started_us = src->started_us;
        dst->started = 1;
    }
    int rc = 0;
    for (size_t i = 0; i < src->n_patterns; i++) {
        const pattern *s = &src->patterns[i];
        pattern *d = find(dst, s->key, s->key_hash);
        if (!d) {
            d = new_pattern(dst, s->key, s->key_hash, s->first_seen_us, 0);
            if (!d) {
                if (dst->n_patterns < dst->max_patterns) rc = -1; /* out of memory */
                dst->refused += s->total;
                continue;
            }
            d->last_seen_us = s->last_seen_us;
        }
        if (s->example[0] && (!d->example[0] || s->first_seen_us < d->first_seen_us))
            memcpy(d->example, s->example, sizeof d->example);
        d->total += s->total;
        if (s->first_seen_us < d->first_seen_us) d->first_seen_us = s->first_seen_us;
        if (s->last_seen_us > d->last_seen_us) d->last_seen_us = s->last_seen_us;
        for (unsigned w = 0; w < s->n_workers; w++)
            note_worker(d, s->workers[w]);
        for (uint32_t k = 0; s->more_set && k < s->more_cap; k++)
            if (s->more_set[k]) add_more_hash(d, s->more_set[k]);
        for (unsigned r = 0; r < RING__COUNT; r++) {
            const ring_spec *rs = &dst->ring[r];
            for (unsigned k = 0; k < rs->n; k++) {
                const ring_slot *sl = &s->slots[rs->offset + k];
                if (sl->period_no != INT64_MIN) ring_put(rs, d->slots, sl->period_no, sl->count, 0);
            }
        }
    }
    return rc;
}
