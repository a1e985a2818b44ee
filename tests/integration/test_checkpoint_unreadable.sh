#!/usr/bin/env bash
# A checkpoint larger than a start of the same configuration decodes
# (lib/checkpoint.h: 64 MiB for 1,000 workers; here 18,000 commands never
# answered, each with 8 attributes of 500 bytes, ~74 MB), against a real
# redis-server and agent. It used to be written every checkpoint interval
# and refused as too big at every start: the state was lost with only a
# warning at the restart. Checked:
#   - it is not written (what is stored is an earlier, smaller one), counted
#     (busmon_checkpoints_too_big_total), and the log says why;
#   - entries are acknowledged once stored (the pending list empties);
#   - the stop says the last checkpoint was not written (exit 1);
#   - the restart restores the last checkpoint written rather than refusing
#     one and starting empty.
source "$(dirname "$0")/lib.sh"
bm_start_redis
NOW=$(($(date +%s) * 1000000))
bm_cli EVAL "local v = string.rep('v', 500)
    for i = 1, tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'type', 'command',
    'id', 'c' .. i, 'tx', 't' .. i, 'worker', 'w', 'step', 's', 'ts', ARGV[1],
    'a1', v, 'a2', v, 'a3', v, 'a4', v, 'a5', v, 'a6', v, 'a7', v, 'a8', v) end return 1" \
    1 s1 $NOW 18000 >/dev/null
metric() { bm_metric "$HTTP_PORT" "$1"; }
start() { # start N: the log is agent-N.log
    LOG=$BM_TMP/agent-$1.log
    HTTP_PORT=$(bm_free_port)
    "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream s1 --group g --consumer c1 \
        --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --log-level info >"$LOG" 2>&1 &
    AGENT=$!
    BM_PIDS+=($AGENT)
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics >/dev/null" || { cat "$LOG"; exit 1; }
}
start 1
bm_check "the 18,000 commands applied" \
    bm_wait_for 30 '[ "$(metric busmon_events_applied_total)" -ge 18000 ] 2>/dev/null'
bm_check "the checkpoint is found too big for a start, counted" \
    bm_wait_for 15 '[ "$(metric busmon_checkpoints_too_big_total)" -ge 1 ] 2>/dev/null'
bm_check "the log says it was not written, and why" \
    grep -q 'checkpoint not written to busmon:state:g:c1: its [0-9]* bytes hold more than a start' "$LOG"
LEN=$(bm_cli_raw STRLEN busmon:state:g:c1)
bm_check "what is stored is an earlier checkpoint a start reads ($LEN bytes), none larger" \
    [ "$LEN" -le 67108864 ]
bm_check "entries are acknowledged once stored: nothing left pending" \
    bm_wait_for 15 '[ "$(bm_cli_raw XPENDING s1 g | head -1)" = 0 ]'
kill -TERM $AGENT
wait $AGENT
bm_eq "the stop exits 1: its last checkpoint was not written" 1 "$?"
bm_check "the stop says so" grep -q 'stopping: the last checkpoint.*was not written: larger than a start' "$LOG"
start 2
bm_check "the restart restores the last checkpoint written (or finds none)" \
    bm_wait_for 10 "grep -Eq 'restored the state from busmon:state:g:c1|no checkpoint at' '$LOG'"
bm_check "... and refuses none as too big" bash -c "! grep -q 'not restored' '$LOG'"
kill -TERM $AGENT
wait $AGENT
bm_finish
