#!/usr/bin/env bash
# `busmon baseline` of an agent of a consumer group other than busmon: its
# checkpoint is busmon:state:<group>:<agent> (test_cluster_group_keys.sh).
# The CLI read busmon:state:<agent>, the default group's agent of that name
# (another monitor's baselines) or nothing. It takes the group from --group,
# else the agent's variable BUSMON_GROUP / BUSMON_STREAMS_GROUP;
# --state-prefix is used as given. Its freeze and clear requests go to the
# group's control hash, busmon:baseline:ctl:<group>, which that group's agents
# read.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
bm_bg "$AGENT" --stream ev --group gb --consumer c1 --block-ms 100 --rollup-interval 1 \
    --health-interval 1 --checkpoint-interval 200ms --http "127.0.0.1:$HPORT"
bm_wait_for 10 "curl -sf $BASE/health" || { echo "the agent did not start"; exit 1; }
for i in $(seq 5); do
    printf 'XADD ev * type command tx t-%d worker wgb\nXADD ev * type result tx t-%d worker wgb duration_ms 50\n' "$i" "$i"
done | redis-cli -p "$BM_PORT" >/dev/null
bm_check "wgb has a baseline in the agent" bm_wait_for 15 \
    "curl -sf $BASE/api/baseline | jq -e '.workers[] | select(.name == \"wgb\") | .samples >= 1'"
bm_check "its checkpoint holds it" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw EXISTS busmon:state:gb:c1)\" = 1 ] && '$BUSMON' baseline --group gb --json | jq -e '.workers[] | select(.name == \"wgb\")'"
# another monitor's agent of the same name, in the default group: its key is not gb's
bm_cli SET busmon:state:c1 "the default group's" >/dev/null
out=$("$BUSMON" baseline --group gb --json 2>"$BM_TMP/err")
bm_eq "--group gb: exit 0" "0 " "$? $(cat "$BM_TMP/err")"
bm_eq "... the agent c1's baselines, wgb among them" wgb "$(jq -r '.workers[].name' <<<"$out" | grep -x wgb)"
out=$(BUSMON_GROUP=gb "$BUSMON" baseline --json 2>"$BM_TMP/err")
bm_eq "BUSMON_GROUP=gb: exit 0 (reads busmon:state:gb:c1)" "0 " "$? $(cat "$BM_TMP/err")"
out=$(BUSMON_STREAMS_GROUP=gb "$BUSMON" baseline --json 2>"$BM_TMP/err")
bm_eq "BUSMON_STREAMS_GROUP=gb: exit 0" "0 " "$? $(cat "$BM_TMP/err")"
# the default group's monitor publishes on busmon:rollups (gb's on busmon:rollups:gb)
bm_eq "no group: nothing on the default group's busmon:rollups: exit 1" 1 \
    "$("$BUSMON" baseline --json >/dev/null 2>&1; echo $?)"
bm_cli XADD busmon:rollups '*' json '{"agent":"c1"}' >/dev/null
"$BUSMON" baseline --json >/dev/null 2>"$BM_TMP/err"
bm_eq "no group: the default group's busmon:state:c1, not a checkpoint: exit 1" 1 "$?"
bm_check "... said with its key" grep -q 'the checkpoint busmon:state:c1 cannot be read' "$BM_TMP/err"
bm_cli DEL busmon:state:c1 >/dev/null
# freeze: gb's control hash, busmon:baseline:ctl:gb. The default group's agent
# (c1 of another monitor) with a worker of the same name reads busmon:baseline:ctl
# and is left alone; both read busmon:baseline:ctl before, so both froze it.
HD=$(bm_free_port)
bm_bg "$AGENT" --stream sa --consumer c1 --block-ms 100 --rollup-interval 1 \
    --health-interval 1 --checkpoint-interval 200ms --http "127.0.0.1:$HD"
for i in $(seq 5); do
    printf 'XADD sa * type command tx a-%d worker wgb\nXADD sa * type result tx a-%d worker wgb duration_ms 50\n' "$i" "$i"
done | redis-cli -p "$BM_PORT" >/dev/null
frozen() { curl -sf "http://127.0.0.1:$1/api/baseline" | jq -r '.workers[] | select(.name == "wgb") | .frozen'; }
bm_check "the default group's agent has wgb's baseline" bm_wait_for 15 "[ \"\$(frozen $HD)\" = false ]"
bm_check "busmon baseline --group gb freeze wgb" "$BUSMON" baseline --group gb freeze wgb
bm_check "gb's agent froze wgb" bm_wait_for 10 "[ \"\$(frozen $HPORT)\" = true ]"
bm_eq "... from busmon:baseline:ctl:gb" 1 "$(bm_cli_raw HEXISTS busmon:baseline:ctl:gb wgb)"
sleep 2 # two health intervals of the default group's agent
bm_eq "the default group's agent did not" false "$(frozen "$HD")"
BUSMON_GROUP=gb "$BUSMON" baseline --state-prefix 'x:' --json >/dev/null 2>"$BM_TMP/err"
bm_check "--state-prefix is used as given, whatever the group" \
    grep -q 'no checkpoint at x:c1' "$BM_TMP/err"
bm_finish
