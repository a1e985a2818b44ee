/*
 * event.h - the inbound event envelope and its decoder (proto/README.md §1-§6).
 *
 * One Redis stream entry (or one pub/sub message body) is one event. The
 * decoder detects the encoding per entry:
 *
 *   1. msgpack  - a field `m` or `msgpack` holding a msgpack map;
 *   2. JSON     - a field `json`, `data`, `event` or `envelope` holding a JSON
 *                 object, in busmon's own key names or in the MultiAgents
 *                 Framework's wire shape (nested `metadata`, `command_id`,
 *                 `success`, `error_details.error_type`, ...);
 *   3. flat     - the entry's own field/value pairs (`type`, `tx`, ...).
 *
 * A pub/sub message is its JSON body plus the channel it arrived on; the
 * channel name (`multiagent:result.<worker>`, ...) supplies the type and the
 * worker where the body lacks them (bm_decode_pubsub, bm_channel_scheme).
 *
 * Each decoder fills a bm_event whose strings live in the decoder's scratch memory.
 * It is pure: no I/O, no clock, no logging. A failure returns a named reason
 * (bm_decode_status) so the caller can count it and dead-letter the entry.
 *
 * Not here: what an event *means* for a trace (lib/trace.c) or where the
 * entry came from (agent/).
 */
#ifndef BM_PROTO_EVENT_H
#define BM_PROTO_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BM_EV_COMMAND = 0,
    BM_EV_RESULT,
    BM_EV_ERROR,
    BM_EV_STATUS,
    BM_EV_COMPENSATION,
    BM_EV_CUSTOM,
    BM_EV__COUNT
} bm_event_type;

/* Why an entry could not be used. Stable names: they appear in the dead-letter
 * stream's `reason` field and in metrics labels. */
typedef enum {
    BM_DECODE_OK = 0,
    BM_DECODE_EMPTY,           /* "empty": no fields / empty body */
    BM_DECODE_OVERSIZED,       /* "oversized": entry or a field above the size bound */
    BM_DECODE_NOT_MSGPACK,     /* "not_msgpack": `m` is not one complete msgpack object */
    BM_DECODE_NOT_MAP,         /* "msgpack_not_map": `m` decodes to something else than a map */
    BM_DECODE_NOT_JSON,        /* "not_json": the JSON field does not parse */
    BM_DECODE_JSON_NOT_OBJECT, /* "json_not_object": it parses, but is not an object */
    BM_DECODE_MISSING_TYPE,    /* "missing_type" */
    BM_DECODE_UNKNOWN_TYPE,    /* "unknown_type" */
    BM_DECODE_MISSING_TX,      /* "missing_tx": command/result/error/... without a transaction */
    BM_DECODE_MISSING_WORKER,  /* "missing_worker": command/error without a worker */
    BM_DECODE_BAD_FIELD,       /* "bad_field": a known key has an unusable value (ts, ok, ...) */
    BM_DECODE_BAD_ID,          /* "bad_id": an id or name (tx, worker, step, type, id, error type,
                                  a pub/sub channel...) is not text: NUL, control character,
                                  invalid UTF-8, or longer than max_id_bytes (text.c) */
    BM_DECODE_NOMEM,           /* "nomem" */
    BM_DECODE__COUNT
} bm_decode_status;

/* The stable lower-case name of a status ("ok", "not_msgpack", ...); these names and
 * texts are proto/event_names.c. */
const char *bm_decode_status_name(bm_decode_status st);
/* A person-readable detail for a decode failure (the `error` field of a dead-letter). */
const char *bm_decode_status_detail(bm_decode_status st);

/* "command", "result", "error", "status", "compensation", "custom". */
const char *bm_event_type_name(bm_event_type t);

/*
 * An error as one text, "Type: message", for people: the type once even
 * when the message already starts with it (the MultiAgents Framework
 * writes "RateLimitError: simulated failure" as the message of a
 * RateLimitError); either part may be empty or NULL. @return the length it
 * needed (snprintf rule).
 */
int bm_error_text(const char *type, const char *message, char *buf, size_t n);

#define BM_EVENT_MAX_ATTRS 8
/* Tags a metric event keeps; further ones are dropped and counted (tags_dropped). */
#define BM_EVENT_MAX_TAGS 16

/* What a metric event measures (proto/README.md "Metric events"). */
typedef enum {
    BM_METRIC_HISTOGRAM = 0, /* a value per observation: count, sum, min, max, quantiles */
    BM_METRIC_COUNTER,       /* an increment: sum and rate */
    BM_METRIC_GAUGE,         /* a level: last, min, max */
    BM_METRIC__COUNT
} bm_metric_kind;

/* "histogram", "counter", "gauge". */
const char *bm_metric_kind_name(bm_metric_kind k);

typedef struct {
    const char *key;
    const char *value; /* already redacted ("[REDACTED]") when the key looks secret */
} bm_attr;

/*
 * A decoded event. Every string is NUL-terminated and never NULL: an absent
 * value is "". All strings are borrowed from the decoder (valid until the next
 * decode call on it, or bm_decoder_free); copy what you keep.
 *
 * Where a result names no worker, `worker` is `metadata.source` when present,
 * else "" (the trace fills it from the command it answers).
 */
typedef struct {
    bm_event_type type;
    const char *id;      /* event id; "" when absent (caller substitutes the stream id) */
    const char *tx;      /* transaction id */
    const char *corr;    /* correlation id */
    const char *cmd;     /* result/error: id of the command answered */
    const char *worker;  /* worker name / type */
    const char *step;    /* workflow step or command name */
    const char *source;  /* producer */
    const char *status;  /* status events: the status text ("running", "completed", ...) */
    const char *message; /* status events: free text */
    const char *error_type;    /* "" unless an error / failed result */
    const char *error_message; /* "" unless an error / failed result; bounded, may be cut */
    int64_t ts_us;       /* event time, µs since epoch; 0 = absent (caller fills) */
    int64_t duration_us; /* reported execution time; -1 = absent */
    int ok;              /* results: 1 success, 0 failure, -1 not said */
    int attempt;         /* retry count; -1 absent */
    int priority;        /* -1 absent */
    double timeout_s;    /* commands: timeout_seconds; 0 absent */
    double progress;     /* status events: progress; -1 absent */
    uint32_t payload_bytes; /* size of the opaque payload, 0 if none */
    unsigned n_attrs;
    bm_attr attrs[BM_EVENT_MAX_ATTRS]; /* other scalar keys, first ones kept */
    /* A metric event (type `metric`, or `custom` with a `name` or `value`):
     * metric_name is not "" exactly then. */
    const char *metric_name;      /* an identity (text.c), like a worker name */
    double metric_value;          /* finite */
    bm_metric_kind metric_kind;   /* default histogram */
    unsigned n_tags;              /* tags kept, in the order met */
    bm_attr tags[BM_EVENT_MAX_TAGS]; /* key -> value, both identities, keys distinct */
    unsigned tags_dropped;        /* tags past BM_EVENT_MAX_TAGS, or not scalars */
} bm_event;

/* Bounds enforced while decoding. Zero means "use the default". */
typedef struct {
    size_t max_entry_bytes;  /* sum of all field and value lengths; default 1 MiB */
    size_t max_string_bytes; /* status words, attribute keys: cut to this; default 512 */
    size_t max_message_bytes; /* error/status messages: longer ones are cut; default 1024 */
    size_t max_id_bytes;      /* ids and names (bm_identity_check): longer ones are refused
                                 as bad_id; default 256, at most BM_ID_MAX */
} bm_decode_limits;

/* The largest max_id_bytes: every name busmon keeps fits BM_NAME_MAX (proto/rollup.h). */
#define BM_ID_MAX 256

typedef struct bm_decoder bm_decoder;

/* @return a decoder, or NULL when out of memory. Caller frees with bm_decoder_free.
 * max_id_bytes above BM_ID_MAX is taken as BM_ID_MAX. */
bm_decoder *bm_decoder_new(const bm_decode_limits *limits);
void bm_decoder_free(bm_decoder *d);

/*
 * Why the last decode on d failed with st, for a dead-letter's `error`
 * field: the particular reason when the decoder knows it ("worker holds a
 * NUL byte at byte 3"), else bm_decode_status_detail(st).
 * @return a string borrowed from d (valid until its next decode).
 */
const char *bm_decoder_detail(const bm_decoder *d, bm_decode_status st);

/*
 * Is [s, s+len) an identity (text.c): valid UTF-8, no control character
 * (NUL included), at most max_bytes bytes (0: no bound)? `what` names it in
 * the reason ("worker").
 * @return 0, or -1 with "WHAT holds a NUL byte at byte 3" in why (NULL: none).
 */
int bm_identity_check(const char *what, const char *s, size_t len, size_t max_bytes, char *why,
                      size_t whylen);

/*
 * Copy len bytes of free text from src to dst (room for len bytes) with
 * every byte of an invalid UTF-8 sequence as '?'. @return len.
 */
size_t bm_text_scrub(char *dst, const char *src, size_t len);

/*
 * src (NULL: "") as a terminal may show it: C0 controls, DEL, the C1 code
 * points U+0080-U+009F and the bytes of invalid UTF-8 each as "\xNN" (the
 * byte, or the C1 code point), the rest kept. A terminal obeys escape
 * sequences and a newline forges a line: every text view prints what came
 * from events through this. Cut to cap - 1 bytes between characters and
 * escapes, NUL-terminated. @return the length written.
 */
size_t bm_text_for_terminal(char *dst, size_t cap, const char *src);
/* The same, and into *src_used (NULL: not wanted) how many bytes of src it
 * shows: strlen(src) when whole, fewer when cut (a view that cuts says so). */
size_t bm_text_for_terminal_part(char *dst, size_t cap, const char *src, size_t *src_used);

/* How many of the len bytes of UTF-8 text at s to keep for at most max
 * bytes: never the start of a character without its end (a cut character
 * would make the text not UTF-8, and not JSON). @return <= max, <= len. */
size_t bm_text_cut(const char *s, size_t len, size_t max);

/*
 * Decode one stream entry given as `n` field/value pairs (borrowed).
 * Detects the encoding: `m`/`msgpack` field -> msgpack; `json`/`data`/
 * `event`/`envelope` -> JSON; else flat fields.
 * @return BM_DECODE_OK and fills *ev (strings borrowed from d), or the reason.
 */
bm_decode_status bm_decode_entry(bm_decoder *d, size_t n, const char *const *fields,
                                 const size_t *field_lens, const char *const *values,
                                 const size_t *value_lens, bm_event *ev);

/* Decode a msgpack map (the `m` field alone, or one stored trace record). */
bm_decode_status bm_decode_msgpack(bm_decoder *d, const char *buf, size_t len, bm_event *ev);

/* Decode a JSON object (the `json` field alone, or a pub/sub message body). */
bm_decode_status bm_decode_json(bm_decoder *d, const char *buf, size_t len, bm_event *ev);

/*
 * Pub/sub channel naming (proto/README.md §3.4). A framework that publishes on Redis
 * pub/sub names the event in the channel:
 *
 *   <prefix><word>[<separator><name>]
 *
 *   multiagent:command.research       command for worker "research"
 *   multiagent:result.research        result from worker "research"
 *   multiagent:status.workflow        status (the name says nothing more)
 *   multiagent:compensation.refund    compensation performed by "refund"
 *
 * `word` is one of the segment words below; `name` (everything after the
 * first separator, dots included) is the worker for command, result, error
 * and compensation channels and is ignored for status channels. Matching is
 * byte-exact (case-sensitive). All strings are borrowed: they must outlive
 * every call that uses the scheme. A NULL or "" word turns that mapping off;
 * a NULL prefix is "" (every channel is tried).
 */
typedef struct {
    const char *prefix;       /* "multiagent:" */
    const char *separator;    /* between word and name: "." (NULL or "" = ".") */
    const char *command;      /* "command" */
    const char *result;       /* "result" */
    const char *error;        /* "error" (the framework has no such channel; harmless) */
    const char *status;       /* "status" */
    const char *compensation; /* "compensation" */
} bm_channel_scheme;

/* Fill *s with the MultiAgents Framework's scheme (the values in the comments
 * above). Change fields afterwards to follow another naming scheme. */
void bm_channel_scheme_default(bm_channel_scheme *s);

/*
 * Read a channel name with a scheme (NULL = the default scheme).
 * @return 1 when the channel matches: *type is set, and *name / *name_len
 *         point into `channel` at the worker it names (length 0 when it names
 *         none, and always 0 for status); 0 when it matches nothing (the
 *         outputs are left untouched).
 */
int bm_channel_match(const bm_channel_scheme *scheme, const char *channel, size_t channel_len,
                     bm_event_type *type, const char **name, size_t *name_len);

/*
 * Decode one pub/sub message: `body` is a JSON object (as bm_decode_json),
 * `channel` the channel it arrived on (both borrowed; neither need be
 * NUL-terminated; channel may be NULL). Where the body has no type, the
 * channel's type is used; where the body names no worker (`worker`,
 * `worker_name`, `worker_type`), the channel's name is the worker. The body
 * always wins: a body type, even an unknown one, is never replaced, and a
 * result or error whose body names no worker but has a `source` (the
 * framework's `metadata.source`) keeps `source` as its worker, as in every
 * other encoding (in the framework the two are the same). A channel that
 * matches nothing is ignored: the body is decoded alone.
 * @return as bm_decode_json: BM_DECODE_OK and fills *ev (strings borrowed
 *         from d), or the reason (empty, oversized, not_json, missing_type...).
 */
bm_decode_status bm_decode_pubsub(bm_decoder *d, const bm_channel_scheme *scheme,
                                  const char *channel, size_t channel_len, const char *body,
                                  size_t body_len, bm_event *ev);

/*
 * Parse a time: ISO-8601 ("2024-01-15T10:30:00", optional fraction of any
 * length, optional "Z" or "+hh:mm"/"-hh:mm"; no zone = UTC) or a decimal
 * number. Numbers are read by magnitude: >= 1e17 ns, >= 1e14 µs, >= 1e11 ms,
 * else seconds (fractions allowed), so a Python time.time() works as is.
 * @return 0 and *ts_us, or -1 when the text is not a time.
 */
int bm_parse_time(const char *s, size_t len, int64_t *ts_us);

/*
 * Time sanity: an event time further than max_skew_us from now_us (the
 * agent's clock) is not believed. It becomes fallback_us (the stream entry
 * id's time; the receive time for pub/sub) when that one is within the
 * skew, else now_us. max_skew_us 0: every time is believed.
 * @return 1 when *ts_us was replaced (the caller counts it), else 0.
 */
int bm_time_clamp(int64_t *ts_us, int64_t fallback_us, int64_t now_us, int64_t max_skew_us);

/*
 * Encode an event as a msgpack map in busmon's native key names (proto/README.md §1, §3.1):
 * only present values are written. Used for stored trace records (with
 * `duration_us` >= 0 written as `duration_ms`, a float) and by producers.
 * `duration_us` overrides ev->duration_us when >= 0.
 * @return 0, or -1 when out of memory. The buffer is appended to; caller owns it.
 */
struct msgpack_sbuffer;
int bm_event_encode_msgpack(const bm_event *ev, int64_t duration_us, struct msgpack_sbuffer *out);

/* True when `key` looks secret (password, token, api_key, secret, credit_card, ssn, ...). */
int bm_key_is_secret(const char *key, size_t len);

#endif
