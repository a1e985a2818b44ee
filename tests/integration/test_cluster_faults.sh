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
#      after the first is forgotten (70 min);
#   4. the lease back to an agent that judged before: its first cpu_percent
#      and deadletter_rate cover the last interval and the last minute, not
#      the whole time it followed (followers keep those baselines current).
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
bm_cli DEL busmon:leader busmon:agents >/dev/null

# --- 4. a leader again: its first gauges cover one interval ---------------------------------------
# n2 judges, then follows n1 (n2 paused past its lease); while it follows it
# dead-letters 5 entries of its own stream, sees its host 100 % busy then
# idle (its CPU counters are a file: BUSMON_TEST_PROC_STAT) and its clock
# move 2 min on; then n1 dies. n2's first figures must be those of the last
# interval (idle: no CPU figure) and the last minute (no dead-letter):
# neither rule fires until a busy interval or a dead-letter comes.
printf '%s\n' 'alerts:' '  builtins: false' '  rules:' \
    '    - {name: cpu_busy, metric: cpu_percent, op: ">", threshold: 25}' \
    '    - {name: deadletters, metric: deadletter_rate, op: ">", threshold: 0}' \
    >"$BM_TMP/gauges.yaml"
# cpu BUSY IDLE NAME: the agent's CPU counters so far (jiffies)
cpu() { echo "cpu  $1 0 0 $2 0 0 0 0 0 0" >"$BM_TMP/stat-$3.tmp" && mv "$BM_TMP/stat-$3.tmp" "$BM_TMP/stat-$3"; }
# fired_by_n2 RULE: n2 notified RULE firing (or repeating) since $mark; a
# resolve is not a firing (n1, judging, sees n2's dead-letters too: its
# alert, taken over, is resolved by n2)
fired_by_n2() { bm_cli_raw XRANGE busmon:alerts "(${mark:-0}" + | grep -a '^{"rule"' |
    jq -s -e --arg r "$1" 'any(.[]; .rule == $r and .agent == "n2" and .state != "resolved")'; }
cpu 1000 1000 n1
cpu 1000 1000 n2
echo 0 >"$BM_TMP/clock2"
# no cgroup (an empty root): a CPU quota of the machine running the test
# would make cpu_percent the container's, not the counters of the file
mkdir -p "$BM_TMP/no-cgroup"
BUSMON_TEST_PROC_STAT="$BM_TMP/stat-n2" BUSMON_TEST_CLOCK_FILE="$BM_TMP/clock2" \
    BUSMON_TEST_CGROUP_ROOT="$BM_TMP/no-cgroup" agent n2 --config "$BM_TMP/gauges.yaml" --stream bus-n2
bm_check "4: n2 leads" bm_wait_for 10 '[ "$(leader)" = n2 ]'
BUSMON_TEST_PROC_STAT="$BM_TMP/stat-n1" BUSMON_TEST_CGROUP_ROOT="$BM_TMP/no-cgroup" agent n1 --config "$BM_TMP/gauges.yaml" --stream bus-n1
bm_wait_for 10 '[ "$(bm_cli_raw HLEN busmon:agents)" = 2 ]'
sleep 1
kill -STOP "${PID[n2]}"
bm_check "4: n1 takes the lease while n2 is paused" bm_wait_for 10 '[ "$(leader)" = n1 ]'
kill -CONT "${PID[n2]}"
bm_check "4: n2 follows" bm_wait_for 10 '[ "$(metric n2 busmon_cluster_leader)" = 0 ]'
for i in 1 2 3 4 5; do bm_cli XADD bus-n2 '*' note "not an event $i" >/dev/null; done
bm_check "4: n2 dead-letters 5 entries" bm_wait_for 10 '[ "$(metric n2 busmon_deadletter_total)" = 5 ]'
# two_rounds: n2 samples its gauges twice more (a round of Redis figures each;
# a loaded machine may take longer than a fixed sleep)
two_rounds() {
    local r=$(metric n2 busmon_redis_sample_rounds_total)
    bm_wait_for 15 "[ \"\$(metric n2 busmon_redis_sample_rounds_total)\" -ge $((r + 2)) ]"
}
two_rounds
cpu 11000 1000 n2 # 100 % busy
two_rounds
cpu 11000 11000 n2 # then idle
two_rounds
echo "120 120" >"$BM_TMP/clock2" # 2 min pass: both clocks (deadletter_rate is monotonic)
sleep 1
mark=$(bm_cli_raw XREVRANGE busmon:alerts + - COUNT 1 | head -1)
kill -9 "${PID[n1]}"
wait "${PID[n1]}" 2>/dev/null
bm_check "4: n2 leads again" bm_wait_for 10 '[ "$(leader)" = n2 ]'
sleep 2 # several evaluations
bm_check "4: n2's first cpu_percent is the last interval's (idle), not 50 % since it last judged" \
    eval '! fired_by_n2 cpu_busy >/dev/null'
bm_check "4: n2's first deadletter_rate is the last minute's (none), not 5 over the time it followed" \
    eval '! fired_by_n2 deadletters >/dev/null'
cpu 21000 11000 n2
bm_check "4: a busy interval now: cpu_busy fires" bm_wait_for 5 'fired_by_n2 cpu_busy'
bm_cli XADD bus-n2 '*' note "not an event 6" >/dev/null
bm_check "4: a dead-letter now: deadletters fires" bm_wait_for 5 'fired_by_n2 deadletters'
stop_all n2
bm_finish
