#!/usr/bin/env bash
# The disk figure's path (jobs/sysmon.c), kept whole: a system.data_path or a
# Redis dir longer than a sample once held (256 bytes; the sampler 512) is
# carried whole into /api/system, busmon:system and `busmon system`, and its
# disk is the one statvfs gives for it (a cut path is another directory, or
# none: the disk was unknown). A system.data_path longer than a path may be
# (PATH_MAX) is refused at start with a clear reason, never cut.
source "$(dirname "$0")/lib.sh"
# a directory 700 bytes deep (7 names of 90), under the test's own
LONG=$BM_TMP
for i in 1 2 3 4 5 6 7; do LONG=$LONG/$(printf "d$i%.0s" $(seq 45)); done
mkdir -p "$LONG"
# Redis runs in it: CONFIG GET dir answers the whole path
BM_TMP=$LONG bm_start_redis
bm_agent_http
bm_eq "Redis's dir is the ${#LONG}-byte path" "$LONG" "$(bm_cli_raw CONFIG GET dir | tail -1)"
df_used() { df -P "$1" | awk 'NR == 2 { sub("%", "", $5); print $5 }'; }

# 1. no system.data_path: Redis's dir, local here, whole
bm_bg "$AGENT" --consumer c1 --http "127.0.0.1:$HPORT" --block-ms 100 --system-interval 250ms
bm_check "1: a sample with the data path" bm_wait_for 15 \
    "curl -s '$BASE/api/system?window=1m' | jq -e '.latest.data_path != null' >/dev/null"
bm_check "1: /api/system: Redis's dir whole (${#LONG} bytes)" bm_wait_for 5 \
    "[ \"\$(curl -s '$BASE/api/system?window=1m' | jq -r .latest.data_path)\" = '$LONG' ]"
bm_check "1: ... its disk known, as df says within 2 points" bm_wait_for 5 \
    "curl -s '$BASE/api/system?window=1m' | jq -e --argjson d $(df_used "$LONG") '.latest.disk_percent != null and ((.latest.disk_percent - \$d) | fabs <= 2)' >/dev/null"
bm_check "1: busmon system --json: the path whole" bm_wait_for 10 \
    "[ \"\$('$BUSMON' system --window 1m --json | jq -r .latest.data_path)\" = '$LONG' ]"
bm_check "1: busmon system: 'disk is the file system of' the whole path" bm_wait_for 10 \
    "'$BUSMON' system --window 1m | grep -qxF 'disk is the file system of $LONG'"
bm_eq "1: no data_path read error" 0 "$(bm_metric "$HPORT" 'busmon_system_read_errors_total{source="data_path"}')"
kill "$BM_LAST_PID"
wait "$BM_LAST_PID" 2>/dev/null

# 2. system.data_path configured, longer than 256 bytes: whole
printf 'system:\n  data_path: %s\n' "$LONG/" >"$BM_TMP/long.yaml"
bm_bg "$AGENT" --consumer c2 --config "$BM_TMP/long.yaml" --http "127.0.0.1:$HPORT" --block-ms 100 \
    --system-interval 250ms
bm_check "2: /api/system: the configured path whole" bm_wait_for 15 \
    "[ \"\$(curl -s '$BASE/api/system?window=1m' | jq -r .latest.data_path)\" = '$LONG/' ]"
bm_check "2: ... its disk known" bm_wait_for 5 \
    "curl -s '$BASE/api/system?window=1m' | jq -e '.latest.disk_percent != null' >/dev/null"
kill "$BM_LAST_PID"
wait "$BM_LAST_PID" 2>/dev/null

# 3. a system.data_path longer than PATH_MAX (4095 bytes): refused at start, said
HUGE=/$(printf 'p%.0s' $(seq 4200))
printf 'system:\n  data_path: %s\n' "$HUGE" >"$BM_TMP/huge.yaml"
timeout 10 "$AGENT" --consumer c3 --config "$BM_TMP/huge.yaml" --block-ms 100 >"$BM_TMP/huge.out" 2>&1
rc=$?
bm_eq "3: a 4201-byte system.data_path: refused at start (exit 2, a configuration error)" 2 "$rc"
bm_check "3: ... the reason names the key and the bound" \
    grep -qF "'system.data_path' must be a path of at most 4095 bytes" "$BM_TMP/huge.out"
bm_check "3: ... one line, not the whole path" bash -c "[ \$(wc -c <'$BM_TMP/huge.out') -lt 1000 ]"
bm_finish
