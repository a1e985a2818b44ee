#!/usr/bin/env bash
# Pub/sub while the cluster's membership changes. Every agent hears every
# message and counts its share. Each agent used to move a joining or stopping
# agent's share when it next read the registry, so for up to a heartbeat they
# disagreed: on a join the joiner and the old owner both counted the joiner's
# share (counted twice), on a clean stop nobody counted the stopping agent's
# share (lost). Now the share changes hands at an instant the agent names in
# its registry entry ahead of time (owns_from_us, owns_until_us), compared
# with each message's time, and a stopping agent counts its share until then.
#   A. q1 alone; messages published at a steady rate while q2 joins: the
#      merged count is exactly the number published.
#   B. the same while q1 stops cleanly (SIGINT): still exact, q1's share
#      counted by q1 before the instant and by q2 after it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pubsub_cluster_lib.sh"
pubsub_cluster_start

# --- A. a join while messages flow ----------------------------------------------------
publish 1 1500 500 &
PUB=$!
sleep 1
HP2=$(bm_free_port)
"$AGENT" --consumer q2 --http "127.0.0.1:$HP2" "${ARGS[@]}" >>"$BM_TMP/agent-q2.log" 2>&1 &
BM_PIDS+=($!)
Q2=$!
wait "$PUB"
bm_check "A: q2 joined while messages flowed" \
    [ "$(bm_metric $HP2 busmon_pubsub_messages_total)" -gt 0 ]
bm_check "A: q2 counts its share" [ "$(bm_metric $HP1 busmon_pubsub_not_owned_total)" -gt 0 ]
bm_check "A: the merged count settles" bm_wait_for 10 \
    "[ \"\$(merged $HP1)\" = \"\$(merged $HP2)\" ] && [ \"\$(merged $HP1)\" -ge 1500 ]"
sleep 1 # one more refresh of each agent: nothing more comes
bm_eq "A: 1,500 published, each counted once (q1's view)" 1500 "$(merged "$HP1")"
bm_eq "A: ... and q2's view" 1500 "$(merged "$HP2")"
counted_a=$(merged "$HP2")

# --- B. a clean stop while messages flow --------------------------------------------------
Q1=${BM_PIDS[-2]}
publish 1501 1500 500 &
PUB=$!
sleep 1
kill -INT "$Q1"
wait "$PUB"
bm_check "B: q1 stopped" bm_wait_for 15 "! kill -0 $Q1 2>/dev/null"
bm_check "B: q1 stopped cleanly (exit 0)" wait "$Q1"
bm_check "B: the merged count settles" bm_wait_for 10 \
    "[ \"\$(merged $HP2)\" -ge $((counted_a + 1500)) ]"
sleep 1
bm_eq "B: 1,500 more published, each counted once (q2's view, q1's checkpoint in it)" 1500 \
    "$(($(merged "$HP2") - counted_a))"
bm_finish
