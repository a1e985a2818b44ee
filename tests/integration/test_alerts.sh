#!/usr/bin/env bash
# Alerting end to end (issue 5): busmon-agent evaluating its rules every
# 500 ms against the demo producer's workers through a real Redis.
#   1. the flaky worker (~30 % failures) makes high_error_rate (1m window,
#      for 0s) fire for flaky only, seen on the busmon:alerts stream, in the
#      firing hash, in `busmon alerts` (--json, text, --watch) and at a
#      receiver on 127.0.0.1 in each webhook format (generic, Slack,
#      PagerDuty, Alertmanager, the last re-posted every evaluation); then,
#      diluted by successful flaky results typed in the flat encoding, it
#      resolves everywhere;
#   2. with the receiver down, ingest is unaffected (every entry traced and
#      acked), retries and drops are counted, the failure is logged once,
#      and the stop is bounded by the flush deadline;
#   3. a bad rule or sink refuses to start: exit 2 and one line FILE:LINE;
#   4. when Debian's prometheus-alertmanager is installed, a real
#      Alertmanager receives the alert and drops it once resolved.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
bm_start_redis
BUSMON="$BM_BUILD/busmon"
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"
RECV="$BM_BUILD/bm-webhook-receiver"
for b in "$BUSMON" "$AGENT" "$PRODUCER" "$RECV"; do
    [ -x "$b" ] || { echo "missing $b (build with the tests)"; exit 1; }
done

# jqt ARGS...: jq -e, quiet (a test)
jqt() { jq -e "$@" >/dev/null; }
# records STREAM: the json field of every entry, one a line
records() { bm_cli_raw XRANGE "$1" - + | grep -a '^{"rule"'; }
# bodies PATH: the bodies the receiver got on PATH, one a line
bodies() { jq -c --arg p "$1" 'select(.path == $p) | .body | fromjson' "$BM_TMP/recv.jsonl"; }
# acked STREAM: every entry of STREAM was read and acked by the group
acked() {
    local info
    info=$(bm_cli_raw XINFO GROUPS "$1" | paste -sd' ')
    [[ "$info" =~ pending\ 0\  ]] && [[ "$info" =~ lag\ 0($|\ ) ]]
}

# --- a real Alertmanager, when installed ---------------------------------------
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
AM_PORT=""
if [ -n "$AM_BIN" ] && command -v curl >/dev/null; then
    AM_PORT=$(bm_free_port)
    mkdir -p "$BM_TMP/am"
    printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' >"$BM_TMP/am.yml"
    "$AM_BIN" --config.file="$BM_TMP/am.yml" --storage.path="$BM_TMP/am" \
        --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=warn \
        >"$BM_TMP/alertmanager.log" 2>&1 &
    BM_PIDS+=($!)
    if ! bm_wait_for 20 "curl -sf http://127.0.0.1:$AM_PORT/-/ready"; then
        echo "note: Alertmanager did not become ready; skipping its check"
        cat "$BM_TMP/alertmanager.log"
        AM_PORT=""
    fi
else
    echo "note: prometheus-alertmanager (or curl) is not installed; skipping the real Alertmanager" \
        "check (apt-get install -y prometheus-alertmanager)"
fi

# --- 1. high_error_rate fires for flaky, then resolves ------------------------------
"$RECV" --out "$BM_TMP/recv.jsonl" --port-file "$BM_TMP/recv.port" --max-seconds 200 \
    >"$BM_TMP/receiver.log" 2>&1 &
RECV_PID=$!
BM_PIDS+=($RECV_PID)
bm_wait_for 10 "[ -s '$BM_TMP/recv.port' ]" || { echo "the receiver did not start"; exit 1; }
RPORT=$(cat "$BM_TMP/recv.port")
touch "$BM_TMP/recv.jsonl"

cat >"$BM_TMP/alerts.yaml" <<EOF
alerts:
  interval: 5s                  # --alert-interval 500ms overrides it
  rules:
    - name: high_error_rate     # the built-in, on a short window, firing at once
      window: 1m
      for: 0s
  disable: [critical_cpu]       # the test host may well be busy
  webhooks:
    - name: hook-generic
      url: http://127.0.0.1:$RPORT/hook/generic
    - name: hook-slack
      format: slack
      url: http://127.0.0.1:$RPORT/hook/slack
    - name: hook-pd
      format: pagerduty
      routing_key: R0UTING
      url: http://127.0.0.1:$RPORT/hook/pagerduty
    - name: hook-am
      format: alertmanager
      url: http://127.0.0.1:$RPORT
EOF
if [ -n "$AM_PORT" ]; then
    printf '    - name: real-am\n      format: alertmanager\n      url: http://127.0.0.1:%s\n' \
        "$AM_PORT" >>"$BM_TMP/alerts.yaml"
fi
bm_eq "--check-config accepts the alerts section" 0 \
    "$("$AGENT" --config "$BM_TMP/alerts.yaml" --check-config >/dev/null 2>&1; echo $?)"

HP=$(bm_free_port)
"$AGENT" --config "$BM_TMP/alerts.yaml" --block-ms 100 --rollup-interval 1 --health-interval 1 \
    --alert-interval 500ms --consumer agent1 --summary "$BM_TMP/summary1.json" --http "127.0.0.1:$HP" \
    >"$BM_TMP/agent1.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$BUSMON" alerts --watch --json >"$BM_TMP/watch.jsonl" 2>"$BM_TMP/watch.err" &
W=$!
BM_PIDS+=($W)
bm_check "the watcher subscribed" bm_wait_for 10 \
    '[ "$(bm_cli_raw PUBSUB NUMSUB busmon:alerts | tail -1)" = 1 ]'
# messages that are not records: --watch --json keeps one JSON record a line
bm_cli PUBLISH busmon:alerts 'not json' >/dev/null
bm_cli PUBLISH busmon:alerts '[1, 2]' >/dev/null

"$PRODUCER" --count 300 --rate 1500 --seed 7 >/dev/null 2>&1 || echo "FAIL - the producer failed"
bm_check "every entry is read and acked" bm_wait_for 20 'acked busmon:events'
sleep 2 # four more evaluations over every worker

is_firing='any(.[]; .rule == "high_error_rate" and .state == "firing" and .labels.worker == "flaky")'
bm_check "high_error_rate fires for flaky on busmon:alerts" bm_wait_for 10 \
    "records busmon:alerts | jq -s -e '$is_firing'"
bm_eq "high_error_rate fires for flaky only (not fast, slow, cpu_heavy)" flaky \
    "$(records busmon:alerts | jq -s -r '[.[] | select(.rule == "high_error_rate") | .labels.worker] | unique | join(",")')"
REC=$(records busmon:alerts | jq -c 'select(.rule == "high_error_rate")' | head -1)
FP=$(jq -r .fingerprint <<<"$REC")
bm_eq "the record: severity, metric, window, threshold, agent" "warning error_rate 1m 0.1 agent1" \
    "$(jq -r '"\(.severity) \(.metric) \(.window) \(.threshold) \(.agent)"' <<<"$REC")"
bm_check "the record's value is above the threshold" jqt '.value > 0.1 and .starts_at == .ts' <<<"$REC"
bm_check "every entry has a msgpack field m too" \
    bash -c '[ "$(redis-cli --raw -p '"$BM_PORT"' XRANGE busmon:alerts - + COUNT 1 | sed -n 2p)" = m ]'

J=$("$BUSMON" alerts --json)
bm_eq "busmon alerts --json: firing now" "high_error_rate flaky $FP" \
    "$(jq -r '.firing[] | select(.rule == "high_error_rate") | "\(.rule) \(.labels.worker) \(.fingerprint)"' <<<"$J")"
bm_eq "busmon alerts --json: in the history, by agent1" "firing agent1" \
    "$(jq -r '[.history[] | select(.rule == "high_error_rate")][0] | "\(.state) \(.agent)"' <<<"$J")"
bm_eq "busmon alerts --json: updated by agent1" agent1 "$(jq -r .agent <<<"$J")"
API=$(curl -s -m 5 "http://127.0.0.1:$HP/api/alerts")
bm_eq "/api/alerts has the keys of busmon alerts --json (+ enabled)" \
    "$(jq -c '. + {enabled: true} | keys' <<<"$J")" "$(jq -c keys <<<"$API")"
bm_eq "/api/alerts: the same firing alerts as busmon alerts --json" \
    "$(jq -c '[.firing[] | {rule, fingerprint, severity, labels}]' <<<"$J")" \
    "$(jq -c '[.firing[] | {rule, fingerprint, severity, labels}]' <<<"$API")"
bm_eq "/api/alerts: the firing record has every field of the stored one (+ *_unix in the CLI)" \
    "$(jq -c '.firing[0] | keys | map(select(endswith("_unix") | not))' <<<"$J")" "$(jq -c '.firing[0] | keys' <<<"$API")"
iso='test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")'
bm_check "busmon alerts --json: times are RFC 3339 strings, epoch seconds beside them as *_unix" \
    jqt "all(.firing[], .history[]; (.starts_at | $iso) and (.ts | $iso) and (.starts_at_unix | type == \"number\") and (.ts_unix | type == \"number\")) and (.updated | $iso)" <<<"$J"
bm_check "busmon alerts --json: the string and the epoch are the same time" \
    jqt --argjson api "$API" '(.firing[0].starts_at_unix * 1000000 - $api.firing[0].starts_at | fabs) < 20 and (.firing[0].starts_at | startswith($api.firing[0].starts_at / 1000000 | floor | todate | sub("Z$"; "")))' <<<"$J"
bm_eq "/api/alerts: history newest first, agent1, enabled" "firing agent1 true" \
    "$(jq -r '"\([.history[] | select(.rule == "high_error_rate")][0].state) \(.agent) \(.enabled)"' <<<"$API")"
bm_eq "the firing hash holds it under its fingerprint" "high_error_rate" \
    "$(bm_cli_raw HGET busmon:alerts:firing "$FP" | jq -r .rule)"
T=$("$BUSMON" alerts)
bm_check "busmon alerts (text) lists it firing" grep -Eq '^warning +high_error_rate +worker=flaky' <<<"$T"
bm_check "busmon alerts (text) lists its notification" grep -Eq ' firing +warning +high_error_rate +worker=flaky' <<<"$T"
bm_check "the watcher printed the firing" bm_wait_for 5 \
    "jq -s -e '$is_firing' '$BM_TMP/watch.jsonl'"
bm_check "the agent logged it once, as a warning" \
    bash -c '[ "$(grep -c "alert \[FIRING\] high_error_rate worker=flaky" "$1")" = 1 ] &&
             grep "alert \[FIRING\] high_error_rate worker=flaky" "$1" | grep -q "\"level\":\"warn\""' _ "$BM_TMP/agent1.log"

# the webhook bodies, format by format
bm_check "generic: the record arrives" bm_wait_for 10 \
    "bodies /hook/generic | jq -s -e 'any(.[]; .rule == \"high_error_rate\" and .state == \"firing\" and .fingerprint == \"$FP\")'"
bm_eq "slack: summary text and warning colour" "[FIRING] high_error_rate worker=flaky #daa038" \
    "$(bodies /hook/slack | jq -r 'select(.text | contains("high_error_rate")) | "\(.text) \(.attachments[0].color)"' | head -1)"
bm_eq "pagerduty: trigger, routing key, dedup key, severity, component" \
    "trigger R0UTING busmon-$FP warning flaky" \
    "$(bodies /hook/pagerduty | jq -r 'select(.payload.group == "high_error_rate") | "\(.event_action) \(.routing_key) \(.dedup_key) \(.payload.severity) \(.payload.component)"' | head -1)"
bm_eq "alertmanager: labels, startsAt before endsAt" "high_error_rate flaky warning true" \
    "$(bodies /api/v2/alerts | jq -r '.[] | select(.labels.alertname == "high_error_rate") | "\(.labels.alertname) \(.labels.worker) \(.labels.severity) \(.startsAt < .endsAt)"' | head -1)"
bm_check "alertmanager: firing alerts are re-posted every evaluation (>= 3 posts)" bm_wait_for 5 \
    '[ "$(bodies /api/v2/alerts | jq -c "select(any(.[]; .labels.alertname == \"high_error_rate\"))" | wc -l)" -ge 3 ]'
if [ -n "$AM_PORT" ]; then
    bm_check "Alertmanager: the alert is active in /api/v2/alerts" bm_wait_for 10 \
        "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | jq -e 'any(.[]; .labels.alertname == \"high_error_rate\" and .labels.worker == \"flaky\" and .status.state == \"active\")'"
fi

# recovery: successful flaky results (flat encoding) bring the 1m error rate under 0.1
F=$("$BUSMON" worker flaky --json --window 1m | jq '.stats.failures')
N=$((10 * F + 20))
echo "flaky has $F failure(s) in its 1m window: sending $N successful results"
for i in $(seq "$N"); do
    echo "XADD busmon:events * type result tx ok-$i worker flaky ok true duration_ms 15"
done | redis-cli -p "$BM_PORT" >/dev/null
is_resolved='any(.[]; .rule == "high_error_rate" and .state == "resolved" and .labels.worker == "flaky")'
bm_check "high_error_rate resolves on busmon:alerts" bm_wait_for 20 \
    "records busmon:alerts | jq -s -e '$is_resolved'"
why='any(.[]; .rule == "high_error_rate" and .state == "resolved" and .value < 0.1 and .ends_at >= .starts_at)'
bm_check "the resolve says why: a value under the threshold, ends_at set" bm_wait_for 2 \
    "records busmon:alerts | jq -s -e '$why'"
J=$("$BUSMON" alerts --json)
bm_eq "busmon alerts --json: no longer firing" "" \
    "$(jq -r '.firing[] | select(.rule == "high_error_rate") | .rule' <<<"$J")"
bm_eq "busmon alerts --json: resolved is the latest of it in the history" resolved \
    "$(jq -r '[.history[] | select(.rule == "high_error_rate")][0].state' <<<"$J")"
bm_eq "the firing hash lost it" "" "$(bm_cli_raw HGET busmon:alerts:firing "$FP")"
bm_check "the watcher printed the resolve" bm_wait_for 5 "jq -s -e '$is_resolved' '$BM_TMP/watch.jsonl'"
bm_check "the watcher's records: RFC 3339 times, ends_at on the resolve" \
    jq -s -e "all(.[]; (.ts | $iso) and (.ts_unix | type == \"number\")) and any(.[]; .state == \"resolved\" and (.ends_at | $iso))" "$BM_TMP/watch.jsonl"
bm_check "generic: the resolve arrives" bm_wait_for 10 \
    "bodies /hook/generic | jq -s -e 'any(.[]; .fingerprint == \"$FP\" and .state == \"resolved\")'"
bm_eq "slack: resolved text and green" "[RESOLVED] high_error_rate worker=flaky #2eb886" \
    "$(bodies /hook/slack | jq -r 'select(.text | contains("RESOLVED] high_error_rate")) | "\(.text) \(.attachments[0].color)"' | head -1)"
bm_eq "pagerduty: resolve with the same dedup key" "resolve busmon-$FP" \
    "$(bodies /hook/pagerduty | jq -r 'select(.event_action == "resolve" and .dedup_key == "busmon-'"$FP"'") | "\(.event_action) \(.dedup_key)"' | head -1)"
bm_check "alertmanager: the resolved alert is posted with its endsAt" bm_wait_for 5 \
    "bodies /api/v2/alerts | jq -s -e 'any(.[][]; .labels.alertname == \"high_error_rate\" and .labels.worker == \"flaky\" and (.annotations.summary | startswith(\"[RESOLVED]\")))'"
if [ -n "$AM_PORT" ]; then
    bm_check "Alertmanager: the resolved alert leaves /api/v2/alerts" bm_wait_for 10 \
        "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | jq -e 'all(.[]; .labels.alertname != \"high_error_rate\")'"
fi
bm_eq "every webhook answer was 200" 200 "$(jq -r .status "$BM_TMP/recv.jsonl" | sort -u | paste -sd,)"

kill -INT "$W"; wait "$W"; rc=$?
bm_eq "busmon alerts --watch exits 0 on SIGINT" 0 "$rc"
bm_check "--watch --json: every line a JSON record (what is not one skipped)" \
    jq -s -e 'length > 0 and all(.[]; type == "object")' "$BM_TMP/watch.jsonl"
bm_check "--watch --json: the skipped messages counted on stderr" \
    grep -q "skipped a message that is not a JSON record (2 so far)" "$BM_TMP/watch.err"
kill -INT "$A"; wait "$A"; rc=$?
bm_eq "agent 1 exits 0 on SIGINT" 0 "$rc"
bm_eq "agent 1: every sink delivered everything (failed, dropped)" "0 0" \
    "$(jq -r '"\([.alerts.sinks[].failed] | add) \([.alerts.sinks[].dropped] | add)"' "$BM_TMP/summary1.json")"
bm_check "agent 1: notifications were written to the stream" \
    jqt '.alerts.published >= 2 and .alerts.published == .alerts.notifications' "$BM_TMP/summary1.json"
kill "$RECV_PID" 2>/dev/null

# --- 2. the receiver down: ingest unaffected, retries and drops counted -------------
DEAD=$(bm_free_port) # nothing listens there
cat >"$BM_TMP/down.yaml" <<EOF
alerts:
  stream: busmon:alerts2
  builtins: false
  rules:
    - name: any_failure         # repeats every second while flaky has failures
      metric: error_count
      scope: each_worker
      window: 1m
      op: ">"
      threshold: 0
      cooldown: 1s
    # the gauges: each rule below is true whenever its gauge is known
    - {name: lag_known, metric: consumer_lag, scope: each_stream, op: ">=", threshold: 0}
    - {name: pending_known, metric: pending, stream: bus2, op: ">=", threshold: 0}
    - {name: cpu_known, metric: cpu_percent, op: ">=", threshold: 0}
    - {name: memory_known, metric: memory_percent, op: ">", threshold: 0}
    - {name: deadletters, metric: deadletter_rate, op: ">", threshold: 0}
  webhooks:
    - name: down
      url: http://127.0.0.1:$DEAD/hook
      queue: 3
      max_attempts: 5
      backoff: 1s
      timeout: 1s
EOF
"$AGENT" --config "$BM_TMP/down.yaml" --stream bus2 --block-ms 100 --rollup-interval 1 \
    --alert-interval 200ms --consumer agent2 --summary "$BM_TMP/summary2.json" \
    >"$BM_TMP/agent2.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$PRODUCER" --stream bus2 --count 300 --rate 1500 --seed 11 --print-tx >"$BM_TMP/tx2.txt" 2>/dev/null ||
    echo "FAIL - the producer failed"
bm_check "receiver down: every entry is still read and acked promptly" bm_wait_for 10 'acked bus2'
TX=$(tail -1 "$BM_TMP/tx2.txt")
bm_eq "receiver down: the agent still traces events (busmon trace)" 0 \
    "$("$BUSMON" trace "$TX" >/dev/null 2>&1; echo $?)"
bm_check "receiver down: the alert is still on busmon:alerts2" bm_wait_for 10 \
    "records busmon:alerts2 | jq -s -e 'any(.[]; .rule == \"any_failure\" and .labels.worker == \"flaky\")'"
bm_cli XADD bus2 '*' note "not an event" >/dev/null # dead-lettered
for r in lag_known:bus2 pending_known:bus2 cpu_known: memory_known: deadletters:; do
    bm_check "gauge rule ${r%%:*} fires (its gauge is measured)" bm_wait_for 10 \
        "records busmon:alerts2 | jq -s -e 'any(.[]; .rule == \"${r%%:*}\" and (.labels.stream // \"\") == \"${r#*:}\")'"
done
bm_check "memory_percent is a percentage" bm_wait_for 1 \
    "records busmon:alerts2 | jq -s -e 'any(.[]; .rule == \"memory_known\" and .value > 0 and .value <= 100)'"
sleep 3 # repeats pile up behind the retries
t0=$SECONDS
kill -INT "$A"; wait "$A"; rc=$?
bm_eq "agent 2 exits 0 on SIGINT" 0 "$rc"
bm_check "agent 2: the stop is bounded by the 5 s flush deadline ($((SECONDS - t0)) s)" \
    [ $((SECONDS - t0)) -le 9 ]
S2="$BM_TMP/summary2.json"
bm_eq "agent 2: every entry applied (one dead-lettered)" "$(bm_cli_raw XLEN bus2)" \
    "$(jq '.events_applied + .deadletter' "$S2")"
bm_check "agent 2: retries counted ($(jq -c .alerts.sinks.down "$S2"))" \
    jqt '.alerts.sinks.down.retried > 0 and .alerts.sinks.down.attempt_errors > 0 and .alerts.sinks.down.sent == 0' "$S2"
bm_check "agent 2: the queue bound dropped notifications, counted" \
    jqt '.alerts.sinks.down.dropped > 0' "$S2"
bm_eq "agent 2: the connection failure logged once" 1 \
    "$(grep -c "webhook 'down'.*Couldn't connect\|webhook 'down'.*Failed to connect" "$BM_TMP/agent2.log")"
bm_check "agent 2: the stop reports what was not delivered" \
    grep -q "not delivered by the 5000 ms stop deadline" "$BM_TMP/agent2.log"

# --- 3. a bad rule or sink refuses to start -------------------------------------------
printf 'redis:\n  url: %s\nalerts:\n  rules:\n    - name: slow_research\n      metric: p95_latency\n      threshold: 100\n' \
    "$BM_URL" >"$BM_TMP/bad.yaml"
"$AGENT" --config "$BM_TMP/bad.yaml" >/dev/null 2>"$BM_TMP/bad.err"; rc=$?
bm_eq "a bad rule: exit 2" 2 "$rc"
bm_eq "a bad rule: one line on stderr" 1 "$(wc -l <"$BM_TMP/bad.err")"
bm_check "a bad rule: FILE:LINE and the reason ($(cat "$BM_TMP/bad.err"))" \
    grep -q "^busmon-agent: $BM_TMP/bad.yaml:6: rule 'slow_research': unknown metric 'p95_latency'" "$BM_TMP/bad.err"
"$AGENT" --config "$BM_TMP/bad.yaml" --check-config >/dev/null 2>"$BM_TMP/bad.err"; rc=$?
bm_eq "--check-config reports the bad rule: exit 2" "2 1" "$rc $(grep -c "bad.yaml:6: rule 'slow_research'" "$BM_TMP/bad.err")"
printf 'alerts:\n  webhooks:\n    - name: chat\n      format: slack\n      url: http://x/\n      retries: 3\n' \
    >"$BM_TMP/badsink.yaml"
"$AGENT" --config "$BM_TMP/badsink.yaml" --check-config >/dev/null 2>"$BM_TMP/badsink.err"; rc=$?
bm_eq "a bad sink: exit 2" 2 "$rc"
bm_check "a bad sink: FILE:LINE and the reason ($(cat "$BM_TMP/badsink.err"))" \
    grep -q "badsink.yaml:3: alerts.webhooks: sink 'chat': unknown key 'retries'" "$BM_TMP/badsink.err"
bm_eq "--alert-interval below 100ms is a usage error" 2 \
    "$("$AGENT" --alert-interval 50ms --check-config >/dev/null 2>&1; echo $?)"

# --- the CLI's edges ----------------------------------------------------------------
bm_eq "busmon alerts --count x: exit 2" 2 "$("$BUSMON" alerts --count x >/dev/null 2>&1; echo $?)"
bm_eq "busmon alerts --bogus: exit 2" 2 "$("$BUSMON" alerts --bogus >/dev/null 2>&1; echo $?)"
bm_eq "busmon alerts --help: exit 0" 0 "$("$BUSMON" alerts --help >/dev/null 2>&1; echo $?)"
bm_eq "busmon alerts, Redis down: exit 3" 3 \
    "$("$BUSMON" --redis "redis://127.0.0.1:$DEAD" alerts >/dev/null 2>&1; echo $?)"
bm_eq "busmon alerts --stream busmon:alerts2 reads the other stream" any_failure \
    "$("$BUSMON" alerts --json --stream busmon:alerts2 | jq -r '.history[0].rule')"

bm_eq "no sanitizer reports" "" "$(grep -l 'Sanitizer\|runtime error' "$BM_TMP"/*.log "$BM_TMP"/*.err 2>/dev/null)"
bm_finish
