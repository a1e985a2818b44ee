#!/usr/bin/env bash
# `busmon stats` lists the agents a rollup names; a rollup cut to
# outputs.rollup_max_bytes names only some (omitted.agents counts the rest):
# the line says how many more there are, never a short list as the whole.
source "$(dirname "$0")/lib.sh"
bm_agent_http
bm_start_redis
bm_bg "$AGENT" --consumer sa --rollup-interval 1 --no-http
bm_cli XADD busmon:events '*' type command tx t1 id c1 worker w step s >/dev/null
bm_check "the agent publishes a rollup" bm_wait_for 15 '[ "$(bm_cli_raw XLEN busmon:rollups)" -ge 1 ]'
latest_json() { bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | awk 'p { print; exit } $0 == "json" { p = 1 }'; }
bm_check "the rollup names the agent" bash -c "'$BUSMON' stats | grep -q '^  agents: sa'"
kill "$BM_LAST_PID"
wait "$BM_LAST_PID" 2>/dev/null
roll=$(latest_json)
bm_check "a whole list says no more" bash -c "! '$BUSMON' stats | grep -q 'more (not in this rollup'"
bm_cli XADD busmon:rollups '*' json "$(jq -c '.omitted.agents = 3' <<<"$roll")" >/dev/null
bm_check "a cut list says how many more" \
    bash -c "'$BUSMON' stats | grep -q '^  agents: sa.* \.\.\. and 3 more (not in this rollup: outputs.rollup_max_bytes)$'"
bm_finish
