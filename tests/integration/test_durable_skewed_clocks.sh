#!/usr/bin/env bash
# Reclaim between agents whose hosts' wall clocks differ, against a real
# Redis: an owner is judged alive by whether its checkpoint (and, with
# several agents, its registry heartbeat) changes on the judge's own
# monotonic clock, never by its wall-clock stamp against the judge's.
#   A. two agents, no cluster, s1's clock 10 s behind s2's: each acks its
#      entries after its checkpoint (state.checkpoint_interval 4 s, longer
#      than reclaim.min_idle 1 s). Neither may take the other for dead and
#      claim what it applied: 3,000 counter events counted 3,000 times.
#      Then s1 is killed with kill -9: s2 claims what it left once it has
#      seen s1's last checkpoint unchanged for twice its interval.
#   B. several agents (cluster on), k1's clock 10 s behind, holding entries
#      past min_idle when k2 starts (checkpoint every 6 s): k2 must not take
#      it for stale at first sight of its heartbeat and claim them. Then k1
#      killed: k2 claims its entries within cluster.stale and a round.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
export BUSMON_HTTP=off BUSMON_RECLAIM_INTERVAL=1s BUSMON_RECLAIM_MIN_IDLE=1s
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
echo -10 >"$BM_TMP/behind"
declare -A HTTP PID
agent() { # agent NAME STREAM CHECKPOINT_INTERVAL [CLOCK_FILE]: its port in HTTP[NAME]
    HTTP[$1]=$(bm_free_port)
    BUSMON_TEST_CLOCK_FILE=${4:-} bm_bg "$AGENT" --consumer "$1" --stream "$2" --block-ms 100 \
        --checkpoint-interval "$3" --http "127.0.0.1:${HTTP[$1]}"
    PID[$1]=$BM_LAST_PID
}
logins() { curl -s "http://127.0.0.1:$1/api/metrics" | jq '[.series[]? | select(.name == "logins") | .count] | add // 0'; }
reclaimed() { bm_metric "$1" busmon_reclaimed_total; }
pending() { redis-cli -p "$BM_PORT" XPENDING "$1" busmon | head -1; }
lag() { redis-cli -p "$BM_PORT" XINFO GROUPS "$1" | awk '$0 == "lag" { getline; print }'; }
held_by() { redis-cli -p "$BM_PORT" XINFO CONSUMERS "$1" busmon | awk -v c="$2" '
    $0 == "name" { getline; n = $0 } $0 == "pending" { getline; if (n == c) print }'; }
burst() { # burst STREAM N: N counter events
    for _ in $(seq 1 "$2"); do echo "XADD $1 * type metric name logins value 1 kind counter"; done |
        redis-cli -p "$BM_PORT" >/dev/null
}

# kill_holding PART STREAM NAME PID: NAME (pid PID) killed with kill -9 while
# 2000 more entries come, once it holds some; what it held in $held
kill_holding() {
    burst "$2" 2000 &
    local b=$!
    bm_wait_for 10 "[ \"\$(held_by $2 $3)\" -gt 0 ]"
    kill -9 "$4"
    wait "$4" 2>/dev/null
    wait "$b"
    held=$(held_by "$2" "$3")
    bm_check "$1: $3 held entries when killed ($held)" [ "${held:-0}" -gt 0 ]
}

# --- A. no cluster: the checkpoint alone judges ------------------------------------------------
export BUSMON_CLUSTER_ENABLED=false
S=sa:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
agent s1 "$S" 4s "$BM_TMP/behind"
agent s2 "$S" 4s
H1=${HTTP[s1]} H2=${HTTP[s2]}
bm_check "A: both agents ready" bm_wait_for 20 \
    "curl -sf http://127.0.0.1:$H1/ready && curl -sf http://127.0.0.1:$H2/ready"
# 3000 spread over 3 s, so entries of both wait past min_idle for their checkpoint
for n in 500 500 500 500 500 500; do burst "$S" "$n" && sleep 0.5; done
bm_check "A: every entry acked" bm_wait_for 30 '[ "$(pending $S)" = 0 ] && [ "$(lag $S)" = 0 ]'
bm_check "A: the entries waited past min_idle for their acks (a round came)" \
    [ "$(bm_metric "$H1" busmon_reclaim_rounds_total)$(bm_metric "$H2" busmon_reclaim_rounds_total)" != 00 ]
bm_eq "A: no live agent's entry claimed (s1 10 s behind)" "0 0" "$(reclaimed "$H1") $(reclaimed "$H2")"
bm_eq "A: 3000 events counted 3000 times" 3000 $(($(logins "$H1") + $(logins "$H2")))

# s1 (10 s behind) killed mid-stream: s2 claims what it left, counted once
before=$(($(reclaimed "$H2") + $(bm_metric "$H2" busmon_reclaimed_covered_total)))
kill_holding A "$S" s1 "${PID[s1]}"
t0=$SECONDS
# dead once s2 has seen its last checkpoint unchanged for twice its interval
# (8 s; seen up to a round after it was written), claimed at the next round,
# acked after s2's next checkpoint (4 s)
bm_check "A: s2 claims them within twice s1's interval, two rounds and its checkpoint (14 s, + 6 s slack)" \
    bm_wait_for 20 '[ "$(pending $S)" = 0 ] && [ "$(lag $S)" = 0 ]'
echo "  claimed in $((SECONDS - t0)) s"
covered=$(bm_metric "$H2" busmon_reclaimed_covered_total)
bm_eq "A: s2 claimed each once (applied, or acked as s1's checkpoint held it)" "$held" \
    $(($(reclaimed "$H2") + covered - before))
kill -TERM "${PID[s2]}"
wait "${PID[s2]}"

# --- B. several agents: the registry heartbeat judges too --------------------------------------
export BUSMON_CLUSTER_ENABLED=true BUSMON_RECLAIM_INTERVAL=200ms
S=sb:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
agent k1 "$S" 6s "$BM_TMP/behind"
bm_check "B: k1 ready" bm_wait_for 20 "curl -sf http://127.0.0.1:${HTTP[k1]}/ready"
sleep 1 # past k1's first checkpoint, written at its start
burst "$S" 1000
bm_check "B: k1 holds entries past min_idle, waiting for its checkpoint" bm_wait_for 10 \
    "[ \"\$(redis-cli -p $BM_PORT XPENDING $S busmon IDLE 1500 - + 10 k1 | wc -l)\" -gt 0 ]"
agent k2 "$S" 6s
H4=${HTTP[k2]}
bm_check "B: k2 makes rounds while k1's entries wait" bm_wait_for 10 \
    '[ "$(bm_metric "$H4" busmon_reclaim_rounds_total)" -gt 0 ]'
bm_check "B: all acked once k1's checkpoint is written" bm_wait_for 20 '[ "$(pending $S)" = 0 ]'
bm_eq "B: k2 claimed none of live k1's entries" 0 "$(reclaimed "$H4")"
kill_holding B "$S" k1 "${PID[k1]}"
# stale after cluster.stale (5 s), claimed at the next round, acked after k2's
# next checkpoint (6 s)
bm_check "B: k2 claims them within cluster.stale, a round and its checkpoint (11.2 s, + 4 s slack)" \
    bm_wait_for 15 '[ "$(pending $S)" = 0 ] && [ "$(lag $S)" = 0 ]'
bm_finish
