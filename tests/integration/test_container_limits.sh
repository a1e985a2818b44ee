#!/usr/bin/env bash
# busmon in a container: the cpu_percent and memory_percent alert gauges are
# of the tightest cgroup limit when one is set, else of the host; the system
# sample (/api/system, `busmon system`) carries the cgroup figures; cgroup
# v1 is read as v2 is. The files come from the test: BUSMON_TEST_CGROUP_ROOT
# (a fake /sys/fs/cgroup), BUSMON_TEST_PROC_SELF_CGROUP, BUSMON_TEST_PROC_MEMINFO
# and BUSMON_TEST_PROC_STAT (the host: 64 GiB, 1 % in use, every CPU busy).
#   1. v2, 500 MiB used of a 512 MiB limit: memory_percent > 90 fires (the
#      host's 1 % never would); the cgroup's CPU time not moving: cpu_percent
#      > 50 stays quiet though the host is 100 % busy; the CPU time moving at
#      10 CPUs against a 1-CPU quota: it fires at 100; stopping: it resolves.
#   2. the system sample: the limit, its use and the quota in /api/system and
#      `busmon system` (--json and the table).
#   3. "max": no limit, the host's figures: memory resolves (1 %), CPU fires
#      again (the host's 100 %); the sample's cgroup figures null and "-",
#      never 0. A limit the host is tighter than (128 GiB on 64 GiB, 100000
#      CPUs): the host's figures too.
#   4. v1 (memory and cpu,cpuacct hierarchies, /docker/abc): the same limits
#      on /metrics and in the alert gauges; v1's "no limit" number is none.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
CG=$BM_TMP/cgroup
mkdir -p "$CG"
printf '536870912\n' >"$CG/memory.max"
printf '524288000\n' >"$CG/memory.current"
printf '100000 100000\n' >"$CG/cpu.max"
printf '0::/\n' >"$BM_TMP/self-cgroup"
printf 'MemTotal:       67108864 kB\nMemFree: 100 kB\nMemAvailable:   66437775 kB\n' >"$BM_TMP/meminfo"

# the host's CPU counters, every CPU busy; the cgroup's CPU time, moving at
# 10 CPUs while $BM_TMP/grow is there (every 100 ms, written whole)
ticker() {
    local busy=1000 used=0
    while :; do
        busy=$((busy + 100))
        echo "cpu  $busy 0 0 1000 0 0 0 0 0 0" >"$BM_TMP/stat.tmp" && mv "$BM_TMP/stat.tmp" "$BM_TMP/stat"
        [ -e "$BM_TMP/grow" ] && used=$((used + 1000000))
        for d in "$CG" "$CG/cpu,cpuacct/docker/abc"; do
            [ -d "$d" ] || continue
            printf 'usage_usec %d\n' "$used" >"$d/cpu.stat.tmp" && mv "$d/cpu.stat.tmp" "$d/cpu.stat"
            printf '%d000\n' "$used" >"$d/cpuacct.usage.tmp" && mv "$d/cpuacct.usage.tmp" "$d/cpuacct.usage"
        done
        sleep 0.1
    done
}
ticker &
BM_PIDS+=($!)

cat >"$BM_TMP/alerts.yaml" <<'YAML'
alerts:
  builtins: false
  rules:
    - {name: mem_high, metric: memory_percent, op: ">", threshold: 90}
    - {name: cpu_high, metric: cpu_percent, op: ">", threshold: 50}
YAML

# start_agent NAME: an agent on the test's files, alerts every 250 ms
start_agent() {
    HPORT=$(bm_free_port)
    BASE="http://127.0.0.1:$HPORT"
    BUSMON_TEST_CGROUP_ROOT=$CG BUSMON_TEST_PROC_SELF_CGROUP=$BM_TMP/self-cgroup \
        BUSMON_TEST_PROC_MEMINFO=$BM_TMP/meminfo BUSMON_TEST_PROC_STAT=$BM_TMP/stat \
        bm_bg "$AGENT" --consumer "$1" --http "127.0.0.1:$HPORT" --block-ms 100 \
        --config "$BM_TMP/alerts.yaml" --alert-interval 250ms --system-interval 250ms
    AGENT_PID=$BM_LAST_PID
    bm_wait_for 10 "curl -sf -m 2 $BASE/metrics >/dev/null"
}
firing() { curl -s -m 5 "$BASE/api/alerts" | jq -e --arg r "$1" 'any(.firing[]; .rule == $r)' >/dev/null; }
not_firing() { ! firing "$1"; }
value_of() { curl -s -m 5 "$BASE/api/alerts" | jq -r --arg r "$1" '.firing[] | select(.rule == $r) | .value'; }
evaluations() { bm_metric "$HPORT" busmon_alert_evaluations_total; }
# wait_evaluations N: N more evaluations (bounded)
wait_evaluations() {
    local want=$(( $(evaluations) + $1 ))
    bm_wait_for 15 "[ \"\$(evaluations)\" -ge $want ]"
}
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

bm_wait_for 5 "[ -s '$BM_TMP/stat' ]"
start_agent c1
# --- 1. v2 limits: the gauges are of the container ---------------------------------
bm_check "1: memory_percent > 90 fires on 500 MiB of a 512 MiB limit" bm_wait_for 15 "firing mem_high"
bm_check "1: ... at usage / limit (97.66 %), not the host's 1 %" bm_wait_for 10 "in_range \"\$(value_of mem_high)\" 97.6 97.7"
wait_evaluations 6
bm_check "1: cpu_percent > 50 quiet while the cgroup uses no CPU (the host 100 % busy)" \
    not_firing cpu_high
touch "$BM_TMP/grow"
bm_check "1: the cgroup's CPU time at 10 CPUs against 1: cpu_high fires" bm_wait_for 15 "firing cpu_high"
bm_check "1: ... at 100 (capped)" bm_wait_for 10 "in_range \"\$(value_of cpu_high)\" 99.99 100"
rm -f "$BM_TMP/grow"
bm_check "1: the cgroup's CPU time stops: cpu_high resolves" bm_wait_for 15 "not_firing cpu_high"

# --- 2. the system sample carries the cgroup figures ---------------------------------
bm_eq "2: /api/system latest: limit, use, quota" '[536870912,524288000,1]' \
    "$(curl -s -m 5 "$BASE/api/system" | jq -c '.latest | [.cgroup_memory_limit_bytes, .cgroup_memory_usage_bytes, .cgroup_cpu_limit_cores]')"
bm_check "2: busmon:system has them" bm_wait_for 10 \
    "bm_cli_raw XREVRANGE busmon:system + - COUNT 1 | grep -a '^{' | jq -e '.cgroup_memory_limit_bytes == 536870912 and .cgroup_cpu_limit_cores == 1'"
bm_eq "2: busmon system --json latest" '[536870912,524288000,1]' \
    "$("$BUSMON" system --redis "redis://127.0.0.1:$BM_PORT" --json | jq -c '.latest | [.cgroup_memory_limit_bytes, .cgroup_memory_usage_bytes, .cgroup_cpu_limit_cores]')"
"$BUSMON" system --redis "redis://127.0.0.1:$BM_PORT" >"$BM_TMP/system.txt"
bm_check "2: busmon system: cgroup mem limit 512.0 MiB" grep -Eq '^cgroup mem limit +512\.0 MiB' "$BM_TMP/system.txt"
bm_check "2: busmon system: cgroup mem used 500.0 MiB" grep -Eq '^cgroup mem used +500\.0 MiB' "$BM_TMP/system.txt"
bm_check "2: busmon system: cgroup cpu limit 1.00 cpus" grep -Eq '^cgroup cpu limit +1\.00 cpus' "$BM_TMP/system.txt"

# --- 3. "max": no limit, the host's figures --------------------------------------------
printf 'max\n' >"$CG/memory.max"
printf 'max 100000\n' >"$CG/cpu.max"
bm_check "3: memory.max max: memory_percent is the host's 1 %: mem_high resolves" \
    bm_wait_for 15 "not_firing mem_high"
bm_check "3: cpu.max max: cpu_percent is the host's 100 %: cpu_high fires again" \
    bm_wait_for 15 "firing cpu_high"
bm_check "3: ... at the host's 100" bm_wait_for 10 "in_range \"\$(value_of cpu_high)\" 99.99 100"
bm_eq "3: the sample's cgroup figures null, never 0" '[null,null,null]' \
    "$(curl -s -m 5 "$BASE/api/system" | jq -c '.latest | [.cgroup_memory_limit_bytes, .cgroup_memory_usage_bytes, .cgroup_cpu_limit_cores]')"
bm_check "3: busmon system --json: null" bm_wait_for 10 \
    "\"$BUSMON\" system --redis redis://127.0.0.1:$BM_PORT --window 10s --json | jq -e '.latest.cgroup_memory_limit_bytes == null and .latest.cgroup_cpu_limit_cores == null'"
"$BUSMON" system --redis "redis://127.0.0.1:$BM_PORT" --window 10s >"$BM_TMP/system.txt"
bm_check "3: busmon system: '-' for no limit" grep -Eq '^cgroup mem limit +- +' "$BM_TMP/system.txt"
# a limit the host is tighter than: a memory limit of 128 GiB on the 64 GiB
# host (95 % in use), a quota of 100000 CPUs: the host's figures
printf '100000 100000\n' >"$CG/cpu.max"
bm_check "3: a 1-CPU quota again, its cgroup idle: cpu_high resolves" bm_wait_for 15 "not_firing cpu_high"
printf '10000000000 100000\n' >"$CG/cpu.max"
bm_check "3: a quota of more CPUs than the host has: the host's 100 %: cpu_high fires" \
    bm_wait_for 15 "firing cpu_high"
printf 'MemTotal:       67108864 kB\nMemFree: 100 kB\nMemAvailable:   3355443 kB\n' >"$BM_TMP/meminfo"
printf '137438953472\n' >"$CG/memory.max"
bm_check "3: a memory limit above MemTotal: the host's 95 %: mem_high fires" \
    bm_wait_for 15 "firing mem_high"
bm_check "3: ... at the host's 95 %, not 500 MiB of 128 GiB" bm_wait_for 10 "in_range \"\$(value_of mem_high)\" 94.9 95.1"
printf 'MemTotal:       67108864 kB\nMemFree: 100 kB\nMemAvailable:   66437775 kB\n' >"$BM_TMP/meminfo"
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null

# --- 4. cgroup v1 -------------------------------------------------------------------------
rm -f "$CG"/memory.* "$CG"/cpu.*
M=$CG/memory
C="$CG/cpu,cpuacct"
mkdir -p "$M/docker/abc" "$C/docker/abc"
printf '9223372036854771712\n' >"$M/memory.limit_in_bytes"
printf '60000000000\n' >"$M/memory.usage_in_bytes"
printf '536870912\n' >"$M/docker/abc/memory.limit_in_bytes"
printf '524288000\n' >"$M/docker/abc/memory.usage_in_bytes"
printf -- '-1\n' >"$C/cpu.cfs_quota_us"
printf '100000\n' >"$C/cpu.cfs_period_us"
printf '50000\n' >"$C/docker/abc/cpu.cfs_quota_us"
printf '100000\n' >"$C/docker/abc/cpu.cfs_period_us"
printf '11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n' \
    >"$BM_TMP/self-cgroup"
start_agent c2
m() { curl -s -m 5 "$BASE/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
bm_check "4: v1 memory limit on /metrics" bm_wait_for 10 '[ "$(m busmon_cgroup_memory_limit_bytes)" = 536870912 ]'
bm_eq "4: v1 memory use" 524288000 "$(m busmon_cgroup_memory_usage_bytes)"
bm_eq "4: v1 CPU quota in cores" 0.5 "$(m busmon_cgroup_cpu_limit_cores)"
bm_check "4: v1: memory_percent > 90 fires" bm_wait_for 15 "firing mem_high"
wait_evaluations 6
bm_check "4: v1: cpu_high quiet while cpuacct.usage stays (host 100 % busy)" not_firing cpu_high
touch "$BM_TMP/grow"
bm_check "4: v1: cpuacct.usage at 10 CPUs against 0.5: cpu_high fires" bm_wait_for 15 "firing cpu_high"
rm -f "$BM_TMP/grow"
printf '9223372036854771712\n' >"$M/docker/abc/memory.limit_in_bytes"
printf -- '-1\n' >"$C/docker/abc/cpu.cfs_quota_us"
bm_check "4: v1 'no limit' number: no busmon_cgroup_memory_limit_bytes" bm_wait_for 10 \
    '[ -z "$(m busmon_cgroup_memory_limit_bytes)$(m busmon_cgroup_cpu_limit_cores)" ]'
bm_check "4: ... and memory_percent is the host's: mem_high resolves" bm_wait_for 15 "not_firing mem_high"
bm_eq "4: no read error" "0 0 0" "$(m 'busmon_system_read_errors_total{source="cgroup_memory_max"}') $(m 'busmon_system_read_errors_total{source="cgroup_cpu_max"}') $(m 'busmon_system_read_errors_total{source="cgroup_cpu_usage"}')"
bm_check "the agent is still running" kill -0 "$AGENT_PID"
bm_finish
