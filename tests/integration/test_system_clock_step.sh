#!/usr/bin/env bash
# /api/system's window when the wall clock steps back (NTP, date -s; here
# BUSMON_TEST_CLOCK_FILE, which moves only the wall clock): the samples taken
# before the step are stamped later than those after it. A window is the
# samples stamped inside it, oldest first; it used to take every sample
# pushed after the first one in the window, so a one-minute window after a
# step of an hour held the samples stamped an hour ahead, and its series went
# back in time (the dashboard draws a chart from its first point's time to
# its last's: nothing).
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
CLOCK=$BM_TMP/clock
echo 0 >"$CLOCK"

BUSMON_TEST_CLOCK_FILE=$CLOCK BUSMON_LIMITS_MAX_CLOCK_SKEW=0 \
    bm_bg "$AGENT" --redis "$BM_URL" --stream sys-step --group g --consumer c1 --block-ms 100 \
    --system-interval 1 --http "127.0.0.1:$HPORT"
samples() { curl -s "$BASE/api/system?window=$1" | jq -r '.samples // 0'; }
bm_wait_for 15 "[ \$(samples 1m) -ge 3 ]" || { echo "no system samples"; cat "$BM_TMP"/*.log; exit 1; }

echo -3600 >"$CLOCK"
# two samples stamped after the step
after_step() {
    curl -s "$BASE/api/system?window=2h" |
        jq -e --argjson now $(($(date +%s) - 3600)) '[.series[].t | select(. <= $now + 1)] | length >= 2'
}
bm_wait_for 20 after_step
curl -s "$BASE/api/system?window=1m" >"$BM_TMP/after.json"
NOW=$(($(date +%s) - 3600))
echo "# after the step: $(jq -c '[.samples, .from, .to]' "$BM_TMP/after.json"), clock $NOW"
bm_check "a 1-minute window after the step holds samples stamped within it (none an hour ahead)" \
    jq -e --argjson now "$NOW" '.samples >= 1 and (.series | all(.t >= $now - 62 and .t <= $now + 1))
        and .to <= $now + 1' "$BM_TMP/after.json"
bm_check "its series is in time order" \
    jq -e '[.series[].t] as $t | $t == ($t | sort)' "$BM_TMP/after.json"
bm_check "agent still alive" kill -0 "$BM_LAST_PID"
bm_finish
