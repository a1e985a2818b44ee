/*
 * cli.h - the `busmon` command line: shared options and the subcommands.
 *
 * Exit codes (all subcommands): 0 success, 1 not found (e.g. unknown
 * transaction), 2 usage error, 3 Redis unreachable or refused.
 */
#ifndef BM_AGENT_CLI_H
#define BM_AGENT_CLI_H

#include <hiredis/hiredis.h>

enum { BM_EXIT_OK = 0, BM_EXIT_NOT_FOUND = 1, BM_EXIT_USAGE = 2, BM_EXIT_REDIS = 3 };

typedef struct {
    const char *redis_url;    /* chosen: --redis, BUSMON_REDIS_URL, default */
    const char *trace_prefix; /* "busmon:trace:" unless --trace-prefix */
    int color;                /* stdout is a terminal and NO_COLOR unset */
} bm_cli_opts;

struct json_t;
/* o[k] as a number (0 when absent or not a number). */
double bm_cli_num(struct json_t *o, const char *k);
/* o[k] as a string ("-" when absent or not a string). */
const char *bm_cli_str(struct json_t *o, const char *k);

/* Connect to the chosen Redis; on failure print one line and return NULL. */
redisContext *bm_cli_connect(const bm_cli_opts *o);

int bm_cli_trace(const bm_cli_opts *o, int argc, char **argv);
/* workers, worker NAME, errors, stats: argv[0] is the command. */
int bm_cli_stats(const bm_cli_opts *o, int argc, char **argv);
/* alerts: firing now and recent notifications; --watch follows them live. */
int bm_cli_alerts(const bm_cli_opts *o, int argc, char **argv);
/* top: a live dashboard; --once prints one frame. */
int bm_cli_top(const bm_cli_opts *o, int argc, char **argv);
/* system: system metrics with avg and peak over --window (busmon:system). */
int bm_cli_system(const bm_cli_opts *o, int argc, char **argv);

#endif
