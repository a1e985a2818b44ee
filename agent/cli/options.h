/*
 * options.h - the one option parser of the `busmon` CLI, for busmon's own
 * options and every command's, on getopt_long.
 *
 * A command describes its options in a table of bm_cli_optdef pointing at
 * its own variables; the parser adds what every command takes (--redis URL,
 * --redis-password-file FILE, --redis-username NAME, --group G, -h/--help),
 * so `--opt VALUE` and `--opt=VALUE` work the same everywhere.
 * Long names are taken whole (no abbreviations: `--win` is unknown, so a new
 * option can never change what an old command line means). On a mistake it
 * prints one line on stderr naming it, "(see busmon CMD --help)".
 */
#ifndef BM_AGENT_CLI_OPTIONS_H
#define BM_AGENT_CLI_OPTIONS_H

#include "agent/cli/cli.h"

/* One option. Exactly one of flag and value is set; a NULL name ends a table. */
typedef struct {
    const char *name;   /* the long name, without "--" */
    char short_name;    /* also -c, or 0 */
    int *flag;          /* --name: set to 1 */
    const char **value; /* --name V or --name=V: set to V (borrowed from argv) */
    int nonempty;       /* with value: an empty V counts as a missing one */
} bm_cli_optdef;

/* bm_cli_parse's "no answer yet: run the command". */
#define BM_CLI_GO_ON (-1)

/*
 * Parse a command's arguments, argv[1..argc) (argv[0] is the word typed):
 * `defs` (NULL for none) and the shared options, --redis URL (sets
 * o->redis_url), --redis-password-file, --redis-username, --group (sets
 * o->group) and -h/--help (prints self->help on stdout). Options may
 * come before, between and after operands; `--` ends them. The command
 * takes one operand when self->operand names it: it goes to *operand
 * (left as it was when none is given); without self->operand, operand may
 * be NULL.
 * @return BM_CLI_GO_ON, or the exit code to leave with: BM_EXIT_OK after
 * --help, BM_EXIT_USAGE after an unknown option, a missing value or an
 * unexpected argument (each said in one line on stderr).
 */
int bm_cli_parse(const bm_cli_command *self, const bm_cli_optdef *defs, bm_cli_opts *o, int argc,
                 char **argv, const char **operand);

/*
 * Parse a program's own options, those before its command word: `defs` and
 * the shared ones (-h/--help prints help(stdout); `who` names the program
 * in the messages), up to the first operand.
 * @return BM_CLI_GO_ON with *command_at the index of the command word in
 * argv (argc when there is none), or the exit code to leave with, as
 * bm_cli_parse.
 */
int bm_cli_parse_leading(const char *who, void (*help)(FILE *f), const bm_cli_optdef *defs,
                         bm_cli_opts *o, int argc, char **argv, int *command_at);

/*
 * busmon's own options: bm_cli_parse_leading as "busmon", whose --help is
 * bm_cli_overview. In commands.c, beside the table the overview lists (the
 * parser itself reads no table).
 */
int bm_cli_parse_global(const bm_cli_optdef *defs, bm_cli_opts *o, int argc, char **argv,
                        int *command_at);

#endif
