/*
 * request.h - the head of one HTTP/1.x request, parsed from bytes: the
 * request line and the header fields, within a size bound. Pure: no
 * allocation, no I/O, pointers into the caller's buffer; the connection
 * layer (httpd.c) feeds it what has arrived so far and asks again when more
 * comes.
 *
 *   GET /api/workers?window=5m HTTP/1.1\r\n      request line
 *   Host: 127.0.0.1:9464\r\n                     header fields (name: value)
 *   Authorization: Bearer s3cret\r\n
 *   \r\n                                         end of the head
 *
 * Strict where leniency is a risk: the method is an upper-case token, the
 * target has no blank or control byte, the version is HTTP/1.0 or HTTP/1.1
 * (another well-formed one is 505), a header name is a token and its value
 * has no control byte but tab, a folded line (obsolete) or a field without
 * a ':' is 400, Content-Length must be digits and agree with itself, and
 * Transfer-Encoding is noted (the caller refuses bodies it cannot read). A
 * bare "\n" ends a line as "\r\n" does.
 */
#ifndef BM_HTTP_REQUEST_H
#define BM_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define BM_HTTP_HEADERS_MAX 64 /* more header fields: 431 */

typedef struct {
    const char *name, *value; /* into the buffer; not NUL-terminated */
    size_t name_len, value_len;
} bm_http_header;

typedef struct {
    const char *method, *target;
    size_t method_len, target_len;
    int minor;                /* HTTP/1.minor: 0 or 1 */
    bm_http_header headers[BM_HTTP_HEADERS_MAX];
    size_t n_headers;
    size_t head_len;          /* bytes of the head, its blank line included */
    int64_t content_length;   /* -1: none given */
    int chunked;              /* a Transfer-Encoding field was given */
} bm_http_head;

typedef enum {
    BM_HTTP_HEAD_OK = 0,       /* *out filled */
    BM_HTTP_HEAD_MORE,         /* not complete yet, and within the bound: read more */
    BM_HTTP_HEAD_BAD,          /* 400: not a request */
    BM_HTTP_HEAD_TOO_LARGE,    /* 431: no end of the head within max_bytes, or too many fields */
    BM_HTTP_HEAD_VERSION,      /* 505: a well-formed version busmon does not speak */
} bm_http_head_status;

/*
 * Parse the head at the start of buf (len bytes so far), at most max_bytes
 * long. @return BM_HTTP_HEAD_OK with *out filled (pointers into buf), or
 * why not (*out is then undefined).
 */
bm_http_head_status bm_http_head_parse(const char *buf, size_t len, size_t max_bytes,
                                       bm_http_head *out);

/* The value of header `name` (case-insensitive), or NULL; *len gets its length. */
const char *bm_http_head_get(const bm_http_head *h, const char *name, size_t *len);

#endif
