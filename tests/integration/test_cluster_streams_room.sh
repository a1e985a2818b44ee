#!/usr/bin/env bash
# An agent reads at most 64 streams, and in a cluster its own hand-off stream
# is one of them. 64 named streams with cluster.enabled passed --check-config
# (exit 0) and then stopped the agent at start with "too many stream names (at
# most 64)", though 64 were named. They are refused by the configuration now,
# saying why (exit 2); 63, or 64 without the cluster, are fine.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
s64=(); for i in $(seq 1 64); do s64+=(--stream "s$i"); done
out=$("$AGENT" --consumer c1 "${s64[@]}" --check-config --offline 2>&1); rc=$?
bm_eq "64 streams in a cluster: --check-config exits 2" 2 "$rc"
bm_check "... saying the hand-off stream is the 65th" \
    grep -q "also reads its hand-off stream 'busmon:handoff:c1', and reads at most 64; name at most 63" <<<"$out"
"$AGENT" --consumer c1 "${s64[@]:2}" --check-config --offline >/dev/null 2>&1
bm_eq "63 streams in a cluster: exit 0" 0 "$?"
BUSMON_CLUSTER_ENABLED=false "$AGENT" --consumer c1 "${s64[@]}" --check-config --offline >/dev/null 2>&1
bm_eq "64 streams, cluster.enabled false: exit 0" 0 "$?"
"$AGENT" --consumer c1 "${s64[@]:2}" --stream busmon:handoff:c1 --check-config --offline >/dev/null 2>&1
bm_eq "64 streams, one of them the hand-off stream: exit 0" 0 "$?"
bm_start_redis
bm_agent_http
"$AGENT" --consumer c1 --http "127.0.0.1:$HPORT" "${s64[@]}" >"$BM_TMP/agent.log" 2>&1 &
BM_PIDS+=($!)
bm_check "started with 64 streams it exits 2 at once, not 1 after building" bm_wait_for 10 \
    "! kill -0 $! 2>/dev/null"
wait $!
bm_eq "... exit 2" 2 "$?"
bm_finish
