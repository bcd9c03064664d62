"""Sandbox backends: where the supervisor runs. All three speak the same line protocol.

- `bwrap` (default): bubblewrap with every namespace unshared (no network) and nested user
  namespaces disabled, the supervisor as PID 1 of its own PID namespace, a read-only root with a
  read-only view of /usr only, read-only /dev, one size- and inode-capped tmpfs behind /tmp and
  /dev/shm, a seccomp filter (seccomp.py), a fresh session keyring, a clean environment and a new
  session; when the host runs as root, a uid of its own on the host (uids.py) and a cgroup of its
  own (cgroups.py: memory, CPU quota and accounting, pids).
- `docker`: the same supervisor in a container with no network, a memory, CPU and pids limit, a
  read-only root, an inode-capped tmpfs, a uid of its own, no capabilities; the image is a setting.

Every sandbox serves one program at a time and is wiped by its supervisor before it is handed back;
`fresh_sandbox=True` gives every program a new one instead (for adversarial uses such as RL rewards).
- `none`: a plain subprocess with rlimits only. Refused unless explicitly allowed, and loudly logged:
  it gives the program the host's filesystem and network.
"""

from __future__ import annotations

import atexit
import ctypes
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

from xcoder_assets.sandbox import cgroups, seccomp
from xcoder_assets.sandbox.uids import allocator, processes_of

SUPERVISOR_SOURCE = (Path(__file__).parent / "supervisor.py").read_text(encoding="utf-8")
DEFAULT_IMAGE = "xcoder-sandbox:bookworm"
SANDBOX_CPUS = 1.0  # CPU quota per sandbox: a program's processes together get at most one core
TMPFS_INODES = 16384  # files and directories a program may create in /tmp and /dev/shm together
log = logging.getLogger(__name__)
# Our seccomp policy replaces Docker's default profile; on an architecture it does not know, Docker's stays.
DOCKER_SECURITY = ["no-new-privileges"] + ([f"seccomp={seccomp.docker_profile()}"] if seccomp.supported() else [])


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

    @property
    def sandbox_memory_bytes(self) -> int:
        """The whole sandbox's memory (cgroup or container): a test's address space, the tmpfs, the supervisor."""
        return (self.memory_bytes or (1 << 30)) + self.tmpfs_bytes + (256 << 20)

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
    wiped by its supervisor before it is handed back (a sandbox whose wipe failed, or that broke, is
    never reused), and each is replaced after `recycle_after` programs. Sandboxes are pooled per
    (limits, profile): the supervisor warms the profile's imports once, before any job."""

    recycle_after = 256

    def _pool_init(self, fresh_sandbox: bool = False) -> None:
        self._idle: dict[tuple[Limits, str], list[Any]] = {}
        self._pool_lock = threading.Lock()
        self._live: set[Any] = set()
        self.fresh_sandbox = fresh_sandbox
        if fresh_sandbox:
            self.recycle_after = 1
        self.used_uids: set[int] = set()  # every host uid this backend's sandboxes ran under
        self.started = 0  # sandboxes started (a warm sandbox serves many programs)

    def acquire(self, limits: Limits, profile: str = "strict", fresh: bool = False) -> Any:
        if not fresh:
            with self._pool_lock:
                idle = self._idle.get((limits, profile))
                if idle:
                    return idle.pop()
        session = self.start(limits, profile)
        session.jobs = 0
        with self._pool_lock:
            self.started += 1
            self._live.add(session)
            if getattr(session, "uid", None) is not None:
                self.used_uids.add(session.uid)
        return session

    def release(self, session: Any, limits: Limits, healthy: bool, profile: str = "strict") -> None:
        session.jobs += 1
        if healthy and session.jobs < self.recycle_after:
            with self._pool_lock:
                self._idle.setdefault((limits, profile), []).append(session)
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

    def __init__(
        self,
        argv: list[str],
        preexec=None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        pass_fds: tuple[int, ...] = (),
    ):
        self.process = spawn(
            lambda: subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env if env is not None else {},
                cwd=cwd,
                preexec_fn=preexec,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        )
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


_LIBC = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS, _MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 0x00020000, 2, 4, 16384, 1 << 18
_KEYCTL_JOIN_SESSION_KEYRING = 1
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
SCRATCH_ROOT = "/tmp"  # in the sandbox's own mount namespace only: the host's /tmp is not touched


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _private_scratch(size: int, inodes: int) -> None:
    """In the child before exec, as root: a mount namespace of its own with one tmpfs (size and inode
    capped) at SCRATCH_ROOT, whose `tmp` and `shm` become the sandbox's /tmp and /dev/shm. It lives
    as long as the sandbox's processes and is never visible to the host."""
    _check(_LIBC.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_LIBC.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    options = f"size={size},nr_inodes={inodes},mode=0755".encode()
    _check(_LIBC.mount(b"tmpfs", SCRATCH_ROOT.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "mount tmpfs")
    for name in ("tmp", "shm"):
        path = os.path.join(SCRATCH_ROOT, name)
        os.mkdir(path)
        os.chmod(path, 0o1777)  # root-owned and sticky: the program cannot chmod it shut for the next one


def _new_session_keyring() -> None:
    number = _SYS_KEYCTL.get(os.uname().machine)
    if number is not None:
        _LIBC.syscall(number, _KEYCTL_JOIN_SESSION_KEYRING, None)  # best effort: seccomp refuses keyrings anyway


class BwrapBackend(PooledBackend):
    name = "bwrap"

    def __init__(self, python: str = "/usr/bin/python3", bwrap: str | None = None, fresh_sandbox: bool = False):
        self._pool_init(fresh_sandbox)
        self.bwrap = bwrap or shutil.which("bwrap")
        self.python = python
        if not self.bwrap:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        if not Path(python).exists():
            raise SandboxUnavailable(f"the sandbox interpreter {python} does not exist: apt-get install python3")
        self.as_root = os.geteuid() == 0
        self.cgroups, self.cgroup_note = cgroups.host_setup()
        if self.cgroups is None:
            log.info(
                "bwrap sandboxes without a cgroup each (%s): memory is per process, CPU time per "
                "process tree as rusage reports it",
                self.cgroup_note,
            )
        if not seccomp.supported():
            log.warning(
                "no seccomp filter for %s: keyrings, sockets and other processes are not guarded", os.uname().machine
            )

    def argv(self, limits: Limits, profile: str, seccomp_fd: int | None, binds: list[tuple[str, str]]) -> list[str]:
        argv = [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--as-pid-1",
        ]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        argv += [
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
        ]
        if Path("/usr/lib64").exists():
            argv += ["--symlink", "usr/lib64", "/lib64"]
        if Path("/etc/ld.so.cache").exists():
            argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        if self.as_root:
            argv += ["--bind", f"{SCRATCH_ROOT}/tmp", "/tmp", "--bind", f"{SCRATCH_ROOT}/shm", "/dev/shm"]
        else:
            argv += [
                "--size",
                str(limits.tmpfs_bytes),
                "--tmpfs",
                "/tmp",
                "--size",
                str(limits.tmpfs_bytes),
                "--tmpfs",
                "/dev/shm",
            ]
        argv += ["--mqueue", "/dev/mqueue"]
        for host_path, sandbox_path in binds:
            argv += ["--ro-bind", host_path, sandbox_path]
        argv += [
            "--remount-ro",
            "/dev",
            "--remount-ro",
            "/",
            "--chdir",
            "/tmp",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "HOME",
            "/tmp",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "PYTHONDONTWRITEBYTECODE",
            "1",
            "--hostname",
            "sandbox",
            self.python,
            "-I",
            "-c",
            SUPERVISOR_SOURCE,
            profile,
        ]
        return argv

    def start(self, limits: Limits, profile: str = "strict") -> "BwrapSession":
        lease = allocator().acquire() if self.as_root else None
        uid = lease.uid if lease else os.geteuid()
        group = None
        seccomp_fd = seccomp.program_fd() if seccomp.supported() else None
        try:
            if self.cgroups is not None:
                group = cgroups.SandboxCgroup(
                    self.cgroups, f"uid-{uid}", limits.sandbox_memory_bytes, SANDBOX_CPUS, limits.processes + 8
                )
            procs_files = group.procs_files() if group else []
            as_root, size = self.as_root, limits.tmpfs_bytes

            def preexec() -> None:
                cgroups.join(procs_files)
                if as_root:
                    _private_scratch(size, TMPFS_INODES)
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
                _new_session_keyring()

            nproc_base = 0 if lease else processes_of(uid)
            session = BwrapSession(
                self.argv(limits, profile, seccomp_fd, group.binds() if group else []),
                preexec=preexec,
                cwd="/",
                pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            if group is not None:
                group.close()
            if lease is not None:
                lease.release()
            raise SandboxUnavailable(f"bwrap could not start: {exc}") from None
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        session.nproc_base = nproc_base
        session.uid = uid if lease else None
        session.cgroup = group
        session.lease = lease
        return session


class BwrapSession(_PipeSession):
    nproc_base = 0
    uid: int | None = None
    cgroup: Any = None
    lease: Any = None

    def close(self) -> None:
        super().close()
        if self.cgroup is not None:
            self.cgroup.close()
        if self.lease is not None:
            self.lease.release()  # only now: no process of the uid is left


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

    def start(self, limits: Limits, profile: str = "strict") -> _PipeSession:
        tmp = tempfile.mkdtemp(prefix="xcoder-none-")
        session = _PipeSession(
            [self.python, "-I", "-c", SUPERVISOR_SOURCE, profile],
            env={"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"},
            cwd=tmp,
        )
        session.nproc_base = processes_of(os.geteuid())
        original_close = session.close

        def close() -> None:
            original_close()
            shutil.rmtree(tmp, ignore_errors=True)

        session.close = close
        return session


class DockerBackend(PooledBackend):
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, python: str = "/usr/bin/python3", fresh_sandbox: bool = False):
        self._pool_init(fresh_sandbox)
        atexit.register(self.close)  # containers outlive a dying client otherwise
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a dependency
            raise SandboxUnavailable(f"the docker package is not installed: {exc}") from None
        try:
            self.client = docker.from_env(timeout=60)
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(
                f"no Docker engine reachable ({exc}); start dockerd or use --sandbox bwrap"
            ) from None
        try:
            self.client.images.get(image)
        except Exception:
            raise SandboxUnavailable(
                f"sandbox image {image!r} not found: run `make sandbox-image` or set the image "
                "to any image with python3"
            ) from None
        self.image, self.python = image, python

    def start(self, limits: Limits, profile: str = "strict") -> "DockerSession":
        lease = allocator().acquire()
        try:
            container = self.client.containers.create(
                self.image,
                [self.python, "-I", "-c", SUPERVISOR_SOURCE, profile],
                stdin_open=True,
                tty=False,
                user=f"{lease.uid}:{lease.uid}",
                working_dir="/tmp",
                environment={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"size={limits.tmpfs_bytes},nr_inodes={TMPFS_INODES},mode=1777"},
                shm_size=limits.tmpfs_bytes,
                mem_limit=limits.sandbox_memory_bytes,
                memswap_limit=limits.sandbox_memory_bytes,
                nano_cpus=int(SANDBOX_CPUS * 1e9),
                pids_limit=limits.processes + 8,
                cap_drop=["ALL"],
                security_opt=DOCKER_SECURITY,
                ipc_mode="private",
                hostname="sandbox",
                labels={"xcoder-sandbox": "1"},
                auto_remove=True,
            )
        except Exception:
            lease.release()
            raise
        try:
            session = DockerSession(container)
        except Exception:
            container.remove(force=True)
            lease.release()
            raise
        session.uid, session.lease = lease.uid, lease
        return session


class DockerSession:
    nproc_base = 0  # the container's uid is its own on the host: RLIMIT_NPROC counts only its processes
    uid: int | None = None
    lease: Any = None

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
        if self.lease is not None:
            self.lease.release()


def make_backend(
    name: str,
    *,
    image: str = DEFAULT_IMAGE,
    allow_unsafe: bool = False,
    python: str = "/usr/bin/python3",
    fresh_sandbox: bool = False,
):
    if name.startswith(("http://", "https://")):  # judge servers (service.py): comma-separated, or a load balancer
        from xcoder_assets.sandbox.remote import RemoteBackend

        return RemoteBackend(name.split(","), fresh_sandbox=fresh_sandbox)
    if name == "bwrap":
        return BwrapBackend(python=python, fresh_sandbox=fresh_sandbox)
    if name == "docker":
        return DockerBackend(image=image, python=python, fresh_sandbox=fresh_sandbox)
    if name == "none":
        return NoneBackend(python=python, allow_unsafe=allow_unsafe)
    raise ValueError(f"unknown sandbox {name!r}: choose bwrap, docker, none or http(s)://judge-server[,...]")
