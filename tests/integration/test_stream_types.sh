#!/usr/bin/env bash
# One stream key of another type (a string, a list...) does not stop the
# others. One XREADGROUP reads every stream and Redis refuses all of it
# (WRONGTYPE) when one key is not a stream, so the agent leaves that stream
# out of its reads, says so (log, /metrics, /ready) and reads it again once
# the key is a stream or gone:
#   A. a key turned into a string under a running agent: the other stream's
#      transactions are still traced, without reconnections;
#   B. the key deleted: read again, new entries on it traced;
#   C. a key of another type at start-up: the agent starts and reads the
#      rest;
#   D. every configured key of another type (only the agent's own hand-off
#      stream is read): no busy loop, no reconnection, and reading starts
#      when one is fixed;
#   E. --drain exits 3 when a stream was left out (a batch job must not
#      take it for drained), 0 otherwise;
#   F. a reclaim round racing a key that changes type or goes is not a
#      failed write.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
HP=$(bm_free_port)
BUSMON="$BM_BUILD/busmon"
metric() { bm_metric "$HP" "$1"; }
agent() { # NAME [flags]: in the background, pid in $AG
    local name=$1; shift
    "$BM_BUILD/busmon-agent" --consumer "$name" --block-ms 100 --http "127.0.0.1:$HP" \
        "$@" >>"$BM_TMP/agent-$name.log" 2>&1 &
    AG=$!
    BM_PIDS+=($AG)
    bm_wait_for 10 "curl -s -o /dev/null http://127.0.0.1:$HP/health"
}
stop_agent() { kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
command_on() { # STREAM TX
    redis-cli -p "$BM_PORT" XADD "$1" '*' type command id "c-$2" tx "$2" worker fast step s >/dev/null
}
traced() { "$BUSMON" trace "$1" >/dev/null 2>&1; }

# --- A. a key turned into a string under the running agent -------------------------------------
# a system sample every second and a reclaim round every 200 ms: neither trips over the key
BUSMON_SYSTEM_INTERVAL_SECONDS=1 BUSMON_RECLAIM_INTERVAL=200ms agent a1 --stream t:one --stream t:two
command_on t:two tx-a0
bm_check "A: reading before the change" bm_wait_for 10 "traced tx-a0"
redis-cli -p "$BM_PORT" DEL t:one >/dev/null
redis-cli -p "$BM_PORT" SET t:one not-a-stream >/dev/null
command_on t:two tx-a1
bm_check "A: the other stream's transaction is traced" bm_wait_for 10 "traced tx-a1"
bm_check "A: /metrics counts the stream left out" bm_wait_for 5 \
    '[ "$(metric busmon_streams_unreadable)" = 1 ]'
bm_eq "A: found once" 1 "$(metric busmon_stream_wrong_type_total)"
bm_check "A: the log names the stream" grep -q "stream 't:one' is a key of another type" \
    "$BM_TMP/agent-a1.log"
ready=$(curl -s "http://127.0.0.1:$HP/ready")
bm_check "A: /ready says why it is not ready ($ready)" \
    jq -e '.status == "not ready" and any(.reasons[]; test("t:one.*another type"))' <<<"$ready"
for i in $(seq 2 20); do command_on t:two "tx-a$i"; done
bm_check "A: twenty transactions on t:two, all traced" bm_wait_for 10 "traced tx-a20"
sleep 2
bm_eq "A: no reconnection for it" 0 "$(metric busmon_redis_reconnects_total)"
bm_eq "A: reclaim leaves the key alone" 0 \
    "$(metric 'busmon_write_errors_total{kind="reclaim"}')"
ready=$(curl -s "http://127.0.0.1:$HP/ready")
bm_check "A: /ready does not call the group missing ($ready)" \
    jq -e '[.reasons[] | select(test("group .* missing"))] | length == 0' <<<"$ready"

# --- B. the key deleted: read again -----------------------------------------------------------
redis-cli -p "$BM_PORT" DEL t:one >/dev/null
bm_check "B: within the 5 s recheck, the stream is read again" bm_wait_for 12 \
    '[ "$(metric busmon_streams_unreadable)" = 0 ]'
command_on t:one tx-b1
bm_check "B: a new entry on it is traced" bm_wait_for 10 "traced tx-b1"
bm_check "B: the log says so" grep -q "stream 't:one' is a stream again" "$BM_TMP/agent-a1.log"
bm_check "B: /ready is ready again" bm_wait_for 10 \
    "curl -s http://127.0.0.1:$HP/ready | jq -e '.reasons | all(test(\"another type\") | not)'"
stop_agent "$AG"

# --- C. a key of another type at start-up ---------------------------------------------------------
redis-cli -p "$BM_PORT" RPUSH t:list x >/dev/null
agent c1 --stream t:list --stream t:two
command_on t:two tx-c1
bm_check "C: started, the stream that is a stream is read" bm_wait_for 10 "traced tx-c1"
bm_eq "C: one stream left out" 1 "$(metric busmon_streams_unreadable)"
bm_check "C: the log names it" grep -q "stream 't:list' is a key of another type" \
    "$BM_TMP/agent-c1.log"
stop_agent "$AG"

# --- D. every key of another type ------------------------------------------------------------------
redis-cli -p "$BM_PORT" SET t:s1 x >/dev/null
redis-cli -p "$BM_PORT" SET t:s2 x >/dev/null
agent d1 --stream t:s1 --stream t:s2
bm_check "D: both left out" bm_wait_for 10 '[ "$(metric busmon_streams_unreadable)" = 2 ]'
sleep 3
bm_eq "D: no reconnection" 0 "$(metric busmon_redis_reconnects_total)"
cpu=$(ps -o times= -p "$AG" | tr -d ' ')
bm_check "D: the agent idles (CPU ${cpu}s)" [ "${cpu:-99}" -le 2 ]
bm_eq "D: still running" 0 "$(kill -0 "$AG" 2>/dev/null; echo $?)"
redis-cli -p "$BM_PORT" DEL t:s2 >/dev/null
command_on t:s2 tx-d1
bm_check "D: once fixed, the stream is read" bm_wait_for 15 "traced tx-d1"
bm_eq "D: one still left out" 1 "$(metric busmon_streams_unreadable)"
stop_agent "$AG"

# --- E. --drain: a stream it could not read is not "drained" ---------------------------------------
redis-cli -p "$BM_PORT" SET t:e1 x >/dev/null
command_on t:e2 tx-e1
timeout 30 "$BM_BUILD/busmon-agent" --drain --consumer e1 --stream t:e1 --stream t:e2 \
    >"$BM_TMP/agent-e1.log" 2>&1
bm_eq "E: --drain exits 3 when a stream was left out" 3 "$?"
bm_check "E: ... and says which" grep -q "not drained: their keys hold another type (first: 't:e1')" \
    "$BM_TMP/agent-e1.log"
bm_check "E: the other stream was drained" traced tx-e1
timeout 30 "$BM_BUILD/busmon-agent" --drain --consumer e2 --stream t:e2 >/dev/null 2>&1
bm_eq "E: --drain of streams only exits 0" 0 "$?"

# --- F. a reclaim round in flight when a key changes type or goes ------------------------------------
# A round every 2 ms asks XPENDING of a key the input has not yet seen change:
# WRONGTYPE or NOGROUP then is a race, not a failed write (3 counted in 30
# flips before 2026-12-07). The input still learns it and reads on.
BUSMON_RECLAIM_INTERVAL=2ms agent f1 --stream t:f1 --stream t:f2
for _ in $(seq 1 40); do
    redis-cli -p "$BM_PORT" SET t:f1 x >/dev/null
    sleep 0.05
    redis-cli -p "$BM_PORT" DEL t:f1 >/dev/null
    sleep 0.05
done
command_on t:f1 tx-f1
bm_check "F: the key flipped forty times, read again" bm_wait_for 15 "traced tx-f1"
bm_eq "F: no reclaim write counted as failed" 0 "$(metric 'busmon_write_errors_total{kind="reclaim"}')"
# nor the input's XGROUP CREATE that found the key's type (counted as that)
bm_check "F: the type found, counted as such" [ "$(metric busmon_stream_wrong_type_total)" -ge 1 ]
bm_eq "F: no write failed at all" 0 "$(curl -s "http://127.0.0.1:$HP/metrics" |
    awk '/^busmon_write_errors_total/ { n += $2 } END { print n + 0 }')"
stop_agent "$AG"

bm_finish
