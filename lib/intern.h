/*
 * intern.h - names kept once per process: worker, step, source, status and
 * error type names repeat in every transaction, so a trace keeps a 4-byte
 * id for them (lib/trace.c) instead of a copy per transaction.
 *
 * Bounded: at most BM_INTERN_MAX_NAMES names and BM_INTERN_MAX_BYTES bytes
 * of text, each at most BM_INTERN_MAX_LEN bytes. A name that does not fit
 * is not interned (0; counted in `refused`) and its caller keeps its own
 * copy, so nothing is lost. Names are never freed: a name interned once stays
 * interned, so equal names always get the same id.
 *
 * Not thread-safe: the agent builds traces on its one loop thread.
 */
#ifndef BM_LIB_INTERN_H
#define BM_LIB_INTERN_H

#include <stddef.h>
#include <stdint.h>

#define BM_INTERN_MAX_NAMES 65536
#define BM_INTERN_MAX_BYTES (4u << 20)
#define BM_INTERN_MAX_LEN   255

typedef struct {
    size_t names;      /* interned now */
    size_t heap_bytes; /* the table and the text */
    uint64_t refused;  /* names not interned: table full, or too long */
} bm_intern_stats;

/* The id of name s (interning it when new): 1 .. BM_INTERN_MAX_NAMES, or 0
 * when s is empty or does not fit. */
uint32_t bm_intern(const char *s);

/* The name of an id bm_intern returned; "" for 0 or an unknown id. */
const char *bm_intern_name(uint32_t id);

void bm_intern_get_stats(bm_intern_stats *out);

#endif
