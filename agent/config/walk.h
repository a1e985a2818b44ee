/*
 * walk.h - the one YAML walker of the configuration, and the YAML helpers
 * its readers share (config.c, alert_rules.c, alerting.c).
 *
 * A walk reads one mapping against a table of keys (keys.h): each key found
 * in the table is set through its type (or its row's `yaml` function), a
 * section is walked in turn, a key of the monitoring guides is passed over.
 * An unknown key is warned about ("FILE:LINE: unknown key 'a.b' (ignored);
 * did you mean 'a.c'?"), or, in a strict walk (a rule's keys), refused with
 * the keys the table knows. A key given twice in one mapping is refused.
 *
 * With `settings` given, a setting set under two names (traces.retention
 * and the guides' event_monitoring.trace_retention_hours, a key of
 * metrics: and of metrics_collection:) to two values is refused too: which
 * one should win? The same value twice passes.
 *
 * Order: rows are applied by `phase`, then in file order (in table order
 * for a walk with `by_table`), so a key may depend on one read before it
 * (alerts.builtins, then alerts.rules, then alerts.disable).
 *
 * Silent: reasons go to `err` ("FILE:LINE: reason"), warnings to `warn`.
 */
#ifndef BM_AGENT_CONFIG_WALK_H
#define BM_AGENT_CONFIG_WALK_H

#include <stddef.h>
#include <yaml.h>

#include "agent/config/config.h"
#include "agent/config/keys.h"

/* A setting a walk has set, with where and to what: another name of it must agree. */
typedef struct {
    const bm_config_key *row; /* the row it stores into (an alias resolved) */
    size_t line;
    char path[256];  /* as written */
    char value[128]; /* as it reads once set (bm_keys_format) */
} bm_walk_setting;

typedef struct bm_walk {
    yaml_document_t *doc;
    const char *file;          /* names the source in messages */
    const char *context;       /* put before each reason ("rule 'x': "); "" for none */
    const bm_config_key *keys; /* the table */
    size_t n_keys;
    void *base[BM_BASE__COUNT]; /* where rows are stored; NULL: read elsewhere, skipped */
    int strict;                 /* unknown keys are refused, with the known ones */
    int by_table;               /* within a phase, table order instead of file order */
    bm_walk_setting *settings;  /* the settings set so far (NULL: not recorded); a row set
                                   again under another name with another value is refused */
    size_t n_settings, max_settings;
    bm_config_warn_cb warn;     /* may be NULL */
    void *warn_arg;
    char *err;
    size_t errlen;
} bm_walk;

/*
 * A walk over doc, strict off, every base NULL and no table yet: the caller
 * sets the table (w.keys = bm_config_keys(&w.n_keys) for the agent's) and
 * the bases it reads into. `file` NULL is "config".
 * @return the walk.
 */
bm_walk bm_walk_of_doc(yaml_document_t *doc, const char *file, bm_config_warn_cb warn,
                       void *warn_arg, char *err, size_t errlen);

/*
 * Read mapping `map` whose keys are under `path` (as written; "" at the top)
 * and `canon` (the same, with section aliases resolved) against w->keys.
 * @return 0, or -1 with one line "FILE:LINE: reason" in w->err.
 */
int bm_walk_mapping(bm_walk *w, yaml_node_t *map, const char *path, const char *canon);

/*
 * Refuse the keys of `map` that w->keys does not know, and any given twice,
 * without setting anything (a strict walk checks before it reads).
 * @return 0, or -1 with the reason in w->err.
 */
int bm_walk_check_keys(bm_walk *w, yaml_node_t *map);

/*
 * Set row k (found in w->keys) from node `value`, as the walk does.
 * @return 0, or -1 with the reason in w->err.
 */
int bm_walk_set(bm_walk *w, const bm_config_key *k, const char *path, yaml_node_t *value);

/*
 * Whether p's value is a list to read. `of_what` reads like
 * "rules (- name: ...)".
 * @return 1 (a YAML list), 0 (empty: nothing to read), or -1 with
 * "'PATH' must be a list of <of_what>, not ..." in w->err.
 */
int bm_walk_list(bm_walk *w, const bm_walk_pair *p, const char *of_what);

/* "FILE:LINE: <context><what>" into w->err. @return -1. */
int bm_walk_fail(bm_walk *w, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: <what>" to w->warn, if any (nothing is returned: a warning never stops a walk). */
void bm_walk_warn(bm_walk *w, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* @return the node `id` of the walk's document, or NULL. */
yaml_node_t *bm_walk_node(const bm_walk *w, int id);

/* @return the text of a scalar node; NULL for anything else. */
const char *bm_yaml_scalar(const yaml_node_t *n);

/* An empty value: no node, or a plain "", "~" or "null". @return 1 or 0. */
int bm_yaml_is_null(const yaml_node_t *n);

/* @return what a node is, for messages: "a mapping", "a list", "a value", "nothing". */
const char *bm_yaml_kind(const yaml_node_t *n);

/* @return the 1-based line a node starts on (0 for none). */
size_t bm_yaml_line(const yaml_node_t *n);

/* The value of `key` in mapping `map`, its key node in *key_node (may be NULL).
 * @return the value node, or NULL. */
yaml_node_t *bm_yaml_get(yaml_document_t *doc, const yaml_node_t *map, const char *key,
                         yaml_node_t **key_node);

/*
 * Load YAML text holding a whole configuration and find its top-level `key`
 * (*section NULL when there is none).
 * @return 0 (the caller yaml_document_delete's doc), or -1 with the reason
 * in err ("FILE:LINE: invalid YAML: ...", or a top level that is not a
 * mapping).
 */
int bm_yaml_load_section(yaml_document_t *doc, const char *file, const char *text, size_t len,
                         const char *key, yaml_node_t **section, char *err, size_t errlen);

/*
 * Load a YAML document from a file (text NULL) or from text[0..len).
 * `file` names it in messages.
 * A second document after '---' that holds anything is refused (its
 * settings would be dropped); an empty one (a trailing '---') is not.
 * @return 0 (the caller yaml_document_delete's doc), or -1 with
 * "cannot read config FILE: why", "FILE:LINE: invalid YAML: why" or
 * "FILE:LINE: a second YAML document ..." in err.
 */
int bm_yaml_load(yaml_document_t *doc, const char *file, const char *text, size_t len, char *err,
                 size_t errlen);

#endif
