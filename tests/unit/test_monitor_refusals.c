/*
 * test_monitor_refusals.c - lib/monitor: every event whose worker the full
 * worker table refuses is counted in workers_refused_events (what
 * busmon_workers_refused_total and the "worker table full" warning read),
 * not only commands and answers: a status event naming a worker, and an
 * answer that came after busmon's timeout (late), are refused events too.
 *
 * Events are fed outside a trace, as bm_monitor_on_event takes them; time is
 * set by hand.
 */
#include "lib/monitor.h"

#include <criterion/criterion.h>
#include <string.h>

#define T0 1795341600000000LL

static bm_monitor mon;

static void setup(void)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    cfg.max_workers = 1;
    cr_assert_eq(bm_monitor_init(&mon, &cfg, 0), 0);
}

static void teardown(void)
{
    bm_monitor_deinit(&mon);
}

TestSuite(monitor_refusals, .init = setup, .fini = teardown);

static void feed(bm_event_type type, const char *id, const char *worker, int late)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.id = id;
    e.tx = "tx1";
    e.corr = e.cmd = e.step = e.source = "";
    e.status = e.message = e.error_type = e.error_message = "";
    e.worker = worker;
    e.ts_us = T0;
    e.duration_us = -1;
    e.ok = type == BM_EV_RESULT ? 1 : -1;
    e.attempt = e.priority = -1;
    e.progress = -1;
    if (type == BM_EV_STATUS) e.status = "running";
    trace_event te = {.ev = e, .duration_us = -1, .paired = -1, .late = late};
    bm_monitor_on_event(&mon, NULL, &te, T0);
}

Test(monitor_refusals, every_refused_event_is_counted)
{
    feed(BM_EV_COMMAND, "c1", "w", 0);
    cr_assert_eq(worker_stats_count(mon.workers), 1);
    cr_assert_eq(mon.workers_refused_events, 0);

    feed(BM_EV_COMMAND, "c2", "x", 0); /* counted before, too */
    cr_assert_eq(mon.workers_refused_events, 1);

    feed(BM_EV_STATUS, "s1", "y", 0);
    cr_assert_eq(worker_stats_refused(mon.workers), 2, "the table refused y");
    cr_assert_eq(mon.workers_refused_events, 2, "a status naming a refused worker is counted");

    feed(BM_EV_RESULT, "r1", "z", 1);
    cr_assert_eq(worker_stats_refused(mon.workers), 3, "the table refused z");
    cr_assert_eq(mon.workers_refused_events, 3, "a late answer of a refused worker is counted");

    /* a worker the table holds: nothing refused */
    feed(BM_EV_STATUS, "s2", "w", 0);
    feed(BM_EV_RESULT, "r2", "w", 1);
    cr_assert_eq(mon.workers_refused_events, 3);
    cr_assert_eq(worker_stats_count(mon.workers), 1);
}
