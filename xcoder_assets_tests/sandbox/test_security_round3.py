"""The security suite, part three (issue 19): programs that write into PID 1 and the job runner, the
parent's residue, socket families, counters that survive the wipe, output past the cap, the checker's
view of a long answer, and the strict profile's exit rule. On both real backends, both profiles where
an attack applies, 1 and 2 workers; each of these broke the judge before its fix."""

import secrets

import pytest

from xcoder_assets.sandbox.backends import Limits
from xcoder_assets.sandbox.judge import Problem, TestCase, Verdict, judge_many, judge_solution
from xcoder_assets_tests.conftest import PROJECT_ROOT

from xcoder_assets_tests.sandbox.test_security_redteam import MEMORY_SCANNER_OF, expect

PROFILES = ["strict", "lcb"]
WORKERS = [1, 2]


def printed(result) -> str:
    return result.tests[0].output.strip() if result.tests else f"<no test ran: {result.reason}>"


# ---- 1. no program reaches PID 1's or the job runner's limits, scheduling or I/O priority ---------

# Each call targets PID 1 and the program's parent (the job runner); a success is listed. PRIO_USER
# and IOPRIO_WHO_USER with who=0 mean "every process of my uid", PID 1 and the runner included.
TAMPER = r"""
import ctypes, os, platform, struct
numbers = {"x86_64": dict(prlimit64=302, setpriority=141, sched_setscheduler=144, sched_setparam=142,
                          sched_setaffinity=203, sched_setattr=314, ioprio_set=251),
           "aarch64": dict(prlimit64=261, setpriority=140, sched_setscheduler=119, sched_setparam=118,
                           sched_setaffinity=122, sched_setattr=274, ioprio_set=30)}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
call = lambda name, *args: libc.syscall(numbers[name], *args)
reached = []
for target in (1, os.getppid()):
    for resource, value in ((9, 1 << 29), (12, 4711), (3, 1 << 20), (2, 1 << 29)):  # AS, MSGQUEUE, STACK, DATA
        new = (ctypes.c_ulonglong * 2)(value, value)
        if call("prlimit64", target, resource, ctypes.byref(new), None) == 0:
            reached.append(f"prlimit64({target}, {resource})")
    if call("setpriority", 0, target, 19) == 0:
        reached.append(f"setpriority({target})")
    param = ctypes.c_int(0)
    if call("sched_setscheduler", target, 5, ctypes.byref(param)) == 0:  # SCHED_IDLE
        reached.append(f"sched_setscheduler({target})")
    if call("sched_setparam", target, ctypes.byref(param)) == 0:
        reached.append(f"sched_setparam({target})")
    mask = ctypes.c_ulong(1)
    if call("sched_setaffinity", target, ctypes.sizeof(mask), ctypes.byref(mask)) == 0:
        reached.append(f"sched_setaffinity({target})")
    attr = ctypes.create_string_buffer(struct.pack("=IIQiIQQQ", 48, 5, 0, 0, 0, 0, 0, 0), 48)
    if call("sched_setattr", target, attr, 0) == 0:
        reached.append(f"sched_setattr({target})")
    if call("ioprio_set", 1, target, 3 << 13) == 0:  # IOPRIO_WHO_PROCESS, class idle
        reached.append(f"ioprio_set({target})")
if call("setpriority", 2, 0, 19) == 0:  # PRIO_USER: every process of this uid
    reached.append("setpriority(user)")
if call("ioprio_set", 3, 0, 3 << 13) == 0:  # IOPRIO_WHO_USER
    reached.append("ioprio_set(user)")
print(" ".join(reached) or "refused")
"""

# What a correct program needs and must still be allowed: its own limits, niceness and affinity.
OWN_PROCESS = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
os.nice(1)
os.sched_setaffinity(0, os.sched_getaffinity(0))
limit = (ctypes.c_ulonglong * 2)(1 << 28, 1 << 28)
assert libc.prlimit64(0, 3, ctypes.byref(limit), None) == 0, ctypes.get_errno()  # RLIMIT_STACK, its own
a, b = map(int, input().split())
print(a + b)
"""

# Needs its full address-space limit: it fails where a tampered PID 1 makes the test's limits fail.
BIG_BUT_FAIR = "block = bytearray(600 << 20)\nblock[::4096] = b'x' * len(block[::4096])\nprint(len(block) >> 20)\n"


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_programs_cannot_touch_pid_1_or_the_job_runner(fresh_backend, profile, workers):
    items = []
    for _ in range(workers):
        items += [(expect("refused"), TAMPER), (expect("5", "2 3\n"), OWN_PROCESS), (expect("600"), BIG_BUT_FAIR)]
    results, _ = judge_many(fresh_backend, items, profile=profile, workers=workers)
    for index in range(0, len(items), 3):
        assert results[index].passed, printed(results[index])
        assert results[index + 1].passed, results[index + 1].reason
        assert results[index + 2].passed, results[index + 2].reason  # PID 1's limits still apply to later tests
    assert fresh_backend.started <= workers  # the same warm sandboxes served every program


# The verdict oracle: a register that survives the job. A writer stores a number in PID 1's (or the
# runner's) soft limits; the next program, forked from PID 1, reads its own inherited limits.
WRITE_REGISTER = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for target in (1, os.getppid()):
    for resource in (12, 7, 8):  # MSGQUEUE, NOFILE, MEMLOCK: soft limits below the hard ones
        old = (ctypes.c_ulonglong * 2)()
        libc.prlimit64(target, resource, None, ctypes.byref(old))
        new = (ctypes.c_ulonglong * 2)(min(old[1], 777), old[1])
        libc.prlimit64(target, resource, ctypes.byref(new), None)
print("written")
"""
READ_REGISTER = r"""
text = open("/proc/self/limits").read() + open("/proc/1/limits").read()
print("777 found" if " 777 " in text else "clean")
"""


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_no_register_in_pid_1_survives_a_job(fresh_backend, profile, workers):
    items = [(expect("written"), WRITE_REGISTER)] * workers + [(expect("clean"), READ_REGISTER)] * (2 * workers)
    results, _ = judge_many(fresh_backend, items, profile=profile, workers=workers)
    for result in results[workers:]:
        assert result.passed, printed(result)


def test_a_sandbox_whose_pid_1_changed_is_not_clean():
    """The runner compares PID 1's limits and scheduling with what PID 1 recorded at its start (the
    host discards a sandbox that is not clean): checked here on a process of the test's own."""
    import resource

    from xcoder_assets.sandbox import supervisor

    recorded = supervisor.process_state("self")
    assert supervisor.process_state("self") == recorded
    soft, hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)
    try:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (min(soft, hard, 4711) - 1, hard))
        assert supervisor.process_state("self") != recorded
    finally:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (soft, hard))


# ---- 2. PID 1 never holds a job's data, even when a program killed its runner ---------------------

PLANT_AND_KILL_RUNNER = r"""
import ctypes, os
for name in SECRETS:
    os.close(os.open("/tmp/" + name, os.O_WRONLY | os.O_CREAT, 0o600))
    os.mkdir("/tmp/d-" + name)
ctypes.CDLL(None).kill(os.getppid(), 9)  # the runner dies: PID 1 cleans up after it
import time
time.sleep(5)
"""

MEMORY_SCANNER = MEMORY_SCANNER_OF.replace("WORD", "residue")


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_pid_1_keeps_nothing_of_a_program_that_killed_its_runner(fresh_backend, profile, workers):
    names = [f"xcoder-residue-{secrets.token_hex(8)}" for _ in range(40)]
    planter = f"SECRETS = {names!r}\n" + PLANT_AND_KILL_RUNNER
    # every worker's sandbox gets a planter first, then scans
    items = [(expect("never"), planter)] * workers + [(expect("none"), MEMORY_SCANNER)] * (2 * workers)
    results, _ = judge_many(fresh_backend, items, profile=profile, workers=workers)
    assert not any(r.passed for r in results[:workers])
    for result in results[workers:]:
        assert result.passed, printed(result)[:300]
    assert fresh_backend.started == workers  # the scans ran in the sandboxes the planters had used


# ---- 3. only the socket families a program needs ------------------------------------------------

SOCKETS = r"""
import ctypes, errno, platform
libc = ctypes.CDLL(None, use_errno=True)
machine = platform.machine()
SOCKET, SOCKETPAIR, IO_URING_SETUP = {"x86_64": (41, 53, 425), "aarch64": (198, 199, 425)}[machine]
families = {"vsock": 40, "netlink": 16, "packet": 17, "alg": 38, "key": 15, "xdp": 44, "tipc": 30,
            "rds": 21, "can": 29, "bluetooth": 31, "qipcrtr": 42, "smc": 43, "mctp": 45, "appletalk": 5,
            "unspec": 0, "vsock+high bits": 40 | (1 << 32)}
reached = []
for name, family in families.items():
    for kind in (1, 2, 3, 5):
        fd = libc.syscall(SOCKET, ctypes.c_long(family), kind, 0)
        if fd >= 0:
            reached.append(f"{name}/{kind}")
            libc.close(fd)
    pair = (ctypes.c_int * 2)()
    if libc.syscall(SOCKETPAIR, ctypes.c_long(family), 1, 0, pair) == 0:
        reached.append(f"{name} pair")
if machine == "x86_64":  # the x32 ABI's socket call, in a child: Docker's filter kills the caller (SIGSYS)
    import os
    child = libc.fork()
    if child == 0:
        os._exit(1 if libc.syscall(0x40000000 | 41, 40, 1, 0) >= 0 else 0)
    if os.waitpid(child, 0)[1] == 1 << 8:
        reached.append("vsock through x32")
params = ctypes.create_string_buffer(120)
fd = libc.syscall(IO_URING_SETUP, 4, params)
if fd >= 0:
    reached.append("io_uring")
needed = []
for name, family, kind in (("unix", 1, 1), ("inet", 2, 1), ("inet6", 10, 2)):
    fd = libc.syscall(SOCKET, family, kind, 0)
    if fd < 0 and ctypes.get_errno() != errno.EAFNOSUPPORT:
        needed.append(name)
    libc.close(fd)
pair = (ctypes.c_int * 2)()
if libc.syscall(SOCKETPAIR, 1, 1, 0, pair) != 0:
    needed.append("unix pair")
print("reached: " + " ".join(reached) if reached else "refused", "missing: " + " ".join(needed) if needed else "ok")
"""


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_only_unix_and_inet_sockets_and_no_io_uring(sandbox, profile, workers):
    results, _ = judge_many(
        sandbox, [(expect("refused ok"), SOCKETS)] * (2 * workers), profile=profile, workers=workers
    )
    assert all(r.passed for r in results), [printed(r) for r in results]


# ---- 4. counters that survive the wipe: closed where rewards come from ---------------------------


def _load_benchmark():
    """benchmarks/residual_channels.py: its writer and reader are the programs of this channel."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "residual_channels", PROJECT_ROOT / "benchmarks" / "residual_channels.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHANNEL = _load_benchmark()
# Moves the sandbox's next PID and next tmpfs inode number on by MARK, then prints "marked".
MARK_COUNTERS = CHANNEL.WRITER + 'print("marked")\n'
READ_COUNTERS = CHANNEL.READER


def _reward_for(reward, code: str, expected: str) -> float:
    """The reward of one completion through the reward function, as TRL calls it; a sandbox failure
    (not the program's doing) fails the test with its reason instead of passing for a wrong reward."""
    completion = f"<think>t</think>\n```python\n{code}\n```"
    tests = [{"input": "", "output": expected + "\n"}]
    before = reward.counts["sandbox_failure"]
    value = reward([completion], problem_id=["p"], tests=[tests])[0]
    assert reward.counts["sandbox_failure"] == before, "the sandbox failed (not the program)"
    return value


@pytest.mark.parametrize("name", ["bwrap", "docker"])
def test_the_rl_reward_runs_every_completion_in_a_fresh_sandbox(name, request):
    """The PID and tmpfs inode counters are a channel between programs of one warm sandbox (see
    docs/sandbox.md): the RL reward, where programs are adversarial, closes it with a sandbox per completion.
    (A fresh container's first PIDs vary by a few with Docker's own start-up, so the reader's PID is
    checked against the writer's marks, not to the digit.)"""
    request.getfixturevalue(f"{name}_backend")
    from xcoder_assets.launched.reward import SandboxReward

    reward = SandboxReward(name, workers=1)
    try:
        assert reward.backend.fresh_sandbox
        alone_pid, alone_inode = map(int, printed(judge_solution(reward.backend, expect(""), READ_COUNTERS)).split())
        for mark in (7, 40):
            started = reward.backend.started
            assert _reward_for(reward, f"MARK = {mark}\n" + MARK_COUNTERS, "marked") == 5.0
            assert reward.backend.started == started + 1  # the completion had a sandbox of its own
            pid, inode = map(int, printed(judge_solution(reward.backend, expect(""), READ_COUNTERS)).split())
            assert inode == alone_inode and pid < alone_pid + mark, (mark, pid, inode, alone_pid, alone_inode)
    finally:
        reward.close()


# ---- 5. output past the cap is always output_limit -----------------------------------------------

# The whole output is written in one call into a pipe made 1 MiB large, then the program exits at
# once: most of it is still in the pipe when the judge sees the exit.
PAST_THE_CAP = r"""
import fcntl, os
fcntl.fcntl(1, 1031, 1 << 20)  # F_SETPIPE_SZ
data = b"42\n" + b"\n" * (CAP - 3) + b"wrong " * 60000
view = memoryview(data)
while view:
    view = view[os.write(1, view):]
os._exit(0)
"""


@pytest.mark.parametrize("workers", WORKERS)
def test_output_past_the_cap_is_an_output_limit(fresh_backend, workers):
    cap = 256 << 10
    limits = Limits(output_bytes=cap)
    # A race before the fix: measured 1 in 40 programs graded OK with 1 worker, 14 in 40 with 2
    items = [(expect("42"), f"CAP = {cap}\n" + PAST_THE_CAP)] * 80
    results, _ = judge_many(fresh_backend, items, limits=limits, workers=workers)
    assert [r.verdict for r in results] == [Verdict.OUTPUT_LIMIT] * len(items), [r.reason for r in results]


def test_every_byte_read_counts_against_the_cap():
    from xcoder_assets.sandbox.supervisor import CappedStream

    stream = CappedStream(10)
    assert not stream.take(b"a" * 6)
    assert stream.take(b"b" * 6)  # 12 bytes: past the cap, whether read during the run or in the drain
    assert stream.text() == "aaaaaabbbb" and stream.size == 12


# ---- 6. the checker sees the whole answer --------------------------------------------------------

PERMUTATION_CHECKER = r"""
import json, sys
case = json.loads(sys.stdin.read())
n = int(case["input"])
values = case["output"].split()
sys.exit(0 if sorted(map(int, values)) == list(range(1, n + 1)) else 1)
"""


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_a_checker_judges_a_long_answer_whole(sandbox, profile, workers):
    problem = Problem(
        "perm", (TestCase("2000\n", " ".join(map(str, range(1, 2001))) + "\n"),), checker=PERMUTATION_CHECKER
    )
    shuffled = "n = int(input())\nprint(*reversed(range(1, n + 1)))\n"
    truncated = "n = int(input())\nprint(*reversed(range(2, n + 1)))\n"
    results, _ = judge_many(
        sandbox, [(problem, shuffled), (problem, truncated)] * workers, profile=profile, workers=workers
    )
    assert [r.verdict for r in results] == [Verdict.OK, Verdict.WRONG_ANSWER] * workers, [r.reason for r in results]


# ---- 7. strict's exit rule: what CPython runs to a correct exit passes -----------------------------

AT_EXIT = "import atexit\na, b = map(int, input().split())\natexit.register(lambda: print(a + b))\n"
POOL_LEFT_OPEN = (
    "import multiprocessing\na, b = map(int, input().split())\npool = multiprocessing.Pool(2)\n"
    "print(sum(pool.map(abs, [a, b])))\n"
)
ZOMBIE = "import os\nif os.fork() == 0:\n    os._exit(0)\nimport time\ntime.sleep(0.05)\na, b = map(int, input().split())\nprint(a + b)\n"
DAEMON = "import os, time\nif os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\nprint(5)\n"


@pytest.mark.parametrize("workers", WORKERS)
def test_strict_passes_what_cpython_runs_to_a_correct_exit(fresh_backend, workers):
    items = [(expect("5", "2 3\n"), code) for code in (AT_EXIT, POOL_LEFT_OPEN, ZOMBIE)] * workers
    results, _ = judge_many(fresh_backend, items, workers=workers)
    assert all(r.passed for r in results), [(r.verdict, r.reason) for r in results]
    daemon = judge_solution(fresh_backend, expect("5"), DAEMON)
    assert daemon.verdict is Verdict.RUNTIME_ERROR and "process" in daemon.reason  # still running: a failure


def test_the_lcb_profile_keeps_the_harness_rule(fresh_backend):
    """The official harness disables fork: a program that forks fails there and in profile lcb."""
    assert not judge_solution(fresh_backend, expect("5", "2 3\n"), ZOMBIE, profile="lcb").passed


def test_the_residual_channel_benchmark_runs_and_the_fresh_sandbox_closes_it(bwrap_backend):
    """benchmarks/residual_channels.py at a tiny size: warm sandboxes carry the counters, fresh ones not."""
    warm, fresh = (CHANNEL.measure("bwrap", fresh, trials=2, seconds=0.1) for fresh in (False, True))
    assert warm["pid"] == warm["inode"] == "2/2 decoded", warm
    assert fresh["pid"] == fresh["inode"] == "0/2 decoded", fresh
