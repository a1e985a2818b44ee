/*
 * test_state_restore.c - the agent's restore of its checkpoint
 * (agent/state/state.c, bm_state_load_checkpoint) after a configuration
 * change that makes the monitor's windows another shape
 * (worker_monitoring.performance_window_minutes): the worker figures
 * cannot be restored, but the rest of the checkpoint — the commands
 * awaiting an answer and their timeouts — must not be lost with them.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/clock.h"
#include "agent/state/state.h"
#include "lib/checkpoint.h"
#include "lib/deadlines.h"

#define SEC_US 1000000LL

static bm_state *state_with_perf_window(int64_t perf_window_us)
{
    bm_state_opts o = {0};
    worker_stats_config_defaults(&o.workers);
    o.workers.perf_window_us = perf_window_us;
    o.max_timeouts = 1000;
    bm_state *st = bm_state_new(&o, NULL);
    cr_assert_not_null(st);
    return st;
}

Test(state_restore, other_window_shapes_keep_the_commands_awaited)
{
    int64_t now = bm_now_us();
    /* written by an agent whose performance window was 60 min */
    worker_stats_config wcfg;
    worker_stats_config_defaults(&wcfg);
    bm_monitor mon;
    cr_assert_eq(bm_monitor_init(&mon, &wcfg, 0), 0);
    cr_assert_eq(worker_stats_answer(mon.workers, "w1", BM_OUTCOME_SUCCESS, 1000, "", "", 0, now),
                 0);
    deadlines *dl = deadlines_new(1000);
    cr_assert_eq(deadlines_add(dl, "tx-1", "cmd-1", now + 60 * SEC_US, 60 * SEC_US), 0);
    cr_assert_eq(deadlines_add(dl, "tx-2", "cmd-2", now + 60 * SEC_US, 60 * SEC_US), 0);
    bm_checkpoint *c = calloc(1, sizeof *c);
    snprintf(c->agent, sizeof c->agent, "c1");
    c->ts_us = now;
    c->n_streams = 1;
    snprintf(c->streams[0].name, sizeof c->streams[0].name, "s1");
    snprintf(c->streams[0].last_id, sizeof c->streams[0].last_id, "5-0");
    c->monitor = &mon;
    c->deadlines = dl;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    free(c);

    /* read by one whose performance window is now 30 min */
    bm_state *st = state_with_perf_window(30 * 60 * SEC_US);
    const char *streams[] = {"s1"};
    char ids[1][BM_STREAM_ID_MAX];
    char who[64] = "", err[256] = "";
    int64_t ts = 0;
    int rc = bm_state_load_checkpoint(st, NULL, NULL, sb.data, sb.size, streams, ids, 1, who,
                                      sizeof who, &ts, err, sizeof err);
    cr_assert_eq(rc, 0, "restored but for the monitor: %s", err);
    bm_state_stats stats;
    bm_state_get_stats(st, &stats);
    cr_assert_eq(stats.timeouts_awaited, 2, "the commands awaited are back");
    cr_assert_str_eq(ids[0], "5-0", "what the checkpoint covers is known");
    cr_assert_str_eq(who, "c1");
    cr_assert(strstr(err, "window"), "err says what was left out: [%s]", err);
    cr_assert_eq(worker_stats_count(bm_state_monitor(st)->workers), 0,
                 "the workers' figures of other windows are not taken");

    bm_state_free(st);
    msgpack_sbuffer_destroy(&sb);
    deadlines_free(dl);
    bm_monitor_deinit(&mon);
}

/* A stream name may be 256 characters (the configuration's bound): the
 * checkpoint keeps it whole, so the restore knows how far that stream was
 * applied (a cut name matched no stream: its pending entries were applied
 * a second time after a crash). */
Test(state_restore, a_stream_of_the_longest_name_keeps_its_id)
{
    char name[257];
    memset(name, 's', 256);
    name[256] = '\0';
    const char *streams[] = {"short", name};
    char ids[2][BM_STREAM_ID_MAX] = {"3-0", "7-0"};
    bm_state *st = state_with_perf_window(0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_state_encode_checkpoint(st, "c1", NULL, NULL, streams,
                                            (const char(*)[BM_STREAM_ID_MAX])ids, 2, bm_now_us(),
                                            &sb),
                 0);
    bm_state *back = state_with_perf_window(0);
    char out[2][BM_STREAM_ID_MAX], who[64], err[256] = "";
    int64_t ts;
    cr_assert_eq(bm_state_load_checkpoint(back, NULL, NULL, sb.data, sb.size, streams, out, 2, who,
                                          sizeof who, &ts, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(out[0], "3-0");
    cr_assert_str_eq(out[1], "7-0", "the 256-character stream's id is restored");
    bm_state_free(st);
    bm_state_free(back);
    msgpack_sbuffer_destroy(&sb);
}
