#!/usr/bin/env bash
# `busmon metrics NAME` against a real agent with more series than a rollup
# carries (the first 50 in key order): a name the rollup left out is not
# said to have no series, the error sends the reader to /api/metrics (which
# has it), exit 1 (not found in the rollup); a name it carries: exit 0.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --block-ms 100 --rollup-interval 1 --checkpoint-interval 1s
bm_check "HTTP up" bm_wait_for 10 "curl -sf $BASE/health"
for i in $(seq -w 0 59); do
    echo "XADD busmon:events * type metric name m$i value $i"
done | redis-cli -p "$BM_PORT" >/dev/null
export BUSMON_REDIS_URL="redis://127.0.0.1:$BM_PORT"
bm_check "a rollup of 60 series, 10 left out" bm_wait_for 15 \
    "[ \"\$('$BUSMON' metrics --json | jq '.series | length')\" = 50 ]"
bm_eq "m59 is on /api/metrics" 1 "$(curl -sf "$BASE/api/metrics?name=m59" | jq '.series | length')"
"$BUSMON" metrics m59 >/dev/null 2>"$BM_TMP/m59.err"
bm_eq "m59, left out of the rollup: exit 1" 1 "$?"
bm_check "the error says the rollup left series out ($(cat "$BM_TMP/m59.err"))" \
    grep -q "carries the first 50 series and leaves out 10: the agent's /api/metrics has them all" "$BM_TMP/m59.err"
"$BUSMON" metrics m59 --json >/dev/null 2>"$BM_TMP/m59j.err"
bm_check "--json too" grep -q "/api/metrics has them all" "$BM_TMP/m59j.err"
"$BUSMON" metrics m00 >/dev/null 2>&1
bm_eq "m00, in the rollup: exit 0" 0 "$?"
bm_finish
