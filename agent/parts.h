/*
 * parts.h - the agent's components, as main.c wires them. Only the
 * surfaces that show everything (http/: /metrics, /api, /ready; the counter
 * table and the --summary) read through it, and only to read: components
 * themselves get their narrow dependencies one by one, never this.
 */
#ifndef BM_AGENT_PARTS_H
#define BM_AGENT_PARTS_H

#include <stdint.h>

#include "agent/state/view.h"

struct bm_loop;
struct bm_writer;
struct bm_session;
struct bm_persist;
struct bm_state;
struct bm_stream_input;
struct bm_pubsub_input;
struct bm_sampler;
struct bm_outputs;
struct bm_publisher;
struct bm_alerting;
struct bm_sysmon;
struct bm_http;
struct bm_cluster;
struct bm_finisher;
struct bm_otlp_metrics;
struct baselines;
struct bm_baseline_job;

typedef struct bm_parts_tag {
    struct bm_loop *loop;
    struct bm_writer *writer;
    struct bm_session *session;
    struct bm_persist *persist;
    struct bm_state *state;
    struct bm_stream_input *streams;
    struct bm_pubsub_input *pubsub; /* NULL: no pub/sub input */
    struct bm_sampler *sampler;
    struct bm_outputs *outputs;
    struct bm_publisher *publisher;
    struct bm_alerting *alerting;
    struct bm_sysmon *sysmon;
    struct bm_http *http; /* NULL: HTTP off */
    struct bm_cluster *cluster;
    struct bm_finisher *finisher;         /* NULL: no sampling, no OTLP */
    struct bm_otlp_metrics *otlp_metrics; /* NULL: no OTLP metrics */
    struct baselines *baselines;          /* learned baselines; NULL: baselines.enabled false */
    struct bm_baseline_job *baseline_job; /* NULL likewise */
    bm_view view; /* what readers read: the own monitor, or the merge of every agent's */
    const char *agent;         /* the consumer name */
    const char *group;
    int64_t started_us;
} bm_parts;

#endif
