#!/usr/bin/env bash
# The pub/sub input's edges: patterns that overlap (Redis delivers a message
# once per matching pattern: busmon must use it once), a PSUBSCRIBE the ACL
# denies (counted, on /ready, said once with the words that allow it), and
# several agents subscribed (a bad message is dead-lettered once).
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_agent_http
metric() { bm_metric "$HPORT" "$1"; }

# --- patterns that overlap: multiagent:command.* is inside multiagent:*
bm_bg "$AGENT" --block-ms 100 --http "127.0.0.1:$HPORT" \
    --psubscribe 'multiagent:*' --psubscribe 'multiagent:command.*'
A=$BM_LAST_PID
bm_check "the agent subscribes to both patterns" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" = 2 ]'
pub() { bm_cli_raw PUBLISH "$1" "$2" >/dev/null; }
M1='{"type":"metric","name":"orders","value":1}'
pub multiagent:command.fast "$M1"
pub multiagent:command.fast "$M1" # the same bytes published twice: two messages
pub multiagent:command.fast '{"type":"command","tx":"ov-noid","timeout_seconds":30}'
pub multiagent:command.fast '{"type":"custom","note":"no transaction"}'
pub multiagent:command.fast 'not json {'
pub multiagent:status.x '{"type":"metric","name":"logins","value":1}' # one pattern matches
pub multiagent:status.x '{"type":"metric","name":"logins","value":1}'
pub multiagent:command.fast '{"id":"ov-last","type":"command","tx":"ov-last","timeout_seconds":30}'
bm_check "the last message is applied" bm_wait_for 10 \
    '[ "$(metric busmon_events_applied_total)" -ge 2 ]'
sleep 0.5 # nothing more may come: a message heard twice would be applied within this
bm_eq "messages received: each once" 8 "$(metric busmon_pubsub_messages_total)"
bm_eq "deliveries through the second pattern counted as overlapped" 6 \
    "$(metric busmon_pubsub_overlapped_total)"
series() { curl -s "$BASE/api/metrics?name=$1" | jq '[.series[].count] | add // 0'; }
bm_eq "a metric published twice on an overlapped channel counts 2, on one pattern's 2" "2 2" \
    "$(series orders) $(series logins)"
bm_eq "an event without id is one event of its trace" 1 \
    "$(curl -s "$BASE/api/traces/ov-noid" | jq '.events | length')"
bm_eq "untraced and metric events once each" "1 4" \
    "$(metric busmon_events_untraced_total) $(metric busmon_metric_events_total)"
bm_check "the bad message is dead-lettered" bm_wait_for 10 '[ "$(bm_cli_raw XLEN busmon:deadletter)" -ge 1 ]'
sleep 1.2 # a dead-letter is written within traces.flush_interval
bm_eq "... once" "1 1" "$(bm_cli_raw XLEN busmon:deadletter) $(metric busmon_pubsub_bad_total)"
bm_check "the overlap is said" grep -q "patterns overlap" "$BM_TMP/busmon-agent.log"
kill -INT "$A"; wait "$A"

# --- a PSUBSCRIBE the ACL denies: hiredis closes the subscriber on the
# NOPERM reply; it must still be a denial (counted, /ready, said once)
bm_cli ACL SETUSER ps on '>pw' '~*' resetchannels '&busmon:*' '+@all' >/dev/null
bm_bg "$AGENT" --block-ms 100 --http "127.0.0.1:$HPORT" --consumer c-acl \
    --redis "redis://ps:pw@127.0.0.1:$BM_PORT" --psubscribe 'multiagent:*'
A=$BM_LAST_PID
denied() { metric 'busmon_redis_denied_total{command="psubscribe"}'; }
bm_check "the denied PSUBSCRIBE is counted (tried again: 2)" bm_wait_for 10 '[ "$(denied)" -ge 2 ]'
R=$(curl -s -w ' %{http_code}' "$BASE/ready")
bm_check "/ready is 503 and names psubscribe" \
    bash -c '[ "${1##* }" = 503 ] && grep -q "redis denies psubscribe" <<<"$1"' _ "$R"
bm_eq "said once, with the words that allow it; no 'lost the connection' per try" "1 0" \
    "$(grep -c 'redis denies a channel of psubscribe.*ACL SETUSER ps .*&multiagent:\*' "$BM_TMP/busmon-agent.log") $(grep -c 'lost the pub/sub connection.*NOPERM' "$BM_TMP/busmon-agent.log")"
bm_cli ACL SETUSER ps '&multiagent:*' >/dev/null
bm_check "once allowed, it subscribes (tried again with backoff)" bm_wait_for 15 \
    '[ "$(bm_cli_raw PUBSUB NUMPAT)" = 1 ]'
pub multiagent:command.fast '{"id":"acl-1","type":"command","tx":"acl-1"}'
bm_check "... and reads" bm_wait_for 10 '[ "$(metric busmon_pubsub_messages_total)" = 1 ]'
kill -INT "$A"; wait "$A"

# --- two agents of one cluster, both subscribed, in database 4: a message
# that names no transaction (bad, or untraced) is counted by one agent
bm_cluster_agents ag 2 --block-ms 100 --redis "$BM_URL/4" --psubscribe 'multiagent:*'
bm_check "both agents registered" bm_wait_for 15 '[ "$(bm_cli_raw -n 4 HLEN busmon:agents)" = 2 ]'
sleep 1 # every agent has seen the other (heartbeat 250 ms)
for i in 1 2 3 4 5 6; do
    pub multiagent:command.w$i 'not json {'
    pub multiagent:command.w$i '{"type":"custom","note":"no transaction"}'
done
sum() { local p t=0 v; for p in "${HPORTS[@]}"; do v=$(bm_metric "$p" "$1"); t=$((t + ${v:-0})); done; echo $t; }
bm_check "every agent heard every message" bm_wait_for 10 '[ "$(sum busmon_pubsub_messages_total)" = 24 ]'
bm_check "the bad messages are dead-lettered" bm_wait_for 10 '[ "$(bm_cli_raw -n 4 XLEN busmon:deadletter)" -ge 6 ]'
sleep 1.2 # a second agent's dead-letters would be written within traces.flush_interval
bm_eq "each bad message dead-lettered and counted once in the cluster" "6 6 6" \
    "$(bm_cli_raw -n 4 XLEN busmon:deadletter) $(sum busmon_pubsub_bad_total) $(sum 'busmon_decode_errors_total{reason="not_json"}')"
bm_eq "each untraced message counted once in the cluster" 6 "$(sum busmon_events_untraced_total)"

# --- a pattern that matches busmon's own channels ('*'): its rollups,
# health and alerts are not read back as bad events (database 5)
printf 'outputs:\n  sinks:\n    - name: copy\n      type: redis_stream\n      topics: rollup\n      stream: my:copy\n      channel: my:copy\n' >"$BM_TMP/own.yaml"
bm_bg "$AGENT" --config "$BM_TMP/own.yaml" --block-ms 100 --rollup-interval 300ms \
    --health-interval 300ms --redis "$BM_URL/5" --psubscribe '*' --consumer c-own \
    --http "127.0.0.1:$HPORT"
A=$BM_LAST_PID
bm_check "rollups published, on busmon:rollups and the sink's channel" bm_wait_for 10 \
    '[ "$(bm_cli_raw -n 5 XLEN busmon:rollups)" -ge 3 ] && [ "$(bm_cli_raw -n 5 XLEN my:copy)" -ge 3 ]'
bm_cli_raw -n 5 PUBLISH app:x '{"type":"command","tx":"own-1","id":"own-1","worker":"w"}' >/dev/null
bm_check "an event on another channel is read" bm_wait_for 10 \
    '"$BUSMON" trace --json --redis "$BM_URL/5" own-1 2>/dev/null | jq -s -e ".[0].event_count == 1" >/dev/null'
bm_eq "busmon's own messages are not read: nothing dead-lettered, one message" "0 0 1" \
    "$(bm_cli_raw -n 5 XLEN busmon:deadletter) $(metric busmon_pubsub_bad_total) $(metric busmon_pubsub_messages_total)"
bm_check "... and that is said" grep -q "a channel busmon publishes on itself" "$BM_TMP/busmon-agent.log"
kill -INT "$A"; wait "$A"

# --- a prefix holding glob characters: the default pattern is the prefix
# itself, escaped ("shop[eu]:*" would match shope:... and miss shop[eu]:...)
printf 'pubsub:\n  enabled: true\n  prefix: "shop[eu]:"\n' >"$BM_TMP/glob.yaml"
subs() { grep -c "pub/sub: subscribed to" "$BM_TMP/busmon-agent.log"; }
n0=$(subs)
bm_bg "$AGENT" --config "$BM_TMP/glob.yaml" --block-ms 100 --redis "$BM_URL/6" \
    --consumer c-glob --http "127.0.0.1:$HPORT"
A=$BM_LAST_PID
bm_check "the agent subscribes" bm_wait_for 10 '[ "$(subs)" -gt "$n0" ]'
pub 'shop[eu]:command.billing' '{"type":"command","tx":"glob-1","id":"glob-1"}'
pub 'shope:command.billing' '{"type":"command","tx":"glob-2","id":"glob-2"}'
bm_check "a message on shop[eu]:command.billing is read, with the channel's worker" bm_wait_for 10 \
    '[ "$(curl -s "$BASE/api/traces/glob-1" | jq -r ".events[0].worker")" = billing ]'
bm_eq "one on shope:command.billing is not" 1 "$(metric busmon_pubsub_messages_total)"
kill -INT "$A"; wait "$A"

bm_finish
