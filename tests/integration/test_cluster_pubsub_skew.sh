#!/usr/bin/env bash
# Pub/sub while an agent whose wall clock is off joins and stops. Each
# message goes to the agent that owns its share at the message's time, and a
# joining or stopping agent names in its registry entry when its share
# changes hands. Those instants were written on the joining agent's own wall
# clock and compared with each reader's own "now", so with one host 3 s off
# the agents disagreed around the instant: 1,500 messages were counted about
# 1,800 times on its join and 1,200 on its stop (behind), 1,900 and 1,600
# (ahead). Now every agent measures its offset to Redis's clock (TIME, once
# a heartbeat) and names and compares the instants on that one clock.
#   A. q1 (clock right) alone; q2, its clock 3 s behind, joins while
#      messages flow: each counted once; then q2 stops cleanly: still once.
#   B. the same with q3, its clock 3 s ahead.
#   C. q4, as a user whose ACL lacks TIME (a line from before it): said once,
#      it still registers and hands over on its wall clock (right here).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pubsub_cluster_lib.sh"
pubsub_cluster_start

counted=0
next=1
# skewed NAME SECONDS LABEL [FLAGS...]: NAME joins with its wall clock SECONDS
# off (and FLAGS), then stops cleanly, each while 1,500 messages flow; q1
# counts the rest
skewed() {
    local name=$1 off=$2 label=$3 hp pid pub
    shift 3
    echo "$off" >"$BM_TMP/clock-$name"
    publish "$next" 1500 500 &
    pub=$!
    next=$((next + 1500))
    sleep 1
    hp=$(bm_free_port)
    BUSMON_TEST_CLOCK_FILE="$BM_TMP/clock-$name" "$AGENT" --consumer "$name" \
        --http "127.0.0.1:$hp" "${ARGS[@]}" "$@" >>"$BM_TMP/agent-$name.log" 2>&1 &
    pid=$!
    BM_PIDS+=("$pid")
    wait "$pub"
    bm_check "$label: $name joined while messages flowed" \
        [ "$(bm_metric "$hp" busmon_pubsub_messages_total)" -gt 0 ]
    bm_check "$label: $name counts its share" \
        [ "$(bm_metric "$HP1" busmon_pubsub_not_owned_total)" -gt 0 ]
    bm_check "$label: the merged count settles" bm_wait_for 10 \
        "[ \"\$(merged $HP1)\" = \"\$(merged $hp)\" ] && [ \"\$(merged $HP1)\" -ge $((counted + 1500)) ]"
    sleep 1 # one more refresh of each agent: nothing more comes
    bm_eq "$label: 1,500 published while $name joined, each counted once (q1's view)" 1500 \
        "$(($(merged "$HP1") - counted))"
    bm_eq "$label: ... and $name's view" 1500 "$(($(merged "$hp") - counted))"
    counted=$(merged "$HP1")

    publish "$next" 1500 500 &
    pub=$!
    next=$((next + 1500))
    sleep 1
    kill -INT "$pid"
    wait "$pub"
    bm_check "$label: $name stopped" bm_wait_for 15 "! kill -0 $pid 2>/dev/null"
    bm_check "$label: $name stopped cleanly (exit 0)" wait "$pid"
    bm_check "$label: the merged count settles" bm_wait_for 10 \
        "[ \"\$(merged $HP1)\" -ge $((counted + 1500)) ]"
    sleep 1
    bm_eq "$label: 1,500 published while $name stopped, each counted once (q1's view)" 1500 \
        "$(($(merged "$HP1") - counted))"
    counted=$(merged "$HP1")
}

skewed q2 -3 "A (3 s behind)"
skewed q3 3 "B (3 s ahead)"

line=$("$AGENT" --print-acl "${ARGS[@]}" | sed -n 2p)
bm_check "C: the agent's ACL line allows TIME" grep -qF ' +time ' <<<"$line"
line=${line/ +time / }
bm_cli_raw ${line/>PASSWORD/>old-pw} >/dev/null
echo old-pw >"$BM_TMP/old.pw"
skewed q4 0 "C (TIME denied)" --redis-username busmon --redis-password-file "$BM_TMP/old.pw"
bm_eq "C: said once that the hosts' clocks must agree" 1 \
    "$(grep -c "Redis's clock could not be read (TIME: NOPERM" "$BM_TMP/agent-q4.log")"
bm_finish
