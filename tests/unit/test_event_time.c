/*
 * test_event_time.c - bm_parse_time: ISO-8601 in its common spellings,
 * epoch numbers by magnitude, and what is not a time.
 */
#include "proto/event.h"

#include <criterion/criterion.h>
#include <string.h>

static int64_t t(const char *s)
{
    int64_t us = -12345;
    cr_assert_eq(bm_parse_time(s, strlen(s), &us), 0, "'%s' should parse", s);
    return us;
}

static void bad(const char *s)
{
    int64_t us = -12345;
    cr_assert_eq(bm_parse_time(s, strlen(s), &us), -1, "'%s' should not parse", s);
    cr_assert_eq(us, -12345, "untouched on failure");
}

/* 2024-01-15T10:30:00Z */
#define BASE 1705314600000000LL

Test(event_time, iso_without_zone_is_utc)
{
    cr_assert_eq(t("2024-01-15T10:30:00"), BASE);
    cr_assert_eq(t("2024-01-15 10:30:00"), BASE);
    cr_assert_eq(t("2024-01-15t10:30:00"), BASE);
    cr_assert_eq(t("2024-01-15T10:30"), BASE);
    cr_assert_eq(t("2024-01-15"), BASE - (10 * 3600 + 30 * 60) * 1000000LL);
    cr_assert_eq(t("1970-01-01T00:00:00"), 0);
    cr_assert_eq(t("  2024-01-15T10:30:00Z \r\n"), BASE);
}

Test(event_time, fractions_of_any_length)
{
    cr_assert_eq(t("2024-01-15T10:30:00.1"), BASE + 100000);
    cr_assert_eq(t("2024-01-15T10:30:00.123"), BASE + 123000);
    cr_assert_eq(t("2024-01-15T10:30:00.123456"), BASE + 123456);
    cr_assert_eq(t("2024-01-15T10:30:00.123456789"), BASE + 123456, "truncated, not rounded");
    cr_assert_eq(t("2024-01-15T10:30:00,5"), BASE + 500000);
    cr_assert_eq(t("2024-01-15T10:30:00.000000000000000000001Z"), BASE);
}

Test(event_time, zones)
{
    cr_assert_eq(t("2024-01-15T10:30:00Z"), BASE);
    cr_assert_eq(t("2024-01-15T10:30:00z"), BASE);
    cr_assert_eq(t("2024-01-15T10:30:00+00:00"), BASE);
    cr_assert_eq(t("2024-01-15T11:30:00+01:00"), BASE);
    cr_assert_eq(t("2024-01-15T11:30:00+0100"), BASE);
    cr_assert_eq(t("2024-01-15T11:30:00+01"), BASE);
    cr_assert_eq(t("2024-01-15T05:00:00-05:30"), BASE);
    cr_assert_eq(t("2024-01-15T10:30:00.25-00:00"), BASE + 250000);
    cr_assert_eq(t("2024-01-16T00:00:00+13:30"), BASE);
}

Test(event_time, calendar)
{
    cr_assert_eq(t("2000-02-29T00:00:00Z"), 951782400000000LL);
    cr_assert_eq(t("2024-12-31T23:59:59Z"), 1735689599000000LL);
    cr_assert_eq(t("2038-01-19T03:14:08Z"), 2147483648000000LL);
    cr_assert_eq(t("2100-03-01T00:00:00Z"), 4107542400000000LL);
    bad("2023-02-29T00:00:00");
    bad("1900-02-29");
    bad("2024-13-01T00:00:00");
    bad("2024-00-01T00:00:00");
    bad("2024-04-31T00:00:00");
    bad("2024-01-15T24:00:00");
    bad("2024-01-15T10:60:00");
    bad("2024-01-15T10:30:61");
}

Test(event_time, numbers_by_magnitude)
{
    cr_assert_eq(t("1705314600"), BASE, "seconds");
    cr_assert_eq(t("1705314600.123456"), BASE + 123456, "python time.time()");
    cr_assert_eq(t("1705314600.5"), BASE + 500000);
    cr_assert_eq(t("1705314600123"), BASE + 123000, "ms: Date.now()");
    cr_assert_eq(t("1705314600123.9"), BASE + 123900);
    cr_assert_eq(t("1705314600123456"), BASE + 123456, "µs");
    cr_assert_eq(t("1705314600123456789"), BASE + 123456, "ns: time.time_ns()");
    cr_assert_eq(t("0"), 0);
    cr_assert_eq(t("+12"), 12000000);
    cr_assert_eq(t("99999999999"), 99999999999000000LL, "the largest seconds");
    cr_assert_eq(t("100000000000"), 100000000000000LL, "the smallest ms");
}

Test(event_time, not_a_time)
{
    bad("");
    bad("   ");
    bad("now");
    bad("-5");
    bad("1.2.3");
    bad("12abc");
    bad("1e9");
    bad("99999999999999999999");
    bad("2024-01-15T");
    bad("2024-01-15T10");
    bad("2024-01-15T10:30:00.");
    bad("2024-01-15T10:30:00Zjunk");
    bad("2024-01-15T10:30:00+1");
    bad("2024-01-15T10:30:00+01:");
    bad("2024-01-15T10:30:00+25:00");
    bad("2024-1-15T10:30:00");
    bad("2024/01/15 10:30:00");
    int64_t us;
    cr_assert_eq(bm_parse_time(NULL, 0, &us), -1);
    cr_assert_eq(bm_parse_time("2024-01-15T10:30:00Z", 10, &us), 0, "only len bytes are read");
    cr_assert_eq(us, BASE - (10 * 3600 + 30 * 60) * 1000000LL);
}

Test(event_time, clamp_to_the_clock)
{
    const int64_t H = 3600 * 1000000LL, now = BASE, skew = 24 * H;
    int64_t ts = now - 23 * H;
    cr_assert_eq(bm_time_clamp(&ts, now - 5, now, skew), 0, "within the skew: believed");
    cr_assert_eq(ts, now - 23 * H);
    ts = 1000000; /* 1970-01-01T00:00:01 */
    cr_assert_eq(bm_time_clamp(&ts, now - 5, now, skew), 1);
    cr_assert_eq(ts, now - 5, "the entry id's time");
    ts = t("9999-12-31T23:59:59");
    cr_assert_eq(bm_time_clamp(&ts, now - 7, now, skew), 1, "never the year 9999");
    cr_assert_eq(ts, now - 7);
    ts = now + 25 * H;
    cr_assert_eq(bm_time_clamp(&ts, now + 26 * H, now, skew), 1);
    cr_assert_eq(ts, now, "an entry id as far off: the clock itself");
    ts = 1000000;
    cr_assert_eq(bm_time_clamp(&ts, now, now, 0), 0, "0: every time believed");
    cr_assert_eq(ts, 1000000);
}
