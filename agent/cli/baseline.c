/*
 * baseline.c - `busmon baseline [WORKER] [--json]`: each worker's learned
 * baseline (p50, p95, error rate, throughput) beside its last minute, and
 * how far it is from it ("p95 410 ms is 8.2 × its baseline 50 ms");
 * `busmon baseline freeze WORKER` pins a worker's baseline (stop learning,
 * keep the values: "establish a baseline" after a deploy); `busmon baseline
 * clear WORKER` forgets it (learning starts again).
 *
 * Where it reads: the baselines are part of the judging agent's checkpoint
 * (busmon:state:<agent>; another group's busmon:state:<group>:<agent>,
 * --group or $BUSMON_GROUP; lib/checkpoint.h), the agent named by the latest
 * rollup; "now" is that rollup's 1 minute window. Both are the agent's
 * figures at its own time: readiness and the hour slot are judged at the
 * checkpoint's time, not this machine's. The checkpoint is read within the
 * limits an agent of the same worker_monitoring.max_workers and
 * baselines.max_keys reads it with (bm_checkpoint_limits_for): --max-workers,
 * --max-baseline-keys, else the agent's own environment variables for them,
 * else the defaults. Not more on its own: past them, the reader says which
 * settings to give.
 *
 * Where it writes (freeze, clear only): a request in the agent's control
 * hash (busmon:baseline:ctl; another group's busmon:baseline:ctl:<group>;
 * agent/jobs/baseline.h): HINCRBY _seq, then
 * HSET <worker> "<op> <seq> <unix µs>". Every agent applies it at its next
 * health interval.
 */
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "agent/core/parse.h"
#include "lib/baseline.h"
#include "lib/checkpoint.h"
#include "lib/state_codec.h"
#include "proto/rollup.h"

typedef struct {
    int json;
    const char *worker;
    const char *rollups;
    const char *state_prefix; /* --state-prefix, else the group's (bm_cli_key) */
    const char *control_key;  /* --control-key, else the group's */
    char rollups_own[320], state_own[320], control_own[320]; /* the group's keys */
    const char *max_workers;       /* --max-workers; NULL: the agent's variable, below */
    const char *max_baseline_keys; /* --max-baseline-keys; NULL: likewise */
    size_t workers, keys;          /* their values (0: the agent's default, 1000) */
    bm_checkpoint_limits limits;   /* what an agent of those settings reads */
} baseline_args;

/* The agent's environment variables of worker_monitoring.max_workers and
 * baselines.max_keys: a CLI run beside the agent reads what it reads. */
#define MAX_WORKERS_ENV       "BUSMON_WORKER_MONITORING_MAX_WORKERS"
#define MAX_BASELINE_KEYS_ENV "BUSMON_BASELINES_MAX_KEYS"

void bm_cli_baseline_help(FILE *f)
{
    fprintf(f, "usage: busmon baseline [--json] [WORKER]\n"
               "       busmon baseline freeze WORKER\n"
               "       busmon baseline clear WORKER\n\n"
               "Each worker's learned baseline (what is normal for it: p50, p95, error rate and\n"
               "throughput, per hour of the week once that hour has enough samples) beside its\n"
               "last minute, and the deviation: \"p95 410 ms is 8.2 x its baseline 50 ms\".\n"
               "A baseline is used (by health and the anomaly alert rules) once it is ready:\n"
               "baselines.min_samples samples over baselines.min_learning.\n\n"
               "  freeze WORKER   stop learning and keep the current values (after a deploy)\n"
               "  clear WORKER    forget the baseline; learning starts again\n"
               "(applied by busmon-agent at its next health interval)\n"
               "\noptions:\n"
               "  --json              print JSON\n"
               "  --redis URL         Redis (default: $BUSMON_REDIS_URL, else "
               "redis://127.0.0.1:6379)\n"
               "  --rollups KEY       the rollups stream (default busmon:rollups; another\n"
               "                      group's busmon:rollups:G)\n"
               "  --group G           the agent's consumer group (default: $BUSMON_GROUP or\n"
               "                      $BUSMON_STREAMS_GROUP, else busmon): its rollups and\n"
               "                      checkpoints are busmon:rollups:G, busmon:state:G:<agent>\n"
               "                      (the group busmon's: busmon:state:<agent>)\n"
               "  --state-prefix P    the agents' checkpoints, whatever the group (the agent's\n"
               "                      state.key_prefix, when it sets it)\n"
               "  --control-key KEY   the agent's control hash (default busmon:baseline:ctl;\n"
               "                      another group's busmon:baseline:ctl:G)\n"
               "  --max-workers N     the agent's worker_monitoring.max_workers (default:\n"
               "                      $BUSMON_WORKER_MONITORING_MAX_WORKERS, else 1000)\n"
               "  --max-baseline-keys N\n"
               "                      the agent's baselines.max_keys (default:\n"
               "                      $BUSMON_BASELINES_MAX_KEYS, else 1000)\n"
               "  -h, --help          this help\n"
               "\nThe checkpoint is read within the limits the agent reads it with: 64 MiB and\n"
               "4 Mi msgpack objects, more for an agent configured for more than 1,000 workers\n"
               "or baseline keys. For a checkpoint past them, give the agent's two settings.\n"
               "exit codes: 0 ok, 1 nothing published yet / no baseline for WORKER / the\n"
               "checkpoint cannot be read, 2 usage, 3 Redis unreachable\n");
}

/* ---- reading ---------------------------------------------------------------- */

/* One of the agent's settings: `given` (--name), else $env (empty: unset, as
 * the agent takes it), else 0 (the default). @return 0, or -1 said. */
static int agent_setting(const char *name, const char *env, const char *given, size_t *out)
{
    const char *text = given;
    if (!text && (text = getenv(env)) && !*text) text = NULL;
    *out = 0;
    if (!text) return 0;
    if (bm_parse_size(text, out) || *out < 1) {
        fprintf(stderr,
                "busmon baseline: %s%s must be a positive number, not '%s' (see busmon baseline "
                "--help)\n",
                given ? "--" : "$", given ? name : env, text);
        return -1;
    }
    return 0;
}

/* Say that the checkpoint at key is past s's limits (why), and what to give. */
static void say_too_big(const baseline_args *s, const char *key, const char *why)
{
    fprintf(stderr,
            "busmon: the checkpoint %s cannot be read: %s (the limits of an agent of "
            "worker_monitoring.max_workers %zu and baselines.max_keys %zu: %zu bytes, %zu "
            "msgpack objects); an agent configured for more workers or baseline keys writes "
            "more: give its settings, --max-workers N --max-baseline-keys N (or $%s and $%s)\n",
            key, why, s->workers ? s->workers : BM_CHECKPOINT_HELD,
            s->keys ? s->keys : BM_CHECKPOINT_HELD, s->limits.max_bytes, s->limits.max_objects,
            MAX_WORKERS_ENV, MAX_BASELINE_KEYS_ENV);
}

/* Is root (the checkpoint at key) a checkpoint of this build's version? @return 0,
 * or -1 said: a newer agent's layout is not read as this one's. */
static int envelope_check(const msgpack_object *root, const char *key)
{
    int64_t v = 0;
    if (root->type != MSGPACK_OBJECT_MAP ||
        !bm_sc_str_is(bm_sc_get(root, "kind"), BM_CHECKPOINT_KIND)) {
        fprintf(stderr, "busmon: %s is not a busmon state checkpoint (kind is not \"%s\")\n", key,
                BM_CHECKPOINT_KIND);
        return -1;
    }
    if (bm_sc_as_i64(bm_sc_get(root, "v"), &v) || v != BM_CHECKPOINT_VERSION) {
        fprintf(stderr,
                "busmon: the checkpoint %s is of format version %lld, this busmon reads %d: use "
                "the busmon of the agent's release\n",
                key, (long long)v, BM_CHECKPOINT_VERSION);
        return -1;
    }
    return 0;
}

/* The baselines of the agent's checkpoint, its time in *ts_us. NULL: said, *rc set. */
static baselines *read_baselines(redisContext *c, const baseline_args *s, const char *key,
                                 int64_t *ts_us, int *rc)
{
    bm_checkpoint_status st;
    redisReply *r = redisCommand(c, "MGET %s", key);
    baselines *b = NULL;
    char why[256];
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
        fprintf(stderr, "busmon: cannot read %s: %s\n", key,
                r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        *rc = BM_EXIT_REDIS;
    } else if (r->element[0]->type != REDIS_REPLY_STRING) {
        fprintf(stderr,
                "busmon: no checkpoint at %s: the agent has not written one yet (it does every "
                "state.checkpoint_interval, 1 s), writes none (state.checkpoint_interval: 0; its "
                "/api/baseline has the baselines), or writes it under another state.key_prefix "
                "(--state-prefix)\n",
                key);
        *rc = BM_EXIT_NOT_FOUND;
    } else if ((st = bm_checkpoint_check(r->element[0]->str, (size_t)r->element[0]->len, &s->limits,
                                         NULL, why, sizeof why)) != BM_CHECKPOINT_OK) {
        /* checked as the agent checks it: msgpack-c allocates what a header announces */
        if (st == BM_CHECKPOINT_TOO_BIG)
            say_too_big(s, key, why);
        else
            fprintf(stderr, "busmon: the checkpoint %s cannot be read: %s\n", key, why);
        *rc = BM_EXIT_NOT_FOUND;
    } else {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        const redisReply *v = r->element[0];
        msgpack_unpack_return ur = msgpack_unpack_next(&u, v->str, (size_t)v->len, &off);
        if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
            fprintf(stderr, "busmon: out of memory reading the checkpoint %s\n", key);
        } else if (ur != MSGPACK_UNPACK_SUCCESS) {
            fprintf(stderr, "busmon: the checkpoint %s is not msgpack\n", key);
        } else if (envelope_check(&u.data, key) == 0) {
            const msgpack_object *ts = bm_msgpack_map_get(&u.data, "ts_us");
            if (ts && ts->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *ts_us = (int64_t)ts->via.u64;
            const msgpack_object *bo = bm_msgpack_map_get(&u.data, "baselines");
            char err[256] = "";
            if (!bo)
                fprintf(stderr,
                        "busmon: the checkpoint %s holds no baselines (baselines.enabled: false, "
                        "or an agent older than them)\n",
                        key);
            else if (!(b = baselines_from_save(bo, err, sizeof err)))
                fprintf(stderr, "busmon: the baselines in %s cannot be read: %s\n", key, err);
        }
        msgpack_unpacked_destroy(&u);
        if (!b) *rc = BM_EXIT_NOT_FOUND;
    }
    if (r) freeReplyObject(r);
    return b;
}

/* The rollup's worker `name` in its 1 minute window (a new object), or NULL. */
static json_t *worker_now(json_t *roll, const char *name)
{
    json_t *ws = json_object_get(roll, "workers"), *w;
    size_t i;
    json_array_foreach(ws, i, w)
    {
        if (!strcmp(bm_cli_str(w, "name"), name)) return bm_rollup_worker_in_window(w, "1m");
    }
    return NULL;
}

/* ---- showing ---------------------------------------------------------------- */

/* The rollup's keys of the four series, and their unit -> the series' unit. */
static const struct {
    const char *key;
    double to_series;
} rollup_keys[BASELINE__SERIES] = {
    {"p50_ms", 1000.0}, {"p95_ms", 1000.0}, {"error_rate", 1.0}, {"throughput_per_min", 1.0}};

/* The last minute's values (series units; NAN: none) from the rollup's worker. */
static void now_values(json_t *now, double out[BASELINE__SERIES])
{
    for (int k = 0; k < BASELINE__SERIES; k++) {
        json_t *v = now && bm_cli_num(now, "executions") > 0
                        ? json_object_get(now, rollup_keys[k].key)
                        : NULL;
        out[k] = json_is_number(v) ? json_number_value(v) * rollup_keys[k].to_series : NAN;
        if (k <= BASELINE_P95 && now && bm_cli_num(now, "max_ms") <= 0) out[k] = NAN;
    }
}

static void print_worker(const baseline_view *v, const double now[BASELINE__SERIES])
{
    char a[32], b[32];
    const char *state = v->frozen ? "frozen" : v->ready ? "ready" : "learning";
    bm_cli_safe sb = {.next = 0}; /* a worker's or metric's name */
    printf("%s %-9s %7llu", bm_cli_safe_pad(&sb, v->key, 24), state,
           (unsigned long long)v->samples);
    for (int k = BASELINE_P95; k <= BASELINE_ERROR_RATE; k++) {
        const baseline_figure *f = &v->fig[k];
        double x = now[k];
        if (!strncmp(v->key, "metric:", 7)) { /* a business metric: its own unit */
            snprintf(a, sizeof a, isnan(x) ? "-" : "%.4g", x);
            snprintf(b, sizeof b, f->n ? "%.4g" : "-", f->mean);
        } else {
            baseline_format_value((baseline_series)k, x, a, sizeof a);
            baseline_format_value((baseline_series)k, f->n ? f->mean : NAN, b, sizeof b);
        }
        double r = baseline_deviation(f, (baseline_series)k, x, BASELINE_MODE_RATIO);
        char dev[16] = "-";
        if (!isnan(r)) snprintf(dev, sizeof dev, "%.1fx", r);
        printf("  %9s %9s %6s", a, b, dev);
    }
    printf("\n");
}

static int show(redisContext *c, const baseline_args *s)
{
    int rc = BM_EXIT_OK;
    json_t *roll = bm_cli_latest_rollup(c, s->rollups, &rc);
    if (!roll) return rc;
    const char *agent = json_string_value(json_object_get(roll, "agent"));
    if (!agent || !*agent) {
        fprintf(stderr,
                "busmon: the latest rollup in %s names no agent, so no checkpoint "
                "to read (a rollup not written by busmon-agent?)\n",
                s->rollups);
        json_decref(roll);
        return BM_EXIT_NOT_FOUND;
    }
    /* the key whole, however long the prefix given: a cut one names another agent's */
    size_t key_len = strlen(s->state_prefix) + strlen(agent) + 1;
    char *key = malloc(key_len);
    if (!key) {
        fprintf(stderr, "busmon: out of memory\n");
        json_decref(roll);
        return BM_EXIT_REDIS;
    }
    snprintf(key, key_len, "%s%s", s->state_prefix, agent);
    int64_t ts_us = 0;
    baselines *b = read_baselines(c, s, key, &ts_us, &rc);
    free(key);
    if (!b) {
        json_decref(roll);
        return rc;
    }
    json_t *out = json_object(), *arr = json_array();
    char t[48];
    bm_cli_time(ts_us, t, sizeof t);
    json_object_set_new(out, "agent", json_string(agent));
    json_object_set_new(out, "ts", json_string(t));
    json_object_set_new(out, "slots", json_string(baseline_slots_name(baselines_config(b)->slots)));
    json_object_set_new(out, "window", json_string("1m"));
    if (!s->json) {
        bm_cli_safe sb = {.next = 0};
        printf("baselines of agent %s at %s (now: the last minute)\n", bm_cli_safe_text(&sb, agent),
               t);
        printf("%-24s %-9s %7s  %9s %9s %6s  %9s %9s %6s\n", "WORKER", "STATE", "SAMPLES",
               "P95 NOW", "BASELINE", "DEV", "ERR NOW", "BASELINE", "DEV");
    }
    size_t found = 0;
    for (size_t i = 0; i < baselines_count(b); i++) {
        const char *name = baselines_key_at(b, i);
        if (s->worker && strcmp(name, s->worker)) continue;
        baseline_view v;
        if (baselines_get(b, name, ts_us, &v)) continue;
        json_t *now_json = worker_now(roll, name);
        double now[BASELINE__SERIES];
        now_values(now_json, now);
        json_decref(now_json);
        found++;
        if (s->json) {
            json_array_append_new(arr, baseline_view_json(&v, now));
        } else {
            print_worker(&v, now);
            if (s->worker) {
                json_t *w = baseline_view_json(&v, now), *d;
                size_t k;
                json_array_foreach(json_object_get(w, "deviations"), k, d)
                {
                    bm_cli_safe sb = {.next = 0};
                    printf("  %s\n", bm_cli_safe_text(&sb, json_string_value(d)));
                }
                json_decref(w);
            }
        }
    }
    json_object_set_new(out, "workers", arr);
    if (s->json) {
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text) printf("%s\n", text);
        free(text);
    }
    if (s->worker && !found) {
        fprintf(stderr, "busmon: no baseline for worker %s\n", s->worker);
        rc = BM_EXIT_NOT_FOUND;
    }
    json_decref(out);
    json_decref(roll);
    baselines_free(b);
    return rc;
}

/* ---- requests ----------------------------------------------------------------- */

static int request(redisContext *c, const baseline_args *s, baseline_request_op op)
{
    redisReply *r = redisCommand(c, "HINCRBY %s _seq 1", s->control_key);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        fprintf(stderr, "busmon: cannot write %s: %s\n", s->control_key,
                r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return BM_EXIT_REDIS;
    }
    unsigned long long seq = (unsigned long long)r->integer;
    freeReplyObject(r);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char value[64];
    baseline_request_format(op, seq, (int64_t)tv.tv_sec * 1000000 + tv.tv_usec, value,
                            sizeof value);
    r = redisCommand(c, "HSET %s %s %s", s->control_key, s->worker, value);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (!ok)
        fprintf(stderr, "busmon: cannot write %s: %s\n", s->control_key,
                r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
    if (r) freeReplyObject(r);
    if (!ok) return BM_EXIT_REDIS;
    printf("%s %s: request %llu in %s (busmon-agent applies it at its next health interval)\n",
           baseline_request_name(op), s->worker, seq, s->control_key);
    return BM_EXIT_OK;
}

int bm_cli_baseline(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o = *opts;
    baseline_args s = {.rollups = NULL, .control_key = NULL};
    const bm_cli_optdef options[] = {
        {"json", 0, &s.json, NULL, 0},
        {"rollups", 0, NULL, &s.rollups, 1},
        {"state-prefix", 0, NULL, &s.state_prefix, 1},
        {"control-key", 0, NULL, &s.control_key, 1},
        {"max-workers", 0, NULL, &s.max_workers, 1},
        {"max-baseline-keys", 0, NULL, &s.max_baseline_keys, 1},
        {NULL, 0, NULL, NULL, 0},
    };
    /* a verb as the first operand: freeze WORKER, clear WORKER (options may come before it,
     * as everywhere: the options up to it are parsed to find it, then taken out of argv) */
    char who[64];
    int at, op = -1;
    snprintf(who, sizeof who, "busmon %s", self->name);
    int rc = bm_cli_parse_leading(who, self->help, options, &o, argc, argv, &at);
    if (rc != BM_CLI_GO_ON) return rc;
    if (at < argc && !strcmp(argv[at], "freeze")) op = BASELINE_REQUEST_FREEZE;
    if (at < argc && !strcmp(argv[at], "clear")) op = BASELINE_REQUEST_CLEAR;
    if (op >= 0) { /* with the NULL after the last */
        memmove(argv + at, argv + at + 1, (size_t)(argc - at) * sizeof *argv);
        argc--;
    }
    rc = bm_cli_parse(self, options, &o, argc, argv, &s.worker);
    if (rc != BM_CLI_GO_ON) return rc;
    if (op >= 0 && (!s.worker || !s.worker[0])) {
        fprintf(stderr, "busmon baseline %s: which worker? (see busmon baseline --help)\n",
                baseline_request_name((baseline_request_op)op));
        return BM_EXIT_USAGE;
    }
    if (op >= 0 && !strcmp(s.worker, "_seq")) {
        /* its field holds the hash's request counter: a request there would replace the
         * number HINCRBY needs, and the agent never reads that field as a request */
        fprintf(stderr,
                "busmon baseline %s: _seq is the control hash's request counter, not a "
                "worker's field: a worker of that name cannot be asked for\n",
                baseline_request_name((baseline_request_op)op));
        return BM_EXIT_USAGE;
    }
    if (op < 0 && /* a request reads no checkpoint */
        (agent_setting("max-workers", MAX_WORKERS_ENV, s.max_workers, &s.workers) ||
         agent_setting("max-baseline-keys", MAX_BASELINE_KEYS_ENV, s.max_baseline_keys, &s.keys)))
        return BM_EXIT_USAGE;
    s.limits = bm_checkpoint_limits_for(s.workers, s.keys);
    /* the agent's group's keys (agent/config/config.c group_keys), unless given */
    s.rollups =
        bm_cli_key(&o, s.rollups, "outputs.rollups", NULL, s.rollups_own, sizeof s.rollups_own);
    s.state_prefix =
        bm_cli_key(&o, s.state_prefix, "state.key_prefix", NULL, s.state_own, sizeof s.state_own);
    s.control_key = bm_cli_key(&o, s.control_key, "baselines.control_key", NULL, s.control_own,
                               sizeof s.control_own);
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    rc = op >= 0 ? request(c, &s, (baseline_request_op)op) : show(c, &s);
    redisFree(c);
    return rc;
}
