#!/usr/bin/env bash
# `busmon baseline freeze|clear` while the agent is down (agent/jobs/baseline.c):
# the request waits in the control hash; the agent, restarted on its
# checkpoint (its learned baselines, no request applied yet: ctl_seq 0),
# applies it. Before, a table restored with ctl_seq 0 was taken for a fresh
# one: the request was "taken as done" and silently never applied. An agent
# without a checkpoint still takes what is in the hash as history. A clear of
# a name without a baseline is counted and said as doing nothing (it was
# logged "cleared" and counted as applied).
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
HP=$(bm_free_port)
start_agent() {
    bm_bg "$AGENT" --redis "$BM_URL" --stream ev --group g --consumer c1 --block-ms 100 \
        --rollup-interval 1 --health-interval 1 --http "127.0.0.1:$HP"
    AGENT_PID=$BM_LAST_PID
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/health" || { echo "the agent did not start"; exit 1; }
}
stop_agent() {
    kill "$AGENT_PID"
    bm_wait_for 15 "! kill -0 $AGENT_PID 2>/dev/null" || { echo "the agent did not stop"; exit 1; }
}
# blw WORKER FIELD: a field of the worker's baseline in the agent's memory
blw() { curl -sf "http://127.0.0.1:$HP/api/baseline" | jq -r --arg w "$1" ".workers[] | select(.name == \$w) | $2"; }
produce() {
    local i
    for i in $(seq 5); do
        printf 'XADD ev * type command tx %s-%d-%d worker %s\nXADD ev * type result tx %s-%d-%d worker %s duration_ms 50\n' \
            "$1" "$2" "$i" "$1" "$1" "$2" "$i" "$1"
    done | redis-cli -p "$BM_PORT" >/dev/null
}

start_agent
produce steady 1
bm_check "steady has a baseline" bm_wait_for 15 '[ "$(blw steady .samples)" -ge 1 ]'
stop_agent

bm_check "busmon baseline freeze steady, the agent down" "$BUSMON" baseline --group g freeze steady
start_agent
bm_check "restarted: steady's baseline came back from the checkpoint" \
    bm_wait_for 10 '[ "$(blw steady .samples)" -ge 1 ]'
bm_check "... and the agent applied the freeze asked while it was down" \
    bm_wait_for 10 '[ "$(blw steady .frozen)" = true ]'
bm_check "... said so in its log" grep -q 'baselines: froze steady' "$BM_TMP/busmon-agent.log"

# a clear of a name with no baseline does nothing, and says so
bm_check "busmon baseline clear ghost (no such baseline)" "$BUSMON" baseline --group g clear ghost
bm_check "... counted as a request that did nothing" bm_wait_for 10 \
    "[ \"\$(bm_metric $HP busmon_baseline_requests_unknown_total)\" = 1 ]"
bm_eq "... not as one applied (the freeze only)" 1 "$(bm_metric $HP busmon_baseline_requests_total)"
bm_check "... the log says no baseline, never 'cleared ghost'" \
    bash -c "grep -q 'baselines: clear ghost (request 2): no baseline learned yet' '$BM_TMP/busmon-agent.log' &&
             ! grep -q 'cleared ghost' '$BM_TMP/busmon-agent.log'"
stop_agent

# no checkpoint: the requests in the hash belong to an earlier table
bm_cli DEL busmon:state:g:c1 >/dev/null
: >"$BM_TMP/busmon-agent.log"
start_agent
produce steady 2
bm_check "a fresh agent learns steady again" bm_wait_for 15 '[ "$(blw steady .samples)" -ge 1 ]'
bm_check "... took the earlier request as history" \
    grep -q 'earlier request(s) in the control hash taken as done' "$BM_TMP/busmon-agent.log"
bm_eq "... so steady is not frozen" false "$(blw steady .frozen)"
stop_agent

bm_finish
