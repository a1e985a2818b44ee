/*
 * metrics.h - the /metrics page (metrics.c), for server.c's route: the
 * state's families read from the parts, and the counter table rendered
 * from a snapshot the caller took (it holds the HTTP surface's own
 * counters, which only the server knows).
 */
#ifndef BM_HTTP_METRICS_H
#define BM_HTTP_METRICS_H

#include "agent/http/counters.h"

struct evbuffer;
struct bm_parts_tag;

/*
 * Append the whole /metrics page (Prometheus text format 0.0.4) to out:
 * build info, events, workers, errors, business metrics, the counter table
 * from snap (borrowed), the process and the system sample.
 * @return 0, or -1 (out of memory).
 */
int bm_metrics_render(const struct bm_parts_tag *p, const bm_counter_snapshot *snap,
                      struct evbuffer *out);

#endif
