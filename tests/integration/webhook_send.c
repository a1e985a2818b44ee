/*
 * webhook_send.c - drives one webhook sink (agent/outputs/webhook.c) the way the
 * agent will: inside a libevent loop that also runs a 10 ms timer, it hands
 * the sink N alert notifications (bodies built by proto/alert.c in the
 * sink's format, through bm_sink_emit_built), flushes with a
 * deadline, and prints one JSON line of the sink's counters and the timer's
 * ticks on stdout. The ticks prove the loop never blocked: a blocked loop
 * shows fewer ticks than elapsed_ms / 10 and a large max_tick_gap_ms.
 *
 *   bm-webhook-send --url URL [--format generic|slack|pagerduty|alertmanager]
 *                   [--count N] [--timeout T] [--max-attempts N] [--queue N]
 *                   [--backoff T] [--backoff-max T] [--concurrency N]
 *                   [--routing-key K] [--set KEY=VALUE]... [--deadline-ms D]
 *                   [--sent-file F] [--topic T] [--description TEXT] [--label K=V]
 *                   [--items N]
 *
 * Each alert is distinct (rule "webhook_test", label seq=i, value i); with
 * --sent-file every body sent is written there, one per line, so a test can
 * compare what arrived. --topic emits on another topic than alert (the
 * bodies are still alerts): a sink that cannot carry it must drop them, never
 * POST them. --description gives every alert that text (line breaks and all)
 * instead of "test notification <seq>"; --label K=V gives it a second label;
 * --items N says each body holds N items (spans, for an otlp sink's batches).
 * Log lines (the sink's warnings) go to stderr.
 * Exit: 0 when the flush finished, 1 when the sink could not be made or the
 * run hit its hard limit, 2 on bad flags.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/log.h"
#include "agent/outputs/sink.h"
#include "proto/alert.h"

#define MAX_KV 64

typedef struct {
    struct event_base *base;
    bm_sink *sink;
    long count;
    long next_seq;
    int64_t deadline_ms;
    FILE *sent_file;
    bm_topic topic;
    const char *description; /* NULL: "test notification <seq>" */
    const char *label;       /* "K=V": a second label; NULL none */
    uint32_t items;          /* each body's n_items (0: not said) */

    uint64_t ticks;
    int64_t last_tick_ms, max_tick_gap_ms, started_ms, ended_ms;
    long accepted, refused;
    bm_sink_stats after_emit;
    uint64_t abandoned;
    int flushed;
} driver;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    driver *d = arg;
    int64_t now = mono_ms();
    if (now - d->last_tick_ms > d->max_tick_gap_ms) d->max_tick_gap_ms = now - d->last_tick_ms;
    d->last_tick_ms = now;
    d->ticks++;
}

/* The builder: the alert numbered d->next_seq, in the sink's format. */
static int build_body(const bm_sink *sink, bm_topic topic, bm_sink_body *out, void *arg)
{
    (void)topic;
    driver *d = arg;
    bm_alert a;
    memset(&a, 0, sizeof a);
    snprintf(a.rule, sizeof a.rule, "webhook_test");
    a.state = BM_ALERT_FIRING;
    a.severity = BM_SEVERITY_WARNING;
    a.n_labels = 1;
    snprintf(a.labels[0].key, sizeof a.labels[0].key, "seq");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "%ld", d->next_seq);
    const char *eq = d->label ? strchr(d->label, '=') : NULL;
    if (eq) {
        snprintf(a.labels[1].key, sizeof a.labels[1].key, "%.*s", (int)(eq - d->label), d->label);
        snprintf(a.labels[1].value, sizeof a.labels[1].value, "%s", eq + 1);
        a.n_labels = 2;
    }
    snprintf(a.metric, sizeof a.metric, "error_rate");
    snprintf(a.op, sizeof a.op, ">");
    snprintf(a.window, sizeof a.window, "5m");
    a.value = (double)d->next_seq;
    a.threshold = 0.1;
    if (d->description)
        snprintf(a.description, sizeof a.description, "%s", d->description);
    else
        snprintf(a.description, sizeof a.description, "test notification %ld", d->next_seq);
    a.starts_at_us = 1700000000000000LL;
    a.ts_us = a.starts_at_us + d->next_seq * 1000000LL;
    a.fingerprint = bm_alert_fingerprint(a.rule, a.labels, a.n_labels);

    int f = bm_alert_body_format_parse(bm_sink_format(sink));
    if (f < 0) return -1;
    bm_alert_body_opts o = {.agent = "webhook-send",
                            .routing_key = bm_sink_option(sink, "routing_key")};
    size_t len = 0;
    char *body = bm_alert_body((bm_alert_body_format)f, &a, &o, &len);
    if (!body) return -1;
    out->data = body;
    out->len = len;
    out->content_type = "application/json";
    out->n_items = d->items;
    if (d->sent_file) fprintf(d->sent_file, "%s\n", body);
    return 0;
}

static void release_body(bm_sink_body *body, void *arg)
{
    (void)arg;
    free((char *)body->data);
}

static void on_flushed(void *sink, uint64_t abandoned, void *arg)
{
    (void)sink;
    driver *d = arg;
    d->abandoned = abandoned;
    d->flushed = 1;
    d->ended_ms = mono_ms();
    event_base_loopbreak(d->base);
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    driver *d = arg;
    for (d->next_seq = 1; d->next_seq <= d->count; d->next_seq++) {
        if (bm_sink_emit_built(d->sink, d->topic, build_body, release_body, d) == BM_SINK_QUEUED)
            d->accepted++;
        else
            d->refused++;
    }
    if (d->sent_file) fflush(d->sent_file);
    bm_sink_get_stats(d->sink, &d->after_emit);
    bm_sink_flush(d->sink, d->deadline_ms, on_flushed, d);
}

static void on_hard_limit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    driver *d = arg;
    d->ended_ms = mono_ms();
    event_base_loopbreak(d->base);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bm-webhook-send --url URL [--format F] [--count N] [--timeout T] "
            "[--max-attempts N] [--queue N] [--backoff T] [--backoff-max T] [--concurrency N] "
            "[--routing-key K] [--set KEY=VALUE]... [--deadline-ms D] [--sent-file F] [--topic T] "
            "[--description TEXT] [--label K=V] [--items N]\n");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *flag, *key;
    } direct[] = {
        {"--url", "url"},
        {"--format", "format"},
        {"--timeout", "timeout"},
        {"--max-attempts", "max_attempts"},
        {"--queue", "queue"},
        {"--backoff", "backoff"},
        {"--backoff-max", "backoff_max"},
        {"--concurrency", "concurrency"},
        {"--routing-key", "routing_key"},
        {"--name", "name"},
    };
    bm_sink_kv kv[MAX_KV];
    char *owned[MAX_KV];
    size_t n_kv = 0, n_owned = 0;
    driver d = {.count = 10, .deadline_ms = 10000, .topic = BM_TOPIC_ALERT};
    const char *sent_path = NULL;

    bm_log_init("webhook-send", BM_LOG_INFO);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v || n_kv == MAX_KV) {
            usage();
            return 2;
        }
        i++;
        size_t k;
        for (k = 0; k < sizeof direct / sizeof direct[0]; k++)
            if (!strcmp(a, direct[k].flag)) break;
        if (k < sizeof direct / sizeof direct[0]) {
            kv[n_kv++] = (bm_sink_kv){direct[k].key, v};
        } else if (!strcmp(a, "--set")) {
            char *copy = strdup(v), *eq = copy ? strchr(copy, '=') : NULL;
            if (!eq) {
                free(copy);
                usage();
                return 2;
            }
            *eq = '\0';
            owned[n_owned++] = copy;
            kv[n_kv++] = (bm_sink_kv){copy, eq + 1};
        } else if (!strcmp(a, "--count")) {
            d.count = atol(v);
        } else if (!strcmp(a, "--deadline-ms")) {
            d.deadline_ms = atol(v);
        } else if (!strcmp(a, "--items")) {
            d.items = (uint32_t)atol(v);
        } else if (!strcmp(a, "--label")) {
            d.label = v;
        } else if (!strcmp(a, "--description")) {
            d.description = v;
        } else if (!strcmp(a, "--sent-file")) {
            sent_path = v;
        } else if (!strcmp(a, "--topic")) {
            int t = bm_topic_parse(v);
            if (t < 0) {
                usage();
                return 2;
            }
            d.topic = (bm_topic)t;
        } else {
            usage();
            return 2;
        }
    }
    if (d.count < 0 || d.deadline_ms < 0) {
        usage();
        return 2;
    }

    int rc = 1;
    char err[512];
    d.base = event_base_new();
    if (!d.base) return 1;
    bm_sink_env env = {d.base, NULL};
    d.sink = bm_sink_new(&env, kv, n_kv, err, sizeof err);
    if (!d.sink) {
        fprintf(stderr, "webhook-send: %s\n", err);
        goto out;
    }
    if (sent_path && !(d.sent_file = fopen(sent_path, "w"))) {
        perror(sent_path);
        goto out;
    }

    struct event *ev_tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
    struct event *ev_start = evtimer_new(d.base, on_start, &d);
    struct event *ev_limit = evtimer_new(d.base, on_hard_limit, &d);
    struct timeval ten_ms = {0, 10000}, zero = {0, 0};
    struct timeval limit = {(time_t)(d.deadline_ms / 1000 + 10), 0};
    evtimer_add(ev_tick, &ten_ms);
    evtimer_add(ev_start, &zero);
    evtimer_add(ev_limit, &limit);
    d.started_ms = d.last_tick_ms = mono_ms();

    event_base_dispatch(d.base);
    if (!d.ended_ms) d.ended_ms = mono_ms();

    bm_sink_stats st;
    bm_sink_get_stats(d.sink, &st);
    int64_t elapsed = d.ended_ms - d.started_ms;
    printf("{\"sink\":\"%s\",\"format\":\"%s\",\"count\":%ld,\"accepted\":%ld,\"refused\":%ld,"
           "\"held_after_emit\":%u,\"emitted\":%llu,\"sent\":%llu,\"failed\":%llu,"
           "\"retried\":%llu,\"dropped\":%llu,\"attempt_errors\":%llu,\"in_flight\":%u,"
           "\"queued\":%u,\"abandoned\":%llu,\"flushed\":%s,\"ticks\":%llu,\"elapsed_ms\":%lld,"
           "\"max_tick_gap_ms\":%lld}\n",
           bm_sink_name(d.sink), bm_sink_format(d.sink), d.count, d.accepted,
           d.refused, d.after_emit.queued, (unsigned long long)st.emitted,
           (unsigned long long)st.sent, (unsigned long long)st.failed,
           (unsigned long long)st.retried, (unsigned long long)st.dropped,
           (unsigned long long)st.attempt_errors, st.in_flight, st.queued,
           (unsigned long long)d.abandoned, d.flushed ? "true" : "false",
           (unsigned long long)d.ticks, (long long)elapsed, (long long)d.max_tick_gap_ms);
    rc = d.flushed ? 0 : 1;
    event_free(ev_tick);
    event_free(ev_start);
    event_free(ev_limit);
out:
    if (d.sent_file) fclose(d.sent_file);
    bm_sink_free(d.sink);
    event_base_free(d.base);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return rc;
}
