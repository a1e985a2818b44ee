/*
 * trace.c - `busmon trace TX`: read busmon:trace:<tx> (a list of msgpack
 * event records, proto/README.md) and print the timeline.
 *
 * The records are replayed into a lib/ trace, the same code the agent runs,
 * so ordering, dedup, pairing, stage and status are computed one way only.
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "lib/sampling.h"
#include "lib/trace.h"
#include "proto/event.h"
#include "lib/trace_json.h"

void bm_cli_trace_help(FILE *f)
{
    fprintf(
        f,
        "usage: busmon trace [--json] [--redis URL] TX\n"
        "\n"
        "Print transaction TX's timeline: each event's time, type, worker, step,\n"
        "stage, duration and error, then the transaction's status (running,\n"
        "completed, failed, compensated or cancelled: a final status event of\n"
        "the framework's wins, else it is derived from the answers) and total\n"
        "duration. Reads %s<TX> from Redis, so it works while busmon-agent runs\n"
        "and after it stopped, until the trace's retention (default 24 h)\n"
        "expires it.\n"
        "\n"
        "options:\n"
        "  --json        print the trace as one JSON object\n"
        "  --redis URL   Redis to read (default: $BUSMON_REDIS_URL, else redis://127.0.0.1:6379)\n"
        "  --group G     the agent's consumer group, whose keys are read\n"
        "                (default $BUSMON_GROUP; see busmon --help)\n"
        "  -h, --help    this help\n"
        "\n"
        "exit codes: 0 found, 1 no such transaction, 2 usage error, 3 Redis unreachable\n",
        "busmon:trace:");
}

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

static void format_duration(int64_t us, char *buf, size_t n)
{
    if (us < 0) snprintf(buf, n, "-");
    else if (us < 1000) snprintf(buf, n, "%lld us", (long long)us);
    else if (us < 1000000) snprintf(buf, n, "%.1f ms", (double)us / 1000.0);
    else snprintf(buf, n, "%.3f s", (double)us / 1e6);
}

static void print_text(const bm_cli_opts *o, const trace *t)
{
    trace_status st = trace_get_status(t);
    const char *col = "", *rst = "";
    if (o->color) {
        rst = "\033[0m";
        trace_status g = trace_status_group(st);
        col = g == TRACE_FAILED ? "\033[31m" : g == TRACE_COMPLETED ? "\033[32m" : "\033[33m";
    }
    char dur[32], start[48];
    format_duration(trace_duration_us(t), dur, sizeof dur);
    bm_cli_time(trace_first_ts_us(t), start, sizeof start);
    bm_cli_safe sb = {.next = 0}; /* names and messages came from events */
    printf("transaction %s\n", bm_cli_safe_text(&sb, trace_tx(t)));
    printf("  status:   %s%s%s\n", col, trace_status_name(st), rst);
    printf("  duration: %s\n", dur);
    printf("  started:  %s\n", start);
    printf("  events:   %zu\n\n", trace_count(t));
    printf("%-24s %10s  %-12s %-19s %-14s %-14s %10s  %s\n", "TIME (UTC)", "+OFFSET", "TYPE", "STAGE",
           "WORKER", "STEP", "DURATION", "ERROR");
    int64_t first = trace_first_ts_us(t);
    trace_event view;
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        char when[48], off[32], d[32];
        bm_cli_time(e->ts_us, when, sizeof when);
        snprintf(off, sizeof off, "+%.3fs", (double)(e->ts_us - first) / 1e6);
        format_duration(te->duration_us, d, sizeof d);
        /* whole: a type (256 bytes) and a message (1024, the decoder's bound); the
         * text layer cuts a longer cell between characters and marks the cut */
        char err[2 * BM_CLI_SAFE_BYTES] = "";
        if (e->error_type[0] || e->error_message[0])
            bm_error_text(e->error_type, e->error_message, err, sizeof err);
        else if (e->type == BM_EV_STATUS && e->message[0])
            snprintf(err, sizeof err, "(%s)", e->message);
        int outcome = trace_event_outcome(e);
        int failed = !te->late && (outcome == BM_OUTCOME_FAILURE || outcome == BM_OUTCOME_TIMEOUT);
        printf("%-24s %10s  %-12s %s%-19s%s %s %s %10s  %s\n", when, off,
               bm_event_type_name(e->type), o->color && failed ? "\033[31m" : "",
               trace_event_stage(te), o->color && failed ? rst : "",
               bm_cli_safe_pad(&sb, dash(e->worker), 14), bm_cli_safe_pad(&sb, dash(e->step), 14),
               d, bm_cli_safe_text(&sb, err));
    }
}

int bm_cli_trace_records(const redisReply *r, const char *tx, bm_decoder *d, trace **out,
                         size_t *unreadable, bm_sampling_marker *marker)
{
    *out = NULL;
    *unreadable = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return BM_TRACE_RECORDS_NONE;
    const redisReply *first = r->element[0];
    bm_sampling_marker m;
    if (first->type == REDIS_REPLY_STRING &&
        bm_sampling_marker_parse(first->str, (size_t)first->len, &m)) {
        if (marker) *marker = m;
        return BM_TRACE_RECORDS_SAMPLED;
    }
    trace *t = trace_new(tx);
    if (!t) return BM_TRACE_RECORDS_NOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *el = r->element[i];
        bm_event ev;
        if (el->type != REDIS_REPLY_STRING ||
            bm_decode_msgpack(d, el->str, (size_t)el->len, &ev) != BM_DECODE_OK || !ev.id[0]) {
            ++*unreadable;
            continue;
        }
        trace_add(t, &ev, TRACE_READ_MAX, NULL);
    }
    *out = t;
    return BM_TRACE_RECORDS_OK;
}

int bm_cli_trace_span(redisContext *c, const char *prefix, const char *tx, size_t tx_len,
                      bm_decoder *d, bm_cli_span *span, char *err, size_t errlen)
{
    for (long long from = TRACE_READ_MAX;; from += BM_CLI_SPAN_PAGE) {
        redisReply *r = redisCommand(c, "LRANGE %s%b %lld %lld", prefix, tx, tx_len, from,
                                     from + BM_CLI_SPAN_PAGE - 1);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "cannot read %s%s: %s", prefix, tx,
                     r && r->type == REDIS_REPLY_ERROR ? r->str
                     : r                               ? "not a list"
                                                       : c->errstr);
            if (r) freeReplyObject(r);
            return -1;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *el = r->element[i];
            bm_event ev;
            if (el->type != REDIS_REPLY_STRING ||
                bm_decode_msgpack(d, el->str, (size_t)el->len, &ev) != BM_DECODE_OK || !ev.id[0])
                continue;
            if (ev.ts_us < span->first_us) span->first_us = ev.ts_us;
            if (ev.ts_us > span->last_us) span->last_us = ev.ts_us;
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if (got < BM_CLI_SPAN_PAGE) return 0;
    }
}

/* A trace longer than TRACE_READ_MAX records: said on stderr, with its
 * length, and the span of all its records when the ones not read widen the
 * shown trace's (as busmon traces lists it). */
static void say_cut(redisContext *c, const bm_cli_opts *o, const char *tx, const trace *t)
{
    redisReply *n = redisCommand(c, "LLEN %s%s", o->trace_prefix, tx);
    char total[32] = "more";
    int whole = n && n->type == REDIS_REPLY_INTEGER && n->integer <= TRACE_READ_MAX;
    if (n && n->type == REDIS_REPLY_INTEGER) snprintf(total, sizeof total, "%lld", n->integer);
    if (n) freeReplyObject(n);
    if (whole) return; /* exactly TRACE_READ_MAX: all of it was read */
    bm_cli_safe sb = {.next = 0};
    fprintf(stderr, "busmon trace: %s holds %s records; only its first %d are read and shown",
            bm_cli_safe_text(&sb, tx), total, TRACE_READ_MAX);
    bm_cli_span span = {trace_first_ts_us(t), trace_last_ts_us(t)};
    bm_decoder *d = bm_decoder_new(NULL);
    char err[256], from[48], to[48];
    if (d && !bm_cli_trace_span(c, o->trace_prefix, tx, strlen(tx), d, &span, err, sizeof err) &&
        (span.first_us < trace_first_ts_us(t) || span.last_us > trace_last_ts_us(t))) {
        bm_cli_time(span.first_us, from, sizeof from);
        bm_cli_time(span.last_us, to, sizeof to);
        fprintf(stderr, "; all of them span %s to %s (%.3f s)", from, to,
                (double)(span.last_us - span.first_us) / 1e6);
    }
    bm_decoder_free(d);
    fputc('\n', stderr);
}

/*
 * Read the stored records of tx into a new trace (*out; NULL when there are
 * none). @return BM_EXIT_OK, BM_EXIT_NOT_FOUND or BM_EXIT_REDIS, said on stderr.
 */
static int read_trace(redisContext *c, const bm_cli_opts *o, const char *tx, trace **out)
{
    *out = NULL;
    redisReply *r = redisCommand(c, "LRANGE %s%s 0 %d", o->trace_prefix, tx, TRACE_READ_MAX - 1);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon trace: cannot read %s%s: %s\n", o->trace_prefix, tx,
                r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    bm_decoder *d = bm_decoder_new(NULL);
    if (!d) {
        fprintf(stderr, "busmon trace: out of memory\n");
        freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    size_t unreadable;
    bm_sampling_marker m;
    int got = bm_cli_trace_records(r, tx, d, out, &unreadable, &m);
    bm_decoder_free(d);
    int rc = BM_EXIT_OK;
    if (got == BM_TRACE_RECORDS_NONE) {
        fprintf(stderr,
                "busmon trace: no trace for transaction '%s' (never seen by busmon-agent, or "
                "expired after the trace retention)\n",
                tx);
        rc = BM_EXIT_NOT_FOUND;
    } else if (got == BM_TRACE_RECORDS_SAMPLED) {
        fprintf(stderr,
                "busmon trace: transaction '%s' was sampled out by tail sampling "
                "(traces.sampling.rate %g: it did not fail, time out, compensate nor run slow); "
                "its %llu event(s) were not kept%s\n",
                tx, m.rate, (unsigned long long)m.events,
                r->elements > 1 ? " (later records follow the marker)" : "");
        rc = BM_EXIT_NOT_FOUND;
    } else if (got == BM_TRACE_RECORDS_NOMEM) {
        fprintf(stderr, "busmon trace: out of memory\n");
        rc = BM_EXIT_REDIS;
    } else if (trace_count(*out) == 0) {
        /* nothing to show: not a trace that is "running" with no event */
        fprintf(stderr,
                "busmon trace: none of the %zu stored record(s) of '%s' could be read: no "
                "trace to show\n",
                unreadable, tx);
        trace_free(*out);
        *out = NULL;
        rc = BM_EXIT_NOT_FOUND;
    } else if (unreadable) {
        fprintf(stderr,
                "busmon trace: %zu stored record(s) of %s could not be read and are not shown\n",
                unreadable, tx);
    }
    if (rc == BM_EXIT_OK && r->elements >= TRACE_READ_MAX) say_cut(c, o, tx, *out);
    freeReplyObject(r);
    return rc;
}

int bm_cli_trace(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o = *opts;
    int json = 0;
    const char *tx = NULL;
    const bm_cli_optdef options[] = {
        {"json", 0, &json, NULL, 0},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, &o, argc, argv, &tx);
    if (rc != BM_CLI_GO_ON) return rc;
    if (!tx || !*tx) {
        fprintf(stderr, "busmon trace: which transaction? usage: busmon trace [--json] TX\n");
        return BM_EXIT_USAGE;
    }
    char prefix[320];
    o.trace_prefix =
        bm_cli_key(&o, o.trace_prefix, "outputs.trace_prefix", NULL, prefix, sizeof prefix);
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    trace *t;
    rc = read_trace(c, &o, tx, &t);
    redisFree(c);
    if (rc != BM_EXIT_OK) return rc;
    if (json) {
        json_t *j = bm_trace_json(t);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_text(&o, t);
    }
    trace_free(t);
    return BM_EXIT_OK;
}
