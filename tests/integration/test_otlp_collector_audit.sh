#!/usr/bin/env bash
# What a collector that does not answer as OTLP/HTTP JSON expects, and a
# transaction exported twice (agent/outputs/otlp.c, http_post.c, lib/otlp.c),
# with bm-webhook-receiver standing in for the collector:
#   1. a 2xx reply in protobuf (Content-Type application/x-protobuf) to a
#      JSON request: its partial success cannot be read; counted in
#      busmon_otlp_replies_unread_total{signal} and warned, a line a minute
#      at most per signal; delivered all the same;
#   2. a 3xx redirect is not followed (the headers carry the API key): a
#      failure, not sent again, logged naming where the Location points
#      (its origin: a path or query may carry a token) and saying so;
#   3. a transaction exported again with only what came since (its trace
#      left memory: --max-transactions 2) has a root span of its own: no
#      span id twice in its trace;
#   4. a metrics export refused at the full queue (the collector down) is
#      dropped, not also failed: busmon_output_failed_total counts what was
#      given up after its attempts, not a request that was never sent.
source "$(dirname "$0")/lib.sh"
bm_start_redis
export BUSMON_OTLP_SETTLE=100ms BUSMON_OTLP_FLUSH_INTERVAL=100ms BUSMON_OTLP_METRICS_INTERVAL=300ms

# start_rx NAME [receiver options...]: the receiver; sets RX_PORT
start_rx() {
    local name=$1
    shift
    "$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/$name.jsonl" --port-file "$BM_TMP/$name.port" \
        --max-seconds 120 "$@" >"$BM_TMP/$name.rx.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/$name.port' ]" || { echo "receiver $name did not start"; cat "$BM_TMP/$name.rx.log"; exit 1; }
    RX_PORT=$(cat "$BM_TMP/$name.port")
}
# start_agent NAME [agent options...]: the agent on stream NAME exporting to RX_PORT
start_agent() {
    local name=$1
    shift
    HTTP_PORT=$(bm_free_port)
    BUSMON_LIMITS_MAX_CLOCK_SKEW=0 "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$name" \
        --group g --consumer "$name" --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --log-level info \
        --otlp-endpoint "http://127.0.0.1:$RX_PORT" "$@" >"$BM_TMP/agent-$name.log" 2>&1 &
    BM_PIDS+=($!)
    AGENT_PID=$!
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent $name did not start"; cat "$BM_TMP/agent-$name.log"; exit 1; }
}
# step STREAM TX CMD TS_US: one command of TX and its answer 1 ms later
step() {
    bm_cli XADD "$1" '*' type command id "$3" tx "$2" worker w step s ts "$4" >/dev/null
    bm_cli XADD "$1" '*' type result id "r-$3" tx "$2" cmd "$3" worker w step s ts $(($4 + 1000)) ok true >/dev/null
}
NOW=$(($(date +%s) * 1000000))
requests() { jq -c "select(.path == \"/v1/$2\")" "$BM_TMP/$1.jsonl" 2>/dev/null | wc -l; }
otlp_out() { bm_metric "$HTTP_PORT" "busmon_output_$1_total{output=\"otlp\",type=\"otlp\"}"; }
unread() { bm_metric "$HTTP_PORT" "busmon_otlp_replies_unread_total{signal=\"$1\"}"; }

# --- 1. a reply in protobuf ------------------------------------------------------------
# an ExportTraceServiceResponse with partial_success {rejected_spans: 3,
# error_message: "quota"}: field 1 (len 9) { field 1 varint 3, field 2 "quota" }
printf '\x0a\x09\x08\x03\x12\x05quota' >"$BM_TMP/partial.pb"
start_rx pb --reply-file "$BM_TMP/partial.pb" --reply-type application/x-protobuf
start_agent pb
step pb tx-pb c1 "$NOW"
bm_check "1: spans and at least 3 metrics exports answered" bm_wait_for 20 \
    "[ \$(requests pb traces) -ge 1 ] && [ \$(requests pb metrics) -ge 3 ]"
bm_check "1: busmon_otlp_replies_unread_total counts each signal's protobuf replies" bm_wait_for 10 \
    "[ \"\$(unread traces)\" = \$(requests pb traces) ] && [ \"\$(unread metrics)\" -ge 3 ]"
bm_eq "1: its HELP line says what it counts" 1 \
    "$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -c '^# HELP busmon_otlp_replies_unread_total .*protobuf')"
bm_check "1: warned: the traces reply's type, and that its partial success is not read" \
    grep -q 'a traces reply (2xx) of type application/x-protobuf, not JSON.*partial success in it is not read' "$BM_TMP/agent-pb.log"
bm_eq "1: the metrics replies warned once in the minute (3 or more came)" 1 \
    "$(grep -c 'a metrics reply (2xx) of type application/x-protobuf' "$BM_TMP/agent-pb.log")"
bm_eq "1: a warning, not a debug line" 1 \
    "$(grep 'a metrics reply (2xx) of type' "$BM_TMP/agent-pb.log" | grep -c '"level":"warn')"
bm_eq "1: delivered: nothing failed, nothing rejected counted" "0 0" \
    "$(otlp_out failed) $(bm_metric "$HTTP_PORT" 'busmon_otlp_rejected_total{signal="traces"}')"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 2. a redirect ---------------------------------------------------------------------
# to another port where a second receiver listens: never reached (it would
# get the headers), the token in the Location's query never logged
start_rx other
OTHER_PORT=$RX_PORT
start_rx redirect --fail-first 1000 --fail-status 307 \
    --location "http://127.0.0.1:$OTHER_PORT/v1/traces?token=s3cr3t-in-query"
BUSMON_OTLP_METRICS=false BUSMON_OTLP_BACKOFF=100ms start_agent redirect
step redirect tx-redirect c1 "$NOW"
bm_check "2: the traces request is answered 307" bm_wait_for 20 "[ \$(requests redirect traces) -ge 1 ]"
bm_check "2: counted failed" bm_wait_for 5 "[ \"\$(otlp_out failed)\" = 1 ]"
sleep 1 # a retry would come after the 100 ms backoff
bm_eq "2: not sent again, and not followed: one request, nothing retried, none elsewhere" "1 0 0" \
    "$(requests redirect traces) $(otlp_out retried) $(jq -s length "$BM_TMP/other.jsonl" 2>/dev/null || echo 0)"
bm_check "2: logged: where it points (the origin) and that redirects are not followed" \
    grep -q "HTTP 307, a redirect to http://127.0.0.1:$OTHER_PORT: redirects are not followed" "$BM_TMP/agent-redirect.log"
bm_eq "2: the Location's query (a token) is not logged" 0 "$(grep -c 's3cr3t' "$BM_TMP/agent-redirect.log")"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 3. a transaction exported twice ---------------------------------------------------
start_rx again
BUSMON_OTLP_METRICS=false start_agent again --max-transactions 2
spans_of() { jq -c 'select(.path == "/v1/traces") | .body | fromjson | .resourceSpans[].scopeSpans[].spans[]' "$BM_TMP/again.jsonl"; }
step again tx-a a1 "$NOW"
bm_check "3: tx-a exported" bm_wait_for 20 "[ \$(spans_of | jq -s 'map(select(.name == \"transaction\")) | length') -ge 1 ]"
# three more transactions: tx-a's trace leaves memory, and the agent forgets it
roots() { spans_of | jq -s 'map(select(.name == "transaction")) | length'; }
for i in 1 2 3; do
    step again "tx-$i" "b$i" $((NOW + i * 1000))
    bm_check "3: tx-$i exported" bm_wait_for 20 "[ \$(roots) -ge $((i + 1)) ]"
done
bm_check "3: tx-a's trace left memory" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT busmon_traces_evicted_total)\" -ge 2 ]"
# a later step of tx-a: a new trace, exported again with what came since
step again tx-a a2 $((NOW + 10000000))
bm_check "3: tx-a exported again" bm_wait_for 20 "[ \$(roots) -ge 5 ]"
TA=$(spans_of | jq -r 'select(.name == "transaction" and any(.attributes[]; .key == "busmon.transaction_id" and .value.stringValue == "tx-a")) | .traceId' | head -1)
bm_eq "3: tx-a: two roots, two steps in one trace" "2 2" \
    "$(spans_of | jq -s -r --arg t "$TA" 'map(select(.traceId == $t)) | "\(map(select(.name == "transaction")) | length) \(map(select(.name != "transaction")) | length)"')"
bm_eq "3: no span id twice in tx-a's trace" "4" \
    "$(spans_of | jq -s -r --arg t "$TA" 'map(select(.traceId == $t) | .spanId) | unique | length')"
bm_eq "3: each step's parent is its own export's root" "true" \
    "$(spans_of | jq -s -r --arg t "$TA" 'map(select(.traceId == $t)) | (map(select(.name == "transaction") | .spanId)) as $roots | all(.[] | select(.name != "transaction"); .parentSpanId as $p | $roots | index($p) != null)')"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 4. metrics exports refused while the collector is down ----------------------------
# every 100 ms an export; the metrics queue holds 4, each retried for ~15 s
# (backoff 1 s doubled, 5 attempts): in the first seconds nothing is given up
RX_PORT=$(bm_free_port)
BUSMON_OTLP_METRICS_INTERVAL=100ms BUSMON_OTLP_TRACES=false start_agent down
step down tx-d d1 "$NOW"
bm_check "4: metrics exports refused at the full queue" bm_wait_for 10 \
    "[ \"\$(bm_metric $HTTP_PORT busmon_otlp_metrics_exports_refused_total)\" -ge 3 ]"
bm_eq "4: each refused export dropped, none given up yet: failed 0" "true 0" \
    "$([ "$(otlp_out dropped)" -ge 3 ] && echo true) $(otlp_out failed)"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
bm_finish
