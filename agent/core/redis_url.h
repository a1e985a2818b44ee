/*
 * redis_url.h - where Redis is: parse a URL and open a (sync) connection.
 *
 * Accepted: redis://[[user]:password@]host[:port][/db], redis://[::1]:6379,
 * unix:///path/to/redis.sock[?db=N], or a bare host[:port]. No TLS: Debian's
 * hiredis 0.14 has none, so rediss:// is refused with that reason.
 * Shared by busmon-agent and the busmon CLI, which both read --redis and
 * BUSMON_REDIS_URL so a person and a script find the same Redis the same way.
 */
#ifndef BM_AGENT_REDIS_URL_H
#define BM_AGENT_REDIS_URL_H

#include <hiredis/hiredis.h>

#define BM_DEFAULT_REDIS_URL "redis://127.0.0.1:6379"

typedef struct {
    char host[256];      /* empty for unix sockets */
    int port;
    char path[256];      /* unix socket path, empty for TCP */
    char user[128];
    char password[256];
    int db;
    char display[600];   /* the URL with any password shown as *** (safe to log) */
} bm_redis_url;

/*
 * Parse `url`. @return 0, or -1 with a one-line reason in err (errlen bytes).
 */
int bm_redis_url_parse(const char *url, bm_redis_url *out, char *err, size_t errlen);

/*
 * Connect synchronously (timeout in ms), AUTH and SELECT as the URL says,
 * then PING. @return a context (caller frees with redisFree) or NULL with a
 * one-line reason in err.
 */
redisContext *bm_redis_connect_sync(const bm_redis_url *u, int timeout_ms, char *err,
                                    size_t errlen);

/*
 * Create `group` on each stream (XGROUP CREATE ... 0 MKSTREAM; an existing
 * group is fine), on a sync connection: the agent's start-up check.
 * @return 0, or -1 with one line in err.
 */
int bm_redis_ensure_groups(redisContext *c, const char *const *streams, size_t n,
                           const char *group, char *err, size_t errlen);

/* The URL to use: `flag` when given, else $BUSMON_REDIS_URL, else the default. Borrowed. */
const char *bm_redis_url_choose(const char *flag);

#endif
