#!/usr/bin/env bash
# How traces are kept and indexed when memory is short: a transaction that
# leaves the agent's memory (traces.max_transactions) before its write group
# closes still has the index writes its last events call for. A transaction
# created and evicted in one group is in the index; one indexed as running
# whose failure came in the group that evicted it is in the failed set, and
# `busmon traces --status failed` lists it.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --psubscribe 'multiagent:*' --max-transactions 1
bm_check "the agent subscribes" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'

cmd() { jq -cn --arg tx "$1" '{type:"command",id:("c-"+$tx),tx:$tx,worker:"w",step:"s"}'; }
# pub2 A B: two messages published by one script, so the agent reads them in
# one batch (one write group): the second's transaction evicts the first's
pub2() { bm_cli EVAL "redis.call('PUBLISH', 'multiagent:a', ARGV[1]) redis.call('PUBLISH', 'multiagent:a', ARGV[2])" 0 "$1" "$2" >/dev/null; }

# a transaction created and evicted in the same group
pub2 "$(cmd tx-gone)" "$(cmd tx-next)"
bm_check "the evicting transaction is indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-next)" ]'
bm_check "its record is stored" bm_wait_for 5 '[ "$(bm_cli_raw LLEN busmon:trace:tx-gone)" = 1 ]'
bm_check "the transaction evicted before its group closed is indexed too" \
    [ -n "$(bm_cli_raw ZSCORE busmon:traces tx-gone)" ]
bm_check "... and in its worker's set" [ -n "$(bm_cli_raw ZSCORE busmon:traces:w:w tx-gone)" ]

# indexed as running, then its failure and its eviction in one group
bm_cli PUBLISH multiagent:a "$(cmd tx-f)" >/dev/null
bm_check "tx-f indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-f)" ]'
err=$(jq -cn '{type:"error",id:"e-f",tx:"tx-f",cmd:"c-tx-f",worker:"w",step:"s",error_type:"Boom",error_message:"boom"}')
pub2 "$err" "$(cmd tx-after)"
bm_check "the evicting transaction is indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-after)" ]'
bm_check "tx-f's failure is stored" bm_wait_for 5 '[ "$(bm_cli_raw LLEN busmon:trace:tx-f)" = 2 ]'
bm_check "tx-f, failed in the group that evicted it, is in the failed set" \
    [ -n "$(bm_cli_raw ZSCORE busmon:traces:failed tx-f)" ]
bm_eq "busmon traces --status failed lists it" "tx-f" \
    "$("$BUSMON" traces --status failed --json | jq -r '[.traces[].tx] | join(",")')"

bm_finish
