#!/usr/bin/env bash
# The CLI reads only the rollup format it knows (proto/README §8.2: a change
# of meaning gets a new "v"). A rollup of another version (a newer agent) is
# refused and said, exit 1, nothing on stdout, by every view that reads the
# latest rollup; `busmon top` says it in its frame. A rollup with "v": 1, or
# without "v" (agents before it was written), is read.
source "$(dirname "$0")/lib.sh"
bm_agent_http
bm_start_redis
bm_bg "$AGENT" --consumer rv --rollup-interval 1 --no-http
bm_cli XADD busmon:events '*' type command tx t1 id c1 worker w step s >/dev/null
bm_cli XADD busmon:events '*' type result tx t1 id r1 cmd c1 worker w step s >/dev/null
bm_check "the agent publishes a rollup" bm_wait_for 15 '[ "$(bm_cli_raw XLEN busmon:rollups)" -ge 1 ]'
# the json field of the latest rollup
latest_json() { bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | awk 'p { print; exit } $0 == "json" { p = 1 }'; }
kill "$BM_LAST_PID"
wait "$BM_LAST_PID" 2>/dev/null
bm_eq "the agent's rollup says v 1" 1 \
    "$(latest_json | jq -r .v)"
bm_check "busmon stats reads it" bash -c "'$BUSMON' stats >/dev/null"

# a rollup of the agent's, its "v" replaced
roll=$(latest_json)
bm_cli XADD busmon:rollups '*' json "$(jq -c '.v = 2' <<<"$roll")" >/dev/null
for cmd in stats workers errors metrics baseline "stats --json" "workers --json"; do
    # shellcheck disable=SC2086  # cmd is words
    "$BUSMON" $cmd >"$BM_TMP/out" 2>"$BM_TMP/err"
    rc=$?
    bm_check "v 2: busmon $cmd exits 1 ($rc), prints nothing, names the version ($(cat "$BM_TMP/err"))" \
        bash -c "[ $rc = 1 ] && [ ! -s '$BM_TMP/out' ] && grep -q 'format version 2; this busmon reads version 1' '$BM_TMP/err'"
done
bm_check "v 2: busmon top --once names the version in its frame" \
    bash -c "'$BUSMON' top --once | grep -q 'format version 2'"

# without "v": read as before
bm_cli XADD busmon:rollups '*' json "$(jq -c 'del(.v)' <<<"$roll")" >/dev/null
bm_check "no v: busmon stats reads it" bash -c "'$BUSMON' stats >/dev/null"
bm_check "no v: busmon workers lists w" bash -c "'$BUSMON' workers | grep -q '^w '"
bm_finish
