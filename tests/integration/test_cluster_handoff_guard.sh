#!/usr/bin/env bash
# A hand-off sent while its agent may look dead goes only if its entry is
# still that agent's. a's hand-offs fail (its user may not XADD for a
# while: every EXEC aborted), so its checkpoint waits and b, judging a
# dead, claims a's pending entries and hands them on itself; once a may
# XADD again, its retries handed the same entries on a second time and the
# owner counted them twice. Now, sent that late (its last confirmed
# checkpoint older than three quarters of the time the others wait), a
# hand-off goes through a script that skips an entry no longer pending for
# a (busmon_handoffs_skipped_total).
# Checked: each entry is in the hand-off streams once, and the counts.
#   a (user ga) reads the events, c only its hand-off stream; a reads 60
#   transactions (a command and its result) of worker w while it may not
#   XADD; b starts and claims them; a may XADD again: w counts 60
#   executions, 60 successes on every agent.
source "$(dirname "$0")/lib.sh"
declare -A PID PORT
bm_start_redis
bm_agent_http
bm_cluster_env
export BUSMON_RECLAIM_INTERVAL=500ms BUSMON_RECLAIM_MIN_IDLE=2s BUSMON_RECLAIM_MAX_DELIVERIES=50
bm_cli ACL SETUSER ga on '>pw-ga' '~*' '&*' +@all >/dev/null
bm_cli XGROUP CREATE busmon:events busmon 0 MKSTREAM >/dev/null
bm_cluster_agent a --redis "redis://ga:pw-ga@127.0.0.1:$BM_PORT" --checkpoint-interval 300ms
bm_cluster_agent c --checkpoint-interval 300ms --stream c:nothing
live() { [ "$(bm_metric "${PORT[$1]}" busmon_cluster_agents_live)" = "$2" ]; }
for n in a c; do bm_check "$n sees two live agents" bm_wait_for 15 "live $n 2"; done
bm_cli ACL SETUSER ga -xadd >/dev/null
# a reads the 120 entries at once (stopped while they are added): its hand-offs
# and its own entries in one write group, which waits for the hand-offs
kill -STOP "${PID[a]}"
for t in $(seq 1 60); do
    echo "XADD busmon:events * type command id c-$t tx guard-$t worker w step s"
    echo "XADD busmon:events * type result id r-$t tx guard-$t worker w step s ok true"
done | bm_cli >/dev/null
kill -CONT "${PID[a]}"
pending_a() { bm_cli_raw XPENDING busmon:events busmon - + 1000 a | grep -c '^[0-9]*-[0-9]*$'; }
bm_check "a read the 120 entries" bm_wait_for 15 '[ "$(pending_a)" = 120 ]'
bm_check "a's hand-offs are refused" bm_wait_for 15 \
    '[ "$(bm_metric ${PORT[a]} busmon_writes_retried_total)" -gt 0 ]'
# b comes: a looks dead (no checkpoint), b claims its pending entries
bm_cluster_agent b --checkpoint-interval 300ms
bm_check "b claimed what a had pending" bm_wait_for 20 '[ "$(pending_a)" = 0 ]'
# a may already have started again: once b has claimed every entry of a's
# write group, a's next retry (through the guard) skips them all, the group
# is stored without an XADD, and the check before its checkpoint finds its
# own entries claimed. Both ways each entry must be handed on once (below).
echo "  a started again before it may XADD: $(bm_metric "${PORT[a]}" busmon_agent_away_resets_total ||
    true) (empty: it is starting again)"
bm_cli ACL SETUSER ga +xadd >/dev/null
bm_check "nothing pending anywhere" bm_wait_for 30 '[ "$(bm_pending_all)" = 0 ]'
# every entry handed on once: no busmon.entry_id twice in the hand-off streams
# (a's counters start again with it: it notices it was away once its hand-offs go)
handed_ids() {
    local s
    for s in $(bm_cli_raw --scan --pattern 'busmon:handoff:*'); do
        bm_cli_raw XRANGE "$s" - + | awk 'p { print; p = 0 } $0 == "busmon.entry_id" { p = 1 }'
    done
}
n_ids=$(handed_ids | wc -l)
bm_check "entries were handed on ($n_ids)" [ "$n_ids" -gt 0 ]
bm_eq "none of them twice" "" "$(handed_ids | sort | uniq -d | head -3 | tr '\n' ' ')"
w() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" |
    jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.successes)"'; }
for n in a b c; do
    bm_check "w: 60 executions, 60 successes on $n" bm_wait_for 20 "[ \"\$(w $n)\" = '60 60' ]"
done
echo "  w (executions successes): a $(w a), b $(w b), c $(w c); $n_ids hand-offs"
bm_finish
