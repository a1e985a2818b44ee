/*
 * test_histogram.c - lib/histogram: bucket edges, quantiles against the
 * exact sorted quantiles (uniform, log-normal, bimodal, all-equal and
 * adversarial data), exact merges, empty and reset histograms; saved and
 * loaded exactly (msgpack), into a bounded histogram, and corrupt saves
 * refused with the histogram unchanged.
 *
 * Data comes from a fixed-seed generator, so every run sees the same values.
 */
#include "lib/histogram.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define N_VALUES  20000
#define MAX_INDEX 1387 /* bucket of 2^40 µs */
/* The guarantee is 1 %; the slack only absorbs floating-point rounding. */
#define REL_ERR_LIMIT (BM_HIST_RELATIVE_ERROR + 1e-9)

static bm_hist h;

static void setup(void)
{
    bm_hist_init(&h);
}

static void teardown(void)
{
    bm_hist_deinit(&h);
}

TestSuite(histogram, .init = setup, .fini = teardown);

/* xorshift64*: deterministic, good enough for test data. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s ? s : 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double rng_unit(void) /* (0, 1) */
{
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
    return sqrt(-2.0 * log(rng_unit())) * cos(2.0 * M_PI * rng_unit());
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The exact q-quantile by the histogram's own rank rule: the value of rank
 * ceil(q * n) in sorted order (1-based), min for q = 0. */
static int64_t exact_quantile(const int64_t *sorted, size_t n, double q)
{
    double r = ceil(q * (double)n - 1e-9);
    size_t rank = r < 1.0 ? 1 : (size_t)r;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static void fill(const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(bm_hist_add(&h, v[i], 1), 0);
}

static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};

/* Every quantile of qs within 1 % of the exact one; q = 0 and 1 exact. */
static void check_quantiles(int64_t *v, size_t n, const char *what)
{
    qsort(v, n, sizeof *v, cmp_i64);
    cr_assert_eq(h.count, n, "%s: count", what);
    cr_assert_eq(h.min_us, v[0], "%s: min", what);
    cr_assert_eq(h.max_us, v[n - 1], "%s: max", what);
    cr_assert_eq(bm_hist_quantile(&h, 0.0), (double)v[0], "%s: q=0", what);
    cr_assert_eq(bm_hist_quantile(&h, 1.0), (double)v[n - 1], "%s: q=1", what);
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double exact = (double)exact_quantile(v, n, qs[k]);
        double got = bm_hist_quantile(&h, qs[k]);
        double err = fabs(got - exact) / exact;
        cr_assert_leq(err, REL_ERR_LIMIT, "%s: q=%g exact %.0f got %.3f (error %.5f)", what, qs[k],
                      exact, got, err);
    }
}

/* --- buckets ------------------------------------------------------------ */

Test(histogram, bucket_edges_agree_with_upper_bounds)
{
    cr_assert_eq(bm_hist_bucket_of(1), 0);
    cr_assert_eq(bm_hist_bucket_of((int64_t)1 << 40), MAX_INDEX);
    for (uint16_t i = 1; i <= MAX_INDEX; i++) {
        double lo = bm_hist_bucket_upper((uint16_t)(i - 1)), hi = bm_hist_bucket_upper(i);
        cr_assert_gt(hi, lo);
        /* the largest integer in the bucket, and the next one */
        int64_t top = (int64_t)floor(hi);
        if ((double)top > lo) {
            cr_assert_eq(bm_hist_bucket_of(top), i, "top of bucket %u (%ld)", i, (long)top);
            double rep = bm_hist_bucket_value(i);
            cr_assert_leq(fabs(rep - (double)top) / (double)top, REL_ERR_LIMIT);
        }
        if (i < MAX_INDEX) cr_assert_gt(bm_hist_bucket_of(top + 1), i);
    }
}

Test(histogram, every_small_value_within_one_percent_of_its_representative)
{
    for (int64_t v = 1; v <= 200000; v++) {
        uint16_t i = bm_hist_bucket_of(v);
        cr_assert_leq((double)v, bm_hist_bucket_upper(i));
        if (i > 0) cr_assert_gt((double)v, bm_hist_bucket_upper((uint16_t)(i - 1)));
        double rep = bm_hist_bucket_value(i);
        cr_assert_leq(fabs(rep - (double)v) / (double)v, REL_ERR_LIMIT, "v=%ld", (long)v);
    }
}

Test(histogram, clamping_goes_to_the_end_buckets)
{
    cr_assert_eq(bm_hist_bucket_of(0), 0);
    cr_assert_eq(bm_hist_bucket_of(-7), 0);
    cr_assert_eq(bm_hist_bucket_of(INT64_MAX), MAX_INDEX);
    cr_assert_eq(bm_hist_bucket_of(((int64_t)1 << 40) + 1), MAX_INDEX);
    cr_assert_eq(bm_hist_add(&h, 0, 1), 0);
    cr_assert_eq(bm_hist_add(&h, 1, 1), 0);
    cr_assert_eq(bm_hist_add(&h, (int64_t)1 << 40, 1), 0);
    cr_assert_eq(bm_hist_add(&h, (int64_t)1 << 41, 2), 0);
    cr_assert_eq(h.count, 5);
    cr_assert_eq(h.clamped, 3, "0 and twice 2^41; 1 and 2^40 are in range");
    cr_assert_eq(h.n_buckets, 2);
    cr_assert_eq(h.min_us, 0);
    cr_assert_eq(h.max_us, (int64_t)1 << 41);
}

/* --- quantiles ------------------------------------------------------------ */

Test(histogram, uniform)
{
    static int64_t v[N_VALUES];
    rng_seed(1);
    for (size_t i = 0; i < N_VALUES; i++)
        v[i] = 1000 + (int64_t)(rng_next() % 999001); /* 1 ms .. 1 s */
    fill(v, N_VALUES);
    check_quantiles(v, N_VALUES, "uniform");
}

Test(histogram, log_normal)
{
    static int64_t v[N_VALUES];
    rng_seed(2);
    for (size_t i = 0; i < N_VALUES; i++)
        v[i] = (int64_t)llround(exp(log(50000.0) + 1.5 * rng_normal())) + 1;
    fill(v, N_VALUES);
    check_quantiles(v, N_VALUES, "log-normal");
}

Test(histogram, bimodal)
{
    static int64_t v[N_VALUES];
    rng_seed(3);
    for (size_t i = 0; i < N_VALUES; i++) {
        double mode = (rng_next() & 1) ? 2000.0 : 800000.0; /* 2 ms and 800 ms */
        double x = mode * (1.0 + 0.1 * rng_normal());
        v[i] = x < 1.0 ? 1 : (int64_t)llround(x);
    }
    fill(v, N_VALUES);
    check_quantiles(v, N_VALUES, "bimodal");
}

Test(histogram, all_equal_is_exact)
{
    static int64_t v[1000];
    for (size_t i = 0; i < 1000; i++)
        v[i] = 12345;
    fill(v, 1000);
    cr_assert_eq(h.n_buckets, 1);
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
        cr_assert_eq(bm_hist_quantile(&h, qs[k]), 12345.0, "clamped to [min, max]");
    cr_assert_eq(bm_hist_mean(&h), 12345.0);
    check_quantiles(v, 1000, "all-equal");
}

Test(histogram, adversarial_bucket_edges_from_1us_to_1h)
{
    /* Both sides of every bucket edge from 1 µs to 1 h, and the ends. */
    static int64_t v[2 * MAX_INDEX + 8];
    size_t n = 0;
    const int64_t hour_us = 3600LL * 1000000;
    for (uint16_t i = 0; i <= MAX_INDEX; i++) {
        int64_t top = (int64_t)floor(bm_hist_bucket_upper(i));
        if (top > hour_us) break;
        v[n++] = top;
        v[n++] = top + 1;
    }
    v[n++] = 1;
    v[n++] = hour_us;
    cr_assert_gt(n, 2000);
    fill(v, n);
    check_quantiles(v, n, "edges");
    /* and every rank, not only the usual quantiles */
    for (size_t r = 1; r <= n; r++) {
        double q = (double)r / (double)n;
        double exact = (double)exact_quantile(v, n, q), got = bm_hist_quantile(&h, q);
        cr_assert_leq(fabs(got - exact) / exact, REL_ERR_LIMIT, "rank %zu", r);
    }
}

Test(histogram, clamped_extremes_keep_exact_min_max_and_inner_quantiles)
{
    static int64_t v[1000];
    size_t n = 0;
    for (int i = 0; i < 10; i++)
        v[n++] = 0; /* below 1 µs */
    for (int i = 0; i < 10; i++)
        v[n++] = (int64_t)1 << 42; /* above 2^40 µs */
    rng_seed(4);
    while (n < 1000)
        v[n++] = 100 + (int64_t)(rng_next() % 100000);
    fill(v, n);
    cr_assert_eq(h.clamped, 20);
    qsort(v, n, sizeof *v, cmp_i64);
    cr_assert_eq(bm_hist_quantile(&h, 0.0), 0.0);
    cr_assert_eq(bm_hist_quantile(&h, 1.0), (double)((int64_t)1 << 42));
    cr_assert_leq(bm_hist_quantile(&h, 0.005), 1.0, "a clamped low rank stays at the bottom");
    for (double q = 0.05; q < 0.95; q += 0.05) {
        double exact = (double)exact_quantile(v, n, q), got = bm_hist_quantile(&h, q);
        cr_assert_leq(fabs(got - exact) / exact, REL_ERR_LIMIT, "q=%g", q);
    }
    cr_assert_geq(bm_hist_quantile(&h, 0.995), (double)((int64_t)1 << 40) * 0.99);
}

Test(histogram, quantile_rank_rule)
{
    /* 1..100: rank ceil(q * 100), so p50 is 50, p95 is 95, p7 is 7 (not 8). */
    for (int64_t x = 1; x <= 100; x++)
        bm_hist_add(&h, x, 1);
    cr_assert_float_eq(bm_hist_quantile(&h, 0.5), bm_hist_bucket_value(bm_hist_bucket_of(50)),
                       1e-9);
    cr_assert_float_eq(bm_hist_quantile(&h, 0.07), bm_hist_bucket_value(bm_hist_bucket_of(7)),
                       1e-9);
    cr_assert_eq(bm_hist_quantile(&h, -1.0), 1.0);
    cr_assert_eq(bm_hist_quantile(&h, 2.0), 100.0);
    cr_assert_float_eq(bm_hist_mean(&h), 50.5, 1e-12);
}

Test(histogram, add_many_at_once_equals_one_by_one)
{
    bm_hist one;
    bm_hist_init(&one);
    for (int i = 0; i < 7; i++)
        bm_hist_add(&one, 4321, 1);
    bm_hist_add(&h, 4321, 7);
    cr_assert_eq(h.count, one.count);
    cr_assert_eq(h.n_buckets, 1);
    cr_assert_eq(h.buckets[0].count, 7);
    cr_assert_eq(h.sum_us, one.sum_us);
    cr_assert_eq(bm_hist_add(&h, 99, 0), 0);
    cr_assert_eq(h.count, 7, "n = 0 adds nothing");
    bm_hist_deinit(&one);
}

/* --- merge -------------------------------------------------------------- */

static void assert_same(const bm_hist *a, const bm_hist *b)
{
    cr_assert_eq(a->count, b->count);
    cr_assert_eq(a->clamped, b->clamped);
    cr_assert_eq(a->min_us, b->min_us);
    cr_assert_eq(a->max_us, b->max_us);
    cr_assert_eq(a->sum_us, b->sum_us);
    cr_assert_eq(a->n_buckets, b->n_buckets);
    for (uint32_t k = 0; k < a->n_buckets; k++) {
        cr_assert_eq(a->buckets[k].index, b->buckets[k].index, "bucket %u", k);
        cr_assert_eq(a->buckets[k].count, b->buckets[k].count, "bucket %u", k);
    }
}

Test(histogram, merge_equals_histogram_of_the_union)
{
    bm_hist part[3], merged;
    for (int p = 0; p < 3; p++)
        bm_hist_init(&part[p]);
    bm_hist_init(&merged);
    rng_seed(5);
    for (int i = 0; i < N_VALUES; i++) {
        /* integers spread over 0 µs .. ~2^41 µs, so sums stay exact in a double */
        int64_t x = (int64_t)floor(exp(rng_unit() * 28.5)) - 1;
        int p = (int)(rng_next() % 3);
        if (p == 2 && i % 2) x = 777; /* a part with its own shape */
        cr_assert_eq(bm_hist_add(&part[p], x, 1), 0);
        cr_assert_eq(bm_hist_add(&h, x, 1), 0);
    }
    cr_assert_lt(h.sum_us, 9007199254740992.0, "sums exact in any order");
    cr_assert_gt(h.clamped, 0);
    for (int p = 0; p < 3; p++)
        cr_assert_eq(bm_hist_merge(&merged, &part[p]), 0);
    assert_same(&merged, &h);
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
        cr_assert_eq(bm_hist_quantile(&merged, qs[k]), bm_hist_quantile(&h, qs[k]));

    /* the other order gives the same histogram */
    bm_hist other;
    bm_hist_init(&other);
    for (int p = 2; p >= 0; p--)
        cr_assert_eq(bm_hist_merge(&other, &part[p]), 0);
    assert_same(&other, &h);

    bm_hist_deinit(&other);
    bm_hist_deinit(&merged);
    for (int p = 0; p < 3; p++)
        bm_hist_deinit(&part[p]);
}

Test(histogram, merge_with_empty_and_with_itself)
{
    bm_hist empty, copy;
    bm_hist_init(&empty);
    bm_hist_init(&copy);
    for (int64_t x = 10; x < 100000; x = x * 3 / 2)
        bm_hist_add(&h, x, 2);

    cr_assert_eq(bm_hist_merge(&h, &empty), 0);
    cr_assert_eq(bm_hist_merge(&copy, &h), 0);
    assert_same(&copy, &h);
    cr_assert_eq(bm_hist_merge(&empty, &empty), 0);
    cr_assert_eq(empty.count, 0);

    /* h += h doubles every bucket */
    uint64_t count = h.count;
    double sum = h.sum_us;
    cr_assert_eq(bm_hist_merge(&h, &h), 0);
    cr_assert_eq(h.count, 2 * count);
    cr_assert_eq(h.sum_us, 2 * sum);
    cr_assert_eq(h.n_buckets, copy.n_buckets);
    for (uint32_t k = 0; k < h.n_buckets; k++)
        cr_assert_eq(h.buckets[k].count, 2 * copy.buckets[k].count);
    cr_assert_eq(h.min_us, copy.min_us);
    cr_assert_eq(h.max_us, copy.max_us);

    bm_hist_deinit(&copy);
    bm_hist_deinit(&empty);
}

Test(histogram, merge_interleaved_and_disjoint_buckets)
{
    bm_hist a, b, want;
    bm_hist_init(&a);
    bm_hist_init(&b);
    bm_hist_init(&want);
    /* a: even buckets low, b: odd buckets and everything above a */
    for (uint16_t i = 0; i < 200; i++) {
        int64_t x = (int64_t)floor(bm_hist_bucket_upper(i));
        bm_hist *t = (i % 2 == 0 && i < 100) ? &a : &b;
        bm_hist_add(t, x, i + 1u);
        bm_hist_add(&want, x, i + 1u);
    }
    cr_assert_eq(bm_hist_merge(&a, &b), 0);
    assert_same(&a, &want);
    bm_hist_deinit(&a);
    bm_hist_deinit(&b);
    bm_hist_deinit(&want);
}

/* --- empty, reset, memory ----------------------------------------------- */

Test(histogram, empty)
{
    cr_assert_eq(h.count, 0);
    cr_assert_eq(bm_hist_quantile(&h, 0.0), 0.0);
    cr_assert_eq(bm_hist_quantile(&h, 0.5), 0.0);
    cr_assert_eq(bm_hist_quantile(&h, 1.0), 0.0);
    cr_assert_eq(bm_hist_mean(&h), 0.0);
    cr_assert_eq(bm_hist_heap_bytes(&h), 0);
    cr_assert_eq(h.min_us, 0);
    cr_assert_eq(h.max_us, 0);
}

Test(histogram, reset_forgets_values_and_keeps_memory)
{
    for (int64_t x = 1; x < 1000000; x *= 2)
        bm_hist_add(&h, x, 3);
    size_t bytes = bm_hist_heap_bytes(&h);
    cr_assert_gt(bytes, 0);
    bm_hist_reset(&h);
    cr_assert_eq(h.count, 0);
    cr_assert_eq(h.n_buckets, 0);
    cr_assert_eq(h.clamped, 0);
    cr_assert_eq(h.sum_us, 0.0);
    cr_assert_eq(h.min_us, 0);
    cr_assert_eq(h.max_us, 0);
    cr_assert_eq(bm_hist_quantile(&h, 0.5), 0.0);
    cr_assert_eq(bm_hist_heap_bytes(&h), bytes, "memory kept");
    bm_hist_add(&h, 500, 1);
    cr_assert_eq(h.min_us, 500, "min starts over after a reset");
    cr_assert_eq(h.max_us, 500);
    cr_assert_eq(bm_hist_quantile(&h, 0.5), 500.0);
}

Test(histogram, memory_is_per_used_bucket)
{
    for (int i = 0; i < 100000; i++)
        bm_hist_add(&h, 1000 + i % 7, 1); /* a handful of buckets */
    cr_assert_leq(h.n_buckets, 2);
    cr_assert_leq(bm_hist_heap_bytes(&h), 8 * sizeof(bm_hist_bucket));
    bm_hist_deinit(&h);
    bm_hist_deinit(&h); /* twice is harmless */
    bm_hist_init(&h);
}

/* --- bound -------------------------------------------------------------- */

Test(histogram, bound_folds_the_lowest_buckets_and_keeps_the_top)
{
    static int64_t v[N_VALUES];
    bm_hist_set_max_buckets(&h, 64);
    rng_seed(6);
    for (size_t i = 0; i < N_VALUES; i++) /* 1 µs .. ~1 h, spread on a log scale */
        v[i] = (int64_t)floor(exp(rng_unit() * 22.0));
    fill(v, N_VALUES);
    cr_assert_eq(h.n_buckets, 64);
    cr_assert_leq(bm_hist_heap_bytes(&h), 64 * sizeof(bm_hist_bucket));
    cr_assert_gt(h.folded, 0);
    cr_assert_eq(h.count, N_VALUES);
    uint64_t total = 0;
    for (uint32_t k = 0; k < h.n_buckets; k++)
        total += h.buckets[k].count;
    cr_assert_eq(total, N_VALUES, "folding moves counts, never drops them");
    qsort(v, N_VALUES, sizeof *v, cmp_i64);
    /* 64 buckets of 2 % cover the top factor of ~3.6: p95 and up stay exact to 1 % */
    const double top[] = {0.95, 0.99, 0.999};
    for (size_t k = 0; k < 3; k++) {
        double exact = (double)exact_quantile(v, N_VALUES, top[k]);
        double got = bm_hist_quantile(&h, top[k]);
        cr_assert_leq(fabs(got - exact) / exact, REL_ERR_LIMIT, "q=%g", top[k]);
    }
    /* the bottom reads high, never below the truth */
    cr_assert_geq(bm_hist_quantile(&h, 0.1), (double)exact_quantile(v, N_VALUES, 0.1));
    cr_assert_eq(bm_hist_quantile(&h, 0.0), (double)v[0], "min stays exact");
}

Test(histogram, bound_set_later_folds_at_once_and_survives_reset)
{
    for (uint16_t i = 0; i < 100; i++)
        bm_hist_add(&h, (int64_t)floor(bm_hist_bucket_upper((uint16_t)(200 + i * 3))), 1);
    cr_assert_eq(h.n_buckets, 100);
    bm_hist_set_max_buckets(&h, 10);
    cr_assert_eq(h.n_buckets, 10);
    cr_assert_eq(h.buckets[0].count, 91, "the 90 lowest went into the lowest kept");
    cr_assert_eq(h.folded, 90);
    cr_assert_leq(bm_hist_heap_bytes(&h), 10 * sizeof(bm_hist_bucket));
    bm_hist_reset(&h);
    cr_assert_eq(h.folded, 0);
    cr_assert_eq(h.max_buckets, 10);
    for (int64_t x = 1; x < 1000000; x = x * 2 + 1)
        bm_hist_add(&h, x, 1);
    cr_assert_eq(h.n_buckets, 10);
}

Test(histogram, bound_of_one_bucket)
{
    bm_hist_set_max_buckets(&h, 1);
    bm_hist_add(&h, 1000, 2);
    bm_hist_add(&h, 10, 1);     /* below: into the kept one */
    bm_hist_add(&h, 100000, 3); /* above: the kept one folds into it */
    cr_assert_eq(h.n_buckets, 1);
    cr_assert_eq(h.buckets[0].index, bm_hist_bucket_of(100000));
    cr_assert_eq(h.buckets[0].count, 6);
    cr_assert_eq(h.count, 6);
}

Test(histogram, merge_into_a_bounded_histogram)
{
    bm_hist src;
    bm_hist_init(&src);
    for (uint16_t i = 0; i < 300; i++)
        bm_hist_add(&src, (int64_t)floor(bm_hist_bucket_upper(i)), 1);
    bm_hist_set_max_buckets(&h, 50);
    bm_hist_add(&h, 5, 1);
    cr_assert_eq(bm_hist_merge(&h, &src), 0);
    cr_assert_eq(h.n_buckets, 50);
    cr_assert_leq(bm_hist_heap_bytes(&h), 50 * sizeof(bm_hist_bucket));
    cr_assert_eq(h.count, 301);
    cr_assert_eq(h.buckets[49].index, 299, "the top is kept");
    cr_assert_eq(h.buckets[0].count, 252);
    bm_hist_deinit(&src);
}

/* ---- save / load --------------------------------------------------------- */

static msgpack_sbuffer saved_buf;
static msgpack_unpacked saved_obj;

/* The msgpack object of whatever the packer got from fn. */
static const msgpack_object *unpack_saved(void)
{
    size_t off = 0;
    msgpack_unpacked_init(&saved_obj);
    cr_assert_eq(msgpack_unpack_next(&saved_obj, saved_buf.data, saved_buf.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, saved_buf.size);
    return &saved_obj.data;
}

static const msgpack_object *save(const bm_hist *x)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(bm_hist_save(x, &pk), 0);
    return unpack_saved();
}

static void saved_done(void)
{
    msgpack_unpacked_destroy(&saved_obj);
    msgpack_sbuffer_destroy(&saved_buf);
}

static void assert_same_hist(const bm_hist *a, const bm_hist *b)
{
    cr_assert_eq(a->count, b->count);
    cr_assert_eq(a->clamped, b->clamped);
    cr_assert_eq(a->min_us, b->min_us);
    cr_assert_eq(a->max_us, b->max_us);
    cr_assert_eq(a->sum_us, b->sum_us);
    cr_assert_eq(a->folded, b->folded);
    cr_assert_eq(a->n_buckets, b->n_buckets);
    for (uint32_t i = 0; i < a->n_buckets; i++) {
        cr_assert_eq(a->buckets[i].index, b->buckets[i].index, "bucket %u", i);
        cr_assert_eq(a->buckets[i].count, b->buckets[i].count, "bucket %u", i);
    }
    for (double q = 0; q <= 1.0; q += 0.01)
        cr_assert_eq(bm_hist_quantile(a, q), bm_hist_quantile(b, q), "q %g", q);
}

Test(histogram, save_load_round_trip_is_exact)
{
    rng_seed(7);
    bm_hist_add(&h, 0, 3);                 /* clamped low */
    bm_hist_add(&h, -5, 1);                /* clamped low, exact min */
    bm_hist_add(&h, (int64_t)1 << 41, 2);  /* clamped high */
    bm_hist_add(&h, 7, 4000000000u);       /* a count near the uint32 edge */
    for (int i = 0; i < N_VALUES; i++)
        bm_hist_add(&h, (int64_t)exp(8.0 + 2.5 * rng_normal()), 1);
    h.sum_us += 0.5; /* a sum that is not an integer is written as a float */

    bm_hist back;
    bm_hist_init(&back);
    bm_hist_add(&back, 123, 1); /* replaced, not added to */
    cr_assert_eq(bm_hist_load(&back, save(&h), NULL, 0), BM_LOAD_OK);
    assert_same_hist(&h, &back);
    saved_done();

    bm_hist empty;
    bm_hist_init(&empty);
    cr_assert_eq(bm_hist_load(&back, save(&empty), NULL, 0), BM_LOAD_OK);
    assert_same_hist(&empty, &back);
    saved_done();
    bm_hist_deinit(&back);
}

Test(histogram, save_is_compact)
{
    for (int64_t v = 1000; v < 2000; v += 7)
        bm_hist_add(&h, v, 1);
    msgpack_packer pk;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    cr_assert_eq(bm_hist_save(&h, &pk), 0);
    /* ~35 buckets: about 2 bytes each, plus the fixed fields */
    cr_assert_lt(saved_buf.size, 30 + 3 * h.n_buckets, "%zu bytes for %u buckets",
                 saved_buf.size, h.n_buckets);
    msgpack_sbuffer_destroy(&saved_buf);
}

Test(histogram, load_into_a_bounded_histogram_folds_the_lowest)
{
    for (int64_t v = 1; v < 10000000; v = v * 21 / 20 + 1)
        bm_hist_add(&h, v, 1);
    cr_assert_gt(h.n_buckets, 100);
    bm_hist small;
    bm_hist_init(&small);
    bm_hist_set_max_buckets(&small, 40);
    cr_assert_eq(bm_hist_load(&small, save(&h), NULL, 0), BM_LOAD_OK);
    saved_done();
    cr_assert_eq(small.n_buckets, 40);
    cr_assert_eq(small.count, h.count);
    cr_assert_eq(small.max_us, h.max_us);
    cr_assert_eq(bm_hist_quantile(&small, 0.99), bm_hist_quantile(&h, 0.99));
    cr_assert_gt(small.folded, 0);
    bm_hist_deinit(&small);
}

/* A hand-made histogram save: the fields, then the bucket bytes. */
static const msgpack_object *forged(uint64_t count, int64_t min_us, int64_t max_us,
                                    const uint8_t *bytes, size_t n)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(&saved_buf);
    msgpack_packer_init(&pk, &saved_buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint64(&pk, count);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_int64(&pk, min_us);
    msgpack_pack_int64(&pk, max_us);
    msgpack_pack_int64(&pk, 100);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_bin(&pk, n);
    msgpack_pack_bin_body(&pk, bytes, n);
    return unpack_saved();
}

Test(histogram, load_refuses_what_save_never_writes)
{
    bm_hist_add(&h, 50, 3);
    char err[256];
    static const struct {
        uint64_t count;
        int64_t min, max;
        uint8_t bytes[8];
        size_t n;
        const char *says;
    } bad[] = {
        {2, 10, 20, {5, 1, 0, 1}, 4, "ascending"},       /* second index equal to the first */
        {1, 10, 20, {0xec, 0x0a, 1}, 3, "ascending"},     /* index 1388: past the last */
        {2, 10, 20, {0xff, 0x0a, 1}, 3, "ascending"},     /* index 1407 */
        {1, 10, 20, {5, 0}, 2, "count is 0"},
        {1, 10, 20, {5, 2}, 2, "disagrees"},             /* buckets hold more than count */
        {1, 10, 20, {}, 0, "disagrees"},                  /* a count without buckets */
        {1, 10, 20, {5, 0x80}, 2, "varint"},              /* cut inside a varint */
        {1, 30, 20, {5, 1}, 2, "min above max"},
        {0, 30, 20, {}, 0, "min above max"},              /* empty with a range */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        cr_assert_eq(bm_hist_load(&h, forged(bad[i].count, bad[i].min, bad[i].max, bad[i].bytes,
                                             bad[i].n),
                                  err, sizeof err),
                     BM_LOAD_CORRUPT, "case %zu", i);
        cr_assert(strstr(err, bad[i].says), "case %zu: %s", i, err);
        saved_done();
        cr_assert_eq(h.count, 3, "case %zu: unchanged", i);
        cr_assert_eq(h.n_buckets, 1);
    }
    static const uint8_t last[] = {0xeb, 0x0a, 1}; /* index 1387: the last one */
    cr_assert_eq(bm_hist_load(&h, forged(1, 10, 20, last, 3), err, sizeof err), BM_LOAD_OK, "%s",
                 err);
    saved_done();
    cr_assert_eq(h.buckets[0].index, MAX_INDEX);
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    cr_assert_eq(bm_hist_load(&h, &nil, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert_eq(bm_hist_load(&h, NULL, err, sizeof err), BM_LOAD_CORRUPT);
    cr_assert_eq(bm_hist_max_index(), MAX_INDEX);
}
