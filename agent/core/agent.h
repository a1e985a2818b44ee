/*
 * agent.h - the busmon-agent context: one libevent base, two Redis
 * connections (a reader that may block in XREADGROUP, a writer for trace
 * records, dead-letters and acks, so writes never wait behind a blocked
 * read), the decoder, the trace store, counters. Passed explicitly
 * everywhere (STYLE rule 9).
 */
#ifndef BM_AGENT_AGENT_H
#define BM_AGENT_AGENT_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "lib/deadlines.h"
#include "lib/trace_store.h"
#include "lib/monitor.h"
#include "agent/state/persist.h"
#include "proto/event.h"
#include "agent/core/redis_url.h"

#define BM_BATCH_BUCKETS 5

typedef struct {
    uint64_t entries_read;      /* stream entries received */
    uint64_t events_applied;    /* kept in a trace */
    uint64_t duplicates;        /* already seen (same id in the trace) */
    uint64_t truncated;         /* trace full */
    uint64_t untraced;          /* valid events with no transaction (custom) */
    uint64_t deleted_entries;   /* pending entries whose content was trimmed away */
    uint64_t deadletter;        /* entries copied to the dead-letter stream */
    uint64_t deadletter_failed; /* ... that could not even be copied (still acked) */
    uint64_t decode_errors[BM_DECODE__COUNT];
    uint64_t acked; /* XACK replies, summed */
    uint64_t write_errors[BM_WRITE__COUNT];
    uint64_t writes_lost; /* commands lost with a connection */
    uint64_t reads;       /* XREADGROUP calls answered */
    uint64_t reconnects;
    uint64_t paused_reads;    /* reads held back because writes were behind */
    uint64_t pubsub_messages; /* pub/sub messages received */
    uint64_t pubsub_bad;      /* ... that could not be used (dead-lettered) */
    uint64_t timeouts;        /* commands marked timed out (no answer within timeout_seconds) */
    /* entries per non-empty XREADGROUP reply: cumulative counts for le 1, 10, 100, 1000, 10000 */
    uint64_t batch_le[BM_BATCH_BUCKETS];
    uint64_t batches, batch_entries;
} bm_agent_stats;

/* The upper bounds of bm_agent_stats.batch_le. */
extern const unsigned bm_batch_bounds[BM_BATCH_BUCKETS];

/* Count one non-empty read of n entries. */
static inline void bm_agent_count_batch(bm_agent_stats *st, size_t n)
{
    for (int i = 0; i < BM_BATCH_BUCKETS; i++)
        if (n <= bm_batch_bounds[i]) st->batch_le[i]++;
    st->batches++;
    st->batch_entries += n;
}

typedef struct bm_agent {
    bm_config *cfg;
    bm_redis_url url;
    struct event_base *base;
    redisAsyncContext *reader;
    redisAsyncContext *writer;
    int reader_up, writer_up;
    int reads_in_flight;    /* XREADGROUP sent, reply not yet in (at most 2) */
    int recovering;         /* reading our own pending entries (from id 0) first */
    char (*pel_cursor)[64]; /* per stream: last pending id seen while recovering */
    int stopping;
    int exit_code;
    long writes_pending;    /* commands sent on the writer, reply not yet in */
    long writes_high_water; /* pause reading above this */
    int reconnect_delay_ms;
    uint64_t last_write_error_log_us;
    uint64_t write_errors_since_log;

    bm_decoder *dec;
    trace_store *store;
    bm_persist *persist;

    /* reused per batch: the field/value pointers of one entry */
    const char **fv_ptr;
    size_t *fv_len;
    size_t fv_cap;

    bm_monitor mon; /* worker performance and health, event metrics, error patterns */

    /* pub/sub input (pubsub.c): its own connection, read in the same loop */
    redisAsyncContext *subscriber;
    int subscriber_up;
    int sub_reconnect_delay_ms;
    struct event *ev_sub_reconnect;
    bm_channel_scheme scheme;
    uint64_t pubsub_seq; /* ids for messages that carry none */

    /* commands with a timeout_seconds waiting for their answer */
    deadlines *deadlines;
    struct event *ev_timeouts, *ev_flush;
    struct event *ev_sigint, *ev_sigterm, *ev_sweep, *ev_reconnect, *ev_stop_timeout;
    struct event *ev_rollup, *ev_health;
    uint64_t rollups_published;
    uint64_t health_transitions;
    int64_t started_us, first_entry_us, last_entry_us;
    bm_agent_stats stats;
    struct bm_alerting *alerting; /* alert timer and notifications (alerting.h) */
    struct bm_http *http; /* http.c: /metrics, /health, /ready, /api; NULL when disabled */
    struct bm_sysmon *sysmon; /* sysmon.c: system metrics and their history */
} bm_agent;

/*
 * Apply one decoded event (ts, id and tx already filled): keep it in its
 * trace, feed the monitor, queue its trace record, track its timeout.
 * `redelivered`: the entry may have been applied before (own pending list).
 * @return 0 when done with it (kept, duplicate or truncated), -1 when it
 *         could not be kept for lack of memory (do not ack: read it again).
 */
int bm_agent_apply(bm_agent *a, const bm_event *ev, int64_t now_us, int redelivered);

/* Send queued trace records soon (after the current callbacks), coalesced. */
void bm_agent_flush_soon(bm_agent *a);

/* Copy an unusable pub/sub message to the dead-letter stream (counted). */
void bm_agent_deadletter_message(bm_agent *a, const char *channel, size_t channel_len,
                                 const char *body, size_t body_len, const char *reason,
                                 const char *detail);

/* A person-readable detail for a decode failure. */
const char *bm_agent_decode_detail(bm_decode_status st);

/* pubsub.c: start the pub/sub input when configured (0 / -1), stop it, free it. */
int bm_pubsub_start(bm_agent *a);
void bm_pubsub_stop(bm_agent *a);

/* Wall clock in µs (the agent's clock; lib/ gets it passed in). */
int64_t bm_now_us(void);

/* Set up connections, timers and signals. @return 0, or -1 with the reason logged. */
int bm_agent_start(bm_agent *a);
/* Begin an orderly stop: stop reading, flush writes and acks, then leave the loop. */
void bm_agent_stop(bm_agent *a, const char *why);
/* Release everything bm_agent_start took. */
void bm_agent_cleanup(bm_agent *a);

#endif
