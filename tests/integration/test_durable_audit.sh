#!/usr/bin/env bash
# The write path's faults, each injected in a real Redis:
#  1. a checkpoint Redis refused (OOM at maxmemory) while no trace write
#     was due: once a later checkpoint is stored, /ready is 200 again (the
#     refusal is not reported for good).
#  2. a restart while Redis loads its data (LOADING): the checkpoint is read
#     once Redis can answer, not taken for missing (an empty state whose
#     next checkpoint would overwrite the figures).
source "$(dirname "$0")/lib.sh"
bm_start_redis
S=busmon:events
HP=$(bm_free_port)
ready() { curl -s "http://127.0.0.1:$HP/ready"; }

bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
bm_bg "$BM_BUILD/busmon-agent" --stream "$S" --consumer a1 --block-ms 100 \
    --checkpoint-interval 200ms --http "127.0.0.1:$HP"
A=$BM_LAST_PID
bm_check "agent ready" bm_wait_for 20 "curl -sf http://127.0.0.1:$HP/ready"
bm_cli XADD "$S" '*' type command id c1 tx t1 worker w step s >/dev/null
bm_check "entry acked" bm_wait_for 20 '[ "$(redis-cli -p $BM_PORT XPENDING $S busmon | head -1)" = 0 ]'

# 1. only the checkpoint is refused (nothing else to write): idle, it is
#    written every 10 intervals (2 s here)
bm_cli CONFIG SET maxmemory 1 >/dev/null
bm_check "a refused checkpoint shows on /ready" bm_wait_for 30 'ready | grep -q "OOM command not allowed"'
bm_cli CONFIG SET maxmemory 0 >/dev/null
ttl0=$(bm_cli_raw PTTL busmon:state:a1)
bm_check "the next checkpoint is stored" bm_wait_for 30 '[ "$(redis-cli --raw -p $BM_PORT PTTL busmon:state:a1)" -gt "$ttl0" ]'
bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/ready"
bm_eq "/ready is 200 again once a checkpoint is stored" "[]" "$(ready | jq -c .reasons)"

kill -TERM "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0" 0 "$rc"
commands() { "$BM_BUILD/busmon" workers --json | jq -r .summary.total_commands; }
bm_eq "one command in the figures" 1 "$(commands)"

# 2. Redis restarted with enough data to load for seconds (50 µs a key)
bm_cli EVAL "for i = 1, 100000 do redis.call('SET', 'filler:' .. i, 'x') end" 0 >/dev/null
bm_redis_down
redis-server --port "$BM_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$BM_TMP" \
    --daemonize no --loglevel warning --key-load-delay 50 \
    --loading-process-events-interval-bytes 1024 >>"$BM_TMP/redis.log" 2>&1 &
BM_REDIS_PID=$!
BM_PIDS+=($!)
bm_check "Redis is loading" bm_wait_for 10 'redis-cli -p $BM_PORT PING | grep -q LOADING'
bm_bg "$BM_BUILD/busmon-agent" --stream "$S" --consumer a1 --block-ms 100
A=$BM_LAST_PID
bm_check "the agent met LOADING reading its checkpoint" \
    bm_wait_for 30 'grep -q "could not be read (LOADING" "$BM_TMP/busmon-agent.log"'
bm_check "Redis loaded" bm_wait_for 90 'redis-cli -p $BM_PORT PING | grep -q PONG'
bm_cli XADD "$S" '*' type command id c2 tx t2 worker w step s >/dev/null
bm_check "the checkpoint is restored once Redis answers" \
    bm_wait_for 60 'grep -q "restored the state from busmon:state:a1" "$BM_TMP/busmon-agent.log"'
bm_check "the new entry is acked" bm_wait_for 60 '[ "$(redis-cli -p $BM_PORT XPENDING $S busmon | head -1)" = 0 ]'
bm_wait_for 30 '[ "$(commands)" = 2 ]'
bm_eq "figures go on from the checkpoint: 2 commands" 2 "$(commands)"
kill -TERM "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0" 0 "$rc"
bm_finish
