#!/usr/bin/env bash
# Business metrics with two agents in one consumer group: each counts its
# share of the metric events (both get some), and every reader sees the
# merge (README "Several agents, one monitor"): `busmon metrics` (the leader's rollup) and each agent's
# /api/metrics show exactly the counts, sums, min and max of the whole
# workload per tag set, p95 within 1 %.
source "$(dirname "$0")/lib.sh"
bm_start_redis
bm_cluster_agents m 2 --block-ms 100 --rollup-interval 300ms --checkpoint-interval 300ms
bm_check "both agents registered" bm_wait_for 15 "[ \"\$(bm_cli_raw HLEN busmon:agents)\" -ge 2 ]"
sleep 1

python3 - "$BM_TMP/truth.json" >"$BM_TMP/cmds.txt" <<'PY'
import json, math, random, sys
random.seed(5)
vals = {"gold": [], "free": []}
for i in range(2000):
    tier = "gold" if i % 4 == 0 else "free"
    v = round(random.uniform(10, 900) if tier == "gold" else random.uniform(1, 50), 3)
    vals[tier].append(v)
    print("XADD busmon:events * type metric name order_value value %r tag.tier %s" % (v, tier))
t = {}
for k, vs in vals.items():
    s = sorted(vs)
    t[k] = {"count": len(vs), "sum": sum(vs), "min": s[0], "max": s[-1],
            "p95": s[math.ceil(0.95 * len(s)) - 1]}
json.dump(t, open(sys.argv[1], "w"))
PY
redis-cli -p "$BM_PORT" <"$BM_TMP/cmds.txt" >/dev/null
bm_check "every entry acked" bm_wait_for 30 \
    '[ "$(redis-cli -p $BM_PORT XPENDING busmon:events busmon | head -1)" = 0 ]'
own() { curl -s "http://127.0.0.1:$1/metrics" | awk '$1 == "busmon_metric_events_total" { print $2 }'; }
a=$(own "${HPORTS[0]}") b=$(own "${HPORTS[1]}")
bm_eq "each agent counted its share, 2000 in all" 2000 "$((${a:-0} + ${b:-0}))"
bm_check "both agents got a share ($a + $b)" [ "${a:-0}" -gt 0 -a "${b:-0}" -gt 0 ]

T=$BM_TMP/truth.json
same() { # $1: JSON with .series[0] of one tier; $2: the tier
    python3 -c "
import json,sys
t=json.load(open('$T'))['$2']; g=json.load(open('$1'))['series'][0]
ok = g['count']==t['count'] and abs(g['sum']-t['sum'])<1e-6 and g['min']==t['min'] and g['max']==t['max'] \
     and abs(g['p95']-t['p95'])<=0.01*t['p95']
print('truth', t, 'got', {k: g.get(k) for k in ('count','sum','min','max','p95')}) if not ok else None
sys.exit(0 if ok else 1)"
}
for tier in gold free; do
    for i in 1 2; do
        bm_check "m$i's /api/metrics: $tier merged, exact (p95 within 1 %)" bm_wait_for 10 \
            "curl -sf 'http://127.0.0.1:${HPORTS[$((i - 1))]}/api/metrics?name=order_value&tag=tier=$tier&window=5m' >'$BM_TMP/m$i-$tier.json' && same '$BM_TMP/m$i-$tier.json' $tier"
    done
    bm_check "busmon metrics (the leader's rollup): $tier merged, exact" bm_wait_for 10 \
        "'$BUSMON' --redis redis://127.0.0.1:$BM_PORT metrics order_value --tag tier=$tier --json >'$BM_TMP/cli-$tier.json' && same '$BM_TMP/cli-$tier.json' $tier"
done
if [ "$BM_FAILED" -gt 0 ]; then # what each reader showed, for the failure's reader
    for f in "$BM_TMP"/*.json; do echo "--- $f"; jq -c '.series[0] // .' "$f"; done
    for i in 1 2; do echo "--- agent m$i"; tail -20 "$BM_TMP/agent-m$i.log"; done
fi
bm_finish
