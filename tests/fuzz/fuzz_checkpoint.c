/*
 * fuzz_checkpoint.c - libFuzzer target for bm_checkpoint_decode
 * (lib/checkpoint.h).
 *
 * The input is decoded twice into fresh targets: a monitor, deadlines and
 * an alert engine with the built-in rules, once in the default
 * configuration and once with tight bounds (2 workers, 1 pattern, 1
 * deadline, 1 alert instance, a history of 2); with the default limits, or
 * at most 4 KiB and 512 objects when the input's size is 3 modulo 4.
 * A refusal must name a status and leave the targets as they were. A
 * checkpoint that loads must then
 *   - give rollups, health judgements and alert evaluations (JSON and
 *     msgpack of the rollup too) at a fixed time and an hour later,
 *   - encode again, and that encoding decode into fresh targets and encode
 *     to the same bytes (save writes exactly what load reads),
 *   - merge into a copy of itself.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, or with
 * standalone_main.c to replay a corpus without clang (ctest does).
 */
#include "lib/checkpoint.h"
#include "proto/rollup.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW_US  (1700000000LL * 1000000) /* times of the checks: never the input's */
#define HOUR_US (3600LL * 1000000)

typedef struct {
    bm_monitor mon;
    deadlines *dl;
    alerts *al;
    baselines *bl;
    bm_checkpoint c;
} state;

static int state_init(state *s, int tight)
{
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    if (tight) cfg.max_workers = 2;
    alerts_limits lim = {.max_instances = tight ? 1 : 0, .history = tight ? 2 : 0};
    memset(s, 0, sizeof *s);
    if (bm_monitor_init(&s->mon, &cfg, tight ? 1 : 0) != 0) return -1;
    s->dl = deadlines_new(tight ? 1 : 0);
    s->al = alerts_new(&lim);
    baseline_config bc;
    baseline_config_defaults(&bc);
    if (tight) bc.max_keys = 2;
    s->bl = baselines_new(&bc);
    if (!s->dl || !s->al || !s->bl || alerts_add_builtins(s->al) != 0) return -1;
    s->c.baselines = s->bl;
    s->c.monitor = &s->mon;
    s->c.deadlines = s->dl;
    s->c.alerts = s->al;
    s->c.keep_claimed = 1; /* "claimed" kept, so it is encoded again and compared too */
    return 0;
}

static void state_free(state *s)
{
    bm_monitor_deinit(&s->mon);
    deadlines_free(s->dl);
    alerts_free(s->al);
    baselines_free(s->bl);
    free(s->c.claimed);
}

/* Rollups, judgements and alert evaluations on whatever was loaded. */
static void exercise(state *s)
{
    for (int k = 0; k < 2; k++) {
        int64_t now = NOW_US + k * HOUR_US;
        worker_stats_evaluate(s->mon.workers, now, NULL, NULL);
        bm_rollup r;
        if (bm_monitor_rollup(&s->mon, now, 10000000, "fuzz", &r) != 0) continue;
        alert_gauges g;
        alerts_gauges_init(&g);
        g.baselines = s->bl;
        alerts_evaluate(s->al, &r, &g, now, NULL, NULL);
        for (size_t i = 0; i < baselines_count(s->bl); i++) {
            baseline_view v;
            double x[BASELINE__SERIES] = {1000, 2000, 0.5, 1};
            if (baselines_get(s->bl, baselines_key_at(s->bl, i), now, &v)) abort();
            json_decref(baseline_view_json(&v, x));
        }
        json_decref(bm_rollup_to_json(&r));
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        (void)bm_rollup_encode_msgpack(&r, &sb);
        msgpack_sbuffer_destroy(&sb);
        deadline d;
        while (deadlines_pop_due(s->dl, now, &d))
            ;
    }
}

/* One decode of the input into targets of one configuration, and the checks. */
static void one(const uint8_t *data, size_t size, int tight, const bm_checkpoint_limits *lim)
{
    state s, fresh;
    if (state_init(&s, tight) != 0 || state_init(&fresh, tight) != 0) abort();

    msgpack_sbuffer empty, first, second;
    msgpack_sbuffer_init(&empty);
    msgpack_sbuffer_init(&first);
    msgpack_sbuffer_init(&second);
    if (bm_checkpoint_encode(&s.c, &empty) != 0) abort();

    char err[256] = "";
    bm_checkpoint_status st = bm_checkpoint_decode(data, size, lim, &s.c, err, sizeof err);
    if ((unsigned)st >= BM_CHECKPOINT__COUNT) abort();
    if (st != BM_CHECKPOINT_OK) {
        /* refused: says why, changed nothing */
        if (!err[0]) abort();
        if (bm_checkpoint_encode(&s.c, &first) != 0) abort();
        if (first.size != empty.size || memcmp(first.data, empty.data, empty.size)) abort();
    } else {
        if (bm_checkpoint_encode(&s.c, &first) != 0) abort();
        if (bm_checkpoint_decode(first.data, first.size, NULL, &fresh.c, err, sizeof err) !=
            BM_CHECKPOINT_OK)
            abort();
        if (bm_checkpoint_encode(&fresh.c, &second) != 0) abort();
        if (first.size != second.size || memcmp(first.data, second.data, first.size)) abort();
        exercise(&s);
        (void)bm_monitor_merge(&fresh.mon, &s.mon);
        exercise(&fresh);
    }
    msgpack_sbuffer_destroy(&empty);
    msgpack_sbuffer_destroy(&first);
    msgpack_sbuffer_destroy(&second);
    state_free(&s);
    state_free(&fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bm_checkpoint_limits small = {.max_bytes = 4096, .max_objects = 512};
    const bm_checkpoint_limits *lim = (size & 3) == 3 ? &small : NULL;
    one(data, size, 0, lim);
    one(data, size, 1, lim);
    return 0;
}
