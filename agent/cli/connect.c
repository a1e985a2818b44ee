/*
 * connect.c - how every `busmon` command reaches Redis: the URL chosen
 * (--redis, else $BUSMON_REDIS_URL, else the default), checked, then a
 * synchronous connection. A URL that cannot be one is the person's mistake
 * (exit 2); a Redis that does not answer is not (exit 3). And whose keys are
 * read: the agent's consumer group (--group, else the agent's variables),
 * whose default keys carry its name unless it is busmon (a name the agent
 * refuses, core/group_keys.c, is the person's mistake too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/core/group_keys.h"
#include "agent/core/redis_url.h"

static const char *flag_or_env(const char *flag, const char *env)
{
    if (flag && *flag) return flag;
    const char *v = getenv(env);
    return v && *v ? v : NULL;
}

/* The group asked for and where it was said (--group, else the agent's variables). */
static const char *group_asked(const bm_cli_opts *o, const char **from)
{
    static const char *const vars[] = {"BUSMON_GROUP", "BUSMON_STREAMS_GROUP"};
    *from = "--group";
    if (o->group && *o->group) return o->group;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        *from = vars[i];
        if (v && *v) return v;
    }
    return NULL;
}

redisContext *bm_cli_connect(const bm_cli_opts *o, int *exit_code)
{
    bm_redis_url u;
    char err[512];
    const char *from, *group = group_asked(o, &from);
    /* a name the agent refuses, whose keys would be another group's: read none */
    if (bm_group_name_check(group, from, err, sizeof err)) {
        fprintf(stderr, "busmon: %s\n", err);
        *exit_code = BM_EXIT_USAGE;
        return NULL;
    }
    if (bm_redis_url_parse(bm_redis_url_choose(o->redis_url), &u, err, sizeof err) ||
        bm_redis_url_credentials(&u, flag_or_env(o->redis_username, "BUSMON_REDIS_USERNAME"),
                                 flag_or_env(o->redis_password_file,
                                             "BUSMON_REDIS_PASSWORD_FILE"),
                                 NULL, err, sizeof err)) {
        fprintf(stderr, "busmon: %s\n", err);
        *exit_code = BM_EXIT_USAGE;
        return NULL;
    }
    /* o->redis_url points into argv: what ps shows */
    if (o->redis_url && *o->redis_url && bm_redis_url_hide_password((char *)o->redis_url))
        fprintf(stderr, "busmon: warning: the Redis password in --redis is visible to every "
                        "local user (ps) while busmon starts; use --redis-password-file FILE or "
                        "BUSMON_REDIS_PASSWORD\n");
    redisContext *c = bm_redis_connect_sync(&u, 3000, err, sizeof err);
    if (!c) {
        fprintf(stderr, "busmon: %s\n", err);
        *exit_code = BM_EXIT_REDIS;
    }
    return c;
}

const char *bm_cli_group(const bm_cli_opts *o)
{
    const char *from, *group = group_asked(o, &from);
    return group && strcmp(group, BM_GROUP_DEFAULT) ? group : NULL;
}

const char *bm_cli_key(const bm_cli_opts *o, const char *given, const char *setting,
                       const char *below, char *buf, size_t n)
{
    if (given) return given;
    /* the agent's row (config.c group_keys): no second spelling to drift from */
    const bm_group_key *k = bm_group_key_find(setting);
    if (!k) { /* a row renamed in the table and not here: read no key rather than a wrong one */
        fprintf(stderr, "busmon: internal error: core/group_keys.c has no key '%s'\n", setting);
        snprintf(buf, n, "%s", "");
        return buf;
    }
    int len = bm_group_key_name(k, bm_cli_group(o), buf, n);
    if (below && len >= 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, ":%s", below);
    return buf;
}
