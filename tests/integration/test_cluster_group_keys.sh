#!/usr/bin/env bash
# Two independent monitors (two consumer groups) on one Redis whose agents
# have the same consumer name, as two monitors on one host do with the
# default busmon-<hostname>. The checkpoint, the hand-off stream and the
# registry entry were keyed by the consumer name alone: both agents wrote
# busmon:state:c1 (a restart restored the other group's figures and stream
# ids), and one registry field c1 (an agent of the default group saw its
# peer c1 come and go at every heartbeat). A group other than busmon now
# has its own keys: busmon:state:<group>:<consumer>,
# busmon:handoff:<group>:<consumer>, the registry busmon:agents:<group>;
# the default group keeps busmon:state:<consumer>, busmon:handoff:<consumer>
# and busmon:agents.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_STALE=1500ms BUSMON_CLUSTER_REFRESH=300ms
P1=$(bm_free_port)
P2=$(bm_free_port)
PB=$(bm_free_port)
# the default group: c1 and c2 on stream sa; group gb: its own c1 on stream sb
start() { # start NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    "$AGENT" --block-ms 100 --checkpoint-interval 200ms --http "127.0.0.1:$port" "$@" \
        >>"$BM_TMP/agent-$name.log" 2>&1 &
    BM_PIDS+=($!)
    LAST=$!
    bm_wait_for 15 "curl -sf http://127.0.0.1:$port/health" || { echo "agent $name did not start"; exit 1; }
}
start a1 "$P1" --stream sa --consumer c1
start a2 "$P2" --stream sa --consumer c2
start b1 "$PB" --stream sb --group gb --consumer c1
B1=$LAST
# produce STREAM WORKER FROM TO: a command and its result per transaction
produce() {
    local i
    for i in $(seq "$3" "$4"); do
        printf 'XADD %s * type command tx %s-%d id c%d worker %s step s\n' "$1" "$2" "$i" "$i" "$2"
        printf 'XADD %s * type result tx %s-%d id r%d cmd c%d worker %s step s ok true\n' \
            "$1" "$2" "$i" "$i" "$i" "$2"
    done | redis-cli -p "$BM_PORT" >/dev/null
}
# execs PORT WORKER: the worker's executions the agent applied itself (/metrics: its own)
execs() { bm_metric "$1" "busmon_worker_executions_total{worker=\"$2\",status=\"success\"}"; }
# both WORKER: what the default group's two agents applied
both() { local a b; a=$(execs "$P1" "$1"); b=$(execs "$P2" "$1"); echo $((${a:-0} + ${b:-0})); }

bm_check "a1 and a2 see each other" bm_wait_for 15 \
    "[ \"\$(bm_metric $P1 busmon_cluster_agents_live)\" = 2 ] && [ \"\$(bm_metric $P2 busmon_cluster_agents_live)\" = 2 ]"
# the default group's c2 keeps seeing its peer c1 (gb's c1 wrote the same
# registry field, of its own group, every other heartbeat)
flaps=0
for _ in $(seq 30); do
    [ "$(bm_metric "$P2" busmon_cluster_agents_live)" = 2 ] || flaps=$((flaps + 1))
    sleep 0.1
done
bm_eq "c2 sees 2 live agents all along (30 looks in 3 s)" 0 "$flaps"
bm_eq "gb's c1 sees itself alone" 1 "$(bm_metric "$PB" busmon_cluster_agents_live)"

produce sa wa 1 30
produce sb wb 1 10
bm_wait_for 15 "[ \"\$(both wa)\" = 30 ]"
bm_eq "the default group counts wa's 30" 30 "$(both wa)"
bm_check "gb counts wb's 10" bm_wait_for 15 "[ \"\$(execs $PB wb)\" = 10 ]"
bm_eq "gb counts no wa" "" "$(execs "$PB" wa)"

# the keys: the default group's as they were, gb's its own
bm_check "the default group's checkpoint is busmon:state:c1" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw EXISTS busmon:state:c1)\" = 1 ]"
bm_check "gb's checkpoint is busmon:state:gb:c1" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw EXISTS busmon:state:gb:c1)\" = 1 ]"
bm_check "the default group's hand-off stream is busmon:handoff:c1" bm_wait_for 10 \
    "bm_cli_raw XINFO GROUPS busmon:handoff:c1 | grep -qx busmon"
bm_check "gb's hand-off stream is busmon:handoff:gb:c1, read in gb" bm_wait_for 10 \
    "bm_cli_raw XINFO GROUPS busmon:handoff:gb:c1 | grep -qx gb"
bm_eq "... and gb reads no busmon:handoff:c1" "" \
    "$(bm_cli_raw XINFO GROUPS busmon:handoff:c1 | grep -x gb)"
bm_eq "the registry busmon:agents holds the default group's c1" busmon \
    "$(bm_cli_raw HGET busmon:agents c1 | jq -r .group)"
bm_eq "gb's registry is busmon:agents:gb" gb "$(bm_cli_raw HGET busmon:agents:gb c1 | jq -r .group)"

# gb's c1 stops; the default group's c1 goes on checkpointing (more wa)
kill -TERM "$B1"
bm_wait_for 15 "! kill -0 $B1 2>/dev/null" || { echo "b1 did not stop"; exit 1; }
produce sa wa 31 40
bm_wait_for 15 "[ \"\$(both wa)\" = 40 ]"
bm_eq "the default group counts wa's 40" 40 "$(both wa)"
# a checkpoint of the default group's c1 after those (each one's time differs)
ck=$(bm_cli_raw GET busmon:state:c1 | md5sum)
bm_wait_for 10 "[ \"\$(bm_cli_raw GET busmon:state:c1 | md5sum)\" != '$ck' ]"
# gb's c1 again: it restores its own checkpoint, not the default group's c1's
start b1 "$PB" --stream sb --group gb --consumer c1
bm_check "restarted, gb counts wb's 10 again" bm_wait_for 10 "[ \"\$(execs $PB wb)\" = 10 ]"
bm_eq "... and no wa (the other group's figures)" "" "$(execs "$PB" wa)"
bm_check "... restored from busmon:state:gb:c1" \
    grep -q 'restored the state from busmon:state:gb:c1' "$BM_TMP/agent-b1.log"
produce sb wb 11 15
bm_check "gb reads on: wb's 15" bm_wait_for 10 "[ \"\$(execs $PB wb)\" = 15 ]"
bm_check "the default group's c1 is still busmon's" bash -c \
    "[ \"\$(redis-cli -p $BM_PORT HGET busmon:agents c1 | jq -r .group)\" = busmon ]"
bm_finish
