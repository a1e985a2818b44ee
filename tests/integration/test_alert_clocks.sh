#!/usr/bin/env bash
# The alert engine's durations on the monotonic clock: a step of the wall
# clock (an NTP correction, a resumed VM; here BUSMON_TEST_CLOCK_FILE's first
# number, which moves the wall clock alone) changes no rate and no `for`.
#   1. deadletter_rate: 10 entries dead-lettered, the rule `deadletters`
#      (> 3 per minute) fires; the wall clock one hour ahead, then back: the
#      rate still counts the 10 of the last minute and the alert goes on
#      firing (on the wall clock it read 0 after the forward step and was
#      unknown after the step back: resolved twice).
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
bm_finish
