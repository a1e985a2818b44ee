/*
 * writer_reentry.c - a writer pushed from inside one of its connection's own
 * reply callbacks while the socket can no longer be written (10e8230).
 *
 * hiredis 0.14 frees a connection at once when a write to it fails, also
 * when that write happens inside one of its reply callbacks: the callback
 * then returns into hiredis, which reads the freed context. The writer
 * therefore never writes from inside a callback (core/writer.c); the write
 * event hiredis armed with the command writes once the callbacks return.
 * This drives exactly that case against a real Redis:
 *
 *   1. once connected, TIME is sent; inside its reply callback the socket's write side is
 *      shut (shutdown(SHUT_WR): every later write fails with EPIPE);
 *   2. still inside the callback, a SET is queued and the writer is pushed
 *      (`push`: bm_writer_push; `push_some`: a SET of more than 64 KiB and
 *      bm_writer_push_some, the long-run form);
 *   3. the connection must then end cleanly, outside the callback: the SET's
 *      callback gets NULL (lost) exactly once, the disconnect callback runs
 *      once, and the writer counts one lost command.
 *
 * Run under valgrind or ASan (tests/integration/test_writer_reentry.sh): the
 * use after free is a memcheck error there, whatever the exit code.
 *
 *   bm-writer-reentry HOST PORT push|push_some
 *
 * Prints one line per check ("ok - ..." or "FAIL - ..."). Exit 0 when every
 * check held, 1 when one did not, 2 on bad arguments.
 */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/core/writer.h"

#define BIG_VALUE (70 * 1024) /* past the writer's PUSH_BYTES (64 KiB) */

typedef struct {
    struct event_base *base;
    bm_writer *w;
    redisAsyncContext *ac;
    int some; /* push_some, not push */
    char *value;
    int time_replies, set_replies, set_lost, disconnects, disconnect_status;
    int time_sent, queued; /* TIME, then the SET, accepted by the writer */
    int timed_out;
} run;

static run R;

static void on_set(const redisReply *reply, void *arg)
{
    run *r = arg;
    r->set_replies++;
    if (!reply) r->set_lost++;
}

static void on_time(const redisReply *reply, void *arg)
{
    run *r = arg;
    r->time_replies++;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) return;
    shutdown(r->ac->c.fd, SHUT_WR);
    size_t len = r->some ? BIG_VALUE : 5;
    r->queued =
        bm_writer_set(r->w, BM_WRITE_STATE, "writer-reentry", r->value, len, 0, on_set, r) == 0;
    if (r->some)
        bm_writer_push_some(r->w);
    else
        bm_writer_push(r->w);
    /* the return into hiredis: it reads its context next */
}

/* Connected: the writer is given the connection, as the session does. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    if (status != REDIS_OK) {
        event_base_loopbreak(R.base);
        return;
    }
    bm_writer_attach(R.w, R.ac);
    R.time_sent = bm_writer_time(R.w, BM_WRITE_QUERY, on_time, &R) == 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    R.disconnects++;
    R.disconnect_status = status;
    bm_writer_attach(R.w, NULL);
    event_base_loopbreak(R.base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run *r = arg;
    r->timed_out = 1;
    event_base_loopbreak(r->base);
}

static int check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok  " : "FAIL", what);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "push") && strcmp(argv[3], "push_some"))) {
        fprintf(stderr, "usage: bm-writer-reentry HOST PORT push|push_some\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[2], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "bm-writer-reentry: not a port: '%s'\n", argv[2]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    R.some = !strcmp(argv[3], "push_some");
    R.value = malloc(BIG_VALUE);
    R.base = event_base_new();
    R.w = bm_writer_new(0);
    if (!R.value || !R.base || !R.w) return fprintf(stderr, "out of memory\n"), 1;
    memset(R.value, 'v', BIG_VALUE);
    R.ac = redisAsyncConnect(argv[1], (int)port);
    if (!R.ac || R.ac->err) {
        fprintf(stderr, "bm-writer-reentry: cannot connect: %s\n", R.ac ? R.ac->errstr : "?");
        return 1;
    }
    redisLibeventAttach(R.ac, R.base);
    redisAsyncSetConnectCallback(R.ac, on_connect);
    redisAsyncSetDisconnectCallback(R.ac, on_disconnect);
    struct event *limit = evtimer_new(R.base, on_timeout, &R);
    struct timeval ten = {10, 0};
    evtimer_add(limit, &ten);
    event_base_dispatch(R.base);

    bm_writer_stats st;
    bm_writer_get_stats(R.w, &st);
    int fails = check(R.time_sent, "connected; TIME sent");
    fails += check(!R.timed_out, "the connection ended within 10 s");
    fails += check(R.time_replies == 1, "TIME answered once");
    fails += check(R.queued, "the SET was queued inside TIME's callback");
    fails += check(R.set_replies == 1 && R.set_lost == 1, "the SET's callback ran once, lost");
    fails += check(R.disconnects == 1 && R.disconnect_status == REDIS_ERR,
                   "the disconnect callback ran once, with an error");
    fails += check(st.lost == 1, "the writer counts one lost command");
    if (R.disconnects == 0 && R.ac) redisAsyncFree(R.ac);
    event_free(limit);
    bm_writer_free(R.w);
    event_base_free(R.base);
    free(R.value);
    return fails ? 1 : 0;
}
