#!/usr/bin/env bash
# An agent that starts (or restarts) in a running cluster read its entries
# before it had read the registry (its first heartbeat came a period later):
# knowing no other agent, it took every transaction for its own. It applied
# the entries of the others' transactions itself (their commands waited here
# for answers read by their owners, and were timed out: synthetic timeouts,
# results counted without their command), and on pub/sub it kept every
# message, counted twice with its owner's copy. The inputs now start once the
# registry is read (asked for at once, after the checkpoint is restored).
#   j1 runs alone; 20 commands (timeout_seconds 1) wait in j2's pending list
#   (read by hand as j2, as a crash leaves them); j2 starts, then the 20
#   results come. Every command is answered by its owner: none timed out,
#   j1's share handed to it, every transaction paired where it is owned.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cluster_agents j 1 --block-ms 100 --checkpoint-interval 300ms
HP1=${HPORTS[0]}
bm_check "j1 reads" bm_wait_for 15 "[ \"\$(bm_metric $HP1 busmon_cluster_agents_live)\" = 1 ]"
kill -STOP "${BM_PIDS[-1]}" # j1 does not read while j2's pending list is made
for t in $(seq 1 20); do
    bm_cli XADD busmon:events '*' type command tx "join-$t" id "c$t" worker w step s \
        timeout_seconds 1 >/dev/null
done
# (j1's read blocked in Redis may take the first one before the stop)
bm_cli XREADGROUP GROUP busmon j2 COUNT 100 STREAMS busmon:events '>' >/dev/null
bm_check "the commands wait in j2's pending list" \
    [ "$(bm_cli_raw XPENDING busmon:events busmon - + 100 j2 | grep -c -- -)" -ge 19 ]
kill -CONT "${BM_PIDS[-1]}"
hp=$(bm_free_port)
"$AGENT" --consumer j2 --http "127.0.0.1:$hp" --block-ms 100 --checkpoint-interval 300ms \
    >>"$BM_TMP/agent-j2.log" 2>&1 &
BM_PIDS+=($!)
bm_check "j2's pending entries are read" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
for t in $(seq 1 20); do
    bm_cli XADD busmon:events '*' type result tx "join-$t" id "r$t" cmd "c$t" worker w step s \
        ok true >/dev/null
done
bm_check "every transaction traced with its command and result" bm_wait_for 15 \
    '[ "$(for t in $(seq 1 20); do bm_cli_raw LLEN busmon:trace:join-$t; done | grep -cx 2)" = 20 ]'
sleep 2 # past the commands' timeout_seconds (1 s)
bm_check "j2 handed j1's commands to it" [ "$(bm_metric "$hp" busmon_entries_handed_off_total)" -gt 0 ]
bm_eq "no command timed out (j2's, j1's)" "0 0" \
    "$(bm_metric "$hp" busmon_command_timeouts_total) $(bm_metric "$HP1" busmon_command_timeouts_total)"
bm_check "the merged figures: 20 successes of w, no timeout" bm_wait_for 10 \
    "curl -s http://127.0.0.1:$hp/api/workers?window=1h | jq -e '.workers[] | select(.name == \"w\") | .successes == 20 and .timeouts == 0'"
bm_finish
