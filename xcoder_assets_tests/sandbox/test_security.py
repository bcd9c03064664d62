"""The security suite, against both real backends: every attack fails, the host is unchanged, no
process outlives its run, and the judge finishes the batch."""

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from xcoder_assets.sandbox.backends import SUPERVISOR_SOURCE
from xcoder_assets.sandbox.judge import Problem, TestCase, Verdict, judge_many, judge_solution

SECRET = "sk-xcoder-test-secret-4711"


def one_test(expected: str, given: str = "") -> Problem:
    return Problem("attack", (TestCase(given, expected + "\n"),))


def sandbox_processes(backend) -> list[int]:
    """Host processes still running under the uids this backend's sandboxes used (only its own: other
    judges on the machine have uids of their own)."""
    if backend.used_uids:
        uids = set(backend.used_uids)
    else:  # without root the sandbox runs as the user: look for our supervisor's own command line instead
        uids = None
    marker = SUPERVISOR_SOURCE.splitlines()[0].encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        if (uids is not None and uid in uids) or (uids is None and marker in cmdline):
            found.append(int(name))
    return found


@pytest.fixture
def host_files(tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    os.chmod(tmp_path, 0o755)
    os.chmod(secret_file, 0o644)  # readable by anyone on the host: only isolation keeps it out
    return secret_file


def test_environment_secrets_are_invisible(sandbox, monkeypatch):
    monkeypatch.setenv("XCODER_TEST_SECRET", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    code = "import os\nprint(os.environ.get('XCODER_TEST_SECRET') or os.environ.get('OPENAI_API_KEY'))\n"
    result = judge_solution(sandbox, one_test(SECRET), code)
    assert result.verdict is Verdict.WRONG_ANSWER and result.tests[0].output.strip() == "None"
    host_environ = "print(open('/proc/1/environ').read())\n"
    assert not judge_solution(sandbox, one_test(SECRET), host_environ).passed


def test_host_files_are_unreadable(sandbox, host_files):
    code = f"print(open({str(host_files)!r}).read())\n"
    result = judge_solution(sandbox, one_test(SECRET), code)
    assert result.verdict is Verdict.RUNTIME_ERROR and "FileNotFoundError" in result.reason
    home = Path.home()
    listing = f"import os\nprint(sorted(os.listdir({str(home)!r})))\n"
    assert not judge_solution(sandbox, one_test(str(sorted(os.listdir(home)))), listing).passed


def test_no_network_to_the_host(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []
    judged = threading.Event()

    def accept():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except socket.timeout:
                if judged.is_set():  # the program has ended and nothing waits in the backlog
                    return
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "s.sendall(b'stolen')\nprint('connected')\n"
    )
    result = judge_solution(sandbox, one_test("connected"), code)
    judged.set()
    thread.join()
    server.close()
    assert not result.passed and result.verdict is Verdict.RUNTIME_ERROR
    assert accepted == []
    dns = "import socket\nprint(socket.gethostbyname('localhost.localdomain.example'))\n"
    assert not judge_solution(sandbox, one_test("93.184.216.34"), dns).passed


def test_host_files_cannot_be_written_or_deleted(sandbox, host_files):
    target_dir = host_files.parent
    code = (
        f"import os\nos.remove({str(host_files)!r})\n"
        f"open(os.path.join({str(target_dir)!r}, 'planted.txt'), 'w').write('x')\nprint('done')\n"
    )
    result = judge_solution(sandbox, one_test("done"), code)
    assert not result.passed
    assert host_files.read_text() == SECRET
    assert not (target_dir / "planted.txt").exists()
    project = Path(__file__).resolve().parents[2]
    plant = f"open({str(project / 'PLANTED')!r}, 'w').write('x')\nprint('done')\n"
    assert not judge_solution(sandbox, one_test("done"), plant).passed
    assert not (project / "PLANTED").exists()


ATTACKS = {
    "fork bomb": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        {Verdict.TIME_LIMIT, Verdict.RUNTIME_ERROR},
    ),
    # growing: zero-filling pages costs CPU, so under load the CPU limit may come first
    "memory bomb": (
        "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n",
        {Verdict.MEMORY_LIMIT, Verdict.TIME_LIMIT},
    ),
    "memory grab": ("x = ' ' * (1 << 34)\n", {Verdict.MEMORY_LIMIT}),
    "output bomb": ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", {Verdict.OUTPUT_LIMIT}),
    # the parent is the job runner: killing it fails the program (PID 1, the clean parent, survives)
    "kill the parent": (
        "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)\ntime.sleep(0.2)\n",
        {Verdict.RUNTIME_ERROR},
    ),
    "stop the parent": (
        "import os, signal, time\nos.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(0.5)\nprint(42)\n",
        {Verdict.RUNTIME_ERROR},
    ),
    "kill every process": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n", {Verdict.RUNTIME_ERROR}),
    "detached daemon": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(120)\n    os._exit(0)\nprint('42')\n",
        {Verdict.RUNTIME_ERROR},
    ),
    "signal the host's processes": (
        "import os, signal\nfor pid in range(2, 4000):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\n",
        {Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR},
    ),
}


def test_attacks_fail_and_the_judge_finishes_the_batch(sandbox):
    problem = one_test("42")
    items = [(problem, code) for code, _ in ATTACKS.values()] + [(problem, "print(42)\n")]
    parent = os.getppid()  # 1 already where the test run was started detached
    started = time.monotonic()
    results, stats = judge_many(sandbox, items, workers=2)
    assert time.monotonic() - started < 60
    for (name, (_, allowed)), result in zip(ATTACKS.items(), results):
        assert result.verdict in allowed, (name, result.verdict, result.reason)
        assert not result.passed
    assert results[-1].passed, results[-1].reason  # the batch went on, and honest work still passes
    assert stats.solutions == len(items)
    assert os.getppid() == parent  # the judge's own process tree survived


def test_a_test_holds_only_its_own_stdin_stdout_and_stderr(sandbox):
    """The job runner moves the host's pipe off fd 0 to build the test streams once: no test process
    keeps it (or any other descriptor of the supervisor), and each test reads its own input only."""
    count_fds = (
        "import os, sys\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n"
        "        open_fds.append(fd)\n    except OSError:\n        pass\n"
        "print(sys.stdin.read().strip(), open_fds, os.fstat(0).st_nlink)\n"
    )
    problem = Problem("fds", tuple(TestCase(f"input {i}\n", f"input {i} [] 0\n") for i in range(3)))
    result = judge_solution(sandbox, problem, count_fds)
    assert result.passed, [t.output for t in result.tests]


def test_no_process_outlives_its_run(sandbox):
    daemon = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(120)\n    os._exit(0)\nprint('42')\n"
    )
    judge_solution(sandbox, one_test("42"), daemon)
    sandbox.close()  # the warm sandboxes go too
    deadline = time.monotonic() + 10
    while sandbox_processes(sandbox) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes(sandbox) == []


def test_one_program_leaves_nothing_for_the_next(sandbox):
    """Sandboxes are reused between programs: scratch files and shared memory are wiped in between."""
    plant = (
        "import os\nopen('/tmp/planted', 'w').write('x')\nos.makedirs('/tmp/d/e')\nos.chmod('/tmp/d', 0)\n"
        "open('/dev/shm/planted', 'w').write('x') if os.path.isdir('/dev/shm') else None\nprint('42')\n"
    )
    look = "import os\nprint(sorted(os.listdir('/tmp')) + (sorted(os.listdir('/dev/shm')) if os.path.isdir('/dev/shm') else []))\n"
    results, _ = judge_many(sandbox, [(one_test("42"), plant), (one_test("[]"), look)], workers=1)
    assert results[0].passed and results[1].passed, results[1].tests[0].output
