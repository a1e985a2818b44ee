#!/usr/bin/env bash
# An entry without an `id` (or a `ts`) takes its stream entry id's in their
# place (proto/README §1). Handed to its owner, it took the hand-off entry's
# id instead: a new one at each hand-off. An agent killed before its
# checkpoint reads its pending entries again and hands them off again; the
# owner took the second copy for a new event and counted it again (and an
# entry handed off late got the time of the hand-off). The hand-off now
# carries the entry's own id, which the owner (and the janitor) use.
#   h1 (checkpoints every minute: nothing acked) and h2 share 40
#   transactions of flat entries without id or ts, the result 500 ms after
#   its command by their entry ids; h1 is killed with kill -9 and started
#   again: every trace holds its two events once, w counts 40 executions,
#   each of 500 ms. Then h2 dies with 5 such transactions in its hand-off
#   stream (written by hand: no entry id field): the janitor moves them with
#   their hand-off ids, so they are 500 ms too, not the time of the move.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
    BUSMON_CLUSTER_REFRESH=300ms
declare -A PID PORT
agent() { # agent NAME [flags]
    local n=$1 hp; shift
    hp=${PORT[$n]:-$(bm_free_port)}
    "$AGENT" --consumer "$n" --http "127.0.0.1:$hp" --block-ms 100 "$@" >>"$BM_TMP/agent-$n.log" 2>&1 &
    BM_PIDS+=($!)
    PID[$n]=$!
    PORT[$n]=$hp
}
agent h1 --checkpoint-interval 60s
agent h2 --checkpoint-interval 300ms
for n in h1 h2; do
    bm_check "$n sees two live agents" bm_wait_for 15 \
        "[ \"\$(bm_metric ${PORT[$n]} busmon_cluster_agents_live)\" = 2 ]"
done
base=$(( $(date +%s) * 1000 - 60000 ))
for t in $(seq 1 40); do
    at=$(( base + t * 1000 ))
    bm_cli XADD busmon:events "$at-0" type command tx "ho-$t" worker w step s >/dev/null
    bm_cli XADD busmon:events "$((at + 500))-0" type result tx "ho-$t" worker w step s ok true >/dev/null
done
bm_check "every transaction traced with its 2 events" bm_wait_for 15 \
    '[ "$(for t in $(seq 1 40); do bm_cli_raw LLEN busmon:trace:ho-$t; done | grep -cx 2)" = 40 ]'
handed=$(bm_metric "${PORT[h1]}" busmon_entries_handed_off_total)
bm_check "h1 handed entries to h2 ($handed)" [ "${handed:-0}" -gt 0 ]
kill -9 "${PID[h1]}"
wait "${PID[h1]}" 2>/dev/null
agent h1 --checkpoint-interval 300ms
bm_check "h1 read its pending entries again" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
sleep 1 # h2 reads what h1 handed again
twice=0
for t in $(seq 1 40); do
    "$BM_BUILD/busmon" trace "ho-$t" --json | jq -e '.events | length == 2' >/dev/null || twice=$((twice + 1))
done
bm_eq "every trace shows its 2 events once" 0 "$twice"
w() { curl -s "http://127.0.0.1:${PORT[h2]}/api/workers?window=1h" | jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.min_ms) \(.max_ms)"'; }
bm_check "w: 40 executions of 500 ms" bm_wait_for 10 '[ "$(w)" = "40 500 500" ]'
echo "  w: $(w)"

kill -9 "${PID[h2]}"
wait "${PID[h2]}" 2>/dev/null
base=$(( $(date +%s) * 1000 + 2000 ))
for t in $(seq 1 5); do
    at=$(( base + t * 1000 ))
    bm_cli XADD busmon:handoff:h2 "$at-0" type command tx "mv-$t" worker w step s >/dev/null
    bm_cli XADD busmon:handoff:h2 "$((at + 500))-0" type result tx "mv-$t" worker w step s ok true >/dev/null
done
bm_check "the janitor moves h2's hand-off stream" bm_wait_for 20 \
    '[ "$(bm_cli_raw EXISTS busmon:handoff:h2)" = 0 ]'
w() { curl -s "http://127.0.0.1:${PORT[h1]}/api/workers?window=1h" | jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.min_ms) \(.max_ms)"'; }
bm_check "w: 45 executions of 500 ms" bm_wait_for 10 '[ "$(w)" = "45 500 500" ]'
echo "  w: $(w)"
bm_finish
