#!/usr/bin/env bash
# The CLI's --json on names that are not UTF-8 (written by hand, or by
# another writer: the agent refuses such names): jansson makes no string of
# them, and a json_pack given one fails whole.
#  - busmon traces --json: a transaction whose id is not UTF-8 is listed
#    with its invalid bytes as '?' (as busmon trace --json names it); it was
#    left out of "traces" while "count" counted it;
#  - busmon deadletters --stream S --json, S not UTF-8: the listing, with
#    "stream" "(not UTF-8)"; it said "out of memory", exit 4;
#  - busmon deadletters replay --json of a copy whose stream is not UTF-8:
#    the copy put back is in "replayed" (its "to" "(not UTF-8)"); it was
#    put back and left out of the output.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

now=$(($(date +%s) * 1000))
bm_cli EVAL "
local t0 = tonumber(ARGV[1])
for i, tx in ipairs({'tx-\255bad', 'tx-ok', 'tx-q\"\1'}) do
  redis.call('RPUSH', 'busmon:trace:' .. tx, cmsgpack.pack({type = 'command', id = 'c1',
    tx = 'x', worker = 'w', step = 's', ts = (t0 + i) * 1000}))
  redis.call('ZADD', 'busmon:traces', t0 + i, tx)
end
return 1" 0 "$now" >/dev/null
"$BUSMON" traces --json >"$BM_TMP/traces.json" 2>&1
bm_eq "traces --json: valid JSON, every transaction counted is listed" "3 3" \
    "$(jq -r '"\(.count) \(.traces | length)"' "$BM_TMP/traces.json")"
bm_eq "traces --json: ids as they are, one not UTF-8 with '?' (as busmon trace --json)" \
    'tx-q\"\u0001 tx-ok tx-?bad' "$(jq -r '[.traces[].tx | @json | .[1:-1]] | join(" ")' "$BM_TMP/traces.json")"
bm_eq "trace --json names it the same" "tx-?bad" \
    "$("$BUSMON" trace $'tx-\xffbad' --json | jq -r .tx)"

bm_cli XADD $'dl\xff' '*' reason bad_field stream busmon:events id 1-1 f.type command >/dev/null
"$BUSMON" deadletters --stream $'dl\xff' --json >"$BM_TMP/dl.json" 2>"$BM_TMP/dl.err"
bm_eq "deadletters --stream (not UTF-8) --json: exit 0" 0 "$?"
bm_eq "... the copy listed, the stream named '(not UTF-8)'" "(not UTF-8) 1" \
    "$(jq -r '"\(.stream) \(.entries | length)"' "$BM_TMP/dl.json")"
bm_eq "... nothing on stderr" "" "$(cat "$BM_TMP/dl.err")"

bm_cli XADD busmon:deadletter '*' reason bad_field stream $'ev\xff' id 1-1 f.type command >/dev/null
"$BUSMON" deadletters replay --all --json >"$BM_TMP/replay.json" 2>"$BM_TMP/replay.err"
bm_eq "replay --json of a copy whose stream is not UTF-8: exit 0" 0 "$?"
bm_eq "... put back" 1 "$(bm_cli_raw XLEN $'ev\xff')"
bm_eq "... and said in \"replayed\", its \"to\" '(not UTF-8)'" "1 (not UTF-8)" \
    "$(jq -r '"\(.replayed | length) \(.replayed[0].to)"' "$BM_TMP/replay.json")"
bm_finish
