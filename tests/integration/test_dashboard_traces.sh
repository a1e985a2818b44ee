#!/usr/bin/env bash
# The dashboard's transactions in headless Chromium (Debian `chromium`), on
# a demo workload with known failures (the producer's ground truth, pub/sub
# mode): the list opened at #traces?status=failed holds every failed
# transaction's id and no other; #traces?worker=W (where a worker row's link
# goes) the same as /api/traces?worker=W; the waterfall of a known failed
# transaction (#tx=ID, where a row's link goes) has one bar per command of
# /api/traces/ID and exactly its failed answers in red, a click on a bar
# shows its command's and answer's events; no script error.
# Screenshots of the list and the waterfall: build/test-artifacts/
# traces-list.png and waterfall.png.
source "$(dirname "$0")/lib.sh"
bm_start_redis
HP=$(bm_free_port)
BASE="http://127.0.0.1:$HP"
ART="$BM_BUILD/test-artifacts"
GT=$BM_TMP/truth.tsv
mkdir -p "$ART"
unset BUSMON_HTTP
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "note: chromium not installed (deploy/install-deps.sh installs it): skipped"
    bm_finish
fi

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --psubscribe 'multiagent:*' --http "127.0.0.1:$HP"
bm_check "the agent subscribes" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
"$BM_BUILD/busmon-demo-producer" --pubsub --count 60 --rate 600 --seed 5 --timeout-seconds 1 \
    --ground-truth "$GT" >/dev/null || echo "FAIL - the producer failed"
n_tx=$(awk -F'\t' '$1 == "tx"' "$GT" | wc -l)
bm_check "the agent holds every transaction ($n_tx)" bm_wait_for 20 \
    "[ \"\$(curl -s '$BASE/api/traces?limit=1000' | jq .count)\" = $n_tx ]"
sleep 2.5 # the unanswered commands' timeouts (1 s + grace)

chrome() { timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$BM_TMP/chrome" --hide-scrollbars --window-size=1280,900 \
    --virtual-time-budget=6000 --enable-logging=stderr --v=0 "$@" 2>>"$BM_TMP/chromium.log"; }

# the list: every failed transaction (ground truth), and only those
want=$(awk -F'\t' '$1 == "unanswered" { hung[$2] = 1 } $1 == "tx" && (hung[$2] || $3 != "completed") { print $2 }' "$GT" | sort)
chrome --dump-dom "$BASE/#traces?status=failed" >"$BM_TMP/list.html"
bm_eq "chromium rendered the list" 0 "$?"
got=$(grep -o '<tr data-tx="[^"]*"' "$BM_TMP/list.html" | sed 's/.*data-tx="//; s/"$//' | sort)
bm_check "the list holds the $(wc -l <<<"$want") failed transactions' ids, and only them" \
    [ -n "$want" -a "$want" == "$got" ]
bm_check "the list shows RFC 3339 start times" grep -Eq '<td class="mono">20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z</td>' "$BM_TMP/list.html"

# a worker row's link: the worker's transactions, any status
want=$(curl -s "$BASE/api/traces?worker=flaky&limit=200" | jq -r '.traces[].tx' | sort)
chrome --dump-dom "$BASE/#traces?worker=flaky" >"$BM_TMP/worker.html"
got=$(grep -o '<tr data-tx="[^"]*"' "$BM_TMP/worker.html" | sed 's/.*data-tx="//; s/"$//' | sort)
bm_check "#traces?worker=flaky lists flaky's $(wc -l <<<"$want") transactions" [ -n "$want" -a "$want" == "$got" ]
# an error pattern's link: the transactions whose first error is of that type
et=$(curl -s "$BASE/api/traces?status=failed&limit=1000" | jq -r '[.traces[] | select(.error_type != "")][0].error_type')
want=$(curl -s "$BASE/api/traces?error_type=$et&limit=200" | jq -r '.traces[].tx' | sort)
chrome --dump-dom "$BASE/#traces?error_type=$et" >"$BM_TMP/etype.html"
got=$(grep -o '<tr data-tx="[^"]*"' "$BM_TMP/etype.html" | sed 's/.*data-tx="//; s/"$//' | sort)
bm_check "#traces?error_type=$et lists its $(wc -l <<<"$want") transactions" [ -n "$want" -a "$want" == "$got" ]

# the waterfall of a failed transaction with one failed step and several commands
tx=$(curl -s "$BASE/api/traces?status=failed&limit=1000" |
    jq -r '[.traces[] | select(.errors == 1 and .steps >= 2)][0].tx')
bm_check "a failed transaction with one error and several commands ($tx)" [ -n "$tx" -a "$tx" != null ]
curl -s "$BASE/api/traces/$tx" >"$BM_TMP/trace.json"
n_cmd=$(jq '[.events[] | select(.type == "command" or .type == "compensation")] | length' "$BM_TMP/trace.json")
n_err=$(jq '[.events[] | select((.type == "result" or .type == "error") and (.stage == "failed" or .stage == "timed_out") and .paired_with != null)] | length' "$BM_TMP/trace.json")
chrome --dump-dom "$BASE/#tx=$tx" >"$BM_TMP/wf.html"
W=$BM_TMP/wf.html
bm_check "the waterfall is of $tx" grep -q "id=\"wf-title\" class=\"mono\">$tx<" "$W"
bm_eq "one bar per command of the trace ($n_cmd)" "$n_cmd" "$(grep -o '<rect [^>]*class="bar ' "$W" | wc -l)"
bm_eq "the svg says the same (data-bars)" "$n_cmd" "$(grep -o 'data-bars="[0-9]*"' "$W" | grep -o '[0-9]*')"
bm_eq "one bar marked as an error (red), as the trace says ($n_err)" "1 1" \
    "$(grep -o '<rect [^>]*class="bar err' "$W" | wc -l) $n_err"
bm_check "each bar names its command (data-cmd)" bash -c \
    "[ \"\$(grep -o 'data-cmd=\"[^\"]*\"' '$W' | sed 's/data-cmd=\"//; s/\"\$//' | sort)\" = \"\$(jq -r '.events[] | select(.type == \"command\" or .type == \"compensation\") | .id' '$BM_TMP/trace.json' | sort)\" ]"
n_only=$(jq '[.events[] | select(.type == "command")] | length' "$BM_TMP/trace.json")
n_comp=$((n_cmd - n_only))
if [ "$n_comp" -gt 0 ]; then want="$n_only commands, $n_comp compensations, 1 failed"; else want="$n_only commands, 1 failed"; fi
bm_check "the summary line counts them ($want)" grep -q "$want" "$W"
bm_check "no script error" bash -c "! grep -q 'Uncaught' '$BM_TMP/chromium.log'"
bm_check "no 'cannot reach' banner" bash -c "! grep -q 'id=\"banner\" style=\"display: block' '$W'"

# a click on the failed bar (#tx=ID&cmd=C dispatches it): the command's and
# the answer's events shown
cmd=$(jq -r '.events[] | select((.type == "result" or .type == "error") and (.stage == "failed" or .stage == "timed_out")) | .paired_with' "$BM_TMP/trace.json" | head -1)
ans=$(jq -r --arg c "$cmd" '.events[] | select(.paired_with == $c and (.type == "result" or .type == "error")) | .id' "$BM_TMP/trace.json" | head -1)
chrome --dump-dom "$BASE/#tx=$tx&cmd=$cmd" >"$BM_TMP/click.html"
tr -d '\n' <"$BM_TMP/click.html" | grep -o '<div id="wf-detail"[^>]*>.*' | sed 's#</div>.*##' >"$BM_TMP/detail.html"
bm_check "the clicked bar is marked" grep -q "class=\"bar err picked\" data-cmd=\"$cmd\"" "$BM_TMP/click.html"
bm_check "its details are shown: the command ($cmd) and the answer ($ans)" bash -c \
    "grep -q 'display: block' '$BM_TMP/detail.html' && grep -q '\"command\"' '$BM_TMP/detail.html' && grep -q '$cmd' '$BM_TMP/detail.html' && grep -q '$ans' '$BM_TMP/detail.html'"

# an unknown transaction: said, not thrown
chrome --dump-dom "$BASE/#tx=no-such-tx" >"$BM_TMP/none.html"
bm_check "an unknown transaction: 'not in this agent's memory'" grep -q "not in this agent's memory" "$BM_TMP/none.html"

for shot in "traces-list.png|#traces?status=failed" "waterfall.png|#tx=$tx"; do
    f=$ART/${shot%%|*}
    rm -f "$f"
    chrome --screenshot="$f" "$BASE/${shot#*|}" >/dev/null
    bm_check "screenshot $f (a PNG, not blank)" bash -c \
        "[ \"\$(head -c 8 '$f' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ] && [ \$(stat -c %s '$f') -gt 20000 ]"
done
bm_finish
