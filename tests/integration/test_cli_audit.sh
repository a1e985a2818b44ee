#!/usr/bin/env bash
# busmon against what Redis may hold or refuse, without an agent: the data
# is written by hand.
#  - a refused read (NOPERM, WRONGTYPE) in top is exit 3 with Redis' words,
#    never "nothing published";
#  - `metrics --window 1h` is the performance window whatever its length (as
#    every view and /api/metrics);
#  - a trace none of whose records can be read is not shown as "running";
#  - the CLI's ACL line lets `busmon trace` count a long trace (LLEN);
#  - `busmon baseline freeze|clear WORKER` with options before the verb;
#  - top and stats show no rate ("-") where there is nothing to rate, as
#    busmon workers does, not 0.0 % success;
#  - traces says it was cut by --limit only when candidates were left unread;
#  - output that cannot be written (a full disk) is exit 4, said on stderr,
#    also for --help and alerts --watch (which stops).
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
AGENT="$BM_BUILD/busmon-agent"
J2M="$BM_BUILD/bm-json2msgpack"

# run NAME CMD...: stdout, stderr and exit code into $BM_TMP/NAME.{out,err}, $rc
run() {
    local name=$1; shift
    "$@" >"$BM_TMP/$name.out" 2>"$BM_TMP/$name.err"; rc=$?
}

# ---- top: a refused read is a failure, said as Redis said it -------------------------------
bm_cli ACL SETUSER norollups on '>pw' '~*' '&*' -@all +ping +xinfo '+hgetall' >/dev/null
bm_cli ACL SETUSER noxinfo on '>pw' '~*' '&*' -@all +ping +xrevrange +hgetall >/dev/null
echo pw >"$BM_TMP/pw"
as() { local u=$1; shift; "$BUSMON" --redis-username "$u" --redis-password-file "$BM_TMP/pw" "$@"; }

run top-noperm as norollups top --once
bm_eq "top: XREVRANGE refused (NOPERM): exit 3" 3 "$rc"
bm_check "top: ... stderr names the key and Redis' answer" \
    grep -q "busmon top: cannot read busmon:rollups: NOPERM" "$BM_TMP/top-noperm.err"
bm_check "top: ... stdout does not say nothing was published" \
    bash -c "! grep -q 'nothing published' '$BM_TMP/top-noperm.out'"

bm_cli SET busmon:rollups not-a-stream >/dev/null
run top-wrongtype "$BUSMON" top --once
bm_eq "top: busmon:rollups of another type: exit 3, as busmon workers" "3 3" \
    "$rc $("$BUSMON" workers >/dev/null 2>&1; echo $?)"
bm_check "top: ... WRONGTYPE said" grep -q "cannot read busmon:rollups: WRONGTYPE" "$BM_TMP/top-wrongtype.err"
bm_cli DEL busmon:rollups >/dev/null

bm_cli HSET busmon:alerts:firing x 1 >/dev/null
bm_cli ACL SETUSER nofiring on '>pw' '~*' '&*' -@all +ping +xrevrange +xinfo >/dev/null
run top-nofiring as nofiring top --once
bm_eq "top: HGETALL of the firing hash refused: exit 3" 3 "$rc"
bm_check "top: ... said" grep -q "cannot read busmon:alerts:firing: NOPERM" "$BM_TMP/top-nofiring.err"

bm_cli XADD busmon:events '*' type command >/dev/null
run top-noxinfo as noxinfo top --once
bm_eq "top: XINFO refused: the frame is still drawn (exit 0)" 0 "$rc"
bm_check "top: ... the lag line says the refusal, not '(no stream)'" \
    grep -qE '^  busmon:events +\(cannot read: NOPERM' "$BM_TMP/top-noxinfo.out"
bm_cli DEL busmon:events >/dev/null
run top-nostream "$BUSMON" top --once
bm_check "top: a stream that does not exist is still '(no stream)'" \
    grep -qE '^  busmon:events +\(no stream\)$' "$BM_TMP/top-nostream.out"
bm_eq "top: nothing published yet is still exit 0" 0 "$rc"

# ---- metrics --window 1h: the performance window, here 30 minutes --------------------------
win() { echo "{\"count\":$1,\"sum\":$2,\"min\":1,\"max\":9,\"avg\":3,\"p50\":3,\"p95\":9,\"p99\":9,\"rate_per_s\":0.1,\"covered_s\":60}"; }
bm_cli XADD busmon:rollups '*' json "{\"ts\":\"2026-12-05T10:00:00Z\",\"agent\":\"a1\",\"workers\":[{\"name\":\"w1\",\"windows\":{\"1m\":{\"executions\":1},\"5m\":{\"executions\":2},\"30m\":{\"executions\":7}}}],\"metrics\":{\"items\":[{\"name\":\"order_value\",\"kind\":\"histogram\",\"tags\":{},\"windows\":{\"1m\":$(win 1 3),\"5m\":$(win 2 6),\"30m\":$(win 7 21)}}],\"omitted\":0}}" >/dev/null
run metrics-1h "$BUSMON" metrics order_value --window 1h --json
bm_eq "metrics NAME --window 1h (a 30m performance window): exit 0" 0 "$rc"
bm_eq "metrics --window 1h: the performance window's count, as workers --window 1h" "7 7" \
    "$(jq -r '.series[0].count' "$BM_TMP/metrics-1h.out") $("$BUSMON" workers --window 1h --json | jq -r '.workers[0].executions')"
bm_eq "metrics --window 5m: still the 5m window" 2 \
    "$("$BUSMON" metrics --window 5m --json | jq -r '.series[0].count')"
bm_check "metrics --window 1h: the table lists the series" \
    bash -c "'$BUSMON' metrics --window 1h | grep -qE '^order_value +histogram +- +7 +21 '"

# ---- trace: no readable record is no trace -----------------------------------------------------
bm_cli RPUSH busmon:trace:tx-junk garbage "$(printf '\x81\xa2id')" >/dev/null
run trace-junk "$BUSMON" trace tx-junk
bm_eq "trace of unreadable records only: exit 1 (not found), nothing on stdout" "1 0" \
    "$rc $(wc -c <"$BM_TMP/trace-junk.out")"
bm_eq "... said in one line" \
    "busmon trace: none of the 2 stored record(s) of 'tx-junk' could be read: no trace to show" \
    "$(cat "$BM_TMP/trace-junk.err")"
run trace-junk-json "$BUSMON" trace tx-junk --json
bm_eq "... --json: exit 1, no 'running' object" "1 0" "$rc $(wc -c <"$BM_TMP/trace-junk-json.out")"
echo "{\"type\":\"command\",\"id\":\"c-1\",\"tx\":\"tx-half\",\"worker\":\"w\",\"ts\":$(date +%s)000000}" |
    "$J2M" | redis-cli -p "$BM_PORT" -x RPUSH busmon:trace:tx-half >/dev/null
bm_cli RPUSH busmon:trace:tx-half garbage >/dev/null
run trace-half "$BUSMON" trace tx-half --json
bm_eq "a trace with one readable record of two: exit 0, its event shown" "0 1" \
    "$rc $(jq -r .event_count "$BM_TMP/trace-half.out")"

# ---- the CLI's ACL line (busmon-agent --print-acl, the README's) and a long trace ----------------
"$AGENT" --print-acl >"$BM_TMP/acl.txt"
CLI_LINE=$(sed -n 4p "$BM_TMP/acl.txt")
bm_check "the printed CLI line is the README's" grep -qF "$CLI_LINE" "$BM_SRC/README.md"
bm_cli ${CLI_LINE/>PASSWORD/>pw} >/dev/null
bm_cli EVAL "local r = redis.call('LINDEX', KEYS[1], 0) for i = 1, ARGV[1] do redis.call('RPUSH', KEYS[2], r) end" \
    2 busmon:trace:tx-half busmon:trace:tx-5001 5001 >/dev/null
bm_cli EVAL "local r = redis.call('LINDEX', KEYS[1], 0) for i = 1, ARGV[1] do redis.call('RPUSH', KEYS[2], r) end" \
    2 busmon:trace:tx-half busmon:trace:tx-5000 5000 >/dev/null
run trace-5001 as busmon-cli trace tx-5001
bm_eq "as the CLI's ACL user, a trace of 5001 records: its length said" \
    "0 busmon trace: tx-5001 holds 5001 records; only its first 5000 are read and shown" \
    "$rc $(cat "$BM_TMP/trace-5001.err")"
run trace-5000 as busmon-cli trace tx-5000
bm_eq "as the CLI's ACL user, a trace of exactly 5000 records: read whole, nothing said" "0 " \
    "$rc $(cat "$BM_TMP/trace-5000.err")"
# ---- baseline freeze|clear: options may come before the verb, as before any operand -----------
run freeze "$BUSMON" baseline --control-key t:ctl freeze w1
bm_eq "baseline --control-key K freeze W: exit 0" 0 "$rc"
bm_check "... the request is in K" bash -c "redis-cli -p $BM_PORT HGET t:ctl w1 | grep -q '^freeze 1 '"
run clear "$BUSMON" baseline --redis "$BM_URL" --control-key=t:ctl clear w1
bm_check "baseline --redis URL --control-key=K clear W: the request is in K" \
    bash -c "[ $rc = 0 ] && redis-cli -p $BM_PORT HGET t:ctl w1 | grep -q '^clear 2 '"
run clear-nowho "$BUSMON" baseline --json clear
bm_eq "baseline --json clear (no worker): a usage error, not a worker named clear" \
    "2 busmon baseline clear: which worker? (see busmon baseline --help)" "$rc $(cat "$BM_TMP/clear-nowho.err")"
run freeze-after "$BUSMON" baseline freeze w2 --control-key t:ctl
bm_check "baseline freeze W --control-key K: still works" \
    bash -c "[ $rc = 0 ] && redis-cli -p $BM_PORT HGET t:ctl w2 | grep -q '^freeze '"
# ---- no answers, no rate: "-" in top and stats, as in busmon workers ------------------------------
idle='{"executions":0,"success_rate":0,"p95_ms":0}'
ev='{"total_events":4,"success_rate":0,"error_rate":0,"p95_latency_ms":0,"throughput_per_min":4,"by_type":{"command":{"count":4},"result":{"count":0},"error":{"count":0}}}'
bm_cli XADD busmon:rollups '*' json "{\"ts\":\"2026-12-05T10:00:10Z\",\"agent\":\"a1\",\"events\":{\"5m\":$ev},\"workers\":[{\"name\":\"idle\",\"health\":\"inactive\",\"in_flight\":4,\"windows\":{\"5m\":$idle}}]}" >/dev/null
run top-idle "$BUSMON" top --once --window 5m
bm_check "top: a worker with no execution in the window: success and p95 '-'" \
    grep -qE '^idle +inactive +0 +- +- +4$' "$BM_TMP/top-idle.out"
bm_check "top: no answer in the window: success and p95 latency '-'" \
    grep -qE '^events/s [0-9.]+   success -   p95 latency -   events 4$' "$BM_TMP/top-idle.out"
bm_check "busmon workers says '-' for that worker too" \
    bash -c "'$BUSMON' workers --window 5m | grep -qE '^idle +inactive +0 +- +- +- +- +4 '"
bm_check "busmon workers: no execution in the performance window: avg success and duration '-'" \
    bash -c "'$BUSMON' workers --window 5m | grep -qE '^summary \\(performance window\\): 0 workers, 0 commands, avg success -, avg duration -$'"
run stats-idle "$BUSMON" stats --window 5m
bm_check "stats: 4 commands, no answer: success and error rate '-'" \
    bash -c "grep -qE '^  success rate: +-$' '$BM_TMP/stats-idle.out' && grep -qE '^  error rate: +-$' '$BM_TMP/stats-idle.out'"
bm_eq "stats --json keeps the numbers" "0 0" "$("$BUSMON" stats --window 5m --json | jq -r '"\(.success_rate) \(.error_rate)"')"
# ---- busmon errors: workers hit beyond the 8 listed are counted in the table too --------------
bm_cli XADD busmon:rollups '*' json '{"ts":"2026-12-05T10:00:20Z","agent":"a1","workers":[],"errors":[{"type":"Boom","count":{"5m":12},"total":12,"trend":"stable","last_seen":"2026-12-05T10:00:19Z","workers":["w1","w2","w3","w4","w5","w6","w7","w8"],"workers_more":4,"example":"boom"}]}' >/dev/null
bm_check "errors: the table says how many more workers were hit (workers_more)" \
    bash -c "'$BUSMON' errors --window 5m | grep -qE '^Boom .*w1,w2,w3,w4,w5,w6,w7,w8 \+4 more'"
# ---- traces --limit: "limited" when something was left unread, not when exactly N matched -------
now_s=$(date +%s)
for t in a b c; do
    echo "{\"type\":\"command\",\"id\":\"c-$t\",\"tx\":\"tx-$t\",\"worker\":\"w\",\"ts\":${now_s}000000}" |
        "$J2M" | redis-cli -p "$BM_PORT" -x RPUSH "busmon:trace:tx-$t" >/dev/null
done
bm_cli ZADD t:idx "${now_s}001" tx-a "${now_s}002" tx-b "${now_s}003" tx-c >/dev/null
lim() { "$BUSMON" traces --index-key t:idx --json "$@" | jq -r '"\(.count) \(.limited)"'; }
bm_eq "traces --limit 3 of 3: all listed, not limited" "3 false" "$(lim --limit 3)"
bm_eq "traces --limit 2 of 3: limited" "2 true" "$(lim --limit 2)"
bm_eq "traces --limit 5 of 3: not limited" "3 false" "$(lim --limit 5)"
bm_check "traces --limit 3 of 3: the table does not ask for a larger --limit" \
    bash -c "! '$BUSMON' traces --index-key t:idx --limit 3 | grep -q -- '--limit for more'"
bm_check "traces --limit 2 of 3: it does" \
    bash -c "'$BUSMON' traces --index-key t:idx --limit 2 | grep -q '(first 2; --limit for more)'"
# ---- output that cannot be written: exit 4, not 0 -------------------------------------------------
run full-trace "$BUSMON" trace tx-a
bm_eq "trace to a terminal-less file: found (exit 0)" 0 "$rc"
"$BUSMON" trace tx-a >/dev/full 2>"$BM_TMP/full.err"; rc=$?
bm_eq "trace > /dev/full: exit 4" 4 "$rc"
bm_check "... stderr says the output could not be written" \
    grep -q "busmon trace: cannot write the output: No space left on device" "$BM_TMP/full.err"
"$BUSMON" traces --index-key t:idx --json >/dev/full 2>/dev/null; rc=$?
bm_eq "traces --json > /dev/full: exit 4" 4 "$rc"
"$BUSMON" --help >/dev/full 2>/dev/null; rc=$?
bm_eq "busmon --help > /dev/full: exit 4" 4 "$rc"
"$BUSMON" trace tx-unknown >/dev/full 2>/dev/null; rc=$?
bm_eq "trace of an unknown transaction > /dev/full: still exit 1 (nothing to write)" 1 "$rc"
timeout 20 "$BUSMON" alerts --watch --channel t:alerts >/dev/full 2>"$BM_TMP/watch.err" &
watch_pid=$!
for _ in $(seq 1 100); do # until it is subscribed, then one record (bounded: 10 s)
    [ "$(bm_cli PUBLISH t:alerts '{"rule":"r","state":"firing"}')" = 1 ] && break
    sleep 0.1
done
wait "$watch_pid"; rc=$?
bm_eq "alerts --watch > /dev/full: stops at the first record, exit 4 (not killed by timeout)" 4 "$rc"
bm_finish
