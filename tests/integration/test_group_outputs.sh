#!/usr/bin/env bash
# Two independent monitors (consumer groups busmon and gb) on one Redis, each
# with its default outputs. Each group has its own leader, so both publish;
# their outputs were the same keys: busmon:workers held one monitor's
# workers at a time (a merge sweeps the workers its set lacks), busmon:rollups
# interleaved the two (busmon workers showed whichever published last),
# busmon:alerts:firing was swept the same way, and the dead letters, the
# system samples, the traces and their index mixed. A group other than busmon
# now publishes on its own keys (busmon:rollups:gb, busmon:workers:gb,
# busmon:alerts:gb, busmon:alerts:gb:firing, busmon:system:gb,
# busmon:deadletter:gb, busmon:trace:gb:<tx>, busmon:traces:gb) and the CLI
# reads them with --group gb (or $BUSMON_GROUP, $BUSMON_STREAMS_GROUP); the
# default group keeps its keys.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:   # one rule: a worker whose answers mostly fail
  builtins: false
  rules:
    - {name: w_errors, metric: error_rate, scope: each_worker, op: ">", threshold: 0.5,
       window: 1m, for: 0s}
EOF
PA=$(bm_free_port)
PB=$(bm_free_port)
start() { # start NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    "$AGENT" --config "$BM_TMP/busmon.yaml" --block-ms 100 --rollup-interval 200ms \
        --health-interval 200ms --alert-interval 200ms --checkpoint-interval 200ms \
        --system-interval 200ms --trace-flush-interval 100ms --http "127.0.0.1:$port" "$@" \
        >>"$BM_TMP/agent-$name.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 15 "curl -sf http://127.0.0.1:$port/health" || { echo "agent $name did not start"; exit 1; }
}
start a1 "$PA" --stream sa --consumer a1
start b1 "$PB" --stream sb --group gb --consumer b1
# produce STREAM WORKER OK N: N transactions of WORKER, a command and its result each
produce() {
    local i
    for i in $(seq "$4"); do
        printf 'XADD %s * type command tx %s-%d id c%d worker %s step s\n' "$1" "$2" "$i" "$i" "$2"
        printf 'XADD %s * type result tx %s-%d id r%d cmd c%d worker %s step s ok %s\n' \
            "$1" "$2" "$i" "$i" "$i" "$2" "$3"
    done | redis-cli -p "$BM_PORT" >/dev/null
}
produce sa wa true 10
produce sb wb false 10
redis-cli -p "$BM_PORT" XADD sb '*' junk 1 >/dev/null # a dead letter of gb's
# names CMD...: the workers `busmon CMD --json` shows, sorted, on one line
names() { "$BUSMON" "$@" --json 2>/dev/null | jq -r '.workers[].name' 2>/dev/null | sort | paste -sd' '; }
bm_wait_for 15 "[ \"\$(names workers --group gb)\" = wb ] && [ \"\$(names workers)\" = wa ]"
# several looks over a few rollups: each monitor's own, every time
mixed_a=0 mixed_b=0 lost_a=0 lost_b=0
for _ in $(seq 10); do
    [ "$(names workers)" = wa ] || mixed_a=$((mixed_a + 1))
    [ "$(names workers --group gb)" = wb ] || mixed_b=$((mixed_b + 1))
    "$BUSMON" worker wa --json >/dev/null 2>&1 || lost_a=$((lost_a + 1))
    "$BUSMON" worker wb --group gb --json >/dev/null 2>&1 || lost_b=$((lost_b + 1))
    sleep 0.15
done
bm_eq "busmon workers shows the default monitor's wa alone (10 looks)" 0 "$mixed_a"
bm_eq "busmon workers --group gb shows gb's wb alone (10 looks)" 0 "$mixed_b"
bm_eq "busmon worker wa (busmon:workers) finds it every time" 0 "$lost_a"
bm_eq "busmon worker wb --group gb (busmon:workers:gb) finds it every time" 0 "$lost_b"
bm_eq "BUSMON_GROUP=gb: gb's workers" wb "$(BUSMON_GROUP=gb names workers)"
bm_eq "BUSMON_STREAMS_GROUP=gb: gb's workers" wb "$(BUSMON_STREAMS_GROUP=gb names workers)"
bm_eq "busmon --group gb workers (before the command)" wb \
    "$("$BUSMON" --group gb workers --json 2>/dev/null | jq -r '.workers[].name' | paste -sd' ')"
bm_eq "--group busmon: the default group's keys" wa "$(BUSMON_GROUP=gb names workers --group busmon)"
bm_eq "the default monitor's workers hash holds wa alone" wa \
    "$(bm_cli_raw HKEYS busmon:workers | grep -v '^_' | sort | paste -sd' ')"
bm_eq "gb's is busmon:workers:gb, wb alone" wb \
    "$(bm_cli_raw HKEYS busmon:workers:gb | grep -v '^_' | sort | paste -sd' ')"

# alerts: wb fails, so gb's w_errors fires; nothing fires for the default monitor
firing() { "$BUSMON" alerts "$@" --json 2>/dev/null | jq -r '[.firing[].labels.worker] | join(" ")'; }
bm_check "gb's alert for wb fires (busmon alerts --group gb)" bm_wait_for 15 \
    "[ \"\$(firing --group gb)\" = wb ]"
fire_a=0 fire_b=0
for _ in $(seq 10); do
    [ -z "$(firing)" ] || fire_a=$((fire_a + 1))
    [ "$(firing --group gb)" = wb ] || fire_b=$((fire_b + 1))
    sleep 0.15
done
bm_eq "busmon alerts shows no alert of gb's (10 looks)" 0 "$fire_a"
bm_eq "busmon alerts --group gb keeps wb's firing (10 looks)" 0 "$fire_b"
bm_eq "gb's notifications are on busmon:alerts:gb" 0 \
    "$(bm_cli_raw XLEN busmon:alerts | tr -d ' ')"
bm_check "... and gb's firing hash is busmon:alerts:gb:firing, wb's alert in it" bash -c \
    "redis-cli --raw -p $BM_PORT HVALS busmon:alerts:gb:firing | grep -q '\"worker\":\"wb\"'"

# system samples, dead letters, traces: each monitor's own
agent_of() { "$BUSMON" system "$@" --json 2>/dev/null | jq -r '.latest.agent'; }
bm_check "busmon system: the default monitor's a1" bm_wait_for 10 "[ \"\$(agent_of)\" = a1 ]"
bm_eq "busmon:system holds no sample of gb's b1" 0 \
    "$(bm_cli_raw XRANGE busmon:system - + | grep -c '"agent":"b1"')"
bm_check "busmon system --group gb: gb's b1" bm_wait_for 10 "[ \"\$(agent_of --group gb)\" = b1 ]"
dl() { "$BUSMON" deadletters "$@" --json 2>/dev/null | jq -r '.entries | length'; }
bm_check "busmon deadletters --group gb: gb's dead letter" bm_wait_for 10 "[ \"\$(dl --group gb)\" = 1 ]"
bm_eq "busmon deadletters: none of gb's" 0 "$(dl)"
bm_eq "... and gb's copy names group gb (text and --json)" "in group gb gb" \
    "$("$BUSMON" deadletters --group gb | grep -o 'in group gb$') $("$BUSMON" deadletters --group gb --json | jq -r '.entries[0].group')"
bm_check "busmon trace wb-1 --group gb finds gb's trace" bm_wait_for 10 \
    "'$BUSMON' trace wb-1 --group gb --json"
bm_eq "busmon trace wb-1 (the default monitor's keys): not there" 1 \
    "$("$BUSMON" trace wb-1 >/dev/null 2>&1; echo $?)"
txs() { "$BUSMON" traces "$@" --json 2>/dev/null | jq -r '[.traces[].tx] | sort | join(" ")'; }
bm_check "busmon traces --group gb: gb's 10 transactions" bm_wait_for 10 \
    "[ \"\$(txs --group gb | wc -w)\" = 10 ]"
bm_eq "... of wb alone" "" "$(txs --group gb | tr ' ' '\n' | grep -v '^wb-')"
bm_eq "busmon traces: the default monitor's, of wa alone" "" "$(txs | tr ' ' '\n' | grep -v '^wa-')"
bm_check "busmon top --once --group gb shows wb" bash -c \
    "'$BUSMON' top --once --group gb 2>/dev/null | grep -qw wb"
bm_eq "busmon baseline --group gb reads gb's rollups, then b1's checkpoint" 0 \
    "$("$BUSMON" baseline --group gb --json >"$BM_TMP/baseline.out" 2>&1; echo $?)"

# a monitor whose pub/sub pattern matches every channel ('*', in database 3:
# channels are not per database) reads neither its own outputs nor gb's
# (busmon:rollups:gb, busmon:health:gb, busmon:alerts:gb) as events
PC=$(bm_free_port)
start c1 "$PC" --redis "$BM_URL/3" --stream sc --consumer c1 --psubscribe '*'
bm_check "the '*' monitor hears busmon's channels (and says it)" bm_wait_for 10 \
    "grep -q 'a channel busmon publishes on' '$BM_TMP/agent-c1.log'"
bm_wait_for 3 "[ \"\$(bm_metric $PC busmon_pubsub_bad_total)\" != 0 ]"
bm_eq "... reads none of gb's rollups, health or alerts: nothing bad, nothing dead-lettered" "0 0" \
    "$(bm_metric "$PC" busmon_pubsub_bad_total) $(bm_cli_raw -n 3 XLEN busmon:deadletter)"
bm_finish
