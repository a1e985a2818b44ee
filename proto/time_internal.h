/*
 * time_internal.h - numeric time conversions shared by proto/ decoders (and
 * the ISO formatter, by proto/ encoders and lib/trace_index.c's summaries).
 *
 * bm_parse_time (event.h) reads text; these read numbers that arrive already
 * typed (msgpack ints and floats, JSON numbers) with the same magnitude rule:
 * >= 1e17 ns, >= 1e14 µs, >= 1e11 ms, else seconds.
 */
#ifndef BM_PROTO_TIME_INTERNAL_H
#define BM_PROTO_TIME_INTERNAL_H

#include <stdint.h>

/* @return 0 and *ts_us, or -1 when negative, not finite or out of range. */
int bm_time_from_int(int64_t v, int64_t *ts_us);
int bm_time_from_uint(uint64_t v, int64_t *ts_us);
int bm_time_from_double(double v, int64_t *ts_us);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t bm_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The latest time an event may carry: 9999-12-31T23:59:59.999999Z. Later
 * values are refused (bad_field) so every accepted time can be written back
 * as ISO-8601. */
#define BM_TIME_MAX_US 253402300799999999LL

/* Format 0 <= ts_us <= BM_TIME_MAX_US as "YYYY-MM-DDThh:mm:ss.ffffffZ".
 * @return the length written (27), or -1 when out of range. */
int bm_format_time_iso(int64_t ts_us, char out[32]);

#endif
