#!/usr/bin/env bash
# `busmon baseline freeze|clear WORKER` against a real redis-server
# (agent/cli/baseline.c): a request is HINCRBY _seq, then HSET <worker>
# "<op> <seq> <µs>" in the control hash. "_seq" is the hash's counter, not
# a worker's field: a request for it would overwrite the counter with text,
# the agent would skip it (the field is never a request), and every later
# freeze or clear would fail on HINCRBY ("hash value is not an integer").
# Checked: such a request is refused as a usage error, the counter stays a
# number, and the next request is written. A request reads no checkpoint,
# so the settings of its limits (BUSMON_BASELINES_MAX_KEYS) do not stop it.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

"$BUSMON" baseline freeze steady >/dev/null 2>&1
bm_eq "a first request: _seq 1" 1 "$(bm_cli_raw HGET busmon:baseline:ctl _seq)"

"$BUSMON" baseline freeze _seq >"$BM_TMP/seq.out" 2>"$BM_TMP/seq.err"
rc=$?
bm_eq "freeze _seq: a usage error" 2 "$rc"
bm_check "freeze _seq: says why ($(cat "$BM_TMP/seq.err"))" grep -q "request counter" "$BM_TMP/seq.err"
"$BUSMON" baseline clear _seq >/dev/null 2>&1
rc=$?
bm_eq "clear _seq: a usage error" 2 "$rc"
bm_eq "the counter is still a number" 1 "$(bm_cli_raw HGET busmon:baseline:ctl _seq)"

"$BUSMON" baseline clear steady >"$BM_TMP/next.out" 2>"$BM_TMP/next.err"
rc=$?
bm_eq "the next request is written ($(cat "$BM_TMP/next.err"))" 0 "$rc"
bm_check "... as request 2" bash -c "[ \"\$(redis-cli -p $BM_PORT HGET busmon:baseline:ctl steady | cut -d' ' -f1,2)\" = 'clear 2' ]"

# a request reads no checkpoint: the limits' settings are not its business
BUSMON_BASELINES_MAX_KEYS=lots "$BUSMON" baseline freeze steady >/dev/null 2>"$BM_TMP/env.err"
rc=$?
bm_eq "freeze with a bad \$BUSMON_BASELINES_MAX_KEYS (only a reader's limit) is written ($(cat "$BM_TMP/env.err"))" 0 "$rc"

bm_finish
