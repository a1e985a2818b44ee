/*
 * encode.c - a bm_event as a msgpack map in busmon's native key names.
 *
 * This is both what a C producer may send in field `m` and the stored trace
 * record: `busmon:trace:<tx>` is a Redis list of these maps in arrival order
 * (RPUSH), expiring with the trace retention. Only present values are
 * written, so a record is small and bm_decode_msgpack() reads back exactly
 * the event that was encoded:
 *
 *   map(n) { "type": str, "id": str, "tx": str, ..., "ok": bool,
 *            "ts": int µs (ISO-8601 text before 1973 or after 5138),
 *            "duration_ms": float64,
 *            "error": map { "type": str, "message": str },
 *            "attrs": map { key: str, ... } }
 *
 * Not here: the JSON rendering of traces (agent/) and the Redis commands.
 */
#include "proto/event.h"
#include "proto/time_internal.h"

#include <msgpack.h>
#include <string.h>

typedef struct {
    msgpack_packer pk;
    int err;
} enc;

static void put_key(enc *e, const char *k)
{
    size_t n = strlen(k);
    e->err |= msgpack_pack_str(&e->pk, n);
    e->err |= msgpack_pack_str_body(&e->pk, k, n);
}

static void put_str(enc *e, const char *k, const char *v)
{
    size_t n = strlen(v);
    if (k) put_key(e, k);
    e->err |= msgpack_pack_str(&e->pk, n);
    e->err |= msgpack_pack_str_body(&e->pk, v, n);
}

static int present(const char *s)
{
    return s && s[0];
}

/*
 * Append the map for `ev` to `out`. `duration_us` >= 0 replaces
 * ev->duration_us (the trace knows a duration the event did not carry).
 */
int bm_event_encode_msgpack(const bm_event *ev, int64_t duration_us, struct msgpack_sbuffer *out)
{
    const char *const strs[][2] = {
        {"id", ev->id},         {"tx", ev->tx},         {"corr", ev->corr},
        {"cmd", ev->cmd},       {"worker", ev->worker}, {"step", ev->step},
        {"source", ev->source}, {"status", ev->status}, {"message", ev->message},
    };
    const size_t n_strs = sizeof(strs) / sizeof(strs[0]);
    int64_t dur = duration_us >= 0 ? duration_us : ev->duration_us;
    int has_error = present(ev->error_type) || present(ev->error_message);

    uint32_t n = 1; /* type */
    for (size_t i = 0; i < n_strs; i++)
        n += present(strs[i][1]);
    n += ev->ok >= 0;
    n += ev->ts_us != 0;
    n += dur >= 0;
    n += has_error;
    n += ev->attempt >= 0;
    n += ev->priority >= 0;
    n += ev->timeout_s > 0;
    n += ev->progress >= 0;
    n += ev->payload_bytes > 0;
    n += ev->n_attrs > 0;

    enc e = {.err = 0};
    msgpack_packer_init(&e.pk, out, msgpack_sbuffer_write);
    e.err |= msgpack_pack_map(&e.pk, n);
    put_str(&e, "type", bm_event_type_name(ev->type));
    for (size_t i = 0; i < n_strs; i++)
        if (present(strs[i][1])) put_str(&e, strs[i][0], strs[i][1]);
    if (ev->ok >= 0) {
        put_key(&e, "ok");
        e.err |= ev->ok ? msgpack_pack_true(&e.pk) : msgpack_pack_false(&e.pk);
    }
    if (ev->ts_us != 0) {
        /* Integer µs where the decoder's magnitude rule reads it back as µs
         * (1973..5138); ISO-8601 text outside that, so the record still
         * decodes to the same time. */
        char iso[32];
        put_key(&e, "ts");
        if (ev->ts_us >= 100000000000000LL && ev->ts_us < 100000000000000000LL)
            e.err |= msgpack_pack_int64(&e.pk, ev->ts_us);
        else if (bm_format_time_iso(ev->ts_us, iso) > 0)
            put_str(&e, NULL, iso);
        else
            e.err |= msgpack_pack_int64(&e.pk, ev->ts_us); /* out of range: as is */
    }
    if (dur >= 0) {
        put_key(&e, "duration_ms");
        e.err |= msgpack_pack_double(&e.pk, (double)dur / 1000.0);
    }
    if (has_error) {
        put_key(&e, "error");
        e.err |= msgpack_pack_map(&e.pk, (size_t)present(ev->error_type) +
                                             (size_t)present(ev->error_message));
        if (present(ev->error_type)) put_str(&e, "type", ev->error_type);
        if (present(ev->error_message)) put_str(&e, "message", ev->error_message);
    }
    if (ev->attempt >= 0) {
        put_key(&e, "attempt");
        e.err |= msgpack_pack_int(&e.pk, ev->attempt);
    }
    if (ev->priority >= 0) {
        put_key(&e, "priority");
        e.err |= msgpack_pack_int(&e.pk, ev->priority);
    }
    if (ev->timeout_s > 0) {
        put_key(&e, "timeout_seconds");
        e.err |= msgpack_pack_double(&e.pk, ev->timeout_s);
    }
    if (ev->progress >= 0) {
        put_key(&e, "progress");
        e.err |= msgpack_pack_double(&e.pk, ev->progress);
    }
    if (ev->payload_bytes > 0) {
        put_key(&e, "payload_bytes");
        e.err |= msgpack_pack_uint32(&e.pk, ev->payload_bytes);
    }
    if (ev->n_attrs > 0) {
        unsigned na = ev->n_attrs > BM_EVENT_MAX_ATTRS ? BM_EVENT_MAX_ATTRS : ev->n_attrs;
        put_key(&e, "attrs");
        e.err |= msgpack_pack_map(&e.pk, na);
        for (unsigned i = 0; i < na; i++) {
            put_str(&e, NULL, ev->attrs[i].key ? ev->attrs[i].key : "");
            put_str(&e, NULL, ev->attrs[i].value ? ev->attrs[i].value : "");
        }
    }
    return e.err ? -1 : 0;
}
