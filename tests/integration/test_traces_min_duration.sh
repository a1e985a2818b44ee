#!/usr/bin/env bash
# --min-duration at its edge: busmon traces and /api/traces read a duration
# alike (rounded to the nearest µs) and keep a transaction that lasted at
# least that long, no shorter one: "4.1s" is 4,100,000 µs, so a transaction
# of 4,099,999 µs is left out by both (the CLI read "4.1s" as 4,099,999 µs,
# 4.1 * 1e6 in floating point, and listed it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/traces_lib.sh"
HP=$(bm_free_port)
traces_start_agent --http "127.0.0.1:$HP" --trace-flush-interval 100ms
t0=$(($(date +%s%N) / 1000 - 30000000))
tx() { # tx TX DURATION-µs: a command and its result DURATION apart
    bm_cli XADD busmon:events '*' type command id "$1-c" tx "$1" worker w step s ts "$t0" >/dev/null
    bm_cli XADD busmon:events '*' type result id "$1-r" tx "$1" worker w step s cmd "$1-c" ok true \
        ts $((t0 + $2)) >/dev/null
}
tx tx-short 4099999
tx tx-exact 4100000
bm_check "both indexed" bm_wait_for 10 '[ "$(bm_cli_raw ZCARD busmon:traces)" = 2 ]'
bm_check "both stored whole" bm_wait_for 10 \
    '[ "$("$BUSMON" traces --json | jq "[.traces[].events] | add")" = 4 ]'
for d in 4.1s 4100ms 4100000us; do
    bm_eq "busmon traces --min-duration $d" tx-exact \
        "$("$BUSMON" traces --min-duration "$d" --json | jq -r '[.traces[].tx] | join(" ")')"
    bm_eq "/api/traces?min_duration=$d" tx-exact \
        "$(curl -s "http://127.0.0.1:$HP/api/traces?min_duration=$d" | jq -r '[.traces[].tx] | join(" ")')"
done
bm_eq "busmon traces --min-duration 4.099999s: both" "tx-exact tx-short" \
    "$("$BUSMON" traces --min-duration 4.099999s --json | jq -r '[.traces[].tx] | sort | join(" ")')"
bm_finish
