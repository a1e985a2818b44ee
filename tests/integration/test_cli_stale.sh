#!/usr/bin/env bash
# The rollup views (busmon stats, workers, errors, metrics...) and busmon
# alerts read what the agent last wrote. When no agent has written it for
# over three of its periods and a minute (the agent stopped, lost Redis, or
# alerting was switched off), they say so on stderr; figures a few periods
# old, or a hash from a busmon before _every, draw no warning. stdout and
# the exit code are as before; busmon top's frame says STALE.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
R="--redis redis://127.0.0.1:$BM_PORT"
# shellcheck disable=SC2086
"$AGENT" $R --consumer st --rollup-interval 1s --no-http >>"$BM_TMP/agent.log" 2>&1 &
BM_PIDS+=($!)
apid=$!
printf 'XADD busmon:events * type command tx st-1 worker w1 step s\nXADD busmon:events * type result tx st-1 worker w1 duration_ms 5\n' |
    redis-cli -p "$BM_PORT" >/dev/null
bm_check "a rollup is published" bm_wait_for 15 '[ "$(bm_cli_raw XLEN busmon:rollups)" -ge 1 ]'
bm_check "the firing hash is written with _every 10" bm_wait_for 25 \
    '[ "$(bm_cli_raw HGET busmon:alerts:firing _every)" = 10 ]'
kill "$apid"
wait "$apid" 2>/dev/null

run() { # $1: name; the rest: busmon args. stdout, stderr and rc into $BM_TMP/$1.*
    local n=$1
    shift
    # shellcheck disable=SC2086
    "$BUSMON" $R "$@" >"$BM_TMP/$n.out" 2>"$BM_TMP/$n.err"
    echo $? >"$BM_TMP/$n.rc"
}
stale() { grep -q "warning: .* was last written .* ago" "$BM_TMP/$1.err"; }

# just written: no warning
for v in stats workers alerts; do
    run fresh-$v $v
    bm_check "busmon $v just after the agent wrote: no warning" bash -c "! grep -q warning '$BM_TMP/fresh-$v.err'"
done
cp "$BM_TMP/fresh-workers.out" "$BM_TMP/fresh-workers.keep"

# the same rollup, stamped two hours ago (as an agent that stopped then left it)
old=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000Z)
bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | awk 'p { print; exit } $0 == "json" { p = 1 }' |
    jq -c --arg t "$old" '.ts = $t' >"$BM_TMP/old.json"
bm_cli_raw XADD busmon:rollups '*' json "$(cat "$BM_TMP/old.json")" >/dev/null
for v in stats workers errors; do
    run old-$v $v
    bm_check "busmon $v on a rollup 2 h old: warned" stale old-$v
    bm_check "busmon $v: the warning names the stream and the period" \
        grep -q "the latest rollup on busmon:rollups was last written 2.0 h ago.*every 1 s" "$BM_TMP/old-$v.err"
done
bm_eq "busmon workers: exit code as before" 0 "$(cat "$BM_TMP/old-workers.rc")"
bm_check "busmon workers: stdout names the worker as before" grep -q w1 "$BM_TMP/old-workers.out"
run old-json workers --json
bm_check "busmon workers --json: stdout stays JSON" bash -c "jq -e . '$BM_TMP/old-json.out' >/dev/null"
run old-top top --once
bm_check "busmon top --once on a rollup 2 h old: the frame says STALE" \
    grep -q "STALE: the latest rollup was last written 2.0 h ago" "$BM_TMP/old-top.out"

# two seconds over three periods but under a minute: no warning
near=$(date -u -d '-50 seconds' +%Y-%m-%dT%H:%M:%S.000Z)
jq -c --arg t "$near" '.ts = $t' "$BM_TMP/old.json" >"$BM_TMP/near.json"
bm_cli_raw XADD busmon:rollups '*' json "$(cat "$BM_TMP/near.json")" >/dev/null
run near-stats stats
run near-top top --once
bm_check "busmon top --once on a rollup 50 s old: not STALE" bash -c "! grep -q STALE '$BM_TMP/near-top.out'"
bm_check "a rollup 50 s old (every 1 s): under a minute, no warning" bash -c "! grep -q warning '$BM_TMP/near-stats.err'"

# the firing hash left two hours ago
bm_cli_raw HSET busmon:alerts:firing _updated "$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000000Z)" >/dev/null
run old-alerts alerts
bm_check "busmon alerts on a hash 2 h old: warned" stale old-alerts
bm_check "busmon alerts: the warning names the hash and alerts.interval" \
    grep -q "the firing hash busmon:alerts:firing was last written 2.0 h ago.*every 10 s" "$BM_TMP/old-alerts.err"
bm_eq "busmon alerts: exit code as before" 0 "$(cat "$BM_TMP/old-alerts.rc")"
bm_cli_raw HDEL busmon:alerts:firing _every >/dev/null
run noevery-alerts alerts
bm_check "a hash without _every (an older busmon): no warning" bash -c "! grep -q warning '$BM_TMP/noevery-alerts.err'"
bm_finish
