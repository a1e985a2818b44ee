/*
 * ma_shape.h - the MultiAgents Framework's events as JSON text, for the
 * benchmarks (bench-fill --shape multiagents, bench-json-decode).
 *
 * The shape is the framework's wire form as its Python code writes it
 * (json.dumps: ", " and ": ", keys in model order), 350-450 bytes:
 *
 *   command: {"id", "type": "command", "metadata": {transaction_id,
 *             correlation_id: "<tx>.<step>", timestamp (ISO, µs, no zone),
 *             source: "orchestrator"}, "payload": {table, rows, batch, ...},
 *             "worker_type", "timeout_seconds", "priority"}
 *   result:  {"id", "type": "result", "metadata": {..., source: <worker>},
 *             "payload": {...}, "command_id", "success": true,
 *             "error_message": null, "error_details": null, "execution_time_ms"}
 *   failure: the same result with "success": false, "error_message" and
 *             "error_details": {"error_type", "retryable"}
 *
 * Not here: ids and randomness (the caller's), Redis (fill.c).
 */
#ifndef BM_BENCH_MA_SHAPE_H
#define BM_BENCH_MA_SHAPE_H

#include <stddef.h>
#include <stdint.h>

/* What a command and its answer share. Strings are the caller's. */
typedef struct {
    const char *tx;
    const char *step;
    const char *worker;
    const char *cmd_id; /* the command's id, the answer's command_id */
    int64_t ts_us;      /* the command's time */
} ma_tx;

/* The command of t into buf (cap bytes). `salt` varies the payload.
 * @return its length, or 0 when it does not fit. */
size_t ma_command_json(char *buf, size_t cap, const ma_tx *t, double timeout_s, uint64_t salt);

/* Its answer: a result, failed (success false, error_details) when
 * error_kind >= 0 (an index into the three error types, ma_error_type()).
 * @return its length, or 0 when it does not fit. */
size_t ma_answer_json(char *buf, size_t cap, const ma_tx *t, const char *id, double duration_ms,
                      int error_kind, uint64_t salt);

/* The error type ma_answer_json writes for error_kind (0..2). */
const char *ma_error_type(int error_kind);

#endif
