/*
 * system.c - the system metrics sample and its window summary, JSON and
 * msgpack (system.h has the layout). Unknown figures are NAN in C and null
 * in JSON; nothing here reads a clock or a file.
 */
#include "system.h"

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "rollup.h"

static const char *const field_names[BM_SYS__COUNT] = {
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "load1",
    "load5",
    "load15",
    "agent_cpu_percent",
    "agent_rss_bytes",
    "events_per_sec",
    "p95_latency_ms",
    "success_rate",
    "redis_connected_clients",
    "redis_used_memory_bytes",
    "redis_rtt_ms",
    "consumer_lag",
    "pending",
    "stream_length",
    "cgroup_memory_limit_bytes",
    "cgroup_memory_usage_bytes",
    "cgroup_memory_working_set_bytes",
    "cgroup_cpu_limit_cores",
};

const char *bm_sys_field_name(bm_sys_field f)
{
    return (unsigned)f < BM_SYS__COUNT ? field_names[f] : "?";
}

void bm_sys_sample_clear(bm_sys_sample *s)
{
    memset(s, 0, sizeof *s);
    for (int f = 0; f < BM_SYS__COUNT; f++)
        s->p.v[f] = NAN;
}

/* A figure as JSON: null when unknown, an integer when it is one (counts,
 * bytes), else rounded to 4 decimals (printed with JSON_REAL_PRECISION(15)
 * it stays short). */
static json_t *figure(double v)
{
    if (isnan(v) || isinf(v)) return json_null();
    if (v == floor(v) && fabs(v) < 9e15) return json_integer((json_int_t)v);
    if (fabs(v) < 1e11) v = round(v * 1e4) / 1e4;
    return json_real(v);
}

/* Unix seconds to the millisecond. */
static json_t *unix_s(int64_t ts_us)
{
    return json_real((double)((ts_us + 500) / 1000) / 1e3);
}

static json_t *opt_int(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* Set key on obj, remembering a failure in *err (the value is consumed either way). */
static void put(json_t *obj, const char *key, json_t *v, int *err)
{
    if (!v || json_object_set_new(obj, key, v)) *err = 1;
}

static void put_point(json_t *obj, const bm_sys_point *p, int *err)
{
    for (int f = 0; f < BM_SYS__COUNT; f++)
        put(obj, field_names[f], figure(p->v[f]), err);
}

json_t *bm_sys_sample_to_json(const bm_sys_sample *s)
{
    json_t *j = json_object();
    json_t *streams = json_array();
    int err = !j || !streams;
    if (!err) {
        put(j, "t", unix_s(s->p.ts_us), &err);
        put(j, "agent", bm_json_text(s->agent, sizeof s->agent), &err);
        put(j, "interval_seconds", figure((double)s->interval_us / 1e6), &err);
        put(j, "data_path", bm_json_text(s->data_path, sizeof s->data_path), &err);
        put_point(j, &s->p, &err);
        for (size_t i = 0; i < s->n_streams && !err; i++) {
            const bm_sys_stream *st = &s->streams[i];
            json_t *o = json_object();
            if (!o) {
                err = 1;
                break;
            }
            put(o, "name", bm_json_text(st->name, sizeof st->name), &err);
            put(o, "length", opt_int(st->length), &err);
            put(o, "lag", opt_int(st->lag), &err);
            put(o, "pending", opt_int(st->pending), &err);
            put(o, "group", st->group < 0 ? json_null() : json_boolean(st->group), &err);
            if (json_array_append_new(streams, o)) err = 1;
        }
    }
    if (!err && json_object_set(j, "streams", streams)) err = 1;
    json_decref(streams);
    if (err) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t int_or_unknown(const json_t *v)
{
    return json_is_number(v) && json_number_value(v) >= 0 ? (int64_t)json_number_value(v) : -1;
}

/* v's text into dst (n bytes), cut between UTF-8 characters: a cut one
 * made the sample not JSON again (busmon system --json failed). */
static void copy_str(char *dst, size_t n, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = s ? bm_text_cut(s, strlen(s), n - 1) : 0;
    if (len) memcpy(dst, s, len);
    dst[len] = '\0';
}

int bm_sys_sample_from_json(const json_t *j, bm_sys_sample *out)
{
    bm_sys_sample_clear(out);
    if (!json_is_object(j) || !json_is_number(json_object_get(j, "t"))) return -1;
    double t = json_number_value(json_object_get(j, "t"));
    if (!(t >= 0 && t < 1e11)) return -1;
    out->p.ts_us = (int64_t)llround(t * 1e6);
    double iv = num_or_nan(json_object_get(j, "interval_seconds"));
    if (!isnan(iv) && !(iv >= 0 && iv <= BM_SYS_INTERVAL_MAX_S)) return -1; /* not an interval */
    out->interval_us = isnan(iv) ? 0 : (int64_t)(iv * 1e6);
    copy_str(out->agent, sizeof out->agent, json_object_get(j, "agent"));
    copy_str(out->data_path, sizeof out->data_path, json_object_get(j, "data_path"));
    for (int f = 0; f < BM_SYS__COUNT; f++)
        out->p.v[f] = num_or_nan(json_object_get(j, field_names[f]));
    const json_t *arr = json_object_get(j, "streams");
    size_t i;
    const json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (out->n_streams == BM_SYS_STREAMS_MAX) break;
        if (!json_is_object(o)) continue;
        bm_sys_stream *st = &out->streams[out->n_streams++];
        copy_str(st->name, sizeof st->name, json_object_get(o, "name"));
        st->length = int_or_unknown(json_object_get(o, "length"));
        st->lag = int_or_unknown(json_object_get(o, "lag"));
        st->pending = int_or_unknown(json_object_get(o, "pending"));
        const json_t *g = json_object_get(o, "group");
        st->group = json_is_boolean(g) ? json_is_true(g) : -1;
    }
    return 0;
}

int bm_sys_sample_encode_msgpack(const bm_sys_sample *s, msgpack_sbuffer *out)
{
    json_t *j = bm_sys_sample_to_json(s);
    if (!j) return -1;
    int rc = bm_json_encode_msgpack(j, out);
    json_decref(j);
    return rc;
}

/* ---- window summary ------------------------------------------------------- */

void bm_sys_agg_init(bm_sys_agg *a)
{
    memset(a, 0, sizeof *a);
    for (int f = 0; f < BM_SYS__COUNT; f++)
        a->peak[f] = NAN;
}

void bm_sys_agg_add(bm_sys_agg *a, const bm_sys_point *p)
{
    if (!a->samples || p->ts_us < a->from_us) a->from_us = p->ts_us;
    if (!a->samples || p->ts_us > a->to_us) a->to_us = p->ts_us;
    a->samples++;
    for (int f = 0; f < BM_SYS__COUNT; f++) {
        double v = p->v[f];
        if (isnan(v) || isinf(v)) continue;
        a->sum[f] += v;
        a->known[f]++;
        if (isnan(a->peak[f]) || v > a->peak[f]) a->peak[f] = v;
    }
}

double bm_sys_agg_avg(const bm_sys_agg *a, bm_sys_field f)
{
    if ((unsigned)f >= BM_SYS__COUNT || !a->known[f]) return NAN;
    return a->sum[f] / (double)a->known[f];
}

double bm_sys_agg_peak(const bm_sys_agg *a, bm_sys_field f)
{
    return (unsigned)f < BM_SYS__COUNT ? a->peak[f] : NAN;
}

/* Points [from, to) merged into one: the figures averaged, the time the last one's. */
static void merge_points(const bm_sys_point *pts, size_t from, size_t to, bm_sys_point *out)
{
    bm_sys_agg g;
    bm_sys_agg_init(&g);
    for (size_t i = from; i < to; i++)
        bm_sys_agg_add(&g, &pts[i]);
    out->ts_us = pts[to - 1].ts_us;
    for (int f = 0; f < BM_SYS__COUNT; f++)
        out->v[f] = bm_sys_agg_avg(&g, (bm_sys_field)f);
}

json_t *bm_sys_window_json(const char *label, int64_t window_us, int64_t interval_us,
                           const bm_sys_point *points, size_t n_points,
                           const bm_sys_sample *latest)
{
    bm_sys_agg agg;
    bm_sys_agg_init(&agg);
    for (size_t i = 0; i < n_points; i++)
        bm_sys_agg_add(&agg, &points[i]);
    json_t *j = json_object(), *avg = json_object(), *peak = json_object(),
           *series = json_array();
    int err = !j || !avg || !peak || !series;
    if (!err) {
        put(j, "window", json_string(label), &err);
        put(j, "window_seconds", figure((double)window_us / 1e6), &err);
        put(j, "interval_seconds", figure((double)interval_us / 1e6), &err);
        put(j, "samples", json_integer((json_int_t)agg.samples), &err);
        put(j, "from", agg.samples ? unix_s(agg.from_us) : json_null(), &err);
        put(j, "to", agg.samples ? unix_s(agg.to_us) : json_null(), &err);
        put(j, "latest", latest ? bm_sys_sample_to_json(latest) : json_null(), &err);
        for (int f = 0; f < BM_SYS__COUNT; f++) {
            put(avg, field_names[f], figure(bm_sys_agg_avg(&agg, (bm_sys_field)f)), &err);
            put(peak, field_names[f], figure(bm_sys_agg_peak(&agg, (bm_sys_field)f)), &err);
        }
        /* at most BM_SYS_SERIES_MAX points: group consecutive ones evenly */
        size_t groups = n_points < BM_SYS_SERIES_MAX ? n_points : BM_SYS_SERIES_MAX;
        for (size_t g = 0; g < groups && !err; g++) {
            size_t from = g * n_points / groups, to = (g + 1) * n_points / groups;
            bm_sys_point m;
            merge_points(points, from, to, &m);
            json_t *o = json_object();
            if (!o) {
                err = 1;
                break;
            }
            put(o, "t", unix_s(m.ts_us), &err);
            put_point(o, &m, &err);
            if (json_array_append_new(series, o)) err = 1;
        }
    }
    if (!err) {
        if (json_object_set(j, "avg", avg) || json_object_set(j, "peak", peak) ||
            json_object_set(j, "series", series))
            err = 1;
    }
    json_decref(avg);
    json_decref(peak);
    json_decref(series);
    if (err) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int bm_sys_parse_window(const char *s, int64_t *out_us)
{
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0 || n > 1000000 || !end[0] || end[1]) return -1;
    int64_t unit;
    switch (*end) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    int64_t secs = (int64_t)n * unit;
    if (secs < 10 || secs > 7 * 86400) return -1;
    *out_us = secs * 1000000;
    return 0;
}
