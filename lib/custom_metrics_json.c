/*
 * custom_metrics_json.c - business metrics as JSON (custom_metrics_json.h).
 *
 * Not here: the figures (custom_metrics.c) or where the JSON goes.
 */
#include "lib/custom_metrics_json.h"
#include "proto/rollup.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A sum can overflow to infinity (values near 1e308): JSON has no such
 * number, so it is null rather than a key left out. */
static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *tags_json(const custom_metrics_stat *s)
{
    json_t *t = json_object();
    for (unsigned i = 0; t && i < s->n_tags; i++)
        json_object_set_new(t, s->tags[i].key, json_string(s->tags[i].value));
    return t;
}

json_t *custom_metrics_stat_json(const custom_metrics_stat *s, int with_name)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (with_name) {
        json_object_set_new(o, "name", json_string(s->name));
        json_object_set_new(o, "kind", json_string(bm_metric_kind_name(s->kind)));
        json_object_set_new(o, "tags", tags_json(s));
    }
    json_object_set_new(o, "count", json_integer((json_int_t)s->count));
    json_object_set_new(o, "sum", real_or_null(s->sum));
    json_object_set_new(o, "min", real_or_null(s->min));
    json_object_set_new(o, "max", real_or_null(s->max));
    json_object_set_new(o, "avg", real_or_null(s->avg));
    if (s->kind == BM_METRIC_HISTOGRAM) {
        json_object_set_new(o, "p50", real_or_null(s->p50));
        json_object_set_new(o, "p95", real_or_null(s->p95));
        json_object_set_new(o, "p99", real_or_null(s->p99));
    }
    if (s->kind == BM_METRIC_GAUGE) json_object_set_new(o, "last", real_or_null(s->last));
    if (s->kind != BM_METRIC_GAUGE)
        json_object_set_new(o, "rate_per_s", real_or_null(s->rate_per_s));
    json_object_set_new(o, "covered_s", real_or_null((double)s->covered_us / 1e6));
    return o;
}

typedef struct {
    json_t *arr;
    size_t max, matched;
    int nomem;
} list_ctx;

static void add_stat(const custom_metrics_stat *s, void *arg)
{
    list_ctx *c = arg;
    c->matched++;
    if (c->max && json_array_size(c->arr) >= c->max) return;
    json_t *j = custom_metrics_stat_json(s, 1);
    if (!j || json_array_append_new(c->arr, j)) c->nomem = 1;
}

json_t *custom_metrics_json(const custom_metrics *cm, int window, const custom_metrics_filter *f,
                            int64_t now_us, size_t max_series)
{
    list_ctx c = {json_array(), max_series, 0, 0};
    if (!c.arr || custom_metrics_foreach(cm, window, f, now_us, add_stat, &c) < 0 || c.nomem) {
        json_decref(c.arr);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:I, s:b}", "window", custom_metrics_window_label(cm, window),
                     "series", c.arr, "matched", (json_int_t)c.matched, "limited",
                     max_series && c.matched > max_series);
}

/* name + tags: the item's key in the rollup's index (identities hold no control character) */
static void item_key(const custom_metrics_stat *s, char *buf, size_t n)
{
    size_t at = (size_t)snprintf(buf, n, "%s", s->name);
    for (unsigned i = 0; i < s->n_tags && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "\x1f%s\x1e%s", s->tags[i].key, s->tags[i].value);
}

typedef struct {
    json_t *items, *index; /* index: key -> the item's "windows" object */
    const char *label;
    size_t max, seen;
    int create, nomem;
} rollup_ctx;

static void add_window(const custom_metrics_stat *s, void *arg)
{
    rollup_ctx *c = arg;
    char key[CUSTOM_METRICS_KEY_MAX]; /* never cut: two series are two items */
    item_key(s, key, sizeof key);
    json_t *wins = json_object_get(c->index, key);
    if (!wins && c->create) {
        c->seen++;
        if (json_array_size(c->items) >= c->max) return;
        wins = json_object();
        json_t *item =
            json_pack("{s:s, s:s, s:o, s:o}", "name", s->name, "kind", bm_metric_kind_name(s->kind),
                      "tags", tags_json(s), "windows", wins);
        if (!item || json_array_append_new(c->items, item) ||
            json_object_set(c->index, key, wins)) {
            c->nomem = 1;
            return;
        }
    }
    json_t *st = wins ? custom_metrics_stat_json(s, 0) : NULL;
    if (wins && (!st || json_object_set_new(wins, c->label, st))) c->nomem = 1;
}

json_t *custom_metrics_rollup_json(const custom_metrics *cm, int64_t now_us, size_t max_items)
{
    rollup_ctx c = {json_array(), json_object(), NULL, max_items, 0, 1, 0};
    json_t *out = NULL;
    if (!c.items || !c.index) goto done;
    /* the longest window first, whose series are every window's: the
     * performance window, or 5 minutes when it is shorter */
    int order[CUSTOM_METRICS_WINDOWS], longest = CUSTOM_METRICS_WINDOWS - 1, n = 0;
    for (int w = 0; w < CUSTOM_METRICS_WINDOWS; w++)
        if (custom_metrics_window_us(cm, w) > custom_metrics_window_us(cm, longest)) longest = w;
    order[n++] = longest;
    for (int w = CUSTOM_METRICS_WINDOWS - 1; w >= 0; w--)
        if (w != longest) order[n++] = w;
    for (int i = 0; i < n; i++) {
        int w = order[i];
        char key[16]; /* the rollup's key: never a fixed window's for the performance window */
        c.label =
            bm_rollup_window_key((unsigned)w, custom_metrics_window_label(cm, w), SIZE_MAX, key);
        c.create = i == 0;
        if (custom_metrics_foreach(cm, w, NULL, now_us, add_window, &c) < 0 || c.nomem) goto done;
    }
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    out = json_pack("{s:I, s:I, s:O}", "series", (json_int_t)st.series, "omitted",
                    (json_int_t)(c.seen - json_array_size(c.items)), "items", c.items);
done:
    json_decref(c.items);
    json_decref(c.index);
    return out;
}
