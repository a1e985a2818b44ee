/*
 * webhook.c - the webhook sink type (sink.h): HTTP(S) POST of each body,
 * delivered by http_post.c (libcurl multi in the loop; retries with
 * backoff, Retry-After honoured, a bounded queue, failures logged once per
 * burst).
 *
 * With concurrency 1 (the default) bodies are delivered strictly in order:
 * a PagerDuty resolve never overtakes its trigger.
 *
 * Its keys, with defaults and a line of help each, are webhook_keys below.
 * Not here: building bodies (proto/alert.c), deciding what to send
 * (lib/alerts.c), the common keys (sink.c), reading YAML (agent/config/),
 * delivery (http_post.c).
 */
#include <stdlib.h>
#include <string.h>

#include "agent/core/log.h"
#include "agent/outputs/http_post.h"
#include "agent/outputs/sink.h"

#define WEBHOOK_QUEUE_BYTES 16000000 /* queue_bytes' default, "16M" */

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
    {"queue_bytes", "16M",
     "bytes of the bodies held at most (0: no bound; one body alone always goes): a rollup may "
     "be megabytes; more are dropped (counted)"},
    {"concurrency", "1",
     "requests at once; 1 delivers in order (a retrying notification holds back the rest)"},
    {"header.", NULL, "header.NAME: VALUE adds a request header (e.g. header.Authorization)"},
    {"dashboard_url", NULL,
     "a link back to busmon in each alert body: Slack title_link, PagerDuty client_url, "
     "Alertmanager generatorURL"},
    {NULL, NULL, NULL},
};

static void *wh_init(const bm_sink_env *env, const char *name, const bm_sink_kv *kv, size_t n_kv,
                     char *err, size_t errlen)
{
    bm_http_post_opts o;
    bm_http_post_opts_init(&o);
    o.queue_max_bytes = WEBHOOK_QUEUE_BYTES;
    for (size_t i = 0; i < n_kv; i++) {
        if (!strcmp(kv[i].key, "dashboard_url")) continue; /* the alert bodies' (bm_sink_option) */
        int rc = bm_http_post_opts_set(&o, "url", kv[i].key, kv[i].value ? kv[i].value : "", err,
                                       errlen);
        if (rc > 0) bm_set_error(err, errlen, "unknown key '%s'", kv[i].key);
        if (rc) goto fail;
    }
    if (!o.url) {
        bm_set_error(err, errlen, "'url' is required");
        goto fail;
    }
    bm_http_post *p =
        bm_http_post_new(env->base, "webhook", name ? name : "webhook", "notification", &o, err,
                         errlen);
    bm_http_post_opts_deinit(&o);
    return p;
fail:
    bm_http_post_opts_deinit(&o);
    return NULL;
}

static bm_sink_result wh_emit(void *self, bm_topic topic, const bm_sink_body *body)
{
    (void)topic;
    return bm_http_post_send(self, body->data, body->len, body->content_type);
}

static void wh_flush(void *self, int64_t timeout_ms, bm_sink_flush_cb cb, void *arg)
{
    bm_http_post_flush(self, timeout_ms, cb, self, arg);
}

static void wh_stats(const void *self, bm_sink_stats *out)
{
    bm_http_post_stats(self, out);
}

static void wh_free(void *self)
{
    bm_http_post_free(self);
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
