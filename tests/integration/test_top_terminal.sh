#!/usr/bin/env bash
# `busmon top` on a terminal (a pty of a given size, pty_run.py), with
# busmon-agent, the demo producer and 40 more workers:
#  - NO_COLOR takes the colour away, not the redraw: each frame still
#    replaces the last (no "----" between frames); `--once` on a terminal
#    is coloured, as every other view;
#  - a frame fits the terminal: no line wider, no more lines than it has
#    (the worker rows cut first, and said; failed, degraded and busiest
#    workers are listed first, so they are the ones kept), so the headline
#    stays on the screen; a resize (SIGWINCH) draws it again at once at the
#    new size;
#  - firing alerts worst first, as busmon alerts lists them, and STALE said
#    when no agent rewrites the firing hash any more (as busmon alerts warns);
#  - q, SIGINT and SIGTERM end it with the terminal's modes as they were;
#  - after Ctrl-Z and fg, q quits again (the modes are set again on SIGCONT).
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
    echo "XADD busmon:events * type result tx w$i worker extra_$i step s status completed"
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

# ---- the frame fits the terminal; a resize draws it again at once ----------------------------
# frame NAME N: the Nth frame drawn (1 = the first), colour codes taken out
frame() {
    python3 -c 'import re, sys
t = open(sys.argv[1], "rb").read().decode("utf-8", "replace").split("\x1b[H\x1b[2J")
f = t[int(sys.argv[2])] if len(t) > int(sys.argv[2]) else ""
sys.stdout.write(re.sub(r"\x1b\[[0-9;]*m", "", f).replace("\r", ""))' "$BM_TMP/$1.raw" "$2"
}
pty fit 24x60 3 --at 1.5 size=70x120 -- "$BUSMON" --redis "$URL" top --interval 30s
frame fit 1 >"$BM_TMP/fit1.txt"
bm_check "24x60: the first frame is drawn" grep -q '^busmon top' "$BM_TMP/fit1.txt"
bm_check "24x60: at most 23 lines (the headline stays on the screen: $(wc -l <"$BM_TMP/fit1.txt"))" \
    [ "$(wc -l <"$BM_TMP/fit1.txt")" -le 23 ]
bm_check "24x60: no line wider than 60 columns (a wrapped line pushes the rest down)" \
    bash -c "! awk 'length(\$0) > 60 { bad = 1 } END { exit !bad }' '$BM_TMP/fit1.txt'"
bm_check "24x60: the worker rows are cut, and it says so" \
    grep -qE '^\.\.\. [0-9]+ more workers \(busmon workers lists them\)' "$BM_TMP/fit1.txt"
bm_check "24x60: the sections below the workers are still shown" \
    bash -c "grep -q '^TOP ERRORS' '$BM_TMP/fit1.txt' && grep -q '^FIRING ALERTS' '$BM_TMP/fit1.txt'"
# the worker rows of a frame: NAME HEALTH EXEC
rows() { awk '/^WORKER/ { on = 1; next } on && !/^[a-z_0-9]+ / { exit } on { print $1, $2, $3 }' "$1"; }
"$BUSMON" --redis "$URL" top --once >"$BM_TMP/order.txt" 2>&1
rows "$BM_TMP/order.txt" >"$BM_TMP/order.rows"
bm_check "--once: workers failed, then degraded, then the rest, each busiest first ($(grep -cE ' (failed|degraded) ' "$BM_TMP/order.rows") failed/degraded)" \
    awk '{ r = $2 == "failed" ? 0 : $2 == "degraded" ? 1 : 2
           if (NR > 1 && (r < pr || (r == pr && $3 > pe))) bad = 1; pr = r; pe = $3 }
         END { exit bad || NR != 44 }' "$BM_TMP/order.rows"
bm_check "24x60: every failed or degraded worker is among the rows kept" \
    bash -c "for w in \$(awk '\$2 == \"failed\" || \$2 == \"degraded\" { print \$1 }' '$BM_TMP/order.rows'); do
                 grep -q \"^\$w \" '$BM_TMP/fit1.txt' || exit 1; done"
bm_eq "a resize (SIGWINCH) draws the frame again at once, not after the 30 s interval" 2 "$(clears fit)"
frame fit 2 >"$BM_TMP/fit2.txt"
bm_eq "70x120: all 44 worker rows" 44 "$(grep -cE '^(cpu_heavy|fast|flaky|slow|extra_[0-9]+) ' "$BM_TMP/fit2.txt")"
bm_check "70x120: the consumer lag shown" grep -qE '^  busmon:events +group busmon' "$BM_TMP/fit2.txt"

# ---- firing alerts worst first (the cut keeps the worst), as busmon alerts -----------------
rec() { printf '{"rule":"%s","state":"firing","severity":"%s","labels":{"worker":"%s"},"description":"d"}' "$@"; }
bm_cli HSET hand:firing f1 "$(rec info_rule info a)" f2 "$(rec crit_rule critical b)" \
    f3 "$(rec warn_rule warning c)" f4 "$(rec a_warn_rule warning d)" _updated 2026-11-23T01:15:20Z >/dev/null
"$BUSMON" --redis "$URL" top --once --firing hand:firing >"$BM_TMP/firing.txt" 2>&1
bm_eq "top: firing alerts worst first, then by rule" "critical warning warning info crit_rule a_warn_rule warn_rule info_rule" \
    "$(awk '/^FIRING ALERTS/ { on = 1; next } on && /^$/ { exit } on { s = s $1 " "; r = r " " $2 } END { print s substr(r, 2) }' "$BM_TMP/firing.txt")"
bm_eq "busmon alerts: the same order" "crit_rule a_warn_rule warn_rule info_rule" \
    "$("$BUSMON" --redis "$URL" alerts --json --firing hand:firing --count 0 2>/dev/null | jq -r '[.firing[].rule] | join(" ")')"
# a firing hash no agent rewrites any more (_updated long ago, _every 10 s): said, as busmon alerts warns
bm_cli HSET hand:firing _every 10 >/dev/null
"$BUSMON" --redis "$URL" top --once --firing hand:firing >"$BM_TMP/stale.txt" 2>&1
bm_check "top: a firing hash not written for 3 intervals and a minute says STALE under FIRING ALERTS" \
    bash -c "sed -n '/^FIRING ALERTS/,/^\$/p' '$BM_TMP/stale.txt' | grep -q '^  STALE: the firing hash was last written .* ago, though the agent writes it every 10 s'"
bm_check "busmon alerts warns of the same hash" \
    bash -c "'$BUSMON' --redis '$URL' alerts --firing hand:firing --count 0 2>&1 >/dev/null | grep -q 'the firing hash hand:firing was last written'"
bm_cli HSET hand:firing _updated "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
bm_check "top: a fresh firing hash: no STALE" \
    bash -c "! '$BUSMON' --redis '$URL' top --once --firing hand:firing | grep -q STALE"

# ---- the terminal is given back as it was ----------------------------------------------------
for how in keys=q signal=2 signal=15; do
    pty end 60x120 10 --at 1.5 "$how" -- "$BUSMON" --redis "$URL" top --interval 1s
    bm_eq "$how: exit 0 before the 10 s limit" 0 "$rc"
    bm_eq "$how: the terminal's modes restored ($modes)" same \
        "$(sed -E 's/^lflag=([0-9]+) before=\1$/same/' <<<"$modes")"
done

# ---- Ctrl-Z, fg: the keys are read again (q quits), the shell's modes are not kept ------------
# an interactive bash on a pty runs top; prints the terminal's ICANON|ECHO bits
# while top runs, after fg, and whether a command typed after q ran
cat >"$BM_TMP/jobs.py" <<'PY'
import os, pty, select, struct, sys, termios, time, fcntl
pid, m = pty.fork()
if pid == 0:
    os.environ["HISTFILE"] = "/dev/null"
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 120, 0, 0))
out = bytearray()
def drain(t):
    end = time.time() + t
    while time.time() < end:
        if select.select([m], [], [], 0.05)[0]:
            try:
                out.extend(os.read(m, 65536))
            except OSError:
                return
def cooked():
    return bool(termios.tcgetattr(m)[3] & (termios.ICANON | termios.ECHO))
drain(1)
os.write(m, (sys.argv[1] + "\n").encode()); drain(2)
running = cooked()
os.write(m, b"\x1a"); drain(1)
os.write(m, b"fg\n"); drain(2)
after_fg = cooked()
os.write(m, b"q"); drain(1.5)
os.write(m, b"echo done-$((6*7))\n"); drain(1.5)
os.write(m, b"exit\n"); drain(0.5)
try:
    os.kill(pid, 9)
except OSError:
    pass
print(f"running={'cooked' if running else 'raw'} after_fg={'cooked' if after_fg else 'raw'} "
      f"q={'quit' if b'done-42' in out else 'ignored'}")
PY
bm_eq "Ctrl-Z then fg: keys read again, q quits" "running=raw after_fg=raw q=quit" \
    "$(python3 "$BM_TMP/jobs.py" "'$BUSMON' --redis '$URL' top --interval 1s")"
bm_finish
