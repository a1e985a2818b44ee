/*
 * test_redact_audit.c - lib/redact at the edges the README's promise must
 * still hold at: a secret key longer than 63 letters (an environment
 * variable's name with its prefixes), and a URL password holding a '/',
 * '?' or '#' that is not percent-encoded (as the "bad Redis URL" error
 * quotes what the user typed), a secret key's JSON array of strings,
 * without hiding what is no password.
 */
#include "lib/redact.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char out[4096];

static const char *redact(const char *in)
{
    size_t n = bm_redact(in, strlen(in), out, sizeof out);
    cr_assert_lt(n, sizeof out);
    return out;
}

#define expect(in, want) cr_expect_str_eq(redact(in), want, "input: %s", in)
#define untouched(in)    cr_expect_str_eq(redact(in), in)

Test(redact_audit, a_long_key_is_judged_by_its_end)
{
    expect("BUSMON_OUTPUTS_WEBHOOK_ALERTMANAGER_PRODUCTION_EU_WEST_1_BASIC_AUTH_PASSWORD=hunter2x",
           "BUSMON_OUTPUTS_WEBHOOK_ALERTMANAGER_PRODUCTION_EU_WEST_1_BASIC_AUTH_PASSWORD=***");
    expect("{\"integrations_pagerduty_production_primary_oncall_rotation_routing_key\": \"R0UT\"}",
           "{\"integrations_pagerduty_production_primary_oncall_rotation_routing_key\": \"***\"}");
    expect("a.b.c.the_quite_long_name_of_a_service_account_used_for_the_nightly_jobs_api_key: k1",
           "a.b.c.the_quite_long_name_of_a_service_account_used_for_the_nightly_jobs_api_key: ***");
    /* a long key that names no secret stays */
    untouched("the_quite_long_name_of_a_counter_of_tokens_spent_by_the_nightly_jobs_total=12");
}

Test(redact_audit, a_url_password_holding_a_slash_question_mark_or_hash)
{
    expect("bad Redis URL 'redis://:pa/ss@10.0.0.5:6379/0': expected redis://host:port[/db]",
           "bad Redis URL 'redis://:***@10.0.0.5:6379/0': expected redis://host:port[/db]");
    expect("redis://app:Zx9/kQ+w==@redis:6379", "redis://app:***@redis:6379");
    expect("redis://:a?b@h/1 next", "redis://:***@h/1 next");
    expect("redis://u:a#b/c@h x", "redis://u:***@h x");
    expect("\"url\": \"https://bot:p/w@hooks.example.org/x\"",
           "\"url\": \"https://bot:***@hooks.example.org/x\"");
    /* host:port, then a path with an '@' in it: no password there */
    untouched("GET http://127.0.0.1:8080/users/bob@example.org");
    untouched("https://example.org/u/bob@example.org ok");
    /* no '@' at all: a URL without userinfo, the text not cut */
    untouched("expected redis://host:port[/db] or unix:///path");
    untouched("redis://:pa/ss and more");
}

Test(redact_audit, a_secret_keys_array_of_strings_is_hidden)
{
    /* header maps as Go and others print them: a list of values per name */
    expect("{\"Authorization\": [\"Bearer abc\"], \"Cookie\": [\"sid=s3cr3t\", \"x=y\"], "
           "\"Accept\": [\"*/*\"]}",
           "{\"Authorization\": [***], \"Cookie\": [***], \"Accept\": [\"*/*\"]}");
    expect("\"secret\": [\"a]b\", \"c\"], \"n\": 1", "\"secret\": [***], \"n\": 1");
    expect("{\\\"X-Api-Key\\\":[\\\"k1\\\"],\\\"a\\\":1}", "{\\\"X-Api-Key\\\":[***],\\\"a\\\":1}");
    /* no strings in it: nothing to hide */
    untouched("password=[REDACTED] token: [none] cookie: []");
}

Test(redact_audit, twice_is_once)
{
    const char *in =
        "bad 'redis://:pa/ss@h:1/0' and "
        "BUSMON_OUTPUTS_WEBHOOK_ALERTMANAGER_PRODUCTION_EU_WEST_1_BASIC_AUTH_PASSWORD=x";
    char once[512];
    snprintf(once, sizeof once, "%s", redact(in));
    cr_expect_str_eq(redact(once), once);
}

Test(redact_audit, a_plural_secret_key_is_a_secret_key)
{
    expect("passwords=hunter2x", "passwords=***");
    expect("db_secrets: s3cr3t", "db_secrets: ***");
    expect("{\"api_keys\": \"k1k2k3\"}", "{\"api_keys\": \"***\"}");
    expect("cookies=sid%3D42", "cookies=***");
    /* tokens counts them: no secret */
    untouched("max_tokens=1024 prompt_tokens=512 tokens=7");
    untouched("progress: 3 passes, 2 keys");
}
