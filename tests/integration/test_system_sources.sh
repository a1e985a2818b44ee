#!/usr/bin/env bash
# System metrics that cannot be read are unknown, never 0, and a container's
# cgroup v2 limits are exported beside the host's figures (jobs/sysmon.c,
# core/cgroup.c). The files come from the test: BUSMON_TEST_PROC_MEMINFO and
# BUSMON_TEST_CGROUP_ROOT (a fake /sys/fs/cgroup; its root is the agent's
# cgroup here, as in a container with its own cgroup namespace).
#   /proc/meminfo unreadable: busmon_host_memory_total_bytes (and the ratio)
#     absent from /metrics, null in /api/stats' counters, counted in
#     busmon_system_read_errors_total{source="proc_meminfo"}, said once in the
#     log; readable again: the figure is back.
#   cgroup limited: memory limit, its memory.current and working set
#     (memory.current - memory.stat's inactive_file), the CPU quota in cores
#     on /metrics, /api/stats and the rollup; "max": absent; garbage: absent,
#     counted, said once, the agent goes on; missing: absent, not an error.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
CG=$BM_TMP/cgroup
MEMINFO=$BM_TMP/meminfo # not there at first
mkdir -p "$CG"
printf '536870912\n' >"$CG/memory.max"
printf '123456789\n' >"$CG/memory.current"
printf 'anon 100000000\nfile 23456789\ninactive_file 23456789\n' >"$CG/memory.stat"
printf '150000 100000\n' >"$CG/cpu.max"

metrics() { curl -s -m 5 "$BASE/metrics" >"$BM_TMP/m.txt" && cat "$BM_TMP/m.txt"; }
sample() { awk -v k="$1" '$1 == k { print $2 }' "$BM_TMP/m.txt"; }
# samples so far; wait_samples N: N more samples taken (bounded)
samples() { bm_metric "$HPORT" busmon_system_samples_total; }
wait_samples() {
    local want=$(( $(samples) + $1 ))
    bm_wait_for 10 "[ \"\$(samples)\" -ge $want ]"
}
errors_of() { curl -s -m 5 "$BASE/metrics" | awk -v k="busmon_system_read_errors_total{source=\"$1\"}" '$1 == k { print $2 }'; }

BUSMON_TEST_PROC_MEMINFO=$MEMINFO BUSMON_TEST_CGROUP_ROOT=$CG \
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

# 2. cgroup limited
metrics >/dev/null
bm_eq "cgroup memory limit" 536870912 "$(sample busmon_cgroup_memory_limit_bytes)"
bm_eq "cgroup memory use" 123456789 "$(sample busmon_cgroup_memory_usage_bytes)"
bm_eq "cgroup memory working set" 100000000 "$(sample busmon_cgroup_memory_working_set_bytes)"
bm_eq "cgroup CPU quota in cores" 1.5 "$(sample busmon_cgroup_cpu_limit_cores)"
bm_eq "/api/stats counters.system.cgroup" '{"cpu_limit_millicores":1500,"memory_limit_bytes":536870912,"memory_usage_bytes":123456789,"memory_working_set_bytes":100000000}' \
    "$(curl -s -m 5 "$BASE/api/stats" | jq -cS '.counters.system.cgroup')"
bm_check "the rollup carries the limits" bm_wait_for 10 \
    "bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | grep -a '^{\"v\"' | jq -se '.[0].counters.system.cgroup.memory_limit_bytes == 536870912'"
bm_eq "no read error where none is (proc_stat, cgroup_memory_max, cgroup_memory_stat)" "0 0 0" \
    "$(errors_of proc_stat) $(errors_of cgroup_memory_max) $(errors_of cgroup_memory_stat)"

# a readable meminfo: the host figure is back, as read
printf 'MemTotal:       2048000 kB\nMemFree:  100 kB\nMemAvailable:   1024000 kB\n' >"$MEMINFO"
bm_check "meminfo readable again: busmon_host_memory_total_bytes = MemTotal" bm_wait_for 10 \
    "metrics >/dev/null; [ \"\$(sample busmon_host_memory_total_bytes)\" = 2097152000 ]"
bm_eq "... and the ratio (MemTotal - MemAvailable) / MemTotal" 0.5 "$(sample busmon_host_memory_ratio)"

# 3. "max": no limit
printf 'max\n' >"$CG/memory.max"
printf 'max 100000\n' >"$CG/cpu.max"
bm_check "memory.max max: no busmon_cgroup_memory_limit_bytes" bm_wait_for 10 \
    "metrics >/dev/null; [ -z \"\$(sample busmon_cgroup_memory_limit_bytes)\" ]"
wait_samples 1
metrics >/dev/null
bm_eq "... nor its use" "" "$(sample busmon_cgroup_memory_usage_bytes)"
bm_eq "cpu.max max: no busmon_cgroup_cpu_limit_cores" "" "$(sample busmon_cgroup_cpu_limit_cores)"
bm_eq "... null in /api/stats" '{"cpu_limit_millicores":null,"memory_limit_bytes":null,"memory_usage_bytes":null,"memory_working_set_bytes":null}' \
    "$(curl -s -m 5 "$BASE/api/stats" | jq -cS '.counters.system.cgroup')"
bm_eq "\"max\" is no error" "0 0" "$(errors_of cgroup_memory_max) $(errors_of cgroup_cpu_max)"

# 4. garbage: counted, said once, never a figure, the agent goes on
printf 'lots\n' >"$CG/memory.max"
printf '50000\n' >"$CG/cpu.max"
bm_check "garbage memory.max counted" bm_wait_for 10 "[ \"\$(errors_of cgroup_memory_max)\" -ge 1 ]"
bm_check "garbage cpu.max counted" bm_wait_for 10 "[ \"\$(errors_of cgroup_cpu_max)\" -ge 1 ]"
wait_samples 3
metrics >/dev/null
bm_eq "... no limit shown" "" "$(sample busmon_cgroup_memory_limit_bytes)$(sample busmon_cgroup_cpu_limit_cores)"
bm_check "... the agent is alive and sampling" wait_samples 1
bm_eq "... memory.max said once in the log" 1 "$(grep -c "$CG/memory.max" "$LOG")"
bm_eq "... cpu.max said once in the log" 1 "$(grep -c "$CG/cpu.max" "$LOG")"

# 5. missing: no limit, not an error
rm -f "$CG/memory.max" "$CG/memory.current" "$CG/cpu.max"
wait_samples 1
before="$(errors_of cgroup_memory_max) $(errors_of cgroup_cpu_max)"
wait_samples 3
bm_eq "missing files are no error (counts unchanged)" "$before" \
    "$(errors_of cgroup_memory_max) $(errors_of cgroup_cpu_max)"
metrics >/dev/null
bm_eq "... and no limit shown" "" "$(sample busmon_cgroup_memory_limit_bytes)$(sample busmon_cgroup_cpu_limit_cores)"
if command -v promtool >/dev/null 2>&1; then
    bm_check "promtool check metrics accepts /metrics" bash -c "metrics_txt=\$(curl -s $BASE/metrics); promtool check metrics <<<\"\$metrics_txt\""
fi
bm_check "the agent is still running" kill -0 "$BM_LAST_PID"
bm_finish
