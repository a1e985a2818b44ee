/*
 * help.c - what `busmon` says about itself, as text: its own help around
 * the command list (busmon --help), its version, and the help of `busmon
 * help`. A leaf: the command list is handed in, so nothing here reads the
 * command table; commands.c, which holds the table, prints through these.
 */
#include <stdio.h>

#include "agent/cli/cli.h"
#include "agent/core/redis_url.h"

#ifndef BUSMON_VERSION
#define BUSMON_VERSION "0.1.0"
#endif

void bm_cli_overview_with(FILE *f, void (*command_list)(FILE *f))
{
    fprintf(f, "usage: busmon [--redis URL] COMMAND [ARGS]\n"
               "\n"
               "Look at what busmon-agent sees: it reads what the agent stored in Redis,\n"
               "so it works while the agent runs and after it stopped.\n"
               "\n"
               "commands:\n");
    command_list(f);
    fprintf(
        f,
        "\n"
        "options:\n"
        "  --redis URL          Redis to read (default: $BUSMON_REDIS_URL, else %s)\n"
        "                       redis://[[user]:password@]host:port[/db] or unix:///path.sock\n"
        "  --redis-password-file FILE\n"
        "                       the password, from FILE's first line (also\n"
        "                       $BUSMON_REDIS_PASSWORD_FILE, or $BUSMON_REDIS_PASSWORD): keeps it\n"
        "                       off the command line, which every local user can read (ps)\n"
        "  --redis-username NAME the ACL user (also $BUSMON_REDIS_USERNAME)\n"
        "  --group G            the agent's consumer group, whose keys are read (default:\n"
        "                       $BUSMON_GROUP, else $BUSMON_STREAMS_GROUP, else busmon): a\n"
        "                       group other than busmon publishes on keys of its own,\n"
        "                       busmon:rollups:G, busmon:workers:G, busmon:alerts:G, ...;\n"
        "                       also after the command (busmon workers --group G)\n"
        "  --trace-prefix P     key prefix of stored traces (default busmon:trace:;\n"
        "                       another group's busmon:trace:G:)\n"
        "  -h, --help           this help\n"
        "  --version            print the version\n"
        "\n"
        "exit codes: 0 ok, 1 not found, 2 usage error, 3 Redis unreachable, 4 output not written\n",
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
