/*
 * webhook.c - the webhook sink type (sink.h): HTTP(S) POST of each body.
 *
 * It runs libcurl's multi interface on the caller's libevent base
 * (curl_loop.h): nothing here waits.
 *
 * A body (a job) is in exactly one list at a time:
 *
 *   emit --> waiting --pump--> in_flight --2xx--> sent, freed
 *     |        (FIFO)            |   ^  \--4xx / attempts used up--> failed, freed
 *     |                          v   |
 *     |                        backoff (its own evtimer: backoff << (attempt - 1))
 *     \--held >= queue--> dropped (never queued)
 *
 * held = waiting + in_flight + backoff is what `queue` bounds. A job in
 * backoff keeps its concurrency slot, so with concurrency 1 (the default)
 * bodies are delivered strictly in order: a PagerDuty resolve never
 * overtakes its trigger.
 *
 * Its keys, with defaults and a line of help each, are webhook_keys below.
 * Not here: building bodies (proto/alert.c), deciding what to send
 * (lib/alerts.c), the common keys (sink.c), reading YAML (agent/config/).
 */
#include "agent/outputs/sink.h"
#include "agent/outputs/curl_loop.h"
#include "agent/outputs/sink_flush.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/core/log.h"
#include "agent/core/parse.h"

/* ---- small helpers ------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* A whole number in [lo, hi] (k / M suffixes allowed). @return 0 or -1. */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    size_t v;
    if (bm_parse_size(s, &v) || v < lo || v > hi) return -1;
    *out = (unsigned long)v;
    return 0;
}

/* ---- the webhook sink --------------------------------------------------- */

#define WH_HEADERS_MAX   16
#define WH_REPLY_LOG_MAX 160 /* bytes of an answer's body kept for the log */

typedef struct webhook webhook;
typedef struct wh_job wh_job;

typedef struct {
    wh_job *head, *tail;
    uint32_t n;
} job_list;

struct wh_job {
    wh_job *prev, *next;
    job_list *list; /* the list it is in */
    webhook *wh;
    char *body; /* owned copy; the content type follows it in the same block */
    size_t len;
    const char *content_type;
    unsigned attempts; /* started so far */
    CURL *easy;        /* while in flight */
    struct curl_slist *headers;
    struct event *retry_ev; /* while in backoff (made on first use) */
    char errbuf[CURL_ERROR_SIZE];
    char reply[WH_REPLY_LOG_MAX];
    size_t reply_len;
};

struct webhook {
    struct event_base *base;
    char *name;
    char *url;
    char *url_for_log; /* scheme://host[:port] only: paths and queries carry tokens (Slack) */
    int64_t timeout_ms;
    unsigned max_attempts;
    int64_t backoff_ms, backoff_max_ms;
    uint32_t queue_max;
    uint32_t concurrency;
    char *headers[WH_HEADERS_MAX]; /* "Name: value" */
    size_t n_headers;

    bm_curl_loop *curl; /* libcurl multi on the loop */

    job_list waiting, in_flight, backoff;
    bm_sink_stats stats;

    /* failures logged once per burst */
    int failing;
    int64_t failing_since_ms;
    uint64_t burst_attempt_errors, burst_failed, burst_dropped;
    int drop_logged;

    bm_sink_flusher flush;
};

static void list_push(job_list *l, wh_job *j)
{
    j->list = l;
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static void list_remove(wh_job *j)
{
    job_list *l = j->list;
    if (!l) return;
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
    j->list = NULL;
    l->n--;
}

static uint32_t wh_held(const webhook *wh)
{
    return wh->waiting.n + wh->in_flight.n + wh->backoff.n;
}

/* Take a job out of whatever it is doing and free it (the caller counts it). */
static void job_free(wh_job *j)
{
    webhook *wh = j->wh;
    list_remove(j);
    if (j->easy) {
        bm_curl_loop_remove(wh->curl, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->headers);
    if (j->retry_ev) event_free(j->retry_ev);
    free(j->body);
    free(j);
}

static uint32_t wh_held_of(void *self)
{
    return wh_held(self);
}

static uint64_t wh_abandon_all(webhook *wh);
static uint64_t wh_abandon_of(void *self)
{
    return wh_abandon_all(self);
}

/* Drop everything held, counting it as failed. @return how many. */
static uint64_t wh_abandon_all(webhook *wh)
{
    uint64_t n = 0;
    job_list *lists[] = {&wh->in_flight, &wh->backoff, &wh->waiting};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        while (lists[i]->head) {
            job_free(lists[i]->head);
            n++;
        }
    wh->stats.failed += n;
    return n;
}

static size_t on_reply_data(char *data, size_t size, size_t nmemb, void *arg)
{
    wh_job *j = arg;
    size_t n = size * nmemb, room = sizeof j->reply - 1 - j->reply_len;
    size_t take = n < room ? n : room;
    memcpy(j->reply + j->reply_len, data, take);
    j->reply_len += take;
    j->reply[j->reply_len] = '\0';
    return n; /* the rest is read and thrown away */
}

/* -- jobs ----------------------------------------------------------------- */

static int job_headers(wh_job *j)
{
    const webhook *wh = j->wh;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", j->content_type);
    /* "Expect:" drops the 100-continue round trip curl makes before larger bodies */
    const char *lines[2 + WH_HEADERS_MAX] = {ct, "Expect:"};
    size_t n = 2;
    for (size_t i = 0; i < wh->n_headers; i++)
        lines[n++] = wh->headers[i];
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *t = curl_slist_append(h, lines[i]);
        if (!t) {
            curl_slist_free_all(h);
            return -1;
        }
        h = t;
    }
    j->headers = h;
    return 0;
}

/* Start one attempt of j (in no list). @return 0, or -1 (out of memory). */
static int job_start(webhook *wh, wh_job *j)
{
    if (!j->headers && job_headers(j) < 0) return -1;
    CURL *e = curl_easy_init();
    if (!e) return -1;
    j->errbuf[0] = '\0';
    j->reply_len = 0;
    j->reply[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, wh->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "busmon");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)wh->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)wh->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* a DNS lookup still running at the timeout: forget its resolver thread (it
       ends and frees itself) instead of joining it, which would block the loop */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    if (bm_curl_loop_add(wh->curl, e) < 0) {
        curl_easy_cleanup(e);
        return -1;
    }
    j->easy = e;
    j->attempts++;
    if (j->attempts > 1) wh->stats.retried++;
    list_push(&wh->in_flight, j);
    return 0;
}

static void wh_check_flush(webhook *wh)
{
    bm_sink_flusher_check(&wh->flush);
}

/* Note a failed attempt (or a body given up), logging only the first of a burst. */
static void wh_note_failure(webhook *wh, const char *what, int will_retry, int given_up)
{
    wh->stats.attempt_errors++;
    if (!wh->failing) {
        wh->failing = 1;
        wh->failing_since_ms = mono_ms();
        wh->burst_attempt_errors = wh->burst_failed = 0;
        wh->burst_dropped = 0;
        if (will_retry)
            bm_warn("webhook '%s': POST %s: %s (retrying, up to %u attempts a notification; "
                    "further failures are not logged until it recovers)",
                    wh->name, wh->url_for_log, what, wh->max_attempts);
        else
            bm_warn("webhook '%s': POST %s: %s (notification given up; further failures are not "
                    "logged until it recovers)",
                    wh->name, wh->url_for_log, what);
    }
    wh->burst_attempt_errors++;
    if (given_up) wh->burst_failed++;
}

static void wh_note_success(webhook *wh)
{
    wh->stats.sent++;
    if (wh->failing) {
        double s = (double)(mono_ms() - wh->failing_since_ms) / 1000.0;
        bm_info("webhook '%s': POST %s delivers again after %.1f s: %llu attempt(s) failed, %llu "
                "notification(s) given up, %llu dropped meanwhile",
                wh->name, wh->url_for_log, s, (unsigned long long)wh->burst_attempt_errors,
                (unsigned long long)wh->burst_failed, (unsigned long long)wh->burst_dropped);
        wh->failing = 0;
    }
    wh->drop_logged = 0;
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg);

/* Start waiting jobs while there are free slots (a job in backoff keeps its slot). */
static void wh_pump(webhook *wh)
{
    while (wh->waiting.head && wh->in_flight.n + wh->backoff.n < wh->concurrency) {
        wh_job *j = wh->waiting.head;
        list_remove(j);
        if (job_start(wh, j) < 0) {
            wh_note_failure(wh, "out of memory", 0, 1);
            wh->stats.failed++;
            job_free(j);
        }
    }
    wh_check_flush(wh);
}

/* A curl error worth trying again? Configuration mistakes are not. */
static int curl_error_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
        return 0;
    default:
        return 1;
    }
}

/* The wait before attempt `attempts` + 1: backoff, doubled per attempt, capped. */
static int64_t wh_backoff_ms(const webhook *wh, unsigned attempts, int64_t retry_after_ms)
{
    int64_t d = wh->backoff_ms;
    for (unsigned i = 1; i < attempts && d < wh->backoff_max_ms; i++)
        d *= 2;
    if (retry_after_ms > d) d = retry_after_ms; /* a 429/503's Retry-After, when longer */
    return d < wh->backoff_max_ms ? d : wh->backoff_max_ms;
}

/* One attempt of j finished with rc (and HTTP status when rc is CURLE_OK). */
static void wh_attempt_done(webhook *wh, wh_job *j, CURLcode rc)
{
    long status = 0;
    curl_off_t retry_after_s = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &retry_after_s);
#endif
    list_remove(j);
    bm_curl_loop_remove(wh->curl, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;

    if (rc == CURLE_OK && status >= 200 && status < 300) {
        wh_note_success(wh);
        job_free(j);
        return;
    }

    char what[CURL_ERROR_SIZE + WH_REPLY_LOG_MAX + 64];
    int retryable;
    if (rc != CURLE_OK) {
        snprintf(what, sizeof what, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
        retryable = curl_error_retryable(rc);
    } else {
        /* keep the receiver's reason on one line */
        for (char *p = j->reply; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
        while (j->reply_len && j->reply[j->reply_len - 1] == ' ')
            j->reply[--j->reply_len] = '\0';
        snprintf(what, sizeof what, "HTTP %ld%s%s", status, j->reply_len ? ": " : "", j->reply);
        retryable = status >= 500 || status == 429 || status == 408;
    }
    int retry = retryable && j->attempts < wh->max_attempts;
    wh_note_failure(wh, what, retry, !retry);
    if (!retry) {
        wh->stats.failed++;
        job_free(j);
        return;
    }
    if (!j->retry_ev) j->retry_ev = evtimer_new(wh->base, on_retry_due, j);
    int64_t wait_ms = wh_backoff_ms(wh, j->attempts, (int64_t)retry_after_s * 1000);
    struct timeval tv = ms_to_tv(wait_ms);
    if (!j->retry_ev || evtimer_add(j->retry_ev, &tv) < 0) {
        wh->stats.failed++;
        job_free(j);
        return;
    }
    list_push(&wh->backoff, j);
}

/* curl_loop: one transfer finished. */
static void on_transfer_done(CURL *easy, CURLcode rc, void *arg)
{
    wh_job *j = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
    if (j) wh_attempt_done(arg, j, rc);
}

/* curl_loop: after the finished transfers, start what waits. */
static void on_curl_round(void *arg)
{
    wh_pump(arg);
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wh_job *j = arg;
    webhook *wh = j->wh;
    list_remove(j);
    if (job_start(wh, j) < 0) {
        wh_note_failure(wh, "out of memory", 0, 1);
        wh->stats.failed++;
        job_free(j);
    }
    wh_pump(wh);
}

/* -- the table's functions ------------------------------------------------ */

static const bm_sink_key webhook_keys[] = {
    {"url", NULL,
     "http(s) URL each body is POSTed to (required); for format alertmanager a URL without a "
     "path gets /api/v2/alerts"},
    {"timeout", "5s", "the longest one attempt may take, connecting included (250ms, 5s, 1m)"},
    {"max_attempts", "5", "attempts per notification, the first included (1: never retry)"},
    {"backoff", "1s", "wait before the first retry; doubled before each further one"},
    {"backoff_max", "60s", "the longest wait between two attempts (also caps Retry-After)"},
    {"queue", "1000",
     "notifications held at most (waiting, on the wire or waiting to retry); more are dropped"},
    {"concurrency", "1",
     "requests at once; 1 delivers in order (a retrying notification holds back the rest)"},
    {"header.", NULL, "header.NAME: VALUE adds a request header (e.g. header.Authorization)"},
    {NULL, NULL, NULL},
};

static void wh_free(void *self);

static int wh_set(webhook *wh, const char *key, const char *v, char *err, size_t errlen)
{
    unsigned long u;
    int64_t ms;
    if (!strcmp(key, "url")) {
        if (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8)) {
            bm_set_error(err, errlen, "'url' must start with http:// or https://, not '%s'", v);
            return -1;
        }
        CURLU *u8 = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int bad = !u8 || curl_url_set(u8, CURLUPART_URL, v, 0) != CURLUE_OK ||
                  curl_url_get(u8, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                  curl_url_get(u8, CURLUPART_HOST, &host, 0) != CURLUE_OK;
        if (!bad) curl_url_get(u8, CURLUPART_PORT, &port, 0);
        if (!bad) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s://%s%s%s", scheme, host, port ? ":" : "",
                     port ? port : "");
            free(wh->url);
            free(wh->url_for_log);
            wh->url = strdup(v);
            wh->url_for_log = strdup(buf);
            if (!wh->url || !wh->url_for_log) {
                bm_set_error(err, errlen, "out of memory");
                bad = 2;
            }
        } else {
            bm_set_error(err, errlen, "'url' is not a usable URL: '%s'", v);
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u8);
        return bad ? -1 : 0;
    }
    if (!strcmp(key, "timeout") || !strcmp(key, "backoff") || !strcmp(key, "backoff_max")) {
        int64_t us;
        if (bm_parse_duration_us(v, BM_US_PER_S, &us) != BM_PARSE_OK || us < 1000 ||
            us > BM_US_PER_DAY) {
            bm_set_error(err, errlen,
                    "'%s' must be a duration of at least 1ms (250ms, 5s, 1m), not '%s'", key, v);
            return -1;
        }
        ms = (us + 500) / 1000;
        if (key[0] == 't')
            wh->timeout_ms = ms;
        else if (!strcmp(key, "backoff"))
            wh->backoff_ms = ms;
        else
            wh->backoff_max_ms = ms;
        return 0;
    }
    if (!strcmp(key, "max_attempts")) {
        if (parse_uint(v, 1, 100, &u) < 0) {
            bm_set_error(err, errlen, "'max_attempts' must be 1-100, not '%s'", v);
            return -1;
        }
        wh->max_attempts = (unsigned)u;
        return 0;
    }
    if (!strcmp(key, "queue")) {
        if (parse_uint(v, 1, 1000000, &u) < 0) {
            bm_set_error(err, errlen, "'queue' must be 1-1000000, not '%s'", v);
            return -1;
        }
        wh->queue_max = (uint32_t)u;
        return 0;
    }
    if (!strcmp(key, "concurrency")) {
        if (parse_uint(v, 1, 64, &u) < 0) {
            bm_set_error(err, errlen, "'concurrency' must be 1-64, not '%s'", v);
            return -1;
        }
        wh->concurrency = (uint32_t)u;
        return 0;
    }
    if (!strncmp(key, "header.", 7)) {
        const char *hn = key + 7;
        size_t hl = strlen(hn);
        int ok = hl > 0 && hl < 128 && strcspn(v, "\r\n") == strlen(v);
        for (const char *p = hn; ok && *p; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '_';
        if (!ok) {
            bm_set_error(err, errlen,
                    "'%s': a header needs a name of letters, digits, '-' and '_', "
                    "and a value on one line",
                    key);
            return -1;
        }
        if (!strcasecmp(hn, "Content-Type") || !strcasecmp(hn, "Content-Length")) {
            bm_set_error(err, errlen, "'%s' is set by busmon", key);
            return -1;
        }
        if (wh->n_headers == WH_HEADERS_MAX) {
            bm_set_error(err, errlen, "at most %d headers", WH_HEADERS_MAX);
            return -1;
        }
        size_t n = hl + strlen(v) + 3;
        char *h = malloc(n);
        if (!h) {
            bm_set_error(err, errlen, "out of memory");
            return -1;
        }
        snprintf(h, n, "%s: %s", hn, v);
        wh->headers[wh->n_headers++] = h;
        return 0;
    }
    bm_set_error(err, errlen, "unknown key '%s'", key);
    return -1;
}

static void *wh_init(const bm_sink_env *env, const char *name, const bm_sink_kv *kv, size_t n_kv,
                     char *err, size_t errlen)
{
    webhook *wh = calloc(1, sizeof *wh);
    if (!wh) {
        bm_set_error(err, errlen, "out of memory");
        return NULL;
    }
    wh->base = env->base;
    wh->timeout_ms = 5000;
    wh->max_attempts = 5;
    wh->backoff_ms = 1000;
    wh->backoff_max_ms = 60000;
    wh->queue_max = 1000;
    wh->concurrency = 1;
    wh->name = strdup(name ? name : "webhook");
    if (!wh->name) {
        bm_set_error(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_kv; i++)
        if (wh_set(wh, kv[i].key, kv[i].value ? kv[i].value : "", err, errlen) < 0) goto fail;
    if (!wh->url) {
        bm_set_error(err, errlen, "'url' is required");
        goto fail;
    }
    wh->flush = (bm_sink_flusher){wh, wh_held_of, wh_abandon_of, "webhook", wh->name,
                                  "notification(s)", wh->base, NULL, 0, NULL, NULL};
    wh->curl = bm_curl_loop_new(wh->base, on_transfer_done, on_curl_round, wh);
    if (!wh->curl) {
        bm_set_error(err, errlen, "libcurl did not initialise");
        goto fail;
    }
    return wh;
fail:
    wh_free(wh);
    return NULL;
}

static bm_sink_result wh_emit(void *self, bm_topic topic, const bm_sink_body *body)
{
    (void)topic;
    webhook *wh = self;
    wh->stats.emitted++;
    if (wh_held(wh) >= wh->queue_max) {
        wh->stats.dropped++;
        if (wh->failing) wh->burst_dropped++;
        if (!wh->drop_logged) {
            wh->drop_logged = 1;
            bm_warn("webhook '%s': queue full (%u notifications held), dropping new ones "
                    "(counted; not logged again until it delivers)",
                    wh->name, wh->queue_max);
        }
        return BM_SINK_DROPPED;
    }
    const char *ct = body->content_type ? body->content_type : "application/json";
    size_t ct_len = strlen(ct);
    if (ct_len > 200 || strcspn(ct, "\r\n") != ct_len || (!body->data && body->len)) {
        wh->stats.dropped++;
        return BM_SINK_ERROR;
    }
    wh_job *j = calloc(1, sizeof *j);
    char *copy = malloc(body->len + 1 + ct_len + 1);
    if (!j || !copy) {
        free(j);
        free(copy);
        wh->stats.dropped++;
        return BM_SINK_ERROR;
    }
    if (body->len) memcpy(copy, body->data, body->len);
    copy[body->len] = '\0';
    memcpy(copy + body->len + 1, ct, ct_len + 1);
    j->wh = wh;
    j->body = copy;
    j->len = body->len;
    j->content_type = copy + body->len + 1;
    list_push(&wh->waiting, j);
    wh_pump(wh);
    return BM_SINK_QUEUED;
}

static void wh_flush(void *self, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    webhook *wh = self;
    bm_sink_flusher_start(&wh->flush, timeout_ms, cb, arg);
}

static void wh_stats(const void *self, bm_sink_stats *out)
{
    const webhook *wh = self;
    *out = wh->stats;
    out->in_flight = wh->in_flight.n;
    out->queued = wh_held(wh);
}

static void wh_free(void *self)
{
    webhook *wh = self;
    if (!wh) return;
    if (wh->curl) wh_abandon_all(wh);
    bm_curl_loop_free(wh->curl);
    bm_sink_flusher_deinit(&wh->flush);
    for (size_t i = 0; i < wh->n_headers; i++)
        free(wh->headers[i]);
    free(wh->url);
    free(wh->url_for_log);
    free(wh->name);
    free(wh);
}

const bm_sink_type bm_sink_webhook = {
    .name = "webhook",
    .keys = webhook_keys,
    .init = wh_init,
    .emit = wh_emit,
    .flush = wh_flush,
    .stats = wh_stats,
    .free = wh_free,
};

/* ---- configured sinks --------------------------------------------------- */

