#!/usr/bin/env bash
# busmon in a container: the cpu_percent and memory_percent alert gauges are
# of the tightest cgroup limit when one is set, else of the host; the system
# sample (/api/system, `busmon system`) carries the cgroup figures; cgroup
# v1 is read as v2 is. The files come from the test: BUSMON_TEST_CGROUP_ROOT
# (a fake /sys/fs/cgroup), BUSMON_TEST_PROC_SELF_CGROUP, BUSMON_TEST_PROC_MEMINFO
# and BUSMON_TEST_PROC_STAT (the host: 64 GiB, 1 % in use, 64 CPUs all busy).
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
#      on /metrics and in the alert gauges; v1's "no limit" number is none;
#      memory.stat's total_inactive_file makes the working set; a cpuset.
#   5. the working set (v2, a pod's cgroup): 400 MiB of the 500 MiB used is
#      inactive page cache: memory_percent is 100 MiB of 512 (19.5), not 97.7;
#      /api/system and `busmon system` show the use and the working set; all
#      of it inactive: a working set of 0 on /metrics (a value); memory.stat
#      gone: the use itself, counted and said once; no limit: absent.
#   6. a cpuset (v2) of 2 of the host's 64 CPUs, no quota: cpu_percent is the
#      cgroup's CPU time against 2 CPUs (idle: quiet though the host is busy;
#      1 CPU: about 50), the limit 2 cores; a looser quota does not loosen
#      it; a list not understood is counted, no limit, the agent goes on.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
CG=$BM_TMP/cgroup
CG2=$BM_TMP/cgroup2 # sections 5 and 6
mkdir -p "$CG" "$CG2/pod"
printf '536870912\n' >"$CG/memory.max"
printf '524288000\n' >"$CG/memory.current"
printf 'anon 524288000\ninactive_file 0\n' >"$CG/memory.stat"
printf '100000 100000\n' >"$CG/cpu.max"
printf '0::/\n' >"$BM_TMP/self-cgroup"
printf 'MemTotal:       67108864 kB\nMemFree: 100 kB\nMemAvailable:   66437775 kB\n' >"$BM_TMP/meminfo"

# the host's CPU counters, its 64 CPUs busy; the cgroup's CPU time, moving at
# 10 CPUs while $BM_TMP/grow is there, at 1 while $BM_TMP/grow1 is (the
# time that passed, however late a tick is) (every 100 ms, written whole)
PER_CPU=$(for i in $(seq 0 63); do echo "cpu$i 0 0 0 0 0 0 0 0 0 0"; done)
ticker() {
    local busy=1000 used=0 now last
    last=$(date +%s%6N)
    while :; do
        now=$(date +%s%6N)
        busy=$((busy + 100))
        printf 'cpu  %d 0 0 1000 0 0 0 0 0 0\n%s\n' "$busy" "$PER_CPU" >"$BM_TMP/stat.tmp" &&
            mv "$BM_TMP/stat.tmp" "$BM_TMP/stat"
        [ -e "$BM_TMP/grow" ] && used=$((used + 1000000))
        [ -e "$BM_TMP/grow1" ] && used=$((used + now - last))
        last=$now
        for d in "$CG" "$CG/cpu,cpuacct/docker/abc" "$CG2" "$CG2/pod"; do
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
    - {name: mem_low, metric: memory_percent, op: "<", threshold: 25}
    - {name: cpu_some, metric: cpu_percent, op: ">", threshold: 20}
YAML

# start_agent NAME [ROOT [EVERY]]: an agent on the test's files (the cgroup
# root $CG, or ROOT), alerts every 250 ms (or EVERY)
start_agent() {
    HPORT=$(bm_free_port)
    BASE="http://127.0.0.1:$HPORT"
    BUSMON_TEST_CGROUP_ROOT=${2:-$CG} BUSMON_TEST_PROC_SELF_CGROUP=$BM_TMP/self-cgroup \
        BUSMON_TEST_PROC_MEMINFO=$BM_TMP/meminfo BUSMON_TEST_PROC_STAT=$BM_TMP/stat \
        bm_bg "$AGENT" --consumer "$1" --http "127.0.0.1:$HPORT" --block-ms 100 \
        --config "$BM_TMP/alerts.yaml" --alert-interval "${3:-250ms}" --system-interval 250ms
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
# mean_value RULE: the mean of 8 readings of its value 0.5 s apart (a tick
# of the counters falls in one evaluation interval or the next)
mean_value() {
    local i all=""
    for i in $(seq 8); do
        all="$all $(value_of "$1")"
        sleep 0.5
    done
    echo "$all" | awk '{ for (i = 1; i <= NF; i++) s += $i; print NF ? s / NF : -1 }'
}
# never_firing RULE: not firing at any of 10 readings 0.3 s apart
never_firing() {
    local i
    for i in $(seq 10); do
        firing "$1" && return 1
        sleep 0.3
    done
    return 0
}
# sample_of FIELDS: /api/system's latest [.FIELD, ...] as compact JSON
sample_of() { curl -s -m 5 "$BASE/api/system" | jq -c ".latest | [$1]"; }
# table_has LABEL TEXT: the latest column of `busmon system` says TEXT on row LABEL
table_has() {
    "$BUSMON" system --redis "redis://127.0.0.1:$BM_PORT" --window 10s >"$BM_TMP/system.txt" &&
        grep -Eq "^$1 +$2" "$BM_TMP/system.txt"
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
bm_eq "2: /api/system latest: limit, use, working set, quota" '[536870912,524288000,524288000,1]' \
    "$(sample_of .cgroup_memory_limit_bytes,.cgroup_memory_usage_bytes,.cgroup_memory_working_set_bytes,.cgroup_cpu_limit_cores)"
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
bm_eq "3: the sample's cgroup figures null, never 0" '[null,null,null,null]' \
    "$(sample_of .cgroup_memory_limit_bytes,.cgroup_memory_usage_bytes,.cgroup_memory_working_set_bytes,.cgroup_cpu_limit_cores)"
bm_check "3: busmon system --json: null" bm_wait_for 10 \
    "\"$BUSMON\" system --redis redis://127.0.0.1:$BM_PORT --window 10s --json | jq -e '.latest.cgroup_memory_limit_bytes == null and .latest.cgroup_cpu_limit_cores == null'"
bm_check "3: busmon system: '-' for no limit" table_has 'cgroup mem limit' '- +'
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
printf 'inactive_file 0\ntotal_inactive_file 0\n' >"$M/docker/abc/memory.stat"
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
# 400 MiB of the 500 MiB is page cache not used lately (v1 counts the
# cgroup's own and its children's as total_inactive_file)
printf 'inactive_file 0\ntotal_inactive_file 419430400\n' >"$M/docker/abc/memory.stat"
bm_check "4: v1: total_inactive_file 400 MiB: the working set 100 MiB on /metrics" bm_wait_for 10 \
    '[ "$(m busmon_cgroup_memory_working_set_bytes)" = 104857600 ]'
bm_eq "4: ... the use still 500 MiB" 524288000 "$(m busmon_cgroup_memory_usage_bytes)"
bm_check "4: v1: memory_percent of the working set: mem_high resolves" bm_wait_for 15 "not_firing mem_high"
# a v1 cpuset of 2 of the 64 CPUs (cpuset.effective_cpus) beside the 0.5 quota: the quota, tighter
mkdir -p "$CG/cpuset/docker/abc"
printf '0-63\n' >"$CG/cpuset/cpuset.effective_cpus"
printf '4-5\n' >"$CG/cpuset/docker/abc/cpuset.effective_cpus"
printf '11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n' >"$BM_TMP/self-cgroup"
printf 'inactive_file 0\ntotal_inactive_file 0\n' >"$M/docker/abc/memory.stat"
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
start_agent c2b
bm_check "4: v1 cpuset 2 CPUs and a 0.5 quota: 0.5 cores" bm_wait_for 10 '[ "$(m busmon_cgroup_cpu_limit_cores)" = 0.5 ]'
printf -- '-1\n' >"$C/docker/abc/cpu.cfs_quota_us"
bm_check "4: v1 cpuset alone: 2 cores" bm_wait_for 10 '[ "$(m busmon_cgroup_cpu_limit_cores)" = 2 ]'
bm_check "4: the page cache in use again (total_inactive_file 0): mem_high fires" bm_wait_for 15 "firing mem_high"
rm -rf "$CG/cpuset"
printf '9223372036854771712\n' >"$M/docker/abc/memory.limit_in_bytes"
printf -- '-1\n' >"$C/docker/abc/cpu.cfs_quota_us"
bm_check "4: v1 'no limit' number: no busmon_cgroup_memory_limit_bytes" bm_wait_for 10 \
    '[ -z "$(m busmon_cgroup_memory_limit_bytes)$(m busmon_cgroup_cpu_limit_cores)" ]'
bm_check "4: ... and memory_percent is the host's: mem_high resolves" bm_wait_for 15 "not_firing mem_high"
bm_eq "4: no read error" "0 0 0" "$(m 'busmon_system_read_errors_total{source="cgroup_memory_max"}') $(m 'busmon_system_read_errors_total{source="cgroup_cpu_max"}') $(m 'busmon_system_read_errors_total{source="cgroup_cpu_usage"}')"
bm_check "the agent is still running" kill -0 "$AGENT_PID"
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
rm -rf "$CG" # v1 done: fewer files for the ticker

# --- 5. the working set (v2) ----------------------------------------------------------------
printf '0-63\n' >"$CG2/cpuset.cpus.effective"
printf '536870912\n' >"$CG2/pod/memory.max"
printf '524288000\n' >"$CG2/pod/memory.current"
printf 'anon 104857600\nfile 419430400\ninactive_anon 0\nactive_file 0\ninactive_file 419430400\n' \
    >"$CG2/pod/memory.stat"
printf 'max 100000\n' >"$CG2/pod/cpu.max"
printf '0-63\n' >"$CG2/pod/cpuset.cpus.effective"
printf '0::/pod\n' >"$BM_TMP/self-cgroup"
start_agent c3 "$CG2"
bm_check "5: 400 MiB of the 500 MiB inactive page cache: memory_percent < 25 fires" \
    bm_wait_for 15 "firing mem_low"
bm_check "5: ... at the working set, 100 of 512 MiB (19.53 %)" bm_wait_for 10 \
    "in_range \"\$(value_of mem_low)\" 19.5 19.6"
bm_check "5: mem_high (> 90) quiet" not_firing mem_high
bm_eq "5: /api/system latest: limit, use, working set" '[536870912,524288000,104857600]' \
    "$(sample_of .cgroup_memory_limit_bytes,.cgroup_memory_usage_bytes,.cgroup_memory_working_set_bytes)"
bm_check "5: busmon system --json: the working set" bm_wait_for 10 \
    "\"$BUSMON\" system --redis redis://127.0.0.1:$BM_PORT --window 10s --json | jq -e '.latest.cgroup_memory_working_set_bytes == 104857600'"
bm_check "5: busmon system: cgroup mem used 500.0 MiB" table_has 'cgroup mem used' '500\.0 MiB'
bm_check "5: busmon system: cgroup mem wset 100.0 MiB" table_has 'cgroup mem wset' '100\.0 MiB'
# all of the use inactive page cache: the working set is 0, a value (not "no sample")
printf 'anon 0\nfile 524288000\ninactive_file 524288000\n' >"$CG2/pod/memory.stat"
bm_check "5: inactive_file = memory.current: busmon_cgroup_memory_working_set_bytes 0 on /metrics" \
    bm_wait_for 10 '[ "$(m busmon_cgroup_memory_working_set_bytes)" = 0 ]'
bm_eq "5: ... 0 in /api/stats counters, not null" 0 \
    "$(curl -s -m 5 "$BASE/api/stats" | jq '.counters.system.cgroup.memory_working_set_bytes')"
bm_eq "5: ... and in /api/system" '[524288000,0]' \
    "$(sample_of .cgroup_memory_usage_bytes,.cgroup_memory_working_set_bytes)"
rm -f "$CG2/pod/memory.stat"
bm_check "5: memory.stat gone: the use itself, mem_high fires" bm_wait_for 15 "firing mem_high"
bm_check "5: ... at 97.66 %" bm_wait_for 10 "in_range \"\$(value_of mem_high)\" 97.6 97.7"
bm_check "5: ... counted (cgroup_memory_stat)" bm_wait_for 10 \
    '[ "$(m '"'"'busmon_system_read_errors_total{source="cgroup_memory_stat"}'"'"')" -ge 1 ]'
bm_eq "5: ... the working set shown as the use" 524288000 "$(m busmon_cgroup_memory_working_set_bytes)"
bm_eq "5: ... said once in the log" 1 "$(grep -c "$CG2/pod/memory.stat" "$BM_TMP/busmon-agent.log")"
printf 'max\n' >"$CG2/pod/memory.max"
bm_check "5: no limit: the working set unknown, absent from /metrics (not 0)" bm_wait_for 10 \
    '[ -z "$(m busmon_cgroup_memory_limit_bytes)$(m busmon_cgroup_memory_working_set_bytes)" ]'
bm_eq "5: ... null in /api/stats counters" null \
    "$(curl -s -m 5 "$BASE/api/stats" | jq '.counters.system.cgroup.memory_working_set_bytes')"

# --- 6. a cpuset (v2) ---------------------------------------------------------------------------
# alerts every second here: several ticks of the CPU time in each interval
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
printf '0-1\n' >"$CG2/pod/cpuset.cpus.effective"
start_agent c4 "$CG2" 1s
bm_check "6: cpuset 0-1 of 64 CPUs, no quota: the limit 2 cores in /api/system" bm_wait_for 10 \
    "[ \"\$(sample_of .cgroup_cpu_limit_cores)\" = '[2]' ]"
wait_evaluations 2
bm_check "6: the cgroup idle: cpu_high never fires though the host's 64 CPUs are busy" \
    never_firing cpu_high
touch "$BM_TMP/grow1"
bm_check "6: the cgroup at ~1 CPU: cpu_percent > 20 fires" bm_wait_for 15 "firing cpu_some"
wait_evaluations 2
bm_check "6: ... at about 50 (1 of 2 CPUs), not 1.6 (of 64) nor the host's 100" \
    in_range "$(mean_value cpu_some)" 30 70
rm -f "$BM_TMP/grow1"
bm_check "6: busmon system: cgroup cpu limit 2.00 cpus" table_has 'cgroup cpu limit' '2\.00 cpus'
printf '400000 100000\n' >"$CG2/pod/cpu.max"
wait_evaluations 2
bm_eq "6: a 4-CPU quota beside it: still 2 cores (the least)" 2 "$(m busmon_cgroup_cpu_limit_cores)"
printf '150000 100000\n' >"$CG2/pod/cpu.max"
bm_check "6: a 1.5-CPU quota: 1.5 cores" bm_wait_for 10 '[ "$(m busmon_cgroup_cpu_limit_cores)" = 1.5 ]'
printf 'max 100000\n' >"$CG2/pod/cpu.max"
printf '0-3:2\n' >"$CG2/pod/cpuset.cpus.effective"
bm_check "6: a cpuset not understood: counted (cgroup_cpuset)" bm_wait_for 10 \
    '[ "$(m '"'"'busmon_system_read_errors_total{source="cgroup_cpuset"}'"'"')" -ge 1 ]'
bm_check "6: ... no limit: cpu_percent is the host's 100, cpu_high fires" bm_wait_for 15 "firing cpu_high"
bm_eq "6: ... no busmon_cgroup_cpu_limit_cores" "" "$(m busmon_cgroup_cpu_limit_cores)"
bm_eq "6: ... said once in the log" 1 "$(grep -c "$CG2/pod/cpuset.cpus.effective" "$BM_TMP/busmon-agent.log")"
bm_check "the agent is still running" kill -0 "$AGENT_PID"
bm_finish
