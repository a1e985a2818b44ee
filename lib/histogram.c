/*
 * histogram.c - a sparse, mergeable, log-bucketed quantile histogram
 * (lib/histogram.h), after DDSketch (Masson, Rim, Lee, VLDB 2019).
 *
 * Not here: windows of histograms over time (lib/window.c), and no I/O.
 *
 * Buckets. With g = (1 + a) / (1 - a), bucket i holds the values in
 * (g^(i-1), g^i]; bucket 0 holds 1 µs (and everything below, clamped):
 *
 *        bucket i-1         bucket i            bucket i+1
 *   ----(---------](-----------*-----------](-----------]----> value
 *            g^(i-1)     2 g^i / (g+1)     g^i
 *                        representative
 *
 * The representative is at most a = 1 % away from either end, hence from
 * every value in the bucket. 2^40 µs (12.7 days) is bucket 1387, so an
 * index fits in 16 bits. bm_hist_bucket_of is made to agree exactly with
 * bm_hist_bucket_upper (a value never lands past its bucket's upper bound
 * through a rounding of log()), so a value at a bucket edge is still within
 * 1 % of its representative.
 *
 * Storage. A sorted array of (index, count) pairs, grown by doubling;
 * adding searches it in O(log n) and inserts with a memmove, which is cheap
 * because a stream of durations touches few distinct buckets. Merging is a
 * linear two-way merge done in place from the back.
 *
 * Bound. With max_buckets set, the array never grows past it: a new bucket
 * that would pass the bound first folds the lowest bucket into its upper
 * neighbour (or, when the new bucket is itself the lowest, goes into the
 * lowest kept one). The top of the distribution, where latency alarms look,
 * keeps its 1 %; everything folded reads as the lowest kept bucket.
 */
#include "histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "state_codec.h"

#define HIST_MIN_VALUE_US 1
#define HIST_MAX_VALUE_US ((int64_t)1 << 40)
#define HIST_MIN_CAP      8
#define HIST_INDEX_SLOTS  1400 /* > the largest index (1387): no histogram holds more buckets */
#define VARINT_PAIR_MAX   8    /* an index delta (<= 3 bytes) and a uint32 count (<= 5 bytes) */
/* q * count may land a hair above an integer through rounding (0.07 * 100
 * is 7.000000000000001): ranks are taken after removing that hair. */
#define RANK_EPSILON 1e-9

static double log_gamma(void)
{
    return log((1.0 + BM_HIST_RELATIVE_ERROR) / (1.0 - BM_HIST_RELATIVE_ERROR));
}

static double gamma_value(void)
{
    return (1.0 + BM_HIST_RELATIVE_ERROR) / (1.0 - BM_HIST_RELATIVE_ERROR);
}

void bm_hist_init(bm_hist *h)
{
    memset(h, 0, sizeof *h);
}

void bm_hist_deinit(bm_hist *h)
{
    if (!h) return;
    free(h->buckets);
    memset(h, 0, sizeof *h);
}

void bm_hist_reset(bm_hist *h)
{
    h->n_buckets = 0;
    h->count = 0;
    h->clamped = 0;
    h->min_us = h->max_us = 0;
    h->sum_us = 0.0;
    h->folded = 0;
}

double bm_hist_bucket_upper(uint16_t index)
{
    return exp((double)index * log_gamma());
}

double bm_hist_bucket_value(uint16_t index)
{
    return 2.0 * bm_hist_bucket_upper(index) / (gamma_value() + 1.0);
}

uint16_t bm_hist_bucket_of(int64_t value_us)
{
    if (value_us <= HIST_MIN_VALUE_US) return 0;
    if (value_us > HIST_MAX_VALUE_US) value_us = HIST_MAX_VALUE_US;
    double v = (double)value_us;
    long i = (long)ceil(log(v) / log_gamma());
    if (i < 0) i = 0;
    /* log() may round across an edge: settle on the definition. */
    while (i > 0 && v <= bm_hist_bucket_upper((uint16_t)(i - 1)))
        i--;
    while (v > bm_hist_bucket_upper((uint16_t)i))
        i++;
    return (uint16_t)i;
}

/* First position whose index is >= `index` (n_buckets when none). */
static uint32_t lower_bound(const bm_hist *h, uint16_t index)
{
    uint32_t lo = 0, hi = h->n_buckets;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->buckets[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int reserve(bm_hist *h, uint32_t need)
{
    if (need <= h->cap_buckets) return 0;
    uint32_t cap = h->cap_buckets ? h->cap_buckets : HIST_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (h->max_buckets && cap > h->max_buckets && need <= h->max_buckets) cap = h->max_buckets;
    bm_hist_bucket *b = realloc(h->buckets, (size_t)cap * sizeof *b);
    if (!b) return -1;
    h->buckets = b;
    h->cap_buckets = cap;
    return 0;
}

/* Bucket counts saturate rather than wrap: 4 billion values in one bucket of
 * one histogram is far beyond any window, and wrapping would corrupt ranks. */
static uint32_t add_count(uint32_t a, uint64_t b)
{
    uint64_t s = (uint64_t)a + b;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Fold the lowest buckets into the next one until at most `keep` remain
 * (keep >= 1). */
static void fold_to(bm_hist *h, uint32_t keep)
{
    if (h->n_buckets <= keep) return;
    uint32_t k = h->n_buckets - keep; /* buckets 0..k-1 fold into bucket k */
    uint32_t count = h->buckets[k].count;
    for (uint32_t i = 0; i < k; i++)
        count = add_count(count, h->buckets[i].count);
    h->buckets[k].count = count;
    memmove(&h->buckets[0], &h->buckets[k], (size_t)keep * sizeof *h->buckets);
    h->n_buckets = keep;
    h->folded += k;
}

/* Give back memory held beyond the bound (a failed shrink keeps it). */
static void shrink_to_bound(bm_hist *h)
{
    if (!h->max_buckets || h->cap_buckets <= h->max_buckets) return;
    bm_hist_bucket *b = realloc(h->buckets, (size_t)h->max_buckets * sizeof *b);
    if (!b) return;
    h->buckets = b;
    h->cap_buckets = h->max_buckets;
}

void bm_hist_set_max_buckets(bm_hist *h, uint32_t max_buckets)
{
    h->max_buckets = max_buckets;
    if (!max_buckets) return;
    fold_to(h, max_buckets);
    shrink_to_bound(h);
}

static void note_range(bm_hist *h, int64_t lo_us, int64_t hi_us)
{
    if (h->count == 0) {
        h->min_us = lo_us;
        h->max_us = hi_us;
        return;
    }
    if (lo_us < h->min_us) h->min_us = lo_us;
    if (hi_us > h->max_us) h->max_us = hi_us;
}

int bm_hist_add(bm_hist *h, int64_t value_us, uint32_t n)
{
    if (n == 0) return 0;
    uint16_t index = bm_hist_bucket_of(value_us);
    uint32_t pos = lower_bound(h, index);
    if (pos < h->n_buckets && h->buckets[pos].index == index) {
        h->buckets[pos].count = add_count(h->buckets[pos].count, n);
    } else if (h->max_buckets && h->n_buckets >= h->max_buckets && pos == 0) {
        /* below every kept bucket: it folds into the lowest one */
        h->buckets[0].count = add_count(h->buckets[0].count, n);
        h->folded++;
    } else {
        uint32_t carry = 0; /* the lowest bucket, folded to make room */
        if (h->max_buckets && h->n_buckets >= h->max_buckets) {
            carry = h->buckets[0].count;
            memmove(&h->buckets[0], &h->buckets[1],
                    (size_t)(h->n_buckets - 1) * sizeof *h->buckets);
            h->n_buckets--;
            pos--;
            h->folded++;
        } else if (reserve(h, h->n_buckets + 1) != 0) {
            return -1;
        }
        memmove(&h->buckets[pos + 1], &h->buckets[pos],
                (size_t)(h->n_buckets - pos) * sizeof *h->buckets);
        h->buckets[pos].index = index;
        h->buckets[pos].count = n;
        h->n_buckets++;
        if (carry) h->buckets[0].count = add_count(h->buckets[0].count, carry);
    }
    note_range(h, value_us, value_us);
    h->count += n;
    if (value_us < HIST_MIN_VALUE_US || value_us > HIST_MAX_VALUE_US) h->clamped += n;
    h->sum_us += (double)value_us * (double)n;
    return 0;
}

int bm_hist_merge(bm_hist *dst, const bm_hist *src)
{
    if (src->count == 0) return 0;
    /* Read src's figures first: src may be dst. */
    const uint64_t src_count = src->count, src_clamped = src->clamped, src_folded = src->folded;
    const int64_t src_min = src->min_us, src_max = src->max_us;
    const double src_sum = src->sum_us;
    const uint32_t nd = dst->n_buckets, ns = src->n_buckets;

    uint32_t union_n = nd;
    if (src != dst) {
        uint32_t i = 0, j = 0;
        union_n = 0;
        while (i < nd || j < ns) {
            if (j == ns || (i < nd && dst->buckets[i].index < src->buckets[j].index)) {
                i++;
            } else if (i == nd || src->buckets[j].index < dst->buckets[i].index) {
                j++;
            } else {
                i++;
                j++;
            }
            union_n++;
        }
    }
    if (reserve(dst, union_n) != 0) return -1;

    /* Merge from the back: the write position never passes the next unread
     * dst bucket, so dst's own buckets are read before being overwritten. */
    const bm_hist_bucket *s = src->buckets; /* after reserve: src may be dst */
    bm_hist_bucket *d = dst->buckets;
    int64_t i = (int64_t)nd - 1, j = (int64_t)ns - 1, w = (int64_t)union_n - 1;
    while (j >= 0) {
        if (i >= 0 && d[i].index > s[j].index) {
            d[w--] = d[i--];
        } else if (i >= 0 && d[i].index == s[j].index) {
            bm_hist_bucket b = d[i];
            b.count = add_count(b.count, s[j].count);
            d[w--] = b;
            i--;
            j--;
        } else {
            d[w--] = s[j--];
        }
    }
    dst->n_buckets = union_n;
    if (dst->max_buckets) {
        fold_to(dst, dst->max_buckets);
        shrink_to_bound(dst);
    }
    note_range(dst, src_min, src_max);
    dst->count += src_count;
    dst->clamped += src_clamped;
    dst->folded += src_folded;
    dst->sum_us += src_sum;
    return 0;
}

double bm_hist_quantile(const bm_hist *h, double q)
{
    if (h->count == 0) return 0.0;
    if (!(q > 0.0)) return (double)h->min_us; /* also NaN */
    if (q >= 1.0) return (double)h->max_us;
    double r = ceil(q * (double)h->count - RANK_EPSILON);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
    if (rank > h->count) rank = h->count;

    double v = (double)h->max_us; /* if saturated counts fall short of rank */
    uint64_t seen = 0;
    for (uint32_t k = 0; k < h->n_buckets; k++) {
        seen += h->buckets[k].count;
        if (seen >= rank) {
            v = bm_hist_bucket_value(h->buckets[k].index);
            break;
        }
    }
    if (v < (double)h->min_us) v = (double)h->min_us;
    if (v > (double)h->max_us) v = (double)h->max_us;
    return v;
}

double bm_hist_mean(const bm_hist *h)
{
    return h->count ? h->sum_us / (double)h->count : 0.0;
}

size_t bm_hist_heap_bytes(const bm_hist *h)
{
    return (size_t)h->cap_buckets * sizeof(bm_hist_bucket);
}

/* ---- state ------------------------------------------------------------- */

uint16_t bm_hist_max_index(void)
{
    return bm_hist_bucket_of(HIST_MAX_VALUE_US);
}

int bm_hist_save(const bm_hist *h, msgpack_packer *pk)
{
    uint8_t buf[HIST_INDEX_SLOTS * VARINT_PAIR_MAX];
    size_t n = 0;
    uint16_t prev = 0;
    if (h->n_buckets > HIST_INDEX_SLOTS) return -1; /* cannot happen: indices are distinct */
    for (uint32_t i = 0; i < h->n_buckets; i++) {
        n += bm_sc_put_varint(buf + n, (uint64_t)(h->buckets[i].index - prev));
        n += bm_sc_put_varint(buf + n, h->buckets[i].count);
        prev = h->buckets[i].index;
    }
    int e = msgpack_pack_array(pk, 7);
    e |= msgpack_pack_uint64(pk, h->count);
    e |= msgpack_pack_uint64(pk, h->clamped);
    e |= msgpack_pack_int64(pk, h->min_us);
    e |= msgpack_pack_int64(pk, h->max_us);
    e |= bm_sc_real(pk, h->sum_us);
    e |= msgpack_pack_uint64(pk, h->folded);
    e |= msgpack_pack_bin(pk, n);
    e |= msgpack_pack_bin_body(pk, buf, n);
    return e ? -1 : 0;
}

int bm_hist_load(bm_hist *h, const msgpack_object *o, char *err, size_t errlen)
{
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 7)
        return bm_sc_fail(err, errlen, "histogram is not an array of 7");
    const msgpack_object *a = o->via.array.ptr;
    uint64_t count, clamped, folded;
    int64_t min_us, max_us;
    double sum_us;
    if (bm_sc_as_u64(&a[0], &count) || bm_sc_as_u64(&a[1], &clamped) ||
        bm_sc_as_i64(&a[2], &min_us) || bm_sc_as_i64(&a[3], &max_us) ||
        bm_sc_as_f64(&a[4], &sum_us) || bm_sc_as_u64(&a[5], &folded))
        return bm_sc_fail(err, errlen,
                          "histogram: count, clamped, min, max, sum or folded is "
                          "not a number of its kind");
    if (a[6].type != MSGPACK_OBJECT_BIN)
        return bm_sc_fail(err, errlen, "histogram: buckets are not a bin");

    bm_hist_bucket tmp[HIST_INDEX_SLOTS];
    const uint8_t *p = (const uint8_t *)a[6].via.bin.ptr, *end = p + a[6].via.bin.size;
    const uint16_t max_index = bm_hist_max_index();
    uint32_t n = 0;
    uint64_t prev = 0, total = 0;
    while (p < end) {
        uint64_t d, c;
        if (bm_sc_get_varint(&p, end, &d) || bm_sc_get_varint(&p, end, &c))
            return bm_sc_fail(err, errlen, "histogram: buckets end inside a varint");
        if ((n > 0 && d == 0) || d > max_index || prev + d > max_index)
            return bm_sc_fail(err, errlen, "histogram: bucket indices not ascending within 0..%u",
                              (unsigned)max_index);
        if (c == 0 || c > UINT32_MAX)
            return bm_sc_fail(err, errlen, "histogram: a bucket count is 0 or above 2^32-1");
        prev += d;
        tmp[n].index = (uint16_t)prev;
        tmp[n].count = (uint32_t)c;
        total += c;
        n++;
    }
    if (total > count || (n == 0) != (count == 0) || clamped > count)
        return bm_sc_fail(err, errlen,
                          "histogram: count %llu disagrees with its buckets (%llu in %u)",
                          (unsigned long long)count, (unsigned long long)total, (unsigned)n);
    if (count ? min_us > max_us : (min_us != 0 || max_us != 0))
        return bm_sc_fail(err, errlen, "histogram: min above max, or set when empty");
    if (reserve(h, n) != 0) {
        bm_sc_fail(err, errlen, "histogram: out of memory");
        return BM_LOAD_NOMEM;
    }
    if (n) memcpy(h->buckets, tmp, (size_t)n * sizeof *tmp);
    h->n_buckets = n;
    h->count = count;
    h->clamped = clamped;
    h->min_us = min_us;
    h->max_us = max_us;
    h->sum_us = sum_us;
    h->folded = folded;
    if (h->max_buckets) {
        fold_to(h, h->max_buckets);
        shrink_to_bound(h);
    }
    return BM_LOAD_OK;
}
