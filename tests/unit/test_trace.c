/*
 * test_trace.c - lib/trace: ordering, dedup, bounds, the three pairing rules
 * and their precedence in both arrival orders, durations, worker fill-in,
 * index fix-ups on insertion, status, stage, ownership and heap figures;
 * the MultiAgents Framework's semantics: outcomes (its timeouts are
 * timeouts), its final statuses and the trace they close, compensations as
 * requests, and late answers after busmon's own timeout.
 *
 * Events are built by hand (every string set, time set by hand, no clock).
 */
#include "lib/trace.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "event_fixture.h"

static trace *t;

/* Views (trace_get) from a ring of 16, so a test can hold several at once. */
static trace_event ring[16];
static unsigned ring_next;

static const trace_event *at(const trace *u, size_t i)
{
    return trace_get(u, i, &ring[ring_next++ % 16]);
}

static const trace_event *closed(const trace *u)
{
    return trace_closed_by(u, &ring[ring_next++ % 16]);
}

static void setup(void)
{
    t = trace_new("tx1");
    cr_assert_not_null(t);
}

static void teardown(void)
{
    trace_free(t);
}

TestSuite(trace, .init = setup, .fini = teardown);

static bm_event mk(bm_event_type type, const char *id, int64_t ts_us)
{
    return fixture_event(type, "tx1", id, ts_us, "", "");
}

static bm_event cmd_ev(const char *id, int64_t ts, const char *worker, const char *step)
{
    bm_event e = mk(BM_EV_COMMAND, id, ts);
    e.worker = worker;
    e.step = step;
    return e;
}

static bm_event res_ev(const char *id, int64_t ts, const char *worker, const char *step)
{
    bm_event e = mk(BM_EV_RESULT, id, ts);
    e.worker = worker;
    e.step = step;
    e.ok = 1;
    return e;
}

static void add_ok(const bm_event *e)
{
    cr_assert_eq(trace_add(t, e, 512, NULL), TRACE_ADD_OK, "adding %s", e->id);
}

/* Position of the event with id `id`, or -1. */
static int pos_of(const char *id)
{
    for (size_t i = 0; i < trace_count(t); i++)
        if (strcmp(at(t, i)->ev.id, id) == 0) return (int)i;
    return -1;
}

static const trace_event *get(const char *id)
{
    int i = pos_of(id);
    cr_assert_geq(i, 0, "no event %s", id);
    return at(t, (size_t)i);
}

/* Assert `a` and `b` are paired with each other. */
static void assert_pair(const char *a, const char *b)
{
    cr_assert_eq(get(a)->paired, pos_of(b), "%s paired %d, want %s at %d", a, get(a)->paired, b,
                 pos_of(b));
    cr_assert_eq(get(b)->paired, pos_of(a), "%s paired %d, want %s at %d", b, get(b)->paired, a,
                 pos_of(a));
}

static void assert_order(const char *const *ids, size_t n)
{
    cr_assert_eq(trace_count(t), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(at(t, i)->ev.id, ids[i], "at %zu", i);
}

/* ---- basics ---------------------------------------------------------------- */

Test(trace, empty)
{
    cr_assert_str_eq(trace_tx(t), "tx1");
    cr_assert_eq(trace_count(t), 0);
    cr_assert_null(at(t, 0));
    cr_assert_eq(trace_first_ts_us(t), 0);
    cr_assert_eq(trace_last_ts_us(t), 0);
    cr_assert_eq(trace_duration_us(t), 0);
    cr_assert_eq(trace_get_status(t), TRACE_RUNNING);
    cr_assert_gt(trace_heap_bytes(t), 0);
}

Test(trace, free_null_is_noop)
{
    trace_free(NULL);
}

Test(trace, status_names)
{
    cr_assert_str_eq(trace_status_name(TRACE_RUNNING), "running");
    cr_assert_str_eq(trace_status_name(TRACE_COMPLETED), "completed");
    cr_assert_str_eq(trace_status_name(TRACE_FAILED), "failed");
}

Test(trace, times)
{
    bm_event a = cmd_ev("a", 1000, "w", "s");
    add_ok(&a);
    cr_assert_eq(trace_first_ts_us(t), 1000);
    cr_assert_eq(trace_last_ts_us(t), 1000);
    cr_assert_eq(trace_duration_us(t), 0);
    bm_event b = mk(BM_EV_CUSTOM, "b", 4500);
    add_ok(&b);
    bm_event c = mk(BM_EV_CUSTOM, "c", 500);
    add_ok(&c);
    cr_assert_eq(trace_first_ts_us(t), 500);
    cr_assert_eq(trace_last_ts_us(t), 4500);
    cr_assert_eq(trace_duration_us(t), 4000);
}

/* ---- ordering -------------------------------------------------------------- */

Test(trace, ordered_by_ts_out_of_order_inserts)
{
    const int64_t ts[] = {30, 10, 20, 5, 40};
    const char *ids[] = {"e30", "e10", "e20", "e5", "e40"};
    for (int i = 0; i < 5; i++) {
        bm_event e = mk(BM_EV_CUSTOM, ids[i], ts[i]);
        add_ok(&e);
    }
    const char *want[] = {"e5", "e10", "e20", "e30", "e40"};
    assert_order(want, 5);
}

Test(trace, ties_keep_arrival_order)
{
    bm_event a = mk(BM_EV_CUSTOM, "a", 10);
    bm_event b = mk(BM_EV_CUSTOM, "b", 10);
    bm_event c = mk(BM_EV_CUSTOM, "c", 20);
    bm_event d = mk(BM_EV_CUSTOM, "d", 10); /* late, ties with a and b: goes after them */
    bm_event e = mk(BM_EV_CUSTOM, "e", 5);
    add_ok(&a);
    add_ok(&b);
    add_ok(&c);
    add_ok(&d);
    add_ok(&e);
    const char *want[] = {"e", "a", "b", "d", "c"};
    assert_order(want, 5);
}

Test(trace, added_out_is_the_kept_event)
{
    bm_event a = mk(BM_EV_CUSTOM, "a", 20);
    bm_event b = mk(BM_EV_CUSTOM, "b", 10);
    trace_event out_view;
    const trace_event *out = &out_view;
    cr_assert_eq(trace_add(t, &a, 512, &out_view), TRACE_ADD_OK);
    cr_assert_str_eq(out->ev.id, at(t, 0)->ev.id);
    cr_assert_eq(trace_add(t, &b, 512, &out_view), TRACE_ADD_OK);
    cr_assert_str_eq(out->ev.id, at(t, 0)->ev.id);
    cr_assert_str_eq(out->ev.id, "b");
    cr_assert_eq(out->ev.ts_us, 10);
}

/* ---- dedup and bounds ------------------------------------------------------ */

Test(trace, duplicate_id_changes_nothing)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    add_ok(&c);
    size_t heap = trace_heap_bytes(t);
    trace_event out, sentinel;
    memset(&sentinel, 0x5a, sizeof sentinel);
    out = sentinel;
    cr_assert_eq(trace_add(t, &c, 512, &out), TRACE_ADD_DUPLICATE);
    cr_assert_eq(memcmp(&out, &sentinel, sizeof out), 0, "added_out untouched on duplicate");
    /* same id, different content: still a duplicate */
    bm_event r = res_ev("c1", 50, "other", "x");
    cr_assert_eq(trace_add(t, &r, 512, NULL), TRACE_ADD_DUPLICATE);
    cr_assert_eq(trace_count(t), 1);
    cr_assert_eq(trace_heap_bytes(t), heap);
    cr_assert_eq(at(t, 0)->ev.type, BM_EV_COMMAND);
    cr_assert_eq(at(t, 0)->ev.ts_us, 100);
    cr_assert_eq(at(t, 0)->paired, -1);
}

Test(trace, dedup_is_exact_compare)
{
    bm_event a = mk(BM_EV_CUSTOM, "id-a", 1);
    bm_event b = mk(BM_EV_CUSTOM, "ID-A", 2);
    bm_event c = mk(BM_EV_CUSTOM, "id-a ", 3);
    bm_event d = mk(BM_EV_CUSTOM, "id-", 4);
    add_ok(&a);
    add_ok(&b);
    add_ok(&c);
    add_ok(&d);
    cr_assert_eq(trace_count(t), 4);
}

Test(trace, full_at_max_events)
{
    bm_event a = mk(BM_EV_CUSTOM, "a", 1);
    bm_event b = mk(BM_EV_CUSTOM, "b", 2);
    bm_event c = mk(BM_EV_CUSTOM, "c", 3);
    cr_assert_eq(trace_add(t, &a, 2, NULL), TRACE_ADD_OK);
    cr_assert_eq(trace_add(t, &b, 2, NULL), TRACE_ADD_OK);
    size_t heap = trace_heap_bytes(t);
    cr_assert_eq(trace_add(t, &c, 2, NULL), TRACE_ADD_FULL);
    cr_assert_eq(trace_add(t, &a, 2, NULL), TRACE_ADD_DUPLICATE, "a duplicate is not a loss");
    cr_assert_eq(trace_count(t), 2);
    cr_assert_eq(trace_heap_bytes(t), heap);
    cr_assert_eq(pos_of("c"), -1);
}

Test(trace, many_events_grow)
{
    char ids[600][16];
    for (int i = 0; i < 600; i++) {
        snprintf(ids[i], sizeof ids[i], "e%d", i);
        bm_event e = mk(BM_EV_CUSTOM, ids[i], (i * 7919) % 600);
        cr_assert_eq(trace_add(t, &e, 512, NULL), i < 512 ? TRACE_ADD_OK : TRACE_ADD_FULL);
    }
    cr_assert_eq(trace_count(t), 512);
    for (size_t i = 1; i < 512; i++)
        cr_assert_leq(at(t, i - 1)->ev.ts_us, at(t, i)->ev.ts_us);
    for (int i = 0; i < 512; i++) {
        bm_event e = mk(BM_EV_CUSTOM, ids[i], 0);
        cr_assert_eq(trace_add(t, &e, 0, NULL), TRACE_ADD_DUPLICATE);
    }
}

/* ---- ownership ------------------------------------------------------------- */

Test(trace, keeps_its_own_copies)
{
    char buf[16][32];
    const char *names[] = {"id",  "tx",    "corr", "cmd", "worker", "step", "source", "status",
                           "msg", "etype", "emsg", "k1",  "v1",     "k2",   "v2",     "unused"};
    for (int i = 0; i < 16; i++)
        snprintf(buf[i], sizeof buf[i], "%s", names[i]);
    bm_event e = mk(BM_EV_STATUS, buf[0], 7);
    e.tx = buf[1];
    e.corr = buf[2];
    e.cmd = buf[3];
    e.worker = buf[4];
    e.step = buf[5];
    e.source = buf[6];
    e.status = buf[7];
    e.message = buf[8];
    e.error_type = buf[9];
    e.error_message = buf[10];
    e.attempt = 3;
    e.priority = 2;
    e.progress = 0.5;
    e.payload_bytes = 99;
    e.n_attrs = 2;
    e.attrs[0] = (bm_attr){buf[11], buf[12]};
    e.attrs[1] = (bm_attr){buf[13], buf[14]};
    add_ok(&e);
    for (int i = 0; i < 16; i++)
        memset(buf[i], 'X', sizeof buf[i] - 1);
    const bm_event *k = &at(t, 0)->ev;
    cr_assert_str_eq(k->id, "id");
    cr_assert_str_eq(k->tx, trace_tx(t), "a kept event's tx is its trace's");
    cr_assert_str_eq(k->corr, "corr");
    cr_assert_str_eq(k->cmd, "cmd");
    cr_assert_str_eq(k->worker, "worker");
    cr_assert_str_eq(k->step, "step");
    cr_assert_str_eq(k->source, "source");
    cr_assert_str_eq(k->status, "status");
    cr_assert_str_eq(k->message, "msg");
    cr_assert_str_eq(k->error_type, "etype");
    cr_assert_str_eq(k->error_message, "emsg");
    cr_assert_eq(k->n_attrs, 2);
    cr_assert_str_eq(k->attrs[0].key, "k1");
    cr_assert_str_eq(k->attrs[0].value, "v1");
    cr_assert_str_eq(k->attrs[1].key, "k2");
    cr_assert_str_eq(k->attrs[1].value, "v2");
    cr_assert_eq(k->attempt, 3);
    cr_assert_eq(k->priority, 2);
    cr_assert_float_eq(k->progress, 0.5, 1e-12);
    cr_assert_eq(k->payload_bytes, 99);
    cr_assert_eq(k->ts_us, 7);
}

Test(trace, shared_strings_stay_right)
{
    /* The result shares worker/step/corr with the command: the values seen
     * through either must be right, including when they differ. */
    char w[8] = "w1", s[8] = "s1", corr[8] = "k";
    bm_event c = cmd_ev("c1", 10, w, s);
    c.corr = corr;
    add_ok(&c);
    bm_event r = res_ev("r1", 20, w, s);
    r.corr = corr;
    r.cmd = "c1";
    add_ok(&r);
    bm_event r2 = res_ev("r2", 30, "w2", "s1");
    r2.corr = "other";
    add_ok(&r2);
    strcpy(w, "XX");
    strcpy(s, "YY");
    cr_assert_str_eq(get("c1")->ev.worker, "w1");
    cr_assert_str_eq(get("r1")->ev.worker, "w1");
    cr_assert_str_eq(get("r1")->ev.step, "s1");
    cr_assert_str_eq(get("r1")->ev.corr, "k");
    cr_assert_str_eq(get("r1")->ev.cmd, "c1");
    cr_assert_str_eq(get("r1")->ev.tx, "tx1");
    cr_assert_str_eq(get("r2")->ev.worker, "w2");
    cr_assert_str_eq(get("r2")->ev.corr, "other");
    cr_assert_str_eq(get("r2")->ev.cmd, "");
}

Test(trace, heap_bytes_grow_with_events)
{
    /* A new trace has room for a command and its result in its own
     * allocation: they cost nothing more, and no copy of the decoded event. */
    size_t h0 = trace_heap_bytes(t);
    cr_assert_lt(h0, sizeof(trace_event), "an empty trace is small (%zu bytes)", h0);
    bm_event c = cmd_ev("c1", 10, "worker-a", "step-a");
    add_ok(&c);
    bm_event r = res_ev("r1", 20, "worker-a", "step-a");
    add_ok(&r);
    cr_assert_eq(trace_heap_bytes(t), h0, "two events fit the trace's room");
    cr_assert_leq(trace_pool_bytes(t), 88);
    bm_event x = mk(BM_EV_CUSTOM, "x", 30);
    add_ok(&x); /* third event: the nodes leave their inline room */
    size_t h3 = trace_heap_bytes(t);
    cr_assert_geq(h3, h0 + 8 * 20, "8 nodes allocated (%zu bytes more)", h3 - h0);
    char text[600];
    memset(text, 'm', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    bm_event big = mk(BM_EV_STATUS, "big", 40);
    big.message = text;
    add_ok(&big); /* the records leave the trace's room */
    cr_assert_geq(trace_heap_bytes(t), h3 + sizeof text, "the message is kept");
    cr_assert_str_eq(get("big")->ev.message, text);
    cr_assert_str_eq(get("c1")->ev.worker, "worker-a", "records moved out intact");
    cr_assert_str_eq(get("r1")->ev.cmd, "");
}

Test(trace, room_is_bounded)
{
    trace *u = trace_new_sized("tx-room", 1u << 30);
    cr_assert_not_null(u);
    cr_assert_lt(trace_heap_bytes(u), TRACE_ROOM_MAX + sizeof(trace_event));
    bm_event c = cmd_ev("c1", 10, "w", "s");
    c.tx = "tx-room";
    cr_assert_eq(trace_add(u, &c, 0, NULL), TRACE_ADD_OK);
    trace_free(u);
    u = trace_new_sized("tx-room", 0); /* the least room: every record outside */
    cr_assert_not_null(u);
    cr_assert_eq(trace_add(u, &c, 0, NULL), TRACE_ADD_OK);
    cr_assert_str_eq(trace_get(u, 0, &ring[0])->ev.id, "c1");
    trace_free(u);
}

/* ---- pairing --------------------------------------------------------------- */

Test(trace, rule1_exact_cmd_beats_earliest)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event c2 = cmd_ev("c2", 200, "w", "s");
    bm_event r = res_ev("r", 350, "w", "s");
    r.cmd = "c2";
    add_ok(&c1);
    add_ok(&c2);
    trace_event out_view;
    const trace_event *out = &out_view;
    cr_assert_eq(trace_add(t, &r, 512, &out_view), TRACE_ADD_OK);
    cr_assert_eq(out->paired, pos_of("c2"));
    cr_assert_eq(out->duration_us, 150);
    assert_pair("r", "c2");
    cr_assert_eq(get("c1")->paired, -1);
    cr_assert_eq(get("c2")->duration_us, -1, "commands carry no duration");
}

Test(trace, rule2_corr)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    c1.corr = "A";
    bm_event c2 = cmd_ev("c2", 200, "w", "s");
    c2.corr = "B";
    bm_event r = res_ev("r", 260, "w", "s");
    r.corr = "B";
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    assert_pair("r", "c2");
    cr_assert_eq(get("c1")->paired, -1);
    cr_assert_eq(get("r")->duration_us, 60);
}

Test(trace, rule2_empty_corr_does_not_match)
{
    /* Both corr empty: rule 2 does not apply, rule 3 (step) does. */
    bm_event c1 = cmd_ev("c1", 100, "w", "s1");
    bm_event c2 = cmd_ev("c2", 200, "w", "s2");
    bm_event r = res_ev("r", 300, "w", "s2");
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    assert_pair("r", "c2");
    cr_assert_eq(get("c1")->paired, -1);
}

Test(trace, rule3_step_worker_fifo)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event c2 = cmd_ev("c2", 110, "w", "s");
    bm_event r1 = res_ev("r1", 200, "w", "s");
    bm_event r2 = res_ev("r2", 300, "w", "s");
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r1);
    assert_pair("r1", "c1");
    cr_assert_eq(get("c2")->paired, -1);
    add_ok(&r2);
    assert_pair("r2", "c2");
    cr_assert_eq(get("r1")->duration_us, 100);
    cr_assert_eq(get("r2")->duration_us, 190);
}

Test(trace, rule3_worker_must_match)
{
    bm_event c1 = cmd_ev("c1", 100, "w1", "s");
    bm_event c2 = cmd_ev("c2", 110, "w2", "s");
    bm_event r = res_ev("r", 200, "w2", "s");
    bm_event other_step = res_ev("o", 210, "w1", "t");
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    add_ok(&other_step);
    assert_pair("r", "c2");
    cr_assert_eq(get("c1")->paired, -1);
    cr_assert_eq(get("o")->paired, -1);
    cr_assert_eq(get("o")->duration_us, -1);
}

Test(trace, rule3_empty_worker_matches_any_and_is_filled)
{
    bm_event c1 = cmd_ev("c1", 100, "w1", "s");
    bm_event r = res_ev("r", 250, "", "s");
    add_ok(&c1);
    trace_event out_view;
    const trace_event *out = &out_view;
    cr_assert_eq(trace_add(t, &r, 512, &out_view), TRACE_ADD_OK);
    cr_assert_str_eq(out->ev.worker, "w1", "the added_out copy is filled");
    cr_assert_str_eq(get("r")->ev.worker, "w1");
    assert_pair("r", "c1");
    cr_assert_eq(get("r")->duration_us, 150);
}

Test(trace, rule1_over_rule2)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    c1.corr = "X";
    bm_event c2 = cmd_ev("c2", 110, "w", "s");
    c2.corr = "Y";
    bm_event r = res_ev("r", 200, "w", "s");
    r.cmd = "c1";
    r.corr = "Y";
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    assert_pair("r", "c1");
    cr_assert_eq(get("c2")->paired, -1);
}

Test(trace, rule2_over_rule3)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    c1.corr = "A";
    bm_event c2 = cmd_ev("c2", 110, "w", "s");
    c2.corr = "B";
    bm_event r = res_ev("r", 200, "w", "s");
    r.corr = "B";
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    assert_pair("r", "c2");
    cr_assert_eq(get("c1")->paired, -1, "rule 3 alone would have taken the earliest, c1");
}

Test(trace, rule1_falls_through_when_named_command_absent)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r", 200, "w", "s");
    r.cmd = "not-here";
    add_ok(&c1);
    add_ok(&r);
    assert_pair("r", "c1");
}

Test(trace, answer_naming_an_answered_command_stays_unpaired)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event c2 = cmd_ev("c2", 110, "w", "s");
    bm_event r1 = res_ev("r1", 200, "w", "s");
    r1.cmd = "c1";
    bm_event e1 = mk(BM_EV_ERROR, "e1", 210);
    e1.worker = "w";
    e1.step = "s";
    e1.cmd = "c1"; /* a second answer to c1: must not take c2 */
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r1);
    add_ok(&e1);
    assert_pair("r1", "c1");
    cr_assert_eq(get("e1")->paired, -1);
    cr_assert_eq(get("c2")->paired, -1);
    /* and c2's own answer still finds it */
    bm_event r2 = res_ev("r2", 300, "w", "s");
    add_ok(&r2);
    assert_pair("r2", "c2");
}

Test(trace, command_after_answer_by_cmd)
{
    bm_event r = res_ev("r", 500, "", "s");
    r.cmd = "c1";
    add_ok(&r);
    cr_assert_eq(get("r")->paired, -1);
    cr_assert_eq(get("r")->duration_us, -1);
    cr_assert_str_eq(get("r")->ev.worker, "");
    bm_event c = cmd_ev("c1", 200, "w9", "s");
    trace_event out_view;
    const trace_event *out = &out_view;
    cr_assert_eq(trace_add(t, &c, 512, &out_view), TRACE_ADD_OK);
    cr_assert_eq(out->paired, 1);
    const char *want[] = {"c1", "r"};
    assert_order(want, 2);
    assert_pair("r", "c1");
    cr_assert_eq(get("r")->duration_us, 300);
    cr_assert_str_eq(get("r")->ev.worker, "w9", "worker filled when the command arrives");
}

/* trace_add's view of a request says when the answer it took was read
 * before it and never paired until then (what a reader counted of that
 * answer had no duration); the answer's view says whose worker it shows. */
Test(trace, answered_early_only_for_an_answer_never_paired)
{
    trace_event out;
    bm_event r = res_ev("r", 500, "", "s");
    r.cmd = "c1";
    cr_assert_eq(trace_add(t, &r, 512, &out), TRACE_ADD_OK);
    cr_assert_eq(out.answered_early, 0, "an answer is never answered early");
    cr_assert_eq(out.worker_filled, 0);
    bm_event c = cmd_ev("c1", 200, "w9", "s");
    cr_assert_eq(trace_add(t, &c, 512, &out), TRACE_ADD_OK);
    cr_assert_eq(out.answered_early, 1);
    cr_assert(get("r")->worker_filled);
    cr_assert_eq(get("c1")->answered_early, 0, "trace_add's view only");
    /* a command whose answer comes after it */
    bm_event c2 = cmd_ev("c2", 600, "w9", "t");
    cr_assert_eq(trace_add(t, &c2, 512, &out), TRACE_ADD_OK);
    cr_assert_eq(out.answered_early, 0);
    bm_event r2 = res_ev("r2", 700, "w9", "t");
    cr_assert_eq(trace_add(t, &r2, 512, &out), TRACE_ADD_OK);
    cr_assert_eq(out.answered_early, 0);
    cr_assert_eq(out.worker_filled, 0, "it names its worker");
}

Test(trace, answered_early_not_again_when_a_guess_moves)
{
    /* r3 names c3 (absent): c1 guesses it by step + worker, first pairing;
     * c3 takes it back, but r3 had been paired already */
    trace_event out;
    bm_event r3 = res_ev("r3", 500, "w", "s");
    r3.cmd = "c3";
    add_ok(&r3);
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    cr_assert_eq(trace_add(t, &c1, 512, &out), TRACE_ADD_OK);
    cr_assert_eq(out.answered_early, 1);
    bm_event c3 = cmd_ev("c3", 300, "w", "s");
    cr_assert_eq(trace_add(t, &c3, 512, &out), TRACE_ADD_OK);
    assert_pair("r3", "c3");
    cr_assert_eq(out.answered_early, 0);
}

Test(trace, command_after_answer_by_corr_and_by_step)
{
    bm_event r1 = res_ev("r1", 500, "w", "a");
    r1.corr = "K";
    bm_event r2 = res_ev("r2", 600, "w", "b");
    add_ok(&r1);
    add_ok(&r2);
    bm_event c1 = cmd_ev("c1", 100, "w", "zzz");
    c1.corr = "K";
    bm_event c2 = cmd_ev("c2", 150, "w", "b");
    add_ok(&c1);
    add_ok(&c2);
    assert_pair("r1", "c1");
    assert_pair("r2", "c2");
    cr_assert_eq(get("r1")->duration_us, 400);
    cr_assert_eq(get("r2")->duration_us, 450);
}

Test(trace, late_command_takes_its_answer_back)
{
    /* r2 names c2, which has not arrived: r2 pairs with c1 by step + worker.
     * When c2 arrives, the exact match wins, and c1 is free again for r1. */
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event r2 = res_ev("r2", 400, "w", "s");
    r2.cmd = "c2";
    add_ok(&c1);
    add_ok(&r2);
    assert_pair("r2", "c1");
    cr_assert_eq(get("r2")->duration_us, 300);
    bm_event c2 = cmd_ev("c2", 200, "w", "s");
    add_ok(&c2);
    assert_pair("r2", "c2");
    cr_assert_eq(get("c1")->paired, -1);
    cr_assert_eq(get("r2")->duration_us, 200);
    bm_event r1 = res_ev("r1", 450, "w", "s");
    r1.cmd = "c1";
    add_ok(&r1);
    assert_pair("r1", "c1");
    assert_pair("r2", "c2");
}

Test(trace, displaced_answer_finds_another_command)
{
    /* r (no ids) took c1 by step; r1 names c1 and takes it; r then moves to
     * the free c2, and its borrowed worker and duration follow. */
    bm_event c1 = cmd_ev("c1", 100, "wa", "s");
    bm_event c2 = cmd_ev("c2", 200, "wa", "s");
    bm_event r = res_ev("r", 300, "", "s");
    add_ok(&c1);
    add_ok(&r);
    assert_pair("r", "c1");
    cr_assert_eq(get("r")->duration_us, 200);
    add_ok(&c2);
    assert_pair("r", "c1");
    bm_event r1 = res_ev("r1", 350, "wa", "s");
    r1.cmd = "c1";
    add_ok(&r1);
    assert_pair("r1", "c1");
    assert_pair("r", "c2");
    cr_assert_eq(get("r")->duration_us, 100);
    cr_assert_str_eq(get("r")->ev.worker, "wa");
}

Test(trace, unpaired_answer_loses_borrowed_worker)
{
    bm_event c1 = cmd_ev("c1", 100, "wa", "s");
    bm_event r = res_ev("r", 300, "", "s");
    add_ok(&c1);
    add_ok(&r);
    cr_assert_str_eq(get("r")->ev.worker, "wa");
    bm_event r1 = res_ev("r1", 350, "wa", "s");
    r1.cmd = "c1";
    add_ok(&r1);
    assert_pair("r1", "c1");
    cr_assert_eq(get("r")->paired, -1);
    cr_assert_str_eq(get("r")->ev.worker, "");
    cr_assert_eq(get("r")->duration_us, -1);
}

Test(trace, error_event_pairs_too)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event e = mk(BM_EV_ERROR, "e1", 180);
    e.worker = "w";
    e.step = "s";
    e.error_type = "Timeout";
    add_ok(&c);
    add_ok(&e);
    assert_pair("e1", "c1");
    cr_assert_eq(get("e1")->duration_us, 80);
}

Test(trace, status_and_custom_do_not_pair)
{
    bm_event c = cmd_ev("c1", 100, "w", "");
    bm_event s = mk(BM_EV_STATUS, "st", 150);
    bm_event x = mk(BM_EV_CUSTOM, "x", 160);
    bm_event comp = mk(BM_EV_COMPENSATION, "comp", 170);
    comp.worker = "w";
    add_ok(&c);
    add_ok(&s);
    add_ok(&x);
    add_ok(&comp);
    cr_assert_eq(get("c1")->paired, -1);
    cr_assert_eq(get("st")->paired, -1);
    cr_assert_eq(get("x")->paired, -1);
    cr_assert_eq(get("comp")->paired, -1);
}

/* ---- durations ------------------------------------------------------------- */

Test(trace, duration_reported_wins)
{
    bm_event c = cmd_ev("c1", 1000, "w", "s");
    bm_event r = res_ev("r1", 8000, "w", "s");
    r.duration_us = 5000;
    add_ok(&c);
    add_ok(&r);
    assert_pair("r1", "c1");
    cr_assert_eq(get("r1")->duration_us, 5000);
    cr_assert_eq(get("r1")->ev.duration_us, 5000);
}

Test(trace, duration_reported_zero_is_kept)
{
    bm_event c = cmd_ev("c1", 1000, "w", "s");
    bm_event r = res_ev("r1", 8000, "w", "s");
    r.duration_us = 0;
    add_ok(&c);
    add_ok(&r);
    cr_assert_eq(get("r1")->duration_us, 0);
}

Test(trace, duration_unpaired)
{
    bm_event r = res_ev("r1", 8000, "w", "s");
    r.duration_us = 1234;
    bm_event r2 = res_ev("r2", 9000, "w", "t");
    add_ok(&r);
    add_ok(&r2);
    cr_assert_eq(get("r1")->paired, -1);
    cr_assert_eq(get("r1")->duration_us, 1234);
    cr_assert_eq(get("r2")->paired, -1);
    cr_assert_eq(get("r2")->duration_us, -1);
}

/* ---- indexes after insertions ---------------------------------------------- */

Test(trace, paired_indexes_follow_insertions)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    add_ok(&c);
    add_ok(&r);
    cr_assert_eq(get("c1")->paired, 1);
    cr_assert_eq(get("r1")->paired, 0);
    bm_event early = mk(BM_EV_STATUS, "early", 50);
    add_ok(&early);
    cr_assert_eq(pos_of("c1"), 1);
    cr_assert_eq(get("c1")->paired, 2);
    cr_assert_eq(get("r1")->paired, 1);
    bm_event mid = mk(BM_EV_CUSTOM, "mid", 150);
    add_ok(&mid);
    cr_assert_eq(get("c1")->paired, 3);
    cr_assert_eq(get("r1")->paired, 1);
    bm_event late = mk(BM_EV_CUSTOM, "late", 900);
    add_ok(&late);
    cr_assert_eq(get("c1")->paired, 3);
    cr_assert_eq(get("r1")->paired, 1);
    /* a second pair inserted between the first pair's events */
    bm_event c2 = cmd_ev("c2", 120, "v", "s2");
    bm_event r2 = res_ev("r2", 130, "v", "s2");
    add_ok(&r2);
    add_ok(&c2);
    const char *want[] = {"early", "c1", "c2", "r2", "mid", "r1", "late"};
    assert_order(want, 7);
    assert_pair("c1", "r1");
    assert_pair("c2", "r2");
    cr_assert_eq(get("late")->paired, -1);
    cr_assert_eq(get("mid")->paired, -1);
}

/* ---- status ---------------------------------------------------------------- */

Test(trace, status_running_until_all_answered)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "a");
    bm_event c2 = cmd_ev("c2", 110, "w", "b");
    bm_event r1 = res_ev("r1", 200, "w", "a");
    bm_event r2 = res_ev("r2", 210, "w", "b");
    add_ok(&c1);
    cr_assert_eq(trace_get_status(t), TRACE_RUNNING);
    add_ok(&c2);
    add_ok(&r1);
    cr_assert_eq(trace_get_status(t), TRACE_RUNNING);
    add_ok(&r2);
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);
}

Test(trace, status_failed_result)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    r.ok = 0;
    add_ok(&c);
    add_ok(&r);
    assert_pair("r1", "c1");
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_result_ok_unsaid_is_success)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    r.ok = -1;
    add_ok(&c);
    add_ok(&r);
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);
}

Test(trace, status_error_event)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event e = mk(BM_EV_ERROR, "e1", 200);
    e.worker = "w";
    e.step = "s";
    add_ok(&c);
    add_ok(&e);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_unpaired_error_fails)
{
    bm_event e = mk(BM_EV_ERROR, "e1", 200);
    e.worker = "w";
    add_ok(&e);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_retry_success_completes)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event e1 = mk(BM_EV_ERROR, "e1", 200);
    e1.worker = "w";
    e1.step = "s";
    bm_event c2 = cmd_ev("c2", 300, "w", "s");
    bm_event r2 = res_ev("r2", 400, "w", "s");
    add_ok(&c1);
    add_ok(&e1);
    add_ok(&c2);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
    add_ok(&r2);
    assert_pair("e1", "c1");
    assert_pair("r2", "c2");
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);
}

Test(trace, status_success_of_other_worker_does_not_clear)
{
    bm_event c1 = cmd_ev("c1", 100, "w1", "s");
    bm_event r1 = res_ev("r1", 200, "w1", "s");
    r1.ok = 0;
    bm_event c2 = cmd_ev("c2", 300, "w2", "s");
    bm_event r2 = res_ev("r2", 400, "w2", "s");
    add_ok(&c1);
    add_ok(&r1);
    add_ok(&c2);
    add_ok(&r2);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_success_before_failure_does_not_clear)
{
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event r1 = res_ev("r1", 200, "w", "s");
    bm_event c2 = cmd_ev("c2", 300, "w", "s");
    bm_event r2 = res_ev("r2", 400, "w", "s");
    r2.ok = 0;
    add_ok(&c1);
    add_ok(&r1);
    add_ok(&c2);
    add_ok(&r2);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

static trace_status status_with(const char *text)
{
    trace *u = trace_new("tx");
    cr_assert_not_null(u);
    bm_event c = cmd_ev("c1", 100, "w", "s"); /* unanswered: running without a status */
    bm_event s = mk(BM_EV_STATUS, "st", 200);
    s.status = text;
    cr_assert_eq(trace_add(u, &c, 512, NULL), TRACE_ADD_OK);
    cr_assert_eq(trace_add(u, &s, 512, NULL), TRACE_ADD_OK);
    trace_status st = trace_get_status(u);
    trace_free(u);
    return st;
}

Test(trace, status_events)
{
    cr_assert_eq(status_with("failed"), TRACE_FAILED);
    cr_assert_eq(status_with("FAILED"), TRACE_FAILED);
    cr_assert_eq(status_with("Error"), TRACE_FAILED);
    cr_assert_eq(status_with("completed"), TRACE_COMPLETED);
    cr_assert_eq(status_with("Success"), TRACE_COMPLETED);
    cr_assert_eq(status_with("DONE"), TRACE_COMPLETED);
    cr_assert_eq(status_with("running"), TRACE_RUNNING);
    cr_assert_eq(status_with("in_progress"), TRACE_RUNNING);
    cr_assert_eq(status_with(""), TRACE_RUNNING);
    cr_assert_eq(status_with("failed-ish"), TRACE_RUNNING);
}

Test(trace, status_failed_status_beats_completed)
{
    bm_event a = mk(BM_EV_STATUS, "a", 100);
    a.status = "completed";
    bm_event b = mk(BM_EV_STATUS, "b", 200);
    b.status = "failed";
    add_ok(&a);
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);
    add_ok(&b);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_step_failure_beats_completed_status)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    r.ok = 0;
    bm_event s = mk(BM_EV_STATUS, "st", 300);
    s.status = "completed";
    add_ok(&c);
    add_ok(&r);
    add_ok(&s);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

/* ---- stage ----------------------------------------------------------------- */

Test(trace, stages)
{
    bm_event c = cmd_ev("c", 1, "w", "s");
    bm_event r = res_ev("r", 2, "w", "s");
    bm_event rf = res_ev("rf", 3, "w", "s");
    rf.ok = 0;
    bm_event e = mk(BM_EV_ERROR, "e", 4);
    bm_event st = mk(BM_EV_STATUS, "st", 5);
    st.status = "validating";
    bm_event st0 = mk(BM_EV_STATUS, "st0", 6);
    bm_event comp = mk(BM_EV_COMPENSATION, "comp", 7);
    bm_event cu = mk(BM_EV_CUSTOM, "cu", 8);
    bm_event *all[] = {&c, &r, &rf, &e, &st, &st0, &comp, &cu};
    for (int i = 0; i < 8; i++)
        add_ok(all[i]);
    cr_assert_str_eq(trace_event_stage(get("c")), "dispatched");
    cr_assert_str_eq(trace_event_stage(get("r")), "completed");
    cr_assert_str_eq(trace_event_stage(get("rf")), "failed");
    cr_assert_str_eq(trace_event_stage(get("e")), "failed");
    cr_assert_str_eq(trace_event_stage(get("st")), "validating");
    cr_assert_str_eq(trace_event_stage(get("st0")), "status");
    cr_assert_str_eq(trace_event_stage(get("comp")), "requested");
    cr_assert_str_eq(trace_event_stage(get("cu")), "custom");
}

Test(trace, late_command_does_not_take_an_answer_naming_another)
{
    /* e1 names c1, which r1 already answers exactly: a later command c2
     * with the same step and worker must not take e1. */
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    bm_event r1 = res_ev("r1", 200, "w", "s");
    r1.cmd = "c1";
    bm_event e1 = mk(BM_EV_ERROR, "e1", 210);
    e1.worker = "w";
    e1.step = "s";
    e1.cmd = "c1";
    bm_event c2 = cmd_ev("c2", 300, "w", "s");
    add_ok(&c1);
    add_ok(&r1);
    add_ok(&e1);
    add_ok(&c2);
    assert_pair("r1", "c1");
    cr_assert_eq(get("e1")->paired, -1);
    cr_assert_eq(get("c2")->paired, -1);
}

Test(trace, free_command_preferred_to_taking_one)
{
    /* x took c1 by step (rule 3). a matches c1 and c2 by corr (rule 2):
     * it takes the free c2 rather than displacing x. */
    bm_event c1 = cmd_ev("c1", 100, "w", "s");
    c1.corr = "K";
    bm_event x = res_ev("x", 150, "w", "s");
    bm_event c2 = cmd_ev("c2", 200, "w", "t");
    c2.corr = "K";
    bm_event a = res_ev("a", 300, "w", "u");
    a.corr = "K";
    add_ok(&c1);
    add_ok(&x);
    add_ok(&c2);
    assert_pair("x", "c1");
    cr_assert_eq(get("c2")->paired, -1);
    add_ok(&a);
    assert_pair("x", "c1");
    assert_pair("a", "c2");
}

Test(trace, status_later_failed_result_does_not_clear_a_failure)
{
    /* e1 (worker w) fails; r2 (no worker, so any) also fails; r3 succeeds
     * for worker v: r3 clears r2 but not e1, and r2 cannot clear e1. */
    bm_event e1 = mk(BM_EV_ERROR, "e1", 100);
    e1.worker = "w";
    e1.step = "s";
    bm_event r2 = res_ev("r2", 200, "", "s");
    r2.ok = 0;
    bm_event r3 = res_ev("r3", 300, "v", "s");
    add_ok(&e1);
    add_ok(&r2);
    add_ok(&r3);
    cr_assert_eq(get("r2")->paired, -1);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

/* ---- outcomes, final statuses, compensations, late answers -------------- */

Test(trace, outcomes)
{
    bm_event r = res_ev("r", 1, "w", "s");
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_SUCCESS);
    r.ok = -1;
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_SUCCESS, "ok unsaid is a success");
    r.ok = 0;
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_FAILURE);
    r.error_type = "timeout"; /* the framework's worker manager: success false, timeout */
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_TIMEOUT);
    r.error_type = "Timeout";
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_TIMEOUT);
    r.error_type = "TimeoutError"; /* an exception's class: what the worker raised */
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_FAILURE);
    r.ok = 1;
    r.error_type = "timeout";
    cr_assert_eq(trace_event_outcome(&r), BM_OUTCOME_SUCCESS, "success: true is a success");
    bm_event e = mk(BM_EV_ERROR, "e", 2);
    cr_assert_eq(trace_event_outcome(&e), BM_OUTCOME_FAILURE);
    e.error_type = "timeout";
    cr_assert_eq(trace_event_outcome(&e), BM_OUTCOME_TIMEOUT);
    cr_assert_not(trace_event_is_busmon_timeout(&e), "not from busmon");
    e.source = "busmon";
    cr_assert(trace_event_is_busmon_timeout(&e));
    e.error_type = "NetworkError";
    cr_assert_not(trace_event_is_busmon_timeout(&e));
    bm_event c = cmd_ev("c", 3, "w", "s");
    cr_assert_eq(trace_event_outcome(&c), -1);
    bm_event k = mk(BM_EV_COMPENSATION, "k", 4);
    cr_assert_eq(trace_event_outcome(&k), -1);
}

Test(trace, timeout_stage_and_status)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    r.ok = 0;
    r.cmd = "c1";
    r.error_type = "timeout";
    add_ok(&c);
    add_ok(&r);
    assert_pair("r1", "c1");
    cr_assert_str_eq(trace_event_stage(get("r1")), "timed_out");
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
}

Test(trace, status_names_groups_and_filters)
{
    cr_assert_str_eq(trace_status_name(TRACE_COMPENSATED), "compensated");
    cr_assert_str_eq(trace_status_name(TRACE_CANCELLED), "cancelled");
    cr_assert_eq(trace_status_group(TRACE_RUNNING), TRACE_RUNNING);
    cr_assert_eq(trace_status_group(TRACE_COMPLETED), TRACE_COMPLETED);
    cr_assert_eq(trace_status_group(TRACE_FAILED), TRACE_FAILED);
    cr_assert_eq(trace_status_group(TRACE_COMPENSATED), TRACE_FAILED);
    cr_assert_eq(trace_status_group(TRACE_CANCELLED), TRACE_FAILED);
    /* "failed" matches every unsuccessful end; other words their own status */
    cr_assert(trace_status_matches(TRACE_FAILED, "failed"));
    cr_assert(trace_status_matches(TRACE_COMPENSATED, "failed"));
    cr_assert(trace_status_matches(TRACE_CANCELLED, "failed"));
    cr_assert_not(trace_status_matches(TRACE_COMPLETED, "failed"));
    cr_assert_not(trace_status_matches(TRACE_RUNNING, "failed"));
    cr_assert(trace_status_matches(TRACE_COMPENSATED, "compensated"));
    cr_assert_not(trace_status_matches(TRACE_FAILED, "compensated"));
    cr_assert_not(trace_status_matches(TRACE_CANCELLED, "compensated"));
    cr_assert(trace_status_matches(TRACE_CANCELLED, "cancelled"));
    cr_assert(trace_status_matches(TRACE_COMPLETED, "completed"));
    cr_assert(trace_status_matches(TRACE_RUNNING, "running"));
    cr_assert_not(trace_status_matches(TRACE_RUNNING, "bogus"));
    cr_assert_not(trace_status_matches(TRACE_FAILED, NULL));
}

Test(trace, final_statuses)
{
    cr_assert_eq(status_with("compensated"), TRACE_COMPENSATED);
    cr_assert_eq(status_with("Compensated"), TRACE_COMPENSATED);
    cr_assert_eq(status_with("cancelled"), TRACE_CANCELLED);
    cr_assert_eq(status_with("canceled"), TRACE_CANCELLED);
    cr_assert_eq(status_with("timeout"), TRACE_FAILED);
    cr_assert_eq(status_with("compensating"), TRACE_RUNNING, "not a final status");
}

/* The framework's failed step then its compensation: the trace ends
 * compensated, not failed, although the failure stands. */
Test(trace, compensated_beats_a_standing_failure)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event r = res_ev("r1", 200, "w", "s");
    r.ok = 0;
    r.error_type = "WorkerException";
    bm_event k = mk(BM_EV_COMPENSATION, "k1", 250);
    k.worker = "undo_s";
    bm_event st = mk(BM_EV_STATUS, "st", 300);
    st.status = "compensated";
    add_ok(&c);
    add_ok(&r);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
    add_ok(&k);
    cr_assert_eq(trace_get_status(t), TRACE_FAILED, "a compensation alone decides nothing");
    add_ok(&st);
    cr_assert_eq(trace_get_status(t), TRACE_COMPENSATED);
}

/* Precedence does not depend on arrival order: cancelled > compensated >
 * failed > completed. */
Test(trace, final_status_precedence)
{
    const char *words[] = {"completed", "failed", "compensated", "cancelled"};
    const trace_status want[] = {TRACE_COMPLETED, TRACE_FAILED, TRACE_COMPENSATED, TRACE_CANCELLED};
    for (int hi = 1; hi < 4; hi++)
        for (int lo = 0; lo < hi; lo++)
            for (int order = 0; order < 2; order++) {
                trace *u = trace_new("tx");
                bm_event a = mk(BM_EV_STATUS, "a", 100);
                bm_event b = mk(BM_EV_STATUS, "b", order ? 50 : 200);
                a.status = words[lo];
                b.status = words[hi];
                cr_assert_eq(trace_add(u, &a, 0, NULL), TRACE_ADD_OK);
                cr_assert_eq(trace_add(u, &b, 0, NULL), TRACE_ADD_OK);
                cr_assert_eq(trace_get_status(u), want[hi], "%s and %s (order %d)", words[lo],
                             words[hi], order);
                trace_free(u);
            }
}

Test(trace, closed_by_the_first_final_status)
{
    cr_assert_null(closed(NULL));
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event run = mk(BM_EV_STATUS, "run", 50);
    run.status = "running";
    bm_event comp = mk(BM_EV_STATUS, "comp", 300);
    comp.status = "compensated";
    bm_event canc = mk(BM_EV_STATUS, "canc", 200); /* earlier in time, added later */
    canc.status = "compensated";
    add_ok(&run);
    add_ok(&c);
    cr_assert_null(closed(t), "running is not final");
    add_ok(&comp);
    cr_assert_not_null(closed(t));
    cr_assert_str_eq(closed(t)->ev.id, "comp");
    add_ok(&canc);
    cr_assert_str_eq(closed(t)->ev.id, "comp", "the first one added stays");
    cr_assert_eq(get("c1")->paired, -1, "its command stays unanswered");
}

Test(trace, compensation_answered_by_id_or_corr)
{
    bm_event c = cmd_ev("c1", 100, "shop", "reserve");
    c.corr = "tx1.reserve";
    bm_event r = res_ev("r1", 200, "shop", "reserve");
    r.cmd = "c1";
    r.corr = "tx1.reserve";
    bm_event k = mk(BM_EV_COMPENSATION, "k1", 300);
    k.worker = "release";
    k.step = "reserve";
    k.corr = "tx1.comp.reserve";
    bm_event ka = res_ev("ka", 400, "release", "reserve");
    ka.cmd = "k1";
    ka.corr = "tx1.comp.reserve";
    add_ok(&c);
    add_ok(&r);
    add_ok(&k);
    cr_assert_str_eq(trace_event_stage(get("k1")), "requested");
    cr_assert_eq(get("k1")->paired, -1);
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED, "an unanswered compensation is not awaited");
    add_ok(&ka);
    assert_pair("ka", "k1");
    assert_pair("r1", "c1");
    cr_assert(get("ka")->answers_compensation);
    cr_assert_not(get("r1")->answers_compensation);
    cr_assert_eq(get("ka")->duration_us, 100);
    cr_assert_str_eq(trace_event_stage(get("ka")), "compensated");
    cr_assert_str_eq(trace_event_stage(get("k1")), "requested");
    cr_assert_eq(trace_get_status(t), TRACE_COMPLETED);

    /* by correlation id alone, and a failed one */
    trace *u = trace_new("tx1");
    bm_event kb = res_ev("kb", 400, "release", "");
    kb.corr = "tx1.comp.reserve";
    kb.ok = 0;
    kb.error_type = "WorkerException";
    cr_assert_eq(trace_add(u, &k, 0, NULL), TRACE_ADD_OK);
    cr_assert_eq(trace_add(u, &kb, 0, NULL), TRACE_ADD_OK);
    cr_assert_eq(at(u, 1)->paired, 0);
    cr_assert(at(u, 1)->answers_compensation);
    cr_assert_str_eq(trace_event_stage(at(u, 1)), "compensation_failed");
    trace_free(u);
}

Test(trace, compensation_not_paired_by_step_and_worker)
{
    /* an answer with neither cmd nor corr takes a command by step +
     * worker; never a compensation of that step */
    bm_event k = mk(BM_EV_COMPENSATION, "k1", 100);
    k.worker = "w";
    k.step = "s";
    bm_event r = res_ev("r1", 200, "w", "s");
    add_ok(&k);
    add_ok(&r);
    cr_assert_eq(get("r1")->paired, -1);
    cr_assert_eq(get("k1")->paired, -1);
    bm_event c = cmd_ev("c1", 150, "w", "s");
    add_ok(&c);
    assert_pair("r1", "c1");
    cr_assert_not(get("r1")->answers_compensation);
}

/* busmon's own timeout for command c1, as agent/state/state.c adds it. */
static bm_event busmon_timeout(const char *cmd, int64_t ts)
{
    static char id[64];
    snprintf(id, sizeof id, "%s:timeout", cmd);
    bm_event e = mk(BM_EV_ERROR, id, ts);
    e.cmd = cmd;
    e.worker = "w";
    e.step = "s";
    e.corr = "tx1.s";
    e.source = "busmon";
    e.error_type = "timeout";
    e.error_message = "no answer within 1 s";
    return e;
}

Test(trace, late_answer_after_busmon_timeout)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    c.corr = "tx1.s";
    bm_event to = busmon_timeout("c1", 1100);
    bm_event r = res_ev("r1", 1500, "w", "s");
    r.cmd = "c1";
    r.corr = "tx1.s";
    add_ok(&c);
    add_ok(&to);
    assert_pair("c1:timeout", "c1");
    cr_assert_eq(trace_get_status(t), TRACE_FAILED);
    trace_event added_view;
    const trace_event *added = &added_view;
    cr_assert_eq(trace_add(t, &r, 0, &added_view), TRACE_ADD_OK);
    cr_assert(added->late, "reported late when added");
    assert_pair("c1:timeout", "c1"); /* first outcome wins */
    cr_assert_eq(get("r1")->paired, -1);
    cr_assert_str_eq(trace_event_stage(get("r1")), "late");
    cr_assert_str_eq(trace_event_stage(get("c1:timeout")), "timed_out");
    cr_assert_eq(trace_get_status(t), TRACE_FAILED, "a late success does not clear the timeout");
}

Test(trace, late_answer_by_corr_and_not_by_step)
{
    bm_event c = cmd_ev("c1", 100, "w", "s");
    c.corr = "tx1.s";
    bm_event to = busmon_timeout("c1", 1100);
    bm_event by_corr = res_ev("r1", 1500, "w", "s");
    by_corr.corr = "tx1.s";
    bm_event by_step = res_ev("r2", 1600, "w", "s"); /* no cmd, no corr: a guess only */
    add_ok(&c);
    add_ok(&to);
    add_ok(&by_corr);
    add_ok(&by_step);
    cr_assert(get("r1")->late);
    cr_assert_not(get("r2")->late);
    cr_assert_str_eq(trace_event_stage(get("r2")), "completed");
}

Test(trace, second_answer_after_a_real_one_is_not_late)
{
    /* only busmon's own timeout makes a later answer late */
    bm_event c = cmd_ev("c1", 100, "w", "s");
    bm_event e = mk(BM_EV_ERROR, "e1", 200);
    e.cmd = "c1";
    e.worker = "w";
    e.error_type = "timeout"; /* the framework's, not busmon's */
    bm_event r = res_ev("r1", 300, "w", "s");
    r.cmd = "c1";
    add_ok(&c);
    add_ok(&e);
    add_ok(&r);
    assert_pair("e1", "c1");
    cr_assert_not(get("r1")->late);
    cr_assert_eq(get("r1")->paired, -1);
}

/* ---- packed records: uuids as 16 bytes, corr "<tx>.<step>" not stored ------ */

#define U1 "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
#define U2 "00000000-0000-4000-a000-000000000001"
#define U3 "ffffffff-ffff-4fff-bfff-fffffffffffe"

Test(trace, packed_ids_and_corr_read_back_exactly)
{
    bm_event c = cmd_ev(U1, 100, "w", "charge");
    c.corr = "tx1.charge";
    bm_event r = res_ev(U2, 250, "w", "charge");
    r.cmd = U1;
    r.corr = "tx1.charge";
    add_ok(&c);
    size_t h1 = trace_heap_bytes(t);
    add_ok(&r);
    assert_pair(U2, U1);
    const trace_event *vc = get(U1), *vr = get(U2);
    cr_assert_str_eq(vc->ev.id, U1);
    cr_assert_str_eq(vc->ev.corr, "tx1.charge");
    cr_assert_str_eq(vr->ev.id, U2);
    cr_assert_str_eq(vr->ev.cmd, U1);
    cr_assert_str_eq(vr->ev.corr, "tx1.charge");
    cr_assert_eq(vr->duration_us, 150);
    /* the result: a record, its uuid's 16 bytes; cmd, corr, worker, step cost a ref each */
    cr_assert_lt(trace_heap_bytes(t) - h1, 64, "result kept in %zu bytes",
                 trace_heap_bytes(t) - h1);
    bm_event again = res_ev(U2, 999, "x", "y");
    cr_assert_eq(trace_add(t, &again, 512, NULL), TRACE_ADD_DUPLICATE, "a packed id dedups");
}

Test(trace, not_canonical_uuids_are_kept_as_text)
{
    const char *upper = "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9";
    bm_event c = cmd_ev(upper, 100, "w", "s");
    bm_event r = res_ev(U1 "x", 200, "w", "other"); /* 37 characters: not a uuid */
    r.cmd = upper;
    add_ok(&c);
    add_ok(&r);
    assert_pair(U1 "x", upper);
    cr_assert_str_eq(get(upper)->ev.id, upper);
    cr_assert_str_eq(get(U1 "x")->ev.id, U1 "x");
    cr_assert_eq(get(U1 "x")->paired, pos_of(upper), "paired by cmd (rule 1)");
}

Test(trace, a_uuid_cmd_names_only_its_own_command)
{
    bm_event c1 = cmd_ev(U1, 100, "w", "s");
    bm_event c2 = cmd_ev(U3, 110, "w", "s");
    bm_event r = res_ev(U2, 300, "w", "s");
    r.cmd = U3;
    add_ok(&c1);
    add_ok(&c2);
    add_ok(&r);
    assert_pair(U2, U3);
    cr_assert_eq(get(U1)->paired, -1);
}

Test(trace, a_packed_corr_follows_its_own_step)
{
    /* the command packs its corr ("tx1.s1" = tx + step); the status after it
     * has the same corr but no step: it must still read "tx1.s1" */
    bm_event c = cmd_ev("c1", 100, "w", "s1");
    c.corr = "tx1.s1";
    bm_event st = mk(BM_EV_STATUS, "st", 150);
    st.status = "running";
    st.corr = "tx1.s1";
    bm_event r = res_ev("r1", 200, "w", "s2");
    r.corr = "tx1.s1"; /* another step, the command's corr: pairs by corr (rule 2) */
    add_ok(&c);
    add_ok(&st);
    add_ok(&r);
    cr_assert_str_eq(get("c1")->ev.corr, "tx1.s1");
    cr_assert_str_eq(get("st")->ev.corr, "tx1.s1");
    cr_assert_str_eq(get("r1")->ev.corr, "tx1.s1");
    assert_pair("r1", "c1");
    bm_event c2 = cmd_ev("c2", 300, "w", "s3");
    c2.corr = "tx1.s3x"; /* looks like the default, is not */
    add_ok(&c2);
    cr_assert_str_eq(get("c2")->ev.corr, "tx1.s3x");
}

Test(trace, strings_from_the_trace_itself_survive_the_pool_moving)
{
    bm_event c = cmd_ev(U1, 100, "a-worker-name-long-enough", "a-step-name");
    add_ok(&c);
    trace_event v;
    trace_get(t, 0, &v);
    /* an event made of a view's strings, taken after the adds that move the
     * pool (state.c's timeouts copy theirs; this checks the trace does not
     * depend on that) */
    bm_event e = res_ev("copy", 200, "", "");
    for (int i = 0; i < 20; i++) { /* enough adds to move the pool */
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        bm_event x = mk(BM_EV_CUSTOM, id, 300 + i);
        x.message = "padding padding padding padding padding padding";
        add_ok(&x);
    }
    trace_get(t, 0, &v);
    e.worker = v.ev.worker;
    e.step = v.ev.step;
    e.message = v.ev.worker;
    add_ok(&e);
    cr_assert_str_eq(get("copy")->ev.worker, "a-worker-name-long-enough");
    cr_assert_str_eq(get("copy")->ev.step, "a-step-name");
}

/* ---- every kept field reads back: random events, packed or not ------------- */

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state % n);
}

/* One of a few names, a uuid (lower- or upper-case), the tx, a long text, or "". */
static void rnd_text(char *out, size_t cap, const char *tx, const char *prev)
{
    static const char *names[] = {"w1",      "worker-2",  "charge",  "reserve", "busmon",
                                  "timeout", "completed", "running", "x"};
    switch (rnd(8)) {
    case 0:
        out[0] = '\0';
        break;
    case 1:
        snprintf(out, cap, "%08x-%04x-4%03x-a%03x-%04x%08x", rnd(1u << 31), rnd(65536), rnd(4096),
                 rnd(4096), rnd(65536), rnd(1u << 31));
        if (rnd(4) == 0) out[3] = 'A'; /* not canonical: kept as text */
        break;
    case 2:
        snprintf(out, cap, "%s", tx);
        break;
    case 3:
        snprintf(out, cap, "%s", prev); /* as the event before had it */
        break;
    case 4: {
        size_t n = 1 + rnd((uint32_t)cap - 1);
        for (size_t i = 0; i < n; i++)
            out[i] = (char)('a' + rnd(26));
        out[n] = '\0';
        break;
    }
    default:
        snprintf(out, cap, "%s", names[rnd(sizeof names / sizeof *names)]);
    }
}

typedef struct {
    char s[11][300];
    char attr[8][2][40];
    bm_event e;
} rnd_event;

Test(trace, random_events_read_back_exactly)
{
    static rnd_event evs[24];
    for (int round = 0; round < 400; round++) {
        char tx[40];
        snprintf(tx, sizeof tx, rnd(2) ? "tx-%d" : "%08d-0000-4000-a000-000000000000", round);
        trace *u = trace_new_sized(tx, rnd(3) ? 88 : rnd(200));
        cr_assert_not_null(u);
        int n = 1 + (int)rnd(24);
        for (int k = 0; k < n; k++) {
            rnd_event *r = &evs[k];
            const rnd_event *p = k ? &evs[k - 1] : NULL;
            for (int f = 0; f < 11; f++)
                rnd_text(r->s[f], sizeof r->s[f], tx, p ? p->s[f] : "");
            snprintf(r->s[0], sizeof r->s[0], rnd(2) ? "%08x-1111-4222-a333-%012d" : "id-%d",
                     rnd(1u << 31), k);
            if (p && rnd(3) == 0)
                snprintf(r->s[3], sizeof r->s[3], "%s", p->s[0]); /* cmd = prev id */
            if (rnd(3) == 0) snprintf(r->s[2], sizeof r->s[2], "%s.%s", tx, r->s[5]); /* corr */
            bm_event *e = &r->e;
            *e = mk((bm_event_type)rnd(BM_EV_CUSTOM + 1), r->s[0], rnd(1000));
            e->tx = tx;
            e->corr = r->s[2];
            e->cmd = r->s[3];
            e->worker = r->s[4];
            e->step = r->s[5];
            e->source = r->s[6];
            e->status = r->s[7];
            e->message = r->s[8];
            e->error_type = r->s[9];
            e->error_message = r->s[10];
            e->duration_us = rnd(3) ? -1 : (int64_t)rnd(1u << 31) * (rnd(2) ? 1000 : 1);
            e->ok = (int)rnd(3) - 1;
            e->attempt = (int)rnd(4) - 1;
            e->priority = (int)rnd(4) - 1;
            e->timeout_s = rnd(2) ? 0 : rnd(100) / 4.0;
            e->progress = rnd(2) ? -1 : rnd(100) / 8.0;
            e->payload_bytes = rnd(2) ? 0 : rnd(1u << 20);
            e->n_attrs = rnd(9);
            for (unsigned a = 0; a < e->n_attrs; a++) {
                rnd_text(r->attr[a][0], sizeof r->attr[a][0], tx, p ? p->attr[a][0] : "");
                rnd_text(r->attr[a][1], sizeof r->attr[a][1], tx, p ? p->attr[a][1] : "");
                e->attrs[a] = (bm_attr){r->attr[a][0], r->attr[a][1]};
            }
            cr_assert_eq(trace_add(u, e, 0, NULL), TRACE_ADD_OK, "round %d event %d", round, k);
        }
        cr_assert_eq(trace_count(u), (size_t)n);
        for (size_t i = 0; i < trace_count(u); i++) {
            trace_event v;
            const bm_event *g = &trace_get(u, i, &v)->ev;
            const bm_event *e = NULL;
            for (int k = 0; k < n && !e; k++)
                if (!strcmp(evs[k].e.id, g->id)) e = &evs[k].e;
            cr_assert_not_null(e, "round %d: kept id %s was never added", round, g->id);
            cr_assert_eq(g->type, e->type);
            cr_assert_str_eq(g->tx, tx);
            cr_assert_str_eq(g->corr, e->corr, "round %d corr", round);
            cr_assert_str_eq(g->cmd, e->cmd, "round %d cmd", round);
            if (!(v.paired >= 0 && !e->worker[0])) /* an answer shows its command's worker */
                cr_assert_str_eq(g->worker, e->worker, "round %d worker", round);
            cr_assert_str_eq(g->step, e->step);
            cr_assert_str_eq(g->source, e->source);
            cr_assert_str_eq(g->status, e->status);
            cr_assert_str_eq(g->message, e->message);
            cr_assert_str_eq(g->error_type, e->error_type);
            cr_assert_str_eq(g->error_message, e->error_message);
            cr_assert_eq(g->ts_us, e->ts_us);
            cr_assert_eq(g->duration_us, e->duration_us);
            cr_assert_eq(g->ok, e->ok);
            cr_assert_eq(g->attempt, e->attempt);
            cr_assert_eq(g->priority, e->priority);
            cr_assert_eq(g->timeout_s, e->timeout_s);
            cr_assert_eq(g->progress, e->progress);
            cr_assert_eq(g->payload_bytes, e->payload_bytes);
            cr_assert_eq(g->n_attrs, e->n_attrs);
            for (unsigned a = 0; a < g->n_attrs; a++) {
                cr_assert_str_eq(g->attrs[a].key, e->attrs[a].key);
                cr_assert_str_eq(g->attrs[a].value, e->attrs[a].value);
            }
            if (v.paired >= 0) {
                trace_event pv;
                cr_assert_eq(trace_get(u, (size_t)v.paired, &pv)->paired, (int32_t)i,
                             "pairs are mutual");
            }
        }
        trace_free(u);
    }
}

/* ---- cost ------------------------------------------------------------------ */

/* Answers that name commands not in the trace (their commands on a stream
 * not read, or not yet read), then commands of the same step and worker:
 * each command's look-up for an answer once looked up, for every free
 * answer, whether it named another command (O(n) each): 2500 + 2500 events
 * (traces.max_events' bound) took ~34 s of the agent's one thread. Now
 * each add is O(n): well under a second, seconds under ASan. */
Test(trace, answers_naming_absent_commands_then_commands_add_in_linear_time, .timeout = 20)
{
    enum { N = 2500 };
    static char ids[2 * N][16], cmds[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "a-%d", i);
        snprintf(cmds[i], sizeof cmds[i], "x-%d", i);
        bm_event e = res_ev(ids[i], 1001 + 2 * i, "w", "s");
        e.cmd = cmds[i];
        cr_assert_eq(trace_add(t, &e, 2 * N, NULL), TRACE_ADD_OK);
    }
    for (int i = 0; i < N; i++) {
        snprintf(ids[N + i], sizeof ids[N + i], "c-%d", i);
        bm_event e = cmd_ev(ids[N + i], 1000 + 2 * i, "w", "s");
        cr_assert_eq(trace_add(t, &e, 2 * N, NULL), TRACE_ADD_OK);
    }
    /* each command took the earliest free answer of its step and worker */
    for (int i = 0; i < N; i += 499)
        assert_pair(ids[N + i], ids[i]);
}

/* ---- an answer names the request it answers --------------------------------- */

/* Two answers name command b (the framework's own timeout and the worker's
 * result), both read before b: the first is guessed onto a, the command of
 * the same step and worker that was there. When b arrives it takes one of
 * them; the other names b, present now, so it answers b only (trace.h) and
 * must leave a, which nobody answered. */
Test(trace, an_answer_guessed_onto_another_command_leaves_it_when_its_own_arrives)
{
    bm_event a = cmd_ev("a", 1000, "img", "resize");
    bm_event b = cmd_ev("b", 1100, "img", "resize");
    bm_event tb = mk(BM_EV_ERROR, "tb", 5100);
    tb.worker = "img";
    tb.step = "resize";
    tb.cmd = "b";
    tb.error_type = "timeout";
    bm_event rb = res_ev("rb", 5200, "img", "resize");
    rb.cmd = "b";
    add_ok(&a);
    add_ok(&tb); /* b not here yet: a guess, a by step + worker */
    add_ok(&rb);
    assert_pair("a", "tb");
    add_ok(&b);
    cr_assert_geq(get("b")->paired, 0, "b is answered");
    cr_assert_eq(get("a")->paired, -1, "a is answered by nobody: %s named b",
                 get("a")->paired >= 0 ? at(t, (size_t)get("a")->paired)->ev.id : "-");
    cr_assert_eq(trace_get_status(t), TRACE_RUNNING, "a runs still (on main: completed)");
}
