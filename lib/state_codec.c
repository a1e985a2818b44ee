/*
 * state_codec.c - msgpack helpers for the save / load of lib/'s state
 * (lib/state_codec.h).
 *
 * Not here: any module's layout. The scanner below is the only code that
 * reads raw bytes; everything else reads msgpack-c's object tree.
 *
 * The scanner keeps, per open container, how many objects it still owes
 * (a map owes two per pair), in a fixed stack of max_depth entries:
 *
 *   [ 1 ]            top level: one object
 *   [ 0 | 5 ]        inside a map of which 5 keys/values are still to come
 *   [ 0 | 4 | 3 ]    ... inside an array of 3 more elements, and so on
 *
 * A container announcing more elements than bytes remain is truncated (each
 * element takes at least one byte), which is what bounds msgpack-c's
 * allocation: it reserves count x sizeof(msgpack_object) per container.
 */
#include "lib/state_codec.h"

#include "proto/rollup.h"

#include "../proto/rollup.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SCAN_DEPTH_CAP 64 /* the scanner's own stack; max_depth above it is cut to it */

/* ---- writing ------------------------------------------------------------ */

int bm_sc_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return (msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n)) ? -1 : 0;
}

int bm_sc_real(msgpack_packer *pk, double v)
{
    /* 2^63 is exact as a double; every integral double below it fits int64 */
    if (v == floor(v) && v > -9223372036854775808.0 && v < 9223372036854775808.0 &&
        !(v == 0 && signbit(v)))
        return msgpack_pack_int64(pk, (int64_t)v) ? -1 : 0;
    return msgpack_pack_double(pk, v) ? -1 : 0;
}

int bm_sc_key(msgpack_packer *pk, const char *key)
{
    return bm_sc_str(pk, key);
}

int bm_sc_key_str(msgpack_packer *pk, const char *key, const char *v)
{
    return (bm_sc_str(pk, key) | bm_sc_str(pk, v)) ? -1 : 0;
}

int bm_sc_key_i64(msgpack_packer *pk, const char *key, int64_t v)
{
    return (bm_sc_str(pk, key) | msgpack_pack_int64(pk, v)) ? -1 : 0;
}

int bm_sc_key_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    return (bm_sc_str(pk, key) | msgpack_pack_uint64(pk, v)) ? -1 : 0;
}

int bm_sc_key_real(msgpack_packer *pk, const char *key, double v)
{
    return (bm_sc_str(pk, key) | bm_sc_real(pk, v)) ? -1 : 0;
}

int bm_sc_key_bool(msgpack_packer *pk, const char *key, int v)
{
    return (bm_sc_str(pk, key) | (v ? msgpack_pack_true(pk) : msgpack_pack_false(pk))) ? -1 : 0;
}

size_t bm_sc_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v);
    return n;
}

int bm_sc_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && (b & 0x7e)) return -1; /* past 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* ---- reading ------------------------------------------------------------ */

const msgpack_object *bm_sc_get(const msgpack_object *o, const char *key)
{
    return bm_msgpack_map_get(o, key);
}

int bm_sc_as_i64(const msgpack_object *o, int64_t *out)
{
    if (!o) return -1;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -1;
}

int bm_sc_as_u64(const msgpack_object *o, uint64_t *out)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *out = o->via.u64;
    return 0;
}

int bm_sc_as_u32(const msgpack_object *o, uint32_t *out)
{
    uint64_t v;
    if (bm_sc_as_u64(o, &v) || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int bm_sc_as_f64(const msgpack_object *o, double *out)
{
    int64_t i;
    if (!o) return -1;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
        if (!isfinite(o->via.f64)) return -1;
        *out = o->via.f64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *out = (double)o->via.u64;
        return 0;
    }
    if (bm_sc_as_i64(o, &i)) return -1;
    *out = (double)i;
    return 0;
}

int bm_sc_as_time(const msgpack_object *o, int64_t *out)
{
    int64_t v;
    if (bm_sc_as_i64(o, &v) || v < -BM_SC_TIME_LIMIT || v > BM_SC_TIME_LIMIT) return -1;
    *out = v;
    return 0;
}

int bm_sc_as_str(const msgpack_object *o, char *buf, size_t cap)
{
    if (!o || o->type != MSGPACK_OBJECT_STR || cap == 0) return -1;
    size_t n = o->via.str.size;
    if (n >= cap || (n && memchr(o->via.str.ptr, '\0', n))) return -1;
    if (n) memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    return 0;
}

int bm_sc_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
}

int bm_sc_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return BM_LOAD_CORRUPT;
}

void bm_sc_wrap(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    char prefix[160], old[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", err);
    snprintf(err, errlen, "%s: %s", prefix, old);
}

static int missing_or(const msgpack_object *v, const char *key, const char *what, char *err,
                      size_t errlen)
{
    if (!v) return bm_sc_fail(err, errlen, "'%s' missing", key);
    return bm_sc_fail(err, errlen, "'%s' is not %s", key, what);
}

int bm_sc_need_i64(const msgpack_object *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    return bm_sc_as_i64(v, out) ? missing_or(v, key, "an integer", err, errlen) : 0;
}

int bm_sc_need_u64(const msgpack_object *o, const char *key, uint64_t *out, char *err,
                   size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    return bm_sc_as_u64(v, out) ? missing_or(v, key, "an integer >= 0", err, errlen) : 0;
}

int bm_sc_need_u32(const msgpack_object *o, const char *key, uint32_t *out, char *err,
                   size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    return bm_sc_as_u32(v, out) ? missing_or(v, key, "an integer 0..2^32-1", err, errlen) : 0;
}

int bm_sc_need_f64(const msgpack_object *o, const char *key, double *out, char *err, size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    return bm_sc_as_f64(v, out) ? missing_or(v, key, "a finite number", err, errlen) : 0;
}

int bm_sc_need_time(const msgpack_object *o, const char *key, int64_t *out, char *err,
                    size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    return bm_sc_as_time(v, out) ? missing_or(v, key, "a time in µs (|t| <= 2^61)", err, errlen)
                                 : 0;
}

int bm_sc_need_bool(const msgpack_object *o, const char *key, int *out, char *err, size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    if (!v || v->type != MSGPACK_OBJECT_BOOLEAN)
        return missing_or(v, key, "a boolean", err, errlen);
    *out = v->via.boolean ? 1 : 0;
    return 0;
}

int bm_sc_need_str(const msgpack_object *o, const char *key, char *buf, size_t cap, char *err,
                   size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    if (bm_sc_as_str(v, buf, cap) == 0) return 0;
    if (!v) return missing_or(v, key, "", err, errlen);
    return bm_sc_fail(err, errlen, "'%s' is not a string of at most %zu bytes without NUL", key,
                      cap - 1);
}

static const char *type_word(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "a bin";
    case MSGPACK_OBJECT_STR:
        return "a string";
    default:
        return "of the right type";
    }
}

const msgpack_object *bm_sc_need(const msgpack_object *o, const char *key, msgpack_object_type type,
                                 char *err, size_t errlen)
{
    const msgpack_object *v = bm_sc_get(o, key);
    if (v && v->type == type) return v;
    missing_or(v, key, type_word(type), err, errlen);
    return NULL;
}

/* ---- scanning ------------------------------------------------------------ */

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/*
 * One object's header at *p: *skip = payload bytes that follow it (str,
 * bin, ext, numbers), *elems = objects it contains (arrays: n, maps: 2n).
 * @return 0, or a scan status.
 */
static bm_sc_scan_status header(const uint8_t **p, const uint8_t *end, uint64_t *skip,
                                uint64_t *elems)
{
    *skip = *elems = 0;
    uint8_t t = *(*p)++;
    unsigned lenb = 0; /* bytes of a length field */
    int kind = 0;      /* 0 scalar, 1 str/bin (length = payload), 2 ext (+1 type), 3 array, 4 map */
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return BM_SC_SCAN_OK;
    if (t <= 0x8f) {
        *elems = 2u * (t & 0x0f);
        return BM_SC_SCAN_OK;
    }
    if (t <= 0x9f) {
        *elems = t & 0x0f;
        return BM_SC_SCAN_OK;
    }
    if (t <= 0xbf) {
        *skip = t & 0x1f;
        return BM_SC_SCAN_OK;
    }
    switch (t) {
    case 0xc4:
    case 0xd9:
        lenb = 1;
        kind = 1;
        break;
    case 0xc5:
    case 0xda:
        lenb = 2;
        kind = 1;
        break;
    case 0xc6:
    case 0xdb:
        lenb = 4;
        kind = 1;
        break;
    case 0xc7:
        lenb = 1;
        kind = 2;
        break;
    case 0xc8:
        lenb = 2;
        kind = 2;
        break;
    case 0xc9:
        lenb = 4;
        kind = 2;
        break;
    case 0xca:
        *skip = 4;
        return BM_SC_SCAN_OK;
    case 0xcb:
        *skip = 8;
        return BM_SC_SCAN_OK;
    case 0xcc:
    case 0xd0:
        *skip = 1;
        return BM_SC_SCAN_OK;
    case 0xcd:
    case 0xd1:
        *skip = 2;
        return BM_SC_SCAN_OK;
    case 0xce:
    case 0xd2:
        *skip = 4;
        return BM_SC_SCAN_OK;
    case 0xcf:
    case 0xd3:
        *skip = 8;
        return BM_SC_SCAN_OK;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        *skip = 1 + ((uint64_t)1 << (t - 0xd4));
        return BM_SC_SCAN_OK;
    case 0xdc:
        lenb = 2;
        kind = 3;
        break;
    case 0xdd:
        lenb = 4;
        kind = 3;
        break;
    case 0xde:
        lenb = 2;
        kind = 4;
        break;
    case 0xdf:
        lenb = 4;
        kind = 4;
        break;
    default: /* 0xc1: never used */
        return BM_SC_SCAN_CORRUPT;
    }
    if ((size_t)(end - *p) < lenb) return BM_SC_SCAN_TRUNCATED;
    uint64_t n = be(*p, lenb);
    *p += lenb;
    if (kind == 1)
        *skip = n;
    else if (kind == 2)
        *skip = n + 1;
    else if (kind == 3)
        *elems = n;
    else
        *elems = 2 * n;
    return BM_SC_SCAN_OK;
}

bm_sc_scan_status bm_sc_scan(const void *data, size_t len, unsigned max_depth, size_t max_objects,
                             size_t *objects)
{
    uint64_t owed[SCAN_DEPTH_CAP + 1];
    if (max_depth > SCAN_DEPTH_CAP) max_depth = SCAN_DEPTH_CAP;
    const uint8_t *p = data, *end = p + len;
    unsigned top = 0;
    size_t seen = 0;
    bm_sc_scan_status st = BM_SC_SCAN_OK;
    owed[0] = 1;
    for (;;) {
        if (owed[top] == 0) {
            if (top == 0) break;
            top--;
            continue;
        }
        owed[top]--;
        if (p >= end) {
            st = BM_SC_SCAN_TRUNCATED;
            break;
        }
        if (++seen > max_objects) {
            st = BM_SC_SCAN_TOO_MANY;
            break;
        }
        uint64_t skip, elems;
        st = header(&p, end, &skip, &elems);
        if (st != BM_SC_SCAN_OK) break;
        if (skip > (uint64_t)(end - p)) {
            st = BM_SC_SCAN_TRUNCATED;
            break;
        }
        p += skip;
        if (elems == 0) continue;
        if (elems > (uint64_t)(end - p)) {
            st = BM_SC_SCAN_TRUNCATED;
            break;
        }
        if (top + 1 > max_depth) {
            st = BM_SC_SCAN_TOO_DEEP;
            break;
        }
        owed[++top] = elems;
    }
    if (st == BM_SC_SCAN_OK && p != end) st = BM_SC_SCAN_CORRUPT;
    if (objects) *objects = seen;
    return st;
}
