/*
 * alerting_load.c - the `alerts:` configuration made and read on its own,
 * outside a walk of a whole file: its defaults (bm_alerting_config_init,
 * bm_alert_config_init) and a section read from a document or from text
 * (bm_config_init, the tests, `busmon alerts --check`).
 *
 * These name the agent's key table (keys.c), which names alerting.c's and
 * alert_rules.c's readers; so they sit here, above all three, and the
 * readers below take the table from their walk. Not here: the section
 * itself (alerting.c), a rule (alert_rules.c).
 */
#include "agent/config/alerting.h"

#include <stdio.h>

#include "agent/config/keys.h"
#include "agent/config/walk.h"

int bm_alert_config_init(bm_alert_config *c)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    return bm_alert_config_init_from(c, keys, n);
}

int bm_alerting_config_init(bm_alerting_config *c)
{
    size_t n;
    const bm_config_key *keys = bm_config_keys(&n);
    return bm_alerting_config_init_from(c, keys, n);
}

/* An `alerts:` value (node of doc) into *all, or, when all is NULL, into *rules alone. */
static int parse_node(bm_alerting_config *all, bm_alert_config *rules, yaml_document_t *doc,
                      yaml_node_t *node, const char *file, char *err, size_t errlen,
                      bm_alert_config_warn_cb warn, void *warn_arg)
{
    bm_walk w = bm_walk_of_doc(doc, file, warn, warn_arg, err, errlen);
    w.keys = bm_config_keys(&w.n_keys);
    return bm_alerting_read_section(&w, all, rules, node);
}

/* The same from the text of a whole configuration (its `alerts:` key). */
static int parse_text(bm_alerting_config *all, bm_alert_config *rules, const char *yaml, size_t len,
                      const char *file, char *err, size_t errlen, bm_alert_config_warn_cb warn,
                      void *warn_arg)
{
    yaml_document_t doc;
    yaml_node_t *sec;
    if (!file) file = "config";
    if (bm_yaml_load_section(&doc, file, yaml, len, "alerts", &sec, err, errlen)) return -1;
    int rc = parse_node(all, rules, &doc, sec, file, err, errlen, warn, warn_arg);
    yaml_document_delete(&doc);
    return rc;
}

int bm_alerting_config_parse(bm_alerting_config *c, yaml_document_t *doc, yaml_node_t *node,
                             const char *file, char *err, size_t errlen,
                             bm_alert_config_warn_cb warn, void *warn_arg)
{
    return parse_node(c, NULL, doc, node, file, err, errlen, warn, warn_arg);
}

int bm_alert_config_parse(bm_alert_config *c, yaml_document_t *doc, yaml_node_t *node,
                          const char *file, char *err, size_t errlen, bm_alert_config_warn_cb warn,
                          void *warn_arg)
{
    return parse_node(NULL, c, doc, node, file, err, errlen, warn, warn_arg);
}

int bm_alerting_config_parse_string(bm_alerting_config *c, const char *yaml, size_t len,
                                    const char *file, char *err, size_t errlen,
                                    bm_alert_config_warn_cb warn, void *warn_arg)
{
    return parse_text(c, NULL, yaml, len, file, err, errlen, warn, warn_arg);
}

int bm_alert_config_parse_string(bm_alert_config *c, const char *yaml, size_t len, const char *file,
                                 char *err, size_t errlen, bm_alert_config_warn_cb warn,
                                 void *warn_arg)
{
    return parse_text(NULL, c, yaml, len, file, err, errlen, warn, warn_arg);
}
