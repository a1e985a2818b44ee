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
    char password[256];  /* never logged: display shows *** */
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

/* The URL to use: `flag` when given, else $BUSMON_REDIS_URL, else the default. Borrowed. */
const char *bm_redis_url_choose(const char *flag);

/* Where the password in a bm_redis_url came from. */
typedef enum {
    BM_REDIS_PASSWORD_NONE = 0,
    BM_REDIS_PASSWORD_URL,  /* the URL's user info */
    BM_REDIS_PASSWORD_FILE, /* --redis-password-file / redis.password_file */
    BM_REDIS_PASSWORD_ENV,  /* $BUSMON_REDIS_PASSWORD */
} bm_redis_password_from;

/* "none", "the URL", "FILE" (as given: the file's name), "BUSMON_REDIS_PASSWORD". */
const char *bm_redis_password_from_name(bm_redis_password_from from);

/*
 * The credentials beside the URL, for every program (agent, CLI, demo
 * producer), so a password never has to be on a command line:
 *
 *   password: `password_file` (its first line, without the line end) when
 *             given, else $BUSMON_REDIS_PASSWORD when set, else the URL's;
 *   username: `username` when given, else the URL's (none: AUTH <password>).
 *
 * $BUSMON_REDIS_PASSWORD is read, then wiped in place (so /proc/PID/environ
 * no longer shows it) and removed from the environment, whether it was used
 * or a file won. u->display is made again (user shown, password as ***).
 * *from (may be NULL) says where the password came from.
 * @return 0, or -1 with one line in err (an unreadable or empty file, a
 * password or name too long).
 */
int bm_redis_url_credentials(bm_redis_url *u, const char *username, const char *password_file,
                             bm_redis_password_from *from, char *err, size_t errlen);

/*
 * Overwrite, in place, the password of a redis:// URL held in `url` (an
 * argv element, or the part of one after "--redis=") with '*', so that ps
 * and /proc/PID/cmdline stop showing it. @return 1 when there was one.
 */
int bm_redis_url_hide_password(char *url);

/* The same over a whole argv (every word holding a redis:// URL with a
 * password). Call it once the URL has been copied. @return how many. */
int bm_argv_hide_passwords(int argc, char **argv);

#endif
