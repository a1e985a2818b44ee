#!/usr/bin/env bash
# The input path against Redis faults a user meets.
#
# Redis restarted from a snapshot older than the agent's reads (a crash with
# RDB persistence): the group's progress and the acks are lost, so Redis
# serves the entries the agent already applied again as new ones. They are
# only acked (busmon_entries_covered_total), never applied twice: a metric
# event is counted once, a trace event is no duplicate.
source "$(dirname "$0")/lib.sh"
bm_start_redis
S=busmon:events
HP=$(bm_free_port)
m() { bm_metric "$HP" "$1"; }
api_count() { curl -s "127.0.0.1:$HP/api/metrics" | jq -r '.series[0].count // 0'; }
drained() { [ "$(bm_cli_raw XPENDING $S busmon | head -1)" = 0 ] && [ "$(bm_cli_raw XINFO GROUPS $S | sed -n 12p)" = 0 ]; }

bm_cli XGROUP CREATE $S busmon 0 MKSTREAM >/dev/null
for i in 1 2 3; do bm_cli XADD $S '*' type command id c$i tx t$i worker w step s >/dev/null; done
for i in 1 2 3; do bm_cli XADD $S '*' type metric name orders value 1 >/dev/null; done
bm_cli SAVE >/dev/null # the snapshot: the group has delivered nothing yet
bm_bg "$BM_BUILD/busmon-agent" --stream $S --consumer a1 --block-ms 200 --http "127.0.0.1:$HP"
A=$BM_LAST_PID
bm_check "the agent reads and acks the six entries" bm_wait_for 10 drained
bm_check "three metric events counted" bm_wait_for 10 '[ "$(api_count)" = 3 ]'
bm_cli SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$BM_REDIS_PID" 2>/dev/null
bm_redis_up # from the older snapshot: the six entries are new again
bm_check "Redis serves the six entries again" bm_wait_for 15 '[ "$(m busmon_entries_read_total)" = 12 ]'
bm_check "the agent acks them again" bm_wait_for 15 drained
bm_check "as entries it had applied ($(m busmon_entries_covered_total) covered, $(m busmon_entries_already_queued_total) queued)" \
    bm_wait_for 5 '[ $(( $(m busmon_entries_covered_total) + $(m busmon_entries_already_queued_total) )) = 6 ]'
bm_eq "the metric events are still counted once" 3 "$(api_count)"
bm_eq "the trace events are no duplicates" 0 "$(m busmon_events_duplicate_total)"
bm_eq "three events applied" 3 "$(m busmon_events_applied_total)"
kill -TERM "$A"; wait "$A"
bm_eq "the agent exits 0" 0 "$?"

bm_finish
