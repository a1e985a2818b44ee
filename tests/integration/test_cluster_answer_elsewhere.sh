#!/usr/bin/env bash
# A command whose answer went to another agent is not timed out by busmon.
# An agent killed past cluster.stale loses its transactions to the others
# while it is gone: the answers to its commands are applied and counted
# there. Restarted, it had those commands back from its checkpoint, still
# awaited, and called each one timed out once its timeout_seconds ran out
# (busmon's own timeouts: 5 to 50 of 13,000 commands in
# test_chaos_cluster.sh's kill -9 runs). Before calling one, it now reads
# the command's stored trace: the answer there (another agent's record)
# ends it, out of flight, counted once.
#   a1 reads the events, a2 only its hand-off stream; 40 commands with
#   timeout_seconds 4; a2 (owner of its share) is killed with kill -9; the
#   40 results come while it is gone (a1 owns them all then); a2 starts
#   again: w counts 40 executions, 40 successes, no timeout, none in flight.
source "$(dirname "$0")/lib.sh"
declare -A PID PORT
bm_cluster_env
bm_start_redis
bm_agent_http
cat >"$BM_TMP/agent.yaml" <<YAML
worker_monitoring:
  timeout_grace: 200ms
YAML
start() { bm_cluster_agent "$@" --config "$BM_TMP/agent.yaml" --checkpoint-interval 300ms; }
live() { [ "$(bm_metric "${PORT[$1]}" busmon_cluster_agents_live)" = "$2" ]; }
start a1
start a2 --stream a2:nothing
for n in a1 a2; do bm_check "$n sees two live agents" bm_wait_for 15 "live $n 2"; done
for t in $(seq 1 40); do
    echo "XADD busmon:events * type command id c-$t tx else-$t worker w step s timeout_seconds 4"
done | bm_cli >/dev/null
handed=0
bm_check "a1 handed a2 its share" bm_wait_for 15 \
    '[ "$(bm_metric ${PORT[a1]} busmon_entries_handed_off_total)" -gt 0 ]'
handed=$(bm_metric "${PORT[a1]}" busmon_entries_handed_off_total)
bm_check "a2 applied its $handed commands and checkpointed them" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:handoff:a2 busmon | head -1)" = 0 ] &&
     [ "$(bm_cli_raw XLEN busmon:handoff:a2)" = "$handed" ]'
sleep 1 # a checkpoint after the acks
kill -9 "${PID[a2]}"
wait "${PID[a2]}" 2>/dev/null
bm_check "a1 sees a2 gone" bm_wait_for 15 "live a1 1"
for t in $(seq 1 40); do
    echo "XADD busmon:events * type result id r-$t tx else-$t worker w step s ok true"
done | bm_cli >/dev/null
bm_check "a1 applied the 40 results" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ] &&
     [ "$(bm_metric ${PORT[a1]} busmon_entries_read_total)" = 80 ]'
sleep 1 # their records stored
start a2 --stream a2:nothing
for n in a1 a2; do bm_check "$n sees two live agents again" bm_wait_for 15 "live $n 2"; done
sleep 7 # past the commands' 4 s and the grace, counted from a2's restart
w() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" |
    jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.successes) \(.timeouts) \(.in_flight)"'; }
bm_check "w: 40 executions, 40 successes, no timeout, none in flight (merged, a1)" \
    bm_wait_for 10 '[ "$(w a1)" = "40 40 0 0" ]'
bm_check "... and on a2" bm_wait_for 10 '[ "$(w a2)" = "40 40 0 0" ]'
bm_eq "a2 called no timeout" 0 "$(bm_metric "${PORT[a2]}" busmon_command_timeouts_noticed_total)"
bm_eq "a2 found its $handed commands answered at a1" "$handed" \
    "$(bm_metric "${PORT[a2]}" busmon_answered_elsewhere_total)"
echo "  w (executions successes timeouts in_flight): a1 $(w a1), a2 $(w a2); a2's share $handed"
bm_finish
