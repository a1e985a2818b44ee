/*
 * test_system.c - proto/system: the system sample's JSON both ways (unknown
 * figures as null), its msgpack twin, avg/peak skipping unknowns, the window
 * summary's series cap, window parsing.
 */
#include "proto/event.h"
#include "proto/system.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>

static void sample(bm_sys_sample *s)
{
    bm_sys_sample_clear(s);
    s->p.ts_us = 1763800000123000;
    s->interval_us = 10000000;
    strcpy(s->agent, "a1");
    strcpy(s->data_path, "/var/lib/redis");
    s->p.v[BM_SYS_CPU] = 12.5;
    s->p.v[BM_SYS_REDIS_MEMORY] = 1508264;
    s->p.v[BM_SYS_CONSUMER_LAG] = 1000;
    s->n_streams = 2;
    strcpy(s->streams[0].name, "busmon:events");
    s->streams[0].length = 1200;
    s->streams[0].lag = 1000;
    s->streams[0].pending = 3;
    s->streams[0].group = 1;
    strcpy(s->streams[1].name, "other \"quoted\"");
    s->streams[1].length = s->streams[1].lag = s->streams[1].pending = -1;
    s->streams[1].group = 0;
}

Test(system, sample_json_round_trip)
{
    bm_sys_sample s, back;
    sample(&s);
    json_t *j = bm_sys_sample_to_json(&s);
    cr_assert_not_null(j);
    cr_assert_float_eq(json_number_value(json_object_get(j, "t")), 1763800000.123, 1e-6);
    cr_assert_float_eq(json_number_value(json_object_get(j, "cpu_percent")), 12.5, 1e-9);
    cr_assert(json_is_integer(json_object_get(j, "redis_used_memory_bytes")));
    cr_assert(json_is_null(json_object_get(j, "memory_percent")));
    cr_assert_str_eq(json_string_value(json_object_get(j, "data_path")), "/var/lib/redis");
    json_t *st = json_array_get(json_object_get(j, "streams"), 1);
    cr_assert(json_is_null(json_object_get(st, "lag")));
    cr_assert(json_is_false(json_object_get(st, "group")));
    /* through text, as the CLI reads it from the stream */
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_t *again = json_loads(text, 0, NULL);
    cr_assert_eq(bm_sys_sample_from_json(again, &back), 0);
    cr_assert_eq(back.p.ts_us, s.p.ts_us);
    cr_assert_eq(back.interval_us, s.interval_us);
    cr_assert_str_eq(back.agent, "a1");
    for (int f = 0; f < BM_SYS__COUNT; f++) {
        if (isnan(s.p.v[f]))
            cr_assert(isnan(back.p.v[f]), "field %s", bm_sys_field_name((bm_sys_field)f));
        else
            cr_assert_float_eq(back.p.v[f], s.p.v[f], 1e-9);
    }
    cr_assert_eq(back.n_streams, 2);
    cr_assert_str_eq(back.streams[1].name, "other \"quoted\"");
    cr_assert_eq(back.streams[0].lag, 1000);
    cr_assert_eq(back.streams[0].group, 1);
    cr_assert_eq(back.streams[1].pending, -1);
    cr_assert_eq(back.streams[1].group, 0);
    free(text);
    json_decref(again);
    json_decref(j);
}

Test(system, from_json_refuses_what_is_not_a_sample)
{
    bm_sys_sample s;
    json_t *j = json_loads("{\"cpu_percent\": 3}", 0, NULL);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), -1); /* no "t" */
    json_decref(j);
    j = json_loads("[1,2]", 0, NULL);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), -1);
    json_decref(j);
    j = json_loads("{\"t\": -5}", 0, NULL);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), -1);
    json_decref(j);
    /* wrong types are unknown, not errors; streams beyond the bound are dropped */
    j = json_loads("{\"t\": 5, \"cpu_percent\": \"high\", \"streams\": [1, {\"name\": 7}]}", 0,
                   NULL);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), 0);
    cr_assert(isnan(s.p.v[BM_SYS_CPU]));
    cr_assert_eq(s.n_streams, 1);
    cr_assert_str_eq(s.streams[0].name, "");
    json_decref(j);
}

/* Names longer than their room are cut between characters (a cut é made
 * the sample not JSON again: busmon system --json failed), and an interval
 * no sample can have is refused, not turned into an overflowed integer. */
Test(system, from_json_cuts_names_between_characters_and_refuses_bad_intervals)
{
    bm_sys_sample s;
    char name[sizeof s.agent + 64];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    memcpy(name + sizeof s.agent - 2, "\xc3\xa9", 2); /* é at bytes 126-127: one too many */
    json_t *j = json_pack("{s:i, s:s, s:[{s:s}]}", "t", 5, "agent", name, "streams", "name", name);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), 0);
    cr_assert_eq(strlen(s.agent), sizeof s.agent - 2, "the é left out whole");
    cr_assert_eq(strlen(s.streams[0].name), sizeof s.streams[0].name - 2);
    json_t *again = bm_sys_sample_to_json(&s);
    cr_assert_not_null(again, "valid UTF-8: JSON again");
    json_decref(again);
    json_decref(j);
    for (int i = 0; i < 3; i++) {
        static const double bad[] = {1e300, -1, BM_SYS_INTERVAL_MAX_S * 2};
        j = json_pack("{s:i, s:f}", "t", 5, "interval_seconds", bad[i]);
        cr_assert_eq(bm_sys_sample_from_json(j, &s), -1, "interval %g", bad[i]);
        json_decref(j);
    }
    j = json_pack("{s:i, s:f}", "t", 5, "interval_seconds", 2.5);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), 0);
    cr_assert_eq(s.interval_us, 2500000);
    json_decref(j);
}

/* A consumer or stream name is an identity of up to 256 bytes (BM_ID_MAX):
 * a sample carries it whole (cut at 127, `busmon top` read the lag of a
 * stream that does not exist and `busmon system --agent` mixed agents). */
Test(system, names_of_256_bytes_are_whole)
{
    bm_sys_sample s;
    char name[BM_ID_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    json_t *j = json_pack("{s:i, s:s, s:[{s:s}]}", "t", 5, "agent", name, "streams", "name", name);
    cr_assert_eq(bm_sys_sample_from_json(j, &s), 0);
    cr_assert_str_eq(s.agent, name);
    cr_assert_str_eq(s.streams[0].name, name);
    json_t *again = bm_sys_sample_to_json(&s);
    cr_assert_not_null(again);
    cr_assert(json_equal(json_object_get(again, "agent"), json_object_get(j, "agent")));
    json_decref(again);
    json_decref(j);
}

/* The agent writes these names with snprintf into fixed arrays: a stream
 * name cut inside a character, or a data path that is not UTF-8 (a Latin-1
 * directory), is not valid UTF-8. jansson refuses such text, and the whole
 * sample was lost (NULL: not published, /api/system failing) at every
 * interval. Each bad byte is U+FFFD instead; the rest of the sample stays. */
Test(system, names_that_are_not_utf8_do_not_lose_the_sample)
{
    bm_sys_sample s;
    sample(&s);
    strcpy(s.data_path, "/var/lib/r\xe9"
                        "dis");
    memset(s.streams[0].name, 'n', sizeof s.streams[0].name - 1);
    s.streams[0].name[sizeof s.streams[0].name - 2] = '\xc3'; /* half an é, cut by snprintf */
    s.streams[0].name[sizeof s.streams[0].name - 1] = '\0';
    strcpy(s.agent, "agent-\xff");
    json_t *j = bm_sys_sample_to_json(&s);
    cr_assert_not_null(j, "the sample is still written");
    cr_assert_str_eq(json_string_value(json_object_get(j, "data_path")), "/var/lib/r\xef\xbf\xbd"
                                                                         "dis");
    cr_assert_str_eq(json_string_value(json_object_get(j, "agent")), "agent-\xef\xbf\xbd");
    const char *name = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "streams"), 0), "name"));
    cr_assert_not_null(name);
    cr_assert_eq(strlen(name), sizeof s.streams[0].name - 2 + 3);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(json_object_get(j, "streams"), 0), "length")),
                 1200);
    json_decref(j);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_sys_sample_encode_msgpack(&s, &sb), 0, "its msgpack twin too");
    msgpack_sbuffer_destroy(&sb);
    j = bm_sys_window_json("1m", 60000000, 10000000, &s.p, 1, &s);
    cr_assert_not_null(j, "and a window summary holding it as latest");
    json_decref(j);
}

Test(system, msgpack_is_the_same_tree)
{
    bm_sys_sample s;
    sample(&s);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_sys_sample_encode_msgpack(&s, &sb), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
    json_t *j = bm_sys_sample_to_json(&s);
    cr_assert_eq(u.data.via.map.size, json_object_size(j));
    int seen_cpu = 0;
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        if (kv->key.via.str.size == 11 && !memcmp(kv->key.via.str.ptr, "cpu_percent", 11)) {
            cr_assert_eq(kv->val.type, MSGPACK_OBJECT_FLOAT64);
            cr_assert_float_eq(kv->val.via.f64, 12.5, 1e-9);
            seen_cpu = 1;
        }
        if (kv->key.via.str.size == 14 && !memcmp(kv->key.via.str.ptr, "memory_percent", 14))
            cr_assert_eq(kv->val.type, MSGPACK_OBJECT_NIL);
    }
    cr_assert(seen_cpu);
    json_decref(j);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

Test(system, avg_and_peak_skip_unknown_figures)
{
    bm_sys_agg a;
    bm_sys_agg_init(&a);
    cr_assert(isnan(bm_sys_agg_avg(&a, BM_SYS_CPU)));
    cr_assert(isnan(bm_sys_agg_peak(&a, BM_SYS_CPU)));
    double cpu[] = {10, NAN, 30, 20};
    for (int i = 0; i < 4; i++) {
        bm_sys_point p;
        p.ts_us = (i + 1) * 1000000;
        for (int f = 0; f < BM_SYS__COUNT; f++)
            p.v[f] = NAN;
        p.v[BM_SYS_CPU] = cpu[i];
        p.v[BM_SYS_CONSUMER_LAG] = -5 + i; /* negative values are values: the peak is the max */
        bm_sys_agg_add(&a, &p);
    }
    cr_assert_eq(a.samples, 4);
    cr_assert_float_eq(bm_sys_agg_avg(&a, BM_SYS_CPU), 20.0, 1e-12);
    cr_assert_float_eq(bm_sys_agg_peak(&a, BM_SYS_CPU), 30.0, 1e-12);
    cr_assert_float_eq(bm_sys_agg_peak(&a, BM_SYS_CONSUMER_LAG), -2.0, 1e-12);
    cr_assert(isnan(bm_sys_agg_avg(&a, BM_SYS_DISK)));
    cr_assert_eq(a.from_us, 1000000);
    cr_assert_eq(a.to_us, 4000000);
}

Test(system, window_summary_caps_the_series_and_keeps_the_averages)
{
    size_t n = 1000;
    bm_sys_point *pts = calloc(n, sizeof *pts);
    for (size_t i = 0; i < n; i++) {
        pts[i].ts_us = (int64_t)(i + 1) * 1000000;
        for (int f = 0; f < BM_SYS__COUNT; f++)
            pts[i].v[f] = NAN;
        pts[i].v[BM_SYS_EVENTS_PER_SEC] = (double)i;
    }
    json_t *j = bm_sys_window_json("1h", 3600000000LL, 1000000, pts, n, NULL);
    cr_assert_not_null(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "samples")), 1000);
    cr_assert(json_is_null(json_object_get(j, "latest")));
    cr_assert_float_eq(json_number_value(json_object_get(json_object_get(j, "avg"),
                                                         "events_per_sec")),
                       499.5, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "peak"),
                                                    "events_per_sec")),
                 999);
    json_t *series = json_object_get(j, "series");
    cr_assert_eq(json_array_size(series), BM_SYS_SERIES_MAX);
    /* every point went into one group: the series' mean, weighted, is the mean */
    double sum = 0;
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *p = json_array_get(series, i);
        sum += json_number_value(json_object_get(p, "events_per_sec"));
        cr_assert(json_is_null(json_object_get(p, "cpu_percent")));
        if (i)
            cr_assert_gt(json_number_value(json_object_get(p, "t")),
                         json_number_value(json_object_get(json_array_get(series, i - 1), "t")));
    }
    cr_assert_float_eq(sum / BM_SYS_SERIES_MAX, 499.5, 2.0);
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(series, 359), "t")),
                       1000.0, 1e-9);
    json_decref(j);
    /* no points: an empty summary, not an error */
    j = bm_sys_window_json("10m", 600000000LL, 1000000, pts, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(j, "samples")), 0);
    cr_assert_eq(json_array_size(json_object_get(j, "series")), 0);
    cr_assert(json_is_null(json_object_get(json_object_get(j, "avg"), "events_per_sec")));
    json_decref(j);
    free(pts);
}

Test(system, parse_window)
{
    int64_t us;
    cr_assert_eq(bm_sys_parse_window("1h", &us), 0);
    cr_assert_eq(us, 3600000000LL);
    cr_assert_eq(bm_sys_parse_window("10s", &us), 0);
    cr_assert_eq(bm_sys_parse_window("90m", &us), 0);
    cr_assert_eq(us, 5400000000LL);
    cr_assert_eq(bm_sys_parse_window("7d", &us), 0);
    const char *bad[] = {"", "h", "1", "5s", "8d", "-1h", "+1h", " 1h", "1hh", "1x", "1.5h",
                         "99999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(bm_sys_parse_window(bad[i], &us), -1, "'%s'", bad[i]);
    cr_assert_eq(bm_sys_parse_window(NULL, &us), -1);
}
