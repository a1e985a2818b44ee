/*
 * rollup_fit.c - a rollup entry within a byte budget (rollup.h,
 * bm_rollup_fit).
 *
 * A rollup carries every worker and error pattern; with 1,000 workers an
 * entry is ~1.8 MB (m + json), and the stream keeps MAXLEN ~ 360 of them.
 * The entry is therefore cut to its budget: the most active workers and
 * patterns that fit, the rest summarised in "omitted". Nothing is lost for
 * a reader who wants one worker: the busmon:workers hash holds them all
 * (one field each), and /api reads memory, not the stream.
 *
 * Sizes are measured, not guessed: each element's compact JSON
 * (json_dumpb) plus its msgpack twin (bm_json_msgpack_size) plus a comma,
 * over a base of the entry with empty arrays and an "omitted" object that
 * holds what it would if everything were cut (its figures only shrink
 * as elements are kept, and so do their digits), with slack for the
 * arrays' headers.
 *
 *   budget = max_bytes - base (the counters' table without its outputs; the
 *   entry without "counters" when even that does not fit)
 *   the agents ("agents": this agent and the leader first, then in their
 *   order) and the outputs' counters ("counters.outputs.sinks", in their
 *   order), while they fit (64 of each at most; a rollup that fits keeps
 *   them all; the cut ones are counted in omitted.agents, omitted.outputs)
 *   business metrics ("metrics": the publisher's first 50 series), in their
 *   order, while they fit (a rollup that fits keeps them all, as before;
 *   the cut ones are added to metrics.omitted)
 *   workers, most active first, while they fit in 3/4 of what is left
 *   errors, most counted first, in what is left
 *   workers again, in what is left after that
 *
 * Not here: what the figures mean (lib/), publishing (agent/jobs).
 */
#include "proto/rollup.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* the headers of the arrays and the map that are cut, empty in the base (1 byte of
 * msgpack) and up to 5 bytes when filled: 5 of them */
#define SLACK_BYTES 32

typedef struct {
    size_t idx;
    size_t cost;
    uint64_t executions, in_flight;
    const char *last_seen, *name;
} item;

static uint64_t num_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Most active first: executions over the performance window, in flight,
 * last seen (ISO text sorts as time; null as ""), then the name. */
static int by_activity(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->executions != y->executions) return x->executions > y->executions ? -1 : 1;
    if (x->in_flight != y->in_flight) return x->in_flight > y->in_flight ? -1 : 1;
    int c = strcmp(y->last_seen, x->last_seen);
    if (c) return c;
    c = strcmp(x->name, y->name);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static size_t cost_of(json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT) + 1 + bm_json_msgpack_size(v);
}

/* A member of an object: its value, and its key in both ("key": and a str header of up to 5). */
static size_t member_cost(const char *key, json_t *v)
{
    return cost_of(v) + 2 * strlen(key) + 8;
}

/* Add n to obj[key] (an integer). */
static void add_to(json_t *obj, const char *key, uint64_t n)
{
    json_t *v = json_object_get(obj, key);
    json_int_t cur = json_is_integer(v) ? json_integer_value(v) : 0;
    json_object_set_new(obj, key, json_integer(cur + (json_int_t)n));
}

/* The "omitted" object with zeros, its window keys those of the rollup's "events". */
static json_t *omitted_zero(json_t *roll)
{
    static const char *const healths[] = {"unknown", "healthy", "degraded", "failed",
                                          "inactive"};
    json_t *o = json_object(), *h = json_object(), *ex = json_object(), *fa = json_object(),
           *ec = json_object();
    if (!o || !h || !ex || !fa || !ec) {
        json_decref(o), json_decref(h), json_decref(ex), json_decref(fa), json_decref(ec);
        return NULL;
    }
    for (size_t i = 0; i < sizeof healths / sizeof *healths; i++)
        json_object_set_new(h, healths[i], json_integer(0));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(roll, "events"), k, v)
    {
        json_object_set_new(ex, k, json_integer(0));
        json_object_set_new(fa, k, json_integer(0));
        json_object_set_new(ec, k, json_integer(0));
    }
    json_object_set_new(o, "workers", json_integer(0));
    json_object_set_new(o, "errors", json_integer(0));
    json_object_set_new(o, "workers_health", h);
    json_object_set_new(o, "workers_executions", ex);
    json_object_set_new(o, "workers_failures", fa);
    json_object_set_new(o, "workers_in_flight", json_integer(0));
    json_object_set_new(o, "errors_count", ec);
    json_object_set_new(o, "agents", json_integer(0));
    json_object_set_new(o, "outputs", json_integer(0));
    json_object_set_new(o, "counters", json_integer(0));
    return o;
}

/* Take items in order while they fit in *left (skipping those that do not). */
static void take(item *it, size_t n, char *kept, size_t *left, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (kept[it[i].idx] || it[i].cost > *left || it[i].cost > cap) continue;
        kept[it[i].idx] = 1;
        *left -= it[i].cost;
        cap -= it[i].cost;
    }
}

/* The kept elements of arr, in their order, as a new array. */
static json_t *kept_of(json_t *arr, const char *kept)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (out && kept[i]) json_array_append(out, v);
    return out;
}

/* Add to `omitted` (zeros) what the kept flags wk, ek leave out of workers and
 * errors, and the agents and outputs cut. */
static void summarise(json_t *omitted, json_t *workers, const char *wk, json_t *errors,
                      const char *ek, size_t cut_agents, size_t cut_outputs)
{
    size_t nw = json_array_size(workers), ne = json_array_size(errors);
    json_t *h = json_object_get(omitted, "workers_health");
    json_t *ex = json_object_get(omitted, "workers_executions");
    json_t *fa = json_object_get(omitted, "workers_failures");
    json_t *ec = json_object_get(omitted, "errors_count");
    for (size_t i = 0; i < nw; i++) {
        if (wk[i]) continue;
        json_t *w = json_array_get(workers, i);
        add_to(omitted, "workers", 1);
        add_to(h, str_of(w, "health"), 1);
        add_to(omitted, "workers_in_flight", num_of(w, "in_flight"));
        const char *k;
        json_t *win;
        json_object_foreach(json_object_get(w, "windows"), k, win)
        {
            if (json_object_get(ex, k)) add_to(ex, k, num_of(win, "executions"));
            if (json_object_get(fa, k)) add_to(fa, k, num_of(win, "failures"));
        }
    }
    for (size_t i = 0; i < ne; i++) {
        if (ek[i]) continue;
        json_t *e = json_array_get(errors, i);
        add_to(omitted, "errors", 1);
        const char *k;
        json_t *c;
        json_object_foreach(json_object_get(e, "count"), k, c) if (json_object_get(ec, k))
            add_to(ec, k, num_of(json_object_get(e, "count"), k));
    }
    add_to(omitted, "agents", cut_agents);
    add_to(omitted, "outputs", cut_outputs);
}

/* This agent first, then the leader, then the others in their order. */
static int by_rank(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->executions != y->executions) return x->executions > y->executions ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static size_t entry_base(json_t *roll)
{
    return json_dumpb(roll, NULL, 0, JSON_COMPACT) + bm_json_msgpack_size(roll) + SLACK_BYTES;
}

int bm_rollup_fit(json_t *roll, size_t max_bytes)
{
    json_t *workers = json_incref(json_object_get(roll, "workers"));
    json_t *errors = json_incref(json_object_get(roll, "errors"));
    json_t *metrics = json_object_get(roll, "metrics");
    json_t *series = json_incref(json_object_get(metrics, "items"));
    json_t *agents = json_incref(json_object_get(roll, "agents"));
    json_t *counters = json_incref(json_object_get(roll, "counters"));
    json_t *outputs = json_object_get(json_object_get(counters, "outputs"), "sinks");
    json_t *omitted = omitted_zero(roll);
    size_t nw = json_array_size(workers), ne = json_array_size(errors);
    size_t nm = json_array_size(series), na = json_array_size(agents);
    size_t no = json_object_size(outputs);
    item *wi = calloc(nw + 1, sizeof *wi), *ei = calloc(ne + 1, sizeof *ei);
    item *mi = calloc(nm + 1, sizeof *mi), *ai = calloc(na + 1, sizeof *ai);
    item *oi = calloc(no + 1, sizeof *oi);
    char *wk = calloc(nw + 1, 1), *ek = calloc(ne + 1, 1), *mk = calloc(nm + 1, 1);
    char *ak = calloc(na + 1, 1), *ok = calloc(no + 1, 1);
    const char **okey = calloc(no + 1, sizeof *okey); /* the outputs' names, borrowed */
    json_t *kept_outputs = json_object();
    int rc = -1;
    json_incref(outputs);
    if (!omitted || !wi || !ei || !mi || !ai || !oi || !wk || !ek || !mk || !ak || !ok || !okey ||
        !kept_outputs || json_object_set_new(roll, "workers", json_array()) ||
        json_object_set_new(roll, "errors", json_array()) ||
        (series && json_object_set_new(metrics, "items", json_array())) ||
        (json_is_array(agents) && json_object_set_new(roll, "agents", json_array())) ||
        (outputs && json_object_set(json_object_get(counters, "outputs"), "sinks", kept_outputs)) ||
        json_object_set(roll, "omitted", omitted))
        goto out;

    /* the base holds "omitted" as if everything were cut: its largest figures */
    json_int_t series_omitted = json_integer_value(json_object_get(metrics, "omitted"));
    if (series)
        json_object_set_new(metrics, "omitted", json_integer(series_omitted + (json_int_t)nm));
    summarise(omitted, workers, wk, errors, ek, na, no);
    add_to(omitted, "counters", counters ? 1 : 0);
    size_t base = entry_base(roll);
    if (base > max_bytes && counters) { /* even the counters' table does not fit: left out */
        json_object_del(roll, "counters");
        no = 0;
        base = entry_base(roll);
    }
    size_t left = base < max_bytes ? max_bytes - base : 0;
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(agents, i);
        ai[i] = (item){i,
                       cost_of(a),
                       json_is_true(json_object_get(a, "me"))       ? 2u
                       : json_is_true(json_object_get(a, "leader")) ? 1u
                                                                    : 0u,
                       0,
                       "",
                       ""};
    }
    qsort(ai, na, sizeof *ai, by_rank);
    take(ai, na, ak, &left, left);
    {
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(outputs, k, v)
        {
            if (i == no) break;
            okey[i] = k;
            oi[i] = (item){i, member_cost(k, v), 0, 0, "", ""};
            i++;
        }
    }
    take(oi, no, ok, &left, left); /* in their order */
    for (size_t i = 0; i < nw; i++) {
        json_t *w = json_array_get(workers, i);
        json_t *perf = bm_rollup_pick_window(json_object_get(w, "windows"), "1h");
        wi[i] = (item){i, cost_of(w), num_of(perf, "executions"), num_of(w, "in_flight"),
                       str_of(w, "last_seen"), str_of(w, "name")};
    }
    for (size_t i = 0; i < ne; i++)
        ei[i] = (item){i, cost_of(json_array_get(errors, i)), 0, 0, "", ""};
    for (size_t i = 0; i < nm; i++)
        mi[i] = (item){i, cost_of(json_array_get(series, i)), 0, 0, "", ""};
    take(mi, nm, mk, &left, left); /* in their order */
    qsort(wi, nw, sizeof *wi, by_activity);
    take(wi, nw, wk, &left, left - left / 4);
    take(ei, ne, ek, &left, left); /* errors are in the snapshot's order: most counted first */
    take(wi, nw, wk, &left, left);

    size_t cut_series = 0, cut_agents = 0, cut_outputs = 0;
    for (size_t i = 0; i < nm; i++)
        cut_series += !mk[i];
    for (size_t i = 0; i < na; i++)
        cut_agents += !ak[i];
    for (size_t i = 0; i < no; i++) {
        if (ok[i])
            json_object_set(kept_outputs, okey[i], json_object_get(outputs, okey[i]));
        else
            cut_outputs++;
    }
    json_t *cut = omitted_zero(roll);
    if (!cut || json_object_set(roll, "omitted", cut)) {
        json_decref(cut);
        goto out;
    }
    if (counters && !json_object_get(roll, "counters")) add_to(cut, "counters", 1);
    summarise(cut, workers, wk, errors, ek, cut_agents, cut_outputs);
    json_decref(cut);
    json_t *kw = kept_of(workers, wk), *ke = kept_of(errors, ek);
    json_t *km = series ? kept_of(series, mk) : NULL;
    if (!kw || !ke || (series && !km)) {
        json_decref(kw);
        json_decref(ke);
        json_decref(km);
        goto out;
    }
    json_object_set_new(roll, "workers", kw);
    json_object_set_new(roll, "errors", ke);
    if (json_is_array(agents)) {
        json_t *ka = kept_of(agents, ak);
        if (ka) json_object_set_new(roll, "agents", ka);
    }
    if (series) {
        json_object_set_new(metrics, "items", km);
        json_object_set_new(metrics, "omitted",
                            json_integer(series_omitted + (json_int_t)cut_series));
    }
    rc = 0;
out:
    json_decref(omitted);
    json_decref(workers);
    json_decref(errors);
    json_decref(series);
    json_decref(agents);
    json_decref(counters);
    json_decref(outputs);
    json_decref(kept_outputs);
    free(ai);
    free(oi);
    free(ak);
    free(ok);
    free(okey);
    free(wi);
    free(ei);
    free(mi);
    free(wk);
    free(ek);
    free(mk);
    return rc;
}
