#!/usr/bin/env bash
# The agent (live, /api/traces/TX) and the CLI (busmon trace --json TX, from
# the stored records) read one transaction alike, every key of every event,
# through the edge cases of proto/README.md §7.1: an answer read before its
# command, busmon's own timeout and the late answer after it, a
# compensation and its answer, an event delivered twice, a second answer to
# an answered command, the final status.
source "$(dirname "$0")/lib.sh"
bm_start_redis
HP=$(bm_free_port)
BASE="http://127.0.0.1:$HP"
unset BUSMON_HTTP
bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --http "127.0.0.1:$HP"
bm_check "HTTP is up" bm_wait_for 10 "curl -sf $BASE/health"
now=$(date +%s)
x() { bm_cli XADD busmon:events '*' json "$(jq -cn --argjson ts "$now" "$1")" >/dev/null; }
x '{type:"result",id:"a0",tx:"T",cmd:"c0",worker:"w",step:"s0",ok:true,ts:($ts+0.05)}'
x '{type:"command",id:"c0",tx:"T",worker:"w",step:"s0",ts:$ts}'
x '{type:"command",id:"c1",tx:"T",worker:"w",step:"s",timeout_seconds:1,ts:($ts+0.1)}'
bm_check "busmon times c1 out (1 s + grace)" bm_wait_for 10 \
    "curl -s $BASE/api/traces/T | jq -e '.events | map(.id) | index(\"c1:timeout\")'"
x '{type:"result",id:"a1",tx:"T",cmd:"c1",worker:"w",step:"s",ok:true,ts:($ts+3.6)}'
x '{type:"compensation",id:"k1",tx:"T",worker:"undo",step:"s",ts:($ts+3.7)}'
x '{type:"result",id:"ka",tx:"T",cmd:"k1",worker:"undoer",ok:true,ts:($ts+3.8)}'
x '{type:"result",id:"a1",tx:"T",cmd:"c1",worker:"w",step:"s",ok:true,ts:($ts+3.6)}'
x '{type:"error",id:"e2",tx:"T",cmd:"c0",worker:"w",step:"s0",error:{type:"Dup"},ts:($ts+3.9)}'
x '{type:"status",id:"st",tx:"T",status:"compensated",ts:($ts+4)}'
cli() { "$BM_BUILD/busmon" --redis "redis://127.0.0.1:$BM_PORT" "$@"; }
bm_check "the agent holds the 9 events" bm_wait_for 10 \
    "curl -s $BASE/api/traces/T | jq -e '.event_count == 9'"
bm_check "the stored trace holds them (flushed)" bm_wait_for 10 \
    "cli trace --json T 2>/dev/null | jq -e '.event_count == 9'"
curl -s "$BASE/api/traces/T" | jq -S . >"$BM_TMP/api.json"
cli trace --json T | jq -S . >"$BM_TMP/cli.json"
bm_eq "the stages (§7.1)" \
    "compensated c0:dispatched a0:completed c1:dispatched c1:timeout:timed_out a1:late k1:requested ka:compensated e2:failed st:compensated" \
    "$(jq -r '[.status] + [.events[] | "\(.id):\(.stage)"] | join(" ")' "$BM_TMP/api.json")"
bm_eq "agent and CLI: the same trace, key for key" "" \
    "$(diff "$BM_TMP/api.json" "$BM_TMP/cli.json")"
bm_eq "busmon's own timeout: no 'ok' (an error event's)" "null" \
    "$(jq -c '.events[] | select(.id == "c1:timeout") | .ok' "$BM_TMP/api.json")"
bm_finish
