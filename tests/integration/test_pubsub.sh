#!/usr/bin/env bash
# The pub/sub input, faithful to the MultiAgents Framework: the demo producer
# publishes the framework's exact wire shape on multiagent:* channels
# (failures as success:false results, the worker manager's timeouts as
# success:false with error_type "timeout", status events, compensations
# nobody answers, commands never answered, workflows cancelled while a
# command is out, correlation ids <tx>.<step> and <tx>.comp.<step>);
# busmon-agent --psubscribe reads them, and every figure must be exact
# against the producer's ground truth: per-worker successes / failures /
# timeouts (the framework's timeouts are timeouts), error patterns, /metrics,
# every transaction's status (compensated kept) and event count, every
# event's step, no timeout after a transaction ended, compensations as
# requests no worker has in flight. Then, hand-published in the framework's
# bytes: an answer after busmon's own timeout is late (first outcome wins),
# a compensation someone answers pairs; an event seen on both inputs is kept
# once, a bad message is dead-lettered, and the pattern comes from the
# config file too, where busmon's own timeouts alone fire error_spike.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
GT=$BM_TMP/truth.tsv
HP=$(bm_free_port)

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 500ms --health-interval 1s \
    --psubscribe 'multiagent:*' --http "127.0.0.1:$HP"
A=$BM_LAST_PID
bm_check "the agent subscribes" bm_wait_for 10 \
    '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
"$BM_BUILD/busmon-demo-producer" --pubsub --count 150 --rate 1500 --seed 11 --timeout-seconds 1 \
    --cancel-rate 0.1 --ground-truth "$GT" >/dev/null || echo "FAIL - the producer failed"
gt() { awk -F'\t' "$1" "$GT"; }
n_ok=$(gt 'NF == 3 && $2 == "ok"' | wc -l)
n_fail=$(gt 'NF == 3 && $2 == "fail"' | wc -l)
n_timeout=$(gt 'NF == 3 && $2 == "timeout"' | wc -l)
n_unanswered=$(gt '$1 == "unanswered"' | wc -l)
n_cancelled=$(gt '$1 == "cancelled"' | wc -l)
n_fw_timeout=$((n_timeout - n_unanswered)) # answered by the framework's worker manager
bm_check "the workload: $n_ok ok, $n_fail failed, $n_fw_timeout framework timeouts, $n_unanswered unanswered, $n_cancelled cancelled" \
    [ "$n_ok" -gt 100 -a "$n_fail" -gt 0 -a "$n_fw_timeout" -gt 0 -a "$n_unanswered" -gt 0 -a "$n_cancelled" -gt 0 ]
n_cancel_comp=$(gt '$1 == "cancelled" { c[$2] = 1 } $1 == "compensation" && c[$2] { n++ } END { print n + 0 }')
bm_check "the workload has cancelled workflows with compensations ($n_cancel_comp)" [ "$n_cancel_comp" -gt 0 ]

trace() { "$BUSMON" trace --json "$1"; }
jqt() { jq -e "$@" >/dev/null; }

# every answer and every timeout busmon notices (1 s + the 1 s grace after the command)
execs() { "$BUSMON" workers --json --window 1h 2>/dev/null | jq '[.workers[].executions] | add // 0'; }
bm_check "busmon counts every answer and timeout ($n_ok + $n_fail + $n_timeout)" \
    bm_wait_for 20 '[ "$(execs)" = $((n_ok + n_fail + n_timeout)) ]'
sleep 3 # past every deadline: a cancelled command would have timed out by now
J=$("$BUSMON" workers --json --window 1h)
w() { jq -r --arg n "$1" ".workers[] | select(.name == \$n) | $2 // 0" <<<"$J"; }
for n in fast slow flaky cpu_heavy; do
    ok=$(gt "\$1 == \"$n\" && \$2 == \"ok\"" | wc -l)
    fail=$(gt "NF == 3 && \$1 == \"$n\" && \$2 == \"fail\"" | wc -l)
    to=$(gt "NF == 3 && \$1 == \"$n\" && \$2 == \"timeout\"" | wc -l)
    bm_eq "$n: successes / failures / timeouts as sent (the framework's timeouts are timeouts)" \
        "$ok $fail $to" "$(w $n .successes) $(w $n .failures) $(w $n .timeouts)"
done
bm_eq "compensations are not workers" "" \
    "$(jq -r '.workers[].name | select(startswith("undo"))' <<<"$J")"
bm_eq "nothing left in flight (cancelled commands are not awaited)" 0 \
    "$(jq '[.workers[].in_flight] | add' <<<"$J")"

# error patterns: a timeout is one pattern, the framework's and busmon's alike
E=$("$BUSMON" errors --json --window 1h)
pat() { jq -r --arg t "$1" '[.errors[] | select(.type == $t) | .total] | add // 0' <<<"$E"; }
bm_eq "busmon errors: WorkerException and timeout patterns exact, nothing else" \
    "$n_fail $n_timeout $((n_fail + n_timeout))" \
    "$(pat WorkerException) $(pat timeout) $(jq '[.errors[].total] | add // 0' <<<"$E")"

# /metrics: one meaning of timeout
M=$(curl -s "http://127.0.0.1:$HP/metrics")
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$M"; }
bm_eq "/metrics: timeouts, those busmon noticed, no late answer" "$n_timeout $n_unanswered 0" \
    "$(metric busmon_command_timeouts_total) $(metric busmon_command_timeouts_noticed_total) $(metric busmon_late_answers_total)"
bm_eq "/metrics: results by status (ok, failed, timeout)" "$n_ok $n_fail $n_fw_timeout" \
    "$(metric 'busmon_events_total{type="result",status="ok"}') $(metric 'busmon_events_total{type="result",status="failed"}') $(metric 'busmon_events_total{type="result",status="timeout"}')"
bm_eq "/metrics: busmon's own timeouts are error events that timed out" "$n_unanswered 0" \
    "$(metric 'busmon_events_total{type="error",status="timeout"}') $(metric 'busmon_events_total{type="error",status="failed"}')"
bm_eq "/metrics: worker executions by status add up" "$n_ok $n_fail $n_timeout" \
    "$(awk '/^busmon_worker_executions_total/ { split($1, a, "status=\""); s = substr(a[2], 1, index(a[2], "\"") - 1); n[s] += $2 }
        END { print n["success"] + 0, n["failure"] + 0, n["timeout"] + 0 }' <<<"$M")"

# every transaction, as `busmon trace --json` shows it
: >"$BM_TMP/traces.jsonl"
for tx in $(gt '$1 == "tx" { print $2 }'); do
    "$BUSMON" trace --json "$tx" >>"$BM_TMP/traces.jsonl" || echo "{\"tx\": \"$tx\", \"missing\": true}" >>"$BM_TMP/traces.jsonl"
done
TR=$BM_TMP/traces.jsonl
bm_eq "every transaction is traced" "$(gt '$1 == "tx"' | wc -l)" "$(jq -s '[.[] | select(.missing | not)] | length' "$TR")"
# the framework's final status kept; a transaction that hung is failed (busmon's timeout stands)
want_status() { gt '$1 == "unanswered" { hung[$2] = 1 } $1 == "tx" { print $2, (hung[$2] ? "failed" : $3) }' | sort; }
bm_eq "every transaction's status (completed, compensated; failed when it hung)" \
    "$(want_status)" "$(jq -r '"\(.tx) \(.status)"' "$TR" | sort)"
bm_eq "status_group folds compensated into failed" 0 \
    "$(jq -s '[.[] | select(.status == "compensated" and .status_group != "failed")] | length' "$TR")"
bm_check "there are compensated and completed transactions" \
    jqt -s 'any(.[]; .status == "compensated") and any(.[]; .status == "completed")' "$TR"
want_events() { gt '$1 == "unanswered" { hung[$2] = 1 } $1 == "tx" { print $2, $4 + (hung[$2] ? 1 : 0) }' | sort; }
bm_eq "every event sent is in its trace, plus busmon's timeout of a hung command" \
    "$(want_events)" "$(jq -r '"\(.tx) \(.event_count)"' "$TR" | sort)"

# steps: a command's and its answer's from <tx>.<step>, a compensation's
# the step it undoes (<tx>.comp.<step>), busmon's timeout its command's
jq -r '.events[] | select(.type == "command") | "\(.id) \(.step)"' "$TR" | sort >"$BM_TMP/cmd_steps"
gt '$1 == "step" { print $3, $4 }' | sort >"$BM_TMP/want_steps"
bm_eq "every command's step is the ground truth's" "$(cat "$BM_TMP/want_steps")" "$(cat "$BM_TMP/cmd_steps")"
bm_eq "every answer (and busmon's timeout) has its command's step" "" \
    "$(jq -r '.events[] | select(.type == "result" or .type == "error") | "\(.cmd) \(.step)"' "$TR" | sort |
        join -v1 - "$BM_TMP/want_steps" | head -3)"
bm_eq "every answer names a command of the ground truth" \
    "$((n_ok + n_fail + n_timeout))" \
    "$(jq -r '.events[] | select(.type == "result" or .type == "error") | "\(.cmd) \(.step)"' "$TR" | sort |
        join - "$BM_TMP/want_steps" | awk '$2 == $3' | wc -l)"
gt '$1 == "compensation" { print $4, $3 }' | sort >"$BM_TMP/comp_orig"
bm_eq "every compensation's step is the step it undoes" \
    "$(join "$BM_TMP/comp_orig" "$BM_TMP/want_steps" | awk '{ print $1, $3 }' | sort)" \
    "$(jq -r '.events[] | select(.type == "compensation") | "\(.attrs.original_command_id) \(.step)"' "$TR" | sort)"

# the framework's own timeouts: timed_out once, no second timeout of busmon's
bm_eq "the framework's timeouts are timed_out, error type timeout" "$n_fw_timeout" \
    "$(jq -r '.events[] | select(.type == "result" and .stage == "timed_out" and .error.type == "timeout" and .paired_with != null) | .id' "$TR" | wc -l)"
bm_eq "busmon timed out exactly the unanswered commands" \
    "$(gt '$1 == "unanswered" { print $4 }' | sort)" \
    "$(jq -r '.events[] | select(.source == "busmon") | select(.stage == "timed_out") | .cmd' "$TR" | sort)"
bm_eq "no answer is late" 0 "$(jq -r '.events[] | select(.stage == "late") | .id' "$TR" | wc -l)"

# compensations nobody answers: requests, none awaited
bm_eq "every compensation is a request nobody answered" \
    "$(gt '$1 == "compensation"' | wc -l) 0" \
    "$(jq -s '[.[].events[] | select(.type == "compensation")] | "\(length) \([.[] | select(.stage != "requested" or .paired_with != null)] | length)"' -r "$TR")"
bm_eq "no stage compensating" 0 "$(jq -r '.events[] | select(.stage == "compensating") | .id' "$TR" | wc -l)"

# cancelled workflows: ended by their status; their command out is not timed out
for tx in $(gt '$1 == "cancelled" { print $2 }'); do
    jq -c --arg t "$tx" 'select(.tx == $t)' "$TR"
done >"$BM_TMP/cancelled.jsonl"
bm_eq "cancelled: compensated, ended by its last status, no timeout after the end" \
    "$(for _ in $(seq "$n_cancelled"); do echo "compensated status 0 Workflow cancelled"; done)" \
    "$(jq -r '"\(.status) \(.events[-1].type) \([.events[] | select(.stage == "timed_out")] | length) \(.events[-1].message)"' "$BM_TMP/cancelled.jsonl")"
bm_eq "cancelled: the command out stays dispatched, unanswered" \
    "$(gt '$1 == "cancelled" { print $4 }' | sort)" \
    "$(jq -r '.events as $e | [$e[] | select(.type == "command" and .paired_with == null)][] | .id' "$BM_TMP/cancelled.jsonl" | sort)"
bm_eq "cancelled: duration ends at the last status" 0 \
    "$(jq -r 'select((.duration_ms - (.events[-1].offset_ms)) | fabs > 0.001) | .tx' "$BM_TMP/cancelled.jsonl" | wc -l)"

# --- hand-published, byte for byte as the framework's RedisEventBus writes them
# (the waits slurp with jq -s: jq 1.6's -e exits 0 on no input, and a trace
# is written up to traces.flush_interval after its event, so "no trace yet"
# must be a miss, not a pass)
ts() { date -u +%Y-%m-%dT%H:%M:%S.%6N; }
TXL=7c0ffee0-0000-4000-8000-00000000001a
CMDL=7c0ffee0-0000-4000-8000-00000000001b
md() { printf '{"transaction_id": "%s", "correlation_id": "%s", "timestamp": "%s", "source": "%s", "version": "1.0"}' "$TXL" "$1" "$(ts)" "$2"; }
before=$(w fast .timeouts)
bm_cli PUBLISH multiagent:command.fast "{\"id\": \"$CMDL\", \"type\": \"command\", \"metadata\": $(md "$TXL.charge" late_flow), \"payload\": {\"amount\": 10}, \"worker_type\": \"fast\", \"timeout_seconds\": 1, \"retry_policy\": null}" >/dev/null
bm_check "busmon times out the command it has no answer for" bm_wait_for 10 \
    '"$BUSMON" trace --json $TXL 2>/dev/null | jq -s -e "[.[].events[] | select(.source == \"busmon\" and .stage == \"timed_out\")] | length > 0" >/dev/null'
bm_cli PUBLISH multiagent:result.fast "{\"id\": \"7c0ffee0-0000-4000-8000-00000000001c\", \"type\": \"result\", \"metadata\": $(md "$TXL.charge" fast), \"payload\": {\"ok\": 1}, \"command_id\": \"$CMDL\", \"success\": true, \"error_message\": null, \"error_details\": null}" >/dev/null
bm_check "an answer after busmon's timeout is late" bm_wait_for 10 \
    '"$BUSMON" trace --json $TXL 2>/dev/null | jq -s -e "[.[].events[] | select(.stage == \"late\" and .step == \"charge\")] | length > 0" >/dev/null'
sleep 1 # a rollup later
J=$("$BUSMON" workers --json --window 1h)
M=$(curl -s "http://127.0.0.1:$HP/metrics")
bm_eq "first outcome wins: one more timeout for fast, no success" \
    "$((before + 1)) $(gt '$1 == "fast" && $2 == "ok"' | wc -l)" "$(w fast .timeouts) $(w fast .successes)"
bm_eq "/metrics: the late answer counted as late" "1 1" \
    "$(metric busmon_late_answers_total) $(metric 'busmon_events_total{type="result",status="late"}')"
bm_eq "the late trace stays failed (its timeout stands)" failed "$("$BUSMON" trace --json $TXL | jq -r .status)"

# a compensation someone answers after all pairs with it
TXK=7c0ffee0-0000-4000-8000-00000000002a
KID=7c0ffee0-0000-4000-8000-00000000002b
md() { printf '{"transaction_id": "%s", "correlation_id": "%s", "timestamp": "%s", "source": "%s", "version": "1.0"}' "$TXK" "$1" "$(ts)" "$2"; }
bm_cli PUBLISH multiagent:compensation.release_inventory "{\"id\": \"$KID\", \"type\": \"compensation\", \"metadata\": $(md "$TXK.comp.reserve" shop_flow), \"payload\": {\"sku\": \"a\"}, \"original_command_id\": \"7c0ffee0-0000-4000-8000-00000000002c\", \"compensation_type\": \"release_inventory\"}" >/dev/null
bm_cli PUBLISH multiagent:result.release_inventory "{\"id\": \"7c0ffee0-0000-4000-8000-00000000002d\", \"type\": \"result\", \"metadata\": $(md "$TXK.comp.reserve" release_inventory), \"payload\": {}, \"command_id\": \"$KID\", \"success\": true, \"error_message\": null, \"error_details\": null}" >/dev/null
bm_check "an answered compensation: requested, then compensated, step reserve" bm_wait_for 10 \
    '[ "$("$BUSMON" trace --json $TXK 2>/dev/null | jq -r "[.events[] | \"\(.type):\(.stage):\(.step)\"] | join(\" \")")" = "compensation:requested:reserve result:compensated:reserve" ]'
bm_check "its answer is an execution of its worker, never in flight" bm_wait_for 5 \
    '[ "$("$BUSMON" workers --json --window 1h | jq -r ".workers[] | select(.name == \"release_inventory\") | \"\(.successes) \(.in_flight)\"")" = "1 0" ]'

# one event on both inputs (same id) is kept once
EV='{"id": "dup-1", "type": "command", "metadata": {"transaction_id": "tx-both", "correlation_id": "tx-both.fetch", "timestamp": "2026-11-22T10:00:00.5", "source": "orchestrator"}, "payload": {}, "worker_type": "fast", "timeout_seconds": 30}'
bm_cli PUBLISH multiagent:command.fast "$EV" >/dev/null
bm_cli XADD busmon:events '*' json "$EV" >/dev/null
bm_check "the stream copy is read" bm_wait_for 10 \
    '[ "$(bm_cli_raw XINFO GROUPS busmon:events | grep -A1 "^entries-read$" | tail -1)" = 1 ]'
# its trace is written within traces.flush_interval (1 s) of the read
bm_check "the trace is written" bm_wait_for 5 '[ -n "$(trace tx-both | jq -r .event_count)" ]'
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
    '"$BUSMON" trace tx-both --json 2>/dev/null | jq -s -e "[.[].events[] | select(.id == \"shop-1\")] | length > 0" >/dev/null'
kill -INT "$BM_LAST_PID"; wait "$BM_LAST_PID"

# busmon's own timeouts alone (commands nobody answers) fire error_spike: an
# agent of its own in database 2, so no other agent's figures are merged in
cat >>"$BM_TMP/ps.yaml" <<'YAML'
alerts:
  interval: 300ms
  rules:
    - name: error_spike
      threshold: 3
      window: 1m
      for: 0s
  disable: [critical_cpu]
YAML
bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/ps.yaml" --block-ms 100 --consumer c3 --redis "$BM_URL/2"
bm_check "the third agent subscribes" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
for i in 1 2 3 4; do
    bm_cli PUBLISH shop:command.billing "{\"id\": \"spike-$i\", \"type\": \"command\", \"metadata\": {\"transaction_id\": \"tx-spike\", \"correlation_id\": \"tx-spike.bill$i\", \"timestamp\": \"$(date -u +%Y-%m-%dT%H:%M:%S.%6N)\", \"source\": \"shop_flow\", \"version\": \"1.0\"}, \"payload\": {}, \"worker_type\": \"billing\", \"timeout_seconds\": 1, \"retry_policy\": null}" >/dev/null
done
bm_check "error_spike fires on busmon's own timeouts (4 > 3)" bm_wait_for 15 \
    '"$BUSMON" alerts --json --redis "$BM_URL/2" | jq -e ".agent == \"c3\" and any(.firing[]; .rule == \"error_spike\" and .value == 4)" >/dev/null'
timed_out_steps() { "$BUSMON" trace --json --redis "$BM_URL/2" tx-spike 2>/dev/null | jq -r '[.events[] | select(.stage == "timed_out") | .step] | sort | join(" ")'; }
# the trace's records are written within traces.flush_interval (1 s) of the timeouts
bm_check "each timed out with its step (bill1..bill4)" bm_wait_for 5 \
    '[ "$(timed_out_steps)" = "bill1 bill2 bill3 bill4" ]'
printf 'pubsub:\n  enabled: maybe\n' >"$BM_TMP/bad.yaml"
out=$("$BM_BUILD/busmon-agent" --config "$BM_TMP/bad.yaml" --check-config 2>&1); rc=$?
bm_check "a bad pubsub.enabled is refused with its line" \
    bash -c '[ "$1" -ne 0 ] && grep -q "bad.yaml:2: .pubsub.enabled. must be true or false" <<<"$2"' _ "$rc" "$out"
bm_finish
