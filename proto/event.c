/*
 * event.c - the decoder object, the stable names, and per-entry detection.
 *
 * A stream entry arrives as field/value pairs. bm_decode_entry checks the
 * size bound first (nothing is parsed in an oversized entry), then picks the
 * encoding from the field names and hands the entry to decode_msgpack.c,
 * decode_json.c or decode_flat.c. All three fill the event through the
 * builder in event_fill.c, so the rules of DESIGN §2 are the same whatever
 * the encoding.
 *
 * Not here: the syntax of any one encoding; the key table (event_fill.c).
 */
#include "proto/event_internal.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[BM_DECODE__COUNT] = {
    [BM_DECODE_OK] = "ok",
    [BM_DECODE_EMPTY] = "empty",
    [BM_DECODE_OVERSIZED] = "oversized",
    [BM_DECODE_NOT_MSGPACK] = "not_msgpack",
    [BM_DECODE_NOT_MAP] = "msgpack_not_map",
    [BM_DECODE_NOT_JSON] = "not_json",
    [BM_DECODE_JSON_NOT_OBJECT] = "json_not_object",
    [BM_DECODE_MISSING_TYPE] = "missing_type",
    [BM_DECODE_UNKNOWN_TYPE] = "unknown_type",
    [BM_DECODE_MISSING_TX] = "missing_tx",
    [BM_DECODE_MISSING_WORKER] = "missing_worker",
    [BM_DECODE_BAD_FIELD] = "bad_field",
    [BM_DECODE_BAD_ID] = "bad_id",
    [BM_DECODE_NOMEM] = "nomem",
};

/* @return the stable name, or "unknown" for a value outside the enum. */
const char *bm_decode_status_name(bm_decode_status st)
{
    if ((unsigned)st >= BM_DECODE__COUNT) return "unknown";
    return status_names[st];
}

static const char *const type_names[BM_EV__COUNT] = {
    [BM_EV_COMMAND] = "command",
    [BM_EV_RESULT] = "result",
    [BM_EV_ERROR] = "error",
    [BM_EV_STATUS] = "status",
    [BM_EV_COMPENSATION] = "compensation",
    [BM_EV_CUSTOM] = "custom",
};

/* @return the lower-case name, or "unknown" for a value outside the enum. */
int bm_error_text(const char *type, const char *message, char *buf, size_t n)
{
    if (!type) type = "";
    if (!message) message = "";
    size_t tl = strlen(type);
    if (tl && !strncmp(message, type, tl) && message[tl] == ':') {
        message += tl + 1;
        while (*message == ' ')
            message++;
    }
    return snprintf(buf, n, "%s%s%s", type, tl && *message ? ": " : "", message);
}

const char *bm_event_type_name(bm_event_type t)
{
    if ((unsigned)t >= BM_EV__COUNT) return "unknown";
    return type_names[t];
}

/* The limits are copied; the scratch arena starts empty and grows on use. */
bm_decoder *bm_decoder_new(const bm_decode_limits *limits)
{
    bm_decoder *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    if (limits) d->limits = *limits;
    if (d->limits.max_id_bytes == 0) d->limits.max_id_bytes = BM_DEFAULT_MAX_ID_BYTES;
    if (d->limits.max_id_bytes > BM_ID_MAX) d->limits.max_id_bytes = BM_ID_MAX;
    return d;
}

const char *bm_decoder_detail(const bm_decoder *d, bm_decode_status st)
{
    return d && d->detail[0] ? d->detail : bm_decode_status_detail(st);
}

/* Frees the decoder and its arena: every event it filled becomes invalid. */
void bm_decoder_free(bm_decoder *d)
{
    if (!d) return;
    free(d->scratch);
    bm_json_work_free(d->json);
    free(d);
}

static int field_is(const char *f, size_t n, const char *name)
{
    size_t len = strlen(name);
    return n == len && memcmp(f, name, len) == 0;
}

bm_decode_status bm_decode_entry(bm_decoder *d, size_t n, const char *const *fields,
                                 const size_t *field_lens, const char *const *values,
                                 const size_t *value_lens, bm_event *ev)
{
    bm_event_reset(ev);
    d->detail[0] = '\0';
    if (n == 0) return BM_DECODE_EMPTY;

    const size_t max_entry = bm_limit_entry(d);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += field_lens[i];
        if (total > max_entry || value_lens[i] > max_entry - total) return BM_DECODE_OVERSIZED;
        total += value_lens[i];
    }

    /* msgpack wins over JSON, JSON over flat fields, whatever the order */
    size_t json_at = n;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i];
        size_t fl = field_lens[i];
        if (field_is(f, fl, "m") || field_is(f, fl, "msgpack"))
            return bm_decode_msgpack(d, values[i], value_lens[i], ev);
        if (json_at == n && (field_is(f, fl, "json") || field_is(f, fl, "data") ||
                             field_is(f, fl, "event") || field_is(f, fl, "envelope")))
            json_at = i;
    }
    if (json_at < n) return bm_decode_json(d, values[json_at], value_lens[json_at], ev);
    return bm_decode_flat(d, n, fields, field_lens, values, value_lens, ev);
}

/* "[ws][+-]digits[.digits][e[+-]digits][ws]", independent of the locale. */
int bm_parse_number(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
    uint64_t mant = 0;
    int exp10 = 0, ndigits = 0, sig = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, ndigits++) {
        if (sig < 19) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            if (mant) sig++;
        } else {
            exp10++;
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, ndigits++) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                exp10--;
                if (mant) sig++;
            }
        }
    }
    if (ndigits == 0) return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0, edigits = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++, edigits++)
            if (e < 10000) e = e * 10 + (*p - '0');
        if (edigits == 0) return -1;
        exp10 += eneg ? -e : e;
    }
    if (p != end) return -1;
    double v = (double)mant;
    if (exp10 > 0)
        v *= pow(10.0, exp10);
    else if (exp10 < 0)
        v /= pow(10.0, -exp10);
    if (!isfinite(v)) return -1;
    *out = neg ? -v : v;
    return 0;
}

const char *bm_decode_status_detail(bm_decode_status st)
{
    switch (st) {
    case BM_DECODE_EMPTY: return "the entry has no fields";
    case BM_DECODE_OVERSIZED: return "the entry is larger than streams.max_entry_bytes";
    case BM_DECODE_NOT_MSGPACK: return "field m is not one complete msgpack object";
    case BM_DECODE_NOT_MAP: return "field m is msgpack but not a map";
    case BM_DECODE_NOT_JSON: return "the JSON field does not parse";
    case BM_DECODE_JSON_NOT_OBJECT: return "the JSON field is not an object";
    case BM_DECODE_MISSING_TYPE: return "no event type (type / event_type)";
    case BM_DECODE_UNKNOWN_TYPE:
        return "the event type is not command, result, error, status, compensation or custom";
    case BM_DECODE_MISSING_TX:
        return "no transaction id (tx / transaction_id / metadata.transaction_id)";
    case BM_DECODE_MISSING_WORKER: return "no worker (worker / worker_name / worker_type)";
    case BM_DECODE_BAD_FIELD: return "a known key has an unusable value (a time, a flag, a number)";
    case BM_DECODE_BAD_ID:
        return "an id or name holds a NUL byte, a control character or invalid UTF-8, or is "
               "longer than max_id_bytes";
    case BM_DECODE_NOMEM: return "out of memory while decoding";
    default: return "unusable entry";
    }
}
