/*
 * alerts.c - `busmon alerts`: the alerts firing now (the hash
 * busmon:alerts:firing, rewritten by busmon-agent at every evaluation), then
 * the recent notifications (the last entries of the busmon:alerts stream),
 * for people or as JSON; `--watch` follows the busmon:alerts channel live
 * until Ctrl-C.
 *
 * Reads only Redis, so it works from any machine that reaches it, while
 * the agent runs and after. The records are proto/README.md's ("Alerts").
 * Not here: evaluating anything (the agent does).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "agent/core/group_keys.h"
#include "proto/rollup.h"

#define HISTORY_DEFAULT 20
#define HISTORY_MAX     10000

typedef struct {
    int json;
    int watch;
    long count;
    const char *stream;
    const char *channel; /* NULL: the stream's name */
    const char *firing;  /* NULL: <stream>:firing */
    char stream_own[320]; /* the group's stream, when not given */
} alerts_args;

void bm_cli_alerts_help(FILE *f)
{
    fprintf(f,
            "usage: busmon alerts [--json] [--watch] [--count N] [--redis URL]\n"
            "                     [--stream KEY] [--channel NAME] [--firing KEY]\n"
            "\n"
            "The alerts firing now (worst first), then the most recent notifications\n"
            "(firing, repeat, resolved; newest first), as busmon-agent published them.\n"
            "\n"
            "options:\n"
            "  --json              print JSON: {\"firing\": [records], \"updated\", \"agent\",\n"
            "                      \"history\": [records]} (records: proto/README.md, Alerts,\n"
            "                      with starts_at, ends_at and ts as RFC 3339 strings and\n"
            "                      their epoch seconds as starts_at_unix, ends_at_unix, ts_unix)\n"
            "  --watch             follow the alerts channel: print each notification as it\n"
            "                      comes (one JSON record a line with --json) until Ctrl-C;\n"
            "                      with --json a message that is not a JSON object is\n"
            "                      skipped, said and counted on stderr\n"
            "  --count N           notifications of history to show (default %d)\n"
            "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
            "redis://127.0.0.1:6379)\n"
            "  --stream KEY        the alerts stream (default busmon:alerts; alerts.stream)\n"
            "  --channel NAME      the alerts channel for --watch (default: the stream's name)\n"
            "  --firing KEY        the firing hash (default <stream>:firing; alerts.firing)\n"
            "  --group G           the agent's consumer group, whose keys are read\n"
            "                      (default $BUSMON_GROUP; see busmon --help)\n"
            "  -h, --help          this help\n"
            "\n"
            "busmon-agent evaluates its rules every alerts.interval (default 10 s).\n"
            "exit codes: 0 ok (also when nothing fires), 2 usage, 3 Redis unreachable\n",
            HISTORY_DEFAULT);
}

/*
 * The options, into *o (a copy of opts) and *s. @return BM_CLI_GO_ON, or the
 * exit code (help printed, usage error said).
 */
static int parse_args(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv,
                      bm_cli_opts *o, alerts_args *s)
{
    *o = *opts;
    *s = (alerts_args){0, 0, HISTORY_DEFAULT, NULL, NULL, NULL, ""};
    const char *count = NULL;
    const bm_cli_optdef options[] = {
        {"json", 0, &s->json, NULL, 0},
        {"watch", 'w', &s->watch, NULL, 0},
        {"count", 0, NULL, &count, 1},
        {"stream", 0, NULL, &s->stream, 1},
        {"channel", 0, NULL, &s->channel, 1},
        {"firing", 0, NULL, &s->firing, 1},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, o, argc, argv, NULL);
    if (rc != BM_CLI_GO_ON) return rc;
    s->stream =
        bm_cli_key(o, s->stream, "alerts.stream", NULL, s->stream_own, sizeof s->stream_own);
    if (!count) return BM_CLI_GO_ON;
    char *end;
    errno = 0;
    long n = strtol(count, &end, 10);
    if (errno || end == count || *end || n < 0 || n > HISTORY_MAX) {
        fprintf(stderr, "busmon alerts: --count must be 0-%d, not '%s'\n", HISTORY_MAX, count);
        return BM_EXIT_USAGE;
    }
    s->count = n;
    return BM_CLI_GO_ON;
}

/* ---- records -------------------------------------------------------------- */

static int severity_rank(const char *s)
{
    static const char *const order[] = {"info", "warning", "error", "critical"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, order[i])) return i;
    return -1;
}

void bm_cli_labels_text(json_t *rec, const char *sep, char *buf, size_t n)
{
    size_t k = 0, left_out = 0;
    buf[0] = '\0';
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(rec, "labels"), key, v)
    {
        const char *val = json_string_value(v);
        if (left_out ||
            !bm_cli_append_whole(buf, n, &k, 24, "%s%s=%s", k ? sep : "", key, val ? val : ""))
            left_out++;
    }
    if (left_out) bm_cli_append_whole(buf, n, &k, 0, "%s+%zu more", k ? " " : "", left_out);
    if (!k) snprintf(buf, n, "-");
}

int bm_cli_firing_cmp(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int ra = severity_rank(bm_cli_str(a, "severity")),
        rb = severity_rank(bm_cli_str(b, "severity"));
    if (ra != rb) return ra > rb ? -1 : 1;
    int c = strcmp(bm_cli_str(a, "rule"), bm_cli_str(b, "rule"));
    if (c) return c;
    char la[512], lb[512];
    bm_cli_labels_text(a, ",", la, sizeof la);
    bm_cli_labels_text(b, ",", lb, sizeof lb);
    return strcmp(la, lb);
}

/* "2026-01-15T10:30:00.123Z" from a record's integer µs field. */
static void fmt_time(json_t *rec, const char *key, char *buf, size_t n)
{
    json_t *v = json_object_get(rec, key);
    if (!json_is_integer(v)) {
        snprintf(buf, n, "-");
        return;
    }
    bm_cli_time(json_integer_value(v), buf, n);
}

/* "12s", "5m", "3.2h" since a record's µs field, by this machine's clock. */
static void fmt_for(json_t *rec, const char *key, char *buf, size_t n)
{
    json_t *v = json_object_get(rec, key);
    if (!json_is_integer(v)) {
        snprintf(buf, n, "-");
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double ago = (double)ts.tv_sec - (double)json_integer_value(v) / 1e6;
    if (ago < 0) ago = 0;
    if (ago < 120)
        snprintf(buf, n, "%.0fs", ago);
    else if (ago < 7200)
        snprintf(buf, n, "%.0fm", ago / 60);
    else
        snprintf(buf, n, "%.1fh", ago / 3600);
}

static void fmt_value(json_t *rec, char *buf, size_t n)
{
    json_t *v = json_object_get(rec, "value");
    if (!json_is_number(v)) {
        snprintf(buf, n, "-");
        return;
    }
    double d = json_number_value(v);
    if (!strcmp(bm_cli_str(rec, "metric"), "health"))
        snprintf(buf, n, "%s", d >= 2 ? "failed" : d >= 1 ? "degraded" : "ok");
    else if (d == (double)(long long)d && d < 1e15 && d > -1e15)
        snprintf(buf, n, "%lld", (long long)d);
    else if (d >= 100 || d <= -100)
        snprintf(buf, n, "%.1f", d);
    else
        snprintf(buf, n, "%.4g", d);
}

static const char *severity_color(const bm_cli_opts *o, const char *sev, const char *state)
{
    if (!o->color) return "";
    if (state && !strcmp(state, "resolved")) return "\033[32m";
    switch (severity_rank(sev)) {
    case 3:
        return "\033[1;31m";
    case 2:
        return "\033[31m";
    case 1:
        return "\033[33m";
    default:
        return "\033[36m";
    }
}

/*
 * A record in the CLI's JSON dialect: its times (starts_at, ends_at, ts: µs
 * since the epoch as stored) become RFC 3339 strings, with the epoch in
 * seconds beside each as <name>_unix. The stored record (busmon:alerts,
 * /api/alerts) keeps its integers.
 */
static void record_times_rfc3339(json_t *rec)
{
    static const char *const keys[] = {"starts_at", "ends_at", "ts"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(rec, keys[i]);
        if (!json_is_integer(v)) continue;
        json_int_t us = json_integer_value(v);
        char iso[40], unix_key[24];
        bm_cli_time(us, iso, sizeof iso);
        snprintf(unix_key, sizeof unix_key, "%s_unix", keys[i]);
        json_object_set_new(rec, unix_key, json_real((double)us / 1e6));
        json_object_set_new(rec, keys[i], json_string(iso));
    }
}

static void records_times_rfc3339(json_t *records)
{
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) record_times_rfc3339(rec);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (s) printf("%s\n", s);
    free(s);
}

/* ---- reading --------------------------------------------------------------- */

/*
 * The firing hash: its records sorted worst first, and its _updated and
 * _agent fields. @return BM_EXIT_OK, or BM_EXIT_REDIS with the reason printed.
 */
static int read_firing(redisContext *c, const char *key, json_t *firing, double *every_s,
                       json_t **updated, json_t **agent)
{
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon alerts: cannot read %s: %s\n", key, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    size_t n = 0;
    json_t **recs = calloc(r->elements / 2 + 1, sizeof *recs);
    for (size_t i = 0; recs && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(f->str, "_updated")) {
            *updated = json_string(v->str);
        } else if (!strcmp(f->str, "_agent")) {
            *agent = json_string(v->str);
        } else if (!strcmp(f->str, "_every")) {
            *every_s = strtod(v->str, NULL);
        } else if (f->str[0] != '_') {
            json_error_t e;
            json_t *rec = json_loadb(v->str, (size_t)v->len, 0, &e);
            if (json_is_object(rec))
                recs[n++] = rec;
            else
                json_decref(rec);
        }
    }
    if (n) qsort(recs, n, sizeof *recs, bm_cli_firing_cmp);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(firing, recs[i]);
    free(recs);
    freeReplyObject(r);
    return BM_EXIT_OK;
}

/* The last `count` notifications, newest first. @return BM_EXIT_OK or BM_EXIT_REDIS. */
static int read_history(redisContext *c, const char *stream, long count, json_t *history)
{
    if (count == 0) return BM_EXIT_OK;
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT %ld", stream, count);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon alerts: cannot read %s: %s\n", stream, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_t *rec = bm_cli_entry_json(r->element[i]);
        if (rec) json_array_append_new(history, rec);
    }
    freeReplyObject(r);
    return BM_EXIT_OK;
}

/* ---- printing ---------------------------------------------------------------- */

static void print_firing(const bm_cli_opts *o, json_t *firing, json_t *updated, json_t *agent)
{
    size_t n = json_array_size(firing);
    printf("alerts firing: %zu", n);
    char as_of[40];
    bm_cli_safe sb = {.next = 0}; /* labels and descriptions came from events */
    if (updated)
        printf(" (as of %s by %s)",
               bm_cli_time_str(json_string_value(updated), as_of, sizeof as_of),
               bm_cli_safe_text(&sb, agent ? json_string_value(agent) : "?"));
    printf("\n\n");
    if (!n) {
        printf("(no alerts firing)\n");
        return;
    }
    printf("%-9s %-22s %-24s %10s %7s  %s\n", "SEVERITY", "RULE", "LABELS", "VALUE", "FOR",
           "DESCRIPTION");
    size_t i;
    json_t *rec;
    json_array_foreach(firing, i, rec)
    {
        char labels[512], value[32], since[16];
        bm_cli_labels_text(rec, ",", labels, sizeof labels);
        fmt_value(rec, value, sizeof value);
        fmt_for(rec, "starts_at", since, sizeof since);
        const char *sev = bm_cli_safe_str(&sb, rec, "severity");
        printf("%s%-9s%s %s %s %10s %7s  %s\n", severity_color(o, sev, NULL), sev,
               o->color ? "\033[0m" : "", bm_cli_safe_pad(&sb, bm_cli_str(rec, "rule"), 22),
               bm_cli_safe_pad(&sb, labels, 24), value, since,
               bm_cli_safe_str(&sb, rec, "description"));
    }
}

/* One notification on one line (history and --watch). */
static void print_notification(const bm_cli_opts *o, json_t *rec)
{
    char when[32], labels[512], value[32];
    fmt_time(rec, "ts", when, sizeof when);
    bm_cli_labels_text(rec, ",", labels, sizeof labels);
    fmt_value(rec, value, sizeof value);
    bm_cli_safe sb = {.next = 0};
    const char *sev = bm_cli_safe_str(&sb, rec, "severity"),
               *state = bm_cli_safe_str(&sb, rec, "state");
    printf("%-24s %s%-8s %-9s%s %s %s %10s  %s\n", when, severity_color(o, sev, state), state, sev,
           o->color ? "\033[0m" : "", bm_cli_safe_pad(&sb, bm_cli_str(rec, "rule"), 22),
           bm_cli_safe_pad(&sb, labels, 24), value, bm_cli_safe_str(&sb, rec, "description"));
}

static void print_history_header(void)
{
    printf("%-24s %-8s %-9s %-22s %-24s %10s  %s\n", "TIME (UTC)", "STATE", "SEVERITY", "RULE",
           "LABELS", "VALUE", "DESCRIPTION");
}

/* ---- --watch ------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/*
 * SUBSCRIBE and print each message until SIGINT / SIGTERM. The wait is a
 * poll() on the socket (hiredis would retry a read interrupted by the
 * signal), so Ctrl-C ends it at once and cleanly.
 */
static int watch(const bm_cli_opts *o, redisContext *c, const alerts_args *s)
{
    const char *channel = s->channel ? s->channel : s->stream;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    redisReply *r = redisCommand(c, "SUBSCRIBE %s", channel);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon alerts: cannot subscribe to %s: %s\n", channel,
                r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    freeReplyObject(r);
    if (!s->json) {
        fprintf(stderr, "watching channel %s (Ctrl-C to stop)\n", channel);
        print_history_header();
    }
    fflush(stdout);
    size_t skipped = 0; /* --json: messages that were not a record */
    while (!interrupted) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) break;
        if (!reply) {
            struct pollfd p = {c->fd, POLLIN, 0};
            int rc = poll(&p, 1, 1000);
            if (rc < 0 && errno != EINTR) break;
            if (rc > 0 && redisBufferRead(c) != REDIS_OK) break;
            continue;
        }
        redisReply *m = reply;
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
            m->element[0]->type == REDIS_REPLY_STRING && !strcmp(m->element[0]->str, "message") &&
            m->element[2]->type == REDIS_REPLY_STRING) {
            const redisReply *payload = m->element[2];
            json_error_t e;
            json_t *rec = json_loadb(payload->str, (size_t)payload->len, 0, &e);
            if (s->json && json_is_object(rec)) {
                record_times_rfc3339(rec);
                char *line =
                    json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
                if (line) printf("%s\n", line);
                free(line);
            } else if (s->json) { /* one JSON record a line, whatever else comes */
                fprintf(stderr,
                        "busmon alerts: skipped a message that is not a JSON record (%zu so far)\n",
                        ++skipped);
            } else if (json_is_object(rec)) {
                print_notification(o, rec);
            } else {
                bm_cli_safe sb = {.next = 0};
                printf("(not a record: %s)\n", bm_cli_safe_text(&sb, payload->str));
            }
            json_decref(rec);
            fflush(stdout);
        }
        freeReplyObject(m);
        if (ferror(stdout)) return BM_EXIT_OK; /* nowhere to write: main says so, exit 4 */
    }
    if (interrupted) return BM_EXIT_OK;
    fprintf(stderr, "busmon alerts: lost the connection to Redis: %s\n",
            c->errstr[0] ? c->errstr : "closed");
    return BM_EXIT_REDIS;
}

/* ---- the command ---------------------------------------------------------------- */

int bm_cli_alerts(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o;
    alerts_args s;
    int rc = parse_args(self, opts, argc, argv, &o, &s);
    if (rc != BM_CLI_GO_ON) return rc;
    char firing_key[512];
    if (!s.firing) {
        int n = snprintf(firing_key, sizeof firing_key, "%s:" BM_GROUP_SUB_FIRING, s.stream);
        if (n < 0 || (size_t)n >= sizeof firing_key) { /* a cut key would name another hash */
            fprintf(stderr, "busmon alerts: --stream is too long to name its firing hash "
                            "(give --firing)\n");
            return BM_EXIT_USAGE;
        }
        s.firing = firing_key;
    }
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    if (s.watch) {
        rc = watch(&o, c, &s);
        redisFree(c);
        return rc;
    }
    json_t *firing = json_array(), *history = json_array();
    json_t *updated = NULL, *agent = NULL;
    double every_s = 0; /* absent: written by a busmon before _every */
    rc = read_firing(c, s.firing, firing, &every_s, &updated, &agent);
    if (rc == BM_EXIT_OK && json_is_string(updated)) {
        char what[600];
        snprintf(what, sizeof what, "the firing hash %s", s.firing);
        bm_cli_warn_stale(what, (double)time(NULL) - bm_cli_iso_s(json_string_value(updated)),
                          every_s);
    }
    if (rc == BM_EXIT_OK) rc = read_history(c, s.stream, s.count, history);
    if (rc == BM_EXIT_OK && s.json) {
        records_times_rfc3339(firing);
        records_times_rfc3339(history);
        json_t *out = json_object();
        json_object_set(out, "firing", firing);
        char upd[40];
        json_object_set_new(
            out, "updated",
            json_is_string(updated)
                ? json_string(bm_cli_time_str(json_string_value(updated), upd, sizeof upd))
            : updated ? json_incref(updated)
                      : json_null());
        json_object_set_new(out, "agent", agent ? json_incref(agent) : json_null());
        json_object_set(out, "history", history);
        print_json(out);
        json_decref(out);
    } else if (rc == BM_EXIT_OK) {
        if (!updated && json_array_size(history) == 0)
            fprintf(stderr,
                    "busmon alerts: nothing published on %s yet (is busmon-agent running with "
                    "alerts enabled? it evaluates every 10 s by default)\n",
                    s.stream);
        print_firing(&o, firing, updated, agent);
        if (s.count > 0) {
            printf("\nrecent notifications (%s, newest first): %zu\n\n", s.stream,
                   json_array_size(history));
            if (json_array_size(history)) {
                print_history_header();
                size_t i;
                json_t *rec;
                json_array_foreach(history, i, rec) print_notification(&o, rec);
            } else {
                printf("(none)\n");
            }
        }
    }
    json_decref(updated);
    json_decref(agent);
    json_decref(firing);
    json_decref(history);
    redisFree(c);
    return rc;
}
