"""The in-sandbox supervisor: runs one program on a batch of test inputs, each in a fresh process.

This file is executed *inside* the sandbox by the sandbox's own `python3` (stdlib only, no import
of xcoder_assets): the host passes its source with `python3 -c SOURCE PROFILE`.

Two levels, so that no program ever runs in memory that held another program's data:
- the parent (PID 1 of the sandbox's PID namespace) warms the interpreter and the profile's imports
  once, and never reads a job: for each job it forks a *job runner* from that clean state and
  waits for it (if a program killed the runner, the parent cleans up, wipes and reports);
- the job runner warms up, reads one JSON job line, compiles the program, and for each test forks a child,
  applies that child's limits, feeds it the input, collects its output and CPU time (of the whole
  process tree: the sandbox's cgroup counter where there is one) and writes one JSON result line,
  then waits for the host's `next` or `stop`. After the job it wipes the sandbox (files, IPC
  objects), reports `done` with whether the wipe succeeded (the host discards a sandbox that is not
  clean) and exits, so its memory (the job's code, inputs, outputs; a checker job's expected
  answers) is gone before the next runner is forked to read the next job.
The host compares outputs: expected answers enter a sandbox only in a checker job.

As PID 1 the parent cannot be killed by the programs, and `kill(-1, SIGKILL)` ends every process a
test left behind. A program can kill its job runner; the parent then reports `runner_died` and the
host counts it against that program. Without a PID namespace (the unsafe `none` backend) process
groups are killed instead.
"""

import builtins
import gc
import io
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

MAX_FD = 1024

# The official LiveCodeBench harness puts this block in front of every program (profile lcb).
LCB_IMPORTS = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)


IDLE_EXIT_S = 600  # a sandbox nobody talks to for this long ends itself (its client may have died)
EXIT_HOST_GONE = 3  # the job runner's exit code when the host closed the pipe or went quiet
PR_SET_CHILD_SUBREAPER = 36
CPU_FILES = ("/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage",
             "/sys/fs/cgroup/cpu.stat")
OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")
SCRATCH_ROOTS = (("/tmp", 0o1777), ("/dev/shm", 0o1777), ("/dev/mqueue", None))


class LineReader:
    """Lines from the host on fd 0, with a timeout (sys.stdin's buffering would hide pending data)."""

    def __init__(self, fd=0):
        self.fd, self.buffer = fd, b""

    def readline(self, timeout=IDLE_EXIT_S):
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            data = os.read(self.fd, 1 << 20)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8")


HOST = LineReader()


_LIBC = []


def libc():
    """The C library through ctypes, loaded once in the parent (every runner inherits it)."""
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def emit(record):
    sys.__stdout__.write(json.dumps(record) + "\n")
    sys.__stdout__.flush()


def undumpable():
    """Forbid ptrace and /proc/<pid>/mem access to this process by the programs it runs (same uid)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:  # an image without ctypes: PID 1 of a namespace still cannot be killed by its children
        pass


# ---- the sandbox's cgroup counters (where the host gave it one) ---------------------------------

def _first_existing(paths):
    for path in paths:
        if os.path.exists(path):
            return path
    return None


CPU_FILE = _first_existing(CPU_FILES)
OOM_FILE = _first_existing(OOM_FILES)


def _open_counter(path):
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC) if path else None
    except OSError:
        return None


# Kept open and read with pread: a test costs two reads, not two opens (test processes close them).
CPU_FD, OOM_FD = _open_counter(CPU_FILE), _open_counter(OOM_FILE)


def _read_counter(fd):
    try:
        return os.pread(fd, 4096, 0).decode()
    except OSError:
        return ""


def sandbox_cpu_s():
    """CPU seconds used by every process of the sandbox so far (None: no counter)."""
    if CPU_FD is None:
        return None
    text = _read_counter(CPU_FD)
    if CPU_FILE.endswith("cpu.stat"):
        for line in text.splitlines():
            if line.startswith("usage_usec"):
                return int(line.split()[1]) / 1e6
        return None
    return int(text.strip() or 0) / 1e9


def sandbox_oom_kills():
    if OOM_FD is None:
        return 0
    for line in _read_counter(OOM_FD).splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


OOM_SEEN = [0]  # the counter when last read: it is read again only after a test a signal ended


def oom_kills_since_last_look():
    now = sandbox_oom_kills()
    killed, OOM_SEEN[0] = now > OOM_SEEN[0], now
    return killed


def self_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---- values crossing the sandbox boundary ---------------------------------------------------

def encode_value(value, depth=0):
    """A JSON form of a Python value that keeps its type, so the host can compare with `==` exactly."""
    if depth > 200:
        return {"__repr__": "<too deep>"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"__int__": str(value)}
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {"__float__": repr(value)}
    if isinstance(value, list):
        return [encode_value(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": [encode_value(v, depth + 1) for v in value], "frozen": isinstance(value, frozenset)}
    if isinstance(value, dict):
        return {"__dict__": [[encode_value(k, depth + 1), encode_value(v, depth + 1)] for k, v in value.items()]}
    return {"__repr__": repr(value)[:1000]}


# ---- running one test ----------------------------------------------------------------------

def set_limits(limits):
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if limits.get("memory_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    stack = limits.get("stack_bytes")
    if stack:
        try:
            resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
        except (ValueError, OSError):
            pass


def fresh_std_streams():
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                  line_buffering=True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def exit_code_of(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def finish(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def child_strict(job, compiled, test_input):
    """Real process semantics: the program is a script reading stdin and writing stdout."""
    fresh_std_streams()
    sys.argv = ["solution.py"]
    sys.setrecursionlimit(1000)
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__file__": "solution.py"}
    code = 0
    try:
        if job["mode"] == "functional":
            exec("from typing import *", namespace)  # LeetCode's environment: starter code uses List, Optional...
        exec(compiled, namespace)
        if job["mode"] == "functional":
            target = namespace.get("Solution")
            method = getattr(target(), job["func_name"]) if target is not None else namespace.get(job["func_name"])
            if method is None:
                raise NameError(f"no function or Solution method named {job['func_name']!r}")
            args = [json.loads(line) for line in test_input.split("\n") if line.strip()]
            result = method(*args)
            sys.stdout.write(json.dumps(result, default=lambda v: list(v) if isinstance(v, (tuple, set, frozenset)) else repr(v)))
    except SystemExit as exc:
        code = exit_code_of(exc)
    except BaseException:
        try:
            traceback.print_exc()
        except Exception:
            pass
        code = 1
    try:
        import threading

        threading._shutdown()  # like the interpreter at exit: wait for non-daemon threads
    except Exception:
        pass
    finish(code)


# -- profile lcb: the official harness's in-process semantics, ported (testing_util.py) --

def lcb_clean_if_name(code):
    import ast

    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def lcb_make_function(code):
    import ast

    try:
        imports, others = [], []
        for stmt in ast.parse(code).body:
            (imports if isinstance(stmt, (ast.Import, ast.ImportFrom)) else others).append(stmt)
        function = ast.FunctionDef(name="wrapped_function",
                                   args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
                                   body=others, decorator_list=[], lineno=-1)
        return LCB_IMPORTS + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:
        return code


def lcb_reliability_guard():
    """What the official harness disables before running a program (testing_util.reliability_guard)."""
    import faulthandler
    import shutil
    import subprocess

    faulthandler.disable()
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def child_lcb(job, test_input, result_fd):
    """One test the way the official harness runs it: in-process, stdin mocked, stdout captured."""
    import types
    from unittest.mock import mock_open, patch

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a multiprocessing child of the official harness reads /dev/null on fd 0
    sys.stdin = open(os.devnull)
    sys.set_int_max_str_digits(50000)
    lcb_reliability_guard()
    outcome = {"kind": "ok"}
    try:
        code = job["lcb_source"]
        module = types.ModuleType("tmp_sol", "")
        try:
            exec(job["lcb_compiled"] if job.get("lcb_compiled") is not None else code, module.__dict__)
            compiled = module.Solution() if (job["mode"] == "functional" and "class Solution" in code) else module
        except BaseException as exc:
            outcome = {"kind": "error", "error": "Error during testing: " + repr(exc)}
            raise _Done
        name = job["func_name"] if job["mode"] == "functional" else "wrapped_function"
        method = getattr(compiled, name, None)
        if method is None:
            outcome = {"kind": "no_method", "error": f"{name} not found"}
            raise _Done
        if job["mode"] == "functional":
            try:
                args = [json.loads(line) for line in test_input.split("\n")]
                prediction = method(*args)
                if isinstance(prediction, tuple):
                    prediction = list(prediction)
                outcome = {"kind": "value", "value": encode_value(prediction)}
            except BaseException as exc:
                outcome = {"kind": "error", "error": repr(exc)}
        else:
            lines = iter(test_input.split("\n"))
            captured = io.StringIO()
            captured.close = lambda *a: 1
            real_stdout = sys.stdout
            sys.stdout = captured
            try:
                @patch("builtins.open", job.pop("lcb_open_mock", None) or mock_open(read_data=test_input))
                @patch("sys.stdin", io.StringIO(test_input))
                @patch("sys.stdin.readline", lambda *args: next(lines))
                @patch("sys.stdin.readlines", lambda *args: test_input.split("\n"))
                @patch("sys.stdin.read", lambda *args: test_input)
                def call(_method):
                    try:
                        return _method()
                    except SystemExit:
                        pass

                call(method)
                outcome = {"kind": "output", "output": captured.getvalue()}
            except BaseException as exc:
                outcome = {"kind": "error", "error": repr(exc)}
            finally:
                sys.stdout = real_stdout
    except _Done:
        pass
    except BaseException as exc:  # anything the port itself did not foresee
        outcome = {"kind": "error", "error": repr(exc)}
    data = json.dumps(outcome).encode()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(result_fd, view):]
    except OSError:
        pass
    os._exit(0)


class _Done(Exception):
    pass


def run_one(job, compiled, test_input, in_pid_namespace):
    limits = job["limits"]
    lcb = job["profile"] == "lcb"
    input_fd = os.memfd_create("input", 0)
    os.write(input_fd, test_input.encode("utf-8", "surrogateescape"))
    os.lseek(input_fd, 0, 0)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe() if lcb else (None, None)
    if lcb and job["mode"] != "functional":
        # Built here, warm, rather than in the test process, where it costs several times more.
        from unittest.mock import mock_open

        job["lcb_open_mock"] = mock_open(read_data=test_input)
    cpu_before, children_before, self_before = sandbox_cpu_s(), children_cpu_s(), self_cpu_s()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            try:  # under memory pressure the kernel kills a test, never the supervisor
                adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                os.write(adj, b"1000")
                os.close(adj)
            except OSError:
                pass
            os.setpgid(0, 0)
            os.dup2(input_fd, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            keep = 3
            if lcb:
                os.dup2(res_w, 3)
                keep = 4
            os.closerange(keep, MAX_FD)
            set_limits(limits)
            if lcb:
                child_lcb(job, test_input, 3)
            else:
                child_strict(job, compiled, test_input)
        except BaseException:
            pass
        os._exit(111)
    job.pop("lcb_open_mock", None)
    for fd in (input_fd, out_w, err_w, res_w):
        if fd is not None:
            os.close(fd)
    caps = {out_r: limits["output_bytes"], err_r: 65536, res_r: limits["output_bytes"] + 4096}
    chunks = {out_r: [], err_r: [], res_r: []}
    sizes = {out_r: 0, err_r: 0, res_r: 0}
    open_fds = [fd for fd in (out_r, err_r, res_r) if fd is not None]
    pidfd = os.pidfd_open(pid)
    status = None
    killed_for = None
    deadline = started + limits["wall_s"]
    while status is None:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            killed_for = killed_for or "wall_time"
            kill_test(pid, in_pid_namespace)
            _, status, usage = os.wait4(pid, 0)
            break
        ready, _, _ = select.select(open_fds + [pidfd], [], [], timeout)
        for fd in ready:
            if fd == pidfd:
                continue
            data = os.read(fd, 65536)
            if not data:
                open_fds.remove(fd)
                continue
            if sizes[fd] + len(data) > caps[fd]:
                data = data[: max(0, caps[fd] - sizes[fd])]
                if fd != err_r and killed_for is None:
                    killed_for = "output_limit"
                    kill_test(pid, in_pid_namespace)
            sizes[fd] += len(data)
            chunks[fd].append(data)
        if pidfd in ready:
            _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    stray = other_processes() if in_pid_namespace else []
    kill_test(pid, in_pid_namespace)
    reap_all(in_pid_namespace)
    # drain what is left in the pipes (the writers are dead now)
    for fd in list(open_fds):
        while sizes[fd] <= caps[fd]:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                break
            data = os.read(fd, 65536)
            if not data:
                break
            chunks[fd].append(data[: max(0, caps[fd] - sizes[fd])])
            sizes[fd] += len(data)
    for fd in (out_r, err_r, res_r, pidfd):
        if fd is not None:
            os.close(fd)
    # CPU time of the whole tree, not only of the processes someone waited for: a program that
    # ignores SIGCHLD has its workers auto-reaped, and their time reaches no rusage.
    cpu = max(usage.ru_utime + usage.ru_stime, children_cpu_s() - children_before)
    cpu_after = sandbox_cpu_s()
    if cpu_before is not None and cpu_after is not None:
        cpu = max(cpu, cpu_after - cpu_before - (self_cpu_s() - self_before))
    result = {
        "event": "result",
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "killed_for": killed_for,
        "stray_processes": len(stray),
        "stdout": b"".join(chunks[out_r]).decode("utf-8", "replace"),
        "stderr": b"".join(chunks[err_r]).decode("utf-8", "replace")[-4000:],
        "cpu_s": round(cpu, 4),
        "oom_killed": os.WIFSIGNALED(status) and oom_kills_since_last_look(),
        "wall_s": round(wall, 4),
        "max_rss_kb": usage.ru_maxrss,
    }
    if lcb:
        raw = b"".join(chunks[res_r])
        try:
            result["lcb"] = json.loads(raw) if raw else None
        except ValueError:
            result["lcb"] = {"kind": "error", "error": "unreadable result from the test process"}
    return result


def other_processes():
    """Processes of the sandbox other than the supervisor's own (PID 1 and this job runner)."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (me, 1):
            found.append(int(name))
    return found


def kill_test(pid, in_pid_namespace):
    """Signal every process of the test (the caller reaps them)."""
    if in_pid_namespace:
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this sandbox but PID 1 and the caller
        except OSError:
            pass
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def reap_all(in_pid_namespace):
    """Reap every dead child (orphans are re-parented to PID 1) until none is left."""
    deadline = time.monotonic() + 5
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if reaped == 0:
            if in_pid_namespace and other_processes() and time.monotonic() < deadline:
                time.sleep(0.001)
                continue
            return


# ---- between two jobs: the wipe -----------------------------------------------------------------

def wipe_sandbox():
    """Nothing one job left may reach the next: files (whatever their modes or depth), POSIX message
    queues, SysV shared memory, message queues and semaphores. Returns (clean, reason); the host
    discards a sandbox that is not clean. Keyrings need no wipe: the seccomp filter refuses them."""
    problems = []
    for root, mode in SCRATCH_ROOTS:
        if not os.path.isdir(root):
            continue
        try:
            if mode is not None and (os.stat(root).st_mode & 0o7777) != mode:
                os.chmod(root, mode)
            remove_contents(root)
            if os.listdir(root):
                problems.append(f"{root} is not empty")
        except OSError as exc:
            problems.append(f"{root}: {exc}")
    problems += remove_sysv_ipc()
    return (not problems), "; ".join(problems) or None


def remove_contents(root, budget=1_000_000):
    """Remove everything under `root` without recursion and without long paths: one directory
    descriptor at a time, going down by name and back up by "..", restoring modes on the way."""
    import stat

    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags)
    names = []  # the path from root, as names (its length is never passed to the kernel)
    try:
        while budget > 0:
            budget -= 1
            descended = False
            for name in os.listdir(fd):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    if info.st_mode & 0o700 != 0o700:
                        os.chmod(name, 0o700, dir_fd=fd)  # a directory, checked just above: no link to follow
                    child = os.open(name, flags, dir_fd=fd)
                    os.close(fd)
                    fd, descended = child, True
                    names.append(name)
                    break
                os.unlink(name, dir_fd=fd)
            if descended:
                continue
            if not names:
                return
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
        raise OSError(f"more than the wipe's budget of entries under {root}")
    finally:
        os.close(fd)


def remove_sysv_ipc():
    """IPC_RMID every SysV object of this IPC namespace (the sandbox's own)."""
    problems = []
    for kind in ("shm", "msg", "sem"):
        path = f"/proc/sysvipc/{kind}"
        try:
            with open(path) as handle:
                rows = handle.read().splitlines()[1:]
            if not rows:
                continue
            c = libc()  # only when there is something to remove
            rmid = {"shm": lambda i: c.shmctl(i, 0, None), "msg": lambda i: c.msgctl(i, 0, None),
                    "sem": lambda i: c.semctl(i, 0, 0)}[kind]  # IPC_RMID = 0
            for row in rows:
                rmid(int(row.split()[1]))
            with open(path) as handle:
                if handle.read().splitlines()[1:]:
                    problems.append(f"SysV {kind} objects left")
        except FileNotFoundError:
            continue
        except (OSError, ImportError, ValueError, IndexError) as exc:
            problems.append(f"SysV {kind}: {exc}")
    return problems


# ---- the job runner (one per job) and the clean parent -------------------------------------------

def read_job():
    """The next job line; stray `next`/`stop` lines (for a runner that died) are skipped."""
    while True:
        line = HOST.readline()
        if line is None:
            return None
        if line.strip() and line.strip() not in ("next", "stop"):
            return json.loads(line)


def run_job(job, in_pid_namespace):
    compiled, compile_error = None, None
    if job["profile"] == "lcb":
        warm_lcb()
        # the official harness transforms and compiles once per solution; so do we
        if job["mode"] == "functional":
            job["lcb_source"] = LCB_IMPORTS + "\n\n" + job["code"]
        else:
            job["lcb_source"] = lcb_make_function(lcb_clean_if_name(job["code"]))
        try:
            job["lcb_compiled"] = compile(job["lcb_source"], "<string>", "exec")
        except (SyntaxError, ValueError):
            job["lcb_compiled"] = None  # the test process raises it again, as the original does
    else:
        try:
            compiled = compile(job["code"], "solution.py", "exec")
        except (SyntaxError, ValueError) as exc:
            compile_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    # Objects alive now are never collected in the test processes: a collection there would touch
    # (and so copy) every page of this interpreter after the fork.
    gc.freeze()
    OOM_SEEN[0] = sandbox_oom_kills()
    emit({"event": "ready", "compile_error": compile_error, "pid_namespace": in_pid_namespace,
          "python": sys.version.split()[0]})
    if compile_error is None:
        for index, test_input in enumerate(job["tests"]):
            result = run_one(job, compiled, test_input, in_pid_namespace)
            result["index"] = index
            emit(result)
            answer = HOST.readline()
            if answer is None or answer.strip() != "next":
                break
    finish_job(in_pid_namespace)


def finish_job(in_pid_namespace):
    """Every process of the job is gone: wipe the sandbox and report whether it may serve again.
    Only inside a sandbox: without one (backend `none`) /tmp is the host's, and no sandbox serves twice."""
    clean, reason = wipe_sandbox() if in_pid_namespace else (False, "not in a sandbox: never reused")
    emit({"event": "done", "clean": clean, "reason": reason})


def job_runner(in_pid_namespace):
    """In the forked runner: one job, then exit. A program may signal the runner (its parent): the
    runner then dies and the parent reports it, which fails that program."""
    try:
        libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a test come back to us, to be reaped
    except (OSError, ImportError):
        pass
    warm_runner()
    job = read_job()
    if job is None:
        os._exit(EXIT_HOST_GONE)
    run_job(job, in_pid_namespace)
    sys.__stdout__.flush()
    os._exit(0)


def warm_runner():
    """Touch, before the job comes, what running one touches: a forked runner pays a copy for every
    page of the parent it writes (reference counts), and this way it pays them off the critical path."""
    compile("import sys\nprint(sys.stdin.readline())\n", "solution.py", "exec")
    json.loads(json.dumps({"code": "", "tests": [""], "limits": {"cpu_s": 1.0}, "profile": "strict"}))
    traceback.format_exception_only(SyntaxError, SyntaxError("warm-up"))
    os.close(os.memfd_create("warm-up", 0))


WARMED_LCB = []


def warm_lcb():
    if not WARMED_LCB:
        import ast, faulthandler, shutil, subprocess, types, unittest.mock  # noqa: E401,F401
        exec(LCB_IMPORTS, {})  # the import block every program gets: imported once, shared by forks
        WARMED_LCB.append(True)


def wait_for_runner(runner):
    """Wait for the job runner, reaping any orphan on the way. A runner that a program stopped is
    killed. Returns its wait status, or None when it was stopped and killed."""
    stopped = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WUNTRACED)
        except ChildProcessError:
            return None
        if pid != runner:
            continue
        if os.WIFSTOPPED(status):
            stopped = True
            os.kill(runner, signal.SIGKILL)
            continue
        return None if stopped else status


def main():
    """Fork a job runner per job from this clean, warm state until the host goes away."""
    undumpable()
    in_pid_namespace = os.getpid() == 1
    profile = sys.argv[1] if len(sys.argv) > 1 else "strict"
    # As PID 1 only signals with a handler reach us from inside the namespace: keep none installed.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Warm the modules every test process needs (a fork shares them instead of importing again).
    import threading  # noqa: F401
    try:
        libc()  # the wipe and the runner use it
    except (OSError, ImportError):
        pass
    if profile == "lcb":
        warm_lcb()
    gc.freeze()
    while True:
        runner = fork_runner(in_pid_namespace)
        status = wait_for_runner(runner)
        exit_code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None
        kill_test(runner, in_pid_namespace)  # normally nothing is left: the runner reaped its tests
        if exit_code == 0:
            continue
        if exit_code == EXIT_HOST_GONE:
            return
        # A program killed or stopped its runner mid-job: the program fails; this parent cleans up.
        emit({"event": "runner_died", "exit_code": exit_code,
              "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None})
        reap_all(in_pid_namespace)
        finish_job(in_pid_namespace)


def fork_runner(in_pid_namespace):
    runner = os.fork()
    if runner == 0:
        try:
            job_runner(in_pid_namespace)
        finally:
            os._exit(111)
    return runner


if __name__ == "__main__":
    main()
