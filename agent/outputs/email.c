/*
 * email.c - the e-mail sink type (sink.h): one mail per alert notification
 * (firing, still firing, resolved) over SMTP, with libcurl's multi
 * interface on the loop (curl_loop.h), like the webhook sink.
 *
 *   emit --rate limit full--> rate_limited (counted; named in the next summary mail)
 *     |--held >= queue--> dropped
 *     v
 *   waiting --pump--> on the wire --250--> sent
 *                        |  ^   \--5xx, login refused, attempts used up--> failed
 *                        v  |
 *                      backoff (backoff << (attempt - 1), capped)
 *
 * A recipient the server refuses is skipped (logged once per burst), so one
 * stale address does not keep the mail from the others.
 *
 * One mail at a time, in order (a resolve never overtakes its alert). The
 * body a sink gets is busmon's alert record (format generic, topic alert:
 * proto/alert.c); the mail is made from it here: a subject that says what
 * happened ("[busmon] FIRING warning: high_error_rate worker=flaky") and a
 * plain-text body with the rule, severity, worker, value against the
 * threshold, the start (and end) time in ISO-8601 UTC and the dashboard's
 * URL when configured.
 *
 * The rate limit: at most N mails in any period (`rate_limit: N/PERIOD`,
 * default 10/1m). What comes
 * beyond it is not mailed, counted (`rate_limited`), and listed in one
 * summary mail sent as soon as the limit allows.
 *
 * TLS: smtps:// is TLS from the start; on smtp://, STARTTLS is used when
 * the server offers it (`tls: try`), demanded (`tls: required`) or not
 * asked for (`tls: none`). The password (`password`, or `password_file`
 * through sink.c's K_file keys) goes to curl only, never to a log line;
 * the URL is logged as scheme://host:port.
 *
 * Not here: deciding what to send (lib/alerts.c), building the record
 * (proto/alert.c), the common keys and K_file secrets (sink.c).
 */
#include "agent/outputs/curl_loop.h"
#include "agent/outputs/sink.h"
#include "agent/outputs/sink_flush.h"

#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/parse.h"
#include "lib/trace_json.h"

#define EM_RCPT_MAX      32
#define EM_SUMMARY_LINES 20 /* rate-limited alerts named in a summary mail */
#define EM_RATE_MAX      10000

typedef struct em_job em_job;
struct em_job {
    em_job *next;
    char *msg; /* the whole message, headers and body, CRLF lines */
    size_t len, sent_bytes;
    unsigned attempts;
};

typedef struct {
    struct event_base *base;
    char *name;
    char *url, *url_for_log;
    long use_ssl; /* CURLUSESSL_* */
    char *username, *password;
    char *from;
    char *to[EM_RCPT_MAX];
    size_t n_to;
    char *dashboard_url;
    char *ca_file; /* CA bundle (PEM) to verify the server with; NULL: the system's */
    char *subject_prefix;
    int64_t timeout_ms, backoff_ms, backoff_max_ms;
    unsigned max_attempts;
    uint32_t queue_max;
    uint32_t rate_max; /* mails per rate period; 0: no limit */
    int64_t rate_period_ms;
    char rate_text[40]; /* as configured, for messages: "10/1m" */

    bm_curl_loop *curl;
    struct curl_slist *rcpt;
    CURL *easy;      /* the mail on the wire */
    em_job *current; /* on the wire or in backoff */
    em_job *head, *tail;
    uint32_t n_waiting;
    struct event *retry_ev;
    char errbuf[CURL_ERROR_SIZE];
    /* recipients the server refused in the mail on the wire (the others get it) */
    int rcpt_asked;              /* the last command sent was a RCPT TO */
    char rcpt_last[256];         /* its address */
    unsigned rcpt_refused;       /* refused in this attempt */
    char rcpt_refused_what[320]; /* the first of them, with the server's answer */
    int rcpt_refused_logged;     /* said; again once a mail reaches every recipient */

    /* the rate limit: the start times of the mails of the last period (a ring) */
    int64_t *sent_at_ms;
    uint32_t ring_at, ring_n;
    struct event *limit_ev;   /* when the oldest leaves the minute */
    uint64_t limited_pending; /* not mailed since the last summary */
    char *limited_lines;      /* their lines for the summary */
    size_t limited_len;
    int limit_logged;

    bm_sink_stats stats;
    int failing;

    bm_sink_flusher flush;
} email;

static int64_t mono_ms(void)
{
    return bm_mono_us() / 1000;
}

static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static uint32_t em_held(const email *m)
{
    return m->n_waiting + (m->current != NULL);
}

/* What the stop flush waits for: the mails held, and the summary of what the
 * rate limit held back (sent when the limit frees within the deadline). */
static uint32_t em_held_of(void *self)
{
    const email *m = self;
    return em_held(m) + (m->limited_pending > 0);
}

static uint64_t em_abandon_all(email *m);
static uint64_t em_abandon_of(void *self)
{
    return em_abandon_all(self);
}

static void job_free(em_job *j)
{
    if (!j) return;
    free(j->msg);
    free(j);
}

/* ---- the rate limit ------------------------------------------------------- */

/* Forget the start times older than the period. @return mails in the last period. */
static uint32_t rate_in_period(email *m, int64_t now_ms)
{
    while (m->ring_n) {
        uint32_t oldest = (m->ring_at + m->rate_max - m->ring_n) % m->rate_max;
        if (now_ms - m->sent_at_ms[oldest] < m->rate_period_ms) break;
        m->ring_n--;
    }
    return m->ring_n;
}

static int rate_take(email *m)
{
    if (!m->rate_max) return 1;
    int64_t now = mono_ms();
    if (rate_in_period(m, now) >= m->rate_max) return 0;
    m->sent_at_ms[m->ring_at] = now;
    m->ring_at = (m->ring_at + 1) % m->rate_max;
    m->ring_n++;
    return 1;
}

/* Wake when the oldest mail of the period leaves it (to send the summary). */
static void rate_arm(email *m)
{
    if (!m->ring_n || evtimer_pending(m->limit_ev, NULL)) return;
    uint32_t oldest = (m->ring_at + m->rate_max - m->ring_n) % m->rate_max;
    int64_t wait = m->sent_at_ms[oldest] + m->rate_period_ms - mono_ms();
    struct timeval tv = ms_tv(wait > 0 ? wait + 1 : 1);
    evtimer_add(m->limit_ev, &tv);
}

/* ---- making the message ------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int err;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->err = 1;
            return;
        }
        if (t->buf && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->err = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

/* A header value on one line: CR and LF (header injection) become spaces. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') *s = ' ';
}

static const char *jget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void fmt_number(json_t *v, char out[32])
{
    double d = json_number_value(v);
    if (!json_is_number(v))
        snprintf(out, 32, "-");
    else if (d == floor(d) && fabs(d) < 1e15)
        snprintf(out, 32, "%.0f", d);
    else
        snprintf(out, 32, "%.4g", d);
}

/* The Subject header. A header is ASCII (RFC 5322; raw UTF-8 there needs
 * SMTPUTF8, and readers show it as mojibake), so a subject with other
 * characters (a worker's or a label's name) is written as RFC 2047 encoded
 * words, =?UTF-8?B?...?=, each of whole characters, one per folded line. */
static void put_subject(text *t, const char *subject)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)subject;
    size_t n = strlen(subject), i = 0;
    while (i < n && s[i] < 0x80)
        i++;
    if (i == n) {
        put(t, "Subject: %s\r\n", subject);
        return;
    }
    put(t, "Subject:");
    for (size_t at = 0; at < n;) {
        size_t take = n - at < 42 ? n - at : 42; /* 56 base64 characters: a 77-byte line */
        while (take > 4 && at + take < n && (s[at + take] & 0xc0) == 0x80)
            take--; /* not inside a character */
        char word[64];
        size_t w = 0;
        for (size_t k = 0; k < take; k += 3) {
            unsigned long v = (unsigned long)s[at + k] << 16 |
                              (k + 1 < take ? (unsigned long)s[at + k + 1] << 8 : 0) |
                              (k + 2 < take ? s[at + k + 2] : 0);
            word[w++] = b64[v >> 18 & 63];
            word[w++] = b64[v >> 12 & 63];
            word[w++] = k + 1 < take ? b64[v >> 6 & 63] : '=';
            word[w++] = k + 2 < take ? b64[v & 63] : '=';
        }
        put(t, " =?UTF-8?B?%.*s?=\r\n", (int)w, word);
        at += take;
    }
}

/* Headers of one mail with `subject` (already one line), then the blank line. */
static void put_headers(const email *m, text *t, const char *subject)
{
    char date[64];
    time_t now = (time_t)(bm_now_us() / 1000000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    put(t, "Date: %s\r\nFrom: %s\r\nTo: ", date, m->from);
    for (size_t i = 0; i < m->n_to; i++)
        put(t, "%s%s", i ? ", " : "", m->to[i]);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    put(t, "\r\n");
    put_subject(t, subject);
    put(t,
        "Message-ID: <%lld.%u.busmon@%s>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        "X-Mailer: busmon\r\n\r\n",
        (long long)bm_now_us(), (unsigned)getpid(), host);
}

/* The body's lines end in CRLF; a line of a single "." is doubled by curl. A
 * value's own line breaks (a multi-line description) become CRLF too, the
 * next line indented under the first: a bare LF or CR in SMTP data breaks
 * RFC 5321, and servers refuse the mail for it (sendmail) or read it apart. */
static void put_line(text *t, const char *label, const char *value)
{
    if (!value || !*value) return;
    put(t, "%-12s ", label);
    for (const char *s = value;;) {
        size_t n = strcspn(s, "\r\n");
        put(t, "%.*s\r\n", (int)n, s);
        s += n;
        s += s[0] == '\r' && s[1] == '\n' ? 2 : s[0] ? 1 : 0;
        if (!*s) break;
        put(t, "%-12s ", "");
    }
}

/*
 * The mail for one alert record (proto/alert.c's JSON). @return the
 * message (caller frees) and its length, or NULL when the body is not an
 * alert record (*why says so) or memory ran out.
 */
static char *alert_mail(const email *m, const char *body, size_t len, size_t *out_len,
                        char *oneline, size_t oneline_len)
{
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "rule"))) {
        json_decref(o);
        return NULL;
    }
    const char *state = jget(o, "state"), *rule = jget(o, "rule"), *sev = jget(o, "severity");
    const char *metric = jget(o, "metric"), *op = jget(o, "op"), *window = jget(o, "window");
    json_t *labels = json_object_get(o, "labels");
    const char *worker = json_string_value(json_object_get(labels, "worker"));
    char value[32], threshold[32], started[40] = "", ended[40] = "", at[40] = "";
    fmt_number(json_object_get(o, "value"), value);
    fmt_number(json_object_get(o, "threshold"), threshold);
    json_t *sa = json_object_get(o, "starts_at"), *ea = json_object_get(o, "ends_at");
    if (json_is_integer(sa) && json_integer_value(sa) > 0)
        bm_format_time_ms(json_integer_value(sa), started, sizeof started);
    if (json_is_integer(ea) && json_integer_value(ea) > 0)
        bm_format_time_ms(json_integer_value(ea), ended, sizeof ended);
    json_t *ts = json_object_get(o, "ts");
    if (json_is_integer(ts)) bm_format_time_ms(json_integer_value(ts), at, sizeof at);
    int resolved = !strcmp(state, "resolved");
    const char *tag = resolved ? "RESOLVED" : !strcmp(state, "repeat") ? "STILL FIRING" : "FIRING";

    /* labels as "k=v k=v" */
    char lab[512] = "";
    size_t ll = 0;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (ll < sizeof lab)
            ll += (size_t)snprintf(lab + ll, sizeof lab - ll, "%s%s=%s", ll ? " " : "", k,
                                   json_string_value(v) ? json_string_value(v) : "");
    }
    char subject[768];
    if (resolved)
        snprintf(subject, sizeof subject, "%s RESOLVED %s: %s%s%s", m->subject_prefix, sev, rule,
                 *lab ? " " : "", lab);
    else
        snprintf(subject, sizeof subject, "%s %s %s: %s%s%s (%s %s %s)", m->subject_prefix, tag,
                 sev, rule, *lab ? " " : "", lab, value, op, threshold);
    one_line(subject);
    snprintf(oneline, oneline_len, "%s %s %s%s%s at %s", tag, rule, lab, *lab ? " " : "",
             *at ? "" : "", at);
    one_line(oneline); /* a line of the summary mail */

    text t = {0};
    put_headers(m, &t, subject);
    if (resolved)
        put(&t, "Alert %s is resolved.\r\n\r\n", rule);
    else
        put(&t, "Alert %s is %s (severity %s).\r\n\r\n", rule,
            !strcmp(tag, "FIRING") ? "firing" : "still firing", sev);
    put_line(&t, "Rule:", rule);
    put_line(&t, "State:", tag);
    put_line(&t, "Severity:", sev);
    put_line(&t, "Worker:", worker);
    char cond[256];
    snprintf(cond, sizeof cond, "%s%s%s %s %s", metric, *window ? " over " : "", window, op,
             threshold);
    char val[320];
    snprintf(val, sizeof val, "%s (condition: %s)", value, cond);
    put_line(&t, "Value:", val);
    put_line(&t, "Threshold:", threshold);
    put_line(&t, "Started:", started);
    if (resolved) put_line(&t, "Resolved:", ended);
    put_line(&t, "Labels:", lab);
    put_line(&t, "Description:", jget(o, "description"));
    put_line(&t, "Agent:", jget(o, "agent"));
    put_line(&t, "Dashboard:", m->dashboard_url);
    put(&t, "\r\n-- \r\nbusmon (times are UTC)\r\n");
    json_decref(o);
    if (t.err) {
        free(t.buf);
        return NULL;
    }
    *out_len = t.len;
    return t.buf;
}

/* The mail naming what the rate limit held back. @return it (caller frees) or NULL. */
static char *summary_mail(email *m, size_t *out_len)
{
    char subject[256];
    snprintf(subject, sizeof subject, "%s %llu alert notification(s) not mailed (rate limit %s)",
             m->subject_prefix, (unsigned long long)m->limited_pending, m->rate_text);
    text t = {0};
    put_headers(m, &t, subject);
    put(&t,
        "The e-mail sink '%s' sends at most %s (mails/period). These %llu notification(s) "
        "were not mailed:\r\n\r\n",
        m->name, m->rate_text, (unsigned long long)m->limited_pending);
    if (m->limited_len) put(&t, "%.*s", (int)m->limited_len, m->limited_lines);
    if (m->limited_pending > EM_SUMMARY_LINES)
        put(&t, "  ... and %llu more\r\n",
            (unsigned long long)(m->limited_pending - EM_SUMMARY_LINES));
    put(&t, "\r\nbusmon alerts, or the dashboard%s%s, shows them all.\r\n",
        m->dashboard_url ? " at " : "", m->dashboard_url ? m->dashboard_url : "");
    if (t.err) {
        free(t.buf);
        return NULL;
    }
    *out_len = t.len;
    return t.buf;
}

/* ---- delivery ------------------------------------------------------------- */

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    em_job *j = arg;
    size_t room = size * nitems, left = j->len - j->sent_bytes;
    size_t n = left < room ? left : room;
    memcpy(buf, j->msg + j->sent_bytes, n);
    j->sent_bytes += n;
    return n;
}

/* CURLOPT_DEBUGFUNCTION: the SMTP dialogue, read for the answers to RCPT TO
 * (nothing else is kept: AUTH and the message pass by unread). */
static int on_smtp_dialogue(CURL *e, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)e;
    email *m = arg;
    if (type == CURLINFO_HEADER_OUT) {
        m->rcpt_asked = size > 8 && !strncasecmp(data, "RCPT TO:", 8);
        if (m->rcpt_asked) {
            size_t n = strcspn(data + 8, "\r\n");
            if (n > size - 8) n = size - 8;
            snprintf(m->rcpt_last, sizeof m->rcpt_last, "%.*s", (int)n, data + 8);
        }
    } else if (type == CURLINFO_HEADER_IN && m->rcpt_asked && size >= 3 && data[0] >= '4' &&
               data[0] <= '5') {
        m->rcpt_asked = 0;
        if (!m->rcpt_refused++) {
            size_t n = strcspn(data, "\r\n");
            snprintf(m->rcpt_refused_what, sizeof m->rcpt_refused_what, "%s refused: %.*s",
                     m->rcpt_last, (int)(n < size ? n : size), data);
        }
    } else if (type == CURLINFO_HEADER_IN) {
        m->rcpt_asked = 0;
    }
    return 0;
}

static void em_check_flush(email *m)
{
    bm_sink_flusher_check(&m->flush);
}

/* Start the current job's next attempt. @return 0 or -1. */
static int em_start(email *m)
{
    em_job *j = m->current;
    CURL *e = curl_easy_init();
    if (!e) return -1;
    j->sent_bytes = 0;
    m->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, m->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    curl_easy_setopt(e, CURLOPT_USE_SSL, m->use_ssl);
    if (m->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, m->ca_file);
    if (m->username) curl_easy_setopt(e, CURLOPT_USERNAME, m->username);
    if (m->password) curl_easy_setopt(e, CURLOPT_PASSWORD, m->password);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)m->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)m->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, m->errbuf);
    /* a recipient refused is skipped, not the mail: one address gone stale must
       not keep every alert from the rest (refused by all: the mail fails) */
#if LIBCURL_VERSION_NUM >= 0x080200
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
    m->rcpt_asked = 0;
    m->rcpt_refused = 0;
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_smtp_dialogue);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, m);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* the dialogue goes to on_smtp_dialogue */
    if (bm_curl_loop_add(m->curl, e) < 0) {
        curl_easy_cleanup(e);
        return -1;
    }
    m->easy = e;
    j->attempts++;
    if (j->attempts > 1) m->stats.retried++;
    return 0;
}

static void em_pump(email *m)
{
    while (!m->current && m->head) {
        em_job *j = m->head;
        m->head = j->next;
        if (!m->head) m->tail = NULL;
        m->n_waiting--;
        j->next = NULL;
        m->current = j;
        if (em_start(m) < 0) {
            m->stats.failed++;
            m->current = NULL;
            job_free(j);
        }
    }
    em_check_flush(m);
}

static void em_give_up(email *m)
{
    m->stats.failed++;
    job_free(m->current);
    m->current = NULL;
}

static void on_transfer_done(CURL *easy, CURLcode rc, void *arg)
{
    email *m = arg;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    bm_curl_loop_remove(m->curl, easy);
    curl_easy_cleanup(easy);
    m->easy = NULL;
    em_job *j = m->current;
    if (!j) return;
    if (rc == CURLE_OK) {
        m->stats.sent++;
        if (m->failing) bm_info("email '%s': %s delivers again", m->name, m->url_for_log);
        m->failing = 0;
        if (m->rcpt_refused && !m->rcpt_refused_logged)
            bm_warn("email '%s': mail sent to %zu of %zu recipient(s): %s (not logged again "
                    "until a mail reaches every recipient)",
                    m->name, m->n_to - m->rcpt_refused, m->n_to, m->rcpt_refused_what);
        m->rcpt_refused_logged = m->rcpt_refused > 0;
        job_free(j);
        m->current = NULL;
        return;
    }
    m->stats.attempt_errors++;
    /* a 5xx is the server's final word; so are a refused login and a bad URL */
    int permanent = (code >= 500 && code < 600) || rc == CURLE_LOGIN_DENIED ||
                    rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
                    rc == CURLE_USE_SSL_FAILED || rc == CURLE_PEER_FAILED_VERIFICATION;
    int retry = !permanent && j->attempts < m->max_attempts;
    if (!m->failing) {
        m->failing = 1;
        char why[64] = "";
        if (code) snprintf(why, sizeof why, " (SMTP %ld)", code);
        bm_warn("email '%s': %s: %s%s (%s; further failures are not logged until it recovers)",
                m->name, m->url_for_log, m->errbuf[0] ? m->errbuf : curl_easy_strerror(rc), why,
                retry ? "retrying" : "mail given up");
    }
    if (!retry) {
        em_give_up(m);
        return;
    }
    int64_t d = m->backoff_ms;
    for (unsigned i = 1; i < j->attempts && d < m->backoff_max_ms; i++)
        d *= 2;
    if (d > m->backoff_max_ms) d = m->backoff_max_ms;
    struct timeval tv = ms_tv(d);
    if (evtimer_add(m->retry_ev, &tv) < 0) em_give_up(m);
}

static void on_curl_round(void *arg)
{
    em_pump(arg);
}

static void on_retry_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    email *m = arg;
    if (m->current && em_start(m) < 0) em_give_up(m);
    em_pump(m);
}

/* Queue a made message (taking it). @return a bm_sink_result. */
static bm_sink_result em_queue(email *m, char *msg, size_t len)
{
    em_job *j = calloc(1, sizeof *j);
    if (!j) {
        free(msg);
        m->stats.dropped++;
        return BM_SINK_ERROR;
    }
    j->msg = msg;
    j->len = len;
    if (m->tail)
        m->tail->next = j;
    else
        m->head = j;
    m->tail = j;
    m->n_waiting++;
    em_pump(m);
    return BM_SINK_QUEUED;
}

/* The limit lets mail through again: send the summary of what it held back. */
static void on_limit_free(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    email *m = arg;
    if (!m->limited_pending) return;
    if (!rate_take(m)) {
        rate_arm(m);
        return;
    }
    size_t len = 0;
    char *msg = summary_mail(m, &len);
    m->limited_pending = 0;
    m->limited_len = 0;
    m->limit_logged = 0;
    if (!msg || em_held(m) >= m->queue_max) {
        free(msg);
        m->stats.dropped++;
        em_check_flush(m);
        return;
    }
    m->stats.emitted++;
    em_queue(m, msg, len);
}

/* ---- the table's functions ------------------------------------------------ */

static const bm_sink_key email_keys[] = {
    {"url", NULL,
     "smtp://HOST[:PORT] (STARTTLS as `tls` says) or smtps://HOST[:PORT] (TLS from the start); "
     "required"},
    {"tls", "try",
     "on smtp://: try (STARTTLS when the server offers it), required (refuse to send "
     "without), none"},
    {"username", NULL, "SMTP login (AUTH)"},
    {"password", NULL, "SMTP password; write password_file: PATH to keep it out of the file"},
    {"from", NULL, "the sender address (required)"},
    {"to", NULL, "the recipients, a comma list (required)"},
    {"dashboard_url", NULL, "a link to the dashboard, written into every mail"},
    {"ca_cert", NULL,
     "a path: a CA bundle (PEM) to verify the server's certificate with, instead of the "
     "system's (a private CA, a self-signed server)"},
    {"subject_prefix", "[busmon]", "the start of every subject"},
    {"rate_limit", "10/1m",
     "N/PERIOD: at most N mails in any PERIOD (N alone: a minute; 0: no limit); the rest are "
     "counted and listed in one summary mail when the limit allows"},
    {"timeout", "30s", "the longest one attempt may take, connecting included"},
    {"max_attempts", "5", "attempts per mail, the first included"},
    {"backoff", "5s", "wait before the first retry; doubled before each further one"},
    {"backoff_max", "5m", "the longest wait between two attempts"},
    {"queue", "100", "mails held at most (waiting or being sent); more are dropped"},
    {NULL, NULL, NULL},
};

static void em_free(void *self);

/* An address is one line, has an '@' and no '<', '>' or ','. */
static int address_ok(const char *a)
{
    return *a && strchr(a, '@') && !strpbrk(a, "<>,\r\n \t");
}

/* "<addr>" for the SMTP envelope. */
static char *angled(const char *a)
{
    char *s = NULL;
    return asprintf(&s, "<%s>", a) < 0 ? NULL : s;
}

static int em_set(email *m, const char *key, const char *v, char *err, size_t errlen)
{
    size_t u;
    int64_t us;
    if (!strcmp(key, "url")) {
        int tls_at_once = !strncasecmp(v, "smtps://", 8);
        if (strncasecmp(v, "smtp://", 7) && !tls_at_once) {
            /* the value may be a secret (url_file): quote its scheme at most */
            if (!strstr(v, "://"))
                return bm_set_error(err, errlen,
                                    "'url' must start with smtp:// or smtps:// (it has no scheme)"),
                       -1;
            return bm_set_error(err, errlen,
                                "'url' must start with smtp:// or smtps://, not "
                                "'%.*s://'",
                                (int)strcspn(v, ":"), v),
                   -1;
        }
        CURLU *cu = curl_url();
        char *host = NULL, *port = NULL;
        int bad = !cu || curl_url_set(cu, CURLUPART_URL, v, 0) != CURLUE_OK ||
                  curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK;
        if (!bad) curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        char shown[300];
        if (!bad)
            snprintf(shown, sizeof shown, "%s://%s:%s", tls_at_once ? "smtps" : "smtp", host,
                     port ? port : "?");
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(cu);
        if (bad) return bm_set_error(err, errlen, "'url' is not a usable URL"), -1;
        free(m->url);
        free(m->url_for_log);
        m->url = strdup(v);
        m->url_for_log = strdup(shown);
        return m->url && m->url_for_log ? 0 : (bm_set_error(err, errlen, "out of memory"), -1);
    }
    if (!strcmp(key, "tls")) {
        if (!strcasecmp(v, "try"))
            m->use_ssl = CURLUSESSL_TRY;
        else if (!strcasecmp(v, "required"))
            m->use_ssl = CURLUSESSL_ALL;
        else if (!strcasecmp(v, "none"))
            m->use_ssl = CURLUSESSL_NONE;
        else
            return bm_set_error(err, errlen, "'tls' must be try, required or none, not '%s'", v),
                   -1;
        return 0;
    }
    char **str = !strcmp(key, "username")         ? &m->username
                 : !strcmp(key, "password")       ? &m->password
                 : !strcmp(key, "dashboard_url")  ? &m->dashboard_url
                 : !strcmp(key, "ca_cert")        ? &m->ca_file
                 : !strcmp(key, "subject_prefix") ? &m->subject_prefix
                 : !strcmp(key, "from")           ? &m->from
                                                  : NULL;
    if (str) {
        if (strcspn(v, "\r\n") != strlen(v))
            return bm_set_error(err, errlen, "'%s' must be one line", key), -1;
        if (!strcmp(key, "from") && !address_ok(v))
            return bm_set_error(err, errlen, "'from' must be an address (name@host), not '%s'", v),
                   -1;
        free(*str);
        *str = strdup(v);
        return *str ? 0 : (bm_set_error(err, errlen, "out of memory"), -1);
    }
    if (!strcmp(key, "to")) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", v);
        char *save = NULL;
        for (char *w = strtok_r(buf, ", []", &save); w; w = strtok_r(NULL, ", []", &save)) {
            if (!address_ok(w))
                return bm_set_error(err, errlen, "'to': '%s' is not an address (name@host)", w), -1;
            if (m->n_to == EM_RCPT_MAX)
                return bm_set_error(err, errlen, "'to': at most %d recipients", EM_RCPT_MAX), -1;
            if (!(m->to[m->n_to++] = strdup(w)))
                return bm_set_error(err, errlen, "out of memory"), -1;
        }
        if (!m->n_to) return bm_set_error(err, errlen, "'to' names no recipient"), -1;
        return 0;
    }
    if (!strcmp(key, "timeout") || !strcmp(key, "backoff") || !strcmp(key, "backoff_max")) {
        if (bm_parse_duration_us(v, BM_US_PER_S, &us) != BM_PARSE_OK || us < 1000 ||
            us > BM_US_PER_DAY)
            return bm_set_error(err, errlen,
                                "'%s' must be a duration of at least 1ms (250ms, 5s, 1m), not "
                                "'%s'",
                                key, v),
                   -1;
        int64_t ms = (us + 500) / 1000;
        if (key[0] == 't')
            m->timeout_ms = ms;
        else if (!strcmp(key, "backoff"))
            m->backoff_ms = ms;
        else
            m->backoff_max_ms = ms;
        return 0;
    }
    if (!strcmp(key, "rate_limit")) {
        char n[32];
        const char *slash = strchr(v, '/');
        size_t nl = slash ? (size_t)(slash - v) : strlen(v);
        int64_t per_us = BM_US_PER_MIN;
        snprintf(n, sizeof n, "%.*s", (int)(nl < sizeof n ? nl : sizeof n - 1), v);
        if (bm_parse_size(n, &u) || u > EM_RATE_MAX ||
            (slash && (bm_parse_duration_us(slash + 1, BM_US_PER_S, &per_us) != BM_PARSE_OK ||
                       per_us < BM_US_PER_S || per_us > BM_US_PER_DAY)))
            return bm_set_error(err, errlen,
                                "'rate_limit' must be N/PERIOD (10/1m, 100/1h; N 0-%d, PERIOD "
                                "1s-1d) or N (a minute), not '%s'",
                                EM_RATE_MAX, v),
                   -1;
        m->rate_max = (uint32_t)u;
        m->rate_period_ms = per_us / 1000;
        snprintf(m->rate_text, sizeof m->rate_text, "%s%s", v, slash ? "" : "/1m");
        return 0;
    }
    struct {
        const char *key;
        size_t lo, hi;
    } nums[] = {{"max_attempts", 1, 100}, {"queue", 1, 100000}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].key)) continue;
        if (bm_parse_size(v, &u) || u < nums[i].lo || u > nums[i].hi)
            return bm_set_error(err, errlen, "'%s' must be %zu-%zu, not '%s'", key, nums[i].lo,
                                nums[i].hi, v),
                   -1;
        if (i == 0) m->max_attempts = (unsigned)u;
        if (i == 1) m->queue_max = (uint32_t)u;
        return 0;
    }
    return bm_set_error(err, errlen, "unknown key '%s'", key), -1;
}

static void *em_init(const bm_sink_env *env, const char *name, const bm_sink_kv *kv, size_t n_kv,
                     char *err, size_t errlen)
{
    email *m = calloc(1, sizeof *m);
    if (!m) return bm_set_error(err, errlen, "out of memory"), NULL;
    m->base = env->base;
    m->use_ssl = CURLUSESSL_TRY;
    m->timeout_ms = 30000;
    m->max_attempts = 5;
    m->backoff_ms = 5000;
    m->backoff_max_ms = 300000;
    m->queue_max = 100;
    m->rate_max = 10;
    m->rate_period_ms = 60000;
    snprintf(m->rate_text, sizeof m->rate_text, "10/1m");
    m->name = strdup(name ? name : "email");
    m->subject_prefix = strdup("[busmon]");
    if (!m->name || !m->subject_prefix) {
        bm_set_error(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_kv; i++)
        if (em_set(m, kv[i].key, kv[i].value ? kv[i].value : "", err, errlen) < 0) goto fail;
    const char *missing = !m->url ? "url" : !m->from ? "from" : !m->n_to ? "to" : NULL;
    if (missing) {
        bm_set_error(err, errlen, "'%s' is required", missing);
        goto fail;
    }
    if (m->password && !m->username) {
        bm_set_error(err, errlen, "a password needs a 'username'");
        goto fail;
    }
    char *from = angled(m->from);
    free(m->from);
    m->from = NULL;
    if (!from) goto nomem;
    /* the From header shows the address as given; the envelope wants <addr> */
    m->from = from;
    for (size_t i = 0; i < m->n_to; i++) {
        char *a = angled(m->to[i]);
        struct curl_slist *r = a ? curl_slist_append(m->rcpt, a) : NULL;
        free(a);
        if (!r) goto nomem;
        m->rcpt = r;
    }
    m->sent_at_ms = calloc(m->rate_max ? m->rate_max : 1, sizeof *m->sent_at_ms);
    m->flush = (bm_sink_flusher){
        m, em_held_of, em_abandon_of, "email", m->name, "mail(s)", m->base, NULL, 0, NULL, NULL};
    m->curl = bm_curl_loop_new(m->base, on_transfer_done, on_curl_round, m);
    m->retry_ev = evtimer_new(m->base, on_retry_due, m);
    m->limit_ev = evtimer_new(m->base, on_limit_free, m);
    m->limited_lines = malloc(EM_SUMMARY_LINES * 256);
    if (!m->sent_at_ms || !m->curl || !m->retry_ev || !m->limit_ev || !m->limited_lines) goto nomem;
    return m;
nomem:
    bm_set_error(err, errlen, "out of memory (or libcurl did not initialise)");
fail:
    em_free(m);
    return NULL;
}

static bm_sink_result em_emit(void *self, bm_topic topic, const bm_sink_body *body)
{
    (void)topic;
    email *m = self;
    m->stats.emitted++;
    char oneline[256];
    size_t len = 0;
    char *msg =
        body->data ? alert_mail(m, body->data, body->len, &len, oneline, sizeof oneline) : NULL;
    if (!msg) {
        m->stats.dropped++; /* not an alert record (format generic, topic alert) */
        return BM_SINK_ERROR;
    }
    if (!rate_take(m)) {
        free(msg);
        m->stats.rate_limited++;
        if (m->limited_pending < EM_SUMMARY_LINES)
            m->limited_len +=
                (size_t)snprintf(m->limited_lines + m->limited_len, 256, "  %.250s\r\n", oneline);
        m->limited_pending++;
        if (!m->limit_logged) {
            m->limit_logged = 1;
            bm_warn("email '%s': over its rate limit of %s mails: the rest are counted and "
                    "listed in one summary mail when the limit allows",
                    m->name, m->rate_text);
        }
        rate_arm(m);
        return BM_SINK_QUEUED;
    }
    if (em_held(m) >= m->queue_max) {
        free(msg);
        m->stats.dropped++;
        return BM_SINK_DROPPED;
    }
    return em_queue(m, msg, len);
}

static uint64_t em_abandon_all(email *m)
{
    uint64_t n = 0;
    if (m->easy) {
        bm_curl_loop_remove(m->curl, m->easy);
        curl_easy_cleanup(m->easy);
        m->easy = NULL;
    }
    if (m->retry_ev) evtimer_del(m->retry_ev);
    if (m->current) {
        job_free(m->current);
        m->current = NULL;
        n++;
    }
    while (m->head) {
        em_job *j = m->head;
        m->head = j->next;
        job_free(j);
        n++;
    }
    m->tail = NULL;
    m->n_waiting = 0;
    if (m->limited_pending) { /* the summary mail, made never: given up like a mail */
        bm_warn("email '%s': the summary of %llu notification(s) over the rate limit of %s "
                "was not mailed before the stop",
                m->name, (unsigned long long)m->limited_pending, m->rate_text);
        m->limited_pending = 0;
        m->limited_len = 0;
        if (m->limit_ev) evtimer_del(m->limit_ev);
        m->stats.emitted++;
        n++;
    }
    m->stats.failed += n;
    return n;
}

static void em_flush(void *self, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    email *m = self;
    bm_sink_flusher_start(&m->flush, timeout_ms, cb, arg);
}

static void em_stats(const void *self, bm_sink_stats *out)
{
    const email *m = self;
    *out = m->stats;
    out->in_flight = m->easy != NULL;
    out->queued = em_held(m);
}

static void em_free(void *self)
{
    email *m = self;
    if (!m) return;
    if (m->curl) em_abandon_all(m);
    bm_curl_loop_free(m->curl);
    if (m->retry_ev) event_free(m->retry_ev);
    if (m->limit_ev) event_free(m->limit_ev);
    bm_sink_flusher_deinit(&m->flush);
    curl_slist_free_all(m->rcpt);
    for (size_t i = 0; i < m->n_to; i++)
        free(m->to[i]);
    if (m->password) memset(m->password, 0, strlen(m->password));
    free(m->password);
    free(m->username);
    free(m->from);
    free(m->url);
    free(m->url_for_log);
    free(m->dashboard_url);
    free(m->ca_file);
    free(m->subject_prefix);
    free(m->sent_at_ms);
    free(m->limited_lines);
    free(m->name);
    free(m);
}

const bm_sink_type bm_sink_email = {
    .name = "email",
    .keys = email_keys,
    .init = em_init,
    .emit = em_emit,
    .flush = em_flush,
    .stats = em_stats,
    .free = em_free,
};
