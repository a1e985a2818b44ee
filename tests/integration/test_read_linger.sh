#!/usr/bin/env bash
# streams.read_linger_ms against a real Redis: entries that trickle in (the
# demo producer at ~300 events/s) are read in a few larger reads when the
# agent lingers after a read that was not full, instead of one XREADGROUP
# per entry or two; nothing is lost either way (every entry read and acked,
# every result an execution), the lingering is counted in
# busmon_reads_lingered_total, and bad values are refused. The same run with
# --read-linger-ms 0 is the baseline that shows the count can fail. Last, the
# agent's connections are killed while it lingers: it reads its own pending
# entries again (one read at a time) and still counts every result once.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
PRODUCER="$BM_BUILD/busmon-demo-producer"
unset BUSMON_HTTP

metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
dbcli() { bm_cli_raw -n "$DB" "$@"; }
acked() { # acked GROUP: the group has read every entry and nothing is pending
    local n pend last
    n=$(dbcli XLEN "$STREAM")
    pend=$(dbcli XPENDING "$STREAM" "$1" | head -1)
    last=$(dbcli XINFO GROUPS "$STREAM" | awk -v g="$1" '
        $0 == "name" { getline; cur = $0 } $0 == "last-delivered-id" { getline; if (cur == g) print $0 }')
    [ "$n" -gt 0 ] && [ "$pend" = 0 ] && [ "$last" = "$(dbcli XREVRANGE "$STREAM" + - COUNT 1 | head -1)" ]
}

# run LINGER_MS DB [kill]: a database of its own (agents sharing one merge their
# figures), an agent lingering LINGER_MS, the
# producer for 3 s; prints "<entries> <reads> <lingered> <executions> <results
# the producer wrote (its ground truth)>"
run() {
    local linger=$1 port base a reads lingered ex n truth=$BM_TMP/truth$2 kill=${3:-}
    DB=$2
    STREAM="busmon:linger$linger"
    port=$(bm_free_port)
    base="http://127.0.0.1:$port"
    bm_bg "$AGENT" --redis "$BM_URL/$DB" --http "127.0.0.1:$port" --stream "$STREAM" --group "g$linger" \
        --consumer c --read-linger-ms "$linger" --block-ms 1000
    a=$BM_LAST_PID
    trap "kill $a 2>/dev/null" EXIT # run() is a subshell: the test's own clean-up never sees it
    bm_wait_for 10 "curl -sf $base/health" || { echo "agent (linger $linger) did not come up" >&2; return 1; }
    # the group exists before the first entry, so the agent reads them as they come
    bm_wait_for 10 "dbcli XINFO GROUPS $STREAM | grep -qx g$linger" ||
        { echo "no group g$linger" >&2; return 1; }
    if [ -n "$kill" ]; then # 1.5 s in: every connection but the producer's and this one
        (sleep 1.5; bm_cli_raw CLIENT LIST | awk '$0 !~ / cmd=(xadd|client)/ { sub(/^id=/, "", $1); print $1 }' |
            while read -r id; do bm_cli_raw CLIENT KILL ID "$id" >/dev/null; done) &
    fi
    "$PRODUCER" --redis "$BM_URL/$DB" --stream "$STREAM" --rate 300 --duration 3 \
        --ground-truth "$truth" >/dev/null 2>&1 ||
        { echo "the producer failed" >&2; return 1; }
    bm_wait_for 20 "acked g$linger" || { echo "linger $linger: not everything read and acked" >&2; return 1; }
    n=$(dbcli XLEN "$STREAM")
    [ -n "$kill" ] || bm_wait_for 10 "[ \"\$(metric $base busmon_entries_read_total)\" = $n ]" ||
        { echo "linger $linger: the agent counts $(metric $base busmon_entries_read_total) read of $n" >&2; return 1; }
    [ -z "$kill" ] || bm_wait_for 10 "[ \"\$(metric $base busmon_redis_reconnects_total)\" -ge 1 ]" ||
        { echo "linger $linger: the agent did not reconnect" >&2; return 1; }
    reads=$(metric "$base" busmon_reads_total)
    lingered=$(metric "$base" busmon_reads_lingered_total)
    ex=$(curl -s "$base/api/workers" | jq '[.workers[].executions] | add')
    kill "$a"
    echo "$n $reads $lingered $ex $(awk -F'\t' '$2 == "ok" || $2 == "fail"' "$truth" | wc -l)"
}

read -r n0 reads0 lingered0 ex0 truth0 < <(run 0 1)
read -r n1 reads1 lingered1 ex1 truth1 < <(run 100 2)
echo "# linger 0: $n0 entries, $reads0 reads, $lingered0 lingered, $ex0 executions of $truth0 results"
echo "# linger 100 ms: $n1 entries, $reads1 reads, $lingered1 lingered, $ex1 executions of $truth1 results"
read -r n2 reads2 lingered2 ex2 truth2 < <(run 100 3 kill)
echo "# linger 100 ms, connections killed: $n2 entries, $reads2 reads, $lingered2 lingered, $ex2 executions of $truth2 results"

bm_check "the producer wrote entries (>= 500 each run)" [ "${n0:-0}" -ge 500 ] && [ "${n1:-0}" -ge 500 ]
bm_check "without lingering, a read brings few entries (reads >= entries / 8)" \
    [ "$((${reads0:-0} * 8))" -ge "${n0:-1}" ]
bm_eq "without lingering, no read was put off" 0 "${lingered0:-x}"
bm_check "lingering 100 ms: at most about 10 reads a second (<= 100 over the run)" \
    [ "${reads1:-1000}" -le 100 ] && [ "${reads1:-0}" -gt 0 ]
bm_check "lingering 100 ms: 10 times fewer reads than entries" [ "$((${reads1:-1000} * 10))" -le "${n1:-0}" ]
bm_check "busmon_reads_lingered_total counts the reads put off" [ "${lingered1:-0}" -gt 0 ]
bm_check "the producer's results were counted (> 0)" [ "${truth0:-0}" -gt 0 ] && [ "${truth1:-0}" -gt 0 ]
bm_eq "without lingering: every result an execution" "${truth0:-x}" "${ex0:-y}"
bm_eq "lingering: every result an execution" "${truth1:-x}" "${ex1:-y}"
bm_check "connections killed while lingering: results counted (> 0)" [ "${truth2:-0}" -gt 0 ]
bm_eq "connections killed while lingering: every result one execution" "${truth2:-x}" "${ex2:-y}"

# bad values
out=$("$AGENT" --read-linger-ms 2000 2>&1); rc=$?
bm_eq "--read-linger-ms 2000 is a usage error" 2 "$rc"
bm_check "... that says the bound" grep -q "longer than 1s" <<<"$out"
out=$(BUSMON_STREAMS_READ_LINGER_MS=soon "$AGENT" 2>&1); rc=$?
bm_eq "BUSMON_STREAMS_READ_LINGER_MS=soon is a usage error" 2 "$rc"
bm_check "... that names the variable" grep -q "BUSMON_STREAMS_READ_LINGER_MS" <<<"$out"
bm_finish
