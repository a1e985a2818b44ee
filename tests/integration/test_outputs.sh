#!/usr/bin/env bash
# The output layer end to end: sinks of any type and topic from
# `outputs.sinks`, beside the built-in ones.
#   1. a webhook taking rollups and health transitions gets them (the
#      rollup's own JSON, with the agent's counters), a redis_stream copy of
#      the rollups has m and json, a redis_hash copy of the workers in
#      replace mode holds every worker and _updated, and a health change in
#      between is merged into it (never a replace of that one worker);
#      a redis_stream copy of the health transitions has them;
#      /metrics counts each output; the summary's alerts.sinks lists only
#      the sinks that take alerts;
#   2. bad sinks refuse to start with exit 2 and the reason: an unknown topic,
#      a redis_stream without a stream, a name taken by a built-in output;
#   3. a sink whose type (in its format) cannot carry a topic is refused with
#      exit 2, naming the sink, its type, the topic and what the type takes
#      (sink.c's table), under outputs.sinks and alerts.sinks, at
#      --check-config and at start; every combination the table keeps loads.
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
    - name: health-copy
      type: redis_stream
      stream: copy:health
      topics: health
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
bm_check "copy:health has health transitions" bm_wait_for 10 \
    '[ "$(bm_cli_raw XLEN copy:health)" -gt 0 ]'
bm_eq "copy:health's json is a health transition" true \
    "$(bm_cli_raw XRANGE copy:health - + COUNT 1 | grep -a '^{' | head -1 | jq -r '.worker != null and .to != null')"
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

# --- 3. a topic the sink cannot carry ------------------------------------------------------
# Each would be taken and counted "sent" while nothing (or an empty POST, an
# empty hash write, a fragment that is no JSON) is written.
U='"http://127.0.0.1:1/"'
cannot() { # NAME SINK WANT [SECTION]: exit 2 and the reason from --check-config --offline
    bad "$1" "${4:-outputs}:
  sinks:
    - $2"
    bm_eq "$1: exit 2" 2 "$?"
    bm_check "$1: the reason ($(head -c 300 "$BM_TMP/$1.err"))" grep -qF -- "$3" "$BM_TMP/$1.err"
}
cannot email-rollup "{name: mail, type: email, url: \"smtp://127.0.0.1:1\", from: a@example.org, to: b@example.org, topics: rollup}" \
    "sink 'mail': type email cannot carry topic 'rollup'; email takes alert"
cannot hash-alert "{name: h, type: redis_hash, key: k, topics: alert}" \
    "sink 'h': type redis_hash cannot carry topic 'alert'; redis_hash takes alerts_firing, workers"
cannot hash-system "{name: h, type: redis_hash, key: k, topics: \"workers, system\"}" \
    "sink 'h': type redis_hash cannot carry topic 'system'; redis_hash takes alerts_firing, workers"
cannot hash-spans "{name: h, type: redis_hash, key: k, topics: spans}" \
    "sink 'h': type redis_hash cannot carry topic 'spans'; redis_hash takes alerts_firing, workers"
cannot hash-alertmanager "{name: h, type: redis_hash, key: k, format: alertmanager}" \
    "sink 'h': type redis_hash with format alertmanager cannot carry topic 'alerts_firing'; redis_hash takes no topic with format alertmanager (with format generic: alerts_firing, workers)"
cannot webhook-workers "{name: w, url: $U, topics: workers}" \
    "sink 'w': type webhook cannot carry topic 'workers'; webhook takes alert, rollup, health, system"
cannot webhook-firing "{name: w, url: $U, topics: alerts_firing}" \
    "sink 'w': type webhook cannot carry topic 'alerts_firing'; webhook takes alert, rollup, health, system"
cannot webhook-spans "{name: w, url: $U, topics: \"rollup, spans\"}" \
    "sink 'w': type webhook cannot carry topic 'spans'; webhook takes alert, rollup, health, system"
cannot stream-workers "{name: s, type: redis_stream, stream: x, topics: workers}" \
    "sink 's': type redis_stream cannot carry topic 'workers'; redis_stream takes alert, rollup, health, system"
cannot stream-metrics "{name: s, type: redis_stream, stream: x, topics: metrics}" \
    "sink 's': type redis_stream cannot carry topic 'metrics'; redis_stream takes alert, rollup, health, system"
cannot otlp-alert "{name: o, type: otlp, endpoint: $U, topics: \"spans, alert\"}" \
    "sink 'o': type otlp cannot carry topic 'alert'; otlp takes spans, metrics"
cannot slack-rollup "{name: chat, format: slack, url: $U, topics: rollup}" \
    "sink 'chat': type webhook with format slack cannot carry topic 'rollup'; webhook with format slack takes alert"
cannot pagerduty-firing "{name: pd, format: pagerduty, routing_key: R0UT1NG, url: $U, topics: alerts_firing}" \
    "sink 'pd': type webhook with format pagerduty cannot carry topic 'alerts_firing'; webhook with format pagerduty takes alert"
cannot alertmanager-health "{name: am, format: alertmanager, url: $U, topics: \"alerts_firing, health\"}" \
    "sink 'am': type webhook with format alertmanager cannot carry topic 'health'; webhook with format alertmanager takes alert, alerts_firing"
cannot alerts-sinks-hash "{name: h, type: redis_hash, key: k, topics: alert}" \
    "sink 'h': type redis_hash cannot carry topic 'alert'; redis_hash takes alerts_firing, workers" alerts
cannot alerts-sinks-email "{name: mail, type: email, url: \"smtp://127.0.0.1:1\", from: a@example.org, to: b@example.org, topics: \"alert, health\"}" \
    "sink 'mail': type email cannot carry topic 'health'; email takes alert" alerts
# at start, as any configuration error (bounded: a build that took it would run on)
timeout 20 "$AGENT" --config "$BM_TMP/email-rollup.yaml" --no-http >/dev/null 2>"$BM_TMP/email-rollup.start.err"
bm_eq "email-rollup at start: exit 2" 2 "$?"
bm_check "email-rollup at start: the line and the reason ($(cat "$BM_TMP/email-rollup.start.err"))" \
    grep -qF "email-rollup.yaml:3: outputs.sinks: sink 'mail': type email cannot carry topic 'rollup'; email takes alert" \
    "$BM_TMP/email-rollup.start.err"

# every combination the table keeps still loads (and a redis_hash without topics
# takes the firing set, the one alert topic it carries)
cat >"$BM_TMP/carried.yaml" <<EOF
outputs:
  sinks:
    - {name: c1, url: $U, topics: "alert, rollup, health, system"}
    - {name: c2, format: slack, url: $U, topics: alert}
    - {name: c3, format: pagerduty, routing_key: R0UT1NG, url: $U}
    - {name: c4, format: alertmanager, url: $U, topics: "alert, alerts_firing"}
    - {name: c5, type: redis_stream, stream: s, topics: "alert, rollup, health, system"}
    - {name: c6, type: redis_stream, stream: s2, format: alertmanager, topics: alerts_firing}
    - {name: c7, type: redis_hash, key: k, topics: "workers, alerts_firing"}
    - {name: c8, type: redis_hash, key: k2}
    - {name: c9, type: email, url: "smtp://127.0.0.1:1", from: a@example.org, to: b@example.org}
    - {name: c10, type: otlp, endpoint: $U}
    - {name: c11, type: otlp, endpoint: $U, topics: "spans, metrics"}
EOF
"$AGENT" --config "$BM_TMP/carried.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/carried.err"
bm_eq "every carried combination loads: exit 0" 0 "$?"
bm_eq "every carried combination loads: nothing on stderr" "" "$(cat "$BM_TMP/carried.err")"
bm_finish
