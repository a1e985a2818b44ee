#!/usr/bin/env bash
# The output layer end to end: sinks of any type and topic from
# `outputs.sinks`, beside the built-in ones.
#   1. a webhook taking rollups and health transitions gets them (the
#      rollup's own JSON, with the agent's counters), a redis_stream copy of
#      the rollups has m and json, a redis_hash copy of the workers in
#      replace mode holds every worker and _updated, and a health change in
#      between is merged into it (never a replace of that one worker);
#      /metrics counts each output; the summary's alerts.sinks lists only
#      the sinks that take alerts;
#   2. bad sinks refuse to start with exit 2 and the reason: an unknown topic,
#      a redis_stream without a stream, a name taken by a built-in output.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"
RECV="$BM_BUILD/bm-webhook-receiver"
jqt() { jq -e "$@" >/dev/null; }

"$RECV" --out "$BM_TMP/recv.jsonl" --port-file "$BM_TMP/recv.port" --max-seconds 120 \
    >"$BM_TMP/receiver.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/recv.port' ]" || { echo "the receiver did not start"; exit 1; }
RPORT=$(cat "$BM_TMP/recv.port")
touch "$BM_TMP/recv.jsonl"

cat >"$BM_TMP/outputs.yaml" <<EOF
outputs:
  sinks:
    - name: rollhook
      url: http://127.0.0.1:$RPORT/rollups
      topics: rollup, health
    - name: copy
      type: redis_stream
      stream: copy:rollups
      maxlen: 50
      topics: rollup
    - name: workers-copy
      type: redis_hash
      key: copy:workers
      mode: replace
      topics: workers
EOF
bm_eq "--check-config --offline accepts outputs.sinks" 0 \
    "$("$AGENT" --config "$BM_TMP/outputs.yaml" --check-config --offline >/dev/null 2>&1; echo $?)"

# every command on copy:workers, to see how the hash is written
redis-cli -p "$BM_PORT" MONITOR >"$BM_TMP/monitor.log" 2>&1 &
MON=$!
BM_PIDS+=($MON)
bm_wait_for 5 '[ -s "$BM_TMP/monitor.log" ]' || echo "FAIL - MONITOR did not start"
HP=$(bm_free_port)
"$AGENT" --config "$BM_TMP/outputs.yaml" --block-ms 100 --rollup-interval 500ms \
    --health-interval 500ms --http "127.0.0.1:$HP" --summary "$BM_TMP/summary.json" \
    >"$BM_TMP/agent.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$PRODUCER" --count 200 --rate 2000 --seed 5 >/dev/null 2>&1 || echo "FAIL - the producer failed"

bodies() { jq -r 'select(.path == "/rollups") | .body' "$BM_TMP/recv.jsonl"; }
bm_check "the webhook gets rollups (kind rollup, with the agent's counters)" bm_wait_for 10 \
    "bodies | jq -s -e 'any(.[]; .kind == \"rollup\" and (.counters.entries_read > 0))'"
bm_check "the webhook gets health transitions" bm_wait_for 10 \
    "bodies | jq -s -e 'any(.[]; .worker != null and .to != null)'"
bm_check "copy:rollups has rollups" bm_wait_for 10 '[ "$(bm_cli_raw XLEN copy:rollups)" -gt 0 ]'
bm_eq "copy:rollups entries carry m first" m \
    "$(bm_cli_raw XRANGE copy:rollups - + COUNT 1 | sed -n 2p)"
bm_eq "copy:rollups' json is a rollup" rollup \
    "$(bm_cli_raw XRANGE copy:rollups - + COUNT 1 | grep -a '^{"v"' | jq -r .kind)"
bm_check "copy:rollups is trimmed near its maxlen" bm_wait_for 1 '[ "$(bm_cli_raw XLEN copy:rollups)" -lt 200 ]'
bm_check "copy:workers holds every worker and _updated" bm_wait_for 10 \
    '[ "$(bm_cli_raw HKEYS copy:workers | sort | paste -sd,)" = "_updated,cpu_heavy,fast,flaky,slow" ]'
bm_eq "copy:workers holds the worker's state" fast \
    "$(bm_cli_raw HGET copy:workers fast | jq -r .name)"
M=$(curl -s "http://127.0.0.1:$HP/metrics")
bm_check "/metrics counts the copy's writes" \
    awk '$1 == "busmon_output_sent_total{output=\"copy\",type=\"redis_stream\"}" && $2 > 0 { ok = 1 } END { exit !ok }' <<<"$M"
bm_check "/metrics counts the webhook's posts" \
    awk '$1 == "busmon_output_sent_total{output=\"rollhook\",type=\"webhook\"}" && $2 > 0 { ok = 1 } END { exit !ok }' <<<"$M"
bm_check "/metrics has the built-in outputs too" grep -q '^busmon_output_sent_total{output="rollups",type="redis_stream"}' <<<"$M"
kill -INT "$A"; wait "$A"; rc=$?
bm_eq "the agent exits 0 on SIGINT" 0 "$rc"
kill "$MON" 2>/dev/null
# A replace (MULTI; DEL; HSET) must keep every worker written before (none
# is evicted here); a health change between two rollups is an HSET of that
# worker alone, with no DEL before it. Field names are the only unescaped
# quoted words in MONITOR's line besides the command and the key.
read -r dropped merges < <(awk '
    index($0, "\"copy:workers\"") == 0 { next }
    { line = tolower($0) }
    line ~ /\] "del" "copy:workers"/ { del = 1; next }
    line ~ /\] "hset" "copy:workers"/ {
        for (w in seen) if (del && index($0, " \"" w "\" ") == 0) dropped++
        split("cpu_heavy fast flaky slow", ws, " ")
        for (i in ws) if (index($0, " \"" ws[i] "\" ")) seen[ws[i]] = 1
        if (!del) merges++
        del = 0
    }
    END { print dropped + 0, merges + 0 }' "$BM_TMP/monitor.log")
bm_eq "copy:workers: no replace drops a worker written before" 0 "$dropped"
bm_check "copy:workers: health changes are merged between rollups ($merges)" [ "$merges" -ge 1 ]
bm_eq "summary: alerts.sinks lists the sinks that take alerts only" "alerts,alerts_firing" \
    "$(jq -r '.alerts.sinks | keys | join(",")' "$BM_TMP/summary.json")"

# --- 2. bad sinks ----------------------------------------------------------------------
bad() { # NAME YAML: exit code and stderr of --check-config --offline, then of a start
    printf '%s\n' "$2" >"$BM_TMP/$1.yaml"
    "$AGENT" --config "$BM_TMP/$1.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/$1.err"
}
bad topic 'outputs:
  sinks:
    - {name: x, url: "http://127.0.0.1:1/", topics: "rollup, rollupz"}'
bm_eq "an unknown topic: exit 2" 2 "$?"
bm_check "an unknown topic: the line and the reason ($(cat "$BM_TMP/topic.err"))" \
    grep -q "topic.yaml:3: outputs.sinks: sink 'x': unknown topic 'rollupz'" "$BM_TMP/topic.err"
bad nostream 'outputs:
  sinks:
    - {name: y, type: redis_stream, topics: health}'
bm_eq "a redis_stream without a stream: exit 2" 2 "$?"
bm_check "a redis_stream without a stream: the reason ($(cat "$BM_TMP/nostream.err"))" \
    grep -q "sink 'y': 'stream' is required" "$BM_TMP/nostream.err"
printf 'outputs:\n  sinks:\n    - {name: rollups, type: redis_stream, stream: x, topics: rollup}\n' \
    >"$BM_TMP/clash.yaml"
"$AGENT" --config "$BM_TMP/clash.yaml" --no-http >/dev/null 2>"$BM_TMP/clash.err"
bm_eq "a name taken by a built-in output: exit 2" 2 "$?"
bm_check "a name taken: the reason ($(cat "$BM_TMP/clash.err"))" \
    grep -q "sink 'rollups': the name is taken by another output" "$BM_TMP/clash.err"
bm_finish
