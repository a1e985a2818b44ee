/*
 * clock.h - the agent's one clock. Everything in agent/ that needs "now"
 * asks here, and hands the value down: lib/ and proto/ never read a clock,
 * so their tests drive time by hand.
 *
 * Two readings: the wall clock (event times, windows, retention: what a
 * person and the producers agree on) and a monotonic one (deadlines,
 * backoff, round trips: what must not jump when the wall clock is set).
 */
#ifndef BM_CORE_CLOCK_H
#define BM_CORE_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* Wall clock, µs since the epoch (plus the test offset, below). */
int64_t bm_now_us(void);

/*
 * Tests only: the clocks read ahead by the numbers in the file at `path`,
 * "WALL [MONO]" in seconds (re-read at most every 100 ms; absent or
 * unreadable: 0). WALL moves the wall clock alone (a step of it, as an NTP
 * correction or a resumed VM makes); MONO moves the monotonic clock too (time
 * passing: a dead-letter rate's minute, an alert's `for`), and only forward
 * (a smaller MONO than one read before is ignored). main() calls it when
 * BUSMON_TEST_CLOCK_FILE is set, so an integration test can move the agent's
 * time without waiting. Not thread-safe (the agent has one thread). NULL: off.
 */
void bm_clock_set_offset_file(const char *path);

/* Monotonic clock, µs since an arbitrary start. */
int64_t bm_mono_us(void);

/* A duration in µs as a struct timeval (negative: zero), for libevent timers. */
struct timeval bm_tv_from_us(int64_t us);

#endif
