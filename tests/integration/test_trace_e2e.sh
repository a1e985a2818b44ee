#!/usr/bin/env bash
# End to end: events in all three encodings (msgpack, JSON in busmon's and the
# MultiAgents Framework's shapes, flat fields) and malformed entries go into a
# real Redis stream; busmon-agent traces the good ones, dead-letters the bad
# ones, acks everything; `busmon trace --json` is checked field by field,
# while the agent runs and after it stopped.
source "$(dirname "$0")/lib.sh"
bm_start_redis
S=busmon:events
J2M="$BM_BUILD/bm-json2msgpack"
BUSMON="$BM_BUILD/busmon"
T0=1700000000000000   # µs

xadd_mp() { "$J2M" | redis-cli -p "$BM_PORT" -x XADD "$S" '*' m >/dev/null; }

# --- msgpack: a command and its result (exact pairing by cmd id)
echo "{\"type\":\"command\",\"id\":\"c-mp-1\",\"tx\":\"tx-mp\",\"worker\":\"fast\",\"step\":\"fetch\",\"ts\":$T0,\"password\":\"hunter2\"}" | xadd_mp
# malformed entries between the good ones
{ printf '\xc1'; head -c 299 /dev/urandom; } > "$BM_TMP/random.bin"   # 0xc1: never valid msgpack
redis-cli -p "$BM_PORT" -x XADD "$S" '*' m < "$BM_TMP/random.bin" >/dev/null
echo "{\"type\":\"result\",\"id\":\"r-mp-1\",\"tx\":\"tx-mp\",\"cmd\":\"c-mp-1\",\"worker\":\"fast\",\"step\":\"fetch\",\"ts\":$((T0 + 25000)),\"duration_ms\":24.5,\"ok\":true}" | xadd_mp
echo '{"type":"command","id":"c-trunc","tx":"tx-trunc","worker":"fast","step":"fetch"}' | "$J2M" --truncate 20 |
    redis-cli -p "$BM_PORT" -x XADD "$S" '*' m >/dev/null
# the same result delivered twice (a producer retry): stored once
echo "{\"type\":\"result\",\"id\":\"r-mp-1\",\"tx\":\"tx-mp\",\"cmd\":\"c-mp-1\",\"worker\":\"fast\",\"step\":\"fetch\",\"ts\":$((T0 + 25000)),\"duration_ms\":24.5,\"ok\":true}" | xadd_mp

# --- JSON, MultiAgents Framework shape: a failure travels as a result with success:false
bm_cli XADD "$S" '*' json '{"id":"c-js-1","type":"command","metadata":{"transaction_id":"tx-js","correlation_id":"tx-js.analyze","timestamp":"2023-11-14T22:13:20.100000","source":"orchestrator"},"payload":{"text":"hello"},"worker_type":"flaky","timeout_seconds":30.0,"priority":1}' >/dev/null
bm_cli XADD "$S" '*' json '[1,2,3]' >/dev/null
bm_cli XADD "$S" '*' json '{"id":"r-js-1","type":"result","metadata":{"transaction_id":"tx-js","correlation_id":"tx-js.analyze","timestamp":"2023-11-14T22:13:20.350000","source":"flaky"},"payload":{},"command_id":"c-js-1","success":false,"error_message":"Connection timeout","error_details":{"error_type":"NetworkError"}}' >/dev/null

# --- flat fields, as a person types them; failure as an error event
bm_cli XADD "$S" '*' type command id c-fl-1 tx tx-flat worker slow step summarize ts $((T0 + 1000000)) >/dev/null
bm_cli XADD "$S" '*' type command worker slow step summarize >/dev/null          # missing tx
bm_cli XADD "$S" '*' type error id e-fl-1 tx tx-flat worker slow step summarize ts $((T0 + 2500000)) error "ValidationError: Invalid input format" >/dev/null
# a 10 MB field
head -c 10485760 /dev/zero | tr '\0' 'x' > "$BM_TMP/big.txt"
redis-cli -p "$BM_PORT" -x XADD "$S" '*' type command tx tx-big worker w blob < "$BM_TMP/big.txt" >/dev/null
bm_cli XADD "$S" '*' type bogus tx tx-x worker w >/dev/null                     # unknown type

# the events are dated 2023 on purpose: the agent believes their times
BUSMON_LIMITS_MAX_CLOCK_SKEW=0 bm_bg "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$S" --block-ms 200
AGENT=$BM_LAST_PID
pending() { redis-cli -p "$BM_PORT" XPENDING "$S" busmon | head -1; }
bm_check "agent acks every entry (good and bad)" bm_wait_for 20 '[ "$(pending)" = 0 ] && [ "$(redis-cli -p $BM_PORT XLEN busmon:deadletter)" = 6 ]'

# --- msgpack trace
J=$("$BUSMON" trace tx-mp --json)
bm_eq "tx-mp status" completed "$(jq -r .status <<<"$J")"
bm_eq "tx-mp event count (duplicate stored once)" 2 "$(jq -r .event_count <<<"$J")"
bm_eq "tx-mp duration" 25 "$(jq -r '.duration_ms|floor' <<<"$J")"
bm_eq "tx-mp first event" "command dispatched fast fetch c-mp-1" "$(jq -r '.events[0]|"\(.type) \(.stage) \(.worker) \(.step) \(.id)"' <<<"$J")"
bm_eq "tx-mp first event time" "2023-11-14T22:13:20.000000Z" "$(jq -r '.events[0].ts' <<<"$J")"
bm_eq "tx-mp result" "result completed fast 24.5 true c-mp-1" "$(jq -r '.events[1]|"\(.type) \(.stage) \(.worker) \(.duration_ms) \(.ok) \(.paired_with)"' <<<"$J")"
bm_eq "tx-mp secret attribute redacted" "[REDACTED]" "$(jq -r '.events[0].attrs.password' <<<"$J")"

# --- MultiAgents JSON trace
J=$("$BUSMON" trace tx-js --json)
bm_eq "tx-js status" failed "$(jq -r .status <<<"$J")"
bm_eq "tx-js command" "command flaky tx-js.analyze 30" "$(jq -r '.events[0]|"\(.type) \(.worker) \(.corr) \(.timeout_seconds)"' <<<"$J")"
bm_eq "tx-js failed result" "result failed flaky false 250 NetworkError Connection timeout" \
    "$(jq -r '.events[1]|"\(.type) \(.stage) \(.worker) \(.ok) \(.duration_ms|round) \(.error.type) \(.error.message)"' <<<"$J")"
bm_eq "tx-js ISO time read as UTC" "2023-11-14T22:13:20.350000Z" "$(jq -r '.events[1].ts' <<<"$J")"

# --- flat trace
J=$("$BUSMON" trace tx-flat --json)
bm_eq "tx-flat status" failed "$(jq -r .status <<<"$J")"
bm_eq "tx-flat error event" "error failed slow summarize 1500 ValidationError Invalid input format" \
    "$(jq -r '.events[1]|"\(.type) \(.stage) \(.worker) \(.step) \(.duration_ms|round) \(.error.type) \(.error.message)"' <<<"$J")"
bm_eq "tx-flat total duration" 1500 "$(jq -r '.duration_ms|round' <<<"$J")"

# --- the dead-letter stream: reason, source stream and id, per bad entry
reasons=$(redis-cli -p "$BM_PORT" --raw XRANGE busmon:deadletter - + | awk 'prev=="reason"{print} {prev=$0}' | sort | tr '\n' ' ')
bm_eq "dead-letter reasons" "json_not_object missing_tx not_msgpack not_msgpack oversized unknown_type " "$reasons"
first_src=$(redis-cli -p "$BM_PORT" --raw XRANGE busmon:deadletter - + COUNT 1 | awk 'prev=="stream"{print} {prev=$0}')
bm_eq "dead-letter names its source stream" "$S" "$first_src"
dl_id=$(redis-cli -p "$BM_PORT" --raw XRANGE busmon:deadletter - + COUNT 1 | awk 'prev=="id"{print} {prev=$0}')
bm_check "dead-letter names the source entry id" bm_wait_for 1 "redis-cli -p $BM_PORT --raw XRANGE $S $dl_id $dl_id | grep -q ."
big_len=$(redis-cli -p "$BM_PORT" --raw XRANGE busmon:deadletter - + | awk 'prev=="f.blob"{print length($0)} {prev=$0}')
bm_eq "a 10 MB field is copied cut to 64 KiB" 65536 "$big_len"

# --- text output, errors, help
bm_check "text output has the header and the error" bash -c "'$BUSMON' trace tx-flat | grep -q 'ValidationError: Invalid input format'"
bm_check "text output shows status" bash -c "'$BUSMON' trace tx-flat | grep -q 'status:   failed'"
"$BUSMON" trace no-such-tx >/dev/null 2>"$BM_TMP/err.txt"; rc=$?
bm_eq "unknown transaction exits 1" 1 "$rc"
bm_check "unknown transaction says so" grep -q "no trace for transaction 'no-such-tx'" "$BM_TMP/err.txt"
bm_check "busmon trace --help explains itself" bash -c "'$BUSMON' trace --help | grep -q 'timeline'"

# --- TTL = trace retention
ttl=$(redis-cli -p "$BM_PORT" TTL busmon:trace:tx-mp)
bm_check "trace key has a TTL near 24 h ($ttl)" test "$ttl" -gt 86000 -a "$ttl" -le 86400

# --- a running transaction shows within traces.flush_interval (1 s) + a write:
# its command alone, then its result read in a later interval appended to the
# same key (no second EXPIRE needed: the key keeps the TTL of its first write)
now_us() { echo $(( $(date +%s%N) / 1000 )); }
bm_cli XADD "$S" '*' type command id c-live tx tx-live worker fast step fetch ts "$(now_us)" >/dev/null
live_events() { "$BUSMON" trace tx-live --json 2>/dev/null | jq -r .event_count; }
bm_check "a running transaction shows in busmon trace within 2 s" bm_wait_for 2 '[ "$(live_events)" = 1 ]'
bm_eq "... as running" running "$("$BUSMON" trace tx-live --json | jq -r .status)"
sleep 1.2
bm_cli XADD "$S" '*' type result id r-live tx tx-live cmd c-live worker fast step fetch ok 1 ts "$(now_us)" >/dev/null
bm_check "its answer a flush interval later shows within 2 s" bm_wait_for 2 '[ "$(live_events)" = 2 ]'
bm_eq "... completed" completed "$("$BUSMON" trace tx-live --json | jq -r .status)"
ttl=$(redis-cli -p "$BM_PORT" TTL busmon:trace:tx-live)
bm_check "the key written twice keeps its first write's TTL ($ttl)" test "$ttl" -gt 86000 -a "$ttl" -le 86400

# --- SIGTERM: flush, exit 0; traces still readable after the agent stopped
kill -TERM "$AGENT"
wait "$AGENT"; rc=$?
bm_eq "agent exits 0 on SIGTERM" 0 "$rc"
bm_eq "trace readable after the agent stopped" completed "$("$BUSMON" trace tx-mp --json | jq -r .status)"
bm_finish
