/*
 * log.c - the project logger: text on a terminal, JSON lines otherwise.
 *
 * Messages are formatted into a stack buffer and written with one write(2),
 * so lines from one process never interleave. Every message goes through
 * bm_redact (lib/redact.h) first, whatever the output (text or JSON, stderr
 * or file): a Redis URL's password, a webhook token, an Authorization header
 * never reach a log. Not a log shipper: one file, rotated by size.
 */
#include "agent/core/log.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/redact.h"
#include "proto/event.h" /* bm_text_scrub, bm_text_for_terminal */

/* The longest message formatted whole before redaction (longer ones are cut first). */
#define LOG_MSG_MAX_BYTES (1 << 20)

static const char *log_program = "busmon";
static bm_log_level log_min = BM_LOG_INFO;
static int log_json = -1; /* -1: decide on first use from isatty(2) */

static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];
static long log_max_bytes;
static int log_backups;
static long log_size_bytes;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void bm_log_init(const char *program, bm_log_level level)
{
    log_program = program;
    log_min = level;
    log_json = isatty(STDERR_FILENO) ? 0 : 1;
}

int bm_log_level_parse(const char *s, bm_log_level *out)
{
    if (!strcasecmp(s, "debug"))
        *out = BM_LOG_DEBUG;
    else if (!strcasecmp(s, "info"))
        *out = BM_LOG_INFO;
    else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
        *out = BM_LOG_WARN;
    else if (!strcasecmp(s, "error"))
        *out = BM_LOG_ERROR;
    else
        return -1;
    return 0;
}

int bm_log_configure(int json_format, const char *file_path, long max_bytes, int backup_count)
{
    if (json_format >= 0) log_json = json_format ? 1 : 0;
    if (!file_path || !*file_path) return 0;
    int fd = open(file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (log_fd != STDERR_FILENO) close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof log_path, "%s", file_path);
    log_max_bytes = max_bytes > 0 ? max_bytes : 0;
    log_backups = backup_count > 0 ? backup_count : 0;
    struct stat st;
    log_size_bytes = fstat(fd, &st) == 0 ? (long)st.st_size : 0;
    if (json_format < 0) log_json = 1;
    return 0;
}

/* file.N-1 -> file.N ... file -> file.1, then reopen file empty. */
static void log_rotate(void)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    if (log_backups == 0) {
        if (ftruncate(log_fd, 0) == 0) log_size_bytes = 0;
        return;
    }
    snprintf(to, sizeof to, "%s.%d", log_path, log_backups);
    unlink(to);
    for (int i = log_backups - 1; i >= 1; i--) {
        snprintf(from, sizeof from, "%s.%d", log_path, i);
        snprintf(to, sizeof to, "%s.%d", log_path, i + 1);
        rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", log_path);
    rename(log_path, to);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return; /* keep writing to the renamed file */
    close(log_fd);
    log_fd = fd;
    log_size_bytes = 0;
}

/* The length of s[0..n) without a UTF-8 sequence cut off at its end, so a
 * shortened line stays valid UTF-8 (and valid JSON). */
static size_t utf8_whole(const char *s, size_t n)
{
    size_t k = n, cont = 0;
    while (k > 0 && cont < 3 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
        k--, cont++;
    if (k == 0) return n;
    unsigned char lead = (unsigned char)s[k - 1];
    size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    return need > cont ? k - 1 : n;
}

/* Append `s` to buf as JSON string content (no quotes). */
static size_t json_escape(char *buf, size_t cap, size_t n, const char *s)
{
    size_t start = n;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    return *s ? start + utf8_whole(buf + start, n - start) : n;
}

void bm_log(bm_log_level level, const char *fmt, ...)
{
    if (level < log_min) return;
    if (log_json < 0) log_json = isatty(STDERR_FILENO) ? 0 : 1;

    /* Format the whole message, redact it, then cut it to the line: a cut
     * made before redacting could leave half a secret nothing recognises. */
    char stack[2048];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    char *text = stack, *heap = NULL;
    size_t text_len = len < 0 ? 0 : (size_t)len;
    if (text_len >= sizeof stack) {
        if (text_len <= LOG_MSG_MAX_BYTES && (heap = malloc(text_len + 1))) {
            vsnprintf(heap, text_len + 1, fmt, again);
            text = heap;
        } else {
            /* no room for the whole message: drop its last, cut-off word */
            text_len = sizeof stack - 1;
            while (text_len > 0 && text[text_len - 1] != ' ')
                text_len--;
        }
    }
    va_end(again);
    char msg[2048];
    if (bm_redact(text, text_len, msg, sizeof msg) >= sizeof msg)
        msg[utf8_whole(msg, sizeof msg - 1)] = '\0';
    free(heap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[40];
    size_t k = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + k, sizeof stamp - k, ".%03ldZ", now.tv_nsec / 1000000);

    /* A message may carry text from outside (a Redis error, a name): a JSON
     * line holds only valid UTF-8 (log shippers drop the rest), a text line
     * no control character a terminal would obey */
    char shown[4096];
    if (log_json)
        shown[bm_text_scrub(shown, msg, strlen(msg))] = '\0';
    else
        bm_text_for_terminal(shown, sizeof shown, msg);
    char line[8400];
    size_t n;
    if (log_json) {
        n = (size_t)snprintf(line, sizeof line,
                             "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":\"%s\",\"msg\":\"", stamp,
                             level_names[level], log_program);
        n = json_escape(line, sizeof line, n, shown);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %-5s %s: %s\n", stamp, level_names[level],
                             log_program, shown);
    }
    if (n >= sizeof line) n = sizeof line - 1;
    if (log_fd != STDERR_FILENO && log_max_bytes > 0 && log_size_bytes > 0 &&
        log_size_bytes + (long)n > log_max_bytes)
        log_rotate();
    ssize_t w = write(log_fd, line, n);
    if (w > 0) log_size_bytes += (long)w;
}

void bm_set_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    bm_redact(text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, err, errlen);
}
