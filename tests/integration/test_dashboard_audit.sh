#!/usr/bin/env bash
# The dashboard's script under a slow agent and hostile ids.
# 1. In node (tests/integration/dashboard_harness.js: fake DOM, timers and
#    network): one round of requests at a time, none while the last is
#    unanswered; a request never answered is given up and polling goes on;
#    the range selector never doubles the polling; the fragment's ids are
#    decoded once (a transaction or worker with &, +, = or % is the one
#    asked for), a malformed fragment does not stop the page.
# 2. In headless Chromium against a real agent: a transaction whose id holds
#    &, +, %, = and a space, and HTML in its worker and error, opened from
#    #tx=<id> as a row's link sets it: its own waterfall, every string text.
source "$(dirname "$0")/lib.sh"
bm_start_redis
HP=$(bm_free_port)
BASE="http://127.0.0.1:$HP"
unset BUSMON_HTTP

if command -v node >/dev/null 2>&1; then
    node "$BM_SRC/tests/integration/dashboard_harness.js" "$BM_SRC/agent/http/dashboard.html" \
        >"$BM_TMP/harness.out" 2>&1
    rc=$?
    # its lines count as this test's checks
    while read -r line; do
        case $line in
        "ok - "*) bm_check "${line#ok - }" true ;;
        "FAIL - "*) bm_check "${line#FAIL - }" false ;;
        esac
    done <"$BM_TMP/harness.out"
    bm_eq "the harness ran to its end" "$(grep -c '^FAIL - ' "$BM_TMP/harness.out")" "$rc"
else
    echo "note: node not installed (deploy/install-deps.sh installs it): the script checks skipped"
fi

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "note: chromium not installed (deploy/install-deps.sh installs it): browser checks skipped"
    bm_finish
fi
bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --http "127.0.0.1:$HP"
bm_check "HTTP is up" bm_wait_for 10 "curl -sf $BASE/health"
TX='pay&ref=1+2%41 x'
W='<img src=x onerror=document.title=1>'
now=$(date +%s)
ev() { jq -cn --arg tx "$TX" --arg w "$W" --argjson ts "$now" "$1"; }
bm_cli XADD busmon:events '*' json "$(ev '{type:"command",id:"c1",tx:$tx,worker:$w,step:"charge",ts:$ts}')" >/dev/null
bm_cli XADD busmon:events '*' json "$(ev '{type:"error",id:"e1",tx:$tx,cmd:"c1",worker:$w,step:"charge",ts:($ts+0.2),
    error:{type:"<b>Declined</b>",message:"<script>document.title=2</script>"}}')" >/dev/null
ENC=$(jq -rn --arg x "$TX" '$x|@uri')
bm_check "the agent holds the transaction" bm_wait_for 10 \
    "curl -s '$BASE/api/traces/$ENC' | jq -e '.event_count == 2'"

chrome() { timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$BM_TMP/chrome" --hide-scrollbars --window-size=1280,900 \
    --virtual-time-budget=6000 --enable-logging=stderr --v=0 "$@" 2>>"$BM_TMP/chromium.log"; }
chrome --dump-dom "$BASE/#tx=$ENC" >"$BM_TMP/wf.html"
D=$BM_TMP/wf.html
bm_check "the page loaded (data-loaded)" grep -q 'data-loaded="1"' "$D"
TX_HTML=$(sed 's/&/\&amp;/g' <<<"$TX")
bm_check "the waterfall's title is the transaction's id" grep -qF "<span id=\"wf-title\" class=\"mono\">$TX_HTML</span>" "$D"
bm_check "its waterfall: one bar, red" grep -q 'data-bars="1" data-errors="1"' "$D"
bm_check "its summary: failed, 2 events" grep -q '<div id="wf-summary" class="issues">failed · 200.0 ms · 1 commands, 1 failed · 2 events' "$D"
bm_check "the list shows the failed transaction by its id" grep -qF ">$TX_HTML</button>" "$D"
bm_check "no <img> made from the worker's name" bash -c "! grep -qi '<img' '$D'"
bm_check "no <script> made from the error message" bash -c "! grep -qF '<script>document.title' '$D'"
bm_check "the error shown as text" grep -qF '&lt;b&gt;Declined&lt;/b&gt;: &lt;script&gt;document.title=2' "$D"
bm_check "the title is untouched" grep -q '<title>busmon</title>' "$D"
bm_check "no script error" bash -c "! grep -q 'Uncaught' '$BM_TMP/chromium.log'"
bm_finish
