/*
 * fuzz_decode.c - libFuzzer target for every proto/ decoder.
 *
 * The input is read three ways: whole, as a msgpack map and as a JSON text;
 * split at NUL bytes into field/value pairs for bm_decode_entry (so the
 * fuzzer can reach msgpack in `m`, JSON in `json` and flat fields); and as a
 * time for bm_parse_time; and as a pub/sub message, "channel\0body", with
 * the default channel scheme or another one. Every decoded event is encoded
 * again and decoded back, which must succeed: the encoder writes only what
 * the decoder reads. Every decoded event's ids and names must be identities
 * (proto/text.c: valid UTF-8, no control character, within max_id_bytes),
 * its free text (attribute keys and values too) valid UTF-8, and a bad_id must come with its
 * detail.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, or with
 * standalone_main.c to replay a corpus without clang (ctest does). A run,
 * from the repository (the corpus copied, so the finds stay out of it):
 *
 *   clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *       -D_GNU_SOURCE -I. $(pkg-config --cflags msgpack jansson) $(find proto -name '*.c') \
 *       tests/fuzz/fuzz_decode.c $(pkg-config --libs msgpack jansson) -lm -o /tmp/fuzz_decode
 *   cp -r tests/fuzz/corpus /tmp/fuzz-work
 *   nice -n 10 /tmp/fuzz_decode -max_total_time=720 -max_len=16384 /tmp/fuzz-work
 *
 * The JSON seeds (json_*, entry_json_*) hold the MultiAgents Framework's
 * shapes, deep nesting, escapes, repeated keys and huge numbers.
 */
#include "proto/event.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32

static void check_roundtrip(const bm_event *ev)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (bm_event_encode_msgpack(ev, -1, &sb) == 0) {
        bm_decoder *d = bm_decoder_new(NULL);
        bm_event back;
        if (d && bm_decode_msgpack(d, sb.data, sb.size, &back) != BM_DECODE_OK) abort();
        if (d && (back.type != ev->type || strcmp(back.tx, ev->tx) != 0 ||
                  back.ts_us != ev->ts_us || back.ok != ev->ok || back.n_attrs != ev->n_attrs))
            abort();
        bm_decoder_free(d);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Ids and names are identities within max_id; the rest is valid UTF-8 text. */
static void check_text(const bm_event *ev, size_t max_id)
{
    const char *ids[] = {ev->id,   ev->tx,     ev->corr,   ev->cmd,
                         ev->worker, ev->step, ev->source, ev->error_type};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (bm_identity_check("id", ids[i], strlen(ids[i]), max_id, NULL, 0)) abort();
    const char *text[3 + 2 * BM_EVENT_MAX_ATTRS] = {ev->status, ev->message, ev->error_message};
    size_t n_text = 3;
    for (unsigned a = 0; a < ev->n_attrs; a++) {
        text[n_text++] = ev->attrs[a].key;
        text[n_text++] = ev->attrs[a].value;
    }
    for (size_t i = 0; i < n_text; i++) {
        /* valid UTF-8: the identity check without its control-character rule */
        char buf[4096];
        size_t n = strlen(text[i]);
        if (n > sizeof buf) abort();
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char)text[i][k] < 0x20 || text[i][k] == 0x7f ? 'x' : text[i][k];
        if (bm_identity_check("text", buf, n, 0, NULL, 0)) abort();
    }
}

/* A refusal as bad_id says why. */
static void check_status(const bm_decoder *d, bm_decode_status st)
{
    if ((unsigned)st >= BM_DECODE__COUNT) abort();
    if (st == BM_DECODE_BAD_ID &&
        !strcmp(bm_decoder_detail(d, st), bm_decode_status_detail(st)))
        abort();
}

/* Touch every string so ASan sees a dangling one. */
static size_t touch(const bm_event *ev)
{
    size_t n = strlen(ev->id) + strlen(ev->tx) + strlen(ev->corr) + strlen(ev->cmd) +
               strlen(ev->worker) + strlen(ev->step) + strlen(ev->source) + strlen(ev->status) +
               strlen(ev->message) + strlen(ev->error_type) + strlen(ev->error_message);
    for (unsigned i = 0; i < ev->n_attrs; i++)
        n += strlen(ev->attrs[i].key) + strlen(ev->attrs[i].value);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bm_decode_limits small = {
        .max_entry_bytes = 4096, .max_string_bytes = 16, .max_message_bytes = 8,
        .max_id_bytes = 12};
    bm_decoder *d = bm_decoder_new(size & 1 ? &small : NULL);
    const size_t max_id = size & 1 ? small.max_id_bytes : BM_ID_MAX;
    if (!d) return 0;
    const char *buf = (const char *)data;
    bm_event ev;
    volatile size_t sink = 0;

    bm_decode_status mst = bm_decode_msgpack(d, buf, size, &ev);
    check_status(d, mst);
    if (mst == BM_DECODE_OK) {
        sink += touch(&ev);
        check_text(&ev, max_id);
        check_roundtrip(&ev);
    }
    bm_decode_status jst = bm_decode_json(d, buf, size, &ev);
    check_status(d, jst);
    if (jst == BM_DECODE_OK) {
        sink += touch(&ev);
        check_text(&ev, max_id);
        check_roundtrip(&ev);
    }
    int64_t ts;
    if (bm_parse_time(buf, size, &ts) == 0) sink += (size_t)ts;

    /* pub/sub: "channel\0body" (no NUL: the whole input is the body) */
    {
        static const bm_channel_scheme other = {.prefix = "a/",
                                                .separator = "::",
                                                .command = "c",
                                                .result = "r",
                                                .error = NULL,
                                                .status = "s",
                                                .compensation = "comp"};
        const char *nul = memchr(buf, '\0', size);
        size_t channel_len = nul ? (size_t)(nul - buf) : 0;
        const char *body = nul ? nul + 1 : buf;
        size_t body_len = nul ? size - channel_len - 1 : size;
        bm_decode_status pst = bm_decode_pubsub(d, size & 2 ? &other : NULL, nul ? buf : NULL,
                                                channel_len, body, body_len, &ev);
        check_status(d, pst);
        if (pst == BM_DECODE_OK) {
            sink += touch(&ev);
            check_text(&ev, max_id);
            check_roundtrip(&ev);
        }
        bm_event_type t;
        const char *name;
        size_t name_len;
        if (bm_channel_match(NULL, buf, channel_len, &t, &name, &name_len) &&
            (name < buf || name + name_len > buf + channel_len))
            abort();
    }

    /* fields: "f\0v\0f\0v..." */
    const char *fields[MAX_FIELDS], *values[MAX_FIELDS];
    size_t field_lens[MAX_FIELDS], value_lens[MAX_FIELDS], n = 0;
    const char *p = buf, *end = buf + size;
    while (p < end && n < MAX_FIELDS) {
        const char *f = p;
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t fl = z ? (size_t)(z - p) : (size_t)(end - p);
        p = z ? z + 1 : end;
        const char *v = p;
        z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        size_t vl = z ? (size_t)(z - p) : (size_t)(end - p);
        p = z ? z + 1 : end;
        fields[n] = f;
        field_lens[n] = fl;
        values[n] = v;
        value_lens[n] = vl;
        n++;
    }
    bm_decode_status st = bm_decode_entry(d, n, fields, field_lens, values, value_lens, &ev);
    check_status(d, st);
    if (st == BM_DECODE_OK) {
        sink += touch(&ev);
        check_text(&ev, max_id);
        check_roundtrip(&ev);
    }
    (void)sink;
    bm_decoder_free(d);
    return 0;
}
