/*
 * group_keys.c - the keys that follow the consumer group, and the group
 * names refused because their keys would be someone else's (group_keys.h).
 *
 * Another group's key is the default group's, ':' and the group's name,
 * then the tail. So a group name is the part of a key between two ':' (or
 * at its end), and it is told apart from the default group's keys as long
 * as no key the default group writes below a base has that part: the
 * `sub` lists below, taken from the writers (alerting.c's firing hash,
 * persist.c's index sets, the index's summaries of earlier agents still
 * documented in proto/README.md §7.2). The default group's keys below a
 * prefix (`busmon:state:<consumer>`, `busmon:handoff:<consumer>`,
 * `busmon:trace:<tx>`) and a worker's index set take a name from outside:
 * a consumer, transaction or worker named "G:..." writes group G's key;
 * no group name can rule that out (README: keep such names apart).
 */
#include "agent/core/group_keys.h"

#include <stdio.h>
#include <string.h>

static const bm_group_key keys[] = {
    {"cluster.leader_key", "busmon:leader", "", "lease", 0, {{NULL, NULL, NULL}}},
    {"cluster.registry", "busmon:agents", "", "registry", 0, {{NULL, NULL, NULL}}},
    {"state.key_prefix", "busmon:state", ":", "checkpoints", 0, {{NULL, NULL, NULL}}},
    {"cluster.handoff_prefix", "busmon:handoff", ":", "hand-off streams", 0, {{NULL, NULL, NULL}}},
    {"baselines.control_key",
     "busmon:baseline:ctl",
     "",
     "baseline requests",
     0,
     {{NULL, NULL, NULL}}},
    {"outputs.rollups", "busmon:rollups", "", "rollups stream", 1, {{NULL, NULL, NULL}}},
    {"outputs.workers", "busmon:workers", "", "workers hash", 0, {{NULL, NULL, NULL}}},
    {"outputs.health", "busmon:health", "", "health stream", 1, {{NULL, NULL, NULL}}},
    {"outputs.system", "busmon:system", "", "system stream", 0, {{NULL, NULL, NULL}}},
    {"outputs.deadletter", "busmon:deadletter", "", "dead-letter stream", 0, {{NULL, NULL, NULL}}},
    {"outputs.trace_prefix", "busmon:trace", ":", "traces", 0, {{NULL, NULL, NULL}}},
    {"traces.index_key",
     "busmon:traces",
     "",
     "trace index",
     0,
     {{BM_GROUP_SUB_FAILED, "", "index of failed transactions"},
      {BM_GROUP_SUB_WORKER, ":<worker>", "index of a worker's transactions"},
      {"tx", ":<tx>", "transaction summaries (of earlier agents)"}}},
    /* alerts.channel follows the stream (and so its group) unless set */
    {"alerts.stream",
     "busmon:alerts",
     "",
     "alerts stream",
     1,
     {{BM_GROUP_SUB_FIRING, "", "firing hash"}}},
};

const bm_group_key *bm_group_keys(size_t *n)
{
    *n = sizeof keys / sizeof *keys;
    return keys;
}

const bm_group_key *bm_group_key_find(const char *setting)
{
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(keys[i].setting, setting)) return &keys[i];
    return NULL;
}

static int is_default(const char *group)
{
    return !group || !*group || !strcmp(group, BM_GROUP_DEFAULT);
}

int bm_group_key_name(const bm_group_key *k, const char *group, char *buf, size_t n)
{
    if (is_default(group)) return snprintf(buf, n, "%s%s", k->base, k->tail);
    return snprintf(buf, n, "%s:%s%s", k->base, group, k->tail);
}

int bm_group_name_check(const char *group, const char *subject, char *why, size_t whylen)
{
    if (is_default(group)) return 0;
    const char *colon = strchr(group, ':');
    if (colon) {
        /* a:b's keys are group a's below its own: busmon:state:a:b:<consumer> is a's
         * checkpoint of consumer b:<consumer> (and a:failed, a:firing, a:w its sets) */
        snprintf(why, whylen,
                 "%s '%.100s' holds ':', which separates the parts of busmon's keys: its keys "
                 "would be group "
                 "'%.*s''s (busmon:state:%.100s:<consumer> is the checkpoint of group '%.*s''s "
                 "consumer '%.100s:<consumer>'); name the group without ':'",
                 subject, group, (int)(colon - group), group, group, (int)(colon - group), group,
                 colon + 1);
        return -1;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        for (const bm_group_subkey *s = keys[i].sub; s < keys[i].sub + 3 && s->name; s++) {
            if (strcmp(group, s->name)) continue;
            snprintf(why, whylen,
                     "%s '%s' would write the default group's keys: its %s %s:%s%s falls on "
                     "the default group's %s %s:%s%s; name the group otherwise",
                     subject, group, keys[i].what, keys[i].base, group, keys[i].tail, s->what,
                     keys[i].base, s->name, s->rest);
            return -1;
        }
    return 0;
}
