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
cleanup() { umount "$rootfs/proc" 2>/dev/null || true; rm -rf "$rootfs"; }
trap cleanup EXIT
echo "build-code-image: debootstrap $suite into $rootfs"
# python3-venv for the project's venv; bubblewrap for the sandbox backend; ca-certificates for HTTPS to LLM endpoints
debootstrap --variant=minbase --include=python3,python3-venv,bubblewrap,ca-certificates "$suite" "$rootfs" "$mirror" >/dev/null
mkdir -p "$rootfs/opt/xcoder"
# the project as git tracks it (no data, venv or serve folders)
git -C "$project" ls-files -z --cached --others --exclude-standard | (cd "$project" && xargs -0 tar -c --no-recursion 2>/dev/null) \
  | tar -C "$rootfs/opt/xcoder" -x
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$rootfs/etc/pip.conf"  # the same package index as this machine
mount -t proc proc "$rootfs/proc"
dagster_version=$(sed -n 's/^ *"dagster==\([^"]*\)",/\1/p' "$project/pyproject.toml")
lib_version=$(sed -n 's/^ *"dagster-postgres==\([^"]*\)".*/\1/p' "$project/pyproject.toml")
chroot "$rootfs" /usr/bin/python3 -m venv /opt/xcoder/.venv
chroot "$rootfs" /opt/xcoder/.venv/bin/pip install --quiet --no-cache-dir /opt/xcoder \
  "dagster-postgres==$lib_version" "dagster-k8s==$lib_version" "psycopg[binary]" "dagster==$dagster_version"
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
