"""`xcoder bench judge`: our judge against LiveCodeBench's official harness on the same workload.

The workload is a few hundred small stdin programs (a mix of correct and wrong ones, as a real
batch of model answers) times N tests each. Both judges get the same (problem, code) pairs and the
same number of workers, in one run; each reports tests executed per second. The official harness
(package nvidia-livecodebench, installed with --no-deps by `make test`) runs programs in its own
process without isolation: only this benchmark's own programs are given to it.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable

from xcoder_assets.sandbox.judge import Problem, TestCase, judge_many, limits_for

# Programs over "first line n, second line n integers": what each prints, and a correct solution.
TASKS: list[tuple[str, Callable[[list[int]], str], str]] = [
    ("sum", lambda a: str(sum(a)), "n = int(input())\na = list(map(int, input().split()))\nprint(sum(a))\n"),
    ("max", lambda a: str(max(a)), "n = int(input())\nprint(max(map(int, input().split())))\n"),
    (
        "sorted",
        lambda a: " ".join(map(str, sorted(a))),
        "import sys\ndata = sys.stdin.read().split()\nprint(' '.join(map(str, sorted(map(int, data[1:])))))\n",
    ),
    ("distinct", lambda a: str(len(set(a))), "input()\nprint(len(set(input().split())))\n"),
    (
        "prefix_max",
        lambda a: " ".join(str(max(a[: i + 1])) for i in range(len(a))),
        "n = int(input())\nbest = None\nout = []\nfor x in map(int, input().split()):\n"
        "    best = x if best is None else max(best, x)\n    out.append(best)\nprint(*out)\n",
    ),
]
WRONG = {
    "sum": "n = int(input())\na = list(map(int, input().split()))\nprint(sum(a[1:]))\n",
    "max": "n = int(input())\nprint(min(map(int, input().split())))\n",
    "sorted": "input()\nprint(input())\n",
    "distinct": "input()\nprint(len(input().split()))\n",
    "prefix_max": "n = int(input())\nprint(*input().split())\n",
}


@dataclass
class BenchSide:
    name: str
    tests_run: int
    seconds: float
    passed: list[bool]

    @property
    def tests_per_s(self) -> float:
        return self.tests_run / self.seconds if self.seconds else 0.0


def workload(solutions: int, tests: int, seed: int = 7, wrong_share: float = 0.2) -> list[tuple[Problem, str]]:
    rng = random.Random(seed)
    items = []
    for index in range(solutions):
        name, answer, correct = TASKS[index % len(TASKS)]
        cases = []
        for _ in range(tests):
            values = [rng.randint(-1000, 1000) for _ in range(rng.randint(1, 40))]
            cases.append(TestCase(f"{len(values)}\n{' '.join(map(str, values))}\n", answer(values) + "\n"))
        code = WRONG[name] if rng.random() < wrong_share else correct
        # a unique comment per program: no judge may reuse another program's work
        items.append((Problem(f"{name}-{index}", tuple(cases)), f"# solution {index}\n{code}"))
    return items


def run_official(items: list[tuple[Problem, str]], workers: int, timeout: int = 6) -> BenchSide:
    from livecodebench.evaluation.compute_code_generation_metrics import evaluate_generations

    samples = [
        {
            "input_output": json.dumps(
                {"inputs": [t.input for t in p.tests], "outputs": [t.output for t in p.tests], "fn_name": None}
            )
        }
        for p, _ in items
    ]
    generations = [[code] for _, code in items]
    started = time.perf_counter()
    results, _ = evaluate_generations(samples, generations, num_process_evaluate=workers, timeout=timeout)
    seconds = time.perf_counter() - started
    per_item = [results[i][0] for i in range(len(items))]
    return BenchSide(
        "LiveCodeBench official harness (in-process, no isolation)",
        sum(map(len, per_item)),
        seconds,
        [len(r) == len(p.tests) and all(v is True for v in r) for r, (p, _) in zip(per_item, items)],
    )


def run_ours(backend, items: list[tuple[Problem, str]], workers: int, profile: str) -> BenchSide:
    results, stats = judge_many(backend, items, profile=profile, limits=limits_for(profile), workers=workers)
    fresh = ", a fresh sandbox per program" if getattr(backend, "fresh_sandbox", False) else ""
    return BenchSide(
        f"xcoder judge ({backend.name}, profile {profile}{fresh}, isolated)",
        stats.tests_run,
        stats.seconds,
        [r.passed for r in results],
    )


def run_bench(
    backend, solutions: int, tests: int, workers: int, profile: str = "strict", out=print, rounds: int = 1
) -> list[tuple[BenchSide, BenchSide]]:
    """`rounds` times the official harness then ours on the same workload; each round's ratio compares
    two runs next to each other in time, and the median over rounds is what a noisy machine can tell."""
    items = workload(solutions, tests)
    out(
        f"workload: {solutions} stdin programs x {tests} tests, {workers} workers, "
        f"{sum(1 for _, c in items if c.split(chr(10), 1)[1] in WRONG.values())} of them wrong"
    )
    results, ratios = [], []
    for round_number in range(1, rounds + 1):
        if rounds > 1:
            out(f"round {round_number}/{rounds}")
        official = run_official(items, workers)
        ours = run_ours(backend, items, workers, profile)
        for side in (official, ours):
            out(
                f"{side.name}: {side.tests_run} tests in {side.seconds:.2f} s, {side.tests_per_s:.1f} tests/s, "
                f"{sum(side.passed)} programs passed"
            )
        agree = sum(a == b for a, b in zip(official.passed, ours.passed))
        out(f"pass/fail verdicts agree on {agree}/{len(items)} programs")
        ratio = ours.tests_per_s / official.tests_per_s if official.tests_per_s else 0.0
        out(f"ours/official tests/s ratio: {ratio:.2f} ({ours.tests_per_s:.1f} vs {official.tests_per_s:.1f} tests/s)")
        results.append((official, ours))
        ratios.append(ratio)
    if rounds > 1:
        out(
            f"median ratio over {rounds} rounds: {statistics.median(ratios):.2f} "
            f"(each round: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    return results
