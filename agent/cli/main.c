/*
 * cli_main.c - `busmon`: look at what busmon-agent sees, from any machine
 * that reaches Redis. Global options, then a subcommand.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/core/redis_url.h"

#ifndef BUSMON_VERSION
#define BUSMON_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: busmon [--redis URL] COMMAND [ARGS]\n"
            "\n"
            "Look at what busmon-agent sees: it reads what the agent stored in Redis,\n"
            "so it works while the agent runs and after it stopped.\n"
            "\n"
            "commands:\n"
            "  trace TX      a transaction's timeline (busmon trace --help)\n"
            "  workers       every worker's health and performance\n"
            "  worker NAME   one worker in detail, with the issues behind its health\n"
            "  errors        error patterns: errors grouped by type, with trend\n"
            "  stats         event metrics: rates, latency, throughput per type\n"
            "                (each takes --json and --window 1m|5m|1h; see busmon CMD --help)\n"
            "  top           live dashboard: rates, workers, errors, alerts, lag\n"
            "  system        host, agent, Redis and stream metrics with avg and peak over\n"
            "                --window (busmon system --help)\n"
            "  alerts        alerts firing now and recent notifications; --watch follows\n"
            "                them live (busmon alerts --help)\n"
            "\n"
            "options:\n"
            "  --redis URL          Redis to read (default: $BUSMON_REDIS_URL, else %s)\n"
            "                       redis://[:password@]host:port[/db] or unix:///path.sock\n"
            "  --trace-prefix P     key prefix of stored traces (default busmon:trace:)\n"
            "  -h, --help           this help\n"
            "  --version            print the version\n"
            "\n"
            "exit codes: 0 ok, 1 not found, 2 usage error, 3 Redis unreachable\n",
            BM_DEFAULT_REDIS_URL);
}

double bm_cli_num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *bm_cli_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

redisContext *bm_cli_connect(const bm_cli_opts *o)
{
    bm_redis_url u;
    char err[512];
    if (bm_redis_url_parse(o->redis_url, &u, err, sizeof err)) {
        fprintf(stderr, "busmon: %s\n", err);
        return NULL;
    }
    redisContext *c = bm_redis_connect_sync(&u, 3000, err, sizeof err);
    if (!c) fprintf(stderr, "busmon: %s\n", err);
    return c;
}

int main(int argc, char **argv)
{
    bm_cli_opts o = {0};
    const char *url_flag = NULL;
    o.trace_prefix = "busmon:trace:";
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
            usage(stdout);
            return BM_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            printf("busmon %s\n", BUSMON_VERSION);
            return BM_EXIT_OK;
        } else if (!strcmp(a, "--redis") || !strcmp(a, "--trace-prefix")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "busmon: %s needs a value\n", a);
                return BM_EXIT_USAGE;
            }
            if (!strcmp(a, "--redis"))
                url_flag = argv[++i];
            else
                o.trace_prefix = argv[++i];
        } else if (!strncmp(a, "--redis=", 8)) {
            url_flag = a + 8;
        } else if (a[0] == '-') {
            fprintf(stderr, "busmon: unknown option '%s' (see busmon --help)\n", a);
            return BM_EXIT_USAGE;
        } else {
            break;
        }
    }
    o.redis_url = bm_redis_url_choose(url_flag);
    const char *nc = getenv("NO_COLOR");
    o.color = isatty(STDOUT_FILENO) && !(nc && *nc);
    if (i >= argc) {
        usage(stderr);
        return BM_EXIT_USAGE;
    }
    const char *cmd = argv[i];
    if (!strcmp(cmd, "trace")) return bm_cli_trace(&o, argc - i, argv + i);
    if (!strcmp(cmd, "workers") || !strcmp(cmd, "worker") || !strcmp(cmd, "errors") ||
        !strcmp(cmd, "stats"))
        return bm_cli_stats(&o, argc - i, argv + i);
    if (!strcmp(cmd, "alerts")) return bm_cli_alerts(&o, argc - i, argv + i);
    if (!strcmp(cmd, "top")) return bm_cli_top(&o, argc - i, argv + i);
    if (!strcmp(cmd, "system")) return bm_cli_system(&o, argc - i, argv + i);
    fprintf(stderr, "busmon: unknown command '%s' (see busmon --help)\n", cmd);
    return BM_EXIT_USAGE;
}
