/*
 * metrics_flood.c - the business metrics table (lib/custom_metrics.c) under
 * a flood of new series while it is full and none is idle (a tag per order
 * id, a name per user: what metrics.max_series bounds). Each refusal is
 * timed against the baseline of the same run: an event of a series the
 * table already holds. No Redis.
 *
 *   bench-metrics-flood [SERIES [EVENTS]]     (defaults 10000 50000)
 *
 * Prints events/s of both and the ratio refused/kept; a refusal that scans
 * the table (143 us at 10,000 series before cd2383e) reads far below 1.
 */
#include "lib/custom_metrics.h"
#include "tests/bench/counter_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

static custom_metrics_result add(custom_metrics *cm, const char *name, int64_t now_us)
{
    bm_event ev = fixture_counter(name, now_us);
    return custom_metrics_add(cm, &ev, now_us);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long series = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long events = argc > 2 ? strtol(argv[2], NULL, 10) : 50000;
    if (series < 1 || series > 1000000 || events < 1 || events > 100000000) {
        fprintf(stderr, "usage: bench-metrics-flood [SERIES 1..1000000 [EVENTS]]\n");
        return 2;
    }
    custom_metrics_config cfg;
    custom_metrics_config_defaults(&cfg);
    cfg.max_series = (size_t)series;
    custom_metrics *cm = custom_metrics_new(&cfg);
    if (!cm) return 1;
    char name[32];
    for (long i = 0; i < series; i++) {
        snprintf(name, sizeof name, "m%07ld", i);
        if (add(cm, name, T0 + i) != CUSTOM_METRICS_ADDED) {
            fprintf(stderr, "could not fill the table at %ld\n", i);
            return 1;
        }
    }
    int64_t now = T0 + series;
    double t = cpu_s();
    long kept = 0, refused = 0;
    for (long i = 0; i < events; i++) { /* baseline: series the table holds */
        snprintf(name, sizeof name, "m%07ld", i % series);
        kept += add(cm, name, now) == CUSTOM_METRICS_ADDED;
    }
    double t_kept = cpu_s() - t;
    t = cpu_s();
    for (long i = 0; i < events; i++) { /* the flood: new names, none idle */
        snprintf(name, sizeof name, "order_%09ld", i);
        refused += add(cm, name, now) == CUSTOM_METRICS_REFUSED;
    }
    double t_refused = cpu_s() - t;
    custom_metrics_free(cm);
    double r_kept = (double)events / (t_kept > 0 ? t_kept : 1e-9);
    double r_refused = (double)events / (t_refused > 0 ? t_refused : 1e-9);
    printf("metrics-flood: %ld series, %ld events each: kept %.0f ev/s (%ld counted), refused %.0f "
           "ev/s (%ld refused), ratio refused/kept %.2f\n",
           series, events, r_kept, kept, r_refused, refused, r_refused / r_kept);
    if (kept != events || refused != events) {
        fprintf(stderr, "wrong counts: kept %ld, refused %ld of %ld\n", kept, refused, events);
        return 1;
    }
    return 0;
}
