/*
 * deadlines.h - commands waiting for an answer within their timeout_seconds.
 *
 * A min-heap of (due time, transaction id, command id): the agent adds each
 * command that carries a timeout when it is kept, and on a timer pops the
 * ones whose time has come; it then checks the trace and marks a command
 * still unanswered as timed out. Answered commands are not removed here (the
 * check at pop time skips them), so the heap holds at most one entry per
 * command with a timeout still in the future: its bound (max_entries,
 * default 100000) refuses more and counts them.
 *
 * Pure: time comes in as a parameter; no I/O.
 */
#ifndef BM_LIB_DEADLINES_H
#define BM_LIB_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

#define DEADLINE_ID_MAX 128

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

/* Pop the earliest entry due at or before now_us into *out. @return 1, or 0 when none is due. */
int deadlines_pop_due(deadlines *d, int64_t now_us, deadline *out);

size_t deadlines_count(const deadlines *d);
uint64_t deadlines_refused(const deadlines *d);

#endif
