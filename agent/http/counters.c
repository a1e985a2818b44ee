/*
 * counters.c - the agent's counter table and its renderings (counters.h).
 */
#include "agent/http/counters.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define S(field) offsetof(bm_counter_snapshot, field)

/* Label values of the array rows (NULL: that slot is not shown). */
static const char *reason(size_t i)
{
    return i ? bm_decode_status_name((bm_decode_status)i) : NULL; /* 0 is "ok" */
}
static const char *connection(size_t i)
{
    static const char *const names[BM_CONNECTIONS] = {"reader", "writer", "pubsub"};
    return names[i];
}
static const char *write_kind(size_t i)
{
    return bm_write_kind_name((bm_write_kind)i);
}
static const char *acl_command(size_t i)
{
    return bm_acl_command_name((bm_acl_command)i);
}
static const char *sample_reason(size_t i)
{
    return bm_sample_reason_name((bm_sample_reason)i);
}
static const char *otlp_signal(size_t i)
{
    return bm_otlp_signal_name((bm_otlp_signal)i);
}
static const char *sysmon_source(size_t i)
{
    return bm_sysmon_source_name((bm_sysmon_source)i);
}
static const char *http_class(size_t i)
{
    static const char *const names[BM_HTTP_CLASSES] = {"2xx", "4xx", "5xx"};
    return names[i];
}

#define SCALAR(n, t, h, k, f)                                                                      \
    {                                                                                              \
        n, t, h, k, S(f), NULL, NULL, 0, 0, 0, 0, 0                                                \
    }
#define SCALED(n, t, h, k, f, x)                                                                   \
    {                                                                                              \
        n, t, h, k, S(f), NULL, NULL, 0, x, 0, 0, 0                                                \
    }
#define ARRAY(n, t, h, k, f, l, v, c)                                                              \
    {                                                                                              \
        n, t, h, k, S(f), l, v, c, 0, 0, 0, 0                                                      \
    }
/* A value of bm_counter_sink, one sample per output; key: outputs.sinks.NAME.k */
#define SINK(n, t, h, k, f)                                                                        \
    {                                                                                              \
        n, t, h, "outputs.sinks.*." k, S(sinks[0].f), NULL, NULL, 0, 0, 1, 0, 0                    \
    }
/* A gauge that is 0 only when unknown (scaled by x, or 0): absent then. */
#define KNOWN(n, h, k, f, x)                                                                       \
    {                                                                                              \
        n, BM_COUNTER_GAUGE, h, k, S(f), NULL, NULL, 0, x, 0, 1, 0                                 \
    }
/* A gauge unknown (absent) while the snapshot's field flag is 0, its own 0 a value. */
#define KNOWN_WHILE(n, h, k, f, flag)                                                              \
    {                                                                                              \
        n, BM_COUNTER_GAUGE, h, k, S(f), NULL, NULL, 0, 0, 0, 0, S(flag) + 1                       \
    }
#define TOTAL BM_COUNTER_TOTAL
#define GAUGE BM_COUNTER_GAUGE

static const bm_counter_row table[] = {
    /* the stream input */
    SCALAR("busmon_entries_read_total", TOTAL, "Stream entries read through the consumer group.",
           "entries_read", in.entries_read),
    SCALAR("busmon_entries_acked_total", TOTAL, "Stream entries acknowledged (XACK).", "acked",
           persist.acked),
    SCALAR("busmon_entries_deleted_total", TOTAL,
           "Pending entries whose content was trimmed from the stream (acked, not applied).",
           "deleted_entries", in.deleted_entries),
    SCALAR("busmon_reads_total", TOTAL, "XREADGROUP calls answered.", "reads", in.reads),
    SCALAR("busmon_reads_lingered_total", TOTAL,
           "Reads put off by streams.read_linger_ms after a read that was not full.", "lingered",
           in.lingered),
    SCALAR("busmon_reads_paused_total", TOTAL,
           "Reads held back because too many writes were pending.", "paused_reads",
           in.paused_reads),
    SCALAR("busmon_reclaim_rounds_total", TOTAL,
           "Reclaim rounds that found entries idle for other consumers.", "reclaim.rounds",
           in.reclaim_rounds),
    SCALAR("busmon_reclaimed_total", TOTAL,
           "Entries claimed from other consumers (idle past reclaim.min_idle) and applied.",
           "reclaim.applied", in.reclaimed),
    SCALAR("busmon_reclaimed_covered_total", TOTAL,
           "Entries claimed whose owner's checkpoint already held them: acked, not applied.",
           "reclaim.covered", in.reclaimed_covered),
    SCALAR("busmon_reclaim_fenced_total", TOTAL,
           "Entries not claimed because their owner wrote a checkpoint between our read of it "
           "and the claim (alive after all: they are its own).",
           "reclaim.fenced", in.reclaim_fenced),
    SCALAR("busmon_poison_total", TOTAL,
           "Entries delivered more than reclaim.max_deliveries times: dead-lettered as poison.",
           "reclaim.poison", in.poison),
    SCALAR("busmon_agent_away_checks_total", TOTAL,
           "Checkpoints held while this agent checked that no entry it applied since its last "
           "one was claimed by another agent (away, paused or cut off, long enough to look dead).",
           "away.checks", in.away_checks),
    SCALAR("busmon_agent_away_resets_total", TOTAL,
           "Checks that found an entry applied here claimed by another agent: the agent started "
           "again from its last checkpoint (re-executed itself) rather than count it twice.",
           "away.resets", in.away_resets),
    SCALAR("busmon_read_largest_bytes", GAUGE,
           "The largest XREADGROUP reply so far, in field and value bytes (streams.max_read_bytes "
           "bounds what one read asks for).",
           "largest_read_bytes", in.largest_read_bytes),
    SCALAR("busmon_streams_unreadable", GAUGE,
           "Streams left out of the reads because their key holds another type (WRONGTYPE); "
           "looked at again every 5 s.",
           "streams_unreadable", in.unreadable),
    SCALAR("busmon_stream_wrong_type_total", TOTAL,
           "Times a stream's key was found to hold another type and was left out of the reads.",
           "stream_wrong_type", in.wrong_type),
    ARRAY("busmon_decode_errors_total", TOTAL, "Entries that could not be decoded, by reason.",
          "decode_errors", decode_errors, "reason", reason, BM_DECODE__COUNT),
    SCALAR("busmon_entries_handed_off_total", TOTAL,
           "Entries of another agent's transaction handed to its hand-off stream.", "handed_off",
           persist.forwarded),
    SCALAR("busmon_handoffs_skipped_total", TOTAL,
           "Hand-offs not sent: sent while this agent may have looked dead, their entry was no "
           "longer pending for it (another agent claimed it and hands it on).",
           "handoffs_skipped", persist.handoffs_skipped),
    SCALAR("busmon_handoffs_deadlettered_total", TOTAL,
           "Hand-offs refused because the owner's hand-off key holds another type (WRONGTYPE), "
           "their entry acked all the same (EXEC or guard script): dead-lettered as "
           "handoff_wrongtype.",
           "handoffs_deadlettered", persist.handoffs_deadlettered),
    SCALAR("busmon_trace_index_writes_total", TOTAL,
           "Transactions whose trace search index sets were written (only the sets each one "
           "newly joins).",
           "trace_index_writes", persist.index_writes),
    SCALAR("busmon_trace_index_dropped_total", TOTAL,
           "Trace search index entries dropped by its cap (traces.index_max).",
           "trace_index_dropped", persist.index_dropped),
    SCALAR("busmon_trace_index_expired_total", TOTAL,
           "Trace search index entries dropped past the trace retention.", "trace_index_expired",
           persist.index_expired),
    SCALAR("busmon_clock_skew_events_total", TOTAL,
           "Events whose time was further than limits.max_clock_skew from the agent's clock: "
           "given their entry id's time (pub/sub: the receive time).",
           "clock_skew_events", clock_skew),
    /* the pub/sub input */
    SCALAR("busmon_pubsub_messages_total", TOTAL, "Pub/sub messages received.", "pubsub_messages",
           ps.messages),
    SCALAR("busmon_pubsub_overlapped_total", TOTAL,
           "Pub/sub messages received again through another subscribed pattern (patterns that "
           "overlap): used once.",
           "pubsub_overlapped", ps.overlapped),
    SCALAR("busmon_pubsub_bad_total", TOTAL,
           "Pub/sub messages that could not be used (dead-lettered).", "pubsub_bad", ps.bad),
    SCALAR("busmon_pubsub_disconnects_total", TOTAL,
           "Pub/sub subscriptions lost (messages published until the new one were not seen): "
           "Redis closes a subscriber that falls behind past client-output-buffer-limit pubsub.",
           "pubsub_disconnects", ps.disconnects),
    SCALAR("busmon_pubsub_not_owned_total", TOTAL,
           "Pub/sub messages left to the agent that owns their transaction.", "pubsub_not_owned",
           ps.not_owned),
    SCALAR("busmon_pubsub_shed_total", TOTAL,
           "Pub/sub messages dropped while Redis refused busmon's writes and they piled up "
           "(a message cannot wait: pub/sub keeps nothing).",
           "pubsub_shed", ps.shed),
    /* the state */
    SCALAR("busmon_events_applied_total", TOTAL, "Events kept in a trace.", "events_applied",
           st.events_applied),
    SCALAR("busmon_events_duplicate_total", TOTAL,
           "Events already kept (redelivered), not counted twice.", "duplicates", st.duplicates),
    SCALAR("busmon_events_truncated_total", TOTAL, "Events not kept because their trace was full.",
           "truncated", st.truncated),
    SCALAR("busmon_events_untraced_total", TOTAL,
           "Valid events that name no transaction (custom events).", "untraced", st.untraced),
    SCALAR("busmon_metric_events_total", TOTAL,
           "Metric events (business metrics) counted in a series.", "metric_events",
           st.metric_events),
    SCALAR("busmon_metric_events_refused_total", TOTAL,
           "Metric events refused: no room for a new series (metrics.max_series, none idle), "
           "or a kind other than their series'.",
           "metric_events_refused", st.metric_refused),
    SCALAR("busmon_events_nomem_total", TOTAL,
           "Events not kept for lack of memory (stream entries are read again).", "nomem",
           st.nomem),
    SCALAR("busmon_command_timeouts_total", TOTAL,
           "Commands timed out: timeout answers (error type timeout, as the MultiAgents "
           "Framework sends) and those busmon noticed.",
           "timeouts", st.timeouts),
    SCALAR("busmon_command_timeouts_noticed_total", TOTAL,
           "Commands busmon called timed out itself (no answer within timeout_seconds + "
           "worker_monitoring.timeout_grace, transaction not ended).",
           "timeouts_noticed", st.timeouts_noticed),
    SCALAR("busmon_late_answers_total", TOTAL,
           "Answers that came after busmon called their command timed out (not counted again).",
           "late_answers", st.late_answers),
    SCALAR("busmon_command_timeouts_awaited", GAUGE,
           "Commands with timeout_seconds awaiting their answer (busmon times them out).",
           "timeouts_awaited", st.timeouts_awaited),
    SCALAR("busmon_command_timeouts_refused_total", TOTAL,
           "Commands with timeout_seconds busmon does not await (pubsub.max_timeouts "
           "reached): never timed out by busmon.",
           "timeouts_refused", st.timeouts_refused),
    SCALAR("busmon_timeout_checks_total", TOTAL,
           "Several agents: stored traces read before busmon called a timeout (the answer may "
           "have gone to another owner).",
           "timeout_checks", st.timeout_checks),
    SCALAR("busmon_answered_elsewhere_total", TOTAL,
           "Several agents: commands due to time out whose answer another agent applied (found "
           "in the stored trace): no timeout, not counted again.",
           "answered_elsewhere", st.answered_elsewhere),
    /* traces in memory */
    SCALAR("busmon_traces_in_memory", GAUGE, "Transaction traces held in memory.",
           "transactions_in_memory", traces_in_memory),
    SCALAR("busmon_trace_events_in_memory", GAUGE, "Events held in memory traces.",
           "events_in_memory", trace_events_in_memory),
    SCALAR("busmon_traces_evicted_total", TOTAL,
           "Traces dropped from memory to respect traces.max_transactions.", "evicted",
           traces_evicted),
    SCALAR("busmon_traces_expired_total", TOTAL, "Traces dropped from memory by retention.",
           "expired", traces_expired),
    SCALAR("busmon_trace_store_bytes", GAUGE, "Heap bytes held by the trace store.",
           "trace_store_bytes", trace_store_bytes),
    SCALAR("busmon_trace_names", GAUGE,
           "Worker, step, source, status and error type names kept once for all traces.",
           "trace_names", trace_names),
    SCALAR("busmon_trace_names_refused_total", TOTAL,
           "Names not kept once (table full, or too long): each trace keeps its own copy.",
           "trace_names_refused", trace_names_refused),
    /* writes */
    SCALAR("busmon_trace_records_written_total", TOTAL, "Trace records sent to Redis.",
           "trace_records", persist.records),
    SCALAR("busmon_trace_records_skipped_total", TOTAL,
           "Trace records of sampled-out transactions, not written.", "trace_records_skipped",
           persist.records_skipped),

    /* transactions finished: tail sampling and OpenTelemetry export */
    SCALAR("busmon_transactions_finished_total", TOTAL,
           "Transactions judged over (completed or failed and settled, or idle); one "
           "decided again (sampled out, then a new event) counts once.",
           "finisher.finished", fin.finished),
    SCALAR("busmon_transactions_finished_idle_total", TOTAL,
           "Transactions finished after otlp.idle_flush without an end.", "finisher.idle",
           fin.finished_idle),
    SCALAR("busmon_transactions_finished_early_total", TOTAL,
           "Transactions finished early to make room (traces.max_transactions followed).",
           "finisher.early", fin.finished_early),
    SCALAR("busmon_transactions_finished_missing_total", TOTAL,
           "Transactions finished whose trace had left memory: not judged nor exported.",
           "finisher.not_in_memory", fin.not_in_memory),
    SCALAR("busmon_transactions_late_events_total", TOTAL,
           "Events of a transaction already finished (stored, not exported again).",
           "finisher.late_events", fin.late_events),
    SCALAR("busmon_transactions_open", GAUGE, "Transactions followed until they finish.",
           "finisher.open", fin.open),
    SCALAR("busmon_transactions_remembered", GAUGE,
           "Finished transactions remembered (so each is finished once).", "finisher.remembered",
           fin.remembered),
    ARRAY("busmon_sampling_decisions_total", TOTAL,
          "Tail sampling decisions by reason: kept (all, timeout, failed, compensated, slow, "
          "rate) or dropped (sampled_out).",
          "sampling.decisions", fin.sampled, "reason", sample_reason, BM_SAMPLE__COUNT),
    SCALAR("busmon_sampling_reopened_total", TOTAL,
           "Sampled-out transactions opened again by a later event, to be decided again.",
           "sampling.reopened", fin.reopened),
    SCALAR("busmon_sampling_restored_total", TOTAL,
           "Sampled-out transactions kept when decided again: the marker replaced by their trace, "
           "or taken out of its head (a decision not remembered: a restart).",
           "sampling.restored", fin.restored),
    SCALAR("busmon_sampling_restores_failed_total", TOTAL,
           "Sampled-out transactions kept whose marker could not be replaced or taken out (left "
           "the marker).",
           "sampling.restores_failed", fin.restores_failed),
    SCALAR("busmon_sampling_markers_total", TOTAL,
           "Stored traces replaced by the sampled-out marker.", "sampling.markers", fin.markers),
    SCALAR("busmon_sampling_markers_failed_total", TOTAL,
           "Sampled-out traces that could not be replaced (Redis not connected).",
           "sampling.markers_failed", fin.markers_failed),
    SCALAR("busmon_otlp_transactions_exported_total", TOTAL,
           "Transactions whose spans were offered to the OTLP sinks.", "otlp.transactions",
           fin.exported),
    SCALAR("busmon_otlp_spans_total", TOTAL, "Spans offered to the OTLP sinks.", "otlp.spans",
           fin.spans),
    SCALAR("busmon_otlp_spans_dropped_total", TOTAL,
           "Spans an OTLP sink refused (its queue full) or that could not be built.",
           "otlp.spans_dropped", fin.spans_dropped),
    ARRAY("busmon_otlp_rejected_total", TOTAL,
          "Spans (signal traces) and data points (signal metrics) an OTLP collector rejected in "
          "a 2xx reply (partial success).",
          "otlp.rejected", otlp_rejected, "signal", otlp_signal, BM_OTLP__SIGNALS),
    ARRAY("busmon_otlp_replies_unread_total", TOTAL,
          "2xx replies of an OTLP collector whose body could not be read as an OTLP JSON "
          "response (another type, e.g. protobuf, or JSON that is not one): a partial success "
          "in it is not counted.",
          "otlp.replies_unread", otlp_unread, "signal", otlp_signal, BM_OTLP__SIGNALS),
    SCALAR("busmon_otlp_metrics_exports_total", TOTAL,
           "Worker metrics exports offered to the OTLP sinks.", "otlp.metrics_exports", om.exports),
    SCALAR("busmon_otlp_metrics_exports_refused_total", TOTAL,
           "Worker metrics exports an OTLP sink refused (its queue full).", "otlp.metrics_refused",
           om.exports_refused),
    SCALAR("busmon_otlp_metrics_workers_refused_total", TOTAL,
           "Answers of workers past worker_monitoring.max_workers, not in the OTLP metrics.",
           "otlp.metrics_workers_refused", om.workers_refused),
    SCALAR("busmon_otlp_metrics_workers_evicted_total", TOTAL,
           "Workers idle limits.max_idle dropped from a full OTLP metrics table for a new one.",
           "otlp.metrics_workers_evicted", om.workers_evicted),
    SCALAR("busmon_otlp_metrics_workers", GAUGE, "Workers in the last OTLP metrics export.",
           "otlp.metrics_workers", om.workers),
    SCALAR("busmon_otlp_metrics_early_forgotten_total", TOTAL,
           "Answers read before their command that the OTLP metrics stopped waiting for (4096 "
           "wait): if the command still comes, not counted there (or without the duration).",
           "otlp.metrics_early_forgotten", om.early_forgotten),
    SCALAR("busmon_deadletter_total", TOTAL,
           "Entries copied to the dead-letter stream (busmon deadletters lists them).",
           "deadletter", persist.deadletter),
    SCALAR("busmon_deadletter_failed_total", TOTAL,
           "Dead-letter copies that could not be sent (the entry is still acked).",
           "deadletter_failed", persist.deadletter_failed),
    SCALAR("busmon_pending_writes", GAUGE,
           "Commands sent on the Redis write connection, reply not yet in.", "pending_writes",
           writes_pending),
    ARRAY("busmon_writes_total", TOTAL, "Redis commands sent on the write connection, by kind.",
          "writes", writer.sent, "kind", write_kind, BM_WRITE__COUNT),
    ARRAY("busmon_write_errors_total", TOTAL, "Redis write commands that failed, by kind.",
          "write_errors", writer.errors, "kind", write_kind, BM_WRITE__COUNT),
    SCALAR("busmon_write_batches_total", TOTAL,
           "Ingest batches whose trace records and acks were sent.", "write_batches",
           persist.batches),
    SCALAR("busmon_writes_retried_total", TOTAL,
           "Ingest writes sent again after an error reply or a lost connection.", "writes_retried",
           persist.retried),
    SCALAR("busmon_write_batches_unstored", GAUGE,
           "Ingest batches whose writes Redis has not all confirmed yet (reading pauses above "
           "the bound).",
           "write_batches_unstored", persist.unstored),
    SCALAR("busmon_entries_unacked", GAUGE,
           "Entries applied and waiting for their writes and a checkpoint before their ack.",
           "entries_unacked", persist.unacked),
    SCALAR("busmon_entries_covered_total", TOTAL,
           "Entries read again that a checkpoint already covered (acked, not applied again).",
           "entries_covered", persist.covered),
    SCALAR("busmon_entries_already_queued_total", TOTAL,
           "Own entries read again after a reset that this process had applied since the "
           "checkpoint (their acks queued): not applied again.",
           "entries_already_queued", persist.already_queued),
    SCALAR("busmon_claims_acked_again_total", TOTAL,
           "Claimed entries found pending again after their ack was sent (the XACK lost or "
           "refused, or the agent stopped before it): acked again, not applied again.",
           "claims_acked_again", persist.claims_acked_again),
    SCALAR("busmon_claims_forgotten_total", TOTAL,
           "Acked claims let go by the memory bound before their keep time: one found pending "
           "again would be applied again.",
           "claims_forgotten", persist.claims_forgotten),
    SCALAR("busmon_checkpoints_total", TOTAL, "State checkpoints Redis confirmed.", "checkpoints",
           persist.checkpoints),
    SCALAR("busmon_checkpoints_failed_total", TOTAL,
           "State checkpoints not written (encoding or Redis refused; the next one tries again).",
           "checkpoints_failed", persist.checkpoint_failed),
    SCALAR("busmon_checkpoints_fenced_total", TOTAL,
           "Checkpoints of an agent that may have looked dead held back because another agent "
           "claimed its entries after its check began: checked again.",
           "checkpoints_fenced", persist.checkpoint_fenced),
    SCALAR("busmon_checkpoints_too_big_total", TOTAL,
           "Checkpoints longer than Redis takes in one value (proto-max-bulk-len): refused, or "
           "not sent again; or larger than a start of this configuration reads back: not sent. "
           "Their entries acknowledged once stored.",
           "checkpoints_too_big", persist.checkpoint_too_big),
    SCALAR("busmon_checkpoint_bytes", GAUGE, "Size of the last state checkpoint.",
           "checkpoint_bytes", persist.checkpoint_bytes),
    SCALED("busmon_checkpoint_duration_seconds", GAUGE,
           "The last checkpoint's encoding and round trip (the summary: checkpoint_us).",
           "checkpoint_us", persist.checkpoint_us, 1e-6),
    SCALAR("busmon_writes_lost_total", TOTAL,
           "Redis commands whose connection went before their reply.", "writes_lost", writer.lost),
    SCALAR("busmon_writes_refused_total", TOTAL,
           "Redis commands not sent: no connection, or out of memory.", "writes_refused",
           writer.refused),
    SCALAR("busmon_redis_reconnects_total", TOTAL, "Reconnections to Redis.", "reconnects",
           reconnects),
    SCALAR("busmon_redis_resolve_failures_total", TOTAL,
           "Look-ups of Redis's host name that failed or timed out (each logged; the connection "
           "is tried again after the reconnect backoff).",
           "resolve_failures", resolve_failures),
    ARRAY("busmon_redis_denied_total", TOTAL,
          "Commands Redis's ACL denied (NOPERM), by command: each one is logged once with the "
          "ACL SETUSER words that allow it, and named on /ready (busmon-agent --print-acl).",
          "redis_denied", redis_denied, "command", acl_command, BM_ACL__COUNT),
    ARRAY("busmon_redis_connected", GAUGE, "1 when the Redis connection is up.", "connected",
          connected, "connection", connection, BM_CONNECTIONS),
    /* the monitor */
    SCALAR("busmon_workers", GAUGE, "Workers tracked.", "workers", workers),
    SCALAR("busmon_workers_refused_total", TOTAL,
           "Events whose worker was refused by the max_workers bound (the table full, none "
           "idle longer than limits.max_idle).",
           "workers_refused", workers_refused),
    SCALAR("busmon_error_types_refused_total", TOTAL,
           "Errors whose type was refused by the max_error_types bound.", "error_types_refused",
           error_types_refused),
    SCALAR("busmon_workers_evicted_total", TOTAL,
           "Workers idle longer than limits.max_idle evicted to make room for new ones (those "
           "with no command in flight first).",
           "workers_evicted", workers_evicted),
    SCALAR("busmon_error_types_evicted_total", TOTAL,
           "Error types idle longer than limits.max_idle evicted to make room for new ones.",
           "error_types_evicted", error_types_evicted),
    SCALAR("busmon_metric_series", GAUGE, "Business metric series (name + tag set) tracked.",
           "metric_series", metric_series),
    SCALAR("busmon_metric_series_refused_total", TOTAL,
           "Metric events refused by the metrics.max_series bound (the table full, no series "
           "idle for the performance window).",
           "metric_series_refused", metric_series_refused),
    SCALAR("busmon_metric_series_evicted_total", TOTAL,
           "Metric series idle for the performance window evicted to make room for new ones.",
           "metric_series_evicted", metric_series_evicted),
    SCALAR("busmon_metric_tags_dropped_total", TOTAL,
           "Metric tags dropped from the metric events counted: by metrics.tag_allow / "
           "tag_deny, past metrics.max_tags_per_series, or past an event's 16.",
           "metric_tags_dropped", metric_tags_dropped),
    SCALAR("busmon_metric_kind_conflicts_total", TOTAL,
           "Metric events whose kind differs from their series' (refused).",
           "metric_kind_conflicts", metric_kind_conflicts),
    /* the publisher */
    SCALAR("busmon_rollups_published_total", TOTAL, "Rollups published.", "rollups_published",
           pub.rollups_published),
    SCALAR("busmon_rollups_skipped_total", TOTAL,
           "Rollups not made (out of memory) or taken by no output.", "rollups_skipped",
           pub.rollups_skipped),
    SCALAR("busmon_health_transitions_total", TOTAL, "Worker health changes.", "health_transitions",
           pub.health_transitions),
    /* alerting */
    SCALAR("busmon_alerting_enabled", GAUGE, "1 when alert rules are evaluated.", "alerts.enabled",
           alerts_enabled),
    SCALAR("busmon_alert_evaluations_total", TOTAL, "Alert rule evaluations.", "alerts.evaluations",
           al.evaluations),
    SCALAR("busmon_alert_notifications_total", TOTAL,
           "Alert notifications (firing, repeat, resolved).", "alerts.notifications",
           al.notifications),
    SCALAR("busmon_alert_notifications_published_total", TOTAL,
           "Alert notifications every Redis output took.", "alerts.published", al.published),
    SCALAR("busmon_alert_notifications_redis_skipped_total", TOTAL,
           "Alert notifications a Redis output refused (not connected).", "alerts.redis_skipped",
           al.redis_skipped),
    SCALAR("busmon_alert_evaluations_late_total", TOTAL,
           "Evaluations made before every stream gauge was in.", "alerts.gauge_late",
           al.gauge_late),
    SCALAR("busmon_alert_stream_figure_errors_total", TOTAL,
           "Stream gauges Redis could not give (no stream, no group).", "alerts.gauge_errors",
           al.gauge_errors),
    SCALAR("busmon_alert_body_errors_total", TOTAL, "Notification bodies that could not be made.",
           "alerts.sink_build_errors", al.sink_build_errors),
    SCALAR("busmon_alert_tag_values_dropped_total", TOTAL,
           "Tag values an each_tag alert rule left out, past its 1000 per evaluation (never "
           "alerted on; counted at every evaluation).",
           "alerts.tag_values_dropped", al.tag_values_dropped),
    SCALAR("busmon_alert_deletions_forgotten_total", TOTAL,
           "Resolved alerts a merge-mode hash sink was still to delete (Redis refused the sets), "
           "forgotten past the 1024 kept: their fields stay in the hash.",
           "alerts.gone_forgotten", al.gone_forgotten),
    SCALAR("busmon_email_rate_limited_total", TOTAL,
           "Notifications an output took but did not send because of its rate limit (e-mail "
           "max_per_minute; listed in a summary mail instead).",
           "outputs.rate_limited", outputs_rate_limited),
    /* the outputs (sinks), each labelled by its name and type */
    SINK("busmon_output_emitted_total", TOTAL, "Messages offered to the output.", "emitted",
         emitted),
    SINK("busmon_output_sent_total", TOTAL, "Messages the output delivered.", "sent", sent),
    SINK("busmon_output_failed_total", TOTAL,
         "Messages the output gave up on (error reply, 4xx, attempts used, stop deadline).",
         "failed", failed),
    SINK("busmon_output_retried_total", TOTAL, "Delivery attempts after the first.", "retried",
         retried),
    SINK("busmon_output_dropped_total", TOTAL,
         "Messages the output refused (queue full, not connected, no body, a topic it cannot "
         "carry).",
         "dropped", dropped),
    SINK("busmon_output_queue_bytes_dropped_total", TOTAL,
         "Messages the output refused because the bodies it held reached its queue_bytes (also in "
         "busmon_output_dropped_total).",
         "queue_bytes_dropped", queue_bytes_dropped),
    SINK("busmon_output_attempt_errors_total", TOTAL,
         "Delivery attempts that failed, retried or not.", "attempt_errors", attempt_errors),
    SINK("busmon_output_queued", GAUGE, "Messages the output holds (waiting, in flight).", "queued",
         queued),
    SCALAR("busmon_alerts_pending", GAUGE, "Alerts pending (true, not yet for long enough).",
           "alerts.pending", alerts_pending),
    SCALAR("busmon_alerts_firing", GAUGE, "Alerts firing.", "alerts.firing", alerts_firing),
    SCALAR("busmon_alerts_refused_total", TOTAL,
           "Alert instances refused by the alerts.max_alerts bound.", "alerts.refused",
           alerts_refused),
    /* learned baselines */
    SCALAR("busmon_baselines", GAUGE, "Workers with a learned baseline.", "baselines.keys",
           baselines),
    SCALAR("busmon_baseline_samples_total", TOTAL,
           "Worker samples (last minute, every health interval) given to the baselines.",
           "baselines.samples", bl.samples),
    SCALAR("busmon_baselines_refused_total", TOTAL,
           "Baseline samples of new workers refused by baselines.max_keys.", "baselines.refused",
           baselines_refused),
    SCALAR("busmon_baselines_evicted_total", TOTAL,
           "Baselines idle past 7 days evicted to make room for new workers.", "baselines.evicted",
           baselines_evicted),
    SCALAR("busmon_baseline_requests_total", TOTAL,
           "Freeze / clear requests applied from the control hash.", "baselines.requests",
           bl.requests),
    SCALAR("busmon_baseline_requests_unknown_total", TOTAL,
           "Freeze / clear requests that did nothing: the worker has no baseline.",
           "baselines.unknown", bl.unknown),
    /* system metrics and the shared Redis sampler */
    SCALAR("busmon_system_samples_total", TOTAL,
           "System metrics samples taken (late: before every Redis reply was in).",
           "system.samples", sys.samples),
    SCALAR("busmon_system_samples_late_total", TOTAL,
           "System samples completed without every Redis reply.", "system.late", sys.late),
    SCALAR("busmon_system_samples_published_total", TOTAL,
           "System samples taken by an output (busmon:system).", "system.published", sys.published),
    SCALAR("busmon_system_samples_not_published_total", TOTAL,
           "System samples no output took (no Redis, out of memory).", "system.not_published",
           sys.not_published),
    SCALAR("busmon_system_history_overwritten_total", TOTAL,
           "System history points dropped to keep system.history_hours (oldest first).",
           "system.history_overwritten", sys.history_overwritten),
    KNOWN("busmon_host_memory_total_bytes",
          "Host memory (MemTotal of /proc/meminfo: in a container, the host's; its limit is "
          "busmon_cgroup_memory_limit_bytes); absent while unknown.",
          "system.memory_total_bytes", sys.memory_total_bytes, 0),
    KNOWN("busmon_cgroup_memory_limit_bytes",
          "The cgroup memory limit this agent is held to (the tightest memory.max, v1 "
          "memory.limit_in_bytes, of its cgroup and their parents: a container's); absent when "
          "none (max, no cgroup).",
          "system.cgroup.memory_limit_bytes", sys.cgroup_memory_limit_bytes, 0),
    KNOWN("busmon_cgroup_memory_usage_bytes",
          "memory.current (v1 memory.usage_in_bytes) of the cgroup whose limit "
          "busmon_cgroup_memory_limit_bytes is; "
          "absent when no limit.",
          "system.cgroup.memory_usage_bytes", sys.cgroup_memory_usage_bytes, 0),
    KNOWN_WHILE("busmon_cgroup_memory_working_set_bytes",
                "busmon_cgroup_memory_usage_bytes less the inactive page cache (memory.stat "
                "inactive_file, v1 total_inactive_file; 0 when all of the use is): what the "
                "memory_percent alert gauge judges; absent when no limit.",
                "system.cgroup.memory_working_set_bytes", sys.cgroup_memory_working_set_bytes,
                sys.cgroup_memory_usage_bytes),
    KNOWN("busmon_cgroup_cpu_limit_cores",
          "The cgroup CPU limit in CPUs: the least of the tightest cpu.max (v1 "
          "cpu.cfs_quota_us) quota / period and the CPUs of cpuset.cpus.effective (v1 "
          "cpuset.effective_cpus) when fewer than the host's; absent when none (max, no cgroup).",
          "system.cgroup.cpu_limit_millicores", sys.cgroup_cpu_limit_millicores, 1e-3),
    ARRAY("busmon_system_read_errors_total", TOTAL,
          "System samples whose source could not be read or was not understood (its figures "
          "absent; a cgroup file that is not there is no limit, not an error).",
          "system.read_errors", sys.read_errors, "source", sysmon_source, BM_SYSMON__SOURCES),
    SCALAR("busmon_redis_sample_rounds_total", TOTAL,
           "Rounds of Redis figures (PING, INFO, XLEN, XINFO GROUPS) completed.", "sampler.rounds",
           sampler.rounds),
    SCALAR("busmon_redis_sample_rounds_late_total", TOTAL,
           "Rounds of Redis figures closed before every reply was in.", "sampler.late",
           sampler.late),
    SCALAR("busmon_redis_sample_errors_total", TOTAL,
           "Error replies to the Redis figures' queries.", "sampler.redis_errors",
           sampler.redis_errors),
    /* several agents */
    SCALAR("busmon_cluster_heartbeats_total", TOTAL, "Heartbeats written to the agents' registry.",
           "cluster.heartbeats", cluster.heartbeats),
    SCALAR("busmon_cluster_refreshes_total", TOTAL,
           "Rounds in which the other agents' partials were read and merged.", "cluster.refreshes",
           cluster.refreshes),
    SCALAR("busmon_cluster_partials_read_total", TOTAL, "Other agents' checkpoints merged.",
           "cluster.partials_read", cluster.partials_read),
    SCALAR("busmon_cluster_partials_refused_total", TOTAL,
           "Other agents' checkpoints that did not decode (another version, corrupt).",
           "cluster.partials_refused", cluster.partials_refused),
    SCALAR("busmon_cluster_leader_terms_total", TOTAL, "Times this agent became the leader.",
           "cluster.leader_terms", cluster.leader_terms),
    SCALAR("busmon_cluster_handoff_moved_total", TOTAL,
           "Entries moved from gone agents' hand-off streams to their transactions' owners.",
           "cluster.handoff_moved", cluster.handoff_moved),
    SCALAR("busmon_cluster_agents_live", GAUGE,
           "Agents reading now (heartbeat within cluster.stale).", "cluster.agents_live",
           cluster.agents_live),
    SCALAR("busmon_cluster_agents_counted", GAUGE,
           "Agents whose partial figures are in the merged view.", "cluster.agents_counted",
           cluster.agents_counted),
    SCALAR("busmon_cluster_agents_left_out", GAUGE,
           "Registry entries past the 64 agents read (gone ones first left out); their "
           "figures are not in the merged view.",
           "cluster.agents_left_out", cluster.agents_left_out),
    SCALAR("busmon_cluster_leader", GAUGE, "1 while this agent holds the leader's lease.",
           "cluster.is_leader", cluster.is_leader),
    /* HTTP */
    ARRAY("busmon_http_requests_total", TOTAL,
          "HTTP answers by class, those refused before routing (400, 408, 413, 431, 503) "
          "included (not this scrape).",
          "http_requests", http.requests, "code", http_class, BM_HTTP_CLASSES),
    SCALAR("busmon_http_connections_accepted_total", TOTAL, "HTTP connections accepted.",
           "http.accepted", http.conn.accepted),
    SCALAR("busmon_http_connections", GAUGE, "HTTP connections open.", "http.open", http.conn.open),
    SCALAR("busmon_http_connections_max", GAUGE,
           "HTTP connections allowed at once (http.max_connections, lowered under a small fd "
           "limit).",
           "http.bound", http.conn.bound),
    SCALAR("busmon_http_connections_evicted_total", TOTAL,
           "HTTP connections closed at the bound for a newer one, or when out of descriptors "
           "(the oldest still sending its request).",
           "http.evicted", http.conn.evicted),
    SCALAR("busmon_http_connections_refused_total", TOTAL,
           "HTTP connections refused with 503 at the bound (every open one being answered).",
           "http.refused", http.conn.refused),
    SCALAR("busmon_http_request_timeouts_total", TOTAL,
           "HTTP requests not received within http.header_timeout (408, closed).", "http.timeouts",
           http.conn.timeouts),
    SCALAR("busmon_http_write_timeouts_total", TOTAL,
           "HTTP answers the client did not take within 10 s (closed).", "http.write_timeouts",
           http.conn.write_timeouts),
    SCALAR("busmon_http_bad_requests_total", TOTAL,
           "HTTP requests refused before routing: malformed (400), head too large (431), body "
           "too large (413), no length (411), another version (505).",
           "http.bad_requests", http.conn.bad_requests),
    SCALAR("busmon_http_accept_errors_total", TOTAL,
           "accept() failures on the HTTP socket (EMFILE: out of file descriptors, ...).",
           "http.accept_errors", http.conn.accept_errors),
    SCALAR("busmon_http_accept_pauses_total", TOTAL,
           "Times accepting HTTP connections was paused (back-off) after accept() failures.",
           "http.accept_pauses", http.conn.accept_pauses),
    SCALAR("busmon_http_unauthorized_total", TOTAL,
           "HTTP requests without the bearer token of http.token_file (401).", "http.unauthorized",
           http.unauthorized),
};

const bm_counter_folded bm_counters_folded[] = {
    {S(in.decode_errors), BM_DECODE__COUNT},
    {S(ps.decode_errors), BM_DECODE__COUNT},
    {S(ps.reconnects), 1},
    {S(ps.resolve_failures), 1},
    {S(in.clock_skew), 1},
    {S(ps.clock_skew), 1},
    {0, 0},
};

const bm_counter_row *bm_counter_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

/* Slot i of row r: of its array, or of output i. */
static uint64_t value(const bm_counter_snapshot *s, const bm_counter_row *r, size_t i)
{
    size_t stride = r->per_sink ? sizeof(bm_counter_sink) : sizeof(uint64_t);
    return *(const uint64_t *)((const char *)s + r->offset + i * stride);
}

/* Whether a gauge row is unknown now: its flag (known_while) is 0, or its
 * own value is 0 when 0 means unknown. */
static int unknown(const bm_counter_snapshot *s, const bm_counter_row *r)
{
    if (r->known_while) return !*(const uint64_t *)((const char *)s + r->known_while - 1);
    return r->zero_unknown && !value(s, r, 0);
}

void bm_counters_put_label(struct evbuffer *out, const char *v)
{
    const char *run = v;
    for (const char *p = v; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc) continue;
        evbuffer_add(out, run, (size_t)(p - run));
        evbuffer_add(out, esc, 2);
        run = p + 1;
    }
    evbuffer_add(out, run, strlen(run));
}

/* A per-sink row's samples: {output="NAME",type="TYPE"} each. */
static void render_sinks(const bm_counter_snapshot *s, const bm_counter_row *r,
                         struct evbuffer *out)
{
    for (size_t i = 0; i < s->n_sinks; i++) {
        evbuffer_add_printf(out, "%s{output=\"", r->name);
        bm_counters_put_label(out, s->sink_labels[i].name);
        evbuffer_add_printf(out, "\",type=\"");
        bm_counters_put_label(out, s->sink_labels[i].type);
        evbuffer_add_printf(out, "\"} %" PRIu64 "\n", value(s, r, i));
    }
}

int bm_counters_render(const bm_counter_snapshot *s, struct evbuffer *out)
{
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const bm_counter_row *r = &table[k];
        const char *type = r->type == BM_COUNTER_TOTAL ? "counter" : "gauge";
        if (unknown(s, r)) continue;
        if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", r->name, r->help, r->name,
                                type) < 0)
            return -1;
        if (r->per_sink) {
            render_sinks(s, r, out);
            continue;
        }
        if (!r->label_of) {
            if (r->scale)
                evbuffer_add_printf(out, "%s %.9g\n", r->name, (double)value(s, r, 0) * r->scale);
            else
                evbuffer_add_printf(out, "%s %" PRIu64 "\n", r->name, value(s, r, 0));
            continue;
        }
        for (size_t i = 0; i < r->n_labels; i++)
            if (r->label_of(i))
                evbuffer_add_printf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", r->name, r->label,
                                    r->label_of(i), value(s, r, i));
    }
    return 0;
}

/* The object at the dotted path's first len bytes ("a.b": obj["a"]["b"]),
 * made where missing; obj itself for len 0. @return it, or NULL. */
static json_t *object_at(json_t *obj, const char *path, size_t len)
{
    for (size_t at = 0; obj && at < len;) {
        const char *dot = memchr(path + at, '.', len - at);
        size_t n = dot ? (size_t)(dot - path) - at : len - at;
        char head[64];
        snprintf(head, sizeof head, "%.*s", (int)n, path + at);
        json_t *child = json_object_get(obj, head);
        if (!json_is_object(child)) {
            child = json_object();
            if (!child || json_object_set_new(obj, head, child)) return NULL;
        }
        obj = child;
        at += n + 1;
    }
    return obj;
}

/* Where a scalar or array row goes: the object holding its key's last part (*leaf). */
static json_t *parent_of(json_t *obj, const char *key, const char **leaf)
{
    const char *dot = strrchr(key, '.');
    *leaf = dot ? dot + 1 : key;
    return dot ? object_at(obj, key, (size_t)(dot - key)) : obj;
}

/* A per-sink row: outputs.sinks.NAME.KEY, each output's object made with
 * its type and format. @return 0 or -1. */
static int sinks_to_json(const bm_counter_snapshot *s, const bm_counter_row *r, json_t *obj)
{
    const char *star = strstr(r->summary, ".*.");
    json_t *all = object_at(obj, r->summary, (size_t)(star - r->summary));
    if (!all) return -1;
    for (size_t i = 0; i < s->n_sinks; i++) {
        const bm_counter_sink_label *l = &s->sink_labels[i];
        json_t *one = json_object_get(all, l->name);
        if (!one) {
            one = json_pack("{s:s?, s:s?}", "type", l->type, "format", l->format);
            if (json_object_set_new(all, l->name, one)) return -1;
        }
        if (json_object_set_new(one, star + 3, json_integer((json_int_t)value(s, r, i)))) return -1;
    }
    return 0;
}

int bm_counters_to_json(const bm_counter_snapshot *s, json_t *obj)
{
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const bm_counter_row *r = &table[k];
        if (r->per_sink) {
            if (sinks_to_json(s, r, obj)) return -1;
            continue;
        }
        const char *leaf;
        json_t *parent = parent_of(obj, r->summary, &leaf);
        if (!parent) return -1;
        json_t *v;
        if (!r->label_of) {
            uint64_t x = value(s, r, 0);
            v = unknown(s, r) ? json_null() : json_integer((json_int_t)x);
        } else {
            v = json_object();
            for (size_t i = 0; v && i < r->n_labels; i++)
                if (r->label_of(i))
                    json_object_set_new(v, r->label_of(i),
                                        json_integer((json_int_t)value(s, r, i)));
        }
        if (!v || json_object_set_new(parent, leaf, v)) return -1;
    }
    json_t *h = json_object();
    if (!h) return -1;
    char le[16];
    for (int i = 0; i < BM_BATCH_BUCKETS; i++) {
        snprintf(le, sizeof le, "%u", bm_batch_bounds[i]);
        json_object_set_new(h, le, json_integer((json_int_t)s->in.batch_le[i]));
    }
    json_object_set_new(h, "+Inf", json_integer((json_int_t)s->in.batches));
    json_object_set_new(h, "sum", json_integer((json_int_t)s->in.batch_entries));
    return json_object_set_new(obj, "read_batch_size", h);
}

void bm_counters_render_batches(const bm_counter_snapshot *s, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP busmon_read_batch_size Entries per non-empty XREADGROUP "
                             "reply (streams.batch caps it).\n"
                             "# TYPE busmon_read_batch_size histogram\n");
    for (int i = 0; i < BM_BATCH_BUCKETS; i++)
        evbuffer_add_printf(out, "busmon_read_batch_size_bucket{le=\"%u\"} %" PRIu64 "\n",
                            bm_batch_bounds[i], s->in.batch_le[i]);
    evbuffer_add_printf(out, "busmon_read_batch_size_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                        s->in.batches);
    evbuffer_add_printf(out, "busmon_read_batch_size_sum %" PRIu64 "\n", s->in.batch_entries);
    evbuffer_add_printf(out, "busmon_read_batch_size_count %" PRIu64 "\n", s->in.batches);
}
