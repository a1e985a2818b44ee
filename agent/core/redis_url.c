/*
 * redis_url.c - parse redis:// and unix:// URLs; connect, authenticate and
 * select a database with one clear error line on any failure.
 */
#include "agent/core/redis_url.h"

#include "agent/core/secret_file.h"
#include "lib/redact.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bm_redis_url_choose(const char *flag)
{
    if (flag && *flag) return flag;
    const char *env = getenv("BUSMON_REDIS_URL");
    if (env && *env) return env;
    return BM_DEFAULT_REDIS_URL;
}

/* Copy [s, s+n) into dst (cap bytes). @return -1 when it does not fit. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    if (n == 0 || n > 9) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decode s in place, as URLs carry user info (RFC 3986: "%2F" for
 * '/', "%40" for '@'; redis-cli -u reads it so). A '%' not followed by two
 * hex digits stays as it is. @return -1 for "%00" (no NUL in a C string). */
static int percent_decode(char *s)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        int hi = in[0] == '%' ? hex_digit(in[1]) : -1;
        int lo = hi >= 0 ? hex_digit(in[2]) : -1;
        if (lo < 0) {
            *out++ = *in;
            continue;
        }
        if (!hi && !lo) return -1;
        *out++ = (char)(hi * 16 + lo);
        in += 2;
    }
    *out = '\0';
    return 0;
}

/* u->display: the URL with the password as *** (safe to log). */
static void make_display(bm_redis_url *u)
{
    char who[160] = "";
    if (u->user[0] || u->password[0])
        snprintf(who, sizeof who, "%s%s%s@", u->user, u->user[0] ? ":" : "",
                 u->password[0] ? "***" : "");
    if (u->path[0]) {
        snprintf(u->display, sizeof u->display, "unix://%s%s%s", who, u->path,
                 u->db ? "?db=" : "");
        if (u->db) {
            size_t n = strlen(u->display);
            snprintf(u->display + n, sizeof u->display - n, "%d", u->db);
        }
    } else if (strchr(u->host, ':')) {
        snprintf(u->display, sizeof u->display, "redis://%s[%s]:%d/%d", who, u->host, u->port,
                 u->db);
    } else {
        snprintf(u->display, sizeof u->display, "redis://%s%s:%d/%d", who, u->host, u->port,
                 u->db);
    }
}

static int parse(const char *url, bm_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url) {
        snprintf(err, errlen, "empty Redis URL");
        return -1;
    }
    if (!strncmp(url, "rediss://", 9)) {
        snprintf(err, errlen, "TLS (rediss://) is not supported: this hiredis has no TLS; use redis:// or unix://");
        return -1;
    }
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/' || copy_part(out->path, sizeof out->path, p, n)) {
            snprintf(err, errlen, "bad Redis URL '%s': expected unix:///absolute/path.sock", url);
            return -1;
        }
        if (q) {
            if (strncmp(q, "?db=", 4) || parse_int(q + 4, strlen(q + 4), 0, 100000, &out->db)) {
                snprintf(err, errlen, "bad Redis URL '%s': the only option is ?db=N", url);
                return -1;
            }
        }
        make_display(out);
        return 0;
    }
    const char *p = url;
    if (!strncmp(p, "redis://", 8)) p += 8;
    else if (strstr(p, "://")) {
        snprintf(err, errlen, "bad Redis URL '%s': scheme must be redis:// or unix://", url);
        return -1;
    }
    /* userinfo */
    const char *at = strrchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (copy_part(out->user, sizeof out->user, p, (size_t)(colon - p)) ||
                copy_part(out->password, sizeof out->password, colon + 1, (size_t)(at - colon - 1))) {
                snprintf(err, errlen, "bad Redis URL: user or password too long");
                return -1;
            }
        } else if (copy_part(out->password, sizeof out->password, p, (size_t)(at - p))) {
            snprintf(err, errlen, "bad Redis URL: password too long");
            return -1;
        }
        if (percent_decode(out->user) || percent_decode(out->password)) {
            snprintf(err, errlen, "bad Redis URL: %%00 in the user or password");
            return -1;
        }
        p = at + 1;
    }
    slash = strchr(p, '/');
    size_t hostport_len = slash ? (size_t)(slash - p) : strlen(p);
    const char *hp = p;
    const char *port_s = NULL;
    size_t host_len;
    if (hostport_len > 0 && hp[0] == '[') {
        const char *rb = memchr(hp, ']', hostport_len);
        if (!rb) goto bad;
        host_len = (size_t)(rb - hp - 1);
        if (copy_part(out->host, sizeof out->host, hp + 1, host_len)) goto bad;
        if (rb + 1 < hp + hostport_len) {
            if (rb[1] != ':') goto bad;
            port_s = rb + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', hostport_len);
        host_len = colon ? (size_t)(colon - hp) : hostport_len;
        if (copy_part(out->host, sizeof out->host, hp, host_len)) goto bad;
        if (colon) port_s = colon + 1;
    }
    if (!out->host[0]) goto bad;
    if (port_s) {
        size_t n = (size_t)(hp + hostport_len - port_s);
        if (parse_int(port_s, n, 1, 65535, &out->port)) {
            snprintf(err, errlen, "bad Redis URL '%s': port must be 1-65535", url);
            return -1;
        }
    }
    if (slash && slash[1]) {
        if (parse_int(slash + 1, strlen(slash + 1), 0, 100000, &out->db)) {
            snprintf(err, errlen, "bad Redis URL '%s': database must be a number after '/'", url);
            return -1;
        }
    }
    if (strchr(out->host, '?')) goto bad;
    make_display(out);
    return 0;
bad:
    snprintf(err, errlen, "bad Redis URL '%s': expected redis://host:port[/db] or unix:///path", url);
    return -1;
}

redisContext *bm_redis_connect_sync(const bm_redis_url *u, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = u->path[0] ? redisConnectUnixWithTimeout(u->path, tv)
                                 : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errlen, "cannot connect to Redis at %s: out of memory", u->display);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", u->display, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *r;
    if (u->password[0]) {
        r = u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
                       : redisCommand(c, "AUTH %s", u->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis at %s refused authentication: %s", u->display,
                     r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (u->db) {
        r = redisCommand(c, "SELECT %d", u->db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis at %s: cannot select database %d: %s", u->display, u->db,
                     r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    r = redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis at %s does not answer PING: %s", u->display, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

int bm_redis_url_parse(const char *url, bm_redis_url *out, char *err, size_t errlen)
{
    int rc = parse(url, out, err, errlen);
    if (rc && errlen) { /* the error quotes the URL: never its password */
        char clean[1024];
        bm_redact(err, strnlen(err, errlen), clean, sizeof clean);
        snprintf(err, errlen, "%s", clean);
    }
    return rc;
}

/* ---- credentials beside the URL --------------------------------------------- */

#define PASSWORD_ENV "BUSMON_REDIS_PASSWORD"

const char *bm_redis_password_from_name(bm_redis_password_from from)
{
    switch (from) {
    case BM_REDIS_PASSWORD_URL: return "the URL";
    case BM_REDIS_PASSWORD_FILE: return "a file";
    case BM_REDIS_PASSWORD_ENV: return PASSWORD_ENV;
    default: return "none";
    }
}

int bm_redis_url_credentials(bm_redis_url *u, const char *username, const char *password_file,
                             bm_redis_password_from *from, char *err, size_t errlen)
{
    bm_redis_password_from got = u->password[0] ? BM_REDIS_PASSWORD_URL : BM_REDIS_PASSWORD_NONE;
    char *env = getenv(PASSWORD_ENV);
    char env_pw[sizeof u->password] = "";
    int env_long = 0;
    if (env) {
        size_t n = strlen(env);
        env_long = n >= sizeof env_pw;
        if (!env_long) memcpy(env_pw, env, n + 1);
        memset(env, 0, n); /* the value wiped where /proc/PID/environ reads it */
        unsetenv(PASSWORD_ENV);
    }
    int rc = 0;
    if (password_file && *password_file) {
        rc = bm_secret_file_read(password_file, "the Redis password", u->password,
                                 sizeof u->password, err, errlen);
        got = BM_REDIS_PASSWORD_FILE;
    } else if (env_long) {
        snprintf(err, errlen, "%s is longer than %zu bytes", PASSWORD_ENV, sizeof env_pw - 1);
        rc = -1;
    } else if (env_pw[0]) {
        memcpy(u->password, env_pw, sizeof u->password);
        got = BM_REDIS_PASSWORD_ENV;
    }
    memset(env_pw, 0, sizeof env_pw);
    if (!rc && username && *username) {
        if (strlen(username) >= sizeof u->user) {
            snprintf(err, errlen, "the Redis username is longer than %zu bytes",
                     sizeof u->user - 1);
            rc = -1;
        } else {
            snprintf(u->user, sizeof u->user, "%s", username);
        }
    }
    if (!rc) make_display(u);
    if (from) *from = rc ? BM_REDIS_PASSWORD_NONE : got;
    return rc;
}

int bm_redis_url_hide_password(char *url)
{
    if (!url || strncmp(url, "redis://", 8)) return 0;
    char *p = url + 8, *slash = strchr(p, '/'), *at = strrchr(p, '@');
    if (!at || (slash && at > slash)) return 0;
    char *colon = memchr(p, ':', (size_t)(at - p));
    char *pw = colon ? colon + 1 : p; /* "redis://pw@host": all of the user info */
    if (pw == at) return 0;
    memset(pw, '*', (size_t)(at - pw));
    return 1;
}

int bm_argv_hide_passwords(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        char *u = strstr(argv[i], "redis://");
        if (u) n += bm_redis_url_hide_password(u);
    }
    return n;
}
