/* test_log_text.c - what bm_log writes is safe to read whatever a message
 * carries (a Redis error, a name from outside): a JSON line is valid UTF-8
 * and valid JSON, invalid bytes shown as '?'; a text line holds no control
 * character (an escape sequence, a forged newline) and no invalid UTF-8,
 * each shown as "\xNN"; valid UTF-8 is kept as it is. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/log.h"

#define BAD "worker \xff\xfe name \x1b[2J\nforged \xc3\xa9t\xc3\xa9 \xe2\x82"

/* Log BAD in the given format to a fresh file; its content into buf. */
static size_t log_bad(int json, char *buf, size_t cap)
{
    char path[] = "/tmp/bm_logtext_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    bm_log_init("test", BM_LOG_INFO);
    cr_assert_eq(bm_log_configure(json, path, 0, 0), 0);
    bm_info("%s", BAD);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return n;
}

Test(log_text, a_json_line_is_valid_utf8_json)
{
    char buf[4096];
    size_t n = log_bad(1, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(buf[n - 1], '\n');
    cr_assert_eq(strchr(buf, '\n'), buf + n - 1, "one line: %s", buf);
    json_error_t e;
    json_t *o = json_loads(buf, 0, &e); /* jansson refuses invalid UTF-8 */
    cr_assert_not_null(o, "not JSON: %s (%s)", e.text, buf);
    const char *msg = json_string_value(json_object_get(o, "msg"));
    cr_assert_str_eq(msg, "worker ?? name \x1b[2J\nforged \xc3\xa9t\xc3\xa9 ??");
    json_decref(o);
}

Test(log_text, a_text_line_has_no_control_character_nor_invalid_utf8)
{
    char buf[4096];
    size_t n = log_bad(0, buf, sizeof buf);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i + 1 < n; i++)
        cr_assert_geq((unsigned char)buf[i], 0x20, "byte %zu is 0x%02x: %s", i,
                      (unsigned char)buf[i], buf);
    cr_assert_eq(buf[n - 1], '\n');
    cr_assert_not_null(strstr(buf, "worker \\xff\\xfe name \\x1b[2J\\x0aforged \xc3\xa9t\xc3\xa9 "
                                   "\\xe2\\x82\n"),
                       "%s", buf);
}
