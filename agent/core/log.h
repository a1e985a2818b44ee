/*
 * log.h - the project logger (agent/ only; lib/ and proto/ never log).
 *
 * One line per message on stderr: a timestamp, the level and the text on a
 * terminal; a JSON object per line otherwise (for log shippers). Secrets in
 * messages are replaced by *** (lib/redact.h). The level, program name and
 * output are the logger's only state (the one mutable global besides the parsed
 * configuration).
 */
#ifndef BM_AGENT_LOG_H
#define BM_AGENT_LOG_H

#include <stddef.h>

typedef enum { BM_LOG_DEBUG = 0, BM_LOG_INFO, BM_LOG_WARN, BM_LOG_ERROR } bm_log_level;

/* Set the program name shown in messages and the minimum level. */
void bm_log_init(const char *program, bm_log_level level);

/* Parse "debug" / "info" / "warn" / "warning" / "error". @return 0 or -1. */
int bm_log_level_parse(const char *s, bm_log_level *out);

/* Where and how to log (the guides' logging.json_format, file_path,
 * max_file_size_mb, backup_count). json_format -1 keeps the default (JSON
 * when stderr is not a terminal). file_path NULL logs to stderr; otherwise
 * lines are appended to the file, which rotates when a write would pass
 * max_bytes (0: never): file -> file.1 -> ... -> file.N, the oldest dropped.
 * @return 0, or -1 when the file cannot be opened (stderr stays in use). */
int bm_log_configure(int json_format, const char *file_path, long max_bytes, int backup_count);

void bm_log(bm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Format one error line into err (errlen bytes) with secrets hidden, for
 * errors that echo a value (a bad URL, a header): parsers return reasons
 * this way and the caller logs or prints them. err may be NULL.
 */
void bm_set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define bm_debug(...) bm_log(BM_LOG_DEBUG, __VA_ARGS__)
#define bm_info(...)  bm_log(BM_LOG_INFO, __VA_ARGS__)
#define bm_warn(...)  bm_log(BM_LOG_WARN, __VA_ARGS__)
#define bm_error(...) bm_log(BM_LOG_ERROR, __VA_ARGS__)

#endif
