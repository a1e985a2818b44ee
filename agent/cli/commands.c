/*
 * commands.c - the command table: what `busmon WORD` runs, and what reads
 * the table whole: the command list of busmon --help (the overview),
 * `busmon help [CMD]`, and busmon's own options, whose --help is the
 * overview. A new command is a row here, its handler and help in a file of
 * its own, and their two declarations in cli.h.
 *
 * Only this file reads the table, so the files below it (the commands,
 * the option parser, help.c's texts) never call back up into it.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"

static const char *const dl_aliases[] = {"deadletter", "dlq", NULL};

/* clang-format off */
static const bm_cli_command commands[] = {
    /* name     aliases operand  summary (busmon --help), then help and handler */
    {"trace",   NULL,   "TX",    "a transaction's timeline",
                                 bm_cli_trace_help, bm_cli_trace},
    {"traces",  NULL,   NULL,    "find transactions by status, worker, duration, time, error type",
                                 bm_cli_traces_help, bm_cli_traces},
    {"workers", NULL,   NULL,    "every worker's health and performance",
                                 bm_cli_workers_help, bm_cli_workers},
    {"worker",  NULL,   "NAME",  "one worker in detail, with the issues behind its health",
                                 bm_cli_worker_help, bm_cli_worker},
    {"errors",  NULL,   NULL,    "error patterns: errors grouped by type, with trend",
                                 bm_cli_errors_help, bm_cli_errors},
    {"stats",   NULL,   NULL,    "event metrics: rates, latency, throughput per type",
                                 bm_cli_stats_help, bm_cli_stats},
    {"metrics", NULL,   "[NAME]", "business metrics (metric events) per name and tags, over a window",
                                 bm_cli_metrics_help, bm_cli_metrics},
    {"top",     NULL,   NULL,    "live dashboard: rates, workers, errors, alerts, lag",
                                 bm_cli_top_help, bm_cli_top},
    {"system",  NULL,   NULL,    "host, agent, Redis and stream metrics with avg and peak",
                                 bm_cli_system_help, bm_cli_system},
    {"alerts",  NULL,   NULL,    "alerts firing now and recent notifications; --watch follows them",
                                 bm_cli_alerts_help, bm_cli_alerts},
    {"deadletters", dl_aliases, "[replay]", "entries the agent could not use, why; replay puts them back",
                                 bm_cli_deadletters_help, bm_cli_deadletters},
    {"baseline", NULL,  "[WORKER]", "learned baselines vs now; freeze WORKER, clear WORKER",
                                 bm_cli_baseline_help, bm_cli_baseline},
    {"help",    NULL,   "CMD",   "what CMD shows and its options (as busmon CMD --help)",
                                 bm_cli_help_help, bm_cli_help},
};
/* clang-format on */

#define N_COMMANDS (sizeof commands / sizeof commands[0])

const bm_cli_command *bm_cli_command_find(const char *word)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(word, commands[i].name)) return &commands[i];
        for (const char *const *a = commands[i].aliases; a && *a; a++)
            if (!strcmp(word, *a)) return &commands[i];
    }
    return NULL;
}

/* "name OPERAND" into call. @return its length. */
static int command_call(const bm_cli_command *c, char *call, size_t n)
{
    return snprintf(call, n, "%s%s%s", c->name, c->operand ? " " : "",
                    c->operand ? c->operand : "");
}

void bm_cli_command_list(FILE *f)
{
    int width = 0; /* the summaries start in one column, after the longest call */
    char call[64];
    for (size_t i = 0; i < N_COMMANDS; i++) {
        int n = command_call(&commands[i], call, sizeof call);
        if (n > width) width = n;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        command_call(&commands[i], call, sizeof call);
        fprintf(f, "  %-*s  %s\n", width, call, commands[i].summary);
    }
}

void bm_cli_overview(FILE *f)
{
    bm_cli_overview_with(f, bm_cli_command_list);
}

int bm_cli_parse_global(const bm_cli_optdef *defs, bm_cli_opts *o, int argc, char **argv,
                        int *command_at)
{
    return bm_cli_parse_leading("busmon", bm_cli_overview, defs, o, argc, argv, command_at);
}

/* busmon help [CMD]: here, beside the table it looks CMD up in. */
int bm_cli_help(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o = *opts;
    const char *topic = NULL;
    int rc = bm_cli_parse(self, NULL, &o, argc, argv, &topic);
    if (rc != BM_CLI_GO_ON) return rc;
    if (!topic) {
        bm_cli_overview(stdout);
        return BM_EXIT_OK;
    }
    const bm_cli_command *cmd = bm_cli_command_find(topic);
    if (!cmd) {
        fprintf(stderr, "busmon help: unknown command '%s' (see busmon --help)\n", topic);
        return BM_EXIT_USAGE;
    }
    cmd->help(stdout);
    return BM_EXIT_OK;
}
