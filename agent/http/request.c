/*
 * request.c - an HTTP/1.x request head from bytes (request.h).
 */
#include "agent/http/request.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The end of the line starting at p (its '\n'), or NULL when not in [p, end). */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* [p, nl) without the '\r' before the '\n'. */
static size_t line_len(const char *p, const char *nl)
{
    size_t n = (size_t)(nl - p);
    return n && p[n - 1] == '\r' ? n - 1 : n;
}

static bm_http_head_status request_line(const char *p, size_t n, bm_http_head *out)
{
    size_t i = 0;
    while (i < n && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    if (i == 0 || i > 16 || i >= n || p[i] != ' ') return BM_HTTP_HEAD_BAD;
    out->method = p;
    out->method_len = i;
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && p[i] != 0x7f)
        i++;
    if (i == t || i >= n || p[i] != ' ') return BM_HTTP_HEAD_BAD;
    out->target = p + t;
    out->target_len = i - t;
    const char *v = p + i + 1;
    size_t vl = n - i - 1;
    if (vl != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return BM_HTTP_HEAD_BAD;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return BM_HTTP_HEAD_VERSION;
    out->minor = v[7] - '0';
    return BM_HTTP_HEAD_OK;
}

/* Content-Length: digits only; a second one must agree. */
static int content_length(const char *v, size_t n, int64_t *cl)
{
    if (n == 0 || n > 15) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (*cl >= 0 && *cl != x) return -1;
    *cl = x;
    return 0;
}

bm_http_head_status bm_http_head_parse(const char *buf, size_t len, size_t max_bytes,
                                       bm_http_head *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    const char *end = buf + (len < max_bytes ? len : max_bytes);
    const char *p = buf;
    /* a few empty lines before the request line are allowed (RFC 9112 2.2) */
    for (int skipped = 0; p < end && (*p == '\r' || *p == '\n') && skipped < 8; skipped++)
        p += *p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1;
    const char *nl = line_end(p, end);
    if (!nl) return len >= max_bytes ? BM_HTTP_HEAD_TOO_LARGE : BM_HTTP_HEAD_MORE;
    bm_http_head_status st = request_line(p, line_len(p, nl), out);
    if (st != BM_HTTP_HEAD_OK) return st;
    for (p = nl + 1;;) {
        nl = line_end(p, end);
        if (!nl) return len >= max_bytes ? BM_HTTP_HEAD_TOO_LARGE : BM_HTTP_HEAD_MORE;
        size_t n = line_len(p, nl);
        if (n == 0) break; /* the blank line: the end of the head */
        if (*p == ' ' || *p == '\t') return BM_HTTP_HEAD_BAD; /* obsolete line folding */
        size_t c = 0;
        while (c < n && is_tchar((unsigned char)p[c]))
            c++;
        if (c == 0 || c >= n || p[c] != ':') return BM_HTTP_HEAD_BAD;
        size_t vs = c + 1, ve = n;
        while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
            vs++;
        while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
            ve--;
        for (size_t i = vs; i < ve; i++)
            if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
                return BM_HTTP_HEAD_BAD;
        if (out->n_headers == BM_HTTP_HEADERS_MAX) return BM_HTTP_HEAD_TOO_LARGE;
        bm_http_header *h = &out->headers[out->n_headers++];
        *h = (bm_http_header){p, p + vs, c, ve - vs};
        if (c == 14 && !strncasecmp(p, "Content-Length", 14) &&
            content_length(h->value, h->value_len, &out->content_length))
            return BM_HTTP_HEAD_BAD;
        if (c == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) out->chunked = 1;
        p = nl + 1;
    }
    if (out->chunked && out->content_length >= 0) return BM_HTTP_HEAD_BAD; /* smuggling */
    out->head_len = (size_t)(nl + 1 - buf);
    return BM_HTTP_HEAD_OK;
}

const char *bm_http_head_get(const bm_http_head *h, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n_headers; i++)
        if (h->headers[i].name_len == n && !strncasecmp(h->headers[i].name, name, n)) {
            if (len) *len = h->headers[i].value_len;
            return h->headers[i].value;
        }
    return NULL;
}
