#!/usr/bin/env bash
# The agent's exit code at a stop (SIGTERM): 0 when its last writes, acks
# and checkpoint are stored; 1 when Redis did not confirm them (down at the
# stop: the entries stay pending, read again at the next start), as the log
# says; it said so and exited 0 before. Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
# run: an agent in the background, pid in AG, its log in $BM_TMP/agent-$1.log
run() {
    "$AGENT" --consumer "$1" --block-ms 100 --no-http >"$BM_TMP/agent-$1.log" 2>&1 &
    AG=$!
    BM_PIDS+=($AG)
}
# stop PID: SIGTERM, then its exit code (bounded: the agent's own hard limit is 20 s)
stop() {
    kill -TERM "$1"
    for _ in $(seq 250); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    wait "$1"
}
run up
bm_check "the agent reads" bm_wait_for 10 '[ "$(bm_cli_raw XINFO GROUPS busmon:events 2>/dev/null | grep -c busmon)" -ge 1 ]'
bm_cli XADD busmon:events '*' type command tx t1 id c1 worker w >/dev/null
bm_check "the entry is acked" bm_wait_for 10 '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
stop "$AG"
bm_eq "SIGTERM with Redis up: exit 0" 0 "$?"

run down
bm_check "the second agent reads" bm_wait_for 10 "grep -q 'reading' '$BM_TMP/agent-down.log'"
bm_redis_down
sleep 0.5 # the agent sees the connection go
stop "$AG"
bm_eq "SIGTERM with Redis down: exit 1 (writes not confirmed)" 1 "$?"
bm_check "the log says why" grep -q "the last writes or checkpoint were not confirmed" \
    "$BM_TMP/agent-down.log"
bm_finish
