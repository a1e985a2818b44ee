/*
 * time.c - event times: ISO-8601 text and epoch numbers to µs since epoch.
 *
 * Producers write time in whatever their language makes easy: Python's
 * datetime.isoformat() (no zone, 6-digit fraction), JavaScript's
 * toISOString() (3 digits and "Z"), time.time() (float seconds), Date.now()
 * (ms), time.time_ns() (ns). bm_parse_time takes all of them. Numbers are
 * read by magnitude (>= 1e17 ns, >= 1e14 µs, >= 1e11 ms, else seconds);
 * that is unambiguous for any date between 1973 and 5138.
 *
 * The calendar arithmetic is done here (days_from_civil, after Howard
 * Hinnant) rather than with timegm/mktime: no locale, no TZ, no libc state.
 * Fractions beyond µs are truncated, never rounded.
 *
 * bm_time_clamp is the sanity rule for times far from the agent's clock
 * (1970-01-01T00:00:01 and 9999-12-31 are valid times, not believable ones):
 * the caller passes its clock and the fallback.
 *
 * Not here: which clock a missing time falls back to (the caller's choice).
 */
#include "proto/event.h"
#include "proto/time_internal.h"

#include <math.h>
#include <stdbool.h>

int64_t bm_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of bm_days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* v's last n decimal digits at p, zero-padded. @return p + n. */
static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* By hand rather than snprintf: the trace index writes two per summary. */
int bm_format_time_iso(int64_t ts_us, char out[32])
{
    if (ts_us < 0 || ts_us > BM_TIME_MAX_US) return -1;
    int64_t secs = ts_us / 1000000, y;
    unsigned m, d, sod = (unsigned)(secs % 86400);
    civil_from_days(secs / 86400, &y, &m, &d);
    char *p = put_digits(out, (unsigned)y, 4); /* 1970..9999 */
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(ts_us % 1000000), 6);
    *p++ = 'Z';
    *p = '\0';
    return (int)(p - out);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int bm_time_from_int(int64_t v, int64_t *ts_us)
{
    if (v < 0) return -1;
    if (v >= 100000000000000000LL)
        *ts_us = v / 1000;
    else if (v >= 100000000000000LL)
        *ts_us = v;
    else if (v >= 100000000000LL)
        *ts_us = v * 1000;
    else
        *ts_us = v * 1000000;
    return 0;
}

int bm_time_from_uint(uint64_t v, int64_t *ts_us)
{
    if (v > (uint64_t)INT64_MAX) {
        *ts_us = (int64_t)(v / 1000);
        return 0;
    }
    return bm_time_from_int((int64_t)v, ts_us);
}

int bm_time_from_double(double v, int64_t *ts_us)
{
    if (!isfinite(v) || v < 0) return -1;
    double us;
    if (v >= 1e17)
        us = v / 1000.0;
    else if (v >= 1e14)
        us = v;
    else if (v >= 1e11)
        us = v * 1e3;
    else
        us = v * 1e6;
    if (us >= 9.2e18) return -1;
    *ts_us = (int64_t)llround(us);
    return 0;
}

/* Read exactly `n` digits at *p. */
static int digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    if (end - *p < n) return -1;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* A fraction's first `keep` digits as an integer (scaled to exactly `keep`
 * digits); the rest is skipped. Needs at least one digit. */
static int fraction(const char **p, const char *end, int keep, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    const char *s = *p;
    while (s < end && *s >= '0' && *s <= '9') {
        if (n < keep) {
            v = v * 10 + (*s - '0');
            n++;
        }
        s++;
    }
    if (s == *p) return -1;
    for (; n < keep; n++)
        v *= 10;
    *p = s;
    *out = v;
    return 0;
}

static int parse_iso(const char *p, const char *end, int64_t *ts_us)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0, offset_s = 0;

    if (digits(&p, end, 4, &y) < 0 || p >= end || *p++ != '-' || digits(&p, end, 2, &mo) < 0 ||
        p >= end || *p++ != '-' || digits(&p, end, 2, &d) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
    if (p < end) {
        if (*p != 'T' && *p != 't' && *p != ' ') return -1;
        p++;
        if (digits(&p, end, 2, &h) < 0 || p >= end || *p++ != ':' || digits(&p, end, 2, &mi) < 0)
            return -1;
        if (p < end && *p == ':') {
            p++;
            if (digits(&p, end, 2, &sec) < 0) return -1;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                if (fraction(&p, end, 6, &frac_us) < 0) return -1;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return -1;
        if (p < end) {
            if ((*p == 'Z' || *p == 'z') && p + 1 == end) {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1;
                unsigned oh, om = 0;
                if (digits(&p, end, 2, &oh) < 0) return -1;
                bool colon = p < end && *p == ':';
                if (colon) p++;
                if ((colon || p < end) && digits(&p, end, 2, &om) < 0) return -1;
                if (oh > 23 || om > 59) return -1;
                offset_s = sign * (int64_t)(oh * 3600 + om * 60);
            }
            if (p != end) return -1;
        }
    }
    int64_t secs = bm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *ts_us = secs * 1000000 + frac_us;
    return 0;
}

/* "[+]digits[.digits]" read exactly, then the magnitude rule. */
static int parse_epoch(const char *p, const char *end, int64_t *ts_us)
{
    uint64_t ip = 0;
    int n = 0;
    if (p < end && *p == '+') p++;
    while (p < end && *p >= '0' && *p <= '9') {
        if (++n > 19) return -1;
        ip = ip * 10 + (uint64_t)(*p++ - '0');
    }
    int64_t frac9 = 0; /* the fraction in units of 1e-9 */
    if (p < end && *p == '.') {
        p++;
        if (p < end && fraction(&p, end, 9, &frac9) < 0) return -1;
    }
    if (n == 0 || p != end) return -1;
    if (ip >= 100000000000000000ULL)
        *ts_us = (int64_t)(ip / 1000);
    else if (ip >= 100000000000000ULL)
        *ts_us = (int64_t)ip + frac9 / 1000000000;
    else if (ip >= 100000000000ULL)
        *ts_us = (int64_t)ip * 1000 + frac9 / 1000000;
    else
        *ts_us = (int64_t)ip * 1000000 + frac9 / 1000;
    return 0;
}

int bm_parse_time(const char *s, size_t len, int64_t *ts_us)
{
    if (!s) return -1;
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (p == end) return -1;
    if (end - p >= 10 && p[4] == '-') return parse_iso(p, end, ts_us);
    return parse_epoch(p, end, ts_us);
}

static int64_t distance_us(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

int bm_time_clamp(int64_t *ts_us, int64_t fallback_us, int64_t now_us, int64_t max_skew_us)
{
    if (max_skew_us <= 0 || distance_us(*ts_us, now_us) <= max_skew_us) return 0;
    *ts_us = distance_us(fallback_us, now_us) <= max_skew_us ? fallback_us : now_us;
    return 1;
}
