#!/usr/bin/env bash
# Least privilege against a real Redis with ACL users made from the exact
# lines the README documents (the ones `busmon-agent --print-acl` prints):
#   - the agent, as that user, with every feature that sends a command:
#     streams in database 3 (SELECT), pub/sub (PSUBSCRIBE), traces, dead
#     letters, rollups, the workers hash (HSET, HDEL of an evicted worker),
#     health, system samples (PING, INFO, CONFIG GET, XLEN, XINFO GROUPS),
#     alerts (XADD, PUBLISH, MULTI/DEL/HSET/EXEC), the checkpoint (SET, and
#     GET at a restart), reclaim (XPENDING, XCLAIM), the janitor of a gone
#     agent's hand-offs (EVAL: HGET, XRANGE, XADD, XDEL): no denial, /ready 200;
#   - every CLI command as the read-only user;
#   - a command taken away (PUBLISH, then RPUSH): the denial logged once with
#     the words that fix it, on /ready and /metrics, and ingest goes on.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PRODUCER="$BM_BUILD/busmon-demo-producer"
README="$BM_SRC/README.md"
unset BUSMON_HTTP
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
DB="redis://127.0.0.1:$BM_PORT/3"
admin() { redis-cli -p "$BM_PORT" -n 3 "$@"; }

# ---- the lines: printed, and the README's ---------------------------------------------------
"$AGENT" --print-acl >"$BM_TMP/acl.txt"
AGENT_LINE=$(sed -n 2p "$BM_TMP/acl.txt")
CLI_LINE=$(sed -n 4p "$BM_TMP/acl.txt")
bm_check "the README gives the agent's line for the default configuration" grep -qF "$AGENT_LINE" "$README"
bm_check "the README gives the CLI's read-only line" grep -qF "$CLI_LINE" "$README"
"$AGENT" --print-acl --psubscribe 'multiagent:*' >"$BM_TMP/acl-ps.txt"
PS_LINE=$(sed -n 2p "$BM_TMP/acl-ps.txt")
bm_check "the README gives the line with pub/sub" grep -qF "$PS_LINE" "$README"
for c in xreadgroup xack xadd 'xgroup|create' xpending xclaim xlen 'xinfo|groups' rpush expire \
    hset hdel del multi exec set get publish psubscribe ping time info 'config|get' select; do
    bm_check "the line allows $c" grep -qF " +$c" <<<"$PS_LINE"
done
bm_check "and nothing else: -@all" grep -qF ' -@all ' <<<"$PS_LINE"

admin ${PS_LINE/>PASSWORD/>agent-pw} >/dev/null
admin ${CLI_LINE/>PASSWORD/>cli-pw} >/dev/null
echo agent-pw >"$BM_TMP/agent.pw"
echo cli-pw >"$BM_TMP/cli.pw"
bm_eq "the agent's user exists" busmon "$(admin ACL USERS | grep -x busmon)"

# ---- every feature, as that user --------------------------------------------------------------
cat >"$BM_TMP/agent.yaml" <<EOF
worker_monitoring:
  max_workers: 5
limits:
  max_idle: 2s
reclaim:
  interval: 1s
  min_idle: 500ms
alerts:
  rules:
    - name: any_error
      metric: error_count
      scope: global
      op: ">"
      threshold: 0
      window: 5m
      for: 0s
      severity: warning
EOF
start_agent() {
    "$AGENT" --config "$BM_TMP/agent.yaml" --redis "$DB" --redis-username busmon \
        --redis-password-file "$BM_TMP/agent.pw" --psubscribe 'multiagent:*' \
        --http "127.0.0.1:$HPORT" --block-ms 100 --rollup-interval 1 --health-interval 1s \
        --system-interval 1s --alert-interval 1s --checkpoint-interval 1s \
        >>"$BM_TMP/agent.log" 2>&1 &
    A=$!
    BM_PIDS+=($A)
}
# a consumer that died with entries pending: reclaimed by the agent (XPENDING, XCLAIM)
admin XGROUP CREATE busmon:events busmon 0 MKSTREAM >/dev/null
admin XADD busmon:events '*' type command tx dead-1 worker ghost id dead-c1 >/dev/null
admin XREADGROUP GROUP busmon dead COUNT 10 STREAMS busmon:events '>' >/dev/null
start_agent
bm_check "HTTP up" bm_wait_for 10 "curl -sf $BASE/health"
"$PRODUCER" --redis "$DB" --count 40 --rate 800 --seed 3 >/dev/null
"$PRODUCER" --redis "$DB" --count 10 --rate 800 --seed 4 --pubsub >/dev/null
bm_check "stream events are acked" bm_wait_for 20 \
    "[ \"\$(admin XPENDING busmon:events busmon | head -1)\" = 0 ]"
bm_check "the dead consumer's entry was reclaimed" bm_wait_for 15 \
    "curl -s $BASE/metrics | awk '\$1 == \"busmon_reclaimed_total\" && \$2 >= 1 { ok = 1 } END { exit !ok }'"
bm_check "pub/sub events arrived" bm_wait_for 10 \
    "curl -s $BASE/metrics | awk '\$1 == \"busmon_pubsub_messages_total\" && \$2 > 0 { ok = 1 } END { exit !ok }'"
admin XADD busmon:events '*' type command tx bad-1 >/dev/null # dead-lettered: no worker
bm_check "rollups are written" bm_wait_for 10 "[ \$(admin XLEN busmon:rollups) -gt 0 ]"
bm_check "system samples are written" bm_wait_for 10 "[ \$(admin XLEN busmon:system) -gt 0 ]"
bm_check "an alert fired: stream and firing hash" bm_wait_for 15 \
    "[ \$(admin XLEN busmon:alerts) -gt 0 ] && [ \$(admin HLEN busmon:alerts:firing) -gt 0 ]"
bm_check "health transitions are written" bm_wait_for 10 "[ \$(admin XLEN busmon:health) -gt 0 ]"
bm_check "the checkpoint is written" bm_wait_for 10 "[ \$(admin EXISTS busmon:state:busmon-$(hostname)) = 1 ] || [ \$(admin --scan --pattern 'busmon:state:*' | wc -l) -gt 0 ]"
bm_check "a dead letter is written" bm_wait_for 10 "[ \$(admin XLEN busmon:deadletter) -gt 0 ]"
# five workers now (fast, slow, flaky, cpu_heavy, ghost): the table is full, nothing evicted yet
bm_check "flaky is in the workers hash" bm_wait_for 10 "[ \$(admin HEXISTS busmon:workers flaky) = 1 ]"
bm_check "traces are stored" bm_wait_for 10 "[ \$(admin --scan --pattern 'busmon:trace:*' | wc -l) -gt 0 ]"
# a gone agent's hand-off stream, moved by the janitor (EVAL: HGET, XRANGE, XADD, XDEL, DEL)
admin HSET busmon:agents ghost "{\"heartbeat_us\":$(($(date +%s%6N) - 60000000)),\"every_us\":1000000,\"stopped\":false,\"group\":\"busmon\"}" >/dev/null
# worker ghost, tracked already: a sixth worker here would evict one of the five (flaky, maybe)
admin XADD busmon:handoff:ghost '*' type command tx ghost-1 id ghost-c1 worker ghost step s >/dev/null
bm_check "a gone agent's hand-off stream is moved and deleted" bm_wait_for 20 \
    "[ \$(admin EXISTS busmon:handoff:ghost) = 0 ]"
bm_check "... its entry traced" bm_wait_for 10 "[ \$(admin LLEN busmon:trace:ghost-1) = 1 ]"
# eviction: 5 new workers in a full table of 5 idle for 2 s: the evicted leave the hash (HDEL)
sleep 3
for w in e1 e2 e3 e4 e5; do admin XADD busmon:events '*' type command tx "ev-$w" worker "$w" >/dev/null; done
bm_check "evicted workers leave the workers hash (HDEL)" bm_wait_for 10 \
    "[ \$(admin HEXISTS busmon:workers e5) = 1 ] && [ \$(admin HEXISTS busmon:workers flaky) = 0 ]"
bm_eq "the hash holds the 5 workers tracked (and _updated)" 6 "$(admin HLEN busmon:workers)"
# a restart: GET of the checkpoint
kill "$A"
wait "$A" 2>/dev/null
start_agent
bm_check "the restart restored the checkpoint (GET)" bm_wait_for 10 "grep -q 'restored the state from' '$BM_TMP/agent.log'"
bm_check "/ready: 200 as that user" bm_wait_for 15 "[ \$(curl -s -o /dev/null -w '%{http_code}' $BASE/ready) = 200 ]"
bm_eq "no command was denied" 0 "$(grep -c 'denies' "$BM_TMP/agent.log")"
bm_eq "no NOPERM anywhere in the log" 0 "$(grep -c NOPERM "$BM_TMP/agent.log")"
bm_eq "busmon_redis_denied_total is 0 for every command" 0 \
    "$(curl -s $BASE/metrics | awk '$1 ~ /^busmon_redis_denied_total/ { s += $2 } END { print s + 0 }')"

# ---- the CLI, read-only ------------------------------------------------------------------------
cli() { "$BUSMON" --redis "$DB" --redis-username busmon-cli --redis-password-file "$BM_TMP/cli.pw" "$@"; }
tx=$(admin --scan --pattern 'busmon:trace:tx-*' | head -1)
tx=${tx#busmon:trace:}
for cmd in "workers" "worker e5" "errors" "stats" "system" "alerts" "trace $tx" "top --once" \
    "deadletters" "deadletters --json"; do
    cli $cmd >"$BM_TMP/cli.out" 2>&1
    bm_eq "busmon $cmd as the read-only user" "0 " "$? $(grep -i noperm "$BM_TMP/cli.out")"
done
timeout 2 "$BUSMON" --redis "$DB" --redis-username busmon-cli --redis-password-file "$BM_TMP/cli.pw" \
    alerts --watch >/dev/null 2>"$BM_TMP/watch.err"
bm_eq "busmon alerts --watch may SUBSCRIBE" 0 "$(grep -ci noperm "$BM_TMP/watch.err")"
bm_check "the read-only user cannot write" bash -c "redis-cli -p $BM_PORT -n 3 --user busmon-cli --pass cli-pw --no-auth-warning SET busmon:x 1 | grep -q NOPERM"

# ---- a command taken away: logged once, on /ready and /metrics, ingest goes on ---------------
admin ACL SETUSER busmon -publish >/dev/null
before=$(admin XLEN busmon:events)
"$PRODUCER" --redis "$DB" --count 10 --rate 800 --seed 5 >/dev/null
bm_check "PUBLISH denied: said with the words that fix it" bm_wait_for 10 \
    "grep -q 'redis denies the command publish to user busmon.*ACL SETUSER busmon +publish' '$BM_TMP/agent.log'"
sleep 3 # several rollups, each with a PUBLISH
bm_eq "... once, however many times it is denied" 1 "$(grep -c 'denies the command publish' "$BM_TMP/agent.log")"
bm_check "... counted on /metrics" bash -c "curl -s $BASE/metrics | awk '\$1 == \"busmon_redis_denied_total{command=\\\"publish\\\"}\" && \$2 > 2 { ok = 1 } END { exit !ok }'"
code=$(curl -s -o "$BM_TMP/ready.json" -w '%{http_code}' $BASE/ready)
bm_eq "... /ready: 503" 503 "$code"
bm_check "... /ready names it and the fix" jq -e '.reasons[] | select(test("redis denies publish.*ACL SETUSER busmon \\+publish"))' "$BM_TMP/ready.json"
bm_check "ingest goes on without PUBLISH" bm_wait_for 15 \
    "[ \"\$(admin XPENDING busmon:events busmon | head -1)\" = 0 ]"
n1=$(admin XLEN busmon:rollups)
bm_check "rollups still go to the stream" bm_wait_for 5 "[ \$(admin XLEN busmon:rollups) -gt $n1 ]"

admin ACL SETUSER busmon -rpush >/dev/null
"$PRODUCER" --redis "$DB" --count 10 --rate 800 --seed 6 >/dev/null
bm_check "RPUSH denied (traces): said once" bm_wait_for 10 \
    "[ \$(grep -c 'denies the command rpush' '$BM_TMP/agent.log') = 1 ]"
bm_check "ingest goes on without storing traces (nothing retried for ever)" bm_wait_for 15 \
    "[ \"\$(admin XPENDING busmon:events busmon | head -1)\" = 0 ]"
admin ACL SETUSER busmon +publish +rpush >/dev/null
bm_check "the agent is alive" kill -0 "$A"

bm_finish
