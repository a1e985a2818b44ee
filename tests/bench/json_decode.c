/*
 * json_decode.c - bench-json-decode: the JSON decoder against the jansson
 * tree it replaced, on the MultiAgents Framework's events, in one run.
 *
 * Builds a set of the framework's events (ma_shape.c: commands with
 * timeout_seconds, results with command_id and success, ~10 % failures with
 * error_details), checks once that both decoders read every one of them the
 * same, then decodes the set again and again with
 *
 *   jansson  json_loadb + a walk of the tree through bm_key_plan and the
 *            builder: a copy of proto/decode_json.c before the scanner
 *   scanner  bm_decode_json (proto/decode_json.c)
 *   msgpack  bm_decode_msgpack of the same events as busmon encodes them:
 *            the native form's cost, for scale
 *
 * in interleaved rounds (a busy neighbour slows every decoder alike) and
 * prints each one's median MB/s and events/s and the ratios. The last line
 * is for scripts:
 *
 *   json_decode: jansson A ev/s, scanner B ev/s, ratio B/A R, msgpack C ev/s
 *
 * Not here: Redis, the agent (run.sh measures those).
 */
#include "ma_shape.h"
#include "proto/event_internal.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SET_SIZE 1000 /* events in the set: 500 transactions */

/* ---- the old decoder: jansson's tree, walked ------------------------------- */

static void tree_value(json_t *j, bm_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->kind = BM_V_STR;
        v->str = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->kind = BM_V_INT;
        v->i = (int64_t)json_integer_value(j);
        break;
    case JSON_REAL:
        v->kind = BM_V_FLOAT;
        v->f = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = BM_V_BOOL;
        v->b = json_is_true(j);
        break;
    case JSON_OBJECT:
        v->kind = BM_V_MAP;
        break;
    case JSON_ARRAY:
        v->kind = BM_V_ARRAY;
        break;
    default:
        v->kind = BM_V_NIL;
        break;
    }
}

static bm_decode_status tree_walk(bm_evb *b, json_t *obj, bm_scope scope)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bm_value v;
        tree_value(val, &v);
        bm_field f;
        int rank;
        bm_scope sub;
        bm_decode_status st = BM_DECODE_OK;
        size_t key_len = strlen(key);
        switch (bm_key_plan(scope, key, key_len, v.kind, &f, &rank, &sub)) {
        case BM_PLAN_FIELD:
            st = bm_evb_set(b, f, rank, &v);
            break;
        case BM_PLAN_DESCEND:
            st = tree_walk(b, val, sub);
            break;
        case BM_PLAN_PAYLOAD:
            bm_evb_set_payload(b, json_dumpb(val, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY), rank);
            break;
        case BM_PLAN_COLLECT:
            bm_evb_collect(b, scope, key, key_len, &v);
            break;
        case BM_PLAN_SKIP:
            break;
        }
        if (st != BM_DECODE_OK) return st;
    }
    return BM_DECODE_OK;
}

static bm_decode_status tree_decode(bm_decoder *d, const char *buf, size_t len, bm_event *ev)
{
    bm_event_reset(ev);
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) return BM_DECODE_NOT_JSON;
    bm_decode_status st = BM_DECODE_JSON_NOT_OBJECT;
    if (json_is_object(root)) {
        bm_evb b;
        bm_evb_init(&b);
        st = tree_walk(&b, root, BM_SCOPE_TOP);
        if (st == BM_DECODE_OK) st = bm_evb_finish(d, &b, ev);
    }
    json_decref(root);
    return st;
}

/* ---- the set ------------------------------------------------------------------ */

typedef struct {
    char *text[SET_SIZE];
    size_t len[SET_SIZE];
    char *mp[SET_SIZE];
    size_t mp_len[SET_SIZE];
    size_t text_bytes, mp_bytes;
} event_set;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void make_id(uint64_t *rng, char out[37])
{
    uint64_t a = splitmix(rng), b = splitmix(rng);
    snprintf(out, 37, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16 & 0xffff), (unsigned)(a & 0xfff), (unsigned)(b >> 52),
             (unsigned long long)(b & 0xffffffffffffULL));
}

static int build_set(event_set *s)
{
    static const char *const workers[] = {"research", "analysis", "writer",     "reviewer",
                                          "search-1", "search-2", "summarizer", "planner"};
    static const char *const steps[] = {"research", "analyze", "draft", "review", "publish"};
    uint64_t rng = 42;
    char buf[1024], tx[32], cmd_id[37], id[37];
    int64_t ts_us = 1764806400000000LL; /* 2025-12-04 */
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < SET_SIZE; i++) {
        if (i % 2 == 0) {
            snprintf(tx, sizeof tx, "wf-%012llx", (unsigned long long)(splitmix(&rng) >> 16));
            make_id(&rng, cmd_id);
        }
        ma_tx t = {tx, steps[(i / 2) % 5], workers[(i / 2) % 8], cmd_id, ts_us + i * 1000};
        size_t n;
        uint64_t salt = splitmix(&rng);
        if (i % 2 == 0) {
            n = ma_command_json(buf, sizeof buf, &t, 30.0 + (double)(salt % 5) * 15, salt);
        } else {
            make_id(&rng, id);
            int kind = salt % 10 == 0 ? (int)(salt >> 8) % 3 : -1;
            n = ma_answer_json(buf, sizeof buf, &t, id, (double)(salt % 250000) / 1000.0 + 0.5,
                               kind, salt);
        }
        if (!n || !(s->text[i] = malloc(n))) return -1;
        memcpy(s->text[i], buf, n);
        s->len[i] = n;
        s->text_bytes += n;
    }
    return 0;
}

/* Both decoders read each event the same; the msgpack form is what
 * busmon encodes of it. @return 0, or -1 (reason printed). */
static int check_and_encode(event_set *s, bm_decoder *d1, bm_decoder *d2)
{
    for (int i = 0; i < SET_SIZE; i++) {
        bm_event a, b;
        bm_decode_status sa = tree_decode(d1, s->text[i], s->len[i], &a);
        bm_decode_status sb = bm_decode_json(d2, s->text[i], s->len[i], &b);
        if (sa != BM_DECODE_OK || sb != BM_DECODE_OK || a.type != b.type || strcmp(a.tx, b.tx) ||
            strcmp(a.worker, b.worker) || strcmp(a.cmd, b.cmd) || strcmp(a.step, b.step) ||
            strcmp(a.error_type, b.error_type) || a.ok != b.ok || a.ts_us != b.ts_us ||
            a.duration_us != b.duration_us || a.timeout_s != b.timeout_s ||
            a.payload_bytes != b.payload_bytes || a.n_attrs != b.n_attrs) {
            fprintf(stderr, "bench-json-decode: event %d read differently (%s / %s):\n%.*s\n", i,
                    bm_decode_status_name(sa), bm_decode_status_name(sb), (int)s->len[i],
                    s->text[i]);
            return -1;
        }
        msgpack_sbuffer sb_;
        msgpack_sbuffer_init(&sb_);
        if (bm_event_encode_msgpack(&b, -1, &sb_) != 0) return -1;
        s->mp[i] = sb_.data; /* taken over: freed with free() */
        s->mp_len[i] = sb_.size;
        s->mp_bytes += sb_.size;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

enum { D_JANSSON, D_SCANNER, D_MSGPACK, D__COUNT };
static const char *const d_names[D__COUNT] = {"jansson", "scanner", "msgpack"};

/* Decode the set `passes` times with decoder `which`. @return seconds. */
static double run(const event_set *s, bm_decoder *d, int which, long passes)
{
    bm_event ev;
    volatile size_t sink = 0;
    double t0 = now_s();
    for (long p = 0; p < passes; p++) {
        for (int i = 0; i < SET_SIZE; i++) {
            bm_decode_status st = which == D_JANSSON ? tree_decode(d, s->text[i], s->len[i], &ev)
                                  : which == D_SCANNER
                                      ? bm_decode_json(d, s->text[i], s->len[i], &ev)
                                      : bm_decode_msgpack(d, s->mp[i], s->mp_len[i], &ev);
            sink += (size_t)st + ev.tx[0];
        }
    }
    (void)sink;
    return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long events = 1000000;
    int rounds = 5, only = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc) {
            events = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            for (int k = 0; k < D__COUNT; k++)
                if (!strcmp(argv[i], d_names[k])) only = k;
            if (only < 0) {
                fprintf(stderr, "bench-json-decode: --only jansson, scanner or msgpack\n");
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: bench-json-decode [--events N] [--rounds R] [--only NAME]\n"
                    "  decodes N events (default 1000000) per decoder per round, R rounds\n"
                    "  (default 5, 1-99), and prints the medians; --only jansson|scanner|msgpack\n"
                    "  runs one decoder (for a profiler) and prints its line only\n");
            return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (events < SET_SIZE || rounds < 1 || rounds > 99) {
        fprintf(stderr, "bench-json-decode: --events >= %d, --rounds 1-99\n", SET_SIZE);
        return 2;
    }
    long passes = events / SET_SIZE;
    events = passes * SET_SIZE;

    event_set s;
    bm_decoder *dec[D__COUNT];
    for (int k = 0; k < D__COUNT; k++)
        if (!(dec[k] = bm_decoder_new(NULL))) return 3;
    if (build_set(&s) < 0 || check_and_encode(&s, dec[0], dec[1]) < 0) return 3;
    printf("set: %d MultiAgents events (commands, results, ~10 %% failures), %.0f bytes of JSON "
           "each on average (%.0f as msgpack); both JSON decoders read them the same\n",
           SET_SIZE, (double)s.text_bytes / SET_SIZE, (double)s.mp_bytes / SET_SIZE);

    double secs[D__COUNT][99];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < D__COUNT; k++)
            secs[k][r] = only < 0 || only == k ? run(&s, dec[k], k, passes) : 1;
    double rate[D__COUNT];
    for (int k = 0; k < D__COUNT; k++) {
        if (only >= 0 && only != k) continue;
        qsort(secs[k], (size_t)rounds, sizeof(double), cmp_double);
        double med = secs[k][rounds / 2];
        double bytes = (double)(k == D_MSGPACK ? s.mp_bytes : s.text_bytes) * (double)passes;
        rate[k] = (double)events / med;
        printf("%-8s %ld events in %.3f s (median of %d): %.1f MB/s, %.0f ev/s, %.2f us/event\n",
               d_names[k], events, med, rounds, bytes / med / 1e6, rate[k], 1e6 * med / events);
    }
    if (only >= 0) return 0;
    printf("ratio scanner/jansson: %.2f\n", rate[D_SCANNER] / rate[D_JANSSON]);
    printf("ratio scanner/msgpack: %.2f\n", rate[D_SCANNER] / rate[D_MSGPACK]);
    printf("json_decode: jansson %.0f ev/s, scanner %.0f ev/s, ratio %.2f, msgpack %.0f ev/s\n",
           rate[D_JANSSON], rate[D_SCANNER], rate[D_SCANNER] / rate[D_JANSSON], rate[D_MSGPACK]);
    for (int i = 0; i < SET_SIZE; i++) {
        free(s.text[i]);
        free(s.mp[i]);
    }
    for (int k = 0; k < D__COUNT; k++)
        bm_decoder_free(dec[k]);
    return 0;
}
