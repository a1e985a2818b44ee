#!/usr/bin/env bash
# Redis given by host name: the agent looks the name up in its loop (evdns),
# so a resolver that never answers does not stall it. Checks:
#   - a name from the hosts file (localhost) connects, reads and acks;
#   - a name with several addresses: those refused are passed over, in order
#     (::1 and 127.0.0.2 refuse, Redis listens on 127.0.0.1 only);
#   - a name whose DNS server swallows every query (a UDP sink on loopback):
#     /health and /metrics keep answering at once during the look-up (hiredis'
#     own getaddrinfo held the whole loop for ~10 s each time), then the
#     failure is logged and counted, and SIGTERM stops the agent promptly;
#   - a Unix socket is used as it is, with no look-up;
#   - without a usable resolv.conf, the name server on 127.0.0.1 is asked;
#   - a name a DNS server answers is connected to, also when its first
#     query is lost and sent again after 5 s, and when the server matches
#     names by case (no 0x20 mixed-case queries).
# As root (unshare works) the test runs in its own network and mount
# namespace, with /etc/resolv.conf and /etc/hosts bind-mounted, the sink on
# 127.0.0.1:53: the system's own files are read, and no query leaves the
# namespace. Otherwise the agent is pointed at the same files through
# BUSMON_TEST_RESOLV_CONF and BUSMON_TEST_HOSTS (for tests only; BM_DNS_NS=0
# picks this way as root too).
if [ -z "${BM_DNS_NS:-}" ] && unshare -mn true 2>/dev/null; then
    BM_DNS_NS=1 exec unshare -mn bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
bm_agent_http

# the sink: a UDP socket that counts the queries it swallows
SINK_PY='import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
n = 0
while True:
    s.recv(4096)
    n += 1
    open(sys.argv[2], "w").write(str(n))'
HOSTS_LINES="::1 bm-multi.test
127.0.0.2 bm-multi.test
127.0.0.1 bm-multi.test"
if [ "${BM_DNS_NS:-}" = 1 ]; then
    ip link set lo up
    DNS_PORT=53
    printf 'nameserver 127.0.0.1\n' >"$BM_TMP/resolv.conf"
    { cat /etc/hosts; echo "$HOSTS_LINES"; } >"$BM_TMP/hosts"
    mount --bind "$BM_TMP/resolv.conf" /etc/resolv.conf
    mount --bind "$BM_TMP/hosts" /etc/hosts
    echo "# in a private network and mount namespace"
else
    DNS_PORT=$(bm_free_port)
    printf 'nameserver 127.0.0.1:%s\n' "$DNS_PORT" >"$BM_TMP/resolv.conf"
    echo "$HOSTS_LINES" >"$BM_TMP/hosts"
    export BUSMON_TEST_RESOLV_CONF="$BM_TMP/resolv.conf" BUSMON_TEST_HOSTS="$BM_TMP/hosts"
    echo "# not root: the resolver files given by BUSMON_TEST_RESOLV_CONF, BUSMON_TEST_HOSTS"
fi
bm_start_redis
/usr/bin/python3 -c "$SINK_PY" "$DNS_PORT" "$BM_TMP/queries" &
BM_PIDS+=($!)

# ms URL: how long the answer took in ms (a large number when none came in 3 s)
ms() { curl -s -o /dev/null -m 3 -w '%{http_code} %{time_total}' "$1" |
    awk '$1 == 200 { printf "%d\n", $2 * 1000; next } { print 99999 }'; }
# met NAME: the sample NAME at the agent's /metrics (empty when none came in 3 s)
met() { curl -s -m 3 "$BASE/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
# run NAME URL: an agent on URL, its pid in AG, its log $BM_TMP/agent-NAME.log
run() {
    "$AGENT" --redis "$2" --consumer "$1" --block-ms 100 --http "127.0.0.1:$HPORT" \
        >"$BM_TMP/agent-$1.log" 2>&1 &
    AG=$!
    BM_PIDS+=($AG)
}
stop() {
    kill -TERM "$AG"
    for _ in $(seq 100); do kill -0 "$AG" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$AG" 2>/dev/null
}
# acked: the group has read the stream's last entry and has nothing pending
acked() {
    [ "$(bm_cli_raw XPENDING busmon:events busmon | head -1)" = 0 ] &&
        [ "$(bm_cli_raw XINFO GROUPS busmon:events | awk 'p { print; exit } $0 == "last-delivered-id" { p = 1 }')" = \
            "$(bm_cli_raw XREVRANGE busmon:events + - COUNT 1 | head -1)" ]
}

# 1. localhost, from the hosts file
run local "redis://localhost:$BM_PORT"
bm_check "localhost: the writer connects" bm_wait_for 10 \
    "[ \"\$(met 'busmon_redis_connected{connection=\"writer\"}')\" = 1 ]"
bm_cli XADD busmon:events '*' type command tx t1 id c1 worker w >/dev/null
bm_check "localhost: the entry is read and acked" bm_wait_for 10 acked
bm_eq "localhost: no look-up failed" 0 "$(met busmon_redis_resolve_failures_total)"
bm_check "localhost: stops on SIGTERM" stop

# 2. several addresses: the refused ones are passed over, in order
run multi "redis://bm-multi.test:$BM_PORT"
bm_check "several addresses: the writer connects" bm_wait_for 10 \
    "[ \"\$(met 'busmon_redis_connected{connection=\"writer\"}')\" = 1 ]"
bm_cli XADD busmon:events '*' type command tx t2 id c2 worker w >/dev/null
bm_check "several addresses: the entry is read and acked" bm_wait_for 10 acked
bm_check "several addresses: ::1 refused, 127.0.0.2 tried next" \
    grep -q 'on ::1: .*trying 127.0.0.2' "$BM_TMP/agent-multi.log"
bm_check "several addresses: 127.0.0.2 refused, 127.0.0.1 tried next" \
    grep -q 'on 127.0.0.2: .*trying 127.0.0.1' "$BM_TMP/agent-multi.log"
bm_check "several addresses: stops on SIGTERM" stop

# 3. a resolver that never answers
run hang "redis://bm-hang.test:$BM_PORT"
bm_check "hang: the agent asks the resolver" bm_wait_for 10 "[ -s '$BM_TMP/queries' ]"
worst=0
for _ in $(seq 10); do # ~2 s of the 10 s look-up
    t=$(ms "$BASE/health")
    [ "$t" -gt "$worst" ] && worst=$t
    t=$(ms "$BASE/metrics")
    [ "$t" -gt "$worst" ] && worst=$t
    [ "$worst" -lt 99999 ] || break # no answer in 3 s: stalled
    sleep 0.1
done
echo "# slowest answer during the look-up: $worst ms"
bm_check "hang: /health and /metrics answer within 500 ms during the look-up" [ "$worst" -lt 500 ]
# a stalled agent (hiredis' own look-up) would make each wait below last minutes
W=5
[ "$worst" -lt 500 ] || W=0
bm_check "hang: the failed look-up is logged (10 s)" bm_wait_for $((W * 3)) \
    "grep -q 'cannot resolve the Redis host bm-hang.test' '$BM_TMP/agent-hang.log'"
bm_check "hang: and counted" bm_wait_for $W \
    "[ \"\$(met busmon_redis_resolve_failures_total)\" -ge 1 ]"
bm_check "hang: looked up again after the backoff, and failed again" bm_wait_for $((W * 5)) \
    "[ \"\$(met busmon_redis_resolve_failures_total)\" -ge 3 ]"
bm_eq "hang: never connected" 0 \
    "$(met 'busmon_redis_connected{connection="writer"}')"
t0=$(date +%s%N)
bm_check "hang: stops on SIGTERM during a look-up" stop
t=$((($(date +%s%N) - t0) / 1000000))
bm_check "hang: within 3 s ($t ms)" [ "$t" -lt 3000 ]
bm_check "hang: no sanitizer report" bash -c "! grep -q 'Sanitizer' '$BM_TMP/agent-hang.log'"

# 4. a Unix socket: no look-up
redis-server --port 0 --unixsocket "$BM_TMP/redis.sock" --save '' --appendonly no \
    --dir "$BM_TMP" --daemonize no --loglevel warning >>"$BM_TMP/redis-unix.log" 2>&1 &
BM_PIDS+=($!)
bm_wait_for 10 "redis-cli -s '$BM_TMP/redis.sock' ping" || { echo "no Unix socket Redis"; exit 1; }
n=$(cat "$BM_TMP/queries")
run unix "unix://$BM_TMP/redis.sock"
redis-cli -s "$BM_TMP/redis.sock" XADD busmon:events '*' type command tx t3 id c3 worker w >/dev/null
bm_check "Unix socket: the entry is read and acked" bm_wait_for 10 \
    "[ \"\$(redis-cli -s '$BM_TMP/redis.sock' --raw XPENDING busmon:events busmon | head -1)\" = 0 ]"
bm_eq "Unix socket: nothing looked up" "0 $n" \
    "$(met busmon_redis_resolve_failures_total) $(cat "$BM_TMP/queries")"
bm_check "Unix socket: stops on SIGTERM" stop

# 5. no usable resolv.conf (missing; a directory, unreadable): as glibc does,
# the name server on 127.0.0.1 is asked (the sink there: namespace only)
if [ "${BM_DNS_NS:-}" = 1 ]; then
    for f in "$BM_TMP/none" "$BM_TMP"; do
        n=$(cat "$BM_TMP/queries")
        BUSMON_TEST_RESOLV_CONF=$f run noconf "redis://bm-hang.test:$BM_PORT"
        bm_check "resolv.conf $f: 127.0.0.1 is asked" bm_wait_for 4 \
            "[ \$(cat '$BM_TMP/queries') -gt $n ]"
        bm_check "resolv.conf $f: stops on SIGTERM" stop
    done
fi

# 6. a name from DNS (a tiny name server on loopback answers A 127.0.0.1,
# AAAA with no address): looked up and connected. The server matches names
# by case, as podman's aardvark-dns does (a name with a capital letter is
# NXDOMAIN), so the agent must not mix the case of its queries (evdns'
# randomize-case, on by default, failed every look-up of 'redis' in compose)
ANSWER_PY='import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
drop = int(sys.argv[2])  # the first queries for A are lost
open(sys.argv[3], "w").write("bound")
while True:
    q, peer = s.recvfrom(4096)
    i = 12
    while q[i]:
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    if qtype == 1 and drop > 0:
        drop -= 1
        continue
    ans = b""
    flags = b"\x81\x80"
    if q[12:i] != q[12:i].lower():  # names matched by case, as aardvark-dns does
        flags = b"\x81\x83"  # NXDOMAIN
    elif qtype == 1:  # A: 127.0.0.1; AAAA: no address
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    head = q[:2] + flags + struct.pack(">HHHH", 1, 1 if ans else 0, 0, 0)
    s.sendto(head + q[12:i + 5] + ans, peer)'
# dns_agent NAME DROP SECONDS: a name server on a free port dropping the first
# DROP queries for A, an agent NAME on bm-NAME.test through it; its writer
# must connect within SECONDS, with no look-up failed
dns_agent() {
    local port
    port=$(bm_free_port)
    /usr/bin/python3 -c "$ANSWER_PY" "$port" "$2" "$BM_TMP/$1.up" &
    BM_PIDS+=($!)
    bm_wait_for 10 "[ -s '$BM_TMP/$1.up' ]" || { echo "the name server did not start"; exit 1; }
    printf 'nameserver 127.0.0.1:%s\n' "$port" >"$BM_TMP/$1.conf"
    BUSMON_TEST_RESOLV_CONF="$BM_TMP/$1.conf" run "$1" "redis://bm-$1.test:$BM_PORT"
    bm_check "$1: the writer connects" bm_wait_for "$3" \
        "[ \"\$(met 'busmon_redis_connected{connection=\"writer\"}')\" = 1 ]"
    bm_eq "$1: no look-up failed" 0 "$(met busmon_redis_resolve_failures_total)"
}
dns_agent dns 0 10
bm_cli XADD busmon:events '*' type command tx t4 id c4 worker w >/dev/null
bm_check "dns: the entry is read and acked" bm_wait_for 10 acked
bm_check "dns: stops on SIGTERM" stop

# 7. the first query for A lost (one per connection): evdns sends it again
# after 5 s, inside the look-up's 10 s, so no look-up fails
dns_agent lossy 2 12
bm_check "lossy: stops on SIGTERM" stop
bm_finish
