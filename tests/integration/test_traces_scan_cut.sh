#!/usr/bin/env bash
# busmon traces reads 2,000,000 candidates of a set at most (traces.index_max
# allows up to 10,000,000 per set): a search stopped there says so (stderr,
# "limited": true in --json), never a bare "no transaction matches" as if
# the older ones had been searched; a set of exactly 2,000,000 is searched
# whole and says nothing. (About 200 MB of Redis memory for a few seconds.)
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
fill() { # fill FROM TO: members x<i> with score i, 2000 per ZADD (unpack takes 8000 at most)
    bm_cli EVAL "local a = {} for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
        a[#a + 1] = i; a[#a + 1] = 'x' .. i
        if #a == 4000 then redis.call('ZADD', KEYS[1], unpack(a)); a = {} end end
        if #a > 0 then redis.call('ZADD', KEYS[1], unpack(a)) end
        return redis.call('ZCARD', KEYS[1])" 1 busmon:traces "$1" "$2"
}
fill 1 2000010 >/dev/null
bm_eq "the set holds 2,000,010 candidates (no trace behind any)" 2000010 "$(bm_cli_raw ZCARD busmon:traces)"
"$BUSMON" traces --json >"$BM_TMP/out.json" 2>"$BM_TMP/err"
bm_eq "exit 1: none matched" 1 $?
bm_eq "--json: limited (the search was cut), 2,000,000 read" "true 2000000" \
    "$(jq -r '"\(.limited) \(.scanned)"' "$BM_TMP/out.json")"
bm_check "stderr says the older ones were not read" \
    grep -q "searched the newest 2000000 transactions of busmon:traces only" "$BM_TMP/err"
bm_cli ZREMRANGEBYRANK busmon:traces 0 9 >/dev/null
"$BUSMON" traces --json >"$BM_TMP/out.json" 2>"$BM_TMP/err"
bm_eq "exactly 2,000,000: read whole, not limited" "false 2000000" \
    "$(jq -r '"\(.limited) \(.scanned)"' "$BM_TMP/out.json")"
bm_eq "nothing on stderr" "" "$(cat "$BM_TMP/err")"
bm_cli DEL busmon:traces >/dev/null
bm_finish
