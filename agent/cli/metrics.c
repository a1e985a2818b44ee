/*
 * metrics.c - `busmon metrics [NAME] [--tag K=V]... [--window W] [--json]`:
 * business metrics (metric events, proto/README.md §5.1) from the latest
 * rollup on busmon:rollups (its `metrics` member, §8.6), cut to a name, a
 * set of tags and a window.
 *
 * The rollup carries the first series only (outputs: 50); the agent's
 * /api/metrics serves every one. Not here: the figures (lib/custom_metrics.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "proto/rollup.h"

#define TAGS_MAX 16

typedef struct {
    int json;
    const char *window, *name, *rollups;
    size_t n_tags;
    const char *tag_key[TAGS_MAX];
    char tag_buf[TAGS_MAX][512];
    char rollups_own[320]; /* the group's stream, when not given */
} metrics_args;

void bm_cli_metrics_help(FILE *f)
{
    fprintf(
        f,
        "usage: busmon metrics [NAME] [--tag KEY=VALUE]... [--window 1m|5m|1h] [--json]\n\n"
        "Business metrics recorded as metric events (type metric: name, value, tags):\n"
        "per name and tag set over the window, count, sum, min, max, avg, p50 / p95 /\n"
        "p99 (histograms), rate (histograms: per second; counters: sum per second), last\n"
        "(gauges).\n"
        "\noptions:\n"
        "  --tag KEY=VALUE     only series with this tag (repeat for several)\n"
        "  --json              print JSON ({\"window\", \"series\": [...]}, see proto/README.md)\n"
        "  --window W          1m, 5m or 1h; default $BUSMON_WINDOW, else 5m\n"
        "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
        "redis://127.0.0.1:6379)\n"
        "  --rollups KEY       the rollups stream (default busmon:rollups)\n"
        "  --group G           the agent's consumer group, whose keys are read\n"
        "                      (default $BUSMON_GROUP; see busmon --help)\n"
        "  -h, --help          this help\n"
        "\nReads the latest rollup busmon-agent published (the first 50 series; the agent's\n"
        "/api/metrics has them all).\n"
        "exit codes: 0 ok, 1 nothing published yet / no such metric, 2 usage, 3 Redis "
        "unreachable\n");
}

/* Take the --tag options out of argv (the option table holds one value per
 * option); the rest goes to bm_cli_parse. @return BM_CLI_GO_ON or BM_EXIT_USAGE. */
static int take_tags(int *argc, char **argv, metrics_args *m)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--tag")) {
            if (i + 1 >= *argc) {
                fprintf(stderr,
                        "busmon metrics: --tag needs KEY=VALUE (see busmon metrics --help)\n");
                return BM_EXIT_USAGE;
            }
            v = argv[++i];
        } else if (!strncmp(argv[i], "--tag=", 6)) {
            v = argv[i] + 6;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        const char *eq = strchr(v, '=');
        if (!eq || eq == v || m->n_tags >= TAGS_MAX || strlen(v) >= sizeof m->tag_buf[0]) {
            fprintf(stderr, "busmon metrics: --tag must be KEY=VALUE (16 at most), not '%s'\n", v);
            return BM_EXIT_USAGE;
        }
        snprintf(m->tag_buf[m->n_tags], sizeof m->tag_buf[0], "%s", v);
        m->tag_buf[m->n_tags][eq - v] = '\0';
        m->tag_key[m->n_tags] = m->tag_buf[m->n_tags];
        m->n_tags++;
    }
    *argc = out;
    return BM_CLI_GO_ON;
}

/* Does a rollup item's name and tags match? */
static int item_matches(const metrics_args *m, json_t *item)
{
    if (m->name && strcmp(bm_cli_str(item, "name"), m->name)) return 0;
    json_t *tags = json_object_get(item, "tags");
    for (size_t i = 0; i < m->n_tags; i++) {
        const char *want = m->tag_buf[i] + strlen(m->tag_buf[i]) + 1;
        const char *have = json_string_value(json_object_get(tags, m->tag_key[i]));
        if (!have || strcmp(have, want)) return 0;
    }
    return 1;
}

/* The rollup's items cut to the filter and window: [{name, kind, tags, figures...}]. */
/* v with a new reference, or JSON null for a value the rollup lacks (a
 * NULL given to json_pack makes it fail: the series or output vanished). */
static json_t *or_null(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

/* The series of the rollup that m selects, or NULL (out of memory). */
static json_t *select_series(const metrics_args *m, json_t *roll)
{
    json_t *arr = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(json_object_get(roll, "metrics"), "items"), i, item)
    {
        if (!item_matches(m, item)) continue;
        /* 1h is the performance window, labelled by its length ("30m") */
        json_t *win = bm_rollup_pick_window(json_object_get(item, "windows"), m->window);
        if (!win) continue;
        json_t *o = json_pack("{s:o, s:o, s:o}", "name", or_null(json_object_get(item, "name")),
                              "kind", or_null(json_object_get(item, "kind")), "tags",
                              or_null(json_object_get(item, "tags")));
        if (o && json_object_update(o, win)) {
            json_decref(o);
            o = NULL;
        }
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static void fmt_num(json_t *o, const char *k, char *buf, size_t n)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.6g", json_number_value(v));
}

static void print_table(const metrics_args *m, json_t *roll, json_t *series)
{
    bm_cli_safe sb = {.next = 0}; /* names and tags came from events */
    char title[64];
    printf("business metrics over %s (rollup %s by %s)\n\n",
           bm_cli_window_title(roll, m->window, title, sizeof title),
           bm_cli_safe_str(&sb, roll, "ts"), bm_cli_safe_str(&sb, roll, "agent"));
    printf("%-24s %-9s %-28s %8s %12s %10s %10s %10s %10s %10s %10s\n", "NAME", "KIND", "TAGS",
           "COUNT", "SUM", "MIN", "MAX", "AVG", "P95", "RATE/S", "LAST");
    size_t i;
    json_t *s;
    json_array_foreach(series, i, s)
    {
        /* the pairs that fit the text layer whole, the rest in "+N more" */
        char tags[BM_CLI_SAFE_BYTES] = "";
        const char *k;
        json_t *v;
        size_t at = 0, more = 0;
        json_object_foreach(json_object_get(s, "tags"), k, v)
        {
            const char *val = json_string_value(v);
            if (more || !bm_cli_append_whole(tags, sizeof tags, &at, 24, "%s%s=%s", at ? "," : "",
                                             k, val ? val : "-"))
                more++;
        }
        if (more) bm_cli_append_whole(tags, sizeof tags, &at, 0, " +%zu more", more);
        char f[7][32];
        const char *keys[] = {"sum", "min", "max", "avg", "p95", "rate_per_s", "last"};
        for (int j = 0; j < 7; j++)
            fmt_num(s, keys[j], f[j], sizeof f[j]);
        printf("%s %-9s %s %8.0f %12s %10s %10s %10s %10s %10s %10s\n",
               bm_cli_safe_pad(&sb, bm_cli_str(s, "name"), 24), bm_cli_safe_str(&sb, s, "kind"),
               bm_cli_safe_pad(&sb, tags[0] ? tags : "-", 28), bm_cli_num(s, "count"), f[0], f[1],
               f[2], f[3], f[4], f[5], f[6]);
    }
    json_t *meta = json_object_get(roll, "metrics");
    if (bm_cli_num(meta, "omitted") > 0)
        printf("\n(%.0f series not in the rollup: see the agent's /api/metrics)\n",
               bm_cli_num(meta, "omitted"));
}

int bm_cli_metrics(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    metrics_args m;
    memset(&m, 0, sizeof m);
    m.window = bm_cli_window_default();
    int rc = take_tags(&argc, argv, &m);
    if (rc != BM_CLI_GO_ON) return rc;
    bm_cli_opts o = *opts;
    const bm_cli_optdef options[] = {
        {"json", 0, &m.json, NULL, 0},
        {"window", 0, NULL, &m.window, 0},
        {"rollups", 0, NULL, &m.rollups, 1},
        {NULL, 0, NULL, NULL, 0},
    };
    rc = bm_cli_parse(self, options, &o, argc, argv, &m.name);
    if (rc != BM_CLI_GO_ON) return rc;
    m.rollups =
        bm_cli_key(&o, m.rollups, "outputs.rollups", NULL, m.rollups_own, sizeof m.rollups_own);
    if (strcmp(m.window, "1m") && strcmp(m.window, "5m") && strcmp(m.window, "1h")) {
        fprintf(stderr, "busmon metrics: --window must be 1m, 5m or 1h, not '%s'%s\n", m.window,
                bm_cli_window_origin(m.window));
        return BM_EXIT_USAGE;
    }
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    rc = BM_EXIT_OK;
    json_t *roll = bm_cli_latest_rollup(c, m.rollups, &rc);
    redisFree(c);
    if (!roll) return rc;
    json_t *series = select_series(&m, roll);
    if (!series) {
        fprintf(stderr, "busmon metrics: out of memory\n");
        json_decref(roll);
        return BM_EXIT_REDIS;
    }
    if (m.json) {
        /* a rollup without ts: null in it, not no output at all */
        json_t *out = json_pack("{s:s, s:o, s:O}", "window", m.window, "ts",
                                or_null(json_object_get(roll, "ts")), "series", series);
        char *s = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (s) {
            printf("%s\n", s);
        } else {
            fprintf(stderr, "busmon metrics: out of memory\n");
            rc = BM_EXIT_REDIS;
        }
        free(s);
        json_decref(out);
    } else {
        print_table(&m, roll, series);
    }
    if (m.name && json_array_size(series) == 0) {
        json_t *meta = json_object_get(roll, "metrics");
        if (bm_cli_num(meta, "omitted") > 0) /* it may be one the rollup left out */
            fprintf(stderr,
                    "busmon metrics: no series of '%s' over %s in the latest rollup, which "
                    "carries the first %zu series and leaves out %.0f: the agent's /api/metrics "
                    "has them all\n",
                    m.name, m.window, json_array_size(json_object_get(meta, "items")),
                    bm_cli_num(meta, "omitted"));
        else
            fprintf(stderr, "busmon metrics: no series of '%s' over %s\n", m.name, m.window);
        rc = BM_EXIT_NOT_FOUND;
    }
    json_decref(series);
    json_decref(roll);
    return rc;
}
