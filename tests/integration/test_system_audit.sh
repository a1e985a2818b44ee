#!/usr/bin/env bash
# System metrics (agent/jobs/sysmon.c) when the wall clock steps (NTP, a
# resumed VM; here BUSMON_TEST_CLOCK_FILE, which moves only the wall clock):
# events_per_sec and agent_cpu_percent are rates over the interval between two
# samples, which a step must not stretch (a jump of an hour made the sample
# across it read events_per_sec / 3600) nor reverse (unknown).
source "$(dirname "$0")/lib.sh"
bm_start_redis
CLOCK=$BM_TMP/clock
echo 0 >"$CLOCK"
S=sys-audit

BUSMON_TEST_CLOCK_FILE=$CLOCK BUSMON_LIMITS_MAX_CLOCK_SKEW=0 \
    bm_bg "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$S" --group g --consumer c1 \
    --block-ms 100 --system-interval 1
bm_wait_for 10 "[ \$(bm_cli_raw XLEN busmon:system:g) -ge 1 ]" || { echo "no system sample"; cat "$BM_TMP"/*.log; exit 1; }

# a steady ~300 entries a second (fewer on a slow machine) for 6 s; the wall clock jumps 1 h ahead at 3 s
produce() {
    for round in $(seq 60); do
        for i in $(seq 30); do echo "XADD $S * type status tx t$round-$i status running"; done |
            redis-cli -p "$BM_PORT" >/dev/null
        sleep 0.1
    done
}
produce &
PRODUCER=$!
BM_PIDS+=($PRODUCER)
JUMP_FROM=$(date +%s%N)
bm_wait_for 5 "[ \$(date +%s%N) -gt $((JUMP_FROM + 3000000000)) ]"
echo 3600 >"$CLOCK"
JUMPED=$(($(date +%s) + 3600))
wait "$PRODUCER"

# samples: "t events_per_sec", in order
samples() {
    redis-cli --raw -p "$BM_PORT" XRANGE busmon:system:g - + | grep -a '^{"t"' |
        jq -r '"\(.t | floor) \(.events_per_sec)"'
}
bm_check "samples after the jump" bm_wait_for 10 "[ \$(samples | awk -v j=$JUMPED '\$1 >= j' | wc -l) -ge 2 ]"
# the first sample stamped after the jump covers the interval the jump fell in
ACROSS=$(samples | awk -v j=$((JUMPED - 5)) '$1 >= j { print $2; exit }')
BEFORE=$(samples | awk -v j=$((JUMPED - 3600)) '$1 < j && $2 != "null" { v = $2 } END { print v }')
echo "# events_per_sec: before the jump $BEFORE, across it $ACROSS"
bm_check "the sample across the jump reads the entries read over its interval (more than 30/s, as before it), not a 3600th" \
    awk -v v="$ACROSS" 'BEGIN { exit !(v != "null" && v + 0 > 30) }'

bm_finish
