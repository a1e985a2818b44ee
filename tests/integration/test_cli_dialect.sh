#!/usr/bin/env bash
# One CLI dialect (issue 18), every rule with an assertion, against a real
# Redis, busmon-agent and the demo producer:
#   1. --opt=value everywhere (--redis=URL, --window=1m); exit codes: a bad
#      URL scheme is 2 (usage), an unreachable Redis 3;
#   2. every time a person reads is UTC, ISO-8601, with milliseconds and a Z
#      (trace, workers, worker, errors, stats, top, system, alerts);
#   3. every view shows the same window by default (5m), and BUSMON_WINDOW
#      changes them all; a bad one is a usage error;
#   4. in the first minute, rates are over the time the window covers, not
#      its length (top's events/s = events / covered_s);
#   5. a worker's issue says the error rate its 5m table shows;
#   6. last_error says the type once;
#   7. the demo prints no command that dumps msgpack.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
URL="redis://127.0.0.1:$BM_PORT"
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
# no_bare_times FILE: every hh:mm:ss in FILE is part of an ISO-8601 time with ms and Z
no_bare_times() {
    ! sed -E "s/$iso//g" "$1" | grep -Eq '[0-9]{2}:[0-9]{2}:[0-9]{2}'
}

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 1 --health-interval 1
"$BM_BUILD/busmon-demo-producer" --count 400 --rate 800 --seed 11 >/dev/null 2>&1 ||
    echo "FAIL - the producer failed"
# a framework-style failure whose message repeats its type
printf 'XADD busmon:events * type command tx rl-1 worker limited step call\nXADD busmon:events * type error tx rl-1 worker limited error "RateLimitError: RateLimitError: simulated failure"\n' |
    redis-cli -p "$BM_PORT" >/dev/null
bm_check "a rollup has every worker" bm_wait_for 20 \
    "'$BUSMON' workers --json 2>/dev/null | jq -e '[.workers[].name] | index(\"limited\") and index(\"flaky\")' >/dev/null"

# --- 1. --opt=value, exit codes ------------------------------------------------------
unset BUSMON_REDIS_URL
bm_eq "--redis=URL before the command" 0 "$("$BUSMON" --redis="$URL" workers >/dev/null 2>&1; echo $?)"
bm_eq "--redis=URL after the command" 0 "$("$BUSMON" workers --redis="$URL" >/dev/null 2>&1; echo $?)"
bm_eq "--window=1m" "1m" "$("$BUSMON" --redis="$URL" workers --json --window=1m | jq -r .window)"
bm_eq "a bad URL scheme: exit 2 (usage)" 2 "$("$BUSMON" --redis=http://127.0.0.1:1 workers >/dev/null 2>&1; echo $?)"
bm_eq "an unreachable Redis: exit 3" 3 "$("$BUSMON" --redis=redis://127.0.0.1:1 workers >/dev/null 2>&1; echo $?)"
export BUSMON_REDIS_URL=$URL

# --- 2. times ------------------------------------------------------------------------
TX=$(redis-cli -p "$BM_PORT" --scan --pattern 'busmon:trace:tx-*' | head -1 | sed 's/^busmon:trace://')
"$BUSMON" trace "$TX" >"$BM_TMP/trace.txt"
"$BUSMON" workers >"$BM_TMP/workers.txt"
"$BUSMON" worker flaky >"$BM_TMP/worker.txt"
"$BUSMON" errors >"$BM_TMP/errors.txt"
"$BUSMON" stats >"$BM_TMP/stats.txt"
"$BUSMON" top --once >"$BM_TMP/top.txt"
"$BUSMON" alerts >"$BM_TMP/alerts.txt"
bm_wait_for 15 "'$BUSMON' system >'$BM_TMP/system.txt' 2>/dev/null"
for v in trace workers worker errors stats top alerts system; do
    bm_check "busmon $v: every time is ISO-8601 UTC with ms and Z" no_bare_times "$BM_TMP/$v.txt"
done
bm_check "trace: started at an ISO time" grep -Eq "^  started:  $iso\$" "$BM_TMP/trace.txt"
bm_check "trace: each event at an ISO time" grep -Eq "^$iso +\+[0-9.]+s" "$BM_TMP/trace.txt"
bm_check "errors: LAST SEEN with ms" grep -Eq "^[A-Za-z]+Error +[0-9]+ +[0-9]+ +[a-z]+ +$iso " "$BM_TMP/errors.txt"
bm_check "system: latest at an ISO time" grep -Eq "latest $iso from" "$BM_TMP/system.txt"

# --- 3. one default window ------------------------------------------------------------
for v in workers errors stats; do
    bm_eq "busmon $v --json: default window 5m" 5m "$("$BUSMON" "$v" --json | jq -r .window)"
done
bm_check "busmon top: default window 5m" grep -q 'window 5m$' "$BM_TMP/top.txt"
bm_check "busmon system: default window 5m" grep -q '^system metrics, last 5m:' "$BM_TMP/system.txt"
for v in workers errors stats; do
    bm_eq "BUSMON_WINDOW=1m: busmon $v" 1m "$(BUSMON_WINDOW=1m "$BUSMON" "$v" --json | jq -r .window)"
done
bm_check "BUSMON_WINDOW=1m: busmon top" bash -c "BUSMON_WINDOW=1m '$BUSMON' top --once | grep -q 'window 1m\$'"
bm_check "BUSMON_WINDOW=1m: busmon system" bash -c "BUSMON_WINDOW=1m '$BUSMON' system | grep -q '^system metrics, last 1m:'"
bm_eq "--window overrides BUSMON_WINDOW" 1h "$(BUSMON_WINDOW=1m "$BUSMON" workers --json --window 1h | jq -r .window)"
bm_eq "a bad BUSMON_WINDOW: exit 2" 2 "$(BUSMON_WINDOW=7m "$BUSMON" workers >/dev/null 2>&1; echo $?)"

# --- 4. rates over the time covered ---------------------------------------------------
R=$(redis-cli -p "$BM_PORT" --raw XREVRANGE busmon:rollups + - COUNT 1 | grep -a '^{' | head -1)
bm_check "in the first minute the 1m window covers less than 60 s" \
    jq -e '.events["1m"].covered_s < 60 and .events["1m"].covered_s > 0 and .events["1m"].window_s == 60' <<<"$R"
bm_check "throughput is over the covered time" \
    jq -e '.events["1m"] | (.throughput_per_min - .total_events * 60 / .covered_s) | fabs < 0.01' <<<"$R"
bm_check "a worker's throughput too" \
    jq -e '[.workers[] | .windows["1m"] | select(.executions > 0) | (.throughput_per_min - .executions * 60 / .covered_s) | fabs < 0.01] | all' <<<"$R"
TOP=$(BUSMON_WINDOW=1m "$BUSMON" top --once)
TS=$(sed -nE 's/.*rollup ([^ ]+) by .*/\1/p' <<<"$TOP")
EVS=$(sed -nE 's/^events\/s ([0-9.]+) .*/\1/p' <<<"$TOP")
RT=$(redis-cli -p "$BM_PORT" --raw XREVRANGE busmon:rollups + - COUNT 20 | grep -a '^{' |
    jq -c --arg ts "$TS" 'select(.ts == $ts)' | head -1)
echo "top: $EVS events/s from the rollup of $TS"
bm_check "top's events/s is the events over the covered time of its rollup" \
    jq -e --argjson s "${EVS:-0}" '.events["1m"] | (($s - .throughput_per_min / 60) | fabs) < 0.006' <<<"$RT"
bm_check "... not over 60 s (in the first minute)" \
    jq -e --argjson s "${EVS:-0}" '.events["1m"] | .covered_s < 57 and $s > .total_events / 60 * 1.05' <<<"$RT"

# --- 5. a worker's issue and its table agree ------------------------------------------
bm_check "flaky is degraded or failed" bm_wait_for 20 \
    "'$BUSMON' worker flaky --json | jq -e '.issues | length > 0' >/dev/null"
W=$("$BUSMON" worker flaky --json)
issue_rate=$(jq -r '.issues[0]' <<<"$W" | sed -nE 's/^error rate ([0-9.]+) % over 5m.*/\1/p')
table_rate=$(jq -r '.windows["5m"].error_rate * 100' <<<"$W")
echo "flaky: issue says $issue_rate %, the 5m window $table_rate %"
bm_check "the issue's error rate is the 5m window's (to its rounding)" \
    awk -v a="$issue_rate" -v b="$table_rate" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 1) }'

# --- 6. last_error says the type once ---------------------------------------------------
bm_eq "last_error: the type once" "RateLimitError: simulated failure" \
    "$("$BUSMON" worker limited --json | jq -r .last_error)"
bm_check "busmon worker: the type once" grep -q '^  last error:     RateLimitError: simulated failure at ' \
    <("$BUSMON" worker limited)

# --- 7. the demo prints readable commands -------------------------------------------------
DEMO="$(dirname "$0")/../../deploy/demo.sh"
bm_check "the demo prints no XRANGE of the msgpack event stream" bash -c "! grep -q 'XRANGE \\\$STREAM' '$DEMO'"
bm_check "the demo's XRANGEs keep the json field only" bash -c \
    "grep 'redis-cli .*XRANGE\\|redis-cli .*XREVRANGE' '$DEMO' | grep -v -- '--raw .*| grep -a' | wc -l | grep -qx 0"
bm_finish
