/*
 * checkpoint.c - bench-checkpoint: how long the state checkpoint takes to
 * encode and decode, and how big it is, for a monitor with many workers and
 * full windows (lib/checkpoint.h).
 *
 *   bench-checkpoint [--workers N] [--per-minute K] [--spread S] [--rounds R]
 *
 * Fills a monitor with N workers (default 1000), each answering K times a
 * minute (default 60) for the whole performance window (60 min), so every
 * period of every window of every worker holds executions; durations are
 * log-normal around 100 ms with sigma S (default 1.0; 2.5 puts most periods
 * of the performance window at the 240-bucket bound). Plus 200 error
 * patterns hit by many workers, 10,000 deadlines and the built-in alert
 * rules evaluated once. Then, R times (default 5), encodes the checkpoint
 * and decodes it into fresh targets, and prints the bytes, the msgpack
 * objects, the buckets held and the best and median times, then the time
 * of one bm_monitor_merge of two such monitors (what a reader of several
 * agents' checkpoints does).
 *
 * Not a test: it checks only that the decode succeeds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/checkpoint.h"
#include "lib/state_codec.h"

#define SEC_US  1000000LL
#define MIN_US  (60 * SEC_US)
#define T0      (472222LL * 3600 * SEC_US)
#define MAX_RUN 64

static uint64_t rng_state = 88172645463325252ULL;

static double unit(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2.0 * log(unit())) * cos(2.0 * M_PI * unit());
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill(bm_monitor *m, deadlines *d, alerts *al, int workers, int per_minute,
                 double spread)
{
    char name[32], tx[32];
    const int64_t step = MIN_US / per_minute;
    for (int64_t t = T0; t < T0 + 60 * MIN_US; t += step) {
        for (int w = 0; w < workers; w++) {
            snprintf(name, sizeof name, "worker-%04d", w);
            int64_t dur = (int64_t)(100000.0 * exp(spread * normal()));
            int failed = unit() < 0.05;
            worker_stats_answer(m->workers, name, failed ? BM_OUTCOME_FAILURE : BM_OUTCOME_SUCCESS,
                                dur, failed ? "E" : "", "", 0, t + w);
            event_metrics_add(m->events, BM_EV_RESULT, failed, dur, t + w);
            if (failed) {
                char type[32];
                snprintf(type, sizeof type, "Error%03d", (int)(unit() * 200));
                error_patterns_add(m->errors, type, "Error: something broke", name, t + w);
            }
        }
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(tx, sizeof tx, "tx-%08x", i);
        deadlines_add(d, tx, "cmd-0123456789abcdef", T0 + 60 * MIN_US + i * 1000, 30 * SEC_US);
    }
    worker_stats_evaluate(m->workers, T0 + 60 * MIN_US, NULL, NULL);
    bm_rollup r;
    if (bm_monitor_rollup(m, T0 + 60 * MIN_US, 10 * SEC_US, "bench", &r) == 0)
        alerts_evaluate(al, &r, NULL, T0 + 60 * MIN_US, NULL, NULL);
}

static void targets(bm_monitor *m, deadlines **d, alerts **a, const worker_stats_config *cfg)
{
    if (bm_monitor_init(m, cfg, 0) != 0 || !(*d = deadlines_new(0)) || !(*a = alerts_new(NULL)) ||
        alerts_add_builtins(*a) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int workers = 1000, per_minute = 60, rounds = 5;
    double spread = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--per-minute"))
            per_minute = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--spread"))
            spread = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    if (workers < 1 || per_minute < 1 || rounds < 1 || rounds > MAX_RUN) {
        fprintf(stderr, "usage: %s [--workers N] [--per-minute K] [--spread S] [--rounds R<=64]\n",
                argv[0]);
        return 2;
    }
    worker_stats_config cfg;
    worker_stats_config_defaults(&cfg);
    if ((size_t)workers > cfg.max_workers) cfg.max_workers = (size_t)workers;

    bm_monitor m;
    deadlines *d;
    alerts *al;
    targets(&m, &d, &al, &cfg);
    double t = now_s();
    fill(&m, d, al, workers, per_minute, spread);
    printf("filled %d workers x %d answers/min x 60 min, spread %.1f in %.1f s; "
           "state %.1f MiB in the heap\n",
           workers, per_minute, spread, now_s() - t,
           (double)worker_stats_heap_bytes(m.workers) / (1 << 20));

    static bm_checkpoint c;
    snprintf(c.agent, sizeof c.agent, "bench");
    c.ts_us = T0 + 60 * MIN_US;
    c.monitor = &m;
    c.deadlines = d;
    c.alerts = al;
    double enc[MAX_RUN], dec[MAX_RUN];
    size_t bytes = 0, objects = 0;
    for (int r = 0; r < rounds; r++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        t = now_s();
        if (bm_checkpoint_encode(&c, &sb) != 0) return 1;
        enc[r] = now_s() - t;
        bytes = sb.size;
        bm_sc_scan(sb.data, sb.size, BM_CHECKPOINT_DEPTH_MAX, SIZE_MAX, &objects);

        bm_monitor m2;
        deadlines *d2;
        alerts *a2;
        targets(&m2, &d2, &a2, &cfg);
        static bm_checkpoint in;
        memset(&in, 0, sizeof in);
        in.monitor = &m2;
        in.deadlines = d2;
        in.alerts = a2;
        char err[256];
        if (r == 0) {
            bm_checkpoint_status dflt = bm_checkpoint_decode(sb.data, sb.size, NULL, &in, err,
                                                             sizeof err);
            printf("with the default limits: %s\n", dflt == BM_CHECKPOINT_OK ? "accepted" : err);
            fflush(stdout);
            bm_monitor_deinit(&m2);
            deadlines_free(d2);
            alerts_free(a2);
            targets(&m2, &d2, &a2, &cfg);
            in.monitor = &m2;
            in.deadlines = d2;
            in.alerts = a2;
        }
        bm_checkpoint_limits lim = {.max_bytes = sb.size, .max_objects = objects};
        t = now_s();
        bm_checkpoint_status st = bm_checkpoint_decode(sb.data, sb.size, &lim, &in, err, sizeof err);
        dec[r] = now_s() - t;
        if (st != BM_CHECKPOINT_OK) {
            fprintf(stderr, "decode: %s: %s\n", bm_checkpoint_status_name(st), err);
            return 1;
        }
        msgpack_sbuffer_destroy(&sb);
        if (r + 1 < rounds) {
            bm_monitor_deinit(&m2);
            deadlines_free(d2);
            alerts_free(a2);
            continue;
        }
        /* a reader merging two agents' monitors */
        t = now_s();
        if (bm_monitor_merge(&m2, &m) != 0) return 1;
        printf("merge of two such monitors: %.1f ms\n", (now_s() - t) * 1e3);
        bm_monitor_deinit(&m2);
        deadlines_free(d2);
        alerts_free(a2);
    }
    qsort(enc, (size_t)rounds, sizeof *enc, cmp_d);
    qsort(dec, (size_t)rounds, sizeof *dec, cmp_d);
    printf("checkpoint: %zu bytes (%.1f MiB, %.0f bytes/worker), %zu msgpack objects "
           "(%.1f MiB unpacked)\n",
           bytes, (double)bytes / (1 << 20), (double)bytes / workers, objects,
           (double)objects * sizeof(msgpack_object) / (1 << 20));
    printf("encode: best %.1f ms, median %.1f ms; decode: best %.1f ms, median %.1f ms "
           "(%d rounds)\n",
           enc[0] * 1e3, enc[rounds / 2] * 1e3, dec[0] * 1e3, dec[rounds / 2] * 1e3, rounds);
    bm_monitor_deinit(&m);
    deadlines_free(d);
    alerts_free(al);
    return 0;
}
