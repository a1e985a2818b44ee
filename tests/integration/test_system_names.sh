#!/usr/bin/env bash
# A consumer or stream name is an identity of up to 256 bytes: the system
# sample (busmon:system) carries it whole, so `busmon system --agent NAME`
# finds the samples of an agent with a 200-byte consumer name, `busmon
# system --json` shows both names whole, and `busmon top` reads the consumer
# lag of a 250-byte stream (the name it takes from the latest sample) instead
# of saying "(no stream)".
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq is needed"; exit 77; }
bm_start_redis
BUSMON="$BM_BUILD/busmon"
CONSUMER="agent-$(printf 'c%.0s' $(seq 194))"
STREAM="events:$(printf 's%.0s' $(seq 243))"
bm_eq "the consumer name is 200 bytes" 200 "${#CONSUMER}"
bm_eq "the stream name is 250 bytes" 250 "${#STREAM}"
printf 'system:\n  interval_seconds: 0.5\n' >"$BM_TMP/sys.yaml"
bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/sys.yaml" --consumer "$CONSUMER" \
    --stream "$STREAM" --block-ms 100
bm_cli XADD "$STREAM" '*' type command tx t1 worker a >/dev/null
bm_check "a system sample is published" bm_wait_for 20 \
    "[ \"\$(bm_cli_raw XLEN busmon:system)\" -ge 2 ]"

J=$("$BUSMON" system --json --window 1m --agent "$CONSUMER")
bm_eq "busmon system --agent <200-byte name>: exit 0" 0 "$?"
bm_eq "the sample names the agent whole" "$CONSUMER" "$(jq -r '.latest.agent' <<<"$J")"
bm_eq "the sample names the stream whole" "$STREAM" "$(jq -r '.latest.streams[0].name' <<<"$J")"
bm_check "busmon system (table) shows the stream whole" \
    grep -qF "$STREAM" <<<"$("$BUSMON" system --window 1m --agent "$CONSUMER")"
TOP=$("$BUSMON" top --once)
bm_check "busmon top reads the lag of the 250-byte stream" \
    grep -qE "group busmon +lag [0-9?]+ +pending [0-9]+" <<<"$TOP"
bm_check "busmon top does not call it missing" bash -c '! grep -q "(no stream)" <<<"$1"' _ "$TOP"
bm_finish
