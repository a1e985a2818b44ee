/*
 * pubsub_decode.c - test helper: decode captured pub/sub messages with
 * bm_decode_pubsub, so a shell test can check what busmon would read.
 *
 * Input (stdin): what `redis-cli PSUBSCRIBE ...` prints when not on a
 * terminal, one element per line; every `pmessage` is followed by the
 * pattern, the channel and the body (bodies are single-line JSON). Other
 * lines (the subscription confirmations) are skipped.
 *
 * Output (stdout): one tab-separated line per message:
 *
 *   decode-status channel type worker tx cmd ok error_type status progress timeout_s id step
 *
 * with "-" for an empty string, ok as 1 / 0 / -1, progress and timeout_s
 * with %g (-1 / 0 when absent).
 *
 *   bm-pubsub-decode [--prefix P] < capture.txt
 */
#include "proto/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *or_dash(const char *s)
{
    return *s ? s : "-";
}

/* One line without its newline, or NULL at the end. The caller frees. */
static char *read_line(size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *len = (size_t)n;
    return line;
}

int main(int argc, char **argv)
{
    bm_channel_scheme scheme;
    bm_channel_scheme_default(&scheme);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
            scheme.prefix = argv[++i];
        } else {
            fprintf(stderr, "usage: bm-pubsub-decode [--prefix P] < capture\n");
            return 2;
        }
    }
    bm_decoder *d = bm_decoder_new(NULL);
    if (!d) return 1;
    size_t len;
    char *line;
    int rc = 0;
    while ((line = read_line(&len)) != NULL) {
        if (strcmp(line, "pmessage") != 0) {
            free(line);
            continue;
        }
        free(line);
        size_t pattern_len, channel_len, body_len;
        char *pattern = read_line(&pattern_len);
        char *channel = pattern ? read_line(&channel_len) : NULL;
        char *body = channel ? read_line(&body_len) : NULL;
        if (!body) {
            fprintf(stderr, "bm-pubsub-decode: truncated pmessage\n");
            free(pattern);
            free(channel);
            rc = 1;
            break;
        }
        bm_event ev;
        bm_decode_status st =
            bm_decode_pubsub(d, &scheme, channel, channel_len, body, body_len, &ev);
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%g\t%g\t%s\t%s\n", bm_decode_status_name(st),
               channel, st == BM_DECODE_OK ? bm_event_type_name(ev.type) : "-", or_dash(ev.worker),
               or_dash(ev.tx), or_dash(ev.cmd), ev.ok, or_dash(ev.error_type), or_dash(ev.status),
               ev.progress, ev.timeout_s, or_dash(ev.id), or_dash(ev.step));
        free(pattern);
        free(channel);
        free(body);
    }
    bm_decoder_free(d);
    return rc;
}
