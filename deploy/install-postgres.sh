#!/usr/bin/env bash
# Debian's postgresql for `make serve` and the deployment tests: installed only when no initdb is
# found. The package's own cluster is not created (create_main_cluster = false): `make serve` makes
# its own, with its data inside the project. Needs root; without it, says what to install and fails.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-postgres: not root; install Debian's postgresql (apt-get install postgresql) and run again" >&2
  exit 1
fi
echo "install-postgres: installing postgresql"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
mkdir -p /etc/postgresql-common
if ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf 2>/dev/null; then
  echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
fi
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
