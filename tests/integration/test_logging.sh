#!/usr/bin/env bash
# Logging end to end: the guides' logging keys (level, json_format,
# file_path, max_file_size_mb, backup_count) honoured by busmon-agent; the
# file rotates at the configured size into file.1 .. file.N; every line is
# JSON (or text when json_format is false); secrets never reach a log: the
# Redis password of the URL, a webhook URL's token, a PagerDuty routing key.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
PW=s3cretpw
TOKEN=abc123secret
RKEY=R0UT1NGKEY99

BM_PORT=$(bm_free_port)
redis-server --port "$BM_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$BM_TMP" \
    --requirepass "$PW" --loglevel warning >"$BM_TMP/redis.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "redis-cli -p $BM_PORT -a $PW --no-auth-warning ping" || { echo "redis did not start"; exit 1; }
URL="redis://:$PW@127.0.0.1:$BM_PORT"
export BUSMON_REDIS_URL="$URL"

LOG=$BM_TMP/logs/agent.log
mkdir -p "$BM_TMP/logs"
cat >"$BM_TMP/busmon.yaml" <<YAML
logging:
  level: debug
  json_format: true
  file_path: $LOG
  max_file_size_mb: 0.001       # ~1 KB, so a short run rotates
  backup_count: 2
alerts:
  rules:
    - name: high_error_rate
      window: 1m
      for: 0s
  disable: [critical_cpu]
  webhooks:
    - name: hook-token
      url: http://127.0.0.1:1/hook?token=$TOKEN
    - name: hook-pd
      format: pagerduty
      routing_key: $RKEY
      url: http://127.0.0.1:1/pd
YAML
"$AGENT" --config "$BM_TMP/busmon.yaml" --block-ms 100 --rollup-interval 500ms \
    --health-interval 500ms --alert-interval 300ms --system-interval 300ms \
    >"$BM_TMP/stdout.log" 2>"$BM_TMP/stderr.log" &
A=$!
BM_PIDS+=($A)
bm_check "the log file appears" bm_wait_for 10 "[ -s '$LOG' ]"
"$BM_BUILD/busmon-demo-producer" --count 300 --rate 3000 --seed 9 >/dev/null 2>&1 ||
    echo "FAIL - the producer failed"
# debug lines, health changes and webhook failures (nobody listens on port 1)
bm_check "the log rotated into agent.log.1" bm_wait_for 30 "[ -s '$LOG.1' ]"
bm_check "a webhook failure was logged" bm_wait_for 30 "cat '$LOG'* | grep -q 'webhook'"
bm_check "... and rotated on to agent.log.2" bm_wait_for 30 "[ -s '$LOG.2' ]"
sleep 1
kill "$A"; bm_wait_for 10 "! kill -0 $A"

max=$((1048 + 1024)) # 0.001 MiB, plus at most one line over
bm_check "never more than backup_count (2) backups" bash -c "[ ! -e '$LOG.3' ]"
for f in "$LOG" "$LOG.1" "$LOG.2"; do
    sz=$(stat -c %s "$f")
    bm_check "$(basename "$f"): $sz bytes <= the configured size + one line" [ "$sz" -le "$max" ]
    bm_check "$(basename "$f"): every line is a JSON object with ts, level, msg" \
        bash -c "jq -e -s 'all(.ts and .level and .msg)' '$f' >/dev/null"
done
bm_eq "nothing on stderr when logging to a file" "" "$(cat "$BM_TMP/stderr.log")"
for secret in "$PW" "$TOKEN" "$RKEY"; do
    bm_check "secret $secret is in no log file nor stderr" \
        bash -c "! grep -rq '$secret' '$BM_TMP/logs' '$BM_TMP/stderr.log' '$BM_TMP/stdout.log'"
done

# json_format false: text lines; no file_path: stderr, JSON when not a terminal
cat >"$BM_TMP/text.yaml" <<YAML
logging:
  level: debug
  json_format: false
  file_path: $BM_TMP/text.log
YAML
"$AGENT" --config "$BM_TMP/text.yaml" --drain >/dev/null 2>&1
bm_check "json_format false: text lines (timestamp level program: message)" \
    bash -c "head -1 '$BM_TMP/text.log' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (debug|info|warn|error) +busmon-agent: '"
bm_check "level: debug honoured (the config line at debug)" grep -q ' debug busmon-agent: config: ' "$BM_TMP/text.log"
"$AGENT" --drain >/dev/null 2>"$BM_TMP/stderr2.log"
bm_check "no file_path, stderr not a terminal: JSON lines" bash -c "[ -s '$BM_TMP/stderr2.log' ] && jq -e . '$BM_TMP/stderr2.log' >/dev/null"
bm_check "... with the password masked in the Redis URL" bash -c "! grep -q '$PW' '$BM_TMP/stderr2.log'"
"$AGENT" --redis "redis://:$PW@127.0.0.1:1" --check-config >/dev/null 2>"$BM_TMP/stderr3.log"
bm_check "unreachable Redis: the error names the URL without the password" \
    bash -c "grep -q '127.0.0.1:1' '$BM_TMP/stderr3.log' && ! grep -q '$PW' '$BM_TMP/stderr3.log'"
"$AGENT" --redis "redis://:$PW@127.0.0.1:notaport" --check-config >/dev/null 2>"$BM_TMP/stderr4.log"
bm_check "a bad Redis URL is quoted with its password masked (agent)" \
    bash -c "grep -q \"redis://:\*\*\*@127.0.0.1:notaport\" '$BM_TMP/stderr4.log' && ! grep -q '$PW' '$BM_TMP/stderr4.log'"
"$BM_BUILD/busmon" --redis "redis://u:$PW@127.0.0.1:notaport" workers >/dev/null 2>"$BM_TMP/stderr5.log"
bm_check "... and by the CLI" \
    bash -c "grep -q 'redis://u:\*\*\*@' '$BM_TMP/stderr5.log' && ! grep -q '$PW' '$BM_TMP/stderr5.log'"
printf 'logging:\n  max_file_size_mb: big\n' >"$BM_TMP/bad.yaml"
"$AGENT" --config "$BM_TMP/bad.yaml" --check-config >/dev/null 2>"$BM_TMP/bad.err"
bm_eq "logging.max_file_size_mb: big is refused (exit 2)" 2 "$?"
bm_check "... with the file, line and what is wanted" grep -q "bad.yaml:2.*megabytes" "$BM_TMP/bad.err"
bm_finish
