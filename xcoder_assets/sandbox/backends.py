"""Sandbox backends: where the supervisor runs. All three speak the same line protocol.

- `bwrap` (default): bubblewrap with every namespace unshared (no network), the supervisor as PID 1
  of its own PID namespace, a read-only view of /usr only, a private size-limited tmpfs, a clean
  environment and a new session; when the host runs as root the sandbox runs under an unprivileged
  uid of its own (so RLIMIT_NPROC binds and no host file is writable).
- `docker`: the same supervisor in a container with no network, a memory and pids limit, a
  read-only root, a tmpfs, a non-root user, no capabilities; the image is a setting.
- `none`: a plain subprocess with rlimits only. Refused unless explicitly allowed, and loudly logged:
  it gives the program the host's filesystem and network.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SUPERVISOR_SOURCE = (Path(__file__).parent / "supervisor.py").read_text(encoding="utf-8")
DEFAULT_IMAGE = "xcoder-sandbox:bookworm"
SANDBOX_UID_BASE = 61000  # host uids used for sandboxes when the judge runs as root (one per slot)
log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """The requested backend cannot run on this machine (missing binary, daemon, image)."""


class SandboxBroken(RuntimeError):
    """The sandbox died or stopped answering mid-batch: a sandbox failure, never a pass."""


@dataclass(frozen=True)
class Limits:
    cpu_s: float = 2.0
    wall_s: float = 6.0
    memory_bytes: int | None = 1 << 30  # address space per test process
    output_bytes: int = 8 << 20
    file_bytes: int = 16 << 20
    processes: int = 32
    stack_bytes: int | None = 256 << 20
    tmpfs_bytes: int = 64 << 20

    def for_supervisor(self, nproc_base: int = 0) -> dict[str, Any]:
        return {
            "cpu_s": self.cpu_s,
            "wall_s": self.wall_s,
            "memory_bytes": self.memory_bytes,
            "output_bytes": self.output_bytes,
            "file_bytes": self.file_bytes,
            "processes": self.processes + nproc_base,
            "stack_bytes": self.stack_bytes,
        }


class Session(Protocol):
    def send(self, line: str) -> None: ...
    def recv(self, timeout: float) -> dict[str, Any]: ...
    def close(self) -> None: ...


class PooledBackend:
    """Keeps started sandboxes warm between programs: a sandbox serves one program at a time and is
    wiped between programs by its supervisor; a broken one is never reused, and each is replaced
    after `recycle_after` programs."""

    recycle_after = 256

    def _pool_init(self) -> None:
        self._idle: dict[Limits, list[Any]] = {}
        self._pool_lock = threading.Lock()
        self._live: set[Any] = set()

    def acquire(self, limits: Limits) -> Any:
        with self._pool_lock:
            idle = self._idle.get(limits)
            if idle:
                return idle.pop()
        session = self.start(limits)
        session.jobs = 0
        with self._pool_lock:
            self._live.add(session)
        return session

    def release(self, session: Any, limits: Limits, healthy: bool) -> None:
        session.jobs += 1
        if healthy and session.jobs < self.recycle_after:
            with self._pool_lock:
                self._idle.setdefault(limits, []).append(session)
            return
        self._discard(session)

    def _discard(self, session: Any) -> None:
        with self._pool_lock:
            self._live.discard(session)
        session.close()

    def close(self) -> None:
        """Stop every sandbox of this backend."""
        with self._pool_lock:
            sessions = list(self._live)
            self._live.clear()
            self._idle.clear()
        for session in sessions:
            session.close()

    def __enter__(self) -> "PooledBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Spawner:
    """Starts sandbox processes from one long-lived thread.

    bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that started the
    process exits: a sandbox started from a short-lived worker thread would be killed with it (and a
    warm one in the pool would die idle). Started from here, sandboxes die only with this process.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, name="xcoder-sandbox-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, box, done = self._requests.get()
            try:
                box.append((True, function()))
            except BaseException as exc:  # handed back to the caller
                box.append((False, exc))
            done.set()

    def call(self, function: Any) -> Any:
        box: list = []
        done = threading.Event()
        self._requests.put((function, box, done))
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value


_SPAWNER: _Spawner | None = None
_SPAWNER_LOCK = threading.Lock()


def spawn(function: Any) -> Any:
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = _Spawner()
    return _SPAWNER.call(function)


class _PipeSession:
    """A supervisor process reached through its stdin/stdout pipes."""

    def __init__(self, argv: list[str], preexec=None, env: dict[str, str] | None = None, cwd: str | None = None):
        self.process = spawn(lambda: subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env if env is not None else {}, cwd=cwd, preexec_fn=preexec, start_new_session=True,
        ))
        self._lines: queue.Queue = queue.Queue()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(line)
        self._lines.put(None)

    def _read_err(self) -> None:
        total = 0
        with self.process.stderr:
            for chunk in self.process.stderr:
                if total < 16384:
                    self._stderr.append(chunk)
                    total += len(chunk)

    def send(self, line: str) -> None:
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise SandboxBroken(f"sandbox stopped reading: {exc}; {self.stderr_tail()}") from None

    def recv(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SandboxBroken(f"sandbox gave no answer in {timeout:.0f} s") from None
        if line is None:
            self.process.wait(timeout=5)
            raise SandboxBroken(f"sandbox exited (status {self.process.returncode}); {self.stderr_tail()}")
        try:
            return json.loads(line)
        except ValueError:
            raise SandboxBroken(f"sandbox wrote an unreadable line: {line[:200]!r}") from None

    def stderr_tail(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace").strip()[-500:] or "no stderr"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        try:
            self.process.stdin.close()  # the reader threads close stdout/stderr when they reach EOF
        except OSError:
            pass


def _processes_of_uid(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        count += int(line.split()[1]) == uid
                        break
        except OSError:
            continue
    return count


class BwrapBackend(PooledBackend):
    name = "bwrap"

    def __init__(self, python: str = "/usr/bin/python3", bwrap: str | None = None):
        self._pool_init()
        self.bwrap = bwrap or shutil.which("bwrap")
        self.python = python
        if not self.bwrap:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        if not Path(python).exists():
            raise SandboxUnavailable(f"the sandbox interpreter {python} does not exist: apt-get install python3")
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(256):
            self._slots.put(slot)
        self.as_root = os.geteuid() == 0

    def argv(self, limits: Limits) -> list[str]:
        argv = [
            self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--as-pid-1",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
        ]
        if Path("/usr/lib64").exists():
            argv += ["--symlink", "usr/lib64", "/lib64"]
        if Path("/etc/ld.so.cache").exists():
            argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        argv += [
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--chdir", "/tmp", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--hostname", "sandbox",
            self.python, "-I", "-c", SUPERVISOR_SOURCE,
        ]
        return argv

    def start(self, limits: Limits) -> "BwrapSession":
        slot = self._slots.get()
        uid = SANDBOX_UID_BASE + slot
        if self.as_root:
            nproc_base = _processes_of_uid(uid)  # normally 0: the uid is the slot's own

            def preexec() -> None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
        else:
            nproc_base = _processes_of_uid(os.geteuid())
            preexec = None
        try:
            session = BwrapSession(self.argv(limits), preexec=preexec, cwd="/")
        except OSError as exc:
            self._slots.put(slot)
            raise SandboxUnavailable(f"bwrap could not start: {exc}") from None
        session.nproc_base = nproc_base
        session.release = lambda: self._slots.put(slot)
        return session


class BwrapSession(_PipeSession):
    nproc_base = 0
    release = staticmethod(lambda: None)

    def close(self) -> None:
        super().close()
        self.release()


class NoneBackend(PooledBackend):
    """No isolation: a subprocess with rlimits. Only for machines where neither bwrap nor docker runs."""

    name = "none"
    recycle_after = 1  # no PID namespace to clean up with: a fresh process for every program

    def __init__(self, python: str = "/usr/bin/python3", allow_unsafe: bool = False):
        self._pool_init()
        if not allow_unsafe:
            raise SandboxUnavailable(
                "sandbox 'none' runs untrusted programs with the host's files and network; "
                "pass allow_unsafe (--allow-unsafe-sandbox) to use it anyway"
            )
        self.python = python if Path(python).exists() else shutil.which("python3")
        log.warning("SANDBOX 'none': untrusted programs run WITHOUT isolation (host files and network reachable)")

    def start(self, limits: Limits) -> _PipeSession:
        tmp = tempfile.mkdtemp(prefix="xcoder-none-")
        session = _PipeSession([self.python, "-I", "-c", SUPERVISOR_SOURCE],
                               env={"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}, cwd=tmp)
        session.nproc_base = _processes_of_uid(os.geteuid())
        original_close = session.close

        def close() -> None:
            original_close()
            shutil.rmtree(tmp, ignore_errors=True)

        session.close = close
        return session


class DockerBackend(PooledBackend):
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, python: str = "/usr/bin/python3"):
        self._pool_init()
        atexit.register(self.close)  # containers outlive a dying client otherwise
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a dependency
            raise SandboxUnavailable(f"the docker package is not installed: {exc}") from None
        try:
            self.client = docker.from_env(timeout=60)
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(f"no Docker engine reachable ({exc}); start dockerd or use --sandbox bwrap") from None
        try:
            self.client.images.get(image)
        except Exception:
            raise SandboxUnavailable(f"sandbox image {image!r} not found: run `make sandbox-image` or set the image "
                                     "to any image with python3") from None
        self.image, self.python = image, python

    def start(self, limits: Limits) -> "DockerSession":
        container = self.client.containers.create(
            self.image,
            [self.python, "-I", "-c", SUPERVISOR_SOURCE],
            stdin_open=True, tty=False, user="65534:65534", working_dir="/tmp",
            environment={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
            network_mode="none", read_only=True,
            tmpfs={"/tmp": f"size={limits.tmpfs_bytes},mode=1777"},
            mem_limit=(limits.memory_bytes or (1 << 30)) + (256 << 20), memswap_limit=(limits.memory_bytes or (1 << 30)) + (256 << 20),
            pids_limit=limits.processes + 8, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            ipc_mode="private", hostname="sandbox", labels={"xcoder-sandbox": "1"}, auto_remove=True,
        )
        try:
            return DockerSession(container)
        except Exception:
            container.remove(force=True)
            raise


class DockerSession:
    # Containers share uid 65534, so RLIMIT_NPROC would count other containers' processes: the
    # cgroup pids limit bounds processes per container instead.
    nproc_base = 4096

    def __init__(self, container: Any):
        self.container = container
        self.socket = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        self._raw = self.socket._sock
        container.start()
        self._lines: queue.Queue = queue.Queue()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                header = self._recv_exact(8)
                if header is None:
                    break
                stream, size = header[0], struct.unpack(">I", header[4:])[0]
                payload = self._recv_exact(size) or b""
                if stream == 2:
                    if sum(map(len, self._stderr)) < 16384:
                        self._stderr.append(payload)
                    continue
                buffer += payload
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._lines.put(line)
        except OSError:
            pass
        self._lines.put(None)

    def _recv_exact(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self._raw.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def send(self, line: str) -> None:
        try:
            self._raw.sendall(line.encode() + b"\n")
        except OSError as exc:
            raise SandboxBroken(f"container stopped reading: {exc}") from None

    def recv(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SandboxBroken(f"container gave no answer in {timeout:.0f} s") from None
        if line is None:
            tail = b"".join(self._stderr).decode("utf-8", "replace")[-500:]
            raise SandboxBroken(f"container exited; {tail or 'no stderr'}")
        try:
            return json.loads(line)
        except ValueError:
            raise SandboxBroken(f"container wrote an unreadable line: {line[:200]!r}") from None

    def close(self) -> None:
        try:
            self.socket.close()
        except OSError:
            pass
        try:
            self.container.remove(force=True)
        except Exception as exc:  # already gone
            log.debug("container removal: %s", exc)


def make_backend(name: str, *, image: str = DEFAULT_IMAGE, allow_unsafe: bool = False, python: str = "/usr/bin/python3"):
    if name == "bwrap":
        return BwrapBackend(python=python)
    if name == "docker":
        return DockerBackend(image=image, python=python)
    if name == "none":
        return NoneBackend(python=python, allow_unsafe=allow_unsafe)
    raise ValueError(f"unknown sandbox {name!r}: choose bwrap, docker or none")
