/*
 * loop.h - the agent's event loop: one libevent base, SIGINT/SIGTERM, the
 * periodic timers of the components, and the orderly stop.
 *
 * A stop (a signal, the end of a --drain run, a fatal error) runs the
 * registered stop hooks once, in the order they were registered, from the
 * loop itself (never from inside the callback that asked for the stop), so
 * a hook may drop connections and free what it owns. The last hook usually
 * hands the loop to the session's writer flush (core/session.h), which
 * calls bm_loop_exit when the writes are in.
 */
#ifndef BM_CORE_LOOP_H
#define BM_CORE_LOOP_H

#include <stdint.h>

struct event_base;
struct event;
typedef struct bm_loop bm_loop;

/* @return a loop with its base and signal handlers, or NULL (out of memory). */
bm_loop *bm_loop_new(void);
/* Free the timers and the base. Call after everything using the base is freed. */
void bm_loop_free(bm_loop *l);

struct event_base *bm_loop_base(bm_loop *l);

/*
 * Call fn(arg) every interval_us, starting one interval from now. The timer
 * belongs to the loop (freed with it). @return the event (for
 * bm_loop_timer_del), or NULL (out of memory).
 */
struct event *bm_loop_every(bm_loop *l, int64_t interval_us, void (*fn)(void *arg), void *arg);
/* Stop a timer made by bm_loop_every (it stays owned by the loop). */
void bm_loop_timer_del(struct event *ev);

/* Register a stop hook (at most 16). @return 0 or -1. */
int bm_loop_on_stop(bm_loop *l, void (*fn)(void *arg, const char *why), void *arg);

/* Begin the orderly stop (idempotent; safe from any callback). */
void bm_loop_stop(bm_loop *l, const char *why);
int bm_loop_stopping(const bm_loop *l);

/* Leave the loop now, with `code` as the run's exit code (first call wins). */
void bm_loop_exit(bm_loop *l, int code);

/* Run until bm_loop_exit. @return the exit code (0 unless someone said otherwise). */
int bm_loop_run(bm_loop *l);

#endif
