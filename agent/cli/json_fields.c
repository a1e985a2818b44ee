/*
 * json_fields.c - a field of what busmon-agent published (rollups, worker
 * entries, alert records), read for printing: absent or mistyped fields
 * print as 0 or "-" instead of failing.
 */
#include <jansson.h>

#include "agent/cli/cli.h"

double bm_cli_num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *bm_cli_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}
