#!/usr/bin/env bash
# `busmon top --interval`: what is not a duration from 1 ms to a day (inf,
# nan, 1e30, 0.1ms, -1, '', an unknown unit) is refused with exit 2 and a
# message that says what it takes (it said "bad --interval x", and inf or
# 1e30 were cast to a long out of range: undefined behaviour); durations in
# range are taken. A reader that leaves (`busmon top | head`) ends it
# quietly, exit 4.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

for v in x inf nan 1e30 0.1ms -1 '' 2h 1441m 86401; do
    "$BUSMON" top --once --interval "$v" >/dev/null 2>"$BM_TMP/err"
    bm_eq "--interval '$v': exit 2" 2 "$?"
    bm_check "--interval '$v': the message says what it takes" \
        grep -qF "busmon top: --interval must be a duration like 2s, 500ms or 1m (1ms to a day), not '$v'" "$BM_TMP/err"
done
for v in 1ms 0.001 500ms 1.5 2s 1m 1440m 86400; do
    bm_eq "--interval $v: taken" 0 "$("$BUSMON" top --once --interval "$v" >/dev/null 2>&1; echo $?)"
done
bm_check "--help says the range" bash -c "'$BUSMON' top --help | grep -q -- '--interval D .*1ms to a day'"
# a reader that leaves (| head): exit 4 (not "ok"), nothing said
"$BUSMON" top --interval 50ms 2>"$BM_TMP/pipe.err" | head -1 >/dev/null
bm_eq "top | head -1: exit 4" 4 "${PIPESTATUS[0]}"
bm_eq "top | head -1: nothing on stderr (no 'Broken pipe')" "" "$(cat "$BM_TMP/pipe.err")"
bm_finish
