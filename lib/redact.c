/*
 * redact.c - hide secrets in free text before it is logged.
 *
 * One pass over the text; at each byte a few cheap tests decide whether a
 * secret value starts nearby, and if so the value's bytes are replaced by
 * "***" while the key, the quotes and the separators are kept. The rules:
 *
 *   1. URL userinfo: scheme://user:PASSWORD@host keeps the user and hides
 *      the password; scheme://TOKEN@host (no ':') hides the whole userinfo,
 *      since redis:// and token-in-URL schemes put the secret there. A URL
 *      whose first ':' is followed by no port number before a '/', '?' or '#'
 *      (a password holding one of them unencoded) hides from that ':' up to
 *      the URL's last '@'; one cut off at the very end of the text before its
 *      '@' hides what follows its first ':' unless that is a port number.
 *   2. key=value and key: value, where the key names a secret (below); the
 *      value runs to the closing quote when quoted (JSON "key": "value",
 *      'key': 'value', escaped \"key\":\"value\"), else to a space, '&',
 *      ',', ';', a quote or a closing bracket. An unquoted key with ':'
 *      needs a space after the ':' (so Redis names like token:abc stay).
 *      For Authorization the scheme word stays: "Authorization: Bearer ***".
 *      A JSON array of strings is hidden whole ("Cookie": [***]); an
 *      object's own keys decide.
 *   3. Slack webhooks: hooks.slack.com/<kind>/T.../B.../SECRET hides the
 *      path from its third segment on.
 *   4. A bare "Bearer X" or "Basic X" where X looks like a credential (8 or
 *      more token characters with a digit, '+', '/', '=' or an upper-case
 *      letter after a lower-case one), so "Bearer token missing" stays.
 *
 * A key names a secret when its last dotted part, lower-cased and with '_'
 * and '-' dropped, ends in password, passwd, passphrase, secret, token,
 * apikey, accesskey, secretkey, privatekey, signingkey, sessionkey,
 * routingkey (PagerDuty), integrationkey, servicekey, authorization,
 * credential(s), cookie, creditcard or cardnumber (or their plural, but
 * tokens), or is ssn or cvv. The
 * short words pass, pwd and auth count only with '=' or a quoted key, since
 * "worker auth: healthy" is ordinary text. A bare `key` (Redis key names),
 * dedup_key, max_tokens or token_count name no secret.
 *
 * Not here: event attribute keys (proto/redact.c), logging (agent/core/log.c).
 */
#include "lib/redact.h"

#include <stdbool.h>
#include <string.h>

/* Bytes [start, end) of the input are a secret value. */
typedef struct {
    size_t start, end;
} span;

/* The output as far as it fits; n counts every byte, fitting or not. */
typedef struct {
    char *buf;
    size_t cap;
    size_t n;
} out_text;

static void put(out_text *o, const char *s, size_t len)
{
    if (len && o->n + 1 < o->cap) { /* len 0: s may be NULL (empty input) */
        size_t room = o->cap - 1 - o->n;
        memcpy(o->buf + o->n, s, len < room ? len : room);
    }
    o->n += len;
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool is_space(unsigned char c)
{
    return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool is_quote(unsigned char c)
{
    return c == '"' || c == '\'';
}

static bool is_key_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Where an unquoted value ends. */
static bool ends_value(unsigned char c)
{
    return is_space(c) || is_quote(c) || c == '&' || c == ',' || c == ';' || c == ')' || c == ']' ||
           c == '}' || c == '<' || c == '>' || c == '`';
}

/* Where a URL's authority (userinfo@host:port) ends. */
static bool ends_authority(unsigned char c)
{
    return is_space(c) || is_quote(c) || c == '/' || c == '?' || c == '#' || c == '<' || c == '>' ||
           c == '`' || c == '\\';
}

/* Where a URL path ends. */
static bool ends_path(unsigned char c)
{
    return is_space(c) || is_quote(c) || c == '?' || c == '#' || c == '<' || c == '>' || c == ')' ||
           c == ',' || c == ';' || c == '`' || c == '\\';
}

/* Case-insensitive: does `word` (lower case) stand at in[i]? */
static bool has_word_at(const char *in, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (len - i < n) return false;
    for (size_t k = 0; k < n; k++)
        if (lower((unsigned char)in[i + k]) != (unsigned char)word[k]) return false;
    return true;
}

/* ---- rule 2: which keys name a secret ----------------------------------- */

typedef enum {
    KEY_PLAIN = 0,
    KEY_WEAK,   /* a secret only with '=' or a quoted key */
    KEY_SECRET, /* a secret with any separator */
    KEY_AUTH,   /* a secret whose value may start with a scheme word */
} key_class;

static const char *const secret_suffixes[] = {
    "password",   "passwd",         "passphrase", "secret",     "token",
    "apikey",     "accesskey",      "secretkey",  "privatekey", "signingkey",
    "sessionkey", "routingkey",     "servicekey", "credential", "credentials",
    "cookie",     "integrationkey", "creditcard", "cardnumber",
};
static const char *const secret_words[] = {"ssn", "cvv"};
static const char *const weak_words[] = {"pass", "pwd", "auth"};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Classify the key in[0..n): only its last dotted part counts. */
static key_class classify_key(const char *key, size_t n)
{
    const char *dot = NULL;
    for (size_t i = 0; i < n; i++)
        if (key[i] == '.') dot = key + i;
    if (dot) {
        n -= (size_t)(dot + 1 - key);
        key = dot + 1;
    }
    /* its last 63 letters and digits: every test below reads the key's end
     * (the first 63 of a longer key would lose the suffix that says secret) */
    char norm[64];
    size_t m = 0, alnum = 0;
    for (size_t i = 0; i < n; i++)
        alnum += is_alnum((unsigned char)key[i]);
    size_t skip = alnum > sizeof norm - 1 ? alnum - (sizeof norm - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum((unsigned char)key[i])) continue;
        if (skip) {
            skip--;
            continue;
        }
        norm[m++] = (char)lower((unsigned char)key[i]);
    }
    norm[m] = '\0';
    if (m == 0) return KEY_PLAIN;
    if (ends_with(norm, m, "authorization")) return KEY_AUTH;
    for (size_t i = 0; i < sizeof secret_suffixes / sizeof *secret_suffixes; i++)
        if (ends_with(norm, m, secret_suffixes[i])) return KEY_SECRET;
    /* plurals (passwords, secrets, apikeys), but tokens: max_tokens counts them */
    if (m > 1 && norm[m - 1] == 's' && !ends_with(norm, m, "tokens"))
        for (size_t i = 0; i < sizeof secret_suffixes / sizeof *secret_suffixes; i++)
            if (ends_with(norm, m - 1, secret_suffixes[i])) return KEY_SECRET;
    for (size_t i = 0; i < sizeof secret_words / sizeof *secret_words; i++)
        if (!strcmp(norm, secret_words[i])) return KEY_SECRET;
    for (size_t i = 0; i < sizeof weak_words / sizeof *weak_words; i++)
        if (!strcmp(norm, weak_words[i])) return KEY_WEAK;
    return KEY_PLAIN;
}

/* An Authorization value "Scheme credentials": skip the scheme word and
 * the blanks after it. @return where the credentials start (v when there
 * is no scheme word). */
static size_t skip_auth_scheme(const char *in, size_t len, size_t v, char quote)
{
    size_t w = v;
    while (w < len && w - v < 24 && is_alpha((unsigned char)in[w]))
        w++;
    if (w == v || w >= len || !is_blank((unsigned char)in[w])) return v;
    size_t t = w;
    while (t < len && is_blank((unsigned char)in[t]))
        t++;
    if (t >= len || (quote ? in[t] == quote : ends_value((unsigned char)in[t]))) return v;
    return t;
}

/* A JSON array of strings after a secret key at in[v] == '[' ("Cookie":
 * ["sid=..."], as header maps print): no key inside decides for it, so
 * all of it up to its ']' is the value (escaped JSON: up to the first ']'). */
static bool find_array(const char *in, size_t len, size_t v, span *sp)
{
    size_t k = v + 1;
    while (k < len && is_space((unsigned char)in[k]))
        k++;
    bool escaped = k + 1 < len && in[k] == '\\' && in[k + 1] == '"';
    if (!escaped && (k >= len || in[k] != '"')) return false;
    for (bool in_str = false; k < len; k++) {
        if (in_str) {
            if (in[k] == '\\')
                k++;
            else if (in[k] == '"')
                in_str = false;
        } else if (in[k] == ']') {
            break;
        } else if (in[k] == '"' && !escaped) {
            in_str = true;
        }
    }
    sp->start = v + 1;
    sp->end = k < len ? k : len;
    return true;
}

/* At a '=' or ':' at in[i]: does the key before it name a secret, and
 * where is the value after it? */
static bool find_key_value(const char *in, size_t len, size_t i, span *sp)
{
    char sep = in[i];
    size_t j = i;
    while (j > 0 && i - j < 8 && is_blank((unsigned char)in[j - 1]))
        j--;
    bool quoted_key = false;
    if (j > 0 && is_quote((unsigned char)in[j - 1])) {
        quoted_key = true;
        j--;
        if (j > 0 && in[j - 1] == '\\') j--;
    }
    size_t key_end = j;
    while (j > 0 && key_end - j < 128 && is_key_char((unsigned char)in[j - 1]))
        j--;
    if (j == key_end) return false;
    key_class kc = classify_key(in + j, key_end - j);
    if (kc == KEY_PLAIN) return false;
    if (sep == ':' && !quoted_key) {
        if (kc == KEY_WEAK) return false;
        if (i + 1 >= len || !is_blank((unsigned char)in[i + 1])) return false;
    }

    size_t v = i + 1;
    while (v < len && is_blank((unsigned char)in[v]))
        v++;
    if (v >= len || in[v] == '{') return false; /* nested: its own keys decide */
    if (in[v] == '[') return find_array(in, len, v, sp);
    char quote = 0;
    bool escaped = false; /* \"value\" inside a JSON string */
    if (in[v] == '\\' && v + 1 < len && is_quote((unsigned char)in[v + 1])) {
        quote = in[v + 1];
        escaped = true;
        v += 2;
    } else if (is_quote((unsigned char)in[v])) {
        quote = in[v];
        v++;
    }
    if (kc == KEY_AUTH) v = skip_auth_scheme(in, len, v, quote);
    size_t e = v;
    if (quote) {
        while (e < len && in[e] != quote) {
            if (in[e] == '\\') {
                if (escaped && e + 1 < len && in[e + 1] == quote) break;
                e++;
            }
            e++;
        }
        if (e > len) e = len;
    } else {
        while (e < len && !ends_value((unsigned char)in[e]))
            e++;
    }
    sp->start = v;
    sp->end = e;
    return e > v;
}

/* ---- rule 1: URL userinfo ----------------------------------------------- */

/* At "://" at in[i]: the password (or token) in the authority after it. */
static bool find_userinfo(const char *in, size_t len, size_t i, span *sp)
{
    size_t a = i + 3, e = a, at = 0;
    bool has_at = false;
    for (; e < len && !ends_authority((unsigned char)in[e]); e++)
        if (in[e] == '@') {
            at = e;
            has_at = true;
        }
    if (has_at) {
        const char *colon = memchr(in + a, ':', at - a);
        sp->start = colon ? (size_t)(colon - in) + 1 : a;
        sp->end = at;
        return sp->end > sp->start;
    }
    /* No '@' before a '/', '?' or '#': host:port stays, but "user:pw..." (an
     * empty host, or a "port" that is no number) followed by an '@' later in
     * the URL is userinfo whose password holds one of them (not
     * percent-encoded, as a bad URL quoted in an error has it): hidden up to
     * that '@'; with no '@' it is hidden only when the text ends there (cut
     * off before its '@'). */
    if (a >= len || in[a] == '[') return false;
    const char *colon = memchr(in + a, ':', e - a);
    if (!colon) return false;
    size_t s = (size_t)(colon - in) + 1;
    bool port = colon > in + a && s < e;
    for (size_t k = s; port && k < e; k++)
        port = is_digit((unsigned char)in[k]);
    if (port) return false;
    size_t end = e < len ? s : e;
    for (size_t k = e;
         k < len && !is_space((unsigned char)in[k]) && !is_quote((unsigned char)in[k]) &&
         in[k] != '<' && in[k] != '>' && in[k] != '`';
         k++)
        if (in[k] == '@') end = k;
    sp->start = s;
    sp->end = end;
    return end > s;
}

/* ---- rule 3: Slack webhooks ---------------------------------------------- */

static bool find_slack(const char *in, size_t len, size_t i, span *sp)
{
    static const char host[] = "hooks.slack.com/";
    if (!has_word_at(in, len, i, host)) return false;
    size_t p = i + sizeof host - 1;
    for (int seg = 0; seg < 3; seg++) { /* services/T.../B.../ stay */
        while (p < len && in[p] != '/' && !ends_path((unsigned char)in[p]))
            p++;
        if (p >= len || in[p] != '/') return false;
        p++;
    }
    size_t e = p;
    while (e < len && !ends_path((unsigned char)in[e]))
        e++;
    sp->start = p;
    sp->end = e;
    return e > p;
}

/* ---- rule 4: a bare Bearer / Basic credential ----------------------------- */

static bool is_token68(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static bool looks_like_credential(const char *s, size_t n)
{
    if (n < 8) return false;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (is_digit(c) || c == '+' || c == '/' || c == '=') return true;
        if (k > 0 && c >= 'A' && c <= 'Z' && s[k - 1] >= 'a' && s[k - 1] <= 'z') return true;
    }
    return false;
}

static bool find_bearer(const char *in, size_t len, size_t i, span *sp)
{
    if (i > 0 && is_key_char((unsigned char)in[i - 1])) return false;
    size_t w;
    if (has_word_at(in, len, i, "bearer"))
        w = i + 6;
    else if (has_word_at(in, len, i, "basic"))
        w = i + 5;
    else
        return false;
    if (w >= len || !is_blank((unsigned char)in[w])) return false;
    while (w < len && is_blank((unsigned char)in[w]))
        w++;
    size_t e = w;
    while (e < len && is_token68((unsigned char)in[e]))
        e++;
    while (e < len && in[e] == '=')
        e++;
    if (!looks_like_credential(in + w, e - w)) return false;
    sp->start = w;
    sp->end = e;
    return true;
}

/* -------------------------------------------------------------------------- */

size_t bm_redact(const char *in, size_t len, char *out, size_t cap)
{
    out_text o = {out, cap, 0};
    if (!in) len = 0;
    size_t copied = 0; /* in[0..copied) is in the output */
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];
        span sp;
        bool hit;
        if (c == ':' && len - i >= 3 && in[i + 1] == '/' && in[i + 2] == '/')
            hit = find_userinfo(in, len, i, &sp);
        else if (c == '=' || c == ':')
            hit = find_key_value(in, len, i, &sp);
        else if (c == 'h' || c == 'H')
            hit = find_slack(in, len, i, &sp);
        else if (c == 'b' || c == 'B')
            hit = find_bearer(in, len, i, &sp);
        else
            hit = false;
        if (!hit) {
            i++;
            continue;
        }
        put(&o, in + copied, sp.start - copied);
        put(&o, BM_REDACTED, sizeof BM_REDACTED - 1);
        copied = i = sp.end;
    }
    put(&o, in + copied, len - copied);
    if (cap) out[o.n < cap ? o.n : cap - 1] = '\0';
    return o.n;
}
