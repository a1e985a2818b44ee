#!/usr/bin/env bash
# An alert firing when the agent stops is resolved after the restart when the
# configuration no longer makes it: its rule removed, or its labels changed
# (another fingerprint). The resolve is the alert's last firing record
# (rule, labels, fingerprint, starts_at) from the checkpoint's history, sent
# as any resolve: a generic webhook gets the record in state resolved, a
# PagerDuty webhook a `resolve` with the alert's dedup_key, a merge-mode
# redis_hash loses its field, busmon:alerts gets the record.
# One rule, w_errors (error_rate > 0.5 per worker over 1m, for 0s, label
# team), fires for the workers sent failures.
#   1. w_errors fires for wa; the agent stops; w_errors is taken out of the
#      configuration; after the restart its alert is resolved everywhere;
#   2. w_errors (back) fires for wb; the agent stops; its label team is
#      changed; after the restart the old fingerprint is resolved everywhere
#      and the alert fires again under the new one;
#   3. with alerts.history 1 (only the newest record kept), w_errors taken
#      out while it fires for wa and wb: both are resolved everywhere, the one
#      whose firing record left the history too (the checkpoint keeps each
#      firing alert's record with it), and no warning says otherwise;
#   4. the same with w_errors relabeled: both old fingerprints are resolved,
#      both alerts fire under the new labels.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
RECV="$BM_BUILD/bm-webhook-receiver"
for b in "$AGENT" "$RECV"; do [ -x "$b" ] || { echo "missing $b"; exit 1; }; done

"$RECV" --out "$BM_TMP/hook.jsonl" --port-file "$BM_TMP/hook.port" --max-seconds 120 \
    >"$BM_TMP/receiver.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/hook.port' ]" || { echo "receiver did not start"; exit 1; }
HOOK="http://127.0.0.1:$(cat "$BM_TMP/hook.port")"
touch "$BM_TMP/hook.jsonl"

# config [TEAM]: the configuration, with w_errors labelled team=TEAM (none: no w_errors)
config() {
    {
        echo "alerts:"
        echo "  builtins: false"
        echo "  history: ${HISTORY:-100}"
        echo "  rules:"
        echo "    - {name: never, metric: error_rate, scope: each_worker, op: '>', threshold: 2, window: 1m}"
        [ -n "${1:-}" ] && echo "    - {name: w_errors, metric: error_rate, scope: each_worker, op: '>'," \
            "threshold: 0.5, window: 1m, for: 0s, labels: {team: $1}}"
        echo "  sinks:"
        echo "    - {name: merged, type: redis_hash, key: copy:merge}"
        echo "    - {name: hook, type: webhook, url: '$HOOK/hook'}"
        echo "    - {name: pd, type: webhook, format: pagerduty, routing_key: R0UTING, url: '$HOOK/pd'}"
    } >"$BM_TMP/busmon.yaml"
}
start_agent() {
    "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer a1 --block-ms 100 --rollup-interval 300ms \
        --health-interval 300ms --alert-interval 300ms --checkpoint-interval 300ms \
        >>"$BM_TMP/agent.log" 2>&1 &
    A=$!
    BM_PIDS+=($A)
}
stop_agent() { kill -INT "$A"; wait "$A"; }
results() {
    local i
    for i in $(seq "$3"); do
        echo "XADD busmon:events * type result tx $1-$2-$RANDOM-$i worker $1 ok $2 duration_ms 5"
    done | redis-cli -p "$BM_PORT" >/dev/null
}
# stream_fp WORKER STATE [TEAM]: the fingerprint of w_errors for WORKER in that state in busmon:alerts
stream_fp() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' |
    jq -r --arg w "$1" --arg s "$2" --arg t "${3:-}" 'select(.rule == "w_errors" and
        .labels.worker == $w and .state == $s and ($t == "" or .labels.team == $t)) | .fingerprint' |
    tail -1; }
# hook_has PATH JQ: a body POSTed to PATH matches JQ
hook_has() { jq -r --arg p "$1" 'select(.path == $p) | .body' "$BM_TMP/hook.jsonl" | jq -e -s "any(.[]; $2)"; }
in_merge() { [ "$(bm_cli_raw HEXISTS copy:merge "$1")" = 1 ]; }
in_builtin() { [ "$(bm_cli_raw HEXISTS busmon:alerts:firing "$1")" = 1 ]; }

# --- 1. a rule removed ------------------------------------------------------------------
config pay
bm_eq "--check-config accepts the configuration" 0 \
    "$("$AGENT" --config "$BM_TMP/busmon.yaml" --check-config >/dev/null 2>&1; echo $?)"
start_agent
results wa false 10
bm_check "1: w_errors fires for wa" bm_wait_for 15 '[ -n "$(stream_fp wa firing)" ]'
FA=$(stream_fp wa firing)
bm_check "1: wa in the merge-mode hash and the built-in one" bm_wait_for 5 "in_merge $FA && in_builtin $FA"
bm_check "1: the webhook got the firing record" bm_wait_for 10 \
    "hook_has /hook '.state == \"firing\" and .fingerprint == \"$FA\"'"
bm_check "1: PagerDuty got the trigger" bm_wait_for 10 \
    "hook_has /pd '.event_action == \"trigger\" and .dedup_key == \"busmon-$FA\"'"
sleep 1 # a checkpoint after the firing (every 300 ms)
stop_agent
config # w_errors taken out
start_agent
bm_check "1: busmon:alerts gets w_errors' resolve for wa, same fingerprint" bm_wait_for 10 \
    "[ \"\$(stream_fp wa resolved)\" = $FA ]"
bm_check "1: the webhook gets the resolved record (labels, starts_at, the reason)" bm_wait_for 10 \
    "hook_has /hook '.state == \"resolved\" and .fingerprint == \"$FA\" and .labels.team == \"pay\"
        and .labels.worker == \"wa\" and .ends_at > .starts_at
        and (.description | test(\"rule removed from the configuration\"))'"
bm_check "1: PagerDuty gets the resolve of its dedup_key" bm_wait_for 10 \
    "hook_has /pd '.event_action == \"resolve\" and .dedup_key == \"busmon-$FA\"'"
bm_check "1: the merge-mode hash loses wa's field" bm_wait_for 10 "! in_merge $FA"
bm_check "1: the built-in hash does not hold it" bm_wait_for 5 "! in_builtin $FA"
bm_eq "1: one resolve, not one per evaluation" 1 \
    "$(jq -r 'select(.path == "/hook") | .body' "$BM_TMP/hook.jsonl" | jq -s "[.[] |
        select(.state == \"resolved\" and .fingerprint == \"$FA\")] | length")"
stop_agent

# --- 2. a rule's labels changed ---------------------------------------------------------------
config pay
start_agent
results wb false 10
bm_check "2: w_errors fires for wb" bm_wait_for 15 '[ -n "$(stream_fp wb firing pay)" ]'
FB=$(stream_fp wb firing pay)
bm_check "2: wb in the merge-mode hash" bm_wait_for 5 "in_merge $FB"
sleep 1
stop_agent
config ops # same rule, another label: another fingerprint
start_agent
bm_check "2: the old fingerprint is resolved in busmon:alerts" bm_wait_for 10 \
    "[ \"\$(stream_fp wb resolved pay)\" = $FB ]"
bm_check "2: the webhook gets the old alert's resolve" bm_wait_for 10 \
    "hook_has /hook '.state == \"resolved\" and .fingerprint == \"$FB\"
        and (.description | test(\"labels changed\"))'"
bm_check "2: PagerDuty gets the resolve of the old dedup_key" bm_wait_for 10 \
    "hook_has /pd '.event_action == \"resolve\" and .dedup_key == \"busmon-$FB\"'"
bm_check "2: the alert fires again under its new labels" bm_wait_for 10 \
    '[ -n "$(stream_fp wb firing ops)" ]'
FN=$(stream_fp wb firing ops)
bm_check "2: the merge-mode hash holds the new fingerprint, not the old" bm_wait_for 10 \
    "in_merge $FN && ! in_merge $FB"
stop_agent

# --- 3. the firing record no longer in the history -------------------------------------------
# resolved_everywhere FP WHY N: FP's resolve (its description saying WHY) is in busmon:alerts and
# at the generic webhook, PagerDuty has had N resolves of it, no merge-mode hash field is left
resolved_everywhere() {
    local n
    n=$(bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' | jq -s --arg f "$1" --arg w "$2" \
        '[.[] | select(.state == "resolved" and .fingerprint == $f and (.description | test($w)))]
        | length')
    [ "$n" = 1 ] && hook_has /hook ".state == \"resolved\" and .fingerprint == \"$1\"
        and (.description | test(\"$2\"))" >/dev/null &&
        [ "$(jq -r 'select(.path == "/pd") | .body' "$BM_TMP/hook.jsonl" | jq -s --arg k "busmon-$1" \
            '[.[] | select(.event_action == "resolve" and .dedup_key == $k)] | length')" = "$3" ] &&
        ! in_merge "$1"
}
HISTORY=1
config ops
start_agent
results wa false 10
results wb false 10
bm_check "3: w_errors fires for wa and wb (team ops)" bm_wait_for 15 \
    '[ -n "$(stream_fp wa firing ops)" ] && [ -n "$(stream_fp wb firing ops)" ]'
F3A=$(stream_fp wa firing ops)
F3B=$(stream_fp wb firing ops)
bm_check "3: both in the merge-mode hash" bm_wait_for 10 "in_merge $F3A && in_merge $F3B"
sleep 1 # a checkpoint after the firing (every 300 ms)
stop_agent
config # w_errors taken out
start_agent
bm_check "3: wa's alert is resolved everywhere (rule removed)" bm_wait_for 10 \
    "resolved_everywhere $F3A 'rule removed' 1"
bm_check "3: wb's alert is resolved everywhere (rule removed)" bm_wait_for 10 \
    "resolved_everywhere $F3B 'rule removed' 1"
bm_eq "3: no alert is said to be left unresolved" 0 \
    "$(grep -ac 'no resolve can be sent' "$BM_TMP/agent.log")"
ALERTS_JSON=$("$BM_BUILD/busmon" --redis "redis://127.0.0.1:$BM_PORT" alerts --json --count 50)
bm_eq "3: busmon alerts --json: w_errors not firing" 0 \
    "$(jq '[.firing[] | select(.rule == "w_errors")] | length' <<<"$ALERTS_JSON")"
bm_eq "3: busmon alerts --json: the newest notification of each is its resolve" "resolved resolved" \
    "$(jq -r --arg a "$F3A" --arg b "$F3B" '[([.history[] | select(.fingerprint == $a)][0].state),
        ([.history[] | select(.fingerprint == $b)][0].state)] | join(" ")' <<<"$ALERTS_JSON")"
stop_agent

# --- 4. relabeled, the firing record no longer in the history ---------------------------------
config ops
start_agent
results wa false 10
results wb false 10
bm_check "4: w_errors fires for wa and wb (team ops)" bm_wait_for 15 \
    "in_merge $F3A && in_merge $F3B"
sleep 1
stop_agent
LAST4=$(bm_cli_raw XREVRANGE busmon:alerts + - COUNT 1 | head -1)
LOG4=$(wc -l <"$BM_TMP/agent.log")
config pay
start_agent
bm_check "4: wa's old fingerprint is resolved everywhere (labels changed)" bm_wait_for 10 \
    "resolved_everywhere $F3A 'labels changed' 2"
bm_check "4: wb's old fingerprint is resolved everywhere (labels changed)" bm_wait_for 10 \
    "resolved_everywhere $F3B 'labels changed' 2"
bm_check "4: both fire again under team pay" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw XRANGE busmon:alerts '($LAST4' + | grep -a '^{\"rule\"' | jq -s '[.[] |
        select(.state == \"firing\" and .labels.team == \"pay\") | .labels.worker] | sort
        | join(\" \")')\" = '\"wa wb\"' ]"
bm_eq "4: no alert is said to be left unresolved" 0 \
    "$(tail -n +$((LOG4 + 1)) "$BM_TMP/agent.log" | grep -ac 'no resolve can be sent')"
stop_agent
bm_finish
