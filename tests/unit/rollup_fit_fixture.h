/*
 * rollup_fit_fixture.h - what a rollup entry takes in Redis, for the tests
 * of proto/rollup_fit.c: its compact JSON and its msgpack together.
 */
#ifndef BM_TESTS_UNIT_ROLLUP_FIT_FIXTURE_H
#define BM_TESTS_UNIT_ROLLUP_FIT_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>

#include "proto/rollup.h"

static inline size_t entry_bytes(json_t *j)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_json_encode_msgpack(j, &sb), 0);
    n += sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

#endif
