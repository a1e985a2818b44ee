#!/usr/bin/env bash
# The input path against Redis faults a user meets.
#
# Redis restarted from a snapshot older than the agent's reads (a crash with
# RDB persistence): the group's progress and the acks are lost, so Redis
# serves the entries the agent already applied again as new ones. They are
# only acked (busmon_entries_covered_total), never applied twice: a metric
# event is counted once, a trace event is no duplicate.
#
# The pub/sub connection killed while the stream one lives: counted, said,
# subscribed again, the stream read on. A Redis that takes the pub/sub
# connection and closes it at once (maxclients) is retried with a growing
# backoff, not four times a second for good, and "subscribed" is said only
# when Redis confirmed the subscription.
#
# A stream deleted while Redis is at maxmemory (noeviction): the group cannot
# be made again (OOM). The agent backs off instead of a loop of refused
# reads and XGROUP CREATEs (thousands of log lines a second), and reads on
# once Redis takes writes again.
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

# ---- pub/sub
LOG=$BM_TMP/pubsub.log
"$BM_BUILD/busmon-agent" --stream $S --consumer a2 --block-ms 200 --psubscribe 'mp:*' \
    --http "127.0.0.1:$HP" >"$LOG" 2>&1 &
A=$!
BM_PIDS+=($A)
bm_check "the agent subscribes" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" = 1 ]'
psub_id() { bm_cli_raw CLIENT LIST | awk '/cmd=psubscribe/ { sub("id=", "", $1); print $1 }'; }
bm_cli CLIENT KILL ID "$(psub_id)" >/dev/null
bm_check "the lost subscription is counted" bm_wait_for 10 '[ "$(m busmon_pubsub_disconnects_total)" = 1 ]'
bm_check "and made again" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" = 1 ]'
bm_cli PUBLISH mp:command '{"type":"command","id":"pc1","tx":"ptx","worker":"w"}' >/dev/null
bm_cli XADD $S '*' type command id sc1 tx stx worker w step s >/dev/null
bm_check "a message after it is heard" bm_wait_for 10 '[ "$(m busmon_pubsub_messages_total)" = 1 ]'
bm_check "the stream is read on" bm_wait_for 10 drained
before=$(m busmon_redis_reconnects_total)
# Redis takes no more clients; the one of this shell stays to lift the limit
id=$(psub_id)
exec 3<>/dev/tcp/127.0.0.1/$BM_PORT
printf 'CONFIG SET maxclients 1\r\nCLIENT KILL ID %s\r\n' "$id" >&3
sleep 6
tries=$(( $(m busmon_redis_reconnects_total) - before ))
bm_check "refused at once, the pub/sub connection is tried with backoff ($tries tries in 6 s)" \
    [ "$tries" -ge 2 -a "$tries" -le 8 ]
printf 'CONFIG SET maxclients 10000\r\n' >&3
exec 3>&-
bm_check "subscribed again once Redis takes it" bm_wait_for 30 '[ "$(bm_cli_raw PUBSUB NUMPAT)" = 1 ]'
bm_eq "said subscribed once per subscription" 3 "$(grep -c 'pub/sub: subscribed to' "$LOG")"
bm_eq "two subscriptions lost, counted" 2 "$(m busmon_pubsub_disconnects_total)"

# ---- a group that cannot be made again
bm_cli CONFIG SET maxmemory-policy noeviction >/dev/null
bm_cli CONFIG SET maxmemory 1 >/dev/null # below what is used: every write refused (OOM)
lines_before=$(wc -l <"$LOG")
bm_cli DEL $S >/dev/null
bm_check "the missing group is said" bm_wait_for 10 'grep -q "consumer group .busmon. is missing" "$LOG"'
sleep 3
said=$(grep -c "consumer group .busmon. is missing" "$LOG")
bm_check "and tried again with backoff, not in a loop ($said times, $(( $(wc -l <"$LOG") - lines_before )) log lines in 3 s)" \
    [ "$said" -le 8 ]
bm_cli CONFIG SET maxmemory 0 >/dev/null
bm_check "the group is made again once Redis takes writes" \
    bm_wait_for 40 '[ "$(bm_cli_raw XINFO GROUPS $S 2>/dev/null | head -2 | tail -1)" = busmon ]'
bm_cli XADD $S '*' type command id sc2 tx stx2 worker w step s >/dev/null
bm_check "and the stream is read on" bm_wait_for 30 drained
kill -TERM "$A"; wait "$A"
bm_eq "the agent exits 0" 0 "$?"
bm_finish
