/*
 * custom_metrics.c - business metrics per name and tag set over rolling
 * windows (lib/custom_metrics.h).
 *
 * Not here: decoding (proto/event_fill.c), rendering (agent/http, the CLI)
 * and any clock.
 *
 * A series lives in a sorted array of pointers keyed by
 *
 *   name US key RS value US key RS value ...      (US = 0x1f, RS = 0x1e)
 *
 * with its tags sorted by key. Identities hold no control character
 * (proto/text.c), so the key is unambiguous and sorts by name first.
 *
 * A window is a ring of periods as in lib/window.c (slot = start / period
 * mod n, a period counts only while live); a period with count 0 is empty.
 * Values go into two lib/histogram.h sketches of |value| x 1000 (positive,
 * negative) beside an exact count of zeros, so a quantile keeps the 1 %
 * bound on either side of zero.
 */
#include "custom_metrics.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "state_codec.h"
#include "window.h"

#define MINUTE_US    (60LL * 1000000LL)
#define PERF_PERIODS 12
#define SCALE        1000.0 /* sketch unit: a thousandth */
#define KEY_MAX      CUSTOM_METRICS_KEY_MAX

typedef struct {
    int64_t start_us;
    uint64_t count, zeros;
    double sum, min, max, last;
    int64_t last_ts_us;
    bm_hist pos, neg;
} cm_period;

typedef struct {
    int64_t period_us;
    unsigned n;
    cm_period *p;
} cm_window;

typedef struct {
    char *key;  /* see the top */
    char *name; /* name\0k\0v\0k\0v\0 */
    unsigned n_tags;
    const char *tk[CUSTOM_METRICS_TAGS_MAX], *tv[CUSTOM_METRICS_TAGS_MAX];
    bm_metric_kind kind;
    int64_t last_seen_us;
    uint64_t total_count; /* since the series began (Prometheus counters) */
    double total_sum;
    cm_window win[CUSTOM_METRICS_WINDOWS];
} cm_series;

struct custom_metrics {
    custom_metrics_config cfg;
    int64_t period_us[CUSTOM_METRICS_WINDOWS];
    unsigned n_periods[CUSTOM_METRICS_WINDOWS];
    char perf_label[8]; /* as the events' and workers' */
    cm_series **s;
    size_t n, cap;
    custom_metrics_stats st;
    char last_refused[BM_ID_MAX + 1];
    int64_t evict_after_us; /* no series is evictable before this (0: unknown) */
    int64_t since_us;       /* first time told of (an event, a rollup); 0: unknown */
};

void custom_metrics_config_defaults(custom_metrics_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_series = 10000;
    c->max_tags_per_series = 8;
    c->perf_window_us = 60 * MINUTE_US;
}

int custom_metrics_config_list(custom_metrics_config *c, int deny, const char *text, char *err,
                               size_t errlen)
{
    char(*list)[CUSTOM_METRICS_LIST_KEY_MAX] = deny ? c->tag_deny : c->tag_allow;
    size_t *n = deny ? &c->n_tag_deny : &c->n_tag_allow;
    *n = 0;
    for (const char *p = text ? text : ""; *p;) {
        size_t len = strcspn(p, ", \t");
        if (len) {
            if (*n >= CUSTOM_METRICS_LIST_MAX)
                return snprintf(err, errlen, "more than %d tag keys", CUSTOM_METRICS_LIST_MAX), -1;
            if (len >= CUSTOM_METRICS_LIST_KEY_MAX)
                return snprintf(err, errlen, "tag key '%.*s...' is longer than %d bytes", 20, p,
                                CUSTOM_METRICS_LIST_KEY_MAX - 1),
                       -1;
            memcpy(list[*n], p, len);
            list[(*n)++][len] = '\0';
        }
        p += len;
        p += strspn(p, ", \t");
    }
    return 0;
}

custom_metrics *custom_metrics_new(const custom_metrics_config *cfg)
{
    custom_metrics *cm = calloc(1, sizeof *cm);
    if (!cm) return NULL;
    custom_metrics_config d;
    custom_metrics_config_defaults(&d);
    cm->cfg = cfg ? *cfg : d;
    if (!cm->cfg.max_series) cm->cfg.max_series = d.max_series;
    if (!cm->cfg.max_tags_per_series || cm->cfg.max_tags_per_series > CUSTOM_METRICS_TAGS_MAX)
        cm->cfg.max_tags_per_series =
            cm->cfg.max_tags_per_series ? CUSTOM_METRICS_TAGS_MAX : d.max_tags_per_series;
    if (cm->cfg.perf_window_us <= 0) cm->cfg.perf_window_us = d.perf_window_us;
    if (cm->cfg.n_tag_allow > CUSTOM_METRICS_LIST_MAX)
        cm->cfg.n_tag_allow = CUSTOM_METRICS_LIST_MAX;
    if (cm->cfg.n_tag_deny > CUSTOM_METRICS_LIST_MAX) cm->cfg.n_tag_deny = CUSTOM_METRICS_LIST_MAX;
    cm->period_us[0] = 10 * 1000000LL;
    cm->n_periods[0] = 6;
    cm->period_us[1] = 30 * 1000000LL;
    cm->n_periods[1] = 10;
    cm->period_us[2] = cm->cfg.perf_window_us / PERF_PERIODS;
    if (cm->period_us[2] < 1) cm->period_us[2] = 1;
    cm->n_periods[2] = PERF_PERIODS;
    /* labelled by the configured length, as the events and workers */
    bm_window_label(cm->cfg.perf_window_us, cm->perf_label, sizeof cm->perf_label);
    return cm;
}

/* a + b held at the largest double instead of overflowing: an infinite sum
 * has no place in JSON or in the checkpoint (which refuses it, and with it
 * the whole state at the next start). Values are finite (proto/ refuses the
 * others). */
static double add_sat(double a, double b)
{
    double r = a + b;
    if (isinf(r)) r = r > 0 ? DBL_MAX : -DBL_MAX;
    return r;
}

static void series_free(cm_series *s)
{
    if (!s) return;
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++) {
        for (unsigned i = 0; s->win[w].p && i < s->win[w].n; i++) {
            bm_hist_deinit(&s->win[w].p[i].pos);
            bm_hist_deinit(&s->win[w].p[i].neg);
        }
        free(s->win[w].p);
    }
    free(s->key);
    free(s->name);
    free(s);
}

static void clear_series(custom_metrics *cm)
{
    for (size_t i = 0; i < cm->n; i++)
        series_free(cm->s[i]);
    free(cm->s);
    cm->s = NULL;
    cm->n = cm->cap = 0;
}

void custom_metrics_free(custom_metrics *cm)
{
    if (!cm) return;
    clear_series(cm);
    free(cm);
}

/* ---- series ------------------------------------------------------------- */

typedef struct {
    const char *k, *v;
} tag_ref;

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const tag_ref *)a)->k, ((const tag_ref *)b)->k);
}

static int in_list(const char (*list)[CUSTOM_METRICS_LIST_KEY_MAX], size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], k)) return 1;
    return 0;
}

/* The event's tags after the lists and the bound, sorted by key; how many
 * the lists and the bound dropped into *dropped. @return how many are kept. */
static unsigned kept_tags(const custom_metrics *cm, const bm_event *ev, tag_ref *out,
                          unsigned *dropped)
{
    unsigned n = 0;
    *dropped = 0;
    for (unsigned i = 0; i < ev->n_tags && i < BM_EVENT_MAX_TAGS; i++) {
        const char *k = ev->tags[i].key;
        if ((cm->cfg.n_tag_allow && !in_list(cm->cfg.tag_allow, cm->cfg.n_tag_allow, k)) ||
            in_list(cm->cfg.tag_deny, cm->cfg.n_tag_deny, k)) {
            (*dropped)++;
            continue;
        }
        out[n++] = (tag_ref){k, ev->tags[i].value};
    }
    qsort(out, n, sizeof *out, tag_cmp);
    if (n > cm->cfg.max_tags_per_series) {
        *dropped += n - cm->cfg.max_tags_per_series;
        n = cm->cfg.max_tags_per_series;
    }
    return n;
}

/* @return the key's length, or 0 when it does not fit. */
static size_t make_key(char *buf, size_t cap, const char *name, const tag_ref *t, unsigned n)
{
    size_t len = (size_t)snprintf(buf, cap, "%s", name);
    for (unsigned i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "\x1f%s\x1e%s", t[i].k, t[i].v);
    return len < cap ? len : 0;
}

/* Index of key, or -(insertion point) - 1. */
static long find(const custom_metrics *cm, const char *key)
{
    size_t lo = 0, hi = cm->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(cm->s[mid]->key, key);
        if (!c) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static cm_series *series_new(const custom_metrics *cm, const char *key, const char *name,
                             const tag_ref *t, unsigned n, bm_metric_kind kind)
{
    cm_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t need = strlen(name) + 1;
    for (unsigned i = 0; i < n; i++)
        need += strlen(t[i].k) + strlen(t[i].v) + 2;
    s->key = strdup(key);
    s->name = malloc(need);
    if (!s->key || !s->name) goto fail;
    char *p = s->name;
    p = stpcpy(p, name) + 1;
    for (unsigned i = 0; i < n; i++) {
        s->tk[i] = p;
        p = stpcpy(p, t[i].k) + 1;
        s->tv[i] = p;
        p = stpcpy(p, t[i].v) + 1;
    }
    s->n_tags = n;
    s->kind = kind;
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++) {
        s->win[w].period_us = cm->period_us[w];
        s->win[w].n = cm->n_periods[w];
        s->win[w].p = calloc(cm->n_periods[w], sizeof(cm_period));
        if (!s->win[w].p) goto fail;
        for (unsigned i = 0; i < s->win[w].n; i++) {
            bm_hist_init(&s->win[w].p[i].pos);
            bm_hist_init(&s->win[w].p[i].neg);
        }
    }
    return s;
fail:
    series_free(s);
    return NULL;
}

static void remove_at(custom_metrics *cm, size_t i)
{
    series_free(cm->s[i]);
    memmove(&cm->s[i], &cm->s[i + 1], (cm->n - i - 1) * sizeof *cm->s);
    cm->n--;
}

/* A full table: evict the least recently seen series when it is idle past
 * every window. When none is, the time the oldest will be is kept: last
 * seen times only grow, so until then a refusal costs no scan of the table
 * (a flood of new names into a full table is refused at O(1) each, not at
 * a pass over 10,000 series each). @return 1 when room was made. */
static int evict_idle(custom_metrics *cm, int64_t now_us)
{
    if (now_us < cm->evict_after_us) return 0;
    long oldest = -1;
    for (size_t i = 0; i < cm->n; i++)
        if (oldest < 0 || cm->s[i]->last_seen_us < cm->s[oldest]->last_seen_us) oldest = (long)i;
    if (oldest < 0) return 0;
    if (cm->s[oldest]->last_seen_us > now_us - cm->cfg.perf_window_us) {
        cm->evict_after_us = cm->s[oldest]->last_seen_us + cm->cfg.perf_window_us;
        return 0;
    }
    remove_at(cm, (size_t)oldest);
    cm->st.evicted++;
    return 1;
}

/* Put s at its place (key not present). @return 0 or -1 (out of memory). */
static int insert(custom_metrics *cm, cm_series *s)
{
    if (cm->n == cm->cap) {
        size_t cap = cm->cap ? cm->cap * 2 : 16;
        cm_series **p = realloc(cm->s, cap * sizeof *p);
        if (!p) return -1;
        cm->s = p;
        cm->cap = cap;
    }
    size_t at = (size_t)(-find(cm, s->key) - 1);
    memmove(&cm->s[at + 1], &cm->s[at], (cm->n - at) * sizeof *cm->s);
    cm->s[at] = s;
    cm->n++;
    return 0;
}

/* ---- periods ------------------------------------------------------------ */

static int64_t period_start(int64_t period_us, int64_t t)
{
    int64_t r = t % period_us;
    if (r < 0) r += period_us;
    return t - r;
}

static unsigned slot_of(const cm_window *w, int64_t start_us)
{
    int64_t s = (start_us / w->period_us) % (int64_t)w->n;
    return (unsigned)(s < 0 ? s + w->n : s);
}

static int is_live(const cm_window *w, const cm_period *p, int64_t now_us)
{
    int64_t now_start = period_start(w->period_us, now_us);
    return p->count > 0 && p->start_us <= now_start &&
           p->start_us > now_start - (int64_t)w->n * w->period_us;
}

static void period_clear(cm_period *p, int64_t start_us)
{
    p->start_us = start_us;
    p->count = p->zeros = 0;
    p->sum = p->min = p->max = p->last = 0;
    p->last_ts_us = 0;
    bm_hist_reset(&p->pos);
    bm_hist_reset(&p->neg);
}

static int64_t sketch_units(double v)
{
    double a = fabs(v) * SCALE;
    return a > 4e18 ? (int64_t)4e18 : (int64_t)llround(a);
}

static int period_add(cm_period *p, bm_metric_kind kind, double v, int64_t ts_us)
{
    if (kind == BM_METRIC_HISTOGRAM && v != 0 &&
        bm_hist_add(v > 0 ? &p->pos : &p->neg, sketch_units(v), 1) < 0)
        return -1;
    if (v == 0) p->zeros++;
    if (!p->count || v < p->min) p->min = v;
    if (!p->count || v > p->max) p->max = v;
    if (!p->count || ts_us >= p->last_ts_us) {
        p->last = v;
        p->last_ts_us = ts_us;
    }
    p->count++;
    p->sum = add_sat(p->sum, v);
    return 0;
}

/* dst (same start, or empty) += src. */
static int period_merge(cm_period *dst, const cm_period *src)
{
    if (bm_hist_merge(&dst->pos, &src->pos) < 0 || bm_hist_merge(&dst->neg, &src->neg) < 0)
        return -1;
    if (!dst->count || src->min < dst->min) dst->min = src->min;
    if (!dst->count || src->max > dst->max) dst->max = src->max;
    if (!dst->count || src->last_ts_us >= dst->last_ts_us) {
        dst->last = src->last;
        dst->last_ts_us = src->last_ts_us;
    }
    dst->count += src->count;
    dst->zeros += src->zeros;
    dst->sum = add_sat(dst->sum, src->sum);
    dst->start_us = src->start_us;
    return 0;
}

/* Put src's period in its slot of dst (aligned by start). */
static int window_merge_period(cm_window *dst, const cm_period *src)
{
    if (!src->count) return 0;
    cm_period *d = &dst->p[slot_of(dst, src->start_us)];
    if (d->count && d->start_us > src->start_us) return 0; /* src is out of dst's window */
    if (d->count && d->start_us < src->start_us) period_clear(d, src->start_us);
    if (!d->count) period_clear(d, src->start_us);
    return period_merge(d, src);
}

void custom_metrics_watch(custom_metrics *cm, int64_t now_us)
{
    if (cm && !cm->since_us) cm->since_us = now_us;
}

custom_metrics_result custom_metrics_add(custom_metrics *cm, const bm_event *ev, int64_t now_us)
{
    if (!ev->metric_name || !ev->metric_name[0]) return CUSTOM_METRICS_ADDED;
    custom_metrics_watch(cm, now_us);
    tag_ref t[BM_EVENT_MAX_TAGS];
    unsigned dropped;
    unsigned n = kept_tags(cm, ev, t, &dropped);
    char key[KEY_MAX];
    if (!make_key(key, sizeof key, ev->metric_name, t, n)) return CUSTOM_METRICS_REFUSED;
    long at = find(cm, key);
    cm_series *s;
    if (at >= 0) {
        s = cm->s[at];
        if (s->kind != ev->metric_kind) {
            cm->st.kind_conflicts++;
            return CUSTOM_METRICS_KIND_CONFLICT;
        }
    } else {
        if (cm->n >= cm->cfg.max_series && !evict_idle(cm, now_us)) {
            cm->st.refused++;
            snprintf(cm->last_refused, sizeof cm->last_refused, "%s", ev->metric_name);
            return CUSTOM_METRICS_REFUSED;
        }
        s = series_new(cm, key, ev->metric_name, t, n, ev->metric_kind);
        if (!s || insert(cm, s) < 0) {
            series_free(s);
            return CUSTOM_METRICS_NOMEM;
        }
    }
    cm->st.tags_dropped += ev->tags_dropped + dropped; /* of a kept event only */
    s->last_seen_us = now_us;
    s->total_count++;
    s->total_sum = add_sat(s->total_sum, ev->metric_value);
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++) {
        cm_window *win = &s->win[w];
        int64_t start = period_start(win->period_us, now_us);
        cm_period *p = &win->p[slot_of(win, start)];
        if (p->start_us > start && p->count) continue; /* time went back a window: newest wins */
        if (p->start_us != start || !p->count) period_clear(p, start);
        if (period_add(p, s->kind, ev->metric_value, ev->ts_us) < 0) return CUSTOM_METRICS_NOMEM;
    }
    return CUSTOM_METRICS_ADDED;
}

/* ---- reading ------------------------------------------------------------ */

int custom_metrics_window_index(const custom_metrics *cm, const char *label)
{
    if (!label) return -1;
    if (!strcmp(label, "1m")) return 0;
    if (!strcmp(label, "5m")) return 1;
    if (!strcmp(label, cm->perf_label)) return 2;
    return -1;
}

const char *custom_metrics_window_label(const custom_metrics *cm, int window)
{
    return window == 0 ? "1m" : window == 1 ? "5m" : cm->perf_label;
}

int64_t custom_metrics_window_us(const custom_metrics *cm, int window)
{
    if (window < 0 || window >= CUSTOM_METRICS_WINDOWS) return 0;
    return cm->period_us[window] * (int64_t)cm->n_periods[window];
}

/* The value of rank r (1-based) among the merged values. */
static double value_at_rank(const bm_hist *pos, const bm_hist *neg, uint64_t zeros, uint64_t r)
{
    if (r <= neg->count)
        return -bm_hist_quantile(neg, ((double)(neg->count - r + 1) - 0.5) / (double)neg->count) /
               SCALE;
    if (r <= neg->count + zeros) return 0;
    r -= neg->count + zeros;
    return bm_hist_quantile(pos, ((double)r - 0.5) / (double)pos->count) / SCALE;
}

static double quantile(const bm_hist *pos, const bm_hist *neg, uint64_t zeros, double q, double min,
                       double max)
{
    uint64_t total = pos->count + neg->count + zeros;
    if (!total) return 0;
    uint64_t r = (uint64_t)ceil(q * (double)total);
    if (r < 1) r = 1;
    if (r > total) r = total;
    double v = value_at_rank(pos, neg, zeros, r);
    return v < min ? min : v > max ? max : v;
}

static int matches(const cm_series *s, const custom_metrics_filter *f)
{
    if (!f) return 1;
    if (f->name && f->name[0] && strcmp(f->name, s->name)) return 0;
    for (size_t i = 0; i < f->n_tags; i++) {
        int found = 0;
        for (unsigned k = 0; k < s->n_tags && !found; k++)
            found = !strcmp(s->tk[k], f->tags[i].key) && !strcmp(s->tv[k], f->tags[i].value);
        if (!found) return 0;
    }
    return 1;
}

/* Figures being summed over one window of one or more series. */
typedef struct {
    custom_metrics_stat st;
    bm_hist pos, neg;
    uint64_t zeros;
    int64_t oldest, last_ts;
    int64_t period_us; /* the window's shape */
    unsigned n_periods;
} acc;

static void acc_init(acc *a)
{
    memset(a, 0, sizeof *a);
    bm_hist_init(&a->pos);
    bm_hist_init(&a->neg);
}

static void acc_reset(acc *a)
{
    memset(&a->st, 0, sizeof a->st);
    bm_hist_reset(&a->pos);
    bm_hist_reset(&a->neg);
    a->zeros = 0;
    a->oldest = a->last_ts = 0;
}

/* a += s's live periods of window w. @return 0 or -1 (out of memory). */
static int acc_add(acc *a, const cm_series *s, int window, int64_t now_us)
{
    const cm_window *w = &s->win[window];
    a->period_us = w->period_us;
    a->n_periods = w->n;
    for (unsigned k = 0; k < w->n; k++) {
        const cm_period *p = &w->p[k];
        if (!is_live(w, p, now_us)) continue;
        if (bm_hist_merge(&a->pos, &p->pos) < 0 || bm_hist_merge(&a->neg, &p->neg) < 0) return -1;
        if (!a->st.count || p->min < a->st.min) a->st.min = p->min;
        if (!a->st.count || p->max > a->st.max) a->st.max = p->max;
        if (!a->st.count || p->last_ts_us >= a->last_ts) {
            a->st.last = p->last;
            a->last_ts = p->last_ts_us;
        }
        if (!a->oldest || p->start_us < a->oldest) a->oldest = p->start_us;
        a->st.count += p->count;
        a->st.sum = add_sat(a->st.sum, p->sum);
        a->zeros += p->zeros;
    }
    if (s->last_seen_us > a->st.last_seen_us) a->st.last_seen_us = s->last_seen_us;
    a->st.total_count += s->total_count;
    a->st.total_sum = add_sat(a->st.total_sum, s->total_sum);
    return 0;
}

/* The derived figures (avg, quantiles, rate) of what a holds, of `kind`,
 * for a table watching since since_us (0: unknown). */
static void acc_finish(acc *a, bm_metric_kind kind, int64_t now_us, int64_t since_us)
{
    custom_metrics_stat *st = &a->st;
    st->kind = kind;
    st->avg = st->sum / (double)st->count;
    /* rates divide by the time the window holds data, or longer: by the time
     * the table watched, when the series was quiet (or not yet there) before
     * its data began; never by less than a tenth of a period (lib/window.h) */
    int64_t len_us = a->period_us * (int64_t)a->n_periods;
    st->covered_us = now_us - a->oldest;
    if (st->covered_us > len_us) st->covered_us = len_us;
    const bm_window shape = {.period_us = a->period_us, .n_periods = a->n_periods};
    int64_t watched_us = bm_window_watched_us(&shape, now_us, since_us);
    if (watched_us > st->covered_us) st->covered_us = watched_us;
    if (st->covered_us < a->period_us / 10) st->covered_us = a->period_us / 10;
    if (st->covered_us < 1) st->covered_us = 1;
    double secs = (double)st->covered_us / 1e6;
    if (kind == BM_METRIC_HISTOGRAM) {
        st->p50 = quantile(&a->pos, &a->neg, a->zeros, 0.50, st->min, st->max);
        st->p95 = quantile(&a->pos, &a->neg, a->zeros, 0.95, st->min, st->max);
        st->p99 = quantile(&a->pos, &a->neg, a->zeros, 0.99, st->min, st->max);
        st->rate_per_s = (double)st->count / secs;
    } else if (kind == BM_METRIC_COUNTER) {
        st->rate_per_s = st->sum / secs;
    }
}

static void acc_deinit(acc *a)
{
    bm_hist_deinit(&a->pos);
    bm_hist_deinit(&a->neg);
}

int custom_metrics_foreach(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                           int64_t now_us, custom_metrics_cb cb, void *arg)
{
    if (window < 0 || window >= CUSTOM_METRICS_WINDOWS) return 0;
    acc a;
    acc_init(&a);
    int n = 0;
    for (size_t i = 0; i < cm->n && n >= 0; i++) {
        const cm_series *s = cm->s[i];
        if (!matches(s, f)) continue;
        acc_reset(&a);
        if (acc_add(&a, s, window, now_us) < 0) {
            n = -1;
            break;
        }
        if (!a.st.count) continue;
        acc_finish(&a, s->kind, now_us, cm->since_us);
        a.st.name = s->name;
        a.st.n_tags = s->n_tags;
        for (unsigned k = 0; k < s->n_tags; k++)
            a.st.tags[k] = (custom_metrics_tag){s->tk[k], s->tv[k]};
        cb(&a.st, arg);
        n++;
    }
    acc_deinit(&a);
    return n;
}

int custom_metrics_aggregate(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                             int64_t now_us, custom_metrics_stat *out)
{
    memset(out, 0, sizeof *out);
    if (window < 0 || window >= CUSTOM_METRICS_WINDOWS) return 0;
    acc a;
    acc_init(&a);
    int n = 0;
    const cm_series *first = NULL;
    for (size_t i = 0; i < cm->n; i++) {
        const cm_series *s = cm->s[i];
        if (!matches(s, f) || (first && s->kind != first->kind)) continue;
        uint64_t before = a.st.count;
        if (acc_add(&a, s, window, now_us) < 0) {
            acc_deinit(&a);
            return -1;
        }
        if (a.st.count == before) continue;
        if (!first) first = s;
        n++;
    }
    if (n) {
        acc_finish(&a, first->kind, now_us, cm->since_us);
        *out = a.st;
        out->name = first->name;
    }
    acc_deinit(&a);
    return n;
}

void custom_metrics_get_stats(const custom_metrics *cm, custom_metrics_stats *out)
{
    *out = cm->st;
    out->series = cm->n;
}

const char *custom_metrics_last_refused(const custom_metrics *cm)
{
    return cm->last_refused;
}

/* ---- state -------------------------------------------------------------- */

/* The live periods of w as msgpack [period, ...] into pk. */
static int save_periods(const cm_window *w, msgpack_packer *pk)
{
    unsigned used = 0;
    for (unsigned i = 0; i < w->n; i++)
        used += w->p[i].count > 0;
    int e = msgpack_pack_array(pk, used);
    for (unsigned i = 0; i < w->n; i++) {
        const cm_period *p = &w->p[i];
        if (!p->count) continue;
        e |= msgpack_pack_array(pk, 10);
        e |= msgpack_pack_int64(pk, p->start_us);
        e |= msgpack_pack_uint64(pk, p->count);
        e |= bm_sc_real(pk, p->sum);
        e |= bm_sc_real(pk, p->min);
        e |= bm_sc_real(pk, p->max);
        e |= bm_sc_real(pk, p->last);
        e |= msgpack_pack_int64(pk, p->last_ts_us);
        e |= msgpack_pack_uint64(pk, p->zeros);
        e |= p->pos.count ? bm_hist_save(&p->pos, pk) : msgpack_pack_nil(pk);
        e |= p->neg.count ? bm_hist_save(&p->neg, pk) : msgpack_pack_nil(pk);
    }
    return e ? -1 : 0;
}

/* [period_us, n_periods, bin]: the periods packed in one bin, so that a
 * checkpoint of 10,000 busy series is some 30 msgpack objects a series, not
 * 700, well within what a checkpoint's reader accepts (lib/checkpoint.c). */
static int save_window(const cm_window *w, msgpack_packer *pk)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer inner;
    msgpack_packer_init(&inner, &sb, msgpack_sbuffer_write);
    int e = save_periods(w, &inner);
    e |= msgpack_pack_array(pk, 3);
    e |= msgpack_pack_int64(pk, w->period_us);
    e |= msgpack_pack_uint32(pk, w->n);
    e |= msgpack_pack_bin(pk, sb.size);
    e |= msgpack_pack_bin_body(pk, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return e ? -1 : 0;
}

int custom_metrics_save(const custom_metrics *cm, msgpack_packer *pk)
{
    int e = msgpack_pack_map(pk, 6);
    e |= bm_sc_key_u64(pk, "refused", cm->st.refused);
    e |= bm_sc_key_u64(pk, "evicted", cm->st.evicted);
    e |= bm_sc_key_u64(pk, "tags_dropped", cm->st.tags_dropped);
    e |= bm_sc_key_u64(pk, "kind_conflicts", cm->st.kind_conflicts);
    e |= bm_sc_key_i64(pk, "since", cm->since_us);
    e |= bm_sc_key(pk, "series");
    e |= msgpack_pack_array(pk, (uint32_t)cm->n);
    for (size_t i = 0; i < cm->n && !e; i++) {
        const cm_series *s = cm->s[i];
        e |= msgpack_pack_map(pk, 7);
        e |= bm_sc_key_str(pk, "name", s->name);
        e |= bm_sc_key_u64(pk, "total_count", s->total_count);
        e |= bm_sc_key_real(pk, "total_sum", s->total_sum);
        e |= bm_sc_key_str(pk, "kind", bm_metric_kind_name(s->kind));
        e |= bm_sc_key(pk, "tags");
        e |= msgpack_pack_array(pk, s->n_tags);
        for (unsigned k = 0; k < s->n_tags; k++) {
            e |= msgpack_pack_array(pk, 2);
            e |= bm_sc_str(pk, s->tk[k]);
            e |= bm_sc_str(pk, s->tv[k]);
        }
        e |= bm_sc_key_i64(pk, "last_seen", s->last_seen_us);
        e |= bm_sc_key(pk, "windows");
        e |= msgpack_pack_array(pk, CUSTOM_METRICS_WINDOWS);
        for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++)
            e |= save_window(&s->win[w], pk);
    }
    return e ? -1 : 0;
}

static int load_period(cm_period *p, const msgpack_object *o, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 10)
        return bm_sc_fail(err, errlen, "a period is not an array of 10");
    const msgpack_object *a = o->via.array.ptr;
    if (bm_sc_as_time(&a[0], &p->start_us) || bm_sc_as_u64(&a[1], &p->count) ||
        bm_sc_as_f64(&a[2], &p->sum) || bm_sc_as_f64(&a[3], &p->min) ||
        bm_sc_as_f64(&a[4], &p->max) || bm_sc_as_f64(&a[5], &p->last) ||
        bm_sc_as_time(&a[6], &p->last_ts_us) || bm_sc_as_u64(&a[7], &p->zeros) || !p->count)
        return bm_sc_fail(err, errlen, "a period holds a value of the wrong type");
    int rc = a[8].type == MSGPACK_OBJECT_NIL ? 0 : bm_hist_load(&p->pos, &a[8], err, errlen);
    if (!rc && a[9].type != MSGPACK_OBJECT_NIL) rc = bm_hist_load(&p->neg, &a[9], err, errlen);
    return rc;
}

#define PERIOD_OBJECTS_MAX 64 /* a period: 11 objects and two sketches of 8 */

static int load_window(cm_window *w, const msgpack_object *o, char *err, size_t errlen)
{
    int64_t period_us;
    uint32_t n;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
        bm_sc_as_i64(&o->via.array.ptr[0], &period_us) || bm_sc_as_u32(&o->via.array.ptr[1], &n) ||
        o->via.array.ptr[2].type != MSGPACK_OBJECT_BIN)
        return bm_sc_fail(err, errlen, "a window is not [period_us, n_periods, bin]");
    if (period_us != w->period_us || n != w->n)
        return bm_sc_fail(err, errlen, "a window of another shape"), BM_LOAD_MISMATCH;
    const msgpack_object_bin *bin = &o->via.array.ptr[2].via.bin;
    if (bm_sc_scan(bin->ptr, bin->size, 4, (size_t)n * PERIOD_OBJECTS_MAX + 1, NULL) !=
        BM_SC_SCAN_OK)
        return bm_sc_fail(err, errlen, "a window's periods are not one msgpack array of them");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = 0;
    if (msgpack_unpack_next(&u, bin->ptr, bin->size, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY)
        rc = bm_sc_fail(err, errlen, "a window's periods are not an array");
    const msgpack_object_array *ps = rc ? NULL : &u.data.via.array;
    if (!rc && ps->size > n) rc = bm_sc_fail(err, errlen, "a window with more periods than slots");
    cm_period tmp;
    bm_hist_init(&tmp.pos);
    bm_hist_init(&tmp.neg);
    for (uint32_t i = 0; !rc && i < ps->size; i++) {
        period_clear(&tmp, 0);
        rc = load_period(&tmp, &ps->ptr[i], err, errlen);
        if (!rc && tmp.start_us % w->period_us)
            rc = bm_sc_fail(err, errlen, "a period start not aligned to its period");
        if (!rc && window_merge_period(w, &tmp) < 0) rc = BM_LOAD_NOMEM;
    }
    bm_hist_deinit(&tmp.pos);
    bm_hist_deinit(&tmp.neg);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* One saved series into a new series of cm's shape. */
static int load_series(const custom_metrics *cm, const msgpack_object *o, cm_series **out,
                       char *err, size_t errlen)
{
    char name[BM_ID_MAX + 1], kind_s[16];
    char tk[CUSTOM_METRICS_TAGS_MAX][BM_ID_MAX + 1], tv[CUSTOM_METRICS_TAGS_MAX][BM_ID_MAX + 1];
    tag_ref t[CUSTOM_METRICS_TAGS_MAX];
    int64_t last_seen;
    int rc = bm_sc_need_str(o, "name", name, sizeof name, err, errlen);
    if (!rc) rc = bm_sc_need_str(o, "kind", kind_s, sizeof kind_s, err, errlen);
    if (!rc) rc = bm_sc_need_time(o, "last_seen", &last_seen, err, errlen);
    if (rc) return rc;
    int kind = -1;
    for (int k = 0; k < BM_METRIC__COUNT; k++)
        if (!strcmp(kind_s, bm_metric_kind_name((bm_metric_kind)k))) kind = k;
    if (kind < 0) return bm_sc_fail(err, errlen, "unknown kind '%s'", kind_s);
    const msgpack_object *tags = bm_sc_need(o, "tags", MSGPACK_OBJECT_ARRAY, err, errlen);
    const msgpack_object *wins = bm_sc_need(o, "windows", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!tags || !wins) return BM_LOAD_CORRUPT;
    if (tags->via.array.size > CUSTOM_METRICS_TAGS_MAX ||
        wins->via.array.size != CUSTOM_METRICS_WINDOWS)
        return bm_sc_fail(err, errlen, "too many tags, or not %d windows", CUSTOM_METRICS_WINDOWS);
    unsigned n = tags->via.array.size;
    for (unsigned i = 0; i < n; i++) {
        const msgpack_object *p = &tags->via.array.ptr[i];
        if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
            bm_sc_as_str(&p->via.array.ptr[0], tk[i], sizeof tk[i]) ||
            bm_sc_as_str(&p->via.array.ptr[1], tv[i], sizeof tv[i]))
            return bm_sc_fail(err, errlen, "a tag is not [key, value]");
        t[i] = (tag_ref){tk[i], tv[i]};
    }
    qsort(t, n, sizeof *t, tag_cmp);
    char key[KEY_MAX];
    if (!make_key(key, sizeof key, name, t, n)) return bm_sc_fail(err, errlen, "key too long");
    cm_series *s = series_new(cm, key, name, t, n, (bm_metric_kind)kind);
    if (!s) return BM_LOAD_NOMEM;
    s->last_seen_us = last_seen;
    rc = bm_sc_need_u64(o, "total_count", &s->total_count, err, errlen);
    if (!rc) rc = bm_sc_need_f64(o, "total_sum", &s->total_sum, err, errlen);
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS && !rc; w++)
        rc = load_window(&s->win[w], &wins->via.array.ptr[w], err, errlen);
    if (rc) {
        series_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int custom_metrics_load(custom_metrics *cm, const msgpack_object *o, char *err, size_t errlen)
{
    custom_metrics *tmp = custom_metrics_new(&cm->cfg);
    if (!tmp) return BM_LOAD_NOMEM;
    custom_metrics_stats st = {0};
    int rc = bm_sc_need_u64(o, "refused", &st.refused, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "evicted", &st.evicted, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "tags_dropped", &st.tags_dropped, err, errlen);
    if (!rc) rc = bm_sc_need_u64(o, "kind_conflicts", &st.kind_conflicts, err, errlen);
    const msgpack_object *since = bm_sc_get(o, "since"); /* absent before it was kept: 0 */
    if (!rc && since && bm_sc_as_time(since, &tmp->since_us))
        rc = bm_sc_fail(err, errlen, "'since' is not a time in µs");
    const msgpack_object *series =
        rc ? NULL : bm_sc_need(o, "series", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!rc && !series) rc = BM_LOAD_CORRUPT;
    for (uint32_t i = 0; !rc && i < series->via.array.size; i++) {
        cm_series *s = NULL;
        rc = load_series(cm, &series->via.array.ptr[i], &s, err, errlen);
        if (rc) break;
        if (find(tmp, s->key) >= 0) {
            series_free(s);
            rc = bm_sc_fail(err, errlen, "a series saved twice");
        } else if (tmp->n >= tmp->cfg.max_series) {
            series_free(s);
            st.refused++;
        } else if (insert(tmp, s) < 0) {
            series_free(s);
            rc = BM_LOAD_NOMEM;
        }
    }
    if (rc) {
        custom_metrics_free(tmp);
        return rc;
    }
    tmp->st = st;
    custom_metrics_swap(cm, tmp);
    custom_metrics_free(tmp);
    return 0;
}

int custom_metrics_merge(custom_metrics *dst, const custom_metrics *src)
{
    dst->evict_after_us = 0; /* older last seen times may come in */
    if (src->since_us && (!dst->since_us || src->since_us < dst->since_us))
        dst->since_us = src->since_us;
    dst->st.refused += src->st.refused;
    dst->st.evicted += src->st.evicted;
    dst->st.tags_dropped += src->st.tags_dropped;
    dst->st.kind_conflicts += src->st.kind_conflicts;
    for (size_t i = 0; i < src->n; i++) {
        const cm_series *s = src->s[i];
        long at = find(dst, s->key);
        cm_series *d;
        if (at >= 0) {
            d = dst->s[at];
            if (d->kind != s->kind) {
                dst->st.kind_conflicts++;
                continue;
            }
        } else {
            if (dst->n >= dst->cfg.max_series) {
                dst->st.refused++;
                continue;
            }
            tag_ref t[CUSTOM_METRICS_TAGS_MAX];
            for (unsigned k = 0; k < s->n_tags; k++)
                t[k] = (tag_ref){s->tk[k], s->tv[k]};
            d = series_new(dst, s->key, s->name, t, s->n_tags, s->kind);
            if (!d || insert(dst, d) < 0) {
                series_free(d);
                return -1;
            }
        }
        if (s->last_seen_us > d->last_seen_us) d->last_seen_us = s->last_seen_us;
        d->total_count += s->total_count;
        d->total_sum = add_sat(d->total_sum, s->total_sum);
        for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++)
            for (unsigned k = 0; k < s->win[w].n; k++)
                if (window_merge_period(&d->win[w], &s->win[w].p[k]) < 0) return -1;
    }
    return 0;
}

void custom_metrics_swap(custom_metrics *a, custom_metrics *b)
{
    cm_series **s = a->s;
    size_t n = a->n, cap = a->cap;
    custom_metrics_stats st = a->st;
    int64_t since_us = a->since_us;
    char last[sizeof a->last_refused];
    memcpy(last, a->last_refused, sizeof last);
    a->s = b->s;
    a->n = b->n;
    a->cap = b->cap;
    a->st = b->st;
    a->since_us = b->since_us;
    memcpy(a->last_refused, b->last_refused, sizeof last);
    b->s = s;
    b->n = n;
    b->cap = cap;
    b->st = st;
    b->since_us = since_us;
    memcpy(b->last_refused, last, sizeof last);
    a->evict_after_us = b->evict_after_us = 0; /* each now holds other series */
}
