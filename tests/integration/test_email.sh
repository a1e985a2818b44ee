#!/usr/bin/env bash
# E-mail notifications (issue 18): agent/outputs/email.c against an SMTP
# server on 127.0.0.1 (tests/integration/smtp_receiver.py, Debian's
# python3-aiosmtpd) that asks for a login:
#   1. the demo workload makes high_error_rate fire for flaky: one mail with
#      From, To, a subject naming the rule, severity and worker, a body with
#      the value against the threshold, the start time (ISO-8601 UTC, ms) and
#      the dashboard link; then the resolve mail with its end time;
#   2. a second sink limited to 1 mail in 10 s: the alerts firing together
#      beyond the first are not mailed, counted on /metrics
#      (busmon_email_rate_limited_total), and listed in one summary mail;
#   3. the password (from password_file) is never in the log or the summary;
#   4. a recipient the server refuses (550): given up, not retried (one of several:
#      skipped, the others get the mail, said once); a server
#      without STARTTLS and `tls: required`: given up; a second server that
#      requires STARTTLS (a self-signed certificate given as `ca_cert`): the
#      mail arrives over TLS, logged in, none in clear;
#   5. a server that accepts mail but never answers QUIT does not hold the
#      stop (bm-webhook-send exits within seconds, both mails delivered);
#      a description with line breaks: every line of the mail ends in CRLF;
#      at the stop, the summary of what the rate limit held back is sent when
#      the limit frees before the deadline, else given up and said; a subject
#      beyond ASCII is sent as RFC 2047 encoded words;
#   6. bad keys are refused with the reason.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
PY=/usr/bin/python3
"$PY" -c 'import aiosmtpd' 2>/dev/null || {
    echo "SKIP: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
    exit 77
}
bm_start_redis
BUSMON="$BM_BUILD/busmon"
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"
RECV="$(dirname "$0")/smtp_receiver.py"
PASS="Sm7pS3cretPassw0rd"

# mails: every mail the server accepted, one JSON line each
mails() { cat "$BM_TMP/mail.jsonl" 2>/dev/null; }
# mail_to ADDR SUBJECT_WORD: the data of the first mail to ADDR whose subject has the word
mail_to() {
    mails | jq -r --arg a "$1" --arg w "$2" \
        'select((.to | index($a)) and (.data | test("Subject: [^\r\n]*" + $w))) | .data' | head -c 20000
}

"$PY" "$RECV" --out "$BM_TMP/mail.jsonl" --port-file "$BM_TMP/smtp.port" --max-seconds 200 \
    --user alerts --password "$PASS" --reject-rcpt nobody@example.org >"$BM_TMP/smtp.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 15 "[ -s '$BM_TMP/smtp.port' ]" || { echo "the SMTP server did not start"; cat "$BM_TMP/smtp.log"; exit 1; }
SPORT=$(cat "$BM_TMP/smtp.port")
# a second server that offers STARTTLS and requires it (a self-signed certificate
# for 127.0.0.1, given to the sink as ca_cert)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$BM_TMP/tls.key" -out "$BM_TMP/tls.crt" 2>/dev/null ||
    echo "FAIL - openssl could not make a certificate"
"$PY" "$RECV" --out "$BM_TMP/tls-mail.jsonl" --port-file "$BM_TMP/tls.port" --max-seconds 200 \
    --user alerts --password "$PASS" --tls-cert "$BM_TMP/tls.crt" --tls-key "$BM_TMP/tls.key" \
    >"$BM_TMP/tls-smtp.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 15 "[ -s '$BM_TMP/tls.port' ]" || { echo "the STARTTLS server did not start"; cat "$BM_TMP/tls-smtp.log"; exit 1; }
TPORT=$(cat "$BM_TMP/tls.port")
printf '%s\n' "$PASS" >"$BM_TMP/smtp.pass"
chmod 600 "$BM_TMP/smtp.pass"
HP=$(bm_free_port)

cat >"$BM_TMP/email.yaml" <<EOF
alerts:
  rules:
    - name: high_error_rate
      window: 1m
      for: 0s
  disable: [critical_cpu]
  sinks:
    - name: mail
      type: email
      url: smtp://127.0.0.1:$SPORT
      username: alerts
      password_file: $BM_TMP/smtp.pass
      from: busmon@example.org
      to: oncall@example.org, team@example.org
      dashboard_url: http://127.0.0.1:$HP/
    - name: mail-limited
      type: email
      url: smtp://127.0.0.1:$SPORT
      username: alerts
      password_file: $BM_TMP/smtp.pass
      from: busmon@example.org
      to: limited@example.org
      rate_limit: 1/10s
    - name: mail-refused
      type: email
      url: smtp://127.0.0.1:$SPORT
      username: alerts
      password_file: $BM_TMP/smtp.pass
      from: busmon@example.org
      to: nobody@example.org
      backoff: 100ms
    - name: mail-starttls
      type: email
      url: smtp://127.0.0.1:$TPORT
      tls: required
      ca_cert: $BM_TMP/tls.crt
      username: alerts
      password_file: $BM_TMP/smtp.pass
      from: busmon@example.org
      to: starttls@example.org
    - name: mail-tls
      type: email
      url: smtp://127.0.0.1:$SPORT
      tls: required
      from: busmon@example.org
      to: tls@example.org
      backoff: 100ms
EOF
bm_eq "--check-config accepts the e-mail sinks" 0 \
    "$("$AGENT" --config "$BM_TMP/email.yaml" --check-config --offline >"$BM_TMP/check.out" 2>&1; echo $?)"
bm_check "--check-config lists the sink as e-mail, URL without secrets" \
    grep -qxF "  sink mail: email smtp://127.0.0.1:$SPORT" "$BM_TMP/check.out"

"$AGENT" --config "$BM_TMP/email.yaml" --block-ms 100 --rollup-interval 1 --health-interval 1 \
    --alert-interval 500ms --consumer agent1 --summary "$BM_TMP/summary.json" --http "127.0.0.1:$HP" \
    >"$BM_TMP/agent.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$PRODUCER" --count 300 --rate 1500 --seed 7 >/dev/null 2>&1 || echo "FAIL - the producer failed"

# --- 1. the firing mail -----------------------------------------------------------
bm_check "a FIRING mail for high_error_rate reaches oncall" bm_wait_for 20 \
    "mail_to oncall@example.org 'FIRING.*high_error_rate' | grep -q ."
M=$(mail_to oncall@example.org 'FIRING.*high_error_rate' | tr -d '\r')
bm_eq "envelope: from busmon@, to both recipients, logged in as alerts" \
    "<busmon@example.org> oncall@example.org,team@example.org alerts" \
    "$(mails | jq -r 'select(.to | index("oncall@example.org")) | "<\(.from)> \(.to | join(",")) \(.user)"' | head -1)"
bm_check "header From" grep -qx 'From: <busmon@example.org>' <<<"$M"
bm_check "header To: both" grep -qx 'To: oncall@example.org, team@example.org' <<<"$M"
bm_check "header Subject: state, severity, rule, worker, value vs threshold" \
    grep -Eq '^Subject: \[busmon\] FIRING warning: high_error_rate worker=flaky \([0-9.]+ > 0\.1\)$' <<<"$M"
bm_check "header Date" grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$' <<<"$M"
bm_check "header Content-Type text/plain utf-8" grep -qx 'Content-Type: text/plain; charset=utf-8' <<<"$M"
bm_check "body: rule" grep -Eq '^Rule: +high_error_rate$' <<<"$M"
bm_check "body: severity" grep -Eq '^Severity: +warning$' <<<"$M"
bm_check "body: worker" grep -Eq '^Worker: +flaky$' <<<"$M"
bm_check "body: value with its condition" \
    grep -Eq '^Value: +0\.[0-9]+ \(condition: error_rate over 1m > 0\.1\)$' <<<"$M"
bm_check "body: threshold" grep -Eq '^Threshold: +0\.1$' <<<"$M"
bm_check "body: started, ISO-8601 UTC with milliseconds" \
    grep -Eq '^Started: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' <<<"$M"
bm_check "body: the dashboard link" grep -qx "Dashboard:   http://127.0.0.1:$HP/" <<<"$M"

# --- 2. the resolve mail ----------------------------------------------------------
F=$("$BUSMON" worker flaky --json --window 1m | jq '.stats.failures')
N=$((10 * F + 20))
for i in $(seq "$N"); do
    echo "XADD busmon:events * type result tx ok-$i worker flaky ok true duration_ms 15"
done | redis-cli -p "$BM_PORT" >/dev/null
bm_check "a RESOLVED mail for high_error_rate reaches oncall" bm_wait_for 25 \
    "mail_to oncall@example.org 'RESOLVED.*high_error_rate' | grep -q ."
R=$(mail_to oncall@example.org 'RESOLVED.*high_error_rate' | tr -d '\r')
bm_check "resolve subject" grep -Eq '^Subject: \[busmon\] RESOLVED warning: high_error_rate worker=flaky$' <<<"$R"
bm_check "resolve body: started" grep -Eq '^Started: +[0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z$' <<<"$R"
bm_check "resolve body: resolved" grep -Eq '^Resolved: +[0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z$' <<<"$R"
bm_check "resolve body: the value, now under the threshold" grep -Eq '^Value: +0(\.0[0-9]*)? ' <<<"$R"

# --- 3. the rate limit ---------------------------------------------------------------
bm_check "/metrics: busmon_email_rate_limited_total counts what was held back" bm_wait_for 5 \
    "curl -s -m 5 http://127.0.0.1:$HP/metrics | grep -Eq '^busmon_email_rate_limited_total [1-9]'"
bm_eq "the rate limit is logged once" 1 "$(grep -c "email 'mail-limited': over its rate limit of 1/10s mails" "$BM_TMP/agent.log")"
first=$(mails | jq -r 'select(.to | index("limited@example.org")) | .data' | grep -m1 '^Subject: ')
bm_check "the limited sink's first mail is an alert" grep -Eq 'FIRING|RESOLVED' <<<"$first"
bm_check "a summary mail lists what the limit held back" bm_wait_for 25 \
    "mail_to limited@example.org 'not mailed' | grep -q 'rate limit 1/10s'"
S=$(mail_to limited@example.org 'not mailed' | tr -d '\r')
bm_check "the summary names each held-back notification" grep -Eq '^  (FIRING|RESOLVED|STILL FIRING) [a-z_]+' <<<"$S"
n_limited=$(mails | jq -r 'select(.to | index("limited@example.org")) | 1' | wc -l)
bm_check "the limited sink sent few mails ($n_limited: an alert, a summary, at most one more)" \
    test "$n_limited" -ge 2 -a "$n_limited" -le 3

# --- 4. refusals -----------------------------------------------------------------------
bm_check "a refused recipient (550) is given up" bm_wait_for 10 \
    "curl -s -m 5 http://127.0.0.1:$HP/metrics | grep -q '^busmon_output_failed_total{output=\"mail-refused\",type=\"email\"} [1-9]'"
bm_check "... logged with the SMTP code" grep -q "email 'mail-refused': smtp://127.0.0.1:$SPORT: .*(SMTP 550" "$BM_TMP/agent.log"
bm_eq "... never retried" 0 \
    "$(curl -s -m 5 "http://127.0.0.1:$HP/metrics" | sed -n 's/^busmon_output_retried_total{output="mail-refused",type="email"} //p')"
bm_check "tls: required against a server without STARTTLS: given up" bm_wait_for 10 \
    "curl -s -m 5 http://127.0.0.1:$HP/metrics | grep -q '^busmon_output_failed_total{output=\"mail-tls\",type=\"email\"} [1-9]'"
bm_eq "nothing was mailed without TLS" 0 "$(mails | jq -r 'select(.to | index("tls@example.org")) | 1' | wc -l)"
bm_check "STARTTLS (tls: required, ca_cert): the FIRING mail arrives over TLS, logged in" bm_wait_for 20 \
    "jq -s -e 'any(.[]; (.to | index(\"starttls@example.org\")) and .tls == true and .user == \"alerts\" and (.data | contains(\"] FIRING \")))' '$BM_TMP/tls-mail.jsonl' >/dev/null 2>&1"
bm_eq "no mail reached the STARTTLS server in clear" 0 "$(jq -r 'select(.tls != true) | 1' "$BM_TMP/tls-mail.jsonl" 2>/dev/null | wc -l)"

kill -TERM "$A"
bm_wait_for 15 "! kill -0 $A 2>/dev/null" || echo "FAIL - the agent did not stop"
bm_check "the exit log counts the sink's mails" grep -Eq "sink mail \(email\): [2-9][0-9]* sent" "$BM_TMP/agent.log"
bm_check "the password is in no log line, summary or check output" \
    bash -c "! grep -q '$PASS' '$BM_TMP/agent.log' '$BM_TMP/summary.json' '$BM_TMP/check.out'"

# --- 5. a server that never answers QUIT does not hold the stop --------------------
"$PY" "$RECV" --out "$BM_TMP/noquit-mail.jsonl" --port-file "$BM_TMP/noquit.port" --max-seconds 60 \
    --no-quit-reply >"$BM_TMP/noquit-smtp.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 15 "[ -s '$BM_TMP/noquit.port' ]" || { echo "the silent-QUIT server did not start"; cat "$BM_TMP/noquit-smtp.log"; exit 1; }
NPORT=$(cat "$BM_TMP/noquit.port")
t0=$(date +%s%N)
timeout 30 "$BM_BUILD/bm-webhook-send" --set type=email --url "smtp://127.0.0.1:$NPORT" \
    --set from=a@example.org --set to=b@example.org --count 2 --deadline-ms 3000 \
    >"$BM_TMP/noquit.out" 2>"$BM_TMP/noquit.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
bm_eq "silent QUIT: the sender exits 0 (not killed by timeout 30)" 0 "$rc"
bm_check "silent QUIT: the sender exits within 5 s ($ms ms)" test "$ms" -lt 5000
bm_eq "silent QUIT: both mails were delivered" 2 "$(wc -l <"$BM_TMP/noquit-mail.jsonl" 2>/dev/null || echo 0)"

# --- 5b. a multi-line description (YAML's `description: |`) --------------------------
timeout 30 "$BM_BUILD/bm-webhook-send" --set type=email --url "smtp://127.0.0.1:$NPORT" \
    --set from=a@example.org --set to=multi@example.org --count 1 --deadline-ms 3000 \
    --description $'Error rate is high.\nRunbook: https://wiki.example.org/rb\r\n.\nlast line\n' \
    >"$BM_TMP/multi.out" 2>"$BM_TMP/multi.err"
rc=$?
bm_eq "multi-line description: the mail is sent" "0 1 0" "$rc $(jq -r '"\(.sent) \(.failed)"' "$BM_TMP/multi.out")"
jq -c 'select(.to | index("multi@example.org"))' "$BM_TMP/noquit-mail.jsonl" >"$BM_TMP/multi.jsonl"
bm_eq "multi-line description: one mail arrived" 1 "$(wc -l <"$BM_TMP/multi.jsonl")"
bm_eq "multi-line description: no bare LF or CR in the mail (SMTP wants CRLF)" false \
    "$(jq -r '.data | test("[^\r]\n|\r[^\n]")' "$BM_TMP/multi.jsonl")"
bm_eq "multi-line description: every line of it, under the first" \
    "Description: Error rate is high.|             Runbook: https://wiki.example.org/rb|             .|             last line|Agent:       webhook-send" \
    "$(jq -r .data "$BM_TMP/multi.jsonl" | tr -d '\r' | sed -n '/^Description:/,/^Agent:/p' | paste -sd '|')"

# --- 5c. one recipient refused among several: the others still get the mail -------
timeout 30 "$BM_BUILD/bm-webhook-send" --set type=email --url "smtp://127.0.0.1:$SPORT" \
    --set username=alerts --set "password_file=$BM_TMP/smtp.pass" --set from=a@example.org \
    --set "to=split1@example.org, nobody@example.org, split2@example.org" --count 2 \
    --deadline-ms 5000 >"$BM_TMP/split.out" 2>"$BM_TMP/split.err"
rc=$?
bm_eq "one of 3 recipients refused: both mails sent, none failed" "0 2 0 0" \
    "$rc $(jq -r '"\(.sent) \(.failed) \(.retried)"' "$BM_TMP/split.out")"
bm_eq "one of 3 recipients refused: the other two got both mails" \
    '["split1@example.org","split2@example.org"] ["split1@example.org","split2@example.org"]' \
    "$(mails | jq -c 'select(.to | index("split1@example.org")) | .to' | paste -sd ' ')"
bm_eq "one of 3 recipients refused: said once, with the address and the answer" 1 \
    "$(grep -c 'mail sent to 2 of 3 recipient(s): <nobody@example.org> refused: 550' "$BM_TMP/split.err")"

# --- 5d. the stop: the summary of what the rate limit held back ---------------------
# limit_run NAME RATE DEADLINE_MS: 5 alerts to NAME@example.org, then the flush
limit_run() {
    timeout 30 "$BM_BUILD/bm-webhook-send" --set type=email --url "smtp://127.0.0.1:$NPORT" \
        --set from=a@example.org --set "to=$1@example.org" --set "rate_limit=$2" --count 5 \
        --deadline-ms "$3" >"$BM_TMP/$1.out" 2>"$BM_TMP/$1.err"
    LIMIT_RC=$?
}
limit_run limit2s 2/2s 5000
bm_eq "rate 2/2s, stop within 5 s: 2 mails and the summary sent, none given up" "0 3 0 0" \
    "$LIMIT_RC $(jq -r '"\(.sent) \(.failed) \(.abandoned)"' "$BM_TMP/limit2s.out")"
bm_eq "rate 2/2s: the summary names the 3 held back" \
    "[busmon] 3 alert notification(s) not mailed (rate limit 2/2s)" \
    "$(jq -r 'select(.to | index("limit2s@example.org")) | .data' "$BM_TMP/noquit-mail.jsonl" |
        tr -d '\r' | sed -n 's/^Subject: //p' | tail -1)"
limit_run limit1m 2/1m 1000
bm_eq "rate 2/1m, stop within 1 s: 2 mails sent, the summary given up" "0 2 1 1" \
    "$LIMIT_RC $(jq -r '"\(.sent) \(.failed) \(.abandoned)"' "$BM_TMP/limit1m.out")"
bm_eq "rate 2/1m: said at the stop" 1 \
    "$(grep -c "the summary of 3 notification(s) over the rate limit of 2/1m was not mailed" "$BM_TMP/limit1m.err")"

# --- 5e. a subject beyond ASCII (a worker's name): RFC 2047 encoded words -------------
W="Zahlungsprüfung-日本語-заказы-üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü"
timeout 30 "$BM_BUILD/bm-webhook-send" --set type=email --url "smtp://127.0.0.1:$NPORT" \
    --set from=a@example.org --set to=utf8@example.org --count 1 --label "worker=$W" \
    --deadline-ms 5000 >"$BM_TMP/utf8.out" 2>"$BM_TMP/utf8.err"
rc=$?
bm_eq "UTF-8 subject: the mail is sent" "0 1" "$rc $(jq -r .sent "$BM_TMP/utf8.out")"
jq -c 'select(.to | index("utf8@example.org"))' "$BM_TMP/noquit-mail.jsonl" >"$BM_TMP/utf8.jsonl"
bm_eq "UTF-8 subject: the headers are ASCII" 0 \
    "$(jq -r .data "$BM_TMP/utf8.jsonl" | tr -d '\r' | sed '/^$/q' | LC_ALL=C grep -c '[^ -~]')"
bm_eq "UTF-8 subject: each encoded word is whole characters, and they read back" \
    "[busmon] FIRING warning: webhook_test seq=1 worker=$W (1 > 0.1)" \
    "$("$PY" -c '
import base64, email, json, re, sys
from email.header import decode_header, make_header
m = email.message_from_string(json.loads(open(sys.argv[1]).readline())["data"])
for w in re.findall(r"=\?UTF-8\?B\?([^?]*)\?=", m["Subject"]):
    base64.b64decode(w).decode("utf-8")  # raises on a character cut in two
print(str(make_header(decode_header(m["Subject"]))))' "$BM_TMP/utf8.jsonl" 2>&1)"

# --- 6. bad keys ---------------------------------------------------------------------
bad() { # bad WHY KEY:VALUE...
    local why=$1 kv
    shift
    { printf 'alerts:\n  sinks:\n    - type: email\n'; for kv in "$@"; do printf '      %s\n' "$kv"; done; } >"$BM_TMP/bad.yaml"
    "$AGENT" --config "$BM_TMP/bad.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/bad.err"
    local rc=$?
    bm_eq "refused ($why): exit 2" 2 "$rc"
    bm_check "refused ($why): the reason" grep -qF "$why" "$BM_TMP/bad.err"
}
bad "'url' must start with smtp:// or smtps://" "url: http://x" "from: a@b" "to: c@d"
bad "'from' is required" "url: smtp://x" "to: c@d"
bad "'to': 'nobody' is not an address" "url: smtp://x" "from: a@b" "to: nobody"
bad "'tls' must be try, required or none" "url: smtp://x" "from: a@b" "to: c@d" "tls: maybe"
bad "'rate_limit' must be N/PERIOD" "url: smtp://x" "from: a@b" "to: c@d" "rate_limit: 10/0s"
bad "from format generic" "url: smtp://x" "from: a@b" "to: c@d" "format: slack"
printf 'SECRETTOKEN-abc\n' >"$BM_TMP/secret.line"
bad "'url' must start with smtp:// or smtps://" "url_file: $BM_TMP/secret.line" "from: a@b" "to: c@d"
bm_check "url_file: the refusal does not show the secret" bash -c "! grep -q SECRETTOKEN '$BM_TMP/bad.err'"
bad "'to': '(from to_file)' is not an address" "url: smtp://x" "from: a@b" "to_file: $BM_TMP/secret.line"
bm_check "to_file: the refusal does not show the secret" bash -c "! grep -q SECRETTOKEN '$BM_TMP/bad.err'"
bm_finish
