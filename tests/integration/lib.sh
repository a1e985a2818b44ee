# tests/integration/lib.sh - shared set-up for integration tests (sourced).
#
# Starts a private redis-server on a free loopback port in a temporary
# directory, and cleans up everything the test started on exit. Every wait is
# a bounded loop. Tests use a real Redis, never a mock.
#
#   source "$(dirname "$0")/lib.sh"
#   bm_start_redis            # sets BM_PORT, BM_URL, BUSMON_REDIS_URL
#   bm_cli XADD s '*' type command ...
#   bm_bg ./build/busmon-agent ...   # started in the background, killed at exit
#   bm_wait_for 10 'cmd that succeeds when ready'
#   bm_check "what" test-expression...
#   bm_finish                 # prints 'N passed, N failed' and exits
set -u

BM_BUILD=${BUSMON_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
BM_SRC=${BUSMON_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BM_TMP=$(mktemp -d /tmp/busmon-test.XXXXXX)
# Agents serve no HTTP unless a test asks (--http ADDR): several agents run at
# once and must not fight over the default port 9464.
export BUSMON_HTTP=off
BM_PIDS=()
BM_PASSED=0
BM_FAILED=0

bm_cleanup() {
    local p
    for p in "${BM_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${BM_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    [ -n "${BM_KEEP_TMP:-}" ] || rm -rf "$BM_TMP"
}
trap bm_cleanup EXIT

# A free TCP port on 127.0.0.1 (asks the kernel: bind to port 0).
bm_free_port() {
    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    else
        local p
        for _ in $(seq 100); do
            p=$(( (RANDOM % 20000) + 30000 ))
            (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
        done
        return 1
    fi
}

# The port is free when asked, but another test may take it before our
# redis-server binds: the server that answers must be ours (its INFO names our
# pid), else another port is tried; never someone else's Redis.
bm_start_redis() {
    local pid
    for _ in 1 2 3; do
        BM_PORT=$(bm_free_port)
        redis-server --port "$BM_PORT" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$BM_TMP" --daemonize no --loglevel warning >"$BM_TMP/redis.log" 2>&1 &
        pid=$!
        bm_wait_for 10 "! kill -0 $pid 2>/dev/null || redis-cli -p $BM_PORT ping" >/dev/null
        if kill -0 "$pid" 2>/dev/null &&
            redis-cli -p "$BM_PORT" INFO server | tr -d '\r' | grep -qx "process_id:$pid"; then
            BM_PIDS+=($pid)
            BM_REDIS_PID=$pid
            BM_URL="redis://127.0.0.1:$BM_PORT"
            export BUSMON_REDIS_URL="$BM_URL"
            return 0
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    echo "redis-server did not start"
    cat "$BM_TMP/redis.log"
    exit 1
}

# bm_redis_down: the Redis of bm_start_redis saved (dump.rdb in $BM_TMP) and
# shut down, waited for. bm_redis_up: started again on its port, with that
# data (BM_REDIS_PID is the new server's pid).
bm_redis_down() {
    bm_cli SAVE >/dev/null
    bm_cli SHUTDOWN NOSAVE >/dev/null 2>&1
    wait "${BM_REDIS_PID:-${BM_PIDS[0]}}" 2>/dev/null
}
bm_redis_up() {
    redis-server --port "$BM_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$BM_TMP" \
        --daemonize no --loglevel warning >>"$BM_TMP/redis.log" 2>&1 &
    BM_REDIS_PID=$!
    BM_PIDS+=($!)
    bm_wait_for 10 "redis-cli -p $BM_PORT ping" || { echo "redis-server did not start again"; exit 1; }
}

bm_cli() { redis-cli --no-raw -p "$BM_PORT" "$@"; }
bm_cli_raw() { redis-cli --raw -p "$BM_PORT" "$@"; }
# bm_metric PORT NAME: the value of sample NAME at the agent's /metrics on PORT (empty if none)
bm_metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }
# bm_agent_http: the programs in AGENT and BUSMON, a free port for the agent's HTTP in
# HPORT and its URL in BASE; BUSMON_HTTP unset, so only the test's --http sets it
bm_agent_http() {
    AGENT="$BM_BUILD/busmon-agent"
    BUSMON="$BM_BUILD/busmon"
    unset BUSMON_HTTP
    HPORT=$(bm_free_port)
    BASE="http://127.0.0.1:$HPORT"
}

# bm_cluster_env: the quick heartbeats, lease, stale time and refresh of a test's cluster
bm_cluster_env() {
    export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
        BUSMON_CLUSTER_REFRESH=300ms
}

# bm_cluster_agents PREFIX N ARGS...: N agents (consumers PREFIX1..PREFIXN) of one
# cluster with quick heartbeats, each with --http on a free port (in HPORTS) and
# ARGS; logs in $BM_TMP/agent-PREFIXi.log. Sets AGENT and BUSMON as bm_agent_http.
bm_cluster_agents() {
    local prefix=$1 n=$2 i hp
    shift 2
    bm_agent_http
    bm_cluster_env
    HPORTS=()
    for ((i = 1; i <= n; i++)); do
        hp=$(bm_free_port)
        "$AGENT" --consumer "$prefix$i" --http "127.0.0.1:$hp" "$@" >>"$BM_TMP/agent-$prefix$i.log" 2>&1 &
        BM_PIDS+=($!)
        HPORTS+=("$hp")
    done
}

# bm_cluster_agent NAME ARGS...: one agent of consumer NAME in the background with
# --block-ms 100 and ARGS, on the same HTTP port each time it starts (the caller
# declares `declare -A PID PORT`: PORT[NAME], PID[NAME]); log in
# $BM_TMP/agent-NAME.log. AGENT as bm_agent_http sets it.
bm_cluster_agent() {
    PORT[$1]=${PORT[$1]:-$(bm_free_port)}
    "$AGENT" --consumer "$1" --http "127.0.0.1:${PORT[$1]}" --block-ms 100 "${@:2}" \
        >>"$BM_TMP/agent-$1.log" 2>&1 &
    PID[$1]=$!
    BM_PIDS+=($!)
}

# bm_pending_all [STREAM...]: entries pending in group busmon over the streams
# (busmon:events when none given) and every hand-off stream
bm_pending_all() {
    local s n=0 k
    for s in "${@:-busmon:events}" $(bm_cli_raw --scan --pattern 'busmon:handoff:*'); do
        k=$(bm_cli_raw XPENDING "$s" busmon 2>/dev/null | head -1)
        n=$((n + ${k:-0}))
    done
    echo "$n"
}

# bm_bg CMD...: run in the background, output to $BM_TMP/<basename>.log
bm_bg() {
    local log="$BM_TMP/$(basename "$1").log"
    "$@" >>"$log" 2>&1 &
    BM_PIDS+=($!)
    BM_LAST_PID=$!
}

# bm_start_receiver NAME: bm-webhook-receiver (an HTTP receiver answering 200)
# on a free port, its port in BM_RX_PORT, each request a JSON line in
# $BM_TMP/NAME.jsonl (path, body, ...).
bm_start_receiver() {
    bm_bg "$BM_BUILD/bm-webhook-receiver" --out "$BM_TMP/$1.jsonl" --port-file "$BM_TMP/$1.port" \
        --max-seconds 120
    bm_wait_for 10 "[ -s '$BM_TMP/$1.port' ]" || { echo "receiver $1 did not start"; exit 1; }
    BM_RX_PORT=$(cat "$BM_TMP/$1.port")
    touch "$BM_TMP/$1.jsonl"
}

# bm_wait_for SECONDS 'shell command': poll every 0.1 s until it succeeds.
bm_wait_for() {
    local limit=$(( $1 * 10 )) i
    for ((i = 0; i < limit; i++)); do
        eval "$2" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# bm_check "description" command...: one assertion.
bm_check() {
    local what=$1; shift
    if "$@"; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $what"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $what"
    fi
}

# bm_eq "description" expected actual
bm_eq() {
    if [ "$2" == "$3" ]; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $1"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $1: expected [$2], got [$3]"
    fi
}

bm_finish() {
    echo "$BM_PASSED passed, $BM_FAILED failed"
    [ "$BM_FAILED" -eq 0 ]
    exit $?
}
