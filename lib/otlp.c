/*
 * otlp.c - transactions and worker figures as OTLP/HTTP JSON (otlp.h has
 * the mapping). Text is written straight into a buffer: a request is built
 * once per batch on the loop, and jansson's tree would cost more than the
 * spans themselves.
 */
#include "otlp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the buffer ------------------------------------------------------------- */

void bm_otlp_buf_init(bm_otlp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void bm_otlp_buf_deinit(bm_otlp_buf *b)
{
    free(b->data);
    bm_otlp_buf_init(b);
}

void bm_otlp_buf_reset(bm_otlp_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = '\0';
}

static int buf_room(bm_otlp_buf *b, size_t n)
{
    if (b->failed) return -1;
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void bm_otlp_buf_add(bm_otlp_buf *b, const char *s, size_t n)
{
    if (buf_room(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void add_s(bm_otlp_buf *b, const char *s)
{
    bm_otlp_buf_add(b, s, strlen(s));
}

static void add_c(bm_otlp_buf *b, char c)
{
    bm_otlp_buf_add(b, &c, 1);
}

static void add_u64(bm_otlp_buf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    bm_otlp_buf_add(b, t, (size_t)n);
}

static void add_i64(bm_otlp_buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    bm_otlp_buf_add(b, t, (size_t)n);
}

/* A double as JSON (finite only: NaN and infinities are not JSON; they become 0). */
static void add_double(bm_otlp_buf *b, double v)
{
    char t[40];
    if (!isfinite(v)) v = 0;
    int n = snprintf(t, sizeof t, "%.17g", v);
    bm_otlp_buf_add(b, t, (size_t)n);
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (s[0] == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (s[0] == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (s[0] == 0xF0 && s[1] < 0x90) return 0;
        if (s[0] == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

void bm_otlp_buf_str(bm_otlp_buf *b, const char *s)
{
    add_c(b, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run) bm_otlp_buf_add(b, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            bm_otlp_buf_add(b, e, 2);
            p++;
        } else if (*p < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", *p);
            bm_otlp_buf_add(b, e, 6);
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n) {
                bm_otlp_buf_add(b, (const char *)p, n);
                p += n;
            } else {
                add_s(b, "\xEF\xBF\xBD"); /* U+FFFD for a byte that is not UTF-8 */
                p++;
            }
        }
    }
    add_c(b, '"');
}

/* ---- ids -------------------------------------------------------------------- */

typedef unsigned __int128 u128;

/* FNV-1a, 128 bits, over n bytes, continuing from h. */
static u128 fnv1a128(u128 h, const void *data, size_t n)
{
    const u128 prime = ((u128)0x0000000001000000ULL << 64) | 0x000000000000013BULL;
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= prime;
    }
    return h;
}

static u128 fnv_basis(void)
{
    return ((u128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
}

/* MurmurHash3's 64-bit finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 32 hex digits, or a UUID's 8-4-4-4-12: the bytes, @return 0; else -1. */
static int hex_id(const char *s, uint8_t out[16])
{
    size_t len = strlen(s), k = 0;
    int uuid = len == 36;
    if (len != 32 && !uuid) return -1;
    for (size_t i = 0; i < len; i++) {
        if (uuid && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return -1;
            continue;
        }
        int v = hexval(s[i]);
        if (v < 0) return -1;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
    for (int i = 0; i < 16; i++)
        if (out[i]) return 0;
    return -1; /* all zero is not a valid trace id */
}

static void put_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

void bm_otlp_trace_id(const char *tx, uint8_t out[16])
{
    if (!hex_id(tx, out)) return;
    u128 h = fnv1a128(fnv_basis(), tx, strlen(tx));
    uint64_t hi = mix64((uint64_t)(h >> 64)), lo = mix64((uint64_t)h ^ hi);
    if (!hi && !lo) lo = 1;
    put_be64(out, hi);
    put_be64(out + 8, lo);
}

/* A span id from the trace id, a namespace (ns_len bytes) and a key. */
static void span_id_in(const uint8_t trace_id[16], const char *ns, size_t ns_len, const char *key,
                       uint8_t out[8])
{
    u128 h = fnv1a128(fnv_basis(), trace_id, 16);
    h = fnv1a128(h, "/", 1);
    h = fnv1a128(h, ns, ns_len);
    h = fnv1a128(h, key, strlen(key));
    uint64_t v = mix64((uint64_t)(h >> 64) ^ (uint64_t)h);
    if (!v) v = 1;
    put_be64(out, v);
}

void bm_otlp_span_id(const uint8_t trace_id[16], const char *key, uint8_t out[8])
{
    span_id_in(trace_id, "", 0, key, out);
}

void bm_otlp_root_span_id(const uint8_t trace_id[16], const char *first_event_id, uint8_t out[8])
{
    /* a NUL no command id holds keeps it apart from every step's */
    static const char ns[] = "\0root/";
    span_id_in(trace_id, ns, sizeof ns - 1, first_event_id, out);
}

void bm_otlp_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- attributes ------------------------------------------------------------- */

/* ,{"key":K,"value":{"<kind>":  (the first of a list without the comma) */
static void attr_open(bm_otlp_buf *b, int *first, const char *key, const char *kind)
{
    add_s(b, *first ? "{\"key\":" : ",{\"key\":");
    *first = 0;
    bm_otlp_buf_str(b, key);
    add_s(b, ",\"value\":{\"");
    add_s(b, kind);
    add_s(b, "\":");
}

static void attr_str(bm_otlp_buf *b, int *first, const char *key, const char *v)
{
    attr_open(b, first, key, "stringValue");
    bm_otlp_buf_str(b, v);
    add_s(b, "}}");
}

/* int64 is a decimal string in OTLP's JSON */
static void attr_int(bm_otlp_buf *b, int *first, const char *key, int64_t v)
{
    attr_open(b, first, key, "intValue");
    add_c(b, '"');
    add_i64(b, v);
    add_s(b, "\"}}");
}

static void attr_double(bm_otlp_buf *b, int *first, const char *key, double v)
{
    attr_open(b, first, key, "doubleValue");
    add_double(b, v);
    add_s(b, "}}");
}

static void attr_bool(bm_otlp_buf *b, int *first, const char *key, int v)
{
    attr_open(b, first, key, "boolValue");
    add_s(b, v ? "true}}" : "false}}");
}

/* An event's own attributes (already redacted by the decoder), as busmon.attr.<key>. */
static void attrs_of_event(bm_otlp_buf *b, int *first, const bm_event *e)
{
    char key[300];
    for (unsigned i = 0; i < e->n_attrs; i++) {
        snprintf(key, sizeof key, "busmon.attr.%s", e->attrs[i].key);
        attr_str(b, first, key, e->attrs[i].value);
    }
}

static void add_time(bm_otlp_buf *b, const char *field, int64_t ts_us)
{
    add_c(b, '"');
    add_s(b, field);
    add_s(b, "\":\"");
    add_i64(b, ts_us > 0 ? ts_us * 1000 : 0);
    add_c(b, '"');
}

/* ---- spans ------------------------------------------------------------------ */

enum { KIND_INTERNAL = 1, KIND_CONSUMER = 5 };
enum { STATUS_UNSET = 0, STATUS_OK = 1, STATUS_ERROR = 2 };

/* An answer's outcome as lib/trace.c reads it (a "timeout" error type in
 * any case is a timeout), so a span says what `busmon trace` says. */
static int is_failure(const bm_event *e)
{
    int o = trace_event_outcome(e);
    return o == BM_OUTCOME_FAILURE || o == BM_OUTCOME_TIMEOUT;
}

static int is_timeout(const bm_event *e)
{
    return trace_event_outcome(e) == BM_OUTCOME_TIMEOUT;
}

/* "Type: message", "Type", "message" or "failed". */
static void failure_text(const bm_event *e, char *buf, size_t n)
{
    if (e->error_type[0] && e->error_message[0])
        snprintf(buf, n, "%s: %s", e->error_type, e->error_message);
    else if (e->error_type[0] || e->error_message[0])
        snprintf(buf, n, "%s", e->error_type[0] ? e->error_type : e->error_message);
    else
        snprintf(buf, n, "failed");
}

/* Open one span object up to (and including) its attributes' '['. */
static void span_open(bm_otlp_buf *b, const char *trace_hex, const uint8_t span_id[8],
                      const uint8_t *parent_id, const char *name, int kind, int64_t start_us,
                      int64_t end_us)
{
    char hex[17];
    add_s(b, "{\"traceId\":\"");
    add_s(b, trace_hex);
    add_s(b, "\",\"spanId\":\"");
    bm_otlp_hex(span_id, 8, hex);
    add_s(b, hex);
    add_c(b, '"');
    if (parent_id) {
        add_s(b, ",\"parentSpanId\":\"");
        bm_otlp_hex(parent_id, 8, hex);
        add_s(b, hex);
        add_c(b, '"');
    }
    add_s(b, ",\"name\":");
    bm_otlp_buf_str(b, name);
    add_s(b, ",\"kind\":");
    add_i64(b, kind);
    add_c(b, ',');
    add_time(b, "startTimeUnixNano", start_us);
    add_c(b, ',');
    add_time(b, "endTimeUnixNano", end_us < start_us ? start_us : end_us);
    add_s(b, ",\"attributes\":[");
}

static void span_status(bm_otlp_buf *b, int code, const char *message)
{
    add_s(b, ",\"status\":{");
    if (message && message[0] && code == STATUS_ERROR) {
        add_s(b, "\"message\":");
        bm_otlp_buf_str(b, message);
        add_c(b, ',');
    }
    add_s(b, "\"code\":");
    add_i64(b, code);
    add_s(b, "}}");
}

/* One span event object; attributes written by the caller between open and close. */
static void event_open(bm_otlp_buf *b, int *first_event, const char *name, int64_t ts_us)
{
    add_s(b, *first_event ? "{" : ",{");
    *first_event = 0;
    add_time(b, "timeUnixNano", ts_us);
    add_s(b, ",\"name\":");
    bm_otlp_buf_str(b, name);
    add_s(b, ",\"attributes\":[");
}

/* A root span event for an event that is not a step's command or answer. */
static size_t root_event(bm_otlp_buf *b, int *first_event, const trace *t, const trace_event *te)
{
    const bm_event *e = &te->ev;
    int first = 1;
    char text[1400];
    switch (e->type) {
    case BM_EV_STATUS:
        event_open(b, first_event, "status", e->ts_us);
        attr_str(b, &first, "busmon.status", e->status);
        if (e->progress >= 0) attr_double(b, &first, "busmon.progress", e->progress);
        if (e->message[0]) attr_str(b, &first, "busmon.message", e->message);
        break;
    case BM_EV_COMPENSATION:
        event_open(b, first_event, "compensation", e->ts_us);
        if (e->step[0]) attr_str(b, &first, "busmon.step", e->step);
        if (e->worker[0]) attr_str(b, &first, "busmon.worker", e->worker);
        if (e->cmd[0]) attr_str(b, &first, "busmon.command_id", e->cmd);
        break;
    case BM_EV_RESULT:
    case BM_EV_ERROR:
        if (is_failure(e)) {
            /* OpenTelemetry's name for an error recorded on a span */
            event_open(b, first_event, is_timeout(e) ? "timeout" : "exception", e->ts_us);
            failure_text(e, text, sizeof text);
            attr_str(b, &first, "exception.type", e->error_type[0] ? e->error_type : "error");
            attr_str(b, &first, "exception.message", text);
        } else {
            event_open(b, first_event, "result", e->ts_us);
        }
        attr_bool(b, &first, "busmon.paired", te->paired >= 0); /* with a compensation */
        if (e->worker[0]) attr_str(b, &first, "busmon.worker", e->worker);
        if (e->step[0]) attr_str(b, &first, "busmon.step", e->step);
        if (e->cmd[0]) attr_str(b, &first, "busmon.command_id", e->cmd);
        break;
    default:
        event_open(b, first_event, "custom", e->ts_us);
        if (e->worker[0]) attr_str(b, &first, "busmon.worker", e->worker);
        break;
    }
    attr_str(b, &first, "busmon.event_id", e->id);
    attrs_of_event(b, &first, e);
    (void)t;
    add_s(b, "]}");
    return 1;
}

int bm_otlp_trace_spans(const trace *t, const char *sampled_by, bm_otlp_buf *out,
                        bm_otlp_span_count *count)
{
    uint8_t tid[16], root_id[8], sid[8];
    char trace_hex[33], text[1400];
    bm_otlp_span_count c = {0, 0};
    size_t n = trace_count(t);
    bm_otlp_trace_id(trace_tx(t), tid);
    bm_otlp_hex(tid, 16, trace_hex);
    trace_event first_view;
    bm_otlp_root_span_id(tid, n ? trace_get(t, 0, &first_view)->ev.id : "", root_id);
    int64_t first_ts = trace_first_ts_us(t), last_ts = trace_last_ts_us(t);

    /* the steps: one span per command */
    size_t commands = 0;
    trace_event view, ans_view;
    for (size_t i = 0; i < n; i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        if (e->type != BM_EV_COMMAND) continue;
        commands++;
        const trace_event *ans =
            te->paired >= 0 ? trace_get(t, (size_t)te->paired, &ans_view) : NULL;
        const bm_event *a = ans ? &ans->ev : NULL;
        char name[600];
        const char *worker = e->worker[0] ? e->worker : (a && a->worker[0] ? a->worker : "");
        if (worker[0] && e->step[0])
            snprintf(name, sizeof name, "%s/%s", worker, e->step);
        else
            snprintf(name, sizeof name, "%s", worker[0] ? worker : e->step[0] ? e->step : "step");
        bm_otlp_span_id(tid, e->id, sid);
        if (out->len) add_c(out, ',');
        span_open(out, trace_hex, sid, root_id, name, KIND_CONSUMER, e->ts_us,
                  a ? a->ts_us : last_ts);
        int first = 1;
        attr_str(out, &first, "messaging.system", "redis");
        attr_str(out, &first, "messaging.operation", "process");
        attr_str(out, &first, "busmon.worker", worker);
        if (e->step[0]) attr_str(out, &first, "busmon.step", e->step);
        attr_str(out, &first, "busmon.command_id", e->id);
        attr_bool(out, &first, "busmon.answered", a != NULL);
        if (e->attempt >= 0) attr_int(out, &first, "busmon.attempt", e->attempt);
        if (e->timeout_s > 0) attr_double(out, &first, "busmon.timeout_s", e->timeout_s);
        if (a) {
            attr_str(out, &first, "busmon.outcome",
                     is_timeout(a) ? "timeout" : is_failure(a) ? "failure" : "success");
            if (ans->duration_us >= 0)
                attr_double(out, &first, "busmon.duration_ms", (double)ans->duration_us / 1000.0);
            if (is_failure(a)) {
                attr_str(out, &first, "error.type", a->error_type[0] ? a->error_type : "error");
                if (a->error_message[0])
                    attr_str(out, &first, "busmon.error.message", a->error_message);
            }
            if (a->id[0]) attr_str(out, &first, "busmon.answer_id", a->id);
        }
        attrs_of_event(out, &first, e);
        add_c(out, ']');
        int code = STATUS_UNSET;
        text[0] = '\0';
        if (a && is_failure(a)) {
            code = STATUS_ERROR;
            failure_text(a, text, sizeof text);
            /* the failure also as a span event: its time, type and message */
            add_s(out, ",\"events\":[");
            int fe = 1, first_attr = 1;
            event_open(out, &fe, is_timeout(a) ? "timeout" : "exception", a->ts_us);
            attr_str(out, &first_attr, "exception.type", a->error_type[0] ? a->error_type : "error");
            attr_str(out, &first_attr, "exception.message", text);
            add_s(out, "]}]");
            c.events++;
        } else if (a) {
            code = STATUS_OK;
        }
        span_status(out, code, text);
        c.spans++;
    }

    /* the root: the transaction, with the events that are not a step's */
    trace_status st = trace_get_status(t);
    int compensated = 0;
    /* the root's message: the first failure that made the transaction fail
     * (a step's, not retried into a success), else the last failure */
    const bm_event *failure = NULL;
    int decisive = 0;
    size_t failure_at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const bm_event *e = &trace_get(t, i, &view)->ev;
        if (e->type == BM_EV_COMPENSATION ||
            (e->type == BM_EV_STATUS && !strcasecmp(e->status, "compensated")))
            compensated = 1;
        if (!decisive && is_failure(e)) {
            decisive = trace_failure_stands(t, i);
            failure_at = i;
        }
    }
    /* read again, not copied: a view's id, cmd and corr point into its own text */
    trace_event failure_view;
    if (failure_at != SIZE_MAX) failure = &trace_get(t, failure_at, &failure_view)->ev;
    if (out->len) add_c(out, ',');
    span_open(out, trace_hex, root_id, NULL, "transaction", KIND_INTERNAL, first_ts, last_ts);
    int first = 1;
    attr_str(out, &first, "busmon.transaction_id", trace_tx(t));
    attr_str(out, &first, "busmon.status", trace_status_name(st));
    attr_int(out, &first, "busmon.events", (int64_t)n);
    attr_int(out, &first, "busmon.commands", (int64_t)commands);
    attr_bool(out, &first, "busmon.compensated", compensated);
    attr_str(out, &first, "messaging.system", "redis");
    if (sampled_by) attr_str(out, &first, "busmon.sampling.reason", sampled_by);
    add_s(out, "],\"events\":[");
    int first_event = 1;
    for (size_t i = 0; i < n; i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        if (e->type == BM_EV_COMMAND) continue;
        /* a step's answer is in its span; one that answers a compensation
         * (a root event, not a span) or nothing is a root event */
        if ((e->type == BM_EV_RESULT || e->type == BM_EV_ERROR) && te->paired >= 0 &&
            !te->answers_compensation)
            continue;
        c.events += root_event(out, &first_event, t, te);
    }
    add_c(out, ']');
    text[0] = '\0';
    /* every unsuccessful end (failed, compensated, cancelled) is an error:
     * UNSET is only a transaction still running */
    int unsuccessful = trace_status_group(st) == TRACE_FAILED;
    if (st == TRACE_FAILED && failure)
        failure_text(failure, text, sizeof text);
    else if (st == TRACE_FAILED)
        snprintf(text, sizeof text, "the transaction failed");
    else if (unsuccessful)
        snprintf(text, sizeof text, "the transaction was %s", trace_status_name(st));
    span_status(out,
                st == TRACE_COMPLETED ? STATUS_OK
                : unsuccessful        ? STATUS_ERROR
                                      : STATUS_UNSET,
                text);
    c.spans++;
    if (count) *count = c;
    return out->failed ? -1 : 0;
}

static void resource_json(bm_otlp_buf *b, const bm_otlp_resource *r)
{
    int first = 1;
    add_s(b, "{\"resource\":{\"attributes\":[");
    attr_str(b, &first, "service.name", r->service_name ? r->service_name : "busmon");
    if (r->service_instance_id) attr_str(b, &first, "service.instance.id", r->service_instance_id);
    if (r->service_version) attr_str(b, &first, "service.version", r->service_version);
    attr_str(b, &first, "telemetry.sdk.name", "busmon");
    attr_str(b, &first, "telemetry.sdk.language", "c");
    add_s(b, "]}");
}

int bm_otlp_traces_request(const bm_otlp_resource *r, const char *spans, size_t len,
                           bm_otlp_buf *out)
{
    bm_otlp_buf_reset(out);
    add_s(out, "{\"resourceSpans\":[");
    resource_json(out, r);
    add_s(out, ",\"scopeSpans\":[{\"scope\":{\"name\":\"busmon\"},\"spans\":[");
    bm_otlp_buf_add(out, spans, len);
    add_s(out, "]}]}]}");
    return out->failed ? -1 : 0;
}

/* ---- the exponential histogram ------------------------------------------------ */

int32_t bm_otlp_exphist_index(double v, int32_t scale)
{
    /* bucket k holds (base^k, base^(k+1)]: k = ceil(log2(v) * 2^scale) - 1 */
    double x = log2(v) * ldexp(1.0, scale);
    double k = ceil(x) - 1;
    /* an exact power of the base sits at its bucket's upper bound */
    if (k + 1 - x > 1 - 1e-9) k = floor(x) - 1;
    return (int32_t)k;
}

double bm_otlp_exphist_error(int32_t scale)
{
    double base = pow(2.0, ldexp(1.0, -scale)), a = BM_HIST_RELATIVE_ERROR;
    double low = 2 * base * (1 + a) / (base + 1) - 1; /* a value at the widened lower end */
    double high = 1 - 2 * (1 - a) / (base + 1);       /* ... at the widened upper end */
    return low > high ? low : high;
}

/* Floor division by 2^d (an arithmetic shift for negative indices too). */
static int32_t shift_down(int32_t k, int d)
{
    return k >= 0 ? k >> d : -(int32_t)((-(int64_t)k + (1 << d) - 1) >> d);
}

int bm_otlp_exphist_from(const bm_hist *h, double unit_us, uint32_t max_buckets,
                         bm_otlp_exphist *out)
{
    memset(out, 0, sizeof *out);
    out->scale = BM_OTLP_MAX_SCALE;
    if (!max_buckets) max_buckets = BM_OTLP_MAX_BUCKETS;
    out->count = h->count;
    out->sum = h->sum_us / unit_us;
    out->min = (double)h->min_us / unit_us;
    out->max = (double)h->max_us / unit_us;
    if (!h->n_buckets) return 0;
    int32_t lo = bm_otlp_exphist_index(bm_hist_bucket_value(h->buckets[0].index) / unit_us,
                                       BM_OTLP_MAX_SCALE);
    int32_t hi = bm_otlp_exphist_index(
        bm_hist_bucket_value(h->buckets[h->n_buckets - 1].index) / unit_us, BM_OTLP_MAX_SCALE);
    int d = 0; /* scales down from the finest */
    while (d < BM_OTLP_MAX_SCALE + 20 &&
           (int64_t)shift_down(hi, d) - shift_down(lo, d) + 1 > (int64_t)max_buckets)
        d++;
    out->scale = BM_OTLP_MAX_SCALE - d;
    out->offset = shift_down(lo, d);
    out->n = (uint32_t)(shift_down(hi, d) - out->offset + 1);
    out->counts = calloc(out->n, sizeof *out->counts);
    if (!out->counts) {
        out->n = 0;
        return -1;
    }
    for (uint32_t i = 0; i < h->n_buckets; i++) {
        int32_t k = bm_otlp_exphist_index(bm_hist_bucket_value(h->buckets[i].index) / unit_us,
                                          BM_OTLP_MAX_SCALE);
        out->counts[shift_down(k, d) - out->offset] += h->buckets[i].count;
    }
    return 0;
}

void bm_otlp_exphist_deinit(bm_otlp_exphist *e)
{
    free(e->counts);
    memset(e, 0, sizeof *e);
}

/* ---- metrics ------------------------------------------------------------------ */

/* "attributes":[{busmon.worker}(,{status})] "startTimeUnixNano":..,"timeUnixNano":.. */
static void point_head(bm_otlp_buf *b, const char *worker, const char *status, int64_t start_us,
                       int64_t now_us)
{
    int first = 1;
    add_s(b, "{\"attributes\":[");
    attr_str(b, &first, "busmon.worker", worker);
    if (status) attr_str(b, &first, "busmon.status", status);
    add_s(b, "],");
    if (start_us) {
        add_time(b, "startTimeUnixNano", start_us);
        add_c(b, ',');
    }
    add_time(b, "timeUnixNano", now_us);
}

static void metric_open(bm_otlp_buf *b, const char *name, const char *description,
                        const char *unit, const char *kind)
{
    if (b->len) add_c(b, ',');
    add_s(b, "{\"name\":");
    bm_otlp_buf_str(b, name);
    add_s(b, ",\"description\":");
    bm_otlp_buf_str(b, description);
    add_s(b, ",\"unit\":");
    bm_otlp_buf_str(b, unit);
    add_s(b, ",\"");
    add_s(b, kind);
    add_s(b, "\":{\"dataPoints\":[");
}

/* A gauge with one point per worker: in flight (which 0) or health (1). */
static void gauge(bm_otlp_buf *out, const char *name, const char *description, const char *unit,
                  const bm_otlp_worker_point *w, size_t n, int which, int64_t now_us)
{
    metric_open(out, name, description, unit, "gauge");
    for (size_t i = 0; i < n; i++) {
        if (i) add_c(out, ',');
        point_head(out, w[i].worker, NULL, 0, now_us);
        add_s(out, ",\"asInt\":\"");
        add_i64(out, which ? (int64_t)w[i].health : (int64_t)w[i].in_flight);
        add_s(out, "\"}");
    }
    add_s(out, "]}}");
}

int bm_otlp_metrics_fragment(const bm_otlp_worker_point *w, size_t n, int64_t start_us,
                             int64_t now_us, bm_otlp_buf *out)
{
    if (!n) return 0;
    /* executions: one point per worker and status */
    metric_open(out, "busmon.worker.executions",
                "commands answered, by worker and outcome (success, failure, timeout)",
                "{executions}", "sum");
    for (size_t i = 0; i < n; i++) {
        static const char *const statuses[3] = {"success", "failure", "timeout"};
        const uint64_t v[3] = {w[i].successes, w[i].failures, w[i].timeouts};
        for (int s = 0; s < 3; s++) {
            if (i || s) add_c(out, ',');
            point_head(out, w[i].worker, statuses[s], w[i].start_us ? w[i].start_us : start_us,
                       now_us);
            add_s(out, ",\"asInt\":\"");
            add_u64(out, v[s]);
            add_s(out, "\"}");
        }
    }
    add_s(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");

    /* duration: the exponential histogram */
    metric_open(out, "busmon.worker.duration", "command to answer, by worker", "s",
                "exponentialHistogram");
    int firstp = 1;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].duration && !w[i].zero_durations) continue;
        bm_otlp_exphist e;
        bm_hist none;
        bm_hist_init(&none);
        if (bm_otlp_exphist_from(w[i].duration ? w[i].duration : &none, 1e6, BM_OTLP_MAX_BUCKETS,
                                 &e)) {
            out->failed = 1;
            break;
        }
        uint64_t zeros = w[i].zero_durations;
        if (zeros) { /* below every positive value */
            e.max = e.count ? e.max : 0;
            e.min = 0;
            e.count += zeros;
        }
        if (!firstp) add_c(out, ',');
        firstp = 0;
        point_head(out, w[i].worker, NULL, w[i].start_us ? w[i].start_us : start_us, now_us);
        add_s(out, ",\"count\":\"");
        add_u64(out, e.count);
        add_s(out, "\",\"sum\":");
        add_double(out, e.sum);
        add_s(out, ",\"scale\":");
        add_i64(out, e.scale);
        add_s(out, ",\"zeroCount\":\"");
        add_u64(out, zeros);
        add_s(out, "\",\"positive\":{\"offset\":");
        add_i64(out, e.offset);
        add_s(out, ",\"bucketCounts\":[");
        for (uint32_t k = 0; k < e.n; k++) {
            add_s(out, k ? ",\"" : "\"");
            add_u64(out, e.counts[k]);
            add_c(out, '"');
        }
        add_s(out, "]}");
        if (e.count) {
            add_s(out, ",\"min\":");
            add_double(out, e.min);
            add_s(out, ",\"max\":");
            add_double(out, e.max);
        }
        add_c(out, '}');
        bm_otlp_exphist_deinit(&e);
    }
    add_s(out, "],\"aggregationTemporality\":2}}");

    /* in flight and health: gauges */
    gauge(out, "busmon.worker.in_flight", "commands sent and not answered, by worker",
          "{commands}", w, n, 0, now_us);
    gauge(out, "busmon.worker.health",
          "health: 0 unknown, 1 healthy, 2 degraded, 3 failed, 4 inactive", "1", w, n, 1, now_us);
    return out->failed ? -1 : 0;
}

int bm_otlp_metrics_request(const bm_otlp_resource *r, const char *metrics, size_t len,
                            bm_otlp_buf *out)
{
    bm_otlp_buf_reset(out);
    add_s(out, "{\"resourceMetrics\":[");
    resource_json(out, r);
    add_s(out, ",\"scopeMetrics\":[{\"scope\":{\"name\":\"busmon\"},\"metrics\":[");
    bm_otlp_buf_add(out, metrics, len);
    add_s(out, "]}]}]}");
    return out->failed ? -1 : 0;
}
