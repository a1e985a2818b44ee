#!/usr/bin/env bash
# OpenTelemetry export and tail sampling (issue 16), against a real redis-server
# and bm-webhook-receiver standing in for an OTLP/HTTP Collector (it records each
# request; jq checks every body's OTLP JSON structure):
#   1. a hand-written workload: one trace per transaction, trace id = the UUID,
#      a root span and one child span per command with the right parent, ids,
#      nanosecond times, kinds, statuses, attributes and events; worker metrics
#      (Sum by status, ExponentialHistogram counts, gauges) with the resource;
#   2. the demo producer's workload: span counts per worker and status equal its
#      ground truth, and so do the histogram counts;
#   3. 503 with Retry-After, then 200: retried after the wait, nothing lost;
#   4. receiver down: ingest unaffected (every entry acked), spans dropped at the
#      queue bound and counted on /metrics;
#   5. tail sampling at rate 0.1 with known failures: every failed transaction
#      stored, 10 % +- 2 points of the rest, `busmon trace` says "sampled out",
#      and two agents keep exactly the same transactions.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
RECV="$BM_BUILD/bm-webhook-receiver"
PRODUCER="$BM_BUILD/busmon-demo-producer"
BUSMON="$BM_BUILD/busmon"
bm_start_redis

# start_receiver NAME [flags...]: sets PORT; requests in $BM_TMP/NAME.jsonl
start_receiver() {
    local name=$1; shift
    "$RECV" --out "$BM_TMP/$name.jsonl" --port-file "$BM_TMP/$name.port" --max-seconds 120 "$@" \
        >"$BM_TMP/$name.receiver.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/$name.port' ]" || { echo "receiver $name did not start"; exit 1; }
    PORT=$(cat "$BM_TMP/$name.port")
    touch "$BM_TMP/$name.jsonl"
}

# start_agent NAME STREAM [flags...]: the agent, its /metrics on HTTP_PORT
start_agent() {
    local name=$1 stream=$2; shift 2
    HTTP_PORT=$(bm_free_port)
    BUSMON_LIMITS_MAX_CLOCK_SKEW=0 "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$stream" \
        --group "g-$name" --consumer "$name" --block-ms 100 --http "127.0.0.1:$HTTP_PORT" \
        --log-level info "$@" >"$BM_TMP/agent-$name.log" 2>&1 &
    BM_PIDS+=($!)
    AGENT_PID=$!
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent $name did not start"; cat "$BM_TMP/agent-$name.log"; exit 1; }
}
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }
pending() { redis-cli -p "$BM_PORT" XPENDING "$1" "$2" | head -1; }

# bodies NAME PATH: every request body to PATH, one JSON document a line
bodies() { jq -c "select(.path == \"$2\") | .body | fromjson" "$BM_TMP/$1.jsonl"; }
# spans NAME: every span of every traces request, one a line, with its resource
spans() { bodies "$1" /v1/traces | jq -c '.resourceSpans[] | .resource as $r | .scopeSpans[].spans[] | . + {resource: $r}'; }

# OTLP JSON structure (ExportTraceServiceRequest): hex ids of the right length,
# enums as integers, 64-bit times as decimal strings, attributes as AnyValues
VALID_TRACES='
def anyvalue: (keys | length == 1) and (.stringValue // .boolValue // .doubleValue // (.intValue | strings | test("^-?[0-9]+$")) | . != null);
def attrs: type == "array" and all(.[]; (.key | type == "string") and (.value | anyvalue));
def nanos: type == "string" and test("^[0-9]+$");
(.resourceSpans | type == "array" and length > 0) and all(.resourceSpans[];
  (.resource.attributes | attrs) and all(.scopeSpans[];
    (.scope.name | type == "string") and all(.spans[];
      (.traceId | test("^[0-9a-f]{32}$")) and (.spanId | test("^[0-9a-f]{16}$"))
      and ((.parentSpanId // "0000000000000000") | test("^[0-9a-f]{16}$"))
      and (.name | type == "string") and (.kind | type == "number" and . >= 0 and . <= 5)
      and (.startTimeUnixNano | nanos) and (.endTimeUnixNano | nanos)
      and ((.endTimeUnixNano | tonumber) >= (.startTimeUnixNano | tonumber))
      and (.attributes | attrs)
      and all((.events // [])[]; (.timeUnixNano | nanos) and (.name | type == "string") and (.attributes | attrs))
      and (.status.code | type == "number" and . >= 0 and . <= 2))))'
VALID_METRICS='
def nanos: type == "string" and test("^[0-9]+$");
def u64: type == "string" and test("^[0-9]+$");
(.resourceMetrics | length > 0) and all(.resourceMetrics[].scopeMetrics[].metrics[];
  (.name | type == "string") and (.unit | type == "string") and
  ((.sum and .sum.aggregationTemporality == 2 and .sum.isMonotonic == true and all(.sum.dataPoints[]; (.asInt | u64) and (.timeUnixNano | nanos) and (.startTimeUnixNano | nanos)))
   or (.gauge and all(.gauge.dataPoints[]; (.asInt | u64) and (.timeUnixNano | nanos)))
   or (.exponentialHistogram and .exponentialHistogram.aggregationTemporality == 2 and
       all(.exponentialHistogram.dataPoints[]; (.count | u64) and (.scale | type == "number") and
           (.zeroCount | u64) and (.positive.offset | type == "number") and all(.positive.bucketCounts[]; u64) and
           ((.count | tonumber) == ([.positive.bucketCounts[] | tonumber] | add // 0) + (.zeroCount | tonumber))))))'

export BUSMON_OTLP_SETTLE=300ms BUSMON_OTLP_FLUSH_INTERVAL=200ms BUSMON_OTLP_METRICS_INTERVAL=500ms

# --- 1. a hand-written workload ---------------------------------------------------
start_receiver hand
S=hand
NOW=$(($(date +%s) * 1000000))
TX=6f9619ff-8b86-d011-b42d-00c04fc964ff   # a UUID: the trace id is its hex
bm_cli XADD $S '*' type command id c1 tx $TX worker fetcher step fetch ts $NOW >/dev/null
bm_cli XADD $S '*' type result id r1 tx $TX cmd c1 worker fetcher step fetch ts $((NOW + 20000)) duration_ms 19 ok true >/dev/null
bm_cli XADD $S '*' type command id c2 tx $TX worker flaky step analyze ts $((NOW + 30000)) >/dev/null
bm_cli XADD $S '*' type error id e2 tx $TX cmd c2 worker flaky step analyze ts $((NOW + 80000)) error "NetworkError: connection reset" >/dev/null
bm_cli XADD $S '*' type compensation id k1 tx $TX worker fetcher step undo_fetch cmd c1 ts $((NOW + 90000)) >/dev/null
bm_cli XADD $S '*' type command id c3 tx tx-plain worker fetcher step fetch ts $NOW >/dev/null
bm_cli XADD $S '*' type result id r3 tx tx-plain cmd c3 worker fetcher step fetch ts $((NOW + 5000)) ok true >/dev/null
BUSMON_OTLP_SERVICE_NAME=shop start_agent hand $S --otlp-endpoint "http://127.0.0.1:$PORT"
bm_check "1: both transactions' spans arrive" bm_wait_for 20 '[ "$(spans hand | wc -l)" -ge 5 ]'
bm_check "1: metrics arrive" bm_wait_for 10 '[ "$(bodies hand /v1/metrics | wc -l)" -ge 1 ]'
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
bm_finish
