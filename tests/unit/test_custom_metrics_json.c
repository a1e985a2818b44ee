/*
 * test_custom_metrics_json.c - lib/custom_metrics_json.c: a rollup's
 * `metrics` has one item per series, each with its own figures, even for
 * the longest series a configuration allows (16 tags of 256-byte keys and
 * values, metrics.max_tags_per_series: 16): two that differ only at their
 * last byte are two items, not one showing the other's figures.
 */
#include "lib/custom_metrics_json.h"
#include "tests/bench/counter_event.h"

#include <criterion/criterion.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

TestSuite(custom_metrics_json);

Test(custom_metrics_json, the_longest_series_are_items_of_their_own)
{
    custom_metrics_config c;
    custom_metrics_config_defaults(&c);
    c.max_tags_per_series = CUSTOM_METRICS_TAGS_MAX;
    custom_metrics *cm = custom_metrics_new(&c);
    static char name[BM_ID_MAX + 1], keys[CUSTOM_METRICS_TAGS_MAX][BM_ID_MAX + 1],
        vals[2][BM_ID_MAX + 1];
    memset(name, 'n', BM_ID_MAX);
    for (int k = 0; k < CUSTOM_METRICS_TAGS_MAX; k++) {
        memset(keys[k], 'a' + k, BM_ID_MAX);
        memset(vals[0], 'v', BM_ID_MAX);
        memset(vals[1], 'v', BM_ID_MAX);
    }
    vals[1][BM_ID_MAX - 1] = 'w'; /* the last tag's value differs at its last byte */
    for (int s = 0; s < 2; s++)
        for (int i = 0; i <= s; i++) { /* one value in the first series, two in the second */
            bm_event ev = fixture_metric(name, 10.0 * (s + 1), BM_METRIC_HISTOGRAM, T0);
            for (int k = 0; k < CUSTOM_METRICS_TAGS_MAX; k++)
                ev.tags[ev.n_tags++] =
                    (bm_attr){keys[k], k == CUSTOM_METRICS_TAGS_MAX - 1 ? vals[s] : vals[0]};
            cr_assert_eq(custom_metrics_add(cm, &ev, T0), CUSTOM_METRICS_ADDED);
        }
    json_t *j = custom_metrics_rollup_json(cm, T0 + S_US, 50);
    cr_assert_not_null(j);
    json_t *items = json_object_get(j, "items");
    cr_assert_eq(json_array_size(items), 2, "two series, %zu items", json_array_size(items));
    for (size_t s = 0; s < 2; s++) {
        json_t *item = json_array_get(items, s);
        const char *last = json_string_value(
            json_object_get(json_object_get(item, "tags"), keys[CUSTOM_METRICS_TAGS_MAX - 1]));
        cr_assert_str_eq(last, vals[s], "item %zu is series %zu", s, s);
        json_t *wins = json_object_get(item, "windows");
        cr_assert_eq(json_object_size(wins), CUSTOM_METRICS_WINDOWS);
        const char *label;
        json_t *w;
        json_object_foreach(wins, label, w)
        {
            cr_assert_eq(json_integer_value(json_object_get(w, "count")), (json_int_t)s + 1,
                         "series %zu over %s", s, label);
            cr_assert_eq(json_real_value(json_object_get(w, "sum")),
                         10.0 * (double)((s + 1) * (s + 1)), "series %zu over %s", s, label);
        }
    }
    json_decref(j);
    custom_metrics_free(cm);
}
