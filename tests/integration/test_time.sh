#!/usr/bin/env bash
# Time sanity against a real Redis: event times further than
# limits.max_clock_skew (24 h) from the agent's clock - 1970-01-01T00:00:01,
# 9999-12-31T23:59:59, a day and a half off - take their entry id's time
# (pub/sub: the receive time; an entry id as far off: the clock), in the three
# encodings, and are counted in busmon_clock_skew_events_total; a time within
# the skew is kept as it is; no trace starts in the year 9999.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
unset BUSMON_HTTP
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"

bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --psubscribe 'multiagent:*' --block-ms 100
A=$BM_LAST_PID
bm_check "the agent is up and subscribed" bm_wait_for 10 \
    "[ \$(bm_cli_raw PUBSUB NUMPAT) -ge 1 ] && curl -sf $BASE/health"
now_s=$(date +%s)
hour_ago=$(date -u -d "@$((now_s - 3600))" +%Y-%m-%dT%H:%M:%S)
day_and_half=$((now_s + 36 * 3600))
bm_cli XADD busmon:events '*' type command tx t-1970 worker w ts 1970-01-01T00:00:01 >/dev/null
bm_cli XADD busmon:events '*' type command tx t-9999 worker w ts 9999-12-31T23:59:59 >/dev/null
bm_cli XADD busmon:events '*' type command tx t-ok worker w ts "$hour_ago" >/dev/null
bm_cli XADD busmon:events '*' json \
    "{\"type\":\"command\",\"tx\":\"t-json\",\"worker\":\"w\",\"timestamp\":$day_and_half}" >/dev/null
echo '{"type":"command","tx":"t-mp","worker":"w","ts":"9999-12-31T23:59:59Z"}' |
    "$BM_BUILD/bm-json2msgpack" | redis-cli -p "$BM_PORT" -x XADD busmon:events '*' m >/dev/null
bm_cli PUBLISH multiagent:command.w \
    '{"type": "command", "id": "p-1", "metadata": {"transaction_id": "t-ps", "timestamp": "1970-01-01T00:00:01"}}' >/dev/null
# last: an entry whose id is as far off as its time (ids after it would follow it)
future_ms=$(((now_s + 48 * 3600) * 1000))
bm_cli XADD busmon:events "$future_ms-0" type command tx t-future worker w ts "$((now_s + 48 * 3600))" >/dev/null

traced() { "$BUSMON" trace --json "$1" 2>/dev/null | jq -r '.events[0].ts_us'; }
bm_check "every event is traced" bm_wait_for 15 \
    "( for t in t-1970 t-9999 t-ok t-json t-mp t-ps t-future; do [ -n \"\$(traced \$t)\" ] && [ \"\$(traced \$t)\" != null ] || exit 1; done )"
within() { # within TS_US SECONDS_FROM_NOW: |ts - now| <= limit
    local ts=$1 lim=$2 n=$(($(date +%s) * 1000000))
    local d=$(((ts - n) / 1000000))
    [ "${d#-}" -le "$lim" ]
}
for t in t-1970 t-9999 t-json t-mp t-ps t-future; do
    ts=$(traced $t)
    bm_check "$t: its time is the clock's (within 2 min)" within "$ts" 120
done
ok_ts=$(traced t-ok)
bm_eq "t-ok: a time an hour ago is kept as it is" "$(date -u -d "$hour_ago" +%s)" "$((ok_ts / 1000000))"
bm_check "t-1970 took its entry id's time" bash -c "[ \$(( $(traced t-1970) / 1000 )) -eq \$(redis-cli -p $BM_PORT --raw XRANGE busmon:events - + COUNT 1 | head -1 | cut -d- -f1) ]"
bm_check "no trace starts in the year 9999" bash -c "! '$BUSMON' trace t-9999 | grep -q 9999-"
bm_eq "busmon_clock_skew_events_total" 6 \
    "$(curl -s $BASE/metrics | awk '$1 == "busmon_clock_skew_events_total" { print $2 }')"
bm_check "the agent is alive" kill -0 "$A"
bm_finish
