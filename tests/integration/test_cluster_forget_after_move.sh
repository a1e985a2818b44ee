#!/usr/bin/env bash
# A gone agent is forgotten (its registry entry deleted) only with its
# hand-off stream moved. The leader forgot every agent gone longer than the
# forget time (70 min) once it had watched it for cluster.stale, whatever
# the janitor, which moves one gone agent at a time and finds its agents in
# the registry: after a long stop of every agent, the first start forgot
# most of them before their turn, and the entries handed to them (acked
# where they were read) stayed in their streams for good.
#   five agents gone three hours ago, each with 20 transactions (a command
#   and its result) in its hand-off stream; one agent starts: it counts
#   the 100, every stream is moved and deleted, every gone agent forgotten.
source "$(dirname "$0")/lib.sh"
bm_cluster_env
bm_start_redis
bm_agent_http
now_us=$(bm_cli_raw TIME | awk 'NR == 1 { s = $1 } NR == 2 { printf "%d%06d", s, $1 }')
old_us=$((now_us - 3 * 3600 * 1000000))
for g in $(seq 1 5); do
    echo "HSET busmon:agents gone$g '{\"heartbeat_us\":$old_us,\"every_us\":250000,\"stopped\":false,\"group\":\"busmon\"}'"
    for t in $(seq 1 20); do
        echo "XADD busmon:handoff:gone$g * type command id c-$g-$t tx gone-$g-$t worker w step s"
        echo "XADD busmon:handoff:gone$g * type result id r-$g-$t tx gone-$g-$t worker w step s ok true"
    done
done | bm_cli >/dev/null
bm_eq "five gone agents in the registry" 5 "$(bm_cli_raw HLEN busmon:agents)"
PORT=$(bm_free_port)
"$AGENT" --consumer a1 --http "127.0.0.1:$PORT" --block-ms 100 --checkpoint-interval 300ms \
    >>"$BM_TMP/agent-a1.log" 2>&1 &
BM_PIDS+=($!)
streams() { for g in $(seq 1 5); do bm_cli_raw EXISTS "busmon:handoff:gone$g"; done | awk '{ s += $1 } END { print s }'; }
bm_check "every gone agent's stream is moved and deleted" bm_wait_for 30 '[ "$(streams)" = 0 ]'
bm_check "every gone agent is forgotten" bm_wait_for 10 \
    '[ "$(bm_cli_raw HKEYS busmon:agents | tr "\n" " ")" = "a1 " ]'
bm_eq "200 entries moved" 200 "$(bm_metric "$PORT" busmon_cluster_handoff_moved_total)"
w() { curl -s "http://127.0.0.1:$PORT/api/workers?window=1h" | jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.successes)"'; }
bm_check "w: 100 executions, 100 successes" bm_wait_for 20 '[ "$(w)" = "100 100" ]'
echo "  w: $(w) (executions successes); moved $(bm_metric "$PORT" busmon_cluster_handoff_moved_total)"
bm_finish
