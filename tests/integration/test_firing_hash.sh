#!/usr/bin/env bash
# A user's redis_hash sink on topic alerts_firing holds what the built-in
# busmon:alerts:firing holds: the alerts firing now, never one that resolved.
# One rule (error_rate > 0.5 per worker over 1m, for 0s) fires for the
# workers sent failures and resolves when successes dilute them; beside the
# built-in hash, a sink in mode merge (the default) and one in mode replace.
#   1. two alerts fire: both in every hash;
#   2. one resolves: gone from every hash, the other stays;
#   3. across a restart (the alert instances come back from the checkpoint),
#      the other resolves: gone from every hash;
#   4. two agents, the leader killed with kill -9 while an alert fires: the
#      new leader resolves it, gone from every hash;
#   5. an alert (cpu_percent, the CPU counters a file) resolves while Redis
#      is down: once Redis is back (its data saved), gone from every hash.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
    BUSMON_CLUSTER_REFRESH=300ms

cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:
  disable: [high_error_rate, high_latency, worker_failed, worker_degraded, error_spike,
            consumer_lag, critical_cpu, latency_anomaly, error_rate_anomaly]
  rules:
    - name: w_errors
      metric: error_rate
      scope: each_worker
      op: ">"
      threshold: 0.5
      window: 1m
      for: 0s
  sinks:
    - name: merged              # topic alerts_firing and mode merge: the defaults
      type: redis_hash
      key: copy:merge
    - name: replaced
      type: redis_hash
      key: copy:replace
      mode: replace
EOF
bm_eq "--check-config accepts the sinks" 0 \
    "$("$AGENT" --config "$BM_TMP/busmon.yaml" --check-config >/dev/null 2>&1; echo $?)"

# start_agent NAME: one agent, consumer NAME
start_agent() {
    "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer "$1" --block-ms 100 --rollup-interval 300ms \
        --health-interval 300ms --alert-interval 300ms --checkpoint-interval 300ms \
        >>"$BM_TMP/agent-$1.log" 2>&1 &
    BM_PIDS+=($!)
    LAST=$!
}
# results WORKER OK N: N results of WORKER (flat encoding)
results() {
    local i
    for i in $(seq "$3"); do
        echo "XADD busmon:events * type result tx $1-$2-$RANDOM-$i worker $1 ok $2 duration_ms 5"
    done | redis-cli -p "$BM_PORT" >/dev/null
}
# fields KEY: the alert fields of a hash (not _updated, _agent), sorted, on one line
fields() { bm_cli_raw HKEYS "$1" | grep -v '^_' | sort | paste -sd' '; }
# fp WORKER: the fingerprint of w_errors for WORKER, from busmon:alerts
fp() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' |
    jq -r --arg w "$1" 'select(.rule == "w_errors" and .labels.worker == $w) | .fingerprint' | head -1; }
resolved() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' |
    jq -s -e --arg w "$1" 'any(.[]; .rule == "w_errors" and .labels.worker == $w and .state == "resolved")'; }
# in_all FP: FP is a field of the three hashes; in_none FP: of none of them
in_all() { local k; for k in busmon:alerts:firing copy:merge copy:replace; do
    [ "$(bm_cli_raw HEXISTS "$k" "$1")" = 1 ] || return 1; done; }
in_none() { local k; for k in busmon:alerts:firing copy:merge copy:replace; do
    [ "$(bm_cli_raw HEXISTS "$k" "$1")" = 0 ] || return 1; done; }
# same: the user hashes hold the built-in hash's alerts, no more, no less
same() { local b; b=$(fields busmon:alerts:firing)
    [ "$(fields copy:merge)" = "$b" ] && [ "$(fields copy:replace)" = "$b" ]; }
show() { local k; for k in busmon:alerts:firing copy:merge copy:replace; do
    echo "  $k: $(fields "$k")"; done; }
# gone WHAT FP: FP left every hash, and the hashes agree
gone() {
    bm_check "$1: gone from busmon:alerts:firing" bm_wait_for 10 \
        "[ \"\$(bm_cli_raw HEXISTS busmon:alerts:firing $2)\" = 0 ]"
    bm_check "$1: gone from the merge-mode sink's hash too" bm_wait_for 3 "in_none $2"
    bm_check "$1: the user hashes hold what the built-in holds" bm_wait_for 3 same
    same || show
}

# --- 1. two alerts fire ------------------------------------------------------------
start_agent a1
A=$LAST
results wa false 10
results wb false 10
bm_check "1: w_errors fires for wa and wb" bm_wait_for 15 '[ -n "$(fp wa)" ] && [ -n "$(fp wb)" ]'
FA=$(fp wa)
FB=$(fp wb)
bm_check "1: both in every hash" bm_wait_for 5 "in_all $FA && in_all $FB"
bm_check "1: the user hashes hold what the built-in holds" bm_wait_for 3 same
same || show
bm_eq "1: the merge-mode hash has _updated, _agent and _every" "_agent _every _updated" \
    "$(bm_cli_raw HKEYS copy:merge | grep '^_' | sort | paste -sd' ')"

# --- 2. one resolves ------------------------------------------------------------------
results wa true 100
bm_check "2: w_errors resolves for wa" bm_wait_for 15 "resolved wa"
gone "2: wa" "$FA"
bm_check "2: wb still in every hash" in_all "$FB"

# --- 3. a restart, then the other resolves -------------------------------------------
kill -INT "$A"
wait "$A"
U=$(bm_cli_raw HGET busmon:alerts:firing _updated)
start_agent a1
A=$LAST
bm_check "3: after the restart wb is still firing (its instance from the checkpoint)" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw HGET busmon:alerts:firing _updated)\" != '$U' ] && in_all $FB"
results wb true 100
bm_check "3: w_errors resolves for wb" bm_wait_for 15 "resolved wb"
gone "3: wb" "$FB"
kill -INT "$A"
wait "$A"

# --- 4. the leader killed while an alert fires -------------------------------------------
start_agent m1
P1=$LAST
start_agent m2
P2=$LAST
bm_check "4: one leader" bm_wait_for 10 '[ -n "$(bm_cli_raw GET busmon:leader)" ]'
results wc false 10
bm_check "4: w_errors fires for wc" bm_wait_for 15 '[ -n "$(fp wc)" ]'
FC=$(fp wc)
bm_check "4: wc in every hash" bm_wait_for 5 "in_all $FC"
sleep 1 # the other agent has read the leader's alert instances (refresh 300 ms)
leader=$(bm_cli_raw GET busmon:leader)
if [ "$leader" = m1 ]; then K=$P1 OTHER=m2; else K=$P2 OTHER=m1; fi
{ kill -9 "$K"; wait "$K"; } 2>/dev/null
bm_check "4: $OTHER leads after $leader is killed" bm_wait_for 5 \
    "[ \"\$(bm_cli_raw GET busmon:leader)\" = $OTHER ] && [ \"\$(bm_cli_raw HGET busmon:alerts:firing _agent)\" = $OTHER ]"
bm_check "4: wc still in every hash" in_all "$FC"
results wc true 100
bm_check "4: w_errors resolves for wc" bm_wait_for 15 "resolved wc"
gone "4: wc" "$FC"
for p in "$P1" "$P2"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done

# --- 5. resolved while Redis is down -----------------------------------------------------
printf '%s\n' 'alerts:' '  builtins: false' '  rules:' \
    '    - {name: cpu_busy, metric: cpu_percent, op: ">", threshold: 25}' '  sinks:' \
    '    - {name: merged, type: redis_hash, key: copy:merge}' \
    '    - {name: replaced, type: redis_hash, key: copy:replace, mode: replace}' >"$BM_TMP/cpu.yaml"
# cpu BUSY IDLE: the agent's CPU counters so far (jiffies)
cpu() { echo "cpu  $1 0 0 $2 0 0 0 0 0 0" >"$BM_TMP/stat.tmp" && mv "$BM_TMP/stat.tmp" "$BM_TMP/stat"; }
busy() { local b=1000; while :; do b=$((b + 100)); cpu "$b" 1000; sleep 0.1; done; }
cpu 1000 1000
busy &
BUSY=$!
BM_PIDS+=($BUSY)
BUSMON_TEST_PROC_STAT="$BM_TMP/stat" "$AGENT" --config "$BM_TMP/cpu.yaml" --consumer c1 \
    --block-ms 100 --alert-interval 300ms >>"$BM_TMP/agent-c1.log" 2>&1 &
BM_PIDS+=($!)
bm_check "5: cpu_busy fires" bm_wait_for 10 \
    "bm_cli_raw HGETALL busmon:alerts:firing | grep -aq '\"rule\":\"cpu_busy\"'"
FD=$(bm_cli_raw HGETALL busmon:alerts:firing | paste - - | grep -a '"rule":"cpu_busy"' | cut -f1)
bm_check "5: cpu_busy in every hash" bm_wait_for 5 "in_all $FD"
bm_cli SET firing-hash-test:saved 1 >/dev/null
bm_redis_down
kill "$BUSY"
bm_check "5: cpu_busy resolves while Redis is down" bm_wait_for 10 \
    "grep -q 'alert \[RESOLVED\] cpu_busy' '$BM_TMP/agent-c1.log'"
bm_redis_up
bm_check "5: Redis is back, with its data as it was" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw GET firing-hash-test:saved)\" = 1 ]"
gone "5: cpu_busy" "$FD"
bm_finish
