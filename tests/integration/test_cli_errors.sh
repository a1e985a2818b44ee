#!/usr/bin/env bash
# How busmon-agent and busmon answer a person who got something wrong: a bad
# URL, an unreachable Redis, a bad config file, an unknown flag. Each gives
# one clear line on stderr and a non-zero exit; --help lists the flags.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"

# one_line_error DESCRIPTION EXPECTED_REGEX CMD...: non-zero exit, exactly one stderr line matching
one_line_error() {
    local what=$1 re=$2; shift 2
    "$@" >/dev/null 2>"$BM_TMP/stderr"; local rc=$?
    local lines; lines=$(wc -l <"$BM_TMP/stderr")
    if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$BM_TMP/stderr"; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $what"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $what (rc=$rc, $lines lines):"; cat "$BM_TMP/stderr"
    fi
}

DEAD_PORT=$(bm_free_port)   # nothing listens there
one_line_error "agent: wrong URL scheme" "bad Redis URL" "$AGENT" --redis http://localhost:1
one_line_error "agent: bad port" "port must be 1-65535" "$AGENT" --redis redis://127.0.0.1:99999
one_line_error "agent: TLS refused with the reason" "TLS" "$AGENT" --redis rediss://127.0.0.1:6379
# the agent itself waits for Redis (tests/integration/test_durable.sh); --check-config does not
one_line_error "agent --check-config: unreachable Redis" "cannot connect to Redis at redis://127.0.0.1:$DEAD_PORT" "$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT" --check-config
BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" one_line_error "agent --check-config: BUSMON_REDIS_URL is read" "127.0.0.1:$DEAD_PORT" "$AGENT" --check-config
one_line_error "agent: unknown flag" "unknown or incomplete option" "$AGENT" --no-such-flag
one_line_error "agent: missing config file" "cannot read config" "$AGENT" --config /nonexistent/busmon.yaml
printf 'redis:\n  url: [unclosed\n' > "$BM_TMP/bad.yaml"
one_line_error "agent: invalid YAML names the line" "bad.yaml:[0-9]+: invalid YAML" "$AGENT" --config "$BM_TMP/bad.yaml"
printf 'streams:\n  batch: lots\n' > "$BM_TMP/badval.yaml"
one_line_error "agent: bad value names key, line and value" "badval.yaml:2: 'streams.batch' must be a positive number, not 'lots'" "$AGENT" --config "$BM_TMP/badval.yaml"
one_line_error "agent: bad --batch" "--batch must be" "$AGENT" --batch 0

one_line_error "cli: unreachable Redis" "cannot connect to Redis" "$BUSMON" --redis "redis://127.0.0.1:$DEAD_PORT" trace tx-1
BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" one_line_error "cli: BUSMON_REDIS_URL is read" "127.0.0.1:$DEAD_PORT" "$BUSMON" trace tx-1
one_line_error "cli: bad URL" "bad Redis URL" "$BUSMON" --redis ftp://x trace tx-1
one_line_error "cli: unknown command" "unknown command" "$BUSMON" frobnicate
one_line_error "cli: trace without a tx" "which transaction" "$BUSMON" trace
"$BUSMON" trace tx-1 --redis "redis://127.0.0.1:$DEAD_PORT" >/dev/null 2>&1; rc=$?
bm_eq "cli: Redis unreachable exits 3" 3 "$rc"

# a group whose keys would be the default group's (or another group's) is refused, exit 2,
# by the agent and the CLI alike, before any Redis: the keys named
"$AGENT" --group firing --check-config --offline >/dev/null 2>&1; rc=$?
bm_eq "agent --group firing: exit 2" 2 "$rc"
one_line_error "... its alerts stream is the default group's firing hash" \
    "streams.group 'firing' would write the default group's keys: its alerts stream busmon:alerts:firing falls on the default group's firing hash busmon:alerts:firing" \
    "$AGENT" --group firing --check-config --offline
BUSMON_STREAMS_GROUP=failed one_line_error "agent BUSMON_STREAMS_GROUP=failed: the failed index" \
    "busmon:traces:failed falls on the default group's index of failed transactions busmon:traces:failed" \
    "$AGENT" --check-config --offline
one_line_error "agent --group a:b: ':' refused" "streams.group 'a:b' holds ':'.*name the group without ':'" \
    "$AGENT" --group a:b --check-config --offline
"$BUSMON" --group w --redis "redis://127.0.0.1:$DEAD_PORT" stats >/dev/null 2>&1; rc=$?
bm_eq "cli --group w: exit 2, not 3 (Redis not tried)" 2 "$rc"
one_line_error "... its index falls on the default group's per-worker sets" \
    "^busmon: --group 'w' would write the default group's keys: its trace index busmon:traces:w falls on the default group's index of a worker's transactions busmon:traces:w:<worker>" \
    "$BUSMON" --group w --redis "redis://127.0.0.1:$DEAD_PORT" stats
BUSMON_GROUP=gb:firing one_line_error "cli BUSMON_GROUP=gb:firing: ':' refused" \
    "^busmon: BUSMON_GROUP 'gb:firing' holds ':'" "$BUSMON" --redis "redis://127.0.0.1:$DEAD_PORT" alerts
"$BUSMON" --group ctl trace tx-1 --redis "redis://127.0.0.1:$DEAD_PORT" >/dev/null 2>&1; rc=$?
bm_eq "cli --group ctl (busmon:baseline:ctl:ctl, no one's): goes on to Redis, exit 3" 3 "$rc"

for flag in --redis --stream --group --consumer --config; do
    bm_check "agent --help lists $flag" bash -c "'$AGENT' --help | grep -q -- '$flag'"
done
bm_check "busmon --help lists trace" bash -c "'$BUSMON' --help | grep -q 'trace TX'"

# busmon's usage errors: exit 2 and exactly one stderr line that names the
# mistake and where to look, "(see busmon CMD --help)"; nothing on stdout.
usage_error() {
    local what=$1 line=$2; shift 2
    "$@" >"$BM_TMP/stdout" 2>"$BM_TMP/stderr"; local rc=$?
    if [ "$rc" -eq 2 ] && [ "$(cat "$BM_TMP/stderr")" == "$line" ] && [ ! -s "$BM_TMP/stdout" ]; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $what"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $what (rc=$rc), stderr:"; cat "$BM_TMP/stderr"
        echo "  wanted: $line"
    fi
}
COMMANDS="trace workers worker errors stats top system alerts help"
export BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" # a usage error never gets as far as Redis
usage_error "cli: unknown command: exit 2" "busmon: unknown command 'frobnicate' (see busmon --help)" \
    "$BUSMON" frobnicate
usage_error "cli: unknown option before the command" "busmon: unknown option '--bogus' (see busmon --help)" \
    "$BUSMON" --bogus workers
usage_error "cli: global option without its value" "busmon: --redis needs a value (see busmon --help)" \
    "$BUSMON" --redis
for cmd in $COMMANDS; do
    usage_error "cli: $cmd --bogus" "busmon $cmd: unknown option '--bogus' (see busmon $cmd --help)" \
        "$BUSMON" "$cmd" --bogus
    usage_error "cli: $cmd --redis without its value" \
        "busmon $cmd: --redis needs a value (see busmon $cmd --help)" "$BUSMON" "$cmd" --redis
done
usage_error "cli: unknown short option" "busmon alerts: unknown option '-x' (see busmon alerts --help)" \
    "$BUSMON" alerts -x
usage_error "cli: a long name is taken whole (--win is not --window)" \
    "busmon workers: unknown option '--win' (see busmon workers --help)" "$BUSMON" workers --win 1m
usage_error "cli: a flag given a value" "busmon trace: --json takes no value (see busmon trace --help)" \
    "$BUSMON" trace --json=1 tx-1
usage_error "cli: --window without its value" \
    "busmon system: --window needs a value (see busmon system --help)" "$BUSMON" system --window
usage_error "cli: unexpected argument" "busmon workers: unexpected argument 'x' (see busmon workers --help)" \
    "$BUSMON" workers x
usage_error "cli: a second transaction" "busmon trace: unexpected argument 'tx-2' (see busmon trace --help)" \
    "$BUSMON" trace tx-1 tx-2
usage_error "cli: help for an unknown command" "busmon help: unknown command 'nope' (see busmon --help)" \
    "$BUSMON" help nope
usage_error "cli: --window=2h is checked like --window 2h" \
    "busmon workers: --window must be 1m, 5m or 1h, not '2h'" "$BUSMON" workers --window=2h

# a Redis URL that cannot be one is a usage error (2), wherever it comes from
usage_error "cli: bad URL scheme, --redis: exit 2" \
    "busmon: bad Redis URL 'http://x': scheme must be redis:// or unix://" "$BUSMON" --redis http://x workers
usage_error "cli: bad URL scheme, --redis= after the command: exit 2" \
    "busmon: bad Redis URL 'ftp://x': scheme must be redis:// or unix://" "$BUSMON" trace tx-1 --redis=ftp://x
BUSMON_REDIS_URL=http://x usage_error "cli: bad URL scheme, BUSMON_REDIS_URL: exit 2" \
    "busmon: bad Redis URL 'http://x': scheme must be redis:// or unix://" "$BUSMON" alerts
"$BUSMON" --redis="redis://127.0.0.1:$DEAD_PORT" system >/dev/null 2>&1
bm_eq "cli: --redis=URL of an unreachable Redis: exit 3" 3 "$?"

# help: busmon help CMD = busmon CMD --help = busmon CMD -h, for every command in busmon --help
"$BUSMON" --help >"$BM_TMP/overview"
bm_eq "busmon help = busmon --help" "$(cat "$BM_TMP/overview")" "$("$BUSMON" help)"
for cmd in $COMMANDS; do
    bm_check "busmon --help lists $cmd" grep -Eq "^  $cmd( [A-Z]+)? +[a-z]" "$BM_TMP/overview"
    "$BUSMON" help "$cmd" >"$BM_TMP/help.txt"; rc=$?
    bm_check "busmon help $cmd: exit 0, its usage" \
        bash -c "[ $rc -eq 0 ] && grep -q '^usage: busmon $cmd' '$BM_TMP/help.txt'"
    bm_eq "busmon $cmd --help = busmon help $cmd" "$(cat "$BM_TMP/help.txt")" "$("$BUSMON" "$cmd" --help)"
    bm_eq "busmon $cmd -h = busmon help $cmd" "$(cat "$BM_TMP/help.txt")" "$("$BUSMON" "$cmd" -h)"
done
bm_check "busmon help trace explains the timeline" bash -c "'$BUSMON' help trace | grep -q 'timeline'"
unset BUSMON_REDIS_URL

# a good config file is used, and flags override it
bm_start_redis
cat > "$BM_TMP/good.yaml" <<YAML
redis:
  url: redis://127.0.0.1:$BM_PORT
streams:
  names: [from-config-a, from-config-b]
  group: cfg-group
worker_monitoring:
  error_rate_threshold: 0.1
unknown_section:
  whatever: 1
YAML
unset BUSMON_REDIS_URL
out=$("$AGENT" --config "$BM_TMP/good.yaml" --check-config 2>"$BM_TMP/warn.txt")
bm_check "config file: redis, streams and group are used" grep -q "2 stream(s), group cfg-group" <<<"$out"
bm_check "config file: unknown keys are warned about" grep -q "unknown key 'unknown_section.whatever'" "$BM_TMP/warn.txt"
bm_eq "config file: group created on each stream" "cfg-group" "$(redis-cli -p "$BM_PORT" --raw XINFO GROUPS from-config-b | sed -n 2p)"
out=$("$AGENT" --config "$BM_TMP/good.yaml" --stream flag-stream --group flag-group --check-config 2>/dev/null)
bm_check "flags override the config file" grep -q "1 stream(s), group flag-group" <<<"$out"

# --opt=VALUE: --redis=URL before and after the command, --window=1m
export BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" # only the flags find the live Redis
redis-cli -p "$BM_PORT" XADD busmon:rollups '*' json \
    '{"ts":"2026-01-15T10:30:00Z","agent":"t1","summary":{},"workers":[],"errors":[]}' >/dev/null
out=$("$BUSMON" --redis="$BM_URL" workers --window=1m)
bm_eq "busmon --redis=URL workers --window=1m" "workers over 1m (rollup 2026-01-15T10:30:00Z by t1)" \
    "$(head -1 <<<"$out")"
out=$("$BUSMON" errors --window=1h --redis="$BM_URL")
bm_eq "busmon errors --window=1h --redis=URL" "error patterns over 1h (rollup 2026-01-15T10:30:00Z)" \
    "$(head -1 <<<"$out")"
out=$("$BUSMON" top --once --window=5m --interval=1s --redis="$BM_URL")
bm_check "busmon top --window=5m --redis=URL" grep -q 'by t1  window 5m$' <<<"$out"
"$BUSMON" trace --redis="$BM_URL" no-such-tx >/dev/null 2>&1
bm_eq "busmon trace --redis=URL reaches Redis (no such tx: exit 1)" 1 "$?"

# text views print what came from events as text, never as terminal
# control: an escape sequence (retitle, clear), a newline (a forged line),
# C1 (CSI) and DEL are shown as \xNN, in every view
H='\u001b]0;owned\u0007\u001b[2J\nforged \u009b2J\u007f'
HS='\x1b]0;owned\x07\x1b[2J\x0aforged \x9b2J\x7f' # as shown
W="w$H" # a name with it: a rollup and a hash may hold anything
redis-cli -p "$BM_PORT" XADD busmon:rollups '*' json "$(jq -cn --arg w "$(jq -rn "\"$W\"")" \
    --arg h "$(jq -rn "\"$H\"")" '{ts: "2026-01-15T10:31:00Z", agent: $h, summary: {},
    workers: [{name: $w, health: $h, windows: {"5m": {executions: 1}}}],
    errors: [{type: $h, count: {"5m": 1}, total: 1, trend: $h, workers: [$w], example: $h}],
    metrics: {series: [{name: $h, kind: "counter", tags: {k: $h}, count: 1}]}}')" >/dev/null
redis-cli -p "$BM_PORT" HSET busmon:workers "$(jq -rn "\"$W\"")" \
    "$(jq -cn --arg h "$(jq -rn "\"$H\"")" '{name: $h, health: "healthy", issues: [$h], last_error: $h}')" >/dev/null
rec=$(jq -cn --arg h "$(jq -rn "\"$H\"")" '{rule: $h, severity: "critical", state: "firing",
    labels: {worker: $h}, description: $h, value: 1, ts: 1768473000}')
redis-cli -p "$BM_PORT" HSET busmon:alerts:firing fp1 "$rec" _updated 2026-01-15T10:31:00Z _agent "$(jq -rn "\"$H\"")" >/dev/null
redis-cli -p "$BM_PORT" XADD busmon:alerts '*' json "$rec" >/dev/null
# no C0 control but the line ends, no DEL, no C1; the text shown escaped
no_control() { ! LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1" && ! grep -q '^forged' "$1"; }
for view in "workers" "worker $(jq -rn "\"$W\"")" "errors" "top --once" "alerts" "metrics"; do
    if [ "${view%% *}" = worker ]; then
        "$BUSMON" --redis="$BM_URL" worker "${view#worker }" >"$BM_TMP/view.txt" 2>&1
    else
        "$BUSMON" --redis="$BM_URL" $view >"$BM_TMP/view.txt" 2>&1
    fi
    bm_check "busmon ${view%% *}: event text shown as \\xNN, no terminal control" \
        bash -c "$(declare -f no_control); no_control '$BM_TMP/view.txt' && grep -qF '$HS' '$BM_TMP/view.txt'"
done
# an entry written by hand may hold several json fields: the first readable
# object is read, the others never parsed (each one was parsed and all but
# the last leaked: LeakSanitizer fails the ASan build's run)
redis-cli -p "$BM_PORT" XADD busmon:rollups '*' json 'not json' \
    json '{"ts":"2026-01-15T10:32:00Z","agent":"first","summary":{},"workers":[],"errors":[]}' \
    json '{"ts":"2026-01-15T10:33:00Z","agent":"second","summary":{},"workers":[],"errors":[]}' >/dev/null
out=$("$BUSMON" --redis="$BM_URL" workers); rc=$?
bm_eq "two json fields: busmon workers reads the first readable, exit 0" \
    "0 workers over 5m (rollup 2026-01-15T10:32:00Z by first)" "$rc $(head -1 <<<"$out")"
out=$("$BUSMON" --redis="$BM_URL" top --once); rc=$?
bm_check "two json fields: busmon top --once the same, exit 0" bash -c "[ $rc = 0 ] && grep -q 'by first ' <<<'$out'"
bm_finish
