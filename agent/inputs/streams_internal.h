/*
 * streams_internal.h - what the stream input shares with its reclaim
 * (inputs/reclaim.c), nothing more: applying one entry the way a read does,
 * whether it reads, and its counters.
 */
#ifndef BM_INPUTS_STREAMS_INTERNAL_H
#define BM_INPUTS_STREAMS_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "agent/inputs/streams.h"

/* Where an entry comes from. */
typedef enum {
    BM_ENTRY_NEW,         /* a read of new entries (">") */
    BM_ENTRY_OWN_PENDING, /* our own pending entry, read again after a reset or a restart:
                             skipped or only acked when it was applied before */
    BM_ENTRY_CLAIMED,     /* claimed from another consumer: applied (it may have been
                             before), acked as a claim (persist.h) */
} bm_entry_from;

/*
 * One entry of stream number sidx, as XREADGROUP or XCLAIM returns it:
 * decode, apply, queue its ack. @return 0, or -1 for lack of memory (not
 * acked: read again).
 */
int bm_stream_input_process(bm_stream_input *in, size_t sidx, const redisReply *entry,
                            int64_t now_us, bm_entry_from from);

/*
 * A claimed entry of stream number sidx (as XCLAIM returns it) delivered
 * more often than reclaim.max_deliveries: copied whole to the dead-letter
 * stream as "poison" (with its delivery count and last consumer), its ack
 * queued as a claim's; never applied. @return 0, or -1 for lack of memory
 * (not acked: claimed again).
 */
int bm_stream_input_poison(bm_stream_input *in, size_t sidx, const redisReply *entry,
                           long long deliveries, const char *last_consumer);

/* The input is set up (groups made, state restored) and not stopped. */
int bm_stream_input_reading(const bm_stream_input *in);

/* Stream sidx is left out of the reads: its key holds another type. */
int bm_stream_input_left_out(const bm_stream_input *in, size_t sidx);

/* Its counters, for reclaim to count in. */
bm_stream_input_stats *bm_stream_input_stats_of(bm_stream_input *in);

#endif
