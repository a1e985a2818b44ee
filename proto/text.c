/*
 * text.c - what counts as text: identities (ids and names) and free text.
 *
 * An identity (a transaction id, a worker, a step, a type, an event id, an
 * error type, a pub/sub channel) is a key: it names a trace, a table row, a
 * metrics series, a hash field. Two different byte strings must never
 * become one, so an identity is checked whole and refused whole, never cut
 * or cleaned:
 *
 *   - valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF):
 *     JSON, Prometheus labels and the dashboard all need it;
 *   - no C0 control character and no DEL (0x00-0x1f, 0x7f): a NUL would end
 *     the C string early ("nul\0tx-1" and "nul\0tx-2" both read "nul"), a
 *     newline would forge log lines;
 *   - at most max_bytes bytes.
 *
 * Free text (messages, status words, attribute values) is kept, cut to its
 * bound elsewhere; here its invalid UTF-8 sequences become '?' one byte each,
 * so what is shown is always valid UTF-8 and never longer than what came.
 *
 * Pure: no allocation, no I/O.
 */
#include "proto/event.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* How many of the n bytes at s, from the start and 8 at a time, are
 * printable ASCII (0x20-0x7e): the common case of ids and text, skipped
 * without a look at each byte. A multiple of 8, the rest is left. */
static size_t printable_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        uint64_t del = w ^ (0x7f * ONES);
        /* a byte >= 0x80, a byte < 0x20, a byte 0x7f (exact for "any") */
        if ((w | ((w - 0x20 * ONES) & ~w) | ((del - ONES) & ~del)) & HIGHS) break;
    }
    return i;
}

/* Length of the valid UTF-8 sequence at s[0] (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        if (c == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlong forms */
        if (c == 0xF4) hi = 0x8F;      /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

int bm_identity_check(const char *what, const char *s, size_t len, size_t max_bytes, char *why,
                      size_t whylen)
{
    const unsigned char *p = (const unsigned char *)s;
    if (max_bytes && len > max_bytes) {
        if (why && whylen)
            snprintf(why, whylen, "%s is %zu bytes, more than max_id_bytes (%zu)", what, len,
                     max_bytes);
        return -1;
    }
    for (size_t i = printable_run(p, len); i < len;) {
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        if (p[i] == 0) {
            if (why && whylen) snprintf(why, whylen, "%s holds a NUL byte at byte %zu", what, i);
            return -1;
        }
        if (p[i] < 0x20 || p[i] == 0x7f) {
            if (why && whylen)
                snprintf(why, whylen, "%s holds control character 0x%02x at byte %zu", what, p[i],
                         i);
            return -1;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (!n) {
            if (why && whylen)
                snprintf(why, whylen, "%s is not valid UTF-8 (byte 0x%02x at byte %zu)", what,
                         p[i], i);
            return -1;
        }
        i += n;
    }
    return 0;
}

size_t bm_text_scrub(char *dst, const char *src, size_t len)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t i = printable_run(p, len);
    memcpy(dst, src, i);
    while (i < len) {
        if (p[i] < 0x80) { /* ASCII: kept */
            dst[i] = (char)p[i];
            i++;
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (n) {
            for (size_t k = 0; k < n; k++)
                dst[i + k] = (char)p[i + k];
            i += n;
        } else {
            dst[i++] = '?';
        }
    }
    return len;
}

/* "\xNN" for byte c into dst at *o, when it fits before cap - 1. @return 0, or -1 (full). */
static int put_escape(char *dst, size_t cap, size_t *o, unsigned c)
{
    if (*o + 4 >= cap) return -1;
    snprintf(dst + *o, 5, "\\x%02x", c & 0xffu);
    *o += 4;
    return 0;
}

size_t bm_text_for_terminal(char *dst, size_t cap, const char *src)
{
    return bm_text_for_terminal_part(dst, cap, src, NULL);
}

size_t bm_text_for_terminal_part(char *dst, size_t cap, const char *src, size_t *src_used)
{
    const unsigned char *p = (const unsigned char *)(src ? src : "");
    size_t o = 0, len = strlen((const char *)p), i = 0;
    if (src_used) *src_used = 0;
    if (!cap) return 0;
    while (i < len) {
        size_t n = p[i] >= 0x20 && p[i] < 0x7f ? 1 : p[i] >= 0x80 ? utf8_seq(p + i, len - i) : 0;
        int c1 = n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0; /* U+0080-U+009F */
        if (!n || c1) {
            if (put_escape(dst, cap, &o, c1 ? p[i + 1] : p[i])) break;
            i += c1 ? 2 : 1;
            continue;
        }
        if (o + n >= cap) break;
        memcpy(dst + o, p + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
    if (src_used) *src_used = i;
    return o;
}

size_t bm_text_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n], the first byte left out, continues a character: left out whole */
    return n;
}
