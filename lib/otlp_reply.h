/*
 * otlp_reply.h - what an OTLP/HTTP receiver answered to an export, read
 * from its 2xx reply body in OTLP's JSON mapping (busmon sends JSON, and a
 * receiver answers in the request's encoding):
 *
 *   ExportTraceServiceResponse   {"partialSuccess": {"rejectedSpans": "3",
 *                                                    "errorMessage": "..."}}
 *   ExportMetricsServiceResponse {"partialSuccess": {"rejectedDataPoints": "3",
 *                                                    "errorMessage": "..."}}
 *
 * A partial success names the items the receiver refused (the rest were
 * taken: the request is not sent again); an error message with nothing
 * rejected is a warning. An empty body, {} and an empty partialSuccess are
 * a full success. Field names are read in either spelling proto3's JSON
 * mapping allows (lowerCamelCase or the proto name), a 64-bit count as a
 * decimal string or a number; other members are ignored.
 *
 * Not here: sending, counting, logging (agent/outputs/otlp.c). Pure: the
 * body comes from outside and may be anything; nothing is kept.
 */
#ifndef BM_LIB_OTLP_REPLY_H
#define BM_LIB_OTLP_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef enum { BM_OTLP_TRACES = 0, BM_OTLP_METRICS, BM_OTLP__SIGNALS } bm_otlp_signal;

/* "traces", "metrics". */
const char *bm_otlp_signal_name(bm_otlp_signal s);

#define BM_OTLP_REPLY_MESSAGE_MAX 200 /* bytes of error_message kept */

typedef struct {
    uint64_t rejected; /* rejected_spans / rejected_data_points */
    /* error_message on one line (control characters as spaces), its first
     * BM_OTLP_REPLY_MESSAGE_MAX bytes at most, cut on a UTF-8 boundary */
    char message[BM_OTLP_REPLY_MESSAGE_MAX + 1];
    int message_cut; /* the message was longer */
} bm_otlp_reply;

/*
 * Read the reply body of an export of `sig` (len bytes, not NUL-terminated).
 * A count above max_rejected (what the request could hold at most) is not
 * believed: the body is refused.
 * @return 0 read into *out (all zero: a full success), or -1 not such a
 * response (out zeroed; the reason in why).
 */
int bm_otlp_reply_parse(bm_otlp_signal sig, const char *body, size_t len, uint64_t max_rejected,
                        bm_otlp_reply *out, char *why, size_t whylen);

#endif
