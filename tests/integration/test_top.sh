#!/usr/bin/env bash
# `busmon top` end to end: with busmon-agent and the demo producer running,
# `busmon top --once` piped prints every worker without escape codes; a
# timed run prints at least two frames; the lag of every stream the agent
# reads (named by its busmon:system sample); firing alerts by rule, severity
# and labels (not the hash's field names); bad flags exit 2; no Redis exits 3.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 1 --health-interval 1 \
    --system-interval 250ms --stream busmon:events --stream second:stream
AGENT_PID=$BM_LAST_PID
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
bm_check "top --once: lag of both streams the agent reads" bm_wait_for 5 \
    "'$BUSMON' top --once | grep -qE '^  second:stream +group busmon +lag 0' && '$BUSMON' top --once | grep -qE '^  busmon:events +group busmon'"

frames=$(timeout 5 "$BUSMON" top --interval 1s | head -n 1000 | grep -c '^busmon top')
bm_check "timed top prints >= 2 frames ($frames)" [ "$frames" -ge 2 ]

# firing alerts as the agent's alerting writes them: fingerprint -> record, plus
# _updated and _agent (written here with the agent stopped, so it stays)
kill "$AGENT_PID"; bm_wait_for 10 "! kill -0 $AGENT_PID"
redis-cli -p "$BM_PORT" DEL busmon:alerts:firing >/dev/null
redis-cli -p "$BM_PORT" HSET busmon:alerts:firing 0123456789abcdef \
    '{"rule":"worker_degraded","state":"firing","severity":"warning","fingerprint":"0123456789abcdef","labels":{"worker":"flaky"},"description":"Worker flaky is degraded"}' \
    _updated 2026-11-23T01:15:20Z _agent a1 >/dev/null
"$BUSMON" top --once >"$BM_TMP/frame2.txt" 2>&1
bm_check "top: a firing alert shows severity, rule, labels and description" \
    grep -qE '^  warning +worker_degraded +worker=flaky +Worker flaky is degraded' "$BM_TMP/frame2.txt"
bm_check "top: the hash's _updated/_agent fields are not alerts" \
    bash -c "! grep -qE '^  _(updated|agent)' '$BM_TMP/frame2.txt'"

# on a terminal (a pty from script(1)): colour and screen redraws, `q` quits
if command -v script >/dev/null 2>&1; then
    (sleep 1.5; printf q) | timeout 10 script -qfec "'$BUSMON' top --interval 1s" /dev/null \
        >"$BM_TMP/tty.out" 2>&1
    bm_eq "top on a terminal: q quits with exit 0 (not the 10 s timeout)" 0 "$?"
    bm_check "top on a terminal: escape sequences (colour, redraw)" grep -q $'\x1b\\[' "$BM_TMP/tty.out"
fi

bm_eq "bad flag: exit 2" 2 "$("$BUSMON" top --bogus >/dev/null 2>&1; echo $?)"
bm_eq "bad --window: exit 2" 2 "$("$BUSMON" top --window 7m >/dev/null 2>&1; echo $?)"
bm_eq "bad --interval: exit 2" 2 "$("$BUSMON" top --interval x >/dev/null 2>&1; echo $?)"
bm_eq "unreachable Redis: exit 3" 3 \
    "$("$BUSMON" top --once --redis redis://127.0.0.1:1 >/dev/null 2>&1; echo $?)"
bm_finish
