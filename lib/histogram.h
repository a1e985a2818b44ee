/*
 * histogram.h - a mergeable, log-bucketed quantile histogram (DDSketch-like).
 *
 * No Debian package ships one for C, so it is written here. Values are
 * durations in µs. A value v >= 1 goes to bucket i = ceil(log_g(v)) with
 * g = (1 + a) / (1 - a), a = 0.01: every value in a bucket is within 1 % of
 * the bucket's representative 2 g^i / (g + 1), so any quantile is returned
 * with a relative error of at most 1 % from 1 µs to 1 h (and beyond: values
 * above 2^40 µs and below 1 µs are clamped into the end buckets and counted).
 *
 * Storage is sparse: a sorted array of (bucket index, count) pairs, so a
 * histogram that saw few distinct durations is small (6-8 bytes per used
 * bucket, ~1100 buckets at most). Two histograms merge by adding counts
 * bucket by bucket, exactly: per-window and per-agent histograms add up to
 * the histogram of the union of their values.
 *
 * A histogram may be bounded (bm_hist_set_max_buckets): past the bound, the
 * lowest bucket folds into its upper neighbour, as DDSketch's collapsing
 * store does. High quantiles stay within 1 %; the lowest ranks read high,
 * and merges stop being exact once a fold happened (`folded` says so).
 * Unbounded is the default.
 *
 * State: bm_hist_save writes a histogram as msgpack and bm_hist_load reads
 * it back exactly (lib/checkpoint.h has the whole checkpoint):
 *
 *   [count, clamped, min_us, max_us, sum_us, folded, buckets]
 *
 *   buckets: bin, LEB128 varint pairs (index - previous index, count), the
 *            previous index starting at 0, indices strictly ascending:
 *
 *      +--------+-------+--------+-------+----
 *      | d0=i0  | c0    | d1     | c1    | ...      i_k = i_(k-1) + d_k
 *      +--------+-------+--------+-------+----
 *
 * sum_us is an integer when it is one (it is a sum of integer durations),
 * else a float64.
 *
 * Pure: no I/O, no clock.
 */
#ifndef BM_LIB_HISTOGRAM_H
#define BM_LIB_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define BM_HIST_RELATIVE_ERROR 0.01

typedef struct {
    uint16_t index; /* bucket index: see bm_hist_bucket_of */
    uint32_t count;
} bm_hist_bucket;

typedef struct {
    bm_hist_bucket *buckets; /* sorted by index, no zero counts */
    uint32_t n_buckets, cap_buckets;
    uint64_t count;         /* values added (including clamped ones) */
    uint64_t clamped;       /* values outside [1 µs, 2^40 µs] put in the end buckets */
    int64_t min_us, max_us; /* exact; 0 when empty */
    double sum_us;          /* exact sum, for the average */
    uint32_t max_buckets;   /* 0: no bound (default); see bm_hist_set_max_buckets */
    uint64_t folded;        /* buckets folded into their upper neighbour by the bound */
} bm_hist;

/* Embedded lifecycle: init / deinit for a histogram inside another struct. */
void bm_hist_init(bm_hist *h);
void bm_hist_deinit(bm_hist *h);
/* Forget all values, keep the memory (and the bound). */
void bm_hist_reset(bm_hist *h);

/*
 * Hold at most max_buckets buckets (0: no bound), folding the lowest ones
 * into their upper neighbour now and whenever a new bucket would pass the
 * bound; memory stays at max_buckets buckets (bm_hist_merge into a bounded
 * histogram may take more for the length of the call).
 */
void bm_hist_set_max_buckets(bm_hist *h, uint32_t max_buckets);

/* The bucket index of a value (clamped), and a bucket's representative value. */
uint16_t bm_hist_bucket_of(int64_t value_us);
double bm_hist_bucket_value(uint16_t index);
/* Upper bound (inclusive) of a bucket: values v with bucket_of(v) == i satisfy v <= upper(i). */
double bm_hist_bucket_upper(uint16_t index);

/* Add `n` occurrences of a value. @return 0, or -1 when out of memory (nothing added). */
int bm_hist_add(bm_hist *h, int64_t value_us, uint32_t n);

/* dst += src, exactly. @return 0 or -1 (out of memory; dst unchanged). */
int bm_hist_merge(bm_hist *dst, const bm_hist *src);

/*
 * The q-quantile (0 <= q <= 1) in µs: the representative of the bucket that
 * holds the value of rank ceil(q * count) (q = 0: min, q = 1: max, exact),
 * clamped to [min, max]. 0 for an empty histogram.
 */
double bm_hist_quantile(const bm_hist *h, double q);

/* Average in µs (exact), 0 when empty. */
double bm_hist_mean(const bm_hist *h);

/* Heap bytes held. */
size_t bm_hist_heap_bytes(const bm_hist *h);

struct msgpack_packer;
struct msgpack_object;

/* The largest bucket index (that of 2^40 µs and above). */
uint16_t bm_hist_max_index(void);

/* Write h (layout above). @return 0, or -1 (the packer's writer failed). */
int bm_hist_save(const bm_hist *h, struct msgpack_packer *pk);

/*
 * Replace h's values with those saved in o; h keeps its bound (more buckets
 * than the bound fold, as bm_hist_set_max_buckets does).
 * @return 0 (BM_LOAD_OK), or a bm_load_status (lib/state_codec.h) with the
 * reason in err; h is unchanged then.
 */
int bm_hist_load(bm_hist *h, const struct msgpack_object *o, char *err, size_t errlen);

#endif
