/*
 * main.c - `busmon`: look at what busmon-agent sees, from any machine that
 * reaches Redis. busmon's own options, then a command, which the command
 * table (commands.c) runs.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"

/* What was printed must have reached its file: a full disk is not "ok". */
static int output_written(int rc, const char *what)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return rc;
    /* the reader left (`busmon top | head`): nothing to say, as a program a
     * SIGPIPE ends says nothing; still not "ok". (The failed write may be
     * long past, its errno gone: a pipe without a reader polls POLLERR.) */
    struct pollfd out = {.fd = STDOUT_FILENO, .events = POLLOUT};
    if (errno == EPIPE || (poll(&out, 1, 0) == 1 && (out.revents & POLLERR))) return BM_EXIT_OUTPUT;
    fprintf(stderr, "busmon%s%s: cannot write the output: %s\n", what ? " " : "", what ? what : "",
            errno ? strerror(errno) : "write error");
    return BM_EXIT_OUTPUT;
}

int main(int argc, char **argv)
{
    bm_cli_opts o = {.trace_prefix = NULL};
    int version = 0, at;
    const bm_cli_optdef options[] = {
        {"trace-prefix", 0, NULL, &o.trace_prefix, 0},
        {"version", 0, &version, NULL, 0},
        {NULL, 0, NULL, NULL, 0},
    };
    int rc = bm_cli_parse_global(options, &o, argc, argv, &at);
    if (rc != BM_CLI_GO_ON) return output_written(rc, NULL);
    if (version) {
        bm_cli_version(stdout);
        return output_written(BM_EXIT_OK, NULL);
    }
    if (at >= argc) {
        bm_cli_overview(stderr);
        return BM_EXIT_USAGE;
    }
    const bm_cli_command *cmd = bm_cli_command_find(argv[at]);
    if (!cmd) {
        fprintf(stderr, "busmon: unknown command '%s' (see busmon --help)\n", argv[at]);
        return BM_EXIT_USAGE;
    }
    const char *nc = getenv("NO_COLOR");
    o.color = isatty(STDOUT_FILENO) && !(nc && *nc);
    return output_written(cmd->run(cmd, &o, argc - at, argv + at), cmd->name);
}
