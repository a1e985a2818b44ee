/*
 * notify.h - notification sinks: the transports that carry an already-built
 * notification body (an alert transition, later a rollup) out of the agent,
 * without ever blocking the event loop (STYLE rule 10: outputs are tables).
 *
 * A sink type is a table (bm_notify_sink_type): its name, its config keys,
 * and init / emit / flush / stats / free. A sink is one configured instance
 * of a type, made from key/value strings (the YAML layer turns one mapping
 * of `alerts.webhooks` into bm_notify_kv pairs; tests write them by hand):
 *
 *   alerts:
 *     webhooks:
 *       - name: oncall            # common keys (every type)
 *         type: webhook           #   the table; default "webhook"
 *         format: pagerduty       #   generic | slack | pagerduty | alertmanager
 *         routing_key: R0UT1NG    #   PagerDuty integration key (body option)
 *         url: https://events.pagerduty.com/v2/enqueue   # the type's own keys
 *         timeout: 5s
 *         max_attempts: 5
 *
 * Who does what:
 *
 *   caller (alerts timer)          bm_notify_sink                 sink type
 *   ---------------------          --------------                 ---------
 *   bm_notify_sink_emit_built ---> build(sink, &body, arg) ----.
 *     (format, routing_key via     (the caller's builder picks  |
 *      bm_notify_sink_format /      the body for the sink's     v
 *      bm_notify_sink_option)       format: proto/alert.h)     emit(body): copy, queue,
 *                                                              send when it can; retries,
 *                                                              backoff, drops, counters
 *
 * Bodies are never built here: proto/alert.c renders them (generic record,
 * Slack, PagerDuty Events v2, Alertmanager v2); a sink only knows which
 * format its configuration names. Not here either: deciding when to notify
 * (lib/alerts.c), the Redis stream/channel output (agent/).
 *
 * The webhook type (bm_notify_webhook) POSTs each body to its URL with
 * libcurl's multi interface driven by the caller's libevent base: per-attempt
 * timeout, retries with exponential backoff on connection errors, timeouts
 * and HTTP 5xx / 429 (never on other 4xx), a bounded queue with a drop
 * counter, and failures logged once per burst. Its keys, with their
 * defaults and a line of help each, are bm_notify_webhook.keys (notify.c).
 */
#ifndef BM_AGENT_NOTIFY_H
#define BM_AGENT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* One notification body, borrowed for the length of the call (emit copies it). */
typedef struct {
    const char *data;         /* the bytes sent, e.g. JSON text (need not end in NUL) */
    size_t len;               /* bytes in data */
    const char *content_type; /* "application/json" when NULL */
} bm_notify_body;

/* One configuration key and its value, both as written in the config. */
typedef struct {
    const char *key;
    const char *value;
} bm_notify_kv;

/* A config key a sink type takes (tables end with a {NULL} entry). */
typedef struct {
    const char *name;          /* "timeout"; a name ending in '.' is a prefix ("header.") */
    const char *default_value; /* as it would be written; NULL: required, or no default */
    const char *help;          /* one line for --help and docs */
} bm_notify_key;

/* What emit did with a body. */
typedef enum {
    BM_NOTIFY_QUEUED = 0, /* taken: it will be sent, retried or counted as failed */
    BM_NOTIFY_DROPPED,    /* the sink's queue was full: counted in `dropped`, not sent */
    BM_NOTIFY_ERROR       /* out of memory, or nothing to send (counted in `dropped`) */
} bm_notify_result;

/* A sink's counters (totals since init, except the two gauges). */
typedef struct {
    uint64_t emitted;        /* bodies offered to emit */
    uint64_t sent;           /* delivered (HTTP 2xx) */
    uint64_t failed;         /* given up: attempts exhausted, a 4xx, or the flush deadline */
    uint64_t retried;        /* attempts after the first (each one counted) */
    uint64_t dropped;        /* refused by emit: queue full (or out of memory) */
    uint64_t attempt_errors; /* attempts that failed, retried or not */
    uint32_t in_flight;      /* gauge: requests on the wire now */
    uint32_t queued;         /* gauge: bodies held (waiting, in flight, or waiting to retry) */
} bm_notify_stats;

/* Told when a flush ends: `abandoned` bodies were given up at the deadline (0: all done). */
typedef void (*bm_notify_flush_cb)(void *sink, uint64_t abandoned, void *arg);

/*
 * A sink type. Every function takes the instance init returned (`self`).
 * Contracts:
 *   init   reads its own keys from kv (the common keys are not passed), with
 *          `name` for log lines; never blocks. @return the instance, or NULL
 *          with one line in err (a bad key, value or out of memory).
 *   emit   copies the body and queues it; never blocks, never calls back
 *          into the caller. @return a bm_notify_result.
 *   flush  calls cb once, from the event loop (never from inside flush),
 *          when nothing is left to send, or at timeout_ms with what was
 *          given up. New bodies are still taken meanwhile. The sink may be
 *          freed from inside cb.
 *   stats  fills the counters.
 *   free   releases everything, pending requests included (they are lost,
 *          and counted in `failed`); self may be NULL. Not from inside a
 *          callback the sink is running, except the flush callback.
 */
typedef struct {
    const char *name;          /* "webhook": the `type` key's value */
    const bm_notify_key *keys; /* its own keys, ending with {NULL} */
    void *(*init)(struct event_base *base, const char *name, const bm_notify_kv *kv, size_t n_kv,
                  char *err, size_t errlen);
    bm_notify_result (*emit)(void *self, const bm_notify_body *body);
    void (*flush)(void *self, int64_t timeout_ms, bm_notify_flush_cb cb, void *arg);
    void (*stats)(const void *self, bm_notify_stats *out);
    void (*free)(void *self);
} bm_notify_sink_type;

/* The webhook sink: HTTP(S) POST with libcurl's multi interface on the libevent base. */
extern const bm_notify_sink_type bm_notify_webhook;

/* The common keys every sink takes, ending with {NULL}: type, name, format, routing_key. */
extern const bm_notify_key bm_notify_common_keys[];

/* The sink type called `name` ("webhook"), or NULL. */
const bm_notify_sink_type *bm_notify_type_find(const char *name);

/* ---- one configured sink ---------------------------------------------- */

typedef struct bm_notify_sink bm_notify_sink;

/*
 * A sink from its configuration: the common keys (`type`, default
 * "webhook"; `name`, default "<type>"; `format`, default "generic";
 * `routing_key`, required for format pagerduty), then the type's own keys.
 * An unknown key, a bad value or a missing required key is refused.
 * Strings are copied. Nothing is sent, and nothing blocks.
 * @return the sink (caller bm_notify_sink_free's), or NULL with one line
 * "sink 'NAME': reason" in err.
 */
bm_notify_sink *bm_notify_sink_new(struct event_base *base, const bm_notify_kv *kv, size_t n_kv,
                                   char *err, size_t errlen);

/* Release the sink; anything still queued is lost (see flush). NULL is a no-op. */
void bm_notify_sink_free(bm_notify_sink *s);

/* The instance name ("oncall"). Borrowed for the sink's life. */
const char *bm_notify_sink_name(const bm_notify_sink *s);
/* The canonical body format: "generic", "slack", "pagerduty" or "alertmanager". */
const char *bm_notify_sink_format(const bm_notify_sink *s);
/* The value of a configured key as written ("routing_key"), or NULL. Borrowed. */
const char *bm_notify_sink_option(const bm_notify_sink *s, const char *key);

/* Hand one built body to the sink (copied). @return a bm_notify_result. */
bm_notify_result bm_notify_sink_emit(bm_notify_sink *s, const bm_notify_body *body);

/*
 * Builds the body of one notification for `sink` (its format and options
 * are read from it) into *out. out->data must stay valid until the
 * builder's `release` is called (right after emit copied it).
 * @return 0, or -1 when no body can be made (counted in `dropped`).
 */
typedef int (*bm_notify_build_cb)(const bm_notify_sink *sink, bm_notify_body *out, void *arg);
/* Frees what a builder made for *body (may be NULL when nothing is to be freed). */
typedef void (*bm_notify_release_cb)(bm_notify_body *body, void *arg);

/* build, emit, release. @return a bm_notify_result (BM_NOTIFY_ERROR when build failed). */
bm_notify_result bm_notify_sink_emit_built(bm_notify_sink *s, bm_notify_build_cb build,
                                           bm_notify_release_cb release, void *arg);

/*
 * Deliver what is queued within timeout_ms (the agent's stop path), then
 * call cb(sink, abandoned, arg) from the loop; the sink may be freed there.
 */
void bm_notify_sink_flush(bm_notify_sink *s, int64_t timeout_ms, bm_notify_flush_cb cb, void *arg);

void bm_notify_sink_stats(const bm_notify_sink *s, bm_notify_stats *out);

#endif
