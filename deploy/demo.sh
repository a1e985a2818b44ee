#!/usr/bin/env bash
# deploy/demo.sh - the README's first command: see busmon watch a live system.
#
# Installs what is missing (deploy/install-deps.sh), builds busmon, then starts:
#   - a private redis-server on a free 127.0.0.1 port (unless a Redis is given),
#   - build/busmon-agent reading the stream busmon:events, serving its
#     dashboard, /metrics and /api on 127.0.0.1:9464 (a free port if taken),
#   - build/busmon-demo-producer: a simulated orchestrator with fast, slow,
#     flaky and cpu_heavy workers writing commands, results and errors there,
# and prints the commands to look at what the agent sees. Ctrl-C stops
# everything it started and removes its temporary directory.
#
#   ./deploy/demo.sh [--redis URL] [--rate N] [--pubsub] [--no-build]
#
#   --redis URL   use this Redis instead of a private one (or BUSMON_REDIS_URL)
#   --rate N      producer events per second (default 50)
#   --pubsub      the MultiAgents Framework's way: the producer PUBLISHes its
#                 exact JSON on multiagent:* channels, the agent PSUBSCRIBEs
#   --no-build    skip installing and building; use what is in build/
#   -h, --help    this text
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUSMON_BUILD_DIR:-$ROOT/build}
STREAM=busmon:events
REDIS_URL=${BUSMON_REDIS_URL:-}
RATE=50
DO_BUILD=1
PUBSUB=0

usage() { sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
say() { printf 'demo: %s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --redis) [ $# -ge 2 ] || fail "--redis needs a URL"; REDIS_URL=$2; shift 2 ;;
        --redis=*) REDIS_URL=${1#--redis=}; shift ;;
        --rate) [ $# -ge 2 ] || fail "--rate needs a number"; RATE=$2; shift 2 ;;
        --rate=*) RATE=${1#--rate=}; shift ;;
        --no-build) DO_BUILD=0; shift ;;
        --pubsub) PUBSUB=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) fail "unknown argument '$1' (try --help)" ;;
    esac
done
[[ "$RATE" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v r="$RATE" 'BEGIN { exit !(r >= 0.001) }' ||
    fail "--rate: events per second, at least 0.001: '$RATE'"

# ---- everything started here is stopped here ---------------------------------
#
# Children run in their own session (setsid), so the terminal's Ctrl-C reaches
# only this script, which then stops them in order: the producer first, then
# the agent (SIGTERM: it flushes traces and acks), then redis-server.

TMP=$(mktemp -d /tmp/busmon-demo.XXXXXX)
PIDS=()     # started processes, in start order
CLEANED=0

stop_all() {
    [ "$CLEANED" -eq 1 ] && return
    CLEANED=1
    local i p
    # stop in reverse order: producer, agent (it flushes traces), then redis
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        p=${PIDS[i]}
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then
            say "pid $p did not stop in 5 s; killing it"
            kill -KILL "$p" 2>/dev/null || true
        fi
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
on_signal() {
    echo
    say "stopping"
    stop_all
    say "stopped; nothing left running"
    exit 0
}
trap stop_all EXIT
trap on_signal INT TERM

# ---- build ---------------------------------------------------------------------

if [ "$DO_BUILD" -eq 1 ]; then
    "$ROOT/deploy/install-deps.sh" | sed 's/^/demo: /'
    say "building in $BUILD (log: $BUILD/build.log)"
    mkdir -p "$BUILD"
    if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
        cmake --build "$BUILD" -j2; } >"$BUILD/build.log" 2>&1; then
        tail -n 30 "$BUILD/build.log" >&2
        fail "build failed (full log: $BUILD/build.log)"
    fi
fi
for bin in busmon-agent busmon busmon-demo-producer; do
    [ -x "$BUILD/$bin" ] || fail "$BUILD/$bin not found (run without --no-build)"
done

# ---- Redis ---------------------------------------------------------------------

free_port() {
    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    else
        local p
        for _ in $(seq 100); do
            p=$(((RANDOM % 20000) + 30000))
            (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return 0; }
        done
        return 1
    fi
}

# redis-cli arguments for a URL: -s PATH for unix://, else -u URL
cli_args() {
    case "$1" in
        unix://*) printf -- '-s %s' "${1#unix://}" ;;
        *) printf -- '-u %s' "$1" ;;
    esac
}
rcli() {
    # shellcheck disable=SC2046
    redis-cli $(cli_args "$REDIS_URL") "$@"
}

# redis-cli (Debian's redis-tools) finds out whether Redis is up and which
# transaction to show; without it every Redis would look down
command -v redis-cli >/dev/null || fail "redis-cli not found (run ./deploy/install-deps.sh)"
if [ -z "$REDIS_URL" ]; then
    command -v redis-server >/dev/null || fail "redis-server not found (run ./deploy/install-deps.sh)"
    # The port is free when chosen, but another process may bind it before
    # redis-server does: then ours exits ("Address already in use") and a
    # ping there would reach someone else's Redis. Ours is the one whose
    # INFO names its pid; a clash is tried again on another port.
    REDIS_PID=""
    for attempt in 1 2 3; do
        PORT=$(free_port) || fail "no free port found"
        setsid redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$TMP" --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        REDIS_URL="redis://127.0.0.1:$PORT"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            if rcli info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"; then
                REDIS_PID=$pid
                break 2
            fi
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; }
        grep -q 'Address already in use' "$TMP/redis.log" ||
            { cat "$TMP/redis.log" >&2; fail "redis-server did not start (its log is above)"; }
        say "port $PORT was taken before redis-server could listen on it (attempt $attempt); trying another"
    done
    [ -n "$REDIS_PID" ] || fail "redis-server could not listen on a free port in 3 attempts"
    say "private redis-server on $REDIS_URL (pid $REDIS_PID, data in $TMP)"
else
    [ "$(rcli ping 2>/dev/null)" = PONG ] || fail "cannot reach Redis at $REDIS_URL"
    say "using Redis at $REDIS_URL"
fi
export BUSMON_REDIS_URL=$REDIS_URL

# ---- agent and producer --------------------------------------------------------

# HTTP (dashboard, /metrics, /api) on 9464 when it is free, else on a free port
HTTP_PORT=9464
if (exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT) 2>/dev/null; then
    HTTP_PORT=$(free_port) || fail "no free port found for HTTP"
fi
HTTP_BASE="http://127.0.0.1:$HTTP_PORT"
AGENT_ARGS=(--redis "$REDIS_URL" --stream "$STREAM" --http "127.0.0.1:$HTTP_PORT")
PRODUCER_ARGS=(--redis "$REDIS_URL" --stream "$STREAM")
if [ "$PUBSUB" = 1 ]; then
    AGENT_ARGS+=(--psubscribe 'multiagent:*')
    PRODUCER_ARGS=(--redis "$REDIS_URL" --pubsub)
fi
setsid "$BUILD/busmon-agent" "${AGENT_ARGS[@]}" --rollup-interval 2s --health-interval 5s \
    >"$TMP/agent.log" 2>&1 &
PIDS+=($!)
AGENT_PID=$!
sleep 0.3 # pub/sub keeps nothing: let the agent subscribe before the producer starts
setsid "$BUILD/busmon-demo-producer" "${PRODUCER_ARGS[@]}" --rate "$RATE" \
    --print-tx >"$TMP/tx.log" 2>"$TMP/producer.log" &
PIDS+=($!)
PRODUCER_PID=$!
say "busmon-agent (pid $AGENT_PID) and busmon-demo-producer (pid $PRODUCER_PID, $RATE events/s) started"

check_alive() {
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        say "busmon-agent exited; its log:" >&2
        tail -n 20 "$TMP/agent.log" >&2
        exit 1
    fi
    if ! kill -0 "$PRODUCER_PID" 2>/dev/null; then
        say "busmon-demo-producer exited; its log:" >&2
        tail -n 20 "$TMP/producer.log" >&2
        exit 1
    fi
}

# Let a few transactions finish, then pick one the agent has already traced
# (the first ones started are the first to be complete).
say "letting the system run for a few seconds..."
sleep 3
check_alive
TX=""
for _ in $(seq 20); do
    mapfile -t first < <(head -n 20 "$TMP/tx.log")
    if [ ${#first[@]} -gt 0 ]; then
        mapfile -t exists < <(printf 'EXISTS busmon:trace:%s\n' "${first[@]}" | rcli 2>/dev/null)
        for i in "${!first[@]}"; do
            if [ "${exists[i]:-0}" = 1 ]; then TX=${first[i]}; break 2; fi
        done
    fi
    sleep 0.25
done
if [ -z "$TX" ]; then
    TX=$(head -n 1 "$TMP/tx.log")
    say "(no trace stored yet for the first transactions; the agent may still be catching up)"
fi
check_alive

CLI="$(cli_args "$REDIS_URL")"
SHOW_BUILD=$BUILD # shorter to copy when run from the repository root
[ "${BUILD#"$PWD"/}" != "$BUILD" ] && SHOW_BUILD=./${BUILD#"$PWD"/}
SHOW_BUILD=$(printf '%q' "$SHOW_BUILD") # a path with spaces, quoted: the lines below copy as they are
cat <<EOF

busmon is watching a simulated multi-agent system. In another terminal:

  # one transaction's timeline (status, steps, durations, errors)
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon trace $TX
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon trace $TX --json

  # workers: health, executions, latency; one worker in detail; errors; event metrics
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon workers
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon worker flaky
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon errors
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon stats --window 1m

  # live console dashboard (q quits); system metrics with avg and peak; alerts
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon top
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon system --window 10m
  BUSMON_REDIS_URL=$REDIS_URL $SHOW_BUILD/busmon alerts

  # in a browser: the dashboard; Prometheus metrics; the JSON API
  $HTTP_BASE/
  curl -s $HTTP_BASE/metrics | grep busmon_consumer_lag
  curl -s '$HTTP_BASE/api/workers?window=1m'

  # more transaction ids, as the producer starts them
  tail -f $TMP/tx.log

  # the raw bus: its events are mostly msgpack (bytes); busmon trace TX --json
  # shows them decoded. What busmon writes has a json field beside the msgpack one:
  redis-cli $CLI XLEN $STREAM
  redis-cli $CLI XINFO GROUPS $STREAM
  redis-cli $CLI --raw XRANGE busmon:alerts - + COUNT 5 | grep -a '^{'
  redis-cli $CLI --raw XREVRANGE busmon:rollups + - COUNT 1 | grep -a '^{'
  redis-cli $CLI --raw XRANGE busmon:deadletter - + COUNT 5 | grep -a -A1 -x 'reason\|error'

Logs: $TMP/agent.log, $TMP/producer.log$([ -f "$TMP/redis.log" ] && echo ", $TMP/redis.log")
(removed when the demo stops)

Press Ctrl-C to stop everything.
EOF

while :; do
    check_alive
    sleep 1
done
