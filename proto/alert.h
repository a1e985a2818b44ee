/*
 * alert.h - one alert notification (a transition of one alert instance) and
 * every way busmon writes it down:
 *
 *   - the record: msgpack (field `m`) and JSON (field `json`) of an entry of
 *     the `busmon:alerts` stream, the same JSON as the alerts channel's
 *     message and as the generic webhook body;
 *   - the webhook bodies: Slack-compatible (attachments coloured by
 *     severity), PagerDuty Events v2 (trigger / resolve with a stable
 *     dedup_key), Prometheus Alertmanager v2 (`POST /api/v2/alerts`).
 *
 * bm_alert is plain data, filled by lib/alerts.c; proto/README.md ("Alerts")
 * is the human spec. Not here: evaluating rules (lib/alerts.h), sending
 * anything (agent/).
 *
 * Pure: no I/O, no clock. JSON via jansson, msgpack via msgpack-c.
 */
#ifndef BM_PROTO_ALERT_H
#define BM_PROTO_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "rollup.h"

#define BM_ALERT_NAME_MAX      64 /* rule names: [A-Za-z0-9_.-], 1..63 characters */
#define BM_ALERT_LABELS_MAX    8  /* labels of one alert, the scope's label included */
#define BM_ALERT_LABEL_KEY_MAX 64 /* label keys: [A-Za-z_][A-Za-z0-9_]*, 1..63 (Prometheus) */
#define BM_ALERT_LABEL_VAL_MAX BM_NAME_MAX
#define BM_ALERT_DESC_MAX      512

typedef enum {
    BM_SEVERITY_INFO = 0,
    BM_SEVERITY_WARNING,
    BM_SEVERITY_ERROR,
    BM_SEVERITY_CRITICAL,
    BM_SEVERITY__COUNT
} bm_severity;

/* "info", "warning", "error", "critical" (PagerDuty's four, in order). */
const char *bm_severity_name(bm_severity s);
/* @return the severity, or -1 for an unknown name (case-insensitive). */
int bm_severity_parse(const char *s);

/* What a notification says about its alert. */
typedef enum {
    BM_ALERT_FIRING = 0, /* began firing (its `for` has elapsed) */
    BM_ALERT_RESOLVED,   /* stopped firing (condition false, or its worker/stream is gone) */
    BM_ALERT_REPEAT      /* still firing, the cooldown has elapsed since the last notification */
} bm_alert_state;

/* "firing", "resolved", "repeat". */
const char *bm_alert_state_name(bm_alert_state s);

typedef struct {
    char key[BM_ALERT_LABEL_KEY_MAX];
    char value[BM_ALERT_LABEL_VAL_MAX];
} bm_alert_label;

/*
 * One notification. The labels identify the alert instance: the scope's
 * label (`worker`, `stream` or `error_type`, absent for a global rule) and
 * the rule's own labels, sorted by key. `fingerprint` = bm_alert_fingerprint
 * of rule + labels: the same alert has the same fingerprint across
 * notifications, restarts and agents.
 */
typedef struct {
    char rule[BM_ALERT_NAME_MAX];
    bm_alert_state state;
    bm_severity severity;
    unsigned n_labels;
    bm_alert_label labels[BM_ALERT_LABELS_MAX];
    char metric[32]; /* "error_rate", ... */
    char op[4];      /* ">", ">=", "<", "<=", "==", "!=" */
    char window[8];  /* "5m"; "" for metrics without a window */
    double value;    /* the metric's value at ts (last known when gone) */
    double threshold;
    char description[BM_ALERT_DESC_MAX]; /* the rule's template, filled in */
    int64_t starts_at_us;                /* when it began firing */
    int64_t ends_at_us;                  /* when it resolved; 0 while firing */
    int64_t ts_us;                       /* when this notification was made */
    uint64_t fingerprint;
} bm_alert;

/*
 * Stable 64-bit fingerprint of an alert instance: FNV-1a over the rule name
 * and the labels sorted by key ("rule\0k1\0v1\0k2\0v2\0..."), independent
 * of the order of `labels`.
 */
uint64_t bm_alert_fingerprint(const char *rule, const bm_alert_label *labels, unsigned n_labels);
/* 16 lower-case hex digits and a NUL. */
void bm_alert_fingerprint_hex(uint64_t fp, char out[17]);

/* The value of label `key`, or NULL. */
const char *bm_alert_label_get(const bm_alert *a, const char *key);

/*
 * A metric value as people read it, the same in descriptions and bodies:
 * integers without a fraction ("12", "10000"), |v| >= 100 with one decimal
 * ("5123.5"), smaller values with 4 significant digits ("0.3412", "12.35").
 * @return the length written.
 */
int bm_alert_format_value(double v, char out[32]);

struct json_t;
struct msgpack_sbuffer;

/*
 * The record (README "Alerts"): {rule, state, severity, fingerprint, labels,
 * metric, op, window, value, threshold, description, starts_at, ends_at, ts,
 * agent}, times in integer µs since epoch; `ends_at` only when resolved,
 * `window` only when set, `agent` only when not NULL.
 * @return a new object (caller json_decref's), or NULL (out of memory).
 */
struct json_t *bm_alert_to_json(const bm_alert *a, const char *agent);
/*
 * The record as compact JSON text: the `json` field of a `busmon:alerts`
 * entry and the channel's message. Numbers are written with 15 significant
 * digits (0.34, not 0.34000000000000002); the msgpack record is exact.
 * @return a NUL-terminated string (caller free()s) and its length in *len
 * (when not NULL), or NULL (out of memory).
 */
char *bm_alert_record_text(const bm_alert *a, const char *agent, size_t *len);
/* The same record as one msgpack map, appended to out. @return 0 or -1. */
int bm_alert_encode_msgpack(const bm_alert *a, const char *agent, struct msgpack_sbuffer *out);

struct msgpack_object;

/*
 * The msgpack record back into *out, from msgpack-c's object tree (the
 * `m` field of a `busmon:alerts` entry, or an alert of the state
 * checkpoint's history). `agent` is not kept. Unknown keys are skipped; a
 * missing key, a string longer than its field, an unknown state or
 * severity, more than BM_ALERT_LABELS_MAX labels, or a fingerprint that is
 * not the one of rule + labels is refused.
 * @return 0, or -1 with the reason in err (silent).
 */
int bm_alert_decode_msgpack(const struct msgpack_object *o, bm_alert *out, char *err,
                            size_t errlen);

/* Webhook body formats. */
typedef enum {
    BM_ALERT_BODY_JSON = 0,     /* the record above */
    BM_ALERT_BODY_SLACK,        /* Slack incoming webhook (also Mattermost, Rocket.Chat) */
    BM_ALERT_BODY_PAGERDUTY,    /* PagerDuty Events API v2 (POST .../v2/enqueue) */
    BM_ALERT_BODY_ALERTMANAGER, /* Prometheus Alertmanager (POST /api/v2/alerts) */
    BM_ALERT_BODY__COUNT
} bm_alert_body_format;

/* The one list of body format names every sink's `format:` takes:
 * "generic" (busmon's own record), "slack", "pagerduty", "alertmanager". */
const char *bm_alert_body_format_name(bm_alert_body_format f);
/* Case-insensitive; "json" and "record" also name the record. @return the format, or -1. */
int bm_alert_body_format_parse(const char *s);

/* What a body needs besides the alert (all borrowed, all optional unless said). */
typedef struct {
    const char *agent;         /* the agent's consumer name: record `agent`, Slack footer,
                                  PagerDuty payload.source (default "busmon") */
    const char *generator_url; /* a link back (dashboard): Alertmanager generatorURL, Slack
                                  title_link, PagerDuty client_url */
    const char *routing_key;   /* PagerDuty integration key: required for BM_ALERT_BODY_PAGERDUTY */
    int64_t firing_valid_us;   /* Alertmanager: a firing alert's endsAt = ts + this, so it
                                  resolves by itself unless sent again (> 0); 0: no endsAt
                                  (Alertmanager's resolve_timeout applies) */
} bm_alert_body_opts;

/*
 * The body of one notification in format `f` as a JSON value (an array of
 * one alert for Alertmanager). `o` may be NULL (all defaults).
 * @return a new value (caller json_decref's), or NULL: out of memory, or
 * PagerDuty without a routing key.
 */
struct json_t *bm_alert_body_json(bm_alert_body_format f, const bm_alert *a,
                                  const bm_alert_body_opts *o);

/*
 * Alertmanager takes several alerts in one POST: the array of n alerts.
 * @return a new array (caller json_decref's), or NULL.
 */
struct json_t *bm_alert_alertmanager_json(const bm_alert *alerts, size_t n,
                                          const bm_alert_body_opts *o);

/*
 * bm_alert_body_json serialized compactly, numbers with 15 significant
 * digits (BM_ALERT_BODY_JSON gives bm_alert_record_text). @return a NUL-terminated string
 * (caller free()s) and its length in *len (when not NULL), or NULL.
 */
char *bm_alert_body(bm_alert_body_format f, const bm_alert *a, const bm_alert_body_opts *o,
                    size_t *len);

/*
 * A one-line summary: "[FIRING] high_error_rate worker=flaky" (the state in
 * capitals, "STILL FIRING" for a repeat, then the rule and its labels).
 * Used as the Alertmanager summary, the Slack title and the PagerDuty
 * summary's prefix. @return the length it needed (snprintf rule).
 */
int bm_alert_summary(const bm_alert *a, char *buf, size_t n);

#endif
