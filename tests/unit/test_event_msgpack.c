/*
 * test_event_msgpack.c - the msgpack encoding: native and framework keys as
 * a msgpack map, payload spans, and the framing failures (truncated,
 * trailing bytes, not a map, random bytes).
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static bm_decoder *dec;
static bm_event ev;
static msgpack_sbuffer sb;
static msgpack_packer pk;

static void setup(void)
{
    dec = bm_decoder_new(NULL);
    cr_assert_not_null(dec);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void teardown(void)
{
    msgpack_sbuffer_destroy(&sb);
    bm_decoder_free(dec);
}

TestSuite(event_msgpack, .init = setup, .fini = teardown);

static void s(const char *str)
{
    msgpack_pack_str(&pk, strlen(str));
    msgpack_pack_str_body(&pk, str, strlen(str));
}

static void kv(const char *k, const char *v)
{
    s(k);
    s(v);
}

static bm_decode_status decode(void)
{
    return bm_decode_msgpack(dec, sb.data, sb.size, &ev);
}

Test(event_msgpack, native_result)
{
    msgpack_pack_map(&pk, 16);
    kv("type", "result");
    kv("id", "r-1");
    kv("tx", "t-1");
    kv("corr", "t-1.parse");
    kv("cmd", "c-1");
    s("ok");
    msgpack_pack_false(&pk);
    kv("worker", "parser");
    kv("step", "parse");
    s("ts");
    msgpack_pack_int64(&pk, 1705314600123456LL);
    s("duration_ms");
    msgpack_pack_double(&pk, 12.5);
    s("error");
    msgpack_pack_map(&pk, 2);
    kv("type", "ParseError");
    kv("message", "line 3");
    s("attempt");
    msgpack_pack_uint8(&pk, 1);
    s("priority");
    msgpack_pack_int8(&pk, 3);
    s("payload");
    size_t before = sb.size;
    msgpack_pack_map(&pk, 1);
    s("rows");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 300);
    size_t payload_len = sb.size - before;
    s("tenant");
    msgpack_pack_uint64(&pk, 18446744073709551615ULL);
    s("weight");
    msgpack_pack_float(&pk, 0.5f);

    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.id, "r-1");
    cr_assert_str_eq(ev.tx, "t-1");
    cr_assert_str_eq(ev.corr, "t-1.parse");
    cr_assert_str_eq(ev.cmd, "c-1");
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.worker, "parser");
    cr_assert_str_eq(ev.step, "parse");
    cr_assert_eq(ev.ts_us, 1705314600123456LL);
    cr_assert_eq(ev.duration_us, 12500);
    cr_assert_str_eq(ev.error_type, "ParseError");
    cr_assert_str_eq(ev.error_message, "line 3");
    cr_assert_eq(ev.attempt, 1);
    cr_assert_eq(ev.priority, 3);
    cr_assert_eq(ev.payload_bytes, payload_len, "the bytes the payload spans");
    cr_assert_eq(payload_len, 11); /* 81 a4"rows" 92 01 cd012c */
    cr_assert_eq(ev.n_attrs, 2);
    cr_assert_str_eq(ev.attrs[0].key, "tenant");
    cr_assert_str_eq(ev.attrs[0].value, "18446744073709551615");
    cr_assert_str_eq(ev.attrs[1].key, "weight");
    cr_assert_str_eq(ev.attrs[1].value, "0.5");
}

Test(event_msgpack, framework_shape)
{
    msgpack_pack_map(&pk, 8);
    kv("id", "7d3c");
    kv("type", "command");
    s("metadata");
    msgpack_pack_map(&pk, 5);
    kv("transaction_id", "wf-1");
    kv("correlation_id", "wf-1.research");
    kv("timestamp", "2024-01-15T10:30:00.123456");
    kv("source", "orchestrator");
    kv("version", "2");
    s("payload");
    msgpack_pack_map(&pk, 0);
    kv("worker_type", "research");
    s("timeout_seconds");
    msgpack_pack_double(&pk, 300.0);
    s("priority");
    msgpack_pack_double(&pk, 1.0);
    s("retry_count");
    msgpack_pack_int(&pk, 0);

    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.id, "7d3c");
    cr_assert_str_eq(ev.tx, "wf-1");
    cr_assert_str_eq(ev.corr, "wf-1.research");
    cr_assert_str_eq(ev.source, "orchestrator");
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(ev.ts_us, 1705314600123456LL);
    cr_assert_float_eq(ev.timeout_s, 300.0, 1e-12);
    cr_assert_eq(ev.priority, 1);
    cr_assert_eq(ev.attempt, 0);
    cr_assert_eq(ev.payload_bytes, 1);
    cr_assert_eq(ev.n_attrs, 0, "unknown metadata keys are not attributes");
}

Test(event_msgpack, result_failure_with_details)
{
    msgpack_pack_map(&pk, 6);
    kv("type", "result");
    s("metadata");
    msgpack_pack_map(&pk, 2);
    kv("transaction_id", "wf-2");
    kv("source", "research");
    kv("command_id", "c-9");
    s("success");
    msgpack_pack_false(&pk);
    kv("error_message", "Connection timeout");
    s("error_details");
    msgpack_pack_map(&pk, 2);
    kv("error_type", "NetworkError");
    s("retry_after");
    msgpack_pack_int(&pk, 5);

    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.tx, "wf-2");
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.cmd, "c-9");
    cr_assert_str_eq(ev.error_type, "NetworkError");
    cr_assert_str_eq(ev.error_message, "Connection timeout");
    cr_assert_eq(ev.n_attrs, 0);
}

Test(event_msgpack, ignores_non_string_keys_and_ext)
{
    msgpack_pack_map(&pk, 5);
    kv("type", "custom");
    msgpack_pack_int(&pk, 7); /* integer key */
    s("seven");
    msgpack_pack_array(&pk, 1); /* array key */
    msgpack_pack_int(&pk, 1);
    msgpack_pack_map(&pk, 1);
    s("a");
    s("b");
    s("ext");
    msgpack_pack_ext(&pk, 4, 1);
    msgpack_pack_ext_body(&pk, "abcd", 4);
    s("raw");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "xyz", 3);

    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_CUSTOM);
    cr_assert_eq(ev.n_attrs, 1, "ext values are skipped, bin reads as text");
    cr_assert_str_eq(ev.attrs[0].key, "raw");
    cr_assert_str_eq(ev.attrs[0].value, "xyz");
}

Test(event_msgpack, framing_failures)
{
    msgpack_pack_map(&pk, 3);
    kv("type", "command");
    kv("tx", "t");
    kv("worker", "w");
    cr_assert_eq(decode(), BM_DECODE_OK);
    for (size_t cut = 1; cut < sb.size; cut++)
        cr_assert_eq(bm_decode_msgpack(dec, sb.data, cut, &ev), BM_DECODE_NOT_MSGPACK,
                     "truncated at %zu", cut);
    msgpack_pack_nil(&pk); /* trailing object */
    cr_assert_eq(decode(), BM_DECODE_NOT_MSGPACK);

    cr_assert_eq(bm_decode_msgpack(dec, "", 0, &ev), BM_DECODE_EMPTY);
    cr_assert_eq(bm_decode_msgpack(dec, "\xc1", 1, &ev), BM_DECODE_NOT_MSGPACK);
    cr_assert_eq(bm_decode_msgpack(dec,
                                   "\xa3"
                                   "abc",
                                   4, &ev),
                 BM_DECODE_NOT_MAP);
    cr_assert_eq(bm_decode_msgpack(dec, "\x2a", 1, &ev), BM_DECODE_NOT_MAP);
    cr_assert_eq(bm_decode_msgpack(dec, "\x80", 1, &ev), BM_DECODE_MISSING_TYPE);
    /* map32 claiming 4 billion pairs in five bytes */
    cr_assert_eq(bm_decode_msgpack(dec, "\xdf\xff\xff\xff\xff", 5, &ev), BM_DECODE_NOT_MSGPACK);
    /* array32 of 4 billion nested arrays: skipped without recursion */
    cr_assert_eq(bm_decode_msgpack(dec, "\xdd\xff\xff\xff\xff\x91\x91\x91", 8, &ev),
                 BM_DECODE_NOT_MSGPACK);
}

Test(event_msgpack, semantic_failures)
{
    msgpack_pack_map(&pk, 2);
    kv("type", "command");
    s("tx");
    msgpack_pack_array(&pk, 0);
    cr_assert_eq(decode(), BM_DECODE_BAD_FIELD);

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    kv("type", "command");
    kv("tx", "t");
    kv("worker", "w");
    s("ts");
    msgpack_pack_int(&pk, -5);
    cr_assert_eq(decode(), BM_DECODE_NOT_MSGPACK, "4 pairs written, 3 announced");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 4);
    kv("type", "command");
    kv("tx", "t");
    kv("worker", "w");
    s("ts");
    msgpack_pack_int(&pk, -5);
    cr_assert_eq(decode(), BM_DECODE_BAD_FIELD, "negative time");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    kv("type", "error");
    s("tx");
    msgpack_pack_int(&pk, 42);
    cr_assert_eq(decode(), BM_DECODE_MISSING_WORKER);

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    kv("type", "error");
    s("tx");
    msgpack_pack_int(&pk, 42);
    s("worker");
    msgpack_pack_nil(&pk);
    cr_assert_eq(decode(), BM_DECODE_MISSING_WORKER, "nil is absent");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    kv("type", "error");
    s("tx");
    msgpack_pack_int(&pk, 42);
    kv("worker", "w");
    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "42", "a numeric id reads as its decimal text");
}

Test(event_msgpack, random_bytes_never_crash)
{
    unsigned seed = 12345;
    char buf[256];
    int ok = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)rand_r(&seed);
        if (round % 2) buf[0] = (char)(0x80 | (rand_r(&seed) & 0x0f)); /* start as a fixmap */
        bm_decode_status st = bm_decode_msgpack(dec, buf, len, &ev);
        cr_assert(st < BM_DECODE__COUNT);
        ok += st == BM_DECODE_OK;
        bm_decode_json(dec, buf, len, &ev);
    }
    cr_assert_lt(ok, 20000);
}

Test(event_msgpack, strings_do_not_point_into_input)
{
    msgpack_pack_map(&pk, 3);
    kv("type", "command");
    kv("tx", "t-1");
    kv("worker", "w");
    cr_assert_eq(decode(), BM_DECODE_OK);
    memset(sb.data, 0, sb.size);
    cr_assert_str_eq(ev.tx, "t-1");
    cr_assert_str_eq(ev.worker, "w");
}

Test(event_msgpack, strings_end_at_nul)
{
    msgpack_pack_map(&pk, 4);
    kv("type", "custom");
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "tx\0y", 4); /* key "tx\0y" reads as "tx" */
    s("t-1");
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "\0k", 2); /* an attribute key that is empty as a C string */
    s("v");
    s("message");
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "\0ab", 3);
    cr_assert_eq(decode(), BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "", "keys are compared with their full length");
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(ev.attrs[0].key, "tx");
    cr_assert_str_eq(ev.attrs[0].value, "t-1");
    cr_assert_str_eq(ev.message, "", "free text empty as a C string is absent");
}

Test(event_msgpack, identities_with_nul_are_refused_not_cut)
{
    msgpack_pack_map(&pk, 3);
    kv("type", "command");
    kv("tx", "t-1");
    s("worker");
    msgpack_pack_str(&pk, 10);
    msgpack_pack_str_body(&pk, "nul\0worker", 10);
    cr_assert_eq(decode(), BM_DECODE_BAD_ID, "never 'nul'");
    cr_assert_str_eq(bm_decoder_detail(dec, BM_DECODE_BAD_ID), "worker holds a NUL byte at byte 3");
    cr_assert_str_eq(ev.worker, "", "a refused decode leaves a reset event");
}
