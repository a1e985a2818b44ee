#!/usr/bin/env bash
# A worker's rates are over the time the agent watched, not over its own
# seconds: a worker that answers once after two quiet hours reads about 1
# execution a minute over 1m (busmon worker --json), not 6 or 60.
#   one answer; the agent's clock moved 2 h ahead (BUSMON_TEST_CLOCK_FILE);
#   the old answer leaves the 1m window; one more answer: 1m has 1
#   execution, covered_s near 60, throughput_per_min near 1.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
CLI="$BM_BUILD/busmon"
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }
command -v jq >/dev/null || { echo "jq is needed"; exit 77; }
echo 0 >"$BM_TMP/clock"
BUSMON_TEST_CLOCK_FILE="$BM_TMP/clock" "$AGENT" --consumer c1 --block-ms 100 \
    --rollup-interval 1s --health-interval 1s >"$BM_TMP/agent.log" 2>&1 &
BM_PIDS+=($!)
answered() { # WORKER: a command and its result, 5 ms
    local tx="tx-$1-$RANDOM$RANDOM"
    bm_cli XADD busmon:events '*' type command tx "$tx" id "c-$tx" worker "$1" >/dev/null
    bm_cli XADD busmon:events '*' type result tx "$tx" worker "$1" ok true duration_ms 5 \
        command_id "c-$tx" >/dev/null
}
last_minute() { "$CLI" worker a --json --window 1m 2>/dev/null | jq -c '.stats'; }
answered a
bm_check "the first answer is in the 1m window" bm_wait_for 15 \
    "[ \"\$(last_minute | jq .executions)\" = 1 ]"
echo 7200 >"$BM_TMP/clock" # two quiet hours
bm_check "two hours on, the 1m window is empty" bm_wait_for 15 \
    "[ \"\$(last_minute | jq .executions)\" = 0 ]"
answered a
bm_check "one answer after the quiet hours is in the 1m window" bm_wait_for 15 \
    "[ \"\$(last_minute | jq .executions)\" = 1 ]"
S=$(last_minute)
echo "1m: $S"
holds() { jq -e "$1" <<<"$S" >/dev/null; }
bm_check "1m covers the minute the agent watched (>= 50 s)" \
    holds '.covered_s >= 50 and .covered_s <= 60'
bm_check "1m throughput is about 1 a minute, not a burst" \
    holds '.throughput_per_min >= 1 and .throughput_per_min <= 1.25'
bm_check "throughput is executions over covered_s" \
    holds '(.throughput_per_min - .executions * 60 / .covered_s) | fabs < 0.01'
bm_finish
