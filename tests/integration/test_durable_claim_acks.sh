#!/usr/bin/env bash
# A claimed entry is applied once even when its XACK never reaches Redis,
# against a real Redis whose ACL refuses XACK to the agent's user:
#   1. a live agent: its claims stay pending (the XACK refused) and are
#      found again after min_idle: acked again, not applied again;
#   2. the agent killed after the checkpoint that holds its claims and before
#      their ack: at its restart they are acked, not applied again;
#   3. the same, but another agent finds the dead agent's claims (consumer
#      k3.claimed): the dead agent's checkpoint lists them, so it acks them;
#   4. 20,000 claims, past the 16,000 held unacked at once: all claimed
#      within seconds of the bound, each counted once.
# 2,000 counter metric events each, left by a consumer that read them and died.
# Cluster mode off: each agent's figures are its own.
source "$(dirname "$0")/lib.sh"
export BUSMON_HTTP=off BUSMON_RECLAIM_INTERVAL=1s BUSMON_CLUSTER_ENABLED=false
bm_start_redis
admin() { redis-cli -p "$BM_PORT" "$@"; }
admin ACL SETUSER busmon on '>agent-pw' '~*' '&*' +@all >/dev/null
URL="redis://busmon:agent-pw@127.0.0.1:$BM_PORT"

agent() { # agent NAME STREAM HTTP_PORT MIN_IDLE [CHECKPOINT_INTERVAL]
    BUSMON_RECLAIM_MIN_IDLE=$4 bm_bg "$BM_BUILD/busmon-agent" --redis "$URL" --consumer "$1" \
        --stream "$2" --block-ms 100 --checkpoint-interval "${5:-1s}" --http "127.0.0.1:$3"
}
logins() { curl -s "http://127.0.0.1:$1/api/metrics" | jq '[.series[]? | select(.name == "logins") | .count] | add // 0'; }
metric() { local v; v=$(bm_metric "$1" "$2"); echo "${v:-0}"; }
pending() { admin XPENDING "$1" busmon | head -1; }
left_by_ghost() { # left_by_ghost STREAM [N]: N (2000) events read by a consumer that died
    local n=${2:-2000}
    admin XGROUP CREATE "$1" busmon 0 MKSTREAM >/dev/null
    for _ in $(seq 1 "$n"); do echo "XADD $1 * type metric name logins value 1 kind counter"; done |
        admin >/dev/null
    admin XREADGROUP GROUP busmon ghost COUNT "$n" STREAMS "$1" '>' >/dev/null
}

# ---- 1. live: the XACK refused, the claims found pending again -------------------------------
S=ka:events
left_by_ghost "$S"
admin ACL SETUSER busmon -xack >/dev/null
H1=$(bm_free_port)
agent k1 "$S" "$H1" 1s
K1=$BM_LAST_PID
bm_check "k1 claims the dead consumer's 2000" bm_wait_for 20 '[ "$(metric "$H1" busmon_reclaimed_total)" = 2000 ]'
bm_check "k1 finds its claims pending again (XACK refused) and acks them again" bm_wait_for 20 \
    '[ "$(metric "$H1" busmon_claims_acked_again_total)" -ge 2000 ]'
bm_check "... again and again, while XACK is refused" bm_wait_for 20 \
    '[ "$(metric "$H1" busmon_claims_acked_again_total)" -ge 4000 ]'
bm_eq "2000 events still counted 2000 times" 2000 "$(logins "$H1")"
bm_eq "none applied twice (claimed once)" 2000 "$(metric "$H1" busmon_reclaimed_total)"
admin ACL SETUSER busmon +xack >/dev/null
bm_check "XACK allowed again: nothing left pending" bm_wait_for 20 '[ "$(pending "$S")" = 0 ]'
bm_eq "... still 2000" 2000 "$(logins "$H1")"
kill -TERM "$K1"
wait "$K1"

# claim_then_kill NAME STREAM PORT: NAME claims the 2000 a dead consumer left
# on STREAM with XACK refused, a checkpoint holds them, NAME is killed with
# kill -9 before their ack, and XACK is allowed again
claim_then_kill() {
    local name=$1 s=$2 h=$3 ck pid
    left_by_ghost "$s"
    admin ACL SETUSER busmon -xack >/dev/null
    agent "$name" "$s" "$h" 1s
    pid=$BM_LAST_PID
    bm_check "$name claims the 2000" bm_wait_for 20 "[ \"\$(metric $h busmon_reclaimed_total)\" = 2000 ]"
    ck=$(metric "$h" busmon_checkpoints_total)
    bm_check "a checkpoint of $name holds them" bm_wait_for 10 "[ \$(metric $h busmon_checkpoints_total) -ge $((ck + 2)) ]"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    bm_check "$name killed before their ack: still pending" [ "$(pending "$s")" = 2000 ]
    bm_check "$name's checkpoint lists them as claimed" bash -c \
        "redis-cli -p $BM_PORT --raw GET busmon:state:$name | grep -q 'claimed'"
    admin ACL SETUSER busmon +xack >/dev/null
}

# ---- 2. killed between its checkpoint and the ack; restarted -------------------------------
S=kb:events
H2=$(bm_free_port)
claim_then_kill k2 "$S" "$H2"
agent k2 "$S" "$H2" 1s
K2=$BM_LAST_PID
bm_check "k2 restarted: its claims acked" bm_wait_for 30 '[ "$(pending "$S")" = 0 ]'
bm_eq "2000 counted 2000 times (restored, not applied again)" 2000 "$(logins "$H2")"
bm_eq "... acked again, not claimed again" "2000 0" \
    "$(metric "$H2" busmon_claims_acked_again_total) $(metric "$H2" busmon_reclaimed_total)"
bm_eq "nothing forgotten by the bound" 0 "$(metric "$H2" busmon_claims_forgotten_total)"
kill -TERM "$K2"
wait "$K2"

# ---- 3. killed the same way; another agent finds its claims ----------------------------------
S=kc:events
claim_then_kill k3 "$S" "$(bm_free_port)"
H4=$(bm_free_port)
agent k4 "$S" "$H4" 1s
K4=$BM_LAST_PID
bm_check "k4 takes k3's claims once k3's checkpoint is old" bm_wait_for 40 '[ "$(pending "$S")" = 0 ]'
bm_eq "k4 acked them as k3's checkpoint lists them" 2000 "$(metric "$H4" busmon_reclaimed_covered_total)"
bm_eq "... and applied none" "0 0" "$(metric "$H4" busmon_reclaimed_total) $(logins "$H4")"
kill -TERM "$K4"
wait "$K4"

# ---- 4. more claims than are held unacked at once (16,000) -----------------------------------
# Claims wait for a checkpoint's ack at most 16,000 at a time (each is listed
# in every checkpoint): the rest are claimed once the next checkpoint (every
# 20 s here) acks them, not a reclaim interval (40 s here) later. The first
# round comes one interval after the start, with a checkpoint (both timers
# start with the agent), and the 32 rounds must end before the next one:
# with 5 s checkpoints, a loaded machine (ctest -j4) once made 33 (16,500
# claimed).
S=kd:events
left_by_ghost "$S" 20000
H5=$(bm_free_port)
BUSMON_RECLAIM_INTERVAL=40s agent k5 "$S" "$H5" 1s 20s
K5=$BM_LAST_PID
bm_check "k5's first rounds claim up to the bound" bm_wait_for 60 \
    '[ "$(metric "$H5" busmon_reclaimed_total)" -ge 16000 ]'
bm_eq "... and stop there while they wait for their acks" 16000 "$(metric "$H5" busmon_reclaimed_total)"
bm_check "the rest once a checkpoint acks them, not the next interval" bm_wait_for 35 \
    '[ "$(metric "$H5" busmon_reclaimed_total)" = 20000 ]'
bm_check "all acked" bm_wait_for 20 '[ "$(pending "$S")" = 0 ]'
bm_eq "20000 counted 20000 times" 20000 "$(logins "$H5")"
kill -TERM "$K5"
wait "$K5"
bm_finish
