#!/usr/bin/env bash
# Build the code-location image for Kubernetes (deploy/helm/values.yaml) without any image registry:
# a Debian root filesystem made by debootstrap from the mirror this machine's apt already uses (as
# scripts/build-sandbox-image.sh does), the project and its Python packages installed into a venv
# inside it, imported with `docker import`. Push it to your own registry with --push.
#
#   bash deploy/build-code-image.sh [IMAGE] [--push]
#
# IMAGE defaults to the repository:tag of deploy/helm/values.yaml's code location.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
values="$here/helm/values.yaml"
default_image=$(awk '/^ *repository: /{r=$2} /^ *tag: /{if (r != "") {print r ":" $2; exit}}' "$values" | tr -d '"')
image=${1:-$default_image}
push=${2:-}
[ "$image" = "--push" ] && { image=$default_image; push=--push; }
for tool in debootstrap docker; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-code-image: $tool is missing (bash scripts/install-system-deps.sh)" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "build-code-image: no Docker daemon (bash scripts/ensure-dockerd.sh)" >&2; exit 1; }
. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}
mirror=$(
  { grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
    grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'; } \
  | grep -v -E 'security|updates' | head -n 1 || true
)
[ -n "$mirror" ] || { echo "build-code-image: no Debian mirror found in the apt configuration" >&2; exit 1; }
rootfs=$(mktemp -d)
cleanup() {
  umount "$rootfs/root/.cache/pip" 2>/dev/null || true
  umount "$rootfs/proc" 2>/dev/null || true
  rm -rf --one-file-system "$rootfs"  # never into a mount left behind
}
trap cleanup EXIT
# python3-venv for the project's venv; bubblewrap for the sandbox backend; ca-certificates for HTTPS to LLM endpoints
packages=python3,python3-venv,bubblewrap,ca-certificates
# The Debian root filesystem is kept (as a tar file) once per suite and package list: a rebuild after a
# code change only installs the project again. XCODER_IMAGE_CACHE moves it; deleting it forces a fresh one.
cache_dir=${XCODER_IMAGE_CACHE:-$HOME/.cache/xcoder-code-image}
base_tar="$cache_dir/rootfs-$suite-$(printf '%s' "$packages" | sha256sum | cut -c1-12).tar"
if [ -f "$base_tar" ]; then
  echo "build-code-image: Debian $suite root filesystem from $base_tar"
  tar -C "$rootfs" -xf "$base_tar"
else
  echo "build-code-image: debootstrap $suite into $rootfs"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$cache_dir"
  tar -C "$rootfs" -cf "$base_tar.tmp.$$" . && mv "$base_tar.tmp.$$" "$base_tar"  # atomic: never half a tar
fi
# The project's source goes to a build folder that is removed after the install: the image holds only the
# installed package (in /opt/xcoder/.venv), so every process imports what the wheel carries, never a
# source tree that happens to be its working directory.
src="$rootfs/tmp/xcoder-src"
mkdir -p "$src" "$rootfs/opt/xcoder"
# what the package is built from, as git lists it (no data, venv or serve folders); a file deleted in the
# working tree but still in git's index is left out rather than failing the copy
git -C "$project" ls-files -z --cached --others --exclude-standard -- pyproject.toml README.md xcoder_assets sql \
  | (cd "$project" && while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
    | xargs -0 tar -c --no-recursion) \
  | tar -C "$src" -x
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$rootfs/etc/pip.conf"  # the same package index as this machine
mount -t proc proc "$rootfs/proc"
# pip's download cache is this machine's (PIP_CACHE_DIR or ~/.cache/pip), mounted for the install only:
# a rebuild downloads nothing it already has, and the image carries no cache
cache=${PIP_CACHE_DIR:-$HOME/.cache/pip}
mkdir -p "$cache" "$rootfs/root/.cache/pip"
mount --bind "$cache" "$rootfs/root/.cache/pip"
dagster_version=$(sed -n 's/^ *"dagster==\([^"]*\)",/\1/p' "$project/pyproject.toml")
lib_version=$(sed -n 's/^ *"dagster-postgres==\([^"]*\)".*/\1/p' "$project/pyproject.toml")
chroot "$rootfs" /usr/bin/python3 -m venv /opt/xcoder/.venv
# This machine's trust store for the install only (a package index behind a TLS-inspecting proxy): it
# stands in for Debian's bundle while pip runs (and its build subprocesses), then Debian's comes back.
bundle="$rootfs/etc/ssl/certs/ca-certificates.crt"
cp "$bundle" "$rootfs/tmp/debian-ca.crt"
cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$bundle"
# dagster-docker (a dependency of the project) is what a run container needs for the Docker run launcher;
# PIP_FIND_LINKS, where set, names a folder of this machine that the chroot does not have
chroot "$rootfs" /usr/bin/env -u PIP_FIND_LINKS PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
  /opt/xcoder/.venv/bin/pip install --quiet --disable-pip-version-check /tmp/xcoder-src \
  "dagster-postgres==$lib_version" "dagster-k8s==$lib_version" "psycopg[binary]" "dagster==$dagster_version"
umount "$rootfs/root/.cache/pip"
# the run launcher of `make serve RUNS=docker`: every process that loads the instance may load it
site=$(chroot "$rootfs" /opt/xcoder/.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp "$here/xcoder_docker_launcher.py" "$rootfs$site/"
mv "$rootfs/tmp/debian-ca.crt" "$bundle"
rm -rf "$src"
umount "$rootfs/proc"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs/etc/resolv.conf"
tar -C "$rootfs" -c . | docker import \
  -c 'WORKDIR /opt/xcoder' \
  -c 'ENV PATH=/opt/xcoder/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LITELLM_LOCAL_MODEL_COST_MAP=True' \
  -c 'EXPOSE 3030' \
  -c 'CMD ["dagster", "api", "grpc", "-m", "xcoder_assets.definitions", "-h", "0.0.0.0", "-p", "3030"]' \
  - "$image" >/dev/null
echo "build-code-image: built $image"
if [ "$push" = "--push" ]; then
  docker push "$image"
fi
