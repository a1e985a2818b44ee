/*
 * event_names.c - the wire contract's stable names and texts: decode
 * statuses (their names and a detail for people), event types, and an
 * error as one "Type: message" text.
 *
 * A leaf: it calls nothing else of proto/, so the decoders, the builder
 * (event_fill.c), the encoder and the pub/sub decoder all name things
 * through it without a file calling back into another.
 */
#include "proto/event.h"

#include <stdio.h>
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

const char *bm_decode_status_detail(bm_decode_status st)
{
    switch (st) {
    case BM_DECODE_EMPTY:
        return "the entry has no fields";
    case BM_DECODE_OVERSIZED:
        return "the entry is larger than streams.max_entry_bytes";
    case BM_DECODE_NOT_MSGPACK:
        return "field m is not one complete msgpack object";
    case BM_DECODE_NOT_MAP:
        return "field m is msgpack but not a map";
    case BM_DECODE_NOT_JSON:
        return "the JSON field does not parse";
    case BM_DECODE_JSON_NOT_OBJECT:
        return "the JSON field is not an object";
    case BM_DECODE_MISSING_TYPE:
        return "no event type (type / event_type)";
    case BM_DECODE_UNKNOWN_TYPE:
        return "the event type is not command, result, error, status, compensation or custom";
    case BM_DECODE_MISSING_TX:
        return "no transaction id (tx / transaction_id / metadata.transaction_id)";
    case BM_DECODE_MISSING_WORKER:
        return "no worker (worker / worker_name / worker_type)";
    case BM_DECODE_BAD_FIELD:
        return "a known key has an unusable value (a time, a flag, a number)";
    case BM_DECODE_BAD_ID:
        return "an id or name holds a NUL byte, a control character or invalid UTF-8, or is "
               "longer than max_id_bytes";
    case BM_DECODE_NOMEM:
        return "out of memory while decoding";
    default:
        return "unusable entry";
    }
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
const char *bm_event_type_name(bm_event_type t)
{
    if ((unsigned)t >= BM_EV__COUNT) return "unknown";
    return type_names[t];
}

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
