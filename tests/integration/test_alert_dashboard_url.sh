#!/usr/bin/env bash
# A webhook sink's `dashboard_url` (proto/README.md §9.3): the link back to
# busmon in each alert body, Slack's title_link, PagerDuty's client_url,
# Alertmanager's generatorURL; a sink without it has none. One rule,
# `always` (memory_percent >= 0), fires at the first evaluation.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
bm_start_receiver hook
HOOK="http://127.0.0.1:$BM_RX_PORT"
DASH=http://busmon.example.org:9464/
cat >"$BM_TMP/busmon.yaml" <<YAML
alerts:
  builtins: false
  rules:
    - {name: always, metric: memory_percent, op: ">=", threshold: 0, for: 0s}
  webhooks:
    - {name: chat, format: slack, url: "$HOOK/slack", dashboard_url: "$DASH"}
    - {name: pd, format: pagerduty, routing_key: R0UTING, url: "$HOOK/pd", dashboard_url: "$DASH"}
    - {name: am, format: alertmanager, url: "$HOOK/am", dashboard_url: "$DASH"}
    - {name: plain, format: slack, url: "$HOOK/plain"}
YAML
bm_eq "--check-config takes dashboard_url on a webhook" 0 \
    "$("$AGENT" --config "$BM_TMP/busmon.yaml" --check-config >"$BM_TMP/check.log" 2>&1; echo $?)"
bm_bg "$AGENT" --config "$BM_TMP/busmon.yaml" --consumer a1 --block-ms 100 --alert-interval 300ms
# body PATH JQ: the first body POSTed to PATH, through JQ
body() { jq -r --arg p "$1" 'select(.path | startswith($p)) | .body' "$BM_TMP/hook.jsonl" | head -1 | jq -r "$2"; }
bm_check "every sink got the alert" bm_wait_for 15 \
    '[ -n "$(body /slack .text)" ] && [ -n "$(body /pd .dedup_key)" ] && [ -n "$(body /am ".[0].labels.alertname")" ] && [ -n "$(body /plain .text)" ]'
bm_eq "Slack: title_link" "$DASH" "$(body /slack '.attachments[0].title_link')"
bm_eq "PagerDuty: client_url" "$DASH" "$(body /pd .client_url)"
bm_eq "Alertmanager: generatorURL" "$DASH" "$(body /am '.[0].generatorURL')"
bm_eq "a sink without it: no title_link" null "$(body /plain '.attachments[0].title_link')"
bm_finish
