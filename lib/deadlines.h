/*
 * deadlines.h - commands waiting for an answer within their timeout_seconds.
 *
 * A min-heap of (due time, transaction id, command id): the agent adds each
 * command that carries a timeout when it is kept, and on a timer pops the
 * ones whose time has come; it then checks the trace and marks a command
 * still unanswered as timed out. An answer takes its command out at once
 * (deadlines_cancel), so the heap holds the commands still awaiting an
 * answer within their timeout: its bound (max_entries, default 100000)
 * refuses more and counts them. (The check at pop time stays: a command
 * answered while the agent was down is only known from its trace.)
 *
 * State (deadlines_save / _load): the entries in heap order and the refused
 * count, so the commands awaiting an answer survive a restart:
 *
 *   { "refused": uint, "entries": [[due_us, timeout_us, tx, cmd], ...] }
 *
 * Pure: time comes in as a parameter; no I/O.
 */
#ifndef BM_LIB_DEADLINES_H
#define BM_LIB_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

#define DEADLINE_ID_MAX 257 /* an id of BM_ID_MAX bytes (proto/event.h) and its NUL */

typedef struct {
    int64_t due_us;
    int64_t timeout_us;
    char tx[DEADLINE_ID_MAX];
    char cmd[DEADLINE_ID_MAX];
} deadline;

typedef struct deadlines deadlines;

/* @return the heap, or NULL. max_entries 0 = 100000. */
deadlines *deadlines_new(size_t max_entries);
void deadlines_free(deadlines *d);

/*
 * Remember that command `cmd` of transaction `tx` must be answered by due_us.
 * Ids longer than DEADLINE_ID_MAX - 1 bytes are refused.
 * @return 0, or -1 when refused (bound, id too long, out of memory; counted).
 */
int deadlines_add(deadlines *d, const char *tx, const char *cmd, int64_t due_us,
                  int64_t timeout_us);

/* Forget command `cmd` of `tx` (it was answered). @return 1, or 0 when it was not there. */
int deadlines_cancel(deadlines *d, const char *tx, const char *cmd);

/* Pop the earliest entry due at or before now_us into *out. @return 1, or 0 when none is due. */
int deadlines_pop_due(deadlines *d, int64_t now_us, deadline *out);

size_t deadlines_count(const deadlines *d);
uint64_t deadlines_refused(const deadlines *d);
/* The bound (max_entries as made). */
size_t deadlines_max(const deadlines *d);

struct msgpack_packer;
struct msgpack_object;

/* Write the heap (layout above). @return 0, or -1 (the packer's writer failed). */
int deadlines_save(const deadlines *d, struct msgpack_packer *pk);

/*
 * Replace the entries and the refused count with those saved in o. Entries
 * past the bound are refused and counted; an id of DEADLINE_ID_MAX bytes or
 * more, or a time beyond ±2^61 µs, is BM_LOAD_CORRUPT. @return 0, or a
 * bm_load_status (lib/state_codec.h) with the reason in err; d is unchanged
 * then.
 */
int deadlines_load(deadlines *d, const struct msgpack_object *o, char *err, size_t errlen);

/*
 * Move every entry's due time delta_us later (delta_us <= 0: nothing), as
 * after a restart: the time the agent was down does not count against a
 * timeout, which runs from when the agent saw its command. The order is
 * unchanged; a due time is held at 2^61 µs (what a load takes) rather than
 * pass it.
 */
void deadlines_postpone(deadlines *d, int64_t delta_us);

/* Exchange the entries, counters and bounds of a and b. */
void deadlines_swap(deadlines *a, deadlines *b);

#endif
