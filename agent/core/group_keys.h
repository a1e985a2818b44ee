/*
 * group_keys.h - the keys that follow the consumer group: the default
 * group's name of each (`busmon:rollups`, `busmon:state:` + consumer, ...)
 * and another group G's (`busmon:rollups:G`, `busmon:state:G:` + consumer),
 * one table read by the configuration (config.c: each key not set), the
 * agent's pub/sub input (other groups' output channels are not events) and
 * the CLI (`busmon --group G`), so none of them spells a name the others
 * could drift from. And which group names are refused: those whose keys
 * would be the default group's (or another group's) keys.
 *
 * Pure: no allocation, no logging, no Redis.
 */
#ifndef BM_CORE_GROUP_KEYS_H
#define BM_CORE_GROUP_KEYS_H

#include <stddef.h>

/* What the default group writes below one of its keys, after `:`: its
 * first part (a group of this name would write there) and the rest. */
typedef struct {
    const char *name; /* "firing", "w" */
    const char *rest; /* after name: "" or ":<worker>" */
    const char *what; /* "firing hash", for reasons */
} bm_group_subkey;

/* One key (or prefix) that follows the group. */
typedef struct {
    const char *setting;    /* the configuration key naming it ("outputs.rollups") */
    const char *base;       /* the default group's key, a prefix without its last ':' */
    const char *tail;       /* after the group's name: ":" for a prefix, else "" */
    const char *what;       /* what it holds, for reasons ("alerts stream") */
    int channel;            /* also the channel the group's judge PUBLISHes on */
    bm_group_subkey sub[3]; /* the default group's keys below it (name NULL: no more) */
} bm_group_key;

/* The default group's name: its keys are the bases themselves. */
#define BM_GROUP_DEFAULT "busmon"

/* The keys a group writes below one of its keys, after ':' (the `sub` rows
 * name them for the default group): the firing hash below alerts.stream, the
 * failed transactions' index set and a worker's (then ':' and the worker)
 * below traces.index_key. Spelled here once for their writers
 * (config/alerting.c, state/persist.c) and the CLI. */
#define BM_GROUP_SUB_FIRING "firing"
#define BM_GROUP_SUB_FAILED "failed"
#define BM_GROUP_SUB_WORKER "w"

/* The stream read when none is named (streams.names). Every group's: it
 * does not follow the group, so it has no row; spelled here once for the
 * configuration and the CLI (busmon top's lag when no sample names one). */
#define BM_STREAM_DEFAULT "busmon:events"

/* The rows, in the configuration's order. @return the table; *n its length. */
const bm_group_key *bm_group_keys(size_t *n);

/* The row of `setting`. @return it, or NULL. */
const bm_group_key *bm_group_key_find(const char *setting);

/*
 * The key `k` of `group` (NULL, "" or BM_GROUP_DEFAULT: the default group's,
 * `base` + `tail`; another: `base` + ":" + group + `tail`) into buf.
 * @return its length, as snprintf (>= n: cut).
 */
int bm_group_key_name(const bm_group_key *k, const char *group, char *buf, size_t n);

/*
 * Whether `group` may name a group other than the default: not when a key of
 * its would be a key the default group writes (`firing`: busmon:alerts:firing
 * is the default group's firing hash), nor when it holds ':' (group "a:failed"
 * would write group a's busmon:traces:a:failed). The default group, NULL or ""
 * pass. `subject` starts the reason ("--group", "streams.group").
 * @return 0, or -1 with the reason (the keys named) in why.
 */
int bm_group_name_check(const char *group, const char *subject, char *why, size_t whylen);

#endif
