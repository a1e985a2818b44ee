#!/usr/bin/env bash
# HTTP under attack, against a real Redis and a producer writing all along:
#   - the bearer token (http.token_file): every route but /health and the
#     dashboard's page needs it;
#   - 1,000 slowloris connections (a header byte every 4 s, reopened when
#     closed) against an agent started with `ulimit -n 256`: the connection
#     bound is lowered to the fd limit less the reserve, the slow ones are
#     cut at http.header_timeout and make way for new ones, /health answers,
#     ingest goes on, the log stays small;
#   - descriptors running out under it (prlimit lowers the agent's limit to
#     64): accepting pauses with back-off, one line per burst, counted, and
#     resumes when the limit is back;
#   - a non-loopback address without a token warns at start and in
#     --check-config.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
unset BUSMON_HTTP
SLOW="$BM_SRC/tests/integration/slowloris.py"

TOKEN="t0ken-$RANDOM$RANDOM"
echo "$TOKEN" >"$BM_TMP/token"
code() { local u=$1; shift; curl -s -m 3 -o "$BM_TMP/body" -w '%{http_code}' "$@" "$u"; }
auth=(-H "Authorization: Bearer $TOKEN")
metric() { curl -s -m 3 "${auth[@]}" "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
lag() { bm_cli_raw XINFO GROUPS busmon:events | awk 'p { print; exit } $0 == "lag" { p = 1 }'; }

cat >"$BM_TMP/agent.yaml" <<EOF
http:
  token_file: $BM_TMP/token
EOF
LOG="$BM_TMP/agent.log"
bash -c "ulimit -n 256 && exec '$AGENT' --config '$BM_TMP/agent.yaml' --http 127.0.0.1:$HPORT \
    --block-ms 100 --rollup-interval 1 --checkpoint-interval 1s" >"$LOG" 2>&1 &
A=$!
BM_PIDS+=($A)
bm_check "HTTP answers /health" bm_wait_for 10 "curl -sf $BASE/health"
bm_eq "the agent runs with an fd limit of 256" 256 "$(awk '/Max open files/ { print $4 }' /proc/$A/limits)"

# ---- the token ----------------------------------------------------------------------
bm_eq "/health needs no token" 200 "$(code $BASE/health)"
bm_eq "/metrics without the token: 401" 401 "$(code $BASE/metrics)"
bm_eq "the dashboard's page needs no token (it holds no data; it asks for the token)" 200 "$(code $BASE/)"
bm_check "... it is the page, with the field for the token" grep -q 'id="auth-token"' "$BM_TMP/body"
bm_eq "/index.html too" 200 "$(code $BASE/index.html)"
bm_eq "/api/stats without the token: 401" 401 "$(code $BASE/api/stats)"
bm_check "401 is JSON and says why" grep -q 'bearer token is required' "$BM_TMP/body"
bm_eq "/api/workers without the token: 401" 401 "$(code $BASE/api/workers)"
bm_eq "a wrong token: 401" 401 "$(code $BASE/metrics -H 'Authorization: Bearer nope')"
bm_eq "a token without Bearer: 401" 401 "$(code $BASE/metrics -H "Authorization: $TOKEN")"
bm_eq "the token: 200" 200 "$(code $BASE/metrics "${auth[@]}")"
bm_eq "the token on /ready: 200 or 503, never 401" 1 "$(c=$(code $BASE/ready "${auth[@]}"); [ "$c" = 200 ] || [ "$c" = 503 ] && echo 1)"
bm_eq "the bound: fd limit 256 - 64 kept for the rest" 192 "$(metric busmon_http_connections_max)"
bm_check "the lowered bound is said at start" grep -q 'at most 192 connections, not http.max_connections 256' "$LOG"
bm_check "unauthorized requests are counted" bash -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $BASE/metrics | awk '\$1 == \"busmon_http_unauthorized_total\" { print \$2 }')\" -ge 4 ]"

# ---- 1,000 slowloris connections: the bound and the deadline -------------------------------
python3 "$SLOW" 127.0.0.1 "$HPORT" --connections 1000 --interval 4 --duration 8 \
    >"$BM_TMP/slow1.json" 2>&1 &
SL=$!
BM_PIDS+=($SL)
bm_check "1,000 slow connections are there" bm_wait_for 5 \
    "[ \"\$(metric busmon_http_connections_accepted_total)\" -ge 1000 ]"
bm_eq "/health gets in past 1,000 slow connections" 200 "$(code $BASE/health)"
open_now=$(metric busmon_http_connections)
bm_check "no more open than the bound (${open_now:-?})" [ "${open_now:-999}" -le 192 ]
wait "$SL"
echo "note: slowloris without reconnecting: $(cat "$BM_TMP/slow1.json")"
timeouts=$(metric busmon_http_request_timeouts_total)
evicted=$(metric busmon_http_connections_evicted_total)
echo "note: evicted $evicted, timed out $timeouts"
bm_check "the oldest slow senders made way for newer connections (evicted ${evicted:-0})" \
    [ "${evicted:-0}" -ge 700 ]
bm_check "the rest were cut at http.header_timeout, 5 s (${timeouts:-0})" [ "${timeouts:-0}" -ge 150 ]
bm_eq "the server kept none of them" 0 "$(jq .open_at_end "$BM_TMP/slow1.json")"

# ---- 1,000 slowloris connections reopened at every drip, while events flow -----------------
"$PRODUCER" --rate 400 --duration 40 --seed 7 >"$BM_TMP/producer.log" 2>&1 &
PROD=$!
BM_PIDS+=($PROD)
python3 "$SLOW" 127.0.0.1 "$HPORT" --connections 1000 --interval 4 --duration 30 --reconnect \
    >"$BM_TMP/slow.json" 2>&1 &
SL=$!
BM_PIDS+=($SL)
sleep 2
ok=0 tries=0 read_before=$(metric busmon_entries_read_total)
for i in $(seq 25); do
    tries=$((tries + 1))
    [ "$(code $BASE/health)" = 200 ] && ok=$((ok + 1))
    sleep 1
done
read_during=$(metric busmon_entries_read_total)
echo "note: /health answered $ok of $tries during the attack; entries read $read_before -> $read_during"
bm_check "/health answers under the attack ($ok of $tries)" [ "$ok" -ge $((tries * 9 / 10)) ]
bm_check "ingest goes on under the attack ($read_before -> $read_during)" \
    [ "${read_during:-0}" -gt "${read_before:-0}" ]
open_now=$(metric busmon_http_connections)
bm_check "never more open than the bound (${open_now:-?})" [ "${open_now:-999}" -le 192 ]
wait "$SL"
echo "note: slowloris reconnecting: $(cat "$BM_TMP/slow.json")"
bm_check "the agent is alive" kill -0 "$A"
wait "$PROD"
bm_check "every event is read and acked after the attack" bm_wait_for 30 \
    "[ \"\$(lag)\" = 0 ] && [ \"\$(bm_cli_raw XPENDING busmon:events busmon | head -1)\" = 0 ]"
bm_eq "no Redis connection lost to the fd limit" 0 "$(grep -c "Can't create socket" "$LOG")"

# ---- out of descriptors: accepting pauses, one line per burst -------------------------------
prlimit --pid "$A" --nofile=64:256
python3 "$SLOW" 127.0.0.1 "$HPORT" --connections 300 --interval 1 --duration 8 --reconnect \
    >"$BM_TMP/slow2.json" 2>&1
prlimit --pid "$A" --nofile=256:256 # (a scrape needs a descriptor too)
bm_check "/health answers once descriptors are back" bm_wait_for 10 "[ \$(code $BASE/health) = 200 ]"
errors=$(metric busmon_http_accept_errors_total)
bm_check "accept errors are counted (${errors:-none})" [ "${errors:-0}" -gt 0 ]
pauses=$(metric busmon_http_accept_pauses_total)
bm_check "accepting paused with back-off (${pauses:-0} pauses)" [ "${pauses:-0}" -gt 0 ]
bursts=$(grep -c 'HTTP: cannot accept connections' "$LOG")
bm_check "one log line per burst, not per error ($bursts lines, ${errors:-0} errors)" \
    [ "$bursts" -ge 1 -a "$bursts" -le 3 ]
bm_check "the burst's end is said" bm_wait_for 5 "grep -q 'accepting connections again' '$LOG'"
bm_check "the agent is alive" kill -0 "$A"
bm_cli XADD busmon:events '*' type command tx after-1 worker late >/dev/null
bm_check "ingest after the fd storm" bm_wait_for 10 "[ \"\$(lag)\" = 0 ] && [ \"\$(bm_cli_raw XPENDING busmon:events busmon | head -1)\" = 0 ]"

size=$(wc -c <"$LOG")
echo "note: agent log $size bytes, $(wc -l <"$LOG") lines"
bm_check "the log stays small ($size bytes)" [ "$size" -lt 65536 ]
bm_check "libevent's own accept error line never appears" bash -c "! grep -q 'Error from accept' '$LOG'"

# ---- beyond loopback without a token --------------------------------------------------------
P2=$(bm_free_port)
out=$("$AGENT" --http "0.0.0.0:$P2" --check-config --offline 2>&1)
bm_check "--check-config warns: 0.0.0.0 without a token" grep -q 'warning: HTTP listens on 0.0.0.0' <<<"$out"
out=$("$AGENT" --config "$BM_TMP/agent.yaml" --http "0.0.0.0:$P2" --check-config --offline 2>&1)
bm_check "... not with a token" bash -c "! grep -q 'warning: HTTP listens' <<<'$out'"
out=$("$AGENT" --http "127.0.0.1:$P2" --check-config --offline 2>&1)
bm_check "... nor on loopback" bash -c "! grep -q 'warning: HTTP listens' <<<'$out'"
"$AGENT" --http "0.0.0.0:$P2" --consumer open >"$BM_TMP/open.log" 2>&1 &
B=$!
BM_PIDS+=($B)
bm_check "the agent warns at start" bm_wait_for 10 "grep -q 'HTTP listens on 0.0.0.0:$P2, beyond this host, without a token' '$BM_TMP/open.log'"
kill "$B"

# ---- a token no client can send is refused at start -------------------------------------------
for bad in 'tok3n ' ' tok3n' $'to\x01k3n'; do
    printf '%s\n' "$bad" >"$BM_TMP/badtoken"
    printf 'http:\n  token_file: %s\n' "$BM_TMP/badtoken" >"$BM_TMP/badtoken.yaml"
    P3=$(bm_free_port)
    timeout 10 "$AGENT" --config "$BM_TMP/badtoken.yaml" --http "127.0.0.1:$P3" --consumer badtok \
        >"$BM_TMP/badtoken.log" 2>&1
    rc=$?
    bm_eq "token '$(printf %q "$bad")': the agent stops at start with exit 2" 2 "$rc"
    bm_check "... and says no Authorization header can carry it" \
        grep -q 'no Authorization header can carry it' "$BM_TMP/badtoken.log"
    out=$("$AGENT" --config "$BM_TMP/badtoken.yaml" --check-config --offline 2>&1)
    bm_eq "... --check-config refuses it too (exit 2)" "2 1" \
        "$?$(grep -q 'no Authorization header can carry it' <<<"$out" && echo ' 1')"
done

bm_finish
