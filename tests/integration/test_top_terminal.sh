#!/usr/bin/env bash
# `busmon top` on a terminal (a pty of a given size, pty_run.py), with
# busmon-agent, the demo producer and 40 more workers:
#  - NO_COLOR takes the colour away, not the redraw: each frame still
#    replaces the last (no "----" between frames); `--once` on a terminal
#    is coloured, as every other view;
#  - q, SIGINT and SIGTERM end it with the terminal's modes as they were.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
PTY="$(dirname "$0")/pty_run.py"
URL="redis://127.0.0.1:$BM_PORT"

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --rollup-interval 1 --health-interval 1
"$BM_BUILD/busmon-demo-producer" --count 100 --rate 3000 --seed 5 >/dev/null ||
    echo "FAIL - the producer failed"
for i in $(seq -w 1 40); do
    echo "XADD busmon:events * type command tx w$i worker extra_$i step s"
    echo "XADD busmon:events * type result tx w$i worker extra_$i status completed"
done | bm_cli >/dev/null
bm_check "a rollup lists the 44 workers" bm_wait_for 20 \
    '[ "$("$BUSMON" --redis "$URL" workers --json 2>/dev/null | jq ".workers | length")" = 44 ]'

# pty NAME SIZE SECONDS [--at S ACTION]... -- CMD...: $BM_TMP/NAME.{raw,frame}, $rc, $modes
pty() {
    local name=$1 size=$2 secs=$3; shift 3
    modes=$(python3 "$PTY" --size "$size" --for "$secs" --out "$BM_TMP/$name.raw" \
        --last-frame "$BM_TMP/$name.frame" "$@")
    rc=$?
}
clears() { grep -o $'\x1b\\[H\x1b\\[2J' "$BM_TMP/$1.raw" | wc -l; }

# ---- NO_COLOR: no colour, still redrawn ----------------------------------------------------
pty nocolor 60x120 2.5 -- env NO_COLOR=1 "$BUSMON" --redis "$URL" top --interval 1s
bm_check "NO_COLOR: frames are still redrawn in place ($(clears nocolor) clears)" \
    [ "$(clears nocolor)" -ge 2 ]
bm_check "NO_COLOR: no '----' between frames, as on any terminal" \
    bash -c "! grep -q '^----' '$BM_TMP/nocolor.raw'"
bm_check "NO_COLOR: no colour" bash -c "! grep -q $'\x1b\\\\[3[0-9]m' '$BM_TMP/nocolor.raw'"
pty color 60x120 2.5 -- "$BUSMON" --redis "$URL" top --interval 1s
bm_check "without NO_COLOR: health coloured" grep -q $'\x1b\\[3[0-9]m' "$BM_TMP/color.raw"

pty once 60x120 5 -- "$BUSMON" --redis "$URL" top --once
bm_eq "--once on a terminal: exit 0" 0 "$rc"
bm_check "--once on a terminal: coloured, as busmon workers" grep -q $'\x1b\\[3[0-9]m' "$BM_TMP/once.raw"
bm_check "--once on a terminal: no screen clear (it is not redrawn)" [ "$(clears once)" = 0 ]

# ---- the terminal is given back as it was ----------------------------------------------------
for how in keys=q signal=2 signal=15; do
    pty end 60x120 10 --at 1.5 "$how" -- "$BUSMON" --redis "$URL" top --interval 1s
    bm_eq "$how: exit 0 before the 10 s limit" 0 "$rc"
    bm_eq "$how: the terminal's modes restored ($modes)" same \
        "$(sed -E 's/^lflag=([0-9]+) before=\1$/same/' <<<"$modes")"
done
bm_finish
