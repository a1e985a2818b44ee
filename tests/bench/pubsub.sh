#!/usr/bin/env bash
# tests/bench/pubsub.sh - the pub/sub input under load (see tests/bench/README.md).
#
# A private redis-server, one busmon-agent subscribed to multiagent:*, and
# bench-publish sending the MultiAgents Framework's command/result JSON from
# several clients at rising rates. For each rate it prints what was published,
# what the agent received, the largest output buffer Redis held for the
# agent's subscriber connection (CLIENT LIST omem) and whether the agent kept
# up. Redis disconnects a subscriber whose buffer passes
# `client-output-buffer-limit pubsub` (default 32mb hard, 8mb for 60 s), so
# the rate the agent keeps up with is the rate it sustains forever; above it
# the backlog grows and the script says how long the default limit would
# last. Then the figures are checked (per-worker successes and failures exact
# against what was published), and a forced disconnect (agent stopped,
# a 1 MB limit) shows what the agent does: the log line, the counters, the
# new subscription, and that messages after it are received again.
#
# The last lines are machine-readable:
#
#   pubsub: sustained R msg/s (4 clients), agent max M msg/s
#   pubsub-disconnect: disconnects D, resubscribed yes, received after N/N
#
# A benchmark, not a test: it exits non-zero only when the run is broken.
set -euo pipefail

usage() {
    cat <<EOF
usage: tests/bench/pubsub.sh [--rates LIST] [--seconds D] [--clients K]

  --rates LIST  messages per second to try, comma-separated; 0 = unpaced
                (default 20000,50000,100000,200000,0)
  --seconds D   seconds per rate (default 4)
  --clients K   publishing connections (default 4)
  -h, --help    this help

environment: BUSMON_BUILD_DIR (default <repo>/build)
             BUSMON_BENCH_WRAP  command put in front of busmon-agent, e.g.
                                "perf record -g -o /tmp/agent.perf --"
EOF
}
die() { echo "bench-pubsub: $*" >&2; exit 1; }

RATES=20000,50000,100000,200000,0
SECONDS_PER=4
CLIENTS=4
while [ $# -gt 0 ]; do
    case "$1" in
        --rates) [ $# -ge 2 ] || die "--rates needs a value"; RATES=$2; shift 2 ;;
        --seconds) [ $# -ge 2 ] || die "--seconds needs a value"; SECONDS_PER=$2; shift 2 ;;
        --clients) [ $# -ge 2 ] || die "--clients needs a value"; CLIENTS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $SECONDS_PER =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive number, not '$SECONDS_PER'"
[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "--clients must be a positive number, not '$CLIENTS'"
[[ $RATES =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--rates must be numbers separated by commas, not '$RATES'"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # SRC, BUILD, bench_build, ...
bench_tools jq redis-cli redis-server curl awk
TMP=$(mktemp -d /tmp/busmon-bench-pubsub.XXXXXX)
REDIS_PID= AGENT_PID=
cleanup() {
    for p in $AGENT_PID $REDIS_PID; do
        kill -CONT "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build bench-publish busmon-agent busmon

PORT=$(bench_free_port)
HP=$(bench_free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
    --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
RCLI=(redis-cli -h 127.0.0.1 -p "$PORT")
for _ in $(seq 100); do "${RCLI[@]}" PING >/dev/null 2>&1 && break; sleep 0.1; done
"${RCLI[@]}" PING >/dev/null 2>&1 || { cat "$TMP/redis.log" >&2; die "redis-server did not start"; }
export BUSMON_REDIS_URL="redis://127.0.0.1:$PORT"
limit=$("${RCLI[@]}" CONFIG GET client-output-buffer-limit | tail -1 | grep -o 'pubsub [^ ]* [^ ]* [^ ]*')
echo "bench-pubsub: Redis $("${RCLI[@]}" INFO server | tr -d '\r' | awk -F: '$1=="redis_version"{print $2}'), $(nproc) CPUs, client-output-buffer-limit $limit (bytes, bytes, seconds)"

read -r -a WRAP <<<"${BUSMON_BENCH_WRAP:-}"
${WRAP[@]+"${WRAP[@]}"} "$BUILD/busmon-agent" --psubscribe 'multiagent:*' --http "127.0.0.1:$HP" --log-level warn \
    --rollup-interval 1s \
    >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do [ "$("${RCLI[@]}" PUBSUB NUMPAT)" -ge 1 ] 2>/dev/null && break; sleep 0.1; done
[ "$("${RCLI[@]}" PUBSUB NUMPAT)" -ge 1 ] || { cat "$TMP/agent.log" >&2; die "the agent did not subscribe"; }

metric() { # metric NAME [LABELS]: its value on /metrics (0 when absent)
    curl -s --max-time 5 "http://127.0.0.1:$HP/metrics" |
        awk -v n="$1${2:+\{$2\}}" '$1 == n { v = $2 } END { printf "%d\n", v + 0 }'
}
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.3f", ($12 + $13) / hz}' "/proc/$1/stat"; }
omem() { # the subscriber connection's output buffer, bytes (0 when none)
    "${RCLI[@]}" CLIENT LIST TYPE pubsub | tr ' ' '\n' | awk -F= '$1 == "omem" { m += $2 } END { print m + 0 }'
}
# wait until the agent's count of messages stops moving (or reaches $1); prints it
settle() {
    local want=$1 last=-1 cur t0=$SECONDS
    while :; do
        cur=$(metric busmon_pubsub_messages_total)
        [ "$cur" -ge "$want" ] && break
        [ "$cur" = "$last" ] && [ $((SECONDS - t0)) -ge 2 ] && break
        [ $((SECONDS - t0)) -ge 60 ] && break
        last=$cur
        sleep 0.5
    done
    echo "$cur"
}

# --- the ramp ------------------------------------------------------------------
IFS=, read -r -a RS <<<"$RATES"
sustained=0 agent_max=0 total_tx=0 seed=1
disc0=$(metric busmon_pubsub_disconnects_total)
printf '%-9s %20s %9s %11s %13s %10s  %s\n' rate published received 'agent msg/s' 'CPU us/msg *' 'max omem' verdict
for R in "${RS[@]}"; do
    m0=$(metric busmon_pubsub_messages_total)
    t0=$(date +%s.%N)
    ca0=$(cpu_s "$AGENT_PID") cr0=$(cpu_s "$REDIS_PID")
    "$BUILD/bench-publish" --port "$PORT" --clients "$CLIENTS" --rate "$R" \
        --seconds "$SECONDS_PER" --seed "$seed" --truth "$TMP/truth.$seed" >"$TMP/pub.out" &
    pub=$!
    maxo=0
    while kill -0 "$pub" 2>/dev/null; do
        o=$(omem)
        [ "$o" -gt "$maxo" ] && maxo=$o
        sleep 0.2
    done
    wait "$pub" || die "bench-publish failed: $(cat "$TMP/pub.out")"
    sent=$(awk '{print $2}' "$TMP/pub.out")
    tx=$(awk '{print $4}' "$TMP/pub.out" | tr -d '(')
    prate=$(awk '{for (i = 1; i <= NF; i++) if ($i == "msg/s,") print $(i - 1)}' "$TMP/pub.out")
    total_tx=$((total_tx + tx))
    m1=$(settle $((m0 + sent)))
    t1=$(date +%s.%N)
    ca1=$(cpu_s "$AGENT_PID") cr1=$(cpu_s "$REDIS_PID")
    got=$((m1 - m0))
    # CPU per message received: the agent's, and Redis's (which also served the publishers)
    cpu=$(awk -v n="$got" -v a="$(awk -v x="$ca0" -v y="$ca1" 'BEGIN{print y-x}')" \
        -v r="$(awk -v x="$cr0" -v y="$cr1" 'BEGIN{print y-x}')" \
        'BEGIN { if (n > 0) printf "%.1f/%.1f", a * 1e6 / n, r * 1e6 / n; else printf "-" }')
    arate=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    # kept up: everything arrived and Redis never held more than a few pipelines for it
    if [ "$got" -eq "$sent" ] && [ "$maxo" -lt 1048576 ]; then
        verdict="kept up"
        [ "$prate" -gt "$sustained" ] && sustained=$prate
    elif [ "$got" -eq "$sent" ]; then
        # the backlog grew at (published - received) per second while publishing
        verdict=$(awk -v m="$maxo" -v s="$SECONDS_PER" 'BEGIN {
            g = m / s
            printf "behind: its buffer grew ~%.1f MB/s; the default 32 MB limit lasts ~%.0f s", g / 1048576, 33554432 / g }')
    else
        verdict="LOST $((sent - got)) (disconnected?)"
    fi
    [ "$arate" -gt "$agent_max" ] && agent_max=$arate
    printf '%-9s %20s %9s %11s %13s %10s  %s\n' "${R/#0/unpaced}" "$sent ($prate/s)" "$got" "$arate" "$cpu" "$maxo" "$verdict"
    seed=$((seed + 1))
done

echo "  * CPU seconds per message received, agent/redis-server (Redis's share includes serving the publishers)"

# --- the figures are exact -------------------------------------------------------
cat "$TMP"/truth.* | awk -F'\t' '{ ok[$1] += $2; f[$1] += $3 } END { for (w in ok) print w, ok[w], f[w] }' |
    sort >"$TMP/truth.sum"
for _ in $(seq 30); do # the CLI reads the workers the agent publishes every rollup interval (1 s)
    "$BUILD/busmon" workers --json --window 1h 2>/dev/null |
        jq -r '.workers[] | "\(.name) \(.successes) \(.failures)"' | sort >"$TMP/seen.sum" || true
    diff -q "$TMP/truth.sum" "$TMP/seen.sum" >/dev/null && break
    sleep 1
done
if diff -q "$TMP/truth.sum" "$TMP/seen.sum" >/dev/null; then
    echo "bench-pubsub: per-worker successes and failures exact ($total_tx transactions, $(wc -l <"$TMP/truth.sum") workers)"
else
    echo "bench-pubsub: per-worker figures differ from what was published (expected when a step lost messages):"
    diff "$TMP/truth.sum" "$TMP/seen.sum" | head -20 || true
fi
echo "pubsub: sustained $sustained msg/s ($CLIENTS clients), agent max $agent_max msg/s"

# --- a forced disconnect ----------------------------------------------------------
"${RCLI[@]}" CONFIG SET client-output-buffer-limit "pubsub 1mb 256kb 1" >/dev/null
disc0=$(metric busmon_pubsub_disconnects_total)
kill -STOP "$AGENT_PID"
"$BUILD/bench-publish" --port "$PORT" --clients 2 --transactions 10000 --seconds 30 --seed 900 >/dev/null ||
    die "bench-publish failed"
for _ in $(seq 50); do [ "$("${RCLI[@]}" PUBSUB NUMPAT)" = 0 ] && break; sleep 0.1; done
closed=$("${RCLI[@]}" PUBSUB NUMPAT)
kill -CONT "$AGENT_PID"
"${RCLI[@]}" CONFIG SET client-output-buffer-limit "$limit" >/dev/null
for _ in $(seq 100); do [ "$("${RCLI[@]}" PUBSUB NUMPAT)" -ge 1 ] && break; sleep 0.1; done
resub=no
[ "$("${RCLI[@]}" PUBSUB NUMPAT)" -ge 1 ] && resub=yes
sleep 1
disc1=$(metric busmon_pubsub_disconnects_total)
m0=$(settle 0)
"$BUILD/bench-publish" --port "$PORT" --clients 2 --transactions 500 --seconds 30 --seed 901 >/dev/null
m1=$(settle $((m0 + 1000)))
echo "bench-pubsub: disconnect: Redis closed the subscriber: $([ "$closed" = 0 ] && echo yes || echo no); the agent logged:"
grep -i 'pub/sub' "$TMP/agent.log" | head -3 | sed 's/^/    /'
echo "pubsub-disconnect: disconnects $((disc1 - disc0)), resubscribed $resub, received after $((m1 - m0))/1000"
