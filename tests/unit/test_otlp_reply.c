/*
 * test_otlp_reply.c - lib/otlp_reply.c: an OTLP/HTTP export's JSON reply
 * read for its partial success; a body that is anything else refused with
 * a printable reason, never counted.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/otlp_reply.h"

static int parse(bm_otlp_signal sig, const char *body, bm_otlp_reply *r)
{
    char why[200];
    return bm_otlp_reply_parse(sig, body, strlen(body), 1000, r, why, sizeof why);
}

Test(otlp_reply, a_full_success_rejects_nothing)
{
    const char *full[] = {"",
                          " \r\n",
                          "{}",
                          "{\"partialSuccess\":{}}",
                          "{\"partialSuccess\":null}",
                          "{\"partialSuccess\":{\"rejectedSpans\":\"0\",\"errorMessage\":\"\"}}"};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        bm_otlp_reply r;
        memset(&r, 0x55, sizeof r);
        cr_assert_eq(parse(BM_OTLP_TRACES, full[i], &r), 0, "%s", full[i]);
        cr_assert_eq(r.rejected, 0);
        cr_assert_str_eq(r.message, "");
    }
}

Test(otlp_reply, a_partial_success_names_its_count_and_message_in_either_spelling)
{
    bm_otlp_reply r;
    cr_assert_eq(
        parse(BM_OTLP_TRACES,
              "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"over\\nquota\"}}",
              &r),
        0);
    cr_assert_eq(r.rejected, 3);
    cr_assert_str_eq(r.message, "over quota"); /* one line */
    cr_assert_eq(parse(BM_OTLP_TRACES,
                       "{\"partial_success\":{\"rejected_spans\":7,\"error_message\":\"x\"}}", &r),
                 0);
    cr_assert_eq(r.rejected, 7);
    cr_assert_str_eq(r.message, "x");
    /* each signal reads its own field */
    const char *both =
        "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"rejectedDataPoints\":\"5\"}}";
    cr_assert_eq(parse(BM_OTLP_METRICS, both, &r), 0);
    cr_assert_eq(r.rejected, 5);
    cr_assert_eq(parse(BM_OTLP_TRACES, both, &r), 0);
    cr_assert_eq(r.rejected, 3);
    cr_assert_eq(parse(BM_OTLP_METRICS,
                       "{\"partial_success\":{\"rejected_data_points\":\"9\",\"x\":[1]},\"y\":2}",
                       &r),
                 0);
    cr_assert_eq(r.rejected, 9);
    /* a warning: nothing rejected, a message */
    cr_assert_eq(
        parse(BM_OTLP_METRICS, "{\"partialSuccess\":{\"errorMessage\":\"slow down\"}}", &r), 0);
    cr_assert_eq(r.rejected, 0);
    cr_assert_str_eq(r.message, "slow down");
}

Test(otlp_reply, a_long_message_is_cut_on_a_character_boundary)
{
    char body[2000];
    char msg[700] = "";
    for (int i = 0; i < 300; i++)
        strcat(msg, "\xc3\xa9"); /* é: two bytes each */
    snprintf(body, sizeof body,
             "{\"partialSuccess\":{\"rejectedSpans\":1,\"errorMessage\":\"%s\"}}", msg);
    bm_otlp_reply r;
    cr_assert_eq(parse(BM_OTLP_TRACES, body, &r), 0);
    cr_assert_eq(r.message_cut, 1);
    size_t n = strlen(r.message);
    cr_assert(n <= BM_OTLP_REPLY_MESSAGE_MAX && n >= BM_OTLP_REPLY_MESSAGE_MAX - 1);
    cr_assert_eq(n % 2, 0, "cut inside a character: %zu bytes", n);
    cr_assert_eq(memcmp(r.message, msg, n), 0);
}

Test(otlp_reply, anything_else_is_refused_and_counts_nothing)
{
    const char *bad[] = {
        "ok\n",
        "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMess",
        "[1,2]",
        "\"partialSuccess\"",
        "{\"partialSuccess\":\"3\"}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"-3\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":-3}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"1.5\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":1.5}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\" 3\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"18446744073709551615\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"99999999999999999999\"}}",
        "{\"partialSuccess\":{\"rejectedSpans\":true}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"1001\"}}", /* more than the request held */
        "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":7}}",
        "{\"partialSuccess\":{\"rejectedSpans\":\"3\"},\"partialSuccess\":{}}",
        "{} {}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bm_otlp_reply r;
        char why[200] = "";
        cr_assert_eq(
            bm_otlp_reply_parse(BM_OTLP_TRACES, bad[i], strlen(bad[i]), 1000, &r, why, sizeof why),
            -1, "%s", bad[i]);
        cr_assert_eq(r.rejected, 0);
        cr_assert_str_eq(r.message, "");
        cr_assert(why[0], "no reason for %s", bad[i]);
    }
}

Test(otlp_reply, binary_and_deeply_nested_bodies_are_refused_with_a_printable_reason)
{
    /* bytes of every value, NULs among them, not NUL-terminated */
    char bin[4096];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i * 131 + 7);
    bm_otlp_reply r;
    char why[200];
    cr_assert_eq(bm_otlp_reply_parse(BM_OTLP_METRICS, bin, sizeof bin, 1000, &r, why, sizeof why),
                 -1);
    for (const char *c = why; *c; c++)
        cr_assert(*c >= 0x20 && *c < 0x7f, "unprintable byte in the reason: %s", why);
    /* 64 KiB of '[' (what the sink reads at most): a parser that recursed per
     * level without a bound would run off its stack */
    size_t n = 64 * 1024;
    char *deep = malloc(n);
    cr_assert_not_null(deep);
    memset(deep, '[', n);
    cr_assert_eq(bm_otlp_reply_parse(BM_OTLP_TRACES, deep, n, 1000, &r, why, sizeof why), -1);
    free(deep);
}
