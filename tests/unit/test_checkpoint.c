/*
 * test_checkpoint.c - lib/checkpoint and bm_monitor_save/load/merge with
 * injected time: a monitor fed a known workload, checkpointed and loaded
 * into a fresh one shows every rollup figure (p95 and health included) and
 * goes on showing the same ones as more events come; two monitors each fed
 * whole transactions of one workload, merged, show exactly what one
 * monitor fed everything shows; a checkpoint loaded later ages its
 * periods; alert instances and deadlines ride along; other versions and
 * kinds, truncated, corrupt and hostile bytes, and another configuration
 * are refused with the targets unchanged.
 *
 * The seed corpus of tests/fuzz/ holds checkpoints this file writes
 * (checkpoint_*.mp): with BUSMON_WRITE_CORPUS=1 in the environment,
 * seed_corpus_decodes_to_the_state_that_wrote_it writes them again first.
 */
#include "lib/checkpoint.h"
#include "lib/state_codec.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define T0   (472222LL * HOUR) /* a whole hour */

/* ---- a workload ------------------------------------------------------------ */

enum { K_COMMAND, K_RESULT, K_ERROR, K_STATUS, K_TIMEOUT, K_COMPENSATION };

typedef struct {
    int64_t t;
    int kind, tx, worker, ok, etype;
    int64_t dur;
    int pending; /* commands: answered later (or never): counted in flight */
} wev;

static const char *const worker_names[] = {"fast", "slow", "flaky", "cpu_heavy", "w-04", "w-05",
                                           "w-06", "w-07", "w-08",  "w-09",      "w-10", "w-11"};
#define N_WORKERS (sizeof worker_names / sizeof *worker_names)
static const char *const etypes[] = {"NetworkError", "ValidationError", "", "TimeoutError",
                                     "QuotaError"};
static const char *const emsgs[] = {
    "NetworkError: Connection timeout", "ValidationError: Invalid input format",
    "Upstream: did not answer", "TimeoutError: slow upstream", "QuotaError: over quota"};

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static int cmp_wev(const void *a, const void *b)
{
    const wev *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/*
 * n transactions from `from`, one every ~400 ms: a command, then (mostly)
 * an answer after a duration spread from 1 ms to ~20 s; flaky fails 30 %,
 * others rarely; some commands time out, some are never answered; a few
 * status and compensation events. Sorted by time, all times distinct.
 */
static wev *workload(uint64_t seed, int first_tx, int n, int64_t from, size_t *count)
{
    wev *ev = calloc((size_t)n * 3, sizeof *ev);
    cr_assert_not_null(ev);
    size_t k = 0;
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        int tx = first_tx + i;
        int w = (int)(rng() % N_WORKERS);
        int64_t t = from + (int64_t)i * 400000 + (int64_t)(rng() % 300000) * 1 + 1;
        uint64_t r = rng() % 1000;
        int64_t dur = 1000 + (int64_t)(rng() % 1000) * (int64_t)(rng() % 1000) * (w == 1 ? 20 : 1);
        int answered = r >= 20; /* 2 % never answered */
        int timeout = r >= 20 && r < 35;
        ev[k++] = (wev){.t = t, .kind = K_COMMAND, .tx = tx, .worker = w, .pending = 1};
        if (answered) {
            int fails = w == 2 ? rng() % 10 < 3 : rng() % 50 == 0;
            int kind = timeout ? K_TIMEOUT : fails ? (rng() % 2 ? K_ERROR : K_RESULT) : K_RESULT;
            ev[k++] = (wev){.t = t + dur,
                            .kind = kind,
                            .tx = tx,
                            .worker = w,
                            .ok = !fails,
                            .etype = (int)(rng() % 5),
                            .dur = dur};
        }
        if (r % 97 == 0) ev[k++] = (wev){.t = t + 17, .kind = K_STATUS, .tx = tx, .worker = w};
        if (r % 89 == 0)
            ev[k++] = (wev){.t = t + 19, .kind = K_COMPENSATION, .tx = tx, .worker = w};
    }
    qsort(ev, k, sizeof *ev, cmp_wev);
    for (size_t i = 1; i < k; i++)
        if (ev[i].t <= ev[i - 1].t) ev[i].t = ev[i - 1].t + 1;
    *count = k;
    return ev;
}

/* One workload event into m, as lib/monitor.c and agent/state get it. */
static void apply(bm_monitor *m, const wev *e)
{
    const char *worker = worker_names[e->worker];
    if (e->kind == K_TIMEOUT) { /* what agent/state does when a deadline passes */
        worker_stats_answer(m->workers, worker, BM_OUTCOME_TIMEOUT, e->dur, "timeout",
                            "no answer within 30 s", 1, e->t);
        return;
    }
    trace_event te;
    char msg[96];
    memset(&te, 0, sizeof te);
    bm_event *ev = &te.ev;
    ev->id = ev->tx = ev->corr = ev->cmd = ev->step = ev->source = ev->status = ev->message = "";
    ev->error_type = ev->error_message = "";
    ev->worker = worker;
    ev->duration_us = -1;
    ev->ok = -1;
    te.duration_us = -1;
    te.paired = -1;
    switch (e->kind) {
    case K_COMMAND:
        ev->type = BM_EV_COMMAND;
        te.paired = e->pending ? -1 : 1;
        break;
    case K_RESULT:
    case K_ERROR:
        ev->type = e->kind == K_RESULT ? BM_EV_RESULT : BM_EV_ERROR;
        ev->ok = e->kind == K_RESULT ? e->ok : 0;
        if (!(e->kind == K_RESULT && e->ok)) {
            /* one text per transaction: examples and last errors tell them apart */
            snprintf(msg, sizeof msg, "%s (tx %d)", emsgs[e->etype], e->tx);
            ev->error_type = etypes[e->etype];
            ev->error_message = msg;
        }
        te.paired = 0;
        te.duration_us = e->dur;
        break;
    case K_STATUS:
        ev->type = BM_EV_STATUS;
        ev->status = "running";
        break;
    default:
        ev->type = BM_EV_COMPENSATION;
        break;
    }
    bm_monitor_on_event(m, NULL, &te, e->t);
}

/* Feed events [0, n) to a and b (side by transaction; b may be a or NULL =
 * a only), judging health every 30 s of event time when `judge`. */
static void feed(bm_monitor *a, bm_monitor *b, const wev *ev, size_t n, int judge)
{
    int64_t next_judge = judge ? ev[0].t - ev[0].t % (30 * SEC) + 30 * SEC : INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        while (ev[i].t >= next_judge) {
            worker_stats_evaluate(a->workers, next_judge, NULL, NULL);
            if (b && b != a) worker_stats_evaluate(b->workers, next_judge, NULL, NULL);
            next_judge += 30 * SEC;
        }
        apply(b && ev[i].tx % 2 ? b : a, &ev[i]);
    }
}

/* ---- comparing two monitors ------------------------------------------------ */

static int str_in(const char *s, const char (*list)[BM_NAME_MAX], unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return 1;
    return 0;
}

static void same_window(const bm_window_stats *a, const bm_window_stats *b, const char *who)
{
    cr_assert_str_eq(a->label, b->label, "%s", who);
    cr_assert_eq(a->window_us, b->window_us, "%s", who);
    cr_assert_eq(a->executions, b->executions, "%s %s executions", who, a->label);
    cr_assert_eq(a->successes, b->successes, "%s %s", who, a->label);
    cr_assert_eq(a->failures, b->failures, "%s %s", who, a->label);
    cr_assert_eq(a->timeouts, b->timeouts, "%s %s", who, a->label);
    cr_assert_eq(a->success_rate, b->success_rate, "%s %s", who, a->label);
    cr_assert_eq(a->error_rate, b->error_rate, "%s %s", who, a->label);
    cr_assert_eq(a->min_us, b->min_us, "%s %s min", who, a->label);
    cr_assert_eq(a->max_us, b->max_us, "%s %s max", who, a->label);
    cr_assert_eq(a->avg_us, b->avg_us, "%s %s avg", who, a->label);
    cr_assert_eq(a->p50_us, b->p50_us, "%s %s p50", who, a->label);
    cr_assert_eq(a->p95_us, b->p95_us, "%s %s p95: %g vs %g", who, a->label, a->p95_us, b->p95_us);
    cr_assert_eq(a->p99_us, b->p99_us, "%s %s p99", who, a->label);
    cr_assert_eq(a->throughput_per_min, b->throughput_per_min, "%s %s", who, a->label);
}

static void same_worker(const bm_worker_snapshot *a, const bm_worker_snapshot *b, int health)
{
    const char *n = a->name;
    cr_assert_str_eq(a->name, b->name);
    if (health) {
        cr_assert_eq(a->health, b->health, "%s health %s vs %s", n, bm_health_name(a->health),
                     bm_health_name(b->health));
        cr_assert_eq(a->health_since_us, b->health_since_us, "%s health since", n);
        cr_assert_eq(a->n_issues, b->n_issues, "%s issues", n);
        for (unsigned i = 0; i < a->n_issues; i++)
            cr_assert_str_eq(a->issues[i], b->issues[i], "%s issue %u", n, i);
    }
    cr_assert_eq(a->in_flight, b->in_flight, "%s in flight %u vs %u", n, a->in_flight,
                 b->in_flight);
    cr_assert_eq(a->last_seen_us, b->last_seen_us, "%s last seen", n);
    cr_assert_eq(a->last_execution_us, b->last_execution_us, "%s last execution", n);
    cr_assert_eq(a->last_error_us, b->last_error_us, "%s last error at", n);
    cr_assert_str_eq(a->last_error, b->last_error, "%s last error", n);
    for (int w = 0; w < BM_WINDOWS; w++)
        same_window(&a->win[w], &b->win[w], n);
}

static void same_events(const bm_event_window *a, const bm_event_window *b)
{
    const char *l = a->label;
    cr_assert_str_eq(a->label, b->label);
    cr_assert_eq(a->window_us, b->window_us);
    cr_assert_eq(a->total_events, b->total_events, "events %s total", l);
    cr_assert_eq(a->success_rate, b->success_rate, "events %s", l);
    cr_assert_eq(a->error_rate, b->error_rate, "events %s", l);
    cr_assert_eq(a->avg_latency_us, b->avg_latency_us, "events %s avg", l);
    cr_assert_eq(a->p95_latency_us, b->p95_latency_us, "events %s p95", l);
    cr_assert_eq(a->throughput_per_min, b->throughput_per_min, "events %s", l);
    cr_assert_eq(a->peak_throughput_per_min, b->peak_throughput_per_min, "events %s peak", l);
    for (int t = 0; t < 4; t++) {
        cr_assert_eq(a->by_type[t].count, b->by_type[t].count, "events %s type %d", l, t);
        cr_assert_eq(a->by_type[t].success, b->by_type[t].success, "events %s type %d", l, t);
        cr_assert_eq(a->by_type[t].error, b->by_type[t].error, "events %s type %d", l, t);
        cr_assert_eq(a->by_type[t].share, b->by_type[t].share, "events %s type %d", l, t);
    }
}

static void same_pattern(const bm_error_pattern *a, const bm_error_pattern *b)
{
    const char *t = a->type;
    cr_assert_str_eq(a->type, b->type);
    for (int w = 0; w < BM_WINDOWS; w++)
        cr_assert_eq(a->count[w], b->count[w], "%s count %d", t, w);
    cr_assert_eq(a->total, b->total, "%s total", t);
    cr_assert_eq(a->first_seen_us, b->first_seen_us, "%s first seen", t);
    cr_assert_eq(a->last_seen_us, b->last_seen_us, "%s last seen", t);
    cr_assert_str_eq(a->example, b->example, "%s example", t);
    /* which workers are listed depends on arrival order: the same set, and
     * listed + more is the number of workers hit */
    cr_assert_eq(a->n_workers + a->workers_more, b->n_workers + b->workers_more, "%s workers", t);
    if (a->n_workers == b->n_workers && !a->workers_more)
        for (unsigned i = 0; i < a->n_workers; i++)
            cr_assert(str_in(a->workers[i], b->workers, b->n_workers), "%s worker %s", t,
                      a->workers[i]);
    cr_assert_eq(a->trend, b->trend, "%s trend", t);
}

/* Set while b was loaded from a save with other duration bounds (the seed
 * corpus: the fixed bounds of earlier builds): b's duration histograms must
 * be empty then, its other totals the same. */
static int b_histogram_restarted;

/* Every figure of the two monitors' rollups at now_us (health too when
 * `health`), their lifetime totals and counters. */
static void same_monitor(bm_monitor *a, bm_monitor *b, int64_t now_us, int health)
{
    bm_rollup ra, rb;
    cr_assert_eq(bm_monitor_rollup(a, now_us, 10 * SEC, "x", &ra), 0);
    cr_assert_eq(bm_monitor_rollup(b, now_us, 10 * SEC, "x", &rb), 0);
    for (int w = 0; w < BM_WINDOWS; w++)
        same_events(&ra.events[w], &rb.events[w]);
    cr_assert_eq(ra.n_workers, rb.n_workers);
    for (size_t i = 0; i < ra.n_workers; i++)
        same_worker(&ra.workers[i], &rb.workers[i], health);
    cr_assert_eq(ra.n_patterns, rb.n_patterns);
    for (size_t i = 0; i < ra.n_patterns; i++)
        same_pattern(&ra.patterns[i], &rb.patterns[i]);
    cr_assert_eq(ra.total_commands, rb.total_commands);
    cr_assert_eq(ra.avg_success_rate, rb.avg_success_rate);
    cr_assert_eq(ra.avg_duration_us, rb.avg_duration_us);
    cr_assert_eq(ra.workers_refused, rb.workers_refused);
    cr_assert_eq(ra.patterns_refused, rb.patterns_refused);
    cr_assert_eq(a->workers_refused_events, b->workers_refused_events);

    worker_totals ta[N_WORKERS + 4], tb[N_WORKERS + 4];
    size_t na = worker_stats_totals(a->workers, ta, N_WORKERS + 4);
    cr_assert_eq(na, worker_stats_totals(b->workers, tb, N_WORKERS + 4));
    for (size_t i = 0; i < na; i++) {
        cr_assert_str_eq(ta[i].name, tb[i].name);
        cr_assert_eq(ta[i].successes, tb[i].successes, "%s totals", ta[i].name);
        cr_assert_eq(ta[i].failures, tb[i].failures, "%s totals", ta[i].name);
        cr_assert_eq(ta[i].timeouts, tb[i].timeouts, "%s totals", ta[i].name);
        if (b_histogram_restarted) {
            static const worker_totals zero;
            cr_assert_eq(memcmp(tb[i].duration_buckets, zero.duration_buckets,
                                sizeof zero.duration_buckets),
                         0, "%s duration buckets", ta[i].name);
            cr_assert_eq(tb[i].duration_count, 0);
            cr_assert_eq(tb[i].duration_sum_us, 0);
            continue;
        }
        cr_assert_eq(
            memcmp(ta[i].duration_buckets, tb[i].duration_buckets, sizeof ta[i].duration_buckets),
            0, "%s duration buckets", ta[i].name);
        cr_assert_eq(ta[i].duration_count, tb[i].duration_count);
        cr_assert_eq(ta[i].duration_sum_us, tb[i].duration_sum_us);
    }
    for (int t = 0; t < BM_EV__COUNT; t++) {
        cr_assert_eq(event_metrics_total(a->events, t), event_metrics_total(b->events, t));
        cr_assert_eq(event_metrics_total_failed(a->events, t),
                     event_metrics_total_failed(b->events, t));
    }
}

/* ---- fixtures and helpers -------------------------------------------------- */

static worker_stats_config wcfg;

static void init_monitor(bm_monitor *m)
{
    cr_assert_eq(bm_monitor_init(m, &wcfg, 0), 0);
}

static void setup(void)
{
    worker_stats_config_defaults(&wcfg);
}

TestSuite(checkpoint, .init = setup);

/* The checkpoint of m (and d, a when not NULL) as bytes. */
static msgpack_sbuffer encode(bm_monitor *m, deadlines *d, alerts *a, int64_t ts_us)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    snprintf(c->agent, sizeof c->agent, "busmon-a");
    c->ts_us = ts_us;
    c->n_streams = 2;
    snprintf(c->streams[0].name, sizeof c->streams[0].name, "busmon:events");
    snprintf(c->streams[0].last_id, sizeof c->streams[0].last_id, "1700000000000-42");
    snprintf(c->streams[1].name, sizeof c->streams[1].name, "orders:events");
    snprintf(c->streams[1].last_id, sizeof c->streams[1].last_id, "0-1");
    c->monitor = m;
    c->deadlines = d;
    c->alerts = a;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    free(c);
    return sb;
}

/* Whether decode() checks the envelope it got (not for flipped bytes). */
static int check_envelope = 1;

/* Decode into the given targets. @return the status; err filled. */
static bm_checkpoint_status decode(const void *data, size_t len, const bm_checkpoint_limits *lim,
                                   bm_monitor *m, deadlines *d, alerts *a, char *err, size_t errlen)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->monitor = m;
    c->deadlines = d;
    c->alerts = a;
    bm_checkpoint_status st = bm_checkpoint_decode(data, len, lim, c, err, errlen);
    if (st == BM_CHECKPOINT_OK && check_envelope) {
        cr_assert_str_eq(c->agent, "busmon-a");
        cr_assert_eq(c->n_streams, 2);
        cr_assert_str_eq(c->streams[0].name, "busmon:events");
        cr_assert_str_eq(c->streams[0].last_id, "1700000000000-42");
        cr_assert_str_eq(c->streams[1].last_id, "0-1");
    } else if (st != BM_CHECKPOINT_OK) {
        cr_assert_eq(c->n_streams, 0, "the envelope is untouched on error");
    }
    free(c);
    return st;
}

/* ---- round trip ------------------------------------------------------------ */

Test(checkpoint, round_trip_keeps_every_figure_and_both_go_on_the_same)
{
    size_t n, n2;
    wev *ev = workload(11, 0, 3000, T0, &n); /* 20 minutes */
    const int64_t end = ev[n - 1].t;
    wev *more = workload(12, 5000, 600, end + 1, &n2); /* 4 more minutes */
    bm_monitor a, b;
    init_monitor(&a);
    init_monitor(&b);
    feed(&a, NULL, ev, n, 1);
    cr_assert_gt(worker_stats_count(a.workers), 10);
    cr_assert_gt(error_patterns_count(a.errors), 3);

    msgpack_sbuffer sb = encode(&a, NULL, NULL, end);
    char err[512] = "";
    cr_assert_eq(decode(sb.data, sb.size, NULL, &b, NULL, NULL, err, sizeof err), BM_CHECKPOINT_OK,
                 "%s", err);
    msgpack_sbuffer_destroy(&sb);

    /* health was judged along the way: some workers are not healthy */
    bm_worker_snapshot flaky;
    cr_assert_eq(worker_stats_snapshot_one(b.workers, "flaky", end, &flaky), 0);
    cr_assert_neq(flaky.health, BM_HEALTH_HEALTHY);
    cr_assert_gt(flaky.n_issues, 0);
    cr_assert_gt(flaky.win[1].p95_us, 0);

    for (int64_t t = end; t < end + 70 * MIN; t += 7 * MIN + 13)
        same_monitor(&a, &b, t, 1);

    /* the same events and judgements afterwards: still the same, health too */
    feed(&a, NULL, more, n2, 1);
    feed(&b, NULL, more, n2, 1);
    same_monitor(&a, &b, more[n2 - 1].t, 1);
    worker_stats_evaluate(a.workers, more[n2 - 1].t + 30 * SEC, NULL, NULL);
    worker_stats_evaluate(b.workers, more[n2 - 1].t + 30 * SEC, NULL, NULL);
    same_monitor(&a, &b, more[n2 - 1].t + 30 * SEC, 1);

    bm_monitor_deinit(&a);
    bm_monitor_deinit(&b);
    free(ev);
    free(more);
}

Test(checkpoint, a_checkpoint_of_a_fresh_monitor_round_trips)
{
    bm_monitor a, b;
    init_monitor(&a);
    init_monitor(&b);
    msgpack_sbuffer sb = encode(&a, NULL, NULL, T0);
    char err[256] = "";
    cr_assert_eq(decode(sb.data, sb.size, NULL, &b, NULL, NULL, err, sizeof err), BM_CHECKPOINT_OK,
                 "%s", err);
    msgpack_sbuffer_destroy(&sb);
    same_monitor(&a, &b, T0, 1);
    cr_assert_eq(worker_stats_count(b.workers), 0);
    bm_monitor_deinit(&a);
    bm_monitor_deinit(&b);
}

/* ---- merge ----------------------------------------------------------------- */

Test(checkpoint, two_halves_merged_equal_one_monitor_fed_everything)
{
    size_t n;
    wev *ev = workload(21, 0, 4000, T0 + 17 * MIN, &n); /* ~27 minutes, across an hour */
    const int64_t end = ev[n - 1].t;
    bm_monitor one, half_a, half_b;
    init_monitor(&one);
    init_monitor(&half_a);
    init_monitor(&half_b);
    feed(&one, NULL, ev, n, 0);
    feed(&half_a, &half_b, ev, n, 0);

    /* a reader: each agent's checkpoint decoded into a fresh monitor, merged
     * into an empty one */
    bm_monitor acc;
    init_monitor(&acc);
    bm_monitor *halves[] = {&half_a, &half_b};
    for (int i = 0; i < 2; i++) {
        msgpack_sbuffer sb = encode(halves[i], NULL, NULL, end);
        bm_monitor part;
        init_monitor(&part);
        char err[256] = "";
        cr_assert_eq(decode(sb.data, sb.size, NULL, &part, NULL, NULL, err, sizeof err),
                     BM_CHECKPOINT_OK, "%s", err);
        cr_assert_eq(bm_monitor_merge(&acc, &part), 0);
        msgpack_sbuffer_destroy(&sb);
        bm_monitor_deinit(&part);
    }
    for (int64_t t = end; t < end + 70 * MIN; t += 5 * MIN + 7)
        same_monitor(&one, &acc, t, 1); /* nothing judged yet: unknown on both */

    /* the next judgement of the merged figures is the one-monitor judgement */
    for (int k = 1; k <= 4; k++) {
        worker_stats_evaluate(one.workers, end + k * 30 * SEC, NULL, NULL);
        worker_stats_evaluate(acc.workers, end + k * 30 * SEC, NULL, NULL);
        same_monitor(&one, &acc, end + k * 30 * SEC, 1);
    }
    bm_worker_snapshot flaky;
    cr_assert_eq(worker_stats_snapshot_one(acc.workers, "flaky", end, &flaky), 0);
    cr_assert_neq(flaky.health, BM_HEALTH_UNKNOWN);
    bm_monitor_deinit(&one);
    bm_monitor_deinit(&half_a);
    bm_monitor_deinit(&half_b);
    bm_monitor_deinit(&acc);
    free(ev);
}

Test(checkpoint, merge_bounds_hold_and_refusals_are_counted)
{
    worker_stats_config small = wcfg;
    small.max_workers = 5;
    bm_monitor a, b;
    cr_assert_eq(bm_monitor_init(&a, &small, 2), 0);
    init_monitor(&b);
    size_t n;
    wev *ev = workload(31, 0, 500, T0, &n);
    feed(&b, NULL, ev, n, 0);
    cr_assert_eq(worker_stats_count(b.workers), N_WORKERS);
    cr_assert_eq(bm_monitor_merge(&a, &b), 0);
    cr_assert_eq(worker_stats_count(a.workers), 5);
    cr_assert_eq(worker_stats_refused(a.workers), N_WORKERS - 5);
    cr_assert_eq(error_patterns_count(a.errors), 2);
    bm_rollup r;
    cr_assert_eq(bm_monitor_rollup(&b, ev[n - 1].t, SEC, "b", &r), 0);
    uint64_t all_errors = 0, kept = 0;
    for (size_t i = 0; i < r.n_patterns; i++)
        all_errors += r.patterns[i].total;
    cr_assert_eq(bm_monitor_rollup(&a, ev[n - 1].t, SEC, "a", &r), 0);
    for (size_t i = 0; i < r.n_patterns; i++)
        kept += r.patterns[i].total;
    cr_assert_eq(error_patterns_refused(a.errors), all_errors - kept,
                 "a refused pattern counts its errors");
    cr_assert_eq(bm_monitor_merge(&a, &a), -1);
    bm_monitor_deinit(&a);
    bm_monitor_deinit(&b);
    free(ev);
}

/* ---- time passing ---------------------------------------------------------- */

Test(checkpoint, a_checkpoint_loaded_later_ages_its_periods)
{
    bm_monitor a, b;
    init_monitor(&a);
    init_monitor(&b);
    size_t n;
    wev *ev = workload(41, 0, 300, T0, &n); /* two minutes */
    feed(&a, NULL, ev, n, 0);
    const int64_t end = ev[n - 1].t;
    msgpack_sbuffer sb = encode(&a, NULL, NULL, end);
    cr_assert_eq(decode(sb.data, sb.size, NULL, &b, NULL, NULL, NULL, 0), BM_CHECKPOINT_OK);
    msgpack_sbuffer_destroy(&sb);

    /* the agent comes back 70 s later: the minute is empty, 5 min and 1 h are not */
    bm_rollup r;
    const int64_t back = end + 70 * SEC;
    cr_assert_eq(bm_monitor_rollup(&b, back, SEC, "b", &r), 0);
    size_t events = 0; /* timeouts are not events: the agent charges them to the worker */
    for (size_t i = 0; i < n; i++)
        events += ev[i].kind != K_TIMEOUT;
    cr_assert_eq(r.events[0].total_events, 0);
    cr_assert_eq(r.events[1].total_events, events);
    cr_assert_eq(r.events[2].total_events, events);
    uint64_t hour_before = r.events[2].total_events;

    /* 10 minutes later one event: the minute and 5 minutes hold only it,
     * the hour holds everything */
    wev one = {.t = end + 10 * MIN, .kind = K_COMMAND, .worker = 0, .pending = 1};
    apply(&b, &one);
    cr_assert_eq(bm_monitor_rollup(&b, one.t, SEC, "b", &r), 0);
    cr_assert_eq(r.events[0].total_events, 1);
    cr_assert_eq(r.events[1].total_events, 1);
    cr_assert_eq(r.events[2].total_events, hour_before + 1);
    bm_worker_snapshot w;
    cr_assert_eq(worker_stats_snapshot_one(b.workers, worker_names[0], one.t, &w), 0);
    cr_assert_eq(w.win[0].executions, 0);
    cr_assert_eq(w.win[1].executions, 0);
    cr_assert_gt(w.win[2].executions, 0);

    /* and an hour later nothing of the checkpoint is left in any window */
    cr_assert_eq(bm_monitor_rollup(&b, end + 62 * MIN, SEC, "b", &r), 0);
    cr_assert_eq(r.events[2].total_events, 1);
    bm_monitor_deinit(&a);
    bm_monitor_deinit(&b);
    free(ev);
}

/* ---- alerts and deadlines -------------------------------------------------- */

#define MAX_SEEN 256
typedef struct {
    bm_alert seen[MAX_SEEN];
    size_t n;
} notes;

static void note(alerts *a, const bm_alert *al, void *arg)
{
    (void)a;
    notes *ns = arg;
    cr_assert_lt(ns->n, MAX_SEEN);
    ns->seen[ns->n++] = *al;
}

static alerts *engine(void)
{
    alerts *a = alerts_new(NULL);
    cr_assert_not_null(a);
    cr_assert_eq(alerts_add_builtins(a), 0);
    alert_rule r;
    alerts_rule_init(&r);
    snprintf(r.name, sizeof r.name, "slowish");
    r.metric = ALERT_METRIC_P95_LATENCY_MS;
    r.scope = ALERT_SCOPE_EACH_WORKER;
    r.threshold = 50;
    r.window = 1;
    r.for_us = 5 * MIN;
    r.cooldown_us = 2 * MIN;
    cr_assert_eq(alerts_set_rule(a, &r), 0);
    return a;
}

static void evaluate(alerts *a, bm_monitor *m, int64_t now, notes *ns)
{
    bm_rollup r;
    cr_assert_eq(bm_monitor_rollup(m, now, 10 * SEC, "x", &r), 0);
    alerts_evaluate(a, &r, NULL, now, note, ns);
}

static void same_alert(const bm_alert *x, const bm_alert *y)
{
    cr_assert_str_eq(x->rule, y->rule);
    cr_assert_eq(x->state, y->state, "%s", x->rule);
    cr_assert_eq(x->fingerprint, y->fingerprint, "%s", x->rule);
    cr_assert_eq(x->value, y->value, "%s", x->rule);
    cr_assert_str_eq(x->description, y->description);
    cr_assert_eq(x->starts_at_us, y->starts_at_us, "%s", x->rule);
    cr_assert_eq(x->ends_at_us, y->ends_at_us, "%s", x->rule);
    cr_assert_eq(x->ts_us, y->ts_us, "%s", x->rule);
}

Test(checkpoint, alert_instances_and_deadlines_ride_along)
{
    bm_monitor a, b;
    init_monitor(&a);
    init_monitor(&b);
    alerts *ea = engine(), *eb = engine();
    deadlines *da = deadlines_new(0), *db = deadlines_new(0);
    static notes na, nb;
    na.n = nb.n = 0;

    size_t n;
    wev *ev = workload(51, 0, 3000, T0, &n);
    int64_t next_eval = T0 + 10 * SEC;
    for (size_t i = 0; i < n; i++) {
        while (ev[i].t >= next_eval) {
            worker_stats_evaluate(a.workers, next_eval, NULL, NULL);
            evaluate(ea, &a, next_eval, &na);
            next_eval += 10 * SEC;
        }
        apply(&a, &ev[i]);
        if (ev[i].kind == K_COMMAND) {
            char tx[32];
            snprintf(tx, sizeof tx, "tx-%d", ev[i].tx);
            deadlines_add(da, tx, "c1", ev[i].t + 30 * SEC, 30 * SEC);
        }
    }
    alerts_stats sa, sb;
    alerts_get_stats(ea, &sa);
    cr_assert_gt(sa.firing, 0, "the workload fires some alerts");
    cr_assert_gt(sa.transitions, 0);

    msgpack_sbuffer buf = encode(&a, da, ea, next_eval);
    char err[256] = "";
    cr_assert_eq(decode(buf.data, buf.size, NULL, &b, db, eb, err, sizeof err), BM_CHECKPOINT_OK,
                 "%s", err);
    msgpack_sbuffer_destroy(&buf);

    alerts_get_stats(eb, &sb);
    cr_assert_eq(sb.pending, sa.pending);
    cr_assert_eq(sb.firing, sa.firing);
    cr_assert_eq(sb.evaluations, sa.evaluations);
    cr_assert_eq(sb.notifications, sa.notifications);
    cr_assert_eq(sb.transitions, sa.transitions);
    cr_assert_eq(sb.history_evicted, sa.history_evicted);
    static bm_alert fa[64], fb[64];
    size_t nfa = alerts_firing(ea, fa, 64);
    cr_assert_eq(alerts_firing(eb, fb, 64), nfa);
    for (size_t i = 0; i < nfa; i++)
        same_alert(&fa[i], &fb[i]);
    static bm_alert ha[100], hb[100];
    size_t nha = alerts_history(ea, ha, 100);
    cr_assert_eq(alerts_history(eb, hb, 100), nha);
    for (size_t i = 0; i < nha; i++)
        same_alert(&ha[i], &hb[i]);

    /* the lifecycle goes on the same: pending ones fire after their `for`,
     * firing ones repeat after their cooldown, or resolve */
    size_t before_a = na.n;
    nb.n = 0;
    for (int64_t t = next_eval; t < next_eval + 20 * MIN; t += 10 * SEC) {
        worker_stats_evaluate(a.workers, t, NULL, NULL);
        worker_stats_evaluate(b.workers, t, NULL, NULL);
        evaluate(ea, &a, t, &na);
        evaluate(eb, &b, t, &nb);
    }
    cr_assert_gt(nb.n, 0);
    cr_assert_eq(na.n - before_a, nb.n);
    for (size_t i = 0; i < nb.n; i++)
        same_alert(&na.seen[before_a + i], &nb.seen[i]);

    cr_assert_eq(deadlines_count(db), deadlines_count(da));
    deadline x, y;
    while (deadlines_pop_due(da, INT64_MAX, &x)) {
        cr_assert_eq(deadlines_pop_due(db, INT64_MAX, &y), 1);
        cr_assert_eq(x.due_us, y.due_us);
        cr_assert_eq(x.timeout_us, y.timeout_us);
    }
    cr_assert_eq(deadlines_count(db), 0);

    alerts_free(ea);
    alerts_free(eb);
    deadlines_free(da);
    deadlines_free(db);
    bm_monitor_deinit(&a);
    bm_monitor_deinit(&b);
    free(ev);
}

/* ---- refusals ---------------------------------------------------------------- */

/* The bytes of a monitor's own checkpoint, to see that a target is unchanged. */
static msgpack_sbuffer fingerprint(bm_monitor *m, deadlines *d, alerts *a)
{
    return encode(m, d, a, 0);
}

static void assert_unchanged(const msgpack_sbuffer *before, bm_monitor *m, deadlines *d, alerts *a,
                             const char *what)
{
    msgpack_sbuffer now = fingerprint(m, d, a);
    cr_assert(now.size == before->size && !memcmp(now.data, before->data, now.size),
              "%s changed the targets", what);
    msgpack_sbuffer_destroy(&now);
}

/* A small state of every part: three workers, two patterns, deadlines, an
 * alert firing and one in the history. */
static void small_state(bm_monitor *m, deadlines *d, alerts *a)
{
    size_t n;
    wev *ev = workload(61, 0, 150, T0, &n);
    for (size_t i = 0; i < n; i++) {
        wev e = ev[i];
        e.worker %= 3;
        apply(m, &e);
    }
    worker_stats_evaluate(m->workers, T0 + MIN, NULL, NULL);
    deadlines_add(d, "tx-1", "c-1", T0 + 2 * MIN, 30 * SEC);
    deadlines_add(d, "tx-2", "c-2", T0 + MIN, 30 * SEC);
    bm_rollup r;
    cr_assert_eq(bm_monitor_rollup(m, T0 + MIN, 10 * SEC, "x", &r), 0);
    alerts_evaluate(a, &r, NULL, T0 + MIN, NULL, NULL);
    free(ev);
}

static void targets(bm_monitor *m, deadlines **d, alerts **a)
{
    init_monitor(m);
    *d = deadlines_new(0);
    *a = engine();
}

static void free_targets(bm_monitor *m, deadlines *d, alerts *a)
{
    bm_monitor_deinit(m);
    deadlines_free(d);
    alerts_free(a);
}

/* A "pending" that is not a list refuses the checkpoint, and then nothing
 * was loaded: not even the alert instances (loaded in place before that
 * member was looked at, they stayed while the agent said it started empty). */
Test(checkpoint, a_pending_member_not_a_list_changes_no_target)
{
    bm_monitor src;
    deadlines *src_dl;
    alerts *src_al;
    targets(&src, &src_dl, &src_al);
    small_state(&src, src_dl, src_al);
    msgpack_sbuffer sb = encode(&src, src_dl, src_al, T0);
    free_targets(&src, src_dl, src_al);
    bm_monitor t; /* the targets: empty ones */
    deadlines *td;
    alerts *ta;
    targets(&t, &td, &ta);
    cr_assert_eq((unsigned char)sb.data[0], 0x8a, "a map of 10 members");
    sb.data[0] = (char)0x8b; /* ... and an eleventh: "pending": 5 */
    msgpack_sbuffer_write(&sb, "\xa7pending\x05", 9);
    msgpack_sbuffer before = fingerprint(&t, td, ta);
    char err[256] = "";
    cr_assert_eq(decode(sb.data, sb.size, NULL, &t, td, ta, err, sizeof err), BM_CHECKPOINT_CORRUPT,
                 "%s", err);
    cr_assert_str_eq(err, "'pending' is not a list");
    assert_unchanged(&before, &t, td, ta, "a bad 'pending'");
    msgpack_sbuffer_destroy(&before);
    msgpack_sbuffer_destroy(&sb);
    free_targets(&t, td, ta);
}

Test(checkpoint, every_prefix_is_truncated_and_changes_nothing)
{
    bm_monitor m, t;
    deadlines *d, *td;
    alerts *a, *ta;
    targets(&m, &d, &a);
    targets(&t, &td, &ta);
    small_state(&m, d, a);
    small_state(&t, td, ta); /* a target with a state of its own */
    for (int i = 0; i < 40; i++) {
        wev extra = {.t = T0 + 5 * MIN + i, .kind = K_RESULT, .worker = 7, .ok = 1, .dur = 900};
        apply(&t, &extra);
    }
    msgpack_sbuffer sb = encode(&m, d, a, T0);
    msgpack_sbuffer before = fingerprint(&t, td, ta);
    for (size_t len = 0; len < sb.size; len++) {
        char err[256] = "";
        bm_checkpoint_status st = decode(sb.data, len, NULL, &t, td, ta, err, sizeof err);
        cr_assert_eq(st, BM_CHECKPOINT_TRUNCATED, "prefix of %zu of %zu bytes: %s (%s)", len,
                     sb.size, bm_checkpoint_status_name(st), err);
    }
    assert_unchanged(&before, &t, td, ta, "a prefix");
    /* a byte too many */
    char *longer = malloc(sb.size + 1);
    memcpy(longer, sb.data, sb.size);
    longer[sb.size] = 0;
    char err[256];
    cr_assert_eq(decode(longer, sb.size + 1, NULL, &t, td, ta, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    cr_assert_str_eq(err, "not one msgpack value");
    assert_unchanged(&before, &t, td, ta, "a trailing byte");
    free(longer);
    msgpack_sbuffer_destroy(&before);
    msgpack_sbuffer_destroy(&sb);
    free_targets(&m, d, a);
    free_targets(&t, td, ta);
}

Test(checkpoint, flipped_bytes_never_crash_and_change_nothing_unless_ok)
{
    bm_monitor m, t;
    deadlines *d, *td;
    alerts *a, *ta;
    targets(&m, &d, &a);
    targets(&t, &td, &ta);
    small_state(&m, d, a);
    msgpack_sbuffer sb = encode(&m, d, a, T0);
    msgpack_sbuffer before = fingerprint(&t, td, ta);
    char *bytes = malloc(sb.size);
    rng_state = 99;
    check_envelope = 0;
    int ok = 0, refused = 0;
    for (int round = 0; round < 1500; round++) {
        memcpy(bytes, sb.data, sb.size);
        for (int k = 0; k < 1 + round % 3; k++)
            bytes[rng() % sb.size] ^= (char)(1u << (rng() % 8));
        char err[256] = "";
        bm_checkpoint_status st = decode(bytes, sb.size, NULL, &t, td, ta, err, sizeof err);
        cr_assert_lt((unsigned)st, BM_CHECKPOINT__COUNT);
        if (st == BM_CHECKPOINT_OK) {
            ok++;
            /* a flip that still loads (a count, a time): reset the targets */
            free_targets(&t, td, ta);
            targets(&t, &td, &ta);
        } else {
            refused++;
            cr_assert_neq(err[0], '\0', "a refusal says why");
        }
    }
    assert_unchanged(&before, &t, td, ta, "a refused flip");
    cr_assert_gt(refused, 100);
    cr_assert_gt(ok, 10);
    free(bytes);
    msgpack_sbuffer_destroy(&before);
    msgpack_sbuffer_destroy(&sb);
    free_targets(&m, d, a);
    free_targets(&t, td, ta);
}

/* A map {"v": v, "kind": kind} and nothing else. */
static msgpack_sbuffer envelope_only(int64_t v, const char *kind)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    bm_sc_key_i64(&pk, "v", v);
    bm_sc_key_str(&pk, "kind", kind);
    return sb;
}

Test(checkpoint, other_versions_and_kinds_are_named)
{
    bm_monitor m;
    init_monitor(&m);
    char err[256];
    msgpack_sbuffer sb = envelope_only(2, "busmon-state");
    cr_assert_eq(decode(sb.data, sb.size, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_WRONG_VERSION);
    cr_assert_str_eq(err, "format version 2, this build reads 1");
    msgpack_sbuffer_destroy(&sb);

    sb = envelope_only(1, "rollup");
    cr_assert_eq(decode(sb.data, sb.size, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_WRONG_KIND);
    cr_assert(strstr(err, "not a busmon state checkpoint"), "%s", err);
    msgpack_sbuffer_destroy(&sb);

    sb = envelope_only(1, "busmon-state"); /* the right words, nothing else */
    cr_assert_eq(decode(sb.data, sb.size, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    cr_assert(strstr(err, "'agent' missing"), "%s", err);
    msgpack_sbuffer_destroy(&sb);

    static const char not_a_map[] = "\x93\x01\x02\x03";
    cr_assert_eq(decode(not_a_map, 4, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    cr_assert_str_eq(err, "not a map");
    cr_assert_eq(decode(NULL, 0, NULL, &m, NULL, NULL, err, sizeof err), BM_CHECKPOINT_TRUNCATED);
    cr_assert_str_eq(bm_checkpoint_status_name(BM_CHECKPOINT_WRONG_VERSION), "wrong_version");
    cr_assert_str_eq(bm_checkpoint_status_name(BM_CHECKPOINT__COUNT), "unknown");
    bm_monitor_deinit(&m);
}

/* "monitor", "deadlines" and "alerts", each nil (not written). */
static void pack_no_parts(msgpack_packer *pk)
{
    bm_sc_key(pk, "monitor");
    msgpack_pack_nil(pk);
    bm_sc_key(pk, "deadlines");
    msgpack_pack_nil(pk);
    bm_sc_key(pk, "alerts");
    msgpack_pack_nil(pk);
}

Test(checkpoint, hostile_sizes_are_refused_before_anything_is_allocated)
{
    bm_monitor m;
    init_monitor(&m);
    char err[256];
    /* {"kind": [ 2^32 - 1 elements ]}: 5 bytes claiming ~100 GB unpacked */
    static const char huge_array[] = "\x81\xa4kind\xdd\xff\xff\xff\xff";
    cr_assert_eq(decode(huge_array, sizeof huge_array - 1, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TRUNCATED);
    static const char huge_map[] = "\xdf\xff\xff\xff\xff";
    cr_assert_eq(decode(huge_map, 5, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TRUNCATED);
    static const char huge_str[] = "\x81\xa1v\xdb\x7f\xff\xff\xff";
    cr_assert_eq(decode(huge_str, sizeof huge_str - 1, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TRUNCATED);
    static const char never_used[] = "\x81\xa1v\xc1";
    cr_assert_eq(decode(never_used, 4, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    /* the same check alone, for a reader that unpacks the checkpoint itself
     * (busmon baseline): nothing unpacked, the reason said */
    size_t objects = 99;
    cr_assert_eq(bm_checkpoint_check(huge_map, 5, NULL, &objects, err, sizeof err),
                 BM_CHECKPOINT_TRUNCATED);
    cr_assert_eq(objects, 99, "untouched unless OK");
    cr_assert_str_eq(err, "truncated: 5 bytes end inside a value");
    cr_assert_eq(bm_checkpoint_check("\x81\xa1v\x01", 4, NULL, &objects, err, sizeof err),
                 BM_CHECKPOINT_OK);
    cr_assert_eq(objects, 3);

    char deep[200];
    memset(deep, 0x91, sizeof deep); /* [[[[ ... ]]]] */
    deep[sizeof deep - 1] = 0x01;
    cr_assert_eq(decode(deep, sizeof deep, NULL, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    cr_assert(strstr(err, "deeper"), "%s", err);

    msgpack_sbuffer sb = encode(&m, NULL, NULL, T0);
    bm_checkpoint_limits lim = {.max_bytes = sb.size - 1};
    cr_assert_eq(decode(sb.data, sb.size, &lim, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TOO_BIG);
    lim = (bm_checkpoint_limits){.max_objects = 20};
    cr_assert_eq(decode(sb.data, sb.size, &lim, &m, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TOO_BIG);
    cr_assert(strstr(err, "more than 20 msgpack objects"), "%s", err);
    msgpack_sbuffer_destroy(&sb);

    /* 65 streams */
    bm_checkpoint *c = calloc(1, sizeof *c);
    c->n_streams = BM_CHECKPOINT_STREAMS_MAX;
    for (int i = 0; i < BM_CHECKPOINT_STREAMS_MAX; i++) {
        snprintf(c->streams[i].name, sizeof c->streams[i].name, "s%d", i);
        snprintf(c->streams[i].last_id, sizeof c->streams[i].last_id, "%d-0", i);
    }
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, c, err, sizeof err), BM_CHECKPOINT_OK,
                 "64 streams are fine: %s", err);
    /* patch the streams map's count from 64 to 65 entries by adding one */
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    bm_sc_key_i64(&pk, "v", 1);
    bm_sc_key_str(&pk, "kind", "busmon-state");
    bm_sc_key_str(&pk, "agent", "a");
    bm_sc_key_i64(&pk, "ts_us", 1);
    bm_sc_key(&pk, "streams");
    msgpack_pack_map(&pk, 65);
    for (int i = 0; i < 65; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        bm_sc_key_str(&pk, name, "1-1");
    }
    pack_no_parts(&pk);
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, c, err, sizeof err),
                 BM_CHECKPOINT_TOO_BIG);
    cr_assert_str_eq(err, "65 streams, at most 64 are read");
    msgpack_sbuffer_destroy(&sb);
    free(c);
    bm_monitor_deinit(&m);
}

Test(checkpoint, bad_stream_ids_are_corrupt)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    char err[256];
    const char *bad[] = {"", "12", "-1", "1-", "a-1", "1-1-1", "$"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c->n_streams = 1;
        snprintf(c->streams[0].name, sizeof c->streams[0].name, "s");
        snprintf(c->streams[0].last_id, sizeof c->streams[0].last_id, "%s", bad[i]);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
        c->n_streams = 0;
        cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, c, err, sizeof err),
                     BM_CHECKPOINT_CORRUPT, "'%s'", bad[i]);
        cr_assert(strstr(err, "last id"), "%s", err);
        cr_assert_eq(c->n_streams, 0);
        msgpack_sbuffer_destroy(&sb);
    }
    free(c);
}

Test(checkpoint, another_configuration_is_a_mismatch_and_smaller_bounds_refuse)
{
    bm_monitor m, t;
    deadlines *d, *td;
    alerts *a, *ta;
    targets(&m, &d, &a);
    small_state(&m, d, a);
    msgpack_sbuffer sb = encode(&m, d, a, T0);

    worker_stats_config other = wcfg;
    other.perf_window_us = 30 * MIN;
    cr_assert_eq(bm_monitor_init(&t, &other, 0), 0);
    td = deadlines_new(0);
    ta = engine();
    msgpack_sbuffer before = fingerprint(&t, td, ta);
    char err[512];
    cr_assert_eq(decode(sb.data, sb.size, NULL, &t, td, ta, err, sizeof err),
                 BM_CHECKPOINT_MISMATCH);
    cr_assert(strstr(err, "window of 12 x 300000000 µs saved, this one is 12 x 150000000 µs"), "%s",
              err);
    assert_unchanged(&before, &t, td, ta, "a mismatch");
    msgpack_sbuffer_destroy(&before);
    free_targets(&t, td, ta);

    /* the same windows, smaller bounds: loaded, what they refuse counted */
    worker_stats_config two = wcfg;
    two.max_workers = 2;
    cr_assert_eq(bm_monitor_init(&t, &two, 1), 0);
    td = deadlines_new(1);
    ta = alerts_new(NULL); /* no rules: their instances are left out */
    cr_assert_eq(decode(sb.data, sb.size, NULL, &t, td, ta, err, sizeof err), BM_CHECKPOINT_OK,
                 "%s", err);
    cr_assert_eq(worker_stats_count(t.workers), 2);
    cr_assert_eq(worker_stats_refused(t.workers), 1);
    cr_assert_eq(error_patterns_count(t.errors), 1);
    cr_assert_gt(error_patterns_refused(t.errors), 0);
    cr_assert_eq(deadlines_count(td), 1);
    cr_assert_eq(deadlines_refused(td), 1);
    alerts_stats st;
    alerts_get_stats(ta, &st);
    cr_assert_eq(st.firing + st.pending, 0);
    free_targets(&t, td, ta);
    msgpack_sbuffer_destroy(&sb);
    free_targets(&m, d, a);
}

/* ---- the seed corpus ----------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s (BUSMON_WRITE_CORPUS=1 writes it)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#define CORPUS BM_SOURCE_DIR "/tests/fuzz/corpus/"

Test(checkpoint, seed_corpus_decodes_to_the_state_that_wrote_it)
{
    bm_monitor m, t;
    deadlines *d, *td;
    alerts *a, *ta;
    targets(&m, &d, &a);
    small_state(&m, d, a);
    if (getenv("BUSMON_WRITE_CORPUS")) {
        msgpack_sbuffer sb = encode(&m, d, a, T0 + MIN);
        write_file(CORPUS "checkpoint_v1.mp", sb.data, sb.size);
        write_file(CORPUS "checkpoint_v1_cut.mp", sb.data, sb.size / 2);
        msgpack_sbuffer_destroy(&sb);
        sb = envelope_only(2, "busmon-state");
        write_file(CORPUS "checkpoint_v2.mp", sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    /* a checkpoint written by an earlier build of this version still loads,
     * into the very state that wrote it, but for the duration histograms: that
     * build's fixed bounds are not today's default, so they restart at zero
     * (a counter reset to Prometheus) */
    size_t len;
    char *seed = read_file(CORPUS "checkpoint_v1.mp", &len);
    targets(&t, &td, &ta);
    char err[256] = "";
    cr_assert_eq(decode(seed, len, NULL, &t, td, ta, err, sizeof err), BM_CHECKPOINT_OK, "%s", err);
    b_histogram_restarted = !getenv("BUSMON_WRITE_CORPUS");
    same_monitor(&m, &t, T0 + MIN, 1);
    same_monitor(&m, &t, T0 + 3 * MIN, 1);
    b_histogram_restarted = 0;
    cr_assert_eq(worker_stats_count(t.workers), 3);
    cr_assert_eq(deadlines_count(td), 2);
    alerts_stats sa, sb;
    alerts_get_stats(a, &sa);
    alerts_get_stats(ta, &sb);
    cr_assert_eq(sa.firing, sb.firing);
    cr_assert_eq(sa.pending, sb.pending);
    free(seed);

    seed = read_file(CORPUS "checkpoint_v1_cut.mp", &len);
    cr_assert_eq(decode(seed, len, NULL, &t, td, ta, err, sizeof err), BM_CHECKPOINT_TRUNCATED);
    free(seed);
    seed = read_file(CORPUS "checkpoint_v2.mp", &len);
    cr_assert_eq(decode(seed, len, NULL, &t, td, ta, err, sizeof err), BM_CHECKPOINT_WRONG_VERSION);
    free(seed);
    free_targets(&t, td, ta);
    free_targets(&m, d, a);
}

/* ---- commands awaiting an answer ------------------------------------------ */

static bm_event pending_ev(bm_event_type type, const char *id, const char *tx, int64_t ts)
{
    bm_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.id = id;
    e.tx = tx;
    e.corr = e.cmd = e.step = e.source = e.status = e.message = "";
    e.error_type = e.error_message = "";
    e.worker = type == BM_EV_COMMAND ? "w" : "";
    e.ts_us = ts;
    e.duration_us = -1;
    e.ok = -1;
    e.attempt = e.priority = -1;
    e.progress = -1;
    return e;
}

/* The pending commands of s through a checkpoint into back (restored at
 * T0 + MIN). @return how many were put back. */
static size_t pending_round_trip(trace_store *s, trace_store *back)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    snprintf(c->agent, sizeof c->agent, "busmon-a");
    c->ts_us = T0;
    c->traces = s;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    memset(c, 0, sizeof *c);
    c->traces = back;
    c->now_us = T0 + MIN;
    char err[256] = "";
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, c, err, sizeof err), BM_CHECKPOINT_OK,
                 "%s", err);
    size_t pending = c->pending;
    free(c);
    msgpack_sbuffer_destroy(&sb);
    return pending;
}

/* "pending" holds the unanswered commands of transactions still open: a
 * command of one that ended (its final status came) is no longer awaited,
 * so it is not put back after a restart. */
Test(checkpoint, pending_commands_of_open_transactions_only)
{
    trace_store *s = trace_store_new(NULL);
    bm_event open_cmd = pending_ev(BM_EV_COMMAND, "c-open", "tx-open", T0);
    bm_event ended_cmd = pending_ev(BM_EV_COMMAND, "c-ended", "tx-ended", T0);
    bm_event ended = pending_ev(BM_EV_STATUS, "s-ended", "tx-ended", T0 + 1);
    ended.status = "compensated";
    bm_event running_cmd = pending_ev(BM_EV_COMMAND, "c-running", "tx-running", T0);
    bm_event running = pending_ev(BM_EV_STATUS, "s-running", "tx-running", T0 + 1);
    running.status = "running";
    const bm_event *all[] = {&open_cmd, &ended_cmd, &ended, &running_cmd, &running};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(trace_store_apply(s, all[i], T0, NULL, NULL), TRACE_STORE_APPLIED);

    trace_store *back = trace_store_new(NULL);
    cr_assert_eq(pending_round_trip(s, back), 2);
    cr_assert_not_null(trace_store_get(back, "tx-open"));
    cr_assert_not_null(trace_store_get(back, "tx-running"), "running closes nothing");
    cr_assert_null(trace_store_get(back, "tx-ended"));
    trace_store_free(s);
    trace_store_free(back);
}

/* The restored store evicts the same transaction first as the saved one:
 * the pending commands go out least recently updated first and come back
 * in that order. */
Test(checkpoint, pending_commands_come_back_in_their_eviction_order)
{
    trace_store *s = trace_store_new(NULL);
    bm_event old_cmd = pending_ev(BM_EV_COMMAND, "c-old", "tx-old", T0);
    bm_event new_cmd = pending_ev(BM_EV_COMMAND, "c-new", "tx-new", T0 + 1);
    cr_assert_eq(trace_store_apply(s, &old_cmd, T0, NULL, NULL), TRACE_STORE_APPLIED);
    cr_assert_eq(trace_store_apply(s, &new_cmd, T0 + 1, NULL, NULL), TRACE_STORE_APPLIED);

    trace_store_limits lim = {2, 0, 0};
    trace_store *back = trace_store_new(&lim);
    cr_assert_eq(pending_round_trip(s, back), 2);
    bm_event third = pending_ev(BM_EV_COMMAND, "c-third", "tx-third", T0 + MIN);
    cr_assert_eq(trace_store_apply(back, &third, T0 + MIN, NULL, NULL), TRACE_STORE_APPLIED);
    cr_assert_null(trace_store_get(back, "tx-old"), "the least recently updated goes first");
    cr_assert_not_null(trace_store_get(back, "tx-new"));
    trace_store_free(s);
    trace_store_free(back);
}

/* ---- baselines ------------------------------------------------------------- */

static msgpack_sbuffer encode_baselines(baselines *b)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    snprintf(c->agent, sizeof c->agent, "busmon-a");
    c->baselines = b;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    free(c);
    return sb;
}

static bm_checkpoint_status decode_baselines(const msgpack_sbuffer *sb, baselines *b)
{
    bm_checkpoint *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->baselines = b;
    char err[256] = "";
    bm_checkpoint_status st = bm_checkpoint_decode(sb->data, sb->size, NULL, c, err, sizeof err);
    cr_assert_eq(st, BM_CHECKPOINT_OK, "%s", err);
    free(c);
    return st;
}

Test(checkpoint, baselines_ride_along_and_an_older_checkpoint_without_them_restores)
{
    baseline_config bc;
    baseline_config_defaults(&bc);
    bc.min_samples = 2;
    bc.min_learning_us = 0;
    baselines *b = baselines_new(&bc), *into = baselines_new(&bc);
    double v[BASELINE__SERIES] = {40000, 50000, 0.01, 60};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(baselines_observe(b, "w", v, 1700000000LL * 1000000 + i), 0);
    baselines_freeze(b, "w", 1700000001LL * 1000000);
    msgpack_sbuffer sb = encode_baselines(b);
    if (getenv("BUSMON_WRITE_CORPUS")) /* a seed of the fuzz target */
        write_file(CORPUS "checkpoint_v1_baselines.mp", sb.data, sb.size);
    decode_baselines(&sb, into);
    baseline_view x, y;
    cr_assert_eq(baselines_get(into, "w", 1700000002LL * 1000000, &y), 0);
    baselines_get(b, "w", 1700000002LL * 1000000, &x);
    cr_assert_eq(memcmp(&x, &y, sizeof x), 0);
    cr_assert(y.frozen && y.ready);
    msgpack_sbuffer_destroy(&sb);

    /* a checkpoint written without baselines (as before them): the table stays */
    sb = encode_baselines(NULL);
    cr_assert_null(memmem(sb.data, sb.size, "baselines", 9));
    decode_baselines(&sb, into);
    cr_assert_eq(baselines_count(into), 1);
    msgpack_sbuffer_destroy(&sb);

    /* a checkpoint with baselines read by a reader that wants none */
    sb = encode_baselines(b);
    decode_baselines(&sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    baselines_free(b);
    baselines_free(into);
}

/* ---- the limits follow the configuration ------------------------------------ */
/* (bm_checkpoint_limits_for): what an agent of many workers writes, an agent
 * of the same configuration reads back. The big case keeps its memory
 * modest: a 2-minute performance window (a worker's objects are the same
 * for any length) and one duration, so each histogram holds one bucket. */

static void fill(bm_monitor *m, size_t workers, int64_t span_us, int spread)
{
    char name[32];
    for (int64_t t = T0; t < T0 + span_us; t += 10 * SEC)
        for (size_t w = 0; w < workers; w++) {
            snprintf(name, sizeof name, "worker-%05zu", w);
            /* spread: durations over many buckets (the histograms' worst case) */
            int64_t dur = spread ? 1 + (int64_t)((t / SEC + w) % 977) * 1000 : 1000;
            for (int k = 0; k < (spread ? 400 : 1); k++)
                cr_assert_eq(worker_stats_answer(m->workers, name, BM_OUTCOME_SUCCESS,
                                                 spread ? dur * (k + 1) : dur, "", "", 0,
                                                 t + (int64_t)w),
                             0);
        }
}

static size_t objects_of(const msgpack_sbuffer *sb)
{
    bm_checkpoint_limits all = {SIZE_MAX, SIZE_MAX};
    size_t n = 0;
    cr_assert_eq(bm_checkpoint_check(sb->data, sb->size, &all, &n, NULL, 0), BM_CHECKPOINT_OK);
    return n;
}

Test(checkpoint, the_defaults_up_to_1000_workers_then_room_for_each_one_more)
{
    bm_checkpoint_limits d = bm_checkpoint_limits_for(0, 0),
                         k = bm_checkpoint_limits_for(1000, 1000);
    cr_assert_eq(d.max_bytes, 64u << 20);
    cr_assert_eq(d.max_objects, 4u << 20);
    cr_assert_eq(k.max_bytes, d.max_bytes);
    cr_assert_eq(k.max_objects, d.max_objects);
    bm_checkpoint_limits big = bm_checkpoint_limits_for(11000, 3000);
    cr_assert_eq(big.max_bytes, d.max_bytes + 10000u * BM_CHECKPOINT_WORKER_BYTES +
                                    2000u * BM_CHECKPOINT_BASELINE_KEY_BYTES);
    cr_assert_eq(big.max_objects, d.max_objects + 10000u * BM_CHECKPOINT_WORKER_OBJECTS +
                                      2000u * BM_CHECKPOINT_BASELINE_KEY_OBJECTS);
    bm_checkpoint_limits huge = bm_checkpoint_limits_for(SIZE_MAX, 5);
    cr_assert_eq(huge.max_bytes, SIZE_MAX, "saturates, never wraps to a small bound");
    cr_assert_eq(huge.max_objects, SIZE_MAX);
    huge = bm_checkpoint_limits_for(5000, SIZE_MAX);
    cr_assert_eq(huge.max_bytes, SIZE_MAX);
}

/* The room per worker is never short: a worker with full windows and wide
 * histograms takes less. */
Test(checkpoint, a_worker_with_full_windows_fits_the_room_of_one)
{
    worker_stats_config wc = wcfg;
    bm_monitor empty, m;
    cr_assert_eq(bm_monitor_init(&empty, &wc, 0), 0);
    cr_assert_eq(bm_monitor_init(&m, &wc, 0), 0);
    const size_t n = 4;
    fill(&m, n, 60 * 60 * SEC, 1);
    msgpack_sbuffer e = encode(&empty, NULL, NULL, T0), f = encode(&m, NULL, NULL, T0);
    size_t bytes = (f.size - e.size) / n, objects = (objects_of(&f) - objects_of(&e)) / n;
    cr_log_info("one worker: %zu bytes, %zu objects", bytes, objects);
    cr_assert_gt(bytes, 4096, "the histograms are wide (%zu bytes)", bytes);
    cr_assert_lt(bytes, BM_CHECKPOINT_WORKER_BYTES, "%zu bytes", bytes);
    cr_assert_lt(objects, BM_CHECKPOINT_WORKER_OBJECTS, "%zu objects", objects);
    msgpack_sbuffer_destroy(&e);
    msgpack_sbuffer_destroy(&f);
    bm_monitor_deinit(&empty);
    bm_monitor_deinit(&m);
}

/* 8,000 workers with full windows: more msgpack objects than the default
 * limits; an agent configured for them restores its checkpoint (it was
 * refused as too big, and the agent started empty at every restart). */
Test(checkpoint, a_checkpoint_of_8000_workers_is_read_by_their_configuration, .timeout = 120)
{
    worker_stats_config wc = wcfg;
    wc.max_workers = 8000;
    wc.perf_window_us = 120 * SEC;
    bm_monitor m, back;
    cr_assert_eq(bm_monitor_init(&m, &wc, 0), 0);
    fill(&m, 8000, 300 * SEC, 0);
    cr_assert_eq(worker_stats_count(m.workers), 8000);
    msgpack_sbuffer sb = encode(&m, NULL, NULL, T0);
    size_t objects = objects_of(&sb);
    cr_log_info("8000 workers: %zu bytes, %zu objects", sb.size, objects);
    bm_checkpoint_limits d = bm_checkpoint_limits_for(0, 0);
    cr_assert_gt(objects, d.max_objects, "past the defaults (%zu objects)", objects);
    bm_monitor_deinit(&m);

    char err[256] = "";
    cr_assert_eq(bm_monitor_init(&back, &wc, 0), 0);
    bm_checkpoint_status st = decode(sb.data, sb.size, NULL, &back, NULL, NULL, err, sizeof err);
    cr_assert_eq(st, BM_CHECKPOINT_OK, "%s: %s", bm_checkpoint_status_name(st), err);
    cr_assert_eq(worker_stats_count(back.workers), 8000);
    bm_monitor_deinit(&back);

    /* a reader configured for the default 1,000 workers refuses it, saying why */
    wc.max_workers = 1000;
    cr_assert_eq(bm_monitor_init(&back, &wc, 0), 0);
    err[0] = '\0';
    cr_assert_eq(decode(sb.data, sb.size, NULL, &back, NULL, NULL, err, sizeof err),
                 BM_CHECKPOINT_TOO_BIG);
    cr_assert(strstr(err, "msgpack objects"), "%s", err);
    cr_assert_eq(worker_stats_count(back.workers), 0);
    bm_monitor_deinit(&back);
    msgpack_sbuffer_destroy(&sb);
}

/* An envelope by hand: the keys every writer writes, plus `key` packed by
 * `fn` (NULL: absent, as in checkpoints before it). */
static msgpack_sbuffer envelope_with_key(const char *key, void (*fn)(msgpack_packer *pk))
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, fn ? 9 : 8);
    bm_sc_key_i64(&pk, "v", BM_CHECKPOINT_VERSION);
    bm_sc_key_str(&pk, "kind", BM_CHECKPOINT_KIND);
    bm_sc_key_str(&pk, "agent", "old-agent");
    bm_sc_key_i64(&pk, "ts_us", T0);
    if (fn) {
        bm_sc_key(&pk, key);
        fn(&pk);
    }
    bm_sc_key(&pk, "streams");
    msgpack_pack_map(&pk, 0);
    pack_no_parts(&pk);
    return sb;
}

static msgpack_sbuffer envelope_with(void (*dl)(msgpack_packer *pk))
{
    return envelope_with_key("deadlettered", dl);
}

static void dl_text(msgpack_packer *pk)
{
    bm_sc_str(pk, "many");
}
static void dl_negative(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -3);
}

static void every_negative(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -1000000);
}

/* Optional envelope keys added within version 1: the dead-letter count and
 * the writer's checkpoint interval. */
Test(checkpoint, the_dead_letter_count_and_interval_ride_along_and_an_older_checkpoint_reads_zero)
{
    bm_checkpoint *c = calloc(1, sizeof *c), *back = calloc(1, sizeof *back);
    cr_assert(c && back);
    snprintf(c->agent, sizeof c->agent, "busmon-a");
    c->deadlettered = 12345678901ULL;
    c->every_us = 4000000;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    char err[256] = "";
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_OK, "%s", err);
    cr_assert_eq(back->deadlettered, 12345678901ULL);
    cr_assert_eq(back->every_us, 4000000);
    msgpack_sbuffer_destroy(&sb);

    /* written before the count existed: read, and the count is 0 */
    back->deadlettered = 99;
    sb = envelope_with(NULL);
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_OK, "%s", err);
    cr_assert_eq(back->deadlettered, 0);
    cr_assert_eq(back->every_us, 0);
    cr_assert_str_eq(back->agent, "old-agent");
    msgpack_sbuffer_destroy(&sb);

    back->every_us = 7;
    sb = envelope_with_key("every_us", every_negative);
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_CORRUPT);
    cr_assert_str_eq(err, "'every_us' is not a duration");
    cr_assert_eq(back->every_us, 7);
    msgpack_sbuffer_destroy(&sb);

    /* not a count: corrupt, said, nothing taken */
    void (*bad[])(msgpack_packer *) = {dl_text, dl_negative};
    for (size_t i = 0; i < 2; i++) {
        back->deadlettered = 7;
        sb = envelope_with(bad[i]);
        cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                     BM_CHECKPOINT_CORRUPT);
        cr_assert_str_eq(err, "'deadlettered' is not a count");
        cr_assert_eq(back->deadlettered, 7);
        msgpack_sbuffer_destroy(&sb);
    }
    free(c);
    free(back);
}

static void claimed_bad_id(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    bm_sc_str(pk, "events");
    msgpack_pack_array(pk, 2);
    bm_sc_str(pk, "1-1");
    bm_sc_str(pk, "1-x");
}
static void claimed_not_a_map(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void claimed_too_many(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    bm_sc_str(pk, "events");
    msgpack_pack_array(pk, BM_CHECKPOINT_CLAIMED_MAX + 1);
    for (int i = 0; i <= BM_CHECKPOINT_CLAIMED_MAX; i++) {
        char id[32];
        snprintf(id, sizeof id, "%d-0", i + 1);
        bm_sc_str(pk, id);
    }
}

Test(checkpoint, claimed_entries_ride_along_by_stream_and_an_older_checkpoint_has_none)
{
    bm_checkpoint *c = calloc(1, sizeof *c), *back = calloc(1, sizeof *back);
    cr_assert(c && back);
    snprintf(c->agent, sizeof c->agent, "busmon-a");
    bm_checkpoint_claim claims[] = {{1, "5-0"}, {0, "1700000000000-3"}, {1, "2-7"}, {0, "9-9"}};
    c->n_claimed_streams = 3; /* the third has none: left out */
    snprintf(c->claimed_streams[0], sizeof c->claimed_streams[0], "orders");
    snprintf(c->claimed_streams[1], sizeof c->claimed_streams[1], "events");
    snprintf(c->claimed_streams[2], sizeof c->claimed_streams[2], "quiet");
    c->claimed = claims;
    c->n_claimed = 4;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    char err[256] = "";
    back->keep_claimed = 1;
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_OK, "%s", err);
    cr_assert_eq(back->n_claimed_streams, 2);
    cr_assert_eq(back->n_claimed, 4);
    const char *want[][2] = {
        {"orders", "1700000000000-3"}, {"orders", "9-9"}, {"events", "5-0"}, {"events", "2-7"}};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(back->claimed_streams[back->claimed[i].stream], want[i][0]);
        cr_assert_str_eq(back->claimed[i].id, want[i][1]);
    }
    free(back->claimed);

    /* not asked for: checked, not kept */
    memset(back, 0, sizeof *back);
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_OK, "%s", err);
    cr_assert_null(back->claimed);
    cr_assert_eq(back->n_claimed, 0);
    msgpack_sbuffer_destroy(&sb);

    /* none: the key is left out, as older agents wrote */
    c->n_claimed = 0;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(bm_checkpoint_encode(c, &sb), 0);
    cr_assert_null(memmem(sb.data, sb.size, "claimed", 7));
    back->keep_claimed = 1;
    cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err),
                 BM_CHECKPOINT_OK, "%s", err);
    cr_assert_null(back->claimed);
    msgpack_sbuffer_destroy(&sb);

    /* wrong: corrupt or too big, said, nothing kept */
    struct {
        void (*fn)(msgpack_packer *);
        bm_checkpoint_status st;
        const char *err;
    } bad[] = {
        {claimed_bad_id, BM_CHECKPOINT_CORRUPT, "claimed: 'events': id 1 is not \"<ms>-<seq>\""},
        {claimed_not_a_map, BM_CHECKPOINT_CORRUPT, "'claimed' is not a map"},
        {claimed_too_many, BM_CHECKPOINT_TOO_BIG, "claimed: 32769 ids, at most 32768 are read"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb = envelope_with_key("claimed", bad[i].fn);
        cr_assert_eq(bm_checkpoint_decode(sb.data, sb.size, NULL, back, err, sizeof err), bad[i].st,
                     "case %zu: %s", i, err);
        cr_assert_str_eq(err, bad[i].err);
        cr_assert_null(back->claimed);
        msgpack_sbuffer_destroy(&sb);
    }
    free(c);
    free(back);
}
