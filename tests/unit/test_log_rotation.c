/* test_log_rotation.c - bm_log_configure: size-based rotation of the log
 * file (file -> file.1 -> ... -> file.N, the oldest dropped), the logging
 * keys that set it, and secrets redacted in what reaches the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/core/log.h"

static int exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

Test(log_rotation, rotates_at_size_and_keeps_backup_count)
{
    char dir[] = "/tmp/bm_logrot_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/agent.log", dir);
    bm_log_init("test", BM_LOG_INFO);
    cr_assert_eq(bm_log_configure(1, path, 300, 2), 0);
    for (int i = 0; i < 40; i++)
        bm_info("line %d with some padding to fill the file", i);
    cr_assert(exists(dir, "agent.log"));
    cr_assert(exists(dir, "agent.log.1"));
    cr_assert(exists(dir, "agent.log.2"));
    cr_assert(!exists(dir, "agent.log.3"));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_leq(st.st_size, 300);
}

/* logging.max_file_size_mb takes fractions (a test rotates at ~10 KB), 0 =
 * never; backup_count is bounded. */
static int load_yaml(bm_config *c, const char *yaml, char *err, size_t errlen)
{
    char path[] = "/tmp/bm_logcfg_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    cr_assert_eq(bm_config_init(c), 0);
    int rc = bm_config_load_file(c, path, err, errlen);
    unlink(path);
    return rc;
}

Test(log_rotation, config_takes_fractional_megabytes)
{
    bm_config c;
    char err[512];
    cr_assert_eq(
        load_yaml(&c, "logging:\n  max_file_size_mb: 0.01\n  backup_count: 2\n", err, sizeof err),
        0, "%s", err);
    cr_assert_float_eq(c.log_max_file_size_mb, 0.01, 1e-12);
    cr_assert_eq(c.log_backup_count, 2);
    bm_config_deinit(&c);

    cr_assert_eq(load_yaml(&c, "logging:\n  max_size_mb: 0\n  backup_count: 0\n", err, sizeof err),
                 0, "%s", err);
    cr_assert_float_eq(c.log_max_file_size_mb, 0.0, 1e-12);
    cr_assert_eq(c.log_backup_count, 0);
    bm_config_deinit(&c);

    static const char *const bad[] = {
        "logging:\n  max_file_size_mb: -1\n",  "logging:\n  max_file_size_mb: 1x\n",
        "logging:\n  max_file_size_mb: nan\n", "logging:\n  max_file_size_mb: 1e9\n",
        "logging:\n  backup_count: 1001\n",    "logging:\n  backup_count: -2\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(load_yaml(&c, bad[i], err, sizeof err), -1, "accepted: %s", bad[i]);
        bm_config_deinit(&c);
    }
}

Test(log_rotation, secrets_never_reach_the_file)
{
    char dir[] = "/tmp/bm_logsec_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/agent.log", dir);
    bm_log_init("test", BM_LOG_DEBUG);
    cr_assert_eq(bm_log_configure(0, path, 0, 0), 0);
    bm_info("connecting to redis://:s3cretpw@127.0.0.1:6379/0");
    bm_debug("POST http://127.0.0.1:1/hook?token=abc123secret");
    /* a message longer than the line, its secret across the cut: redacted whole, then cut */
    char pad[3000];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    bm_warn("%.2030s password=longsecretvalue %s", pad, pad);
    cr_assert_eq(bm_log_configure(1, path, 0, 0), 0);
    bm_error("{\"routing_key\":\"R0UT1NGKEY\"}");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_assert_null(strstr(buf, "s3cretpw"));
    cr_assert_null(strstr(buf, "abc123secret"));
    cr_assert_null(strstr(buf, "longsec"));
    cr_assert_null(strstr(buf, "R0UT1NG"));
    cr_assert_not_null(strstr(buf, "redis://:***@127.0.0.1:6379/0"));
    cr_assert_not_null(strstr(buf, "?token=***"));
    cr_assert_not_null(strstr(buf, "x password=*** x"));
    cr_assert_not_null(strstr(buf, "routing_key\\\":\\\"***"));
}
