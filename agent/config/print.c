/*
 * print.c - `busmon-agent --print-config`: the settings in effect, after
 * the defaults, the config file, the environment and the flags, written as
 * a config file busmon-agent reads back to the same settings. Each key the
 * user did not change is marked "# default"; a password in redis.url, or
 * the user:password@ of any other URL (otlp.endpoint), is left out, said in
 * a comment.
 *
 * Written from the key table (keys.c), so a new key is printed with no
 * change here. Not here: the alert rules and sinks (YAML-only rows: their
 * count is said, `--check-config` lists them), guide keys, actions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/alerting.h"
#include "agent/config/keys.h"
#include "agent/core/redis_url.h"

#define VALUE_MAX 4096

/* Is row k a setting with a value of its own to print? */
static int printable(const bm_config_key *k)
{
    if (!k->path || !strchr(k->path, '.') || k->alias_of) return 0;
    if (k->flags & (BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL)) return 0;
    return k->type != BM_KEY_ACTION && k->type != BM_KEY_GUIDE && k->type != BM_KEY_SECTION &&
           k->type != BM_KEY_YAML;
}

static int by_path(const void *x, const void *y)
{
    const bm_config_key *a = *(const bm_config_key *const *)x,
                        *b = *(const bm_config_key *const *)y;
    return strcmp(a->path, b->path);
}

/* Can s be written as a plain YAML scalar, read back as the same text? */
static int plain(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
        return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/+-", *s))
            return 0;
    return s[-1] != ':'; /* "prefix:" then a space would be a mapping */
}

/* s as a YAML scalar: plain when it can be, else double-quoted. */
static void put_quoted(FILE *f, const char *s)
{
    if (plain(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* redis.url without a password in it: the URL as written when it holds
 * none, else rebuilt from its parts without credentials. @return 1 when
 * credentials were left out. */
static int url_without_password(const char *url, char *buf, size_t n)
{
    bm_redis_url u;
    char err[256];
    if (bm_redis_url_parse(url, &u, err, sizeof err) || !u.password[0]) {
        snprintf(buf, n, "%s", url);
        return 0;
    }
    if (u.path[0])
        snprintf(buf, n, "unix://%s?db=%d", u.path, u.db);
    else
        snprintf(buf, n, "redis://%s%s%s:%d/%d", strchr(u.host, ':') ? "[" : "", u.host,
                 strchr(u.host, ':') ? "]" : "", u.port, u.db);
    return 1;
}

/* Any other URL ("https://user:secret@collector:4318"): its user:password@
 * left out. @return 1 when it was. */
static int url_without_userinfo(char *value)
{
    char *scheme = strstr(value, "://");
    if (!scheme) return 0;
    char *host = scheme + 3, *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (!at || (slash && slash < at) || !memchr(host, ':', (size_t)(at - host))) return 0;
    memmove(host, at + 1, strlen(at + 1) + 1);
    return 1;
}

/* Print the section headers of `path` that `prev` did not open, indented;
 * @return the depth of the key (its indentation level). */
static size_t open_sections(FILE *f, const char *prev, const char *path)
{
    size_t common = 0, depth = 0; /* sections shared with prev, by whole names */
    for (size_t i = 0; prev && prev[i] && prev[i] == path[i]; i++)
        if (path[i] == '.') common = i + 1;
    for (const char *p = path; (p = strchr(p, '.')); p++) {
        size_t end = (size_t)(p - path);
        if (end >= common) {
            const char *start = path;
            for (const char *q = path; q < p; q++)
                if (*q == '.') start = q + 1;
            fprintf(f, "%*s%.*s:\n", (int)(2 * depth), "", (int)(p - start), start);
        }
        depth++;
    }
    return depth;
}

int bm_config_print(FILE *f, const bm_config *c)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    const bm_config_key **rows = calloc(n, sizeof *rows);
    bm_config *d = calloc(1, sizeof *d); /* the defaults, to mark what was not changed */
    char *value = malloc(VALUE_MAX), *def = malloc(VALUE_MAX), err[256];
    if (!rows || !d || !value || !def || bm_config_init(d) ||
        bm_config_finish(d, err, sizeof err)) {
        free(rows);
        if (d) bm_config_deinit(d);
        free(d);
        free(value);
        free(def);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (printable(&keys[i])) rows[m++] = &keys[i];
    qsort(rows, m, sizeof *rows, by_path);
    fprintf(f, "# busmon-agent --print-config: the settings in effect (defaults, the config file,\n"
               "# the environment, the flags); busmon-agent --config FILE reads it back\n");
    const char *prev = NULL;
    for (size_t i = 0; i < m; i++) {
        const bm_config_key *k = rows[i];
        if (bm_config_get(c, k->path, value, VALUE_MAX) != 0) continue;
        const char *last = strrchr(k->path, '.') + 1;
        size_t depth = open_sections(f, prev, k->path);
        prev = k->path;
        int hidden = 0;
        if (!strcmp(k->path, "redis.url") && value[0]) {
            char bare[VALUE_MAX];
            hidden = url_without_password(value, bare, sizeof bare);
            snprintf(value, VALUE_MAX, "%s", bare);
        } else {
            hidden = url_without_userinfo(value);
        }
        int is_default = bm_config_get(d, k->path, def, VALUE_MAX) == 0 && !strcmp(def, value);
        if (!value[0]) { /* no value: unset (a file, a token), left to its default */
            fprintf(f, "%*s# %s: (not set)\n", (int)(2 * depth), "", last);
            continue;
        }
        fprintf(f, "%*s%s: ", (int)(2 * depth), "", last);
        put_quoted(f, value);
        fprintf(f, "%s\n",
                hidden && !strcmp(k->path, "redis.url")
                    ? "   # its password left out: give it with redis.password_file"
                : hidden     ? "   # its user:password@ left out"
                : is_default ? "   # default"
                             : "");
    }
    const bm_alert_config *ac = c->alerting ? &c->alerting->rules : NULL;
    if (ac)
        fprintf(f,
                "# alerts: %zu rule(s) and %zu sink(s), not written here "
                "(busmon-agent --check-config lists them)\n",
                ac->n_rules, c->alerting->n_sinks);
    free(rows);
    bm_config_deinit(d);
    free(d);
    free(value);
    free(def);
    return ferror(f) ? -1 : 0;
}
