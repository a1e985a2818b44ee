#!/usr/bin/env bash
# The demo producer's --pubsub mode against a real Redis: what it PUBLISHes
# is captured with `redis-cli PSUBSCRIBE` and checked message by message -
# channels, the MultiAgents Framework's key order and separators, field
# types - then against the producer's ground truth (results, failures,
# unanswered commands, cancelled workflows, compensations, steps, final
# statuses), and decoded with bm_decode_pubsub (bm-pubsub-decode) as busmon
# will read it. A second run checks --channel-prefix.
source "$(dirname "$0")/lib.sh"
bm_start_redis
PRODUCER="$BM_BUILD/busmon-demo-producer"
DECODE="$BM_BUILD/bm-pubsub-decode"
CAP="$BM_TMP/capture.txt"
GT="$BM_TMP/truth.tsv"

# --- subscribe first: pub/sub keeps nothing for late subscribers
redis-cli -p "$BM_PORT" PSUBSCRIBE 'multiagent:*' 'acme:*' >"$CAP" 2>&1 &
BM_PIDS+=($!)
bm_check "subscriber is listening" bm_wait_for 10 '[ "$(redis-cli -p $BM_PORT PUBSUB NUMPAT)" = 2 ]'

# --- a workload: failures, worker-side timeouts, unanswered commands, cancels, compensations
timeout 120 "$PRODUCER" --redis "$BM_URL" --pubsub --count 80 --rate 2000 --seed 4 \
    --timeout-seconds 1 --hang-rate 0.1 --cancel-rate 0.2 --ground-truth "$GT" --print-tx \
    >"$BM_TMP/txs.txt" 2>"$BM_TMP/producer.err"
bm_eq "producer exits 0" 0 "$?"
EVENTS=$(sed -n 's/.* transactions, \([0-9]*\) events.*/\1/p' "$BM_TMP/producer.err")
bm_check "producer reports its events ($EVENTS)" [ -n "$EVENTS" ]
EVENTS=${EVENTS:-0}
captured() { grep -c '^pmessage$' "$CAP"; }
bm_check "every published event is received" bm_wait_for 10 '[ "$(captured)" -ge "$EVENTS" ]'
bm_eq "received exactly what was published" "$EVENTS" "$(captured)"

# The messages as "channel<TAB>body", in order.
awk '$0 == "pmessage" { getline; getline ch; getline body; print ch "\t" body }' "$CAP" \
    >"$BM_TMP/messages.tsv"
mp() { grep -P "^multiagent:$1\\." "$BM_TMP/messages.tsv"; }

# --- the framework's JSON, key order and ", " / ": " separators included
UUID='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?'
META="\"metadata\": \\{\"transaction_id\": \"($UUID)\", \"correlation_id\": \"[^\"]+\", \"timestamp\": \"$TS\", \"source\": \"[a-z_]+\", \"version\": \"1.0\"\\}"
CTX='\{"query": "quarterly report", "max_items": [0-9]+(, "items": [0-9]+)?\}'
RE_COMMAND="^multiagent:command\\.([a-z_]+)	\\{\"id\": \"$UUID\", \"type\": \"command\", $META, \"payload\": $CTX, \"worker_type\": \"([a-z_]+)\", \"timeout_seconds\": 1, \"retry_policy\": null\\}$"
RE_RESULT_OK="^multiagent:result\\.([a-z_]+)	\\{\"id\": \"$UUID\", \"type\": \"result\", $META, \"payload\": \\{\"items\": [0-9]+\\}, \"command_id\": \"$UUID\", \"success\": true, \"error_message\": null, \"error_details\": null\\}$"
RE_RESULT_FAIL="^multiagent:result\\.([a-z_]+)	\\{\"id\": \"$UUID\", \"type\": \"result\", $META, \"payload\": \\{\\}, \"command_id\": \"$UUID\", \"success\": false, \"error_message\": \"Worker [a-z_ ]+[^\"]*\", \"error_details\": \\{\"error_type\": \"(WorkerException|timeout)\"\\}\\}$"
RE_STATUS="^multiagent:status\\.workflow	\\{\"id\": \"$UUID\", \"type\": \"status\", $META, \"payload\": \\{\"workflow_id\": \"demo_workflow\", \"current_step\": (null|\"[a-z]+\"), \"step_results\": \\{[^}]*(\\}[^}]*)*\\}\\}, \"status\": \"(running|completed|compensated)\", \"progress\": [01]\\.[0-9]+, \"message\": \"[A-Za-z ]+\"\\}$"
RE_COMP="^multiagent:compensation\\.(undo_fetch|undo_analyze)	\\{\"id\": \"$UUID\", \"type\": \"compensation\", $META, \"payload\": $CTX, \"original_command_id\": \"$UUID\", \"compensation_type\": \"(undo_fetch|undo_analyze)\"\\}$"

n_command=0 n_ok=0 n_fail=0 n_status=0 n_comp=0 bad=0 mismatch=0
while IFS= read -r m; do
    if [[ $m =~ $RE_COMMAND ]]; then
        n_command=$((n_command + 1))
        [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[-1]}" ] || mismatch=$((mismatch + 1))
    elif [[ $m =~ $RE_RESULT_OK ]]; then
        n_ok=$((n_ok + 1))
    elif [[ $m =~ $RE_RESULT_FAIL ]]; then
        n_fail=$((n_fail + 1))
    elif [[ $m =~ $RE_STATUS ]]; then
        n_status=$((n_status + 1))
    elif [[ $m =~ $RE_COMP ]]; then
        n_comp=$((n_comp + 1))
        [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[-1]}" ] || mismatch=$((mismatch + 1))
    else
        bad=$((bad + 1))
        [ "$bad" -le 3 ] && echo "  unexpected message: $m"
    fi
done <"$BM_TMP/messages.tsv"
echo "  $n_command commands, $n_ok successes, $n_fail failures, $n_status statuses, $n_comp compensations"
bm_eq "every message has one of the framework's exact shapes" 0 "$bad"
bm_eq "command and compensation channels name their worker / compensation" 0 "$mismatch"

# field types, independently of the layout (jq)
bodies() { mp "$1" | cut -f2-; }
bm_eq "commands: string ids, integer timeout_seconds, null retry_policy" true \
    "$(bodies command | jq -s 'all(.[]; (.id|type)=="string" and (.worker_type|type)=="string" and (.timeout_seconds|type)=="number" and .timeout_seconds==(.timeout_seconds|floor) and .retry_policy==null and (.metadata.transaction_id|type)=="string")')"
bm_eq "results: boolean success; error_details.error_type exactly when it failed" true \
    "$(bodies result | jq -s 'all(.[]; (.success|type)=="boolean" and (.command_id|type)=="string" and (if .success then .error_details==null and .error_message==null else (.error_details.error_type|type)=="string" and (.error_message|type)=="string" end))')"
bm_eq "results: metadata.source is the channel's worker" 0 \
    "$(mp result | while IFS=$'\t' read -r ch body; do [ "multiagent:result.$(jq -r .metadata.source <<<"$body")" = "$ch" ] || echo x; done | wc -l)"
bm_eq "statuses: string status and message, number progress" true \
    "$(bodies status | jq -s 'all(.[]; (.status|type)=="string" and (.message|type)=="string" and (.progress|type)=="number" and .progress>=0 and .progress<=1)')"

# --- against the ground truth
gt() { awk -F'\t' "$1" "$GT"; }
n_cancel=$(gt '$1=="cancelled"' | wc -l)
n_unanswered=$(gt '$1=="unanswered"' | wc -l)
bm_eq "one command per answer, unanswered or cancelled command" \
    "$(($(gt 'NF==3&&($2=="ok"||$2=="fail"||$2=="timeout")' | wc -l) + n_cancel))" "$n_command"
bm_eq "one step line per command" "$n_command" "$(gt '$1=="step"' | wc -l)"
bm_eq "successful results" "$(gt '$2=="ok"' | wc -l)" "$n_ok"
bm_eq "failed results: the worker raised, or the worker manager timed out" \
    "$(($(gt 'NF==3&&($2=="fail"||$2=="timeout")' | wc -l) - n_unanswered))" "$n_fail"
bm_eq "raised: WorkerException results" "$(gt 'NF==3&&$2=="fail"' | wc -l)" \
    "$(grep -c '"error_type": "WorkerException"' "$BM_TMP/messages.tsv")"
bm_eq "timed out: timeout results ('timeout' lines but the unanswered ones)" \
    "$(($(gt 'NF==3&&$2=="timeout"' | wc -l) - n_unanswered))" \
    "$(grep -c '"error_type": "timeout"' "$BM_TMP/messages.tsv")"
bm_eq "compensations" "$(gt '$1=="compensation"' | wc -l)" "$n_comp"
bm_eq "a status per start, per answer and per failure, two per cancel" \
    "$(($(wc -l <"$BM_TMP/txs.txt") + n_ok + n_fail + 2 * n_cancel))" "$n_status"
bm_eq "one transaction line per started transaction" "$(wc -l <"$BM_TMP/txs.txt")" "$(gt '$1=="tx"' | wc -l)"
bm_eq "events per transaction add up" "$EVENTS" "$(gt '$1=="tx"{n+=$4} END{print n}')"
bm_check "the workload has failures with a class name" grep -q '"error_type": "WorkerException"' "$BM_TMP/messages.tsv"
bm_check "the workload has worker-side timeouts" grep -q '"error_type": "timeout"' "$BM_TMP/messages.tsv"
bm_check "the workload has unanswered commands" grep -q '^unanswered' "$GT"
bm_check "the workload has compensations" [ "$n_comp" -gt 0 ]
bm_check "the workload has cancelled workflows ($n_cancel)" [ "$n_cancel" -gt 0 ]
n_cancel_comp=$(gt '$1=="cancelled" {c[$2]=1} $1=="compensation" && c[$2] {n++} END {print n+0}')
bm_check "the workload has cancelled workflows with compensations ($n_cancel_comp)" \
    [ "$n_cancel_comp" -gt 0 ]
bm_check "the workload has completed and compensated transactions" \
    bash -c "grep -q 'completed' '$GT' && grep -q 'compensated' '$GT'"

# unanswered commands: published, never answered, no final status
unanswered_ok=0 unanswered_bad=0
while IFS=$'\t' read -r _ tx worker cmd; do
    if grep -qF "\"id\": \"$cmd\", \"type\": \"command\"" "$BM_TMP/messages.tsv" &&
        ! grep -qF "\"command_id\": \"$cmd\"" "$BM_TMP/messages.tsv" &&
        ! grep -F "\"transaction_id\": \"$tx\"" "$BM_TMP/messages.tsv" | grep -qE '"status": "(completed|compensated)"' &&
        grep -qP "^multiagent:command\\.$worker\t.*\"id\": \"$cmd\"" "$BM_TMP/messages.tsv"; then
        unanswered_ok=$((unanswered_ok + 1))
    else
        unanswered_bad=$((unanswered_bad + 1))
    fi
done < <(gt '$1=="unanswered"')
bm_eq "unanswered commands were sent to their worker and never answered or closed" 0 "$unanswered_bad"

# cancelled workflows (cancel_workflow): the command out is never answered;
# compensations, then "compensated" twice, the last one "Workflow cancelled"
cancel_bad=0
while IFS=$'\t' read -r _ tx worker cmd; do
    statuses=$(grep -F "\"transaction_id\": \"$tx\"" "$BM_TMP/messages.tsv" | grep '^multiagent:status\.' |
        cut -f2- | jq -r '"\(.status) \(.message)"' | tail -2 | paste -sd'|')
    if grep -qP "^multiagent:command\\.$worker\t.*\"id\": \"$cmd\"" "$BM_TMP/messages.tsv" &&
        ! grep -qF "\"command_id\": \"$cmd\"" "$BM_TMP/messages.tsv" &&
        [ "$statuses" = "compensated Workflow compensated|compensated Workflow cancelled" ]; then
        :
    else
        cancel_bad=$((cancel_bad + 1))
        [ "$cancel_bad" -le 2 ] && echo "  cancelled $tx: statuses '$statuses'"
    fi
done < <(gt '$1=="cancelled"')
bm_eq "cancelled workflows: command never answered, compensated, then cancelled" 0 "$cancel_bad"

# each transaction's last status is the ground truth's
last_bad=0
while IFS=$'\t' read -r _ tx status _; do
    last=$(grep -F "\"transaction_id\": \"$tx\"" "$BM_TMP/messages.tsv" | grep '^multiagent:status\.' | tail -1 |
        cut -f2- | jq -r .status)
    [ "$last" = "$status" ] || last_bad=$((last_bad + 1))
done < <(gt '$1=="tx"')
bm_eq "each transaction's last status event matches the ground truth" 0 "$last_bad"

# compensations: after the failure, for a command of that transaction that succeeded
comp_bad=0
while IFS=$'\t' read -r _ tx name orig; do
    grep -F "\"transaction_id\": \"$tx\"" "$BM_TMP/messages.tsv" | grep -qF "\"command_id\": \"$orig\", \"success\": true" &&
        grep -qF "\"original_command_id\": \"$orig\", \"compensation_type\": \"$name\"" "$BM_TMP/messages.tsv" ||
        comp_bad=$((comp_bad + 1))
done < <(gt '$1=="compensation"')
bm_eq "each compensation undoes a step that succeeded" 0 "$comp_bad"

# --- as busmon decodes them
"$DECODE" <"$CAP" >"$BM_TMP/decoded.tsv"
bm_eq "bm_decode_pubsub decodes every message" "$EVENTS" "$(grep -c '^ok	' "$BM_TMP/decoded.tsv")"
bm_eq "decoded type is the channel's" 0 \
    "$(awk -F'\t' '{split($2, a, /[:.]/); if (a[2] != $3) n++} END{print n+0}' "$BM_TMP/decoded.tsv")"
bm_eq "decoded commands and results name the channel's worker" 0 \
    "$(awk -F'\t' '($3=="command"||$3=="result") {split($2, a, /[:.]/); if (a[3] != $4) n++} END{print n+0}' "$BM_TMP/decoded.tsv")"
bm_eq "decoded successes" "$n_ok" "$(awk -F'\t' '$3=="result" && $7==1' "$BM_TMP/decoded.tsv" | wc -l)"
bm_eq "decoded failures" "$n_fail" "$(awk -F'\t' '$3=="result" && $7==0 && $8!="-"' "$BM_TMP/decoded.tsv" | wc -l)"
bm_eq "decoded command timeouts" "$n_command" "$(awk -F'\t' '$3=="command" && $11==1' "$BM_TMP/decoded.tsv" | wc -l)"
bm_eq "decoded final statuses" "$(($(gt '$1=="tx"&&($3=="completed"||$3=="compensated")' | wc -l) + n_cancel))" \
    "$(awk -F'\t' '$3=="status" && ($9=="completed"||$9=="compensated")' "$BM_TMP/decoded.tsv" | wc -l)"

# steps: a command's is its correlation id's suffix, a compensation's the
# step it undoes (<tx>.comp.<step>), as the ground truth says
bm_eq "decoded commands carry the ground truth's step" 0 \
    "$(awk -F'\t' 'FNR == NR { if ($1 == "step") s[$3] = $4; next }
        $3 == "command" && s[$12] != $13 { n++ } END { print n + 0 }' "$GT" "$BM_TMP/decoded.tsv")"
bm_eq "decoded compensations carry the step they undo" "$n_comp" \
    "$(paste <(grep -P '^ok\tmultiagent:compensation\.' "$BM_TMP/decoded.tsv") \
        <(mp compensation | cut -f2- | jq -r .original_command_id) |
        awk -F'\t' 'FNR == NR { if ($1 == "step") s[$3] = $4; next } s[$14] == $13 { n++ } END { print n + 0 }' \
            "$GT" -)"

# --- another prefix
before=$(captured)
timeout 60 "$PRODUCER" --redis "$BM_URL" --pubsub --channel-prefix acme: --count 3 --rate 1000 \
    --seed 1 --hang-rate 0 2>"$BM_TMP/producer2.err" >/dev/null
bm_eq "producer with --channel-prefix exits 0" 0 "$?"
E2=$(sed -n 's/.* transactions, \([0-9]*\) events.*/\1/p' "$BM_TMP/producer2.err")
bm_check "every event under the other prefix is received" \
    bm_wait_for 10 '[ "$(captured)" -ge $((before + ${E2:-1})) ]'
awk '$0 == "pmessage" { getline pat; getline ch; print pat " " ch }' "$CAP" | tail -n "${E2:-1}" >"$BM_TMP/acme.txt"
bm_eq "all on acme:*" 0 "$(grep -cv '^acme:\* acme:\(command\|result\|status\|compensation\)\.' "$BM_TMP/acme.txt")"
bm_eq "decoded with that prefix" "${E2:-x}" \
    "$("$DECODE" --prefix acme: <"$CAP" | awk -F'\t' '$1=="ok" && $2 ~ /^acme:/ {split($2, a, /[:.]/); if (a[2]==$3) n++} END{print n+0}')"

bm_check "--channel-prefix alone is refused" bash -c "! '$PRODUCER' --channel-prefix x: 2>/dev/null"
bm_finish
