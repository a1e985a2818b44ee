#!/usr/bin/env bash
# An agent paused (SIGSTOP) or cut off from Redis (its connections killed,
# again and again) for longer than the other agent waits before it claims
# its entries goes on without counting twice what the other claimed.
#   p1 and p2 (one group, checkpoints every 300 ms: p1 looks dead after
#   600 ms without one; reclaim every 500 ms of entries idle 2 s) read one
#   stream a demo producer fills with a known set of transactions. p1 is
#   stopped for 5 s (p2 claims and applies what p1 had applied since its
#   last checkpoint), goes on; then its connections are killed every 0.2 s
#   for 4 s. Once the producer is done and nothing is pending: the
#   per-worker successes and failures exactly as produced, merged (busmon
#   workers) and on each agent's /api/workers; p1 noticed it was away and
#   started again from its checkpoint (busmon_agent_away_resets_total).
# Before the fix p1 counted the claimed entries too (its next checkpoint
# held them): the figures were high by what p2 claimed.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http # AGENT, BUSMON
bm_cluster_env
export BUSMON_RECLAIM_INTERVAL=500ms BUSMON_RECLAIM_MIN_IDLE=2s BUSMON_RECLAIM_MAX_DELIVERIES=50
declare -A PID PORT
agent() { # agent NAME
    PORT[$1]=$(bm_free_port)
    "$AGENT" --consumer "$1" --block-ms 100 --checkpoint-interval 300ms --rollup-interval 300ms \
        --http "127.0.0.1:${PORT[$1]}" >>"$BM_TMP/agent-$1.log" 2>&1 &
    PID[$1]=$!
    BM_PIDS+=($!)
}
truth() { awk -F'\t' 'NF == 3 && ($2 == "ok" || $2 == "fail") {
        n[$1]++; if ($2 == "ok") ok[$1]++; else f[$1]++ }
    END { for (w in n) print w, ok[w] + 0, f[w] + 0 }' "$BM_TMP/truth.tsv" | sort; }
cli_seen() { "$BUSMON" workers --json --window 1h 2>/dev/null |
    jq -r '.workers[] | "\(.name) \(.successes) \(.failures)"' | sort; }
api_seen() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" |
    jq -r '.workers[] | "\(.name) \(.successes) \(.failures)"' | sort; }
# kill_conns PID: CLIENT KILL of every connection of that process to our Redis
kill_conns() {
    local port
    for port in $(ss -tnpH "dport = :$BM_PORT" 2>/dev/null | grep "pid=$1," |
        awk '{ n = split($4, a, ":"); print a[n] }'); do
        bm_cli CLIENT KILL ADDR "127.0.0.1:$port" >/dev/null 2>&1
    done
}

bm_cli XGROUP CREATE busmon:events busmon 0 MKSTREAM >/dev/null
agent p1
agent p2
for n in p1 p2; do
    bm_check "$n sees two live agents" bm_wait_for 15 \
        '[ "$(bm_metric ${PORT[$n]} busmon_cluster_agents_live)" = 2 ]'
done
"$BM_BUILD/busmon-demo-producer" --count 1500 --rate 300 --seed 7 \
    --ground-truth "$BM_TMP/truth.tsv" >/dev/null 2>"$BM_TMP/producer.log" &
PROD=$!
BM_PIDS+=($!)
sleep 2
kill -STOP "${PID[p1]}"
sleep 5 # p1 looks dead after 0.6 s; its entries idle 2 s are claimed within 0.5 s more
kill -CONT "${PID[p1]}"
sleep 2
for _ in $(seq 20); do # cut off 4 s: each reconnection killed again
    kill_conns "${PID[p1]}"
    sleep 0.2
done
wait "$PROD"
bm_eq "the producer wrote every transaction" 0 "$?"
bm_check "nothing pending (the stream and the hand-offs)" bm_wait_for 60 '[ "$(bm_pending_all)" = 0 ]'
TRUTH=$(truth)
bm_check "busmon workers: successes, failures exactly as produced" bm_wait_for 20 \
    '[ "$(cli_seen)" = "$TRUTH" ]'
[ "$(cli_seen)" = "$TRUTH" ] || { echo "  truth:"; echo "$TRUTH"; echo "  seen:"; cli_seen; }
for n in p1 p2; do
    bm_check "$n's /api/workers exactly as produced" bm_wait_for 10 '[ "$(api_seen $n)" = "$TRUTH" ]'
    [ "$(api_seen $n)" = "$TRUTH" ] || { echo "  $n:"; api_seen "$n"; }
done
resets=$(bm_metric "${PORT[p1]}" busmon_agent_away_resets_total)
bm_check "p1 started again from its checkpoint after it was away ($resets)" [ "${resets:-0}" -ge 1 ]
echo "  p1: $(grep -c 'this agent was away' "$BM_TMP/agent-p1.log") away warning(s); checks" \
    "$(bm_metric "${PORT[p1]}" busmon_agent_away_checks_total)"
bm_eq "p1 is the same process (started again in place)" 1 "$(kill -0 "${PID[p1]}" && echo 1)"
for n in p1 p2; do
    kill -TERM "${PID[$n]}"
    bm_wait_for 20 "! kill -0 ${PID[$n]}"
    wait "${PID[$n]}"
    bm_eq "$n stops cleanly" 0 "$?"
done
bm_eq "nothing dead-lettered" 0 "$(bm_cli_raw XLEN busmon:deadletter)"
bm_finish
