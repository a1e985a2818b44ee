/*
 * test_sampling.c - lib/sampling: the sampled-out marker read back (what
 * `busmon trace` and `busmon traces` check each trace's first record
 * against), and hostile first records refused before msgpack-c allocates
 * what their headers announce.
 */
#include "lib/sampling.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

Test(sampling, a_marker_reads_back)
{
    bm_sampling_marker m = {.rate = 0.25, .events = 7, .at_us = 1796008280960000LL}, back;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_sampling_marker_encode(&m, &sb), 0);
    cr_assert_eq(bm_sampling_marker_parse(sb.data, sb.size, &back), 1);
    cr_assert_float_eq(back.rate, 0.25, 1e-12);
    cr_assert_eq(back.events, 7);
    cr_assert_eq(back.at_us, m.at_us);
    msgpack_sbuffer_destroy(&sb);
}

Test(sampling, hostile_first_records_are_not_markers)
{
    /* {"busmon_sampled_out": [2^32 - 1 elements]} and the same with a map:
     * 25 bytes claiming ~100 GB unpacked (an ASan build aborts on the
     * allocation if it is tried); a cut one; an event record */
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x81\xb2"
         "busmon_sampled_out\xdd\xff\xff\xff\xff",
         25},
        {"\x81\xb2"
         "busmon_sampled_out\xdf\xff\xff\xff\xff",
         25},
        {"\x81\xb2"
         "busmon_sampled_out",
         20},
        {"\x81\xa4type\xa7"
         "command",
         14},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bm_sampling_marker m;
        cr_assert_eq(bm_sampling_marker_parse(cases[i].bytes, cases[i].len, &m), 0, "case %zu", i);
    }
}
