#!/usr/bin/env bash
# `busmon top` on a terminal (a pty of a given size, pty_run.py) with a
# hand-written rollup and firing hash (no agent needed):
#  - wide names (CJK worker names like "工作者-一", emoji) take two columns
#    each: the columns after them line up with an ASCII row's, and no line
#    of a frame is wider than the terminal (it would wrap and push the
#    headline off); a line cut to the width never splits a UTF-8 sequence
#    nor a wide character;
#  - a long list of firing alerts is cut inside its section ("... N more
#    alerts"), worst kept, so the consumer lag below it stays on the screen.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
PTY="$(dirname "$0")/pty_run.py"
URL="redis://127.0.0.1:$BM_PORT"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
worker() { # NAME HEALTH EXECUTIONS
    printf '{"name":"%s","health":"%s","in_flight":0,"windows":{"5m":{"executions":%s,"success_rate":1,"p95_ms":12}}}' "$@"
}
rollup=$(printf '{"ts":"%s","agent":"a1","interval_s":10,"events":{"5m":{"total_events":9}},"workers":[%s,%s,%s,%s],"errors":[{"type":"エラー型","total":3}]}' \
    "$now" "$(worker '工作者-一' healthy 90)" "$(worker 'ascii-worker' healthy 80)" \
    "$(worker '🚀rocket🚀' healthy 70)" "$(worker '工作者工作者工作者工作者-長い名前' healthy 60)")
bm_cli_raw XADD hand:rollups '*' json "$rollup" >/dev/null
bm_cli_raw XGROUP CREATE busmon:events busmon '$' MKSTREAM >/dev/null

# pty NAME SIZE SECONDS -- CMD...: $BM_TMP/NAME.frame (the last frame, colour codes out), $rc
pty() {
    local name=$1 size=$2 secs=$3; shift 3
    python3 "$PTY" --size "$size" --for "$secs" --out "$BM_TMP/$name.raw" \
        --last-frame "$BM_TMP/$name.frame" "$@" >/dev/null
    rc=$?
}
# cols FILE: "bad" when a line is not UTF-8, else the widest line's columns
# (East Asian Wide and Fullwidth: 2, combining: 0)
cols() {
    python3 -c 'import sys, unicodedata
try:
    t = open(sys.argv[1], "rb").read().decode("utf-8")
except UnicodeDecodeError:
    print("bad"); sys.exit()
w = lambda c: 0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
print(max([sum(w(c) for c in l) for l in t.split("\n")] or [0]))' "$1"
}
# col FILE WORD: the column (from 0) where WORD starts on the first line holding it
col() {
    python3 -c 'import sys, unicodedata
w = lambda c: 0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
for l in open(sys.argv[1], encoding="utf-8"):
    if sys.argv[2] in l:
        print(sum(w(c) for c in l[:l.index(sys.argv[3])])); break' "$1" "$2" "$3"
}

# ---- wide names: counted as two columns ---------------------------------------------------------
pty wide 40x120 2 -- "$BUSMON" --redis "$URL" top --interval 30s --rollups hand:rollups
bm_check "120 columns: the frame is drawn" grep -q '^busmon top' "$BM_TMP/wide.frame"
bm_eq "120 columns: a CJK name's health column lines up with an ASCII name's" \
    "$(col "$BM_TMP/wide.frame" ascii-worker healthy)" "$(col "$BM_TMP/wide.frame" '工作者-一' healthy)"
bm_eq "120 columns: an emoji name's health column lines up with an ASCII name's" \
    "$(col "$BM_TMP/wide.frame" ascii-worker healthy)" "$(col "$BM_TMP/wide.frame" '🚀rocket' healthy)"
for size in 40x31 40x30 40x29 40x20 40x15; do
    w=${size#*x}
    pty "cut$w" "$size" 2 -- "$BUSMON" --redis "$URL" top --interval 30s --rollups hand:rollups
    got=$(cols "$BM_TMP/cut$w.frame")
    bm_check "$w columns: no line wider than the terminal, nor a character split ($got)" \
        bash -c "[ '$got' != bad ] && [ '$got' -le $w ]"
done
bm_check "20 columns: the cut kept the whole wide characters that fit" \
    grep -q '^工作者工作者工作者工' "$BM_TMP/cut20.frame"

# ---- many firing alerts: cut inside their section, the lag still shown -------------------------
rec() { printf '{"rule":"rule_%03d","state":"firing","severity":"%s","labels":{"worker":"w%d"},"description":"d"}' "$@"; }
args=()
for i in $(seq 1 60); do
    sev=warning; [ "$i" -le 3 ] && sev=critical
    args+=("f$i" "$(rec "$i" "$sev" "$i")")
done
bm_cli HSET hand:firing "${args[@]}" _updated "$now" >/dev/null
pty alerts 30x120 2 -- "$BUSMON" --redis "$URL" top --interval 30s --rollups hand:rollups --firing hand:firing
bm_check "30 rows: at most 29 lines ($(wc -l <"$BM_TMP/alerts.frame"))" \
    [ "$(wc -l <"$BM_TMP/alerts.frame")" -le 29 ]
bm_check "30 rows: the consumer lag is still on the screen" \
    bash -c "grep -q '^CONSUMER LAG' '$BM_TMP/alerts.frame' && grep -qE '^  busmon:events +group busmon' '$BM_TMP/alerts.frame'"
bm_check "30 rows: the alerts cut inside their section say how many are not shown" \
    bash -c "sed -n '/^FIRING ALERTS/,/^CONSUMER LAG/p' '$BM_TMP/alerts.frame' | grep -qE '^\.\.\. [0-9]+ more alerts'"
shown=$(sed -n '/^FIRING ALERTS/,/^CONSUMER LAG/p' "$BM_TMP/alerts.frame" | grep -c '^  \(critical\|warning\)')
more=$(sed -n 's/^\.\.\. \([0-9]*\) more alerts.*/\1/p' "$BM_TMP/alerts.frame")
bm_eq "30 rows: the alerts shown and the ones said add up to 60 ($shown + $more)" 60 "$((shown + ${more:-0}))"
bm_check "30 rows: the worst (critical) alerts are kept" \
    [ "$(grep -c '^  critical' "$BM_TMP/alerts.frame")" = 3 ]
bm_check "30 rows: nothing said hidden at the frame's end" \
    bash -c "! grep -q 'more lines (a taller terminal shows them)' '$BM_TMP/alerts.frame'"
bm_finish
