"""Run LiveCodeBench's official harness (nvidia-livecodebench) on cases read as JSON from stdin.

It runs in a process of its own: the harness forks (multiprocessing) and executes programs
in-process, which must not happen inside a test process that has threads running.
Input: a JSON list of {"inputs", "outputs", "fn_name", "code"}; output (to the file named by the
first argument, as the harness prints to stdout): a JSON list of per-test results, as
`evaluate_generations_by_problem` records them (the path `codegen_metrics` takes: a solution whose
process dies gets its [-2] there, where `check_correctness` alone would raise). The second argument,
if given, is the per-test timeout in seconds (default 6, the harness's own).
"""

import json
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest


# Cases graded at once, each in a process of its own: most of the harness's time is its timeouts' waiting (a
# time limit costs `timeout` s, a swallowed alarm (timeout + 1) x 2 + 5 s), not CPU.
PROCESSES = 6


def official_results_started(cases: list[dict], timeout: int = 6) -> Future:
    """Start grading `cases` with the official harness, in clean processes (see the module doc), and return at
    once: the Future's result is their per-test results, in order. A test module starts it before its own judge
    grades the same cases, so that the two wait side by side."""
    pytest.importorskip(
        "livecodebench.evaluation.compute_code_generation_metrics",
        reason="nvidia-livecodebench (make test installs it)",
    )
    folder = tempfile.TemporaryDirectory()

    def grade(index: int) -> list:
        out = Path(folder.name) / f"results-{index}.json"
        run = subprocess.run(
            [sys.executable, str(Path(__file__)), str(out), str(timeout)],
            input=json.dumps([cases[index]]),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return json.loads(out.read_text())[0]

    def grade_all() -> list[list]:
        with folder, ThreadPoolExecutor(PROCESSES) as pool:
            return list(pool.map(grade, range(len(cases))))

    runner = ThreadPoolExecutor(1)
    started = runner.submit(grade_all)
    runner.shutdown(wait=False)
    return started


def main() -> None:
    from livecodebench.evaluation.compute_code_generation_metrics import evaluate_generations_by_problem

    timeout = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    cases = json.load(sys.stdin)
    out = []
    for case in cases:
        sample = {
            "input_output": json.dumps(
                {"inputs": case["inputs"], "outputs": case["outputs"], "fn_name": case["fn_name"]}
            )
        }
        results, _ = evaluate_generations_by_problem([[case["code"]], sample, False, timeout])
        out.append([r if isinstance(r, bool) else int(r) for r in results[0]])
    with open(sys.argv[1], "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
