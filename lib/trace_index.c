/*
 * trace_index.c - a transaction's summary for the trace search index, its
 * JSON and the filter (trace_index.h).
 */
#include "trace_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/time_internal.h"

/* src's first cap - 1 bytes and a NUL into dst, as snprintf "%s" (without
 * its cost: a summary copies a few per event). @return strlen(src). */
static size_t copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src), c = n < cap - 1 ? n : cap - 1;
    memcpy(dst, src, c);
    dst[c] = '\0';
    return n;
}

/* The first TRACE_INDEX_TEXT_MAX bytes of src, never ending inside a UTF-8
 * sequence (a cut one would make the summary not JSON). Names are never
 * longer (the decoder refuses them), so only a message is ever cut. */
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

/* Whether w is one of the n names of list. */
static int listed(const char (*list)[TRACE_INDEX_TEXT_MAX + 1], size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++)
        if (!strncmp(list[i], w, TRACE_INDEX_TEXT_MAX)) return 1;
    return 0;
}

/* The worker an event of a trace runs on, for the summary: a command's or
 * an answer's (NULL: none). */
static const char *event_worker(const bm_event *e)
{
    if (e->type != BM_EV_COMMAND && e->type != BM_EV_RESULT && e->type != BM_EV_ERROR) return NULL;
    return e->worker && e->worker[0] ? e->worker : NULL;
}

static void add_worker(trace_summary *s, const char *w)
{
    if (!w || !*w) return;
    if (listed(s->workers, s->n_workers, w)) return;
    if (s->n_workers < TRACE_INDEX_WORKERS_MAX) copy_cut(s->workers[s->n_workers++], w);
}

size_t trace_index_more_workers(const trace *t, const trace_summary *s,
                                char (*more)[TRACE_INDEX_TEXT_MAX + 1], size_t max)
{
    size_t n = 0;
    if (s->n_workers < TRACE_INDEX_WORKERS_MAX) return 0;
    trace_event view;
    for (size_t i = 0; i < trace_count(t) && n < max; i++) {
        const char *w = event_worker(&trace_get(t, i, &view)->ev);
        if (w && !listed(s->workers, s->n_workers, w) && !listed(more, n, w))
            copy_cut(more[n++], w);
    }
    return n;
}

const char *trace_index_error_whole(const trace *t, const trace_summary *s)
{
    if (!s->error[0]) return "";
    trace_event view;
    return trace_get(t, s->error_event, &view)->ev.error_message;
}

json_t *trace_index_text_json(const char *text)
{
    json_t *j = json_string(text);
    if (j) return j;
    size_t n = strlen(text);
    char *shown = malloc(n + 1);
    if (!shown) return NULL;
    bm_text_scrub(shown, text, n);
    shown[n] = '\0';
    j = json_string(shown);
    free(shown);
    return j;
}

void trace_index_summarize(const trace *t, trace_summary *out)
{
    memset(out, 0, sizeof *out);
    copy_cut(out->tx, trace_tx(t));
    out->status = trace_get_status(t);
    out->start_us = trace_first_ts_us(t);
    out->end_us = trace_last_ts_us(t);
    out->duration_us = trace_duration_us(t);
    out->events = trace_count(t);
    trace_event view;
    int named = 0; /* the error of a failed step whose failure stands is copied */
    for (size_t i = 0; i < trace_count(t); i++) {
        const trace_event *te = trace_get(t, i, &view);
        const bm_event *e = &te->ev;
        if (e->type == BM_EV_COMMAND || e->type == BM_EV_COMPENSATION) out->steps++;
        add_worker(out, event_worker(e));
        int outcome = trace_event_outcome(e);
        if (te->late || te->answers_compensation) continue;
        if (outcome == BM_OUTCOME_TIMEOUT) out->timed_out = 1;
        if (outcome == BM_OUTCOME_FAILURE || outcome == BM_OUTCOME_TIMEOUT) {
            out->errors++;
            /* the step's outcome, as trace_get_status judges it: a failure a
             * retry turned into a success names no error */
            if (!named && trace_failure_stands(t, i)) {
                named = 1;
                copy_cut(out->error_type, e->error_type[0]                ? e->error_type
                                          : outcome == BM_OUTCOME_TIMEOUT ? "timeout"
                                                                          : "");
                copy_cut(out->error, e->error_message);
                out->error_event = i;
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

unsigned trace_index_plan(trace_index_mark *m, const trace_summary *s, size_t *workers_from)
{
    unsigned w = 0;
    int failed = trace_index_is_failed(s);
    int64_t score_ms = s->start_us / 1000;
    uint64_t wh = workers_hash(s, s->n_workers);
    int moved = !m->indexed || m->score_lo != (uint32_t)score_ms;
    *workers_from = 0;
    if (moved) w |= TRACE_INDEX_W_SET | (m->indexed ? TRACE_INDEX_W_MOVED : 0);
    if (failed && (moved || !m->failed)) w |= TRACE_INDEX_W_FAILED;
    if (s->n_workers && (moved || m->n_workers != s->n_workers || m->workers_hash != wh)) {
        w |= TRACE_INDEX_W_WORKERS;
        /* the names added before still first, in order: only the new ones */
        if (!moved && m->n_workers < s->n_workers &&
            workers_hash(s, m->n_workers) == m->workers_hash)
            *workers_from = m->n_workers;
    }
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

int trace_index_matches_trace(const trace *t, const trace_summary *s, const trace_filter *f)
{
    if (!f->worker || !*f->worker || s->n_workers < TRACE_INDEX_WORKERS_MAX ||
        listed(s->workers, s->n_workers, f->worker))
        return trace_index_matches(s, f);
    trace_event view;
    for (size_t i = 0; i < trace_count(t); i++) {
        const char *w = event_worker(&trace_get(t, i, &view)->ev);
        if (w && !strcmp(w, f->worker)) {
            trace_filter any_worker = *f;
            any_worker.worker = NULL;
            return trace_index_matches(s, &any_worker);
        }
    }
    return 0;
}
