#!/usr/bin/env bash
# Trace search: a transaction with steps on more workers than its summary
# names (the first 8 seen) is found by `busmon traces --worker W` and
# /api/traces?worker=W for every one of them, the 9th and later included:
# the agent adds it to their :w:<worker> sets too (also when a worker joins
# in a later write group), and the filter looks the worker up in the trace.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/traces_lib.sh"
HP=$(bm_free_port)
traces_start_agent --http "127.0.0.1:$HP" --trace-flush-interval 200ms
now=$(($(date +%s%N) / 1000))
step() { # step TX WORKER N FAIL: a command on WORKER and its answer
    bm_cli XADD busmon:events '*' type command id "$1-c$3" tx "$1" worker "$2" step "s$3" \
        ts $((now + $3 * 1000)) >/dev/null
    if [ "$4" = fail ]; then
        bm_cli XADD busmon:events '*' type error id "$1-r$3" tx "$1" worker "$2" step "s$3" \
            cmd "$1-c$3" error_type Boom ts $((now + $3 * 1000 + 500)) >/dev/null
    else
        bm_cli XADD busmon:events '*' type result id "$1-r$3" tx "$1" worker "$2" step "s$3" \
            cmd "$1-c$3" ok true ts $((now + $3 * 1000 + 500)) >/dev/null
    fi
}
for i in $(seq 1 9); do step tx-many "w$i" "$i" ok; done
step tx-few w1 1 ok
bm_check "both transactions are indexed" bm_wait_for 10 '[ "$(bm_cli_raw ZCARD busmon:traces)" = 2 ]'
bm_check "tx-many is in w9's set" bm_wait_for 10 \
    '[ -n "$(bm_cli_raw ZSCORE busmon:traces:w:w9 tx-many)" ]'
# a 10th worker, in a later write group, failing
bm_wait_for 2 false
step tx-many w10 10 fail
bm_check "tx-many joins w10's set in a later group" bm_wait_for 10 \
    '[ -n "$(bm_cli_raw ZSCORE busmon:traces:w:w10 tx-many)" ]'
bm_check "tx-many is failed" bm_wait_for 10 '[ -n "$(bm_cli_raw ZSCORE busmon:traces:failed tx-many)" ]'

for w in w1 w8 w9 w10; do
    want=tx-many
    [ "$w" = w1 ] && want=$'tx-few\ntx-many'
    bm_eq "busmon traces --worker $w" "$want" \
        "$("$BUSMON" traces --worker "$w" --json | jq -r '.traces[].tx' | sort)"
    bm_eq "/api/traces?worker=$w" "$want" \
        "$(curl -s "http://127.0.0.1:$HP/api/traces?worker=$w" | jq -r '.traces[].tx' | sort)"
done
bm_eq "busmon traces --worker w10 --status failed" tx-many \
    "$("$BUSMON" traces --worker w10 --status failed --json | jq -r '.traces[].tx')"
bm_eq "busmon traces --worker w10 --status completed: none (exit 1)" 1 \
    "$("$BUSMON" traces --worker w10 --status completed >/dev/null; echo $?)"
bm_eq "busmon traces --worker w11: none (exit 1)" 1 \
    "$("$BUSMON" traces --worker w11 >/dev/null; echo $?)"
bm_eq "/api/traces?worker=w11: none" 0 \
    "$(curl -s "http://127.0.0.1:$HP/api/traces?worker=w11" | jq '.count')"
bm_eq "the summary still names the first 8" "w1,w2,w3,w4,w5,w6,w7,w8" \
    "$("$BUSMON" traces --worker w10 --json | jq -r '.traces[0].workers | join(",")')"
bm_finish
