/*
 * trace_json.h - a trace as JSON: the shape `busmon trace --json` prints
 * (and, later, /api/traces/TX serves). Specified in proto/README.md.
 */
#ifndef BM_AGENT_TRACE_JSON_H
#define BM_AGENT_TRACE_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/trace.h"

/* @return a new JSON object (caller json_decref's it), or NULL (out of memory). */
json_t *bm_trace_json(const trace *t);

/* Format µs since epoch as "2026-11-22T20:40:00.123456Z" (sep 'T') or with a space. */
void bm_format_time_us(int64_t ts_us, char sep, char *buf, size_t n);

/* Format µs since epoch as "2026-11-30T03:11:20.960Z": milliseconds, UTC,
 * the one form every human output of busmon shows (CLI, e-mail). */
void bm_format_time_ms(int64_t ts_us, char *buf, size_t n);

#endif
