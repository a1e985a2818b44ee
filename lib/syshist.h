/*
 * syshist.h - the system metrics history: a ring of the last N samples'
 * figures (proto/system.h bm_sys_point), oldest overwritten when full and
 * counted. The agent pushes one point per sample interval; /api/system reads
 * the points of a window back, oldest first.
 *
 * Memory: capacity x sizeof(bm_sys_point) (144 B): 8640 points (24 h at
 * 10 s) = 1.2 MB. Pure: time comes in with the points.
 */
#ifndef BM_LIB_SYSHIST_H
#define BM_LIB_SYSHIST_H

#include <stddef.h>
#include <stdint.h>

#include "proto/system.h"

typedef struct syshist syshist;

/* @return a ring of `capacity` points (at least 1), or NULL (out of memory). */
syshist *syshist_new(size_t capacity);
void syshist_free(syshist *h);

/*
 * Add a point (copied) in time order: at the end, or, when the wall clock
 * stepped back since an earlier point, before the points stamped after it.
 * When full, the oldest point (this one, if it is the oldest) is dropped
 * and counted.
 */
void syshist_push(syshist *h, const bm_sys_point *p);

size_t syshist_len(const syshist *h);
size_t syshist_capacity(const syshist *h);
/* Points overwritten because the ring was full. */
uint64_t syshist_overwritten(const syshist *h);

/*
 * Copy the points with from_us <= ts_us <= to_us, oldest first, at most max
 * of the newest of them, into out. (to_us: the reader's now, so that points
 * stamped before the wall clock stepped back stay out of a window they are
 * not in yet.)
 * @return the number copied.
 */
size_t syshist_since(const syshist *h, int64_t from_us, int64_t to_us, bm_sys_point *out,
                     size_t max);

#endif
