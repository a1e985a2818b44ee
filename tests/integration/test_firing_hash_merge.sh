#!/usr/bin/env bash
# A merge-mode redis_hash on topic alerts_firing loses the alert records this
# process does not hold, as the workers hash loses the workers it does not
# track: after each whole set (every evaluation) the hash is read back and
# the alert records (a value {"rule":...,"fingerprint":"<the field>"...})
# not in the set are taken out; the hash's other fields are the user's and
# stay.
#   1. an alert an earlier process wrote (its rule long gone) leaves the hash;
#      a user's fields stay; the alert firing now is written;
#   2. the agent forgets an alert (stopped, its checkpoint lost): after the
#      restart the alert leaves the hash, as it left the built-in one.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }

cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:
  builtins: false
  rules:
    - {name: w_errors, metric: error_rate, scope: each_worker, op: ">", threshold: 0.5,
       window: 1m, for: 0s}
  sinks:
    - {name: merged, type: redis_hash, key: copy:merge}
cluster:
  enabled: false
EOF
start_agent() { # its log: $BM_TMP/busmon-agent.log
    bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer a1 --block-ms 100 \
        --alert-interval 300ms --checkpoint-interval 300ms
    A=$BM_LAST_PID
}
# results WORKER OK N: N results of WORKER (flat encoding)
results() {
    local i
    for i in $(seq "$3"); do
        echo "XADD busmon:events * type result tx $1-$2-$RANDOM-$i worker $1 ok $2 duration_ms 5"
    done | redis-cli -p "$BM_PORT" >/dev/null
}
fields() { bm_cli_raw HKEYS "$1" | sort | paste -sd' '; }
fp() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' |
    jq -r --arg w "$1" 'select(.rule == "w_errors" and .labels.worker == $w) | .fingerprint' | head -1; }

# --- 1. what an earlier process wrote ---------------------------------------------------
GHOST=0123456789abcdef
ghost='{"rule":"gone_rule","state":"firing","severity":"warning","fingerprint":"'$GHOST'","labels":{"worker":"old"},"metric":"error_rate","op":">","window":"1m","value":1.0,"threshold":0.5,"description":"old","starts_at":1577836800000000,"ts":1577836800000000,"agent":"a0"}'
# a user's fields: one not a record, one a record under another field name
other='{"rule":"mine","fingerprint":"fedcba9876543210"}'
bm_cli HSET copy:merge "$GHOST" "$ghost" note "kept by the user" fedcba9876543211 "$other" \
    >/dev/null
start_agent
results wa false 10
bm_check "1: w_errors fires for wa" bm_wait_for 15 '[ -n "$(fp wa)" ]'
FA=$(fp wa)
bm_check "1: wa's alert is in copy:merge" bm_wait_for 5 \
    "[ \"\$(bm_cli_raw HEXISTS copy:merge $FA)\" = 1 ]"
bm_check "1: the alert an earlier process wrote leaves copy:merge" bm_wait_for 5 \
    "[ \"\$(bm_cli_raw HEXISTS copy:merge $GHOST)\" = 0 ]"
bm_eq "1: copy:merge holds the alert firing, _agent, _every, _updated and the user's fields" \
    "$(printf '%s\n' "$FA" _agent _every _updated fedcba9876543211 note | sort | paste -sd' ')" \
    "$(fields copy:merge)"
bm_eq "1: a field that is not an alert record is left as it was" "kept by the user" \
    "$(bm_cli_raw HGET copy:merge note)"
bm_check "1: the agent says what it took out" \
    grep -q "1 alert(s) no longer firing taken out of copy:merge" "$BM_TMP/busmon-agent.log"

# --- 2. the agent forgets an alert --------------------------------------------------------
kill -INT "$A"
wait "$A"
bm_eq "2: the agent exits 0 on SIGINT" 0 "$?"
bm_eq "2: wa's alert is in copy:merge when the agent stops" 1 "$(bm_cli_raw HEXISTS copy:merge "$FA")"
bm_cli DEL busmon:state:a1 >/dev/null # the checkpoint lost: the restart knows no alert
U=$(bm_cli_raw HGET copy:merge _updated)
start_agent
bm_check "2: the restarted agent writes copy:merge" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw HGET copy:merge _updated)\" != '$U' ]"
bm_check "2: the built-in hash no longer holds wa's alert" bm_wait_for 5 \
    "[ \"\$(bm_cli_raw HEXISTS busmon:alerts:firing $FA)\" = 0 ]"
bm_check "2: the alert the agent forgot leaves copy:merge" bm_wait_for 5 \
    "[ \"\$(bm_cli_raw HEXISTS copy:merge $FA)\" = 0 ]"
bm_eq "2: the user's fields stay" "_agent _every _updated fedcba9876543211 note" \
    "$(fields copy:merge)"
kill -INT "$A"
wait "$A"
bm_eq "2: the agent exits 0 on SIGINT" 0 "$?"
bm_finish
