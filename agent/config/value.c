/*
 * value.c - one setting set from text, whatever the source (keys.h): the
 * text is read by its row's type, checked against the row's bounds, and
 * stored at the row's offset. Every reason has the same shape, "SUBJECT
 * must be WHAT, not 'VALUE'", the subject being what the person wrote
 * ('streams.batch', --batch or BUSMON_STREAMS_BATCH). The row's table is a
 * parameter (keys.h): value.c sits below the agent's table, which names the
 * readers that call it. The string and list setters of config.h live here
 * too, the bottom of what sets a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/keys.h"
#include "agent/core/parse.h"
#include "agent/core/log.h"
#include "proto/event.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* ---- the setters every source ends in (config.h) ---------------------------- */

int bm_config_set_str(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy) return -1;
    free(*field);
    *field = copy;
    return 0;
}

/* Why `text`, a name shown in JSON and on /metrics, is not an identity: "SUBJECT must be
 * valid UTF-8 without control characters (it holds ...)", without the bytes themselves.
 * @return 0 when it is one, else -1 with the reason in why. */
static int refuse_non_identity(const char *subject, const char *text, char *why, size_t whylen)
{
    char detail[128];
    if (!bm_identity_check("it", text, strlen(text), 0, detail, sizeof detail)) return 0;
    snprintf(why, whylen, "%s must be valid UTF-8 without control characters (%s)", subject,
             detail);
    return -1;
}

/* Add `name` to a list of at most BM_MAX_STREAMS names (once). `what` names it
 * in reasons. @return 0, or -1 with the reason in err. */
static int add_name(char **list, size_t *n, const char *name, const char *what, char *err,
                    size_t errlen)
{
    char subject[64];
    snprintf(subject, sizeof subject, "a %s", what);
    if (refuse_non_identity(subject, name, err, errlen)) return -1;
    if (!bm_is_key_name(name)) {
        snprintf(err, errlen, "bad %s '%.200s': 1-256 characters, no spaces", what, name);
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(list[i], name)) return 0;
    if (*n == BM_MAX_STREAMS) {
        snprintf(err, errlen, "too many %ss (at most %d)", what, BM_MAX_STREAMS);
        return -1;
    }
    if (!(list[*n] = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    (*n)++;
    return 0;
}

int bm_config_add_stream(bm_config *c, const char *name, char *err, size_t errlen)
{
    return add_name(c->streams, &c->n_streams, name, "stream name", err, errlen);
}

int bm_config_add_pattern(bm_config *c, const char *pattern, char *err, size_t errlen)
{
    if (add_name(c->pubsub_patterns, &c->n_pubsub_patterns, pattern, "pub/sub pattern", err,
                 errlen))
        return -1;
    c->pubsub_enabled = 1;
    return 0;
}

/* ---- one value of a row ------------------------------------------------------ */

/* k, or the key of keys[0..n) k is another name of (same field, k's own bare unit). */
static const bm_config_key *resolve(const bm_config_key *keys, size_t n, const bm_config_key *k,
                                    bm_config_key *tmp)
{
    const bm_config_key *c = k->alias_of ? bm_keys_find(keys, n, k->alias_of) : NULL;
    *tmp = c && c->type != BM_KEY_SECTION ? *c : *k;
    tmp->bare_us = bm_keys_bare_us(keys, n, k);
    return tmp;
}

/* What a value of k must be, in words (the reason when the text is unreadable). */
static void what(const bm_config_key *k, char *buf, size_t len)
{
    static const char *const words[] = {
        [BM_KEY_NAME] = "a key name (1-256 characters, no spaces)",
        [BM_KEY_LISTEN] = "host:port like 127.0.0.1:9464, or off",
        [BM_KEY_FRACTION] = "a fraction 0-1 (0.1 = 10 %)",
        [BM_KEY_MEGABYTES] = "a number of megabytes (0.5, 10; 0: no limit)",
        [BM_KEY_LOGLEVEL] = "debug, info, warn or error",
        [BM_KEY_STREAMS] = "a list of stream names",
        [BM_KEY_PATTERNS] = "a list of channel patterns",
        [BM_KEY_DURATIONS] = "a list of ascending durations (0.005, 5ms, 1s)",
    };
    if (k->type == BM_KEY_SIZE)
        snprintf(buf, len, "%s", k->lo >= 1 ? "a positive number" : "a number");
    else if (k->type == BM_KEY_COUNT)
        snprintf(buf, len, "a number %.0f-%.0f", k->lo, k->hi);
    else if (k->type == BM_KEY_BOOL)
        snprintf(buf, len, "%s",
                 k->flags & BM_KEY_F_AUTO ? "true, false or auto" : "true or false");
    else if (k->type == BM_KEY_DURATION)
        snprintf(buf, len, "a duration like 30s, 5m, 1h or %s", bm_duration_unit_name(k->bare_us));
    else
        snprintf(buf, len, "%s",
                 (size_t)k->type < sizeof words / sizeof *words && words[k->type]
                     ? words[k->type]
                     : "a single value");
}

/* "SUBJECT must be WHAT, not 'VALUE'" (booleans: without the value). @return -1. */
static int must_be(const bm_config_key *k, const char *subject, const char *value,
                   const char *words, char *why, size_t whylen)
{
    char w[160];
    if (!words) what(k, w, sizeof w), words = w;
    if (k->type == BM_KEY_BOOL)
        snprintf(why, whylen, "%s must be %s", subject, words);
    else
        snprintf(why, whylen, "%s must be %s, not '%.200s'", subject, words, value);
    return -1;
}

int bm_keys_refuse(const bm_config_key *keys, size_t n, const bm_config_key *k, const char *subject,
                   const char *shown, char *why, size_t whylen)
{
    bm_config_key tmp;
    k = resolve(keys, n, k, &tmp);
    if (k->type == BM_KEY_STREAMS || k->type == BM_KEY_PATTERNS || k->type == BM_KEY_DURATIONS) {
        char w[160];
        what(k, w, sizeof w);
        snprintf(why, whylen, "%s must be %s", subject, w);
        return -1;
    }
    return must_be(k, subject, shown, NULL, why, whylen);
}

/* host:port or [v6]:port, port 0-65535. @return 1 or 0. */
static int is_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1] || strlen(colon + 1) > 5) return 0;
    if (strspn(colon + 1, "0123456789") != strlen(colon + 1)) return 0;
    if (*s == '[' && colon[-1] != ']') return 0;
    return atoi(colon + 1) <= 65535;
}

/* Replace the list of k with the items of text (separated by ',' or ' '), or add text as one. */
static int set_list(const bm_config_key *k, bm_config *c, const char *text, int how, char *why,
                    size_t whylen)
{
    int streams = k->type == BM_KEY_STREAMS;
    int enabled =
        c->pubsub_enabled; /* bm_config_add_pattern turns the input on; also_sets decides */
    if (!(how & BM_SET_APPEND)) {
        char **items = streams ? c->streams : c->pubsub_patterns;
        size_t *n = streams ? &c->n_streams : &c->n_pubsub_patterns;
        for (size_t i = 0; i < *n; i++)
            free(items[i]);
        *n = 0;
    }
    int rc = 0;
    if (how & BM_SET_APPEND) {
        rc = streams ? bm_config_add_stream(c, text, why, whylen)
                     : bm_config_add_pattern(c, text, why, whylen);
    } else {
        char buf[4096];
        if (strlen(text) >= sizeof buf) {
            snprintf(why, whylen, "the list is longer than %zu bytes", sizeof buf - 1);
            return -1;
        }
        strcpy(buf, text);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ", ", &save); tok && !rc; tok = strtok_r(NULL, ", ", &save))
            rc = streams ? bm_config_add_stream(c, tok, why, whylen)
                         : bm_config_add_pattern(c, tok, why, whylen);
    }
    c->pubsub_enabled = enabled;
    return rc;
}

/* One bound added to the duration list: within the row's bounds, above the last. */
static int add_bucket(const bm_config_key *k, bm_config *c, const char *text, const char *subject,
                      char *why, size_t whylen)
{
    int64_t us;
    char bound[32];
    if (bm_parse_duration_us(text, k->bare_us, &us) != BM_PARSE_OK || (double)us < k->lo ||
        (double)us > k->hi)
        return must_be(k, subject, text, NULL, why, whylen);
    if (c->n_duration_buckets == BM_MAX_DURATION_BUCKETS) {
        snprintf(why, whylen, "%s: more than %d bounds", subject, BM_MAX_DURATION_BUCKETS);
        return -1;
    }
    if (c->n_duration_buckets && us <= c->duration_buckets_us[c->n_duration_buckets - 1]) {
        snprintf(why, whylen, "%s must be ascending: '%.200s' is not above %s", subject, text,
                 bm_format_duration_us(c->duration_buckets_us[c->n_duration_buckets - 1], bound,
                                       sizeof bound));
        return -1;
    }
    c->duration_buckets_us[c->n_duration_buckets++] = us;
    return 0;
}

/* Replace the duration list with the items of text (',' or ' '), or add text as one. */
static int set_buckets(const bm_config_key *k, bm_config *c, const char *text, const char *subject,
                       int how, char *why, size_t whylen)
{
    if (how & BM_SET_APPEND) return add_bucket(k, c, text, subject, why, whylen);
    c->n_duration_buckets = 0;
    char buf[4096];
    if (strlen(text) >= sizeof buf) {
        snprintf(why, whylen, "%s: the list is longer than %zu bytes", subject, sizeof buf - 1);
        return -1;
    }
    strcpy(buf, text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (add_bucket(k, c, tok, subject, why, whylen)) return -1;
    return 0;
}

static int set_duration(const bm_config_key *k, char *field, const char *text, const char *subject,
                        char *why, size_t whylen)
{
    int64_t us;
    char bound[32], words[96];
    int r = bm_parse_duration_us(text, k->bare_us, &us);
    if (r == BM_PARSE_NEGATIVE) {
        snprintf(why, whylen, "%s must not be negative ('%.200s')", subject, text);
        return -1;
    }
    if (r != BM_PARSE_OK) return must_be(k, subject, text, NULL, why, whylen);
    if ((double)us < k->lo) {
        snprintf(words, sizeof words, "a duration of at least %s (30s, 1m)",
                 bm_format_duration_us((int64_t)k->lo, bound, sizeof bound));
        return must_be(k, subject, text, words, why, whylen);
    }
    if (k->hi > 0 && (double)us > k->hi) {
        snprintf(why, whylen, "%s is longer than %s ('%.200s')", subject,
                 bm_format_duration_us((int64_t)k->hi, bound, sizeof bound), text);
        return -1;
    }
    int64_t unit = k->unit_us > 0 ? k->unit_us : 1;
    int64_t v = (us + unit / 2) / unit;
    if (us > 0 && v == 0) { /* kept in `unit`, it would be 0, which means off or none */
        snprintf(words, sizeof words, "0 or at least %s",
                 bm_format_duration_us(unit, bound, sizeof bound));
        return must_be(k, subject, text, words, why, whylen);
    }
    if (k->flags & BM_KEY_F_INT)
        *(int *)field = (int)v;
    else
        *(int64_t *)field = v;
    return 0;
}

static int set_number(const bm_config_key *k, char *field, const char *text, const char *subject,
                      char *why, size_t whylen)
{
    char words[96];
    if (k->type == BM_KEY_FRACTION || k->type == BM_KEY_MEGABYTES) {
        double v;
        double hi = k->type == BM_KEY_FRACTION ? 1 : k->hi;
        if (bm_parse_decimal(text, &v) || v < k->lo || v > hi)
            return must_be(k, subject, text, NULL, why, whylen);
        *(double *)field = v;
        return 0;
    }
    size_t v;
    if (bm_parse_size(text, &v)) return must_be(k, subject, text, NULL, why, whylen);
    if ((double)v < k->lo || (k->hi > 0 && (double)v > k->hi)) {
        if (k->type == BM_KEY_SIZE && k->hi > 0)
            snprintf(words, sizeof words, "%.0f-%.0f", k->lo, k->hi);
        return must_be(k, subject, text, k->type == BM_KEY_SIZE && k->hi > 0 ? words : NULL, why,
                       whylen);
    }
    if (k->flags & BM_KEY_F_INT)
        *(int *)field = (int)v;
    else
        *(size_t *)field = v;
    return 0;
}

/* Set the BOOL row `path` of keys[0..n) (internal rows included). */
static void set_flag(const bm_config_key *keys, size_t n, void *const base[BM_BASE__COUNT],
                     const char *path, int on)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].type == BM_KEY_BOOL && !strcmp(keys[i].path, path) && base[keys[i].base])
            *(int *)((char *)base[keys[i].base] + keys[i].offset) = on;
}

/* Whether the BOOL row `path` was given itself (not only implied by another key's
 * `also_sets`): its own `also_sets` marker is set. @return 1 or 0. */
static int given(const bm_config_key *keys, size_t n, void *const base[BM_BASE__COUNT],
                 const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].type == BM_KEY_BOOL && keys[i].also_sets && !strcmp(keys[i].path, path))
            for (size_t j = 0; j < n; j++)
                if (keys[j].type == BM_KEY_BOOL && !strcmp(keys[j].path, keys[i].also_sets) &&
                    base[keys[j].base])
                    return *(int *)((char *)base[keys[j].base] + keys[j].offset) > 0;
    return 0;
}

int bm_keys_set(const bm_config_key *keys, size_t n, const bm_config_key *k,
                void *const base[BM_BASE__COUNT], const char *text, const char *subject, int how,
                char *why, size_t whylen)
{
    bm_config_key tmp;
    k = resolve(keys, n, k, &tmp);
    if (!base[k->base]) return 0;
    char *field = (char *)base[k->base] + k->offset;
    int on = 1, b;
    bm_log_level lv;
    char inner[512];
    switch (k->type) {
    case BM_KEY_STRING:
    case BM_KEY_NAME:
    case BM_KEY_LISTEN:
        if (k->type == BM_KEY_STRING && !*text) {
            snprintf(why, whylen, "%s must not be empty", subject);
            return -1;
        }
        if (k->type == BM_KEY_LISTEN && !bm_parse_bool(text, &b) && !b) {
            on = 0; /* "off": the address stays, the server does not run */
            break;
        }
        if ((k->type == BM_KEY_NAME || (k->flags & BM_KEY_F_IDENTITY)) &&
            refuse_non_identity(subject, text, why, whylen))
            return -1;
        if ((k->flags & BM_KEY_F_IDENTITY) && strlen(text) > BM_IDENTITY_MAX) {
            snprintf(why, whylen, "%s is too long: %zu bytes, at most %d", subject, strlen(text),
                     BM_IDENTITY_MAX);
            return -1;
        }
        if ((k->type == BM_KEY_NAME && !bm_is_key_name(text)) ||
            (k->type == BM_KEY_LISTEN && !is_listen(text)))
            return must_be(k, subject, text, NULL, why, whylen);
        if (k->valid && !k->valid(text))
            return must_be(k, subject, text, k->valid_words, why, whylen);
        if (bm_config_set_str((char **)field, text)) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        break;
    case BM_KEY_SIZE:
    case BM_KEY_COUNT:
    case BM_KEY_FRACTION:
    case BM_KEY_MEGABYTES:
        if (set_number(k, field, text, subject, why, whylen)) return -1;
        break;
    case BM_KEY_BOOL:
        if ((k->flags & BM_KEY_F_AUTO) && !strcmp(text, "auto"))
            b = -1;
        else if (bm_parse_bool(text, &b))
            return must_be(k, subject, text, NULL, why, whylen);
        *(int *)field = b;
        break;
    case BM_KEY_DURATION:
        if (set_duration(k, field, text, subject, why, whylen)) return -1;
        break;
    case BM_KEY_LOGLEVEL:
        if (bm_log_level_parse(text, &lv)) return must_be(k, subject, text, NULL, why, whylen);
        *(int *)field = (int)lv;
        break;
    case BM_KEY_STREAMS:
    case BM_KEY_PATTERNS:
        if (set_list(k, (bm_config *)base[k->base], text, how, inner, sizeof inner)) {
            snprintf(why, whylen, "%s: %s", subject, inner); /* the items say what they are */
            return -1;
        }
        if (!*text) return 0; /* emptied: nothing turned on */
        break;
    case BM_KEY_DURATIONS:
        if (set_buckets(k, (bm_config *)base[k->base], text, subject, how, why, whylen)) return -1;
        break;
    default:
        return 0;
    }
    /* an implied "on" never overrides the key given itself, from any source
     * (BUSMON_HTTP_ENABLED=false stays off with BUSMON_HTTP_LISTEN set) */
    if (k->also_sets && !(how & BM_SET_DEFAULT) &&
        (on == 0 || !((how & BM_SET_FROM_FILE) && (k->flags & BM_KEY_F_ARGS_SETS))) &&
        (on == 0 || !given(keys, n, base, k->also_sets)))
        set_flag(keys, n, base, k->also_sets, on);
    return 0;
}

int bm_keys_format(const bm_config_key *keys, size_t n_keys, const bm_config_key *k,
                   void *const base[BM_BASE__COUNT], char *buf, size_t len)
{
    bm_config_key tmp;
    k = resolve(keys, n_keys, k, &tmp);
    if (!base[k->base] || len == 0) return -1;
    const char *field = (const char *)base[k->base] + k->offset;
    const bm_config *c = base[k->base];
    buf[0] = '\0';
    switch (k->type) {
    case BM_KEY_STRING:
    case BM_KEY_NAME:
    case BM_KEY_LISTEN: {
        const char *s = *(char *const *)field;
        snprintf(buf, len, "%s", s ? s : "");
        return 0;
    }
    case BM_KEY_SIZE:
    case BM_KEY_COUNT:
        if (k->flags & BM_KEY_F_INT)
            snprintf(buf, len, "%d", *(const int *)field);
        else
            snprintf(buf, len, "%zu", *(const size_t *)field);
        return 0;
    case BM_KEY_BOOL: {
        int v = *(const int *)field;
        snprintf(buf, len, "%s", v < 0 ? "auto" : v ? "true" : "false");
        return 0;
    }
    case BM_KEY_FRACTION:
    case BM_KEY_MEGABYTES:
        snprintf(buf, len, "%g", *(const double *)field);
        return 0;
    case BM_KEY_DURATION: {
        int64_t v = k->flags & BM_KEY_F_INT ? *(const int *)field : *(const int64_t *)field;
        bm_format_duration_us(v * (k->unit_us > 0 ? k->unit_us : 1), buf, len);
        return 0;
    }
    case BM_KEY_LOGLEVEL: {
        int v = *(const int *)field;
        snprintf(buf, len, "%s", v >= 0 && v < 4 ? level_names[v] : "?");
        return 0;
    }
    case BM_KEY_STREAMS:
    case BM_KEY_PATTERNS: {
        char *const *items = k->type == BM_KEY_STREAMS ? c->streams : c->pubsub_patterns;
        size_t n = k->type == BM_KEY_STREAMS ? c->n_streams : c->n_pubsub_patterns, at = 0;
        for (size_t i = 0; i < n && at < len; i++) {
            int w = snprintf(buf + at, len - at, "%s%s", i ? "," : "", items[i]);
            if (w < 0) break;
            at += (size_t)w;
        }
        return 0;
    }
    case BM_KEY_DURATIONS: {
        size_t at = 0;
        char one[32];
        for (size_t i = 0; i < c->n_duration_buckets && at < len; i++) {
            int w = snprintf(buf + at, len - at, "%s%s", i ? "," : "",
                             bm_format_duration_us(c->duration_buckets_us[i], one, sizeof one));
            if (w < 0) break;
            at += (size_t)w;
        }
        return 0;
    }
    default:
        return -1;
    }
}

int bm_keys_defaults(const bm_config_key *keys, size_t n, void *const base[BM_BASE__COUNT],
                     char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        if (!k->def || k->alias_of || (k->flags & BM_KEY_F_COMPUTED) || !base[k->base]) continue;
        if (bm_keys_set(keys, n, k, base, k->def, k->path, BM_SET_FROM_FILE | BM_SET_DEFAULT, why,
                        whylen))
            return -1;
    }
    return 0;
}
