"""The judge as a service: `xcoder judge-server` runs programs for judges on other hosts, over HTTP.

Endpoints (all but /healthz need `Authorization: Bearer <token>` when the server has a token):
- `POST /v1/run`: one program with all its tests, the body `{"job": {...}, "limits": {...}, "fresh": bool}`
  (the job as the supervisor reads it, less its limits). The answer streams the supervisor's own
  events as JSON lines (`ready`, `result` / `batch`, `runner_died`, `done`), or ends with
  `{"event": "sandbox_error", "error": ...}` where the sandbox broke. A body over the size cap is a
  413, a missing or wrong token a 401, a request the server would have to queue beyond its queue a
  503 (the client tries another server).
- `GET /v1/info`: backend, profiles, the limit ceiling, slots. `GET /metrics`: Prometheus text.
- `GET /healthz`: `ok` and nothing else, without a token, for a kubelet's probes.

Design choices:
- Where programs run: the server uses the same backends as the local judge (`make_backend`), so a
  program meets the same sandbox whether judged here or there. In a container, bwrap needs to make
  namespaces and mounts there: `--cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt
  apparmor=unconfined` (Docker's default profile refuses unshare and mount) and `--security-opt
  systempaths=unconfined` (bwrap mounts a /proc of its own, which Docker's masked /proc paths forbid);
  and for a cgroup per sandbox (memory of the whole sandbox, CPU quota: without one a sandbox has only
  per-process rlimits) `--cgroupns private` with the cgroup mounts remounted read-write by the entry
  (as the containers of xcoder_assets_tests/sandbox/test_service.py; tried on cgroup v1). That weakens
  the outer container (CAP_SYS_ADMIN in the host's user namespace, /proc/sys writable): the untrusted
  program's boundary is bwrap's, exactly as on a host, and the container holds nothing but the server. The
  alternative, the docker backend through the host's daemon socket, keeps the program's container as
  strong as locally but hands the server process the daemon, that is root on the host: whoever takes
  the server takes the machine. We prefer bwrap in a privileged-for-namespaces container.
- Batching: one request per program with all its tests, many requests in flight per server (`jobs`
  run at once, `queue` more wait). The local judge's stop rules (first failing test, too many time
  limits) are the caller's: the server answers `next` to the supervisor at once and the client closes
  the connection when its judge says stop: the test already started then is stopped with its sandbox
  unless it ends within GONE_GRACE_S, its result is never read, and the verdicts are the same. A warm
  sandbox is reused exactly as locally; a `fresh` one (the RL reward's) serves one program only.
- Retries are safe: a run is pure (the run cache is content-addressed, runs.run_key), so a client
  whose server dies mid-program runs the program again elsewhere and skips the results it has.
- Trust: the server enforces its own limit ceiling, profiles and job fields (it builds the
  supervisor's limits itself); the client trusts a server for the runs' results only (lines capped,
  events checked) and sends it nothing but programs and tests. Nothing listens beyond loopback
  without a token: the server refuses such a bind.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

from aiohttp import web

from xcoder_assets.sandbox.backends import DEFAULT_IMAGE, Limits, SandboxBroken, make_backend

log = logging.getLogger(__name__)

TOKEN_ENV = "XCODER_JUDGE_TOKEN"
TOKEN_FILE_ENV = "XCODER_JUDGE_TOKEN_FILE"
MIN_TOKEN_CHARS = 16
PROFILES = ("strict", "lcb")
JOB_FIELDS = {"code": str, "mode": str, "func_name": (str, type(None)), "profile": str, "tests": list}
OPTIONAL_JOB_FIELDS = {"lcb_bad_outputs": bool}
# The most a client may ask for: well above every profile's limits (lcb: 6 s wall, 4 GiB), far below a host.
MAX_LIMITS = Limits(
    cpu_s=60.0,
    wall_s=120.0,
    memory_bytes=8 << 30,
    output_bytes=64 << 20,
    file_bytes=256 << 20,
    processes=256,
    stack_bytes=8 << 30,
    tmpfs_bytes=1 << 30,
)


class BadRequest(ValueError):
    """A request the server refuses (400), with the reason."""


def read_token(token_file: str | None = None) -> str | None:
    """The shared token: from `token_file`, else XCODER_JUDGE_TOKEN_FILE, else XCODER_JUDGE_TOKEN (never argv,
    which every user of the host can read in /proc)."""
    path = token_file or os.environ.get(TOKEN_FILE_ENV)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise ValueError(f"judge token file {path}: {exc.strerror}") from None
        if not token:
            raise ValueError(f"judge token file {path} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (a name is resolved: all its addresses must be)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


@dataclass(frozen=True)
class ServerSettings:
    """How a judge server runs; validated on creation."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    backend: str = "bwrap"
    image: str = DEFAULT_IMAGE
    jobs: int = field(default_factory=lambda: os.cpu_count() or 2)  # programs run at once
    queue: int = 64  # programs that may wait for a slot; more are refused with 503
    max_request_bytes: int = 64 << 20
    fresh_sandbox: bool = False  # every program in a new sandbox, whatever the client asks
    max_limits: Limits = MAX_LIMITS

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise ValueError(f"the judge token must have at least {MIN_TOKEN_CHARS} characters")
        if self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without a token: set {TOKEN_ENV} or {TOKEN_FILE_ENV} "
                "(without one the server binds 127.0.0.1 only)"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not a TCP port")
        if self.jobs < 1 or self.queue < 0:
            raise ValueError(f"jobs must be at least 1 and queue at least 0, not {self.jobs} and {self.queue}")
        if self.max_request_bytes < 1024:
            raise ValueError(f"max_request_bytes {self.max_request_bytes} is too small for any program")
        if self.backend.startswith(("http://", "https://")):
            raise ValueError("a judge server runs programs itself: its backend is bwrap, docker or none")


def parse_limits(raw: Any, ceiling: Limits) -> Limits:
    if not isinstance(raw, dict):
        raise BadRequest("limits: an object with the fields of Limits")
    names = {f.name for f in fields(Limits)}
    unknown = set(raw) - names
    if unknown:
        raise BadRequest(f"limits: unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name in names & set(raw):
        value, cap = raw[name], getattr(ceiling, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise BadRequest(f"limits.{name}: a positive number, not {value!r}")
        if value > cap:
            raise BadRequest(f"limits.{name}: {value} is over this server's ceiling {cap}")
        values[name] = int(value) if name not in ("cpu_s", "wall_s") else float(value)
    return Limits(**values)


def parse_job(raw: Any) -> dict[str, Any]:
    """The job fields the supervisor reads, each checked; anything else is refused."""
    if not isinstance(raw, dict):
        raise BadRequest("job: an object")
    unknown = set(raw) - set(JOB_FIELDS) - set(OPTIONAL_JOB_FIELDS)
    if unknown:
        raise BadRequest(f"job: unknown fields {sorted(unknown)}")
    for name, kind in JOB_FIELDS.items():
        if name not in raw:
            raise BadRequest(f"job.{name}: missing")
        if not isinstance(raw[name], kind):
            raise BadRequest(f"job.{name}: wrong type {type(raw[name]).__name__}")
    for name, kind in OPTIONAL_JOB_FIELDS.items():
        if name in raw and not isinstance(raw[name], kind):
            raise BadRequest(f"job.{name}: wrong type {type(raw[name]).__name__}")
    if raw["profile"] not in PROFILES:
        raise BadRequest(f"job.profile: {raw['profile']!r} is not one of {list(PROFILES)}")
    if raw["mode"] not in ("stdin", "functional") or (raw["mode"] == "functional") != bool(raw["func_name"]):
        raise BadRequest("job.mode: stdin, or functional with a func_name")
    if not raw["tests"] or not all(isinstance(t, str) for t in raw["tests"]):
        raise BadRequest("job.tests: a non-empty list of strings")
    return dict(raw)


class Metrics:
    """Counters for /metrics; one lock, cheap updates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}
        self.tests = 0
        self.busy_s = 0.0
        self.running = 0
        self.waiting = 0

    def count(self, name: str, label: str) -> None:
        with self._lock:
            self.counts[(name, label)] = self.counts.get((name, label), 0) + 1

    def add(self, tests: int, seconds: float) -> None:
        with self._lock:
            self.tests += tests
            self.busy_s += seconds

    def text(self, backend: Any) -> str:
        with self._lock:
            lines = [
                "# TYPE xcoder_judge_requests_total counter",
                *(
                    f'xcoder_judge_requests_total{{code="{label}"}} {n}'
                    for (name, label), n in sorted(self.counts.items())
                    if name == "requests"
                ),
                "# TYPE xcoder_judge_programs_total counter",
                *(
                    f'xcoder_judge_programs_total{{outcome="{label}"}} {n}'
                    for (name, label), n in sorted(self.counts.items())
                    if name == "programs"
                ),
                "# TYPE xcoder_judge_test_results_total counter",
                f"xcoder_judge_test_results_total {self.tests}",
                "# TYPE xcoder_judge_busy_seconds_total counter",
                f"xcoder_judge_busy_seconds_total {self.busy_s:.3f}",
                "# TYPE xcoder_judge_programs_running gauge",
                f"xcoder_judge_programs_running {self.running}",
                "# TYPE xcoder_judge_programs_waiting gauge",
                f"xcoder_judge_programs_waiting {self.waiting}",
                "# TYPE xcoder_judge_sandboxes_started_total counter",
                f"xcoder_judge_sandboxes_started_total {getattr(backend, 'started', 0)}",
            ]
        return "\n".join(lines) + "\n"


def serve_job(
    backend: Any,
    job: dict[str, Any],
    limits: Limits,
    fresh: bool,
    emit: Callable[[dict[str, Any]], None],
    gone: threading.Event,
) -> tuple[str, int]:
    """Run one program on its tests in one of `backend`'s sandboxes, handing every supervisor event to
    `emit` (which sets `gone` when the client left). Mirrors judge.run_program's side of the line
    protocol, with `next` answered at once until the client leaves. Returns (outcome, results)."""
    profile, tests = job["profile"], len(job["tests"])
    for attempt in range(2):
        session = backend.acquire(limits, profile, fresh=fresh or attempt > 0)
        healthy, started, results = False, False, 0
        try:
            session.send(json.dumps({**job, "limits": limits.for_supervisor(getattr(session, "nproc_base", 0))}))
            ready = session.recv(timeout=60)
            if ready.get("event") == "runner_died" and attempt == 0:
                healthy = bool(_done(session).get("clean"))
                continue  # as run_program: a sandbox whose runner died before the first test; a new one runs it
            started = True
            emit(ready)
            if ready.get("event") == "runner_died" or ready.get("compile_error"):
                done = _done(session)
                emit(done)
                healthy = bool(done.get("clean"))
                return "done", 0
            if profile == "lcb":
                stopped = False
                while True:
                    event = _recv(session, (limits.wall_s + 1) * tests + 35, gone)
                    if event.get("event") == "done":
                        emit(event)
                        healthy = bool(event.get("clean"))
                        return ("client_gone" if stopped else "done"), results
                    if stopped:
                        continue
                    results += len(event.get("results") or []) if event.get("event") == "batch" else 1
                    emit(event)
                    if event.get("event") == "runner_died":
                        stopped = True  # the supervisor ends the job itself
                    elif gone.is_set():
                        session.send("stop")
                        stopped = True
            for index in range(tests):
                event = _recv(session, limits.wall_s + 30, gone)
                results += 1
                emit(event)
                if event.get("event") == "runner_died":
                    break
                go_on = index + 1 < tests and not gone.is_set()
                session.send("next" if go_on else "stop")
                if not go_on:
                    break
            done = _done(session)
            emit(done)
            healthy = bool(done.get("clean"))
            return ("client_gone" if gone.is_set() else "done"), results
        except _ClientGone:
            return "client_gone", results  # unhealthy: release discards the sandbox, its test with it
        except SandboxBroken as exc:
            if not started and attempt == 0 and getattr(session, "jobs", 0) > 0:
                continue  # a reused sandbox that broke before the program started: a new one runs it
            emit({"event": "sandbox_error", "error": str(exc)})
            return "sandbox_error", results
        finally:
            # A sandbox asked fresh serves no one after: it would sit idle for good (fresh requests never
            # take an idle one) and carry this program's counters to a later one.
            backend.release(session, limits, healthy and not fresh, profile)
    emit({"event": "sandbox_error", "error": "no sandbox could run the program"})
    return "sandbox_error", 0


class _ClientGone(Exception):
    """The client left while a test ran: the sandbox is dropped rather than waited for (up to wall_s)."""


GONE_GRACE_S = 0.5  # a test that ends this soon after the client left keeps its (warm) sandbox


def _recv(session: Any, timeout: float, gone: threading.Event) -> dict[str, Any]:
    """session.recv, in slices: once the client has gone (its judge said stop), a test still running
    after GONE_GRACE_S is not waited for."""
    deadline = time.monotonic() + timeout
    gone_at = None
    while True:
        left = deadline - time.monotonic()
        try:
            return session.recv(timeout=max(0.05, min(0.25, left)))
        except SandboxBroken as exc:
            if "gave no answer" not in str(exc) or left <= 0.25:  # a real failure, or the real timeout
                raise
        if gone.is_set():
            gone_at = gone_at or time.monotonic()
            if time.monotonic() - gone_at > GONE_GRACE_S:
                raise _ClientGone()


def _done(session: Any) -> dict[str, Any]:
    done = session.recv(timeout=60)
    if done.get("event") != "done":
        raise SandboxBroken(f"the supervisor answered {str(done.get('event'))[:40]!r} where the job's end was due")
    return done


class JudgeServer:
    """The aiohttp application around one backend; `run_forever` or `start`/`stop` (tests)."""

    def __init__(self, settings: ServerSettings, backend: Any | None = None):
        self.settings = settings
        self.backend = backend or make_backend(settings.backend, image=settings.image)
        self.metrics = Metrics()
        self._executor = ThreadPoolExecutor(max_workers=settings.jobs + 4, thread_name_prefix="xcoder-judge-job")
        self._slots: asyncio.Semaphore | None = None
        self._token = settings.token.encode() if settings.token else None

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self._guard(request, handler)

        app = web.Application(client_max_size=settings.max_request_bytes, middlewares=[guard])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/v1/info", self._info)
        app.router.add_post("/v1/run", self._run)
        self.app = app
        self._runner: Any = None
        self.url = ""

    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/healthz" and self._token is not None:
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self._token):
                self.metrics.count("requests", "401")
                return web.json_response(
                    {"error": "a bearer token is required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
        if request.content_length is not None and request.content_length > self.settings.max_request_bytes:
            self.metrics.count("requests", "413")
            return web.json_response(
                {"error": f"request over {self.settings.max_request_bytes} bytes"}, status=413
            )  # refused before a byte of the body is read
        try:
            return await handler(request)
        except web.HTTPException as exc:
            self.metrics.count("requests", str(exc.status))
            raise

    async def _healthz(self, request: Any) -> Any:
        return web.Response(text="ok\n")

    async def _metrics(self, request: Any) -> Any:
        return web.Response(text=self.metrics.text(self.backend), content_type="text/plain")

    async def _info(self, request: Any) -> Any:
        return web.json_response(
            {
                "service": "xcoder-judge",
                "backend": getattr(self.backend, "name", "?"),
                "profiles": list(PROFILES),
                "max_limits": asdict(self.settings.max_limits),
                "jobs": self.settings.jobs,
                "queue": self.settings.queue,
                "fresh_sandbox": self.settings.fresh_sandbox,
            }
        )

    async def _run(self, request: Any) -> Any:
        body = await request.read()  # over client_max_size: aiohttp answers 413
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise BadRequest("the body: a JSON object")
            unknown = set(payload) - {"job", "limits", "fresh"}
            if unknown:
                raise BadRequest(f"unknown fields {sorted(unknown)}")
            job = parse_job(payload.get("job"))
            limits = parse_limits(payload.get("limits"), self.settings.max_limits)
            fresh = payload.get("fresh", False)
            if not isinstance(fresh, bool):
                raise BadRequest("fresh: true or false")
        except (ValueError, BadRequest) as exc:
            self.metrics.count("requests", "400")
            return web.json_response({"error": str(exc)}, status=400)
        assert self._slots is not None
        if self.metrics.waiting >= self.settings.queue and self._slots.locked():
            self.metrics.count("requests", "503")
            return web.json_response(
                {"error": "every slot busy and the queue full"}, status=503, headers={"Retry-After": "1"}
            )
        self.metrics.waiting += 1  # only the event loop's thread changes waiting and running
        try:
            await self._slots.acquire()
        finally:
            self.metrics.waiting -= 1
        self.metrics.running += 1
        try:
            return await self._stream(request, job, limits, fresh or self.settings.fresh_sandbox)
        finally:
            self.metrics.running -= 1
            self._slots.release()

    async def _stream(self, request: Any, job: dict[str, Any], limits: Limits, fresh: bool) -> Any:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        gone = threading.Event()

        def emit(event: dict[str, Any]) -> None:
            if gone.is_set():
                return
            line = json.dumps(event).encode() + b"\n"
            try:  # one event in flight: memory stays bounded whatever the client's pace
                asyncio.run_coroutine_threadsafe(response.write(line), loop).result(timeout=limits.wall_s + 120)
            except Exception:  # the client closed the connection: its judge said stop, or it died
                gone.set()

        async def watch() -> None:  # the client's judge says stop by closing the connection
            while not gone.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    gone.set()
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        try:
            outcome, results = await loop.run_in_executor(
                self._executor, serve_job, self.backend, job, limits, fresh, emit, gone
            )
        except asyncio.CancelledError:
            gone.set()  # the job's thread stops at its next result and hands the sandbox back
            raise
        except Exception as exc:  # a backend that cannot start a sandbox: the client's failure to see
            log.exception("judge-server: the job failed")
            outcome, results = "sandbox_error", 0
            emit({"event": "sandbox_error", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            watcher.cancel()
        self.metrics.add(results, time.perf_counter() - started)
        self.metrics.count("programs", outcome)
        self.metrics.count("requests", "200")
        if not gone.is_set():
            try:
                await response.write_eof()
            except Exception:
                pass
        return response

    async def start(self) -> str:
        self._slots = asyncio.Semaphore(self.settings.jobs)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        host, port = site._server.sockets[0].getsockname()[:2]  # the port bound, where 0 asked for any
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.backend.close()


def run_forever(settings: ServerSettings, announce: Callable[[str], None] = print) -> None:
    """Serve until SIGTERM or SIGINT; the sandboxes go with the server."""

    async def main() -> None:
        server = JudgeServer(settings)
        url = await server.start()
        announce(
            f"xcoder judge-server listening on {url} (backend {getattr(server.backend, 'name', '?')}, "
            f"{settings.jobs} jobs, token {'required' if settings.token else 'not set: loopback only'})"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()

    asyncio.run(main())
