/*
 * sink.h - the output layer's one interface: every destination busmon
 * writes to is a sink, an instance of a sink type (a table of functions),
 * made from key/value configuration and fed by topic.
 *
 *   type           writes                                  made from
 *   ----           ------                                  ---------
 *   redis_stream   XADD <stream> MAXLEN ~ N * m <msgpack>  the alerts, rollups,
 *                  json <json>; PUBLISH <channel> <json>   health and system outputs
 *   redis_hash     HSET <key> field value ... and HDEL     busmon:workers,
 *                  <key> gone... (merge), or MULTI DEL     busmon:alerts:firing
 *                  HSET EXEC (replace)
 *   webhook        HTTP POST of the body (libcurl multi    alerts.webhooks,
 *                  in the loop; retries, backoff, bounded  outputs.sinks
 *                  queue; generic, Slack, PagerDuty or
 *                  Alertmanager bodies)
 *   otlp           OTLP/HTTP JSON: spans batched into      otlp:, outputs.sinks
 *                  POST <endpoint>/v1/traces, metrics
 *                  into POST <endpoint>/v1/metrics (the
 *                  same delivery as webhook: http_post.h)
 *   email          one mail per alert over SMTP (libcurl      alerts.sinks, the guides'
 *                  multi in the loop; STARTTLS, AUTH, rate    alerting.channels
 *                  limit with a summary mail, retries)
 *
 * Topics say what a message is; a sink takes the topics its configuration
 * names (`topics:`) of those its type carries in its format (the table in
 * sink.c: e.g. a redis_hash takes workers and alerts_firing, an email
 * alert, otlp spans and metrics; any other is refused), and each producer
 * (jobs/publisher.c, jobs/alerting.c, jobs/sysmon.c) emits on its topics
 * through the outputs set (outputs/outputs.h), never to a destination by
 * name:
 *
 *   alert          one alert transition (firing, repeat, resolved)
 *   alerts_firing  every alert firing now, plus those just resolved, once
 *                  per evaluation (Alertmanager, the firing hash)
 *   rollup         the periodic rollup (workers, events, errors)
 *   workers        worker name -> its state (hash fields)
 *   health         one worker health transition
 *   system         one system metrics sample
 *   spans          one finished transaction's OTLP spans (JSON objects separated
 *                  by commas; jobs/finisher.c), for the otlp sink to batch
 *   metrics        the workers' OTLP metrics (JSON Metric objects separated by
 *                  commas; jobs/otlp_metrics.c), every otlp.metrics_interval
 *
 * Bodies are never built by a sink: the producer's builder makes the body
 * in the sink's `format` (proto/alert.h has the one list of format names:
 * generic = busmon's own record, slack, pagerduty, alertmanager) and the
 * sink copies what it keeps. A sink never blocks the loop.
 *
 * Contracts of a sink type (every function takes what init returned):
 *   init   reads its own keys (common keys are not passed), with `name` for
 *          log lines; never blocks. @return the instance, or NULL with one
 *          line in err.
 *   emit   takes (copies) a body; never blocks, never calls back into the
 *          caller. @return a bm_sink_result.
 *   flush  calls cb once, from the loop (never from inside flush), when
 *          nothing is left to deliver, or at timeout_ms with what was given
 *          up. The sink may be freed from inside cb.
 *   stats  fills the counters.
 *   free   releases everything (what is still queued is lost and counted
 *          failed); self may be NULL.
 */
#ifndef BM_OUTPUTS_SINK_H
#define BM_OUTPUTS_SINK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bm_writer;

typedef enum {
    BM_TOPIC_ALERT = 0,
    BM_TOPIC_ALERTS_FIRING,
    BM_TOPIC_ROLLUP,
    BM_TOPIC_WORKERS,
    BM_TOPIC_HEALTH,
    BM_TOPIC_SYSTEM,
    BM_TOPIC_SPANS,
    BM_TOPIC_METRICS,
    BM_TOPIC__COUNT
} bm_topic;

/* "alert", "alerts_firing", "rollup", "workers", "health", "system", "spans", "metrics". */
const char *bm_topic_name(bm_topic t);
/* @return the topic, or -1. */
int bm_topic_parse(const char *s);

/* One hash field and its value (bytes, not NUL-terminated). A NULL value
 * removes the field (HDEL) from a merge-mode hash: what left the set. */
typedef struct {
    const char *field;
    size_t field_len;
    const char *value;
    size_t value_len;
} bm_sink_field;

/* One message body, borrowed for the length of the call (emit copies it). */
typedef struct {
    const char *data;         /* the body as text (JSON): POSTed by webhooks; field json and the
                                 PUBLISH of a Redis stream */
    size_t len;
    const char *content_type; /* "application/json" when NULL */
    const char *mp;           /* the msgpack form (field m of a Redis stream), or NULL */
    size_t mp_len;
    const bm_sink_field *fields; /* a hash sink's fields */
    size_t n_fields;
    /* the fields are some of the set (one worker's update between two whole
     * sets): a replace-mode hash merges them instead */
    int partial;
    uint32_t n_items;            /* topic spans: the spans in data */
} bm_sink_body;

/* One configuration key and its value, as written. */
typedef struct {
    const char *key;
    const char *value;
} bm_sink_kv;

/* A key a sink type takes (tables end with {NULL}); a name ending in '.' is a prefix. */
typedef struct {
    const char *name;
    const char *default_value; /* as written; NULL: required, or no default */
    const char *help;
} bm_sink_key;

typedef enum {
    BM_SINK_QUEUED = 0, /* taken: delivered, retried or counted failed later */
    BM_SINK_DROPPED,    /* refused: queue full or no connection (counted in `dropped`) */
    BM_SINK_ERROR       /* nothing to send or out of memory (counted in `dropped`) */
} bm_sink_result;

/* A sink's counters (totals since init, except the two gauges). */
typedef struct {
    uint64_t emitted;        /* bodies offered */
    uint64_t sent;           /* delivered (HTTP 2xx, Redis OK) */
    uint64_t failed;         /* given up: attempts used, a 4xx, an error reply, the flush deadline */
    uint64_t retried;        /* attempts after the first */
    uint64_t dropped;        /* refused by emit (also: a topic it cannot carry) */
    uint64_t queue_bytes_dropped; /* of those, refused for the bytes held (HTTP queue_bytes) */
    uint64_t attempt_errors; /* attempts that failed, retried or not */
    uint64_t rate_limited;   /* taken but not sent: over the sink's rate limit (e-mail) */
    /* items a receiver refused in a 2xx reply (OTLP's partial success): spans, data points */
    uint64_t otlp_rejected_spans, otlp_rejected_points;
    /* 2xx replies whose body was not read as an OTLP JSON response (protobuf, not OTLP) */
    uint64_t otlp_unread_traces, otlp_unread_metrics;
    uint32_t in_flight;      /* gauge: on the wire now */
    uint32_t queued;         /* gauge: held (waiting, in flight, waiting to retry) */
} bm_sink_stats;

/* What a sink type may use. */
typedef struct {
    struct event_base *base;  /* the loop */
    struct bm_writer *writer; /* Redis writes (NULL where no Redis sink can be made) */
} bm_sink_env;

/* Told when a flush ends: `abandoned` bodies were given up at the deadline. */
typedef void (*bm_sink_flush_cb)(void *sink, uint64_t abandoned, void *arg);

typedef struct {
    const char *name;        /* the `type:` value */
    const bm_sink_key *keys; /* its own keys, ending with {NULL} */
    void *(*init)(const bm_sink_env *env, const char *name, const bm_sink_kv *kv, size_t n_kv,
                  char *err, size_t errlen);
    bm_sink_result (*emit)(void *self, bm_topic topic, const bm_sink_body *body);
    void (*flush)(void *self, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg);
    void (*stats)(const void *self, bm_sink_stats *out);
    void (*free)(void *self);
} bm_sink_type;

extern const bm_sink_type bm_sink_webhook;      /* outputs/webhook.c */
extern const bm_sink_type bm_sink_email;        /* outputs/email.c */
extern const bm_sink_type bm_sink_redis_stream; /* outputs/redis_sinks.c */
extern const bm_sink_type bm_sink_redis_hash;   /* outputs/redis_sinks.c */
extern const bm_sink_type bm_sink_otlp;         /* outputs/otlp.c */

/* The common keys every sink takes: type, name, format, routing_key, topics. */
extern const bm_sink_key bm_sink_common_keys[];

/* The sink type called `name`, or NULL. */
const bm_sink_type *bm_sink_type_find(const char *name);

/* ---- one configured sink ---------------------------------------------- */

typedef struct bm_sink bm_sink;

/*
 * A sink from its configuration: the common keys (`type`, default
 * "webhook"; `name`, default the type; `format`, default "generic";
 * `routing_key`, required for format pagerduty; `topics`, a comma list,
 * default "alert" — "alerts_firing" for format alertmanager and type
 * redis_hash, "spans,metrics" for type otlp), then the type's own keys. An
 * unknown key, a bad value, a missing required key or a topic the type
 * cannot carry in its format (sink.c's table) is refused. Strings are
 * copied; nothing is sent.
 * @return the sink (caller frees), or NULL with "sink 'NAME': reason" in err.
 */
bm_sink *bm_sink_new(const bm_sink_env *env, const bm_sink_kv *kv, size_t n_kv, char *err,
                     size_t errlen);
/* Release; anything still queued is lost. NULL is a no-op. */
void bm_sink_free(bm_sink *s);

/*
 * Check a configuration the way bm_sink_new would, without keeping the
 * sink (and for Redis types, without a connection). @return 0, or -1 with
 * the reason in err.
 */
int bm_sink_check(const bm_sink_kv *kv, size_t n_kv, char *err, size_t errlen);

const char *bm_sink_name(const bm_sink *s);
const char *bm_sink_type_name(const bm_sink *s);
/* The canonical body format name (proto/alert.h). */
const char *bm_sink_format(const bm_sink *s);
/* A configured key's value as written, or NULL. Borrowed. */
const char *bm_sink_option(const bm_sink *s, const char *key);
/* The sink takes topic t. */
int bm_sink_takes(const bm_sink *s, bm_topic t);

/*
 * Builds the body of one message on `topic` for `sink` (its format and
 * options read from it). out->data must stay valid until release.
 * @return 0 built, 1 nothing for this sink (not counted), -1 failed
 * (counted in `dropped`).
 */
typedef int (*bm_sink_build_cb)(const bm_sink *sink, bm_topic topic, bm_sink_body *out,
                                void *arg);
typedef void (*bm_sink_release_cb)(bm_sink_body *body, void *arg);

/* build, emit, release. @return a bm_sink_result (BM_SINK_ERROR when build
 * failed, or when the sink cannot carry `topic`: counted in `dropped`, never
 * built; BM_SINK_QUEUED when build had nothing to send). */
bm_sink_result bm_sink_emit_built(bm_sink *s, bm_topic topic, bm_sink_build_cb build,
                                  bm_sink_release_cb release, void *arg);

/* Deliver what is held within timeout_ms, then cb(sink, abandoned, arg). */
void bm_sink_flush(bm_sink *s, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg);

void bm_sink_get_stats(const bm_sink *s, bm_sink_stats *out);

#endif
