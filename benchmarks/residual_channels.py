"""The channels that remain between two programs judged one after the other in one warm sandbox: the
next PID of its PID namespace and the next inode number of its tmpfs (docs/sandbox.md, "Channels that remain").

For each backend and for warm and fresh sandboxes, a writer moves the counters by a secret N and the
next program reads its own PID and a new file's inode number; the reader decodes N as the distance to
what it reads after a writer with N = 0. Prints, per channel, whether N was recovered in every trial
and the channel's capacity: log2 of how far one program moves the counter within the strict profile's
CPU limit (the PID counter wraps at pid_max).

    .venv/bin/python benchmarks/residual_channels.py [--backends bwrap,docker] [--trials 5] [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import math
import random

from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend
from xcoder_assets.sandbox.judge import Problem, TestCase, judge_solution

WRITER = r"""
import os
for _ in range(MARK):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
for _ in range(MARK):
    os.close(os.open("/tmp/x", os.O_WRONLY | os.O_CREAT))
    os.unlink("/tmp/x")
"""
READER = "import os\nos.close(os.open('/tmp/probe', os.O_WRONLY | os.O_CREAT))\nprint(os.getpid(), os.stat('/tmp/probe').st_ino)\n"
# How far one program moves each counter within its CPU time: the channel's alphabet.
CAPACITY = r"""
import os, time
forks, files, end = 0, 0, time.process_time() + SECONDS / 2
while time.process_time() < end:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    forks += 1
end = time.process_time() + SECONDS / 2
while time.process_time() < end:
    os.close(os.open("/tmp/x", os.O_WRONLY | os.O_CREAT))
    os.unlink("/tmp/x")
    files += 1
print(forks, files, open("/proc/sys/kernel/pid_max").read().strip())
"""
ANY = Problem("channel", (TestCase("", "\n"),))


def output(backend, code: str) -> str:
    result = judge_solution(backend, ANY, code)
    return result.tests[0].output.strip() if result.tests else ""


def read_after(backend, mark: int) -> tuple[int, int]:
    output(backend, f"MARK = {mark}\n" + WRITER)
    pid, inode = output(backend, READER).split()
    return int(pid), int(inode)


def measure(name: str, fresh: bool, trials: int, seconds: float) -> dict[str, object]:
    with make_backend(name, fresh_sandbox=fresh) as backend:
        forks, files, pid_max = (int(x) for x in output(backend, f"SECONDS = {seconds}\n" + CAPACITY).split())
        # The counters move by a constant between two readers (the runner's and the tests' own PIDs and
        # files): measured with N = 0, then each reader decodes N from the distance to the reader before.
        first, previous = read_after(backend, 0), read_after(backend, 0)
        step = [b - a for a, b in zip(first, previous)]
        decoded = {"pid": 0, "inode": 0}
        for _ in range(trials):
            mark = random.randint(1, 200)
            now = read_after(backend, mark)
            for key, index in (("pid", 0), ("inode", 1)):
                decoded[key] += now[index] - previous[index] - step[index] == mark
            previous = now
    return {
        "backend": name,
        "sandbox": "fresh" if fresh else "warm",
        "pid": f"{decoded['pid']}/{trials} decoded",
        "pid_bits": math.log2(max(2, min(forks, pid_max))),
        "inode": f"{decoded['inode']}/{trials} decoded",
        "inode_bits": math.log2(max(2, files)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="bwrap,docker")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.5, help="CPU seconds the capacity probe spends")
    args = parser.parse_args(argv)
    print(
        "| backend | sandbox | next PID: secret recovered | capacity (bits a program) | tmpfs inode: recovered | capacity |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.backends.split(","):
        for fresh in (False, True):
            try:
                row = measure(name, fresh, args.trials, args.seconds)
            except SandboxUnavailable as exc:
                print(f"| {name} | unavailable: {exc} | | | | |")
                break
            print(
                f"| {row['backend']} | {row['sandbox']} | {row['pid']} | {row['pid_bits']:.1f} | "
                f"{row['inode']} | {row['inode_bits']:.1f} |"
            )


if __name__ == "__main__":
    main()
