#!/usr/bin/env bash
# The HTTP surface's edges, against a real Redis:
#   - a %00 in a path segment (/api/workers/NAME, /api/traces/TX) or in a
#     query value is 400: decoded, the name would end at the NUL and read as
#     another ("fast%00x" was the worker "fast");
#   - a parameter given twice is 400 (the first one used to win, silently);
#     /api/traces and /api/metrics refuse a parameter they do not know (a
#     typo such as limt= or min_duraton= used to return everything), the
#     rollup routes still ignore one, as the README says;
#   - the duration histogram's le values are the configured bounds exactly
#     (%g cut 1.234567 s and 1.234568 s to one "1.23457");
#   - a business metric's tag key whose label name, once made of
#     [a-zA-Z0-9_], starts with "__" ("é", "..x") gets tag_ in front, as one
#     written "__x" does (Prometheus reserves "__" names);
#   - a request with "Expect: 100-continue" whose client waits before
#     sending its body is answered at once, not with a 408 at the deadline;
#   - /api/traces matching nothing is 200 (under the sanitizer build, the
#     qsort of its NULL list of hits stopped the agent).
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
unset BUSMON_HTTP

# code PATH: the HTTP status, the body in $BM_TMP/body
code() { curl -s -m 5 -o "$BM_TMP/body" -w '%{http_code}' "$BASE$1"; }
error_has() { jq -r .error "$BM_TMP/body" | grep -qF -- "$1"; }

BUSMON_HTTP_DURATION_BUCKETS="1.234567s,1.234568s,2" bm_bg "$AGENT" --http "127.0.0.1:$HPORT" \
    --block-ms 100 --rollup-interval 1 --log-level warn
A=$BM_LAST_PID
bm_wait_for 10 "curl -sf $BASE/health" || { echo "agent did not start"; cat "$BM_TMP"/*.log; exit 1; }

for w in fast 'a+b c/d'; do
    bm_cli XADD busmon:events '*' type command transaction_id "tx-$w" correlation_id "tx-$w.s" \
        worker "$w" >/dev/null
    bm_cli XADD busmon:events '*' type result transaction_id "tx-$w" correlation_id "tx-$w.s" \
        worker "$w" ok true duration_ms 1234.5675 >/dev/null
done
bm_cli XADD busmon:events '*' type metric name odd_tags value 1 kind gauge tag.é 1 tag...x 2 \
    tag.__y 3 tag.ok 4 >/dev/null
bm_check "the events are in" bm_wait_for 10 \
    "[ \$(code /api/workers/fast) = 200 ] && curl -s $BASE/metrics | grep -q '^busmon_custom_odd_tags'"

# ---- %00 ------------------------------------------------------------------------
bm_eq "/api/workers/fast: 200" 200 "$(code /api/workers/fast)"
bm_eq "/api/workers/fast%00x: 400, not the worker fast" 400 "$(code /api/workers/fast%00x)"
bm_check "... saying why" error_has "NUL byte"
bm_eq "/api/traces/tx-fast%00x: 400, not the trace tx-fast" 400 "$(code /api/traces/tx-fast%00x)"
bm_eq "/api/traces?worker=fa%00st: 400, not a search for 'fa'" 400 "$(code '/api/traces?worker=fa%00st')"
bm_eq "/api/stats?window=1h%00x: 400" 400 "$(code '/api/stats?window=1h%00x')"
bm_eq "a worker named 'a+b c/d' is /api/workers/a+b%20c%2Fd" "200 a+b c/d" \
    "$(code '/api/workers/a+b%20c%2Fd') $(jq -r .name "$BM_TMP/body")"
bm_eq "%2500 is the text %00, not a NUL: 200" 200 "$(code '/api/traces?worker=x%2500')"
bm_eq "a search that matches nothing: 200, count 0 (no qsort of NULL)" "200 0" \
    "$(code '/api/traces?worker=nobody') $(jq .count "$BM_TMP/body")"

# ---- a parameter twice, an unknown one ---------------------------------------------
bm_eq "/api/traces?limit=5&limit=abc: 400" 400 "$(code '/api/traces?limit=5&limit=abc')"
bm_check "... naming the parameter" error_has "'limit' is given more than once"
bm_eq "/api/traces?status=failed&status=completed: 400" 400 \
    "$(code '/api/traces?status=failed&status=completed')"
bm_eq "/api/stats?window=1h&window=junk: 400" 400 "$(code '/api/stats?window=1h&window=junk')"
bm_eq "/api/metrics?name=a&name=b: 400" 400 "$(code '/api/metrics?name=a&name=b')"
bm_eq "/api/metrics?tag=a=1&tag=b=2: 200 (tag repeats)" 200 "$(code '/api/metrics?tag=a=1&tag=b=2')"
bm_eq "/api/traces?limt=5: 400" 400 "$(code '/api/traces?limt=5')"
bm_check "... naming it and the known ones" error_has "unknown parameter 'limt' (status, worker"
bm_eq "/api/traces?min_duraton=2s: 400, not every trace" 400 "$(code '/api/traces?min_duraton=2s')"
bm_eq "/api/metrics?nmae=x: 400" 400 "$(code '/api/metrics?nmae=x')"
bm_eq "/api/traces?status=completed&limit=5: 200" "200 2" \
    "$(code '/api/traces?status=completed&limit=5') $(jq .count "$BM_TMP/body")"
bm_eq "/api/traces?window=1h: still 400 with its own reason" 400 "$(code '/api/traces?window=1h')"
bm_check "... since= says how far back" error_has "since="
bm_eq "the dashboard's /api/metrics?window=5m&limit=50: 200" 200 "$(code '/api/metrics?window=5m&limit=50')"
bm_eq "/api/workers?window=1h&x=1: 200 (the rollup routes ignore what they do not read)" 200 \
    "$(code '/api/workers?window=1h&x=1')"
bm_eq "/health?probe: 200" 200 "$(code '/health?probe')"

# ---- /metrics --------------------------------------------------------------------
curl -s "$BASE/metrics" >"$BM_TMP/metrics.txt"
M=$BM_TMP/metrics.txt
les=$(sed -n 's/^busmon_worker_duration_seconds_bucket{worker="fast",le="\([^"]*\)"}.*/\1/p' "$M" | paste -sd' ')
bm_eq "le values are the bounds exactly" "1.234567 1.234568 2 +Inf" "$les"
bm_eq "... their counts cumulative" "0 1 1 1" \
    "$(sed -n 's/^busmon_worker_duration_seconds_bucket{worker="fast",le="[^"]*"} //p' "$M" | paste -sd' ')"
line=$(grep '^busmon_custom_odd_tags' "$M")
echo "     $line"
bm_check "no label name of a tag starts with __" bash -c "! grep -Eq '[{,]__' <<<'$line'"
bm_eq "é and ..x are tag___ and tag___x; __y tag___y; ok stays" \
    'ok="4" tag___="1" tag___x="2" tag___y="3"' \
    "$(sed 's/.*{\(.*\)}.*/\1/' <<<"$line" | tr ',' '\n' | LC_ALL=C sort | paste -sd' ')"
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts the page" bash -c "promtool check metrics <'$M'"
fi
# ---- Expect: 100-continue -----------------------------------------------------------
# raw: the status line and the seconds it took, for a head sent without its body
# (a client that waits for 100 Continue before sending it)
raw() {
    python3 - "$HPORT" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t = time.time()
s.sendall(sys.argv[2].encode().replace(b"|", b"\r\n"))
try:
    line = s.recv(4096).split(b"\r\n")[0].decode()
except socket.timeout:
    line = "(nothing)"
print(line, "in %.0f s" % (time.time() - t))
PY
}
bm_eq "POST with Expect: 100-continue, no body yet: 405 at once, not 408 at the deadline" \
    "HTTP/1.1 405 Method Not Allowed in 0 s" \
    "$(raw 'POST /api/stats HTTP/1.1|Host: x|Content-Length: 100|Expect: 100-continue||')"
bm_eq "GET /health with Expect: 100-continue: 200 at once" "HTTP/1.1 200 OK in 0 s" \
    "$(raw 'GET /health HTTP/1.1|Content-Length: 5|expect: 100-Continue||')"
bm_eq "a body announced without Expect is still waited for: 408" \
    "HTTP/1.1 408 Request Timeout" "$(raw 'POST /health HTTP/1.1|Content-Length: 5||' | sed 's/ in .*//')"
bm_check "the agent is alive" kill -0 "$A"
bm_finish
