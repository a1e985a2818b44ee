#!/usr/bin/env bash
# test_deploy_audit.sh - how an operator installs and runs busmon.
#
#   1. deploy/demo.sh's private Redis: when the free port it chose is taken
#      before its redis-server listens (another process got there first), the
#      demo does not use that other Redis: it starts its own on another port.
#      Ctrl-C (SIGINT to its process group, as a terminal sends it) stops the
#      producer, the agent and redis-server, removes its directory, exits 0.
#      The commands it prints run as printed, from a build directory whose
#      path has a space.
#   2. deploy/busmon.bash-completion: the global options --redis-password-file
#      and --redis-username are offered, their values are not taken for the
#      command, and --status offers the statuses `busmon traces` knows; every
#      command of `busmon --help` and every option of `busmon help CMD` is
#      offered.
#   3. deploy/busmon.yaml: `busmon-agent --config deploy/busmon.yaml
#      --check-config --offline` passes (exit 0), and its comment on the
#      alerts section names every built-in rule the agent runs.
#   4. busmon-demo-producer stops on SIGINT (exit 0, the writes Redis had
#      not confirmed said) while Redis does not answer (CLIENT PAUSE WRITE),
#      as its --help promises, instead of waiting for Redis. --count, --maxlen
#      and --seed take whole numbers: 2.5 and 1e30 are refused, not cut (1e30
#      made a negative count: a producer that never stopped).
#   5. demo.sh's arguments: --help lists every option, -h included; a --rate
#      the producer would refuse (0) is refused at once, before anything starts;
#      without redis-cli the demo says so (not "redis-server did not start").
#   6. `cmake --install` into a prefix of its own: the tree README's "Install
#      the .deb" table lists, nothing outside the prefix, the unit pointing at
#      the prefix, the installed programs running, the installed
#      configuration passing --check-config --offline.
#
# Needs no root and no network beyond 127.0.0.1.
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "SKIP: no redis-server"; exit 77; }
# the demo is run without a Redis given (it starts its own): .ci/run exports one
unset BUSMON_REDIS_URL

# ---- 1. demo.sh: a port taken before the private redis-server listens -------

REAL_REDIS=$(command -v redis-server)
mkdir -p "$BM_TMP/bin" "$BM_TMP/foreign"
# A redis-server that, the first time, lets "someone else" (a Redis of this
# test) take the port it was given before it starts itself: the race between
# choosing a free port and binding it, made certain.
cat >"$BM_TMP/bin/redis-server" <<EOF
#!/usr/bin/env bash
if [ ! -e "$BM_TMP/foreign/taken" ]; then
    touch "$BM_TMP/foreign/taken"
    port=""
    prev=""
    for a in "\$@"; do [ "\$prev" = --port ] && port=\$a; prev=\$a; done
    echo "\$port" >"$BM_TMP/foreign/port"
    "$REAL_REDIS" --port "\$port" --bind 127.0.0.1 --save '' --appendonly no \\
        --dir "$BM_TMP/foreign" --daemonize yes --pidfile "$BM_TMP/foreign/redis.pid" \\
        --logfile "$BM_TMP/foreign/redis.log"
    for _ in \$(seq 50); do redis-cli -p "\$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
exec "$REAL_REDIS" "\$@"
EOF
chmod +x "$BM_TMP/bin/redis-server"

# the build directory through a path with a space: the commands printed still copy as they are
ln -s "$BM_BUILD" "$BM_TMP/build dir"
set -m # the demo in a process group of its own, SIGINT not ignored: as in a terminal
PATH="$BM_TMP/bin:$PATH" BUSMON_BUILD_DIR="$BM_TMP/build dir" \
    "$BM_SRC/deploy/demo.sh" --no-build --rate 100 >"$BM_TMP/demo.out" 2>&1 &
DEMO=$!
set +m
BM_PIDS+=("$DEMO")
bm_wait_for 10 "[ -s '$BM_TMP/foreign/redis.pid' ]"
FOREIGN_PID=$(cat "$BM_TMP/foreign/redis.pid" 2>/dev/null)
[ -n "$FOREIGN_PID" ] && BM_PIDS+=("$FOREIGN_PID")
FOREIGN_PORT=$(cat "$BM_TMP/foreign/port" 2>/dev/null)
bm_wait_for 40 "grep -q 'Press Ctrl-C' '$BM_TMP/demo.out' || ! kill -0 $DEMO"
bm_check "demo.sh reached its running state" grep -q 'Press Ctrl-C' "$BM_TMP/demo.out"

URL=$(sed -n 's/^demo: private redis-server on \(redis:[^ ]*\) .*/\1/p' "$BM_TMP/demo.out")
DEMO_REDIS_PID=$(sed -n 's/^demo: private redis-server on .*(pid \([0-9]*\),.*/\1/p' "$BM_TMP/demo.out")
DEMO_TMP=$(sed -n 's/^demo: private redis-server on .*data in \(.*\))$/\1/p' "$BM_TMP/demo.out")
AGENT_PID=$(sed -n 's/^demo: busmon-agent (pid \([0-9]*\)).*/\1/p' "$BM_TMP/demo.out")
PRODUCER_PID=$(sed -n 's/.*busmon-demo-producer (pid \([0-9]*\),.*/\1/p' "$BM_TMP/demo.out")
bm_check "the port taken first is said ('was taken before redis-server could listen')" \
    grep -q "port $FOREIGN_PORT was taken before redis-server could listen" "$BM_TMP/demo.out"
bm_check "the demo's Redis is not the one on the taken port ($URL)" \
    bash -c "[ -n '$URL' ] && [ '$URL' != 'redis://127.0.0.1:$FOREIGN_PORT' ]"
bm_check "the pid the demo names is its live redis-server" \
    bash -c "[ -n '$DEMO_REDIS_PID' ] && [ '$DEMO_REDIS_PID' != '$FOREIGN_PID' ] && kill -0 '$DEMO_REDIS_PID'"
bm_eq "nothing was written to the other Redis" "0" \
    "$(redis-cli -p "$FOREIGN_PORT" dbsize 2>/dev/null)"
bm_check "the producer writes to the demo's own Redis" \
    bm_wait_for 10 "[ \"\$(redis-cli -u '$URL' xlen busmon:events)\" -gt 0 ]"

workers_line=$(grep -m1 'busmon workers$' "$BM_TMP/demo.out")
bm_check "the printed 'busmon workers' line runs as printed ($workers_line)" \
    bash -c "$workers_line >/dev/null"

kill -INT -- -"$DEMO" 2>/dev/null
bm_wait_for 20 "! kill -0 $DEMO"
bm_check "Ctrl-C stops demo.sh" bash -c "! kill -0 $DEMO 2>/dev/null"
wait "$DEMO"
bm_eq "demo.sh exits 0 after Ctrl-C" 0 "$?"
for p in "$AGENT_PID" "$PRODUCER_PID" "$DEMO_REDIS_PID"; do
    bm_check "pid '$p' the demo started is gone" bash -c "[ -n '$p' ] && ! kill -0 '$p' 2>/dev/null"
done
bm_check "the demo's directory ($DEMO_TMP) is removed" bash -c "[ -n '$DEMO_TMP' ] && [ ! -e '$DEMO_TMP' ]"
bm_check "the other Redis is left alone" kill -0 "$FOREIGN_PID"

# ---- 2. bash completion -------------------------------------------------------

PATH="$BM_BUILD:$PATH"
# shellcheck disable=SC1091
source "$BM_SRC/deploy/busmon.bash-completion"
# complete WORD...: what completing the last word offers, space-separated, sorted
complete_line() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _busmon
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

bm_eq "global options offered" "--redis-password-file --redis-username" \
    "$(complete_line busmon --redis-)"
bm_eq "no command offered as --redis-username's value" "" \
    "$(complete_line busmon --redis-username '')"
bm_eq "the command after --redis-username NAME" "errors" \
    "$(complete_line busmon --redis-username bob err)"
bm_eq "the command after --redis-password-file FILE" "errors" \
    "$(complete_line busmon --redis-password-file /run/secret err)"
bm_eq "a command's options after --redis-username NAME" "--status" \
    "$(complete_line busmon --redis-username bob traces --sta)"
bm_eq "--status offers the statuses" "cancelled compensated completed failed running timed_out" \
    "$(complete_line busmon traces --status '')"
bm_eq "--reason offers the dead-letter reasons" "not_json not_msgpack" \
    "$(complete_line busmon deadletters --reason not_)"

commands=$(busmon --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' | sort | tr '\n' ' ')
bm_eq "every command of busmon --help is offered" "${commands% }" "$(complete_line busmon '')"
for cmd in ${commands% }; do
    [ "$cmd" = help ] && continue
    want=$(busmon help "$cmd" | grep -o '^  -[-a-z, ]*' | grep -o -- '--\?[a-z][-a-z]*' | sort -u |
        tr '\n' ' ')
    bm_eq "busmon $cmd -<TAB> offers each option of 'busmon help $cmd'" "${want% }" \
        "$(complete_line busmon "$cmd" -)"
done

# ---- 3. the shipped configuration ---------------------------------------------

"$BM_BUILD/busmon-agent" --config "$BM_SRC/deploy/busmon.yaml" --check-config --offline \
    >"$BM_TMP/check.out" 2>&1
bm_eq "busmon-agent --check-config --offline passes on deploy/busmon.yaml" 0 "$?"
rules=$(sed -n 's/^  rule \([a-z_]*\):.*/\1/p' "$BM_TMP/check.out")
bm_check "--check-config lists the built-in rules" [ -n "$rules" ]
comment=$(sed -n '/^# Alerts (README/,/^#$/p' "$BM_SRC/deploy/busmon.yaml")
for r in $rules; do
    bm_check "busmon.yaml's comment on alerts names the built-in rule $r" \
        grep -qw -- "$r" <<<"$comment"
done
# ---- 4. the demo producer stops while Redis does not answer ---------------------

bm_start_redis
"$BM_BUILD/busmon-demo-producer" --redis "$BM_URL" --rate 200 2>"$BM_TMP/producer.err" &
PRODUCER=$!
BM_PIDS+=("$PRODUCER")
bm_check "the producer writes" bm_wait_for 10 "[ \"\$(bm_cli_raw xlen busmon:events)\" -gt 0 ]"
bm_cli client pause 5000 write >/dev/null
bm_check "the producer waits for a paused Redis" \
    bm_wait_for 3 "bm_cli_raw info clients | tr -d '\\r' | grep -qx 'blocked_clients:1'"
kill -INT "$PRODUCER"
bm_check "SIGINT stops the producer within 2 s while Redis is paused" \
    bm_wait_for 2 "! kill -0 $PRODUCER"
wait "$PRODUCER"
bm_eq "the producer exits 0 on SIGINT" 0 "$?"
bm_check "it says what Redis had not confirmed" \
    grep -q 'stopped while Redis did not answer: [0-9]* write(s) not confirmed' "$BM_TMP/producer.err"
for bad in "--count 2.5" "--count 1e30" "--maxlen 1e30" "--seed 1.5"; do
    # shellcheck disable=SC2086
    out=$("$BM_BUILD/busmon-demo-producer" $bad --redis redis://127.0.0.1:1 2>&1)
    bm_check "busmon-demo-producer $bad is refused ($out)" grep -q "bad value for ${bad% *}" <<<"$out"
done

# ---- 5. demo.sh's arguments ------------------------------------------------------

help=$("$BM_SRC/deploy/demo.sh" --help)
bm_eq "demo.sh --help exits 0" 0 "$?"
for opt in --redis --rate --pubsub --no-build '-h, --help'; do
    bm_check "demo.sh --help lists $opt" grep -q -- "^  $opt " <<<"$help"
done
# an empty build directory: were the argument taken, the demo stops at the binaries
out=$(BUSMON_BUILD_DIR="$BM_TMP/no-build" timeout 20 "$BM_SRC/deploy/demo.sh" --no-build --rate 0 2>&1)
bm_eq "demo.sh --rate 0 exits 1" 1 "$?"
bm_check "demo.sh --rate 0 says what is wanted ($out)" grep -q "at least 0.001" <<<"$out"
# every command but redis-cli
mkdir -p "$BM_TMP/nocli"
for f in /usr/local/bin/* /usr/bin/* /bin/*; do
    n=${f##*/}
    [ "$n" = redis-cli ] || [ -e "$BM_TMP/nocli/$n" ] || ln -s "$f" "$BM_TMP/nocli/$n"
done
out=$(PATH="$BM_TMP/nocli" BUSMON_REDIS_URL= BUSMON_BUILD_DIR="$BM_BUILD" timeout 30 "$BM_SRC/deploy/demo.sh" --no-build 2>&1)
bm_eq "demo.sh without redis-cli exits 1" 1 "$?"
bm_check "demo.sh without redis-cli says so ($out)" grep -q "redis-cli not found" <<<"$out"
# ---- 6. cmake --install into a prefix --------------------------------------------

PREFIX="$BM_TMP/prefix with space"
cmake --install "$BM_BUILD" --prefix "$PREFIX" >"$BM_TMP/install.log" 2>&1
bm_eq "cmake --install --prefix exits 0" 0 "$?"
for f in bin/busmon-agent bin/busmon bin/busmon-demo-producer \
    lib/systemd/system/busmon-agent.service etc/busmon/busmon.yaml etc/default/busmon-agent \
    share/man/man1/busmon.1 share/man/man8/busmon-agent.8 share/doc/busmon/README.md \
    share/doc/busmon/protocol.md share/doc/busmon/busmon.yaml.example \
    share/bash-completion/completions/busmon; do
    bm_check "installed: $f" [ -s "$PREFIX/$f" ]
done
bm_check "something installed, nothing outside the prefix" bash -c \
    "grep -q 'Installing:' '$BM_TMP/install.log' && ! grep 'Installing:' '$BM_TMP/install.log' | grep -v -F '$PREFIX/'"
unit="$PREFIX/lib/systemd/system/busmon-agent.service"
bm_check "the unit runs the installed agent with the installed config" \
    grep -qxF "ExecStart=$PREFIX/bin/busmon-agent --config $PREFIX/etc/busmon/busmon.yaml" "$unit"
bm_check "the unit reads the installed defaults" \
    grep -qxF "EnvironmentFile=-$PREFIX/etc/default/busmon-agent" "$unit"
for b in busmon busmon-agent busmon-demo-producer; do
    bm_check "installed $b --help runs" bash -c "'$PREFIX/bin/$b' --help >/dev/null"
done
bm_check "installed busmon-agent --check-config --offline passes on the installed config" \
    bash -c "'$PREFIX/bin/busmon-agent' --config '$PREFIX/etc/busmon/busmon.yaml' --check-config --offline >/dev/null"

bm_finish
