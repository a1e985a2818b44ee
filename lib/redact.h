/*
 * redact.h - hide secrets in text before it is logged.
 *
 * What is replaced by "***":
 *   - the password of a URL's user info: redis://:pw@h, redis://u:pw@h,
 *     https://u:pw@h/... (the user name stays);
 *   - the value of a key that names a secret, in key=value, key: value and
 *     "key": "value" forms (query strings, headers, JSON, YAML echoes): keys
 *     ending in password, passwd, pwd, secret, token, api_key, apikey,
 *     auth, authorization, routing_key, access_key, private_key, credential,
 *     credentials (case-insensitive; "Authorization: Bearer X" hides X);
 *   - the secret path part of Slack webhooks (hooks.slack.com/services/T/B/X:
 *     everything after /services/).
 * Everything else is copied as it is: worker and stream names, error
 * messages, numbers.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef BM_LIB_REDACT_H
#define BM_LIB_REDACT_H

#include <stddef.h>

/*
 * Copy `in` (len bytes) to `out` (cap bytes, cap >= 1) with secrets
 * replaced, NUL-terminated, cut at cap - 1.
 * @return the length written (excluding the NUL).
 */
size_t bm_redact(const char *in, size_t len, char *out, size_t cap);

#endif
