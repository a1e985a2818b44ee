/*
 * test_http_request.c - the HTTP request head parser (agent/http/request.c):
 * complete heads, heads still arriving, the bound, every malformed form it
 * refuses (methods, targets, versions, folding, header names and values,
 * Content-Length against itself and against Transfer-Encoding), and header
 * look-up.
 */
#include "agent/http/request.h"

#include <criterion/criterion.h>
#include <string.h>

static bm_http_head h;

static bm_http_head_status parse(const char *s)
{
    return bm_http_head_parse(s, strlen(s), 16384, &h);
}

Test(http_request, a_complete_head)
{
    const char *r = "GET /api/workers?window=5m HTTP/1.1\r\nHost: x\r\n"
                    "Authorization:  Bearer s3cret  \r\n\r\nBODY";
    cr_assert_eq(parse(r), BM_HTTP_HEAD_OK);
    cr_assert_eq(h.method_len, 3);
    cr_assert_eq(strncmp(h.method, "GET", 3), 0);
    cr_assert_eq(h.target_len, strlen("/api/workers?window=5m"));
    cr_assert_eq(h.minor, 1);
    cr_assert_eq(h.n_headers, 2);
    cr_assert_eq(h.head_len, strlen(r) - 4, "the body is not the head");
    size_t n;
    const char *v = bm_http_head_get(&h, "authorization", &n);
    cr_assert_not_null(v, "names are case-insensitive");
    cr_assert_eq(n, strlen("Bearer s3cret"), "blanks around the value are not part of it");
    cr_assert_eq(strncmp(v, "Bearer s3cret", n), 0);
    cr_assert_null(bm_http_head_get(&h, "Cookie", &n));
    cr_assert_eq(h.content_length, -1);
}

Test(http_request, bare_newlines_and_leading_blank_lines)
{
    cr_assert_eq(parse("\r\nHEAD / HTTP/1.0\nHost: x\n\n"), BM_HTTP_HEAD_OK);
    cr_assert_eq(h.minor, 0);
    cr_assert_eq(strncmp(h.method, "HEAD", 4), 0);
}

Test(http_request, still_arriving)
{
    const char *r = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t i = 0; i < strlen(r); i++)
        cr_assert_eq(bm_http_head_parse(r, i, 16384, &h), BM_HTTP_HEAD_MORE, "%zu bytes", i);
    cr_assert_eq(bm_http_head_parse(r, strlen(r), 16384, &h), BM_HTTP_HEAD_OK);
}

Test(http_request, the_bound)
{
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    cr_assert_eq(bm_http_head_parse(big, sizeof big, 256, &h), BM_HTTP_HEAD_TOO_LARGE,
                 "no end within the bound");
    cr_assert_eq(bm_http_head_parse(big, 100, 256, &h), BM_HTTP_HEAD_MORE, "not yet");
    const char *r = "GET / HTTP/1.1\r\nA: 1\r\n\r\n";
    cr_assert_eq(bm_http_head_parse(r, strlen(r), strlen(r) - 1, &h), BM_HTTP_HEAD_TOO_LARGE,
                 "one byte over");
    char many[8192] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < BM_HTTP_HEADERS_MAX + 1; i++)
        strcat(many, "X: y\r\n");
    strcat(many, "\r\n");
    cr_assert_eq(parse(many), BM_HTTP_HEAD_TOO_LARGE, "too many fields");
}

Test(http_request, malformed)
{
    const char *bad[] = {
        "get / HTTP/1.1\r\n\r\n",              /* lower-case method */
        "GET\r\n\r\n",                         /* no target */
        "GET  / HTTP/1.1\r\n\r\n",             /* two blanks */
        "GET / HTTP/1.1 \r\n\r\n",             /* trailing blank */
        "GET /\x01 HTTP/1.1\r\n\r\n",          /* a control byte in the target */
        "GET / HTTX/1.1\r\n\r\n",              /* not HTTP */
        "GET / HTTP/11\r\n\r\n",               /* not a version */
        "\x01\x02 / HTTP/9.9\r\n\r\n",         /* garbage */
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",   /* a field without ':' */
        "GET / HTTP/1.1\r\n: v\r\n\r\n",       /* no name */
        "GET / HTTP/1.1\r\nA B: v\r\n\r\n",    /* a blank in the name */
        "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", /* obsolete folding */
        "GET / HTTP/1.1\r\nA: v\x01\r\n\r\n",  /* a control byte in a value */
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /* disagree */
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", /* both */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(parse(bad[i]), BM_HTTP_HEAD_BAD, "#%zu: %s", i, bad[i]);
    const char nul[] = "\x00\x01 / HTTP/1.1\r\n\r\n";
    cr_assert_eq(bm_http_head_parse(nul, sizeof nul - 1, 16384, &h), BM_HTTP_HEAD_BAD, "a NUL");
    cr_assert_eq(parse("GET / HTTP/2.0\r\n\r\n"), BM_HTTP_HEAD_VERSION);
    cr_assert_eq(parse("GET / HTTP/1.2\r\n\r\n"), BM_HTTP_HEAD_VERSION);
}

Test(http_request, lengths)
{
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 12\r\ncontent-length: 12\r\n\r\n"),
                 BM_HTTP_HEAD_OK, "the same twice is fine");
    cr_assert_eq(h.content_length, 12);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), BM_HTTP_HEAD_OK);
    cr_assert_eq(h.chunked, 1, "noted: the caller refuses what it cannot read");
}
