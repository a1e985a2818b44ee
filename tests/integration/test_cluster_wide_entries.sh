#!/usr/bin/env bash
# Two agents share a group; each hands the entries of the other's
# transactions to that agent's hand-off stream. An entry with more than 64
# fields (a producer's extra fields: the agent ignores those it does not
# know) was refused by the hand-off ("out of memory applying a batch"): the
# agent reconnected and read its batch again and again, and the entry ended
# as poison in the dead-letter stream, its transaction never traced. The
# hand-off now carries every field, so each transaction is traced by its
# owner, nothing is dead-lettered, nothing stays pending.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cluster_agents wide 2 --block-ms 100
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp sees two live agents" bm_wait_for 15 \
        "[ \"\$(bm_metric $hp busmon_cluster_agents_live)\" = 2 ]"
done
extra=()
for i in $(seq 1 70); do extra+=("k$i" "v$i"); done
for t in $(seq 1 20); do
    bm_cli XADD busmon:events '*' type command tx "wide-$t" id "c$t" worker w step s "${extra[@]}" >/dev/null
    bm_cli XADD busmon:events '*' type result tx "wide-$t" id "r$t" cmd "c$t" worker w step s \
        ok true "${extra[@]}" >/dev/null
done
bm_check "every entry acked" bm_wait_for 20 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
handed=0
for hp in "${HPORTS[@]}"; do
    handed=$((handed + $(bm_metric "$hp" busmon_entries_handed_off_total)))
done
bm_check "entries were handed to the other agent ($handed)" [ "$handed" -gt 0 ]
bm_check "all 20 transactions traced, each with its 2 events" bm_wait_for 20 \
    '[ "$(for t in $(seq 1 20); do bm_cli_raw LLEN busmon:trace:wide-$t; done | grep -cx 2)" = 20 ]'
bm_eq "nothing dead-lettered" 0 "$(bm_cli_raw XLEN busmon:deadletter)"
bm_eq "no agent ran out of memory or reconnected" 0 \
    "$(cat "$BM_TMP"/agent-wide*.log | grep -c 'out of memory\|reconnecting')"
bm_finish
