/*
 * test_redact.c - lib/redact: every rule (URL userinfo, secret keys with '='
 * and ':', JSON pairs, Authorization headers, bare Bearer/Basic, Slack
 * webhooks, PagerDuty routing keys), ordinary text left as it is, and the
 * edges: empty, NULL, long, cut-off input, a small output buffer, and
 * redacting twice.
 */
#include "lib/redact.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char out[4096];

static const char *redact(const char *in)
{
    size_t n = bm_redact(in, strlen(in), out, sizeof out);
    cr_assert_lt(n, sizeof out);
    cr_assert_eq(strlen(out), n);
    return out;
}

#define expect(in, want) cr_expect_str_eq(redact(in), want, "input: %s", in)
#define untouched(in)    cr_expect_str_eq(redact(in), in)

Test(redact, url_userinfo)
{
    expect("redis://:s3cretpw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0");
    expect("redis://user:pw@host", "redis://user:***@host");
    expect("https://u:p@h/path?x=1", "https://u:***@h/path?x=1");
    expect("redis://s3cretpw@host:6379", "redis://***@host:6379");
    expect("connect to redis://:p@ss@host/1 failed", "connect to redis://:***@host/1 failed");
    expect("a http://u:pw@h b https://v:pw2@k c", "a http://u:***@h b https://v:***@k c");
    expect("\"url\":\"redis://:pw@h:1\"", "\"url\":\"redis://:***@h:1\"");
    expect("redis://[::1]:6379 and redis://:pw@[::1]:6379",
           "redis://[::1]:6379 and redis://:***@[::1]:6379");
    /* an empty password hides nothing */
    untouched("redis://user:@host");
}

Test(redact, url_cut_before_its_at_sign)
{
    expect("cannot connect: redis://:s3cr", "cannot connect: redis://:***");
    expect("x redis://user:pa", "x redis://user:***");
    untouched("POST http://127.0.0.1:1");
    untouched("POST http://example.org");
    untouched("listening on http://[::1]:80");
}

Test(redact, secret_query_and_kv_parameters)
{
    expect("http://127.0.0.1:1/hook?token=abc123secret", "http://127.0.0.1:1/hook?token=***");
    expect("https://h/x?access_token=abc&page=2", "https://h/x?access_token=***&page=2");
    expect("?api_key=k1&apikey=k2&x-api-key=k3", "?api_key=***&apikey=***&x-api-key=***");
    expect("password=hunter2 user=bob", "password=*** user=bob");
    expect("passwd=a pwd=b pass=c secret=d auth=e",
           "passwd=*** pwd=*** pass=*** secret=*** auth=***");
    expect("db_password = hunter2, next", "db_password = ***, next");
    expect("client_secret=xyz;other=1", "client_secret=***;other=1");
    expect("refreshToken=abc", "refreshToken=***");
    expect("redis.password: hunter2", "redis.password: ***");
    expect("token: abc def", "token: *** def");
    expect("password=\"two words\" next", "password=\"***\" next");
    expect("secret='it''s'", "secret='***''s'");
    expect("routing_key=R0UT1NG", "routing_key=***");
    expect("ssn=123-45-6789", "ssn=***");
    /* empty values stay empty */
    untouched("password=&user=bob");
    untouched("token=");
}

Test(redact, json_pairs)
{
    expect("{\"password\": \"hunter2\", \"user\": \"bob\"}",
           "{\"password\": \"***\", \"user\": \"bob\"}");
    expect("{\"token\":\"abc\"}", "{\"token\":\"***\"}");
    expect("{\"api_key\" : \"k\"}", "{\"api_key\" : \"***\"}");
    expect("{\"pass\":\"x\",\"auth\":\"y\"}", "{\"pass\":\"***\",\"auth\":\"***\"}");
    expect("{\"token\":\"a\\\"b\"}", "{\"token\":\"***\"}");
    expect("{\"pin\":1,\"secret\":12345}", "{\"pin\":1,\"secret\":***}");
    expect("{'password': 'x'}", "{'password': '***'}");
    /* JSON inside a JSON string */
    expect("{\"msg\":\"{\\\"token\\\":\\\"abc\\\"}\"}",
           "{\"msg\":\"{\\\"token\\\":\\\"***\\\"}\"}");
    /* a nested value: its own keys decide */
    expect("{\"credentials\": {\"user\": \"u\", \"password\": \"p\"}}",
           "{\"credentials\": {\"user\": \"u\", \"password\": \"***\"}}");
}

Test(redact, pagerduty_routing_key)
{
    expect("{\"routing_key\":\"R0UT1NGKEY\",\"event_action\":\"trigger\","
           "\"dedup_key\":\"busmon-ab12\"}",
           "{\"routing_key\":\"***\",\"event_action\":\"trigger\",\"dedup_key\":\"busmon-ab12\"}");
    expect("routing_key: R0UT1NG", "routing_key: ***");
}

Test(redact, authorization_headers)
{
    expect("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Authorization: Bearer ***");
    expect("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***");
    expect("authorization: token abc then", "authorization: token *** then");
    expect("Proxy-Authorization: Bearer abc", "Proxy-Authorization: Bearer ***");
    expect("{\"Authorization\": \"Bearer s3cr3t\"}", "{\"Authorization\": \"Bearer ***\"}");
    expect("headers: {Authorization: Bearer s3cr3t}", "headers: {Authorization: Bearer ***}");
    expect("header.Authorization=xyz", "header.Authorization=***");
    expect("Authorization: s3cr3t", "Authorization: ***");
    expect("X-Api-Key: abc123", "X-Api-Key: ***");
    expect("X-Auth-Token: abc123", "X-Auth-Token: ***");
    expect("Cookie: sid=abc123", "Cookie: ***");
}

Test(redact, bare_bearer_and_basic)
{
    expect("sent Bearer eyJhbGciOiJIUzI1NiJ9 to h", "sent Bearer *** to h");
    expect("bearer abcdefgh1234", "bearer ***");
    expect("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Basic ***");
    untouched("Bearer token missing");
    untouched("Basic authentication failed");
    untouched("the bearer is fine");
}

Test(redact, slack_webhooks)
{
    expect("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX",
           "https://hooks.slack.com/services/T000/B000/***");
    expect("POST https://hooks.slack.com/services/T0A/B0B/abc?x=1 failed",
           "POST https://hooks.slack.com/services/T0A/B0B/***?x=1 failed");
    expect("\"https://hooks.slack.com/workflows/T1/A2/345/sec\"",
           "\"https://hooks.slack.com/workflows/T1/A2/***\"");
    untouched("https://hooks.slack.com/services/T000/B0");
    untouched("https://hooks.slack.com");
}

Test(redact, ordinary_text_stays)
{
    untouched("worker fast: healthy -> degraded: error rate 0.35 > 0.1");
    untouched("worker auth: healthy -> degraded");
    untouched("alert high_error_rate firing for worker=auth-service");
    untouched("connected to redis://127.0.0.1:6379/0; reading 2 stream(s) as busmon/busmon-h1");
    untouched("stream busmon:events key busmon:trace:tx-1 token:abc secret:stream");
    untouched("key=busmon:trace:tx1 dedup_key=busmon-ab12 partition_key=3");
    untouched("prompt_tokens=512 completion_tokens=128 max_tokens=1024 token_count=7");
    untouched("passed=10 bypass=1 password_policy=strict");
    untouched("webhook 'chat': POST https://hooks.example.com: HTTP 500: Internal Server Error");
    untouched("TimeoutError: token bucket exhausted after 3 attempts");
    untouched("mail ops@example.com about http://[::1]:9464/metrics");
    untouched("rule 'r': error_rate >= 0.5, x == y, a != b");
    untouched("config busmon.yaml:12: unknown key 'logging.passwrd' (ignored)");
    untouched("ünïcödé wörker naïve: ok → fine");
    untouched("Authentication failed: bad password");
    untouched("password");
    untouched("=:://@");
}

Test(redact, twice_is_once)
{
    static const char *const inputs[] = {
        "redis://:pw@h:1/0",
        "redis://pw@h",
        "Authorization: Bearer abcdefgh1234",
        "{\"token\":\"abc\",\"routing_key\":\"k\"}",
        "https://hooks.slack.com/services/T/B/secret",
        "x?token=a&password=b",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        char once[256], twice[256];
        bm_redact(inputs[i], strlen(inputs[i]), once, sizeof once);
        bm_redact(once, strlen(once), twice, sizeof twice);
        cr_expect_str_eq(twice, once, "input: %s", inputs[i]);
    }
}

Test(redact, empty_and_null)
{
    char buf[8] = "xxxxxxx";
    cr_assert_eq(bm_redact("", 0, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(bm_redact(NULL, 5, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(bm_redact("password=x", 10, NULL, 0), 12, "cap 0: only the length");
}

Test(redact, small_output_is_cut_after_redaction)
{
    const char *in = "redis://:s3cretpassword@host:6379";
    char buf[16];
    size_t n = bm_redact(in, strlen(in), buf, sizeof buf);
    cr_assert_eq(n, strlen("redis://:***@host:6379"));
    cr_assert_str_eq(buf, "redis://:***@ho");
    /* every cut of the output shows no byte of the secret */
    for (size_t cap = 1; cap < 40; cap++) {
        char *b = malloc(cap);
        cr_assert_not_null(b);
        bm_redact(in, strlen(in), b, cap);
        cr_assert_eq(strlen(b), cap - 1 < n ? cap - 1 : n);
        cr_assert_null(strstr(b, "s3c"), "cap %zu: %s", cap, b);
        free(b);
    }
}

Test(redact, input_length_is_respected)
{
    /* only len bytes are read: a secret past len is not looked at */
    const char *in = "token=abc password=def";
    char buf[64];
    bm_redact(in, 9, buf, sizeof buf);
    cr_assert_str_eq(buf, "token=***");
    /* NUL bytes inside are ordinary bytes */
    const char with_nul[] = "a\0token=x";
    size_t n = bm_redact(with_nul, sizeof with_nul - 1, buf, sizeof buf);
    cr_assert_eq(n, 11);
    cr_assert_eq(memcmp(buf, "a\0token=***", 11), 0);
}

Test(redact, long_input)
{
    /* 100 KB of ordinary text with a secret in the middle and at the end */
    size_t len = 100000;
    char *in = malloc(len + 1);
    char *res = malloc(len + 64);
    cr_assert(in && res);
    for (size_t i = 0; i < len; i++)
        in[i] = "abc def:ghi=jkl/"[i % 16];
    memcpy(in + 50000, " password=hunter2 ", 18);
    memcpy(in + len - 16, " redis://:pw@h ", 15);
    in[len] = '\0';
    size_t n = bm_redact(in, len, res, len + 64);
    cr_assert_lt(n, len + 64);
    cr_assert_null(strstr(res, "hunter2"));
    cr_assert_null(strstr(res, ":pw@"));
    cr_assert_not_null(strstr(res, " password=*** "));
    cr_assert_not_null(strstr(res, "redis://:***@h"));
    cr_assert_eq(memcmp(res, in, 1000), 0, "ordinary text is copied as is");
    free(in);
    free(res);
}

Test(redact, odd_input_never_crashes)
{
    /* every short string of these bytes: no crash, no overrun, NUL-terminated */
    static const char alphabet[] = ":/@=\"'\\ {}tP";
    size_t k = sizeof alphabet - 1;
    char in[5], buf[32];
    for (size_t a = 0; a < k * k * k * k * k; a++) {
        size_t x = a;
        for (int i = 0; i < 5; i++, x /= k)
            in[i] = alphabet[x % k];
        size_t n = bm_redact(in, 5, buf, sizeof buf);
        cr_assert_lt(n, sizeof buf);
        cr_assert_eq(strlen(buf), n);
    }
}
