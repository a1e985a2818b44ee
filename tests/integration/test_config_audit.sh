#!/usr/bin/env bash
# What --check-config accepts, the agent starts with: a configuration the
# agent refuses at start (exit 2) is refused by --check-config (with and
# without --offline) with the same reason -- the otlp: section (endpoint,
# encoding, headers, header files) and an output's name taken by a built-in
# one were not looked at before start. A good otlp: section still passes, its
# header values unprinted; a missing or empty http.token_file is a bad
# configuration too (exit 2), not a failed start (exit 1). --print-acl's
# read-only line lets the CLI read every key it reads, whatever the names
# (the checkpoints were left out), and both lines are printed whole however
# long (they were cut at 4095 bytes). A business metric rule is printed with
# its metric and stat; the logged warning of HTTP beyond loopback keeps its
# words (the log's redaction took '/metrics' for a token).
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
DEAD_PORT=$(bm_free_port) # nothing listens there
unset BUSMON_REDIS_URL
EP=http://127.0.0.1:$DEAD_PORT

# refused NAME REASON [ENV=VALUE...] -- YAML on stdin: the agent and --check-config alike
refused() {
    local name=$1 reason=$2
    shift 2
    cat >"$BM_TMP/$name.yaml"
    env "$@" timeout 20 "$AGENT" --config "$BM_TMP/$name.yaml" --redis "redis://127.0.0.1:$DEAD_PORT" \
        --drain >/dev/null 2>"$BM_TMP/$name.run"
    bm_eq "$name: the agent refuses it at start (exit 2)" 2 "$?"
    bm_check "... saying why" grep -qF -- "$reason" "$BM_TMP/$name.run"
    env "$@" "$AGENT" --config "$BM_TMP/$name.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/$name.err"
    bm_eq "$name: --check-config --offline refuses it too (exit 2)" 2 "$?"
    bm_check "... with the same reason" grep -qF -- "$reason" "$BM_TMP/$name.err"
}

refused endpoint "'endpoint' must start with http:// or https://" <<'YAML'
otlp:
  endpoint: ftp://collector:4318
YAML
refused encoding "'encoding: protobuf' is not built into this busmon" BUSMON_OTLP_ENDPOINT=$EP <<'YAML'
otlp:
  encoding: protobuf
YAML
refused header "'header.Bad Name': a header needs a name" BUSMON_OTLP_ENDPOINT=$EP <<'YAML'
otlp:
  headers:
    "Bad Name": x
YAML
refused header_twice "'header.authorization': header *** is given twice" BUSMON_OTLP_ENDPOINT=$EP <<'YAML'
otlp:
  headers:
    Authorization: Bearer a
    authorization: Bearer b
YAML
refused webhook_header_twice "header X-Team is given twice" <<'YAML'
outputs:
  sinks:
    - name: hook
      type: webhook
      url: http://127.0.0.1:9/hook
      header.X-Team: a
      header.x-team: b
YAML
refused header_file "'header.Authorization' from $BM_TMP/missing" BUSMON_OTLP_ENDPOINT=$EP <<YAML
otlp:
  header_files:
    Authorization: $BM_TMP/missing
YAML
refused output_name "sink 'health': the name is taken by another output" <<'YAML'
outputs:
  sinks:
    - name: health
      type: redis_stream
      stream: other:health
      topics: health
YAML
refused webhook_name "sink 'otlp': the name is taken by another output" BUSMON_OTLP_ENDPOINT=$EP <<YAML
alerts:
  webhooks:
    - name: otlp
      url: $EP/hook
YAML

# http.token_file: read by the HTTP server at start; missing or empty, it was exit 1 (a
# service manager restarts that for ever) and --check-config passed it
: >"$BM_TMP/empty-token"
for tf in "$BM_TMP/no-token" "$BM_TMP/empty-token"; do
    name=$(basename "$tf")
    env BUSMON_HTTP_TOKEN_FILE="$tf" timeout 20 "$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT" \
        --http "127.0.0.1:$(bm_free_port)" --drain >/dev/null 2>"$BM_TMP/$name.run"
    bm_eq "$name: the agent stops at start as on a bad configuration (exit 2)" 2 "$?"
    bm_check "... saying why" grep -qF "the HTTP bearer token (http.token_file)" "$BM_TMP/$name.run"
    env BUSMON_HTTP_TOKEN_FILE="$tf" "$AGENT" --http 127.0.0.1:9 --check-config --offline \
        >/dev/null 2>"$BM_TMP/$name.err"
    bm_eq "$name: --check-config --offline refuses it (exit 2)" 2 "$?"
    bm_check "... with the same reason" grep -qF "the HTTP bearer token (http.token_file)" "$BM_TMP/$name.err"
done
BUSMON_HTTP_TOKEN_FILE="$BM_TMP/no-token" "$AGENT" --no-http --check-config --offline >/dev/null 2>&1
bm_eq "... but not when HTTP is off" 0 "$?"

# --- the effective rules as --check-config prints them ------------------------------------------
cat >"$BM_TMP/biz.yaml" <<'YAML'
alerts:
  rules:
    - name: big_orders
      metric: metric:order_value
      stat: p95
      each_tag: customer_tier
      op: ">"
      threshold: 200
YAML
out=$("$AGENT" --config "$BM_TMP/biz.yaml" --check-config --offline 2>&1)
bm_check "a business metric rule is printed with its name and stat (it read 'metric over 5m')" \
    grep -q '^  rule big_orders: metric:order_value p95 over 5m > 200, scope each_tag:customer_tier,' <<<"$out"

# --- the start-up warning of HTTP beyond loopback without a token, as logged -----------------
# (192.0.2.1, a documentation address, is not this host's: the bind fails, nothing is sent)
timeout 20 "$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT" --http 192.0.2.1:9 >/dev/null \
    2>"$BM_TMP/exposed.log"
bm_check "the warning names what is open (the log's redaction took '/metrics' for a token)" \
    grep -q 'HTTP listens on 192.0.2.1:9, beyond this host, without a token.*/metrics and /api are open' \
    "$BM_TMP/exposed.log"
bm_eq "... and hides nothing of it" 0 "$(grep -c '\*\*\*' "$BM_TMP/exposed.log")"

# --- with Redis: refused before Redis is asked -------------------------------------------------
"$AGENT" --config "$BM_TMP/endpoint.yaml" --redis "redis://127.0.0.1:$DEAD_PORT" --check-config \
    >/dev/null 2>"$BM_TMP/online.err"
bm_eq "--check-config (Redis down): the configuration first, exit 2" 2 "$?"
bm_check "... with its reason" grep -qF "'endpoint' must start with http://" "$BM_TMP/online.err"

# --- a good otlp: section still passes -------------------------------------------------------
echo "Bearer s3cret-token" >"$BM_TMP/auth"
cat >"$BM_TMP/good.yaml" <<YAML
otlp:
  endpoint: $EP
  headers:
    X-Tenant: s3cret-tenant
  header_files:
    Authorization: $BM_TMP/auth
outputs:
  sinks:
    - name: my_health
      type: redis_stream
      stream: other:health
      topics: health
YAML
out=$(BUSMON_HTTP_TOKEN_FILE="$BM_TMP/auth" "$AGENT" --config "$BM_TMP/good.yaml" --check-config \
    --offline 2>"$BM_TMP/good.err"); rc=$?
bm_eq "a good otlp: section, output and token file: exit 0" 0 "$rc"
bm_check "... configuration ok" grep -q "^configuration ok:" <<<"$out"
bm_eq "... no header value printed" 0 "$(printf '%s\n' "$out" | cat - "$BM_TMP/good.err" | grep -c s3cret)"
bm_eq "... nothing on stderr" "" "$(cat "$BM_TMP/good.err")"

# --- --print-acl: the CLI's read-only user may read every key the CLI reads ------------------
# (names outside busmon:, so none is covered by busmon:*; busmon baseline reads the
# agents' checkpoints, <state.key_prefix><agent>, with MGET)
cat >"$BM_TMP/names.yaml" <<'YAML'
streams:
  names: [app:events]
state:
  key_prefix: "st:"
outputs:
  trace_prefix: "tr:"
  rollups: "ro:rollups"
  workers: "wk:workers"
  system: "sy:system"
traces:
  index_key: "ix:traces"
alerts:
  stream: "al:alerts"
  firing: "al:firing"
YAML
"$AGENT" --config "$BM_TMP/names.yaml" --print-acl >"$BM_TMP/acl.txt"
CLI_LINE=$(sed -n 4p "$BM_TMP/acl.txt")
bm_start_redis
redis-cli -p "$BM_PORT" ${CLI_LINE/>PASSWORD/>cli-pw} >/dev/null
as_cli() { redis-cli -p "$BM_PORT" --user busmon-cli --pass cli-pw --no-auth-warning "$@" 2>&1; }
for cmd in "MGET st:busmon-a" "LRANGE tr:tx-1 0 -1" "ZREVRANGEBYSCORE ix:traces +inf -inf" \
    "XREVRANGE ro:rollups + - COUNT 1" "HGET wk:workers w1" "XREVRANGE sy:system + - COUNT 1" \
    "HGETALL al:firing" "XREVRANGE al:alerts + - COUNT 1" "XINFO GROUPS app:events"; do
    bm_eq "the CLI's user may: $cmd" 0 "$(as_cli $cmd | grep -c NOPERM)"
done
# --- --print-acl: a long line is printed whole -------------------------------------------------
# (64 streams of 66 characters: the lines were cut at 4095 bytes, dropping the rest of the
# keys, the channels, -@all and every command; without the cluster, whose hand-off stream
# would be a 65th)
{
    printf 'cluster:\n  enabled: false\n'
    echo "streams:"
    echo "  names:"
    for i in $(seq 1 64); do printf '    - app:events:%055d\n' "$i"; done
} >"$BM_TMP/many.yaml"
"$AGENT" --config "$BM_TMP/many.yaml" --print-acl >"$BM_TMP/acl-many.txt"
LAST=$(printf 'app:events:%055d' 64)
bm_check "the agent's line holds the last stream" grep -qF " ~$LAST " <(sed -n 2p "$BM_TMP/acl-many.txt")
bm_check "... and ends with its commands" grep -q -- ' -@all .* +getrange$' <(sed -n 2p "$BM_TMP/acl-many.txt")
bm_check "the CLI's line holds it too, and ends with its commands" \
    grep -q -- " %R~$LAST resetchannels .* -@all .* +mget +xlen +xrange$" <(sed -n 4p "$BM_TMP/acl-many.txt")
MANY=$(sed -n 2p "$BM_TMP/acl-many.txt")
redis-cli -p "$BM_PORT" ${MANY/busmon on/busmon-many on} >/dev/null
bm_eq "Redis takes the whole line: the user may read the last stream" 1 \
    "$(redis-cli -p "$BM_PORT" ACL DRYRUN busmon-many XREADGROUP GROUP g c STREAMS "$LAST" '>' | grep -c '^OK$')"

bm_check "... and still may not write" bash -c "redis-cli -p $BM_PORT --user busmon-cli --pass cli-pw --no-auth-warning SET st:x 1 | grep -q NOPERM"

bm_finish
