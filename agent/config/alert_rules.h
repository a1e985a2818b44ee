/*
 * alert_rules.h - the `alerts:` section of busmon.yaml: the rule set the
 * alert engine (lib/alerts.h) runs, and the engine's bounds.
 *
 *   alerts:
 *     enabled: true          # false: no evaluation at all
 *     interval: 10s          # how often the rules are evaluated
 *     history: 100           # transitions kept for `busmon alerts` (1..10000; ~2 KiB each)
 *     max_alerts: 10000      # pending + firing alerts at once (1..1000000)
 *     builtins: true         # false: start from no rules instead of the seven built-ins
 *     disable: [critical_cpu]           # rules (built-in or not) kept but not evaluated
 *     rules:
 *       - name: high_error_rate         # a built-in's name: starts from the built-in,
 *         threshold: 0.2                # and only what is given changes
 *       - name: research_slow           # a new rule: metric and threshold required
 *         metric: p95_latency_ms
 *         scope: worker:research        # global | each_worker | worker:NAME | each_stream |
 *                                       # stream:NAME | each_error_type | error_type:NAME
 *         op: ">"                       # >, >=, <, <=, ==, != (also `comparator:`)
 *         threshold: 2000               # health: failed | degraded | ok, or 2 / 1 / 0
 *         window: 5m                    # 1m | 5m | 1h; default 5m for windowed metrics
 *         for: 1m                       # 30s, 5m, 1h, 1d, 250ms or seconds; default 0
 *         severity: warning             # info | warning | error | critical
 *         cooldown: 15m                 # 0: never repeat while firing
 *         labels: {team: search}
 *         description: "research p95 {value} ms over {window}"
 *         enabled: true
 *
 * `worker: NAME`, `stream: NAME` and `error_type: NAME` in a rule are short
 * for the named scope. Without `scope`, a new rule takes its metric's
 * default (health: each_worker; consumer_lag, pending: each_stream; else
 * global). Every bad rule is refused with "FILE:LINE: rule 'x': reason";
 * unknown keys in a rule are refused too (a typo must not silently disable
 * a condition). The section's keys are rows of the key table (keys.h), read
 * by the config walker (walk.h); a rule's keys are a table of their own,
 * read by the same walker in its strict mode. Unknown keys directly under
 * `alerts:` are reported through the warning callback; `webhooks`, `sinks`,
 * `stream`, `channel`, `maxlen` and `firing` belong to the notification
 * outputs (alerting.h) and are passed over here.
 *
 * Parsers stay silent: errors come back in `err`.
 */
#ifndef BM_AGENT_ALERT_CONFIG_H
#define BM_AGENT_ALERT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "agent/config/config.h"
#include "agent/config/walk.h"
#include "lib/alerts.h"

#define BM_ALERT_RULES_MAX 256

typedef struct {
    int enabled;         /* default 1 */
    int64_t interval_us; /* evaluation interval, default 10 s */
    size_t history;      /* default 100 */
    size_t max_alerts;   /* default 10000 */
    int builtins;        /* the built-ins were included; default 1 */
    alert_rule *rules;   /* the rule set: built-ins (overridden) first, then new rules, in
                            file order; disabled rules are kept with enabled = 0 (owned) */
    size_t n_rules;
} bm_alert_config;

/* Defaults, with the seven built-ins (alerting_load.c). @return 0 or -1 (out of memory). */
int bm_alert_config_init(bm_alert_config *c);
/* The same with the defaults of keys[0..n), the agent's table (a walk's w->keys, below the
 * table). @return 0 or -1 (out of memory). */
int bm_alert_config_init_from(bm_alert_config *c, const bm_config_key *keys, size_t n);
void bm_alert_config_deinit(bm_alert_config *c);

/* Told about each ignorable problem ("FILE:LINE: unknown key 'alerts.x' (ignored)"). */
typedef bm_config_warn_cb bm_alert_config_warn_cb;

/*
 * Read an `alerts:` value (`node`, a node of `doc`: a mapping, an empty
 * value or NULL for the defaults, or true / false for `enabled`) over the
 * defaults, and replace *c (initialised by bm_alert_config_init) with the
 * result. `file` names the source in messages; `warn` may be NULL.
 * @return 0, or -1 with one line "FILE:LINE: reason" in err, *c unchanged.
 */
int bm_alert_config_parse(bm_alert_config *c, yaml_document_t *doc, yaml_node_t *node,
                          const char *file, char *err, size_t errlen, bm_alert_config_warn_cb warn,
                          void *warn_arg);

/*
 * The same from YAML text holding a whole configuration (its `alerts:`
 * key; none = defaults). For tests and `busmon alerts --check`.
 * @return 0, or -1 with the reason in err.
 */
int bm_alert_config_parse_string(bm_alert_config *c, const char *yaml, size_t len, const char *file,
                                 char *err, size_t errlen, bm_alert_config_warn_cb warn,
                                 void *warn_arg);

/* @return the rule called `name`, or NULL. */
const alert_rule *bm_alert_config_find(const bm_alert_config *c, const char *name);

/*
 * An engine holding the configuration's rules and bounds.
 * @return the engine (caller alerts_free's), or NULL (out of memory).
 */
alerts *bm_alert_config_new_engine(const bm_alert_config *c);

/*
 * Walk an `alerts:` value in w (a mapping; empty; or true / false, which is
 * `enabled`) into the rows' bases, w->base[BM_BASE_RULES] at least.
 * @return 0, or -1 with the reason in w->err.
 */
int bm_alert_rules_walk_section(bm_walk *w, yaml_node_t *section);

/* The key table's readers of alerts.builtins, alerts.rules and alerts.disable
 * (bm_key_yaml_fn). @return 0, or -1 with the reason in w->err. */
int bm_alert_rules_yaml_builtins(bm_walk *w, const bm_walk_pair *p);
int bm_alert_rules_yaml_rules(bm_walk *w, const bm_walk_pair *p);
int bm_alert_rules_yaml_disable(bm_walk *w, const bm_walk_pair *p);

#endif
