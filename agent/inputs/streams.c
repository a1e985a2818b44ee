/*
 * streams.c - XREADGROUP batches, decode, apply, ack (streams.h has the
 * picture).
 */
#include "agent/inputs/streams.h"
#include "agent/inputs/streams_internal.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/acl.h"
#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/session.h"
#include "agent/core/writer.h"
#include "agent/state/persist.h"
#include "agent/state/state.h"

#define READS_IN_FLIGHT_MAX 2 /* one being applied, one being served */
#define STREAMS_MAX         64
#define RECHECK_S           5 /* a key of another type is looked at again this often */

const unsigned bm_batch_bounds[BM_BATCH_BUCKETS] = {1, 10, 100, 1000, 10000};

/* The argument of one stream's XGROUP CREATE reply. */
typedef struct {
    struct bm_stream_input *in;
    size_t idx;
} stream_arg;

struct bm_stream_input {
    bm_stream_input_opts o;
    struct bm_loop *loop;
    bm_session *session;
    bm_writer *writer;
    bm_state *state;
    bm_persist *persist;
    bm_decoder *dec;
    int reads_in_flight;    /* XREADGROUP sent, reply not yet in (at most 2) */
    int recovering;         /* reading our own pending entries (from id 0) first */
    int claimed;            /* the entry being processed was claimed (inputs/reclaim.c) */
    int script_off;         /* the recovery script was refused: plain XREADGROUP */
    char (*pel_cursor)[64]; /* per stream: last pending id seen while recovering */
    int stopped;
    /* reused per batch: the field/value pointers of one entry */
    const char **fv_ptr;
    size_t *fv_len;
    size_t fv_cap;
    int64_t first_entry_us;
    size_t count; /* COUNT of the next read: grows to batch, shrinks under the byte budget */
    enum { SETUP_NONE, SETUP_GROUPS, SETUP_RESTORE, SETUP_READY } setup;
    size_t groups_out;  /* XGROUP CREATE replies due */
    int groups_lost;    /* ... one came back NULL (connection lost) */
    /*
     * One XREADGROUP reads every stream, so one key holding another type
     * (WRONGTYPE) would stop them all: such a stream is left out of the
     * reads (wrong_type) until an XGROUP CREATE on it, sent every
     * RECHECK_S, is accepted again. A probe asks every stream (after a read
     * refused with WRONGTYPE) or only the ones left out (the recheck).
     */
    unsigned char *wrong_type;
    stream_arg *sarg;
    size_t probes_out; /* probe replies due (reads wait for them) */
    enum { PROBE_GROUP_MISSING, PROBE_REFUSED, PROBE_RECHECK } probe; /* the one under way */
    int probe_found;   /* ... found a key of another type */
    int probe_failed;  /* ... a group could not be made (OOM, NOPERM...) */
    int starting_over; /* the session resets after its backoff: no reads until then */
    struct event *recheck;
    struct event *linger; /* the next read after a short one (o.linger_ms) */
    bm_stream_input_stats stats;
};

static void issue_read(bm_stream_input *in);

/* The session starts over after its backoff; until then nothing is read (a
 * writer drained or a persist resume would read again at once, the same
 * refusal in a loop). */
static void start_over(bm_stream_input *in)
{
    in->starting_over = 1;
    bm_session_fail(in->session);
}

static void count_batch(bm_stream_input_stats *st, size_t n)
{
    for (int i = 0; i < BM_BATCH_BUCKETS; i++)
        if (n <= bm_batch_bounds[i]) st->batch_le[i]++;
    st->batches++;
    st->batch_entries += n;
}

static int64_t entry_id_us(const char *id)
{
    int64_t ms = 0;
    for (; *id >= '0' && *id <= '9'; id++)
        ms = ms * 10 + (*id - '0');
    return ms * 1000;
}

/* ---- one entry ----------------------------------------------------------- */

/* The entry's n fields and values into fv_ptr/fv_len, fields first, then
 * values: [f0..fn-1, v0..vn-1]. @return 0, or -1 (out of memory). */
static int spread_fields(bm_stream_input *in, const redisReply *fv, size_t n)
{
    if (2 * n > in->fv_cap) {
        size_t cap = in->fv_cap ? in->fv_cap : 64;
        while (cap < 2 * n)
            cap *= 2;
        const char **p = realloc(in->fv_ptr, cap * sizeof *p);
        if (p) in->fv_ptr = p;
        size_t *l = realloc(in->fv_len, cap * sizeof *l);
        if (l) in->fv_len = l;
        if (!p || !l) return -1;
        in->fv_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *f = fv->element[2 * i], *v = fv->element[2 * i + 1];
        in->fv_ptr[i] = f->type == REDIS_REPLY_STRING ? f->str : "";
        in->fv_len[i] = f->type == REDIS_REPLY_STRING ? (size_t)f->len : 0;
        in->fv_ptr[n + i] = v->type == REDIS_REPLY_STRING ? v->str : "";
        in->fv_len[n + i] = v->type == REDIS_REPLY_STRING ? (size_t)v->len : 0;
    }
    return 0;
}

/* Whether text[0..len) is a stream entry id ("<ms>-<seq>"). */
static int is_entry_id(const char *text, size_t len)
{
    size_t i = 0, ms = 0, seq = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++)
        ms++;
    if (i == len || text[i++] != '-') return 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++)
        seq++;
    return i == len && ms && seq && len < 48;
}

/* A hand-off entry of our own stream starts with BM_HANDOFF_ID_FIELD, the id
 * of the entry it carries: taken out of the n fields in fv_ptr/fv_len.
 * @return that id (in the reply), or NULL when the entry has none (written
 * by hand, or by an older agent). */
static const char *handoff_entry_id(bm_stream_input *in, size_t *n)
{
    const size_t k = strlen(BM_HANDOFF_ID_FIELD), m = *n;
    if (m < 2 || in->fv_len[0] != k || memcmp(in->fv_ptr[0], BM_HANDOFF_ID_FIELD, k) ||
        !is_entry_id(in->fv_ptr[m], in->fv_len[m]))
        return NULL;
    const char *id = in->fv_ptr[m];
    /* [f0 f1..fm-1 v0 v1..vm-1] -> [f1..fm-1 v1..vm-1] */
    memmove(in->fv_ptr, in->fv_ptr + 1, (m - 1) * sizeof *in->fv_ptr);
    memmove(in->fv_ptr + m - 1, in->fv_ptr + m + 1, (m - 1) * sizeof *in->fv_ptr);
    memmove(in->fv_len, in->fv_len + 1, (m - 1) * sizeof *in->fv_len);
    memmove(in->fv_len + m - 1, in->fv_len + m + 1, (m - 1) * sizeof *in->fv_len);
    *n = m - 1;
    return id;
}

/* Queue the ack of the entry being processed: ours, or claimed (persist.h). */
static int ack_entry(bm_stream_input *in, size_t sidx, const redisReply *id)
{
    return in->claimed ? bm_persist_ack_claimed(in->persist, sidx, id->str, (size_t)id->len)
                       : bm_persist_ack(in->persist, sidx, id->str, (size_t)id->len);
}

/* The same for an entry whose effects are not in our memory (covered, handed
 * on, poison): another agent's claim of it counts nothing twice (away.c). */
static int ack_unapplied(bm_stream_input *in, size_t sidx, const redisReply *id)
{
    return bm_persist_ack_unapplied(in->persist, sidx, id->str, (size_t)id->len, in->claimed);
}

/* An entry the decoder refused (status st): counted, copied with the reason, acked. */
static void deadletter_undecodable(bm_stream_input *in, size_t sidx, const redisReply *id,
                                   bm_decode_status st, size_t n)
{
    in->stats.decode_errors[st]++;
    char detail[200];
    snprintf(detail, sizeof detail, "%s", bm_decoder_detail(in->dec, st));
    if (st == BM_DECODE_OVERSIZED) {
        size_t size = 0;
        for (size_t i = 0; i < 2 * n; i++)
            size += in->fv_len[i];
        snprintf(detail, sizeof detail,
                 "the entry is %zu bytes, more than streams.max_entry_bytes (%zu)", size,
                 in->o.max_entry_bytes);
    }
    bm_persist_deadletter(in->persist, in->o.streams[sidx], id->str, bm_decode_status_name(st),
                          detail, n, in->fv_ptr, in->fv_len, in->fv_ptr + n, in->fv_len + n);
    ack_entry(in, sidx, id);
}

/* An entry above max_entry_bytes that Redis measured (its size in place of its fields). */
static void deadletter_unread(bm_stream_input *in, size_t sidx, const redisReply *id,
                              long long size)
{
    in->stats.decode_errors[BM_DECODE_OVERSIZED]++;
    char detail[200];
    snprintf(detail, sizeof detail,
             "the entry is %lld bytes, more than streams.max_entry_bytes (%zu); measured in "
             "Redis, not read",
             size, in->o.max_entry_bytes);
    bm_persist_deadletter(in->persist, in->o.streams[sidx], id->str,
                          bm_decode_status_name(BM_DECODE_OVERSIZED), detail, 0, NULL, NULL, NULL,
                          NULL);
    ack_entry(in, sidx, id);
}

/* A pending entry (ours, read again after each of our resets or restarts,
 * or claimed from last_consumer) that keeps coming back is poison: copied
 * (its n fields in fv_ptr), not applied. */
static void deadletter_poison(bm_stream_input *in, size_t sidx, const redisReply *id,
                              long long deliveries, size_t n, const char *last_consumer)
{
    char detail[400];
    snprintf(detail, sizeof detail,
             "delivered %lld times, more than reclaim.max_deliveries (%zu); last consumer %s",
             deliveries, in->o.max_deliveries, last_consumer);
    bm_persist_deadletter(in->persist, in->o.streams[sidx], id->str, "poison", detail, n,
                          in->fv_ptr, in->fv_len, in->fv_ptr + n, in->fv_len + n);
    ack_unapplied(in, sidx, id);
    in->stats.poison++;
    bm_warn("entry %s of %s dead-lettered as poison: %s", id->str, in->o.streams[sidx], detail);
}

/*
 * An entry is [id, fields] — or, from the recovery script or a reclaim,
 * [id, size] when it is above max_entry_bytes (measured in Redis, not
 * loaded), and [id, fields, deliveries] when the recovery script read it.
 * @return 0, or -1 when it could not be applied for lack of memory (the rest
 * of the batch must wait: it is read again).
 */
static int process(bm_stream_input *in, size_t sidx, const redisReply *entry, int64_t now_us,
                   bm_entry_from from);

int bm_stream_input_process(bm_stream_input *in, size_t sidx, const redisReply *entry,
                            int64_t now_us, bm_entry_from from)
{
    in->claimed = from == BM_ENTRY_CLAIMED;
    int rc = process(in, sidx, entry, now_us, from);
    in->claimed = 0;
    return rc;
}

int bm_stream_input_poison(bm_stream_input *in, size_t sidx, const redisReply *entry,
                           long long deliveries, const char *last_consumer)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    const redisReply *fv = entry->element[1];
    size_t n = fv->type == REDIS_REPLY_ARRAY ? fv->elements / 2 : 0;
    if (spread_fields(in, fv, n)) {
        in->stats.decode_errors[BM_DECODE_NOMEM]++;
        return -1;
    }
    in->claimed = 1;
    deadletter_poison(in, sidx, entry->element[0], deliveries, n, last_consumer);
    in->claimed = 0;
    return 0;
}

static int process(bm_stream_input *in, size_t sidx, const redisReply *entry, int64_t now_us,
                   bm_entry_from from)
{
    int redelivered = from != BM_ENTRY_NEW;
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || entry->elements > 3 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return 0; /* not an entry: nothing to ack either */
    const redisReply *id = entry->element[0];
    const redisReply *fv = entry->element[1];
    long long deliveries = entry->elements == 3 && entry->element[2]->type == REDIS_REPLY_INTEGER
                               ? entry->element[2]->integer
                               : 0;
    in->stats.entries_read++;
    if (in->first_entry_us == 0) in->first_entry_us = now_us;
    /* A new entry at or below what this consumer applied is one read before:
     * Redis lost the group's progress and our acks (restarted from an older
     * snapshot, the group set back) and serves it again as new. */
    if (from != BM_ENTRY_CLAIMED) {
        bm_persist_seen seen = bm_persist_seen_before(in->persist, sidx, id->str);
        if (seen == BM_SEEN_COVERED) { /* in the checkpoint (or acked): its ack was lost */
            ack_unapplied(in, sidx, id);
            return 0;
        }
        if (seen == BM_SEEN_QUEUED) return 0; /* applied since, by this process: ack queued */
    }

    if (fv->type == REDIS_REPLY_INTEGER) { /* its size, measured in Redis: never loaded */
        deadletter_unread(in, sidx, id, fv->integer);
        return 0;
    }
    if (fv->type != REDIS_REPLY_ARRAY) {
        /* a pending entry whose content was trimmed from the stream */
        in->stats.deleted_entries++;
        ack_unapplied(in, sidx, id);
        return 0;
    }
    size_t n = fv->elements / 2;
    if (spread_fields(in, fv, n)) {
        in->stats.decode_errors[BM_DECODE_NOMEM]++;
        return -1; /* not acked: delivered again later */
    }
    /* the id standing in for a missing `id` and `ts`: the entry's own, also
     * when it came through a hand-off */
    const char *own_id = (long)sidx == in->o.handoff_idx ? handoff_entry_id(in, &n) : NULL;
    if (!own_id) own_id = id->str;
    if (in->o.max_deliveries && deliveries > (long long)in->o.max_deliveries) {
        deadletter_poison(in, sidx, id, deliveries, n, in->o.consumer);
        return 0;
    }
    bm_event ev;
    bm_decode_status st =
        bm_decode_entry(in->dec, n, in->fv_ptr, in->fv_len, in->fv_ptr + n, in->fv_len + n, &ev);
    if (st != BM_DECODE_OK) {
        deadletter_undecodable(in, sidx, id, st, n);
        return 0;
    }
    if (!ev.id[0]) ev.id = own_id;
    if (!ev.ts_us) ev.ts_us = entry_id_us(own_id);
    if (bm_time_clamp(&ev.ts_us, entry_id_us(own_id), now_us, in->o.max_clock_skew_us))
        in->stats.clock_skew++;
    if (ev.metric_name[0]) { /* a metric event: no trace, every agent counts its own share */
        if (bm_state_metric(in->state, &ev, now_us)) return -1; /* not acked: read again */
        ack_entry(in, sidx, id);
        return 0;
    }
    if (!ev.tx[0]) {
        bm_state_untraced(in->state);
        ack_entry(in, sidx, id);
        return 0;
    }
    const char *owner = in->o.route && (long)sidx != in->o.handoff_idx
                            ? in->o.route(in->o.route_arg, ev.tx)
                            : NULL;
    if (owner) { /* another agent's transaction: to its hand-off stream */
        char target[512];
        snprintf(target, sizeof target, "%s%s", in->o.handoff_prefix, owner);
        if (bm_persist_forward(in->persist, sidx, target, own_id, n, in->fv_ptr, in->fv_len,
                               in->fv_ptr + n, in->fv_len + n))
            return -1;
        return ack_unapplied(in, sidx, id);
    }
    if (bm_state_apply(in->state, &ev, now_us, redelivered)) {
        in->stats.decode_errors[BM_DECODE_NOMEM]++;
        return -1; /* not acked: read again */
    }
    return ack_entry(in, sidx, id);
}

static long stream_index(const bm_stream_input *in, const redisReply *name)
{
    for (size_t i = 0; i < in->o.n_streams; i++)
        if (strlen(in->o.streams[i]) == (size_t)name->len &&
            !memcmp(in->o.streams[i], name->str, (size_t)name->len))
            return (long)i;
    return -1;
}

/* ---- reads ----------------------------------------------------------------- */

static int is_wrong_type(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "WRONGTYPE");
}

/* What an XGROUP CREATE on stream i says of its key: another type (left
 * out of the reads), or a stream (read again). @return 1 when it is of
 * another type. */
static int note_key_type(bm_stream_input *in, size_t i, const redisReply *r)
{
    int accepted = r && (r->type != REDIS_REPLY_ERROR || !strncmp(r->str, "BUSYGROUP", 9));
    if (is_wrong_type(r) && !in->wrong_type[i]) {
        in->wrong_type[i] = 1;
        in->stats.unreadable++;
        in->stats.wrong_type++;
        bm_error("stream '%s' is a key of another type (%s): not read until it is a stream "
                 "again or is deleted; the other streams are read",
                 in->o.streams[i], r->str);
        if (in->recheck && !evtimer_pending(in->recheck, NULL)) {
            struct timeval tv = {RECHECK_S, 0};
            evtimer_add(in->recheck, &tv);
        }
    } else if (accepted && in->wrong_type[i]) {
        in->wrong_type[i] = 0;
        in->stats.unreadable--;
        bm_info("stream '%s' is a stream again: reading it", in->o.streams[i]);
    }
    return in->wrong_type[i];
}

static void on_probe(const redisReply *r, void *arg)
{
    stream_arg *sa = arg;
    bm_stream_input *in = sa->in;
    /* connection gone: the session's reset ends the probe (and a late NULL
     * must not count against the next one) */
    if (!r) return;
    if (r->type == REDIS_REPLY_ERROR && !is_wrong_type(r) && strncmp(r->str, "BUSYGROUP", 9)) {
        bm_error("cannot create consumer group '%s' on stream '%s': %s", in->o.group,
                 in->o.streams[sa->idx], r->str);
        in->probe_failed = 1;
    }
    if (note_key_type(in, sa->idx, r)) in->probe_found = 1;
    if (!in->probes_out || --in->probes_out) return;
    if (in->probe != PROBE_RECHECK && in->probe_failed) {
        /* a group still missing would refuse the read again at once, a
         * loop of reads and probes: start over, backing off */
        start_over(in);
        return;
    }
    if (in->probe == PROBE_REFUSED && !in->probe_found) {
        /* refused with WRONGTYPE, yet every key is a stream now (or the
         * refusal came from elsewhere): start over, backing off */
        bm_error("XREADGROUP failed (WRONGTYPE) and no stream key is of another type; retrying");
        start_over(in);
        return;
    }
    if (!in->reads_in_flight) issue_read(in);
}

/*
 * XGROUP CREATE, at the last entry applied, on every stream (or, for a
 * recheck, on the ones left out): made again where missing (what came
 * before is not applied twice), and each key's type noted. Reads wait for
 * the replies.
 */
static void probe_streams(bm_stream_input *in, int why)
{
    if (in->probes_out) return; /* one under way */
    in->probe = why;
    in->probe_found = 0;
    in->probe_failed = 0;
    for (size_t i = 0; i < in->o.n_streams; i++)
        if ((why != PROBE_RECHECK || in->wrong_type[i]) &&
            bm_writer_xgroup_create(in->writer, in->o.streams[i], in->o.group,
                                    bm_persist_applied_id(in->persist, i), on_probe,
                                    &in->sarg[i]) == 0)
            in->probes_out++;
    if (!in->probes_out && why != PROBE_RECHECK) /* the writer refused them all */
        start_over(in);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bm_stream_input *in = arg;
    if (!in->stats.unreadable || in->stopped) return;
    struct timeval tv = {RECHECK_S, 0};
    evtimer_add(in->recheck, &tv);
    if (in->setup == SETUP_READY && bm_writer_up(in->writer)) probe_streams(in, PROBE_RECHECK);
}

/* Entries in a reply and their bytes (fields and values), before applying it. */
static size_t entries_in(const redisReply *r, size_t *bytes)
{
    size_t got = 0;
    *bytes = 0;
    for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
        const redisReply *sr = r->element[s];
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
            sr->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *entries = sr->element[1];
        got += entries->elements;
        for (size_t e = 0; e < entries->elements; e++) {
            const redisReply *en = entries->element[e];
            if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
                en->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            for (size_t k = 0; k < en->element[1]->elements; k++)
                *bytes += (size_t)en->element[1]->element[k]->len;
        }
    }
    return got;
}

/*
 * The byte budget: the next read's COUNT. A read is a whole reply in
 * memory, so COUNT starts at 1 and doubles while replies stay under half
 * the budget, and is cut to what fits when they do not: a stream of 10 MB
 * entries is read one entry at a time. Memory per read stays within the
 * budget plus one entry (the largest; entries above max_entry_bytes are
 * dead-lettered, not decoded).
 */
static void adapt_count(bm_stream_input *in, size_t got, size_t bytes)
{
    size_t budget = in->o.read_budget_bytes;
    if (bytes > budget / 2 && got > 0) {
        size_t per = bytes / got + 1;
        size_t fit = budget / 2 / per;
        in->count = fit > 0 ? fit : 1;
    } else if (got >= in->count && in->count < in->o.batch) {
        in->count = in->count * 2 < in->o.batch ? in->count * 2 : in->o.batch;
    }
}

/*
 * A read answered with an error: what is missing is made again (a group, a
 * key deleted under a blocked read), a key of another type is left out, a
 * refused script gives way to plain reads; the read goes on after that.
 * @return 1 when none of these: the session starts over (backing off).
 */
static int read_refused(bm_stream_input *in, const redisReply *r)
{
    if (strstr(r->str, "NOGROUP")) { /* from the script too: "NOGROUP ... script: ..." */
        /* made again after the last entry applied: what came before is not applied twice */
        bm_warn("consumer group '%s' is missing (stream deleted?): creating it", in->o.group);
        probe_streams(in, PROBE_GROUP_MISSING);
        return 0;
    }
    if (is_wrong_type(r)) { /* a key of another type: which one? (from the script too) */
        probe_streams(in, PROBE_REFUSED);
        return 0;
    }
    if (!strncmp(r->str, "UNBLOCKED", 9)) {
        /* a key deleted under the blocked read ("UNBLOCKED the stream key no
         * longer exists"), or CLIENT UNBLOCK ... ERROR: make what is missing
         * and read on, no reconnection */
        bm_warn("XREADGROUP interrupted: %s; reading again", r->str);
        probe_streams(in, PROBE_GROUP_MISSING);
        return 0;
    }
    if (in->recovering && !in->script_off && strncmp(r->str, "LOADING", 7) &&
        strncmp(r->str, "BUSY", 4)) {
        /* the script refused (no EVAL on this server or for this user,
         * scripting off...): until the next reset, pending entries are read
         * plainly, without the size and delivery checks */
        in->script_off = 1;
        bm_warn("cannot read pending entries through a script (%s): reading them with "
                "XREADGROUP, without measuring them in Redis first",
                r->str);
        issue_read(in);
        return 0;
    }
    if (bm_acl_is_denial(r->str)) /* said once, counted, on /ready (core/acl.h) */
        bm_acl_denied(bm_writer_acl(in->writer), BM_ACL_XREADGROUP, r->str);
    else
        bm_error("XREADGROUP failed: %s; retrying", r->str);
    return 1;
}

static void on_read(redisAsyncContext *c, void *reply, void *arg)
{
    (void)c;
    bm_stream_input *in = arg;
    redisReply *r = reply;
    if (in->reads_in_flight > 0) in->reads_in_flight--;
    if (!r || in->stopped) return; /* connection gone: the session's reset takes over */
    in->stats.reads++;
    if (r->type == REDIS_REPLY_ERROR) {
        if (read_refused(in, r))
            start_over(in);
        else
            bm_persist_poke(in->persist); /* a checkpoint may have waited for this read */
        return;
    }
    /* A full batch means more is waiting: ask for the next one now, so Redis
     * serves it while this one is decoded and applied (reads overlap work).
     * Not while recovering: the next pending read starts after this one's
     * last id. */
    size_t bytes, got = entries_in(r, &bytes);
    size_t asked = in->count;
    adapt_count(in, got, bytes);
    if (bytes > in->stats.largest_read_bytes) in->stats.largest_read_bytes = bytes;
    if (!in->recovering && got >= asked && bytes <= in->o.read_budget_bytes / 2) {
        issue_read(in);
        /* hiredis would send it on the next loop turn, after this batch:
         * push it onto the socket now so the overlap is real */
        redisAsyncContext *rd = bm_session_reader(in->session);
        if (rd) redisAsyncHandleWrite(rd);
    }
    int64_t now = bm_now_us();
    size_t total = 0;
    int nomem = 0;
    for (size_t s = 0; !nomem && r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
        const redisReply *sr = r->element[s];
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2) continue;
        long sidx = stream_index(in, sr->element[0]);
        const redisReply *entries = sr->element[1];
        if (sidx < 0 || entries->type != REDIS_REPLY_ARRAY) continue;
        for (size_t e = 0; e < entries->elements; e++) {
            const redisReply *entry = entries->element[e];
            if (bm_stream_input_process(in, (size_t)sidx, entry, now,
                                        in->recovering ? BM_ENTRY_OWN_PENDING : BM_ENTRY_NEW)) {
                nomem = 1; /* nothing after it may be acked before it */
                break;
            }
            total++;
            if (in->recovering && entry->type == REDIS_REPLY_ARRAY && entry->elements >= 2 &&
                entry->element[0]->type == REDIS_REPLY_STRING)
                snprintf(in->pel_cursor[sidx], sizeof in->pel_cursor[sidx], "%s",
                         entry->element[0]->str);
        }
    }
    bm_persist_batch_end(in->persist); /* out once its group is due (flush interval) */
    if (total) count_batch(&in->stats, total);
    bm_persist_poke(in->persist);
    if (nomem) {
        bm_error("out of memory applying a batch; reading this consumer's pending entries again");
        start_over(in);
        return;
    }
    if (in->recovering && total == 0) {
        in->recovering = 0;
        bm_info("caught up with this consumer's pending entries; reading new entries");
    } else if (!in->recovering && total == 0 && in->o.drain) {
        bm_loop_stop(in->loop, "streams drained");
        return;
    }
    /* Entries trickling in: each blocking read would come back with one or
     * two, a round trip and a wake-up of Redis per entry. Let them gather a
     * moment instead (an empty read blocks again at once). */
    if (in->linger && !in->recovering && total > 0 && total < asked) {
        if (!evtimer_pending(in->linger, NULL)) {
            struct timeval tv = {in->o.linger_ms / 1000, (in->o.linger_ms % 1000) * 1000};
            evtimer_add(in->linger, &tv);
            in->stats.lingered++;
        }
        return;
    }
    issue_read(in);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bm_stream_input *in = arg;
    if (!in->reads_in_flight) issue_read(in); /* else one went out meanwhile (writer drained) */
}

static void issue_read(bm_stream_input *in)
{
    redisAsyncContext *rd = bm_session_reader(in->session);
    if (in->stopped || in->setup != SETUP_READY || !rd || !bm_writer_up(in->writer) ||
        in->reads_in_flight >= READS_IN_FLIGHT_MAX || in->probes_out || in->starting_over)
        return;
    if (bm_writer_congested(in->writer) || !bm_persist_reads_allowed(in->persist)) {
        in->stats.paused_reads++;
        return; /* the writer's drain callback or persist's resume goes on */
    }
    const char *names[STREAMS_MAX], *ids[STREAMS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < in->o.n_streams; i++) {
        if (in->wrong_type[i]) continue; /* left out: its key holds another type */
        names[n] = in->o.streams[i];
        ids[n++] = in->recovering ? in->pel_cursor[i] : ">";
    }
    if (!n) { /* every key holds another type: the recheck reads again when one is a stream */
        if (in->o.drain) bm_loop_stop(in->loop, "no stream to drain: every key is of another type");
        return;
    }
    int measured = in->recovering && !in->script_off;
    bm_writer_read rc = {in->o.group,
                         in->o.consumer,
                         in->count,
                         !in->recovering && !in->o.drain ? in->o.block_ms : 0,
                         measured ? in->o.max_entry_bytes : 0,
                         n,
                         names,
                         ids};
    if (bm_writer_read_on(rd, on_read, in, &rc) == 0) in->reads_in_flight++;
}

/* ---- the session's hooks ------------------------------------------------------ */

static void on_restored(bm_stream_input *in, int ok)
{
    if (!ok) {
        in->setup = SETUP_NONE; /* again at the next connection */
        return;
    }
    in->setup = SETUP_READY;
    bm_info("reading %zu stream(s) as %s/%s", in->o.n_streams, in->o.group, in->o.consumer);
    issue_read(in);
}

static void on_setup_group(const redisReply *r, void *arg)
{
    stream_arg *sa = arg;
    bm_stream_input *in = sa->in;
    if (!r)
        in->groups_lost = 1;
    else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) && !is_wrong_type(r))
        bm_error("cannot create consumer group '%s' on stream '%s': %s", in->o.group,
                 in->o.streams[sa->idx], r->str);
    note_key_type(in, sa->idx, r);
    if (--in->groups_out) return;
    if (in->groups_lost) {
        in->setup = SETUP_NONE;
        return;
    }
    in->setup = SETUP_RESTORE;
    if (in->o.restore)
        in->o.restore(in->o.restore_arg, in, on_restored);
    else
        on_restored(in, 1);
}

static void on_session_up(void *arg)
{
    bm_stream_input *in = arg;
    bm_info("connected to Redis");
    if (in->setup == SETUP_READY) {
        issue_read(in);
        return;
    }
    if (in->setup != SETUP_NONE) return; /* under way */
    in->setup = SETUP_GROUPS;
    in->groups_out = 0;
    in->groups_lost = 0;
    for (size_t i = 0; i < in->o.n_streams; i++)
        if (bm_writer_xgroup_create(in->writer, in->o.streams[i], in->o.group, "0", on_setup_group,
                                    &in->sarg[i]) == 0)
            in->groups_out++;
    if (!in->groups_out) in->setup = SETUP_NONE;
}

static void on_session_reset(void *arg)
{
    bm_stream_input *in = arg;
    in->reads_in_flight = 0;
    in->starting_over = 0;
    in->probes_out = 0; /* their replies come back NULL */
    in->recovering = 1;
    if (in->linger) evtimer_del(in->linger); /* recovery reads one at a time, at once */
    in->script_off = 0; /* a refused script is tried again after a reset */
    for (size_t i = 0; i < in->o.n_streams; i++)
        strcpy(in->pel_cursor[i], "0");
}

static int reads_in_flight(void *arg)
{
    bm_stream_input *in = arg;
    return in->reads_in_flight;
}

static void on_writer_drained(void *arg)
{
    bm_stream_input *in = arg;
    if (!in->reads_in_flight) issue_read(in);
}

bm_stream_input *bm_stream_input_new(const bm_stream_input_opts *o, struct bm_loop *loop,
                                     bm_session *session, bm_writer *writer, bm_state *state,
                                     bm_persist *persist)
{
    if (o->n_streams > STREAMS_MAX) return NULL;
    bm_stream_input *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->o = *o;
    if (!in->o.read_budget_bytes) in->o.read_budget_bytes = 16u << 20;
    in->count = 1;
    in->loop = loop;
    if (in->o.linger_ms > 0 && !in->o.drain &&
        !(in->linger = evtimer_new(bm_loop_base(loop), on_linger, in))) {
        free(in);
        return NULL;
    }
    in->session = session;
    in->writer = writer;
    in->state = state;
    in->persist = persist;
    bm_decode_limits dl = {o->max_entry_bytes, 0, 0, o->max_id_bytes};
    in->dec = bm_decoder_new(&dl);
    size_t ns = o->n_streams ? o->n_streams : 1;
    in->pel_cursor = calloc(ns, sizeof *in->pel_cursor);
    in->wrong_type = calloc(ns, 1);
    in->sarg = calloc(ns, sizeof *in->sarg);
    in->recheck = evtimer_new(bm_loop_base(loop), on_recheck, in);
    if (!in->dec || !in->pel_cursor || !in->wrong_type || !in->sarg || !in->recheck) {
        bm_stream_input_free(in);
        return NULL;
    }
    for (size_t i = 0; i < o->n_streams; i++)
        in->sarg[i] = (stream_arg){in, i};
    on_session_reset(in); /* the first read is of our own pending entries */
    bm_session_hooks hooks = {on_session_up, on_session_reset};
    bm_session_set_hooks(session, &hooks, in);
    bm_writer_set_drain_cb(writer, on_writer_drained, in);
    bm_persist_reader pr = {reads_in_flight, on_writer_drained};
    bm_persist_set_reader(persist, &pr, in);
    return in;
}

void bm_stream_input_free(bm_stream_input *in)
{
    if (!in) return;
    if (in->linger) event_free(in->linger);
    if (in->recheck) event_free(in->recheck);
    bm_decoder_free(in->dec);
    free(in->pel_cursor);
    free(in->wrong_type);
    free(in->sarg);
    free(in->fv_ptr);
    free(in->fv_len);
    free(in);
}

int bm_stream_input_reading(const bm_stream_input *in)
{
    return in->setup == SETUP_READY && !in->stopped;
}

bm_stream_input_stats *bm_stream_input_stats_of(bm_stream_input *in)
{
    return &in->stats;
}

void bm_stream_input_stop(bm_stream_input *in)
{
    in->stopped = 1;
    in->reads_in_flight = 0; /* the reader is dropped next: what was in flight stays pending */
    if (in->linger) evtimer_del(in->linger);
    if (in->recheck) evtimer_del(in->recheck);
}

void bm_stream_input_get_stats(const bm_stream_input *in, bm_stream_input_stats *out)
{
    *out = in->stats;
}

int64_t bm_stream_input_first_entry_us(const bm_stream_input *in)
{
    return in->first_entry_us;
}

size_t bm_stream_input_unreadable(const bm_stream_input *in, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < in->o.n_streams; i++)
        if (in->wrong_type[i]) {
            if (n < max) names[n] = in->o.streams[i];
            n++;
        }
    return n;
}

int bm_stream_input_left_out(const bm_stream_input *in, size_t sidx)
{
    return sidx < in->o.n_streams && in->wrong_type[sidx];
}
