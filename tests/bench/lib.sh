# tests/bench/lib.sh - what the benchmark scripts share (sourced, after the
# script defines die() with its own prefix).
#
# Sets SRC (the checkout) and BUILD ($BUSMON_BUILD_DIR, else <checkout>/build,
# made absolute). bench_build also needs the script's TMP.
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUSMON_BUILD_DIR:-$SRC/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac

# bench_tools TOOL...: die unless each is on PATH.
bench_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "needs $tool (deploy/install-deps.sh installs it)"
    done
}

# bench_build TARGET...: build with cmake the targets missing from $BUILD
# (RelWithDebInfo; the log in $TMP/cmake.log, its tail shown on failure).
bench_build() {
    local b missing=()
    for b in "$@"; do [ -x "$BUILD/$b" ] || missing+=("$b"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "$(basename "$0" .sh): building ${missing[*]} in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/cmake.log" 2>&1 ||
        { tail -20 "$TMP/cmake.log" >&2; die "cmake configure failed (log above)"; }
    cmake --build "$BUILD" -j2 --target "$@" >>"$TMP/cmake.log" 2>&1 ||
        { tail -30 "$TMP/cmake.log" >&2; die "build failed (log above)"; }
}

# bench_free_port: a free TCP port on 127.0.0.1 (the kernel's pick).
bench_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
