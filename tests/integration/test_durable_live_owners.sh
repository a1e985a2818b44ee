#!/usr/bin/env bash
# Reclaim never takes a LIVE consumer's entries, against a real Redis: two
# agents read one stream; each acks its entries only after its checkpoint
# (state.checkpoint_interval 4 s, longer than reclaim.min_idle 1 s), so the
# entries it applied wait pending past min_idle. The other agent must not
# claim and apply them again: 3,000 counter metric events are counted 3,000
# times across the two, none reclaimed. Then one agent is killed with kill -9
# mid-stream: the survivor claims what it left, and l1 started again (its
# checkpoint) plus the survivor count every event once. Then a live agent's claims
# (its consumer X.claimed) are left alone too. Cluster mode off, so each
# agent's figures are its own (the leader's view would merge the other's).
# Last, agents with checkpoint intervals of their own (4 s and 500 ms).
source "$(dirname "$0")/lib.sh"
export BUSMON_HTTP=off BUSMON_RECLAIM_INTERVAL=1s BUSMON_RECLAIM_MIN_IDLE=1s BUSMON_CLUSTER_ENABLED=false
bm_start_redis
S=lo:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
H1=$(bm_free_port)
H2=$(bm_free_port)
agent() { # agent NAME HTTP_PORT [CHECKPOINT_INTERVAL]
    bm_bg "$BM_BUILD/busmon-agent" --consumer "$1" --stream "$S" --block-ms 100 \
        --checkpoint-interval "${3:-4s}" --http "127.0.0.1:$2"
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
L2=$BM_LAST_PID
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
held_by() { redis-cli -p "$BM_PORT" XINFO CONSUMERS "$S" busmon | awk -v c="$1" '
    $0 == "name" { getline; n = $0 } $0 == "pending" { getline; if (n == c) print }'; }
burst 2000 &
BURST=$!
# l1 stopped once it holds entries, then killed: a checkpoint of l1's between a
# count and a kill -9 would ack what it held (once in ~45 runs, held was 0)
held=0
for _ in $(seq 1 20); do
    bm_wait_for 10 '[ "$(held_by l1)" -gt 0 ]'
    kill -STOP "$L1"
    held=$(held_by l1)
    [ "${held:-0}" -gt 0 ] && break
    kill -CONT "$L1"
done
kill -9 "$L1"
wait "$L1" 2>/dev/null
# counted again once l1 is gone: a read l1 had blocked when it was stopped is
# still served by Redis, into l1's pending list (3 counted, 162 claimed, once)
sleep 0.3
held=$(held_by l1)
# ... and l1's own claims (consumer l1.claimed), if it made any, are l2's too
held_claims=$(held_by l1.claimed)
wait "$BURST"
bm_check "l1 held entries when killed ($held; ${held_claims:-0} of its claims)" [ "${held:-0}" -gt 0 ]
held=$((held + ${held_claims:-0}))
bm_check "l2 claims what l1 left" bm_wait_for 30 '[ "$(pending)" = 0 ] && [ "$(lag)" = 0 ]'
covered=$(bm_metric "$H2" busmon_reclaimed_covered_total)
applied=$(reclaimed "$H2")
claimed=$((applied + covered))
# At least what l1 held (applied, or acked as l1's checkpoint covers it).
# Not "exactly": l2 also claims a live owner's entries that its checkpoint
# already covers while their ack is on its way (acked, counted in covered),
# and such claims before the count are not in it (CI runs on 2026-12-06:
# 730 claimed for 270 held). Counted once is checked below, on the events.
bm_check "l2 claimed what l1 held ($held held; $applied applied, $covered covered)" \
    [ "$claimed" -ge "${held:-0}" ]
# Each event counted once: l1 started again restores its last checkpoint;
# with l2's figures that is every event of both phases, once. An entry
# claimed twice, or applied by l2 and also in l1's checkpoint, breaks it.
H1B=$(bm_free_port)
agent l1 "$H1B"
L1=$BM_LAST_PID
bm_check "l1 back, from its checkpoint" bm_wait_for 20 "curl -sf http://127.0.0.1:$H1B/ready"
bm_eq "5000 counted once across l1's checkpoint and l2" 5000 $(($(logins "$H1B") + $(logins "$H2")))
kill -TERM "$L1" "$L2"
wait "$L1" "$L2"

# A live agent's claims (its consumer l3.claimed) wait for its checkpoint
# too: another live agent leaves them alone. A dead consumer held 2000.
S=lc:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
burst 2000
bm_cli XREADGROUP GROUP busmon ghost COUNT 2000 STREAMS "$S" '>' >/dev/null
H3=$(bm_free_port)
H4=$(bm_free_port)
agent l3 "$H3" 10s
bm_check "l3 claims the dead consumer's 2000" bm_wait_for 20 '[ "$(reclaimed "$H3")" = 2000 ]'
agent l4 "$H4" 10s
bm_check "l4 makes a round while l3's claims wait for its checkpoint" bm_wait_for 8 \
    '[ "$(bm_metric "$H4" busmon_reclaim_rounds_total)" -gt 0 ]'
bm_check "all acked once l3's checkpoint is written" bm_wait_for 30 '[ "$(pending)" = 0 ]'
bm_eq "l4 claimed none of l3's claims" 0 "$(reclaimed "$H4")"
bm_eq "2000 counted 2000 times" 2000 $(($(logins "$H3") + $(logins "$H4")))
kill -TERM "$BM_LAST_PID"
wait "$BM_LAST_PID"

# Agents of one group with checkpoint intervals of their own: each is judged
# alive by its own interval (its checkpoint says it), not by the judge's.
# m1 checkpoints every 4 s, m2 every 500 ms: m2 must not take m1 for dead
# between m1's checkpoints and claim what m1 applied.
S=lm:events
bm_cli XGROUP CREATE "$S" busmon 0 MKSTREAM >/dev/null
H5=$(bm_free_port)
H6=$(bm_free_port)
agent m1 "$H5" 4s
agent m2 "$H6" 500ms
bm_check "both agents ready" bm_wait_for 20 "curl -sf http://127.0.0.1:$H5/ready && curl -sf http://127.0.0.1:$H6/ready"
for _ in $(seq 1 6); do
    burst 500
    sleep 0.5
done
bm_check "every entry acked" bm_wait_for 30 '[ "$(pending)" = 0 ] && [ "$(lag)" = 0 ]'
bm_check "m1's entries waited past min_idle (m2 made a round)" \
    [ "$(bm_metric "$H6" busmon_reclaim_rounds_total)" != 0 ]
bm_eq "m2 claimed none of m1's entries" 0 "$(reclaimed "$H6")"
bm_eq "3000 counted 3000 times" 3000 $(($(logins "$H5") + $(logins "$H6")))
bm_finish
