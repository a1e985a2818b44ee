/*
 * parse.c - the value parsers of parse.h. Numbers go through strtod or
 * strtoull only after their characters were checked, so "nan", "inf", hex,
 * leading spaces and signs where none belong are refused rather than read.
 */
#include "agent/core/parse.h"
#include "proto/event.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DURATION_US (100LL * 366 * BM_US_PER_DAY)

/* The units of a duration, largest first; the first name of each is the one written. */
static const struct {
    const char *names[3];
    int64_t us;
} units[] = {
    {{"d", "days", NULL}, BM_US_PER_DAY},         {{"h", "hours", NULL}, BM_US_PER_H},
    {{"m", "min", "minutes"}, BM_US_PER_MIN},     {{"s", "seconds", NULL}, BM_US_PER_S},
    {{"ms", "milliseconds", NULL}, BM_US_PER_MS}, {{"us", "microseconds", NULL}, 1},
};

int64_t bm_duration_unit_us(const char *name)
{
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        for (size_t j = 0; j < 3 && units[i].names[j]; j++)
            if (!strcmp(name, units[i].names[j])) return units[i].us;
    return 0;
}

const char *bm_duration_unit_name(int64_t us)
{
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (units[i].us == us) return units[i].names[us == BM_US_PER_MIN ? 2 : 1];
    return "seconds";
}

/* Length of the leading run of characters a decimal number may hold. */
static size_t number_span(const char *s)
{
    return strspn(s, "0123456789.eE+-");
}

/* strtod over exactly the first `len` characters. @return 0 or -1. */
static int number_prefix(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    double v = strtod(buf, &end);
    if (errno || end == buf || !isfinite(v)) return -1;
    *out = v;
    return (size_t)(end - buf) == len ? 0 : -1;
}

int bm_parse_decimal(const char *s, double *out)
{
    if (!s) return -1;
    size_t len = number_span(s);
    if (s[len] != '\0') return -1;
    return number_prefix(s, len, out);
}

int bm_parse_duration_us(const char *s, int64_t bare_unit_us, int64_t *out)
{
    if (!s) return BM_PARSE_BAD;
    /* the number ends where a unit starts ("1e3ms", "2m"): strtod decides */
    size_t len = number_span(s);
    double v = 0;
    while (len > 0 && number_prefix(s, len, &v))
        len--;
    if (len == 0) return BM_PARSE_BAD;
    const char *unit = s + len;
    int64_t mul = *unit ? bm_duration_unit_us(unit) : bare_unit_us;
    if (mul <= 0) return BM_PARSE_BAD;
    if (v < 0) return BM_PARSE_NEGATIVE;
    double us = v * (double)mul;
    if (us > (double)MAX_DURATION_US) return BM_PARSE_BAD;
    *out = (int64_t)(us + 0.5);
    return BM_PARSE_OK;
}

int bm_parse_duration_s(const char *s, int64_t *out)
{
    int64_t us;
    if (bm_parse_duration_us(s, BM_US_PER_S, &us) != BM_PARSE_OK) return -1;
    *out = (us + BM_US_PER_S / 2) / BM_US_PER_S;
    return 0;
}

int bm_parse_size(const char *s, size_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    if (*end || v > (unsigned long long)SIZE_MAX / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int bm_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (!s) return -1;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 0;
        if (!strcasecmp(s, no[i])) return *out = 0, 0;
    }
    return -1;
}

int bm_is_key_name(const char *s)
{
    if (!s || !*s || strlen(s) > 256 || strchr(s, ' ')) return 0;
    return bm_identity_check("name", s, strlen(s), 0, NULL, 0) == 0;
}

char *bm_format_duration_us(int64_t us, char *buf, size_t len)
{
    size_t i = 0;
    while (us != 0 && us % units[i].us != 0)
        i++; /* the last unit, 1 µs, divides everything */
    if (us == 0)
        snprintf(buf, len, "0s");
    else
        snprintf(buf, len, "%lld%s", (long long)(us / units[i].us), units[i].names[0]);
    return buf;
}
