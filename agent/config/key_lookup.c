/*
 * key_lookup.c - look-ups over any table of keys (keys.h): a row by its
 * path, whether a path is a section, a duration's bare unit, and the key
 * close to an unknown one ("did you mean"). The table is always a
 * parameter: the agent's (keys.c), a rule's (alert_rules.c), or plain names
 * (a sink's keys, the guides' alerting: keys). Nothing here names a table,
 * so every file of config/ can use it and it uses none of them.
 */
#include <string.h>

#include "agent/config/keys.h"
#include "agent/core/parse.h"

static int in_file(const bm_config_key *k)
{
    return !(k->flags & (BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL));
}

const bm_config_key *bm_keys_find(const bm_config_key *keys, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (in_file(&keys[i]) && !strcmp(keys[i].path, path)) return &keys[i];
    return NULL;
}

int bm_keys_is_section(const bm_config_key *keys, size_t n, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < n; i++)
        if (in_file(&keys[i]) && !strncmp(keys[i].path, path, len) && keys[i].path[len] == '.')
            return 1;
    return 0;
}

int64_t bm_keys_bare_us(const bm_config_key *keys, size_t n, const bm_config_key *k)
{
    if (k->bare_us > 0) return k->bare_us;
    /* a key named for its unit: block_ms, interval_seconds, window_minutes, retention_hours */
    const char *under = strrchr(k->path, '_'), *dot = strrchr(k->path, '.');
    int64_t us = under && under > dot ? bm_duration_unit_us(under + 1) : 0;
    if (us > 0) return us;
    const bm_config_key *c = k->alias_of ? bm_keys_find(keys, n, k->alias_of) : NULL;
    return c && c != k ? bm_keys_bare_us(keys, n, c) : BM_KEY_BARE_DEFAULT_US;
}

/* Edits from a to b, an adjacent swap counting one (optimal string alignment). */
static size_t distance(const char *a, const char *b)
{
    enum { MAXLEN = 128 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN) return (size_t)-1;
    size_t rows[3][MAXLEN], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best) best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* The part of a path after its last '.'. */
static const char *leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/*
 * How close a known `cand` is to the unknown `path`: its edits when one or
 * two; 3 for a name in the same section starting like it; 4 for the same
 * name in another section; 5 when it is not close.
 */
static size_t closeness(const char *path, const char *cand)
{
    size_t score = distance(path, cand);
    if (score <= 2) return score;
    size_t section = (size_t)(leaf(path) - path);
    const char *name = leaf(path), *kname = leaf(cand);
    size_t kl = strlen(kname), nl = strlen(name);
    int same_section = (size_t)(kname - cand) == section && !strncmp(cand, path, section);
    int starts_alike = nl >= 4 && kl >= 4 && !strncmp(kname, name, nl < kl ? nl : kl);
    if (same_section && starts_alike) return 3;
    if (!same_section && !strcmp(kname, name)) return 4;
    return 5;
}

const bm_config_key *bm_keys_suggest(const bm_config_key *keys, size_t n, const char *path)
{
    const bm_config_key *best = NULL;
    size_t best_score = 5;
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        if (!in_file(k) || k->type == BM_KEY_GUIDE || k->type == BM_KEY_SECTION) continue;
        size_t score = closeness(path, k->path);
        if (score < best_score) best = k, best_score = score;
    }
    return best;
}

const char *bm_names_suggest(const char *const *names, size_t n, const char *name)
{
    const char *best = NULL;
    size_t best_score = 5;
    for (size_t i = 0; i < n; i++) {
        size_t score = names[i] ? closeness(name, names[i]) : 5;
        if (score < best_score) best = names[i], best_score = score;
    }
    return best;
}
