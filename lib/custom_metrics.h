/*
 * custom_metrics.h - named business values with tags (proto/README.md
 * §5.1), aggregated per series over the workers' windows.
 *
 * A series is a metric name plus its tag set (after the tag allow / deny
 * lists and the per-series tag bound), of one kind:
 *
 *   histogram  every value an observation: count, sum, min, max, avg,
 *              p50 / p95 / p99 (a sketch of lib/histogram.h: <= 1 % relative
 *              error for magnitudes in [0.001, 10^9]), rate = count / s;
 *   counter    every value an increment: count, sum, rate = sum / s;
 *   gauge      a level: last (the newest by event time), min, max, count.
 *
 * Each series keeps three windows of the shapes the workers use: 1 min
 * (6 x 10 s), 5 min (10 x 30 s) and the performance window (12 periods),
 * so `--window 1m|5m|1h` reads the same ring sizes everywhere. Rates divide
 * by the covered time (the oldest live period holding data to now), or by
 * the part of the window the table has watched since `since` (its first
 * event, or custom_metrics_watch) when that is longer, as the workers' and
 * the events' windows do (lib/window.h): one event of a new series, or of
 * one quiet for an hour, is one over the window, not one over its second.
 *
 * Bounds: at most max_series series. A full table makes room by evicting
 * the series seen least recently when nothing of it is left in any window
 * (idle longer than the performance window); otherwise the event is
 * refused (counted, the name kept as the last refused). Tags a list drops,
 * or past max_tags_per_series (in key order), are counted in tags_dropped
 * (of the events kept: a refused event's tags are not "dropped");
 * an event whose kind differs from its series' is refused (kind_conflicts).
 *
 * State (custom_metrics_save / _load / _merge), series sorted by key:
 *
 *   { "refused": uint, "evicted": uint, "tags_dropped": uint, "kind_conflicts": uint,
 *     "since": µs,          first watched (absent in older saves: 0, unknown)
 *     "series": [ { "name": str, "kind": "histogram"|"counter"|"gauge",
 *                   "total_count": uint, "total_sum": number,  since the series began
 *                   "tags": [[key, value], ...],   sorted by key
 *                   "last_seen": µs,
 *                   "windows": [w1m, w5m, wperf] } ] }
 *   window = [period_us, n_periods, bin]   bin: msgpack [period, ...], the live
 *                                          periods (one object for the checkpoint's
 *                                          reader, however many periods)
 *   period = [start_us, count, sum, min, max, last, last_ts_us, zeros,
 *             positive hist, negative hist]          hist: lib/histogram.h
 *                                                    of |value| x 1000; nil when empty
 *
 * Merging (one table per agent): series meet by key; periods align by
 * absolute start (same start: counts and sums add, sketches merge, min /
 * max combine, the later last wins; a newer period replaces an older one
 * in its slot, an older one is left out), the latest last seen; the earlier
 * since of those known.
 *
 * Pure: time comes in as now_us; no I/O.
 */
#ifndef BM_LIB_CUSTOM_METRICS_H
#define BM_LIB_CUSTOM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/event.h"

#define CUSTOM_METRICS_WINDOWS      3 /* 1m, 5m, performance window */
#define CUSTOM_METRICS_TAGS_MAX     BM_EVENT_MAX_TAGS
#define CUSTOM_METRICS_LIST_MAX     32 /* keys in an allow or deny list */
#define CUSTOM_METRICS_LIST_KEY_MAX 64 /* a listed key's bytes, with its NUL */
/* a series' key, name US key RS value ..., with its NUL: the longest there is */
#define CUSTOM_METRICS_KEY_MAX                                                                     \
    (BM_ID_MAX * (2 * CUSTOM_METRICS_TAGS_MAX + 1) + 2 * CUSTOM_METRICS_TAGS_MAX + 1)

typedef struct {
    size_t max_series;            /* default 10000 */
    unsigned max_tags_per_series; /* default 8, at most CUSTOM_METRICS_TAGS_MAX */
    int64_t perf_window_us;       /* default 60 min */
    /* tag keys: when allow has any, only those are kept; deny ones are dropped */
    char tag_allow[CUSTOM_METRICS_LIST_MAX][CUSTOM_METRICS_LIST_KEY_MAX];
    size_t n_tag_allow;
    char tag_deny[CUSTOM_METRICS_LIST_MAX][CUSTOM_METRICS_LIST_KEY_MAX];
    size_t n_tag_deny;
} custom_metrics_config;

void custom_metrics_config_defaults(custom_metrics_config *c);

/*
 * Fill the allow (deny = 0) or deny (deny = 1) list from text: keys
 * separated by ',' or blanks (NULL or "": an empty list).
 * @return 0, or -1 with the reason in err (too many keys, a key too long).
 */
int custom_metrics_config_list(custom_metrics_config *c, int deny, const char *text, char *err,
                               size_t errlen);

typedef struct custom_metrics custom_metrics;

/* @return the table, or NULL. cfg is copied. */
custom_metrics *custom_metrics_new(const custom_metrics_config *cfg);
void custom_metrics_free(custom_metrics *cm);

typedef enum {
    CUSTOM_METRICS_ADDED = 0,
    CUSTOM_METRICS_REFUSED,       /* table full, nothing idle to evict */
    CUSTOM_METRICS_KIND_CONFLICT, /* its series has another kind */
    CUSTOM_METRICS_NOMEM,
} custom_metrics_result;

/* The table is told of now_us (a rollup taken): its windows count from the
 * first such time, or from the first event's, whichever came first, so a
 * quiet spell before an event is part of the time its rate divides by. */
void custom_metrics_watch(custom_metrics *cm, int64_t now_us);

/*
 * Count one metric event (ev->metric_name not "") at event time ev->ts_us
 * into the period of agent time now_us (as the workers' windows do); the
 * table is watched from then on (custom_metrics_watch).
 * ev->tags_dropped adds to tags_dropped when the event is kept (ADDED).
 */
custom_metrics_result custom_metrics_add(custom_metrics *cm, const bm_event *ev, int64_t now_us);

typedef struct {
    const char *key, *value; /* borrowed from the table */
} custom_metrics_tag;

/* One series over one window: what every surface shows. */
typedef struct {
    const char *name; /* borrowed from the table until its next change */
    bm_metric_kind kind;
    unsigned n_tags;
    custom_metrics_tag tags[CUSTOM_METRICS_TAGS_MAX];
    uint64_t count;
    double sum, min, max, avg, last; /* 0 when count is 0 */
    double p50, p95, p99;            /* histograms only, else 0 */
    double rate_per_s;               /* histogram: count / s; counter: sum / s; gauge: 0 */
    int64_t covered_us;              /* the time rates divide by: holding data, or watched */
    int64_t last_seen_us;
    uint64_t total_count; /* since the series began: values counted, their sum */
    double total_sum;
} custom_metrics_stat;

/* A filter: name "" or NULL = any; every tag given must be present with that value. */
typedef struct {
    const char *name;
    size_t n_tags;
    custom_metrics_tag tags[CUSTOM_METRICS_TAGS_MAX];
} custom_metrics_filter;

/* Window index of a label: "1m" 0, "5m" 1, the performance window's label
 * ("1h" by default) 2; -1 for anything else. */
int custom_metrics_window_index(const custom_metrics *cm, const char *label);
/* "1m", "5m", "1h" (the performance window's length). */
const char *custom_metrics_window_label(const custom_metrics *cm, int window);
/* The length of window `window` in µs (0 for no such window). */
int64_t custom_metrics_window_us(const custom_metrics *cm, int window);

typedef void (*custom_metrics_cb)(const custom_metrics_stat *s, void *arg);

/*
 * Every series matching f (NULL: all) with anything in window `window`
 * at now_us, in key order (name, then tags). @return how many, or -1 (out of
 * memory while merging sketches).
 */
int custom_metrics_foreach(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                           int64_t now_us, custom_metrics_cb cb, void *arg);

/*
 * The series matching f (NULL: all) over `window` at now_us summed into one
 * *out, exactly (sketches merged): count, sum, min, max, avg, quantiles,
 * rate, the newest last; of the kind of the first matching series (others
 * left out); no tags. @return how many series it sums (0: no data), or -1
 * (out of memory).
 */
int custom_metrics_aggregate(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                             int64_t now_us, custom_metrics_stat *out);

typedef struct {
    size_t series;
    uint64_t refused, evicted, tags_dropped, kind_conflicts;
} custom_metrics_stats;

void custom_metrics_get_stats(const custom_metrics *cm, custom_metrics_stats *out);
/* The name of the last refused metric ("" none); borrowed. */
const char *custom_metrics_last_refused(const custom_metrics *cm);

struct msgpack_packer;
struct msgpack_object;

/* Write the state (layout above). @return 0, or -1. */
int custom_metrics_save(const custom_metrics *cm, struct msgpack_packer *pk);
/* Replace the state with o's (windows of another shape: BM_LOAD_MISMATCH;
 * series past max_series are refused and counted). @return 0 or a
 * bm_load_status with err; cm unchanged then. */
int custom_metrics_load(custom_metrics *cm, const struct msgpack_object *o, char *err,
                        size_t errlen);
/* dst += src (same configuration). @return 0, or -1 (out of memory). */
int custom_metrics_merge(custom_metrics *dst, const custom_metrics *src);
/* Exchange the states of two tables of the same configuration. */
void custom_metrics_swap(custom_metrics *a, custom_metrics *b);

#endif
