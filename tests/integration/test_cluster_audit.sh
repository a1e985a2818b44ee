#!/usr/bin/env bash
# Several agents: what other tests of the cluster do not cover.
#   A. reclaim with more dead owners in one stream than one round looks up
#      (16): the entries each owner's checkpoint covers are acked, never
#      applied again, whichever owner they belong to (those of the 17th owner
#      on were applied a second time before), and one delivered more than
#      reclaim.max_deliveries times is not poison (it was dead-lettered);
#   B. a registry fuller than the 64 agents an agent keeps (agents renamed
#      at each restart, within the hour a gone agent's figures count): the
#      live agents are among those kept, whatever order HGETALL gives (an
#      agent cut off did not count itself or another live one before);
#   C. cluster.stale shorter than three heartbeats: raised to three, so a
#      live agent is not taken for gone between two of its heartbeats (it
#      was, every beat: owners changing, its hand-off stream moved);
#   D. agents with different heartbeats (a rolling change of cluster.heartbeat):
#      each one's entry says its period, and a faster agent waits three of the
#      slower one's beats before it calls it stale (it flapped every beat).
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
bm_start_redis
# run NAME PORT [flags]: an agent in the background with its HTTP on PORT, pid in $AG
run() {
    local name=$1 port=$2
    shift 2
    "$AGENT" --consumer "$name" --block-ms 100 --rollup-interval 300ms \
        --http "127.0.0.1:$port" "$@" >>"$BM_TMP/agent-$name.log" 2>&1 &
    AG=$!
    BM_PIDS+=($AG)
    bm_wait_for 20 "curl -s -o /dev/null http://127.0.0.1:$port/health"
}
halt() { kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# two NAME: agents NAME1 and NAME2 on the stream NAME:events; HTTP ports P1 P2, pids A1 A2
two() {
    P1=$(bm_free_port)
    run "${1}1" "$P1" --stream "$1:events" --checkpoint-interval 300ms
    A1=$AG
    P2=$(bm_free_port)
    run "${1}2" "$P2" --stream "$1:events" --checkpoint-interval 300ms
    A2=$AG
}
pending() { redis-cli -p "$BM_PORT" XPENDING "$1" busmon | head -1; }

# --- A. more dead owners than one round looks up ----------------------------------------------
HP=$(bm_free_port)
metric() { bm_metric "$HP" "$1"; }
S=a:events
export BUSMON_CLUSTER_ENABLED=false # one agent at a time: its own figures
N=24
for i in $(seq $N); do echo "XADD $S * type metric name logins value 1 kind counter"; done |
    redis-cli -p "$BM_PORT" >/dev/null
# seed applies all of them, checkpoints them and acks them
BUSMON_RECLAIM_INTERVAL=0 run seed "$HP" --stream "$S" --checkpoint-interval 300ms
bm_check "A: seed counts the $N logins" bm_wait_for 20 "[ \"\$(metric busmon_custom_logins_total)\" = $N ]"
bm_check "A: seed acks them" bm_wait_for 20 '[ "$(pending "$S")" = 0 ]'
halt "$AG"
# N dead owners, d1..dN, each with one entry pending that its checkpoint (seed's) covers:
# each applied it, checkpointed it and died before its XACK
i=0
for id in $(redis-cli -p "$BM_PORT" XRANGE "$S" - + | grep -E '^[0-9]+-[0-9]+$'); do
    i=$((i + 1))
    redis-cli -p "$BM_PORT" COPY busmon:state:seed "busmon:state:d$i" >/dev/null
    # d1's entry was delivered 9 times, more than reclaim.max_deliveries (5): applied all the same
    tries=$([ $i = 1 ] && echo 9 || echo 1)
    redis-cli -p "$BM_PORT" XCLAIM "$S" busmon "d$i" 0 "$id" IDLE 600000 RETRYCOUNT "$tries" \
        FORCE JUSTID >/dev/null
done
bm_eq "A: $N entries pending for $N dead owners" "$N" "$(pending "$S")"
BUSMON_RECLAIM_INTERVAL=200ms BUSMON_RECLAIM_MIN_IDLE=100ms run rc "$HP" --stream "$S" \
    --checkpoint-interval 300ms
bm_check "A: rc acks every dead owner's entry" bm_wait_for 30 '[ "$(pending "$S")" = 0 ]'
bm_eq "A: all $N were covered by their owner's checkpoint" "$N" \
    "$(metric busmon_reclaimed_covered_total)"
bm_eq "A: none applied again" 0 "$(metric busmon_reclaimed_total)"
bm_eq "A: none taken for poison" 0 "$(metric busmon_poison_total)"
bm_eq "A: nothing dead-lettered" 0 "$(redis-cli -p "$BM_PORT" XLEN busmon:deadletter)"
n=$(metric busmon_custom_logins_total)
bm_eq "A: rc counted no login of its own" 0 "${n:-0}"
halt "$AG"
unset BUSMON_CLUSTER_ENABLED

# --- B. more agents in the registry than an agent keeps ------------------------------------------
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
    BUSMON_CLUSTER_REFRESH=300ms
# 300 gone agents, their last heartbeat a minute ago: counted for an hour yet, not live
old_us=$(($(date +%s) * 1000000 - 60000000))
for i in $(seq 300); do
    echo "HSET busmon:agents ghost-$i '{\"heartbeat_us\":$old_us,\"stopped\":false}'"
done | redis-cli -p "$BM_PORT" >/dev/null
bm_eq "B: 300 gone agents in the registry" 300 "$(bm_cli_raw HLEN busmon:agents)"
bm_eq "B: with their heartbeats" "{\"heartbeat_us\":$old_us,\"stopped\":false}" \
    "$(bm_cli_raw HGET busmon:agents ghost-7)"
two b
for p in "$P1" "$P2"; do
    bm_check "B: the agent on :$p sees both live agents among 302" bm_wait_for 20 \
        "[ \"\$(bm_metric $p busmon_cluster_agents_live)\" = 2 ]"
done
bm_eq "B: the 302 - 64 registry entries not read are counted" 238 "$(bm_metric "$P1" busmon_cluster_agents_left_out)"
bm_check "B: one judge of the two" bm_wait_for 20 \
    "[ \"\$(( \$(bm_metric $P1 busmon_cluster_leader) + \$(bm_metric $P2 busmon_cluster_leader) ))\" = 1 ]"
halt "$A1"
halt "$A2"
unset BUSMON_CLUSTER_HEARTBEAT BUSMON_CLUSTER_LEASE BUSMON_CLUSTER_STALE BUSMON_CLUSTER_REFRESH

# --- C. cluster.stale shorter than a heartbeat ----------------------------------------------------
# a heartbeat every 2 s, stale after 1.5 s: each agent would be taken for gone between two beats
export BUSMON_CLUSTER_REGISTRY=c:agents BUSMON_CLUSTER_LEADER_KEY=c:leader \
    BUSMON_CLUSTER_HEARTBEAT=2s BUSMON_CLUSTER_STALE=1500ms BUSMON_CLUSTER_REFRESH=300ms
two c
bm_check "C: c1 sees both agents live" bm_wait_for 20 \
    "[ \"\$(bm_metric $P1 busmon_cluster_agents_live)\" = 2 ]"
seen=""
for i in $(seq 32); do # 8 s, four heartbeats: the agents live now, as /api/stats says
    seen="$seen $(curl -s "http://127.0.0.1:$P1/api/stats" | jq '[.agents[] | select(.live)] | length')"
    sleep 0.25
done
bm_eq "C: both stay live between heartbeats (c1 saw:$seen)" 0 \
    "$(echo $seen | tr ' ' '\n' | grep -cvx 2)"
bm_check "C: the log says stale was raised" grep -q "cluster.stale (1500 ms) is shorter than three heartbeats" \
    "$BM_TMP/agent-c1.log"
halt "$A1"
halt "$A2"
unset BUSMON_CLUSTER_REGISTRY BUSMON_CLUSTER_LEADER_KEY BUSMON_CLUSTER_HEARTBEAT \
    BUSMON_CLUSTER_STALE BUSMON_CLUSTER_REFRESH

# --- D. agents with different heartbeats --------------------------------------------------------
export BUSMON_CLUSTER_REGISTRY=d:agents BUSMON_CLUSTER_LEADER_KEY=d:leader BUSMON_CLUSTER_REFRESH=300ms
P1=$(bm_free_port)
BUSMON_CLUSTER_HEARTBEAT=2s BUSMON_CLUSTER_STALE=6s run hb1 "$P1" --stream d:events
A1=$AG
P2=$(bm_free_port)
BUSMON_CLUSTER_HEARTBEAT=200ms BUSMON_CLUSTER_STALE=600ms run hb2 "$P2" --stream d:events
A2=$AG
bm_check "D: hb1's entry says its period (2 s)" bm_wait_for 10 \
    "[ \"\$(redis-cli -p $BM_PORT HGET d:agents hb1 | jq .every_us)\" = 2000000 ]"
bm_check "D: hb2 sees both agents live" bm_wait_for 20 \
    "[ \"\$(bm_metric $P2 busmon_cluster_agents_live)\" = 2 ]"
seen=""
for i in $(seq 24); do # 6 s, three of hb1's heartbeats, thirty of hb2's
    seen="$seen $(curl -s "http://127.0.0.1:$P2/api/stats" | jq '[.agents[] | select(.live)] | length')"
    sleep 0.25
done
bm_eq "D: hb2 never takes the slower hb1 for stale (hb2 saw:$seen)" 0 \
    "$(echo $seen | tr ' ' '\n' | grep -cvx 2)"
halt "$A1"
bm_check "D: hb1 stopped: hb2 sees it gone at once (stopped is said)" bm_wait_for 5 \
    "[ \"\$(bm_metric $P2 busmon_cluster_agents_live)\" = 1 ]"
halt "$A2"
unset BUSMON_CLUSTER_REGISTRY BUSMON_CLUSTER_LEADER_KEY BUSMON_CLUSTER_REFRESH

bm_finish
