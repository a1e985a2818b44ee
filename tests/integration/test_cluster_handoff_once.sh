#!/usr/bin/env bash
# An entry handed to its owner is handed once, even when the agent that
# handed it is killed before its next checkpoint. Its XACK waited for that
# checkpoint: killed, the agent read the entry again at its restart and
# handed it again, and an owner restarted in between (or another owner,
# the membership changed) took the copy for a new event and counted it
# twice. Found by test_chaos_cluster.sh (kill -9, 3 agents: ~15 commands of
# 13,000 counted twice).
#   h1 (checkpoints every minute) reads 60 transactions (a command and its
#   result), hands h2's share to h2 (which reads only its hand-off stream),
#   is killed with kill -9; h2 is killed and started again (its checkpoint
#   restored, no memory of the events); h1 is started again: w counts 60
#   executions, 60 successes, not 60 + h2's share.
source "$(dirname "$0")/lib.sh"
declare -A PID PORT
bm_cluster_env
bm_start_redis
bm_agent_http
start() { bm_cluster_agent "$@"; }
live2() { [ "$(bm_metric "${PORT[$1]}" busmon_cluster_agents_live)" = 2 ]; }
start h1 --checkpoint-interval 60s
start h2 --checkpoint-interval 300ms --stream h2:nothing
for n in h1 h2; do bm_check "$n sees two live agents" bm_wait_for 15 "live2 $n"; done
for t in $(seq 1 60); do
    echo "XADD busmon:events * type command id c-$t tx once-$t worker w step s"
    echo "XADD busmon:events * type result id r-$t tx once-$t worker w step s ok true"
done | bm_cli >/dev/null
bm_check "h1 read all 120" bm_wait_for 15 '[ "$(bm_metric ${PORT[h1]} busmon_entries_read_total)" = 120 ]'
handed=$(bm_metric "${PORT[h1]}" busmon_entries_handed_off_total)
bm_check "h1 handed entries to h2 ($handed)" [ "${handed:-0}" -gt 0 ]
bm_check "h2 applied and acked them (its checkpoint holds them)" bm_wait_for 15 \
    '[ "$(bm_cli_raw XLEN busmon:handoff:h2)" = "$handed" ] &&
     [ "$(bm_cli_raw XPENDING busmon:handoff:h2 busmon | head -1)" = 0 ]'
kill -9 "${PID[h1]}"
wait "${PID[h1]}" 2>/dev/null
kill -9 "${PID[h2]}"
wait "${PID[h2]}" 2>/dev/null
start h2 --checkpoint-interval 300ms --stream h2:nothing
bm_wait_for 15 'curl -sf http://127.0.0.1:${PORT[h2]}/ready'
start h1 --checkpoint-interval 300ms
for n in h1 h2; do bm_check "$n sees two live agents again" bm_wait_for 15 "live2 $n"; done
bm_check "h1 read its pending entries again" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
bm_check "h2 has nothing pending" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:handoff:h2 busmon | head -1)" = 0 ]'
bm_eq "each entry handed to h2 once" "$handed" "$(bm_cli_raw XLEN busmon:handoff:h2)"
kill -TERM "${PID[h1]}" # its last checkpoint: its own share counted in the merge
wait "${PID[h1]}"
w() { curl -s "http://127.0.0.1:${PORT[h2]}/api/workers?window=1h" | jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.successes)"'; }
bm_check "w: 60 executions, 60 successes, each counted once" bm_wait_for 10 '[ "$(w)" = "60 60" ]'
echo "  w: $(w) (executions successes)"
bm_finish
