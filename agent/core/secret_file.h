/*
 * secret_file.h - a secret read from a file rather than from a command line
 * or a config file: a Redis password, an HTTP bearer token, a webhook's
 * header value, routing key or URL. Files are how secrets are handed to a
 * process (Kubernetes and Docker secrets, systemd credentials) without ps,
 * /proc/PID/cmdline or a checked-in YAML file showing them.
 *
 * The secret is the file's first line without its line end ("\n" or
 * "\r\n"), so `echo s3cret > file` works. No I/O beyond reading the file;
 * nothing is logged (the caller says what failed, the reason never holds
 * the secret).
 */
#ifndef BM_CORE_SECRET_FILE_H
#define BM_CORE_SECRET_FILE_H

#include <stddef.h>

/*
 * Read the first line of `path` into buf (len bytes, NUL-terminated).
 * `what` names the secret in the reason ("the Redis password").
 * @return 0, or -1 with one line in err: the file cannot be read, its
 * first line is empty, or it is longer than len - 1 bytes.
 */
int bm_secret_file_read(const char *path, const char *what, char *buf, size_t len, char *err,
                        size_t errlen);

#endif
