#!/usr/bin/env bash
# Every `busmon` command reads the keys the agent of its group writes, for
# the default group and for --group g2: the CLI takes each default key from
# the agent's table (agent/core/group_keys.c, as config.c does), so a key
# spelled by hand in one command would drift from the agent's. Two agents
# (groups busmon and g2, one stream each) run on the demo producer's events,
# a metric, a worker of each group's own and a dead letter, then stop; every command then finds that
# group's data, and Redis's MONITOR shows that each key it read is one the
# agent of that group names (`busmon-agent --print-config`) and wrote.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:   # one rule: a worker whose answers often fail (the demo's flaky)
  builtins: false
  rules:
    - {name: w_errors, metric: error_rate, scope: each_worker, op: ">", threshold: 0.05,
       window: 1m, for: 0s}
EOF
GROUPS_=(busmon g2)
declare -A STREAM=([busmon]=sa [g2]=sb) CONSUMER=([busmon]=a1 [g2]=b1) GFLAG=([busmon]="" [g2]="--group g2")
declare -A APID PREFIX KEYS_OF
for g in "${GROUPS_[@]}"; do
    "$AGENT" --config "$BM_TMP/busmon.yaml" --stream "${STREAM[$g]}" --group "$g" \
        --consumer "${CONSUMER[$g]}" --block-ms 100 --rollup-interval 200ms \
        --health-interval 200ms --alert-interval 200ms --checkpoint-interval 200ms \
        --system-interval 200ms --trace-flush-interval 100ms >>"$BM_TMP/agent-$g.log" 2>&1 &
    APID[$g]=$!
    BM_PIDS+=($!)
done
for g in "${GROUPS_[@]}"; do
    "$BM_BUILD/busmon-demo-producer" --stream "${STREAM[$g]}" --count 60 --rate 3000 --seed 7 \
        >/dev/null || echo "FAIL - the producer failed on ${STREAM[$g]}"
    bm_cli XADD "${STREAM[$g]}" '*' type metric name orders value 3 >/dev/null
    # a worker of this group's alone: a command read from the other group's keys misses it
    bm_cli XADD "${STREAM[$g]}" '*' type command tx "own-$g" id c1 worker "own_$g" step s >/dev/null
    bm_cli XADD "${STREAM[$g]}" '*' type result tx "own-$g" id r1 cmd c1 worker "own_$g" step s \
        ok true >/dev/null
    bm_cli XADD "${STREAM[$g]}" '*' junk 1 >/dev/null # a dead letter
done

# j G CMD...: `busmon CMD --json` for group G (no --group for busmon), stdout only
j() {
    local g=$1
    shift
    # shellcheck disable=SC2086
    "$BUSMON" "$@" ${GFLAG[$g]} --json 2>/dev/null
}
for g in "${GROUPS_[@]}"; do
    bm_check "group $g: the agent publishes, alerts, samples, dead-letters, indexes and checkpoints" \
        bm_wait_for 20 "j $g workers | jq -e '[.workers[].name] | index(\"own_$g\")' &&
            j $g alerts | jq -e '.history | length > 0' &&
            j $g system | jq -e '.latest.agent == \"${CONSUMER[$g]}\"' &&
            j $g deadletters | jq -e '.entries | length > 0' &&
            j $g traces --worker flaky | jq -e '.traces | length > 0' &&
            j $g metrics | jq -e '.series | length > 0' && j $g baseline"
done
for g in "${GROUPS_[@]}"; do # stopped: MONITOR sees the CLI alone
    kill "${APID[$g]}"
    bm_wait_for 10 "! kill -0 ${APID[$g]}"
done

# MONITOR for the rest; each command starts with ECHO cmd:<group>:<n>
redis-cli -p "$BM_PORT" MONITOR >"$BM_TMP/monitor.txt" 2>&1 &
MON=$!
BM_PIDS+=($!)
bm_wait_for 5 "grep -q '^OK' '$BM_TMP/monitor.txt'" || echo "FAIL - MONITOR did not start"

# run G WHAT JQ CMD...: one command of group G (text when JQ is "text": its stdout must
# hold WHAT's pattern in $PAT), checked to find G's data; its keys looked at below
n=0
run() {
    local g=$1 what=$2 test=$3 out="$BM_TMP/out.$((n + 1))"
    shift 3
    n=$((n + 1))
    bm_cli ECHO "cmd:$g:$n" >/dev/null
    CMDS[$n]="$g|$*"
    if [ "$test" = text ]; then
        # shellcheck disable=SC2086
        bm_check "group $g: busmon $* finds $what" \
            bash -c "'$BUSMON' $* ${GFLAG[$g]} >'$out' 2>&1 && grep -qE -- '$PAT' '$out'"
    else
        bm_check "group $g: busmon $* --json finds $what" \
            bash -c "'$BUSMON' $* ${GFLAG[$g]} --json >'$out' 2>&1 && jq -e '$test' '$out' >/dev/null"
    fi
}
declare -A CMDS
for g in "${GROUPS_[@]}"; do
    a=${CONSUMER[$g]}
    run "$g" "its workers" \
        "[.workers[].name] | sort == [\"cpu_heavy\",\"fast\",\"flaky\",\"own_$g\",\"slow\"]" workers
    run "$g" "own_$g in the workers hash" ".name == \"own_$g\"" worker "own_$g"
    run "$g" "the rollup" '.total_events > 200' stats
    run "$g" "flaky's errors" '[.. | strings] | index("flaky")' errors
    run "$g" "the metric orders" '[.series[].name] | index("orders")' metrics
    run "$g" "$a's system sample" ".latest.agent == \"$a\"" system
    run "$g" "$a's alert on flaky" \
        "([.history[].labels.worker] | unique == [\"flaky\"]) and .agent == \"$a\"" alerts
    run "$g" "the dead letter of ${STREAM[$g]}" \
        "[.entries[].group] == [\"$g\"] and .entries[0].stream == \"${STREAM[$g]}\"" deadletters
    run "$g" "traces" '.traces | length > 0' traces
    run "$g" "failed traces (the :failed set)" '.traces | length > 0' traces --status failed
    run "$g" "flaky's traces (its worker set)" '[.traces[].workers[]] | index("flaky")' traces --worker flaky
    tx=$(j "$g" traces --limit 1 | jq -r '.traces[0].tx')
    run "$g" "the trace of $tx" ".tx == \"$tx\"" trace "$tx"
    run "$g" "the trace of own-$g" ".tx == \"own-$g\"" trace "own-$g"
    run "$g" "$a's checkpoint" '. != null' baseline
    PAT="^  ${STREAM[$g]} +group $g +lag"
    run "$g" "the lag of ${STREAM[$g]} its sample names" text top --once
    PAT="freeze"
    run "$g" "the control hash (a freeze request)" text baseline freeze flaky
done
bm_cli ECHO "cmd:end:0" >/dev/null
bm_wait_for 5 "grep -q 'cmd:end:0' '$BM_TMP/monitor.txt'" || echo "FAIL - MONITOR lost the end"
kill "$MON"

# The keys each command read: a MONITOR line is `<time> [<db> <addr>] "CMD" "arg"...`;
# the key is the first argument (XINFO's the second, MGET's all of them)
awk -F'" "' '
    /"ECHO" "cmd:/ { split($2, p, ":"); sub(/"$/, "", p[3]); at = p[3]; next }
    !at || !/^[0-9.]+ \[/ { next }
    {
        sub(/^[^"]*"/, "", $1); sub(/"$/, "", $NF); c = toupper($1)
        if (c == "PING" || c == "ECHO" || c == "AUTH" || c == "SELECT" || c == "CLIENT") next
        if (c == "XINFO") print at, $3
        else if (c == "MGET") for (i = 2; i <= NF; i++) print at, $i
        else if (NF >= 2) print at, $2
    }' "$BM_TMP/monitor.txt" >"$BM_TMP/keys.txt"

# setting G NAME: what `busmon-agent --print-config` says G's agent names NAME
setting() {
    "$AGENT" --config "$BM_TMP/busmon.yaml" --stream "${STREAM[$1]}" --group "$1" \
        --consumer "${CONSUMER[$1]}" --print-config 2>/dev/null |
        awk -v k="$2:" '$1 == k { gsub(/"/, "", $2); print $2; exit }'
}
# allowed G KEY: a key G's agent writes (its consumer's checkpoint, its own transactions)
for g in "${GROUPS_[@]}"; do
    KEYS_OF[$g]=" ${STREAM[$g]}"
    for s in rollups workers system deadletter stream firing control_key index_key; do
        KEYS_OF[$g]+=" $(setting "$g" "$s")"
    done
    KEYS_OF[$g]+=" $(setting "$g" index_key):failed $(setting "$g" index_key):w:flaky"
    KEYS_OF[$g]+=" $(setting "$g" key_prefix)${CONSUMER[$g]}"
    KEYS_OF[$g]+=" $(setting "$g" handoff_prefix)${CONSUMER[$g]} "
    PREFIX[$g]=$(setting "$g" trace_prefix)
done
# the names themselves (README's): a row renamed in the table fails here, not above
bm_eq "the agents' rollups are busmon:rollups and busmon:rollups:g2" "busmon:rollups busmon:rollups:g2" \
    "$(setting busmon rollups) $(setting g2 rollups)"
allowed() {
    local g=$1 k=$2
    [[ "${KEYS_OF[$g]}" == *" $k "* ]] && return 0
    # a transaction's trace: the prefix, then an id of the demo's (no ':')
    [[ "$k" == "${PREFIX[$g]}"* && "${k#"${PREFIX[$g]}"}" != *:* ]]
}
for ((i = 1; i <= n; i++)); do
    g=${CMDS[$i]%%|*}
    what=${CMDS[$i]#*|}
    read_keys=$(awk -v i="$i" '$1 == i { print $2 }' "$BM_TMP/keys.txt" | sort -u)
    bad=""
    [ -n "$read_keys" ] || bad="nothing read"
    for k in $read_keys; do
        allowed "$g" "$k" || bad+=" $k"
        [ "$(bm_cli_raw EXISTS "$k")" = 1 ] || bad+=" $k(none)"
    done
    bm_eq "group $g: busmon $what read $(echo "$read_keys" | wc -w) keys, each one $g's agent writes" \
        "" "$bad"
done
bm_finish
