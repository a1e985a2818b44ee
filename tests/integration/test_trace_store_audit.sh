#!/usr/bin/env bash
# How traces are kept and indexed when memory is short: a transaction that
# leaves the agent's memory (traces.max_transactions) before its write group
# closes still has the index writes its last events call for. A transaction
# created and evicted in one group is in the index; one indexed as running
# whose failure came in the group that evicted it is in the failed set, and
# `busmon traces --status failed` lists it.
# `busmon traces` reads the index page after page while the agent adds new
# transactions at its top: none is listed twice.
# A trace key is never left without a TTL: a transaction taking events
# longer than the retention, from a producer whose clock is a day ahead,
# has its key's EXPIRE queued again (it was timed by the events' own times,
# so the key expired and the next RPUSH made it again with none).
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

# evicted, then seen again (its answer comes later): the index keeps its
# start, not the start of the part the agent saw again, so busmon traces
# still orders it by when it started
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000; }
t0=$(($(date +%s) - 60))
ev() { jq -cn --arg ty "$1" --arg id "$2" --arg tx "$3" --arg ts "$(iso "$4")" \
    '{type:$ty,id:$id,tx:$tx,cmd:"c-tx-a",worker:"w2",step:"s",ts:$ts}'; }
bm_cli PUBLISH multiagent:a "$(ev command c-tx-a tx-a "$t0")" >/dev/null
bm_check "tx-a indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-a)" ]'
score=$(bm_cli_raw ZSCORE busmon:traces tx-a)
bm_eq "tx-a's score is its start" "$((t0 * 1000))" "$score"
bm_cli PUBLISH multiagent:a "$(ev command c-tx-b tx-b $((t0 + 15)))" >/dev/null
bm_check "tx-b indexed (tx-a evicted)" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-b)" ]'
bm_cli PUBLISH multiagent:a "$(ev result r-tx-a tx-a $((t0 + 30)))" >/dev/null
bm_check "tx-a's answer is stored" bm_wait_for 10 '[ "$(bm_cli_raw LLEN busmon:trace:tx-a)" = 2 ]'
# a later transaction indexed: every write before it is done (one connection, in order)
bm_cli PUBLISH multiagent:a "$(cmd tx-later)" >/dev/null
bm_check "... and the index writes of its group are done" bm_wait_for 10 \
    '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-later)" ]'
bm_eq "seen again, tx-a keeps its start in the index" "$score $score $score" \
    "$(for k in busmon:traces busmon:traces:w:w2; do bm_cli_raw ZSCORE $k tx-a; done | tr '\n' ' ')$("$BUSMON" traces --worker w2 --json | jq -r '.traces[] | select(.tx == "tx-a") | .start_unix_ms')"
bm_eq "busmon traces: newest first (tx-b started after tx-a)" "tx-b,tx-a" \
    "$("$BUSMON" traces --worker w2 --json | jq -r '[.traces[].tx] | join(",")')"

# The index read page by page (500 candidates a page) while transactions
# are added at its top: 5 slow candidates first (5000 records each, a fifth
# of a second each to replay), 50 matching at the end of the first page; 100
# new members arrive while the first page is read.
now_ms=$(($(date +%s%N) / 1000000))
bm_cli EVAL "
local base = tonumber(ARGV[1])
for i = 0, 1199 do
  local tx = 'tx-n-' .. i
  if i < 5 then tx = 'tx-slow-' .. i elseif i >= 450 and i < 500 then tx = 'tx-m-' .. i end
  redis.call('ZADD', KEYS[1], base - i, tx)
end
for k = 0, 4 do
  for i = 1, 5000 do
    local ty = 'command'
    if i % 2 == 0 then ty = 'result' end
    redis.call('RPUSH', 'busmon:trace:tx-slow-' .. k, cmsgpack.pack({type = ty, id = 'e' .. i,
      tx = 'tx-slow-' .. k, worker = 'w', step = 's', ts = (base - k) * 1000 + i}))
  end
end
for i = 450, 499 do
  redis.call('RPUSH', 'busmon:trace:tx-m-' .. i, cmsgpack.pack({type = 'error', id = 'e' .. i,
    tx = 'tx-m-' .. i, worker = 'w', step = 's', ts = (base - i) * 1000,
    error = {type = 'Boom', message = 'boom'}}))
end
return 1" 1 busmon:audit $((now_ms - 60000)) >/dev/null
"$BUSMON" traces --index-key busmon:audit --error-type Boom --limit 10000 --json >"$BM_TMP/paged.json" 2>/dev/null &
cli=$!
bm_check "the first page is being read" bm_wait_for 10 'bm_cli_raw CLIENT LIST | grep -q "cmd=lrange"'
bm_cli EVAL "for i = 1, 100 do redis.call('ZADD', KEYS[1], ARGV[1], 'tx-new-' .. i) end return 1" \
    1 busmon:audit $((now_ms + 1000)) >/dev/null
wait "$cli"
bm_eq "busmon traces while the index grows: the 50 matches, each once" "50 50 50" \
    "$(jq -r '"\(.count) \(.traces | length) \([.traces[].tx] | unique | length)"' "$BM_TMP/paged.json")"

# ---- a key never without a TTL (retention 4 s, the producer's clock a day ahead) -------------
bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --stream ttl:events --consumer ttl --no-http \
    --trace-retention 4s
bm_check "the agent reads ttl:events" bm_wait_for 10 \
    '[ "$(bm_cli_raw XINFO GROUPS ttl:events 2>/dev/null | grep -c busmon)" -ge 1 ]'
future=$(($(date +%s) + 86400))
ttl_seen=""
for i in $(seq 0 9); do # 10 events, 1 s apart: the key's 4 s TTL would run out twice
    bm_cli XADD ttl:events '*' type status status running id "p$i" tx tx-long worker w ts "$((future + i))" >/dev/null
    sleep 1
    ttl_seen="$ttl_seen $(bm_cli_raw TTL busmon:trace:tx-long)"
done
bm_check "the key holds the events" [ "$(bm_cli_raw LLEN busmon:trace:tx-long)" -ge 1 ]
bm_eq "tx-long's key always has a TTL while events come (TTLs:$ttl_seen)" 0 \
    "$(echo $ttl_seen | tr ' ' '\n' | grep -cx -- -1)"

bm_finish
