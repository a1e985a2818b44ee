/*
 * test_event_text.c - identities are text (proto/text.c): the check itself
 * (NUL, control characters, every kind of invalid UTF-8, the bound), free
 * text scrubbed to valid UTF-8, and every identity field refused whole
 * (bad_id, with its detail) in the three encodings and in pub/sub, never cut
 * or merged.
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

static int ok(const char *s, size_t n, size_t max)
{
    return bm_identity_check("x", s, n, max, NULL, 0) == 0;
}

Test(text, identity_check)
{
    cr_assert(ok("worker-1", 8, 256));
    cr_assert(ok("", 0, 256));
    cr_assert(ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 256), "2, 3 and 4 byte forms");
    cr_assert(ok("\xef\xbf\xbf", 3, 0), "U+FFFF is a character");
    cr_assert(ok("\xf4\x8f\xbf\xbf", 4, 0), "U+10FFFF, the last one");
    cr_assert(!ok("nul\0tx", 6, 256), "NUL");
    cr_assert(!ok("a\nb", 3, 256), "newline: a forged log line");
    cr_assert(!ok("a\x7f", 2, 256), "DEL");
    cr_assert(!ok("\x1b[31m", 5, 256), "escape");
    cr_assert(!ok("\xff", 1, 256), "0xff is never UTF-8");
    cr_assert(!ok("\xc0\xaf", 2, 256), "overlong '/'");
    cr_assert(!ok("\xe0\x80\xaf", 3, 256), "overlong, 3 bytes");
    cr_assert(!ok("\xf0\x80\x80\xaf", 4, 256), "overlong, 4 bytes");
    cr_assert(!ok("\xed\xa0\x80", 3, 256), "a surrogate");
    cr_assert(!ok("\xf4\x90\x80\x80", 4, 256), "above U+10FFFF");
    cr_assert(!ok("\xc3", 1, 256), "cut short");
    cr_assert(!ok("\xe2\x82", 2, 256), "cut short, 3 bytes");
    cr_assert(!ok("\x80", 1, 256), "a lone continuation byte");
    cr_assert(ok("12345678", 8, 8));
    cr_assert(!ok("123456789", 9, 8), "one byte over");
    char why[128];
    cr_assert_eq(bm_identity_check("tx", "nul\0tx-7", 8, 256, why, sizeof why), -1);
    cr_assert_str_eq(why, "tx holds a NUL byte at byte 3");
    bm_identity_check("worker", "ab\xfe", 3, 256, why, sizeof why);
    cr_assert_str_eq(why, "worker is not valid UTF-8 (byte 0xfe at byte 2)");
    bm_identity_check("step", "a\tb", 3, 256, why, sizeof why);
    cr_assert_str_eq(why, "step holds control character 0x09 at byte 1");
}

Test(text, scrub)
{
    char out[16];
    const char *in = "a\xff" "b\xc3\xa9" "c\xe2\x82";
    size_t n = bm_text_scrub(out, in, 8);
    cr_assert_eq(n, 8);
    cr_assert_eq(memcmp(out, "a?b\xc3\xa9" "c??", 8), 0);
    cr_assert_eq(bm_identity_check("m", out, n, 0, NULL, 0), 0, "the result is valid UTF-8");
}

/* What a text view prints: no escape sequence, no forged line reaches the
 * terminal; the rest (é, 中) is kept; a cut never splits an escape. */
Test(text, for_terminal)
{
    char out[128];
    bm_text_for_terminal(out, sizeof out, "x\x1b]0;owned\x07\x1b[2J\nforged\x7f");
    cr_assert_str_eq(out, "x\\x1b]0;owned\\x07\\x1b[2J\\x0aforged\\x7f");
    bm_text_for_terminal(out, sizeof out,
                         "csi\xc2\x9b"
                         "2J nel\xc2\x85 nbsp\xc2\xa0 \xc3\xa9\xe4\xb8\xad bad\xff\x9b");
    cr_assert_str_eq(out, "csi\\x9b"
                          "2J nel\\x85 nbsp\xc2\xa0 \xc3\xa9\xe4\xb8\xad bad\\xff\\x9b");
    cr_assert_eq(bm_text_for_terminal(out, 6, "ab\x1b"), 2, "no room for the whole escape");
    cr_assert_str_eq(out, "ab");
    cr_assert_eq(bm_text_for_terminal(out, 4, "ab\xc3\xa9"), 2, "no room for the whole é");
    bm_text_for_terminal(out, sizeof out, NULL);
    cr_assert_str_eq(out, "");
}

/* How much of the text a cut one shows, so the view can say what it left out. */
Test(text, for_terminal_part_says_what_it_showed)
{
    char out[128];
    size_t used = 99;
    cr_assert_eq(bm_text_for_terminal_part(out, sizeof out, "ab\x1b\xc3\xa9", &used), 8);
    cr_assert_eq(used, 5, "whole: every byte");
    cr_assert_eq(bm_text_for_terminal_part(out, 6, "ab\x1b", &used), 2);
    cr_assert_eq(used, 2, "the escape left out");
    cr_assert_eq(bm_text_for_terminal_part(out, 4, "ab\xc3\xa9", &used), 2);
    cr_assert_eq(used, 2, "the é left out whole");
    bm_text_for_terminal_part(out, sizeof out, NULL, &used);
    cr_assert_eq(used, 0);
}

/* ---- each identity field, each encoding ---------------------------------- */

static bm_decoder *dec;
static bm_event ev;

static void setup(void)
{
    bm_decode_limits lim = {.max_id_bytes = 16};
    dec = bm_decoder_new(&lim);
}

static void teardown(void)
{
    bm_decoder_free(dec);
}

/* A valid error event with `key` set to value (vlen bytes): flat fields. */
static bm_decode_status flat(const char *key, const char *value, size_t vlen)
{
    const char *f[6] = {"type", "tx", "worker", "step", "id", key};
    const char *v[6] = {"error", "tx-1", "w", "fetch", "e-1", value};
    size_t fl[6], vl[6];
    for (int i = 0; i < 6; i++)
        fl[i] = strlen(f[i]), vl[i] = strlen(v[i]);
    vl[5] = vlen;
    size_t n = 6;
    for (int i = 0; i < 5; i++) /* the key replaces its own field */
        if (!strcmp(f[i], key)) v[i] = value, vl[i] = vlen, n = 5;
    return bm_decode_entry(dec, n, f, fl, v, vl, &ev);
}

/* The same as msgpack in field m. */
static bm_decode_status mp(const char *key, const char *value, size_t vlen)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const char *k[6] = {"type", "tx", "worker", "step", "id", key};
    const char *v[6] = {"error", "tx-1", "w", "fetch", "e-1", value};
    size_t vl[6] = {5, 4, 1, 5, 3, vlen};
    int n = 6;
    for (int i = 0; i < 5; i++)
        if (!strcmp(k[i], key)) v[i] = value, vl[i] = vlen, n = 5;
    msgpack_pack_map(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_str(&pk, strlen(k[i]));
        msgpack_pack_str_body(&pk, k[i], strlen(k[i]));
        msgpack_pack_str(&pk, vl[i]);
        msgpack_pack_str_body(&pk, v[i], vl[i]);
    }
    const char *f[1] = {"m"};
    size_t fl[1] = {1};
    const char *vals[1] = {sb.data};
    size_t vls[1] = {sb.size};
    bm_decode_status st = bm_decode_entry(dec, 1, f, fl, vals, vls, &ev);
    msgpack_sbuffer_destroy(&sb);
    return st;
}

/* The same as JSON in field json (the value as a JSON string: \u0000 for NUL,
 * raw bytes otherwise; jansson refuses raw invalid UTF-8, so that case is the
 * decoder's not_json). */
static bm_decode_status js(const char *key, const char *value, size_t vlen)
{
    char esc[512], body[1024];
    size_t at = 0;
    for (size_t i = 0; i < vlen && at + 8 < sizeof esc; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20)
            at += (size_t)snprintf(esc + at, sizeof esc - at, "\\u%04x", c);
        else
            esc[at++] = (char)c;
    }
    esc[at] = '\0';
    /* a key given twice: the last one is the value (jansson) */
    snprintf(body, sizeof body, "{\"type\":\"error\",\"tx\":\"tx-1\",\"worker\":\"w\","
             "\"step\":\"fetch\",\"id\":\"e-1\",\"%s\":\"%s\"}", key, esc);
    const char *f[1] = {"json"};
    size_t fl[1] = {4};
    const char *vals[1] = {body};
    size_t vls[1] = {strlen(body)};
    return bm_decode_entry(dec, 1, f, fl, vals, vls, &ev);
}

typedef bm_decode_status (*enc_fn)(const char *, const char *, size_t);

static const char *const fields[] = {"tx", "worker", "step", "id", "error_type", "type", "cmd",
                                     "corr", "source"};

Test(text, identities_refused_in_every_encoding, .init = setup, .fini = teardown)
{
    const struct {
        const char *name;
        enc_fn fn;
    } encs[] = {{"flat", flat}, {"msgpack", mp}, {"json", js}};
    for (size_t e = 0; e < 3; e++) {
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
            const char *k = fields[i];
            /* the good value decodes (type must stay a type) */
            const char *good = !strcmp(k, "type") ? "error" : "fine-1";
            cr_assert_eq(encs[e].fn(k, good, strlen(good)), BM_DECODE_OK, "%s %s", encs[e].name,
                         k);
            cr_assert_eq(encs[e].fn(k, "nul\0x", 5), BM_DECODE_BAD_ID, "%s %s: NUL",
                         encs[e].name, k);
            char want[96];
            snprintf(want, sizeof want, "%s holds a NUL byte at byte 3", k);
            cr_assert_str_eq(bm_decoder_detail(dec, BM_DECODE_BAD_ID), want, "%s", encs[e].name);
            cr_assert_eq(encs[e].fn(k, "a\nb", 3), BM_DECODE_BAD_ID, "%s %s: newline",
                         encs[e].name, k);
            cr_assert_eq(encs[e].fn(k, "12345678901234567", 17), BM_DECODE_BAD_ID,
                         "%s %s: 17 bytes > 16", encs[e].name, k);
            if (encs[e].fn != js) /* jansson already refuses invalid UTF-8 (not_json) */
                cr_assert_eq(encs[e].fn(k, "ab\xff", 3), BM_DECODE_BAD_ID, "%s %s: UTF-8",
                             encs[e].name, k);
            else
                cr_assert_eq(encs[e].fn(k, "ab\xff", 3), BM_DECODE_NOT_JSON);
        }
    }
}

Test(text, distinct_ids_stay_distinct, .init = setup, .fini = teardown)
{
    /* the case: nul\0tx-0 .. nul\0tx-50 once became one trace "nul" */
    for (int i = 0; i < 51; i++) {
        char tx[16];
        int n = snprintf(tx, sizeof tx, "nul%ctx-%d", 0, i);
        cr_assert_eq(flat("tx", tx, (size_t)n), BM_DECODE_BAD_ID);
    }
    cr_assert_eq(flat("tx", "1234567890123456", 16), BM_DECODE_OK, "exactly the bound");
    cr_assert_str_eq(ev.tx, "1234567890123456", "never cut");
}

Test(text, free_text_is_scrubbed_not_refused, .init = setup, .fini = teardown)
{
    cr_assert_eq(flat("error_message", "bad \xff byte", 10), BM_DECODE_OK);
    cr_assert_str_eq(ev.error_message, "bad ? byte");
    cr_assert_eq(flat("status", "run\xc3", 4), BM_DECODE_OK);
}

/* An attribute's key is shown as its value is (traces, /api/traces, OTLP):
 * its bytes that are not UTF-8 are '?' too. Kept raw, such a key made the
 * stored trace record a msgpack str that is not UTF-8 and was dropped from
 * every JSON view (jansson refuses the key), the attribute silently gone. */
Test(text, attribute_keys_are_scrubbed_as_their_values, .init = setup, .fini = teardown)
{
    const enc_fn encs[] = {flat, mp};
    for (size_t e = 0; e < 2; e++) {
        cr_assert_eq(encs[e]("gr\xf6\xdf"
                             "e",
                             "v\xff", 2),
                     BM_DECODE_OK);
        cr_assert_eq(ev.n_attrs, 1);
        cr_assert_str_eq(ev.attrs[0].key, "gr??e");
        cr_assert_str_eq(ev.attrs[0].value, "v?");
        cr_assert_eq(bm_identity_check("key", ev.attrs[0].key, strlen(ev.attrs[0].key), 0, NULL, 0),
                     0, "valid UTF-8 (and here: no control character)");
    }
    /* the stored record (encode.c) carries it as it now is */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_event_encode_msgpack(&ev, -1, &sb), 0);
    cr_assert_null(memmem(sb.data, sb.size, "\xf6", 1));
    msgpack_sbuffer_destroy(&sb);
}

Test(text, pubsub_channels, .init = setup, .fini = teardown)
{
    const char *body = "{\"tx\": \"t\"}";
    const char *good = "multiagent:command.w";
    bm_decode_limits lim = {.max_id_bytes = 64};
    bm_decoder *d = bm_decoder_new(&lim);
    cr_assert_eq(bm_decode_pubsub(d, NULL, good, strlen(good), body, strlen(body), &ev),
                 BM_DECODE_OK);
    const char nul[] = "multiagent:command.nul\0worker";
    cr_assert_eq(bm_decode_pubsub(d, NULL, nul, sizeof nul - 1, body, strlen(body), &ev),
                 BM_DECODE_BAD_ID);
    cr_assert_str_eq(bm_decoder_detail(d, BM_DECODE_BAD_ID), "channel holds a NUL byte at byte 22");
    const char *bad = "multiagent:command.\xc3\x28";
    cr_assert_eq(bm_decode_pubsub(d, NULL, bad, strlen(bad), body, strlen(body), &ev),
                 BM_DECODE_BAD_ID);
    const char *other = "elsewhere\xff";
    cr_assert_eq(bm_decode_pubsub(d, NULL, other, strlen(other), body, strlen(body), &ev),
                 BM_DECODE_BAD_ID, "a channel matching nothing is still an identity");
    bm_decoder_free(d);
}
