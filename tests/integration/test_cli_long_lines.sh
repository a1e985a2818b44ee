#!/usr/bin/env bash
# A text view of the busmon CLI shows a cell of at most 1023 bytes (the text
# layer's slot, bm_cli_safe_text). A longer one (an error's type and message
# in busmon trace, a status message whose control characters print as
# "\xNN") is cut between characters and the cut is marked with what was left
# out, "…(+N bytes)"; a list too long for its cell (busmon top's alert labels,
# busmon traces' workers past the summary's 8) loses whole items, counted
# ("+N more"). Every text output stays valid UTF-8, and --json carries every
# value whole (busmon traces' error message too, which the summary cuts at
# 256 bytes). A key is never cut (a long --group, --stream, --state-prefix).
# A real agent is fed real events over a real redis-server.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

rep() { local s="" i; for ((i = 0; i < $2; i++)); do s+=$1; done; printf '%s' "$s"; }
ETYPE="Err$(rep 型 60)"     # 183 bytes: an identity (256 at most)
MSG=$(rep 失 341)             # 1023 bytes: within the decoder's 1024
STATUS_MSG=$(rep 'ok
' 300)                        # 899 bytes (its last newline taken), shown as 1796
LA=$(rep 値 85)               # 255 bytes each (256 at most): five pass 1023

# every worker's errors fire an alert carrying five long labels
cat >"$BM_TMP/busmon.yaml" <<EOF
alerts:
  rules:
    - {name: errors_seen, metric: error_count, scope: each_worker, window: 5m, for: 0s, op: ">",
       threshold: 0, severity: warning, description: "errors seen",
       labels: {a: "$LA", b: "$LA", c: "$LA", d: "$LA", e: "$LA"}}
  disable: [critical_cpu, high_error_rate, worker_failed, worker_degraded, error_spike]
EOF
bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/busmon.yaml" --stream busmon:events --block-ms 100 \
    --rollup-interval 1 --health-interval 1 --alert-interval 500ms --system-interval 500ms

{
    printf 'XADD busmon:events * type command tx tx-long worker w step s\n'
    printf 'XADD busmon:events * type error tx tx-long worker w step s error_type %s error_message %s\n' \
        "$ETYPE" "$MSG"
    for i in $(seq -w 1 10); do # through 10 workers: a summary names the first 8
        printf 'XADD busmon:events * type command tx tx-wide worker wk-%s step s\n' "$i"
    done
} | redis-cli -p "$BM_PORT" >/dev/null
bm_cli XADD busmon:events '*' type status tx tx-long status running message "$STATUS_MSG" >/dev/null
holds() { "$BUSMON" $1 --json 2>/dev/null | jq "$2" 2>/dev/null | grep -qx true; }
bm_check "the index holds tx-wide" bm_wait_for 20 "holds traces '[.traces[].tx] | index(\"tx-wide\") != null'"
bm_check "the agent stored tx-long's error and status" bm_wait_for 20 \
    "'$BUSMON' trace tx-long | grep ' Err' && '$BUSMON' trace tx-long | grep -F '(ok\\x0a'"
bm_check "an alert fires" bm_wait_for 20 "holds alerts '(.firing | length) >= 1'"

"$BUSMON" trace tx-long >"$BM_TMP/trace.txt" 2>&1
"$BUSMON" alerts >"$BM_TMP/alerts.txt" 2>&1
"$BUSMON" traces >"$BM_TMP/traces.txt" 2>&1
"$BUSMON" top --once >"$BM_TMP/top.txt" 2>&1

# cut FILE NEEDLE FULL: on the first line holding NEEDLE, the text from NEEDLE on ends
# with "…(+N bytes)", what precedes the mark is FULL's start (its "\xNN" escapes read as
# the bytes they stand for), and N is the rest of FULL, in bytes
cut_marked() {
    "$PY" -c 'import re, sys
path, needle, full = sys.argv[1:4]
line = next((l for l in open(path, encoding="utf-8").read().split("\n") if needle in l), None)
if line is None:
    sys.exit("no line holds the needle")
cell = line[line.index(needle):]
m = re.search(r"\u2026\(\+([0-9]+) bytes\)$", cell)
if not m:
    sys.exit("no mark at the end: ..." + cell[-40:])
shown = re.sub(r"\\x([0-9a-f]{2})", lambda e: chr(int(e.group(1), 16)), cell[:m.start()])
if not full.startswith(shown):
    sys.exit("what is shown is not the start of the text")
if len(full.encode()) - len(shown.encode()) != int(m.group(1)):
    sys.exit("the mark says %s bytes, %d were left out" % (m.group(1), len(full.encode()) - len(shown.encode())))' "$@"
}
utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; }

# ---- busmon trace: type and message (1208 bytes) in one cell ------------------------------------
bm_check "trace: the long error is cut with a mark saying the bytes left out" \
    cut_marked "$BM_TMP/trace.txt" "$ETYPE: " "$ETYPE: $MSG"
bm_check "trace: the output is valid UTF-8" utf8 "$BM_TMP/trace.txt"
bm_eq "trace --json: the message whole" "$MSG" \
    "$("$BUSMON" trace tx-long --json | jq -r '.events[] | select(.type == "error") | .error.message')"
bm_eq "trace --json: the type whole" "$ETYPE" \
    "$("$BUSMON" trace tx-long --json | jq -r '.events[] | select(.type == "error") | .error.type')"

# ---- busmon trace: a status message of 900 bytes, 1500 more as escapes ------------------------
bm_check "trace: the long status message is cut with a mark saying the bytes left out" \
    cut_marked "$BM_TMP/trace.txt" '(ok\x0a' "($STATUS_MSG)"
bm_check "trace --json: the status message whole" bash -c '"$1" trace tx-long --json |
    jq --arg m "$2" "[.events[] | select(.type == \"status\") | .message == \$m] == [true]" | grep -qx true' \
    _ "$BUSMON" "$STATUS_MSG"

# ---- busmon traces: a summary names 8 workers and keeps a message's first 256 bytes -------------
bm_check "traces: the workers past the first 8 are counted (+2 more)" \
    grep -qE "wk-01,wk-02,wk-03,wk-04,wk-05,wk-06,wk-07,wk-08 \\+2 more .* tx-wide$" "$BM_TMP/traces.txt"
bm_eq "traces --json: the workers past the first 8 are counted" 2 \
    "$("$BUSMON" traces --json | jq '.traces[] | select(.tx == "tx-wide") | .workers_more')"
bm_eq "traces --json: the error message whole" "$MSG" \
    "$("$BUSMON" traces --json | jq -r '.traces[] | select(.tx == "tx-long") | .error')"
bm_check "traces: the output is valid UTF-8" utf8 "$BM_TMP/traces.txt"

# ---- alert labels past 1023 bytes: busmon top counts those left out ----------------------------
bm_eq "alerts --json: every label whole" "$LA $LA $LA $LA $LA" \
    "$("$BUSMON" alerts --json | jq -r '.firing[0].labels | "\(.a) \(.b) \(.c) \(.d) \(.e)"')"
labels=$("$BUSMON" alerts --json | jq -r '.firing[0].labels | length')
bm_check "alerts: the output is valid UTF-8" utf8 "$BM_TMP/alerts.txt"
bm_check "top: the labels that do not fit are counted (+N more)" \
    grep -qE "a=$LA b=$LA c=$LA \\+$((labels - 3)) more " "$BM_TMP/top.txt"
bm_check "top: the output is valid UTF-8" utf8 "$BM_TMP/top.txt"
# ---- a key is never cut: a cut one names another group's, hash or agent's --------------------
G300=$(rep g 300)
"$BUSMON" --group "$G300" workers >/dev/null 2>"$BM_TMP/group.err"
bm_eq "a --group longer than any agent's (256 bytes): exit 2" 2 "$?"
bm_check "... said" grep -q 'consumer group .* is 300 bytes' "$BM_TMP/group.err"
BUSMON_GROUP="$G300" "$BUSMON" traces >/dev/null 2>&1
bm_eq "the same from \$BUSMON_GROUP: exit 2" 2 "$?"
"$BUSMON" alerts --stream "$(rep s 600)" >/dev/null 2>"$BM_TMP/stream.err"
bm_eq "alerts: a --stream too long to name its firing hash: exit 2" 2 "$?"
# the checkpoint under a prefix of 600 bytes: read whole (it was cut at 511 bytes, not found).
# busmon baseline names the agent from its rollups: the first may not be out yet (a CI run
# got here within the agent's first second)
bm_check "baseline: the agent's rollup and checkpoint are there" bm_wait_for 20 \
    '[ -n "$("$BUSMON" baseline --json 2>/dev/null | jq -r ".agent // empty")" ]'
agent=$("$BUSMON" baseline --json | jq -r .agent)
P600="$(rep p 599):"
bm_cli COPY "busmon:state:$agent" "$P600$agent" >/dev/null
bm_check "baseline: a checkpoint under a 600-byte --state-prefix is read" \
    bash -c '"$1" baseline --state-prefix "$2" --json >"$3" && jq -e --arg a "$4" ".agent == \$a" "$3" >/dev/null' \
    _ "$BUSMON" "$P600" "$BM_TMP/baseline.json" "$agent"
bm_finish
