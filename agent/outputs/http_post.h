/*
 * http_post.h - HTTP(S) POST delivery on the loop, for the sinks that talk
 * HTTP (webhook.c, otlp.c): libcurl's multi interface driven by libevent,
 * a bounded queue, retries with exponential backoff (Retry-After honoured
 * on 429/503), bursts of failures logged once, and a flush for the stop.
 *
 *   send --> waiting --pump--> in_flight --2xx--> sent, freed
 *     |        (FIFO)            |   ^  \--4xx / attempts used up--> failed, freed
 *     |                          v   |
 *     |                        backoff (its own evtimer: backoff << (attempt - 1)
 *     |                                 plus up to a fifth at random, or Retry-After
 *     |                                 when longer; capped)
 *     \--held >= queue, or held bytes + its bytes > queue_bytes--> dropped (never queued)
 *
 * held = waiting + in_flight + backoff is what `queue` bounds, and their
 * bodies' bytes what `queue_bytes` bounds (a body alone always goes, so one
 * larger than the bound is still sent when nothing else is held). A body in
 * backoff keeps its concurrency slot, so with concurrency 1 bodies are
 * delivered strictly in order.
 *
 * The delivery keys every HTTP sink takes (url aside, which a sink may call
 * otherwise) are read by bm_http_post_opts_set, so they mean the same
 * thing, with the same bounds and errors, in every sink.
 *
 * Not here: what is sent (the sinks and their builders), the sink table.
 */
#ifndef BM_OUTPUTS_HTTP_POST_H
#define BM_OUTPUTS_HTTP_POST_H

#include <stddef.h>
#include <stdint.h>

#include "agent/outputs/sink.h"

struct event_base;

#define BM_HTTP_POST_HEADERS_MAX 16

/* Delivery settings; fill with bm_http_post_opts_init, free with _deinit. */
/*
 * A 2xx reply's body, for a sink that reads it (otlp.c: OTLP's partial
 * success): its first reply_max_bytes at most, `whole` 0 when there was
 * more or the body did not arrive complete; its Content-Type (NULL: none);
 * the length of the request it answers. Borrowed for the call; the body is
 * delivered whatever the callback makes of it.
 */
typedef void (*bm_http_post_reply_cb)(const char *body, size_t len, int whole,
                                      const char *content_type, size_t request_len, void *arg);

typedef struct {
    char *url;         /* required; http:// or https:// */
    char *url_for_log; /* scheme://host[:port] only: paths and queries carry tokens */
    int64_t timeout_ms;
    unsigned max_attempts;
    int64_t backoff_ms, backoff_max_ms;
    uint32_t queue_max;
    size_t queue_max_bytes; /* bodies' bytes held at most (0: no bound) */
    uint32_t concurrency;
    char *headers[BM_HTTP_POST_HEADERS_MAX]; /* "Name: value" (owned) */
    size_t n_headers;
    /* which replies are retried: 0 (webhooks) every 5xx, 429 and 408; 1 the
     * OTLP/HTTP rule, only 429, 502, 503 and 504 (a collector's 500 is not
     * sent again: it may have taken the request in part) */
    int otlp_retry;
    /* told of each 2xx reply's body (NULL: replies are read only to log a failure) */
    bm_http_post_reply_cb on_reply;
    void *on_reply_arg;
    size_t reply_max_bytes; /* a reply's body kept at most (0: 160, what a failure logs) */
} bm_http_post_opts;

/* The defaults: timeout 5 s, 5 attempts, backoff 1 s .. 60 s, queue 1000, concurrency 1. */
void bm_http_post_opts_init(bm_http_post_opts *o);
void bm_http_post_opts_deinit(bm_http_post_opts *o);

/*
 * Set one delivery key: url, timeout, max_attempts, backoff, backoff_max,
 * queue, queue_bytes, concurrency, header.NAME (a sink takes those its key
 * table lists). `url_key` is what the sink calls the URL
 * ("url", "endpoint") for its messages.
 * @return 0 set, -1 bad value (reason in err), 1 not a delivery key.
 */
int bm_http_post_opts_set(bm_http_post_opts *o, const char *url_key, const char *key,
                          const char *value, char *err, size_t errlen);

/* Set the URL (checked as the `url` key is). @return 0, or -1 with err. */
int bm_http_post_opts_set_url(bm_http_post_opts *o, const char *url_key, const char *url,
                              char *err, size_t errlen);

typedef struct bm_http_post bm_http_post;

/*
 * A poster on base. `kind` and `name` are for log lines ("webhook 'pd':
 * POST https://host: HTTP 503 ..."); `what` names one body there
 * ("notification", "request"). o is moved in (o is empty after a success).
 * @return the poster (caller frees), or NULL with the reason in err.
 */
bm_http_post *bm_http_post_new(struct event_base *base, const char *kind, const char *name,
                               const char *what, bm_http_post_opts *o, char *err, size_t errlen);

/*
 * Queue one body (copied) with its content type (NULL: application/json).
 * Never blocks. @return BM_SINK_QUEUED, BM_SINK_DROPPED (queue full, by count
 * or bytes), or
 * BM_SINK_ERROR (no body, a bad content type, out of memory); counted.
 */
bm_sink_result bm_http_post_send(bm_http_post *p, const char *body, size_t len,
                                 const char *content_type);

/* Bodies held now (waiting, in flight, waiting to retry). */
uint32_t bm_http_post_held(const bm_http_post *p);
/* The queue bound. */
uint32_t bm_http_post_queue_max(const bm_http_post *p);

/* sink.h's flush contract: cb(self_for_cb, abandoned, arg) once, from the loop. */
void bm_http_post_flush(bm_http_post *p, int64_t timeout_ms, bm_sink_flush_cb cb,
                        void *self_for_cb, void *arg);

/* The counters (sink.h's bm_sink_stats). */
void bm_http_post_stats(const bm_http_post *p, bm_sink_stats *out);

/* Free; what is held is lost and counted failed. NULL is a no-op. */
void bm_http_post_free(bm_http_post *p);

#endif
