"""A pool of judge servers (service.py) as a sandbox backend: `XCODER_SANDBOX=http://a:8080,http://b:8080`
or one load balancer's address. Any caller of a backend (run_matrix, judge_many, the RL reward, `xcoder
eval`) spreads its programs over the servers unchanged: `acquire` hands out a session that speaks the
supervisor's line protocol to judge.run_program and carries each program as one HTTP request.

- Many in flight: every caller's worker thread has its own request; a program goes to the server with
  the fewest of ours in flight (then in turn), so the callers' `workers` should be about the servers'
  slots together.
- Failover: a server that refuses the connection, drops it, stalls past the supervisor's own timeouts,
  answers 503 (full) or writes something that is not a supervisor event is left for `retry_down_s` and
  the program runs again on another server. A run is pure (its cache key is its content, runs.run_key),
  so the rerun's results up to what was already handed to the judge are skipped and the judge sees one
  unbroken stream; only when every server failed is it a sandbox failure (never cached, run again later).
- Stop: the judge's `stop` closes the request; the server notices at its next result and stops there.
- Trust: a server is trusted for the runs' results and nothing else: every line is capped and must be
  one of the supervisor's events; the client sends it the program, the tests, the limits and the token.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from xcoder_assets.sandbox.backends import Limits, SandboxBroken, SandboxUnavailable

log = logging.getLogger(__name__)

EVENTS = {"ready", "result", "batch", "runner_died", "done", "sandbox_error"}
ADMISSION_TIMEOUT_S = 600.0  # a server answers once a slot is free: a busy one may keep a request this long
MARGIN_S = 30.0  # on top of the supervisor's own timeouts: the network and the server's relay


def is_remote(name: str) -> bool:
    return name.startswith(("http://", "https://"))


@dataclass
class _Server:
    url: str
    https: bool
    host: str
    port: int
    base: str
    in_flight: int = 0
    down_until: float = 0.0

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def parse_servers(urls: Sequence[str]) -> list[_Server]:
    servers: list[_Server] = []
    for url in urls:
        url = url.strip()
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"judge server {url!r}: an http(s)://host:port address (a path prefix allowed)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"judge server {url!r}: the port is not a number") from None
        if parts.username or parts.password:
            raise ValueError(f"judge server {url!r}: no credentials in the address; the token is XCODER_JUDGE_TOKEN")
        servers.append(_Server(url.rstrip("/"), parts.scheme == "https", parts.hostname, port, parts.path.rstrip("/")))
    if not servers:
        raise ValueError("no judge server address given")
    if len({s.url for s in servers}) < len(servers):
        raise ValueError(f"judge servers listed twice: {', '.join(urls)}")
    return servers


class RemoteBackend:
    """Judge servers as one backend; thread-safe, with the PooledBackend's acquire/release/close."""

    name = "http"

    def __init__(
        self,
        urls: Sequence[str],
        *,
        token: str | None = None,
        fresh_sandbox: bool = False,
        probe: bool = True,
        retry_down_s: float = 15.0,
        admission_timeout_s: float = ADMISSION_TIMEOUT_S,
    ):
        from xcoder_assets.sandbox.service import read_token

        self.servers = parse_servers(urls)
        self.token = token if token is not None else read_token()
        self.fresh_sandbox = fresh_sandbox
        self.retry_down_s = retry_down_s
        self.admission_timeout_s = admission_timeout_s
        self.used_uids: set[int] = set()  # the servers' sandboxes' uids are theirs: none here
        self.started = 0  # programs sent (counting reruns)
        self.failovers = 0  # programs run again on another server after one failed
        self.per_server: dict[str, int] = {s.url: 0 for s in self.servers}  # programs each server finished
        self._lock = threading.Lock()
        self._turn = 0
        self.info: dict[str, dict[str, Any]] = {}
        if probe:
            self._probe()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _probe(self) -> None:
        problems = []
        for server in self.servers:
            try:
                connection = server.connect(10)
                try:
                    connection.request("GET", server.base + "/v1/info", headers=self._headers())
                    response = connection.getresponse()
                    body = response.read(1 << 16)
                finally:
                    connection.close()
                if response.status == 401:
                    raise SandboxUnavailable(f"judge server {server.url} refused the token (set XCODER_JUDGE_TOKEN)")
                if response.status != 200:
                    raise OSError(f"HTTP {response.status}")
                info = json.loads(body)
                if info.get("service") != "xcoder-judge":
                    raise OSError("not an xcoder judge server")
                self.info[server.url] = info
            except SandboxUnavailable:
                raise
            except (OSError, ValueError, http.client.HTTPException) as exc:
                server.down_until = time.monotonic() + self.retry_down_s
                problems.append(f"{server.url}: {exc}")
        if not self.info:
            raise SandboxUnavailable("no judge server answered: " + "; ".join(problems))
        if problems:
            log.warning("judge servers not answering (tried again later): %s", "; ".join(problems))

    def acquire(self, limits: Limits, profile: str = "strict", fresh: bool = False) -> "RemoteSession":
        return RemoteSession(self, limits, profile, fresh or self.fresh_sandbox)

    def release(self, session: "RemoteSession", limits: Limits, healthy: bool, profile: str = "strict") -> None:
        session.close()

    def close(self) -> None:
        """Nothing is held between programs: each is its own request."""

    def __enter__(self) -> "RemoteBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def pick(self, tried: set[str]) -> _Server | None:
        """The server for a program's next try: one not tried yet, up before down, fewest in flight."""
        now = time.monotonic()
        with self._lock:
            candidates = [s for s in self.servers if s.url not in tried]
            if not candidates:
                return None
            up = [s for s in candidates if s.down_until <= now] or candidates
            self._turn += 1
            order = {s.url: (i - self._turn) % len(self.servers) for i, s in enumerate(self.servers)}
            server = min(up, key=lambda s: (s.in_flight, order[s.url]))
            server.in_flight += 1
            self.started += 1
            return server

    def finished(self, server: _Server, ok: bool) -> None:
        with self._lock:
            server.in_flight -= 1
            if ok:
                server.down_until = 0.0
                self.per_server[server.url] += 1
            else:
                server.down_until = time.monotonic() + self.retry_down_s


class _ServerFailed(Exception):
    """This server could not run the program; another may (retryable)."""


class RemoteSession:
    """One program on the pool, speaking the supervisor's side of the line protocol to run_program."""

    nproc_base = 0  # the server counts its own sandbox's processes
    uid: int | None = None
    jobs = 0  # never a reused sandbox from the judge's view: the server retries those itself

    def __init__(self, backend: RemoteBackend, limits: Limits, profile: str, fresh: bool):
        self.backend, self.limits, self.profile, self.fresh = backend, limits, profile, fresh
        self.line_cap = max(64 << 20, 4 * limits.output_bytes)
        self._body: bytes | None = None
        self._tests = 0
        self._pending: deque[dict[str, Any]] = deque()
        self._ready_seen = False
        self._results = 0  # results handed to the judge
        self._stopped = False
        self._finished = False
        self._server: _Server | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._replay_ready = False
        self._replay_results = 0  # results of the current server's stream to skip (already handed on)
        self._tried: set[str] = set()
        self._busy: set[str] = set()  # servers that answered 503: tried again after a pause
        self._failures: list[str] = []
        self._deadline = time.monotonic() + backend.admission_timeout_s

    def send(self, line: str) -> None:
        if self._body is None:
            job = json.loads(line)
            job.pop("limits", None)  # the server builds the supervisor's limits from ours and its own counts
            self._tests = len(job.get("tests") or [])
            self._body = json.dumps({"job": job, "limits": asdict(self.limits), "fresh": self.fresh}).encode()
            return
        if line == "stop":
            self._stopped = True
        elif line != "next":  # the server answers `next` itself, at once
            raise SandboxBroken(f"a remote sandbox takes only a job, next and stop, not {line[:40]!r}")

    def recv(self, timeout: float) -> dict[str, Any]:
        if self._finished:
            raise SandboxBroken("the judge server's stream already ended")
        if self._stopped and not (self.profile == "strict" and self._results >= self._tests):
            self._finished = True
            self._close_connection()  # the server stops at its next result
            return {"event": "done", "clean": True, "reason": "stopped by the judge"}
        while True:
            if self._pending:
                return self._take(self._pending.popleft())
            try:
                event = self._next_event(timeout)
            except _ServerFailed as exc:
                self._fail_over(str(exc))
                continue
            self._pending.extend(self._fresh_part(event))

    def _take(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event["event"]
        if kind == "ready":
            self._ready_seen = True
        elif kind in ("result", "runner_died"):
            self._results += 1
        elif kind == "batch":
            self._results += len(event["results"])
        elif kind == "done":
            self._finished = True
            self._close_connection(ok=True)
        return event

    def _fresh_part(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A rerun's events less what the judge has already had."""
        kind = event["event"]
        if kind == "ready" and self._replay_ready:
            self._replay_ready = False
            return []
        if kind in ("result", "runner_died") and self._replay_results > 0:
            self._replay_results -= 1
            return []
        if kind == "batch" and self._replay_results > 0:
            results = list(event["results"])
            skip = min(self._replay_results, len(results))
            self._replay_results -= skip
            return [{**event, "results": results[skip:]}] if results[skip:] else []
        if kind == "sandbox_error":
            if not self._ready_seen and not self._replay_ready:  # that server cannot sandbox now: another may
                self._fail_over(f"its sandbox failed before the program started: {event.get('error')}")
                return []
            self._finished = True
            self._close_connection(ok=True)
            raise SandboxBroken(f"judge server {self._server_url()}: {event.get('error')}")
        return [event]

    def _server_url(self) -> str:
        return self._server.url if self._server else "?"

    def _next_event(self, timeout: float) -> dict[str, Any]:
        if self._body is None:
            raise SandboxBroken("recv before the job was sent")
        if self._response is None:
            self._open()
        assert self._connection is not None and self._response is not None
        try:
            if self._connection.sock is not None:
                self._connection.sock.settimeout(timeout + MARGIN_S)
            line = self._response.readline(self.line_cap + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise _ServerFailed(f"{type(exc).__name__}: {exc}") from None
        if not line:
            raise _ServerFailed("the stream ended before the job's end")
        if len(line) > self.line_cap or not line.endswith(b"\n"):
            raise _ServerFailed(f"a line over {self.line_cap} bytes")
        try:
            event = json.loads(line)
        except ValueError:
            raise _ServerFailed(f"an unreadable line: {line[:100]!r}") from None
        if not isinstance(event, dict) or event.get("event") not in EVENTS:
            raise _ServerFailed(f"not a supervisor event: {line[:100]!r}")
        if event["event"] == "batch" and not (
            isinstance(event.get("results"), list) and all(isinstance(r, dict) for r in event["results"])
        ):
            raise _ServerFailed("a batch without results")
        return event

    def _open(self) -> None:
        server = self.backend.pick(self._tried)
        if server is None and self._busy and time.monotonic() < self._deadline:
            time.sleep(1.0)  # every server full or down, some only full: their queues move
            self._tried -= self._busy
            self._busy.clear()
            server = self.backend.pick(self._tried)
        if server is None:
            raise SandboxBroken("no judge server could run the program: " + "; ".join(self._failures[-6:]))
        self._tried.add(server.url)
        self._server = server
        headers = {**self.backend._headers(), "Content-Type": "application/json"}
        connection = server.connect(self.backend.admission_timeout_s)
        self._connection = connection
        try:
            connection.request("POST", server.base + "/v1/run", body=self._body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise _ServerFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status != 200:
            reason = response.read(4096).decode("utf-8", "replace").strip()
            if response.status == 503:
                self._busy.add(server.url)
            if response.status in (502, 503, 504):
                raise _ServerFailed(f"HTTP {response.status}: {reason}")
            # 400, 401, 413: every server of a pool would answer the same: the program's (or setup's) failure
            self._close_connection(ok=True)
            self._finished = True
            raise SandboxBroken(f"judge server {server.url} refused the program: HTTP {response.status}: {reason}")
        self._response = response

    def _fail_over(self, reason: str) -> None:
        url = self._server_url()
        self._failures.append(f"{url}: {reason}")
        log.warning("judge server %s failed a program (%s); running it elsewhere", url, reason)
        self._close_connection(ok=False)
        with self.backend._lock:
            self.backend.failovers += 1
        self._replay_ready, self._replay_results = self._ready_seen, self._results
        self._pending.clear()
        try:
            self._open()
        except _ServerFailed as exc:
            self._fail_over(str(exc))

    def _close_connection(self, ok: bool = False) -> None:
        if self._connection is not None:
            try:
                self._connection.close()  # the response's socket too
            except OSError:
                pass
        if self._server is not None:
            self.backend.finished(self._server, ok or self._stopped)
        self._connection, self._response, self._server = None, None, None

    def close(self) -> None:
        self._finished = True
        self._close_connection(ok=True)
