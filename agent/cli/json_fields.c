/*
 * json_fields.c - a field of what busmon-agent published (rollups, worker
 * entries, alert records), read for printing: absent or mistyped fields
 * print as 0 or "-" instead of failing; text for a terminal (bm_cli_safe_text).
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "lib/trace_json.h"
#include "proto/rollup.h"

double bm_cli_num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *bm_cli_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

size_t bm_cli_terminal_text(char *buf, size_t n, const char *s)
{
    size_t used, len = bm_text_for_terminal_part(buf, n, s, &used), total = s ? strlen(s) : 0;
    if (used == total || n <= BM_CLI_CUT_MARK_MAX) return len;
    /* cut again, leaving room for the mark: at a character or an escape, never in one */
    len = bm_text_for_terminal_part(buf, n - BM_CLI_CUT_MARK_MAX, s, &used);
    int w = snprintf(buf + len, n - len, BM_CLI_CUT_MARK, total - used);
    return len + (w > 0 ? (size_t)w : 0);
}

const char *bm_cli_safe_text(bm_cli_safe *b, const char *s)
{
    char *slot = b->slot[b->next++ % BM_CLI_SAFE_SLOTS];
    bm_cli_terminal_text(slot, BM_CLI_SAFE_BYTES, s);
    return slot;
}

const char *bm_cli_safe_str(bm_cli_safe *b, json_t *o, const char *k)
{
    return bm_cli_safe_text(b, bm_cli_str(o, k));
}

int bm_cli_append_whole(char *buf, size_t n, size_t *len, size_t spare, const char *fmt, ...)
{
    if (*len + spare >= n) return 0;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *len, n - spare - *len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= n - spare - *len) {
        buf[*len] = '\0';
        return 0;
    }
    *len += (size_t)w;
    return 1;
}

int bm_cli_rollup_version_ok(json_t *roll, char *buf, size_t n)
{
    json_t *v = json_object_get(roll, "v");
    if (!v || (json_is_integer(v) && json_integer_value(v) == 1)) return 1;
    char got[32] = "not a number";
    if (json_is_integer(v))
        snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    snprintf(buf, n,
             "the latest rollup is of format version %s; this busmon reads version 1 "
             "(a newer busmon-agent? upgrade the CLI with it)",
             got);
    return 0;
}

json_t *bm_cli_entry_json(const redisReply *entry)
{
    if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return NULL;
    const redisReply *fv = entry->element[1];
    if (fv->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < fv->elements; i += 2) {
        const redisReply *k = fv->element[i], *v = fv->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || strcmp(k->str, BM_RECORD_FIELD_JSON) ||
            v->type != REDIS_REPLY_STRING)
            continue;
        json_t *rec = json_loadb(v->str, (size_t)v->len, 0, NULL);
        if (json_is_object(rec)) return rec; /* the first readable one: the others unread */
        json_decref(rec);
    }
    return NULL;
}

const char *bm_cli_window_default(void)
{
    const char *w = getenv("BUSMON_WINDOW");
    return w && *w ? w : BM_CLI_WINDOW;
}

const char *bm_cli_window_origin(const char *window)
{
    const char *w = getenv("BUSMON_WINDOW");
    return w && window == w ? " (from $BUSMON_WINDOW)" : "";
}

const char *bm_cli_window_title(json_t *roll, const char *window, char *buf, size_t n)
{
    if (strcmp(window, "1h")) return window;
    json_t *perf = bm_rollup_pick_window(json_object_get(roll, "events"), "1h");
    double s = bm_cli_num(perf, "window_s");
    long long whole = llround(s);
    if (s <= 0 || whole == 3600) return window; /* unknown (an older rollup): as asked */
    if (whole % 3600 == 0)
        snprintf(buf, n, "1h (performance window: %lldh)", whole / 3600);
    else if (whole % 60 == 0)
        snprintf(buf, n, "1h (performance window: %lldm)", whole / 60);
    else
        snprintf(buf, n, "1h (performance window: %llds)", whole);
    return buf;
}

void bm_cli_time(int64_t ts_us, char *buf, size_t n)
{
    if (ts_us <= 0)
        snprintf(buf, n, "-");
    else
        bm_format_time_ms(ts_us, buf, n);
}

double bm_cli_iso_s(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) return NAN;
    return (double)timegm(&tm);
}

int bm_cli_stale_text(const char *what, double age_s, double every_s, char *buf, size_t n)
{
    if (!(age_s > 60 && every_s > 0 && age_s > 3 * every_s)) return 0;
    char age[32];
    if (age_s < 7200)
        snprintf(age, sizeof age, "%.0f min", age_s / 60);
    else if (age_s < 2 * 86400)
        snprintf(age, sizeof age, "%.1f h", age_s / 3600);
    else
        snprintf(age, sizeof age, "%.1f days", age_s / 86400);
    snprintf(buf, n,
             "%s was last written %s ago, though the agent writes it every %g s: no "
             "busmon-agent is writing it now (stopped, cut off from Redis, or this part "
             "switched off)",
             what, age, every_s);
    return 1;
}

int bm_cli_warn_stale(const char *what, double age_s, double every_s)
{
    char text[1024];
    if (!bm_cli_stale_text(what, age_s, every_s, text, sizeof text)) return 0;
    fprintf(stderr, "busmon: warning: %s; what follows is as of then\n", text);
    return 1;
}

const char *bm_cli_time_str(const char *iso, char *buf, size_t n)
{
    /* "2026-11-30T03:11:20.960673Z" -> "2026-11-30T03:11:20.960Z"; "...:20Z" -> "...:20.000Z" */
    size_t len = iso ? strlen(iso) : 0;
    if (len < 20 || iso[10] != 'T' || iso[len - 1] != 'Z') {
        snprintf(buf, n, "%s", iso && *iso ? iso : "-");
        return buf;
    }
    char frac[4] = "000";
    if (iso[19] == '.')
        for (int i = 0; i < 3 && iso[20 + i] >= '0' && iso[20 + i] <= '9'; i++)
            frac[i] = iso[20 + i];
    snprintf(buf, n, "%.19s.%sZ", iso, frac);
    return buf;
}
