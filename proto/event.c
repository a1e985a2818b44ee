/*
 * event.c - the decoder object and per-entry detection.
 *
 * A stream entry arrives as field/value pairs. bm_decode_entry checks the
 * size bound first (nothing is parsed in an oversized entry), then picks the
 * encoding from the field names and hands the entry to decode_msgpack.c,
 * decode_json.c or decode_flat.c. All three fill the event through the
 * builder in event_fill.c, so the rules of proto/README.md (§1 keys, §2
 * time, §6 unusable entries) are the same whatever the encoding.
 *
 * Not here: the syntax of any one encoding; the key table (event_fill.c);
 * the stable names and texts (event_names.c).
 */
#include "proto/event_internal.h"

#include <stdlib.h>
#include <string.h>

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
