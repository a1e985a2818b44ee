/*
 * traces.c - `busmon traces`: find transactions by status, worker,
 * duration, time and error type in the trace search index the agent keeps
 * (proto/README.md §7.2), newest first.
 *
 * The index's sorted sets propose candidates newest first (the worker's
 * set, else the failed set for a failed-group status, else every
 * transaction); each candidate's stored records are read (pipelined, CHUNK
 * at a time), replayed into a trace as `busmon trace` does, summarized, and
 * the filter (lib/trace_index.c, the same as /api/traces) decides. A set's
 * score may be later than the stored trace's start (the agent saw the
 * transaction again after it left its memory, or after a restart: it adds
 * it to a set with the start of the events it holds), never earlier: so
 * the newest --limit matches by their stored start are kept, and the
 * reading stops once no candidate left can start later than all of them. A
 * candidate whose records expired, or that tail sampling dropped, is
 * skipped (counted). Not here: a transaction's events (`busmon trace`).
 */
#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "agent/core/group_keys.h"
#include "agent/core/parse.h"
#include "lib/trace_index.h"

#define LIMIT_DEFAULT 20
#define LIMIT_MAX     10000
#define PAGE          500
#define SCAN_MAX      2000000 /* candidates read at most (traces.index_max may allow more: said) */
#define CHUNK         200     /* candidates' records asked for at once, at most */

void bm_cli_traces_help(FILE *f)
{
    fprintf(f,
            "usage: busmon traces [--status S] [--worker W] [--min-duration D] [--since D]\n"
            "                     [--error-type T] [--limit N] [--json] [--redis URL]\n"
            "\n"
            "Find recent transactions in the trace search index busmon-agent keeps\n"
            "(busmon:traces, proto/README.md 7.2), newest first: start time (UTC),\n"
            "status, duration, steps, workers, first error and transaction id, from\n"
            "each candidate's stored trace (busmon:trace:<tx>, as `busmon trace`\n"
            "reads it). Every filter given must hold. Transactions whose trace\n"
            "expired or was sampled out by tail sampling are not listed.\n"
            "\n"
            "options:\n"
            "  --status S        running, completed, failed, compensated, cancelled or\n"
            "                    timed_out; failed also matches compensated and cancelled,\n"
            "                    timed_out is a transaction with a step that timed out\n"
            "  --worker W        a transaction with a step on worker W\n"
            "  --min-duration D  lasted at least D (e.g. 500ms, 2s, 1m)\n"
            "  --since D         started within the last D (e.g. 15m, 1h, 2d)\n"
            "  --error-type T    its first failed step's error type is T (exact; a failure\n"
            "                    a retry turned into a success is not one)\n"
            "  --limit N         at most N transactions (default %d, at most %d)\n"
            "  --index-key K     the index's key (default busmon:traces, traces.index_key)\n"
            "  --json            one JSON object: {\"traces\": [...], \"count\": N,\n"
            "                    \"scanned\", \"expired\", \"sampled_out\", \"limited\"}\n"
            "  --redis URL       Redis to read (default: $BUSMON_REDIS_URL, else "
            "redis://127.0.0.1:6379)\n"
            "  --group G         the agent's consumer group, whose keys are read\n"
            "                    (default $BUSMON_GROUP; see busmon --help)\n"
            "  -h, --help        this help\n"
            "\n"
            "exit codes: 0 found, 1 none matched, 2 usage error, 3 Redis unreachable\n",
            LIMIT_DEFAULT, LIMIT_MAX);
}

/* "2s", "500ms", "1.5m", "1h", "2d" (a bare number is seconds) into µs, rounded
 * as the agent reads a duration (/api/traces' min_duration and since: one
 * bound means the same transactions). @return 0 or -1. */
static int parse_duration_us(const char *s, int64_t *out)
{
    return bm_parse_duration_us(s, BM_US_PER_S, out) == BM_PARSE_OK ? 0 : -1;
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void format_duration(int64_t us, char *buf, size_t n)
{
    if (us < 1000000)
        snprintf(buf, n, "%.1f ms", (double)us / 1000.0);
    else
        snprintf(buf, n, "%.3f s", (double)us / 1e6);
}

/* What a summary leaves out that a listing shows: the workers after its
 * first TRACE_INDEX_WORKERS_MAX (counted up to TRACE_INDEX_MORE_COUNTED), and its error
 * message whole when the summary holds only its start. */
typedef struct {
    size_t workers_more;
    char *error; /* NULL: the summary's is whole */
} summary_more;

/* A match: its summary and what the summary leaves out. */
typedef struct {
    trace_summary sum;
    summary_more more;
} match;

/* found[0..n) the newest matches so far (limit at most, in no order) and
 * found[limit] room for the next candidate's. */
typedef struct {
    match *found;
    char (*names)[TRACE_INDEX_TEXT_MAX + 1]; /* TRACE_INDEX_MORE_COUNTED: to count in */
    size_t n, limit, scanned, expired, sampled_out, unreadable;
    size_t cut;     /* candidates of TRACE_READ_MAX records or more: summarized from those,
                     * their start and end from all their records (bm_cli_trace_span) */
    size_t dropped; /* matches left out: older than the limit's newest */
    int stop;       /* the limit's newest found: no candidate left can be newer */
} search;

static void search_free(search *s)
{
    for (size_t i = 0; s->found && i <= s->limit; i++)
        free(s->found[i].more.error);
    free(s->found);
    free(s->names);
}

/* Whether a starts after b: its start's millisecond, then its id, both
 * descending (the index's order, and /api/traces'). */
static int newer(const trace_summary *a, const trace_summary *b)
{
    int64_t am = a->start_us / 1000, bm = b->start_us / 1000;
    if (am != bm) return am > bm;
    return strcmp(a->tx, b->tx) > 0;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const trace_summary *x = &((const match *)a)->sum, *y = &((const match *)b)->sum;
    return newer(x, y) ? -1 : newer(y, x) ? 1 : 0;
}

/* The oldest of the matches kept. */
static size_t oldest(const search *s)
{
    size_t o = 0;
    for (size_t i = 1; i < s->n; i++)
        if (newer(&s->found[o].sum, &s->found[i].sum)) o = i;
    return o;
}

/* Whether the search is over before a candidate of index score `score`
 * (ms): the limit is full and that start, at the latest its score (a set
 * keeps the start it was first written under; the trace may hold earlier
 * events, never later), is older than every match kept. */
static int complete(const search *s, const char *score)
{
    return s->n == s->limit &&
           s->found[oldest(s)].sum.start_us / 1000 > (int64_t)strtod(score, NULL);
}

/* Into *more, what t's summary sum leaves out (names: TRACE_INDEX_MORE_COUNTED of room).
 * @return 0, or -1 (no memory). */
static int take_more(const trace *t, const trace_summary *sum,
                     char (*names)[TRACE_INDEX_TEXT_MAX + 1], summary_more *more)
{
    more->workers_more = trace_index_more_workers(t, sum, names, TRACE_INDEX_MORE_COUNTED);
    more->error = NULL;
    const char *whole = trace_index_error_whole(t, sum);
    if (!strcmp(whole, sum->error)) return 0;
    more->error = strdup(whole);
    return more->error ? 0 : -1;
}

/* One candidate's LRANGE reply: summarized (its start and end widened to
 * the times of its records past the reply, *tail), kept when the filter
 * accepts it. @return 0, or -1 (out of memory, said in err). */
static int take(const redisReply *r, const char *tx, bm_decoder *d, const trace_filter *f,
                const bm_cli_span *tail, search *s, char *err, size_t errlen)
{
    s->scanned++;
    trace *t;
    size_t unreadable;
    switch (bm_cli_trace_records(r, tx, d, &t, &unreadable, NULL)) {
    case BM_TRACE_RECORDS_NONE:
        s->expired++; /* expired with the retention (or not a trace) */
        return 0;
    case BM_TRACE_RECORDS_SAMPLED:
        s->sampled_out++;
        return 0;
    case BM_TRACE_RECORDS_NOMEM:
        snprintf(err, errlen, "out of memory");
        return -1;
    default:
        break;
    }
    s->unreadable += unreadable;
    s->cut += r->elements >= TRACE_READ_MAX;
    if (trace_count(t)) {
        trace_summary *sum = &s->found[s->n].sum;
        summary_more *more = &s->found[s->n].more;
        trace_index_summarize(t, sum);
        if (take_more(t, sum, s->names, more)) {
            trace_free(t);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (tail->first_us < sum->start_us) sum->start_us = tail->first_us;
        if (tail->last_us > sum->end_us) sum->end_us = tail->last_us;
        sum->duration_us = sum->end_us - sum->start_us;
        if (!trace_index_matches_trace(t, sum, f)) {
            /* not listed */
        } else if (s->n < s->limit) {
            s->n++;
            more = NULL; /* kept */
        } else { /* the limit is full: the oldest of them and this one, one left out */
            size_t o = oldest(s);
            if (newer(sum, &s->found[o].sum)) { /* the spare slot takes the one left out */
                match gone = s->found[o];
                s->found[o] = s->found[s->n];
                s->found[s->n] = gone;
            }
            s->dropped++;
        }
        if (more) { /* the spare slot's, for the next candidate */
            free(more->error);
            more->error = NULL;
        }
    } else {
        s->expired++; /* no record could be read */
    }
    trace_free(t);
    return 0;
}

/* Where the next page of candidates starts: at score `max` (first "+inf"),
 * past the `skip` members of that score already read. A score bound, not an
 * offset from the top: the agent adds new transactions at the top while
 * the pages are read, and an offset would then read the last ones of a page
 * again (listed twice). */
typedef struct {
    char max[32];
    size_t skip;
} cursor;

/* Read one page of candidates, their records up to CHUNK at a time, and
 * keep the matches; the cursor moved past the page. @return the number of
 * candidates in the page, or -1 (Redis said no, or no memory: said in err). */
static long read_page(redisContext *c, const char *prefix, const char *set, const char *min,
                      cursor *cur, const trace_filter *f, search *s, bm_decoder *d, char *err,
                      size_t errlen)
{
    char skip[24];
    snprintf(skip, sizeof skip, "%zu", cur->skip);
    redisReply *r = redisCommand(c, "ZREVRANGEBYSCORE %s %s %s WITHSCORES LIMIT %s %d", set,
                                 cur->max, min, skip, PAGE);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        snprintf(err, errlen, "cannot read %s: %s", set,
                 r && r->type == REDIS_REPLY_ERROR ? r->str
                 : r                               ? "not a member and score list"
                                                   : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    size_t n = r->elements / 2; /* member, score, member, score... */
    long rc = (long)n;
    for (size_t i = 0, m = 0; rc >= 0 && i < n && !s->stop; i += m) {
        if (complete(s, r->element[2 * i + 1]->str)) {
            s->stop = 1;
            break;
        }
        /* as many as still wanted (a filter may refuse some: at least 16) */
        size_t want = s->limit - s->n < 16 ? 16 : s->limit - s->n;
        m = n - i;
        if (m > CHUNK) m = CHUNK;
        if (m > want) m = want;
        size_t sent = 0; /* only what went into the buffer has a reply to wait for */
        for (; sent < m; sent++) {
            const redisReply *tx = r->element[2 * (i + sent)];
            if (redisAppendCommand(c, "LRANGE %s%b 0 %d", prefix, tx->str, (size_t)tx->len,
                                   TRACE_READ_MAX - 1) != REDIS_OK) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
        }
        /* every reply asked for is read, even past the limit or an error; a
         * trace of TRACE_READ_MAX records or more is taken after them (its
         * other records' times are read then: the replies come in order) */
        redisReply *longer[CHUNK];
        size_t n_longer = 0, longer_at[CHUNK];
        for (size_t j = 0; j < sent; j++) {
            void *got = NULL;
            if (redisGetReply(c, &got) != REDIS_OK) {
                snprintf(err, errlen, "cannot read the traces: %s", c->errstr);
                rc = -1;
                break;
            }
            redisReply *lr = got;
            const char *tx = r->element[2 * (i + j)]->str;
            if (lr->type == REDIS_REPLY_ERROR && rc >= 0 && strncmp(lr->str, "WRONGTYPE", 9)) {
                snprintf(err, errlen, "cannot read %s%s: %s", prefix, tx, lr->str);
                rc = -1;
            }
            if (rc >= 0 && lr->type == REDIS_REPLY_ARRAY && lr->elements >= TRACE_READ_MAX) {
                longer_at[n_longer] = i + j;
                longer[n_longer++] = lr;
                continue;
            }
            bm_cli_span none = {INT64_MAX, INT64_MIN};
            if (rc >= 0 && take(lr, tx, d, f, &none, s, err, errlen)) rc = -1;
            freeReplyObject(lr);
        }
        for (size_t k = 0; k < n_longer; k++) {
            const redisReply *tx = r->element[2 * longer_at[k]];
            bm_cli_span tail = {INT64_MAX, INT64_MIN};
            if (rc >= 0 &&
                bm_cli_trace_span(c, prefix, tx->str, (size_t)tx->len, d, &tail, err, errlen))
                rc = -1;
            if (rc >= 0 && take(longer[k], tx->str, d, f, &tail, s, err, errlen)) rc = -1;
            freeReplyObject(longer[k]);
        }
    }
    if (n) {
        /* the next page: from the last score, past its members read so far */
        const char *last = r->element[2 * n - 1]->str;
        size_t same = 0;
        while (same < n && !strcmp(r->element[2 * (n - 1 - same) + 1]->str, last))
            same++;
        if (strcmp(cur->max, last)) {
            snprintf(cur->max, sizeof cur->max, "%s", last);
            cur->skip = 0;
        }
        cur->skip += same;
    }
    freeReplyObject(r);
    return rc;
}

/* Whether the set holds a candidate past the cursor (one not read). */
static int more_candidates(redisContext *c, const char *set, const char *min, const cursor *cur)
{
    char skip[24];
    snprintf(skip, sizeof skip, "%zu", cur->skip);
    redisReply *r =
        redisCommand(c, "ZREVRANGEBYSCORE %s %s %s LIMIT %s 1", set, cur->max, min, skip);
    int more = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    if (r) freeReplyObject(r);
    return more;
}

static void print_text(const bm_cli_opts *o, const search *s, int limited)
{
    printf("%-24s %-11s %11s %5s  %-24s %-28s %s\n", "START (UTC)", "STATUS", "DURATION", "STEPS",
           "WORKERS", "ERROR", "TX");
    bm_cli_safe sb = {.next = 0}; /* names came from events */
    for (size_t i = 0; i < s->n; i++) {
        const trace_summary *t = &s->found[i].sum;
        /* the names that fit the text layer whole; the rest, and those the
         * summary does not name, in "+N more" */
        char start[40], dur[32], workers[BM_CLI_SAFE_BYTES] = "", error[TRACE_INDEX_TEXT_MAX + 1];
        trace_index_format_ms(t->start_us, start, sizeof start);
        format_duration(t->duration_us, dur, sizeof dur);
        size_t len = 0, left_out = s->found[i].more.workers_more;
        for (size_t w = 0; w < t->n_workers; w++)
            if (left_out > s->found[i].more.workers_more ||
                !bm_cli_append_whole(workers, sizeof workers, &len, 40, "%s%s", w ? "," : "",
                                     t->workers[w]))
                left_out++;
        if (left_out) bm_cli_append_whole(workers, sizeof workers, &len, 0, " +%zu more", left_out);
        snprintf(error, sizeof error, "%s", t->error_type[0] ? t->error_type : "-");
        int bad = trace_index_is_failed(t);
        const char *col = o->color && bad ? "\033[31m" : "",
                   *rst = o->color && bad ? "\033[0m" : "";
        char status[24];
        snprintf(status, sizeof status, "%s%s", trace_status_name(t->status),
                 t->timed_out ? "*" : "");
        printf("%-24s %s%-11s%s %11s %5zu  %s %s %s\n", start, col, status, rst, dur, t->steps,
               bm_cli_safe_pad(&sb, workers[0] ? workers : "-", 24),
               bm_cli_safe_pad(&sb, error, 28), bm_cli_safe_text(&sb, t->tx));
    }
    if (s->sampled_out) printf("(%zu sampled out by tail sampling: not listed)\n", s->sampled_out);
    if (!s->n)
        printf("(no transaction matches)\n");
    else if (limited)
        printf("(first %zu; --limit for more)\n", s->n);
}

int bm_cli_traces(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o = *opts;
    int json = 0;
    const char *status = NULL, *worker = NULL, *min_dur = NULL, *since = NULL, *etype = NULL,
               *limit_s = NULL, *index = NULL;
    const bm_cli_optdef options[] = {
        {"status", 0, NULL, &status, 1},
        {"worker", 0, NULL, &worker, 1},
        {"min-duration", 0, NULL, &min_dur, 1},
        {"since", 0, NULL, &since, 1},
        {"error-type", 0, NULL, &etype, 1},
        {"limit", 0, NULL, &limit_s, 1},
        {"index-key", 0, NULL, &index, 1},
        {"json", 0, &json, NULL, 0},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, &o, argc, argv, NULL);
    if (rc != BM_CLI_GO_ON) return rc;
    char prefix[320], index_own[320];
    o.trace_prefix =
        bm_cli_key(&o, o.trace_prefix, "outputs.trace_prefix", NULL, prefix, sizeof prefix);
    index = bm_cli_key(&o, index, "traces.index_key", NULL, index_own, sizeof index_own);
    trace_filter f = {status, worker, 0, 0, etype};
    if (status && !trace_index_status_valid(status)) {
        fprintf(stderr,
                "busmon traces: --status must be running, completed, failed, compensated, "
                "cancelled or timed_out, not '%s'\n",
                status);
        return BM_EXIT_USAGE;
    }
    if (min_dur && parse_duration_us(min_dur, &f.min_duration_us)) {
        fprintf(stderr,
                "busmon traces: --min-duration wants a duration like 500ms, 2s or 1m, not '%s'\n",
                min_dur);
        return BM_EXIT_USAGE;
    }
    int64_t since_us = 0;
    if (since && (parse_duration_us(since, &since_us) || since_us <= 0)) {
        fprintf(stderr, "busmon traces: --since wants a duration like 15m, 1h or 2d, not '%s'\n",
                since);
        return BM_EXIT_USAGE;
    }
    size_t limit = LIMIT_DEFAULT;
    if (limit_s) {
        char *end;
        errno = 0;
        long long v = strtoll(limit_s, &end, 10);
        if (*end || errno || v < 1 || v > LIMIT_MAX || !isdigit((unsigned char)*limit_s)) {
            fprintf(stderr,
                    "busmon traces: --limit must be a whole number from 1 to %d, not '%s'\n",
                    LIMIT_MAX, limit_s);
            return BM_EXIT_USAGE;
        }
        limit = (size_t)v;
    }
    char min[32] = "-inf";
    if (since_us) {
        f.since_us = now_us() - since_us;
        snprintf(min, sizeof min, "%lld", (long long)(f.since_us / 1000));
    }
    char set[600]; /* an index key and a worker of 256 bytes each fit */
    int set_len;
    if (worker)
        set_len = snprintf(set, sizeof set, "%s:" BM_GROUP_SUB_WORKER ":%s", index, worker);
    else if (status && strcmp(status, "running") && strcmp(status, "completed"))
        /* the failed group and timed_out: all in <index>:failed */
        set_len = snprintf(set, sizeof set, "%s:" BM_GROUP_SUB_FAILED, index);
    else
        set_len = snprintf(set, sizeof set, "%s", index);
    if (set_len < 0 || (size_t)set_len >= sizeof set) { /* a cut key would name another set */
        fprintf(stderr, "busmon traces: --index-key and --worker are too long\n");
        return BM_EXIT_USAGE;
    }

    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    search s = {.found = calloc(limit + 1, sizeof(match)),
                .names = malloc(TRACE_INDEX_MORE_COUNTED * sizeof *s.names),
                .limit = limit};
    bm_decoder *d = bm_decoder_new(NULL);
    if (!s.found || !s.names || !d) {
        fprintf(stderr, "busmon traces: out of memory\n");
        search_free(&s);
        bm_decoder_free(d);
        redisFree(c);
        return BM_EXIT_REDIS;
    }
    char err[1024];
    size_t offset = 0; /* candidates read */
    cursor cur = {"+inf", 0};
    long got;
    do {
        got = read_page(c, o.trace_prefix, set, min, &cur, &f, &s, d, err, sizeof err);
        offset += got > 0 ? (size_t)got : 0;
    } while (got == PAGE && !s.stop && offset < SCAN_MAX);
    int scan_cut =
        got == PAGE && !s.stop && offset >= SCAN_MAX && more_candidates(c, set, min, &cur);
    qsort(s.found, s.n, sizeof *s.found, cmp_newest_first);
    redisFree(c);
    bm_decoder_free(d);
    if (s.unreadable)
        fprintf(stderr,
                "busmon traces: %zu stored record(s) could not be read and are not counted\n",
                s.unreadable);
    if (s.cut)
        fprintf(stderr,
                "busmon traces: %zu trace(s) hold %d records or more: each is summarized from "
                "its first %d\n",
                s.cut, TRACE_READ_MAX, TRACE_READ_MAX);
    /* cut by --limit: matches left out, or candidates left unread, as
     * /api/traces' "limited" (more matched); exactly --limit matches and no more is not */
    int limited = s.dropped || s.stop;
    if (scan_cut) {
        fprintf(stderr,
                "busmon traces: searched the newest %d transactions of %s only; older ones "
                "were not read (narrow the search: --since, --status, --worker)\n",
                SCAN_MAX, set);
        limited = 1;
    }
    if (got < 0) {
        fprintf(stderr, "busmon traces: %s\n", err);
        search_free(&s);
        return BM_EXIT_REDIS;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s.n; i++) {
            json_t *one = trace_index_json(&s.found[i].sum);
            if (!one) { /* a member written by hand, not UTF-8: its bytes that are not as '?' */
                trace_summary shown = s.found[i].sum;
                bm_text_scrub(shown.tx, s.found[i].sum.tx, strlen(shown.tx) + 1);
                one = trace_index_json(&shown);
            }
            /* the summary's message is its start: the whole one, never cut */
            if (one && s.found[i].more.error)
                json_object_set_new(one, "error", trace_index_text_json(s.found[i].more.error));
            if (one)
                json_object_set_new(one, "workers_more",
                                    json_integer((json_int_t)s.found[i].more.workers_more));
            json_array_append_new(arr, one);
        }
        json_t *out =
            json_pack("{s:o, s:I, s:I, s:I, s:I, s:b}", "traces", arr, "count", (json_int_t)s.n,
                      "scanned", (json_int_t)s.scanned, "expired", (json_int_t)s.expired,
                      "sampled_out", (json_int_t)s.sampled_out, "limited", limited);
        char *txt =
            out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
                : NULL;
        if (txt) printf("%s\n", txt);
        free(txt);
        json_decref(out);
    } else {
        print_text(&o, &s, limited);
    }
    rc = s.n ? BM_EXIT_OK : BM_EXIT_NOT_FOUND;
    search_free(&s);
    return rc;
}
