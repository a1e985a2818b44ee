#!/usr/bin/env bash
# `busmon top` end to end: with busmon-agent and the demo producer running,
# `busmon top --once` piped prints every worker without escape codes; a
# timed run prints at least two frames; bad flags exit 2; no Redis exits 3.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 1 --health-interval 1
"$BM_BUILD/busmon-demo-producer" --count 200 --rate 3000 --seed 3 >/dev/null ||
    echo "FAIL - the producer failed"
workers() { "$BUSMON" workers --json --window 1h 2>/dev/null | jq -r '.workers[].name' | sort; }
bm_check "a rollup lists workers" bm_wait_for 20 '[ -n "$(workers)" ]'
names=$(workers)

"$BUSMON" top --once >"$BM_TMP/frame.txt" 2>&1
bm_eq "top --once: exit 0" 0 "$?"
for n in $names; do
    bm_check "top --once shows worker $n" grep -q "$n" "$BM_TMP/frame.txt"
done
bm_check "top --once: no ESC bytes" bash -c "! grep -q $'\x1b' '$BM_TMP/frame.txt'"
bm_check "top --once: consumer lag section" grep -q "CONSUMER LAG" "$BM_TMP/frame.txt"

frames=$(timeout 5 "$BUSMON" top --interval 1s | head -n 1000 | grep -c '^busmon top')
bm_check "timed top prints >= 2 frames ($frames)" [ "$frames" -ge 2 ]

bm_eq "bad flag: exit 2" 2 "$("$BUSMON" top --bogus >/dev/null 2>&1; echo $?)"
bm_eq "bad --window: exit 2" 2 "$("$BUSMON" top --window 7m >/dev/null 2>&1; echo $?)"
bm_eq "bad --interval: exit 2" 2 "$("$BUSMON" top --interval x >/dev/null 2>&1; echo $?)"
bm_eq "unreachable Redis: exit 3" 3 \
    "$("$BUSMON" top --once --redis redis://127.0.0.1:1 >/dev/null 2>&1; echo $?)"
bm_finish
