/*
 * error_patterns.h - errors grouped by type, with counts per window, first
 * and last seen, one example message, the workers hit, and a trend.
 *
 * The group key is the error's type (error.type / error_details.error_type),
 * else the text of the message before its first ':' (trimmed), else
 * "unknown". Per pattern: per-window counts (1 min, 5 min, performance
 * window) and 24 hourly buckets; the trend compares the last full hour (and
 * the current one, pro rata) with the hours before it:
 *   increasing  current rate > 1.5 x the average of the previous hours (and >= 3 errors),
 *   decreasing  current rate < 0.5 x that average,
 *   stable      otherwise (or too little history).
 * Bounds: at most max_patterns patterns (refused ones counted), at most
 * BM_PATTERN_WORKERS_MAX worker names kept per pattern (the rest counted).
 * Pure: time comes in as now_us.
 */
#ifndef BM_LIB_ERROR_PATTERNS_H
#define BM_LIB_ERROR_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/rollup.h"

typedef struct error_patterns error_patterns;

/* @return the table, or NULL. max_patterns 0 = default 200. */
error_patterns *error_patterns_new(size_t max_patterns, int64_t perf_window_us);
void error_patterns_free(error_patterns *p);

/* Record one error. @return 0, or -1 when a new pattern was refused (bound). */
int error_patterns_add(error_patterns *p, const char *error_type, const char *message,
                       const char *worker, int64_t now_us);

size_t error_patterns_count(const error_patterns *p);
uint64_t error_patterns_refused(const error_patterns *p);

/* Snapshot sorted by count over the performance window, descending. @return number written. */
size_t error_patterns_snapshot(const error_patterns *p, int64_t now_us, bm_error_pattern *out,
                               size_t max);

/* The group key of an error ("NetworkError" for type "NetworkError" or
 * message "NetworkError: Connection timeout"). Writes into buf. */
void error_patterns_key(const char *error_type, const char *message, char *buf, size_t n);

#endif
