/*
 * clock.c - the agent's clock (clock.h).
 */
#include "agent/core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define OFFSET_REREAD_US 100000

/* The test offsets (clock.h): the one mutable global besides the logger,
 * so that every reader of the clock moves together. */
static struct {
    char path[512];
    int64_t offset_us;      /* the wall clock's */
    int64_t mono_offset_us; /* the monotonic clock's: never decreases */
    int64_t read_at_mono_us;
} test_clock;

void bm_clock_set_offset_file(const char *path)
{
    snprintf(test_clock.path, sizeof test_clock.path, "%s", path ? path : "");
    test_clock.offset_us = 0;
    test_clock.mono_offset_us = 0;
    test_clock.read_at_mono_us = 0;
}

static int64_t raw_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The file's "WALL [MONO]" seconds, re-read at most every OFFSET_REREAD_US. */
static void read_test_offsets(void)
{
    int64_t mono = raw_mono_us();
    if (test_clock.read_at_mono_us && mono - test_clock.read_at_mono_us < OFFSET_REREAD_US) return;
    test_clock.read_at_mono_us = mono;
    FILE *f = fopen(test_clock.path, "r");
    double s = 0, m = 0;
    if (f) {
        int n = fscanf(f, "%lf %lf", &s, &m);
        if (n < 1) s = 0;
        if (n < 2) m = 0;
        fclose(f);
    }
    test_clock.offset_us = (int64_t)(s * 1e6);
    int64_t mono_offset = (int64_t)(m * 1e6);
    if (mono_offset > test_clock.mono_offset_us) test_clock.mono_offset_us = mono_offset;
}

int64_t bm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (!test_clock.path[0]) return us;
    read_test_offsets();
    return us + test_clock.offset_us;
}

int64_t bm_mono_us(void)
{
    int64_t us = raw_mono_us();
    if (!test_clock.path[0]) return us;
    read_test_offsets();
    return us + test_clock.mono_offset_us;
}

struct timeval bm_tv_from_us(int64_t us)
{
    if (us < 0) us = 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    return tv;
}
