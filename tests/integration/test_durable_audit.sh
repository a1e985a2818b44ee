#!/usr/bin/env bash
# The write path's faults, each injected in a real Redis:
#  1. a checkpoint Redis refused (OOM at maxmemory) while no trace write
#     was due: once a later checkpoint is stored, /ready is 200 again (the
#     refusal is not reported for good).
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
bm_finish
