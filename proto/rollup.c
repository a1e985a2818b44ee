/*
 * rollup.c - a bm_rollup (and a worker alone) as a JSON tree and as msgpack.
 *
 * The JSON tree is built once, in the key order proto/README.md ("Rollups")
 * documents and agent/cli/stats.c reads; the msgpack map is that same tree
 * walked generically (objects -> map with str keys, arrays -> array, strings
 * -> str, integers -> int, reals -> float64, null -> nil), so the two fields
 * of a stream entry, `m` and `json`, can never disagree. Layout of one entry:
 *
 *   json/m = { "v": 1, "kind": "rollup", "ts": ISO|null, "ts_us": int,
 *              "agent": str, "interval_s": float, "perf_window": str,
 *              "summary": { "total_workers", "total_commands": int,
 *                           "avg_success_rate", "avg_duration_ms": float,
 *                           "workers_refused", "patterns_refused": int },
 *              "events":  { "<label>": { window_s, total_events, ... } } x3,
 *              "workers": [ worker, ... ],
 *              "errors":  [ { "type", "count": { "<label>": int } x3, ... } ] }
 *
 * Conventions, chosen so every consumer can read a value without guessing:
 *   - times are ISO-8601 UTC with milliseconds ("2026-11-22T10:00:00.123Z",
 *     truncated, never rounded); a time of 0 (never), or one that cannot be
 *     written (negative, after year 9999), is null;
 *   - durations are milliseconds as float (µs / 1000.0);
 *   - counters are integers; a uint64 above INT64_MAX is written INT64_MAX;
 *   - a non-finite double (NaN, ±inf) is written 0: JSON has no spelling for
 *     it, and 0 is what the structs already mean by "nothing measured";
 *   - text that is not valid UTF-8 (a name cut mid-character by a fixed
 *     array) has each bad byte replaced by U+FFFD, since jansson refuses it;
 *   - windows are keyed by their label (bm_rollup_window_key); an empty
 *     label takes its slot's default ("1m", "5m", "1h"), and the
 *     performance window whose label is a fixed window's ("1m", "5m": it is
 *     configured to 1 or 5 minutes) is keyed "perf", so every rollup holds
 *     three windows and "perf_window" names the key of the third.
 *
 * Not here: the Redis commands that publish these (agent/), the numbers
 * themselves (lib/).
 */
#include "proto/rollup.h"
#include "proto/time_internal.h"

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const health_names[BM_HEALTH__COUNT] = {
    [BM_HEALTH_UNKNOWN] = "unknown",   [BM_HEALTH_HEALTHY] = "healthy",
    [BM_HEALTH_DEGRADED] = "degraded", [BM_HEALTH_FAILED] = "failed",
    [BM_HEALTH_INACTIVE] = "inactive",
};

/* An out-of-range value is "unknown" (never NULL: the result goes straight
 * into JSON and log lines). */
const char *bm_health_name(bm_health h)
{
    if ((unsigned)h >= BM_HEALTH__COUNT) return health_names[BM_HEALTH_UNKNOWN];
    return health_names[h];
}

/* Case-insensitive ("Healthy" from a hand-written config is healthy). NULL
 * and any other name are -1; "unknown" is a name, BM_HEALTH_UNKNOWN. */
int bm_health_parse(const char *s)
{
    if (!s) return -1;
    for (int h = 0; h < BM_HEALTH__COUNT; h++)
        if (strcasecmp(s, health_names[h]) == 0) return h;
    return -1;
}

/* An out-of-range value is "stable". */
const char *bm_trend_name(bm_trend t)
{
    switch (t) {
    case BM_TREND_INCREASING:
        return "increasing";
    case BM_TREND_DECREASING:
        return "decreasing";
    case BM_TREND_STABLE:
        break;
    }
    return "stable";
}

/* ---- JSON values ------------------------------------------------------ */

/*
 * Every builder below adds to an object through set(), which records a
 * failure (out of memory: a NULL value, or jansson refusing to insert) in
 * *err instead of returning early, so the code reads top to bottom in the
 * documented key order and the caller checks once.
 */
static void set(json_t *obj, const char *key, json_t *v, int *err)
{
    if (json_object_set_new(obj, key, v) < 0) *err = 1; /* v is consumed, even NULL */
}

static void append(json_t *arr, json_t *v, int *err)
{
    if (json_array_append_new(arr, v) < 0) *err = 1;
}

static json_t *num(double v)
{
    return json_real(isfinite(v) ? v : 0.0);
}

static json_t *count(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *ms(double us)
{
    return num(us / 1000.0);
}

/* ISO-8601 UTC with milliseconds, or null for 0 / unwritable. */
static json_t *iso_ms(int64_t ts_us)
{
    char buf[32];
    if (ts_us <= 0 || bm_format_time_iso(ts_us, buf) != 27) return json_null();
    buf[23] = 'Z'; /* "YYYY-MM-DDThh:mm:ss.fff" is 23 characters; drop the µs */
    buf[24] = '\0';
    return json_stringn(buf, 24);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlong forms, surrogates and values above U+10FFFF are not). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* A string from at most `cap` bytes of s (fixed arrays may lack their NUL),
 * with each byte that does not start a valid UTF-8 sequence replaced by
 * U+FFFD. NULL reads as "". */
json_t *bm_json_text(const char *s, size_t cap)
{
    if (!s) return json_string("");
    size_t n = strnlen(s, cap), bad = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0) {
            bad++;
            l = 1;
        }
        i += l;
    }
    if (bad == 0) return json_stringn(s, n);

    char *clean = malloc(n + 2 * bad + 1); /* each bad byte becomes 3 */
    if (!clean) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0) {
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(clean + o, s + i, l);
            o += l;
            i += l;
        }
    }
    json_t *j = json_stringn(clean, o);
    free(clean);
    return j;
}

#define TEXT(field) bm_json_text((field), sizeof(field))

const char *bm_rollup_window_key(unsigned slot, const char *label, size_t label_cap, char buf[16])
{
    static const char *const defaults[BM_WINDOWS] = {"1m", "5m", "1h"};
    size_t n = label ? strnlen(label, label_cap) : 0;
    if (n > 15) n = 15;
    if (n == 0) {
        snprintf(buf, 16, "%s", defaults[slot < BM_WINDOWS ? slot : BM_WINDOWS - 1]);
    } else {
        memcpy(buf, label, n);
        buf[n] = '\0';
    }
    if (slot == BM_WINDOWS - 1 && (!strcmp(buf, "1m") || !strcmp(buf, "5m")))
        snprintf(buf, 16, "%s", BM_ROLLUP_PERF_KEY);
    return buf;
}

/*
 * The key for window slot i (bm_rollup_window_key), or NULL when an earlier
 * slot of `obj` already used it (the caller skips it: only a bm_rollup
 * filled by hand can repeat one).
 */
static const char *window_key(const json_t *obj, const char *label, size_t label_cap, unsigned i,
                              char buf[16])
{
    bm_rollup_window_key(i, label, label_cap, buf);
    return json_object_get(obj, buf) ? NULL : buf;
}

/* ---- the tree ---------------------------------------------------------- */

static json_t *worker_window(const bm_window_stats *s, int *err)
{
    json_t *o = json_object();
    if (!o) {
        *err = 1;
        return NULL;
    }
    set(o, "window_s", num((double)s->window_us / 1e6), err);
    set(o, "covered_s", num((double)s->covered_us / 1e6), err);
    set(o, "executions", count(s->executions), err);
    set(o, "successes", count(s->successes), err);
    set(o, "failures", count(s->failures), err);
    set(o, "timeouts", count(s->timeouts), err);
    set(o, "success_rate", num(s->success_rate), err);
    set(o, "error_rate", num(s->error_rate), err);
    set(o, "min_ms", ms((double)s->min_us), err);
    set(o, "max_ms", ms((double)s->max_us), err);
    set(o, "avg_ms", ms(s->avg_us), err);
    set(o, "p50_ms", ms(s->p50_us), err);
    set(o, "p95_ms", ms(s->p95_us), err);
    set(o, "p99_ms", ms(s->p99_us), err);
    set(o, "throughput_per_min", num(s->throughput_per_min), err);
    return o;
}

static json_t *worker(const bm_worker_snapshot *w, int *err)
{
    json_t *o = json_object(), *issues = json_array(), *wins = json_object();
    if (!o || !issues || !wins) {
        json_decref(o);
        json_decref(issues);
        json_decref(wins);
        *err = 1;
        return NULL;
    }
    set(o, "name", TEXT(w->name), err);
    set(o, "health", json_string(bm_health_name(w->health)), err);
    set(o, "health_since", iso_ms(w->health_since_us), err);
    unsigned n_issues = w->n_issues < BM_ISSUES_MAX ? w->n_issues : BM_ISSUES_MAX;
    for (unsigned i = 0; i < n_issues; i++)
        append(issues, TEXT(w->issues[i]), err);
    set(o, "issues", issues, err);
    set(o, "in_flight", json_integer(w->in_flight), err);
    set(o, "last_seen", iso_ms(w->last_seen_us), err);
    set(o, "last_execution", iso_ms(w->last_execution_us), err);
    set(o, "last_error", TEXT(w->last_error), err);
    set(o, "last_error_at", iso_ms(w->last_error_us), err);
    for (unsigned i = 0; i < BM_WINDOWS; i++) {
        char buf[16];
        const char *k = window_key(wins, w->win[i].label, sizeof w->win[i].label, i, buf);
        if (k) set(wins, k, worker_window(&w->win[i], err), err);
    }
    set(o, "windows", wins, err);
    return o;
}

static json_t *event_window(const bm_event_window *e, int *err)
{
    static const char *const type_names[4] = {"command", "result", "error", "other"};
    json_t *o = json_object(), *by_type = json_object();
    if (!o || !by_type) {
        json_decref(o);
        json_decref(by_type);
        *err = 1;
        return NULL;
    }
    set(o, "window_s", num((double)e->window_us / 1e6), err);
    set(o, "covered_s", num((double)e->covered_us / 1e6), err);
    set(o, "total_events", count(e->total_events), err);
    set(o, "success_rate", num(e->success_rate), err);
    set(o, "error_rate", num(e->error_rate), err);
    set(o, "avg_latency_ms", ms(e->avg_latency_us), err);
    set(o, "p95_latency_ms", ms(e->p95_latency_us), err);
    set(o, "throughput_per_min", num(e->throughput_per_min), err);
    set(o, "peak_throughput_per_min", num(e->peak_throughput_per_min), err);
    for (unsigned i = 0; i < 4; i++) {
        json_t *t = json_object();
        if (!t) {
            *err = 1;
            continue;
        }
        set(t, "count", count(e->by_type[i].count), err);
        set(t, "share", num(e->by_type[i].share), err);
        set(t, "success", count(e->by_type[i].success), err);
        set(t, "error", count(e->by_type[i].error), err);
        set(t, "timeouts", count(e->by_type[i].timeouts), err);
        set(by_type, type_names[i], t, err);
    }
    set(o, "by_type", by_type, err);
    return o;
}

/* `ev` is the rollup's event windows: a pattern's counts are keyed by their
 * labels, exactly as the "events" object is. */
static json_t *pattern(const bm_error_pattern *p, const bm_event_window *ev, int *err)
{
    json_t *o = json_object(), *counts = json_object(), *workers = json_array();
    if (!o || !counts || !workers) {
        json_decref(o);
        json_decref(counts);
        json_decref(workers);
        *err = 1;
        return NULL;
    }
    set(o, "type", TEXT(p->type), err);
    for (unsigned i = 0; i < BM_WINDOWS; i++) {
        char buf[16];
        const char *k = window_key(counts, ev[i].label, sizeof ev[i].label, i, buf);
        if (k) set(counts, k, count(p->count[i]), err);
    }
    set(o, "count", counts, err);
    set(o, "total", count(p->total), err);
    set(o, "first_seen", iso_ms(p->first_seen_us), err);
    set(o, "last_seen", iso_ms(p->last_seen_us), err);
    set(o, "example", TEXT(p->example), err);
    unsigned n = p->n_workers < BM_PATTERN_WORKERS_MAX ? p->n_workers : BM_PATTERN_WORKERS_MAX;
    for (unsigned i = 0; i < n; i++)
        append(workers, TEXT(p->workers[i]), err);
    set(o, "workers", workers, err);
    set(o, "workers_more", json_integer(p->workers_more), err);
    set(o, "trend", json_string(bm_trend_name(p->trend)), err);
    return o;
}

/*
 * The worker object alone: the value of the busmon:workers hash and an
 * element of the rollup's "workers" array (the same function makes both).
 * @return a new object (caller json_decref's), or NULL (out of memory, or
 * w is NULL).
 */
json_t *bm_worker_to_json(const bm_worker_snapshot *w)
{
    if (!w) return NULL;
    int err = 0;
    json_t *o = worker(w, &err);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/*
 * The whole rollup, keys in the documented order. r->workers and
 * r->patterns may be NULL when their count is 0 (then the arrays are
 * empty); r->agent NULL is "".
 * @return a new object (caller json_decref's), or NULL (out of memory, r
 * NULL, or a NULL array with a count).
 */
json_t *bm_rollup_to_json(const bm_rollup *r)
{
    if (!r || (r->n_workers && !r->workers) || (r->n_patterns && !r->patterns)) return NULL;
    int err = 0;
    json_t *o = json_object(), *summary = json_object(), *events = json_object();
    json_t *workers = json_array(), *errors = json_array();
    if (!o || !summary || !events || !workers || !errors) {
        json_decref(o);
        json_decref(summary);
        json_decref(events);
        json_decref(workers);
        json_decref(errors);
        return NULL;
    }
    set(o, "v", json_integer(1), &err);
    set(o, "kind", json_string("rollup"), &err);
    set(o, "ts", iso_ms(r->ts_us), &err);
    set(o, "ts_us", json_integer(r->ts_us), &err);
    set(o, "agent", bm_json_text(r->agent, SIZE_MAX), &err);
    set(o, "interval_s", num((double)r->interval_us / 1e6), &err);
    char perf_key[16];
    bm_rollup_window_key(BM_WINDOWS - 1, r->events[BM_WINDOWS - 1].label,
                         sizeof r->events[BM_WINDOWS - 1].label, perf_key);
    set(o, "perf_window", json_string(perf_key), &err);

    set(summary, "total_workers", count(r->n_workers), &err);
    set(summary, "total_commands", count(r->total_commands), &err);
    set(summary, "avg_success_rate", num(r->avg_success_rate), &err);
    set(summary, "avg_duration_ms", ms(r->avg_duration_us), &err);
    set(summary, "workers_refused", count(r->workers_refused), &err);
    set(summary, "patterns_refused", count(r->patterns_refused), &err);
    set(o, "summary", summary, &err);

    for (unsigned i = 0; i < BM_WINDOWS; i++) {
        char buf[16];
        const char *k = window_key(events, r->events[i].label, sizeof r->events[i].label, i, buf);
        if (k) set(events, k, event_window(&r->events[i], &err), &err);
    }
    set(o, "events", events, &err);

    for (size_t i = 0; i < r->n_workers; i++)
        append(workers, worker(&r->workers[i], &err), &err);
    set(o, "workers", workers, &err);

    for (size_t i = 0; i < r->n_patterns; i++)
        append(errors, pattern(&r->patterns[i], r->events, &err), &err);
    set(o, "errors", errors, &err);

    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The window object by key, or the performance window for "1h" whatever its
 * key ("1h", "30m", "perf"): the one key that is not a fixed window's. */
json_t *bm_rollup_pick_window(json_t *windows, const char *label)
{
    json_t *w = json_object_get(windows, label);
    if (w || strcmp(label, "1h")) return w;
    const char *k;
    json_t *v;
    json_object_foreach(windows, k, v) if (strcmp(k, "1m") && strcmp(k, "5m")) return v;
    return NULL;
}

/* ---- msgpack ----------------------------------------------------------- */

/* The generic walk: the msgpack twin of any JSON tree. @return 0, or
 * nonzero when a write failed (the sbuffer is out of memory). */
static int pack_json(msgpack_packer *pk, const json_t *j)
{
    int rc = 0;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        rc |= msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, v)
        {
            size_t n = strlen(k);
            rc |= msgpack_pack_str(pk, n);
            rc |= msgpack_pack_str_body(pk, k, n);
            rc |= pack_json(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        rc |= msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, v) rc |= pack_json(pk, v);
        break;
    }
    case JSON_STRING:
        rc |= msgpack_pack_str(pk, json_string_length(j));
        rc |= msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        rc |= msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        rc |= msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        rc |= msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        rc |= msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        rc |= msgpack_pack_nil(pk);
        break;
    }
    return rc;
}

static int count_write(void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

size_t bm_json_msgpack_size(const json_t *j)
{
    size_t n = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &n, count_write);
    pack_json(&pk, j);
    return n;
}

/*
 * Any JSON tree as msgpack (maps, arrays, strings, integers, doubles, true,
 * false, nil). On failure `out` is cut back to the size it had, so it never
 * ends in half a value. @return 0, or -1 (out of memory).
 */
int bm_json_encode_msgpack(const json_t *j, struct msgpack_sbuffer *out)
{
    size_t before = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (pack_json(&pk, j)) {
        out->size = before;
        return -1;
    }
    return 0;
}

/*
 * The rollup as one msgpack map, the same tree as bm_rollup_to_json (it is
 * built from it).
 * @return 0, or -1 (out of memory, or a rollup bm_rollup_to_json refuses).
 */
int bm_rollup_encode_msgpack(const bm_rollup *r, struct msgpack_sbuffer *out)
{
    json_t *j = bm_rollup_to_json(r);
    if (!j) return -1;
    int rc = bm_json_encode_msgpack(j, out);
    json_decref(j);
    return rc;
}

json_t *bm_rollup_worker_in_window(json_t *w, const char *label)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v) if (strcmp(k, "windows")) json_object_set(o, k, v);
    json_t *win = bm_rollup_pick_window(json_object_get(w, "windows"), label);
    if (win) json_object_update(o, win);
    json_object_set_new(o, "window", json_string(label));
    return o;
}

json_t *bm_rollup_workers_view(json_t *roll, const char *label)
{
    json_t *out = json_object();
    json_object_set_new(out, "window", json_string(label));
    json_object_set(out, "ts", json_object_get(roll, "ts"));
    json_object_set(out, "agent", json_object_get(roll, "agent"));
    json_object_set(out, "summary", json_object_get(roll, "summary"));
    if (json_object_get(roll, "omitted")) /* a rollup cut to its budget (bm_rollup_fit) */
        json_object_set(out, "omitted", json_object_get(roll, "omitted"));
    json_t *arr = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(roll, "workers"), i, w)
        json_array_append_new(arr, bm_rollup_worker_in_window(w, label));
    json_object_set_new(out, "workers", arr);
    return out;
}

const msgpack_object *bm_msgpack_map_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}
