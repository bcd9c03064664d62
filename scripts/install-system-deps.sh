#!/usr/bin/env bash
# Debian packages the sandboxes need: bubblewrap and Debian's python3 (the bwrap backend), docker.io
# and debootstrap (the docker backend and its locally built image). Installs only what is missing;
# needs root (CI runs as root). Without root it says what to install and goes on.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ -x /usr/bin/python3 ] || need+=(python3)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: not root; the sandbox tests need: apt-get install ${need[*]}" >&2
  exit 0
fi
echo "install-system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
