#!/usr/bin/env bash
# The Python monitoring guides' monitoring.yaml, in their shape (written here),
# with an `alerting:` section in their terms: --check-config --offline works
# without Redis and prints the effective rules and sinks; every key the guides
# set is used or warned about once with the reason; e-mail is warned about;
# the missing log directory is made, one that cannot be made exits 2;
# export_port moves HTTP, export_prometheus: false turns /metrics off; and a
# rule written `condition: worker_failure_rate > 0.2` fires on the demo's
# flaky worker, to the webhook channel and in `busmon alerts`.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
RECV="$BM_BUILD/bm-webhook-receiver"
unset BUSMON_HTTP
cd "$BM_TMP"

EXPORT_PORT=$(bm_free_port)
"$RECV" --out "$BM_TMP/hook.jsonl" --port 0 --port-file "$BM_TMP/hook.port" --max-seconds 200 \
    >/dev/null 2>&1 &
BM_PIDS+=($!)
bm_wait_for 5 "[ -s '$BM_TMP/hook.port' ]" || { echo "receiver did not start"; exit 1; }
HOOK_PORT=$(cat "$BM_TMP/hook.port")

# the guides' file as they print it, then alerting: as someone moving over writes it
guides() {
    cat <<YAML
# monitoring.yaml
logging:
  default_logger: "composite"
  level: "INFO"
  file_path: "$1"
  max_file_size_mb: 100
  backup_count: 5
  json_format: true
  include_caller_info: true

event_monitoring:
  enabled: true
  trace_retention_hours: 24
  cleanup_interval_minutes: 60
  track_payload_size: true
  detailed_timing: true
  max_traces_per_transaction: 1000

worker_monitoring:
  enabled: true
  health_check_interval_seconds: 30
  performance_window_minutes: 60
  alert_on_high_error_rate: true
  error_rate_threshold: 0.1
  slow_execution_threshold_ms: 5000
  track_resource_usage: true

metrics_collection:
  enabled: true
  collection_interval_seconds: 60
  retention_hours: 168  # 7 days
  include_system_metrics: true
  custom_metrics_enabled: true
  export_prometheus: ${2:-true}
  export_port: $EXPORT_PORT

alerting:
  rules:
    - name: high_error_rate
      condition: error_rate > 0.1
      severity: warning
      description: "Error rate above 10 %"
      cooldown_minutes: 15
    - name: critical_cpu_usage
      condition: cpu_usage_percent > 90
      severity: critical
    - name: worker_failure
      condition: worker_health == failed
      severity: error
    - name: flaky_failing
      condition: worker_failure_rate > 0.2
      severity: error
      description: "{worker} fails {value} of its executions"
      cooldown_minutes: 1
  channels:
    - type: slack
      webhook_url: https://hooks.slack.com/services/T000/B000/XXXXSECRET
    - type: email
      smtp_host: smtp.example.org
      smtp_port: 587
      username: alerts
      password: MA1LPASSW0RD
      from_email: busmon@example.org
      to_emails: [oncall@example.org, team@example.org]
      use_tls: true
    - type: pagerduty
      integration_key: R0UT1NGKEY
    - type: webhook
      url: http://127.0.0.1:$HOOK_PORT/hook
YAML
}

# ---- --check-config --offline: no Redis anywhere ------------------------------
guides "./logs/multiagents.log" >monitoring.yaml
BUSMON_REDIS_URL=redis://127.0.0.1:1 "$AGENT" --config monitoring.yaml --check-config --offline \
    >check.out 2>check.err; rc=$?
bm_eq "--check-config --offline of the guides' file, Redis unreachable: exit 0" 0 "$rc"
bm_check "it says Redis was not checked" grep -q "redis: not checked (--offline)" check.out
bm_check "HTTP is on export_port ($EXPORT_PORT)" grep -q "^http: 127.0.0.1:$EXPORT_PORT," check.out
for line in \
    "  rule high_error_rate: error_rate over 5m > 0.1, scope global, for 0s, warning, cooldown 15m" \
    "  rule critical_cpu_usage: cpu_percent > 90, scope global, for 0s, critical, cooldown 15m" \
    "  rule worker_failure: health == failed, scope each_worker, for 0s, error, cooldown 15m" \
    "  rule flaky_failing: error_rate over 5m > 0.2, scope each_worker, for 0s, error, cooldown 1m" \
    "  sink slack: webhook slack https://hooks.slack.com/services/T000/B000/***" \
    "  sink pagerduty: webhook pagerduty https://events.pagerduty.com/v2/enqueue" \
    "  sink webhook: webhook generic http://127.0.0.1:$HOOK_PORT/hook" \
    "  sink email: email smtp://smtp.example.org:587"; do
    bm_check "effective: '${line#  }'" grep -qxF -- "$line" check.out
done
bm_check "no secret in the output" bash -c "! grep -q 'XXXXSECRET\|R0UT1NGKEY\|MA1LPASSW0RD' check.out check.err"
bm_eq "alerts: 4 sinks (slack, email, pagerduty, webhook)" 1 "$(grep -c '^alerts: enabled, .* 4 sink(s)$' check.out)"
# warnings come while the file is read, on stderr (where --check-config is read)
log=check.err
bm_check "the missing logs/ directory was made, the log file opened" test -f logs/multiagents.log
for key in logging.default_logger logging.include_caller_info event_monitoring.cleanup_interval_minutes \
    event_monitoring.track_payload_size; do
    bm_eq "'$key' warned about once, with its reason" 1 "$(grep -c "'$key: [^']*' is not used (ignored): ." "$log")"
done
bm_eq "the e-mail channel is an e-mail sink, not warned about" 0 "$(grep -c "e-mail" "$log")"
bm_eq "no other warning" 4 "$(grep -c '"level":"warn"' "$log")"

# ---- a log directory that cannot be made: exit 2 with the reason --------------
touch notadir
guides "./notadir/sub/x.log" >bad.yaml
"$AGENT" --config bad.yaml --check-config --offline >/dev/null 2>bad.err; rc=$?
bm_eq "file_path under a regular file: exit 2" 2 "$rc"
bm_check "... with the reason" grep -q "logging.file_path ./notadir/sub/x.log: ./notadir is not a directory" bad.err

# ---- the running agent on the demo ---------------------------------------------
bm_start_redis
cat >>monitoring.yaml <<YAML
alerts:
  interval: 1s
YAML
bm_bg "$AGENT" --config monitoring.yaml
bm_check "HTTP answers on export_port" bm_wait_for 10 "curl -sf http://127.0.0.1:$EXPORT_PORT/health"
bm_check "/metrics is served there" bash -c "curl -sf http://127.0.0.1:$EXPORT_PORT/metrics | grep -q '^busmon_build_info'"
bm_bg "$BM_BUILD/busmon-demo-producer" --rate 200 --duration 40 --seed 18
bm_check "flaky_failing fires for the flaky worker (busmon alerts)" bm_wait_for 60 \
    "'$BUSMON' alerts --json | jq -e '[.firing[] | select(.rule == \"flaky_failing\" and .labels.worker == \"flaky\")] | length == 1'"
bm_check "... and reaches the webhook channel" bm_wait_for 15 \
    "grep -q 'flaky_failing' '$BM_TMP/hook.jsonl'"
body=$(grep -m1 'flaky_failing' "$BM_TMP/hook.jsonl" | jq -r .body)
bm_check "its description is the rule's: 'flaky fails ...'" bash -c "jq -e '.description | startswith(\"flaky fails \")' <<<'$body' >/dev/null"
bm_check "the fast worker does not fire it" bash -c \
    "! '$BUSMON' alerts --json | jq -e '.firing[] | select(.rule == \"flaky_failing\" and .labels.worker == \"fast\")' >/dev/null"

# ---- export_prometheus: false turns /metrics off, the rest stays -------------
guides "$BM_TMP/off.log" false >off.yaml
PORT2=$(bm_free_port)
sed -i "s/export_port: $EXPORT_PORT/export_port: $PORT2/" off.yaml
bm_bg "$AGENT" --config off.yaml --group other --consumer other
bm_check "with export_prometheus: false, /health answers" bm_wait_for 10 "curl -sf http://127.0.0.1:$PORT2/health"
bm_eq "... and /metrics is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/metrics")"

bm_finish
