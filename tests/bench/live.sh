#!/usr/bin/env bash
# tests/bench/live.sh - Redis's CPU per event with a live producer (see
# tests/bench/README.md, "Live: entries that trickle in").
#
# run.sh drains a stream filled beforehand, so every read is full. In
# production entries trickle in: the demo producer at --rate events/s for
# --seconds, and the agent reading them as they come. Per round, each on a
# fresh private redis-server, interleaved:
#
#   producer   the producer alone (its XADDs: the part that is not busmon's)
#   linger0    + busmon-agent --read-linger-ms 0 (read again at once)
#   lingerN    + busmon-agent with the default streams.read_linger_ms
#
# Redis CPU (INFO cpu, user + sys) from the producer's start to 3 s after it
# ends, per stream entry; the agent's share is the run's minus the
# producer-alone run's of the same round. Prints per round and mode:
#
#   live: <mode> <entries> entries, redis <us> us/event (agent's share <us>), XREADGROUP <calls>/event
#
# and last, the medians and the ratio linger0/lingerN of the agent's share:
#
#   live: agent's share of redis CPU: linger0 <us> us/event, lingerN <us>, ratio <r>
#
# A benchmark, not a test: exits 0 whatever the figures, 2 on a usage error,
# 1 when the run is broken (an entry not read and acked).
set -euo pipefail

usage() {
    cat <<EOF
usage: tests/bench/live.sh [--rate N] [--seconds S] [--rounds R]

  --rate N      producer events per second (default 2000)
  --seconds S   how long the producer starts transactions (default 15)
  --rounds R    rounds, modes interleaved (default 2)
  -h, --help    this help

environment:
  BUSMON_BUILD_DIR  build directory (default <repo>/build); built with cmake
                    when a binary is missing
EOF
}
die() { echo "bench-live: $*" >&2; exit 1; }
bad_arg() { echo "bench-live: $*" >&2; exit 2; }

RATE=2000
SECS=15
ROUNDS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) [ $# -ge 2 ] || bad_arg "--rate needs a value"; RATE=$2; shift 2 ;;
        --seconds) [ $# -ge 2 ] || bad_arg "--seconds needs a value"; SECS=$2; shift 2 ;;
        --rounds) [ $# -ge 2 ] || bad_arg "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) bad_arg "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $RATE =~ ^[1-9][0-9]{0,5}$ ]] || bad_arg "--rate must be a number from 1 to 999999, not '$RATE'"
[[ $SECS =~ ^[1-9][0-9]{0,3}$ ]] || bad_arg "--seconds must be a number from 1 to 9999, not '$SECS'"
[[ $ROUNDS =~ ^[1-9]$ ]] || bad_arg "--rounds must be a number from 1 to 9, not '$ROUNDS'"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # SRC, BUILD, bench_build, ...
bench_tools redis-server redis-cli awk
TMP=$(mktemp -d /tmp/busmon-bench-live.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build busmon-agent busmon-demo-producer
"$BUILD/busmon-agent" --help >"$TMP/help.txt"
DEFAULT_LINGER=$(awk '/--read-linger-ms/ { f = 1 } f && /default/ { sub(/.*default /, ""); sub(/\).*/, ""); print; exit }' "$TMP/help.txt")
[ -n "$DEFAULT_LINGER" ] || die "busmon-agent --help names no default for --read-linger-ms"
echo "bench-live: $RATE events/s for $SECS s, $ROUNDS round(s), default linger ${DEFAULT_LINGER} ms, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

RESULTS=$TMP/results # mode round entries us_per_event xreadgroup_per_event
: >"$RESULTS"

# one MODE ROUND
one() {
    local mode=$1 r=$2 port url rpid apid="" c0 c1 n st
    port=$(bench_free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
        --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
    rpid=$!
    PIDS+=("$rpid")
    url="redis://127.0.0.1:$port"
    local cli=(timeout 60 redis-cli -h 127.0.0.1 -p "$port")
    for _ in $(seq 100); do "${cli[@]}" PING >/dev/null 2>&1 && break; sleep 0.1; done
    "${cli[@]}" PING >/dev/null 2>&1 || die "redis-server did not start"
    if [ "$mode" != producer ]; then
        local linger=${mode#linger}
        "$BUILD/busmon-agent" --redis "$url" --group bench --consumer live --read-linger-ms "$linger" \
            --log-level warn >"$TMP/agent.log" 2>&1 &
        apid=$!
        PIDS+=("$apid")
        for _ in $(seq 100); do "${cli[@]}" XINFO GROUPS busmon:events 2>/dev/null | grep -qx bench && break; sleep 0.1; done
        "${cli[@]}" XINFO GROUPS busmon:events 2>/dev/null | grep -qx bench || { cat "$TMP/agent.log" >&2; die "$mode: the agent made no group"; }
    fi
    "${cli[@]}" CONFIG RESETSTAT >/dev/null
    c0=$("${cli[@]}" INFO cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" { s += $2 } END { printf "%.6f", s }')
    timeout $((SECS + 120)) "$BUILD/busmon-demo-producer" --redis "$url" --rate "$RATE" --duration "$SECS" \
        --seed "$r" >/dev/null 2>"$TMP/producer.log" || { cat "$TMP/producer.log" >&2; die "the producer failed"; }
    sleep 3
    c1=$("${cli[@]}" INFO cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" { s += $2 } END { printf "%.6f", s }')
    n=$("${cli[@]}" XLEN busmon:events)
    st=$("${cli[@]}" INFO commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_xreadgroup" { print $3 }')
    if [ -n "$apid" ]; then
        local pend
        pend=$("${cli[@]}" XPENDING busmon:events bench | head -1)
        [ "$("${cli[@]}" XINFO GROUPS busmon:events | awk '$0 == "entries-read" { getline; print }')" = "$n" ] ||
            die "$mode: the agent did not read all $n entries"
        [ "${pend:-x}" = 0 ] || echo "bench-live: $mode: $pend entries still pending (acked at the next checkpoint)" >&2
        kill "$apid"
        wait "$apid" 2>/dev/null || true
    fi
    kill "$rpid"
    wait "$rpid" 2>/dev/null || true
    awk -v m="$mode" -v r="$r" -v n="$n" -v c0="$c0" -v c1="$c1" -v x="${st:-0}" 'BEGIN {
        printf "%s %d %d %.4f %.4f\n", m, r, n, 1e6 * (c1 - c0) / n, x / n }' >>"$RESULTS"
}

MODES=(producer linger0 "linger$DEFAULT_LINGER")
for r in $(seq 1 "$ROUNDS"); do
    for m in "${MODES[@]}"; do one "$m" "$r"; done
done

awk -v dl="linger$DEFAULT_LINGER" '
    { n[$1, $2] = $3; cpu[$1, $2] = $4; xr[$1, $2] = $5; if ($2 > R) R = $2; order[$1] = 1 }
    function median(a, k,    i, j, t) { # a[1..k]
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    END {
        split("producer linger0 " dl, modes, " ")
        for (r = 1; r <= R; r++) for (i = 1; i <= 3; i++) { m = modes[i]
            share = cpu[m, r] - cpu["producer", r]
            printf "live: %s %d entries, redis %.2f µs/event (agent'"'"'s share %.2f), XREADGROUP %.3f/event (round %d)\n",
                m, n[m, r], cpu[m, r], m == "producer" ? 0 : share, xr[m, r], r
            if (m == "linger0") s0[r] = share
            if (m == dl) s1[r] = share
        }
        a = median(s0, R); b = median(s1, R)
        printf "live: agent'"'"'s share of redis CPU (medians): linger0 %.2f µs/event, %s %.2f, ratio %.2f\n",
            a, dl, b, (b > 0 ? a / b : 0)
    }' "$RESULTS"
exit 0
