#!/usr/bin/env bash
# A claim and the checkpoint of the agent it claims from cannot cross: one
# round trip apart, each would otherwise count entries the other counted.
#   p1 and p2 (one group, checkpoints every 300 ms: one looks dead after
#   600 ms without one; reclaim every 500 ms of entries idle 2 s) read one
#   stream a demo producer fills with a known set of transactions, without
#   the cluster: each counts what it applies, so that p1's entries wait for
#   its checkpoint (not handed to the other, whose hand-offs the cluster
#   tests cover: test_cluster_handoff_guard.sh).
#   Case 1, the claim after the away check: p1 (checkpoints every 1 s)
#   holds its first checkpoint SET after an away check of an absence of 3 s
#   or more for 3 s (BUSMON_TEST_AWAY_SET_DELAY_MS). p1 is stopped 6 s while p2's claims
#   fail (its ACL user denied XCLAIM, which the claim script runs); p1
#   goes on (its check finds nothing claimed, its SET waits), then p2's
#   claims work again and take what p1 applied since its last checkpoint.
#   p1's SET must see the claim's mark and start p1 again from it.
#   Case 2, the checkpoint after the claimer read it: p2's first claim from
#   an agent judged dead waits 4 s (BUSMON_TEST_CLAIM_DELAY_MS). p1 is
#   stopped 3 s; once p2 has read p1's old checkpoint and waits, p1 goes on
#   and writes a new one (its XACKs denied meanwhile, so that its entries
#   stay pending; p1 is started again afterwards, which acks them). p2's
#   claim must see that checkpoint and leave them.
#   Case 3: p2's ACL user has no GETRANGE (the line of an older busmon):
#   its claims go without that fence, with one warning.
#   Each case then: nothing pending, per-worker successes and failures
#   exactly as produced (the sum of the agents' /api/workers).
# Before the fences both cases counted the crossed entries twice.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http # AGENT, BUSMON
export BUSMON_RECLAIM_INTERVAL=500ms BUSMON_RECLAIM_MIN_IDLE=2s BUSMON_RECLAIM_MAX_DELIVERIES=50
admin() { redis-cli -p "$BM_PORT" "$@"; }
ACL_LINE=$(sed -n 2p <("$AGENT" --print-acl))
declare -A PID PORT
truth() { awk -F'\t' 'NF == 3 && ($2 == "ok" || $2 == "fail") {
        n[$1]++; if ($2 == "ok") ok[$1]++; else f[$1]++ }
    END { for (w in n) print w, ok[w] + 0, f[w] + 0 }' "$BM_TMP/truth.tsv" | sort; }
api_seen() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" |
    jq -r '.workers[] | "\(.name) \(.successes) \(.failures)"' | sort; }
# each agent counts what it applied: the two add up
sum_seen() { { api_seen p1; api_seen p2; } |
    awk '{ ok[$1] += $2; f[$1] += $3 } END { for (w in ok) print w, ok[w], f[w] }' | sort; }
metric() { bm_metric "${PORT[$1]}" "$2"; }

# agent CASE NAME: start p1 or p2 (its port in PORT, its pid in PID)
agent() {
    local -n envs="${2^^}_ENV" args="${2^^}_ARGS"
    env BUSMON_CLUSTER_ENABLED=false "${envs[@]}" "$AGENT" --consumer "$2" \
        --http "127.0.0.1:${PORT[$2]}" --block-ms 100 --checkpoint-interval 300ms \
        --rollup-interval 300ms "${args[@]}" --redis-username "$2" \
        --redis-password-file "$BM_TMP/$2.pw" >>"$BM_TMP/agent-$1-$2.log" 2>&1 &
    PID[$2]=$!
    BM_PIDS+=($!)
}

# start CASE: a clean Redis database, p1 and p2 (as ACL users p1 and p2, each
# with the environment in P1_ENV / P2_ENV and the options in P1_ARGS /
# P2_ARGS), the producer running
start() {
    local case=$1 n
    admin FLUSHALL >/dev/null
    admin XGROUP CREATE busmon:events busmon 0 MKSTREAM >/dev/null
    for n in p1 p2; do
        admin ${ACL_LINE/busmon on >PASSWORD/$n on >$n-pw} >/dev/null
        echo "$n-pw" >"$BM_TMP/$n.pw"
        PORT[$n]=$(bm_free_port)
        agent "$case" "$n"
    done
    for n in p1 p2; do
        bm_check "case $case: $n is up" bm_wait_for 15 \
            '[ -n "$(metric $n busmon_checkpoints_total)" ]'
    done
    rm -f "$BM_TMP/truth.tsv"
    "$BM_BUILD/busmon-demo-producer" --count 1200 --rate 300 --seed "$case" \
        --ground-truth "$BM_TMP/truth.tsv" >/dev/null 2>"$BM_TMP/producer.log" &
    PROD=$!
    BM_PIDS+=($!)
    sleep 2
}

# finish CASE: the producer done, nothing pending, the figures exact, both stop
finish() {
    local case=$1 n
    wait "$PROD"
    bm_eq "case $case: the producer wrote every transaction" 0 "$?"
    bm_check "case $case: nothing pending" bm_wait_for 60 '[ "$(bm_pending_all)" = 0 ]'
    TRUTH=$(truth)
    bm_check "case $case: p1's and p2's /api/workers add up to what was produced" \
        bm_wait_for 20 '[ "$(sum_seen)" = "$TRUTH" ]'
    [ "$(sum_seen)" = "$TRUTH" ] || { echo "  truth:"; echo "$TRUTH"; echo "  sum:"; sum_seen; }
    for n in p1 p2; do
        kill -TERM "${PID[$n]}"
        bm_wait_for 20 "! kill -0 ${PID[$n]}"
        wait "${PID[$n]}"
        bm_eq "case $case: $n stops cleanly" 0 "$?"
    done
}

# ---- case 1: p2 claims between p1's away check and p1's SET ----------------------------------
P1_ENV=(BUSMON_TEST_AWAY_SET_DELAY_MS=3000) P2_ENV=()
P1_ARGS=(--checkpoint-interval 1s) P2_ARGS=() # p1: up to 1 s of entries pending at the stop
start 1
admin ACL SETUSER p2 -xclaim >/dev/null # p2's claims fail (in their script) until p1 checked
kill -STOP "${PID[p1]}"
sleep 6 # p1 looks dead to p2 (no checkpoint for 2 s); its entries idle past 2 s
kill -CONT "${PID[p1]}"
bm_check "case 1: p1's SET after its away check waits" bm_wait_for 5 \
    "grep -q 'test: the checkpoint.s SET after the away check waits' '$BM_TMP/agent-1-p1.log'"
admin ACL SETUSER p2 +xclaim >/dev/null
bm_check "case 1: p2 claims p1's entries meanwhile" bm_wait_for 5 \
    '[ "$(metric p2 busmon_reclaimed_total)" -gt 0 ]'
bm_check "case 1: p1's SET finds the claim's mark and p1 starts again from its checkpoint" \
    bm_wait_for 10 '[ "$(metric p1 busmon_agent_away_resets_total)" -ge 1 ]'
echo "  p2 claimed $(metric p2 busmon_reclaimed_total) entries"
finish 1

# ---- case 2: p1 writes a checkpoint between p2's read of it and p2's claim -------------------
P1_ENV=() P2_ENV=(BUSMON_TEST_CLAIM_DELAY_MS=4000) P1_ARGS=() P2_ARGS=()
start 2
kill -STOP "${PID[p1]}"
bm_check "case 2: p2 judges p1 dead and holds its claim" bm_wait_for 8 \
    "grep -q 'test: the claim from an owner judged dead waits' '$BM_TMP/agent-2-p2.log'"
admin ACL SETUSER p1 -xack >/dev/null # its entries stay pending past its checkpoint
kill -CONT "${PID[p1]}"
bm_check "case 2: p2's claim finds p1's new checkpoint and leaves its entries" bm_wait_for 8 \
    '[ "$(metric p2 busmon_reclaim_fenced_total)" -gt 0 ]'
echo "  left to p1: $(metric p2 busmon_reclaim_fenced_total) entries"
admin ACL SETUSER p1 +xack >/dev/null
# what p1 applied while its XACKs were denied stays pending for it: its next
# start acks what its checkpoint covers
kill -TERM "${PID[p1]}"
bm_wait_for 20 "! kill -0 ${PID[p1]}"
wait "${PID[p1]}"
bm_eq "case 2: p1 stops cleanly (before its restart)" 0 "$?"
agent 2 p1
finish 2

# ---- case 3: a claimer whose ACL has no GETRANGE (an older busmon's line) still claims ---------
P1_ENV=() P2_ENV=() P1_ARGS=() P2_ARGS=()
start 3
admin ACL SETUSER p2 -getrange >/dev/null
kill -STOP "${PID[p1]}"
sleep 4 # p1 looks dead; its entries idle past 2 s
bm_check "case 3: p2 claims p1's entries all the same" bm_wait_for 5 \
    '[ "$(metric p2 busmon_reclaimed_total)" -gt 0 ]'
bm_check "case 3: and says once that it claims without the fence" \
    [ "$(grep -c 'Redis refuses GETRANGE to this user' "$BM_TMP/agent-3-p2.log")" = 1 ]
kill -CONT "${PID[p1]}"
finish 3
bm_finish
