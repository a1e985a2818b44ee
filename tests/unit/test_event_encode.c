/*
 * test_event_encode.c - bm_event_encode_msgpack: only present keys, native
 * names and types, and the round trip through bm_decode_msgpack.
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

static bm_decoder *dec, *dec2;
static msgpack_sbuffer sb;

static void setup(void)
{
    dec = bm_decoder_new(NULL);
    dec2 = bm_decoder_new(NULL);
    cr_assert(dec && dec2);
    msgpack_sbuffer_init(&sb);
}

static void teardown(void)
{
    msgpack_sbuffer_destroy(&sb);
    bm_decoder_free(dec);
    bm_decoder_free(dec2);
}

TestSuite(event_encode, .init = setup, .fini = teardown);

static void assert_same(const bm_event *a, const bm_event *b)
{
    cr_assert_eq(a->type, b->type);
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->tx, b->tx);
    cr_assert_str_eq(a->corr, b->corr);
    cr_assert_str_eq(a->cmd, b->cmd);
    cr_assert_str_eq(a->worker, b->worker);
    cr_assert_str_eq(a->step, b->step);
    cr_assert_str_eq(a->source, b->source);
    cr_assert_str_eq(a->status, b->status);
    cr_assert_str_eq(a->message, b->message);
    cr_assert_str_eq(a->error_type, b->error_type);
    cr_assert_str_eq(a->error_message, b->error_message);
    cr_assert_eq(a->ts_us, b->ts_us);
    cr_assert_eq(a->duration_us, b->duration_us);
    cr_assert_eq(a->ok, b->ok);
    cr_assert_eq(a->attempt, b->attempt);
    cr_assert_eq(a->priority, b->priority);
    cr_assert_eq(a->timeout_s, b->timeout_s);
    cr_assert_eq(a->progress, b->progress);
    cr_assert_eq(a->payload_bytes, b->payload_bytes);
    cr_assert_eq(a->n_attrs, b->n_attrs);
    for (unsigned i = 0; i < a->n_attrs; i++) {
        cr_assert_str_eq(a->attrs[i].key, b->attrs[i].key);
        cr_assert_str_eq(a->attrs[i].value, b->attrs[i].value);
    }
}

/* Decode JSON, encode, decode the msgpack with another decoder: same event. */
static void roundtrip_json(const char *json)
{
    bm_event a, b;
    cr_assert_eq(bm_decode_json(dec, json, strlen(json), &a), BM_DECODE_OK, "%s", json);
    msgpack_sbuffer_clear(&sb);
    cr_assert_eq(bm_event_encode_msgpack(&a, -1, &sb), 0);
    cr_assert_eq(bm_decode_msgpack(dec2, sb.data, sb.size, &b), BM_DECODE_OK, "%s", json);
    assert_same(&a, &b);
}

Test(event_encode, roundtrip_every_shape)
{
    roundtrip_json("{\"id\":\"i\",\"type\":\"result\",\"tx\":\"t\",\"corr\":\"c\",\"cmd\":\"k\","
                   "\"ok\":false,\"worker\":\"w\",\"step\":\"s\",\"source\":\"src\","
                   "\"ts\":1705314600123456,\"duration_ms\":12.345,"
                   "\"error\":{\"type\":\"E\",\"message\":\"m\"},\"attempt\":2,\"priority\":0,"
                   "\"status\":\"done\",\"message\":\"hello\",\"timeout_seconds\":1.5,"
                   "\"progress\":0,\"payload\":[1,2,3],\"extra\":42,\"api_token\":\"x\","
                   "\"f\":0.1,\"b\":false}");
    roundtrip_json("{\"type\":\"command\",\"metadata\":{\"transaction_id\":\"wf\","
                   "\"timestamp\":\"2024-01-15T10:30:00.123456\",\"source\":\"o\"},"
                   "\"worker_type\":\"research\",\"timeout_seconds\":300.0,\"priority\":1}");
    roundtrip_json("{\"type\":\"result\",\"metadata\":{\"transaction_id\":\"wf\","
                   "\"source\":\"research\"},\"success\":true,\"execution_time_ms\":0.001}");
    roundtrip_json("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\",\"message\":\"boom\"}");
    roundtrip_json("{\"type\":\"status\",\"tx\":\"t\",\"status\":\"running\",\"progress\":0.75}");
    roundtrip_json("{\"type\":\"compensation\",\"tx\":\"t\",\"a\":\"1\",\"b\":\"2\",\"c\":\"3\","
                   "\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"i\":\"9\"}");
    roundtrip_json("{\"type\":\"custom\"}");
}

Test(event_encode, roundtrip_hand_built_event)
{
    bm_event a = {
        .type = BM_EV_RESULT,
        .id = "r-\xc3\xa9",
        .tx = "t",
        .corr = "",
        .cmd = "c",
        .worker = "w",
        .step = "",
        .source = "",
        .status = "",
        .message = "",
        .error_type = "",
        .error_message = "failed",
        .ts_us = 4102444800000000LL, /* 2100-01-01 */
        .duration_us = 987654321,
        .ok = 0,
        .attempt = -1,
        .priority = 9,
        .timeout_s = 0,
        .progress = -1,
        .payload_bytes = 4000000000u,
        .n_attrs = 1,
        .attrs = {{"k", "v"}},
    };
    bm_event b;
    cr_assert_eq(bm_event_encode_msgpack(&a, -1, &sb), 0);
    cr_assert_eq(bm_decode_msgpack(dec, sb.data, sb.size, &b), BM_DECODE_OK);
    assert_same(&a, &b);
}

/* The top-level keys of the encoded map, in order, joined by ','. */
static void keys_of(char *out, size_t cap)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size);
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
    out[0] = '\0';
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        cr_assert_eq(k->type, MSGPACK_OBJECT_STR);
        if (i) strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, k->via.str.ptr,
                k->via.str.size < cap - strlen(out) - 1 ? k->via.str.size : cap - strlen(out) - 1);
    }
    msgpack_unpacked_destroy(&u);
}

Test(event_encode, only_present_values)
{
    bm_event ev;
    const char *j = "{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\"}";
    cr_assert_eq(bm_decode_json(dec, j, strlen(j), &ev), BM_DECODE_OK);
    cr_assert_eq(bm_event_encode_msgpack(&ev, -1, &sb), 0);
    char keys[256];
    keys_of(keys, sizeof(keys));
    cr_assert_str_eq(keys, "type,tx,worker");
    cr_assert_eq(sb.size, 1 + 5 + 8 + 3 + 2 + 7 + 2);

    msgpack_sbuffer_clear(&sb);
    cr_assert_eq(bm_event_encode_msgpack(&ev, 2500, &sb), 0, "the trace's duration");
    keys_of(keys, sizeof(keys));
    cr_assert_str_eq(keys, "type,tx,worker,duration_ms");
    bm_event back;
    cr_assert_eq(bm_decode_msgpack(dec2, sb.data, sb.size, &back), BM_DECODE_OK);
    cr_assert_eq(back.duration_us, 2500);
}

Test(event_encode, value_types)
{
    bm_event ev;
    const char *j = "{\"type\":\"result\",\"tx\":\"t\",\"success\":true,\"ts\":1705314600,"
                    "\"duration_ms\":3,\"attempt\":1,\"x\":5}";
    cr_assert_eq(bm_decode_json(dec, j, strlen(j), &ev), BM_DECODE_OK);
    cr_assert_eq(bm_event_encode_msgpack(&ev, 7000, &sb), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    msgpack_object_kv *kv = u.data.via.map.ptr;
    cr_assert_eq(u.data.via.map.size, 7);
    cr_assert_eq(kv[2].val.type, MSGPACK_OBJECT_BOOLEAN, "ok");
    cr_assert_eq(kv[2].val.via.boolean, true);
    cr_assert_eq(kv[3].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER, "ts");
    cr_assert_eq(kv[3].val.via.u64, 1705314600000000ULL);
    cr_assert_eq(kv[4].val.type, MSGPACK_OBJECT_FLOAT64, "duration_ms");
    cr_assert_float_eq(kv[4].val.via.f64, 7.0, 1e-12, "the override wins");
    cr_assert_eq(kv[5].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER, "attempt");
    cr_assert_eq(kv[6].val.type, MSGPACK_OBJECT_MAP, "attrs");
    cr_assert_eq(kv[6].val.via.map.size, 1);
    msgpack_unpacked_destroy(&u);
}

Test(event_encode, appends_to_the_buffer)
{
    bm_event ev;
    const char *j = "{\"type\":\"custom\",\"id\":\"a\"}";
    cr_assert_eq(bm_decode_json(dec, j, strlen(j), &ev), BM_DECODE_OK);
    cr_assert_eq(bm_event_encode_msgpack(&ev, -1, &sb), 0);
    size_t one = sb.size;
    cr_assert_eq(bm_event_encode_msgpack(&ev, -1, &sb), 0);
    cr_assert_eq(sb.size, 2 * one);
    cr_assert_eq(memcmp(sb.data, sb.data + one, one), 0);
}

Test(event_encode, times_outside_the_integer_range_round_trip_as_text)
{
    const int64_t times[] = {1,
                             1705000000,            /* "1705": read as seconds */
                             99999999999999LL,      /* just before 1973 */
                             100000000000000LL,     /* the first integer µs */
                             99999999999999999LL,   /* the last integer µs (5138) */
                             100000000000000000LL,  /* ns by magnitude if written as int */
                             253402300799999999LL}; /* 9999-12-31T23:59:59.999999Z */
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        bm_event a, b;
        const char *j = "{\"type\":\"custom\"}";
        cr_assert_eq(bm_decode_json(dec, j, strlen(j), &a), BM_DECODE_OK);
        a.ts_us = times[i];
        msgpack_sbuffer_clear(&sb);
        cr_assert_eq(bm_event_encode_msgpack(&a, -1, &sb), 0);
        cr_assert_eq(bm_decode_msgpack(dec2, sb.data, sb.size, &b), BM_DECODE_OK);
        cr_assert_eq(b.ts_us, times[i], "%lld", (long long)times[i]);
    }
    const char *late = "{\"type\":\"custom\",\"ts\":3e20}";
    bm_event c;
    cr_assert_eq(bm_decode_json(dec, late, strlen(late), &c), BM_DECODE_BAD_FIELD,
                 "after year 9999");
}
