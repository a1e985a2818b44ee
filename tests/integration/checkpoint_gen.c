/*
 * checkpoint_gen.c - test helper: write one state checkpoint on stdout, made
 * by the library's own encoder (bm_checkpoint_encode), holding K learned
 * baseline keys (and nothing else), for a reader of checkpoints to be
 * tested against a real Redis (busmon baseline).
 *
 *   bm-checkpoint-gen [--agent NAME] [--keys K] [--slots none|hour_of_day|hour_of_week]
 *                     [--ts-us T] [--version V] | redis-cli -x SET busmon:state:NAME
 *
 * Each key is "key-%07d", ready (min_samples samples, an hour of learning),
 * its p95 at 50 ms plus its index in µs. --version V writes "v": V (a format
 * this build does not read: what a newer agent writes). On stderr: the bytes
 * and msgpack objects, and whether a reader with the default limits and
 * one with the limits of baselines.max_keys K (what an agent configured for
 * K keys reads back: bm_checkpoint_limits_for) decode it:
 *
 *   bytes 27000000 objects 4300000 default too_big keys ok
 */
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/checkpoint.h"
#include "lib/state_codec.h"

#define MIN_US (60LL * 1000000)

/* The checkpoint in sb packed again with "v" set to v. @return 0 or -1. */
static int set_version(msgpack_sbuffer *sb, long long v)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, sb->data, sb->size, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        return -1;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    const msgpack_object_map *m = &u.data.via.map;
    msgpack_pack_map(&pk, m->size);
    for (uint32_t i = 0; i < m->size; i++) {
        msgpack_pack_object(&pk, m->ptr[i].key);
        if (bm_sc_str_is(&m->ptr[i].key, "v"))
            msgpack_pack_long_long(&pk, v);
        else
            msgpack_pack_object(&pk, m->ptr[i].val);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(sb);
    *sb = out;
    return 0;
}

/* Decode sb into fresh baselines of max_keys keys with lim. @return its status's name. */
static const char *decodes(const msgpack_sbuffer *sb, const baseline_config *cfg, size_t max_keys,
                           const bm_checkpoint_limits *lim)
{
    baseline_config c = *cfg;
    c.max_keys = max_keys;
    static bm_checkpoint in;
    memset(&in, 0, sizeof in);
    in.baselines = baselines_new(&c);
    char err[256];
    bm_checkpoint_status st = bm_checkpoint_decode(sb->data, sb->size, lim, &in, err, sizeof err);
    baselines_free(in.baselines);
    return bm_checkpoint_status_name(st);
}

int main(int argc, char **argv)
{
    const char *agent = "agent-1";
    long long keys = 10, ts_us = 1700000000LL * 1000000, version = BM_CHECKPOINT_VERSION;
    baseline_config cfg;
    baseline_config_defaults(&cfg);
    cfg.slots = BASELINE_SLOTS_NONE;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--agent")) {
            agent = argv[i + 1];
        } else if (!strcmp(argv[i], "--keys")) {
            keys = atoll(argv[i + 1]);
        } else if (!strcmp(argv[i], "--ts-us")) {
            ts_us = atoll(argv[i + 1]);
        } else if (!strcmp(argv[i], "--version")) {
            version = atoll(argv[i + 1]);
        } else if (!strcmp(argv[i], "--slots")) {
            int s = baseline_slots_parse(argv[i + 1]);
            if (s < 0) keys = 0;
            cfg.slots = (baseline_slots)s;
        } else {
            keys = 0;
        }
    }
    if (keys < 1 || ts_us <= 0 || !(argc & 1)) {
        fprintf(stderr, "usage: bm-checkpoint-gen [--agent NAME] [--keys K>0] [--slots S] "
                        "[--ts-us T] [--version V]\n");
        return 2;
    }
    cfg.max_keys = (size_t)keys;
    cfg.max_idle_us = 0;
    baselines *b = baselines_new(&cfg);
    if (!b) return 1;
    char name[32];
    for (long long k = 0; k < keys; k++) {
        snprintf(name, sizeof name, "key-%07lld", k);
        for (uint32_t s = 0; s < cfg.min_samples; s++) {
            /* the last sample at ts_us, the first an hour and a minute before */
            int64_t at = ts_us - (int64_t)(cfg.min_samples - 1 - s) * (61 * MIN_US) /
                                     (int64_t)(cfg.min_samples - 1);
            double p95 = 50000.0 + (double)k;
            double v[BASELINE__SERIES] = {p95 / 2, p95, 0.01, 60};
            if (baselines_observe(b, name, v, at)) return 1;
        }
    }
    static bm_checkpoint c;
    snprintf(c.agent, sizeof c.agent, "%s", agent);
    c.ts_us = ts_us;
    c.baselines = b;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (bm_checkpoint_encode(&c, &sb) ||
        (version != BM_CHECKPOINT_VERSION && set_version(&sb, version))) {
        fprintf(stderr, "bm-checkpoint-gen: out of memory\n");
        return 1;
    }
    size_t objects = 0;
    bm_sc_scan(sb.data, sb.size, BM_CHECKPOINT_DEPTH_MAX, SIZE_MAX, &objects);
    bm_checkpoint_limits dflt = {0, 0}, own = bm_checkpoint_limits_for(0, (size_t)keys);
    fprintf(stderr, "bytes %zu objects %zu default %s keys %s\n", sb.size, objects,
            decodes(&sb, &cfg, (size_t)keys, &dflt), decodes(&sb, &cfg, (size_t)keys, &own));
    int rc = fwrite(sb.data, 1, sb.size, stdout) == sb.size && fflush(stdout) == 0 ? 0 : 1;
    msgpack_sbuffer_destroy(&sb);
    baselines_free(b);
    return rc;
}
