#!/usr/bin/env bash
# A checkpoint longer than Redis takes in one value (proto-max-bulk-len,
# here lowered to its minimum, 1 MB), against a real redis-server and agent
# (agent/state/persist.c). Redis answers such a SET with "Protocol error:
# invalid bulk length" and closes the connection, so sending it again every
# checkpoint interval would reset the agent's connections every second and
# leave every entry pending for ever. Checked:
#   - the first refusal is counted (busmon_checkpoints_too_big_total) and
#     logged with its size and the setting to raise;
#   - no checkpoint that long is sent (the length is read with CONFIG GET
#     first): the connection is never reset, while events keep coming;
#   - entries are acknowledged once stored, as without checkpoints (the
#     consumer's pending list empties) and ingest goes on;
#   - the stop says the last checkpoint was not written and exits 1;
#   - the same where CONFIG GET is refused (a managed Redis; here an ACL
#     user without config|get): the refused length is the bound, and a
#     shorter checkpoint is tried a minute later at the earliest, so the
#     connection is reset once or twice, not at every checkpoint, while
#     the checkpoint shrinks.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cli CONFIG SET proto-max-bulk-len 1mb >/dev/null
NOW=$(($(date +%s) * 1000000))
# fill STREAM: 12,000 commands never answered: the checkpoint carries them all (~2 MB)
fill() {
    bm_cli EVAL "for i = 1, tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'type', 'command',
        'id', 'command-id-000000000000000000000000000' .. i, 'tx', 'transaction-id-0000000000000000000000000' .. i,
        'worker', 'worker-name-long', 'step', 'step-name-long', 'ts', ARGV[1]) end return 1" 1 "$1" $NOW 12000 >/dev/null
}
metric() { bm_metric "$HTTP_PORT" "$1"; }

# case WHAT STREAM [agent flags...]: the checks above, on an agent reading STREAM
case_() {
    local what=$1 stream=$2
    shift 2
    fill "$stream"
    HTTP_PORT=$(bm_free_port)
    "$BM_BUILD/busmon-agent" --redis "$BM_URL" --stream "$stream" --group g --consumer "c-$stream" \
        --block-ms 100 --http "127.0.0.1:$HTTP_PORT" --log-level info "$@" >"$BM_TMP/agent-$stream.log" 2>&1 &
    AGENT=$!
    BM_PIDS+=($AGENT)
    bm_wait_for 10 "curl -sf http://127.0.0.1:$HTTP_PORT/metrics >/dev/null" || { cat "$BM_TMP/agent-$stream.log"; exit 1; }
    bm_check "$what: the checkpoint is refused as too long, counted" \
        bm_wait_for 15 '[ "$(metric busmon_checkpoints_too_big_total)" -ge 1 ] 2>/dev/null'
    bm_check "$what: the log says why: its size and proto-max-bulk-len" \
        bm_wait_for 5 "grep -q 'bytes are more than Redis takes in one value (proto-max-bulk-len' '$BM_TMP/agent-$stream.log'"
    # answers keep coming for 6 s (the checkpoint shrinks): one is due every second
    for i in $(seq 30); do
        bm_cli XADD "$stream" '*' type result id "r-$i" tx "transaction-id-0000000000000000000000000$i" \
            cmd "command-id-000000000000000000000000000$i" worker worker-name-long step step-name-long \
            ts $((NOW + i * 1000)) ok true >/dev/null
        sleep 0.2
    done
    bm_check "$what: ingest goes on: the 30 answers applied" \
        bm_wait_for 10 '[ "$(metric busmon_events_applied_total)" -ge 12030 ] 2>/dev/null'
    local reconnects
    reconnects=$(metric busmon_redis_reconnects_total)
    bm_check "$what: the connections were reset at most $RESETS_MAX time(s) (not at every checkpoint): $reconnects" \
        [ "${reconnects:-99}" -le "$RESETS_MAX" ]
    bm_check "$what: entries are acknowledged once stored: nothing left pending" \
        bm_wait_for 12 '[ "$(redis-cli -p "$BM_PORT" XPENDING '"$stream"' g | head -1)" = 0 ]'
    bm_check "$what: the checkpoints_failed counter counts them too" \
        [ "$(metric busmon_checkpoints_failed_total)" -ge 2 ]
    kill -TERM $AGENT
    wait $AGENT
    local rc=$?
    bm_eq "$what: the stop exits 1: its last checkpoint was not written" 1 "$rc"
    bm_check "$what: the stop says so" grep -q 'stopping: the last checkpoint.*was not written' "$BM_TMP/agent-$stream.log"
}

RESETS_MAX=0 # the length is known before any checkpoint is sent
case_ "CONFIG GET answered" s1

# an ACL user without config|get: the agent's line, less that command
LINE=$("$BM_BUILD/busmon-agent" --print-acl --stream s2 | sed -n 2p)
LINE=${LINE/>PASSWORD/>pw}
redis-cli -p "$BM_PORT" ${LINE/ +config|get/} >/dev/null
echo pw >"$BM_TMP/pw"
bm_eq "the user may not CONFIG GET" NOPERM \
    "$(redis-cli -p "$BM_PORT" --user busmon --pass pw --no-auth-warning CONFIG GET dir 2>&1 | grep -o NOPERM | head -1)"
# Redis's refusal is lost when it closes the connection before the agent has
# read it (still sending): then two such losses in a row count as a refusal
RESETS_MAX=2
case_ "CONFIG refused" s2 --redis-username busmon --redis-password-file "$BM_TMP/pw"
bm_finish
