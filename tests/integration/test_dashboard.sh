#!/usr/bin/env bash
# The dashboard at / in headless Chromium (Debian `chromium`) against a
# running demo: the page is served self-contained (no external asset, a
# Content-Security-Policy that forbids any), it loads, renders every worker
# the agent reports with its health, the error patterns, the firing alerts,
# the consumer lag and both charts, each worker's health pill matching the
# agent's, no script error; a screenshot is written to
# build/test-artifacts/dashboard.png. Against a canned API (python3's
# http.server): /api/system's 404 gives "no history yet" and no banner,
# alerting off is said, and HTML in every string is shown as text. Also: the
# page shows a banner, not a blank screen, when the agent is gone.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
ART="$BM_BUILD/test-artifacts"
mkdir -p "$ART"
unset BUSMON_HTTP
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)

bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --block-ms 100 --rollup-interval 1 --health-interval 1 \
    --system-interval 500ms --alert-interval 500ms
A=$BM_LAST_PID
bm_check "HTTP is up" bm_wait_for 10 "curl -sf $BASE/health"
bm_bg "$BM_BUILD/busmon-demo-producer" --duration 60 --rate 400 --seed 21

# the page as served
code=$(curl -s -m 5 -D "$BM_TMP/headers" -o "$BM_TMP/page.html" -w '%{http_code}' "$BASE/")
bm_eq "/: 200" 200 "$code"
bm_check "/: text/html" grep -qi '^content-type: text/html; charset=utf-8' "$BM_TMP/headers"
bm_check "/: a CSP that allows nothing from elsewhere" grep -qi "^content-security-policy: default-src 'none'" "$BM_TMP/headers"
bm_eq "/index.html is the same page" "$(md5sum <"$BM_TMP/page.html")" "$(curl -s "$BASE/index.html" | md5sum)"
bm_eq "the page is agent/http/dashboard.html" "$(md5sum <"$BM_SRC/agent/http/dashboard.html")" "$(md5sum <"$BM_TMP/page.html")"
# no external assets: no src/href at all, no URL but the SVG namespace
bm_check "no src= or href= attributes" bash -c "! grep -Eiq '(src|href)=' '$BM_TMP/page.html'"
bm_check "no URL other than the SVG namespace" \
    bash -c "! grep -Eo 'https?://[^\"'\'' ]*' '$BM_TMP/page.html' | grep -vx 'http://www.w3.org/2000/svg'"
bm_check "every API call is relative to the agent" \
    bash -c "grep -o 'get(\"[^\"]*' '$BM_TMP/page.html' | grep -qv '^get(\"api/' && exit 1 || exit 0"

# wait for what the page should show: workers with health, a firing alert, history
bm_check "the agent knows the four workers" bm_wait_for 20 \
    "[ \$(curl -s '$BASE/api/workers?window=5m' | jq '.workers | length') -ge 4 ]"
bm_check "flaky is judged (degraded, with its issue)" bm_wait_for 20 \
    "curl -s '$BASE/api/workers?window=5m' | jq -e '.workers[] | select(.name == \"flaky\") | .issues | length > 0'"
bm_check "an alert fires (error_spike or high_error_rate on flaky)" bm_wait_for 30 \
    "curl -s $BASE/api/alerts | jq -e '.firing | length > 0'"
bm_check "a few system samples for the charts" bm_wait_for 10 \
    "curl -s '$BASE/api/system?window=1h' | jq -e '[.series[] | select(.events_per_sec != null)] | length >= 3'"

if [ -z "$CHROMIUM" ]; then
    echo "note: chromium not installed (deploy/install-deps.sh installs it): browser checks skipped"
    bm_finish
fi
chrome() { timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$BM_TMP/chrome" --hide-scrollbars --window-size=1280,900 \
    --virtual-time-budget=6000 --enable-logging=stderr --v=0 "$@" 2>>"$BM_TMP/chromium.log"; }
# the page's console goes to chromium.log: a canary that throws shows it is caught there
echo '<script>null.x</script>' >"$BM_TMP/canary.html"
chrome --dump-dom "file://$BM_TMP/canary.html" >/dev/null
bm_check "chromium logs an uncaught script error (canary)" grep -q 'Uncaught TypeError' "$BM_TMP/chromium.log"
: >"$BM_TMP/chromium.log"
# pill_is 'class="pill X">Y<' "STATE...": a pill whose class (its colour) is its
# text, and that text one of the states
pill_is() {
    local re='^class="pill ([a-z]+)">([a-z]+)<$'
    [[ $1 =~ $re ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
        [[ " $2 " == *" ${BASH_REMATCH[2]} "* ]]
}
# what the agent says just before and just after the page loads: a worker's
# health or a firing alert may change in between, the page must show one of them
curl -s "$BASE/api/workers?window=5m" >"$BM_TMP/workers-before.json"
curl -s "$BASE/api/alerts" >"$BM_TMP/alerts-before.json"
chrome --dump-dom "$BASE/" >"$BM_TMP/dom.html"
bm_eq "chromium rendered the page" 0 "$?"
curl -s "$BASE/api/workers?window=5m" >"$BM_TMP/workers.json"
curl -s "$BASE/api/alerts" >"$BM_TMP/alerts-after.json"
D=$BM_TMP/dom.html
bm_check "the page loaded data (data-loaded)" grep -q 'data-loaded="1"' "$D"
bm_check "'updated' in the CLI's dialect (ISO-8601 UTC, ms, Z)" \
    grep -qE '<span id="updated">[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z</span>' "$D"
bm_check "no 'cannot reach' banner shown" bash -c "! grep -q 'id=\"banner\" style=\"display: block' '$D'"
for n in $(jq -r '.workers[].name' "$BM_TMP/workers.json"); do
    bm_check "worker $n rendered" grep -q "data-worker=\"$n\"" "$D"
done
# each row's health pill: the state the agent reports, its class (the colour) the same
for n in $(jq -r '.workers[].name' "$BM_TMP/workers.json"); do
    row=$(grep -o "<tr data-worker=\"$n\">.*" "$D" | sed 's#</tr>.*##')
    shown=$(grep -Eo 'class="pill [a-z]+">[a-z]+<' <<<"$row" | head -1)
    api=$(jq -r --arg n "$n" '.workers[] | select(.name == $n) | .health' \
        "$BM_TMP/workers-before.json" "$BM_TMP/workers.json" | sort -u | tr '\n' ' ')
    bm_check "worker $n: health pill [$shown] is the agent's [$api] with its colour" pill_is "$shown" "$api"
done
bm_check "flaky shows its issue in words" bash -c \
    "grep -o '<tr data-worker=\"flaky\">.*' '$D' | sed 's#</tr>.*##' | grep -q 'error rate'"
for t in $(curl -s "$BASE/api/errors?window=1h" | jq -r '.errors[:3][].type'); do
    bm_check "error pattern $t rendered" grep -q ">$t<" "$D"
done
# alerts: the rows of the alerts table, against what fired before and after the load
tr -d '\n' <"$D" | grep -o '<table id="alerts">.*' | sed 's#</table>.*##' >"$BM_TMP/alerts-table.html"
shown=$(grep -o '</span></td><td>[^<]*</td>' "$BM_TMP/alerts-table.html" | sed 's#</span></td><td>##; s#</td>##' | sort -u)
both=$(comm -12 <(jq -r '.firing[].rule' "$BM_TMP/alerts-before.json" | sort -u) \
    <(jq -r '.firing[].rule' "$BM_TMP/alerts-after.json" | sort -u))
either=$(jq -r '.firing[].rule' "$BM_TMP/alerts-before.json" "$BM_TMP/alerts-after.json" | sort -u)
bm_check "an alert fired across the page load ($(echo $both))" [ -n "$both" ]
for r in $both; do
    bm_check "firing alert $r rendered in the alerts table" grep -qx "$r" <<<"$shown"
done
bm_check "every alert row ($(echo $shown)) is one the agent reported firing" \
    bash -c "[ -n \"\$1\" ] && [ -z \"\$(comm -23 <(echo \"\$1\") <(echo \"\$2\"))\" ]" - "$shown" "$either"
bm_check "consumer lag row for busmon:events" grep -q '<td>busmon:events</td>' "$D"
bm_eq "both charts drawn (two SVG paths)" 2 "$(grep -o '<path ' "$D" | wc -l)"
bm_check "header figures filled (events/s is a number)" grep -Eq 'id="k-rate">[0-9]+\.[0-9]<' "$D"

rm -f "$ART/dashboard.png"
chrome --screenshot="$ART/dashboard.png" "$BASE/" >/dev/null
bm_check "screenshot written" test -s "$ART/dashboard.png"
bm_eq "screenshot is a PNG" "89504e470d0a1a0a" "$(head -c 8 "$ART/dashboard.png" | od -An -tx1 | tr -d ' \n')"
bm_check "screenshot is 1280 x 900" bash -c \
    "[ \"\$(head -c 24 '$ART/dashboard.png' | tail -c 8 | od -An -tx1 | tr -d ' \n')\" = 0000050000000384 ]"
bm_check "screenshot is not a blank page (> 20 KB)" bash -c "[ \$(stat -c %s '$ART/dashboard.png') -gt 20000 ]"
echo "screenshot: $ART/dashboard.png"

bm_check "no script error on the live page" bash -c "! grep -q 'Uncaught' '$BM_TMP/chromium.log'"

# The same page against a canned API (python3's http.server on loopback)
# where /api/system does not exist (404, as before system metrics), alerting
# is off and every string carries HTML: the charts say "no history yet", the
# lag "n/a", nothing throws, and the strings are shown as text, never parsed.
PY=$(command -v /usr/bin/python3 python3 | head -1)
if [ -n "$PY" ]; then
    FX=$BM_TMP/fixture
    mkdir -p "$FX/api"
    cp "$BM_TMP/page.html" "$FX/index.html"
    echo '{"throughput_per_min": 120, "success_rate": 0.5, "p95_latency_ms": 12.4}' >"$FX/api/stats"
    cat >"$FX/api/workers" <<'JSON'
{"workers": [
 {"name": "<img src=x onerror=\"document.title='pwned'\">", "health": "failed",
  "issues": ["<script>document.title='pwned'</script>"], "executions": 3, "success_rate": 0,
  "p95_ms": 5, "in_flight": 0},
 {"name": "odd&worker", "health": "<b>bogus</b>", "issues": [], "executions": 1,
  "success_rate": 1, "p95_ms": null, "in_flight": 1}]}
JSON
    echo '{"errors": [{"type": "<b>Boom</b>", "count": 2, "trend": "rising", "workers": ["<i>w</i>"],
        "workers_more": 0, "example": "<u>x</u>"}]}' >"$FX/api/errors"
    echo '{"firing": [], "updated": null, "agent": "", "history": [], "enabled": false}' >"$FX/api/alerts"
    FPORT=$(bm_free_port)
    bm_bg "$PY" -m http.server --bind 127.0.0.1 --directory "$FX" "$FPORT"
    bm_check "fixture server is up" bm_wait_for 10 "curl -sf http://127.0.0.1:$FPORT/api/stats"
    bm_eq "fixture: /api/system is 404" 404 \
        "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FPORT/api/system?window=1h")"
    : >"$BM_TMP/chromium.log"
    chrome --dump-dom "http://127.0.0.1:$FPORT/" >"$BM_TMP/fx-dom.html"
    F=$BM_TMP/fx-dom.html
    bm_check "fixture: the page loaded (data-loaded)" grep -q 'data-loaded="1"' "$F"
    bm_check "fixture: no uncaught script error" bash -c "! grep -q 'Uncaught' '$BM_TMP/chromium.log'"
    bm_check "fixture: a 404 on /api/system is no banner" grep -q 'id="banner" style="display: none' "$F"
    bm_eq "fixture: both charts say 'no history yet'" 2 "$(grep -o '<text[^>]*>no history yet</text>' "$F" | wc -l)"
    bm_eq "fixture: no chart line" 0 "$(grep -o '<path ' "$F" | wc -l)"
    bm_check "fixture: consumer lag n/a" grep -q 'n/a (no system sample yet)' "$F"
    bm_check "fixture: alerting is disabled, said so" grep -q 'alerting is disabled' "$F"
    bm_check "fixture: header from /api/stats (2.0 events/s, 50.0 %, 12 ms)" bash -c \
        "grep -q 'id=\"k-rate\">2.0<' '$F' && grep -q 'id=\"k-success\">50.0 %<' '$F' && grep -q 'id=\"k-p95\">12 ms<' '$F'"
    bm_check "fixture: the title is untouched" grep -q '<title>busmon</title>' "$F"
    bm_check "fixture: no <img> element made from a worker name" bash -c "! grep -qi '<img' '$F'"
    bm_check "fixture: the worker name shown as text" grep -qF '<td>&lt;img src=x onerror="document.title=' "$F"
    bm_check "fixture: the issue shown as text, not a script" bash -c \
        "grep -qF '&lt;script&gt;document.title' '$F' && ! grep -qF '<script>document.title' '$F'"
    bm_check "fixture: error type, workers, example as text" bash -c \
        "grep -qF '<td>&lt;b&gt;Boom&lt;/b&gt;</td>' '$F' && grep -qF '&lt;i&gt;w&lt;/i&gt;' '$F' && ! grep -qF '<u>x</u>' '$F'"
    bm_check "fixture: an unknown health is a grey 'unknown' pill showing its text" \
        grep -qF 'class="pill unknown">&lt;b&gt;bogus&lt;/b&gt;<' "$F"
    bm_check "fixture: a failed worker is a red pill" grep -qF 'class="pill failed">failed<' "$F"
    bm_check "fixture: & in a name is text" grep -qF '<td>odd&amp;worker</td>' "$F"
else
    echo "note: python3 not installed: the canned-API checks are skipped"
fi

# the agent gone: the page says so instead of going blank
cp "$BM_TMP/page.html" "$BM_TMP/offline.html"
kill "$A"; bm_wait_for 10 "! kill -0 $A"
chrome --allow-file-access-from-files --dump-dom "file://$BM_TMP/offline.html" >"$BM_TMP/offline-dom.html"
bm_check "offline: the banner says the agent cannot be reached" \
    grep -q 'cannot reach busmon-agent' "$BM_TMP/offline-dom.html"
bm_check "offline: the banner is shown" grep -q 'id="banner" style="display: block' "$BM_TMP/offline-dom.html"
bm_finish
