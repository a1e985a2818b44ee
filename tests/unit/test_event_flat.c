/*
 * test_event_flat.c - bm_decode_entry: encoding detection, the size bound,
 * and events spelled as flat stream fields (redis-cli XADD style).
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static bm_decoder *dec;
static bm_event ev;

static void setup(void)
{
    dec = bm_decoder_new(NULL);
    cr_assert_not_null(dec);
}

static void teardown(void)
{
    bm_decoder_free(dec);
}

TestSuite(event_flat, .init = setup, .fini = teardown);

/* Decode NULL-terminated "field", "value", ... pairs. */
static bm_decode_status entry(const char *const *kv)
{
    const char *f[32], *v[32];
    size_t fl[32], vl[32], n = 0;
    for (; kv[2 * n]; n++) {
        f[n] = kv[2 * n];
        v[n] = kv[2 * n + 1];
        fl[n] = strlen(f[n]);
        vl[n] = strlen(v[n]);
    }
    return bm_decode_entry(dec, n, f, fl, v, vl, &ev);
}

#define ENTRY(...) entry((const char *const[]){__VA_ARGS__, NULL})

Test(event_flat, command_with_native_keys)
{
    cr_assert_eq(ENTRY("type", "command", "id", "c-1", "tx", "t-42", "corr", "t-42.fetch", "worker",
                       "fetcher", "step", "fetch", "source", "orch", "ts", "2024-01-15T10:30:00Z",
                       "attempt", "2", "priority", "5", "timeout_seconds", "30", "payload",
                       "{\"url\":\"x\"}", "region", "eu"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.id, "c-1");
    cr_assert_str_eq(ev.tx, "t-42");
    cr_assert_str_eq(ev.corr, "t-42.fetch");
    cr_assert_str_eq(ev.cmd, "");
    cr_assert_str_eq(ev.worker, "fetcher");
    cr_assert_str_eq(ev.step, "fetch");
    cr_assert_str_eq(ev.source, "orch");
    cr_assert_eq(ev.ts_us, 1705314600000000LL);
    cr_assert_eq(ev.attempt, 2);
    cr_assert_eq(ev.priority, 5);
    cr_assert_float_eq(ev.timeout_s, 30.0, 1e-12);
    cr_assert_eq(ev.payload_bytes, strlen("{\"url\":\"x\"}"));
    cr_assert_eq(ev.ok, -1);
    cr_assert_eq(ev.duration_us, -1);
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(ev.attrs[0].key, "region");
    cr_assert_str_eq(ev.attrs[0].value, "eu");
}

/* The step comes from the correlation id when no step is given, in every
 * encoding (the rule lives in bm_evb_finish). */
Test(event_flat, step_from_correlation_id)
{
    cr_assert_eq(ENTRY("type", "command", "id", "c-1", "tx", "t-42", "corr", "t-42.fetch", "worker",
                       "fetcher"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.step, "fetch");
    cr_assert_eq(ENTRY("type", "compensation", "id", "k-1", "tx", "t-42", "corr", "t-42.comp.fetch",
                       "worker", "undo_fetch"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.step, "fetch");
    cr_assert_eq(ENTRY("type", "command", "id", "c-2", "tx", "t-42", "corr", "t-4.fetch", "worker",
                       "fetcher"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.step, "");
}

Test(event_flat, result_ok_texts)
{
    const char *yes[] = {"true", "TRUE", "1", "yes"};
    const char *no[] = {"false", "False", "0", "no"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(ENTRY("type", "result", "tx", "t", "ok", yes[i]), BM_DECODE_OK);
        cr_assert_eq(ev.ok, 1, "%s", yes[i]);
        cr_assert_eq(ENTRY("type", "result", "tx", "t", "success", no[i]), BM_DECODE_OK);
        cr_assert_eq(ev.ok, 0, "%s", no[i]);
    }
    cr_assert_eq(ENTRY("type", "result", "tx", "t", "ok", "2"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "result", "tx", "t", "ok", ""), BM_DECODE_OK, "\"\" is absent");
    cr_assert_eq(ev.ok, -1);
}

/* proto/README.md §1: null and the empty string mean "absent", for every
 * key. A numeric key given as "" (a shell's unset variable in XADD ...
 * duration_ms "$DUR", a producer's empty default) refused the whole event as
 * bad_field; it is absent now, and a weaker alias fills it as for a string. */
Test(event_flat, an_empty_value_is_absent_for_every_key)
{
    static const char *const keys[] = {"duration_ms",
                                       "execution_time_ms",
                                       "timeout_seconds",
                                       "progress",
                                       "attempt",
                                       "retry_count",
                                       "priority",
                                       "ok",
                                       "success",
                                       "payload_bytes",
                                       "ts",
                                       "timestamp"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        cr_assert_eq(ENTRY("type", "result", "tx", "t", keys[i], ""), BM_DECODE_OK, "%s", keys[i]);
        cr_assert_eq(ev.duration_us, -1);
        cr_assert_eq(ev.attempt, -1);
        cr_assert_eq(ev.priority, -1);
        cr_assert_eq(ev.ok, -1);
        cr_assert_float_eq(ev.progress, -1, 1e-12);
        cr_assert_float_eq(ev.timeout_s, 0, 1e-12);
        cr_assert_eq(ev.payload_bytes, 0);
        cr_assert_eq(ev.ts_us, 0);
    }
    cr_assert_eq(ENTRY("type", "result", "tx", "t", "duration_ms", "", "execution_time_ms", "5",
                       "ok", "", "success", "false", "attempt", "", "retry_count", "2"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.duration_us, 5000, "the alias fills it");
    cr_assert_eq(ev.ok, 0);
    cr_assert_eq(ev.attempt, 2);
    const char json[] = "{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\","
                        "\"timeout_seconds\":\"\",\"priority\":\"\",\"progress\":\"\"}";
    cr_assert_eq(bm_decode_json(dec, json, sizeof json - 1, &ev), BM_DECODE_OK);
    cr_assert_eq(ev.priority, -1);
    cr_assert_eq(ENTRY("type", "metric", "name", "m", "value", ""), BM_DECODE_BAD_FIELD);
    cr_assert_str_eq(bm_decoder_detail(dec, BM_DECODE_BAD_FIELD), "metric 'm' has no value");
}

Test(event_flat, error_text_and_aliases)
{
    cr_assert_eq(ENTRY("type", "error", "transaction_id", "t", "worker_name", "w", "correlation_id",
                       "c", "command_id", "k", "error", "TimeoutError: upstream took 30s",
                       "retry_count", "1", "execution_time_ms", "30000.4", "action", "call"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_ERROR);
    cr_assert_str_eq(ev.tx, "t");
    cr_assert_str_eq(ev.worker, "w");
    cr_assert_str_eq(ev.corr, "c");
    cr_assert_str_eq(ev.cmd, "k");
    cr_assert_str_eq(ev.step, "call");
    cr_assert_str_eq(ev.error_type, "TimeoutError");
    cr_assert_str_eq(ev.error_message, "upstream took 30s");
    cr_assert_eq(ev.attempt, 1);
    cr_assert_eq(ev.duration_us, 30000400);
    cr_assert_eq(ev.ok, -1);

    cr_assert_eq(ENTRY("type", "error", "tx", "t", "worker_type", "wt", "error_type", "E",
                       "error_message", "m", "error_code", "C"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "wt");
    cr_assert_str_eq(ev.error_type, "E");
    cr_assert_str_eq(ev.error_message, "m");
}

/* The error string is free text: its head is a type only when it could be
 * one (an identity). A head holding a newline or a byte that is not UTF-8
 * made the type an identity that is not one, and the whole event was
 * refused as bad_id; now the text is all message, as a head with a blank. */
Test(event_flat, error_text_whose_head_is_no_name_is_all_message)
{
    static const char *const texts[] = {"Traceback\nValueError: bad",
                                        "Caf\xe9"
                                        "Error: x",
                                        "tab\tin: head", "esc\x1b[31m: red"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        cr_assert_eq(ENTRY("type", "error", "tx", "t", "worker", "w", "error", texts[i]),
                     BM_DECODE_OK, "%s", texts[i]);
        cr_assert_str_eq(ev.error_type, "", "%s", texts[i]);
        cr_assert_eq(strlen(ev.error_message), strlen(texts[i]), "%s", texts[i]);
        cr_assert_eq(ENTRY("type", "result", "tx", "t", "error", texts[i]), BM_DECODE_OK);
        cr_assert_eq(ev.ok, 0);
        cr_assert_str_eq(ev.error_type, "");
    }
    const char json[] = "{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\","
                        "\"error\":\"Traceback\\nValueError: bad\"}";
    cr_assert_eq(bm_decode_json(dec, json, sizeof json - 1, &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "Traceback\nValueError: bad");
    /* a type given as such is still an identity: refused when it is not one */
    cr_assert_eq(ENTRY("type", "error", "tx", "t", "worker", "w", "error_type", "a\nb"),
                 BM_DECODE_BAD_ID);
}

/* proto/README.md §4: an attribute whose key is longer than 512 bytes is
 * dropped, and the first 8 attributes are kept. The dropped one still took
 * one of the 8 places, so an event with 8 good attributes after it kept 7. */
Test(event_flat, a_dropped_attribute_takes_no_place_among_the_eight)
{
    char long_key[514];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    cr_assert_eq(ENTRY("type", "status", "tx", "t", long_key, "x", "a1", "1", "a2", "2", "a3", "3",
                       "a4", "4", "a5", "5", "a6", "6", "a7", "7", "a8", "8", "a9", "9"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, BM_EVENT_MAX_ATTRS, "%u kept", ev.n_attrs);
    cr_assert_str_eq(ev.attrs[0].key, "a1");
    cr_assert_str_eq(ev.attrs[7].key, "a8");
    long_key[512] = '\0'; /* exactly the bound: kept */
    cr_assert_eq(ENTRY("type", "status", "tx", "t", long_key, "x"), BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_eq(strlen(ev.attrs[0].key), 512);
}

Test(event_flat, status_and_timestamp_alias)
{
    cr_assert_eq(ENTRY("type", "status", "tx", "t", "status", "running", "progress", "0.25",
                       "message", "half way there", "timestamp", "1705314600.25"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_str_eq(ev.status, "running");
    cr_assert_str_eq(ev.message, "half way there");
    cr_assert_float_eq(ev.progress, 0.25, 1e-12);
    cr_assert_eq(ev.ts_us, 1705314600250000LL);
}

Test(event_flat, result_worker_from_source)
{
    cr_assert_eq(ENTRY("type", "result", "tx", "t", "source", "research"), BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(ENTRY("type", "result", "tx", "t"), BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "", "the trace fills it from the command");
    cr_assert_eq(ENTRY("type", "command", "tx", "t", "source", "orch"), BM_DECODE_MISSING_WORKER,
                 "a command's source is not its worker");
}

Test(event_flat, every_failure_reason)
{
    cr_assert_eq(bm_decode_entry(dec, 0, NULL, NULL, NULL, NULL, &ev), BM_DECODE_EMPTY);
    cr_assert_eq(ENTRY("tx", "t", "worker", "w"), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(ENTRY("type", "ping", "tx", "t"), BM_DECODE_UNKNOWN_TYPE);
    cr_assert_eq(ENTRY("type", "result", "worker", "w"), BM_DECODE_MISSING_TX);
    cr_assert_eq(ENTRY("type", "error", "tx", "t"), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(ENTRY("type", "command", "tx", "t", "worker", "w", "ts", "soon"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "command", "tx", "t", "worker", "w", "attempt", "-1"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "command", "tx", "t", "worker", "w", "duration_ms", "fast"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "command", "tx", "t", "worker", "w", "timeout_seconds", "x"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "status", "tx", "t", "progress", "-0.5"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("m", "\x81"), BM_DECODE_NOT_MSGPACK);
    cr_assert_eq(ENTRY("m", "\x93\x01\x02\x03"), BM_DECODE_NOT_MAP);
    cr_assert_eq(ENTRY("m", ""), BM_DECODE_EMPTY);
    cr_assert_eq(ENTRY("json", "{"), BM_DECODE_NOT_JSON);
    cr_assert_eq(ENTRY("data", "[]"), BM_DECODE_JSON_NOT_OBJECT);
}

Test(event_flat, names_are_stable)
{
    const char *want[] = {"ok",
                          "empty",
                          "oversized",
                          "not_msgpack",
                          "msgpack_not_map",
                          "not_json",
                          "json_not_object",
                          "missing_type",
                          "unknown_type",
                          "missing_tx",
                          "missing_worker",
                          "bad_field",
                          "bad_id",
                          "nomem"};
    cr_assert_eq(sizeof(want) / sizeof(want[0]), BM_DECODE__COUNT);
    for (int i = 0; i < BM_DECODE__COUNT; i++)
        cr_assert_str_eq(bm_decode_status_name((bm_decode_status)i), want[i]);
    cr_assert_str_eq(bm_decode_status_name(BM_DECODE__COUNT), "unknown");
    const char *types[] = {"command", "result", "error", "status", "compensation", "custom"};
    for (int i = 0; i < BM_EV__COUNT; i++)
        cr_assert_str_eq(bm_event_type_name((bm_event_type)i), types[i]);
    cr_assert_str_eq(bm_event_type_name(BM_EV__COUNT), "unknown");
}

Test(event_flat, detection_prefers_msgpack_then_json)
{
    /* {"type":"custom","id":"from-m"} */
    const char m[] = "\x82\xa4type\xa6"
                     "custom\xa2id\xa6"
                     "from-m";
    const char *f[] = {"type", "json", "msgpack"};
    const char *v[] = {"command", "{\"type\":\"custom\",\"id\":\"from-json\"}", m};
    size_t fl[] = {4, 4, 7}, vl[] = {7, strlen(v[1]), sizeof(m) - 1};
    cr_assert_eq(bm_decode_entry(dec, 3, f, fl, v, vl, &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.id, "from-m");
    cr_assert_eq(bm_decode_entry(dec, 2, f, fl, v, vl, &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.id, "from-json");
    const char *aliases[] = {"data", "event", "envelope"};
    for (size_t i = 0; i < 3; i++) {
        const char *f2[] = {"x", aliases[i]};
        size_t fl2[] = {1, strlen(aliases[i])};
        const char *v2[] = {"1", v[1]};
        size_t vl2[] = {1, vl[1]};
        cr_assert_eq(bm_decode_entry(dec, 2, f2, fl2, v2, vl2, &ev), BM_DECODE_OK);
        cr_assert_str_eq(ev.id, "from-json", "%s", aliases[i]);
        cr_assert_eq(ev.n_attrs, 0, "the other fields are not read");
    }
    const char *f3[] = {"m"};
    size_t fl3[] = {1};
    const char *v3[] = {m};
    size_t vl3[] = {sizeof(m) - 1};
    cr_assert_eq(bm_decode_entry(dec, 1, f3, fl3, v3, vl3, &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.id, "from-m");
}

Test(event_flat, oversized_before_parsing)
{
    size_t big = 10u * 1024 * 1024;
    char *blob = malloc(big);
    cr_assert_not_null(blob);
    memset(blob, '{', big); /* would be not_json if it were parsed */
    const char *f[] = {"json"};
    size_t fl[] = {4}, vl[] = {big};
    const char *v[] = {blob};
    cr_assert_eq(bm_decode_entry(dec, 1, f, fl, v, vl, &ev), BM_DECODE_OVERSIZED);
    f[0] = "note";
    cr_assert_eq(bm_decode_entry(dec, 1, f, fl, v, vl, &ev), BM_DECODE_OVERSIZED);
    free(blob);

    bm_decode_limits lim = {.max_entry_bytes = 20};
    bm_decoder *d = bm_decoder_new(&lim);
    const char *f2[] = {"type", "tx", "xxxxxxx"};
    const char *v2[] = {"custom", "t", "y"};
    size_t fl2[] = {4, 2, 7}, vl2[] = {6, 1, 1};
    cr_assert_eq(bm_decode_entry(d, 2, f2, fl2, v2, vl2, &ev), BM_DECODE_OK, "13 bytes");
    cr_assert_eq(bm_decode_entry(d, 3, f2, fl2, v2, vl2, &ev), BM_DECODE_OVERSIZED, "21 bytes");
    vl2[2] = 0;
    cr_assert_eq(bm_decode_entry(d, 3, f2, fl2, v2, vl2, &ev), BM_DECODE_OK, "exactly 20");
    bm_decoder_free(d);
}

Test(event_flat, redaction)
{
    cr_assert_eq(ENTRY("type", "custom", "db_password", "p", "Authorization", "Bearer x", "ssn",
                       "123", "classname", "Foo", "apikey", "k", "private-key", "pk", "credit_card",
                       "4111", "user", "bob"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, 8);
    const char *want[] = {"[REDACTED]", "[REDACTED]", "[REDACTED]", "Foo",
                          "[REDACTED]", "[REDACTED]", "[REDACTED]", "bob"};
    for (unsigned i = 0; i < 8; i++)
        cr_assert_str_eq(ev.attrs[i].value, want[i], "%s", ev.attrs[i].key);

    cr_assert(bm_key_is_secret("PASSWD", 6));
    cr_assert(bm_key_is_secret("x_token_y", 9));
    cr_assert(bm_key_is_secret("api-key", 7));
    cr_assert(bm_key_is_secret("client_secret", 13));
    cr_assert(bm_key_is_secret("user_ssn", 8));
    cr_assert_not(bm_key_is_secret("passwords", 4), "only the given length counts");
    cr_assert_not(bm_key_is_secret("businessname", 12));
    cr_assert(bm_key_is_secret("tokenizer_model", 5));
    cr_assert_not(bm_key_is_secret("region", 6));
    cr_assert_not(bm_key_is_secret(NULL, 0));
}
