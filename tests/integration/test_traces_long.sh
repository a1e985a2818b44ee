#!/usr/bin/env bash
# busmon traces and a trace of more than 5,000 records (several agents'
# lifetimes appended to one key), whose earliest and latest events are past
# the first 5,000 records: it is summarized from its first 5,000 records
# (the pairing's cost), but listed, ordered and filtered (--since,
# --min-duration) by the start and end of all its records, which is what
# its index score bounds: --limit 1 and --limit 2 agree on which is newer.
# (Before: its start was the first 5,000 records' earliest, 100 s later, so
# it was listed first with --limit 2 and not at all with --limit 1.)
# busmon trace, which shows its first 5,000 records, says that span too.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

t0=$((($(date +%s) - 600) * 1000)) # ten minutes ago, ms
# tx-long: 5,000 commands at t0+100 s.., then one at t0 and one at t0+200 s
# (records 5,001 and 5,002, as a later agent appends them); tx-mid: t0+50 s
bm_cli EVAL "
local t0 = tonumber(ARGV[1])
for i = 1, 5000 do
  redis.call('RPUSH', 'busmon:trace:tx-long', cmsgpack.pack({type = 'command', id = 'c' .. i,
    tx = 'tx-long', worker = 'w', step = 's' .. i, ts = (t0 + 100000) * 1000 + i}))
end
redis.call('RPUSH', 'busmon:trace:tx-long', cmsgpack.pack({type = 'command', id = 'early',
  tx = 'tx-long', worker = 'w', step = 'first', ts = t0 * 1000}))
redis.call('RPUSH', 'busmon:trace:tx-long', cmsgpack.pack({type = 'command', id = 'late',
  tx = 'tx-long', worker = 'w', step = 'last', ts = (t0 + 200000) * 1000}))
redis.call('RPUSH', 'busmon:trace:tx-mid', cmsgpack.pack({type = 'command', id = 'm1',
  tx = 'tx-mid', worker = 'w', step = 's', ts = (t0 + 50000) * 1000}))
redis.call('ZADD', 'busmon:traces', t0, 'tx-long', t0 + 50000, 'tx-mid')
return 1" 0 "$t0" >/dev/null
bm_eq "the scenario: tx-long holds 5002 records" 5002 "$(bm_cli_raw LLEN busmon:trace:tx-long)"

"$BUSMON" traces --json >"$BM_TMP/all.json" 2>"$BM_TMP/all.err"
bm_eq "newest start first: tx-mid (t0+50 s), then tx-long (t0)" "tx-mid tx-long" \
    "$(jq -r '[.traces[].tx] | join(" ")' "$BM_TMP/all.json")"
bm_eq "tx-long's start and end are its earliest and latest records' (t0, t0+200 s)" \
    "$t0 $((t0 + 200000)) 200000" \
    "$(jq -r '.traces[] | select(.tx == "tx-long") | "\(.start_unix_ms) \(.end_unix_ms) \(.duration_ms)"' "$BM_TMP/all.json")"
bm_eq "--limit 1: the newest start, as with --limit 2" "tx-mid" \
    "$("$BUSMON" traces --limit 1 --json 2>/dev/null | jq -r '[.traces[].tx] | join(" ")')"
bm_eq "--min-duration 150s: tx-long (its records span 200 s)" "tx-long" \
    "$("$BUSMON" traces --min-duration 150s --json 2>/dev/null | jq -r '[.traces[].tx] | join(" ")')"
bm_check "stderr says it was summarized from its first 5000 records" \
    grep -q "1 trace(s) hold 5000 records or more: each is summarized from its first 5000" "$BM_TMP/all.err"
from=$(date -u -d "@$((t0 / 1000))" +%Y-%m-%dT%H:%M:%S.000Z)
to=$(date -u -d "@$((t0 / 1000 + 200))" +%Y-%m-%dT%H:%M:%S.000Z)
"$BUSMON" trace tx-long >/dev/null 2>"$BM_TMP/trace.err"
bm_eq "busmon trace says it is cut, and the span of all its records, as busmon traces lists it" \
    "busmon trace: tx-long holds 5002 records; only its first 5000 are read and shown; all of them span $from to $to (200.000 s)" \
    "$(cat "$BM_TMP/trace.err")"
bm_finish
