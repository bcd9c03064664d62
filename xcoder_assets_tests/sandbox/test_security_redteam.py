"""The security suite, part two: the red team's attacks (issue 8), on both real backends and, where
an attack applies to it, both profiles. Each of these passed, or broke the judge, before the fix."""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xcoder_assets.sandbox.backends import Limits, make_backend
from xcoder_assets.sandbox.judge import Problem, TestCase, Verdict, judge_many, judge_solution

PROFILES = ["strict", "lcb"]


def expect(output: str, given: str = "") -> Problem:
    return Problem("attack", (TestCase(given, output + "\n"),))


def root_only(reason: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root (cgroups, host uids): {reason}")


# ---- 1. expected answers and other programs' outputs never reach a later program --------------

# A program that lists every "xcoder-<WORD>-<16 hex>" string in its own readable memory.
MEMORY_SCANNER_OF = r"""
import ctypes, os, re
fd = os.open("/proc/self/maps", os.O_RDONLY)
maps = b""
while True:
    block = os.read(fd, 1 << 16)
    if not block:
        break
    maps += block
os.close(fd)
pattern = re.compile(rb"xcoder-" + rb"WORD-[0-9a-f]{16}")
found = set()
for line in maps.decode().splitlines():
    parts = line.split()
    start, end = (int(x, 16) for x in parts[0].split("-"))
    if not parts[1].startswith("r") or end - start > (512 << 20) or (len(parts) > 5 and parts[5].startswith("[v")):
        continue
    found.update(pattern.findall(ctypes.string_at(start, end - start)))  # every readable page of our memory
print(" ".join(sorted(x.decode() for x in found)) or "none")
"""
MEMORY_SCANNER = MEMORY_SCANNER_OF.replace("WORD", "secret")


@pytest.mark.parametrize("profile", PROFILES)
def test_no_expected_answer_or_earlier_output_in_a_later_programs_memory(fresh_backend, profile):
    checked_answer = f"xcoder-secret-{secrets.token_hex(8)}"
    printed_answer = f"xcoder-secret-{secrets.token_hex(8)}"
    checker = "import json, sys\ncase = json.loads(sys.stdin.read())\nsys.exit(0 if case['output'].strip() == case['expected'].strip() else 1)\n"
    with_checker = Problem("checked", (TestCase("", checked_answer + "\n"),), checker=checker)
    judge_solution(fresh_backend, with_checker, "print('a wrong answer')\n", profile=profile)
    assert judge_solution(fresh_backend, expect(printed_answer), f"print({printed_answer!r})\n", profile=profile).passed
    scan = judge_solution(fresh_backend, expect(checked_answer), MEMORY_SCANNER, profile=profile)
    assert scan.tests and "xcoder-secret" not in scan.tests[0].output, scan.tests[0].output
    assert scan.tests[0].output.strip() == "none", scan.reason
    assert fresh_backend.started <= 2  # warm sandboxes were reused: the scan ran where the answers had been


# ---- 2. keyrings, new namespaces ------------------------------------------------------------------

KEYRINGS_AND_NAMESPACES = r"""
import ctypes, os, platform
add_key, request_key, keyctl, unshare, clone = {"x86_64": (248, 249, 250, 272, 56),
                                                 "aarch64": (217, 218, 219, 97, 220)}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
SESSION, USER = ctypes.c_long(-3), ctypes.c_long(-4)
reached = []
if libc.syscall(add_key, b"user", b"xcoder-plant", b"payload", 7, USER) != -1:
    reached.append("add_key")
if libc.syscall(keyctl, 0, SESSION, 0) != -1:
    reached.append("keyctl")
if libc.syscall(request_key, b"user", b"xcoder-plant", None, 0) != -1:
    reached.append("request_key")
if libc.syscall(unshare, 0x10000000) != -1:
    reached.append("unshare(user)")
pid = libc.syscall(clone, 0x10000000 | 17, 0, 0, 0, 0)  # a nested user namespace through clone
if pid == 0:
    os._exit(0)
if pid > 0:
    os.waitpid(pid, 0)
    reached.append("clone(user)")
print(" ".join(reached) or "refused")
"""


@pytest.mark.parametrize("profile", PROFILES)
def test_keyrings_and_new_namespaces_are_refused(sandbox, profile):
    result = judge_solution(sandbox, expect("refused"), KEYRINGS_AND_NAMESPACES, profile=profile)
    assert result.passed, (result.tests[0].output if result.tests else "", result.reason)


def test_the_judges_own_keyring_is_not_shared(bwrap_backend):
    """A key the judge holds in its session keyring is not readable from a sandbox."""
    import ctypes
    import platform

    numbers = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(platform.machine())
    if numbers is None:
        pytest.skip("keyring syscall numbers known for x86_64 and aarch64 only")
    libc = ctypes.CDLL(None, use_errno=True)
    secret = f"xcoder-secret-{secrets.token_hex(8)}".encode()
    key = libc.syscall(numbers[0], b"user", b"xcoder-judge-key", secret, len(secret), ctypes.c_long(-3))
    if key == -1:
        pytest.skip("this host refuses keyrings to the judge too")
    try:
        code = (
            f"import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nbuf = ctypes.create_string_buffer(256)\n"
            f"n = libc.syscall({numbers[1]}, 11, {key}, buf, 256)\nprint(buf.raw[:n].decode() if n > 0 else 'refused')\n"
        )
        result = judge_solution(bwrap_backend, expect("refused"), code)
        assert result.passed, result.tests[0].output
    finally:
        libc.syscall(numbers[1], 3, key)  # KEYCTL_REVOKE


# ---- 3. host memory outside every limit -----------------------------------------------------------

READ_ONLY_ROOTS = r"""
import posix
writable = []
for path in ("/planted", "/etc/planted", "/dev/planted", "/usr/planted", "/proc/planted"):
    try:
        posix.close(posix.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644))
        writable.append(path)
    except OSError:
        pass
try:
    posix.unlink("/dev/stdin")
    writable.append("/dev/stdin")
except OSError:
    pass
print(" ".join(writable) or "read-only")
"""


@pytest.mark.parametrize("profile", PROFILES)
def test_root_etc_and_dev_are_read_only(sandbox, profile):
    result = judge_solution(sandbox, expect("read-only"), READ_ONLY_ROOTS, profile=profile)
    assert result.passed, (result.tests[0].output if result.tests else "", result.reason)


FILL = r"""
import posix
written, chunk = 0, b"x" * (8 << 20)
try:
    for n in range(12):
        fd = posix.open(f"{TARGET}/fill{n}", posix.O_WRONLY | posix.O_CREAT, 0o644)
        try:
            posix.write(fd, chunk)
            written += len(chunk)
        finally:
            posix.close(fd)
except OSError:
    pass
print("capped" if written <= (64 << 20) else f"uncapped {written >> 20} MiB")
"""


@pytest.mark.parametrize("target", ["/dev/shm", "/tmp"])  # /tmp was capped before: the control
def test_scratch_space_is_capped_wherever_a_program_writes(sandbox, target):
    result = judge_solution(sandbox, expect("capped"), FILL.replace("{TARGET}", target))
    assert result.passed, (result.tests[0].output if result.tests else "", result.reason)


INODES = r"""
import posix
made = 0
try:
    while made < 100_000:
        posix.close(posix.open(f"/tmp/f{made}", posix.O_WRONLY | posix.O_CREAT, 0o644))
        made += 1
except OSError:
    pass
print("capped" if made < 100_000 else "uncapped")
"""


def test_empty_files_are_capped(sandbox):
    if sandbox.name == "bwrap":
        root_only("the inode cap needs a tmpfs mounted by root")
    limits = Limits(cpu_s=20, wall_s=40)
    started = time.monotonic()
    result = judge_solution(sandbox, expect("capped"), INODES, limits=limits)
    assert result.passed, (result.tests[0].output if result.tests else "", result.reason)
    # and the wipe after it leaves the sandbox usable: the next program passes
    assert judge_solution(sandbox, expect("5", "2 3\n"), "a, b = map(int, input().split())\nprint(a + b)\n").passed
    assert time.monotonic() - started < 60


MANY_PROCESSES_MEMORY = r"""
import os, time
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        block = b"\x01" * (200 << 20)  # written, so resident: each child stays under its own address-space limit
        time.sleep(1.5)
        os._exit(0)
    children.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
print("held" if all(s == 0 for s in statuses) else "limited")
"""


def test_memory_is_capped_for_the_whole_sandbox(sandbox):
    if sandbox.name == "bwrap":
        root_only("a memory cgroup per sandbox")
    limits = Limits(cpu_s=10, wall_s=20, memory_bytes=256 << 20, processes=16)
    result = judge_solution(sandbox, expect("held"), MANY_PROCESSES_MEMORY, limits=limits)
    assert not result.passed and (not result.tests or result.tests[0].output.strip() != "held"), result.reason


# ---- 4. programs in one warm sandbox never reach each other ---------------------------------------

PLANT = r"""
import ctypes, posix
libc = ctypes.CDLL(None, use_errno=True)
try:
    posix.chmod("/tmp", 0)
except OSError:
    pass
fd = posix.open("/tmp", posix.O_RDONLY) if posix.access("/tmp", posix.X_OK) else None
if fd is None:
    pass
else:
    for level in range(1100):  # deeper than PATH_MAX (1100 x 9 bytes)
        posix.mkdir("dddddddd", 0o700, dir_fd=fd)
        child = posix.open("dddddddd", posix.O_RDONLY, dir_fd=fd)
        posix.close(fd)
        fd = child
    posix.close(posix.open("leaf", posix.O_WRONLY | posix.O_CREAT, 0o600, dir_fd=fd))
    posix.chmod("/tmp/dddddddd", 0)
    posix.mkdir("/tmp/shut", 0o700)
    posix.close(posix.open("/tmp/shut/inside", posix.O_WRONLY | posix.O_CREAT, 0o600))
    posix.chmod("/tmp/shut", 0)
for path in ("/dev/shm/planted", "/planted", "/etc/planted", "/dev/planted"):
    try:
        posix.close(posix.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644))
    except OSError:
        pass
try:
    posix.unlink("/dev/stdin")
    posix.symlink("/dev/null", "/dev/stdin")
except OSError:
    pass
libc.mq_open(b"/xcoder-plant", 0o102, 0o666, None)  # O_CREAT | O_RDWR
libc.msgget(4711, 0o1666)  # IPC_CREAT | 0666
libc.semget(4712, 1, 0o1666)
libc.shmget(4713, 4096, 0o1666)
print(42)
"""

LOOK = r"""
import ctypes, posix
libc = ctypes.CDLL(None, use_errno=True)
found = []
for root in ("/tmp", "/dev/shm"):
    try:
        found += [root + "/" + name for name in posix.listdir(root)]
    except OSError as exc:
        found.append(f"{root}: {exc}")
for path in ("/planted", "/etc/planted", "/dev/planted"):
    if posix.access(path, posix.F_OK):
        found.append(path)
if libc.mq_open(b"/xcoder-plant", 0, 0, None) != -1:
    found.append("POSIX message queue")
if libc.msgget(4711, 0) != -1:
    found.append("SysV message queue")
if libc.semget(4712, 0, 0) != -1:
    found.append("SysV semaphore")
if libc.shmget(4713, 0, 0) != -1:
    found.append("SysV shared memory")
print(" ".join(found) or "clean")
"""

HONEST = (
    "import posix\nfd = posix.open('/tmp/work', posix.O_WRONLY | posix.O_CREAT, 0o600)\nposix.write(fd, b'x')\n"
    "posix.close(fd)\nimport sys\na, b = map(int, sys.stdin.readline().split())\nprint(a + b)\n"
)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_warm_sandbox_carries_nothing_to_the_next_program(fresh_backend, profile):
    items = [(expect("42"), PLANT), (expect("clean"), LOOK), (expect("5", "2 3\n"), HONEST)]
    results, _ = judge_many(fresh_backend, items, profile=profile, workers=1)
    assert results[0].passed, results[0].reason
    assert results[1].passed, results[1].tests[0].output if results[1].tests else results[1].reason
    assert results[2].passed, results[2].reason  # not a sandbox failure after the 1,100-level tree
    assert fresh_backend.started == 1  # one sandbox, wiped clean in between (a failed wipe discards it)


def test_a_replaced_dev_stdin_cannot_fail_the_next_program(fresh_backend):
    reader = "import sys\nprint(sum(map(int, open('/dev/stdin').read().split())))\n"
    results, _ = judge_many(fresh_backend, [(expect("42"), PLANT), (expect("5", "2 3\n"), reader)], workers=1)
    assert results[1].passed, results[1].reason


@pytest.mark.parametrize("name", ["bwrap", "docker"])
def test_a_fresh_sandbox_per_program(name, request):
    request.getfixturevalue(f"{name}_backend")
    with make_backend(name, fresh_sandbox=True) as backend:
        items = [(expect("42"), PLANT), (expect("clean"), LOOK), (expect("5", "2 3\n"), HONEST)]
        results, _ = judge_many(backend, items, workers=1)
        assert [r.passed for r in results] == [True, True, True], [r.reason for r in results]
        assert backend.started == 3


# ---- 5. CPU time cannot hide, and sandboxes cannot starve each other -----------------------------

HIDDEN_WORKERS = r"""
import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are auto-reaped: their time reaches no rusage
workers = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        start = time.process_time()
        while time.process_time() - start < 0.9:
            pass
        os._exit(0)
    workers.append(pid)
while any(os.path.exists(f"/proc/{pid}") for pid in workers):
    time.sleep(0.01)
print(42)
"""


def test_cpu_time_of_auto_reaped_workers_counts(sandbox):
    root_only("the sandbox's cgroup counts every process")
    limits = Limits(cpu_s=1, wall_s=10)
    result = judge_solution(sandbox, expect("42"), HIDDEN_WORKERS, limits=limits)
    assert result.verdict is Verdict.TIME_LIMIT, (result.verdict, result.reason, [t.cpu_s for t in result.tests])
    assert result.tests[0].cpu_s >= 1.5


SPINNERS = r"""
import posix, time
end = time.time() + 9
for _ in range(27):
    if posix.fork() == 0:
        posix.setsid()  # a session each: the scheduler's autogroups no longer lump them together
        break
while time.time() < end:
    pass
print(0)
"""
BUSY = "total = 0\nfor i in range(30_000_000):\n    total += i\nprint(total)\n"


def test_spinning_processes_do_not_starve_a_neighbour(sandbox):
    """28 spinning processes in one sandbox; a neighbour's CPU-bound program still ends inside
    LiveCodeBench's 6 s wall-clock limit, as it does alone (without a quota it took ~8x longer)."""
    root_only("a CPU quota per sandbox")
    import threading

    busy_expected = str(sum(range(30_000_000)))
    alone = judge_solution(sandbox, expect(busy_expected), BUSY, profile="lcb")
    assert alone.passed, alone.reason
    spun = {}
    attacker = threading.Thread(
        target=lambda: spun.setdefault(
            "result", judge_solution(sandbox, expect("0"), SPINNERS, limits=Limits(cpu_s=30, wall_s=12))
        )
    )
    attacker.start()
    time.sleep(1.5)  # the spinners are running
    neighbour = judge_solution(sandbox, expect(busy_expected), BUSY, profile="lcb")
    attacker.join()
    assert neighbour.passed, (neighbour.verdict, neighbour.reason, alone.time_s)
    spinner = spun["result"].tests[0]
    assert spinner.cpu_s <= spinner.wall_s * 1.3 + 0.2, (spinner.cpu_s, spinner.wall_s)  # one core's worth at most


# ---- 6. hostile outputs reach the comparison safely -----------------------------------------------


@pytest.mark.parametrize(
    "printed, expected, passes",
    [
        ("1e999999999999999999", "1", False),
        ("1e999999999999999999", "1e999999999999999999", True),
        ("12345678901234567890123456789", "12345678901234567890123456788", False),
        ("sNaN", "1", False),
        ("1e9999999", "1", False),
    ],
)
def test_hostile_outputs_are_compared_exactly(sandbox, printed, expected, passes):
    result = judge_solution(sandbox, expect(expected), f"print({printed!r})\n")
    assert result.passed is passes and result.verdict in (Verdict.OK, Verdict.WRONG_ANSWER), result.reason


# ---- two judges on one machine ---------------------------------------------------------------------

ORDINARY = [
    "a, b = map(int, input().split())\nprint(a + b)\n",
    "a, b = map(int, input().split())\nprint(a - b)\n",
    "print(int(input().split()[0]) * 2)\n",
    "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
    "while True:\n    pass\n",
    "print(1 / 0)\n",
] * 3
# Each attack is far from every limit but the one it hits, so its verdict does not depend on how fast
# the machine is: a bomb that touches its blocks page by page reaches 1 GiB at a speed that varies from
# about 0.3 s to over 3 s of CPU between hosts and loads, on either side of the 1 s limit. So the memory
# pressure (600 MB touched, then spinning: time limit) and the address-space bomb (untouched blocks:
# memory limit in a tenth of a second) are two attacks.
ATTACK_CODES = [
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "block = bytearray(600_000_000)\nwhile True:\n    pass\n",
    "blocks = []\nwhile True:\n    blocks.append(bytes(50_000_000))\n",
    "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
    "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(120)\n    os._exit(0)\nprint(5)\n",
    HIDDEN_WORKERS,
    KEYRINGS_AND_NAMESPACES,
    PLANT,
    LOOK,
    READ_ONLY_ROOTS,
]


def _lcb_files(folder: Path, name: str, codes: list[str]) -> tuple[Path, Path]:
    tests = [
        {"input": "2 3\n", "output": "5\n", "testtype": "stdin"},
        {"input": "4 1\n", "output": "5\n", "testtype": "stdin"},
    ]
    row = {
        "question_id": name,
        "question_title": name,
        "question_content": "a + b",
        "platform": "atcoder",
        "contest_id": "x",
        "contest_date": "2025-01-01T00:00:00",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": json.dumps(tests),
        "private_test_cases": "[]",
        "metadata": "{}",
    }
    problems, generations = folder / f"{name}.jsonl", folder / f"{name}.gen.json"
    problems.write_text(json.dumps(row) + "\n")
    generations.write_text(json.dumps([{"question_id": name, "code_list": codes}]))
    return problems, generations


def _judge_command(folder: Path, name: str, codes: list[str], backend: str) -> list[str]:
    problems, generations = _lcb_files(folder, name, codes)
    return [
        sys.executable,
        "-m",
        "xcoder_assets.cli",
        "judge",
        "--problems",
        str(problems),
        "--generations",
        str(generations),
        "--out",
        str(folder / f"{name}.out.json"),
        "--sandbox",
        backend,
        "--workers",
        "2",
        "--timeout",
        "1",
    ]


def _graded(folder: Path, name: str) -> list:
    rows = json.loads((folder / f"{name}.out.json").read_text())
    return [(d["verdict"], d["lcb_results"]) for d in rows[0]["details"]]


def _uids(stdout: str) -> set[int]:
    line = next((l for l in stdout.splitlines() if l.startswith("sandboxes:")), "")
    return {int(u) for u in line.split("host uids ")[1].split(",")} if "host uids " in line else set()


@pytest.mark.parametrize("name", ["bwrap", "docker"])
def test_two_judges_side_by_side_grade_as_alone_and_share_no_uid(tmp_path, name, request):
    root_only("host uids per sandbox")
    request.getfixturevalue(f"{name}_backend")
    commands = {
        "attacks": _judge_command(tmp_path, "attacks", ATTACK_CODES, name),
        "ordinary": _judge_command(tmp_path, "ordinary", ORDINARY, name),
    }
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    alone = {}
    for key, command in commands.items():
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        alone[key] = _graded(tmp_path, key)
    together = {
        key: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for key, command in commands.items()
    }
    outputs = {key: process.communicate(timeout=300) for key, process in together.items()}
    for key, process in together.items():
        assert process.returncode == 0, outputs[key][1][-2000:]
        assert _graded(tmp_path, key) == alone[key], key
    attack_uids, ordinary_uids = _uids(outputs["attacks"][0]), _uids(outputs["ordinary"][0])
    assert attack_uids and ordinary_uids
    assert not attack_uids & ordinary_uids
