/*
 * baseline.c - learned baselines per key (baseline.h has the model, the
 * bounds and the state layout).
 *
 * Keys live in one array sorted by name (binary search; an insert moves
 * pointers, bounded by max_keys). Not here: where the samples come from
 * (the agent's baseline job), what is alerted on (lib/alerts.c).
 */
#include "lib/baseline.h"

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_codec.h"
#include "lib/trace_json.h"

#define HOUR_US         (3600LL * 1000000LL)
#define MONDAY_OFFSET_H 72              /* 1970-01-01 was a Thursday: Monday 00:00 is 72 h before */
#define SLOT_BYTES      (2 + 4 + 8 + 8) /* u16 index, u32 n, f64 mean, f64 var */

typedef struct {
    double mean, var;
    uint32_t n;
} ewma;

typedef struct {
    char key[BM_NAME_MAX];
    int64_t first_us, last_us, frozen_us;
    uint64_t samples, outliers;
    ewma global[BASELINE__SERIES];
    ewma *slots; /* n_slots x BASELINE__SERIES, NULL without slots */
    double pinned_mean[BASELINE__SERIES], pinned_sd[BASELINE__SERIES];
} entry;

struct baselines {
    baseline_config cfg;
    size_t n_slots;
    entry **by_key;
    size_t count;
    uint64_t refused, evicted, ctl_seq;
};

/* ---- names ------------------------------------------------------------ */

static const char *const series_names[BASELINE__SERIES] = {"p50", "p95", "error_rate",
                                                           "throughput"};
static const char *const slots_names[] = {"none", "hour_of_day", "hour_of_week"};
static const char *const mode_names[] = {"ratio", "stddev"};

const char *baseline_series_name(baseline_series s)
{
    return (unsigned)s < BASELINE__SERIES ? series_names[s] : "?";
}

const char *baseline_slots_name(baseline_slots s)
{
    return (unsigned)s < 3 ? slots_names[s] : "?";
}

int baseline_slots_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, slots_names[i])) return i;
    return -1;
}

const char *baseline_mode_name(baseline_mode m)
{
    return (unsigned)m < 2 ? mode_names[m] : "?";
}

int baseline_mode_parse(const char *s)
{
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, mode_names[i])) return i;
    return -1;
}

/* ---- life ------------------------------------------------------------- */

void baseline_config_defaults(baseline_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_keys = 1000;
    c->alpha = 0.05;
    c->min_samples = 20;
    c->min_learning_us = HOUR_US;
    c->slots = BASELINE_SLOTS_HOUR_OF_WEEK;
    c->slot_min_samples = 10;
    c->outlier_factor = 3.0;
    c->max_idle_us = 7 * 24 * HOUR_US;
}

static size_t slot_count(baseline_slots s)
{
    return s == BASELINE_SLOTS_HOUR_OF_WEEK ? 168 : s == BASELINE_SLOTS_HOUR_OF_DAY ? 24 : 0;
}

baselines *baselines_new(const baseline_config *cfg)
{
    baselines *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    baseline_config d;
    baseline_config_defaults(&d);
    b->cfg = cfg ? *cfg : d;
    if (!(b->cfg.alpha > 0 && b->cfg.alpha <= 1)) b->cfg.alpha = d.alpha;
    if (!b->cfg.max_keys) b->cfg.max_keys = d.max_keys;
    b->n_slots = slot_count(b->cfg.slots);
    b->by_key = calloc(b->cfg.max_keys, sizeof *b->by_key);
    if (!b->by_key) {
        free(b);
        return NULL;
    }
    return b;
}

static void entry_free(entry *e)
{
    if (!e) return;
    free(e->slots);
    free(e);
}

void baselines_free(baselines *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->count; i++)
        entry_free(b->by_key[i]);
    free(b->by_key);
    free(b);
}

void baselines_swap(baselines *a, baselines *b)
{
    baselines t = *a;
    *a = *b;
    *b = t;
}

const baseline_config *baselines_config(const baselines *b)
{
    return &b->cfg;
}

/* ---- the table -------------------------------------------------------- */

/* Where key is (found = 1) or would go. */
static size_t locate(const baselines *b, const char *key, int *found)
{
    size_t lo = 0, hi = b->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->by_key[mid]->key, key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static entry *find(const baselines *b, const char *key)
{
    int found;
    size_t at = locate(b, key, &found);
    return found ? b->by_key[at] : NULL;
}

static void remove_at(baselines *b, size_t at)
{
    entry_free(b->by_key[at]);
    memmove(&b->by_key[at], &b->by_key[at + 1], (b->count - at - 1) * sizeof *b->by_key);
    b->count--;
}

/* A full table: evict the key sampled least recently, when idle long enough. */
static int evict_idle(baselines *b, int64_t now_us)
{
    if (!b->cfg.max_idle_us || !b->count) return -1;
    size_t oldest = 0;
    for (size_t i = 1; i < b->count; i++)
        if (b->by_key[i]->last_us < b->by_key[oldest]->last_us) oldest = i;
    if (now_us - b->by_key[oldest]->last_us < b->cfg.max_idle_us) return -1;
    remove_at(b, oldest);
    b->evicted++;
    return 0;
}

/* A new entry for key (not held) at its sorted place. @return it or NULL. */
static entry *insert(baselines *b, const char *key, int64_t now_us, int may_evict)
{
    if (strlen(key) >= BM_NAME_MAX) return NULL;
    if (b->count == b->cfg.max_keys && (!may_evict || evict_idle(b, now_us))) return NULL;
    entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (b->n_slots && !(e->slots = calloc(b->n_slots * BASELINE__SERIES, sizeof *e->slots))) {
        free(e);
        return NULL;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    int found;
    size_t at = locate(b, key, &found);
    memmove(&b->by_key[at + 1], &b->by_key[at], (b->count - at) * sizeof *b->by_key);
    b->by_key[at] = e;
    b->count++;
    return e;
}

static int slot_of(const baselines *b, int64_t t_us)
{
    if (!b->n_slots) return -1;
    int64_t hours = t_us / HOUR_US;
    if (t_us < 0 && t_us % HOUR_US) hours--;
    int64_t s = (hours + (b->n_slots == 168 ? MONDAY_OFFSET_H : 0)) % (int64_t)b->n_slots;
    return (int)(s < 0 ? s + (int64_t)b->n_slots : s);
}

static void learn(ewma *m, double x, double alpha)
{
    if (m->n < UINT32_MAX) m->n++;
    double a = 1.0 / (double)m->n;
    if (a < alpha) a = alpha;
    double diff = x - m->mean;
    m->mean += a * diff;
    m->var = (1.0 - a) * (m->var + a * diff * diff);
}

/* A business metric's key: its p50 and p95 are in the metric's own unit, not µs. */
static int metric_key(const char *key)
{
    return !strncmp(key, "metric:", 7);
}

/* The expected figure of series s of e in slot `slot` (-1 none). */
static void expected(const baselines *b, const entry *e, int slot, baseline_series s,
                     baseline_figure *f)
{
    memset(f, 0, sizeof *f);
    f->own_unit = metric_key(e->key) && (s == BASELINE_P50 || s == BASELINE_P95);
    if (e->frozen_us) {
        f->mean = e->pinned_mean[s];
        f->stddev = e->pinned_sd[s];
        f->n = e->global[s].n;
        return;
    }
    const ewma *m = &e->global[s];
    if (slot >= 0 && e->slots) {
        const ewma *sm = &e->slots[(size_t)slot * BASELINE__SERIES + s];
        if (sm->n >= b->cfg.slot_min_samples && sm->n > 0) {
            m = sm;
            f->from_slot = 1;
        }
    }
    f->n = m->n;
    f->mean = m->mean;
    f->stddev = m->var > 0 ? sqrt(m->var) : 0.0;
}

static int is_ready(const baselines *b, const entry *e, int64_t now_us)
{
    if (e->frozen_us) return 1;
    return e->samples >= b->cfg.min_samples && e->samples > 0 &&
           now_us - e->first_us >= b->cfg.min_learning_us;
}

static double floor_of(baseline_series s)
{
    switch (s) {
    case BASELINE_P50:
    case BASELINE_P95:
        return 1000.0; /* 1 ms */
    case BASELINE_ERROR_RATE:
        return 0.01;
    default:
        return 1.0; /* one per minute */
    }
}

/* The floor under figure f of series s: none in a metric's own unit. */
static double floor_for(const baseline_figure *f, baseline_series s)
{
    return f->own_unit ? 0.0 : floor_of(s);
}

int baselines_observe(baselines *b, const char *key, const double values[BASELINE__SERIES],
                      int64_t now_us)
{
    entry *e = find(b, key);
    if (!e && !(e = insert(b, key, now_us, 1))) {
        b->refused++;
        return -1;
    }
    if (e->frozen_us) {
        e->last_us = now_us; /* still alive: not evicted as idle */
        return 0;
    }
    int slot = slot_of(b, now_us);
    int ready = is_ready(b, e, now_us);
    int learned = 0, outlier = 0;
    for (int s = 0; s < BASELINE__SERIES; s++) {
        double x = values[s];
        if (isnan(x) || !isfinite(x)) continue;
        if (ready && b->cfg.outlier_factor > 0 && s != BASELINE_THROUGHPUT) {
            baseline_figure f;
            expected(b, e, slot, (baseline_series)s, &f);
            double fl = floor_for(&f, (baseline_series)s);
            double base = f.mean > fl ? f.mean : fl;
            if (base > 0 && x > b->cfg.outlier_factor * base) {
                outlier = 1;
                continue;
            }
        }
        learn(&e->global[s], x, b->cfg.alpha);
        if (slot >= 0) learn(&e->slots[(size_t)slot * BASELINE__SERIES + s], x, b->cfg.alpha);
        learned = 1;
    }
    if (!e->first_us && learned) e->first_us = now_us;
    if (learned) e->samples++;
    if (outlier) e->outliers++;
    e->last_us = now_us;
    return 0;
}

int baselines_get(const baselines *b, const char *key, int64_t now_us, baseline_view *out)
{
    const entry *e = find(b, key);
    if (!e || !out) return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "%s", e->key);
    out->ready = is_ready(b, e, now_us);
    out->frozen = e->frozen_us != 0;
    out->first_us = e->first_us;
    out->last_us = e->last_us;
    out->frozen_us = e->frozen_us;
    out->samples = e->samples;
    out->outliers = e->outliers;
    out->slot = slot_of(b, now_us);
    for (int s = 0; s < BASELINE__SERIES; s++)
        expected(b, e, out->slot, (baseline_series)s, &out->fig[s]);
    return 0;
}

int baselines_freeze(baselines *b, const char *key, int64_t now_us)
{
    entry *e = find(b, key);
    if (!e) return -1;
    if (e->frozen_us) return 0;
    int slot = slot_of(b, now_us);
    for (int s = 0; s < BASELINE__SERIES; s++) {
        baseline_figure f;
        expected(b, e, slot, (baseline_series)s, &f);
        e->pinned_mean[s] = f.mean;
        e->pinned_sd[s] = f.stddev;
    }
    e->frozen_us = now_us ? now_us : 1;
    return 0;
}

int baselines_clear(baselines *b, const char *key)
{
    int found;
    size_t at = locate(b, key, &found);
    if (!found) return -1;
    remove_at(b, at);
    return 0;
}

size_t baselines_count(const baselines *b)
{
    return b ? b->count : 0;
}

const char *baselines_key_at(const baselines *b, size_t i)
{
    return b && i < b->count ? b->by_key[i]->key : NULL;
}

uint64_t baselines_refused(const baselines *b)
{
    return b ? b->refused : 0;
}

uint64_t baselines_evicted(const baselines *b)
{
    return b ? b->evicted : 0;
}

uint64_t baselines_ctl_seq(const baselines *b)
{
    return b ? b->ctl_seq : 0;
}

void baselines_set_ctl_seq(baselines *b, uint64_t seq)
{
    if (b) b->ctl_seq = seq;
}

/* ---- deviation -------------------------------------------------------- */

double baseline_deviation(const baseline_figure *f, baseline_series s, double value,
                          baseline_mode mode)
{
    if (!f || !f->n || isnan(value)) return NAN;
    double fl = floor_for(f, s);
    double base = f->mean > fl ? f->mean : fl;
    if (!(base > 0)) return NAN; /* a metric's baseline of 0 or below: no ratio */
    if (mode == BASELINE_MODE_RATIO) return value / base;
    double sd = f->stddev > 0.1 * base ? f->stddev : 0.1 * base;
    return (value - f->mean) / sd;
}

void baseline_format_value(baseline_series s, double value, char *out, size_t n)
{
    if (isnan(value)) {
        snprintf(out, n, "-");
    } else if (s == BASELINE_P50 || s == BASELINE_P95) {
        double ms = value / 1000.0;
        if (ms >= 1000.0)
            snprintf(out, n, "%.1f s", ms / 1000.0);
        else if (ms >= 10.0)
            snprintf(out, n, "%.0f ms", ms);
        else
            snprintf(out, n, "%.1f ms", ms);
    } else if (s == BASELINE_ERROR_RATE) {
        double pct = value * 100.0;
        snprintf(out, n, pct >= 10.0 || pct == 0 ? "%.0f %%" : "%.1f %%", pct);
    } else {
        snprintf(out, n, value >= 10.0 ? "%.0f /min" : "%.1f /min", value);
    }
}

/* A value in a business metric's own unit: "480", "0.25", "-". */
static void format_own_unit(baseline_series s, double value, char *out, size_t n)
{
    (void)s;
    snprintf(out, n, isnan(value) ? "-" : "%.4g", value);
}

void baseline_describe(const baseline_figure *f, baseline_series s, double value,
                       baseline_mode mode, char *out, size_t n)
{
    char now[32], base[32], sd[32];
    const char *name = s == BASELINE_ERROR_RATE ? "error rate" : baseline_series_name(s);
    void (*format)(baseline_series, double, char *, size_t) =
        f && f->own_unit ? format_own_unit : baseline_format_value;
    format(s, value, now, sizeof now);
    format(s, f ? f->mean : NAN, base, sizeof base);
    double d = baseline_deviation(f, s, value, mode);
    if (mode == BASELINE_MODE_RATIO) {
        snprintf(out, n, "%s %s is %.1f \xc3\x97 its baseline %s", name, now, d, base);
    } else {
        format(s, f ? f->stddev : NAN, sd, sizeof sd);
        snprintf(out, n, "%s %s is %.1f \xcf\x83 %s its baseline %s \xc2\xb1 %s", name, now,
                 fabs(d), d >= 0 ? "above" : "below", base, sd);
    }
}

bm_health baselines_health_hook(const char *worker, const bm_window_stats *last_minute,
                                int64_t now_us, char *issue, size_t issue_len, const void *arg)
{
    const baseline_health *h = arg;
    baseline_view v;
    if (!h || !h->table || h->degrade_ratio <= 0 || last_minute->executions == 0 ||
        last_minute->executions < h->min_executions ||
        baselines_get(h->table, worker, now_us, &v) || !v.ready)
        return BM_HEALTH_UNKNOWN;
    double worst = 0;
    for (int s = BASELINE_P95; s <= BASELINE_ERROR_RATE; s++) {
        double now = s == BASELINE_P95 ? last_minute->p95_us : last_minute->error_rate;
        if (s == BASELINE_P95 && last_minute->max_us <= 0) continue; /* no durations */
        double d = baseline_deviation(&v.fig[s], (baseline_series)s, now, BASELINE_MODE_RATIO);
        if (isnan(d) || d < h->degrade_ratio || d <= worst) continue;
        worst = d;
        baseline_describe(&v.fig[s], (baseline_series)s, now, BASELINE_MODE_RATIO, issue,
                          issue_len);
    }
    return worst > 0 ? BM_HEALTH_DEGRADED : BM_HEALTH_UNKNOWN;
}

/* ---- control requests -------------------------------------------------- */

const char *baseline_request_name(baseline_request_op op)
{
    return op == BASELINE_REQUEST_CLEAR ? "clear" : "freeze";
}

void baseline_request_format(baseline_request_op op, uint64_t seq, int64_t at_us, char *out,
                             size_t n)
{
    snprintf(out, n, "%s %llu %lld", baseline_request_name(op), (unsigned long long)seq,
             (long long)at_us);
}

int baseline_request_parse(const char *value, baseline_request_op *op, uint64_t *seq,
                           int64_t *at_us)
{
    char word[16];
    unsigned long long s;
    long long at;
    if (!value || sscanf(value, "%15s %llu %lld", word, &s, &at) != 3) return -1;
    if (!strcmp(word, "freeze"))
        *op = BASELINE_REQUEST_FREEZE;
    else if (!strcmp(word, "clear"))
        *op = BASELINE_REQUEST_CLEAR;
    else
        return -1;
    *seq = s;
    *at_us = at;
    return 0;
}

/* ---- JSON ------------------------------------------------------------- */

static const char *const json_keys[BASELINE__SERIES] = {"p50_ms", "p95_ms", "error_rate",
                                                        "throughput_per_min"};
static const double json_scale[BASELINE__SERIES] = {1000.0, 1000.0, 1.0, 1.0};
/* a business metric's baseline ("metric:NAME"): its values in its own unit */
static const char *const metric_json_keys[BASELINE__SERIES] = {"p50", "p95", "error_rate",
                                                               "throughput_per_min"};

static json_t *num_or_null(double v)
{
    return isnan(v) || !isfinite(v) ? json_null() : json_real(v);
}

/* An RFC 3339 string, or null for 0. */
static json_t *time_or_null(int64_t us)
{
    char t[48];
    if (!us) return json_null();
    bm_format_time_ms(us, t, sizeof t);
    return json_string(t);
}

json_t *baseline_view_json(const baseline_view *v, const double now[BASELINE__SERIES])
{
    json_t *o = json_object(), *issues = json_array();
    if (!o || !issues) {
        json_decref(o);
        json_decref(issues);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(v->key));
    json_object_set_new(o, "ready", json_boolean(v->ready));
    json_object_set_new(o, "frozen", json_boolean(v->frozen));
    json_object_set_new(o, "frozen_at", time_or_null(v->frozen_us));
    json_object_set_new(o, "learning_since", time_or_null(v->first_us));
    json_object_set_new(o, "samples", json_integer((json_int_t)v->samples));
    json_object_set_new(o, "outliers", json_integer((json_int_t)v->outliers));
    json_object_set_new(o, "slot", v->slot >= 0 ? json_integer(v->slot) : json_null());
    for (int k = 0; k < BASELINE__SERIES; k++) {
        const baseline_figure *f = &v->fig[k];
        int metric = !strncmp(v->key, "metric:", 7);
        double x = now ? now[k] : NAN, scale = metric ? 1.0 : json_scale[k];
        json_t *s = json_object();
        json_object_set_new(s, "now", num_or_null(x / scale));
        json_object_set_new(s, "baseline", f->n ? json_real(f->mean / scale) : json_null());
        json_object_set_new(s, "stddev", f->n ? json_real(f->stddev / scale) : json_null());
        json_object_set_new(s, "samples", json_integer(f->n));
        json_object_set_new(s, "from_slot", json_boolean(f->from_slot));
        double ratio = baseline_deviation(f, (baseline_series)k, x, BASELINE_MODE_RATIO);
        json_object_set_new(s, "ratio", num_or_null(ratio));
        json_object_set_new(
            s, "stddevs",
            num_or_null(baseline_deviation(f, (baseline_series)k, x, BASELINE_MODE_STDDEV)));
        json_object_set_new(o, metric ? metric_json_keys[k] : json_keys[k], s);
        if (!isnan(ratio) && (k == BASELINE_P95 || k == BASELINE_ERROR_RATE)) {
            char text[BM_ISSUE_LEN];
            baseline_describe(f, (baseline_series)k, x, BASELINE_MODE_RATIO, text, sizeof text);
            json_array_append_new(issues, json_string(text));
        }
    }
    json_object_set_new(o, "deviations", issues);
    return o;
}

/* ---- state ------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static double get_f64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static int save_entry(msgpack_packer *pk, const entry *e, size_t n_slots, uint8_t *buf)
{
    int r = msgpack_pack_map(pk, 9);
    r |= bm_sc_key_str(pk, "key", e->key);
    r |= bm_sc_key_i64(pk, "first_us", e->first_us);
    r |= bm_sc_key_i64(pk, "last_us", e->last_us);
    r |= bm_sc_key_u64(pk, "samples", e->samples);
    r |= bm_sc_key_u64(pk, "outliers", e->outliers);
    r |= bm_sc_key_i64(pk, "frozen_us", e->frozen_us);
    r |= bm_sc_key(pk, "pinned");
    if (e->frozen_us) {
        r |= msgpack_pack_array(pk, BASELINE__SERIES);
        for (int s = 0; s < BASELINE__SERIES; s++) {
            r |= msgpack_pack_array(pk, 2);
            r |= bm_sc_real(pk, e->pinned_mean[s]);
            r |= bm_sc_real(pk, e->pinned_sd[s]);
        }
    } else {
        r |= msgpack_pack_nil(pk);
    }
    r |= bm_sc_key(pk, "global");
    r |= msgpack_pack_array(pk, BASELINE__SERIES);
    for (int s = 0; s < BASELINE__SERIES; s++) {
        r |= msgpack_pack_array(pk, 3);
        r |= msgpack_pack_uint32(pk, e->global[s].n);
        r |= bm_sc_real(pk, e->global[s].mean);
        r |= bm_sc_real(pk, e->global[s].var);
    }
    r |= bm_sc_key(pk, "slots");
    if (e->slots && n_slots) { /* sparse: only the (slot, series) that have samples */
        size_t len = 0;
        for (size_t i = 0; i < n_slots * BASELINE__SERIES; i++) {
            if (!e->slots[i].n) continue;
            buf[len] = (uint8_t)(i & 0xff);
            buf[len + 1] = (uint8_t)(i >> 8);
            put_u32(buf + len + 2, e->slots[i].n);
            put_f64(buf + len + 6, e->slots[i].mean);
            put_f64(buf + len + 14, e->slots[i].var);
            len += SLOT_BYTES;
        }
        r |= msgpack_pack_bin(pk, len);
        r |= msgpack_pack_bin_body(pk, buf, len);
    } else {
        r |= msgpack_pack_nil(pk);
    }
    return r ? -1 : 0;
}

int baselines_save(const baselines *b, msgpack_packer *pk)
{
    uint8_t *buf = NULL;
    if (b->n_slots && !(buf = malloc(b->n_slots * BASELINE__SERIES * SLOT_BYTES))) return -1;
    int r = msgpack_pack_map(pk, 8);
    r |= bm_sc_key_u64(pk, "slots", b->n_slots);
    r |= bm_sc_key_u64(pk, "min_samples", b->cfg.min_samples);
    r |= bm_sc_key_i64(pk, "min_learning_us", b->cfg.min_learning_us);
    r |= bm_sc_key_u64(pk, "slot_min_samples", b->cfg.slot_min_samples);
    r |= bm_sc_key_u64(pk, "refused", b->refused);
    r |= bm_sc_key_u64(pk, "evicted", b->evicted);
    r |= bm_sc_key_u64(pk, "ctl_seq", b->ctl_seq);
    r |= bm_sc_key(pk, "keys");
    r |= msgpack_pack_array(pk, b->count);
    for (size_t i = 0; i < b->count && !r; i++)
        r |= save_entry(pk, b->by_key[i], b->n_slots, buf);
    free(buf);
    return r ? -1 : 0;
}

/* [n, mean, var] or [mean, sd]: finite reals. */
static int load_reals(const msgpack_object *o, size_t want, double *out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != want) return -1;
    for (size_t i = 0; i < want; i++)
        if (bm_sc_as_f64(&o->via.array.ptr[i], &out[i])) return -1;
    return 0;
}

static int load_entry(const msgpack_object *o, entry *e, size_t n_slots, size_t saved_slots,
                      char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "a key is not a map");
    int rc;
    if ((rc = bm_sc_need_str(o, "key", e->key, sizeof e->key, err, errlen)) ||
        (rc = bm_sc_need_time(o, "first_us", &e->first_us, err, errlen)) ||
        (rc = bm_sc_need_time(o, "last_us", &e->last_us, err, errlen)) ||
        (rc = bm_sc_need_u64(o, "samples", &e->samples, err, errlen)) ||
        (rc = bm_sc_need_u64(o, "outliers", &e->outliers, err, errlen)) ||
        (rc = bm_sc_need_time(o, "frozen_us", &e->frozen_us, err, errlen)))
        return rc;
    const msgpack_object *g = bm_sc_need(o, "global", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!g) return BM_LOAD_CORRUPT;
    if (g->via.array.size != BASELINE__SERIES)
        return bm_sc_fail(err, errlen, "'global' has not %d series", BASELINE__SERIES);
    for (int s = 0; s < BASELINE__SERIES; s++) {
        double v[3];
        if (load_reals(&g->via.array.ptr[s], 3, v) || v[0] < 0 || v[0] > UINT32_MAX || v[2] < 0)
            return bm_sc_fail(err, errlen, "'global' series %d is not [n, mean, var]", s);
        e->global[s] = (ewma){v[1], v[2], (uint32_t)v[0]};
    }
    const msgpack_object *p = bm_sc_get(o, "pinned");
    if (e->frozen_us) {
        if (!p || p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != BASELINE__SERIES)
            return bm_sc_fail(err, errlen, "a frozen key without 'pinned'");
        for (int s = 0; s < BASELINE__SERIES; s++) {
            double v[2];
            if (load_reals(&p->via.array.ptr[s], 2, v) || v[1] < 0)
                return bm_sc_fail(err, errlen, "'pinned' series %d is not [mean, stddev]", s);
            e->pinned_mean[s] = v[0];
            e->pinned_sd[s] = v[1];
        }
    }
    const msgpack_object *sl = bm_sc_get(o, "slots");
    if (n_slots && sl && sl->type == MSGPACK_OBJECT_BIN && saved_slots == n_slots) {
        size_t len = sl->via.bin.size, cells = n_slots * BASELINE__SERIES;
        if (len % SLOT_BYTES || len / SLOT_BYTES > cells)
            return bm_sc_fail(err, errlen, "'slots' is %zu bytes, not records of %d", len,
                              SLOT_BYTES);
        const uint8_t *q = (const uint8_t *)sl->via.bin.ptr;
        long prev = -1;
        for (size_t at = 0; at < len; at += SLOT_BYTES) {
            long i = (long)q[at] | (long)q[at + 1] << 8;
            if (i <= prev || (size_t)i >= cells)
                return bm_sc_fail(err, errlen, "'slots': record %ld out of order or range", i);
            prev = i;
            ewma *m = &e->slots[i];
            m->n = get_u32(q + at + 2);
            m->mean = get_f64(q + at + 6);
            m->var = get_f64(q + at + 14);
            if (!m->n || !isfinite(m->mean) || !isfinite(m->var) || m->var < 0)
                return bm_sc_fail(err, errlen, "'slots' holds a figure that is not finite");
        }
    }
    return 0;
}

baselines *baselines_from_save(const msgpack_object *o, char *err, size_t errlen)
{
    baseline_config c;
    baseline_config_defaults(&c);
    uint64_t slots = 0, n = 0;
    int64_t t = 0;
    const msgpack_object *v;
    if ((v = bm_sc_get(o, "slots")) && !bm_sc_as_u64(v, &slots))
        c.slots = slots == 168  ? BASELINE_SLOTS_HOUR_OF_WEEK
                  : slots == 24 ? BASELINE_SLOTS_HOUR_OF_DAY
                                : BASELINE_SLOTS_NONE;
    if ((v = bm_sc_get(o, "min_samples")) && !bm_sc_as_u64(v, &n) && n <= UINT32_MAX)
        c.min_samples = (uint32_t)n;
    if ((v = bm_sc_get(o, "min_learning_us")) && !bm_sc_as_time(v, &t)) c.min_learning_us = t;
    if ((v = bm_sc_get(o, "slot_min_samples")) && !bm_sc_as_u64(v, &n) && n <= UINT32_MAX)
        c.slot_min_samples = (uint32_t)n;
    const msgpack_object *keys = bm_sc_get(o, "keys");
    if (keys && keys->type == MSGPACK_OBJECT_ARRAY && keys->via.array.size > c.max_keys)
        c.max_keys = keys->via.array.size;
    baselines *b = baselines_new(&c);
    if (!b) {
        bm_sc_fail(err, errlen, "out of memory");
        return NULL;
    }
    if (baselines_load(b, o, err, errlen)) {
        baselines_free(b);
        return NULL;
    }
    return b;
}

int baselines_load(baselines *b, const msgpack_object *o, char *err, size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return bm_sc_fail(err, errlen, "baselines: not a map");
    uint64_t saved_slots, refused, evicted, ctl_seq = 0;
    int rc;
    if ((rc = bm_sc_need_u64(o, "slots", &saved_slots, err, errlen)) ||
        (rc = bm_sc_need_u64(o, "refused", &refused, err, errlen)) ||
        (rc = bm_sc_need_u64(o, "evicted", &evicted, err, errlen))) {
        bm_sc_wrap(err, errlen, "baselines");
        return rc;
    }
    const msgpack_object *cs = bm_sc_get(o, "ctl_seq");
    if (cs && bm_sc_as_u64(cs, &ctl_seq)) return bm_sc_fail(err, errlen, "baselines: 'ctl_seq'");
    const msgpack_object *keys = bm_sc_need(o, "keys", MSGPACK_OBJECT_ARRAY, err, errlen);
    if (!keys) {
        bm_sc_wrap(err, errlen, "baselines");
        return BM_LOAD_CORRUPT;
    }
    baselines *tmp = baselines_new(&b->cfg);
    if (!tmp) return BM_LOAD_NOMEM;
    for (uint32_t i = 0; i < keys->via.array.size; i++) {
        char key[BM_NAME_MAX];
        const msgpack_object *k = &keys->via.array.ptr[i];
        const msgpack_object *ko = bm_sc_get(k, "key");
        if (!ko || bm_sc_as_str(ko, key, sizeof key)) {
            baselines_free(tmp);
            return bm_sc_fail(err, errlen, "baselines: key %u has no name", i);
        }
        if (find(tmp, key)) {
            baselines_free(tmp);
            return bm_sc_fail(err, errlen, "baselines: key '%s' twice", key);
        }
        entry *e = insert(tmp, key, 0, 0);
        if (!e) {
            if (tmp->count == tmp->cfg.max_keys) {
                tmp->refused++;
                continue;
            }
            baselines_free(tmp);
            return BM_LOAD_NOMEM;
        }
        rc = load_entry(k, e, tmp->n_slots, (size_t)saved_slots, err, errlen);
        if (rc) {
            bm_sc_wrap(err, errlen, "baselines: key '%s'", key);
            baselines_free(tmp);
            return rc;
        }
    }
    tmp->refused += refused;
    tmp->evicted += evicted;
    tmp->ctl_seq = ctl_seq;
    baselines_swap(b, tmp);
    baselines_free(tmp);
    return 0;
}
