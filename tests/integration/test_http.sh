#!/usr/bin/env bash
# busmon-agent's HTTP surface against a real Redis and the demo producer:
# /health, /ready, /metrics (families, values against `busmon workers --json`,
# histogram invariants, promtool), every /api route, bad requests (unknown
# path, bad window, wrong method, long and huge query strings, garbage bytes),
# /api/alerts (shape, 404/405, alerting switched off),
# host system metrics,
# a bind failure at start, and the agent still alive at the end.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
unset BUSMON_HTTP

# code URL [curl args...]: the HTTP status, the body in $BM_TMP/body
qjq() { jq -e "$@" >/dev/null; }
code() { local u=$1; shift; curl -s -m 5 -o "$BM_TMP/body" -w '%{http_code}' "$@" "$u"; }

bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --block-ms 100 --rollup-interval 1 --health-interval 1 \
    --system-interval 1s
A=$BM_LAST_PID
bm_check "HTTP answers /health" bm_wait_for 10 "curl -sf $BASE/health"
bm_eq "/health: 200" 200 "$(code $BASE/health)"
bm_eq "/health body" ok "$(jq -r .status "$BM_TMP/body")"
bm_check "/ready: 200 once Redis is connected" bm_wait_for 10 "[ \$(code $BASE/ready) = 200 ]"
bm_eq "/ready body" "ready true true" "$(jq -r '"\(.status) \(.reader) \(.writer)"' "$BM_TMP/body")"

# a second agent on the same port: one clear line, non-zero exit
"$AGENT" --http "127.0.0.1:$HPORT" --consumer other >/dev/null 2>"$BM_TMP/bind.err"; rc=$?
bm_check "bind failure: non-zero exit" [ "$rc" -ne 0 ]
bm_check "bind failure: one line naming the address" \
    bash -c "[ \$(grep -c . '$BM_TMP/bind.err') -eq 1 ] && grep -q 'cannot listen for HTTP on 127.0.0.1:$HPORT' '$BM_TMP/bind.err'"
bm_check "bind failure: the address said once, then the reason" \
    grep -qx "busmon-agent: cannot listen for HTTP on 127.0.0.1:$HPORT: Address already in use" "$BM_TMP/bind.err"
"$AGENT" --http nonsense >/dev/null 2>"$BM_TMP/addr.err"; rc=$?
bm_check "bad --http address: non-zero exit and the reason" \
    bash -c "[ $rc -ne 0 ] && grep -q 'host:port' '$BM_TMP/addr.err'"

"$BM_BUILD/busmon-demo-producer" --count 200 --rate 3000 --seed 11 >/dev/null ||
    echo "FAIL - the producer failed"
executions() { "$BUSMON" workers --json --window 1h 2>/dev/null | jq '[.workers[].executions] | add // 0'; }
metric_sum() { curl -s $BASE/metrics | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'; }
# settled: the rollup's executions and /metrics agree and stop moving
bm_check "executions settle" bm_wait_for 30 \
    '[ "$(executions)" -gt 0 ] && [ "$(executions)" = "$(metric_sum busmon_worker_executions_total)" ] && sleep 1.2 && [ "$(executions)" = "$(metric_sum busmon_worker_executions_total)" ]'

curl -s $BASE/metrics >"$BM_TMP/metrics.txt"
M=$BM_TMP/metrics.txt
for f in busmon_events_total busmon_worker_executions_total busmon_worker_duration_seconds \
    busmon_worker_health busmon_traces_in_memory busmon_traces_evicted_total busmon_deadletter_total \
    busmon_entries_read_total busmon_entries_acked_total busmon_pending_writes \
    busmon_redis_reconnects_total process_resident_memory_bytes process_cpu_seconds_total \
    busmon_rollups_published_total; do
    bm_check "/metrics has # HELP and # TYPE for $f" \
        bash -c "grep -q '^# HELP $f ' '$M' && grep -q '^# TYPE $f ' '$M'"
done
bm_eq "every family has a # TYPE" "$(grep -c '^# HELP' "$M")" "$(grep -c '^# TYPE' "$M")"

J=$("$BUSMON" workers --json --window 1h)
for n in fast slow flaky cpu_heavy; do
    want=$(jq -r --arg n $n '.workers[] | select(.name == $n) | .executions' <<<"$J")
    got=$(grep "^busmon_worker_executions_total{worker=\"$n\"," "$M" | awk '{ s += $2 } END { print s + 0 }')
    bm_eq "$n: executions on /metrics = busmon workers --json --window 1h" "$want" "$got"
    cnt=$(awk -v n="$n" '$1 == "busmon_worker_duration_seconds_count{worker=\""n"\"}" { print $2 }' "$M")
    inf=$(awk -v n="$n" '$1 == "busmon_worker_duration_seconds_bucket{worker=\""n"\",le=\"+Inf\"}" { print $2 }' "$M")
    bm_eq "$n: histogram +Inf bucket = _count" "$cnt" "$inf"
    bm_eq "$n: histogram _count = executions with a duration" "$want" "$cnt"
    bm_check "$n: cumulative buckets never decrease" bash -c "grep '^busmon_worker_duration_seconds_bucket{worker=\"$n\"' '$M' |
        awk '{ if (\$2 < last) exit 1; last = \$2 }'"
    h=$(jq -r --arg n $n '.workers[] | select(.name == $n) | .health' <<<"$("$BUSMON" workers --json)")
    bm_eq "$n: one health state set on /metrics" 1 \
        "$(grep "^busmon_worker_health{worker=\"$n\"" "$M" | awk '$2 == 1' | wc -l)"
done
bm_eq "entries read = entries in the stream" "$(bm_cli_raw XLEN busmon:events)" \
    "$(awk '$1 == "busmon_entries_read_total" { print $2 }' "$M")"
bm_check "RSS is reported" awk '$1 == "process_resident_memory_bytes" && $2 > 1000000 { ok = 1 } END { exit !ok }' "$M"
bm_check "rollups are counted" awk '$1 == "busmon_rollups_published_total" && $2 > 0 { ok = 1 } END { exit !ok }' "$M"

if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts /metrics" bash -c "promtool check metrics <'$M'"
else
    echo "note: promtool not installed (Debian package prometheus; deploy/install-deps.sh): check skipped"
fi

# host system metrics from /proc (sampled every second here; CPU needs two samples)
bm_check "host memory % is in 0..100" awk '$1 == "busmon_host_memory_percent" && $2 > 0 && $2 <= 100 { ok = 1 } END { exit !ok }' "$M"
bm_check "host load averages for 1m, 5m, 15m" bash -c "[ \$(grep -c '^busmon_host_load_average{period=' '$M') -eq 3 ]"
bm_check "host CPU % appears after the second sample" bm_wait_for 12 \
    "curl -s $BASE/metrics | awk '\$1 == \"busmon_host_cpu_percent\" && \$2 >= 0 && \$2 <= 100 { ok = 1 } END { exit !ok }'"

# a label value that needs escaping, through a real event
bm_cli XADD busmon:events '*' type command tx tx-esc worker 'we"ird\name' >/dev/null
bm_cli XADD busmon:events '*' type result tx tx-esc worker 'we"ird\name' ok 1 >/dev/null
bm_check "label values are escaped" bm_wait_for 10 \
    "curl -s $BASE/metrics | grep -qF 'busmon_worker_executions_total{worker=\"we\\\"ird\\\\name\",status=\"success\"} 1'"
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool still accepts it" bash -c "curl -s $BASE/metrics | promtool check metrics"
fi

# API: the CLI's shapes
bm_eq "/api/workers?window=1h: 200" 200 "$(code "$BASE/api/workers?window=1h")"
bm_eq "/api/workers executions = the CLI's" "$(jq '[.workers[] | select(.name != "we\"ird\\name") | .executions] | add' <<<"$J")" \
    "$(jq '[.workers[] | select(.name != "we\"ird\\name") | .executions] | add' "$BM_TMP/body")"
bm_eq "/api/workers has the CLI's keys" "$(jq -c '.workers[0] | keys' <<<"$J")" "$(jq -c '.workers[0] | keys' "$BM_TMP/body")"
bm_eq "/api/workers/flaky: 200" 200 "$(code $BASE/api/workers/flaky)"
bm_eq "/api/workers/flaky: its name and window" "flaky 5m" "$(jq -r '"\(.name) \(.window)"' "$BM_TMP/body")"
bm_eq "/api/workers/flaky has the CLI's keys" "$("$BUSMON" worker flaky --json | jq -c 'keys')" "$(jq -c keys "$BM_TMP/body")"
bm_eq "/api/workers/NOPE: 404" 404 "$(code $BASE/api/workers/nope)"
bm_check "/api/workers/NOPE: JSON error" qjq .error "$BM_TMP/body"
bm_eq "/api/stats?window=1h: 200" 200 "$(code "$BASE/api/stats?window=1h")"
bm_eq "/api/stats has the CLI's keys" "$("$BUSMON" stats --json --window 1h | jq -c keys)" "$(jq -c keys "$BM_TMP/body")"
bm_eq "/api/errors?window=1m: 200" 200 "$(code "$BASE/api/errors?window=1m")"
bm_check "/api/errors lists NetworkError" qjq '.errors[] | select(.type == "NetworkError")' "$BM_TMP/body"
tx=$(bm_cli_raw --scan --pattern 'busmon:trace:tx-*' | head -1); tx=${tx#busmon:trace:}
bm_eq "/api/traces/TX (in memory): 200" 200 "$(code $BASE/api/traces/$tx)"
bm_eq "/api/traces/TX = busmon trace --json (tx, events)" \
    "$("$BUSMON" trace --json "$tx" | jq -c '[.tx, .event_count]')" "$(jq -c '[.tx, .event_count]' "$BM_TMP/body")"
bm_eq "/api/traces/unknown: 404" 404 "$(code $BASE/api/traces/no-such-tx)"
bm_check "/api/traces/unknown: JSON error" qjq .error "$BM_TMP/body"
# /api/traces lists a match as `busmon traces --json` does: its error message whole
# (past the summary's 256 bytes: a 2-byte character across byte 256, a byte
# that is not UTF-8 further on, shown as '?' and still JSON) and the workers
# after the summary's 8 counted (workers_more)
LONGMSG="$(printf 'm%.0s' $(seq 255))é$(printf 'n%.0s' $(seq 40))"$'\xff'"end"
for i in $(seq 1 10); do
    bm_cli XADD busmon:events '*' type command id "wide-c$i" tx tx-wide worker "w$i" step "s$i" >/dev/null
    if [ "$i" = 10 ]; then
        bm_cli XADD busmon:events '*' type error id "wide-r$i" tx tx-wide worker "w$i" step "s$i" \
            cmd "wide-c$i" error_type Boom error_message "$LONGMSG" >/dev/null
    else
        bm_cli XADD busmon:events '*' type result id "wide-r$i" tx tx-wide worker "w$i" step "s$i" \
            cmd "wide-c$i" ok true >/dev/null
    fi
done
wide() { curl -s "$BASE/api/traces?worker=w1&status=failed" | jq -c '[.traces[] | select(.tx == "tx-wide")][0]'; }
bm_check "/api/traces: tx-wide failed in memory" bm_wait_for 10 '[ "$(wide | jq -r .error_type)" = Boom ]'
bm_eq "/api/traces?worker=w1: 200, valid JSON" "200 1" \
    "$(code "$BASE/api/traces?worker=w1&status=failed") $(jq '[.traces[] | select(.tx == "tx-wide")] | length' "$BM_TMP/body")"
WANTMSG="$(printf 'm%.0s' $(seq 255))é$(printf 'n%.0s' $(seq 40))?end"
bm_eq "/api/traces: the error message whole (${#WANTMSG} characters, the bad byte as '?')" "$WANTMSG" \
    "$(wide | jq -r .error)"
bm_eq "/api/traces: workers_more 2 after the summary's 8 workers" "8 2" \
    "$(wide | jq -r '"\(.workers | length) \(.workers_more)"')"
bm_eq "/api/traces: workers_more 0 when none are left out" 0 \
    "$(curl -s "$BASE/api/traces?limit=1000" | jq '[.traces[] | select(.tx != "tx-wide") | .workers_more] | max')"
bm_check "busmon traces --json: tx-wide stored" bm_wait_for 10 \
    '"$BUSMON" traces --worker w1 --status failed --json 2>/dev/null | jq -e ".traces[] | select(.tx == \"tx-wide\")" >/dev/null'
bm_eq "/api/traces = busmon traces --json for tx-wide (error, workers, workers_more, error_type)" \
    "$("$BUSMON" traces --worker w1 --status failed --json | jq -c '.traces[] | select(.tx == "tx-wide") | [.error, .workers, .workers_more, .error_type]')" \
    "$(wide | jq -c '[.error, .workers, .workers_more, .error_type]')"
bm_eq "/api/alerts: 200" 200 "$(code $BASE/api/alerts)"
bm_eq "/api/alerts: busmon alerts --json's keys and enabled" '["agent","enabled","firing","history","updated"]' \
    "$(jq -c keys "$BM_TMP/body")"
bm_eq "/api/alerts: alerting on by default, two arrays" "true array array" \
    "$(jq -r '"\(.enabled) \(.firing | type) \(.history | type)"' "$BM_TMP/body")"
bm_eq "/api/alerts/x: 404" 404 "$(code $BASE/api/alerts/x)"
bm_eq "/api/alertsx: 404" 404 "$(code $BASE/api/alertsx)"
bm_eq "POST /api/alerts: 405" 405 "$(code $BASE/api/alerts -X POST -d x=1)"
bm_eq "HEAD /: 200" 200 "$(code $BASE/ -I)"
bm_eq "POST /: 405" 405 "$(code $BASE/ -X POST -d x=1)"

# bad requests
bm_eq "unknown path: 404" 404 "$(code $BASE/nope)"
bm_check "unknown path: the 404 names the paths there are" bash -c \
    "curl -s $BASE/api/worker | jq -e '.error | test(\"^no such path; the paths: /, .* /api/workers, /api/workers/NAME, .* /api/traces/TX\$\")' >/dev/null"
bm_check "unknown path: JSON error" qjq .error "$BM_TMP/body"
bm_eq "bad window: 400" 400 "$(code "$BASE/api/stats?window=2d")"
bm_check "bad window: JSON error names the windows" grep -q '1m, 5m or 1h' "$BM_TMP/body"
# the route first: an unknown path is 404 whatever its query; a route without a window
# ignores one (but /api/traces, whose `since` it would be mistaken for, says so), and
# /health parses no query at all
bm_eq "unknown path with a bad window: 404" 404 "$(code "$BASE/no/such?window=x")"
bm_eq "/api/traces?window=xx: 400 (since= is its word)" 400 "$(code "$BASE/api/traces?window=xx")"
bm_eq "/health?probe: 200" 200 "$(code "$BASE/health?probe")"
bm_eq "/metrics?window=xx: 200" 200 "$(code "$BASE/metrics?window=xx")"
bm_eq "/api/system?window=xx: still 400" 400 "$(code "$BASE/api/system?window=xx")"
bm_eq "POST: 405" 405 "$(code $BASE/metrics -X POST -d x=1)"
bm_eq "DELETE: 405" 405 "$(code $BASE/api/workers -X DELETE)"
bm_eq "HEAD /health: 200" 200 "$(code $BASE/health -I)"
long=$(head -c 4000 /dev/zero | tr '\0' a)
bm_eq "4 KB query string: 400" 400 "$(code "$BASE/api/stats?$long")"
huge=$(head -c 100000 /dev/zero | tr '\0' a)
c=$(code "$BASE/api/stats?x=$huge")
bm_check "100 KB query string: refused (4xx or closed, got $c)" bash -c "[ '$c' = 000 ] || [ '$c' -ge 400 -a '$c' -lt 500 ]"
bm_eq "a body over the cap on POST: still 4xx" 1 "$(c=$(head -c 20000 /dev/zero | curl -s -m 5 -o /dev/null -w '%{http_code}' --data-binary @- $BASE/metrics); [ "$c" = 000 ] || [ "$c" -ge 400 -a "$c" -lt 500 ] && echo 1)"
bm_eq "percent-escape garbage: 4xx, not a crash" 1 "$(c=$(code "$BASE/api/workers/%ZZ%00"); [ "$c" -ge 400 -a "$c" -lt 500 ] && echo 1)"
# raw garbage on the socket, and a half request left open
(exec 3<>/dev/tcp/127.0.0.1/$HPORT; head -c 4096 /dev/urandom >&3; timeout 2 cat <&3 >/dev/null; exec 3>&-) 2>/dev/null
(exec 3<>/dev/tcp/127.0.0.1/$HPORT; printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&3; sleep 0.2; exec 3>&-) 2>/dev/null
(exec 3<>/dev/tcp/127.0.0.1/$HPORT; printf '\x00\x01\x02 / HTTP/9.9\r\n\r\n' >&3; timeout 2 cat <&3 >/dev/null; exec 3>&-) 2>/dev/null
bm_check "the agent is alive after bad requests" kill -0 "$A"
bm_eq "/health still 200" 200 "$(code $BASE/health)"
bm_eq "/metrics still 200" 200 "$(code $BASE/metrics)"
n4xx=$(grep -F 'busmon_http_requests_total{code="4xx"}' "$BM_TMP/body" | awk '{ print $2 }')
bm_check "refused requests are counted (${n4xx:-none})" [ "${n4xx:-0}" -ge 7 ]

# alerting switched off: /api/alerts still answers 200, empty and says so
printf 'alerts:\n  enabled: false\n' >"$BM_TMP/noalerts.yaml"
HPORT2=$(bm_free_port)
bm_bg "$AGENT" --config "$BM_TMP/noalerts.yaml" --http "127.0.0.1:$HPORT2" --consumer noalerts
bm_check "agent without alerting: HTTP is up" bm_wait_for 10 "curl -sf http://127.0.0.1:$HPORT2/health"
bm_eq "alerting off: /api/alerts 200" 200 "$(code http://127.0.0.1:$HPORT2/api/alerts)"
bm_eq "alerting off: firing [], history [], enabled false" '[[],[],false]' \
    "$(jq -c '[.firing, .history, .enabled]' "$BM_TMP/body")"

# Redis goes away: /ready says 503 and why, /health stays 200
kill "${BM_PIDS[0]}"
bm_check "/ready: 503 without Redis" bm_wait_for 10 "[ \$(code $BASE/ready) = 503 ]"
bm_check "/ready names the reason" grep -q 'not connected' "$BM_TMP/body"
bm_eq "/health: 200 without Redis" 200 "$(code $BASE/health)"
bm_check "the agent is alive without Redis" kill -0 "$A"

bm_finish
