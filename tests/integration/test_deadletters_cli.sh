#!/usr/bin/env bash
# `busmon deadletters` lists what the agent dead-lettered (newest first, with
# the reason, source, detail and fields; --json with every field, binary ones
# in base64) and `busmon deadletters replay` puts chosen copies back on their
# stream, deleting each copy put back; a copy that is not the whole entry (the
# agent's `cut` field: over 64 fields, a value over 64 KiB), one with no field
# and a pub/sub message are skipped and said. The agent reads a copy put back
# as any new entry.
source "$(dirname "$0")/lib.sh"
bm_agent_http
bm_start_redis
bm_bg "$AGENT" --consumer dl --http "127.0.0.1:$HPORT"
bm_check "the agent serves /health" bm_wait_for 15 "curl -sf '$BASE/health'"

dl_len() { bm_cli_raw XLEN busmon:deadletter; }
bm_cli XADD busmon:events '*' json '{"type":"bogus","tx":"t1"}' >/dev/null
bm_cli XADD busmon:events '*' json '{"type":"command","tx":' >/dev/null
printf '\x81\xa4type\xa5bogus' >"$BM_TMP/m.bin"
redis-cli -p "$BM_PORT" -x XADD busmon:events '*' m <"$BM_TMP/m.bin" >/dev/null
args=()
for i in $(seq 1 70); do args+=("k$i" "v$i"); done
bm_cli XADD busmon:events '*' json '{"type":"nope"}' "${args[@]}" >/dev/null
big=$(head -c 70000 /dev/zero | tr '\0' a)
bm_cli XADD busmon:events '*' json "{\"type\":\"command\",\"tx\":\"t9\",\"x\":\"$big\"" >/dev/null
bm_check "five entries dead-lettered" bm_wait_for 15 '[ "$(dl_len)" = 5 ]'

# ---- the agent says what it cut -------------------------------------------------------
bm_eq "71 fields: the copy says 64 of 71 copied" "64 of 71 fields copied" \
    "$(bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 5 | grep -x '64 of 71 fields copied')"
bm_eq "a 70,000-byte value: the copy says it was cut" \
    "1 of 1 fields copied; 1 value(s) cut to 65536 bytes" \
    "$(bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 5 | grep -x '1 of 1 fields.*')"
bm_eq "an entry copied whole has no cut field" 2 \
    "$(bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 5 | grep -cx cut)"
bm_eq "each copy names the consumer group that refused it (group busmon)" 5 \
    "$(bm_cli_raw XREVRANGE busmon:deadletter + - COUNT 5 | grep -A1 -x group | grep -cx busmon)"

# ---- listing ---------------------------------------------------------------------------
"$BUSMON" deadletters >"$BM_TMP/out" 2>"$BM_TMP/err"
bm_eq "busmon deadletters exits 0" 0 $?
bm_check "it counts the five" grep -q 'dead letters in busmon:deadletter: 5 entries' "$BM_TMP/out"
bm_eq "one header line per copy" 5 "$(grep -c '  from busmon:events ' "$BM_TMP/out")"
bm_eq "... each with the group that refused it" 5 \
    "$(grep -Ec '  from busmon:events [0-9]+-[0-9]+ in group busmon$' "$BM_TMP/out")"
bm_eq "the last line counts the shown ones by reason, most first" "5 shown: unknown_type 3, not_json 2" \
    "$(tail -1 "$BM_TMP/out")"
bm_check "the detail of the JSON that does not parse" \
    grep -q 'error: the JSON field does not parse: the text ends inside a value' "$BM_TMP/out"
bm_check "the msgpack value shown as bytes" grep -q 'm (12 bytes): binary: 81 a4 74 79' "$BM_TMP/out"
bm_check "a long copy shows 8 fields and how many more" \
    grep -q '\.\.\. 56 more fields (--json shows them all)' "$BM_TMP/out"
bm_eq "--reason unknown_type --count 1 shows one" 1 \
    "$("$BUSMON" deadletters --reason unknown_type --count 1 | grep -Ec '^[0-9]+-[0-9]+ .* unknown_type ')"
"$BUSMON" deadletters --json >"$BM_TMP/json"
bm_eq "--json: length and entries" "5 5" "$(jq -r '"\(.length) \(.entries | length)"' "$BM_TMP/json")"
bm_eq "--json: reasons of those shown" '{"not_json":2,"unknown_type":3}' "$(jq -cS .reasons "$BM_TMP/json")"
bm_eq "--json: each entry's group" "busmon busmon busmon busmon busmon" \
    "$(jq -r '[.entries[].group] | join(" ")' "$BM_TMP/json")"
bm_eq "--json: the msgpack value in base64 is the entry's bytes" "$(base64 <"$BM_TMP/m.bin")" \
    "$(jq -r '.entries[] | .fields[] | select(.name == "m") | .base64' "$BM_TMP/json")"
bm_eq "--json: all 64 copied fields, named without f." "64 json" \
    "$(jq -r '.entries[] | select(.cut == "64 of 71 fields copied") | "\(.fields | length) \(.fields[0].name)"' "$BM_TMP/json")"
bm_eq "--json: newest first, times as RFC 3339" "true" \
    "$(jq -r '[.entries[].dl_id] == ([.entries[].dl_id] | sort | reverse) and (.entries[0].ts | test("^20[0-9-]+T[0-9:.]+Z$"))' "$BM_TMP/json")"

# ---- mistakes ---------------------------------------------------------------------------
for bad in "replay" "--all" "--id 1-0" "replay --all --id 1-0" "replay --all --to busmon:deadletter" \
    "--count -1" "--count x" "replay --all extra"; do
    # shellcheck disable=SC2086  # bad is words
    "$BUSMON" deadletters $bad >"$BM_TMP/out" 2>"$BM_TMP/err"
    rc=$?
    bm_check "deadletters $bad: exit 2 with one line ($(head -1 "$BM_TMP/err"))" \
        bash -c "[ $rc = 2 ] && [ \$(wc -l <'$BM_TMP/err') = 1 ] && [ ! -s '$BM_TMP/out' ]"
done

# ---- replay -----------------------------------------------------------------------------
"$BUSMON" deadletters replay --all --dry-run >"$BM_TMP/out"
bm_eq "--dry-run: three would be put back, two skipped" "3 would be put back, 2 skipped" \
    "$(tail -1 "$BM_TMP/out")"
bm_eq "--dry-run changes nothing" 5 "$(dl_len)"

# a copy of a good event (as the agent writes a poison entry's), one of a
# pub/sub message and one of an entry too big to read
pid=$(bm_cli_raw XADD busmon:deadletter '*' reason poison stream busmon:events id 1-1 \
    error 'delivered 6 times' group busmon \
    f.json '{"type":"command","tx":"back-tx","id":"c1","worker":"w","step":"s"}')
sid=$(bm_cli_raw XADD busmon:deadletter '*' reason not_json stream 'chan.x' id pubsub error e \
    f.channel chan.x f.body '{')
bid=$(bm_cli_raw XADD busmon:deadletter '*' reason oversized stream busmon:events id 2-1 \
    error 'measured in Redis, not read')
"$BUSMON" deadletters replay --reason poison >"$BM_TMP/out"
bm_eq "replay --reason poison exits 0" 0 $?
bm_check "it says where the copy went" grep -q "^put back $pid (poison) to busmon:events as " "$BM_TMP/out"
bm_check "the agent reads it: busmon trace back-tx" \
    bm_wait_for 15 "'$BUSMON' trace back-tx | grep -q ' command .* dispatched .* w '"
bm_eq "the copy put back is deleted" "" "$(bm_cli_raw XRANGE busmon:deadletter "$pid" "$pid" | tr -d '\n')"
bm_eq "... put back with its own fields only (no group, no reason)" "json" \
    "$(bm_cli_raw XREVRANGE busmon:events + - COUNT 1 | sed -n 2p)$(bm_cli_raw XREVRANGE busmon:events + - COUNT 1 | sed -n 4p)"

"$BUSMON" deadletters replay --id "$sid,$bid" --json >"$BM_TMP/json"
bm_eq "pub/sub and field-less copies are skipped (exit 0)" "0 2" \
    "$(jq -r '"\(.replayed | length) \(.skipped | length)"' "$BM_TMP/json")"
bm_check "and why" jq -e '[.skipped[].why] == ["a pub/sub message, not a stream entry", "the copy holds no field (the entry was too big to read)"]' "$BM_TMP/json" >/dev/null
nid=$(bm_cli_raw XADD busmon:deadletter '*' reason poison error e f.json '{}')
"$BUSMON" deadletters replay --id "$nid" >"$BM_TMP/out"
bm_check "a copy naming no stream is skipped, said (not put on a stream named '')" \
    grep -q "^skipped  $nid (poison): the copy names no stream it came from (--to STREAM puts it on one)" "$BM_TMP/out"
bm_eq "... and no key '' was made" 0 "$(bm_cli_raw EXISTS '')"
"$BUSMON" deadletters replay --id 1-0 >/dev/null 2>"$BM_TMP/err"
bm_eq "--id naming no copy: exit 1" 1 $?
bm_check "and said" grep -q 'no copy 1-0 in busmon:deadletter' "$BM_TMP/err"

before=$(bm_metric "$HPORT" busmon_deadletter_total)
"$BUSMON" deadletters replay --reason unknown_type --to busmon:events >"$BM_TMP/out"
bm_eq "replay --reason unknown_type: two put back, one cut skipped" "2 put back, 1 skipped" \
    "$(tail -1 "$BM_TMP/out")"
bm_check "refused again, it is dead-lettered again" \
    bm_wait_for 15 "[ \"\$(bm_metric $HPORT busmon_deadletter_total)\" = \"$((before + 2))\" ]"
bm_finish
