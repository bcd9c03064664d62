#!/usr/bin/env bash
# What the deployment and browser tests need beyond the venv: Debian's postgresql and chromium
# (Playwright drives /usr/bin/chromium; it cannot download a browser of its own here).
# Installs only what is missing; without root it says what is missing and goes on (those tests skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || echo "install-test-deps: not root; missing: postgresql" >&2
  [ -x /usr/bin/chromium ] || echo "install-test-deps: not root; missing: chromium" >&2
  exit 0
fi
bash "$here/install-postgres.sh"
if [ ! -x /usr/bin/chromium ]; then
  echo "install-test-deps: installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
