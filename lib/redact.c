/*
 * redact.c - see redact.h. One left-to-right pass: at each position, a URL's
 * user info, a Slack webhook path or a secret-named key may start; what
 * follows it up to the end of the value is replaced by "***".
 */
#include "redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

static const char *const secret_keys[] = {
    "password", "passwd",      "pwd",        "secret",      "token",
    "api_key",  "apikey",      "auth",       "authorization", "routing_key",
    "access_key", "private_key", "credential", "credentials",
};

typedef struct {
    char *out;
    size_t cap, n;
} sink;

static void put(sink *s, const char *p, size_t len)
{
    for (size_t i = 0; i < len && s->n + 1 < s->cap; i++)
        s->out[s->n++] = p[i];
}

static int key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Does the key [k, k+len) end in a secret name (at a word boundary)? */
static int secret_key(const char *k, size_t len)
{
    for (size_t i = 0; i < sizeof secret_keys / sizeof *secret_keys; i++) {
        size_t sl = strlen(secret_keys[i]);
        if (len < sl || strncasecmp(k + len - sl, secret_keys[i], sl)) continue;
        if (len == sl) return 1;
        char before = k[len - sl - 1];
        if (before == '_' || before == '-' || before == '.') return 1;
        /* camelCase: apiToken, clientSecret */
        if (islower((unsigned char)before) && isupper((unsigned char)k[len - sl])) return 1;
    }
    return 0;
}

/* End of a value starting at p (quoted: up to the closing quote). */
static size_t value_len(const char *p, size_t left, char quote)
{
    size_t i = 0;
    if (quote) {
        while (i < left && p[i] != quote) {
            if (p[i] == '\\' && i + 1 < left) i++;
            i++;
        }
        return i;
    }
    while (i < left && !isspace((unsigned char)p[i]) && !strchr("&,;}]\"')", p[i]))
        i++;
    return i;
}

/*
 * A secret-named key ends at in+i (i is one past its last char). After it:
 * optional closing quote, spaces, '=' or ':', spaces, optional opening quote,
 * the value. @return bytes consumed after the key (value replaced in s), or 0.
 */
static size_t key_value(sink *s, const char *p, size_t left)
{
    size_t i = 0;
    if (i < left && p[i] == '"') i++; /* "key": (a name in single quotes is a name) */
    while (i < left && p[i] == ' ')
        i++;
    if (i >= left || (p[i] != '=' && p[i] != ':')) return 0;
    if (p[i] == ':' && i + 2 < left && p[i + 1] == '/' && p[i + 2] == '/') return 0; /* a URL */
    i++;
    while (i < left && p[i] == ' ')
        i++;
    char quote = 0;
    if (i < left && (p[i] == '"' || p[i] == '\'')) quote = p[i++];
    /* "Bearer X", "Basic X": keep the scheme word, hide the credentials */
    size_t scheme = 0;
    {
        const char *words[] = {"Bearer ", "Basic ", "Token "};
        for (size_t w = 0; w < 3; w++) {
            size_t wl = strlen(words[w]);
            if (left - i > wl && !strncasecmp(p + i, words[w], wl)) scheme = wl;
        }
    }
    size_t v = value_len(p + i + scheme, left - i - scheme, quote);
    if (v == 0) return 0;
    put(s, p, i + scheme);
    put(s, MASK, strlen(MASK));
    return i + scheme + v;
}

/* At "://": the user info up to '@' (before any '/', space or quote). @return bytes consumed. */
static size_t url_userinfo(sink *s, const char *p, size_t left)
{
    size_t i = 3, colon = 0;
    while (i < left && !strchr("/ \t\r\n\"'@?#", p[i])) {
        if (p[i] == ':' && !colon) colon = i;
        i++;
    }
    if (i >= left || p[i] != '@' || !colon) return 0;
    put(s, p, colon + 1);
    put(s, MASK, strlen(MASK));
    return i; /* the '@' is copied by the caller */
}

size_t bm_redact(const char *in, size_t len, char *out, size_t cap)
{
    sink s = {out, cap, 0};
    if (!cap) return 0;
    static const char slack[] = "hooks.slack.com/services/";
    size_t i = 0;
    while (i < len && s.n + 1 < cap) {
        if (len - i >= 3 && !memcmp(in + i, "://", 3)) {
            size_t used = url_userinfo(&s, in + i, len - i);
            if (used) {
                i += used;
                continue;
            }
        }
        if (len - i >= sizeof slack - 1 && !strncasecmp(in + i, slack, sizeof slack - 1)) {
            put(&s, in + i, sizeof slack - 1);
            i += sizeof slack - 1;
            size_t v = value_len(in + i, len - i, 0);
            if (v) put(&s, MASK, strlen(MASK));
            i += v;
            continue;
        }
        if (key_char(in[i]) && (i == 0 || !key_char(in[i - 1]))) {
            size_t k = i;
            while (k < len && key_char(in[k]))
                k++;
            if (secret_key(in + i, k - i)) {
                put(&s, in + i, k - i);
                size_t used = key_value(&s, in + k, len - k);
                i = k + used;
                continue;
            }
            put(&s, in + i, k - i);
            i = k;
            continue;
        }
        put(&s, in + i, 1);
        i++;
    }
    out[s.n] = '\0';
    return s.n;
}
