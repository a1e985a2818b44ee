#!/usr/bin/env bash
# Two agents in one consumer group, quiet for 20 s after they see each other,
# then one command and one metric event: the event throughput and the metric's
# rate are taken over the time the agents watched (about 20 s), not over the
# event's own instant. Each agent of a cluster rolls up a merged copy of the
# monitors; its own monitor must still be watched from then on
# (bm_monitor_watch in view_acquire, agent/jobs/cluster.c).
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cluster_agents w 2 --block-ms 100 --rollup-interval 1h --checkpoint-interval 300ms
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp sees two live agents" bm_wait_for 15 \
        "[ \"\$(bm_metric $hp busmon_cluster_agents_live)\" = 2 ]"
    # a reader looks once while all is quiet (the view the agent rolls up)
    bm_check "agent on $hp answers /api/stats" curl -sf -o /dev/null "http://127.0.0.1:$hp/api/stats"
    curl -sf -o /dev/null "http://127.0.0.1:$hp/api/metrics"
done
sleep 20 # the quiet spell the rates must count
printf 'XADD busmon:events * type command tx cw-1 worker quiet step s\nXADD busmon:events * type metric name orders value 1 kind counter\n' |
    redis-cli -p "$BM_PORT" >/dev/null
bm_check "both entries acked" bm_wait_for 15 \
    '[ "$(redis-cli -p $BM_PORT XPENDING busmon:events busmon | head -1)" = 0 ]'
for hp in "${HPORTS[@]}"; do
    # the other agent's share comes with its next partial (checkpoint-interval)
    bm_check "agent on $hp counts the command" bm_wait_for 10 \
        "[ \"\$(curl -s 'http://127.0.0.1:$hp/api/stats?window=1m' | jq -r '.by_type.command.count')\" = 1 ]"
    tp=$(curl -s "http://127.0.0.1:$hp/api/stats?window=1m" | jq -r '.throughput_per_min // "none"')
    rate=$(curl -s "http://127.0.0.1:$hp/api/metrics?window=1m" | jq -r '.series[0].rate_per_s // "none"')
    # watched >= 20 s: at most 1 event / 20 s = 3 a minute; 1 a second at most 0.05
    bm_check "agent on $hp: events over 1m at most 3.3 a minute, not a burst (got $tp)" \
        awk -v x="$tp" 'BEGIN { exit !(x != "none" && x > 0 && x <= 3.3) }'
    bm_check "agent on $hp: metric rate over 1m at most 0.055/s, not a burst (got $rate)" \
        awk -v x="$rate" 'BEGIN { exit !(x != "none" && x > 0 && x <= 0.055) }'
done
bm_finish
