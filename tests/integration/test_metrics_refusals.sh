#!/usr/bin/env bash
# Business metrics refused and kept, end to end against a real Redis: a
# metric event whose kind is not its series' is logged with that reason
# (not as metrics.max_series, which it is not); the tags of refused events
# are not counted as dropped; a tag whose key looks secret reaches neither
# /metrics nor /api/metrics nor `busmon metrics` (its value is [REDACTED],
# one series for every secret).
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
LOG="$BM_TMP/busmon-agent.log"
metric() { bm_metric "$HPORT" "$1"; }

cat >"$BM_TMP/agent.yaml" <<YAML
metrics:
  max_series: 3
  tag_deny: user_id
YAML
bm_bg "$AGENT" --config "$BM_TMP/agent.yaml" --http "127.0.0.1:$HPORT" --block-ms 100 \
    --rollup-interval 1 --checkpoint-interval 1s
bm_check "HTTP up" bm_wait_for 10 "curl -sf $BASE/health"
add() { redis-cli -p "$BM_PORT" XADD busmon:events '*' type metric "$@" >/dev/null; }

# ---- a kind conflict: its own reason ---------------------------------------------------------
add name logins value 1 kind counter
add name logins value 5 kind gauge tag.user_id u1
bm_check "the kind conflict is counted" bm_wait_for 10 "[ \"\$(metric busmon_metric_kind_conflicts_total)\" = 1 ]"
bm_check "the refusal is logged with its reason" bm_wait_for 5 \
    "grep -q \"business metrics: 'logins' refused: its series (name and tags) is of another kind\" '$LOG'"
bm_eq "a refused event's tags are not dropped" 0 "$(metric busmon_metric_tags_dropped_total)"

# ---- secrets in tags: one series, never shown ------------------------------------------------
for s in sk-live-AAA sk-live-BBB sk-live-CCC; do
    add name api_calls value 1 kind counter tag.api_key "$s" tag.user_id u2
done
bm_check "three secrets of a key: one series" bm_wait_for 10 \
    "[ \"\$(curl -sf '$BASE/api/metrics?name=api_calls' | jq '.series[0].count')\" = 3 ]"
bm_eq "one series, not one per secret" 1 "$(curl -sf "$BASE/api/metrics?name=api_calls" | jq '.series | length')"
bm_eq "its api_key is [REDACTED]" '"[REDACTED]"' "$(curl -sf "$BASE/api/metrics?name=api_calls" | jq '.series[0].tags.api_key')"
bm_eq "the kept events' denied user_id is dropped" 3 "$(metric busmon_metric_tags_dropped_total)"
bm_check "/metrics labels it [REDACTED]" bash -c "curl -sf '$BASE/metrics' | grep -q 'busmon_custom_api_calls_total{api_key=\"\\[REDACTED\\]\"} 3'"
bm_check "busmon metrics shows it in the rollup" bm_wait_for 10 \
    "BUSMON_REDIS_URL=redis://127.0.0.1:$BM_PORT '$BUSMON' metrics api_calls --json | jq -e '.series[0].tags.api_key == \"[REDACTED]\"'"
for where in "$BASE/metrics" "$BASE/api/metrics"; do
    bm_check "no secret on $where" bash -c "! curl -sf '$where' | grep -q 'sk-live'"
done
bm_check "no secret in busmon metrics" bash -c \
    "! BUSMON_REDIS_URL=redis://127.0.0.1:$BM_PORT '$BUSMON' metrics --json | grep -q sk-live"
bm_check "no secret in the checkpoint" bm_wait_for 5 \
    "redis-cli -p $BM_PORT --scan --pattern 'busmon:state:*' | grep -q . && ! redis-cli -p $BM_PORT --scan --pattern 'busmon:state:*' | xargs -n1 redis-cli -p $BM_PORT --raw GET | grep -aq sk-live"

# ---- the table full: refused, its tags not dropped ----------------------------------------
add name refunds value 1
add name chargebacks value 1 tag.user_id u3
bm_check "the fourth series is refused (max_series 3)" bm_wait_for 10 \
    "[ \"\$(metric busmon_metric_series_refused_total)\" = 1 ]"
bm_eq "its denied user_id is not counted dropped" 3 "$(metric busmon_metric_tags_dropped_total)"
bm_finish
