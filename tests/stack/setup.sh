#!/usr/bin/env bash
# tests/stack/setup.sh - make this machine able to build and run the compose
# stack with podman, without a container registry. Idempotent: each step is
# skipped when its result exists, so a second run takes a second.
#
#   1. the packages (deploy/install-deps.sh installs them: podman,
#      podman-compose, runc, netavark, debootstrap, docker-compose, ...);
#   2. podman's settings: tests/stack/containers.conf, used through
#      CONTAINERS_CONF (the host's /etc/containers is not changed);
#   3. the base image: `debootstrap --variant=minbase bookworm` from the
#      Debian mirror apt uses, imported and tagged
#      docker.io/library/debian:bookworm-slim, so `FROM debian:bookworm-slim`
#      resolves without a pull (about 35 s, once).
#
#   tests/stack/setup.sh            # do what is missing
#   tests/stack/setup.sh --check    # say what is missing; exit 1 if anything is
#
# Needs root (debootstrap, and podman's rootful storage). Run it, then use
# podman as the README's "Run it with Docker Compose" says, with
#   export CONTAINERS_CONF=$PWD/tests/stack/containers.conf
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE_IMAGE=docker.io/library/debian:bookworm-slim
export CONTAINERS_CONF=$HERE/containers.conf

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    "") ;;
    *) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

say() { echo "stack-setup: $*"; }

# ---- 1. packages ----------------------------------------------------------------
tools=(podman podman-compose runc debootstrap docker-compose)
missing=()
for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$check_only" -eq 1 ]; then say "missing: ${missing[*]} (deploy/install-deps.sh installs them)"; exit 1; fi
    "$ROOT/deploy/install-deps.sh"
else
    say "packages present"
fi

# ---- 2. podman settings -----------------------------------------------------------
say "podman settings: CONTAINERS_CONF=$CONTAINERS_CONF"

# ---- 3. the base image -------------------------------------------------------------
if podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE present"
    exit 0
fi
if [ "$check_only" -eq 1 ]; then say "missing: the base image $BASE_IMAGE"; exit 1; fi

# The mirror apt uses: deb822 sources first, then the one-line format.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$mirror" ] && break
done
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }') || true
fi
mirror=${mirror:-http://deb.debian.org/debian}

say "building $BASE_IMAGE with debootstrap from $mirror (about 35 s)"
work=$(mktemp -d /tmp/busmon-debootstrap.XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work.log
if ! debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$log" 2>&1; then
    echo "stack-setup: debootstrap failed:" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
# what an image should not carry: package caches and lists, logs
rm -rf "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/lib/apt/lists/* \
    "$work"/root/var/log/*.log "$work"/root/var/log/apt/*
tar -C "$work/root" -c . | podman import --quiet --change 'CMD ["/bin/bash"]' - localhost/debian:bookworm >/dev/null
podman tag localhost/debian:bookworm "$BASE_IMAGE"
say "base image $BASE_IMAGE built"
