/*
 * top.c - `busmon top`: a live terminal dashboard over what busmon-agent
 * publishes (latest rollup on busmon:rollups, busmon:alerts:firing, consumer
 * groups of the streams the latest busmon:system sample names; each name as
 * the agent's configuration says: --rollups, --firing, --system). On a
 * terminal it redraws every interval, and at once on a resize, each frame
 * fitted to the terminal's size, and `q` quits (termios non-canonical mode,
 * restored when top ends: q, SIGINT, SIGTERM); otherwise it prints one
 * plain frame per interval without escape codes. It reads only Redis; it is
 * not an alerting or storage path.
 */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "agent/core/group_keys.h"
#include "proto/rollup.h"

/* The keys top reads: the agent's outputs.rollups, alerts.firing, outputs.system. */
typedef struct {
    const char *rollups;
    const char *firing;
    const char *system;
    char rollups_own[320], firing_own[320], system_own[320]; /* the group's, when not given */
} top_keys;

/* Set by SIGINT / SIGTERM, and by SIGWINCH (the terminal's size changed)
 * or SIGCONT (back from Ctrl-Z: the shell has set its own modes and drawn
 * on the screen): draw again now, keys read again. A signal handler has
 * nowhere else to say it. */
static volatile sig_atomic_t top_stop, top_resized;

static void top_on_signal(int sig)
{
    if (sig == SIGWINCH || sig == SIGCONT)
        top_resized = 1;
    else
        top_stop = 1;
}

/* The terminal top reads `q` from: non-canonical, no echo, while top runs. */
typedef struct {
    struct termios saved;
    int raw; /* switched, to be restored */
} top_tty;

/* The saved modes less ICANON and ECHO, set. @return 1 when set. */
static int top_tty_apply(const top_tty *t)
{
    struct termios raw = t->saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    return tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

static void top_tty_raw(top_tty *t)
{
    t->raw = 0;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) != 0) return;
    t->raw = top_tty_apply(t);
}

static void top_tty_restore(top_tty *t)
{
    if (t->raw) tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
    t->raw = 0;
}

/* Wait interval_ms, or less when a key or a signal comes (a resize: draw
 * again). @return 1 when it was q. */
static int top_wait_for_q(const top_tty *t, long interval_ms)
{
    if (top_resized) return 0;
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    fd_set rd;
    FD_ZERO(&rd);
    if (t->raw) FD_SET(STDIN_FILENO, &rd);
    char ch;
    return select(t->raw ? STDIN_FILENO + 1 : 0, &rd, NULL, NULL, &tv) > 0 && t->raw &&
           FD_ISSET(STDIN_FILENO, &rd) && read(STDIN_FILENO, &ch, 1) == 1 &&
           (ch == 'q' || ch == 'Q');
}

void bm_cli_top_help(FILE *f)
{
    fprintf(f,
            "usage: busmon top [--interval D] [--window 1m|5m|1h] [--once] [--redis URL]\n"
            "                  [--rollups KEY] [--firing KEY] [--system KEY]\n\n"
            "A live dashboard: events per second, success rate, p95 latency, each worker's\n"
            "health, error patterns, firing alerts and consumer lag. `q` quits.\n\n"
            "options:\n"
            "  --interval D        refresh every D (e.g. 2s, 500ms, 1m; 1ms to a day; default 2s)\n"
            "  --window W          1m, 5m or 1h; default $BUSMON_WINDOW, else 5m (the same\n"
            "                      in every view); rates are over the time it covers\n"
            "  --once              print one frame and exit\n"
            "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
            "redis://127.0.0.1:6379)\n"
            "  --rollups KEY       the rollups stream (default busmon:rollups; outputs.rollups)\n"
            "  --firing KEY        the firing alerts hash (default busmon:alerts:firing;\n"
            "                      alerts.firing)\n"
            "  --system KEY        the system stream, whose latest sample names the streams\n"
            "                      the agent reads (default busmon:system; outputs.system)\n"
            "  --group G           the agent's consumer group, whose keys are read\n"
            "                      (default $BUSMON_GROUP; see busmon --help)\n"
            "  -h, --help          this help\n"
            "exit codes: 0 ok, 2 usage, 3 Redis unreachable or refusing a read\n");
}

#define TOP_INTERVAL_MAX_MS (24L * 3600 * 1000)

/* Parse "2s", "500ms", "1m", "3" (seconds) into milliseconds, 1 ms to a
 * day; -1 if not one (nan, inf and 1e30 too: never cast out of range). */
static long top_parse_duration_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double unit_ms = !*end || !strcmp(end, "s") ? 1000
                     : !strcmp(end, "ms")       ? 1
                     : !strcmp(end, "m")        ? 60000
                                                : 0;
    double ms = v * unit_ms;
    if (end == s || !(ms >= 1 && ms <= TOP_INTERVAL_MAX_MS)) return -1;
    return (long)ms;
}

/* What Redis said when a read failed: its error reply, else the connection's. */
static void top_why(redisContext *c, const redisReply *r, const char *key, char *why, size_t n)
{
    snprintf(why, n, "cannot read %s: %s", key,
             r && r->type == REDIS_REPLY_ERROR ? r->str
             : c->errstr[0]                    ? c->errstr
                                               : "error");
}

/* Latest rollup or NULL (none yet); when Redis failed or refused the read
 * (an error reply: NOPERM, WRONGTYPE), *redis_failed set and why said. */
static json_t *top_latest_rollup(redisContext *c, const char *stream, int *redis_failed, char *why,
                                 size_t n)
{
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", stream);
    json_t *root = NULL;
    if (!r || c->err || r->type == REDIS_REPLY_ERROR) {
        *redis_failed = 1;
        top_why(c, r, stream, why, n);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        root = bm_cli_entry_json(r->element[0]);
    }
    if (r) freeReplyObject(r);
    return root;
}

static const char *top_health_color(int color, const char *h)
{
    if (!color) return "";
    if (!strcmp(h, "healthy")) return "\033[32m";
    if (!strcmp(h, "degraded") || !strcmp(h, "warning")) return "\033[33m";
    if (!strcmp(h, "unknown") || !strcmp(h, "idle")) return "";
    return "\033[31m";
}

static void top_lag(FILE *out, redisContext *c, const char *stream_name)
{
    bm_cli_safe sb = {.next = 0}; /* names Redis answered */
    const char *stream = bm_cli_safe_text(&sb, stream_name);
    redisReply *r = redisCommand(c, "XINFO GROUPS %s", stream_name);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        /* no such key: no stream; another error (NOPERM, WRONGTYPE) is said as it is */
        fputs("  ", out);
        bm_cli_pad(out, stream, 24);
        if (r && r->type == REDIS_REPLY_ERROR && !strstr(r->str, "no such key"))
            fprintf(out, " (cannot read: %s)\n", bm_cli_safe_text(&sb, r->str));
        else
            fprintf(out, " (no stream)\n");
        if (r) freeReplyObject(r);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *g = r->element[i];
        const char *name = "-";
        long long lag = -1, pending = 0;
        for (size_t j = 0; j + 1 < g->elements; j += 2) {
            const char *k = g->element[j]->str;
            redisReply *v = g->element[j + 1];
            if (!k) continue;
            if (!strcmp(k, "name") && v->str) name = bm_cli_safe_text(&sb, v->str);
            if (!strcmp(k, "lag") && v->type == REDIS_REPLY_INTEGER) lag = v->integer;
            if (!strcmp(k, "pending") && v->type == REDIS_REPLY_INTEGER) pending = v->integer;
        }
        fputs("  ", out);
        bm_cli_pad(out, stream, 24);
        fputs(" group ", out);
        bm_cli_pad(out, name, 20);
        if (lag >= 0)
            fprintf(out, " lag %lld  pending %lld\n", lag, pending);
        else
            fprintf(out, " lag ?  pending %lld\n", pending);
    }
    if (r->elements == 0) {
        fputs("  ", out);
        bm_cli_pad(out, stream, 24);
        fputs(" (no consumer groups)\n", out);
    }
    freeReplyObject(r);
}

/* The latest system sample's JSON, or NULL (none yet, unreadable). */
static json_t *top_latest_system(redisContext *c, const char *stream)
{
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", stream);
    json_t *j = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) j = bm_cli_entry_json(r->element[0]);
    if (r) freeReplyObject(r);
    return j;
}

/* A worker's row, for the order top lists them in. */
typedef struct {
    json_t *w;
    int rank;          /* 0 failed, 1 degraded, 2 any other health */
    double executions; /* in the window */
    const char *name;
} top_worker_row;

/* Failed, then degraded, then the rest; within each the most executions in
 * the window first, then by name: a frame cut to the terminal keeps these
 * (the rollup lists its workers in its own order). */
static int top_worker_cmp(const void *x, const void *y)
{
    const top_worker_row *a = x, *b = y;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->executions != b->executions) return a->executions > b->executions ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Rows of a frame that a short terminal cuts (top_put_fitted): the worker
 * rows, then the firing alert rows, at their byte offsets in the frame. */
typedef struct {
    long at, end;     /* [at, end); -1: none */
    const char *what; /* "workers (busmon workers lists them)" */
} top_part;
#define TOP_PARTS 2

/* The rollup's part of a frame: headline figures, workers (worst and
 * busiest first: their rows into *rows), top errors. */
static void top_print_rollup(FILE *out, json_t *roll, const char *stream, const char *window,
                             int color, top_part *rows_out)
{
    const char *reset = color ? "\033[0m" : "";
    bm_cli_safe sb = {.next = 0}; /* names came from events, the stream's from the person */
    if (!roll) {
        fprintf(out, "busmon top: nothing published on %s yet (is busmon-agent running?)\n",
                bm_cli_safe_text(&sb, stream));
        return;
    }
    char why[256];
    if (!bm_cli_rollup_version_ok(roll, why, sizeof why)) {
        fprintf(out, "busmon top: %s: %s\n", bm_cli_safe_text(&sb, stream), why);
        return;
    }
    json_t *ev = bm_rollup_pick_window(json_object_get(roll, "events"), window);
    char title[64];
    fprintf(out, "%sbusmon top%s  rollup %s by %s  window %s\n\n", color ? "\033[1m" : "", reset,
            bm_cli_safe_str(&sb, roll, "ts"), bm_cli_safe_str(&sb, roll, "agent"),
            bm_cli_window_title(roll, window, title, sizeof title));
    char stale[1024];
    if (bm_cli_stale_text("the latest rollup",
                          (double)time(NULL) - bm_cli_iso_s(bm_cli_str(roll, "ts")),
                          bm_cli_num(roll, "interval_s"), stale, sizeof stale))
        fprintf(out, "%sSTALE: %s%s\n\n", color ? "\033[31m" : "", stale, reset);
    /* a rate of no answers, a p95 of no latency: "-", as busmon workers and stats say */
    json_t *by_type = json_object_get(ev, "by_type");
    double answers = bm_cli_num(json_object_get(by_type, "result"), "count") +
                     bm_cli_num(json_object_get(by_type, "error"), "count");
    char succ[16] = "-", p95[24] = "-";
    if (answers > 0) snprintf(succ, sizeof succ, "%.1f %%", 100 * bm_cli_num(ev, "success_rate"));
    if (bm_cli_num(ev, "p95_latency_ms") > 0)
        snprintf(p95, sizeof p95, "%.1f ms", bm_cli_num(ev, "p95_latency_ms"));
    fprintf(out, "events/s %.2f   success %s   p95 latency %s   events %.0f\n\n",
            bm_cli_num(ev, "throughput_per_min") / 60.0, /* over the time the window covers */
            succ, p95, bm_cli_num(ev, "total_events"));
    fprintf(out, "%-20s %-10s %8s %9s %10s %9s\n", "WORKER", "HEALTH", "EXEC", "SUCCESS", "P95",
            "IN FLIGHT");
    rows_out->at = ftell(out);
    json_t *workers = json_object_get(roll, "workers");
    size_t nw = json_array_size(workers);
    top_worker_row *rows = calloc(nw + 1, sizeof *rows);
    for (size_t k = 0; rows && k < nw; k++) {
        json_t *wk = json_array_get(workers, k);
        json_t *win = bm_rollup_pick_window(json_object_get(wk, "windows"), window);
        const char *h = bm_cli_str(wk, "health");
        rows[k] = (top_worker_row){wk,
                                   !strcmp(h, "failed")     ? 0
                                   : !strcmp(h, "degraded") ? 1
                                                            : 2,
                                   bm_cli_num(win, "executions"), bm_cli_str(wk, "name")};
    }
    if (rows) qsort(rows, nw, sizeof *rows, top_worker_cmp);
    for (size_t k = 0; rows && k < nw; k++) {
        json_t *w = rows[k].w;
        json_t *win = bm_rollup_pick_window(json_object_get(w, "windows"), window);
        const char *h = bm_cli_safe_str(&sb, w, "health");
        char wsucc[16] = "-", wp95[24] = "-"; /* no execution in the window: no rate */
        if (bm_cli_num(win, "executions") > 0) {
            snprintf(wsucc, sizeof wsucc, "%.1f%%", 100 * bm_cli_num(win, "success_rate"));
            snprintf(wp95, sizeof wp95, "%.1fms", bm_cli_num(win, "p95_ms"));
        }
        bm_cli_pad(out, bm_cli_safe_str(&sb, w, "name"), 20);
        fprintf(out, " %s", top_health_color(color, h));
        bm_cli_pad(out, h, 10);
        fprintf(out, "%s %8.0f %9s %10s %9.0f\n", color ? reset : "", bm_cli_num(win, "executions"),
                wsucc, wp95, bm_cli_num(w, "in_flight"));
    }
    free(rows);
    rows_out->end = ftell(out);
    fprintf(out, "\nTOP ERRORS\n");
    size_t i;
    json_t *e;
    size_t shown = 0;
    json_array_foreach(json_object_get(roll, "errors"), i, e)
    {
        if (shown++ >= 5) break;
        json_t *cnt = bm_rollup_pick_window(json_object_get(e, "count"), window);
        fputs("  ", out);
        bm_cli_pad(out, bm_cli_safe_str(&sb, e, "type"), 30);
        fprintf(out, " %6.0f\n",
                json_is_number(cnt) ? json_number_value(cnt) : bm_cli_num(e, "total"));
    }
    if (!shown) fprintf(out, "  (none)\n");
}

/* The FIRING ALERTS part of a frame (worst first: their rows into *rows).
 * @return 0, or -1 when Redis failed or refused (why said). */
static int top_print_firing(FILE *out, redisContext *c, const char *hash, int color,
                            top_part *rows_out, char *why, size_t n)
{
    fprintf(out, "\nFIRING ALERTS\n");
    redisReply *a = redisCommand(c, "HGETALL %s", hash);
    if (!a || c->err || a->type == REDIS_REPLY_ERROR) {
        top_why(c, a, hash, why, n);
        if (a) freeReplyObject(a);
        return -1;
    }
    /* fields: one per firing alert (its fingerprint -> its JSON record), and
     * _updated / _agent / _every, which say when and by whom the hash was
     * written, and how often it is */
    size_t firing = 0;
    double updated_s = NAN, every_s = 0;
    json_t **recs = calloc(a->elements / 2 + 1, sizeof *recs);
    for (size_t i = 0; recs && a->type == REDIS_REPLY_ARRAY && i + 1 < a->elements; i += 2) {
        const redisReply *k = a->element[i], *v = a->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(k->str, "_updated")) updated_s = bm_cli_iso_s(v->str);
        if (!strcmp(k->str, "_every")) every_s = strtod(v->str, NULL);
        if (k->str[0] == '_') continue;
        json_t *rec = json_loadb(v->str, v->len, 0, NULL);
        if (json_is_object(rec))
            recs[firing++] = rec;
        else
            json_decref(rec);
    }
    freeReplyObject(a);
    /* worst first, as busmon alerts lists them (the hash's order is Redis's):
     * a frame cut to the terminal keeps the worst */
    if (firing) qsort(recs, firing, sizeof *recs, bm_cli_firing_cmp);
    char stale[1024]; /* as busmon alerts warns: what is listed may be long over */
    if (bm_cli_stale_text("the firing hash", (double)time(NULL) - updated_s, every_s, stale,
                          sizeof stale))
        fprintf(out, "  %sSTALE: %s%s\n", color ? "\033[31m" : "", stale, color ? "\033[0m" : "");
    bm_cli_safe sb = {.next = 0}; /* labels and descriptions came from events */
    rows_out->at = ftell(out);
    for (size_t i = 0; i < firing; i++) {
        json_t *rec = recs[i];
        char labels[BM_CLI_SAFE_BYTES]; /* what bm_cli_safe_text shows at most */
        bm_cli_labels_text(rec, " ", labels, sizeof labels);
        fprintf(out, "  %s", color ? "\033[31m" : "");
        bm_cli_pad(out, bm_cli_safe_str(&sb, rec, "severity"), 9);
        fprintf(out, "%s ", color ? "\033[0m" : "");
        bm_cli_pad(out, bm_cli_safe_str(&sb, rec, "rule"), 20);
        fputc(' ', out);
        bm_cli_pad(out, bm_cli_safe_text(&sb, labels), 30);
        fprintf(out, " %s\n", bm_cli_safe_str(&sb, rec, "description"));
        json_decref(rec);
    }
    free(recs);
    rows_out->end = ftell(out);
    if (!firing) fprintf(out, "  (none)\n");
    return 0;
}

/* The CONSUMER LAG part of a frame: the streams the agent reads, as its latest system sample
 * names them (busmon:events when there is none). */
static void top_print_lag(FILE *out, redisContext *c, const char *system)
{
    fprintf(out, "\nCONSUMER LAG\n");
    json_t *sys = top_latest_system(c, system);
    json_t *streams = sys ? json_object_get(sys, "streams") : NULL;
    if (json_is_array(streams) && json_array_size(streams) > 0) {
        size_t i;
        json_t *s;
        json_array_foreach(streams, i, s)
        {
            const char *name = bm_cli_str(s, "name");
            if (*name && strcmp(name, "-")) top_lag(out, c, name);
        }
    } else {
        top_lag(out, c, BM_STREAM_DEFAULT);
    }
    json_decref(sys);
}

/* The terminal's rows and columns (0, 0 when stdout says none). */
static void top_term_size(int *rows, int *cols)
{
    struct winsize ws;
    int ok = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0;
    *rows = ok ? ws.ws_row : 0;
    *cols = ok ? ws.ws_col : 0;
}

/* One line of a frame (without its '\n') on stdout, cut to `cols` columns
 * (0: whole): escape sequences take none, a character its columns
 * (bm_cli_char_columns: a wide one two), never cut through. A cut line
 * ends its colour. */
static void top_put_line(const char *s, size_t len, int cols, int color)
{
    size_t i = 0;
    int used = 0;
    while (i < len) {
        if (s[i] == '\033') { /* ESC [ parameters final byte: top's colours */
            size_t k = i + 1;
            if (k < len && s[k] == '[')
                for (k++; k < len && (s[k] < 0x40 || s[k] > 0x7e); k++)
                    continue;
            i = k < len ? k + 1 : len;
            continue;
        }
        size_t n;
        int w = bm_cli_char_columns(s + i, len - i, &n);
        if (cols > 0 && used + w > cols) break;
        used += w;
        i += n;
    }
    fwrite(s, 1, i, stdout);
    if (i < len && color) fputs("\033[0m", stdout);
    putchar('\n');
}

/* The line starts of buf[0, len) into at[] (NULL: only counted). @return how many. */
static size_t top_lines(const char *buf, size_t len, const char **at)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (i == 0 || buf[i - 1] == '\n') {
            if (at) at[n] = buf + i;
            n++;
        }
    return n;
}

/*
 * A frame on a terminal of rows x cols: every line cut to the width (a
 * wrapped line would push the headline off the screen), and, when the frame
 * is taller than the screen, the rows of its parts (the workers, the firing
 * alerts) cut from their ends (failed, degraded and busiest workers, and the
 * worst alerts, are listed first), a row at a time from the part that shows
 * more, so neither takes the screen from the other nor from the sections
 * below them; each part's cut said on its last line; then, when that is not
 * enough, the frame's end, said the same way. rows 0: the frame as it is.
 */
static void top_put_fitted(const char *buf, size_t len, const top_part *parts, int rows, int cols,
                           int color)
{
    size_t n = top_lines(buf, len, NULL);
    const char **line = malloc((n + 1) * sizeof *line);
    if (!line) { /* the frame as it is */
        fwrite(buf, 1, len, stdout);
        return;
    }
    top_lines(buf, len, line);
    size_t p0[TOP_PARTS], p1[TOP_PARTS], keep[TOP_PARTS]; /* part i: lines [p0, p1) */
    for (size_t i = 0; i < TOP_PARTS; i++) {
        p0[i] = p1[i] = n;
        for (size_t k = 0; parts[i].at >= 0 && k < n; k++) {
            if (line[k] - buf == parts[i].at) p0[i] = k;
            if (line[k] - buf == parts[i].end) p1[i] = k;
        }
        if (p0[i] > p1[i]) p0[i] = p1[i];
        keep[i] = p1[i] - p0[i];
    }
    size_t fit = rows > 1 ? (size_t)rows - 1 : n; /* the last row stays free: no scroll */
    size_t total = n; /* lines of the frame with its parts cut as keep[] says */
    while (total > fit) {
        size_t cut = TOP_PARTS; /* the part showing the most rows that can lose one */
        for (size_t i = 0; i < TOP_PARTS; i++)
            if (keep[i] > 0 && (keep[i] < p1[i] - p0[i] || keep[i] >= 2) &&
                (cut == TOP_PARTS || keep[i] > keep[cut]))
                cut = i;
        if (cut == TOP_PARTS) break;
        /* a part's first cut takes two rows: one gives way to the line saying so */
        size_t by = keep[cut] == p1[cut] - p0[cut] ? 2 : 1;
        keep[cut] -= by;
        total -= 1;
    }
    size_t shown = 0;
    for (size_t k = 0; k < n; k++) {
        size_t in = TOP_PARTS; /* the part whose cut rows hold line k */
        for (size_t i = 0; i < TOP_PARTS; i++)
            if (k >= p0[i] + keep[i] && k < p1[i]) in = i;
        if (in < TOP_PARTS) {
            if (k == p1[in] - 1 && shown + 1 < fit) {
                char more[96];
                snprintf(more, sizeof more, "... %zu more %s", p1[in] - p0[in] - keep[in],
                         parts[in].what);
                top_put_line(more, strlen(more), cols, color);
                shown++;
            }
            continue;
        }
        if (total > fit && shown + 1 == fit) {
            char more[96];
            snprintf(more, sizeof more, "... %zu more lines (a taller terminal shows them)",
                     total - shown);
            top_put_line(more, strlen(more), cols, color);
            break;
        }
        const char *end = k + 1 < n ? line[k + 1] : buf + len;
        size_t l = (size_t)(end - line[k]);
        if (l && line[k][l - 1] == '\n') l--;
        top_put_line(line[k], l, cols, color);
        shown++;
    }
    free(line);
}

/* Draw one frame: over the last one when live (a terminal, fitted to its
 * size), else after it, "----" between; colour is another matter
 * (NO_COLOR). Returns 0, or -1 when Redis failed or refused (why said;
 * what was drawn is shown). */
static int top_frame(redisContext *c, const top_keys *keys, const char *window, int live, int color,
                     char *why, size_t n)
{
    int redis_failed = 0;
    json_t *roll = top_latest_rollup(c, keys->rollups, &redis_failed, why, n);
    if (redis_failed) return -1;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        json_decref(roll);
        snprintf(why, n, "out of memory");
        return -1;
    }
    top_part parts[TOP_PARTS] = {{-1, -1, "workers (busmon workers lists them)"},
                                 {-1, -1, "alerts (busmon alerts lists them)"}};
    top_print_rollup(out, roll, keys->rollups, window, color, &parts[0]);
    json_decref(roll);
    int rc = top_print_firing(out, c, keys->firing, color, &parts[1], why, n);
    if (rc == 0) top_print_lag(out, c, keys->system);
    fclose(out);
    if (live) {
        int rows, cols;
        top_term_size(&rows, &cols);
        fputs("\033[H\033[2J", stdout);
        top_put_fitted(buf, len, parts, rows, cols, color);
    } else {
        fwrite(buf, 1, len, stdout);
        if (rc == 0) fputs("----\n", stdout);
    }
    free(buf);
    fflush(stdout);
    if (rc < 0) return -1;
    if (c->err) snprintf(why, n, "Redis: %s", c->errstr);
    return c->err ? -1 : 0;
}

/*
 * The options, into *o (a copy of opts), *interval_ms, *window, *once and
 * *keys. @return BM_CLI_GO_ON, or the exit code (help printed, usage error
 * said).
 */
static int top_parse_args(const bm_cli_command *self, const bm_cli_opts *opts, int argc,
                          char **argv, bm_cli_opts *o, long *interval_ms, const char **window,
                          int *once, top_keys *keys)
{
    *o = *opts;
    const char *interval = NULL;
    *window = bm_cli_window_default();
    *once = 0;
    *keys = (top_keys){NULL, NULL, NULL, "", "", ""};
    const bm_cli_optdef options[] = {
        {"interval", 0, NULL, &interval, 0},
        {"window", 0, NULL, window, 0},
        {"once", 0, once, NULL, 0},
        {"rollups", 0, NULL, &keys->rollups, 1},
        {"firing", 0, NULL, &keys->firing, 1},
        {"system", 0, NULL, &keys->system, 1},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, o, argc, argv, NULL);
    if (rc != BM_CLI_GO_ON) return rc;
    keys->rollups = bm_cli_key(o, keys->rollups, "outputs.rollups", NULL, keys->rollups_own,
                               sizeof keys->rollups_own);
    keys->firing = bm_cli_key(o, keys->firing, "alerts.stream", BM_GROUP_SUB_FIRING,
                              keys->firing_own, sizeof keys->firing_own);
    keys->system = bm_cli_key(o, keys->system, "outputs.system", NULL, keys->system_own,
                              sizeof keys->system_own);
    *interval_ms = interval ? top_parse_duration_ms(interval) : 2000;
    if (*interval_ms <= 0) {
        fprintf(stderr,
                "busmon top: --interval must be a duration like 2s, 500ms or 1m (1ms to a day), "
                "not '%s'\n",
                interval);
        return BM_EXIT_USAGE;
    }
    if (strcmp(*window, "1m") && strcmp(*window, "5m") && strcmp(*window, "1h")) {
        fprintf(stderr, "busmon top: --window must be 1m, 5m or 1h, not '%s'%s\n", *window,
                bm_cli_window_origin(*window));
        return BM_EXIT_USAGE;
    }
    return BM_CLI_GO_ON;
}

int bm_cli_top(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o;
    long interval_ms;
    const char *window;
    int once;
    top_keys names;
    int rc = top_parse_args(self, opts, argc, argv, &o, &interval_ms, &window, &once, &names);
    if (rc != BM_CLI_GO_ON) return rc;
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    int live = isatty(STDOUT_FILENO) && !once; /* redrawn in place, `q` read */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = top_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART; /* a resize interrupts the wait, never a read or a write */
    if (live) sigaction(SIGWINCH, &sa, NULL);
    if (live) sigaction(SIGCONT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    top_tty keys = {.raw = 0};
    if (live) top_tty_raw(&keys);
    rc = BM_EXIT_OK;
    while (!top_stop) {
        char why[512];
        if (top_resized && keys.raw) top_tty_apply(&keys); /* after fg: the shell's modes */
        top_resized = 0;
        if (top_frame(c, &names, window, live, o.color, why, sizeof why) < 0) {
            fprintf(stderr, "busmon top: %s\n", why);
            rc = BM_EXIT_REDIS;
            break;
        }
        if (once || ferror(stdout) || top_wait_for_q(&keys, interval_ms)) break;
    }
    top_tty_restore(&keys);
    redisFree(c);
    return rc;
}
