#!/usr/bin/env bash
# The dashboard at / in headless Chromium (Debian `chromium`) against a
# running demo: the page is served self-contained (no external asset, a
# Content-Security-Policy that forbids any), it loads, renders every worker
# the agent reports with its health, the error patterns, the firing alerts,
# the consumer lag and both charts; a screenshot is written to
# build/test-artifacts/dashboard.png. Also: the page shows a banner, not a
# blank screen, when the agent is gone.
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
bm_eq "the page is agent/dashboard.html" "$(md5sum <"$BM_SRC/agent/dashboard.html")" "$(md5sum <"$BM_TMP/page.html")"
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
    --virtual-time-budget=6000 "$@" 2>>"$BM_TMP/chromium.log"; }
chrome --dump-dom "$BASE/" >"$BM_TMP/dom.html"
bm_eq "chromium rendered the page" 0 "$?"
D=$BM_TMP/dom.html
bm_check "the page loaded data (data-loaded)" grep -q 'data-loaded="1"' "$D"
bm_check "no 'cannot reach' banner shown" bash -c "! grep -q 'id=\"banner\" style=\"display: block' '$D'"
curl -s "$BASE/api/workers?window=5m" >"$BM_TMP/workers.json"
for n in $(jq -r '.workers[].name' "$BM_TMP/workers.json"); do
    bm_check "worker $n rendered" grep -q "data-worker=\"$n\"" "$D"
done
# each row's health pill: the class carries the state (the colour)
for n in $(jq -r '.workers[].name' "$BM_TMP/workers.json"); do
    row=$(grep -o "<tr data-worker=\"$n\">.*" "$D" | sed 's#</tr>.*##')
    bm_check "worker $n: a coloured health pill (healthy/degraded/failed/inactive/unknown)" \
        bash -c "grep -Eq 'class=\"pill (healthy|degraded|failed|inactive|unknown)\">(healthy|degraded|failed|inactive|unknown)<' <<<'$row'"
done
bm_check "flaky shows its issue in words" bash -c \
    "grep -o '<tr data-worker=\"flaky\">.*' '$D' | sed 's#</tr>.*##' | grep -q 'error rate'"
for t in $(curl -s "$BASE/api/errors?window=1h" | jq -r '.errors[:3][].type'); do
    bm_check "error pattern $t rendered" grep -q ">$t<" "$D"
done
rule=$(curl -s $BASE/api/alerts | jq -r '.firing[0].rule')
bm_check "firing alert $rule rendered" grep -q ">$rule<" "$D"
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

# the agent gone: the page says so instead of going blank
cp "$BM_TMP/page.html" "$BM_TMP/offline.html"
kill "$A"; bm_wait_for 10 "! kill -0 $A"
chrome --allow-file-access-from-files --dump-dom "file://$BM_TMP/offline.html" >"$BM_TMP/offline-dom.html"
bm_check "offline: the banner says the agent cannot be reached" \
    grep -q 'cannot reach busmon-agent' "$BM_TMP/offline-dom.html"
bm_check "offline: the banner is shown" grep -q 'id="banner" style="display: block' "$BM_TMP/offline-dom.html"
bm_finish
