/*
 * ma_shape.c - the MultiAgents Framework's events as JSON text (see
 * ma_shape.h). snprintf only: what a Python producer's json.dumps writes,
 * not how fast a C producer could write it.
 */
#include "ma_shape.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

static const char *const ma_tables[] = {"orders", "customers", "invoices", "events"};
static const char *const ma_error_types[] = {"TimeoutError", "ValidationError", "NetworkError"};
static const char *const ma_error_messages[] = {
    "worker did not answer within 30s",
    "field 'amount' must be a positive number",
    "upstream connection reset by peer",
};

const char *ma_error_type(int error_kind)
{
    return ma_error_types[error_kind % 3];
}

/* "2024-01-15T10:30:00.123456" (UTC, no zone: the framework's datetime.utcnow()) */
static void ma_iso(int64_t ts_us, char out[64])
{
    time_t s = (time_t)(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts_us % 1000000));
}

static size_t fits(int n, size_t cap)
{
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t ma_command_json(char *buf, size_t cap, const ma_tx *t, double timeout_s, uint64_t salt)
{
    char ts[64];
    ma_iso(t->ts_us, ts);
    int n = snprintf(buf, cap,
                     "{\"id\": \"%s\", \"type\": \"command\", \"metadata\": {\"transaction_id\": "
                     "\"%s\", \"correlation_id\": \"%s.%s\", \"timestamp\": \"%s\", \"source\": "
                     "\"orchestrator\"}, \"payload\": {\"table\": \"%s\", \"rows\": %" PRIu64
                     ", \"batch\": %" PRIu64 ", \"options\": {\"dry_run\": false, \"tags\": "
                     "[\"nightly\", \"eu\"]}}, \"worker_type\": \"%s\", \"timeout_seconds\": "
                     "%.1f, \"priority\": %d}",
                     t->cmd_id, t->tx, t->tx, t->step, ts, ma_tables[salt % 4], salt % 5000,
                     (salt >> 16) % 100000, t->worker, timeout_s, (int)(salt >> 40) % 3);
    return fits(n, cap);
}

size_t ma_answer_json(char *buf, size_t cap, const ma_tx *t, const char *id, double duration_ms,
                      int error_kind, uint64_t salt)
{
    char ts[64], err[160];
    ma_iso(t->ts_us + (int64_t)(duration_ms * 1000.0) + 50, ts);
    if (error_kind >= 0)
        snprintf(err, sizeof err,
                 "false, \"error_message\": \"%s\", \"error_details\": {\"error_type\": "
                 "\"%s\", \"retryable\": true}",
                 ma_error_messages[error_kind % 3], ma_error_types[error_kind % 3]);
    else
        snprintf(err, sizeof err, "true, \"error_message\": null, \"error_details\": null");
    int n = snprintf(buf, cap,
                     "{\"id\": \"%s\", \"type\": \"result\", \"metadata\": {\"transaction_id\": "
                     "\"%s\", \"correlation_id\": \"%s.%s\", \"timestamp\": \"%s\", \"source\": "
                     "\"%s\"}, \"payload\": {\"rows_written\": %" PRIu64
                     ", \"status\": \"%s\"}, \"command_id\": \"%s\", \"success\": %s, "
                     "\"execution_time_ms\": %.3f}",
                     id, t->tx, t->tx, t->step, ts, t->worker, salt % 5000,
                     error_kind >= 0 ? "failed" : "ok", t->cmd_id, err, duration_ms);
    return fits(n, cap);
}
