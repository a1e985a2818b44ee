/*
 * alerting.h - everything under `alerts:` in busmon.yaml: the rule set and
 * the engine's bounds (alert_rules.h reads those), and the notification
 * outputs read here:
 *
 *   alerts:
 *     stream: busmon:alerts        # XADD MAXLEN ~ of every notification (m + json)
 *     channel: busmon:alerts       # PUBLISH of the same JSON; default: the stream's name
 *     maxlen: 10000                # MAXLEN ~ of the stream
 *     firing: busmon:alerts:firing # hash: fingerprint -> JSON of each alert firing now
 *     webhooks:                    # sinks (agent/outputs/sink.h): one mapping each
 *       - name: oncall
 *         format: pagerduty        # generic | slack | pagerduty | alertmanager
 *         url: https://events.pagerduty.com/v2/enqueue
 *         routing_key: R0UT1NG
 *         headers: {X-Team: search}  # short for header.X-Team: search
 *
 * (`sinks:` is read as more `webhooks:`.) Each sink is checked when the file
 * is read, by making it once on a throw-away event base and freeing it, so a
 * bad sink stops the agent at start (and `--check-config`) with its line,
 * exactly like a bad rule. Nothing is sent and nothing blocks.
 *
 * The channel and the firing hash follow the stream's name unless they are
 * given (from any source); bm_alerting_config_finish applies that.
 *
 * Not here: evaluating, sending (agent/jobs/alerting.c). Silent: errors come
 * back in `err`, warnings through the callback.
 */
#ifndef BM_AGENT_ALERTING_CONFIG_H
#define BM_AGENT_ALERTING_CONFIG_H

#include <stddef.h>
#include <yaml.h>

#include "agent/config/alert_rules.h"
#include "agent/outputs/sink.h"

#define BM_ALERTING_SINKS_MAX 32

/* One configured sink: its key/value pairs as bm_sink_new takes them. */
typedef struct {
    bm_sink_kv *kv; /* owned keys and values */
    size_t n_kv;
    size_t line; /* where it was written (0: not from a file) */
} bm_alerting_sink_config;

typedef struct bm_alerting_config {
    bm_alert_config rules; /* enabled, interval, history, max_alerts, the rule set */
    char *stream;          /* "busmon:alerts"; another group's: "busmon:alerts:<group>" */
    char *channel;         /* "busmon:alerts" (the stream's name unless set) */
    size_t maxlen;         /* 10000 */
    char *firing_hash;     /* "<stream>:firing" unless set */
    bm_alerting_sink_config *sinks; /* alerts.webhooks, alerts.sinks: made when alerting is on */
    size_t n_sinks;
    bm_alerting_sink_config *output_sinks; /* outputs.sinks: any topic, always made */
    size_t n_output_sinks;
    int channel_set; /* alerts.channel was given: it does not follow the stream */
    int firing_set;  /* alerts.firing was given */
    int stream_set;  /* alerts.stream was given: it does not follow the group */
} bm_alerting_config;

/* Defaults (the seven built-ins, no sinks), from the agent's key table (alerting_load.c).
 * @return 0 or -1 (out of memory). */
int bm_alerting_config_init(bm_alerting_config *c);
/* The same from keys[0..n), the agent's table (a walk's w->keys, below the table).
 * @return 0 or -1 (out of memory). */
int bm_alerting_config_init_from(bm_alerting_config *c, const bm_config_key *keys, size_t n);
void bm_alerting_config_deinit(bm_alerting_config *c);

/*
 * Read an `alerts:` value (`node` of `doc`; NULL or empty for the defaults)
 * and replace *c with the result; *c is left as it was on error. `file`
 * names the source in messages; `warn` (may be NULL) is told about keys
 * that are ignored.
 * @return 0, or -1 with one line "FILE:LINE: reason" in err.
 */
int bm_alerting_config_parse(bm_alerting_config *c, yaml_document_t *doc, yaml_node_t *node,
                             const char *file, char *err, size_t errlen,
                             bm_alert_config_warn_cb warn, void *warn_arg);

/* The same from the text of a whole configuration file (tests). @return 0 or -1. */
int bm_alerting_config_parse_string(bm_alerting_config *c, const char *yaml, size_t len,
                                    const char *file, char *err, size_t errlen,
                                    bm_alert_config_warn_cb warn, void *warn_arg);

/* Name the channel and the firing hash after the stream unless they were
 * given. @return 0 or -1 (out of memory). */
int bm_alerting_config_finish(bm_alerting_config *c);

/*
 * Read an `alerts:` value (`node` of w's document) with w's table (the
 * agent's) into a fresh configuration, swapped into *all when all of it is
 * good; when all is NULL, into *rules alone (the outputs' keys passed over).
 * Warnings go to w->warn.
 * @return 0, or -1 with one line "FILE:LINE: reason" in w->err, *all / *rules unchanged.
 */
int bm_alerting_read_section(const bm_walk *w, bm_alerting_config *all, bm_alert_config *rules,
                             yaml_node_t *node);

/* The key table's readers of `alerts` (the whole section, into a fresh
 * configuration swapped in when all of it is good) and of alerts.webhooks /
 * alerts.sinks (bm_key_yaml_fn). @return 0, or -1 with the reason in w->err. */
int bm_alerting_yaml_section(bm_walk *w, const bm_walk_pair *p);
int bm_alerting_yaml_sinks(bm_walk *w, const bm_walk_pair *p);
/* The same for outputs.sinks (sinks of any topic: rollups to a webhook, a
 * copy of the health stream, ...), kept in output_sinks. */
int bm_outputs_yaml_sinks(bm_walk *w, const bm_walk_pair *p);

/*
 * Append a sink made of the n pairs of kv (copied) to the alerts' sinks,
 * after the sink's own check (bm_sink_check); its `name` must be new.
 * `line` is where it was written. @return 0, or -1 with the reason in why.
 */
int bm_alerting_add_sink(bm_alerting_config *c, const bm_sink_kv *kv, size_t n, size_t line,
                         char *why, size_t whylen);

/* The guides' `alerting:` section (guide_alerting.c, bm_key_yaml_fn): its rules
 * and channels, added to the alerts' rules and sinks. */
int bm_guide_alerting_yaml(bm_walk *w, const bm_walk_pair *p);

/* @return the value of `key` in sink i, or NULL. Borrowed. */
const char *bm_alerting_sink_get(const bm_alerting_config *c, size_t i, const char *key);

#endif
