#!/usr/bin/env bash
# deadletter_rate in a cluster: the judge adds what the other agents'
# checkpointed dead-letter counts grow by. An agent it saw for the first time
# added nothing (its count may be older than the last minute), so an agent
# that joined and dead-lettered a burst before the judge first read its
# checkpoint was never counted. An agent that came into the registry after
# the judge first read it started since: all of its count is recent, and is
# added.
#   dl1 alone judges (a long lease); it is paused while dl2 joins and
#   dead-letters 20 entries (its hand-off stream, which only it reads); once
#   dl1 runs again, its first read of dl2's checkpoint shows 20: the rule
#   deadletter_rate > 5 fires in dl1.
source "$(dirname "$0")/lib.sh"
bm_start_redis
printf '%s\n' 'alerts:' '  builtins: false' '  rules:' \
    '    - {name: deadletters, metric: deadletter_rate, op: ">", threshold: 5, for: 0s, cooldown: 0s}' \
    >"$BM_TMP/rules.yaml"
ARGS=(--config "$BM_TMP/rules.yaml" --leader-lease 30s --block-ms 100 --alert-interval 300ms
    --rollup-interval 300ms --checkpoint-interval 300ms)
bm_cluster_agents dl 1 "${ARGS[@]}"
HP1=${HPORTS[0]}
DL1=${BM_PIDS[-1]}
bm_check "dl1 leads" bm_wait_for 15 "[ \"\$(bm_metric $HP1 busmon_cluster_leader)\" = 1 ]"
kill -STOP "$DL1"
HP2=$(bm_free_port)
"$AGENT" --consumer dl2 --http "127.0.0.1:$HP2" "${ARGS[@]}" >>"$BM_TMP/agent-dl2.log" 2>&1 &
BM_PIDS+=($!)
bm_check "dl2 is up and has read the registry" bm_wait_for 15 \
    "[ \"\$(bm_metric $HP2 busmon_cluster_heartbeats_total)\" -ge 2 ]"
for i in $(seq 1 20); do bm_cli XADD busmon:handoff:dl2 '*' note "not an event $i" >/dev/null; done
bm_check "dl2 dead-letters the 20" bm_wait_for 10 \
    "[ \"\$(bm_metric $HP2 busmon_deadletter_total)\" = 20 ]"
c0=$(bm_metric "$HP2" busmon_checkpoints_total)
bm_check "dl2 checkpoints them" bm_wait_for 10 \
    "[ \"\$(bm_metric $HP2 busmon_checkpoints_total)\" -gt $c0 ]"
kill -CONT "$DL1"
bm_check "dl1 still leads" bm_wait_for 10 "[ \"\$(bm_metric $HP1 busmon_cluster_leader)\" = 1 ]"
bm_check "dl1 has read dl2's checkpoint" bm_wait_for 10 \
    "[ \"\$(bm_metric $HP1 busmon_cluster_partials_read_total)\" -ge 1 ]"
value() { curl -s "http://127.0.0.1:$HP1/api/alerts" | jq -r '.firing[] | select(.rule == "deadletters") | .value'; }
bm_check "dl1 fires on dl2's burst (deadletter_rate > 5)" bm_wait_for 10 '[ -n "$(value)" ]'
bm_eq "dl1 itself dead-lettered nothing" 0 "$(bm_metric "$HP1" busmon_deadletter_total)"
bm_finish
