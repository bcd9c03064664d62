#!/usr/bin/env bash
# Build the docker sandbox image locally from Debian packages: no image registry is needed.
# A minimal Debian root filesystem with python3 is made by debootstrap from the Debian mirror this
# machine's apt already uses, then imported as an image. Skips the build if the image exists.
set -euo pipefail
image=${1:?usage: build-sandbox-image.sh IMAGE, as make sandbox-image passes it}
if ! docker info >/dev/null 2>&1; then
  echo "build-sandbox-image: no Docker daemon; skipping $image" >&2
  exit 0
fi
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}
# The mirror: the first Debian URI in apt's own configuration (deb822 .sources or one-line lists).
mirror=$(
  { grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
    grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'; } \
  | grep -v -E 'security|updates' | head -n 1 || true
)
if [ -z "$mirror" ]; then
  echo "build-sandbox-image: no Debian mirror found in the apt configuration" >&2
  exit 1
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "build-sandbox-image: debootstrap $suite from the configured mirror into $rootfs"
debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import -c 'CMD ["/usr/bin/python3"]' -c 'USER 65534:65534' - "$image" >/dev/null
echo "build-sandbox-image: built $image"
