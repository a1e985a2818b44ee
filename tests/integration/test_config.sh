#!/usr/bin/env bash
# busmon-agent's configuration end to end, through the built binary:
# --check-config --offline checks the configuration without Redis, plain
# --check-config says whether it reached Redis (exit 3 when it cannot);
# deploy/busmon.yaml and a file in the Python guides' shape load without a
# warning; typos are warned about with their line and a suggestion (fatal,
# with the suggestion, in a rule or a sink); a value
# out of bounds is refused with the same reason from the file, the
# environment and a flag; every flag of --help is accepted.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
DEAD_PORT=$(bm_free_port) # nothing listens there
unset BUSMON_REDIS_URL

# --- --check-config, with and without Redis -------------------------------------------
out=$("$AGENT" --config "$BM_SRC/deploy/busmon.yaml" --redis "redis://127.0.0.1:$DEAD_PORT" \
    --check-config --offline 2>"$BM_TMP/err"); rc=$?
bm_eq "--check-config --offline: exit 0 with Redis down" 0 "$rc"
bm_eq "deploy/busmon.yaml: nothing on stderr" "" "$(cat "$BM_TMP/err")"
bm_check "... the summary: streams, group, consumer" grep -q "configuration ok: .*1 stream(s), group busmon, consumer " <<<"$out"
bm_check "... the alerts line" grep -q "^alerts: enabled, 9 rule(s) every 10s, 0 sink(s)$" <<<"$out"
bm_check "... and that Redis was not checked" grep -q "^redis: not checked (--offline)$" <<<"$out"
out=$("$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT" --alert-interval 1h --check-config --offline)
bm_check "... durations as written: alerts every 1h, not 3.6e+03 s" \
    grep -q "^alerts: enabled, 9 rule(s) every 1h, 0 sink(s)$" <<<"$out"

"$AGENT" --redis "redis://127.0.0.1:$DEAD_PORT" --check-config >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "--check-config, Redis unreachable: exit 3" 3 "$rc"
bm_check "... with the reason" grep -q "cannot connect to Redis at redis://127.0.0.1:$DEAD_PORT" "$BM_TMP/err"

bm_start_redis
out=$("$AGENT" --check-config --stream cfg-test 2>"$BM_TMP/err"); rc=$?
bm_eq "--check-config with Redis: exit 0" 0 "$rc"
bm_check "... says Redis was checked" grep -q "^redis: checked" <<<"$out"
bm_eq "... and created the group" "busmon" "$(bm_cli_raw XINFO GROUPS cfg-test | sed -n 2p)"

# --- the guides' shape, typos -------------------------------------------------------------
cat >"$BM_TMP/guides.yaml" <<'YAML'
logging:
  default_logger: "composite"
  level: "INFO"
  max_size_mb: 100
  include_caller_info: true
event_monitoring:
  enabled: true
  trace_retention_hours: 24
  cleanup_interval_minutes: 60
  max_trace_history: 5000
worker_monitoring:
  alert_on_high_error_rate: true
  track_resource_usage: true
metrics:
  collection_interval_seconds: 60
  export_prometheus: true
  export_port: 9090
YAML
"$AGENT" --config "$BM_TMP/guides.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "the guides' keys: exit 0" 0 "$rc"
# the keys busmon does not use are each warned about once, with the reason
bm_eq "... and three warnings" 3 "$(wc -l <"$BM_TMP/err")"
for key in logging.default_logger logging.include_caller_info event_monitoring.cleanup_interval_minutes; do
    bm_eq "... one for $key" 1 "$(grep -c "'$key: [^']*' is not used (ignored): ." "$BM_TMP/err")"
done

cat >"$BM_TMP/typos.yaml" <<'YAML'
worker_monitoring:
  error_rate_treshold: 0.2
logging:
  levle: debug
http:
  lisen: 127.0.0.1:1
YAML
"$AGENT" --config "$BM_TMP/typos.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "typos are not fatal" 0 "$rc"
for want in \
    "typos.yaml:2: unknown key 'worker_monitoring.error_rate_treshold' (ignored); did you mean 'worker_monitoring.error_rate_threshold'?" \
    "typos.yaml:4: unknown key 'logging.levle' (ignored); did you mean 'logging.level'?" \
    "typos.yaml:6: unknown key 'http.lisen' (ignored); did you mean 'http.listen'?"; do
    bm_check "warned: ${want%% (ignored)*}" grep -qF -- "$want" "$BM_TMP/err"
done

# in a rule or a sink a typo stays fatal (exit 2), with the closest key
printf 'alerts:\n  rules:\n    - name: high_error_rate\n      treshold: 0.2\n' >"$BM_TMP/rule.yaml"
"$AGENT" --config "$BM_TMP/rule.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a rule's typo: exit 2" 2 "$rc"
bm_check "... its line and the closest key" grep -q "rule.yaml:4: rule 'high_error_rate': unknown key 'treshold' (known: .*); did you mean 'threshold'?$" "$BM_TMP/err"
printf 'outputs:\n  sinks:\n    - type: redis_stream\n      streem: copy\n' >"$BM_TMP/sink.yaml"
"$AGENT" --config "$BM_TMP/sink.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a sink's typo: exit 2" 2 "$rc"
bm_check "... its line and the closest key" grep -q "sink.yaml:3: outputs.sinks: sink 'generic': unknown key 'streem' (.*); did you mean 'stream'?$" "$BM_TMP/err"

# --- one reason from every source ----------------------------------------------------------
# reason SUBJECT FILE: what follows SUBJECT on the error line
reason() { sed -n "s/.*$1//p" "$2"; }
printf 'streams:\n  batch: 0\n' >"$BM_TMP/batch.yaml"
"$AGENT" --config "$BM_TMP/batch.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/file.err"
BUSMON_STREAMS_BATCH=0 "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/env.err"; rc=$?
"$AGENT" --batch 0 --check-config --offline >/dev/null 2>"$BM_TMP/flag.err"
bm_eq "BUSMON_STREAMS_BATCH=0: exit 2" 2 "$rc"
bm_eq "the file's reason" " must be 1-100000, not '0'" "$(reason "'streams.batch'" "$BM_TMP/file.err")"
bm_eq "... is the environment's" " must be 1-100000, not '0'" "$(reason BUSMON_STREAMS_BATCH "$BM_TMP/env.err")"
bm_eq "... and the flag's" " must be 1-100000, not '0'" "$(reason "--batch" "$BM_TMP/flag.err")"
bm_check "the file's names its line" grep -q "batch.yaml:2: 'streams.batch'" "$BM_TMP/file.err"

printf 'system:\n  interval_seconds: 50ms\n' >"$BM_TMP/sys.yaml"
"$AGENT" --config "$BM_TMP/sys.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/file.err"
BUSMON_SYSTEM_INTERVAL_SECONDS=50ms "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/env.err"
"$AGENT" --system-interval 50ms --check-config --offline >/dev/null 2>"$BM_TMP/flag.err"; rc=$?
bm_eq "--system-interval 50ms: exit 2" 2 "$rc"
want=" must be a duration of at least 100ms (30s, 1m), not '50ms'"
bm_eq "system.interval_seconds: the same reason from the file" "$want" "$(reason "'system.interval_seconds'" "$BM_TMP/file.err")"
bm_eq "... the environment" "$want" "$(reason BUSMON_SYSTEM_INTERVAL_SECONDS "$BM_TMP/env.err")"
bm_eq "... and the flag" "$want" "$(reason "--system-interval" "$BM_TMP/flag.err")"

# streams.block_ms 0 (or rounding to 0) would read an idle stream without a wait, again and again
want=" must be a duration of at least 1ms (30s, 1m), not '0'"
printf 'streams:\n  block_ms: 0\n' >"$BM_TMP/block.yaml"
"$AGENT" --config "$BM_TMP/block.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/file.err"; rc=$?
bm_eq "streams.block_ms: 0: exit 2" 2 "$rc"
bm_eq "... the reason names the key" "$want" "$(reason "'streams.block_ms'" "$BM_TMP/file.err")"
BUSMON_STREAMS_BLOCK_MS=0.4ms "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/env.err"; rc=$?
bm_eq "BUSMON_STREAMS_BLOCK_MS=0.4ms (rounds to 0): exit 2" 2 "$rc"
bm_check "... refused, naming the variable" grep -q "BUSMON_STREAMS_BLOCK_MS must be a duration of at least 1ms" "$BM_TMP/env.err"
"$AGENT" --block-ms 0 --check-config --offline >/dev/null 2>"$BM_TMP/flag.err"; rc=$?
bm_eq "--block-ms 0: exit 2, the same reason" "2 $want" "$rc $(reason "--block-ms" "$BM_TMP/flag.err")"

# sizes and counts have an upper bound, named: max_keys is allocated at start, counts are 32-bit
BUSMON_BASELINES_MAX_KEYS=100000000000000 "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "BUSMON_BASELINES_MAX_KEYS=1e14: exit 2" 2 "$rc"
bm_eq "... the reason names it" " must be 1-1000000, not '100000000000000'" "$(reason BUSMON_BASELINES_MAX_KEYS "$BM_TMP/err")"
printf 'worker_monitoring:\n  min_executions: 4294967296\nbaselines:\n  min_samples: 1000000001\n' >"$BM_TMP/counts.yaml"
"$AGENT" --config "$BM_TMP/counts.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "min_executions: 2^32 (0 once cast): exit 2" 2 "$rc"
bm_eq "... the reason names it" " must be 1-1000000000, not '4294967296'" "$(reason "'worker_monitoring.min_executions'" "$BM_TMP/err")"
BUSMON_BASELINES_SLOT_MIN_SAMPLES=4294967297 "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "BUSMON_BASELINES_SLOT_MIN_SAMPLES=2^32+1: exit 2" 2 "$rc"
# traces.max_events: the CLI reads 5,000 records of a trace (pairing them costs the square)
BUSMON_TRACES_MAX_EVENTS=5001 "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "BUSMON_TRACES_MAX_EVENTS=5001: exit 2" 2 "$rc"
bm_eq "... the reason names it" " must be 1-5000, not '5001'" "$(reason BUSMON_TRACES_MAX_EVENTS "$BM_TMP/err")"

# --- names shown in JSON and on /metrics: valid UTF-8, no control characters ----------------------
"$AGENT" --consumer $'host\x01' --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "--consumer with a control character: exit 2" 2 "$rc"
bm_check "... named, with the byte" grep -q -- "--consumer must be valid UTF-8 without control characters (it holds control character 0x01 at byte 4)" "$BM_TMP/err"
BUSMON_STREAMS_GROUP=$'g\xff' "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a group that is not UTF-8: exit 2" 2 "$rc"
bm_check "... named, with the byte" grep -q "BUSMON_STREAMS_GROUP must be valid UTF-8 without control characters (it is not valid UTF-8 (byte 0xff at byte 1))" "$BM_TMP/err"
BUSMON_STREAMS=$'ok,bad\x1b' "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a stream name with ESC: exit 2" 2 "$rc"
bm_check "... named" grep -q "BUSMON_STREAMS: a stream name must be valid UTF-8 without control characters (it holds control character 0x1b at byte 3)" "$BM_TMP/err"
printf 'state:\n  key_prefix: "s\\x7f:"\n' >"$BM_TMP/prefix.yaml"
"$AGENT" --config "$BM_TMP/prefix.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a key prefix with DEL: exit 2" 2 "$rc"
bm_check "... named, with its line" grep -q "prefix.yaml:2: 'state.key_prefix' must be valid UTF-8 without control characters (it holds control character 0x7f at byte 1)" "$BM_TMP/err"
out=$("$AGENT" --consumer 'héllo' --check-config --offline 2>&1); rc=$?
bm_eq "a UTF-8 consumer name is fine" "0 héllo" "$rc $(sed -n 's/.*consumer //p' <<<"$out" | head -1)"
# a consumer's name goes into keys, buffers ("<consumer>.claimed") and the checkpoint's first
# bytes a claim compares: at most 200 bytes, longer refused (never cut)
long200=$(printf '%0200d' 0 | tr 0 c)
out=$("$AGENT" --consumer "$long200" --check-config --offline 2>&1); rc=$?
bm_eq "a consumer name of 200 bytes is fine, kept whole" "0 $long200" "$rc $(sed -n 's/.*consumer //p' <<<"$out" | head -1)"
"$AGENT" --consumer "${long200}é" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a consumer name of 202 bytes: exit 2" 2 "$rc"
bm_check "... named, with its length" grep -qx -- "busmon-agent: --consumer is too long: 202 bytes, at most 200" "$BM_TMP/err"
printf 'streams:\n  group: "%s"\n' "${long200}gg" >"$BM_TMP/group.yaml"
"$AGENT" --config "$BM_TMP/group.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a group name of 202 bytes in YAML: exit 2" 2 "$rc"
bm_check "... named, with its line" grep -q "group.yaml:2: 'streams.group' is too long: 202 bytes, at most 200" "$BM_TMP/err"

# --- YAML aliases of mappings: refused at once, not walked at every reference -------------------
{
    echo "a0: &a0 {x: 1}"
    for i in $(seq 1 40); do echo "a$i: &a$i {p: *a$((i - 1)), q: *a$((i - 1))}"; done
} >"$BM_TMP/bomb.yaml"
timeout 10 "$AGENT" --config "$BM_TMP/bomb.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "40 levels of aliased mappings: exit 2 (not a timeout)" 2 "$rc"
bm_check "... the reason, with the line" grep -q "bomb.yaml:2: YAML aliases of mappings and lists are not supported (the one anchored on line 1 is used again)" "$BM_TMP/err"
printf 'streams: &s\n  batch: 5\n  more: *s\n' >"$BM_TMP/loop.yaml"
timeout 10 "$AGENT" --config "$BM_TMP/loop.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "a mapping that holds itself: exit 2" 2 "$rc"
printf 'defaults: &b 50\nstreams:\n  batch: *b\n' >"$BM_TMP/scalar.yaml"
out=$(timeout 10 "$AGENT" --config "$BM_TMP/scalar.yaml" --check-config --offline 2>/dev/null); rc=$?
bm_eq "an aliased value is still read: exit 0" 0 "$rc"

# --- HTTP off stays off: what is given beats what an address implies ---------------------------
out=$(BUSMON_HTTP_ENABLED=false BUSMON_HTTP_LISTEN=127.0.0.1:9485 "$AGENT" --check-config --offline 2>&1)
bm_check "BUSMON_HTTP_ENABLED=false with BUSMON_HTTP_LISTEN: metrics line says HTTP off" \
    grep -q "^metrics: HTTP off: no /metrics$" <<<"$out"
bm_check "... and no http: line" bash -c '! grep -q "^http: " <<<"$1"' _ "$out"
printf 'http:\n  enabled: false\n  listen: 127.0.0.1:9485\n' >"$BM_TMP/http_off.yaml"
out=$(BUSMON_HTTP_LISTEN=127.0.0.1:9485 "$AGENT" --config "$BM_TMP/http_off.yaml" --check-config --offline 2>&1)
bm_check "http.enabled: false in the file, BUSMON_HTTP_LISTEN set (the image's): HTTP off" \
    grep -q "^metrics: HTTP off: no /metrics$" <<<"$out"
out=$(BUSMON_HTTP_LISTEN=127.0.0.1:9485 "$AGENT" --no-http --check-config --offline 2>&1)
bm_check "--no-http with BUSMON_HTTP_LISTEN: HTTP off" grep -q "^metrics: HTTP off: no /metrics$" <<<"$out"

# --- every flag of --help is accepted ---------------------------------------------------------
"$AGENT" --help >"$BM_TMP/help.txt"
flags=$(grep -oE '^  (-h, )?--[a-z-]+( [A-Z]+)?' "$BM_TMP/help.txt" | sed 's/^  //; s/^-h, //')
bm_check "--help lists at least the 23 flags" [ "$(wc -l <<<"$flags")" -ge 23 ]
while read -r flag meta; do
    case "$flag" in
    --help | --version | --check-config | --offline) continue ;;
    --config) value="$BM_SRC/deploy/busmon.yaml" ;;
    --redis) value="$BM_URL" ;;
    --redis-password-file) echo pw >"$BM_TMP/pw" && value="$BM_TMP/pw" ;;
    --redis-username) value=busmon ;;
    --http) value="127.0.0.1:$(bm_free_port)" ;;
    --log-level) value=warn ;;
    --summary) value="$BM_TMP/summary.json" ;;
    --psubscribe) value='x:*' ;;
    --trace-retention) value=90m ;;
    --sampling-rate) value=0.1 ;;
    --otlp-endpoint) value=http://127.0.0.1:4318 ;;
    --stream | --group | --consumer) value=cfg-flags ;;
    *) value=200ms ;; # intervals; --block-ms, --batch and --max-transactions below
    esac
    case "$flag" in --batch | --max-transactions) value=10 ;; --block-ms) value=100 ;; esac
    [ -n "$meta" ] || value=""
    "$AGENT" $flag ${value:+"$value"} --check-config --offline >/dev/null 2>"$BM_TMP/flag.err"
    bm_eq "$flag ${value:+$value }is accepted" "0 " "$? $(cat "$BM_TMP/flag.err")"
done <<<"$flags"
bm_finish
