#!/usr/bin/env bash
# busmon's own timeouts (commands with timeout_seconds) against a real Redis.
#
# The bound (pubsub.max_timeouts): the commands of a transaction that ended
# unanswered are no longer awaited and leave the bound at once (they used to
# hold it until their timeout_seconds ran out, so a command sent meanwhile
# was refused and never timed out); the commands awaited are a gauge on
# /metrics and the ones the bound refuses a counter
# (busmon_command_timeouts_refused_total).
#
# A restart: a command awaiting its answer is in the checkpoint; while the
# agent is down its answer comes, behind a backlog, and the command's
# timeout_seconds runs out. Restarted, the agent must read the answer (the
# command was answered, not timed out): the time it was down does not count
# against the timeout, as a command's timeout counts from when the agent
# saw it.
source "$(dirname "$0")/lib.sh"
bm_start_redis
unset BUSMON_HTTP
HPORT=$(bm_free_port)
S=busmon:events
metric() { bm_metric "$HPORT" "$1"; }
applied() { [ "$(metric busmon_events_applied_total)" = "$1" ]; }
acked() { [ "$(bm_cli_raw XPENDING "$S" busmon | head -1)" = 0 ] &&
    [ "$(bm_cli_raw XINFO GROUPS "$S" | awk 'p { print; exit } $0 == "lag" { p = 1 }')" = 0 ]; }

cat >"$BM_TMP/agent.yaml" <<YAML
pubsub:
  max_timeouts: 2
worker_monitoring:
  timeout_grace: 200ms
YAML
start_agent() {
    bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/agent.yaml" --redis "$BM_URL" --stream "$S" \
        --http "127.0.0.1:$HPORT" --block-ms 100 --checkpoint-interval 200ms
    AGENT=$BM_LAST_PID
    bm_check "HTTP up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HPORT/health"
}
start_agent

# --- a restart: d-1 awaits its answer; the agent stops (its checkpoint holds it)
bm_cli XADD "$S" '*' type command id d-1 tx tx-d worker v step s1 timeout_seconds 3 >/dev/null
bm_check "tx-d's command applied" bm_wait_for 10 "applied 1"
kill "$AGENT"
bm_check "the agent stopped" bm_wait_for 15 "! kill -0 $AGENT"
# while it is down: a backlog, then the answer; the command's 3 s (+ grace) pass
bm_cli EVAL "for i = 1, ARGV[1] do redis.call('XADD', KEYS[1], '*', 'type', 'custom', 'n', i) end" \
    1 "$S" 100000 >/dev/null
bm_cli XADD "$S" '*' type result id d-1-r tx tx-d cmd d-1 worker v ok true >/dev/null
sleep 4 # the command's timeout (3 s + 200 ms) runs out while the agent is down
start_agent
bm_check "the backlog is read" bm_wait_for 60 acked
sleep 1 # a wrong timeout would be noticed within the 250 ms check
bm_eq "the command answered while the agent was down was not timed out" 0 \
    "$(metric busmon_command_timeouts_noticed_total)"
bm_eq "its answer is no late answer" 0 "$(metric busmon_late_answers_total)"
bm_eq "its worker has one success" 1 \
    "$(metric 'busmon_worker_executions_total{worker="v",status="success"}')"
BASE=$(metric busmon_events_applied_total)

# --- the bound. tx-a: two commands with a long timeout, then the workflow ends
# (cancelled) unanswered
bm_cli XADD "$S" '*' type command id a-1 tx tx-a worker w step s1 timeout_seconds 300 >/dev/null
bm_cli XADD "$S" '*' type command id a-2 tx tx-a worker w step s2 timeout_seconds 300 >/dev/null
bm_check "tx-a's commands applied" bm_wait_for 10 "applied $((BASE + 2))"
bm_eq "both awaited" 2 "$(metric busmon_command_timeouts_awaited)"
bm_cli XADD "$S" '*' type status id a-end tx tx-a status cancelled >/dev/null
bm_check "tx-a's end applied" bm_wait_for 10 "applied $((BASE + 3))"
bm_eq "an ended transaction's commands are no longer awaited" 0 \
    "$(metric busmon_command_timeouts_awaited)"

# tx-b: a command sent after it, with a short timeout, is awaited and timed out
NOTICED=$(metric busmon_command_timeouts_noticed_total)
bm_cli XADD "$S" '*' type command id b-1 tx tx-b worker w step s1 timeout_seconds 0.5 >/dev/null
bm_check "tx-b's command timed out by busmon" \
    bm_wait_for 15 '[ "$(metric busmon_command_timeouts_noticed_total)" = $((NOTICED + 1)) ]'
bm_eq "no command refused so far" 0 "$(metric busmon_command_timeouts_refused_total)"
bm_eq "nothing awaited after the timeout" 0 "$(metric busmon_command_timeouts_awaited)"

# tx-c: three commands, the bound takes two; the third is counted and said
for i in 1 2 3; do
    bm_cli XADD "$S" '*' type command id c-$i tx tx-c worker w step s$i timeout_seconds 300 >/dev/null
done
bm_check "tx-c's commands applied" bm_wait_for 10 '[ "$(metric busmon_command_timeouts_awaited)" = 2 ]'
bm_check "the third is refused and counted" \
    bm_wait_for 10 '[ "$(metric busmon_command_timeouts_refused_total)" = 1 ]'
bm_check "the refusal is logged" grep -q "will not be timed out by busmon" "$BM_TMP/busmon-agent.log"
# an answer takes its command out at once
bm_cli XADD "$S" '*' type result id c-1-r tx tx-c cmd c-1 worker w ok true >/dev/null
bm_check "an answered command is no longer awaited" \
    bm_wait_for 10 '[ "$(metric busmon_command_timeouts_awaited)" = 1 ]'
bm_finish
