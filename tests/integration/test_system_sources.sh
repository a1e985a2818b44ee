#!/usr/bin/env bash
# System metrics that cannot be read are unknown, never 0 (jobs/sysmon.c).
# The file comes from the test: BUSMON_TEST_PROC_MEMINFO.
#   /proc/meminfo unreadable: busmon_host_memory_total_bytes (and the ratio)
#     absent from /metrics, null in /api/stats' counters, counted in
#     busmon_system_read_errors_total{source="proc_meminfo"}, said once in the
#     log; readable again: the figure is back.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
MEMINFO=$BM_TMP/meminfo # not there at first

metrics() { curl -s -m 5 "$BASE/metrics" >"$BM_TMP/m.txt" && cat "$BM_TMP/m.txt"; }
sample() { awk -v k="$1" '$1 == k { print $2 }' "$BM_TMP/m.txt"; }
# samples so far; wait_samples N: N more samples taken (bounded)
samples() { bm_metric "$HPORT" busmon_system_samples_total; }
wait_samples() {
    local want=$(( $(samples) + $1 ))
    bm_wait_for 10 "[ \"\$(samples)\" -ge $want ]"
}
errors_of() { curl -s -m 5 "$BASE/metrics" | awk -v k="busmon_system_read_errors_total{source=\"$1\"}" '$1 == k { print $2 }'; }

BUSMON_TEST_PROC_MEMINFO=$MEMINFO \
    bm_bg "$AGENT" --http "127.0.0.1:$HPORT" --block-ms 100 --system-interval 250ms \
    --rollup-interval 250ms
LOG=$BM_TMP/busmon-agent.log
bm_check "the agent serves /metrics" bm_wait_for 10 "curl -sf -m 2 $BASE/metrics >/dev/null"
bm_check "three system samples" wait_samples 3

# 1. /proc/meminfo cannot be read
metrics >/dev/null
bm_eq "memory total unknown: no busmon_host_memory_total_bytes sample" "" \
    "$(sample busmon_host_memory_total_bytes)"
bm_eq "... nor busmon_host_memory_ratio" "" "$(sample busmon_host_memory_ratio)"
bm_check "... counted: busmon_system_read_errors_total{source=\"proc_meminfo\"} >= 3" \
    test "$(errors_of proc_meminfo)" -ge 3
bm_eq "... null in /api/stats' counters" null \
    "$(curl -s -m 5 "$BASE/api/stats" | jq -c '.counters.system.memory_total_bytes')"
bm_eq "... said once in the log, naming the file" 1 "$(grep -c "$MEMINFO" "$LOG")"

bm_eq "no read error where none is (proc_stat)" 0 "$(errors_of proc_stat)"

# a readable meminfo: the host figure is back, as read
printf 'MemTotal:       2048000 kB\nMemFree:  100 kB\nMemAvailable:   1024000 kB\n' >"$MEMINFO"
bm_check "meminfo readable again: busmon_host_memory_total_bytes = MemTotal" bm_wait_for 10 \
    "metrics >/dev/null; [ \"\$(sample busmon_host_memory_total_bytes)\" = 2097152000 ]"
bm_eq "... and the ratio (MemTotal - MemAvailable) / MemTotal" 0.5 "$(sample busmon_host_memory_ratio)"

if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts /metrics" bash -c "metrics_txt=\$(curl -s $BASE/metrics); promtool check metrics <<<\"\$metrics_txt\""
fi
bm_check "the agent is still running" kill -0 "$BM_LAST_PID"
bm_finish
