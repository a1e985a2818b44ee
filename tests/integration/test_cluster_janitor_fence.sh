#!/usr/bin/env bash
# A gone agent comes back, under the same consumer name, while the leader's
# janitor moves its hand-off stream to the live agents. The janitor copied
# the entries (XRANGE, then an XADD each) and deleted the stream only once
# all were copied: the agent back read its stream whole, the entries already
# copied included, and both it and the agent given the copies applied them
# (1,500 to 3,000 results of 6,000 counted twice). The janitor now moves each
# batch in one script that first checks the agent's registry heartbeat is the
# one it judged gone, then copies and deletes the batch's entries; an agent
# writes its heartbeat before it reads its hand-off stream, so a batch is
# moved entirely before it can read, or not at all.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
bm_cluster_env
declare -A PID PORT
# agent NAME: in the background with HTTP on a free port; PID[NAME], PORT[NAME]
agent() {
    PORT[$1]=$(bm_free_port)
    "$AGENT" --consumer "$1" --block-ms 100 --rollup-interval 300ms --health-interval 500ms \
        --checkpoint-interval 300ms --http "127.0.0.1:${PORT[$1]}" >>"$BM_TMP/agent-$1.log" 2>&1 &
    PID[$1]=$!
    BM_PIDS+=($!)
}
metric() { curl -s "http://127.0.0.1:${PORT[$1]}/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }
# executions NAME: worker w's executions in agent NAME's view (every agent's partial merged)
executions() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers" |
    jq '[.. | objects | select(.worker? == "w" or .name? == "w") | .executions? // empty] | max // 0'; }
N=6000
# settled A B: both views count the same, as at the last call (every
# agent's checkpoint read and merged)
settled() {
    local a=$(executions "$1") b=$(executions "$2")
    [ "$a" = "$b" ] && [ "$a" = "$last" ] && return 0
    last=$a
    return 1
}

# race LEADER GONE WHAT: GONE dies, N results wait in its hand-off stream,
# it comes back while LEADER's janitor moves them; each counted once
race() {
    local l=$1 g=$2 what=$3
    bm_check "$what: $l leads" bm_wait_for 20 "[ \"\$(bm_cli_raw GET busmon:leader)\" = $l ]"
    agent "$g"
    bm_check "$what: $g made its hand-off stream" bm_wait_for 10 \
        "[ \"\$(bm_cli_raw EXISTS busmon:handoff:$g)\" = 1 ]"
    bm_check "$what: $l sees two live agents" bm_wait_for 10 \
        "[ \"\$(metric $l busmon_cluster_agents_live)\" = 2 ]"
    kill -9 "${PID[$g]}"
    wait "${PID[$g]}" 2>/dev/null
    for i in $(seq 1 $N); do
        echo "XADD busmon:handoff:$g * type result tx $g-$i id r-$i worker w step s ok true"
    done | redis-cli -p "$BM_PORT" >/dev/null
    bm_eq "$what: $g's stream holds the $N entries" $N "$(bm_cli_raw XLEN busmon:handoff:$g)"
    # back once the janitor moved a batch, while it moves the rest (500 a
    # round, a round every 300 ms: 12 rounds)
    bm_check "$what: the janitor starts moving $g's stream" bm_wait_for 30 \
        "[ \"\$(metric $l busmon_cluster_handoff_moved_total)\" -ge 500 ]"
    agent "$g"
    bm_check "$what: $g is back" bm_wait_for 10 "[ \"\$(metric $g busmon_cluster_agents_live)\" = 2 ]"
    echo "# $what: moved by the janitor when $g came back: $(metric $l busmon_cluster_handoff_moved_total)"
    bm_check "$what: nothing left pending in $g's stream" bm_wait_for 20 \
        "[ \"\$(bm_cli_raw XPENDING busmon:handoff:$g busmon | head -1)\" = 0 ]"
    bm_check "$what: nothing left pending in $l's stream" bm_wait_for 20 \
        "[ \"\$(bm_cli_raw XPENDING busmon:handoff:$l busmon | head -1)\" = 0 ]"
    last=
    bm_wait_for 20 "sleep 1; settled $l $g"
    bm_eq "$what: $l's view counts each of the $N results once" $N "$(executions $l)"
    bm_eq "$what: $g's view counts each of the $N results once" $N "$(executions $g)"
    stop_all "$l" "$g"
    bm_cli DEL busmon:leader busmon:agents >/dev/null
}
stop_all() { local n; for n in "$@"; do kill -INT "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null; done; }

# A. the agent back reads the entries already copied
agent a1
race a1 a2 A
# B. the leader reads the registry every 2 s only: for up to 2 s after the
# agent is back its janitor takes it for gone and moves batches the agent
# may be reading (the fence refuses them)
BUSMON_CLUSTER_HEARTBEAT=2s BUSMON_CLUSTER_LEASE=6s BUSMON_CLUSTER_STALE=6s agent b1
race b1 b2 B
bm_finish
