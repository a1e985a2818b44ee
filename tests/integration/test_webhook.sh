#!/usr/bin/env bash
# Webhook notifications (issue 5): agent/outputs/webhook.c's webhook sink, driven by
# bm-webhook-send inside a libevent loop with a 10 ms timer, against
# bm-webhook-receiver on 127.0.0.1 (which records every request):
#   - receiver up: every body arrives intact, in order, with its content type,
#     in each format (generic, Slack, PagerDuty, Alertmanager's default path);
#   - 500 for the first 2 requests (and a 429): retried with growing waits,
#     all delivered, one warning and one "delivers again" line;
#   - Retry-After as seconds, an HTTP-date, a number too large for milliseconds
#     (the longest wait, backoff_max), garbage, negative, a date gone by;
#   - 4xx: given up at once, never retried;
#   - receiver down (a closed port): retries, the loop keeps ticking, and
#     bodies beyond the queue bound are dropped and counted;
#   - a receiver slower than the timeout: timeouts counted as failed attempts
#     and retried, the loop keeps ticking;
#   - flush deadline: what is left is given up on time;
#   - a 2xx whose body is cut short or never ends: delivered, not sent again;
#   - an otlp sink's batches hold batch_size spans at most;
#   - a message on a topic the sink cannot carry (workers, alerts_firing,
#     spans on a generic webhook): dropped and counted, never POSTed or sent;
#   - bad sink keys are refused with the reason.
# Every wait is bounded: the receiver exits by itself, the driver has a
# deadline and runs under `timeout`.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
RECV="$BM_BUILD/bm-webhook-receiver"
SEND="$BM_BUILD/bm-webhook-send"
for b in "$RECV" "$SEND"; do
    [ -x "$b" ] || { echo "missing $b (build with the tests)"; exit 1; }
done

# start_receiver NAME [flags...]: sets PORT; requests recorded in $BM_TMP/NAME.jsonl
start_receiver() {
    local name=$1; shift
    "$RECV" --out "$BM_TMP/$name.jsonl" --port-file "$BM_TMP/$name.port" --max-seconds 60 "$@" \
        >"$BM_TMP/$name.receiver.log" 2>&1 &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/$name.port' ]" || { echo "receiver $name did not start"; cat "$BM_TMP/$name.receiver.log"; exit 1; }
    PORT=$(cat "$BM_TMP/$name.port")
    touch "$BM_TMP/$name.jsonl"
}

# send NAME [flags...]: runs the driver; summary in $BM_TMP/NAME.json (and $S), log in NAME.err
send() {
    local name=$1; shift
    timeout 60 "$SEND" --sent-file "$BM_TMP/$name.sent" "$@" >"$BM_TMP/$name.json" 2>"$BM_TMP/$name.err"
    SEND_RC=$?
    S=$(cat "$BM_TMP/$name.json")
}

# counters NAME KEY...: the summary's values, space-separated
counters() {
    local name=$1; shift
    local k q=""
    for k in "$@"; do q="$q\(.$k) "; done
    jq -r "\"${q% }\"" "$BM_TMP/$name.json"
}

# ticks_ok NAME: the 10 ms timer kept its rate (>= 70 %) and never stalled (gap < 250 ms)
ticks_ok() {
    jq -e '.ticks >= (.elapsed_ms / 10 * 0.7) and .max_tick_gap_ms < 250 and .elapsed_ms > 0' \
        "$BM_TMP/$1.json" >/dev/null
}

# --- 1. receiver up: every format arrives intact -----------------------------
start_receiver up
UP_PORT=$PORT
for fmt in generic slack pagerduty alertmanager; do
    url="http://127.0.0.1:$PORT/hook/$fmt"
    [ "$fmt" = alertmanager ] && url="http://127.0.0.1:$PORT"   # the sink adds /api/v2/alerts
    path="/hook/$fmt"; [ "$fmt" = alertmanager ] && path="/api/v2/alerts"
    send "up-$fmt" --url "$url" --format "$fmt" --routing-key R0UTING --count 5 --deadline-ms 10000
    bm_eq "$fmt: driver finished" 0 "$SEND_RC"
    bm_eq "$fmt: 5 sent, none failed, retried or dropped" "5 0 0 0 0" \
        "$(counters "up-$fmt" sent failed retried dropped abandoned)"
    jq -c "select(.path == \"$path\")" "$BM_TMP/up.jsonl" >"$BM_TMP/up-$fmt.got"
    bm_eq "$fmt: 5 POSTs to $path" "5 POST" \
        "$(jq -s -r '"\(length) \(map(.method) | unique | join(","))"' "$BM_TMP/up-$fmt.got")"
    bm_eq "$fmt: content type" "application/json" \
        "$(jq -s -r 'map(.content_type) | unique | join(",")' "$BM_TMP/up-$fmt.got")"
    bm_check "$fmt: bodies arrive intact, in order" \
        cmp -s "$BM_TMP/up-$fmt.sent" <(jq -r .body "$BM_TMP/up-$fmt.got")
    bm_eq "$fmt: nothing logged" "" "$(cat "$BM_TMP/up-$fmt.err")"
done
send up-am-query --url "http://127.0.0.1:$PORT/?tenant=t1" --format alertmanager --count 1 \
    --deadline-ms 10000
bm_eq "alertmanager, a URL with a query and no path: the path goes before the query" \
    "0 1 /api/v2/alerts?tenant=t1" \
    "$SEND_RC $(counters up-am-query sent) $(jq -r 'select(.path | contains("tenant=t1")) | .path' "$BM_TMP/up.jsonl")"
first() { jq -r .body "$BM_TMP/up-$1.got" | head -1; }
bm_eq "generic body is the alert record" "webhook_test firing 1" \
    "$(first generic | jq -r '"\(.rule) \(.state) \(.labels.seq)"')"
bm_eq "slack body has a coloured attachment" "true" \
    "$(first slack | jq -r '.attachments[0].color | startswith("#")')"
bm_eq "pagerduty body: routing key, trigger, dedup key" "R0UTING trigger true" \
    "$(first pagerduty | jq -r '"\(.routing_key) \(.event_action) \(.dedup_key | startswith("busmon-"))"')"
bm_eq "alertmanager body: a list with labels and startsAt" "array webhook_test 1 true" \
    "$(first alertmanager | jq -r '"\(type) \(.[0].labels.alertname) \(.[0].labels.seq) \(.[0].startsAt != null)"')"

# --- 2. 500 for the first 2 requests: retried, all delivered -----------------
start_receiver flaky --fail-first 2
send flaky --url "http://127.0.0.1:$PORT/hook" --count 3 --backoff 200ms --deadline-ms 10000
bm_eq "500 x2: all 3 sent after 2 retries" "3 0 2 2 0" \
    "$(counters flaky sent failed retried attempt_errors dropped)"
bm_eq "500 x2: the receiver saw 5 requests, the first two answered 500" "5 500,500,200,200,200" \
    "$(jq -s -r '"\(length) \(map(.status | tostring) | join(","))"' "$BM_TMP/flaky.jsonl")"
bm_check "500 x2: each body delivered once, in order" \
    cmp -s "$BM_TMP/flaky.sent" <(jq -r 'select(.status == 200) | .body' "$BM_TMP/flaky.jsonl")
bm_check "500 x2: the waits grow (>= 150 ms, then >= 350 ms)" \
    jq -s -e '(.[1].t_ms - .[0].t_ms) >= 150 and (.[2].t_ms - .[1].t_ms) >= 350' "$BM_TMP/flaky.jsonl"
bm_eq "500 x2: one warning, one recovery line" "1 1" \
    "$(grep -c '"level":"warn"' "$BM_TMP/flaky.err") $(grep -c 'delivers again after .* 2 attempt(s) failed' "$BM_TMP/flaky.err")"

start_receiver busy --fail-first 1 --fail-status 429
send busy --url "http://127.0.0.1:$PORT/hook" --count 2 --backoff 100ms --deadline-ms 10000
bm_eq "429: retried, then delivered" "2 0 1" "$(counters busy sent failed retried)"

# --- 2b. Retry-After, whatever it says ------------------------------------------
# retry_after NAME VALUE: one body, a 503 with Retry-After: VALUE, then 200;
# backoff 100ms, backoff_max 2s
retry_after() {
    local name=$1 value=$2
    start_receiver "$name" --fail-first 1 --fail-status 503 --retry-after "$value"
    send "$name" --url "http://127.0.0.1:$PORT/hook" --count 1 --backoff 100ms --backoff-max 2s \
        --deadline-ms 10000
    bm_eq "Retry-After '$value': delivered on the second attempt" "0 1 0 1 2" \
        "$SEND_RC $(counters "$name" sent failed retried) $(wc -l <"$BM_TMP/$name.jsonl")"
}
gap() { jq -s '.[1].t_ms - .[0].t_ms' "$BM_TMP/$1.jsonl"; }   # ms between the first two requests
retry_after ra-big 9300000000000000
bm_check "Retry-After beyond milliseconds: the longest wait, backoff_max 2 s ($(gap ra-big) ms)" \
    test "$(gap ra-big)" -ge 1900
retry_after ra-secs 1
bm_check "Retry-After 1: waited 1 s, not the 100 ms backoff ($(gap ra-secs) ms)" \
    test "$(gap ra-secs)" -ge 900
retry_after ra-date "$(date -u -d '+4 sec' '+%a, %d %b %Y %H:%M:%S GMT')"
bm_check "Retry-After as an HTTP-date 4 s ahead: waited, capped at 2 s ($(gap ra-date) ms)" \
    test "$(gap ra-date)" -ge 1900 -a "$(gap ra-date)" -lt 3000
odd=0
for v in soon -5 "$(date -u -d '-1 hour' '+%a, %d %b %Y %H:%M:%S GMT')"; do
    n=ra-odd-$((++odd))
    retry_after "$n" "$v"
    bm_check "Retry-After '$v': the backoff, 100 ms ($(gap "$n") ms)" test "$(gap "$n")" -lt 900
done

# --- 3. 4xx: not retried ------------------------------------------------------
start_receiver reject --fail-first 100 --fail-status 400
send reject --url "http://127.0.0.1:$PORT/hook" --count 3 --backoff 100ms --deadline-ms 10000
bm_eq "400: given up at once, never retried" "0 3 0 3" "$(counters reject sent failed retried attempt_errors)"
bm_eq "400: the receiver saw each body once" 3 "$(wc -l <"$BM_TMP/reject.jsonl")"
bm_eq "400: logged once, with the answer" 1 "$(grep -c 'HTTP 400: failing on purpose' "$BM_TMP/reject.err")"

# --- 4. receiver down: retries, the loop ticks, the queue bound drops --------
DEAD_PORT=$(bm_free_port)   # nothing listens there
send down --url "http://127.0.0.1:$DEAD_PORT/hook" --count 30 --queue 10 --max-attempts 3 \
    --backoff 100ms --deadline-ms 20000
bm_eq "down: driver finished" 0 "$SEND_RC"
bm_eq "down: 10 taken, 20 dropped at the queue bound" "10 20 20 10" \
    "$(counters down accepted refused dropped held_after_emit)"
bm_eq "down: each taken body tried 3 times, then failed" "0 10 20 30" \
    "$(counters down sent failed retried attempt_errors)"
bm_check "down: the loop kept ticking ($(counters down ticks elapsed_ms max_tick_gap_ms))" ticks_ok down
bm_check "down: the run took the backoff time (>= 10 x 300 ms)" \
    jq -e '.elapsed_ms >= 2800' "$BM_TMP/down.json"
bm_eq "down: one connection warning and one queue-full warning" "1 1 2" \
    "$(grep -c "Couldn't connect\|Failed to connect" "$BM_TMP/down.err") $(grep -c 'queue full' "$BM_TMP/down.err") $(grep -c '"level":"warn"' "$BM_TMP/down.err")"

# --- 5. a receiver slower than the timeout -----------------------------------
start_receiver slow --delay-ms 1500
send slow --url "http://127.0.0.1:$PORT/hook" --count 2 --timeout 300ms --max-attempts 2 \
    --backoff 100ms --deadline-ms 10000
bm_eq "slow: every attempt timed out, retried once, then failed" "0 2 2 4" \
    "$(counters slow sent failed retried attempt_errors)"
bm_eq "slow: the receiver saw 4 requests" 4 "$(wc -l <"$BM_TMP/slow.jsonl")"
bm_check "slow: the loop kept ticking ($(counters slow ticks elapsed_ms max_tick_gap_ms))" ticks_ok slow
bm_eq "slow: the timeout logged once" 1 "$(grep -c 'timed out' "$BM_TMP/slow.err")"

# --- 6. flush deadline: what is left is given up on time ---------------------
send deadline --url "http://127.0.0.1:$PORT/hook" --count 3 --timeout 5s --deadline-ms 500
bm_eq "deadline: 3 abandoned, counted as failed" "3 3 0 0 true" \
    "$(counters deadline abandoned failed in_flight queued flushed)"
bm_check "deadline: kept (elapsed $(counters deadline elapsed_ms) ms)" \
    jq -e '.elapsed_ms >= 450 and .elapsed_ms < 1500' "$BM_TMP/deadline.json"
bm_check "deadline: the loop kept ticking" ticks_ok deadline

# --- 6b. a 2xx whose body never arrives whole: delivered, not sent again ---------
start_receiver cut --body-mode cut
send cut --url "http://127.0.0.1:$PORT/hook" --count 2 --timeout 2s --max-attempts 3 \
    --backoff 100ms --deadline-ms 10000
bm_eq "200, body closed short: delivered once each" "2 0 0 0" "$(counters cut sent failed retried attempt_errors)"
bm_eq "200, body closed short: the receiver saw 2 requests" 2 "$(wc -l <"$BM_TMP/cut.jsonl")"
start_receiver stuck --body-mode stuck
send stuck --url "http://127.0.0.1:$PORT/hook" --count 2 --timeout 2s --max-attempts 3 \
    --backoff 100ms --deadline-ms 10000
bm_eq "200, endless body: delivered once each" "2 0 0 0" "$(counters stuck sent failed retried attempt_errors)"
bm_eq "200, endless body: the receiver saw 2 requests" 2 "$(wc -l <"$BM_TMP/stuck.jsonl")"
bm_check "200, endless body: not held until the timeout ($(counters stuck elapsed_ms) ms)" \
    jq -e '.elapsed_ms < 1500' "$BM_TMP/stuck.json" >/dev/null

# --- 6c. a topic the sink cannot carry: dropped and counted, never POSTed ------
# (the configuration refuses such a sink, test_outputs.sh; this is the sink's own guard)
for topic in workers alerts_firing spans; do
    send "no-$topic" --url "http://127.0.0.1:$UP_PORT/hook/no-$topic" --topic "$topic" --count 3 \
        --deadline-ms 10000
    bm_eq "topic $topic on a generic webhook: none accepted or sent, 3 dropped" "0 3 0 0 3 3" \
        "$SEND_RC $(counters "no-$topic" refused accepted sent dropped emitted)"
    bm_eq "topic $topic on a generic webhook: nothing POSTed" 0 \
        "$(jq -c "select(.path == \"/hook/no-$topic\")" "$BM_TMP/up.jsonl" | wc -l)"
    bm_eq "topic $topic on a generic webhook: said once" 1 \
        "$(grep -c "a message on topic $topic, which it cannot carry" "$BM_TMP/no-$topic.err")"
done

# --- 6d. an otlp sink (http_post.c too): batch_size spans a request at most ----------
# 5 transactions of 2 spans each, batch_size 5: requests of 2, 2 and 1 transaction(s)
send otlp-batch --set type=otlp --set "endpoint=http://127.0.0.1:$UP_PORT/otlp-batch" \
    --topic spans --items 2 --set batch_size=5 --count 5 --deadline-ms 10000
bm_eq "otlp batch_size 5, 2 spans a body: all 5 sent, none dropped" "0 5 0 3" \
    "$SEND_RC $(counters otlp-batch emitted dropped sent)"
bm_eq "otlp batch_size 5: no request beyond 5 spans (bodies a request, 2 spans each)" "2 2 1" \
    "$(jq -r 'select(.path == "/otlp-batch/v1/traces") | .body | fromjson | .resourceSpans[0].scopeSpans[0].spans | length' \
        "$BM_TMP/up.jsonl" | paste -sd ' ')"

# --- 7. bad sink keys are refused with the reason ---------------------------
refused() {  # refused DESCRIPTION REGEX FLAGS...
    local what=$1 re=$2; shift 2
    timeout 10 "$SEND" "$@" >/dev/null 2>"$BM_TMP/refused.err"; local rc=$?
    if [ "$rc" -eq 1 ] && grep -Eq -- "$re" "$BM_TMP/refused.err"; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $what"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $what (rc=$rc):"; cat "$BM_TMP/refused.err"
    fi
}
U="http://127.0.0.1:$DEAD_PORT/"
refused "unknown key" "sink 'webhook': unknown key 'retries'" --url "$U" --set retries=3
refused "url required" "'url' is required" --format slack
refused "url scheme" "must start with http:// or https://" --url "ftp://127.0.0.1/"
printf 'SECRETTOKEN-abc\n' >"$BM_TMP/url.secret"
printf 'SECRETTOKEN-abc\n' >"$BM_TMP/timeout.secret"
refused "url_file: the error names the key" "'url' must start with http:// or https://" \
    --set "url_file=$BM_TMP/url.secret"
bm_check "url_file: the error does not show the secret" bash -c "! grep -q SECRETTOKEN '$BM_TMP/refused.err'"
refused "timeout_file: the refused value is shown as its file key" "not '\(from timeout_file\)'" \
    --url "$U" --set "timeout_file=$BM_TMP/timeout.secret"
bm_check "timeout_file: the error does not show the secret" bash -c "! grep -q SECRETTOKEN '$BM_TMP/refused.err'"
refused "bad format" "'format' must be generic, slack, pagerduty or alertmanager" --url "$U" --format teams
refused "pagerduty needs a routing key" "needs a 'routing_key'" --url "$U" --format pagerduty
refused "bad timeout" "'timeout' must be a duration" --url "$U" --timeout soon
refused "bad queue" "'queue' must be 1-1000000" --url "$U" --queue 0
refused "header injection" "a value on one line" --url "$U" --set "header.X-A=a
b"
send header --url "http://127.0.0.1:$UP_PORT/hook/header" --name hdr \
    --set "header.Authorization=Bearer t0ken" --count 1 --deadline-ms 10000
bm_eq "header.NAME and name are taken" "0 hdr 1" "$SEND_RC $(counters header sink sent)"
bm_eq "the header arrives; no Expect: 100-continue" "Bearer t0ken null busmon" \
    "$(jq -r 'select(.path == "/hook/header") | "\(.headers.Authorization) \(.headers.Expect) \(.headers["User-Agent"])"' "$BM_TMP/up.jsonl")"

# stop the receivers (they free everything on SIGTERM) and look for sanitizer reports
for p in "${BM_PIDS[@]}"; do kill "$p" 2>/dev/null; done
for p in "${BM_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
bm_eq "no sanitizer reports (driver, receivers)" "" \
    "$(grep -l 'Sanitizer\|runtime error' "$BM_TMP"/*.err "$BM_TMP"/*.receiver.log 2>/dev/null)"
bm_finish
