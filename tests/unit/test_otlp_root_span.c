/*
 * test_otlp_root_span.c - lib/otlp.c: the root span's id. A transaction is
 * exported again, with only what came since, when its first trace left
 * memory (or another agent took it over): the same trace id, and before
 * this a root span of the same id with other content. A span id must be
 * unique in its trace (Tempo keeps one of two, Jaeger flags them), so each
 * export's root has an id of its own, and a trace exported whole twice
 * keeps its ids.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/otlp.h"

#include "event_fixture.h"

/* A trace of tx-r holding one step: command `cmd` at ts, its answer 1 ms later. */
static trace *one_step(const char *cmd, const char *answer, int64_t ts)
{
    trace *t = trace_new("tx-r");
    bm_event c = fixture_event(BM_EV_COMMAND, "tx-r", cmd, ts, "payments", "charge");
    bm_event r = fixture_event(BM_EV_RESULT, "tx-r", answer, ts + 1000, "payments", "charge");
    r.cmd = cmd;
    cr_assert_eq(trace_add(t, &c, 512, NULL), TRACE_ADD_OK);
    cr_assert_eq(trace_add(t, &r, 512, NULL), TRACE_ADD_OK);
    return t;
}

/* The 16 hex digits after the n-th `field` in json, into out; @return 0, or -1 none. */
static int nth_id(const char *json, const char *field, int n, char out[17])
{
    const char *p = json;
    for (int i = 0; i <= n; i++) {
        p = strstr(p, field);
        if (!p) return -1;
        p += strlen(field);
    }
    memcpy(out, p, 16);
    out[16] = '\0';
    return 0;
}

/* The spans of t: the step's id and parent, the root's id (the root comes last). */
static void ids_of(const trace *t, char step[17], char parent[17], char root[17])
{
    bm_otlp_buf b;
    bm_otlp_span_count c;
    bm_otlp_buf_init(&b);
    cr_assert_eq(bm_otlp_trace_spans(t, NULL, &b, &c), 0);
    cr_assert_eq(c.spans, 2);
    bm_otlp_buf_add(&b, "", 1);
    cr_assert_eq(nth_id(b.data, "\"spanId\":\"", 0, step), 0, "%s", b.data);
    cr_assert_eq(nth_id(b.data, "\"parentSpanId\":\"", 0, parent), 0, "%s", b.data);
    cr_assert_eq(nth_id(b.data, "\"spanId\":\"", 1, root), 0, "%s", b.data);
    cr_assert_not_null(strstr(strstr(b.data, root), "\"name\":\"transaction\""), "%s", b.data);
    bm_otlp_buf_deinit(&b);
}

Test(otlp_root_span, an_export_of_what_came_since_has_a_root_of_its_own)
{
    trace *first = one_step("c1", "r1", 1000000), *since = one_step("c2", "r2", 9000000);
    char s1[17], p1[17], r1[17], s2[17], p2[17], r2[17];
    ids_of(first, s1, p1, r1);
    ids_of(since, s2, p2, r2);
    cr_assert_str_eq(p1, r1, "the step is the root's child");
    cr_assert_str_eq(p2, r2, "the step is the root's child");
    cr_assert_str_neq(r1, r2, "two exports of tx-r, one root span id (%s) with other content", r1);
    const char *all[] = {s1, r1, s2, r2};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            cr_assert_str_neq(all[i], all[j], "span id %s twice in the trace", all[i]);
    trace_free(first);
    trace_free(since);
}

Test(otlp_root_span, the_same_trace_exported_twice_keeps_its_ids)
{
    /* every agent and every re-export of the same events: the same spans */
    trace *a = one_step("c1", "r1", 1000000), *b = one_step("c1", "r1", 1000000);
    char sa[17], pa[17], ra[17], sb[17], pb[17], rb[17];
    ids_of(a, sa, pa, ra);
    ids_of(b, sb, pb, rb);
    cr_assert_str_eq(ra, rb);
    cr_assert_str_eq(sa, sb);
    trace_free(a);
    trace_free(b);
}
