/*
 * parse.h - values as people write them in busmon's configuration: durations,
 * sizes, booleans, numbers. Pure functions (no allocation, no logging, no
 * state), shared by the config file, the environment, the flags and the sink
 * options, so "5s" or "10k" means the same thing wherever it is written.
 *
 * Durations: a number (fractions allowed) and a unit, "250ms", "5s", "1.5s",
 * "2m" (or "2min"), "1h", "1d" ("us", and the long names "seconds", ...,
 * work too); a bare number is in the caller's unit (a key named *_ms takes
 * milliseconds, *_seconds seconds, and so on).
 * Sizes: a whole number with an optional k (1000) or M (1000000) suffix.
 * Booleans: true/false, yes/no, on/off, 1/0 (YAML 1.1, any case).
 */
#ifndef BM_CORE_PARSE_H
#define BM_CORE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define BM_US_PER_MS  1000LL
#define BM_US_PER_S   1000000LL
#define BM_US_PER_MIN (60 * BM_US_PER_S)
#define BM_US_PER_H   (3600 * BM_US_PER_S)
#define BM_US_PER_DAY (86400 * BM_US_PER_S)

/* What a parser made of its text. */
typedef enum {
    BM_PARSE_OK = 0,
    BM_PARSE_BAD = -1,      /* not a value of the kind asked for */
    BM_PARSE_NEGATIVE = -2, /* a duration below zero */
} bm_parse_result;

/*
 * A duration into microseconds, rounded to the nearest. `bare_unit_us` is
 * the unit of a number written without one (BM_US_PER_S for seconds).
 * Bounds are the caller's; longer than about 100 years is refused as BAD.
 * @return BM_PARSE_OK with *out set, BM_PARSE_NEGATIVE ("-5m"), or
 * BM_PARSE_BAD (anything else, NULL or "" included).
 */
int bm_parse_duration_us(const char *s, int64_t bare_unit_us, int64_t *out);

/* The unit called `name` ("ms", "s", "m", "min", "h", "d", "us", or
 * "seconds", "minutes", ...). @return its length in µs, or 0 (no such unit). */
int64_t bm_duration_unit_us(const char *name);

/* @return the long name of a unit ("seconds" for BM_US_PER_S); "seconds" for none. */
const char *bm_duration_unit_name(int64_t us);

/*
 * The same in whole seconds (a bare number is seconds), for callers that
 * keep seconds. @return 0 with *out set, or -1 (bad or negative).
 */
int bm_parse_duration_s(const char *s, int64_t *out);

/*
 * A whole number, not negative, with an optional k / K (x1000) or M
 * (x1000000) suffix: "1000", "10k", "2M".
 * @return 0 with *out set, or -1 (not such a number, or too large).
 */
int bm_parse_size(const char *s, size_t *out);

/* A YAML 1.1 boolean in any case. @return 0 with *out 0 or 1, or -1. */
int bm_parse_bool(const char *s, int *out);

/*
 * A finite decimal number, the whole text ("0.1", "1e5", "-3"; not "nan",
 * "inf" or hex). @return 0 with *out set, or -1.
 */
int bm_parse_decimal(const char *s, double *out);

/*
 * A Redis key, stream, channel or pattern name as busmon takes them:
 * 1-256 bytes, no spaces, and an identity (bm_identity_check: valid UTF-8,
 * no control characters), so it can be shown in JSON and on /metrics.
 * @return 1 when `s` is one, else 0.
 */
int bm_is_key_name(const char *s);

/*
 * A duration written back in the largest unit that holds it exactly
 * ("250ms", "10s", "1.5s" is "1500ms", "1d", "1500us"; 0 is "0s").
 * @return `buf`.
 */
char *bm_format_duration_us(int64_t us, char *buf, size_t len);

#endif
