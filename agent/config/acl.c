/*
 * acl.c - the Redis ACL a configuration needs (config.h,
 * bm_config_acl_line): the keys and channels its names make, and the
 * commands of core/acl.h's table. Names under "busmon:" are granted as one
 * pattern, busmon:*, so the default configuration's line is short:
 *
 *   ACL SETUSER busmon on >PASSWORD resetkeys ~busmon:* resetchannels &busmon:*
 *       -@all +xreadgroup +xack ...
 *
 * (the default stream, busmon:events, is under busmon:* too). Other names
 * are listed as they are: a prefix (traces, the checkpoint) as "prefix*",
 * input streams, Redis sinks' streams, hashes and channels, pub/sub
 * patterns (PSUBSCRIBE needs the pattern itself granted, &multiagent:*).
 */
#include <stdio.h>
#include <string.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/core/acl.h"

#define NAMES_MAX 256
#define COMMON    "busmon:*"

typedef struct {
    const char *v[NAMES_MAX];
    char own[NAMES_MAX][300]; /* made here ("prefix*") */
    size_t n, n_own;
    int common; /* something was under busmon: */
} names;

/* Add a name (or pattern) once; names under "busmon:" fold into busmon:*. */
static void add(names *ns, const char *s)
{
    if (!s || !*s) return;
    if (!strncmp(s, "busmon:", 7)) {
        ns->common = 1;
        return;
    }
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i], s)) return;
    if (ns->n < NAMES_MAX) ns->v[ns->n++] = s;
}

static void add_prefix(names *ns, const char *prefix)
{
    if (!prefix || !*prefix || ns->n_own == NAMES_MAX) return;
    char *p = ns->own[ns->n_own++];
    snprintf(p, sizeof ns->own[0], "%s*", prefix);
    add(ns, p);
}

/* The value of `key` in a sink's configuration, or NULL. */
static const char *kv(const bm_alerting_sink_config *s, const char *key)
{
    for (size_t i = 0; i < s->n_kv; i++)
        if (!strcmp(s->kv[i].key, key)) return s->kv[i].value;
    return NULL;
}

/* A Redis sink's key (stream or hash) and channel. */
static void add_sink(names *keys, names *channels, const bm_alerting_sink_config *s)
{
    const char *type = kv(s, "type");
    if (!type || (strcmp(type, "redis_stream") && strcmp(type, "redis_hash"))) return;
    add(keys, kv(s, "stream"));
    add(keys, kv(s, "key"));
    add(channels, kv(s, "channel"));
}

/* Put busmon:* first when something folded into it. */
static size_t finish(names *ns, const char **out)
{
    size_t n = 0;
    if (ns->common) out[n++] = COMMON;
    for (size_t i = 0; i < ns->n; i++)
        out[n++] = ns->v[i];
    return n;
}

size_t bm_config_acl_line(const bm_config *c, const char *user, int readonly, char *buf,
                          size_t len)
{
    names keys, channels;
    memset(&keys, 0, sizeof keys);
    memset(&channels, 0, sizeof channels);
    const bm_alerting_config *al = c->alerting;
    /* what the agent writes and the CLI reads */
    add_prefix(&keys, c->trace_prefix);
    if (c->trace_index_max) add_prefix(&keys, c->trace_index_key);
    add(&keys, c->rollups_stream);
    add(&keys, c->workers_hash);
    add(&keys, c->system_stream);
    add(&keys, al->stream);
    add(&keys, al->firing_hash);
    add(&channels, al->channel); /* busmon alerts --watch */
    /* the streams read: XREADGROUP (the agent), XINFO GROUPS (busmon top) */
    for (size_t i = 0; i < c->n_streams; i++)
        add(&keys, c->streams[i]);
    /* the checkpoints: written and read by the agent, read by busmon baseline (MGET) */
    add_prefix(&keys, c->state_prefix);
    if (!readonly) {
        add(&keys, c->deadletter_stream);
        add(&keys, c->health_stream);
        if (c->baselines_enabled) add(&keys, c->baselines_control_key); /* jobs/baseline.c */
        if (c->cluster_enabled) { /* several agents: jobs/cluster.c */
            add(&keys, c->cluster_registry);
            add(&keys, c->cluster_leader_key);
            add_prefix(&keys, c->cluster_handoff_prefix);
        }
        add(&channels, c->rollups_stream);
        add(&channels, c->health_stream);
        for (size_t i = 0; c->pubsub_enabled && i < c->n_pubsub_patterns; i++)
            add(&channels, c->pubsub_patterns[i]);
        for (size_t i = 0; al->rules.enabled && i < al->n_sinks; i++)
            add_sink(&keys, &channels, &al->sinks[i]);
        for (size_t i = 0; i < al->n_output_sinks; i++)
            add_sink(&keys, &channels, &al->output_sinks[i]);
    }
    const char *k[NAMES_MAX + 1], *ch[NAMES_MAX + 1];
    size_t nk = finish(&keys, k), nc = finish(&channels, ch);
    return bm_acl_format(buf, len, user, k, nk, ch, nc, readonly);
}
