#!/usr/bin/env bash
# Alert rules that compare something else than they say are refused, at
# start (exit 2) and by --check-config (exit 2), with the rule's line: a
# stat: on a metric other than metric:NAME (it was ignored: the rule
# compared the average), and a health threshold outside 0-2 (never or always
# met; the message always promised 0-2). The same rules written right start.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
DEAD_PORT=$(bm_free_port) # nothing listens there: a refused configuration never gets that far
unset BUSMON_REDIS_URL

# refused NAME REASON -- YAML on stdin: the agent and --check-config alike
refused() {
    local name=$1 reason=$2
    cat >"$BM_TMP/$name.yaml"
    timeout 20 "$AGENT" --config "$BM_TMP/$name.yaml" --redis "redis://127.0.0.1:$DEAD_PORT" \
        --drain >/dev/null 2>"$BM_TMP/$name.run"
    bm_eq "$name: the agent refuses it at start (exit 2)" 2 "$?"
    bm_check "... saying why, at the rule's line" grep -qF -- "$reason" "$BM_TMP/$name.run"
    "$AGENT" --config "$BM_TMP/$name.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/$name.err"
    bm_eq "$name: --check-config --offline refuses it too (exit 2)" 2 "$?"
    bm_check "... with the same reason" grep -qF -- "$reason" "$BM_TMP/$name.err"
}

refused stat "stat.yaml:4: rule 'slow': stat is for metric:NAME rules; avg_latency_ms is compared as it is" <<'YAML'
alerts:
  builtins: false
  rules:
    - name: slow
      metric: avg_latency_ms
      stat: p95
      threshold: 100
YAML
refused health "health.yaml:4: rule 'broken': threshold must be failed, degraded, ok or 0-2 for metric health" <<'YAML'
alerts:
  builtins: false
  rules:
    - name: broken
      metric: health
      op: ">="
      threshold: 3
YAML

cat >"$BM_TMP/good.yaml" <<'YAML'
alerts:
  rules:
    - {name: slow, metric: p95_latency_ms, threshold: 100}
    - {name: sick, metric: health, op: ">=", threshold: degraded}
    - {name: big, metric: "metric:order_value", stat: p95, threshold: 200}
YAML
out=$("$AGENT" --config "$BM_TMP/good.yaml" --check-config --offline 2>&1)
bm_eq "the same rules written right are accepted" 0 "$?"
bm_check "... as meant" grep -q '^  rule sick: health >= degraded, scope each_worker' <<<"$out"
bm_finish
