/*
 * system.c - `busmon system [--window 1h] [--json]`: the system metrics
 * busmon-agent samples (host CPU, memory, disk, load; its own CPU and RSS;
 * ingest rate, p95 latency, success rate; Redis clients, memory and round
 * trip; per stream length, lag and pending; its cgroup's limits) with their average and peak
 * over a window, read from the busmon:system stream.
 *
 * The JSON is proto/system.h's window summary, the same as /api/system.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "proto/rollup.h"
#include "proto/system.h"

#define MAX_ENTRIES 100000

typedef struct {
    int json;
    const char *window;
    const char *stream;
    const char *agent; /* only this agent's samples; NULL: the agent of the newest one */
    char stream_own[320]; /* the group's stream, when not given */
} system_args;

void bm_cli_system_help(FILE *f)
{
    fprintf(f, "usage: busmon system [--json] [--window W] [--agent NAME] [--redis URL]\n"
               "                     [--stream KEY]\n\n"
               "System metrics as busmon-agent samples them (every 10 s by default): host\n"
               "CPU, memory, disk of the data path and load; the agent's CPU and RSS;\n"
               "events/s, p95 latency and success rate; Redis clients, memory and round\n"
               "trip; per stream length, consumer lag and pending; the memory limit, its\n"
               "use and the CPU quota of the agent's cgroup (a container's: \"-\" and null\n"
               "when none is set). Each with its latest value and its average and peak\n"
               "over the window.\n"
               "\noptions:\n"
               "  --json              print JSON (the /api/system shape: latest, avg, peak,\n"
               "                      series; times as RFC 3339 strings, t_unix, from_unix\n"
               "                      and to_unix beside them in seconds)\n"
               "  --window W          how far back: 5m, 1h, 6h, 24h, 7d (10s..7d; the agent\n"
               "                      keeps outputs.system_maxlen samples, 24 h); default\n"
               "                      $BUSMON_WINDOW, else 5m (the same in every view)\n"
               "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
               "redis://127.0.0.1:6379)\n"
               "  --stream KEY        the system stream (default busmon:system)\n"
               "  --agent NAME        the samples of this agent (consumer name); default: the\n"
               "                      agent that wrote the newest sample (agents sharing a\n"
               "                      group each write their own)\n"
               "  --group G           the agent's consumer group, whose keys are read\n"
               "                      (default $BUSMON_GROUP; see busmon --help)\n"
               "  -h, --help          this help\n"
               "\nexit codes: 0 ok, 1 no sample in the window, 2 usage, 3 Redis unreachable\n");
}

/*
 * The options, into *o (a copy of opts) and *s, the window checked into
 * *window_us. @return BM_CLI_GO_ON, or the exit code (help printed, usage
 * error said).
 */
static int parse_args(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv,
                      bm_cli_opts *o, system_args *s, int64_t *window_us)
{
    *o = *opts;
    *s = (system_args){0, bm_cli_window_default(), NULL, NULL, ""};
    const bm_cli_optdef options[] = {
        {"json", 0, &s->json, NULL, 0},
        {"window", 0, NULL, &s->window, 0},
        {"stream", 0, NULL, &s->stream, 1},
        {"agent", 0, NULL, &s->agent, 0},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse(self, options, o, argc, argv, NULL);
    if (rc != BM_CLI_GO_ON) return rc;
    s->stream =
        bm_cli_key(o, s->stream, "outputs.system", NULL, s->stream_own, sizeof s->stream_own);
    if (bm_sys_parse_window(s->window, window_us)) {
        fprintf(stderr,
                "busmon system: --window must be a duration like 10m, 1h or 24h (10s to 7d), not "
                "'%s'\n",
                s->window);
        return BM_EXIT_USAGE;
    }
    return BM_CLI_GO_ON;
}

static void fmt_bytes(double v, char *buf, size_t n)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* One figure for the table: "-" when unknown (a cgroup figure: no limit). */
static void fmt(bm_sys_field f, double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    switch (f) {
    case BM_SYS_AGENT_RSS:
    case BM_SYS_REDIS_MEMORY:
    case BM_SYS_CGROUP_MEMORY_LIMIT:
    case BM_SYS_CGROUP_MEMORY_USAGE:
    case BM_SYS_CGROUP_MEMORY_WORKING_SET:
        fmt_bytes(v, buf, n);
        break;
    case BM_SYS_CGROUP_CPU_LIMIT:
        snprintf(buf, n, "%.2f cpus", v);
        break;
    case BM_SYS_SUCCESS_RATE: snprintf(buf, n, "%.1f %%", v * 100); break;
    case BM_SYS_REDIS_CLIENTS:
    case BM_SYS_CONSUMER_LAG:
    case BM_SYS_PENDING:
    case BM_SYS_STREAM_LENGTH: snprintf(buf, n, "%.0f", v); break;
    case BM_SYS_REDIS_RTT_MS: snprintf(buf, n, "%.2f ms", v); break;
    case BM_SYS_P95_LATENCY_MS: snprintf(buf, n, "%.0f ms", v); break;
    case BM_SYS_LOAD1:
    case BM_SYS_LOAD5:
    case BM_SYS_LOAD15: snprintf(buf, n, "%.2f", v); break;
    case BM_SYS_EVENTS_PER_SEC: snprintf(buf, n, "%.1f", v); break;
    default: snprintf(buf, n, "%.1f %%", v); break;
    }
}

static const char *const row_label[BM_SYS__COUNT] = {
    "host cpu",        "host memory",     "disk",
    "load 1m",         "load 5m",         "load 15m",
    "agent cpu",       "agent rss",       "events/s",
    "p95 latency",     "success rate",    "redis clients",
    "redis memory",    "redis rtt",       "consumer lag",
    "pending",         "stream length",   "cgroup mem limit",
    "cgroup mem used", "cgroup mem wset", "cgroup cpu limit",
};

static void print_text(const system_args *s, const bm_sys_sample *latest, const bm_sys_agg *agg)
{
    char when[40];
    bm_cli_time(latest->p.ts_us, when, sizeof when);
    bm_cli_safe sb = {.next = 0}; /* names the samples carry */
    printf("system metrics, last %s: %zu sample(s), latest %s from %s (every %.3g s)\n", s->window,
           agg->samples, when, bm_cli_safe_text(&sb, latest->agent[0] ? latest->agent : "?"),
           (double)latest->interval_us / 1e6);
    printf("%-16s %14s %14s %14s\n", "", "latest", "avg", "peak");
    for (int f = 0; f < BM_SYS__COUNT; f++) {
        char l[32], av[32], pk[32];
        fmt((bm_sys_field)f, latest->p.v[f], l, sizeof l);
        fmt((bm_sys_field)f, bm_sys_agg_avg(agg, (bm_sys_field)f), av, sizeof av);
        fmt((bm_sys_field)f, bm_sys_agg_peak(agg, (bm_sys_field)f), pk, sizeof pk);
        printf("%-16s %14s %14s %14s\n", row_label[f], l, av, pk);
    }
    if (latest->data_path[0]) { /* whole (each byte shown as \xNN at most: 4 each) */
        static char path[4 * sizeof latest->data_path];
        bm_text_for_terminal(path, sizeof path, latest->data_path);
        printf("disk is the file system of %s\n", path);
    }
    if (latest->n_streams) printf("\nstreams (latest)\n");
    for (size_t i = 0; i < latest->n_streams; i++) {
        const bm_sys_stream *st = &latest->streams[i];
        char len[24] = "?", lag[24] = "?", pend[24] = "?";
        if (st->length >= 0) snprintf(len, sizeof len, "%lld", (long long)st->length);
        if (st->lag >= 0) snprintf(lag, sizeof lag, "%lld", (long long)st->lag);
        if (st->pending >= 0) snprintf(pend, sizeof pend, "%lld", (long long)st->pending);
        printf("  %s length %-10s lag %-10s pending %-10s%s\n", bm_cli_safe_pad(&sb, st->name, 28),
               len, lag, pend, st->group == 0 ? "  (consumer group missing)" : "");
    }
}

/* The samples of the window, newest first (XREVRANGE), or NULL with the reason said. */
static redisReply *read_window(redisContext *c, const system_args *s, int64_t window_us)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long now_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    long long from_ms = now_ms - window_us / 1000;
    /* newest first, so the cap keeps the most recent samples */
    redisReply *r =
        redisCommand(c, "XREVRANGE %s + %lld COUNT %d", s->stream, from_ms, MAX_ENTRIES);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "busmon system: cannot read %s: %s\n", s->stream, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* One agent's samples out of a window's entries. */
typedef struct {
    bm_sys_point *pts;     /* `got` of them, oldest first */
    size_t got;
    size_t bad, others;    /* entries unreadable, and of other agents */
    bm_sys_sample *latest; /* the newest of them, when got > 0 */
    bm_sys_sample *one;    /* room to read an entry into */
} samples;

/*
 * Whose samples, into agent (agent_len bytes): --agent, else the agent of
 * the newest readable of the n entries.
 */
static void pick_agent(const system_args *s, redisReply *const *entries, size_t n,
                       bm_sys_sample *one, char *agent, size_t agent_len)
{
    snprintf(agent, agent_len, "%s", s->agent ? s->agent : "");
    for (size_t i = 0; !agent[0] && i < n; i++) {
        json_t *j = bm_cli_entry_json(entries[i]);
        if (j && bm_sys_sample_from_json(j, one) == 0)
            snprintf(agent, agent_len, "%s", one->agent);
        json_decref(j);
    }
}

/* Read the n entries (newest first) into sm: agent's samples; the others counted. */
static void collect(redisReply *const *entries, size_t n, const char *agent, samples *sm)
{
    for (size_t i = n; i-- > 0;) { /* oldest first */
        json_t *j = bm_cli_entry_json(entries[i]);
        if (!j || bm_sys_sample_from_json(j, sm->one)) {
            sm->bad++;
            json_decref(j);
            continue;
        }
        json_decref(j);
        if (strcmp(sm->one->agent, agent)) {
            sm->others++;
            continue;
        }
        sm->pts[sm->got++] = sm->one->p;
        *sm->latest = *sm->one;
    }
}

/* Say on stderr what was left out, or that nothing is left. @return BM_EXIT_OK or _NOT_FOUND. */
static int report(const system_args *s, const samples *sm)
{
    if (sm->others && !s->json)
        fprintf(stderr, "busmon system: %zu sample(s) of other agents in the window not shown (--agent NAME)\n",
                sm->others);
    if (sm->bad)
        fprintf(stderr, "busmon system: %zu unreadable record(s) in %s skipped\n", sm->bad,
                s->stream);
    if (sm->got) return BM_EXIT_OK;
    if (s->agent)
        fprintf(stderr, "busmon system: no system sample of agent '%s' in %s over the last %s\n",
                s->agent, s->stream, s->window);
    else
        fprintf(stderr,
                "busmon system: no system sample in %s over the last %s (is busmon-agent "
                "running against this Redis?)\n",
                s->stream, s->window);
    return BM_EXIT_NOT_FOUND;
}

/*
 * The CLI's dialect on /api/system's shape: each epoch-seconds time ("t",
 * "from", "to", at any depth) becomes an RFC 3339 string, and the number
 * stays beside it as "<name>_unix". @return 0, or -1 (out of memory).
 */
static int times_as_rfc3339(json_t *j)
{
    static const char *const keys[] = {"t", "from", "to"};
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (times_as_rfc3339(v)) return -1;
        return 0;
    }
    if (!json_is_object(j)) return 0;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(j, tmp, k, v) if (times_as_rfc3339(v)) return -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *t = json_object_get(j, keys[i]);
        if (!json_is_number(t)) continue;
        char iso[40], unix_key[16];
        bm_cli_time((int64_t)llround(json_number_value(t) * 1e6), iso, sizeof iso);
        snprintf(unix_key, sizeof unix_key, "%s_unix", keys[i]);
        if (json_object_set(j, unix_key, t) || json_object_set_new(j, keys[i], json_string(iso)))
            return -1;
    }
    return 0;
}

/* Print the window's summary, as JSON or a table. @return BM_EXIT_OK, or _REDIS (out of memory). */
static int print_window(const system_args *s, int64_t window_us, const samples *sm)
{
    if (s->json) {
        json_t *j = bm_sys_window_json(s->window, window_us, sm->latest->interval_us, sm->pts,
                                       sm->got, sm->latest);
        if (j && times_as_rfc3339(j)) {
            json_decref(j);
            j = NULL;
        }
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
        json_decref(j);
        if (!text) {
            fprintf(stderr, "busmon system: out of memory\n");
            return BM_EXIT_REDIS;
        }
        puts(text);
        free(text);
        return BM_EXIT_OK;
    }
    bm_sys_agg agg;
    bm_sys_agg_init(&agg);
    for (size_t i = 0; i < sm->got; i++)
        bm_sys_agg_add(&agg, &sm->pts[i]);
    print_text(s, sm->latest, &agg);
    return BM_EXIT_OK;
}

int bm_cli_system(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o;
    system_args s;
    int64_t window_us;
    int rc = parse_args(self, opts, argc, argv, &o, &s, &window_us);
    if (rc != BM_CLI_GO_ON) return rc;
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    redisReply *r = read_window(c, &s, window_us);
    redisFree(c);
    if (!r) return BM_EXIT_REDIS;
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    samples sm = {n ? calloc(n, sizeof *sm.pts) : NULL, 0, 0, 0, calloc(1, sizeof *sm.latest),
                  calloc(1, sizeof *sm.one)};
    if ((n && !sm.pts) || !sm.latest || !sm.one) {
        fprintf(stderr, "busmon system: out of memory\n");
        rc = BM_EXIT_REDIS;
    } else {
        char agent[sizeof sm.one->agent];
        pick_agent(&s, r->element, n, sm.one, agent, sizeof agent);
        collect(r->element, n, agent, &sm);
        rc = report(&s, &sm);
        if (rc == BM_EXIT_OK) rc = print_window(&s, window_us, &sm);
    }
    free(sm.pts);
    free(sm.latest);
    free(sm.one);
    freeReplyObject(r);
    return rc;
}
