/*
 * event_internal.h - what the proto/ decoders share, and nothing else sees.
 *
 * The three decoders (decode_msgpack.c, decode_json.c, decode_flat.c) only
 * know how to walk their encoding. For every key they meet they ask
 * bm_field_lookup() what the key means, wrap the value in a bm_value and hand
 * it to an event builder (bm_evb). The builder applies the alias ranks (a
 * native key beats its aliases, a top-level key beats metadata.*), converts
 * numbers and times at once, and keeps string values as *references* into
 * the input. bm_evb_finish() then validates the event, copies the strings it
 * keeps into the decoder's scratch arena in one go and fills the bm_event.
 *
 * Not here: anything about one encoding's syntax.
 */
#ifndef BM_PROTO_EVENT_INTERNAL_H
#define BM_PROTO_EVENT_INTERNAL_H

#include "proto/event.h"

#include <stdbool.h>

#define BM_DEFAULT_MAX_ENTRY_BYTES   (1024u * 1024u)
#define BM_DEFAULT_MAX_STRING_BYTES  512u
#define BM_DEFAULT_MAX_MESSAGE_BYTES 1024u
#define BM_DEFAULT_MAX_ID_BYTES      256u

/* The decoder: limits plus a grow-only scratch arena holding the strings of
 * the last decoded event. Its capacity never exceeds what the largest
 * accepted entry needs (bounded by max_entry_bytes plus a constant). */
struct bm_decoder {
    bm_decode_limits limits; /* max_id_bytes always set (1..BM_ID_MAX) */
    char *scratch;
    size_t scratch_cap;
    struct bm_json_work *json; /* the JSON scanner's grow-only work area (decode_json.c) */
    char detail[192]; /* why the last decode failed, when more is known than its status */
};

/* A value as any encoding delivers it. Strings are borrowed, not terminated. */
typedef enum {
    BM_V_NIL = 0,
    BM_V_BOOL,
    BM_V_INT,  /* fits int64 */
    BM_V_UINT, /* above INT64_MAX */
    BM_V_FLOAT,
    BM_V_STR,
    BM_V_MAP, /* container: content walked by the decoder, if at all */
    BM_V_ARRAY,
} bm_value_kind;

typedef struct {
    bm_value_kind kind;
    const char *str;
    size_t len;
    int64_t i;
    uint64_t u;
    double f;
    bool b;
} bm_value;

/* Where a key sits: which table bm_field_lookup() consults. */
typedef enum {
    BM_SCOPE_TOP = 0,
    BM_SCOPE_METADATA,      /* the framework's nested `metadata` object */
    BM_SCOPE_ERROR,         /* an `error` object: {type, message} */
    BM_SCOPE_ERROR_DETAILS, /* the framework's `error_details` object */
    BM_SCOPE_ATTRS,         /* busmon's `attrs` map (stored trace records) */
    BM_SCOPE_TAGS,          /* a metric event's `tags` map: every scalar is a tag */
} bm_scope;

/* What a key means. BM_F_UNKNOWN keys become attributes (top level and
 * `attrs` only). The container fields (METADATA, ERROR, ERROR_DETAILS,
 * ATTRS) are walked by the decoder with the matching scope. */
typedef enum {
    BM_F_UNKNOWN = 0,
    BM_F_ID,
    BM_F_TYPE,
    BM_F_TX,
    BM_F_CORR,
    BM_F_CMD,
    BM_F_WORKER,
    BM_F_STEP,
    BM_F_SOURCE,
    BM_F_STATUS,
    BM_F_MESSAGE,
    BM_F_ERROR_TYPE,
    BM_F_ERROR_MESSAGE,
    BM_F_METRIC_NAME, /* metric events only; elsewhere the key stays an attribute */
    BM_F_METRIC_KIND,
    BM_F_STR__COUNT, /* fields above are kept as string references */
    BM_F_OK,
    BM_F_TS,
    BM_F_DURATION_MS,
    BM_F_TIMEOUT_S,
    BM_F_PROGRESS,
    BM_F_ATTEMPT,
    BM_F_PRIORITY,
    BM_F_PAYLOAD,       /* decoder measures it, then calls bm_evb_set_payload */
    BM_F_PAYLOAD_BYTES, /* an explicit size (stored trace records) */
    BM_F_ERROR,         /* object -> BM_SCOPE_ERROR; string "Type: message" */
    BM_F_METADATA,
    BM_F_ERROR_DETAILS,
    BM_F_ATTRS,
    BM_F_METRIC_VALUE, /* kept as offered; converted (and checked) for metric events only */
    BM_F_TAGS,         /* map -> BM_SCOPE_TAGS */
} bm_field;

/* A string slot: the best-ranked value seen so far for one field. */
typedef struct {
    bm_value v;
    uint8_t rank; /* 0 = native key; higher = weaker alias; 255 = unset */
} bm_evb_slot;

typedef struct {
    const char *key;
    size_t key_len;
    bm_value v;
} bm_evb_attr;

/* The event builder: lives on the stack for one decode call. */
typedef struct {
    bm_evb_slot str[BM_F_STR__COUNT];
    uint8_t rank_ok, rank_ts, rank_dur, rank_timeout, rank_progress, rank_attempt, rank_prio,
        rank_payload;
    int ok;
    int64_t ts_us;
    int64_t duration_us;
    double timeout_s;
    double progress;
    int attempt;
    int priority;
    uint32_t payload_bytes;
    unsigned n_attrs;
    bm_evb_attr attrs[BM_EVENT_MAX_ATTRS];
    size_t max_attr_key;      /* longer attribute keys are dropped, taking no place (0: no bound) */
    bm_evb_slot metric_value; /* the value as offered (any kind) */
    unsigned n_tags, tags_dropped;
    bm_evb_attr tags[BM_EVENT_MAX_TAGS];
} bm_evb;

#define BM_RANK_UNSET 255

/* Values that stand in where the event lacks its own, such as the type and
 * worker a pub/sub channel name implies. They are offered at BM_RANK_HINT,
 * weaker than every key of the event, so the event's own keys always win
 * whatever the order. Strings are borrowed and not terminated; length 0 =
 * no hint. */
typedef struct {
    const char *type;
    size_t type_len;
    const char *worker;
    size_t worker_len;
} bm_evb_hints;

#define BM_RANK_HINT 254

/* Offer the hints to the builder (after the event's own keys or before:
 * the rank decides). */
void bm_evb_apply_hints(bm_evb *b, const bm_evb_hints *hints);

/* Meaning of `key` in `scope`; *rank receives its alias rank. */
bm_field bm_field_lookup(bm_scope scope, const char *key, size_t key_len, int *rank);

/*
 * What a decoder does with one key/value pair: the one place that says which
 * keys are containers to walk, which are measured, which are collected. Each
 * decoder's walk is a switch over this, so a new field or scope is a change
 * to event_fill.c only.
 */
typedef enum {
    BM_PLAN_FIELD,   /* bm_evb_set(b, *f, *rank, value) (skip the value's children) */
    BM_PLAN_DESCEND, /* a map: walk its pairs with scope *sub */
    BM_PLAN_PAYLOAD, /* measure the value, bm_evb_set_payload(b, bytes, *rank) */
    BM_PLAN_COLLECT, /* bm_evb_collect(b, scope, key, value) (skip the children) */
    BM_PLAN_SKIP,    /* nothing (skip the value and its children) */
} bm_plan;

/* The plan for `key` in `scope` whose value has kind `kind`; fills *f,
 * *rank and, for BM_PLAN_DESCEND, *sub. */
bm_plan bm_key_plan(bm_scope scope, const char *key, size_t key_len, bm_value_kind kind,
                    bm_field *f, int *rank, bm_scope *sub);

void bm_evb_init(bm_evb *b);

/*
 * Offer a scalar value for a known field (not the containers, not PAYLOAD).
 * Ignored when a better-ranked key already set the field; NIL is "absent".
 * @return BM_DECODE_OK, or BM_DECODE_BAD_FIELD when the value is unusable.
 */
bm_decode_status bm_evb_set(bm_evb *b, bm_field f, int rank, const bm_value *v);

/* Record the payload's size in bytes (decoder-measured). */
void bm_evb_set_payload(bm_evb *b, uint64_t bytes, int rank);

/* Keep an unknown scalar key as an attribute (first BM_EVENT_MAX_ATTRS;
 * containers, NIL and keys longer than b->max_attr_key are skipped). */
void bm_evb_add_attr(bm_evb *b, const char *key, size_t key_len, const bm_value *v);

/* Keep a key of a collecting scope: what BM_PLAN_COLLECT asks for.
 * Top-level unknown keys and `attrs` become attributes, except a top-level
 * `tag.K` (the flat spelling of a tag); `tags` keys become tags (scalars,
 * first BM_EVENT_MAX_TAGS distinct keys; the rest counted in tags_dropped). */
void bm_evb_collect(bm_evb *b, bm_scope scope, const char *key, size_t key_len,
                    const bm_value *v);

/*
 * Validate (type, required keys, string bounds), copy the kept strings into
 * d's scratch arena and fill *ev.
 * @return BM_DECODE_OK or the reason the event is unusable.
 */
bm_decode_status bm_evb_finish(bm_decoder *d, const bm_evb *b, bm_event *ev);

/* Reset *ev to "nothing decoded": all strings "", numbers absent. */
void bm_event_reset(bm_event *ev);

/* The limits with defaults applied. */
size_t bm_limit_entry(const bm_decoder *d);
size_t bm_limit_string(const bm_decoder *d);

/* The flat-field decoder (decode_flat.c); bounds already checked. */
bm_decode_status bm_decode_flat(bm_decoder *d, size_t n, const char *const *fields,
                                const size_t *field_lens, const char *const *values,
                                const size_t *value_lens, bm_event *ev);

/* Free the JSON scanner's work area (NULL is a no-op). */
void bm_json_work_free(struct bm_json_work *w);

/* bm_decode_json with hints (NULL = none): the pub/sub decoder's core. */
bm_decode_status bm_decode_json_hinted(bm_decoder *d, const char *buf, size_t len,
                                       const bm_evb_hints *hints, bm_event *ev);

/* Parse a decimal number ("12", "-3.5", "1e3"), locale-free.
 * @return 0 and *out, or -1. */
int bm_parse_number(const char *s, size_t len, double *out);

#endif
