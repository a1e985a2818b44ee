#!/usr/bin/env bash
# Several agents on one consumer group make one monitor, against a real
# redis-server and the demo producer's ground truth:
#   1. 2 agents, then 3 on one group: per-worker executions, successes and
#      failures exact, p95 within 1 %, every error counted once under its
#      worker, no synthetic timeout, sampled traces complete — from the CLI
#      (the merged rollup stream), busmon:workers and every agent's
#      /api/workers alike; one leader;
#   2. the leader killed with kill -9 under load: another agent holds the
#      lease within two lease periods; an alert firing before is still
#      firing after, notified once;
#   3. 2 agents on the framework's pub/sub shape: successes, failures and
#      timeouts exact (every agent gets every message; its owner applies it);
#   4. one agent stopped for good: its figures still count; `busmon stats`
#      names it stale.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
BUSMON="$BM_BUILD/busmon"
PRODUCER="$BM_BUILD/busmon-demo-producer"
export BUSMON_CLUSTER_HEARTBEAT=250ms BUSMON_CLUSTER_LEASE=1s BUSMON_CLUSTER_STALE=1500ms \
    BUSMON_CLUSTER_REFRESH=300ms

truth() { awk -F'\t' 'NF == 3 && ($2 == "ok" || $2 == "fail" || $2 == "timeout") {
        n[$1]++; if ($2 == "ok") ok[$1]++; else if ($2 == "fail") f[$1]++; else t[$1]++ }
    END { for (w in n) print w, ok[w] + 0, f[w] + 0, t[w] + 0 }' "$1" | sort; }
cli_seen() { "$BUSMON" workers --json --window 1h 2>/dev/null |
    jq -r '.workers[] | "\(.name) \(.successes) \(.failures) \(.timeouts)"' | sort; }
api_seen() { curl -s "http://127.0.0.1:$1/api/workers?window=1h" |
    jq -r '.workers[] | "\(.name) \(.successes) \(.failures) \(.timeouts)"' | sort; }
hash_seen() { bm_cli_raw HGETALL busmon:workers | paste - - | grep -v '^_' |
    while IFS=$'\t' read -r name json; do jq -r '.windows["1h"] // .windows[2] // . |
        "\(.successes) \(.failures) \(.timeouts)"' <<<"$json" | sed "s/^/$name /"; done | sort; }
p95_ok() {
    local w exact got
    for w in fast slow flaky cpu_heavy; do
        exact=$(awk -F'\t' -v w="$w" '$1 == w && NF == 3 && $2 != "timeout" { print $3 }' "$1" | sort -n |
            awk '{ v[NR] = $1 } END { r = int(0.95 * NR); if (r < 0.95 * NR) r++; print v[r] }')
        got=$("$BUSMON" workers --json --window 1h | jq -r --arg w "$w" '.workers[] | select(.name == $w) | .p95_ms')
        awk -v a="$exact" -v b="$got" 'BEGIN { d = (a - b) / a; if (d < 0) d = -d; exit !(d <= 0.01) }' ||
            { echo "  $w: exact $exact ms, busmon $got ms"; return 1; }
    done
}
PIDS=()
HPORTS=()
# start_agents N [flags]: N agents m1..mN, each with HTTP, consumers of one group
start_agents() {
    local n=$1 i hp; shift
    PIDS=(); HPORTS=()
    for i in $(seq 1 "$n"); do
        hp=$(bm_free_port)
        "$AGENT" --consumer "m$i" --block-ms 100 --rollup-interval 300ms --health-interval 500ms \
            --alert-interval 300ms --checkpoint-interval 300ms --http "127.0.0.1:$hp" "$@" \
            >>"$BM_TMP/agent-m$i.log" 2>&1 &
        PIDS+=($!); BM_PIDS+=($!); HPORTS+=("$hp")
    done
    bm_wait_for 15 "[ \"\$(bm_cli_raw HLEN busmon:agents)\" -ge $n ]" || echo "  the registry has $(bm_cli_raw HLEN busmon:agents) agents"
    sleep 1 # every agent has seen the others (heartbeat 250 ms)
}
stop_agents() { local p; for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
fresh() { bm_cli FLUSHALL >/dev/null; }
# sum of one counter over the agents' /metrics
metric_sum() { local hp s=0 v; for hp in "${HPORTS[@]}"; do
    v=$(curl -s "http://127.0.0.1:$hp/metrics" | awk -v m="$1" '$1 == m { print $2 }'); s=$((s + ${v:-0})); done; echo "$s"; }

# --- 1. two agents, then three --------------------------------------------------------------
for n in 2 3; do
    fresh
    start_agents "$n"
    "$PRODUCER" --count 4000 --rate 4000 --seed "1$n" --ground-truth "$BM_TMP/t$n.tsv" --print-tx \
        >"$BM_TMP/t$n.tx" 2>/dev/null || echo "FAIL - $n agents: the producer failed"
    bm_check "$n agents: every entry acked" bm_wait_for 30 \
        '[ "$(redis-cli -p $BM_PORT XPENDING busmon:events busmon | head -1)" = 0 ]'
    bm_check "$n agents: the CLI (merged rollup) shows the producer's figures exactly" bm_wait_for 20 \
        '[ "$(cli_seen)" = "$(truth $BM_TMP/t$n.tsv)" ]'
    [ "$(cli_seen)" = "$(truth "$BM_TMP/t$n.tsv")" ] || { echo "  truth:"; truth "$BM_TMP/t$n.tsv"; echo "  seen:"; cli_seen; }
    for i in $(seq 1 "$n"); do
        bm_check "$n agents: m$i's /api/workers shows the same merged figures" bm_wait_for 10 \
            "[ \"\$(api_seen ${HPORTS[$((i - 1))]})\" = \"\$(truth $BM_TMP/t$n.tsv)\" ]"
    done
    bm_check "$n agents: busmon:workers holds the merged figures" bm_wait_for 10 \
        '[ "$(hash_seen | cut -d" " -f1-3)" = "$(truth $BM_TMP/t$n.tsv | cut -d" " -f1-3)" ]'
    bm_check "$n agents: p95 within 1 % of the exact one" p95_ok "$BM_TMP/t$n.tsv"
    bm_eq "$n agents: errors counted once, all under flaky" \
        "$(awk -F'\t' '$2 == "fail" { n++ } END { print n + 0 }' "$BM_TMP/t$n.tsv") flaky" \
        "$("$BUSMON" errors --json --window 1h | jq -r '"\([.errors[].count] | add) \([.errors[].workers[]] | unique | join(","))"')"
    bm_eq "$n agents: no synthetic timeout" 0 "$(metric_sum busmon_command_timeouts_total)"
    bm_check "$n agents: work was handed off between agents" [ "$(metric_sum busmon_entries_handed_off_total)" -gt 0 ]
    bm_eq "$n agents: one leader" 1 "$(metric_sum busmon_cluster_leader)"
    shuf -n 30 --random-source=<(yes) "$BM_TMP/t$n.tx" >"$BM_TMP/t$n.sample"
    incomplete=0
    while read -r tx; do
        "$BUSMON" trace "$tx" --json | jq -e '([.events[].id] | length == (unique | length)) and
            ([.events[] | select(.type == "command" and .paired_with == null)] | length == 0) and
            (.status != "running")' >/dev/null || incomplete=$((incomplete + 1))
    done <"$BM_TMP/t$n.sample"
    bm_eq "$n agents: 30 sampled traces complete, each event once" 0 "$incomplete"
    stop_agents
done

# --- 2. the leader killed under load ----------------------------------------------------------
fresh
start_agents 3
"$PRODUCER" --count 6000 --rate 1500 --seed 31 >/dev/null 2>&1 &
PROD=$!
BM_PIDS+=($PROD)
firing='bm_cli_raw HGETALL busmon:alerts:firing | grep -a "\"rule\":\"error_spike\"" | grep -aq firing'
bm_check "2: error_spike fires (flaky's errors)" bm_wait_for 20 "$firing"
fp=$(bm_cli_raw HGETALL busmon:alerts:firing | paste - - | grep -a '"rule":"error_spike"' | cut -f1)
leader=$(bm_cli_raw GET busmon:leader)
li=${leader#m}
kill -9 "${PIDS[$((li - 1))]}"
t0=$(date +%s%N)
bm_check "2: another agent holds the lease within two lease periods (2 s + a heartbeat)" bm_wait_for 3 \
    "[ -n \"\$(bm_cli_raw GET busmon:leader)\" ] && [ \"\$(bm_cli_raw GET busmon:leader)\" != '$leader' ]"
echo "  $leader killed; $(bm_cli_raw GET busmon:leader) leads after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sleep 2 # a few evaluations by the new leader
bm_check "2: error_spike still firing after the takeover" bm_wait_for 1 "$firing"
bm_eq "2: notified once (one firing record of it on busmon:alerts)" 1 \
    "$(bm_cli_raw XRANGE busmon:alerts - + | grep -a '^{"rule"' | jq -r --arg fp "$fp" 'select(.fingerprint == $fp and .state == "firing") | .state' | wc -l)"
wait "$PROD"
stop_agents

# --- 3. two agents on the framework's pub/sub shape ------------------------------------------
fresh
start_agents 2 --psubscribe 'multiagent:*' --stream ps:unused
"$PRODUCER" --pubsub --count 400 --rate 800 --seed 33 --timeout-seconds 1 --ground-truth "$BM_TMP/ps.tsv" \
    >/dev/null 2>&1 || echo "FAIL - 3: the producer failed"
bm_check "3: successes, failures and timeouts per worker exact, each event once" bm_wait_for 20 \
    '[ "$(cli_seen)" = "$(truth $BM_TMP/ps.tsv)" ]'
[ "$(cli_seen)" = "$(truth "$BM_TMP/ps.tsv")" ] || { echo "  truth:"; truth "$BM_TMP/ps.tsv"; echo "  seen:"; cli_seen; }
bm_check "3: each agent left the other's transactions to it" [ "$(metric_sum busmon_pubsub_not_owned_total)" -gt 0 ]
stop_agents

# --- 4. one agent stopped for good ---------------------------------------------------------------
fresh
start_agents 2
"$PRODUCER" --count 2000 --rate 4000 --seed 34 --ground-truth "$BM_TMP/s.tsv" >/dev/null 2>&1
bm_check "4: figures exact with both" bm_wait_for 20 '[ "$(cli_seen)" = "$(truth $BM_TMP/s.tsv)" ]'
kill -INT "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null
sleep 3 # past cluster.stale
bm_check "4: m2 gone, its figures still count" bm_wait_for 10 '[ "$(cli_seen)" = "$(truth $BM_TMP/s.tsv)" ]'
bm_check "4: busmon stats names m2 stale" bm_wait_for 5 '"$BUSMON" stats | grep -q "m2 (stale)"'
bm_check "4: busmon stats --json: m2 not live" bm_wait_for 5 \
    '"$BUSMON" stats --json | jq -e ".agents | any(.name == \"m2\" and .live == false)"'
kill -INT "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null
bm_finish
