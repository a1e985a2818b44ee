#!/usr/bin/env bash
# A merge-mode redis_hash on topic workers: a worker record an earlier
# process (or a former leader) wrote, which this process never knew, leaves
# the hash with the next whole set (rollup); the hash's fields that are not
# worker records are the user's and stay; the workers tracked are written.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"

cat >"$BM_TMP/merge.yaml" <<EOF
outputs:
  sinks:
    - name: workers-merged
      type: redis_hash
      key: copy:workers
      mode: merge
      topics: workers
EOF
# what an earlier busmon left: a worker that went long ago, beside the user's own fields
ghost='{"name":"ghost","health":"healthy","health_since":null,"issues":[],"in_flight":0,"last_seen":"2020-01-01T00:00:00.000000Z","last_execution":null,"last_error":"","last_error_at":null,"windows":{"1m":{"window_s":60.0,"covered_s":0.0,"executions":0}}}'
bm_cli HSET copy:workers ghost "$ghost" note "kept by the user" mine '{"name":"mine"}' >/dev/null

HP=$(bm_free_port)
"$AGENT" --config "$BM_TMP/merge.yaml" --block-ms 100 --rollup-interval 300ms \
    --health-interval 300ms --http "127.0.0.1:$HP" >"$BM_TMP/agent.log" 2>&1 &
A=$!
BM_PIDS+=($A)
"$PRODUCER" --count 200 --rate 2000 --seed 5 >/dev/null 2>&1 || echo "FAIL - the producer failed"

bm_check "copy:workers gets the workers tracked" bm_wait_for 10 \
    '[ "$(bm_cli_raw HGET copy:workers fast | jq -r .name)" = fast ]'
bm_check "the worker an earlier process wrote leaves copy:workers" bm_wait_for 10 \
    '[ "$(bm_cli_raw HEXISTS copy:workers ghost)" = 0 ]'
bm_eq "copy:workers holds the workers tracked, _updated and the user's fields" \
    "_updated,cpu_heavy,fast,flaky,mine,note,slow" \
    "$(bm_cli_raw HKEYS copy:workers | sort | paste -sd,)"
bm_eq "a field that is not a worker record is left as it was" "kept by the user" \
    "$(bm_cli_raw HGET copy:workers note)"
bm_check "the agent says what it took out" grep -q "1 worker(s) no longer tracked taken out of copy:workers" "$BM_TMP/agent.log"

kill -INT "$A"
wait "$A"
bm_eq "the agent exits 0 on SIGINT" 0 "$?"
bm_finish
