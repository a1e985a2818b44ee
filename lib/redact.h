/*
 * redact.h - hide secrets in free text (log lines, error messages) before
 * the text leaves the process.
 *
 * Each secret value is replaced by "***"; everything around it is kept, so
 * the line still says what happened and where:
 *
 *   redis://:s3cret@10.0.0.5:6379/0          -> redis://:***@10.0.0.5:6379/0
 *   https://u:p@h/x?token=abc&page=2         -> https://u:***@h/x?token=***&page=2
 *   Authorization: Bearer eyJhbGciOi...      -> Authorization: Bearer ***
 *   {"routing_key":"R0UT1NG","password": "x"} -> {"routing_key":"***","password": "***"}
 *   hooks.slack.com/services/T0/B0/XXXX      -> the same, XXXX shown as ***
 *
 * The rules (what counts as a secret) are spelled out above bm_redact in
 * redact.c and in the README's Logging section. Not here: which event
 * attribute keys are hidden in traces (proto/redact.c, bm_key_is_secret),
 * which leans wider because it sees keys only, never prose.
 *
 * Pure: no allocation, no I/O, no global state.
 */
#ifndef BM_LIB_REDACT_H
#define BM_LIB_REDACT_H

#include <stddef.h>

/* What a secret value becomes. */
#define BM_REDACTED "***"

/*
 * Copy `in` (len bytes; NUL bytes are ordinary bytes) to `out` (cap bytes)
 * with every secret value replaced by BM_REDACTED. `out` is always
 * NUL-terminated when cap > 0 and must not overlap `in`. Redacting twice
 * gives the same text as redacting once.
 *
 * @return the length of the whole redacted text, like snprintf: a value
 * >= cap means `out` holds only its first cap - 1 bytes (a cut never shows
 * more of a secret than the whole text would: secrets are replaced before
 * the cut).
 */
size_t bm_redact(const char *in, size_t len, char *out, size_t cap);

#endif
