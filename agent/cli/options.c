/*
 * options.c - the one option parser (options.h): a command's option table
 * and the shared options become getopt_long's tables; each of its answers
 * sets a variable of the table, or becomes one line on stderr.
 *
 * getopt_long runs in "return in order" mode (optstring "-:..."): operands
 * come back one by one where they stand, so options may follow them, `--`
 * ends the options, POSIXLY_CORRECT changes nothing, and busmon's own
 * options stop at the command word. It is told to print nothing (opterr 0,
 * ':' for a missing value): the messages are ours.
 */
#include "agent/cli/options.h"
#include "proto/event.h" /* BM_ID_MAX */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTS_MAX 24  /* options of one command, the shared ones included */
#define LONG_VAL 256 /* getopt_long answers LONG_VAL + i for the long form of option i */

typedef struct {
    char who[64];            /* "busmon trace": starts every message, and "(see <who> --help)" */
    void (*help)(FILE *f);   /* what -h, --help prints */
    int want_help;           /* the shared --help's flag */
    bm_cli_optdef shared[6]; /* --redis, --redis-password-file, --redis-username, --group,
                                --help, end */
    const bm_cli_optdef *def[OPTS_MAX];
    size_t n;
    struct option longs[OPTS_MAX + 1];
    char shorts[3 + 2 * OPTS_MAX]; /* "-:", then "c" or "c:" per short form */
} parser;

/* Add one table's options. A table longer than OPTS_MAX is a bug in busmon: abort. */
static void add_table(parser *p, const bm_cli_optdef *defs)
{
    for (; defs && defs->name; defs++) {
        if (p->n == OPTS_MAX) abort();
        int has_arg = defs->value ? required_argument : no_argument;
        p->longs[p->n] = (struct option){defs->name, has_arg, NULL, LONG_VAL + (int)p->n};
        if (defs->short_name) {
            size_t k = strlen(p->shorts);
            p->shorts[k++] = defs->short_name;
            if (has_arg) p->shorts[k++] = ':';
            p->shorts[k] = '\0';
        }
        p->def[p->n++] = defs;
    }
}

/* `who` says the mistakes, `help` answers --help; `defs` and the shared options. */
static void parser_init(parser *p, const char *who, void (*help)(FILE *f),
                        const bm_cli_optdef *defs, bm_cli_opts *o)
{
    memset(p, 0, sizeof *p);
    snprintf(p->who, sizeof p->who, "%s", who);
    p->help = help;
    p->shared[0] = (bm_cli_optdef){"redis", 0, NULL, &o->redis_url, 0};
    p->shared[1] = (bm_cli_optdef){"redis-password-file", 0, NULL, &o->redis_password_file, 1};
    p->shared[2] = (bm_cli_optdef){"redis-username", 0, NULL, &o->redis_username, 1};
    p->shared[3] = (bm_cli_optdef){"group", 0, NULL, &o->group, 1};
    p->shared[4] = (bm_cli_optdef){"help", 'h', &p->want_help, NULL, 0};
    strcpy(p->shorts, "-:");
    add_table(p, defs);
    add_table(p, p->shared);
}

/* The option getopt_long answered with `c`: the long form's or the short form's. */
static const bm_cli_optdef *def_of(const parser *p, int c)
{
    if (c >= LONG_VAL) return p->def[c - LONG_VAL];
    for (size_t i = 0; i < p->n; i++)
        if (p->def[i]->short_name == c) return p->def[i];
    return NULL;
}

/* Does argv word `w` name option `name` whole ("--name" or "--name=...")? */
static int whole_name(const char *w, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(w, "--", 2) && !strncmp(w + 2, name, n) &&
           (w[2 + n] == '\0' || w[2 + n] == '=');
}

/*
 * Say what is wrong with argv word `w` (named without any "=value"): getopt_long's
 * '?' (unknown or ambiguous option, or a value given to a flag) or ':'
 * (missing value), or 0 for a long name that is only the start of one.
 * @return BM_EXIT_USAGE.
 */
static int mistake(const parser *p, int c, const char *w)
{
    int n = (int)strcspn(w, "=");
    if (c == ':')
        fprintf(stderr, "%s: %.*s needs a value (see %s --help)\n", p->who, n, w, p->who);
    else if (c == '?' && optopt >= LONG_VAL)
        fprintf(stderr, "%s: %.*s takes no value (see %s --help)\n", p->who, n, w, p->who);
    else
        fprintf(stderr, "%s: unknown option '%.*s' (see %s --help)\n", p->who, n, w, p->who);
    return BM_EXIT_USAGE;
}

/* An operand: the command's one (*taken tells), or an unexpected argument. @return 0 or -1. */
static int operand_at(const parser *p, const char *arg, const char **operand, int *taken)
{
    if (operand && !*taken) {
        *operand = arg;
        *taken = 1;
        return 0;
    }
    fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", p->who, arg, p->who);
    return -1;
}

/*
 * Run getopt_long over argv. With command_at, stop at the first operand and
 * say where it is; else operands go to *operand (at most one; none when
 * operand is NULL). @return as bm_cli_parse.
 */
static int scan(parser *p, int argc, char **argv, const char **operand, int *command_at)
{
    int taken = 0;
    optind = 0; /* a fresh scan (glibc), of this argv */
    opterr = 0;
    for (;;) {
        int li = -1;
        const char *w = argv[optind ? optind : 1]; /* the word getopt_long reads next */
        int c = getopt_long(argc, argv, p->shorts, p->longs, &li);
        if (c == -1) break;
        if (c == 1) { /* an operand */
            if (command_at) {
                *command_at = optind - 1;
                return BM_CLI_GO_ON;
            }
            if (operand_at(p, optarg, operand, &taken)) return BM_EXIT_USAGE;
            continue;
        }
        const bm_cli_optdef *d = c == '?' || c == ':' ? NULL : def_of(p, c);
        if (!d) return mistake(p, c, w);
        /* getopt_long takes "--win" for "--window"; busmon takes whole names only */
        if (li >= 0 && !whole_name(w, d->name)) return mistake(p, 0, w);
        if (d->flag) {
            *d->flag = 1;
        } else if (d->nonempty && !*optarg) {
            return mistake(p, ':', w);
        } else {
            *d->value = optarg;
        }
        if (p->want_help) {
            p->help(stdout);
            return BM_EXIT_OK;
        }
    }
    for (int i = optind; i < argc; i++) { /* after "--" */
        if (command_at) {
            *command_at = i;
            return BM_CLI_GO_ON;
        }
        if (operand_at(p, argv[i], operand, &taken)) return BM_EXIT_USAGE;
    }
    if (command_at) *command_at = argc;
    return BM_CLI_GO_ON;
}

int bm_cli_parse(const bm_cli_command *self, const bm_cli_optdef *defs, bm_cli_opts *o, int argc,
                 char **argv, const char **operand)
{
    parser p;
    char who[64];
    snprintf(who, sizeof who, "busmon %s", self->name);
    parser_init(&p, who, self->help, defs, o);
    int rc = scan(&p, argc, argv, self->operand ? operand : NULL, NULL);
    /* no agent's group is longer (an identity): its keys, cut to their
     * buffers (bm_cli_key), would name another group's */
    const char *group = bm_cli_group(o);
    if (rc == BM_CLI_GO_ON && group && strlen(group) > BM_ID_MAX) {
        fprintf(stderr,
                "%s: the consumer group (--group, $BUSMON_GROUP) is %zu bytes; an "
                "agent's is %d at most\n",
                who, strlen(group), BM_ID_MAX);
        return BM_EXIT_USAGE;
    }
    return rc;
}

int bm_cli_parse_leading(const char *who, void (*help)(FILE *f), const bm_cli_optdef *defs,
                         bm_cli_opts *o, int argc, char **argv, int *command_at)
{
    parser p;
    parser_init(&p, who, help, defs, o);
    return scan(&p, argc, argv, NULL, command_at);
}
