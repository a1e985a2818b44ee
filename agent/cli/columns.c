/*
 * columns.c - how many terminal columns text takes, for the views that pad
 * columns (every text table) and cut lines to a terminal's width (`busmon
 * top`): an East Asian Wide or Fullwidth character (CJK, Hangul, kana,
 * most emoji) takes two, a combining mark, variation selector or zero-width
 * joiner none, any other character one. A table of our own, not
 * wcwidth(3): that one answers only under a UTF-8 locale, which the CLI
 * cannot rely on (LANG=C under cron, a container without locales), and a
 * table does not change with the host.
 * The ranges are Unicode 15's East Asian Width W and F, merged where the gap
 * holds no assigned character of another width.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "proto/event.h" /* bm_text_for_terminal */

typedef struct {
    uint32_t lo, hi;
} cp_range;

static const cp_range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},   {0x0610, 0x061A},   {0x064B, 0x065F},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},
    {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2064},   {0x20D0, 0x20FF},   {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0000, 0xE007F}, {0xE0100, 0xE01EF},
};

static const cp_range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x16FF0, 0x16FF1}, {0x17000, 0x18CD5}, {0x18D00, 0x18D08}, {0x1AFF0, 0x1B2FB},
    {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
    {0x1F200, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251},
    {0x1F260, 0x1F265}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C},
    {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0},
    {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F3FF}, {0x1F400, 0x1F43E}, {0x1F440, 0x1F440},
    {0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
    {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
    {0x1F6DC, 0x1F6DF}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB},
    {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF},
    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_ranges(const cp_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

int bm_cli_char_columns(const char *s, size_t n, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    uint32_t cp = l == 1 ? c : l == 2 ? c & 0x1Fu : l == 3 ? c & 0x0Fu : c & 0x07u;
    for (size_t i = 1; i < l; i++) {
        if (i >= n || (p[i] & 0xC0) != 0x80) {
            l = 0; /* not UTF-8: a byte of one column (text views escape those first) */
            break;
        }
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if (!l) {
        *len = 1;
        return 1;
    }
    *len = l;
    if (in_ranges(zero_width, sizeof zero_width / sizeof *zero_width, cp)) return 0;
    return in_ranges(wide, sizeof wide / sizeof *wide, cp) ? 2 : 1;
}

size_t bm_cli_columns(const char *s)
{
    size_t cols = 0, n = strlen(s), len;
    for (size_t i = 0; i < n; i += len)
        cols += (size_t)bm_cli_char_columns(s + i, n - i, &len);
    return cols;
}

void bm_cli_pad(FILE *out, const char *s, int width)
{
    fputs(s, out);
    for (size_t used = bm_cli_columns(s); used < (size_t)(width > 0 ? width : 0); used++)
        fputc(' ', out);
}

const char *bm_cli_safe_pad(bm_cli_safe *b, const char *s, int width)
{
    char *slot = b->slot[b->next++ % BM_CLI_SAFE_SLOTS];
    size_t want = width > 0 ? (size_t)width : 0;
    size_t len = bm_cli_terminal_text(slot, BM_CLI_SAFE_BYTES, s);
    size_t cols = bm_cli_columns(slot);
    if (cols < want && len + want - cols >= BM_CLI_SAFE_BYTES) {
        len = bm_cli_terminal_text(slot, BM_CLI_SAFE_BYTES - want, s);
        cols = bm_cli_columns(slot);
    }
    for (; cols < want; cols++)
        slot[len++] = ' ';
    slot[len] = '\0';
    return slot;
}
