#!/usr/bin/env bash
# The alert engine's durations on the monotonic clock: a step of the wall
# clock (an NTP correction, a resumed VM; here BUSMON_TEST_CLOCK_FILE's first
# number, which moves the wall clock alone) changes no rate and no `for`.
#   1. deadletter_rate: 10 entries dead-lettered, the rule `deadletters`
#      (> 3 per minute) fires; the wall clock one hour ahead, then back: the
#      rate still counts the 10 of the last minute and the alert goes on
#      firing (on the wall clock it read 0 after the forward step and was
#      unknown after the step back: resolved twice).
#   2. `for` and cooldown: `held` (for 30 s) pending, `repeats` (cooldown
#      30 s) firing; the wall clock an hour ahead, then two back: `held` stays
#      pending and `repeats` does not repeat (on the wall clock the step ahead
#      fired the one and repeated the other at once); 31 s passing then
#      fires `held` and repeats `repeats`.
# Time passing is the file's second number (both clocks ahead); every wait is
# bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
CLOCK=$BM_TMP/clock
echo 0 >"$CLOCK"
cat >"$BM_TMP/busmon.yaml" <<'YAML'
alerts:
  builtins: false
  rules:
    - {name: deadletters, metric: deadletter_rate, op: ">", threshold: 3, for: 0s, cooldown: 0s}
YAML
HP=$(bm_free_port)
BUSMON_TEST_CLOCK_FILE=$CLOCK bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer a1 \
    --block-ms 100 --rollup-interval 300ms --alert-interval 300ms --http "127.0.0.1:$HP"
bm_check "the agent is up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/health"
api() { curl -s "http://127.0.0.1:$HP/api/alerts"; }
# value RULE: the firing alert's value ("" not firing)
value() { api | jq -r --arg r "$1" '.firing[] | select(.rule == $r) | .value'; }
evaluations() { bm_metric "$HP" busmon_alert_evaluations_total; }
# after_evaluations N: wait until N more evaluations have run
after_evaluations() {
    local until=$(($(evaluations) + $1))
    bm_wait_for 10 "[ \"\$(evaluations)\" -ge $until ]"
}
# at_least RULE N: its firing value is >= N
at_least() { jq -en --argjson v "$(value "$1" | grep . || echo null)" --argjson n "$2" '$v != null and $v >= $n' >/dev/null; }
resolves() { api | jq '[.history[] | select(.rule == "deadletters" and .state == "resolved")] | length'; }

# --- 1. deadletter_rate across wall clock steps --------------------------------------------
for i in $(seq 10); do bm_cli XADD busmon:events '*' note "not an event $i" >/dev/null; done
bm_check "1: 10 entries dead-lettered" bm_wait_for 10 '[ "$(bm_metric $HP busmon_deadletter_total)" = 10 ]'
bm_check "1: deadletters fires" bm_wait_for 10 '[ -n "$(value deadletters)" ]'
echo 3600 >"$CLOCK"
after_evaluations 4
bm_check "1: the wall clock an hour ahead: still firing" test -n "$(value deadletters)"
bm_check "1: ... the rate still counts the minute's 10 (got $(value deadletters))" at_least deadletters 10
echo 0 >"$CLOCK"
after_evaluations 4
bm_check "1: the wall clock back an hour: still firing" test -n "$(value deadletters)"
bm_check "1: ... the rate still counts the minute's 10 (got $(value deadletters))" at_least deadletters 10
bm_eq "1: never resolved" 0 "$(resolves)"
# a minute passing (both clocks) ages them out: resolved
echo "60 61" >"$CLOCK"
bm_check "1: a minute later (both clocks): resolved" bm_wait_for 10 '[ -z "$(value deadletters)" ]'
stop_agent() { kill -INT "$BM_LAST_PID"; bm_wait_for 15 "! kill -0 $BM_LAST_PID 2>/dev/null"; }
stop_agent

# --- 2. for and cooldown across wall clock steps ---------------------------------------------
bm_cli DEL busmon:alerts >/dev/null
echo 0 >"$CLOCK"
cat >"$BM_TMP/busmon.yaml" <<'YAML'
alerts:
  builtins: false
  rules:
    - {name: held, metric: memory_percent, op: ">=", threshold: 0, for: 30s, cooldown: 0s}
    - {name: repeats, metric: memory_percent, op: ">=", threshold: 0, for: 0s, cooldown: 30s}
YAML
BUSMON_TEST_CLOCK_FILE=$CLOCK bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer a2 \
    --block-ms 100 --rollup-interval 300ms --alert-interval 300ms --http "127.0.0.1:$HP"
bm_check "2: the agent is up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/health"
# sent RULE STATE: notifications of RULE in STATE in busmon:alerts
sent() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' |
    jq -s --arg r "$1" --arg s "$2" '[.[] | select(.rule == $r and .state == $s)] | length'; }
bm_check "2: repeats fires" bm_wait_for 10 '[ "$(sent repeats firing)" = 1 ]'
bm_check "2: held is pending" bm_wait_for 10 '[ "$(bm_metric $HP busmon_alerts_pending)" = 1 ]'
echo 3600 >"$CLOCK"
after_evaluations 4
bm_eq "2: the wall clock an hour ahead: held still pending" "1 0" \
    "$(bm_metric $HP busmon_alerts_pending) $(sent held firing)"
bm_eq "2: ... repeats not repeated" 0 "$(sent repeats repeat)"
echo -3600 >"$CLOCK"
after_evaluations 4
bm_eq "2: the wall clock two hours back: held still pending" "1 0" \
    "$(bm_metric $HP busmon_alerts_pending) $(sent held firing)"
bm_eq "2: ... repeats not repeated" 0 "$(sent repeats repeat)"
echo "-3600 31" >"$CLOCK"
bm_check "2: 31 s later (the monotonic clock): held fires" bm_wait_for 10 '[ "$(sent held firing)" = 1 ]'
bm_check "2: ... and repeats repeats" bm_wait_for 10 '[ "$(sent repeats repeat)" = 1 ]'
stop_agent
bm_finish
