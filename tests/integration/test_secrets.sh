#!/usr/bin/env bash
# Secrets out of argv, against a Redis with a password and an ACL user:
#   - the agent, the CLI and the demo producer with --redis-password-file
#     and BUSMON_REDIS_PASSWORD (+ --redis-username): `ps` and
#     /proc/PID/environ show no password, the variable is wiped;
#   - a password in a --redis URL still works, is warned about, and `ps`
#     stops showing it once the program has started;
#   - every program's messages redact it;
#   - webhook secrets from files (url_file, header_file.NAME, header_files:,
#     routing_key_file) reach the receiver and never the log.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PRODUCER="$BM_BUILD/busmon-demo-producer"
RECV="$BM_BUILD/bm-webhook-receiver"
PW="Sup3r-s3cret-$RANDOM$RANDOM"
UPW="Us3r-s3cret-$RANDOM$RANDOM"
redis-cli -p "$BM_PORT" CONFIG SET requirepass "$PW" >/dev/null
R() { redis-cli -p "$BM_PORT" --no-auth-warning -a "$PW" "$@"; }
URL="redis://127.0.0.1:$BM_PORT"
export BUSMON_REDIS_URL="$URL"
echo "$PW" >"$BM_TMP/pw"
chmod 600 "$BM_TMP/pw"
# ACL users too, with the documented rights (the agent's, the CLI's)
LINE=$("$AGENT" --print-acl | sed -n 2p)
R ${LINE/>PASSWORD/>$UPW} >/dev/null
LINE=$("$AGENT" --print-acl | sed -n 4p)
R ${LINE/>PASSWORD/>$UPW} >/dev/null
echo "$UPW" >"$BM_TMP/upw"

args_of() { tr '\0' ' ' <"/proc/$1/cmdline"; }
env_of() { tr '\0' '\n' <"/proc/$1/environ"; }
no_secret() { ! grep -rqF -e "$PW" -e "$UPW" "$@"; }

# ---- the agent: a password file, a user ------------------------------------------------------
bm_bg "$AGENT" --redis-username busmon --redis-password-file "$BM_TMP/upw" --block-ms 100 \
    --rollup-interval 1
A=$BM_LAST_PID
bm_check "the agent reads as the ACL user, its password from a file" bm_wait_for 10 \
    "[ \$(R XLEN busmon:rollups) -gt 0 ]"
bm_check "ps shows no password" no_secret <(args_of "$A")
bm_check "its environment holds no password" no_secret <(env_of "$A")
out=$("$AGENT" --redis-username busmon --redis-password-file "$BM_TMP/upw" --check-config 2>&1)
bm_check "--check-config: where the password came from" grep -q 'redis password: a file' <<<"$out"
bm_check "--check-config shows the user, never the password" \
    bash -c "grep -q 'redis://busmon:\*\*\*@127.0.0.1' <<<'$out' && ! grep -qF '$UPW' <<<'$out'"
kill "$A"

# ---- the agent: BUSMON_REDIS_PASSWORD, read then wiped ----------------------------------------
BUSMON_REDIS_PASSWORD="$PW" "$AGENT" --consumer env-agent --block-ms 100 --rollup-interval 1 \
    >"$BM_TMP/env-agent.log" 2>&1 &
E=$!
BM_PIDS+=($E)
bm_check "BUSMON_REDIS_PASSWORD connects" bm_wait_for 10 \
    "R XINFO CONSUMERS busmon:events busmon | grep -q env-agent"
bm_check "the variable is wiped: /proc/PID/environ shows no password" no_secret <(env_of "$E")
bm_check "... and it is no longer set" bash -c "! tr '\\0' '\\n' </proc/$E/environ | grep -q '^BUSMON_REDIS_PASSWORD=.'"
kill "$E"

# ---- a password in the URL: works, warned about, hidden from ps -------------------------------
"$AGENT" --redis "redis://:$PW@127.0.0.1:$BM_PORT" --consumer url-agent --block-ms 100 \
    >"$BM_TMP/url-agent.log" 2>&1 &
U=$!
BM_PIDS+=($U)
bm_check "a password in the URL still connects" bm_wait_for 10 \
    "R XINFO CONSUMERS busmon:events busmon | grep -q url-agent"
bm_check "... and is warned about" grep -q 'every local user can read it' "$BM_TMP/url-agent.log"
bm_check "... and ps shows it no longer" no_secret <(args_of "$U")
bm_check "... as redis://:***@" grep -qE "redis://:\*+@127.0.0.1:$BM_PORT" <(args_of "$U")
kill "$U"

# ---- the CLI ------------------------------------------------------------------------------------
"$BUSMON" --redis-password-file "$BM_TMP/pw" workers >"$BM_TMP/cli.out" 2>&1
bm_eq "busmon with --redis-password-file" 0 "$?"
BUSMON_REDIS_PASSWORD="$PW" "$BUSMON" stats >/dev/null 2>&1
bm_eq "busmon with BUSMON_REDIS_PASSWORD" 0 "$?"
BUSMON_REDIS_USERNAME=busmon-cli BUSMON_REDIS_PASSWORD_FILE="$BM_TMP/upw" "$BUSMON" workers >/dev/null 2>&1
bm_eq "busmon as the read-only ACL user, from the environment" 0 "$?"
"$BUSMON" --redis "redis://:$PW@127.0.0.1:$BM_PORT" alerts --watch >/dev/null 2>"$BM_TMP/watch.err" &
W=$!
BM_PIDS+=($W)
sleep 1
bm_check "busmon alerts --watch with a password in the URL: ps shows it no longer" no_secret <(args_of "$W")
kill "$W"
bm_check "... with a warning" grep -q 'visible to every local user' "$BM_TMP/watch.err"
"$BUSMON" --redis "redis://:wrong-$PW@127.0.0.1:$BM_PORT" workers >"$BM_TMP/cli-bad.out" 2>&1
bm_eq "a wrong password: exit 3" 3 "$?"
bm_check "... the message redacts it" no_secret "$BM_TMP/cli-bad.out"
"$BUSMON" --redis-password-file "$BM_TMP/nope" workers >"$BM_TMP/cli-nofile.out" 2>&1
bm_eq "a missing password file: exit 2 with the reason" "2 1" \
    "$? $(grep -c 'cannot read the Redis password from' "$BM_TMP/cli-nofile.out")"

# ---- the demo producer ----------------------------------------------------------------------------
"$PRODUCER" --redis-password-file "$BM_TMP/pw" --count 5 --rate 500 >/dev/null 2>&1
bm_eq "the producer with --redis-password-file" 0 "$?"
"$PRODUCER" --redis "redis://:wrong-$PW@127.0.0.1:$BM_PORT" --count 1 >"$BM_TMP/prod-bad.out" 2>&1
bm_eq "the producer, a wrong password: exit 1" 1 "$?"
bm_check "... its message redacts it" no_secret "$BM_TMP/prod-bad.out"
bm_check "... and says so" grep -q 'redis://\*\*\*@127.0.0.1' "$BM_TMP/prod-bad.out"
"$PRODUCER" --redis "redis://:$PW@127.0.0.1:$BM_PORT" --duration 3 --rate 50 >/dev/null 2>&1 &
P=$!
BM_PIDS+=($P)
sleep 1
bm_check "the producer hides a URL's password from ps" no_secret <(args_of "$P")
wait "$P"

# ---- webhook secrets from files -----------------------------------------------------------------
"$RECV" --out "$BM_TMP/hook.jsonl" --port-file "$BM_TMP/hook.port" --max-seconds 60 \
    >"$BM_TMP/receiver.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "[ -s '$BM_TMP/hook.port' ]"
HP=$(cat "$BM_TMP/hook.port")
TOK="Bearer hook-$RANDOM$RANDOM"
RK="R0UT1NG-$RANDOM$RANDOM"
echo "http://127.0.0.1:$HP/hook/rollups" >"$BM_TMP/hook.url"
echo "$TOK" >"$BM_TMP/hook.auth"
echo "xyz-$RANDOM" >"$BM_TMP/hook.other"
echo "$RK" >"$BM_TMP/hook.rk"
cat >"$BM_TMP/hooks.yaml" <<EOF
outputs:
  sinks:
    - name: rollhook
      url_file: $BM_TMP/hook.url
      topics: rollup
      header_file.Authorization: $BM_TMP/hook.auth
      header_files:
        X-Other: $BM_TMP/hook.other
alerts:
  interval: 1s
  rules:
    - name: any_command
      metric: throughput_per_min
      scope: global
      op: ">"
      threshold: 0
      window: 1m
      for: 0s
  webhooks:
    - name: pager
      format: pagerduty
      url: http://127.0.0.1:$HP/hook/pager
      routing_key_file: $BM_TMP/hook.rk
EOF
bm_check "the config file holds no secret" bash -c "! grep -qF -e '$TOK' -e '$RK' '$BM_TMP/hooks.yaml'"
"$AGENT" --config "$BM_TMP/hooks.yaml" --redis-password-file "$BM_TMP/pw" --consumer hooks \
    --block-ms 100 --rollup-interval 1 >"$BM_TMP/hooks-agent.log" 2>&1 &
H=$!
BM_PIDS+=($H)
"$PRODUCER" --redis-password-file "$BM_TMP/pw" --count 20 --rate 500 >/dev/null 2>&1
bm_check "rollups reach the URL read from url_file" bm_wait_for 15 \
    "jq -e 'select(.path == \"/hook/rollups\")' '$BM_TMP/hook.jsonl'"
bm_eq "... with header_file.Authorization" "$TOK" \
    "$(jq -r 'select(.path == "/hook/rollups") | .headers.Authorization' "$BM_TMP/hook.jsonl" | head -1)"
bm_eq "... and header_files: X-Other" "$(cat "$BM_TMP/hook.other")" \
    "$(jq -r 'select(.path == "/hook/rollups") | .headers["X-Other"]' "$BM_TMP/hook.jsonl" | head -1)"
bm_check "PagerDuty gets routing_key_file's key" bm_wait_for 15 \
    "jq -r 'select(.path == \"/hook/pager\") | .body' '$BM_TMP/hook.jsonl' | jq -e --arg rk '$RK' 'select(.routing_key == \$rk)'"
"$AGENT" --config "$BM_TMP/hooks.yaml" --check-config --offline >/dev/null 2>&1
bm_eq "--check-config reads the files" 0 "$?"
sed "s|$BM_TMP/hook.rk|$BM_TMP/missing|" "$BM_TMP/hooks.yaml" >"$BM_TMP/hooks-bad.yaml"
out=$("$AGENT" --config "$BM_TMP/hooks-bad.yaml" --check-config --offline 2>&1)
bm_eq "a missing secret file stops the check (exit 2)" 2 "$?"
bm_check "... naming the sink and the key" grep -q "sink 'pager': 'routing_key'.*missing" <<<"$out"
kill "$H"
wait "$H" 2>/dev/null

bm_check "no log, summary or output holds a secret" \
    bash -c "! grep -rlF -e '$PW' -e '$UPW' -e '$RK' -e '${TOK#Bearer }' '$BM_TMP' --include='*.log' --include='*.out' --include='*.err'"
bm_finish
