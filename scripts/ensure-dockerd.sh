#!/usr/bin/env bash
# Start a Docker daemon if none answers (CI machines have none running). Exits 0 either way: the
# docker backend's tests then fail (in CI) or are skipped (elsewhere) with the reason.
set -uo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "ensure-dockerd: no Docker daemon and cannot start one (dockerd missing or not root)" >&2
  exit 0
fi
log=${TMPDIR:-/tmp}/xcoder-dockerd.log
# A pid file left by a daemon that did not stop cleanly (a machine restored from a snapshot) stops
# dockerd from starting; it is stale when no process has that pid.
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
  rm -f "$pidfile"
fi
echo "ensure-dockerd: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "ensure-dockerd: dockerd did not come up; last lines of $log:" >&2
tail -5 "$log" >&2
exit 0
