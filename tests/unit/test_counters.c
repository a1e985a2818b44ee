/*
 * test_counters.c - the agent's counter table (agent/http/counters.h):
 * every row is on /metrics with its value and in the summary JSON under its
 * key, every value of the snapshot is shown by some row (none forgotten),
 * and the rendering is valid Prometheus text (names, HELP, TYPE).
 */
#include "agent/http/counters.h"

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot whose every uint64_t slot holds a distinct value: 1000 + index. */
static void fill(bm_counter_snapshot *s)
{
    uint64_t *v = (uint64_t *)s;
    for (size_t i = 0; i < sizeof *s / sizeof *v; i++)
        v[i] = 1000 + i;
}

static uint64_t slot(const bm_counter_snapshot *s, size_t offset, size_t i)
{
    return ((const uint64_t *)((const char *)s + offset))[i];
}

static char *render(const bm_counter_snapshot *s)
{
    struct evbuffer *b = evbuffer_new();
    cr_assert_not_null(b);
    cr_assert_eq(bm_counters_render(s, b), 0);
    bm_counters_render_batches(s, b);
    size_t n = evbuffer_get_length(b);
    char *text = malloc(n + 1);
    evbuffer_remove(b, text, n);
    text[n] = '\0';
    evbuffer_free(b);
    return text;
}

/* json at a dotted key ("alerts.published"). */
static json_t *at(json_t *obj, const char *key)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", key);
    json_t *cur = obj;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); cur && k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return cur;
}

Test(counters, snapshot_is_all_uint64)
{
    /* the coverage test below walks the snapshot as an array of uint64_t */
    cr_assert_eq(sizeof(bm_counter_snapshot) % sizeof(uint64_t), 0);
}

Test(counters, every_row_on_metrics_with_its_value)
{
    bm_counter_snapshot s;
    fill(&s);
    char *text = render(&s);
    size_t n;
    const bm_counter_row *t = bm_counter_table(&n);
    cr_assert_gt(n, 40, "the table has %zu rows", n);
    for (size_t k = 0; k < n; k++) {
        char want[512];
        snprintf(want, sizeof want, "# TYPE %s %s\n", t[k].name,
                 t[k].type == BM_COUNTER_TOTAL ? "counter" : "gauge");
        cr_assert_not_null(strstr(text, want), "%s: no TYPE line", t[k].name);
        snprintf(want, sizeof want, "# HELP %s ", t[k].name);
        cr_assert_not_null(strstr(text, want), "%s: no HELP line", t[k].name);
        if (t[k].type == BM_COUNTER_TOTAL)
            cr_assert(strlen(t[k].name) > 6 && !strcmp(t[k].name + strlen(t[k].name) - 6, "_total"),
                      "counter %s does not end in _total", t[k].name);
        if (!t[k].label_of) {
            if (t[k].scale)
                snprintf(want, sizeof want, "\n%s %.9g\n", t[k].name,
                         (double)slot(&s, t[k].offset, 0) * t[k].scale);
            else
                snprintf(want, sizeof want, "\n%s %" PRIu64 "\n", t[k].name,
                         slot(&s, t[k].offset, 0));
            cr_assert_not_null(strstr(text, want), "%s: value missing", t[k].name);
            continue;
        }
        for (size_t i = 0; i < t[k].n_labels; i++) {
            if (!t[k].label_of(i)) continue;
            snprintf(want, sizeof want, "\n%s{%s=\"%s\"} %" PRIu64 "\n", t[k].name, t[k].label,
                     t[k].label_of(i), slot(&s, t[k].offset, i));
            cr_assert_not_null(strstr(text, want), "%s{%s}: value missing", t[k].name,
                               t[k].label_of(i));
        }
    }
    cr_assert_not_null(strstr(text, "busmon_read_batch_size_bucket{le=\"+Inf\"}"));
    free(text);
}

Test(counters, every_row_in_the_summary_with_its_value)
{
    bm_counter_snapshot s;
    fill(&s);
    json_t *j = json_object();
    cr_assert_eq(bm_counters_to_json(&s, j), 0);
    size_t n;
    const bm_counter_row *t = bm_counter_table(&n);
    for (size_t k = 0; k < n; k++) {
        json_t *v = at(j, t[k].summary);
        cr_assert_not_null(v, "%s: no summary key %s", t[k].name, t[k].summary);
        if (!t[k].label_of) {
            cr_assert_eq((uint64_t)json_integer_value(v), slot(&s, t[k].offset, 0), "%s",
                         t[k].summary);
            continue;
        }
        for (size_t i = 0; i < t[k].n_labels; i++)
            if (t[k].label_of(i))
                cr_assert_eq((uint64_t)json_integer_value(json_object_get(v, t[k].label_of(i))),
                             slot(&s, t[k].offset, i), "%s.%s", t[k].summary, t[k].label_of(i));
    }
    cr_assert_eq(json_integer_value(json_object_get(at(j, "read_batch_size"), "+Inf")),
                 (json_int_t)s.in.batches);
    json_decref(j);
}

Test(counters, names_and_keys_are_unique)
{
    size_t n;
    const bm_counter_row *t = bm_counter_table(&n);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            cr_assert_str_neq(t[a].name, t[b].name, "row %zu and %zu", a, b);
            cr_assert_str_neq(t[a].summary, t[b].summary, "row %zu and %zu", a, b);
        }
}

/* None forgotten: every value in the snapshot is shown by a row, by the
 * batch histogram, or folded into a row (listed in bm_counters_folded). */
Test(counters, every_snapshot_value_is_shown)
{
    size_t slots = sizeof(bm_counter_snapshot) / sizeof(uint64_t);
    char *covered = calloc(slots, 1);
    size_t n;
    const bm_counter_row *t = bm_counter_table(&n);
    for (size_t k = 0; k < n; k++) {
        size_t first = t[k].offset / sizeof(uint64_t);
        size_t count = t[k].label_of ? t[k].n_labels : 1;
        for (size_t i = 0; i < count; i++)
            covered[first + i] = 1;
    }
    for (const bm_counter_folded *f = bm_counters_folded; f->n; f++)
        for (size_t i = 0; i < f->n; i++)
            covered[f->offset / sizeof(uint64_t) + i] = 1;
    size_t hist = offsetof(bm_counter_snapshot, in.batch_le) / sizeof(uint64_t);
    for (size_t i = 0; i < BM_BATCH_BUCKETS; i++)
        covered[hist + i] = 1;
    covered[offsetof(bm_counter_snapshot, in.batches) / sizeof(uint64_t)] = 1;
    covered[offsetof(bm_counter_snapshot, in.batch_entries) / sizeof(uint64_t)] = 1;
    for (size_t i = 0; i < slots; i++)
        cr_assert(covered[i], "snapshot slot %zu (byte offset %zu) is shown by no row", i,
                  i * sizeof(uint64_t));
    free(covered);
}
