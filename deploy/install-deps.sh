#!/usr/bin/env bash
# deploy/install-deps.sh - install what busmon needs to build, test and run.
#
# Debian 12 (bookworm). Idempotent: it asks dpkg what is already installed and
# only runs `apt-get update` + `apt-get install` when something is missing, so
# a second run costs a fraction of a second. Uses sudo only when not root.
#
#   ./deploy/install-deps.sh          # install what is missing
#   ./deploy/install-deps.sh --check  # list what is missing, exit 1 if anything is
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config
    # libraries (proto/, lib/, agent/)
    libhiredis-dev libevent-dev libmsgpack-dev libjansson-dev libyaml-dev libcurl4-openssl-dev
    # tests
    libcriterion-dev valgrind
    # runtime: a Redis for the demo and the integration tests, and tools to look at it
    redis-server redis-tools jq
    # tests: promtool (checks /metrics), curl (the HTTP test), headless chromium
    # (renders the dashboard), python3 (free ports; the dashboard's canned API),
    # script(1) from bsdutils (busmon top on a pty)
    prometheus curl chromium python3 bsdutils
    # tests: an SMTP server on loopback for the e-mail sink (run with /usr/bin/python3)
    python3-aiosmtpd
    # tests/stack/: the compose stack, the image and the .deb under podman (runc
    # and netavark as tests/stack/containers.conf sets them; debootstrap makes
    # the base image), docker-compose for `config -q`, file for cpack's
    # dpkg-shlibdeps, systemd-analyze and man for `verify` on the unit
    podman podman-compose runc conmon netavark aardvark-dns iptables slirp4netns uidmap
    catatonit debootstrap docker-compose file systemd man-db
)

# tests/integration/test_otlp.sh: node + npm for the OTLP decoder (tests/otlp/,
# its node_modules from the npm registry by `npm ci`). Only when missing: a
# Node.js from elsewhere (NodeSource's nodejs bundles npm) is as good, and
# Debian's npm package would conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "$0"
}

check_only=0
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --check) check_only=1 ;;
    "") ;;
    *) echo "install-deps.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if [ "$check_only" -eq 1 ]; then
    echo "install-deps: missing: ${missing[*]}"
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found; install these by hand: ${missing[*]}" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: not root and no sudo; install these as root: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/busmon-install-deps.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 ||
    ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    echo "install-deps: apt-get failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
echo "install-deps: done"
