/*
 * custom_metrics_json.h - business metrics (lib/custom_metrics.h) as JSON:
 * what /api/metrics serves, and the `metrics` member of a rollup that
 * `busmon metrics` reads (proto/README.md §8.6 has both shapes).
 */
#ifndef BM_LIB_CUSTOM_METRICS_JSON_H
#define BM_LIB_CUSTOM_METRICS_JSON_H

#include <jansson.h>

#include "lib/custom_metrics.h"

/*
 * One series over one window:
 *   {"name", "kind", "tags": {k: v}, "count", "sum", "min", "max", "avg",
 *    "p50", "p95", "p99" (histograms), "last" (gauges), "rate_per_s"
 *    (histograms: observations/s, counters: sum/s), "covered_s"}
 * with_name 0 leaves out name, kind and tags (a rollup's windows).
 * @return a new object, or NULL (out of memory).
 */
json_t *custom_metrics_stat_json(const custom_metrics_stat *s, int with_name);

/*
 * {"window": label, "series": [stat, ...] (at most max_series; 0: all),
 *  "matched": n, "limited": bool} of the series matching f over `window`.
 * @return a new object, or NULL (out of memory).
 */
json_t *custom_metrics_json(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                            int64_t now_us, size_t max_series);

/*
 * A rollup's `metrics`: {"series": n, "omitted": k, "items": [{"name",
 * "kind", "tags", "windows": {"1m": stat, "5m": stat, "1h": stat}}]}: the
 * first max_items series (key order) with anything in the longest window
 * (the performance window, or 5 minutes when it is shorter); a window with
 * nothing in it is left out of "windows". The
 * windows are keyed as the rollup's others (bm_rollup_window_key: the
 * performance window "perf" when it is 1 or 5 minutes long).
 * @return a new object, or NULL (out of memory).
 */
json_t *custom_metrics_rollup_json(const custom_metrics *cm, int64_t now_us, size_t max_items);

#endif
