/*
 * test_attr_redact.c - proto/redact.c's "a word of its own" for the short
 * needles (pwd, ssn, cvv) in the keys producers write: snake_case, kebab,
 * camelCase and PascalCase alike ("customerSsn" is as secret as
 * "customer_ssn"), while a word that merely holds the letters
 * ("classname", "isSnapshot") stays; and the value in a decoded event.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/event.h"

static int secret(const char *key)
{
    return bm_key_is_secret(key, strlen(key));
}

Test(attr_redact, camel_case_words)
{
    const char *yes[] = {"customerSsn", "customerSSN", "userPwd",   "cardCvv",      "cardCVV",
                         "ssnHash",     "CVVCode",     "SSNNumber", "lastSsnCheck", "PwdHint"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_expect(secret(yes[i]), "%s is secret", yes[i]);
    const char *no[] = {"classname",    "Classname", "CLASSName", "isSnapshot",
                        "businessname", "crossNet",  "pwdlength", "grasshopper"};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_expect_not(secret(no[i]), "%s is not secret", no[i]);
    /* as before */
    cr_expect(secret("user_ssn") && secret("SSN") && secret("card-cvv") && secret("pwd"));
}

Test(attr_redact, a_decoded_events_camel_case_secret_is_redacted)
{
    bm_decoder *d = bm_decoder_new(NULL);
    cr_assert_not_null(d);
    const char *json =
        "{\"type\":\"custom\",\"customerSsn\":\"123-45-6789\",\"userPwd\":\"hunter2\","
        "\"className\":\"Foo\"}";
    bm_event ev;
    cr_assert_eq(bm_decode_json(d, json, strlen(json), &ev), BM_DECODE_OK);
    cr_assert_eq(ev.n_attrs, 3);
    const char *want[] = {"[REDACTED]", "[REDACTED]", "Foo"};
    for (unsigned i = 0; i < 3; i++)
        cr_expect_str_eq(ev.attrs[i].value, want[i], "%s", ev.attrs[i].key);
    bm_decoder_free(d);
}
