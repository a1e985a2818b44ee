/*
 * redact.c - which attribute keys look secret.
 *
 * busmon keeps unknown scalar keys as attributes and shows them in traces,
 * alerts and the dashboard, so a key that looks like it holds a credential
 * must never carry its value that far: the decoder replaces the value with
 * "[REDACTED]". The test is a case-insensitive substring match on the key
 * (so `db_password`, `X-Api-Key`, `refreshToken` all match); false positives
 * only hide a value, false negatives leak one, so the list leans wide.
 *
 * Not here: payload bodies (busmon keeps only their size) and free text.
 */
#include "proto/event.h"

#include <stdbool.h>
#include <string.h>

/* Lower-case needles; '_' in a needle also matches '-' or nothing, so
 * api_key matches "api-key" and "apikey". Short needles must stand as a word
 * of their own (not preceded or followed by a letter, but for a camelCase
 * capital): "ssn", "user_ssn" and "customerSsn" are secret, "classname" is
 * not. */
static const struct {
    const char *needle;
    bool word;
} secret_needles[] = {
    {"password", false},    {"passwd", false},        {"pwd", true},
    {"token", false},       {"api_key", false},       {"secret", false},
    {"credit_card", false}, {"card_number", false},   {"cvv", true},
    {"ssn", true},          {"authorization", false}, {"private_key", false},
    {"access_key", false},  {"session_key", false},   {"cookie", false},
    {"credential", false},
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

/* Whether a word ends before key[i] (0 < i < len) and another starts
 * there: not between two letters, unless a capital follows a small letter
 * or starts a capitalised word after capitals (camelCase: "customerSsn",
 * "userPwd", "CVVCode"). */
static bool word_boundary(const char *key, size_t len, size_t i)
{
    char a = key[i - 1], b = key[i];
    if (!is_alpha(a) || !is_alpha(b)) return true;
    if (is_lower(a)) return !is_lower(b);
    return !is_lower(b) && i + 1 < len && is_lower(key[i + 1]);
}

/* Does `needle` match `key` starting at `at`? */
static bool match_at(const char *key, size_t len, size_t at, const char *needle, bool word)
{
    if (word && at > 0 && !word_boundary(key, len, at)) return false;
    size_t i = at;
    for (const char *n = needle; *n; n++) {
        if (*n == '_') {
            if (i < len && (key[i] == '_' || key[i] == '-')) i++;
            continue;
        }
        if (i >= len || lower((unsigned char)key[i]) != (unsigned char)*n) return false;
        i++;
    }
    return !word || i >= len || word_boundary(key, len, i);
}

/*
 * True when `key` (len bytes, need not be terminated) looks secret.
 */
int bm_key_is_secret(const char *key, size_t len)
{
    if (!key) return 0;
    for (size_t at = 0; at < len; at++) {
        for (size_t k = 0; k < sizeof(secret_needles) / sizeof(secret_needles[0]); k++) {
            const char *needle = secret_needles[k].needle;
            if (lower((unsigned char)key[at]) == (unsigned char)needle[0] &&
                match_at(key, len, at, needle, secret_needles[k].word))
                return 1;
        }
    }
    return 0;
}
