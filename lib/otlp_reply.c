/*
 * otlp_reply.c - an OTLP/HTTP export's JSON reply read for its partial
 * success (otlp_reply.h). jansson parses the body whole: it is bounded by
 * the caller (the sink reads 64 KiB of a reply at most) and read once per
 * request.
 */
#include "otlp_reply.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/event.h"

const char *bm_otlp_signal_name(bm_otlp_signal s)
{
    return s == BM_OTLP_METRICS ? "metrics" : "traces";
}

static int fail(bm_otlp_reply *out, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(bm_otlp_reply *out, char *why, size_t whylen, const char *fmt, ...)
{
    memset(out, 0, sizeof *out);
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
        for (char *c = why; *c; c++) /* the parser quotes the body: printable ASCII only */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
    }
    return -1;
}

/* The member of o called `camel` or `snake` (proto3 JSON takes both); a
 * null value is the field's default: absent. */
static json_t *member(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    if (!v) v = json_object_get(o, snake);
    return json_is_null(v) ? NULL : v;
}

/* An int64 of the JSON mapping that is a count: a number or a decimal string,
 * not negative. @return 0 or -1. */
static int read_count(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) return -1;
        *out = (uint64_t)i;
        return 0;
    }
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 19) return -1; /* 19 digits hold any int64 */
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x > INT64_MAX) return -1;
    *out = x;
    return 0;
}

/* s (n bytes) on one line into out, cut on a UTF-8 boundary. */
static void keep_message(bm_otlp_reply *out, const char *s, size_t n)
{
    size_t k = bm_text_cut(s, n, BM_OTLP_REPLY_MESSAGE_MAX);
    out->message_cut = k < n;
    for (size_t i = 0; i < k; i++)
        out->message[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out->message[k] = '\0';
}

int bm_otlp_reply_parse(bm_otlp_signal sig, const char *body, size_t len, uint64_t max_rejected,
                        bm_otlp_reply *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len) return 0; /* no body: an empty response, a full success */
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) return fail(out, why, whylen, "not JSON (%s)", jerr.text);
    int rc = 0;
    json_t *ps = NULL, *count = NULL, *msg = NULL;
    if (!json_is_object(root)) {
        rc = fail(out, why, whylen, "not a JSON object");
        goto done;
    }
    ps = member(root, "partialSuccess", "partial_success");
    if (!ps) goto done; /* a full success */
    if (!json_is_object(ps)) {
        rc = fail(out, why, whylen, "partialSuccess is not an object");
        goto done;
    }
    count = sig == BM_OTLP_METRICS ? member(ps, "rejectedDataPoints", "rejected_data_points")
                                   : member(ps, "rejectedSpans", "rejected_spans");
    if (count && read_count(count, &out->rejected) < 0) {
        rc = fail(out, why, whylen, "the rejected count is not a count");
        goto done;
    }
    if (out->rejected > max_rejected) {
        rc = fail(out, why, whylen, "%llu rejected: more than the request could hold",
                  (unsigned long long)out->rejected);
        goto done;
    }
    msg = member(ps, "errorMessage", "error_message");
    if (msg && !json_is_string(msg)) {
        rc = fail(out, why, whylen, "errorMessage is not a string");
        goto done;
    }
    if (msg) keep_message(out, json_string_value(msg), json_string_length(msg));
done:
    json_decref(root);
    return rc;
}
