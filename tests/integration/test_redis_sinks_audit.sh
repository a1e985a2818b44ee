#!/usr/bin/env bash
# The Redis sinks when Redis does not take their writes:
#   1. a key of another type (WRONGTYPE): every refused write is counted
#      failed, and the log says which output and which key, with Redis's
#      answer, once for the whole burst (not once per rollup, not only the
#      writer's line without a key); when the key is usable again one line
#      says so and the stream is written;
#   2. Redis stalled (SIGSTOP: connected, never answering): a sink holds at
#      most max_pending bytes of unanswered writes; beyond that its messages
#      are dropped and counted, said once, not piled up in the output buffer
#      until the connection breaks; when Redis answers again it writes again;
#   3. outputs.rollup_max_bytes holds with business metrics: 50 tagged series
#      (~70 KB) in a 16 KiB budget were written whole, the entry 4 x its
#      bound; now the series that fit, the rest counted in metrics.omitted;
#   4. busmon:deadletter of another type: its XADD is refused and sent again,
#      and until it is stored no entry is acked (by design: stored before
#      acked); /ready and one log line name the stream, not only Redis's
#      "WRONGTYPE ..."; once the key is gone the entries are acked.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
PRODUCER="$BM_BUILD/busmon-demo-producer"
metric() { bm_metric "$HPORT" "$1"; }
out() { metric "busmon_output_$1{output=\"$2\",type=\"redis_stream\"}"; }

# --- 1. a key of another type ------------------------------------------------------------
bm_cli SET busmon:rollups not-a-stream >/dev/null
"$AGENT" --block-ms 100 --rollup-interval 100ms --health-interval 100ms \
    --http "127.0.0.1:$HPORT" >"$BM_TMP/agent1.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$PRODUCER" --count 100 --rate 2000 --seed 5 >/dev/null 2>&1 || echo "FAIL - the producer failed"
bm_check "rollups: the refused writes are counted failed" bm_wait_for 20 \
    '[ "$(out failed_total rollups)" -ge 5 ]'
refused=$(grep -c 'output rollups: Redis refused the write to busmon:rollups: WRONGTYPE' \
    "$BM_TMP/agent1.log")
bm_eq "rollups: the refusal is logged once, naming the output and the key ($(out failed_total rollups) refused)" \
    1 "$refused"
bm_cli DEL busmon:rollups >/dev/null
bm_check "rollups: written again once the key is a stream" bm_wait_for 10 \
    '[ "$(bm_cli_raw XLEN busmon:rollups)" -gt 0 ]'
bm_check "rollups: one line says Redis takes the writes again" bm_wait_for 5 \
    "grep -q 'output rollups: Redis takes the writes to busmon:rollups again' '$BM_TMP/agent1.log'"
kill -INT "$A"
wait "$A"
bm_eq "the agent exits 0 on SIGINT" 0 "$?"

# --- 2. Redis stalled --------------------------------------------------------------------
cat >"$BM_TMP/stall.yaml" <<EOF
outputs:
  sinks:
    - name: copy
      type: redis_stream
      stream: copy:rollups
      topics: rollup
      max_pending: 20k
EOF
"$AGENT" --config "$BM_TMP/stall.yaml" --block-ms 100 --rollup-interval 100ms \
    --http "127.0.0.1:$HPORT" >"$BM_TMP/agent2.log" 2>&1 &
A=$!
BM_PIDS+=($A)
bm_check "copy: rollups are written" bm_wait_for 20 '[ "$(bm_cli_raw XLEN copy:rollups)" -gt 0 ]'
kill -STOP "$BM_REDIS_PID"
bm_check "copy: with Redis stalled, rollups are dropped and counted" bm_wait_for 30 \
    '[ "$(out dropped_total copy)" -ge 10 ]'
q1=$(out queued copy)
bm_wait_for 3 '[ "$(out dropped_total copy)" -ge 20 ]'
q2=$(out queued copy)
bm_eq "copy: what waits for Redis stops growing (queued $q1, then $q2)" "$q1" "$q2"
bm_check "copy: a few rollups wait, no more than 20k bytes' worth ($q2)" [ "${q2:-99}" -le 10 ]
bm_eq "copy: the drops are logged once" 1 \
    "$(grep -c 'output copy: Redis has not answered .* bytes of writes to copy:rollups (max_pending 20000)' "$BM_TMP/agent2.log")"
kill -CONT "$BM_REDIS_PID"
bm_check "copy: written again once Redis answers" bm_wait_for 10 \
    "grep -q 'output copy: Redis answers again: writing to copy:rollups' '$BM_TMP/agent2.log'"
sent=$(out sent_total copy)
bm_check "copy: sent goes on ($sent)" bm_wait_for 10 "[ \"\$(out sent_total copy)\" -gt $sent ]"
bm_eq "rollups (default max_pending) dropped nothing" 0 "$(out dropped_total rollups)"
kill -INT "$A"
wait "$A"
bm_eq "the agent exits 0 on SIGINT" 0 "$?"

# --- 3. rollup_max_bytes with business metrics -----------------------------------------------
bm_cli DEL busmon:rollups >/dev/null
printf 'outputs:\n  rollup_max_bytes: 16384\n' >"$BM_TMP/small.yaml"
"$AGENT" --config "$BM_TMP/small.yaml" --block-ms 100 --rollup-interval 200ms --http "127.0.0.1:$HPORT" \
    >"$BM_TMP/agent3.log" 2>&1 &
A=$!
BM_PIDS+=($A)
for i in $(seq 0 59); do
    echo "XADD busmon:events * type metric name checkout_latency_ms value $i tag.region region-$i tag.service checkout-service-$i tag.tier premium"
done | redis-cli -p "$BM_PORT" >/dev/null
"$PRODUCER" --count 50 --rate 2000 --seed 5 >/dev/null 2>&1 || echo "FAIL - the producer failed"
latest() { bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | awk 'p { print; exit } $0 == "json" { p = 1 }'; }
bm_check "a rollup with the 60 series is published" bm_wait_for 20 \
    "latest | jq -e '.metrics.series == 60 and .summary.total_workers == 4'"
entry_bytes=$(redis-cli -p "$BM_PORT" --raw EVAL \
    "local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][2]; local n = 0; for i = 2, #e, 2 do n = n + #e[i] end; return n" \
    1 busmon:rollups)
bm_check "the entry (m + json) is within rollup_max_bytes 16384 ($entry_bytes bytes)" \
    [ "${entry_bytes:-999999}" -le 16384 ]
bm_eq "kept + omitted series = every series" 60 \
    "$(latest | jq '(.metrics.items | length) + .metrics.omitted')"
kill -INT "$A"
wait "$A"
bm_eq "the agent exits 0 on SIGINT" 0 "$?"

# --- 4. a dead-letter stream of another type ---------------------------------------------------
bm_cli SET busmon:deadletter not-a-stream >/dev/null
"$AGENT" --block-ms 100 --http "127.0.0.1:$HPORT" >"$BM_TMP/agent4.log" 2>&1 &
A=$!
BM_PIDS+=($A)
bm_check "HTTP up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HPORT/health"
for i in 1 2 3; do bm_cli XADD busmon:events '*' junk "$i" >/dev/null; done
ready() { curl -s "http://127.0.0.1:$HPORT/ready"; }
bm_check "/ready names the dead-letter stream" bm_wait_for 10 \
    "ready | jq -e '.reasons | any(test(\"WRONGTYPE.*XADD busmon:deadletter\"))'"
bm_eq "one log line names it" 1 \
    "$(grep -c 'dead-letter not written to busmon:deadletter: WRONGTYPE' "$BM_TMP/agent4.log")"
bm_cli DEL busmon:deadletter >/dev/null
bm_check "once the key is gone the dead letters are stored" bm_wait_for 20 \
    '[ "$(bm_cli_raw XLEN busmon:deadletter)" -ge 3 ]'
bm_check "and the entries acked" bm_wait_for 20 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
kill -INT "$A"
wait "$A"
bm_eq "the agent exits 0 on SIGINT" 0 "$?"
bm_finish
