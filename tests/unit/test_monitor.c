/*
 * test_monitor.c - lib/monitor: what one kept event counts, with the
 * MultiAgents Framework's semantics: its timeout answers are timeouts (worker
 * stats, event metrics, error patterns) as busmon's own are; a final status
 * closes the transaction (its unanswered commands leave flight, later
 * commands never enter it); an answer after busmon's timeout is late
 * (first outcome wins); compensations are no worker's and never in flight.
 *
 * Events go through a real lib/trace (pairing, late, closed) and then the
 * monitor, as agent/state/state.c does. Time is set by hand.
 */
#include "lib/monitor.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#define T0  1795341600000000LL
#define SEC 1000000LL

static bm_monitor mon;
static trace *tr;

static void setup(void)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    cr_assert_eq(bm_monitor_init(&mon, &cfg, 0), 0);
    tr = trace_new("tx1");
    cr_assert_not_null(tr);
}

static void teardown(void)
{
    trace_free(tr);
    bm_monitor_deinit(&mon);
}

TestSuite(monitor, .init = setup, .fini = teardown);

static bm_event mk(bm_event_type type, const char *id, int64_t ts)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.id = id;
    e.tx = "tx1";
    e.corr = e.cmd = e.worker = e.step = e.source = "";
    e.status = e.message = e.error_type = e.error_message = "";
    e.ts_us = ts;
    e.duration_us = -1;
    e.ok = -1;
    e.attempt = e.priority = -1;
    e.progress = -1;
    return e;
}

static bm_event command(const char *id, const char *worker, int64_t ts)
{
    bm_event e = mk(BM_EV_COMMAND, id, ts);
    e.worker = worker;
    e.step = "s";
    return e;
}

/* A framework result answering command `cmd`: ok, "fail" or "timeout". */
static bm_event answer(const char *id, const char *cmd, const char *worker, const char *how,
                       int64_t ts)
{
    bm_event e = mk(BM_EV_RESULT, id, ts);
    e.cmd = cmd;
    e.worker = worker;
    e.step = "s";
    e.ok = !strcmp(how, "ok");
    if (!strcmp(how, "fail")) {
        e.error_type = "WorkerException";
        e.error_message = "Worker w failed: boom";
    } else if (!strcmp(how, "timeout")) {
        e.error_type = "timeout";
        e.error_message = "Worker timeout after 1s";
    }
    return e;
}

static bm_event status(const char *id, const char *word, int64_t ts)
{
    bm_event e = mk(BM_EV_STATUS, id, ts);
    e.status = word;
    return e;
}

/* Keep e in the trace and feed the monitor, at event time. */
static const trace_event *feed(const bm_event *e)
{
    static trace_event ring[8]; /* a test may hold a few */
    static unsigned next;
    trace_event *added = &ring[next++ % 8];
    cr_assert_eq(trace_add(tr, e, 0, added), TRACE_ADD_OK, "adding %s", e->id);
    bm_monitor_on_event(&mon, tr, added, e->ts_us);
    return added;
}

static worker_totals totals_of(const char *worker)
{
    worker_totals t[8];
    size_t n = worker_stats_totals(mon.workers, t, 8);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, worker)) return t[i];
    cr_assert_fail("no worker %s", worker);
    return t[0];
}

static uint32_t in_flight(const char *worker)
{
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(mon.workers, worker, T0 + 60 * SEC, &s), 0);
    return s.in_flight;
}

/* The total of error pattern `type` (0 when absent). */
static uint64_t pattern_total(const char *type)
{
    bm_error_pattern p[8];
    size_t n = error_patterns_snapshot(mon.errors, T0 + 60 * SEC, p, 8);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].type, type)) return p[i].total;
    return 0;
}

Test(monitor, framework_timeout_is_a_timeout_everywhere)
{
    bm_event c = command("c1", "slow", T0);
    bm_event r = answer("r1", "c1", "slow", "timeout", T0 + SEC);
    feed(&c);
    cr_assert_eq(in_flight("slow"), 1);
    feed(&r);
    worker_totals w = totals_of("slow");
    cr_assert_eq(w.timeouts, 1);
    cr_assert_eq(w.failures, 0);
    cr_assert_eq(w.successes, 0);
    cr_assert_eq(in_flight("slow"), 0);
    cr_assert_eq(event_metrics_total_timeouts(mon.events, BM_EV_RESULT), 1);
    cr_assert_eq(event_metrics_total_failed(mon.events, BM_EV_RESULT), 0);
    cr_assert_eq(pattern_total("timeout"), 1);
    bm_event_window ew[BM_WINDOWS];
    event_metrics_snapshot(mon.events, T0 + SEC, ew);
    cr_assert_eq(ew[0].by_type[1].timeouts, 1);
    cr_assert_eq(ew[0].by_type[1].error, 1, "a timeout is an error (error rate, error_spike)");
    cr_assert_eq(ew[0].by_type[1].success, 0);
}

Test(monitor, failure_is_a_failure)
{
    bm_event c = command("c1", "flaky", T0);
    bm_event r = answer("r1", "c1", "flaky", "fail", T0 + SEC);
    feed(&c);
    feed(&r);
    worker_totals w = totals_of("flaky");
    cr_assert_eq(w.failures, 1);
    cr_assert_eq(w.timeouts, 0);
    cr_assert_eq(event_metrics_total_failed(mon.events, BM_EV_RESULT), 1);
    cr_assert_eq(event_metrics_total_timeouts(mon.events, BM_EV_RESULT), 0);
    cr_assert_eq(pattern_total("WorkerException"), 1);
}

/* busmon's own timeout (the error event state.c adds) counts like the
 * framework's: worker stats, event metrics (error_spike) and patterns. */
Test(monitor, busmon_timeout_counts_everywhere)
{
    bm_event c = command("c1", "w", T0);
    c.corr = "tx1.s";
    feed(&c);
    bm_event to = mk(BM_EV_ERROR, "c1:timeout", T0 + SEC);
    to.cmd = "c1";
    to.worker = "w";
    to.corr = "tx1.s";
    to.source = "busmon";
    to.error_type = "timeout";
    to.error_message = "no answer within 1 s (timeout_seconds; noticed by busmon)";
    to.duration_us = SEC;
    feed(&to);
    worker_totals w = totals_of("w");
    cr_assert_eq(w.timeouts, 1);
    cr_assert_eq(w.failures, 0);
    cr_assert_eq(in_flight("w"), 0);
    cr_assert_eq(event_metrics_total_timeouts(mon.events, BM_EV_ERROR), 1);
    cr_assert_eq(pattern_total("timeout"), 1);
    bm_event_window ew[BM_WINDOWS];
    event_metrics_snapshot(mon.events, T0 + SEC, ew);
    cr_assert_eq(ew[0].by_type[2].error, 1);
    cr_assert_eq(ew[0].by_type[2].timeouts, 1);

    /* the real answer comes after: late, not counted again */
    bm_event r = answer("r1", "c1", "w", "ok", T0 + 3 * SEC);
    r.corr = "tx1.s";
    const trace_event *late = feed(&r);
    cr_assert(late->late);
    w = totals_of("w");
    cr_assert_eq(w.timeouts, 1);
    cr_assert_eq(w.successes, 0, "first outcome wins");
    cr_assert_eq(in_flight("w"), 0);
    cr_assert_eq(event_metrics_total_late(mon.events, BM_EV_RESULT), 1);
    cr_assert_eq(event_metrics_total(mon.events, BM_EV_RESULT), 1);
    event_metrics_snapshot(mon.events, T0 + 3 * SEC, ew);
    cr_assert_eq(ew[0].by_type[1].count, 0, "not an execution");
}

Test(monitor, final_status_takes_commands_out_of_flight)
{
    bm_event c1 = command("c1", "w", T0);
    bm_event c2 = command("c2", "v", T0 + 1);
    feed(&c1);
    feed(&c2);
    cr_assert_eq(in_flight("w"), 1);
    cr_assert_eq(in_flight("v"), 1);
    bm_event run = status("s0", "running", T0 + 2);
    feed(&run);
    cr_assert_eq(in_flight("w"), 1, "running closes nothing");
    bm_event end = status("s1", "compensated", T0 + 3);
    feed(&end);
    cr_assert_eq(in_flight("w"), 0);
    cr_assert_eq(in_flight("v"), 0);
    bm_event again = status("s2", "compensated", T0 + 4); /* cancel_workflow's second status */
    feed(&again);
    /* a command after the end is not awaited; an answer after the end takes
     * nothing out of flight that is not there */
    bm_event c3 = command("c3", "w", T0 + 5);
    feed(&c3);
    cr_assert_eq(in_flight("w"), 0);
    bm_event other = command("o1", "w", T0 + 6);
    trace *u = trace_new("tx2");
    trace_event added_view;
    const trace_event *added = &added_view;
    other.tx = "tx2";
    cr_assert_eq(trace_add(u, &other, 0, &added_view), TRACE_ADD_OK);
    bm_monitor_on_event(&mon, u, added, T0 + 6);
    cr_assert_eq(in_flight("w"), 1, "another transaction's command");
    bm_event r = answer("r1", "c1", "w", "ok", T0 + 7);
    feed(&r);
    cr_assert_eq(in_flight("w"), 1, "the late answer to c1 leaves tx2's command in flight");
    cr_assert_eq(totals_of("w").successes, 1, "an answer after the end still counts");
    /* dropping the closed trace forgets nothing more */
    bm_monitor_on_trace_dropped(&mon, tr);
    cr_assert_eq(in_flight("w"), 1);
    bm_monitor_on_trace_dropped(&mon, u);
    cr_assert_eq(in_flight("w"), 0);
    trace_free(u);
}

Test(monitor, compensations_are_no_workers)
{
    bm_event c = command("c1", "shop", T0);
    bm_event r = answer("r1", "c1", "shop", "ok", T0 + 1);
    feed(&c);
    feed(&r);
    bm_event k = mk(BM_EV_COMPENSATION, "k1", T0 + 2);
    k.worker = "release_inventory";
    k.corr = "tx1.comp.s";
    k.step = "s";
    feed(&k);
    cr_assert_eq(worker_stats_count(mon.workers), 1, "the compensation's name is no worker");
    cr_assert_eq(in_flight("shop"), 0);
    /* someone answers it after all: an execution of that worker, never one
     * it had in flight */
    bm_event ka = answer("ka", "k1", "release_inventory", "ok", T0 + 3);
    ka.corr = "tx1.comp.s";
    const trace_event *added = feed(&ka);
    cr_assert(added->answers_compensation);
    cr_assert_eq(totals_of("release_inventory").successes, 1);
    cr_assert_eq(in_flight("release_inventory"), 0);
    cr_assert_eq(totals_of("shop").successes, 1);
}

/* The worker's figures at T0 + 60 s over the last minute. */
static bm_window_stats last_minute(const char *worker)
{
    bm_worker_snapshot s;
    cr_assert_eq(worker_stats_snapshot_one(mon.workers, worker, T0 + 50 * SEC, &s), 0);
    return s.win[0];
}

/* Feed answer r, then its command c1 to w at T0: w's totals. */
static worker_totals answer_then_command(const bm_event *r)
{
    bm_event c = command("c1", "w", T0);
    feed(r);
    feed(&c);
    return totals_of("w");
}

/* An answer read before its command (several streams, pub/sub,
 * redelivery) is one execution when it arrives; its duration is known
 * when the command arrives, and counts then, once. */
Test(monitor, answer_before_its_command_gets_its_duration)
{
    bm_event r = answer("r1", "c1", "w", "ok", T0 + 250000);
    bm_event c = command("c1", "w", T0);
    feed(&r);
    cr_assert_eq(totals_of("w").successes, 1);
    cr_assert_eq(totals_of("w").duration_count, 0, "no command yet: no duration");
    feed(&c);
    worker_totals w = totals_of("w");
    cr_assert_eq(w.successes, 1, "one execution");
    cr_assert_eq(w.duration_count, 1, "its duration, once the command is here");
    cr_assert_float_eq(w.duration_sum_us, 250000.0, 0.5);
    bm_window_stats m = last_minute("w");
    cr_assert_eq(m.executions, 1);
    cr_assert_float_eq(m.avg_us, 250000.0, 2500.0, "avg %g", m.avg_us);
    cr_assert_float_eq(m.p95_us, 250000.0, 2500.0, "p95 %g", m.p95_us);
    cr_assert_eq(in_flight("w"), 0);
}

/* The event metrics' command -> answer latency, the same. */
Test(monitor, answer_before_its_command_gets_its_latency)
{
    bm_event r = answer("r1", "c1", "", "ok", T0 + 250000);
    bm_event c = command("c1", "w", T0);
    feed(&r);
    feed(&c);
    bm_event_window ew[BM_WINDOWS];
    event_metrics_snapshot(mon.events, T0 + 50 * SEC, ew);
    cr_assert_eq(ew[0].by_type[1].count, 1, "one result");
    cr_assert_float_eq(ew[0].avg_latency_us, 250000.0, 2500.0, "latency %g", ew[0].avg_latency_us);
    cr_assert_float_eq(ew[0].p95_latency_us, 250000.0, 2500.0);
}

Test(monitor, failure_before_its_command_gets_its_duration)
{
    bm_event r = answer("r1", "c1", "w", "fail", T0 + 40000);
    worker_totals w = answer_then_command(&r);
    cr_assert_eq(w.failures, 1);
    cr_assert_eq(w.successes, 0);
    cr_assert_eq(w.duration_count, 1);
    cr_assert_float_eq(w.duration_sum_us, 40000.0, 0.5);
    cr_assert_eq(pattern_total("WorkerException"), 1, "one error, once");
}

/* A duration the worker reported counted when its answer came: its
 * command adds nothing. */
Test(monitor, reported_duration_counts_once)
{
    bm_event r = answer("r1", "c1", "w", "ok", T0 + 250000);
    r.duration_us = 100000;
    worker_totals w = answer_then_command(&r);
    cr_assert_eq(w.successes, 1);
    cr_assert_eq(w.duration_count, 1);
    cr_assert_float_eq(w.duration_sum_us, 100000.0, 0.5);
    cr_assert_eq(last_minute("w").executions, 1);
}

/* An answer without a worker takes its command's: read before it, it was
 * nobody's execution; its command makes it one, with its duration. */
Test(monitor, workerless_answer_before_its_command_counts_for_its_worker)
{
    bm_event r = answer("r1", "c1", "", "timeout", T0 + 2 * SEC);
    bm_event c = command("c1", "w", T0);
    feed(&r);
    feed(&c);
    worker_totals w = totals_of("w");
    cr_assert_eq(w.timeouts, 1);
    cr_assert_eq(w.successes + w.failures, 0);
    cr_assert_eq(w.duration_count, 1);
    cr_assert_float_eq(w.duration_sum_us, 2.0 * SEC, 0.5);
    bm_window_stats m = last_minute("w");
    cr_assert_eq(m.executions, 1);
    cr_assert_eq(m.timeouts, 1);
    cr_assert_eq(in_flight("w"), 0);
}

/* An answer guessed onto another command (step + worker) before its own
 * came got a duration with the guess; its own command moves it (lib/trace)
 * but counts no second duration or execution. */
Test(monitor, answer_moved_to_its_own_command_counts_once)
{
    bm_event r = answer("r1", "c2", "w", "ok", T0 + 3 * SEC);
    bm_event c1 = command("c1", "w", T0);
    bm_event c2 = command("c2", "w", T0 + 2 * SEC);
    feed(&r);
    feed(&c1);
    cr_assert_eq(totals_of("w").duration_count, 1, "the guess gives it a duration");
    const trace_event *added = feed(&c2);
    cr_assert_geq(added->paired, 0, "r1 answers c2 now");
    worker_totals w = totals_of("w");
    cr_assert_eq(w.successes, 1);
    cr_assert_eq(w.duration_count, 1, "counted once");
    cr_assert_eq(last_minute("w").executions, 1);
    cr_assert_eq(in_flight("w"), 0, "neither command entered flight: each came answered");
}

Test(monitor, event_outside_a_trace)
{
    bm_event c = command("c1", "w", T0);
    trace_event te = {.ev = c, .duration_us = -1, .paired = -1};
    bm_monitor_on_event(&mon, NULL, &te, T0);
    cr_assert_eq(in_flight("w"), 1);
}

/* Count how many business metric series a monitor shows over 1m. */
static void count_series(const custom_metrics_stat *s, void *arg)
{
    (void)s;
    (*(int *)arg)++;
}

static int series_of(const bm_monitor *m)
{
    int n = 0;
    custom_metrics_foreach(m->metrics, 0, NULL, T0, count_series, &n);
    return n;
}

static void sum_count(const custom_metrics_stat *s, void *arg)
{
    *(uint64_t *)arg += s->count;
}

/* Metric events are in the monitor's save ("metrics"), restored and merged;
 * a save made before metric events (no "metrics" key) still loads. */
Test(monitor, metrics_saved_loaded_merged_and_old_saves_load)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = BM_EV_CUSTOM;
    e.metric_name = "order_value";
    e.metric_value = 10;
    e.ts_us = T0;
    cr_assert_eq(bm_monitor_on_metric(&mon, &e, T0), CUSTOM_METRICS_ADDED);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    cr_assert_eq(bm_monitor_save(&mon, &pk), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);

    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    bm_monitor back;
    cr_assert_eq(bm_monitor_init(&back, &cfg, 0), 0);
    char err[200] = "";
    cr_assert_eq(bm_monitor_load(&back, &u.data, err, sizeof err), 0, "%s", err);
    cr_assert_eq(series_of(&back), 1);
    cr_assert_eq(bm_monitor_merge(&back, &mon), 0);
    uint64_t count = 0;
    custom_metrics_foreach(back.metrics, 0, NULL, T0, sum_count, &count);
    cr_assert_eq(count, 2, "the merge adds the other agent's observation");

    /* the same save without its "metrics" member: an older agent's */
    msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type == MSGPACK_OBJECT_STR && m->ptr[i].key.via.str.size == 7 &&
            !memcmp(m->ptr[i].key.via.str.ptr, "metrics", 7)) {
            m->ptr[i] = m->ptr[m->size - 1];
            m->size--;
        }
    bm_monitor old;
    cr_assert_eq(bm_monitor_init(&old, &cfg, 0), 0);
    cr_assert_eq(bm_monitor_load(&old, &u.data, err, sizeof err), 0, "%s", err);
    cr_assert_eq(series_of(&old), 0);
    bm_monitor_deinit(&old);
    bm_monitor_deinit(&back);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* The rollup's summary: the average duration is over the workers with a
 * known duration; one whose answers carry none (no duration reported, its
 * command never seen) does not pull it down as 0 ms. */
Test(monitor, summary_duration_is_over_workers_with_durations)
{
    bm_event c = command("c1", "timed", T0);
    feed(&c);
    bm_event r = answer("r1", "c1", "timed", "ok", T0 + 100 * 1000);
    r.duration_us = 100 * 1000;
    feed(&r);
    bm_event u = answer("r2", "never-seen", "untimed", "ok", T0 + 200 * 1000);
    feed(&u);
    cr_assert_eq(totals_of("untimed").successes, 1, "the untimed answer is an execution");
    cr_assert_eq(totals_of("untimed").duration_count, 0, "of no known duration");
    bm_rollup ro;
    cr_assert_eq(bm_monitor_rollup(&mon, T0 + SEC, 10 * SEC, "a", &ro), 0);
    cr_expect_float_eq(ro.avg_success_rate, 1.0, 1e-9);
    cr_expect_float_eq(ro.avg_duration_us, 100 * 1000.0, 1.0, "avg %g us", ro.avg_duration_us);
}
