/*
 * test_event_pubsub.c - events received on Redis pub/sub: the MultiAgents
 * Framework's messages byte for byte (as its RedisEventBus publishes them:
 * json.dumps of the pydantic event, keys in model order, ", " and ": "
 * separators), the channel naming scheme, the channel standing in for what
 * the body lacks without ever overriding it, other schemes, and failures.
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <stdio.h>
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

TestSuite(event_pubsub, .init = setup, .fini = teardown);

/* Decode `body` received on `channel` with the default scheme. */
static bm_decode_status dp(const char *channel, const char *body)
{
    return bm_decode_pubsub(dec, NULL, channel, channel ? strlen(channel) : 0, body, strlen(body),
                            &ev);
}

static const char *attr(const char *key)
{
    for (unsigned i = 0; i < ev.n_attrs; i++)
        if (strcmp(ev.attrs[i].key, key) == 0) return ev.attrs[i].value;
    return NULL;
}

#define TX  "8c1e2f3a-4b5c-4d6e-8f70-112233445566"
#define CMD "5b0c9a53-2f1e-4c1a-9d4e-0a1b2c3d4e5f"

/* ---- the framework's events, byte for byte -------------------------------- */

/* Orchestrator._execute_step: CommandEvent on command.<worker_type>. */
static const char fw_command[] =
    "{\"id\": \"" CMD "\", \"type\": \"command\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX ".research\", "
    "\"timestamp\": \"2024-01-15T10:30:00.123456\", \"source\": \"research_pipeline\", "
    "\"version\": \"1.0\"}, "
    "\"payload\": {\"query\": \"quantum computing\", \"max_results\": 10}, "
    "\"worker_type\": \"research\", \"timeout_seconds\": 300, \"retry_policy\": null}";

Test(event_pubsub, framework_command)
{
    cr_assert_eq(dp("multiagent:command.research", fw_command), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.id, CMD);
    cr_assert_str_eq(ev.tx, TX);
    cr_assert_str_eq(ev.corr, TX ".research");
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.source, "research_pipeline");
    cr_assert_str_eq(ev.cmd, "");
    cr_assert_eq(ev.ts_us, 1705314600123456LL);
    cr_assert_float_eq(ev.timeout_s, 300.0, 1e-12, "an integer timeout_seconds");
    cr_assert_eq(ev.ok, -1);
    cr_assert_eq(ev.duration_us, -1);
    cr_assert_eq(ev.payload_bytes, strlen("{\"query\":\"quantum computing\",\"max_results\":10}"));
    cr_assert_eq(ev.n_attrs, 0, "retry_policy null and metadata.version are not attributes");
}

Test(event_pubsub, framework_command_with_retry_policy_and_fractional_timeout)
{
    const char *s = "{\"id\": \"c2\", \"type\": \"command\", \"metadata\": {\"transaction_id\": "
                    "\"t\", \"correlation_id\": \"t.fetch\", \"timestamp\": "
                    "\"2024-01-15T10:30:00\", \"source\": \"wf\", \"version\": \"1.0\"}, "
                    "\"payload\": {}, \"worker_type\": \"fetcher\", \"timeout_seconds\": 2.5, "
                    "\"retry_policy\": {\"max_attempts\": 3, \"backoff\": 1.5}}";
    cr_assert_eq(dp("multiagent:command.fetcher", s), BM_DECODE_OK);
    cr_assert_float_eq(ev.timeout_s, 2.5, 1e-12);
    cr_assert_eq(ev.ts_us, 1705314600000000LL);
    cr_assert_eq(ev.n_attrs, 0, "an object is never an attribute");
}

/* WorkerManager._execute_worker_with_timeout: ResultEvent on result.<worker_type>. */
static const char fw_result_ok[] =
    "{\"id\": \"c0ffee00-0000-4000-8000-000000000002\", \"type\": \"result\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX ".research\", "
    "\"timestamp\": \"2024-01-15T10:30:02\", \"source\": \"research\", \"version\": \"1.0\"}, "
    "\"payload\": {\"documents\": [\"a\", \"b\"]}, \"command_id\": \"" CMD "\", "
    "\"success\": true, \"error_message\": null, \"error_details\": null}";

Test(event_pubsub, framework_result_success)
{
    cr_assert_eq(dp("multiagent:result.research", fw_result_ok), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.id, "c0ffee00-0000-4000-8000-000000000002");
    cr_assert_str_eq(ev.tx, TX);
    cr_assert_str_eq(ev.corr, TX ".research");
    cr_assert_str_eq(ev.cmd, CMD);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(ev.ok, 1);
    cr_assert_eq(ev.ts_us, 1705314602000000LL, "isoformat() leaves out a zero fraction");
    cr_assert_str_eq(ev.error_type, "");
    cr_assert_str_eq(ev.error_message, "");
    cr_assert_eq(ev.duration_us, -1, "the framework reports no execution time");
    cr_assert_eq(ev.payload_bytes, strlen("{\"documents\":[\"a\",\"b\"]}"));
    cr_assert_eq(ev.n_attrs, 0);
}

/* asyncio.wait_for fired: the worker manager reports the timeout as a result. */
static const char fw_result_timeout[] =
    "{\"id\": \"c0ffee00-0000-4000-8000-000000000003\", \"type\": \"result\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX ".research\", "
    "\"timestamp\": \"2024-01-15T10:35:00Z\", \"source\": \"research\", \"version\": \"1.0\"}, "
    "\"payload\": {}, \"command_id\": \"" CMD "\", \"success\": false, "
    "\"error_message\": \"Worker timeout after 300s\", "
    "\"error_details\": {\"error_type\": \"timeout\"}}";

Test(event_pubsub, framework_result_timeout)
{
    cr_assert_eq(dp("multiagent:result.research", fw_result_timeout), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT, "a failure travelling as a result stays a result");
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.cmd, CMD);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.error_type, "timeout");
    cr_assert_str_eq(ev.error_message, "Worker timeout after 300s");
    cr_assert_eq(ev.ts_us, 1705314900000000LL);
    cr_assert_eq(ev.payload_bytes, 2);
}

/* Any other exception: error_type is its class name (BaseWorker wraps it). */
static const char fw_result_exception[] =
    "{\"id\": \"c0ffee00-0000-4000-8000-000000000004\", \"type\": \"result\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX ".research\", "
    "\"timestamp\": \"2024-01-15T12:30:05.25+02:00\", \"source\": \"research\", "
    "\"version\": \"1.0\"}, \"payload\": {}, \"command_id\": \"" CMD "\", \"success\": false, "
    "\"error_message\": \"Worker research failed: Connection reset by peer\", "
    "\"error_details\": {\"error_type\": \"WorkerException\"}}";

Test(event_pubsub, framework_result_exception)
{
    cr_assert_eq(dp("multiagent:result.research", fw_result_exception), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.error_type, "WorkerException");
    cr_assert_str_eq(ev.error_message, "Worker research failed: Connection reset by peer");
    cr_assert_eq(ev.ts_us, 1705314605250000LL, "12:30:05.25+02:00 is 10:30:05.25 UTC");
}

/* Orchestrator._publish_status_event on status.workflow (progress: null). */
static const char fw_status_started[] =
    "{\"id\": \"c0ffee00-0000-4000-8000-000000000005\", \"type\": \"status\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX "\", "
    "\"timestamp\": \"2024-01-15T10:30:00.000001\", \"source\": \"research_pipeline\", "
    "\"version\": \"1.0\"}, \"payload\": {\"workflow_id\": \"research_pipeline\", "
    "\"current_step\": null, \"step_results\": {}}, \"status\": \"running\", "
    "\"progress\": null, \"message\": \"Workflow started\"}";

Test(event_pubsub, framework_status)
{
    cr_assert_eq(dp("multiagent:status.workflow", fw_status_started), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_str_eq(ev.tx, TX);
    cr_assert_str_eq(ev.corr, TX);
    cr_assert_str_eq(ev.status, "running");
    cr_assert_str_eq(ev.message, "Workflow started");
    cr_assert_eq(ev.progress, -1, "progress null = absent");
    cr_assert_str_eq(ev.worker, "", "status.<name> names no worker");
    cr_assert_str_eq(ev.source, "research_pipeline");
    cr_assert_eq(ev.ts_us, 1705314600000001LL);
    cr_assert_eq(ev.ok, -1);
    cr_assert_eq(ev.n_attrs, 0);
}

Test(event_pubsub, status_with_progress)
{
    const char *s = "{\"id\": \"c0ffee00-0000-4000-8000-000000000006\", \"type\": \"status\", "
                    "\"metadata\": {\"transaction_id\": \"" TX "\", \"correlation_id\": \"" TX
                    "\", \"timestamp\": \"2024-01-15T10:31:00.5\", "
                    "\"source\": \"research_pipeline\", \"version\": \"1.0\"}, "
                    "\"payload\": {\"workflow_id\": \"research_pipeline\", "
                    "\"current_step\": \"research\", "
                    "\"step_results\": {\"research\": {\"documents\": [\"a\", \"b\"]}}}, "
                    "\"status\": \"running\", \"progress\": 0.5, "
                    "\"message\": \"Step research completed\"}";
    cr_assert_eq(dp("multiagent:status.workflow", s), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_float_eq(ev.progress, 0.5, 1e-12);
    cr_assert_str_eq(ev.status, "running");
    cr_assert_str_eq(ev.message, "Step research completed");
    cr_assert_eq(ev.ts_us, 1705314660500000LL);

    const char *done = "{\"type\": \"status\", \"metadata\": {\"transaction_id\": \"t\"}, "
                       "\"status\": \"completed\", \"progress\": 1, \"message\": null}";
    cr_assert_eq(dp("multiagent:status.workflow", done), BM_DECODE_OK);
    cr_assert_str_eq(ev.status, "completed");
    cr_assert_float_eq(ev.progress, 1.0, 1e-12, "an integer progress");
    cr_assert_str_eq(ev.message, "");
}

/* Orchestrator._trigger_compensations on compensation.<step.compensation>. */
static const char fw_compensation[] =
    "{\"id\": \"c0ffee00-0000-4000-8000-000000000007\", \"type\": \"compensation\", "
    "\"metadata\": {\"transaction_id\": \"" TX "\", "
    "\"correlation_id\": \"" TX ".comp.reserve\", \"timestamp\": \"2024-01-15T10:36:00\", "
    "\"source\": \"research_pipeline\", \"version\": \"1.0\"}, "
    "\"payload\": {\"query\": \"quantum computing\", \"max_results\": 10}, "
    "\"original_command_id\": \"" CMD "\", \"compensation_type\": \"release_inventory\"}";

Test(event_pubsub, framework_compensation)
{
    cr_assert_eq(dp("multiagent:compensation.release_inventory", fw_compensation), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMPENSATION);
    cr_assert_str_eq(ev.tx, TX);
    cr_assert_str_eq(ev.corr, TX ".comp.reserve");
    cr_assert_str_eq(ev.worker, "release_inventory", "the channel's name is the worker");
    cr_assert_str_eq(ev.cmd, "", "the compensated command is not an answer's command");
    cr_assert_str_eq(ev.source, "research_pipeline");
    cr_assert_eq(ev.ts_us, 1705314960000000LL);
    cr_assert_eq(ev.n_attrs, 2);
    cr_assert_str_eq(attr("original_command_id"), CMD);
    cr_assert_str_eq(attr("compensation_type"), "release_inventory");
}

/* ---- the channel fills in, never overrides -------------------------------- */

Test(event_pubsub, type_and_worker_from_the_channel)
{
    /* a producer that trusts the channel: no type, no worker */
    const char *cmd = "{\"id\": \"c1\", \"metadata\": {\"transaction_id\": \"t1\"}}";
    cr_assert_eq(dp("multiagent:command.research", cmd), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_str_eq(ev.tx, "t1");

    const char *res = "{\"metadata\": {\"transaction_id\": \"t1\"}, \"command_id\": \"c1\", "
                      "\"success\": false, \"error_details\": {\"error_type\": \"timeout\"}}";
    cr_assert_eq(dp("multiagent:result.research", res), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.worker, "research", "no worker, no source: the channel's");
    cr_assert_eq(ev.ok, 0);
    cr_assert_str_eq(ev.error_type, "timeout");

    cr_assert_eq(dp("multiagent:status.anything.at.all", "{\"transaction_id\": \"t1\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
    cr_assert_str_eq(ev.worker, "");

    cr_assert_eq(dp("multiagent:compensation.refund", "{\"transaction_id\": \"t1\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMPENSATION);
    cr_assert_str_eq(ev.worker, "refund");

    cr_assert_eq(dp("multiagent:error.crawler", "{\"transaction_id\": \"t1\"}"), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_ERROR);
    cr_assert_str_eq(ev.worker, "crawler");

    /* the name is everything after the first separator */
    cr_assert_eq(dp("multiagent:result.team.eu.fetch", "{\"transaction_id\": \"t1\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "team.eu.fetch");
    /* "" and null in the body are absent: the channel fills them */
    cr_assert_eq(
        dp("multiagent:command.w", "{\"type\": \"\", \"worker_type\": null, \"tx\": \"t\"}"),
        BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.worker, "w");
}

Test(event_pubsub, the_body_wins)
{
    /* a command body on a result channel for another worker */
    cr_assert_eq(dp("multiagent:result.other", fw_command), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND, "the body's type");
    cr_assert_str_eq(ev.worker, "research", "the body's worker_type");

    /* every spelling of the worker beats the channel */
    cr_assert_eq(dp("multiagent:command.chan", "{\"tx\": \"t\", \"worker\": \"w0\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "w0");
    cr_assert_eq(dp("multiagent:command.chan", "{\"tx\": \"t\", \"worker_name\": \"w1\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "w1");
    cr_assert_eq(dp("multiagent:command.chan", "{\"tx\": \"t\", \"worker_type\": \"w2\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "w2");

    /* a result's worker is its metadata.source: the body's word, kept */
    cr_assert_eq(dp("multiagent:result.other", fw_result_ok), BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(dp("multiagent:result.other", "{\"type\": \"error\", \"tx\": \"t\", "
                                               "\"source\": \"analysis\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "analysis");

    /* the documented spelling of the type wins too */
    cr_assert_eq(dp("multiagent:command.w", "{\"event_type\": \"StatusEvent\", \"tx\": \"t\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);

    /* a body type that is wrong is not rescued by the channel */
    cr_assert_eq(dp("multiagent:command.w", "{\"type\": \"heartbeat\", \"tx\": \"t\"}"),
                 BM_DECODE_UNKNOWN_TYPE);
}

Test(event_pubsub, channels_that_match_nothing)
{
    /* the body alone decodes as it would from a stream */
    cr_assert_eq(dp("other:command.research", fw_command), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(dp(NULL, fw_result_ok), BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "research");
    cr_assert_eq(dp("", fw_status_started), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);

    /* and what it lacks stays missing */
    const char *bare = "{\"tx\": \"t\"}";
    cr_assert_eq(dp("other:command.research", bare), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dp("multiagent:commands.research", bare), BM_DECODE_MISSING_TYPE,
                 "a word must end at the separator");
    cr_assert_eq(dp("multiagent:heartbeat.research", bare), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dp("multiagent:Command.research", bare), BM_DECODE_MISSING_TYPE,
                 "matching is case-sensitive");
    cr_assert_eq(dp("multiagen", bare), BM_DECODE_MISSING_TYPE);
    cr_assert_eq(dp("xmultiagent:command.research", bare), BM_DECODE_MISSING_TYPE);

    /* a word with no name: the type alone */
    cr_assert_eq(dp("multiagent:command", bare), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(dp("multiagent:command.", bare), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(dp("multiagent:result", bare), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_RESULT);
    cr_assert_str_eq(ev.worker, "");
    cr_assert_eq(dp("multiagent:status", bare), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_STATUS);
}

Test(event_pubsub, channel_match)
{
    bm_event_type t = BM_EV_CUSTOM;
    const char *name = NULL;
    size_t n = 99;
    const char *ch = "multiagent:result.research";
    cr_assert_eq(bm_channel_match(NULL, ch, strlen(ch), &t, &name, &n), 1);
    cr_assert_eq(t, BM_EV_RESULT);
    cr_assert_eq(n, 8);
    cr_assert_eq(memcmp(name, "research", 8), 0);
    cr_assert_eq(name, ch + strlen("multiagent:result."), "points into the channel");

    ch = "multiagent:status.workflow";
    cr_assert_eq(bm_channel_match(NULL, ch, strlen(ch), &t, &name, &n), 1);
    cr_assert_eq(t, BM_EV_STATUS);
    cr_assert_eq(n, 0, "a status channel names no worker");

    /* the length is what counts, not a NUL */
    ch = "multiagent:command.abcdef";
    cr_assert_eq(bm_channel_match(NULL, ch, strlen("multiagent:command.abc"), &t, &name, &n), 1);
    cr_assert_eq(n, 3);

    t = BM_EV_CUSTOM;
    n = 99;
    ch = "multiagent:unknown.x";
    cr_assert_eq(bm_channel_match(NULL, ch, strlen(ch), &t, &name, &n), 0);
    cr_assert_eq(t, BM_EV_CUSTOM, "untouched when nothing matches");
    cr_assert_eq(n, 99);
    cr_assert_eq(bm_channel_match(NULL, NULL, 0, &t, &name, &n), 0);

    bm_channel_scheme s;
    bm_channel_scheme_default(&s);
    cr_assert_str_eq(s.prefix, "multiagent:");
    cr_assert_str_eq(s.separator, ".");
    cr_assert_str_eq(s.command, "command");
    cr_assert_str_eq(s.result, "result");
    cr_assert_str_eq(s.status, "status");
    cr_assert_str_eq(s.compensation, "compensation");
    cr_assert_str_eq(s.error, "error");
}

Test(event_pubsub, other_naming_schemes)
{
    bm_channel_scheme s;
    bm_channel_scheme_default(&s);
    s.prefix = "acme/bus/";
    s.separator = "::";
    s.command = "cmd";
    s.result = "res";
    s.status = "progress";
    s.compensation = "undo";
    s.error = NULL; /* off */
    const char *bare = "{\"tx\": \"t\"}";
    struct {
        const char *channel;
        bm_decode_status st;
        bm_event_type type;
        const char *worker;
    } cases[] = {
        {"acme/bus/cmd::fetcher", BM_DECODE_OK, BM_EV_COMMAND, "fetcher"},
        {"acme/bus/res::fetcher", BM_DECODE_OK, BM_EV_RESULT, "fetcher"},
        {"acme/bus/progress::wf", BM_DECODE_OK, BM_EV_STATUS, ""},
        {"acme/bus/undo::refund", BM_DECODE_OK, BM_EV_COMPENSATION, "refund"},
        {"acme/bus/error::x", BM_DECODE_MISSING_TYPE, 0, NULL},
        {"acme/bus/cmd.fetcher", BM_DECODE_MISSING_TYPE, 0, NULL},
        {"multiagent:command.fetcher", BM_DECODE_MISSING_TYPE, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bm_decode_status st = bm_decode_pubsub(dec, &s, cases[i].channel, strlen(cases[i].channel),
                                               bare, strlen(bare), &ev);
        cr_assert_eq(st, cases[i].st, "%s: %s", cases[i].channel, bm_decode_status_name(st));
        if (st != BM_DECODE_OK) continue;
        cr_assert_eq(ev.type, cases[i].type, "%s", cases[i].channel);
        cr_assert_str_eq(ev.worker, cases[i].worker, "%s", cases[i].channel);
    }

    /* no prefix at all: "command.x" as some buses name it */
    bm_channel_scheme_default(&s);
    s.prefix = NULL;
    s.separator = NULL; /* "." */
    cr_assert_eq(bm_decode_pubsub(dec, &s, "command.x", 9, bare, strlen(bare), &ev), BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_COMMAND);
    cr_assert_str_eq(ev.worker, "x");
}

/* ---- time, exactly --------------------------------------------------------- */

Test(event_pubsub, iso_timestamps_to_the_microsecond)
{
    struct {
        const char *ts;
        int64_t us;
    } cases[] = {
        {"2024-01-15T10:30:00", 1705314600000000LL},        /* isoformat(), microsecond 0 */
        {"2024-01-15T10:30:00.123456", 1705314600123456LL}, /* isoformat() */
        {"2024-01-15T10:30:00.5", 1705314600500000LL},
        {"2024-01-15T10:30:00.000001", 1705314600000001LL},
        {"2024-01-15T10:30:00.1234569", 1705314600123456LL}, /* beyond µs: truncated */
        {"2024-01-15T10:30:00Z", 1705314600000000LL},
        {"2024-01-15T10:30:00.123456Z", 1705314600123456LL},
        {"2024-01-15T12:30:00+02:00", 1705314600000000LL},
        {"2024-01-15T12:30:00.123456+02:00", 1705314600123456LL},
        {"2024-01-15T05:00:00.75-05:30", 1705314600750000LL},
        {"2024-01-15T10:30:00+00:00", 1705314600000000LL}, /* aware isoformat() */
        {"2024-01-16T00:30:00+14:00", 1705314600000000LL}, /* across midnight */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"id\": \"c\", \"type\": \"command\", \"metadata\": {\"transaction_id\": "
                 "\"t\", \"timestamp\": \"%s\"}, \"worker_type\": \"w\"}",
                 cases[i].ts);
        cr_assert_eq(dp("multiagent:command.w", body), BM_DECODE_OK, "%s", cases[i].ts);
        cr_assert_eq(ev.ts_us, cases[i].us, "%s: %lld", cases[i].ts, (long long)ev.ts_us);
    }
    cr_assert_eq(
        dp("multiagent:command.w", "{\"tx\": \"t\", \"timestamp\": \"2024-01-15T10:30:00+25:00\"}"),
        BM_DECODE_BAD_FIELD);
    cr_assert_eq(dp("multiagent:command.w", "{\"tx\": \"t\", \"timestamp\": \"yesterday\"}"),
                 BM_DECODE_BAD_FIELD);
}

/* ---- failures ---------------------------------------------------------------- */

Test(event_pubsub, failures)
{
    const char *ch = "multiagent:command.w";
    cr_assert_eq(bm_decode_pubsub(dec, NULL, ch, strlen(ch), "", 0, &ev), BM_DECODE_EMPTY);
    cr_assert_eq(bm_decode_pubsub(dec, NULL, ch, strlen(ch), NULL, 0, &ev), BM_DECODE_EMPTY);
    cr_assert_eq(dp(ch, "{\"type\": "), BM_DECODE_NOT_JSON);
    cr_assert_eq(dp(ch, "{\"tx\": \"t\"} trailing"), BM_DECODE_NOT_JSON);
    cr_assert_eq(dp(ch, "hello"), BM_DECODE_NOT_JSON, "a plain text message");
    cr_assert_eq(dp(ch, "[\"command\", \"t\"]"), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dp(ch, "\"command\""), BM_DECODE_JSON_NOT_OBJECT);
    cr_assert_eq(dp(ch, "{}"), BM_DECODE_MISSING_TX, "the channel gave the type");
    cr_assert_eq(dp("multiagent:command", "{\"tx\": \"t\"}"), BM_DECODE_MISSING_WORKER);
    cr_assert_eq(dp(ch, "{\"tx\": \"t\", \"success\": \"maybe\"}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dp(ch, "{\"tx\": \"t\", \"timeout_seconds\": -1}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dp(ch, "{\"tx\": \"t\", \"timeout_seconds\": \"soon\"}"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(dp("multiagent:status.workflow", "{\"tx\": \"t\", \"progress\": -0.5}"),
                 BM_DECODE_BAD_FIELD);
    cr_assert_eq(ev.n_attrs, 0, "a failed decode leaves a reset event");
    cr_assert_str_eq(ev.tx, "");

    /* the channel is an identity: bounded by max_id_bytes, so the worker it names is too */
    bm_decode_limits lim = {.max_id_bytes = 27};
    bm_decoder *d = bm_decoder_new(&lim);
    const char *body = "{\"tx\": \"t\"}";
    const char *longer = "multiagent:command.123456789";
    cr_assert_eq(bm_decode_pubsub(d, NULL, longer, strlen(longer), body, strlen(body), &ev),
                 BM_DECODE_BAD_ID);
    cr_assert_str_eq(bm_decoder_detail(d, BM_DECODE_BAD_ID),
                     "channel is 28 bytes, more than max_id_bytes (27)");
    const char *fits = "multiagent:command.12345678";
    cr_assert_eq(bm_decode_pubsub(d, NULL, fits, strlen(fits), body, strlen(body), &ev),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.worker, "12345678");
    bm_decoder_free(d);

    /* the body's size bound applies as for a stream entry */
    bm_decode_limits small = {.max_entry_bytes = 16};
    d = bm_decoder_new(&small);
    cr_assert_eq(bm_decode_pubsub(d, NULL, ch, strlen(ch), fw_command, strlen(fw_command), &ev),
                 BM_DECODE_OVERSIZED);
    bm_decoder_free(d);
}

Test(event_pubsub, channel_strings_are_copied)
{
    char channel[64];
    strcpy(channel, "multiagent:result.research");
    cr_assert_eq(bm_decode_pubsub(dec, NULL, channel, strlen(channel), "{\"tx\": \"t\"}", 11, &ev),
                 BM_DECODE_OK);
    memset(channel, 'x', sizeof(channel) - 1);
    cr_assert_str_eq(ev.worker, "research", "borrowed from the decoder, not the channel");
}
