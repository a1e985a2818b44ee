/*
 * decode_flat.c - an event spelled as the stream entry's own fields.
 *
 *   XADD bus * type error tx t-42 worker research error "NetworkError: timeout"
 *
 * is what a person types with redis-cli, so every value is text: numbers and
 * times are parsed from it, `ok` is "true"/"false"/"1"/"0" (also "yes"/"no"),
 * `error` is "Type: message", and `payload` counts its value's length. There
 * is no nesting: `metadata.*` keys do not exist in this form.
 *
 * Not here: the size bound and encoding detection (event.c).
 */
#include "proto/event_internal.h"

/* Called by bm_decode_entry only, after the size bound was checked. */
bm_decode_status bm_decode_flat(bm_decoder *d, size_t n, const char *const *fields,
                                const size_t *field_lens, const char *const *values,
                                const size_t *value_lens, bm_event *ev)
{
    bm_evb b;
    bm_evb_init(&b);
    b.max_attr_key = bm_limit_string(d);
    for (size_t i = 0; i < n; i++) {
        bm_value v = {.kind = BM_V_STR, .str = values[i], .len = value_lens[i]};
        int rank;
        bm_field f;
        bm_scope sub;
        bm_decode_status st = BM_DECODE_OK;
        switch (bm_key_plan(BM_SCOPE_TOP, fields[i], field_lens[i], v.kind, &f, &rank, &sub)) {
        case BM_PLAN_FIELD:
        case BM_PLAN_DESCEND: /* a flat value is a string: never a map */
            st = bm_evb_set(&b, f, rank, &v);
            break;
        case BM_PLAN_PAYLOAD:
            bm_evb_set_payload(&b, value_lens[i], rank);
            break;
        case BM_PLAN_COLLECT:
            bm_evb_collect(&b, BM_SCOPE_TOP, fields[i], field_lens[i], &v);
            break;
        case BM_PLAN_SKIP:
            break;
        }
        if (st != BM_DECODE_OK) return st;
    }
    return bm_evb_finish(d, &b, ev);
}
