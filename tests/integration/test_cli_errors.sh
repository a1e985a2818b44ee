#!/usr/bin/env bash
# How busmon-agent and busmon answer a person who got something wrong: a bad
# URL, an unreachable Redis, a bad config file, an unknown flag. Each gives
# one clear line on stderr and a non-zero exit; --help lists the flags.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"

# one_line_error DESCRIPTION EXPECTED_REGEX CMD...: non-zero exit, exactly one stderr line matching
one_line_error() {
    local what=$1 re=$2; shift 2
    "$@" >/dev/null 2>"$BM_TMP/stderr"; local rc=$?
    local lines; lines=$(wc -l <"$BM_TMP/stderr")
    if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$BM_TMP/stderr"; then
        BM_PASSED=$((BM_PASSED + 1)); echo "ok   - $what"
    else
        BM_FAILED=$((BM_FAILED + 1)); echo "FAIL - $what (rc=$rc, $lines lines):"; cat "$BM_TMP/stderr"
    fi
}

DEAD_PORT=$(bm_free_port)   # nothing listens there
one_line_error "agent: wrong URL scheme" "bad Redis URL" "$AGENT" --redis http://localhost:1
one_line_error "agent: bad port" "port must be 1-65535" "$AGENT" --redis redis://127.0.0.1:99999
one_line_error "agent: TLS refused with the reason" "TLS" "$AGENT" --redis rediss://127.0.0.1:6379
one_line_error "agent: unreachable Redis" "cannot connect to Redis at redis://127.0.0.1:$DEAD_PORT" "$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT"
BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" one_line_error "agent: BUSMON_REDIS_URL is read" "127.0.0.1:$DEAD_PORT" "$AGENT"
one_line_error "agent: unknown flag" "unknown or incomplete option" "$AGENT" --no-such-flag
one_line_error "agent: missing config file" "cannot read config" "$AGENT" --config /nonexistent/busmon.yaml
printf 'redis:\n  url: [unclosed\n' > "$BM_TMP/bad.yaml"
one_line_error "agent: invalid YAML names the line" "bad.yaml:[0-9]+: invalid YAML" "$AGENT" --config "$BM_TMP/bad.yaml"
printf 'streams:\n  batch: lots\n' > "$BM_TMP/badval.yaml"
one_line_error "agent: bad value names key, line and value" "badval.yaml:2: 'streams.batch' must be a positive number, not 'lots'" "$AGENT" --config "$BM_TMP/badval.yaml"
one_line_error "agent: bad --batch" "--batch must be" "$AGENT" --batch 0

one_line_error "cli: unreachable Redis" "cannot connect to Redis" "$BUSMON" --redis "redis://127.0.0.1:$DEAD_PORT" trace tx-1
BUSMON_REDIS_URL="redis://127.0.0.1:$DEAD_PORT" one_line_error "cli: BUSMON_REDIS_URL is read" "127.0.0.1:$DEAD_PORT" "$BUSMON" trace tx-1
one_line_error "cli: bad URL" "bad Redis URL" "$BUSMON" --redis ftp://x trace tx-1
one_line_error "cli: unknown command" "unknown command" "$BUSMON" frobnicate
one_line_error "cli: trace without a tx" "which transaction" "$BUSMON" trace
"$BUSMON" trace tx-1 --redis "redis://127.0.0.1:$DEAD_PORT" >/dev/null 2>&1; rc=$?
bm_eq "cli: Redis unreachable exits 3" 3 "$rc"

for flag in --redis --stream --group --consumer --config; do
    bm_check "agent --help lists $flag" bash -c "'$AGENT' --help | grep -q -- '$flag'"
done
bm_check "busmon --help lists trace" bash -c "'$BUSMON' --help | grep -q 'trace TX'"

# a good config file is used, and flags override it
bm_start_redis
cat > "$BM_TMP/good.yaml" <<YAML
redis:
  url: redis://127.0.0.1:$BM_PORT
streams:
  names: [from-config-a, from-config-b]
  group: cfg-group
worker_monitoring:
  error_rate_threshold: 0.1
unknown_section:
  whatever: 1
YAML
unset BUSMON_REDIS_URL
out=$("$AGENT" --config "$BM_TMP/good.yaml" --check-config 2>"$BM_TMP/warn.txt")
bm_check "config file: redis, streams and group are used" grep -q "2 stream(s), group cfg-group" <<<"$out"
bm_check "config file: unknown keys are warned about" grep -q "unknown key 'unknown_section.whatever'" "$BM_TMP/warn.txt"
bm_eq "config file: group created on each stream" "cfg-group" "$(redis-cli -p "$BM_PORT" --raw XINFO GROUPS from-config-b | sed -n 2p)"
out=$("$AGENT" --config "$BM_TMP/good.yaml" --stream flag-stream --group flag-group --check-config 2>/dev/null)
bm_check "flags override the config file" grep -q "1 stream(s), group flag-group" <<<"$out"
bm_finish
