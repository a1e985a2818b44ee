#!/usr/bin/env bash
# Reclaim never takes a LIVE consumer's entries, against a real Redis: two
# agents read one stream; each acks its entries only after its checkpoint
# (state.checkpoint_interval 4 s, longer than reclaim.min_idle 1 s), so the
# entries it applied wait pending past min_idle. The other agent must not
# claim and apply them again: 3,000 counter metric events are counted 3,000
# times across the two, none reclaimed. Then one agent is killed with kill -9
# mid-stream: the survivor claims what it left. Cluster mode off, so each
# agent's figures are its own (the leader's view would merge the other's).
source "$(dirname "$0")/lib.sh"
export BUSMON_HTTP=off BUSMON_RECLAIM_INTERVAL=1s BUSMON_RECLAIM_MIN_IDLE=1s BUSMON_CLUSTER_ENABLED=false
bm_start_redis
S=lo:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
H1=$(bm_free_port)
H2=$(bm_free_port)
agent() { # agent NAME HTTP_PORT
    bm_bg "$BM_BUILD/busmon-agent" --consumer "$1" --stream "$S" --block-ms 100 \
        --checkpoint-interval 4s --http "127.0.0.1:$2"
}
# logins PORT: the agent's count of metric 'logins'
logins() { curl -s "http://127.0.0.1:$1/api/metrics" | jq '[.series[]? | select(.name == "logins") | .count] | add // 0'; }
reclaimed() { bm_metric "$1" busmon_reclaimed_total; }
pending() { redis-cli -p "$BM_PORT" XPENDING "$S" busmon | head -1; }
lag() { redis-cli -p "$BM_PORT" XINFO GROUPS "$S" | awk '$0 == "lag" { getline; print }'; }
burst() { # burst N: N counter events
    for _ in $(seq 1 "$1"); do echo "XADD $S * type metric name logins value 1 kind counter"; done |
        redis-cli -p "$BM_PORT" >/dev/null
}

agent l1 "$H1"
L1=$BM_LAST_PID
agent l2 "$H2"
bm_check "both agents ready" bm_wait_for 20 "curl -sf http://127.0.0.1:$H1/ready && curl -sf http://127.0.0.1:$H2/ready"
for _ in $(seq 1 6); do
    burst 500
    sleep 0.5 # spread over 3 s, so entries of both wait past min_idle for their checkpoint
done
bm_check "every entry acked" bm_wait_for 30 '[ "$(pending)" = 0 ] && [ "$(lag)" = 0 ]'
bm_check "the entries waited past min_idle for their acks (a round came)" \
    [ "$(bm_metric "$H1" busmon_reclaim_rounds_total)$(bm_metric "$H2" busmon_reclaim_rounds_total)" != 00 ]
bm_eq "no live agent's entry claimed" "0 0" "$(reclaimed "$H1") $(reclaimed "$H2")"
bm_eq "3000 events counted 3000 times" 3000 $(($(logins "$H1") + $(logins "$H2")))

# l1 killed mid-stream: what it held is claimed by l2 once idle, counted once
burst 2000 &
BURST=$!
bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT XPENDING $S busmon - + 10 l1 | wc -l)" -gt 0 ]'
kill -9 "$L1"
wait "$L1" 2>/dev/null
wait "$BURST"
bm_check "l2 claims what l1 left" bm_wait_for 30 '[ "$(pending)" = 0 ] && [ "$(lag)" = 0 ]'
bm_check "l2 reclaimed entries" [ "$(reclaimed "$H2")" -gt 0 ]
echo "  l2 reclaimed $(reclaimed "$H2")"
bm_finish
