#!/usr/bin/env bash
# System metrics (agent/jobs/sysmon.c) against a real Redis: every figure of a
# sample is filled (host CPU, memory, disk, load; the agent's CPU and RSS;
# events/s, p95, success rate; Redis clients, memory, round trip; stream
# length, lag, pending); /api/system and `busmon system --json` agree on the
# shape and the window; avg <= peak; a consumer lag made with XGROUP SETID is
# seen exactly on /api/system, /metrics and `busmon system`, and turns /ready
# to 503 with the reason above http.ready_max_lag, then back to 200;
# busmon:system is capped; the CLI's errors and exit codes.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
unset BUSMON_HTTP
code() { local u=$1; shift; curl -s -m 5 -o "$BM_TMP/body" -w '%{http_code}' "$@" "$u"; }
qjq() { jq -e "$@" >/dev/null; }

# CLI before anything was published: exit 1 and a hint; Redis down: exit 3
"$BUSMON" system >"$BM_TMP/out" 2>"$BM_TMP/err"; rc=$?
bm_eq "busmon system with nothing published: exit 1" 1 "$rc"
bm_check "... says what is missing" grep -q "no system sample" "$BM_TMP/err"
"$BUSMON" --redis redis://127.0.0.1:1 system >/dev/null 2>&1; rc=$?
bm_eq "busmon system, Redis unreachable: exit 3" 3 "$rc"
for w in 2x 5s 8d ""; do
    "$BUSMON" system --window "$w" >/dev/null 2>"$BM_TMP/err"; rc=$?
    bm_eq "busmon system --window '$w': exit 2" 2 "$rc"
done
bm_check "bad --window names the accepted forms" grep -q "10s to 7d" "$BM_TMP/err"
"$BUSMON" system --frobnicate >/dev/null 2>&1; rc=$?
bm_eq "busmon system --frobnicate: exit 2" 2 "$rc"
bm_check "busmon system --help" bash -c "'$BUSMON' system --help | grep -q -- '--window'"

cat >"$BM_TMP/busmon.yaml" <<YAML
http:
  ready_max_lag: 500
system:
  data_path: $BM_TMP
outputs:
  system_maxlen: 20
YAML
bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --http "127.0.0.1:$HPORT" --block-ms 100 \
    --system-interval 250ms
bm_check "/ready: 200" bm_wait_for 10 "[ \$(code $BASE/ready) = 200 ]"
"$BM_BUILD/busmon-demo-producer" --count 300 --rate 2000 --seed 5 >/dev/null ||
    echo "FAIL - the producer failed"
# a sample taken while answers are in the last minute, with every figure known
all_known='.latest | [.cpu_percent, .memory_percent, .disk_percent, .load1, .load5, .load15,
    .agent_cpu_percent, .agent_rss_bytes, .events_per_sec, .p95_latency_ms, .success_rate,
    .redis_connected_clients, .redis_used_memory_bytes, .redis_rtt_ms, .consumer_lag, .pending,
    .stream_length] | all(. != null)'
bm_check "a sample with every figure known" bm_wait_for 15 \
    "curl -s '$BASE/api/system?window=10m' | jq -e '$all_known'"
curl -s "$BASE/api/system?window=10m" >"$BM_TMP/sys.json"
S=$BM_TMP/sys.json
bm_eq "window label" "10m 600" "$(jq -r '"\(.window) \(.window_seconds)"' "$S")"
bm_eq "interval" 0.25 "$(jq -r .interval_seconds "$S")"
bm_check "several samples in the window" qjq '.samples >= 4' "$S"
bm_check "percentages are in 0..100" qjq '.latest | [.cpu_percent, .memory_percent, .disk_percent] | all(. >= 0 and . <= 100)' "$S"
bm_check "RSS is megabytes, not pages" qjq '.latest.agent_rss_bytes > 1000000' "$S"
bm_check "success rate in 0..1, p95 in ms" qjq '.latest.success_rate > 0 and .latest.success_rate <= 1 and .latest.p95_latency_ms > 5' "$S"
bm_check "Redis: clients >= 2 (the agent's), memory, round trip" \
    qjq '.latest.redis_connected_clients >= 2 and .latest.redis_used_memory_bytes > 100000 and .latest.redis_rtt_ms >= 0' "$S"
bm_eq "the data path is the configured one" "$BM_TMP" "$(jq -r .latest.data_path "$S")"
df_used=$(df -P "$BM_TMP" | awk 'NR == 2 { sub("%", "", $5); print $5 }')
bm_check "disk % matches df ($df_used %) within 2 points" \
    qjq --argjson d "$df_used" '(.latest.disk_percent - $d) | fabs <= 2' "$S"
bm_check "stream length = XLEN (once the producer is done)" bm_wait_for 5 \
    "[ \"\$(curl -s '$BASE/api/system?window=1m' | jq '.latest.streams[] | select(.name == \"busmon:events\") | .length')\" = \"\$(redis-cli -p $BM_PORT XLEN busmon:events)\" ]"
bm_check "the group is present" qjq '.latest.streams[0].group == true' "$S"
bm_check "avg <= peak for every figure" qjq '[.avg, .peak] as [$a, $p] | [$a | keys[] | select($a[.] != null) | $a[.] <= $p[.] + 1e-9] | all' "$S"
bm_check "series: oldest first, at most 360 points" \
    qjq '.series | length > 0 and length <= 360 and ([.[].t] == ([.[].t] | sort))' "$S"
bm_check "events/s was seen above zero during the run" qjq '.peak.events_per_sec > 10' "$S"

# the CLI reads the same samples back from busmon:system
"$BUSMON" system --window 10m --json >"$BM_TMP/cli.json"; rc=$?
bm_eq "busmon system --json: exit 0" 0 "$rc"
nounix='map(select(endswith("_unix") | not))'
bm_eq "busmon system --json has the /api/system keys (+ *_unix)" "$(jq -c 'keys' "$S")" "$(jq -c "keys | $nounix" "$BM_TMP/cli.json")"
bm_eq "same figure names in latest (+ t_unix)" "$(jq -c '.latest | keys' "$S")" "$(jq -c ".latest | keys | $nounix" "$BM_TMP/cli.json")"
rfc3339='test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")'
bm_check "the JSON's times are RFC 3339 strings, the epoch beside them as *_unix" qjq \
    "(.from | $rfc3339) and (.to | $rfc3339) and (.latest.t | $rfc3339) and (.from_unix | type == \"number\") and (.latest.t_unix | type == \"number\") and all(.series[]; (.t | $rfc3339) and (.t_unix | type == \"number\"))" "$BM_TMP/cli.json"
bm_check "the epoch and the string are the same time" qjq \
    '(.latest.t_unix * 1000 | round) == (.latest.t | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 * 1000) + ((.latest.t | capture("\\.(?<ms>[0-9]{3})Z$").ms | tonumber))' "$BM_TMP/cli.json"
bm_check "the CLI's peak memory matches the API's within the stream cap" \
    qjq --slurpfile a "$S" '.peak.redis_used_memory_bytes > 0 and .latest.agent == $a[0].latest.agent' "$BM_TMP/cli.json"
"$BUSMON" system --window 10m >"$BM_TMP/cli.txt"; rc=$?
bm_eq "busmon system (text): exit 0" 0 "$rc"
bm_check "text: latest time in ISO-8601 UTC with ms" \
    grep -Eq '^system metrics, last 10m: [0-9]+ sample\(s\), latest [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z from ' "$BM_TMP/cli.txt"
for row in "host cpu" "host memory" "disk" "load 1m" "agent rss" "events/s" "p95 latency" \
    "redis clients" "redis memory" "redis rtt" "consumer lag" "pending" "stream length"; do
    bm_check "text has a '$row' row with latest, avg, peak" \
        bash -c "grep -E '^$row ' '$BM_TMP/cli.txt' | awk '{ exit !(NF >= 4) }'"
done
bm_check "text lists the stream with its lag" grep -qE '^  busmon:events +length [0-9]+ +lag [0-9]+' "$BM_TMP/cli.txt"
bm_check "no escape bytes when piped" bash -c "! grep -q $'\\033' '$BM_TMP/cli.txt'"
bm_check "busmon:system is capped near outputs.system_maxlen (20)" \
    bm_wait_for 10 "[ \$(redis-cli -p $BM_PORT XLEN busmon:system) -ge 20 ] && [ \$(redis-cli -p $BM_PORT XLEN busmon:system) -lt 140 ]"
bm_check "records carry m (msgpack) and json" bash -c \
    "redis-cli -p $BM_PORT --raw XREVRANGE busmon:system + - COUNT 1 | grep -qx m"

# another agent's sample and a garbage record in the same stream
now=$(date +%s)
bm_cli XADD busmon:system '*' json "{\"t\": $now.5, \"agent\": \"other-agent\", \"cpu_percent\": 99.5}" >/dev/null
bm_cli XADD busmon:system '*' json 'not json at all' >/dev/null
bm_cli XADD busmon:system '*' m x >/dev/null
"$BUSMON" system --window 1m --agent other-agent --json >"$BM_TMP/other.json" 2>"$BM_TMP/other.err"; rc=$?
bm_eq "--agent other-agent: exit 0" 0 "$rc"
bm_eq "--agent other-agent: its one sample" "1 other-agent 99.5" \
    "$(jq -r '"\(.samples) \(.latest.agent) \(.peak.cpu_percent)"' "$BM_TMP/other.json")"
bm_check "unreadable records are skipped and said" grep -q "2 unreadable record(s)" "$BM_TMP/other.err"
sleep 0.6 # the agent writes a newer sample (every 250 ms)
"$BUSMON" system --window 1m >"$BM_TMP/mine.txt" 2>"$BM_TMP/mine.err"; rc=$?
bm_eq "default: exit 0 with others in the stream" 0 "$rc"
bm_check "default: the newest sample's agent, and a note on the others" \
    bash -c "! grep -q other-agent '$BM_TMP/mine.txt' && grep -q 'other agents in the window not shown' '$BM_TMP/mine.err'"
"$BUSMON" system --window 1m --agent nosuch >/dev/null 2>"$BM_TMP/nosuch.err"; rc=$?
bm_eq "--agent nosuch: exit 1" 1 "$rc"
bm_check "... naming the agent" grep -q "agent 'nosuch'" "$BM_TMP/nosuch.err"

# names longer than a sample's room (256 bytes, an identity's most) are cut between characters
# (a cut é made --json fail with "out of memory"); an interval no sample can
# have (1e300 s overflowed) is an unreadable record
LONG=$(printf 'a%.0s' $(seq 255))é
now=$(date +%s)
bm_cli XADD sys:long '*' json "$(jq -cn --arg n "$LONG" --argjson t "$now" \
    '{t: $t, agent: $n, interval_seconds: 1, streams: [{name: $n, length: 1}]}')" >/dev/null
bm_cli XADD sys:long '*' json "{\"t\": $now.2, \"agent\": \"x\", \"interval_seconds\": 1e300}" >/dev/null
"$BUSMON" system --stream sys:long --window 1m --json >"$BM_TMP/long.json" 2>"$BM_TMP/long.err"; rc=$?
bm_eq "long names: busmon system --json exits 0" 0 "$rc"
bm_eq "long names: cut before the é, whole characters" "$(printf 'a%.0s' $(seq 255)) $(printf 'a%.0s' $(seq 255))" \
    "$(jq -r '"\(.latest.agent) \(.latest.streams[0].name)"' "$BM_TMP/long.json")"
bm_check "an interval of 1e300 s: an unreadable record" grep -q "1 unreadable record(s)" "$BM_TMP/long.err"

# a lag of exactly 1000: the group's read counter set 1000 behind the stream,
# nothing left to deliver (the last id is the newest), so it stays
len=$(bm_cli_raw XLEN busmon:events)
bm_cli XGROUP SETID busmon:events busmon '$' ENTRIESREAD $((len - 1000)) >/dev/null
bm_check "/ready: 503 once the lag passes ready_max_lag" bm_wait_for 10 "[ \$(code $BASE/ready) = 503 ]"
bm_check "... with the reason" qjq '.reasons | any(test("consumer lag 1000 on stream .busmon:events. > ready_max_lag 500"))' "$BM_TMP/body"
bm_eq "/api/system latest lag" 1000 "$(curl -s "$BASE/api/system?window=1m" | jq .latest.consumer_lag)"
bm_check "/metrics busmon_consumer_lag = 1000" bash -c \
    "curl -s $BASE/metrics | grep -qx 'busmon_consumer_lag{stream=\"busmon:events\",group=\"busmon\"} 1000'"
bm_check "busmon system shows the lag" bm_wait_for 5 \
    "'$BUSMON' system --window 1m --json | jq -e '.latest.consumer_lag == 1000 and .peak.consumer_lag == 1000'"
bm_cli XGROUP SETID busmon:events busmon '$' ENTRIESREAD "$len" >/dev/null
bm_check "/ready: 200 again once the lag is back to 0" bm_wait_for 10 "[ \$(code $BASE/ready) = 200 ]"

# bad windows on /api/system: 400, never a crash
for w in 2x 5s 8d "%00" "$(printf '9%.0s' $(seq 300))h"; do
    bm_eq "/api/system?window=$(printf %.12s "$w"): 400" 400 "$(code "$BASE/api/system?window=$w")"
done
bm_eq "/api/system default window is 1h" 1h "$(curl -s $BASE/api/system | jq -r .window)"
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool accepts /metrics with the system families" bash -c "curl -s $BASE/metrics | promtool check metrics"
fi
for f in busmon_host_disk_percent busmon_redis_rtt_seconds busmon_redis_connected_clients \
    busmon_redis_used_memory_bytes busmon_stream_length busmon_consumer_pending \
    busmon_consumer_group_present busmon_ingest_events_per_second busmon_agent_cpu_percent \
    busmon_read_batch_size_bucket; do
    bm_check "/metrics has $f" bash -c "curl -s $BASE/metrics | grep -q '^$f'"
done
bm_check "agent still alive" kill -0 "$BM_LAST_PID"
bm_finish
