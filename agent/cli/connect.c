/*
 * connect.c - how every `busmon` command reaches Redis: the URL chosen
 * (--redis, else $BUSMON_REDIS_URL, else the default), checked, then a
 * synchronous connection. A URL that cannot be one is the person's mistake
 * (exit 2); a Redis that does not answer is not (exit 3).
 */
#include <stdio.h>

#include "agent/cli/cli.h"
#include "agent/core/redis_url.h"

redisContext *bm_cli_connect(const bm_cli_opts *o, int *exit_code)
{
    bm_redis_url u;
    char err[512];
    if (bm_redis_url_parse(bm_redis_url_choose(o->redis_url), &u, err, sizeof err)) {
        fprintf(stderr, "busmon: %s\n", err);
        *exit_code = BM_EXIT_USAGE;
        return NULL;
    }
    redisContext *c = bm_redis_connect_sync(&u, 3000, err, sizeof err);
    if (!c) {
        fprintf(stderr, "busmon: %s\n", err);
        *exit_code = BM_EXIT_REDIS;
    }
    return c;
}
