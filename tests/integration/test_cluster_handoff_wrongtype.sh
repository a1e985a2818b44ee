#!/usr/bin/env bash
# A hand-off whose XADD Redis refuses inside the EXEC that acks its entry,
# because the owner's hand-off key holds another type (WRONGTYPE), is
# dead-lettered (reason handoff_wrongtype, the key named in `error`) and
# counted, not sent again for ever: that refusal does not pass by itself,
# and the entry, acked already, lived only in the agent's memory while the
# group holding it kept every checkpoint back.
#   h1 reads 60 transactions (a command and its result); h2 reads only its
#   hand-off stream, which is a string. Every event is then either in h1's
#   figures or a dead letter; replayed once h2's key is mended, all of
#   them reach h2 and the merged figures count 60.
# Case 2 (below): the same refusal met by the guard script that hands on
# while the agent may look dead; it ends the same way.
source "$(dirname "$0")/lib.sh"
declare -A PID PORT
bm_cluster_env
bm_start_redis
bm_agent_http
live2() { [ "$(bm_metric "${PORT[$1]}" busmon_cluster_agents_live)" = 2 ]; }
start() { bm_cluster_agent "$@" --checkpoint-interval 300ms && bm_wait_for 15 "live2 $1"; }
bm_cluster_agent h2 --checkpoint-interval 300ms --stream h2:nothing
bm_check "h1 and h2 see each other" start h1
bm_cli_raw DEL busmon:handoff:h2 >/dev/null
bm_cli_raw SET busmon:handoff:h2 not-a-stream >/dev/null
# 60 transactions of worker w: a command and its result each
seq 1 60 | awk '{ t = "wt-" $1
    print "XADD busmon:events * type command id c-" $1 " tx " t " worker w step s"
    print "XADD busmon:events * type result id r-" $1 " tx " t " worker w step s ok true" }' | bm_cli >/dev/null
m() { bm_metric "${PORT[h1]}" "$1"; }
bm_check "h1 read all 120" bm_wait_for 15 '[ "$(m busmon_entries_read_total)" = 120 ]'
bm_check "h1 handed some on" bm_wait_for 15 '[ "$(m busmon_entries_handed_off_total)" -gt 0 ]'
handed=$(m busmon_entries_handed_off_total)
dls() { bm_cli_raw XRANGE busmon:deadletter - + | grep -c '^handoff_wrongtype$'; }
bm_check "h1's refused hand-offs are dead-lettered, one each ($handed)" \
    bm_wait_for 15 '[ "$(dls)" = "$handed" ]'
bm_eq "busmon_handoffs_deadlettered_total counts them" "$handed" \
    "$(m busmon_handoffs_deadlettered_total)"
bm_eq "busmon_deadletter_total counts them" "$handed" "$(m busmon_deadletter_total)"
# first NAME: the value of field NAME in the first copy
first() { bm_cli_raw XRANGE busmon:deadletter - + COUNT 1 | grep -x -A1 "$1" | tail -1; }
bm_eq "a copy names the hand-off key and its type" \
    "busmon:handoff:h2 holds another type: WRONGTYPE" "$(first error | cut -d' ' -f1-5)"
bm_eq "a copy names the stream its entry was read from" busmon:events "$(first stream)"
bm_check "a copy carries the entry's fields" grep -q '^wt-[0-9]*$' <<<"$(first f.tx)"
ck=$(m busmon_checkpoints_total)
bm_check "h1's checkpoints go on being confirmed (from $ck)" \
    bm_wait_for 10 '[ "$(m busmon_checkpoints_total)" -gt "$((ck + 2))" ]'
bm_check "nothing is left pending (h2's key is no stream)" bm_wait_for 10 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
sleep 1
bm_eq "no copy is written twice" "$handed" "$(dls)"
bm_eq "h2's key is still a string" string "$(bm_cli_raw TYPE busmon:handoff:h2)"
bm_check "one log line says it" [ "$(grep -c 'dead-lettered as handoff_wrongtype' "$BM_TMP/agent-h1.log")" = 1 ]
w() { curl -s "http://127.0.0.1:${PORT[$1]}/api/workers?window=1h" |
    jq -r '[.workers[] | select(.name == "w") | .executions] | add // 0'; }
bm_check "every event is in h1's figures or a dead letter (60)" \
    bm_wait_for 10 '[ "$(( $(w h1) + handed / 2 ))" = 60 ]'
# killed and started again: nothing read again, nothing copied twice
kill -9 "${PID[h1]}"
wait "${PID[h1]}" 2>/dev/null
bm_check "h1 is back" start h1
sleep 1
bm_eq "after kill -9, no copy is written twice" "$handed" "$(dls)"
bm_check "after kill -9, every event is in h1's figures or a dead letter (60)" \
    bm_wait_for 10 '[ "$(( $(w h1) + handed / 2 ))" = 60 ]'
# mend_and_replay READER OWNER: OWNER's hand-off key mended, the copies put
# back: each reaches its owner once, and READER's merged figures count 60
mend_and_replay() {
    bm_cli_raw DEL "busmon:handoff:$2" >/dev/null
    "$BUSMON" deadletters replay --reason handoff_wrongtype >"$BM_TMP/replay-$1" 2>&1
    bm_eq "replay exits 0" 0 $?
    bm_check "w: 60 executions merged on $1 after the replay" bm_wait_for 20 "[ \"\$(w $1)\" = 60 ]"
    bm_eq "no new dead letter" 0 "$(bm_cli_raw XLEN busmon:deadletter)"
    bm_check "nothing is left pending after the replay" bm_wait_for 10 '[ "$(bm_pending_all)" = 0 ]'
}
mend_and_replay h1 h2
echo "  handed off $handed, all dead-lettered, then replayed; w: $(w h1)"

# Case 2: the same refusal met by the guarded form of a hand-off (the script
# sent while the agent may look dead: persist.c send_handoffs_guarded). It
# did not ack an entry whose XADD was refused: the hand-off was sent again
# for ever, nothing dead-lettered or counted, no checkpoint confirmed. Now
# the script acks a WRONGTYPE one as the EXEC does, and it is dead-lettered.
#   g1 (user gg) reads 60 transactions while it may not XADD: its EXECs are
#   aborted and nothing is acked, so its checkpoint is late and its entries
#   age past 3/4 of reclaim.min_idle: its hand-offs go through the script.
#   g2 reads only its hand-off stream, a string. Once g1 may XADD, the
#   script meets the WRONGTYPE.
echo "# case 2: the guarded hand-off"
kill "${PID[h1]}" "${PID[h2]}"
wait "${PID[h1]}" "${PID[h2]}" 2>/dev/null
bm_cli_raw FLUSHALL >/dev/null
bm_cli ACL SETUSER gg on '>pw-gg' '~*' '&*' +@all >/dev/null
bm_cli XGROUP CREATE busmon:events busmon 0 MKSTREAM >/dev/null
BUSMON_RECLAIM_INTERVAL=500ms BUSMON_RECLAIM_MIN_IDLE=2s \
    bm_cluster_agent g1 --redis "redis://gg:pw-gg@127.0.0.1:$BM_PORT" --checkpoint-interval 300ms
bm_cluster_agent g2 --checkpoint-interval 300ms --stream g2:nothing
bm_check "g1 and g2 see each other" bm_wait_for 15 'live2 g1 && live2 g2'
bm_cli_raw DEL busmon:handoff:g2 >/dev/null
bm_cli_raw SET busmon:handoff:g2 not-a-stream >/dev/null
# every command Redis runs, those of scripts marked "[0 lua]": which form handed on
redis-cli -p "$BM_PORT" MONITOR >"$BM_TMP/monitor" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 5 '[ -s "$BM_TMP/monitor" ]'
bm_cli ACL SETUSER gg -xadd >/dev/null
kill -STOP "${PID[g1]}" # the 120 entries in one read: one write group
seq 1 60 | awk '{ t = "gt-" $1
    print "XADD busmon:events * type command id c-" $1 " tx " t " worker w step s"
    print "XADD busmon:events * type result id r-" $1 " tx " t " worker w step s ok true" }' | bm_cli >/dev/null
kill -CONT "${PID[g1]}"
m() { bm_metric "${PORT[g1]}" "$1"; }
pending_g1() { bm_cli_raw XPENDING busmon:events busmon - + 1000 g1 | grep -c '^[0-9]*-[0-9]*$'; }
bm_check "g1 read the 120 entries" bm_wait_for 15 '[ "$(pending_g1)" = 120 ]'
bm_check "g1 handed some on" bm_wait_for 15 '[ "$(m busmon_entries_handed_off_total)" -gt 0 ]'
handed=$(m busmon_entries_handed_off_total)
# the guard script's look at an entry: XPENDING <stream> <group> <id> <id> 1
guard_looked() { grep -Eq '\[0 lua\] "XPENDING" "busmon:events" "busmon" "([0-9-]+)" "\1" "1"' "$BM_TMP/monitor"; }
bm_check "g1's hand-offs went through the guard script" bm_wait_for 20 guard_looked
ck=$(m busmon_checkpoints_total)
bm_cli ACL SETUSER gg +xadd >/dev/null
bm_check "g1's refused hand-offs are dead-lettered, one each ($handed)" \
    bm_wait_for 30 '[ "$(dls)" = "$handed" ]'
bm_eq "busmon_handoffs_deadlettered_total counts them" "$handed" \
    "$(m busmon_handoffs_deadlettered_total)"
bm_eq "busmon_deadletter_total counts them" "$handed" "$(m busmon_deadletter_total)"
bm_eq "a copy names the hand-off key and its type" \
    "busmon:handoff:g2 holds another type: WRONGTYPE" "$(first error | cut -d' ' -f1-5)"
bm_check "a copy carries the entry's fields" grep -q '^gt-[0-9]*$' <<<"$(first f.tx)"
bm_check "g1's checkpoints are confirmed again (from $ck)" \
    bm_wait_for 15 '[ "$(m busmon_checkpoints_total)" -gt "$((ck + 2))" ]'
bm_check "nothing is left pending (g2's key is no stream)" bm_wait_for 15 \
    '[ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ]'
# the XADDs to g2's key (refused, but run): only the script's, never an EXEC's
lua_xadds=$(grep -c '\[0 lua\] "XADD" "busmon:handoff:g2"' "$BM_TMP/monitor")
bm_eq "the script met the WRONGTYPE once per hand-off" "$handed" "$lua_xadds"
bm_eq "no EXEC sent an XADD to g2's key" 0 \
    "$(grep '"XADD" "busmon:handoff:g2"' "$BM_TMP/monitor" | grep -vc '\[0 lua\]')"
bm_eq "no hand-off was skipped (every entry was g1's)" 0 "$(m busmon_handoffs_skipped_total)"
sleep 1
bm_eq "no copy is written twice" "$handed" "$(dls)"
bm_check "one log line says it" [ "$(grep -c 'dead-lettered as handoff_wrongtype' "$BM_TMP/agent-g1.log")" = 1 ]
bm_check "every event is in g1's figures or a dead letter (60)" \
    bm_wait_for 10 '[ "$(( $(w g1) + handed / 2 ))" = 60 ]'
mend_and_replay g1 g2
bm_check "w: 60 executions merged on g2 after the replay" bm_wait_for 20 '[ "$(w g2)" = 60 ]'
# g1's checkpoints on time again, the replayed ones went by EXEC: so the
# check above that no EXEC sent one to g2's key could have seen one
bm_check "the replayed hand-offs went by EXEC (not the script)" \
    [ "$(grep '"XADD" "busmon:handoff:g2"' "$BM_TMP/monitor" | grep -vc '\[0 lua\]')" -gt 0 ]
echo "  guarded: handed off $handed, all dead-lettered, then replayed; w: $(w g1)"
bm_finish
