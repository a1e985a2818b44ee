/*
 * stats.c - `busmon workers`, `busmon worker NAME`, `busmon errors`,
 * `busmon stats`: what busmon-agent published in Redis (the latest rollup on
 * busmon:rollups, the busmon:workers hash), shown for people or as JSON.
 *
 * They read only Redis, so they work from any machine that reaches it. The
 * JSON shapes are the rollup's (proto/README.md, "Rollups"), cut to the
 * window asked for.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "proto/rollup.h"

typedef struct {
    int json;
    const char *window; /* "1m", "5m", "1h" */
    const char *name;   /* worker NAME */
    const char *rollups;
    const char *workers_hash;
    char rollups_own[320], workers_own[320]; /* the group's, when not given */
} stats_args;

/* A command's help: its usage line and what it shows, then the options all
 * four take, `key` the line of the one that names what it reads. */
static void rollup_help(FILE *f, const char *usage, const char *about, const char *key)
{
    fprintf(f, "usage: busmon %s\n\n%s", usage, about);
    fprintf(f,
            "\noptions:\n"
            "  --json              print JSON (the rollup's shapes, see proto/README.md)\n"
            "  --window W          1m, 5m or 1h (the performance window); default\n"
            "                      $BUSMON_WINDOW, else 5m (the same in every view)\n"
            "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
            "redis://127.0.0.1:6379)\n"
            "%s"
            "  --group G           the agent's consumer group, whose keys are read\n"
            "                      (default $BUSMON_GROUP; see busmon --help)\n"
            "  -h, --help          this help\n"
            "\nReads what busmon-agent publishes every rollup interval (default 10 s).\n"
            "exit codes: 0 ok, 1 nothing published yet / no such worker, 2 usage, 3 Redis "
            "unreachable\n",
            key);
}

static const char rollups_line[] =
    "  --rollups KEY       the rollups stream (default busmon:rollups; outputs.rollups)\n";

void bm_cli_workers_help(FILE *f)
{
    rollup_help(f, "workers [--json] [--window 1m|5m|1h] [--redis URL]",
                "Every worker: health, executions, success %, avg / p95 / p99 duration,\n"
                "commands in flight and last seen, over the window.\n",
                rollups_line);
}

void bm_cli_worker_help(FILE *f)
{
    rollup_help(
        f, "worker [--json] [--window 1m|5m|1h] [--redis URL] [--workers KEY] NAME",
        "One worker in detail: health and the issues behind it, in flight, last seen,\n"
        "last error, and its performance over each window.\n",
        "  --workers KEY       the workers hash (default busmon:workers; outputs.workers)\n");
}

void bm_cli_errors_help(FILE *f)
{
    rollup_help(f, "errors [--json] [--window 1m|5m|1h] [--redis URL]",
                "Error patterns: errors grouped by type, with their count over the window,\n"
                "total, first and last seen, trend, the workers they hit and an example.\n",
                rollups_line);
}

void bm_cli_stats_help(FILE *f)
{
    rollup_help(f, "stats [--json] [--window 1m|5m|1h] [--redis URL]",
                "Event metrics over the window: events, success and error rate, latency\n"
                "(command -> answer), throughput and peak throughput, per event type.\n",
                rollups_line);
}

/*
 * The options all four take, into *o (a copy of opts) and *s; worker's NAME
 * too. @return BM_CLI_GO_ON, or the exit code (help printed, usage error said).
 */
static int parse_args(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv,
                      bm_cli_opts *o, stats_args *s)
{
    *o = *opts;
    *s = (stats_args){0, bm_cli_window_default(), NULL, NULL, NULL, "", ""};
    /* worker reads the workers hash, the others the rollups stream */
    const bm_cli_optdef key = self->run == bm_cli_worker
                                  ? (bm_cli_optdef){"workers", 0, NULL, &s->workers_hash, 1}
                                  : (bm_cli_optdef){"rollups", 0, NULL, &s->rollups, 1};
    const bm_cli_optdef options[] = {
        {"json", 0, &s->json, NULL, 0},
        {"window", 0, NULL, &s->window, 0},
        key,
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, o, argc, argv, &s->name);
    if (rc != BM_CLI_GO_ON) return rc;
    s->rollups =
        bm_cli_key(o, s->rollups, "outputs.rollups", NULL, s->rollups_own, sizeof s->rollups_own);
    s->workers_hash = bm_cli_key(o, s->workers_hash, "outputs.workers", NULL, s->workers_own,
                                 sizeof s->workers_own);
    if (strcmp(s->window, "1m") && strcmp(s->window, "5m") && strcmp(s->window, "1h")) {
        fprintf(stderr, "busmon %s: --window must be 1m, 5m or 1h, not '%s'%s\n", self->name,
                s->window, bm_cli_window_origin(s->window));
        return BM_EXIT_USAGE;
    }
    return BM_CLI_GO_ON;
}

json_t *bm_cli_latest_rollup(redisContext *c, const char *stream, int *rc)
{
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", stream);
    json_t *root = NULL;
    char why[256];
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon: cannot read %s: %s\n", stream, r ? r->str : c->errstr);
        *rc = BM_EXIT_REDIS;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        fprintf(stderr,
                "busmon: nothing published on %s yet (is busmon-agent running? it publishes every "
                "rollup interval, 10 s by default)\n",
                stream);
        *rc = BM_EXIT_NOT_FOUND;
    } else {
        root = bm_cli_entry_json(r->element[0]);
        if (!root) {
            fprintf(stderr, "busmon: the latest entry of %s has no readable json field\n", stream);
            *rc = BM_EXIT_NOT_FOUND;
        } else if (!bm_cli_rollup_version_ok(root, why, sizeof why)) {
            fprintf(stderr, "busmon: %s: %s\n", stream, why);
            json_decref(root);
            root = NULL;
            *rc = BM_EXIT_NOT_FOUND;
        } else {
            char what[600];
            snprintf(what, sizeof what, "the latest rollup on %s", stream);
            bm_cli_warn_stale(what, (double)time(NULL) - bm_cli_iso_s(bm_cli_str(root, "ts")),
                              bm_cli_num(root, "interval_s"));
        }
    }
    if (r) freeReplyObject(r);
    return root;
}

static void fmt_ms(double ms, char *buf, size_t n)
{
    if (ms <= 0)
        snprintf(buf, n, "-");
    else if (ms < 1)
        snprintf(buf, n, "%.0f us", ms * 1000);
    else if (ms < 1000)
        snprintf(buf, n, "%.1f ms", ms);
    else
        snprintf(buf, n, "%.2f s", ms / 1000);
}

/* "12s ago" from an ISO time, relative to the rollup's time. */
static void fmt_ago(const char *iso, double rollup_ts_us, char *buf, size_t n)
{
    double t = bm_cli_iso_s(iso);
    if (isnan(t)) {
        snprintf(buf, n, "never");
        return;
    }
    double ago = rollup_ts_us / 1e6 - t;
    if (ago < 0) ago = 0;
    if (ago < 120)
        snprintf(buf, n, "%.0fs ago", ago);
    else if (ago < 7200)
        snprintf(buf, n, "%.0fm ago", ago / 60);
    else
        snprintf(buf, n, "%.1fh ago", ago / 3600);
}

static const char *health_color(const bm_cli_opts *o, const char *h)
{
    if (!o->color) return "";
    if (!strcmp(h, "healthy")) return "\033[32m";
    if (!strcmp(h, "degraded")) return "\033[33m";
    if (!strcmp(h, "failed")) return "\033[31m";
    return "\033[2m";
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
}

static int show_workers(const bm_cli_opts *o, const stats_args *s, json_t *roll)
{
    json_t *workers = json_object_get(roll, "workers");
    double ts = bm_cli_num(roll, "ts_us");
    if (s->json) {
        json_t *out = bm_rollup_workers_view(roll, s->window);
        print_json(out);
        json_decref(out);
        return BM_EXIT_OK;
    }
    json_t *sum = json_object_get(roll, "summary");
    char avg_all[24], succ_all[16];
    bm_cli_safe sb = {.next = 0}; /* names and messages came from events */
    /* the summary's averages are over the workers with executions in the
     * performance window, 0 when none had: "-" then, as for one worker. The
     * rollup keeps the most active workers first, so none in it means none. */
    int any = 0;
    size_t iw;
    json_t *ww;
    json_array_foreach(workers, iw, ww)
    {
        if (bm_cli_num(bm_rollup_pick_window(json_object_get(ww, "windows"), "1h"), "executions") >
            0)
            any = 1;
    }
    if (any) {
        fmt_ms(bm_cli_num(sum, "avg_duration_ms"), avg_all, sizeof avg_all);
        snprintf(succ_all, sizeof succ_all, "%.1f %%", 100 * bm_cli_num(sum, "avg_success_rate"));
    } else {
        snprintf(avg_all, sizeof avg_all, "-");
        snprintf(succ_all, sizeof succ_all, "-");
    }
    char title[64];
    printf("workers over %s (rollup %s by %s)\n"
           "summary (performance window): %.0f workers, %.0f commands, avg success %s, "
           "avg duration %s\n\n",
           bm_cli_window_title(roll, s->window, title, sizeof title),
           bm_cli_safe_str(&sb, roll, "ts"), bm_cli_safe_str(&sb, roll, "agent"),
           bm_cli_num(sum, "total_workers"), bm_cli_num(sum, "total_commands"), succ_all, avg_all);
    printf("%-20s %-9s %8s %9s %10s %10s %10s %9s  %s\n", "WORKER", "HEALTH", "EXEC", "SUCCESS",
           "AVG", "P95", "P99", "IN FLIGHT", "LAST SEEN");
    size_t i;
    json_t *w;
    json_array_foreach(workers, i, w)
    {
        json_t *win = bm_rollup_pick_window(json_object_get(w, "windows"), s->window);
        char avg[24], p95[24], p99[24], ago[24], succ[16];
        fmt_ms(bm_cli_num(win, "avg_ms"), avg, sizeof avg);
        fmt_ms(bm_cli_num(win, "p95_ms"), p95, sizeof p95);
        fmt_ms(bm_cli_num(win, "p99_ms"), p99, sizeof p99);
        fmt_ago(json_string_value(json_object_get(w, "last_seen")), ts, ago, sizeof ago);
        if (bm_cli_num(win, "executions") > 0)
            snprintf(succ, sizeof succ, "%.1f %%", 100 * bm_cli_num(win, "success_rate"));
        else
            snprintf(succ, sizeof succ, "-");
        const char *h = bm_cli_safe_str(&sb, w, "health");
        printf("%s %s%-9s%s %8.0f %9s %10s %10s %10s %9.0f  %s\n",
               bm_cli_safe_pad(&sb, bm_cli_str(w, "name"), 20), health_color(o, h), h,
               o->color ? "\033[0m" : "", bm_cli_num(win, "executions"), succ, avg, p95, p99,
               bm_cli_num(w, "in_flight"), ago);
    }
    if (json_array_size(workers) == 0) printf("(no workers seen yet)\n");
    double more = bm_cli_num(json_object_get(roll, "omitted"), "workers");
    if (more > 0)
        printf("... and %.0f less active worker(s) not in this rollup (outputs.rollup_max_bytes); "
               "`busmon worker NAME` shows any of them\n",
               more);
    return BM_EXIT_OK;
}

static int show_worker(const bm_cli_opts *o, redisContext *c, const stats_args *s)
{
    redisReply *r = redisCommand(c, "HGET %s %s", s->workers_hash, s->name);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon worker: cannot read %s: %s\n", s->workers_hash,
                r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    if (r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "busmon worker: no worker '%s' in %s (not seen by busmon-agent)\n", s->name,
                s->workers_hash);
        freeReplyObject(r);
        return BM_EXIT_NOT_FOUND;
    }
    json_error_t e;
    json_t *w = json_loadb(r->str, (size_t)r->len, 0, &e);
    freeReplyObject(r);
    if (!w) {
        fprintf(stderr, "busmon worker: the entry for '%s' is not JSON\n", s->name);
        return BM_EXIT_NOT_FOUND;
    }
    if (s->json) {
        json_t *win = bm_rollup_pick_window(json_object_get(w, "windows"), s->window);
        json_object_set_new(w, "window", json_string(s->window));
        if (win) json_object_set(w, "stats", win);
        print_json(w);
        json_decref(w);
        return BM_EXIT_OK;
    }
    bm_cli_safe sb = {.next = 0};
    const char *h = bm_cli_safe_str(&sb, w, "health");
    printf("worker %s\n", bm_cli_safe_str(&sb, w, "name"));
    printf("  health:         %s%s%s since %s\n", health_color(o, h), h, o->color ? "\033[0m" : "",
           bm_cli_safe_str(&sb, w, "health_since"));
    json_t *issues = json_object_get(w, "issues");
    size_t i;
    json_t *v;
    json_array_foreach(issues, i, v)
        printf("  issue:          %s\n", bm_cli_safe_text(&sb, json_string_value(v)));
    printf("  in flight:      %.0f\n", bm_cli_num(w, "in_flight"));
    printf("  last seen:      %s\n", bm_cli_safe_str(&sb, w, "last_seen"));
    printf("  last execution: %s\n", bm_cli_safe_str(&sb, w, "last_execution"));
    printf("  last error:     %s%s%s\n", bm_cli_safe_str(&sb, w, "last_error"),
           json_is_string(json_object_get(w, "last_error_at")) ? " at " : "",
           json_is_string(json_object_get(w, "last_error_at"))
               ? bm_cli_safe_str(&sb, w, "last_error_at")
               : "");
    printf("\n%-7s %8s %8s %8s %8s %10s %10s %10s %10s %10s %10s\n", "WINDOW", "EXEC", "OK",
           "FAILED", "TIMEOUT", "SUCCESS", "MIN", "AVG", "P50", "P95", "P99");
    const char *k;
    json_t *win;
    json_object_foreach(json_object_get(w, "windows"), k, win)
    {
        char mn[24], avg[24], p50[24], p95[24], p99[24], succ[16];
        fmt_ms(bm_cli_num(win, "min_ms"), mn, sizeof mn);
        fmt_ms(bm_cli_num(win, "avg_ms"), avg, sizeof avg);
        fmt_ms(bm_cli_num(win, "p50_ms"), p50, sizeof p50);
        fmt_ms(bm_cli_num(win, "p95_ms"), p95, sizeof p95);
        fmt_ms(bm_cli_num(win, "p99_ms"), p99, sizeof p99);
        if (bm_cli_num(win, "executions") > 0)
            snprintf(succ, sizeof succ, "%.1f %%", 100 * bm_cli_num(win, "success_rate"));
        else
            snprintf(succ, sizeof succ, "-");
        printf("%-7s %8.0f %8.0f %8.0f %8.0f %10s %10s %10s %10s %10s %10s\n", k,
               bm_cli_num(win, "executions"), bm_cli_num(win, "successes"), bm_cli_num(win, "failures"),
               bm_cli_num(win, "timeouts"), succ, mn, avg, p50, p95, p99);
    }
    json_decref(w);
    return BM_EXIT_OK;
}

static int show_errors(const bm_cli_opts *o, const stats_args *s, json_t *roll)
{
    (void)o;
    json_t *errors = json_object_get(roll, "errors");
    if (s->json) {
        json_t *out = json_object();
        json_object_set_new(out, "window", json_string(s->window));
        json_t *ev = bm_rollup_pick_window(json_object_get(roll, "events"), s->window);
        json_object_set(out, "window_s", json_object_get(ev, "window_s")); /* as /api/errors */
        json_object_set(out, "ts", json_object_get(roll, "ts"));
        json_t *arr = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
        {
            json_t *x = json_deep_copy(e);
            json_t *count = bm_rollup_pick_window(json_object_get(e, "count"), s->window);
            json_object_set_new(x, "counts", json_deep_copy(json_object_get(e, "count")));
            json_object_set_new(x, "count", count ? json_copy(count) : json_integer(0));
            json_array_append_new(arr, x);
        }
        json_object_set_new(out, "errors", arr);
        print_json(out);
        json_decref(out);
        return BM_EXIT_OK;
    }
    bm_cli_safe sb = {.next = 0};
    char title[64];
    printf("error patterns over %s (rollup %s)\n\n",
           bm_cli_window_title(roll, s->window, title, sizeof title),
           bm_cli_safe_str(&sb, roll, "ts"));
    printf("%-24s %7s %7s %-11s %-24s %-28s %s\n", "TYPE", "COUNT", "TOTAL", "TREND", "LAST SEEN",
           "WORKERS", "EXAMPLE");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        /* the names that fit the text layer whole, the rest in "+N more" */
        char workers[BM_CLI_SAFE_BYTES] = "";
        size_t j, len = 0, left_out = 0;
        json_t *w;
        json_array_foreach(json_object_get(e, "workers"), j, w)
        {
            const char *name = json_string_value(w);
            if (left_out || !bm_cli_append_whole(workers, sizeof workers, &len, 40, "%s%s",
                                                 j ? "," : "", name ? name : "?"))
                left_out++;
        }
        /* hit beyond the listed ones, and the listed ones left out */
        double wmore = bm_cli_num(e, "workers_more") + (double)left_out;
        if (wmore > 0) bm_cli_append_whole(workers, sizeof workers, &len, 0, " +%.0f more", wmore);
        char last[40];
        bm_cli_time_str(bm_cli_str(e, "last_seen"), last, sizeof last);
        json_t *count = bm_rollup_pick_window(json_object_get(e, "count"), s->window);
        printf("%s %7.0f %7.0f %-11s %-24s %s %s\n",
               bm_cli_safe_pad(&sb, bm_cli_str(e, "type"), 24),
               json_is_number(count) ? json_number_value(count) : 0.0, bm_cli_num(e, "total"),
               bm_cli_safe_str(&sb, e, "trend"), last, bm_cli_safe_pad(&sb, workers, 28),
               bm_cli_safe_str(&sb, e, "example"));
    }
    if (json_array_size(errors) == 0) printf("(no errors seen)\n");
    double more = bm_cli_num(json_object_get(roll, "omitted"), "errors");
    if (more > 0)
        printf("... and %.0f less frequent error type(s) not in this rollup "
               "(outputs.rollup_max_bytes)\n",
               more);
    return BM_EXIT_OK;
}

static int show_stats(const bm_cli_opts *o, const stats_args *s, json_t *roll)
{
    (void)o;
    json_t *win = bm_rollup_pick_window(json_object_get(roll, "events"), s->window);
    if (!win) {
        fprintf(stderr, "busmon stats: the rollup has no %s window\n", s->window);
        return BM_EXIT_NOT_FOUND;
    }
    if (s->json) {
        json_t *out = json_deep_copy(win);
        json_object_set_new(out, "window", json_string(s->window));
        json_object_set(out, "ts", json_object_get(roll, "ts"));
        json_t *counters = json_object_get(roll, "counters"); /* the agent's, as /api/stats */
        json_object_set_new(out, "counters", counters ? json_deep_copy(counters) : json_object());
        json_t *agents = json_object_get(roll, "agents"); /* whose figures are merged in */
        json_object_set_new(out, "agents", agents ? json_deep_copy(agents) : json_array());
        print_json(out);
        json_decref(out);
        return BM_EXIT_OK;
    }
    char avg[24], p95[24];
    fmt_ms(bm_cli_num(win, "avg_latency_ms"), avg, sizeof avg);
    fmt_ms(bm_cli_num(win, "p95_latency_ms"), p95, sizeof p95);
    bm_cli_safe sb = {.next = 0};
    char title[64];
    printf("events over %s (rollup %s)\n\n",
           bm_cli_window_title(roll, s->window, title, sizeof title),
           bm_cli_safe_str(&sb, roll, "ts"));
    printf("  events:           %.0f\n", bm_cli_num(win, "total_events"));
    /* the rates are of answers (results and errors): none, no rate */
    json_t *by_type = json_object_get(win, "by_type");
    char succ[16] = "-", err[16] = "-";
    if (bm_cli_num(json_object_get(by_type, "result"), "count") +
            bm_cli_num(json_object_get(by_type, "error"), "count") >
        0) {
        snprintf(succ, sizeof succ, "%.1f %%", 100 * bm_cli_num(win, "success_rate"));
        snprintf(err, sizeof err, "%.1f %%", 100 * bm_cli_num(win, "error_rate"));
    }
    printf("  success rate:     %s\n", succ);
    printf("  error rate:       %s\n", err);
    printf("  latency avg/p95:  %s / %s\n", avg, p95);
    printf("  throughput:       %.1f /min (peak %.1f /min)\n\n", bm_cli_num(win, "throughput_per_min"),
           bm_cli_num(win, "peak_throughput_per_min"));
    printf("  %-10s %9s %7s %9s %9s %9s\n", "TYPE", "COUNT", "SHARE", "SUCCESS", "ERROR", "TIMEOUTS");
    const char *k;
    json_t *t;
    json_object_foreach(json_object_get(win, "by_type"), k, t)
        printf("  %-10s %9.0f %6.1f%% %9.0f %9.0f %9.0f\n", k, bm_cli_num(t, "count"),
               100 * bm_cli_num(t, "share"), bm_cli_num(t, "success"), bm_cli_num(t, "error"),
               bm_cli_num(t, "timeouts"));
    size_t ai;
    json_t *ag;
    json_array_foreach(json_object_get(roll, "agents"), ai, ag)
    {
        if (!ai) printf("\n  agents:");
        int live = json_is_true(json_object_get(ag, "live"));
        printf(" %s%s%s", bm_cli_safe_str(&sb, ag, "name"),
               json_is_true(json_object_get(ag, "leader")) ? " (leader)" : "",
               live ? "" : " (stale)");
    }
    double more_agents = bm_cli_num(json_object_get(roll, "omitted"), "agents");
    if (more_agents > 0) /* cut to outputs.rollup_max_bytes: say so, never a short list as whole */
        printf(" ... and %.0f more (not in this rollup: outputs.rollup_max_bytes)", more_agents);
    if (json_array_size(json_object_get(roll, "agents"))) printf("\n");
    json_t *c = json_object_get(roll, "counters");
    if (json_is_object(c))
        printf("\n  agent %s: %.0f entries read, %.0f acked, %.0f dead-lettered, %.0f reconnects\n",
               bm_cli_safe_str(&sb, roll, "agent"), bm_cli_num(c, "entries_read"),
               bm_cli_num(c, "acked"), bm_cli_num(c, "deadletter"), bm_cli_num(c, "reconnects"));
    return BM_EXIT_OK;
}

/* workers, errors, stats: one view of the latest rollup. */
typedef int rollup_view(const bm_cli_opts *o, const stats_args *s, json_t *roll);

static int run_rollup_view(const bm_cli_command *self, const bm_cli_opts *opts, int argc,
                           char **argv, rollup_view *view)
{
    bm_cli_opts o;
    stats_args s;
    int rc = parse_args(self, opts, argc, argv, &o, &s);
    if (rc != BM_CLI_GO_ON) return rc;
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    rc = BM_EXIT_OK;
    json_t *roll = bm_cli_latest_rollup(c, s.rollups, &rc);
    if (roll) {
        rc = view(&o, &s, roll);
        json_decref(roll);
    }
    redisFree(c);
    return rc;
}

int bm_cli_workers(const bm_cli_command *self, const bm_cli_opts *o, int argc, char **argv)
{
    return run_rollup_view(self, o, argc, argv, show_workers);
}

int bm_cli_errors(const bm_cli_command *self, const bm_cli_opts *o, int argc, char **argv)
{
    return run_rollup_view(self, o, argc, argv, show_errors);
}

int bm_cli_stats(const bm_cli_command *self, const bm_cli_opts *o, int argc, char **argv)
{
    return run_rollup_view(self, o, argc, argv, show_stats);
}

int bm_cli_worker(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o;
    stats_args s;
    int rc = parse_args(self, opts, argc, argv, &o, &s);
    if (rc != BM_CLI_GO_ON) return rc;
    if (!s.name || !*s.name) {
        fprintf(stderr, "busmon worker: which worker? usage: busmon worker [--json] NAME\n");
        return BM_EXIT_USAGE;
    }
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    rc = show_worker(&o, c, &s);
    redisFree(c);
    return rc;
}
