/*
 * usage.c - busmon-agent --help, made from the key table (keys.h): the
 * flags by group, in table order, each with its help, bounds and default,
 * and the config key and environment variables that set the same value.
 */
#include <stdio.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/keys.h"
#include "agent/core/parse.h"

#define WIDTH  79
#define INDENT 24
#define NBSP   '\x1f' /* a space wrap() does not break at */

/* Words of text from column `col` (the cursor's), wrapped at WIDTH with INDENT. */
static void wrap(FILE *f, size_t col, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, " ");
        if (col > INDENT && col + 1 + len > WIDTH) {
            fprintf(f, "\n%*s", INDENT, "");
            col = INDENT;
        } else if (col > INDENT) {
            fputc(' ', f);
            col++;
        }
        for (size_t i = 0; i < len; i++)
            fputc(p[i] == NBSP ? ' ' : p[i], f);
        col += len;
        p += len;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

/* "(1-100000, default 1000)", or "" when there is nothing to say. */
static void bounds_and_default(const bm_config_key *k, char *buf, size_t len)
{
    char range[64] = "", lo[24], hi[24];
    if (k->type == BM_KEY_DURATION && k->hi > 0)
        snprintf(range, sizeof range, "%s-%s", bm_format_duration_us((int64_t)k->lo, lo, sizeof lo),
                 bm_format_duration_us((int64_t)k->hi, hi, sizeof hi));
    else if ((k->type == BM_KEY_SIZE || k->type == BM_KEY_COUNT) && k->hi > 0)
        snprintf(range, sizeof range, "%.0f-%.0f", k->lo, k->hi);
    const char *def = k->def && k->type != BM_KEY_ACTION ? k->def : NULL;
    if (k->type == BM_KEY_STREAMS || k->type == BM_KEY_PATTERNS)
        snprintf(buf, len, "(repeatable%s%s)", def ? ", default\x1f" : "", def ? def : "");
    else if (*range || def)
        snprintf(buf, len, "(%s%s%s%s)", range, *range && def ? ", " : "", def ? "default\x1f" : "",
                 def ? def : "");
    else
        buf[0] = '\0';
}

static void flag_entry(FILE *f, const bm_config_key *k)
{
    char left[64], text[768], extra[96], env[128];
    if (k->short_flag)
        snprintf(left, sizeof left, "  -%c, --%s", k->short_flag, k->flag);
    else
        snprintf(left, sizeof left, "  --%s%s%s", k->flag, k->metavar ? " " : "",
                 k->metavar ? k->metavar : "");
    bounds_and_default(k, extra, sizeof extra);
    snprintf(text, sizeof text, "%s%s%s", k->help, *extra ? " " : "", extra);
    size_t col = strlen(left);
    fputs(left, f);
    if (col >= INDENT) {
        fprintf(f, "\n%*s", INDENT, "");
    } else {
        fprintf(f, "%*s", (int)(INDENT - col), "");
    }
    /* the first word goes at INDENT either way: start as if one column before it */
    wrap(f, INDENT - 1, text);
    int has_env = !bm_config_key_env(k, env, sizeof env);
    int in_file = !(k->flags & BM_KEY_F_NO_YAML);
    if (!has_env && !in_file) return;
    char where[256];
    snprintf(where, sizeof where, "%s%s%s%s%s%s%s", in_file ? "config\x1f" : "",
             in_file ? k->path : "", in_file && has_env ? "; " : "", has_env ? "env\x1f" : "",
             has_env ? env : "", has_env && k->env_alias ? " or " : "",
             has_env && k->env_alias ? k->env_alias : "");
    fprintf(f, "%*s", INDENT, "");
    wrap(f, INDENT - 1, where);
}

void bm_config_usage(FILE *f)
{
    fputs("usage: busmon-agent [OPTIONS]\n"
          "\n"
          "Read multi-agent events from Redis Streams through a consumer group, rebuild\n"
          "every transaction's trace and store it in Redis (busmon:trace:<tx>) for the\n"
          "`busmon` CLI. Entries that cannot be used go to busmon:deadletter.\n"
          "\n"
          "Each setting comes from, lowest to highest: its default, the config file\n"
          "(--config), the environment, a flag. Every config key has an environment\n"
          "variable named after it: BUSMON_ and the key in capitals, '.' as '_'\n"
          "(streams.batch: BUSMON_STREAMS_BATCH); deploy/busmon.yaml shows every key.\n",
          f);
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    const char *done[16];
    size_t n_done = 0;
    for (size_t i = 0; i < n; i++) {
        const char *group = keys[i].flag ? keys[i].group : NULL;
        int seen = !group;
        for (size_t j = 0; j < n_done && !seen; j++)
            seen = !strcmp(done[j], group);
        if (seen || n_done == sizeof done / sizeof *done) continue;
        done[n_done++] = group;
        fprintf(f, "\n%s:\n", group);
        for (size_t j = i; j < n; j++)
            if (keys[j].flag && !strcmp(keys[j].group, group)) flag_entry(f, &keys[j]);
    }
    fputs("\n"
          "--check-config exits 0 when the configuration is good (2 when not; 3 when Redis\n"
          "is unreachable, unless --offline). SIGINT / SIGTERM: stop reading, flush trace\n"
          "writes and acks, exit 0.\n",
          f);
}
