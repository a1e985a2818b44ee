#!/usr/bin/env bash
# At-least-once: entries read but never acked (an agent that died between
# the read and the ack) are read again from the consumer's pending list at
# the next start and traced; an event delivered twice, even across agent
# restarts, shows once in `busmon trace`.
source "$(dirname "$0")/lib.sh"
bm_start_redis
S=busmon:events
BUSMON="$BM_BUILD/busmon"
T0=1700000000000000
# the events are dated 2023 on purpose: the agent believes their times
export BUSMON_LIMITS_MAX_CLOCK_SKEW=0

bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
bm_cli XADD "$S" '*' type command id c1 tx tx-rec worker fast step fetch ts $T0 >/dev/null
bm_cli XADD "$S" '*' type result id r1 tx tx-rec cmd c1 worker fast step fetch ts $((T0 + 40000)) ok true >/dev/null
# "the agent" reads them and dies before acking
bm_cli XREADGROUP GROUP busmon agent-1 COUNT 10 STREAMS "$S" '>' >/dev/null
bm_eq "two entries pending for agent-1" 2 "$(redis-cli -p "$BM_PORT" XPENDING "$S" busmon | head -1)"

bm_bg "$BM_BUILD/busmon-agent" --stream "$S" --consumer agent-1 --block-ms 100
A=$BM_LAST_PID
bm_check "restarted agent acks its pending entries" bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT XPENDING $S busmon | head -1)" = 0 ]'
J=$("$BUSMON" trace tx-rec --json)
bm_eq "recovered entries are traced" "completed 2 40" "$(jq -r '"\(.status) \(.event_count) \(.duration_ms|round)"' <<<"$J")"
# its connections to Redis have TCP keepalive on (a peer gone without a reset is
# noticed): idle, each shows the keepalive timer (02) in /proc/net/tcp
port_hex=$(printf '%04X' "$BM_PORT")
timers() { awk -v p=":$port_hex" '$3 ~ p "$" && $4 == "01" { split($6, t, ":"); print t[1] }' /proc/net/tcp | sort | uniq -c | tr -s ' '; }
bm_check "the agent's connections keep alive ($(timers))" bm_wait_for 10 \
    '[ "$(timers | awk "\$2 == \"02\" { print \$1 }")" -ge 2 ] && [ "$(timers | wc -l)" = 1 ]'
kill -INT "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0 on SIGINT" 0 "$rc"

# the producer sends the same events again (a retry); a fresh agent has no memory of them
bm_cli XADD "$S" '*' type command id c1 tx tx-rec worker fast step fetch ts $T0 >/dev/null
bm_cli XADD "$S" '*' type result id r1 tx tx-rec cmd c1 worker fast step fetch ts $((T0 + 40000)) ok true >/dev/null
bm_bg "$BM_BUILD/busmon-agent" --stream "$S" --consumer agent-2 --block-ms 100
A=$BM_LAST_PID
bm_check "second agent acks the re-sent entries" bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT XPENDING $S busmon | head -1)" = 0 ] && [ "$(redis-cli -p $BM_PORT XINFO GROUPS $S | grep -A1 entries-read | tail -1)" = 4 ]'
J=$("$BUSMON" trace tx-rec --json)
bm_eq "an event delivered twice shows once" "2 c1 r1" "$(jq -r '"\(.event_count) \(.events[0].id) \(.events[1].id)"' <<<"$J")"

# a stream deleted under a running agent: the group is re-created, reading goes on
bm_cli DEL "$S" >/dev/null
sleep 0.5
bm_cli XADD "$S" '*' type command id c9 tx tx-after worker fast step fetch ts $T0 >/dev/null
bm_check "agent re-creates a deleted stream's group and goes on" bm_wait_for 15 "'$BUSMON' trace tx-after >/dev/null 2>&1"
kill -TERM "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0 on SIGTERM" 0 "$rc"
bm_finish
