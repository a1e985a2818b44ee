/*
 * test_alert_encode.c - proto/alert.c: the alerts stream record (JSON and
 * msgpack) and each webhook body (generic, Slack, PagerDuty v2,
 * Alertmanager v2), field by field; fingerprints, names, value formatting;
 * the msgpack record read back (bm_alert_decode_msgpack) and its refusals.
 */
#include "proto/alert.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_FIRE    1705314600000000LL /* 2024-01-15T10:30:00Z */
#define T_RESOLVE 1705315500250000LL /* 2024-01-15T10:45:00.25Z */

static bm_alert al;

static void add_label(bm_alert *a, const char *k, const char *v)
{
    snprintf(a->labels[a->n_labels].key, sizeof a->labels[0].key, "%s", k);
    snprintf(a->labels[a->n_labels].value, sizeof a->labels[0].value, "%s", v);
    a->n_labels++;
}

static void setup(void)
{
    memset(&al, 0, sizeof al);
    strcpy(al.rule, "high_error_rate");
    al.state = BM_ALERT_FIRING;
    al.severity = BM_SEVERITY_WARNING;
    add_label(&al, "team", "core");
    add_label(&al, "worker", "flaky");
    strcpy(al.metric, "error_rate");
    strcpy(al.op, ">");
    strcpy(al.window, "5m");
    al.value = 0.34;
    al.threshold = 0.1;
    strcpy(al.description, "Worker flaky: error rate 0.34 over 5m (threshold 0.1)");
    al.starts_at_us = T_FIRE;
    al.ts_us = T_FIRE;
    al.fingerprint = bm_alert_fingerprint(al.rule, al.labels, al.n_labels);
}

TestSuite(alert_encode, .init = setup);

static const char *str_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "'%s' is not a string", key);
    return json_string_value(v);
}

static void fp_hex(char out[17])
{
    bm_alert_fingerprint_hex(al.fingerprint, out);
}

/* ---- names, fingerprint, values ----------------------------------------- */

Test(alert_encode, names)
{
    cr_assert_str_eq(bm_severity_name(BM_SEVERITY_INFO), "info");
    cr_assert_str_eq(bm_severity_name(BM_SEVERITY_CRITICAL), "critical");
    cr_assert_eq(bm_severity_parse("Warning"), BM_SEVERITY_WARNING);
    cr_assert_str_eq(bm_alert_state_name(BM_ALERT_REPEAT), "repeat");
    cr_assert_eq(bm_alert_body_format_parse("generic"), BM_ALERT_BODY_JSON);
    cr_assert_eq(bm_alert_body_format_parse("alertmanager"), BM_ALERT_BODY_ALERTMANAGER);
    cr_assert_eq(bm_alert_body_format_parse("email"), -1);
    for (int f = 0; f < BM_ALERT_BODY__COUNT; f++)
        cr_assert_eq(bm_alert_body_format_parse(bm_alert_body_format_name(f)), f);
}

Test(alert_encode, fingerprint_is_stable_and_order_free)
{
    bm_alert_label a[2] = {{"worker", "flaky"}, {"team", "core"}};
    bm_alert_label b[2] = {{"team", "core"}, {"worker", "flaky"}};
    uint64_t fa = bm_alert_fingerprint("r", a, 2);
    cr_assert_eq(fa, bm_alert_fingerprint("r", b, 2));
    cr_assert_neq(fa, bm_alert_fingerprint("s", b, 2));
    cr_assert_neq(fa, bm_alert_fingerprint("r", b, 1));
    bm_alert_label c[2] = {{"team", "cor"}, {"worker", "eflaky"}}; /* same bytes, other split */
    cr_assert_neq(fa, bm_alert_fingerprint("r", c, 2));
    /* FNV-1a 64 of "r\0": a fixed value, so it is the same on every agent */
    cr_assert_eq(bm_alert_fingerprint("r", NULL, 0), 0x08dc7407b57bcdefULL);
    char hex[17];
    bm_alert_fingerprint_hex(0x00000000000abcdeULL, hex);
    cr_assert_str_eq(hex, "00000000000abcde");
}

Test(alert_encode, values_as_people_read_them)
{
    char b[32];
    bm_alert_format_value(10000, b);
    cr_assert_str_eq(b, "10000");
    bm_alert_format_value(0.34, b);
    cr_assert_str_eq(b, "0.34");
    bm_alert_format_value(0.341234, b);
    cr_assert_str_eq(b, "0.3412");
    bm_alert_format_value(5123.46, b);
    cr_assert_str_eq(b, "5123.5");
    bm_alert_format_value(-2, b);
    cr_assert_str_eq(b, "-2");
    bm_alert_format_value(12.3456, b);
    cr_assert_str_eq(b, "12.35");
}

Test(alert_encode, summary)
{
    char s[128];
    bm_alert_summary(&al, s, sizeof s);
    cr_assert_str_eq(s, "[FIRING] high_error_rate team=core worker=flaky");
    al.state = BM_ALERT_REPEAT;
    bm_alert_summary(&al, s, sizeof s);
    cr_assert_str_eq(s, "[STILL FIRING] high_error_rate team=core worker=flaky");
    al.state = BM_ALERT_RESOLVED;
    int need = bm_alert_summary(&al, s, 12);
    cr_assert_str_eq(s, "[RESOLVED] ");
    cr_assert_eq(need, (int)strlen("[RESOLVED] high_error_rate team=core worker=flaky"));
    cr_assert_str_eq(bm_alert_label_get(&al, "worker"), "flaky");
    cr_assert_null(bm_alert_label_get(&al, "stream"));
}

/* ---- the record ---------------------------------------------------------- */

Test(alert_encode, record_json_firing)
{
    json_t *j = bm_alert_to_json(&al, "busmon-host1");
    cr_assert_not_null(j);
    char fp[17];
    fp_hex(fp);
    cr_assert_str_eq(str_at(j, "rule"), "high_error_rate");
    cr_assert_str_eq(str_at(j, "state"), "firing");
    cr_assert_str_eq(str_at(j, "severity"), "warning");
    cr_assert_str_eq(str_at(j, "fingerprint"), fp);
    json_t *labels = json_object_get(j, "labels");
    cr_assert_eq(json_object_size(labels), 2);
    cr_assert_str_eq(str_at(labels, "worker"), "flaky");
    cr_assert_str_eq(str_at(labels, "team"), "core");
    cr_assert_str_eq(str_at(j, "metric"), "error_rate");
    cr_assert_str_eq(str_at(j, "op"), ">");
    cr_assert_str_eq(str_at(j, "window"), "5m");
    cr_assert_float_eq(json_real_value(json_object_get(j, "value")), 0.34, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(j, "threshold")), 0.1, 1e-12);
    cr_assert_str_eq(str_at(j, "description"), al.description);
    cr_assert_eq(json_integer_value(json_object_get(j, "starts_at")), T_FIRE);
    cr_assert_null(json_object_get(j, "ends_at"));
    cr_assert_eq(json_integer_value(json_object_get(j, "ts")), T_FIRE);
    cr_assert_str_eq(str_at(j, "agent"), "busmon-host1");
    cr_assert_eq(json_object_size(j), 14);
    json_decref(j);

    /* the generic webhook body is the record */
    size_t len = 0;
    char *body = bm_alert_body(BM_ALERT_BODY_JSON, &al, NULL, NULL);
    char *text = bm_alert_record_text(&al, NULL, &len);
    cr_assert_str_eq(body, text);
    cr_assert_eq(len, strlen(text));
    cr_assert_null(strstr(text, "\"agent\""));
    cr_assert(strstr(text, "\"value\":0.34,\"threshold\":0.1,"), "%s", text); /* 15 digits */
    json_t *back = json_loads(text, 0, NULL);
    cr_assert_float_eq(json_real_value(json_object_get(back, "value")), 0.34, 1e-15);
    json_decref(back);
    free(text);
    free(body);
}

Test(alert_encode, record_json_resolved_without_window)
{
    al.state = BM_ALERT_RESOLVED;
    al.ends_at_us = T_RESOLVE;
    al.ts_us = T_RESOLVE;
    al.window[0] = '\0';
    al.value = 1.0 / 0.0; /* JSON has no infinity */
    json_t *j = bm_alert_to_json(&al, NULL);
    cr_assert_str_eq(str_at(j, "state"), "resolved");
    cr_assert_eq(json_integer_value(json_object_get(j, "ends_at")), T_RESOLVE);
    cr_assert_null(json_object_get(j, "window"));
    cr_assert(json_is_null(json_object_get(j, "value")));
    json_decref(j);
}

Test(alert_encode, record_json_survives_bad_utf8)
{
    strcpy(al.labels[1].value, "fl\xff"
                               "aky");
    json_t *j = bm_alert_to_json(&al, NULL);
    cr_assert_not_null(j);
    cr_assert_str_eq(str_at(json_object_get(j, "labels"), "worker"), "fl?aky");
    json_decref(j);
}

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    cr_assert_eq(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
            return &kv->val;
    }
    return NULL;
}

static void mp_str_eq(const msgpack_object *map, const char *key, const char *want)
{
    const msgpack_object *v = mp_get(map, key);
    cr_assert_not_null(v, "no '%s'", key);
    cr_assert_eq(v->type, MSGPACK_OBJECT_STR, "'%s' is not a string", key);
    cr_assert_eq(v->via.str.size, strlen(want), "'%s'", key);
    cr_assert(!memcmp(v->via.str.ptr, want, v->via.str.size), "'%s'", key);
}

Test(alert_encode, record_msgpack)
{
    al.state = BM_ALERT_RESOLVED;
    al.ends_at_us = T_RESOLVE;
    al.ts_us = T_RESOLVE;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_alert_encode_msgpack(&al, "busmon-host1", &sb), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size); /* exactly one object */
    const msgpack_object *m = &up.data;
    cr_assert_eq(m->via.map.size, 15);
    char fp[17];
    fp_hex(fp);
    mp_str_eq(m, "rule", "high_error_rate");
    mp_str_eq(m, "state", "resolved");
    mp_str_eq(m, "severity", "warning");
    mp_str_eq(m, "fingerprint", fp);
    const msgpack_object *labels = mp_get(m, "labels");
    cr_assert_eq(labels->via.map.size, 2);
    mp_str_eq(labels, "worker", "flaky");
    mp_str_eq(labels, "team", "core");
    mp_str_eq(m, "metric", "error_rate");
    mp_str_eq(m, "op", ">");
    mp_str_eq(m, "window", "5m");
    cr_assert_eq(mp_get(m, "value")->type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_float_eq(mp_get(m, "value")->via.f64, 0.34, 1e-12);
    cr_assert_float_eq(mp_get(m, "threshold")->via.f64, 0.1, 1e-12);
    mp_str_eq(m, "description", al.description);
    cr_assert_eq(mp_get(m, "starts_at")->via.i64, T_FIRE);
    cr_assert_eq(mp_get(m, "ends_at")->via.i64, T_RESOLVE);
    cr_assert_eq(mp_get(m, "ts")->via.i64, T_RESOLVE);
    mp_str_eq(m, "agent", "busmon-host1");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    /* firing, no agent, no window: three keys fewer */
    al.state = BM_ALERT_FIRING;
    al.window[0] = '\0';
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_alert_encode_msgpack(&al, NULL, &sb), 0);
    msgpack_unpacked_init(&up);
    off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(up.data.via.map.size, 12);
    cr_assert_null(mp_get(&up.data, "ends_at"));
    cr_assert_null(mp_get(&up.data, "agent"));
    cr_assert_null(mp_get(&up.data, "window"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- Slack --------------------------------------------------------------- */

static json_t *field(json_t *fields, size_t i, const char *title)
{
    json_t *f = json_array_get(fields, i);
    cr_assert_str_eq(str_at(f, "title"), title);
    cr_assert(json_is_true(json_object_get(f, "short")));
    return f;
}

Test(alert_encode, slack_body)
{
    bm_alert_body_opts o = {.agent = "busmon-host1", .generator_url = "http://127.0.0.1:9464/"};
    json_t *j = bm_alert_body_json(BM_ALERT_BODY_SLACK, &al, &o);
    cr_assert_not_null(j);
    cr_assert_str_eq(str_at(j, "text"), "[FIRING] high_error_rate team=core worker=flaky");
    json_t *atts = json_object_get(j, "attachments");
    cr_assert_eq(json_array_size(atts), 1);
    json_t *a = json_array_get(atts, 0);
    cr_assert_str_eq(str_at(a, "color"), "#daa038");
    cr_assert_str_eq(str_at(a, "fallback"), "[FIRING] high_error_rate team=core worker=flaky");
    cr_assert_str_eq(str_at(a, "title"), "[FIRING] high_error_rate team=core worker=flaky");
    cr_assert_str_eq(str_at(a, "title_link"), "http://127.0.0.1:9464/");
    cr_assert_str_eq(str_at(a, "text"), al.description);
    json_t *fields = json_object_get(a, "fields");
    cr_assert_eq(json_array_size(fields), 5);
    cr_assert_str_eq(str_at(field(fields, 0, "Severity"), "value"), "warning");
    cr_assert_str_eq(str_at(field(fields, 1, "Value"), "value"), "0.34");
    cr_assert_str_eq(str_at(field(fields, 2, "Condition"), "value"), "error_rate 5m > 0.1");
    cr_assert_str_eq(str_at(field(fields, 3, "team"), "value"), "core");
    cr_assert_str_eq(str_at(field(fields, 4, "worker"), "value"), "flaky");
    cr_assert_str_eq(str_at(a, "footer"), "busmon busmon-host1");
    cr_assert_eq(json_integer_value(json_object_get(a, "ts")), T_FIRE / 1000000);
    json_decref(j);
}

Test(alert_encode, slack_colour_by_severity_and_resolved_green)
{
    static const char *const want[] = {"#439fe0", "#daa038", "#e8590c", "#a30200"};
    for (int s = 0; s < BM_SEVERITY__COUNT; s++) {
        al.severity = (bm_severity)s;
        json_t *j = bm_alert_body_json(BM_ALERT_BODY_SLACK, &al, NULL);
        json_t *a = json_array_get(json_object_get(j, "attachments"), 0);
        cr_assert_str_eq(str_at(a, "color"), want[s]);
        cr_assert_null(json_object_get(a, "title_link"));
        cr_assert_str_eq(str_at(a, "footer"), "busmon");
        json_decref(j);
    }
    al.state = BM_ALERT_RESOLVED;
    json_t *j = bm_alert_body_json(BM_ALERT_BODY_SLACK, &al, NULL);
    json_t *a = json_array_get(json_object_get(j, "attachments"), 0);
    cr_assert_str_eq(str_at(a, "color"), "#2eb886");
    cr_assert_str_eq(str_at(j, "text"), "[RESOLVED] high_error_rate team=core worker=flaky");
    json_decref(j);
}

/* ---- PagerDuty ----------------------------------------------------------- */

Test(alert_encode, pagerduty_trigger)
{
    bm_alert_body_opts o = {
        .agent = "busmon-host1", .routing_key = "R0UT1NGKEY", .generator_url = "http://dash/"};
    json_t *j = bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, &o);
    cr_assert_not_null(j);
    char fp[17], dedup[32];
    fp_hex(fp);
    snprintf(dedup, sizeof dedup, "busmon-%s", fp);
    cr_assert_str_eq(str_at(j, "routing_key"), "R0UT1NGKEY");
    cr_assert_str_eq(str_at(j, "event_action"), "trigger");
    cr_assert_str_eq(str_at(j, "dedup_key"), dedup);
    cr_assert_str_eq(str_at(j, "client"), "busmon");
    cr_assert_str_eq(str_at(j, "client_url"), "http://dash/");
    json_t *p = json_object_get(j, "payload");
    cr_assert_str_eq(str_at(p, "summary"),
                     "[FIRING] high_error_rate team=core worker=flaky: Worker flaky: error rate "
                     "0.34 over 5m (threshold 0.1)");
    cr_assert_str_eq(str_at(p, "source"), "busmon-host1");
    cr_assert_str_eq(str_at(p, "severity"), "warning");
    cr_assert_str_eq(str_at(p, "timestamp"), "2024-01-15T10:30:00.000000Z");
    cr_assert_str_eq(str_at(p, "component"), "flaky");
    cr_assert_str_eq(str_at(p, "group"), "high_error_rate");
    cr_assert_str_eq(str_at(p, "class"), "error_rate");
    json_t *d = json_object_get(p, "custom_details");
    cr_assert_str_eq(str_at(d, "description"), al.description);
    cr_assert_float_eq(json_real_value(json_object_get(d, "value")), 0.34, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(d, "threshold")), 0.1, 1e-12);
    cr_assert_str_eq(str_at(d, "op"), ">");
    cr_assert_str_eq(str_at(d, "window"), "5m");
    cr_assert_str_eq(str_at(json_object_get(d, "labels"), "team"), "core");
    json_decref(j);

    /* a repeat triggers again with the same dedup key */
    al.state = BM_ALERT_REPEAT;
    j = bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, &o);
    cr_assert_str_eq(str_at(j, "event_action"), "trigger");
    cr_assert_str_eq(str_at(j, "dedup_key"), dedup);
    json_decref(j);
}

Test(alert_encode, pagerduty_resolve_and_requirements)
{
    bm_alert_body_opts o = {.routing_key = "K"};
    al.state = BM_ALERT_RESOLVED;
    al.ends_at_us = T_RESOLVE;
    json_t *j = bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, &o);
    char fp[17], dedup[32];
    fp_hex(fp);
    snprintf(dedup, sizeof dedup, "busmon-%s", fp);
    cr_assert_eq(json_object_size(j), 3);
    cr_assert_str_eq(str_at(j, "routing_key"), "K");
    cr_assert_str_eq(str_at(j, "event_action"), "resolve");
    cr_assert_str_eq(str_at(j, "dedup_key"), dedup);
    json_decref(j);

    cr_assert_null(bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, NULL)); /* no routing key */

    /* summary cut to 1024 bytes, never inside a UTF-8 character; source default */
    al.state = BM_ALERT_FIRING;
    memset(al.description, 0, sizeof al.description);
    for (size_t i = 0; i + 2 < sizeof al.description; i += 2)
        memcpy(al.description + i, "\xc3\xa9", 2); /* é */
    strcpy(al.rule, "rr");
    al.n_labels = 0;
    for (int i = 0; i < 7; i++) { /* " kN=" + 126 bytes each: the head is 921 bytes */
        char key[8], value[128] = "";
        snprintf(key, sizeof key, "k%d", i);
        for (int c = 0; c < 63; c++)
            strcat(value, "\xc3\xa9");
        add_label(&al, key, value);
    }
    j = bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, &o);
    json_t *p = json_object_get(j, "payload");
    const char *s = str_at(p, "summary"); /* a string: jansson checked it is UTF-8 */
    cr_assert_eq(strlen(s), 1023);        /* 1024 would split an é */
    cr_assert_null(json_object_get(p, "component"));
    json_decref(j);
    al.n_labels = 0;
    j = bm_alert_body_json(BM_ALERT_BODY_PAGERDUTY, &al, &o);
    p = json_object_get(j, "payload");
    cr_assert_str_eq(str_at(p, "source"), "busmon");
    json_decref(j);
}

/* ---- Alertmanager -------------------------------------------------------- */

Test(alert_encode, alertmanager_firing)
{
    bm_alert_body_opts o = {.generator_url = "http://127.0.0.1:9464/alerts",
                            .firing_valid_us = 3600000000LL};
    json_t *arr = bm_alert_body_json(BM_ALERT_BODY_ALERTMANAGER, &al, &o);
    cr_assert(json_is_array(arr));
    cr_assert_eq(json_array_size(arr), 1);
    json_t *a = json_array_get(arr, 0);
    json_t *labels = json_object_get(a, "labels");
    cr_assert_eq(json_object_size(labels), 4);
    cr_assert_str_eq(str_at(labels, "alertname"), "high_error_rate");
    cr_assert_str_eq(str_at(labels, "severity"), "warning");
    cr_assert_str_eq(str_at(labels, "worker"), "flaky");
    cr_assert_str_eq(str_at(labels, "team"), "core");
    json_t *ann = json_object_get(a, "annotations");
    cr_assert_str_eq(str_at(ann, "summary"), "[FIRING] high_error_rate team=core worker=flaky");
    cr_assert_str_eq(str_at(ann, "description"), al.description);
    cr_assert_str_eq(str_at(ann, "value"), "0.34");
    cr_assert_str_eq(str_at(ann, "threshold"), "0.1");
    cr_assert_str_eq(str_at(a, "startsAt"), "2024-01-15T10:30:00.000000Z");
    cr_assert_str_eq(str_at(a, "endsAt"), "2024-01-15T11:30:00.000000Z");
    cr_assert_str_eq(str_at(a, "generatorURL"), "http://127.0.0.1:9464/alerts");
    cr_assert_eq(json_object_size(a), 5);
    json_decref(arr);

    arr = bm_alert_body_json(BM_ALERT_BODY_ALERTMANAGER, &al, NULL); /* no validity: no endsAt */
    a = json_array_get(arr, 0);
    cr_assert_null(json_object_get(a, "endsAt"));
    cr_assert_null(json_object_get(a, "generatorURL"));
    json_decref(arr);
}

Test(alert_encode, alertmanager_resolved_and_batches)
{
    bm_alert two[2];
    two[0] = al;
    two[1] = al;
    two[1].state = BM_ALERT_RESOLVED;
    two[1].ends_at_us = T_RESOLVE;
    two[1].ts_us = T_RESOLVE;
    strcpy(two[1].labels[1].value, "other");
    json_t *arr = bm_alert_alertmanager_json(two, 2, NULL);
    cr_assert_eq(json_array_size(arr), 2);
    json_t *a = json_array_get(arr, 1);
    cr_assert_str_eq(str_at(json_object_get(a, "labels"), "worker"), "other");
    cr_assert_str_eq(str_at(a, "startsAt"), "2024-01-15T10:30:00.000000Z");
    cr_assert_str_eq(str_at(a, "endsAt"), "2024-01-15T10:45:00.250000Z");
    cr_assert_str_eq(str_at(json_object_get(a, "annotations"), "summary"),
                     "[RESOLVED] high_error_rate team=core worker=other");
    json_decref(arr);

    size_t len = 0;
    char *body = bm_alert_body(BM_ALERT_BODY_ALERTMANAGER, &al, NULL, &len);
    cr_assert_not_null(body);
    cr_assert_eq(len, strlen(body));
    cr_assert_eq(body[0], '[');
    cr_assert_null(strchr(body, '\n')); /* compact */
    free(body);
}

/* ---- reading the record back --------------------------------------------- */

static msgpack_sbuffer rec_buf;
static msgpack_unpacked rec_obj;

static const msgpack_object *record_of(const bm_alert *a, const char *agent)
{
    size_t off = 0;
    msgpack_sbuffer_init(&rec_buf);
    cr_assert_eq(bm_alert_encode_msgpack(a, agent, &rec_buf), 0);
    msgpack_unpacked_init(&rec_obj);
    cr_assert_eq(msgpack_unpack_next(&rec_obj, rec_buf.data, rec_buf.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    return &rec_obj.data;
}

static void record_done(void)
{
    msgpack_unpacked_destroy(&rec_obj);
    msgpack_sbuffer_destroy(&rec_buf);
}

static void same_alert(const bm_alert *a, const bm_alert *b)
{
    cr_assert_str_eq(a->rule, b->rule);
    cr_assert_eq(a->state, b->state);
    cr_assert_eq(a->severity, b->severity);
    cr_assert_eq(a->n_labels, b->n_labels);
    for (unsigned i = 0; i < a->n_labels; i++) {
        cr_assert_str_eq(a->labels[i].key, b->labels[i].key);
        cr_assert_str_eq(a->labels[i].value, b->labels[i].value);
    }
    cr_assert_str_eq(a->metric, b->metric);
    cr_assert_str_eq(a->op, b->op);
    cr_assert_str_eq(a->window, b->window);
    cr_assert_eq(a->value, b->value);
    cr_assert_eq(a->threshold, b->threshold);
    cr_assert_str_eq(a->description, b->description);
    cr_assert_eq(a->starts_at_us, b->starts_at_us);
    cr_assert_eq(a->ends_at_us, b->ends_at_us);
    cr_assert_eq(a->ts_us, b->ts_us);
    cr_assert_eq(a->fingerprint, b->fingerprint);
}

Test(alert_encode, record_msgpack_reads_back)
{
    bm_alert back;
    char err[128] = "";
    cr_assert_eq(bm_alert_decode_msgpack(record_of(&al, "agent-1"), &back, err, sizeof err), 0,
                 "%s", err);
    record_done();
    same_alert(&al, &back);

    bm_alert r = al; /* resolved, no window, an exact value */
    r.state = BM_ALERT_RESOLVED;
    r.window[0] = '\0';
    r.value = 0.1 + 0.2;
    r.ends_at_us = T_RESOLVE;
    r.ts_us = T_RESOLVE;
    cr_assert_eq(bm_alert_decode_msgpack(record_of(&r, NULL), &back, err, sizeof err), 0, "%s",
                 err);
    record_done();
    same_alert(&r, &back);
}

Test(alert_encode, record_msgpack_refusals)
{
    bm_alert back;
    char err[128];
    const msgpack_object *o = record_of(&al, NULL);
    msgpack_object_kv kv[16];
    cr_assert_leq(o->via.map.size, 16);
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"state", "burning", "unknown 'state'"},
        {"severity", "meh", "unknown 'severity'"},
        {"fingerprint", "0000000000000000", "'fingerprint' is not the one"},
        {"rule", NULL, "'rule' missing"},
        {"value", NULL, "'value' or 'threshold' is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(kv, o->via.map.ptr, o->via.map.size * sizeof *kv);
        for (uint32_t k = 0; k < o->via.map.size; k++) {
            if (strlen(bad[i].key) != kv[k].key.via.str.size ||
                memcmp(kv[k].key.via.str.ptr, bad[i].key, kv[k].key.via.str.size))
                continue;
            if (bad[i].value) {
                kv[k].val.type = MSGPACK_OBJECT_STR;
                kv[k].val.via.str.ptr = bad[i].value;
                kv[k].val.via.str.size = (uint32_t)strlen(bad[i].value);
            } else {
                kv[k].val.type = MSGPACK_OBJECT_NIL;
            }
        }
        msgpack_object m = *o;
        m.via.map.ptr = kv;
        cr_assert_eq(bm_alert_decode_msgpack(&m, &back, err, sizeof err), -1, "case %zu", i);
        cr_assert(strstr(err, bad[i].says), "case %zu: %s", i, err);
    }
    record_done();
    cr_assert_eq(bm_alert_decode_msgpack(NULL, &back, err, sizeof err), -1);
}
