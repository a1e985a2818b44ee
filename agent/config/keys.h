/*
 * keys.h - the table of busmon-agent's settings. Each setting is declared
 * once, as one row: its YAML path, its type and bounds, its default (as it
 * would be written), a line of help, where it is stored, its environment
 * variable and its flag. The config file (walk.c), the environment (env.c),
 * the flags (args.c), the defaults (config.c) and --help (usage.c) all read
 * the same rows, so a value is validated the same way from every source.
 *
 * Environment variables: every setting with a YAML path has one, named
 * after the path (BUSMON_ + the path in capitals, '.' as '_':
 * streams.batch is BUSMON_STREAMS_BATCH) unless the row names another;
 * `env_alias` is an older short name read too (BUSMON_GROUP). When both
 * are set, the row's own name wins.
 *
 * Rows also describe what is not a setting of busmon: keys of the Python
 * monitoring guides busmon reads under another name (`alias_of`) or accepts
 * and ignores (BM_KEY_GUIDE, with the reason in `help`), and flags that are
 * actions (--help, --check-config). The alert rules' keys are a table of
 * the same rows (alert_rules.c).
 *
 * Three files: keys.c (the agent's table and what takes it by name),
 * key_lookup.c (look-ups over any table) and value.c (one value of a row of
 * any table). The agent's table names the readers of its YAML rows, so it
 * sits above them; below it the table is a parameter (bm_keys_*), and calls
 * between the files of config/ go one way.
 */
#ifndef BM_AGENT_CONFIG_KEYS_H
#define BM_AGENT_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

typedef enum {
    BM_KEY_STRING,    /* text, not empty (char *) */
    BM_KEY_NAME,      /* a Redis key or channel name, 1-256 bytes, no spaces (char *) */
    BM_KEY_LISTEN,    /* host:port (char *), or off: `also_sets` false */
    BM_KEY_SIZE,      /* a whole number, k/M suffixes (size_t); "a positive number" */
    BM_KEY_COUNT,     /* a whole number lo..hi (size_t, or int with BM_KEY_F_INT) */
    BM_KEY_BOOL,      /* true/false... (int 0/1; "auto" is -1 with BM_KEY_F_AUTO) */
    BM_KEY_FRACTION,  /* 0..1 (double) */
    BM_KEY_MEGABYTES, /* megabytes, fractions allowed, lo..hi (double) */
    BM_KEY_DURATION,  /* int64_t (int with BM_KEY_F_INT) in `unit_us`, lo..hi in µs */
    BM_KEY_LOGLEVEL,  /* debug, info, warn, error (int bm_log_level) */
    BM_KEY_STREAMS,   /* the stream list: a YAML list, or names separated by ',' or ' ' */
    BM_KEY_PATTERNS,  /* the pub/sub patterns, likewise */
    BM_KEY_DURATIONS, /* ascending durations (a YAML list, or ',' / ' ' separated; a bare
                         number in seconds); bm_config's duration_buckets_us */
    BM_KEY_YAML,      /* YAML only, read by the row's `yaml` function (rules, sinks); without
                         one, by the caller of the walk (a rule's name) */
    BM_KEY_SECTION,   /* a section read as another (`alias_of`): metrics: for metrics_collection: */
    BM_KEY_GUIDE,     /* a key of the monitoring guides busmon accepts and ignores */
    BM_KEY_ACTION,    /* a flag that is not a setting: --help, --config, --check-config */
} bm_key_type;

/* Where a row's value lives; the walker is given one pointer per base. */
typedef enum {
    BM_BASE_CONFIG,     /* bm_config */
    BM_BASE_ALERTING,   /* bm_alerting_config */
    BM_BASE_RULES,      /* bm_alert_config */
    BM_BASE_RULE,       /* alert_rule (one rule being read) */
    BM_BASE_RULE_STATE, /* alert_rules.c's state of the rule being read */
    BM_BASE__COUNT
} bm_key_base;

enum {
    BM_KEY_F_INT = 1 << 0,       /* COUNT / DURATION stored in an int */
    BM_KEY_F_AUTO = 1 << 1,      /* BOOL also takes "auto" (-1) */
    BM_KEY_F_NO_YAML = 1 << 2,   /* not a config file key (--drain, --no-http) */
    BM_KEY_F_NO_ENV = 1 << 3,    /* no environment variable */
    BM_KEY_F_INTERNAL = 1 << 4,  /* bookkeeping: only `also_sets` writes it */
    BM_KEY_F_ARGS_SETS = 1 << 5, /* `also_sets` only from the environment and flags */
    BM_KEY_F_UNLISTED = 1 << 6,  /* accepted, not named in a "known: ..." list */
    BM_KEY_F_COMPUTED = 1 << 7,  /* `def` describes a default computed elsewhere */
    BM_KEY_F_IDENTITY = 1 << 8,  /* STRING: a name shown in JSON (the consumer, the group):
                                    valid UTF-8, no control characters, as every NAME, and
                                    at most BM_IDENTITY_MAX bytes */
};

/* The longest name of BM_KEY_F_IDENTITY (bytes). A consumer's name goes
 * into keys and fixed buffers with suffixes ("<consumer>.claimed", at most
 * 255 bytes) and into the first bytes of its checkpoint, which a claim
 * compares (BM_CLAIM_FENCE_BYTES): longer is refused, never cut. */
#define BM_IDENTITY_MAX 200

/* The default when a row gives none: a bare duration is in seconds. */
#define BM_KEY_BARE_DEFAULT_US 1000000LL

struct bm_walk;
typedef struct bm_config_key bm_config_key;

/* One key of a config file and its value, as a row's reader gets them. */
typedef struct {
    const bm_config_key *k; /* the row (an alias resolved to its key) */
    const char *path;       /* the key as written ("alerts.webhooks") */
    yaml_node_t *key;
    yaml_node_t *value;
} bm_walk_pair;

/*
 * Reads a BM_KEY_YAML row's value (or any row's, replacing the typed
 * reading) from the config file.
 * @return 0, or -1 with the reason set through bm_walk_fail().
 */
typedef int (*bm_key_yaml_fn)(struct bm_walk *w, const bm_walk_pair *p);

struct bm_config_key {
    const char *path; /* dotted YAML path ("streams.batch"), or the name of a flag-only row */
    bm_key_type type;
    const char *def;  /* the default as written ("1000", "10s"); NULL: none */
    double lo, hi;    /* bounds: numbers in their unit, durations in µs; hi 0: none */
    const char *help; /* one line; for BM_KEY_GUIDE the reason it is ignored */
    bm_key_base base;
    size_t offset;         /* of the field in its base */
    const char *env;       /* the variable, when not named after the path */
    const char *env_alias; /* an older name also read (BUSMON_GROUP) */
    const char *flag;      /* long option without "--" */
    char short_flag;       /* 'h' */
    const char *metavar;   /* the flag's argument ("N"); NULL: the flag takes none */
    const char *fixed;     /* a flag without argument sets this value ("false") */
    const char *group;     /* --help heading of the flag */
    int64_t unit_us;       /* durations: the stored unit (BM_US_PER_MS for a *_ms field) */
    int64_t bare_us;       /* durations: a bare number's unit; 0: from the path's suffix */
    const char *alias_of;  /* this row is another name of that key (or section) */
    const char *also_sets; /* a BOOL key set true with this one (false by "off"), unless
                              that key was given itself: its own `also_sets` (an internal
                              row) says so, and what is given beats what is implied */
    int phase;             /* config file: applied by phase, then file order */
    int flags;             /* BM_KEY_F_* */
    bm_key_yaml_fn yaml;
    const char *quiet_if;  /* BM_KEY_GUIDE: the value busmon does anyway ("true"); any other
                              value is warned about once, with the reason (NULL: always) */
    int (*valid)(const char *text); /* STRING: whether text is one of its words, or not one
                                       of the words it refuses (NULL: any) */
    const char *valid_words;        /* ... what it may be, for the reason ("a, b or c") */
};

/* otlp.headers / otlp.header_files: NAME: VALUE (or FILE) into bm_config (otlp_headers.c). */
int bm_otlp_yaml_headers(struct bm_walk *w, const bm_walk_pair *p);

/* ---- the agent's table (keys.c) --------------------------------------------
 * keys.c names the rows' YAML readers, so it sits above them: nothing it
 * names calls these. Below it (walk.c, value.c, the readers) the table is a
 * parameter, the bm_keys_* functions. */

/* The agent's table, in a fixed order. @return the rows; *n their number. */
const bm_config_key *bm_config_keys(size_t *n);

/* bm_keys_find in the agent's table. @return the row, or NULL. */
const bm_config_key *bm_config_key_find(const char *path);

/*
 * The environment variable of k into buf (its own name, or the one made
 * from its path). @return 0, or -1 when k has none.
 */
int bm_config_key_env(const bm_config_key *k, char *buf, size_t len);

/* bm_keys_set with the agent's table (the environment, the flags). @return the same. */
int bm_config_key_set(const bm_config_key *k, void *const base[BM_BASE__COUNT], const char *text,
                      const char *subject, int how, char *why, size_t whylen);

/* bm_keys_defaults with the agent's table. @return the same. */
int bm_config_keys_defaults(void *const base[BM_BASE__COUNT], char *why, size_t whylen);

/* ---- look-ups over any table (key_lookup.c) ------------------------------- */

/* The row of a config file path in a table (aliases included; not flag-only
 * or internal rows). @return the row, or NULL. */
const bm_config_key *bm_keys_find(const bm_config_key *keys, size_t n, const char *path);

/* Whether `path` is a section of the table: some row's path starts with
 * "path.". @return 1 or 0. */
int bm_keys_is_section(const bm_config_key *keys, size_t n, const char *path);

/*
 * A key of the table close to the unknown `path`: a typo one or two edits
 * away, a name in the same section that starts like it, or the same name in
 * another section. @return the row, or NULL.
 */
const bm_config_key *bm_keys_suggest(const bm_config_key *keys, size_t n, const char *path);

/*
 * The same over a list of plain names (a sink's keys, the guides' rule
 * keys): the name closest to the unknown `name`, by the same measure.
 * @return one of names (borrowed), or NULL when none is close.
 */
const char *bm_names_suggest(const char *const *names, size_t n, const char *name);

/* A bare duration's unit for k of the table keys[0..n): its own, else from
 * the path's suffix (_ms, _seconds, _minutes, _hours), else its alias
 * target's, else seconds. @return µs. */
int64_t bm_keys_bare_us(const bm_config_key *keys, size_t n, const bm_config_key *k);

/* ---- one value of a row (value.c) ------------------------------------------
 * `keys`, `n`: the table k is a row of (its aliases and `also_sets` are
 * looked up there). */

/* How bm_keys_set takes a value (flags). */
enum {
    BM_SET_FROM_ARGS = 0, /* the environment or a flag: a list is replaced */
    BM_SET_FROM_FILE = 1, /* the config file: `also_sets` of BM_KEY_F_ARGS_SETS rows is not */
    BM_SET_APPEND = 2,    /* one item added to a list, as it is (a repeated flag, a YAML list) */
    BM_SET_DEFAULT = 4,   /* a row's default: nothing given, so `also_sets` is not applied */
};

/*
 * Set k from text, checked against its type and bounds. `subject` names
 * the source in the reason ("'streams.batch'", "--batch",
 * "BUSMON_STREAMS_BATCH"), so the same value is refused with the same words
 * from every source. `base` holds one pointer per bm_key_base (NULL: the
 * key is read elsewhere, and nothing is set).
 * @return 0, or -1 with "SUBJECT must be ..., not 'VALUE'" in why.
 */
int bm_keys_set(const bm_config_key *keys, size_t n, const bm_config_key *k,
                void *const base[BM_BASE__COUNT], const char *text, const char *subject, int how,
                char *why, size_t whylen);

/*
 * Set the default (`def`) of every row of keys[0..n) stored in a non-NULL
 * base, aliases and computed defaults left out.
 * @return 0, or -1 with the reason in why (a bad default, out of memory).
 */
int bm_keys_defaults(const bm_config_key *keys, size_t n, void *const base[BM_BASE__COUNT],
                     char *why, size_t whylen);

/*
 * The reason a value of k is refused when it is not text at all (a YAML
 * mapping or list), shown as `shown` ("a mapping").
 * @return -1, with the reason in why.
 */
int bm_keys_refuse(const bm_config_key *keys, size_t n, const bm_config_key *k, const char *subject,
                   const char *shown, char *why, size_t whylen);

/*
 * k's current value as text, in the form it would be written ("10s", "1000",
 * "a,b"; "" for no value). @return 0, or -1 when k holds no value (actions,
 * guide keys, YAML-only rows).
 */
int bm_keys_format(const bm_config_key *keys, size_t n, const bm_config_key *k,
                   void *const base[BM_BASE__COUNT], char *buf, size_t len);

#endif
