#!/usr/bin/env bash
# Poison entries with more fields than a dead-letter copy holds (64), against
# a real Redis:
#  1. claimed from a dead consumer (reclaim) after more than
#     reclaim.max_deliveries deliveries: the copy says it is cut ("64 of 70
#     fields copied"), and `busmon deadletters replay` does not put the cut
#     copy back as if it were the whole entry;
#  2. our own pending entry, re-read at start: the same;
#  3. the claim counts as a delivery, as our own re-read does: a dead
#     consumer's entry delivered max_deliveries times is poison when claimed.
source "$(dirname "$0")/lib.sh"
export BUSMON_HTTP=off BUSMON_RECLAIM_INTERVAL=1s BUSMON_RECLAIM_MIN_IDLE=1s
bm_start_redis

# wide_entry STREAM TX: an entry of 70 fields (4 of the event, 66 attributes), its id
wide_entry() {
    local args=(type command tx "$2" worker fast id "cmd-$2") i
    for i in $(seq 1 66); do args+=("attr$i" "v$i"); done
    bm_cli_raw XADD "$1" '*' "${args[@]}"
}
# copy_of ID: the dead-letter copy of entry ID, "field=value" a line
copy_of() {
    bm_cli_raw EVAL "for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
        local f, out = e[2], {}
        for i = 1, #f, 2 do out[#out + 1] = f[i] .. '=' .. f[i + 1] end
        for i = 1, #f, 2 do if f[i] == 'id' and f[i + 1] == ARGV[1] then return out end end
    end
    return {}" 1 busmon:deadletter "$1"
}

# held STREAM TX HOLDER DELIVERIES: a wide entry pending for HOLDER, delivered
# DELIVERIES times (XPENDING's count); its id in $ID
held() {
    bm_cli XGROUP CREATE "$1" busmon 0 MKSTREAM >/dev/null
    ID=$(wide_entry "$1" "$2")
    bm_cli XREADGROUP GROUP busmon "$3" COUNT 1 STREAMS "$1" '>' >/dev/null
    bm_cli XCLAIM "$1" busmon "$3" 0 "$ID" RETRYCOUNT "$4" >/dev/null
}
# poisoned N STREAM CONSUMER TX: an agent of CONSUMER on STREAM dead-letters
# entry $ID as poison, a copy that says it is cut, never applied, and exits 0
poisoned() {
    bm_bg "$BM_BUILD/busmon-agent" --stream "$2" --consumer "$3" --block-ms 100 \
        --checkpoint-interval 200ms
    A=$BM_LAST_PID
    bm_check "$1: the poison entry is dead-lettered" bm_wait_for 20 '[ -n "$(copy_of "$ID")" ]'
    C=$(copy_of "$ID")
    bm_eq "$1: reason poison" "reason=poison" "$(grep '^reason=' <<<"$C")"
    bm_eq "$1: the copy says it is cut" "cut=64 of 70 fields copied" "$(grep '^cut=' <<<"$C")"
    bm_eq "$1: 64 fields copied" 64 "$(grep -c '^f\.' <<<"$C")"
    bm_eq "$1: never applied (no trace)" 0 "$(bm_cli_raw EXISTS "busmon:trace:$4")"
    bm_check "$1: acked" bm_wait_for 10 "[ \"\$(redis-cli -p $BM_PORT XPENDING $2 busmon | head -1)\" = 0 ]"
    kill -TERM "$A"
    wait "$A"
    bm_eq "$1: agent exits 0" 0 "$?"
}

# 1. a dead consumer's entry, delivered 10 times, claimed by r1 (the 11th)
held w:events tx-wide1 ghost 10
poisoned 1 w:events r1 tx-wide1
len0=$(bm_cli_raw XLEN w:events)
"$BM_BUILD/busmon" --redis "$BM_URL" deadletters replay --reason poison >"$BM_TMP/replay1.out" 2>&1
bm_eq "1: replay puts no cut copy back" "$len0" "$(bm_cli_raw XLEN w:events)"

# 2. our own pending entry, delivered 7 times, re-read at our start (the 8th)
held w2:events tx-wide2 r2 7
poisoned 2 w2:events r2 tx-wide2

# 3. the claim is a delivery, as a read of our own pending entry is: with
#    reclaim.max_deliveries 5, a dead consumer's entry delivered 5 times is
#    poison when claimed (its 6th), one delivered 4 times is applied (its 5th)
held w3:events tx-five ghost 5
ID5=$ID
held w3:events tx-four ghost 4
ID4=$ID
bm_bg "$BM_BUILD/busmon-agent" --stream w3:events --consumer r3 --block-ms 100 \
    --checkpoint-interval 200ms
A=$BM_LAST_PID
bm_check "3: both claimed and acked" bm_wait_for 20 \
    '[ "$(redis-cli -p $BM_PORT XPENDING w3:events busmon | head -1)" = 0 ]'
bm_check "3: the 6th delivery is poison" bm_wait_for 5 '[ -n "$(copy_of "$ID5")" ]'
bm_eq "3: its copy says so" "error=delivered 6 times, more than reclaim.max_deliveries (5); last consumer ghost" \
    "$(copy_of "$ID5" | grep '^error=')"
bm_eq "3: the poison entry is never applied" 0 "$(bm_cli_raw EXISTS busmon:trace:tx-five)"
bm_eq "3: the 5th delivery is applied, not poison" "1 " "$(bm_cli_raw EXISTS busmon:trace:tx-four) $(copy_of "$ID4")"
kill -TERM "$A"
wait "$A"
bm_eq "3: agent exits 0" 0 "$?"
bm_finish
