/*
 * curl_loop.h - libcurl's multi interface on a libevent base, shared by
 * the sinks that deliver with libcurl (http_post.c: HTTP POST for the
 * webhook and otlp sinks; email.c:
 * SMTP). curl says which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one
 * event per socket) and when to wake it (CURLMOPT_TIMERFUNCTION -> one
 * evtimer); each wake-up is one curl_multi_socket_action call, then every
 * finished transfer is handed to `done`, then `round` runs once. Nothing
 * here waits: no curl_multi_perform loop, no curl_easy_perform, no sleep.
 *
 * Not here: what a transfer is, retries, queues (the sinks).
 */
#ifndef BM_OUTPUTS_CURL_LOOP_H
#define BM_OUTPUTS_CURL_LOOP_H

#include <curl/curl.h>

struct event_base;

typedef struct bm_curl_loop bm_curl_loop;

/* One transfer finished with rc: it is still added; the callee removes it
 * (bm_curl_loop_remove) before cleaning it up. */
typedef void (*bm_curl_done_cb)(CURL *easy, CURLcode rc, void *arg);
/* After every wake-up's finished transfers were handed over. */
typedef void (*bm_curl_round_cb)(void *arg);

/* @return the loop (caller frees), or NULL (curl did not initialise, out of memory). */
bm_curl_loop *bm_curl_loop_new(struct event_base *base, bm_curl_done_cb done,
                               bm_curl_round_cb round, void *arg);
/* Start a configured easy handle (borrowed; stays the caller's). @return 0 or -1. */
int bm_curl_loop_add(bm_curl_loop *l, CURL *easy);
/* Stop it (it may be running). */
void bm_curl_loop_remove(bm_curl_loop *l, CURL *easy);
/* Release the multi handle and every socket event: remove the transfers
 * first. NULL is a no-op. */
void bm_curl_loop_free(bm_curl_loop *l);

#endif
