#!/usr/bin/env bash
# The Redis writes of a live ingest: busmon-agent running while the demo
# producer writes 3000 transactions at 600 per second (steps of a transaction
# arrive in different batches, as in production); the trace and index write
# commands Redis ran (INFO commandstats: RPUSH, EXPIRE, SET, ZADD; SET also
# counts the checkpoints), their usec, and redis-server's CPU over the run.
# BM_BUILD names the build (default build/); several builds: BM_BUILD="a b".
for B in ${BM_BUILD:-$(dirname "$0")/../../build}; do
  P=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  D=$(mktemp -d)
  redis-server --port $P --save '' --appendonly no --dir $D --daemonize no --loglevel warning >/dev/null 2>&1 &
  RP=$!
  sleep 0.3
  $B/busmon-agent --redis redis://127.0.0.1:$P --log-level error --no-http >/dev/null 2>&1 &
  A=$!
  sleep 1
  redis-cli -p $P CONFIG RESETSTAT >/dev/null
  c0=$(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/$RP/stat)
  $B/busmon-demo-producer --redis redis://127.0.0.1:$P --count 3000 --rate 600 --seed 3 >/dev/null 2>&1
  sleep 3
  kill -INT $A; wait $A
  c1=$(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/$RP/stat)
  ev=$(redis-cli -p $P XLEN busmon:events)
  redis-cli -p $P INFO commandstats | awk -F'[=,:]' -v ev=$ev -v B=$B \
      -v cpu="$(awk -v a=$c0 -v b=$c1 -v hz=$(getconf CLK_TCK) 'BEGIN { print (b - a) / hz }')" '
    /^cmdstat_(rpush|expire|set|zadd):/ { c = substr($1, 9); n += $3; u += $5; per[c] = $3 }
    END { printf "%s: %d events; write commands %d (%.2f per event: rpush %d expire %d set %d zadd %d), %d usec; redis-server CPU %.0f ms\n",
                 B, ev, n, n / ev, per["rpush"], per["expire"], per["set"], per["zadd"], u, cpu * 1000 }'
  kill $RP; wait $RP 2>/dev/null
  rm -rf $D
done
