#!/usr/bin/env bash
# A checkpoint longer than Redis takes in one value (proto-max-bulk-len,
# here lowered to its minimum, 1 MB), against a real redis-server and agent
# (agent/state/persist.c). Redis answers such a SET with "Protocol error:
# invalid bulk length" and closes the connection, so sending it again every
# checkpoint interval would reset the agent's connections every second and
# leave every entry pending for ever. Checked:
#   - the first refusal is counted (busmon_checkpoints_too_big_total) and
#     logged with its size and the setting to raise;
#   - checkpoints as long are not sent again: the connection is reset once,
#     not at every interval, while events keep coming;
#   - entries are acknowledged once stored, as without checkpoints (the
#     consumer's pending list empties) and ingest goes on;
#   - the stop says the last checkpoint was not written and exits 1.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cli CONFIG SET proto-max-bulk-len 1mb >/dev/null
NOW=$(($(date +%s) * 1000000))
# 12,000 commands never answered: the checkpoint carries them all (~2 MB)
bm_cli EVAL "for i = 1, tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'type', 'command',
    'id', 'command-id-000000000000000000000000000' .. i, 'tx', 'transaction-id-0000000000000000000000000' .. i,
    'worker', 'worker-name-long', 'step', 'step-name-long', 'ts', ARGV[1]) end return 1" 1 s1 $NOW 12000 >/dev/null

HTTP_PORT=$(bm_free_port)
"$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream s1 --group g --consumer a --block-ms 100 \
    --http "127.0.0.1:$HTTP_PORT" --log-level info >"$BM_TMP/agent.log" 2>&1 &
AGENT=$!
BM_PIDS+=($AGENT)
metric() { bm_metric "$HTTP_PORT" "$1"; }
bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics >/dev/null" || { cat "$BM_TMP/agent.log"; exit 1; }

bm_check "the checkpoint is refused as too long, counted" \
    bm_wait_for 15 '[ "$(metric busmon_checkpoints_too_big_total)" -ge 1 ] 2>/dev/null'
bm_check "the log says why: its size and proto-max-bulk-len" \
    bm_wait_for 5 "grep -q 'proto-max-bulk-len' '$BM_TMP/agent.log'"
# events keep coming for 6 s: a checkpoint is due every second
for i in $(seq 30); do
    bm_cli XADD s1 '*' type result id "r-$i" tx "transaction-id-0000000000000000000000000$i" \
        cmd "command-id-000000000000000000000000000$i" worker worker-name-long step step-name-long \
        ts $((NOW + i * 1000)) ok true >/dev/null
    sleep 0.2
done
bm_check "ingest goes on: the 30 answers applied" \
    bm_wait_for 10 '[ "$(metric busmon_events_applied_total)" -ge 12030 ] 2>/dev/null'
reconnects=$(metric busmon_redis_reconnects_total)
bm_check "the connections were reset at most once (not at every checkpoint interval): $reconnects" \
    [ "${reconnects:-99}" -le 1 ]
bm_check "entries are acknowledged once stored: nothing left pending" \
    bm_wait_for 10 '[ "$(redis-cli -p "$BM_PORT" XPENDING s1 g | head -1)" = 0 ]'
bm_check "the checkpoint_failed counter counts them too" [ "$(metric busmon_checkpoints_failed_total)" -ge 2 ]
kill -TERM $AGENT
wait $AGENT
rc=$?
bm_eq "the stop exits 1: its last checkpoint was not written" 1 "$rc"
bm_check "the stop says so" grep -q 'last checkpoint.*not written\|not written.*last checkpoint' "$BM_TMP/agent.log"
bm_finish
