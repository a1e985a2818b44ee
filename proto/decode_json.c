/*
 * decode_json.c - an event as a JSON object (jansson).
 *
 * Reads busmon's native keys and the MultiAgents Framework's wire shape:
 *
 *   {"id": "...", "type": "result",
 *    "metadata": {"transaction_id": "...", "correlation_id": "...",
 *                 "timestamp": "2024-01-15T10:30:00.123456", "source": "research"},
 *    "payload": {...}, "command_id": "...", "success": false,
 *    "error_message": "Connection timeout",
 *    "error_details": {"error_type": "NetworkError"}}
 *
 * Nested objects are read one level deep where they mean something
 * (`metadata`, `error`, `error_details`, `attrs`); `payload` is measured (its
 * compact serialization's length), never kept. jansson allocates the tree;
 * it is freed before returning, after the builder copied what it keeps.
 *
 * Not here: the key table and rules (event_fill.c).
 */
#include "proto/event_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void json_to_value(json_t *j, bm_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->kind = BM_V_STR;
        v->str = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->kind = BM_V_INT;
        v->i = (int64_t)json_integer_value(j);
        break;
    case JSON_REAL:
        v->kind = BM_V_FLOAT;
        v->f = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = BM_V_BOOL;
        v->b = json_is_true(j);
        break;
    case JSON_OBJECT:
        v->kind = BM_V_MAP;
        break;
    case JSON_ARRAY:
        v->kind = BM_V_ARRAY;
        break;
    default:
        v->kind = BM_V_NIL;
        break;
    }
}

static bm_decode_status walk(bm_evb *b, json_t *obj, bm_scope scope)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        size_t key_len = strlen(key);
        bm_value v;
        json_to_value(val, &v);
        bm_field f;
        int rank;
        bm_scope sub;
        bm_decode_status st = BM_DECODE_OK;
        switch (bm_key_plan(scope, key, key_len, v.kind, &f, &rank, &sub)) {
        case BM_PLAN_FIELD:
            st = bm_evb_set(b, f, rank, &v);
            break;
        case BM_PLAN_DESCEND:
            st = walk(b, val, sub);
            break;
        case BM_PLAN_PAYLOAD:
            bm_evb_set_payload(b, json_dumpb(val, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY), rank);
            break;
        case BM_PLAN_COLLECT:
            bm_evb_collect(b, scope, key, key_len, &v);
            break;
        case BM_PLAN_SKIP:
            break;
        }
        if (st != BM_DECODE_OK) return st;
    }
    return BM_DECODE_OK;
}

/*
 * `buf` is borrowed; it need not be NUL-terminated. Trailing text after the
 * value makes it not_json; a value that is not an object is json_not_object.
 */
bm_decode_status bm_decode_json(bm_decoder *d, const char *buf, size_t len, bm_event *ev)
{
    return bm_decode_json_hinted(d, buf, len, NULL, ev);
}

/* The hints go in after the walk; their rank, not their order, keeps them
 * below the object's own keys. */
bm_decode_status bm_decode_json_hinted(bm_decoder *d, const char *buf, size_t len,
                                       const bm_evb_hints *hints, bm_event *ev)
{
    bm_event_reset(ev);
    d->detail[0] = '\0';
    if (!buf || len == 0) return BM_DECODE_EMPTY;
    if (len > bm_limit_entry(d)) return BM_DECODE_OVERSIZED;

    json_error_t err;
    /* \u0000 is allowed in strings so that an id holding one is refused as
     * such (bad_id), not as "not JSON"; invalid UTF-8 is not JSON at all */
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) {
        int n = snprintf(d->detail, sizeof d->detail, "the JSON field does not parse: %.100s",
                         err.text);
        if (n > 0 && (size_t)n < sizeof d->detail)
            snprintf(d->detail + n, sizeof d->detail - (size_t)n, " (at byte %d)", err.position);
        return BM_DECODE_NOT_JSON;
    }
    bm_decode_status st;
    if (!json_is_object(root)) {
        st = BM_DECODE_JSON_NOT_OBJECT;
    } else {
        bm_evb b;
        bm_evb_init(&b);
        st = walk(&b, root, BM_SCOPE_TOP);
        if (st == BM_DECODE_OK) {
            bm_evb_apply_hints(&b, hints);
            st = bm_evb_finish(d, &b, ev);
        }
    }
    json_decref(root);
    return st;
}
