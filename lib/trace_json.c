/*
 * trace_json.c - render a lib/ trace as a JSON object (jansson).
 *
 *   {"tx", "status", "status_group", "duration_ms", "started_at", "ended_at",
 *    "event_count",
 *    "events": [{"id", "ts", "ts_us", "offset_ms", "type", "stage", "worker",
 *                "step", "corr", "cmd", "ok", "duration_ms", "error",
 *                "status", "message", "source", "attempt", "timeout_seconds",
 *                "payload_bytes", "paired_with", "attrs"}]}
 *
 * "status" is the transaction's own (lib/trace.h: running, completed,
 * failed, compensated, cancelled); "status_group" folds every unsuccessful
 * end into "failed", as a filter on failed does.
 *
 * Absent values are JSON null, so a reader can rely on every key being there.
 */
#include "lib/trace_json.h"

#include <stdio.h>
#include <time.h>

void bm_format_time_us(int64_t ts_us, char sep, char *buf, size_t n)
{
    time_t secs = (time_t)(ts_us / 1000000);
    long frac = (long)(ts_us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, n, "%04d-%02d-%02d%c%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void bm_format_time_ms(int64_t ts_us, char *buf, size_t n)
{
    int64_t ms = ts_us >= 0 ? ts_us / 1000 : -((-ts_us + 999) / 1000);
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    long frac = (long)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* json_string fails on invalid UTF-8: fall back to a lossy copy. */
static json_t *text(const char *s)
{
    if (!s || !*s) return json_null();
    json_t *j = json_string(s);
    if (j) return j;
    char buf[2048];
    size_t i = 0;
    for (; s[i] && i < sizeof buf - 1; i++) buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

json_t *bm_trace_json(const trace *t)
{
    json_t *root = json_object();
    json_t *events = json_array();
    if (!root || !events) {
        json_decref(root);
        json_decref(events);
        return NULL;
    }
    size_t n = trace_count(t);
    int64_t first = trace_first_ts_us(t);
    char when[48];
    json_object_set_new(root, "tx", text(trace_tx(t)));
    trace_status st = trace_get_status(t);
    json_object_set_new(root, "status", json_string(trace_status_name(st)));
    json_object_set_new(root, "status_group",
                        json_string(trace_status_name(trace_status_group(st))));
    json_object_set_new(root, "duration_ms", json_real((double)trace_duration_us(t) / 1000.0));
    bm_format_time_us(first, 'T', when, sizeof when);
    json_object_set_new(root, "started_at", n ? json_string(when) : json_null());
    bm_format_time_us(trace_last_ts_us(t), 'T', when, sizeof when);
    json_object_set_new(root, "ended_at", n ? json_string(when) : json_null());
    json_object_set_new(root, "event_count", json_integer((json_int_t)n));
    trace_event view, paired_view;
    for (size_t i = 0; i < n; i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        json_t *o = json_object();
        if (!o) break;
        bm_format_time_us(e->ts_us, 'T', when, sizeof when);
        json_object_set_new(o, "id", text(e->id));
        json_object_set_new(o, "ts", json_string(when));
        json_object_set_new(o, "ts_us", json_integer((json_int_t)e->ts_us));
        json_object_set_new(o, "offset_ms", json_real((double)(e->ts_us - first) / 1000.0));
        json_object_set_new(o, "type", json_string(bm_event_type_name(e->type)));
        json_object_set_new(o, "stage", text(trace_event_stage(te)));
        json_object_set_new(o, "worker", text(e->worker));
        json_object_set_new(o, "step", text(e->step));
        json_object_set_new(o, "corr", text(e->corr));
        json_object_set_new(o, "cmd", text(e->cmd));
        json_object_set_new(o, "ok", e->ok < 0 ? json_null() : json_boolean(e->ok));
        json_object_set_new(o, "duration_ms", te->duration_us >= 0
                                                  ? json_real((double)te->duration_us / 1000.0)
                                                  : json_null());
        if (e->error_type[0] || e->error_message[0]) {
            json_t *err = json_object();
            json_object_set_new(err, "type", text(e->error_type));
            json_object_set_new(err, "message", text(e->error_message));
            json_object_set_new(o, "error", err);
        } else {
            json_object_set_new(o, "error", json_null());
        }
        json_object_set_new(o, "status", text(e->status));
        json_object_set_new(o, "message", text(e->message));
        json_object_set_new(o, "source", text(e->source));
        json_object_set_new(o, "attempt", e->attempt >= 0 ? json_integer(e->attempt) : json_null());
        json_object_set_new(o, "timeout_seconds", e->timeout_s > 0 ? json_real(e->timeout_s) : json_null());
        json_object_set_new(o, "payload_bytes", json_integer((json_int_t)e->payload_bytes));
        json_object_set_new(o, "paired_with",
                            te->paired >= 0
                                ? text(trace_get(t, (size_t)te->paired, &paired_view)->ev.id)
                                : json_null());
        json_t *attrs = json_object();
        for (unsigned a = 0; a < e->n_attrs; a++) json_object_set_new(attrs, e->attrs[a].key, text(e->attrs[a].value));
        json_object_set_new(o, "attrs", attrs);
        json_array_append_new(events, o);
    }
    json_object_set_new(root, "events", events);
    return root;
}
