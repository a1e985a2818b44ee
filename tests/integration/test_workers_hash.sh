#!/usr/bin/env bash
# The built-in workers hash (busmon:workers, mode replace) holds the workers
# the agent tracks: a worker evicted from the table leaves it with the next
# whole set. Here the next set after the eviction is refused (Redis
# is down): the eviction must still reach the hash once Redis is back.
#   a name an earlier process wrote (ghost) is gone at the first rollup;
#   worker table of 2, idle after 1 s; w1 and w2 in the hash; w3 evicts w1;
#   Redis saved and shut down before the next rollup; rollups refused; Redis
#   back with its data: w1 leaves the hash, w2 and w3 are in it.
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }
HPORT=$(bm_free_port)
cat >"$BM_TMP/busmon.yaml" <<YAML
worker_monitoring:
  max_workers: 2
limits:
  max_idle: 1s
YAML
fields() { bm_cli_raw HKEYS busmon:workers | grep -v '^_' | sort | tr '\n' ' '; }
bm_cli HSET busmon:workers ghost '{"name":"ghost","health":"healthy"}' >/dev/null
answered() { # WORKER: a command and its result
    bm_cli XADD busmon:events '*' type command tx "tx-$1-$RANDOM" id "c-$1-$RANDOM" worker "$1" >/dev/null
    bm_cli XADD busmon:events '*' type result tx "tx-$1-$RANDOM" worker "$1" ok true duration_ms 5 >/dev/null
}
"$AGENT" --config "$BM_TMP/busmon.yaml" --consumer c1 --block-ms 100 --rollup-interval 2s \
    --http "127.0.0.1:$HPORT" >"$BM_TMP/agent.log" 2>&1 &
BM_PIDS+=($!)
answered w1
answered w2
bm_check "a name an earlier process wrote leaves the hash" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw HEXISTS busmon:workers ghost)\" = 0 ]"
bm_check "w1 and w2 in the hash" bm_wait_for 10 "[ \"\$(fields)\" = 'w1 w2 ' ]"
sleep 1.2 # w1 and w2 idle for limits.max_idle (1 s, its least): evictable
answered w3
bm_check "w3 evicts a worker" bm_wait_for 5 \
    "[ \"\$(bm_metric $HPORT busmon_workers_evicted_total)\" -ge 1 ] 2>/dev/null"
bm_redis_down
dropped() { curl -s "http://127.0.0.1:$HPORT/metrics" |
    awk '$1 ~ /^busmon_output_dropped_total\{.*output="workers"/ { print $2 }'; }
d0=$(dropped)
bm_check "a whole set is refused while Redis is down" bm_wait_for 10 \
    "[ \"\$(dropped)\" -gt \"${d0:-0}\" ] 2>/dev/null"
bm_redis_up
# (the agent may write its next set as soon as Redis is back: w1 may be gone already)
bm_check "Redis is back with its data (the hash holds w2)" bm_wait_for 10 \
    "[ \"\$(bm_cli_raw HEXISTS busmon:workers w2)\" = 1 ]"
bm_check "the next whole set leaves w2 and w3: the evicted w1 is deleted" bm_wait_for 10 \
    "[ \"\$(fields)\" = 'w2 w3 ' ]"
bm_finish
