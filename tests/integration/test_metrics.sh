#!/usr/bin/env bash
# Business metrics (metric events) end to end against a real Redis: a
# ground-truth workload (metric_workload.py: several names, tags, kinds,
# bad events) through flat fields and JSON, then msgpack and pub/sub; exact counts / sums / min / max
# and p95 within 1 % per tag set on /api/metrics and `busmon metrics`; tag
# filtering; the user_id tag denied (no series per user); the
# metrics.max_series bound with its counters; the bad events dead-lettered
# with their reasons; /metrics with busmon_custom_* through
# `promtool check metrics`; alert rules on metric:NAME (each_tag, global);
# the dashboard's panel in headless Chromium; the figures survive a restart
# (checkpoint).
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
unset BUSMON_HTTP
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
metric() { curl -s -m 5 "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
acked() { [ "$(bm_cli_raw XINFO GROUPS busmon:events | awk 'p { print; exit } $0 == "lag" { p = 1 }')" = 0 ] &&
    [ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]; }

cat >"$BM_TMP/agent.yaml" <<YAML
metrics:
  max_series: 12
  tag_deny: user_id
alerts:
  rules:
    - name: big_orders          # fires for premium only (p95 ~475 vs ~76)
      metric: metric:order_value
      stat: p95
      each_tag: customer_tier
      op: '>'
      threshold: 200
      window: 5m
      severity: warning
    - name: many_logins         # global over every series of logins
      metric: metric:logins
      stat: sum
      op: '>='
      threshold: 100
      window: 5m
YAML
start_agent() {
    bm_bg "$AGENT" --config "$BM_TMP/agent.yaml" --http "127.0.0.1:$HPORT" --block-ms 100 \
        --rollup-interval 1 --checkpoint-interval 1s --alert-interval 500ms --psubscribe 'metrics:*'
    A=$BM_LAST_PID
    bm_check "HTTP up" bm_wait_for 10 "curl -sf $BASE/health"
}
start_agent
python3 "$BM_SRC/tests/integration/metric_workload.py" "$BM_TMP/truth.json" >"$BM_TMP/cmds.txt"
redis-cli -p "$BM_PORT" <"$BM_TMP/cmds.txt" >/dev/null
bm_check "the workload is read and acked" bm_wait_for 30 acked
T="$BM_TMP/truth.json"
api() { curl -sf -m 5 "$BASE/api/metrics?$1"; }

check_figures() { # $1: where from (a label)
    for tier in premium basic; do
        api "name=order_value&tag=customer_tier=$tier&window=5m" >"$BM_TMP/t.json"
        bm_eq "$1: order_value/$tier is one series" 1 "$(jq '.series | length' "$BM_TMP/t.json")"
        for f in count min max; do
            bm_eq "$1: order_value/$tier $f exact" "$(jq ".order_value.$tier.$f" "$T")" \
                "$(jq ".series[0].$f" "$BM_TMP/t.json")"
        done
        bm_check "$1: order_value/$tier sum exact" python3 -c "
import json,sys; t=json.load(open('$T'))['order_value']['$tier']; g=json.load(open('$BM_TMP/t.json'))['series'][0]
sys.exit(abs(t['sum']-g['sum']) > 1e-6)"
        bm_check "$1: order_value/$tier p95 within 1 %" python3 -c "
import json,sys; t=json.load(open('$T'))['order_value']['$tier']; g=json.load(open('$BM_TMP/t.json'))['series'][0]
sys.exit(abs(t['p95']-g['p95']) > 0.01*t['p95'])"
        bm_eq "$1: only the customer_tier tag (user_id denied)" '["customer_tier"]' \
            "$(jq -c '.series[0].tags | keys' "$BM_TMP/t.json")"
    done
}
check_figures "api"
bm_eq "logins: a counter, sum 100" 100 "$(api 'name=logins' | jq '.series[0].sum')"
bm_eq "queue_depth: a gauge, last is the newest" 61 "$(api 'name=queue_depth&tag=queue=mail' | jq '.series[0].last')"
bm_eq "queue_depth max" 100 "$(api 'name=queue_depth' | jq '.series[0].max')"
bm_eq "a tag filter that matches nothing: no series" 0 "$(api 'name=order_value&tag=customer_tier=gold' | jq '.series | length')"

# ---- the series bound ------------------------------------------------------------------
bm_eq "12 series at most (metrics.max_series)" 12 "$(metric busmon_metric_series)"
bm_eq "spend: 8 of its 30 sku series got in" 8 "$(api 'name=spend' | jq '.series | length')"
bm_eq "22 events refused by the bound, counted" 22 "$(metric busmon_metric_series_refused_total)"
bm_eq "the same in the events' counter" 22 "$(metric busmon_metric_events_refused_total)"
bm_eq "user_id dropped on each of the 600 order_value events" 600 "$(metric busmon_metric_tags_dropped_total)"
bm_check "the refusal is logged, naming the metric" grep -q "business metrics: 'spend' refused" "$BM_TMP/busmon-agent.log"

# ---- bad events: dead-lettered with their reasons -----------------------------------------
dl() { bm_cli_raw XRANGE busmon:deadletter - + | tr '\n' ' '; }
bm_eq "4 bad metric events dead-lettered" 4 "$(bm_cli_raw XLEN busmon:deadletter)"
for why in "needs a name" "value is not a number" "NaN or infinite" "kind must be counter, gauge or histogram"; do
    bm_check "dead-letter reason: $why" bash -c "redis-cli -p $BM_PORT --raw XRANGE busmon:deadletter - + | grep -q '$why'"
done
bm_eq "their reason is bad_field" 4 "$(redis-cli -p "$BM_PORT" --raw XRANGE busmon:deadletter - + | grep -cx bad_field)"

# ---- the CLI, from the rollup ---------------------------------------------------------------
bm_check "a rollup carries the metrics" bm_wait_for 10 \
    "[ \"\$('$BUSMON' --redis redis://127.0.0.1:$BM_PORT metrics order_value --tag customer_tier=premium --json 2>/dev/null | jq '.series | length')\" = 1 ]"
"$BUSMON" --redis "redis://127.0.0.1:$BM_PORT" metrics order_value --tag customer_tier=premium --json >"$BM_TMP/cli.json"
bm_eq "busmon metrics: premium count" "$(jq .order_value.premium.count "$T")" "$(jq '.series[0].count' "$BM_TMP/cli.json")"
bm_eq "busmon metrics: premium max" "$(jq .order_value.premium.max "$T")" "$(jq '.series[0].max' "$BM_TMP/cli.json")"
"$BUSMON" --redis "redis://127.0.0.1:$BM_PORT" metrics --window 1h >"$BM_TMP/cli.txt"
bm_check "busmon metrics: a table with every name" bash -c "grep -q '^order_value ' '$BM_TMP/cli.txt' && grep -q '^logins ' '$BM_TMP/cli.txt' && grep -q '^queue_depth ' '$BM_TMP/cli.txt'"
"$BUSMON" --redis "redis://127.0.0.1:$BM_PORT" metrics nosuch >/dev/null 2>&1
bm_eq "busmon metrics NAME that has no series: exit 1" 1 "$?"
# a rollup that lacks a value (no ts, a series without kind or tags): null
# in the JSON, every series kept; before, --json printed nothing, exit 0
redis-cli -p "$BM_PORT" XADD bare:rollups '*' json \
    '{"agent":"t","metrics":{"items":[{"name":"bare","windows":{"5m":{"count":3}}}]}}' >/dev/null
"$BUSMON" --redis "redis://127.0.0.1:$BM_PORT" metrics --rollups bare:rollups --json >"$BM_TMP/bare.json"
bm_eq "busmon metrics --json of a rollup without ts: exit 0" 0 "$?"
bm_eq "... ts and the missing values null, the series kept" "null bare null null 3" \
    "$(jq -r '"\(.ts) \(.series[0].name) \(.series[0].kind) \(.series[0].tags) \(.series[0].count)"' "$BM_TMP/bare.json")"
"$BUSMON" --redis "redis://127.0.0.1:$BM_PORT" metrics --tag nonsense >/dev/null 2>&1
bm_eq "busmon metrics --tag without '=': exit 2" 2 "$?"

# ---- alert rules on metric:NAME ----------------------------------------------------------------
records() { bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"'; }
bm_check "big_orders fires on busmon:alerts" bm_wait_for 10 \
    "records | jq -s -e 'map(select(.rule == \"big_orders\" and .state == \"firing\")) | length > 0'"
bm_eq "big_orders fires per tag value: premium only" premium \
    "$(records | jq -s -r '[.[] | select(.rule == "big_orders") | .labels.customer_tier] | unique | join(",")')"
bm_check "many_logins (global) fires" bm_wait_for 10 \
    "records | jq -s -e 'map(select(.rule == \"many_logins\")) | length > 0'"
bm_check "its metric reads metric:logins sum" bash -c \
    "redis-cli -p $BM_PORT --raw XRANGE busmon:alerts - + | grep -a '^{\"rule\"' | grep -q 'metric:logins sum'"

# ---- /metrics --------------------------------------------------------------------------------
curl -sf -m 5 "$BASE/metrics" >"$BM_TMP/metrics.txt"
bm_eq "busmon_custom_order_value_count{customer_tier=premium}" "$(jq .order_value.premium.count "$T")" \
    "$(awk '$1 == "busmon_custom_order_value_count{customer_tier=\"premium\"}" { print $2 }' "$BM_TMP/metrics.txt")"
bm_eq "busmon_custom_logins_total" 100 "$(awk '$1 == "busmon_custom_logins_total" { print $2 }' "$BM_TMP/metrics.txt")"
bm_eq "busmon_custom_queue_depth{queue=mail}" 61 "$(awk '$1 == "busmon_custom_queue_depth{queue=\"mail\"}" { print $2 }' "$BM_TMP/metrics.txt")"
bm_check "a summary with quantiles" grep -q '^busmon_custom_order_value{customer_tier="basic",quantile="0.95"} ' "$BM_TMP/metrics.txt"
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts /metrics" bash -c "promtool check metrics <'$BM_TMP/metrics.txt'"
else
    echo "note: promtool not installed (Debian package prometheus): check skipped"
fi

# ---- msgpack (field m) and pub/sub: the same series ----------------------------------------------
for i in 1 2 3 4 5; do
    echo '{"type":"metric","name":"logins","value":2,"kind":"counter"}' |
        "$BM_BUILD/bm-json2msgpack" | redis-cli -p "$BM_PORT" -x XADD busmon:events '*' m >/dev/null
    bm_cli PUBLISH metrics:app '{"type":"metric","name":"logins","value":2,"kind":"counter"}' >/dev/null
done
bm_check "5 msgpack and 5 pub/sub increments of 2: logins sum 120" bm_wait_for 10 \
    "[ \"\$(curl -sf '$BASE/api/metrics?name=logins' | jq '.series[0].sum')\" = 120 ]"
bm_cli PUBLISH metrics:app '{"type":"metric","name":"logins","value":"NaN"}' >/dev/null
bm_check "a bad metric on pub/sub is dead-lettered too" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw XLEN busmon:deadletter)\" = 5 ]"
# a sum past the largest double (logins: max_series is full) stays at it: an infinite
# sum made the checkpoint unreadable, and the next start lost every figure
for i in 1 2; do bm_cli XADD busmon:events '*' type metric name logins value 1e308 kind counter >/dev/null; done
bm_check "an overflowing sum stays at the largest double on /metrics" bm_wait_for 10 \
    "curl -sf '$BASE/metrics' | grep -qx 'busmon_custom_logins_total 1.7976931348623157e+308'"
bm_eq "... and in /api/metrics" "1.7976931348623157e+308" \
    "$(curl -sf "$BASE/api/metrics?name=logins" | jq -r '.series[0].sum')"

# ---- the dashboard's panel, in headless Chromium ---------------------------------------------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$BM_TMP/chrome" --window-size=1280,2400 \
        --virtual-time-budget=6000 --dump-dom "$BASE/" >"$BM_TMP/dom.html" 2>"$BM_TMP/chromium.log"
    row=$(grep -o '<tr data-metric="order_value">.*' "$BM_TMP/dom.html" | sed 's#</tr>.*##')
    bm_check "the dashboard lists the business metrics" grep -q 'data-metric="logins"' "$BM_TMP/dom.html"
    bm_check "an order_value row with its tier tag and kind" bash -c \
        "grep -o '<tr data-metric=\"order_value\">[^\n]*' '$BM_TMP/dom.html' | grep -q 'customer_tier=basic'"
    [ -n "$row" ] && grep -q '<td>histogram</td>' <<<"$row"
    bm_eq "the order_value row says histogram" 0 "$?"
else
    echo "note: chromium not installed: the dashboard panel check skipped"
fi

# ---- a restart: the figures come back from the checkpoint ---------------------------------------
sleep 1.5 # a checkpoint after the last event
kill -TERM "$A"
wait "$A" 2>/dev/null
start_agent
check_figures "after a restart"

bm_finish
