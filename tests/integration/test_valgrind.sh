#!/usr/bin/env bash
# The agent and the CLI under valgrind's memcheck: no invalid read or write,
# no use of an uninitialised value, no definite leak. (ASan and UBSan, in
# build-asan/, run the unit and fuzz tests; memcheck sees what they do not:
# uninitialised memory, in the real programs against a real Redis.)
#   - the agent reads the bench's msgpack mix, the MultiAgents Framework's
#     JSON and entries that cannot be decoded; serves /health, /ready,
#     /metrics, the JSON API and refused requests; writes its rollups and
#     traces; stops on SIGTERM with nothing definitely lost;
#   - every read-only `busmon` command, text and --json, reads what it wrote:
#     no memcheck error, and the same exit code as without valgrind;
#   - restarted (its checkpoint restored) with pub/sub, tail sampling, the
#     OTLP export and an alert rule firing at a webhook: the same.
#   - the decoders' fuzz corpus and the checkpoint test that flips every
#     byte: the same (a corrupt checkpoint's bounds were compared
#     uninitialised).
# Exit 77 (skipped, said why) when valgrind is not installed.
source "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind is not installed (./deploy/install-deps.sh installs it)"
    exit 77
fi
bm_agent_http
bm_start_redis
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)

# 0. the decoders on hostile bytes: the fuzz targets over their seed corpus,
# and the checkpoint test that flips every byte of a checkpoint
for f in fuzz_checkpoint fuzz_decode; do
    "${VG[@]}" --log-file="$BM_TMP/vg-$f.log" "$BM_BUILD/$f" "$BM_SRC/tests/fuzz/corpus" \
        >"$BM_TMP/$f.out" 2>&1
    rc=$?
    bm_check "$f over the corpus under memcheck: exit $rc, log empty" \
        [ "$rc" -eq 0 -a ! -s "$BM_TMP/vg-$f.log" ]
done
"${VG[@]}" --trace-children=yes --log-file="$BM_TMP/vg-flip.%p.log" "$BM_BUILD/test_checkpoint" \
    --jobs 1 --filter 'checkpoint/flipped_bytes*' >"$BM_TMP/flip.out" 2>&1
rc=$?
bm_check "test_checkpoint's flipped bytes under memcheck: exit $rc" [ "$rc" -eq 0 ]
bm_check "test_checkpoint's flipped bytes: memcheck's logs are empty" \
    bash -c "! find '$BM_TMP' -name 'vg-flip.*.log' -size +0 | grep -q ."

# the agent's printed settings (every key of the table formatted)
"${VG[@]}" --log-file="$BM_TMP/vg-print.log" "$AGENT" --config "$BM_SRC/deploy/busmon.yaml" \
    --print-config >"$BM_TMP/print.out" 2>&1
rc=$?
bm_check "busmon-agent --print-config under memcheck: exit $rc, log empty" \
    [ "$rc" -eq 0 -a ! -s "$BM_TMP/vg-print.log" ]

"$BM_BUILD/bench-fill" --redis "$BM_URL" --stream busmon:events --events 3000 >/dev/null
"$BM_BUILD/bench-fill" --redis "$BM_URL" --stream busmon:events --events 1000 \
    --shape multiagents --seed 2 >/dev/null
bm_cli XADD busmon:events '*' m "$(printf '\xc1\xff')" >/dev/null
bm_cli XADD busmon:events '*' json '{"metadata": {"event_type": "command"' >/dev/null
bm_cli XADD busmon:events '*' json '[1, 2, 3]' >/dev/null
bm_cli XADD busmon:events '*' type result tx vg-1 cmd nosuch worker w >/dev/null
LAST=$(bm_cli_raw XREVRANGE busmon:events + - COUNT 1 | head -1)

"${VG[@]}" --log-file="$BM_TMP/vg-agent.log" "$AGENT" --consumer vg --block-ms 100 \
    --http "127.0.0.1:$HPORT" >"$BM_TMP/agent.log" 2>&1 &
AG=$!
BM_PIDS+=($AG)
read_all() {
    [ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ] &&
        [ "$(bm_cli_raw XINFO GROUPS busmon:events | awk 'p { print; exit } $0 == "last-delivered-id" { p = 1 }')" = "$LAST" ]
}
bm_check "agent: reads and acks every entry (decodable or not)" bm_wait_for 180 read_all
bm_check "agent: a rollup is written" bm_wait_for 60 "'$BUSMON' --redis '$BM_URL' stats"

for path in /health /ready /metrics /api/stats /api/workers /api/workers/fast-worker-1 \
    /api/errors /api/metrics /api/system /api/baseline /api/traces /api/traces/nosuch \
    /api/alerts '/api/workers?window=1h' '/api/metrics?window=nonsense' /nosuch; do
    code=$(curl -s -o /dev/null -m 30 -w '%{http_code}' "$BASE$path")
    bm_check "agent: $path answers ($code)" [ "$code" -ge 200 -a "$code" -lt 500 ]
done
code=$(curl -s -o /dev/null -m 30 -w '%{http_code}' -X POST --data-binary 'x' "$BASE/metrics")
bm_check "agent: POST /metrics is refused ($code)" [ "$code" -ge 400 -a "$code" -lt 500 ]

TX=$("$BUSMON" --redis "$BM_URL" traces --json --limit 20 |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["traces"][-1]["tx"])')
bm_check "cli: a transaction to trace ($TX)" [ -n "$TX" ]
n=0
while read -r cmd; do
    n=$((n + 1))
    # shellcheck disable=SC2086  # cmd is words
    "$BUSMON" --redis "$BM_URL" $cmd >/dev/null 2>&1
    want=$?
    "${VG[@]}" --log-file="$BM_TMP/vg-cli-$n.log" "$BUSMON" --redis "$BM_URL" $cmd \
        >/dev/null 2>&1
    got=$?
    bm_eq "cli: busmon $cmd under memcheck: no error, exit $want as without it" "$want" "$got"
    bm_check "cli: busmon $cmd: memcheck's log is empty" [ ! -s "$BM_TMP/vg-cli-$n.log" ]
done <<EOF
trace $TX
trace $TX --json
trace vg-no-such-transaction
traces
traces --status failed --json
stats
stats --json
workers
workers --json
worker fast-worker-1
worker fast-worker-1 --json
worker vg-no-such-worker
errors
errors --json
alerts
alerts --json
system
system --json
metrics
baseline
top --once
deadletters
deadletters --json
deadletters replay --all --dry-run --json
deadletters replay --id 1-0
EOF

kill -TERM "$AG"
bm_check "agent: stops on SIGTERM" bm_wait_for 60 "! kill -0 $AG"
wait "$AG" 2>/dev/null
rc=$?
bm_check "agent: exit $rc, not memcheck's 99" [ "$rc" -ne 99 ]
bm_check "agent: memcheck's log is empty (no error, nothing definitely lost)" \
    [ ! -s "$BM_TMP/vg-agent.log" ]
# 2. restarted with the same consumer (its checkpoint restored) and the
# parts a plain run leaves off: pub/sub, tail sampling, the OTLP export, an
# alert rule that fires and its webhook (both to a local receiver)
bm_start_receiver rx
cat >"$BM_TMP/vg.yaml" <<EOF
pubsub:
  enabled: true
traces:
  sampling:
    rate: 0.5
otlp:
  endpoint: http://127.0.0.1:$BM_RX_PORT
  flush_interval: 200ms
  settle: 200ms
  metrics_interval: 1s
outputs:
  rollup_interval_seconds: 1
alerts:
  interval: 1s
  rules:
    - name: vg_errors
      metric: error_count
      scope: each_worker
      op: ">"
      threshold: 0
      window: 5m
      for: 0s
  webhooks:
    - name: rx
      format: generic
      url: http://127.0.0.1:$BM_RX_PORT/hook
EOF
"${VG[@]}" --log-file="$BM_TMP/vg-agent2.log" "$AGENT" --consumer vg --block-ms 100 \
    --config "$BM_TMP/vg.yaml" --http "127.0.0.1:$HPORT" >"$BM_TMP/agent2.log" 2>&1 &
AG=$!
BM_PIDS+=($AG)
bm_check "agent 2: restores the first one's checkpoint" bm_wait_for 60 \
    "grep -q 'restored the state from busmon:state:vg' '$BM_TMP/agent2.log'"
bm_check "agent 2: subscribed" bm_wait_for 60 '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
for i in $(seq 20); do
    bm_cli PUBLISH multiagent:command.vgw "{\"metadata\": {\"event_type\": \"command\", \"transaction_id\": \"ps-$i\"}, \"command_id\": \"c$i\", \"payload\": {}}" >/dev/null
    bm_cli PUBLISH multiagent:error.vgw "{\"metadata\": {\"event_type\": \"error\", \"transaction_id\": \"ps-$i\"}, \"command_id\": \"c$i\", \"error_details\": {\"error_type\": \"VgError\", \"message\": \"boom\"}}" >/dev/null
done
bm_check "agent 2: the published events are read" bm_wait_for 60 \
    '[ "$(bm_metric "$HPORT" busmon_pubsub_messages_total)" = 40 ]'
bm_check "agent 2: the rule fires at the webhook" bm_wait_for 60 "grep -q vg_errors '$BM_TMP/rx.jsonl'"
bm_check "agent 2: spans are exported" bm_wait_for 60 "grep -q /v1/traces '$BM_TMP/rx.jsonl'"
kill -TERM "$AG"
bm_check "agent 2: stops on SIGTERM" bm_wait_for 60 "! kill -0 $AG"
wait "$AG" 2>/dev/null
rc=$?
bm_check "agent 2: exit $rc, not memcheck's 99" [ "$rc" -ne 99 ]
bm_check "agent 2: memcheck's log is empty" [ ! -s "$BM_TMP/vg-agent2.log" ]

for f in "$BM_TMP"/vg-*.log; do
    [ -s "$f" ] && { echo "# $f:"; head -40 "$f"; }
done
bm_finish
