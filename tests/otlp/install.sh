#!/usr/bin/env bash
# tests/otlp/install.sh - put the OTLP receiver (receiver.js) and its pinned
# node_modules (package.json + package-lock.json, `npm ci`) into DIR, a
# git-ignored directory (test_otlp.sh and the benchmark use
# ${BUSMON_BUILD_DIR:-build}/otlp-receiver). npm runs only when DIR has no
# node_modules or the lock changed, so a second call costs nothing.
#
#   tests/otlp/install.sh DIR     then: node DIR/receiver.js --out FILE ...
#
# Exits 0 when DIR is ready; otherwise 1 with the reason on stderr (no node,
# no npm, or npm ci failed: the registry unreachable).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: tests/otlp/install.sh DIR" >&2; exit 2; }
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=$1
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "otlp receiver: $tool is not installed (apt-get install nodejs npm)" >&2; exit 1; }
done
mkdir -p "$DIR"
cp "$SRC/receiver.js" "$DIR/receiver.js"
if [ -d "$DIR/node_modules" ] && cmp -s "$SRC/package-lock.json" "$DIR/package-lock.json"; then
    exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
log=$(mktemp /tmp/busmon-npm.XXXXXX)
if ! (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    echo "otlp receiver: npm ci failed in $DIR:" >&2
    tail -n 15 "$log" >&2
    rm -f "$log" "$DIR/package-lock.json"   # so the next call tries again
    exit 1
fi
rm -f "$log"
