/*
 * json2msgpack.c - test helper: read one JSON value on stdin, write it as
 * msgpack on stdout (integers stay integers, reals stay floats). With
 * --truncate N, write only the first N bytes (a broken entry on purpose).
 *
 *   echo '{"type":"command",...}' | bm-json2msgpack | redis-cli -x XADD s '*' m
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pack(msgpack_packer *pk, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            pack(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) pack(pk, v);
        break;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
    }
}

int main(int argc, char **argv)
{
    long truncate_to = -1;
    if (argc == 3 && !strcmp(argv[1], "--truncate")) truncate_to = atol(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: bm-json2msgpack [--truncate N] < value.json > value.msgpack\n");
        return 2;
    }
    json_error_t e;
    json_t *j = json_loadf(stdin, JSON_DECODE_ANY, &e);
    if (!j) {
        fprintf(stderr, "bm-json2msgpack: line %d: %s\n", e.line, e.text);
        return 1;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack(&pk, j);
    size_t n = sb.size;
    if (truncate_to >= 0 && (size_t)truncate_to < n) n = (size_t)truncate_to;
    fwrite(sb.data, 1, n, stdout);
    msgpack_sbuffer_destroy(&sb);
    json_decref(j);
    return 0;
}
