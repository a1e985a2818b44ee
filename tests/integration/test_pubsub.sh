#!/usr/bin/env bash
# The pub/sub input: the demo producer publishes the MultiAgents Framework's
# exact wire shape on multiagent:* channels (failures as success:false
# results, status events, compensations, commands that are never answered);
# busmon-agent --psubscribe reads them, and `busmon workers --json` and
# `busmon trace --json` must show exactly what was sent (the producer's
# ground truth). Then: an event seen on both inputs is kept once, a bad
# message is dead-lettered, and the pattern comes from the config file too.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
GT=$BM_TMP/truth.tsv

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 500ms --health-interval 1s \
    --psubscribe 'multiagent:*'
A=$BM_LAST_PID
bm_check "the agent subscribes" bm_wait_for 10 \
    '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
"$BM_BUILD/busmon-demo-producer" --pubsub --count 150 --rate 1500 --seed 11 --timeout-seconds 1 \
    --ground-truth "$GT" >/dev/null || echo "FAIL - the producer failed"
answers=$(awk -F'\t' '$2 == "ok" || $2 == "fail"' "$GT" | wc -l)
unanswered=$(grep -c '^unanswered' "$GT")
bm_check "the workload has answers, failures and unanswered commands" \
    [ "$answers" -gt 100 -a "$unanswered" -gt 0 -a "$(grep -c $'\tfail\t' "$GT")" -gt 0 ]

# every answer and every timeout (timeout_seconds 1 s after the command) counted
execs() { "$BUSMON" workers --json --window 1h 2>/dev/null | jq '[.workers[].executions] | add // 0'; }
bm_check "busmon counts every answer and timeout ($answers + $unanswered)" \
    bm_wait_for 20 '[ "$(execs)" = $((answers + unanswered)) ]'
J=$("$BUSMON" workers --json --window 1h)
w() { jq -r --arg n "$1" ".workers[] | select(.name == \$n) | $2 // 0" <<<"$J"; }
for n in fast slow flaky cpu_heavy; do
    ok=$(awk -F'\t' -v n=$n '$1 == n && $2 == "ok"' "$GT" | wc -l)
    fail=$(awk -F'\t' -v n=$n '$1 == n && $2 == "fail"' "$GT" | wc -l)
    to=$(awk -F'\t' -v n=$n '$1 == "unanswered" && $3 == n' "$GT" | wc -l)
    bm_eq "$n: successes / failures / timeouts as sent" "$ok $fail $to" \
        "$(w $n .successes) $(w $n .failures) $(w $n .timeouts)"
done
bm_eq "compensations are not workers" "" \
    "$(jq -r '.workers[].name | select(startswith("undo"))' <<<"$J")"
bm_eq "nothing left in flight" 0 "$(jq '[.workers[].in_flight] | add' <<<"$J")"

# traces: a completed one, a compensated one, one that hung
trace() { "$BUSMON" trace --json "$1"; }
tx_done=$(awk -F'\t' '$1 == "tx" && $3 == "completed" { print $2; exit }' "$GT")
tx_comp=$(awk -F'\t' '$1 == "tx" && $3 == "compensated" { print $2; exit }' "$GT")
tx_hung=$(awk -F'\t' '$1 == "unanswered" { print $2; exit }' "$GT")
sent() { awk -F'\t' -v t="$1" '$1 == "tx" && $2 == t { print $4 }' "$GT"; }
T=$(trace "$tx_done")
bm_eq "completed tx: status and every event sent" "completed $(sent "$tx_done")" \
    "$(jq -r '"\(.status) \(.event_count)"' <<<"$T")"
bm_eq "completed tx: status events are in the trace" completed \
    "$(jq -r '[.events[] | select(.type == "status")] | last | .stage' <<<"$T")"
T=$(trace "$tx_comp")
ncomp=$(awk -F'\t' -v t="$tx_comp" '$1 == "compensation" && $2 == t' "$GT" | wc -l)
bm_eq "compensated tx: failed, every event, its compensations" "failed $(sent "$tx_comp") $ncomp" \
    "$(jq -r '"\(.status) \(.event_count) \([.events[] | select(.type == "compensation")] | length)"' <<<"$T")"
bm_eq "compensated tx: the failed step is a success:false result" failed \
    "$(jq -r '[.events[] | select(.type == "result" and .stage == "failed")] | first | .stage' <<<"$T")"
T=$(trace "$tx_hung")
bm_eq "hung tx: the unanswered command is marked timed out" "timed_out timeout" \
    "$(jq -r '[.events[] | select(.stage == "timed_out")] | first | "\(.stage) \(.error_type // .error.type)"' <<<"$T")"
bm_eq "hung tx: status failed" failed "$(jq -r .status <<<"$T")"

# one event on both inputs (same id) is kept once
EV='{"id": "dup-1", "type": "command", "metadata": {"transaction_id": "tx-both", "correlation_id": "tx-both.fetch", "timestamp": "2026-11-22T10:00:00.5", "source": "orchestrator"}, "payload": {}, "worker_type": "fast", "timeout_seconds": 30}'
bm_cli PUBLISH multiagent:command.fast "$EV" >/dev/null
bm_cli XADD busmon:events '*' json "$EV" >/dev/null
bm_check "the stream copy is read" bm_wait_for 10 \
    '[ "$(bm_cli_raw XINFO GROUPS busmon:events | grep -A1 "^entries-read$" | tail -1)" = 1 ]'
bm_eq "an event on both inputs is traced once" "1 fast" \
    "$(trace tx-both | jq -r '"\(.event_count) \(.events[0].worker)"')"

# a message that is not JSON goes to the dead-letter stream with its channel
bm_cli PUBLISH multiagent:result.fast 'not json {' >/dev/null
bm_check "a bad message is dead-lettered" bm_wait_for 10 \
    '[ "$(bm_cli_raw XLEN busmon:deadletter)" = 1 ]'
bm_eq "dead-letter: reason and channel" "not_json multiagent:result.fast" \
    "$(bm_cli_raw XRANGE busmon:deadletter - + | awk 'p { print; p = 0 } /^(reason|stream)$/ { p = 1 }' | tr '\n' ' ' | sed 's/ $//')"
kill -INT "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0 on SIGINT" 0 "$rc"

# the config file: pubsub.enabled with another prefix
cat >"$BM_TMP/ps.yaml" <<'YAML'
pubsub:
  enabled: true
  prefix: "shop:"
YAML
bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/ps.yaml" --block-ms 100 --consumer c2
bm_check "pubsub.enabled subscribes to <prefix>*" bm_wait_for 10 \
    '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
bm_cli PUBLISH shop:command.billing "${EV//dup-1/shop-1}" >/dev/null
bm_check "a message on shop:command.billing is traced" bm_wait_for 10 \
    '"$BUSMON" trace tx-both --json 2>/dev/null | jq -e ".events[] | select(.id == \"shop-1\")" >/dev/null'
printf 'pubsub:\n  enabled: maybe\n' >"$BM_TMP/bad.yaml"
out=$("$BM_BUILD/busmon-agent" --config "$BM_TMP/bad.yaml" --check-config 2>&1); rc=$?
bm_check "a bad pubsub.enabled is refused with its line" \
    bash -c '[ "$1" -ne 0 ] && grep -q "bad.yaml:2: .pubsub.enabled. must be true or false" <<<"$2"' _ "$rc" "$out"
bm_finish
