#!/usr/bin/env bash
# Several agents when something goes wrong between them:
#   1. the leader paused (SIGSTOP) past its lease: once resumed it neither
#      publishes nor judges before it hears it lost the lease (its lease
#      ends on its own clock, counted from the request that renewed it);
#   2. the leader's wall clock 30 s ahead: it still sees the others live
#      (liveness is when their heartbeats change, on its own monotonic
#      clock) and leaves their hand-off streams alone;
#   3. two agents gone, the first of them stopped cleanly: the janitor takes
#      them in turn, so the second's hand-off entries are moved at once, not
#      after the first is forgotten (70 min).
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
    BUSMON_CLUSTER_REFRESH=300ms
declare -A PID PORT
# agent NAME [flags]: in the background with HTTP; PID[NAME], PORT[NAME]
agent() {
    local name=$1; shift
    PORT[$name]=$(bm_free_port)
    "$AGENT" --consumer "$name" --block-ms 100 --rollup-interval 300ms --health-interval 500ms \
        --alert-interval 300ms --checkpoint-interval 300ms --http "127.0.0.1:${PORT[$name]}" "$@" \
        >>"$BM_TMP/agent-$name.log" 2>&1 &
    PID[$name]=$!
    BM_PIDS+=($!)
}
metric() { curl -s "http://127.0.0.1:${PORT[$1]}/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }
leader() { bm_cli_raw GET busmon:leader; }
stop_all() { local n; for n in "$@"; do kill -INT "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null; done; }

# --- 1. a paused leader ---------------------------------------------------------------------
agent m1
bm_check "1: m1 leads" bm_wait_for 10 '[ "$(leader)" = m1 ]'
agent m2
bm_wait_for 10 '[ "$(bm_cli_raw HLEN busmon:agents)" = 2 ]'
sleep 1 # each has seen the other live
kill -STOP "${PID[m1]}"
bm_check "1: m2 takes the lease while m1 is paused" bm_wait_for 10 '[ "$(leader)" = m2 ]'
sleep 1
last=$(bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | head -1)
kill -CONT "${PID[m1]}"
sleep 2
bm_eq "1: m1 resumed: no rollup of its own published" 0 \
    "$(bm_cli_raw XRANGE busmon:rollups "(${last:-0}" + | grep -c '"agent":"m1"')"
bm_check "1: m2 still publishes" bm_wait_for 5 \
    "bm_cli_raw XRANGE busmon:rollups '(${last:-0}' + | grep -q '\"agent\":\"m2\"'"
bm_eq "1: one leader" "0 1" "$(metric m1 busmon_cluster_leader) $(metric m2 busmon_cluster_leader)"
bm_check "1: m1 says its lease ran out" grep -q 'lease ran out without a renewal' "$BM_TMP/agent-m1.log"
stop_all m1 m2
bm_cli DEL busmon:leader busmon:agents >/dev/null

# --- 2. the leader's clock 30 s ahead ----------------------------------------------------------
echo 30 >"$BM_TMP/clock"
BUSMON_TEST_CLOCK_FILE="$BM_TMP/clock" agent c1
bm_check "2: c1 (clock +30 s) leads" bm_wait_for 10 '[ "$(leader)" = c1 ]'
agent c2
bm_check "2: c2's hand-off stream is made" bm_wait_for 10 '[ "$(bm_cli_raw EXISTS busmon:handoff:c2)" = 1 ]'
sleep 5
bm_eq "2: c2's hand-off stream is still there" 1 "$(bm_cli_raw EXISTS busmon:handoff:c2)"
bm_eq "2: c2 never had to make its group again" 0 \
    "$(grep -c 'is missing' "$BM_TMP/agent-c2.log")"
bm_eq "2: c1 sees 2 live agents" 2 "$(metric c1 busmon_cluster_agents_live)"
stop_all c1 c2
bm_cli DEL busmon:leader busmon:agents >/dev/null

# --- 3. two agents gone: taken in turn -----------------------------------------------------------
agent j1
bm_check "3: j1 leads" bm_wait_for 10 '[ "$(leader)" = j1 ]'
agent j2
bm_wait_for 10 '[ "$(bm_cli_raw HLEN busmon:agents)" = 2 ]'
agent j3
bm_wait_for 10 '[ "$(bm_cli_raw HLEN busmon:agents)" = 3 ]'
bm_wait_for 10 '[ "$(bm_cli_raw EXISTS busmon:handoff:j3)" = 1 ]'
sleep 1
stop_all j2
kill -9 "${PID[j3]}"
wait "${PID[j3]}" 2>/dev/null
for i in 1 2 3 4 5; do
    bm_cli XADD busmon:handoff:j3 '*' type command id "c-h$i" tx "tx-h$i" worker fast step s >/dev/null
done
bm_check "3: j3's five hand-off entries are moved (stale 1.5 s + rounds)" bm_wait_for 10 \
    '[ "$(bm_cli_raw EXISTS busmon:handoff:j3)" = 0 ]'
bm_check "3: and traced" bm_wait_for 10 "'$BUSMON' trace tx-h5"
stop_all j1
bm_finish
