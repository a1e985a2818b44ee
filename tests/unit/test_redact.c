/*
 * test_redact.c - lib/redact: every secret form it hides, texts it must
 * leave alone, and the output bound.
 */
#include "lib/redact.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *r(const char *in)
{
    static char out[1024];
    bm_redact(in, strlen(in), out, sizeof out);
    return out;
}

Test(redact, url_passwords)
{
    cr_assert_str_eq(r("connecting to redis://:s3cret@127.0.0.1:6379/0"),
                     "connecting to redis://:***@127.0.0.1:6379/0");
    cr_assert_str_eq(r("redis://alice:pw@host:1"), "redis://alice:***@host:1");
    cr_assert_str_eq(r("POST https://u:p%40ss@hooks.example.com/x failed"),
                     "POST https://u:***@hooks.example.com/x failed");
    /* no password: untouched */
    cr_assert_str_eq(r("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    cr_assert_str_eq(r("redis://alice@host:1"), "redis://alice@host:1");
    cr_assert_str_eq(r("http://127.0.0.1:9464/metrics?a=b@c"), "http://127.0.0.1:9464/metrics?a=b@c");
}

Test(redact, secret_keys)
{
    cr_assert_str_eq(r("http://127.0.0.1:1/hook?token=abc123secret&x=1"),
                     "http://127.0.0.1:1/hook?token=***&x=1");
    cr_assert_str_eq(r("password: hunter2"), "password: ***");
    cr_assert_str_eq(r("{\"routing_key\":\"R0UT1NG\",\"event_action\":\"trigger\"}"),
                     "{\"routing_key\":\"***\",\"event_action\":\"trigger\"}");
    cr_assert_str_eq(r("Authorization: Bearer eyJhbGciOi.x.y"), "Authorization: Bearer ***");
    cr_assert_str_eq(r("authorization=Basic dXNlcjpwYXNz"), "authorization=Basic ***");
    cr_assert_str_eq(r("api_key='k-123' apiKey=x DB_PASSWORD=y client_secret = z"),
                     "api_key='***' apiKey=*** DB_PASSWORD=*** client_secret = ***");
    cr_assert_str_eq(r("\"clientSecret\": \"with \\\" quote\" next"), "\"clientSecret\": \"***\" next");
}

Test(redact, slack_webhooks)
{
    cr_assert_str_eq(r("sink chat: https://hooks.slack.com/services/T000/B000/XXXXSECRET returned 500"),
                     "sink chat: https://hooks.slack.com/services/*** returned 500");
}

Test(redact, leaves_ordinary_text_alone)
{
    const char *keep[] = {
        "worker flaky: healthy -> degraded: error rate 34 % over 5m > 10 %",
        "stream busmon:events: consumer lag 1000 > ready_max_lag 500",
        "rule 'high_error_rate': threshold must be a number",
        "NetworkError: Connection reset by peer",
        "tokens_used=5 max_tokens: 7 author=bob passage=3",
        "XREADGROUP failed: NOGROUP No such key 'busmon:events'",
        "",
        "token",
        "password=",
        "webhook 'hook-token': POST http://127.0.0.1:1: connection refused",
    };
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        cr_assert_str_eq(r(keep[i]), keep[i]);
}

Test(redact, output_is_bounded)
{
    char out[8];
    size_t n = bm_redact("redis://:secretsecret@h", 23, out, sizeof out);
    cr_assert_eq(n, 7);
    cr_assert_eq(strlen(out), 7);
    cr_assert_str_eq(out, "redis:/");
    char one[1];
    cr_assert_eq(bm_redact("abc", 3, one, 1), 0);
    cr_assert_str_eq(one, "");
    /* a long secret value never leaks past the mask */
    char big[600], res[700];
    memcpy(big, "token=", 6);
    memset(big + 6, 'A', 593);
    big[599] = '\0';
    bm_redact(big, strlen(big), res, sizeof res);
    cr_assert_str_eq(res, "token=***");
}
