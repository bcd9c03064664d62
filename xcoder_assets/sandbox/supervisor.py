"""The in-sandbox supervisor: runs one program on a batch of test inputs.

This file is executed *inside* the sandbox by the sandbox's own `python3` (stdlib only, no import
of xcoder_assets): the host passes its source with `python3 -c SOURCE PROFILE`.

Two levels, so that no program ever runs in memory that held another program's data:
- the parent (PID 1 of the sandbox's PID namespace) warms the interpreter and the profile's imports
  once, and never reads a job: for each job it forks a *job runner* from that clean state and
  waits for it (if a program killed the runner, the parent cleans up, wipes and reports);
- the job runner warms up, reads one JSON job line, compiles the program, and (profile strict) for
  each test forks a child, applies that child's limits, feeds it the input, collects its output and
  CPU time (of the whole process tree: the sandbox's cgroup counter where there is one) and writes
  one JSON result line, then waits for the host's `next` or `stop`. Profile lcb keeps the official
  harness's semantics instead: one solution process runs all of the program's tests in sequence,
  each under its own alarm, and the runner streams its results without waiting for the host
  (which sends `stop` at a wrong answer); see lcb_solution. After the job it wipes the sandbox (files, IPC
  objects), reports `done` with whether the wipe succeeded (the host discards a sandbox that is not
  clean) and exits, so its memory (the job's code, inputs, outputs; a checker job's expected
  answers) is gone before the next runner is forked to read the next job.
The host compares outputs: expected answers enter a sandbox only in a checker job.

As PID 1 the parent cannot be killed by the programs, and `kill(-1, SIGKILL)` ends every process a
test left behind. A program can kill its job runner; the parent then reports `runner_died` and the
host counts it against that program. Without a PID namespace (the unsafe `none` backend) process
groups are killed instead.
"""

import atexit
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
CPU_FILES = (
    "/sys/fs/cgroup/cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu.stat",
)
OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")
SCRATCH_ROOTS = (("/tmp", 0o1777), ("/dev/shm", 0o1777), ("/dev/mqueue", None))


READ_BYTES = 65536


class LineReader:
    """Lines from the host on fd 0, with a timeout (sys.stdin's buffering would hide pending data).
    A bytearray and a search offset: a job line of many megabytes costs linear time."""

    def __init__(self, fd=0):
        self.fd, self.buffer, self.searched = fd, bytearray(), 0

    def take_line(self):
        """A whole line already received, or None (never waits)."""
        end = self.buffer.find(b"\n", self.searched)
        if end < 0:
            self.searched = len(self.buffer)
            return None
        line = self.buffer[:end].decode("utf-8")
        del self.buffer[: end + 1]
        self.searched = 0
        return line

    def readline(self, timeout=IDLE_EXIT_S):
        line = self.take_line()
        while line is None:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready or not self.fill():
                return None
            line = self.take_line()
        return line

    def fill(self):
        """One read of what the host sent (the caller saw the descriptor ready); False at EOF."""
        data = os.read(self.fd, READ_BYTES)
        self.buffer += data
        return bool(data)


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


class CappedStream:
    """What a test wrote on one stream, kept up to `cap` bytes; every byte read counts against it."""

    __slots__ = ("chunks", "size", "cap")

    def __init__(self, cap):
        self.chunks, self.size, self.cap = [], 0, cap

    def take(self, data):
        """Keep what fits; True when the stream has now gone past its cap."""
        if self.size < self.cap:
            self.chunks.append(data[: self.cap - self.size])
        self.size += len(data)
        return self.size > self.cap

    def text(self):
        return b"".join(self.chunks).decode("utf-8", "replace")


def text_reader(fd):
    return io.TextIOWrapper(io.BufferedReader(io.FileIO(fd, "r", closefd=False)), encoding="utf-8")


def text_writer(fd, line_buffering=False):
    return io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), encoding="utf-8", line_buffering=line_buffering
    )


def test_streams():
    """stdin, stdout and stderr wrappers on fds 0-2, built by the job runner and never used by it: every
    test process forked after gets a pristine copy (building them in each test cost 0.25 ms a test).
    The caller makes fd 0 a seekable file first, as each test's input (a memfd) is: a wrapper looks up
    its file's seekability when it is built."""
    return text_reader(0), text_writer(1), text_writer(2, line_buffering=True)


TEST_STREAMS = []  # set by the job runner (prepare_test_streams) before its first test (strict profile)
# The interpreter's own streams, kept referenced: a test process replaces sys.stdin, stdout and
# stderr, and dropping their last reference would run their finalizers there (about 20 copied pages a
# test, net, measured).
INTERPRETER_STREAMS = (sys.stdin, sys.stdout, sys.stderr)


def prepare_test_streams():
    """In the job runner: the host's pipe moves off fd 0 (HOST reads it from its new descriptor, which
    no test process keeps) and an empty memfd takes its place while the test streams are built."""
    HOST.fd = os.dup(0)
    placeholder = os.memfd_create("stdin", 0)
    os.dup2(placeholder, 0)
    os.close(placeholder)
    TEST_STREAMS.append(test_streams())


def fresh_std_streams():
    sys.stdin, sys.stdout, sys.stderr = TEST_STREAMS[0]
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
            sys.stdout.write(
                json.dumps(result, default=lambda v: list(v) if isinstance(v, (tuple, set, frozenset)) else repr(v))
            )
    except SystemExit as exc:
        code = exit_code_of(exc)
    except BaseException:
        try:
            traceback.print_exc()
        except Exception:
            pass
        code = 1
    # Like the interpreter at exit: wait for non-daemon threads. Only a program that imported threading
    # can have started one (the supervisor never imports it: see main).
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except Exception:
            pass
    # Then, as CPython does, the exit handlers: what a program prints from one is its output, and
    # multiprocessing's own handler ends a Pool the program left open (docs/sandbox.md: strict's exit rule).
    try:
        atexit._run_exitfuncs()
    except BaseException:
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
        function = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
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
    for name in (
        "kill",
        "system",
        "putenv",
        "remove",
        "removedirs",
        "rmdir",
        "fchdir",
        "setuid",
        "fork",
        "forkpty",
        "killpg",
        "rename",
        "renames",
        "truncate",
        "replace",
        "unlink",
        "fchmod",
        "fchown",
        "chmod",
        "chown",
        "chroot",
        "lchflags",
        "lchmod",
        "lchown",
        "getcwd",
        "chdir",
    ):
        setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


class TimeoutException(Exception):
    """The official harness's alarm exception: its name is how the harness tells a time limit."""


def lcb_timeout_handler(signum, frame):
    print("timeout occured: alarm went off")
    raise TimeoutException


def lcb_alarm(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)  # signal.alarm(seconds) for whole seconds, as the original


class LcbCapturing(list):
    """testing_util.Capturing, as it is (its close() takes exactly one argument)."""

    def __enter__(self):
        self._stdout = sys.stdout
        sys.stdout = self._stringio = io.StringIO()
        self._stringio.close = lambda x: 1
        return self

    def __exit__(self, *args):
        self.append(self._stringio.getvalue())
        del self._stringio
        sys.stdout = self._stdout


class LcbLazyOpen:
    """The harness's `mock_open(read_data=inputs)`, built when the program first touches it.

    Two spec'd MagicMocks cost about 1.5 ms, most of a test's time, and a program rarely reaches
    `builtins.open` (the import block's `from io import *` shadows it with io.open); every call and
    attribute goes to the real mock_open, so only a look at the type of `builtins.open` tells."""

    __slots__ = ("_inputs", "_mock")

    def __init__(self, inputs):
        self._inputs, self._mock = inputs, None

    def _real(self):
        if self._mock is None:
            from unittest.mock import mock_open

            self._mock = mock_open(read_data=self._inputs)
        return self._mock

    def __call__(self, *args, **kwargs):
        return self._real()(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real(), name)


def lcb_call_method(method, inputs):
    """testing_util.call_method: stdin, its readers and open() mocked for one call."""
    from unittest.mock import patch

    inputs_line_iterator = iter(inputs.split("\n"))

    @patch("builtins.open", LcbLazyOpen(inputs))
    @patch("sys.stdin", io.StringIO(inputs))
    @patch("sys.stdin.readline", lambda *args: next(inputs_line_iterator))
    @patch("sys.stdin.readlines", lambda *args: inputs.split("\n"))
    @patch("sys.stdin.read", lambda *args: inputs)
    def _inner_call_method(_method):
        try:
            return _method()
        except SystemExit:
            pass

    return _inner_call_method(method)


def lcb_solution(job, result_fd):
    """The solution process of profile lcb: the official run_test for one solution, in one process.

    As testing_util.grade_stdio / grade_call_based: the code is executed once (one `Solution()`
    instance, one module), then its tests run in sequence with an alarm per test, so whatever a test
    leaves (a memo, a counter, a global of the module) is there for the next; the first error or time
    limit ends the solution. One JSON line per test goes to `result_fd`; the job runner relays them and
    the host compares (expected outputs never enter the sandbox), stopping this process at a wrong
    answer. A whole-solution result (the harness's single -4) is a `fatal` record; a process that
    dies without finishing is what the harness records as a single -2."""
    import types

    def send(record):
        data = (json.dumps(record) + "\n").encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(result_fd, view) :]

    def measured(record, started, cpu_started):
        record["t"] = round(time.monotonic() - started, 4)
        record["c"] = round(time.process_time() - cpu_started, 4)
        record["m"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return record

    def failure(exc, started, cpu_started):
        try:
            text = repr(exc)
        except Exception as repr_error:  # run_test's own `except Exception`: the whole solution is -4
            send({"kind": "fatal", "error": f"Error during testing: {repr_error}"})
            return
        kind = "timeout" if "timeoutexception" in text.lower() else "error"
        send(measured({"kind": kind, "error": text[:2000]}, started, cpu_started))

    timeout = job["limits"]["wall_s"]
    functional = job["mode"] == "functional"
    signal.signal(signal.SIGALRM, lcb_timeout_handler)
    lcb_reliability_guard()
    lcb_alarm(timeout)
    try:
        code = job["lcb_source"]
        tmp_sol = types.ModuleType("tmp_sol", "")
        try:  # compile_code, with its alarm
            lcb_alarm(timeout)
            try:
                exec(job["lcb_compiled"] if job.get("lcb_compiled") is not None else code, tmp_sol.__dict__)
                compiled_sol = tmp_sol.Solution() if "class Solution" in code else tmp_sol
                assert compiled_sol is not None
            finally:
                lcb_alarm(0)
            name = job["func_name"] if functional else "wrapped_function"
            method = getattr(compiled_sol, name) if hasattr(compiled_sol, name) else None
            if method is None:
                raise TypeError("cannot unpack non-iterable NoneType object")  # what the harness then raises
            if functional:
                all_inputs = [[json.loads(line) for line in inputs.split("\n")] for inputs in job["tests"]]
                if job.get("lcb_bad_outputs"):  # the host could not parse an expected output: the harness fails there
                    raise ValueError("an expected output is not JSON")
            else:
                all_inputs = job["tests"]
        except Exception as exc:
            send({"kind": "fatal", "error": f"Error during testing: {exc}"[:2000]})
            os._exit(0)
        for gt_inp in all_inputs:
            lcb_alarm(timeout)
            started, cpu_started = time.monotonic(), time.process_time()
            if functional:
                try:
                    prediction = method(*gt_inp)
                    lcb_alarm(0)
                    if isinstance(prediction, tuple):
                        prediction = list(prediction)
                    record = {"kind": "value", "value": encode_value(prediction)}
                except Exception as exc:
                    lcb_alarm(0)
                    failure(exc, started, cpu_started)
                    os._exit(0)
                finally:
                    lcb_alarm(0)
            else:
                with LcbCapturing() as captured_output:
                    try:
                        lcb_call_method(method, gt_inp)
                        lcb_alarm(0)
                    except Exception as exc:
                        lcb_alarm(0)
                        sys.stdout = captured_output._stdout
                        failure(exc, started, cpu_started)
                        os._exit(0)
                    finally:
                        lcb_alarm(0)
                record = {"kind": "output", "output": captured_output[0]}
            send(measured(record, started, cpu_started))
    except BaseException:
        pass  # SystemExit and the like escape the harness too: its process ends without a result (-2)
    os._exit(0)


LCB_RECORD_KINDS = ("value", "output", "error", "timeout", "fatal")
LCB_TERMINAL = ("error", "timeout", "fatal")


def lcb_record(line):
    """A record from the solution process (untrusted: the program shares that process)."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("kind") not in LCB_RECORD_KINDS:
        return {"kind": "error", "error": "unreadable result from the test process"}, {}
    measures = {}
    for short, name in (("t", "wall_s"), ("c", "cpu_s"), ("m", "max_rss_kb")):
        value = record.pop(short, 0)
        measures[name] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
    return record, measures


def run_lcb_job(job, in_pid_namespace):
    """Profile lcb: one solution process runs every test (lcb_solution); this runner relays its
    records to the host as they come, batched per read, and ends it at the host's `stop`, at the end
    of the tests, or at the official harness's global timeout ((timeout + 1) x tests + 5 s)."""
    limits = job["limits"]
    tests = len(job["tests"])
    budget = (limits["wall_s"] + 1) * tests + 5
    res_r, res_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    cpu_before, children_before, self_before = sandbox_cpu_s(), children_cpu_s(), self_cpu_s()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            try:
                adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                os.write(adj, b"1000")
                os.close(adj)
            except OSError:
                pass
            os.setpgid(0, 0)
            for fd in (0, 1, 2):
                os.dup2(null, fd)  # a multiprocessing child of the harness reads /dev/null; its prints reach no one
            os.dup2(res_w, 3)
            os.closerange(4, MAX_FD)
            sys.stdin = open(os.devnull)
            sys.set_int_max_str_digits(50000)  # compute_code_generation_metrics sets it at import
            set_limits({**limits, "cpu_s": budget})
            lcb_solution(job, 3)
        except BaseException:
            pass
        os._exit(111)
    os.close(res_w)
    os.close(null)
    pidfd = os.pidfd_open(pid)
    cap = limits["output_bytes"] + 4096
    buffer, count, finished, killed_for, status = b"", 0, False, None, None
    deadline = started + budget
    host_open = res_open = True

    def relay(lines):
        nonlocal count, finished
        batch = []
        for line in lines:
            if finished:
                break
            record, measures = lcb_record(line)
            batch.append({"event": "result", "index": count, "lcb": record, **measures})
            count += 1
            finished = record["kind"] in LCB_TERMINAL or count >= tests
        if batch:
            emit(batch[0] if len(batch) == 1 else {"event": "batch", "results": batch})

    while status is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            killed_for = "global_timeout"
            break
        if finished:
            break
        watched = ([res_r] if res_open else []) + [pidfd] + ([HOST.fd] if host_open else [])
        ready, _, _ = select.select(watched, [], [], remaining)
        if res_r in ready:
            data = os.read(res_r, 1 << 16)
            res_open = bool(data)
            if data:
                buffer += data
                if b"\n" in buffer:
                    *lines, buffer = buffer.split(b"\n")
                    relay(lines)
                if len(buffer) > cap and not finished:
                    killed_for, finished = "output_limit", True
                continue
        if HOST.fd in ready and host_open:
            if not HOST.fill():
                host_open = False
            if HOST.take_line() is not None or not host_open:  # `stop` (or a host gone): end it now
                killed_for = killed_for or "stopped"
                break
        if pidfd in ready:
            _, status, _ = os.wait4(pid, 0)
    kill_test(pid, in_pid_namespace)
    if status is None:
        _, status, _ = os.wait4(pid, 0)
    reap_all(in_pid_namespace)
    if killed_for is None:  # it ended by itself: what it wrote before it died still counts
        while not finished and len(buffer) <= cap:
            ready, _, _ = select.select([res_r], [], [], 0.05)
            data = os.read(res_r, 1 << 16) if ready else b""
            if not data:
                break
            buffer += data
            if b"\n" in buffer:
                *lines, buffer = buffer.split(b"\n")
                relay(lines)
        if len(buffer) > cap and not finished:  # what it wrote past the cap before it ended
            killed_for = "output_limit"
    os.close(res_r)
    os.close(pidfd)
    cpu = children_cpu_s() - children_before
    cpu_after = sandbox_cpu_s()
    if cpu_before is not None and cpu_after is not None:
        cpu = max(cpu, cpu_after - cpu_before - (self_cpu_s() - self_before))
    if killed_for == "output_limit":
        emit({"event": "result", "index": count, "killed_for": "output_limit", "cpu_s": round(cpu, 4)})
    elif not finished and killed_for != "stopped":
        signalled = os.WIFSIGNALED(status)
        emit(
            {
                "event": "result",
                "index": count,
                "killed_for": killed_for,
                "lcb": {"kind": "lost", "error": "the solution's process ended before its tests did"},
                "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if signalled and killed_for is None else None,
                "oom_killed": signalled and oom_kills_since_last_look(),
                "cpu_s": round(cpu, 4),
                "wall_s": round(time.monotonic() - started, 4),
            }
        )
    finish_job(in_pid_namespace)


def run_one(job, compiled, test_input, in_pid_namespace):
    limits = job["limits"]
    input_fd = os.memfd_create("input", 0)
    os.write(input_fd, test_input.encode("utf-8", "surrogateescape"))
    os.lseek(input_fd, 0, 0)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
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
            os.closerange(3, MAX_FD)
            set_limits(limits)
            child_strict(job, compiled, test_input)
        except BaseException:
            pass
        os._exit(111)
    for fd in (input_fd, out_w, err_w):
        os.close(fd)
    streams = {out_r: CappedStream(limits["output_bytes"]), err_r: CappedStream(65536)}  # stderr: not graded
    open_fds = [out_r, err_r]
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
            if streams[fd].take(data) and fd == out_r and killed_for is None:
                killed_for = "output_limit"
                kill_test(pid, in_pid_namespace)
        if pidfd in ready:
            _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    # A zombie (a child that exited, not yet waited for) is no stray: CPython exits correctly with one.
    stray = [p for p in other_processes() if not is_zombie(p)] if in_pid_namespace else []
    kill_test(pid, in_pid_namespace)
    reap_all(in_pid_namespace)
    # Drain what is left in the pipes (the writers are dead now): past the cap is output_limit here too.
    for fd in list(open_fds):
        while streams[fd].size <= streams[fd].cap:
            ready, _, _ = select.select([fd], [], [], 0.05)
            data = os.read(fd, 65536) if ready else b""
            if not data:
                break
            if streams[fd].take(data) and fd == out_r and killed_for is None:
                killed_for = "output_limit"
    for fd in (out_r, err_r, pidfd):
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
        "stdout": streams[out_r].text(),
        "stderr": streams[err_r].text()[-4000:],
        "cpu_s": round(cpu, 4),
        "oom_killed": os.WIFSIGNALED(status) and oom_kills_since_last_look(),
        "wall_s": round(wall, 4),
        "max_rss_kb": usage.ru_maxrss,
    }
    return result


def any_other_process():
    """Whether the sandbox holds a process (a zombie too) besides PID 1 and this runner: kill(-1, 0)
    signals none and fails with ESRCH when there is nobody to signal (cheaper than listing /proc)."""
    try:
        os.kill(-1, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def other_processes():
    """Processes of the sandbox other than the supervisor's own (PID 1 and this job runner)."""
    if not any_other_process():
        return []
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (me, 1):
            found.append(int(name))
    return found


def is_zombie(pid):
    """Whether a process has exited and only waits to be reaped (state Z in /proc/PID/stat)."""
    try:
        return stat_fields(pid)[0] == b"Z"
    except (OSError, IndexError):
        return True  # gone already


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
            rmid = {
                "shm": lambda i: c.shmctl(i, 0, None),
                "msg": lambda i: c.msgctl(i, 0, None),
                "sem": lambda i: c.semctl(i, 0, 0),
            }[kind]  # IPC_RMID = 0
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
            job["lcb_compiled"] = None  # the solution process raises it again, as the original does
    else:
        try:
            compiled = compile(job["code"], "solution.py", "exec")
        except (SyntaxError, ValueError) as exc:
            compile_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if job["profile"] != "lcb":
        prepare_test_streams()
    # Objects alive now are never collected in the test processes: a collection there would touch
    # (and so copy) every page of this interpreter after the fork.
    gc.freeze()
    OOM_SEEN[0] = sandbox_oom_kills()
    emit(
        {
            "event": "ready",
            "compile_error": compile_error,
            "pid_namespace": in_pid_namespace,
            "python": sys.version.split()[0],
        }
    )
    if job["profile"] == "lcb":
        run_lcb_job(job, in_pid_namespace)
        return
    if compile_error is None:
        for index, test_input in enumerate(job["tests"]):
            result = run_one(job, compiled, test_input, in_pid_namespace)
            result["index"] = index
            emit(result)
            answer = HOST.readline()
            if answer is None or answer.strip() != "next":
                break
    finish_job(in_pid_namespace)


def finish_job(in_pid_namespace, left_over=None):
    """Every process of the job is gone: wipe the sandbox and report whether it may serve again: not
    when the wipe failed, nor when PID 1's (or this runner's) limits or scheduling differ from what PID
    1 had at its start. Only inside a sandbox: without one (backend `none`) /tmp is the host's, and no
    sandbox serves twice."""
    if not in_pid_namespace:
        clean, reason = False, "not in a sandbox: never reused"
    else:
        clean, reason = wipe_sandbox()
        changed = [who for who in ("1", "self") if process_state(who) != PID1_STATE[0]]
        if changed or left_over:
            clean = False
            reason = "; ".join(
                ([reason] if reason else [])
                + ([f"limits or scheduling of {' and '.join(changed)} changed"] if changed else [])
                + ([left_over] if left_over else [])
            )
    emit({"event": "done", "clean": clean, "reason": reason})


STAT_FIELDS = (15, 16, 37, 38)  # priority, nice, rt_priority, policy: fields 18, 19, 40, 41 of /proc/PID/stat
PID1_STATE = [None]  # PID 1's, recorded once at its start (its own data, never a job's)


def read_small(path):
    """A small /proc file in one read, without a Python file object (cheaper after a fork)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def stat_fields(pid):
    """/proc/PID/stat after the command name (which may hold spaces and parentheses): state first."""
    return read_small(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()


def process_state(pid):
    """A process's resource limits, scheduling and CPU affinity, as /proc shows them to anyone."""
    try:
        limits = read_small(f"/proc/{pid}/limits")
        fields = stat_fields(pid)
        status = read_small(f"/proc/{pid}/status")
        affinity = [line for line in status.splitlines() if line.startswith(b"Cpus_allowed_list")]
    except (OSError, IndexError):
        return None
    return limits, tuple(fields[i] for i in STAT_FIELDS if i < len(fields)), tuple(affinity)


def job_runner(in_pid_namespace):
    """In the forked runner: one job, then exit. A program may signal the runner (its parent): the
    runner then dies and the parent reports it, which fails that program."""
    try:
        libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a test come back to us, to be reaped
    except (OSError, ImportError):
        pass
    job = read_job()
    if job is None:
        os._exit(EXIT_HOST_GONE)
    run_job(job, in_pid_namespace)
    sys.__stdout__.flush()
    os._exit(0)


def warm_parent():
    """Do once, in the clean parent, what each job runner and test process would otherwise do first:
    lazy initializations (the compiler's AST types, json's scanner and encoder, a text stream's codec
    and first read and write, a traceback's formatting) write many pages, and a forked process pays
    a copied page for each page of its parent it writes. Done here, every fork inherits them
    (measured: a runner's first compile fell from 2.3 to 0.3 ms). Only the supervisor's own data:
    the parent never sees a job."""
    json.loads(json.dumps({"code": "", "tests": ["1\n"], "limits": {"cpu_s": 1.0}, "profile": "strict", "n": None}))
    traceback.format_exception_only(SyntaxError, SyntaxError("warm-up"))
    source, sink = os.memfd_create("warm-up", 0), os.memfd_create("warm-up", 0)
    saved = sys.stdin, sys.stdout
    try:
        os.write(source, b"3\n1 2 3\n")
        os.lseek(source, 0, 0)
        sys.stdin, sys.stdout = text_reader(source), text_writer(sink)
        program = "n = int(input())\nvalues = list(map(int, input().split()))\nprint(sum(values), *sorted(values))\n"
        exec(compile(program, "solution.py", "exec"), {"__name__": "__main__", "__builtins__": builtins})
        sys.stdout.flush()
    finally:
        sys.stdin, sys.stdout = saved
        os.close(source)
        os.close(sink)


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
    # threading is not imported here: its at-fork hook in every test process cost a third of a bare
    # fork (0.36 of 1.0 ms measured); the few programs that use threads import it themselves.
    try:
        libc()  # the wipe and the runner use it
    except (OSError, ImportError):
        pass
    warm_parent()
    PID1_STATE[0] = process_state("self")
    if in_pid_namespace:
        wipe_sandbox()  # on the empty sandbox: the first wipe's lookups, paid once here
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
        # A program killed or stopped its runner mid-job: the program fails. This parent ends and reaps
        # what is left, and a forked cleaner wipes: PID 1 never lists the job's files (names left in its
        # heap would be in every later program's memory, forked from it).
        emit(
            {
                "event": "runner_died",
                "exit_code": exit_code,
                "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
            }
        )
        left_over = None if reap_children() else "processes left after the job runner died"
        cleaner = os.fork()
        if cleaner == 0:
            try:
                finish_job(in_pid_namespace, left_over)
                sys.__stdout__.flush()
            finally:
                os._exit(0)
        try:
            os.waitpid(cleaner, 0)
        except ChildProcessError:
            pass


def reap_children(timeout_s=5):
    """In PID 1: every other process is killed (by the caller) and reaped, without reading /proc.
    False when some are still there after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if reaped == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)


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
