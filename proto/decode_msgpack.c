/*
 * decode_msgpack.c - an event as one msgpack map (busmon's native form, and
 * the stored trace record written by encode.c).
 *
 * The reader is a small cursor over the buffer rather than msgpack-c's
 * object unpacker: it allocates nothing, its strings point into the input,
 * and it knows where each value starts and ends (the payload is measured as
 * the bytes it spans). It makes two passes: one to check that the buffer is
 * exactly one complete object (truncated or trailing bytes -> not_msgpack),
 * one to read the map's keys. Skipping is iterative (a count of objects still
 * to skip), so deep nesting costs no stack and every step consumes input.
 *
 *   fixmap(n)    key      value     key      value
 *   +--------+ +-------+ +------+ +-------+ +-------------------+
 *   | 0x8n   | | a2 tx | | a4 t-1 | ...   | | de ...  map16 ... |
 *   +--------+ +-------+ +------+ +-------+ +-------------------+
 *
 * Not here: the key table and rules (event_fill.c).
 */
#include "proto/event_internal.h"

#include <string.h>

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} mp_cursor;

static int need(const mp_cursor *c, size_t n)
{
    return (size_t)(c->end - c->p) >= n ? 0 : -1;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read one value's header; scalars (str, bin, ext included) are consumed
 * whole, a map or array leaves its *count elements (pairs for maps) behind.
 * @return 0, or -1 on truncated or invalid input. */
static int mp_read(mp_cursor *c, bm_value *v, uint32_t *count)
{
    memset(v, 0, sizeof(*v));
    *count = 0;
    if (need(c, 1) < 0) return -1;
    uint8_t t = *c->p++;
    size_t body = 0; /* bytes of str/bin/ext data that follow the header */
    int is_str = 0;

    if (t <= 0x7f) {
        v->kind = BM_V_INT;
        v->i = t;
        return 0;
    }
    if (t >= 0xe0) {
        v->kind = BM_V_INT;
        v->i = (int8_t)t;
        return 0;
    }
    if (t <= 0x8f || (t >= 0x90 && t <= 0x9f)) {
        v->kind = t <= 0x8f ? BM_V_MAP : BM_V_ARRAY;
        *count = t & 0x0f;
        return 0;
    }
    if (t >= 0xa0 && t <= 0xbf) {
        body = t & 0x1f;
        is_str = 1;
    } else {
        switch (t) {
        case 0xc0:
            v->kind = BM_V_NIL;
            return 0;
        case 0xc2:
        case 0xc3:
            v->kind = BM_V_BOOL;
            v->b = t == 0xc3;
            return 0;
        case 0xc4: /* bin 8/16/32: read as text, as old producers send strings */
        case 0xd9: /* str 8/16/32 */
        case 0xc5:
        case 0xda:
        case 0xc6:
        case 0xdb: {
            int n = (t == 0xc4 || t == 0xd9) ? 1 : (t == 0xc5 || t == 0xda) ? 2 : 4;
            if (need(c, (size_t)n) < 0) return -1;
            body = (size_t)be(c->p, n);
            c->p += n;
            is_str = 1;
            break;
        }
        case 0xc7: /* ext 8/16/32: a length, a type byte, data; ignored */
        case 0xc8:
        case 0xc9: {
            int n = t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4;
            if (need(c, (size_t)n + 1) < 0) return -1;
            body = (size_t)be(c->p, n) + 1;
            c->p += n;
            v->kind = BM_V_NIL;
            break;
        }
        case 0xd4: /* fixext 1/2/4/8/16 */
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            body = 1 + ((size_t)1 << (t - 0xd4));
            v->kind = BM_V_NIL;
            break;
        case 0xca:
        case 0xcb: {
            int n = t == 0xca ? 4 : 8;
            if (need(c, (size_t)n) < 0) return -1;
            uint64_t bits = be(c->p, n);
            c->p += n;
            v->kind = BM_V_FLOAT;
            if (n == 4) {
                uint32_t b32 = (uint32_t)bits;
                float f;
                memcpy(&f, &b32, 4);
                v->f = f;
            } else {
                memcpy(&v->f, &bits, 8);
            }
            return 0;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf: {
            int n = 1 << (t - 0xcc);
            if (need(c, (size_t)n) < 0) return -1;
            uint64_t u = be(c->p, n);
            c->p += n;
            if (u > (uint64_t)INT64_MAX) {
                v->kind = BM_V_UINT;
                v->u = u;
            } else {
                v->kind = BM_V_INT;
                v->i = (int64_t)u;
            }
            return 0;
        }
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            int n = 1 << (t - 0xd0);
            if (need(c, (size_t)n) < 0) return -1;
            uint64_t u = be(c->p, n);
            c->p += n;
            v->kind = BM_V_INT;
            if (n == 1)
                v->i = (int8_t)u;
            else if (n == 2)
                v->i = (int16_t)u;
            else if (n == 4)
                v->i = (int32_t)u;
            else
                v->i = (int64_t)u;
            return 0;
        }
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
            int n = (t == 0xdc || t == 0xde) ? 2 : 4;
            if (need(c, (size_t)n) < 0) return -1;
            *count = (uint32_t)be(c->p, n);
            c->p += n;
            v->kind = t <= 0xdd ? BM_V_ARRAY : BM_V_MAP;
            return 0;
        }
        default: /* 0xc1: never used */
            return -1;
        }
    }
    if (need(c, body) < 0) return -1;
    if (is_str) {
        v->kind = BM_V_STR;
        v->str = (const char *)c->p;
        v->len = body;
    }
    c->p += body;
    return 0;
}

/* Skip `pending` whole objects. Each one consumes at least a byte, so the
 * loop ends with the input however large the counts claim to be. */
static int mp_skip(mp_cursor *c, uint64_t pending)
{
    while (pending > 0) {
        bm_value v;
        uint32_t count;
        if (mp_read(c, &v, &count) < 0) return -1;
        pending--;
        if (v.kind == BM_V_MAP)
            pending += 2 * (uint64_t)count;
        else if (v.kind == BM_V_ARRAY)
            pending += count;
    }
    return 0;
}

static uint64_t children(const bm_value *v, uint32_t count)
{
    return v->kind == BM_V_MAP ? 2 * (uint64_t)count : v->kind == BM_V_ARRAY ? count : 0;
}

/* Read `pairs` key/value pairs of a map already known to be well formed. */
static bm_decode_status walk(bm_evb *b, mp_cursor *c, uint32_t pairs, bm_scope scope)
{
    for (uint32_t i = 0; i < pairs; i++) {
        bm_value key, v;
        uint32_t count;
        if (mp_read(c, &key, &count) < 0 || mp_skip(c, children(&key, count)) < 0)
            return BM_DECODE_NOT_MSGPACK;
        const uint8_t *start = c->p;
        if (mp_read(c, &v, &count) < 0) return BM_DECODE_NOT_MSGPACK;
        if (key.kind != BM_V_STR) {
            if (mp_skip(c, children(&v, count)) < 0) return BM_DECODE_NOT_MSGPACK;
            continue;
        }
        int rank = 0;
        bm_field f;
        bm_scope sub;
        bm_decode_status st = BM_DECODE_OK;
        bm_plan plan = bm_key_plan(scope, key.str, key.len, v.kind, &f, &rank, &sub);
        if (plan == BM_PLAN_DESCEND) {
            st = walk(b, c, count, sub);
        } else {
            if (mp_skip(c, children(&v, count)) < 0) return BM_DECODE_NOT_MSGPACK;
            if (plan == BM_PLAN_PAYLOAD)
                bm_evb_set_payload(b, (uint64_t)(c->p - start), rank);
            else if (plan == BM_PLAN_COLLECT)
                bm_evb_collect(b, scope, key.str, key.len, &v);
            else if (plan == BM_PLAN_FIELD)
                st = bm_evb_set(b, f, rank, &v);
        }
        if (st != BM_DECODE_OK) return st;
    }
    return BM_DECODE_OK;
}

/*
 * `buf` is borrowed. It must hold exactly one msgpack object, and that
 * object must be a map.
 */
bm_decode_status bm_decode_msgpack(bm_decoder *d, const char *buf, size_t len, bm_event *ev)
{
    bm_event_reset(ev);
    d->detail[0] = '\0';
    if (!buf || len == 0) return BM_DECODE_EMPTY;
    if (len > bm_limit_entry(d)) return BM_DECODE_OVERSIZED;

    mp_cursor c = {(const uint8_t *)buf, (const uint8_t *)buf + len};
    mp_cursor check = c;
    if (mp_skip(&check, 1) < 0 || check.p != check.end) return BM_DECODE_NOT_MSGPACK;

    bm_value top;
    uint32_t pairs;
    if (mp_read(&c, &top, &pairs) < 0) return BM_DECODE_NOT_MSGPACK;
    if (top.kind != BM_V_MAP) return BM_DECODE_NOT_MAP;

    bm_evb b;
    bm_evb_init(&b);
    b.max_attr_key = bm_limit_string(d);
    bm_decode_status st = walk(&b, &c, pairs, BM_SCOPE_TOP);
    if (st != BM_DECODE_OK) return st;
    return bm_evb_finish(d, &b, ev);
}
