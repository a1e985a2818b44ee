#!/usr/bin/env bash
# State that survives kill -9, Redis faults and poison entries, against real
# redis-servers and the demo producer's ground truth:
#   A. the agent killed with kill -9 ten times at random moments while the
#      producer writes ~50,000 events, restarted each time with the same
#      consumer: per-worker executions, successes and failures exact, p95
#      within 1 %, sampled traces complete without a duplicate event,
#      nothing pending;
#   B. Redis (AOF, fsync always) restarted 3 times while the agent drains a
#      backlog: the same exact figures;
#   C. Redis at maxmemory with noeviction: no entry is acked before its
#      trace is stored, /ready and /metrics say why; memory freed: every
#      trace there, figures exact;
#   D. two agents in one group, one killed for good: its pending entries are
#      claimed by the other within min_idle + interval and traced;
#   E. an entry delivered more than reclaim.max_deliveries times is
#      dead-lettered as poison and never applied;
#   E2. our own pending entry delivered too often (re-read at each restart):
#      the same;
#   F. thirty 10 MB entries: peak RSS within 64 MiB of a run without them,
#      all dead-lettered with their size, the good entries around them traced;
#   F2. 40 MB entries pending for us and for a dead consumer: measured in
#      Redis, dead-lettered by their size, never loaded;
#   G. the agent started before Redis: /health 200, /ready 503 with the
#      reason; then it works, nothing lost.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PRODUCER="$BM_BUILD/busmon-demo-producer"
export BUSMON_HTTP=off

# truth FILE: "worker executions successes failures" per worker, sorted
truth() { awk -F'\t' 'NF == 3 && ($2 == "ok" || $2 == "fail") { n[$1]++; if ($2 == "ok") ok[$1]++; else f[$1]++ }
    END { for (w in n) print w, n[w], ok[w] + 0, f[w] + 0 }' "$1" | sort; }
# seen URL: the same from busmon's rollup (1h window)
seen() { "$BUSMON" --redis "$1" workers --json --window 1h 2>/dev/null |
    jq -r '.workers[] | "\(.name) \(.executions) \(.successes) \(.failures)"' | sort; }
# p95_ok URL FILE: each worker's p95 within 1 % of the exact one (nearest rank)
p95_ok() {
    local w exact got
    for w in fast slow flaky cpu_heavy; do
        exact=$(awk -F'\t' -v w="$w" '$1 == w && NF == 3 { print $3 }' "$2" | sort -n |
            awk '{ v[NR] = $1 } END { r = int(0.95 * NR); if (r < 0.95 * NR) r++; print v[r] }')
        got=$("$BUSMON" --redis "$1" workers --json --window 1h |
            jq -r --arg w "$w" '.workers[] | select(.name == $w) | .p95_ms')
        awk -v a="$exact" -v b="$got" 'BEGIN { d = (a - b) / a; if (d < 0) d = -d; exit !(d <= 0.01) }' ||
            { echo "  $w: p95 exact $exact ms, busmon $got ms"; return 1; }
    done
}
# pending PORT STREAM: entries pending in the group
pending() { redis-cli -p "$1" XPENDING "$2" busmon | head -1; }
# traces_ok URL PORT FILE: every transaction in FILE (one a line) traced, each event once,
# every command answered
traces_ok() {
    local tx j
    while read -r tx; do
        j=$("$BUSMON" --redis "$1" trace "$tx" --json 2>/dev/null) || { echo "  $tx: not traced"; return 1; }
        jq -e '([.events[].id] | length == (unique | length)) and
               ([.events[] | select(.type == "command" and .paired_with == null)] | length == 0)' \
            <<<"$j" >/dev/null || { echo "  $tx: duplicate or unanswered"; return 1; }
    done <"$3"
}
# agent_start URL NAME [flags]: an agent in the background, its pid in $AG
agent_start() {
    local url=$1 name=$2; shift 2
    "$AGENT" --redis "$url" --consumer "$name" --block-ms 100 --rollup-interval 500ms \
        --checkpoint-interval 500ms "$@" >>"$BM_TMP/agent-$name.log" 2>&1 &
    AG=$!
    BM_PIDS+=($AG)
}
# stop_agent PID: SIGINT, wait
stop_agent() { kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# --- A. kill -9 ten times under load ------------------------------------------------------
bm_start_redis
"$PRODUCER" --count 14000 --rate 3500 --seed 21 --ground-truth "$BM_TMP/a.tsv" --print-tx \
    >"$BM_TMP/a.tx" 2>/dev/null &
PROD=$!
BM_PIDS+=($PROD)
agent_start "$BM_URL" a1
kills=0
while kill -0 "$PROD" 2>/dev/null && [ "$kills" -lt 10 ]; do
    sleep "1.$((RANDOM % 8))"
    kill -9 "$AG" 2>/dev/null; wait "$AG" 2>/dev/null
    kills=$((kills + 1))
    agent_start "$BM_URL" a1
done
wait "$PROD"
bm_eq "A: the agent was killed ten times while the producer wrote" 10 "$kills"
bm_check "A: the producer wrote at least 50,000 events" [ "$(bm_cli_raw XLEN busmon:events)" -ge 50000 ]
bm_check "A: every entry acked (XPENDING 0)" bm_wait_for 30 '[ "$(pending $BM_PORT busmon:events)" = 0 ]'
bm_check "A: per-worker executions, successes, failures exactly as produced" bm_wait_for 20 \
    '[ "$(seen $BM_URL)" = "$(truth $BM_TMP/a.tsv)" ]'
[ "$(seen "$BM_URL")" = "$(truth "$BM_TMP/a.tsv")" ] || { echo "  truth:"; truth "$BM_TMP/a.tsv"; echo "  seen:"; seen "$BM_URL"; }
bm_check "A: each worker's p95 within 1 % of the exact one" p95_ok "$BM_URL" "$BM_TMP/a.tsv"
shuf -n 40 --random-source=<(yes) "$BM_TMP/a.tx" >"$BM_TMP/a.sample"
bm_check "A: 40 sampled traces complete, each event once" traces_ok "$BM_URL" "$BM_PORT" "$BM_TMP/a.sample"
bm_check "A: the state was restored from checkpoints" \
    [ "$(grep -c 'restored the state from busmon:state:a1' "$BM_TMP/agent-a1.log")" -ge 5 ]
stop_agent "$AG"

# --- B. Redis restarted 3 times (AOF) while the agent drains --------------------------------
BP=$(bm_free_port)
mkdir -p "$BM_TMP/b"
redis_b() {
    redis-server --port "$BP" --bind 127.0.0.1 --dir "$BM_TMP/b" --appendonly yes \
        --appendfsync always --save '' --daemonize no --loglevel warning >>"$BM_TMP/b/redis.log" 2>&1 &
    RB=$!
    BM_PIDS+=($RB)
    bm_wait_for 20 "redis-cli -p $BP ping"
}
redis_b
BURL="redis://127.0.0.1:$BP"
"$PRODUCER" --redis "$BURL" --count 60000 --rate 200000 --seed 22 --ground-truth "$BM_TMP/b.tsv" \
    >/dev/null 2>&1 || echo "FAIL - B: the producer failed"
agent_start "$BURL" b1 --batch 200
for i in 1 2 3; do
    sleep 0.6
    redis-cli -p "$BP" shutdown >/dev/null 2>&1; wait "$RB" 2>/dev/null
    redis_b || echo "FAIL - B: redis did not come back"
done
bm_check "B: every entry acked after 3 restarts" bm_wait_for 60 '[ "$(pending $BP busmon:events)" = 0 ]'
bm_check "B: per-worker figures exactly as produced" bm_wait_for 20 \
    '[ "$(seen $BURL)" = "$(truth $BM_TMP/b.tsv)" ]'
bm_check "B: the agent lost Redis and reconnected" grep -q 'reconnecting to' "$BM_TMP/agent-b1.log"
stop_agent "$AG"
redis-cli -p "$BP" shutdown nosave >/dev/null 2>&1

# --- C. Redis at maxmemory (noeviction), then memory freed -------------------------------------
# Flat events written by the test itself (its own ground truth), so every
# entry's transaction and event id can be checked against what is stored.
CP=$(bm_free_port)
redis-server --port "$CP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --loglevel warning --maxmemory-policy noeviction >"$BM_TMP/c-redis.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "redis-cli -p $CP ping"
CURL="redis://127.0.0.1:$CP"
# gen FROM TO: flat commands and results for transactions FROM..TO, with the truth
gen() { awk -v from="$1" -v to="$2" 'BEGIN { for (i = from; i <= to; i++) {
        w = "w" (i % 3); ok = (i % 7 == 0) ? "false" : "true"
        printf "XADD busmon:events * type command tx tx%06d worker %s id c%06d\n", i, w, i
        printf "XADD busmon:events * type result tx tx%06d worker %s id r%06d cmd c%06d ok %s duration_ms %d\n", i, w, i, i, ok, 10 + i % 90
        print w "\t" (ok == "true" ? "ok" : "fail") "\t" (10 + i % 90) >> "'"$BM_TMP/c.tsv"'"
        printf "tx%06d\n", i >> "'"$BM_TMP/c.tx"'" } }' | redis-cli -p "$CP" >/dev/null; }
HC=$(bm_free_port)
gen 1 1000 # first these are read, stored and acked; then Redis fills up
agent_start "$CURL" c1 --http "127.0.0.1:$HC"
# all read (the group's lag 0) and acked: pending alone is 0 before the first read too
bm_wait_for 20 '[ "$(redis-cli -p $CP --raw XINFO GROUPS busmon:events | awk "prev == \"lag\" { print } { prev = \$0 }")" = 0 ] && [ "$(pending $CP busmon:events)" = 0 ]'
stop_agent "$AG"
gen 1001 3000
used=$(redis-cli -p "$CP" INFO memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
redis-cli -p "$CP" CONFIG SET maxmemory $((used + 200000)) >/dev/null
agent_start "$CURL" c1 --http "127.0.0.1:$HC"
bm_check "C: writes are refused and retried (busmon_writes_retried_total > 0)" bm_wait_for 20 \
    "curl -s http://127.0.0.1:$HC/metrics | awk '\$1 == \"busmon_writes_retried_total\" && \$2 > 0 { ok = 1 } END { exit !ok }'"
bm_check "C: /ready is 503 and says Redis refuses writes" bm_wait_for 5 \
    "curl -s http://127.0.0.1:$HC/ready | jq -e '.reasons | any(test(\"refuses writes.*OOM\"))'"
sleep 2
bm_check "C: entries are held pending while writes fail" [ "$(pending $CP busmon:events)" -gt 0 ]
# each acked entry (read, no longer pending) has its event in its stored trace
redis-cli -p "$CP" --raw XPENDING busmon:events busmon - + 100000 | awk 'NR % 4 == 1' | sort >"$BM_TMP/c.pending"
redis-cli -p "$CP" --raw XRANGE busmon:events - + COUNT 100000 |
    awk '/^[0-9]+-[0-9]+$/ { if (id != "") print id, tx, ev; id = $0; tx = ev = ""; next }
         prev == "tx" { tx = $0 } prev == "id" { ev = $0 } { prev = $0 }
         END { if (id != "") print id, tx, ev }' | sort >"$BM_TMP/c.entries"
last=$(redis-cli -p "$CP" --raw XINFO GROUPS busmon:events | awk 'prev == "last-delivered-id" { print } { prev = $0 }')
join -v 1 "$BM_TMP/c.entries" "$BM_TMP/c.pending" |
    awk -v last="$last" '{ split($1, a, "-"); split(last, b, "-"); if (a[1] < b[1] || (a[1] == b[1] && a[2] <= b[2])) print }' \
    >"$BM_TMP/c.acked"
echo "  $(wc -l <"$BM_TMP/c.acked") entries acked, $(wc -l <"$BM_TMP/c.pending") pending while Redis refuses writes"
bm_check "C: the first 2,000 entries were acked before Redis filled up" [ "$(wc -l <"$BM_TMP/c.acked")" -ge 2000 ]
bm_eq "C: none of the 4,000 entries after it is acked while writes fail" 0 \
    "$(awk '$2 > "tx001000"' "$BM_TMP/c.acked" | wc -l)"
missing=0
while read -r id tx ev; do
    redis-cli -p "$CP" --raw LRANGE "busmon:trace:$tx" 0 -1 | grep -aq "$ev" || { missing=$((missing + 1)); echo "  acked, not stored: $id $tx $ev"; }
done < <(shuf -n 300 --random-source=<(yes) "$BM_TMP/c.acked")
bm_eq "C: no acked entry without its event stored (300 sampled)" 0 "$missing"
redis-cli -p "$CP" CONFIG SET maxmemory 0 >/dev/null
bm_check "C: memory freed: every entry acked" bm_wait_for 40 '[ "$(pending $CP busmon:events)" = 0 ]'
bm_check "C: figures exactly as written" bm_wait_for 20 '[ "$(seen $CURL)" = "$(truth $BM_TMP/c.tsv)" ]'
[ "$(seen "$CURL")" = "$(truth "$BM_TMP/c.tsv")" ] || { truth "$BM_TMP/c.tsv"; seen "$CURL"; }
shuf -n 40 --random-source=<(yes) "$BM_TMP/c.tx" >"$BM_TMP/c.sample"
bm_check "C: sampled traces all there and complete" traces_ok "$CURL" "$CP" "$BM_TMP/c.sample"
bm_check "C: /ready is 200 again" bm_wait_for 10 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HC/ready)\" = 200 ]"
stop_agent "$AG"

# --- D. two agents, one killed for good: its pending entries are reclaimed ---------------------
export BUSMON_RECLAIM_INTERVAL=1s BUSMON_RECLAIM_MIN_IDLE=2s
bm_cli DEL busmon:events >/dev/null
"$PRODUCER" --count 3000 --rate 200000 --seed 24 --stream d:events --print-tx >"$BM_TMP/d.tx" \
    2>/dev/null || echo "FAIL - D: the producer failed"
# d1 reads a share and is killed before its acks: make it hold entries by killing it at once
agent_start "$BM_URL" d1 --stream d:events --batch 500 --checkpoint-interval 30s
D1=$AG
bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT XPENDING d:events busmon | head -1)" -gt 0 ]'
kill -9 "$D1"; wait "$D1" 2>/dev/null
held=$(redis-cli -p "$BM_PORT" XPENDING d:events busmon - + 100000 d1 | awk 'NR % 4 == 1' | wc -l)
bm_check "D: the dead agent held entries ($held)" [ "$held" -gt 0 ]
t0=$SECONDS
agent_start "$BM_URL" d2 --stream d:events
# d1 checkpoints every 30 s: by its checkpoint it may be alive for 60 s (its
# entries applied, unacked), so d2 knows it dead by its registry heartbeat,
# stale after cluster.stale (5 s)
bm_check "D: the survivor claims them within cluster.stale + interval (5 s + 1 s, + 4 s slack)" bm_wait_for 10 \
    '[ "$(redis-cli -p $BM_PORT XPENDING d:events busmon | head -1)" = 0 ]'
echo "  claimed in $((SECONDS - t0)) s"
shuf -n 40 --random-source=<(yes) "$BM_TMP/d.tx" >"$BM_TMP/d.sample"
# d2 reads the registry before anything else, so at first it takes d1 (killed
# a moment ago) for live and hands it d1's share; the janitor moves that back
# once d1 is stale (cluster.stale 5 s + a round): wait for it
bm_check "D: sampled traces complete (once d1's hand-off stream is moved)" bm_wait_for 30 \
    "traces_ok '$BM_URL' '$BM_PORT' '$BM_TMP/d.sample' >/dev/null"
traces_ok "$BM_URL" "$BM_PORT" "$BM_TMP/d.sample" >/dev/null || traces_ok "$BM_URL" "$BM_PORT" "$BM_TMP/d.sample"
bm_check "D: reclaim counted" bash -c "grep -q . '$BM_TMP/agent-d2.log'"
stop_agent "$AG"

# --- E. poison: delivered too often ---------------------------------------------------------
bm_cli XGROUP CREATE e:events busmon 0 MKSTREAM >/dev/null
PID_E=$(bm_cli_raw XADD e:events '*' type command tx tx-poison worker fast id cmd-poison)
bm_cli XREADGROUP GROUP busmon ghost COUNT 1 STREAMS e:events '>' >/dev/null
bm_cli XCLAIM e:events busmon ghost 0 "$PID_E" RETRYCOUNT 10 >/dev/null
agent_start "$BM_URL" e1 --stream e:events
bm_check "E: the poison entry is dead-lettered" bm_wait_for 15 \
    "bm_cli_raw XRANGE busmon:deadletter - + | grep -aq '^poison$'"
DL=$(bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 1 | paste -sd'|')
bm_check "E: with its delivery count and last consumer ($DL)" grep -q 'delivered 1[01] times.*ghost' <<<"$DL"
bm_eq "E: never applied (no trace)" 0 "$(bm_cli_raw EXISTS busmon:trace:tx-poison)"
bm_check "E: and acked" bm_wait_for 5 '[ "$(redis-cli -p $BM_PORT XPENDING e:events busmon | head -1)" = 0 ]'
stop_agent "$AG"
# E2. our own pending entry, read again at each of our restarts: poison too
PID_E2=$(bm_cli_raw XADD e:events '*' type command tx tx-poison2 worker fast id cmd-poison2)
bm_cli XREADGROUP GROUP busmon e2 COUNT 1 STREAMS e:events '>' >/dev/null
bm_cli XCLAIM e:events busmon e2 0 "$PID_E2" RETRYCOUNT 7 >/dev/null
agent_start "$BM_URL" e2 --stream e:events
bm_check "E2: our own pending poison entry is dead-lettered at restart" bm_wait_for 15 \
    "bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 1 | grep -aq 'delivered 8 times.*last consumer e2'"
bm_eq "E2: never applied (no trace)" 0 "$(bm_cli_raw EXISTS busmon:trace:tx-poison2)"
bm_check "E2: and acked" bm_wait_for 5 '[ "$(redis-cli -p $BM_PORT XPENDING e:events busmon | head -1)" = 0 ]'
stop_agent "$AG"
unset BUSMON_RECLAIM_INTERVAL BUSMON_RECLAIM_MIN_IDLE

# --- F. thirty 10 MB entries ------------------------------------------------------------------
good() { bm_cli XADD f:events '*' type command tx "tx-f$1" worker fast id "c-f$1" >/dev/null
         bm_cli XADD f:events '*' type result tx "tx-f$1" worker fast id "r-f$1" cmd "c-f$1" >/dev/null; }
for i in $(seq 1 30); do good "$i"; done
"$AGENT" --stream f:events --consumer f0 --drain --summary "$BM_TMP/f0.json" >"$BM_TMP/f0.log" 2>&1 ||
    echo "FAIL - F: the idle run failed"
idle=$(jq .peak_rss_bytes "$BM_TMP/f0.json")
bm_cli DEL f:events >/dev/null
head -c 10000000 /dev/zero | tr '\0' 'x' >"$BM_TMP/big"
for i in $(seq 1 30); do
    good "$i"
    redis-cli -p "$BM_PORT" -x XADD f:events '*' m <"$BM_TMP/big" >/dev/null
done
good 31
"$AGENT" --stream f:events --consumer f1 --drain --summary "$BM_TMP/f1.json" >"$BM_TMP/f1.log" 2>&1 ||
    echo "FAIL - F: the run failed"
peak=$(jq .peak_rss_bytes "$BM_TMP/f1.json")
echo "  peak RSS $((peak / 1048576)) MiB with the big entries, $((idle / 1048576)) MiB without"
bm_check "F: peak RSS within 64 MiB of the run without big entries" [ $((peak - idle)) -le $((64 * 1048576)) ]
bm_eq "F: all thirty dead-lettered as oversized" 30 \
    "$(bm_cli_raw XRANGE busmon:deadletter - + | grep -ac '^oversized$')"
bm_check "F: the dead-letter names the size" bash -c \
    "redis-cli -p $BM_PORT --raw XRANGE busmon:deadletter - + | grep -aq 'the entry is 1000000[0-9] bytes'"
bm_eq "F: the good entries around them traced" 31 \
    "$(for i in $(seq 1 31); do bm_cli_raw EXISTS "busmon:trace:tx-f$i"; done | grep -c 1)"

# F2. an entry far above max_entry_bytes pending for us (a read of it that
# failed) or for a dead consumer: measured in Redis, dead-lettered by its
# size, never loaded (the largest read stays small)
bm_cli DEL f:events >/dev/null
head -c 40000000 /dev/zero | tr '\0' 'y' >"$BM_TMP/huge"
good 41
redis-cli -p "$BM_PORT" -x XADD f:events '*' m <"$BM_TMP/huge" >/dev/null
redis-cli -p "$BM_PORT" -x XADD f:events '*' m <"$BM_TMP/huge" >/dev/null
good 42
bm_cli XGROUP CREATE f:events busmon 0 >/dev/null
bm_cli XREADGROUP GROUP busmon f2 COUNT 3 STREAMS f:events '>' >/dev/null   # ours: good 41 + huge
bm_cli XREADGROUP GROUP busmon f2gone COUNT 1 STREAMS f:events '>' >/dev/null # a dead one's
sleep 1
before=$(bm_cli_raw XRANGE busmon:deadletter - + | grep -ac 'measured in Redis')
BUSMON_RECLAIM_INTERVAL=300ms BUSMON_RECLAIM_MIN_IDLE=200ms \
    "$AGENT" --stream f:events --consumer f2 --block-ms 100 \
    --checkpoint-interval 300ms --summary "$BM_TMP/f2.json" >"$BM_TMP/f2.log" 2>&1 &
AG=$!
BM_PIDS+=($AG)
bm_check "F2: both huge entries dead-lettered by their size, measured in Redis" bm_wait_for 20 \
    "[ \$((\$(bm_cli_raw XRANGE busmon:deadletter - + | grep -ac 'the entry is 40000001 bytes.*measured in Redis') - $before)) -eq 2 ]"
bm_check "F2: nothing pending" bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT XPENDING f:events busmon | head -1)" = 0 ]'
stop_agent "$AG"
largest=$(jq '.counters["streams.largest_read_bytes"] // .largest_read_bytes // empty' "$BM_TMP/f2.json")
echo "  largest read: $largest bytes"
bm_check "F2: never loaded (largest read under 1 MiB)" [ -n "$largest" ] && [ "$largest" -lt 1048576 ]
bm_eq "F2: the good entries around them traced" 2 \
    "$(for i in 41 42; do bm_cli_raw EXISTS "busmon:trace:tx-f$i"; done | grep -c 1)"

# --- G. the agent started before Redis -----------------------------------------------------------
GP=$(bm_free_port)
HG=$(bm_free_port)
GURL="redis://127.0.0.1:$GP"
agent_start "$GURL" g1 --http "127.0.0.1:$HG"
bm_check "G: /health is 200 while Redis is away" bm_wait_for 10 \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HG/health)\" = 200 ]"
bm_check "G: /ready is 503 with the reason" bm_wait_for 5 \
    "curl -s http://127.0.0.1:$HG/ready | jq -e '.status == \"not ready\" and (.reasons | any(test(\"not connected\")))'"
bm_check "G: the log says it waits for Redis" grep -q 'not reachable yet: waiting for it' "$BM_TMP/agent-g1.log"
bm_check "G: the agent is still running" kill -0 "$AG"
redis-server --port "$GP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --loglevel warning >"$BM_TMP/g-redis.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "redis-cli -p $GP ping"
"$PRODUCER" --redis "$GURL" --count 500 --rate 5000 --seed 25 --ground-truth "$BM_TMP/g.tsv" \
    >/dev/null 2>&1 || echo "FAIL - G: the producer failed"
bm_check "G: then every entry is acked" bm_wait_for 40 '[ "$(pending $GP busmon:events)" = 0 ]'
bm_check "G: and the figures are exact" bm_wait_for 20 '[ "$(seen $GURL)" = "$(truth $BM_TMP/g.tsv)" ]'
bm_check "G: /ready is 200" bm_wait_for 15 \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HG/ready)\" = 200 ]"
stop_agent "$AG"
bm_finish
