/*
 * args.c - bm_config_from_args: the flags of the key table (keys.h) read
 * with getopt_long in two passes. The first finds the actions (--help,
 * --version, --check-config, --offline, --print-acl) and --config, and refuses unknown
 * flags before anything is read; then the file, then the environment, then
 * the second pass sets the flags' keys over them, then the finishing step.
 *
 * A list flag (--stream, --psubscribe) replaces the list of the sources
 * below it at its first use and adds to it at each next one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/config/keys.h"

#define MAX_FLAGS 64
#define OPT_BASE  256 /* getopt values of long options: OPT_BASE + their index in flags[] */

typedef struct {
    struct option opts[MAX_FLAGS + 1];
    const bm_config_key *rows[MAX_FLAGS];
    size_t n;
    char shorts[16];
} flag_set;

static void flags_of_table(flag_set *fs)
{
    size_t n_keys, at = 0;
    const bm_config_key *keys = bm_config_keys(&n_keys);
    memset(fs, 0, sizeof *fs);
    for (size_t i = 0; i < n_keys && fs->n < MAX_FLAGS; i++) {
        const bm_config_key *k = &keys[i];
        if (!k->flag) continue;
        fs->opts[fs->n] = (struct option){k->flag, k->metavar ? required_argument : no_argument,
                                          NULL, OPT_BASE + (int)fs->n};
        fs->rows[fs->n++] = k;
        if (k->short_flag && at + 1 < sizeof fs->shorts) fs->shorts[at++] = k->short_flag;
    }
}

/* The row of a getopt_long result, or NULL ('?'). */
static const bm_config_key *row_of(const flag_set *fs, int o)
{
    if (o >= OPT_BASE && (size_t)(o - OPT_BASE) < fs->n) return fs->rows[o - OPT_BASE];
    for (size_t i = 0; i < fs->n; i++)
        if (fs->rows[i]->short_flag && fs->rows[i]->short_flag == o) return fs->rows[i];
    return NULL;
}

static int is_action(const bm_config_key *k, const char *name)
{
    return k->type == BM_KEY_ACTION && !strcmp(k->path, name);
}

/* Pass 1. @return 1 (an action ends the reading), 0, or -1 with err set. */
static int find_actions(const flag_set *fs, int argc, char **argv, bm_config_action *action,
                        const char **config_path, char *err, size_t errlen)
{
    int check = 0, offline = 0, acl = 0, print = 0, o;
    optind = 0; /* a full restart of getopt (callers may read argv more than once) */
    opterr = 0;
    while ((o = getopt_long(argc, argv, fs->shorts, fs->opts, NULL)) != -1) {
        const bm_config_key *k = row_of(fs, o);
        if (!k) {
            snprintf(err, errlen, "unknown or incomplete option '%s' (see --help)",
                     argv[optind - 1]);
            return -1;
        }
        if (is_action(k, "help") || is_action(k, "version")) {
            *action = is_action(k, "help") ? BM_CONFIG_HELP : BM_CONFIG_VERSION;
            return 1;
        }
        if (is_action(k, "config") && !*optarg) { /* `--config "$UNSET"`: not the defaults */
            snprintf(err, errlen, "--config needs a file name, not ''");
            return -1;
        }
        if (is_action(k, "config")) *config_path = optarg;
        check |= is_action(k, "check-config");
        offline |= is_action(k, "offline");
        acl |= is_action(k, "print-acl");
        print |= is_action(k, "print-config");
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        return -1;
    }
    if (offline && !check) {
        snprintf(err, errlen, "--offline goes with --check-config");
        return -1;
    }
    *action = print     ? BM_CONFIG_PRINT_CONFIG
              : acl     ? BM_CONFIG_PRINT_ACL
              : !check  ? BM_CONFIG_RUN
              : offline ? BM_CONFIG_CHECK_OFFLINE
                        : BM_CONFIG_CHECK;
    return 0;
}

/* Pass 2: the keys of the flags. @return 0, or -1 with err set. */
static int set_flags(const flag_set *fs, bm_config *c, int argc, char **argv, char *err,
                     size_t errlen)
{
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = c,
                                  [BM_BASE_ALERTING] = c->alerting,
                                  [BM_BASE_RULES] = &c->alerting->rules};
    char seen[MAX_FLAGS] = {0};
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, fs->shorts, fs->opts, NULL)) != -1) {
        const bm_config_key *k = row_of(fs, o);
        if (!k || k->type == BM_KEY_ACTION) continue;
        size_t i = (size_t)(o - OPT_BASE);
        char subject[80];
        snprintf(subject, sizeof subject, "--%s", k->flag);
        const char *value = k->metavar ? optarg : k->fixed;
        int how = BM_SET_FROM_ARGS;
        if (k->type == BM_KEY_STREAMS || k->type == BM_KEY_PATTERNS) {
            if (!seen[i] && bm_config_key_set(k, base, "", subject, how, err, errlen)) return -1;
            how = BM_SET_APPEND;
        }
        seen[i] = 1;
        if (bm_config_key_set(k, base, value, subject, how, err, errlen)) return -1;
    }
    return 0;
}

int bm_config_from_args(bm_config *c, int argc, char **argv, bm_config_action *action, char *err,
                        size_t errlen)
{
    flag_set fs;
    flags_of_table(&fs);
    const char *config_path = NULL;
    int rc = find_actions(&fs, argc, argv, action, &config_path, err, errlen);
    if (rc) return rc < 0 ? -1 : 0;
    for (size_t i = 0; i < fs.n && !config_path; i++)
        if (is_action(fs.rows[i], "config") && fs.rows[i]->env)
            config_path = getenv(fs.rows[i]->env);
    if (config_path && *config_path && bm_config_load_file(c, config_path, err, errlen)) return -1;
    if (bm_config_load_env(c, err, errlen) || set_flags(&fs, c, argc, argv, err, errlen) ||
        bm_config_finish(c, err, errlen))
        return -1;
    return 0;
}
