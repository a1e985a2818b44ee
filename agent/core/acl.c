/*
 * acl.c - the commands busmon sends, the ACL lines that allow them, and the
 * denials Redis answered (acl.h).
 */
#include "agent/core/acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/log.h"

static const struct {
    const char *name, *first, *second, *use;
} commands[BM_ACL__COUNT] = {
    [BM_ACL_XREADGROUP] = {"xreadgroup", "XREADGROUP", NULL, "reads the monitored streams"},
    [BM_ACL_XACK] = {"xack", "XACK", NULL, "acknowledges what it applied"},
    [BM_ACL_XADD] = {"xadd", "XADD", NULL,
                     "writes rollups, health, system samples, alerts and dead-letters"},
    [BM_ACL_XGROUP_CREATE] = {"xgroup|create", "XGROUP", "CREATE", "creates its consumer group"},
    [BM_ACL_XPENDING] = {"xpending", "XPENDING", NULL, "finds entries a dead consumer left"},
    [BM_ACL_XCLAIM] = {"xclaim", "XCLAIM", NULL, "claims entries a dead consumer left"},
    [BM_ACL_XLEN] = {"xlen", "XLEN", NULL, "measures the streams (system metrics)"},
    [BM_ACL_XINFO_GROUPS] = {"xinfo|groups", "XINFO", "GROUPS",
                             "measures consumer lag (system metrics, /ready, alerts)"},
    [BM_ACL_RPUSH] = {"rpush", "RPUSH", NULL, "stores traces"},
    [BM_ACL_EXPIRE] = {"expire", "EXPIRE", NULL, "lets stored traces expire"},
    [BM_ACL_HSET] = {"hset", "HSET", NULL, "writes the workers and firing-alerts hashes"},
    [BM_ACL_HDEL] = {"hdel", "HDEL", NULL, "removes evicted workers from the workers hash"},
    [BM_ACL_DEL] = {"del", "DEL", NULL, "rewrites the firing-alerts hash"},
    [BM_ACL_MULTI] = {"multi", "MULTI", NULL,
                      "rewrites a hash atomically; hands an entry off with its XACK"},
    [BM_ACL_EXEC] = {"exec", "EXEC", NULL,
                     "rewrites a hash atomically; hands an entry off with its XACK"},
    [BM_ACL_SET] = {"set", "SET", NULL, "writes its state checkpoint"},
    [BM_ACL_GET] = {"get", "GET", NULL, "restores its state checkpoint"},
    [BM_ACL_PUBLISH] = {"publish", "PUBLISH", NULL, "publishes rollups, health and alerts"},
    [BM_ACL_PSUBSCRIBE] = {"psubscribe", "PSUBSCRIBE", NULL, "reads pub/sub events"},
    [BM_ACL_PING] = {"ping", "PING", NULL, "checks Redis and measures its round trip"},
    [BM_ACL_TIME] = {"time", "TIME", NULL,
                     "reads Redis's clock: several agents hand pub/sub over on it"},
    [BM_ACL_INFO] = {"info", "INFO", NULL, "reads Redis's clients and memory (system metrics)"},
    [BM_ACL_CONFIG_GET] = {"config|get", "CONFIG", "GET",
                           "finds Redis's data dir (disk use) and the longest value it takes "
                           "(proto-max-bulk-len: the checkpoint)"},
    [BM_ACL_SELECT] = {"select", "SELECT", NULL, "selects the URL's database"},
    [BM_ACL_EVAL] =
        {"eval", "EVAL", NULL,
         "takes and renews the leader's lease (its script sends GET, SET PX, PEXPIRE, "
         "DEL); reads its pending entries and claims a dead consumer's measured in "
         "Redis (XREADGROUP, XPENDING, XCLAIM); takes a sampled-out marker out of "
         "a stored trace that failed later (LINDEX, LPOP); moves a gone agent's hand-offs "
         "(HGET, XRANGE, XADD, XDEL, DEL); hands entries on only while still its own, when it "
         "may have looked dead (XPENDING, XADD, XACK); claims only while the owner's checkpoint "
         "is the one read, marking the claim (GETRANGE, XCLAIM, SET PX); writes its checkpoint "
         "only while no claim marked it since its check (GET, SET PX)"},
    [BM_ACL_PEXPIRE] = {"pexpire", "PEXPIRE", NULL, "renews the leader's lease (in EVAL)"},
    [BM_ACL_HGETALL] = {"hgetall", "HGETALL", NULL,
                        "reads the agents' registry, the baselines' control hash and a merge-mode "
                        "workers or firing-alerts hash (the records no longer held)"},
    [BM_ACL_HGET] = {"hget", "HGET", NULL,
                     "checks a gone agent is still gone before moving its hand-offs (in EVAL)"},
    [BM_ACL_XRANGE] = {"xrange", "XRANGE", NULL, "reads a gone agent's hand-off stream"},
    [BM_ACL_XDEL] = {"xdel", "XDEL", NULL,
                     "deletes a gone agent's hand-offs as it moves them (in EVAL)"},
    [BM_ACL_ZADD] = {"zadd", "ZADD", NULL, "indexes transactions for trace search"},
    [BM_ACL_ZREMRANGEBYSCORE] = {"zremrangebyscore", "ZREMRANGEBYSCORE", NULL,
                                 "drops index entries older than the trace retention"},
    [BM_ACL_ZREMRANGEBYRANK] = {"zremrangebyrank", "ZREMRANGEBYRANK", NULL,
                                "keeps the trace search index under its cap"},
    [BM_ACL_LINDEX] = {"lindex", "LINDEX", NULL,
                       "finds a sampled-out marker ahead of a later failure (in EVAL)"},
    [BM_ACL_LPOP] = {"lpop", "LPOP", NULL,
                     "takes that marker out, so the failure is read (in EVAL)"},
    [BM_ACL_LRANGE] = {"lrange", "LRANGE", NULL,
                       "several agents: reads a stored trace before it calls a timeout (the "
                       "answer may have gone to another owner)"},
    [BM_ACL_GETRANGE] = {"getrange", "GETRANGE", NULL,
                         "claims a dead consumer's entries only while its checkpoint is the one "
                         "read (in EVAL)"},
};

const char *const bm_acl_cli_commands[] = {
    "xrevrange", "lrange",           "llen", "hget", "hgetall", "xinfo|groups", "subscribe", "ping",
    "select",    "zrevrangebyscore", "mget", "xlen", "xrange",  NULL,
};

const char *bm_acl_command_name(bm_acl_command c)
{
    return (unsigned)c < BM_ACL__COUNT ? commands[c].name : "?";
}

const char *bm_acl_command_use(bm_acl_command c)
{
    return (unsigned)c < BM_ACL__COUNT ? commands[c].use : "?";
}

bm_acl_command bm_acl_command_of(const char *first, const char *second)
{
    for (int i = 0; first && i < BM_ACL__COUNT; i++) {
        if (strcasecmp(first, commands[i].first)) continue;
        if (!commands[i].second || (second && !strcasecmp(second, commands[i].second)))
            return (bm_acl_command)i;
    }
    return BM_ACL__COUNT;
}

/* Append printf-style to buf at *at (len bytes); *at counts what would be written. */
static void put(char *buf, size_t len, size_t *at, const char *fmt, const char *s)
{
    int n = snprintf(*at < len ? buf + *at : NULL, *at < len ? len - *at : 0, fmt, s);
    if (n > 0) *at += (size_t)n;
}

size_t bm_acl_format(char *buf, size_t len, const char *user, const char *const *keys,
                     size_t n_keys, const char *const *channels, size_t n_channels,
                     int readonly)
{
    size_t at = 0;
    if (len) buf[0] = '\0';
    put(buf, len, &at, "ACL SETUSER %s on >PASSWORD resetkeys", user && *user ? user : "busmon");
    for (size_t i = 0; i < n_keys; i++)
        put(buf, len, &at, readonly ? " %%R~%s" : " ~%s", keys[i]);
    put(buf, len, &at, "%s", " resetchannels");
    for (size_t i = 0; i < n_channels; i++)
        put(buf, len, &at, " &%s", channels[i]);
    put(buf, len, &at, "%s", " -@all");
    if (readonly)
        for (const char *const *c = bm_acl_cli_commands; *c; c++)
            put(buf, len, &at, " +%s", *c);
    else
        for (int i = 0; i < BM_ACL__COUNT; i++)
            put(buf, len, &at, " +%s", commands[i].name);
    return at;
}

/* ---- denials -------------------------------------------------------------------------- */

#define KINDS 3

struct bm_acl {
    char *user;
    char *line;
    uint64_t denied[BM_ACL__COUNT];
    unsigned char told[BM_ACL__COUNT][KINDS];
    char first_error[BM_ACL__COUNT][160];
};

bm_acl *bm_acl_new(const char *user, const char *line)
{
    bm_acl *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->user = strdup(user && *user ? user : "default");
    a->line = line ? strdup(line) : NULL;
    if (!a->user || (line && !a->line)) {
        bm_acl_free(a);
        return NULL;
    }
    return a;
}

void bm_acl_free(bm_acl *a)
{
    if (!a) return;
    free(a->user);
    free(a->line);
    free(a);
}

int bm_acl_is_denial(const char *error)
{
    return error && !strncmp(error, "NOPERM", 6);
}

static bm_acl_denial kind_of(const char *error)
{
    if (strcasestr(error, "channel")) return BM_ACL_DENIED_CHANNEL;
    if (strcasestr(error, "key")) return BM_ACL_DENIED_KEY;
    return BM_ACL_DENIED_COMMAND;
}

/* The words of the configuration's line that grant keys (~, %R~) or channels (&). */
static void grants(const bm_acl *a, int channels, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    const char *p = a->line;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        int key = p[0] == '~' || !strncmp(p, "%R~", 3) || !strncmp(p, "%W~", 3);
        if (n && (channels ? p[0] == '&' : key))
            at += (size_t)snprintf(buf + at, at < len ? len - at : 0, " %.*s", (int)n, p);
        if (at >= len) break;
        p += n;
        while (*p == ' ')
            p++;
    }
    if (!buf[0]) snprintf(buf, len, " %s", channels ? "&busmon:*" : "~busmon:*");
}

/* "ACL SETUSER <user> +publish" (or the keys / channels of the line) into buf. */
static void fix_of(const bm_acl *a, bm_acl_command c, bm_acl_denial k, char *buf, size_t len)
{
    char g[512];
    if (k == BM_ACL_DENIED_COMMAND) {
        snprintf(buf, len, "ACL SETUSER %s +%s", a->user, commands[c].name);
        return;
    }
    grants(a, k == BM_ACL_DENIED_CHANNEL, g, sizeof g);
    snprintf(buf, len, "ACL SETUSER %s%s", a->user, g);
}

void bm_acl_denied(bm_acl *a, bm_acl_command c, const char *error)
{
    if (!a || (unsigned)c >= BM_ACL__COUNT) return;
    if (!error) error = "NOPERM";
    a->denied[c]++;
    bm_acl_denial k = kind_of(error);
    if (!a->first_error[c][0]) snprintf(a->first_error[c], sizeof a->first_error[c], "%s", error);
    if (a->told[c][k]) return;
    a->told[c][k] = 1;
    char fix[640];
    fix_of(a, c, k, fix, sizeof fix);
    static const char *const what[KINDS] = {"the command", "a key of", "a channel of"};
    bm_warn("redis denies %s %s to user %s (%s): busmon %s, and goes on without it; to allow "
            "it: %s (busmon-agent --print-acl prints the whole line); said once",
            what[k], commands[c].name, a->user, error, commands[c].use, fix);
}

void bm_acl_counts(const bm_acl *a, uint64_t *out)
{
    for (int i = 0; i < BM_ACL__COUNT; i++)
        out[i] = a ? a->denied[i] : 0;
}

size_t bm_acl_reasons(const bm_acl *a, char (*lines)[256], size_t max)
{
    size_t n = 0;
    for (int i = 0; a && i < BM_ACL__COUNT && n < max; i++) {
        if (!a->denied[i]) continue;
        char fix[640];
        fix_of(a, (bm_acl_command)i, kind_of(a->first_error[i]), fix, sizeof fix);
        snprintf(lines[n++], 256, "redis denies %s (%.80s): %.120s", commands[i].name,
                 a->first_error[i], fix);
    }
    return n;
}
