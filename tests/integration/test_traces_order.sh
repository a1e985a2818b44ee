#!/usr/bin/env bash
# busmon traces lists the newest matches by their stored start, and --limit
# keeps the newest: a transaction the agent saw again after it left its
# memory (evicted by --max-transactions) joins :failed under the start of
# the events it then held, later than its stored trace's start; it must
# not be listed before, or instead of, a transaction that started later.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/traces_lib.sh"
traces_start_agent --no-http --max-transactions 2 --trace-flush-interval 100ms
t0=$(($(date +%s%N) / 1000 - 60000000)) # a minute ago, µs
ev() { # ev TYPE ID TX SECONDS-AFTER-T0 [more fields]
    local type=$1 id=$2 tx=$3 at=$4
    shift 4
    bm_cli XADD busmon:events '*' type "$type" id "$id" tx "$tx" worker flaky step pay \
        ts $((t0 + at * 1000000)) "$@" >/dev/null
}
ev command old-c tx-old 0
bm_check "tx-old indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-old)" ]'
ev command b-c tx-b 1
ev command c-c tx-c 2
ev command d-c tx-d 3
bm_check "tx-d indexed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-d)" ]'
ev command new-c tx-new 5
ev error new-e tx-new 6 cmd new-c error_type Boom
bm_check "tx-new failed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces:failed tx-new)" ]'
ev error old-e tx-old 10 cmd old-c error_type Boom # tx-old left memory: seen again
bm_check "tx-old failed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces:failed tx-old)" ]'
bm_check "tx-old's :failed score is later than its start (the scenario holds)" \
    [ "$(bm_cli_raw ZSCORE busmon:traces:failed tx-old)" -gt "$(bm_cli_raw ZSCORE busmon:traces tx-old)" ]

bm_eq "--status failed: newest start first" "tx-new tx-old" \
    "$("$BUSMON" traces --status failed --json | jq -r '[.traces[].tx] | join(" ")')"
bm_eq "--status failed --limit 1: the newest start, cut (limited)" "tx-new true" \
    "$("$BUSMON" traces --status failed --limit 1 --json | jq -r '"\(.traces[0].tx) \(.limited)"')"
bm_eq "--status failed --limit 2: both, not cut" "2 false" \
    "$("$BUSMON" traces --status failed --limit 2 --json | jq -r '"\(.count) \(.limited)"')"
bm_eq "text: --status failed --limit 1 lists tx-new" "tx-new" \
    "$("$BUSMON" traces --status failed --limit 1 | awk 'NR == 2 { print $NF }')"
since_ms=$((($(date +%s%N) / 1000 - t0 - 4000000) / 1000)) # back to t0 + 4 s
bm_eq "--status failed --since t0+4s: tx-new only (tx-old started before)" "tx-new" \
    "$("$BUSMON" traces --status failed --since "${since_ms}ms" --json | jq -r '[.traces[].tx] | join(" ")')"
bm_eq "unfiltered: newest start first" "tx-new tx-d tx-c tx-b tx-old" \
    "$("$BUSMON" traces --json | jq -r '[.traces[].tx] | join(" ")')"
bm_finish
