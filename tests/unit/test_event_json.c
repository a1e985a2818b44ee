/*
 * test_event_json.c - the JSON encoding: busmon keys, every alias, the
 * MultiAgents Framework's wire shapes byte for byte, and the JSON failures.
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <stdio.h>
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

TestSuite(event_json, .init = setup, .fini = teardown);

static bm_decode_status dj(const char *s)
{
    return bm_decode_json(dec, s, strlen(s), &ev);
}

static const char *attr(const char *key)
{
    for (unsigned i = 0; i < ev.n_attrs; i++)
        if (strcmp(ev.attrs[i].key, key) == 0) return ev.attrs[i].value;
    return NULL;
}

/* The framework's CommandEvent as it goes on the wire. */
static const char mf_command[] =
    "{\"id\":\"7d3c1f2e-5b6a-4c8d-9e0f-1a2b3c4d5e6f\",\"type\":\"command\","
    "\"metadata\":{\"transaction_id\":\"wf-3f2a9c\",\"correlation_id\":\"wf-3f2a9c.research\","
    "\"timestamp\":\"2024-01-15T10:30:00.123456\",\"source\":\"orchestrator\"},"
    "\"payload\":{\"query\":\"quantum computing\",\"max_results\":10},"
    "\"worker_type\":\"research\",\"timeout_seconds\":300.0,\"priority\":1}";

Test(event_json, multiagents_command)
{
    cr_assert_eq(dj(mf_command), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.id, "7d3c1f2e-5b6a-4c8d-9e0f-1a2b3c4d5e6f");
    cr_assert_str_eq(ev.tx, "wf-3f2a9c");
    cr_assert_str_eq(ev.corr, "wf-3f2a9c.research");
    cr_assert_str_eq(ev.cmd, "");
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.step, "research"); /* the correlation id's suffix */
    cr_assert_str_eq(ev.source, "orchestrator");
    cr_assert_eq(ev.ts_us, 1705314600123456LL);
    cr_assert_eq(ev.duration_us, -1);
    cr_assert_eq(ev.ok, -1);
    cr_assert_eq(ev.priority, 1);
    cr_assert_eq(ev.attempt, -1);
    cr_assert_float_eq(ev.timeout_s, 300.0, 1e-9);
    cr_assert_eq(ev.progress, -1);
    cr_assert_eq(ev.payload_bytes, strlen("{\"query\":\"quantum computing\",\"max_results\":10}"));
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "");
    cr_assert_eq(ev.n_attrs, 0);
}

Test(event_json, multiagents_result_success)
{
    const char *s = "{\"id\":\"c0ffee00-0000-4000-8000-000000000002\",\"type\":\"result\","
                    "\"metadata\":{\"transaction_id\":\"wf-3f2a9c\","
                    "\"correlation_id\":\"wf-3f2a9c.research\","
                    "\"timestamp\":\"2024-01-15T10:30:02.5\",\"source\":\"research\"},"
                    "\"payload\":{\"documents\":[\"a\",\"b\"]},"
                    "\"command_id\":\"7d3c1f2e-5b6a-4c8d-9e0f-1a2b3c4d5e6f\",\"success\":true,"
                    "\"error_message\":null,\"error_details\":null,\"execution_time_ms\":2376.5}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.id, "c0ffee00-0000-4000-8000-000000000002");
    cr_assert_str_eq(ev.tx, "wf-3f2a9c");
    cr_assert_str_eq(ev.corr, "wf-3f2a9c.research");
    cr_assert_str_eq(ev.cmd, "7d3c1f2e-5b6a-4c8d-9e0f-1a2b3c4d5e6f");
    cr_assert_str_eq(ev.worker, "research", "a result's worker is metadata.source");
    cr_assert_str_eq(ev.source, "research");
    cr_assert_eq(ev.ok, 1);
    cr_assert_eq(ev.ts_us, 1705314602500000LL);
    cr_assert_eq(ev.duration_us, 2376500);
    cr_assert_eq(ev.payload_bytes, strlen("{\"documents\":[\"a\",\"b\"]}"));
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "");
    cr_assert_eq(ev.n_attrs, 0);
}

Test(event_json, multiagents_result_failure)
{
    const char *s = "{\"id\":\"c0ffee00-0000-4000-8000-000000000003\",\"type\":\"result\","
                    "\"metadata\":{\"transaction_id\":\"wf-3f2a9c\","
                    "\"correlation_id\":\"wf-3f2a9c.research\","
                    "\"timestamp\":\"2024-01-15T10:30:05\",\"source\":\"research\"},"
                    "\"payload\":{},\"command_id\":\"7d3c1f2e\",\"success\":false,"
                    "\"error_message\":\"Connection timeout\","
                    "\"error_details\":{\"error_type\":\"NetworkError\",\"host\":\"api\"}}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT, "a failed result stays a result");
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.cmd, "7d3c1f2e");
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.error_type, "NetworkError");
    cr_assert_str_eq(ev.error_message, "Connection timeout");
    cr_assert_eq(ev.ts_us, 1705314605000000LL);
    cr_assert_eq(ev.payload_bytes, 2);
    cr_assert_eq(ev.n_attrs, 0, "error_details' other keys are not attributes");
}

Test(event_json, multiagents_error_event)
{
    const char *s = "{\"id\":\"e1\",\"type\":\"error\","
                    "\"metadata\":{\"transaction_id\":\"wf-1\",\"correlation_id\":\"wf-1.analyze\","
                    "\"timestamp\":\"2024-01-15T10:31:00Z\",\"source\":\"analysis\"},"
                    "\"payload\":{},\"error_code\":\"WORKER_CRASH\","
                    "\"error_message\":\"segfault in model\",\"recoverable\":true}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_ERROR);
    cr_assert_str_eq(ev.tx, "wf-1");
    cr_assert_str_eq(ev.worker, "analysis", "an error with no worker: its source");
    cr_assert_str_eq(ev.error_type, "WORKER_CRASH");
    cr_assert_str_eq(ev.error_message, "segfault in model");
    cr_assert_eq(ev.ok, -1);
    cr_assert_eq(ev.ts_us, 1705314660000000LL);
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(attr("recoverable"), "true");
}

Test(event_json, multiagents_status)
{
    const char *s = "{\"id\":\"s1\",\"type\":\"status\","
                    "\"metadata\":{\"transaction_id\":\"wf-1\",\"correlation_id\":\"wf-1\","
                    "\"timestamp\":\"2024-01-15T10:30:01.000001\",\"source\":\"orchestrator\"},"
                    "\"payload\":{},\"status\":\"running\",\"progress\":0.5,"
                    "\"message\":\"step 2 of 4\"}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_str_eq(ev.tx, "wf-1");
    cr_assert_str_eq(ev.status, "running");
    cr_assert_str_eq(ev.message, "step 2 of 4");
    cr_assert_float_eq(ev.progress, 0.5, 1e-12);
    cr_assert_str_eq(ev.worker, "");
    cr_assert_str_eq(ev.source, "orchestrator");
    cr_assert_eq(ev.ts_us, 1705314601000001LL);
    cr_assert_eq(ev.ok, -1);
}

Test(event_json, multiagents_compensation)
{
    const char *s = "{\"id\":\"k1\",\"type\":\"compensation\","
                    "\"metadata\":{\"transaction_id\":\"wf-9\",\"correlation_id\":\"wf-9.book\","
                    "\"timestamp\":\"2024-01-15T10:35:00.5+01:00\",\"source\":\"orchestrator\"},"
                    "\"payload\":{\"undo\":\"book\"},\"worker_type\":\"booking\","
                    "\"original_command_id\":\"c-77\",\"reason\":\"payment failed\"}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMPENSATION);
    cr_assert_str_eq(ev.tx, "wf-9");
    cr_assert_str_eq(ev.corr, "wf-9.book");
    cr_assert_str_eq(ev.step, "book");
    cr_assert_str_eq(ev.worker, "booking");
    cr_assert_eq(ev.ts_us, 1705311300500000LL);
    cr_assert_eq(ev.payload_bytes, strlen("{\"undo\":\"book\"}"));
    cr_assert_eq(ev.n_attrs, 2);
    cr_assert_str_eq(ev.attrs[0].key, "original_command_id");
    cr_assert_str_eq(ev.attrs[0].value, "c-77");
    cr_assert_str_eq(ev.attrs[1].key, "reason");
    cr_assert_str_eq(ev.attrs[1].value, "payment failed");
}

/* The framework carries the step in correlation_id: "<tx>.<step>", and
 * "<tx>.comp.<step>" for the compensation of <step>. */
static const char *step_of(const char *tx, const char *corr, const char *step)
{
    static char s[512];
    snprintf(s, sizeof s,
             "{\"type\":\"result\",\"id\":\"r\",\"metadata\":{\"transaction_id\":\"%s\","
             "\"correlation_id\":\"%s\",\"source\":\"w\"}%s%s%s}",
             tx, corr, step ? ",\"step\":\"" : "", step ? step : "", step ? "\"" : "");
    cr_assert_eq(dj(s), BM_DECODE_OK, "%s", s);
    return ev.step;
}

Test(event_json, step_from_correlation_id)
{
    cr_assert_str_eq(step_of("tx-1", "tx-1.charge", NULL), "charge");
    cr_assert_str_eq(step_of("tx-1", "tx-1.comp.reserve", NULL), "reserve");
    cr_assert_str_eq(step_of("tx-1", "tx-1.charge.retry", NULL), "charge.retry");
    cr_assert_str_eq(step_of("tx-1", "tx-1.charge", "pay"), "pay", "the body's step wins");
    cr_assert_str_eq(step_of("tx-1", "tx-1", NULL), "", "a correlation id that is the tx");
    cr_assert_str_eq(step_of("tx-1", "tx-1.", NULL), "", "nothing after the dot");
    cr_assert_str_eq(step_of("tx-1", "tx-10.charge", NULL), "", "another tx's prefix");
    cr_assert_str_eq(step_of("tx-1", "other.charge", NULL), "", "not the tx");
    cr_assert_str_eq(step_of("tx-1", "tx-1:charge", NULL), "", "no dot");
}

Test(event_json, documented_event_type_names)
{
    const char *s = "{\"event_type\":\"CommandEvent\",\"transaction_id\":\"t1\","
                    "\"correlation_id\":\"c1\",\"worker_name\":\"w1\",\"timestamp\":1705314600}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.tx, "t1");
    cr_assert_str_eq(ev.corr, "c1");
    cr_assert_str_eq(ev.worker, "w1");
    cr_assert_eq(ev.ts_us, 1705314600000000LL);

    cr_assert_eq(dj("{\"event_type\":\"resultevent\",\"transaction_id\":\"t\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_eq(dj("{\"event_type\":\"ErrorEvent\",\"tx\":\"t\",\"worker\":\"w\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_ERROR);
    cr_assert_eq(dj("{\"event_type\":\"StatusEvent\",\"tx\":\"t\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_eq(dj("{\"event_type\":\"CompensationEvent\",\"tx\":\"t\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMPENSATION);
    cr_assert_eq(dj("{\"type\":\"CUSTOM\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_CUSTOM);
}

Test(event_json, native_keys_beat_aliases_in_any_order)
{
    const char *s = "{\"metadata\":{\"transaction_id\":\"meta-tx\",\"correlation_id\":\"meta-c\","
                    "\"timestamp\":\"2024-01-15T00:00:00\",\"source\":\"meta-src\"},"
                    "\"transaction_id\":\"alias-tx\",\"tx\":\"native-tx\","
                    "\"correlation_id\":\"alias-c\",\"worker_type\":\"wt\",\"worker_name\":\"wn\","
                    "\"action\":\"act\",\"command\":\"cmdname\","
                    "\"timestamp\":1705363200.5,\"type\":\"command\","
                    "\"event_type\":\"ResultEvent\",\"retry_count\":3,\"source\":\"top-src\"}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND, "type beats event_type");
    cr_assert_str_eq(ev.tx, "native-tx");
    cr_assert_str_eq(ev.corr, "alias-c");
    cr_assert_str_eq(ev.worker, "wn");
    cr_assert_str_eq(ev.step, "cmdname");
    cr_assert_str_eq(ev.source, "top-src");
    cr_assert_eq(ev.ts_us, 1705363200500000LL, "top-level timestamp beats metadata.timestamp");
    cr_assert_eq(ev.attempt, 3);
}

/* A time of 0 means absent (proto/README.md §2), as null and "" do: an
 * alias fills it. A top-level "ts": 0 (a producer's default) took the rank
 * and metadata.timestamp was thrown away, the event getting its entry's time. */
Test(event_json, a_zero_time_is_absent_and_lets_an_alias_fill_it)
{
    static const char *const zeros[] = {"0",    "0.0", "\"0\"", "\"1970-01-01T00:00:00Z\"",
                                        "null", "\"\""};
    for (size_t i = 0; i < sizeof zeros / sizeof *zeros; i++) {
        char s[256];
        snprintf(s, sizeof s,
                 "{\"type\":\"status\",\"tx\":\"t\",\"ts\":%s,"
                 "\"metadata\":{\"timestamp\":\"2024-01-15T10:30:00Z\"}}",
                 zeros[i]);
        cr_assert_eq(dj(s), BM_DECODE_OK, "%s", s);
        cr_assert_eq(ev.ts_us, 1705314600000000LL, "ts %s", zeros[i]);
    }
    cr_assert_eq(dj("{\"type\":\"status\",\"tx\":\"t\",\"ts\":0}"), BM_DECODE_OK);
    cr_assert_eq(ev.ts_us, 0, "alone, still absent");
}

Test(event_json, every_native_key)
{
    const char *s = "{\"id\":\"i\",\"type\":\"result\",\"tx\":\"t\",\"corr\":\"c\",\"cmd\":\"k\","
                    "\"ok\":false,\"worker\":\"w\",\"step\":\"s\",\"source\":\"src\","
                    "\"ts\":1705314600123456,\"duration_ms\":12.345,"
                    "\"error\":{\"type\":\"E\",\"message\":\"m\"},\"attempt\":2,\"priority\":7,"
                    "\"status\":\"done\",\"message\":\"hello\",\"timeout_seconds\":1.5,"
                    "\"progress\":100,\"payload\":\"abc\",\"extra\":42}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.id, "i");
    cr_assert_str_eq(ev.tx, "t");
    cr_assert_str_eq(ev.corr, "c");
    cr_assert_str_eq(ev.cmd, "k");
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.worker, "w");
    cr_assert_str_eq(ev.step, "s");
    cr_assert_str_eq(ev.source, "src");
    cr_assert_eq(ev.ts_us, 1705314600123456LL);
    cr_assert_eq(ev.duration_us, 12345);
    cr_assert_str_eq(ev.error_type, "E");
    cr_assert_str_eq(ev.error_message, "m");
    cr_assert_eq(ev.attempt, 2);
    cr_assert_eq(ev.priority, 7);
    cr_assert_str_eq(ev.status, "done");
    cr_assert_str_eq(ev.message, "hello");
    cr_assert_float_eq(ev.timeout_s, 1.5, 1e-12);
    cr_assert_float_eq(ev.progress, 100.0, 1e-12);
    cr_assert_eq(ev.payload_bytes, 5, "a JSON string payload counts its quotes");
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(ev.attrs[0].key, "extra");
    cr_assert_str_eq(ev.attrs[0].value, "42");
}

Test(event_json, error_as_string_and_message_fallback)
{
    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\","
                    "\"error\":\"ValueError: bad input: x\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "ValueError");
    cr_assert_str_eq(ev.error_message, "bad input: x");

    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\","
                    "\"error\":\"something went wrong: x\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "", "a head with blanks is not a type");
    cr_assert_str_eq(ev.error_message, "something went wrong: x");

    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\",\"message\":\"oops\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "oops");
    cr_assert_str_eq(ev.message, "oops");

    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\"}"), BM_DECODE_OK,
                 "an error with no error info is still an error");
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "");
    cr_assert_eq(ev.ok, -1);
}

Test(event_json, error_details_ranks_below_error_object)
{
    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\",\"error_code\":\"C\","
                    "\"error_details\":{\"error_type\":\"D\"},\"error_type\":\"T\","
                    "\"error\":{\"error_type\":\"O\",\"error_message\":\"om\"},"
                    "\"error_message\":\"tm\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "O");
    cr_assert_str_eq(ev.error_message, "om");
    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\",\"error_code\":\"C\","
                    "\"error_details\":{\"error_type\":\"D\"}}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "D");
    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\",\"worker\":\"w\",\"error_code\":500}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.error_type, "500");
}

Test(event_json, success_result_drops_error_fields)
{
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"success\":true,"
                    "\"error_message\":\"ignored\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.ok, 1);
    cr_assert_str_eq(ev.error_message, "");
    cr_assert_str_eq(ev.worker, "");

    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"error\":\"X: y\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.ok, 0, "a result carrying an error failed");
    cr_assert_str_eq(ev.error_type, "X");

    cr_assert_eq(dj("{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\",\"ok\":true,"
                    "\"error\":\"X: y\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.ok, -1, "ok only means something on results");
    cr_assert_str_eq(ev.error_type, "");
}

Test(event_json, redaction_and_attr_bound)
{
    const char *s = "{\"type\":\"custom\",\"a1\":1,\"password\":\"hunter2\",\"X-Api-Key\":\"k\","
                    "\"nested\":{\"x\":1},\"list\":[1],\"nul\":null,\"a2\":2.5,\"a3\":true,"
                    "\"refreshToken\":\"t\",\"a4\":\"x\",\"a5\":\"y\",\"a6\":\"dropped\"}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, BM_EVENT_MAX_ATTRS);
    cr_assert_str_eq(ev.attrs[0].key, "a1");
    cr_assert_str_eq(ev.attrs[0].value, "1");
    cr_assert_str_eq(ev.attrs[1].key, "password");
    cr_assert_str_eq(ev.attrs[1].value, "[REDACTED]");
    cr_assert_str_eq(ev.attrs[2].key, "X-Api-Key");
    cr_assert_str_eq(ev.attrs[2].value, "[REDACTED]");
    cr_assert_str_eq(ev.attrs[3].key, "a2");
    cr_assert_str_eq(ev.attrs[3].value, "2.5");
    cr_assert_str_eq(ev.attrs[4].key, "a3");
    cr_assert_str_eq(ev.attrs[4].value, "true");
    cr_assert_str_eq(ev.attrs[5].key, "refreshToken");
    cr_assert_str_eq(ev.attrs[5].value, "[REDACTED]");
    cr_assert_str_eq(ev.attrs[7].key, "a5");
    cr_assert_null(attr("a6"));
    cr_assert_null(attr("nested"));
    cr_assert_null(attr("nul"));
}

Test(event_json, failures)
{
    cr_assert_eq(bm_decode_json(dec, "", 0, &ev), BM_DECODE_EMPTY);
    cr_assert_eq(dj("{\"type\":"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{} trailing"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("not json at all"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("[1,2,3]"), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dj("\"a string\""), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dj("42"), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dj("null"), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dj("{}"), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dj("{\"type\":\"\"}"), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dj("{\"type\":null}"), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dj("{\"type\":\"heartbeat\"}"), BM_DECODE_UNKNOWN_TYPE);
    cr_assert_eq(dj("{\"type\":3}"), BM_DECODE_UNKNOWN_TYPE);
    cr_assert_eq(dj("{\"type\":\"command\",\"worker\":\"w\"}"), BM_DECODE_MISSING_TX);
    cr_assert_eq(dj("{\"type\":\"status\"}"), BM_DECODE_MISSING_TX);
    cr_assert_eq(dj("{\"type\":\"compensation\"}"), BM_DECODE_MISSING_TX);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"\"}"), BM_DECODE_MISSING_TX);
    cr_assert_eq(dj("{\"type\":\"command\",\"tx\":\"t\"}"), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(dj("{\"type\":\"error\",\"tx\":\"t\"}"), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(dj("{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\",\"ts\":\"yesterday\"}"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"success\":\"maybe\"}"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":{\"a\":1}}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"duration_ms\":-1}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"attempt\":1.5}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"priority\":\"high\"}"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"error\":12}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(ev.n_attrs, 0, "a failed decode leaves a reset event");
    cr_assert_str_eq(ev.tx, "");
}

Test(event_json, custom_needs_only_type)
{
    cr_assert_eq(dj("{\"type\":\"custom\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_CUSTOM);
    cr_assert_str_eq(ev.tx, "");
    cr_assert_eq(ev.ts_us, 0);
    cr_assert_eq(ev.duration_us, -1);
    cr_assert_eq(ev.payload_bytes, 0);
}

Test(event_json, string_bounds)
{
    bm_decode_limits lim = {.max_string_bytes = 8, .max_message_bytes = 5, .max_id_bytes = 8};
    bm_decoder *d = bm_decoder_new(&lim);
    const char *ok = "{\"type\":\"error\",\"tx\":\"12345678\",\"worker\":\"w\","
                     "\"error\":\"E: \xc3\xa9\xc3\xa9\xc3\xa9\",\"status\":\"0123456789\"}";
    cr_assert_eq(bm_decode_json(d, ok, strlen(ok), &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "12345678");
    cr_assert_str_eq(ev.error_message, "\xc3\xa9\xc3\xa9",
                     "cut before 5 bytes, never inside a char");
    cr_assert_str_eq(ev.status, "01234567");
    const char *fields[] = {"id", "tx", "corr", "cmd", "worker", "step", "source"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\",\"%s\":\"123456789\"}",
                 fields[i]);
        cr_assert_eq(bm_decode_json(d, buf, strlen(buf), &ev), BM_DECODE_BAD_ID, "%s", fields[i]);
        char want[96];
        snprintf(want, sizeof want, "%s is 9 bytes, more than max_id_bytes (8)", fields[i]);
        cr_assert_str_eq(bm_decoder_detail(d, BM_DECODE_BAD_ID), want);
    }
    bm_decoder_free(d);
}

Test(event_json, oversized)
{
    bm_decode_limits lim = {.max_entry_bytes = 16};
    bm_decoder *d = bm_decoder_new(&lim);
    const char *s = "{\"type\":\"custom\",\"x\":1}";
    cr_assert_eq(bm_decode_json(d, s, strlen(s), &ev), BM_DECODE_OVERSIZED);
    bm_decoder_free(d);
}

Test(event_json, strings_survive_until_next_decode)
{
    cr_assert_eq(dj(mf_command), BM_DECODE_OK);
    bm_event first = ev;
    cr_assert_str_eq(first.tx, "wf-3f2a9c", "borrowed from the decoder, not from jansson");
    cr_assert_str_eq(first.worker, "research");
}

/* ---- the one-pass scanner: escapes, duplicates, bounds, refusals ---------- */

static bm_decode_status djn(const char *s, size_t n)
{
    return bm_decode_json(dec, s, n, &ev);
}

Test(event_json, escapes_are_unescaped)
{
    const char *s = "{\"type\":\"error\",\"tx\":\"t\\u002d1\",\"worker\":\"w\\/x\","
                    "\"error_message\":\"line\\none \\\"q\\\" \\u00e9 \\ud83d\\ude00\\t\","
                    "\"n\\u00f8te\":\"caf\\u00e9\"}";
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "t-1");
    cr_assert_str_eq(ev.worker, "w/x");
    cr_assert_str_eq(ev.error_message, "line\none \"q\" \xc3\xa9 \xf0\x9f\x98\x80\t");
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(ev.attrs[0].key, "n\xc3\xb8te");
    cr_assert_str_eq(ev.attrs[0].value, "caf\xc3\xa9");
    /* an escaped key means what it spells */
    cr_assert_eq(dj("{\"\\u0074ype\":\"custom\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_CUSTOM);
}

Test(event_json, nul_escape_in_an_id_is_bad_id_in_a_key_not_json)
{
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"a\\u0000b\"}"), BM_DECODE_BAD_ID);
    cr_assert_str_eq(bm_decoder_detail(dec, BM_DECODE_BAD_ID), "tx holds a NUL byte at byte 1");
    cr_assert_eq(dj("{\"type\":\"custom\",\"k\\u0000\":1}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"payload\":{\"k\\u0000\":1}}"), BM_DECODE_NOT_JSON,
                 "in a skipped object too");
}

Test(event_json, bad_escapes_and_surrogates_are_not_json)
{
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":\"\\x\"}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":\"\\u12g4\"}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":\"\\ud83d\"}"), BM_DECODE_NOT_JSON);
    cr_assert(strstr(bm_decoder_detail(dec, BM_DECODE_NOT_JSON), "surrogate"));
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":\"\\ude00\\ud83d\"}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"payload\":[\"\\ud83dx\"]}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":\"tab\there\"}"), BM_DECODE_NOT_JSON,
                 "a raw control character");
}

Test(event_json, invalid_utf8_anywhere_is_not_json)
{
    const char *bad[] = {
        "{\"type\":\"custom\",\"payload\":{\"q\":\"ab\xff\"}}",     /* skipped payload */
        "{\"type\":\"custom\",\"payload\":[[\"\xc0\x80\"]]}",       /* overlong NUL */
        "{\"type\":\"custom\",\"x\":{\"y\":\"\xed\xa0\x80\"}}",     /* encoded surrogate */
        "{\"type\":\"custom\",\"k\xe2\x82\":1}",                    /* cut sequence in a key */
        "{\"type\":\"custom\",\"m\":\"\xf4\x90\x80\x80\"}",         /* above U+10FFFF */
        "{\"type\":\"custom\",\"metadata\":{\"source\":\"\x80\"}}", /* lone continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(dj(bad[i]), BM_DECODE_NOT_JSON, "%zu", i);
        cr_assert(strstr(bm_decoder_detail(dec, BM_DECODE_NOT_JSON), "invalid UTF-8"), "%s",
                  bm_decoder_detail(dec, BM_DECODE_NOT_JSON));
    }
    cr_assert_eq(dj("{\"type\":\"custom\",\"m\":\"\xf0\x9f\x98\x80 \xe2\x82\xac\"}"), BM_DECODE_OK);
}

/* 100,000 levels of [ or { inside the payload: refused with a clear detail,
 * no stack spent on them (the skip is iterative). */
static void deep(char open, char close, size_t levels, bm_decode_status want, const char *detail)
{
    const char *head = "{\"type\":\"custom\",\"payload\":";
    size_t hl = strlen(head), n = hl + 2 * levels * 6 + 2;
    char *s = malloc(n);
    cr_assert_not_null(s);
    memcpy(s, head, hl);
    size_t at = hl;
    for (size_t i = 0; i < levels; i++) {
        if (open == '{') {
            memcpy(s + at, "{\"a\":", 5);
            at += 5;
        } else {
            s[at++] = open;
        }
    }
    s[at++] = '1';
    for (size_t i = 0; i < levels; i++)
        s[at++] = close;
    s[at++] = '}';
    cr_assert_eq(djn(s, at), want, "%c x %zu", open, levels);
    if (detail) cr_assert_str_eq(bm_decoder_detail(dec, want), detail);
    free(s);
}

Test(event_json, deep_nesting_is_bounded)
{
    deep('[', ']', 100000, BM_DECODE_NOT_JSON,
         "the JSON field does not parse: nesting deeper than 2048 (at byte 2074)");
    deep('{', '}', 100000, BM_DECODE_NOT_JSON, NULL);
    cr_assert(strstr(bm_decoder_detail(dec, BM_DECODE_NOT_JSON), "nesting deeper than 2048"));
    deep('[', ']', 2047, BM_DECODE_OK, NULL); /* the top object is the 2048th */
    cr_assert_eq(ev.payload_bytes, 2 * 2047 + 1);
    deep('[', ']', 2048, BM_DECODE_NOT_JSON, NULL);
    cr_assert_eq(dj("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
                 BM_DECODE_NOT_JSON, "an unclosed non-object");
}

Test(event_json, huge_numbers)
{
    static const char big[] =
        "1234567890123456789012345678901234567890123456789012345678901234567890"
        "123456789012345678901234567890";
    char s[512];
    /* known numeric keys: bad_field */
    const char *keys[] = {"timeout_seconds", "duration_ms", "priority", "attempt",
                          "progress",        "ts",          "success"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        snprintf(s, sizeof s, "{\"type\":\"result\",\"tx\":\"t\",\"%s\":1e400}", keys[i]);
        cr_assert_eq(dj(s), BM_DECODE_BAD_FIELD, "%s 1e400", keys[i]);
        snprintf(s, sizeof s, "{\"type\":\"result\",\"tx\":\"t\",\"%s\":%s}", keys[i], big);
        /* progress has no upper bound: 1.2e99 is a (silly) finite progress */
        cr_assert_eq(dj(s), strcmp(keys[i], "progress") ? BM_DECODE_BAD_FIELD : BM_DECODE_OK,
                     "%s 100 digits", keys[i]);
        snprintf(s, sizeof s, "{\"type\":\"result\",\"tx\":\"t\",\"%s\":-%s}", keys[i], big);
        cr_assert_eq(dj(s), BM_DECODE_BAD_FIELD, "%s -100 digits", keys[i]);
    }
    /* attributes keep the number as written; the payload is only measured */
    snprintf(s, sizeof s,
             "{\"type\":\"custom\",\"big\":%s,\"huge\":-1e400,\"tiny\":1e-400,"
             "\"u\":18446744073709551615,\"payload\":[1e400,%s]}",
             big, big);
    cr_assert_eq(dj(s), BM_DECODE_OK);
    cr_assert_str_eq(attr("big"), big);
    cr_assert_str_eq(attr("huge"), "-1e400");
    cr_assert_str_eq(attr("tiny"), "0");
    cr_assert_str_eq(attr("u"), "18446744073709551615");
    cr_assert_eq(ev.payload_bytes, 2 + 5 + 1 + 100);
    /* numbers read exactly: the fast path and strtod agree with the text */
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":0.1,\"b\":-2.5e-3,\"c\":123456789012345678.5,"
                    "\"d\":1E2,\"e\":-0,\"f\":9223372036854775807,\"g\":-9223372036854775808}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(attr("a"), "0.1");
    cr_assert_str_eq(attr("b"), "-0.0025");
    cr_assert_str_eq(attr("c"), "1.2345678901234568e+17");
    cr_assert_str_eq(attr("d"), "100");
    cr_assert_str_eq(attr("e"), "0");
    cr_assert_str_eq(attr("f"), "9223372036854775807");
    cr_assert_str_eq(attr("g"), "-9223372036854775808");
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":01}"), BM_DECODE_NOT_JSON, "a leading zero");
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":1.}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":-}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":0x10}"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dj("{\"type\":\"custom\",\"a\":1e}"), BM_DECODE_NOT_JSON);
}

Test(event_json, repeated_key_counts_once_with_its_last_value)
{
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"first\",\"a\":1,\"tx\":\"last\",\"a\":2,"
                    "\"b\":3}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "last");
    cr_assert_eq(ev.n_attrs, 2);
    cr_assert_str_eq(ev.attrs[0].key, "a", "at its first place");
    cr_assert_str_eq(ev.attrs[0].value, "2");
    cr_assert_str_eq(ev.attrs[1].key, "b");
    cr_assert_eq(dj("{\"type\":\"result\",\"metadata\":{\"transaction_id\":\"m1\"},"
                    "\"metadata\":{\"correlation_id\":\"c2\"},\"tx\":\"t\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "t");
    cr_assert_str_eq(ev.corr, "c2", "the last metadata object, whole");
    cr_assert_eq(dj("{\"type\":\"result\",\"metadata\":{\"transaction_id\":\"m1\"},"
                    "\"metadata\":null}"),
                 BM_DECODE_MISSING_TX, "a later null replaces the object");
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"payload\":[1,2,3],\"payload\":{}}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.payload_bytes, 2);
}

Test(event_json, payload_size_leaves_out_whitespace)
{
    cr_assert_eq(dj("{ \"type\" : \"custom\" , \"payload\" : { \"a\" : [ 1 , \"x y\" ] ,\n"
                    "\t\"b\" : { } } }"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.payload_bytes, strlen("{\"a\":[1,\"x y\"],\"b\":{}}"));
    cr_assert_eq(dj("{\"type\":\"custom\",\"payload\":\"\\u00e9\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.payload_bytes, 8, "escapes count as written");
    cr_assert_eq(dj("{\"type\":\"custom\",\"payload\":12.50}"), BM_DECODE_OK);
    cr_assert_eq(ev.payload_bytes, 5, "numbers count as written");
    cr_assert_eq(dj("{\"type\":\"custom\",\"payload\":true}"), BM_DECODE_OK);
    cr_assert_eq(ev.payload_bytes, 4);
}

Test(event_json, syntax_refusals)
{
    const char *bad[] = {
        "{\"type\":\"custom\",}",
        "{\"type\":\"custom\" \"a\":1}",
        "{\"type\" \"custom\"}",
        "{\"type\":\"custom\",\"a\":[1,]}",
        "{\"type\":\"custom\",\"a\":[1 2]}",
        "{\"type\":\"custom\",\"a\":tru}",
        "{\"type\":\"custom\",\"a\":nul}",
        "{'type':'custom'}",
        "{\"type\":\"custom\"}}",
        "{\"type\":\"custom\"",
        "{\"type\":\"custom\",\"a\":{\"b\":1]}",
        "{\"type\":\"custom\",\"a\":\"x}",
        "\xef\xbb\xbf{\"type\":\"custom\"}",
        "{\"type\":\"custom\"} {}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(dj(bad[i]), BM_DECODE_NOT_JSON, "%s", bad[i]);
    cr_assert_eq(dj("  \r\n\t{\"type\":\"custom\"}\n "), BM_DECODE_OK, "whitespace around");
    cr_assert_eq(dj("{\"type\":\"custom\"} x"), BM_DECODE_NOT_JSON);
    cr_assert(strstr(bm_decoder_detail(dec, BM_DECODE_NOT_JSON), "text after the value"));
    cr_assert_eq(dj("[1,2"), BM_DECODE_NOT_JSON, "a broken non-object is not JSON");
    cr_assert_eq(dj("{\"type\":\"result\",\"tx\":\"t\",\"duration_ms\":-1,"), BM_DECODE_NOT_JSON,
                 "a text that does not parse is not_json whatever its keys say");
}

Test(event_json, strings_with_escapes_survive_until_next_decode)
{
    cr_assert_eq(dj("{\"type\":\"command\",\"tx\":\"t\\u00e9\",\"worker\":\"w\\n\","
                    "\"status\":\"\\\"s\\\"\"}"),
                 BM_DECODE_BAD_ID, "a newline in a worker name");
    cr_assert_eq(dj("{\"type\":\"command\",\"tx\":\"t\\u00e9\",\"worker\":\"w\\/1\","
                    "\"status\":\"\\\"s\\\"\"}"),
                 BM_DECODE_OK);
    bm_event first = ev;
    cr_assert_str_eq(first.tx, "t\xc3\xa9");
    cr_assert_str_eq(first.worker, "w/1");
    cr_assert_str_eq(first.status, "\"s\"");
}

Test(event_json, attrs_scope_is_walked_by_the_plan)
{
    cr_assert_eq(dj("{\"type\":\"custom\",\"attrs\":{\"k\":\"v\",\"n\":{\"deep\":1},\"x\":2},"
                    "\"after\":true}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, 3);
    cr_assert_str_eq(ev.attrs[0].key, "k");
    cr_assert_str_eq(ev.attrs[1].key, "x");
    cr_assert_str_eq(ev.attrs[2].key, "after");
}

Test(event_json, numeric_ids_are_bounded_as_text)
{
    bm_decode_limits lim = {.max_id_bytes = 8};
    bm_decoder *d = bm_decoder_new(&lim);
    const char *s = "{\"type\":\"result\",\"tx\":8446744073709551615}"; /* found by fuzz_decode */
    cr_assert_eq(bm_decode_json(d, s, strlen(s), &ev), BM_DECODE_BAD_ID);
    cr_assert_str_eq(bm_decoder_detail(d, BM_DECODE_BAD_ID),
                     "tx is 19 bytes, more than max_id_bytes (8)");
    s = "{\"type\":\"error\",\"tx\":12345678,\"worker\":\"w\",\"error_code\":123456789}";
    cr_assert_eq(bm_decode_json(d, s, strlen(s), &ev), BM_DECODE_BAD_ID);
    s = "{\"type\":\"error\",\"tx\":12345678,\"worker\":\"w\",\"error_code\":500}";
    cr_assert_eq(bm_decode_json(d, s, strlen(s), &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.tx, "12345678");
    cr_assert_str_eq(ev.error_type, "500");
    bm_decoder_free(d);
}
