#!/usr/bin/env bash
# Identities are text, against a real Redis: ids and names holding NUL,
# control characters or invalid UTF-8, or longer than limits.max_id_bytes,
# in flat fields, msgpack and JSON entries and on pub/sub (the channel, and
# a body's worker), are dead-lettered as bad_id with the field and the byte
# named, never cut and never merged: the 51 transactions nul\0tx-0 ..
# nul\0tx-50 do not become one trace "nul", worker nul\0worker is not "nul".
# Valid events beside them are tracked as usual.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
unset BUSMON_HTTP
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"

bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --psubscribe 'multiagent:*' --block-ms 100 \
    --rollup-interval 1
A=$BM_LAST_PID
bm_check "the agent is up and subscribed" bm_wait_for 10 \
    "[ \$(bm_cli_raw PUBSUB NUMPAT) -ge 1 ] && curl -sf $BASE/health"
python3 "$BM_SRC/tests/integration/hostile_ids.py" "$BM_PORT" busmon:events >"$BM_TMP/want.json"
echo "note: sent $(cat "$BM_TMP/want.json")"
want() { jq -r ".$1" "$BM_TMP/want.json"; }
BAD=$(want bad_id)
PSBAD=$(want pubsub_bad_id)
bm_check "every entry is acked" bm_wait_for 15 \
    "[ \"\$(bm_cli_raw XPENDING busmon:events busmon | head -1)\" = 0 ] && [ \"\$(bm_cli_raw XLEN busmon:deadletter)\" -ge $((BAD + PSBAD + 1)) ]"

# the dead letters: reason and detail of each
bm_cli_raw XRANGE busmon:deadletter - + >"$BM_TMP/dl.txt"
reasons() { awk 'p { print; p = 0 } $0 == "reason" { p = 1 }' "$BM_TMP/dl.txt" | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' '; }
errors() { awk 'p { print; p = 0 } $0 == "error" { p = 1 }' "$BM_TMP/dl.txt"; }
echo "note: dead letters by reason: $(reasons)"
bm_eq "bad_id dead letters: streams and pub/sub" $((BAD + PSBAD)) "$(grep -cx bad_id "$BM_TMP/dl.txt")"
bm_eq "raw invalid UTF-8 in JSON is not JSON" "$(want not_json)" "$(grep -cx not_json "$BM_TMP/dl.txt")"
for d in "tx holds a NUL byte at byte 3" "worker holds a NUL byte at byte 3" \
    "worker is not valid UTF-8 (byte 0xff at byte 3)" "worker holds control character 0x0a at byte 1" \
    "worker is 257 bytes, more than max_id_bytes (256)" "step is not valid UTF-8 (byte 0xc0 at byte 0)" \
    "type holds a NUL byte at byte 7" "error_type is not valid UTF-8 (byte 0xff at byte 3)" \
    "step is 300 bytes, more than max_id_bytes (256)" "id is not valid UTF-8 (byte 0xed at byte 0)" \
    "error_type holds control character 0x01 at byte 1" "channel holds a NUL byte at byte 22" \
    "channel is not valid UTF-8 (byte 0xff at byte 19)" "channel holds control character 0x01 at byte 12" \
    "worker holds a NUL byte at byte 1"; do
    bm_check "dead-lettered with its detail: $d" grep -qxF "$d" <(errors)
done
bm_eq "the 51 NUL transactions: 51 dead letters, one each (and msgpack's and JSON's)" 53 \
    "$(errors | grep -cx 'tx holds a NUL byte at byte 3')"
bm_eq "... their ids kept whole: 51 distinct" 51 \
    "$(awk 'p { print; p = 0 } $0 == "f.tx" { p = 1 }' "$BM_TMP/dl.txt" | grep -a '^nul' | sort -u | wc -l)"
bm_eq "no trace 'nul' was made of them" 0 "$(bm_cli_raw EXISTS busmon:trace:nul)"
bm_eq "no trace at all of the refused ones" 0 "$(bm_cli_raw --scan --pattern 'busmon:trace:nul*' | wc -l)"

# what was accepted
bm_check "the valid events beside them are tracked" bm_wait_for 10 \
    "[ \$(bm_cli_raw HEXISTS busmon:workers good-worker) = 1 ]"
bm_eq "its trace is there" 2 "$(bm_cli_raw LLEN busmon:trace:tx-good)"
keys=$(bm_cli_raw HKEYS busmon:workers)
bm_check "no worker 'nul', 'bad', 'a' or 'w' was made of the refused ones" \
    bash -c "! grep -qxE 'nul|bad|a|w|xxx.*' <<<'$keys'"
M=$(curl -s "$BASE/metrics")
got=$(awk '$1 == "busmon_decode_errors_total{reason=\"bad_id\"}" { print $2 }' <<<"$M")
bm_eq "busmon_decode_errors_total{reason=\"bad_id\"}" $((BAD + PSBAD)) "$got"
bm_eq "pub/sub refusals counted" "$PSBAD" "$(awk '$1 == "busmon_pubsub_bad_total" { print $2 }' <<<"$M")"
bm_check "the agent is alive" kill -0 "$A"
bm_check "JSON outputs stay valid: the rollup parses" bash -c "'$BUSMON' workers --json | jq -e .workers >/dev/null"
bm_check "the log holds no raw control character" bash -c "! LC_ALL=C grep -qP '[\\x00-\\x08\\x0b-\\x1f]' '$BM_TMP/busmon-agent.log'"
bm_finish
