/*
 * fuzz_http_head.c - libFuzzer target for bm_http_head_parse
 * (agent/http/request.h), the parser of every HTTP request head the agent
 * is sent.
 *
 * The input is a request head as it arrives, bounded by 16 KiB (the
 * agent's default), or by 16 + its first byte when its size is 3 modulo 4
 * (the bound's edges). Checked:
 *   - a head that parses lies within the input and the bound, and holds
 *     what request.h promises: an upper-case method of 1 to 16 letters, a
 *     target without blanks or control bytes, HTTP/1.0 or 1.1, at most
 *     BM_HTTP_HEADERS_MAX fields whose names are tokens and whose values
 *     have no control byte but tab and no blank at either end, a
 *     Content-Length of digits, never with Transfer-Encoding;
 *   - the same bytes arriving in pieces get the same answer: every prefix
 *     shorter than a parsed head is "more", the head alone parses to the
 *     same fields, and a verdict given on a prefix (bad, too large, a
 *     version) is the verdict on the whole;
 *   - bm_http_head_get finds each field the parse gave.
 * A failed check aborts. Build with clang -fsanitize=fuzzer,address,undefined
 * (linking the agent's library), or with standalone_main.c to replay a
 * corpus without clang (ctest does).
 */
#include "agent/http/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

/* prefixes tried per input: all of a short one, spread over a long one */
#define PREFIXES_MAX 600

static int within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void check_head(const bm_http_head *h, const char *buf, size_t len, size_t max)
{
    CHECK(h->head_len > 0 && h->head_len <= len && h->head_len <= max);
    CHECK(within(h->method, h->method_len, buf, h->head_len));
    CHECK(h->method_len >= 1 && h->method_len <= 16);
    for (size_t i = 0; i < h->method_len; i++)
        CHECK(h->method[i] >= 'A' && h->method[i] <= 'Z');
    CHECK(within(h->target, h->target_len, buf, h->head_len) && h->target_len >= 1);
    for (size_t i = 0; i < h->target_len; i++)
        CHECK((unsigned char)h->target[i] > 0x20 && h->target[i] != 0x7f);
    CHECK(h->minor == 0 || h->minor == 1);
    CHECK(h->n_headers <= BM_HTTP_HEADERS_MAX);
    for (size_t k = 0; k < h->n_headers; k++) {
        const bm_http_header *f = &h->headers[k];
        CHECK(within(f->name, f->name_len, buf, h->head_len) && f->name_len >= 1);
        CHECK(within(f->value, f->value_len, buf, h->head_len));
        for (size_t i = 0; i < f->name_len; i++)
            CHECK(is_tchar((unsigned char)f->name[i]));
        for (size_t i = 0; i < f->value_len; i++) {
            unsigned char c = (unsigned char)f->value[i];
            CHECK((c >= 0x20 || c == '\t') && c != 0x7f);
        }
        if (f->value_len)
            CHECK(f->value[0] != ' ' && f->value[0] != '\t' && f->value[f->value_len - 1] != ' ' &&
                  f->value[f->value_len - 1] != '\t');
        /* the first field of that name (any case) is the one found */
        char name[64];
        if (f->name_len < sizeof name) {
            memcpy(name, f->name, f->name_len);
            name[f->name_len] = '\0';
            size_t first = 0;
            while (h->headers[first].name_len != f->name_len ||
                   strncasecmp(h->headers[first].name, name, f->name_len))
                first++; /* ends at k at the latest */
            size_t n = 0;
            const char *v = bm_http_head_get(h, name, &n);
            CHECK(v == h->headers[first].value && n == h->headers[first].value_len);
        }
    }
    CHECK(h->content_length >= -1 && h->content_length < 1000000000000000LL);
    CHECK(!(h->chunked && h->content_length >= 0));
}

static int same_head(const bm_http_head *a, const bm_http_head *b)
{
    if (a->method != b->method || a->method_len != b->method_len || a->target != b->target ||
        a->target_len != b->target_len || a->minor != b->minor || a->n_headers != b->n_headers ||
        a->head_len != b->head_len || a->content_length != b->content_length ||
        a->chunked != b->chunked)
        return 0;
    for (size_t k = 0; k < a->n_headers; k++)
        if (a->headers[k].name != b->headers[k].name ||
            a->headers[k].name_len != b->headers[k].name_len ||
            a->headers[k].value != b->headers[k].value ||
            a->headers[k].value_len != b->headers[k].value_len)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t max = size % 4 == 3 && size ? 16 + data[0] : 16384;
    static bm_http_head whole, part;
    bm_http_head_status st = bm_http_head_parse(buf, size, max, &whole);
    CHECK(st == BM_HTTP_HEAD_OK || st == BM_HTTP_HEAD_MORE || st == BM_HTTP_HEAD_BAD ||
          st == BM_HTTP_HEAD_TOO_LARGE || st == BM_HTTP_HEAD_VERSION);
    if (st == BM_HTTP_HEAD_OK) {
        check_head(&whole, buf, size, max);
        CHECK(bm_http_head_parse(buf, whole.head_len, max, &part) == BM_HTTP_HEAD_OK);
        CHECK(same_head(&whole, &part));
    }
    if (st == BM_HTTP_HEAD_MORE) CHECK(size < max);

    /* in pieces: the prefixes, every one of a short input, else spread out */
    size_t step = size / PREFIXES_MAX + 1;
    for (size_t k = 0; k < size; k += step) {
        bm_http_head_status ps = bm_http_head_parse(buf, k, max, &part);
        if (st == BM_HTTP_HEAD_OK && k < whole.head_len) {
            CHECK(ps == BM_HTTP_HEAD_MORE);
        } else if (ps == BM_HTTP_HEAD_OK) {
            CHECK(st == BM_HTTP_HEAD_OK && same_head(&whole, &part));
        } else if (ps != BM_HTTP_HEAD_MORE) {
            CHECK(ps == st); /* a verdict stands whatever follows */
        }
    }
    return 0;
}
