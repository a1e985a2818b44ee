/*
 * secret_file.c - a secret from a file's first line (secret_file.h).
 */
#include "agent/core/secret_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SECRET_FILE_MAX 8192 /* a longer first line is not a secret anyone types */

int bm_secret_file_read(const char *path, const char *what, char *buf, size_t len, char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read %s from %s: %s", what, path, strerror(errno));
        return -1;
    }
    char line[SECRET_FILE_MAX];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    int rc = -1;
    if (n == 0)
        snprintf(err, errlen, "%s in %s is empty (the file's first line)", what, path);
    else if (n >= len)
        snprintf(err, errlen, "%s in %s is longer than %zu bytes", what, path, len - 1);
    else
        memcpy(buf, line, n + 1), rc = 0;
    memset(line, 0, sizeof line); /* no copy left behind on the stack */
    return rc;
}
