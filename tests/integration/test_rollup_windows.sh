#!/usr/bin/env bash
# The performance window is reported whatever its length, under a key of its
# own: with worker_monitoring.performance_window_minutes at 1 or 5 its
# label ("1m", "5m") is a fixed window's, and the rollup must still carry
# three windows, so that `--window 1h` (the performance window) of busmon
# workers, worker, errors, stats, top and metrics, and /api/*?window=1h, show
# its figures, not zeros or "no 1h window". 60 and 30 minutes check that the
# usual labels ("1h", "30m") stay as they were.
#   per length: a fresh Redis keyspace, an agent, 4 executions of worker a
#   (one failed, type Boom) and one metric event; every reader of the
#   performance window sees the 4 executions, the failure, the metric, and
#   a window_s of that length.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
for tool in jq curl; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 77; }; done
bm_start_redis
BUSMON="$BM_BUILD/busmon"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || echo "note: chromium not installed: the dashboard's checks are skipped"
chrome() { timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$BM_TMP/chrome" --virtual-time-budget=6000 "$@" \
    2>>"$BM_TMP/chromium.log"; }
answered() { # WORKER OK: a command and its result, 5 ms
    local tx="tx-$1-$RANDOM$RANDOM"
    bm_cli XADD busmon:events '*' type command tx "$tx" id "c-$tx" worker "$1" >/dev/null
    if [ "$2" = true ]; then
        bm_cli XADD busmon:events '*' type result tx "$tx" worker "$1" ok true duration_ms 5 \
            command_id "c-$tx" >/dev/null
    else
        bm_cli XADD busmon:events '*' type result tx "$tx" worker "$1" ok false duration_ms 5 \
            command_id "c-$tx" error_type Boom error_message "Boom: it broke" >/dev/null
    fi
}

# run_window MINUTES KEY: one agent with that performance window; KEY is the
# key its figures must be under in the rollup
run_window() {
    local minutes=$1 key=$2 secs=$(($1 * 60)) http
    echo "# performance window $minutes min"
    bm_cli FLUSHALL >/dev/null
    printf 'worker_monitoring:\n  performance_window_minutes: %s\n' "$minutes" >"$BM_TMP/perf.yaml"
    http=$(bm_free_port)
    "$BM_BUILD/busmon-agent" --config "$BM_TMP/perf.yaml" --block-ms 100 --rollup-interval 1s \
        --health-interval 1s --http "127.0.0.1:$http" >"$BM_TMP/agent-$minutes.log" 2>&1 &
    local pid=$!
    BM_PIDS+=($pid)
    answered a true
    answered a true
    answered a true
    answered a false
    bm_cli XADD busmon:events '*' type metric name logins value 2 kind counter >/dev/null
    bm_check "[$minutes] a rollup holds the 4 executions over 1m" bm_wait_for 20 \
        "[ \"\$('$BUSMON' workers --json --window 1m | jq '.workers[0].executions')\" = 4 ] &&
         [ \"\$('$BUSMON' metrics --json --window 1m | jq '.series | length')\" = 1 ]"

    local roll
    roll=$(bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | grep -a '^{')
    echo "$roll" >"$BM_TMP/rollup-$minutes.json"
    bm_eq "[$minutes] the rollup names the performance window's key" "$key" \
        "$(jq -r '.perf_window' <<<"$roll")"
    bm_eq "[$minutes] events: three windows" '["1m","5m","'"$key"'"]' \
        "$(jq -c '.events | keys_unsorted' <<<"$roll")"
    bm_eq "[$minutes] a worker: three windows" '["1m","5m","'"$key"'"]' \
        "$(jq -c '.workers[0].windows | keys_unsorted' <<<"$roll")"
    bm_eq "[$minutes] an error pattern: three counts" '["1m","5m","'"$key"'"]' \
        "$(jq -c '.errors[0].count | keys_unsorted' <<<"$roll")"
    bm_eq "[$minutes] a business metric: three windows" '["1m","5m","'"$key"'"]' \
        "$(jq -c '.metrics.items[0].windows | keys' <<<"$roll" | jq -c 'sort_by(. != "1m", . != "5m")')"
    bm_eq "[$minutes] the performance window is $secs s long" "$secs" \
        "$(jq --arg k "$key" '.events[$k].window_s' <<<"$roll" | cut -d. -f1)"

    local j
    j=$("$BUSMON" workers --json --window 1h)
    bm_eq "[$minutes] workers --window 1h --json: 4 executions" 4 "$(jq '.workers[0].executions' <<<"$j")"
    bm_eq "[$minutes] workers --window 1h --json: 1 failure" 1 "$(jq '.workers[0].failures' <<<"$j")"
    bm_eq "[$minutes] workers --window 1h --json: its length" "$secs" \
        "$(jq '.workers[0].window_s' <<<"$j" | cut -d. -f1)"
    bm_check "[$minutes] workers --window 1h (table): a 4 executions, 75 % success" \
        grep -Eq '^a +[a-z]+ +4 +75\.0 %' <<<"$("$BUSMON" workers --window 1h)"
    j=$("$BUSMON" worker a --json --window 1h)
    bm_eq "[$minutes] worker a --window 1h --json: 4 executions" 4 "$(jq '.stats.executions' <<<"$j")"
    bm_eq "[$minutes] worker a (table): three windows" 3 \
        "$("$BUSMON" worker a | grep -cE '^[0-9a-z]+ +4 +3 +1 ')"
    j=$("$BUSMON" stats --json --window 1h)
    bm_eq "[$minutes] stats --window 1h: exit 0" 0 "$?"
    bm_eq "[$minutes] stats --window 1h --json: 4 results" 4 "$(jq '.by_type.result.count' <<<"$j")"
    bm_check "[$minutes] stats --window 1h (table): 4 results" \
        grep -Eq '^ +result +4 ' <<<"$("$BUSMON" stats --window 1h 2>&1)"
    j=$("$BUSMON" errors --json --window 1h)
    bm_eq "[$minutes] errors --window 1h --json: Boom counted once" 1 \
        "$(jq '.errors[] | select(.type == "Boom") | .count' <<<"$j")"
    bm_check "[$minutes] errors --window 1h (table): Boom 1" \
        grep -Eq '^Boom +1 +1 ' <<<"$("$BUSMON" errors --window 1h)"
    local top
    top=$("$BUSMON" top --once --window 1h --redis "$BM_URL")
    bm_check "[$minutes] top --window 1h: a 4 executions" grep -Eq '^a +[a-z]+ +4 +75\.0%' <<<"$top"
    bm_check "[$minutes] top --window 1h: Boom 1" grep -Eq '^ +Boom +1$' <<<"$top"
    bm_eq "[$minutes] metrics --window 1h --json: logins counted" 1 \
        "$("$BUSMON" metrics --json --window 1h logins | jq '.series[0].count')"

    bm_eq "[$minutes] errors --window 1h --json: the window's length" "$secs" \
        "$("$BUSMON" errors --json --window 1h | jq '.window_s' | cut -d. -f1)"
    local api="http://127.0.0.1:$http/api"
    bm_eq "[$minutes] /api/errors?window=1h: the window's length" "$secs" \
        "$(curl -s "$api/errors?window=1h" | jq '.window_s' | cut -d. -f1)"
    if [ -n "$CHROMIUM" ]; then # the dashboard's error patterns say over how long
        local range="last $minutes min"
        [ "$minutes" = 60 ] && range="last hour"
        chrome --dump-dom "http://127.0.0.1:$http/" >"$BM_TMP/dash-$minutes.html"
        bm_check "[$minutes] the dashboard: \"Error patterns ($range)\"" \
            grep -qF "Error patterns ($range)" <<<"$(sed 's/<[^>]*>//g' "$BM_TMP/dash-$minutes.html")"
        bm_check "[$minutes] the dashboard lists Boom" grep -q 'data-error-type="Boom"' "$BM_TMP/dash-$minutes.html"
    fi
    bm_eq "[$minutes] /api/workers?window=1h: 4 executions" 4 \
        "$(curl -s "$api/workers?window=1h" | jq '.workers[0].executions')"
    bm_eq "[$minutes] /api/stats?window=1h: 4 results" 4 \
        "$(curl -s "$api/stats?window=1h" | jq '.by_type.result.count')"
    bm_eq "[$minutes] /api/errors?window=1h: Boom 1" 1 \
        "$(curl -s "$api/errors?window=1h" | jq '.errors[] | select(.type == "Boom") | .count')"
    local m
    m=$(curl -s "$api/metrics?window=1h&name=logins")
    bm_eq "[$minutes] /api/metrics?window=1h: the window as asked" 1h "$(jq -r '.window' <<<"$m")"
    bm_eq "[$minutes] /api/metrics?window=1h: its length" "$secs" "$(jq '.window_s' <<<"$m" | cut -d. -f1)"
    bm_eq "[$minutes] /api/metrics?window=1h: logins counted" 1 "$(jq '.series[0].count' <<<"$m")"
    bm_eq "[$minutes] /api/worker/a?window=1h: 4 executions" 4 \
        "$(curl -s "$api/workers/a?window=1h" | jq '.stats.executions')"

    # a headline says what "1h" is when the performance window is not an hour
    local title="1h"
    [ "$minutes" = 60 ] || title="1h (performance window: ${key/perf/${minutes}m})"
    bm_check "[$minutes] stats --window 1h says \"events over $title\"" \
        grep -qF "events over $title (rollup" <<<"$("$BUSMON" stats --window 1h)"
    bm_check "[$minutes] workers --window 1h says \"workers over $title\"" \
        grep -qF "workers over $title (rollup" <<<"$("$BUSMON" workers --window 1h)"
    bm_check "[$minutes] errors --window 1h says \"error patterns over $title\"" \
        grep -qF "error patterns over $title (rollup" <<<"$("$BUSMON" errors --window 1h)"
    bm_check "[$minutes] metrics --window 1h says \"business metrics over $title\"" \
        grep -qF "business metrics over $title (rollup" <<<"$("$BUSMON" metrics --window 1h)"
    bm_check "[$minutes] top --window 1h says \"window $title\"" grep -qF "window $title" <<<"$top"
    bm_check "[$minutes] stats --window 5m says \"events over 5m\"" \
        grep -qF "events over 5m (rollup" <<<"$("$BUSMON" stats --window 5m)"

    kill "$pid"
    bm_check "[$minutes] the agent stops" bm_wait_for 15 "! kill -0 $pid"
}

# a window refused says where it came from: $BUSMON_WINDOW (busmon system
# takes 24h, so a user may have set it for that) or --window
for cmd in workers "worker a" errors stats top metrics; do
    # shellcheck disable=SC2086 # cmd is the command and its words
    BUSMON_WINDOW=24h "$BUSMON" $cmd >/dev/null 2>"$BM_TMP/env.err"
    bm_eq "BUSMON_WINDOW=24h busmon $cmd: exit 2" 2 "$?"
    bm_check "BUSMON_WINDOW=24h busmon $cmd: the error names \$BUSMON_WINDOW" \
        grep -qF "not '24h' (from \$BUSMON_WINDOW)" "$BM_TMP/env.err"
    BUSMON_WINDOW=24h "$BUSMON" $cmd --window 2h >/dev/null 2>"$BM_TMP/flag.err"
    bm_check "busmon $cmd --window 2h: the error names the flag's value alone" \
        bash -c 'grep -qF "not '"'2h'"'" "$1" && ! grep -q BUSMON_WINDOW "$1"' _ "$BM_TMP/flag.err"
done

run_window 1 perf
run_window 5 perf
run_window 60 1h
run_window 30 30m
bm_finish
