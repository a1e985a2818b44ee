#!/usr/bin/env bash
# `busmon baseline` reads the judging agent's checkpoint (agent/cli/baseline.c)
# as the agent reads it, against a real redis-server and agent:
#   - limits: an agent configured for more baseline keys (or workers) than
#     the default limits hold reads and writes a checkpoint past them
#     (bm_checkpoint_limits_for). Here 125,000 keys (baselines.slots none:
#     17 MB, 4.4 M msgpack objects, past the default 4 Mi): the checkpoint
#     is made by the library's encoder (bm-checkpoint-gen), restored by a
#     real agent of baselines.max_keys 125000, which then writes its own.
#     Without the agent's settings the CLI says which to give (exit 1);
#     with --max-baseline-keys, --max-workers or the agent's own variable
#     ($BUSMON_BASELINES_MAX_KEYS) it shows the baselines; a bad setting is
#     a usage error (exit 2);
#   - format version: a checkpoint of another version (a newer agent's) is
#     refused with the version named, not read as this one's layout;
#   - no checkpoint (an agent of state.checkpoint_interval 0): the message
#     names that setting, where the baselines are then, and --state-prefix.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
GEN="$BM_BUILD/bm-checkpoint-gen"
KEYS=125000
has() { grep -q -- "$2" "$1"; }

# ---- the checkpoint of an agent of 125,000 baseline keys --------------------------
SEEDED_US=$((($(date +%s) - 60) * 1000000))
"$GEN" --agent big --keys $KEYS --ts-us $SEEDED_US >"$BM_TMP/big.ck" 2>"$BM_TMP/gen.log"
bm_check "the checkpoint: past the default limits, within those of baselines.max_keys $KEYS: $(cat "$BM_TMP/gen.log")" \
    has "$BM_TMP/gen.log" "default too_big keys ok"
bm_cli_raw -x SET busmon:state:big <"$BM_TMP/big.ck" >/dev/null
SEEDED_LEN=$(bm_cli_raw STRLEN busmon:state:big)

# the agent of that configuration restores it, then writes its own (an event makes it)
BUSMON_BASELINES_MAX_KEYS=$KEYS BUSMON_BASELINES_SLOTS=none bm_bg "$BM_BUILD/busmon-agent" \
    --consumer big --block-ms 100 --rollup-interval 1 --log-level info
BIG_AGENT=$BM_LAST_PID
bm_check "the agent restored the checkpoint" \
    bm_wait_for 30 "grep -q 'restored the state from busmon:state:big' '$BM_TMP/busmon-agent.log'"
bm_cli XADD busmon:events '*' type command tx t1 worker w1 >/dev/null
bm_check "the agent wrote its own checkpoint" \
    bm_wait_for 30 '[ "$(bm_cli_raw STRLEN busmon:state:big)" != "$SEEDED_LEN" ]'
bm_check "the agent published a rollup naming it" \
    bm_wait_for 15 '[ "$(bm_cli_raw XLEN busmon:rollups)" -ge 1 ]'

# bl NAME ARGS...: busmon baseline ARGS, its exit code in $BM_TMP/NAME.rc, out, err
bl() {
    local name=$1
    shift
    "$BUSMON" baseline "$@" >"$BM_TMP/$name.out" 2>"$BM_TMP/$name.err"
    echo $? >"$BM_TMP/$name.rc"
}
rc() { cat "$BM_TMP/$1.rc"; }

bl plain key-0000007
bm_check "default limits: exit 1 ($(rc plain))" [ "$(rc plain)" = 1 ]
bm_check "default limits: says what is past them" has "$BM_TMP/plain.err" "more than 4194304 msgpack objects"
bm_check "default limits: says which settings to give" \
    bash -c "grep -q -- '--max-workers N --max-baseline-keys N' '$BM_TMP/plain.err' &&
             grep -q 'BUSMON_BASELINES_MAX_KEYS' '$BM_TMP/plain.err'"

bl keys --max-baseline-keys $KEYS key-0000007
bm_check "--max-baseline-keys $KEYS: exit 0 ($(rc keys): $(cat "$BM_TMP/keys.err"))" [ "$(rc keys)" = 0 ]
bm_check "--max-baseline-keys $KEYS: the key, ready, at its 50 ms" \
    bash -c "grep -Eq '^key-0000007 +ready +20 .* 50 ms' '$BM_TMP/keys.out'"

bl json --json --max-baseline-keys=$KEYS
bm_check "--json: every key of the agent's checkpoint ($(rc json))" \
    bash -c "[ $(rc json) = 0 ] && jq -e '.agent == \"big\" and (.workers | length) == $KEYS' '$BM_TMP/json.out' >/dev/null"

BUSMON_BASELINES_MAX_KEYS=125k bl env key-0000007
bm_check "the agent's own variable, BUSMON_BASELINES_MAX_KEYS=125k: exit 0 ($(rc env))" \
    [ "$(rc env)" = 0 ]
bl workers --max-workers 5000 key-0000007
bm_check "--max-workers 5000 (limits grow with either setting): exit 0 ($(rc workers))" \
    [ "$(rc workers)" = 0 ]

bl zero --max-baseline-keys 0
bm_check "--max-baseline-keys 0: usage error ($(rc zero))" \
    bash -c "[ $(rc zero) = 2 ] && grep -q 'must be a positive number' '$BM_TMP/zero.err'"
bl neg --max-workers -3
bm_check "--max-workers -3: usage error ($(rc neg))" [ "$(rc neg)" = 2 ]
BUSMON_WORKER_MONITORING_MAX_WORKERS=lots bl badenv
bm_check "BUSMON_WORKER_MONITORING_MAX_WORKERS=lots: usage error naming it ($(rc badenv))" \
    bash -c "[ $(rc badenv) = 2 ] && grep -q 'BUSMON_WORKER_MONITORING_MAX_WORKERS must be' '$BM_TMP/badenv.err'"
bm_check "--help says both settings" \
    bash -c "'$BUSMON' baseline --help | grep -q -- '--max-baseline-keys N' &&
             '$BUSMON' baseline --help | grep -q -- '--max-workers N'"

# ---- a checkpoint of another format version --------------------------------------
"$GEN" --agent future --keys 3 --version 2 2>/dev/null | bm_cli_raw -x SET busmon:state:future >/dev/null
bm_cli XADD test:rollups '*' json '{"agent":"future","workers":[]}' >/dev/null
bl future --rollups test:rollups
bm_check "format version 2: exit 1 ($(rc future))" [ "$(rc future)" = 1 ]
bm_check "format version 2: nothing shown as if read" [ ! -s "$BM_TMP/future.out" ]
bm_check "format version 2: the version named ($(cat "$BM_TMP/future.err"))" \
    has "$BM_TMP/future.err" "is of format version 2, this busmon reads 1"
bm_cli_raw SET busmon:state:other "$(printf '\x81\xa4kind\xa5other')" >/dev/null
bm_cli XADD test:rollups '*' json '{"agent":"other","workers":[]}' >/dev/null
bl other --rollups test:rollups
bm_check "another kind of msgpack map: exit 1, not a checkpoint ($(cat "$BM_TMP/other.err"))" \
    bash -c "[ $(rc other) = 1 ] && grep -q 'is not a busmon state checkpoint' '$BM_TMP/other.err'"

bm_cli XADD test:rollups '*' json '{"workers":[]}' >/dev/null
bl noagent --rollups test:rollups
bm_check "a rollup naming no agent: exit 1, said so ($(cat "$BM_TMP/noagent.err"))" \
    bash -c "[ $(rc noagent) = 1 ] && [ ! -s '$BM_TMP/noagent.out' ] &&
             grep -q 'names no agent' '$BM_TMP/noagent.err'"

# ---- no checkpoint: an agent of state.checkpoint_interval 0 writes none ----------
kill "$BIG_AGENT"
wait "$BIG_AGENT" 2>/dev/null
BUSMON_OUTPUTS_ROLLUPS=nock:rollups BUSMON_CLUSTER_ENABLED=false bm_bg "$BM_BUILD/busmon-agent" \
    --consumer nock --group nock --stream nock:events --checkpoint-interval 0 --rollup-interval 1
bm_check "the agent without checkpoints publishes a rollup" \
    bm_wait_for 15 '[ "$(bm_cli_raw XLEN nock:rollups)" -ge 1 ] 2>/dev/null'
bl nock --rollups nock:rollups
bm_check "no checkpoint: exit 1 ($(rc nock))" [ "$(rc nock)" = 1 ]
bm_check "no checkpoint: names state.checkpoint_interval 0 and where the baselines are then ($(cat "$BM_TMP/nock.err"))" \
    bash -c "grep -q 'state.checkpoint_interval: 0' '$BM_TMP/nock.err' && grep -q '/api/baseline' '$BM_TMP/nock.err'"
bm_check "no checkpoint: names --state-prefix (an agent of another state.key_prefix)" \
    has "$BM_TMP/nock.err" "--state-prefix"

bm_finish
