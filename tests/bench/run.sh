#!/usr/bin/env bash
# tests/bench/run.sh - busmon's ingest benchmark (see tests/bench/README.md).
#
# Fills a stream with N realistic events, drains it once with a bare hiredis
# client (the yardstick) and once with busmon-agent --drain (full decoding,
# trace building and persistence), and prints both rates and their ratio. The
# last line is machine-readable:
#
#   ingest: agent N ev/s, bare M ev/s, ratio R
#
# A benchmark, not a test: missed targets print "target missed: ..." and the
# run still exits 0. It exits non-zero only when the run itself is broken
# (Redis unreachable, a program fails, the agent did not read/ack every entry,
# the stored trace is wrong).
set -euo pipefail

usage() {
    cat <<EOF
usage: tests/bench/run.sh [--events N] [--redis URL] [--agents LIST] [--shapes] [--pin]

  --events N    events to fill and drain (default 1000000; 20000 for a smoke run)
  --agents LIST scale-out mode instead: for each N in LIST (e.g. 1,2,3), N agents
                share one consumer group and drain the same N events; prints the
                aggregate ev/s, Redis and agent CPU per event, and checks the
                merged figures (busmon workers: executions = events / 2).
                Needs the private redis-server (no --redis).
  --shapes      JSON against msgpack instead: the agent drains N events of busmon's
                msgpack and N of the MultiAgents Framework's JSON (field json), one
                after the other on a flushed private Redis; checks each drain (per-worker
                executions and failures exact, p95 within 1 %) and prints the JSON
                mode's ingest line and the ratio JSON/msgpack. Needs the private
                redis-server (no --redis).
  --redis URL   use this Redis (also \$BUSMON_REDIS_URL) instead of a private
                redis-server on a free 127.0.0.1 port. The benchmark stream is
                deleted at exit; the agent's trace keys expire after 1 h.
  --pin         pin redis-server to one CPU and the drains (bare, agent) to another
                with taskset, so neither takes the other's core (needs the private
                redis-server and 2 CPUs); the figures say "pinned"
  -h, --help    this help

environment:
  BUSMON_BUILD_DIR     build directory (default <repo>/build); built with cmake
                       when a binary is missing
  BUSMON_BENCH_WRAP    command put in front of busmon-agent, e.g.
                       "perf record -g -o /tmp/agent.perf --" (skews the figures)
  BUSMON_BENCH_TIMEOUT seconds the agent may take before the run fails (default 900)
EOF
}

die() { echo "bench: $*" >&2; exit 1; }

EVENTS=1000000
URL=${BUSMON_REDIS_URL:-}
AGENTS_LIST=
SHAPES=0
PIN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --events) [ $# -ge 2 ] || die "--events needs a value"; EVENTS=$2; shift 2 ;;
        --events=*) EVENTS=${1#*=}; shift ;;
        --redis) [ $# -ge 2 ] || die "--redis needs a value"; URL=$2; shift 2 ;;
        --redis=*) URL=${1#*=}; shift ;;
        --agents) [ $# -ge 2 ] || die "--agents needs a list"; AGENTS_LIST=$2; URL=; shift 2 ;;
        --agents=*) AGENTS_LIST=${1#*=}; URL=; shift ;;
        --shapes) SHAPES=1; URL=; shift ;;
        --pin) PIN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $EVENTS =~ ^[0-9]+$ ]] && [ "$EVENTS" -ge 2 ] || die "--events must be a number >= 2, not '$EVENTS'"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # SRC, BUILD, bench_build, ...
bench_tools jq redis-cli awk
TIMEOUT=${BUSMON_BENCH_TIMEOUT:-900}

# --pin: redis-server on one CPU, the drains on another (taskset)
PIN_REDIS=()
PIN_CLIENT=()
PINNED=unpinned
if [ "$PIN" = 1 ]; then
    [ -z "$URL" ] || die "--pin needs the private redis-server (no --redis)"
    command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
    read -r -a CPUS < <(taskset -pc $$ | awk -F': ' '{print $2}' | tr ',' '\n' |
        awk -F- '{ if (NF == 2) for (i = $1; i <= $2; i++) printf "%d ", i; else printf "%d ", $1 } END { print "" }')
    [ "${#CPUS[@]}" -ge 2 ] || die "--pin needs 2 CPUs, this process may use ${#CPUS[*]}"
    PIN_REDIS=(taskset -c "${CPUS[0]}")
    PIN_CLIENT=(taskset -c "${CPUS[1]}")
    PINNED="pinned: redis-server on CPU ${CPUS[0]}, the drain on CPU ${CPUS[1]}"
fi

TMP=$(mktemp -d /tmp/busmon-bench.XXXXXX)
REDIS_PID=
STREAM="busmon:bench:$$:$(date +%s)"
OWN_REDIS=0

cleanup() {
    if [ "$OWN_REDIS" = 1 ] && [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$REDIS_PID" 2>/dev/null || true
    elif [ -n "$URL" ] && [ -n "${RCLI[*]:-}" ]; then
        "${RCLI[@]}" DEL "$STREAM" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- binaries ---------------------------------------------------------------
bench_build bench-fill bench-bare-drain busmon-agent busmon

# --- redis ------------------------------------------------------------------
if [ -z "$URL" ]; then
    command -v redis-server >/dev/null || die "needs redis-server, or --redis URL"
    PORT=$(bench_free_port)
    "${PIN_REDIS[@]}" redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP" --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    OWN_REDIS=1
    URL="redis://127.0.0.1:$PORT"
    RCLI=(redis-cli -h 127.0.0.1 -p "$PORT")
    for _ in $(seq 100); do "${RCLI[@]}" PING >/dev/null 2>&1 && break; sleep 0.1; done
    "${RCLI[@]}" PING >/dev/null 2>&1 || { cat "$TMP/redis.log" >&2; die "redis-server did not start"; }
    RETENTION=24h
else
    RCLI=(redis-cli -u "$URL")
    case "$URL" in
        unix://*) sock=${URL#unix://}; RCLI=(redis-cli -s "${sock%%\?*}") ;;
    esac
    "${RCLI[@]}" PING >/dev/null 2>&1 || die "cannot reach Redis at $URL"
    RETENTION=1h
fi
"${RCLI[@]}" DEL "$STREAM" >/dev/null

redis_version=$("${RCLI[@]}" INFO server | tr -d '\r' | awk -F: '$1=="redis_version"{print $2}')
echo "bench: $EVENTS events, stream $STREAM, Redis $redis_version at $URL, $(nproc) CPUs, $PINNED"

# CPU seconds (user + system) redis-server has used so far; empty when it is
# not ours. Tells whether a drain was bound by the client or by Redis.
redis_cpu_s() {
    [ "$OWN_REDIS" = 1 ] || return 0
    awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' \
        "/proc/$REDIS_PID/stat"
}

# Where Redis's CPU goes in one drain, from INFO commandstats (the private
# redis-server only: CONFIG RESETSTAT would clear a shared server's figures).
# cmdstats_reset before the drain, cmdstats_save FILE after it;
# cmdstats_line LABEL CPU_SECONDS FILE prints each command's microseconds per
# event (and calls per event), largest first, then what is outside the
# commands: reading queries, writing replies, the event loop, page faults of
# growing memory.
cmdstats_reset() {
    [ "$OWN_REDIS" = 1 ] || return 0
    "${RCLI[@]}" CONFIG RESETSTAT >/dev/null
}
cmdstats_save() {
    [ "$OWN_REDIS" = 1 ] || return 0
    "${RCLI[@]}" INFO commandstats | tr -d '\r' >"$1"
}
cmdstats_line() {
    [ -s "$3" ] || return 0
    awk -F'[:,=]' -v n="$EVENTS" -v label="$1" -v cpu="$2" '
        /^cmdstat_/ {
            name = substr($1, 9)
            if (name ~ /^(info|config|ping)/) next
            k++; names[k] = name; us[k] = $5; calls[k] = $3; total += $5
        }
        END {
            printf "redis-commands: %s", label
            for (i = 1; i <= k; i++) { # largest first: a few commands, a selection sort
                m = i
                for (j = i + 1; j <= k; j++) if (us[j] > us[m]) m = j
                t = names[i]; names[i] = names[m]; names[m] = t
                t = us[i]; us[i] = us[m]; us[m] = t
                t = calls[i]; calls[i] = calls[m]; calls[m] = t
                if (us[i] / n >= 0.01)
                    printf "%s %s %.2f us/event (%.3g calls/event)", (shown++ ? "," : ""), toupper(names[i]), us[i] / n, calls[i] / n
            }
            printf "; commands %.2f, outside commands %.2f, total %.2f us/event\n", total / n, 1e6 * cpu / n - total / n, 1e6 * cpu / n
        }' "$3"
}

# --- scale-out mode: N agents on one group -----------------------------------
# process_cpu_s PID: user + system seconds a process has used
process_cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
if [ -n "$AGENTS_LIST" ]; then
    [ "$OWN_REDIS" = 1 ] || die "--agents needs the private redis-server"
    IFS=, read -r -a NS <<<"$AGENTS_LIST"
    for N in "${NS[@]}"; do
        [[ $N =~ ^[1-9]$ ]] || die "--agents: 1 to 9 agents, not '$N'"
        "${RCLI[@]}" FLUSHALL >/dev/null
        "$BUILD/bench-fill" --redis "$URL" --stream "$STREAM" --events "$EVENTS" >"$TMP/fill.out"
        "${RCLI[@]}" CONFIG RESETSTAT >/dev/null # the commands counted are the agents'
        pids=()
        handoffs=()
        # group agents: its own hand-off streams
        for i in $(seq 1 "$N"); do handoffs+=("busmon:handoff:agents:b$i"); done
        rc0=$(redis_cpu_s)
        t0=$(date +%s%N)
        for i in $(seq 1 "$N"); do
            BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_STALE=3s BUSMON_CLUSTER_REFRESH=500ms \
                "$BUILD/busmon-agent" --redis "$URL" --stream "$STREAM" --group agents \
                --consumer "b$i" --no-http --log-level warn --rollup-interval 500ms --checkpoint-interval 200ms \
                --trace-retention "$RETENTION" >"$TMP/agent-$i.log" 2>&1 &
            pids+=($!)
        done
        # done: every stream (the events and each hand-off stream) read and acked
        done_all() {
            local s info
            for s in "$STREAM" "${handoffs[@]}"; do
                info=$("${RCLI[@]}" XINFO GROUPS "$s" 2>/dev/null | tr '\n' ' ')
                [ -n "$info" ] || continue # an output stream: no group reads it
                [[ $info =~ pending\ 0\ .*lag\ 0 ]] || return 1
            done
        }
        for _ in $(seq $((TIMEOUT * 20))); do done_all && break; sleep 0.05; done
        t1=$(date +%s%N)
        rc1=$(redis_cpu_s)
        acpu=0
        for p in "${pids[@]}"; do acpu=$(awk -v a="$acpu" -v b="$(process_cpu_s "$p")" 'BEGIN { print a + b }'); done
        sleep 2 # a merged rollup after the drain
        execs=$("$BUILD/busmon" --redis "$URL" --group agents workers --json --window 1h | jq '[.workers[].executions] | add // 0')
        handed=$(for k in "${handoffs[@]}"; do "${RCLI[@]}" XLEN "$k"; done | awk '{ s += $1 } END { print s + 0 }')
        # EXECs: a batch of hand-offs is one (MULTI, its XADDs, an XACK, EXEC); the outputs' few
        execs_cmd=$("${RCLI[@]}" INFO commandstats | tr -d '\r' | awk -F'[=,]' '/^cmdstat_exec:/ { print $2 }')
        for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        awk -v n="$EVENTS" -v N="$N" -v t0="$t0" -v t1="$t1" -v r0="$rc0" -v r1="$rc1" -v ac="$acpu" \
            -v ex="$execs" -v h="$handed" -v xc="${execs_cmd:-0}" 'BEGIN {
            s = (t1 - t0) / 1e9
            printf "scale-out: %d agent(s): %d events in %.2f s = %.0f ev/s; redis %.2f us CPU/event, agents %.2f us CPU/event; %d handed off in %d EXEC (%.3f per hand-off); merged executions %d of %d %s\n",
                N, n, s, n / s, 1e6 * (r1 - r0) / n, 1e6 * ac / n, h, xc, (h ? xc / h : 0), ex, n / 2, (ex == n / 2 ? "(exact)" : "(WRONG)")
        }'
    done
    exit 0
fi

# --- shapes mode: MultiAgents JSON against msgpack (issue 15) ----------------
# One function, called only with --shapes; it touches nothing outside itself.
#
# shape_drain SHAPE LABEL: fill N events of SHAPE (native | multiagents) into a
# flushed Redis, drain them with one agent, check what it found against the
# fill's ground truth (per worker: executions and failures exact, p95 within
# 1 %, the histogram's bound), print the figures; sets SHAPE_RATE.
shape_drain() {
    local shape=$1 label=$2 out=$TMP/shape-$1
    "${RCLI[@]}" FLUSHALL >/dev/null
    "$BUILD/bench-fill" --redis "$URL" --stream "$STREAM" --events "$EVENTS" --shape "$shape" >"$out.fill" ||
        die "bench-fill --shape $shape failed"
    sed -n "s/^fill:/$label fill:/p" "$out.fill"
    local rc0 rc1 rc TIMEFORMAT='%R %U %S'
    rc0=$(redis_cpu_s)
    set +e
    { time timeout "$TIMEOUT" "${WRAP[@]}" "$BUILD/busmon-agent" --redis "$URL" --stream "$STREAM" \
        --group "agent-$shape" --consumer "bench-$shape" --drain --summary "$out.json" \
        --log-level error --trace-retention "$RETENTION" >"$out.log" 2>&1; } 2>"$out.time"
    rc=$?
    set -e
    rc1=$(redis_cpu_s)
    [ $rc -eq 0 ] && [ -s "$out.json" ] || { tail -20 "$out.log" >&2; die "$label: busmon-agent exited with $rc"; }
    local read acked dl pending
    read=$(jq -r .entries_read "$out.json"); acked=$(jq -r .acked "$out.json"); dl=$(jq -r .deadletter "$out.json")
    [ "$read" = "$EVENTS" ] && [ "$acked" = "$EVENTS" ] || die "FAILED: $label: read $read, acked $acked, not $EVENTS"
    [ "$dl" = 0 ] || die "FAILED: $label: $dl entries dead-lettered"
    pending=$("${RCLI[@]}" XPENDING "$STREAM" "agent-$shape" | head -1)
    [ "$pending" = 0 ] || die "FAILED: $label: $pending entries still pending"
    # what the agent's last rollup says per worker, against the fill's truth
    "$BUILD/busmon" --redis "$URL" --group "agent-$shape" workers --json --window 1h 2>/dev/null |
        jq -r '.workers[] | "\(.name) \(.executions) \(.failures) \(.p95_ms)"' >"$out.workers" ||
        die "FAILED: $label: busmon workers --json"
    local check
    check=$(awk 'NR == FNR { if ($1 == "truth:") { ex[$2] = $4; fa[$2] = $6; p95[$2] = $8 / 1000 }; next }
        { got[$1] = 1; if (!($1 in ex)) { bad = bad " unexpected worker " $1; next }
          if ($2 != ex[$1] || $3 != fa[$1]) bad = bad sprintf(" %s: %d/%d executions/failures, want %d/%d", $1, $2, $3, ex[$1], fa[$1])
          d = p95[$1] > 0 ? ($4 - p95[$1]) / p95[$1] : 0; if (d < 0) d = -d
          if (d > 0.01) bad = bad sprintf(" %s: p95 %.3f ms, want %.3f (%.2f %%)", $1, $4, p95[$1], 100 * d)
          if (d > maxd) maxd = d; n++ }
        END { for (w in ex) if (!(w in got)) bad = bad " missing worker " w
              if (bad != "") { print "WRONG:" bad; exit }
              printf "%d workers: executions and failures exact, p95 within %.2f %%\n", n, 100 * maxd }' \
        "$out.fill" "$out.workers")
    case "$check" in WRONG:*) die "FAILED: $label: $check" ;; esac
    local wall user sys
    read -r wall user sys <"$out.time"
    SHAPE_RATE=$(jq -r .events_per_s "$out.json")
    awk -v l="$label" -v n="$EVENTS" -v s="$(jq -r .seconds "$out.json")" -v r="$SHAPE_RATE" -v w="$wall" \
        -v c="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" -v r0="$rc0" -v r1="$rc1" 'BEGIN {
        printf "%s agent: %d events in %.3f s = %.0f ev/s; agent CPU %.2f us/event (%.0f %% of %.2f s wall)", l, n, s, r, 1e6 * c / n, 100 * c / w, w
        if (r0 != "") printf ", redis-server %.2f us/event", 1e6 * (r1 - r0) / n
        printf "\n"
    }'
    echo "$label check: $check"
}
shape_compare() {
    [ "$OWN_REDIS" = 1 ] || die "--shapes needs the private redis-server"
    read -r -a WRAP <<<"${BUSMON_BENCH_WRAP:-}"
    shape_drain native msgpack
    local mp_rate=$SHAPE_RATE
    echo "ingest: msgpack $(awk -v r="$mp_rate" 'BEGIN { printf "%d", r + 0.5 }') ev/s"
    shape_drain multiagents json
    local js_rate=$SHAPE_RATE
    awk -v j="$js_rate" -v m="$mp_rate" 'BEGIN {
        ratio = m > 0 ? j / m : 0
        if (j < 250000) printf "target missed: json %.0f ev/s < 250000 ev/s\n", j
        if (ratio < 0.8) printf "target missed: json %.0f ev/s < 0.8 x msgpack (%.0f ev/s)\n", j, 0.8 * m
        printf "ingest: json %d ev/s, msgpack %d ev/s, ratio json/msgpack %.2f\n", j + 0.5, m + 0.5, ratio
    }'
}
if [ "$SHAPES" = 1 ]; then
    shape_compare
    exit 0
fi
# --- end of the shapes mode ---------------------------------------------------

# --- 1. fill ----------------------------------------------------------------
"$BUILD/bench-fill" --redis "$URL" --stream "$STREAM" --events "$EVENTS" | tee "$TMP/fill.out"
SAMPLE_TX=$(awk '$1=="sample_tx:"{print $2}' "$TMP/fill.out")
xlen=$("${RCLI[@]}" XLEN "$STREAM")
[ "$xlen" = "$EVENTS" ] || die "the stream holds $xlen entries, not $EVENTS"
used_before=$("${RCLI[@]}" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')


# --- 2. bare drain ----------------------------------------------------------
cmdstats_reset
rc0=$(redis_cpu_s)
TIMEFORMAT='%R %U %S'
{ time "${PIN_CLIENT[@]}" "$BUILD/bench-bare-drain" --redis "$URL" --stream "$STREAM" --group bare >"$TMP/bare.out"; } 2>"$TMP/bare.time"
cat "$TMP/bare.out"
rc1=$(redis_cpu_s)
cmdstats_save "$TMP/bare.cmdstats"
BARE_RATE=$(awk '$1=="bare:" && $3=="events" {for (i=1;i<=NF;i++) if ($i=="ev/s") print $(i-1)}' "$TMP/bare.out")
[ -n "$BARE_RATE" ] || die "bench-bare-drain printed no rate"

# --- 3. agent drain ---------------------------------------------------------
cmdstats_reset
rc1b=$(redis_cpu_s)
read -r -a WRAP <<<"${BUSMON_BENCH_WRAP:-}"
SUMMARY=$TMP/agent-summary.json
set +e
{ time timeout "$TIMEOUT" "${PIN_CLIENT[@]}" "${WRAP[@]}" "$BUILD/busmon-agent" --redis "$URL" --stream "$STREAM" \
    --group agent --consumer bench --drain --summary "$SUMMARY" --log-level warn \
    --trace-retention "$RETENTION" >"$TMP/agent.log" 2>&1; } 2>"$TMP/agent.time"
agent_rc=$?
set -e
rc2=$(redis_cpu_s)
cmdstats_save "$TMP/agent.cmdstats"
if [ $agent_rc -ne 0 ] || [ ! -s "$SUMMARY" ]; then
    tail -20 "$TMP/agent.log" >&2
    [ $agent_rc -eq 124 ] && die "busmon-agent did not finish within ${TIMEOUT}s"
    die "busmon-agent exited with $agent_rc (log above)"
fi
if [ -s "$TMP/agent.log" ]; then
    echo "agent: warnings (first 5):"
    head -5 "$TMP/agent.log" | sed 's/^/  /'
fi

j() { jq -r "$1" "$SUMMARY"; }
entries_read=$(j '.entries_read')
acked=$(j '.acked')
deadletter=$(j '.deadletter')
[ "$entries_read" = "$EVENTS" ] || die "FAILED: the agent read $entries_read entries, not $EVENTS"
[ "$acked" = "$EVENTS" ] || die "FAILED: the agent acknowledged $acked entries, not $EVENTS"
[ "$deadletter" = 0 ] || echo "bench: warning: the agent dead-lettered $deadletter entries"
pending=$("${RCLI[@]}" XPENDING "$STREAM" agent | head -1)
[ "$pending" = 0 ] || die "FAILED: $pending entries still pending in group agent"

# Spot check: the first transaction's trace is stored with both its events.
trace_json=$("$BUILD/busmon" --redis "$URL" --group agent trace --json "$SAMPLE_TX" 2>"$TMP/cli.err") ||
    { cat "$TMP/cli.err" >&2; die "FAILED: busmon trace $SAMPLE_TX failed"; }
n_events=$(jq -r '.event_count' <<<"$trace_json")
[ "$n_events" = 2 ] || die "FAILED: busmon trace $SAMPLE_TX shows $n_events events, not 2"

# --- 4. bare drain that also stores traces (own Redis only) ---------------
# The same reads and acks plus one RPUSH + EXPIRE per transaction, undecoded,
# serial (it waits for each batch's writes), into database 1 (flushed
# afterwards). It runs after the agent so that the agent does not find the
# memory for its keys already faulted in by it. A second yardstick: what a
# plain client pays for the agent's Redis writes.
BAREW_RATE=
if [ "$OWN_REDIS" = 1 ]; then
    "${PIN_CLIENT[@]}" "$BUILD/bench-bare-drain" --redis "$URL" --stream "$STREAM" --group bare-traces \
        --write-traces 1 >"$TMP/barew.out"
    sed 's/^bare:/bare+traces:/' "$TMP/barew.out"
    "${RCLI[@]}" -n 1 FLUSHDB >/dev/null
    BAREW_RATE=$(awk '$1=="bare:" && $3=="events" {for (i=1;i<=NF;i++) if ($i=="ev/s") print $(i-1)}' "$TMP/barew.out")
fi

AGENT_RATE=$(j '.events_per_s')
read -r wall agent_user agent_sys <"$TMP/agent.time"
read -r bare_wall bare_user bare_sys <"$TMP/bare.time"
used_after=$("${RCLI[@]}" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')

awk -v n="$EVENTS" -v s="$(j '.seconds')" -v r="$AGENT_RATE" -v w="$wall" \
    -v rss="$(j '.peak_rss_bytes')" -v txm="$(j '.transactions_in_memory')" \
    -v tsb="$(j '.trace_store_bytes')" -v bpt="$(j '.bytes_per_transaction')" \
    -v ub="$used_before" -v ua="$used_after" -v dl="$deadletter" -v tx="$SAMPLE_TX" 'BEGIN {
    printf "agent: %d events in %.3f s = %.0f ev/s (process wall time %.3f s = %.0f ev/s)\n", n, s, r, w, n / w
    printf "agent: %d dead-lettered, spot check %s: 2 events stored\n", dl, tx
    printf "agent: peak RSS %.1f MiB; %d transactions in memory, trace store %.1f MiB = %.0f bytes/transaction\n",
        rss / 1048576, txm, tsb / 1048576, bpt
    printf "redis: used_memory %.1f MiB after fill, %.1f MiB after the agent\n", ub / 1048576, ua / 1048576
}'
# Who was busy: a process near 100 % of the wall time bounds the drain.
awk -v bw="$bare_wall" -v bu="$bare_user" -v bs="$bare_sys" -v aw="$wall" -v au="$agent_user" \
    -v as="$agent_sys" -v r0="$rc0" -v r1="$rc1" -v r1b="$rc1b" -v r2="$rc2" 'BEGIN {
    printf "cpu: bare drain %.2f s wall: client %.0f %%", bw, 100 * (bu + bs) / bw
    if (r0 != "") printf ", redis-server %.0f %%", 100 * (r1 - r0) / bw
    printf "\ncpu: agent drain %.2f s wall: agent %.0f %%", aw, 100 * (au + as) / aw
    if (r0 != "") printf ", redis-server %.0f %%", 100 * (r2 - r1b) / aw
    printf "\n"
}'
# Redis's own CPU per event: its single thread caps a drain at 1 / that.
if [ -n "$rc0" ]; then
    awk -v n="$EVENTS" -v r0="$rc0" -v r1="$rc1" -v r1b="$rc1b" -v r2="$rc2" -v a="$AGENT_RATE" \
        -v bw="$BAREW_RATE" -v tgt="$([ "$PIN" = 1 ] && echo 0.8 || echo 0.65)" -v pin="${PINNED%%:*}" 'BEGIN {
        ub = 1e6 * (r1 - r0) / n; ua = 1e6 * (r2 - r1b) / n
        printf "redis: %.2f us of redis-server CPU per event for the bare drain, %.2f for the agent (reads, acks, trace writes)\n", ub, ua
        if (ua > 0) printf "redis: at 100 %% of one core that caps the agent drain at %.0f ev/s\n", 1e6 / ua
        # the same way round as ratio agent/bare: 1 is the bare drain, higher is better
        if (ua > 0) printf "ratio redis us/event bare/agent: %.2f\n", ub / ua
        if (ua > 2.0) printf "target missed: agent %.2f us of Redis CPU per event > 2.0\n", ua
        if (ua > 0 && ub / ua < tgt) printf "target missed: Redis CPU ratio bare/agent %.2f < %.2f\n", ub / ua, tgt
        if (bw > 0) printf "ratio agent/bare+traces: %.2f\n", a / bw
        if (ua > 0) printf "redis-cpu: agent %.2f us/event, bare %.2f us/event, ratio %.2f, %s\n", ua, ub, ub / ua, pin
    }'
    cmdstats_line bare "$(awk -v a="$rc0" -v b="$rc1" 'BEGIN { print b - a }')" "$TMP/bare.cmdstats"
    cmdstats_line agent "$(awk -v a="$rc1b" -v b="$rc2" 'BEGIN { print b - a }')" "$TMP/agent.cmdstats"
fi
awk -v a="$AGENT_RATE" -v b="$BARE_RATE" 'BEGIN {
    ratio = b > 0 ? a / b : 0
    printf "ratio agent/bare: %.2f\n", ratio
    if (a < 0.8 * b) printf "target missed: agent %.0f ev/s < 0.8 x bare (%.0f ev/s)\n", a, 0.8 * b
    if (a < 250000) printf "target missed: agent %.0f ev/s < 250000 ev/s\n", a
    printf "ingest: agent %d ev/s, bare %d ev/s, ratio %.2f\n", a + 0.5, b + 0.5, ratio
}'
