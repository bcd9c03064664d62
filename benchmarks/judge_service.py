"""The judge as a service against the local judge, same workload, same machine: runs per second of the
local bwrap backend and of a pool of judge servers (`xcoder judge-server` processes on loopback, each
with its own bwrap sandboxes), alternated round by round; prints the medians and the ratio pool/local.

On one machine the pool cannot be faster than the local judge (the servers share its cores): the
figure is the service's overhead (HTTP, a relay thread, one process more) and the spread's fairness
(runs per server). On N hosts the pool's throughput is N times one server's.

    .venv/bin/python benchmarks/judge_service.py [--servers 3] [--jobs 1] [--programs 60] [--tests 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
from pathlib import Path

from xcoder_assets.sandbox.backends import make_backend
from xcoder_assets.sandbox.judge import Problem, TestCase, judge_many
from xcoder_assets.sandbox.remote import RemoteBackend

ROOT = Path(__file__).resolve().parents[1]
# A competitive-programming mix: a correct answer, a wrong one, some arithmetic, some CPU.
PROGRAMS = [
    "a, b = map(int, input().split())\nprint(a + b)\n",
    "a, b = map(int, input().split())\nprint(a - b)\n",
    "a, b = map(int, input().split())\nprint(sum(i % 7 for i in range(20000)) * 0 + a + b)\n",
    "import sys\nx = sys.stdin.read().split()\nprint(int(x[0]) + int(x[1]))\n",
]


def start_server(token: str, jobs: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "xcoder_assets.cli", "judge-server", "--port", "0", "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "XCODER_JUDGE_TOKEN": token},
    )
    for line in process.stdout:
        if "listening on " in line:
            return process, line.split("listening on ")[1].split()[0]
    raise SystemExit(f"judge server did not start (exit {process.wait()})")


def run(backend, items, workers: int) -> tuple[int, float]:
    results, stats = judge_many(backend, items, workers=workers, stop_on_failure=False)
    failures = [r.reason for r in results if r.verdict.value == "sandbox_failure"]
    if failures:
        raise SystemExit(f"sandbox failures: {failures[:3]}")
    return stats.tests_run, stats.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="slots per server")
    parser.add_argument("--programs", type=int, default=60)
    parser.add_argument("--tests", type=int, default=8, help="tests per program")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="the local judge's workers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if min(args.servers, args.jobs, args.programs, args.tests, args.rounds, args.workers) < 1:
        raise SystemExit("every count must be at least 1")
    problem = Problem("sum", tuple(TestCase(f"{i} {i + 1}\n", f"{2 * i + 1}\n") for i in range(args.tests)))
    items = [(problem, PROGRAMS[i % len(PROGRAMS)]) for i in range(args.programs)]
    token = secrets.token_urlsafe(24)
    servers = [start_server(token, args.jobs) for _ in range(args.servers)]
    try:
        local = make_backend("bwrap")
        pool = RemoteBackend([url for _, url in servers], token=token)
        pool_workers = args.servers * args.jobs
        run(local, items[: len(PROGRAMS)], args.workers)  # warm both: sandboxes started, imports done
        run(pool, items[: len(PROGRAMS) * args.servers], pool_workers)
        before = dict(pool.per_server)
        local_rates, pool_rates, runs = [], [], 0
        for _ in range(args.rounds):
            runs, seconds = run(local, items, args.workers)
            local_rates.append(runs / seconds)
            runs, seconds = run(pool, items, pool_workers)
            pool_rates.append(runs / seconds)
        local.close()
        spread = [pool.per_server[url] - before[url] for _, url in servers]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait()
    local_rate, pool_rate = statistics.median(local_rates), statistics.median(pool_rates)
    print(
        f"{args.programs} programs x {args.tests} tests, {runs} runs a round, {args.rounds} rounds, {os.cpu_count()} CPUs"
    )
    print("| judge | workers | runs/s (median) | runs/s per server |")
    print("|---|---|---|---|")
    print(f"| local bwrap | {args.workers} | {local_rate:.1f} | - |")
    print(
        f"| {args.servers} judge servers (loopback, {args.jobs} slot(s) each) | {pool_workers} | "
        f"{pool_rate:.1f} | {pool_rate / args.servers:.1f} |"
    )
    print(f"programs per server: {spread}; failovers: {pool.failovers}")
    print(f"ratio pool/local: {pool_rate / local_rate:.2f}")


if __name__ == "__main__":
    main()
