#!/usr/bin/env bash
# tests/stack/run.sh - the deployment, tested for real with podman:
#
#   1. set-up (tests/stack/setup.sh: packages, podman settings, base image;
#      each skipped when present);
#   2. static checks: `docker-compose config -q`, promtool on the Prometheus
#      configuration and rules, the agent's compose configuration;
#   3. the systemd unit: installed by `cmake --install` into a scratch prefix,
#      then `systemd-analyze verify` (man pages included);
#   4. the .deb: `cpack -G DEB`, its Depends (dpkg-shlibdeps), and the unit it
#      ships is deploy/busmon-agent.service;
#   5. the compose stack (docker-compose.yml) built and brought up with
#      podman-compose under a project of its own, on free 127.0.0.1 ports;
#   6. the .deb in a clean Debian 12 container: `dpkg -i` (then
#      `apt-get -f install` for its Depends), `busmon-agent --version`,
#      `busmon --help`, the example config checked, purge;
#   7. the stack from outside: healthchecks (`podman healthcheck run`), a
#      producer transaction traced (`busmon trace` through `exec` and through
#      the published Redis port, stream and pub/sub), Prometheus's targets
#      (both agents) up, a PromQL query on busmon_worker_duration_seconds and
#      the recording rule, the flaky worker's alert in Alertmanager (from the
#      agent's sink and from Prometheus), the dashboard, AOF, non-root,
#      127.0.0.1 only;
#   8. two agents, one monitor: `busmon stats` (exec) names agent-1 and
#      agent-2 and one leader, both read; `podman-compose stop agent` (as the
#      README says), then from outside: agent2 holds busmon:leader within two
#      leases (redis-cli), the merged figures keep growing and a transaction
#      started after the stop is traced through agent2, `busmon stats` names
#      agent-1 stale; `podman-compose start agent`: agent-1 live again, the
#      lease stays with agent2;
#   9. tear-down: `podman-compose down -t 2 -v`, the network removed, nothing
#      left running (also on failure or Ctrl-C).
#
# Measured on the 2-core reference machine: 2.5 to 3 minutes with the images
# built (step 8: 15-18 s); 5 to 7 when the sources changed (the agent's image
# recompiles; 7 with other builds on the machine); about 7 on a fresh machine
# (debootstrap, then four images from Debian's mirror; 6.5 measured before
# step 8).
# Prints one line per check; the last line is "stack: PASS ..." or
# "stack: FAIL ...". Exit 0 pass, 1 fail, 77 skipped (one line saying why:
# not root, or containers cannot run here).
#
#   tests/stack/run.sh [--keep]
#
#   --keep   leave the stack running at the end (for a look; tear it down with
#            podman-compose -p busmon-stacktest down -t 2 -v)
#
# Environment: BUSMON_BUILD_DIR (default build/: its busmon CLI and the .deb).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUSMON_BUILD_DIR:-$ROOT/build}
PROJECT=busmon-stacktest
BASE_IMAGE=docker.io/library/debian:bookworm-slim
KEEP=0

case "${1:-}" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,49s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    "") ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

export CONTAINERS_CONF=$HERE/containers.conf
export BUILDAH_FORMAT=docker # keep HEALTHCHECK (the OCI format has none)

START=$SECONDS
CHECKS=0
TMP=""
STACK_UP=0

say() { echo "stack: $*"; }
ok() { CHECKS=$((CHECKS + 1)); say "ok   $*"; }
skip() { say "SKIP - $*"; exit 77; }

fail() {
    say "FAIL $*"
    FAILED=1
    teardown
    say "FAIL - $* ($CHECKS checks passed first, $((SECONDS - START))s)"
    exit 1
}
FAILED=0

# the tail of a log, indented, for a failure
show() { [ -f "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/    | /'; }

PC=(podman-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml")
ctr() { echo "${PROJECT}_$1_1"; }

teardown() {
    [ "$STACK_UP" -eq 1 ] || { [ -n "$TMP" ] && rm -rf "$TMP"; return 0; }
    STACK_UP=0
    if [ "$KEEP" -eq 1 ] && [ "$FAILED" -eq 0 ]; then
        say "stack left running (--keep): podman-compose -p $PROJECT down -t 2 -v"
        [ -n "$TMP" ] && rm -rf "$TMP"
        return 0
    fi
    if [ "$FAILED" -eq 1 ] && [ -n "$TMP" ]; then
        for s in agent agent2 producer prometheus alertmanager; do
            echo "    --- logs of $s"
            podman logs --tail 15 "$(ctr "$s")" 2>&1 | cut -c1-240 | sed 's/^/    | /'
        done
    fi
    (cd "$ROOT" && timeout 120 "${PC[@]}" down -t 2 -v) >"${TMP:-/tmp}/down.log" 2>&1
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
    local left
    left=$(podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT")
    if [ -n "$left" ]; then
        podman rm -f -t 2 $left >/dev/null 2>&1
        say "FAIL tear-down left containers: $left"
        FAILED=1
    fi
    [ -n "$TMP" ] && rm -rf "$TMP"
}
trap 'teardown' EXIT
trap 'FAILED=1; exit 130' INT TERM

# wait_for SECONDS DESC CMD...: run CMD every 2 s until it succeeds
wait_for() {
    local limit=$1 desc=$2
    shift 2
    local deadline=$((SECONDS + limit))
    while :; do
        "$@" && return 0
        [ $SECONDS -ge $deadline ] && { say "gave up after ${limit}s waiting for $desc"; return 1; }
        sleep 2
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---- 0. can containers run here? -------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman, debootstrap); CI runs it as root"
for t in python3 curl jq redis-cli cmake cpack systemd-analyze; do
    command -v "$t" >/dev/null 2>&1 || fail "$t is missing (deploy/install-deps.sh installs it)"
done

# ---- 1. set-up --------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/busmon-stack.XXXXXX)
"$HERE/setup.sh" >"$TMP/setup.log" 2>&1 || { show "$TMP/setup.log"; fail "set-up (tests/stack/setup.sh)"; }
sed 's/^/    /' "$TMP/setup.log"
if ! out=$(timeout 60 podman run --rm --network none "$BASE_IMAGE" true 2>&1); then
    skip "containers cannot run here: $(echo "$out" | tail -n 1)"
fi
ok "set-up done; a container runs"

# a stack of an interrupted run
if [ -n "$(podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT")" ]; then
    (cd "$ROOT" && "${PC[@]}" down -t 2 -v) >/dev/null 2>&1
fi
podman network rm -f "${PROJECT}_default" >/dev/null 2>&1

# ---- 2. static checks ---------------------------------------------------------------------
(cd "$ROOT" && docker-compose config -q) >"$TMP/config.log" 2>&1 ||
    { show "$TMP/config.log"; fail "docker-compose config -q"; }
ok "docker-compose config -q"
promtool check config "$ROOT/deploy/compose/prometheus.yml" >"$TMP/promtool.log" 2>&1 ||
    { show "$TMP/promtool.log"; fail "promtool check config deploy/compose/prometheus.yml"; }
grep -q 'SUCCESS: [1-9]' "$TMP/promtool.log" || fail "promtool found no rules"
ok "promtool check config (and its rules)"

[ -x "$BUILD/busmon-agent" ] && [ -x "$BUILD/busmon" ] || {
    say "building $BUILD (it has no binaries)"
    { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$BUILD" -j 2; } >"$TMP/build.log" 2>&1 || { show "$TMP/build.log"; fail "build"; }
}
# the rebuild of what cpack and the man pages need, when the sources moved on
cmake --build "$BUILD" -j 2 --target busmon-agent busmon busmon-demo-producer man >"$TMP/build.log" 2>&1 ||
    { show "$TMP/build.log"; fail "build of the installed targets"; }
"$BUILD/busmon-agent" --config "$ROOT/deploy/compose/busmon.yaml" --check-config --offline \
    >"$TMP/check.log" 2>&1 || { show "$TMP/check.log"; fail "deploy/compose/busmon.yaml does not check"; }
grep -q '1 sink' "$TMP/check.log" || { show "$TMP/check.log"; fail "the compose config has no alert sink"; }
ok "the agent's compose configuration checks (the Alertmanager sink included)"

# ---- 3. the systemd unit --------------------------------------------------------------------
cmake --install "$BUILD" --prefix "$TMP/usr" >"$TMP/install.log" 2>&1 ||
    { show "$TMP/install.log"; fail "cmake --install"; }
for f in usr/bin/busmon-agent usr/bin/busmon usr/bin/busmon-demo-producer \
    usr/lib/systemd/system/busmon-agent.service usr/etc/busmon/busmon.yaml \
    usr/etc/default/busmon-agent usr/share/man/man1/busmon.1 usr/share/man/man8/busmon-agent.8 \
    usr/share/doc/busmon/README.md usr/share/bash-completion/completions/busmon; do
    [ -e "$TMP/$f" ] || fail "cmake --install did not install $f"
done
ok "cmake --install: binaries, unit, config, man pages, README, completion"
unit=$TMP/usr/lib/systemd/system/busmon-agent.service
grep -qx "ExecStart=$TMP/usr/bin/busmon-agent --config $TMP/usr/etc/busmon/busmon.yaml" "$unit" ||
    fail "the installed unit's ExecStart does not point into its prefix"
MANPATH=$TMP/usr/share/man systemd-analyze verify "$unit" >"$TMP/verify.log" 2>&1 ||
    { show "$TMP/verify.log"; fail "systemd-analyze verify busmon-agent.service"; }
[ -s "$TMP/verify.log" ] && { show "$TMP/verify.log"; fail "systemd-analyze verify printed warnings"; }
ok "systemd-analyze verify busmon-agent.service (as installed; man pages found)"
for d in 'Type=simple' 'DynamicUser=yes' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
    'Restart=on-failure' 'EnvironmentFile=-/etc/default/busmon-agent'; do
    grep -qx "$d" "$ROOT/deploy/busmon-agent.service" || fail "busmon-agent.service lacks $d"
done
completed=$(PATH=$TMP/usr/bin:$PATH bash -c 'source "$1"; COMP_WORDS=(busmon w); COMP_CWORD=1; _busmon
    echo "${COMPREPLY[*]}"' - "$TMP/usr/share/bash-completion/completions/busmon" 2>&1)
[ "$completed" = "workers worker" ] || fail "bash completion of 'busmon w' gives '$completed'"
ok "the unit's directives are there; bash completion completes 'busmon w'"

# ---- 4. the .deb ------------------------------------------------------------------------------
rm -rf "$BUILD/packages"
(cd "$BUILD" && cpack -G DEB) >"$TMP/cpack.log" 2>&1 || { show "$TMP/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$BUILD"/packages/busmon_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { show "$TMP/cpack.log"; fail "cpack made no .deb"; }
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libhiredis0.14 libevent-2.1-7 libmsgpackc2 libjansson4 libyaml-0-2 libcurl4; do
    [[ ", $depends," == *", $lib"[\ ,]* ]] || fail "the .deb's Depends lack $lib: $depends"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/busmon-agent.service |
    cmp -s - "$ROOT/deploy/busmon-agent.service" || fail "the .deb's unit is not deploy/busmon-agent.service"
grep -qx /etc/busmon/busmon.yaml <<<"$(dpkg-deb -I "$deb" conffiles)" || fail "/etc/busmon/busmon.yaml is not a conffile"
ok "cpack -G DEB: $(basename "$deb"), Depends: $depends"

# ---- 5. the stack up ---------------------------------------------------------------------------
export BUSMON_HTTP_PORT BUSMON_AGENT2_HTTP_PORT BUSMON_REDIS_PORT BUSMON_PROMETHEUS_PORT BUSMON_ALERTMANAGER_PORT
BUSMON_HTTP_PORT=$(free_port)
BUSMON_AGENT2_HTTP_PORT=$(free_port)
BUSMON_REDIS_PORT=$(free_port)
BUSMON_PROMETHEUS_PORT=$(free_port)
BUSMON_ALERTMANAGER_PORT=$(free_port)
t0=$SECONDS
# The build stage, tagged, so that the layer cache survives the prune of old
# busmon images at the end (an untagged stage image would be pruned with it).
timeout 1500 podman build --target build -t localhost/busmon-build:latest -f "$ROOT/deploy/Dockerfile" \
    "$ROOT" >"$TMP/build-stage.log" 2>&1 || { show "$TMP/build-stage.log" 40; fail "podman build --target build"; }
STACK_UP=1
(cd "$ROOT" && timeout 1500 "${PC[@]}" up -d --build) >"$TMP/up.log" 2>&1 ||
    { show "$TMP/up.log" 40; fail "podman-compose up -d --build"; }
for s in redis agent agent2 producer producer-pubsub prometheus alertmanager; do
    [ "$(podman inspect -f '{{.State.Running}}' "$(ctr "$s")" 2>/dev/null)" = true ] ||
        { show "$TMP/up.log" 40; fail "container $s is not running"; }
done
ok "podman-compose up --build: 7 containers running ($((SECONDS - t0))s)"

# ---- 6. the .deb in a clean Debian 12 root ------------------------------------------------------
cat >"$TMP/deb-test.sh" <<'EOF'
set -eu
export DEBIAN_FRONTEND=noninteractive
deb=$(ls /deb/busmon_*.deb)
if dpkg -i "$deb" >/tmp/dpkg.log 2>&1; then
    echo "dpkg -i: installed"
else
    echo "dpkg -i: $(grep -c 'depends on' /tmp/dpkg.log) dependencies missing on a clean root; apt-get -f install"
fi
apt-get update -qq
apt-get -f install -y -qq --no-install-recommends >/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log; exit 1; }
test "$(dpkg-query -W -f='${Status}' busmon)" = "install ok installed"
if ldd /usr/bin/busmon-agent /usr/bin/busmon | grep 'not found'; then exit 1; fi
busmon-agent --version
busmon --help | head -n 1
busmon-agent --config /etc/busmon/busmon.yaml --check-config --offline | head -n 1
test -f /lib/systemd/system/busmon-agent.service
dpkg --purge busmon >/dev/null
test ! -e /usr/bin/busmon-agent
echo "purged"
EOF
t0=$SECONDS
timeout 300 podman run --rm -v "$(dirname "$deb"):/deb:ro" -v "$TMP/deb-test.sh:/deb-test.sh:ro" \
    "$BASE_IMAGE" bash /deb-test.sh >"$TMP/deb.log" 2>&1 ||
    { show "$TMP/deb.log"; fail ".deb in a clean Debian 12 container"; }
sed 's/^/    /' "$TMP/deb.log"
grep -qx 'busmon-agent [0-9].*' "$TMP/deb.log" || fail "busmon-agent --version printed no version"
grep -q '^usage: busmon ' "$TMP/deb.log" || fail "busmon --help printed no usage"
ok ".deb: dpkg -i in a clean container, busmon-agent --version, busmon --help, purge ($((SECONDS - t0))s)"

# ---- 7. the stack from outside ------------------------------------------------------------------
REDIS="redis://127.0.0.1:$BUSMON_REDIS_PORT"
HTTP="http://127.0.0.1:$BUSMON_HTTP_PORT"
HTTP2="http://127.0.0.1:$BUSMON_AGENT2_HTTP_PORT"
PROM="http://127.0.0.1:$BUSMON_PROMETHEUS_PORT"
AM="http://127.0.0.1:$BUSMON_ALERTMANAGER_PORT"

healthy() { podman healthcheck run "$(ctr "$1")" >/dev/null 2>&1; }
for s in redis agent agent2 prometheus alertmanager; do
    wait_for 60 "$s healthy" healthy "$s" || fail "healthcheck of $s"
done
ok "healthchecks (podman healthcheck run): redis, agent, agent2, prometheus, alertmanager healthy"

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/ready")" = 200 ]; }
wait_for 60 "the agent ready" ready "$HTTP" || fail "agent: /ready is not 200: $(curl -s "$HTTP/ready")"
wait_for 60 "agent2 ready" ready "$HTTP2" || fail "agent2: /ready is not 200: $(curl -s "$HTTP2/ready")"
ok "/ready 200: agent through 127.0.0.1:$BUSMON_HTTP_PORT, agent2 through 127.0.0.1:$BUSMON_AGENT2_HTTP_PORT"

# a transaction of each producer, once the agent has stored its trace
trace_key() { redis-cli -u "$REDIS" --raw SCAN 0 MATCH "busmon:trace:$1" COUNT 100000 | sed -n '2p'; }
has_trace() { [ -n "$(trace_key "$1")" ]; }
wait_for 60 "a stream transaction traced" has_trace 'tx-*' || fail "no trace of the stream producer"
wait_for 60 "a pub/sub transaction traced" has_trace '*-*-*-*-*' || fail "no trace of the pub/sub producer"
for pattern in 'tx-*' '*-*-*-*-*'; do
    tx=$(trace_key "$pattern")
    tx=${tx#busmon:trace:}
    host=$("$BUILD/busmon" --redis "$REDIS" trace --json "$tx" 2>&1) ||
        fail "busmon trace $tx through the published port: $host"
    inside=$(cd "$ROOT" && "${PC[@]}" exec -T agent busmon trace --json "$tx" 2>/dev/null | grep '^{') ||
        fail "busmon trace $tx through exec"
    [ "$(jq -r .tx <<<"$host")" = "$tx" ] && [ "$(jq '.event_count' <<<"$host")" -ge 1 ] ||
        fail "the trace of $tx has no events: $host"
    [ "$(jq -c '.events[0]' <<<"$host")" = "$(jq -c '.events[0]' <<<"$inside")" ] ||
        fail "busmon trace $tx differs through exec and through the port"
    ok "busmon trace $tx ($(jq -r '.status + ", " + (.event_count|tostring) + " events"' <<<"$host")): through exec and 127.0.0.1:$BUSMON_REDIS_PORT"
done
workers=$(cd "$ROOT" && "${PC[@]}" exec -T agent busmon workers 2>&1)
for w in fast slow flaky cpu_heavy; do
    grep -q "^$w " <<<"$workers" || { echo "$workers" | sed 's/^/    | /'; fail "busmon workers (exec) does not list $w"; }
done
ok "exec agent busmon workers lists the four workers"

target_up() {
    curl -s "$PROM/api/v1/targets" | jq -e --arg i "$1" \
        '.data.activeTargets[] | select(.labels.job == "busmon" and .labels.instance == $i and .health == "up")' >/dev/null
}
for i in agent:9464 agent2:9464; do
    wait_for 60 "Prometheus's busmon target $i up" target_up "$i" ||
        fail "Prometheus: busmon target $i not up: $(curl -s "$PROM/api/v1/targets" | head -c 400)"
done
ok "Prometheus: job busmon, targets agent:9464 and agent2:9464 up"
promql() { curl -s "$PROM/api/v1/query" --data-urlencode "query=$1"; }
q_p95='histogram_quantile(0.95, sum by (worker, le) (rate(busmon_worker_duration_seconds_bucket[1m])))'
has_flaky() { promql "$1" | jq -e '.data.result[] | select(.metric.worker == "flaky") | .value[1] | tonumber > 0' >/dev/null; }
wait_for 60 "PromQL on busmon_worker_duration_seconds" has_flaky "$q_p95" || fail "PromQL $q_p95: $(promql "$q_p95" | head -c 300)"
ok "PromQL: p95 of busmon_worker_duration_seconds for flaky = $(promql "$q_p95" | jq -r '.data.result[] | select(.metric.worker == "flaky") | .value[1]' | cut -c1-6) s"
wait_for 60 "the recording rule" has_flaky 'busmon:worker_error_ratio:rate1m' || fail "recording rule busmon:worker_error_ratio:rate1m has no value"
ok "Prometheus: recording rule busmon:worker_error_ratio:rate1m{worker=\"flaky\"} = $(promql 'busmon:worker_error_ratio:rate1m{worker="flaky"}' | jq -r '.data.result[0].value[1]' | cut -c1-5)"

am_alert() { curl -s "$AM/api/v2/alerts" | jq -e --arg n "$1" '.[] | select(.labels.alertname == $n and .labels.worker == "flaky" and .status.state == "active")' >/dev/null; }
wait_for 90 "the agent's alert in Alertmanager" am_alert high_error_rate || fail "Alertmanager: no high_error_rate alert for flaky: $(curl -s "$AM/api/v2/alerts" | head -c 400)"
ok "Alertmanager: high_error_rate{worker=\"flaky\"} from the agent's alertmanager sink"
wait_for 120 "Prometheus's alert in Alertmanager" am_alert BusmonWorkerErrorRatio || fail "Alertmanager: no BusmonWorkerErrorRatio alert for flaky from Prometheus"
ok "Alertmanager: BusmonWorkerErrorRatio{worker=\"flaky\"} from Prometheus's rules"

page=$(curl -s -w '\n%{http_code} %{content_type}' "$HTTP/")
[[ "$(tail -n 1 <<<"$page")" == "200 text/html"* ]] && grep -qi '<title>.*busmon' <<<"$page" ||
    fail "the dashboard at $HTTP/ does not answer: $(tail -n 1 <<<"$page")"
ok "dashboard: $HTTP/ answers 200 text/html"

[ "$(redis-cli -u "$REDIS" CONFIG GET appendonly | tail -n 1)" = yes ] || fail "Redis runs without AOF"
podman volume exists "${PROJECT}_redis-data" || fail "no named volume for Redis"
for s in agent agent2; do
    [ "$(podman exec "$(ctr "$s")" id -u)" != 0 ] || fail "$s runs as root"
    [ "$(podman inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$(ctr "$s")")" = unless-stopped ] || fail "$s has no restart policy"
done
for s in redis agent agent2 prometheus alertmanager; do
    ports=$(podman port "$(ctr "$s")")
    [ -n "$ports" ] && ! grep -v -- '-> 127\.0\.0\.1:' <<<"$ports" | grep -q . ||
        fail "$s: its ports are not published on 127.0.0.1 only: $ports"
done
ok "Redis AOF on a named volume; agents non-root with a restart policy; ports on 127.0.0.1 only"

# ---- 8. two agents, one monitor; the takeover ----------------------------------------------------
t8=$SECONDS
LEASE_S=$(awk '/^cluster:/ { c = 1; next } /^[^ #]/ { c = 0 }
    c && $1 == "lease:" { sub(/s$/, "", $2); print $2; exit }' "$ROOT/deploy/compose/busmon.yaml")
[[ "$LEASE_S" =~ ^[0-9]+$ ]] || fail "deploy/compose/busmon.yaml sets no cluster.lease in seconds"
LEADER_KEY=busmon:leader

# the "agents:" line of `busmon stats`, through exec in service $1
agents_line() { (cd "$ROOT" && timeout 30 "${PC[@]}" exec -T "$1" busmon stats 2>/dev/null) | grep -m 1 '^ *agents:' | sed 's/^ *//'; }
# `busmon stats --json` (1 h window: everything since the stack started) from outside
stats_json() { timeout 10 "$BUILD/busmon" --redis "$REDIS" stats --window 1h --json 2>/dev/null; }
holder() { timeout 5 redis-cli -u "$REDIS" --raw GET "$LEADER_KEY"; }
metric() { curl -s --max-time 5 "$1/metrics" | awk -v n="$2" '$1 == n { print $2; exit }'; }
# the live agents and the leader in `busmon stats --json`: "agent-1,agent-2 agent-1"
json_agents() {
    stats_json | jq -r '([.agents[] | select(.live) | .name] | sort | join(",")) + " " +
        ([.agents[] | select(.leader) | .name] | join(","))'
}
both_live() {
    local line
    line=$(agents_line "$1")
    [[ "$line" == *agent-1* && "$line" == *agent-2* && "$line" != *stale* ]] &&
        [ "$(grep -o '(leader)' <<<"$line" | wc -l)" -eq 1 ]
}
# $1 holds busmon:leader, and the latest rollup names agent-1 and agent-2 live and $1 leader
leads() { [ -n "$1" ] && [ "$(holder)" = "$1" ] && [ "$(json_agents)" = "agent-1,agent-2 $1" ]; }
agree() { leads "$(holder)"; }

wait_for 30 "busmon stats naming both agents and one leader" both_live agent ||
    fail "busmon stats (exec agent) does not name both agents and one leader: '$(agents_line agent)'"
wait_for 10 "the leader in busmon stats --json and busmon:leader to agree" agree ||
    fail "busmon stats --json and $LEADER_KEY disagree: '$(json_agents)', holder '$(holder)'"
ok "exec agent busmon stats: '$(agents_line agent)'; $LEADER_KEY = $(holder)"
for u in "$HTTP" "$HTTP2"; do
    [ "$(metric "$u" busmon_entries_read_total)" -gt 0 ] 2>/dev/null || fail "$u: the agent has read no entries"
done
ok "both agents read the group: entries read $(metric "$HTTP" busmon_entries_read_total) (agent-1), $(metric "$HTTP2" busmon_entries_read_total) (agent-2)"
if [ "$(holder)" = agent-2 ]; then
    # agent2 leads already (it usually starts second): stop it until agent-1
    # holds the lease (a stop gives it up), then start it again, so that the
    # stop of agent below is a takeover
    (cd "$ROOT" && timeout 60 "${PC[@]}" stop agent2) >"$TMP/restart.log" 2>&1 ||
        { show "$TMP/restart.log"; fail "podman-compose stop agent2"; }
    agent1_holds() { [ "$(holder)" = agent-1 ]; }
    wait_for 30 "agent-1 holding $LEADER_KEY" agent1_holds || fail "agent-1 does not lead after agent2 stopped: holder '$(holder)'"
    (cd "$ROOT" && timeout 60 "${PC[@]}" start agent2) >>"$TMP/restart.log" 2>&1 ||
        { show "$TMP/restart.log"; fail "podman-compose start agent2"; }
    wait_for 30 "agent-1 leading, both live" leads agent-1 ||
        fail "agent-1 does not lead after agent2 started again: '$(json_agents)', holder '$(holder)'"
    ok "agent2 led first; stopped and started it: agent-1 leads"
fi
pttl=$(redis-cli -u "$REDIS" PTTL "$LEADER_KEY")
[ "$pttl" -gt 0 ] && [ "$pttl" -le $((LEASE_S * 1000)) ] || fail "$LEADER_KEY expires in $pttl ms, not within the ${LEASE_S} s lease"

total0=$(stats_json | jq -e '.total_events') || fail "busmon stats --json has no total_events"
applied0=$(metric "$HTTP2" busmon_events_applied_total)
# The stop runs in the background while $LEADER_KEY is polled, so the hand-over
# is timed from the stop's start, whatever podman-compose itself takes.
t0=$SECONDS
t_stop=$(date +%s%N)
(cd "$ROOT" && timeout 60 "${PC[@]}" stop agent) >"$TMP/stop.log" 2>&1 &
stop_pid=$!
deadline=$((t_stop + 2 * LEASE_S * 1000000000))
took_ms=""
while [ "$(date +%s%N)" -lt "$deadline" ]; do
    if [ "$(holder)" = agent-2 ]; then
        took_ms=$((($(date +%s%N) - t_stop) / 1000000))
        break
    fi
    sleep 0.1
done
wait "$stop_pid" || { show "$TMP/stop.log"; fail "podman-compose stop agent"; }
stop_s=$((SECONDS - t0))
[ "$(podman inspect -f '{{.State.Running}}' "$(ctr agent)")" = false ] || fail "agent still runs after podman-compose stop agent"
[ -n "$took_ms" ] || fail "agent2 does not hold $LEADER_KEY within 2 x ${LEASE_S} s of the stop (holder: '$(holder)')"
ok "podman-compose stop agent (${stop_s}s): $LEADER_KEY = agent-2 $(awk -v m="$took_ms" 'BEGIN { printf "%.1f", m / 1000 }') s after the stop began (limit 2 x ${LEASE_S} s)"

# the merged figures keep growing, from a rollup of the new leader
grown() {
    stats_json | jq -e --argjson t0 "$total0" '.total_events > $t0 and
        ([.agents[] | select(.leader) | .name] == ["agent-2"]) and
        ([.agents[] | select(.name == "agent-1" and .live == false)] | length == 1)' >/dev/null
}
wait_for 30 "the figures to grow under agent-2" grown ||
    fail "busmon stats --json after the stop: $(stats_json | jq -c '{total_events, agents}') (before: $total0 events)"
applied1=$(metric "$HTTP2" busmon_events_applied_total)
[ "${applied1:-0}" -gt "${applied0:-0}" ] || fail "agent2 applied no event since the stop ($applied0 -> $applied1)"
[ "$(metric "$HTTP2" busmon_cluster_leader)" = 1 ] || fail "agent2's busmon_cluster_leader is not 1"
ok "figures keep growing: $total0 -> $(stats_json | jq .total_events) events (busmon stats --json, 1h); agent2 applied $applied0 -> $applied1, busmon_cluster_leader 1"

# a transaction the producer started after agent-1 stopped, traced through agent2
stream_txs() { timeout 10 redis-cli -u "$REDIS" --raw "$@" | grep -aoE 'tx-[0-9a-f]{8}' | sort -u; }
mark=$(redis-cli -u "$REDIS" --raw XREVRANGE busmon:events + - COUNT 1 | head -n 1)
[[ "$mark" =~ ^[0-9]+-[0-9]+$ ]] || fail "no entry in busmon:events (XREVRANGE: '$mark')"
new_tx() {
    comm -13 <(stream_txs XREVRANGE busmon:events "$mark" - COUNT 5000) \
        <(stream_txs XRANGE busmon:events "($mark" + COUNT 1000) | head -n 1
}
traced() {
    local tx
    tx=$(new_tx)
    [ -n "$tx" ] || return 1
    traced_tx=$tx
    # whole: its first event after the stop began, and ended (completed or
    # failed), so agent2 alone paired its commands and answers
    traced_json=$(cd "$ROOT" && timeout 30 "${PC[@]}" exec -T agent2 busmon trace --json "$tx" 2>/dev/null | grep '^{')
    jq -e --arg tx "$tx" --argjson since $((t_stop / 1000)) '.tx == $tx and .event_count >= 2 and
        ([.events[].ts_us] | min) >= $since and (.status == "completed" or .status == "failed")' \
        <<<"$traced_json" >/dev/null 2>&1
}
traced_tx="" traced_json=""
wait_for 45 "a transaction started after the stop traced whole through agent2" traced ||
    fail "no whole trace of a transaction started after the stop (tx '$traced_tx': $(jq -c '{tx, status, event_count, started_at}' <<<"$traced_json" 2>/dev/null || echo no trace); stream mark $mark)"
ok "exec agent2 busmon trace $traced_tx (started after the stop): $(jq -r '.status + ", " + (.event_count|tostring) + " events"' <<<"$traced_json")"

stale_shown() {
    local line
    line=$(agents_line agent2)
    [[ "$line" == *"agent-1 (stale)"* && "$line" == *"agent-2 (leader)"* ]]
}
wait_for 30 "busmon stats naming agent-1 stale" stale_shown ||
    fail "busmon stats (exec agent2) after the stop: '$(agents_line agent2)'"
ok "exec agent2 busmon stats: '$(agents_line agent2)'"

# agent back: it joins as a follower, the lease stays with agent2
(cd "$ROOT" && timeout 60 "${PC[@]}" start agent) >"$TMP/start.log" 2>&1 ||
    { show "$TMP/start.log"; fail "podman-compose start agent"; }
wait_for 30 "agent-1 live again under agent-2" leads agent-2 ||
    fail "after podman-compose start agent: '$(json_agents)', holder '$(holder)'"
wait_for 60 "agent healthy again" healthy agent || fail "healthcheck of agent after its start"
wait_for 60 "the agent ready again" ready "$HTTP" || fail "agent: /ready is not 200 after its start: $(curl -s "$HTTP/ready")"
wait_for 30 "busmon stats naming both agents again" both_live agent ||
    fail "busmon stats (exec agent) after the start: '$(agents_line agent)'"
ok "podman-compose start agent: '$(agents_line agent)'; $LEADER_KEY stays agent-2 (step 8: $((SECONDS - t8))s)"

# ---- 9. tear-down -----------------------------------------------------------------------------------
t0=$SECONDS
keep=$KEEP
teardown
[ "$FAILED" -eq 0 ] || fail "tear-down"
if [ "$keep" -eq 0 ]; then
    [ -z "$(podman ps -q --filter "label=io.podman.compose.project=$PROJECT")" ] || fail "containers still running"
    podman network exists "${PROJECT}_default" && fail "the network is left"
    [ -z "$(podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT")" ] || fail "volumes are left"
    ok "torn down: no container, volume or network of $PROJECT left ($((SECONDS - t0))s)"
    # busmon images of earlier builds (untagged since); the current ones stay as the cache
    podman image prune -f --filter label=io.busmon.image >/dev/null 2>&1
fi
say "PASS - $CHECKS checks ($((SECONDS - START))s)"
