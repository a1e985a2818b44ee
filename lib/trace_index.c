/*
 * trace_index.c - a transaction's summary for the trace search index, its
 * JSON and the filter (trace_index.h).
 */
#include "trace_index.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/time_internal.h"

/* The first TRACE_INDEX_TEXT_MAX bytes of src, never ending inside a UTF-8
 * sequence (a cut one would make the summary not JSON). */
/* src's first cap - 1 bytes and a NUL into dst, as snprintf "%s" (without
 * its cost: a summary copies a few per event). @return strlen(src). */
static size_t copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src), c = n < cap - 1 ? n : cap - 1;
    memcpy(dst, src, c);
    dst[c] = '\0';
    return n;
}

static void copy_cut(char *dst, const char *src)
{
    size_t n = copy_str(dst, TRACE_INDEX_TEXT_MAX + 1, src ? src : "");
    if (n <= TRACE_INDEX_TEXT_MAX) return;
    size_t len = TRACE_INDEX_TEXT_MAX, lead = len;
    while (lead > 0 && ((uint8_t)dst[lead - 1] & 0xC0) == 0x80)
        lead--; /* back over continuation bytes to the sequence's lead byte */
    if (lead == 0) return;
    uint8_t c = (uint8_t)dst[lead - 1];
    size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len - (lead - 1) < need) dst[lead - 1] = '\0'; /* incomplete: drop it */
}

static void add_worker(trace_summary *s, const char *w)
{
    if (!w || !*w) return;
    for (size_t i = 0; i < s->n_workers; i++)
        if (!strncmp(s->workers[i], w, TRACE_INDEX_TEXT_MAX)) return;
    if (s->n_workers < TRACE_INDEX_WORKERS_MAX) copy_cut(s->workers[s->n_workers++], w);
}

void trace_index_summarize(const trace *t, trace_summary *out)
{
    memset(out, 0, sizeof *out);
    copy_str(out->tx, sizeof out->tx, trace_tx(t));
    out->status = trace_get_status(t);
    out->start_us = trace_first_ts_us(t);
    out->end_us = trace_last_ts_us(t);
    out->duration_us = trace_duration_us(t);
    out->events = trace_count(t);
    trace_event view;
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        if (e->type == BM_EV_COMMAND || e->type == BM_EV_COMPENSATION) out->steps++;
        if (e->type == BM_EV_COMMAND || e->type == BM_EV_RESULT || e->type == BM_EV_ERROR)
            add_worker(out, e->worker);
        int outcome = trace_event_outcome(e);
        if (te->late || te->answers_compensation) continue;
        if (outcome == BM_OUTCOME_TIMEOUT) out->timed_out = 1;
        if (outcome == BM_OUTCOME_FAILURE || outcome == BM_OUTCOME_TIMEOUT) {
            if (!out->errors++) {
                copy_cut(out->error_type, e->error_type[0]                ? e->error_type
                                          : outcome == BM_OUTCOME_TIMEOUT ? "timeout"
                                                                          : "");
                copy_cut(out->error, e->error_message);
            }
        }
    }
}

int trace_index_is_failed(const trace_summary *s)
{
    return trace_status_group(s->status) == TRACE_FAILED || s->timed_out;
}

/* 8 bytes at a time (FNV-1a's byte at a time was 2-3 % of the agent's CPU):
 * each word multiplied in and rotated, a murmur-style finish. Only ever
 * compared with itself in memory (the trace's index mark), never stored. */
uint64_t trace_index_hash(const void *data, size_t n)
{
    const unsigned char *b = data;
    uint64_t h = 1469598103934665603ULL ^ (n * 0x9E3779B97F4A7C15ULL), w;
    for (; n >= 8; b += 8, n -= 8) {
        memcpy(&w, b, sizeof w);
        h ^= w * 0x87C37B91114253D5ULL;
        h = ((h << 31) | (h >> 33)) * 0x4CF5AD432745937FULL;
    }
    if (n) {
        w = 0;
        memcpy(&w, b, n);
        h ^= w * 0x87C37B91114253D5ULL;
        h = ((h << 31) | (h >> 33)) * 0x4CF5AD432745937FULL;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

/* The first n workers of s, in order (a name and its end both hashed). */
static uint64_t workers_hash(const trace_summary *s, size_t n)
{
    uint64_t h = n;
    for (size_t i = 0; i < n; i++)
        h = h * 0x9E3779B97F4A7C15ULL ^ trace_index_hash(s->workers[i], strlen(s->workers[i]));
    return h;
}

unsigned trace_index_plan(trace_index_mark *m, const trace_summary *s, uint64_t json_hash,
                          size_t *workers_from)
{
    unsigned w = 0;
    int failed = trace_index_is_failed(s);
    int64_t score_ms = s->start_us / 1000;
    uint64_t wh = workers_hash(s, s->n_workers);
    int moved = !m->indexed || m->score_lo != (uint32_t)score_ms;
    *workers_from = 0;
    if (!m->indexed || m->summary_hash != json_hash) w |= TRACE_INDEX_W_SUMMARY;
    if (moved) w |= TRACE_INDEX_W_SET;
    if (failed && (moved || !m->failed)) w |= TRACE_INDEX_W_FAILED;
    if (s->n_workers && (moved || m->n_workers != s->n_workers || m->workers_hash != wh)) {
        w |= TRACE_INDEX_W_WORKERS;
        /* the names added before still first, in order: only the new ones */
        if (!moved && m->n_workers < s->n_workers &&
            workers_hash(s, m->n_workers) == m->workers_hash)
            *workers_from = m->n_workers;
    }
    m->summary_hash = json_hash;
    m->workers_hash = wh;
    m->n_workers = (uint8_t)s->n_workers;
    m->score_lo = (uint32_t)score_ms;
    m->indexed = 1;
    m->failed = (uint8_t)failed;
    return w;
}

void trace_index_format_ms(int64_t ts_us, char *buf, size_t n)
{
    char iso[32]; /* "YYYY-MM-DDThh:mm:ss.ffffffZ": its ms are its first 23 bytes */
    if (n >= 25 && bm_format_time_iso(ts_us < 0 ? 0 : ts_us, iso) == 27) {
        memcpy(buf, iso, 23);
        memcpy(buf + 23, "Z", 2);
        return;
    }
    time_t sec = (time_t)(ts_us / 1000000);
    int ms = (int)((ts_us % 1000000) / 1000);
    if (ts_us < 0) sec = 0, ms = 0;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", day, ms);
}

json_t *trace_index_json(const trace_summary *s)
{
    char start[40], end[40];
    trace_index_format_ms(s->start_us, start, sizeof start);
    trace_index_format_ms(s->end_us, end, sizeof end);
    json_t *w = json_array();
    for (size_t i = 0; w && i < s->n_workers; i++)
        json_array_append_new(w, json_string(s->workers[i]));
    return json_pack("{s:s, s:s, s:b, s:s, s:I, s:s, s:I, s:f, s:I, s:I, s:I, s:o, s:s, s:s}", "tx",
                     s->tx, "status", trace_status_name(s->status), "timed_out", s->timed_out,
                     "start", start, "start_unix_ms", (json_int_t)(s->start_us / 1000), "end", end,
                     "end_unix_ms", (json_int_t)(s->end_us / 1000), "duration_ms",
                     (double)s->duration_us / 1000.0, "steps", (json_int_t)s->steps, "events",
                     (json_int_t)s->events, "errors", (json_int_t)s->errors, "workers",
                     w ? w : json_array(), "error_type", s->error_type, "error", s->error);
}

/* ---- the summary's JSON, written by hand (the agent writes one per event) ---- */

typedef struct {
    char *p;
    size_t len, cap;
} jbuf;

static void put(jbuf *b, const char *s, size_t n)
{
    if (b->len < b->cap) memcpy(b->p + b->len, s, b->len + n <= b->cap ? n : b->cap - b->len);
    b->len += n;
}

static void put_s(jbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A JSON string as jansson writes it by default: ", \ and control
 * characters escaped (\b \f \n \r \t, else \u00XX), UTF-8 as is. */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* How many of the n bytes at s, 8 at a time from the start, need no escape:
 * none below 0x20, no '"', no '\\' (the tests are exact for "any"). */
static size_t plain_run(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        uint64_t q = w ^ ('"' * ONES), bs = w ^ ('\\' * ONES);
        if ((((w - 0x20 * ONES) & ~w) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs)) & HIGHS) break;
    }
    return i;
}

static void put_str(jbuf *b, const char *s)
{
    put(b, "\"", 1);
    const char *run = s, *end = s + strlen(s);
    for (s += plain_run(s, (size_t)(end - s)); s < end; s++) {
        uint8_t c = (uint8_t)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(b, run, (size_t)(s - run));
        char esc[8];
        switch (c) {
        case '"':
            put(b, "\\\"", 2);
            break;
        case '\\':
            put(b, "\\\\", 2);
            break;
        case '\b':
            put(b, "\\b", 2);
            break;
        case '\f':
            put(b, "\\f", 2);
            break;
        case '\n':
            put(b, "\\n", 2);
            break;
        case '\r':
            put(b, "\\r", 2);
            break;
        case '\t':
            put(b, "\\t", 2);
            break;
        default:
            put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04X", c));
            break;
        }
        run = s + 1;
    }
    put(b, run, (size_t)(s - run));
    put(b, "\"", 1);
}

/* ,"key":v (by hand: snprintf was most of a summary's cost). */
static void put_int(jbuf *b, const char *key, long long v)
{
    char t[24], *end = t + sizeof t, *d = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--d = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--d = '-';
    put(b, ",\"", 2);
    put_s(b, key);
    put(b, "\":", 2);
    put(b, d, (size_t)(end - d));
}

static unsigned __int128 pow10_u128(int k)
{
    unsigned __int128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* printf's "%.17g" of 1e-4 <= v < 1e15 without printf: the 17 significant
 * digits of v's exact binary value m / 2^s, rounded half to even, in fixed
 * notation (%g's choice for decimal exponents -4..16), trailing zeros and
 * a bare point cut. m * 10^k (m < 2^53, k <= 20) fits 128 bits.
 * @return the length written to t (>= 24 bytes), or 0 outside the range. */
static int g17_fixed(double v, char *t)
{
    if (!(v >= 1e-4 && v < 1e15)) return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned __int128 m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int s = 1075 - (int)(bits >> 52 & 0x7ff); /* v = m / 2^s, s in 3..66 */
    int x = 0; /* the decimal exponent, 10^x <= v < 10^(x+1): a guess, then checked */
    double p10 = 1;
    for (; x < 14 && v >= p10 * 10; x++)
        p10 *= 10;
    for (; x > -4 && v < p10; x--)
        p10 /= 10;
    unsigned __int128 lo = pow10_u128(16) << s, hi = pow10_u128(17) << s, full = 0;
    for (int tries = 0; tries < 3; tries++) { /* the guess is off by one at most */
        if (x < -4 || x > 14) return 0;
        full = m * pow10_u128(16 - x);
        if (full < lo)
            x--;
        else if (full >= hi)
            x++;
        else
            break;
    }
    if (full < lo || full >= hi) return 0;
    uint64_t q = (uint64_t)(full >> s);
    unsigned __int128 r = full & (((unsigned __int128)1 << s) - 1),
                      half = (unsigned __int128)1 << (s - 1);
    if (r > half || (r == half && (q & 1))) q++;
    if (q == (uint64_t)pow10_u128(17)) q = (uint64_t)pow10_u128(16), x++;
    char dig[17];
    for (int i = 16; i >= 0; i--, q /= 10)
        dig[i] = (char)('0' + q % 10);
    int n = 0, i = 0;
    if (x >= 0) {
        for (; i <= x; i++)
            t[n++] = dig[i];
        t[n++] = '.';
    } else {
        t[n++] = '0';
        t[n++] = '.';
        for (int z = 0; z < -x - 1; z++)
            t[n++] = '0';
    }
    for (; i < 17; i++)
        t[n++] = dig[i];
    while (t[n - 1] == '0')
        n--;
    if (t[n - 1] == '.') n--;
    t[n] = '\0';
    return n;
}

/* A real as jansson writes it: %.17g, ".0" when it would read as an
 * integer, the exponent without '+' or leading zeros. */
static void put_real(jbuf *b, double v)
{
    char t[64];
    int n = g17_fixed(v, t);
    if (!n) n = snprintf(t, sizeof t, "%.17g", v);
    if (n < 0 || n >= (int)sizeof t - 3) n = snprintf(t, sizeof t, "0.0");
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(t, 'e');
    if (e) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(t + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    put(b, t, (size_t)n);
}

size_t trace_index_dump(const trace_summary *s, char *buf, size_t cap)
{
    jbuf b = {buf, 0, cap};
    char start[40], end[40];
    trace_index_format_ms(s->start_us, start, sizeof start);
    trace_index_format_ms(s->end_us, end, sizeof end);
    put_s(&b, "{\"tx\":");
    put_str(&b, s->tx);
    put_s(&b, ",\"status\":");
    put_str(&b, trace_status_name(s->status));
    put_s(&b, s->timed_out ? ",\"timed_out\":true,\"start\":" : ",\"timed_out\":false,\"start\":");
    put_str(&b, start);
    put_int(&b, "start_unix_ms", (long long)(s->start_us / 1000));
    put_s(&b, ",\"end\":");
    put_str(&b, end);
    put_int(&b, "end_unix_ms", (long long)(s->end_us / 1000));
    put_s(&b, ",\"duration_ms\":");
    put_real(&b, (double)s->duration_us / 1000.0);
    put_int(&b, "steps", (long long)s->steps);
    put_int(&b, "events", (long long)s->events);
    put_int(&b, "errors", (long long)s->errors);
    put_s(&b, ",\"workers\":[");
    for (size_t i = 0; i < s->n_workers; i++) {
        if (i) put(&b, ",", 1);
        put_str(&b, s->workers[i]);
    }
    put_s(&b, "],\"error_type\":");
    put_str(&b, s->error_type);
    put_s(&b, ",\"error\":");
    put_str(&b, s->error);
    put(&b, "}", 1);
    if (cap) buf[b.len < cap ? b.len : cap - 1] = '\0';
    return b.len;
}

static trace_status status_from(const char *name)
{
    for (int st = TRACE_RUNNING; st <= TRACE_CANCELLED; st++)
        if (!strcmp(name, trace_status_name((trace_status)st))) return (trace_status)st;
    return TRACE_RUNNING;
}

int trace_index_parse(const char *json, size_t len, trace_summary *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(json, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    const char *tx = json_string_value(json_object_get(j, "tx"));
    const char *status = json_string_value(json_object_get(j, "status"));
    if (!tx || !status) {
        json_decref(j);
        return -1;
    }
    snprintf(out->tx, sizeof out->tx, "%s", tx);
    out->status = status_from(status);
    out->timed_out = json_is_true(json_object_get(j, "timed_out"));
    out->start_us = json_integer_value(json_object_get(j, "start_unix_ms")) * 1000;
    out->end_us = json_integer_value(json_object_get(j, "end_unix_ms")) * 1000;
    out->duration_us =
        (int64_t)(json_number_value(json_object_get(j, "duration_ms")) * 1000.0 + 0.5);
    out->steps = (size_t)json_integer_value(json_object_get(j, "steps"));
    out->events = (size_t)json_integer_value(json_object_get(j, "events"));
    out->errors = (size_t)json_integer_value(json_object_get(j, "errors"));
    json_t *w = json_object_get(j, "workers");
    for (size_t i = 0; i < json_array_size(w) && out->n_workers < TRACE_INDEX_WORKERS_MAX; i++)
        add_worker(out, json_string_value(json_array_get(w, i)));
    copy_cut(out->error_type, json_string_value(json_object_get(j, "error_type")));
    copy_cut(out->error, json_string_value(json_object_get(j, "error")));
    json_decref(j);
    return 0;
}

int trace_index_status_valid(const char *want)
{
    if (!strcmp(want, "timed_out")) return 1;
    for (int st = TRACE_RUNNING; st <= TRACE_CANCELLED; st++)
        if (!strcmp(want, trace_status_name((trace_status)st))) return 1;
    return 0;
}

int trace_index_matches(const trace_summary *s, const trace_filter *f)
{
    if (f->status && *f->status) {
        if (!strcmp(f->status, "timed_out")) {
            if (!s->timed_out) return 0;
        } else if (!trace_status_matches(s->status, f->status)) {
            return 0;
        }
    }
    if (f->worker && *f->worker) {
        int found = 0;
        for (size_t i = 0; i < s->n_workers && !found; i++)
            found = !strcmp(s->workers[i], f->worker);
        if (!found) return 0;
    }
    if (f->min_duration_us > 0 && s->duration_us < f->min_duration_us) return 0;
    if (f->since_us > 0 && s->start_us < f->since_us) return 0;
    if (f->error_type && *f->error_type && strcmp(s->error_type, f->error_type)) return 0;
    return 1;
}
