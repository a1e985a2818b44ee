#!/usr/bin/env bash
# Two agents share a group; each hands the entries of the other's
# transactions to that agent's hand-off stream. An entry with more than 64
# fields (a producer's extra fields: the agent ignores those it does not
# know) was refused by the hand-off ("out of memory applying a batch"): the
# agent reconnected and read its batch again and again, and the entry ended
# as poison in the dead-letter stream, its transaction never traced. The
# hand-off now carries every field, so each transaction is traced by its
# owner, nothing is dead-lettered, nothing stays pending.
# Then one agent dies with entries waiting in its hand-off stream. The
# janitor of the other moved only entries of at most 16 fields that it could
# decode with the default limits, then deleted the stream: a wide entry, or
# one above the default 1 MiB that the agents' streams.max_entry_bytes
# allows, was lost without a word, and so was one it could not decode. Every
# entry is moved now (one that does not decode to this agent's own stream,
# whose reader dead-letters it).
source "$(dirname "$0")/lib.sh"
bm_start_redis
export BUSMON_STREAMS_MAX_ENTRY_BYTES=4M
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

# ---- the janitor moves a dead agent's hand-off entries, whatever their shape ----
kill -9 "${BM_PIDS[-1]}" # wide2, the last started
wait "${BM_PIDS[-1]}" 2>/dev/null
bm_cli_raw EXISTS busmon:handoff:wide2 | grep -qx 1 || bm_cli XGROUP CREATE busmon:handoff:wide2 busmon '$' MKSTREAM >/dev/null
for t in $(seq 1 5); do
    bm_cli XADD busmon:handoff:wide2 '*' type command tx "moved-$t" id "m$t" worker w step s "${extra[@]}" >/dev/null
done
head -c 1500000 /dev/zero | tr '\0' b >"$BM_TMP/blob"
redis-cli -p "$BM_PORT" -x XADD busmon:handoff:wide2 '*' type command tx moved-big id mbig worker w \
    step s blob <"$BM_TMP/blob" >/dev/null
bm_cli XADD busmon:handoff:wide2 '*' json '{"type": "command"' >/dev/null # not JSON
bm_check "the janitor moves wide2's hand-off stream and deletes it" bm_wait_for 30 \
    '[ "$(bm_cli_raw EXISTS busmon:handoff:wide2)" = 0 ]'
bm_check "its five 72-field entries are traced" bm_wait_for 15 \
    '[ "$(for t in $(seq 1 5); do bm_cli_raw LLEN busmon:trace:moved-$t; done | grep -cx 1)" = 5 ]'
bm_check "its 1.5 MB entry (within streams.max_entry_bytes 4M) is traced" bm_wait_for 15 \
    '[ "$(bm_cli_raw LLEN busmon:trace:moved-big)" = 1 ]'
bm_check "the entry no agent can decode is not dropped: dead-lettered from wide1's stream" \
    bm_wait_for 15 "'$BM_BUILD/busmon' deadletters --json | jq -e '.length == 1 and .entries[0].reason == \"not_json\" and .entries[0].stream == \"busmon:handoff:wide1\"' >/dev/null"
bm_finish
