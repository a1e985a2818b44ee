/*
 * decode_json.c - an event as a JSON object: a one-pass scanner, no tree.
 *
 * Reads busmon's native keys and the MultiAgents Framework's wire shape:
 *
 *   {"id": "...", "type": "result",
 *    "metadata": {"transaction_id": "...", "correlation_id": "...",
 *                 "timestamp": "2024-01-15T10:30:00.123456", "source": "research"},
 *    "payload": {...}, "command_id": "...", "success": false,
 *    "error_message": "Connection timeout",
 *    "error_details": {"error_type": "NetworkError"}}
 *
 * The scanner knows JSON, not the event: for every key of an object it walks
 * it asks bm_key_plan() (event_fill.c) what to do, descends into the maps the
 * plan names, measures the payload and skips everything else. It validates
 * the whole text as it goes (RFC 8259 syntax, strict UTF-8 everywhere, also
 * in skipped strings) and allocates nothing per decode: its work area belongs
 * to the decoder and only grows.
 *
 *   text ──scan──▶ pairs of the walked objects       (one pass, validating)
 *        ──dedupe──▶ a repeated key: its last value, at its first place
 *        ──apply──▶ bm_evb_set / _collect / _set_payload, in document order
 *        ──▶ bm_evb_finish
 *
 * Applying after the scan keeps the old tree decoder's behaviour: a text that
 * does not parse is not_json whatever its keys say, and a key given twice in
 * one object counts once, with its last value (as jansson's objects did).
 *
 * Strings: a value without escapes is a reference into the input; one with
 * escapes (\n, \uXXXX, surrogate pairs) is unescaped into the work area's
 * text buffer, sized once per decode before any reference into it is handed
 * out, so every reference the builder holds stays valid until
 * bm_evb_finish copies what it keeps.
 *
 * Bounds and refusals (not_json with a detail, never a crash):
 *   - nesting deeper than BM_JSON_MAX_DEPTH: skipping is iterative (a bit
 *     per level), so depth costs no stack; the walked objects (those the plan
 *     descends into) may nest BM_JSON_MAX_WALK_DEPTH deep;
 *   - invalid UTF-8, a raw control character, a bad escape or an unpaired
 *     surrogate, in any string, walked or skipped; \u0000 is allowed in a
 *     value (an id holding one is then refused as bad_id), not in a key;
 *   - trailing text after the value.
 * Numbers: an integer that fits int64 (or uint64) is one; a real is a double.
 * A number beyond those (100-digit integers, 1e400) is handed on as its text:
 * a known numeric key refuses it (bad_field: the text parses to no finite
 * number in range), an attribute keeps it as written.
 * The payload's size is its text without the whitespace between tokens
 * (strings, escapes and numbers counted as written).
 *
 * Not here: the key table and rules (event_fill.c).
 */
#include "proto/event_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BM_JSON_MAX_DEPTH      2048 /* arrays and objects, as jansson's default */
#define BM_JSON_MAX_WALK_DEPTH 64   /* objects the plan descends into */
#define NO_PAIR                UINT32_MAX

/* One key/value pair of an object the scanner walks (top level, or a map the
 * plan descends into), in document order. */
typedef struct {
    const char *key;
    uint32_t key_len;
    uint32_t obj;   /* index of the DESCEND pair whose map holds it; NO_PAIR = top */
    uint32_t end;   /* DESCEND: one past the last pair inside its map */
    uint32_t last;  /* the last pair with this key in this object (itself if unique) */
    uint32_t bytes; /* PAYLOAD: its size */
    uint8_t plan;   /* bm_plan */
    uint8_t scope;  /* bm_scope of the object holding it */
    uint8_t sub;    /* DESCEND: the scope of its map */
    uint8_t repeat; /* a later copy of an earlier key: its value is used there */
    int rank;
    bm_field field;
    bm_value v;
} json_pair;

/* The decoder's grow-only work area. */
struct bm_json_work {
    json_pair *pairs;
    size_t pairs_cap;
    uint32_t *table; /* dedupe: pair index + 1, 0 = empty */
    size_t table_cap;
    char *text; /* unescaped strings of the current decode */
    size_t text_cap, text_len;
};

void bm_json_work_free(struct bm_json_work *w)
{
    if (!w) return;
    free(w->pairs);
    free(w->table);
    free(w->text);
    free(w);
}

typedef enum {
    JE_OK = 0,
    JE_EOF,
    JE_SYNTAX,
    JE_UTF8,
    JE_CTRL,
    JE_ESCAPE,
    JE_SURROGATE,
    JE_KEY_NUL,
    JE_DEPTH,
    JE_WALK_DEPTH,
    JE_TRAILING,
    JE_NOMEM,
} json_err;

typedef struct {
    const unsigned char *p, *start, *end;
    struct bm_json_work *w;
    size_t text_need; /* bytes to reserve for unescaping (the input's length) */
    json_err err;
    const unsigned char *err_at;
} json_cur;

static int fail(json_cur *c, json_err e, const unsigned char *at)
{
    if (c->err == JE_OK) {
        c->err = e;
        c->err_at = at;
    }
    return -1;
}

/* ---- lexing ------------------------------------------------------------- */

/* 0 plain ASCII; 1 '"'; 2 '\\'; 3 control; 4 a byte >= 0x80 */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static int is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Skip whitespace; @return how many bytes. */
static size_t skip_ws(json_cur *c)
{
    const unsigned char *p = c->p;
    while (p < c->end && is_ws(*p))
        p++;
    size_t n = (size_t)(p - c->p);
    c->p = p;
    return n;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned ch = p[i], d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
            d = (ch | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (a byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char b0 = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0)
            lo = 0xA0; /* no overlong */
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

enum { STR_ESCAPED = 1, STR_NUL = 2 };

/*
 * A string whose opening quote c->p points at: validated, c->p left past its
 * closing quote. *body and *body_len: the raw text between the quotes; *flags:
 * STR_ESCAPED when it holds an escape, STR_NUL when one is \u0000.
 */
static int lex_string(json_cur *c, const unsigned char **body, size_t *body_len, unsigned *flags)
{
    const unsigned char *p = c->p + 1, *end = c->end;
    *flags = 0;
    *body = p;
    for (;;) {
        while (p < end && str_class[*p] == 0)
            p++;
        if (p >= end) return fail(c, JE_EOF, p);
        switch (str_class[*p]) {
        case 1:
            *body_len = (size_t)(p - *body);
            c->p = p + 1;
            return 0;
        case 2: {
            *flags |= STR_ESCAPED;
            if (end - p < 2) return fail(c, JE_EOF, end);
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u': {
                unsigned u;
                if (end - p < 6) return fail(c, JE_EOF, end);
                if (hex4(p + 2, &u) < 0) return fail(c, JE_ESCAPE, p);
                if (u >= 0xDC00 && u <= 0xDFFF) return fail(c, JE_SURROGATE, p);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(c, JE_SURROGATE, p);
                    p += 6;
                }
                if (u == 0) *flags |= STR_NUL;
                p += 6;
                break;
            }
            default:
                return fail(c, JE_ESCAPE, p);
            }
            break;
        }
        case 3:
            return fail(c, JE_CTRL, p);
        default: {
            size_t n = utf8_seq(p, end);
            if (!n) return fail(c, JE_UTF8, p);
            p += n;
            break;
        }
        }
    }
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* The text of a validated string body, unescaped into the work area when it
 * holds escapes. The buffer is sized for the whole input at its first use in
 * a decode, so it never moves while references into it are out. */
static int string_text(json_cur *c, const unsigned char *body, size_t len, unsigned flags,
                       const char **out, size_t *out_len)
{
    if (!(flags & STR_ESCAPED)) {
        *out = (const char *)body;
        *out_len = len;
        return 0;
    }
    struct bm_json_work *w = c->w;
    if (c->text_need) {
        if (w->text_cap < c->text_need) {
            char *t = realloc(w->text, c->text_need);
            if (!t) return fail(c, JE_NOMEM, body);
            w->text = t;
            w->text_cap = c->text_need;
        }
        w->text_len = 0;
        c->text_need = 0;
    }
    char *start = w->text + w->text_len, *o = start;
    const unsigned char *p = body, *end = body + len;
    while (p < end) {
        if (*p != '\\') {
            *o++ = (char)*p++;
            continue;
        }
        unsigned cp = 0, lo = 0;
        switch (p[1]) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            (void)hex4(p + 2, &cp); /* validated by lex_string */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                (void)hex4(p + 8, &lo);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            o = put_utf8(o, cp);
            p += 4;
            break;
        default:
            *o++ = (char)p[1];
            break; /* " \ / */
        }
        p += 2;
    }
    *out = start;
    *out_len = (size_t)(o - start);
    w->text_len += *out_len;
    return 0;
}

static int is_delim(json_cur *c, const unsigned char *p)
{
    return p < c->end && (is_ws(*p) || *p == ',' || *p == '}' || *p == ']');
}

/* A number at c->p: validated, c->p left past it; *is_int when it has no
 * fraction and no exponent. */
static int lex_number(json_cur *c, int *is_int)
{
    const unsigned char *p = c->p, *end = c->end;
    *is_int = 1;
    if (p < end && *p == '-') p++;
    if (p >= end) return fail(c, JE_EOF, p);
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return fail(c, JE_SYNTAX, p);
    }
    if (p < end && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return fail(c, p >= end ? JE_EOF : JE_SYNTAX, p);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return fail(c, p >= end ? JE_EOF : JE_SYNTAX, p);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    return 0;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * The value of a validated number text [s, e), followed by a delimiter in the
 * buffer. Integers in range are ints; a real is a double, correctly rounded
 * (exact arithmetic when the digits fit 2^53 and the power of ten is exact,
 * else strtod, which stops at the delimiter); what fits neither is its text.
 */
static void number_value(const unsigned char *s, const unsigned char *e, int is_int, bm_value *v)
{
    const unsigned char *p = s;
    int neg = *p == '-';
    if (neg) p++;
    if (is_int) {
        uint64_t u = 0;
        int overflow = 0;
        for (; p < e; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (u > (UINT64_MAX - d) / 10) {
                overflow = 1;
                break;
            }
            u = u * 10 + d;
        }
        if (!overflow && !neg && u <= (uint64_t)INT64_MAX) {
            v->kind = BM_V_INT;
            v->i = (int64_t)u;
            return;
        }
        if (!overflow && neg && u <= (uint64_t)INT64_MAX + 1) {
            v->kind = BM_V_INT;
            v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
            return;
        }
        if (!overflow && !neg) {
            v->kind = BM_V_UINT;
            v->u = u;
            return;
        }
        v->kind = BM_V_STR;
        v->str = (const char *)s;
        v->len = (size_t)(e - s);
        return;
    }
    /* fast path: up to 15 significant digits, an exact power of ten */
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, fast = 1;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        if (mant || *p != '0') digits++;
        mant = mant * 10 + (uint64_t)(*p - '0');
        if (digits > 15) break;
    }
    if (digits <= 15 && p < e && *p == '.') {
        for (p++; p < e && *p >= '0' && *p <= '9'; p++) {
            if (mant || *p != '0') digits++;
            mant = mant * 10 + (uint64_t)(*p - '0');
            exp10--;
            if (digits > 15) break;
        }
    }
    if (digits > 15) fast = 0;
    if (fast && p < e && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, x = 0;
        if (*p == '+' || *p == '-') eneg = *p++ == '-';
        for (; p < e && x < 10000; p++)
            x = x * 10 + (*p - '0');
        if (p < e) fast = 0;
        exp10 += eneg ? -x : x;
    }
    double d;
    if (fast && exp10 >= -22 && exp10 <= 22) {
        d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (neg) d = -d;
    } else {
        d = strtod((const char *)s, NULL);
    }
    if (isfinite(d)) {
        v->kind = BM_V_FLOAT;
        v->f = d;
    } else {
        v->kind = BM_V_STR;
        v->str = (const char *)s;
        v->len = (size_t)(e - s);
    }
}

static int lex_literal(json_cur *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n) {
        if (memcmp(c->p, word, (size_t)(c->end - c->p)) == 0) return fail(c, JE_EOF, c->end);
        return fail(c, JE_SYNTAX, c->p);
    }
    if (memcmp(c->p, word, n) != 0) return fail(c, JE_SYNTAX, c->p);
    c->p += n;
    return 0;
}

/* The kind of the value c->p starts (without consuming it); -1 if none. */
static int peek_kind(json_cur *c, bm_value_kind *kind)
{
    if (c->p >= c->end) return fail(c, JE_EOF, c->p);
    switch (*c->p) {
    case '{':
        *kind = BM_V_MAP;
        return 0;
    case '[':
        *kind = BM_V_ARRAY;
        return 0;
    case '"':
        *kind = BM_V_STR;
        return 0;
    case 't':
    case 'f':
        *kind = BM_V_BOOL;
        return 0;
    case 'n':
        *kind = BM_V_NIL;
        return 0;
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
            *kind = BM_V_INT; /* or FLOAT: told by the lexer */
            return 0;
        }
        return fail(c, JE_SYNTAX, c->p);
    }
}

/*
 * Skip one value at c->p (no leading whitespace), validating it, at nesting
 * `depth` (levels already open). Iterative: a bit per open level says array
 * or object. *ws counts the whitespace between its tokens.
 */
static int skip_value(json_cur *c, unsigned depth, size_t *ws)
{
    unsigned char is_obj[BM_JSON_MAX_DEPTH / 8];
    unsigned level = 0; /* open levels of this value */
    const unsigned char *b;
    size_t blen;
    unsigned flags;
    int is_int;
    for (;;) {
        /* a value */
        if (c->p >= c->end) return fail(c, JE_EOF, c->p);
        switch (*c->p) {
        case '{':
        case '[': {
            int obj = *c->p == '{';
            if (depth + level >= BM_JSON_MAX_DEPTH) return fail(c, JE_DEPTH, c->p);
            if (obj)
                is_obj[level / 8] |= (unsigned char)(1u << (level % 8));
            else
                is_obj[level / 8] &= (unsigned char)~(1u << (level % 8));
            level++;
            c->p++;
            *ws += skip_ws(c);
            if (c->p < c->end && *c->p == (obj ? '}' : ']')) {
                c->p++;
                level--;
                break; /* an empty container: a complete value */
            }
            if (obj) goto key;
            continue; /* the first element */
        }
        case '"':
            if (lex_string(c, &b, &blen, &flags) < 0) return -1;
            break;
        case 't':
            if (lex_literal(c, "true", 4) < 0) return -1;
            break;
        case 'f':
            if (lex_literal(c, "false", 5) < 0) return -1;
            break;
        case 'n':
            if (lex_literal(c, "null", 4) < 0) return -1;
            break;
        default:
            if (lex_number(c, &is_int) < 0) return -1;
            break;
        }
        /* after a complete value: close levels, or go on with the next */
        for (;;) {
            if (level == 0) return 0;
            *ws += skip_ws(c);
            if (c->p >= c->end) return fail(c, JE_EOF, c->p);
            int obj = is_obj[(level - 1) / 8] >> ((level - 1) % 8) & 1;
            if (*c->p == (obj ? '}' : ']')) {
                c->p++;
                level--;
                continue;
            }
            if (*c->p != ',') return fail(c, JE_SYNTAX, c->p);
            c->p++;
            *ws += skip_ws(c);
            if (obj) goto key;
            break; /* the next element */
        }
        continue;
    key:
        if (c->p >= c->end) return fail(c, JE_EOF, c->p);
        if (*c->p != '"') return fail(c, JE_SYNTAX, c->p);
        if (lex_string(c, &b, &blen, &flags) < 0) return -1;
        if (flags & STR_NUL) return fail(c, JE_KEY_NUL, b);
        *ws += skip_ws(c);
        if (c->p >= c->end) return fail(c, JE_EOF, c->p);
        if (*c->p != ':') return fail(c, JE_SYNTAX, c->p);
        c->p++;
        *ws += skip_ws(c);
    }
}

/* A scalar at c->p (kind from peek_kind), read into *v. */
static int read_scalar(json_cur *c, bm_value_kind kind, bm_value *v)
{
    memset(v, 0, sizeof(*v));
    const unsigned char *b, *s = c->p;
    size_t blen;
    unsigned flags;
    int is_int;
    switch (kind) {
    case BM_V_STR:
        if (lex_string(c, &b, &blen, &flags) < 0) return -1;
        v->kind = BM_V_STR;
        return string_text(c, b, blen, flags, &v->str, &v->len);
    case BM_V_BOOL:
        v->kind = BM_V_BOOL;
        v->b = *c->p == 't';
        return v->b ? lex_literal(c, "true", 4) : lex_literal(c, "false", 5);
    case BM_V_NIL:
        v->kind = BM_V_NIL;
        return lex_literal(c, "null", 4);
    default:
        if (lex_number(c, &is_int) < 0) return -1;
        if (!is_delim(c, c->p)) return fail(c, c->p >= c->end ? JE_EOF : JE_SYNTAX, c->p);
        number_value(s, c->p, is_int, v);
        return 0;
    }
}

/* ---- scan: the walked objects' pairs ---------------------------------- */

static json_pair *new_pair(json_cur *c, size_t n)
{
    struct bm_json_work *w = c->w;
    if (n == w->pairs_cap) {
        size_t cap = w->pairs_cap ? w->pairs_cap * 2 : 32;
        json_pair *p = realloc(w->pairs, cap * sizeof(*p));
        if (!p) {
            fail(c, JE_NOMEM, c->p);
            return NULL;
        }
        w->pairs = p;
        w->pairs_cap = cap;
    }
    return &w->pairs[n];
}

/*
 * Scan the object at c->p (its '{'), recording the pairs of every object the
 * plan walks into c->w->pairs. @return the number of pairs, or -1.
 */
static long scan_object(json_cur *c)
{
    struct {
        uint32_t pair; /* DESCEND pair of this map, NO_PAIR = top */
        bm_scope scope;
    } open[BM_JSON_MAX_WALK_DEPTH];
    unsigned depth = 1;
    open[0].pair = NO_PAIR;
    open[0].scope = BM_SCOPE_TOP;
    size_t n = 0, ws = 0;
    c->p++; /* '{' */
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        /* a key */
        const unsigned char *kb;
        size_t klen;
        unsigned kflags;
        if (c->p >= c->end) return fail(c, JE_EOF, c->p);
        if (*c->p != '"') return fail(c, JE_SYNTAX, c->p);
        if (lex_string(c, &kb, &klen, &kflags) < 0) return -1;
        if (kflags & STR_NUL) return fail(c, JE_KEY_NUL, kb);
        skip_ws(c);
        if (c->p >= c->end) return fail(c, JE_EOF, c->p);
        if (*c->p != ':') return fail(c, JE_SYNTAX, c->p);
        c->p++;
        skip_ws(c);

        json_pair *pr = new_pair(c, n);
        if (!pr) return -1;
        const char *key;
        size_t key_len;
        if (string_text(c, kb, klen, kflags, &key, &key_len) < 0) return -1;
        bm_value_kind kind;
        if (peek_kind(c, &kind) < 0) return -1;
        memset(pr, 0, sizeof(*pr));
        pr->key = key;
        pr->key_len = (uint32_t)key_len;
        pr->obj = open[depth - 1].pair;
        pr->scope = (uint8_t)open[depth - 1].scope;
        pr->last = (uint32_t)n;
        bm_scope sub = BM_SCOPE_TOP;
        bm_plan plan =
            bm_key_plan(open[depth - 1].scope, key, key_len, kind, &pr->field, &pr->rank, &sub);
        pr->plan = (uint8_t)plan;
        pr->v.kind = kind;
        n++;
        if (n > UINT32_MAX - 1) return fail(c, JE_NOMEM, c->p);

        if (plan == BM_PLAN_DESCEND && kind == BM_V_MAP) {
            if (depth == BM_JSON_MAX_WALK_DEPTH) return fail(c, JE_WALK_DEPTH, c->p);
            pr->sub = (uint8_t)sub;
            open[depth].pair = (uint32_t)(n - 1);
            open[depth].scope = sub;
            depth++;
            c->p++; /* '{' */
            skip_ws(c);
            if (c->p < c->end && *c->p == '}') {
                c->p++;
                goto closed;
            }
            continue;
        }
        if (plan == BM_PLAN_PAYLOAD || kind == BM_V_MAP || kind == BM_V_ARRAY ||
            plan == BM_PLAN_SKIP) {
            const unsigned char *start = c->p;
            ws = 0;
            if (skip_value(c, depth, &ws) < 0) return -1;
            uint64_t bytes = (uint64_t)(c->p - start) - ws;
            pr->bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
        } else if (read_scalar(c, kind, &pr->v) < 0) {
            return -1;
        }

        /* after a value: ',' and the next key, or '}' closing objects */
        for (;;) {
            skip_ws(c);
            if (c->p >= c->end) return fail(c, JE_EOF, c->p);
            if (*c->p == ',') {
                c->p++;
                skip_ws(c);
                break;
            }
            if (*c->p != '}') return fail(c, JE_SYNTAX, c->p);
            c->p++;
        closed:
            depth--;
            if (open[depth].pair != NO_PAIR) c->w->pairs[open[depth].pair].end = (uint32_t)n;
            if (depth == 0) return (long)n;
        }
    }
}

/* ---- dedupe: a repeated key counts once, with its last value ------------- */

static uint32_t key_hash(const json_pair *p)
{
    uint32_t h = 2166136261u ^ p->obj;
    for (uint32_t i = 0; i < p->key_len; i++)
        h = (h ^ (unsigned char)p->key[i]) * 16777619u;
    return h;
}

static int dedupe(json_cur *c, size_t n)
{
    struct bm_json_work *w = c->w;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (w->table_cap < cap) {
        uint32_t *t = realloc(w->table, cap * sizeof(*t));
        if (!t) return fail(c, JE_NOMEM, c->p);
        w->table = t;
        w->table_cap = cap;
    }
    memset(w->table, 0, cap * sizeof(*w->table));
    for (size_t i = 0; i < n; i++) {
        json_pair *p = &w->pairs[i];
        size_t h = key_hash(p) & (cap - 1);
        for (;;) {
            uint32_t at = w->table[h];
            if (!at) {
                w->table[h] = (uint32_t)i + 1;
                break;
            }
            json_pair *q = &w->pairs[at - 1];
            if (q->obj == p->obj && q->key_len == p->key_len &&
                memcmp(q->key, p->key, p->key_len) == 0) {
                q->last = (uint32_t)i; /* the first keeps its place, takes this value */
                p->repeat = 1;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
    }
    return 0;
}

/* ---- apply: the pairs to the builder, in document order ---------------- */

static bm_decode_status apply(bm_evb *b, const json_pair *pairs, size_t n)
{
    struct {
        uint32_t next, end;
    } resume[BM_JSON_MAX_WALK_DEPTH];
    unsigned depth = 0;
    uint32_t i = 0, end = (uint32_t)n;
    for (;;) {
        while (i >= end) {
            if (depth == 0) return BM_DECODE_OK;
            depth--;
            i = resume[depth].next;
            end = resume[depth].end;
        }
        const json_pair *at = &pairs[i];
        uint32_t next = at->plan == BM_PLAN_DESCEND && at->v.kind == BM_V_MAP ? at->end : i + 1;
        if (at->repeat) {
            i = next;
            continue;
        }
        const json_pair *use = &pairs[at->last];
        bm_decode_status st = BM_DECODE_OK;
        switch ((bm_plan)use->plan) {
        case BM_PLAN_FIELD:
            st = bm_evb_set(b, use->field, use->rank, &use->v);
            break;
        case BM_PLAN_DESCEND:
            if (use->v.kind != BM_V_MAP) break;
            resume[depth].next = next; /* depth < BM_JSON_MAX_WALK_DEPTH: scanned so */
            resume[depth].end = end;
            depth++;
            i = at->last + 1;
            end = use->end;
            continue;
        case BM_PLAN_PAYLOAD:
            bm_evb_set_payload(b, use->bytes, use->rank);
            break;
        case BM_PLAN_COLLECT:
            bm_evb_collect(b, (bm_scope)use->scope, use->key, use->key_len, &use->v);
            break;
        case BM_PLAN_SKIP:
            break;
        }
        if (st != BM_DECODE_OK) return st;
        i = next;
    }
}

/* ---- entry points -------------------------------------------------------- */

static const char *err_text(json_err e)
{
    switch (e) {
    case JE_EOF:
        return "the text ends inside a value";
    case JE_SYNTAX:
        return "unexpected character";
    case JE_UTF8:
        return "invalid UTF-8";
    case JE_CTRL:
        return "a control character in a string";
    case JE_ESCAPE:
        return "an invalid escape";
    case JE_SURROGATE:
        return "an unpaired UTF-16 surrogate in a \\u escape";
    case JE_KEY_NUL:
        return "a NUL byte (\\u0000) in an object key";
    case JE_DEPTH:
        return "nesting deeper than 2048";
    case JE_WALK_DEPTH:
        return "event objects nested deeper than 64";
    case JE_TRAILING:
        return "text after the value";
    default:
        return "invalid JSON";
    }
}

static bm_decode_status not_json(bm_decoder *d, const json_cur *c)
{
    if (c->err == JE_NOMEM) return BM_DECODE_NOMEM;
    snprintf(d->detail, sizeof d->detail, "the JSON field does not parse: %s (at byte %zu)",
             err_text(c->err), (size_t)(c->err_at - c->start));
    return BM_DECODE_NOT_JSON;
}

/*
 * `buf` is borrowed; it need not be NUL-terminated. Trailing text after the
 * value makes it not_json; a value that is not an object is json_not_object.
 */
bm_decode_status bm_decode_json(bm_decoder *d, const char *buf, size_t len, bm_event *ev)
{
    return bm_decode_json_hinted(d, buf, len, NULL, ev);
}

/* The hints go in after the walk; their rank, not their order, keeps them
 * below the object's own keys. */
bm_decode_status bm_decode_json_hinted(bm_decoder *d, const char *buf, size_t len,
                                       const bm_evb_hints *hints, bm_event *ev)
{
    bm_event_reset(ev);
    d->detail[0] = '\0';
    if (!buf || len == 0) return BM_DECODE_EMPTY;
    if (len > bm_limit_entry(d)) return BM_DECODE_OVERSIZED;
    if (!d->json && !(d->json = calloc(1, sizeof(*d->json)))) return BM_DECODE_NOMEM;

    json_cur c = {.p = (const unsigned char *)buf,
                  .start = (const unsigned char *)buf,
                  .end = (const unsigned char *)buf + len,
                  .w = d->json,
                  .text_need = len};
    skip_ws(&c);
    if (c.p >= c.end) {
        fail(&c, JE_EOF, c.p);
        return not_json(d, &c);
    }
    long n = -1;
    int is_object = *c.p == '{';
    if (is_object) {
        n = scan_object(&c);
    } else {
        size_t ws = 0;
        (void)skip_value(&c, 0, &ws);
    }
    if (c.err == JE_OK) {
        skip_ws(&c);
        if (c.p != c.end) fail(&c, JE_TRAILING, c.p);
    }
    if (c.err != JE_OK) return not_json(d, &c);
    if (!is_object) return BM_DECODE_JSON_NOT_OBJECT;
    if (n > 1 && dedupe(&c, (size_t)n) < 0) return not_json(d, &c);

    bm_evb b;
    bm_evb_init(&b);
    b.max_attr_key = bm_limit_string(d);
    bm_decode_status st = apply(&b, d->json->pairs, (size_t)n);
    if (st != BM_DECODE_OK) return st;
    bm_evb_apply_hints(&b, hints);
    return bm_evb_finish(d, &b, ev);
}
