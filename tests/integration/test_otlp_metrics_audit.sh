#!/usr/bin/env bash
# The OTLP worker metrics (jobs/otlp_metrics.c) against busmon's own figures,
# with bm-webhook-receiver standing in for the collector (the structure is
# test_otlp.sh's business; this test checks the figures):
#   1. busmon.worker.executions counts what busmon_worker_executions_total
#      counts: an answer that came after busmon timed its command out is late,
#      not a second execution, and an error type "Timeout" (any case) is a
#      timeout, as everywhere else in busmon;
#   2. the table of workers is bounded as the monitor's is: full, it evicts a
#      worker idle limits.max_idle for a new one (it refused every new worker
#      for ever once max_workers names had come), and the new worker's
#      cumulative points start when it came.
#   3. an entry claimed from a dead consumer whose event this agent already
#      applied (a producer's retry read by another consumer) is a duplicate:
#      not a second execution, and its transaction's spans go out once; an
#      answer read before its command counts as /metrics counts it: naming
#      no worker, an execution of its command's worker once the command
#      comes (it was not counted at all), naming no duration, its duration
#      then (the histogram's count fell short of the executions); a duration
#      of 0 is in the histogram's zeroCount (OTLP's data model), not in a
#      positive bucket just under 1 µs.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_start_receiver rx
RX_PORT=$BM_RX_PORT

# the newest metrics request, and its executions: "worker/status=N" sorted, one line
last_metrics() { jq -c 'select(.path == "/v1/metrics") | .body | fromjson' "$BM_TMP/rx.jsonl" | tail -1; }
otlp_executions() {
    last_metrics | jq -r '.resourceMetrics[0].scopeMetrics[0].metrics[] | select(.name == "busmon.worker.executions")
               | .sum.dataPoints[] | "\([.attributes[].value.stringValue] | join("/"))=\(.asInt)"' |
        sort | tr '\n' ' ' | sed 's/ $//'
}
# the same from /metrics
prom_executions() {
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" |
        sed -n 's/^busmon_worker_executions_total{worker="\([^"]*\)",status="\([^"]*\)"} \([0-9]*\)$/\1\/\2=\3/p' |
        sort | tr '\n' ' ' | sed 's/ $//'
}
metrics_requests() { jq -c 'select(.path == "/v1/metrics")' "$BM_TMP/rx.jsonl" | wc -l; }

# --- 1. late answers and the timeout rule -------------------------------------
S=audit
HTTP_PORT=$(bm_free_port)
BUSMON_OTLP_METRICS_INTERVAL=300ms BUSMON_WORKER_MONITORING_TIMEOUT_GRACE=0s \
    bm_bg "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$S" --group g --consumer c1 \
    --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --otlp-endpoint "http://127.0.0.1:$RX_PORT"
AGENT_PID=$BM_LAST_PID
bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent did not start"; cat "$BM_TMP"/*.log; exit 1; }

NOW=$(($(date +%s) * 1000000))
# slow: a command busmon times out after 1 s, then its answer comes, late
bm_cli XADD $S '*' type command id c1 tx tx1 worker slow step s timeout_seconds 1 ts $NOW >/dev/null
bm_check "1: busmon times the command out" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT 'busmon_worker_executions_total{worker=\"slow\",status=\"timeout\"}')\" = 1 ]"
bm_cli XADD $S '*' type result id r1 tx tx1 cmd c1 worker slow step s ok true ts $((NOW + 3000000)) >/dev/null
# other: its own timeout, spelled "Timeout"
bm_cli XADD $S '*' type command id c2 tx tx2 worker other step s ts $NOW >/dev/null
bm_cli XADD $S '*' type error id e2 tx tx2 cmd c2 worker other step s error_type Timeout \
    error "Timeout: gave up" ts $((NOW + 200000)) >/dev/null
bm_check "1: the late answer and the error are read" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT 'busmon_events_total{type=\"result\",status=\"late\"}')\" = 1 ] &&
     [ \"\$(bm_metric $HTTP_PORT 'busmon_worker_executions_total{worker=\"other\",status=\"timeout\"}')\" = 1 ]"
n=$(metrics_requests)
bm_check "1: a metrics export after them" bm_wait_for 10 "[ \$(metrics_requests) -gt $((n + 1)) ]"
bm_eq "1: /metrics: slow timed out once, other timed out once" \
    "other/failure=0 other/success=0 other/timeout=1 slow/failure=0 slow/success=0 slow/timeout=1" \
    "$(prom_executions)"
bm_eq "1: OTLP executions are the same (the late answer is no success, \"Timeout\" a timeout)" \
    "$(prom_executions)" "$(otlp_executions)"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 2. a full table evicts an idle worker -------------------------------------
S=evict
HTTP_PORT=$(bm_free_port)
: >"$BM_TMP/rx.jsonl"
BUSMON_OTLP_METRICS_INTERVAL=300ms BUSMON_WORKER_MONITORING_MAX_WORKERS=3 BUSMON_LIMITS_MAX_IDLE=1s \
    bm_bg "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$S" --group g --consumer c2 \
    --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --otlp-endpoint "http://127.0.0.1:$RX_PORT"
AGENT_PID=$BM_LAST_PID
bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent did not start"; exit 1; }
NOW=$(($(date +%s) * 1000000))
for w in j1 j2 j3; do
    bm_cli XADD $S '*' type command id c-$w tx t-$w worker $w step s ts $NOW >/dev/null
    bm_cli XADD $S '*' type result id r-$w tx t-$w cmd c-$w worker $w step s ok true ts $((NOW + 1000)) >/dev/null
done
bm_check "2: three workers fill the table" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT busmon_otlp_metrics_workers)\" = 3 ]"
IDLE_FROM=$(date +%s%N)
bm_wait_for 5 "[ \$(date +%s%N) -gt $((IDLE_FROM + 1500000000)) ]"   # past limits.max_idle
bm_cli XADD $S '*' type command id c-new tx t-new worker newcomer step s ts $((NOW + 2000000)) >/dev/null
bm_cli XADD $S '*' type result id r-new tx t-new cmd c-new worker newcomer step s ok true ts $((NOW + 2001000)) >/dev/null
bm_check "2: the newcomer is in the OTLP metrics" bm_wait_for 10 \
    "otlp_executions | grep -q 'newcomer/success=1'"
bm_eq "2: nothing refused, one idle worker evicted" "0 1" \
    "$(bm_metric $HTTP_PORT busmon_otlp_metrics_workers_refused_total) $(bm_metric $HTTP_PORT busmon_otlp_metrics_workers_evicted_total)"
bm_eq "2: the newcomer's points start after the agent's (it came after an eviction)" true \
    "$(jq -c 'select(.path == "/v1/metrics") | .body | fromjson' "$BM_TMP/rx.jsonl" | tail -1 |
       jq '[.resourceMetrics[0].scopeMetrics[0].metrics[] | select(.name == "busmon.worker.executions") | .sum.dataPoints[]
            | {w: .attributes[0].value.stringValue, s: (.startTimeUnixNano | tonumber)}]
           | (map(select(.w == "newcomer") | .s) | min) > (map(select(.w != "newcomer") | .s) | max)')"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 3. unusual paths --------------------------------------------------------------
# a field of WORKER's duration point in the newest metrics request: duration FIELD WORKER
duration() {
    last_metrics | jq -r --arg w "$2" '.resourceMetrics[0].scopeMetrics[0].metrics[]
        | select(.name == "busmon.worker.duration") | .exponentialHistogram.dataPoints[]
        | select(.attributes[0].value.stringValue == $w) | '"$1"
}
S=agree
: >"$BM_TMP/rx.jsonl"
NOW=$(($(date +%s) * 1000000))
# a producer's retry: a copy of result r-d read by consumer "ghost", which dies
bm_cli XGROUP CREATE $S g 0 MKSTREAM >/dev/null
bm_cli XADD $S '*' type result id r-d tx t-d cmd c-d worker dup step s ok true ts $((NOW + 1000)) >/dev/null
bm_cli XREADGROUP GROUP g ghost COUNT 1 STREAMS $S '>' >/dev/null
# answers before their command: one names no worker, one no duration
bm_cli XADD $S '*' type result id r-a tx t-a cmd c-a step s ok true ts $((NOW + 5000)) >/dev/null
bm_cli XADD $S '*' type command id c-a tx t-a worker early step s ts $NOW >/dev/null
bm_cli XADD $S '*' type result id r-b tx t-b cmd c-b worker nodur step s ok true ts $((NOW + 7000)) >/dev/null
bm_cli XADD $S '*' type command id c-b tx t-b worker nodur step s ts $NOW >/dev/null
# the original of the copy, read by the agent
bm_cli XADD $S '*' type command id c-d tx t-d worker dup step s ts $NOW >/dev/null
bm_cli XADD $S '*' type result id r-d tx t-d cmd c-d worker dup step s ok true ts $((NOW + 1000)) >/dev/null
# a zero duration
bm_cli XADD $S '*' type command id c-z tx t-z worker zero step s ts $NOW >/dev/null
bm_cli XADD $S '*' type result id r-z tx t-z cmd c-z worker zero step s ok true duration_ms 0 \
    ts $NOW >/dev/null
HTTP_PORT=$(bm_free_port)
# the ghost's copy is claimed 3 s after it was read: long after the agent read the original
BUSMON_OTLP_METRICS_INTERVAL=300ms BUSMON_RECLAIM_INTERVAL=300ms BUSMON_RECLAIM_MIN_IDLE=3s \
    BUSMON_OTLP_SETTLE=200ms \
    bm_bg "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$S" --group g --consumer c3 \
    --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --otlp-endpoint "http://127.0.0.1:$RX_PORT"
AGENT_PID=$BM_LAST_PID
bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent did not start"; exit 1; }
bm_check "3: the agent applied its own eight entries" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT 'busmon_worker_executions_total{worker=\"zero\",status=\"success\"}')\" = 1 ]"
bm_check "3: the ghost's copy is claimed, a duplicate" bm_wait_for 15 \
    "[ \"\$(bm_metric $HTTP_PORT busmon_reclaimed_total)\" = 1 ] &&
     [ \"\$(bm_metric $HTTP_PORT busmon_events_duplicate_total)\" = 1 ]"
n=$(metrics_requests)
bm_check "3: a metrics export after the claim" bm_wait_for 10 "[ \$(metrics_requests) -gt $((n + 1)) ]"
EXPECT="dup/failure=0 dup/success=1 dup/timeout=0 early/failure=0 early/success=1 early/timeout=0"
EXPECT="$EXPECT nodur/failure=0 nodur/success=1 nodur/timeout=0 zero/failure=0 zero/success=1 zero/timeout=0"
bm_eq "3: /metrics: one execution each" "$EXPECT" "$(prom_executions)"
bm_eq "3: OTLP executions are the same (the duplicate once, the early answer its command's worker's)" \
    "$(prom_executions)" "$(otlp_executions)"
bm_eq "3: an answer with no duration has it in the histogram once its command came (count, sum)" \
    "1 0.007" "$(duration .count nodur) $(duration .sum nodur)"
bm_eq "3: an answer naming no worker: in its command's worker's histogram" \
    "1 0.005" "$(duration .count early) $(duration .sum early)"
bm_eq "3: a zero duration is in zeroCount, in no positive bucket (count, zeroCount, positive, min)" \
    "1 1 0 0" "$(duration .count zero) $(duration .zeroCount zero) $(duration '[.positive.bucketCounts[]? | tonumber] | add // 0' zero) $(duration .min zero)"
bm_check "3: spans went out" bm_wait_for 10 "grep -q '/v1/traces' '$BM_TMP/rx.jsonl'"
bm_eq "3: the duplicate's step went out as a span once" 1 \
    "$(jq -c 'select(.path == "/v1/traces") | .body | fromjson' "$BM_TMP/rx.jsonl" |
       jq -r '.resourceSpans[].scopeSpans[].spans[] | select(.name == "dup/s") | .spanId' | wc -l)"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

bm_finish
