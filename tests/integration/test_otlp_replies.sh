#!/usr/bin/env bash
# What an OTLP collector answers, read (agent/outputs/otlp.c, lib/otlp_reply.c),
# with bm-webhook-receiver standing in for the collector and answering each
# request 200 with a body of our choosing (--reply-file):
#   1. a partial success (OTLP/HTTP: a 200 whose ExportTraceServiceResponse /
#      ExportMetricsServiceResponse names rejected spans / data points and an
#      error_message) is counted in busmon_otlp_rejected_total{signal} and
#      logged with the collector's message, a line a minute at most per
#      signal; the request is delivered, not sent again;
#   2. a reply body that is not an OTLP response (cut JSON, a count that is
#      not one, binary bytes, a body over the 64 KiB read) is logged and
#      counts nothing; the agent lives on and delivery is unaffected;
#   3. a 200 announcing a body far over the 64 KiB read is delivered at once,
#      not held until the timeout;
#   4. a 400 whose body is cut short or trickles is a 400: failed, not sent
#      again (OTLP/HTTP: MUST NOT), and not held until the timeout;
#   5. the waits between retries have a random jitter (OTLP/HTTP: must);
#   6. a refusal's reason (its body's first bytes) is logged on one line of
#      valid UTF-8 without control characters, whatever bytes it holds.
source "$(dirname "$0")/lib.sh"
bm_start_redis
export BUSMON_OTLP_SETTLE=100ms BUSMON_OTLP_FLUSH_INTERVAL=100ms BUSMON_OTLP_METRICS_INTERVAL=300ms

# start_rx NAME FILE [TYPE]: the receiver answering FILE's bytes; sets RX_PORT
start_rx() {
    "$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/$1.jsonl" --port-file "$BM_TMP/$1.port" \
        --max-seconds 120 --reply-file "$2" ${3:+--reply-type "$3"} >"$BM_TMP/$1.rx.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/$1.port' ]" || { echo "receiver $1 did not start"; cat "$BM_TMP/$1.rx.log"; exit 1; }
    RX_PORT=$(cat "$BM_TMP/$1.port")
}
# start_agent NAME: the agent on stream NAME exporting to RX_PORT; sets HTTP_PORT, AGENT_PID
start_agent() {
    HTTP_PORT=$(bm_free_port)
    BUSMON_LIMITS_MAX_CLOCK_SKEW=0 "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$1" \
        --group g --consumer "$1" --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --log-level info \
        --otlp-endpoint "http://127.0.0.1:$RX_PORT" >"$BM_TMP/agent-$1.log" 2>&1 &
    BM_PIDS+=($!)
    AGENT_PID=$!
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics" || { echo "agent $1 did not start"; cat "$BM_TMP/agent-$1.log"; exit 1; }
}
# transactions STREAM N: N finished transactions of one command each
transactions() {
    local now=$(($(date +%s) * 1000000)) i
    for ((i = 0; i < $2; i++)); do
        bm_cli XADD "$1" '*' type command id "c$i" tx "$1-$i" worker w step s ts "$now" >/dev/null
        bm_cli XADD "$1" '*' type result id "r$i" tx "$1-$i" cmd "c$i" worker w step s ts $((now + 1000)) ok true >/dev/null
    done
}
rejected() { bm_metric "$HTTP_PORT" "busmon_otlp_rejected_total{signal=\"$1\"}"; }
requests() { jq -c "select(.path == \"/v1/$2\")" "$BM_TMP/$1.jsonl" 2>/dev/null | wc -l; }
# logged FILE TEXT: the agent's log has TEXT (as written: the log is JSON when
# not a terminal, so quotes come escaped); its otlp lines on stderr otherwise
logged() { grep -qF -- "$2" "$1" && return 0; grep -F "otlp '" "$1" | head -5 >&2; return 1; }
otlp_out() { bm_metric "$HTTP_PORT" "busmon_output_$1_total{output=\"otlp\",type=\"otlp\"}"; }

# --- 1. a partial success ------------------------------------------------------------
# one body for both paths: a trace export reads rejectedSpans, a metrics export
# rejectedDataPoints (each reads its own field; the other is ignored)
printf '%s' '{"partialSuccess":{"rejectedSpans":"3","rejectedDataPoints":5,"errorMessage":"quota\nexceeded for tenant-7"}}' >"$BM_TMP/partial.json"
start_rx partial "$BM_TMP/partial.json"
start_agent partial
transactions partial 2
bm_check "1: spans and at least 3 metrics exports answered" bm_wait_for 20 \
    "[ \$(requests partial traces) -ge 1 ] && [ \$(requests partial metrics) -ge 3 ]"
bm_check "1: busmon_otlp_rejected_total{signal=\"traces\"} counts 3 a traces request" bm_wait_for 10 \
    "[ \"\$(rejected traces)\" = \$((3 * \$(requests partial traces))) ] && [ \"\$(rejected traces)\" -gt 0 ]"
bm_check "1: busmon_otlp_rejected_total{signal=\"metrics\"} counts 5 a metrics request" bm_wait_for 10 \
    "r=\$(rejected metrics); [ -n \"\$r\" ] && [ \"\$r\" -ge 15 ] && [ \$((r % 5)) = 0 ]"
bm_eq "1: the HELP line says what it counts" 1 \
    "$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -c '^# HELP busmon_otlp_rejected_total .*partial success')"
bm_check "1: logged: the rejected spans and the collector's message (on one line)" \
    logged "$BM_TMP/agent-partial.log" 'rejected 3 span(s) of a traces request (partial success): \"quota exceeded for tenant-7\"'
bm_check "1: logged: the rejected data points" \
    logged "$BM_TMP/agent-partial.log" "rejected 5 data point(s) of a metrics request (partial success)"
bm_eq "1: the metrics' partial successes logged once in the minute (3 or more came)" 1 \
    "$(grep -c 'data point(s) of a metrics request' "$BM_TMP/agent-partial.log")"
bm_eq "1: delivered: nothing failed, nothing sent again" "0 0" "$(otlp_out failed) $(otlp_out retried)"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 2. reply bodies that are not OTLP responses -----------------------------------------
# (a JSON one says so in its log; none counts; the agent lives on)
printf '%s' '{"partialSuccess":{"rejectedSpans":"3","errorMess' >"$BM_TMP/cut.json"
printf '%s' '{"partialSuccess":{"rejectedSpans":"-3","rejectedDataPoints":"-5"}}' >"$BM_TMP/negative.json"
printf '%s' '{"partialSuccess":{"rejectedSpans":"99999999999","rejectedDataPoints":"99999999999"}}' >"$BM_TMP/toomany.json"
head -c 3000 /dev/urandom >"$BM_TMP/binary.bin"
# 1 MiB of JSON: a partial success past the 64 KiB read
{ printf '{"pad":"'; head -c 1000000 /dev/zero | tr '\0' x; printf '","partialSuccess":{"rejectedSpans":"3","rejectedDataPoints":"5"}}'; } >"$BM_TMP/huge.json"
for c in cut negative toomany binary huge; do
    f=$(ls "$BM_TMP/$c".*)
    start_rx "$c" "$f"
    start_agent "$c"
    transactions "$c" 2
    bm_check "2 $c: spans and 2 metrics exports answered" bm_wait_for 20 \
        "[ \$(requests $c traces) -ge 1 ] && [ \$(requests $c metrics) -ge 2 ] && [ \"\$(otlp_out sent)\" -ge 3 ]"
    bm_eq "2 $c: nothing counted rejected, the agent alive, nothing failed" "0 0 alive 0" \
        "$(rejected traces) $(rejected metrics) $(kill -0 "$AGENT_PID" 2>/dev/null && echo alive) $(otlp_out failed)"
    bm_check "2 $c: logged: not an OTLP response" \
        logged "$BM_TMP/agent-$c.log" "reply (2xx) is not an OTLP response, its partial success not read"
    kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
done

# --- 3. a 200 announcing more than is read: done at once ---------------------------------
# (not held a connection and a slot until the 10 s timeout: the body may never come)
"$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/stuck.jsonl" --port-file "$BM_TMP/stuck.port" \
    --max-seconds 120 --body-mode stuck >"$BM_TMP/stuck.rx.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/stuck.port' ]" || { echo "receiver stuck did not start"; exit 1; }
RX_PORT=$(cat "$BM_TMP/stuck.port")
start_agent stuck
transactions stuck 1
bm_check "3: the traces request is answered" bm_wait_for 20 "[ \$(requests stuck traces) -ge 1 ]"
bm_check "3: delivered within 3 s of its answer, not at the 10 s timeout" bm_wait_for 3 \
    "[ \"\$(otlp_out sent)\" -ge 1 ] && [ \"\$(bm_metric $HTTP_PORT 'busmon_output_queued{output=\"otlp\",type=\"otlp\"}')\" = 0 ]"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 4. a 400 whose body does not arrive whole: judged by its status ----------------------
# OTLP/HTTP: a 400 MUST NOT be sent again. Its status line came, so it is a
# 400 however its body ends: cut short (connection closed), or trickling
# until the timeout (its first bytes are all the log keeps: not waited for).
for mode in cut trickle; do
    "$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/r400$mode.jsonl" --port-file "$BM_TMP/r400$mode.port" \
        --max-seconds 120 --fail-first 1 --fail-status 400 --body-mode $mode >"$BM_TMP/r400$mode.rx.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/r400$mode.port' ]" || { echo "receiver did not start"; exit 1; }
    RX_PORT=$(cat "$BM_TMP/r400$mode.port")
    BUSMON_OTLP_METRICS=false BUSMON_OTLP_TIMEOUT=4s BUSMON_OTLP_BACKOFF=100ms start_agent "r400$mode"
    transactions "r400$mode" 1
    bm_check "4 $mode: the traces request is answered 400" bm_wait_for 20 "[ \$(requests r400$mode traces) -ge 1 ]"
    bm_check "4 $mode: counted failed within 2 s (not at the 4 s timeout)" bm_wait_for 2 "[ \"\$(otlp_out failed)\" = 1 ]"
    sleep 1 # a retry would come after the 100 ms backoff
    bm_eq "4 $mode: not sent again: one request, nothing retried" "1 0" "$(requests r400$mode traces) $(otlp_out retried)"
    kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
done

# --- 5. retries wait with a random jitter --------------------------------------------------
# (OTLP/HTTP: "the interval between retries must have a random jitter", so
# agents that lost the same collector do not all come back in step.) backoff
# = backoff_max = 500 ms: without jitter every wait is 500 ms or a little more
# (a timer never fires early); with it each is 400-500 ms, at random.
"$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/jitter.jsonl" --port-file "$BM_TMP/jitter.port" \
    --max-seconds 120 --fail-first 8 --fail-status 503 >"$BM_TMP/jitter.rx.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/jitter.port' ]" || { echo "receiver did not start"; exit 1; }
RX_PORT=$(cat "$BM_TMP/jitter.port")
BUSMON_OTLP_METRICS=false BUSMON_OTLP_BACKOFF=500ms BUSMON_OTLP_BACKOFF_MAX=500ms \
    BUSMON_OTLP_MAX_ATTEMPTS=10 start_agent jitter
transactions jitter 1
bm_check "5: 8 answers 503, then the 200" bm_wait_for 30 \
    "[ \"\$(jq -s 'map(select(.path == \"/v1/traces\")) | map(.status) | (length == 9 and .[8] == 200)' $BM_TMP/jitter.jsonl)\" = true ]"
gaps=$(jq -s -c '[map(select(.path == "/v1/traces")) | .[].t_ms] | [range(1; length) as $i | .[$i] - .[$i - 1]]' "$BM_TMP/jitter.jsonl")
bm_check "5: every wait within 400-600 ms ($gaps)" jq -e 'all(.[]; . >= 390 and . <= 600)' <<<"$gaps"
bm_check "5: the waits differ at random: some under 480 ms ($gaps)" jq -e 'any(.[]; . < 480)' <<<"$gaps"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- 6. a refusal's reason in the log: one line, valid UTF-8 ------------------------------
# (the log is JSON a line: a shipper drops a line that is not UTF-8.) The body:
# a terminal escape, bytes that are not UTF-8, then two-byte characters past
# the 160 bytes the log keeps, so the cut falls inside one of them.
{ printf 'quota \033[31mexceeded\r\n \xff\xfe\x80 tenant '; for i in $(seq 100); do printf '\xc3\xa9'; done; } >"$BM_TMP/reason.txt"
"$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/reason.jsonl" --port-file "$BM_TMP/reason400.port" \
    --max-seconds 120 --fail-first 100 --fail-status 400 --reply-file "$BM_TMP/reason.txt" \
    --reply-type text/plain >"$BM_TMP/reason400.rx.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/reason400.port' ]" || { echo "receiver did not start"; exit 1; }
RX_PORT=$(cat "$BM_TMP/reason400.port")
BUSMON_OTLP_METRICS=false start_agent reason400
transactions reason400 1
bm_check "6: the 400 is logged with its reason" bm_wait_for 20 \
    "grep -q 'HTTP 400: quota' '$BM_TMP/agent-reason400.log'"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
bm_check "6: every log line is JSON in valid UTF-8" python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="strict"):
    json.loads(line)' "$BM_TMP/agent-reason400.log"
bm_check "6: the reason without the terminal escape or a line break" python3 -c '
import json, sys
m = [json.loads(l)["msg"] for l in open(sys.argv[1], encoding="utf-8", errors="replace") if "HTTP 400" in l][0]
sys.exit(0 if "\x1b" not in m and "\r" not in m and "\n" not in m and "exceeded" in m else 1)' "$BM_TMP/agent-reason400.log"
bm_finish
