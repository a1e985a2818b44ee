/*
 * test_event_metric.c - metric events (type `metric`, or `custom` with a
 * name or value) in the three encodings: name, value, kind, tags (the
 * `tags` map, and `tag.K` flat fields), the tag bound, and the refusals
 * (no name, no value, not a number, NaN / Inf, unknown kind, bad tag).
 */
#include "lib/custom_metrics.h"
#include "proto/event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
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

TestSuite(event_metric, .init = setup, .fini = teardown);

static bm_decode_status entry(const char *const *kv)
{
    const char *f[48], *v[48];
    size_t fl[48], vl[48], n = 0;
    for (; kv[2 * n]; n++) {
        f[n] = kv[2 * n];
        v[n] = kv[2 * n + 1];
        fl[n] = strlen(f[n]);
        vl[n] = strlen(v[n]);
    }
    return bm_decode_entry(dec, n, f, fl, v, vl, &ev);
}

#define ENTRY(...) entry((const char *const[]){__VA_ARGS__, NULL})

static bm_decode_status dj(const char *json)
{
    return bm_decode_json(dec, json, strlen(json), &ev);
}

static const char *tag(const char *key)
{
    for (unsigned i = 0; i < ev.n_tags; i++)
        if (!strcmp(ev.tags[i].key, key)) return ev.tags[i].value;
    return NULL;
}

Test(event_metric, json_with_tags)
{
    cr_assert_eq(dj("{\"type\":\"metric\",\"name\":\"order_value\",\"value\":299.99,"
                    "\"tags\":{\"customer_tier\":\"premium\",\"region\":\"eu\",\"n\":3},"
                    "\"ts\":1700000000}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.type, BM_EV_CUSTOM);
    cr_assert_str_eq(ev.metric_name, "order_value");
    cr_assert_float_eq(ev.metric_value, 299.99, 1e-12);
    cr_assert_eq(ev.metric_kind, BM_METRIC_HISTOGRAM);
    cr_assert_eq(ev.n_tags, 3);
    cr_assert_str_eq(tag("customer_tier"), "premium");
    cr_assert_str_eq(tag("region"), "eu");
    cr_assert_str_eq(tag("n"), "3");
    cr_assert_eq(ev.ts_us, 1700000000000000LL);
    cr_assert_eq(ev.n_attrs, 0, "tags are not attributes");
    cr_assert_str_eq(ev.tx, "");
}

Test(event_metric, custom_alias_and_kinds)
{
    cr_assert_eq(dj("{\"type\":\"custom\",\"name\":\"logins\",\"value\":1,\"kind\":\"counter\"}"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.metric_name, "logins");
    cr_assert_eq(ev.metric_kind, BM_METRIC_COUNTER);
    cr_assert_eq(
        dj("{\"type\":\"MetricEvent\",\"name\":\"q\",\"value\":\"-2.5\",\"kind\":\"Gauge\"}"),
        BM_DECODE_OK);
    cr_assert_eq(ev.metric_kind, BM_METRIC_GAUGE);
    cr_assert_float_eq(ev.metric_value, -2.5, 0);
    /* a custom event with neither name nor value is what it was: untraced, no metric */
    cr_assert_eq(dj("{\"type\":\"custom\",\"x\":1}"), BM_DECODE_OK);
    cr_assert_str_eq(ev.metric_name, "");
}

Test(event_metric, non_metric_keeps_name_value_as_attributes)
{
    cr_assert_eq(
        dj("{\"type\":\"command\",\"tx\":\"t\",\"worker\":\"w\",\"name\":\"n\",\"value\":7}"),
        BM_DECODE_OK);
    cr_assert_str_eq(ev.metric_name, "");
    cr_assert_eq(ev.n_attrs, 2);
    cr_assert_str_eq(ev.attrs[0].key, "name");
    cr_assert_str_eq(ev.attrs[0].value, "n");
    cr_assert_str_eq(ev.attrs[1].key, "value");
    cr_assert_str_eq(ev.attrs[1].value, "7");
}

Test(event_metric, flat_fields_with_tag_prefix)
{
    cr_assert_eq(ENTRY("type", "metric", "name", "order_value", "value", "12.5", "kind",
                       "histogram", "tag.customer_tier", "gold", "tag.region", "us", "other", "x"),
                 BM_DECODE_OK);
    cr_assert_str_eq(ev.metric_name, "order_value");
    cr_assert_float_eq(ev.metric_value, 12.5, 0);
    cr_assert_eq(ev.n_tags, 2);
    cr_assert_str_eq(tag("customer_tier"), "gold");
    cr_assert_str_eq(tag("region"), "us");
    cr_assert_eq(ev.n_attrs, 1);
    cr_assert_str_eq(ev.attrs[0].key, "other");
}

Test(event_metric, msgpack)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
#define S(x) msgpack_pack_str_with_body(&pk, x, strlen(x))
    S("type");
    S("metric");
    S("name");
    S("queue_depth");
    S("value");
    msgpack_pack_int64(&pk, 42);
    S("kind");
    S("gauge");
    S("tags");
    msgpack_pack_map(&pk, 2);
    S("queue");
    S("emails");
    S("nested");
    msgpack_pack_map(&pk, 0);
#undef S
    const char *f[] = {"m"};
    size_t fl[] = {1}, vl[] = {sb.size};
    const char *v[] = {sb.data};
    cr_assert_eq(bm_decode_entry(dec, 1, f, fl, v, vl, &ev), BM_DECODE_OK);
    cr_assert_str_eq(ev.metric_name, "queue_depth");
    cr_assert_float_eq(ev.metric_value, 42, 0);
    cr_assert_eq(ev.metric_kind, BM_METRIC_GAUGE);
    cr_assert_eq(ev.n_tags, 1);
    cr_assert_str_eq(tag("queue"), "emails");
    cr_assert_eq(ev.tags_dropped, 1, "a map as a tag value is dropped, counted");
    msgpack_sbuffer_destroy(&sb);
}

Test(event_metric, tag_bound)
{
    char json[2048] = "{\"type\":\"metric\",\"name\":\"m\",\"value\":1,\"tags\":{";
    for (int i = 0; i < BM_EVENT_MAX_TAGS + 4; i++) {
        char one[32];
        snprintf(one, sizeof one, "%s\"k%d\":\"v\"", i ? "," : "", i);
        strcat(json, one);
    }
    strcat(json, "}}");
    cr_assert_eq(dj(json), BM_DECODE_OK);
    cr_assert_eq(ev.n_tags, BM_EVENT_MAX_TAGS);
    cr_assert_eq(ev.tags_dropped, 4);
}

static void refused(const char *json, bm_decode_status want, const char *detail_part)
{
    cr_assert_eq(dj(json), want, "%s", json);
    const char *d = bm_decoder_detail(dec, want);
    cr_assert(strstr(d, detail_part), "%s: detail '%s' lacks '%s'", json, d, detail_part);
}

Test(event_metric, refusals)
{
    refused("{\"type\":\"metric\",\"value\":1}", BM_DECODE_BAD_FIELD, "needs a name");
    refused("{\"type\":\"metric\",\"name\":\"\",\"value\":1}", BM_DECODE_BAD_FIELD, "needs a name");
    refused("{\"type\":\"custom\",\"value\":1}", BM_DECODE_BAD_FIELD, "needs a name");
    refused("{\"type\":\"metric\",\"name\":\"m\"}", BM_DECODE_BAD_FIELD, "has no value");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":\"lots\"}", BM_DECODE_BAD_FIELD,
            "not a number");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":true}", BM_DECODE_BAD_FIELD,
            "not a number");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":[1]}", BM_DECODE_BAD_FIELD,
            "not a number");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":\"nan\"}", BM_DECODE_BAD_FIELD, "NaN");
    /* a number beyond a double: the scanner passes its text on, the value refuses it */
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":1e999}", BM_DECODE_BAD_FIELD, "not a number");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":1,\"kind\":\"summary\"}",
            BM_DECODE_BAD_FIELD, "kind must be");
    refused("{\"type\":\"metric\",\"name\":\"a\\u0001b\",\"value\":1}", BM_DECODE_BAD_ID,
            "metric name");
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":1,\"tags\":{\"t\":\"a\\u0000b\"}}",
            BM_DECODE_BAD_ID, "tag value");
    cr_assert_eq(ENTRY("type", "metric", "name", "m", "value", "inf"), BM_DECODE_BAD_FIELD);
    cr_assert_eq(ENTRY("type", "metric", "name", "m", "value", "NaN"), BM_DECODE_BAD_FIELD);
}

/* A counter's value is an increment: a negative one would make its total
 * (busmon_custom_<name>_total, a Prometheus counter) go down. */
Test(event_metric, a_counter_increment_is_never_negative)
{
    refused("{\"type\":\"metric\",\"name\":\"m\",\"value\":-3,\"kind\":\"counter\"}",
            BM_DECODE_BAD_FIELD, "metric 'm': a counter's value is an increment");
    cr_assert_eq(ENTRY("type", "metric", "name", "m", "value", "-0.5", "kind", "Counter"),
                 BM_DECODE_BAD_FIELD);
    /* zero counts; a gauge or a histogram may be negative */
    cr_assert_eq(dj("{\"type\":\"metric\",\"name\":\"m\",\"value\":0,\"kind\":\"counter\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(dj("{\"type\":\"metric\",\"name\":\"m\",\"value\":-3,\"kind\":\"gauge\"}"),
                 BM_DECODE_OK);
    cr_assert_eq(ENTRY("type", "metric", "name", "m", "value", "-3"), BM_DECODE_OK);
}

Test(event_metric, nan_float_in_msgpack)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "metric", 6);
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_str_with_body(&pk, "value", 5);
    msgpack_pack_double(&pk, 0.0 / 0.0);
    cr_assert_eq(bm_decode_msgpack(dec, sb.data, sb.size, &ev), BM_DECODE_BAD_FIELD);
    cr_assert(strstr(bm_decoder_detail(dec, BM_DECODE_BAD_FIELD), "NaN"));
    msgpack_sbuffer_destroy(&sb);
}

/* A tag whose key looks secret carries "[REDACTED]", as an attribute does
 * (§5): its value never reaches a series, /metrics, a rollup or the
 * checkpoint, and
 * two secrets of one key make one series, not a series per secret. */
Test(event_metric, a_secret_tag_is_redacted)
{
    cr_assert_eq(dj("{\"type\":\"metric\",\"name\":\"calls\",\"value\":1,"
                    "\"tags\":{\"api_key\":\"sk-live-123\",\"customerSsn\":\"078-05-1120\","
                    "\"plan\":\"gold\"}}"),
                 BM_DECODE_OK);
    cr_assert_eq(ev.n_tags, 3);
    cr_assert_str_eq(tag("api_key"), "[REDACTED]");
    cr_assert_str_eq(tag("customerSsn"), "[REDACTED]");
    cr_assert_str_eq(tag("plan"), "gold");
    cr_assert_eq(ENTRY("type", "metric", "name", "calls", "value", "1", "tag.session_token",
                       "abc.def", "tag.region", "eu"),
                 BM_DECODE_OK);
    cr_assert_str_eq(tag("session_token"), "[REDACTED]");
    cr_assert_str_eq(tag("region"), "eu");

    custom_metrics *cm = custom_metrics_new(NULL);
    const char *secrets[] = {"sk-live-1", "sk-live-2", "sk-live-3"};
    for (int i = 0; i < 3; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"type\":\"metric\",\"name\":\"calls\",\"value\":1,\"tags\":{\"token\":\"%s\"}}",
                 secrets[i]);
        cr_assert_eq(dj(json), BM_DECODE_OK);
        cr_assert_eq(custom_metrics_add(cm, &ev, 1700000000LL * 1000000), CUSTOM_METRICS_ADDED);
    }
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    cr_assert_eq(st.series, 1, "one series for every secret of a key");
    custom_metrics_free(cm);
}
