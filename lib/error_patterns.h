/*
 * error_patterns.h - errors grouped by type, with counts per window, first
 * and last seen, one example message, the workers hit, and a trend.
 *
 * The group key is the error's type (error.type / error_details.error_type;
 * "timeout" in any case is "timeout", the one pattern of every timeout),
 * else the text of the message before its first ':' (trimmed), else
 * "unknown". Per pattern: per-window counts (1 min, 5 min, performance
 * window) and 24 hourly buckets; the trend compares the last full hour (and
 * the current one, pro rata) with the hours before it:
 *   increasing  current rate > 1.5 x the average of the previous hours (and >= 3 errors),
 *   decreasing  current rate < 0.5 x that average,
 *   stable      otherwise (or too little history).
 * Bounds: at most max_patterns patterns, at most BM_PATTERN_WORKERS_MAX
 * worker names kept per pattern (the rest counted). A full table makes room
 * for a new pattern by evicting the one seen least recently when it has been
 * idle for max_idle (default 1 h; counted in evicted); when none has, the
 * error is refused (counted, its key kept as the last refused). Loads and
 * merges never evict: they refuse what does not fit.
 *
 * State (error_patterns_save / _load / _merge):
 *
 *   { "refused": uint, "started_us": µs | nil (no error yet),
 *     "rings_us": [10 s, 30 s, perf / 12, 1 h],        the rings' periods
 *     "patterns": [ { "key": str, "total": uint, "first_seen", "last_seen": µs,
 *                     "example": str, "workers": [str, ...]   (the listed ones),
 *                     "more": bin,   8-byte big-endian hashes of the workers not listed
 *                     "rings": [[period_no, count, period_no, count, ...] x 4] } ],
 *     "evicted": uint }   (absent in saves made before eviction: 0)
 *
 * period_no = floor(t / ring period): a ring slot is saved with its absolute
 * period, so it ages out after a load as it would have without one.
 * Merging adds refused, evicted, totals and the counts of equal periods (the newer period of
 * a ring slot wins, as when counting), takes the earliest first seen, the
 * latest last seen, the example of the pattern seen first (the first
 * non-empty one), and the union of the workers (listed while there is
 * room, the rest counted in workers_more by hash, as when counting).
 *
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
/* Idle patterns evicted to make room for new ones. */
uint64_t error_patterns_evicted(const error_patterns *p);
/* The key last refused ("" none), borrowed until the next refusal. */
const char *error_patterns_last_refused(const error_patterns *p);
/* Patterns idle this long may be evicted for a new one (0: never; default 1 h). */
void error_patterns_set_max_idle(error_patterns *p, int64_t max_idle_us);

/* Snapshot sorted by count over the performance window, descending. @return number written. */
size_t error_patterns_snapshot(const error_patterns *p, int64_t now_us, bm_error_pattern *out,
                               size_t max);

struct msgpack_packer;
struct msgpack_object;

/* Write the table (layout above). @return 0, or -1 (the packer's writer failed). */
int error_patterns_save(const error_patterns *p, struct msgpack_packer *pk);

/*
 * Replace every pattern with those saved in o (rings of the same periods,
 * else BM_LOAD_MISMATCH). Patterns past max_patterns are refused: their
 * errors (`total`) are counted in refused. @return 0, or a bm_load_status
 * (lib/state_codec.h) with the reason in err; p is unchanged then.
 */
int error_patterns_load(error_patterns *p, const struct msgpack_object *o, char *err,
                        size_t errlen);

/*
 * dst += src (rules above; dst != src, same configuration). A new pattern
 * that max_patterns refuses counts its errors in dst's refused, which also
 * gets src's. @return 0, or -1 (rings of other periods; out of memory:
 * dst holds part of src).
 */
int error_patterns_merge(error_patterns *dst, const error_patterns *src);

/* The group key of an error ("NetworkError" for type "NetworkError" or
 * message "NetworkError: Connection timeout"). Writes into buf. */
void error_patterns_key(const char *error_type, const char *message, char *buf, size_t n);

#endif
