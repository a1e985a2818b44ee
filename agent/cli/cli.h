/*
 * cli.h - the `busmon` command line: the options given before the command,
 * a row of the command table (commands.c), and the commands.
 *
 * Exit codes (all commands): 0 success, 1 not found (e.g. unknown
 * transaction), 2 usage error (a bad Redis URL too), 3 Redis unreachable
 * or refused, 4 the output could not be written (main.c).
 */
#ifndef BM_AGENT_CLI_H
#define BM_AGENT_CLI_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/sampling.h"
#include "lib/trace.h"

enum {
    BM_EXIT_OK = 0,
    BM_EXIT_NOT_FOUND = 1,
    BM_EXIT_USAGE = 2,
    BM_EXIT_REDIS = 3,
    BM_EXIT_OUTPUT = 4 /* the output could not be written (a full disk): main.c */
};

typedef struct {
    const char *redis_url;    /* --redis; NULL or "": $BUSMON_REDIS_URL, else the default */
    const char *redis_password_file; /* --redis-password-file; NULL: $BUSMON_REDIS_PASSWORD_FILE */
    const char *redis_username;      /* --redis-username; NULL: $BUSMON_REDIS_USERNAME */
    const char *trace_prefix;        /* --trace-prefix; NULL: the group's (bm_cli_key) */
    const char *group;               /* --group; NULL or "": $BUSMON_GROUP, ... (bm_cli_group) */
    int color;                /* stdout is a terminal and NO_COLOR unset */
} bm_cli_opts;

typedef struct bm_cli_command bm_cli_command;

/*
 * A command's handler: `self` is its row of the table, `o` the options given
 * before it, argv[0] the word typed and argv[1..argc) its arguments (parsed
 * with bm_cli_parse, options.h). @return the exit code.
 */
typedef int bm_cli_handler(const bm_cli_command *self, const bm_cli_opts *o, int argc, char **argv);

/* A row of the command table: `busmon NAME ...`. */
struct bm_cli_command {
    const char *name;
    const char *const *aliases; /* other words for it, NULL-terminated; NULL: none */
    const char *operand;        /* its one operand ("TX"), or NULL: it takes none */
    const char *summary;        /* one line, for the list in busmon --help */
    void (*help)(FILE *f);      /* busmon NAME --help, busmon help NAME */
    bm_cli_handler *run;
};

/* The row whose name or alias is `word`, or NULL. */
const bm_cli_command *bm_cli_command_find(const char *word);

/* Print the command list of busmon --help, a line per row, on f. */
void bm_cli_command_list(FILE *f);

/* Print busmon's own help (usage, commands, options) on f (commands.c). */
void bm_cli_overview(FILE *f);

/* help.c: busmon's own help with its command list printed by command_list
 * (bm_cli_overview hands in bm_cli_command_list); "busmon VERSION". */
void bm_cli_overview_with(FILE *f, void (*command_list)(FILE *f));
void bm_cli_version(FILE *f);

/*
 * trace.c: the records of a trace key's LRANGE reply (r: NULL or anything
 * but an array reads as none) replayed into a new trace of tx (*out, the
 * caller's to trace_free), by the agent's own code: the same ordering,
 * dedup, pairing and status. @return BM_TRACE_RECORDS_OK (*unreadable
 * counts the records that could not be read), _NONE (no record: never seen,
 * or expired), _SAMPLED (a tail-sampling marker, copied to *marker when
 * given) or _NOMEM.
 */
enum {
    BM_TRACE_RECORDS_OK,
    BM_TRACE_RECORDS_NONE,
    BM_TRACE_RECORDS_SAMPLED,
    BM_TRACE_RECORDS_NOMEM,
};
/* Records read of one trace at most: a bound on the CLI's memory and time.
 * A trace is replayed by the agent's own code (lib/trace.c), whose pairing
 * and dedup scan the trace for each event: quadratic, fine for the agent's
 * traces.max_events (512 by default) but 55 s of CPU for 100,000 records.
 * 5,000 take about a quarter of a second; a longer trace is read from its
 * start, and the reader says so. */
#define TRACE_READ_MAX 5000
int bm_cli_trace_records(const redisReply *r, const char *tx, bm_decoder *d, trace **out,
                         size_t *unreadable, bm_sampling_marker *marker);

/*
 * trace.c: the earliest and latest event times (µs) of the records of
 * <prefix><tx> (tx_len bytes) past its first TRACE_READ_MAX, read
 * BM_CLI_SPAN_PAGE at a time, only their times kept (records read as
 * bm_cli_trace_records reads them), widening *span (start it at {INT64_MAX,
 * INT64_MIN}). A trace that long is replayed from its first records (the
 * pairing's cost); its start and end are those of all its records.
 * @return 0, or -1 (Redis failed: said in err).
 */
typedef struct {
    int64_t first_us, last_us;
} bm_cli_span;
#define BM_CLI_SPAN_PAGE 5000
int bm_cli_trace_span(redisContext *c, const char *prefix, const char *tx, size_t tx_len,
                      bm_decoder *d, bm_cli_span *span, char *err, size_t errlen);

struct json_t;
/* The first `json` field of a stream entry (an element of an XRANGE reply)
 * that holds a JSON object, parsed (caller json_decref's), or NULL: what
 * the agent writes has one, an entry written by hand may have several. */
/*
 * Whether a rollup is of the format this busmon reads (proto/README §8.2:
 * a change of meaning gets a new "v"). A rollup without "v" (older agents,
 * hand-written test rollups) is read. @return 1, or 0 with why said in buf.
 */
int bm_cli_rollup_version_ok(struct json_t *roll, char *buf, size_t n);
struct json_t *bm_cli_entry_json(const redisReply *entry);
/* o[k] as a number (0 when absent or not a number). */
double bm_cli_num(struct json_t *o, const char *k);
/* o[k] as a string ("-" when absent or not a string). */
const char *bm_cli_str(struct json_t *o, const char *k);

/*
 * s (NULL: "") as a terminal may show it (bm_text_for_terminal) into buf (n
 * bytes): whole when it fits, else cut between characters (never in one,
 * nor in an escape) and marked at the end with how many of its bytes are
 * left out, "…(+1234 bytes)" (BM_CLI_CUT_MARK; --json shows them all).
 * @return the length written.
 */
#define BM_CLI_CUT_MARK     "\u2026(+%zu bytes)"
#define BM_CLI_CUT_MARK_MAX 40 /* the mark's bytes at most, with a 20-digit count */
size_t bm_cli_terminal_text(char *buf, size_t n, const char *s);

/*
 * Text that came from Redis as a terminal may show it: control characters,
 * DEL, C1 and invalid UTF-8 as "\xNN" (bm_text_for_terminal), cut to
 * BM_CLI_SAFE_BYTES - 1 bytes and the cut marked (bm_cli_terminal_text).
 * Every text view prints names, messages and
 * labels through these (JSON output is escaped by jansson). Each call takes
 * the next of the caller's slots, round robin: at most BM_CLI_SAFE_SLOTS
 * results of one bm_cli_safe in use at once (one printf's arguments).
 * Declare it initialised (`bm_cli_safe sb = {.next = 0};`).
 * @return the slot.
 */
#define BM_CLI_SAFE_SLOTS 8
#define BM_CLI_SAFE_BYTES 1024
typedef struct {
    char slot[BM_CLI_SAFE_SLOTS][BM_CLI_SAFE_BYTES];
    unsigned next;
} bm_cli_safe;
const char *bm_cli_safe_text(bm_cli_safe *b, const char *s);
/* bm_cli_str(o, k) through bm_cli_safe_text. */
const char *bm_cli_safe_str(bm_cli_safe *b, struct json_t *o, const char *k);
/*
 * A list in one cell (an error's workers, a series' tags): fmt's text
 * appended to buf (n bytes, *len of them used) when it fits whole with
 * `spare` bytes left for what follows (" +2 more"), else nothing: a list
 * cut to its buffer loses whole items, never half a name or a character.
 * @return 1 appended, 0 left out.
 */
int bm_cli_append_whole(char *buf, size_t n, size_t *len, size_t spare, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Terminal columns (columns.c): a character of UTF-8 text at s (n bytes
 * left) takes 2 (East Asian Wide and Fullwidth: CJK, Hangul, most emoji),
 * 0 (a combining mark, a variation selector, a zero-width joiner) or 1 (any
 * other, and a byte that is not UTF-8), its length in bytes into *len;
 * bm_cli_columns sums a string's. bm_cli_pad prints s and spaces up to
 * `width` columns (as printf's "%-*s" would, counting columns, not bytes).
 */
int bm_cli_char_columns(const char *s, size_t n, size_t *len);
size_t bm_cli_columns(const char *s);
void bm_cli_pad(FILE *out, const char *s, int width);
/* s through bm_cli_safe_text, then spaces up to `width` columns (as
 * bm_cli_pad): a table's cell for printf's "%s" where "%-*s" would count
 * bytes. Text longer than width is whole (the row is pushed, as printf's);
 * zero-width characters that fill the slot are cut to leave room for the
 * spaces. @return the slot (width < BM_CLI_SAFE_BYTES). */
const char *bm_cli_safe_pad(bm_cli_safe *b, const char *s, int width);

/*
 * The one dialect of every command's output. Human output: times are UTC,
 * ISO-8601 with milliseconds and a Z ("2026-11-30T03:11:20.960Z"). JSON
 * output: RFC 3339 strings; an epoch number, when kept, is beside it under
 * the name + "_unix". Every view shows the same window unless --window
 * says: $BUSMON_WINDOW, else BM_CLI_WINDOW.
 */
#define BM_CLI_WINDOW "5m"
const char *bm_cli_window_default(void);
/* Where a window refused came from, for the usage error: " (from
 * $BUSMON_WINDOW)" when `window` is bm_cli_window_default()'s value of the
 * variable (no --window was given), else "". */
const char *bm_cli_window_origin(const char *window);
/* `window` as a table's headline says it over the rollup `roll`: "1h" is
 * the performance window, which is configured (1 min to 30 days): when it
 * is not one hour, "1h (performance window: 30m)", its length from the
 * rollup's events. @return window itself, or buf. */
const char *bm_cli_window_title(struct json_t *roll, const char *window, char *buf, size_t n);
/* µs since the epoch as "2026-11-30T03:11:20.960Z" ("-" for 0). */
void bm_cli_time(int64_t ts_us, char *buf, size_t n);
/* An ISO-8601 UTC string of any precision, as the above. @return buf. */
const char *bm_cli_time_str(const char *iso, char *buf, size_t n);
/* The ISO-8601 UTC time iso in seconds since the epoch (whole seconds), or
 * NAN when iso is not one. */
double bm_cli_iso_s(const char *iso);
/* Into buf, that `what`, which the agent rewrites every every_s seconds, was
 * last written age_s ago, when that is over three of its periods and a
 * minute (the writer's clock and this host's may differ by some seconds):
 * the figures shown are of an agent that stopped writing them. Nothing when
 * either figure is unknown (NAN, or every_s <= 0). @return 1 when stale. */
int bm_cli_stale_text(const char *what, double age_s, double every_s, char *buf, size_t n);
/* The same said on stderr as a warning (the table views). @return 1 when said. */
int bm_cli_warn_stale(const char *what, double age_s, double every_s);

/*
 * Connect to the Redis of o->redis_url (else $BUSMON_REDIS_URL, else the
 * default), with the password of o->redis_password_file (else
 * $BUSMON_REDIS_PASSWORD_FILE, else $BUSMON_REDIS_PASSWORD, else the URL's)
 * and o->redis_username (else $BUSMON_REDIS_USERNAME). A password in a
 * --redis URL is hidden from ps once read, with a warning on stderr.
 * @return the context, or NULL with one line on stderr and *exit_code set:
 * BM_EXIT_USAGE for a bad URL or password file, BM_EXIT_REDIS when Redis is
 * unreachable or refuses.
 */
redisContext *bm_cli_connect(const bm_cli_opts *o, int *exit_code);

/*
 * The consumer group of the agent whose keys are read (connect.c): o->group
 * (--group), else $BUSMON_GROUP, else $BUSMON_STREAMS_GROUP (the agent's
 * variables). @return it, or NULL for the default group, busmon.
 */
const char *bm_cli_group(const bm_cli_opts *o);
/*
 * A key the agent writes: `given` (a command's --KEY option) when not NULL,
 * else the group's default key of the agent's `setting` ("outputs.rollups"),
 * read from the row of core/group_keys.c the agent takes it from when the
 * setting is not given (agent/config/config.c group_keys), then ':' and
 * `below` when not NULL (BM_GROUP_SUB_FIRING: the firing hash below
 * alerts.stream), written into buf (n bytes). A setting the table lacks (a
 * bug) is said on stderr and names the empty key. @return given, or buf.
 */
const char *bm_cli_key(const bm_cli_opts *o, const char *given, const char *setting,
                       const char *below, char *buf, size_t n);

/* The commands: handler and help of each row of the table (commands.c). */

/* trace TX: a transaction's timeline (trace.c). */
bm_cli_handler bm_cli_trace;
void bm_cli_trace_help(FILE *f);

bm_cli_handler bm_cli_traces;
void bm_cli_traces_help(FILE *f);
/* workers, worker NAME, errors, stats: the latest rollup, cut to a window (stats.c). */
bm_cli_handler bm_cli_workers, bm_cli_worker, bm_cli_errors, bm_cli_stats;
void bm_cli_workers_help(FILE *f);
void bm_cli_worker_help(FILE *f);
void bm_cli_errors_help(FILE *f);
void bm_cli_stats_help(FILE *f);
/* The latest rollup's JSON on `stream` (caller json_decref's), or NULL with
 * the reason said on stderr and *rc set (stats.c). */
struct json_t *bm_cli_latest_rollup(redisContext *c, const char *stream, int *rc);
/* baseline [WORKER], baseline freeze|clear WORKER: learned baselines (baseline.c). */
bm_cli_handler bm_cli_baseline;
void bm_cli_baseline_help(FILE *f);
/* metrics [NAME] [--tag K=V]...: business metrics from the latest rollup (metrics.c). */
bm_cli_handler bm_cli_metrics;
void bm_cli_metrics_help(FILE *f);
/* top: a live dashboard; --once prints one frame (top.c). */
bm_cli_handler bm_cli_top;
void bm_cli_top_help(FILE *f);
/* system: system metrics with avg and peak over --window (system.c). */
bm_cli_handler bm_cli_system;
void bm_cli_system_help(FILE *f);
/* alerts: firing now and recent notifications; --watch follows them live (alerts.c). */
bm_cli_handler bm_cli_alerts;
void bm_cli_alerts_help(FILE *f);
/* qsort's order of firing alert records (json_t *, objects): worst severity
 * first, then by rule, then by labels (the agent's own order). */
int bm_cli_firing_cmp(const void *x, const void *y);
/* An alert record's labels as "worker=flaky<sep>team=search" into buf (n
 * bytes), "-" for none; those that do not fit are left out whole (never cut
 * in a character) and counted: "a=b +1 more" (alerts.c). */
void bm_cli_labels_text(struct json_t *rec, const char *sep, char *buf, size_t n);
/* deadletters [replay]: the dead-letter stream, and copies put back (deadletters.c). */
bm_cli_handler bm_cli_deadletters;
void bm_cli_deadletters_help(FILE *f);
/* help [CMD]: a command's help, or busmon's (commands.c; its help text: help.c). */
bm_cli_handler bm_cli_help;
void bm_cli_help_help(FILE *f);

#endif
