#!/usr/bin/env bash
# Long names of wide characters in the text views are never cut inside a
# character: busmon traces listed a transaction's workers cut at 255 bytes
# (the rest left out without a word, a character cut in two shown as
# "\xe4\xbd"), busmon top and busmon alerts an alert's labels the same way. Now every worker
# name is listed whole (the text layer cuts a very long line, between
# characters), and a label that does not fit top's room is left out whole.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

now=$(($(date +%s) * 1000))
bm_cli EVAL "
for i = 1, 8 do
  redis.call('RPUSH', 'busmon:trace:tx-x', cmsgpack.pack({type = 'command', id = 'c' .. i,
    tx = 'tx-x', worker = 'x工作者工作者工作者工作者-' .. i, step = 's', ts = ARGV[1] * 1000 + i}))
end
redis.call('ZADD', 'busmon:traces', ARGV[1], 'tx-x')
return 1" 0 "$now" >/dev/null
"$BUSMON" traces >"$BM_TMP/traces.txt" 2>&1
bm_check "traces: all 8 workers listed whole" \
    grep -qF 'x工作者工作者工作者工作者-7,x工作者工作者工作者工作者-8 ' "$BM_TMP/traces.txt"
bm_check "traces: no character cut in two (no \\x escape)" bash -c "! grep -qF '\\x' '$BM_TMP/traces.txt'"

long=xy$(printf '工%.0s' $(seq 1 100))
bm_cli HSET hand:firing f1 "{\"rule\":\"r\",\"severity\":\"warning\",\"labels\":{\"a\":\"$long\",\"b\":\"tail\"},\"description\":\"d\"}" >/dev/null
"$BUSMON" top --once --firing hand:firing >"$BM_TMP/top.txt" 2>&1
bm_check "top: a long label of wide characters shown whole, the next one after it" \
    grep -qF "a=$long b=tail" "$BM_TMP/top.txt"
bm_check "top: no character cut in two (no \\x escape)" bash -c "! grep -qF '\\x' '$BM_TMP/top.txt'"
bm_cli HSET hand:firing f2 "{\"rule\":\"r2\",\"severity\":\"warning\",\"labels\":{\"a\":\"s\",\"b\":\"z$long$long\"},\"description\":\"d\"}" >/dev/null
"$BUSMON" alerts --firing hand:firing --count 0 >"$BM_TMP/alerts.txt" 2>&1
bm_check "alerts: a label too long for its room is left out whole (no \\x escape)" \
    bash -c "grep -qE '^warning +r2 +a=s +' '$BM_TMP/alerts.txt' && ! grep -qF '\\x' '$BM_TMP/alerts.txt'"
bm_finish
