#!/usr/bin/env bash
# tests/bench/otlp.sh - what the OTLP sink and tail sampling cost the agent's
# ingest (see tests/bench/README.md, "OTLP export and tail sampling").
#
# Fills one stream with N events (bench-fill, as run.sh) on a private
# redis-server, then drains it with busmon-agent --drain in four setups, each
# drain in a group, consumer and trace prefix of its own, ROUNDS times
# interleaved (off, on, s01, on01, off, on, ...) so a busy neighbour hurts all:
#
#   off   OTLP off, sampling off (rate 1.0)      the baseline
#   on    OTLP on, a receiver accepting          (bm-webhook-receiver, 200 to all)
#   s01   OTLP off, traces.sampling.rate 0.1
#   on01  OTLP on, sampling rate 0.1
#
# Per drain: the ingest rate (the summary's events_per_s: first entry to last
# ack), the process rate (N / process wall time: start-up, the final finishing
# of transactions and the sinks' flush too), the agent's CPU (user + system)
# per event, redis-server's CPU per event, and what the finisher did
# (transactions finished, not in memory any more when due, exported, spans,
# spans dropped, sampled out). Then the medians and their ratios to off.
# The last line is for scripts:
#
#   otlp: off N ev/s, on M ev/s (ratio R), sampling 0.1 K ev/s (ratio S); agent us/event ...
#
#   tests/bench/otlp.sh [--events N (200000)] [--rounds R (3)]
#
# A benchmark, not a test: exits non-zero only when the run is broken.
set -euo pipefail

die() { echo "bench-otlp: $*" >&2; exit 1; }
EVENTS=200000
ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --events) [ $# -ge 2 ] || die "--events needs a value"; EVENTS=$2; shift 2 ;;
        --events=*) EVENTS=${1#*=}; shift ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        -h | --help) sed -n '2,27s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $EVENTS =~ ^[0-9]+$ ]] && [ "$EVENTS" -ge 2 ] || die "--events must be a number >= 2"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a number >= 1"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # SRC, BUILD, bench_build, ...
bench_tools jq redis-cli redis-server awk
TIMEOUT=${BUSMON_BENCH_TIMEOUT:-900}
for b in bench-fill busmon-agent bm-webhook-receiver; do
    [ -x "$BUILD/$b" ] || die "$BUILD/$b missing: cmake --build ${BUILD#$PWD/} (tests on)"
done

TMP=$(mktemp -d /tmp/busmon-bench-otlp.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }

PORT=$(bench_free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
    --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
URL="redis://127.0.0.1:$PORT"
RCLI=(redis-cli -h 127.0.0.1 -p "$PORT")
for _ in $(seq 100); do "${RCLI[@]}" PING >/dev/null 2>&1 && break; sleep 0.1; done
"${RCLI[@]}" PING >/dev/null 2>&1 || die "redis-server did not start"

# the receiver: answers 200 to everything, keeps nothing
"$BUILD/bm-webhook-receiver" --out /dev/null --port-file "$TMP/rx.port" --max-seconds 3600 \
    >"$TMP/rx.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/rx.port" ] && break; sleep 0.1; done
[ -s "$TMP/rx.port" ] || die "the receiver did not start"
RX="http://127.0.0.1:$(cat "$TMP/rx.port")"

STREAM=busmon:bench:otlp
echo "bench-otlp: $EVENTS events, Redis $("${RCLI[@]}" INFO server | tr -d '\r' | awk -F: '$1=="redis_version"{print $2}'), $(nproc) CPUs, receiver $RX"
"$BUILD/bench-fill" --redis "$URL" --stream "$STREAM" --events "$EVENTS" | sed 's/^/  /'

# run NAME [agent flags...]: one drain; prints its line, appends its figures to
# $TMP/rows (name, ingest ev/s, wall ev/s, agent us/event, redis us/event)
run() {
    local name=$1; shift
    local summary=$TMP/$name.json r0 r1 rc wall user sys
    r0=$(cpu_s "$REDIS_PID")
    TIMEFORMAT='%R %U %S'
    set +e
    { time BUSMON_OUTPUTS_TRACE_PREFIX="bench:$name:" timeout "$TIMEOUT" "$BUILD/busmon-agent" \
        --redis "$URL" --stream "$STREAM" --group "$name-$ROUND" --consumer "bench-$name-$ROUND" \
        --drain --no-http --summary "$summary" --log-level warn --trace-retention 1h "$@" \
        >"$TMP/$name.log" 2>&1; } 2>"$TMP/$name.time"
    rc=$?
    set -e
    r1=$(cpu_s "$REDIS_PID")
    [ $rc -eq 0 ] && [ -s "$summary" ] || { tail -20 "$TMP/$name.log" >&2; die "agent run $name exited with $rc"; }
    [ "$(jq -r .acked "$summary")" = "$EVENTS" ] || die "agent run $name acked $(jq -r .acked "$summary") of $EVENTS"
    read -r wall user sys <"$TMP/$name.time"
    jq -r --arg name "$name" --arg n "$EVENTS" --arg wall "$wall" --arg cpu "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" \
        --arg rcpu "$(awk -v a="$r0" -v b="$r1" 'BEGIN {print b - a}')" '
        def r2: . * 100 | round / 100;
        ($n | tonumber) as $n | .finisher as $f |
        [$name, (.events_per_s | floor), ($n / ($wall | tonumber) | floor), (($cpu | tonumber) * 1e6 / $n | r2),
         (($rcpu | tonumber) * 1e6 / $n | r2), $f.finished, $f.not_in_memory, .otlp.transactions, .otlp.spans,
         .otlp.spans_dropped, .sampling.decisions.sampled_out] | @tsv' "$summary" | tee -a "$TMP/rows" |
        awk -F'\t' '{printf "%-5s ingest %d ev/s, process %d ev/s; agent %.2f us CPU/event, redis %.2f; finished %d (not in memory %d), exported %d tx / %d spans (dropped %d), sampled out %d\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}'
    "${RCLI[@]}" --scan --pattern "bench:$name:*" | xargs -r -n 1000 "${RCLI[@]}" UNLINK >/dev/null
}

for ROUND in $(seq 1 "$ROUNDS"); do
    echo "round $ROUND of $ROUNDS"
    run off
    run on --otlp-endpoint "$RX"
    run s01 --sampling-rate 0.1
    run on01 --otlp-endpoint "$RX" --sampling-rate 0.1
done

# medians over the rounds, ratios against the baseline (off)
awk -F'\t' '
    function median(name, col,   n, i, j, t, v) {
        n = 0
        for (i = 1; i <= rows; i++) if (nm[i] == name) v[++n] = f[i, col]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { rows++; nm[rows] = $1; for (c = 2; c <= NF; c++) f[rows, c] = $c }
    END {
        split("off on s01 on01", names, " ")
        label["off"] = "OTLP off, sampling 1.0"; label["on"] = "OTLP on, sampling 1.0"
        label["s01"] = "OTLP off, sampling 0.1"; label["on01"] = "OTLP on, sampling 0.1"
        bi = median("off", 2); bw = median("off", 3); bc = median("off", 4)
        for (k = 1; k <= 4; k++) {
            x = names[k]
            printf "median %-22s ingest %7d ev/s (x%.2f), process %7d ev/s (x%.2f), agent %.2f us CPU/event (x%.2f), redis %.2f\n",
                label[x], median(x, 2), median(x, 2) / bi, median(x, 3), median(x, 3) / bw,
                median(x, 4), median(x, 4) / bc, median(x, 5)
        }
        printf "otlp: off %d ev/s, on %d ev/s (ratio %.2f), sampling 0.1 %d ev/s (ratio %.2f); agent us/event off %.2f on %.2f s01 %.2f\n",
            bi, median("on", 2), median("on", 2) / bi, median("s01", 2), median("s01", 2) / bi,
            bc, median("on", 4), median("s01", 4)
    }' "$TMP/rows"
