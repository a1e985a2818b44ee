#!/usr/bin/env bash
# deploy/test.sh - the README's second command: install, build, run every test.
#
#   1. deploy/install-deps.sh (only installs what is missing);
#   2. build/       : warnings are errors (-DBUSMON_WERROR=ON); every ctest test
#                     (unit, integration against a private redis-server each,
#                     fuzz corpus replays);
#   3. build-asan/  : AddressSanitizer + UBSan (-DBUSMON_SANITIZE=ON); the unit
#                     tests and fuzz corpus replays again, and the agent against
#                     a real Redis in test_pubsub, test_writer_reentry,
#                     test_webhook and test_otlp;
#   4. tests/stack/ : the compose stack, the image, the .deb and the systemd
#                     unit under podman (root only; 2.5-3 min with the images built, 5-7 min after a source change).
#
# Exits non-zero when any step fails; the last line is a one-line summary.
#
#   ./deploy/test.sh [--no-asan] [--no-stack] [-j N]
#
#   --no-asan   skip the sanitizer build (faster, for a quick local check)
#   --no-stack  skip step 4
#   -j N        build jobs (default 2)
#   -h, --help  this text
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=2
ASAN=1
STACK=1

usage() { sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --no-asan) ASAN=0; shift ;;
        --no-stack) STACK=0; shift ;;
        -j) [ $# -ge 2 ] || { echo "test.sh: -j needs a number" >&2; exit 2; }; JOBS=$2; shift 2 ;;
        -j*) JOBS=${1#-j}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "test.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: -j: not a number: '$JOBS'" >&2; exit 2; }

cd "$ROOT" || exit 1
START=$SECONDS
SUMMARY=()

step() { printf '\n==== test.sh: %s\n' "$*"; }

finish() {
    local status=$1 what=$2
    local elapsed=$((SECONDS - START)) done=""
    [ ${#SUMMARY[@]} -gt 0 ] && done=$(printf '%s, ' "${SUMMARY[@]}") && done=${done%, }
    echo
    if [ "$status" -eq 0 ]; then
        echo "test.sh: PASS - $done (${elapsed}s)"
    else
        echo "test.sh: FAIL - $what${done:+ (so far: $done)} (${elapsed}s)"
    fi
    exit "$status"
}

# ctest_run LABEL BUILD_DIR [ctest args...]: runs ctest, adds "LABEL: N/M passed".
ctest_run() {
    local label=$1 dir=$2
    shift 2
    local log
    log=$(mktemp /tmp/busmon-ctest.XXXXXX)
    ctest --test-dir "$dir" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line total failed
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    rm -f "$log"
    if [ -n "$line" ]; then
        total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
        failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
        SUMMARY+=("$label $((total - failed))/$total passed")
    fi
    return "$rc"
}

# ---- 1. dependencies ------------------------------------------------------------
step "dependencies"
./deploy/install-deps.sh || finish 1 "installing dependencies"

# ---- 2. warnings-as-errors build, every test -----------------------------------
step "build (build/, -DBUSMON_WERROR=ON)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUSMON_WERROR=ON >/dev/null ||
    finish 1 "cmake configure (build/)"
cmake --build build -j "$JOBS" || finish 1 "build (build/)"

step "tests (build/)"
ctest_run "tests" build || finish 1 "tests in build/"

# ---- 3. sanitizer build, unit tests + fuzz corpus + four integration tests ---------
# test_pubsub runs the ASan-built agent through busmon's own timeouts, whose
# records once held bytes read from a dead stack frame (ASan reports that
# as stack-use-after-return, with the option below); test_writer_reentry the
# writer's push from inside a reply callback; test_webhook and test_otlp the
# agent's HTTP senders (libcurl: retries, bodies cut or never ending, the
# queues' bounds), which no other ASan run reaches.
if [ "$ASAN" -eq 1 ]; then
    step "build (build-asan/, -DBUSMON_SANITIZE=ON)"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUSMON_WERROR=ON \
        -DBUSMON_SANITIZE=ON >/dev/null || finish 1 "cmake configure (build-asan/)"
    cmake --build build-asan -j "$JOBS" || finish 1 "build (build-asan/)"

    step "unit + fuzz tests, test_pubsub, test_writer_reentry, test_webhook and test_otlp under ASan/UBSan (build-asan/)"
    # detect_stack_use_after_return: a pointer into a returned function's
    # frame is reported, not read by luck (the timeout records above)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ctest_run "asan" build-asan \
        -R '^unit\.|^fuzz\.|^integration\.(test_pubsub|test_writer_reentry|test_webhook|test_otlp)$' ||
        finish 1 "sanitizer tests in build-asan/"
fi

# ---- 4. containers: compose stack, image, .deb, systemd unit ----------------------------
if [ "$STACK" -eq 1 ]; then
    step "stack (tests/stack/run.sh)"
    BUSMON_BUILD_DIR="$ROOT/build" tests/stack/run.sh
    case $? in
        0) SUMMARY+=("stack passed") ;;
        77) SUMMARY+=("stack skipped") ;;
        *) finish 1 "tests/stack/run.sh" ;;
    esac
fi

finish 0 ""
