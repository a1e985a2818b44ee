/*
 * test_custom_metrics.c - lib/custom_metrics.c: per name and tag set,
 * exact count / sum / min / max / avg, quantiles within 1 % (negative values
 * and zeros too), counters' rate, gauges' last, the windows, tag filtering,
 * the series bound (refused, evicted when idle), allow / deny lists, the
 * tag bound, kind conflicts, save / load round trip and a merge of two
 * halves equal to one table fed everything.
 */
#include "lib/custom_metrics.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

/* A metric event: name, value, kind, tags as "k", "v", ... NULL. */
static bm_event mk(const char *name, double v, bm_metric_kind kind, const char *const *kv)
{
    bm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BM_EV_CUSTOM;
    ev.metric_name = name;
    ev.metric_value = v;
    ev.metric_kind = kind;
    ev.ts_us = T0;
    for (; kv && kv[0]; kv += 2) {
        ev.tags[ev.n_tags].key = kv[0];
        ev.tags[ev.n_tags++].value = kv[1];
    }
    return ev;
}

#define TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct {
    int n;
    custom_metrics_stat s[64];
    char names[64][64];
    char tagtext[64][256];
} got;

static void collect(const custom_metrics_stat *s, void *arg)
{
    got *g = arg;
    if (g->n >= 64) return;
    g->s[g->n] = *s;
    snprintf(g->names[g->n], sizeof g->names[0], "%s", s->name);
    g->tagtext[g->n][0] = '\0';
    for (unsigned i = 0; i < s->n_tags; i++) {
        strcat(g->tagtext[g->n], s->tags[i].key);
        strcat(g->tagtext[g->n], "=");
        strcat(g->tagtext[g->n], s->tags[i].value);
        strcat(g->tagtext[g->n], ",");
    }
    g->n++;
}

static got query(const custom_metrics *cm, int window, const char *name, const char *const *kv,
                 int64_t now)
{
    static got g;
    memset(&g, 0, sizeof g);
    custom_metrics_filter f = {.name = name};
    for (; kv && kv[0]; kv += 2)
        f.tags[f.n_tags++] = (custom_metrics_tag){kv[0], kv[1]};
    cr_assert_geq(custom_metrics_foreach(cm, window, &f, now, collect, &g), 0);
    return g;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The exact q-quantile (rank ceil(q n)) of v[0..n). */
static double exact_q(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_d);
    size_t r = (size_t)ceil(q * (double)n);
    return v[r ? r - 1 : 0];
}

Test(custom_metrics, histogram_exact_figures_and_quantiles)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    double vals[1000];
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        vals[i] = 5.0 + (i * 7919 % 1000) * 0.37; /* 5 .. 374.63 */
        sum += vals[i];
        bm_event ev = mk("order_value", vals[i], BM_METRIC_HISTOGRAM, TAGS("tier", "gold"));
        cr_assert_eq(custom_metrics_add(cm, &ev, T0 + i * 10000), CUSTOM_METRICS_ADDED);
    }
    got g = query(cm, 0, "order_value", NULL, T0 + 10 * S_US);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.s[0].count, 1000);
    cr_assert_float_eq(g.s[0].sum, sum, 1e-6);
    cr_assert_float_eq(g.s[0].min, 5.0, 1e-12);
    cr_assert_float_eq(g.s[0].max, 5.0 + 999 * 0.37, 1e-9);
    cr_assert_float_eq(g.s[0].avg, sum / 1000, 1e-9);
    cr_assert_str_eq(g.tagtext[0], "tier=gold,");
    double p50 = exact_q(vals, 1000, 0.5), p95 = exact_q(vals, 1000, 0.95),
           p99 = exact_q(vals, 1000, 0.99);
    cr_assert(fabs(g.s[0].p50 - p50) <= 0.01 * p50, "p50 %g vs %g", g.s[0].p50, p50);
    cr_assert(fabs(g.s[0].p95 - p95) <= 0.01 * p95, "p95 %g vs %g", g.s[0].p95, p95);
    cr_assert(fabs(g.s[0].p99 - p99) <= 0.01 * p99, "p99 %g vs %g", g.s[0].p99, p99);
    custom_metrics_free(cm);
}

Test(custom_metrics, negative_values_and_zeros)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    double vals[300];
    for (int i = 0; i < 300; i++) {
        vals[i] = i < 100 ? -(1.0 + i) : i < 150 ? 0 : (double)(i - 149) * 2.5;
        bm_event ev = mk("delta", vals[i], BM_METRIC_HISTOGRAM, NULL);
        custom_metrics_add(cm, &ev, T0);
    }
    got g = query(cm, 1, NULL, NULL, T0 + S_US);
    cr_assert_eq(g.n, 1);
    cr_assert_float_eq(g.s[0].min, -100, 1e-12);
    double q10 = exact_q(vals, 300, 0.10), q40 = exact_q(vals, 300, 0.4),
           q95 = exact_q(vals, 300, 0.95);
    cr_assert_float_eq(q40, 0, 0);
    cr_assert(fabs(g.s[0].p95 - q95) <= 0.01 * fabs(q95));
    (void)q10;
    custom_metrics_free(cm);
}

Test(custom_metrics, counter_rate_and_gauge_last)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    for (int i = 0; i < 60; i++) { /* one increment of 2 each second for a minute */
        bm_event ev = mk("logins", 2, BM_METRIC_COUNTER, NULL);
        custom_metrics_add(cm, &ev, T0 + i * S_US);
        bm_event g = mk("queue_depth", 100 - i, BM_METRIC_GAUGE, TAGS("queue", "mail"));
        g.ts_us = T0 + i * S_US;
        custom_metrics_add(cm, &g, T0 + i * S_US);
    }
    int64_t now = T0 + 60 * S_US - 1;
    got g = query(cm, 1, "logins", NULL, now);
    cr_assert_eq(g.n, 1);
    cr_assert_float_eq(g.s[0].sum, 120, 0);
    /* covered from the start of the first period (T0 aligned down to 30 s) */
    double secs = (double)g.s[0].covered_us / 1e6;
    cr_assert_float_eq(g.s[0].rate_per_s, 120 / secs, 1e-9);
    cr_assert_eq(g.s[0].p95, 0);
    g = query(cm, 1, "queue_depth", TAGS("queue", "mail"), now);
    cr_assert_eq(g.n, 1);
    cr_assert_float_eq(g.s[0].last, 41, 0);
    cr_assert_float_eq(g.s[0].min, 41, 0);
    cr_assert_float_eq(g.s[0].max, 100, 0);
    custom_metrics_free(cm);
}

Test(custom_metrics, windows_age_out)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    bm_event ev = mk("m", 1, BM_METRIC_HISTOGRAM, NULL);
    custom_metrics_add(cm, &ev, T0);
    cr_assert_eq(query(cm, 0, NULL, NULL, T0 + 30 * S_US).n, 1);
    cr_assert_eq(query(cm, 0, NULL, NULL, T0 + 2 * 60 * S_US).n, 0, "out of 1m");
    cr_assert_eq(query(cm, 1, NULL, NULL, T0 + 2 * 60 * S_US).n, 1, "still in 5m");
    cr_assert_eq(query(cm, 2, NULL, NULL, T0 + 50 * 60 * S_US).n, 1, "still in 1h");
    cr_assert_eq(custom_metrics_window_index(cm, "1h"), 2);
    cr_assert_eq(custom_metrics_window_index(cm, "2h"), -1);
    custom_metrics_free(cm);
}

Test(custom_metrics, tag_filtering_per_tag_set)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    const char *tiers[] = {"premium", "basic", "premium", "free"};
    for (int i = 0; i < 40; i++) {
        bm_event ev = mk("order_value", i, BM_METRIC_HISTOGRAM,
                         TAGS("customer_tier", tiers[i % 4], "region", i % 2 ? "eu" : "us"));
        custom_metrics_add(cm, &ev, T0);
    }
    got g = query(cm, 0, "order_value", NULL, T0);
    cr_assert_eq(g.n, 3, "premium/us, basic/eu, free/eu");
    g = query(cm, 0, "order_value", TAGS("customer_tier", "premium"), T0);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.s[0].count, 20);
    cr_assert_str_eq(g.tagtext[0], "customer_tier=premium,region=us,", "tags sorted by key");
    g = query(cm, 0, "order_value", TAGS("region", "eu"), T0);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(query(cm, 0, "nope", NULL, T0).n, 0);
    custom_metrics_free(cm);
}

Test(custom_metrics, series_bound_refuses_then_evicts_idle)
{
    custom_metrics_config c;
    custom_metrics_config_defaults(&c);
    c.max_series = 5;
    custom_metrics *cm = custom_metrics_new(&c);
    char uid[16];
    for (int i = 0; i < 8; i++) {
        snprintf(uid, sizeof uid, "u%d", i);
        bm_event ev = mk("spend", 1, BM_METRIC_HISTOGRAM, TAGS("user", uid));
        cr_assert_eq(custom_metrics_add(cm, &ev, T0),
                     i < 5 ? CUSTOM_METRICS_ADDED : CUSTOM_METRICS_REFUSED);
    }
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    cr_assert_eq(st.series, 5);
    cr_assert_eq(st.refused, 3);
    cr_assert_str_eq(custom_metrics_last_refused(cm), "spend");
    /* a known series still counts */
    bm_event known = mk("spend", 1, BM_METRIC_HISTOGRAM, TAGS("user", "u0"));
    cr_assert_eq(custom_metrics_add(cm, &known, T0), CUSTOM_METRICS_ADDED);
    /* past every window, a new series takes an idle one's place */
    bm_event fresh = mk("spend", 1, BM_METRIC_HISTOGRAM, TAGS("user", "new"));
    cr_assert_eq(custom_metrics_add(cm, &fresh, T0 + 61 * 60 * S_US), CUSTOM_METRICS_ADDED);
    custom_metrics_get_stats(cm, &st);
    cr_assert_eq(st.evicted, 1);
    custom_metrics_free(cm);
}

Test(custom_metrics, allow_deny_and_tag_bound)
{
    custom_metrics_config c;
    custom_metrics_config_defaults(&c);
    char err[100];
    cr_assert_eq(custom_metrics_config_list(&c, 1, "user_id, session_id", err, sizeof err), 0);
    cr_assert_eq(c.n_tag_deny, 2);
    c.max_tags_per_series = 2;
    custom_metrics *cm = custom_metrics_new(&c);
    char uid[16];
    for (int i = 0; i < 100; i++) {
        snprintf(uid, sizeof uid, "%d", i);
        bm_event ev = mk("order_value", 1, BM_METRIC_HISTOGRAM,
                         TAGS("user_id", uid, "tier", "gold", "b", "1", "a", "2"));
        custom_metrics_add(cm, &ev, T0);
    }
    got g = query(cm, 0, NULL, NULL, T0);
    cr_assert_eq(g.n, 1, "the user id does not explode the series");
    cr_assert_eq(g.s[0].count, 100);
    cr_assert_str_eq(g.tagtext[0], "a=2,b=1,", "the first two keys in key order");
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    cr_assert_eq(st.tags_dropped, 200, "user_id and tier, each event");
    custom_metrics_free(cm);

    custom_metrics_config_defaults(&c);
    cr_assert_eq(custom_metrics_config_list(&c, 0, " tier ", err, sizeof err), 0);
    cr_assert_eq(c.n_tag_allow, 1);
    cm = custom_metrics_new(&c);
    bm_event ev = mk("x", 1, BM_METRIC_HISTOGRAM, TAGS("user_id", "9", "tier", "gold"));
    custom_metrics_add(cm, &ev, T0);
    g = query(cm, 0, NULL, NULL, T0);
    cr_assert_str_eq(g.tagtext[0], "tier=gold,");
    custom_metrics_free(cm);
}

Test(custom_metrics, kind_conflict)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    bm_event a = mk("m", 1, BM_METRIC_COUNTER, NULL), b = mk("m", 1, BM_METRIC_GAUGE, NULL);
    cr_assert_eq(custom_metrics_add(cm, &a, T0), CUSTOM_METRICS_ADDED);
    cr_assert_eq(custom_metrics_add(cm, &b, T0), CUSTOM_METRICS_KIND_CONFLICT);
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    cr_assert_eq(st.kind_conflicts, 1);
    custom_metrics_free(cm);
}

static void feed(custom_metrics *cm, int from, int to, int step)
{
    const char *tiers[] = {"a", "b", "c"};
    for (int i = from; i < to; i += step) {
        bm_event ev = mk(i % 5 ? "order_value" : "refund", 1.5 * i - 40, BM_METRIC_HISTOGRAM,
                         TAGS("tier", tiers[i % 3]));
        ev.ts_us = T0 + i * 100000;
        custom_metrics_add(cm, &ev, T0 + i * 100000);
    }
}

static int same(const custom_metrics *a, const custom_metrics *b, int64_t now)
{
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++) {
        got ga = query(a, w, NULL, NULL, now);
        static got gb;
        gb = query(b, w, NULL, NULL, now);
        if (ga.n != gb.n) return 0;
        for (int i = 0; i < ga.n; i++) {
            const custom_metrics_stat *x = &ga.s[i], *y = &gb.s[i];
            if (strcmp(ga.names[i], gb.names[i]) || strcmp(ga.tagtext[i], gb.tagtext[i]) ||
                x->count != y->count || fabs(x->sum - y->sum) > 1e-6 || x->min != y->min ||
                x->max != y->max || x->p50 != y->p50 || x->p95 != y->p95 || x->p99 != y->p99 ||
                x->last != y->last)
                return 0;
        }
    }
    return 1;
}

Test(custom_metrics, save_load_round_trip)
{
    custom_metrics *cm = custom_metrics_new(NULL);
    feed(cm, 0, 900, 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    cr_assert_eq(custom_metrics_save(cm, &pk), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    custom_metrics *back = custom_metrics_new(NULL);
    char err[200] = "";
    cr_assert_eq(custom_metrics_load(back, &u.data, err, sizeof err), 0, "%s", err);
    cr_assert(same(cm, back, T0 + 90 * S_US));

    /* another shape (a 2 h performance window) is a mismatch, and nothing changes */
    custom_metrics_config c;
    custom_metrics_config_defaults(&c);
    c.perf_window_us = 2 * 3600 * S_US;
    custom_metrics *other = custom_metrics_new(&c);
    cr_assert_eq(custom_metrics_load(other, &u.data, err, sizeof err), BM_LOAD_MISMATCH);
    custom_metrics_stats st;
    custom_metrics_get_stats(other, &st);
    cr_assert_eq(st.series, 0);
    custom_metrics_free(other);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    custom_metrics_free(back);
    custom_metrics_free(cm);
}

Test(custom_metrics, merge_of_halves_is_the_whole)
{
    custom_metrics *all = custom_metrics_new(NULL), *a = custom_metrics_new(NULL),
                   *b = custom_metrics_new(NULL);
    feed(all, 0, 900, 1);
    feed(a, 0, 900, 2);
    feed(b, 1, 900, 2);
    cr_assert_eq(custom_metrics_merge(a, b), 0);
    cr_assert(same(all, a, T0 + 90 * S_US));
    custom_metrics_free(all);
    custom_metrics_free(a);
    custom_metrics_free(b);
}

/* Summing series: exact counts, sums, extremes; quantiles of the merged
 * sketches, the same as one series fed every value. */
Test(custom_metrics, aggregate_is_one_series_of_all_values)
{
    custom_metrics *tagged = custom_metrics_new(NULL), *one = custom_metrics_new(NULL);
    const char *tiers[] = {"a", "b", "c"};
    for (int i = 0; i < 300; i++) {
        bm_event ev = mk("v", 1.0 + i * 1.7, BM_METRIC_HISTOGRAM, TAGS("tier", tiers[i % 3]));
        custom_metrics_add(tagged, &ev, T0);
        bm_event plain = mk("v", 1.0 + i * 1.7, BM_METRIC_HISTOGRAM, NULL);
        custom_metrics_add(one, &plain, T0);
    }
    custom_metrics_filter f = {.name = "v"};
    custom_metrics_stat a, b;
    cr_assert_eq(custom_metrics_aggregate(tagged, 1, &f, T0, &a), 3);
    cr_assert_eq(custom_metrics_aggregate(one, 1, &f, T0, &b), 1);
    cr_assert_eq(a.count, 300);
    cr_assert_float_eq(a.sum, b.sum, 1e-6);
    cr_assert_eq(a.min, b.min);
    cr_assert_eq(a.max, b.max);
    cr_assert_eq(a.p95, b.p95);
    cr_assert_eq(a.p50, b.p50);
    f.tags[0] = (custom_metrics_tag){"tier", "b"};
    f.n_tags = 1;
    cr_assert_eq(custom_metrics_aggregate(tagged, 1, &f, T0, &a), 1);
    cr_assert_eq(a.count, 100);
    f.name = "nothing";
    cr_assert_eq(custom_metrics_aggregate(tagged, 1, &f, T0, &a), 0);
    custom_metrics_free(tagged);
    custom_metrics_free(one);
}
