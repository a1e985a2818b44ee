#!/usr/bin/env bash
# Every text table of the busmon CLI lines its columns up by the terminal
# columns a name takes, not its bytes: a CJK character or an emoji takes
# two, a combining mark none, a Cyrillic letter one (two bytes). A real
# agent is fed workers, steps, error types, metrics, alert labels and a
# stream named in CJK, emoji, combining marks, Cyrillic and plain ASCII;
# in each table (workers, errors, metrics, system, alerts firing and
# history, traces, trace TX, baseline) the field after a name starts (or,
# right-aligned, ends) at the same display column as in the plain ASCII
# row. Long lists in one cell (an error's workers, a series' tags, an
# alert's labels) are never cut inside a character nor cut without a word. --json carries the
# names as they are.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

comb=$(printf 'e\xcc\x81')  # e + U+0301 COMBINING ACUTE ACCENT: one column, three bytes
W=('工作者一' 'ワーカー🚀' "caf${comb}-worker" 'воркер' 'ascii-worker')
S=('手順一' 'шаг-два' "st${comb}p" '🚀步' 'step-a')
E=('エラー型' 'Ошибка' "Err${comb}ur" '失敗🔥' 'AsciiError')
STREAM2='イベント流'

cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:
  rules:
    - name: errors_seen
      metric: error_count
      scope: each_worker
      window: 5m
      for: 0s
      op: ">"
      threshold: 0
      severity: warning
      description: "errors seen"
  disable: [critical_cpu, high_error_rate, worker_failed, worker_degraded, error_spike]
EOF
bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --stream busmon:events --stream "$STREAM2" \
    --block-ms 100 --rollup-interval 1 --health-interval 1 --alert-interval 500ms \
    --system-interval 500ms

# each worker i: 3 transactions, a command of step i and its error of type i;
# one transaction (tx-mixed) through every worker; metrics named alike
{
    for i in 0 1 2 3 4; do
        for k in 1 2 3; do
            printf 'XADD busmon:events * type command tx tx-%d-%d worker %s step %s\n' \
                "$i" "$k" "${W[$i]}" "${S[$i]}"
            printf 'XADD busmon:events * type error tx tx-%d-%d worker %s step %s error "%s: went wrong"\n' \
                "$i" "$k" "${W[$i]}" "${S[$i]}" "${E[$i]}"
        done
        printf 'XADD busmon:events * type command tx tx-mixed worker %s step %s\n' "${W[$i]}" "${S[$i]}"
        printf 'XADD busmon:events * type result tx tx-mixed worker %s step %s duration_ms 12\n' \
            "${W[$i]}" "${S[$i]}"
        printf 'XADD busmon:events * type metric name %s value 5 tag.tier %s\n' "${E[$i]}" "${S[$i]}"
    done
    printf 'XADD %s * type command tx tx-s2 worker %s step %s\n' "$STREAM2" "${W[4]}" "${S[4]}"
} | redis-cli -p "$BM_PORT" >/dev/null
# holds CMD FILTER: busmon CMD --json answers and FILTER of it is true
holds() { "$BUSMON" $1 --json 2>/dev/null | jq "$2" 2>/dev/null | grep -qx true; }
bm_check "the rollup has every worker" bm_wait_for 20 "holds workers '(.workers | length) == 5'"
bm_check "the rollup has every error type" bm_wait_for 20 "holds errors '(.errors | length) == 5'"
bm_check "the rollup has every metric" bm_wait_for 20 "holds metrics '(.series | length) == 5'"
bm_check "an alert fires for every worker" bm_wait_for 20 "holds alerts '(.firing | length) == 5'"
bm_check "a system sample names both streams" bm_wait_for 20 \
    "holds system '[.latest.streams[]?.name] | index(\"$STREAM2\") != null'"
bm_check "the checkpoint holds a baseline of every worker" bm_wait_for 20 \
    "holds baseline '(.workers | length) >= 5'"

"$BUSMON" workers >"$BM_TMP/workers.txt"
"$BUSMON" errors >"$BM_TMP/errors.txt"
"$BUSMON" metrics >"$BM_TMP/metrics.txt"
"$BUSMON" system >"$BM_TMP/system.txt"
"$BUSMON" alerts >"$BM_TMP/alerts.txt"
"$BUSMON" traces --limit 100 >"$BM_TMP/traces.txt"
"$BUSMON" trace tx-mixed >"$BM_TMP/trace.txt"
"$BUSMON" baseline >"$BM_TMP/baseline.txt"

# at FILE SECTION NEEDLE start|end: on the first line after the first line
# holding SECTION ("" for the file's start) that holds NEEDLE, the display
# column (from 0) where the field after NEEDLE and its blanks starts (start)
# or ends (end: right-aligned numbers); East Asian Wide and Fullwidth take
# 2, combining marks 0, others 1. "none" when no line holds it.
at() {
    "$PY" -c 'import sys, unicodedata
w = lambda s: sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
path, section, needle, which = sys.argv[1:5]
lines = open(path, encoding="utf-8").read().split("\n")
k = 0
if section:
    k = next((i for i, l in enumerate(lines) if section in l), len(lines))
for l in lines[k:]:
    if needle not in l:
        continue
    i = l.index(needle) + len(needle)
    while i < len(l) and l[i] == " ":
        i += 1
    j = i
    while j < len(l) and l[j] != " ":
        j += 1
    print(w(l[:i]) if which == "start" else w(l[:j]))
    sys.exit()
print("none")' "$@"
}
# aligned WHAT FILE SECTION start|end NEEDLE...: the field after each NEEDLE
# is where it is after the last (plain ASCII) one
aligned() {
    local what=$1 file=$2 section=$3 which=$4 want n
    shift 4
    want=$(at "$file" "$section" "${!#}" "$which")
    [ "$want" != none ] || want="the ASCII row ${!#}"
    for n in "${@:1:$#-1}"; do
        bm_eq "$what: the field after '$n' at the ASCII row's column" "$want" \
            "$(at "$file" "$section" "$n" "$which")"
    done
}

aligned "workers (HEALTH)" "$BM_TMP/workers.txt" WORKER start "${W[@]}"
aligned "errors (COUNT)" "$BM_TMP/errors.txt" TYPE end "${E[@]}"
aligned "errors (EXAMPLE after WORKERS)" "$BM_TMP/errors.txt" TYPE start "${W[@]}"
aligned "metrics (KIND)" "$BM_TMP/metrics.txt" NAME start "${E[@]}"
aligned "metrics (COUNT after TAGS)" "$BM_TMP/metrics.txt" NAME end "${S[@]/#/tier=}"
aligned "system streams (length)" "$BM_TMP/system.txt" 'streams (latest)' start "$STREAM2" busmon:events
aligned "alerts firing (VALUE after LABELS)" "$BM_TMP/alerts.txt" 'alerts firing' end "${W[@]/#/worker=}"
aligned "alerts history (VALUE after LABELS)" "$BM_TMP/alerts.txt" 'recent notifications' end \
    "${W[@]/#/worker=}"
aligned "traces (ERROR after WORKERS)" "$BM_TMP/traces.txt" START start "${W[@]/%/ }"
aligned "traces (TX after ERROR)" "$BM_TMP/traces.txt" START start "${E[@]/%/ }"
aligned "trace (STEP after WORKER)" "$BM_TMP/trace.txt" TIME start "${W[@]}"
aligned "trace (DURATION after STEP)" "$BM_TMP/trace.txt" TIME end "${S[@]}"
aligned "baseline (STATE)" "$BM_TMP/baseline.txt" WORKER start "${W[@]}"

# --json: the names as they are, no padding
bm_eq "workers --json: the names whole" "$(printf '%s\n' "${W[@]}" | sort)" \
    "$("$BUSMON" workers --json | jq -r '.workers[].name' | sort)"
bm_eq "errors --json: the types whole" "$(printf '%s\n' "${E[@]}" | sort)" \
    "$("$BUSMON" errors --json | jq -r '.errors[].type' | sort)"
bm_eq "metrics --json: the names and tags whole" \
    "$(for i in 0 1 2 3 4; do echo "${E[$i]} ${S[$i]}"; done | sort)" \
    "$("$BUSMON" metrics --json | jq -r '.series[] | "\(.name) \(.tags.tier)"' | sort)"
bm_eq "alerts --json: the labels whole" "$(printf '%s\n' "${W[@]}" | sort)" \
    "$("$BUSMON" alerts --json | jq -r '.firing[].labels.worker' | sort)"
bm_eq "traces --json: the workers whole" "$(printf '%s\n' "${W[@]}" | sort)" \
    "$("$BUSMON" traces --json | jq -r '.traces[] | select(.tx == "tx-mixed") | .workers[]' | sort)"
bm_eq "baseline --json: the workers whole" "$(printf '%s\n' "${W[@]}" | sort)" \
    "$("$BUSMON" baseline --json | jq -r '.workers[].name | select(startswith("metric:") | not)' | sort)"

# ---- a cell holding a list longer than 255 bytes: whole items, "+N more" said ------------------
# LongErr hits 10 workers of 48-byte names: the rollup lists 8 (workers_more 2); busmon errors
# joined them into 255 bytes, cutting the 6th name inside a character and dropping " +2 more".
# LongTags has 4 tags of 92 bytes each: busmon metrics cut them into 255 bytes the same way.
long=$(printf '工作者%.0s' 1 2 3 4 5)
tag=$(printf '値%.0s' $(seq 1 30))
{
    for i in $(seq 1 10); do
        printf 'XADD busmon:events * type command tx tx-long-%d worker x%s-%02d step s\n' "$i" "$long" "$i"
        printf 'XADD busmon:events * type error tx tx-long-%d worker x%s-%02d error "LongErr: x"\n' \
            "$i" "$long" "$i"
    done
    printf 'XADD busmon:events * type metric name LongTags value 1 tag.a %s tag.b %s tag.c %s tag.d %s\n' \
        "$tag" "$tag" "$tag" "$tag"
} | redis-cli -p "$BM_PORT" >/dev/null
bm_check "the rollup lists 8 of LongErr's workers and 2 more" bm_wait_for 20 \
    "holds errors '[.errors[] | select(.type == \"LongErr\")] | .[0].workers_more == 2'"
bm_check "the rollup has LongTags" bm_wait_for 20 "holds metrics '[.series[].name] | index(\"LongTags\") != null'"
"$BUSMON" errors >"$BM_TMP/errors-long.txt"
"$BUSMON" metrics LongTags >"$BM_TMP/metrics-long.txt"
listed=$("$BUSMON" errors --json | jq -r '.errors[] | select(.type == "LongErr") | .workers | join(",")')
bm_check "errors: LongErr's 8 listed workers whole, then +2 more" \
    bash -c '[ -n "$1" ] && grep -qF "$1 +2 more" "$2"' _ "$listed" "$BM_TMP/errors-long.txt"
bm_check "errors: no character cut in two (no \\x escape)" bash -c "! grep -qF '\\x' '$BM_TMP/errors-long.txt'"
bm_check "metrics: LongTags' 4 tags whole" grep -qF "a=$tag,b=$tag,c=$tag,d=$tag " "$BM_TMP/metrics-long.txt"
bm_check "metrics: no character cut in two (no \\x escape)" bash -c "! grep -qF '\\x' '$BM_TMP/metrics-long.txt'"

# ---- alert labels too long for their cell: left out whole, and said ----------------------------
# busmon alerts left out the labels past its 511 bytes without a word
big=$(printf '値%.0s' $(seq 1 200))
bm_cli HSET hand:firing f1 "{\"rule\":\"r\",\"severity\":\"warning\",\"labels\":{\"a\":\"s\",\"b\":\"$big\",\"c\":\"t\"},\"description\":\"d\"}" >/dev/null
"$BUSMON" alerts --firing hand:firing --count 0 >"$BM_TMP/alerts-long.txt" 2>&1
bm_check "alerts: the labels that do not fit are said (+2 more)" \
    grep -qE '^warning +r +a=s \+2 more +- ' "$BM_TMP/alerts-long.txt"

# ---- a long error message in busmon trace: never cut inside a character -----------------------
# the timeline joined type and message into 599 bytes: a 900-byte message was cut mid-character
msg=$(printf '失%.0s' $(seq 1 300))
printf 'XADD busmon:events * type command tx tx-msg worker w step s\nXADD busmon:events * type error tx tx-msg worker w error_type E error_message %s\n' \
    "$msg" | redis-cli -p "$BM_PORT" >/dev/null
bm_check "the agent stored tx-msg's error" bm_wait_for 20 "'$BUSMON' trace tx-msg | grep -q ' E: '"
"$BUSMON" trace tx-msg >"$BM_TMP/trace-msg.txt" 2>&1
bm_check "trace: the long error message has no character cut in two (no \\x escape)" \
    bash -c "grep -q ' E: 失失失' '$BM_TMP/trace-msg.txt' && ! grep -qF '\\x' '$BM_TMP/trace-msg.txt'"
bm_finish
