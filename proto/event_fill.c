/*
 * event_fill.c - the encoding-independent half of decoding: what each key
 * means, how aliases rank, how values convert, what is required.
 *
 * Every decoder feeds the same builder (bm_evb, see event_internal.h), so a
 * key means the same thing in msgpack, JSON and flat fields, and the rules of
 * proto/README.md (§1 keys, §2 time, §6 unusable entries) live in one place:
 *
 *   - alias ranks: `tx` (0) beats `transaction_id` (1) beats
 *     `metadata.transaction_id` (2); the best-ranked present key wins
 *     whatever the order of the keys;
 *   - numbers and times are converted when offered (bad ones -> bad_field);
 *   - strings stay references into the input until bm_evb_finish() copies
 *     the kept ones into the decoder's scratch arena, sized in one step, so
 *     a decode does at most one (grow-only) allocation of its own.
 *
 * Not here: the syntax of any encoding, and what an event means for a trace.
 */
#include "proto/event_internal.h"
#include "proto/time_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- key table ---------------------------------------------------------- */

typedef struct {
    bm_scope scope;
    const char *name;
    uint8_t len;
    bm_field field;
    uint8_t rank;
} bm_key_def;

#define K(scope, name, field, rank)                                                                \
    {                                                                                              \
        scope, name, sizeof(name) - 1, field, rank                                                 \
    }

/* Native keys first (rank 0), then the aliases, weaker as the rank grows. */
static const bm_key_def key_defs[] = {
    K(BM_SCOPE_TOP, "id", BM_F_ID, 0),
    K(BM_SCOPE_TOP, "type", BM_F_TYPE, 0),
    K(BM_SCOPE_TOP, "event_type", BM_F_TYPE, 1),
    K(BM_SCOPE_TOP, "tx", BM_F_TX, 0),
    K(BM_SCOPE_TOP, "transaction_id", BM_F_TX, 1),
    K(BM_SCOPE_TOP, "corr", BM_F_CORR, 0),
    K(BM_SCOPE_TOP, "correlation_id", BM_F_CORR, 1),
    K(BM_SCOPE_TOP, "cmd", BM_F_CMD, 0),
    K(BM_SCOPE_TOP, "command_id", BM_F_CMD, 1),
    K(BM_SCOPE_TOP, "ok", BM_F_OK, 0),
    K(BM_SCOPE_TOP, "success", BM_F_OK, 1),
    K(BM_SCOPE_TOP, "worker", BM_F_WORKER, 0),
    K(BM_SCOPE_TOP, "worker_name", BM_F_WORKER, 1),
    K(BM_SCOPE_TOP, "worker_type", BM_F_WORKER, 2),
    K(BM_SCOPE_TOP, "step", BM_F_STEP, 0),
    K(BM_SCOPE_TOP, "command", BM_F_STEP, 1),
    K(BM_SCOPE_TOP, "action", BM_F_STEP, 2),
    K(BM_SCOPE_TOP, "source", BM_F_SOURCE, 0),
    K(BM_SCOPE_TOP, "ts", BM_F_TS, 0),
    K(BM_SCOPE_TOP, "timestamp", BM_F_TS, 1),
    K(BM_SCOPE_TOP, "duration_ms", BM_F_DURATION_MS, 0),
    K(BM_SCOPE_TOP, "execution_time_ms", BM_F_DURATION_MS, 1),
    K(BM_SCOPE_TOP, "error", BM_F_ERROR, 0),
    K(BM_SCOPE_TOP, "error_type", BM_F_ERROR_TYPE, 1),
    K(BM_SCOPE_TOP, "error_message", BM_F_ERROR_MESSAGE, 1),
    K(BM_SCOPE_TOP, "error_details", BM_F_ERROR_DETAILS, 0),
    K(BM_SCOPE_TOP, "error_code", BM_F_ERROR_TYPE, 3),
    K(BM_SCOPE_TOP, "status", BM_F_STATUS, 0),
    K(BM_SCOPE_TOP, "progress", BM_F_PROGRESS, 0),
    K(BM_SCOPE_TOP, "message", BM_F_MESSAGE, 0),
    K(BM_SCOPE_TOP, "timeout_seconds", BM_F_TIMEOUT_S, 0),
    K(BM_SCOPE_TOP, "attempt", BM_F_ATTEMPT, 0),
    K(BM_SCOPE_TOP, "retry_count", BM_F_ATTEMPT, 1),
    K(BM_SCOPE_TOP, "priority", BM_F_PRIORITY, 0),
    K(BM_SCOPE_TOP, "payload", BM_F_PAYLOAD, 0),
    K(BM_SCOPE_TOP, "payload_bytes", BM_F_PAYLOAD_BYTES, 1),
    K(BM_SCOPE_TOP, "metadata", BM_F_METADATA, 0),
    K(BM_SCOPE_TOP, "attrs", BM_F_ATTRS, 0),
    K(BM_SCOPE_TOP, "name", BM_F_METRIC_NAME, 0),
    K(BM_SCOPE_TOP, "metric", BM_F_METRIC_NAME, 1),
    K(BM_SCOPE_TOP, "metric_name", BM_F_METRIC_NAME, 1),
    K(BM_SCOPE_TOP, "value", BM_F_METRIC_VALUE, 0),
    K(BM_SCOPE_TOP, "metric_value", BM_F_METRIC_VALUE, 1),
    K(BM_SCOPE_TOP, "kind", BM_F_METRIC_KIND, 0),
    K(BM_SCOPE_TOP, "metric_type", BM_F_METRIC_KIND, 1),
    K(BM_SCOPE_TOP, "tags", BM_F_TAGS, 0),
    K(BM_SCOPE_TOP, "labels", BM_F_TAGS, 1),
    K(BM_SCOPE_METADATA, "transaction_id", BM_F_TX, 2),
    K(BM_SCOPE_METADATA, "correlation_id", BM_F_CORR, 2),
    K(BM_SCOPE_METADATA, "timestamp", BM_F_TS, 2),
    K(BM_SCOPE_METADATA, "source", BM_F_SOURCE, 1),
    K(BM_SCOPE_ERROR, "type", BM_F_ERROR_TYPE, 0),
    K(BM_SCOPE_ERROR, "error_type", BM_F_ERROR_TYPE, 0),
    K(BM_SCOPE_ERROR, "message", BM_F_ERROR_MESSAGE, 0),
    K(BM_SCOPE_ERROR, "error_message", BM_F_ERROR_MESSAGE, 0),
    K(BM_SCOPE_ERROR_DETAILS, "error_type", BM_F_ERROR_TYPE, 2),
    K(BM_SCOPE_ERROR_DETAILS, "type", BM_F_ERROR_TYPE, 2),
};

bm_field bm_field_lookup(bm_scope scope, const char *key, size_t key_len, int *rank)
{
    for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++) {
        const bm_key_def *k = &key_defs[i];
        /* the length and first byte first: most rows differ there */
        if (k->len == key_len && k->name[0] == key[0] && k->scope == scope &&
            memcmp(k->name, key, key_len) == 0) {
            *rank = k->rank;
            return k->field;
        }
    }
    *rank = BM_RANK_UNSET;
    return BM_F_UNKNOWN;
}

bm_plan bm_key_plan(bm_scope scope, const char *key, size_t key_len, bm_value_kind kind,
                    bm_field *f, int *rank, bm_scope *sub)
{
    if (scope == BM_SCOPE_ATTRS || scope == BM_SCOPE_TAGS) {
        *f = BM_F_UNKNOWN;
        *rank = 0;
        return BM_PLAN_COLLECT;
    }
    *f = bm_field_lookup(scope, key, key_len, rank);
    switch (*f) {
    case BM_F_UNKNOWN:
        return scope == BM_SCOPE_TOP ? BM_PLAN_COLLECT : BM_PLAN_SKIP;
    case BM_F_PAYLOAD:
        return kind == BM_V_NIL ? BM_PLAN_SKIP : BM_PLAN_PAYLOAD;
    case BM_F_METADATA:
    case BM_F_ERROR:
    case BM_F_ERROR_DETAILS:
    case BM_F_ATTRS:
    case BM_F_TAGS:
        if (kind != BM_V_MAP) return BM_PLAN_FIELD;
        *sub = *f == BM_F_METADATA ? BM_SCOPE_METADATA
               : *f == BM_F_ERROR  ? BM_SCOPE_ERROR
               : *f == BM_F_ATTRS  ? BM_SCOPE_ATTRS
               : *f == BM_F_TAGS   ? BM_SCOPE_TAGS
                                   : BM_SCOPE_ERROR_DETAILS;
        return BM_PLAN_DESCEND;
    default:
        return BM_PLAN_FIELD;
    }
}

/* ---- value conversion ----------------------------------------------------- */

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

/* A number from any scalar: ints, floats, decimal text. */
static int value_number(const bm_value *v, double *out)
{
    switch (v->kind) {
    case BM_V_INT:
        *out = (double)v->i;
        return 0;
    case BM_V_UINT:
        *out = (double)v->u;
        return 0;
    case BM_V_FLOAT:
        *out = v->f;
        return isfinite(v->f) ? 0 : -1;
    case BM_V_STR:
        return bm_parse_number(v->str, v->len, out);
    default:
        return -1;
    }
}

/* A non-negative int (attempt, priority): integral numbers only. */
static int value_count(const bm_value *v, int *out)
{
    double d;
    if (value_number(v, &d) < 0 || d < 0 || d > INT_MAX || d != floor(d)) return -1;
    *out = (int)d;
    return 0;
}

static int ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z') ca = (unsigned char)(ca - 'A' + 'a');
        if (ca != cb) return 0;
    }
    return 1;
}

static int value_bool(const bm_value *v, int *out)
{
    switch (v->kind) {
    case BM_V_BOOL:
        *out = v->b ? 1 : 0;
        return 0;
    case BM_V_INT:
        if (v->i != 0 && v->i != 1) return -1;
        *out = (int)v->i;
        return 0;
    case BM_V_STR:
        if (ascii_ieq(v->str, v->len, "true") || ascii_ieq(v->str, v->len, "1") ||
            ascii_ieq(v->str, v->len, "yes")) {
            *out = 1;
            return 0;
        }
        if (ascii_ieq(v->str, v->len, "false") || ascii_ieq(v->str, v->len, "0") ||
            ascii_ieq(v->str, v->len, "no")) {
            *out = 0;
            return 0;
        }
        return -1;
    default:
        return -1;
    }
}

static int value_time(const bm_value *v, int64_t *ts_us)
{
    switch (v->kind) {
    case BM_V_INT:
        return bm_time_from_int(v->i, ts_us);
    case BM_V_UINT:
        return bm_time_from_uint(v->u, ts_us);
    case BM_V_FLOAT:
        return bm_time_from_double(v->f, ts_us);
    case BM_V_STR:
        return bm_parse_time(v->str, v->len, ts_us);
    default:
        return -1;
    }
}

/* ---- builder ------------------------------------------------------------ */

void bm_evb_init(bm_evb *b)
{
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < BM_F_STR__COUNT; i++)
        b->str[i].rank = BM_RANK_UNSET;
    b->rank_ok = b->rank_ts = b->rank_dur = b->rank_timeout = b->rank_progress = b->rank_attempt =
        b->rank_prio = b->rank_payload = b->metric_value.rank = BM_RANK_UNSET;
    b->ok = -1;
    b->duration_us = -1;
    b->progress = -1;
    b->attempt = -1;
    b->priority = -1;
}

/* True when `rank` improves on *cur. */
static int better(uint8_t cur, int rank)
{
    return rank < cur;
}

/* "Type: message" -> the two error slots. A text whose head is not a plausible
 * type name (empty, containing a blank, or not an identity: a newline, a
 * byte that is not UTF-8) is all message: free text never refuses the event. */
static void set_error_text(bm_evb *b, const bm_value *v, int rank)
{
    const char *s = v->str;
    size_t n = v->len, colon = n;
    for (size_t i = 0; i < n && i < 128; i++) {
        if (s[i] == ':') {
            colon = i;
            break;
        }
        if (s[i] == ' ' || s[i] == '\t') break;
    }
    bm_value type = *v, msg = *v;
    if (colon > 0 && colon < n && bm_identity_check("error", s, colon, 0, NULL, 0) == 0) {
        type.len = colon;
        size_t m = colon + 1;
        while (m < n && s[m] == ' ')
            m++;
        msg.str = s + m;
        msg.len = n - m;
    } else {
        type.len = 0;
    }
    if (type.len > 0 && better(b->str[BM_F_ERROR_TYPE].rank, rank)) {
        b->str[BM_F_ERROR_TYPE].v = type;
        b->str[BM_F_ERROR_TYPE].rank = (uint8_t)rank;
    }
    if (msg.len > 0 && better(b->str[BM_F_ERROR_MESSAGE].rank, rank)) {
        b->str[BM_F_ERROR_MESSAGE].v = msg;
        b->str[BM_F_ERROR_MESSAGE].rank = (uint8_t)rank;
    }
}

/* Ids and names: checked whole in bm_evb_finish (text.c), never cut. */
static int is_identity(bm_field f)
{
    switch (f) {
    case BM_F_ID:
    case BM_F_TYPE:
    case BM_F_TX:
    case BM_F_CORR:
    case BM_F_CMD:
    case BM_F_WORKER:
    case BM_F_STEP:
    case BM_F_SOURCE:
    case BM_F_ERROR_TYPE:
        return 1;
    default:
        return 0;
    }
}

/* The key a field is known by in reasons ("worker"). */
static const char *field_name(bm_field f)
{
    static const char *const names[BM_F_STR__COUNT] = {
        [BM_F_ID] = "id",
        [BM_F_TYPE] = "type",
        [BM_F_TX] = "tx",
        [BM_F_CORR] = "corr",
        [BM_F_CMD] = "cmd",
        [BM_F_WORKER] = "worker",
        [BM_F_STEP] = "step",
        [BM_F_SOURCE] = "source",
        [BM_F_STATUS] = "status",
        [BM_F_MESSAGE] = "message",
        [BM_F_ERROR_TYPE] = "error_type",
        [BM_F_ERROR_MESSAGE] = "error_message",
        [BM_F_METRIC_NAME] = "name",
        [BM_F_METRIC_KIND] = "kind",
    };
    return f > BM_F_UNKNOWN && f < BM_F_STR__COUNT && names[f] ? names[f] : "field";
}

/* Free text ends at its first NUL, as a C string would: so does a string
 * value here, so that what is checked (empty? too long?) is what the event
 * will hold. Identities are not cut: a NUL in one refuses it (bad_id). */
static bm_value cut_at_nul(const bm_value *in)
{
    bm_value v = *in;
    if (v.kind == BM_V_STR) {
        const char *z = memchr(v.str, '\0', v.len);
        if (z) v.len = (size_t)(z - v.str);
    }
    return v;
}

bm_decode_status bm_evb_set(bm_evb *b, bm_field f, int rank, const bm_value *in)
{
    const bm_value cut = is_identity(f) ? *in : cut_at_nul(in), *v = &cut;
    if (v->kind == BM_V_NIL) return BM_DECODE_OK;
    if (v->kind == BM_V_STR && v->len == 0)
        return BM_DECODE_OK; /* "" is absent, for every key: lets an alias fill it */

    if (f == BM_F_METRIC_VALUE) { /* judged in bm_evb_finish, for metric events only */
        if (better(b->metric_value.rank, rank)) {
            b->metric_value.v = *v;
            b->metric_value.rank = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    }
    if ((f == BM_F_METRIC_NAME || f == BM_F_METRIC_KIND) &&
        (v->kind == BM_V_MAP || v->kind == BM_V_ARRAY))
        return BM_DECODE_OK; /* not a name: a metric event without one is refused at finish */
    if (f > BM_F_UNKNOWN && f < BM_F_STR__COUNT) {
        bm_evb_slot *slot = &b->str[f];
        if ((v->kind == BM_V_MAP || v->kind == BM_V_ARRAY) && f != BM_F_TYPE)
            return BM_DECODE_BAD_FIELD;
        if (better(slot->rank, rank)) {
            slot->v = *v;
            slot->rank = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    }

    double d;
    switch (f) {
    case BM_F_OK: {
        int ok;
        if (value_bool(v, &ok) < 0) return BM_DECODE_BAD_FIELD;
        if (better(b->rank_ok, rank)) {
            b->ok = ok;
            b->rank_ok = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    }
    case BM_F_TS: {
        int64_t ts;
        if (value_time(v, &ts) < 0 || ts < 0 || ts > BM_TIME_MAX_US) return BM_DECODE_BAD_FIELD;
        if (ts == 0) return BM_DECODE_OK; /* 0 is absent, as "": lets an alias fill it */
        if (better(b->rank_ts, rank)) {
            b->ts_us = ts;
            b->rank_ts = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    }
    case BM_F_DURATION_MS:
        if (value_number(v, &d) < 0 || d < 0 || d > 1e12) return BM_DECODE_BAD_FIELD;
        if (better(b->rank_dur, rank)) {
            b->duration_us = v->kind == BM_V_INT ? v->i * 1000 : (int64_t)llround(d * 1000.0);
            b->rank_dur = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    case BM_F_TIMEOUT_S:
        if (value_number(v, &d) < 0 || d < 0 || d > 1e12) return BM_DECODE_BAD_FIELD;
        if (better(b->rank_timeout, rank)) {
            b->timeout_s = d;
            b->rank_timeout = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    case BM_F_PROGRESS:
        if (value_number(v, &d) < 0 || d < 0) return BM_DECODE_BAD_FIELD;
        if (better(b->rank_progress, rank)) {
            b->progress = d;
            b->rank_progress = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    case BM_F_ATTEMPT:
    case BM_F_PRIORITY: {
        int n;
        uint8_t *r = f == BM_F_ATTEMPT ? &b->rank_attempt : &b->rank_prio;
        if (value_count(v, &n) < 0) return BM_DECODE_BAD_FIELD;
        if (better(*r, rank)) {
            *(f == BM_F_ATTEMPT ? &b->attempt : &b->priority) = n;
            *r = (uint8_t)rank;
        }
        return BM_DECODE_OK;
    }
    case BM_F_PAYLOAD_BYTES:
        if (value_number(v, &d) < 0 || d < 0 || d != floor(d)) return BM_DECODE_BAD_FIELD;
        bm_evb_set_payload(b, (uint64_t)(d > 4294967295.0 ? 4294967295.0 : d), rank);
        return BM_DECODE_OK;
    case BM_F_ERROR:
        if (v->kind == BM_V_STR) {
            set_error_text(b, v, rank);
            return BM_DECODE_OK;
        }
        if (v->kind == BM_V_BOOL) return BM_DECODE_OK; /* "error": false - nothing to say */
        return BM_DECODE_BAD_FIELD;
    case BM_F_METADATA:
    case BM_F_ERROR_DETAILS:
    case BM_F_ATTRS:
    case BM_F_TAGS:
        return BM_DECODE_OK; /* not an object: nothing nested to read */
    default:
        return BM_DECODE_OK;
    }
}

void bm_evb_set_payload(bm_evb *b, uint64_t bytes, int rank)
{
    if (better(b->rank_payload, rank)) {
        b->payload_bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
        b->rank_payload = (uint8_t)rank;
    }
}

void bm_evb_add_attr(bm_evb *b, const char *key, size_t key_len, const bm_value *v)
{
    const char *z = memchr(key, '\0', key_len);
    if (z) key_len = (size_t)(z - key);
    if (b->n_attrs >= BM_EVENT_MAX_ATTRS || key_len == 0) return;
    if (b->max_attr_key && key_len > b->max_attr_key) return; /* dropped: no place taken */
    if (v->kind == BM_V_NIL || v->kind == BM_V_MAP || v->kind == BM_V_ARRAY) return;
    bm_evb_attr *a = &b->attrs[b->n_attrs++];
    a->key = key;
    a->key_len = key_len;
    a->v = *v;
}

/* A tag: the first value of a key is kept; a container, NIL, an empty key
 * or one past the bound is dropped and counted. */
static void add_tag(bm_evb *b, const char *key, size_t key_len, const bm_value *v)
{
    if (v->kind == BM_V_NIL || v->kind == BM_V_MAP || v->kind == BM_V_ARRAY || key_len == 0) {
        b->tags_dropped++;
        return;
    }
    for (unsigned i = 0; i < b->n_tags; i++)
        if (b->tags[i].key_len == key_len && !memcmp(b->tags[i].key, key, key_len)) return;
    if (b->n_tags >= BM_EVENT_MAX_TAGS) {
        b->tags_dropped++;
        return;
    }
    b->tags[b->n_tags++] = (bm_evb_attr){.key = key, .key_len = key_len, .v = *v};
}

/* The flat spelling of a tag: a top-level key "tag.K" (redis-cli XADD ... tag.tier gold). */
static const char tag_prefix[] = "tag.";

void bm_evb_collect(bm_evb *b, bm_scope scope, const char *key, size_t key_len, const bm_value *v)
{
    const size_t np = sizeof tag_prefix - 1;
    if (scope == BM_SCOPE_TAGS)
        add_tag(b, key, key_len, v);
    else if (scope == BM_SCOPE_TOP && key_len > np && !memcmp(key, tag_prefix, np))
        add_tag(b, key + np, key_len - np, v);
    else if (scope == BM_SCOPE_TOP || scope == BM_SCOPE_ATTRS)
        bm_evb_add_attr(b, key, key_len, v);
}

void bm_evb_apply_hints(bm_evb *b, const bm_evb_hints *hints)
{
    if (!hints) return;
    bm_value v;
    memset(&v, 0, sizeof(v));
    v.kind = BM_V_STR;
    if (hints->type_len > 0) {
        v.str = hints->type;
        v.len = hints->type_len;
        (void)bm_evb_set(b, BM_F_TYPE, BM_RANK_HINT, &v); /* a string is never bad_field */
    }
    if (hints->worker_len > 0) {
        v.str = hints->worker;
        v.len = hints->worker_len;
        (void)bm_evb_set(b, BM_F_WORKER, BM_RANK_HINT, &v);
    }
}

/* ---- finish ------------------------------------------------------------- */

static const char bm_empty[] = "";
static const char bm_redacted[] = "[REDACTED]";

/* Longest formatted non-string scalar, with its NUL. */
#define BM_NUM_TEXT_MAX 40

/* Parse a type name: "command", "Command", "CommandEvent", ...; "metric"
 * is a custom event that must be a metric (*metric = 1). */
static int type_from_text(const char *s, size_t n, bm_event_type *out, int *metric)
{
    if (n > 5 && ascii_ieq(s + n - 5, 5, "event")) n -= 5;
    *metric = ascii_ieq(s, n, "metric");
    if (*metric) {
        *out = BM_EV_CUSTOM;
        return 0;
    }
    for (int t = 0; t < BM_EV__COUNT; t++) {
        if (ascii_ieq(s, n, bm_event_type_name((bm_event_type)t))) {
            *out = (bm_event_type)t;
            return 0;
        }
    }
    return -1;
}

/* Cut to at most `max` bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t cut = max;
    for (int back = 0; back < 3 && cut > 0; back++) {
        if (((unsigned char)s[cut] & 0xC0) != 0x80) break;
        cut--;
    }
    if (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut = max; /* not UTF-8 after all: cut bytes */
    return cut;
}

static size_t value_text_need(const bm_value *v, size_t max)
{
    if (v->kind == BM_V_STR) return (v->len < max ? v->len : max) + 1;
    return BM_NUM_TEXT_MAX;
}

/* Write `v` as text into the arena at *pos, at most `max` bytes (+ NUL);
 * invalid UTF-8 becomes '?' (identities were checked before: they are valid). */
static const char *put_text(char *arena, size_t *pos, const bm_value *v, size_t max)
{
    char *dst = arena + *pos;
    size_t n;
    switch (v->kind) {
    case BM_V_STR:
        n = utf8_cut(v->str, v->len, max);
        bm_text_scrub(dst, v->str, n);
        break;
    case BM_V_BOOL:
        n = (size_t)snprintf(dst, BM_NUM_TEXT_MAX, "%s", v->b ? "true" : "false");
        break;
    case BM_V_INT:
        n = (size_t)snprintf(dst, BM_NUM_TEXT_MAX, "%lld", (long long)v->i);
        break;
    case BM_V_UINT:
        n = (size_t)snprintf(dst, BM_NUM_TEXT_MAX, "%llu", (unsigned long long)v->u);
        break;
    case BM_V_FLOAT:
        n = (size_t)snprintf(dst, BM_NUM_TEXT_MAX, "%.15g", v->f);
        if (strtod(dst, NULL) != v->f) n = (size_t)snprintf(dst, BM_NUM_TEXT_MAX, "%.17g", v->f);
        break;
    default:
        n = 0;
        break;
    }
    dst[n] = '\0';
    *pos += n + 1;
    return dst;
}

/* An id or name (text.c), checked as the text it will be: a number's too
 * (a 20-digit integer tx is longer than a small max_id_bytes). */
static int identity_refused(bm_decoder *d, const char *name, const bm_value *v, size_t max_id)
{
    if (v->kind == BM_V_STR)
        return bm_identity_check(name, v->str, v->len, max_id, d->detail, sizeof d->detail);
    char num[BM_NUM_TEXT_MAX];
    size_t n = 0;
    put_text(num, &n, v, BM_NUM_TEXT_MAX);
    return bm_identity_check(name, num, n ? n - 1 : 0, max_id, d->detail, sizeof d->detail);
}

/* Make room for `need` bytes; the arena only grows. */
static int scratch_reserve(bm_decoder *d, size_t need)
{
    if (need <= d->scratch_cap) return 0;
    size_t cap = d->scratch_cap ? d->scratch_cap : 1024;
    while (cap < need)
        cap *= 2;
    char *p = realloc(d->scratch, cap);
    if (!p) return -1;
    d->scratch = p;
    d->scratch_cap = cap;
    return 0;
}

static size_t limit_or(size_t v, size_t dflt)
{
    return v ? v : dflt;
}

size_t bm_limit_entry(const bm_decoder *d)
{
    return limit_or(d->limits.max_entry_bytes, BM_DEFAULT_MAX_ENTRY_BYTES);
}

size_t bm_limit_string(const bm_decoder *d)
{
    return limit_or(d->limits.max_string_bytes, BM_DEFAULT_MAX_STRING_BYTES);
}

/*
 * The step a correlation id names, when it is "<tx>.<step>" (the MultiAgents
 * Framework's command and result), or "<tx>.comp.<step>" (its compensation
 * of <step>, and an answer to one): a pointer into corr, or "" when corr
 * does not start with tx and a dot or names nothing after them.
 */
static const char *step_from_corr(const char *tx, const char *corr)
{
    static const char comp[] = "comp.";
    size_t n = strlen(tx);
    if (!n || strncmp(corr, tx, n) || corr[n] != '.') return bm_empty;
    const char *step = corr + n + 1;
    if (!strncmp(step, comp, sizeof comp - 1) && step[sizeof comp - 1]) step += sizeof comp - 1;
    return step;
}

static const char *const metric_kind_names[BM_METRIC__COUNT] = {
    [BM_METRIC_HISTOGRAM] = "histogram",
    [BM_METRIC_COUNTER] = "counter",
    [BM_METRIC_GAUGE] = "gauge",
};

const char *bm_metric_kind_name(bm_metric_kind k)
{
    return (unsigned)k < BM_METRIC__COUNT ? metric_kind_names[k] : "unknown";
}

/* "nan", "inf", "-Infinity", ... (any case): what Python's str() of a float prints. */
static int is_nan_or_inf_text(const char *s, size_t n)
{
    if (n && (s[0] == '+' || s[0] == '-')) s++, n--;
    return ascii_ieq(s, n, "nan") || ascii_ieq(s, n, "inf") || ascii_ieq(s, n, "infinity");
}

/*
 * A metric event's own rules: a name (an identity), a finite number as its
 * value, a known kind, tags whose keys and values are identities. What is
 * wrong is said in d->detail (bad_field / bad_id).
 */
static bm_decode_status metric_check(bm_decoder *d, const bm_evb *b, const bm_evb_slot *s,
                                     size_t max_id, bm_metric_kind *kind, double *value)
{
    const bm_evb_slot *name = &s[BM_F_METRIC_NAME], *k = &s[BM_F_METRIC_KIND];
    if (name->rank == BM_RANK_UNSET || name->v.kind != BM_V_STR) {
        snprintf(d->detail, sizeof d->detail, "a metric event needs a name (a string)");
        return BM_DECODE_BAD_FIELD;
    }
    if (bm_identity_check("metric name", name->v.str, name->v.len, max_id, d->detail,
                          sizeof d->detail))
        return BM_DECODE_BAD_ID;
    const bm_value *v = &b->metric_value.v;
    if (b->metric_value.rank == BM_RANK_UNSET || v->kind == BM_V_NIL) {
        snprintf(d->detail, sizeof d->detail, "metric '%.*s' has no value", (int)name->v.len,
                 name->v.str);
        return BM_DECODE_BAD_FIELD;
    }
    int num =
        v->kind == BM_V_INT || v->kind == BM_V_UINT || v->kind == BM_V_FLOAT || v->kind == BM_V_STR;
    if (v->kind == BM_V_STR && is_nan_or_inf_text(v->str, v->len))
        *value = NAN;
    else if (!num || (v->kind == BM_V_FLOAT ? (*value = v->f, 0) : value_number(v, value)) < 0) {
        snprintf(d->detail, sizeof d->detail, "metric '%.*s': value is not a number",
                 (int)name->v.len, name->v.str);
        return BM_DECODE_BAD_FIELD;
    }
    if (!isfinite(*value)) {
        snprintf(d->detail, sizeof d->detail, "metric '%.*s': value is NaN or infinite",
                 (int)name->v.len, name->v.str);
        return BM_DECODE_BAD_FIELD;
    }
    *kind = BM_METRIC_HISTOGRAM;
    if (k->rank != BM_RANK_UNSET) {
        int found = 0;
        for (int i = 0; i < BM_METRIC__COUNT && k->v.kind == BM_V_STR; i++)
            if (ascii_ieq(k->v.str, k->v.len, metric_kind_names[i])) {
                *kind = (bm_metric_kind)i;
                found = 1;
            }
        if (!found) {
            snprintf(d->detail, sizeof d->detail,
                     "metric '%.*s': kind must be counter, gauge or histogram", (int)name->v.len,
                     name->v.str);
            return BM_DECODE_BAD_FIELD;
        }
    }
    if (*kind == BM_METRIC_COUNTER && *value < 0) { /* its total would go down */
        snprintf(d->detail, sizeof d->detail,
                 "metric '%.*s': a counter's value is an increment, never negative (%g)",
                 (int)name->v.len, name->v.str, *value);
        return BM_DECODE_BAD_FIELD;
    }
    for (unsigned i = 0; i < b->n_tags; i++) {
        const bm_evb_attr *t = &b->tags[i];
        if (bm_identity_check("tag key", t->key, t->key_len, max_id, d->detail, sizeof d->detail))
            return BM_DECODE_BAD_ID;
        if (t->v.kind == BM_V_STR &&
            bm_identity_check("tag value", t->v.str, t->v.len, max_id, d->detail, sizeof d->detail))
            return BM_DECODE_BAD_ID;
    }
    return BM_DECODE_OK;
}

bm_decode_status bm_evb_finish(bm_decoder *d, const bm_evb *b, bm_event *ev)
{
    const size_t max_str = bm_limit_string(d);
    const size_t max_msg = limit_or(d->limits.max_message_bytes, BM_DEFAULT_MAX_MESSAGE_BYTES);
    const size_t max_id = d->limits.max_id_bytes; /* set by bm_decoder_new */
    bm_evb_slot s[BM_F_STR__COUNT];
    memcpy(s, b->str, sizeof(s));

#define HAS(f) (s[f].rank != BM_RANK_UNSET)

    /* type */
    bm_event_type type;
    int metric;
    if (!HAS(BM_F_TYPE)) return BM_DECODE_MISSING_TYPE;
    if (s[BM_F_TYPE].v.kind == BM_V_STR &&
        bm_identity_check("type", s[BM_F_TYPE].v.str, s[BM_F_TYPE].v.len, max_id, d->detail,
                          sizeof d->detail))
        return BM_DECODE_BAD_ID;
    if (s[BM_F_TYPE].v.kind != BM_V_STR ||
        type_from_text(s[BM_F_TYPE].v.str, s[BM_F_TYPE].v.len, &type, &metric) < 0)
        return BM_DECODE_UNKNOWN_TYPE;
    /* a custom event that names a metric or gives a value is one (and is checked as one) */
    if (type == BM_EV_CUSTOM && (HAS(BM_F_METRIC_NAME) || b->metric_value.rank != BM_RANK_UNSET))
        metric = 1;
    bm_metric_kind kind = BM_METRIC_HISTOGRAM;
    double value = 0;
    if (metric) {
        bm_decode_status mst = metric_check(d, b, s, max_id, &kind, &value);
        if (mst != BM_DECODE_OK) return mst;
    }
    /* elsewhere name / value / kind are attributes, as any other key */
    bm_evb_attr attrs[BM_EVENT_MAX_ATTRS];
    unsigned n_attrs = b->n_attrs;
    memcpy(attrs, b->attrs, sizeof attrs);
    if (!metric) {
        const bm_evb_slot *extra[] = {&s[BM_F_METRIC_NAME], &b->metric_value, &s[BM_F_METRIC_KIND]};
        static const char *const extra_key[] = {"name", "value", "kind"};
        for (int i = 0; i < 3; i++) {
            if (extra[i]->rank != BM_RANK_UNSET && n_attrs < BM_EVENT_MAX_ATTRS &&
                extra[i]->v.kind != BM_V_MAP && extra[i]->v.kind != BM_V_ARRAY &&
                extra[i]->v.kind != BM_V_NIL)
                attrs[n_attrs++] = (bm_evb_attr){extra_key[i], strlen(extra_key[i]), extra[i]->v};
        }
        s[BM_F_METRIC_NAME].rank = s[BM_F_METRIC_KIND].rank = BM_RANK_UNSET;
    }
    s[BM_F_METRIC_KIND].rank = BM_RANK_UNSET; /* read: kind */

    /* ids and names are text, refused whole, never cut or merged (text.c) */
    for (int f = BM_F_ID; f < BM_F_STR__COUNT; f++) {
        const bm_evb_slot *sl = &s[f];
        if (!is_identity((bm_field)f) || f == BM_F_TYPE || f == BM_F_ERROR_TYPE ||
            sl->rank == BM_RANK_UNSET)
            continue;
        if (identity_refused(d, field_name((bm_field)f), &sl->v, max_id))
            return BM_DECODE_BAD_ID;
    }

    /* a result (or error) that names no worker: its producer is the worker.
     * That is the event's own word, so it beats a hint (a channel name). */
    if ((!HAS(BM_F_WORKER) || s[BM_F_WORKER].rank == BM_RANK_HINT) &&
        (type == BM_EV_RESULT || type == BM_EV_ERROR) && HAS(BM_F_SOURCE))
        s[BM_F_WORKER] = s[BM_F_SOURCE];

    if (type != BM_EV_CUSTOM && !HAS(BM_F_TX)) return BM_DECODE_MISSING_TX;
    if ((type == BM_EV_COMMAND || type == BM_EV_ERROR) && !HAS(BM_F_WORKER))
        return BM_DECODE_MISSING_WORKER;

    int ok = b->ok;
    int has_error = HAS(BM_F_ERROR_TYPE) || HAS(BM_F_ERROR_MESSAGE);
    if (type == BM_EV_RESULT) {
        if (ok < 0 && has_error) ok = 0; /* a failure travelling as a result */
    } else {
        ok = -1;
    }
    if (type == BM_EV_ERROR && !HAS(BM_F_ERROR_MESSAGE) && HAS(BM_F_MESSAGE))
        s[BM_F_ERROR_MESSAGE] = s[BM_F_MESSAGE];
    if (!(type == BM_EV_ERROR || (type == BM_EV_RESULT && ok == 0))) {
        s[BM_F_ERROR_TYPE].rank = BM_RANK_UNSET;
        s[BM_F_ERROR_MESSAGE].rank = BM_RANK_UNSET;
    }
    /* the error type names an error pattern: checked when it is kept */
    if (HAS(BM_F_ERROR_TYPE) && identity_refused(d, "error_type", &s[BM_F_ERROR_TYPE].v, max_id))
        return BM_DECODE_BAD_ID;

    /* per-field text bound; ids were checked above, so their bound never cuts them */
    size_t bound[BM_F_STR__COUNT];
    for (int f = 0; f < BM_F_STR__COUNT; f++)
        bound[f] = is_identity((bm_field)f) ? BM_ID_MAX : max_str;
    bound[BM_F_METRIC_NAME] = BM_ID_MAX; /* checked in metric_check: never cut */
    bound[BM_F_MESSAGE] = bound[BM_F_ERROR_MESSAGE] = max_msg;

    /* size the arena once: nothing below may realloc it */
    size_t need = 0;
    for (int f = BM_F_ID; f < BM_F_STR__COUNT; f++)
        if (HAS(f) && f != BM_F_TYPE) need += value_text_need(&s[f].v, bound[f]);
    for (unsigned i = 0; i < n_attrs; i++)
        need += attrs[i].key_len + 1 + value_text_need(&attrs[i].v, max_msg) + sizeof(bm_redacted);
    if (metric)
        for (unsigned i = 0; i < b->n_tags; i++)
            need += b->tags[i].key_len + 1 + value_text_need(&b->tags[i].v, BM_ID_MAX);
    if (scratch_reserve(d, need) < 0) return BM_DECODE_NOMEM;

    size_t pos = 0;
    const char *text[BM_F_STR__COUNT];
    for (int f = 0; f < BM_F_STR__COUNT; f++)
        text[f] =
            (HAS(f) && f != BM_F_TYPE) ? put_text(d->scratch, &pos, &s[f].v, bound[f]) : bm_empty;
#undef HAS

    bm_event_reset(ev);
    ev->type = type;
    ev->id = text[BM_F_ID];
    ev->tx = text[BM_F_TX];
    ev->corr = text[BM_F_CORR];
    ev->cmd = text[BM_F_CMD];
    ev->worker = text[BM_F_WORKER];
    ev->step = text[BM_F_STEP];
    if (!ev->step[0]) ev->step = step_from_corr(ev->tx, ev->corr);
    ev->source = text[BM_F_SOURCE];
    ev->status = text[BM_F_STATUS];
    ev->message = text[BM_F_MESSAGE];
    ev->error_type = text[BM_F_ERROR_TYPE];
    ev->error_message = text[BM_F_ERROR_MESSAGE];
    ev->ts_us = b->ts_us;
    ev->duration_us = b->duration_us;
    ev->ok = ok;
    ev->attempt = b->attempt;
    ev->priority = b->priority;
    ev->timeout_s = b->timeout_s;
    ev->progress = b->progress;
    ev->payload_bytes = b->payload_bytes;

    if (metric) {
        ev->metric_name = text[BM_F_METRIC_NAME];
        ev->metric_value = value;
        ev->metric_kind = kind;
        ev->tags_dropped = b->tags_dropped;
        for (unsigned i = 0; i < b->n_tags; i++) {
            const bm_evb_attr *t = &b->tags[i];
            char *key = d->scratch + pos;
            memcpy(key, t->key, t->key_len);
            key[t->key_len] = '\0';
            pos += t->key_len + 1;
            ev->tags[ev->n_tags].key = key;
            /* a secret's value, as an attribute's, goes nowhere: every secret
             * of a key is one series, never one per secret */
            ev->tags[ev->n_tags++].value = bm_key_is_secret(t->key, t->key_len)
                                               ? bm_redacted
                                               : put_text(d->scratch, &pos, &t->v, BM_ID_MAX);
        }
    }
    for (unsigned i = 0; i < n_attrs; i++) {
        const bm_evb_attr *a = &attrs[i];
        if (a->key_len > max_str) continue;
        char *key = d->scratch + pos;
        bm_text_scrub(key, a->key, a->key_len); /* shown as its value is: UTF-8 */
        key[a->key_len] = '\0';
        pos += a->key_len + 1;
        bm_attr *out = &ev->attrs[ev->n_attrs++];
        out->key = key;
        out->value = bm_key_is_secret(a->key, a->key_len)
                         ? bm_redacted
                         : put_text(d->scratch, &pos, &a->v, max_msg);
    }
    return BM_DECODE_OK;
}

void bm_event_reset(bm_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = BM_EV_CUSTOM;
    ev->id = ev->tx = ev->corr = ev->cmd = ev->worker = ev->step = ev->source = bm_empty;
    ev->status = ev->message = ev->error_type = ev->error_message = ev->metric_name = bm_empty;
    ev->duration_us = -1;
    ev->ok = -1;
    ev->attempt = -1;
    ev->priority = -1;
    ev->progress = -1;
}
