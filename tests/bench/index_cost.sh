#!/usr/bin/env bash
# The trace search index's Redis cost: the same 3000 demo transactions ingested
# with --drain, without the index (traces.index_max 0) and with it; write
# commands, their Redis CPU (INFO commandstats usec) and used_memory.
B=${BM_BUILD:-$(dirname "$0")/../../build}
for max in 0 100000; do
  P=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  D=$(mktemp -d)
  redis-server --port $P --save '' --appendonly no --dir $D --daemonize yes >/dev/null; sleep 0.3
  $B/busmon-demo-producer --redis redis://127.0.0.1:$P --count 3000 --rate 100000 --seed 3 >/dev/null
  redis-cli -p $P CONFIG RESETSTAT >/dev/null
  s=$(date +%s%N)
  BUSMON_TRACES_INDEX_MAX=$max timeout 120 $B/busmon-agent --redis redis://127.0.0.1:$P --drain --log-level error >/dev/null 2>&1
  e=$(date +%s%N)
  calls=$(redis-cli -p $P INFO commandstats | awk -F'[=,:]' '/^cmdstat_/ && !/cmdstat_(info|ping|config|xlen|xinfo|xreadgroup)/ { n += $3; u += $5 } END { print n, u }')
  mem=$(redis-cli -p $P INFO memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
  echo "index_max=$max write_calls,usec=$calls used_memory=$mem wall_ms=$(( (e - s) / 1000000 ))"
  redis-cli -p $P shutdown nosave >/dev/null 2>&1
done
