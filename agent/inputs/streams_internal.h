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

/*
 * One entry of stream number sidx, as XREADGROUP or XCLAIM returns it:
 * decode, apply (redelivered: it may have been applied before), queue its
 * ack. @return 0, or -1 for lack of memory (not acked: read again).
 */
int bm_stream_input_process(bm_stream_input *in, size_t sidx, const redisReply *entry,
                            int64_t now_us, int redelivered);

/* The input is set up (groups made, state restored) and not stopped. */
int bm_stream_input_reading(const bm_stream_input *in);

/* Its counters, for reclaim to count in. */
bm_stream_input_stats *bm_stream_input_stats_of(bm_stream_input *in);

#endif
