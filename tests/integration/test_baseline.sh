#!/usr/bin/env bash
# Learned baselines end to end, with the agent's clock moved by the test
# (BUSMON_TEST_CLOCK_FILE, agent/core/clock.c): a worker steady at 50 ms
# learns its baseline (5 samples, and an hour, the hour being a jump of the
# clock); a young worker whose baseline is not ready goes to 400 ms and no
# anomaly alert comes; the steady one goes to 400 ms and latency_anomaly is
# pending, then firing within `for` + an evaluation interval, its health
# issue naming the deviation; back at 50 ms (the clock moved past the
# minute of 400s) the alert resolves. `busmon baseline --json` shows the
# figures; `busmon baseline freeze` pins one, `busmon baseline clear`
# forgets one, both through the control hash.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
CLOCK=$BM_TMP/clock
echo 0 >"$CLOCK"

cat >"$BM_TMP/busmon.yaml" <<EOF
baselines:
  min_samples: 5
  min_learning: 1h
alerts:
  rules:
    - name: latency_anomaly
      for: 3s
  disable: [critical_cpu, high_latency, worker_degraded]
EOF
HP=$(bm_free_port)
BUSMON_TEST_CLOCK_FILE=$CLOCK bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --block-ms 100 \
    --rollup-interval 1 --health-interval 1 --alert-interval 500ms --http "127.0.0.1:$HP"
bm_check "the agent is up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/health"
bm_check "its start line gives durations as written (1h, not 3.6e+03 s)" \
    grep -q 'baselines: learning every 1s, hour_of_week slots, ready after 5 sample(s) and 1h;' \
    "$BM_TMP/busmon-agent.log"

# the producer: a command and its result per worker switched on, every ~50 ms,
# at the latency in lat_<worker>
for w in steady young; do echo 50 >"$BM_TMP/lat_$w"; touch "$BM_TMP/on_$w"; done
produce() {
    local i=0 w lat
    while :; do
        for w in steady young; do
            [ -f "$BM_TMP/on_$w" ] || continue
            lat=$(cat "$BM_TMP/lat_$w")
            i=$((i + 1))
            printf 'XADD busmon:events * type command tx %s-%d worker %s\nXADD busmon:events * type result tx %s-%d worker %s duration_ms %s\n' \
                "$w" "$i" "$w" "$w" "$i" "$w" "$lat" | redis-cli -p "$BM_PORT" >/dev/null
        done
        # a business metric beside them: its baseline is "metric:order_value"
        redis-cli -p "$BM_PORT" XADD busmon:events '*' type metric name order_value value 42 >/dev/null
        sleep 0.05
    done
}
produce 2>/dev/null &
BM_PIDS+=($!)

bl() { "$BUSMON" baseline --json 2>/dev/null; }
jqe() { jq -e "$@" >/dev/null; }
blw() { bl | jq -r --arg w "$1" ".workers[] | select(.name == \$w) | $2"; }
pending() { curl -sf "http://127.0.0.1:$HP/metrics" | awk '/^busmon_alerts_pending /{print $2}'; }
firing() { "$BUSMON" alerts --json 2>/dev/null | jq -r --arg r "$1" '[.firing[] | select(.rule == $r)] | length'; }

# --- learning: 5 samples, not an hour yet -------------------------------------------
bm_check "both workers have 5 samples" bm_wait_for 20 \
    '[ "$(blw steady .samples)" -ge 5 ] && [ "$(blw young .samples)" -ge 5 ]'
bm_check "a business metric has its baseline too (metric:order_value, p95 42 in its own unit)" \
    bm_wait_for 10 "\"$BUSMON\" baseline --json | jq -e '.workers[] | select(.name == \"metric:order_value\") | .samples >= 3 and .p95.baseline > 41.5 and .p95.baseline < 42.5' >/dev/null"
J=$(bl)
echo "$J" >"$BM_TMP/learning.json"
bm_eq "... not ready: the hour has not passed" "false" "$(jq -r '.workers[] | select(.name == "steady") | .ready' <<<"$J")"
base=$(jq -r '.workers[] | select(.name == "steady") | .p95_ms.baseline' <<<"$J")
bm_check "... steady's p95 baseline is about 50 ms ($base)" \
    awk -v b="$base" 'BEGIN { exit !(b > 40 && b < 60) }'

# --- no alert before the baseline is ready ------------------------------------------
echo 400 >"$BM_TMP/lat_young"
sleep 5
bm_eq "young at 400 ms, baseline not ready: nothing pending" "0" "$(pending)"
bm_eq "... nothing firing" "0" "$(firing latency_anomaly)"
young_issue=$("$BUSMON" worker young --json 2>/dev/null | jq -r '[.issues[]? | select(test("baseline"))] | length')
bm_eq "... and no baseline issue in its health" "0" "$young_issue"

# --- clear through the CLI ----------------------------------------------------------
rm -f "$BM_TMP/on_young"
n_young=$(blw young .samples)
bm_check "busmon baseline clear young" "$BUSMON" baseline clear young
bm_check "... the agent forgot it (what its last minute still holds is learned anew)" \
    bm_wait_for 10 '[ "$(blw young ".samples // 0")" -lt "$n_young" ]'
bm_eq "busmon baseline nosuch: no baseline, exit 1" 1 "$("$BUSMON" baseline nosuch >/dev/null 2>&1; echo $?)"

# --- an hour later: ready ------------------------------------------------------------
echo 3600 >"$CLOCK"
bm_check "steady's baseline is ready an hour later" bm_wait_for 10 '[ "$(blw steady .ready)" = true ]'
bm_check "... and at 50 ms it is about 1 x its baseline" bm_wait_for 10 \
    "blw steady .p95_ms.ratio | awk '{ exit !(\$1 > 0.5 && \$1 < 2) }'"

# --- 400 ms: pending, then firing within for (3 s) + an evaluation ------------------
echo 400 >"$BM_TMP/lat_steady"
t0=$(date +%s.%N)
bm_check "latency_anomaly goes pending" bm_wait_for 15 '[ "$(pending)" -ge 1 ]'
tp=$(date +%s.%N)
bm_check "... then firing" bm_wait_for 10 '[ "$(firing latency_anomaly)" = 1 ]'
t1=$(date +%s.%N)
bm_check "... within for (3 s) + an evaluation (0.5 s) of going pending ($(awk -v a="$tp" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, polling included)" \
    awk -v a="$tp" -v b="$t1" 'BEGIN { exit !(b - a <= 3.5 + 1.5) }'
A=$("$BUSMON" alerts --json)
echo "$A" >"$BM_TMP/alerts.json"
desc=$(jq -r '.firing[] | select(.rule == "latency_anomaly") | .description' <<<"$A")
bm_check "... for steady, naming the deviation: $desc" \
    grep -Eq '^Worker steady: p95 [0-9.]+ ms is [0-9.]+ × its baseline (4[0-9]|5[0-9]) ms over 1m' <<<"$desc"
bm_check "... fired $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s after the switch (the minute's p95 moves first)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 20) }'
issue=$("$BUSMON" worker steady --json | jq -r '.issues[]? | select(test("baseline"))')
bm_check "steady's health names it: $issue" grep -Eq '^p95 [0-9.]+ ms is [0-9.]+ × its baseline' <<<"$issue"
bm_eq "... steady is degraded" degraded "$("$BUSMON" worker steady --json | jq -r .health)"
J=$(bl)
echo "$J" >"$BM_TMP/anomaly.json"
bm_check "busmon baseline --json: p95 now ~400 ms, ratio > 5" \
    jqe '.workers[] | select(.name == "steady") | .p95_ms.now > 300 and .p95_ms.ratio > 5 and (.deviations | length) > 0' <<<"$J"
bm_check "... the 400 ms samples are outliers, not learned" \
    jqe '.workers[] | select(.name == "steady") | .outliers > 0 and .p95_ms.baseline < 60' <<<"$J"
bm_check "/api/baseline shows the same deviation" \
    bash -c "curl -sf http://127.0.0.1:$HP/api/baseline | jq -e '.workers[] | select(.name == \"steady\") | .p95_ms.ratio > 5 and .ready' >/dev/null"
out=$("$BUSMON" baseline steady)
bm_check "busmon baseline steady (text) says it" grep -q "× its baseline" <<<"$out"

# --- back to 50 ms: resolved once the minute of 400s is behind --------------------------
echo 50 >"$BM_TMP/lat_steady"
echo 3720 >"$CLOCK"
bm_check "latency_anomaly resolves" bm_wait_for 15 '[ "$(firing latency_anomaly)" = 0 ]'
bm_check "... a resolved notification is in the history" bm_wait_for 5 \
    "\"$BUSMON\" alerts --json | jq -e '[.history[] | select(.rule == \"latency_anomaly\" and .state == \"resolved\")] | length > 0'"

# --- the baselines survive a restart (they are in the checkpoint) ----------------------
n0=$(blw steady .samples)
kill "$BM_LAST_PID"
bm_check "the agent stopped" bm_wait_for 15 "! kill -0 $BM_LAST_PID 2>/dev/null"
BUSMON_TEST_CLOCK_FILE=$CLOCK bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --block-ms 100 \
    --rollup-interval 1 --health-interval 1 --alert-interval 500ms --http "127.0.0.1:$HP"
bm_check "restarted" bm_wait_for 10 "curl -sf http://127.0.0.1:$HP/health"
bm_check "... steady's baseline came back from the checkpoint, still ready" bm_wait_for 10 \
    '[ "$(blw steady .ready)" = true ] && [ "$(blw steady .samples)" -ge "$n0" ]'

# --- freeze through the CLI -----------------------------------------------------------
bm_check "busmon baseline freeze steady" "$BUSMON" baseline freeze steady
bm_check "... the agent froze it" bm_wait_for 10 '[ "$(blw steady .frozen)" = true ]'
frozen=$(blw steady .p95_ms.baseline)
n1=$(blw steady .samples)
echo 70 >"$BM_TMP/lat_steady"
sleep 3
bm_eq "... frozen: no more samples learned" "$n1" "$(blw steady .samples)"
bm_eq "... and the same baseline" "$frozen" "$(blw steady .p95_ms.baseline)"
bm_eq "freeze without a worker: usage, exit 2" 2 "$("$BUSMON" baseline freeze >/dev/null 2>&1; echo $?)"
bm_check "clear undoes the freeze" "$BUSMON" baseline clear steady
bm_check "... learning again from nothing" bm_wait_for 10 \
    '[ "$(blw steady .frozen)" = false ] && [ "$(blw steady .samples)" -lt "$n1" ]'

bm_check "the agent logged the requests it applied" grep -q 'baselines: froze steady' "$BM_TMP/busmon-agent.log"

# a checkpoint whose 5 bytes announce a map of 2^32 - 1 pairs (~100 GB
# unpacked): checked as the agent checks it before msgpack-c allocates
bm_cli XADD evil:rollups '*' json '{"ts":"2026-01-15T10:30:00Z","agent":"evil","workers":[]}' >/dev/null
printf '\xdf\xff\xff\xff\xff' | bm_cli -x SET busmon:state:evil >/dev/null
"$BUSMON" baseline --rollups evil:rollups >/dev/null 2>"$BM_TMP/evil.err"; rc=$?
bm_eq "a hostile checkpoint: exit 1, said" "1 busmon: the checkpoint busmon:state:evil cannot be read: truncated: 5 bytes end inside a value" \
    "$rc $(cat "$BM_TMP/evil.err")"
bm_finish
