"""Host-wide allocation of sandbox uids: no two live sandboxes on a host share one.

Per-uid kernel state (RLIMIT_NPROC counts, key quotas, the user keyring, who may signal whom) is
shared by every process of a uid, so each live sandbox needs a uid of its own, across every judge
process on the machine (a schedule and a UI launch judging at once). A uid is held by an exclusive
`flock` on `<lock dir>/<uid>.lock` for the sandbox's life: the kernel drops the lock when the holder
closes it or dies, so a crashed judge never leaks a uid.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
from pathlib import Path

UID_BASE = 61000
UID_COUNT = 4096  # 61000..65095: below 65534 (nobody) and the 65536 a default user namespace maps


class NoFreeUid(RuntimeError):
    pass


def lock_dir() -> Path:
    """One directory for the whole host: /run when we may write there (root), else the temp dir."""
    configured = os.environ.get("XCODER_SANDBOX_UID_DIR")
    if configured:
        return Path(configured)
    if os.access("/run", os.W_OK):
        return Path("/run/xcoder-sandbox/uids")
    return Path(tempfile.gettempdir()) / f"xcoder-sandbox-uids-{os.geteuid()}"


def processes_of(uid: int) -> int:
    """Live processes of a host uid (what RLIMIT_NPROC counts for it)."""
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


class UidLease:
    """One uid, held until `release()` (or the process's death)."""

    def __init__(self, uid: int, fd: int):
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # closing the only descriptor of the open file drops the flock


class UidAllocator:
    def __init__(self, base: int = UID_BASE, count: int = UID_COUNT, directory: Path | None = None):
        self.base, self.count = base, count
        self.directory = directory or lock_dir()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        self._next = os.getpid() % count  # spread judges over the range: fewer lock attempts each
        self._lock = threading.Lock()

    def acquire(self) -> UidLease:
        with self._lock:
            start = self._next
            for step in range(self.count):
                offset = (start + step) % self.count
                uid = self.base + offset
                fd = os.open(self.directory / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    os.close(fd)
                    if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                        continue
                    raise
                if processes_of(uid):  # left by something that never held our lock: not ours to share
                    os.close(fd)
                    continue
                self._next = (offset + 1) % self.count
                return UidLease(uid, fd)
        raise NoFreeUid(f"all {self.count} sandbox uids from {self.base} are in use on this host")


_ALLOCATOR: UidAllocator | None = None
_ALLOCATOR_LOCK = threading.Lock()


def allocator() -> UidAllocator:
    global _ALLOCATOR
    with _ALLOCATOR_LOCK:
        if _ALLOCATOR is None:
            _ALLOCATOR = UidAllocator()
        return _ALLOCATOR
