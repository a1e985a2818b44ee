/*
 * deadletters.c - `busmon deadletters`: the entries busmon-agent could not
 * use, as it copied them to the dead-letter stream (proto/README.md §6):
 * newest first, with the reason, where each came from, the agent's detail
 * and the original fields; `busmon deadletters replay` puts chosen copies
 * back on their stream (or another) once what refused them is fixed (a new
 * agent that knows the type, a producer mended, a poison entry's crash
 * found), and deletes each copy put back.
 *
 * Reads and writes only Redis. Not here: deciding what is dead-lettered
 * (the agent's inputs) or reading the entries again (the agent does, as any
 * new entry: one refused again is dead-lettered again).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/options.h"
#include "proto/event.h"

#define SHOW_DEFAULT  20
#define SCAN_MAX      100000 /* entries looked at by one command at most */
#define PAGE          500    /* entries per XRANGE / XREVRANGE */
#define PREVIEW_BYTES 72     /* of a field's value, in the text view */
#define FIELDS_SHOWN  8      /* of a copy, in the text view */
#define IDS_MAX       1000   /* --id list */
#define FIELDS_MAX    200    /* of one copy read back (the agent writes at most 64 + 6) */

typedef struct {
    int json, all, dry_run, replay;
    long count; /* -1: the default (SHOW_DEFAULT, or every selected one for replay) */
    const char *stream, *reason, *ids, *to;
    char stream_own[320]; /* the group's stream, when not given */
} dl_args;

void bm_cli_deadletters_help(FILE *f)
{
    fprintf(f,
            "usage: busmon deadletters [--json] [--count N] [--reason R] [--stream KEY]\n"
            "       busmon deadletters replay (--id ID[,ID...] | --reason R | --all)\n"
            "                                 [--count N] [--to STREAM] [--dry-run] [--json]\n"
            "\n"
            "The entries busmon-agent could not use (an undecodable entry, a missing\n"
            "key, a poison entry delivered too often...), newest first: when, the reason,\n"
            "the stream and id it came from, the group that refused it, the agent's\n"
            "detail and its fields.\n"
            "\n"
            "replay puts copies back, oldest first, as new entries of the stream each came\n"
            "from (or --to STREAM: a copy read from an agent's hand-off stream goes back\n"
            "there, to that agent), and deletes each copy it put back. The agent reads\n"
            "them as any new entry: one refused again is dead-lettered again. Not put\n"
            "back, and said: a copy the agent cut (a value over 64 KiB, over 64 fields),\n"
            "a copy with no field (an entry too big to read), a pub/sub message.\n"
            "\n"
            "options:\n"
            "  --json              print JSON: {\"stream\", \"length\", \"reasons\" (of those\n"
            "                      shown: counts), \"entries\": [{\"dl_id\",\n"
            "                      \"ts\", \"ts_unix\", \"reason\", \"stream\", \"id\", \"group\", "
            "\"error\", \"cut\",\n"
            "                      \"fields\": [{\"name\", \"bytes\", \"text\" | \"base64\"}]}]};\n"
            "                      replay: {\"replayed\": [...], \"skipped\": [...], \"dry_run\"}\n"
            "  --count N           entries to show (default %d); replay: at most N\n"
            "                      (default: every one chosen)\n"
            "  --reason R          only this reason (not_json, unknown_type, poison, ...)\n"
            "  --id ID[,ID...]     replay: these copies (ids of the dead-letter stream,\n"
            "                      as listed), at most %d\n"
            "  --all               replay: every copy (with --reason: every one of it)\n"
            "  --to STREAM         replay: onto STREAM instead of each one's own stream\n"
            "  --dry-run           replay: say what would be put back, change nothing\n"
            "  --stream KEY        the dead-letter stream (default busmon:deadletter;\n"
            "                      outputs.deadletter)\n"
            "  --redis URL         Redis to read (default: $BUSMON_REDIS_URL, else "
            "redis://127.0.0.1:6379)\n"
            "  --group G           the agent's consumer group, whose keys are read\n"
            "                      (default $BUSMON_GROUP; see busmon --help)\n"
            "  -h, --help          this help\n"
            "\n"
            "At most %d entries are looked at by one command.\n"
            "exit codes: 0 ok (also when there is none), 1 replay: no copy matched, or\n"
            "an --id named none, 2 usage, 3 Redis unreachable or a write refused\n",
            SHOW_DEFAULT, IDS_MAX, SCAN_MAX);
}

/* ---- one copy ----------------------------------------------------------------- */

/* A dead-letter entry as read: pointers into the reply (borrowed). */
typedef struct {
    const redisReply *id; /* its id on the dead-letter stream */
    const redisReply *reason, *stream, *src_id, *error, *cut;
    const redisReply *group; /* the consumer group that refused it (absent: an older agent) */
    size_t n_fields;
    const redisReply *name[FIELDS_MAX], *value[FIELDS_MAX]; /* the f.<field> pairs */
} dl_copy;

static int is(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STRING && strlen(s) == (size_t)r->len &&
           !memcmp(r->str, s, (size_t)r->len);
}

static const char *str(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? r->str : "";
}

/* An element of an XRANGE reply as a copy. @return 0, or -1 (not an entry). */
static int copy_read(const redisReply *e, dl_copy *d)
{
    memset(d, 0, sizeof *d);
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    d->id = e->element[0];
    const redisReply *kv = e->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const redisReply *k = kv->element[i], *v = kv->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (is(k, "reason"))
            d->reason = v;
        else if (is(k, "stream"))
            d->stream = v;
        else if (is(k, "id"))
            d->src_id = v;
        else if (is(k, "error"))
            d->error = v;
        else if (is(k, "cut"))
            d->cut = v;
        else if (is(k, "group"))
            d->group = v;
        else if (k->len > 2 && !memcmp(k->str, "f.", 2) && d->n_fields < FIELDS_MAX) {
            d->name[d->n_fields] = k;
            d->value[d->n_fields++] = v;
        }
    }
    return 0;
}

/* The agent writes a pub/sub message's copy with id "pubsub" and its channel as stream. */
static int from_pubsub(const dl_copy *d)
{
    return is(d->src_id, "pubsub");
}

/* Why this copy cannot be put back as it was, or NULL when it can. */
static const char *not_replayable(const dl_copy *d)
{
    if (from_pubsub(d)) return "a pub/sub message, not a stream entry";
    if (d->cut) return "the copy is not the whole entry (cut)";
    if (!d->n_fields) return "the copy holds no field (the entry was too big to read)";
    return NULL;
}

/* "1796530130884-0" as the time of its milliseconds, else "-". */
static void id_time(const redisReply *id, char *buf, size_t n, long long *ms_out)
{
    char *end;
    errno = 0;
    long long ms = strtoll(id->str, &end, 10);
    if (errno || end == id->str || *end != '-' || ms < 0) {
        snprintf(buf, n, "-");
        *ms_out = -1;
        return;
    }
    bm_cli_time(ms * 1000, buf, n);
    *ms_out = ms;
}

/* ---- printing ------------------------------------------------------------------- */

/* A value as a JSON string (new reference), or NULL when it is not UTF-8. */
static json_t *as_text(const redisReply *v)
{
    return json_stringn(v->str, (size_t)v->len);
}

/* A value's start for a terminal: text when it is UTF-8 without NUL, else hex. */
static void preview(const redisReply *v, char *buf, size_t n)
{
    size_t len = (size_t)v->len;
    json_t *t = memchr(v->str, '\0', len) ? NULL : as_text(v);
    if (t) {
        json_decref(t);
        char cut[PREVIEW_BYTES + 1], safe[PREVIEW_BYTES * 4 + 1];
        size_t keep = bm_text_cut(v->str, len, PREVIEW_BYTES);
        memcpy(cut, v->str, keep);
        cut[keep] = '\0';
        bm_text_for_terminal(safe, sizeof safe, cut);
        snprintf(buf, n, "%s%s", safe, keep < len ? " ..." : "");
        return;
    }
    size_t k = (size_t)snprintf(buf, n, "binary:");
    for (size_t i = 0; i < len && i < 16 && k + 4 < n; i++)
        k += (size_t)snprintf(buf + k, n - k, " %02x", (unsigned char)v->str[i]);
    if (len > 16 && k + 5 < n) snprintf(buf + k, n - k, " ...");
}

static void print_copy(const dl_copy *d)
{
    bm_cli_safe sb = {.next = 0}; /* every text here came from an entry */
    char when[40];
    long long ms;
    id_time(d->id, when, sizeof when, &ms);
    printf("%s  %s  %-14s from %s %s", d->id->str, when, bm_cli_safe_text(&sb, str(d->reason)),
           bm_cli_safe_text(&sb, str(d->stream)), bm_cli_safe_text(&sb, str(d->src_id)));
    if (d->group) printf(" in group %s", bm_cli_safe_text(&sb, str(d->group)));
    printf("\n");
    if (d->error && d->error->len) printf("    error: %s\n", bm_cli_safe_text(&sb, d->error->str));
    if (d->cut) printf("    cut: %s\n", bm_cli_safe_text(&sb, d->cut->str));
    for (size_t i = 0; i < d->n_fields && i < FIELDS_SHOWN; i++) {
        char pv[PREVIEW_BYTES * 4 + 16];
        preview(d->value[i], pv, sizeof pv);
        printf("    %s (%lld bytes): %s\n", bm_cli_safe_text(&sb, d->name[i]->str + 2),
               (long long)d->value[i]->len, pv);
    }
    if (d->n_fields > FIELDS_SHOWN)
        printf("    ... %zu more fields (--json shows them all)\n", d->n_fields - FIELDS_SHOWN);
    if (!d->n_fields) printf("    (no field copied)\n");
}

/* RFC 4648 base64 of n bytes (new JSON string). */
static json_t *base64(const unsigned char *s, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t k = 0; k < n; k += 3) {
        unsigned long v = (unsigned long)s[k] << 16 |
                          (k + 1 < n ? (unsigned long)s[k + 1] << 8 : 0) |
                          (k + 2 < n ? s[k + 2] : 0);
        out[w++] = b64[v >> 18 & 63];
        out[w++] = b64[v >> 12 & 63];
        out[w++] = k + 1 < n ? b64[v >> 6 & 63] : '=';
        out[w++] = k + 2 < n ? b64[v & 63] : '=';
    }
    json_t *j = json_stringn(out, w);
    free(out);
    return j;
}

/* A JSON string of s (a stream's name, given or from a copy): "(not UTF-8)"
 * when it is not, as jstr says (json_pack with a NULL "o" fails: the whole
 * output, or a copy put back, would be missing). */
static json_t *jtext(const char *s)
{
    json_t *t = json_string(s);
    return t ? t : json_string("(not UTF-8)");
}

/* A JSON string of r, or null when absent. */
static json_t *jstr(const redisReply *r)
{
    json_t *t = r ? as_text(r) : NULL;
    return t ? t : r ? json_string("(not UTF-8)") : json_null();
}

static json_t *copy_json(const dl_copy *d)
{
    char when[40];
    long long ms;
    id_time(d->id, when, sizeof when, &ms);
    json_t *fields = json_array();
    for (size_t i = 0; i < d->n_fields; i++) {
        const redisReply *v = d->value[i];
        json_t *t = as_text(v);
        json_t *name = json_stringn(d->name[i]->str + 2, (size_t)d->name[i]->len - 2);
        json_array_append_new(
            fields, json_pack("{s:o, s:I, s:o}", "name", name ? name : json_string("(not UTF-8)"),
                              "bytes", (json_int_t)v->len, t ? "text" : "base64",
                              t ? t : base64((const unsigned char *)v->str, (size_t)v->len)));
        /* json_pack with a NULL "o" fails: a name is replaced above, a base64 fails
         * only out of memory (the field is then missing) */
    }
    json_t *j = json_object();
    json_object_set_new(j, "dl_id", json_string(d->id->str));
    json_object_set_new(j, "ts", ms >= 0 ? json_string(when) : json_null());
    json_object_set_new(j, "ts_unix", ms >= 0 ? json_real((double)ms / 1000.0) : json_null());
    json_object_set_new(j, "reason", jstr(d->reason));
    json_object_set_new(j, "stream", jstr(d->stream));
    json_object_set_new(j, "id", jstr(d->src_id));
    json_object_set_new(j, "group", jstr(d->group));
    json_object_set_new(j, "error", jstr(d->error));
    json_object_set_new(j, "cut", jstr(d->cut));
    json_object_set_new(j, "fields", fields);
    return j;
}

/* Print j (taken) as indented JSON. */
static int print_json(json_t *j)
{
    char *s =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (!s) {
        fprintf(stderr, "busmon deadletters: out of memory\n");
        return BM_EXIT_OUTPUT;
    }
    printf("%s\n", s);
    free(s);
    return BM_EXIT_OK;
}

/* ---- reading ------------------------------------------------------------------ */

/* One page of the stream: XREVRANGE from `at` down (newest first), or XRANGE
 * from `at` up. @return the reply, or NULL with the reason said. */
static redisReply *page(redisContext *c, const char *stream, const char *at, int newest_first)
{
    redisReply *r = newest_first ? redisCommand(c, "XREVRANGE %s %s - COUNT %d", stream, at, PAGE)
                                 : redisCommand(c, "XRANGE %s %s + COUNT %d", stream, at, PAGE);
    if (!r || r->type == REDIS_REPLY_ERROR || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "busmon deadletters: cannot read %s: %s\n", stream,
                r ? (r->type == REDIS_REPLY_ERROR ? r->str : "not a stream") : c->errstr);
        if (r) freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* The id next to `id` going one way: "5-3" -> "5-4" (up) or "5-2" (down;
 * "5-0" -> "4-18446744073709551615"). @return 0, or -1 at the end of ids. */
static int id_step(const char *id, char *buf, size_t n, int up)
{
    unsigned long long ms, seq;
    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2) return -1;
    if (up) {
        if (seq == UINT64_MAX) {
            if (ms == UINT64_MAX) return -1;
            ms++, seq = 0;
        } else {
            seq++;
        }
    } else if (seq == 0) {
        if (ms == 0) return -1;
        ms--, seq = UINT64_MAX;
    } else {
        seq--;
    }
    snprintf(buf, n, "%llu-%llu", ms, seq);
    return 0;
}

/* Does d pass the --reason filter? */
static int chosen(const dl_args *s, const dl_copy *d)
{
    return !s->reason || is(d->reason, s->reason);
}

typedef struct {
    const char *reason;
    json_int_t n;
} reason_count;

/* Most first, then by name. */
static int reason_cmp(const void *x, const void *y)
{
    const reason_count *a = x, *b = y;
    if (a->n != b->n) return a->n > b->n ? -1 : 1;
    return strcmp(a->reason, b->reason);
}

/* " not_json 3, unknown_type 2" (most first) and a newline. */
static void print_reasons(json_t *reasons)
{
    size_t n = json_object_size(reasons), k = 0;
    reason_count *rc = calloc(n ? n : 1, sizeof *rc);
    const char *key;
    json_t *v;
    json_object_foreach(reasons, key, v)
    {
        if (rc) rc[k++] = (reason_count){key, json_integer_value(v)};
    }
    if (rc) qsort(rc, k, sizeof *rc, reason_cmp);
    bm_cli_safe sb = {.next = 0};
    for (size_t i = 0; i < k; i++)
        printf("%s %s %lld", i ? "," : "", bm_cli_safe_text(&sb, rc[i].reason), (long long)rc[i].n);
    printf("\n");
    free(rc);
}

static int list(redisContext *c, const dl_args *s)
{
    long want = s->count < 0 ? SHOW_DEFAULT : s->count;
    redisReply *len = redisCommand(c, "XLEN %s", s->stream);
    if (!len || len->type != REDIS_REPLY_INTEGER) {
        fprintf(stderr, "busmon deadletters: cannot read %s: %s\n", s->stream,
                len && len->type == REDIS_REPLY_ERROR ? len->str
                : len                                 ? "not a stream"
                                                      : c->errstr);
        if (len) freeReplyObject(len);
        return BM_EXIT_REDIS;
    }
    long long length = len->integer;
    freeReplyObject(len);
    json_t *entries = json_array(), *reasons = json_object(); /* of those shown: counts */
    long shown = 0, scanned = 0;
    char at[64] = "+";
    int rc = BM_EXIT_OK, more = 1;
    if (!s->json) {
        printf("dead letters in %s: %lld entr%s", s->stream, length, length == 1 ? "y" : "ies");
        if (s->reason) printf(", showing reason %s", s->reason);
        printf(" (newest first)\n\n");
    }
    while (more && shown < want && scanned < SCAN_MAX) {
        redisReply *r = page(c, s->stream, at, 1);
        if (!r) {
            rc = BM_EXIT_REDIS;
            break;
        }
        more = r->elements == PAGE;
        for (size_t i = 0; i < r->elements && shown < want && scanned < SCAN_MAX; i++) {
            dl_copy d;
            scanned++;
            if (copy_read(r->element[i], &d) || !chosen(s, &d)) continue;
            shown++;
            json_t *why = jstr(d.reason);
            const char *key = json_is_string(why) ? json_string_value(why) : "-";
            json_object_set_new(
                reasons, key, json_integer(json_integer_value(json_object_get(reasons, key)) + 1));
            json_decref(why);
            if (s->json)
                json_array_append_new(entries, copy_json(&d));
            else
                print_copy(&d);
        }
        if (r->elements && id_step(r->element[r->elements - 1]->element[0]->str, at, sizeof at, 0))
            more = 0;
        freeReplyObject(r);
    }
    if (s->json) {
        if (rc != BM_EXIT_OK) {
            json_decref(entries);
            json_decref(reasons);
            return rc;
        }
        return print_json(json_pack("{s:o, s:I, s:o, s:o}", "stream", jtext(s->stream), "length",
                                    (json_int_t)length, "reasons", reasons, "entries", entries));
    }
    json_decref(entries);
    if (rc == BM_EXIT_OK && shown) { /* at a glance: what the shown ones were refused for */
        printf("\n%ld shown:", shown);
        print_reasons(reasons);
    }
    json_decref(reasons);
    if (rc != BM_EXIT_OK) return rc;
    if (!shown)
        printf("(none)\n");
    else if (scanned >= SCAN_MAX && shown < want)
        printf("(looked at the newest %d entries only)\n", SCAN_MAX);
    return BM_EXIT_OK;
}

/* ---- replay ------------------------------------------------------------------- */

typedef struct {
    long replayed, skipped, matched, missing; /* missing: --id naming no copy */
    json_t *done, *left;                      /* --json */
} replay_tally;

/* Put d back (or say why not). @return BM_EXIT_OK, or BM_EXIT_REDIS (said). */
static int replay_one(redisContext *c, const dl_args *s, const dl_copy *d, replay_tally *t)
{
    bm_cli_safe sb = {.next = 0};
    t->matched++;
    const char *why = not_replayable(d);
    if (!why && !s->to && !str(d->stream)[0])
        why = "the copy names no stream it came from (--to STREAM puts it on one)";
    if (why) {
        t->skipped++;
        if (s->json)
            json_array_append_new(t->left, json_pack("{s:s, s:o, s:s}", "dl_id", d->id->str,
                                                     "reason", jstr(d->reason), "why", why));
        else
            printf("skipped  %s (%s): %s\n", d->id->str, bm_cli_safe_text(&sb, str(d->reason)),
                   why);
        return BM_EXIT_OK;
    }
    const char *to = s->to ? s->to : str(d->stream);
    char new_id[64] = "-";
    if (!s->dry_run) {
        const char *argv[3 + 2 * FIELDS_MAX];
        size_t argl[3 + 2 * FIELDS_MAX];
        argv[0] = "XADD", argl[0] = 4;
        argv[1] = to, argl[1] = strlen(to);
        argv[2] = "*", argl[2] = 1;
        for (size_t i = 0; i < d->n_fields; i++) {
            argv[3 + 2 * i] = d->name[i]->str + 2, argl[3 + 2 * i] = (size_t)d->name[i]->len - 2;
            argv[4 + 2 * i] = d->value[i]->str, argl[4 + 2 * i] = (size_t)d->value[i]->len;
        }
        redisReply *r = redisCommandArgv(c, (int)(3 + 2 * d->n_fields), argv, argl);
        if (!r || r->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "busmon deadletters: cannot add %s's copy to %s: %s\n", d->id->str,
                    bm_cli_safe_text(&sb, to),
                    r && r->type == REDIS_REPLY_ERROR ? r->str
                    : r                               ? "unexpected reply"
                                                      : c->errstr);
            if (r) freeReplyObject(r);
            return BM_EXIT_REDIS;
        }
        snprintf(new_id, sizeof new_id, "%s", r->str);
        freeReplyObject(r);
        r = redisCommand(c, "XDEL %s %s", s->stream, d->id->str);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr,
                    "busmon deadletters: %s was put back on %s as %s, but its copy could not "
                    "be deleted (%s): it is still listed\n",
                    d->id->str, bm_cli_safe_text(&sb, to), new_id,
                    r && r->type == REDIS_REPLY_ERROR ? r->str
                    : r                               ? "unexpected reply"
                                                      : c->errstr);
            if (r) freeReplyObject(r);
            return BM_EXIT_REDIS;
        }
        freeReplyObject(r);
    }
    t->replayed++;
    if (s->json)
        json_array_append_new(t->done, json_pack("{s:s, s:o, s:o, s:s*}", "dl_id", d->id->str,
                                                 "reason", jstr(d->reason), "to", jtext(to),
                                                 "new_id", s->dry_run ? NULL : new_id));
    else
        printf("%s %s (%s) to %s%s%s\n", s->dry_run ? "would put back" : "put back", d->id->str,
               bm_cli_safe_text(&sb, str(d->reason)), bm_cli_safe_text(&sb, to),
               s->dry_run ? "" : " as ", s->dry_run ? "" : new_id);
    return BM_EXIT_OK;
}

/* The copies named by --id, in the order given. */
static int replay_ids(redisContext *c, const dl_args *s, replay_tally *t, long limit)
{
    char *ids = strdup(s->ids), *save = NULL;
    if (!ids) return BM_EXIT_OUTPUT;
    int rc = BM_EXIT_OK;
    for (char *id = strtok_r(ids, ",", &save); id && rc == BM_EXIT_OK && t->matched < limit;
         id = strtok_r(NULL, ",", &save)) {
        redisReply *r = redisCommand(c, "XRANGE %s %s %s", s->stream, id, id);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "busmon deadletters: cannot read %s of %s: %s\n", id, s->stream,
                    r && r->type == REDIS_REPLY_ERROR ? r->str
                    : r                               ? "not a stream"
                                                      : c->errstr);
            if (r) freeReplyObject(r);
            rc = BM_EXIT_REDIS;
            break;
        }
        dl_copy d;
        if (r->elements == 1 && !copy_read(r->element[0], &d) && chosen(s, &d))
            rc = replay_one(c, s, &d, t);
        else {
            t->missing++;
            fprintf(stderr, "busmon deadletters: no copy %s%s%s in %s\n", id,
                    s->reason ? " of reason " : "", s->reason ? s->reason : "", s->stream);
        }
        freeReplyObject(r);
    }
    free(ids);
    return rc;
}

/* Every copy (of --reason), oldest first. */
static int replay_scan(redisContext *c, const dl_args *s, replay_tally *t, long limit)
{
    char at[64] = "-";
    long scanned = 0;
    int rc = BM_EXIT_OK, more = 1;
    while (more && rc == BM_EXIT_OK && t->matched < limit && scanned < SCAN_MAX) {
        redisReply *r = page(c, s->stream, at, 0);
        if (!r) return BM_EXIT_REDIS;
        more = r->elements == PAGE;
        for (size_t i = 0;
             i < r->elements && rc == BM_EXIT_OK && t->matched < limit && scanned < SCAN_MAX; i++) {
            dl_copy d;
            scanned++;
            if (!copy_read(r->element[i], &d) && chosen(s, &d)) rc = replay_one(c, s, &d, t);
        }
        if (r->elements && id_step(r->element[r->elements - 1]->element[0]->str, at, sizeof at, 1))
            more = 0;
        freeReplyObject(r);
    }
    return rc;
}

static int replay(redisContext *c, const dl_args *s)
{
    long limit = s->count < 0 ? SCAN_MAX : s->count;
    replay_tally t = {.done = json_array(), .left = json_array()};
    int rc = s->ids ? replay_ids(c, s, &t, limit) : replay_scan(c, s, &t, limit);
    if (s->json) {
        json_t *j = json_pack("{s:o, s:o, s:b}", "replayed", t.done, "skipped", t.left, "dry_run",
                              s->dry_run);
        int prc = print_json(j);
        if (prc != BM_EXIT_OK) return prc;
    } else {
        json_decref(t.done);
        json_decref(t.left);
        printf("%s%ld %s, %ld skipped\n", t.matched ? "\n" : "", t.replayed,
               s->dry_run ? "would be put back" : "put back", t.skipped);
    }
    if (rc != BM_EXIT_OK) return rc;
    return t.matched && !t.missing ? BM_EXIT_OK : BM_EXIT_NOT_FOUND;
}

/* ---- the command -------------------------------------------------------------- */

/* Whether id[0, len) is a stream entry id Redis takes: MS or MS-SEQ, each a
 * whole number below 2^64. */
static int stream_id_ok(const char *id, size_t len)
{
    char buf[48];
    if (len >= sizeof buf) return 0;
    memcpy(buf, id, len);
    buf[len] = '\0';
    char *p = buf;
    for (int part = 0; part < 2; part++) {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char)*p)) return 0;
        (void)strtoull(p, &end, 10);
        if (errno) return 0;
        if (!*end) return 1;
        if (*end != '-' || part) return 0;
        p = end + 1;
    }
    return 0;
}

static int parse_args(const bm_cli_command *self, bm_cli_opts *o, int argc, char **argv, dl_args *s)
{
    const char *count = NULL;
    const bm_cli_optdef options[] = {
        {"json", 0, &s->json, NULL, 0},
        {"count", 0, NULL, &count, 1},
        {"reason", 0, NULL, &s->reason, 1},
        {"id", 0, NULL, &s->ids, 1},
        {"all", 0, &s->all, NULL, 0},
        {"to", 0, NULL, &s->to, 1},
        {"dry-run", 0, &s->dry_run, NULL, 0},
        {"stream", 0, NULL, &s->stream, 1},
        {NULL, 0, NULL, NULL, 0},
    };
    /* the verb "replay" as the first operand (options may come before it) */
    char who[64];
    int at;
    snprintf(who, sizeof who, "busmon %s", self->name);
    int rc = bm_cli_parse_leading(who, self->help, options, o, argc, argv, &at);
    if (rc != BM_CLI_GO_ON) return rc;
    if (at < argc && !strcmp(argv[at], "replay")) {
        s->replay = 1;
        memmove(argv + at, argv + at + 1, (size_t)(argc - at) * sizeof *argv);
        argc--;
    }
    rc = bm_cli_parse(self, options, o, argc, argv, NULL);
    if (rc != BM_CLI_GO_ON) return rc;
    s->stream =
        bm_cli_key(o, s->stream, "outputs.deadletter", NULL, s->stream_own, sizeof s->stream_own);
    if (count) {
        char *end;
        errno = 0;
        long n = strtol(count, &end, 10);
        if (errno || end == count || *end || n < 0 || n > SCAN_MAX) {
            fprintf(stderr, "busmon deadletters: --count must be 0-%d, not '%s'\n", SCAN_MAX,
                    count);
            return BM_EXIT_USAGE;
        }
        s->count = n;
    }
    const char *only_replay = s->ids       ? "--id"
                              : s->all     ? "--all"
                              : s->to      ? "--to"
                              : s->dry_run ? "--dry-run"
                                           : NULL;
    if (!s->replay && only_replay) {
        fprintf(stderr,
                "busmon deadletters: %s is an option of replay (busmon deadletters "
                "replay %s ...)\n",
                only_replay, only_replay);
        return BM_EXIT_USAGE;
    }
    if (s->replay && !s->ids && !s->reason && !s->all) {
        fprintf(stderr, "busmon deadletters replay: which copies? --id ID, --reason R or --all "
                        "(see busmon deadletters --help)\n");
        return BM_EXIT_USAGE;
    }
    if (s->replay && s->ids && s->all) {
        fprintf(stderr, "busmon deadletters replay: --id and --all choose differently: one of "
                        "them\n");
        return BM_EXIT_USAGE;
    }
    if (s->ids) {
        size_t n = 1;
        for (const char *p = s->ids; *p; p++)
            n += *p == ',';
        if (n > IDS_MAX) {
            fprintf(stderr, "busmon deadletters replay: at most %d ids in --id, not %zu\n", IDS_MAX,
                    n);
            return BM_EXIT_USAGE;
        }
        /* every id checked before any is put back: a typo in the list said
         * as one, not as Redis' refusal after the copies before it were moved */
        for (const char *p = s->ids; *p;) {
            size_t len = strcspn(p, ",");
            if (len && !stream_id_ok(p, len)) {
                fprintf(stderr,
                        "busmon deadletters replay: --id '%.*s' is not a stream entry id (as "
                        "listed: 1796530130884-0)\n",
                        (int)len, p);
                return BM_EXIT_USAGE;
            }
            p += len + (p[len] == ',');
        }
    }
    if (s->to && !strcmp(s->to, s->stream)) {
        fprintf(stderr, "busmon deadletters replay: --to %s is the dead-letter stream itself\n",
                s->to);
        return BM_EXIT_USAGE;
    }
    return BM_CLI_GO_ON;
}

int bm_cli_deadletters(const bm_cli_command *self, const bm_cli_opts *opts, int argc, char **argv)
{
    bm_cli_opts o = *opts;
    dl_args s = {.count = -1, .stream = NULL};
    int rc = parse_args(self, &o, argc, argv, &s);
    if (rc != BM_CLI_GO_ON) return rc;
    redisContext *c = bm_cli_connect(&o, &rc);
    if (!c) return rc;
    rc = s.replay ? replay(c, &s) : list(c, &s);
    redisFree(c);
    return rc;
}
