/*
 * env.c - the BUSMON_* environment variables: one per key of the table
 * (keys.h), named after its path unless the row names another, plus the
 * older short names (BUSMON_GROUP, BUSMON_HTTP, ...). The short name is
 * read first, so the key's own name wins when both are set. An empty
 * variable counts as unset.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"
#include "agent/config/keys.h"

int bm_config_load_env(bm_config *c, char *err, size_t errlen)
{
    void *base[BM_BASE__COUNT] = {[BM_BASE_CONFIG] = c,
                                  [BM_BASE_ALERTING] = c->alerting,
                                  [BM_BASE_RULES] = &c->alerting->rules};
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const bm_config_key *k = &keys[i];
        char own[128];
        if (k->type == BM_KEY_ACTION || bm_config_key_env(k, own, sizeof own)) continue;
        const char *names[2] = {k->env_alias, own};
        for (size_t j = 0; j < 2; j++) {
            const char *v = names[j] ? getenv(names[j]) : NULL;
            if (v && *v && bm_config_key_set(k, base, v, names[j], BM_SET_FROM_ARGS, err, errlen))
                return -1;
        }
    }
    return 0;
}
