/*
 * acl.h - least privilege in Redis: the commands busmon sends (one table,
 * the source of the documented ACL line), the ACL SETUSER lines that grant
 * exactly those on a configuration's keys and channels, and what Redis
 * denied at run time.
 *
 *   the table ──▶ bm_acl_format ──▶ "ACL SETUSER busmon on >PASSWORD resetkeys
 *                                    ~busmon:* ~<streams> resetchannels &busmon:*
 *                                    &<patterns> -@all +xreadgroup +xack ..."
 *   a NOPERM reply ──▶ bm_acl_denied ──▶ counted by command, logged once per
 *                       command and kind with the line that fixes it, shown
 *                       on /ready (bm_acl_reasons) and /metrics
 *
 * Which command is which: writer.c, inputs/streams.c (XREADGROUP),
 * inputs/pubsub.c (PSUBSCRIBE), conn.c and redis_url.c (AUTH, SELECT,
 * PING). A command added there must be a row here, or a user made from the
 * documented line is denied it (tests/integration/test_acl.sh runs every
 * feature under exactly that line).
 */
#ifndef BM_CORE_ACL_H
#define BM_CORE_ACL_H

#include <stddef.h>
#include <stdint.h>

/* The agent's commands, as ACL names ("xgroup|create": a subcommand). */
typedef enum {
    BM_ACL_XREADGROUP = 0,
    BM_ACL_XACK,
    BM_ACL_XADD,
    BM_ACL_XGROUP_CREATE,
    BM_ACL_XPENDING,
    BM_ACL_XCLAIM,
    BM_ACL_XLEN,
    BM_ACL_XINFO_GROUPS,
    BM_ACL_RPUSH,
    BM_ACL_EXPIRE,
    BM_ACL_HSET,
    BM_ACL_HDEL,
    BM_ACL_DEL,
    BM_ACL_MULTI,
    BM_ACL_EXEC,
    BM_ACL_SET,
    BM_ACL_GET,
    BM_ACL_PUBLISH,
    BM_ACL_PSUBSCRIBE,
    BM_ACL_PING,
    BM_ACL_TIME,
    BM_ACL_INFO,
    BM_ACL_CONFIG_GET,
    BM_ACL_SELECT,
    BM_ACL_EVAL,
    BM_ACL_PEXPIRE,
    BM_ACL_HGETALL,
    BM_ACL_HGET,
    BM_ACL_XRANGE,
    BM_ACL_XDEL,
    BM_ACL_ZADD,
    BM_ACL_ZREMRANGEBYSCORE,
    BM_ACL_ZREMRANGEBYRANK,
    BM_ACL_LINDEX,
    BM_ACL_LPOP,
    BM_ACL_LRANGE,
    BM_ACL_GETRANGE,
    BM_ACL__COUNT
} bm_acl_command;

/* "xreadgroup", "xgroup|create", ... */
const char *bm_acl_command_name(bm_acl_command c);
/* What busmon uses it for, in a few words ("reads the streams"). */
const char *bm_acl_command_use(bm_acl_command c);
/* The command of a request's first words ("XGROUP", "CREATE"; second may be
 * NULL). @return it, or BM_ACL__COUNT when it is none of busmon's. */
bm_acl_command bm_acl_command_of(const char *first, const char *second);

/* The read-only commands of the `busmon` CLI, as ACL names, NULL-terminated. */
extern const char *const bm_acl_cli_commands[];

/*
 * One ACL SETUSER line into buf: `user` on with password placeholder
 * ">PASSWORD", `keys` (patterns, granted read-write, or read-only with
 * `readonly`: %R~), `channels` (&), then -@all and the commands: the
 * agent's table, or bm_acl_cli_commands with `readonly`.
 * @return the length (as snprintf: >= len means cut).
 */
size_t bm_acl_format(char *buf, size_t len, const char *user, const char *const *keys,
                     size_t n_keys, const char *const *channels, size_t n_channels,
                     int readonly);

/* ---- denials at run time ------------------------------------------------------------ */

typedef struct bm_acl bm_acl;

/* What a NOPERM was about. */
typedef enum { BM_ACL_DENIED_COMMAND, BM_ACL_DENIED_KEY, BM_ACL_DENIED_CHANNEL } bm_acl_denial;

/*
 * `user` (NULL: "default") and `line` (the configuration's own ACL line,
 * bm_acl_format; NULL: none) are copied. @return the tracker, or NULL.
 */
bm_acl *bm_acl_new(const char *user, const char *line);
void bm_acl_free(bm_acl *a);

/* Is this error reply a denial (it starts with "NOPERM")? */
int bm_acl_is_denial(const char *error);

/*
 * Redis answered command c with `error` (a NOPERM reply): count it; the
 * first of each command and kind is logged (a warning) with what busmon
 * loses and the ACL SETUSER words that fix it. NULL a is a no-op.
 */
void bm_acl_denied(bm_acl *a, bm_acl_command c, const char *error);

/* Denials of each command since start (a[BM_ACL__COUNT]); zeros when a is NULL. */
void bm_acl_counts(const bm_acl *a, uint64_t *out);

/* One line per command denied so far ("redis denies publish (NOPERM ...): ACL
 * SETUSER busmon +publish"), for /ready. @return how many were written (at
 * most max; lines cut to line_len). */
size_t bm_acl_reasons(const bm_acl *a, char (*lines)[256], size_t max);

#endif
