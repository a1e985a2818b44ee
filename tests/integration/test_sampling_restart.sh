#!/usr/bin/env bash
# Tail sampling across an agent restart (agent/jobs/finisher.c), against a
# real redis-server and agent. "Failed transactions are always kept" must
# hold even when the agent that sampled a transaction out no longer
# remembers doing it:
#   1. a transaction whose first step completed is finished and sampled out
#      (its stored trace is the marker); the agent stops (SIGTERM) and starts
#      again; the transaction's next step then FAILS: the marker is taken out
#      of its stored trace, `busmon trace` reads it failed (exit 0), and
#      `busmon traces --status failed` lists it. A second transaction whose
#      next step succeeds stays sampled out (its marker first);
#   2. the same after a kill -9 (no last checkpoint, no stop-time decisions);
#   3. the one that failed is decided once more after yet another restart
#      (a later status event): its stored trace is left as it is (no marker
#      to take out, nothing lost).
# The agent runs as the ACL user `busmon-agent --print-acl` gives (the
# marker is taken out in an EVAL: LINDEX, LPOP).
# The transaction ids are fixed: each is sampled out at rate 0.01 (the first
# checks say so; a failure there says the id is not, not that the fix is
# wrong).
source "$(dirname "$0")/lib.sh"
BUSMON="$BM_BUILD/busmon"
bm_start_redis
# the agents' group is not busmon: the trace keys this test reads are set as the default group's
export BUSMON_OUTPUTS_TRACE_PREFIX=busmon:trace: BUSMON_TRACES_INDEX_KEY=busmon:traces

# The agent runs as the user of the line `busmon-agent --print-acl` prints.
ACL_LINE=$("$BM_BUILD/busmon-agent" --print-acl --stream s1 | sed -n 2p)
redis-cli -p "$BM_PORT" ${ACL_LINE/>PASSWORD/>agent-pw} >/dev/null
echo agent-pw >"$BM_TMP/agent.pw"

# start_agent NAME: the agent on stream s1, group g, consumer NAME
start_agent() {
    HTTP_PORT=$(bm_free_port)
    BUSMON_LIMITS_MAX_CLOCK_SKEW=0 BUSMON_OTLP_SETTLE=300ms BUSMON_TRACES_FLUSH_INTERVAL=100ms \
        "$BM_BUILD/busmon-agent" --redis "$BM_URL" --redis-username busmon \
        --redis-password-file "$BM_TMP/agent.pw" --stream s1 --group g --consumer "$1" \
        --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --log-level info --sampling-rate 0.01 \
        >>"$BM_TMP/agent-$1.log" 2>&1 &
    AGENT_PID=$!
    BM_PIDS+=($AGENT_PID)
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics >/dev/null" ||
        { echo "agent $1 did not start"; cat "$BM_TMP/agent-$1.log"; exit 1; }
}
stop_agent() { kill "-${1:-TERM}" "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; STOP_RC=$?; }
metric() { bm_metric "$HTTP_PORT" "$1"; }
sampled_out() { redis-cli --no-raw -p "$BM_PORT" LINDEX "busmon:trace:$1" 0 | grep -q busmon_sampled_out; }
markers_in() { redis-cli --no-raw -p "$BM_PORT" LRANGE "busmon:trace:$1" 0 -1 | grep -c busmon_sampled_out; }
xadd() { bm_cli XADD s1 '*' "$@" >/dev/null; }
trace_json() { "$BUSMON" --redis "$BM_URL" trace --json "$1" 2>/dev/null; }
status_of() { jq -r .status <<<"$(trace_json "$1")" 2>/dev/null; }
listed_failed() {
    "$BUSMON" --redis "$BM_URL" traces --status failed --since 1h --json |
        jq -e --arg tx "$1" 'any(.traces[]; .tx == $tx)' >/dev/null
}
NOW=$(($(date +%s) * 1000000))

# first_step TX...: a command and its success, for each; waits for the markers
first_step() {
    for tx in "$@"; do
        xadd type command id "$tx-c1" tx "$tx" worker fetcher step fetch ts $NOW
        xadd type result id "$tx-r1" tx "$tx" cmd "$tx-c1" worker fetcher step fetch ts $((NOW + 10000)) ok true
    done
}
# second_step TX ok|fail
second_step() {
    xadd type command id "$1-c2" tx "$1" worker charger step charge ts $((NOW + 20000))
    if [ "$2" = ok ]; then
        xadd type result id "$1-r2" tx "$1" cmd "$1-c2" worker charger step charge ts $((NOW + 30000)) ok true
    else
        xadd type error id "$1-e2" tx "$1" cmd "$1-c2" worker charger step charge ts $((NOW + 30000)) error "CardDeclined: no funds"
    fi
}

# --- 1. sampled out, a clean restart, then a failure -------------------------------------
start_agent a1
TXF=late-fail-1 TXO=late-ok-1
first_step $TXF $TXO
bm_check "1: the completed first steps are finished and sampled out (the marker)" \
    bm_wait_for 15 'sampled_out $TXF && sampled_out $TXO'
stop_agent TERM
bm_eq "1: the agent stopped cleanly" 0 "$STOP_RC"
start_agent a1
second_step $TXF fail
second_step $TXO ok
bm_check "1: after the restart the failure is kept: busmon trace reads it failed" \
    bm_wait_for 15 '[ "$(status_of $TXF)" = failed ]'
"$BUSMON" --redis "$BM_URL" trace $TXF >/dev/null 2>&1
bm_eq "1: busmon trace exits 0 for it" 0 $?
bm_eq "1: its stored records: the 2 of the failed step, no marker" "2 0" \
    "$(redis-cli -p "$BM_PORT" LLEN busmon:trace:$TXF) $(markers_in $TXF)"
bm_check "1: busmon traces --status failed lists it" listed_failed $TXF
bm_check "1: it is in the failed index" \
    bash -c "[ -n \"\$(redis-cli -p $BM_PORT ZSCORE busmon:traces:failed $TXF)\" ]"
bm_check "1: the one whose next step succeeded is decided again and stays sampled out" \
    bm_wait_for 10 '[ "$(metric "busmon_sampling_decisions_total{reason=\"sampled_out\"}")" = 1 ]'
bm_check "1: ... its marker first" sampled_out $TXO
bm_eq "1: counted: one marker taken out (restored)" 1 "$(metric busmon_sampling_restored_total)"
stop_agent TERM

# --- 2. the same after kill -9 ---------------------------------------------------------------
start_agent a1
TXK=late-fail-9
first_step $TXK
bm_check "2: sampled out" bm_wait_for 15 'sampled_out $TXK'
bm_check "2: a checkpoint covers its entries (none pending) before the kill" \
    bm_wait_for 10 '[ "$(redis-cli -p "$BM_PORT" XPENDING s1 g | head -1)" = 0 ]'
stop_agent KILL
start_agent a1
second_step $TXK fail
bm_check "2: after kill -9 and a start the failure is kept: busmon trace reads it failed" \
    bm_wait_for 15 '[ "$(status_of $TXK)" = failed ]'
bm_eq "2: no marker left in its stored trace" 0 "$(markers_in $TXK)"
bm_check "2: busmon traces --status failed lists it" listed_failed $TXK

# --- 3. decided again with no marker: nothing taken out -------------------------------------
stop_agent TERM
start_agent a1
xadd type status id "$TXK-s1" tx $TXK status failed ts $((NOW + 40000))
bm_check "3: the late status event is stored after the failed step's records" \
    bm_wait_for 15 '[ "$(redis-cli -p "$BM_PORT" LLEN busmon:trace:$TXK)" = 3 ]'
bm_check "3: ... and decided (failed)" \
    bm_wait_for 10 '[ "$(metric "busmon_sampling_decisions_total{reason=\"failed\"}")" = 1 ]'
sleep 0.5 # a possible wrong removal would land within a tick
bm_eq "3: all 3 records kept, failed" "3 failed" \
    "$(redis-cli -p "$BM_PORT" LLEN busmon:trace:$TXK) $(status_of $TXK)"
bm_eq "3: nothing counted as restored" 0 "$(metric busmon_sampling_restored_total)"
bm_eq "no command denied to the agent's user" 0 \
    "$(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 ~ /^busmon_redis_denied_total/ {s += $2} END {print s + 0}')"
stop_agent TERM
bm_finish
