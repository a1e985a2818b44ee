#!/usr/bin/env bash
# Cardinality that heals, against a real Redis: 100,000 junk worker names
# fill the 1,000-worker table (refusals counted, one log line per burst
# naming one); once they are idle for limits.max_idle, real workers get in
# and are tracked (`busmon worker fast`), the evicted ones leave
# busmon:workers; the same for error types (200); and the rollup stream
# stays bounded in bytes: with 1,000 workers each entry (m + json) is at most
# outputs.rollup_max_bytes (128 KiB), the rest summarised in "omitted".
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PRODUCER="$BM_BUILD/busmon-demo-producer"
JUNK="$BM_SRC/tests/integration/junk_events.py"
unset BUSMON_HTTP
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
metric() { curl -s -m 5 "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
acked() { [ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ] &&
    [ "$(bm_cli_raw XINFO GROUPS busmon:events | awk 'p { print; exit } $0 == "lag" { p = 1 }')" = 0 ]; }

cat >"$BM_TMP/agent.yaml" <<EOF
limits:
  max_idle: 6s
traces:
  max_transactions: 2000
EOF
bm_bg "$AGENT" --config "$BM_TMP/agent.yaml" --http "127.0.0.1:$HPORT" --block-ms 100 \
    --rollup-interval 1 --checkpoint-interval 1s
A=$BM_LAST_PID
LOG="$BM_TMP/busmon-agent.log"
bm_check "HTTP up" bm_wait_for 10 "curl -sf $BASE/health"

# ---- 100,000 junk workers -----------------------------------------------------------------
start=$(date +%s%N)
python3 "$JUNK" "$BM_PORT" busmon:events workers 100000 >/dev/null
bm_check "100,000 junk events ingested" bm_wait_for 120 acked
echo "note: 100,000 junk events written and ingested in $((($(date +%s%N) - start) / 1000000)) ms"
bm_eq "the table is full: 1,000 workers" 1000 "$(metric busmon_workers)"
# every junk name past the first 1,000 is refused, unless ingest took longer
# than max_idle (a loaded machine): then the idle ones made room, each counted
refused=$(metric busmon_workers_refused_total) evicted=$(metric busmon_workers_evicted_total)
[ "${evicted:-0}" = 0 ] || echo "note: ingest outlasted max_idle: $evicted junk workers evicted for later ones"
bm_eq "99,000 refused, or let in by evicting an idle one, all counted" 99000 "$((refused + evicted))"
lines=$(grep -c 'worker table full: 1000; refused .junk-' "$LOG")
bm_check "one log line per burst, naming one refused ($lines)" [ "$lines" -ge 1 -a "$lines" -le 2 ]
bm_check "the line says what heals it" grep -q 'idle longer than limits.max_idle are evicted' "$LOG"

# ---- the rollup entry: bounded in bytes ------------------------------------------------------
bm_check "a rollup with 1,000 workers is published" bm_wait_for 10 \
    "[ \"\$('$BUSMON' workers --json | jq .summary.total_workers)\" = 1000 ]"
redis-cli -p "$BM_PORT" --raw XREVRANGE busmon:rollups + - COUNT 1 >"$BM_TMP/entry.txt"
# the entry's fields: id, m, <msgpack>, json, <json> (the msgpack may hold newlines: measure in Redis)
json_bytes=$(bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | awk 'p { print; exit } $0 == "json" { p = 1 }' | wc -c)
entry_bytes=$(redis-cli -p "$BM_PORT" --raw EVAL \
    "local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][2]; local n = 0; for i = 2, #e, 2 do n = n + #e[i] end; return n" \
    1 busmon:rollups)
echo "note: latest rollup entry: $entry_bytes bytes (m + json; json $json_bytes)"
bm_check "the entry is within 128 KiB ($entry_bytes bytes)" [ "$entry_bytes" -le 131072 ]
omitted=$(awk 'p { print; exit } $0 == "json" { p = 1 }' "$BM_TMP/entry.txt" | jq .omitted.workers)
kept=$(awk 'p { print; exit } $0 == "json" { p = 1 }' "$BM_TMP/entry.txt" | jq '.workers | length')
echo "note: $kept workers in the entry, $omitted summarised in \"omitted\""
bm_eq "kept + omitted = every worker" 1000 "$((kept + omitted))"
bm_check "busmon workers says how many were left out" \
    bash -c "'$BUSMON' workers | grep -q 'and $omitted less active worker'"
sleep 4
n=$(bm_cli_raw XLEN busmon:rollups)
mem=$(bm_cli_raw MEMORY USAGE busmon:rollups)
echo "note: busmon:rollups: $n entries, $mem bytes in Redis ($((mem / n)) per entry); 460 such entries (MAXLEN ~ 360 + one node): $((mem / n * 460 / 1048576)) MiB"
bm_check "460 entries of this size stay under 64 MB" [ $((mem / n * 460)) -lt 67108864 ]

# ---- junk error types -------------------------------------------------------------------------
python3 "$JUNK" "$BM_PORT" busmon:events errors 300 >/dev/null
bm_check "300 junk error types ingested" bm_wait_for 30 acked
bm_eq "the error type table is full: 200 and 100 refused" "100" "$(metric busmon_error_types_refused_total)"
bm_check "one line for them too" bash -c "[ \$(grep -c \"error type table full: 200; refused 'JunkError\" '$LOG') -ge 1 ]"

# ---- once the junk is idle, real workers and error types get in -----------------------------
sleep 7 # limits.max_idle: 6 s
"$PRODUCER" --count 60 --rate 1000 --seed 9 >/dev/null
bm_check "real events ingested" bm_wait_for 30 acked
for w in fast slow flaky cpu_heavy; do
    bm_check "busmon worker $w: tracked" bm_wait_for 10 "'$BUSMON' worker $w >/dev/null"
done
ev=$(metric busmon_workers_evicted_total)
bm_check "idle junk workers were evicted for them ($ev)" [ "${ev:-0}" -ge 4 ]
bm_eq "still 1,000 workers" 1000 "$(metric busmon_workers)"
bm_check "busmon workers lists the real ones (the most active)" \
    bash -c "'$BUSMON' workers --json | jq -e '[.workers[].name] | index(\"fast\") and index(\"flaky\")' >/dev/null"
bm_check "the evicted leave busmon:workers" bm_wait_for 10 \
    "[ \$(bm_cli_raw HLEN busmon:workers) -le 1001 ] && [ \$(bm_cli_raw HEXISTS busmon:workers fast) = 1 ]"
bm_check "a real error type got in: NetworkError" bm_wait_for 10 \
    "'$BUSMON' errors --json | jq -e '.errors[] | select(.type == \"NetworkError\" or .type == \"ValidationError\" or .type == \"TimeoutError\")' >/dev/null"
bm_check "error types were evicted for it" [ "$(metric busmon_error_types_evicted_total)" -ge 1 ]
rss=$(awk '/VmHWM/ { print $2 }' /proc/$A/status)
echo "note: agent peak RSS $((rss / 1024)) MiB"
bm_check "the agent is alive" kill -0 "$A"
bm_finish
