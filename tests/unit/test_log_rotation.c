/* test_log_rotation.c - bm_log_configure: size-based rotation of the log
 * file (file -> file.1 -> ... -> file.N, the oldest dropped). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../agent/log.h"

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
