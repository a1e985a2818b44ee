#!/usr/bin/env bash
# A flush's hand-offs go to Redis in one MULTI ... EXEC (their XADDs, one
# XACK of their entries): each reply of the EXEC is matched to its hand-off.
# One hand-off stream of another type (WRONGTYPE) fails its XADDs inside
# the batch while the others of the same EXEC land: those are not sent
# again (each handed once), the failed ones, whose entries the EXEC acked,
# are dead-lettered once each (test_cluster_handoff_wrongtype.sh) and
# replayed once the key is fixed, and then each lands once.
#   h1 reads 90 transactions (a command and its result); h2 and h3 read
#   only their hand-off streams; h3's is a string while h1 hands on.
source "$(dirname "$0")/lib.sh"
declare -A PID PORT
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=3s \
    BUSMON_CLUSTER_REFRESH=300ms
bm_start_redis
bm_agent_http
start() { bm_cluster_agent "$@" --checkpoint-interval 300ms; }
live3() { [ "$(bm_metric "${PORT[$1]}" busmon_cluster_agents_live)" = 3 ]; }
start h2 --stream h2:nothing
start h3 --stream h3:nothing
start h1
for n in h1 h2 h3; do bm_check "$n sees three live agents" bm_wait_for 15 "live3 $n"; done
bm_cli_raw DEL busmon:handoff:h3 >/dev/null
bm_cli_raw SET busmon:handoff:h3 not-a-stream >/dev/null
for t in $(seq 1 90); do
    echo "XADD busmon:events * type command id c-$t tx batch-$t worker w step s"
    echo "XADD busmon:events * type result id r-$t tx batch-$t worker w step s ok true"
done | bm_cli >/dev/null
bm_check "h1 read all 180" bm_wait_for 15 '[ "$(bm_metric ${PORT[h1]} busmon_entries_read_total)" = 180 ]'
dls() { bm_cli_raw XRANGE busmon:deadletter - + | grep -c '^handoff_wrongtype$'; }
handed() { bm_metric "${PORT[h1]}" busmon_entries_handed_off_total; }
bm_check "h1 dead-letters h3's hand-offs" bm_wait_for 15 '[ "$(dls)" -gt 0 ]'
n2=$(bm_cli_raw XLEN busmon:handoff:h2)
bm_check "h2's share landed in the same batches ($n2)" [ "${n2:-0}" -gt 0 ]
sleep 2
bm_eq "h2's share is not sent again" "$n2" "$(bm_cli_raw XLEN busmon:handoff:h2)"
bm_eq "each hand-off landed or was dead-lettered once (h2 + copies = handed off)" "$(handed)" \
    "$((n2 + $(dls)))"
bm_eq "h3's refused hand-offs are not sent again" 0 \
    "$(bm_metric "${PORT[h1]}" busmon_writes_retried_total)"
bm_eq "h3's stream is still a string" string "$(bm_cli_raw TYPE busmon:handoff:h3)"
bm_check "h1's events are acked though h3's stream is a string" bm_wait_for 20 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
d3=$(dls)
bm_cli_raw DEL busmon:handoff:h3 >/dev/null
"$BUSMON" deadletters replay --reason handoff_wrongtype >/dev/null
bm_eq "the copies are replayed" 0 "$(bm_cli_raw XLEN busmon:deadletter)"
bm_check "h1's events are acked once more" bm_wait_for 20 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
bm_check "h3's share landed" bm_wait_for 15 '[ "$(bm_cli_raw XLEN busmon:handoff:h3)" = "$d3" ]'
n3=$(bm_cli_raw XLEN busmon:handoff:h3)
w() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" | jq -r '.workers[] | select(.name == "w") | "\(.executions) \(.successes)"'; }
bm_check "w: 90 executions, 90 successes on h1, merged" bm_wait_for 20 '[ "$(w h1)" = "90 90" ]'
bm_eq "each copy replayed landed once on h3" "$d3" "$n3"
bm_eq "handed off: h2's, the copies, then h3's" "$(handed)" "$((n2 + d3 + n3))"
echo "  w: $(w h1) (executions successes); handed off $(handed): h2 $n2, h3 $n3"
bm_finish
