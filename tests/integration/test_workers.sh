#!/usr/bin/env bash
# Worker performance and health end to end: the demo producer's workers run
# through a real Redis and busmon-agent. `busmon workers --json` must report
# the flaky worker's error rate within 5 points of the rate the producer
# used, and the slow worker's p95 within 2 % of the exact p95 of the
# durations it sent (the producer writes its ground truth to a file). Then
# health, the busmon:workers hash, errors, stats and the plain-text tables.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
GT=$BM_TMP/truth.tsv

bm_eq "busmon workers before any rollup: exit 1" 1 "$("$BUSMON" workers >/dev/null 2>&1; echo $?)"
bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 1 --health-interval 1
A=$BM_LAST_PID
"$BM_BUILD/busmon-demo-producer" --count 500 --rate 3000 --seed 7 --ground-truth "$GT" >/dev/null ||
    echo "FAIL - the producer failed"
answers=$(wc -l <"$GT")
bm_check "the producer answered commands" [ "$answers" -gt 300 ]

# wait for a rollup that has seen every answer
executions() { "$BUSMON" workers --json --window 1h 2>/dev/null | jq '[.workers[].executions] | add // 0'; }
bm_check "a rollup counts all $answers answers" bm_wait_for 20 '[ "$(executions)" = "$answers" ]'
J=$("$BUSMON" workers --json --window 1h)
echo "$J" >"$BM_TMP/workers.json"
w() { jq -r --arg n "$1" ".workers[] | select(.name == \$n) | $2" <<<"$J"; }

# flaky: error rate against the producer's
truth_err=$(awk -F'\t' '$1 == "flaky" { n++; if ($2 == "fail") f++ } END { printf "%.4f", f / n }' "$GT")
seen_err=$(w flaky .error_rate)
echo "flaky error rate: producer $truth_err, busmon $seen_err"
bm_check "flaky error rate within 5 points of the producer's ($truth_err)" \
    awk -v a="$truth_err" -v b="$seen_err" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05 && a > 0.15) }'

# slow: p95 against the exact p95 of the durations sent (rank ceil(0.95 n))
truth_p95=$(awk -F'\t' '$1 == "slow" { print $3 }' "$GT" | sort -n |
    awk '{ v[NR] = $1 } END { r = int(0.95 * NR); if (r < 0.95 * NR) r++; print v[r] }')
seen_p95=$(w slow .p95_ms)
echo "slow p95: exact $truth_p95 ms, busmon $seen_p95 ms"
bm_check "slow p95 within 2 % of the exact $truth_p95 ms" \
    awk -v a="$truth_p95" -v b="$seen_p95" 'BEGIN { d = (a - b) / a; if (d < 0) d = -d; exit !(d <= 0.02) }'
for n in fast slow flaky cpu_heavy; do
    truth_n=$(awk -F'\t' -v n=$n '$1 == n' "$GT" | wc -l)
    bm_eq "$n: executions match the producer's answers" "$truth_n" "$(w $n .executions)"
done
bm_eq "nothing left in flight" 0 "$(jq '[.workers[].in_flight] | add' <<<"$J")"

# health: the flaky worker (~30 % errors) is degraded for its error rate, fast is healthy
bm_check "flaky is degraded" bm_wait_for 10 \
    '[ "$("$BUSMON" workers --json | jq -r ".workers[] | select(.name == \"flaky\") | .health")" = degraded ]'
W=$("$BUSMON" worker flaky --json)
bm_check "flaky's issue names its error rate" grep -q 'error rate [0-9]* % over 5m > 10 %' <<<"$(jq -r '.issues[]' <<<"$W")"
# fast's verdict from its transitions: with a 1 s health interval it turns
# inactive 3 s after the load ends, which a loaded machine can pass before here
fast_to() { bm_cli_raw XRANGE busmon:health - + | grep -a '^{' | jq -r 'select(.worker == "fast") | .to'; }
bm_check "fast was judged healthy (busmon:health)" grep -qx healthy <<<"$(fast_to)"
bm_check "fast was never degraded or failed" bash -c '! grep -qxE "degraded|failed" <<<"$1"' _ "$(fast_to)"
bm_eq "busmon:workers holds flaky's health" degraded "$(bm_cli_raw HGET busmon:workers flaky | jq -r .health)"
bm_check "health transitions are published on busmon:health" [ "$(bm_cli_raw XLEN busmon:health)" -ge 4 ]
bm_check "busmon worker flaky (text) lists the issue" grep -q 'issue: *error rate' <<<"$("$BUSMON" worker flaky)"
bm_eq "busmon worker NOPE: exit 1" 1 "$("$BUSMON" worker nope >/dev/null 2>&1; echo $?)"

# errors: grouped by type, flaky's three error types, each hitting flaky only
E=$("$BUSMON" errors --json --window 1h)
bm_eq "error patterns by type" "NetworkError TimeoutError ValidationError" \
    "$(jq -r '[.errors[].type] | sort | join(" ")' <<<"$E")"
bm_eq "error counts add up to flaky's failures" "$(w flaky .failures)" "$(jq '[.errors[].count] | add' <<<"$E")"
bm_eq "every pattern hit flaky only" flaky "$(jq -r '[.errors[].workers[]] | unique | join(",")' <<<"$E")"

# stats: every command and every answer
S=$("$BUSMON" stats --json --window 1h)
bm_eq "stats: total events = commands + answers" $((2 * answers)) "$(jq .total_events <<<"$S")"
bm_eq "stats: commands" "$answers" "$(jq .by_type.command.count <<<"$S")"

# plain text when piped: a table, no colour codes
T=$("$BUSMON" workers)
bm_check "workers table has a header and every worker" \
    bash -c 'grep -q "^WORKER" <<<"$1" && grep -q "^flaky" <<<"$1" && grep -q "^cpu_heavy" <<<"$1"' _ "$T"
bm_check "no colour codes when piped" bash -c '! grep -q $'"'"'\033'"'"' <<<"$1"' _ "$T"
bm_eq "--window 2h is a usage error" 2 "$("$BUSMON" workers --window 2h >/dev/null 2>&1; echo $?)"

kill -INT "$A"; wait "$A"; rc=$?
bm_eq "agent exits 0 on SIGINT" 0 "$rc"
bm_finish
