/*
 * snapshot.c - fill the counter table's snapshot (counters.h) from every
 * component's stats, at one moment. It reads the parts only: the HTTP
 * surface's counters come in from the server, which calls this, so no
 * call goes back up to it.
 */
#include <string.h>

#include "agent/core/session.h"
#include "agent/http/counters.h"
#include "agent/outputs/outputs.h"
#include "agent/parts.h"
#include "lib/baseline.h"
#include "lib/intern.h"

/* Each output's counters and labels (the first BM_COUNTER_SINKS); the
 * e-mail rate limit and the OTLP partial successes summed over all. */
static void collect_sinks(const bm_outputs *o, bm_counter_snapshot *s)
{
    for (size_t i = 0; o && i < bm_outputs_count(o); i++) {
        const bm_sink *sk = bm_outputs_at(o, i);
        bm_sink_stats ss;
        bm_sink_get_stats(sk, &ss);
        s->outputs_rate_limited += ss.rate_limited;
        s->otlp_rejected[0] += ss.otlp_rejected_spans;
        s->otlp_rejected[1] += ss.otlp_rejected_points;
        s->otlp_unread[0] += ss.otlp_unread_traces;
        s->otlp_unread[1] += ss.otlp_unread_metrics;
        if (i >= BM_COUNTER_SINKS) continue;
        bm_counter_sink *v = &s->sinks[i];
        v->emitted = ss.emitted;
        v->sent = ss.sent;
        v->failed = ss.failed;
        v->retried = ss.retried;
        v->dropped = ss.dropped;
        v->queue_bytes_dropped = ss.queue_bytes_dropped;
        v->attempt_errors = ss.attempt_errors;
        v->queued = ss.queued;
        bm_counter_sink_label *l = &s->sink_labels[i];
        l->name = bm_sink_name(sk);
        l->type = bm_sink_type_name(sk);
        l->format = bm_sink_format(sk);
        s->n_sinks = i + 1;
    }
}

void bm_counters_collect(const bm_parts *p, const bm_http_stats *http, bm_counter_snapshot *s)
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
    s->http = *http;
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
    bm_intern_stats names;
    bm_intern_get_stats(&names);
    s->trace_names = names.names;
    s->trace_names_refused = names.refused;
    for (int i = 0; i < BM_DECODE__COUNT; i++)
        s->decode_errors[i] = s->in.decode_errors[i] + s->ps.decode_errors[i];
    long pending = bm_writer_pending(p->writer);
    s->writes_pending = pending > 0 ? (uint64_t)pending : 0;
    s->reconnects = bm_session_reconnects(p->session) + s->ps.reconnects;
    s->resolve_failures = bm_session_resolve_failures(p->session) + s->ps.resolve_failures;
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
    bm_acl_counts(bm_writer_acl(p->writer), s->redis_denied);
    collect_sinks(p->outputs, s);
}
