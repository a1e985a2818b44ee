/*
 * help.c - what `busmon` says about itself: its own help (busmon --help,
 * with the command list from the table), its version, and `busmon help
 * [CMD]`, which prints a command's help as `busmon CMD --help` does.
 */
#include <stdio.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "agent/core/redis_url.h"

#ifndef BUSMON_VERSION
#define BUSMON_VERSION "0.1.0"
#endif

void bm_cli_overview(FILE *f)
{
    fprintf(f, "usage: busmon [--redis URL] COMMAND [ARGS]\n"
               "\n"
               "Look at what busmon-agent sees: it reads what the agent stored in Redis,\n"
               "so it works while the agent runs and after it stopped.\n"
               "\n"
               "commands:\n");
    bm_cli_command_list(f);
    fprintf(f,
            "\n"
            "options:\n"
            "  --redis URL          Redis to read (default: $BUSMON_REDIS_URL, else %s)\n"
            "                       redis://[[user]:password@]host:port[/db] or unix:///path.sock\n"
            "  --redis-password-file FILE\n"
            "                       the password, from FILE's first line (also\n"
            "                       $BUSMON_REDIS_PASSWORD_FILE, or $BUSMON_REDIS_PASSWORD): keeps it\n"
            "                       off the command line, which every local user can read (ps)\n"
            "  --redis-username NAME the ACL user (also $BUSMON_REDIS_USERNAME)\n"
            "  --trace-prefix P     key prefix of stored traces (default busmon:trace:)\n"
            "  -h, --help           this help\n"
            "  --version            print the version\n"
            "\n"
            "exit codes: 0 ok, 1 not found, 2 usage error, 3 Redis unreachable\n",
            BM_DEFAULT_REDIS_URL);
}

void bm_cli_version(FILE *f)
{
    fprintf(f, "busmon %s\n", BUSMON_VERSION);
}

void bm_cli_help_help(FILE *f)
{
    fprintf(f, "usage: busmon help [CMD]\n"
               "\n"
               "What busmon CMD shows and its options, as busmon CMD --help prints them;\n"
               "without CMD, busmon's own help (busmon --help).\n"
               "\n"
               "exit codes: 0 ok, 2 no such command\n");
}

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
