/*
 * snapshot.c - fill the counter table's snapshot (counters.h) from every
 * component's stats, at one moment.
 */
#include <string.h>

#include "agent/core/session.h"
#include "agent/http/counters.h"
#include "agent/outputs/outputs.h"
#include "agent/parts.h"
#include "lib/baseline.h"

void bm_counters_collect(const bm_parts *p, bm_counter_snapshot *s)
{
    memset(s, 0, sizeof *s);
    bm_stream_input_get_stats(p->streams, &s->in);
    bm_pubsub_input_get_stats(p->pubsub, &s->ps);
    bm_state_get_stats(p->state, &s->st);
    bm_persist_get_stats(p->persist, &s->persist);
    bm_writer_get_stats(p->writer, &s->writer);
    bm_publisher_get_stats(p->publisher, &s->pub);
    if (p->alerting) bm_alerting_get_stats(p->alerting, &s->al);
    bm_sysmon_get_stats(p->sysmon, &s->sys);
    bm_sampler_get_stats(p->sampler, &s->sampler);
    if (p->cluster) bm_cluster_get_stats(p->cluster, &s->cluster);
    bm_http_get_stats(p->http, &s->http);
    bm_finisher_get_stats(p->finisher, &s->fin);
    bm_otlp_metrics_get_stats(p->otlp_metrics, &s->om);
    bm_baseline_job_get_stats(p->baseline_job, &s->bl);
    s->baselines = baselines_count(p->baselines);
    s->baselines_refused = baselines_refused(p->baselines);
    s->baselines_evicted = baselines_evicted(p->baselines);
    trace_store_stats ts;
    trace_store_get_stats(bm_state_traces(p->state), &ts);
    s->traces_in_memory = ts.transactions;
    s->trace_events_in_memory = ts.events;
    s->traces_evicted = ts.evicted;
    s->traces_expired = ts.expired;
    s->trace_store_bytes = trace_store_heap_bytes(bm_state_traces(p->state));
    for (int i = 0; i < BM_DECODE__COUNT; i++)
        s->decode_errors[i] = s->in.decode_errors[i] + s->ps.decode_errors[i];
    long pending = bm_writer_pending(p->writer);
    s->writes_pending = pending > 0 ? (uint64_t)pending : 0;
    s->reconnects = bm_session_reconnects(p->session) + s->ps.reconnects;
    s->clock_skew = s->in.clock_skew + s->ps.clock_skew;
    s->connected[0] = (uint64_t)bm_session_reader_up(p->session);
    s->connected[1] = (uint64_t)bm_session_writer_up(p->session);
    s->connected[2] = (uint64_t)bm_pubsub_input_up(p->pubsub);
    bm_monitor *mon = bm_state_monitor(p->state);
    s->workers = worker_stats_count(mon->workers);
    s->workers_refused = mon->workers_refused_events;
    s->error_types_refused = error_patterns_refused(mon->errors);
    s->workers_evicted = worker_stats_evicted(mon->workers);
    s->error_types_evicted = error_patterns_evicted(mon->errors);
    custom_metrics_stats ms;
    custom_metrics_get_stats(mon->metrics, &ms);
    s->metric_series = ms.series;
    s->metric_series_refused = ms.refused;
    s->metric_series_evicted = ms.evicted;
    s->metric_tags_dropped = ms.tags_dropped;
    s->metric_kind_conflicts = ms.kind_conflicts;
    s->alerts_enabled = (uint64_t)bm_alerting_enabled(p->alerting);
    bm_alerting_get_counts(p->alerting, &s->alerts_pending, &s->alerts_firing, &s->alerts_refused);
    for (int i = 0; i < BM_HTTP_CLASSES; i++)
        s->http_requests[i] = p->http_requests[i];
    bm_acl_counts(bm_writer_acl(p->writer), s->redis_denied);
    for (size_t i = 0; p->outputs && i < bm_outputs_count(p->outputs); i++) {
        bm_sink_stats ss;
        bm_sink_get_stats(bm_outputs_at(p->outputs, i), &ss);
        s->outputs_rate_limited += ss.rate_limited;
    }
}
