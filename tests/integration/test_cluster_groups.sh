#!/usr/bin/env bash
# Two agents of different consumer groups on one Redis (two independent
# monitors of one stream) shared the default registry key. Each reads every
# entry itself, so neither is the other's peer: each registry entry names
# its group, and an agent counts only the agents of its own. They took each
# other for members and handed half their transactions to each other's
# hand-off stream, read there in the other group (figures wrong in both).
# Each group has its own leader's lease (busmon:leader:<group>, the default
# group busmon:leader), so both monitors judge and publish.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
declare -A HP
for g in ga gb; do
    HP[$g]=$(bm_free_port)
    BUSMON_CLUSTER_HEARTBEAT=250ms bm_bg "$AGENT" --group "$g" --consumer "c-$g" --block-ms 100 \
        --http "127.0.0.1:${HP[$g]}"
done
for g in ga gb; do
    bm_check "$g: up, and has beaten its heart" bm_wait_for 15 \
        "[ \"\$(bm_metric ${HP[$g]} busmon_cluster_heartbeats_total)\" -ge 2 ]"
done
sleep 1 # each has read the registry with the other in it
for t in $(seq 1 40); do
    bm_cli XADD busmon:events '*' type command tx "g-$t" id "c$t" worker w step s >/dev/null
    bm_cli XADD busmon:events '*' type result tx "g-$t" id "r$t" cmd "c$t" worker w step s ok true >/dev/null
done
for g in ga gb; do
    bm_check "$g: reads all 80 entries itself" bm_wait_for 15 \
        "[ \"\$(bm_metric ${HP[$g]} busmon_entries_read_total)\" -ge 80 ]"
    bm_eq "$g: hands nothing to the other group's agent" 0 \
        "$(bm_metric "${HP[$g]}" busmon_entries_handed_off_total)"
    bm_eq "$g: sees one live agent (itself)" 1 "$(bm_metric "${HP[$g]}" busmon_cluster_agents_live)"
done
# each group has its registry, busmon:agents:<group> (test_cluster_group_keys.sh)
bm_check "the registry entries name their groups" \
    bash -c "[ \"\$(redis-cli -p $BM_PORT HGET busmon:agents:ga c-ga | jq -r .group)\" = ga ]"
# Each monitor has its judge: with cluster.leader_key not set, a group other
# than busmon takes the lease busmon:leader:<group>. They shared busmon:leader,
# so one of the two monitors judged nothing and published no rollup.
for g in ga gb; do
    bm_check "$g: leads its own group" bm_wait_for 10 \
        "[ \"\$(bm_metric ${HP[$g]} busmon_cluster_leader)\" = 1 ]"
    bm_eq "$g: its lease is busmon:leader:$g" "c-$g" "$(bm_cli_raw GET "busmon:leader:$g")"
done
bm_eq "busmon:leader (the default group's) is nobody's" "" "$(bm_cli_raw GET busmon:leader)"
# an agent of the default group keeps the documented busmon:leader
BUSMON_CLUSTER_HEARTBEAT=250ms bm_bg "$AGENT" --consumer c-def --block-ms 100 --no-http
bm_check "the default group's agent holds busmon:leader" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw GET busmon:leader)\" = c-def ]"
bm_finish
