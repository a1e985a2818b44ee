#!/usr/bin/env bash
# A webhook's queue is bounded in bytes too (queue_bytes, 16M by default),
# not only in bodies (queue, 1000): a webhook on topic rollup whose receiver
# is down held up to 1,000 rollups, and a rollup of 1,000 workers is over a
# megabyte. 1,000 workers with 200-byte names make rollups of ~1.2 MB
# (outputs.rollup_max_bytes 4M), every 200 ms, to a port nobody listens on
# (each attempt refused; the first body waits 5 s to retry and holds the
# only slot, so the rest wait behind it):
#   1. the default bound: the sink holds at most 16M / 1.2 MB = 13 rollups,
#      the rest dropped and counted in busmon_output_queue_bytes_dropped_total
#      (and busmon_output_dropped_total);
#   2. queue_bytes: 100k, less than one rollup: one rollup is held (a body
#      alone always goes), every later one dropped;
#   3. a queue_bytes that is not a size is refused at start (exit 2).
# Every wait is bounded.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }
DEAD=$(bm_free_port) # nobody listens: every attempt is refused at once

# produce: Redis emptied, then one result for each of the 1,000 workers
name=$(printf 'w%.0s' $(seq 200))
produce() {
    bm_cli FLUSHALL >/dev/null
    for i in $(seq 1000); do
        echo "XADD busmon:events * type result tx t$i worker $name$i ok true duration_ms 5"
    done | redis-cli -p "$BM_PORT" >/dev/null
}

# config FILE [QUEUE_BYTES]: a webhook on topic rollup to the dead port
config() {
    {
        echo "outputs:"
        echo "  rollup_max_bytes: 4M"
        echo "  sinks:"
        echo "    - name: rollhook"
        echo "      url: http://127.0.0.1:$DEAD/rollups"
        echo "      topics: rollup"
        echo "      backoff: 5s"
        [ -n "${2:-}" ] && echo "      queue_bytes: $2"
    } >"$1"
}
sink_metric() { bm_metric "$HPORT" "$1{output=\"rollhook\",type=\"webhook\"}"; }
# figures: queued dropped queue_bytes_dropped of the webhook, from one /metrics
figures() {
    curl -s "http://127.0.0.1:$HPORT/metrics" | awk '
        /{output="rollhook"/ { split($1, n, "{"); v[n[1]] = $2 }
        END { print v["busmon_output_queued"], v["busmon_output_dropped_total"],
                    v["busmon_output_queue_bytes_dropped_total"] }'
}

# run WHAT: the agent with $BM_TMP/WHAT.yaml until its webhook has dropped for the
# bytes held, then its figures in FIG: queued dropped queue_bytes_dropped
run() {
    produce
    "$AGENT" --config "$BM_TMP/$1.yaml" --consumer "$1" --block-ms 100 --rollup-interval 200ms \
        --http "127.0.0.1:$HPORT" >"$BM_TMP/$1.log" 2>&1 &
    A=$!
    BM_PIDS+=($A)
    bm_check "$1: the rollups are over a megabyte" bm_wait_for 15 \
        '[ "$(bm_cli_raw XREVRANGE busmon:rollups + - COUNT 1 | grep -a "^{" | wc -c)" -gt 1000000 ]'
    # until it drops for the bytes, or holds more than the bound lets it (a bound by
    # count alone: hundreds of megabytes soon)
    bm_wait_for 30 '[ "$(sink_metric busmon_output_queue_bytes_dropped_total)" -ge 3 ] ||
        [ "$(sink_metric busmon_output_queued)" -gt 14 ]'
    FIG=$(figures)
    kill -INT "$A"
    wait "$A"
}

# --- 1. the default bound -----------------------------------------------------------
config "$BM_TMP/default.yaml"
run default
read -r queued dropped qb_dropped <<<"$FIG"
bm_check "1: the webhook holds at most 13 rollups (16M; 14 if an early one was small), not up to 1,000 (held $queued)" \
    test "${queued:-99999}" -ge 1 -a "${queued:-99999}" -le 14
bm_check "1: the rollups dropped for the bytes are dropped ($qb_dropped of $dropped)" \
    test "${qb_dropped:-0}" -ge 3 -a "${qb_dropped:-0}" -le "${dropped:-0}"
bm_check "1: the agent says the queue is full, with its bytes" \
    grep -q "webhook 'rollhook': queue full (.* bytes of queue_bytes 16000000)" "$BM_TMP/default.log"

# --- 2. a bound smaller than one rollup ---------------------------------------------------
config "$BM_TMP/small.yaml" 100k
run small
read -r queued dropped qb_dropped <<<"$FIG"
bm_eq "2: one rollup held (a body alone always goes)" 1 "$queued"
bm_eq "2: every rollup dropped was dropped for the bytes" "$dropped" "$qb_dropped"

# --- 3. a bad value -------------------------------------------------------------------------
config "$BM_TMP/bad.yaml" lots
"$AGENT" --config "$BM_TMP/bad.yaml" --check-config >"$BM_TMP/bad.out" 2>&1
bm_eq "3: queue_bytes: lots is refused (exit 2)" 2 "$?"
bm_check "3: ... saying what it must be" \
    grep -q "'queue_bytes' must be a size in bytes (k, M; 0: no bound), not 'lots'" "$BM_TMP/bad.out"
bm_finish
