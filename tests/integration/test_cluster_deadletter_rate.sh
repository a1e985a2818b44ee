#!/usr/bin/env bash
# Several agents: deadletter_rate is the cluster's. Each agent dead-letters
# what it reads; the judge counted only its own, so with two agents a rule
# on deadletter_rate saw about half the rate (a third with three). Each
# checkpoint now carries its writer's dead-letter count ("deadlettered"),
# and the judge adds what the others' counts grow by.
#   Two agents; both clocks move 2 min on (the test clock file), then each
#   dead-letters 10 entries (its own hand-off stream, which only it reads),
#   so the rate is over a known span: 20 in ~2 min is ~10 a minute, the
#   judge's own 10 only ~5. The rule fires above 6: the judge alone never reaches it
#   (10 in at least 2 min), the cluster does (20 in 2 min and the few seconds
#   the test takes).
source "$(dirname "$0")/lib.sh"
bm_start_redis
echo "0 0" >"$BM_TMP/clock"
export BUSMON_TEST_CLOCK_FILE=$BM_TMP/clock
printf '%s\n' 'alerts:' '  builtins: false' '  rules:' \
    '    - {name: deadletters, metric: deadletter_rate, op: ">", threshold: 6, for: 0s, cooldown: 0s}' \
    >"$BM_TMP/rules.yaml"
bm_cluster_agents dr 2 --config "$BM_TMP/rules.yaml" --block-ms 100 --alert-interval 300ms \
    --rollup-interval 300ms --checkpoint-interval 300ms
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp sees two live agents" bm_wait_for 15 \
        "[ \"\$(bm_metric $hp busmon_cluster_agents_live)\" = 2 ]"
done
# each has read the other's checkpoint once (a count seen for the first time
# is a base, not news: written before the dead-letters, so they are news)
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp has read the other's checkpoint" bm_wait_for 15 \
        "[ \"\$(bm_metric $hp busmon_cluster_partials_read_total)\" -ge 1 ]"
done
sleep 1 # a few samples of 0 dead-letters, then 2 min pass (the rate's base is before them)
echo "120 120" >"$BM_TMP/clock"
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp sees two live agents after the step" bm_wait_for 15 \
        "[ \"\$(bm_metric $hp busmon_cluster_agents_live)\" = 2 ]"
done
sleep 1
for a in dr1 dr2; do
    for i in $(seq 1 10); do bm_cli XADD "busmon:handoff:$a" '*' note "not an event $i" >/dev/null; done
done
for hp in "${HPORTS[@]}"; do
    bm_check "agent on $hp dead-letters its 10" bm_wait_for 10 \
        "[ \"\$(bm_metric $hp busmon_deadletter_total)\" = 10 ]"
done
leader=$(bm_cli_raw GET busmon:leader)
case $leader in dr1) LHP=${HPORTS[0]} ;; *) LHP=${HPORTS[1]} ;; esac
value() { curl -s "http://127.0.0.1:$LHP/api/alerts" | jq -r '.firing[] | select(.rule == "deadletters") | .value'; }
bm_check "the judge ($leader) fires on the cluster's rate, 20 in ~2 min" bm_wait_for 10 '[ -n "$(value)" ]'
v=$(value)
bm_check "... about 10 a minute (got $v), not its own 5" \
    awk -v v="${v:-0}" 'BEGIN { exit !(v > 6 && v <= 10.1) }'
bm_finish
