#!/usr/bin/env bash
# Trace search: the index the agent writes (busmon:traces, proto/README.md
# 7.2) against the demo producer's ground truth (pub/sub mode: every
# transaction's final status). `busmon traces --status failed` finds every
# failed transaction and nothing else; --worker and --min-duration give
# exactly the transactions the unfiltered list says; --since bounds by start
# time; --limit; bad input exits 2; /api/traces (the agent's memory, the
# same filter) answers as the CLI does (which summarizes each candidate from
# its stored trace: no summary key is written; an expired trace is skipped,
# counted), and refuses bad parameters with 400; the index is bounded (a
# cap, counted) and expires with the retention.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
GT=$BM_TMP/truth.tsv
HP=$(bm_free_port)
gt() { awk -F'\t' "$1" "$GT"; }

bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --psubscribe 'multiagent:*' --http "127.0.0.1:$HP"
A=$BM_LAST_PID
bm_check "the agent subscribes" bm_wait_for 10 '[ "$(bm_cli_raw PUBSUB NUMPAT)" -ge 1 ]'
"$BM_BUILD/busmon-demo-producer" --pubsub --count 150 --rate 1500 --seed 11 --timeout-seconds 1 \
    --cancel-rate 0.1 --ground-truth "$GT" >/dev/null || echo "FAIL - the producer failed"
n_tx=$(gt '$1 == "tx"' | wc -l)
bm_check "every transaction is indexed ($n_tx)" bm_wait_for 20 \
    "[ \"\$(bm_cli_raw ZCARD busmon:traces)\" = $n_tx ]"
# the unanswered commands' timeouts (busmon's, 1 s + grace after each
# command) land in their summaries: each such transaction joins the failed
# set in the write group that stores its timeout record (records first)
hung=$(gt '$1 == "unanswered" { print $2 }' | sort -u)
all_hung_failed() {
    local tx
    for tx in $hung; do [ -n "$(bm_cli_raw ZSCORE busmon:traces:failed "$tx")" ] || return 1; done
}
bm_check "every unanswered command's timeout is stored ($(wc -w <<<"$hung") transactions)" \
    bm_wait_for 15 all_hung_failed

ALL=$BM_TMP/all.json
"$BUSMON" traces --limit 10000 --json >"$ALL"
bm_eq "the unfiltered list holds every transaction" "$n_tx" "$(jq '.count' "$ALL")"

# every failed transaction (failed, compensated, cancelled; an unanswered
# command fails its transaction), and only those
want=$(gt '$1 == "unanswered" { hung[$2] = 1 } $1 == "tx" && (hung[$2] || $3 != "completed") { print $2 }' | sort)
got=$("$BUSMON" traces --status failed --limit 10000 --json | jq -r '.traces[].tx' | sort)
bm_check "--status failed: $(wc -l <<<"$want") failed transactions, found exactly" [ -n "$want" -a "$want" == "$got" ]

# /api/traces: the agent's memory through the same filter, the same answer
# as the index in Redis (every transaction of this workload is in memory)
API="http://127.0.0.1:$HP/api/traces"
fields='[.traces[] | [.tx, .status, .timed_out, .start, .start_unix_ms, .end, .duration_ms, .steps, .events, .errors, .workers, .error_type, .error]]'
# same_answer CLI-ARGS -- QUERY: the CLI's and the API's lists, in order, the
# same (read one after the other: a summary a batch is still writing may
# differ for a moment, so bm_wait_for retries)
same_answer() {
    local q=${*: -1} cli api
    cli=$("$BUSMON" traces "${@:1:$#-2}" --limit 1000 --json | jq -c "$fields")
    api=$(curl -s "$API?$q&limit=1000" | jq -c "$fields")
    [ "$cli" == "$api" ] && [ "$(jq length <<<"$api")" -gt 0 ] && return 0
    diff <(jq -c '.[]' <<<"$cli") <(jq -c '.[]' <<<"$api") | head -4 >&2
    return 1
}
# same_check WHAT SECONDS CLI-ARGS -- QUERY: same_answer within SECONDS (retried),
# else one more try with the difference shown (bm_wait_for hides its output)
same_check() {
    local what=$1 secs=$2
    shift 2
    if bm_wait_for "$secs" "same_answer $*"; then
        bm_check "$what" true
    else
        bm_check "$what (the difference above: < CLI, > API)" same_answer "$@"
    fi
}
same_check "/api/traces?status=failed = busmon traces --status failed --json (every field, in order)" \
    10 --status failed -- status=failed
bm_eq "/api/traces?status=failed: exactly the failed transactions" "$(echo "$want")" \
    "$(curl -s "$API?status=failed&limit=1000" | jq -r '.traces[].tx' | sort)"
for q in "worker=flaky" "min_duration=1.5s" "status=completed" "status=timed_out"; do
    k=${q%%=*}
    same_check "/api/traces?$q = busmon traces --${k//_/-} ${q#*=}" 10 --${k//_/-} ${q#*=} -- $q
done
R=$(curl -s "$API")
bm_eq "/api/traces: 50 by default, newest first" "50 true" \
    "$(jq -r '[(.traces | length), ([.traces[].start_unix_ms] == ([.traces[].start_unix_ms] | sort | reverse))] | join(" ")' <<<"$R")"
bm_check "/api/traces: RFC 3339 times" bash -c "jq -e '.traces | all(.start | test(\"^20[0-9-]{8}T[0-9:]{8}[.][0-9]{3}Z$\"))' <<<'$R' >/dev/null"
bm_eq "/api/traces?limit=3" 3 "$(curl -s "$API?limit=3" | jq '.traces | length')"
for q in "min_duration=abc" "status=bogus" "limit=0" "limit=1001" "limit=x" "since=-1h" "since=0" "window=2h"; do
    code=$(curl -s -o "$BM_TMP/body" -w '%{http_code}' "$API?$q")
    bm_check "/api/traces?$q: 400 with a JSON reason ($(jq -r .error "$BM_TMP/body"))" \
        [ "$code" = 400 -a -n "$(jq -r '.error // empty' "$BM_TMP/body")" ]
done

want=$(gt '$1 == "tx" && $3 == "completed" { print $2 }' | sort)
got=$("$BUSMON" traces --status=completed --limit=10000 --json | jq -r '.traces[].tx' | sort)
want=$(comm -23 <(echo "$want") <(gt '$1 == "unanswered" { print $2 }' | sort))
bm_check "--status=completed exact" [ -n "$want" -a "$want" == "$got" ]

# --worker and --min-duration: the same transactions as the full list says,
# and the full list agrees with each stored trace
want=$(jq -r '.traces[] | select(.workers | index("flaky")) | .tx' "$ALL" | sort)
got=$("$BUSMON" traces --worker flaky --limit 10000 --json | jq -r '.traces[].tx' | sort)
bm_check "--worker flaky exact ($(wc -l <<<"$want"))" [ -n "$want" -a "$want" == "$got" ]
want=$(jq -r '.traces[] | select(.duration_ms >= 1500) | .tx' "$ALL" | sort)
got=$("$BUSMON" traces --min-duration=1.5s --limit 10000 --json | jq -r '.traces[].tx' | sort)
bm_check "--min-duration 1.5s exact ($(wc -l <<<"$want"))" [ -n "$want" -a "$want" == "$got" ]
bad=0
for tx in $(jq -r '.traces[].tx' "$ALL" | head -60); do
    T=$("$BUSMON" trace "$tx" --json)
    S=$(jq -c --arg tx "$tx" '.traces[] | select(.tx == $tx)' "$ALL")
    [ "$(jq -r .status <<<"$T")" == "$(jq -r .status <<<"$S")" ] || bad=$((bad + 1))
    [ "$(jq -r '.duration_ms|floor' <<<"$T")" == "$(jq -r '.duration_ms|floor' <<<"$S")" ] || bad=$((bad + 1))
    [ "$(jq -r '[.events[] | select(.type == "command" or .type == "result" or .type == "error") | .worker | select(. != "" and . != null)] | unique | sort | join(",")' <<<"$T")" == \
      "$(jq -r '.workers | unique | sort | join(",")' <<<"$S")" ] || bad=$((bad + 1))
done
bm_eq "summaries agree with the stored traces (status, duration, workers)" 0 "$bad"
et=$(jq -r '[.traces[] | select(.error_type != "")][0].error_type' "$ALL")
want=$(jq -r --arg e "$et" '.traces[] | select(.error_type == $e) | .tx' "$ALL" | sort)
got=$("$BUSMON" traces --error-type "$et" --limit 10000 --json | jq -r '.traces[].tx' | sort)
bm_check "--error-type $et exact" [ -n "$want" -a "$want" == "$got" ]

# --limit: newest first
L=$("$BUSMON" traces --limit 5 --json)
bm_eq "--limit 5" 5 "$(jq '.traces | length' <<<"$L")"
bm_eq "newest first" "$(jq -r '[.traces[].start_unix_ms] | sort | reverse | join(",")' <<<"$L")" \
    "$(jq -r '[.traces[].start_unix_ms] | join(",")' <<<"$L")"
bm_check "text output: ISO-8601 UTC with ms" \
    bash -c "'$BUSMON' traces --limit 3 | grep -Eq '^20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z '"

# --since: a transaction started 30 minutes ago
now_us=$(($(date +%s%N) / 1000))
old=$((now_us - 1800 * 1000000))
bm_cli PUBLISH multiagent:command.fast "{\"id\":\"c-old\",\"type\":\"command\",\"metadata\":{\"transaction_id\":\"tx-old\",\"correlation_id\":\"tx-old.fetch\",\"timestamp\":\"$(date -u -d @$((old / 1000000)) +%Y-%m-%dT%H:%M:%S).000000\",\"source\":\"orchestrator\"},\"payload\":{},\"worker_type\":\"fast\"}" >/dev/null
bm_check "tx-old indexed" bm_wait_for 5 '[ -n "$(bm_cli_raw ZSCORE busmon:traces tx-old)" ]'
bm_check "--since 10m leaves it out" bash -c "! '$BUSMON' traces --since 10m --limit 10000 --json | jq -e '.traces[] | select(.tx == \"tx-old\")' >/dev/null"
bm_check "--since 1h finds it" bash -c "'$BUSMON' traces --since=1h --limit 10000 --json | jq -e '.traces[] | select(.tx == \"tx-old\")' >/dev/null"

# two starts in one millisecond: the index orders them by id (its score is
# the millisecond), and /api/traces must order them the same way; the later
# start (.9) has the smaller id
tie_s=$(date -u -d @$((now_us / 1000000 - 60)) +%Y-%m-%dT%H:%M:%S)
for t in "a 123900" "b 123100"; do
    set -- $t
    bm_cli PUBLISH multiagent:command.tiew "{\"id\":\"c-tie-$1\",\"type\":\"command\",\"metadata\":{\"transaction_id\":\"tx-tie-$1\",\"correlation_id\":\"tx-tie-$1.s\",\"timestamp\":\"$tie_s.$2\",\"source\":\"orchestrator\"},\"payload\":{},\"worker_type\":\"tiew\"}" >/dev/null
done
bm_check "both starts of one millisecond indexed" bm_wait_for 5 '[ "$(bm_cli_raw ZCARD busmon:traces:w:tiew)" = 2 ]'
bm_eq "busmon traces: one millisecond's starts by id, descending" "tx-tie-b,tx-tie-a" \
    "$("$BUSMON" traces --worker tiew --json | jq -r '[.traces[].tx] | join(",")')"
same_check "/api/traces orders them as the index does" 5 --worker tiew -- worker=tiew

# the longest names the agent accepts (256 bytes, ending in a 2- or 3-byte
# character) are indexed and read whole: the tx's key, --worker's set and
# --error-type's compare (a name cut to 255 or 200 bytes was never found)
LTX=$(printf 't%.0s' $(seq 254))é
LW=$(printf 'w%.0s' $(seq 253))中
LET=$(printf 'E%.0s' $(seq 253))中
for ev in '{type:"command",id:"c-long",tx:$tx,worker:$w,step:"s"}' \
    '{type:"error",id:"e-long",tx:$tx,worker:$w,step:"s",error_type:$et,error_message:"boom"}'; do
    bm_cli PUBLISH multiagent:long "$(jq -cn --arg tx "$LTX" --arg w "$LW" --arg et "$LET" "$ev")" >/dev/null
done
bm_check "a 256-byte tx is indexed whole" bm_wait_for 5 \
    '[ -n "$(bm_cli_raw ZSCORE busmon:traces "$LTX")" ] && [ "$(bm_cli_raw ZCARD "busmon:traces:w:$LW")" = 1 ]'
# the error may come in a later write group than the command: both records
# stored, and the transaction in the failed set (written after them)
bm_check "its error is stored too" bm_wait_for 5 \
    '[ "$(bm_cli_raw LLEN "busmon:trace:$LTX")" = 2 ] && [ -n "$(bm_cli_raw ZSCORE busmon:traces:failed "$LTX")" ]'
bm_eq "busmon traces lists it, none expired" "1 0" \
    "$("$BUSMON" traces --limit 10000 --json | jq -r --arg tx "$LTX" '"\([.traces[] | select(.tx == $tx)] | length) \(.expired)"')"
bm_eq "--worker <256 bytes> finds it" "$LTX" "$("$BUSMON" traces --worker "$LW" --json | jq -r '.traces[].tx')"
bm_eq "--error-type <256 bytes> finds it" "$LTX" \
    "$("$BUSMON" traces --error-type "$LET" --limit 10000 --json | jq -r '.traces[].tx')"

# an error message with terminal control in it: the text views show it as
# \xNN (JSON escapes it anyway), so it can neither retitle or clear the
# terminal nor forge a line
H=$'\e]0;owned\a\e[2J\nforged \u009b2J'
for ev in '{type:"command",id:"c-esc",tx:"tx-esc",worker:"escw",step:"s"}' \
    '{type:"error",id:"e-esc",tx:"tx-esc",worker:"escw",step:"s",error_type:"E",error_message:$h}'; do
    bm_cli PUBLISH multiagent:esc "$(jq -cn --arg h "$H" "$ev")" >/dev/null
done
bm_check "tx-esc indexed" bm_wait_for 5 '[ -n "$(bm_cli_raw ZSCORE busmon:traces:failed tx-esc)" ]'
"$BUSMON" trace tx-esc >"$BM_TMP/esc.txt"
"$BUSMON" traces --worker escw >>"$BM_TMP/esc.txt"
bm_check "busmon trace / traces: no terminal control, the message shown as \\xNN" bash -c \
    "! LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' '$BM_TMP/esc.txt' && ! grep -q '^forged' '$BM_TMP/esc.txt' && grep -qF '\x1b]0;owned\x07\x1b[2J\x0aforged \x9b2J' '$BM_TMP/esc.txt'"

# a trace longer than the CLI reads (5000 records: replaying is quadratic,
# 100,000 took 55 s of CPU): read from its start, quickly, and said
bm_cli EVAL "local r = redis.call('LINDEX', KEYS[1], 0) for i = 1, 5001 do redis.call('RPUSH', KEYS[2], r) end" \
    2 busmon:trace:tx-esc busmon:trace:tx-long >/dev/null
bm_cli ZADD busmon:traces:w:longw 1 tx-long >/dev/null
"$BUSMON" trace tx-long >/dev/null 2>"$BM_TMP/long.err"; rc=$?
bm_eq "a trace of 5001 records: read, exit 0, the cut said" \
    "0 busmon trace: tx-long holds 5001 records; only its first 5000 are read and shown" "$rc $(cat "$BM_TMP/long.err")"
"$BUSMON" traces --worker longw --json >/dev/null 2>"$BM_TMP/long.err"
bm_eq "busmon traces says a candidate was summarized from its first 5000" \
    "busmon traces: 1 trace(s) hold 5000 records or more: each is summarized from its first 5000" "$(cat "$BM_TMP/long.err")"
bm_cli DEL busmon:trace:tx-long busmon:traces:w:longw >/dev/null

# bad input
for args in "--status bogus" "--limit 0" "--limit=abc" "--min-duration=fast" "--since=-1h" "--frobnicate"; do
    "$BUSMON" traces $args >/dev/null 2>"$BM_TMP/err"
    bm_eq "traces $args: exit 2" 2 "$?"
done
bm_check "a bad status is named" grep -q "not 'bogus'" <(./"$BUSMON" traces --status bogus 2>&1 || "$BUSMON" traces --status bogus 2>&1)
"$BUSMON" traces --worker nobody >/dev/null
bm_eq "nothing matched: exit 1" 1 "$?"

# expiring with the retention: every index key has a TTL within it
ttl=$(bm_cli_raw TTL busmon:traces)
bm_check "the index set expires (TTL $ttl s <= 24 h)" [ "$ttl" -gt 0 -a "$ttl" -le 86400 ]
tx1=$(jq -r '.traces[0].tx' "$ALL")
ttl=$(bm_cli_raw TTL "busmon:trace:$tx1")
bm_check "a listed transaction's trace expires (TTL $ttl s)" [ "$ttl" -gt 0 -a "$ttl" -le 86400 ]
bm_eq "no summary is stored: readers make it from the records" 0 \
    "$(bm_cli_raw --scan --pattern 'busmon:traces:tx:*' | wc -l)"
# a candidate whose trace expired is skipped and counted, not listed
bm_cli DEL "busmon:trace:$tx1" >/dev/null
bm_eq "an expired trace: not listed, counted" "0 1" \
    "$("$BUSMON" traces --limit 10000 --json | jq -r --arg tx "$tx1" '"\([.traces[] | select(.tx == $tx)] | length) \(.expired)"')"
kill -TERM "$A"; wait "$A" 2>/dev/null

# bounded: a cap of 20, what it drops counted; older than the retention: dropped
BUSMON_TRACES_INDEX_MAX=20 bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 --stream busmon:events \
    --trace-retention 1h --http "127.0.0.1:$HP"
A=$BM_LAST_PID
for i in $(seq 1 60); do
    bm_cli XADD busmon:events '*' type command id "cap-$i" tx "tx-cap-$i" worker capw step s >/dev/null
done
bm_cli XADD busmon:events '*' type command id stale tx tx-stale worker capw step s ts $((now_us - 7200 * 1000000)) >/dev/null
bm_check "the cap holds the index at 20" bm_wait_for 10 '[ "$(bm_cli_raw ZCARD busmon:traces:w:capw)" = 20 ] && [ "$(bm_cli_raw ZCARD busmon:traces)" = 20 ]'
bm_check "what the cap drops is counted" bm_wait_for 5 \
    "curl -s http://127.0.0.1:$HP/metrics | awk '/^busmon_trace_index_dropped_total / { exit !(\$2 > 0) } END {}' "
bm_check "a transaction older than the retention is dropped, counted" bm_wait_for 5 \
    "[ -z \"\$(bm_cli_raw ZSCORE busmon:traces tx-stale)\" ] && curl -s http://127.0.0.1:$HP/metrics | grep -Eq '^busmon_trace_index_expired_total [1-9]'"
kill -TERM "$A"; wait "$A" 2>/dev/null
bm_finish
