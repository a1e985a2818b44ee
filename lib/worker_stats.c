/*
 * worker_stats.c - every worker's performance and health from the event
 * stream (lib/worker_stats.h).
 *
 * Not here: pairing answers with commands and computing durations (the
 * trace's job), publishing, and no clock: time comes in as now_us.
 *
 * Layout. Workers are allocated one by one and listed twice: in `by_name`,
 * an array of pointers kept sorted by name (snapshots walk it in order, a
 * new worker is a memmove), and in `slots`, an open-addressing hash table
 * (linear probing, power-of-two size at least twice the worker count) so an
 * event finds its worker in O(1).
 *
 *   slots[hash & mask] --> worker <-- by_name[i]   (i in name order)
 *
 * Eviction. A full table makes room for a new worker by evicting the one
 * seen least recently among those with no command in flight, when it has
 * been idle for max_idle_us; when every idle worker has commands waiting
 * for an answer, the one seen least recently of all goes. A stuck worker
 * (quiet because it does not answer) thus keeps its pending health while
 * any other can make room, and junk names (a bug, an attack), answered or
 * not, fill the table once but cannot keep real workers out once they go
 * quiet. A live event may evict; a load or a merge never does (no clock of
 * its own: what does not fit is refused and counted). Finding the victim is
 * a scan of the table, done only when the table is full; when nobody is
 * idle yet, the earliest time somebody can be (`evict_after_us`) is kept,
 * so a flood of refusals costs O(1) each until then (a last-seen time only
 * grows, so that bound stays true). Removal from the hash table is
 * a backward shift (linear probing, no tombstones).
 *
 *   worker = { name, hash, windows 1m | 5m | perf, in flight, busy since,
 *              last seen / execution / error, health, since, issues,
 *              recovery streak }
 *
 * Memory per worker: the struct and its three windows, 28 periods in all.
 * An unbounded period histogram could reach 1388 buckets (11 KB), so every
 * period is bounded to WORKER_HIST_MAX_BUCKETS buckets: the lowest fold
 * upward (lib/histogram.h), which keeps p95/p99 and the slow threshold
 * exact to 1 % and costs precision only at the bottom of a distribution
 * spread over more than a factor of 120 within one period.
 *
 * Pending. The pending rules need how long the worker has kept commands
 * waiting without answering: the time since the later of its last answer
 * and the moment its in-flight count last rose from zero. For a worker
 * never answered that is the send time of its oldest pending command
 * (unless that one was forgotten, when it is the older send time: the
 * worker has not answered since either way). One timestamp, whatever the
 * number of commands in flight.
 *
 * Health. Each evaluation computes a target state and its issues, then
 * applies hysteresis by rank (unknown 0, healthy = inactive 1, degraded 2,
 * failed 3): a higher rank (or another state of the same rank) is taken at
 * once; a lower rank only when recovery_evaluations evaluations in a row
 * all wanted a lower rank, and then the worst of what they wanted.
 */
#include "worker_stats.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/event.h"
#include "state_codec.h"

#define MALLOC_OVERHEAD_BYTES   16
#define WORKER_HIST_MAX_BUCKETS 240
#define SEC_US                  1000000LL
#define MINUTE_US               (60 * SEC_US)
#define HOUR_US                 (60 * MINUTE_US)
#define PERF_PERIODS            12
#define MIN_SLOTS               16

enum { WIN_1M = 0, WIN_5M = 1, WIN_PERF = 2 };

/* A judgement: a state and the issues that put the worker there, the
 * worst first. */
typedef struct {
    bm_health state;
    unsigned n_issues;
    char issues[BM_ISSUES_MAX][BM_ISSUE_LEN];
    unsigned char issue_rank[BM_ISSUES_MAX];
} verdict;

typedef struct {
    char name[BM_NAME_MAX];
    uint64_t hash;
    bm_window win[BM_WINDOWS];
    uint32_t in_flight;
    int64_t busy_since_us; /* when in_flight last rose from 0; 0 when idle */
    int64_t last_seen_us, last_execution_us, last_error_us;
    char last_error[256];
    verdict health; /* the state held, and its issues */
    int64_t health_since_us;
    int judged;             /* has left unknown once */
    worker_totals totals;   /* since first seen (name unused here) */
    uint32_t better_streak; /* evaluations in a row that wanted a lower rank */
    verdict better_worst;   /* the worst of what they wanted */
} worker;

struct worker_stats {
    worker_stats_config cfg;
    char perf_label[8];
    worker **by_name; /* sorted by name */
    size_t count, cap;
    worker **slots; /* hash table, n_slots a power of two */
    size_t n_slots;
    uint64_t refused;
    uint64_t evicted;        /* idle workers removed to make room */
    int64_t evict_after_us;  /* nobody is evictable before this (0: unknown) */
    int64_t since_us;        /* first time told of (an event, an evaluation): the windows
                                count from then on, whoever they name; 0 not yet */
    char last_refused[BM_NAME_MAX];
};

/* ---- configuration ---------------------------------------------------- */

void worker_stats_config_defaults(worker_stats_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_workers = 1000;
    c->perf_window_us = 60 * MINUTE_US;
    c->error_rate_threshold = 0.10;
    c->failure_rate_threshold = 0.50;
    c->slow_threshold_us = 5 * SEC_US;
    c->health_interval_us = 30 * SEC_US;
    c->min_executions = 5;
    c->pending_failed_intervals = 3;
    c->inactive_intervals = 3;
    c->recovery_evaluations = 2;
    c->max_idle_us = HOUR_US;
    c->n_duration_bounds = worker_stats_default_duration_bounds(c->duration_bounds_us);
}

size_t worker_stats_default_duration_bounds(int64_t *out)
{
    /* R10 mantissas in ms, times 10^k for k = 0..4, then 100 s */
    static const int64_t r10_us[10] = {1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000};
    size_t n = 0;
    for (int64_t scale = 1; scale <= 10000; scale *= 10)
        for (int i = 0; i < 10; i++)
            out[n++] = r10_us[i] * scale;
    out[n++] = 100 * SEC_US;
    return n;
}

worker_stats *worker_stats_new(const worker_stats_config *cfg)
{
    worker_stats *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    worker_stats_config_defaults(&ws->cfg);
    if (cfg) ws->cfg = *cfg;
    /* Zeros where a zero makes no sense take the defaults. */
    worker_stats_config d;
    worker_stats_config_defaults(&d);
    if (ws->cfg.max_workers == 0) ws->cfg.max_workers = d.max_workers;
    if (ws->cfg.perf_window_us <= 0) ws->cfg.perf_window_us = d.perf_window_us;
    if (ws->cfg.health_interval_us <= 0) ws->cfg.health_interval_us = d.health_interval_us;
    if (ws->cfg.n_duration_bounds == 0 || ws->cfg.n_duration_bounds > WORKER_DURATION_BOUNDS_MAX) {
        ws->cfg.n_duration_bounds = d.n_duration_bounds;
        memcpy(ws->cfg.duration_bounds_us, d.duration_bounds_us, sizeof d.duration_bounds_us);
    }
    if (ws->cfg.slow_threshold_us <= 0) ws->cfg.slow_threshold_us = d.slow_threshold_us;
    if (ws->cfg.recovery_evaluations == 0) ws->cfg.recovery_evaluations = 1;
    /* labelled by the configured length, as the events and business metrics */
    bm_window_label(ws->cfg.perf_window_us, ws->perf_label, sizeof ws->perf_label);
    return ws;
}

static void worker_free(worker *w)
{
    if (!w) return;
    for (int i = 0; i < BM_WINDOWS; i++)
        bm_window_deinit(&w->win[i]);
    free(w);
}

void worker_stats_free(worker_stats *ws)
{
    if (!ws) return;
    for (size_t i = 0; i < ws->count; i++)
        worker_free(ws->by_name[i]);
    free(ws->by_name);
    free(ws->slots);
    free(ws);
}

/* ---- the table ---------------------------------------------------------- */

/* The name as kept: cut to BM_NAME_MAX - 1 bytes, on a UTF-8 boundary. */
static size_t key_len(const char *name)
{
    size_t n = strnlen(name, BM_NAME_MAX);
    if (n < BM_NAME_MAX) return n;
    n = BM_NAME_MAX - 1;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static uint64_t hash_name(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: names are short */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int same_name(const worker *w, uint64_t hash, const char *name, size_t len)
{
    return w->hash == hash && strncmp(w->name, name, len) == 0 && w->name[len] == '\0';
}

static worker *find(const worker_stats *ws, const char *name)
{
    if (!ws || !name || ws->n_slots == 0) return NULL;
    size_t len = key_len(name);
    uint64_t hash = hash_name(name, len);
    size_t mask = ws->n_slots - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        worker *w = ws->slots[i];
        if (!w) return NULL;
        if (same_name(w, hash, name, len)) return w;
    }
}

static void slot_put(worker **slots, size_t n_slots, worker *w)
{
    size_t mask = n_slots - 1;
    size_t i = (size_t)w->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = w;
}

/* Room for one more worker in both lists. @return 0 or -1. */
static int grow(worker_stats *ws)
{
    if (ws->count + 1 > ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : MIN_SLOTS / 2;
        if (cap > ws->cfg.max_workers) cap = ws->cfg.max_workers;
        worker **p = realloc(ws->by_name, cap * sizeof *p);
        if (!p) return -1;
        ws->by_name = p;
        ws->cap = cap;
    }
    if (2 * (ws->count + 1) > ws->n_slots) {
        size_t n = ws->n_slots ? ws->n_slots * 2 : MIN_SLOTS;
        worker **slots = calloc(n, sizeof *slots);
        if (!slots) return -1;
        for (size_t i = 0; i < ws->count; i++)
            slot_put(slots, n, ws->by_name[i]);
        free(ws->slots);
        ws->slots = slots;
        ws->n_slots = n;
    }
    return 0;
}

static worker *worker_new(const worker_stats *ws, const char *name, size_t len, uint64_t hash,
                          int64_t now_us)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    memcpy(w->name, name, len);
    w->name[len] = '\0';
    w->hash = hash;
    int64_t perf_period_us = ws->cfg.perf_window_us / PERF_PERIODS;
    if (perf_period_us < 1) perf_period_us = 1;
    const int64_t period_us[BM_WINDOWS] = {10 * SEC_US, 30 * SEC_US, perf_period_us};
    const unsigned n_periods[BM_WINDOWS] = {6, 10, PERF_PERIODS};
    for (int i = 0; i < BM_WINDOWS; i++) {
        if (bm_window_init(&w->win[i], period_us[i], n_periods[i]) != 0) {
            worker_free(w);
            return NULL;
        }
        bm_window_set_max_buckets(&w->win[i], WORKER_HIST_MAX_BUCKETS);
    }
    w->health.state = BM_HEALTH_UNKNOWN;
    w->health_since_us = now_us;
    return w;
}

/* Take w out of the hash table: backward-shift deletion keeps every other
 * worker reachable from its home slot without tombstones. */
static void slot_remove(worker_stats *ws, const worker *w)
{
    size_t mask = ws->n_slots - 1, i = (size_t)w->hash & mask;
    while (ws->slots[i] != w)
        i = (i + 1) & mask;
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; ws->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t)ws->slots[j]->hash & mask;
        /* j's entry may move to the hole when its home is not in (hole, j] */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        ws->slots[hole] = ws->slots[j];
        hole = j;
    }
    ws->slots[hole] = NULL;
}

/* Remove the worker seen least recently among those with nothing in flight
 * that has been idle for max_idle at now_us; when none has, the one seen
 * least recently of all, if it has. @return 1 when one was evicted, else 0. */
static int evict_idle(worker_stats *ws, int64_t now_us)
{
    if (ws->cfg.max_idle_us <= 0 || ws->count == 0 || now_us < ws->evict_after_us) return 0;
    worker *w = NULL, *oldest = NULL;
    size_t victim = 0, oldest_i = 0;
    for (size_t i = 0; i < ws->count; i++) {
        worker *c = ws->by_name[i];
        if (c->in_flight == 0 && (!w || c->last_seen_us < w->last_seen_us)) {
            w = c;
            victim = i;
        }
        if (!oldest || c->last_seen_us < oldest->last_seen_us) {
            oldest = c;
            oldest_i = i;
        }
    }
    if (!w || now_us - w->last_seen_us < ws->cfg.max_idle_us) {
        /* every idle worker waits for answers: the one seen least recently
         * goes as a last resort (names whose commands are never answered
         * must not lock real workers out) */
        w = oldest;
        victim = oldest_i;
    }
    if (now_us - w->last_seen_us < ws->cfg.max_idle_us) {
        ws->evict_after_us = w->last_seen_us + ws->cfg.max_idle_us;
        return 0;
    }
    slot_remove(ws, w);
    memmove(&ws->by_name[victim], &ws->by_name[victim + 1],
            (ws->count - victim - 1) * sizeof *ws->by_name);
    ws->count--;
    worker_free(w);
    ws->evicted++;
    return 1;
}

static void refuse(worker_stats *ws, const char *name)
{
    ws->refused++;
    snprintf(ws->last_refused, sizeof ws->last_refused, "%s", name);
}

/* The worker called `name`, created when new (a full table evicts an idle
 * worker first when `may_evict`). NULL when refused (bound or out of memory:
 * both counted) or when name is NULL or empty. */
static worker *get(worker_stats *ws, const char *name, int64_t now_us, int may_evict)
{
    if (!ws || !name || !name[0]) return NULL;
    worker *w = find(ws, name);
    if (w) return w;
    if (ws->count >= ws->cfg.max_workers && !(may_evict && evict_idle(ws, now_us))) {
        refuse(ws, name);
        return NULL;
    }
    if (grow(ws) != 0) {
        refuse(ws, name);
        return NULL;
    }
    size_t len = key_len(name);
    w = worker_new(ws, name, len, hash_name(name, len), now_us);
    if (!w) {
        refuse(ws, name);
        return NULL;
    }
    size_t lo = 0, hi = ws->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ws->by_name[mid]->name, w->name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&ws->by_name[lo + 1], &ws->by_name[lo], (ws->count - lo) * sizeof *ws->by_name);
    ws->by_name[lo] = w;
    ws->count++;
    slot_put(ws->slots, ws->n_slots, w);
    return w;
}

/* ---- events ------------------------------------------------------------- */

/* The table is told of now_us: its windows count from the first such time. */
static void watching(worker_stats *ws, int64_t now_us)
{
    if (ws && !ws->since_us) ws->since_us = now_us;
}

static void seen(worker *w, int64_t now_us)
{
    if (now_us > w->last_seen_us) w->last_seen_us = now_us;
}

int worker_stats_command(worker_stats *ws, const char *worker_name, int pending, int64_t now_us)
{
    watching(ws, now_us);
    worker *w = get(ws, worker_name, now_us, 1);
    if (!w) return -1;
    seen(w, now_us);
    if (pending) {
        if (w->in_flight == 0) w->busy_since_us = now_us;
        if (w->in_flight < UINT32_MAX) w->in_flight++;
    }
    return 0;
}

/* One command of w's in flight is done; with none left, w may be evicted
 * from its last-seen time on (evict_after_us lowered to that). */
static void pending_done(worker_stats *ws, worker *w)
{
    if (w->in_flight > 0) w->in_flight--;
    if (w->in_flight > 0) return;
    w->busy_since_us = 0;
    int64_t idle_at = w->last_seen_us + ws->cfg.max_idle_us;
    if (idle_at < ws->evict_after_us) ws->evict_after_us = idle_at;
}

/* The fixed bounds of the builds before they were configurable: a save without
 * "duration_bounds_us" was made with these. */
static const int64_t legacy_bounds_us[] = {5000,     10000,    25000,    50000,   100000,
                                           250000,   500000,   1000000,  2500000, 5000000,
                                           10000000, 20000000, 30000000, 60000000};
#define LEGACY_BOUNDS (sizeof legacy_bounds_us / sizeof *legacy_bounds_us)

const int64_t *worker_stats_duration_bounds_us(const worker_stats *ws, size_t *n)
{
    *n = ws->cfg.n_duration_bounds;
    return ws->cfg.duration_bounds_us;
}

static void add_total_duration(const worker_stats_config *cfg, worker_totals *t,
                               int64_t duration_us)
{
    if (duration_us < 0) return;
    /* binary search: the first bound >= duration (n when none) */
    size_t lo = 0, hi = cfg->n_duration_bounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (duration_us > cfg->duration_bounds_us[mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo;
    t->duration_buckets[i]++;
    t->duration_count++;
    t->duration_sum_us += (double)duration_us;
}

static void add_total(const worker_stats_config *cfg, worker_totals *t, bm_outcome outcome,
                      int64_t duration_us)
{
    if (outcome == BM_OUTCOME_SUCCESS)
        t->successes++;
    else if (outcome == BM_OUTCOME_FAILURE)
        t->failures++;
    else
        t->timeouts++;
    add_total_duration(cfg, t, duration_us);
}

int worker_stats_answer(worker_stats *ws, const char *worker_name, bm_outcome outcome,
                        int64_t duration_us, const char *error_type, const char *error_message,
                        int was_pending, int64_t now_us)
{
    watching(ws, now_us);
    worker *w = get(ws, worker_name, now_us, 1);
    if (!w) return -1;
    seen(w, now_us);
    if (now_us > w->last_execution_us) w->last_execution_us = now_us;
    /* A histogram that cannot grow leaves the counts right (lib/window.h). */
    for (int i = 0; i < BM_WINDOWS; i++)
        (void)bm_window_add_execution(&w->win[i], now_us, outcome, duration_us);
    add_total(&ws->cfg, &w->totals, outcome, duration_us);
    if (outcome != BM_OUTCOME_SUCCESS) {
        const char *type = error_type ? error_type : "";
        const char *msg = error_message ? error_message : "";
        if (!type[0] && !msg[0]) type = outcome == BM_OUTCOME_TIMEOUT ? "timeout" : "failure";
        bm_error_text(type, msg, w->last_error, sizeof w->last_error);
        if (now_us > w->last_error_us) w->last_error_us = now_us;
    }
    if (was_pending) pending_done(ws, w);
    return 0;
}

void worker_stats_duration(worker_stats *ws, const char *worker_name, int64_t duration_us,
                           int64_t now_us)
{
    watching(ws, now_us);
    worker *w = find(ws, worker_name);
    if (!w || duration_us < 0) return;
    for (int i = 0; i < BM_WINDOWS; i++)
        (void)bm_window_add_duration(&w->win[i], now_us, duration_us);
    add_total_duration(&ws->cfg, &w->totals, duration_us);
}

void worker_stats_forget_pending(worker_stats *ws, const char *worker_name)
{
    worker *w = find(ws, worker_name);
    if (w) pending_done(ws, w);
}

int worker_stats_seen(worker_stats *ws, const char *worker_name, int64_t now_us)
{
    watching(ws, now_us);
    worker *w = get(ws, worker_name, now_us, 1);
    if (!w) return -1;
    seen(w, now_us);
    return 0;
}

/* ---- words ---------------------------------------------------------- */

/* "%.1f" without a trailing ".0": "2.1", "1". */
static void one_decimal(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%.1f", x);
    size_t len = strlen(buf);
    if (len > 2 && strcmp(buf + len - 2, ".0") == 0) buf[len - 2] = '\0';
}

/*
 * A duration for people: "850 ms", "2.5 ms", "2.1 s", "95 s", "10 min",
 * "3.5 h". Seconds stay whole from one to two minutes ("95 s" reads better
 * than "1.6 min"); minutes and hours are cut down, not rounded up, so a
 * silence is never said to be longer than it is.
 */
static void fmt_duration(char *buf, size_t n, int64_t us)
{
    char num[16]; /* "%.1f" of a duration: short; leaves room for the unit */
    if (us < 0) us = 0;
    if (us < SEC_US) {
        double ms = (double)us / 1000.0;
        if (ms < 10.0)
            one_decimal(num, sizeof num, ms);
        else
            snprintf(num, sizeof num, "%.0f", ms);
        (void)(snprintf(buf, n, "%s ms", num) < 0);
    } else if (us < MINUTE_US) {
        one_decimal(num, sizeof num, (double)us / SEC_US);
        (void)(snprintf(buf, n, "%s s", num) < 0);
    } else if (us < 2 * MINUTE_US) {
        (void)(snprintf(buf, n, "%lld s", (long long)(us / SEC_US)) < 0);
    } else if (us < 2 * HOUR_US) {
        (void)(snprintf(buf, n, "%lld min", (long long)(us / MINUTE_US)) < 0);
    } else {
        one_decimal(num, sizeof num, floor((double)us / (double)HOUR_US * 10.0) / 10.0);
        (void)(snprintf(buf, n, "%s h", num) < 0);
    }
}

/*
 * A duration above `limit_us`, in fmt_duration's words, with as many more
 * decimals as it takes to read above the limit's own words ("p95 5.03 s >
 * slow threshold 5 s", not "p95 5 s > slow threshold 5 s").
 */
static void fmt_duration_above(char *buf, size_t n, int64_t us, int64_t limit_us)
{
    static const struct {
        const char *word;
        double us;
    } units[] = {{" ms", 1e3}, {" s", 1e6}, {" min", 6e7}, {" h", 3.6e9}};
    char limit[32];
    fmt_duration(buf, n, us);
    fmt_duration(limit, sizeof limit, limit_us);
    const char *unit = strchr(limit, ' ');
    double shown_limit = strtod(limit, NULL);
    if (!unit || strcmp(unit, strchr(buf, ' ') ? strchr(buf, ' ') : "") ||
        strtod(buf, NULL) > shown_limit)
        return;
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        if (strcmp(unit, units[u].word)) continue;
        for (int decimals = 1; decimals <= 6; decimals++) {
            (void)(snprintf(buf, n, "%.*f%s", decimals, (double)us / units[u].us, unit) < 0);
            if (strtod(buf, NULL) > shown_limit) return;
        }
    }
}

/* A threshold as a percentage: "10", "12.5". */
static void fmt_threshold(char *buf, size_t n, double rate)
{
    snprintf(buf, n, "%g", round(rate * 1000.0) / 10.0);
}

/* A rate as a whole percentage, with as many decimals as it takes for the
 * figure to keep its relation to the threshold ("10.4 % > 10 %", not
 * "10 % > 10 %"). strict: the relation is ">", else ">=". */
static void fmt_rate(char *buf, size_t n, double rate, double threshold, int strict)
{
    double pct = rate * 100.0, thr = round(threshold * 1000.0) / 10.0;
    for (int decimals = 0; decimals <= 3; decimals++) {
        snprintf(buf, n, "%.*f", decimals, pct);
        double shown = strtod(buf, NULL);
        if (strict ? shown > thr : shown >= thr) return;
    }
}

/* ---- health ------------------------------------------------------------ */

static int rank_of(bm_health h)
{
    switch (h) {
    case BM_HEALTH_HEALTHY:
    case BM_HEALTH_INACTIVE:
        return 1;
    case BM_HEALTH_DEGRADED:
        return 2;
    case BM_HEALTH_FAILED:
        return 3;
    default:
        return 0;
    }
}

static void issue(verdict *v, bm_health state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add an issue of the given state's rank after those of the same or a
 * higher rank (so a failure reads before a slowness), and raise the state. */
static void issue(verdict *v, bm_health state, const char *fmt, ...)
{
    int rank = rank_of(state);
    if (rank > rank_of(v->state)) v->state = state;
    if (v->n_issues >= BM_ISSUES_MAX) return; /* three rules fire at most */
    unsigned at = v->n_issues;
    while (at > 0 && v->issue_rank[at - 1] < rank)
        at--;
    memmove(v->issues[at + 1], v->issues[at], (v->n_issues - at) * sizeof v->issues[0]);
    memmove(&v->issue_rank[at + 1], &v->issue_rank[at], v->n_issues - at);
    v->issue_rank[at] = (unsigned char)rank;
    v->n_issues++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->issues[at], BM_ISSUE_LEN, fmt, ap);
    va_end(ap);
}

static void fill_window(const worker_stats *ws, const worker *w, int i, int64_t now_us,
                        bm_hist *scratch, bm_window_stats *out);

/* What the worker's figures say at now_us, before hysteresis. `scratch`
 * is a histogram the caller owns (reused across workers). */
static void judge(const worker_stats *ws, const worker *w, int64_t now_us, bm_hist *scratch,
                  verdict *v)
{
    const worker_stats_config *c = &ws->cfg;
    memset(v, 0, sizeof *v);
    v->state = BM_HEALTH_UNKNOWN;
    char a[32], b[32];

    bm_counts n;
    if (bm_window_collect(&w->win[WIN_5M], now_us, &n, scratch) != 0) {
        /* out of memory while merging: judge on the counts alone */
        bm_hist_reset(scratch);
    }
    uint64_t errors = n.failures + n.timeouts;
    double error_rate = n.executions ? (double)errors / (double)n.executions : 0.0;
    int enough = n.executions >= c->min_executions;

    /* rates only with enough executions to mean something */
    if (enough && error_rate >= c->failure_rate_threshold) {
        fmt_rate(a, sizeof a, error_rate, c->failure_rate_threshold, 0);
        fmt_threshold(b, sizeof b, c->failure_rate_threshold);
        issue(v, BM_HEALTH_FAILED, "error rate %s %% over 5m >= failure threshold %s %%", a, b);
    } else if (enough && error_rate > c->error_rate_threshold) {
        fmt_rate(a, sizeof a, error_rate, c->error_rate_threshold, 1);
        fmt_threshold(b, sizeof b, c->error_rate_threshold);
        issue(v, BM_HEALTH_DEGRADED, "error rate %s %% over 5m > %s %%", a, b);
    }
    if (scratch->count >= c->min_executions && scratch->count > 0) {
        double p95 = bm_hist_quantile(scratch, 0.95);
        if (p95 > (double)c->slow_threshold_us) {
            fmt_duration_above(a, sizeof a, (int64_t)llround(p95), c->slow_threshold_us);
            fmt_duration(b, sizeof b, c->slow_threshold_us);
            issue(v, BM_HEALTH_DEGRADED, "p95 %s > slow threshold %s", a, b);
        }
    }
    if (c->judge_hook) {
        bm_window_stats last_minute;
        char text[BM_ISSUE_LEN];
        fill_window(ws, w, WIN_1M, now_us, scratch, &last_minute);
        text[0] = '\0';
        bm_health h = c->judge_hook(w->name, &last_minute, now_us, text, sizeof text, c->judge_arg);
        if (h == BM_HEALTH_DEGRADED || h == BM_HEALTH_FAILED) issue(v, h, "%s", text);
    }
    if (w->in_flight > 0) {
        int64_t since =
            w->busy_since_us > w->last_execution_us ? w->busy_since_us : w->last_execution_us;
        int64_t waiting_us = now_us - since;
        bm_health s = BM_HEALTH_HEALTHY;
        if (waiting_us >= (int64_t)c->pending_failed_intervals * c->health_interval_us)
            s = BM_HEALTH_FAILED;
        else if (waiting_us > c->slow_threshold_us)
            s = BM_HEALTH_DEGRADED;
        if (s != BM_HEALTH_HEALTHY) {
            fmt_duration(a, sizeof a, waiting_us);
            issue(v, s, "no answer for %s with %" PRIu32 " command%s pending", a, w->in_flight,
                  w->in_flight == 1 ? "" : "s");
        }
    }
    if (v->state != BM_HEALTH_UNKNOWN) return;

    int64_t silent_us = now_us - w->last_seen_us;
    if (w->in_flight == 0 && silent_us >= (int64_t)c->inactive_intervals * c->health_interval_us) {
        fmt_duration(a, sizeof a, silent_us);
        issue(v, BM_HEALTH_INACTIVE, "silent for %s", a);
        v->state = BM_HEALTH_INACTIVE;
        return;
    }
    v->state = (!enough && !w->judged) ? BM_HEALTH_UNKNOWN : BM_HEALTH_HEALTHY;
}

/* Hysteresis (see the top of the file). @return 1 when the state changed. */
static int apply(const worker_stats *ws, worker *w, const verdict *v, int64_t now_us)
{
    int have = rank_of(w->health.state), want = rank_of(v->state);
    const verdict *next = v;
    if (want < have) {
        if (w->better_streak == 0 || want >= rank_of(w->better_worst.state)) w->better_worst = *v;
        w->better_streak++;
        /* Until the streak is long enough, the state held keeps the issues
         * that put it there. */
        if (w->better_streak < ws->cfg.recovery_evaluations) return 0;
        next = &w->better_worst;
    }
    w->better_streak = 0;
    bm_health from = w->health.state;
    if (next != &w->health) w->health = *next;
    if (w->health.state == from) return 0;
    w->health_since_us = now_us;
    if (w->health.state != BM_HEALTH_UNKNOWN) w->judged = 1;
    return 1;
}

/* ---- snapshots ------------------------------------------------------- */

static void fill_window(const worker_stats *ws, const worker *w, int i, int64_t now_us,
                        bm_hist *scratch, bm_window_stats *out)
{
    bm_counts n;
    memset(out, 0, sizeof *out);
    if (bm_window_collect(&w->win[i], now_us, &n, scratch) != 0) bm_hist_reset(scratch);
    if (i == WIN_1M)
        memcpy(out->label, "1m", 3);
    else if (i == WIN_5M)
        memcpy(out->label, "5m", 3);
    else
        memcpy(out->label, ws->perf_label, sizeof out->label);
    out->window_us = bm_window_length_us(&w->win[i]);
    out->executions = n.executions;
    out->successes = n.successes;
    out->failures = n.failures;
    out->timeouts = n.timeouts;
    if (n.executions) {
        out->success_rate = (double)n.successes / (double)n.executions;
        out->error_rate = (double)(n.failures + n.timeouts) / (double)n.executions;
    }
    if (scratch->count) {
        out->timed = scratch->count;
        out->min_us = scratch->min_us;
        out->max_us = scratch->max_us;
        out->avg_us = bm_hist_mean(scratch);
        out->p50_us = bm_hist_quantile(scratch, 0.50);
        out->p95_us = bm_hist_quantile(scratch, 0.95);
        out->p99_us = bm_hist_quantile(scratch, 0.99);
    }
    /* rates divide by the time the window holds data, or longer: by the time
     * the table watched, when the worker was quiet before its data began */
    out->covered_us = bm_window_covered_us(&w->win[i], now_us);
    int64_t watched_us = bm_window_watched_us(&w->win[i], now_us, ws->since_us);
    if (out->covered_us && watched_us > out->covered_us) out->covered_us = watched_us;
    double minutes = (double)out->covered_us / (double)MINUTE_US;
    out->throughput_per_min = minutes > 0 ? (double)n.executions / minutes : 0.0;
}

static void fill_snapshot(const worker_stats *ws, const worker *w, int64_t now_us, bm_hist *scratch,
                          bm_worker_snapshot *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->name, w->name, sizeof out->name);
    out->health = w->health.state;
    out->health_since_us = w->health_since_us;
    out->n_issues = w->health.n_issues;
    memcpy(out->issues, w->health.issues, sizeof out->issues);
    if (w->health.n_issues) {
        /* the issues in today's figures, so they read as the windows below do (the
           state keeps its hysteresis; what put it there is said as it stands now) */
        verdict now;
        judge(ws, w, now_us, scratch, &now);
        if (now.n_issues) {
            out->n_issues = now.n_issues;
            memcpy(out->issues, now.issues, sizeof out->issues);
        }
    }
    out->in_flight = w->in_flight;
    out->last_seen_us = w->last_seen_us;
    out->last_execution_us = w->last_execution_us;
    out->last_error_us = w->last_error_us;
    memcpy(out->last_error, w->last_error, sizeof out->last_error);
    for (int i = 0; i < BM_WINDOWS; i++)
        fill_window(ws, w, i, now_us, scratch, &out->win[i]);
}

void worker_stats_evaluate(worker_stats *ws, int64_t now_us, worker_transition_cb cb, void *arg)
{
    if (!ws) return;
    watching(ws, now_us);
    bm_hist scratch;
    bm_hist_init(&scratch);
    /* By index, re-reading count: a callback that names a new worker
     * reshuffles the list, which may skip or repeat one worker this round
     * but never reads freed memory. */
    for (size_t i = 0; i < ws->count; i++) {
        worker *w = ws->by_name[i];
        verdict v;
        judge(ws, w, now_us, &scratch, &v);
        bm_health from = w->health.state;
        if (!apply(ws, w, &v, now_us) || !cb) continue;
        bm_worker_snapshot snap;
        fill_snapshot(ws, w, now_us, &scratch, &snap);
        cb(&snap, from, arg);
    }
    bm_hist_deinit(&scratch);
}

size_t worker_stats_count(const worker_stats *ws)
{
    return ws ? ws->count : 0;
}

uint64_t worker_stats_refused(const worker_stats *ws)
{
    return ws ? ws->refused : 0;
}

uint64_t worker_stats_evicted(const worker_stats *ws)
{
    return ws ? ws->evicted : 0;
}

const char *worker_stats_last_refused(const worker_stats *ws)
{
    return ws ? ws->last_refused : "";
}

size_t worker_stats_snapshot(const worker_stats *ws, int64_t now_us, bm_worker_snapshot *out,
                             size_t max)
{
    if (!ws || !out) return 0;
    bm_hist scratch;
    bm_hist_init(&scratch);
    size_t n = ws->count < max ? ws->count : max;
    for (size_t i = 0; i < n; i++)
        fill_snapshot(ws, ws->by_name[i], now_us, &scratch, &out[i]);
    bm_hist_deinit(&scratch);
    return n;
}

int worker_stats_snapshot_one(const worker_stats *ws, const char *worker_name, int64_t now_us,
                              bm_worker_snapshot *out)
{
    const worker *w = find(ws, worker_name);
    if (!w || !out) return -1;
    bm_hist scratch;
    bm_hist_init(&scratch);
    fill_snapshot(ws, w, now_us, &scratch, out);
    bm_hist_deinit(&scratch);
    return 0;
}

static size_t worker_bytes(const worker *w)
{
    size_t bytes = sizeof *w + MALLOC_OVERHEAD_BYTES;
    for (int i = 0; i < BM_WINDOWS; i++) {
        bytes += bm_window_heap_bytes(&w->win[i]) + MALLOC_OVERHEAD_BYTES;
        for (unsigned p = 0; p < w->win[i].n_periods; p++)
            if (w->win[i].periods[p].hist.cap_buckets) bytes += MALLOC_OVERHEAD_BYTES;
    }
    return bytes;
}

long worker_stats_worker_bytes(const worker_stats *ws, const char *worker_name)
{
    const worker *w = find(ws, worker_name);
    return w ? (long)worker_bytes(w) : -1;
}

size_t worker_stats_heap_bytes(const worker_stats *ws)
{
    if (!ws) return 0;
    size_t bytes = sizeof *ws + MALLOC_OVERHEAD_BYTES;
    bytes += ws->cap * sizeof *ws->by_name + ws->n_slots * sizeof *ws->slots;
    for (size_t i = 0; i < ws->count; i++)
        bytes += worker_bytes(ws->by_name[i]);
    return bytes;
}

size_t worker_stats_totals(const worker_stats *ws, worker_totals *out, size_t max)
{
    if (!ws || !out) return 0;
    size_t n = ws->count < max ? ws->count : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = ws->by_name[i]->totals;
        memcpy(out[i].name, ws->by_name[i]->name, sizeof out[i].name);
    }
    return n;
}

/* ---- state ------------------------------------------------------------- */

static int save_verdict(msgpack_packer *pk, const verdict *v)
{
    int e = bm_sc_key_str(pk, "state", bm_health_name(v->state));
    e |= bm_sc_key(pk, "issues");
    e |= msgpack_pack_array(pk, v->n_issues);
    for (unsigned i = 0; i < v->n_issues; i++) {
        e |= msgpack_pack_array(pk, 2);
        e |= msgpack_pack_uint8(pk, v->issue_rank[i]);
        e |= bm_sc_str(pk, v->issues[i]);
    }
    return e;
}

static int save_worker(msgpack_packer *pk, const worker *w, size_t n_bounds)
{
    const worker_totals *t = &w->totals;
    int e = msgpack_pack_map(pk, 10);
    e |= bm_sc_key_str(pk, "name", w->name);
    e |= bm_sc_key_u64(pk, "in_flight", w->in_flight);
    e |= bm_sc_key_i64(pk, "busy_since", w->busy_since_us);
    e |= bm_sc_key_i64(pk, "last_seen", w->last_seen_us);
    e |= bm_sc_key_i64(pk, "last_execution", w->last_execution_us);
    e |= bm_sc_key_i64(pk, "last_error_at", w->last_error_us);
    e |= bm_sc_key_str(pk, "last_error", w->last_error);

    e |= bm_sc_key(pk, "health");
    e |= msgpack_pack_map(pk, 6);
    e |= save_verdict(pk, &w->health);
    e |= bm_sc_key_i64(pk, "since", w->health_since_us);
    e |= bm_sc_key_bool(pk, "judged", w->judged);
    e |= bm_sc_key_u64(pk, "streak", w->better_streak);
    e |= bm_sc_key(pk, "streak_worst");
    e |= msgpack_pack_map(pk, 2);
    e |= save_verdict(pk, &w->better_worst);

    e |= bm_sc_key(pk, "totals");
    e |= msgpack_pack_map(pk, 6);
    e |= bm_sc_key_u64(pk, "successes", t->successes);
    e |= bm_sc_key_u64(pk, "failures", t->failures);
    e |= bm_sc_key_u64(pk, "timeouts", t->timeouts);
    e |= bm_sc_key(pk, "duration_buckets");
    e |= msgpack_pack_array(pk, n_bounds + 1);
    for (size_t i = 0; i <= n_bounds; i++)
        e |= msgpack_pack_uint64(pk, t->duration_buckets[i]);
    e |= bm_sc_key_u64(pk, "duration_count", t->duration_count);
    e |= bm_sc_key_real(pk, "duration_sum_us", t->duration_sum_us);

    e |= bm_sc_key(pk, "windows");
    e |= msgpack_pack_array(pk, BM_WINDOWS);
    for (int i = 0; i < BM_WINDOWS && !e; i++)
        e |= bm_window_save(&w->win[i], pk);
    return e;
}

int worker_stats_save(const worker_stats *ws, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 5);
    e |= bm_sc_key_u64(pk, "refused", ws->refused);
    e |= bm_sc_key(pk, "workers");
    e |= msgpack_pack_array(pk, ws->count);
    for (size_t i = 0; i < ws->count && !e; i++)
        e |= save_worker(pk, ws->by_name[i], ws->cfg.n_duration_bounds);
    e |= bm_sc_key_u64(pk, "evicted", ws->evicted);
    e |= bm_sc_key(pk, "duration_bounds_us");
    e |= msgpack_pack_array(pk, ws->cfg.n_duration_bounds);
    for (size_t i = 0; i < ws->cfg.n_duration_bounds; i++)
        e |= msgpack_pack_int64(pk, ws->cfg.duration_bounds_us[i]);
    e |= bm_sc_key_i64(pk, "since", ws->since_us);
    return e ? -1 : 0;
}

static int load_verdict(const msgpack_object *o, verdict *v, char *err, size_t errlen)
{
    char name[16];
    memset(v, 0, sizeof *v);
    if (!o || o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "not a map");
    int rc = bm_sc_need_str(o, "state", name, sizeof name, err, errlen);
    if (rc) return rc;
    int h = bm_health_parse(name);
    if (h < 0) return bm_sc_fail(err, errlen, "unknown health state '%s'", name);
    v->state = (bm_health)h;
    const msgpack_object *is = bm_sc_need(o, "issues", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!is) return BM_LOAD_CORRUPT;
    if (is->via.array.size > BM_ISSUES_MAX)
        return bm_sc_fail(err, errlen, "more than %d issues", BM_ISSUES_MAX);
    for (uint32_t i = 0; i < is->via.array.size; i++) {
        const msgpack_object *it = &is->via.array.ptr[i];
        uint32_t rank;
        if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size < 2 ||
            bm_sc_as_u32(&it->via.array.ptr[0], &rank) || rank > 3 ||
            bm_sc_as_str(&it->via.array.ptr[1], v->issues[i], BM_ISSUE_LEN))
            return bm_sc_fail(err, errlen, "issue %u is not [rank 0..3, text of < %d bytes]",
                              (unsigned)i, BM_ISSUE_LEN);
        v->issue_rank[i] = (unsigned char)rank;
    }
    v->n_issues = is->via.array.size;
    return BM_LOAD_OK;
}

/*
 * A worker's totals, saved with n_bounds duration bounds; `same` says the
 * save's bounds are the table's, else the duration histogram is left at zero
 * (it cannot be re-binned).
 */
static int load_totals(const msgpack_object *o, worker_totals *t, size_t n_bounds, int same,
                       char *err, size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "not a map");
    int rc = bm_sc_need_u64(o, "successes", &t->successes, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "failures", &t->failures, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "timeouts", &t->timeouts, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "duration_count", &t->duration_count, err, errlen);
    if (!rc) rc = bm_sc_need_f64(o, "duration_sum_us", &t->duration_sum_us, err, errlen);
    if (rc) return rc;
    const msgpack_object *b = bm_sc_need(o, "duration_buckets", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!b) return BM_LOAD_CORRUPT;
    if (b->via.array.size != n_bounds + 1)
        return bm_sc_fail(err, errlen, "%u duration buckets for %zu bounds",
                          (unsigned)b->via.array.size, n_bounds);
    for (size_t i = 0; i <= n_bounds; i++)
        if (bm_sc_as_u64(&b->via.array.ptr[i], &t->duration_buckets[i]))
            return bm_sc_fail(err, errlen, "duration bucket %zu is not an integer >= 0", i);
    if (!same) {
        memset(t->duration_buckets, 0, sizeof t->duration_buckets);
        t->duration_count = 0;
        t->duration_sum_us = 0;
    }
    return BM_LOAD_OK;
}

/* One saved worker into ws (a fresh table); its totals have n_bounds duration
 * bounds, `same` as the table's or not. */
static int load_worker(worker_stats *ws, const msgpack_object *o, size_t n_bounds, int same,
                       char *err, size_t errlen)
{
    char name[BM_NAME_MAX];
    if (o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "not a map");
    int rc = bm_sc_need_str(o, "name", name, sizeof name, err, errlen);
    if (rc) return rc;
    if (!name[0]) return bm_sc_fail(err, errlen, "empty name");
    if (find(ws, name)) return bm_sc_fail(err, errlen, "'%s' saved twice", name);

    worker w; /* parsed first, so a refused worker is still checked */
    memset(&w, 0, sizeof w);
    uint32_t in_flight;
    uint64_t streak;
    rc = bm_sc_need_u32(o, "in_flight", &in_flight, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "busy_since", &w.busy_since_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "last_seen", &w.last_seen_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "last_execution", &w.last_execution_us, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "last_error_at", &w.last_error_us, err, errlen);
    if (!rc) rc = bm_sc_need_str(o, "last_error", w.last_error, sizeof w.last_error, err, errlen);
    if (rc) return rc;
    w.in_flight = in_flight;

    const msgpack_object *h = bm_sc_need(o, "health", MSGPACK_OBJECT_MAP, err, errlen);
    if (!h) return BM_LOAD_CORRUPT;
    rc = load_verdict(h, &w.health, err, errlen);
    if (!rc) rc = bm_sc_need_time(h, "since", &w.health_since_us, err, errlen);
    if (!rc) rc = bm_sc_need_bool(h, "judged", &w.judged, err, errlen);
    if (!rc) rc = bm_sc_need_u64(h, "streak", &streak, err, errlen);
    if (!rc && streak > UINT32_MAX) rc = bm_sc_fail(err, errlen, "'streak' above 2^32-1");
    if (!rc) rc = load_verdict(bm_sc_get(h, "streak_worst"), &w.better_worst, err, errlen);
    if (rc) {
        bm_sc_wrap(err, errlen, "health");
        return rc;
    }
    w.better_streak = (uint32_t)streak;
    rc = load_totals(bm_sc_get(o, "totals"), &w.totals, n_bounds, same, err, errlen);
    if (rc) {
        bm_sc_wrap(err, errlen, "totals");
        return rc;
    }
    const msgpack_object *wins = bm_sc_need(o, "windows", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!wins) return BM_LOAD_CORRUPT;
    if (wins->via.array.size != BM_WINDOWS)
        return bm_sc_fail(err, errlen, "%u windows, not %d", (unsigned)wins->via.array.size,
                          BM_WINDOWS);

    if (ws->count >= ws->cfg.max_workers) {
        refuse(ws, name);
        return BM_LOAD_OK;
    }
    worker *nw = get(ws, name, w.health_since_us, 0);
    if (!nw) {
        bm_sc_fail(err, errlen, "out of memory");
        return BM_LOAD_NOMEM;
    }
    for (int i = 0; i < BM_WINDOWS; i++) {
        rc = bm_window_load(&nw->win[i], &wins->via.array.ptr[i], err, errlen);
        if (rc) {
            bm_sc_wrap(err, errlen, "windows[%d]", i);
            return rc;
        }
    }
    nw->in_flight = w.in_flight;
    nw->busy_since_us = w.busy_since_us;
    nw->last_seen_us = w.last_seen_us;
    nw->last_execution_us = w.last_execution_us;
    nw->last_error_us = w.last_error_us;
    /* written before the type was said once: "T: T: message" reads "T: message" */
    char *colon = strstr(w.last_error, ": ");
    if (colon) {
        *colon = '\0';
        bm_error_text(w.last_error, colon + 2, nw->last_error, sizeof nw->last_error);
    } else {
        memcpy(nw->last_error, w.last_error, sizeof nw->last_error);
    }
    nw->health = w.health;
    nw->health_since_us = w.health_since_us;
    nw->judged = w.judged;
    nw->totals = w.totals;
    nw->better_streak = w.better_streak;
    nw->better_worst = w.better_worst;
    return BM_LOAD_OK;
}

int worker_stats_load(worker_stats *ws, const msgpack_object *o, char *err, size_t errlen)
{
    if (!ws || !o || o->type != MSGPACK_OBJECT_MAP)
        return bm_sc_fail(err, errlen, "workers: not a map");
    uint64_t refused;
    int rc = bm_sc_need_u64(o, "refused", &refused, err, errlen);
    const msgpack_object *list =
        rc ? NULL : bm_sc_need(o, "workers", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!list) {
        bm_sc_wrap(err, errlen, "workers");
        return BM_LOAD_CORRUPT;
    }
    worker_stats *tmp = worker_stats_new(&ws->cfg);
    if (!tmp) {
        bm_sc_fail(err, errlen, "workers: out of memory");
        return BM_LOAD_NOMEM;
    }
    tmp->refused = refused;
    const msgpack_object *ev = bm_sc_get(o, "evicted"); /* absent before eviction existed */
    if (ev && bm_sc_as_u64(ev, &tmp->evicted)) {
        bm_sc_fail(err, errlen, "workers: 'evicted' is not an integer >= 0");
        rc = BM_LOAD_CORRUPT;
    }
    const msgpack_object *since = bm_sc_get(o, "since"); /* absent before it was kept: 0 */
    if (rc == BM_LOAD_OK && since && bm_sc_as_time(since, &tmp->since_us)) {
        bm_sc_fail(err, errlen, "workers: 'since' is not a time in µs");
        rc = BM_LOAD_CORRUPT;
    }
    /* the save's duration bounds: its own, or the fixed ones of older builds */
    int64_t saved[WORKER_DURATION_BOUNDS_MAX];
    size_t n_saved = LEGACY_BOUNDS;
    memcpy(saved, legacy_bounds_us, sizeof legacy_bounds_us);
    const msgpack_object *bo = bm_sc_get(o, "duration_bounds_us");
    if (rc == BM_LOAD_OK && bo) {
        if (bo->type != MSGPACK_OBJECT_ARRAY || bo->via.array.size == 0 ||
            bo->via.array.size > WORKER_DURATION_BOUNDS_MAX) {
            bm_sc_fail(err, errlen, "workers: 'duration_bounds_us' is not a list of 1-%d bounds",
                       WORKER_DURATION_BOUNDS_MAX);
            rc = BM_LOAD_CORRUPT;
        } else {
            n_saved = bo->via.array.size;
            for (size_t i = 0; i < n_saved && rc == BM_LOAD_OK; i++)
                if (bm_sc_as_i64(&bo->via.array.ptr[i], &saved[i])) {
                    bm_sc_fail(err, errlen, "workers: duration bound %zu is not an integer", i);
                    rc = BM_LOAD_CORRUPT;
                }
        }
    }
    int same = rc == BM_LOAD_OK && n_saved == ws->cfg.n_duration_bounds &&
               !memcmp(saved, ws->cfg.duration_bounds_us, n_saved * sizeof *saved);
    for (uint32_t i = 0; i < list->via.array.size && rc == BM_LOAD_OK; i++) {
        rc = load_worker(tmp, &list->via.array.ptr[i], n_saved, same, err, errlen);
        if (rc) bm_sc_wrap(err, errlen, "workers[%u]", (unsigned)i);
    }
    if (rc == BM_LOAD_OK) {
        worker_stats swap = *ws;
        *ws = *tmp;
        *tmp = swap;
    }
    worker_stats_free(tmp);
    return rc;
}

static void merge_health(worker *d, const worker *s)
{
    int rd = rank_of(d->health.state), rs = rank_of(s->health.state);
    if (rs > rd || (rs == rd && s->health.state != d->health.state &&
                    s->health_since_us > d->health_since_us)) {
        d->health = s->health;
        d->health_since_us = s->health_since_us;
    } else if (s->health.state == d->health.state && s->health_since_us < d->health_since_us) {
        d->health_since_us = s->health_since_us;
    }
    d->judged |= s->judged;
    d->better_streak = 0;
}

static void merge_worker(worker *d, const worker *s, int fresh)
{
    worker_totals *t = &d->totals;
    t->successes += s->totals.successes;
    t->failures += s->totals.failures;
    t->timeouts += s->totals.timeouts;
    for (size_t i = 0; i <= WORKER_DURATION_BOUNDS_MAX; i++)
        t->duration_buckets[i] += s->totals.duration_buckets[i];
    t->duration_count += s->totals.duration_count;
    t->duration_sum_us += s->totals.duration_sum_us;

    if (s->in_flight) {
        if (!d->in_flight || s->busy_since_us < d->busy_since_us)
            d->busy_since_us = s->busy_since_us;
        uint64_t sum = (uint64_t)d->in_flight + s->in_flight;
        d->in_flight = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
    }
    if (s->last_seen_us > d->last_seen_us) d->last_seen_us = s->last_seen_us;
    if (s->last_execution_us > d->last_execution_us) d->last_execution_us = s->last_execution_us;
    if (s->last_error[0] && (s->last_error_us > d->last_error_us || !d->last_error[0])) {
        d->last_error_us = s->last_error_us;
        memcpy(d->last_error, s->last_error, sizeof d->last_error);
    }
    if (fresh) {
        d->health = s->health;
        d->health_since_us = s->health_since_us;
        d->judged = s->judged;
        d->better_streak = s->better_streak;
        d->better_worst = s->better_worst;
    } else {
        merge_health(d, s);
    }
}

int worker_stats_merge(worker_stats *dst, const worker_stats *src)
{
    if (!dst || !src || dst == src) return -1;
    int rc = 0;
    dst->refused += src->refused;
    dst->evicted += src->evicted;
    dst->evict_after_us = 0; /* older last-seen times may have come in */
    if (src->since_us && (!dst->since_us || src->since_us < dst->since_us))
        dst->since_us = src->since_us;
    for (size_t i = 0; i < src->count; i++) {
        const worker *s = src->by_name[i];
        worker *d = find(dst, s->name);
        int fresh = !d;
        if (!d) d = get(dst, s->name, s->health_since_us, 0); /* a refusal is counted */
        if (!d) continue;
        for (int k = 0; k < BM_WINDOWS; k++)
            if (bm_window_merge(&d->win[k], &s->win[k]) != 0) rc = -1;
        merge_worker(d, s, fresh);
    }
    return rc;
}

void worker_stats_adopt_health(worker_stats *dst, const worker_stats *src)
{
    if (!dst || !src || dst == src) return;
    for (size_t i = 0; i < src->count; i++) {
        const worker *s = src->by_name[i];
        worker *d = find(dst, s->name);
        if (!d) {
            d = get(dst, s->name, s->health_since_us, 0); /* the verdict needs a place */
            if (!d) continue;
            /* and the time it was last seen, so its silence is the judge's, not
             * "since 1970" (last seen only grows: a later merge keeps the latest) */
            d->last_seen_us = s->last_seen_us;
        }
        d->health = s->health;
        d->health_since_us = s->health_since_us;
        d->judged = s->judged;
        d->better_streak = s->better_streak;
        d->better_worst = s->better_worst;
    }
}
