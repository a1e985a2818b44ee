/*
 * commands.c - the command table: what `busmon WORD` runs, and the command
 * list of busmon --help. A new command is a row here, its handler and help
 * in a file of its own, and their two declarations in cli.h.
 */
#include <string.h>

#include "agent/cli/cli.h"

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
