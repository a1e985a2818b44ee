/*
 * test_redis_url.c - Redis URLs: the user info is percent-decoded, as URLs
 * carry it (a password with '/' or '@' written %2F, %40).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "agent/core/redis_url.h"

static bm_redis_url parse_ok(const char *url)
{
    bm_redis_url u;
    char err[256] = "";
    cr_assert_eq(bm_redis_url_parse(url, &u, err, sizeof err), 0, "%s: %s", url, err);
    return u;
}

Test(redis_url, password_percent_decoded)
{
    bm_redis_url u = parse_ok("redis://:p%2Fa%40s%3As@redis:6380/2");
    cr_assert_str_eq(u.password, "p/a@s:s");
    cr_assert_str_eq(u.host, "redis");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 2);
}

Test(redis_url, user_percent_decoded)
{
    bm_redis_url u = parse_ok("redis://bus%20mon:secret@127.0.0.1");
    cr_assert_str_eq(u.user, "bus mon");
    cr_assert_str_eq(u.password, "secret");
    cr_assert_str_eq(u.display, "redis://bus mon:***@127.0.0.1:6379/0");
}

Test(redis_url, percent_without_two_hex_digits_stays)
{
    bm_redis_url u = parse_ok("redis://:50%off%2@h");
    cr_assert_str_eq(u.password, "50%off%2");
}

Test(redis_url, plain_userinfo_unchanged)
{
    bm_redis_url u = parse_ok("redis://alice:s3cr3t@[::1]:7000");
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.password, "s3cr3t");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 7000);
}

Test(redis_url, nul_refused)
{
    bm_redis_url u;
    char err[256] = "";
    cr_assert_eq(bm_redis_url_parse("redis://:a%00b@h", &u, err, sizeof err), -1);
    cr_assert(strstr(err, "%00"), "%s", err);
}
