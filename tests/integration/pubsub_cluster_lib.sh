# tests/integration/pubsub_cluster_lib.sh - set-up shared by the tests of pub/sub
# between several agents (sourced after lib.sh):
#
#   pubsub_cluster_start       Redis, and q1, the first agent, with ARGS and the
#                              cluster's test timings (bm_cluster_agents),
#                              reading pub/sub and owning its share; its HTTP
#                              port in HP1
#   publish FIRST COUNT RATE   COUNT results of worker w (tx m-FIRST...) on
#                              multiagent:result.w, RATE a second, each with
#                              its time (µs) as ts; returns once Redis has them
#   merged PORT                successes of w in the merged figures, as the
#                              agent with HTTP port PORT shows them
#   ARGS                       the agents' flags: pub/sub on multiagent:*
cat >"$BM_TMP/pub.py" <<'EOF'
# pub.py PORT FIRST COUNT RATE: COUNT results of worker w (tx m-FIRST...) on
# multiagent:result.w, RATE a second, each with its time (µs) as ts
import json, socket, sys, time
port, first, count, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
t0 = time.monotonic()
for i in range(first, first + count):
    d = t0 + (i - first) / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
    body = json.dumps({"type": "result", "tx": "m-%d" % i, "id": "r-%d" % i, "worker": "w",
                       "ok": True, "ts": time.time_ns() // 1000})
    s.sendall(resp("PUBLISH", "multiagent:result.w", body))
s.sendall(resp("PING"))
buf = b""
while not buf.endswith(b"+PONG\r\n"):
    buf += s.recv(65536)
EOF
publish() { /usr/bin/python3 "$BM_TMP/pub.py" "$BM_PORT" "$@"; }
# successes of w in the merged figures, as the agent on port $1 shows them
merged() { curl -s "http://127.0.0.1:$1/api/workers?window=1h" |
    jq -r '[.workers[] | select(.name == "w") | .successes] | add // 0'; }
ARGS=(--block-ms 100 --checkpoint-interval 300ms --psubscribe 'multiagent:*' --stream ps:unused)

pubsub_cluster_start() {
    bm_start_redis
    bm_cluster_agents q 1 "${ARGS[@]}"
    HP1=${HPORTS[0]}
    bm_check "q1 reads pub/sub" bm_wait_for 15 \
        "[ \"\$(bm_metric $HP1 busmon_cluster_agents_live)\" = 1 ] && [ \"\$(bm_cli_raw PUBSUB NUMPAT)\" = 1 ]"
    sleep 1 # q1's first instant (two heartbeats after it registered) is past
}
