/*
 * publish.c - bench-publish: the MultiAgents Framework's pub/sub traffic at a
 * chosen rate, from several clients (tests/bench/pubsub.sh).
 *
 * Each transaction is a command on `<prefix>command.<worker>` followed by its
 * answer on `<prefix>result.<worker>`, in the framework's JSON wire shape
 * (nested `metadata`, `command_id`, `success`, `error_details` on the ~10 %
 * that fail). PUBLISHes go over K connections round-robin, pipelined
 * `--pipeline` at a time per connection, paced to `--rate` messages per
 * second in total (0: as fast as Redis takes them).
 *
 * Prints one line:
 *
 *   published: N messages (T transactions) in S s, R msg/s, K clients, reached X, failed F
 *
 * where `reached` sums PUBLISH's replies (subscribers that got each message)
 * and `failed` counts results with success:false. With --truth FILE it also
 * writes "<worker>\t<ok>\t<failed>" per worker.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define N_WORKERS   8

static const char *const workers[N_WORKERS] = {"research", "writer",  "analyst", "coder",
                                               "reviewer", "planner", "search",  "summarizer"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void usage(FILE *f)
{
    fputs("usage: bench-publish [--host H] [--port P] [--clients K] [--rate R] [--seconds D]\n"
          "                     [--transactions N] [--pipeline B] [--prefix P] [--seed S]\n"
          "                     [--truth FILE]\n"
          "  --clients K       connections publishing round-robin (default 4, at most 64)\n"
          "  --rate R          messages per second over all clients (default 0: unpaced)\n"
          "  --seconds D       stop after D seconds (default 5)\n"
          "  --transactions N  stop after N transactions (2 messages each; default: no bound)\n"
          "  --pipeline B      PUBLISHes per connection per round trip (default 50)\n"
          "  --prefix P        channel prefix (default multiagent:)\n"
          "  --seed S          transaction ids ps-S-<n> (default: the pid)\n"
          "  --truth FILE      write <worker> TAB <ok> TAB <failed> per worker\n",
          f);
}

static int arg_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench-publish: %s wants an integer in %ld..%ld, not '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *prefix = "multiagent:", *truth = NULL;
    long port = 6379, clients = 4, rate = 0, seconds = 5, pipeline = 50, seed = getpid();
    long max_tx = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench-publish: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--prefix"))
            prefix = v;
        else if (!strcmp(a, "--truth"))
            truth = v;
        else if (!strcmp(a, "--port"))
            bad = arg_long(a, v, 1, 65535, &port);
        else if (!strcmp(a, "--clients"))
            bad = arg_long(a, v, 1, MAX_CLIENTS, &clients);
        else if (!strcmp(a, "--rate"))
            bad = arg_long(a, v, 0, 100000000, &rate);
        else if (!strcmp(a, "--seconds"))
            bad = arg_long(a, v, 1, 3600, &seconds);
        else if (!strcmp(a, "--transactions"))
            bad = arg_long(a, v, 1, 1000000000, &max_tx);
        else if (!strcmp(a, "--pipeline"))
            bad = arg_long(a, v, 1, 10000, &pipeline);
        else if (!strcmp(a, "--seed"))
            bad = arg_long(a, v, 0, 1000000000, &seed);
        else {
            fprintf(stderr, "bench-publish: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) return 2;
    }

    redisContext *c[MAX_CLIENTS];
    for (long k = 0; k < clients; k++) {
        c[k] = redisConnect(host, (int)port);
        if (!c[k] || c[k]->err) {
            fprintf(stderr, "bench-publish: cannot connect to %s:%ld: %s\n", host, port,
                    c[k] ? c[k]->errstr : "out of memory");
            return 1;
        }
    }

    uint64_t ok[N_WORKERS] = {0}, failed[N_WORKERS] = {0};
    uint64_t rng = (uint64_t)seed * 2654435761u + 1, tx = 0, msgs = 0, reached = 0, nfail = 0;
    double t0 = now_s(), deadline = t0 + (double)seconds;
    char chan[256], body[1024];
    int done = 0;
    while (!done) {
        /* one round: `pipeline` messages on every connection, then the replies */
        long sent[MAX_CLIENTS] = {0};
        long per = pipeline / 2 > 0 ? pipeline / 2 : 1; /* transactions per connection */
        for (long k = 0; k < clients && !done; k++) {
            for (long j = 0; j < per; j++) {
                if (max_tx && (long)tx >= max_tx) {
                    done = 1;
                    break;
                }
                unsigned w = (unsigned)(rng_next(&rng) % N_WORKERS);
                int fail = rng_next(&rng) % 10 == 0;
                unsigned ms = 20 + (unsigned)(rng_next(&rng) % 180);
                tx++;
                /* the command */
                snprintf(chan, sizeof chan, "%scommand.%s", prefix, workers[w]);
                int n = snprintf(body, sizeof body,
                                 "{\"id\":\"cmd-%ld-%" PRIu64 "\",\"type\":\"command\","
                                 "\"metadata\":{\"transaction_id\":\"ps-%ld-%" PRIu64 "\","
                                 "\"correlation_id\":\"ps-%ld-%" PRIu64 ".step1\","
                                 "\"source\":\"orchestrator\"},"
                                 "\"command\":\"%s_task\",\"timeout_seconds\":30.0,"
                                 "\"payload\":{\"query\":\"summarise the quarterly report\","
                                 "\"max_tokens\":512,\"options\":{\"temperature\":0.2}}}",
                                 seed, tx, seed, tx, seed, tx, workers[w]);
                redisAppendCommand(c[k], "PUBLISH %s %b", chan, body, (size_t)n);
                /* its answer */
                snprintf(chan, sizeof chan, "%sresult.%s", prefix, workers[w]);
                if (fail)
                    n = snprintf(body, sizeof body,
                                 "{\"id\":\"res-%ld-%" PRIu64 "\",\"type\":\"result\","
                                 "\"metadata\":{\"transaction_id\":\"ps-%ld-%" PRIu64 "\","
                                 "\"correlation_id\":\"ps-%ld-%" PRIu64 ".step1\","
                                 "\"source\":\"%s\"},"
                                 "\"command_id\":\"cmd-%ld-%" PRIu64 "\",\"success\":false,"
                                 "\"execution_time_ms\":%u,"
                                 "\"error_message\":\"Connection timeout\","
                                 "\"error_details\":{\"error_type\":\"NetworkError\"}}",
                                 seed, tx, seed, tx, seed, tx, workers[w], seed, tx, ms);
                else
                    n = snprintf(body, sizeof body,
                                 "{\"id\":\"res-%ld-%" PRIu64 "\",\"type\":\"result\","
                                 "\"metadata\":{\"transaction_id\":\"ps-%ld-%" PRIu64 "\","
                                 "\"correlation_id\":\"ps-%ld-%" PRIu64 ".step1\","
                                 "\"source\":\"%s\"},"
                                 "\"command_id\":\"cmd-%ld-%" PRIu64 "\",\"success\":true,"
                                 "\"execution_time_ms\":%u,"
                                 "\"payload\":{\"summary\":\"revenue up 4 percent\","
                                 "\"tokens\":311}}",
                                 seed, tx, seed, tx, seed, tx, workers[w], seed, tx, ms);
                redisAppendCommand(c[k], "PUBLISH %s %b", chan, body, (size_t)n);
                sent[k] += 2;
                if (fail)
                    failed[w]++, nfail++;
                else
                    ok[w]++;
            }
        }
        for (long k = 0; k < clients; k++) {
            for (long j = 0; j < sent[k]; j++) {
                redisReply *r;
                if (redisGetReply(c[k], (void **)&r) != REDIS_OK) {
                    fprintf(stderr, "bench-publish: lost the connection: %s\n", c[k]->errstr);
                    return 1;
                }
                if (r->type == REDIS_REPLY_INTEGER) reached += (uint64_t)r->integer;
                freeReplyObject(r);
            }
            msgs += (uint64_t)sent[k];
        }
        double t = now_s();
        if (t >= deadline) done = 1;
        if (rate > 0 && !done) { /* pace: the messages so far are due at t0 + msgs / rate */
            double due = t0 + (double)msgs / (double)rate;
            if (due > t) usleep((useconds_t)((due - t) * 1e6));
        }
    }
    double el = now_s() - t0;
    printf("published: %" PRIu64 " messages (%" PRIu64 " transactions) in %.2f s, %.0f msg/s, "
           "%ld clients, reached %" PRIu64 ", failed %" PRIu64 "\n",
           msgs, tx, el, (double)msgs / el, clients, reached, nfail);
    if (truth) {
        FILE *f = fopen(truth, "w");
        if (!f) {
            perror(truth);
            return 1;
        }
        for (int w = 0; w < N_WORKERS; w++)
            if (ok[w] + failed[w])
                fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\n", workers[w], ok[w], failed[w]);
        fclose(f);
    }
    for (long k = 0; k < clients; k++)
        redisFree(c[k]);
    return 0;
}
