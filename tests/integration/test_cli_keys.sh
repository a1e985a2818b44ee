#!/usr/bin/env bash
# The CLI's views against an agent whose output names are not the defaults
# (outputs.rollups, outputs.system, outputs.workers, alerts.stream and so
# alerts.firing, the stream it reads):
#  - top: --rollups, --firing and --system name them, as `busmon stats
#    --rollups`, `busmon alerts --firing` and `busmon system --stream` do,
#    and top shows that agent's workers, its firing alert and the lag of the
#    stream it reads;
#  - worker NAME: --workers names the workers hash it reads (it took
#    --rollups, which it does not read);
#  - an empty KEY is a usage error (exit 2) in every view, not "nothing
#    published on  yet".
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

cat >"$BM_TMP/agent.yaml" <<EOF
streams:
  names: [ops:events]
outputs:
  rollups: ops:rollups
  system: ops:system
  workers: ops:workers
alerts:
  stream: ops:alerts
  rules:
    - name: high_error_rate     # the built-in, on a short window, firing at once
      window: 1m
      for: 0s
  disable: [critical_cpu]       # the test host may well be busy
EOF
bm_bg "$BM_BUILD/busmon-agent" --config "$BM_TMP/agent.yaml" --block-ms 100 \
    --rollup-interval 1 --health-interval 1 --system-interval 250ms --alert-interval 500ms
"$BM_BUILD/busmon-demo-producer" --stream ops:events --count 300 --rate 3000 --seed 7 >/dev/null ||
    echo "FAIL - the producer failed"

KEYS=(--rollups ops:rollups --firing ops:alerts:firing --system ops:system)
bm_check "the agent fires high_error_rate for flaky into ops:alerts:firing" bm_wait_for 20 \
    "bm_cli_raw HVALS ops:alerts:firing | grep -q '\"rule\":\"high_error_rate\"'"
bm_check "its system sample names ops:events" bm_wait_for 10 \
    "bm_cli_raw XREVRANGE ops:system + - COUNT 1 | grep -q '\"name\":\"ops:events\"'"

"$BUSMON" top --once "${KEYS[@]}" >"$BM_TMP/frame.txt" 2>"$BM_TMP/frame.err"
bm_eq "top --once --rollups/--firing/--system: exit 0" 0 "$?"
for n in fast slow flaky cpu_heavy; do
    bm_check "top shows worker $n from ops:rollups" grep -qE "^$n +" "$BM_TMP/frame.txt"
done
bm_check "top does not say nothing was published" bash -c "! grep -q 'nothing published' '$BM_TMP/frame.txt'"
bm_check "top shows the firing alert of ops:alerts:firing" \
    grep -qE '^  warning +high_error_rate +worker=flaky' "$BM_TMP/frame.txt"
bm_check "top shows the lag of ops:events, the stream ops:system names" \
    grep -qE '^  ops:events +group busmon +lag' "$BM_TMP/frame.txt"
"$BUSMON" top --once --rollups=ops:rollups >"$BM_TMP/eq.txt" 2>&1
bm_check "--rollups=KEY works as --rollups KEY" grep -qE '^flaky +' "$BM_TMP/eq.txt"

"$BUSMON" top --once >"$BM_TMP/default.txt" 2>&1
bm_check "without the options top still reads busmon:rollups (nothing there)" \
    grep -q 'nothing published on busmon:rollups yet' "$BM_TMP/default.txt"

for o in rollups firing system; do
    bm_check "top --help names --$o" bash -c "'$BUSMON' top --help | grep -q -- '--$o KEY'"
    bm_eq "top --$o '': exit 2" 2 "$("$BUSMON" top --once --$o '' >/dev/null 2>&1; echo $?)"
done

# ---- worker NAME --workers KEY ------------------------------------------------------------
"$BUSMON" worker --workers ops:workers flaky >"$BM_TMP/worker.txt" 2>&1
bm_eq "worker --workers ops:workers flaky: exit 0" 0 "$?"
bm_check "... shows the worker" grep -q '^worker flaky' "$BM_TMP/worker.txt"
bm_eq "worker --json --workers=ops:workers flaky: its JSON" flaky \
    "$("$BUSMON" worker --json --workers=ops:workers flaky 2>/dev/null | jq -r .name)"
bm_eq "worker flaky without it: not in busmon:workers (exit 1)" 1 \
    "$("$BUSMON" worker flaky >/dev/null 2>&1; echo $?)"
bm_eq "worker --rollups: not an option of worker (exit 2)" 2 \
    "$("$BUSMON" worker --rollups ops:rollups flaky >/dev/null 2>&1; echo $?)"
bm_check "worker --help names --workers, not --rollups" \
    bash -c "'$BUSMON' worker --help | grep -q -- '--workers KEY' && ! '$BUSMON' worker --help | grep -q -- '--rollups'"

# ---- an empty KEY ---------------------------------------------------------------------------
for cmd in "stats --rollups" "workers --rollups" "errors --rollups" "metrics --rollups" \
    "system --stream" "worker flaky --workers"; do
    "$BUSMON" $cmd '' >/dev/null 2>"$BM_TMP/empty.err"
    bm_eq "$cmd '': exit 2" 2 "$?"
    bm_check "$cmd '': says the option needs a value" grep -q 'needs a value' "$BM_TMP/empty.err"
done
bm_finish
