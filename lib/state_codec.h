/*
 * state_codec.h - the msgpack helpers every stateful lib/ module uses to
 * save, load and check its state (histogram, window, worker_stats,
 * event_metrics, error_patterns, deadlines, alerts, monitor, checkpoint).
 *
 * Writing goes through a msgpack_packer (msgpack-c); reading works on the
 * msgpack_object tree msgpack-c unpacks, after bm_sc_scan has checked the
 * bytes, so a hostile length cannot make the unpacker allocate more than
 * the input justifies. Readers are silent: a failure is a bm_load_status
 * and a sentence in err (the module that understands it says where).
 *
 * Not here: what any module writes (each module's *_save documents its
 * layout; lib/checkpoint.h has the whole picture).
 *
 * Pure: no I/O, no clock.
 */
#ifndef BM_LIB_STATE_CODEC_H
#define BM_LIB_STATE_CODEC_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a *_load returns: 0, or why the state could not be loaded.
 *   CORRUPT   not the layout the module writes (a member missing, of the
 *             wrong type, out of range, or contradicting another one);
 *   MISMATCH  written by a state made with another configuration (a window
 *             of another shape): nothing wrong with the bytes;
 *   NOMEM     out of memory.
 */
typedef enum {
    BM_LOAD_OK = 0,
    BM_LOAD_CORRUPT = -1,
    BM_LOAD_MISMATCH = -2,
    BM_LOAD_NOMEM = -3,
} bm_load_status;

/*
 * Absolute times and durations in a state are accepted within
 * [-BM_SC_TIME_LIMIT, BM_SC_TIME_LIMIT] µs (±2^61, ±73,000 years): the
 * difference of two of them, or one plus a window, cannot overflow.
 */
#define BM_SC_TIME_LIMIT ((int64_t)1 << 61)

/* ---- writing: each @return 0, or -1 (the packer's writer failed) ------- */

/* A str (s may not be NULL). */
int bm_sc_str(msgpack_packer *pk, const char *s);
/* An integer, a real written as an integer when it is one exactly
 * (|v| < 2^63), else as a float64. Readers take either (bm_sc_as_f64). */
int bm_sc_real(msgpack_packer *pk, double v);
/* Key + value pairs of a map. */
int bm_sc_key_str(msgpack_packer *pk, const char *key, const char *v);
int bm_sc_key_i64(msgpack_packer *pk, const char *key, int64_t v);
int bm_sc_key_u64(msgpack_packer *pk, const char *key, uint64_t v);
int bm_sc_key_real(msgpack_packer *pk, const char *key, double v);
int bm_sc_key_bool(msgpack_packer *pk, const char *key, int v);
/* Only the key (a value follows). */
int bm_sc_key(msgpack_packer *pk, const char *key);

/* LEB128: v into p (10 bytes at most). @return the bytes written. */
size_t bm_sc_put_varint(uint8_t *p, uint64_t v);
/* One LEB128 value from [*p, end). @return 0 and advances *p, or -1
 * (truncated, or more than 64 bits). */
int bm_sc_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* ---- reading ---------------------------------------------------------- */

/* The value of `key` in map o, or NULL (absent, or o is not a map). */
const msgpack_object *bm_sc_get(const msgpack_object *o, const char *key);

/* Scalars. Each @return 0, or -1 (wrong type or out of range). */
int bm_sc_as_i64(const msgpack_object *o, int64_t *out);
int bm_sc_as_u64(const msgpack_object *o, uint64_t *out);
int bm_sc_as_u32(const msgpack_object *o, uint32_t *out);
/* An integer or a float (finite only). */
int bm_sc_as_f64(const msgpack_object *o, double *out);
/* A time / duration within ±BM_SC_TIME_LIMIT. */
int bm_sc_as_time(const msgpack_object *o, int64_t *out);
/* A str without NUL bytes that fits cap (with its NUL), copied. */
int bm_sc_as_str(const msgpack_object *o, char *buf, size_t cap);
/* Does str o equal s? */
int bm_sc_str_is(const msgpack_object *o, const char *s);

/*
 * Required members of map `o`: each @return 0 and the value, or
 * BM_LOAD_CORRUPT with "'key' missing" / "'key' is not ..." in err.
 */
int bm_sc_need_i64(const msgpack_object *o, const char *key, int64_t *out, char *err,
                   size_t errlen);
int bm_sc_need_u64(const msgpack_object *o, const char *key, uint64_t *out, char *err,
                   size_t errlen);
int bm_sc_need_u32(const msgpack_object *o, const char *key, uint32_t *out, char *err,
                   size_t errlen);
int bm_sc_need_f64(const msgpack_object *o, const char *key, double *out, char *err, size_t errlen);
int bm_sc_need_time(const msgpack_object *o, const char *key, int64_t *out, char *err,
                    size_t errlen);
int bm_sc_need_bool(const msgpack_object *o, const char *key, int *out, char *err, size_t errlen);
int bm_sc_need_str(const msgpack_object *o, const char *key, char *buf, size_t cap, char *err,
                   size_t errlen);
/* A member of msgpack type `type` (array, map, bin...). @return it, or NULL with err set. */
const msgpack_object *bm_sc_need(const msgpack_object *o, const char *key, msgpack_object_type type,
                                 char *err, size_t errlen);

/* Write a message into err (when not NULL). @return BM_LOAD_CORRUPT. */
int bm_sc_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put "<prefix>: " in front of the message already in err. */
void bm_sc_wrap(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- checking bytes before unpacking ------------------------------------ */

typedef enum {
    BM_SC_SCAN_OK = 0,
    BM_SC_SCAN_TRUNCATED, /* the bytes end inside an object */
    BM_SC_SCAN_CORRUPT,   /* an invalid type byte, or bytes after the object */
    BM_SC_SCAN_TOO_DEEP,  /* containers nested deeper than max_depth */
    BM_SC_SCAN_TOO_MANY,  /* more than max_objects objects */
} bm_sc_scan_status;

/*
 * Is data[0..len) exactly one complete msgpack object, nested at most
 * max_depth deep, of at most max_objects objects (every value, key and
 * container counts one)? Containers whose count exceeds the bytes left are
 * truncated. Iterative, allocation-free; every step consumes input. After
 * OK, msgpack_unpack_next allocates at most ~max_objects msgpack_objects.
 * *objects (when not NULL) gets the count seen.
 */
bm_sc_scan_status bm_sc_scan(const void *data, size_t len, unsigned max_depth, size_t max_objects,
                             size_t *objects);

#endif
