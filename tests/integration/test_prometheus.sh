#!/usr/bin/env bash
# /metrics as Prometheus reads it, on the demo workload: promtool accepts the
# page; busmon_build_info{version,revision}; the host and agent figures are
# ratios 0..1 (the *_percent names still there, DEPRECATED in their help);
# no label value is a file system path (the data path's disk is
# mount="data"); the default duration buckets give 63 series per worker; a
# real Prometheus (Debian's prometheus, started here on a free loopback port,
# scraping the agent every second) answers
#   histogram_quantile(0.95, busmon_worker_duration_seconds_bucket{worker=W})
# within 5 % of `busmon worker W --json`'s own p95 for every demo worker;
# http.duration_buckets (here from BUSMON_HTTP_DURATION_BUCKETS) sets the
# buckets. Without promtool / prometheus those parts are skipped with a note.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
HPORT=$(bm_free_port)
BASE="http://127.0.0.1:$HPORT"
unset BUSMON_HTTP

bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --system-interval 1s --log-level warn
AGENT_PID=$BM_LAST_PID
bm_wait_for 10 "curl -sf $BASE/health" || { echo "agent did not start"; cat "$BM_TMP"/*.log; exit 1; }
# 20 s of the demo: four workers, fast 10-50 ms, slow 0.5-2 s, flaky 20-400 ms, cpu_heavy 200-800 ms
bm_bg "$BM_BUILD/busmon-demo-producer" --rate 150 --duration 20 --seed 18
PRODUCER_PID=$BM_LAST_PID
bm_wait_for 20 "curl -s $BASE/metrics | grep -q '^busmon_host_disk_ratio'" || echo "no system sample yet"
sleep 2
M="$BM_TMP/metrics.txt"
curl -s "$BASE/metrics" >"$M"

# ---- the page itself ----------------------------------------------------------
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts /metrics" bash -c "promtool check metrics <'$M'"
else
    echo "note: promtool not installed (Debian package prometheus; deploy/install-deps.sh): check skipped"
fi
rev=$(git -C "$BM_SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
ver=$(sed -n 's/^#define BUSMON_VERSION "\(.*\)"/\1/p' "$BM_SRC/agent/main.c")
bm_check "busmon_build_info{version=\"$ver\"} 1 with a revision" \
    grep -Eq "^busmon_build_info\{version=\"$ver\",revision=\"([0-9a-f]{12}|unknown)\"\} 1$" "$M"
# the build's revision is the one configure saw; the checkout may have moved on since
echo "     build_info: $(grep '^busmon_build_info' "$M") (HEAD now $rev)"
bm_check "busmon_trace_names: the demo's worker and step names, kept once (>= 4)" \
    awk '$1 == "busmon_trace_names" && $2 >= 4 { ok = 1 } END { exit !ok }' "$M"
bm_check "busmon_trace_names_refused_total 0" grep -q '^busmon_trace_names_refused_total 0$' "$M"
for f in busmon_host_cpu_ratio busmon_host_memory_ratio 'busmon_host_disk_ratio{mount="data"}' busmon_agent_cpu_ratio; do
    bm_check "$f is a ratio in 0..1" awk -v f="$f" '$1 == f && $2 >= 0 && $2 <= 1 { ok = 1 } END { exit !ok }' "$M"
done
bm_check "busmon_host_memory_ratio is not a percent (0 < v < 1)" \
    awk '$1 == "busmon_host_memory_ratio" && $2 > 0 && $2 < 1 { ok = 1 } END { exit !ok }' "$M"
for f in busmon_host_cpu_percent busmon_host_memory_percent busmon_host_disk_percent busmon_agent_cpu_percent; do
    bm_check "$f kept, DEPRECATED in its help" grep -q "^# HELP $f DEPRECATED: .*_ratio" "$M"
done
mem_pct=$(awk '$1 == "busmon_host_memory_percent" { print $2 }' "$M")
mem_ratio=$(awk '$1 == "busmon_host_memory_ratio" { print $2 }' "$M")
bm_check "the deprecated percent is the ratio x 100 ($mem_pct, $mem_ratio)" \
    awk -v p="$mem_pct" -v r="$mem_ratio" 'BEGIN { d = p - 100 * r; exit !(d < 1e-6 && d > -1e-6) }'
bm_check "no label value is a file system path" bash -c "! grep -v '^#' '$M' | grep -q '=\"/'"
bm_check "the data path's disk is labelled mount=\"data\", not path=" \
    bash -c "grep -q '^busmon_host_disk_ratio{mount=\"data\"}' '$M' && ! grep -q 'busmon_host_disk[a-z_]*{path=' '$M'"
n=$(grep -c '^busmon_worker_[a-z_]*{worker="fast"' "$M")
bm_eq "series per worker with the default buckets (3 executions + 54 histogram + 5 health + 1 in flight)" 63 "$n"
n=$(grep -c '^busmon_worker_duration_seconds_bucket{worker="fast"' "$M")
bm_eq "default buckets: 51 bounds (R10, 1 ms .. 100 s) + +Inf" 52 "$n"
bm_check "le values are R10: 0.00125, 0.0315, 6.3, 100" bash -c \
    "for le in 0.00125 0.0315 6.3 100; do grep -q \"^busmon_worker_duration_seconds_bucket{worker=\\\"fast\\\",le=\\\"\$le\\\"}\" '$M' || exit 1; done"

# ---- a real Prometheus: the p95 query against busmon's own --------------------
if ! command -v prometheus >/dev/null 2>&1; then
    echo "note: prometheus not installed (Debian package prometheus; deploy/install-deps.sh): the p95 comparison is skipped"
else
    PPORT=$(bm_free_port)
    PROM="http://127.0.0.1:$PPORT"
    mkdir -p "$BM_TMP/prom"
    cat >"$BM_TMP/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: busmon
    static_configs:
      - targets: ["127.0.0.1:$HPORT"]
YAML
    bm_check "promtool check config accepts the test's scrape configuration" \
        bash -c "promtool check config '$BM_TMP/prom/prometheus.yml' >/dev/null"
    bm_bg prometheus --config.file="$BM_TMP/prom/prometheus.yml" --storage.tsdb.path="$BM_TMP/prom/data" \
        --web.listen-address="127.0.0.1:$PPORT" --log.level=warn
    promql() { curl -s "$PROM/api/v1/query" --data-urlencode "query=$1"; }
    bm_check "Prometheus scrapes the agent (up == 1)" bm_wait_for 60 \
        "promql 'up{job=\"busmon\"}' | jq -e '.data.result[0].value[1] == \"1\"'"
    # the producer finishes its transactions, the agent has every answer, then
    # one more scrape: both sides look at the same executions
    bm_wait_for 60 "! kill -0 $PRODUCER_PID 2>/dev/null"
    total() { curl -s "$BASE/metrics" | awk '/^busmon_worker_duration_seconds_count/ { s += $2 } END { print s + 0 }'; }
    last=-1
    for _ in $(seq 30); do
        now=$(total)
        [ "$now" = "$last" ] && break
        last=$now
        sleep 1
    done
    bm_check "Prometheus holds the final count ($last executions)" bm_wait_for 15 \
        "[ \"\$(promql 'sum(busmon_worker_duration_seconds_count)' | jq -r '.data.result[0].value[1]')\" = '$last' ]"
    for w in fast slow flaky cpu_heavy; do
        prom=$(promql "histogram_quantile(0.95, busmon_worker_duration_seconds_bucket{worker=\"$w\"})" |
            jq -r '.data.result[0].value[1]')
        own=$("$BUSMON" worker "$w" --json | jq -r '.windows["1h"].p95_ms')
        pct=$(awk -v p="$prom" -v o="$own" 'BEGIN { d = (p * 1000 - o) / o * 100; printf "%.2f", d }')
        echo "     $w: Prometheus p95 $(awk -v p="$prom" 'BEGIN { printf "%.1f", p * 1000 }') ms, busmon p95 $(printf '%.1f' "$own") ms, difference $pct %"
        bm_check "$w: histogram_quantile p95 within 5 % of busmon's own ($pct %)" \
            awk -v d="$pct" 'BEGIN { exit !(d <= 5 && d >= -5) }'
    done
fi

# ---- http.duration_buckets sets the buckets -------------------------------------
kill "$AGENT_PID" 2>/dev/null
bm_wait_for 10 "! kill -0 $AGENT_PID 2>/dev/null"
HPORT2=$(bm_free_port)
BUSMON_HTTP_DURATION_BUCKETS="0.1, 500ms,1s 10" bm_bg "$AGENT" --http "127.0.0.1:$HPORT2" \
    --group other --consumer other --log-level warn
bm_check "an agent with BUSMON_HTTP_DURATION_BUCKETS=0.1,500ms,1s,10 serves" \
    bm_wait_for 10 "curl -s http://127.0.0.1:$HPORT2/metrics | grep -q '^busmon_worker_duration_seconds_bucket{worker=\"fast\"'"
les=$(curl -s "http://127.0.0.1:$HPORT2/metrics" | sed -n 's/^busmon_worker_duration_seconds_bucket{worker="fast",le="\([^"]*\)"}.*/\1/p' | paste -sd' ')
bm_eq "its le values" "0.1 0.5 1 10 +Inf" "$les"
# ---- business metrics whose names meet: a summary's _sum / _count are its own ------------
# series go out in name order: the summary h (busmon_custom_h, _sum, _count) before the
# gauges h_sum, h_count; the gauge g__count before the summary g~ (busmon_custom_g_, whose
# _count is busmon_custom_g__count). Either way the later one is left out.
M2="http://127.0.0.1:$HPORT2/metrics"
for m in "h histogram" "h_sum gauge" "h_count gauge" "g~ histogram" "g__count gauge" "marker gauge"; do
    bm_cli XADD busmon:events '*' type metric name "${m% *}" value 5 kind "${m#* }" >/dev/null
done
bm_wait_for 10 "curl -s $M2 | grep -q '^busmon_custom_marker '"
curl -s "$M2" >"$BM_TMP/custom.txt"
bm_eq "every family has one HELP line" "" \
    "$(sed -n 's/^# HELP \([^ ]*\) .*/\1/p' "$BM_TMP/custom.txt" | sort | uniq -d | paste -sd' ')"
bm_eq "every series is written once" "" \
    "$(grep -v '^#' "$BM_TMP/custom.txt" | awk '{ print $1 }' | sort | uniq -d | paste -sd' ')"
bm_check "the summary h keeps its _sum and _count" grep -q '^busmon_custom_h_sum 5$' "$BM_TMP/custom.txt"
bm_check "... the gauges h_sum and h_count after it are left out" \
    bash -c "! grep -q '^# HELP busmon_custom_h_\\(sum\\|count\\) ' '$BM_TMP/custom.txt'"
bm_check "the gauge g__count keeps its name; the summary g~ after it is left out" \
    bash -c "grep -q '^busmon_custom_g__count 5$' '$BM_TMP/custom.txt' && ! grep -q '^# HELP busmon_custom_g_ ' '$BM_TMP/custom.txt'"
if command -v promtool >/dev/null 2>&1; then
    # parsing only: its naming lints (a gauge named *_count) are about the test's names
    bm_check "promtool parses it (no second HELP, no duplicate series)" \
        bash -c "! promtool check metrics <'$BM_TMP/custom.txt' 2>&1 | grep -q 'error while linting'"
fi

BUSMON_HTTP_DURATION_BUCKETS="1s,500ms" "$AGENT" --check-config --offline >/dev/null 2>"$BM_TMP/err"; rc=$?
bm_eq "descending buckets: exit 2" 2 "$rc"
bm_check "... with the reason" grep -q "BUSMON_HTTP_DURATION_BUCKETS must be ascending" "$BM_TMP/err"

bm_finish
