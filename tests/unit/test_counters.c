/*
 * test_counters.c - the agent's counter table (agent/http/counters.h):
 * every row is on /metrics with its value and in the summary JSON under its
 * key, every value of the snapshot is shown by some row (none forgotten),
 * the outputs' rows have one sample per output, labelled, and the rendering
 * is valid Prometheus text (names, HELP, TYPE); a gauge whose 0 means
 * unknown (the host memory total) is absent then, never 0.
 */
#include "agent/http/counters.h"

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two outputs, one whose name needs escaping on /metrics. */
static const bm_counter_sink_label sinks[2] = {
    {"rollups", "redis_stream", "generic"},
    {"hook \"a\\b\"\n", "webhook", "slack"},
};
#define SINK_LABEL_1 "hook \\\"a\\\\b\\\"\\n" /* sinks[1].name as a label value */

/* A snapshot whose every value (uint64_t slot) holds a distinct value:
 * 1000 + index; the two outputs above. */
static void fill(bm_counter_snapshot *s)
{
    memset(s, 0, sizeof *s);
    uint64_t *v = (uint64_t *)s;
    for (size_t i = 0; i < BM_COUNTER_VALUES_BYTES / sizeof *v; i++)
        v[i] = 1000 + i;
    s->n_sinks = 2;
    memcpy(s->sink_labels, sinks, sizeof sinks);
}

/* Slot i of a row: of its array, or output i's. */
static uint64_t slot_of(const bm_counter_snapshot *s, const bm_counter_row *r, size_t i)
{
    size_t stride = r->per_sink ? sizeof(bm_counter_sink) : sizeof(uint64_t);
    return *(const uint64_t *)((const char *)s + r->offset + i * stride);
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

Test(counters, snapshot_values_are_all_uint64)
{
    /* the coverage test below walks the snapshot's values as an array of uint64_t */
    cr_assert_eq(BM_COUNTER_VALUES_BYTES % sizeof(uint64_t), 0);
    cr_assert_eq(sizeof(bm_counter_sink) % sizeof(uint64_t), 0);
    cr_assert_leq(offsetof(bm_counter_snapshot, sinks) + sizeof(((bm_counter_snapshot *)0)->sinks),
                  BM_COUNTER_VALUES_BYTES);
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
        if (t[k].per_sink) {
            snprintf(want, sizeof want,
                     "\n%s{output=\"rollups\",type=\"redis_stream\"} %" PRIu64 "\n", t[k].name,
                     slot_of(&s, &t[k], 0));
            cr_assert_not_null(strstr(text, want), "%s: output 0 missing", t[k].name);
            snprintf(want, sizeof want,
                     "\n%s{output=\"" SINK_LABEL_1 "\",type=\"webhook\"} %" PRIu64 "\n", t[k].name,
                     slot_of(&s, &t[k], 1));
            cr_assert_not_null(strstr(text, want), "%s: output 1 missing (escaped)", t[k].name);
            continue;
        }
        if (!t[k].label_of) {
            if (t[k].scale)
                snprintf(want, sizeof want, "\n%s %.9g\n", t[k].name,
                         (double)slot_of(&s, &t[k], 0) * t[k].scale);
            else
                snprintf(want, sizeof want, "\n%s %" PRIu64 "\n", t[k].name, slot_of(&s, &t[k], 0));
            cr_assert_not_null(strstr(text, want), "%s: value missing", t[k].name);
            continue;
        }
        for (size_t i = 0; i < t[k].n_labels; i++) {
            if (!t[k].label_of(i)) continue;
            snprintf(want, sizeof want, "\n%s{%s=\"%s\"} %" PRIu64 "\n", t[k].name, t[k].label,
                     t[k].label_of(i), slot_of(&s, &t[k], i));
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
        if (t[k].per_sink) { /* "outputs.sinks.*.KEY": outputs.sinks[name][KEY] */
            const char *star = strstr(t[k].summary, ".*.");
            cr_assert_not_null(star, "%s: summary %s has no .*.", t[k].name, t[k].summary);
            char path[128];
            snprintf(path, sizeof path, "%.*s", (int)(star - t[k].summary), t[k].summary);
            for (size_t i = 0; i < 2; i++) {
                json_t *one = json_object_get(at(j, path), sinks[i].name);
                cr_assert_str_eq(json_string_value(json_object_get(one, "type")), sinks[i].type);
                cr_assert_str_eq(json_string_value(json_object_get(one, "format")),
                                 sinks[i].format);
                cr_assert_eq((uint64_t)json_integer_value(json_object_get(one, star + 3)),
                             slot_of(&s, &t[k], i), "%s of output %zu", t[k].summary, i);
            }
            continue;
        }
        json_t *v = at(j, t[k].summary);
        cr_assert_not_null(v, "%s: no summary key %s", t[k].name, t[k].summary);
        if (!t[k].label_of) {
            cr_assert_eq((uint64_t)json_integer_value(v), slot_of(&s, &t[k], 0), "%s",
                         t[k].summary);
            continue;
        }
        for (size_t i = 0; i < t[k].n_labels; i++)
            if (t[k].label_of(i))
                cr_assert_eq((uint64_t)json_integer_value(json_object_get(v, t[k].label_of(i))),
                             slot_of(&s, &t[k], i), "%s.%s", t[k].summary, t[k].label_of(i));
    }
    cr_assert_eq(json_object_size(at(j, "outputs.sinks")), 2, "only the n_sinks outputs");
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
    size_t slots = BM_COUNTER_VALUES_BYTES / sizeof(uint64_t);
    char *covered = calloc(slots, 1);
    size_t n;
    const bm_counter_row *t = bm_counter_table(&n);
    for (size_t k = 0; k < n; k++) {
        size_t first = t[k].offset / sizeof(uint64_t);
        size_t count = t[k].per_sink ? BM_COUNTER_SINKS : t[k].label_of ? t[k].n_labels : 1;
        size_t stride = t[k].per_sink ? sizeof(bm_counter_sink) / sizeof(uint64_t) : 1;
        for (size_t i = 0; i < count; i++)
            covered[first + i * stride] = 1;
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

/* The outputs' families keep their names, labels and help type: dashboards
 * and alerts read them. No outputs: the families, no samples, an empty
 * outputs.sinks. */
Test(counters, outputs_families)
{
    static const char *const families[] = {
        "busmon_output_emitted_total counter", "busmon_output_sent_total counter",
        "busmon_output_failed_total counter",  "busmon_output_retried_total counter",
        "busmon_output_dropped_total counter", "busmon_output_queued gauge",
    };
    bm_counter_snapshot s;
    fill(&s);
    s.n_sinks = 0;
    char *text = render(&s);
    char want[128];
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        snprintf(want, sizeof want, "# TYPE %s\n", families[i]);
        cr_assert_not_null(strstr(text, want), "%s", want);
    }
    cr_assert_null(strstr(text, "{output="));
    free(text);
    json_t *j = json_object();
    cr_assert_eq(bm_counters_to_json(&s, j), 0);
    cr_assert(json_is_object(at(j, "outputs.sinks")) &&
              json_object_size(at(j, "outputs.sinks")) == 0);
    cr_assert_not_null(at(j, "outputs.rate_limited"));
    json_decref(j);
}

/* The unlabelled sample line of `name` ("\nNAME "), else NULL. */
static const char *sample_of(const char *text, const char *name)
{
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    return strstr(text, want);
}

static json_t *system_json(const bm_counter_snapshot *s)
{
    json_t *j = json_object();
    cr_assert_eq(bm_counters_to_json(s, j), 0);
    json_t *sys = json_incref(json_object_get(j, "system"));
    json_decref(j);
    cr_assert_not_null(sys, "no system object");
    return sys;
}

/* A gauge that cannot be known is not shown as 0: the host memory total while
 * /proc/meminfo cannot be read has no sample on /metrics (a memory alert
 * dividing by it would compute nonsense) and is null in the summary JSON;
 * known, it is its value. */
Test(counters, memory_total_unknown_is_absent_not_zero)
{
    bm_counter_snapshot s;
    memset(&s, 0, sizeof s); /* /proc/meminfo could not be read: memory_total_bytes 0 */
    char *text = render(&s);
    cr_assert_null(sample_of(text, "busmon_host_memory_total_bytes"),
                   "an unknown memory total is on /metrics as a figure: %.45s",
                   sample_of(text, "busmon_host_memory_total_bytes"));
    cr_assert_not_null(sample_of(text, "busmon_entries_read_total"), "a counter's 0 stays");
    free(text);
    json_t *sys = system_json(&s);
    json_t *v = json_object_get(sys, "memory_total_bytes");
    cr_assert(json_is_null(v), "memory_total_bytes unknown: null, not %s",
              v ? (json_is_integer(v) ? "an integer" : "another type") : "missing");
    json_decref(sys);
}

Test(counters, memory_total_known_is_its_value)
{
    bm_counter_snapshot s;
    memset(&s, 0, sizeof s);
    s.sys.memory_total_bytes = 8ull << 30;
    char *text = render(&s);
    cr_assert_not_null(strstr(text, "\nbusmon_host_memory_total_bytes 8589934592\n"));
    free(text);
    json_t *sys = system_json(&s);
    cr_assert_eq(json_integer_value(json_object_get(sys, "memory_total_bytes")), 8ll << 30);
    json_decref(sys);
}
