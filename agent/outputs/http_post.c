/*
 * http_post.c - HTTP(S) POST delivery on the loop (http_post.h), shared by
 * the sinks that talk HTTP: webhook.c and otlp.c.
 *
 * It runs libcurl's multi interface on the caller's libevent base through
 * curl_loop.h (shared with the e-mail sink): each finished transfer comes
 * back to hp_on_done, then hp_pump starts what waits. Nothing here waits:
 * no curl_multi_perform loop, no curl_easy_perform, no sleep. DNS is curl's
 * asynchronous resolver (AsynchDNS in Debian's libcurl).
 *
 * A body (a job) is in exactly one list at a time; http_post.h has the
 * picture. Not here: what is sent, the sink table, the sinks' own keys.
 */
#include "agent/outputs/http_post.h"

#include "agent/outputs/curl_loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/core/log.h"
#include "agent/core/parse.h"
#include "proto/event.h"

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


#define BM_HTTP_POST_HEADERS_MAX   16
#define HP_REPLY_LOG_MAX 160 /* bytes of an answer's body kept for the log */

typedef struct hp_job hp_job;

typedef struct {
    hp_job *head, *tail;
    uint32_t n;
} job_list;

struct hp_job {
    hp_job *prev, *next;
    job_list *list; /* the list it is in */
    bm_http_post *p;
    char *body; /* owned copy; the content type follows it in the same block */
    size_t len;
    const char *content_type;
    unsigned attempts; /* started so far */
    CURL *easy;        /* while in flight */
    struct curl_slist *headers;
    struct event *retry_ev; /* while in backoff (made on first use) */
    char errbuf[CURL_ERROR_SIZE];
    char *reply; /* the answer's body, reply_max bytes at most (grown as it comes) */
    size_t reply_len, reply_cap;
    int reply_cut; /* the answer's body was longer than reply_max: not read further */
};

struct bm_http_post {
    struct event_base *base;
    char *kind; /* "webhook", "otlp": log lines */
    char *name;
    char *what; /* one body in log lines: "notification", "request" */
    char *url;
    char *url_for_log; /* scheme://host[:port] only: paths and queries carry tokens (Slack) */
    int64_t timeout_ms;
    unsigned max_attempts;
    int otlp_retry; /* bm_http_post_opts.otlp_retry */
    bm_http_post_reply_cb on_reply;
    void *on_reply_arg;
    size_t reply_max; /* bytes of an answer's body read at most */
    int64_t backoff_ms, backoff_max_ms;
    uint32_t queue_max;
    size_t queue_max_bytes; /* 0: no bound */
    size_t held_bytes;      /* the bodies of the jobs held */
    uint32_t concurrency;
    char *headers[BM_HTTP_POST_HEADERS_MAX]; /* "Name: value" */
    size_t n_headers;

    bm_curl_loop *curl; /* libcurl multi on the base (curl_loop.h) */

    job_list waiting, in_flight, backoff;
    bm_sink_stats stats;

    /* failures logged once per burst */
    int failing;
    int64_t failing_since_ms;
    uint64_t burst_attempt_errors, burst_failed, burst_dropped;
    int drop_logged;

    /* flush */
    bm_sink_flush_cb flush_cb;
    void *flush_arg, *flush_self;
    int64_t flush_deadline_ms; /* monotonic */
    struct event *flush_ev;    /* the deadline; moved to "now" once nothing is held */
};

static void list_push(job_list *l, hp_job *j)
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

static void list_remove(hp_job *j)
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

static uint32_t hp_held(const bm_http_post *p)
{
    return p->waiting.n + p->in_flight.n + p->backoff.n;
}

/* Take a job out of whatever it is doing and free it (the caller counts it). */
static void job_free(hp_job *j)
{
    bm_http_post *p = j->p;
    list_remove(j);
    p->held_bytes -= j->len < p->held_bytes ? j->len : p->held_bytes;
    if (j->easy) {
        bm_curl_loop_remove(p->curl, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->headers);
    if (j->retry_ev) event_free(j->retry_ev);
    free(j->reply);
    free(j->body);
    free(j);
}

/* Drop everything held, counting it as failed. @return how many. */
static uint64_t hp_abandon_all(bm_http_post *p)
{
    uint64_t n = 0;
    job_list *lists[] = {&p->in_flight, &p->backoff, &p->waiting};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        while (lists[i]->head) {
            job_free(lists[i]->head);
            n++;
        }
    p->stats.failed += n;
    return n;
}

static size_t on_reply_data(char *data, size_t size, size_t nmemb, void *arg)
{
    hp_job *j = arg;
    /* a 2xx's body is read for the sink (reply_max); any other's for the log only */
    long status = 0;
    if (j->easy) curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    int for_sink = j->p->on_reply && status >= 200 && status < 300;
    size_t max = for_sink ? j->p->reply_max : HP_REPLY_LOG_MAX - 1;
    if (max > j->p->reply_max) max = j->p->reply_max;
    size_t n = size * nmemb, room = max > j->reply_len ? max - j->reply_len : 0;
    curl_off_t announced = -1;
    if (for_sink && j->reply_len == 0 && j->easy &&
        curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced > (curl_off_t)max) {
        /* more than the sink reads, which a part is no use to: not waited for */
        j->reply_cut = 1;
        return 0;
    }
    size_t take = n < room ? n : room;
    if (j->reply_len + take + 1 > j->reply_cap) {
        size_t cap = j->reply_cap ? j->reply_cap : 256;
        while (cap < j->reply_len + take + 1)
            cap *= 2;
        if (cap > j->p->reply_max + 1) cap = j->p->reply_max + 1;
        char *r = realloc(j->reply, cap);
        if (!r) return 0; /* out of memory: the transfer ends, judged by its status */
        j->reply = r;
        j->reply_cap = cap;
    }
    memcpy(j->reply + j->reply_len, data, take);
    j->reply_len += take;
    j->reply[j->reply_len] = '\0';
    /* The status is known by now and the log keeps no more: reading on would
     * tie the attempt to a body that may be endless or never complete. A
     * short count ends the transfer (CURLE_WRITE_ERROR), judged by its status. */
    if (take < n) j->reply_cut = 1;
    return take;
}

/* A URL's scheme://host[:port] into out, what a log may show of it (its path
 * and query may carry a token). @return 0, or -1 not a URL. */
static int url_origin(const char *url, char *out, size_t outlen)
{
    CURLU *u8 = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int bad = !u8 || curl_url_set(u8, CURLUPART_URL, url, 0) != CURLUE_OK ||
              curl_url_get(u8, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
              curl_url_get(u8, CURLUPART_HOST, &host, 0) != CURLUE_OK;
    if (!bad) curl_url_get(u8, CURLUPART_PORT, &port, 0);
    if (!bad) snprintf(out, outlen, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u8);
    return bad ? -1 : 0;
}

/* -- jobs ----------------------------------------------------------------- */

static int job_headers(hp_job *j)
{
    const bm_http_post *p = j->p;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", j->content_type);
    /* "Expect:" drops the 100-continue round trip curl makes before larger bodies */
    const char *lines[2 + BM_HTTP_POST_HEADERS_MAX] = {ct, "Expect:"};
    size_t n = 2;
    for (size_t i = 0; i < p->n_headers; i++)
        lines[n++] = p->headers[i];
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
static int job_start(bm_http_post *p, hp_job *j)
{
    if (!j->headers && job_headers(j) < 0) return -1;
    CURL *e = curl_easy_init();
    if (!e) return -1;
    j->errbuf[0] = '\0';
    j->reply_len = 0;
    if (j->reply) j->reply[0] = '\0';
    j->reply_cut = 0;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
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
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
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
    if (bm_curl_loop_add(p->curl, e) < 0) {
        curl_easy_cleanup(e);
        return -1;
    }
    j->easy = e;
    j->attempts++;
    if (j->attempts > 1) p->stats.retried++;
    list_push(&p->in_flight, j);
    return 0;
}

static void hp_check_flush(bm_http_post *p)
{
    if (p->flush_cb && hp_held(p) == 0) {
        struct timeval now = {0, 0};
        evtimer_add(p->flush_ev, &now);
    }
}

/* Note a failed attempt (or a body given up), logging only the first of a burst. */
static void hp_note_failure(bm_http_post *p, const char *what, int will_retry, int given_up)
{
    p->stats.attempt_errors++;
    if (!p->failing) {
        p->failing = 1;
        p->failing_since_ms = mono_ms();
        p->burst_attempt_errors = p->burst_failed = 0;
        p->burst_dropped = 0;
        if (will_retry)
            bm_warn("%s '%s': POST %s: %s (retrying, up to %u attempts a %s; further failures "
                    "are not logged until it recovers)",
                    p->kind, p->name, p->url_for_log, what, p->max_attempts, p->what);
        else
            bm_warn("%s '%s': POST %s: %s (%s given up; further failures are not logged until "
                    "it recovers)",
                    p->kind, p->name, p->url_for_log, what, p->what);
    }
    p->burst_attempt_errors++;
    if (given_up) p->burst_failed++;
}

static void hp_note_success(bm_http_post *p)
{
    p->stats.sent++;
    if (p->failing) {
        double s = (double)(mono_ms() - p->failing_since_ms) / 1000.0;
        bm_info("%s '%s': POST %s delivers again after %.1f s: %llu attempt(s) failed, %llu "
                "%s(s) given up, %llu dropped meanwhile",
                p->kind, p->name, p->url_for_log, s, (unsigned long long)p->burst_attempt_errors,
                (unsigned long long)p->burst_failed, p->what, (unsigned long long)p->burst_dropped);
        p->failing = 0;
    }
    p->drop_logged = 0;
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg);

/* Start waiting jobs while there are free slots (a job in backoff keeps its slot). */
static void hp_pump(bm_http_post *p)
{
    while (p->waiting.head && p->in_flight.n + p->backoff.n < p->concurrency) {
        hp_job *j = p->waiting.head;
        list_remove(j);
        if (job_start(p, j) < 0) {
            hp_note_failure(p, "out of memory", 0, 1);
            p->stats.failed++;
            job_free(j);
        }
    }
    hp_check_flush(p);
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

/* A random whole number in [0, n]. */
static int64_t hp_random_upto(int64_t n)
{
    ev_uint32_t r = 0;
    evutil_secure_rng_get_bytes(&r, sizeof r);
    return n > 0 ? (int64_t)(r % ((uint64_t)n + 1)) : 0;
}

/* The wait before attempt `attempts` + 1: backoff, doubled per attempt, plus
 * up to a fifth at random (OTLP/HTTP wants jitter: senders that lost the same
 * receiver do not all come back in step); at the cap, backoff_max minus up to
 * a fifth. A 429/503's Retry-After, when longer, is waited as it says (capped). */
static int64_t hp_backoff_ms(const bm_http_post *p, unsigned attempts, int64_t retry_after_ms)
{
    int64_t d = p->backoff_ms;
    for (unsigned i = 1; i < attempts && d < p->backoff_max_ms; i++)
        d *= 2;
    d += hp_random_upto(d / 5);
    if (d > p->backoff_max_ms) d = p->backoff_max_ms - hp_random_upto(p->backoff_max_ms / 5);
    if (retry_after_ms > d) d = retry_after_ms;
    return d < p->backoff_max_ms ? d : p->backoff_max_ms;
}

/* One attempt of j finished with rc and the HTTP status, if one was received.
 * A status that came is the answer whatever rc: a 2xx is delivered (the
 * receiver took the body, and a reply body cut short or too slow must not
 * send it again), a 400 is refused (OTLP/HTTP: MUST NOT be sent again)
 * however its body ended. Only no answer at all is a transfer error. */
static void hp_attempt_done(bm_http_post *p, hp_job *j, CURLcode rc)
{
    long status = 0;
    curl_off_t retry_after_s = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &retry_after_s);
#endif
    char reply_type[128] = "";
    const char *ct = NULL;
    if (curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(reply_type, sizeof reply_type, "%s", ct);
    char location[1024] = ""; /* a 3xx's Location, made absolute by curl */
    const char *loc = NULL;
    if (status >= 300 && status < 400 &&
        curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        snprintf(location, sizeof location, "%s", loc);
    list_remove(j);
    bm_curl_loop_remove(p->curl, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;

    int whole = rc == CURLE_OK && !j->reply_cut;
    if (status >= 200) rc = CURLE_OK;
    if (status >= 200 && status < 300) {
        hp_note_success(p);
        if (p->on_reply)
            p->on_reply(j->reply ? j->reply : "", j->reply_len, whole,
                        reply_type[0] ? reply_type : NULL, j->len, p->on_reply_arg);
        job_free(j);
        return;
    }

    char what[CURL_ERROR_SIZE + HP_REPLY_LOG_MAX + 64];
    int retryable;
    if (rc != CURLE_OK) {
        snprintf(what, sizeof what, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
        retryable = curl_error_retryable(rc);
    } else {
        /* the receiver's reason, as much as the log keeps, on one line of UTF-8:
         * its bytes may be anything (a terminal escape, binary, a cut character) */
        char reason[HP_REPLY_LOG_MAX];
        size_t n = j->reply ? bm_text_cut(j->reply, j->reply_len, sizeof reason - 1) : 0;
        bm_text_scrub(reason, j->reply ? j->reply : "", n);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f) reason[i] = ' ';
        while (n && reason[n - 1] == ' ')
            n--;
        snprintf(what, sizeof what, "HTTP %ld%s%.*s", status, n ? ": " : "", (int)n, reason);
        if (status >= 300 && status < 400) {
            /* not followed: the headers (an API key) would go to wherever it points */
            char origin[300] = "nowhere (no Location)";
            if (location[0] && url_origin(location, origin, sizeof origin))
                snprintf(origin, sizeof origin, "a Location that is not a URL");
            int same = !strcmp(origin, p->url_for_log);
            snprintf(what, sizeof what,
                     "HTTP %ld, a redirect to %s%s: redirects are not followed (the request's "
                     "headers may carry credentials); set the URL to where it points",
                     status, same ? "another path on " : "", origin);
        }
        retryable = p->otlp_retry ? status == 429 || status == 502 || status == 503 || status == 504
                                  : status >= 500 || status == 429 || status == 408;
    }
    int retry = retryable && j->attempts < p->max_attempts;
    hp_note_failure(p, what, retry, !retry);
    if (!retry) {
        p->stats.failed++;
        job_free(j);
        return;
    }
    if (!j->retry_ev) j->retry_ev = evtimer_new(p->base, on_retry_due, j);
    /* curl's seconds (a delay or an HTTP-date's distance; 0 for garbage) may be any
     * size: one beyond what milliseconds hold asks for the longest wait, not a wrapped one */
    int64_t retry_after_ms =
        retry_after_s > INT64_MAX / 1000 ? INT64_MAX : (int64_t)retry_after_s * 1000;
    int64_t wait_ms = hp_backoff_ms(p, j->attempts, retry_after_ms);
    struct timeval tv = ms_to_tv(wait_ms);
    if (!j->retry_ev || evtimer_add(j->retry_ev, &tv) < 0) {
        p->stats.failed++;
        job_free(j);
        return;
    }
    list_push(&p->backoff, j);
}

/* A transfer finished (curl_loop.h's done). */
static void hp_on_done(CURL *easy, CURLcode rc, void *arg)
{
    hp_job *j = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
    if (j) hp_attempt_done(arg, j, rc);
}

/* After each wake-up's finished transfers (curl_loop.h's round): start what waits. */
static void hp_on_round(void *arg)
{
    hp_pump(arg);
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hp_job *j = arg;
    bm_http_post *p = j->p;
    list_remove(j);
    if (job_start(p, j) < 0) {
        hp_note_failure(p, "out of memory", 0, 1);
        p->stats.failed++;
        job_free(j);
    }
    hp_pump(p);
}

/* -- options -------------------------------------------------------------- */

void bm_http_post_opts_init(bm_http_post_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 5000;
    o->max_attempts = 5;
    o->backoff_ms = 1000;
    o->backoff_max_ms = 60000;
    o->queue_max = 1000;
    o->concurrency = 1;
}

void bm_http_post_opts_deinit(bm_http_post_opts *o)
{
    for (size_t i = 0; i < o->n_headers; i++) {
        memset(o->headers[i], 0, strlen(o->headers[i])); /* header values are secrets */
        free(o->headers[i]);
    }
    free(o->url);
    free(o->url_for_log);
    bm_http_post_opts_init(o);
}

int bm_http_post_opts_set_url(bm_http_post_opts *o, const char *url_key, const char *v, char *err,
                              size_t errlen)
{
    /* the value may be a secret (url_file, a Slack URL): quote its scheme at most */
    if (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8)) {
        if (strstr(v, "://"))
            bm_set_error(err, errlen, "'%s' must start with http:// or https://, not '%.*s://'",
                         url_key, (int)strcspn(v, ":"), v);
        else
            bm_set_error(err, errlen, "'%s' must start with http:// or https:// (it has no scheme)",
                         url_key);
        return -1;
    }
    char buf[512];
    int bad = url_origin(v, buf, sizeof buf);
    if (!bad) {
        free(o->url);
        free(o->url_for_log);
        o->url = strdup(v);
        o->url_for_log = strdup(buf);
        if (!o->url || !o->url_for_log) {
            bm_set_error(err, errlen, "out of memory");
            bad = 2;
        }
    } else {
        bm_set_error(err, errlen, "'%s' is not a usable URL", url_key);
    }
    return bad ? -1 : 0;
}

int bm_http_post_opts_set(bm_http_post_opts *o, const char *url_key, const char *key,
                          const char *v, char *err, size_t errlen)
{
    unsigned long u;
    if (!strcmp(key, url_key)) return bm_http_post_opts_set_url(o, url_key, v, err, errlen);
    if (!strcmp(key, "timeout") || !strcmp(key, "backoff") || !strcmp(key, "backoff_max")) {
        int64_t us;
        if (bm_parse_duration_us(v, BM_US_PER_S, &us) != BM_PARSE_OK || us < 1000 ||
            us > BM_US_PER_DAY) {
            bm_set_error(err, errlen,
                         "'%s' must be a duration of at least 1ms (250ms, 5s, 1m), not '%s'", key,
                         v);
            return -1;
        }
        int64_t ms = (us + 500) / 1000;
        if (key[0] == 't')
            o->timeout_ms = ms;
        else if (!strcmp(key, "backoff"))
            o->backoff_ms = ms;
        else
            o->backoff_max_ms = ms;
        return 0;
    }
    if (!strcmp(key, "max_attempts")) {
        if (parse_uint(v, 1, 100, &u) < 0) {
            bm_set_error(err, errlen, "'max_attempts' must be 1-100, not '%s'", v);
            return -1;
        }
        o->max_attempts = (unsigned)u;
        return 0;
    }
    if (!strcmp(key, "queue")) {
        if (parse_uint(v, 1, 1000000, &u) < 0) {
            bm_set_error(err, errlen, "'queue' must be 1-1000000, not '%s'", v);
            return -1;
        }
        o->queue_max = (uint32_t)u;
        return 0;
    }
    if (!strcmp(key, "queue_bytes")) {
        if (bm_parse_size(v, &o->queue_max_bytes)) {
            bm_set_error(err, errlen,
                         "'queue_bytes' must be a size in bytes (k, M; 0: no bound), not '%s'", v);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "concurrency")) {
        if (parse_uint(v, 1, 64, &u) < 0) {
            bm_set_error(err, errlen, "'concurrency' must be 1-64, not '%s'", v);
            return -1;
        }
        o->concurrency = (uint32_t)u;
        return 0;
    }
    if (!strncmp(key, "header.", 7)) {
        const char *hn = key + 7;
        size_t hl = strlen(hn);
        int ok = hl > 0 && hl < 128 && strcspn(v, "\r\n") == strlen(v);
        for (const char *c = hn; ok && *c; c++)
            ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                 *c == '-' || *c == '_';
        if (!ok) {
            bm_set_error(err, errlen,
                         "'%s': a header needs a name of letters, digits, '-' and '_', and a "
                         "value on one line",
                         key);
            return -1;
        }
        if (!strcasecmp(hn, "Content-Type") || !strcasecmp(hn, "Content-Length")) {
            bm_set_error(err, errlen, "'%s' is set by busmon", key);
            return -1;
        }
        for (size_t i = 0; i < o->n_headers; i++) /* "Name: value": names are case-blind */
            if (!strncasecmp(o->headers[i], hn, hl) && o->headers[i][hl] == ':') {
                bm_set_error(err, errlen,
                             "'%s': header %.*s is given twice (names are case-insensitive: "
                             "both would be sent)",
                             key, (int)hl, o->headers[i]);
                return -1;
            }
        if (o->n_headers == BM_HTTP_POST_HEADERS_MAX) {
            bm_set_error(err, errlen, "at most %d headers", BM_HTTP_POST_HEADERS_MAX);
            return -1;
        }
        size_t n = hl + strlen(v) + 3;
        char *h = malloc(n);
        if (!h) {
            bm_set_error(err, errlen, "out of memory");
            return -1;
        }
        snprintf(h, n, "%s: %s", hn, v);
        o->headers[o->n_headers++] = h;
        return 0;
    }
    return 1;
}

/* -- the poster ----------------------------------------------------------- */

bm_http_post *bm_http_post_new(struct event_base *base, const char *kind, const char *name,
                               const char *what, bm_http_post_opts *o, char *err, size_t errlen)
{
    if (!o->url) {
        bm_set_error(err, errlen, "no URL");
        return NULL;
    }
    bm_http_post *p = calloc(1, sizeof *p);
    if (!p) {
        bm_set_error(err, errlen, "out of memory");
        return NULL;
    }
    p->base = base;
    p->kind = strdup(kind);
    p->name = strdup(name);
    p->what = strdup(what);
    if (!p->kind || !p->name || !p->what) {
        bm_set_error(err, errlen, "out of memory");
        goto fail;
    }
    p->curl = bm_curl_loop_new(p->base, hp_on_done, hp_on_round, p);
    if (!p->curl) {
        bm_set_error(err, errlen, "libcurl did not initialise (or out of memory)");
        goto fail;
    }
    /* the options move in */
    p->url = o->url;
    p->url_for_log = o->url_for_log;
    p->timeout_ms = o->timeout_ms;
    p->max_attempts = o->max_attempts;
    p->otlp_retry = o->otlp_retry;
    p->on_reply = o->on_reply;
    p->on_reply_arg = o->on_reply_arg;
    p->reply_max = o->reply_max_bytes ? o->reply_max_bytes : HP_REPLY_LOG_MAX - 1;
    p->backoff_ms = o->backoff_ms;
    p->backoff_max_ms = o->backoff_max_ms;
    p->queue_max = o->queue_max;
    p->queue_max_bytes = o->queue_max_bytes;
    p->concurrency = o->concurrency;
    memcpy(p->headers, o->headers, sizeof p->headers);
    p->n_headers = o->n_headers;
    o->url = o->url_for_log = NULL;
    o->n_headers = 0;
    bm_http_post_opts_deinit(o);
    return p;
fail:
    bm_http_post_free(p);
    return NULL;
}

bm_sink_result bm_http_post_send(bm_http_post *p, const char *body, size_t len,
                                 const char *content_type)
{
    p->stats.emitted++;
    /* a body alone always goes, however large */
    int over_bytes =
        p->queue_max_bytes && p->held_bytes &&
        (p->held_bytes >= p->queue_max_bytes || len > p->queue_max_bytes - p->held_bytes);
    if (hp_held(p) >= p->queue_max || over_bytes) {
        p->stats.dropped++;
        if (over_bytes) p->stats.queue_bytes_dropped++;
        if (p->failing) p->burst_dropped++;
        if (!p->drop_logged) {
            p->drop_logged = 1;
            if (over_bytes)
                bm_warn("%s '%s': queue full (%u %ss held, %zu bytes of queue_bytes %zu), "
                        "dropping new ones (counted; not logged again until it delivers)",
                        p->kind, p->name, hp_held(p), p->what, p->held_bytes, p->queue_max_bytes);
            else
                bm_warn("%s '%s': queue full (%u %ss held), dropping new ones (counted; not "
                        "logged again until it delivers)",
                        p->kind, p->name, p->queue_max, p->what);
        }
        return BM_SINK_DROPPED;
    }
    const char *ct = content_type ? content_type : "application/json";
    size_t ct_len = strlen(ct);
    if (ct_len > 200 || strcspn(ct, "\r\n") != ct_len || !body) { /* no body: nothing to POST */
        p->stats.dropped++;
        return BM_SINK_ERROR;
    }
    hp_job *j = calloc(1, sizeof *j);
    char *copy = malloc(len + 1 + ct_len + 1);
    if (!j || !copy) {
        free(j);
        free(copy);
        p->stats.dropped++;
        return BM_SINK_ERROR;
    }
    if (len) memcpy(copy, body, len);
    copy[len] = '\0';
    memcpy(copy + len + 1, ct, ct_len + 1);
    j->p = p;
    j->body = copy;
    j->len = len;
    j->content_type = copy + len + 1;
    list_push(&p->waiting, j);
    p->held_bytes += len;
    hp_pump(p);
    return BM_SINK_QUEUED;
}

uint32_t bm_http_post_held(const bm_http_post *p)
{
    return hp_held(p);
}

uint32_t bm_http_post_queue_max(const bm_http_post *p)
{
    return p->queue_max;
}

/* The flush deadline (or "nothing left"): give up what is held, then tell the caller. */
static void on_flush_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bm_http_post *p = arg;
    int64_t left_ms = p->flush_deadline_ms - mono_ms();
    if (hp_held(p) && left_ms > 0) {
        /* it was "nothing left", but bodies came in since: wait for them too */
        struct timeval tv = ms_to_tv(left_ms);
        evtimer_add(p->flush_ev, &tv);
        return;
    }
    uint64_t abandoned = hp_abandon_all(p);
    if (abandoned)
        bm_warn("%s '%s': %llu %s(s) not delivered before the flush deadline", p->kind, p->name,
                (unsigned long long)abandoned, p->what);
    bm_sink_flush_cb cb = p->flush_cb;
    void *cb_arg = p->flush_arg, *self = p->flush_self;
    p->flush_cb = NULL;
    if (cb) cb(self, abandoned, cb_arg); /* last: the sink may be gone after this */
}

void bm_http_post_flush(bm_http_post *p, int64_t timeout_ms, bm_sink_flush_cb cb,
                        void *self_for_cb, void *arg)
{
    p->flush_cb = cb;
    p->flush_arg = arg;
    p->flush_self = self_for_cb;
    if (!p->flush_ev) p->flush_ev = evtimer_new(p->base, on_flush_due, p);
    if (!p->flush_ev) {
        /* out of memory: give up now rather than never answer */
        p->flush_cb = NULL;
        uint64_t abandoned = hp_abandon_all(p);
        if (cb) cb(self_for_cb, abandoned, arg);
        return;
    }
    if (timeout_ms < 0) timeout_ms = 0;
    p->flush_deadline_ms = mono_ms() + timeout_ms;
    struct timeval tv = ms_to_tv(timeout_ms);
    evtimer_add(p->flush_ev, &tv);
    hp_check_flush(p);
}

void bm_http_post_stats(const bm_http_post *p, bm_sink_stats *out)
{
    *out = p->stats;
    out->in_flight = p->in_flight.n;
    out->queued = hp_held(p);
}

void bm_http_post_free(bm_http_post *p)
{
    if (!p) return;
    if (p->curl) hp_abandon_all(p);
    bm_curl_loop_free(p->curl);
    if (p->flush_ev) event_free(p->flush_ev);
    for (size_t i = 0; i < p->n_headers; i++) {
        memset(p->headers[i], 0, strlen(p->headers[i]));
        free(p->headers[i]);
    }
    free(p->url);
    free(p->url_for_log);
    free(p->kind);
    free(p->name);
    free(p->what);
    free(p);
}
