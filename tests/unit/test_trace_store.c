/*
 * test_trace_store.c - lib/trace_store: find-or-create, dedup and truncation
 * counters, LRU eviction (which one goes), retention with injected time and
 * its per-call bound, stats, heap figures, growth past the initial table.
 *
 * Events are built by hand; time is passed in by hand.
 */
#include "lib/trace_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "event_fixture.h"

static trace_store *s;

static void teardown(void)
{
    trace_store_free(s);
    s = NULL;
}

TestSuite(trace_store, .fini = teardown);

static bm_event mk(bm_event_type type, const char *tx, const char *id, int64_t ts_us)
{
    return fixture_event(type, tx, id, ts_us, "", "");
}

static trace_store *mk_store(size_t max_tx, size_t max_events, int64_t retention_us)
{
    trace_store_limits lim = {max_tx, max_events, retention_us};
    trace_store *st = trace_store_new(&lim);
    cr_assert_not_null(st);
    return st;
}

static void apply_ok(const char *tx, const char *id, int64_t now_us)
{
    bm_event e = mk(BM_EV_CUSTOM, tx, id, now_us);
    cr_assert_eq(trace_store_apply(s, &e, now_us, NULL, NULL), TRACE_STORE_APPLIED, "%s/%s", tx,
                 id);
}

static trace_store_stats stats(void)
{
    trace_store_stats st;
    memset(&st, 0xAB, sizeof st);
    trace_store_get_stats(s, &st);
    return st;
}

static void assert_stats(uint64_t applied, uint64_t dup, uint64_t trunc, uint64_t evicted,
                         uint64_t expired, size_t transactions, size_t events)
{
    trace_store_stats st = stats();
    cr_assert_eq(st.applied, applied, "applied %llu", (unsigned long long)st.applied);
    cr_assert_eq(st.duplicates, dup, "duplicates %llu", (unsigned long long)st.duplicates);
    cr_assert_eq(st.truncated, trunc, "truncated %llu", (unsigned long long)st.truncated);
    cr_assert_eq(st.evicted, evicted, "evicted %llu", (unsigned long long)st.evicted);
    cr_assert_eq(st.expired, expired, "expired %llu", (unsigned long long)st.expired);
    cr_assert_eq(st.nomem, 0);
    cr_assert_eq(st.transactions, transactions, "transactions %zu", st.transactions);
    cr_assert_eq(st.events, events, "events %zu", st.events);
}

Test(trace_store, new_free)
{
    s = trace_store_new(NULL);
    cr_assert_not_null(s);
    assert_stats(0, 0, 0, 0, 0, 0, 0);
    cr_assert_null(trace_store_get(s, "nope"));
    cr_assert_gt(trace_store_heap_bytes(s), 0);
    trace_store_free(NULL);
}

Test(trace_store, apply_creates_and_finds)
{
    s = trace_store_new(NULL);
    bm_event c = mk(BM_EV_COMMAND, "tx-a", "c1", 100);
    c.worker = "w";
    c.step = "s";
    trace_event added_view;
    const trace_event *added = &added_view;
    const trace *tr = NULL;
    cr_assert_eq(trace_store_apply(s, &c, 1000, &added_view, &tr), TRACE_STORE_APPLIED);
    cr_assert_not_null(tr);
    cr_assert_eq(tr, trace_store_get(s, "tx-a"));
    cr_assert_str_eq(trace_tx(tr), "tx-a");
    trace_event first;
    cr_assert_str_eq(added->ev.id, trace_get(tr, 0, &first)->ev.id);
    cr_assert_str_eq(added->ev.id, "c1");

    bm_event r = mk(BM_EV_RESULT, "tx-a", "r1", 350);
    r.step = "s";
    r.ok = 1;
    cr_assert_eq(trace_store_apply(s, &r, 1001, &added_view, &tr), TRACE_STORE_APPLIED);
    cr_assert_eq(added->paired, 0);
    cr_assert_eq(added->duration_us, 250);
    cr_assert_str_eq(added->ev.worker, "w");
    cr_assert_eq(trace_count(tr), 2);
    cr_assert_eq(trace_get_status(tr), TRACE_COMPLETED);

    bm_event o = mk(BM_EV_COMMAND, "tx-b", "c1", 100); /* same id, other tx: not a duplicate */
    const trace *tb = NULL;
    cr_assert_eq(trace_store_apply(s, &o, 1002, NULL, &tb), TRACE_STORE_APPLIED);
    cr_assert_neq(tb, tr);
    cr_assert_eq(tb, trace_store_get(s, "tx-b"));
    cr_assert_null(trace_store_get(s, "tx-"));
    cr_assert_null(trace_store_get(s, "tx-aa"));
    assert_stats(3, 0, 0, 0, 0, 2, 3);
}

Test(trace_store, duplicates_counted)
{
    s = trace_store_new(NULL);
    apply_ok("t1", "e1", 10);
    bm_event e = mk(BM_EV_CUSTOM, "t1", "e1", 10);
    trace_event added, sentinel;
    memset(&sentinel, 0x5a, sizeof sentinel);
    added = sentinel;
    const trace *tr = NULL;
    size_t heap = trace_store_heap_bytes(s);
    cr_assert_eq(trace_store_apply(s, &e, 11, &added, &tr), TRACE_STORE_DUPLICATE);
    cr_assert_eq(memcmp(&added, &sentinel, sizeof added), 0, "added_out untouched on a duplicate");
    cr_assert_eq(tr, trace_store_get(s, "t1"));
    cr_assert_eq(trace_store_apply(s, &e, 12, NULL, NULL), TRACE_STORE_DUPLICATE);
    cr_assert_eq(trace_store_heap_bytes(s), heap);
    assert_stats(1, 2, 0, 0, 0, 1, 1);
    cr_assert_eq(trace_count(tr), 1);
}

Test(trace_store, truncated_past_max_events)
{
    s = mk_store(0, 2, 0);
    apply_ok("t1", "e1", 1);
    apply_ok("t1", "e2", 2);
    bm_event e = mk(BM_EV_CUSTOM, "t1", "e3", 3);
    const trace *tr = NULL;
    cr_assert_eq(trace_store_apply(s, &e, 3, NULL, &tr), TRACE_STORE_TRUNCATED);
    cr_assert_eq(tr, trace_store_get(s, "t1"));
    cr_assert_eq(trace_count(tr), 2);
    bm_event d = mk(BM_EV_CUSTOM, "t1", "e1", 1);
    cr_assert_eq(trace_store_apply(s, &d, 4, NULL, NULL), TRACE_STORE_DUPLICATE);
    apply_ok("t2", "e3", 5); /* other traces are not affected */
    assert_stats(3, 1, 1, 0, 0, 2, 3);
}

/* A full trace is still busy: an event it refuses (counted as truncated,
 * not kept) refreshes its recency, so eviction and retention take idle
 * traces, not it. */
Test(trace_store, refused_event_keeps_a_full_trace_recent)
{
    s = mk_store(2, 1, 100);
    apply_ok("full", "f1", 10);
    apply_ok("idle", "i1", 20);
    bm_event e = mk(BM_EV_CUSTOM, "full", "f2", 30);
    cr_assert_eq(trace_store_apply(s, &e, 30, NULL, NULL), TRACE_STORE_TRUNCATED);
    apply_ok("new", "n1", 40); /* the least recently updated is idle now */
    cr_assert_not_null(trace_store_get(s, "full"), "a busy full trace is not evicted");
    cr_assert_null(trace_store_get(s, "idle"));
    assert_stats(3, 0, 1, 1, 0, 2, 2);
    /* retention: refused at 130, the trace is 10 us old at 140, not 130 */
    bm_event g = mk(BM_EV_CUSTOM, "full", "f3", 130);
    cr_assert_eq(trace_store_apply(s, &g, 130, NULL, NULL), TRACE_STORE_TRUNCATED);
    cr_assert_eq(trace_store_sweep(s, 145, 0), 1, "only new (40) is past 145 - 100");
    cr_assert_not_null(trace_store_get(s, "full"), "a busy full trace does not expire");
    cr_assert_null(trace_store_get(s, "new"));
    assert_stats(3, 0, 2, 1, 1, 1, 1);
}

Test(trace_store, default_max_events_is_512)
{
    s = trace_store_new(NULL);
    char id[16];
    for (int i = 0; i < 512; i++) {
        snprintf(id, sizeof id, "e%d", i);
        apply_ok("big", id, i);
    }
    bm_event e = mk(BM_EV_CUSTOM, "big", "one-more", 600);
    cr_assert_eq(trace_store_apply(s, &e, 600, NULL, NULL), TRACE_STORE_TRUNCATED);
    assert_stats(512, 0, 1, 0, 0, 1, 512);
}

Test(trace_store, evicts_least_recently_updated)
{
    s = mk_store(3, 0, 0);
    apply_ok("a", "a1", 1);
    apply_ok("b", "b1", 2);
    apply_ok("c", "c1", 3);
    apply_ok("a", "a2", 4); /* a is now the most recent: b is the oldest */
    /* a duplicate is not an update: it does not save c */
    bm_event dup = mk(BM_EV_CUSTOM, "b", "b1", 5);
    cr_assert_eq(trace_store_apply(s, &dup, 5, NULL, NULL), TRACE_STORE_DUPLICATE);
    apply_ok("d", "d1", 6);
    cr_assert_null(trace_store_get(s, "b"));
    cr_assert_not_null(trace_store_get(s, "a"));
    cr_assert_not_null(trace_store_get(s, "c"));
    cr_assert_not_null(trace_store_get(s, "d"));
    assert_stats(5, 1, 0, 1, 0, 3, 4);
    apply_ok("e", "e1", 7); /* next oldest: c */
    cr_assert_null(trace_store_get(s, "c"));
    cr_assert_not_null(trace_store_get(s, "a"));
    assert_stats(6, 1, 0, 2, 0, 3, 4);
    apply_ok("b", "b1", 8); /* b comes back as a new trace: its old events are gone */
    cr_assert_null(trace_store_get(s, "a"));
    cr_assert_eq(trace_count(trace_store_get(s, "b")), 1);
    assert_stats(7, 1, 0, 3, 0, 3, 3);
}

Test(trace_store, bound_holds_over_many_transactions)
{
    s = mk_store(100, 0, 0);
    char tx[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(tx, sizeof tx, "tx-%04d", i);
        apply_ok(tx, "c", i);
        apply_ok(tx, "r", i);
    }
    assert_stats(2000, 0, 0, 900, 0, 100, 200);
    for (int i = 0; i < 1000; i++) {
        snprintf(tx, sizeof tx, "tx-%04d", i);
        const trace *tr = trace_store_get(s, tx);
        if (i < 900)
            cr_assert_null(tr, "%s", tx);
        else
            cr_assert(tr && trace_count(tr) == 2, "%s", tx);
    }
}

Test(trace_store, sweep_drops_only_old_oldest_first_bounded)
{
    s = mk_store(0, 0, 100);
    apply_ok("a", "a1", 10);
    apply_ok("b", "b1", 20);
    apply_ok("c", "c1", 30);
    apply_ok("d", "d1", 140);
    apply_ok("a", "a2", 150); /* a updated: no longer old */
    /* cutoff 160 - 100 = 60: b and c are old, a and d are not */
    cr_assert_eq(trace_store_sweep(s, 160, 1), 1);
    cr_assert_null(trace_store_get(s, "b"), "the oldest goes first");
    cr_assert_not_null(trace_store_get(s, "c"));
    assert_stats(5, 0, 0, 0, 1, 3, 4);
    cr_assert_eq(trace_store_sweep(s, 160, 0), 1);
    cr_assert_null(trace_store_get(s, "c"));
    cr_assert_not_null(trace_store_get(s, "a"));
    cr_assert_not_null(trace_store_get(s, "d"));
    assert_stats(5, 0, 0, 0, 2, 2, 3);
    cr_assert_eq(trace_store_sweep(s, 160, 0), 0);
    cr_assert_eq(trace_store_sweep(s, 241, 0), 1, "d (140) < 241 - 100; a (150) is not");
    cr_assert_null(trace_store_get(s, "d"));
    cr_assert_not_null(trace_store_get(s, "a"));
    cr_assert_eq(trace_store_sweep(s, 250, 0), 0, "a at exactly the cutoff stays");
    cr_assert_eq(trace_store_sweep(s, 251, 5), 1);
    cr_assert_null(trace_store_get(s, "a"));
    assert_stats(5, 0, 0, 0, 4, 0, 0);
    cr_assert_eq(trace_store_sweep(s, 1000000, 0), 0);
    apply_ok("a", "a1", 1000); /* the store works after it emptied */
    assert_stats(6, 0, 0, 0, 4, 1, 1);
}

Test(trace_store, default_retention_is_24h)
{
    s = trace_store_new(NULL);
    const int64_t day = 24LL * 3600 * 1000000;
    apply_ok("a", "a1", 1000);
    cr_assert_eq(trace_store_sweep(s, 1000 + day, 0), 0);
    cr_assert_eq(trace_store_sweep(s, 1001 + day, 0), 1);
    assert_stats(1, 0, 0, 0, 1, 0, 0);
}

Test(trace_store, heap_bytes_grow_and_shrink)
{
    s = mk_store(4, 0, 100);
    size_t h0 = trace_store_heap_bytes(s);
    apply_ok("a", "a1", 10);
    size_t h1 = trace_store_heap_bytes(s);
    size_t ha1 = trace_heap_bytes(trace_store_get(s, "a"));
    cr_assert_gt(h1, h0 + sizeof(trace_event) / 8); /* the trace, its room, its record */
    apply_ok("a", "a2", 11);
    size_t h2 = trace_store_heap_bytes(s);
    cr_assert_geq(h2, h1, "a second event fits the trace's room, or grows it");
    cr_assert_eq(h2 - h1, trace_heap_bytes(trace_store_get(s, "a")) - ha1,
                 "the store's figure moves with the trace's");
    apply_ok("b", "b1", 12);
    size_t h3 = trace_store_heap_bytes(s);
    cr_assert_gt(h3, h2);
    cr_assert_eq(trace_store_sweep(s, 1000, 0), 2);
    size_t h4 = trace_store_heap_bytes(s);
    cr_assert_lt(h4, h1, "traces freed: back to the table alone");
    /* the same cycle again lands on the same figures: nothing leaks */
    apply_ok("a", "a1", 2000);
    apply_ok("a", "a2", 2001);
    apply_ok("b", "b1", 2002);
    cr_assert_eq(trace_store_heap_bytes(s), h3);
    cr_assert_eq(trace_store_sweep(s, 5000, 0), 2);
    cr_assert_eq(trace_store_heap_bytes(s), h4);
}

Test(trace_store, heap_bytes_include_traces)
{
    s = mk_store(16, 0, 0);
    size_t h0 = trace_store_heap_bytes(s);
    apply_ok("a", "a1", 10);
    apply_ok("a", "a2", 11);
    apply_ok("b", "b1", 12);
    size_t traces =
        trace_heap_bytes(trace_store_get(s, "a")) + trace_heap_bytes(trace_store_get(s, "b"));
    size_t table = trace_store_heap_bytes(s) - traces;
    cr_assert_gt(table, h0, "the entry array was allocated");
    cr_assert_lt(table, h0 + 16 * 64 + 64, "and is small");
}

/* What the drop callback saw: the tx and event count of each dropped trace. */
static char dropped_log[256];

static void record_drop(const trace *t, void *arg)
{
    int *calls = arg;
    (*calls)++;
    char one[32];
    snprintf(one, sizeof one, "%s:%zu ", trace_tx(t), trace_count(t));
    strncat(dropped_log, one, sizeof dropped_log - strlen(dropped_log) - 1);
}

Test(trace_store, drop_callback_sees_evicted_and_expired_traces_whole)
{
    s = mk_store(2, 0, 100);
    int calls = 0;
    dropped_log[0] = '\0';
    trace_store_set_drop_cb(s, record_drop, &calls);
    apply_ok("a", "a1", 10);
    apply_ok("a", "a2", 11);
    apply_ok("b", "b1", 20);
    cr_assert_eq(calls, 0, "nothing dropped yet");
    apply_ok("c", "c1", 30); /* evicts a, with its two events */
    cr_assert_eq(calls, 1);
    cr_assert_str_eq(dropped_log, "a:2 ");
    cr_assert_eq(trace_store_sweep(s, 125, 0), 1); /* b (20) < 125 - 100 */
    cr_assert_str_eq(dropped_log, "a:2 b:1 ");
    trace_store_set_drop_cb(s, NULL, NULL);
    cr_assert_eq(trace_store_sweep(s, 1000, 0), 1);
    cr_assert_eq(calls, 2, "a cleared callback is not called");
    assert_stats(4, 0, 0, 1, 2, 0, 0);
}

Test(trace_store, new_traces_get_the_room_their_records_need)
{
    /* 1024 transactions of a command + a result with long ids: their
     * records outgrow trace_new's room, so the store learns a bigger one */
    s = mk_store(5000, 0, 0);
    char tx[32], id[80];
    for (int i = 0; i < 1100; i++) {
        snprintf(tx, sizeof tx, "tx-%04d", i);
        for (int k = 0; k < 2; k++) {
            snprintf(id, sizeof id, "event-%04d-%d-with-an-id-longer-than-a-uuid-is-xxxxxxxxxx", i,
                     k);
            bm_event e = mk(k ? BM_EV_RESULT : BM_EV_COMMAND, tx, id, 10 + k);
            e.worker = "w";
            e.step = "s";
            cr_assert_eq(trace_store_apply(s, &e, 10 + k, NULL, NULL), TRACE_STORE_APPLIED);
        }
    }
    const trace *early = trace_store_get(s, "tx-0000"), *late = trace_store_get(s, "tx-1099");
    cr_assert_not_null(early);
    cr_assert_not_null(late);
    cr_assert_eq(trace_pool_bytes(early), trace_pool_bytes(late), "same shape");
    cr_assert_gt(trace_pool_bytes(late), 88, "more than trace_new's room");
    cr_assert_lt(trace_heap_bytes(late), trace_heap_bytes(early),
                 "after learning: one allocation, not a room and a pool (%zu vs %zu)",
                 trace_heap_bytes(late), trace_heap_bytes(early));
}

static void collect_tx(const trace *t, void *arg)
{
    char *out = arg;
    strcat(out, trace_tx(t));
}

Test(trace_store, foreach_goes_least_recently_updated_first)
{
    /* the header's order: the checkpoint writes the pending commands in it
     * and applies them back in it, so the restored store must evict the
     * same transaction first as the one it was saved from */
    s = mk_store(10, 0, 0);
    apply_ok("a", "a1", 1);
    apply_ok("b", "b1", 2);
    apply_ok("c", "c1", 3);
    apply_ok("a", "a2", 4);
    char order[16] = "";
    trace_store_foreach(s, collect_tx, order);
    cr_assert_str_eq(order, "bca");
}
